// SPDX-License-Identifier: GPL-2.0
/*
 * colo-fsx: an fsx-style randomized model checker for a dm-colo secondary.
 *
 * Several "VM" threads drive the colo device, several "ingress" threads drive
 * the colo-ingress device, all with O_DIRECT I/O, truly concurrently and on
 * the same chunks.  An in-memory reference model predicts every read; at the
 * end the raw base, hidden and active legs are compared with the model.
 *
 * The model (per chunk c, see SPEC.md "Reads and writes in secondary mode"):
 *
 *   view[]       what the VM reads.  Changed by VM writes only.
 *   base[]       what the ingress reads, and the raw base leg.  Changed by
 *                ingress writes only.
 *   base_ckpt[]  base at the last checkpoint: the raw hidden leg holds this
 *                for every chunk saved by copy-before-write.
 *   vm_wrote[c]  a VM write touched c since the last checkpoint, so active[c]
 *                is set and the raw active chunk equals view's chunk (the
 *                kernel fills the rest of a partially written chunk).
 *   in_wrote[c]  an ingress write touched c since the last checkpoint.  If no
 *                VM write came first, hidden[c] is set: so the hidden count
 *                lies between #(in_wrote && !vm_wrote) and #in_wrote.
 *   checkpoint   view = base_ckpt = base, all flags cleared.
 *
 * Why the model stays exact under real concurrency: VM threads own view[] and
 * vm_wrote[], ingress threads own base[] and in_wrote[], and the kernel
 * promises that the VM's view never changes because of an ingress write, so
 * the two sides never need to agree on an order.  Within one side, an op
 * reserves its sector range, so no two ops of one side overlap (but they may
 * share a chunk, which is what races the partial fill and the first
 * copy-before-write).  A checkpoint closes a gate and waits until no op is in
 * flight.
 *
 * --failover sends "failover" at a random op (or --failover-at N) while the
 * other threads keep their I/O in flight (no gate).  The control thread
 * publishes a phase: before, running (message sent, not returned) and done
 * (returned).  Each op notes the phase when it starts and when it ends:
 *
 *   VM write that ended before the message was sent: certainly active at the
 *   switch (vm_pre[]).  Ingress write that succeeded: applied before the
 *   switch (in_wrote[]).  VM writes in flight around the message, and ingress
 *   writes that failed with EIO in that window (a multi-chunk bio is split at
 *   chunk borders, so some pieces may have reached base): maybe (fo_race[]).
 *   So #(vm_pre|in_wrote) <= to_commit <= #(vm_pre|in_wrote|fo_race).
 *
 * Ingress ops that start after the message returned, or after another
 * ingress op failed with EIO (the fence is permanent), must fail with EIO;
 * the base model is not updated by failed writes, and only a successful
 * ingress read (which then began before the fence) is compared with it.
 * The view never changes, so VM reads are checked as always.  After the
 * commit: raw base == view, status primary/done/committed == to_commit,
 * A = H = 0, and dirty covers vm_pre|in_wrote plus every chunk a VM write
 * that ended after the message was sent touched (fo_vmw[]).
 *
 * --selftest replaces the kernel by an in-memory simulation of the same rules
 * (one mutex per chunk), so the checker itself can be tested on a host;
 * --selftest-bug cow|fill|nofence|commit-hidden-first breaks the simulation
 * on purpose.
 *
 * --mirror checks a "colo primary" device mirrored to a replica (SPEC.md
 * "Messages", "Dirty bitmap", "Status"; dm-colo-mirror.c).  There is no
 * ingress and no checkpoint: the VM's view is base, and view[] models both.
 * A control thread runs seeded events at op counts printed at the start:
 * "mirror start <replica> full|dirty [<KiB/s>]", "mirror stop", messages
 * that must be refused (a start while copying or in sync, a stop with no
 * mirror) and, with --replica-dm, replica failures: the replica's dm table
 * is swapped to "error", VM writes go on (and must all succeed; the control
 * thread writes too, so a replica write surely happens), the status must
 * turn "degraded", the table is swapped back and "mirror start <replica>
 * dirty" resumes.  Workers do not run more than MIRROR_EVENT_SLACK ops past
 * an event point before the event is done.
 *
 * Dirty coverage (the status's last field, complete|unknown): a "dirty"
 * start is only valid while the dirty bitmap covers every chunk that may
 * differ from the replica; while it may not ("unknown") the kernel refuses
 * it (EINVAL) and changes nothing, a degraded mirror stays degraded.  The
 * checker keeps its own model of it, mir_cov:
 *
 *   unknown   at the start (a fresh table knows nothing of the replica);
 *   complete  once a mirror is seen in sync outside a replica failure (its
 *             full pass, the first pass of a "full" start, has ended);
 *   maybe     while a mirror started "full" runs and was not yet seen in
 *             sync (its pass may end any time), and after a stop or a
 *             replica failure that may have cut such a pass short (or, in
 *             a replica failure while copying, failed the replica flush
 *             at in-sync).  Once no mirror runs the status is stable: a
 *             stop, or the start after a failure, reads it and the model
 *             takes it (the kernel may rightly say either: a pass that
 *             ended just before the stop leaves it complete).  A "complete"
 *             taken so is then tested by the data: a dirty start's sync is
 *             compared raw with the model once in sync.
 *
 * A mirror that was in sync when a replica failure began, with coverage
 * complete, degrades with it complete (no full pass, no flush runs).  The
 * status must show complete whenever the mirror is seen in sync (outside a
 * replica failure, where in-sync and a failing flush may share one status
 * line) and whatever the model is sure of (unknown at the start).  Each
 * start throws the dice for full or dirty: a dirty start while the model
 * says unknown must be refused (then the start is "full"), while it says
 * complete it must be accepted.
 *
 * At the end a mirror is (re)started if none runs, and once it is in sync:
 * raw base == raw replica == view, dirty 0, health ok, coverage complete;
 * then 200 VM writes in sync must reach the replica with no copy (mirrored
 * count unchanged, dirty still 0), and "mirror stop" must leave the mirror
 * "none", coverage complete.
 * The selftest simulates the mirror (a copy thread, replica failures always
 * on, a replica flush that fails at in-sync while the replica fails);
 * --selftest-bug mirror-noclear-order|mirror-nodual|mirror-dirty-guess
 * breaks it (the last: a dirty start while the coverage is unknown is
 * silently made full, as the kernel did before, instead of refused).
 *
 * --fault LEG (base|hidden|active) injects leg faults in secondary mode
 * (README "Faults"): LEG is a dm device (--fault-dm NAME, a linear table
 * over the raw leg given by --base/--hidden/--active, which is read raw for
 * the checks) whose table a control thread swaps, under running I/O, at
 * seeded op counts, to a fault and back: "error" (every I/O fails),
 * "flakey-w" (dm-flakey error_writes: every write fails, reads work),
 * "flakey" (dm-flakey up 1 s / down 1 s: all I/O fails while down),
 * "delay" (dm-delay, nothing may fail) or, only when named in
 * --fault-kinds, "failreq" (the table stays linear and the leg's
 * make-it-fail turns on: fail_make_request, set up by the caller with
 * probability 100, fails every bio sent to it, as "error" does; kernels
 * with CONFIG_FAIL_MAKE_REQUEST).  The model then accepts EIO only
 * for an op that may touch the faulted leg while the fault is on:
 *
 *   VM read       active if vm_wrote[c]==1, else hidden or base
 *   VM write      active; a chunk not surely active and not covered: also
 *                 reads hidden or base (the fill)
 *   ingress read  base
 *   ingress write base; a chunk with in_wrote[c]!=1: also reads base and
 *                 writes hidden (the copy-before-write)
 *
 * (every other EIO is a failure: it reached the wrong side).  A failed
 * write leaves each sector of its range either as it was or as written: the
 * sector becomes "unresolved" with the failed writes as candidates (the
 * data pattern names the op), the next read of it must return one of the
 * candidates and pins it.  Its chunk's vm_wrote/in_wrote becomes 2, "maybe"
 * (A or H may or may not be set), which the status bounds allow for.  The
 * VM's view stays exact under failed ingress writes.  Before the fault is
 * lifted, with no op in flight, probes show the error on the right side:
 * ops that must fail (base: an ingress read, a VM read of a clean chunk, an
 * ingress write; hidden: an ingress write to a clean chunk, after which base
 * must be exactly as before, a VM read of a hidden chunk; active: a VM
 * write of a clean chunk, after which the view must be exactly as before,
 * a VM read of an active chunk) and ops that must succeed (those that do
 * not touch the leg).  After the swap back every unresolved sector is read
 * and pinned, a VM and an ingress write and read must work again, and the
 * status must show health "error" once any I/O failed (sticky; before the
 * first fault "ok"), the first error with a dm event (dmsetup wait).
 * Checkpoints are not taken while a fault is on.
 *
 * Exit status: 0 PASS, 1 FAIL (mismatch, I/O error, bad status), 2 usage or
 * setup error.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <pthread.h>
#include <sched.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define SECTOR_SIZE	((uint64_t)512)
#define RING_SIZE	64
#define HOT_CHUNKS	4
#define MAX_THREADS	32	/* per side */
#define BIG_IO_SECTORS	2048	/* whole-device reads: 1 MiB at a time */

enum dev_id { DEV_VM, DEV_INGRESS, DEV_BASE, DEV_HIDDEN, DEV_ACTIVE,
	      DEV_REPLICA, NR_DEVS };
static const char *const dev_opt[NR_DEVS] = {
	"vm", "ingress", "base", "hidden", "active", "replica"
};

enum op_kind { OP_VM_READ, OP_VM_WRITE, OP_IN_READ, OP_IN_WRITE, OP_CKPT,
	       OP_FO_SEND, OP_FO_DONE, OP_MIRROR };
static const char *const op_name[] = {
	"vm-read", "vm-write", "ingress-read", "ingress-write", "checkpoint",
	"failover-sent", "failover-returned", "mirror"
};

enum sim_bug { BUG_NONE, BUG_COW, BUG_FILL, BUG_NOFENCE, BUG_COMMIT_HIDDEN,
	       BUG_MIRROR_NOCLEAR, BUG_MIRROR_NODUAL, BUG_FAULT_COW,
	       BUG_FAULT_FILL, BUG_FAULT_WRONG_SIDE, BUG_MIRROR_DIRTY_GUESS, NR_BUGS };
static const char *const bug_name[] = {
	"none", "cow", "fill", "nofence", "commit-hidden-first",
	"mirror-noclear-order", "mirror-nodual", "fault-cow", "fault-fill",
	"fault-wrong-side", "mirror-dirty-guess"
};

/* Failover phases (--failover), see the top of the file. */
enum { FO_BEFORE, FO_RUNNING, FO_DONE };
#define POST_FENCE_OPS	32	/* ingress ops per thread after the fence */
#define COMMIT_POLL_MS	50
#define COMMIT_TIMEOUT_S 120

/* --mirror, see the top of the file. */
enum { MIR_NONE, MIR_COPYING, MIR_INSYNC, MIR_DEGRADED, NR_MIR_STATES };
static const char *const mir_state_name[] = {
	"none", "copying", "in-sync", "degraded"
};
#define MIR_RUNNING		(1U << MIR_COPYING | 1U << MIR_INSYNC)
/* The status's dirty_coverage, and the checker's model of it (maybe: either). */
enum { COV_UNKNOWN, COV_COMPLETE, COV_MAYBE };
static const char *const cov_name[] = { "unknown", "complete", "unknown or complete" };
#define MIRROR_MAX_EVENTS	8
#define MIRROR_EVENT_SLACK	128	/* ops past an event point before it is done */
#define MIRROR_EPISODE_WRITES	8	/* control-thread VM writes per replica failure */
#define MIRROR_DEGRADED_S	10
#define MIRROR_SYNC_TIMEOUT_S	120
#define MIRROR_BURST_OPS	200

/* --fault, see the top of the file. */
enum { FK_ERROR, FK_FLAKEY_W, FK_FLAKEY, FK_DELAY, FK_FAILREQ, NR_FK };
static const char *const fk_name[] = { "error", "flakey-w", "flakey", "delay", "failreq" };
static const bool fk_reads[] = { true, false, true, false, true };	/* reads may fail */
static const bool fk_writes[] = { true, true, true, false, true };	/* writes may fail */
static const bool fk_certain[] = { true, true, false, false, true };	/* ... and surely do */
static const unsigned int fk_min_ms[] = { 0, 0, 2500, 0, 0 };	/* flakey: up 1 s, down 1 s */
/* failreq needs CONFIG_FAIL_MAKE_REQUEST: only named in --fault-kinds */
#define FK_DEFAULT_KINDS	(((1U << NR_FK) - 1) & ~(1U << FK_FAILREQ))
static const char *const leg_opt[] = { "base", "hidden", "active" };
#define FAULT_MAX_EPISODES	16
#define FAULT_START_SLACK	32	/* ops past an episode's start (probes) before they run */
#define FAULT_END_SLACK		256	/* ... past its end before it ends */
#define FAULT_PROBE_AFTER	4	/* the probes run this many ops into the fault */
#define FAULT_PROBE_CHUNKS	64	/* with fewer chunks, a probe may find none clean */
#define FAULT_PREP_ACTIVE	2	/* chunks the control VM-writes before a fault */
#define FAULT_PREP_HIDDEN	4	/* ... and ingress-writes */
#define FAULT_DELAY_MS		20	/* dm-delay's delay */

