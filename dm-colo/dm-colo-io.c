// SPDX-License-Identifier: GPL-2.0
/*
 * dm-colo: the data path of secondary mode and the copy engine.
 *
 * Per chunk c, with A = active[c] and H = hidden[c]:
 *
 *   VM read        active if A, else hidden if H, else base
 *   VM write       active; if !A, the chunk is first filled in active from
 *                  the VM's view (unless the write covers it), then A is set
 *   ingress write  base; if !A and !H, base's chunk is first copied to
 *                  hidden and H set, so the VM's view does not change
 *   ingress read   base
 *
 * Serialization (the per-chunk lock, dm-colo-lock.h): a VM read of base
 * holds its chunk shared until it completes; a fill, and a copy-before-write
 * up to the setting of H, hold it exclusive. An ingress write to a chunk
 * with A but not H waits for the chunk's holders (VM reads of base that
 * started before A was set). With A or H set nothing reads base for the VM,
 * so the common case takes no lock. Every decision made before taking the
 * lock is made again after it.
 *
 * Bios that need a copy or an allocation go to a worker; copies are done by
 * the copy engine (dm-colo-copy.c), at most max_copies started at once.
 * Every bio of either target is counted in cc->inflight from map to
 * end_io, so that checkpoint and suspend can wait for the I/O in flight.
 *
 * The background chunk jobs of the failover commit and the mirror live
 * here too: a job holds a range of adjacent chunks (one extent at most)
 * exclusive and copies them with one copy of the engine.
 */
#include <linux/blkdev.h>
#include <linux/slab.h>

#include "dm-colo.h"

#define DM_MSG_PREFIX "colo"

#define COLO_LOCK_HASH_BITS	10
/*
 * Lock granule: 1 MiB, the largest VM read of clean chunks sent whole, and
 * the copy engine's extent: a background copy holds its extent as one
 * lock range.
 */
#define COLO_LOCK_GRANULE_SECTOR_SHIFT	COLO_EXTENT_SECTOR_SHIFT

static void remap(struct colo_io *io, struct bio *bio, struct dm_dev *dev)
{
	colo_remap(io, bio, dev->bdev);
}

static sector_t chunk_start(struct colo_c *cc, u64 chunk)
{
	return colo_chunk_to_sector(chunk, cc->chunk_shift);
}

static sector_t chunk_len(struct colo_c *cc, u64 chunk)
{
	return colo_chunk_len(chunk, cc->ti->len, cc->chunk_shift);
}

static bool bio_covers_chunk(struct colo_c *cc, struct colo_io *io,
			     struct bio *bio)
{
	return io->sector == chunk_start(cc, io->chunk) &&
	       bio_sectors(bio) == chunk_len(cc, io->chunk);
}

/*
 * Bios are not split at chunk borders by dm (no max_io_len): a bio over
 * several chunks is sent whole when every chunk takes the same path
 * (vm_whole(), ingress_whole()), else cut at its first chunk border in
 * map, the only place dm_accept_partial_bio() is allowed; dm sends the
 * rest as a new bio. A flush never has data at map. A bio over several
 * chunks reaches the worker only in primary mode with the commit done (a
 * mirrored write within one lock granule, or one whose dirty leaves need
 * allocating), where the worker treats its chunks alike; colo_enter()
 * cuts a bio it holds, since held bios run in the worker.
 */
static bool bio_spans_chunks(struct colo_c *cc, struct colo_io *io,
			     struct bio *bio)
{
	return bio_sectors(bio) &&
	       colo_sector_to_chunk(io->sector, cc->chunk_shift) !=
	       colo_bio_last_chunk(cc, io, bio);
}

static void cut_at_chunk_border(struct colo_c *cc, struct colo_io *io,
				struct bio *bio)
{
	u64 chunk = colo_sector_to_chunk(io->sector, cc->chunk_shift);

	dm_accept_partial_bio(bio, chunk_start(cc, chunk + 1) - io->sector);
}

/*
 * Map's step for a bio over several chunks: @whole sends it whole, or
 * returns -EAGAIN and it is cut at its first chunk border. Returns -EAGAIN
 * when the (now one-chunk) bio is for the per-chunk path.
 */
static int map_spanning(struct colo_c *cc, struct bio *bio,
			struct colo_io *io,
			int (*whole)(struct colo_c *cc, struct bio *bio,
				     struct colo_io *io))
{
	int r;

	if (!bio_spans_chunks(cc, io, bio))
		return -EAGAIN;
	io->chunk = colo_sector_to_chunk(io->sector, cc->chunk_shift);
	r = whole(cc, bio, io);
	if (r == -EAGAIN)
		cut_at_chunk_border(cc, io, bio);
	return r;
}

/* Every chunk from @first to @last is set in @bm. Any context. */
static bool all_set(struct colo_bitmap *bm, u64 first, u64 last)
{
	u64 c;

	for (c = first; c <= last; c++)
		if (!colo_bitmap_test(bm, c))
			return false;
	return true;
}

/*
 * Complete @bio with an error from map or the worker; end_io still runs.
 * The bio was refused (fenced, unsupported), no leg failed: the
 * health flag is left alone.
 */
int colo_fail_bio(struct bio *bio)
{
	colo_io_of(bio)->refused = true;
	bio_io_error(bio);
	return DM_MAPIO_SUBMITTED;
}

/* Deferred bios: the worker runs them again from the top. */
static void kick_worker(struct colo_c *cc)
{
	queue_work(cc->wq, &cc->worker);
}

/* Run @bios again from the top in the worker. Any context. */
void colo_defer_bios(struct colo_c *cc, struct bio_list *bios)
{
	unsigned long flags;

	spin_lock_irqsave(&cc->bio_lock, flags);
	bio_list_merge(&cc->deferred, bios);
	spin_unlock_irqrestore(&cc->bio_lock, flags);
	kick_worker(cc);
}

/* Put @bio on the worker's list; the caller sees that the worker runs. */
static void add_deferred(struct colo_c *cc, struct bio *bio)
{
	unsigned long flags;

	spin_lock_irqsave(&cc->bio_lock, flags);
	bio_list_add(&cc->deferred, bio);
	spin_unlock_irqrestore(&cc->bio_lock, flags);
}

