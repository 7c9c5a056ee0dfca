/* SPDX-License-Identifier: GPL-2.0 */
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
 * --mirror-async MAX_LAG runs the same checks with an async mirror
 * (dm-colo-async.c): every start is "... async MAX_LAG", and a quarter of
 * the events of a running mirror switch it ("mirror sync", or "mirror
 * async N" with N one of MAX_LAG, 4, 64, 1024 KiB; "mirror sync" with no
 * mirror must be refused).  Every status line must show the mode the
 * checker set (none without a mirror, a degraded mirror keeps its mode)
 * with its max_lag, and a lag (KiB of background replica writes in flight)
 * no larger than max_lag; "mirror sync" must leave the lag at 0 when it
 * returns.  A compare of the raw replica (workers held, and at the end)
 * first waits until the lag is 0 and the writes that went ahead were
 * copied (in sync, nothing dirty); the final burst of writes in sync runs
 * after a "mirror sync".  --replica-delay MS makes the replica's good table
 * dm-delay (MS per write) over --replica-lower, so that the lag fills and
 * writes go ahead; replica failures swap it to "error" and back as usual.
 * The selftest does not simulate the async mode.
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
 * --fleece BUFDEV adds a colo-fleece view of base (its buffer BUFDEV) and a
 * reader thread that checks it against a snapshot of the model taken when
 * it started, with discards, "needed" messages and status checks, while the
 * workers, checkpoints, the failover or the mirror go on; --fleece-every N
 * restarts it, --fleece-small gives it a buffer that must fill (broken:full,
 * nothing else).  See the top of fsx-fleece.c.
 *
 * Exit status: 0 PASS, 1 FAIL (mismatch, I/O error, bad status), 2 usage or
 * setup error.
 *
 * The checker is split by job, all sharing this header: fsx-main.c (command
 * line, setup, final checks, main), fsx-pattern.c (random numbers, data
 * pattern, ring of recent ops, failure reports), fsx-sim.c (the simulated
 * target of --selftest), fsx-dev.c (devices, I/O, dmsetup, messages,
 * status), fsx-worker.c (checkpoint gate, range reservations, worker
 * threads), fsx-failover.c, fsx-mirror.c and fsx-fault.c (the modes'
 * control threads and checks), fsx-fleece.c (--fleece: its reader).
 */
#ifndef COLO_FSX_H
#define COLO_FSX_H

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
	      DEV_REPLICA, DEV_FLEECE, NR_DEVS };
extern const char *const dev_opt[NR_DEVS];

enum op_kind { OP_VM_READ, OP_VM_WRITE, OP_IN_READ, OP_IN_WRITE, OP_CKPT,
	       OP_FO_SEND, OP_FO_DONE, OP_MIRROR };
extern const char *const op_name[];

enum sim_bug { BUG_NONE, BUG_COW, BUG_FILL, BUG_NOFENCE, BUG_COMMIT_HIDDEN,
	       BUG_MIRROR_NOCLEAR, BUG_MIRROR_NODUAL, BUG_FAULT_COW,
	       BUG_FAULT_FILL, BUG_FAULT_WRONG_SIDE, BUG_MIRROR_DIRTY_GUESS, NR_BUGS };
extern const char *const bug_name[];

/* Failover phases (--failover), see the top of the file. */
enum { FO_BEFORE, FO_RUNNING, FO_DONE };
#define POST_FENCE_OPS	32	/* ingress ops per thread after the fence */
#define COMMIT_POLL_MS	50
#define COMMIT_TIMEOUT_S 120

