// SPDX-License-Identifier: GPL-2.0
/*
 * dm-colo: the mirror of a primary to a replica device.
 *
 * "mirror start <dev> [full|dirty [<KiB/s>|auto]] [min_rate <KiB/s>]
 * [async <max_lag>]" opens the replica by path with an exclusive claim and
 * starts phase 1: a work item copies chunks from base to the replica with
 * the copy engine (dm-colo-copy.c), at most max_copies at once, a new one
 * only when the engine has an extent's pages free or none of the mirror's
 * copies is in flight (colo_chunk_job_room()), and at most <KiB/s> when
 * given, or at a rate that yields to the guest's I/O with auto
 * (dm-colo-rate.h). A full sync first copies every chunk (a cursor pass),
 * then whatever is dirty; a dirty sync only what is dirty. A copy takes the
 * adjacent chunks that need copying (every chunk in a full pass, dirty ones
 * after), up to one extent (1 MiB, aligned), holds them exclusive and
 * clears their dirty bits before it reads base, so a write that lands after
 * it marks a chunk again and it is copied again.
 *
 * While a mirror is running, every VM write holds its chunk (or, for a
 * write over several chunks of one lock granule, its range of chunks)
 * shared until it completes, and decides under that hold:
 *
 *   every chunk on the replica (not dirty, not ahead of a full pass)
 *       written to base and replica at once, completes when both did; a
 *       replica error marks the chunk dirty and degrades the mirror, it
 *       never fails the write
 *   else
 *       its chunks marked dirty, written to base; a later pass copies them
 *
 * Both are done in map when nothing needs to sleep: the range is free
 * (tried, not waited for), the chunks' dirty leaves are at hand
 * (GFP_NOWAIT), and for the replica a clone of the VM's bio can be had;
 * the VM's bio is then remapped to base and ends when its clone ended too.
 * Else the bio goes to the worker, which waits for the range in the lock's
 * queue, allocates with GFP_NOIO and writes both copies with dm-io.
 *
 * In async mode (dm-colo-async.c) the first case sends the replica's copy
 * in the background and the write completes when base did; a chunk that a
 * background write still covers counts as not on the replica (second
 * case), in sync mode too, and so does a write that would pass max_lag
 * ("ahead").
 *
 * When a pass finds nothing dirty, no copy in flight and no chunk passed
 * over, every chunk is on the replica: the mirror is in sync (phase 2), a
 * state that only the status and a dm event show, the rule above being
 * the same. A degraded mirror sends nothing to the replica any more; its
 * dirty bits say what to copy when "mirror start <dev> dirty" resumes.
 *
 * Bits are cleared only by a copy that is about to put the chunk on the
 * replica (and set again if it fails): the dirty bitmap never forgets a
 * chunk that differs. Copies count in cc->inflight, so suspend, stop and
 * the destructor wait for them.
 */
#include <linux/blkdev.h>
#include <linux/ioprio.h>
#include <linux/jiffies.h>
#include <linux/math64.h>

#include "dm-colo.h"
#include "dm-colo-stack.h"

#define DM_MSG_PREFIX "colo"

/* A chunk that could not be started for lack of memory is retried after. */
#define MIRROR_RETRY	(HZ / 10)

static const char * const mirror_state_names[] = {
	[COLO_MIRROR_NONE] = "none",
	[COLO_MIRROR_COPYING] = "copying",
	[COLO_MIRROR_INSYNC] = "in-sync",
	[COLO_MIRROR_DEGRADED] = "degraded",
};

const char *colo_mirror_state_name(enum colo_mirror_state state)
{
	return mirror_state_names[state];
}

/*
 * The state is published with release semantics after the replica pointer
 * was written (colo_mirror_start()); read with acquire semantics, a running
 * state guarantees the replica pointer is seen.
 */
enum colo_mirror_state colo_mirror_state(struct colo_c *cc)
{
	/* Pairs with smp_store_release() in set_mirror_state(). */
	return smp_load_acquire(&cc->mirror_state);
}

/* Writes are mirrored: the replica is open and not degraded. Any context. */
bool colo_mirror_active(struct colo_c *cc)
{
	enum colo_mirror_state state = colo_mirror_state(cc);

	return state == COLO_MIRROR_COPYING || state == COLO_MIRROR_INSYNC;
}

/*
 * Change the state from one of @from (a mask of states) to @to. The
 * replica pointer is written before a state that uses it is published.
 */
static bool set_mirror_state(struct colo_c *cc, unsigned int from,
			     enum colo_mirror_state to)
{
	unsigned long flags;
	bool changed = false;

	spin_lock_irqsave(&cc->mirror_lock, flags);
	if (BIT(cc->mirror_state) & from) {
		/* Replica set before: pairs with colo_mirror_state(). */
		smp_store_release(&cc->mirror_state, to);
		changed = true;
	}
	spin_unlock_irqrestore(&cc->mirror_lock, flags);
	return changed;
}

#define RUNNING_STATES	(BIT(COLO_MIRROR_COPYING) | BIT(COLO_MIRROR_INSYNC))

/*
 * A full pass that ends early leaves chunks ahead of its cursor that were
 * never copied and may have no dirty bit: the next sync must be full.
 */
static void note_cut_short(struct colo_c *cc)
{
	if (READ_ONCE(cc->mirror_full_pass))
		colo_dirty_incomplete(cc, COLO_META_GAP_CUT_SHORT);
}

