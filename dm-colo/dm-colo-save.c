// SPDX-License-Identifier: GPL-2.0
/*
 * dm-colo: the fleece's save, copy-before-write into its buffer. See
 * dm-colo-fleece.h for the view it keeps.
 *
 * Below the data path: dm-colo-io.c calls colo_save_before_write() for
 * every write that will reach base (a VM write in primary mode, an
 * ingress write), before it decides anything else, and the failover
 * commit calls colo_save_chunks() before a copy to base. This file calls
 * only the copy engine, the per-chunk lock and dm-colo-flight.c, and cuts
 * a bio at a chunk border in map, as colo_enter() does.
 *
 * A write to a chunk the fleece still needs takes the chunk exclusive (a
 * conflict parks it, io->save_parked), re-checks, takes a free slot of
 * the buffer, and waits while the chunk is copied from base to the slot
 * by the fleece's own copier; then the chunk is marked saved, the lock
 * released, and the write runs again from the top in the worker, where
 * it finds the chunk saved. An ingress write whose chunk needs the
 * copy-before-write into hidden too has the save's copy write hidden as
 * well, from the same read of base (a second destination, with its own
 * completion, which sets H): it then finds H set too and goes to base.
 * Such a write waits for the hidden write even when a break lets the
 * other writes go (base must not change before H is set), as it would
 * wait for its own copy into hidden. On a persistent fleece a save ends
 * once its map entry is on disk (commit_worker()); a write to a chunk
 * released whose gone bit is not on disk yet copies nothing and waits for
 * the commit that writes the bit (start_save()).
 *
 * A save that ends before its start returns lets its write go on at once,
 * where it is, with no hop: of the starter and the end, the second to
 * arrive finishes the save (save->ending). That never happens in map,
 * where dm holds the bios map submits until it returns; it does in the
 * worker when base and the buffer complete in their submit path (RAM
 * disks). So while the last save started in the worker ended there, map
 * sends a write that needs a save to the worker on the next CPU, and the
 * save, the write and their completions cost the guest's CPU one hand-off;
 * otherwise (disks that complete in interrupt context) map starts the save
 * itself, and one in COLO_SAVE_PROBE goes to the worker to look again. A
 * chunk is saved once; saved, released or unneeded chunks cost a bitmap
 * test.
 *
 * The guest never waits for longer than the timeout (an ingress write
 * sharing its read waits for hidden too, see above) and never fails: a
 * full buffer, a failed save, no memory, or a save older than the timeout
 * (the watchdog) breaks the fleece, and every write waiting for a save
 * goes on at once. A save whose I/O still runs when its write went on is
 * left to end by itself; the fleece waits for it only when it goes away.
 *
 * References: everything on the colo side that uses a fleece beyond an
 * RCU read-side section (a hook that saves, a save in flight) holds
 * fl->refs, taken under RCU from cc->fleece; a hook that finds nothing to
 * save decides under RCU alone. Detaching clears cc->fleece, waits for
 * RCU, then for the references (colo_fleece_wait_idle()).
 */
#include <linux/completion.h>
#include <linux/jiffies.h>
#include <linux/slab.h>

#include "dm-colo.h"
#include "dm-colo-fleece.h"
#include "dm-colo-meta.h"

#define DM_MSG_PREFIX "colo-fleece"

/* One chunk being saved. */
struct colo_save {
	struct list_head node;		/* on fl->saves, under fl->lock */
	struct list_head commit_node;	/* on fl->committing, the same */
	struct colo_fleece *fl;
	struct colo_c *cc;		/* of @bio */
	struct bio *bio;		/* waits; NULL once let go, fl->lock */
	struct completion *waiter;	/* colo_save_chunks(); the same */
	u64 chunk;
	u64 slot;
	/*
	 * False for a persistent fleece's chunk released with its gone bit
	 * not on disk yet: no slot and no copy, the save only waits for the
	 * commit that writes the bit (start_save()).
	 */
	bool copies;
	/*
	 * The copy writes @cc's hidden too (an ingress write's chunk that
	 * needs both): one read of base serves the copy-before-write into
	 * hidden and the save. Cleared, under fl->lock, once that write
	 * ended; until then a break does not let @bio go, since base must
	 * not change before H is set (save_hidden_done()).
	 */
	bool hidden;
	unsigned long start;		/* jiffies */
	/*
	 * 2 while start_save() runs and the copy has not ended: whichever
	 * of the two drops it to 0 finishes the save (save_finish()).
	 */
	atomic_t ending;
	struct colo_copy copy;
};

static const char * const reason_names[] = {
	[COLO_FLEECE_NONE] = "none",
	[COLO_FLEECE_FULL] = "full",
	[COLO_FLEECE_IO_ERROR] = "io-error",
	[COLO_FLEECE_TIMEOUT] = "timeout",
	[COLO_FLEECE_NO_MEMORY] = "no-memory",
	[COLO_FLEECE_DETACHED] = "detached",
};

const char *colo_fleece_reason_name(int reason)
{
	if (reason < 0 || reason >= ARRAY_SIZE(reason_names))
		return "unknown";
	return reason_names[reason];
}