static void defer_bio(struct colo_c *cc, struct bio *bio)
{
	add_deferred(cc, bio);
	kick_worker(cc);
}

/*
 * Map cannot do what @bio needs without sleeping: the worker runs it again
 * from the top. The caller changed nothing it would not redo and holds no
 * chunk. Returns DM_MAPIO_SUBMITTED. Map context.
 */
int colo_defer_to_worker(struct colo_c *cc, struct bio *bio)
{
	defer_bio(cc, bio);
	return DM_MAPIO_SUBMITTED;
}

/* Bios that found no memory run again (colo_retry_no_memory()). */
static void retry_worker(struct work_struct *work)
{
	struct colo_c *cc = container_of(to_delayed_work(work), struct colo_c,
					 retry_work);

	kick_worker(cc);
}

/* Bios that found no memory run again this much later. */
#define COLO_NOMEM_RETRY	(HZ / 20)

/*
 * A chunk bitmap could not get a page, even in the worker with GFP_NOIO
 * (which the page allocator all but never lets happen to a kworker; fault
 * injection does). The caller changed nothing and released the chunk. The
 * bio is not failed: a VM that sees an I/O error for want of a page may
 * remount its file system read-only. It stays counted in flight (a hold or
 * a suspend waits for it) and runs again from the top in the worker after
 * COLO_NOMEM_RETRY, as a parked bio does; the VM sees a slow write. Worker
 * context.
 */
int colo_retry_no_memory(struct colo_c *cc, struct bio *bio,
			 const char *bitmap)
{
	DMWARN_LIMIT("%s: no memory for the %s bitmap, I/O retried",
		     colo_name(cc), bitmap);
	add_deferred(cc, bio);
	queue_delayed_work(cc->wq, &cc->retry_work, COLO_NOMEM_RETRY);
	return DM_MAPIO_SUBMITTED;
}

/* The lock's wake callback: parked bios retry from the worker. */
static void wake_bios(void *context, struct bio_list *bios)
{
	colo_defer_bios(context, bios);
}

/* Errors and events. */
static void event_worker(struct work_struct *work)
{
	struct colo_c *cc = container_of(work, struct colo_c, event_work);

	dm_table_event(cc->ti->table);
}

/* Raise a dm event (dmsetup wait) from any context. */
void colo_event(struct colo_c *cc)
{
	queue_work(cc->wq, &cc->event_work);
}

/* Note an I/O error: sticky in status, and one dm event. Any context. */
void colo_error(struct colo_c *cc)
{
	if (!test_and_set_bit(COLO_ERROR, &cc->flags)) {
		DMERR_LIMIT("%s: I/O error", colo_name(cc));
		colo_event(cc);
	}
}

/*
 * In-flight accounting and holds.
 *
 * colo_enter() increments inflight, then reads the hold bits; colo_hold()
 * sets a hold bit, then reads inflight (through colo_quiesce()). A full
 * barrier sits between the two steps on each side, so either the holder
 * sees the bio counted and waits for it, or the bio sees the hold and is
 * put on the held list.
 */
void colo_exit(struct colo_c *cc)
{
	/*
	 * A waiter may see zero before wake_up() ran and free @cc: the
	 * destructor waits for this read-side section (synchronize_rcu() in
	 * colo_dtr()) before it does.
	 */
	rcu_read_lock();
	if (atomic_dec_and_test(&cc->inflight))
		wake_up(&cc->quiesce_wq);
	rcu_read_unlock();
}

static unsigned long hold_mask(struct colo_io *io)
{
	return io->ingress ? BIT(COLO_HOLD_ALL) | BIT(COLO_HOLD_INGRESS) :
			     BIT(COLO_HOLD_ALL);
}

/*
 * @in_map: called from map, where a bio over several chunks is cut at its
 * first chunk border before it is held (held bios run in the worker).
 */
static bool colo_enter(struct colo_c *cc, struct bio *bio, struct colo_io *io,
		       bool in_map)
{
	unsigned long flags, mask = hold_mask(io);

	for (;;) {
		atomic_inc(&cc->inflight);
		/* Pairs with the barrier in colo_hold(). */
		smp_mb__after_atomic();
		if (likely(!(READ_ONCE(cc->flags) & mask))) {
			io->counted = true;
			return true;
		}
		colo_exit(cc);

		if (in_map && bio_spans_chunks(cc, io, bio))
			cut_at_chunk_border(cc, io, bio);
		spin_lock_irqsave(&cc->bio_lock, flags);
		if (READ_ONCE(cc->flags) & mask) {
			bio_list_add(&cc->held, bio);
			spin_unlock_irqrestore(&cc->bio_lock, flags);
			return false;
		}
		spin_unlock_irqrestore(&cc->bio_lock, flags);
	}
}

static void colo_hold(struct colo_c *cc, int hold_bit)
{
	set_bit(hold_bit, &cc->flags);
	/* Pairs with the barrier in colo_enter(). */
	smp_mb__after_atomic();
}

void colo_hold_ingress(struct colo_c *cc)
{
	colo_hold(cc, COLO_HOLD_INGRESS);
}

/* Wait for every counted bio, including its copies, to complete. */
void colo_quiesce(struct colo_c *cc)
{
	wait_event(cc->quiesce_wq, !atomic_read(&cc->inflight));
}

/* Drop a hold; held bios retry (and are held again if another hold is on). */
void colo_release_hold(struct colo_c *cc, int hold_bit)
{
	unsigned long flags;
	struct bio_list bios;

	bio_list_init(&bios);
	spin_lock_irqsave(&cc->bio_lock, flags);
	clear_bit(hold_bit, &cc->flags);
	bio_list_merge(&bios, &cc->held);
	bio_list_init(&cc->held);
	spin_unlock_irqrestore(&cc->bio_lock, flags);
	if (!bio_list_empty(&bios))
		colo_defer_bios(cc, &bios);
}