static const char * const gap_reasons[] = {
	[COLO_META_GAP_NONE] = "complete",
	[COLO_META_GAP_FRESH] = "no failover and no full sync since the table was loaded",
	[COLO_META_GAP_CUT_SHORT] = "a full sync was cut short",
	[COLO_META_GAP_FLUSH] = "a replica flush failed",
};

const char *colo_gap_reason(unsigned int gap)
{
	return gap_reasons[min_t(unsigned int, gap, COLO_META_GAP_MAX)];
}

/*
 * From now on the dirty bitmap may miss chunks that differ from a replica,
 * for the reason @why (COLO_META_GAP_*). Any context.
 */
void colo_dirty_incomplete(struct colo_c *cc, unsigned int why)
{
	if (READ_ONCE(cc->mirror_gap) != why) {
		WRITE_ONCE(cc->mirror_gap, why);
		colo_meta_gap_changed(cc);
	}
}

/*
 * The dirty bitmap covers every chunk that may differ: it was seeded at
 * failover, or a full pass just ended. Worker or message context.
 */
void colo_dirty_complete(struct colo_c *cc)
{
	WRITE_ONCE(cc->mirror_gap, COLO_META_GAP_NONE);
	/* Also the end of a full pass, which the disk shows as cut short. */
	colo_meta_gap_changed(cc);
}

/* A replica error: stop mirroring, keep the dirty bits. Any context. */
static void mirror_degraded(struct colo_c *cc, const char *what)
{
	note_cut_short(cc);
	if (set_mirror_state(cc, RUNNING_STATES, COLO_MIRROR_DEGRADED)) {
		DMERR("%s: mirror degraded: %s; the chunks it missed stay dirty",
		      colo_name(cc), what);
		colo_event(cc);
	}
}

/*
 * A flush of the replica failed: writes it had acknowledged since its last
 * flush may be lost, and which chunks they touched is not recorded. The
 * mirror degrades and the next sync is full, whatever it asks for. A VM
 * flush is not failed for it (replica errors never fail VM I/O). Any
 * context.
 */
void colo_mirror_flush_failed(struct colo_c *cc)
{
	unsigned long flags;

	spin_lock_irqsave(&cc->mirror_lock, flags);
	cc->flush_failures++;
	spin_unlock_irqrestore(&cc->mirror_lock, flags);
	colo_dirty_incomplete(cc, COLO_META_GAP_FLUSH);
	mirror_degraded(cc, "flush error on the replica");
	/* The marks on a metadata device may say which (colo_dirty_covered). */
	colo_meta_flush_failed(cc);
}

/* How many replica flushes failed: for colo_dirty_covered(). Any context. */
unsigned int colo_flush_failures(struct colo_c *cc)
{
	unsigned long flags;
	unsigned int n;

	spin_lock_irqsave(&cc->mirror_lock, flags);
	n = cc->flush_failures;
	spin_unlock_irqrestore(&cc->mirror_lock, flags);
	return n;
}

/*
 * Every region marked on the metadata device, read after @failures replica
 * flushes had failed, is in the dirty bitmap now: a write a failed flush
 * may have lost was marked before it was sent, and its mark stays on disk
 * until a later flush of the replica succeeds (dm-colo-meta-marks.c). The
 * bitmap covers those failures again, unless another one came since, or
 * the gap has another reason (a full pass cut short). Process context.
 */
void colo_dirty_covered(struct colo_c *cc, unsigned int failures)
{
	unsigned long flags;
	bool covered = false;

	spin_lock_irqsave(&cc->mirror_lock, flags);
	/* A cmpxchg: colo_dirty_incomplete() writes the gap unlocked. */
	if (cc->flush_failures == failures)
		covered = cmpxchg(&cc->mirror_gap, COLO_META_GAP_FLUSH,
				  COLO_META_GAP_NONE) == COLO_META_GAP_FLUSH;
	spin_unlock_irqrestore(&cc->mirror_lock, flags);
	if (covered) {
		DMINFO("%s: replica flush failed: the marked regions are dirty",
		       colo_name(cc));
		colo_meta_gap_changed(cc);
	}
}

/* Run the mirror work soon. Safe from interrupt context. */
void colo_mirror_kick(struct colo_c *cc)
{
	if (colo_mirror_state(cc) == COLO_MIRROR_COPYING &&
	    !test_bit(COLO_SUSPENDED, &cc->flags))
		mod_delayed_work(cc->wq, &cc->mirror_work, 0);
}

/* Mark @chunk dirty; its leaf was prepared by the caller. Any context. */
static void mark_dirty_prepared(struct colo_c *cc, u64 chunk)
{
	colo_bitmap_set(&cc->dirty_map, chunk);
}

/*
 * The end of a mirror copy, for each of its chunks: on the replica, or
 * dirty again (its leaf was prepared) and the mirror degraded. Process
 * context.
 */
static void mirror_copy_done(struct colo_chunk_job *job, int read_err,
			     unsigned long write_err)
{
	struct colo_c *cc = job->cc;
	u64 c;

	for (c = job->chunk; c <= job->last; c++) {
		colo_meta_copy_put(cc, c);
		if (read_err || write_err)
			mark_dirty_prepared(cc, c);
	}
	if (read_err) {
		colo_error(cc);
		mirror_degraded(cc, "read error on base");
	} else if (write_err) {
		mirror_degraded(cc, "write error on the replica");
	} else {
		atomic64_add(job->last - job->chunk + 1, &cc->mirrored);
	}
}

