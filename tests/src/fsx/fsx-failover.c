// SPDX-License-Identifier: GPL-2.0
/*
 * colo-fsx: --failover: the ingress ops that race the failover message, the
 * control thread that sends it, and the checks of the commit.
 */
#include "fsx.h"

/* ------------------------------------------------------------------ */
/* Failover (--failover): the control thread and its checks            */

/* --failover: see the top of fsx.h. */
uint8_t *vm_pre, *fo_race, *fo_vmw;
int fo_phase = FO_BEFORE;	/* atomic */
int fence_seen;			/* atomic: an ingress op failed with EIO */

/* --failover timing, CLOCK_MONOTONIC ns. */
uint64_t fo_t0, fo_tret, fo_tdone, fo_first_read;

uint64_t fo_to_commit, fo_ops_at_return;
uint64_t workers_done_ns;	/* atomic; 0 while workers run */

/*
 * An ingress op with --failover: it may fail with EIO once the failover
 * message was sent, and must fail if it begins after the message returned
 * or after another ingress op failed.  Returns true if it began after the
 * message returned.
 */
bool ingress_op_failover(struct worker *w, enum op_kind kind,
			 uint64_t id, uint64_t start, uint64_t nsect)
{
	bool write = kind == OP_IN_WRITE;
	size_t off = bytes(start), len = bytes(nsect);
	int pi, pe, fenced_before, err;
	char what[96];

	if (write)
		pat_fill(w->buf, id, w->tid, start, nsect);
	pi = __atomic_load_n(&fo_phase, __ATOMIC_ACQUIRE);
	fenced_before = __atomic_load_n(&fence_seen, __ATOMIC_ACQUIRE);
	if (write)
		fleece_note_write(false, start, nsect, false);
	err = dev_io_try(DEV_INGRESS, w->buf, start, nsect, write, id);
	pe = __atomic_load_n(&fo_phase, __ATOMIC_SEQ_CST);

	if (!err) {
		if (pi == FO_DONE)
			fail("op %" PRIu64 ": %s sector %" PRIu64 " +%" PRIu64 " began after the failover message returned, but succeeded (must fail with EIO)",
			     id, op_name[kind], start, nsect);
		if (fenced_before)
			fail("op %" PRIu64 ": %s sector %" PRIu64 " +%" PRIu64 " began after an earlier ingress op had failed with EIO (fenced), but succeeded",
			     id, op_name[kind], start, nsect);
		if (pe != FO_BEFORE)
			w->racing_ok++;
		if (write) {
			/* applied before the switch */
			fleece_note_write(false, start, nsect, true);
			memcpy(base + off, w->buf, len);
			mark_chunks(in_wrote, start, nsect);
		} else {
			snprintf(what, sizeof(what), "%s op %" PRIu64 " (ingress read vs model base)",
				 op_name[kind], id);
			check_buf(what, DEV_INGRESS, off, base + off, w->buf, len);
		}
		return pi == FO_DONE;
	}
	if (err != EIO)
		fail("op %" PRIu64 ": %s %s sector %" PRIu64 " +%" PRIu64 ": %s (after failover only EIO is expected)",
		     id, write ? "pwrite" : "pread", dev_path(DEV_INGRESS), start,
		     nsect, strerror(err));
	if (pe == FO_BEFORE)
		fail("op %" PRIu64 ": %s %s sector %" PRIu64 " +%" PRIu64 ": %s, before the failover message was sent",
		     id, write ? "pwrite" : "pread", dev_path(DEV_INGRESS), start,
		     nsect, strerror(err));
	w->failed++;
	if (pi != FO_DONE) {
		w->racing_failed++;
		/* some of its chunk pieces may have reached base before the switch */
		if (write)
			mark_chunks(fo_race, start, nsect);
	}
	/* Before the range is released: later ops on it then see the fence. */
	__atomic_store_n(&fence_seen, 1, __ATOMIC_RELEASE);
	return pi == FO_DONE;
}

/* The model's bounds for to_commit, see the top of fsx.h. */
static void fo_bounds(uint64_t *lo, uint64_t *hi)
{
	uint64_t c;
	bool l;

	*lo = *hi = 0;
	for (c = 0; c < nr_chunks; c++) {
		l = __atomic_load_n(&vm_pre[c], __ATOMIC_RELAXED) ||
		    __atomic_load_n(&in_wrote[c], __ATOMIC_RELAXED);
		*lo += l;
		*hi += l || __atomic_load_n(&fo_race[c], __ATOMIC_RELAXED);
	}
}

