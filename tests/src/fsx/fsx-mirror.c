// SPDX-License-Identifier: GPL-2.0
/*
 * colo-fsx: --mirror: the control thread that starts, stops and breaks the
 * mirror at seeded op counts, and the checks of the mirror's state, dirty
 * coverage and data.
 */
#include "fsx.h"

/* ------------------------------------------------------------------ */
/* Mirror (--mirror): the control thread and its checks                */

const char *const mir_state_name[] = {
	"none", "copying", "in-sync", "degraded"
};
const char *const cov_name[] = { "unknown", "complete", "unknown or complete" };

/* --mirror: what the checker did (control thread, then main). */
bool mir_running;	/* a start succeeded and no stop/failure since */
int mir_cov = COV_UNKNOWN;	/* the dirty coverage (see the top of fsx.h) */
bool mir_full_unseen;	/* a full start ran and was not seen in sync since */
int mir_in_episode;	/* atomic: a replica failure is being injected */
int mir_replica_broken;	/* atomic: the replica's table is "error" */
int mir_ev_next;		/* under gate_lock: the next event to run */
uint64_t mir_replica_sectors;
unsigned int mir_starts, mir_stops, mir_failures, mir_refused;
unsigned int mir_dirty_starts, mir_dirty_refused;	/* dirty starts accepted, refused */
const char *mir_cov_why = "a fresh table: no failover, no full sync ended since";	/* why mir_cov is what it is */
unsigned int mir_insync_checks;	/* replica compares in sync, workers held */
bool mir_session_checked;	/* since the last start */
bool mir_session_full;	/* the last start was full */
unsigned int mir_async_now;	/* the mode the model expects: max_lag KiB, 0: sync */
unsigned int mir_switches;	/* mirror sync|async sent and accepted */
uint64_t mir_lag_max;	/* the largest lag seen in a status (KiB) */

pthread_t mir_control;
int mir_ctl_tid;		/* the control thread's id in patterns and logs */

/* Status polls: as the spec says on a device, quicker in the simulation. */
static unsigned int mirror_poll_ms(void)
{
	return opt.selftest ? 1 : COMMIT_POLL_MS;
}

/*
 * Swap the replica's dm table to "error" or back to linear over
 * --replica-lower (the simulation flips a flag).  Returns 0, else fills err.
 */
static int replica_swap_try(bool error, char *err, size_t errsz)
{
	char table[512];

	if (opt.selftest) {
		__atomic_store_n(&sim.replica_failing, error, __ATOMIC_RELEASE);
		__atomic_store_n(&mir_replica_broken, error, __ATOMIC_RELEASE);
		return 0;
	}
	if (error)
		snprintf(table, sizeof(table), "0 %" PRIu64 " error", mir_replica_sectors);
	else if (opt.replica_delay)
		snprintf(table, sizeof(table), "0 %" PRIu64 " delay %s 0 0 %s 0 %u",
			 mir_replica_sectors, opt.replica_lower, opt.replica_lower,
			 opt.replica_delay);
	else
		snprintf(table, sizeof(table), "0 %" PRIu64 " linear %s 0",
			 mir_replica_sectors, opt.replica_lower);
	if (dm_swap_try(opt.replica_dm, table, err, errsz))
		return -1;
	__atomic_store_n(&mir_replica_broken, error, __ATOMIC_RELEASE);
	return 0;
}

static void replica_swap(bool error)
{
	char err[4600];

	if (replica_swap_try(error, err, sizeof(err)))
		fail("replica failure injection (%s): %s",
		     error ? "to error" : "back to linear", err);
}

/* On a failure report: do not leave the replica's table on "error". */
void mirror_fail_cleanup(void)
{
	char err[4600];

	if (!opt.mirror || opt.selftest ||
	    !__atomic_load_n(&mir_replica_broken, __ATOMIC_ACQUIRE))
		return;
	if (replica_swap_try(false, err, sizeof(err)))
		printf("# could not restore the replica's linear table: %s\n", err);
	else
		printf("# restored the replica's linear table (%s over %s)\n",
		       opt.replica_dm, opt.replica_lower);
}

/*
 * The dirty coverage (see the top of fsx.h): complete whenever in sync,
 * else what the model is sure of.  While the replica's table is "error" a
 * failing replica flush may make it unknown at any time, even in one status
 * line with the in-sync state read just before: nothing is checked then.
 * Seen in sync otherwise, a full pass has ended: the model says complete.
 */