/*
 * colo_chunk_job_grow(): @chunk joins the job's copy: its dirty bit can be
 * set again from the completion (leaf prepared), and it needs copying
 * (a full pass copies every chunk). Worker context; may sleep.
 */
static bool mirror_wants(struct colo_chunk_job *job, u64 chunk)
{
	struct colo_c *cc = job->cc;

	if (colo_bitmap_prepare(&cc->dirty_map, chunk, GFP_NOIO))
		return false;
	return cc->mirror_full_pass || colo_bitmap_test(&cc->dirty_map, chunk);
}

/*
 * Copy the chunk of @job, which holds it, if it still needs copying, with
 * the following chunks that need it too. Worker context.
 */
static void mirror_copy_held(struct colo_c *cc, struct colo_chunk_job *job,
			     bool full)
{
	u64 c;

	/* Re-check under the lock. */
	if (!full && !colo_bitmap_test(&cc->dirty_map, job->chunk)) {
		colo_chunk_job_put(job);
		return;
	}
	colo_chunk_job_grow(job, mirror_wants);
	/*
	 * Forget the bits before reading base; the chunks' write-intent
	 * marks stay until the copy is done.
	 */
	for (c = job->chunk; c <= job->last; c++) {
		colo_meta_copy_get(cc, c);
		colo_bitmap_clear(&cc->dirty_map, c);
	}
	colo_rate_charge(&cc->mirror_rate,
			 to_bytes(colo_chunks_len(job->chunk, job->last,
						  cc->ti->len, cc->chunk_shift)));
	/* The pass goes on after the chunks the job took. */
	WRITE_ONCE(cc->mirror_cursor, max(cc->mirror_cursor, job->last + 1));
	job->done = mirror_copy_done;
	colo_chunk_job_copy(job, cc->base->bdev, cc->replica);
}

/*
 * Copy @chunk to the replica. A full pass does not wait for a busy chunk:
 * it marks it dirty and moves on (a later pass copies it). A dirty pass
 * waits for it in the lock's queue (mirror_waiting; the grant runs the
 * work item again), so a hot chunk cannot keep the mirror copying for
 * ever. Returns false when no memory was at hand: the caller comes back.
 */
static bool mirror_copy(struct colo_c *cc, u64 chunk)
{
	struct colo_chunk_job *job;
	bool full = cc->mirror_full_pass;

	/* The bit may have to be set again from interrupt context. */
	if (colo_bitmap_prepare(&cc->dirty_map, chunk, GFP_NOIO))
		return false;
	job = colo_chunk_job_get(cc, chunk, full ? NULL : &cc->mirror_work);
	if (!job) {
		if (full) {
			/* The pass moves on: a later pass copies it. */
			mark_dirty_prepared(cc, chunk);
			return true;
		}
		return false;
	}
	if (colo_chunk_job_holds(job))
		mirror_copy_held(cc, job, full);
	else
		cc->mirror_waiting = job;
	return true;
}

/*
 * The mirror stopped (suspend, mirror stop): the work item gives up a
 * chunk it waits for (see colo_work_settle()).
 */
void colo_mirror_pause(struct colo_c *cc)
{
	colo_work_settle(cc, &cc->mirror_work);
}

/* Next chunk to copy at or after the cursor, or nr_chunks. */
static u64 next_to_copy(struct colo_c *cc)
{
	if (cc->mirror_full_pass)
		return cc->mirror_cursor;
	return colo_bitmap_next_set(&cc->dirty_map, cc->mirror_cursor);
}

/*
 * A chunk on the replica was marked dirty by a mirrored write that failed
 * on base (the replica may hold what base refused), or by an async write
 * that went ahead: copy it again. Any context.
 */
static void mirror_recopy(struct colo_c *cc)
{
	set_mirror_state(cc, BIT(COLO_MIRROR_INSYNC), COLO_MIRROR_COPYING);
	colo_mirror_kick(cc);
}

/* Chunks were marked dirty by message ("dirty add"): copy them. */
void colo_mirror_dirty_added(struct colo_c *cc)
{
	mirror_recopy(cc);
}

/*
 * Every chunk is on the replica: make the copies durable there, then say
 * so (data before the state that says it is there, LESSONS.md #4). Runs in
 * the mirror work item, which may sleep.
 */
static void mirror_in_sync(struct colo_c *cc)
{
	if (blkdev_issue_flush(cc->replica)) {
		colo_mirror_flush_failed(cc);
		return;
	}
	/*
	 * Every copy of a full pass is on the replica, flushed: the
	 * coverage is complete on disk before "in-sync" shows.
	 */
	if (READ_ONCE(cc->mirror_full_unsynced)) {
		WRITE_ONCE(cc->mirror_full_unsynced, false);
		colo_meta_gap_sync(cc, READ_ONCE(cc->mirror_gap));
	}
	if (!set_mirror_state(cc, BIT(COLO_MIRROR_COPYING),
			      COLO_MIRROR_INSYNC))
		return;
	/*
	 * A failed base write may have marked a chunk after the pass looked:
	 * its mirror_recopy() found the state still copying. The state lock
	 * orders that mark before this count.
	 */
	if (colo_bitmap_count(&cc->dirty_map)) {
		mirror_recopy(cc);
		return;
	}
	DMINFO("%s: mirror in sync (%llu chunks copied)", colo_name(cc),
	       (unsigned long long)atomic64_read(&cc->mirrored));
	colo_event(cc);
}

