// SPDX-License-Identifier: GPL-2.0
/*
 * dm-colo: the copy engine. See dm-colo-copy.h for the contract.
 *
 * A copy goes through two stages, each one dm_io() on the same pages: read
 * the source, then write the destination (and a second destination with
 * a dm_io() and a completion of its own). The stage's submitter and its
 * completions each drop a count of copy->pending (two per stage, three
 * for a write to two destinations): the one that drops it to zero goes
 * on. If that is the submitter, the I/O completed inline and the
 * submitter, in process context, issues the next stage or ends the copy
 * itself; if it is a completion (any context), the copy goes on the ready
 * list and the work item goes on with it.
 *
 * Pages come back to the pool before the callback runs, so that the
 * callback may be the last thing a target waits for (suspend, the
 * destructor). Copies waiting for pages are started by the work item,
 * never from the end of another copy, so a chain of copies that complete
 * inline does not nest.
 *
 * The engine knows nothing of chunks, locks or modes; it is below the data
 * path, the commit and the mirror, which call it, and calls only dm-io.
 */
#include <linux/bio.h>
#include <linux/blk_types.h>
#include <linux/blkdev.h>
#include <linux/dm-io.h>
#include <linux/gfp.h>
#include <linux/ioprio.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/workqueue.h>

#include "dm-colo-copy.h"

/* Pages a copy of @sectors needs. Any context. */
static unsigned int copy_pages(sector_t sectors)
{
	return DIV_ROUND_UP((u64)sectors << SECTOR_SHIFT, PAGE_SIZE);
}

/*
 * Take @nr pages off the free chain. The caller holds cp->lock and has
 * checked that they are there.
 */
static struct page_list *take_pages(struct colo_copier *cp, unsigned int nr)
{
	struct page_list *first = cp->free, *pl = first;
	unsigned int i;

	for (i = 1; i < nr; i++)
		pl = pl->next;
	cp->free = pl->next;
	pl->next = NULL;
	cp->nr_free -= nr;
	return first;
}

/* Put a copy's pages back. The caller holds cp->lock. */
static void put_pages(struct colo_copier *cp, struct colo_copy *copy)
{
	struct page_list *pl = copy->pages;

	while (pl->next)
		pl = pl->next;
	pl->next = cp->free;
	cp->free = copy->pages;
	cp->nr_free += copy->nr_pages;
	copy->pages = NULL;
}

/*
 * May the copy at the head of the queue (or a new one when none waits)
 * take its pages now? The caller holds cp->lock.
 */
static bool fits(struct colo_copier *cp, struct colo_copy *copy)
{
	return copy->nr_pages <= cp->nr_free;
}

/*
 * Would an extent start at once: no copy waits for pages and an extent's
 * worth is free? When not, copies in flight hold the pages. Any context.
 */
bool colo_copier_has_room(struct colo_copier *cp)
{
	unsigned long flags;
	bool room;

	spin_lock_irqsave(&cp->lock, flags);
	room = list_empty(&cp->waiting) &&
	       cp->nr_free >= COLO_COPY_EXTENT_PAGES;
	spin_unlock_irqrestore(&cp->lock, flags);
	return room;
}

/*
 * One I/O of the stage ended, its error recorded: the last of the
 * submitter and the stage's completions goes on. Any context.
 */
static void stage_io_ended(struct colo_copy *copy)
{
	struct colo_copier *cp = copy->copier;
	unsigned long flags;

	/* Ordered after the error (a full barrier): see issue_stage(). */
	if (!atomic_dec_and_test(&copy->pending))
		return;	/* inline: the submitter goes on */

	/*
	 * Queued under the lock: once it is dropped the work item may end
	 * the copy and the target go away, so @cp is not touched after.
	 */
	spin_lock_irqsave(&cp->lock, flags);
	list_add_tail(&copy->node, &cp->ready);
	queue_work(cp->wq, &cp->work);
	spin_unlock_irqrestore(&cp->lock, flags);
}

/* dm-io's completion of a stage. Any context (often interrupt). */
static void copy_io_done(unsigned long error, void *context)
{
	struct colo_copy *copy = context;

	copy->error = error;
	stage_io_ended(copy);
}

/*
 * dm-io's completion of the write to the second destination: its callback
 * first, then the stage's count. Any context (often interrupt).
 */