static void mirror_check_coverage(const char *when, const struct colo_status *st, int ms)
{
	int want;

	if (__atomic_load_n(&mir_replica_broken, __ATOMIC_ACQUIRE))
		return;
	want = ms == MIR_INSYNC ? COV_COMPLETE : mir_cov;
	if (want != COV_MAYBE && st->coverage != want)
		fail("status %s: dirty_coverage %s, expected %s (%s); status line: %s",
		     when, cov_name[st->coverage], cov_name[want],
		     ms == MIR_INSYNC ? "in sync: every chunk is on the replica, a full pass (if any) has ended" :
		     mir_cov_why, st->line);
	if (ms == MIR_INSYNC && (mir_cov != COV_COMPLETE || mir_full_unseen)) {
		mir_cov = COV_COMPLETE;
		mir_cov_why = "the mirror was seen in sync since";
		mir_full_unseen = false;
	}
}

/*
 * The mirror's mode (status fields 23-25): none without a mirror, else the
 * mode the checker set (a degraded mirror keeps it), with its max_lag; the
 * lag (KiB of background replica writes in flight) never passes max_lag.
 */
static void mirror_check_mode(const char *when, const struct colo_status *st, int ms)
{
	const char *want = ms == MIR_NONE ? "none" : mir_async_now ? "async" : "sync";
	uint64_t want_max = ms == MIR_NONE ? 0 : mir_async_now;

	if (opt.selftest)
		return;
	if (!st->mmode[0])
		fail("status %s: no mirror mode fields (23-25: <none|sync|async> <lag>/<max_lag> <ahead>); status line: %s",
		     when, st->line);
	if (st->lag > st->max_lag)
		fail("status %s: lag %" PRIu64 " KiB passed max_lag %" PRIu64 " KiB (background replica writes in flight are bounded); status line: %s",
		     when, st->lag, st->max_lag, st->line);
	if (strcmp(st->mmode, want) || st->max_lag != want_max)
		fail("status %s: mirror mode %s max_lag %" PRIu64 ", expected %s max_lag %" PRIu64 " (the last start or switch); status line: %s",
		     when, st->mmode, st->max_lag, want, want_max, st->line);
	if (st->lag > mir_lag_max)
		mir_lag_max = st->lag;
}

/*
 * What any status line in mirror mode must show: primary, our geometry, no
 * overlay, health ok, and a mirror state the model allows (allowed: a mask
 * of MIR_* states).  In sync, nothing is dirty unless a replica failure is
 * being injected.  Returns the mirror state.
 */
int mirror_check_status(const char *when, const struct colo_status *st,
			unsigned int allowed, bool lenient)
{
	int ms;
	char want[64] = "";

	for (ms = 0; ms < NR_MIR_STATES; ms++)
		if (!strcmp(st->mirror, mir_state_name[ms]))
			break;
	if (strcmp(st->mode, "primary") || st->chunk != opt.chunk ||
	    st->chunks != nr_chunks || st->chunks2 != nr_chunks ||
	    st->chunks3 != nr_chunks || st->active || st->hidden || !st->ok ||
	    ms == NR_MIR_STATES || st->mirrored > st->to_mirror ||
	    st->dirty > nr_chunks)
		fail("status %s: got mode=%s chunk=%" PRIu64 " active=%" PRIu64 "/%" PRIu64 " hidden=%" PRIu64 "/%" PRIu64 " dirty=%" PRIu64 "/%" PRIu64 " mirror=%s %" PRIu64 "/%" PRIu64 " health=%s; "
		     "expected primary chunk=%" PRIu64 " active=0/%" PRIu64 " hidden=0/%" PRIu64 " dirty<=%" PRIu64 " mirror state none|copying|in-sync|degraded with mirrored<=to_mirror, health=ok; status line: %s",
		     when, st->mode, st->chunk, st->active, st->chunks, st->hidden,
		     st->chunks2, st->dirty, st->chunks3, st->mirror, st->mirrored,
		     st->to_mirror, st->ok ? "ok" : "error", opt.chunk, nr_chunks,
		     nr_chunks, nr_chunks, st->line);
	if (!((1U << ms) & allowed)) {
		int i;

		for (i = 0; i < NR_MIR_STATES; i++)
			if ((1U << i) & allowed)
				snprintf(want + strlen(want), sizeof(want) - strlen(want),
					 "%s%s", *want ? "|" : "", mir_state_name[i]);
		fail("status %s: mirror state %s, expected %s (the checker %s; %s); status line: %s",
		     when, st->mirror, want,
		     mir_running ? "started a mirror and did not stop it" : "has no mirror running",
		     ms == MIR_DEGRADED ? "degraded with no replica failure injected: a replica write failed" :
		     "model and kernel disagree", st->line);
	}
	if (ms == MIR_INSYNC && st->dirty && !lenient &&
	    !__atomic_load_n(&mir_in_episode, __ATOMIC_ACQUIRE))
		fail("status %s: mirror in-sync but %" PRIu64 " chunks dirty (in sync, every write reaches the replica: nothing can be dirty); status line: %s",
		     when, st->dirty, st->line);
	mirror_check_coverage(when, st, ms);
	mirror_check_mode(when, st, ms);
	return ms;
}

