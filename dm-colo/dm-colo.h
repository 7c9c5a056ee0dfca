/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dm-colo: state shared by the files of the module.
 */
#ifndef DM_COLO_H
#define DM_COLO_H

#include <linux/bio.h>
#include <linux/device-mapper.h>
#include <linux/dm-io.h>
#include <linux/list.h>
#include <linux/llist.h>
#include <linux/mutex.h>
#include <linux/rcupdate.h>
#include <linux/types.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include "dm-colo-bitmap.h"
#include "dm-colo-chunk.h"
#include "dm-colo-compat.h"
#include "dm-colo-copy.h"
#include "dm-colo-lock.h"
#include "dm-colo-meta.h"
#include "dm-colo-parse.h"
#include "dm-colo-rate.h"

struct colo_fleece;
struct colo_ingress;
struct colo_meta;

/* Bits of colo_c.flags. */
enum {
	COLO_LIVE,		/* the live table: an ingress may attach */
	COLO_ERROR,		/* an I/O error was seen; sticky, shown in status */
	COLO_HOLD_ALL,		/* checkpoint: hold new VM and ingress bios */
	COLO_HOLD_INGRESS,	/* suspended: hold new ingress bios */
	COLO_FENCED,		/* failed over: ingress bios fail */
	COLO_SUSPENDED,		/* between presuspend and resume */
	COLO_BASE_WRITTEN,	/* an ingress write since the last checkpoint */
	/*
	 * The metadata names a persistent fleece that no active fleece
	 * keeps base for (detached, broken, or loaded after a crash): the
	 * name is cleared before the next write to base (dm-colo-save.c).
	 */
	COLO_FLEECE_STALE,
};

/* Background work that waits for a copy slot (dm-colo-job.c). */
enum {
	COLO_SLOT_WAITER_COMMIT,
	COLO_SLOT_WAITER_MIRROR,
	COLO_NR_SLOT_WAITERS,
};

/* The failover commit (dm-colo-commit.c). */
enum colo_commit_state {
	COLO_COMMIT_NONE,	/* no failover yet */
	COLO_COMMIT_RUNNING,	/* active/hidden chunks being written to base */
	COLO_COMMIT_FAILED,	/* stopped by an I/O error; failover resumes */
	COLO_COMMIT_DONE,	/* base holds everything; overlay unused */
};

/* The mirror to a replica (dm-colo-mirror.c), primary mode. */
enum colo_mirror_state {
	COLO_MIRROR_NONE,	/* no replica */
	COLO_MIRROR_COPYING,	/* phase 1: copying chunks to the replica */
	COLO_MIRROR_INSYNC,	/* phase 2: every write reaches both */
	COLO_MIRROR_DEGRADED,	/* a replica error: writes go to base only */
};

/* The online verify of base against the replica (dm-colo-verify.c). */
enum colo_verify_state {
	COLO_VERIFY_NONE,	/* never run on this device */
	COLO_VERIFY_RUNNING,	/* comparing chunks */
	COLO_VERIFY_DONE,	/* every chunk compared */
	COLO_VERIFY_STOPPED,	/* verify stop, or the mirror was stopped */
	COLO_VERIFY_FAILED,	/* a read error on base, the mirror degraded */
};

/*
 * The verify's state. @state changes under msg_lock, or in the work item
 * when the pass ends; the cursor, the rate window, the buffers and the
 * waiting job belong to the work item. @found holds the chunks found
 * different by the last pass (read by "verify ranges"); its directory is
 * allocated by the first verify of the table (dir NULL until then).
 */
struct colo_verify {
	enum colo_verify_state state;	/* READ_ONCE outside msg_lock */
	bool stopping;			/* the work item must not go on */
	u64 cursor;			/* next chunk to compare */
	u64 verified;			/* chunks compared; READ_ONCE */
	u64 to_verify;
	u64 different;			/* chunks found different; READ_ONCE */
	struct colo_rate rate;		/* of the compared bytes */
	void *base_buf;			/* one extent each, while running */
	void *replica_buf;
	struct colo_chunk_job *waiting;	/* for a busy chunk */
	struct colo_bitmap found;
	struct delayed_work work;
};

