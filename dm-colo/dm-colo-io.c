// SPDX-License-Identifier: GPL-2.0
/*
 * dm-colo: the data path: map, the worker and end_io of both targets.
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
 * Decisions, locks, fills and copies-before-write are made in map; a bio
 * goes to the worker only when a bitmap leaf cannot be had without
 * sleeping, and a parked bio runs there when its chunk is granted. Copies
 * are done by the copy engine (dm-colo-copy.c), each in one of max_copies
 * slots (dm-colo-job.c). Every bio of either target is counted in
 * cc->inflight from map to end_io (dm-colo-flight.c), so that checkpoint
 * and suspend can wait for the I/O in flight.
 *
 * Primary mode (after failover, or a primary table): reads go to base
 * (through the overlay while the failover commit runs), writes mark the
 * dirty bitmap and, with a mirror, reach the replica too
 * (dm-colo-mirror.c).
 *
 * A fleece (dm-colo-fleece.h): before anything else, every write that
 * will reach base (ingress, or a primary's VM write) lets the fleece save
 * the chunks it still needs (colo_save_before_write()), and the worker
 * runs the fleece's parked and held bios too (colo_fleece_process()).
 */
#include <linux/blkdev.h>
#include <linux/percpu.h>
#include <linux/slab.h>

#include "dm-colo.h"
#include "dm-colo-fleece.h"

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

	if (!colo_bio_spans_chunks(cc, io, bio))
		return -EAGAIN;
	io->chunk = colo_sector_to_chunk(io->sector, cc->chunk_shift);
	r = whole(cc, bio, io);
	if (r == -EAGAIN)
		colo_cut_at_chunk_border(cc, io, bio);
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

/* The lock's wake callback: parked bios retry from the worker. */
static void wake_bios(void *context, struct bio_list *bios)
{
	colo_defer_bios(context, bios);
}

/*
 * The leaves a checkpoint leaves stale are freed this long after it, by one
 * pass for every checkpoint in between (COLO checkpoints come every few
 * milliseconds to seconds). Queued at once, it made a checkpoint of a
 * 16 TiB device take 1.5 ms instead of 44 us (bench, 2026-12-05).
 */
#define COLO_RECLAIM_DELAY	HZ

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
	/* Base is the primary's disk at this checkpoint (a fleece may start). */
	clear_bit(COLO_BASE_WRITTEN, &cc->flags);
	colo_release_hold(cc, COLO_HOLD_ALL);
	/* Pending already: this checkpoint's stale leaves go with it. */
	queue_delayed_work(cc->wq, &cc->reclaim_work, COLO_RECLAIM_DELAY);
	return 0;
}

static void reclaim_worker(struct work_struct *work)
{
	struct colo_c *cc = container_of(to_delayed_work(work), struct colo_c,
					 reclaim_work);

	colo_bitmap_reclaim(&cc->active_map);
	colo_bitmap_reclaim(&cc->hidden_map);
}