/*
 * The status line is not one atomic snapshot: a dirty count read just
 * before the last copy and a state read just after it went in sync can
 * show both.  In sync with dirty chunks must hold on a second look.
 */
static int mirror_status(const char *when, struct colo_status *st,
			 unsigned int allowed)
{
	int ms, i;

	for (i = 0; ; i++) {
		dev_status(st);
		ms = mirror_check_status(when, st, allowed, i < 3);
		if (ms != MIR_INSYNC || !st->dirty ||
		    __atomic_load_n(&mir_in_episode, __ATOMIC_ACQUIRE))
			return ms;
		sleep_ms(10);
	}
}

/*
 * A VM write from the control (or main) thread, on a VM-side range
 * reservation so it never overlaps a worker's op; it must succeed whatever
 * the replica does.  Hot chunks as often as the workers use them.
 */
static void mirror_vm_write(uint64_t *rng, uint8_t *buf, const char *why)
{
	uint64_t s, n, maxn, c, id;
	int slot, err;

	if (rnd(rng, 100) < opt.hot) {
		c = hot_chunk[rnd(rng, HOT_CHUNKS)];
		s = chunk_start(c) + rnd(rng, chunk_len(c));
	} else {
		s = rnd(rng, len_sectors);
	}
	if (rnd(rng, 2))
		s = chunk_start(chunk_of(s));
	maxn = len_sectors - s < opt.max_sectors ? len_sectors - s : opt.max_sectors;
	n = 1 + rnd(rng, maxn);
	id = __atomic_add_fetch(&ctl_next_id, 1, __ATOMIC_RELAXED);
	slot = range_reserve(&side_ranges[0], s, s + n);
	ring_log(id, mir_ctl_tid, OP_VM_WRITE, s, n);
	pat_fill(buf, id, mir_ctl_tid, s, n);
	fleece_note_write(true, s, n, false);
	err = dev_io_try(DEV_VM, buf, s, n, true, id);
	if (err)
		fail("op %" PRIu64 ": control VM write (%s) to %s sector %" PRIu64 " +%" PRIu64 " failed: %s "
		     "(a VM write must never fail because of the replica)",
		     id, why, dev_path(DEV_VM), s, n, strerror(err));
	fleece_note_write(true, s, n, true);
	memcpy(view + bytes(s), buf, bytes(n));
	range_release(&side_ranges[0], slot);
}

static void mirror_send(const char *msg, uint64_t at)
{
	char out[4096];
	int ret;

	ret = dev_message(msg, out, sizeof(out));
	out[strcspn(out, "\n")] = 0;
	if (ret)
		fail("after op %" PRIu64 ": dmsetup message %s 0 %s: exit %d: %s",
		     at, opt.selftest ? "sim" : opt.name, msg, ret, out);
}

/* A message that must be refused now (and say reason, unless NULL). */
static void mirror_expect_refused(const char *msg, const char *why, uint64_t at,
				  const char *reason)
{
	char out[4096];
	int ret;

	ret = dev_message(msg, out, sizeof(out));
	out[strcspn(out, "\n")] = 0;
	if (ret < 0)
		fail("after op %" PRIu64 ": could not run dmsetup message %s 0 %s: %s",
		     at, opt.name, msg, out);
	if (ret == 0)
		fail("after op %" PRIu64 ": dmsetup message %s 0 %s was accepted %s (must be refused)",
		     at, opt.selftest ? "sim" : opt.name, msg, why);
	if (reason && !strstr(out, reason))
		fail("after op %" PRIu64 ": dmsetup message %s 0 %s was refused %s, but not with '%s': exit %d: %s",
		     at, opt.selftest ? "sim" : opt.name, msg, why, reason, ret, out);
	mir_refused++;
	printf("# mirror: after op %" PRIu64 ": '%s' %s refused as expected (exit %d: %s)\n",
	       at, msg, why, ret, out);
}

/*
 * No mirror runs (none or degraded), so the coverage no longer changes: a
 * model that is not sure of it takes the status's (see the top of fsx.h).
 */