/* The active fleece of @cc with a reference, or NULL. Any context. */
static struct colo_fleece *get_fleece(struct colo_c *cc)
{
	struct colo_fleece *fl;

	rcu_read_lock();
	fl = rcu_dereference(cc->fleece);
	if (fl && colo_fleece_state(fl) == COLO_FLEECE_ACTIVE)
		atomic_inc(&fl->refs);
	else
		fl = NULL;
	rcu_read_unlock();
	return fl;
}

/*
 * The active fleece of @cc with a reference if one of @first..@last still
 * needs a save, else NULL: a write to saved, released or unneeded chunks
 * decides under RCU alone, and never touches the shared count (the detach
 * waits for RCU too, see colo_fleece_wait_idle()). Any context.
 */
static struct colo_fleece *get_fleece_to_save(struct colo_c *cc,
					      sector_t sector,
					      unsigned int sectors,
					      u64 *first, u64 *last)
{
	struct colo_fleece *fl;
	u64 c;

	rcu_read_lock();
	fl = rcu_dereference(cc->fleece);
	if (!fl || colo_fleece_state(fl) != COLO_FLEECE_ACTIVE)
		goto none;
	*first = colo_sector_to_chunk(sector, fl->chunk_shift);
	*last = colo_sector_to_chunk(sector + sectors - 1, fl->chunk_shift);
	for (c = *first; c <= *last; c++) {
		if (colo_fleece_needs(fl, c)) {
			atomic_inc(&fl->refs);
			rcu_read_unlock();
			return fl;
		}
	}
none:
	rcu_read_unlock();
	return NULL;
}

static void put_fleece(struct colo_fleece *fl)
{
	/* colo_fleece_wait_idle() waits for this section before freeing. */
	rcu_read_lock();
	/*
	 * The count is at zero after most writes: the queue's lock only for
	 * a waiter. atomic_dec_and_test() is fully ordered, wq_has_sleeper()
	 * has a full barrier: pairs with the one of prepare_to_wait() in
	 * colo_fleece_wait_idle().
	 */
	if (atomic_dec_and_test(&fl->refs) && wq_has_sleeper(&fl->refs_wq))
		wake_up(&fl->refs_wq);
	rcu_read_unlock();
}

/*
 * Wait until nothing on the colo side uses @fl: the caller made sure no
 * new user finds it (cc->fleece cleared, RCU waited for). Process context.
 */
void colo_fleece_wait_idle(struct colo_fleece *fl)
{
	wait_event(fl->refs_wq, !atomic_read(&fl->refs));
	synchronize_rcu();
}

/* Is @chunk part of the view (not released, needed)? Any context. */
bool colo_fleece_in_view(struct colo_fleece *fl, u64 chunk)
{
	if (chunk >= fl->nr_chunks || colo_bitmap_test(&fl->released, chunk))
		return false;
	/* Pairs with smp_store_release() in colo_fleece_restrict(). */
	return !smp_load_acquire(&fl->restricted) ||
	       colo_bitmap_test(&fl->needed, chunk);
}

/* Does a write to base have to save @chunk first? Any context. */
bool colo_fleece_needs(struct colo_fleece *fl, u64 chunk)
{
	if (colo_fleece_state(fl) != COLO_FLEECE_ACTIVE ||
	    colo_bitmap_test(&fl->saved, chunk))
		return false;
	if (!fl->gone)
		return colo_fleece_in_view(fl, chunk);
	/* Persistent: a release counts once its gone bit is on disk. */
	if (chunk >= fl->nr_chunks || test_bit(chunk, fl->gone))
		return false;
	/* Pairs with smp_store_release() in colo_fleece_restrict(). */
	return !smp_load_acquire(&fl->restricted) ||
	       colo_bitmap_test(&fl->needed, chunk);
}

/* Chunks of the view (for the status). Any context. */
u64 colo_fleece_nr_needed(struct colo_fleece *fl)
{
	/* Pairs with smp_store_release() in colo_fleece_restrict(). */
	if (smp_load_acquire(&fl->restricted))
		return colo_bitmap_count(&fl->needed);
	return fl->nr_chunks - atomic64_read(&fl->nr_released);
}

/* Is @chunk in one of the ranges (checked by the caller)? */
static bool in_ranges(struct colo_fleece *fl, u64 chunk, unsigned int nr,
		      char **ranges)
{
	u64 first, last;
	unsigned int i;

	for (i = 0; i < nr; i++)
		if (!colo_parse_range(ranges[i], fl->nr_chunks, &first,
				      &last) && first <= chunk && chunk <= last)
			return true;
	return false;
}

static void chunk_gone(struct colo_fleece *fl, u64 chunk);

/*
 * A persistent fleece's restriction: the chunks that leave the view are
 * gone on disk before the view changes (a write skips their saves from
 * then on). fl->msg_lock held; sleeps.
 */