/* What any status line after the failover message must show. */
static void fo_check_status(const char *when, const struct colo_status *st)
{
	if (!strcmp(st->commit, "failed"))
		fail("status %s: the failover commit failed (%" PRIu64 "/%" PRIu64 " committed); status line: %s",
		     when, st->committed, st->to_commit, st->line);
	if (strcmp(st->mode, "primary") || st->chunk != opt.chunk ||
	    st->chunks != nr_chunks || st->chunks2 != nr_chunks ||
	    st->chunks3 != nr_chunks || !st->ok ||
	    (strcmp(st->commit, "running") && strcmp(st->commit, "done")) ||
	    st->committed > st->to_commit || st->to_commit != fo_to_commit ||
	    st->dirty > nr_chunks ||
	    (!strcmp(st->commit, "done") && st->committed != st->to_commit))
		fail("status %s: got mode=%s chunk=%" PRIu64 " chunks=%" PRIu64 "/%" PRIu64 "/%" PRIu64 " commit=%s %" PRIu64 "/%" PRIu64 " dirty=%" PRIu64 " health=%s; "
		     "expected primary chunk=%" PRIu64 " chunks=%" PRIu64 " commit running|done with committed <= to_commit=%" PRIu64 " (== when done), health=ok; status line: %s",
		     when, st->mode, st->chunk, st->chunks, st->chunks2, st->chunks3,
		     st->commit, st->committed, st->to_commit, st->dirty,
		     st->ok ? "ok" : "error", opt.chunk, nr_chunks, fo_to_commit,
		     st->line);
}

/*
 * Waits for the failover op, sends the message while the workers go on,
 * checks to_commit against the model, then polls until the commit is done.
 */
void *control_fn(void *arg)
{
	struct timespec poll = { 0, COMMIT_POLL_MS * 1000000L };
	int tid = opt.vm_threads + opt.in_threads, ret;
	uint64_t lo, hi, t, wd;
	struct colo_status st;
	char out[4096];

	(void)arg;
	pthread_mutex_lock(&gate_lock);
	while (!fo_triggered && !fo_abort)
		pthread_cond_wait(&fo_cond, &gate_lock);
	pthread_mutex_unlock(&gate_lock);
	if (!fo_triggered)
		return NULL;

	ring_log(opt.failover_at, tid, OP_FO_SEND, 0, 0);
	fleece_note_failover();
	__atomic_store_n(&fo_phase, FO_RUNNING, __ATOMIC_SEQ_CST);
	fo_t0 = now_ns();
	ret = dev_message("failover", out, sizeof(out));
	fo_tret = now_ns();
	if (ret)
		fail("dmsetup message %s 0 failover: exit %d: %s",
		     opt.selftest ? "sim" : opt.name, ret, out);
	pthread_mutex_lock(&gate_lock);
	__atomic_store_n(&fo_phase, FO_DONE, __ATOMIC_SEQ_CST);
	fo_ops_at_return = ops_issued;
	pthread_mutex_unlock(&gate_lock);
	ring_log(fo_ops_at_return, tid, OP_FO_DONE, 0, 0);

	dev_status(&st);
	t = now_ns();
	fo_to_commit = st.to_commit;
	fo_check_status("right after the failover message", &st);
	printf("# failover message sent after op %" PRIu64 ", returned with %" PRIu64 " ops issued; status: %s\n",
	       opt.failover_at, fo_ops_at_return, st.line);

	/* The bounds are complete once every op begun before the return ended. */
	pthread_mutex_lock(&gate_lock);
	while (pre_done_in_flight)
		pthread_cond_wait(&gate_cond, &gate_lock);
	pthread_mutex_unlock(&gate_lock);
	fo_bounds(&lo, &hi);
	printf("# failover: to_commit=%" PRIu64 ", model bounds [%" PRIu64 ", %" PRIu64 "]\n",
	       st.to_commit, lo, hi);
	if (st.to_commit < lo || st.to_commit > hi)
		fail("status right after the failover message: to_commit=%" PRIu64 " outside the model's bounds [%" PRIu64 ", %" PRIu64 "] "
		     "(chunks VM-written before the message | ingress-written since the last checkpoint, plus chunks of ops racing the message); status line: %s",
		     st.to_commit, lo, hi, st.line);

	/* Poll until done; give up 120 s after the workers finished. */
	for (;;) {
		if (!strcmp(st.commit, "done")) {
			fo_tdone = t;
			break;
		}
		wd = __atomic_load_n(&workers_done_ns, __ATOMIC_ACQUIRE);
		if (wd && t > wd + COMMIT_TIMEOUT_S * 1000000000ULL)
			fail("the failover commit is not done %d s after the I/O ended: %" PRIu64 "/%" PRIu64 " committed; status line: %s",
			     COMMIT_TIMEOUT_S, st.committed, st.to_commit, st.line);
		nanosleep(&poll, NULL);
		dev_status(&st);
		t = now_ns();
		fo_check_status("while the failover commit runs", &st);
	}
	return NULL;
}

