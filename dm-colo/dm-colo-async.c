// SPDX-License-Identifier: GPL-2.0
/*
 * dm-colo: the async mode of the mirror ("mirror start <dev> ... async
 * <max_lag>", "mirror async <max_lag>", "mirror sync"; README "Mirror").
 *
 * In async mode a VM write to chunks that are on the replica completes
 * when base completes; its copy for the replica is a background write of
 * its own (the data copied into pages of its own, since the VM's pages are
 * the VM's again once its write ended), with at most max_lag KiB of them
 * in flight: the lag. A write that would pass max_lag (or finds no memory
 * at once, or a chunk that a background write still covers) is not
 * queued: its chunks are marked dirty before it completes, and the mirror
 * copies them later ("ahead", DRBD's pull-ahead); the next write that fits
 * streams again.
 *
 * A background write, until it ends:
 *  - holds its chunks shared (its own lock holder): a mirror copy or a
 *    verify of them, which hold chunks exclusive, waits for it, so no
 *    older data lands on the replica over a copy;
 *  - has its chunks set in async_map: another write to one of them, sync
 *    or async, is not sent to the replica (two writes in flight to one
 *    place of the replica could land in either order) but marks it dirty;
 *  - counts in the users of its write-intent regions (colo_meta_copy_get(),
 *    taken while the VM's write still counts there, whose marks were
 *    durable before it was sent): a host crash leaves the regions marked,
 *    so the replica's missed writes are in the dirty bitmap at load;
 *  - counts in cc->inflight: suspend, mirror stop and the destructor wait
 *    for it (colo_quiesce(), colo_hold_and_drain_uninterruptible()).
 * Its replica error marks its chunks dirty and degrades the mirror, as a
 * sync write's does.
 *
 * The pages of a background write come back to a pool of the target's
 * when it ends, up to max_lag's worth, and the next writes take them from
 * there: a page from the page allocator is zeroed first (both Debian
 * kernels set init_on_alloc), which cost the guest about a sixth of its
 * IOPS in async mode (README, "Mirror"). The pool is trimmed to the new
 * max_lag by a switch, emptied when the mirror stops or turns sync.
 *
 * A background write is not sent from map: it is queued, and a work item
 * (the sender) sends the queue with one plug, on another CPU than the
 * guest's, a tick after the first write queued or at once when
 * ASYNC_BATCH are. The guest's vCPU then pays a list insertion, not the
 * replica's I/O stack (its device mapper targets, the NBD client, a RAM
 * disk's copy), adjacent writes merge under the plug, and one wakeup
 * serves a batch; a background write waits a tick at most more (it counts
 * in the lag meanwhile). Sent from map, each write's replica I/O ran on
 * the guest's vCPU; woken for every write, the sender cost the guest more
 * than it saved (README, "Mirror", has the numbers).
 *
 * A VM flush in async mode makes base durable as in sync mode, and sends
 * the replica a flush of its own that the VM does not wait for (an error
 * of it degrades the mirror and makes the next sync full, as today). When
 * the VM's flush completes, the replica misses at most the background
 * writes in flight (max_lag KiB) and the chunks marked dirty, both in the
 * dirty bitmap and, with a metadata device, under durable marks.
 *
 * Switching (the caller holds msg_lock) closes the window first, so that
 * no write takes room any more, then waits for the background writes to
 * drain (to sync) or to fit a lower max_lag (to async), interruptibly: an
 * interrupted switch opens the window again and changes nothing. The new
 * limit shows only once the lag fits it; to sync, only once the lag is 0:
 * from then on every write that completes is on both (or dirty), and the
 * writes that went ahead are dirty, copied by the mirror.
 */
#include <linux/bio.h>
#include <linux/blkdev.h>
#include <linux/math.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include "dm-colo.h"
#include "dm-colo-async.h"

#define DM_MSG_PREFIX "colo"

/* A background write (or flush) to the replica, in async_bs's front pad. */
struct colo_async {
	struct colo_c *cc;
	struct colo_lock_holder holder;
	u64 first;
	u64 last;
	unsigned int bytes;
	struct bio bio;		/* last: the bio set allocates it after us */
};

static struct colo_async *async_of(struct bio *bio)
{
	return container_of(bio, struct colo_async, bio);
}

/* max_lag in KiB, 0 in sync mode. Any context. */
unsigned int colo_async_max_lag(struct colo_c *cc)
{
	return READ_ONCE(cc->async_max_lag);
}