static int restrict_on_disk(struct colo_fleece *fl, unsigned int nr,
			    char **ranges)
{
	u64 c;
	int r;

	for (c = 0; c < fl->nr_chunks; c++) {
		if ((!fl->restricted || colo_bitmap_test(&fl->needed, c)) &&
		    !colo_bitmap_test(&fl->released, c) &&
		    !in_ranges(fl, c, nr, ranges)) {
			spin_lock_irq(&fl->lock);
			colo_fleece_map_gone(fl, c);
			spin_unlock_irq(&fl->lock);
		}
		if (!(c & 1023))
			cond_resched();
	}
	r = colo_fleece_map_commit(fl, chunk_gone);
	if (r) {
		DMERR("%s: write of the fleece's map failed (%d)",
		      dm_device_name(dm_table_get_md(fl->ti->table)), r);
		colo_fleece_break(fl, COLO_FLEECE_IO_ERROR);
	}
	return r;
}

/*
 * "needed <range>...", the ranges checked by the caller: the view keeps
 * only the listed chunks, its first restriction from all of them, a later
 * one the intersection (it never grows back: the chunks it left are not
 * saved any more). A save or a read already under way for a chunk that
 * leaves ends as it began. The leaves are allocated before anything
 * changes. Process context.
 */
int colo_fleece_restrict(struct colo_fleece *fl, unsigned int nr,
			 char **ranges)
{
	u64 first, last, c;
	unsigned int i;
	int r = 0;

	mutex_lock(&fl->msg_lock);
	if (fl->map) {
		r = restrict_on_disk(fl, nr, ranges);
		if (r)
			goto out;
	}
	if (fl->restricted) {
		for (c = colo_bitmap_next_set(&fl->needed, 0); c < fl->nr_chunks;
		     c = colo_bitmap_next_set(&fl->needed, c + 1)) {
			if (in_ranges(fl, c, nr, ranges))
				continue;
			spin_lock_irq(&fl->lock);
			colo_bitmap_clear(&fl->needed, c);
			spin_unlock_irq(&fl->lock);
			cond_resched();
		}
		goto out;
	}
	for (i = 0; i < nr; i++) {
		colo_parse_range(ranges[i], fl->nr_chunks, &first, &last);
		for (c = first; c <= last; c++) {
			r = colo_bitmap_prepare(&fl->needed, c, GFP_KERNEL);
			if (r)
				goto out;
			if (!(c & 1023))
				cond_resched();
		}
	}
	for (i = 0; i < nr; i++) {
		colo_parse_range(ranges[i], fl->nr_chunks, &first, &last);
		for (c = first; c <= last; c++) {
			spin_lock_irq(&fl->lock);
			if (!colo_bitmap_test(&fl->released, c))
				colo_bitmap_set(&fl->needed, c);
			spin_unlock_irq(&fl->lock);
			if (!(c & 1023))
				cond_resched();
		}
	}
	/* The bits before the switch: pairs with colo_fleece_in_view(). */
	smp_store_release(&fl->restricted, true);
out:
	mutex_unlock(&fl->msg_lock);
	return r;
}

/* The slot that holds @chunk's saved data. Any context. */
bool colo_fleece_slot(struct colo_fleece *fl, u64 chunk, u64 *slot)
{
	void *entry = xa_load(&fl->slots, chunk);

	if (!xa_is_value(entry))
		return false;
	*slot = xa_to_value(entry);
	return true;
}

/* Drop @chunk's slot, if it has one. Any context (a read_once's end). */
static void drop_slot(struct colo_fleece *fl, u64 chunk)
{
	unsigned long flags;
	void *entry;

	xa_lock_irqsave(&fl->slots, flags);
	entry = __xa_erase(&fl->slots, chunk);
	xa_unlock_irqrestore(&fl->slots, flags);
	if (!xa_is_value(entry))
		return;
	spin_lock_irqsave(&fl->lock, flags);
	colo_slots_put(&fl->free, xa_to_value(entry));
	spin_unlock_irqrestore(&fl->lock, flags);
}

/*
 * @chunk leaves the view for good: released (its leaf prepared; a
 * persistent fleece set the bit already) together with its needed bit,
 * for a restriction under way, counted, and its slot free. Any context.
 */
static void release_now(struct colo_fleece *fl, u64 chunk)
{
	unsigned long flags;

	spin_lock_irqsave(&fl->lock, flags);
	colo_bitmap_set(&fl->released, chunk);
	colo_bitmap_clear(&fl->needed, chunk);
	atomic64_inc(&fl->nr_released);
	spin_unlock_irqrestore(&fl->lock, flags);
	if (colo_bitmap_clear(&fl->saved, chunk))
		atomic64_dec(&fl->nr_saved);
	drop_slot(fl, chunk);
}

/*
 * A write that waited for a save goes on: its chunk is released and it
 * runs again from the top in the worker. Any context.
 */
static void let_go(struct colo_c *cc, struct bio *bio)
{
	struct colo_io *io = colo_io_of(bio);

	io->save_parked = false;
	colo_lock_release(&cc->locks, &io->holder);
	colo_defer_bio(cc, bio);
}

static void event_worker(struct work_struct *work)
{
	struct colo_fleece *fl = container_of(work, struct colo_fleece,
					      event_work);

	dm_table_event(fl->ti->table);
}

/*
 * Break @fl for good: reads fail from now on, nothing more is saved, and
 * every write that waits for a save goes on now. The first reason is
 * kept. Any context.
 */