static struct {
	const char *name;
	const char *dev[NR_DEVS];
	uint64_t chunk;
	uint64_t ops;
	uint64_t seed;
	bool seed_given;
	int vm_threads;
	int in_threads;
	uint64_t ckpt_every;
	uint64_t max_sectors;
	unsigned int hot;
	bool verbose;
	bool selftest;
	uint64_t selftest_sectors;
	enum sim_bug bug;
	bool failover;
	bool retry_enomem;		/* --retry-enomem, see dev_message() */
	bool make_it_fail;		/* --make-it-fail, see worker_fn() */
	bool failover_at_given;
	uint64_t failover_at;
	bool in_threads_given;
	bool mirror;
	const char *replica_dm;		/* dm linear device that is the replica */
	const char *replica_lower;	/* its lower device */
	int mir_nevents;
	uint64_t mir_event_at[MIRROR_MAX_EVENTS];
	unsigned int mir_rate;		/* KiB/s used by rate-limited starts */
	int fault_leg;			/* --fault: LEG_*, or -1 */
	const char *fault_dm;		/* the leg's dm device */
	int fault_eps;			/* episodes */
	unsigned int fault_kinds;	/* mask of FK_* to use */
	uint64_t fault_start[FAULT_MAX_EPISODES], fault_probe[FAULT_MAX_EPISODES];
	uint64_t fault_end[FAULT_MAX_EPISODES];
	int fault_kind[FAULT_MAX_EPISODES];
} opt = {
	.ops = 10000, .vm_threads = 2, .in_threads = 2, .ckpt_every = 500,
	.hot = 30, .selftest_sectors = 4 * 2048, .fault_leg = -1,
	.fault_eps = 4, .fault_kinds = FK_DEFAULT_KINDS,
};

static char *replay_cmd;
static bool setup_phase = true;	/* dmsetup trouble now is a setup error */

/* Geometry, in sectors; the last chunk may be short. */
static uint64_t len_sectors, nr_chunks;
static uint64_t hot_chunk[HOT_CHUNKS];

static inline uint64_t chunk_of(uint64_t sector)
{
	return sector / opt.chunk;
}

static inline uint64_t chunk_start(uint64_t c)
{
	return c * opt.chunk;
}

static inline uint64_t chunk_len(uint64_t c)
{
	uint64_t s = chunk_start(c);

	return s + opt.chunk <= len_sectors ? opt.chunk : len_sectors - s;
}

static inline size_t bytes(uint64_t sectors)
{
	return (size_t)(sectors * SECTOR_SIZE);
}

/* The reference model (see the top of the file). */
static uint8_t *view, *base, *base_ckpt;
static uint8_t *vm_wrote, *in_wrote;
static uint64_t nr_checkpoints;
/* --failover: see the top of the file. */
static uint8_t *vm_pre, *fo_race, *fo_vmw;
static int fo_phase = FO_BEFORE;	/* atomic */
static int fence_seen;			/* atomic: an ingress op failed with EIO */
/* --mirror: what the checker did (control thread, then main). */
static bool mir_running;	/* a start succeeded and no stop/failure since */
static int mir_cov = COV_UNKNOWN;	/* the dirty coverage (see the top of the file) */
static bool mir_full_unseen;	/* a full start ran and was not seen in sync since */
static int mir_in_episode;	/* atomic: a replica failure is being injected */
static int mir_replica_broken;	/* atomic: the replica's table is "error" */
static int mir_ev_next;		/* under gate_lock: the next event to run */
static uint64_t mir_replica_sectors;
static unsigned int mir_starts, mir_stops, mir_failures, mir_refused;
static unsigned int mir_dirty_starts, mir_dirty_refused;	/* dirty starts accepted, refused */
static const char *mir_cov_why = "a fresh table: no failover, no full sync ended since";	/* why mir_cov is what it is */
static unsigned int mir_insync_checks;	/* replica compares in sync, workers held */
static bool mir_session_checked;	/* since the last start */
static bool mir_session_full;	/* the last start was full */
static uint64_t ctl_next_id;	/* atomic: ids of the control thread's VM writes */
/*
 * --fault: the state is 2 * episode + 1 while episode's fault is on, even
 * otherwise (it goes on with ops in flight, off only with none).  A failed
 * write leaves unresolved sectors: per side (0 view, 1 base), per sector
 * the failed writes (op << 6 | tid) whose data it may hold besides the
 * model's.  health: an error-making fault was on (may) / an I/O failed
 * (must).
 */
struct unres {
	uint32_t n, cap;
	uint64_t *who;
};
static unsigned int fault_state;	/* atomic */
static struct unres *unres[2];
static uint64_t unres_n[2];		/* atomic: unresolved sectors per side */
static uint64_t pinned_old[2], pinned_new[2];	/* atomic: how they resolved */
static int health_may_err, health_must_err;	/* atomic */
static uint64_t flt_eio[2], flt_ep_eio[2];	/* atomic: EIOs per side (all, episode) */
static uint64_t flt_probe_fail, flt_probe_ok;	/* probes that failed / succeeded as they must */
static int flt_ev_next;		/* under gate_lock: the next fault event (3 per episode) */
static int flt_ctl_tid;
static uint64_t flt_leg_sectors;
static bool flt_event_checked;

/* ------------------------------------------------------------------ */
/* Random numbers and the data pattern                                 */

static uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t rnd(uint64_t *state, uint64_t n)
{
	return n ? splitmix64(state) % n : 0;
}

/*
 * Every 8-byte word written is an invertible mix (keyed by the seed) of
 *   op id (28 bits) | thread (6) | sector, low 24 bits (24) | word in sector (6)
 * so a word read back tells who wrote it and for which place.  Distinct words
 * of one block differ, so no written block is all zero.
 */
#define PAT_M1 0xff51afd7ed558ccdULL
#define PAT_M2 0xc4ceb9fe1a85ec53ULL
static uint64_t pat_k1, pat_k2, pat_m1_inv, pat_m2_inv;

/* Thread ids 60..63 with op 0 mark the selftest's initial leg contents. */
#define TID_INIT_REPLICA 60
#define TID_INIT_ACTIVE	61
#define TID_INIT_HIDDEN	62
#define TID_INIT_BASE	63

static uint64_t inv64(uint64_t a)
{
	uint64_t x = a;		/* correct to 3 bits for odd a */
	int i;

	for (i = 0; i < 6; i++)
		x *= 2 - a * x;
	return x;
}

static void pat_init(uint64_t seed)
{
	uint64_t s = seed ^ 0x636f6c6f2d667378ULL;	/* "colo-fsx" */

	pat_k1 = splitmix64(&s);
	pat_k2 = splitmix64(&s);
	pat_m1_inv = inv64(PAT_M1);
	pat_m2_inv = inv64(PAT_M2);
}

static uint64_t pat_encode(uint64_t raw)
{
	uint64_t x = raw ^ pat_k1;

	x *= PAT_M1;
	x ^= x >> 32;
	x *= PAT_M2;
	return x ^ pat_k2;
}

static uint64_t pat_decode(uint64_t w)
{
	uint64_t x = w ^ pat_k2;

	x *= pat_m2_inv;
	x ^= x >> 32;
	x *= pat_m1_inv;
	return x ^ pat_k1;
}

static void pat_fill(void *buf, uint64_t op, unsigned int tid,
		     uint64_t start, uint64_t nsect)
{
	uint64_t *w = buf, s, i;

	for (s = 0; s < nsect; s++)
		for (i = 0; i < SECTOR_SIZE / 8; i++)
			*w++ = pat_encode((op & 0xfffffffULL) << 36 |
					  (uint64_t)(tid & 63) << 30 |
					  ((start + s) & 0xffffffULL) << 6 | i);
}

static void thread_label(char *out, size_t n, unsigned int tid)
{
	if ((int)tid < opt.vm_threads)
		snprintf(out, n, "vm%u", tid);
	else if ((int)tid < opt.vm_threads + opt.in_threads)
		snprintf(out, n, "ingress%d", (int)tid - opt.vm_threads);
	else if ((int)tid == opt.vm_threads + opt.in_threads)
		snprintf(out, n, "control");
	else
		snprintf(out, n, "?%u", tid);
}

/* Describe who wrote the word w found at byte offset off of the device. */
static void pat_describe(char *out, size_t n, uint64_t w, uint64_t off)
{
	uint64_t raw = pat_decode(w);
	uint64_t op = raw >> 36, sec = (raw >> 6) & 0xffffff;
	unsigned int tid = (raw >> 30) & 63, word = raw & 63;
	uint64_t here = off / SECTOR_SIZE;
	char who[32];

	if (word != (off % SECTOR_SIZE) / 8) {
		snprintf(out, n, "no colo-fsx pattern (initial content or garbage)");
		return;
	}
	if (op == 0 && tid >= TID_INIT_REPLICA) {
		snprintf(out, n, "selftest initial %s content%s",
			 tid == TID_INIT_BASE ? "base" :
			 tid == TID_INIT_HIDDEN ? "hidden" :
			 tid == TID_INIT_ACTIVE ? "active" : "replica",
			 sec == (here & 0xffffff) ? "" : " (misplaced)");
		return;
	}
	thread_label(who, sizeof(who), tid);
	if (sec == (here & 0xffffff))
		snprintf(out, n, "op %" PRIu64 " thread %s", op, who);
	else
		snprintf(out, n, "op %" PRIu64 " thread %s, MISPLACED: written for sector %" PRIu64,
			 op, who, (here & ~(uint64_t)0xffffff) | sec);
}

/* ------------------------------------------------------------------ */
/* Recent-op ring and failure reporting                                */

struct ring_ent {
	uint64_t id;
	int tid;
	enum op_kind kind;
	uint64_t start, nsect;
	const char *what;	/* OP_MIRROR: a static string */
};

static struct ring_ent ring[RING_SIZE];
static uint64_t ring_n;
static pthread_mutex_t ring_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t report_lock = PTHREAD_MUTEX_INITIALIZER;
static volatile int stop;

static void ring_format(char *out, size_t n, const struct ring_ent *e)
{
	char who[32];

	thread_label(who, sizeof(who), e->tid);
	if (e->kind == OP_CKPT)
		snprintf(out, n, "%-9s checkpoint after op %" PRIu64, who, e->id);
	else if (e->kind == OP_FO_SEND)
		snprintf(out, n, "%-9s failover message sent (failover_at=%" PRIu64 ")",
			 who, e->id);
	else if (e->kind == OP_FO_DONE)
		snprintf(out, n, "%-9s failover message returned; %" PRIu64 " ops issued so far",
			 who, e->id);
	else if (e->kind == OP_MIRROR)
		snprintf(out, n, "%-9s %s (%" PRIu64 " ops issued)", who, e->what, e->id);
	else
		snprintf(out, n, "op %-7" PRIu64 " %-9s %-13s sector %-9" PRIu64 " +%-5" PRIu64 " chunks %" PRIu64 "..%" PRIu64,
			 e->id, who, op_name[e->kind], e->start, e->nsect,
			 chunk_of(e->start), chunk_of(e->start + e->nsect - 1));
}

static void ring_push(const struct ring_ent *e)
{
	char line[160];

	pthread_mutex_lock(&ring_lock);
	ring[ring_n % RING_SIZE] = *e;
	ring_n++;
	if (opt.verbose && !__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		ring_format(line, sizeof(line), e);
		printf("# %s\n", line);
	}
	pthread_mutex_unlock(&ring_lock);
}

static void ring_log(uint64_t id, int tid, enum op_kind kind,
		     uint64_t start, uint64_t nsect)
{
	struct ring_ent e = { id, tid, kind, start, nsect, NULL };

	ring_push(&e);
}

/* A mirror event in the ring: what is a static string. */
static void ring_log_mirror(const char *what, uint64_t ops_now)
{
	struct ring_ent e = { ops_now, opt.vm_threads + opt.in_threads,
			      OP_MIRROR, 0, 0, what };

	ring_push(&e);
}

static void ring_dump(void)
{
	char line[160];
	uint64_t i;

	pthread_mutex_lock(&ring_lock);
	i = ring_n > RING_SIZE ? ring_n - RING_SIZE : 0;
	printf("# last %" PRIu64 " ops (oldest first; started, not necessarily finished):\n",
	       ring_n - i);
	for (; i < ring_n; i++) {
		ring_format(line, sizeof(line), &ring[i % RING_SIZE]);
		printf("#   %s\n", line);
	}
	pthread_mutex_unlock(&ring_lock);
}

static void mirror_fail_cleanup(void);
static void fault_fail_cleanup(void);

/* Report the first failure, stop everything, exit 1.  Later ones block. */
static void __attribute__((noreturn)) fail_finish(void)
{
	ring_dump();
	mirror_fail_cleanup();
	fault_fail_cleanup();
	printf("colo-fsx: FAIL seed=%" PRIu64 " (replay: %s)\n", opt.seed, replay_cmd);
	fflush(stdout);
	fflush(stderr);
	_exit(1);
}