/*
 * One "colo" target. Fields set by the constructor are constant for its
 * life; @node and @ingress are protected by colo_registry_lock.
 */
struct colo_c {
	struct dm_target *ti;
	struct mapped_device *md;
	struct list_head node;		/* on colo_registry */

	enum colo_mode mode;		/* secondary until failover; READ_ONCE */
	struct dm_dev *base;
	struct dm_dev *hidden;		/* NULL in primary mode */
	struct dm_dev *active;		/* NULL in primary mode */

	unsigned int chunk_shift;
	u64 nr_chunks;
	unsigned int max_copies;

	struct colo_ingress *ingress;	/* attached ingress or NULL */
	struct colo_fleece __rcu *fleece;	/* attached fleece or NULL */
	struct dm_dev *meta_dev;	/* the metadata device or NULL */
	struct colo_meta *meta;		/* its state (dm-colo-meta.c) */
	unsigned int region_shift;	/* write-intent region, in sectors */
	unsigned long flags;
	bool carry;			/* takes the live table's state over */

	/*
	 * The chunk bitmaps and the per-chunk lock. active_map and hidden_map
	 * are used in secondary mode and, after failover, until the commit
	 * is done; dirty_map in primary mode.
	 */
	struct colo_bitmap active_map;
	struct colo_bitmap hidden_map;
	struct colo_bitmap dirty_map;
	struct colo_locks locks;

	/* The failover commit; state changes under commit_lock. */
	spinlock_t commit_lock;
	enum colo_commit_state commit_state;	/* READ_ONCE outside the lock */
	u64 commit_cursor;			/* next chunk to look at */
	u64 commit_next_active;			/* see next_pending() */
	u64 commit_next_hidden;
	u64 to_commit;				/* chunks pending at failover */
	atomic64_t committed;			/* chunks that left the commit */
	bool commit_skipped;			/* a chunk was passed over */
	struct colo_chunk_job *commit_waiting;	/* for a busy chunk */
	struct delayed_work commit_work;

	/*
	 * The mirror. State changes under mirror_lock; the I/O path reads
	 * mirror_state (acquire) and then replica. The cursor, the full-pass
	 * flag and the rate window belong to the mirror work item.
	 */
	spinlock_t mirror_lock;
	enum colo_mirror_state mirror_state;
	struct block_device *replica;		/* NULL without a mirror */
	struct colo_bdev_handle replica_handle;
	bool mirror_full_pass;			/* full sync, first pass */
	bool mirror_full_unsynced;		/* a full sync not in sync yet */
	/*
	 * The dirty bitmap may miss chunks that differ from a replica: a
	 * fresh table (no failover seeded it, no full sync finished), a full
	 * pass cut short, a replica flush that failed. A "dirty" start is
	 * refused while mirror_gap is set; it says why (a COLO_META_GAP_*
	 * value, colo_gap_reason(); 0: the bitmap is complete). With a
	 * metadata device, the marks on disk cover a failed flush once they
	 * are in the bitmap: flush_failures (mirror_lock) counts the failures,
	 * so that only a fold after the last one clears the gap.
	 */
	unsigned int mirror_gap;
	unsigned int flush_failures;
	u64 mirror_cursor;
	bool mirror_skipped;
	struct colo_chunk_job *mirror_waiting;	/* for a busy chunk */
	atomic64_t mirrored;			/* chunks copied */
	struct colo_rate mirror_rate;		/* of the copied bytes */
	struct delayed_work mirror_work;
	struct dm_io_client *io_client;		/* dual writes from the worker */
	struct bio_set replica_bs;		/* their clones, from map */