/* Move the bios held by @cc to @bios. */
static void take_held(struct colo_c *cc, struct bio_list *bios)
{
	unsigned long flags;

	bio_list_init(bios);
	spin_lock_irqsave(&cc->bio_lock, flags);
	bio_list_merge(bios, &cc->held);
	bio_list_init(&cc->held);
	spin_unlock_irqrestore(&cc->bio_lock, flags);
}

/* The target goes away: held bios (ingress ones) fail. */
void colo_fail_held(struct colo_c *cc)
{
	struct bio_list bios;
	struct bio *bio;

	take_held(cc, &bios);
	while ((bio = bio_list_pop(&bios))) {
		colo_io_of(bio)->cc = NULL;
		bio_io_error(bio);
	}
}

/*
 * A reload: bios held by @from (ingress bios held while it was suspended)
 * wait in @to, the table that replaces it, and go on when it resumes.
 * Neither table runs I/O.
 */
void colo_move_held(struct colo_c *from, struct colo_c *to)
{
	struct bio_list bios;
	struct bio *bio;

	take_held(from, &bios);
	for (bio = bios.head; bio; bio = bio->bi_next)
		colo_io_of(bio)->cc = to;

	spin_lock_irq(&to->bio_lock);
	bio_list_merge(&to->held, &bios);
	spin_unlock_irq(&to->bio_lock);
}

/*
 * Hold new bios of both targets and wait for the ones in flight with their
 * copies. On a signal the hold is dropped and -EINTR returned; otherwise
 * the caller drops it with colo_release_hold(cc, COLO_HOLD_ALL).
 */
int colo_hold_and_drain(struct colo_c *cc)
{
	int r;

	colo_hold(cc, COLO_HOLD_ALL);
	r = wait_event_interruptible(cc->quiesce_wq,
				     !atomic_read(&cc->inflight));
	if (r)
		colo_release_hold(cc, COLO_HOLD_ALL);
	return r;
}

/* The same, for callers that must not be interrupted (mirror stop). */
int colo_hold_and_drain_uninterruptible(struct colo_c *cc)
{
	colo_hold(cc, COLO_HOLD_ALL);
	wait_event(cc->quiesce_wq, !atomic_read(&cc->inflight));
	return 0;
}

/*
 * checkpoint: hold new bios, wait for the ones in flight (with their
 * copies), clear both bitmaps (O(1), see dm-colo-bitmap.h), let bios go.
 * A signal while waiting aborts it with nothing changed.
 */
int colo_checkpoint(struct colo_c *cc)
{
	int r = colo_hold_and_drain(cc);

	if (r)
		return r;
	colo_bitmap_clear_all(&cc->active_map);
	colo_bitmap_clear_all(&cc->hidden_map);
	colo_release_hold(cc, COLO_HOLD_ALL);
	queue_work(cc->wq, &cc->reclaim_work);
	return 0;
}

static void reclaim_worker(struct work_struct *work)
{
	struct colo_c *cc = container_of(work, struct colo_c, reclaim_work);

	colo_bitmap_reclaim(&cc->active_map);
	colo_bitmap_reclaim(&cc->hidden_map);
}

/*
 * The copies of the data path: one chunk from one leg to another with the
 * copy engine (dm-colo-copy.c), at most max_copies started at once (the
 * engine's pool bounds how many move data; the others wait in it, holding
 * their chunk). A bio over the limit drops its lock and waits on the
 * throttled list, which is re-run whenever a copy completes; the check and
 * the wait happen under bio_lock on both sides, so no wakeup is lost.
 */
static void colo_unthrottle(struct colo_c *cc)
{
	unsigned long flags;
	struct bio_list bios;

	bio_list_init(&bios);
	spin_lock_irqsave(&cc->bio_lock, flags);
	if (atomic_read(&cc->copies) < cc->max_copies) {
		bio_list_merge(&bios, &cc->throttled);
		bio_list_init(&cc->throttled);
	}
	spin_unlock_irqrestore(&cc->bio_lock, flags);
	if (!bio_list_empty(&bios))
		colo_defer_bios(cc, &bios);
}

/*
 * A copy ended, whoever started it (a VM or ingress bio, the commit, the
 * mirror): its slot is free, and everyone who stopped at max_copies runs
 * again. The background workers are kicked here, not by the owner of the
 * copy: a worker that stopped at the limit while the VM's copies filled it
 * would otherwise wait for ever (LESSONS.md #14). Any context.
 */
static void copy_slot_put(struct colo_c *cc)
{
	atomic_dec(&cc->copies);
	colo_unthrottle(cc);
	colo_commit_kick(cc);
	colo_mirror_kick(cc);
}

/* The end of a VM bio's copy (copy_chunk()). Process context. */
static void copy_done(int read_err, unsigned long write_err, void *context)
{
	struct bio *bio = context;
	struct colo_io *io = colo_io_of(bio);
	struct colo_c *cc = io->cc;

	copy_slot_put(cc);

	if (read_err || write_err) {
		colo_error(cc);
		io->set_active = false;
		io->commit_chunk = false;
		bio_io_error(bio);
		return;
	}
	if (io->commit_chunk) {
		/* Failover commit of a partially written chunk: now write. */
		remap(io, bio, cc->base);
	} else if (io->ingress) {
		/* The chunk's old content is safe: publish H, then write. */
		colo_bitmap_set(&cc->hidden_map, io->chunk);
		colo_lock_release(&cc->locks, &io->holder);
		remap(io, bio, cc->base);
	} else {
		remap(io, bio, cc->active);
	}
	dm_submit_bio_remap(bio, NULL);
}

/* The regions of a copy of chunks @first to @last from @from to @to. */
static void chunk_regions(struct colo_c *cc, u64 first, u64 last,
			  struct block_device *from, struct block_device *to,
			  struct dm_io_region *src, struct dm_io_region *dst)
{
	src->bdev = from;
	src->sector = chunk_start(cc, first);
	src->count = colo_chunks_len(first, last, cc->ti->len,
				     cc->chunk_shift);
	*dst = *src;
	dst->bdev = to;
}

