// SPDX-License-Identifier: GPL-2.0
/*
 * dm-colo: the write-intent marks of the metadata device, in primary mode
 * (README "Metadata device"; the locking contract is in dm-colo-meta.h).
 *
 * Write-intent marks. A write in primary mode counts itself in the users
 * of every region it touches, then checks that each region is marked: the
 * clearing pass clears a region's marked bit, then reads its users, with a
 * full barrier between each pair of steps, so either the pass sees the
 * write and keeps the mark, or the write sees the mark gone and asks for
 * it again. A write whose marks are missing waits on the waiting list;
 * the mark worker writes every mark asked for with one write and one
 * flush, then lets all the waiting writes go (colo_meta.wake).
 *
 * Marks are cleared lazily: once a second (the metadata's tick), while the
 * mirror is in sync, for a region that is idle and has no dirty chunk,
 * after a flush of the replica.
 */
#include <linux/atomic.h>
#include <linux/bitops.h>
#include <linux/blkdev.h>
#include <linux/slab.h>

#include "dm-colo-meta-internal.h"

#define DM_MSG_PREFIX "colo"

/*
 * Make the marks asked for in m->want durable, then usable. Returns the
 * result of the write; on failure the marks are not usable, but nothing
 * waits for them any more (colo_meta_fail()). io_lock held.
 */
int colo_meta_write_marks(struct colo_meta *m)
{
	u64 r, nr = m->layout.nr_regions;
	bool any = false, changed = false;
	int err = 0;

	/* Take the marks asked for until now; later ones wait for a run. */
	spin_lock_irq(&m->lock);
	for (r = find_first_bit(m->want, nr); r < nr;
	     r = find_next_bit(m->want, nr, r + 1)) {
		__clear_bit(r, m->want);
		__set_bit(r, m->marking);
		any = true;
		if (!test_bit(r, m->ondisk)) {
			__set_bit(r, m->ondisk);
			__set_bit(block_of(r), m->blk_changed);
			WRITE_ONCE(m->nr_marked, m->nr_marked + 1);
			changed = true;
		}
	}
	spin_unlock_irq(&m->lock);
	if (!any)
		return 0;

	/*
	 * A mark still on disk (a clearing pass took it back in memory only)
	 * is durable already: ondisk changes only under io_lock, each time
	 * followed by a write-out that succeeded or failed the metadata.
	 */
	if (changed) {
		err = colo_meta_put_region_blocks(m);
		if (!err)
			err = colo_meta_write_out(m, "mark write");
	} else if (meta_failed(m)) {
		err = -EIO;
	}

	for (r = find_first_bit(m->marking, nr); r < nr;
	     r = find_next_bit(m->marking, nr, r + 1)) {
		__clear_bit(r, m->marking);
		if (!err)
			set_bit(r, m->marked);
	}
	return err;
}

void colo_meta_mark_worker(struct work_struct *work)
{
	struct colo_meta *m = container_of(work, struct colo_meta, mark_work);
	struct bio_list bios;

	bio_list_init(&bios);
	mutex_lock(&m->io_lock);
	/* Every bio waiting now asked for its marks before we take them. */
	spin_lock_irq(&m->lock);
	bio_list_merge(&bios, &m->waiting);
	bio_list_init(&m->waiting);
	spin_unlock_irq(&m->lock);
	colo_meta_write_marks(m);
	mutex_unlock(&m->io_lock);

	/* Marked, or failed: they run again from the top either way. */
	if (!bio_list_empty(&bios))
		colo_defer_bios(m->cc, &bios);
}

static void regions_of(struct colo_meta *m, struct colo_io *io,
		       unsigned int sectors, u64 *first, u64 *last)
{
	*first = region_of(m, io->sector);
	*last = region_of(m, io->sector + sectors - 1);
}

/*
 * A write in primary mode: true when every region it touches is marked on
 * disk, and it then counts as a user of them until colo_meta_write_end().
 * Else the bio waits for its marks and runs again from the worker: false,
 * the caller returns DM_MAPIO_SUBMITTED. Map or worker context.
 */
bool colo_meta_write_begin(struct colo_c *cc, struct bio *bio,
			   struct colo_io *io)
{
	struct colo_meta *m = cc->meta;
	unsigned long flags;
	bool marked = true;
	u64 r, first, last;

	if (!m || io->meta_sectors || !bio_sectors(bio) || meta_failed(m))
		return true;
	regions_of(m, io, bio_sectors(bio), &first, &last);
	for (r = first; r <= last; r++)
		atomic_inc(&m->users[r]);
	/* Pairs with the barrier in clear_region(). */
	smp_mb__after_atomic();
	for (r = first; r <= last; r++)
		if (!test_bit(r, m->marked))
			marked = false;
	if (marked) {
		for (r = first; r <= last; r++)
			if (!test_bit(r, m->used))
				set_bit(r, m->used);
		io->meta_sectors = bio_sectors(bio);
		return true;
	}
	for (r = first; r <= last; r++)
		atomic_dec(&m->users[r]);

