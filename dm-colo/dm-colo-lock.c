// SPDX-License-Identifier: GPL-2.0
/*
 * dm-colo: the per-chunk lock. See dm-colo-lock.h for the contract.
 */
#include <linux/hash.h>
#include <linux/mm.h>
#include <linux/slab.h>

#include "dm-colo-lock.h"

int colo_locks_init(struct colo_locks *locks, unsigned int hash_bits,
		    unsigned int granule_shift,
		    void (*wake)(void *context, struct bio_list *bios),
		    void *context)
{
	unsigned int i, n = 1U << hash_bits;

	/* hash_64() needs 1 to 31 bits. */
	if (!hash_bits || hash_bits > 31 || granule_shift > 63)
		return -EINVAL;
	locks->buckets = kvcalloc(n, sizeof(*locks->buckets), GFP_KERNEL);
	if (!locks->buckets)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		spin_lock_init(&locks->buckets[i].lock);
		INIT_LIST_HEAD(&locks->buckets[i].holders);
		INIT_LIST_HEAD(&locks->buckets[i].waiters);
		atomic_set(&locks->buckets[i].readers, 0);
		atomic_set(&locks->buckets[i].blockers, 0);
	}
	locks->hash_bits = hash_bits;
	locks->granule_shift = granule_shift;
	locks->wake = wake;
	locks->context = context;
	return 0;
}

void colo_locks_destroy(struct colo_locks *locks)
{
	kvfree(locks->buckets);
	locks->buckets = NULL;
}

static struct colo_lock_bucket *bucket_of(struct colo_locks *locks,
					  u64 chunk)
{
	return &locks->buckets[hash_64(chunk >> locks->granule_shift,
				       locks->hash_bits)];
}

/* @first and @last lie in one granule: one bucket holds their range. */
bool colo_lock_same_granule(struct colo_locks *locks, u64 first, u64 last)
{
	return first >> locks->granule_shift == last >> locks->granule_shift;
}

static bool overlaps(struct colo_lock_holder *h, u64 first, u64 last)
{
	return h->chunk <= last && first <= h->last;
}

/* Two requests conflict when either is exclusive. */
static bool conflicts(enum colo_hold a, enum colo_hold b)
{
	return a == COLO_HOLD_EXCL || b == COLO_HOLD_EXCL;
}

/*
 * A request that counted reads must not pass (see dm-colo-lock.h): an
 * exclusive hold, or a colo_lock_busy() wait (@hold COLO_HOLD_NONE).
 */
static bool blocks_reads(enum colo_hold hold)
{
	return hold != COLO_HOLD_SHARED;
}

/*
 * Count a request that blocks counted reads, before it looks at @readers.
 * Pairs with the barrier in colo_lock_read().
 */
static void add_blocker(struct colo_lock_bucket *b)
{
	atomic_inc(&b->blockers);
	/* Pairs with the barrier in colo_lock_read(). */
	smp_mb__after_atomic();
}

/*
 * A blocking request leaves. What it changed while it held (a bitmap bit
 * set before its release) is visible to a read that then sees @blockers
 * drop: pairs with the acquire in colo_lock_read().
 */
static void del_blocker(struct colo_lock_bucket *b)
{
	/* Pairs with the acquire in colo_lock_read(). */
	smp_mb__before_atomic();
	atomic_dec(&b->blockers);
}

/* No counted read is in flight in the bucket. */
static bool no_readers(struct colo_lock_bucket *b)
{
	return !atomic_read(&b->readers);
}

/* Caller holds the bucket lock. The strongest hold overlapping the range. */
static enum colo_hold __held(struct colo_lock_bucket *b, u64 first, u64 last)
{
	struct colo_lock_holder *h;
	enum colo_hold held = COLO_HOLD_NONE;

	list_for_each_entry(h, &b->holders, node) {
		if (!overlaps(h, first, last))
			continue;
		if (h->hold == COLO_HOLD_EXCL)
			return COLO_HOLD_EXCL;
		held = COLO_HOLD_SHARED;
	}
	return held;
}