void colo_fleece_break(struct colo_fleece *fl, enum colo_fleece_reason why)
{
	struct colo_save *save;
	unsigned long flags;
	bool broke = false;

	spin_lock_irqsave(&fl->lock, flags);
	if (atomic_read(&fl->state) != COLO_FLEECE_BROKEN) {
		fl->reason = why;
		/* The reason before the state: pairs with colo_fleece_state(). */
		atomic_set_release(&fl->state, COLO_FLEECE_BROKEN);
		broke = true;
		list_for_each_entry(save, &fl->saves, node) {
			/* With its hidden write in flight, its end lets go. */
			if (save->bio && !save->hidden) {
				let_go(save->cc, save->bio);
				save->bio = NULL;
			}
			if (save->waiter)
				complete(save->waiter);
			save->waiter = NULL;
		}
	}
	spin_unlock_irqrestore(&fl->lock, flags);

	if (broke) {
		DMERR("%s: fleece broken: %s; its reads fail from now on",
		      dm_device_name(dm_table_get_md(fl->ti->table)),
		      colo_fleece_reason_name(why));
		queue_work(fl->wq, &fl->event_work);
	}
}

/* The timeout: a save older than it breaks the fleece. */
static void watchdog_worker(struct work_struct *work)
{
	struct colo_fleece *fl = container_of(to_delayed_work(work),
					      struct colo_fleece, watchdog);
	unsigned long timeout = msecs_to_jiffies(fl->timeout_ms);
	unsigned long due = 0;
	struct colo_save *save;
	bool late = false;

	spin_lock_irq(&fl->lock);
	save = list_first_entry_or_null(&fl->saves, struct colo_save, node);
	if (save) {
		due = save->start + timeout;
		late = time_after_eq(jiffies, due);
	}
	spin_unlock_irq(&fl->lock);

	if (late)
		colo_fleece_break(fl, COLO_FLEECE_TIMEOUT);
	else if (save)
		queue_delayed_work(fl->wq, &fl->watchdog,
				   max_t(long, (long)(due - jiffies), 1));
}

/*
 * The last step of a save, off fl->saves: @bio (unless a break let it go
 * already) goes on from the top in the worker, a commit's @waiter wakes.
 * Process context.
 */
static void save_finish(struct colo_save *save)
{
	struct colo_fleece *fl = save->fl;

	/* Saved before the chunk is released: the retry sees it. */
	if (save->bio)
		let_go(save->cc, save->bio);
	if (save->waiter)
		complete(save->waiter);
	kfree(save);
	put_fleece(fl);
}

/*
 * The end of a shared copy's write to hidden, before save_done(): H is set
 * while the write still holds the chunk exclusive, as copy_done() in
 * dm-colo-io.c does, so that when it runs again it goes to base at once.
 * A failed write sets nothing: the ingress path copies the chunk itself
 * then (and fails the write when that fails too). If a break came while
 * the write was in flight, the bio goes on now. Any context.
 */
static void save_hidden_done(unsigned long error, void *context)
{
	struct colo_save *save = context;
	struct colo_fleece *fl = save->fl;
	unsigned long flags;

	/* Its leaf was prepared when the save started. */
	if (!error)
		colo_bitmap_set(&save->cc->hidden_map, save->chunk);
	spin_lock_irqsave(&fl->lock, flags);
	save->hidden = false;
	if (save->bio && colo_fleece_state(fl) == COLO_FLEECE_BROKEN) {
		let_go(save->cc, save->bio);
		save->bio = NULL;
	}
	spin_unlock_irqrestore(&fl->lock, flags);
}

/*
 * The end of a save: its chunk saved (@ok, unless the fleece broke
 * meanwhile) or its slot given back. Process context.
 */
static void save_end(struct colo_save *save, bool ok)
{
	struct colo_fleece *fl = save->fl;
	unsigned long flags;

	if (!save->copies) {
		/* Nothing was saved: the chunk's release is on disk. */
	} else if (!ok) {
		drop_slot(fl, save->chunk);
	} else if (colo_fleece_state(fl) == COLO_FLEECE_ACTIVE) {
		/* Its leaf was prepared when the save started. */
		colo_bitmap_set(&fl->saved, save->chunk);
		atomic64_inc(&fl->nr_saved);
	}

	/* Off the list, no break lets its bio go: save->bio is ours. */
	spin_lock_irqsave(&fl->lock, flags);
	list_del(&save->node);
	spin_unlock_irqrestore(&fl->lock, flags);

	/* Pairs with atomic_dec_and_test() in start_save(). */
	if (atomic_dec_and_test(&save->ending))
		save_finish(save);
}

/* Queue @save's end behind the map's next commit. Any context. */
static void commit_save(struct colo_save *save)
{
	struct colo_fleece *fl = save->fl;
	unsigned long flags;

	spin_lock_irqsave(&fl->lock, flags);
	list_add_tail(&save->commit_node, &fl->committing);
	spin_unlock_irqrestore(&fl->lock, flags);
	queue_work(fl->wq, &fl->commit_work);
}

/*
 * The end of a save's copy. Process context: the copier's, or inside
 * colo_copy_start() in start_save(), which then finishes the save itself.
 * A persistent fleece's save ends when its map entry is on disk
 * (commit_worker()).
 */
