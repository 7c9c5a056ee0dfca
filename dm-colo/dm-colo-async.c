// SPDX-License-Identifier: GPL-2.0
/*
 * dm-colo: the async mode of the mirror ("mirror start <dev> ... async
 * <max_lag>", "mirror async <max_lag>", "mirror sync"; README "Mirror").
 *
 * In async mode a VM write to chunks that are on the replica completes
 * when base completes; its copy for the replica is a background write of
 * its own, with at most max_lag KiB of them in flight: the lag. A write
 * that would pass max_lag (or finds no memory at once, or a chunk that a
 * background write still covers) is not queued: its chunks are marked
 * dirty before it completes, and the mirror copies them later ("ahead",
 * DRBD's pull-ahead); the next write that fits streams again.
 *
 * A background write reads its range back from base once its VM write
 * ended, and writes what it read to the replica. Map only takes its room
 * and a small record of the range; the read, the pages and the replica's
 * I/O stack are the sender's, on another CPU than the guest's. Until its
 * read, base may hold a later write to the range too: that write found
 * the range busy and went ahead (below), so the mirror copies it again
 * once the background write ended, whatever the read saw.
 *
 * A background write, from its VM write's map until it ends:
 *  - holds its chunks shared: the VM write's hold passes to it when the
 *    VM write ends (colo_lock_move()), so a mirror copy or a verify of
 *    them, which hold chunks exclusive, waits for it throughout, and no
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
 * sync write's does; a read error on base does too, as a mirror copy's
 * does (colo_mirror_send_failed()).
 *
 * A background write that ended is kept for the next one as it is, its
 * record with its bio and the bio's pages (async_spare): map takes a
 * record from there without the allocator (kmalloc zeroes a new one, as it
 * does every page: both Debian kernels set init_on_alloc, and a record
 * freed on the sender's CPU leaves the guest's CPU refilling its slab),
 * and the sender reuses its bio and pages without a lock. Pages of a bio
 * not kept come back to a pool of the target's, for bios that need more.
 * The spares and the pool keep max_lag's worth of pages at most together;
 * both are trimmed to the new max_lag by a switch, emptied when the mirror
 * stops or turns sync.
 *
 * The sender is a work item, woken a tick after the first write queued,
 * or at once when the queue holds ASYNC_BATCH bytes (or half of max_lag,
 * if less); it runs on the next CPU after the guest's (colo_next_cpu())
 * and reads the queue with one plug. The guest's vCPU pays a list
 * insertion per write and one wakeup a batch, not the replica's I/O stack
 * (its device mapper targets, the NBD client, a RAM disk's copy) nor a
 * copy of the data; a background write waits a tick at most more (it
 * counts in the lag meanwhile). README ("Mirror") has what each step
 * measured.
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
#include <linux/mempool.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include "dm-colo.h"
#include "dm-colo-async.h"

#define DM_MSG_PREFIX "colo"

/*
 * A background write: taken at map, queued when its VM write ended (the
 * data is on base then), read back from base and written to the replica
 * by the sender. Allocated from async_sends.
 */
struct colo_async_send {
	struct list_head node;		/* on async_queue or async_ready */
	struct llist_node spare;	/* on async_spare, once ended */
	struct colo_c *cc;
	struct colo_lock_holder holder;	/* its VM write's, colo_lock_move() */
	struct bio *bio;		/* its read of base, then its write */
	unsigned int nr_pages;		/* @bio's pages: bi_io_vec[0..nr) */
	atomic_t pending;		/* the read's submit and completion */
	blk_status_t read_status;
	sector_t sector;
	u64 first;
	u64 last;
	unsigned int bytes;
};

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

/*
 * The sender goes at once when this many bytes are queued (or half of
 * max_lag, if less): the time a write waits in the queue counts in the
 * lag, which is there for the replica's latency.
 */
#define ASYNC_BATCH	(128 * 1024)

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
		WRITE_ONCE(cc->async_pool_pages, cc->async_pool_pages - 1);
	}
	spin_unlock_irqrestore(&cc->async_lock, flags);
	return page ?: alloc_page(gfp);
}