/* --mirror, see the top of the file. */
enum { MIR_NONE, MIR_COPYING, MIR_INSYNC, MIR_DEGRADED, NR_MIR_STATES };
extern const char *const mir_state_name[];
#define MIR_RUNNING		(1U << MIR_COPYING | 1U << MIR_INSYNC)
/* The status's dirty_coverage, and the checker's model of it (maybe: either). */
enum { COV_UNKNOWN, COV_COMPLETE, COV_MAYBE };
extern const char *const cov_name[];
#define MIRROR_MAX_EVENTS	8
#define MIRROR_EVENT_SLACK	128	/* ops past an event point before it is done */
#define MIRROR_EPISODE_WRITES	8	/* control-thread VM writes per replica failure */
#define MIRROR_DEGRADED_S	10
#define MIRROR_SYNC_TIMEOUT_S	120
#define MIRROR_BURST_OPS	200

/* --fault, see the top of the file. */
enum { FK_ERROR, FK_FLAKEY_W, FK_FLAKEY, FK_DELAY, FK_FAILREQ, NR_FK };
extern const char *const fk_name[];
extern const bool fk_reads[];	/* reads may fail */
extern const bool fk_writes[];	/* writes may fail */
extern const bool fk_certain[];	/* ... and surely do */
extern const unsigned int fk_min_ms[];	/* flakey: up 1 s, down 1 s */
/* failreq needs CONFIG_FAIL_MAKE_REQUEST: only named in --fault-kinds */
#define FK_DEFAULT_KINDS	(((1U << NR_FK) - 1) & ~(1U << FK_FAILREQ))
extern const char *const leg_opt[];
#define FAULT_MAX_EPISODES	16
#define FAULT_START_SLACK	32	/* ops past an episode's start (probes) before they run */
#define FAULT_END_SLACK		256	/* ... past its end before it ends */
#define FAULT_PROBE_AFTER	4	/* the probes run this many ops into the fault */
#define FAULT_PROBE_CHUNKS	64	/* with fewer chunks, a probe may find none clean */
#define FAULT_PREP_ACTIVE	2	/* chunks the control VM-writes before a fault */
#define FAULT_PREP_HIDDEN	4	/* ... and ingress-writes */
#define FAULT_DELAY_MS		20	/* dm-delay's delay */

struct fsx_opt {
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
	unsigned int mir_async;		/* --mirror-async: max_lag in KiB (0: sync) */
	unsigned int replica_delay;	/* --replica-delay: ms per replica write */
	int fault_leg;			/* --fault: LEG_*, or -1 */
	const char *fault_dm;		/* the leg's dm device */
	int fault_eps;			/* episodes */
	unsigned int fault_kinds;	/* mask of FK_* to use */
	uint64_t fault_start[FAULT_MAX_EPISODES], fault_probe[FAULT_MAX_EPISODES];
	uint64_t fault_end[FAULT_MAX_EPISODES];
	int fault_kind[FAULT_MAX_EPISODES];
	const char *fleece_buf;		/* --fleece: the fleece's buffer device */
	uint64_t fleece_every;		/* --fleece-every: restart every N ops */
	bool fleece_small;		/* --fleece-small: a buffer that must fill */
	int fleece_bug;			/* --fleece-bug live: compare with live base */
};

extern struct fsx_opt opt;

extern char *replay_cmd;
extern bool setup_phase;	/* dmsetup trouble now is a setup error */