/*
 * Copy @bio's chunk from @from to @to, then submit @bio (in copy_done(),
 * which may run before this returns). Worker context; may sleep.
 */
static int copy_chunk(struct colo_c *cc, struct bio *bio, struct colo_io *io,
		      struct dm_dev *from, struct dm_dev *to)
{
	struct dm_io_region src, dst;
	unsigned long flags;

	if (atomic_inc_return(&cc->copies) > cc->max_copies) {
		atomic_dec(&cc->copies);
		io->set_active = false;
		io->commit_chunk = false;
		colo_lock_release(&cc->locks, &io->holder);
		spin_lock_irqsave(&cc->bio_lock, flags);
		bio_list_add(&cc->throttled, bio);
		spin_unlock_irqrestore(&cc->bio_lock, flags);
		colo_unthrottle(cc);
		return DM_MAPIO_SUBMITTED;
	}

	chunk_regions(cc, io->chunk, io->chunk, from->bdev, to->bdev, &src,
		      &dst);
	colo_copy_start(&cc->copier, &io->copy, &src, &dst, copy_done, bio);
	return DM_MAPIO_SUBMITTED;
}

/*
 * Background chunk copies (the failover commit, the mirror). A job holds
 * its chunks exclusive from colo_chunk_job_get() to its end: one chunk,
 * then the ones colo_chunk_job_grow() adds, as one lock range. Its copy
 * counts in inflight (suspend and the destructor wait for it) and in
 * copies (the max_copies bound) and jobs. The caller checks
 * colo_chunk_job_room() before it starts one.
 */

/* The job's chunk was granted to it: its owner's work item goes on. */
static void chunk_job_granted(struct colo_lock_holder *h)
{
	struct colo_chunk_job *job = container_of(h, struct colo_chunk_job,
						  holder);

	mod_delayed_work(job->cc->wq, job->owner, 0);
}

/*
 * A job for @chunk, or NULL for want of memory. Without @owner, the job
 * holds the chunk, or it is NULL too when the chunk is busy. With @owner,
 * a busy chunk is waited for in the lock's queue, behind the bios already
 * waiting and ahead of later ones (so a hot chunk cannot starve it):
 * colo_chunk_job_holds() is false until the chunk is granted, which queues
 * @owner; the owner then starts the copy or cancels the job.
 */
struct colo_chunk_job *colo_chunk_job_get(struct colo_c *cc, u64 chunk,
					  struct delayed_work *owner)
{
	struct colo_chunk_job *job = kzalloc(sizeof(*job),
					     GFP_NOIO | __GFP_NOWARN);

	if (!job) {
		DMWARN_LIMIT("%s: no memory for a copy job, tried again later",
			     colo_name(cc));
		return NULL;
	}
	job->cc = cc;
	job->chunk = chunk;
	job->last = chunk;
	job->owner = owner;
	if (owner) {
		colo_lock_wait(&cc->locks, &job->holder, chunk, COLO_HOLD_EXCL,
			       chunk_job_granted);
		return job;
	}
	if (!colo_lock_try(&cc->locks, &job->holder, chunk, COLO_HOLD_EXCL,
			   NULL)) {
		kfree(job);
		return NULL;
	}
	return job;
}

/*
 * May the commit or the mirror start a job's copy now? Below max_copies,
 * and the engine has an extent's pages free with no copy waiting for
 * pages; or no job copies at all, so that VM copies that keep the engine
 * busy cannot starve the background (the job's copy then waits for its
 * pages in line). When it may not, a copy is in flight whose end kicks
 * the caller (copy_slot_put()). Any context.
 */
bool colo_chunk_job_room(struct colo_c *cc)
{
	if (atomic_read(&cc->copies) >= cc->max_copies)
		return false;
	return !atomic_read(&cc->jobs) || colo_copier_has_room(&cc->copier);
}

/* Does the job hold its chunk yet? */
bool colo_chunk_job_holds(struct colo_chunk_job *job)
{
	return colo_lock_held(&job->cc->locks, &job->holder);
}

/* End a job: release its chunk, or stop waiting for it. */
void colo_chunk_job_put(struct colo_chunk_job *job)
{
	colo_lock_cancel(&job->cc->locks, &job->holder);
	kfree(job);
}

/*
 * A background work item that keeps a job waiting for a busy chunk in
 * *@waiting does not go on (stopped, suspended): it gives the job up.
 * Called by that work item.
 */
void colo_chunk_job_drop(struct colo_chunk_job **waiting)
{
	if (*waiting) {
		colo_chunk_job_put(*waiting);
		*waiting = NULL;
	}
}

/*
 * Run @work (the commit's or the mirror's) once more and wait for it, after
 * its owner made it stop: it gives up a job waiting for a chunk, whose
 * grant could queue it at any time until then.
 */
void colo_work_settle(struct colo_c *cc, struct delayed_work *work)
{
	mod_delayed_work(cc->wq, work, 0);
	flush_delayed_work(work);
}

/*
 * Take the chunks after the job's into it, up to the end of its extent
 * (colo_extent_last()), while each is free in the lock and @same(job,
 * chunk) holds. @same is asked again once the chunk is held (only then is
 * what it tests stable), and the chunk given back when it no longer holds.
 * The job holds its chunks. Worker context; @same may sleep.
 */
void colo_chunk_job_grow(struct colo_chunk_job *job,
			 bool (*same)(struct colo_chunk_job *job, u64 chunk))
{
	struct colo_c *cc = job->cc;
	u64 limit = colo_extent_last(job->chunk, cc->chunk_shift,
				     cc->nr_chunks);

	while (job->last < limit && same(job, job->last + 1)) {
		if (!colo_lock_extend(&cc->locks, &job->holder))
			break;
		if (!same(job, job->last + 1)) {
			colo_lock_shrink(&cc->locks, &job->holder);
			break;
		}
		job->last++;
	}
}