static void save_done(int read_err, unsigned long write_err, void *context)
{
	struct colo_save *save = context;
	struct colo_fleece *fl = save->fl;
	unsigned long flags;

	if (read_err || write_err) {
		DMERR_LIMIT("%s: save of chunk %llu failed: %s",
			    dm_device_name(dm_table_get_md(fl->ti->table)),
			    (unsigned long long)save->chunk,
			    read_err ? "read error on base" :
			    "write error on the buffer");
		colo_fleece_break(fl, COLO_FLEECE_IO_ERROR);
		save_end(save, false);
		return;
	}
	if (!fl->map || colo_fleece_state(fl) != COLO_FLEECE_ACTIVE) {
		save_end(save, true);
		return;
	}
	spin_lock_irqsave(&fl->lock, flags);
	colo_fleece_map_set(fl, save->slot, save->chunk);
	spin_unlock_irqrestore(&fl->lock, flags);
	commit_save(save);
}

/*
 * A persistent fleece's released chunk whose gone bit is on disk now: its
 * slot may go to another chunk. A chunk a "needed" message took out of the
 * view keeps its slot, as without persistence. Process context.
 */
static void chunk_gone(struct colo_fleece *fl, u64 chunk)
{
	if (colo_bitmap_test(&fl->released, chunk))
		release_now(fl, chunk);
}

/*
 * A persistent fleece's commit: the map entries of the saves whose copy
 * ended and the gone bits of released chunks go to disk (one flush of the
 * buffer first, for all of them), then those saves end, and the flushes
 * of the fleece that came before it (they fail with it). A failed commit
 * breaks the fleece.
 */
static void commit_worker(struct work_struct *work)
{
	struct colo_fleece *fl = container_of(work, struct colo_fleece,
					      commit_work);
	struct colo_save *save, *tmp;
	struct bio_list flushes;
	struct bio *bio;
	LIST_HEAD(batch);
	int r;

	spin_lock_irq(&fl->lock);
	list_splice_init(&fl->committing, &batch);
	flushes = fl->flushes;
	bio_list_init(&fl->flushes);
	spin_unlock_irq(&fl->lock);
	r = colo_fleece_map_commit(fl, chunk_gone);
	if (r) {
		DMERR_LIMIT("%s: write of the fleece's map failed (%d)",
			    dm_device_name(dm_table_get_md(fl->ti->table)), r);
		colo_fleece_break(fl, COLO_FLEECE_IO_ERROR);
	}
	list_for_each_entry_safe(save, tmp, &batch, commit_node)
		save_end(save, !r);
	while ((bio = bio_list_pop(&flushes))) {
		if (r)
			bio->bi_status = BLK_STS_IOERR;
		bio_endio(bio);
	}
}

/*
 * An empty flush of a persistent fleece: it ends once the releases that
 * ended before it are on disk, with the status counting them (the next
 * commit). Any context.
 */
void colo_fleece_commit_flush(struct colo_fleece *fl, struct bio *bio)
{
	unsigned long flags;

	spin_lock_irqsave(&fl->lock, flags);
	bio_list_add(&fl->flushes, bio);
	spin_unlock_irqrestore(&fl->lock, flags);
	queue_work(fl->wq, &fl->commit_work);
}

/*
 * Should the save of @chunk for an ingress write also make its
 * copy-before-write into hidden? When the chunk has neither H nor A, and
 * the fleece's chunk is the colo device's whole chunk (a fleece shorter
 * than its colo device may end inside one). The caller holds the chunk
 * exclusive.
 */
static bool save_shares_read(struct colo_fleece *fl, struct colo_c *cc,
			     struct colo_io *io, u64 chunk, gfp_t gfp)
{
	if (!io->ingress || !cc->hidden ||
	    colo_bitmap_test(&cc->hidden_map, chunk) ||
	    colo_bitmap_test(&cc->active_map, chunk) ||
	    colo_chunk_len(chunk, fl->ti->len, fl->chunk_shift) !=
	    colo_chunk_len(chunk, cc->ti->len, cc->chunk_shift))
		return false;
	/* No leaf for H: the ingress path copies it itself, as without. */
	return !colo_bitmap_prepare(&cc->hidden_map, chunk, gfp);
}

/* Take a free slot of the buffer for @chunk's save. */
static int take_slot(struct colo_fleece *fl, u64 chunk, u64 *slot, gfp_t gfp)
{
	unsigned long flags;
	int r;

	spin_lock_irqsave(&fl->lock, flags);
	r = colo_slots_get(&fl->free, slot);
	spin_unlock_irqrestore(&fl->lock, flags);
	if (r)
		return r;
	r = xa_err(xa_store_irq(&fl->slots, chunk, xa_mk_value(*slot), gfp));
	if (r) {
		spin_lock_irqsave(&fl->lock, flags);
		colo_slots_put(&fl->free, *slot);
		spin_unlock_irqrestore(&fl->lock, flags);
	}
	return r;
}