/* Geometry, in sectors; the last chunk may be short. */
extern uint64_t len_sectors, nr_chunks;
extern uint64_t hot_chunk[HOT_CHUNKS];

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
extern uint8_t *view, *base, *base_ckpt;
extern uint8_t *vm_wrote, *in_wrote;
extern uint64_t nr_checkpoints;
/* --failover: see the top of the file. */
extern uint8_t *vm_pre, *fo_race, *fo_vmw;
extern int fo_phase;	/* atomic */
extern int fence_seen;			/* atomic: an ingress op failed with EIO */
/* --mirror: what the checker did (control thread, then main). */
extern bool mir_running;	/* a start succeeded and no stop/failure since */
extern int mir_cov;	/* the dirty coverage (see the top of the file) */
extern bool mir_full_unseen;	/* a full start ran and was not seen in sync since */
extern int mir_in_episode;	/* atomic: a replica failure is being injected */
extern int mir_replica_broken;	/* atomic: the replica's table is "error" */
extern int mir_ev_next;		/* under gate_lock: the next event to run */
extern uint64_t mir_replica_sectors;
extern unsigned int mir_starts, mir_stops, mir_failures, mir_refused;
extern unsigned int mir_dirty_starts, mir_dirty_refused;	/* dirty starts accepted, refused */
extern const char *mir_cov_why;	/* why mir_cov is what it is */
extern unsigned int mir_insync_checks;	/* replica compares in sync, workers held */
extern bool mir_session_checked;	/* since the last start */
extern bool mir_session_full;	/* the last start was full */
extern uint64_t ctl_next_id;	/* atomic: ids of the control thread's VM writes */
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
extern unsigned int fault_state;	/* atomic */
extern struct unres *unres[2];
extern uint64_t unres_n[2];		/* atomic: unresolved sectors per side */
extern uint64_t pinned_old[2], pinned_new[2];	/* atomic: how they resolved */
extern int health_may_err, health_must_err;	/* atomic */
extern uint64_t flt_eio[2], flt_ep_eio[2];	/* atomic: EIOs per side (all, episode) */
extern uint64_t flt_probe_fail, flt_probe_ok;	/* probes that failed / succeeded as they must */
extern int flt_ev_next;		/* under gate_lock: the next fault event (3 per episode) */
extern int flt_ctl_tid;
extern uint64_t flt_leg_sectors;
extern bool flt_event_checked;

/* Thread ids 60..63 with op 0 mark the selftest's initial leg contents. */
#define TID_INIT_REPLICA 60
#define TID_INIT_ACTIVE	61
#define TID_INIT_HIDDEN	62
#define TID_INIT_BASE	63

/* The simulated kernel (--selftest), fsx-sim.c */
enum { LEG_BASE, LEG_HIDDEN, LEG_ACTIVE, NR_LEGS };
enum { COMMIT_NONE, COMMIT_RUNNING, COMMIT_FAILED, COMMIT_DONE };
extern const char *const commit_state_name[];

struct fsx_sim {
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
};

extern struct fsx_sim sim;

static inline int sim_mstate(void)
{
	return __atomic_load_n(&sim.mstate, __ATOMIC_ACQUIRE);
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
	char mmode[16];		/* the mirror's mode: none|sync|async ("" if absent) */
	uint64_t lag, max_lag, ahead;	/* KiB in flight, its limit; writes ahead */
	bool ok;
	char line[4096];
};

/* In-flight sector ranges of one side; ops of one side never overlap. */
struct rangeset {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct { uint64_t start, end; bool used; } r[MAX_THREADS];
};

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

/* --fault: what an op must do (fault_do_op()) */
enum { EXP_MAY, EXP_OK, EXP_FAIL, EXP_FAIL_EXACT };

/* fsx-pattern.c */
extern volatile int stop;
uint64_t splitmix64(uint64_t *state);
uint64_t rnd(uint64_t *state, uint64_t n);
void pat_init(uint64_t seed);
void pat_fill(void *buf, uint64_t op, unsigned int tid,
	      uint64_t start, uint64_t nsect);
void ring_log(uint64_t id, int tid, enum op_kind kind,
	      uint64_t start, uint64_t nsect);
void ring_log_mirror(const char *what, uint64_t ops_now);
void __attribute__((noreturn, format(printf, 1, 2))) fail(const char *fmt, ...);
void __attribute__((noreturn, format(printf, 1, 2))) die_setup(const char *fmt, ...);
void check_buf(const char *what, enum dev_id d, uint64_t off,
	       const uint8_t *exp, const uint8_t *act, size_t len);

/* fsx-sim.c */
void sim_init(void);
int sim_failover(void);
int sim_mirror_message(const char *msg, char *out, size_t outsz);
int sim_io(enum dev_id d, uint8_t *buf, uint64_t start, uint64_t nsect,
	   bool write);