static bool mirror_cov_settle(uint64_t at, const char *why)
{
	struct colo_status st;
	char when[160];

	if (mir_cov != COV_MAYBE)
		return false;
	snprintf(when, sizeof(when), "%s (after op %" PRIu64 ")", why, at);
	mirror_status(when, &st, 1U << MIR_NONE | 1U << MIR_DEGRADED);
	printf("# mirror: after op %" PRIu64 ": %s: dirty coverage %s (the model was unsure: %s)\n",
	       at, why, cov_name[st.coverage], mir_cov_why);
	mir_cov = st.coverage;
	mir_cov_why = st.coverage == COV_UNKNOWN ?
		"read when no mirror ran: a full pass was cut short or a replica flush failed" :
		"read when no mirror ran: no full pass was cut short, no replica flush failed";
	return mir_cov == COV_COMPLETE;
}

/*
 * Start a mirror, full or dirty as the dice say (dirty_only: dirty).  A
 * dirty start while the coverage is unknown must be refused and change
 * nothing (a degraded mirror stays degraded); then the start is full.  A
 * "complete" the model took from the status is put to the test: dirty.
 */
static void mirror_start(uint64_t *rng, uint64_t at, bool dirty_only,
			 bool allow_rate, const char *why)
{
	struct colo_status st;
	char msg[512], rate[64] = "", when[640];
	bool full;
	int ms;

	/* The same draws whatever the model says: seeds replay. */
	full = !dirty_only && rnd(rng, 100) < 40;
	if (allow_rate && rnd(rng, 100) < 30)
		snprintf(rate, sizeof(rate), " %u", opt.mir_rate);
	if (mirror_cov_settle(at, why))
		full = false;
	if (!full && mir_cov == COV_UNKNOWN) {
		snprintf(when, sizeof(when), "before a dirty start with the dirty coverage unknown (after op %" PRIu64 ")", at);
		ms = mirror_status(when, &st, 1U << MIR_NONE | 1U << MIR_DEGRADED);
		snprintf(msg, sizeof(msg), "mirror start %s dirty%s", dev_path(DEV_REPLICA), rate);
		ring_log_mirror("mirror start dirty, coverage unknown (must be refused)", at);
		snprintf(when, sizeof(when), "with the dirty coverage unknown (%s)", mir_cov_why);
		mirror_expect_refused(msg, when, at,
				      opt.selftest ? "dirty chunks may be missing" : "Invalid argument");
		mir_dirty_refused++;
		snprintf(when, sizeof(when), "after a refused dirty start (after op %" PRIu64 ")", at);
		mirror_status(when, &st, 1U << ms);
		full = true;
	}
	if (opt.mir_async)
		snprintf(rate + strlen(rate), sizeof(rate) - strlen(rate), " async %u",
			 opt.mir_async);
	snprintf(msg, sizeof(msg), "mirror start %s %s%s", dev_path(DEV_REPLICA),
		 full ? "full" : "dirty", rate);
	ring_log_mirror(full ? "mirror start full" : "mirror start dirty", at);
	mirror_send(msg, at);
	mir_async_now = opt.mir_async;
	mir_running = true;
	mir_session_checked = false;
	mir_session_full = full;
	if (full) {
		/* Its pass ends (coverage complete) when it will. */
		mir_full_unseen = true;
		if (mir_cov == COV_UNKNOWN) {
			mir_cov = COV_MAYBE;
			mir_cov_why = "a full start runs: unknown until its pass ends";
		}
	} else {
		mir_dirty_starts++;
	}
	mir_starts++;
	snprintf(when, sizeof(when), "after '%s' (after op %" PRIu64 ")", msg, at);
	mirror_status(when, &st, MIR_RUNNING);
	printf("# mirror: after op %" PRIu64 ": %s: '%s' -> %s %" PRIu64 "/%" PRIu64 ", dirty %" PRIu64 ", coverage %s\n",
	       at, why, msg, st.mirror, st.mirrored, st.to_mirror, st.dirty,
	       cov_name[st.coverage]);
}

/*
 * The mirror has stopped or degraded: a full pass that was not seen to end
 * may have been cut short (coverage unknown) or not.
 */
static void mirror_note_cut_short(const char *why)
{
	if (!mir_full_unseen)
		return;
	mir_full_unseen = false;
	mir_cov = COV_MAYBE;
	mir_cov_why = why;
}