void fo_report(const struct worker *w, int nthreads)
{
	uint64_t rok = 0, rfail = 0, post = 0, failed = 0;
	double msg_ms, commit_ms, mibs;
	char first[32];
	int i;

	for (i = 0; i < nthreads; i++) {
		rok += w[i].racing_ok;
		rfail += w[i].racing_failed;
		post += w[i].post_fence;
		failed += w[i].failed;
	}
	printf("# failover: ingress ops racing the message: %" PRIu64 " succeeded, %" PRIu64 " failed with EIO; begun after it returned: %" PRIu64 " (all failed with EIO); failed in all: %" PRIu64 "\n",
	       rok, rfail, post, failed);
	msg_ms = (fo_tret - fo_t0) / 1e6;
	commit_ms = (fo_tdone - fo_tret) / 1e6;
	mibs = commit_ms > 0 ? fo_to_commit * (double)bytes(opt.chunk) /
			       (1024.0 * 1024.0) / (commit_ms / 1000.0) : 0;
	if (fo_first_read)
		snprintf(first, sizeof(first), "%.1f", (fo_first_read - fo_t0) / 1e6);
	else
		snprintf(first, sizeof(first), "n/a");
	printf("# failover: message took %.1f ms, first VM read completed %s ms after the message was sent, commit took %.1f ms (%" PRIu64 " chunks, %.1f MiB/s)\n",
	       msg_ms, first, commit_ms, fo_to_commit, mibs);
}

/* A message that must be refused now; the status must not change. */
static void fo_expect_refused(const char *msg)
{
	char out[4096];
	int ret;

	ret = dev_message(msg, out, sizeof(out));
	out[strcspn(out, "\n")] = 0;
	if (ret < 0)
		fail("final: could not run dmsetup message %s 0 %s: %s", opt.name, msg, out);
	if (ret == 0)
		fail("final: dmsetup message %s 0 %s was accepted after failover (must be refused)",
		     opt.selftest ? "sim" : opt.name, msg);
	printf("# after failover, '%s' refused as expected (exit %d: %s)\n", msg, ret, out);
}

void final_verify_failover(uint8_t *buf)
{
	uint64_t c, lw = 0, uw = 0, w_not_l = 0, lo_d, hi_d, n;
	struct colo_status st;
	bool l, u, wv;
	int err, round;

	check_range("final: whole VM device vs model view", DEV_VM, view,
		    0, len_sectors, buf);
	check_range("final: raw base leg vs model view (after the failover commit)",
		    DEV_BASE, view, 0, len_sectors, buf);
	n = opt.chunk < len_sectors ? opt.chunk : len_sectors;
	err = dev_io_try(DEV_INGRESS, buf, 0, n, false, 0);
	if (err != EIO)
		fail("final: a read of the ingress device after failover %s (must fail with EIO)",
		     err ? strerror(err) : "succeeded");

	for (c = 0; c < nr_chunks; c++) {
		l = vm_pre[c] || in_wrote[c];
		u = l || fo_race[c];
		wv = fo_vmw[c];
		lw += l || wv;
		uw += u || wv;
		w_not_l += wv && !l;
	}
	lo_d = fo_to_commit > lw ? fo_to_commit : lw;
	hi_d = fo_to_commit + w_not_l < uw ? fo_to_commit + w_not_l : uw;
	for (round = 0; round < 2; round++) {
		const char *when = round ? "final, after the refused messages" : "final";

		dev_status(&st);
		fo_check_status(when, &st);
		if (strcmp(st.commit, "done") || st.committed != fo_to_commit ||
		    st.active || st.hidden || st.dirty < lo_d || st.dirty > hi_d)
			fail("status %s: got commit=%s %" PRIu64 "/%" PRIu64 " active=%" PRIu64 " hidden=%" PRIu64 " dirty=%" PRIu64 "; "
			     "expected commit=done %" PRIu64 "/%" PRIu64 " active=0 hidden=0 dirty in [%" PRIu64 ",%" PRIu64 "]; status line: %s",
			     when, st.commit, st.committed, st.to_commit, st.active,
			     st.hidden, st.dirty, fo_to_commit, fo_to_commit, lo_d,
			     hi_d, st.line);
		if (!round) {
			printf("# final status after failover: %s (dirty model bounds [%" PRIu64 ", %" PRIu64 "])\n",
			       st.line, lo_d, hi_d);
			fo_expect_refused("checkpoint");
			fo_expect_refused("failover");
		}
	}
}
