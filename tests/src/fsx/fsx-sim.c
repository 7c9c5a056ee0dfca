// SPDX-License-Identifier: GPL-2.0
/*
 * colo-fsx: the in-memory simulation of the target that --selftest runs
 * against (secondary, failover commit, mirror, leg faults), with the
 * planted bugs of --selftest-bug.
 */
#include "fsx.h"

/* ------------------------------------------------------------------ */
/* Simulated kernel for --selftest                                     */

const char *const commit_state_name[] = {
	"none", "running", "failed", "done"
};

struct fsx_sim sim;

void sim_init(void)
{
	pthread_rwlockattr_t ra;
	uint64_t c, s;
	int l;

	for (l = 0; l < NR_LEGS; l++) {
		sim.leg[l] = malloc(bytes(len_sectors));
		if (!sim.leg[l])
			die_setup("out of memory for the simulated legs");
	}
	/* Distinct recognizable contents, so stale data shows. */
	for (s = 0; s < len_sectors; s++) {
		pat_fill(sim.leg[LEG_BASE] + bytes(s), 0, TID_INIT_BASE, s, 1);
		pat_fill(sim.leg[LEG_HIDDEN] + bytes(s), 0, TID_INIT_HIDDEN, s, 1);
		pat_fill(sim.leg[LEG_ACTIVE] + bytes(s), 0, TID_INIT_ACTIVE, s, 1);
	}
	sim.abit = calloc(nr_chunks, 1);
	sim.hbit = calloc(nr_chunks, 1);
	sim.dirty = calloc(nr_chunks, 1);
	sim.lock = calloc(nr_chunks, sizeof(*sim.lock));
	if (!sim.abit || !sim.hbit || !sim.dirty || !sim.lock)
		die_setup("out of memory for the simulation");
	for (c = 0; c < nr_chunks; c++)
		pthread_mutex_init(&sim.lock[c], NULL);
	/* A waiting failover holds new I/O back, as in the kernel. */
	pthread_rwlockattr_init(&ra);
	pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&sim.hold, &ra);
	pthread_rwlockattr_destroy(&ra);
	if (opt.mirror) {
		/* A primary device with a replica that differs from base. */
		sim.replica = malloc(bytes(len_sectors));
		if (!sim.replica)
			die_setup("out of memory for the simulated replica");
		for (s = 0; s < len_sectors; s++)
			pat_fill(sim.replica + bytes(s), 0, TID_INIT_REPLICA, s, 1);
		pthread_mutex_init(&sim.mlock, NULL);
		sim.primary = true;
		sim.commit_state = COMMIT_NONE;
		/*
		 * Some chunks dirty, as after an unknown history: a fresh
		 * table does not know what the replica lacks.
		 */
		for (c = 0; c < nr_chunks; c += 7)
			sim.dirty[c] = 1;
		sim.needs_full = true;
		return;
	}
	/* Some active and hidden bits set, as after an unknown history. */
	for (c = 0; c < nr_chunks; c += 3)
		sim.abit[c] = 1;
	for (c = 0; c < nr_chunks; c += 5)
		sim.hbit[c] = 1;
}

static inline bool sim_pending(uint64_t c)
{
	return __atomic_load_n(&sim.abit[c], __ATOMIC_RELAXED) ||
	       __atomic_load_n(&sim.hbit[c], __ATOMIC_RELAXED);
}

/* Where the commit takes a pending chunk from: active, else hidden. */
static int sim_commit_src(uint64_t c)
{
	if (opt.bug == BUG_COMMIT_HIDDEN && sim.hbit[c])
		return LEG_HIDDEN;
	return sim.abit[c] ? LEG_ACTIVE : LEG_HIDDEN;
}

/* Chunk c's data is on base: it leaves the commit.  Chunk lock held. */
static void sim_chunk_committed(uint64_t c)
{
	__atomic_store_n(&sim.abit[c], 0, __ATOMIC_RELAXED);
	__atomic_store_n(&sim.hbit[c], 0, __ATOMIC_RELAXED);
	__atomic_add_fetch(&sim.committed, 1, __ATOMIC_RELAXED);
}

