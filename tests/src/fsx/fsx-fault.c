// SPDX-License-Identifier: GPL-2.0
/*
 * colo-fsx: --fault: the model of failed ops, the control thread that
 * swaps a leg's table to a fault and back, its probes and checks.
 */
#include "fsx.h"

/* ------------------------------------------------------------------ */
/* --fault: the model of failed ops (see the top of fsx.h)             */

const char *const fk_name[] = { "error", "flakey-w", "flakey", "delay", "failreq" };
const bool fk_reads[] = { true, false, true, false, true };	/* reads may fail */
const bool fk_writes[] = { true, true, true, false, true };	/* writes may fail */
const bool fk_certain[] = { true, true, false, false, true };	/* ... and surely do */
const unsigned int fk_min_ms[] = { 0, 0, 2500, 0, 0 };	/* flakey: up 1 s, down 1 s */
const char *const leg_opt[] = { "base", "hidden", "active" };

unsigned int fault_state;	/* atomic */
struct unres *unres[2];
uint64_t unres_n[2];		/* atomic: unresolved sectors per side */
uint64_t pinned_old[2], pinned_new[2];	/* atomic: how they resolved */
int health_may_err, health_must_err;	/* atomic */
uint64_t flt_eio[2], flt_ep_eio[2];	/* atomic: EIOs per side (all, episode) */
uint64_t flt_probe_fail, flt_probe_ok;	/* probes that failed / succeeded as they must */
int flt_ev_next;		/* under gate_lock: the next fault event (3 per episode) */
int flt_ctl_tid;
uint64_t flt_leg_sectors;
bool flt_event_checked;

/* Sector s of side (0 view, 1 base) may also hold what op id of tid wrote. */
static void unres_add(int side, uint64_t s, uint64_t id, int tid)
{
	struct unres *u = &unres[side][s];
	uint64_t *p;

	if (u->n == u->cap) {
		u->cap = u->cap ? 2 * u->cap : 2;
		p = realloc(u->who, u->cap * sizeof(*p));
		if (!p)
			fail("out of memory for unresolved sectors");
		u->who = p;
	}
	if (!u->n)
		__atomic_add_fetch(&unres_n[side], 1, __ATOMIC_RELAXED);
	u->who[u->n++] = id << 6 | (tid & 63);
}

static void unres_clear_one(int side, uint64_t s)
{
	if (!unres[side] || !unres[side][s].n)
		return;
	unres[side][s].n = 0;
	__atomic_sub_fetch(&unres_n[side], 1, __ATOMIC_RELAXED);
}

/* A successful write: the model is exact again on its range. */
static void unres_clear(int side, uint64_t start, uint64_t nsect)
{
	uint64_t s;

	for (s = start; s < start + nsect; s++)
		unres_clear_one(side, s);
}

/*
 * A read of [start, start+nsect) of side's device returned act: every
 * unresolved sector must hold the model's data or one of its failed
 * writes', which it then keeps (the model is pinned to it); then the whole
 * range must equal the model.
 */
static void fault_check_read(const char *what, enum dev_id d, int side,
			     uint64_t start, uint64_t nsect, const uint8_t *act)
{
	uint8_t *model = side ? base : view, cand[SECTOR_SIZE];
	const uint8_t *a;
	struct unres *u;
	uint64_t s;
	uint32_t i;

	for (s = start; s < start + nsect; s++) {
		u = &unres[side][s];
		if (!u->n)
			continue;
		a = act + bytes(s - start);
		if (!memcmp(a, model + bytes(s), SECTOR_SIZE)) {
			__atomic_add_fetch(&pinned_old[side], 1, __ATOMIC_RELAXED);
			unres_clear_one(side, s);
			continue;
		}
		for (i = 0; i < u->n; i++) {
			pat_fill(cand, u->who[i] >> 6, u->who[i] & 63, s, 1);
			if (!memcmp(a, cand, SECTOR_SIZE))
				break;
		}
		if (i < u->n) {
			memcpy(model + bytes(s), a, SECTOR_SIZE);
			__atomic_add_fetch(&pinned_new[side], 1, __ATOMIC_RELAXED);
			unres_clear_one(side, s);
			continue;
		}
		printf("# sector %" PRIu64 " was unresolved: it may hold the model's data or that of %u failed write(s), the last op %" PRIu64 "; it holds neither\n",
		       s, u->n, u->who[u->n - 1] >> 6);
	}
	check_buf(what, d, bytes(start), model + bytes(start), act, bytes(nsect));
}