static void copy_io2_done(unsigned long error, void *context)
{
	struct colo_copy *copy = context;

	copy->fn2(error, copy->context);
	stage_io_ended(copy);
}

/*
 * The copy is over: its pages go back (waiting copies are started by the
 * work item), then the callback runs. @copy is not touched afterwards: the
 * callback may free it. Process context.
 */
static void end_copy(struct colo_copy *copy)
{
	struct colo_copier *cp = copy->copier;
	unsigned long write_err = copy->writing ? copy->error : 0;
	bool kick;

	spin_lock_irq(&cp->lock);
	put_pages(cp, copy);
	kick = !list_empty(&cp->waiting);
	spin_unlock_irq(&cp->lock);
	if (kick)
		queue_work(cp->wq, &cp->work);

	copy->fn(copy->read_err, write_err, copy->context);
}

/*
 * The stage that completed is over: go to the write, or end the copy.
 * Returns true when there is a write to issue. Process context.
 */
static bool next_stage(struct colo_copy *copy)
{
	if (copy->writing) {
		end_copy(copy);
		return false;
	}
	if (copy->error) {
		copy->read_err = 1;
		/* Nothing is written: the second destination ends too. */
		if (copy->dst2.count)
			copy->fn2(copy->error, copy->context);
		end_copy(copy);
		return false;
	}
	copy->writing = true;
	return true;
}

/*
 * Issue the copy's stages from here for as long as they complete inline.
 * Process context: dm_io() allocates with GFP_NOIO and submits bios.
 */
static void issue_stage(struct colo_copy *copy)
{
	struct dm_io_request req = {
		.mem.type = DM_IO_PAGE_LIST,
		.notify.fn = copy_io_done,
		.notify.context = copy,
		.client = copy->copier->io_client,
	};

	do {
		req.mem.ptr.pl = copy->pages;
		req.mem.offset = 0;
		req.bi_opf = copy->writing ? REQ_OP_WRITE : REQ_OP_READ;
		copy->error = 0;
		if (copy->writing && copy->dst2.count) {
			/* The submitter and two completions. */
			atomic_set(&copy->pending, 3);
			req.notify.fn = copy_io2_done;
			dm_io(&req, 1, &copy->dst2, NULL, IOPRIO_DEFAULT);
			req.notify.fn = copy_io_done;
		} else {
			atomic_set(&copy->pending, 2);
		}
		/* Asynchronous: every outcome reaches copy_io_done(). */
		dm_io(&req, 1, copy->writing ? &copy->dst : &copy->src, NULL,
		      IOPRIO_DEFAULT);
		if (!atomic_dec_and_test(&copy->pending))
			return;	/* the work item goes on */
	} while (next_stage(copy));
}

/*
 * Start copies whose pages came back, and go on with copies whose stage
 * completed out of line. Process context (the target's workqueue).
 */
static void copier_work(struct work_struct *work)
{
	struct colo_copier *cp = container_of(work, struct colo_copier, work);
	struct colo_copy *copy, *tmp;
	LIST_HEAD(ready);
	LIST_HEAD(start);

	spin_lock_irq(&cp->lock);
	list_splice_init(&cp->ready, &ready);
	list_for_each_entry_safe(copy, tmp, &cp->waiting, node) {
		if (!fits(cp, copy))
			break;	/* in order: none overtakes it */
		copy->pages = take_pages(cp, copy->nr_pages);
		list_move_tail(&copy->node, &start);
	}
	spin_unlock_irq(&cp->lock);

	list_for_each_entry_safe(copy, tmp, &ready, node) {
		list_del(&copy->node);
		if (next_stage(copy))
			issue_stage(copy);
		cond_resched();
	}
	list_for_each_entry_safe(copy, tmp, &start, node) {
		list_del(&copy->node);
		issue_stage(copy);
		cond_resched();
	}
}

/*
 * Copy @src to @dst and, when @dst2 is not NULL, to @dst2 too (the same
 * length, at most one extent), calling @fn2 with @context when the write
 * to @dst2 ended and @fn when the copy is done; see dm-colo-copy.h. @copy
 * is the caller's memory and stays the copier's until @fn runs, which may
 * happen before this returns. Never fails: without free pages the copy
 * waits for them. Process context; may sleep (dm-io's allocations).
 */