/* The background commit: one sweep, chunk by chunk under the chunk lock. */
static void *sim_commit_fn(void *arg)
{
	struct timespec pause = { 0, 20000 };	/* a copy takes time */
	uint64_t c, cs, cl;

	(void)arg;
	for (c = 0; c < nr_chunks; c++) {
		pthread_mutex_lock(&sim.lock[c]);
		if (sim_pending(c)) {
			cs = chunk_start(c);
			cl = chunk_len(c);
			memcpy(sim.leg[LEG_BASE] + bytes(cs),
			       sim.leg[sim_commit_src(c)] + bytes(cs), bytes(cl));
			sim_chunk_committed(c);
			pthread_mutex_unlock(&sim.lock[c]);
			nanosleep(&pause, NULL);
			continue;
		}
		pthread_mutex_unlock(&sim.lock[c]);
	}
	/* No bit is ever set in primary mode: one sweep commits everything. */
	__atomic_store_n(&sim.commit_state, COMMIT_DONE, __ATOMIC_RELEASE);
	return NULL;
}

/* The failover message: 0, or -1 when refused. */
int sim_failover(void)
{
	uint64_t c, n = 0;
	int err;

	if (__atomic_load_n(&sim.primary, __ATOMIC_ACQUIRE))
		return -1;	/* the simulated commit never fails: nothing to resume */
	pthread_rwlock_wrlock(&sim.hold);
	for (c = 0; c < nr_chunks; c++) {
		sim.dirty[c] = sim.abit[c] || sim.hbit[c];
		n += sim.dirty[c];
	}
	sim.to_commit = n;
	__atomic_store_n(&sim.committed, 0, __ATOMIC_RELAXED);
	sim.fenced = true;
	__atomic_store_n(&sim.primary, true, __ATOMIC_RELEASE);
	__atomic_store_n(&sim.commit_state, n ? COMMIT_RUNNING : COMMIT_DONE,
			 __ATOMIC_RELEASE);
	if (n) {
		err = pthread_create(&sim.commit_thread, NULL, sim_commit_fn, NULL);
		if (err)
			fail("simulated commit: pthread_create: %s", strerror(err));
		sim.commit_started = true;
	}
	pthread_rwlock_unlock(&sim.hold);
	return 0;
}

/* A VM piece in primary mode.  Chunk lock held. */
static void sim_vm_primary(uint64_t c, uint8_t *p, uint64_t off, uint64_t n,
			   bool write)
{
	uint64_t cs = chunk_start(c), cl = chunk_len(c);
	size_t len = bytes(n);
	int src;

	if (!write) {
		/* pending: active, else hidden; else (and once committed) base */
		src = sim.abit[c] ? LEG_ACTIVE : sim.hbit[c] ? LEG_HIDDEN : LEG_BASE;
		memcpy(p, sim.leg[src] + off, len);
		return;
	}
	__atomic_store_n(&sim.dirty[c], 1, __ATOMIC_RELAXED);
	if (sim_pending(c)) {
		/* partial: commit the chunk first; then either way to base */
		if (n != cl)
			memcpy(sim.leg[LEG_BASE] + bytes(cs),
			       sim.leg[sim_commit_src(c)] + bytes(cs), bytes(cl));
		memcpy(sim.leg[LEG_BASE] + off, p, len);
		sim_chunk_committed(c);
		return;
	}
	memcpy(sim.leg[LEG_BASE] + off, p, len);
}

/* --fault: does this access of leg fail now?  A failure sets health. */
static bool sim_leg_fails(int leg, bool write)
{
	int f = __atomic_load_n(&sim.fault, __ATOMIC_ACQUIRE);
	uint64_t n;

	if (leg != opt.fault_leg || !(f & (write ? 2 : 1)))
		return false;
	if (f & 4) {
		n = __atomic_add_fetch(&sim.fault_acc, 1, __ATOMIC_RELAXED);
		if ((n / 8) % 2)
			return false;
	}
	if (!__atomic_exchange_n(&sim.error, 1, __ATOMIC_ACQ_REL))
		__atomic_add_fetch(&sim.events, 1, __ATOMIC_RELEASE);
	return true;
}