/*
 * May this op touch the faulted leg the way fault kind fk fails it?  From
 * the model of the op's own side (see the top of fsx.h).
 */
static void fault_touch(enum op_kind kind, uint64_t start, uint64_t nsect,
			unsigned int *rdp, unsigned int *wrp)
{
	const unsigned int B = 1U << LEG_BASE, H = 1U << LEG_HIDDEN,
			   A = 1U << LEG_ACTIVE;
	unsigned int rd = 0, wr = 0;
	uint64_t c, end = start + nsect, ps, pe;
	uint8_t f;

	for (c = chunk_of(start); c <= chunk_of(end - 1); c++) {
		ps = chunk_start(c) > start ? chunk_start(c) : start;
		pe = chunk_start(c) + chunk_len(c) < end ? chunk_start(c) + chunk_len(c) : end;
		switch (kind) {
		case OP_VM_READ:
			f = vm_wrote[c];
			rd |= f == 1 ? A : f == 2 ? A | H | B : H | B;
			break;
		case OP_VM_WRITE:
			wr |= A;
			if (vm_wrote[c] != 1 && (ps != chunk_start(c) || pe - ps != chunk_len(c)))
				rd |= H | B;	/* the fill */
			break;
		case OP_IN_READ:
			rd |= B;
			break;
		case OP_IN_WRITE:
			wr |= B;
			if (in_wrote[c] != 1) {	/* maybe a copy-before-write */
				rd |= B;
				wr |= H;
			}
			break;
		default:
			break;
		}
	}
	*rdp |= rd;
	*wrp |= wr;
}

/*
 * The legs the op may read and write, per the model as it was when the op
 * began (*rd, *wr) and as it is now: another thread's op on the same chunk
 * (other sectors) may have completed meanwhile and moved the chunk to
 * active, after this op's own bio had gone to base.
 */
static bool fault_may_fail(enum op_kind kind, uint64_t start, uint64_t nsect,
			   int fk, unsigned int rd, unsigned int wr)
{
	unsigned int leg = 1U << opt.fault_leg;

	fault_touch(kind, start, nsect, &rd, &wr);
	return (fk_reads[fk] && (rd & leg)) || (fk_writes[fk] && (wr & leg));
}

/*
 * While a fault with a minimum duration (flakey: its up and its down
 * second) is on, a worker sleeps after each op, so that the episode's ops
 * are spread over that time rather than run before the down phase.
 */
void fault_pace(void)
{
	unsigned int fs = __atomic_load_n(&fault_state, __ATOMIC_ACQUIRE), ms;
	uint64_t nops;
	int ep;

	if (!(fs & 1) || opt.selftest)
		return;
	ep = fs / 2;
	nops = opt.fault_end[ep] - opt.fault_start[ep];
	ms = fk_min_ms[opt.fault_kind[ep]] * (opt.vm_threads + opt.in_threads) / (nops ? nops : 1);
	if (ms)
		nanosleep(&(struct timespec){ ms / 1000, (long)(ms % 1000) * 1000000L }, NULL);
}

static const char *const exp_name[] = {
	"may fail", "must succeed", "must fail", "must fail and change nothing"
};

/*
 * One op in --fault mode, on a range the caller reserved (or with the gate
 * closed).  expect: EXP_MAY for a worker (EIO only if the op may touch the
 * faulted leg while its fault is on), else what a probe must do; a failed
 * write under EXP_FAIL_EXACT must have left everything as it was.  Returns
 * 0 or EIO.
 */