static void mirror_stop(uint64_t at, const char *why)
{
	struct colo_status st;
	char when[96];
	bool unsure;

	ring_log_mirror("mirror stop", at);
	mirror_send("mirror stop", at);
	mir_running = false;
	mir_async_now = 0;
	mir_stops++;
	mirror_note_cut_short("stopped before its full pass was seen to end");
	unsure = mir_cov == COV_MAYBE;
	snprintf(when, sizeof(when), "after 'mirror stop' (after op %" PRIu64 ")", at);
	mirror_status(when, &st, 1U << MIR_NONE);
	printf("# mirror: after op %" PRIu64 ": %s: 'mirror stop' -> %s, dirty %" PRIu64 ", coverage %s\n",
	       at, why, st.mirror, st.dirty, cov_name[st.coverage]);
	if (unsure)
		(void)mirror_cov_settle(at, "after a stop that may have cut a full pass short");
}

/*
 * Seen in sync (a fresh status, after one that said so: every copy has
 * ended): a full start's pass copied every chunk.
 */
static void mirror_check_full_pass(const char *when, const struct colo_status *st)
{
	if (mir_session_full && st->mirrored < nr_chunks)
		fail("status %s: in sync after a full start, but %" PRIu64 " chunks copied of %" PRIu64 " (a full pass copies every chunk); status line: %s",
		     when, st->mirrored, nr_chunks, st->line);
}

/* A start while copying or in sync must be refused and change nothing. */
static void mirror_refused_start(uint64_t at)
{
	struct colo_status st;
	char msg[512], when[96];

	snprintf(when, sizeof(when), "before a second start (after op %" PRIu64 ")", at);
	mirror_status(when, &st, MIR_RUNNING);
	snprintf(msg, sizeof(msg), "mirror start %s full", dev_path(DEV_REPLICA));
	ring_log_mirror("second mirror start (must be refused)", at);
	mirror_expect_refused(msg, st.mirror[0] == 'c' ? "while copying" : "while in sync", at, NULL);
	snprintf(when, sizeof(when), "after a refused start (after op %" PRIu64 ")", at);
	mirror_status(when, &st, MIR_RUNNING);
}

/* A stop with no mirror must be refused and change nothing. */
static void mirror_refused_stop(uint64_t at)
{
	struct colo_status st;
	char when[96];

	snprintf(when, sizeof(when), "before a stop with no mirror (after op %" PRIu64 ")", at);
	mirror_status(when, &st, 1U << MIR_NONE);
	ring_log_mirror("mirror stop with no mirror (must be refused)", at);
	mirror_expect_refused("mirror stop", "with no mirror", at, NULL);
	snprintf(when, sizeof(when), "after a refused stop (after op %" PRIu64 ")", at);
	mirror_status(when, &st, 1U << MIR_NONE);
}

/*
 * The replica fails: swap its table to error, write (every VM write must
 * succeed), wait until the mirror says degraded (writing on, so that some
 * replica write surely happens), swap back, resume with a dirty start
 * (refused, then full, if the coverage is unknown by then).
 */
static void mirror_failure(uint64_t *rng, uint64_t at, uint8_t *buf)
{
	struct colo_status st;
	uint64_t t0, dirty_before;
	char when[96];
	bool insync;
	int i, ms;

	if (!mir_running)
		mirror_start(rng, at, false, true, "start before a replica failure");
	/*
	 * In sync (nothing leaves in-sync but a replica error here), with the
	 * coverage complete: it degrades with it complete (no pass is cut
	 * short, no flush runs).  Copying, a full pass may be cut short or the
	 * flush at in-sync may fail: unknown, or not.
	 */
	snprintf(when, sizeof(when), "before a replica failure (after op %" PRIu64 ")", at);
	insync = mirror_status(when, &st, MIR_RUNNING) == MIR_INSYNC;
	mir_failures++;
	__atomic_store_n(&mir_in_episode, 1, __ATOMIC_RELEASE);
	ring_log_mirror("replica fails (table swapped to error)", at);
	replica_swap(true);
	for (i = 0; i < MIRROR_EPISODE_WRITES; i++)
		mirror_vm_write(rng, buf, "replica failing");
	snprintf(when, sizeof(when), "while the replica fails (after op %" PRIu64 ")", at);
	t0 = now_ns();
	for (;;) {
		ms = mirror_status(when, &st, MIR_RUNNING | 1U << MIR_DEGRADED);
		if (ms == MIR_DEGRADED)
			break;
		if (now_ns() - t0 > MIRROR_DEGRADED_S * 1000000000ULL)
			fail("status %s: the mirror is not degraded %d s after the replica's table was swapped to error (VM writes went on); status line: %s",
			     when, MIRROR_DEGRADED_S, st.line);
		mirror_vm_write(rng, buf, "replica failing, waiting for degraded");
		sleep_ms(mirror_poll_ms());
	}
	if (!st.dirty)
		fail("status %s: mirror degraded but no chunk dirty (the chunk whose replica write failed must be); status line: %s",
		     when, st.line);
	dirty_before = st.dirty;
	printf("# mirror: after op %" PRIu64 ": replica failed: degraded after %.1f ms, dirty %" PRIu64 "\n",
	       at, (now_ns() - t0) / 1e6, dirty_before);
	mir_running = false;
	mirror_note_cut_short("degraded before its full pass was seen to end");
	if (!insync && mir_cov == COV_COMPLETE) {
		mir_cov = COV_MAYBE;
		mir_cov_why = "degraded while copying: the replica flush at in-sync may have failed";
	}
	ring_log_mirror("replica back (table swapped to linear)", at);
	replica_swap(false);
	snprintf(when, sizeof(when), "degraded, replica back (after op %" PRIu64 ")", at);
	mirror_status(when, &st, 1U << MIR_DEGRADED);
	mirror_start(rng, at, true, true, "resume after the replica failure");
	__atomic_store_n(&mir_in_episode, 0, __ATOMIC_RELEASE);
}