/* The end of a job's copy. Process context. */
static void chunk_job_done(int read_err, unsigned long write_err,
			   void *context)
{
	struct colo_chunk_job *job = context;
	struct colo_c *cc = job->cc;

	job->done(job, read_err, write_err);
	atomic_dec(&cc->jobs);
	colo_chunk_job_put(job);
	/* With the chunk free: a kick before would find it busy. */
	copy_slot_put(cc);
	/* Last: suspend and the destructor wait for this. */
	colo_exit(cc);
}

/*
 * Copy the job's chunks from @from to @to; job->done is set. The job may
 * have ended (and be freed) when this returns. Worker context; may sleep.
 */
void colo_chunk_job_copy(struct colo_chunk_job *job, struct block_device *from,
			 struct block_device *to)
{
	struct colo_c *cc = job->cc;
	struct dm_io_region src, dst;

	atomic_inc(&cc->inflight);
	atomic_inc(&cc->copies);
	atomic_inc(&cc->jobs);
	chunk_regions(cc, job->chunk, job->last, from, to, &src, &dst);
	colo_copy_start(&cc->copier, &job->copy, &src, &dst, chunk_job_done,
			job);
}

/*
 * Flushes go to every leg that holds data of the path: one flush bio each
 * (dm_bio_get_target_bio_nr) for base, hidden and active (secondary tables),
 * and the replica while a mirror runs. A flush for a leg that is not there
 * has nothing to do. With a metadata device, the VM's flush to base first
 * puts the failover commit's progress on disk (colo_meta_sync()): a chunk
 * the VM wrote after it left the commit is never copied over again.
 */
static int remap_flush(struct colo_c *cc, struct bio *bio, struct colo_io *io,
		       bool in_worker)
{
	unsigned int nr = dm_bio_get_target_bio_nr(bio);
	struct block_device *bdev = NULL;

	if (nr == 0 && !io->ingress && colo_meta_sync_needed(cc)) {
		/* The commit's progress is durable before the flush is. */
		if (!in_worker) {
			defer_bio(cc, bio);
			return DM_MAPIO_SUBMITTED;
		}
		colo_meta_sync(cc);
	}
	if (nr == 0) {
		bdev = cc->base->bdev;
	} else if (cc->hidden && nr == 1) {
		bdev = cc->hidden->bdev;
	} else if (cc->hidden && nr == 2) {
		bdev = cc->active->bdev;
	} else if (!io->ingress && colo_mirror_active(cc)) {
		bdev = cc->replica;	/* read after the state (acquire) */
		io->replica_flush = true;
	}

	if (!bdev) {
		bio_endio(bio);
		return DM_MAPIO_SUBMITTED;
	}
	bio_set_dev(bio, bdev);
	return DM_MAPIO_REMAPPED;
}

/*
 * Where the overlay holds @chunk for the VM: active, else hidden, or NULL.
 * Lock-free during the failover commit, which clears hidden before active
 * (colo_chunk_committed()): a reader that sees active clear then sees
 * hidden clear too, and never takes the checkpoint's content in hidden for
 * a chunk the VM wrote.
 */
static struct dm_dev *overlay_leg(struct colo_c *cc, u64 chunk)
{
	if (colo_bitmap_test(&cc->active_map, chunk))
		return cc->active;
	/* Pairs with smp_wmb() in colo_chunk_committed(). */
	smp_rmb();
	if (colo_bitmap_test(&cc->hidden_map, chunk))
		return cc->hidden;
	return NULL;
}

/* The VM's side. */
static int vm_read(struct colo_c *cc, struct bio *bio, struct colo_io *io)
{
	struct dm_dev *leg = overlay_leg(cc, io->chunk);

	if (leg) {
		remap(io, bio, leg);
		return DM_MAPIO_REMAPPED;
	}

	if (!colo_lock_try(&cc->locks, &io->holder, io->chunk,
			   COLO_HOLD_SHARED, bio))
		return DM_MAPIO_SUBMITTED;

	/* Re-check under the lock: a holder may have set a bit meanwhile. */
	leg = overlay_leg(cc, io->chunk);
	if (leg) {
		colo_lock_release(&cc->locks, &io->holder);
		remap(io, bio, leg);
	} else {
		/* Held until end_io: no ingress write may reach base first. */
		remap(io, bio, cc->base);
	}
	return DM_MAPIO_REMAPPED;
}

static int vm_write_slow(struct colo_c *cc, struct bio *bio,
			 struct colo_io *io)
{
	if (!colo_lock_try(&cc->locks, &io->holder, io->chunk,
			   COLO_HOLD_EXCL, bio))
		return DM_MAPIO_SUBMITTED;

	if (colo_bitmap_test(&cc->active_map, io->chunk)) {
		colo_lock_release(&cc->locks, &io->holder);
		remap(io, bio, cc->active);
		return DM_MAPIO_REMAPPED;
	}
	if (colo_bitmap_prepare(&cc->active_map, io->chunk, GFP_NOIO)) {
		colo_lock_release(&cc->locks, &io->holder);
		return colo_retry_no_memory(cc, bio, "active");
	}

	/* end_io sets A, then releases the lock. */
	io->set_active = true;
	if (bio_covers_chunk(cc, io, bio)) {
		remap(io, bio, cc->active);
		return DM_MAPIO_REMAPPED;
	}
	return copy_chunk(cc, bio, io,
			  colo_bitmap_test(&cc->hidden_map, io->chunk) ?
			  cc->hidden : cc->base, cc->active);
}

/*
 * Primary mode. Every written chunk is marked in the dirty bitmap before the
 * write is sent. Map cannot sleep: a leaf that needs allocating sends the
 * bio to the worker, which may. Returns false when the bio was taken (sent
 * to the worker, or to be retried): the caller must not touch it again and
 * returns DM_MAPIO_SUBMITTED.
 */
static bool mark_dirty(struct colo_c *cc, struct bio *bio, struct colo_io *io,
		       bool in_worker)
{
	u64 c, last = colo_bio_last_chunk(cc, io, bio);

	for (c = io->chunk; c <= last; c++) {
		if (colo_bitmap_test(&cc->dirty_map, c))
			continue;
		if (colo_bitmap_prepare(&cc->dirty_map, c,
					in_worker ? GFP_NOIO : GFP_NOWAIT)) {
			if (in_worker)
				colo_retry_no_memory(cc, bio, "dirty");
			else
				defer_bio(cc, bio);
			return false;
		}
		colo_bitmap_set(&cc->dirty_map, c);
	}
	return true;
}