/* Give @bytes of room back. Any context. */
static void lag_put(struct colo_c *cc, unsigned int bytes)
{
	atomic64_sub(bytes, &cc->async_lag);
	/*
	 * wq_has_sleeper() has a full barrier: pairs with the one of
	 * wait_event's prepare_to_wait in colo_async_switch(), so either the
	 * waiter sees the room or we see the waiter.
	 */
	if (wq_has_sleeper(&cc->async_wq))
		wake_up(&cc->async_wq);
}

/*
 * Take @bytes of room in the window. COLO_LAG_SHUT means a switch closed
 * it (or the mode is sync).
 */
static enum colo_lag_take lag_take(struct colo_c *cc, unsigned int bytes)
{
	s64 word = atomic64_read(&cc->async_lag);
	enum colo_lag_take took;
	u64 next;

	do {
		/*
		 * An open window's limit is the one written before it was
		 * opened: pairs with atomic64_fetch_andnot() (fully ordered)
		 * in colo_async_switch().
		 */
		smp_rmb();
		took = colo_lag_take((u64)word, bytes,
				     (u64)READ_ONCE(cc->async_max_lag) << 10,
				     &next);
		if (took != COLO_LAG_TAKEN)
			return took;
	} while (!atomic64_try_cmpxchg(&cc->async_lag, &word, (s64)next));
	return COLO_LAG_TAKEN;
}

/* The sender goes at once when this many background writes are queued. */
#define ASYNC_BATCH	32

/* The pages the pool keeps at most: max_lag's worth. */
static unsigned long pool_size(unsigned int max_lag)
{
	return ((u64)max_lag << 10) >> PAGE_SHIFT;
}

/* A page for a background write: from the pool, else new. Any context. */
static struct page *pool_get(struct colo_c *cc, gfp_t gfp)
{
	struct page *page;
	unsigned long flags;

	spin_lock_irqsave(&cc->async_lock, flags);
	page = list_first_entry_or_null(&cc->async_pool, struct page, lru);
	if (page) {
		list_del(&page->lru);
		cc->async_pool_pages--;
	}
	spin_unlock_irqrestore(&cc->async_lock, flags);
	return page ?: alloc_page(gfp);
}

/*
 * The pages of @bio back to the pool, up to max_lag's worth (none in sync
 * mode); the others are freed. The pool's pages are ours alone: their lru
 * links them. Any context.
 */
static void pool_put_pages(struct colo_c *cc, struct bio *bio)
{
	unsigned long keep = pool_size(colo_async_max_lag(cc));
	struct bvec_iter_all iter;
	struct bio_vec *bv;
	unsigned long flags;

	spin_lock_irqsave(&cc->async_lock, flags);
	bio_for_each_segment_all(bv, bio, iter) {
		if (cc->async_pool_pages < keep) {
			list_add(&bv->bv_page->lru, &cc->async_pool);
			cc->async_pool_pages++;
		} else {
			__free_page(bv->bv_page);
		}
	}
	spin_unlock_irqrestore(&cc->async_lock, flags);
}

/* Keep @keep of the pool's pages at most, free the others. Sleeps. */
static void pool_trim(struct colo_c *cc, unsigned long keep)
{
	struct page *page, *next;
	LIST_HEAD(pages);

	spin_lock_irq(&cc->async_lock);
	while (cc->async_pool_pages > keep) {
		page = list_first_entry(&cc->async_pool, struct page, lru);
		list_move(&page->lru, &pages);
		cc->async_pool_pages--;
	}
	spin_unlock_irq(&cc->async_lock);
	list_for_each_entry_safe(page, next, &pages, lru)
		__free_page(page);
}

/* Send every queued background write, under one plug. The sender. */
static void send_worker(struct work_struct *work)
{
	struct colo_c *cc = container_of(to_delayed_work(work), struct colo_c,
					 async_send);
	struct blk_plug plug;
	struct bio_list bios;
	struct bio *bio;

	spin_lock_irq(&cc->async_lock);
	bios = cc->async_queue;
	bio_list_init(&cc->async_queue);
	cc->async_queued = 0;
	spin_unlock_irq(&cc->async_lock);

	blk_start_plug(&plug);
	while ((bio = bio_list_pop(&bios)))
		submit_bio_noacct(bio);
	blk_finish_plug(&plug);
}

/*
 * Queue @bio for the sender: a tick after the first, at once from the
 * ASYNC_BATCH-th on, on the next CPU (colo_next_cpu()); an unbound
 * workqueue, which lets the scheduler choose, gained less than half as
 * much in the same boots (README, "Mirror"). Map context.
 */