static void __attribute__((noreturn, format(printf, 1, 2))) fail(const char *fmt, ...)
{
	va_list ap;

	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	pthread_mutex_lock(&report_lock);
	printf("# FAILURE: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fail_finish();
}

static void __attribute__((noreturn, format(printf, 1, 2))) die_setup(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "colo-fsx: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(2);
}

static const char *dev_path(enum dev_id d)
{
	static const char *const sim[NR_DEVS] = {
		"sim:vm", "sim:ingress", "sim:base", "sim:hidden", "sim:active",
		"sim:replica"
	};

	return opt.selftest ? sim[d] : opt.dev[d];
}

static void hex16(const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		printf("%s%02x", i && !(i % 8) ? "  " : " ", p[i]);
	printf("\n");
}

/*
 * Compare len bytes read from device d at byte offset off (sector aligned)
 * with what the model expects; on a difference report it in detail.
 */
static void check_buf(const char *what, enum dev_id d, uint64_t off,
		      const uint8_t *exp, const uint8_t *act, size_t len)
{
	size_t i, last, win, wlen, wo, ndiff = 0;
	uint64_t e, a, sector, c;
	char de[160], da[160];

	if (!memcmp(exp, act, len))
		return;

	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	pthread_mutex_lock(&report_lock);
	for (i = 0; exp[i] == act[i]; i++)
		;
	for (last = len - 1; exp[last] == act[last]; last--)
		;
	for (wo = i; wo <= last; wo++)
		ndiff += exp[wo] != act[wo];
	sector = (off + i) / SECTOR_SIZE;
	c = chunk_of(sector);
	printf("# FAILURE: data mismatch in %s\n", what);
	printf("#   device %s, compared bytes %" PRIu64 "..%" PRIu64 " (sectors %" PRIu64 "+%zu)\n",
	       dev_path(d), off, off + len - 1, off / SECTOR_SIZE,
	       len / (size_t)SECTOR_SIZE);
	printf("#   first difference at byte %" PRIu64 " (sector %" PRIu64 " +%" PRIu64 ", chunk %" PRIu64 " +%" PRIu64 " sectors); %zu bytes differ up to byte %" PRIu64 "\n",
	       off + i, sector, (off + i) % SECTOR_SIZE, c,
	       sector - chunk_start(c), ndiff, off + last);
	if (opt.mirror)
		printf("#   model: view only (mirror mode); mirror %s, starts=%u (dirty %u, dirty refused %u) stops=%u failures=%u, dirty coverage %s\n",
		       mir_running ? "running" : "not running", mir_starts,
		       mir_dirty_starts, mir_dirty_refused, mir_stops, mir_failures,
		       cov_name[mir_cov]);
	else
		printf("#   model: vm_wrote[%" PRIu64 "]=%d in_wrote[%" PRIu64 "]=%d checkpoints=%" PRIu64 "\n",
		       c, vm_wrote[c], c, in_wrote[c], nr_checkpoints);
	if (opt.failover)
		printf("#   failover: phase=%s vm_pre[%" PRIu64 "]=%d fo_race[%" PRIu64 "]=%d fo_vmw[%" PRIu64 "]=%d\n",
		       (const char *[]){ "before", "message-running", "returned" }
			       [__atomic_load_n(&fo_phase, __ATOMIC_ACQUIRE)],
		       c, vm_pre[c], c, fo_race[c], c, fo_vmw[c]);
	win = i & ~(size_t)15;
	wlen = len - win < 16 ? len - win : 16;
	printf("#   expected @%" PRIu64 ":", off + win);
	hex16(exp + win, wlen);
	printf("#   actual   @%" PRIu64 ":", off + win);
	hex16(act + win, wlen);
	wo = i & ~(size_t)7;
	memcpy(&e, exp + wo, 8);
	memcpy(&a, act + wo, 8);
	pat_describe(de, sizeof(de), e, off + wo);
	pat_describe(da, sizeof(da), a, off + wo);
	printf("#   expected data written by: %s\n", de);
	printf("#   actual data written by:   %s\n", da);
	fail_finish();
}

/* ------------------------------------------------------------------ */
/* Simulated kernel for --selftest                                     */

enum { LEG_BASE, LEG_HIDDEN, LEG_ACTIVE, NR_LEGS };
enum { COMMIT_NONE, COMMIT_RUNNING, COMMIT_FAILED, COMMIT_DONE };
static const char *const commit_state_name[] = {
	"none", "running", "failed", "done"
};

static struct {
	uint8_t *leg[NR_LEGS];
	uint8_t *abit, *hbit;		/* active[c], hidden[c] */
	uint8_t *dirty;			/* dirty[c] (primary mode) */
	pthread_mutex_t *lock;		/* one per chunk */
	/*
	 * Failover: every piece of VM or ingress I/O read-holds 'hold'; the
	 * failover message write-holds it (new I/O held, in-flight drained),
	 * so no piece sees the switch half done.  primary and fenced change
	 * only under the write hold; the commit fields are atomics.
	 */
	pthread_rwlock_t hold;
	bool primary, fenced;
	int commit_state;
	uint64_t to_commit, committed;
	pthread_t commit_thread;
	bool commit_started;
	/*
	 * --mirror (see dm-colo-mirror.c): the replica, and a copy thread.
	 * VM writes decide under their chunk lock (and the read hold); a copy
	 * holds its chunk's lock over the whole copy; mstate changes under
	 * mlock; the other fields are atomics.  Stop write-holds 'hold' to
	 * drain mirrored writes, then joins the copier.  needs_full: the
	 * dirty bitmap may miss chunks that differ from a replica (status
	 * dirty_coverage "unknown"; a dirty start is refused).
	 */
	uint8_t *replica;
	pthread_mutex_t mlock;
	int mstate;
	bool full_pass, needs_full;
	uint64_t cursor, mirrored, ncopies;
	unsigned int rate;
	bool replica_failing;
	pthread_t copier;
	bool copier_started;
	/*
	 * --fault: opt.fault_leg fails (bit 0) reads, (bit 1) writes, (bit 2)
	 * only every other run of 8 leg accesses (flakey); error is the
	 * health flag, events counts dm events.  Atomics.
	 */
	int fault;
	uint64_t fault_acc;
	int error;
	uint64_t events;
} sim;

static void sim_init(void)
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
static int sim_failover(void)
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

static uint64_t now_ns(void);

static inline bool sim_dirty(uint64_t c)
{
	return __atomic_load_n(&sim.dirty[c], __ATOMIC_RELAXED);
}

static inline void sim_set_dirty(uint64_t c, bool v)
{
	__atomic_store_n(&sim.dirty[c], v, __ATOMIC_RELAXED);
}

static inline int sim_mstate(void)
{
	return __atomic_load_n(&sim.mstate, __ATOMIC_ACQUIRE);
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
static int sim_mirror_message(const char *msg, char *out, size_t outsz)
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
static int sim_io(enum dev_id d, uint8_t *buf, uint64_t start, uint64_t nsect,
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

/* ------------------------------------------------------------------ */
/* Device layer: real block devices or the simulation                  */

static int dev_fd[NR_DEVS] = { -1, -1, -1, -1, -1, -1 };

static uint64_t dev_size(int fd, const char *path)
{
	uint64_t size;
	struct stat st;

	if (fstat(fd, &st))
		die_setup("stat %s: %s", path, strerror(errno));
	if (!S_ISBLK(st.st_mode))
		die_setup("%s is not a block device", path);
	if (ioctl(fd, BLKGETSIZE64, &size))
		die_setup("BLKGETSIZE64 %s: %s", path, strerror(errno));
	return size;
}

/* The devices a mode uses: all but the replica, or (--mirror) vm, base, replica. */
static bool dev_used(int d)
{
	if (opt.mirror)
		return d == DEV_VM || d == DEV_BASE || d == DEV_REPLICA;
	return d != DEV_REPLICA;
}

static void dev_open_all(void)
{
	uint64_t size;
	int d;

	for (d = 0; d < NR_DEVS; d++) {
		int flags = (d == DEV_VM || d == DEV_INGRESS ? O_RDWR : O_RDONLY);

		if (!dev_used(d))
			continue;

		dev_fd[d] = open(opt.dev[d], flags | O_DIRECT | O_CLOEXEC);
		if (dev_fd[d] < 0)
			die_setup("cannot open --%s %s: %s", dev_opt[d],
				  opt.dev[d], strerror(errno));
		size = dev_size(dev_fd[d], opt.dev[d]);
		if (d == DEV_VM) {
			if (size < SECTOR_SIZE || size % SECTOR_SIZE)
				die_setup("%s: bad size %" PRIu64, opt.dev[d], size);
			len_sectors = size / SECTOR_SIZE;
		} else if (d == DEV_REPLICA && (size < bytes(len_sectors) || size % SECTOR_SIZE)) {
			die_setup("--replica %s: %" PRIu64 " bytes, smaller than the VM device (%" PRIu64 ") or not whole sectors",
				  opt.dev[d], size, (uint64_t)bytes(len_sectors));
		} else if (size < bytes(len_sectors)) {
			die_setup("--%s %s: %" PRIu64 " bytes, smaller than the VM device (%" PRIu64 ")",
				  dev_opt[d], opt.dev[d], size, (uint64_t)bytes(len_sectors));
		}
		if (d == DEV_REPLICA)
			mir_replica_sectors = size / SECTOR_SIZE;
	}
}

static uint64_t io_enomem;	/* atomic: --make-it-fail I/Os sent again */

/*
 * One I/O: 0, or the errno of a failed one.  A short one is a failure.
 * --make-it-fail: the block layer's direct I/O refuses an I/O with ENOMEM
 * when it cannot allocate its bio_vec array, before any bio is sent; the
 * I/O is sent again.  (dm-colo itself never returns ENOMEM to a bio.)
 */
static int dev_io_try(enum dev_id d, void *buf, uint64_t start, uint64_t nsect,
		      bool write, uint64_t op)
{
	struct timespec ms = { 0, 1000000 };
	ssize_t ret;

	if (opt.selftest)
		return sim_io(d, buf, start, nsect, write);
	for (;;) {
		if (write)
			ret = pwrite(dev_fd[d], buf, bytes(nsect), (off_t)bytes(start));
		else
			ret = pread(dev_fd[d], buf, bytes(nsect), (off_t)bytes(start));
		if (ret >= 0 || errno != ENOMEM || !opt.make_it_fail)
			break;
		__atomic_add_fetch(&io_enomem, 1, __ATOMIC_RELAXED);
		nanosleep(&ms, NULL);
	}
	if (ret == (ssize_t)bytes(nsect))
		return 0;
	if (ret < 0)
		return errno ? errno : EIO;
	fail("op %" PRIu64 ": short %s %s sector %" PRIu64 " +%" PRIu64 ": %zd of %zu bytes",
	     op, write ? "pwrite" : "pread", dev_path(d), start, nsect,
	     ret, bytes(nsect));
}

static void dev_io(enum dev_id d, void *buf, uint64_t start, uint64_t nsect,
		   bool write, uint64_t op)
{
	int err = dev_io_try(d, buf, start, nsect, write, op);

	if (err)
		fail("op %" PRIu64 ": %s %s sector %" PRIu64 " +%" PRIu64 ": %s",
		     op, write ? "pwrite" : "pread", dev_path(d), start, nsect,
		     strerror(err));
}

/* Run argv[0] (dmsetup) with args; its output (stdout and stderr) goes to out. */
/*
 * --make-it-fail: is this thread marked (see set_make_it_fail())?  Its
 * make-it-fail file stays open: opening it once marked could fail.
 */
static __thread bool thread_marked;
static __thread int thread_mif_fd = -1;

static void write_make_it_fail(const char *v)
{
	if (thread_mif_fd < 0)
		thread_mif_fd = open("/proc/thread-self/make-it-fail", O_WRONLY);
	if (thread_mif_fd < 0 || pwrite(thread_mif_fd, v, 1, 0) != 1)
		die_setup("/proc/thread-self/make-it-fail: %s (a kernel without CONFIG_FAULT_INJECTION?)",
			  strerror(errno));
}

static int run_dmsetup_unmarked(char *const argv[], char *out, size_t outsz);

/*
 * Run dmsetup; its output in out.  A marked thread runs it unmarked: the
 * allocation failures are for the I/O path, not for starting a process.
 */
static int run_dmsetup(char *const argv[], char *out, size_t outsz)
{
	int r;

	if (!thread_marked)
		return run_dmsetup_unmarked(argv, out, outsz);
	write_make_it_fail("0");
	r = run_dmsetup_unmarked(argv, out, outsz);
	write_make_it_fail("1");
	return r;
}

static int run_dmsetup_unmarked(char *const argv[], char *out, size_t outsz)
{
	posix_spawn_file_actions_t fa;
	int pfd[2], status, err;
	size_t got = 0;
	ssize_t n;
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC))
		return -1;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], 2);
	err = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(pfd[1]);
	if (err) {
		close(pfd[0]);
		snprintf(out, outsz, "cannot run %s: %s", argv[0], strerror(err));
		return -1;
	}
	while ((n = read(pfd[0], out + got, outsz - 1 - got)) > 0 ||
	       (n < 0 && errno == EINTR))
		if (n > 0)
			got += n;
	out[got] = 0;
	close(pfd[0]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/*
 * dmsetup message NAME 0 msg: its exit status (-1: could not run it), its
 * output in out.  The simulation knows checkpoint and failover.
 */
/*
 * --retry-enomem: a message the kernel refused for want of memory (which
 * must have changed nothing, README) is sent again, 20 ms later, up to
 * ENOMEM_RETRIES times.
 */
#define ENOMEM_RETRIES	1000
static uint64_t enomem_retries;	/* atomic */
static uint64_t eagain_retries;	/* atomic: messages sent again after EAGAIN */

static int dev_message(const char *msg, char *out, size_t outsz)
{
	char *argv[] = { "dmsetup", "message", (char *)opt.name, "0",
			 (char *)msg, NULL };
	struct timespec spawn = { 0, 1000000 };	/* like running dmsetup */
	struct timespec pause_20ms = { 0, 20000000 };
	int r, i;

	if (!opt.selftest) {
		for (i = 0;; i++) {
			r = run_dmsetup(argv, out, outsz);
			/*
			 * A reloaded table not resumed yet refuses every
			 * message with EAGAIN, changing nothing: send again.
			 */
			if (r && i < ENOMEM_RETRIES &&
			    strstr(out, "Resource temporarily unavailable")) {
				__atomic_add_fetch(&eagain_retries, 1, __ATOMIC_RELAXED);
				nanosleep(&pause_20ms, NULL);
				continue;
			}
			if (!r || !opt.retry_enomem || i == ENOMEM_RETRIES ||
			    !strstr(out, "Cannot allocate memory"))
				return r;
			__atomic_add_fetch(&enomem_retries, 1, __ATOMIC_RELAXED);
			nanosleep(&pause_20ms, NULL);
		}
	}
	out[0] = 0;
	if (!strcmp(msg, "checkpoint")) {
		if (__atomic_load_n(&sim.primary, __ATOMIC_ACQUIRE)) {
			snprintf(out, outsz, "(simulated) checkpoint refused: primary mode");
			return 1;
		}
		memset(sim.abit, 0, nr_chunks);
		memset(sim.hbit, 0, nr_chunks);
		return 0;
	}
	if (!strcmp(msg, "failover")) {
		nanosleep(&spawn, NULL);
		r = sim_failover();
		nanosleep(&spawn, NULL);
		if (r)
			snprintf(out, outsz, "(simulated) failover refused: already primary");
		return r ? 1 : 0;
	}
	if (opt.mirror && !strncmp(msg, "mirror ", 7)) {
		nanosleep(&spawn, NULL);
		r = sim_mirror_message(msg, out, outsz);
		nanosleep(&spawn, NULL);
		return r;
	}
	snprintf(out, outsz, "(simulated) unknown message");
	return 1;
}

static void dev_checkpoint(void)
{
	char out[4096];
	int ret;

	ret = dev_message("checkpoint", out, sizeof(out));
	if (ret && setup_phase)
		die_setup("dmsetup message %s 0 checkpoint: exit %d: %s",
			  opt.name, ret, out);
	if (ret)
		fail("dmsetup message %s 0 checkpoint: exit %d: %s", opt.name,
		     ret, out);
}

struct colo_status {
	char mode[32];
	char ingress[32];
	char commit[32];	/* none|running|failed|done */
	uint64_t chunk, active, hidden, chunks, chunks2;
	uint64_t committed, to_commit, dirty, chunks3;
	bool commit_parsed;	/* the commit and dirty fields were parsed */
	char mirror[32];	/* none|copying|in-sync|degraded */
	uint64_t mirrored, to_mirror;
	bool mirror_parsed;	/* the mirror fields were parsed */
	int coverage;		/* COV_UNKNOWN|COV_COMPLETE, -1 if absent */
	bool ok;
	char line[4096];
};

static void dev_status(struct colo_status *st)
{
	char *argv[] = { "dmsetup", "status", (char *)opt.name, NULL };
	char *tok[64], *p, *save;
	uint64_t c;
	int n = 0, ret;

	memset(st, 0, sizeof(*st));
	if (opt.selftest) {
		bool primary = __atomic_load_n(&sim.primary, __ATOMIC_ACQUIRE);
		int cst = __atomic_load_n(&sim.commit_state, __ATOMIC_ACQUIRE);
		int mst = opt.mirror ? sim_mstate() : MIR_NONE;
		uint64_t left = 0;

		snprintf(st->mode, sizeof(st->mode), primary ? "primary" : "secondary");
		snprintf(st->ingress, sizeof(st->ingress), "attached");
		snprintf(st->commit, sizeof(st->commit), "%s", commit_state_name[cst]);
		st->chunk = opt.chunk;
		st->chunks = st->chunks2 = st->chunks3 = nr_chunks;
		for (c = 0; c < nr_chunks; c++) {
			st->active += __atomic_load_n(&sim.abit[c], __ATOMIC_RELAXED);
			st->hidden += __atomic_load_n(&sim.hbit[c], __ATOMIC_RELAXED);
			st->dirty += __atomic_load_n(&sim.dirty[c], __ATOMIC_RELAXED);
		}
		st->committed = __atomic_load_n(&sim.committed, __ATOMIC_RELAXED);
		st->to_commit = primary ? sim.to_commit : 0;
		st->commit_parsed = true;
		st->mirrored = opt.mirror ? __atomic_load_n(&sim.mirrored, __ATOMIC_RELAXED) : 0;
		if (mst == MIR_COPYING && __atomic_load_n(&sim.full_pass, __ATOMIC_ACQUIRE))
			left = nr_chunks - __atomic_load_n(&sim.cursor, __ATOMIC_ACQUIRE);
		else if (mst != MIR_NONE)
			left = st->dirty;
		st->to_mirror = st->mirrored + left;
		snprintf(st->mirror, sizeof(st->mirror), "%s", mir_state_name[mst]);
		st->mirror_parsed = true;
		if (opt.mirror)
			snprintf(st->ingress, sizeof(st->ingress), "none");
		st->ok = !__atomic_load_n(&sim.error, __ATOMIC_ACQUIRE);
		/* read last, as the kernel does */
		st->coverage = __atomic_load_n(&sim.needs_full, __ATOMIC_ACQUIRE) ?
			       COV_UNKNOWN : COV_COMPLETE;
		snprintf(st->line, sizeof(st->line),
			 "(simulated) 0 %" PRIu64 " colo %s %" PRIu64 " %" PRIu64 "/%" PRIu64 " %" PRIu64 "/%" PRIu64 " %s %" PRIu64 "/%" PRIu64 " %" PRIu64 "/%" PRIu64 " %s %" PRIu64 "/%" PRIu64 " %s %s %" PRIu64 " %s",
			 len_sectors, st->mode, opt.chunk, st->active, nr_chunks,
			 st->hidden, nr_chunks, st->commit, st->committed,
			 st->to_commit, st->dirty, nr_chunks, st->mirror,
			 st->mirrored, st->to_mirror, st->ingress,
			 st->ok ? "ok" : "error", 3 * ((nr_chunks + 7) / 8),
			 cov_name[st->coverage]);
		return;
	}
	ret = run_dmsetup(argv, st->line, sizeof(st->line));
	if (ret && setup_phase)
		die_setup("dmsetup status %s: exit %d: %s", opt.name, ret,
			  st->line);
	if (ret)
		fail("dmsetup status %s: exit %d: %s", opt.name, ret, st->line);
	st->line[strcspn(st->line, "\n")] = 0;
	p = strdup(st->line);
	if (!p)
		fail("out of memory");
	for (tok[n] = strtok_r(p, " \t", &save); tok[n] && n < 63;
	     tok[++n] = strtok_r(NULL, " \t", &save))
		;
	/*
	 * 0 <len> colo <mode> <chunk> <a>/<n> <h>/<n> <commit> <c>/<t>
	 * <dirty>/<n> <mirror> <m>/<t> <ingress> <health> [<bitmap_bytes>
	 * <dirty_coverage> ...]
	 * Fields are only ever appended, so each is found by position.
	 */
	if (n < 14 || strcmp(tok[2], "colo") ||
	    sscanf(tok[4], "%" SCNu64, &st->chunk) != 1 ||
	    sscanf(tok[5], "%" SCNu64 "/%" SCNu64, &st->active, &st->chunks) != 2 ||
	    sscanf(tok[6], "%" SCNu64 "/%" SCNu64, &st->hidden, &st->chunks2) != 2) {
		if (setup_phase)
			die_setup("cannot parse dmsetup status %s: '%s'",
				  opt.name, st->line);
		fail("cannot parse dmsetup status %s: '%s'", opt.name, st->line);
	}
	snprintf(st->mode, sizeof(st->mode), "%s", tok[3]);
	snprintf(st->ingress, sizeof(st->ingress), "%s", tok[12]);
	st->ok = !strcmp(tok[13], "ok");
	snprintf(st->commit, sizeof(st->commit), "%s", tok[7]);
	st->commit_parsed =
		sscanf(tok[8], "%" SCNu64 "/%" SCNu64, &st->committed, &st->to_commit) == 2 &&
		sscanf(tok[9], "%" SCNu64 "/%" SCNu64, &st->dirty, &st->chunks3) == 2;
	snprintf(st->mirror, sizeof(st->mirror), "%s", tok[10]);
	st->mirror_parsed = st->commit_parsed &&
		sscanf(tok[11], "%" SCNu64 "/%" SCNu64, &st->mirrored, &st->to_mirror) == 2;
	st->coverage = -1;
	if (n > 15 && !strcmp(tok[15], "complete"))
		st->coverage = COV_COMPLETE;
	else if (n > 15 && !strcmp(tok[15], "unknown"))
		st->coverage = COV_UNKNOWN;
	free(p);
	if (opt.mirror && !st->mirror_parsed && setup_phase)
		die_setup("cannot parse the dirty and mirror fields of dmsetup status %s: '%s'",
			  opt.name, st->line);
	if (opt.mirror && !st->mirror_parsed)
		fail("cannot parse the dirty and mirror fields of dmsetup status %s: '%s'",
		     opt.name, st->line);
	if (opt.mirror && st->coverage < 0 && setup_phase)
		die_setup("cannot parse the dirty_coverage field (16th word: complete|unknown) of dmsetup status %s: '%s'",
			  opt.name, st->line);
	if (opt.mirror && st->coverage < 0)
		fail("cannot parse the dirty_coverage field (16th word: complete|unknown) of dmsetup status %s: '%s'",
		     opt.name, st->line);
	if (opt.failover && !st->commit_parsed && setup_phase)
		die_setup("cannot parse the commit and dirty fields of dmsetup status %s: '%s'",
			  opt.name, st->line);
	if (opt.failover && !st->commit_parsed)
		fail("cannot parse the commit and dirty fields of dmsetup status %s: '%s'",
		     opt.name, st->line);
}

/*
 * With no op in flight, the status counts must agree with the model:
 * #(vm_wrote == 1) <= active <= #vm_wrote (equal but after failed writes,
 * --fault), #(in_wrote == 1 && !vm_wrote) <= hidden <= #in_wrote; health
 * ok until an I/O error was possible, error once one was seen (sticky).
 */
static void verify_status(const char *when)
{
	uint64_t c, nvm = 0, nvm_sure = 0, nin = 0, nin_only = 0;
	int may = __atomic_load_n(&health_may_err, __ATOMIC_ACQUIRE);
	int must = __atomic_load_n(&health_must_err, __ATOMIC_ACQUIRE);
	struct colo_status st;

	dev_status(&st);
	for (c = 0; c < nr_chunks; c++) {
		nvm += vm_wrote[c] != 0;
		nvm_sure += vm_wrote[c] == 1;
		nin += in_wrote[c] != 0;
		nin_only += in_wrote[c] == 1 && !vm_wrote[c];
	}
	if (strcmp(st.mode, "secondary") || strcmp(st.ingress, "attached") ||
	    st.chunk != opt.chunk ||
	    st.chunks != nr_chunks || st.chunks2 != nr_chunks ||
	    (st.ok && must) || (!st.ok && !may) ||
	    st.active < nvm_sure || st.active > nvm ||
	    st.hidden < nin_only || st.hidden > nin)
		fail("status %s: got mode=%s ingress=%s chunk=%" PRIu64 " active=%" PRIu64 "/%" PRIu64 " hidden=%" PRIu64 "/%" PRIu64 " health=%s; "
		     "expected secondary attached chunk=%" PRIu64 " active in [%" PRIu64 ",%" PRIu64 "]/%" PRIu64 " hidden in [%" PRIu64 ",%" PRIu64 "]/%" PRIu64 " health=%s; status line: %s",
		     when, st.mode, st.ingress, st.chunk, st.active, st.chunks, st.hidden,
		     st.chunks2, st.ok ? "ok" : "error", opt.chunk, nvm_sure, nvm,
		     nr_chunks, nin_only, nin, nr_chunks,
		     must ? "error (an I/O failed: sticky)" : may ? "ok or error" : "ok (no fault yet)",
		     st.line);
}

static void *alloc_io(uint64_t nsect)
{
	void *p;

	if (posix_memalign(&p, 4096, bytes(nsect)))
		die_setup("out of memory for I/O buffers");
	return p;
}

/* Read sectors [start, start+nsect) of d in big pieces and compare. */
static void check_range(const char *what, enum dev_id d, const uint8_t *model,
			uint64_t start, uint64_t nsect, uint8_t *buf)
{
	uint64_t s, n;

	for (s = start; s < start + nsect; s += n) {
		n = start + nsect - s < BIG_IO_SECTORS ? start + nsect - s : BIG_IO_SECTORS;
		dev_io(d, buf, s, n, false, 0);
		check_buf(what, d, bytes(s), model + bytes(s), buf, bytes(n));
	}
}

/* ------------------------------------------------------------------ */
/* Checkpoint gate and per-side range reservations                     */

static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static uint64_t ops_issued, in_flight, ckpt_done_at;
static bool ckpt_pending;
/* --failover: the control thread waits for fo_triggered (under gate_lock). */
static pthread_cond_t fo_cond = PTHREAD_COND_INITIALIZER;
static bool fo_triggered, fo_abort;
static uint64_t pre_done_in_flight;	/* ops begun before phase FO_DONE */

static void do_checkpoint(int tid, uint64_t at)
{
	char what[64];

	snprintf(what, sizeof(what), "before checkpoint after op %" PRIu64, at);
	verify_status(what);
	if (__atomic_load_n(&unres_n[0], __ATOMIC_ACQUIRE) ||
	    __atomic_load_n(&unres_n[1], __ATOMIC_ACQUIRE))
		fail("internal: checkpoint with unresolved sectors (view %" PRIu64 ", base %" PRIu64 ")",
		     unres_n[0], unres_n[1]);
	ring_log(at, tid, OP_CKPT, 0, 0);
	dev_checkpoint();
	memcpy(view, base, bytes(len_sectors));
	memcpy(base_ckpt, base, bytes(len_sectors));
	memset(vm_wrote, 0, nr_chunks);
	memset(in_wrote, 0, nr_chunks);
	if (vm_pre)
		memset(vm_pre, 0, nr_chunks);
	nr_checkpoints++;
	snprintf(what, sizeof(what), "after checkpoint after op %" PRIu64, at);
	verify_status(what);
}

/* --fault: the op count of event i (per episode: start, probes, end). */
static uint64_t fault_event_at(int i)
{
	return i % 3 == 2 ? opt.fault_end[i / 3] :
	       i % 3 ? opt.fault_probe[i / 3] : opt.fault_start[i / 3];
}

/*
 * Start an op: returns its id, or 0 when the run is over.  The thread that
 * finds a checkpoint due closes the gate, waits until no op is in flight,
 * and runs the checkpoint alone.  With --failover there is no checkpoint
 * from the failover op on; handing out that op wakes the control thread,
 * and *phase is the failover phase the op starts in.
 */
static uint64_t op_begin(int tid, int *phase)
{
	uint64_t id = 0, at;

	*phase = FO_BEFORE;

	pthread_mutex_lock(&gate_lock);
	for (;;) {
		if (__atomic_load_n(&stop, __ATOMIC_RELAXED) || ops_issued >= opt.ops)
			break;
		if (ckpt_pending) {
			pthread_cond_wait(&gate_cond, &gate_lock);
			continue;
		}
		if (opt.mirror && mir_ev_next < opt.mir_nevents &&
		    ops_issued >= opt.mir_event_at[mir_ev_next] + MIRROR_EVENT_SLACK) {
			/* far enough past the next mirror event: wait for it */
			pthread_cond_wait(&gate_cond, &gate_lock);
			continue;
		}
		if (opt.fault_leg >= 0 && flt_ev_next < 3 * opt.fault_eps &&
		    ops_issued >= fault_event_at(flt_ev_next) +
				  (flt_ev_next % 3 == 2 ? FAULT_END_SLACK : FAULT_START_SLACK)) {
			/* far enough past the next fault event: wait for it */
			pthread_cond_wait(&gate_cond, &gate_lock);
			continue;
		}
		if (opt.ckpt_every && ops_issued && ops_issued % opt.ckpt_every == 0 &&
		    ckpt_done_at != ops_issued &&
		    !(__atomic_load_n(&fault_state, __ATOMIC_ACQUIRE) & 1) &&
		    (!opt.failover || ops_issued < opt.failover_at)) {
			at = ckpt_done_at = ops_issued;
			ckpt_pending = true;
			while (in_flight)
				pthread_cond_wait(&gate_cond, &gate_lock);
			pthread_mutex_unlock(&gate_lock);
			do_checkpoint(tid, at);
			pthread_mutex_lock(&gate_lock);
			ckpt_pending = false;
			pthread_cond_broadcast(&gate_cond);
			continue;
		}
		id = ++ops_issued;
		in_flight++;
		if (opt.mirror && mir_ev_next < opt.mir_nevents &&
		    id == opt.mir_event_at[mir_ev_next])
			pthread_cond_broadcast(&fo_cond);
		if (opt.fault_leg >= 0 && flt_ev_next < 3 * opt.fault_eps &&
		    id >= fault_event_at(flt_ev_next))
			pthread_cond_broadcast(&fo_cond);
		if (opt.failover) {
			*phase = __atomic_load_n(&fo_phase, __ATOMIC_ACQUIRE);
			if (*phase != FO_DONE)
				pre_done_in_flight++;
			if (id == opt.failover_at) {
				fo_triggered = true;
				pthread_cond_broadcast(&fo_cond);
			}
		}
		break;
	}
	pthread_mutex_unlock(&gate_lock);
	return id;
}

static void op_end(int phase)
{
	pthread_mutex_lock(&gate_lock);
	if (!--in_flight)
		pthread_cond_broadcast(&gate_cond);
	if (opt.failover && phase != FO_DONE && !--pre_done_in_flight)
		pthread_cond_broadcast(&gate_cond);
	pthread_mutex_unlock(&gate_lock);
}

/* In-flight sector ranges of one side; ops of one side never overlap. */
struct rangeset {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct { uint64_t start, end; bool used; } r[MAX_THREADS];
};

static struct rangeset side_ranges[2] = {
	{ PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, {} },
	{ PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, {} },
};

static bool range_busy(struct rangeset *rs, uint64_t start, uint64_t end)
{
	int i;

	for (i = 0; i < MAX_THREADS; i++)
		if (rs->r[i].used && start < rs->r[i].end && rs->r[i].start < end)
			return true;
	return false;
}

/* Wait (rather than re-pick: keeps each thread's op sequence replayable). */
static int range_reserve(struct rangeset *rs, uint64_t start, uint64_t end)
{
	int i;

	pthread_mutex_lock(&rs->lock);
	while (range_busy(rs, start, end))
		pthread_cond_wait(&rs->cond, &rs->lock);
	for (i = 0; rs->r[i].used; i++)
		;
	rs->r[i].start = start;
	rs->r[i].end = end;
	rs->r[i].used = true;
	pthread_mutex_unlock(&rs->lock);
	return i;
}

static void range_release(struct rangeset *rs, int slot)
{
	pthread_mutex_lock(&rs->lock);
	rs->r[slot].used = false;
	pthread_cond_broadcast(&rs->cond);
	pthread_mutex_unlock(&rs->lock);
}

/* ------------------------------------------------------------------ */
/* Worker threads                                                      */

struct worker {
	int tid;
	bool vm;
	uint64_t rng;
	uint8_t *buf;
	uint64_t quota;		/* this thread's share of --ops */
	uint64_t nr[4];		/* ops per kind */
	uint64_t post_fence;	/* ingress ops begun after the failover returned */
	uint64_t racing_ok, racing_failed, failed;	/* ingress, --failover */
	pthread_t thread;
};

/* --failover timing, CLOCK_MONOTONIC ns. */
static uint64_t fo_t0, fo_tret, fo_tdone, fo_first_read;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void mark_chunks(uint8_t *flags, uint64_t start, uint64_t nsect)
{
	uint64_t c;

	for (c = chunk_of(start); c <= chunk_of(start + nsect - 1); c++)
		__atomic_store_n(&flags[c], 1, __ATOMIC_RELAXED);
}

/*
 * Pick the next op from the thread's own PRNG: the start is either anywhere
 * or inside a hot chunk; the size is whole chunks, chunk aligned, tiny, up to
 * a chunk border, or anything up to --max-sectors.
 */
static void gen_op(struct worker *w, enum op_kind *kind, uint64_t *start,
		   uint64_t *nsect)
{
	uint64_t s, n, c, k, r = rnd(&w->rng, 100);

	if (w->vm)
		*kind = r < 50 ? OP_VM_READ : OP_VM_WRITE;
	else
		*kind = r < 75 ? OP_IN_WRITE : OP_IN_READ;

	if (rnd(&w->rng, 100) < opt.hot) {
		c = hot_chunk[rnd(&w->rng, HOT_CHUNKS)];
		s = chunk_start(c) + rnd(&w->rng, chunk_len(c));
	} else {
		s = rnd(&w->rng, len_sectors);
	}
	c = chunk_of(s);
	r = rnd(&w->rng, 100);
	if (r < 15) {			/* whole chunks, exactly */
		k = opt.max_sectors / opt.chunk;
		s = chunk_start(c);
		n = (1 + rnd(&w->rng, k ? k : 1)) * opt.chunk;
	} else if (r < 30) {		/* chunk aligned start */
		s = chunk_start(c);
		n = 1 + rnd(&w->rng, opt.max_sectors);
	} else if (r < 50) {		/* tiny */
		n = 1 + rnd(&w->rng, opt.max_sectors < 8 ? opt.max_sectors : 8);
	} else if (r < 65) {		/* ends exactly at a chunk border */
		n = chunk_start(c) + chunk_len(c) - s;
	} else {
		n = 1 + rnd(&w->rng, opt.max_sectors);
	}
	if (n > opt.max_sectors)
		n = opt.max_sectors;
	if (n > len_sectors - s)
		n = len_sectors - s;
	*start = s;
	*nsect = n;
}


/* ------------------------------------------------------------------ */
/* --fault: the model of failed ops (see the top of the file)          */

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
 * the model of the op's own side (see the top of the file).
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
static void fault_pace(void)
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

enum { EXP_MAY, EXP_OK, EXP_FAIL, EXP_FAIL_EXACT };
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
static int fault_do_op(int tid, uint64_t id, enum op_kind kind, uint64_t start,
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

static pthread_barrier_t start_barrier;

/*
 * An ingress op with --failover: it may fail with EIO once the failover
 * message was sent, and must fail if it begins after the message returned
 * or after another ingress op failed.  Returns true if it began after the
 * message returned.
 */
static bool ingress_op_failover(struct worker *w, enum op_kind kind,
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

static pthread_barrier_t start_barrier;

/* --make-it-fail: this thread's allocations may fail from now on. */
static void set_make_it_fail(void)
{
	write_make_it_fail("1");
	thread_marked = true;
}

static void *worker_fn(void *arg)
{
	struct worker *w = arg;
	struct rangeset *rs = &side_ranges[!w->vm];
	uint64_t id, start, nsect, t, zero;
	enum op_kind kind;
	char what[96];
	size_t off, len;
	int slot, phase, pe;
	bool post;

	if (opt.make_it_fail && !opt.selftest)
		set_make_it_fail();
	/* All start together, so no side runs its whole share alone. */
	pthread_barrier_wait(&start_barrier);
	while (w->quota--) {
		gen_op(w, &kind, &start, &nsect);
		id = op_begin(w->tid, &phase);
		if (!id)
			break;
		slot = range_reserve(rs, start, start + nsect);
		ring_log(id, w->tid, kind, start, nsect);
		off = bytes(start);
		len = bytes(nsect);
		post = false;
		if (opt.fault_leg >= 0) {
			fault_do_op(w->tid, id, kind, start, nsect, w->buf, EXP_MAY,
				    w->vm ? "VM worker" : "ingress worker");
			w->nr[kind]++;
			range_release(rs, slot);
			op_end(phase);
			fault_pace();
			continue;
		}
		if (opt.failover && !w->vm) {
			post = ingress_op_failover(w, kind, id, start, nsect);
			w->nr[kind]++;
			range_release(rs, slot);
			op_end(phase);
			if (post && ++w->post_fence >= POST_FENCE_OPS)
				break;
			continue;
		}
		switch (kind) {
		case OP_VM_READ:
		case OP_IN_READ:
			dev_io(kind == OP_VM_READ ? DEV_VM : DEV_INGRESS,
			       w->buf, start, nsect, false, id);
			if (kind == OP_VM_READ && phase == FO_DONE) {
				/* the first VM read begun after the failover returned */
				t = now_ns();
				zero = 0;
				__atomic_compare_exchange_n(&fo_first_read, &zero, t, false,
							    __ATOMIC_RELAXED, __ATOMIC_RELAXED);
			}
			snprintf(what, sizeof(what), "%s op %" PRIu64 " (%s)",
				 op_name[kind], id,
				 kind == OP_VM_READ ? "VM read vs model view" :
				 "ingress read vs model base");
			check_buf(what, kind == OP_VM_READ ? DEV_VM : DEV_INGRESS,
				  off, (kind == OP_VM_READ ? view : base) + off,
				  w->buf, len);
			break;
		case OP_VM_WRITE:
			pat_fill(w->buf, id, w->tid, start, nsect);
			dev_io(DEV_VM, w->buf, start, nsect, true, id);
			memcpy(view + off, w->buf, len);
			mark_chunks(vm_wrote, start, nsect);
			if (opt.failover) {
				pe = __atomic_load_n(&fo_phase, __ATOMIC_SEQ_CST);
				if (pe == FO_BEFORE) {
					mark_chunks(vm_pre, start, nsect);	/* active at the switch */
				} else {
					mark_chunks(fo_vmw, start, nsect);	/* dirty at the end */
					if (phase != FO_DONE)	/* maybe active at the switch */
						mark_chunks(fo_race, start, nsect);
				}
			}
			break;
		case OP_IN_WRITE:
			pat_fill(w->buf, id, w->tid, start, nsect);
			dev_io(DEV_INGRESS, w->buf, start, nsect, true, id);
			memcpy(base + off, w->buf, len);
			mark_chunks(in_wrote, start, nsect);
			break;
		default:
			break;
		}
		w->nr[kind]++;
		range_release(rs, slot);
		op_end(phase);
	}
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Failover (--failover): the control thread and its checks            */

static uint64_t fo_to_commit, fo_ops_at_return;
static uint64_t workers_done_ns;	/* atomic; 0 while workers run */

/* The model's bounds for to_commit, see the top of the file. */
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
static void *control_fn(void *arg)
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

static void fo_report(const struct worker *w, int nthreads)
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

static void final_verify_failover(uint8_t *buf)
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

/* ------------------------------------------------------------------ */
/* Mirror (--mirror): the control thread and its checks                */

static pthread_t mir_control;
static int mir_ctl_tid;		/* the control thread's id in patterns and logs */

static uint64_t ops_now(void)
{
	uint64_t n;

	pthread_mutex_lock(&gate_lock);
	n = ops_issued;
	pthread_mutex_unlock(&gate_lock);
	return n;
}

static void sleep_ms(unsigned int ms)
{
	nanosleep(&(struct timespec){ ms / 1000, (long)(ms % 1000) * 1000000L }, NULL);
}

/* Status polls: as the spec says on a device, quicker in the simulation. */
static unsigned int mirror_poll_ms(void)
{
	return opt.selftest ? 1 : COMMIT_POLL_MS;
}

/*
 * Swap the replica's dm table to "error" or back to linear over
 * --replica-lower (the simulation flips a flag).  Returns 0, else fills err.
 */
/* Replace dm device dm's table by table (suspend, load, resume); 0, else fills err. */
static int dm_swap_try(const char *dm, const char *table, char *err, size_t errsz)
{
	char out[1024];
	char *sus[] = { "dmsetup", "suspend", (char *)dm, NULL };
	char *load[] = { "dmsetup", "load", (char *)dm, "--table", (char *)table, NULL };
	char *res[] = { "dmsetup", "resume", (char *)dm, NULL };
	int r;

	r = run_dmsetup(sus, out, sizeof(out));
	if (r) {
		snprintf(err, errsz, "dmsetup suspend %s: exit %d: %s", dm, r, out);
		return -1;
	}
	r = run_dmsetup(load, out, sizeof(out));
	if (r) {
		snprintf(err, errsz, "dmsetup load %s --table '%s': exit %d: %s",
			 dm, table, r, out);
		run_dmsetup(res, out, sizeof(out));	/* do not leave it suspended */
		return -1;
	}
	r = run_dmsetup(res, out, sizeof(out));
	if (r) {
		snprintf(err, errsz, "dmsetup resume %s: exit %d: %s", dm, r, out);
		return -1;
	}
	return 0;
}

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
static void mirror_fail_cleanup(void)
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
 * The dirty coverage (see the top of the file): complete whenever in sync,
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
 * What any status line in mirror mode must show: primary, our geometry, no
 * overlay, health ok, and a mirror state the model allows (allowed: a mask
 * of MIR_* states).  In sync, nothing is dirty unless a replica failure is
 * being injected.  Returns the mirror state.
 */
static int mirror_check_status(const char *when, const struct colo_status *st,
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
	err = dev_io_try(DEV_VM, buf, s, n, true, id);
	if (err)
		fail("op %" PRIu64 ": control VM write (%s) to %s sector %" PRIu64 " +%" PRIu64 " failed: %s "
		     "(a VM write must never fail because of the replica)",
		     id, why, dev_path(DEV_VM), s, n, strerror(err));
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
 * model that is not sure of it takes the status's (see the top of the file).
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
	char msg[512], rate[32] = "", when[640];
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
	snprintf(msg, sizeof(msg), "mirror start %s %s%s", dev_path(DEV_REPLICA),
		 full ? "full" : "dirty", rate);
	ring_log_mirror(full ? "mirror start full" : "mirror start dirty", at);
	mirror_send(msg, at);
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
		mirror_start(rng, at, false, true, "start");
		return;
	}
	r = rnd(rng, 100);
	if (r < 25)
		mirror_refused_start(at);
	else if (failures && r < 60)
		mirror_failure(rng, at, buf);
	else
		mirror_stop(at, "stop");
}

/* Runs the events at their op counts while the workers go on. */
static void *mirror_control_fn(void *arg)
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
			/* Between events: check each sync once it is in sync. */
			if (mir_running && !mir_session_checked &&
			    mirror_status("between mirror events", &st, MIR_RUNNING) == MIR_INSYNC)
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
static void final_verify_mirror(uint8_t *buf, uint8_t *wbuf, char *sum, size_t sumsz)
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
		if (ms == MIR_INSYNC)
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
	snprintf(sum, sumsz, " mirror_starts=%u mirror_dirty_starts=%u mirror_stops=%u mirror_failures=%u mirror_refused=%u dirty_refused=%u insync_checks=%u copies=%" PRIu64,
		 mir_starts, mir_dirty_starts, mir_stops, mir_failures, mir_refused,
		 mir_dirty_refused, mir_insync_checks, copies);
}

/* ------------------------------------------------------------------ */
/* Faults (--fault): the control thread, its probes and checks         */

static int flt_leg_broken;	/* atomic: the leg's table is a fault */
static uint8_t *flt_buf;	/* the control thread's I/O buffer */
static unsigned int flt_nkind[NR_FK];

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
static void fault_fail_cleanup(void)
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
static int fault_probe(enum op_kind kind, int64_t c, uint64_t start, uint64_t n,
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
 * because they do not touch the leg.  See the top of the file.
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

static void *fault_control_fn(void *arg)
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

/* ------------------------------------------------------------------ */
/* Setup, final verification, command line                             */

/*
 * --mirror: a primary with no mirror; the model is base.  A fresh table
 * knows nothing of the replica: the dirty coverage must be unknown (and a
 * dirty start refused) whatever the replica holds.
 */
static void setup_model_mirror(uint8_t *buf)
{
	char out[4096], *argv[] = { "dmsetup", "table", (char *)opt.replica_dm, NULL };
	struct colo_status st;
	uint64_t i, n, want_len;
	int ret;

	if (opt.replica_dm && !opt.selftest) {
		ret = run_dmsetup(argv, out, sizeof(out));
		out[strcspn(out, "\n")] = 0;
		if (ret)
			die_setup("dmsetup table %s: exit %d: %s", opt.replica_dm, ret, out);
		if (sscanf(out, "0 %" SCNu64 " linear ", &want_len) != 1 ||
		    want_len != mir_replica_sectors)
			die_setup("--replica-dm %s: table '%s', expected '0 %" PRIu64 " linear %s 0' (its size is that of --replica %s)",
				  opt.replica_dm, out, mir_replica_sectors,
				  opt.replica_lower, opt.dev[DEV_REPLICA]);
	}
	dev_status(&st);	/* a dmsetup or parse error is a setup error */
	if (strcmp(st.mirror, "none"))
		die_setup("%s: mirror state is '%s' at the start, expected 'none' (mirror stop first); status: %s",
			  opt.name, st.mirror, st.line);
	setup_phase = false;
	mirror_check_status("at start", &st, 1U << MIR_NONE, false);
	printf("# mirror: status at start: %s\n", st.line);
	for (i = 0; i < len_sectors; i += BIG_IO_SECTORS) {
		n = len_sectors - i < BIG_IO_SECTORS ? len_sectors - i : BIG_IO_SECTORS;
		dev_io(DEV_BASE, buf, i, n, false, 0);
		memcpy(view + bytes(i), buf, bytes(n));
	}
	memcpy(base, view, bytes(len_sectors));
	memcpy(base_ckpt, view, bytes(len_sectors));
	check_range("start: VM device vs raw base", DEV_VM, view, 0, len_sectors, buf);
}

static void setup_model(uint8_t *buf)
{
	struct colo_status st;
	uint64_t r, i;

	view = malloc(bytes(len_sectors));
	base = malloc(bytes(len_sectors));
	base_ckpt = malloc(bytes(len_sectors));
	vm_wrote = calloc(nr_chunks, 1);
	in_wrote = calloc(nr_chunks, 1);
	if (opt.failover) {
		vm_pre = calloc(nr_chunks, 1);
		fo_race = calloc(nr_chunks, 1);
		fo_vmw = calloc(nr_chunks, 1);
		if (!vm_pre || !fo_race || !fo_vmw)
			die_setup("out of memory for the failover model");
	}
	if (!view || !base || !base_ckpt || !vm_wrote || !in_wrote)
		die_setup("out of memory for the model (3 x %" PRIu64 " bytes)",
			  (uint64_t)bytes(len_sectors));
	if (opt.fault_leg >= 0) {
		unres[0] = calloc(len_sectors, sizeof(struct unres));
		unres[1] = calloc(len_sectors, sizeof(struct unres));
		if (!unres[0] || !unres[1])
			die_setup("out of memory for the fault model");
	}

	if (opt.mirror) {
		setup_model_mirror(buf);
		goto hot;
	}
	/* Start from a checkpoint: the VM then reads exactly base. */
	dev_checkpoint();
	dev_status(&st);	/* a dmsetup or parse error is a setup error */
	setup_phase = false;
	verify_status("at start, after the initial checkpoint");
	for (i = 0; i < len_sectors; i += BIG_IO_SECTORS) {
		uint64_t n = len_sectors - i < BIG_IO_SECTORS ? len_sectors - i : BIG_IO_SECTORS;

		dev_io(DEV_BASE, buf, i, n, false, 0);	/* aligned for O_DIRECT */
		memcpy(base + bytes(i), buf, bytes(n));
	}
	memcpy(view, base, bytes(len_sectors));
	memcpy(base_ckpt, base, bytes(len_sectors));
	check_range("start: VM device vs raw base after the initial checkpoint",
		    DEV_VM, view, 0, len_sectors, buf);
	check_range("start: ingress device vs raw base", DEV_INGRESS, base,
		    0, len_sectors, buf);

hot:
	/* Hot chunks: first and last chunk, two more spread in between. */
	r = opt.seed ^ 0x686f74ULL;
	hot_chunk[0] = 0;
	hot_chunk[1] = nr_chunks / 4 + rnd(&r, nr_chunks / 4 + 1);
	hot_chunk[2] = nr_chunks / 2 + rnd(&r, nr_chunks / 4 + 1);
	hot_chunk[3] = nr_chunks - 1;
	for (i = 1; i < 3; i++)
		if (hot_chunk[i] >= nr_chunks)
			hot_chunk[i] = nr_chunks - 1;
}

/*
 * Chunks whose A or H is unknown after failed writes (--fault) are not
 * compared raw: their overlay leg may hold a failed fill or copy.  The VM
 * and ingress reads still check them.
 */
static void final_verify(uint8_t *buf)
{
	uint64_t c, maybe = 0;

	check_range("final: whole VM device vs model view", DEV_VM, view,
		    0, len_sectors, buf);
	check_range("final: whole ingress device vs model base", DEV_INGRESS,
		    base, 0, len_sectors, buf);
	check_range("final: raw base leg vs model base", DEV_BASE, base,
		    0, len_sectors, buf);
	for (c = 0; c < nr_chunks; c++) {
		if (vm_wrote[c] == 1)
			check_range("final: raw active chunk (VM-written) vs model view",
				    DEV_ACTIVE, view, chunk_start(c), chunk_len(c), buf);
		else if (!vm_wrote[c] && in_wrote[c] == 1)
			check_range("final: raw hidden chunk (copy-before-write) vs base at last checkpoint",
				    DEV_HIDDEN, base_ckpt, chunk_start(c), chunk_len(c), buf);
		else if (vm_wrote[c] || in_wrote[c])
			maybe++;
	}
	verify_status("final");
	if (opt.fault_leg >= 0)
		printf("# fault: final: %" PRIu64 " chunks with A or H unknown after failed writes (not compared raw)\n",
		       maybe);
}

static void cleanup(void)
{
	uint64_t c;
	int d;

	for (d = 0; d < NR_DEVS; d++)
		if (dev_fd[d] >= 0)
			close(dev_fd[d]);
	if (opt.selftest) {
		if (sim.commit_started)
			pthread_join(sim.commit_thread, NULL);
		for (d = 0; d < NR_LEGS; d++)
			free(sim.leg[d]);
		if (sim.copier_started)
			pthread_join(sim.copier, NULL);
		for (c = 0; c < nr_chunks; c++)
			pthread_mutex_destroy(&sim.lock[c]);
		pthread_rwlock_destroy(&sim.hold);
		free(sim.replica);
		free(sim.lock);
		free(sim.abit);
		free(sim.hbit);
		free(sim.dirty);
	}
	for (d = 0; d < 2; d++) {
		if (!unres[d])
			continue;
		for (c = 0; c < len_sectors; c++)
			free(unres[d][c].who);
		free(unres[d]);
	}
	free(vm_pre);
	free(fo_race);
	free(fo_vmw);
	free(view);
	free(base);
	free(base_ckpt);
	free(vm_wrote);
	free(in_wrote);
	free(replay_cmd);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: colo-fsx --name NAME --vm DEV --ingress DEV --base DEV --hidden DEV --active DEV\n"
		"                --chunk SECTORS [--ops N] [--seed S] [--vm-threads N] [--ingress-threads N]\n"
		"                [--checkpoint-every N] [--max-sectors N] [--hot PERCENT] [--verbose]\n"
		"                [--failover | --failover-at N] [--retry-enomem] [--make-it-fail]\n"
		"       colo-fsx --mirror --name NAME --vm DEV --base DEV --replica DEV\n"
		"                [--replica-dm NAME --replica-lower DEV] --chunk SECTORS [--ingress-threads 0]\n"
		"                [--ops N] [--seed S] [--vm-threads N] [--max-sectors N] [--hot PERCENT] [--verbose]\n"
		"       colo-fsx --fault base|hidden|active --fault-dm NAME [--fault-episodes N]\n"
		"                [--fault-kinds error,flakey-w,flakey,delay,failreq] [the secondary-mode options]\n"
		"       colo-fsx --selftest --chunk SECTORS [--selftest-size MiB] [--selftest-sectors N]\n"
		"                [--selftest-bug cow|fill|nofence|commit-hidden-first|mirror-noclear-order|mirror-nodual|\n"
		"                                mirror-dirty-guess|fault-cow|fault-fill|fault-wrong-side]\n"
		"                [same options as above]\n"
		"  --failover      send 'failover' at a random op in [ops/4, 3*ops/4] with I/O in flight;\n"
		"                  the ingress must fail from then on, the VM goes on, the commit is checked\n"
		"  --failover-at N the same, at op N (1..ops)\n"
		"  --retry-enomem  send a message again when the kernel refused it for want of memory\n"
		"                  (allocation-failure tests: the refusal must have changed nothing)\n"
		"  --make-it-fail  the VM and ingress threads set their make-it-fail (failslab and\n"
		"                  fail_page_alloc with task-filter fail their allocations, dm-colo's map\n"
		"                  included); an I/O refused with ENOMEM before it started is sent again\n"
		"  --mirror        NAME is a 'colo primary' device: VM threads only, no checkpoints; a control\n"
		"                  thread sends mirror start/stop (and refused ones) at seeded op counts; at the\n"
		"                  end, in sync: raw base == raw replica == model, then writes in sync reach both\n"
		"  --replica DEV   the replica the kernel mirrors to (read raw for the checks)\n"
		"  --replica-dm NAME --replica-lower DEV\n"
		"                  NAME is a dm linear device over DEV that is the replica: replica failures are\n"
		"                  injected by swapping its table to 'error' and back (--replica defaults to\n"
		"                  /dev/mapper/NAME); the selftest always simulates them\n"
		"  --fault LEG     secondary mode with faults on one leg: --fault-dm NAME is a dm linear device\n"
		"                  over the raw leg (--base/--hidden/--active name the raw device) and the\n"
		"                  colo table uses /dev/mapper/NAME; N episodes (default 4) at seeded op counts\n"
		"                  swap it to one of the kinds and back; see the top of colo-fsx.c\n"
		"                  (the selftest simulates the faults, with no --fault-dm)\n");
	exit(2);
}

static uint64_t parse_u64(const char *name, const char *s, uint64_t min, uint64_t max)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end || *s == '-' || v < min || v > max) {
		fprintf(stderr, "colo-fsx: --%s: '%s' is not a number in [%" PRIu64 ", %" PRIu64 "]\n",
			name, s, min, max);
		usage();
	}
	return v;
}