/*
 * Start the save of @chunk, which the caller holds exclusive (for @bio,
 * or a commit job), and with @hidden its copy into @cc's hidden too.
 * A persistent fleece's chunk released with its gone bit not on disk yet
 * is not copied: the commit that writes the bit frees the chunk's slot
 * without the chunk's lock (chunk_gone()), so a copy still in flight would
 * write a slot given to another chunk. Its save only waits for that
 * commit, and its write then needs none; a crash before the commit brings
 * the chunk back into the view, with base as it was.
 * Returns 1 when the save ended already and @bio, still holding the
 * chunk, goes on now; 0 when the save runs (its end lets @bio go or wakes
 * @waiter), or ended and woke @waiter, or a break let @bio go; -ENOSPC
 * (the buffer is full) or -ENOMEM.
 */
static int start_save(struct colo_fleece *fl, struct colo_c *cc,
		      struct bio *bio, struct completion *waiter, u64 chunk,
		      bool hidden, gfp_t gfp)
{
	struct dm_io_region src, dst, dst2;
	struct colo_save *save;
	unsigned long flags;
	bool first, ended, goes_on;
	bool copies = !fl->map || !colo_bitmap_test(&fl->released, chunk);
	u64 slot = 0;
	int r;

	r = colo_bitmap_prepare(&fl->saved, chunk, gfp);
	if (r)
		return r;
	save = kzalloc(sizeof(*save), gfp | __GFP_NOWARN);
	if (!save)
		return -ENOMEM;
	if (copies) {
		r = take_slot(fl, chunk, &slot, gfp);
		if (r) {
			kfree(save);
			return r;
		}
	}

	save->fl = fl;
	save->cc = cc;
	save->bio = bio;
	save->waiter = waiter;
	save->chunk = chunk;
	save->slot = slot;
	save->copies = copies;
	save->hidden = copies && hidden;
	save->start = jiffies;
	atomic_set(&save->ending, 2);
	/* The save's own reference, dropped by save_finish(). */
	atomic_inc(&fl->refs);

	spin_lock_irqsave(&fl->lock, flags);
	first = list_empty(&fl->saves);
	list_add_tail(&save->node, &fl->saves);
	spin_unlock_irqrestore(&fl->lock, flags);
	if (first)
		queue_delayed_work(fl->wq, &fl->watchdog,
				   msecs_to_jiffies(fl->timeout_ms));

	if (copies) {
		src.bdev = fl->base->bdev;
		src.sector = colo_chunk_to_sector(chunk, fl->chunk_shift);
		src.count = colo_chunk_len(chunk, fl->ti->len, fl->chunk_shift);
		dst.bdev = fl->buffer->bdev;
		dst.sector = colo_fleece_slot_sector(fl, slot);
		dst.count = src.count;
		dst2 = src;
		dst2.bdev = save->hidden ? cc->hidden->bdev : NULL;
		colo_copy_start_two(&fl->copier, &save->copy, &src, &dst,
				    save->hidden ? &dst2 : NULL,
				    save_hidden_done, save_done, save);
	} else {
		commit_save(save);
	}
	/* @save is off limits from here unless we are the last of two. */
	ended = atomic_dec_and_test(&save->ending);
	/* Started where it may sleep: the worker, or the commit. */
	if (copies && gfpflags_allow_blocking(gfp))
		WRITE_ONCE(fl->saves_inline, ended);
	/* The copy still runs: its end finishes the save. */
	if (!ended)
		return 0;
	/*
	 * It ended inside colo_copy_start(): @bio, unless a break let it go
	 * already, goes on here with no hop; a commit's waiter wakes.
	 */
	goes_on = save->bio;
	save->bio = NULL;
	save_finish(save);
	return goes_on;
}

/* Every COLO_SAVE_PROBE-th save from map goes to the worker to look again. */
#define COLO_SAVE_PROBE		256

/*
 * Should map send a write that needs a save to the worker, to start the
 * save there (see fl->saves_inline)? Map context.
 */
static bool map_defers(struct colo_fleece *fl)
{
	return READ_ONCE(fl->saves_inline) ||
	       !(atomic_inc_return(&fl->map_saves) % COLO_SAVE_PROBE);
}

/*
 * Save @chunk for @bio, or find it needs no save any more. Returns true
 * when @bio may go on, false when it was taken (parked on the chunk,
 * waiting for the save, or sent to the worker).
 */
static bool save_chunk(struct colo_fleece *fl, struct colo_c *cc,
		       struct bio *bio, struct colo_io *io, u64 chunk,
		       bool in_worker)
{
	gfp_t gfp;
	int r;

	/* Started in the worker, the save may end there at once. */
	if (!in_worker && map_defers(fl)) {
		if (io->holder.hold != COLO_HOLD_NONE)
			colo_lock_release(&cc->locks, &io->holder);
		colo_defer_bio_next_cpu(cc, bio);
		return false;
	}
	/* A hold granted for another path's request: that path asks again. */
	if (io->holder.hold != COLO_HOLD_NONE &&
	    !(io->save_parked && io->holder.chunk == chunk &&
	      io->holder.hold == COLO_HOLD_EXCL))
		colo_lock_release(&cc->locks, &io->holder);
	/* Set first: once parked, the bio may run again before we return. */
	io->save_parked = true;
	if (!colo_lock_try(&cc->locks, &io->holder, chunk, COLO_HOLD_EXCL,
			   bio))
		return false;
	io->save_parked = false;
	/* Re-check under the lock (LESSONS.md #1). */
	if (!colo_fleece_needs(fl, chunk)) {
		colo_lock_release(&cc->locks, &io->holder);
		return true;
	}

	gfp = in_worker ? GFP_NOIO : GFP_NOWAIT;
	r = start_save(fl, cc, bio, NULL, chunk,
		       save_shares_read(fl, cc, io, chunk, gfp), gfp);
	if (!r)
		return false;
	colo_lock_release(&cc->locks, &io->holder);
	/* Saved already, inside start_save(): on with the next chunk. */
	if (r == 1)
		return true;
	if (r == -ENOMEM && !in_worker) {
		/* The worker may sleep for it. */
		colo_defer_bio(cc, bio);
		return false;
	}
	colo_fleece_break(fl, r == -ENOSPC ? COLO_FLEECE_FULL :
			  COLO_FLEECE_NO_MEMORY);
	return true;
}