/* What the mirror copied, for its achieved rate. */
static u64 mirror_done_bytes(struct colo_c *cc)
{
	return to_bytes(colo_chunk_to_sector(atomic64_read(&cc->mirrored),
					     cc->chunk_shift));
}

static void mirror_worker(struct work_struct *work)
{
	struct colo_c *cc = container_of(to_delayed_work(work), struct colo_c,
					 mirror_work);
	unsigned long delay;
	u64 chunk;

	for (;;) {
		if (colo_mirror_state(cc) != COLO_MIRROR_COPYING ||
		    test_bit(COLO_SUSPENDED, &cc->flags)) {
			colo_chunk_job_drop(&cc->mirror_waiting);
			return;
		}
		/* No room for a copy: a completing copy kicks us. */
		if (!colo_chunk_job_room(cc))
			return;
		if (cc->mirror_waiting) {
			/* Not granted yet: the grant kicks us. */
			if (!colo_chunk_job_holds(cc->mirror_waiting))
				return;
			mirror_copy_held(cc, cc->mirror_waiting, false);
			cc->mirror_waiting = NULL;
			continue;
		}
		delay = colo_rate_delay(&cc->mirror_rate,
					mirror_done_bytes(cc));
		if (delay) {
			queue_delayed_work(cc->wq, &cc->mirror_work, delay);
			return;
		}

		chunk = next_to_copy(cc);
		if (chunk < cc->nr_chunks) {
			if (!mirror_copy(cc, chunk)) {
				/*
				 * A full pass must not leave a chunk behind
				 * with no dirty bit: try it again later.
				 */
				if (cc->mirror_full_pass) {
					queue_delayed_work(cc->wq,
							   &cc->mirror_work,
							   MIRROR_RETRY);
					return;
				}
				cc->mirror_skipped = true;
			}
			/* Past the chunks a copy took (mirror_copy_held()). */
			WRITE_ONCE(cc->mirror_cursor,
				   max(cc->mirror_cursor, chunk + 1));
			cond_resched();
			continue;
		}

		/* End of a pass. */
		WRITE_ONCE(cc->mirror_cursor, 0);
		if (cc->mirror_full_pass) {
			/*
			 * Every chunk behind the cursor is on the replica or
			 * has a copy in flight, which marks it dirty if it
			 * fails: the bitmap covers the replica from now on.
			 * On disk only once in sync (mirror_full_unsynced).
			 */
			WRITE_ONCE(cc->mirror_full_pass, false);
			colo_dirty_complete(cc);
			continue;
		}
		if (cc->mirror_skipped) {
			cc->mirror_skipped = false;
			queue_delayed_work(cc->wq, &cc->mirror_work, 1);
			return;
		}
		if (atomic_read(&cc->copies))
			return;
		if (!colo_bitmap_count(&cc->dirty_map)) {
			mirror_in_sync(cc);
			return;
		}
	}
}

/*
 * Is @chunk on the replica, so that a write to it must go there too? The
 * caller holds the chunk shared: no copy of it is in flight.
 */
static bool chunk_on_replica(struct colo_c *cc, u64 chunk)
{
	if (colo_bitmap_test(&cc->dirty_map, chunk))
		return false;
	return !READ_ONCE(cc->mirror_full_pass) ||
	       chunk < READ_ONCE(cc->mirror_cursor);
}

/* Mark the chunks a mirrored write holds; their leaves were prepared. */
static void mark_range_dirty(struct colo_c *cc, struct colo_lock_holder *h)
{
	u64 c;

	for (c = h->chunk; c <= h->last; c++)
		mark_dirty_prepared(cc, c);
}

/*
 * A background write of chunks @first..@last (dm-colo-async.c) was not
 * written to the replica: they are dirty again (their leaves were prepared
 * by the VM's write). A replica error degrades the mirror; a read error on
 * base does too, as a mirror copy's does; with no bio or pages for it,
 * the chunks went ahead and the mirror copies them. Any context.
 */
void colo_mirror_send_failed(struct colo_c *cc, u64 first, u64 last,
			     enum colo_send_fail why)
{
	u64 c;

	for (c = first; c <= last; c++)
		mark_dirty_prepared(cc, c);
	switch (why) {
	case COLO_SEND_REPLICA:
		mirror_degraded(cc, "write error on the replica");
		break;
	case COLO_SEND_BASE:
		colo_error(cc);
		mirror_degraded(cc, "read error on base");
		break;
	case COLO_SEND_NOMEM:
		colo_async_count_ahead(cc);
		mirror_recopy(cc);
		break;
	case COLO_SEND_OK:
		break;
	}
}

static void dual_write_done(unsigned long error, void *context)
{
	struct bio *bio = context;
	struct colo_io *io = colo_io_of(bio);
	struct colo_c *cc = io->cc;

	if (error & BIT(1)) {
		mark_range_dirty(cc, &io->holder);
		mirror_degraded(cc, "write error on the replica");
	}
	if (error & BIT(0)) {
		/*
		 * base failed: the VM's write fails; base and replica may
		 * differ until the chunk is copied again.
		 */
		mark_range_dirty(cc, &io->holder);
		colo_error(cc);
		bio->bi_status = BLK_STS_IOERR;
		if (!(error & BIT(1)))
			mirror_recopy(cc);
	}
	bio_endio(bio);
}