/*
 * Caller holds the bucket lock. May @hold of the range be granted now,
 * with the waiters before @stop (all of them when NULL) served first?
 */
static bool __grantable(struct colo_lock_bucket *b, u64 first, u64 last,
			enum colo_hold hold, struct colo_lock_holder *stop)
{
	enum colo_hold held = __held(b, first, last);
	struct colo_lock_holder *w;

	if (held != COLO_HOLD_NONE && conflicts(held, hold))
		return false;
	if (blocks_reads(hold) && !no_readers(b))
		return false;
	list_for_each_entry(w, &b->waiters, node) {
		if (w == stop)
			break;
		if (w->want != COLO_HOLD_NONE && overlaps(w, first, last) &&
		    conflicts(w->want, hold))
			return false;
	}
	return true;
}

/*
 * Take chunks @first to @last (one granule) with @hold for @h, or, when
 * @wait, queue @h for them: @h->bio or @h->granted is told when they are
 * granted. Returns true when they are held at once.
 */
static bool take_or_queue(struct colo_locks *locks, struct colo_lock_holder *h,
			  u64 first, u64 last, enum colo_hold hold, bool wait)
{
	struct colo_lock_bucket *b = bucket_of(locks, first);
	unsigned long flags;
	bool got;

	spin_lock_irqsave(&b->lock, flags);
	if (blocks_reads(hold))
		add_blocker(b);
	got = __grantable(b, first, last, hold, NULL);
	h->chunk = first;
	h->last = last;
	if (got) {
		h->hold = hold;
		list_add_tail(&h->node, &b->holders);
	} else if (wait) {
		h->want = hold;
		h->parked = true;
		list_add_tail(&h->node, &b->waiters);
	} else if (blocks_reads(hold)) {
		del_blocker(b);
	}
	spin_unlock_irqrestore(&b->lock, flags);
	return got;
}

/*
 * Take chunks @first to @last (one granule) with @hold for @h. On conflict,
 * park @park (if not NULL) on the bucket and return false. A holder that
 * was granted the range while its bio was parked has it already.
 */
bool colo_lock_try_range(struct colo_locks *locks, struct colo_lock_holder *h,
			 u64 first, u64 last, enum colo_hold hold,
			 struct bio *park)
{
	if (h->hold != COLO_HOLD_NONE) {
		/* Granted by colo_lock_release() while parked. */
		if (h->chunk <= first && last <= h->last &&
		    (h->hold == COLO_HOLD_EXCL || hold == COLO_HOLD_SHARED))
			return true;
		/* Held for another request: not what callers do. */
		WARN_ON_ONCE(1);
		colo_lock_release(locks, h);
	}
	h->bio = park;
	return take_or_queue(locks, h, first, last, hold, park);
}

/*
 * Take @chunk with @hold for @h, which has no bio, or queue it: @granted
 * runs once it holds the chunk (see dm-colo-lock.h). Returns true when
 * the chunk is held at once.
 */
bool colo_lock_wait(struct colo_locks *locks, struct colo_lock_holder *h,
		    u64 chunk, enum colo_hold hold,
		    void (*granted)(struct colo_lock_holder *h))
{
	h->bio = NULL;
	h->granted = granted;
	return take_or_queue(locks, h, chunk, chunk, hold, true);
}

/* Take @chunk alone; see colo_lock_try_range(). */
bool colo_lock_try(struct colo_locks *locks, struct colo_lock_holder *h,
		   u64 chunk, enum colo_hold hold, struct bio *park)
{
	return colo_lock_try_range(locks, h, chunk, chunk, hold, park);
}

/*
 * Caller holds the bucket lock. Serve the waiters, in order, that the
 * holders and the waiters before them no longer block: grant their
 * request, and put their bios on @woken.
 */