/* A read that follows the overlay: active, else hidden, else base. */
static int overlay_read(struct colo_c *cc, struct bio *bio,
			struct colo_io *io)
{
	struct dm_dev *leg = overlay_leg(cc, io->chunk);

	remap(io, bio, leg ? leg : cc->base);
	return DM_MAPIO_REMAPPED;
}

/*
 * A write to a chunk the failover commit has not written yet. Holding the
 * chunk exclusive (so the commit leaves it alone): a write of the whole
 * chunk goes to base, a partial one first copies the chunk's overlay to
 * base; either way the chunk leaves the commit when the write completes.
 */
static int commit_write_slow(struct colo_c *cc, struct bio *bio,
			     struct colo_io *io)
{
	if (!colo_lock_try(&cc->locks, &io->holder, io->chunk,
			   COLO_HOLD_EXCL, bio))
		return DM_MAPIO_SUBMITTED;

	if (!colo_chunk_pending(cc, io->chunk)) {
		colo_lock_release(&cc->locks, &io->holder);
		remap(io, bio, cc->base);
		return DM_MAPIO_REMAPPED;
	}
	io->commit_chunk = true;
	if (bio_covers_chunk(cc, io, bio)) {
		remap(io, bio, cc->base);
		return DM_MAPIO_REMAPPED;
	}
	return copy_chunk(cc, bio, io,
			  colo_bitmap_test(&cc->active_map, io->chunk) ?
			  cc->active : cc->hidden, cc->base);
}

/*
 * After failover. While the commit is unfinished, reads follow the overlay
 * and writes to pending chunks are serialized with the commit; a chunk is
 * never pending again once it is not, so the other writes go to base.
 */
static int primary_process(struct colo_c *cc, struct bio *bio,
			   struct colo_io *io, bool in_worker)
{
	switch (bio_op(bio)) {
	case REQ_OP_READ:
		if (colo_overlay(cc))
			return overlay_read(cc, bio, io);
		remap(io, bio, cc->base);
		return DM_MAPIO_REMAPPED;
	case REQ_OP_WRITE:
		/* Its write-intent marks are durable first. */
		if (!colo_meta_write_begin(cc, bio, io))
			return DM_MAPIO_SUBMITTED;
		/* A FUA write is durable with the commit's progress. */
		if ((bio->bi_opf & REQ_FUA) && colo_meta_sync_needed(cc)) {
			if (!in_worker) {
				defer_bio(cc, bio);
				return DM_MAPIO_SUBMITTED;
			}
			colo_meta_sync(cc);
		}
		/*
		 * A mirror decides per chunk whether to mark, from map when
		 * it can (dm-colo-mirror.c).
		 */
		if (colo_mirror_active(cc))
			return colo_mirror_write(cc, bio, io, in_worker);
		if (!mark_dirty(cc, bio, io, in_worker))
			return DM_MAPIO_SUBMITTED;
		if (colo_overlay(cc) && colo_chunk_pending(cc, io->chunk)) {
			if (!in_worker) {
				defer_bio(cc, bio);
				return DM_MAPIO_SUBMITTED;
			}
			return commit_write_slow(cc, bio, io);
		}
		remap(io, bio, cc->base);
		return DM_MAPIO_REMAPPED;
	default:
		return colo_fail_bio(bio);
	}
}

/*
 * A VM read of base over several clean chunks of one lock granule: one
 * shared range hold, as vm_read() takes for one chunk, kept until end_io.
 * It does not park: on conflict the bio is cut and waits as a one-chunk
 * read.
 */
static int base_read_whole(struct colo_c *cc, struct bio *bio,
			   struct colo_io *io, u64 last)
{
	u64 c;

	if (!colo_lock_same_granule(&cc->locks, io->chunk, last) ||
	    !colo_lock_try_range(&cc->locks, &io->holder, io->chunk, last,
				 COLO_HOLD_SHARED, NULL))
		return -EAGAIN;
	/* Re-check under the lock: a holder may have set a bit meanwhile. */
	for (c = io->chunk; c <= last; c++) {
		if (overlay_leg(cc, c)) {
			colo_lock_release(&cc->locks, &io->holder);
			return -EAGAIN;
		}
	}
	remap(io, bio, cc->base);
	return DM_MAPIO_REMAPPED;
}

/*
 * A bio over several chunks, in map (see bio_spans_chunks()). It is sent
 * whole when each of its chunks would take the same lock-free path on its
 * own; the bits those paths read are only ever set while the bio counts in
 * inflight (a checkpoint or failover drains first), so the decision holds
 * until it completes. A mirrored write within one lock granule stays whole
 * (colo_mirror_write() takes the range, from map or in the worker; a mirror
 * cannot start while it is in flight, see colo_mirror_start()). Returns
 * DM_MAPIO_REMAPPED or DM_MAPIO_SUBMITTED, or -EAGAIN: cut it.
 */