/*
 * Async mode, no VM write in flight: the background writes end (lag 0)
 * and the writes that went ahead are copied (in sync again).  Only then
 * may the raw replica be compared.
 */
static void mirror_wait_drained(const char *what, struct colo_status *st)
{
	uint64_t t0 = now_ns();
	int ms;

	for (;;) {
		ms = mirror_status(what, st, MIR_RUNNING);
		if (ms == MIR_INSYNC && !st->lag && !st->dirty)
			return;
		if (now_ns() - t0 > MIRROR_SYNC_TIMEOUT_S * 1000000000ULL)
			fail("status %s: not in sync with lag 0 %d s after the VM writes stopped (async: the background writes end, what went ahead is copied); status line: %s",
			     what, MIRROR_SYNC_TIMEOUT_S, st->line);
		sleep_ms(mirror_poll_ms());
	}
}

/*
 * mirror sync | mirror async N under the workers' load: accepted while the
 * mirror runs; "mirror sync" returns only once every background write
 * ended (lag 0 at once), "mirror async N" once the lag fits N.
 */
static void mirror_switch(uint64_t *rng, uint64_t at)
{
	const unsigned int lags[] = { opt.mir_async, 4, 64, 1024 };
	struct colo_status st;
	unsigned int to;
	char msg[64], when[128];

	to = lags[rnd(rng, 4)];
	if (mir_async_now && (rnd(rng, 100) < 50 || to == mir_async_now))
		to = 0;
	if (to)
		snprintf(msg, sizeof(msg), "mirror async %u", to);
	else
		snprintf(msg, sizeof(msg), "mirror sync");
	ring_log_mirror(to ? "mirror async (switch)" : "mirror sync (switch)", at);
	mirror_send(msg, at);
	mir_async_now = to;
	mir_switches++;
	snprintf(when, sizeof(when), "after '%s' (after op %" PRIu64 ")", msg, at);
	mirror_status(when, &st, MIR_RUNNING);
	if (!to && st.lag)
		fail("status %s: lag %" PRIu64 " KiB after mirror sync returned (it waits for every background write); status line: %s",
		     when, st.lag, st.line);
	printf("# mirror: after op %" PRIu64 ": '%s' -> %s %" PRIu64 "/%" PRIu64 ", ahead %" PRIu64 ", dirty %" PRIu64 "\n",
	       at, msg, st.mmode, st.lag, st.max_lag, st.ahead, st.dirty);
}

/*
 * The mirror is in sync (at an event, or first seen so between events):
 * hold the workers back (the checkpoint gate) until no op is in flight,
 * then the raw replica and base must equal the model, with nothing dirty.
 * This catches a chunk the replica lost before a later full sync would
 * copy it again.
 */
static void mirror_insync_check(uint64_t at, uint8_t *big)
{
	struct colo_status st;
	char what[160];

	pthread_mutex_lock(&gate_lock);
	while (ckpt_pending)
		pthread_cond_wait(&gate_cond, &gate_lock);
	ckpt_pending = true;
	while (in_flight)
		pthread_cond_wait(&gate_cond, &gate_lock);
	pthread_mutex_unlock(&gate_lock);

	snprintf(what, sizeof(what), "in sync after op %" PRIu64 ", workers held", at);
	if (mir_async_now)
		mirror_wait_drained(what, &st);
	else
		mirror_status(what, &st, 1U << MIR_INSYNC);
	mirror_check_full_pass(what, &st);
	if (st.dirty)
		fail("status %s: %" PRIu64 " chunks dirty (expected 0); status line: %s",
		     what, st.dirty, st.line);
	ring_log_mirror("in sync: workers held, raw replica and base compared", at);
	snprintf(what, sizeof(what), "raw replica vs model (in sync after op %" PRIu64 ", workers held)", at);
	check_range(what, DEV_REPLICA, view, 0, len_sectors, big);
	snprintf(what, sizeof(what), "raw base vs model (in sync after op %" PRIu64 ", workers held)", at);
	check_range(what, DEV_BASE, view, 0, len_sectors, big);
	mir_insync_checks++;
	mir_session_checked = true;

	pthread_mutex_lock(&gate_lock);
	ckpt_pending = false;
	pthread_cond_broadcast(&gate_cond);
	pthread_mutex_unlock(&gate_lock);
}