static void __serve_waiters(struct colo_lock_bucket *b, struct bio_list *woken)
{
	struct colo_lock_holder *w, *tmp;

	list_for_each_entry_safe(w, tmp, &b->waiters, node) {
		if (w->want == COLO_HOLD_NONE) {
			if (__held(b, w->chunk, w->last) != COLO_HOLD_NONE ||
			    !no_readers(b))
				continue;
			list_del(&w->node);
			del_blocker(b);
		} else {
			if (!__grantable(b, w->chunk, w->last, w->want, w))
				continue;
			list_move_tail(&w->node, &b->holders);
			w->hold = w->want;
		}
		w->want = COLO_HOLD_NONE;
		w->parked = false;
		if (w->bio)
			bio_list_add(woken, w->bio);
		else
			w->granted(w);
		w->bio = NULL;
	}
}

void colo_lock_release(struct colo_locks *locks, struct colo_lock_holder *h)
{
	struct colo_lock_bucket *b = bucket_of(locks, h->chunk);
	struct bio_list woken;
	unsigned long flags;

	bio_list_init(&woken);
	spin_lock_irqsave(&b->lock, flags);
	list_del(&h->node);
	if (blocks_reads(h->hold))
		del_blocker(b);
	h->hold = COLO_HOLD_NONE;
	__serve_waiters(b, &woken);
	spin_unlock_irqrestore(&b->lock, flags);

	if (!bio_list_empty(&woken))
		locks->wake(locks->context, &woken);
}

/*
 * Hand the hold of @from (held, not waiting) over to @to, which takes its
 * place among the bucket's holders: the range is held all along, so no
 * waiter is served in between. @from holds nothing after. A VM write in
 * async mode hands its hold to its background write this way, in its
 * completion. Any context.
 */
void colo_lock_move(struct colo_locks *locks, struct colo_lock_holder *from,
		    struct colo_lock_holder *to)
{
	struct colo_lock_bucket *b = bucket_of(locks, from->chunk);
	unsigned long flags;

	if (WARN_ON_ONCE(from->hold == COLO_HOLD_NONE || from->parked))
		return;
	spin_lock_irqsave(&b->lock, flags);
	*to = *from;
	list_replace(&from->node, &to->node);
	from->hold = COLO_HOLD_NONE;
	spin_unlock_irqrestore(&b->lock, flags);
}

/*
 * Take back what @h has: a wait, a hold (granted while waiting, or not),
 * or nothing.
 */
void colo_lock_cancel(struct colo_locks *locks, struct colo_lock_holder *h)
{
	struct colo_lock_bucket *b = bucket_of(locks, h->chunk);
	struct bio_list woken;
	unsigned long flags;
	bool held;

	bio_list_init(&woken);
	spin_lock_irqsave(&b->lock, flags);
	if (h->parked) {
		list_del(&h->node);
		if (blocks_reads(h->want))
			del_blocker(b);
		h->parked = false;
		h->want = COLO_HOLD_NONE;
		/* Waiters behind it may go now. */
		__serve_waiters(b, &woken);
	}
	held = h->hold != COLO_HOLD_NONE;
	spin_unlock_irqrestore(&b->lock, flags);

	if (!bio_list_empty(&woken))
		locks->wake(locks->context, &woken);
	if (held)
		colo_lock_release(locks, h);
}

/*
 * Grow the range @h holds by the chunk after it, in the same granule, if
 * that chunk is free: no holder has it and no waiter wants it (a waiter is
 * never overtaken). Returns true when @h holds it now. A background copy
 * takes adjacent chunks into one extent this way. Any context.
 */
bool colo_lock_extend(struct colo_locks *locks, struct colo_lock_holder *h)
{
	struct colo_lock_bucket *b = bucket_of(locks, h->chunk);
	u64 next = h->last + 1;
	unsigned long flags;
	bool got;

	if (h->hold == COLO_HOLD_NONE || !next ||
	    !colo_lock_same_granule(locks, h->chunk, next))
		return false;
	spin_lock_irqsave(&b->lock, flags);
	got = __grantable(b, next, next, h->hold, NULL);
	if (got)
		h->last = next;
	spin_unlock_irqrestore(&b->lock, flags);
	return got;
}

/*
 * Give back the last chunk of the range @h holds (more than one chunk):
 * the waiters it blocked are served. Any context.
 */