/* fsx-dev.c */
extern int dev_fd[NR_DEVS];
extern uint64_t io_enomem;	/* atomic: --make-it-fail I/Os sent again */
extern uint64_t enomem_retries;	/* atomic */
extern uint64_t eagain_retries;	/* atomic: messages sent again after EAGAIN */
const char *dev_path(enum dev_id d);
uint64_t dev_size(int fd, const char *path);
bool dev_used(int d);
void dev_open_all(void);
int dev_io_try(enum dev_id d, void *buf, uint64_t start, uint64_t nsect,
	       bool write, uint64_t op);
void dev_io(enum dev_id d, void *buf, uint64_t start, uint64_t nsect,
	    bool write, uint64_t op);
void set_make_it_fail(void);
int run_dmsetup(char *const argv[], char *out, size_t outsz);
int dev_message(const char *msg, char *out, size_t outsz);
void dev_checkpoint(void);
void dev_status(struct colo_status *st);
void verify_status(const char *when);
void *alloc_io(uint64_t nsect);
void check_range(const char *what, enum dev_id d, const uint8_t *model,
		 uint64_t start, uint64_t nsect, uint8_t *buf);
int dm_swap_try(const char *dm, const char *table, char *err, size_t errsz);

/* fsx-worker.c */
extern pthread_mutex_t gate_lock;
extern pthread_cond_t gate_cond;
extern uint64_t ops_issued, in_flight, ckpt_done_at;
extern bool ckpt_pending;
extern pthread_cond_t fo_cond;
extern bool fo_triggered, fo_abort;
extern uint64_t pre_done_in_flight;	/* ops begun before phase FO_DONE */
extern pthread_barrier_t start_barrier;
extern struct rangeset side_ranges[2];
void do_checkpoint(int tid, uint64_t at);
int range_reserve(struct rangeset *rs, uint64_t start, uint64_t end);
void range_release(struct rangeset *rs, int slot);
uint64_t now_ns(void);
void mark_chunks(uint8_t *flags, uint64_t start, uint64_t nsect);
uint64_t ops_now(void);
void sleep_ms(unsigned int ms);
void *worker_fn(void *arg);

/* fsx-failover.c */
extern uint64_t fo_t0, fo_tret, fo_tdone, fo_first_read;
extern uint64_t fo_to_commit, fo_ops_at_return;
extern uint64_t workers_done_ns;	/* atomic; 0 while workers run */
bool ingress_op_failover(struct worker *w, enum op_kind kind,
			 uint64_t id, uint64_t start, uint64_t nsect);
void *control_fn(void *arg);
void fo_report(const struct worker *w, int nthreads);
void final_verify_failover(uint8_t *buf);

/* fsx-mirror.c */
extern pthread_t mir_control;
extern int mir_ctl_tid;		/* the control thread's id in patterns and logs */
void mirror_fail_cleanup(void);
int mirror_check_status(const char *when, const struct colo_status *st,
			unsigned int allowed, bool lenient);
void *mirror_control_fn(void *arg);
void final_verify_mirror(uint8_t *buf, uint8_t *wbuf, char *sum, size_t sumsz);

/* fsx-fault.c */
extern uint8_t *flt_buf;	/* the control thread's I/O buffer */
extern unsigned int flt_nkind[NR_FK];
void fault_pace(void);
int fault_do_op(int tid, uint64_t id, enum op_kind kind, uint64_t start,
		uint64_t nsect, uint8_t *buf, int expect, const char *why);
void fault_fail_cleanup(void);
int fault_probe(enum op_kind kind, int64_t c, uint64_t start, uint64_t n,
		int expect, const char *why);
void *fault_control_fn(void *arg);

/* fsx-fleece.c */
void fleece_setup(void);
void fleece_note_write(bool vm, uint64_t start, uint64_t nsect, bool done);
void fleece_note_failover(void);
void fleece_finish(char *sum, size_t sumsz);

#endif /* COLO_FSX_H */