	/*
	 * The async mode (dm-colo-async.c). async_max_lag (KiB, 0: sync)
	 * changes under msg_lock; async_lag holds the bytes of background
	 * writes in flight and COLO_LAG_CLOSED (dm-colo-async.h).
	 */
	unsigned int async_max_lag;		/* READ_ONCE outside msg_lock */
	atomic64_t async_lag;
	atomic64_t async_ahead;			/* writes marked dirty instead */
	struct colo_bitmap async_map;		/* chunks a background write covers */
	bool async_map_ready;			/* its directory is allocated */
	wait_queue_head_t async_wq;		/* a switch waits for the lag */
	mempool_t async_sends;			/* background writes */
	struct bio_set async_bs;		/* their bios, and flushes */
	spinlock_t async_lock;			/* the pool and the lists */
	struct list_head async_pool;		/* their pages, for reuse */
	unsigned long async_pool_pages;
	struct llist_head async_spare;		/* ended ones, for reuse */
	spinlock_t async_spare_lock;		/* takes from async_spare */
	atomic_long_t async_spare_pages;	/* the pages their bios keep */
	struct list_head async_queue;		/* to read from base */
	struct list_head async_ready;		/* read, to write */
	u64 async_queued;			/* bytes on async_queue */
	struct delayed_work async_send;
	struct workqueue_struct *async_sender;

	struct colo_verify verify;		/* dm-colo-verify.c */

	/*
	 * Bios between map and end_io (VM and ingress), so that a checkpoint
	 * or a suspend can wait for them. See colo_enter().
	 */
	atomic_t inflight;
	wait_queue_head_t quiesce_wq;
	/* VM bios mapped, per cpu: the guest's activity for an auto rate. */
	unsigned long __percpu *guest_ios;
	struct mutex msg_lock;		/* serializes messages */

	/* Bios for the worker, and bios held while COLO_HOLD_* is set. */
	spinlock_t bio_lock;
	struct bio_list deferred;
	struct bio_list held;
	struct bio_list throttled;	/* over max_copies, see copy_chunk() */

	struct workqueue_struct *wq;
	struct work_struct worker;
	struct delayed_work reclaim_work;	/* see colo_checkpoint() */
	struct work_struct event_work;
	struct delayed_work retry_work;	/* see colo_retry_no_memory() */

	/*
	 * Every copy goes through the copier (dm-colo-copy.c). copies counts
	 * the copies started and not ended, waiting for the copier's pages
	 * or in flight: at most max_copies start (see copy_chunk()).
	 */
	struct colo_copier copier;
	atomic_t copies;
	atomic_t jobs;			/* of them, background chunk jobs */
	/*
	 * Background work to kick when a slot frees (the commit's and the
	 * mirror's, set by their init): see colo_copy_slot_put().
	 */
	void (*slot_waiters[COLO_NR_SLOT_WAITERS])(struct colo_c *cc);
};

/*
 * One "colo-ingress" target. @cc is set under colo_registry_lock and read
 * under RCU by the I/O path; it is NULL once the colo target it belonged to
 * went away.
 */
struct colo_ingress {
	struct dm_target *ti;
	struct dm_dev *base;
	struct colo_bdev_handle colo_pin;	/* holds the colo device open */
	struct mapped_device *colo_md;	/* the device colo_pin holds */
	struct colo_c __rcu *cc;
};

/* Per-bio data of the three targets. */
struct colo_io {
	struct colo_lock_holder holder;
	struct colo_c *cc;		/* whose inflight count holds the bio */
	struct colo_fleece *fleece;	/* a colo-fleece bio: its fleece */
	sector_t sector;		/* target-relative, same on every leg */
	u64 chunk;
	bool ingress;
	bool counted;			/* in cc->inflight */
	bool set_active;		/* set active[chunk] when it completes */
	bool commit_chunk;		/* chunk leaves the commit when it completes */
	bool refused;			/* failed by dm-colo, not by a leg */
	bool replica_flush;		/* a flush sent to the replica */
	bool counted_read;		/* colo_lock_read() of chunk's granule */
	bool mirrored;			/* its replica clone was sent from map */
	struct colo_async_send *async;	/* its background write, queued at end */
	bool replica_failed;		/* and failed (before it ends) */
	bool save_parked;		/* parked for a fleece save (save.c) */
	bool fleece_release;		/* a read_once read: releases its chunk */
	unsigned int meta_sectors;	/* counted in its regions' users */
	/* Last, not cleared by map: the fill or copy-before-write of a chunk. */
	struct colo_copy copy;
};