static void mirror_event(int i, uint64_t *rng, uint8_t *buf, uint8_t *big)
{
	uint64_t at = opt.mir_event_at[i], r;
	bool failures = opt.replica_dm || opt.selftest;
	struct colo_status st;
	char when[96];

	snprintf(when, sizeof(when), "at the event after op %" PRIu64, at);
	if (mir_running &&
	    mirror_status(when, &st, MIR_RUNNING) == MIR_INSYNC)
		mirror_insync_check(at, big);

	if (!mir_running) {
		if (rnd(rng, 100) < 30)
			mirror_refused_stop(at);
		if (opt.mir_async && rnd(rng, 100) < 30) {
			ring_log_mirror("mirror sync with no running mirror (must be refused)", at);
			mirror_expect_refused("mirror sync", "with no running mirror", at, NULL);
		}
		mirror_start(rng, at, false, true, "start");
		return;
	}
	r = rnd(rng, 100);
	if (r < 25)
		mirror_refused_start(at);
	else if (failures && r < 60)
		mirror_failure(rng, at, buf);
	else if (opt.mir_async && r >= 80)
		mirror_switch(rng, at);
	else
		mirror_stop(at, "stop");
}

/* Runs the events at their op counts while the workers go on. */
void *mirror_control_fn(void *arg)
{
	uint64_t rng = opt.seed ^ 0x6d69727263746cULL;	/* "mirrctl" */
	uint8_t *buf = arg, *big = alloc_io(BIG_IO_SECTORS);
	int i;

	for (i = 0; i < opt.mir_nevents; i++) {
		for (;;) {
			struct timespec dl;
			struct colo_status st;
			bool reached;

			clock_gettime(CLOCK_REALTIME, &dl);
			dl.tv_nsec += (long)mirror_poll_ms() * 1000000L;
			if (dl.tv_nsec >= 1000000000L) {
				dl.tv_sec++;
				dl.tv_nsec -= 1000000000L;
			}
			pthread_mutex_lock(&gate_lock);
			reached = ops_issued >= opt.mir_event_at[i] || fo_abort ||
				  __atomic_load_n(&stop, __ATOMIC_RELAXED);
			if (!reached) {
				pthread_cond_timedwait(&fo_cond, &gate_lock, &dl);
				reached = ops_issued >= opt.mir_event_at[i] || fo_abort ||
					  __atomic_load_n(&stop, __ATOMIC_RELAXED);
			}
			pthread_mutex_unlock(&gate_lock);
			if (reached)
				break;
			/*
			 * Between events: check each sync once it is in sync
			 * (a status read each time: async, its lag is checked).
			 */
			if (mir_running && (!mir_session_checked || opt.mir_async) &&
			    mirror_status("between mirror events", &st, MIR_RUNNING) == MIR_INSYNC &&
			    !mir_session_checked)
				mirror_insync_check(ops_now(), big);
		}
		if (__atomic_load_n(&stop, __ATOMIC_RELAXED))
			return NULL;
		mirror_event(i, &rng, buf, big);
		pthread_mutex_lock(&gate_lock);
		mir_ev_next = i + 1;
		pthread_cond_broadcast(&gate_cond);
		pthread_mutex_unlock(&gate_lock);
	}
	free(big);
	return NULL;
}

/*
 * After the workers and the control thread: bring the mirror in sync,
 * compare base and replica with the model, check that writes in sync reach
 * the replica with no copy, stop.
 */