/* The replay command: argv as given, shell quoted, plus the seed if absent. */
static void build_replay(int argc, char **argv)
{
	size_t len = 64, i;
	char *p;
	int a;

	for (a = 0; a < argc; a++)
		len += 4 * strlen(argv[a]) + 3;
	replay_cmd = p = malloc(len);
	if (!p)
		die_setup("out of memory");
	for (a = 0; a < argc; a++) {
		bool plain = *argv[a] != 0;

		for (i = 0; argv[a][i]; i++)
			if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+@%",
				    argv[a][i]))
				plain = false;
		if (a)
			*p++ = ' ';
		if (plain) {
			p = stpcpy(p, argv[a]);
			continue;
		}
		*p++ = '\'';
		for (i = 0; argv[a][i]; i++) {
			if (argv[a][i] == '\'')
				p = stpcpy(p, "'\\''");
			else
				*p++ = argv[a][i];
		}
		*p++ = '\'';
	}
	*p = 0;
	if (!opt.seed_given)
		sprintf(p, " --seed %" PRIu64, opt.seed);
}

static void parse_args(int argc, char **argv)
{
	enum { O_NAME = 256, O_CHUNK, O_OPS, O_SEED, O_VMT, O_INT, O_CKPT,
	       O_MAXS, O_HOT, O_VERBOSE, O_SELFTEST, O_STSIZE, O_STSECT, O_STBUG,
	       O_FAILOVER, O_FOAT, O_MIRROR, O_REPDM, O_REPLOWER, O_FAULT,
	       O_FAULTDM, O_FAULTEPS, O_FAULTKINDS, O_RETRYENOMEM, O_MAKEITFAIL, O_DEV0 };
	static const struct option lo[] = {
		{ "name", 1, NULL, O_NAME },
		{ "vm", 1, NULL, O_DEV0 + DEV_VM },
		{ "ingress", 1, NULL, O_DEV0 + DEV_INGRESS },
		{ "base", 1, NULL, O_DEV0 + DEV_BASE },
		{ "hidden", 1, NULL, O_DEV0 + DEV_HIDDEN },
		{ "active", 1, NULL, O_DEV0 + DEV_ACTIVE },
		{ "replica", 1, NULL, O_DEV0 + DEV_REPLICA },
		{ "mirror", 0, NULL, O_MIRROR },
		{ "replica-dm", 1, NULL, O_REPDM },
		{ "replica-lower", 1, NULL, O_REPLOWER },
		{ "chunk", 1, NULL, O_CHUNK },
		{ "ops", 1, NULL, O_OPS },
		{ "seed", 1, NULL, O_SEED },
		{ "vm-threads", 1, NULL, O_VMT },
		{ "ingress-threads", 1, NULL, O_INT },
		{ "checkpoint-every", 1, NULL, O_CKPT },
		{ "max-sectors", 1, NULL, O_MAXS },
		{ "hot", 1, NULL, O_HOT },
		{ "verbose", 0, NULL, O_VERBOSE },
		{ "selftest", 0, NULL, O_SELFTEST },
		{ "selftest-size", 1, NULL, O_STSIZE },
		{ "selftest-sectors", 1, NULL, O_STSECT },
		{ "selftest-bug", 1, NULL, O_STBUG },
		{ "failover", 0, NULL, O_FAILOVER },
		{ "failover-at", 1, NULL, O_FOAT },
		{ "fault", 1, NULL, O_FAULT },
		{ "fault-dm", 1, NULL, O_FAULTDM },
		{ "fault-episodes", 1, NULL, O_FAULTEPS },
		{ "fault-kinds", 1, NULL, O_FAULTKINDS },
		{ "retry-enomem", 0, NULL, O_RETRYENOMEM },
		{ "make-it-fail", 0, NULL, O_MAKEITFAIL },
		{ "help", 0, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct timespec ts;
	uint64_t r, at_lo, at_hi;
	int c, d;

	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case O_NAME: opt.name = optarg; break;
		case O_CHUNK: opt.chunk = parse_u64("chunk", optarg, 1, 2048); break;
		case O_OPS: opt.ops = parse_u64("ops", optarg, 1, 0xfffffffULL); break;
		case O_SEED:
			opt.seed = parse_u64("seed", optarg, 0, UINT64_MAX);
			opt.seed_given = true;
			break;
		case O_VMT: opt.vm_threads = parse_u64("vm-threads", optarg, 0, MAX_THREADS); break;
		case O_INT:
			opt.in_threads = parse_u64("ingress-threads", optarg, 0, MAX_THREADS);
			opt.in_threads_given = true;
			break;
		case O_CKPT: opt.ckpt_every = parse_u64("checkpoint-every", optarg, 0, UINT64_MAX); break;
		case O_MAXS: opt.max_sectors = parse_u64("max-sectors", optarg, 1, 65536); break;
		case O_HOT: opt.hot = parse_u64("hot", optarg, 0, 100); break;
		case O_VERBOSE: opt.verbose = true; break;
		case O_SELFTEST: opt.selftest = true; break;
		case O_STSIZE:
			opt.selftest_sectors = parse_u64("selftest-size", optarg, 1, 1024) * 2048;
			break;
		case O_STSECT:
			opt.selftest_sectors = parse_u64("selftest-sectors", optarg, 1, 1ULL << 21);
			break;
		case O_STBUG:
			for (d = BUG_NONE + 1; d < NR_BUGS; d++)
				if (!strcmp(optarg, bug_name[d]))
					break;
			if (d >= NR_BUGS)
				usage();
			opt.bug = d;
			break;
		case O_FAILOVER: opt.failover = true; break;
		case O_FOAT:
			opt.failover_at = parse_u64("failover-at", optarg, 1, 0xfffffffULL);
			opt.failover_at_given = opt.failover = true;
			break;
		case O_MIRROR: opt.mirror = true; break;
		case O_FAULT:
			for (d = 0; d < 3 && strcmp(optarg, leg_opt[d]); d++)
				;
			if (d == 3)
				usage();
			opt.fault_leg = d;
			break;
		case O_FAULTDM: opt.fault_dm = optarg; break;
		case O_RETRYENOMEM: opt.retry_enomem = true; break;
		case O_MAKEITFAIL: opt.make_it_fail = true; break;
		case O_FAULTEPS:
			opt.fault_eps = parse_u64("fault-episodes", optarg, 1, FAULT_MAX_EPISODES);
			break;
		case O_FAULTKINDS: {
			char *list = strdup(optarg), *tok, *save = NULL;

			opt.fault_kinds = 0;
			for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
				for (d = 0; d < NR_FK && strcmp(tok, fk_name[d]); d++)
					;
				if (d == NR_FK) {
					fprintf(stderr, "colo-fsx: --fault-kinds: unknown kind '%s'\n", tok);
					usage();
				}
				opt.fault_kinds |= 1U << d;
			}
			free(list);
			if (!opt.fault_kinds)
				usage();
			break;
		}
		case O_REPDM: opt.replica_dm = optarg; break;
		case O_REPLOWER: opt.replica_lower = optarg; break;
		default:
			if (c >= O_DEV0 && c < O_DEV0 + NR_DEVS) {
				opt.dev[c - O_DEV0] = optarg;
				break;
			}
			usage();
		}
	}
	if (optind != argc) {
		fprintf(stderr, "colo-fsx: unexpected argument '%s'\n", argv[optind]);
		usage();
	}
	if (!opt.chunk || (opt.chunk & (opt.chunk - 1))) {
		fprintf(stderr, "colo-fsx: --chunk is required, a power of two from 1 to 2048\n");
		usage();
	}
	if (opt.mirror) {
		static char rep_path[300];

		if (opt.failover) {
			fprintf(stderr, "colo-fsx: --mirror and --failover do not go together\n");
			usage();
		}
		if (opt.in_threads_given && opt.in_threads) {
			fprintf(stderr, "colo-fsx: --mirror: a primary has no ingress: --ingress-threads must be 0\n");
			usage();
		}
		opt.in_threads = 0;
		opt.ckpt_every = 0;	/* a primary has no checkpoints */
		for (d = 0; d < NR_DEVS; d++)
			if (opt.dev[d] && (d == DEV_INGRESS || d == DEV_HIDDEN || d == DEV_ACTIVE)) {
				fprintf(stderr, "colo-fsx: --mirror: --%s is not used (a primary has only base)\n",
					dev_opt[d]);
				usage();
			}
		if (!opt.replica_dm != !opt.replica_lower) {
			fprintf(stderr, "colo-fsx: --replica-dm and --replica-lower go together\n");
			usage();
		}
		if (opt.replica_dm && !opt.dev[DEV_REPLICA] && !opt.selftest) {
			snprintf(rep_path, sizeof(rep_path), "/dev/mapper/%s", opt.replica_dm);
			opt.dev[DEV_REPLICA] = rep_path;
		}
	} else if (opt.dev[DEV_REPLICA] || opt.replica_dm || opt.replica_lower) {
		fprintf(stderr, "colo-fsx: --replica, --replica-dm and --replica-lower need --mirror\n");
		usage();
	}
	if ((opt.bug == BUG_MIRROR_NOCLEAR || opt.bug == BUG_MIRROR_NODUAL ||
	     opt.bug == BUG_MIRROR_DIRTY_GUESS) != opt.mirror && opt.bug) {
		fprintf(stderr, "colo-fsx: --selftest-bug %s %s --mirror\n", bug_name[opt.bug],
			opt.mirror ? "does not go with" : "needs");
		usage();
	}
	if (!opt.selftest) {
		if (!opt.name) {
			fprintf(stderr, "colo-fsx: --name is required\n");
			usage();
		}
		for (d = 0; d < NR_DEVS; d++)
			if (dev_used(d) && !opt.dev[d]) {
				fprintf(stderr, "colo-fsx: --%s is required\n", dev_opt[d]);
				usage();
			}
	}
	if (opt.bug && !opt.selftest) {
		fprintf(stderr, "colo-fsx: --selftest-bug needs --selftest\n");
		usage();
	}
	if (opt.fault_leg >= 0 && (opt.failover || opt.mirror)) {
		fprintf(stderr, "colo-fsx: --fault is for secondary mode: not with --failover or --mirror\n");
		usage();
	}
	if (opt.fault_leg >= 0 && !opt.selftest && !opt.fault_dm) {
		fprintf(stderr, "colo-fsx: --fault needs --fault-dm NAME (the leg's dm device)\n");
		usage();
	}
	if (opt.fault_leg < 0 && opt.fault_dm) {
		fprintf(stderr, "colo-fsx: --fault-dm needs --fault\n");
		usage();
	}
	if ((opt.bug == BUG_FAULT_COW || opt.bug == BUG_FAULT_FILL ||
	     opt.bug == BUG_FAULT_WRONG_SIDE) && opt.fault_leg < 0) {
		fprintf(stderr, "colo-fsx: --selftest-bug %s needs --fault\n", bug_name[opt.bug]);
		usage();
	}
	if (opt.fault_leg >= 0 && opt.ops < 40 * (uint64_t)opt.fault_eps) {
		fprintf(stderr, "colo-fsx: --fault: --ops must be at least 40 per episode\n");
		usage();
	}
	if (opt.fault_leg >= 0 && opt.ckpt_every == 0) {
		fprintf(stderr, "colo-fsx: --fault needs checkpoints (--checkpoint-every > 0)\n");
		usage();
	}
	if ((opt.bug == BUG_NOFENCE || opt.bug == BUG_COMMIT_HIDDEN) && !opt.failover) {
		fprintf(stderr, "colo-fsx: --selftest-bug %s needs --failover\n", bug_name[opt.bug]);
		usage();
	}
	if (opt.failover_at_given && opt.failover_at > opt.ops) {
		fprintf(stderr, "colo-fsx: --failover-at %" PRIu64 " is beyond --ops %" PRIu64 "\n",
			opt.failover_at, opt.ops);
		usage();
	}
	if (opt.vm_threads + opt.in_threads == 0) {
		fprintf(stderr, "colo-fsx: no threads\n");
		usage();
	}
	if (!opt.max_sectors)
		opt.max_sectors = 4 * opt.chunk < 8 ? 8 : 4 * opt.chunk;
	if (!opt.seed_given) {
		clock_gettime(CLOCK_REALTIME, &ts);
		opt.seed = ((uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec) ^
			   ((uint64_t)getpid() << 32);
		opt.seed %= 1000000000000ULL;	/* short enough to retype */
	}
	if (opt.failover && !opt.failover_at_given) {
		r = opt.seed ^ 0x6661696c6f766572ULL;	/* "failover" */
		at_lo = opt.ops / 4 ? opt.ops / 4 : 1;
		at_hi = 3 * opt.ops / 4 > at_lo ? 3 * opt.ops / 4 : at_lo;
		opt.failover_at = at_lo + rnd(&r, at_hi - at_lo + 1);
	}
	if (opt.mirror) {
		uint64_t t;
		int i, j;

		/* Events at seeded op counts in [1, 4*ops/5], sorted. */
		r = opt.seed ^ 0x6d6972726f72ULL;	/* "mirror" */
		at_hi = 4 * opt.ops / 5 ? 4 * opt.ops / 5 : 1;
		opt.mir_nevents = 4 + rnd(&r, MIRROR_MAX_EVENTS - 3);
		for (i = 0; i < opt.mir_nevents; i++)
			opt.mir_event_at[i] = 1 + rnd(&r, at_hi);
		for (i = 1; i < opt.mir_nevents; i++)
			for (j = i; j > 0 && opt.mir_event_at[j - 1] > opt.mir_event_at[j]; j--) {
				t = opt.mir_event_at[j];
				opt.mir_event_at[j] = opt.mir_event_at[j - 1];
				opt.mir_event_at[j - 1] = t;
			}
	}
	if (opt.fault_leg >= 0) {
		int kinds[NR_FK], nk = 0, off, i, j, t;
		uint64_t slot;

		/*
		 * Episodes in equal slots of [1, 4*ops/5]: each starts in the
		 * first quarter of its slot and lasts half a slot; the kinds
		 * in a seeded order, each once before any repeats.
		 */
		r = opt.seed ^ 0x6661756c74ULL;	/* "fault" */
		for (i = 0; i < NR_FK; i++)
			if (opt.fault_kinds & (1U << i))
				kinds[nk++] = i;
		for (i = nk - 1; i > 0; i--) {
			j = rnd(&r, i + 1);
			t = kinds[i];
			kinds[i] = kinds[j];
			kinds[j] = t;
		}
		off = rnd(&r, nk);
		slot = 4 * opt.ops / 5 / opt.fault_eps;
		for (i = 0; i < opt.fault_eps; i++) {
			opt.fault_start[i] = 1 + i * slot + rnd(&r, slot / 4);
			opt.fault_probe[i] = opt.fault_start[i] +
				(slot / 4 < FAULT_PROBE_AFTER ? slot / 4 : FAULT_PROBE_AFTER);
			opt.fault_end[i] = opt.fault_start[i] + slot / 2;
			opt.fault_kind[i] = kinds[(off + i) % nk];
		}
	}
	build_replay(argc, argv);
}