void colo_lock_shrink(struct colo_locks *locks, struct colo_lock_holder *h)
{
	struct colo_lock_bucket *b = bucket_of(locks, h->chunk);
	struct bio_list woken;
	unsigned long flags;

	if (WARN_ON_ONCE(h->hold == COLO_HOLD_NONE || h->last == h->chunk))
		return;
	bio_list_init(&woken);
	spin_lock_irqsave(&b->lock, flags);
	h->last--;
	__serve_waiters(b, &woken);
	spin_unlock_irqrestore(&b->lock, flags);

	if (!bio_list_empty(&woken))
		locks->wake(locks->context, &woken);
}

/* Does @h hold its range (it may still wait for it)? */
bool colo_lock_held(struct colo_locks *locks, struct colo_lock_holder *h)
{
	struct colo_lock_bucket *b = bucket_of(locks, h->chunk);
	unsigned long flags;
	bool held;

	spin_lock_irqsave(&b->lock, flags);
	held = h->hold != COLO_HOLD_NONE;
	spin_unlock_irqrestore(&b->lock, flags);
	return held;
}

/*
 * Is @chunk held at all? If so, park @park (if not NULL, with @h, which
 * holds nothing) until no holder overlaps it. Used by writes that need no
 * lock of their own but must not overtake the holders (an ingress write
 * racing VM reads of base).
 */
bool colo_lock_busy(struct colo_locks *locks, struct colo_lock_holder *h,
		    u64 chunk, struct bio *park)
{
	struct colo_lock_bucket *b = bucket_of(locks, chunk);
	unsigned long flags;
	bool busy;

	/*
	 * A hold granted while the bio waited for another path (its retry
	 * took this one): it must not count as a holder here.
	 */
	if (h && h->hold != COLO_HOLD_NONE)
		colo_lock_release(locks, h);

	spin_lock_irqsave(&b->lock, flags);
	add_blocker(b);
	busy = __held(b, chunk, chunk) != COLO_HOLD_NONE || !no_readers(b);
	if (busy && park) {
		h->chunk = chunk;
		h->last = chunk;
		h->want = COLO_HOLD_NONE;
		h->bio = park;
		h->parked = true;
		list_add_tail(&h->node, &b->waiters);
	} else {
		del_blocker(b);
	}
	spin_unlock_irqrestore(&b->lock, flags);
	return busy;
}

/*
 * Count a shared hold of @chunk's granule without a holder (see
 * dm-colo-lock.h), for a VM read of clean chunks of that granule. Returns
 * false when a request that excludes it is in the bucket: nothing is
 * counted, and the caller takes a shared hold with colo_lock_try_range().
 * On true, the caller ends it with colo_lock_read_end() and the same
 * chunk. Any context.
 */
bool colo_lock_read(struct colo_locks *locks, u64 chunk)
{
	struct colo_lock_bucket *b = bucket_of(locks, chunk);

	atomic_inc(&b->readers);
	/* Pairs with the barrier in add_blocker(). */
	smp_mb__after_atomic();
	/* Acquire: what a blocker did before it left is visible after. */
	if (likely(!atomic_read_acquire(&b->blockers)))
		return true;
	colo_lock_read_end(locks, chunk);
	return false;
}

/*
 * End a read counted by colo_lock_read(). The last one of a bucket with
 * blockers serves its waiters (an exclusive request or a busy wait that
 * waited for the counted reads to drain). Any context.
 */
void colo_lock_read_end(struct colo_locks *locks, u64 chunk)
{
	struct colo_lock_bucket *b = bucket_of(locks, chunk);
	struct bio_list woken;
	unsigned long flags;

	/* A full barrier: pairs with the one in add_blocker(). */
	if (!atomic_dec_and_test(&b->readers) || !atomic_read(&b->blockers))
		return;
	bio_list_init(&woken);
	spin_lock_irqsave(&b->lock, flags);
	__serve_waiters(b, &woken);
	spin_unlock_irqrestore(&b->lock, flags);

	if (!bio_list_empty(&woken))
		locks->wake(locks->context, &woken);
}