/*
 * The bio of @s and its pages let go: the pages back to the pool while
 * the pool and the spares' bios keep less than max_lag's worth together
 * (none in sync mode), the others freed. The pool's pages are ours alone:
 * their lru links them. Any context.
 */
static void drop_bio(struct colo_c *cc, struct colo_async_send *s)
{
	unsigned long keep = pool_size(colo_async_max_lag(cc));
	unsigned long flags;
	unsigned int i;

	if (!s->bio)
		return;
	spin_lock_irqsave(&cc->async_lock, flags);
	for (i = 0; i < s->nr_pages; i++) {
		struct page *page = s->bio->bi_io_vec[i].bv_page;

		if (cc->async_pool_pages +
		    atomic_long_read(&cc->async_spare_pages) < keep) {
			list_add(&page->lru, &cc->async_pool);
			WRITE_ONCE(cc->async_pool_pages,
				   cc->async_pool_pages + 1);
		} else {
			__free_page(page);
		}
	}
	spin_unlock_irqrestore(&cc->async_lock, flags);
	bio_put(s->bio);
	s->bio = NULL;
	s->nr_pages = 0;
}

/* @s freed, its bio dropped. Any context. */
static void free_send(struct colo_c *cc, struct colo_async_send *s)
{
	drop_bio(cc, s);
	mempool_free(s, &cc->async_sends);
}

/*
 * A record for a new background write: an ended one, with its bio and
 * pages (not zeroed: every field the write uses is set anew), else a new
 * one. Map or worker context, never from an interrupt (async_spare_lock
 * leaves interrupts on: spare_put() adds without it); never sleeps.
 */
static struct colo_async_send *spare_get(struct colo_c *cc)
{
	struct colo_async_send *s;
	struct llist_node *node;

	if (!llist_empty(&cc->async_spare)) {
		/* Against other takers and the trim (llist.h's rules). */
		spin_lock(&cc->async_spare_lock);
		node = llist_del_first(&cc->async_spare);
		spin_unlock(&cc->async_spare_lock);
		if (node) {
			s = llist_entry(node, struct colo_async_send, spare);
			atomic_long_sub(s->nr_pages, &cc->async_spare_pages);
			return s;
		}
	}
	s = mempool_alloc(&cc->async_sends, GFP_NOWAIT | __GFP_NOWARN);
	if (s) {
		s->bio = NULL;
		s->nr_pages = 0;
	}
	return s;
}

/*
 * @s ended: kept for the next background write with its bio and pages,
 * if its write went through and the spares' bios and the pool keep at most
 * max_lag's worth of pages together (none in sync mode), as the pool alone
 * did before spares were kept (the pool's count is read without its lock:
 * writes ending at once may pass the limit by their own pages); else its
 * bio is dropped and it is freed. Any context.
 */
static void spare_put(struct colo_c *cc, struct colo_async_send *s, bool ok)
{
	unsigned long keep = pool_size(colo_async_max_lag(cc));
	unsigned long kept;

	if (ok && s->bio) {
		kept = atomic_long_add_return(s->nr_pages,
					      &cc->async_spare_pages);
		if (kept + READ_ONCE(cc->async_pool_pages) <= keep) {
			llist_add(&s->spare, &cc->async_spare);
			return;
		}
		atomic_long_sub(s->nr_pages, &cc->async_spare_pages);
	}
	free_send(cc, s);
}

/* Every spare record freed, its bio dropped. Sleeps. */
static void spare_trim(struct colo_c *cc)
{
	struct colo_async_send *s, *next;
	struct llist_node *all;

	spin_lock(&cc->async_spare_lock);
	all = llist_del_all(&cc->async_spare);
	spin_unlock(&cc->async_spare_lock);
	llist_for_each_entry_safe(s, next, all, spare) {
		atomic_long_sub(s->nr_pages, &cc->async_spare_pages);
		free_send(cc, s);
	}
}

/*
 * No spare record any more, and @keep of the pool's pages at most, the
 * others freed. Sleeps.
 */