int fault_do_op(int tid, uint64_t id, enum op_kind kind, uint64_t start,
		uint64_t nsect, uint8_t *buf, int expect, const char *why)
{
	bool vm = kind == OP_VM_READ || kind == OP_VM_WRITE;
	bool write = kind == OP_VM_WRITE || kind == OP_IN_WRITE;
	enum dev_id d = vm ? DEV_VM : DEV_INGRESS;
	uint8_t *model = vm ? view : base, *flags = vm ? vm_wrote : in_wrote;
	size_t off = bytes(start), len = bytes(nsect);
	int side = !vm, err, fk = -1;
	unsigned int fs, rd0 = 0, wr0 = 0;
	char what[160];
	uint64_t c, s;

	if (write)
		pat_fill(buf, id, tid, start, nsect);
	fault_touch(kind, start, nsect, &rd0, &wr0);
	err = dev_io_try(d, buf, start, nsect, write, id);
	fs = __atomic_load_n(&fault_state, __ATOMIC_SEQ_CST);
	if (fs & 1)
		fk = opt.fault_kind[fs / 2];
	if (err) {
		if (err != EIO)
			fail("op %" PRIu64 ": %s (%s) sector %" PRIu64 " +%" PRIu64 ": %s (only EIO may come from a faulted leg)",
			     id, op_name[kind], why, start, nsect, strerror(err));
		if (expect == EXP_OK)
			fail("op %" PRIu64 ": %s (%s) sector %" PRIu64 " +%" PRIu64 ": EIO, but it must succeed (the %s leg %s)",
			     id, op_name[kind], why, start, nsect, leg_opt[opt.fault_leg],
			     fk < 0 ? "is linear again" : "is not on its path");
		if (expect == EXP_MAY && fk < 0)
			fail("op %" PRIu64 ": %s sector %" PRIu64 " +%" PRIu64 ": EIO with no fault on (the %s leg's table is linear)",
			     id, op_name[kind], start, nsect, leg_opt[opt.fault_leg]);
		if (expect == EXP_MAY && !fault_may_fail(kind, start, nsect, fk, rd0, wr0))
			fail("op %" PRIu64 ": %s sector %" PRIu64 " +%" PRIu64 ": EIO, but per the model it cannot reach the faulted %s leg (%s): the error reached the wrong side",
			     id, op_name[kind], start, nsect, leg_opt[opt.fault_leg], fk_name[fk]);
		__atomic_store_n(&health_must_err, 1, __ATOMIC_RELEASE);
		__atomic_add_fetch(&flt_eio[side], 1, __ATOMIC_RELAXED);
		__atomic_add_fetch(&flt_ep_eio[side], 1, __ATOMIC_RELAXED);
		if (write && expect != EXP_FAIL_EXACT) {
			/* each sector: as it was or as written; A/H: maybe */
			for (c = chunk_of(start); c <= chunk_of(start + nsect - 1); c++)
				if (!flags[c])
					__atomic_store_n(&flags[c], 2, __ATOMIC_RELAXED);
			for (s = start; s < start + nsect; s++)
				unres_add(side, s, id, tid);
		}
		return EIO;
	}
	if (expect == EXP_FAIL || expect == EXP_FAIL_EXACT)
		fail("op %" PRIu64 ": %s (%s) sector %" PRIu64 " +%" PRIu64 " succeeded, but it must fail with EIO (%s leg: %s)",
		     id, op_name[kind], why, start, nsect, leg_opt[opt.fault_leg],
		     fk < 0 ? "no fault" : fk_name[fk]);
	if (write) {
		memcpy(model + off, buf, len);
		unres_clear(side, start, nsect);
		mark_chunks(flags, start, nsect);
	} else {
		snprintf(what, sizeof(what), "%s op %" PRIu64 " (%s; %s vs model %s)",
			 op_name[kind], id, why, vm ? "VM read" : "ingress read",
			 vm ? "view" : "base");
		fault_check_read(what, d, side, start, nsect, buf);
	}
	return 0;
}
/* ------------------------------------------------------------------ */
/* Faults (--fault): the control thread, its probes and checks         */

static int flt_leg_broken;	/* atomic: the leg's table is a fault */
uint8_t *flt_buf;	/* the control thread's I/O buffer */
unsigned int flt_nkind[NR_FK];

/* The leg's table: linear over the raw leg (fk -1), or fault fk. */
static void fault_table(int fk, char *t, size_t n)
{
	const char *lower = opt.dev[DEV_BASE + opt.fault_leg];

	switch (fk) {
	case FK_ERROR:
		snprintf(t, n, "0 %" PRIu64 " error", flt_leg_sectors);
		break;
	case FK_FLAKEY_W:	/* up 0 s, down 1 s: always down */
		snprintf(t, n, "0 %" PRIu64 " flakey %s 0 0 1 1 error_writes",
			 flt_leg_sectors, lower);
		break;
	case FK_FLAKEY:
		snprintf(t, n, "0 %" PRIu64 " flakey %s 0 1 1", flt_leg_sectors, lower);
		break;
	case FK_DELAY:
		snprintf(t, n, "0 %" PRIu64 " delay %s 0 %d", flt_leg_sectors, lower,
			 FAULT_DELAY_MS);
		break;
	default:
		snprintf(t, n, "0 %" PRIu64 " linear %s 0", flt_leg_sectors, lower);
		break;
	}
}