int main(int argc, char **argv)
{
	struct worker w[2 * MAX_THREADS];
	uint64_t nr[4] = { 0 };
	int i, k, nthreads, err;
	pthread_t control;
	char fo_str[48] = "", mir_str[512] = "", flt_str[512] = "";
	uint8_t *buf, *ctl_buf = NULL;

	setvbuf(stdout, NULL, _IOLBF, 0);
	parse_args(argc, argv);
	pat_init(opt.seed);

	if (opt.selftest)
		len_sectors = opt.selftest_sectors;
	else
		dev_open_all();
	nr_chunks = (len_sectors + opt.chunk - 1) / opt.chunk;
	nthreads = opt.vm_threads + opt.in_threads;
	if (opt.mirror) {
		/* rate-limited syncs: a full pass in at most ~8 s */
		opt.mir_rate = bytes(len_sectors) / 1024 / 8;
		if (opt.mir_rate < 8192)
			opt.mir_rate = 8192;
		mir_ctl_tid = nthreads;
		ctl_next_id = opt.ops;
		snprintf(mir_str, sizeof(mir_str), " mirror replica=%s%s%s failures=%s rate=%u events_at=",
			 dev_path(DEV_REPLICA), opt.replica_dm ? " replica_dm=" : "",
			 opt.replica_dm ? opt.replica_dm : "",
			 opt.replica_dm || opt.selftest ? "on" : "off", opt.mir_rate);
		for (i = 0; i < opt.mir_nevents; i++)
			snprintf(mir_str + strlen(mir_str), sizeof(mir_str) - strlen(mir_str),
				 "%s%" PRIu64, i ? "," : "", opt.mir_event_at[i]);
	}

	if (opt.failover)
		snprintf(fo_str, sizeof(fo_str), " failover_at=%" PRIu64, opt.failover_at);
	if (opt.fault_leg >= 0) {
		flt_ctl_tid = nthreads;
		ctl_next_id = opt.ops;
		flt_leg_sectors = opt.selftest ? len_sectors :
			dev_size(dev_fd[DEV_BASE + opt.fault_leg],
				 opt.dev[DEV_BASE + opt.fault_leg]) / SECTOR_SIZE;
		snprintf(flt_str, sizeof(flt_str), " fault=%s fault_dm=%s episodes=",
			 leg_opt[opt.fault_leg], opt.fault_dm ? opt.fault_dm : "sim");
		for (i = 0; i < opt.fault_eps; i++)
			snprintf(flt_str + strlen(flt_str), sizeof(flt_str) - strlen(flt_str),
				 "%s%s@%" PRIu64 "-%" PRIu64, i ? "," : "",
				 fk_name[opt.fault_kind[i]], opt.fault_start[i], opt.fault_end[i]);
	}
	printf("# colo-fsx: seed=%" PRIu64 " chunk=%" PRIu64 " len=%" PRIu64 " vm_threads=%d ingress_threads=%d ops=%" PRIu64 " checkpoint_every=%" PRIu64 " max_sectors=%" PRIu64 " hot=%u chunks=%" PRIu64 "%s%s%s%s%s%s\n",
	       opt.seed, opt.chunk, len_sectors, opt.vm_threads, opt.in_threads,
	       opt.ops, opt.ckpt_every, opt.max_sectors, opt.hot, nr_chunks,
	       fo_str, mir_str, flt_str, opt.selftest ? " selftest" : "",
	       opt.bug ? " bug=" : "", opt.bug ? bug_name[opt.bug] : "");

	if (opt.selftest)
		sim_init();
	buf = alloc_io(BIG_IO_SECTORS);
	setup_model(buf);
	if (opt.verbose)
		printf("# hot chunks: %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 "\n",
		       hot_chunk[0], hot_chunk[1], hot_chunk[2], hot_chunk[3]);

	if (opt.failover) {
		err = pthread_create(&control, NULL, control_fn, NULL);
		if (err)
			die_setup("pthread_create: %s", strerror(err));
	}
	if (opt.fault_leg >= 0) {
		flt_buf = alloc_io(opt.max_sectors > opt.chunk ? opt.max_sectors : opt.chunk);
		err = pthread_create(&control, NULL, fault_control_fn, NULL);
		if (err)
			die_setup("pthread_create: %s", strerror(err));
	}
	if (opt.mirror) {
		ctl_buf = alloc_io(opt.max_sectors);
		err = pthread_create(&mir_control, NULL, mirror_control_fn, ctl_buf);
		if (err)
			die_setup("pthread_create: %s", strerror(err));
	}
	/* --make-it-fail: no page fault of ours may need an allocation. */
	if (opt.make_it_fail && !opt.selftest && mlockall(MCL_CURRENT | MCL_FUTURE))
		die_setup("mlockall: %s", strerror(errno));
	pthread_barrier_init(&start_barrier, NULL, nthreads);
	for (i = 0; i < nthreads; i++) {
		w[i] = (struct worker){ .tid = i, .vm = i < opt.vm_threads };
		w[i].rng = opt.seed ^ (0x9e3779b97f4a7c15ULL * (i + 1));
		splitmix64(&w[i].rng);
		/* fixed shares: each thread's op sequence replays exactly */
		w[i].quota = opt.ops / nthreads + ((uint64_t)i < opt.ops % nthreads);
		w[i].buf = alloc_io(opt.max_sectors);
		err = pthread_create(&w[i].thread, NULL, worker_fn, &w[i]);
		if (err)
			die_setup("pthread_create: %s", strerror(err));
	}
	for (i = 0; i < nthreads; i++) {
		pthread_join(w[i].thread, NULL);
		for (k = 0; k < 4; k++)
			nr[k] += w[i].nr[k];
	}
	if (__atomic_load_n(&stop, __ATOMIC_RELAXED))	/* a failure is being reported; it exits */
		pause();

	if (opt.failover) {
		__atomic_store_n(&workers_done_ns, now_ns(), __ATOMIC_RELEASE);
		pthread_mutex_lock(&gate_lock);
		fo_abort = true;
		pthread_cond_broadcast(&fo_cond);
		pthread_mutex_unlock(&gate_lock);
		pthread_join(control, NULL);
		if (__atomic_load_n(&stop, __ATOMIC_RELAXED))
			pause();
		if (!fo_triggered)
			fail("the failover point (op %" PRIu64 ") was never reached: %" PRIu64 " ops issued",
			     opt.failover_at, ops_issued);
		fo_report(w, nthreads);
		final_verify_failover(buf);
		snprintf(fo_str, sizeof(fo_str), " failover_at=%" PRIu64 " to_commit=%" PRIu64,
			 opt.failover_at, fo_to_commit);
	} else if (opt.mirror) {
		pthread_mutex_lock(&gate_lock);
		fo_abort = true;
		pthread_cond_broadcast(&fo_cond);
		pthread_mutex_unlock(&gate_lock);
		pthread_join(mir_control, NULL);
		if (__atomic_load_n(&stop, __ATOMIC_RELAXED))
			pause();
		if (mir_ev_next != opt.mir_nevents)
			fail("internal: %d of %d mirror events ran", mir_ev_next, opt.mir_nevents);
		final_verify_mirror(buf, ctl_buf, mir_str, sizeof(mir_str));
	} else if (opt.fault_leg >= 0) {
		pthread_mutex_lock(&gate_lock);
		fo_abort = true;
		pthread_cond_broadcast(&fo_cond);
		pthread_mutex_unlock(&gate_lock);
		pthread_join(control, NULL);
		if (__atomic_load_n(&stop, __ATOMIC_RELAXED))
			pause();
		if (flt_ev_next != 3 * opt.fault_eps)
			fail("internal: %d of %d fault events ran", flt_ev_next, 3 * opt.fault_eps);
		final_verify(buf);
		printf("# fault-summary leg=%s chunk=%" PRIu64 " error=%u flakey-w=%u flakey=%u delay=%u failreq=%u eio_vm=%" PRIu64 " eio_ingress=%" PRIu64 " probes_failed=%" PRIu64 " probes_ok=%" PRIu64 " pinned_old=%" PRIu64 " pinned_new=%" PRIu64 " lost=0\n",
		       leg_opt[opt.fault_leg], opt.chunk, flt_nkind[FK_ERROR],
		       flt_nkind[FK_FLAKEY_W], flt_nkind[FK_FLAKEY], flt_nkind[FK_DELAY],
		       flt_nkind[FK_FAILREQ], flt_eio[0], flt_eio[1], flt_probe_fail, flt_probe_ok,
		       pinned_old[0] + pinned_old[1], pinned_new[0] + pinned_new[1]);
		snprintf(flt_str, sizeof(flt_str), " fault=%s eio_vm=%" PRIu64 " eio_ingress=%" PRIu64,
			 leg_opt[opt.fault_leg], flt_eio[0], flt_eio[1]);
	} else {
		final_verify(buf);
	}
	if (opt.retry_enomem)
		printf("# colo-fsx: %" PRIu64 " messages sent again after ENOMEM\n",
		       __atomic_load_n(&enomem_retries, __ATOMIC_RELAXED));
	if (__atomic_load_n(&eagain_retries, __ATOMIC_RELAXED))
		printf("# colo-fsx: %" PRIu64 " messages sent again after EAGAIN (a reload not resumed yet)\n",
		       __atomic_load_n(&eagain_retries, __ATOMIC_RELAXED));
	if (opt.make_it_fail)
		printf("# colo-fsx: %" PRIu64 " I/Os sent again after ENOMEM\n",
		       __atomic_load_n(&io_enomem, __ATOMIC_RELAXED));
	printf("colo-fsx: PASS seed=%" PRIu64 " ops=%" PRIu64 " chunk=%" PRIu64 " len=%" PRIu64 " checkpoints=%" PRIu64
	       " vm_reads=%" PRIu64 " vm_writes=%" PRIu64 " ingress_reads=%" PRIu64 " ingress_writes=%" PRIu64 "%s%s%s%s\n",
	       opt.seed, ops_issued, opt.chunk, len_sectors, nr_checkpoints,
	       nr[OP_VM_READ], nr[OP_VM_WRITE], nr[OP_IN_READ], nr[OP_IN_WRITE],
	       fo_str, opt.mirror ? mir_str : "", flt_str, opt.selftest ? " selftest" : "");

	for (i = 0; i < nthreads; i++)
		free(w[i].buf);
	free(buf);
	free(ctl_buf);
	free(flt_buf);
	cleanup();
	return 0;
}