static int vm_whole(struct colo_c *cc, struct bio *bio, struct colo_io *io)
{
	u64 c, last = colo_bio_last_chunk(cc, io, bio);
	struct dm_dev *leg;

	if (READ_ONCE(cc->mode) == COLO_MODE_PRIMARY) {
		/* The commit decides per chunk. */
		if (colo_overlay(cc))
			return -EAGAIN;
		if (bio_op(bio) == REQ_OP_WRITE && colo_mirror_active(cc)) {
			/* Mirrored under one range hold, as one chunk is. */
			if (!colo_lock_same_granule(&cc->locks, io->chunk, last))
				return -EAGAIN;
			return primary_process(cc, bio, io, false);
		}
		if (bio_op(bio) == REQ_OP_WRITE) {
			if (!colo_meta_write_begin(cc, bio, io) ||
			    !mark_dirty(cc, bio, io, false))
				return DM_MAPIO_SUBMITTED;
		} else if (bio_op(bio) != REQ_OP_READ) {
			return -EAGAIN;
		}
		remap(io, bio, cc->base);
		return DM_MAPIO_REMAPPED;
	}

	switch (bio_op(bio)) {
	case REQ_OP_READ:
		leg = overlay_leg(cc, io->chunk);
		for (c = io->chunk + 1; c <= last; c++)
			if (overlay_leg(cc, c) != leg)
				return -EAGAIN;
		if (!leg)
			return base_read_whole(cc, bio, io, last);
		break;
	case REQ_OP_WRITE:
		leg = all_set(&cc->active_map, io->chunk, last) ?
		      cc->active : NULL;
		break;
	default:
		leg = NULL;
		break;
	}
	if (!leg)
		return -EAGAIN;
	remap(io, bio, leg);
	return DM_MAPIO_REMAPPED;
}

static int vm_process(struct colo_c *cc, struct bio *bio, struct colo_io *io,
		      bool in_worker)
{
	if (op_is_flush(bio->bi_opf) && !bio_sectors(bio))
		return remap_flush(cc, bio, io, in_worker);

	io->chunk = colo_sector_to_chunk(io->sector, cc->chunk_shift);
	if (READ_ONCE(cc->mode) == COLO_MODE_PRIMARY)
		return primary_process(cc, bio, io, in_worker);

	switch (bio_op(bio)) {
	case REQ_OP_READ:
		return vm_read(cc, bio, io);
	case REQ_OP_WRITE:
		if (colo_bitmap_test(&cc->active_map, io->chunk)) {
			remap(io, bio, cc->active);
			return DM_MAPIO_REMAPPED;
		}
		if (!in_worker) {
			defer_bio(cc, bio);
			return DM_MAPIO_SUBMITTED;
		}
		return vm_write_slow(cc, bio, io);
	default:
		return colo_fail_bio(bio);
	}
}

/* The ingress's side. */
static int ingress_write_slow(struct colo_c *cc, struct bio *bio,
			      struct colo_io *io)
{
	if (!colo_lock_try(&cc->locks, &io->holder, io->chunk,
			   COLO_HOLD_EXCL, bio))
		return DM_MAPIO_SUBMITTED;

	/*
	 * Re-check under the lock. With A or H set now, base is free: holding
	 * the chunk exclusive, no VM read of base is in flight, and new ones
	 * see the bit.
	 */
	if (colo_bitmap_test(&cc->hidden_map, io->chunk) ||
	    colo_bitmap_test(&cc->active_map, io->chunk)) {
		colo_lock_release(&cc->locks, &io->holder);
		remap(io, bio, cc->base);
		return DM_MAPIO_REMAPPED;
	}
	if (colo_bitmap_prepare(&cc->hidden_map, io->chunk, GFP_NOIO)) {
		colo_lock_release(&cc->locks, &io->holder);
		return colo_retry_no_memory(cc, bio, "hidden");
	}
	/* copy_done sets H, releases the lock and writes base. */
	return copy_chunk(cc, bio, io, cc->base, cc->hidden);
}

/* The ingress's vm_whole(): reads, and writes where every chunk is saved. */
static int ingress_whole(struct colo_c *cc, struct bio *bio,
			 struct colo_io *io)
{
	if (test_bit(COLO_FENCED, &cc->flags))
		return -EAGAIN;
	if (bio_op(bio) != REQ_OP_READ &&
	    !(bio_op(bio) == REQ_OP_WRITE &&
	      all_set(&cc->hidden_map, io->chunk, colo_bio_last_chunk(cc, io, bio))))
		return -EAGAIN;
	remap(io, bio, cc->base);
	return DM_MAPIO_REMAPPED;
}

static int ingress_process(struct colo_c *cc, struct bio *bio,
			   struct colo_io *io, bool in_worker)
{
	/* Fenced by failover: checked after colo_enter(), see colo_failover(). */
	if (test_bit(COLO_FENCED, &cc->flags))
		return colo_fail_bio(bio);

	if (op_is_flush(bio->bi_opf) && !bio_sectors(bio))
		return remap_flush(cc, bio, io, in_worker);

	io->chunk = colo_sector_to_chunk(io->sector, cc->chunk_shift);
	switch (bio_op(bio)) {
	case REQ_OP_READ:
		remap(io, bio, cc->base);
		return DM_MAPIO_REMAPPED;
	case REQ_OP_WRITE:
		if (colo_bitmap_test(&cc->hidden_map, io->chunk)) {
			remap(io, bio, cc->base);
			return DM_MAPIO_REMAPPED;
		}
		if (colo_bitmap_test(&cc->active_map, io->chunk)) {
			/* Wait for VM reads of base that began before A. */
			if (colo_lock_busy(&cc->locks, &io->holder, io->chunk, bio))
				return DM_MAPIO_SUBMITTED;
			remap(io, bio, cc->base);
			return DM_MAPIO_REMAPPED;
		}
		if (!in_worker) {
			defer_bio(cc, bio);
			return DM_MAPIO_SUBMITTED;
		}
		return ingress_write_slow(cc, bio, io);
	default:
		return colo_fail_bio(bio);
	}
}

static void worker(struct work_struct *work)
{
	struct colo_c *cc = container_of(work, struct colo_c, worker);
	struct bio_list bios;
	struct colo_io *io;
	struct bio *bio;
	int r;

	bio_list_init(&bios);
	spin_lock_irq(&cc->bio_lock);
	bio_list_merge(&bios, &cc->deferred);
	bio_list_init(&cc->deferred);
	spin_unlock_irq(&cc->bio_lock);

	while ((bio = bio_list_pop(&bios))) {
		io = colo_io_of(bio);
		if (!io->counted && !colo_enter(cc, bio, io, false))
			continue;
		if (io->ingress)
			r = ingress_process(cc, bio, io, true);
		else
			r = vm_process(cc, bio, io, true);
		if (r == DM_MAPIO_REMAPPED)
			dm_submit_bio_remap(bio, NULL);
	}
}