/*
 * Is the view the colo device's metadata names (a persistent fleece's) kept:
 * is that fleece attached and active? True when none is named. The state
 * is read with acquire: a break or a detach that a save saw is seen.
 * Any context.
 */
static bool view_kept(struct colo_c *cc)
{
	u64 named = colo_meta_fleece(cc);
	struct colo_fleece *fl;
	bool kept;

	if (likely(!named))
		return true;
	rcu_read_lock();
	fl = rcu_dereference(cc->fleece);
	kept = fl && fl->instance == named &&
	       colo_fleece_state(fl) == COLO_FLEECE_ACTIVE;
	rcu_read_unlock();
	return kept;
}

/*
 * Base is about to be written with no active fleece keeping the view that
 * the metadata names: the name goes first, on disk (a re-attach of that
 * view is refused from then on). Sleeps.
 */
static void drop_view_name(struct colo_c *cc)
{
	u64 named = colo_meta_fleece(cc);

	if (view_kept(cc))
		return;
	DMINFO("%s: base written without fleece %016llx: its view can no longer be re-attached",
	       colo_name(cc), (unsigned long long)named);
	colo_meta_set_fleece(cc, 0);
}

/*
 * drop_view_name() for @bio: in the worker, which may sleep for it; from
 * map, @bio goes there (returns false) and runs again from the top.
 */
static bool forget_view(struct colo_c *cc, struct bio *bio,
			struct colo_io *io, bool in_worker)
{
	if (in_worker) {
		drop_view_name(cc);
		return true;
	}
	if (io->holder.hold != COLO_HOLD_NONE)
		colo_lock_release(&cc->locks, &io->holder);
	io->save_parked = false;
	colo_defer_bio(cc, bio);
	return false;
}

/*
 * Before @bio, a write, reaches base: save each of its chunks the fleece
 * of @cc still needs. Returns true when @bio may go on, false when it was
 * taken (it runs again from the top in the worker). Map or worker context;
 * from map, a bio over several chunks of which one needs a save is cut at
 * its first chunk border first.
 */
bool colo_save_before_write(struct colo_c *cc, struct bio *bio,
			    struct colo_io *io, bool in_worker)
{
	struct colo_fleece *fl = NULL;
	bool go = true;
	u64 c, first, last;

	/* Only ingress writes and a primary's VM writes reach base. */
	if (!bio_sectors(bio) ||
	    (io->ingress && test_bit(COLO_FENCED, &cc->flags)) ||
	    (!io->ingress && READ_ONCE(cc->mode) != COLO_MODE_PRIMARY))
		goto out;
	if (!rcu_access_pointer(cc->fleece))
		goto named;
	fl = get_fleece_to_save(cc, io->sector, bio_sectors(bio), &first,
				&last);
	if (!fl)
		goto named;

	for (c = first; c <= last && go; c++) {
		if (!colo_fleece_needs(fl, c))
			continue;
		/*
		 * A bio that waits for a save, or goes to the worker, runs
		 * again in the worker, which takes one chunk of a secondary's
		 * or a committing primary's bio (see colo_bio_spans_chunks()):
		 * from map, keep its first chunk, and dm sends the rest as a
		 * new bio, which saves its own chunks. Uncut, the chunks after
		 * the first skipped the ingress's copy-before-write into
		 * hidden (colo-fsx --fleece, seed 1796522032008).
		 */
		if (!in_worker && last != first) {
			colo_cut_at_chunk_border(cc, io, bio);
			last = first;
			if (c != first)
				break;
		}
		go = save_chunk(fl, cc, bio, io, c, in_worker);
	}
	put_fleece(fl);
named:
	/* After the saves: a break they saw is seen here too. */
	if (go && unlikely(!view_kept(cc)))
		go = forget_view(cc, bio, io, in_worker);
out:
	/* Parked for a save that is no longer needed: not ours to keep. */
	if (go && io->save_parked) {
		io->save_parked = false;
		if (io->holder.hold != COLO_HOLD_NONE)
			colo_lock_release(&cc->locks, &io->holder);
	}
	return go;
}

/*
 * Before a copy to base of chunks @first to @last, which the caller (the
 * failover commit) holds exclusive: save each one the fleece still needs,
 * one at a time, waiting for each (at most the timeout: the watchdog
 * breaks the fleece then). Worker context; sleeps.
 */