/*
 * A background copy (failover commit, mirror) of chunks @chunk to @last,
 * adjacent and inside one extent (colo_extent_last()), holding them
 * exclusive as one lock range and counted in cc->inflight and cc->copies
 * (one copy however many chunks). @done runs on completion, in process
 * context, before the chunks and the copy slot are free again.
 */
struct colo_chunk_job {
	struct colo_c *cc;
	struct colo_lock_holder holder;
	u64 chunk;
	u64 last;			/* colo_chunk_job_grow() */
	struct delayed_work *owner;	/* queued when a waited chunk is held */
	void (*done)(struct colo_chunk_job *job, int read_err,
		     unsigned long write_err);
	struct colo_copy copy;
};

static inline const char *colo_name(struct colo_c *cc)
{
	return dm_device_name(cc->md);
}

static inline struct colo_io *colo_io_of(struct bio *bio)
{
	return dm_per_bio_data(bio, sizeof(struct colo_io));
}

/* Send @bio to @bdev at the same sector (every leg is addressed alike). */
static inline void colo_remap(struct colo_io *io, struct bio *bio,
			      struct block_device *bdev)
{
	bio_set_dev(bio, bdev);
	bio->bi_iter.bi_sector = io->sector;
}

/* The last chunk of @bio (the first is io->chunk). */
static inline u64 colo_bio_last_chunk(struct colo_c *cc, struct colo_io *io,
				      struct bio *bio)
{
	return colo_sector_to_chunk(io->sector + bio_sectors(bio) - 1,
				    cc->chunk_shift);
}

/*
 * Bios are not split at chunk borders by dm (no max_io_len): a bio over
 * several chunks is sent whole when every chunk takes the same path
 * (vm_whole(), ingress_whole() in dm-colo-io.c), else cut at its first
 * chunk border in map, the only place dm_accept_partial_bio() is allowed;
 * dm sends the rest as a new bio. A flush never has data at map. A bio over
 * several chunks reaches the worker only in primary mode with the commit
 * done (a mirrored write within one lock granule, or one whose dirty leaves
 * need allocating), where the worker treats its chunks alike; colo_enter()
 * cuts a bio it holds, since held bios run in the worker, and
 * colo_save_before_write() one that waits for a fleece's save.
 */
static inline bool colo_bio_spans_chunks(struct colo_c *cc,
					 struct colo_io *io, struct bio *bio)
{
	return bio_sectors(bio) &&
	       colo_sector_to_chunk(io->sector, cc->chunk_shift) !=
	       colo_bio_last_chunk(cc, io, bio);
}

/* Keep only @bio's first chunk; dm sends the rest as a new bio. Map only. */
static inline void colo_cut_at_chunk_border(struct colo_c *cc,
					    struct colo_io *io, struct bio *bio)
{
	u64 chunk = colo_sector_to_chunk(io->sector, cc->chunk_shift);

	dm_accept_partial_bio(bio, colo_chunk_to_sector(chunk + 1,
							cc->chunk_shift) -
				   io->sector);
}

/* dm-colo-io.c: the data path */
int colo_io_init(struct colo_c *cc);
void colo_io_destroy(struct colo_c *cc);
int colo_map(struct dm_target *ti, struct bio *bio);
int colo_ingress_map(struct colo_ingress *ic, struct bio *bio);
int colo_end_io(struct dm_target *ti, struct bio *bio, blk_status_t *error);
int colo_checkpoint(struct colo_c *cc);

/* dm-colo-flight.c: bios in flight, holds, the worker's queues, events */
void colo_flight_init(struct colo_c *cc);
void colo_flight_destroy(struct colo_c *cc);
bool colo_enter(struct colo_c *cc, struct bio *bio, struct colo_io *io,
		bool in_map);