static void init_io(struct colo_io *io, struct colo_c *cc,
		    struct dm_target *ti, struct bio *bio, bool ingress)
{
	/* The copy is set up by colo_copy_start() when there is one. */
	memset(io, 0, offsetof(struct colo_io, copy));
	io->cc = cc;
	io->ingress = ingress;
	io->sector = dm_target_offset(ti, bio->bi_iter.bi_sector);
}

int colo_map(struct dm_target *ti, struct bio *bio)
{
	struct colo_c *cc = ti->private;
	struct colo_io *io = colo_io_of(bio);
	int r;

	init_io(io, cc, ti, bio, false);
	if (!colo_enter(cc, bio, io, true))
		return DM_MAPIO_SUBMITTED;
	r = map_spanning(cc, bio, io, vm_whole);
	if (r != -EAGAIN)
		return r;
	return vm_process(cc, bio, io, false);
}

int colo_ingress_map(struct colo_ingress *ic, struct bio *bio)
{
	struct colo_io *io = colo_io_of(bio);
	struct colo_c *cc;
	bool entered;
	int r;

	rcu_read_lock();
	cc = rcu_dereference(ic->cc);
	init_io(io, cc, ic->ti, bio, true);
	if (!cc) {
		/* Detached: end_io sees no colo target and does nothing. */
		rcu_read_unlock();
		return DM_MAPIO_KILL;
	}
	/* Counted under RCU: the colo destructor waits for us. */
	entered = colo_enter(cc, bio, io, true);
	rcu_read_unlock();
	if (!entered)
		return DM_MAPIO_SUBMITTED;
	r = map_spanning(cc, bio, io, ingress_whole);
	if (r != -EAGAIN)
		return r;
	return ingress_process(cc, bio, io, false);
}

/* Completion of every bio of both targets. Interrupt context. */
int colo_end_io(struct dm_target *ti, struct bio *bio, blk_status_t *error)
{
	struct colo_io *io = colo_io_of(bio);
	struct colo_c *cc = io->cc;

	if (!cc)
		return DM_ENDIO_DONE;
	if (*error && io->replica_flush) {
		/* Replica errors never fail the VM's I/O. */
		colo_mirror_flush_failed(cc);
		*error = BLK_STS_OK;
	}
	if (*error && !io->refused)
		colo_error(cc);
	if (io->set_active && !*error)
		colo_bitmap_set(&cc->active_map, io->chunk);
	if (io->commit_chunk && !*error)
		colo_chunk_committed(cc, io->chunk);
	if (io->mirrored)
		colo_mirror_write_end(cc, io, *error);
	if (io->holder.hold != COLO_HOLD_NONE)
		colo_lock_release(&cc->locks, &io->holder);
	colo_meta_write_end(cc, io);
	if (io->counted)
		colo_exit(cc);
	return DM_ENDIO_DONE;
}

int colo_io_init(struct colo_c *cc)
{
	int r;

	atomic_set(&cc->inflight, 0);
	atomic_set(&cc->copies, 0);
	atomic_set(&cc->jobs, 0);
	init_waitqueue_head(&cc->quiesce_wq);
	mutex_init(&cc->msg_lock);
	spin_lock_init(&cc->bio_lock);
	bio_list_init(&cc->deferred);
	bio_list_init(&cc->held);
	bio_list_init(&cc->throttled);
	INIT_WORK(&cc->worker, worker);
	INIT_WORK(&cc->reclaim_work, reclaim_worker);
	INIT_WORK(&cc->event_work, event_worker);
	INIT_DELAYED_WORK(&cc->retry_work, retry_worker);
	colo_commit_init(cc);

	r = colo_bitmap_init(&cc->active_map, cc->nr_chunks);
	if (r)
		goto bad_active;
	r = colo_bitmap_init(&cc->hidden_map, cc->nr_chunks);
	if (r)
		goto bad_hidden;
	r = colo_bitmap_init(&cc->dirty_map, cc->nr_chunks);
	if (r)
		goto bad_dirty;
	r = colo_locks_init(&cc->locks, COLO_LOCK_HASH_BITS,
			    COLO_LOCK_GRANULE_SECTOR_SHIFT -
			    min_t(unsigned int, cc->chunk_shift,
				  COLO_LOCK_GRANULE_SECTOR_SHIFT),
			    wake_bios, cc);
	if (r)
		goto bad_locks;

	r = -ENOMEM;
	cc->wq = alloc_workqueue("dm-colo", WQ_MEM_RECLAIM, 0);
	if (!cc->wq)
		goto bad_wq;

	/* The engine's pool: COLO_COPY_EXTENTS MiB, less below max_copies. */
	r = colo_copier_init(&cc->copier, cc->wq,
			     min_t(unsigned int, COLO_COPY_EXTENTS,
				   cc->max_copies));
	if (r)
		goto bad_copier;
	r = colo_mirror_init(cc);
	if (r)
		goto bad_mirror;
	return 0;

bad_mirror:
	colo_copier_destroy(&cc->copier);
bad_copier:
	destroy_workqueue(cc->wq);
bad_wq:
	colo_locks_destroy(&cc->locks);
bad_locks:
	colo_bitmap_destroy(&cc->dirty_map);
bad_dirty:
	colo_bitmap_destroy(&cc->hidden_map);
bad_hidden:
	colo_bitmap_destroy(&cc->active_map);
bad_active:
	return r;
}

/* The caller has made sure no bio is in flight or held. */
void colo_io_destroy(struct colo_c *cc)
{
	cancel_delayed_work_sync(&cc->commit_work);
	colo_mirror_destroy(cc);
	colo_copier_destroy(&cc->copier);
	cancel_work_sync(&cc->event_work);
	cancel_delayed_work_sync(&cc->retry_work);
	destroy_workqueue(cc->wq);
	colo_locks_destroy(&cc->locks);
	colo_bitmap_destroy(&cc->dirty_map);
	colo_bitmap_destroy(&cc->hidden_map);
	colo_bitmap_destroy(&cc->active_map);
}
