// SPDX-License-Identifier: GPL-2.0
/*
 * dm-colo: bios in flight, holds, the worker's queues, errors and events.
 *
 * What the data path, the commit, the mirror and the target's lifecycle
 * all need, and nothing above it: every bio of either target is counted in
 * cc->inflight from colo_enter() (map) to colo_exit() (end_io), and each
 * background copy is counted too, so that a checkpoint, a failover, a
 * mirror start or stop and suspend can hold new bios (the COLO_HOLD_* bits
 * and the held list) and wait for the ones in flight. Bios that must run
 * in process context (deferred), or again later (for want of memory), go
 * on the worker's list; the worker itself is the data path's
 * (dm-colo-io.c). colo_error() and colo_event() raise the target's error
 * flag and its dm events from any context.
 */
#include <linux/bio.h>
#include <linux/rcupdate.h>
#include <linux/wait.h>

#include "dm-colo.h"

#define DM_MSG_PREFIX "colo"

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

/* Run @bio again from the top in the worker. Any context. */
void colo_defer_bio(struct colo_c *cc, struct bio *bio)
{
	add_deferred(cc, bio);
	kick_worker(cc);
}

/*
 * The next online CPU after ours (ours on a machine of one): where work
 * queued from map runs without taking the submitter's CPU. If that CPU goes
 * offline meanwhile, the workqueue runs the work elsewhere. Any context.
 */
int colo_next_cpu(void)
{
	int cpu = cpumask_next(raw_smp_processor_id(), cpu_online_mask);

	return cpu < nr_cpu_ids ? cpu : cpumask_first(cpu_online_mask);
}

/*
 * As colo_defer_bio(), with the worker on the next CPU unless it is queued
 * already: for work map hands off that the submitter need not wait for on
 * its own CPU (a fleece's save). Map context.
 */
void colo_defer_bio_next_cpu(struct colo_c *cc, struct bio *bio)
{
	add_deferred(cc, bio);
	queue_work_on(colo_next_cpu(), cc->wq, &cc->worker);
}

/*
 * Map cannot do what @bio needs without sleeping: the worker runs it again
 * from the top. The caller changed nothing it would not redo and holds no
 * chunk. Returns DM_MAPIO_SUBMITTED. Map context.
 */
int colo_defer_to_worker(struct colo_c *cc, struct bio *bio)
{
	colo_defer_bio(cc, bio);
	return DM_MAPIO_SUBMITTED;
}

/*
 * Allocate @bm's leaf for @chunk: in the worker it may sleep, and on failure
 * the bio is tried again later; in map it may not, and on failure the bio
 * goes to the worker. Returns false when the bio was taken that way (the
 * caller returns DM_MAPIO_SUBMITTED and no longer touches it); a chunk
 * granted to the bio while it was parked is given back first, so that it
 * waits for memory holding nothing. A leaf stays allocated until a
 * checkpoint or failover, which drain the bio first.
 */
bool colo_prepare_or_defer(struct colo_c *cc, struct bio *bio,
			   struct colo_bitmap *bm, u64 chunk, bool in_worker,
			   const char *what)
{
	struct colo_io *io = colo_io_of(bio);

	if (!colo_bitmap_prepare(bm, chunk, in_worker ? GFP_NOIO : GFP_NOWAIT))
		return true;
	if (io->holder.hold != COLO_HOLD_NONE)
		colo_lock_release(&cc->locks, &io->holder);
	if (in_worker)
		colo_retry_no_memory(cc, bio, what);
	else
		colo_defer_bio(cc, bio);
	return false;
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
	/*
	 * Most bios that end find nobody waiting (a bio that completes
	 * inside its own submit takes inflight to zero every time): the
	 * queue's lock is taken only for a waiter. atomic_dec_and_test() is
	 * fully ordered, and wq_has_sleeper() has a full barrier of its own:
	 * pairs with the one of prepare_to_wait() in the wait_event()s on
	 * quiesce_wq, so either the waiter sees zero or we see the waiter.
	 */
	if (atomic_dec_and_test(&cc->inflight) &&
	    wq_has_sleeper(&cc->quiesce_wq))
		wake_up(&cc->quiesce_wq);
	rcu_read_unlock();
}

/* Ingress and fleece bios are held while the colo device is suspended. */
static unsigned long hold_mask(struct colo_io *io)
{
	return io->ingress || io->fleece ?
	       BIT(COLO_HOLD_ALL) | BIT(COLO_HOLD_INGRESS) : BIT(COLO_HOLD_ALL);
}

/*
 * @in_map: called from map, where a bio over several chunks is cut at its
 * first chunk border before it is held (held bios run in the worker).
 */
bool colo_enter(struct colo_c *cc, struct bio *bio, struct colo_io *io,
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

		if (in_map && colo_bio_spans_chunks(cc, io, bio))
			colo_cut_at_chunk_border(cc, io, bio);
		spin_lock_irqsave(&cc->bio_lock, flags);
		if (READ_ONCE(cc->flags) & mask) {
			bio_list_add(&cc->held, bio);
			spin_unlock_irqrestore(&cc->bio_lock, flags);
			return false;
		}
		spin_unlock_irqrestore(&cc->bio_lock, flags);
	}
}

/*
 * Count a job that is not a bio (the metadata's clearing pass) in
 * inflight, unless a hold is on: a hold then waits for it, as for a bio.
 * False when a hold is on (nothing counted). colo_exit() ends it. Process
 * context.
 */
bool colo_enter_job(struct colo_c *cc)
{
	atomic_inc(&cc->inflight);
	/* Pairs with the barrier in colo_hold(). */
	smp_mb__after_atomic();
	if (likely(!(READ_ONCE(cc->flags) & BIT(COLO_HOLD_ALL))))
		return true;
	colo_exit(cc);
	return false;
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

/* Set up what this file keeps in @cc. */
void colo_flight_init(struct colo_c *cc)
{
	atomic_set(&cc->inflight, 0);
	init_waitqueue_head(&cc->quiesce_wq);
	spin_lock_init(&cc->bio_lock);
	bio_list_init(&cc->deferred);
	bio_list_init(&cc->held);
	INIT_WORK(&cc->event_work, event_worker);
	INIT_DELAYED_WORK(&cc->retry_work, retry_worker);
}

/*
 * Stop this file's work items. No bio is in flight or held, and nothing
 * raises an event any more. Process context; may sleep.
 */
void colo_flight_destroy(struct colo_c *cc)
{
	cancel_work_sync(&cc->event_work);
	cancel_delayed_work_sync(&cc->retry_work);
}