static void queue_background(struct colo_c *cc, struct bio *bio)
{
	unsigned long flags;
	unsigned int n;

	spin_lock_irqsave(&cc->async_lock, flags);
	bio_list_add(&cc->async_queue, bio);
	n = ++cc->async_queued;
	spin_unlock_irqrestore(&cc->async_lock, flags);
	if (n == 1)
		queue_delayed_work_on(colo_next_cpu(), cc->async_sender,
				      &cc->async_send, 1);
	else if (n == ASYNC_BATCH)
		mod_delayed_work_on(colo_next_cpu(), cc->async_sender,
				    &cc->async_send, 0);
}

/*
 * async_map's directory is allocated by the first switch to async mode
 * (colo_async_prepare()), before any background write can be sent; a
 * table that never ran one pays nothing.
 */
static bool busy_map_ready(struct colo_c *cc)
{
	/* Pairs with smp_store_release() in colo_async_prepare(). */
	return smp_load_acquire(&cc->async_map_ready);
}

/* Is a background write to @chunk in flight? Any context. */
bool colo_async_busy(struct colo_c *cc, u64 chunk)
{
	return busy_map_ready(cc) && colo_bitmap_test(&cc->async_map, chunk);
}

/*
 * Async mode is about to be used (mirror start ... async, mirror async):
 * allocate async_map's directory. The caller holds msg_lock. Returns 0 or
 * -ENOMEM, nothing changed.
 */
int colo_async_prepare(struct colo_c *cc)
{
	if (cc->async_map_ready)
		return 0;
	if (colo_bitmap_init(&cc->async_map, cc->nr_chunks)) {
		colo_bitmap_destroy(&cc->async_map);
		return -ENOMEM;
	}
	/* The directory before the flag: pairs with busy_map_ready(). */
	smp_store_release(&cc->async_map_ready, true);
	return 0;
}

static void unmark_busy(struct colo_c *cc, u64 first, u64 last)
{
	u64 c;

	for (c = first; c <= last; c++)
		colo_bitmap_clear(&cc->async_map, c);
}

/* Set @first..@last busy, all or none. Map context (GFP_NOWAIT). */
static bool mark_busy(struct colo_c *cc, u64 first, u64 last)
{
	u64 c;

	for (c = first; c <= last; c++) {
		if (colo_bitmap_prepare(&cc->async_map, c, GFP_NOWAIT) ||
		    !colo_bitmap_set(&cc->async_map, c)) {
			if (c > first)
				unmark_busy(cc, first, c - 1);
			return false;
		}
	}
	return true;
}

/*
 * The end of a background write. Interrupt context. A replica error marks
 * its chunks dirty (their leaves were prepared by the VM's write) before
 * the chunks are let go, so a copy that waited for them copies them.
 */
static void async_write_end(struct bio *bg)
{
	struct colo_async *aw = async_of(bg);
	struct colo_c *cc = aw->cc;
	u64 c;

	if (bg->bi_status)
		colo_mirror_replica_failed(cc, aw->first, aw->last);
	unmark_busy(cc, aw->first, aw->last);
	colo_lock_release(&cc->locks, &aw->holder);
	for (c = aw->first; c <= aw->last; c++)
		colo_meta_copy_put(cc, c);
	lag_put(cc, aw->bytes);
	pool_put_pages(cc, bg);
	bio_put(bg);
	/* Last: the destructor may free the bio set once it ran. */
	colo_exit(cc);
}

/* A background write that could not be sent: give everything back. */
static void async_write_undo(struct colo_c *cc, struct bio *bg,
			     unsigned int bytes)
{
	if (bg) {
		pool_put_pages(cc, bg);
		bio_put(bg);
	}
	lag_put(cc, bytes);
}

/*
 * A VM write @bio (held shared by io->holder, every chunk on the replica,
 * the dirty leaves prepared, counted in cc->inflight) while a mirror
 * runs: send its copy to the replica in the background. Never sleeps.
 *
 * Returns COLO_ASYNC_SENT (the caller sends @bio to base), COLO_ASYNC_AHEAD
 * (not sent: the caller marks the chunks dirty) or COLO_ASYNC_SYNC (sync
 * mode: the caller writes both and waits for both).
 */
enum colo_async_result colo_async_write(struct colo_c *cc, struct bio *bio,
					struct colo_io *io)
{
	unsigned int bytes = bio->bi_iter.bi_size;
	unsigned int nr = DIV_ROUND_UP(bytes, PAGE_SIZE), i;
	u64 c, first = io->holder.chunk, last = io->holder.last;
	const gfp_t gfp = GFP_NOWAIT | __GFP_NOWARN;
	struct colo_async *aw;
	struct bio *bg = NULL;