	spin_lock_irqsave(&m->lock, flags);
	if (meta_failed(m)) {
		spin_unlock_irqrestore(&m->lock, flags);
		return true;
	}
	for (r = first; r <= last; r++)
		if (!test_bit(r, m->marked))
			__set_bit(r, m->want);
	bio_list_add(&m->waiting, bio);
	spin_unlock_irqrestore(&m->lock, flags);
	queue_work(m->wq, &m->mark_work);
	return false;
}

/* The write of @io completed. Any context. */
void colo_meta_write_end(struct colo_c *cc, struct colo_io *io)
{
	struct colo_meta *m = cc->meta;
	u64 r, first, last;

	if (!m || !io->meta_sectors)
		return;
	regions_of(m, io, io->meta_sectors, &first, &last);
	for (r = first; r <= last; r++)
		atomic_dec(&m->users[r]);
	io->meta_sectors = 0;
}

static atomic_t *chunk_users(struct colo_c *cc, u64 chunk)
{
	struct colo_meta *m = cc->meta;

	return &m->users[region_of(m, colo_chunk_to_sector(chunk,
							   cc->chunk_shift))];
}

/* A mirror copy of @chunk keeps its region marked. Any context. */
void colo_meta_copy_get(struct colo_c *cc, u64 chunk)
{
	if (cc->meta)
		atomic_inc(chunk_users(cc, chunk));
}

void colo_meta_copy_put(struct colo_c *cc, u64 chunk)
{
	if (cc->meta)
		atomic_dec(chunk_users(cc, chunk));
}

/* Ask for the marks of chunks @first..@last (a message; sleeps). */
int colo_meta_mark_chunks(struct colo_c *cc, u64 first, u64 last)
{
	struct colo_meta *m = cc->meta;
	u64 r, end;

	if (!m)
		return 0;
	end = region_of(m, colo_chunk_to_sector(last, cc->chunk_shift));
	spin_lock_irq(&m->lock);
	for (r = region_of(m, colo_chunk_to_sector(first, cc->chunk_shift));
	     r <= end; r++)
		if (!test_bit(r, m->marked))
			__set_bit(r, m->want);
	spin_unlock_irq(&m->lock);
	return 0;
}

/* Write the marks asked for by colo_meta_mark_chunks(). Sleeps. */
int colo_meta_flush_marks(struct colo_c *cc)
{
	struct colo_meta *m = cc->meta;
	int r;

	if (!m)
		return 0;
	mutex_lock(&m->io_lock);
	r = colo_meta_write_marks(m);
	mutex_unlock(&m->io_lock);
	/* A failed metadata device stops nothing (colo_meta_fail()). */
	return meta_failed(m) ? 0 : r;
}

static bool region_dirty(struct colo_meta *m, u64 region)
{
	struct colo_c *cc = m->cc;
	u64 first, end;

	colo_meta_region_chunks(region, m->region_shift, cc->chunk_shift,
				cc->nr_chunks, &first, &end);
	return colo_bitmap_next_set(&cc->dirty_map, first) < end;
}

/*
 * Take @region's mark back in memory if it is on the replica and idle: no
 * write since the last pass, none in flight, no dirty chunk. A write that
 * comes after finds it unmarked and asks for it again. True when taken
 * back; still on disk. io_lock held.
 */
static bool take_back_region(struct colo_meta *m, u64 region)
{
	if (test_and_clear_bit(region, m->used) ||
	    atomic_read(&m->users[region]) || region_dirty(m, region))
		return false;
	clear_bit(region, m->marked);
	/* Pairs with the barrier in colo_meta_write_begin(). */
	smp_mb__after_atomic();
	if (atomic_read(&m->users[region]) || region_dirty(m, region)) {
		set_bit(region, m->marked);
		return false;
	}
	return true;
}

/* Take back every idle region's mark (m->clearing). io_lock held. */
static bool take_back_regions(struct colo_meta *m)
{
	u64 r, nr = m->layout.nr_regions;
	bool any = false;

	for (r = find_first_bit(m->ondisk, nr); r < nr;
	     r = find_next_bit(m->ondisk, nr, r + 1)) {
		if (take_back_region(m, r)) {
			__set_bit(r, m->clearing);
			any = true;
		}
		cond_resched();
	}
	return any;
}

/*
 * The marks taken back leave the disk once the replica is flushed
 * (@flushed), unless a write asked for one again while it flushed: the
 * mark worker found it still on disk and gave it back (m->marked). If
 * the flush failed they all stay marked, durable on disk. io_lock held.
 */