/*
 * The end of the replica's clone of a mirrored write sent from map
 * (mirror_write_clone()). Interrupt context; the write still holds its
 * range. A replica error marks the write's chunks dirty (their leaves were
 * prepared in map) and degrades the mirror, as dual_write_done() does; it
 * never reaches the VM's write, which ends once this and base both did
 * (bio_inc_remaining()).
 */
static void replica_clone_end(struct bio *clone)
{
	struct bio *bio = clone->bi_private;
	struct colo_io *io = colo_io_of(bio);
	blk_status_t status = clone->bi_status;

	bio_put(clone);
	if (status) {
		io->replica_failed = true;
		mark_range_dirty(io->cc, &io->holder);
		mirror_degraded(io->cc, "write error on the replica");
	}
	/* Last: end_io, then colo_exit(), may run now. */
	bio_endio(bio);
}

/*
 * Send @bio, whose chunks are all on the replica and held shared, to base
 * and replica from map: the replica's copy is a clone (no data copied, no
 * worker hop) that holds the VM's write open until it ends. It counts in
 * cc->inflight through @bio (colo_exit() runs in end_io, after the clone
 * ended), so suspend, mirror stop and the destructor wait for it, and the
 * bio set outlives it. Map context: a clone that GFP_NOWAIT cannot get
 * sends the bio to the worker, the range released.
 */
static int mirror_write_clone(struct colo_c *cc, struct bio *bio,
			      struct colo_io *io)
{
	struct bio *clone;

	/* The replica is read after the state (acquire). */
	clone = bio_alloc_clone(cc->replica, bio, GFP_NOWAIT, &cc->replica_bs);
	if (!clone) {
		colo_lock_release(&cc->locks, &io->holder);
		return colo_defer_to_worker(cc, bio);
	}
	clone->bi_iter.bi_sector = io->sector;
	/* Nobody polls the clone: it completes by interrupt. */
	bio_clear_polled(clone);
	clone->bi_end_io = replica_clone_end;
	clone->bi_private = bio;
	io->mirrored = true;
	bio_inc_remaining(bio);
	submit_bio_noacct(clone);
	colo_remap(io, bio, cc->base->bdev);
	return DM_MAPIO_REMAPPED;
}

/*
 * The end of a VM write sent from map to base and replica (io->mirrored),
 * both done. A base error fails the VM's write (end_io sets the error
 * flag); base and replica may differ until its chunks are copied again:
 * they are marked dirty and, unless the replica failed too (the mirror is
 * degraded then), the mirror copies them, as dual_write_done() does.
 * Interrupt context, from end_io while the write still holds its range.
 */
void colo_mirror_write_end(struct colo_c *cc, struct colo_io *io,
			   blk_status_t error)
{
	if (!error)
		return;
	mark_range_dirty(cc, &io->holder);
	if (!io->replica_failed)
		mirror_recopy(cc);
}

/*
 * A VM write while a mirror runs, of one chunk or of several in one lock
 * granule, held shared as one range until it completes: it goes to both
 * only when every chunk of it is on the replica, else its chunks are
 * marked and it goes to base.
 *
 * From map (!@in_worker), which must not sleep: the range is tried without
 * parking, leaves are prepared with GFP_NOWAIT and the replica's copy is a
 * clone of the bio (mirror_write_clone()); a busy range, a leaf or a clone
 * that cannot be had sends the bio to the worker, with nothing changed.
 * From the worker, which may sleep: a busy range parks the bio, leaves are
 * allocated with GFP_NOIO and the copies are sent with dm-io.
 *
 * Returns DM_MAPIO_REMAPPED (to base), or DM_MAPIO_SUBMITTED.
 */