/*
 * failreq: the leg's table stays linear; fail_make_request fails every bio
 * sent to it while its make-it-fail is 1 (the test script set the
 * probability to 100).
 */
static int fault_make_it_fail(int on, char *err, size_t errsz)
{
	char path[128];
	struct stat st;
	int fd, ok;

	snprintf(path, sizeof(path), "/dev/mapper/%s", opt.fault_dm);
	if (stat(path, &st)) {
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		return -1;
	}
	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/make-it-fail",
		 major(st.st_rdev), minor(st.st_rdev));
	fd = open(path, O_WRONLY);
	ok = fd >= 0 && write(fd, on ? "1" : "0", 1) == 1;
	if (!ok)
		snprintf(err, errsz, "%s: %s (a kernel without CONFIG_FAIL_MAKE_REQUEST?)",
			 path, strerror(errno));
	if (fd >= 0)
		close(fd);
	return ok ? 0 : -1;
}

/* Swap the leg to fault fk, or back to linear (-1); the simulation flips flags. */
static int fault_swap_try(int fk, char *err, size_t errsz)
{
	static const int sim_mask[NR_FK] = { 3, 2, 7, 0, 3 };
	static int cur = -1;
	char table[512];

	if (opt.selftest) {
		__atomic_store_n(&sim.fault, fk < 0 ? 0 : sim_mask[fk], __ATOMIC_RELEASE);
		return 0;
	}
	if (fk == FK_FAILREQ || (fk < 0 && cur == FK_FAILREQ)) {
		if (fault_make_it_fail(fk >= 0, err, errsz))
			return -1;
		cur = fk;
		__atomic_store_n(&flt_leg_broken, fk >= 0, __ATOMIC_RELEASE);
		return 0;
	}
	fault_table(fk, table, sizeof(table));
	if (dm_swap_try(opt.fault_dm, table, err, errsz))
		return -1;
	cur = fk;
	__atomic_store_n(&flt_leg_broken, fk >= 0, __ATOMIC_RELEASE);
	return 0;
}

static void fault_swap(int fk)
{
	char err[4600];

	if (fault_swap_try(fk, err, sizeof(err)))
		fail("fault injection (%s leg to %s): %s", leg_opt[opt.fault_leg],
		     fk < 0 ? "linear" : fk_name[fk], err);
}

/* On a failure report: do not leave the leg's table on a fault. */
void fault_fail_cleanup(void)
{
	char err[4600];

	if (opt.fault_leg < 0 || opt.selftest ||
	    !__atomic_load_n(&flt_leg_broken, __ATOMIC_ACQUIRE))
		return;
	if (fault_swap_try(-1, err, sizeof(err)))
		printf("# could not restore the %s leg's linear table: %s\n",
		       leg_opt[opt.fault_leg], err);
	else
		printf("# restored the %s leg's linear table (%s over %s)\n",
		       leg_opt[opt.fault_leg], opt.fault_dm,
		       opt.dev[DEV_BASE + opt.fault_leg]);
}

/* The device's dm event counter. */
static uint64_t dev_events(void)
{
	char *argv[] = { "dmsetup", "info", "-c", "-o", "events", "--noheadings",
			 (char *)opt.name, NULL };
	char out[1024], *end;
	uint64_t ev;
	int r;

	if (opt.selftest)
		return __atomic_load_n(&sim.events, __ATOMIC_ACQUIRE);
	r = run_dmsetup(argv, out, sizeof(out));
	ev = strtoull(out, &end, 10);
	if (r || end == out)
		fail("dmsetup info -c -o events --noheadings %s: exit %d: %s", opt.name, r, out);
	return ev;
}

/* dmsetup wait NAME ev0 must return: an event came after ev0. */
static void fault_wait_event(uint64_t ev0)
{
	char evs[32], out[1024];
	char *argv[] = { "timeout", "10", "dmsetup", "wait", (char *)opt.name, evs, NULL };
	int r;

	if (opt.selftest) {
		if (dev_events() <= ev0)
			fail("(simulated) no dm event after event %" PRIu64 " for the first I/O error", ev0);
		return;
	}
	snprintf(evs, sizeof(evs), "%" PRIu64, ev0);
	r = run_dmsetup(argv, out, sizeof(out));
	if (r)
		fail("dmsetup wait %s %s did not return within 10 s (exit %d: %s): no dm event for the first I/O error",
		     opt.name, evs, r, out);
}