static void pool_trim(struct colo_c *cc, unsigned long keep)
{
	struct page *page, *next;
	LIST_HEAD(pages);

	spare_trim(cc);
	spin_lock_irq(&cc->async_lock);
	while (cc->async_pool_pages > keep) {
		page = list_first_entry(&cc->async_pool, struct page, lru);
		list_move(&page->lru, &pages);
		WRITE_ONCE(cc->async_pool_pages, cc->async_pool_pages - 1);
	}
	spin_unlock_irq(&cc->async_lock);
	list_for_each_entry_safe(page, next, &pages, lru)
		__free_page(page);
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
 * The end of a background write, sent or not. Any context. A replica
 * error, a read error on base or no bio or pages (@why) leave its chunks
 * dirty (their leaves were prepared by the VM's write) before the chunks
 * are let go, so a copy that waited for them copies them.
 */
static void send_end(struct colo_async_send *s, enum colo_send_fail why)
{
	struct colo_c *cc = s->cc;
	u64 c;

	if (why != COLO_SEND_OK)
		colo_mirror_send_failed(cc, s->first, s->last, why);
	unmark_busy(cc, s->first, s->last);
	colo_lock_release(&cc->locks, &s->holder);
	for (c = s->first; c <= s->last; c++)
		colo_meta_copy_put(cc, c);
	lag_put(cc, s->bytes);
	spare_put(cc, s, why == COLO_SEND_OK);
	/* Last: the destructor may free the pools once it ran. */
	colo_exit(cc);
}

static void send_write_end(struct bio *bio)
{
	struct colo_async_send *s = bio->bi_private;

	send_end(s, bio->bi_status ? COLO_SEND_REPLICA : COLO_SEND_OK);
}

/*
 * The read of base is done: the same bio, with the same pages, writes
 * them to the replica. The sender. bio_reset() keeps the bio's vector
 * table: its length and size come back.
 */
static void send_write(struct colo_async_send *s)
{
	struct bio *bio = s->bio;
	unsigned short vcnt = bio->bi_vcnt;

	/* The replica is read after the state (acquire), by map. */
	bio_reset(bio, s->cc->replica, REQ_OP_WRITE);
	bio->bi_vcnt = vcnt;
	bio->bi_iter.bi_size = s->bytes;
	bio->bi_iter.bi_sector = s->sector;
	bio->bi_end_io = send_write_end;
	bio->bi_private = s;
	submit_bio_noacct(bio);
}

/*
 * The read of base ended and the sender's submit of it returned: on to the
 * replica, or to the end with a read error. The sender.
 */
static void send_read_done(struct colo_async_send *s)
{
	if (s->read_status)
		send_end(s, COLO_SEND_BASE);
	else
		send_write(s);
}

/*
 * Any context. Whichever of the read's completion and the sender's submit
 * of it comes second goes on, as in the copy engine: when base completed
 * inside the submit (a RAM disk, a driver that completes in its submit
 * path), the sender writes the replica as soon as its submit returned,
 * with no hop; otherwise the completion hands @s back to the sender. The
 * write is never submitted from a completion.
 */
static void send_read_end(struct bio *bio)
{
	struct colo_async_send *s = bio->bi_private;
	struct colo_c *cc = s->cc;
	unsigned long flags;

	s->read_status = bio->bi_status;
	/* Fully ordered: the sender sees read_status once it sees zero. */
	if (!atomic_dec_and_test(&s->pending))
		return;
	spin_lock_irqsave(&cc->async_lock, flags);
	list_add_tail(&s->node, &cc->async_ready);
	spin_unlock_irqrestore(&cc->async_lock, flags);
	mod_delayed_work_on(colo_next_cpu(), cc->async_sender, &cc->async_send,
			    0);
}

/*
 * A bio for the read of @s, of @nr pages: the one @s kept, reset, if its
 * vector table has room, else a new one. Its pages stay in its table
 * (@s->nr_pages of them). The sender: see send_read().
 */
static struct bio *send_bio(struct colo_async_send *s, unsigned int nr)
{
	struct colo_c *cc = s->cc;

	if (s->bio && s->bio->bi_max_vecs >= nr) {
		/* Keeps bi_io_vec and bi_max_vecs, zeroes bi_vcnt. */
		bio_reset(s->bio, cc->base->bdev, REQ_OP_READ);
		return s->bio;
	}
	drop_bio(cc, s);
	s->bio = bio_alloc_bioset(cc->base->bdev, nr, REQ_OP_READ,
				  GFP_NOWAIT | __GFP_NOWARN, &cc->async_bs);
	return s->bio;
}

/*
 * Read the range of @s back from base into the pages its bio kept, or
 * pages of the pool. The sender. Its bio is not waited for: async_bs's
 * reserve comes back only when earlier background writes end, and those
 * whose read completed after its submit wait for this very sender
 * (async_ready). So the bio is taken with GFP_NOWAIT, and a page the pool
 * has not with GFP_NOIO (which can fail); without either the write goes
 * ahead.
 */
static void send_read(struct colo_async_send *s)
{
	unsigned int nr = DIV_ROUND_UP(s->bytes, PAGE_SIZE), i;
	struct colo_c *cc = s->cc;
	struct bio *bio;

	/* nr <= BIO_MAX_VECS (map). */
	bio = send_bio(s, nr);
	if (!bio) {
		send_end(s, COLO_SEND_NOMEM);
		return;
	}
	for (; s->nr_pages < nr; s->nr_pages++) {
		struct page *page = pool_get(cc, GFP_NOIO | __GFP_NOWARN);

		if (!page) {
			send_end(s, COLO_SEND_NOMEM);
			return;
		}
		bio->bi_io_vec[s->nr_pages].bv_page = page;
	}
	for (i = 0; i < nr; i++) {
		bio->bi_io_vec[i].bv_offset = 0;
		bio->bi_io_vec[i].bv_len = min_t(unsigned int, PAGE_SIZE,
						 s->bytes - i * PAGE_SIZE);
	}
	bio->bi_vcnt = nr;
	bio->bi_iter.bi_size = s->bytes;
	bio->bi_iter.bi_sector = s->sector;
	bio->bi_end_io = send_read_end;
	bio->bi_private = s;
	atomic_set(&s->pending, 2);
	submit_bio_noacct(bio);
	if (atomic_dec_and_test(&s->pending))
		send_read_done(s);
}

/*
 * The sender: writes whose read of base completed after its submit go to
 * the replica, queued ones are read from base, all under one plug.
 */
static void send_worker(struct work_struct *work)
{
	struct colo_c *cc = container_of(to_delayed_work(work), struct colo_c,
					 async_send);
	struct colo_async_send *s, *next;
	struct blk_plug plug;
	LIST_HEAD(queued);
	LIST_HEAD(ready);

	spin_lock_irq(&cc->async_lock);
	list_splice_init(&cc->async_queue, &queued);
	list_splice_init(&cc->async_ready, &ready);
	cc->async_queued = 0;
	spin_unlock_irq(&cc->async_lock);

	/* Off the lists first: a completion may queue one on async_ready. */
	blk_start_plug(&plug);
	list_for_each_entry_safe(s, next, &ready, node) {
		list_del(&s->node);
		send_read_done(s);
	}
	list_for_each_entry_safe(s, next, &queued, node) {
		list_del(&s->node);
		send_read(s);
	}
	blk_finish_plug(&plug);
}

/*
 * The VM write of @io, sent to base only by colo_async_write(), ended: its
 * background write takes over its hold and is queued for the sender, a
 * tick after the first, at once from ASYNC_BATCH bytes on, on the next
 * CPU (colo_next_cpu()); an unbound workqueue, which lets the scheduler
 * choose, gained less than half as much in the same boots (README,
 * "Mirror"). Interrupt context, from end_io, before the holder would be
 * released.
 */
void colo_async_queue(struct colo_c *cc, struct colo_io *io)
{
	struct colo_async_send *s = io->async;
	u64 batch = min_t(u64, ASYNC_BATCH, (u64)colo_async_max_lag(cc) << 9);
	unsigned long flags;
	u64 before, after;

	io->async = NULL;
	colo_lock_move(&cc->locks, &io->holder, &s->holder);
	spin_lock_irqsave(&cc->async_lock, flags);
	list_add_tail(&s->node, &cc->async_queue);
	before = cc->async_queued;
	after = before + s->bytes;
	cc->async_queued = after;
	spin_unlock_irqrestore(&cc->async_lock, flags);
	if (before < batch && after >= batch)
		mod_delayed_work_on(colo_next_cpu(), cc->async_sender,
				    &cc->async_send, 0);
	else if (!before)
		queue_delayed_work_on(colo_next_cpu(), cc->async_sender,
				      &cc->async_send, 1);
}

/*
 * A VM write @bio (held shared by io->holder, every chunk on the replica,
 * the dirty leaves prepared, counted in cc->inflight) while a mirror
 * runs: take room for its background write, which colo_async_queue()
 * queues once @bio ended. Never sleeps.
 *
 * Returns COLO_ASYNC_SENT (the caller sends @bio to base), COLO_ASYNC_AHEAD
 * (not sent: the caller marks the chunks dirty) or COLO_ASYNC_SYNC (sync
 * mode: the caller writes both and waits for both).
 */
enum colo_async_result colo_async_write(struct colo_c *cc, struct bio *bio,
					struct colo_io *io)
{
	unsigned int bytes = bio->bi_iter.bi_size;
	u64 c, first = io->holder.chunk, last = io->holder.last;
	struct colo_async_send *s;

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
	if (DIV_ROUND_UP(bytes, PAGE_SIZE) > BIO_MAX_VECS ||
	    !busy_map_ready(cc))
		goto ahead;
	s = spare_get(cc);
	if (!s)
		goto ahead;
	if (!mark_busy(cc, first, last)) {
		spare_put(cc, s, true);
		goto ahead;
	}
	s->cc = cc;
	s->sector = io->sector;
	s->first = first;
	s->last = last;
	s->bytes = bytes;
	/*
	 * Its regions stay marked until it ends: counted while the VM's
	 * write still counts there (colo_meta_write_end() runs at its end).
	 */
	for (c = first; c <= last; c++)
		colo_meta_copy_get(cc, c);
	/*
	 * Counted while @bio is, so a drain that waits for zero sees it:
	 * send_end() calls colo_exit().
	 */
	atomic_inc(&cc->inflight);
	io->async = s;
	return COLO_ASYNC_SENT;

ahead:
	lag_put(cc, bytes);
	return COLO_ASYNC_AHEAD;
}

static void async_flush_end(struct bio *bg)
{
	struct colo_c *cc = bg->bi_private;

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
	bg->bi_private = cc;
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
	atomic64_set(&to->async_ahead, atomic64_read(&from->async_ahead));
}

int colo_async_init(struct colo_c *cc)
{
	int r;

	spin_lock_init(&cc->async_lock);
	INIT_LIST_HEAD(&cc->async_pool);
	init_llist_head(&cc->async_spare);
	spin_lock_init(&cc->async_spare_lock);
	atomic_long_set(&cc->async_spare_pages, 0);
	INIT_LIST_HEAD(&cc->async_queue);
	INIT_LIST_HEAD(&cc->async_ready);
	INIT_DELAYED_WORK(&cc->async_send, send_worker);
	init_waitqueue_head(&cc->async_wq);
	colo_async_reset(cc, 0);
	/* Suspend and mirror stop wait for what it sends: reclaim-safe. */
	cc->async_sender = alloc_workqueue("dm-colo-async",
					   WQ_HIGHPRI | WQ_MEM_RECLAIM, 0);
	if (!cc->async_sender)
		return -ENOMEM;
	/*
	 * The background writes, taken from map with GFP_NOWAIT (none at hand
	 * sends the write ahead), their bios allocated by the sender; the
	 * async flushes, from map (none at hand: the flush goes the VM's way).
	 */
	r = mempool_init_kmalloc_pool(&cc->async_sends, BIO_POOL_SIZE,
				      sizeof(struct colo_async_send));
	if (r)
		goto bad_sends;
	r = bioset_init(&cc->async_bs, BIO_POOL_SIZE, 0, BIOSET_NEED_BVECS);
	if (r)
		goto bad_bs;
	return 0;

bad_bs:
	mempool_exit(&cc->async_sends);
bad_sends:
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
	mempool_exit(&cc->async_sends);
	colo_bitmap_destroy(&cc->async_map);
}