void colo_copy_start_two(struct colo_copier *cp, struct colo_copy *copy,
			 const struct dm_io_region *src,
			 const struct dm_io_region *dst,
			 const struct dm_io_region *dst2, colo_copy_dst_fn fn2,
			 colo_copy_fn fn, void *context)
{
	bool now = false;

	copy->copier = cp;
	copy->src = *src;
	copy->dst = *dst;
	copy->dst2.count = 0;
	if (dst2)
		copy->dst2 = *dst2;
	copy->fn = fn;
	copy->fn2 = fn2;
	copy->context = context;
	copy->writing = false;
	copy->read_err = 0;
	copy->error = 0;
	copy->pages = NULL;
	copy->nr_pages = copy_pages(src->count);
	/* A longer copy would wait for ever; the callers never ask for one. */
	if (WARN_ON_ONCE(src->count != dst->count ||
			 (dst2 && dst2->count != src->count) ||
			 copy->nr_pages > cp->nr_pages || !copy->nr_pages)) {
		copy->read_err = 1;
		if (copy->dst2.count)
			fn2(1, context);
		fn(1, 0, context);
		return;
	}

	spin_lock_irq(&cp->lock);
	if (list_empty(&cp->waiting) && fits(cp, copy)) {
		copy->pages = take_pages(cp, copy->nr_pages);
		now = true;
	} else {
		list_add_tail(&copy->node, &cp->waiting);
	}
	spin_unlock_irq(&cp->lock);

	if (now)
		issue_stage(copy);
}

/* colo_copy_start_two() with one destination. */
void colo_copy_start(struct colo_copier *cp, struct colo_copy *copy,
		     const struct dm_io_region *src,
		     const struct dm_io_region *dst, colo_copy_fn fn,
		     void *context)
{
	colo_copy_start_two(cp, copy, src, dst, NULL, NULL, fn, context);
}

/*
 * Allocate the pool (@extents extents) and the dm-io client. Process
 * context; may sleep.
 */
int colo_copier_init(struct colo_copier *cp, unsigned int extents)
{
	unsigned int i;
	int r;

	/*
	 * Unbound: a copy's write is issued from the read's completion, and
	 * on a bound workqueue that runs on the CPU the read completed on,
	 * the submitter's (on a RAM disk, the guest's own). Unbound, the
	 * continuation runs wherever a CPU is free.
	 */
	cp->wq = alloc_workqueue("dm-colo-copy", WQ_UNBOUND | WQ_MEM_RECLAIM, 0);
	if (!cp->wq)
		return -ENOMEM;
	spin_lock_init(&cp->lock);
	INIT_LIST_HEAD(&cp->waiting);
	INIT_LIST_HEAD(&cp->ready);
	INIT_WORK(&cp->work, copier_work);
	cp->free = NULL;
	cp->nr_free = 0;
	cp->nr_pages = max(extents, 1U) * COLO_COPY_EXTENT_PAGES;
	cp->nodes = kvcalloc(cp->nr_pages, sizeof(*cp->nodes), GFP_KERNEL);
	if (!cp->nodes) {
		destroy_workqueue(cp->wq);
		return -ENOMEM;
	}
	for (i = 0; i < cp->nr_pages; i++) {
		cp->nodes[i].page = alloc_page(GFP_KERNEL);
		if (!cp->nodes[i].page) {
			r = -ENOMEM;
			goto bad;
		}
		cp->nodes[i].next = cp->free;
		cp->free = &cp->nodes[i];
		cp->nr_free++;
	}
	cp->io_client = dm_io_client_create();
	if (IS_ERR(cp->io_client)) {
		r = PTR_ERR(cp->io_client);
		goto bad;
	}
	return 0;

bad:
	while (i--)
		__free_page(cp->nodes[i].page);
	kvfree(cp->nodes);
	destroy_workqueue(cp->wq);
	return r;
}

/*
 * Free the pool. No copy may be in flight or waiting (the target drained
 * its I/O, whose copies count in it). Process context; may sleep.
 */
void colo_copier_destroy(struct colo_copier *cp)
{
	unsigned int i;

	cancel_work_sync(&cp->work);
	destroy_workqueue(cp->wq);
	WARN_ON_ONCE(cp->nr_free != cp->nr_pages ||
		     !list_empty(&cp->waiting) || !list_empty(&cp->ready));
	dm_io_client_destroy(cp->io_client);
	for (i = 0; i < cp->nr_pages; i++)
		__free_page(cp->nodes[i].page);
	kvfree(cp->nodes);
}