	switch (lag_take(cc, bytes)) {
	case COLO_LAG_TAKEN:
		break;
	case COLO_LAG_FULL:
		return COLO_ASYNC_AHEAD;
	case COLO_LAG_SHUT:
		/* Closed by a switch to async (ahead) or sync (both ways). */
		return colo_async_max_lag(cc) ? COLO_ASYNC_AHEAD :
						COLO_ASYNC_SYNC;
	}

	/* Set before the window was first opened; a check that costs nothing. */
	if (nr > BIO_MAX_VECS || !busy_map_ready(cc))
		goto ahead;
	/* The replica is read after the state (acquire), by our caller. */
	bg = bio_alloc_bioset(cc->replica, nr, REQ_OP_WRITE, gfp,
			      &cc->async_bs);
	if (!bg)
		goto ahead;
	for (i = 0; i < nr; i++) {
		struct page *page = pool_get(cc, gfp);

		if (!page)
			goto ahead;
		if (!bio_add_page(bg, page,
				  min_t(unsigned int, PAGE_SIZE,
					bytes - i * PAGE_SIZE), 0)) {
			__free_page(page);
			goto ahead;
		}
	}
	if (!mark_busy(cc, first, last))
		goto ahead;
	aw = async_of(bg);
	memset(&aw->holder, 0, sizeof(aw->holder));
	if (!colo_lock_try_range(&cc->locks, &aw->holder, first, last,
				 COLO_HOLD_SHARED, NULL)) {
		unmark_busy(cc, first, last);
		goto ahead;
	}
	aw->cc = cc;
	aw->first = first;
	aw->last = last;
	aw->bytes = bytes;
	bio_copy_data(bg, bio);
	bg->bi_iter.bi_sector = io->sector;
	bg->bi_end_io = async_write_end;
	/* Nobody polls it: it completes by interrupt. */
	bio_clear_polled(bg);
	/*
	 * Its regions stay marked until it ends: counted while the VM's
	 * write still counts there (colo_meta_write_end() runs at its end).
	 */
	for (c = first; c <= last; c++)
		colo_meta_copy_get(cc, c);
	/*
	 * Counted while @bio is, so a drain that waits for zero sees it:
	 * async_write_end() calls colo_exit().
	 */
	atomic_inc(&cc->inflight);
	atomic64_inc(&cc->async_sent);
	queue_background(cc, bg);
	return COLO_ASYNC_SENT;

ahead:
	async_write_undo(cc, bg, bytes);
	return COLO_ASYNC_AHEAD;
}

static void async_flush_end(struct bio *bg)
{
	struct colo_c *cc = async_of(bg)->cc;

	/* Replica errors never fail the VM's I/O (it ended already). */
	if (bg->bi_status)
		colo_mirror_flush_failed(cc);
	bio_put(bg);
	colo_exit(cc);
}

/*
 * The VM's flush for the replica (@bio, counted in cc->inflight) in async
 * mode: a flush of our own is sent, and @bio ends at once. Returns false
 * in sync mode, or when no bio is at hand at once: the caller sends @bio
 * to the replica, which the VM then waits for. Map or worker context.
 */
bool colo_async_flush(struct colo_c *cc, struct bio *bio)
{
	struct bio *bg;

	if (!colo_async_max_lag(cc))
		return false;
	bg = bio_alloc_bioset(cc->replica, 0, REQ_OP_WRITE | REQ_PREFLUSH,
			      GFP_NOWAIT | __GFP_NOWARN, &cc->async_bs);
	if (!bg)
		return false;
	async_of(bg)->cc = cc;
	bg->bi_end_io = async_flush_end;
	bio_clear_polled(bg);
	/* Counted while @bio is, see colo_async_write(). */
	atomic_inc(&cc->inflight);
	submit_bio_noacct(bg);
	bio_endio(bio);
	return true;
}

/*
 * Switch a running mirror to async with @max_lag KiB, or to sync (0). The
 * caller holds msg_lock. Returns 0, or -EINTR with nothing changed.
 */
int colo_async_switch(struct colo_c *cc, unsigned int max_lag)
{
	u64 fit = (u64)max_lag << 10;
	int r;

	/*
	 * No write takes room from now on (fully ordered); while the old
	 * limit shows, writes go ahead (async before) or both ways (sync
	 * before), and the lag stays within the limit the status shows.
	 */
	atomic64_fetch_or(COLO_LAG_CLOSED, &cc->async_lag);
	r = wait_event_interruptible(cc->async_wq,
				     (atomic64_read(&cc->async_lag) &
				      COLO_LAG_BYTES) <= fit);
	if (!r)
		WRITE_ONCE(cc->async_max_lag, max_lag);
	/* At most the new max_lag's worth (none in sync mode). */
	if (!r)
		pool_trim(cc, pool_size(max_lag));
	if (READ_ONCE(cc->async_max_lag)) {
		/* The limit first: pairs with smp_rmb() in lag_take(). */
		atomic64_fetch_andnot(COLO_LAG_CLOSED, &cc->async_lag);
	}
	return r ? -EINTR : 0;
}