void colo_save_chunks(struct colo_c *cc, u64 first, u64 last)
{
	struct colo_fleece *fl;
	u64 c;
	int r;

	if (!rcu_access_pointer(cc->fleece))
		goto named;
	fl = get_fleece(cc);
	if (!fl)
		goto named;
	for (c = first; c <= last; c++) {
		DECLARE_COMPLETION_ONSTACK(done);

		if (!colo_fleece_needs(fl, c))
			continue;
		r = start_save(fl, cc, NULL, &done, c, false, GFP_NOIO);
		if (r < 0) {
			colo_fleece_break(fl, r == -ENOSPC ? COLO_FLEECE_FULL :
					  COLO_FLEECE_NO_MEMORY);
			break;
		}
		wait_for_completion(&done);
	}
	put_fleece(fl);
named:
	drop_view_name(cc);
}

/*
 * @chunk leaves the view: no later write saves it, reads of it fail, and
 * its slot is free again. The caller holds the chunk exclusive. Returns
 * -ENOMEM when the released bitmap had no memory (nothing changed). Any
 * context when the released bitmap's leaf for @chunk was prepared.
 */
int colo_fleece_release_chunk(struct colo_fleece *fl, u64 chunk, gfp_t gfp)
{
	unsigned long flags;
	int r;

	if (!colo_fleece_in_view(fl, chunk))
		return 0;
	r = colo_bitmap_prepare(&fl->released, chunk, gfp);
	if (r)
		return r;
	if (fl->map) {
		/*
		 * Reads fail from now on; its slot and its writes' saves go
		 * once the gone bit is on disk (chunk_gone()).
		 */
		spin_lock_irqsave(&fl->lock, flags);
		colo_bitmap_set(&fl->released, chunk);
		colo_fleece_map_gone(fl, chunk);
		spin_unlock_irqrestore(&fl->lock, flags);
		queue_work(fl->wq, &fl->commit_work);
		return 0;
	}
	release_now(fl, chunk);
	return 0;
}

/*
 * Set up the fleece's state: fl->ti, base, buffer, chunk_shift, nr_chunks
 * and nr_slots are set. Process context.
 */
int colo_fleece_init(struct colo_fleece *fl)
{
	int r;

	spin_lock_init(&fl->lock);
	/* Erased from interrupt context too (drop_slot()). */
	xa_init_flags(&fl->slots, XA_FLAGS_LOCK_IRQ);
	INIT_LIST_HEAD(&fl->saves);
	INIT_LIST_HEAD(&fl->committing);
	bio_list_init(&fl->flushes);
	INIT_WORK(&fl->commit_work, commit_worker);
	atomic_set(&fl->refs, 0);
	init_waitqueue_head(&fl->refs_wq);
	atomic_set(&fl->state, COLO_FLEECE_INACTIVE);
	atomic64_set(&fl->nr_saved, 0);
	atomic64_set(&fl->nr_released, 0);
	/* Until a save says otherwise: the first one from map probes. */
	fl->saves_inline = true;
	atomic_set(&fl->map_saves, 0);
	INIT_DELAYED_WORK(&fl->watchdog, watchdog_worker);
	INIT_WORK(&fl->event_work, event_worker);

	r = colo_slots_init(&fl->free, fl->nr_slots);
	if (r)
		return r;
	r = colo_bitmap_init(&fl->saved, fl->nr_chunks);
	if (r)
		goto bad_saved;
	r = colo_bitmap_init(&fl->released, fl->nr_chunks);
	if (r)
		goto bad_released;
	r = colo_bitmap_init(&fl->needed, fl->nr_chunks);
	if (r)
		goto bad_needed;
	mutex_init(&fl->msg_lock);
	r = -ENOMEM;
	fl->wq = alloc_workqueue("dm-colo-fleece", WQ_MEM_RECLAIM, 0);
	if (!fl->wq)
		goto bad_wq;
	r = colo_copier_init(&fl->copier, COLO_COPY_EXTENTS);
	if (r)
		goto bad_copier;
	return 0;

bad_copier:
	destroy_workqueue(fl->wq);
bad_wq:
	colo_bitmap_destroy(&fl->needed);
bad_needed:
	colo_bitmap_destroy(&fl->released);
bad_released:
	colo_bitmap_destroy(&fl->saved);
bad_saved:
	colo_slots_destroy(&fl->free);
	return r;
}

/* Free the state. Nothing uses the fleece (colo_fleece_wait_idle()). */
void colo_fleece_destroy(struct colo_fleece *fl)
{
	cancel_delayed_work_sync(&fl->watchdog);
	cancel_work_sync(&fl->event_work);
	/* Releases may have queued it: their gone bits go to disk now. */
	flush_work(&fl->commit_work);
	colo_copier_destroy(&fl->copier);
	destroy_workqueue(fl->wq);
	colo_bitmap_destroy(&fl->needed);
	colo_bitmap_destroy(&fl->released);
	colo_bitmap_destroy(&fl->saved);
	colo_slots_destroy(&fl->free);
	xa_destroy(&fl->slots);
}