int colo_mirror_write(struct colo_c *cc, struct bio *bio, struct colo_io *io,
		      bool in_worker)
{
	u64 c, last = colo_bio_last_chunk(cc, io, bio);
	struct dm_io_region regions[2];
	struct dm_io_request req;
	bool on_replica = true, busy = false;

	/* dm sends a flush's data without REQ_PREFLUSH; dm-io copes anyway. */
	if (!in_worker && (bio->bi_opf & REQ_PREFLUSH))
		return colo_defer_to_worker(cc, bio);
	if (!colo_lock_try_range(&cc->locks, &io->holder, io->chunk, last,
				 COLO_HOLD_SHARED, in_worker ? bio : NULL))
		return in_worker ? DM_MAPIO_SUBMITTED :
				   colo_defer_to_worker(cc, bio);

	/* Either way the bits may need setting, maybe from the completion. */
	for (c = io->chunk; c <= last; c++) {
		if (!colo_prepare_or_defer(cc, bio, &cc->dirty_map, c,
					   in_worker, "dirty"))
			return DM_MAPIO_SUBMITTED;
		if (!chunk_on_replica(cc, c))
			on_replica = false;
		/* A background write's copy could land after ours. */
		else if (colo_async_busy(cc, c))
			busy = true;
	}
	if (!colo_mirror_active(cc) || !on_replica || busy) {
		mark_range_dirty(cc, &io->holder);
		/* A chunk on the replica is dirty now: the mirror copies it. */
		if (busy && on_replica) {
			colo_async_count_ahead(cc);
			mirror_recopy(cc);
		}
		colo_remap(io, bio, cc->base->bdev);
		return DM_MAPIO_REMAPPED;
	}
	switch (colo_async_write(cc, bio, io)) {
	case COLO_ASYNC_SENT:
		/*
		 * Its copy goes to the replica once it ended: a base error
		 * makes the chunks dirty again in colo_mirror_write_end(), as
		 * for a write sent to both from map.
		 */
		io->mirrored = true;
		colo_remap(io, bio, cc->base->bdev);
		return DM_MAPIO_REMAPPED;
	case COLO_ASYNC_AHEAD:
		/* Dirty before it completes: the mirror copies it later. */
		mark_range_dirty(cc, &io->holder);
		colo_async_count_ahead(cc);
		mirror_recopy(cc);
		colo_remap(io, bio, cc->base->bdev);
		return DM_MAPIO_REMAPPED;
	case COLO_ASYNC_SYNC:
		break;
	}
	if (!in_worker)
		return mirror_write_clone(cc, bio, io);

	regions[0].bdev = cc->base->bdev;
	regions[0].sector = io->sector;
	regions[0].count = bio_sectors(bio);
	regions[1] = regions[0];
	regions[1].bdev = cc->replica;
	req.bi_opf = bio->bi_opf;
	req.mem.type = DM_IO_BIO;
	req.mem.ptr.bio = bio;
	req.notify.fn = dual_write_done;
	req.notify.context = bio;
	req.client = cc->io_client;
	/* Asynchronous: errors reach dual_write_done(). */
	dm_io(&req, ARRAY_SIZE(regions), regions, NULL, IOPRIO_DEFAULT);
	return DM_MAPIO_SUBMITTED;
}

/* Close the replica. No I/O may use it: the caller drained. */
static void close_replica(struct colo_c *cc)
{
	if (!cc->replica)
		return;
	bd_unlink_disk_holder(cc->replica, dm_disk(cc->md));
	colo_bdev_close(&cc->replica_handle);
	cc->replica = NULL;
}

/* Stop the mirror work and wait for its copies and every mirrored write. */
static void stop_mirroring(struct colo_c *cc)
{
	/* It reads the replica: stopped before the replica closes. */
	colo_verify_cancel(cc, "the mirror was stopped");
	note_cut_short(cc);
	set_mirror_state(cc, RUNNING_STATES | BIT(COLO_MIRROR_DEGRADED),
			 COLO_MIRROR_NONE);
	colo_mirror_pause(cc);
	cancel_delayed_work_sync(&cc->mirror_work);
	/* Background writes of the async mode too (cc->inflight). */
	colo_hold_and_drain_uninterruptible(cc);
	close_replica(cc);
	atomic64_set(&cc->mirrored, 0);
	/* No mirror, no mode: the status shows none 0/0 0. */
	colo_async_reset(cc, 0);
	colo_release_hold(cc, COLO_HOLD_ALL);
}

/*
 * May @bdev be the replica? Not base, not smaller than the target, and not
 * the colo device or a device stacked on it: the mirror's writes would
 * come back here and wait for the chunk their own copy holds.
 */
static int check_replica(struct colo_c *cc, struct block_device *bdev,
			 const char *path)
{
	int r;

	if (bdev == cc->base->bdev || bdev_nr_sectors(bdev) < cc->ti->len) {
		DMERR("%s: mirror start refused: %.256s has %llu sectors, %llu needed",
		      colo_name(cc), path,
		      (unsigned long long)bdev_nr_sectors(bdev),
		      (unsigned long long)cc->ti->len);
		return -EINVAL;
	}
	r = colo_stack_contains(bdev, dm_disk(cc->md)->part0);
	if (r > 0) {
		DMERR("%s: mirror start refused: %.256s is the device itself or stacked on it",
		      colo_name(cc), path);
		return -EINVAL;
	}
	if (r < 0) {
		DMERR("%s: mirror start refused: cannot read the stack of %.256s in /sys: %d",
		      colo_name(cc), path, r);
		return r;
	}
	return 0;
}

/*
 * Phase 1 copies at most @rate KiB/s (0: no limit), or, with @min_rate
 * (non-zero), at an auto rate with that floor (dm-colo-rate.h). The
 * caller holds msg_lock.
 */