void colo_exit(struct colo_c *cc);
bool colo_enter_job(struct colo_c *cc);
int colo_hold_and_drain(struct colo_c *cc);
int colo_hold_and_drain_uninterruptible(struct colo_c *cc);
void colo_hold_ingress(struct colo_c *cc);
void colo_quiesce(struct colo_c *cc);
void colo_release_hold(struct colo_c *cc, int hold_bit);
void colo_fail_held(struct colo_c *cc);
void colo_move_held(struct colo_c *from, struct colo_c *to);
void colo_error(struct colo_c *cc);
void colo_event(struct colo_c *cc);
int colo_fail_bio(struct bio *bio);
void colo_defer_bio(struct colo_c *cc, struct bio *bio);
void colo_defer_bio_next_cpu(struct colo_c *cc, struct bio *bio);
int colo_next_cpu(void);
void colo_defer_bios(struct colo_c *cc, struct bio_list *bios);
int colo_defer_to_worker(struct colo_c *cc, struct bio *bio);
bool colo_prepare_or_defer(struct colo_c *cc, struct bio *bio,
			   struct colo_bitmap *bm, u64 chunk, bool in_worker,
			   const char *what);
int colo_retry_no_memory(struct colo_c *cc, struct bio *bio,
			 const char *bitmap);

/* dm-colo-job.c: copy slots and the background chunk jobs */
void colo_jobs_init(struct colo_c *cc);
void colo_copy_slot_put(struct colo_c *cc);
void colo_unthrottle(struct colo_c *cc);
void colo_chunk_regions(struct colo_c *cc, u64 first, u64 last,
			struct block_device *from, struct block_device *to,
			struct dm_io_region *src, struct dm_io_region *dst);
struct colo_chunk_job *colo_chunk_job_get(struct colo_c *cc, u64 chunk,
					  struct delayed_work *owner);
bool colo_chunk_job_holds(struct colo_chunk_job *job);
bool colo_chunk_job_room(struct colo_c *cc);
void colo_chunk_job_drop(struct colo_chunk_job **waiting);
void colo_work_settle(struct colo_c *cc, struct delayed_work *work);
void colo_chunk_job_put(struct colo_chunk_job *job);
void colo_chunk_job_grow(struct colo_chunk_job *job,
			 bool (*same)(struct colo_chunk_job *job, u64 chunk));
void colo_chunk_job_copy(struct colo_chunk_job *job, struct block_device *from,
			 struct block_device *to);

/* The overlay (active, hidden) is read: secondary mode or commit unfinished. */
static inline bool colo_overlay(struct colo_c *cc)
{
	enum colo_commit_state state = READ_ONCE(cc->commit_state);

	return READ_ONCE(cc->mode) == COLO_MODE_SECONDARY ||
	       state == COLO_COMMIT_RUNNING || state == COLO_COMMIT_FAILED;
}

/* dm-colo-commit.c */
int colo_failover(struct colo_c *cc);
void colo_commit_stop(struct colo_c *cc);
void colo_commit_init(struct colo_c *cc);
void colo_commit_kick(struct colo_c *cc);
bool colo_chunk_pending(struct colo_c *cc, u64 chunk);
void colo_chunk_committed(struct colo_c *cc, u64 chunk);
const char *colo_commit_state_name(enum colo_commit_state state);
bool colo_commit_busy(struct colo_c *cc);
void colo_commit_carry(struct colo_c *from, struct colo_c *to);

/* dm-colo-mirror.c */
int colo_mirror_init(struct colo_c *cc);
void colo_mirror_pause(struct colo_c *cc);
u64 colo_mirror_left(struct colo_c *cc);
void colo_mirror_destroy(struct colo_c *cc);
int colo_mirror_start(struct colo_c *cc, const char *path,
		      enum colo_mirror_sync sync, unsigned int rate,
		      unsigned int min_rate, unsigned int max_lag);
int colo_mirror_set_async(struct colo_c *cc, unsigned int max_lag);
/* Why a background write of the async mode was not written to the replica. */
enum colo_send_fail {
	COLO_SEND_OK,
	COLO_SEND_REPLICA,	/* the replica's write failed */
	COLO_SEND_BASE,		/* its read of base failed */
	COLO_SEND_NOMEM,	/* no bio or pages: the chunks went ahead */
};

void colo_mirror_send_failed(struct colo_c *cc, u64 first, u64 last,
			     enum colo_send_fail why);