/* ---- --mirror: the simulated mirror (the rules of dm-colo-mirror.c) ---- */

/*
 * mirror-noclear-order: a copy's completion (which clears the bit there)
 * runs this long after the copy released its chunk; the copier goes on
 * meanwhile, as with kcopyd's asynchronous completions.
 */
#define NOCLEAR_WINDOW_NS	400000
#define NOCLEAR_PENDING		64
static struct { uint64_t c, due; } sim_pend[NOCLEAR_PENDING];
static int sim_npend;		/* the copier's own */

static inline bool sim_dirty(uint64_t c)
{
	return __atomic_load_n(&sim.dirty[c], __ATOMIC_RELAXED);
}

static inline void sim_set_dirty(uint64_t c, bool v)
{
	__atomic_store_n(&sim.dirty[c], v, __ATOMIC_RELAXED);
}

/* Change the mirror state from one in the mask @from to @to. */
static bool sim_mirror_set(unsigned int from, int to)
{
	bool changed = false;

	pthread_mutex_lock(&sim.mlock);
	if ((1U << sim.mstate) & from) {
		__atomic_store_n(&sim.mstate, to, __ATOMIC_RELEASE);
		changed = true;
	}
	pthread_mutex_unlock(&sim.mlock);
	return changed;
}

/* A full pass that ends early: the coverage is unknown, the next sync full. */
static void sim_note_cut_short(void)
{
	if (__atomic_load_n(&sim.full_pass, __ATOMIC_ACQUIRE))
		__atomic_store_n(&sim.needs_full, true, __ATOMIC_RELEASE);
}

static void sim_mirror_degrade(void)
{
	sim_note_cut_short();
	sim_mirror_set(MIR_RUNNING, MIR_DEGRADED);
}

/*
 * A copy takes time: a full pass sleeps about 128 times (512 rate-limited),
 * so that it takes a small part of a run and the mirror gets in sync while
 * the workers still write; the other copies let the workers in.
 */
static void sim_copy_pause(void)
{
	uint64_t n = __atomic_add_fetch(&sim.ncopies, 1, __ATOMIC_RELAXED);
	uint64_t every = nr_chunks / (sim.rate ? 512 : 128);

	if (every <= 1 || n % every == 0)
		nanosleep(&(struct timespec){ 0, 20000 }, NULL);
	else
		sched_yield();
}

/* mirror-noclear-order: run the completions that are due (all: wait for all). */
static void sim_complete_pending(bool all)
{
	uint64_t t;

	while (sim_npend) {
		t = now_ns();
		if (t < sim_pend[0].due) {
			if (!all)
				return;
			nanosleep(&(struct timespec){ 0, (long)(sim_pend[0].due - t) }, NULL);
		}
		sim_set_dirty(sim_pend[0].c, false);
		memmove(&sim_pend[0], &sim_pend[1], --sim_npend * sizeof(sim_pend[0]));
	}
}

/*
 * Copy chunk c to the replica, holding it exclusive (its lock) over the
 * whole copy.  The dirty bit is cleared before base is read; the planted
 * bug clears it when the copy completes, after the hold is released, so a
 * write that marked the chunk meanwhile is forgotten.
 */