void final_verify_mirror(uint8_t *buf, uint8_t *wbuf, char *sum, size_t sumsz)
{
	uint64_t rng = opt.seed ^ 0x6275727374ULL;	/* "burst" */
	uint64_t t0, t_sync, copies, at = ops_now();
	struct colo_status st;
	int ms, i;

	if (!mir_running)
		mirror_start(&rng, at, true, false, "final start");
	t0 = now_ns();
	for (;;) {
		ms = mirror_status("final, waiting for in-sync", &st, MIR_RUNNING);
		/* Async: also every background write ended. */
		if (ms == MIR_INSYNC && !st.lag)
			break;
		if (now_ns() - t0 > MIRROR_SYNC_TIMEOUT_S * 1000000000ULL)
			fail("final: the mirror is not in sync %d s after the I/O ended: %" PRIu64 "/%" PRIu64 " mirrored, dirty %" PRIu64 "; status line: %s",
			     MIRROR_SYNC_TIMEOUT_S, st.mirrored, st.to_mirror, st.dirty, st.line);
		sleep_ms(mirror_poll_ms());
	}
	t_sync = now_ns() - t0;
	copies = st.mirrored;
	printf("# mirror: final status in sync: %s\n", st.line);

	check_range("final: whole VM device vs model (mirror in sync)", DEV_VM, view,
		    0, len_sectors, buf);
	check_range("final: raw base vs model (mirror in sync)", DEV_BASE, view,
		    0, len_sectors, buf);
	check_range("final: raw replica vs model (mirror in sync)", DEV_REPLICA, view,
		    0, len_sectors, buf);
	ms = mirror_status("final, after the compare", &st, 1U << MIR_INSYNC);
	mirror_check_full_pass("final, after the compare", &st);
	if (st.dirty || st.mirrored != copies)
		fail("status final, in sync with no I/O: dirty=%" PRIu64 " mirrored=%" PRIu64 " (expected dirty 0, mirrored %" PRIu64 " unchanged); status line: %s",
		     st.dirty, st.mirrored, copies, st.line);

	/* Async: to sync first (the burst must reach both with no copy). */
	if (mir_async_now) {
		ring_log_mirror("mirror sync before the burst", at);
		mirror_send("mirror sync", at);
		mir_async_now = 0;
		mir_switches++;
		ms = mirror_status("final, after mirror sync", &st, 1U << MIR_INSYNC);
		if (st.lag || st.dirty || st.mirrored != copies)
			fail("status final, after mirror sync with no I/O: lag=%" PRIu64 " dirty=%" PRIu64 " mirrored=%" PRIu64 " (expected 0, 0, %" PRIu64 "); status line: %s",
			     st.lag, st.dirty, st.mirrored, copies, st.line);
	}
	/* In sync, writes reach both: no copy may be needed. */
	ring_log_mirror("burst of VM writes in sync", at);
	for (i = 0; i < MIRROR_BURST_OPS; i++)
		mirror_vm_write(&rng, wbuf, "burst in sync");
	ms = mirror_status("final, after a burst of VM writes in sync", &st, 1U << MIR_INSYNC);
	if (st.dirty || st.mirrored != copies)
		fail("status final, after %d VM writes in sync: dirty=%" PRIu64 " mirrored=%" PRIu64 " (expected dirty 0 and mirrored %" PRIu64 " unchanged: in sync, writes go to both, no copy); status line: %s",
		     MIRROR_BURST_OPS, st.dirty, st.mirrored, copies, st.line);
	check_range("final: raw replica vs model after VM writes in sync (no copy)",
		    DEV_REPLICA, view, 0, len_sectors, buf);
	check_range("final: raw base vs model after VM writes in sync", DEV_BASE, view,
		    0, len_sectors, buf);
	check_range("final: whole VM device vs model after VM writes in sync", DEV_VM,
		    view, 0, len_sectors, buf);

	/* Seen in sync, then stopped: the coverage stays complete. */
	mirror_stop(at, "final stop");
	if (mir_cov != COV_COMPLETE)
		fail("internal: dirty coverage model %s after a stop in sync", cov_name[mir_cov]);
	mirror_refused_stop(at);
	(void)ms;
	printf("# mirror: events: starts=%u (dirty %u) stops=%u failures=%u ; final sync took %.1f ms; copies=%" PRIu64 "\n",
	       mir_starts, mir_dirty_starts, mir_stops, mir_failures, t_sync / 1e6, copies);
	printf("# mirror: refused messages: %u (dirty starts with the coverage unknown: %u); replica compared in sync during the run (workers held): %u times\n",
	       mir_refused, mir_dirty_refused, mir_insync_checks);
	if (opt.mir_async)
		printf("# mirror: async max_lag %u KiB: %u mode switches, largest lag seen %" PRIu64 " KiB\n",
		       opt.mir_async, mir_switches, mir_lag_max);
	snprintf(sum, sumsz, " mirror_starts=%u mirror_dirty_starts=%u mirror_stops=%u mirror_failures=%u mirror_refused=%u dirty_refused=%u insync_checks=%u copies=%" PRIu64,
		 mir_starts, mir_dirty_starts, mir_stops, mir_failures, mir_refused,
		 mir_dirty_refused, mir_insync_checks, copies);
}