int colo_mirror_start(struct colo_c *cc, const char *path,
		      enum colo_mirror_sync sync, unsigned int rate,
		      unsigned int min_rate, unsigned int max_lag)
{
	enum colo_mirror_state state = colo_mirror_state(cc);
	struct colo_bdev_handle handle;
	struct block_device *bdev;
	unsigned int gap;
	int r;

	if (colo_overlay(cc)) {
		DMERR("%s: mirror start refused: the failover commit is not done",
		      colo_name(cc));
		return -EBUSY;
	}
	if (state == COLO_MIRROR_COPYING || state == COLO_MIRROR_INSYNC) {
		DMERR("%s: mirror start refused: already mirroring (%s)",
		      colo_name(cc), colo_mirror_state_name(state));
		return -EBUSY;
	}
	/* A dirty sync that cannot know it copies enough does not guess. */
	gap = READ_ONCE(cc->mirror_gap);
	if (sync == COLO_SYNC_DIRTY && gap) {
		DMERR("%s: mirror start refused: dirty chunks may be missing (%s): use full",
		      colo_name(cc), colo_gap_reason(gap));
		return -EINVAL;
	}
	/* Claimed by the mapped device: a reload carries the claim over. */
	bdev = colo_bdev_open(path, cc->md, &handle);
	if (IS_ERR(bdev)) {
		DMERR("%s: mirror start refused: cannot open %.256s exclusively: %ld",
		      colo_name(cc), path, PTR_ERR(bdev));
		return PTR_ERR(bdev);
	}
	r = check_replica(cc, bdev, path);
	if (!r) {
		/*
		 * A leg in sysfs as base is (holders/, slaves/), for lsblk and
		 * for udev's rules, which keep a leg unprobed (README, udev).
		 */
		r = bd_link_disk_holder(bdev, dm_disk(cc->md));
		if (r)
			DMERR("%s: mirror start refused: cannot link %.256s in sysfs: %d",
			      colo_name(cc), path, r);
	}
	/* The async mode's map of busy chunks, at its first use. */
	if (!r && max_lag && colo_async_prepare(cc)) {
		bd_unlink_disk_holder(bdev, dm_disk(cc->md));
		DMERR("%s: mirror start refused: no memory for the async mode's bitmap",
		      colo_name(cc));
		r = -ENOMEM;
	}
	if (r) {
		colo_bdev_close(&handle);
		return r;
	}

	/* A degraded mirror's replica is let go; its dirty bits stay. */
	if (state == COLO_MIRROR_DEGRADED)
		stop_mirroring(cc);

	/*
	 * Writes mapped before the mirror runs mark their chunks and go to
	 * base with no chunk lock: let them land before a copy can clear
	 * their bits and read base, else the copy could miss them.
	 */
	colo_hold_and_drain_uninterruptible(cc);
	cc->replica_handle = handle;
	cc->replica = bdev;
	cc->mirror_full_pass = sync == COLO_SYNC_FULL;
	/*
	 * A crash before the full pass is in sync cuts it short: with a
	 * metadata device that is on disk before the pass starts, and stays
	 * there until the replica was flushed at in-sync (commit_state() in
	 * dm-colo-meta.c). The pass's copies take no write-intent mark: a
	 * chunk whose copy was in flight at a crash is in no marked region.
	 */
	if (sync == COLO_SYNC_FULL) {
		WRITE_ONCE(cc->mirror_full_unsynced, true);
		colo_meta_gap_sync(cc, COLO_META_GAP_CUT_SHORT);
	}
	cc->mirror_cursor = 0;
	cc->mirror_skipped = false;
	colo_rate_start(&cc->mirror_rate, rate, min_rate, cc->guest_ios);
	colo_async_reset(cc, max_lag);
	atomic64_set(&cc->mirrored, 0);
	/* Publishes the replica and the mode (release). */
	set_mirror_state(cc, BIT(COLO_MIRROR_NONE), COLO_MIRROR_COPYING);
	colo_release_hold(cc, COLO_HOLD_ALL);
	DMINFO("%s: mirror to %.256s started (%s, %llu chunks, %s mode, max_lag %u KiB)",
	       colo_name(cc), path, sync == COLO_SYNC_FULL ? "full" : "dirty",
	       (unsigned long long)colo_mirror_left(cc),
	       max_lag ? "async" : "sync", max_lag);
	/* A watcher (colosetup monitor) sees the mirror start at once. */
	colo_event(cc);
	colo_mirror_kick(cc);
	return 0;
}

/* The caller holds msg_lock. */
int colo_mirror_stop(struct colo_c *cc)
{
	if (colo_mirror_state(cc) == COLO_MIRROR_NONE) {
		DMERR("%s: mirror stop refused: no mirror", colo_name(cc));
		return -EINVAL;
	}
	stop_mirroring(cc);
	DMINFO("%s: mirror stopped", colo_name(cc));
	colo_event(cc);
	return 0;
}

/* Log the new limit of a background pass (@what: mirror, verify). */
void colo_log_rate(struct colo_c *cc, const char *what, unsigned int rate,
		   unsigned int min_rate)
{
	if (min_rate)
		DMINFO("%s: %s rate: auto, at least %u KiB/s", colo_name(cc),
		       what, min_rate);
	else if (rate)
		DMINFO("%s: %s rate: at most %u KiB/s", colo_name(cc), what,
		       rate);
	else
		DMINFO("%s: %s rate: no limit", colo_name(cc), what);
}

/*
 * "mirror rate <KiB/s>|auto|none [min_rate <KiB/s>]": the running mirror's
 * phase 1 goes on at the new limit (a mirror in sync keeps it for a copy
 * that a failed write or "dirty add" starts again). The caller holds
 * msg_lock.
 */
int colo_mirror_rate(struct colo_c *cc, unsigned int rate,
		     unsigned int min_rate)
{
	enum colo_mirror_state state = colo_mirror_state(cc);

	if (state != COLO_MIRROR_COPYING && state != COLO_MIRROR_INSYNC) {
		DMERR("%s: mirror rate refused: the mirror is %s, not copying or in-sync",
		      colo_name(cc), colo_mirror_state_name(state));
		return -EINVAL;
	}
	colo_rate_set(&cc->mirror_rate, rate, min_rate);
	colo_log_rate(cc, "mirror", rate, min_rate);
	/* A step waiting out the old limit goes at once. */
	colo_mirror_kick(cc);
	return 0;
}

