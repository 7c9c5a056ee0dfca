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
		INIT_HLIST_HEAD(&locks->buckets[i].holders);
		bio_list_init(&locks->buckets[i].waiters);
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

/* Caller holds the bucket lock. The strongest hold overlapping the range. */
static enum colo_hold __held(struct colo_lock_bucket *b, u64 first, u64 last)
{
	struct colo_lock_holder *h;
	enum colo_hold held = COLO_HOLD_NONE;

	hlist_for_each_entry(h, &b->holders, node) {
		if (h->chunk > last || h->last < first)
			continue;
		if (h->hold == COLO_HOLD_EXCL)
			return COLO_HOLD_EXCL;
		held = COLO_HOLD_SHARED;
	}
	return held;
}

/*
 * Take chunks @first to @last (one granule) with @hold for @h. On conflict,
 * park @park (if not NULL) on the bucket and return false.
 */
bool colo_lock_try_range(struct colo_locks *locks, struct colo_lock_holder *h,
			 u64 first, u64 last, enum colo_hold hold,
			 struct bio *park)
{
	struct colo_lock_bucket *b = bucket_of(locks, first);
	unsigned long flags;
	enum colo_hold held;
	bool got;

	spin_lock_irqsave(&b->lock, flags);
	held = __held(b, first, last);
	got = held == COLO_HOLD_NONE ||
	      (hold == COLO_HOLD_SHARED && held == COLO_HOLD_SHARED);
	if (got) {
		h->chunk = first;
		h->last = last;
		h->hold = hold;
		hlist_add_head(&h->node, &b->holders);
	} else if (park) {
		bio_list_add(&b->waiters, park);
	}
	spin_unlock_irqrestore(&b->lock, flags);
	return got;
}

/* Take @chunk alone; see colo_lock_try_range(). */
bool colo_lock_try(struct colo_locks *locks, struct colo_lock_holder *h,
		   u64 chunk, enum colo_hold hold, struct bio *park)
{
	return colo_lock_try_range(locks, h, chunk, chunk, hold, park);
}

void colo_lock_release(struct colo_locks *locks, struct colo_lock_holder *h)
{
	struct colo_lock_bucket *b = bucket_of(locks, h->chunk);
	struct bio_list woken;
	unsigned long flags;

	bio_list_init(&woken);
	spin_lock_irqsave(&b->lock, flags);
	hlist_del(&h->node);
	h->hold = COLO_HOLD_NONE;
	bio_list_merge(&woken, &b->waiters);
	bio_list_init(&b->waiters);
	spin_unlock_irqrestore(&b->lock, flags);

	if (!bio_list_empty(&woken))
		locks->wake(locks->context, &woken);
}

/*
 * Is @chunk held at all? If so, park @park (if not NULL) until it is
 * released. Used by writes that need no lock of their own but must not
 * overtake the holders (an ingress write racing VM reads of base).
 */
bool colo_lock_busy(struct colo_locks *locks, u64 chunk, struct bio *park)
{
	struct colo_lock_bucket *b = bucket_of(locks, chunk);
	unsigned long flags;
	bool busy;

	spin_lock_irqsave(&b->lock, flags);
	busy = __held(b, chunk, chunk) != COLO_HOLD_NONE;
	if (busy && park)
		bio_list_add(&b->waiters, park);
	spin_unlock_irqrestore(&b->lock, flags);
	return busy;
}
