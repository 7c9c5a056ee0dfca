// SPDX-License-Identifier: GPL-2.0
/*
 * dm-colo: copy slots and the background chunk jobs.
 *
 * Every copy of the module (a VM write's fill, a copy-before-write, a
 * partial write during the failover commit, the commit's and the mirror's
 * background copies) takes one of max_copies slots (cc->copies) before it
 * starts in the copy engine (dm-colo-copy.c) and gives it back when it
 * ends. A bio of the data path that finds no slot waits on the throttled
 * list; a background work item that finds none is kicked when one frees.
 *
 * A chunk job is a background copy of the failover commit (dm-colo-commit.c)
 * or the mirror (dm-colo-mirror.c): adjacent chunks, one extent at most,
 * held exclusive in the per-chunk lock as one range and copied with one
 * copy of the engine. This file is below the commit and the mirror: it
 * calls only the engine, the lock and dm-colo-flight.c.
 */
#include <linux/slab.h>
#include <linux/workqueue.h>

#include "dm-colo.h"

#define DM_MSG_PREFIX "colo"

/*
 * The copies of the data path: one chunk from one leg to another with the
 * copy engine (dm-colo-copy.c), at most max_copies started at once (the
 * engine's pool bounds how many move data; the others wait in it, holding
 * their chunk). A bio over the limit drops its lock and waits on the
 * throttled list, which is re-run whenever a copy completes; the check and
 * the wait happen under bio_lock on both sides, so no wakeup is lost.
 */
void colo_unthrottle(struct colo_c *cc)
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
 * again. The background workers (cc->slot_waiters, set by the commit and
 * the mirror at init) are kicked here, not by the owner of the copy: a
 * worker that stopped at the limit while the VM's copies filled it would
 * otherwise wait for ever (LESSONS.md #14). Any context.
 */
void colo_copy_slot_put(struct colo_c *cc)
{
	unsigned int i;

	atomic_dec(&cc->copies);
	colo_unthrottle(cc);
	for (i = 0; i < COLO_NR_SLOT_WAITERS; i++)
		if (cc->slot_waiters[i])
			cc->slot_waiters[i](cc);
}

/* The regions of a copy of chunks @first to @last from @from to @to. */
void colo_chunk_regions(struct colo_c *cc, u64 first, u64 last,
			struct block_device *from, struct block_device *to,
			struct dm_io_region *src, struct dm_io_region *dst)
{
	src->bdev = from;
	src->sector = colo_chunk_to_sector(first, cc->chunk_shift);
	src->count = colo_chunks_len(first, last, cc->ti->len,
				     cc->chunk_shift);
	*dst = *src;
	dst->bdev = to;
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
	colo_copy_slot_put(cc);
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
	colo_chunk_regions(cc, job->chunk, job->last, from, to, &src, &dst);
	colo_copy_start(&cc->copier, &job->copy, &src, &dst, chunk_job_done,
			job);
}

/* Set up what this file keeps in @cc. */
void colo_jobs_init(struct colo_c *cc)
{
	atomic_set(&cc->copies, 0);
	atomic_set(&cc->jobs, 0);
	bio_list_init(&cc->throttled);
	memset(cc->slot_waiters, 0, sizeof(cc->slot_waiters));
}