static void sim_mirror_copy(uint64_t c, bool full)
{
	uint64_t cs = chunk_start(c), cl = chunk_len(c);
	bool was_dirty;

	pthread_mutex_lock(&sim.lock[c]);
	was_dirty = sim_dirty(c);
	if (!full && !was_dirty) {
		pthread_mutex_unlock(&sim.lock[c]);
		return;
	}
	if (opt.bug != BUG_MIRROR_NOCLEAR)
		sim_set_dirty(c, false);
	if (__atomic_load_n(&sim.replica_failing, __ATOMIC_ACQUIRE)) {
		sim_set_dirty(c, true);
		pthread_mutex_unlock(&sim.lock[c]);
		sim_mirror_degrade();
		return;
	}
	memcpy(sim.replica + bytes(cs), sim.leg[LEG_BASE] + bytes(cs), bytes(cl));
	sim_copy_pause();
	pthread_mutex_unlock(&sim.lock[c]);
	if (opt.bug == BUG_MIRROR_NOCLEAR) {
		/*
		 * The completion runs a little later.  Only for a dirty
		 * chunk can the late clear forget a write: only then wait.
		 */
		if (!was_dirty) {
			sim_set_dirty(c, false);
		} else {
			if (sim_npend == NOCLEAR_PENDING) {
				sim_complete_pending(false);
				if (sim_npend == NOCLEAR_PENDING)
					sim_complete_pending(true);
			}
			sim_pend[sim_npend].c = c;
			sim_pend[sim_npend++].due = now_ns() + NOCLEAR_WINDOW_NS;
		}
	}
	__atomic_add_fetch(&sim.mirrored, 1, __ATOMIC_RELAXED);
}

/* Passes until nothing is dirty (in sync), or the mirror is stopped. */
static void *sim_copier_fn(void *arg)
{
	uint64_t c;
	bool full;

	(void)arg;
	for (;;) {
		sim_complete_pending(false);
		if (sim_mstate() != MIR_COPYING) {
			sim_complete_pending(true);	/* stop waits for copies */
			return NULL;
		}
		full = __atomic_load_n(&sim.full_pass, __ATOMIC_ACQUIRE);
		c = __atomic_load_n(&sim.cursor, __ATOMIC_ACQUIRE);
		if (!full)
			while (c < nr_chunks && !sim_dirty(c))
				c++;
		if (c < nr_chunks) {
			__atomic_store_n(&sim.cursor, c + 1, __ATOMIC_RELEASE);
			sim_mirror_copy(c, full);
			continue;
		}
		/* End of a pass. */
		__atomic_store_n(&sim.cursor, 0, __ATOMIC_RELEASE);
		if (full) {
			/* every chunk behind the cursor is on the replica now */
			__atomic_store_n(&sim.full_pass, false, __ATOMIC_RELEASE);
			__atomic_store_n(&sim.needs_full, false, __ATOMIC_RELEASE);
			continue;
		}
		sim_complete_pending(true);	/* no copy in flight */
		for (c = 0; c < nr_chunks && !sim_dirty(c); c++)
			;
		if (c < nr_chunks)
			continue;
		/*
		 * Nothing dirty and (one copier) no copy in flight: the
		 * replica is flushed first.  A failing flush may lose what
		 * the replica acknowledged: unknown coverage, degraded.
		 */
		if (__atomic_load_n(&sim.replica_failing, __ATOMIC_ACQUIRE)) {
			__atomic_store_n(&sim.needs_full, true, __ATOMIC_RELEASE);
			sim_mirror_degrade();
			return NULL;
		}
		sim_mirror_set(1U << MIR_COPYING, MIR_INSYNC);
		return NULL;
	}
}

/* Stop: no state uses the replica any more; drain writes, join the copier. */
static void sim_mirror_stop_internal(void)
{
	sim_note_cut_short();
	sim_mirror_set(MIR_RUNNING | 1U << MIR_DEGRADED, MIR_NONE);
	pthread_rwlock_wrlock(&sim.hold);
	pthread_rwlock_unlock(&sim.hold);
	if (sim.copier_started) {
		pthread_join(sim.copier, NULL);
		sim.copier_started = false;
	}
}