int colo_mirror_stop(struct colo_c *cc);
int colo_mirror_rate(struct colo_c *cc, unsigned int rate,
		     unsigned int min_rate);
void colo_log_rate(struct colo_c *cc, const char *what, unsigned int rate,
		   unsigned int min_rate);
void colo_mirror_kick(struct colo_c *cc);
void colo_mirror_dirty_added(struct colo_c *cc);
void colo_mirror_flush_failed(struct colo_c *cc);
void colo_dirty_incomplete(struct colo_c *cc, unsigned int why);
const char *colo_gap_reason(unsigned int gap);
void colo_dirty_complete(struct colo_c *cc);
unsigned int colo_flush_failures(struct colo_c *cc);
void colo_dirty_covered(struct colo_c *cc, unsigned int failures);
void colo_mirror_carry(struct colo_c *from, struct colo_c *to);
bool colo_mirror_active(struct colo_c *cc);
int colo_mirror_write(struct colo_c *cc, struct bio *bio, struct colo_io *io,
		      bool in_worker);
void colo_mirror_write_end(struct colo_c *cc, struct colo_io *io,
			   blk_status_t error);
const char *colo_mirror_state_name(enum colo_mirror_state state);
enum colo_mirror_state colo_mirror_state(struct colo_c *cc);

/* dm-colo-async.c */
enum colo_async_result {
	COLO_ASYNC_SENT,	/* its copy is in flight in the background */
	COLO_ASYNC_AHEAD,	/* not sent: mark its chunks dirty */
	COLO_ASYNC_SYNC,	/* sync mode: write both, wait for both */
};

int colo_async_init(struct colo_c *cc);
void colo_async_destroy(struct colo_c *cc);
unsigned int colo_async_max_lag(struct colo_c *cc);
bool colo_async_busy(struct colo_c *cc, u64 chunk);
enum colo_async_result colo_async_write(struct colo_c *cc, struct bio *bio,
					struct colo_io *io);
void colo_async_queue(struct colo_c *cc, struct colo_io *io);
bool colo_async_flush(struct colo_c *cc, struct bio *bio);
int colo_async_switch(struct colo_c *cc, unsigned int max_lag);
int colo_async_prepare(struct colo_c *cc);
void colo_async_reset(struct colo_c *cc, unsigned int max_lag);
void colo_async_count_ahead(struct colo_c *cc);
void colo_async_status(struct colo_c *cc, char *result, unsigned int maxlen,
		       unsigned int *sz);
void colo_async_carry(struct colo_c *from, struct colo_c *to);

/* dm-colo-verify.c */
int colo_verify_init(struct colo_c *cc);
void colo_verify_destroy(struct colo_c *cc);
int colo_verify_start(struct colo_c *cc, unsigned int rate,
		      unsigned int min_rate);
int colo_verify_stop(struct colo_c *cc);
int colo_verify_rate(struct colo_c *cc, unsigned int rate,
		     unsigned int min_rate);
void colo_verify_cancel(struct colo_c *cc, const char *why);
void colo_verify_pause(struct colo_c *cc);
void colo_verify_kick(struct colo_c *cc);
void colo_verify_carry(struct colo_c *from, struct colo_c *to);
int colo_verify_ranges(struct colo_c *cc, u64 from, char *result,
		       unsigned int maxlen);
void colo_verify_status(struct colo_c *cc, char *result, unsigned int maxlen,
			unsigned int *sz);

/* dm-colo-msg.c */
void colo_status(struct dm_target *ti, status_type_t type,
		 unsigned int status_flags, char *result, unsigned int maxlen);
int colo_message(struct dm_target *ti, unsigned int argc, char **argv,
		 char *result, unsigned int maxlen);

/* dm-colo-target.c */
bool colo_has_ingress(struct colo_c *cc);
bool colo_fresh_reload_pending(struct colo_c *cc);
void colo_status_source(struct colo_c *cc, void (*fn)(struct colo_c *src,
						      void *arg), void *arg);
int colo_msg_ready(struct colo_c *cc);

#endif /* DM_COLO_H */