/* Wait until op at was handed out (or the run stops). */
static void fault_wait_ops(uint64_t at)
{
	pthread_mutex_lock(&gate_lock);
	while (ops_issued < at && !fo_abort && !__atomic_load_n(&stop, __ATOMIC_RELAXED))
		pthread_cond_wait(&fo_cond, &gate_lock);
	pthread_mutex_unlock(&gate_lock);
}

/* Hold new ops and wait for those in flight (as a checkpoint does). */
static void fault_gate_close(void)
{
	pthread_mutex_lock(&gate_lock);
	while (ckpt_pending)
		pthread_cond_wait(&gate_cond, &gate_lock);
	ckpt_pending = true;
	while (in_flight)
		pthread_cond_wait(&gate_cond, &gate_lock);
	pthread_mutex_unlock(&gate_lock);
}

/* The next fault event is done; with open, let the held ops go. */
static void fault_event_done(bool open)
{
	pthread_mutex_lock(&gate_lock);
	if (open)
		ckpt_pending = false;
	flt_ev_next++;
	pthread_cond_broadcast(&gate_cond);
	pthread_mutex_unlock(&gate_lock);
}

/* A chunk with vm_wrote == v and in_wrote == i (-1: any), else -1. */
static int64_t fault_find_chunk(uint64_t *rng, int v, int i)
{
	uint64_t c0 = rnd(rng, nr_chunks), k, c;

	for (k = 0; k < nr_chunks; k++) {
		c = (c0 + k) % nr_chunks;
		if ((v < 0 || vm_wrote[c] == v) && (i < 0 || in_wrote[c] == i))
			return (int64_t)c;
	}
	return -1;
}

/* One probe op on a whole chunk, or on [start, start+n) when c < 0. */
int fault_probe(enum op_kind kind, int64_t c, uint64_t start, uint64_t n,
		int expect, const char *why)
{
	uint64_t id = __atomic_add_fetch(&ctl_next_id, 1, __ATOMIC_RELAXED);
	int err;

	if (c >= 0) {
		start = chunk_start(c);
		n = chunk_len(c);
	}
	ring_log(id, flt_ctl_tid, kind, start, n);
	err = fault_do_op(flt_ctl_tid, id, kind, start, n, flt_buf, expect, why);
	if (expect >= EXP_FAIL)
		flt_probe_fail++;
	else
		flt_probe_ok++;
	if (opt.verbose)
		printf("# probe op %" PRIu64 ": %s sector %" PRIu64 " +%" PRIu64 " (%s): %s as it %s\n",
		       id, op_name[kind], start, n, why, err ? "EIO" : "ok", exp_name[expect]);
	return err;
}

/*
 * With no op in flight and fault fk on: ops that must fail (when fk surely
 * fails them; under dm-delay they must succeed) and ops that must succeed
 * because they do not touch the leg.  See the top of fsx.h.
 */