/* The mirror messages: 0, or 1 when refused (out says why). */
int sim_mirror_message(const char *msg, char *out, size_t outsz)
{
	char dev[256], mode[16], extra[8];
	unsigned int rate = 0;
	int n, st = sim_mstate(), err;
	bool full;

	if (!strcmp(msg, "mirror stop")) {
		if (st == MIR_NONE) {
			snprintf(out, outsz, "(simulated) mirror stop refused: no mirror");
			return 1;
		}
		sim_mirror_stop_internal();
		return 0;
	}
	n = sscanf(msg, "mirror start %255s %15s %u %7s", dev, mode, &rate, extra);
	if (n < 1 || n > 3 || (n >= 2 && strcmp(mode, "full") && strcmp(mode, "dirty")) ||
	    (n == 3 && !rate)) {
		snprintf(out, outsz, "(simulated) bad mirror message '%s'", msg);
		return 1;
	}
	if (st == MIR_COPYING || st == MIR_INSYNC) {
		snprintf(out, outsz, "(simulated) mirror start refused: already mirroring (%s)",
			 mir_state_name[st]);
		return 1;
	}
	full = n < 2 || !strcmp(mode, "full");
	if (!full && __atomic_load_n(&sim.needs_full, __ATOMIC_ACQUIRE)) {
		/* The planted bug guesses, as the kernel once did: full. */
		if (opt.bug == BUG_MIRROR_DIRTY_GUESS) {
			full = true;
		} else {
			/* Refused before anything changes: degraded stays so. */
			snprintf(out, outsz, "(simulated) mirror start refused: dirty chunks may be missing: use full");
			return 1;
		}
	}
	if (st == MIR_DEGRADED)
		sim_mirror_stop_internal();
	if (sim.copier_started) {	/* it ended when it found the mirror in sync */
		pthread_join(sim.copier, NULL);
		sim.copier_started = false;
	}
	__atomic_store_n(&sim.full_pass, full, __ATOMIC_RELEASE);
	__atomic_store_n(&sim.cursor, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&sim.mirrored, 0, __ATOMIC_RELAXED);
	sim.rate = n == 3 ? rate : 0;
	sim_mirror_set(1U << MIR_NONE, MIR_COPYING);
	err = pthread_create(&sim.copier, NULL, sim_copier_fn, NULL);
	if (err)
		fail("simulated mirror: pthread_create: %s", strerror(err));
	sim.copier_started = true;
	return 0;
}

/* A VM write with --mirror.  Chunk lock and read hold held. */
static void sim_vm_mirror_write(uint64_t c, const uint8_t *p, uint64_t off,
				uint64_t n)
{
	int st = sim_mstate();
	size_t len = bytes(n);

	if ((st == MIR_COPYING || st == MIR_INSYNC) && !sim_dirty(c) &&
	    (!__atomic_load_n(&sim.full_pass, __ATOMIC_ACQUIRE) ||
	     c < __atomic_load_n(&sim.cursor, __ATOMIC_ACQUIRE))) {
		/* on the replica: to both */
		memcpy(sim.leg[LEG_BASE] + off, p, len);
		if (opt.bug == BUG_MIRROR_NODUAL && st == MIR_INSYNC)
			return;
		if (__atomic_load_n(&sim.replica_failing, __ATOMIC_ACQUIRE)) {
			sim_set_dirty(c, true);
			sim_mirror_degrade();
			return;
		}
		memcpy(sim.replica + off, p, len);
		return;
	}
	sim_set_dirty(c, true);
	memcpy(sim.leg[LEG_BASE] + off, p, len);
}

/*
 * Apply one device op chunk by chunk, each piece under its chunk's lock, the
 * way the kernel serializes per chunk.  Returns 0 or EIO (a fenced ingress
 * piece; the other pieces are still done, as dm's split bios would be).
 */