/*
 * A new mirror starts in async mode with @max_lag KiB, or in sync mode
 * (0). Nothing is in flight (mirror start drained): no ordering needed
 * beyond the release of the mirror's state that follows.
 */
void colo_async_reset(struct colo_c *cc, unsigned int max_lag)
{
	pool_trim(cc, 0);
	WRITE_ONCE(cc->async_max_lag, max_lag);
	atomic64_set(&cc->async_lag, max_lag ? 0 : COLO_LAG_CLOSED);
	atomic64_set(&cc->async_sent, 0);
	atomic64_set(&cc->async_ahead, 0);
}

/* A write went ahead: its chunks were marked dirty. Any context. */
void colo_async_count_ahead(struct colo_c *cc)
{
	atomic64_inc(&cc->async_ahead);
}

/*
 * Status fields of the mirror's mode: " <mode> <lag>/<max_lag> <ahead>"
 * (see emit_info() in dm-colo-msg.c).
 */
void colo_async_status(struct colo_c *cc, char *result, unsigned int maxlen,
		       unsigned int *psz)
{
	u64 lag = atomic64_read(&cc->async_lag) & COLO_LAG_BYTES;
	unsigned int max_lag = colo_async_max_lag(cc);
	unsigned int sz = *psz;
	const char *mode;

	if (colo_mirror_state(cc) == COLO_MIRROR_NONE)
		mode = "none";
	else
		mode = max_lag ? "async" : "sync";
	DMEMIT(" %s %llu/%u %llu", mode,
	       (unsigned long long)DIV_ROUND_UP_ULL(lag, 1024), max_lag,
	       (unsigned long long)atomic64_read(&cc->async_ahead));
	*psz = sz;
}

/*
 * A reload: the mode passes to @to with the mirror (colo_mirror_carry());
 * @from is suspended, no background write is in flight.
 */
void colo_async_carry(struct colo_c *from, struct colo_c *to)
{
	/* @to never ran one (it refused messages until now): it takes @from's. */
	if (from->async_map_ready) {
		colo_bitmap_destroy(&to->async_map);
		to->async_map = from->async_map;
		spin_lock_init(&to->async_map.lock);
		to->async_map_ready = true;
		memset(&from->async_map, 0, sizeof(from->async_map));
		from->async_map_ready = false;
	}
	to->async_max_lag = from->async_max_lag;
	atomic64_set(&to->async_lag, atomic64_read(&from->async_lag));
	atomic64_set(&to->async_sent, atomic64_read(&from->async_sent));
	atomic64_set(&to->async_ahead, atomic64_read(&from->async_ahead));
}

int colo_async_init(struct colo_c *cc)
{
	int r;

	spin_lock_init(&cc->async_lock);
	INIT_LIST_HEAD(&cc->async_pool);
	bio_list_init(&cc->async_queue);
	INIT_DELAYED_WORK(&cc->async_send, send_worker);
	init_waitqueue_head(&cc->async_wq);
	colo_async_reset(cc, 0);
	/* Suspend and mirror stop wait for what it sends: reclaim-safe. */
	cc->async_sender = alloc_workqueue("dm-colo-async",
					   WQ_HIGHPRI | WQ_MEM_RECLAIM, 0);
	if (!cc->async_sender)
		return -ENOMEM;
	/*
	 * The background writes and flushes, allocated from map with
	 * GFP_NOWAIT: none at hand sends the write ahead, the flush the
	 * VM's way.
	 */
	r = bioset_init(&cc->async_bs, BIO_POOL_SIZE,
			offsetof(struct colo_async, bio), BIOSET_NEED_BVECS);
	if (r)
		destroy_workqueue(cc->async_sender);
	return r;
}

/* Nothing is in flight any more: the queue is empty. */
void colo_async_destroy(struct colo_c *cc)
{
	cancel_delayed_work_sync(&cc->async_send);
	destroy_workqueue(cc->async_sender);
	pool_trim(cc, 0);
	bioset_exit(&cc->async_bs);
	colo_bitmap_destroy(&cc->async_map);
}