/* The end of a VM bio's copy (copy_chunk()). Process context. */
static void copy_done(int read_err, unsigned long write_err, void *context)
{
	struct bio *bio = context;
	struct colo_io *io = colo_io_of(bio);
	struct colo_c *cc = io->cc;

	colo_copy_slot_put(cc);

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

/*
 * Copy @bio's chunk from @from to @to, then submit @bio (in copy_done()).
 * Map or worker context; may sleep in dm-io's mempools, as dm-snapshot's
 * map does in dm-kcopyd's. From the worker, copy_done() may run before
 * this returns. From map it never does: dm holds the bios a map submits
 * (current->bio_list) until map returns, so the copy's read is issued then
 * and the copy goes on from the copier's work item.
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

	colo_chunk_regions(cc, io->chunk, io->chunk, from->bdev, to->bdev,
			   &src, &dst);
	colo_copy_start(&cc->copier, &io->copy, &src, &dst, copy_done, bio);
	return DM_MAPIO_SUBMITTED;
}

/*
 * Flushes go to every leg that holds data of the path: one flush bio each
 * (dm_bio_get_target_bio_nr) for base, hidden and active (secondary tables),
 * and the replica while a mirror runs (in async mode a flush of its own
 * that the VM does not wait for, see dm-colo-async.c). A flush for a leg
 * that is not there has nothing to do. With a metadata device, the VM's
 * flush to base first puts the failover commit's progress on disk
 * (colo_meta_sync()): a chunk the VM wrote after it left the commit is
 * never copied over again.
 */
static int remap_flush(struct colo_c *cc, struct bio *bio, struct colo_io *io,
		       bool in_worker)
{
	unsigned int nr = dm_bio_get_target_bio_nr(bio);
	struct block_device *bdev = NULL;

	if (nr == 0 && !io->ingress && colo_meta_sync_needed(cc)) {
		/* The commit's progress is durable before the flush is. */
		if (!in_worker)
			return colo_defer_to_worker(cc, bio);
		colo_meta_sync(cc);
	}
	if (nr == 0) {
		bdev = cc->base->bdev;
	} else if (cc->hidden && nr == 1) {
		bdev = cc->hidden->bdev;
	} else if (cc->hidden && nr == 2) {
		bdev = cc->active->bdev;
	} else if (!io->ingress && colo_mirror_active(cc)) {
		/* Async mode: the replica's flush is not waited for. */
		if (colo_async_flush(cc, bio))
			return DM_MAPIO_SUBMITTED;
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

/*
 * The hold of a VM read of base ends: a counted read (colo_lock_read()) or
 * a shared hold. Any context.
 */
static void end_base_read(struct colo_c *cc, struct colo_io *io)
{
	if (io->counted_read) {
		io->counted_read = false;
		colo_lock_read_end(&cc->locks, io->chunk);
	} else {
		colo_lock_release(&cc->locks, &io->holder);
	}
}

/* The VM's side. */
static int vm_read(struct colo_c *cc, struct bio *bio, struct colo_io *io)
{
	struct dm_dev *leg = overlay_leg(cc, io->chunk);

	if (leg) {
		remap(io, bio, leg);
		return DM_MAPIO_REMAPPED;
	}

	/* Not when the chunk was granted to the bio while it was parked. */
	if (io->holder.hold == COLO_HOLD_NONE &&
	    colo_lock_read(&cc->locks, io->chunk)) {
		io->counted_read = true;
		/* Re-check: a blocker may have set a bit before it left. */
		leg = overlay_leg(cc, io->chunk);
		if (leg)
			end_base_read(cc, io);
		remap(io, bio, leg ? leg : cc->base);
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

/*
 * The VM's first write to a chunk since the checkpoint, from map or the
 * worker. Holding the chunk exclusive (a conflict parks the bio, and its
 * grant runs it again in the worker): a write of the whole chunk goes to
 * active at once, a partial one first fills the chunk in active from hidden
 * or base (the fill starts here; its dm-io is issued when map returns);
 * either way end_io sets A and then releases the chunk.
 */
static int vm_write_slow(struct colo_c *cc, struct bio *bio,
			 struct colo_io *io, bool in_worker)
{
	if (!colo_prepare_or_defer(cc, bio, &cc->active_map, io->chunk,
				   in_worker, "active"))
		return DM_MAPIO_SUBMITTED;
	if (!colo_lock_try(&cc->locks, &io->holder, io->chunk,
			   COLO_HOLD_EXCL, bio))
		return DM_MAPIO_SUBMITTED;

	if (colo_bitmap_test(&cc->active_map, io->chunk)) {
		colo_lock_release(&cc->locks, &io->holder);
		remap(io, bio, cc->active);
		return DM_MAPIO_REMAPPED;
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
		if (!colo_prepare_or_defer(cc, bio, &cc->dirty_map, c,
					   in_worker, "dirty"))
			return false;
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
			if (!in_worker)
				return colo_defer_to_worker(cc, bio);
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
			if (!in_worker)
				return colo_defer_to_worker(cc, bio);
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
 * counted read, or one shared range hold, as vm_read() takes for one
 * chunk, kept until end_io. It does not park: on conflict the bio is cut
 * and waits as a one-chunk read.
 */
static int base_read_whole(struct colo_c *cc, struct bio *bio,
			   struct colo_io *io, u64 last)
{
	u64 c;

	if (!colo_lock_same_granule(&cc->locks, io->chunk, last))
		return -EAGAIN;
	if (colo_lock_read(&cc->locks, io->chunk))
		io->counted_read = true;
	else if (!colo_lock_try_range(&cc->locks, &io->holder, io->chunk, last,
				      COLO_HOLD_SHARED, NULL))
		return -EAGAIN;
	/* Re-check under the lock: a holder may have set a bit meanwhile. */
	for (c = io->chunk; c <= last; c++) {
		if (overlay_leg(cc, c)) {
			end_base_read(cc, io);
			return -EAGAIN;
		}
	}
	remap(io, bio, cc->base);
	return DM_MAPIO_REMAPPED;
}

/*
 * A VM write of whole chunks @io->chunk to @last, some of them not in
 * active, inside one lock granule: it goes to active as one bio, as each
 * chunk's vm_write_slow() would send it alone, holding the chunks
 * exclusive as one range until end_io has set A for each. It does not
 * park: on conflict, or when a leaf cannot be allocated without sleeping,
 * the bio is cut and its chunks take the per-chunk path. Map context.
 */
static int vm_write_whole_chunks(struct colo_c *cc, struct bio *bio,
				 struct colo_io *io, u64 last)
{
	u64 c;

	if (io->sector != chunk_start(cc, io->chunk) ||
	    io->sector + bio_sectors(bio) !=
	    chunk_start(cc, last) + chunk_len(cc, last) ||
	    !colo_lock_same_granule(&cc->locks, io->chunk, last))
		return -EAGAIN;
	for (c = io->chunk; c <= last; c++)
		if (colo_bitmap_prepare(&cc->active_map, c, GFP_NOWAIT))
			return -EAGAIN;
	if (!colo_lock_try_range(&cc->locks, &io->holder, io->chunk, last,
				 COLO_HOLD_EXCL, NULL))
		return -EAGAIN;
	/* end_io sets A for the holder's range, then releases it. */
	io->set_active = true;
	remap(io, bio, cc->active);
	return DM_MAPIO_REMAPPED;
}

/*
 * A bio over several chunks, in map (see colo_bio_spans_chunks()). It is sent
 * whole when each of its chunks would take the same lock-free path on its
 * own, or, for a VM write of whole chunks, the same locked one
 * (vm_write_whole_chunks()); the bits those paths read are only ever set while the bio counts in
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
		if (!all_set(&cc->active_map, io->chunk, last))
			return vm_write_whole_chunks(cc, bio, io, last);
		leg = cc->active;
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
		return vm_write_slow(cc, bio, io, in_worker);
	default:
		return colo_fail_bio(bio);
	}
}

/* The ingress's side. */
/*
 * The ingress's first write to a chunk since the checkpoint, from map or
 * the worker: copy-before-write. Holding the chunk exclusive (a conflict
 * parks the bio, and its grant runs it again in the worker), the chunk's
 * content in base is copied to hidden (the copy starts here; its dm-io is
 * issued when map returns), then copy_done() sets H, releases the chunk and
 * sends the write to base.
 */
static int ingress_write_slow(struct colo_c *cc, struct bio *bio,
			      struct colo_io *io, bool in_worker)
{
	if (!colo_prepare_or_defer(cc, bio, &cc->hidden_map, io->chunk,
				   in_worker, "hidden"))
		return DM_MAPIO_SUBMITTED;
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
		return ingress_write_slow(cc, bio, io, in_worker);
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
		if (io->fleece)
			r = colo_fleece_process(cc, bio, io, true);
		else if (bio_op(bio) == REQ_OP_WRITE &&
			 !colo_save_before_write(cc, bio, io, true))
			continue;
		else if (io->ingress)
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

	/* The guest's activity, for an auto rate: per cpu, no shared line. */
	this_cpu_inc(*cc->guest_ios);
	init_io(io, cc, ti, bio, false);
	if (!colo_enter(cc, bio, io, true))
		return DM_MAPIO_SUBMITTED;
	if (bio_op(bio) == REQ_OP_WRITE &&
	    !colo_save_before_write(cc, bio, io, false))
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
	if (bio_op(bio) == REQ_OP_WRITE) {
		/* Counted: a fleece's start drains it, then sees the bit. */
		if (!test_bit(COLO_BASE_WRITTEN, &cc->flags))
			set_bit(COLO_BASE_WRITTEN, &cc->flags);
		if (!colo_save_before_write(cc, bio, io, false))
			return DM_MAPIO_SUBMITTED;
	}
	r = map_spanning(cc, bio, io, ingress_whole);
	if (r != -EAGAIN)
		return r;
	return ingress_process(cc, bio, io, false);
}

/*
 * A write to active of the chunks its holder holds exclusive completed: set
 * A for each (vm_write_slow(): one chunk; vm_write_whole_chunks(): a
 * range), before the chunks are released. Interrupt context.
 */
static void set_active_held(struct colo_c *cc, struct colo_io *io)
{
	u64 c;

	for (c = io->holder.chunk; c <= io->holder.last; c++)
		colo_bitmap_set(&cc->active_map, c);
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
		set_active_held(cc, io);
	if (io->commit_chunk && !*error)
		colo_chunk_committed(cc, io->chunk);
	if (io->mirrored)
		colo_mirror_write_end(cc, io, *error);
	/* Its background write keeps its hold (dm-colo-async.c). */
	if (io->async)
		colo_async_queue(cc, io);
	if (io->holder.hold != COLO_HOLD_NONE)
		colo_lock_release(&cc->locks, &io->holder);
	if (io->counted_read)
		colo_lock_read_end(&cc->locks, io->chunk);
	colo_meta_write_end(cc, io);
	if (io->counted)
		colo_exit(cc);
	return DM_ENDIO_DONE;
}

int colo_io_init(struct colo_c *cc)
{
	int r;

	colo_flight_init(cc);
	colo_jobs_init(cc);
	mutex_init(&cc->msg_lock);
	INIT_WORK(&cc->worker, worker);
	INIT_DELAYED_WORK(&cc->reclaim_work, reclaim_worker);
	colo_commit_init(cc);

	cc->guest_ios = alloc_percpu(unsigned long);
	if (!cc->guest_ios)
		return -ENOMEM;
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
	r = colo_copier_init(&cc->copier,
			     min_t(unsigned int, COLO_COPY_EXTENTS,
				   cc->max_copies));
	if (r)
		goto bad_copier;
	r = colo_mirror_init(cc);
	if (r)
		goto bad_mirror;
	r = colo_verify_init(cc);
	if (r)
		goto bad_verify;
	return 0;

bad_verify:
	colo_mirror_destroy(cc);
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
	free_percpu(cc->guest_ios);
	return r;
}

/* The caller has made sure no bio is in flight or held. */
void colo_io_destroy(struct colo_c *cc)
{
	cancel_delayed_work_sync(&cc->commit_work);
	cancel_delayed_work_sync(&cc->reclaim_work);
	/* Before the replica closes. */
	colo_verify_destroy(cc);
	colo_mirror_destroy(cc);
	colo_copier_destroy(&cc->copier);
	colo_flight_destroy(cc);
	destroy_workqueue(cc->wq);
	colo_locks_destroy(&cc->locks);
	colo_bitmap_destroy(&cc->dirty_map);
	colo_bitmap_destroy(&cc->hidden_map);
	colo_bitmap_destroy(&cc->active_map);
	free_percpu(cc->guest_ios);
}