int sim_io(enum dev_id d, uint8_t *buf, uint64_t start, uint64_t nsect,
	   bool write)
{
	uint64_t s = start, end = start + nsect;
	bool held = d == DEV_VM || d == DEV_INGRESS;
	int err = 0;

	while (s < end) {
		uint64_t c = chunk_of(s), cs = chunk_start(c), cl = chunk_len(c);
		uint64_t n = (cs + cl < end ? cs + cl : end) - s;
		uint8_t *p = buf + bytes(s - start);
		size_t off = bytes(s), len = bytes(n);
		int src;

		if (held)
			pthread_rwlock_rdlock(&sim.hold);
		pthread_mutex_lock(&sim.lock[c]);
		switch (d) {
		case DEV_VM:
			if (opt.mirror) {
				if (write)
					sim_vm_mirror_write(c, p, off, n);
				else
					memcpy(p, sim.leg[LEG_BASE] + off, len);
				break;
			}
			if (sim.primary) {
				sim_vm_primary(c, p, off, n, write);
				break;
			}
			if (!write) {
				src = sim.abit[c] ? LEG_ACTIVE :
				      sim.hbit[c] ? LEG_HIDDEN : LEG_BASE;
				if (sim_leg_fails(src, false)) {
					err = EIO;
					break;
				}
				memcpy(p, sim.leg[src] + off, len);
				break;
			}
			if (!sim.abit[c] && n != cl && opt.bug != BUG_FILL) {
				/* fill the rest of the chunk from the VM's view */
				src = sim.hbit[c] ? LEG_HIDDEN : LEG_BASE;
				if (sim_leg_fails(src, false) ||
				    sim_leg_fails(LEG_ACTIVE, true)) {
					err = EIO;
					/* the planted bug sets A over an unfilled chunk */
					if (opt.bug == BUG_FAULT_FILL) {
						memcpy(sim.leg[LEG_ACTIVE] + off, p, len);
						sim.abit[c] = 1;
					}
					break;
				}
				memcpy(sim.leg[LEG_ACTIVE] + bytes(cs),
				       sim.leg[src] + bytes(cs), bytes(cl));
			}
			if (sim_leg_fails(LEG_ACTIVE, true)) {
				err = EIO;
				break;
			}
			memcpy(sim.leg[LEG_ACTIVE] + off, p, len);
			sim.abit[c] = 1;
			break;
		case DEV_INGRESS:
			if (sim.fenced) {
				/* the planted bug fails the bio only after base */
				if (write && opt.bug == BUG_NOFENCE)
					memcpy(sim.leg[LEG_BASE] + off, p, len);
				err = EIO;
				break;
			}
			if (!write) {
				if (sim_leg_fails(LEG_BASE, false)) {
					err = EIO;
					break;
				}
				memcpy(p, sim.leg[LEG_BASE] + off, len);
				break;
			}
			if (!sim.hbit[c] && !sim.abit[c] && opt.bug != BUG_COW) {
				/* copy-before-write */
				if (sim_leg_fails(LEG_BASE, false) ||
				    sim_leg_fails(LEG_HIDDEN, true)) {
					/* the planted bug writes base anyway */
					if (opt.bug == BUG_FAULT_COW)
						memcpy(sim.leg[LEG_BASE] + off, p, len);
					err = EIO;
					break;
				}
				memcpy(sim.leg[LEG_HIDDEN] + bytes(cs),
				       sim.leg[LEG_BASE] + bytes(cs), bytes(cl));
				sim.hbit[c] = 1;
			}
			if (sim_leg_fails(LEG_BASE, true)) {
				err = EIO;
				break;
			}
			memcpy(sim.leg[LEG_BASE] + off, p, len);
			break;
		case DEV_REPLICA:	/* raw: read only */
			memcpy(p, sim.replica + off, len);
			break;
		default:	/* raw legs: read only */
			memcpy(p, sim.leg[d - DEV_BASE] + off, len);
			break;
		}
		pthread_mutex_unlock(&sim.lock[c]);
		if (held)
			pthread_rwlock_unlock(&sim.hold);
		s += n;
	}
	/*
	 * The planted bug fault-wrong-side: while a fault is on, an ingress op
	 * fails although the active leg is the faulted one.
	 */
	if (opt.bug == BUG_FAULT_WRONG_SIDE && d == DEV_INGRESS && !err &&
	    __atomic_load_n(&sim.fault, __ATOMIC_ACQUIRE))
		err = EIO;
	/*
	 * A real device takes time: let the other threads in between ops.
	 * With --failover, ops take a little real time, so that ops race the
	 * failover message and the commit instead of all running before it.
	 */
	if (opt.failover || opt.mirror)
		nanosleep(&(struct timespec){ 0, 20000 }, NULL);
	else
		sched_yield();
	return err;
}