static void fault_probes(uint64_t *rng, int fk)
{
	bool slow = !fk_reads[fk] && !fk_writes[fk], sure = fk_certain[fk] || slow;
	bool rd = fk_reads[fk] || slow;
	int e_fail = slow ? EXP_OK : EXP_FAIL, e_exact = slow ? EXP_OK : EXP_FAIL_EXACT;
	int64_t any = (int64_t)rnd(rng, nr_chunks);
	int64_t ca = fault_find_chunk(rng, 1, -1);	/* A set */
	int64_t cf = fault_find_chunk(rng, 0, 0);	/* clean: neither */
	int64_t ch = fault_find_chunk(rng, 0, 1);	/* H set, not A */
	uint64_t before = flt_probe_fail;

	switch (opt.fault_leg) {
	case LEG_BASE:
		if (sure && rd) {
			fault_probe(OP_IN_READ, any, 0, 0, e_fail, "ingress read of base");
			if (cf >= 0)
				fault_probe(OP_VM_READ, cf, 0, 0, e_fail, "VM read of a clean chunk, from base");
		}
		if (sure)
			fault_probe(OP_IN_WRITE, ch >= 0 ? ch : any, 0, 0, e_fail, "ingress write to base");
		if (ca >= 0) {
			fault_probe(OP_VM_READ, ca, 0, 0, EXP_OK, "VM read of an active chunk");
			fault_probe(OP_VM_WRITE, ca, 0, 0, EXP_OK, "VM write of an active chunk");
		}
		break;
	case LEG_HIDDEN:
		if (sure && cf >= 0) {
			fault_probe(OP_IN_WRITE, cf, 0, 0, e_exact,
				    "ingress write to a clean chunk: its copy-before-write to hidden");
			fault_probe(OP_IN_READ, cf, 0, 0, EXP_OK,
				    "base after that ingress write: untouched if it failed");
		}
		if (sure && rd && ch >= 0)
			fault_probe(OP_VM_READ, ch, 0, 0, e_fail, "VM read of a hidden chunk");
		fault_probe(OP_IN_READ, any, 0, 0, EXP_OK, "ingress read of base");
		if (ch >= 0)
			fault_probe(OP_IN_WRITE, ch, 0, 0, EXP_OK, "ingress write to a hidden chunk (no copy)");
		if (ca >= 0)
			fault_probe(OP_VM_READ, ca, 0, 0, EXP_OK, "VM read of an active chunk");
		break;
	default:	/* LEG_ACTIVE */
		if (sure) {
			fault_probe(OP_VM_WRITE, cf >= 0 ? cf : any, 0, 0,
				    cf >= 0 ? e_exact : e_fail, "VM write of a whole chunk, to active");
			if (cf >= 0)
				fault_probe(OP_VM_READ, cf, 0, 0, EXP_OK,
					    "the view after that VM write: unchanged if it failed");
		}
		if (sure && rd && ca >= 0)
			fault_probe(OP_VM_READ, ca, 0, 0, e_fail, "VM read of an active chunk");
		fault_probe(OP_IN_WRITE, any, 0, 0, EXP_OK, "ingress write");
		fault_probe(OP_IN_READ, any, 0, 0, EXP_OK, "ingress read");
		break;
	}
	if (fk_certain[fk] && flt_probe_fail == before && nr_chunks >= FAULT_PROBE_CHUNKS)
		fail("internal: no probe that must fail could be made for the %s leg (%s)",
		     leg_opt[opt.fault_leg], fk_name[fk]);
	if (fk_certain[fk] && flt_probe_fail == before)
		printf("# fault: no probe that must fail for the %s leg (%s): no clean chunk left of %" PRIu64 "\n",
		       leg_opt[opt.fault_leg], fk_name[fk], nr_chunks);
}

/* With the leg linear again: read and pin every unresolved sector. */
static void fault_resolve(void)
{
	uint64_t c, s;
	int side;

	for (side = 0; side < 2; side++)
		for (c = 0; c < nr_chunks; c++)
			for (s = chunk_start(c); s < chunk_start(c) + chunk_len(c); s++)
				if (unres[side][s].n) {
					fault_probe(side ? OP_IN_READ : OP_VM_READ, (int64_t)c,
						    0, 0, EXP_OK, "pinning the sectors of failed writes");
					break;
				}
	if (unres_n[0] || unres_n[1])
		fail("internal: %" PRIu64 " + %" PRIu64 " sectors still unresolved after reading them",
		     unres_n[0], unres_n[1]);
}

/* A random range: anywhere, or in a hot chunk. */
static void fault_range(uint64_t *rng, uint64_t *start, uint64_t *n)
{
	uint64_t s, c, maxn;

	if (rnd(rng, 100) < opt.hot) {
		c = hot_chunk[rnd(rng, HOT_CHUNKS)];
		s = chunk_start(c) + rnd(rng, chunk_len(c));
	} else {
		s = rnd(rng, len_sectors);
	}
	maxn = len_sectors - s < opt.max_sectors ? len_sectors - s : opt.max_sectors;
	*start = s;
	*n = 1 + rnd(rng, maxn);
}

/*
 * Before a fault, with no op in flight: a checkpoint (the model is exact
 * and every chunk clean), then whole chunks VM-written (active) and
 * ingress-written (hidden), so that the probes find each kind of chunk.
 */