static void settle_regions(struct colo_meta *m, bool flushed)
{
	u64 r, nr = m->layout.nr_regions;

	for (r = find_first_bit(m->clearing, nr); r < nr;
	     r = find_next_bit(m->clearing, nr, r + 1)) {
		__clear_bit(r, m->clearing);
		if (test_bit(r, m->marked))
			continue;
		if (!flushed) {
			set_bit(r, m->marked);
			continue;
		}
		__clear_bit(r, m->ondisk);
		__set_bit(block_of(r), m->blk_changed);
		WRITE_ONCE(m->nr_marked, m->nr_marked - 1);
	}
}

/*
 * The lazy clearing pass: only while the mirror is in sync, where a chunk
 * that is not dirty is on the replica. A lost clear would only cost a
 * resync of the region after a crash.
 *
 * Every write to a region taken back has completed on both legs (none in
 * flight, none since the last pass), but a replica with a volatile cache
 * may not hold it durably yet: the replica is flushed before a cleared
 * mark is written, so that a mark leaves the disk only once what it
 * covered is durable on the replica too (LESSONS.md #4). The flush runs
 * without io_lock: a slow replica never holds up the marks a VM write
 * waits for. A flush error keeps the marks and degrades the mirror. The
 * pass counts in inflight (colo_enter_job()) while it uses the replica:
 * mirror stop waits for it before the replica closes, postsuspend before
 * the target rests, and no pass starts while they hold or suspend. Tick
 * worker; takes io_lock.
 */
void colo_meta_clear_marks(struct colo_meta *m)
{
	struct colo_c *cc = m->cc;
	bool any = false, flushed = true;

	if (!colo_enter_job(cc))
		return;
	/*
	 * Read after the count: mirror stop changes the state before it
	 * holds. No pass while the target suspends: the replica may be
	 * suspended too, and a flush to it would wait for its resume.
	 */
	if (test_bit(COLO_SUSPENDED, &cc->flags) ||
	    colo_mirror_state(cc) != COLO_MIRROR_INSYNC)
		goto out;
	mutex_lock(&m->io_lock);
	if (!meta_failed(m))
		any = take_back_regions(m);
	mutex_unlock(&m->io_lock);
	if (any)
		flushed = !blkdev_issue_flush(cc->replica);

	mutex_lock(&m->io_lock);
	settle_regions(m, flushed);
	if (!meta_failed(m) && !colo_meta_put_region_blocks(m))
		colo_meta_write_out(m, "clear write");
	mutex_unlock(&m->io_lock);
	if (!flushed)
		colo_mirror_flush_failed(cc);
out:
	colo_exit(cc);
}

/*
 * A replica flush failed (colo_mirror_flush_failed()): the writes it may
 * have lost are in regions still marked on disk. The tick folds them into
 * the dirty bitmap (colo_meta_fold_marks()). Any context.
 */
void colo_meta_flush_failed(struct colo_c *cc)
{
	struct colo_meta *m = cc->meta;

	if (!m || !test_bit(META_LIVE, &m->flags) || meta_failed(m))
		return;
	set_bit(META_FOLD, &m->flags);
	mod_delayed_work(m->wq, &m->tick, 0);
}

/*
 * Every chunk of a region marked on disk becomes dirty, so that a dirty
 * sync copies again what a failed replica flush may have lost; then the
 * dirty coverage is complete again (colo_dirty_covered()). Without memory
 * for the bitmap it stays unknown: a full sync is asked for. Tick or
 * postsuspend; takes io_lock.
 */
void colo_meta_fold_marks(struct colo_meta *m)
{
	struct colo_c *cc = m->cc;
	unsigned int failures;
	int err;

	if (!test_and_clear_bit(META_FOLD, &m->flags))
		return;
	/* Failures counted now are covered by the marks read below. */
	failures = colo_flush_failures(cc);
	mutex_lock(&m->io_lock);
	err = meta_failed(m) ? -EIO : colo_meta_marks_to_dirty(m, GFP_NOIO);
	mutex_unlock(&m->io_lock);
	if (err) {
		DMERR("%s: marked regions not made dirty (%d): sync in full",
		      colo_name(cc), err);
		return;
	}
	colo_mirror_dirty_added(cc);
	colo_dirty_covered(cc, failures);
}

/* Ask for the marks of every region with a bit set in @bm. io_lock held. */
void colo_meta_want_chunks_of(struct colo_meta *m, struct colo_bitmap *bm)
{
	struct colo_c *cc = m->cc;
	unsigned int per_region = m->region_shift - cc->chunk_shift;
	u64 c, r;

	/* One bit found marks its region: go on from the next region. */
	spin_lock_irq(&m->lock);
	for (c = colo_bitmap_next_set(bm, 0); c < cc->nr_chunks;
	     c = colo_bitmap_next_set(bm, (r + 1) << per_region)) {
		r = c >> per_region;
		__set_bit(r, m->want);
	}
	spin_unlock_irq(&m->lock);
}