/*
 * mirror async <max_lag> | mirror sync (@max_lag 0): switch a running
 * mirror's mode. To sync, the background writes in flight are waited
 * for before it returns: from then on every write that completes is on
 * both, and the chunks that went ahead are dirty, copied by the mirror.
 * The caller holds msg_lock.
 */
int colo_mirror_set_async(struct colo_c *cc, unsigned int max_lag)
{
	enum colo_mirror_state state = colo_mirror_state(cc);
	unsigned int old = colo_async_max_lag(cc);
	int r;

	if (state != COLO_MIRROR_COPYING && state != COLO_MIRROR_INSYNC) {
		DMERR("%s: mirror %s refused: no running mirror (%s)",
		      colo_name(cc), max_lag ? "async" : "sync",
		      colo_mirror_state_name(state));
		return -EINVAL;
	}
	if (old == max_lag)
		return 0;
	if (max_lag && colo_async_prepare(cc)) {
		DMERR("%s: mirror async refused: no memory for its bitmap",
		      colo_name(cc));
		return -ENOMEM;
	}
	r = colo_async_switch(cc, max_lag);
	if (r) {
		DMERR("%s: mirror %s interrupted while the lag drained, nothing changed",
		      colo_name(cc), max_lag ? "async" : "sync");
		return r;
	}
	if (max_lag)
		DMINFO("%s: mirror switched to async mode, max_lag %u KiB",
		       colo_name(cc), max_lag);
	else
		DMINFO("%s: mirror switched to sync mode; the background writes drained",
		       colo_name(cc));
	colo_event(cc);
	return 0;
}

/*
 * Chunks still to copy: those ahead of a full pass, else the dirty ones.
 * For the status; an estimate by nature.
 */
u64 colo_mirror_left(struct colo_c *cc)
{
	enum colo_mirror_state state = colo_mirror_state(cc);

	if (state == COLO_MIRROR_NONE)
		return 0;
	/* A full pass: what is ahead (dirty bits behind it are not counted). */
	if (state == COLO_MIRROR_COPYING && READ_ONCE(cc->mirror_full_pass))
		return cc->nr_chunks - min(READ_ONCE(cc->mirror_cursor),
					   cc->nr_chunks);
	return colo_bitmap_count(&cc->dirty_map);
}

/*
 * A reload: the mirror, its replica and its progress pass to @to (see
 * __carry_state()); @from no longer closes the replica.
 */
void colo_mirror_carry(struct colo_c *from, struct colo_c *to)
{
	to->replica_handle = from->replica_handle;
	to->replica = from->replica;
	from->replica = NULL;
	to->mirror_full_pass = from->mirror_full_pass;
	to->mirror_full_unsynced = from->mirror_full_unsynced;
	to->mirror_gap = from->mirror_gap;
	to->flush_failures = from->flush_failures;
	to->mirror_cursor = from->mirror_cursor;
	to->mirror_skipped = from->mirror_skipped;
	atomic64_set(&to->mirrored, atomic64_read(&from->mirrored));
	colo_rate_carry(&to->mirror_rate, &from->mirror_rate, to->guest_ios);
	colo_async_carry(from, to);
	/* The replica first: pairs with colo_mirror_state(). */
	smp_store_release(&to->mirror_state, from->mirror_state);
	from->mirror_state = COLO_MIRROR_NONE;
}

int colo_mirror_init(struct colo_c *cc)
{
	int r;

	spin_lock_init(&cc->mirror_lock);
	cc->mirror_state = COLO_MIRROR_NONE;
	atomic64_set(&cc->mirrored, 0);
	/* A new table knows nothing of what a replica holds. */
	colo_dirty_incomplete(cc, COLO_META_GAP_FRESH);
	INIT_DELAYED_WORK(&cc->mirror_work, mirror_worker);
	cc->slot_waiters[COLO_SLOT_WAITER_MIRROR] = colo_mirror_kick;
	cc->io_client = dm_io_client_create();
	if (IS_ERR(cc->io_client))
		return PTR_ERR(cc->io_client);
	/*
	 * The clones of writes mirrored from map: no data pages of their
	 * own, no front pad (bi_private finds the VM's bio). The pool's
	 * reserve serves map when the slab has nothing at hand; when it is
	 * empty too, the write goes the worker's way. Every table has one,
	 * since a failover or a reload gives it a mirror without a new ctr.
	 */
	r = bioset_init(&cc->replica_bs, BIO_POOL_SIZE, 0, 0);
	if (r)
		goto bad_bs;
	r = colo_async_init(cc);
	if (r)
		goto bad_async;
	return 0;

bad_async:
	bioset_exit(&cc->replica_bs);
bad_bs:
	dm_io_client_destroy(cc->io_client);
	return r;
}

/* The target goes away: nothing is in flight any more. */
void colo_mirror_destroy(struct colo_c *cc)
{
	cancel_delayed_work_sync(&cc->mirror_work);
	close_replica(cc);
	colo_async_destroy(cc);
	bioset_exit(&cc->replica_bs);
	dm_io_client_destroy(cc->io_client);
}