static void fault_prepare(uint64_t *rng, uint64_t at)
{
	uint64_t c;
	int i;

	do_checkpoint(flt_ctl_tid, at);
	for (i = 0; i < FAULT_PREP_ACTIVE + FAULT_PREP_HIDDEN; i++) {
		c = rnd(rng, nr_chunks);
		if (vm_wrote[c] || in_wrote[c])
			continue;
		fault_probe(i < FAULT_PREP_ACTIVE ? OP_VM_WRITE : OP_IN_WRITE, (int64_t)c,
			    0, 0, EXP_OK, "preparing chunks for the probes");
	}
}

void *fault_control_fn(void *arg)
{
	uint64_t rng = opt.seed ^ 0x666c745f63746cULL, ev0 = 0, s, n, t0;
	uint64_t ops0, ops1, fail0, ok0;
	unsigned int ms;
	struct colo_status st;
	char what[96];
	int ep, fk;

	(void)arg;
	for (ep = 0; ep < opt.fault_eps; ep++) {
		fk = opt.fault_kind[ep];
		fault_wait_ops(opt.fault_start[ep]);
		fault_gate_close();
		if (__atomic_load_n(&stop, __ATOMIC_RELAXED))
			return NULL;
		ops0 = ops_now();
		fault_prepare(&rng, ops0);
		if (!__atomic_load_n(&health_must_err, __ATOMIC_ACQUIRE))
			ev0 = dev_events();
		if (fk_reads[fk] || fk_writes[fk])
			__atomic_store_n(&health_may_err, 1, __ATOMIC_RELEASE);
		fail0 = flt_probe_fail;
		ok0 = flt_probe_ok;
		__atomic_store_n(&flt_ep_eio[0], 0, __ATOMIC_RELAXED);
		__atomic_store_n(&flt_ep_eio[1], 0, __ATOMIC_RELAXED);
		fault_event_done(true);

		/* The fault goes on under running I/O. */
		ring_log_mirror(fk_name[fk], ops0);
		__atomic_store_n(&fault_state, 2 * ep + 1, __ATOMIC_SEQ_CST);
		t0 = now_ns();
		fault_swap(fk);
		flt_nkind[fk]++;

		fault_wait_ops(opt.fault_probe[ep]);
		fault_gate_close();
		if (__atomic_load_n(&stop, __ATOMIC_RELAXED))
			return NULL;
		fault_probes(&rng, fk);
		fault_event_done(true);

		fault_wait_ops(opt.fault_end[ep]);
		ms = (now_ns() - t0) / 1000000;
		if (!opt.selftest && ms < fk_min_ms[fk])
			sleep_ms(fk_min_ms[fk] - ms);
		fault_gate_close();
		if (__atomic_load_n(&stop, __ATOMIC_RELAXED))
			return NULL;
		ops1 = ops_now();
		fault_swap(-1);
		__atomic_store_n(&fault_state, 2 * ep + 2, __ATOMIC_SEQ_CST);
		ring_log_mirror("fault lifted", ops1);

		fault_resolve();
		/* The device works again, both sides. */
		fault_range(&rng, &s, &n);
		fault_probe(OP_VM_WRITE, -1, s, n, EXP_OK, "VM write after the fault");
		fault_probe(OP_VM_READ, -1, s, n, EXP_OK, "VM read after the fault");
		fault_range(&rng, &s, &n);
		fault_probe(OP_IN_WRITE, -1, s, n, EXP_OK, "ingress write after the fault");
		fault_probe(OP_IN_READ, -1, s, n, EXP_OK, "ingress read after the fault");
		snprintf(what, sizeof(what), "after fault episode %d (%s)", ep, fk_name[fk]);
		verify_status(what);
		if (health_must_err && !flt_event_checked) {
			fault_wait_event(ev0);
			flt_event_checked = true;
			printf("# fault: the first I/O error raised a dm event (dmsetup wait %s %" PRIu64 " returned)\n",
			       opt.selftest ? "sim" : opt.name, ev0);
		}
		dev_status(&st);
		printf("# fault episode %d: %s leg %s, ops %" PRIu64 "..%" PRIu64 " (%.1f s): EIO seen by vm %" PRIu64 ", ingress %" PRIu64 "; probes: %" PRIu64 " failed and %" PRIu64 " succeeded as they must; health %s\n",
		       ep, leg_opt[opt.fault_leg], fk_name[fk], ops0, ops1,
		       (now_ns() - t0) / 1e9, flt_ep_eio[0], flt_ep_eio[1],
		       flt_probe_fail - fail0, flt_probe_ok - ok0, st.ok ? "ok" : "error");
		fault_event_done(true);
	}
	return NULL;
}
