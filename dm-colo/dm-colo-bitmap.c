// SPDX-License-Identifier: GPL-2.0
/*
 * dm-colo: chunk bitmaps whose memory follows the dirty set. See
 * dm-colo-bitmap.h for the structure and the locking contract.
 */
#include <linux/bitmap.h>
#include <linux/bitops.h>
#include <linux/gfp.h>
#include <linux/mm.h>
#include <linux/sched.h>
#include <linux/slab.h>

#include "dm-colo-bitmap.h"

static u64 leaf_of(u64 bit)
{
	return bit >> COLO_LEAF_SHIFT;
}

static unsigned long bit_in_leaf(u64 bit)
{
	return bit & (COLO_LEAF_BITS - 1);
}

int colo_bitmap_init(struct colo_bitmap *bm, u64 nr_bits)
{
	bm->nr_bits = nr_bits;
	bm->nr_leaves = (nr_bits + COLO_LEAF_BITS - 1) >> COLO_LEAF_SHIFT;
	bm->epoch = 1;
	spin_lock_init(&bm->lock);
	atomic64_set(&bm->count, 0);
	atomic64_set(&bm->nr_pages, 0);
	if (bm->nr_leaves > SIZE_MAX / sizeof(*bm->dir))
		return -EINVAL;
	bm->dir = kvcalloc(bm->nr_leaves, sizeof(*bm->dir), GFP_KERNEL);
	return bm->dir ? 0 : -ENOMEM;
}

void colo_bitmap_destroy(struct colo_bitmap *bm)
{
	u64 i;

	if (!bm->dir)
		return;
	for (i = 0; i < bm->nr_leaves; i++) {
		if (bm->dir[i].bits)
			free_page((unsigned long)bm->dir[i].bits);
		if (!(i & 1023))
			cond_resched();
	}
	kvfree(bm->dir);
	bm->dir = NULL;
}

/*
 * A leaf is current when its epoch is the bitmap's. The epoch is written
 * with release semantics after the bits were wiped, and read with acquire
 * semantics before the bits are used, so a current leaf is seen wiped.
 */
static unsigned long *current_leaf(struct colo_bitmap *bm, u64 leaf)
{
	struct colo_leaf *l = &bm->dir[leaf];

	/* Pairs with smp_store_release() in colo_bitmap_prepare(). */
	if (smp_load_acquire(&l->epoch) != READ_ONCE(bm->epoch))
		return NULL;
	return READ_ONCE(l->bits);
}

int colo_bitmap_prepare(struct colo_bitmap *bm, u64 bit, gfp_t gfp)
{
	u64 leaf = leaf_of(bit);
	struct colo_leaf *l = &bm->dir[leaf];
	unsigned long *page = NULL;
	unsigned long flags;
	bool done = false;

	while (!current_leaf(bm, leaf)) {
		/* Allocate outside the lock, then re-check under it. */
		if (!page && !READ_ONCE(l->bits)) {
			page = (unsigned long *)__get_free_page(gfp | __GFP_NOWARN);
			if (!page)
				return -ENOMEM;
		}
		spin_lock_irqsave(&bm->lock, flags);
		if (l->epoch == bm->epoch) {
			done = true;
		} else if (l->bits || page) {
			if (!l->bits) {
				l->bits = page;
				page = NULL;
				atomic64_inc(&bm->nr_pages);
			}
			clear_page(l->bits);
			/* Wiped before current: pairs with current_leaf(). */
			smp_store_release(&l->epoch, bm->epoch);
			done = true;
		}
		/* else: reclaim freed the leaf since we looked; allocate. */
		spin_unlock_irqrestore(&bm->lock, flags);
		if (done)
			break;
	}
	if (page)
		free_page((unsigned long)page);
	return 0;
}

bool colo_bitmap_test(struct colo_bitmap *bm, u64 bit)
{
	unsigned long *bits = current_leaf(bm, leaf_of(bit));

	return bits && test_bit(bit_in_leaf(bit), bits);
}

/* Returns true when the bit was not set before. */
bool colo_bitmap_set(struct colo_bitmap *bm, u64 bit)
{
	unsigned long *bits = current_leaf(bm, leaf_of(bit));

	if (WARN_ON_ONCE(!bits))
		return false;
	if (test_and_set_bit(bit_in_leaf(bit), bits))
		return false;
	atomic64_inc(&bm->count);
	return true;
}

/* Returns true when the bit was set before. */
bool colo_bitmap_clear(struct colo_bitmap *bm, u64 bit)
{
	unsigned long *bits = current_leaf(bm, leaf_of(bit));

	if (!bits || !test_and_clear_bit(bit_in_leaf(bit), bits))
		return false;
	atomic64_dec(&bm->count);
	return true;
}

void colo_bitmap_clear_all(struct colo_bitmap *bm)
{
	unsigned long flags;

	spin_lock_irqsave(&bm->lock, flags);
	WRITE_ONCE(bm->epoch, bm->epoch + 1);
	atomic64_set(&bm->count, 0);
	spin_unlock_irqrestore(&bm->lock, flags);
}

/*
 * Exchange the contents of @a and @b, two bitmaps of the same size (a
 * table reload hands its state to the new table). Neither may be in use.
 */
void colo_bitmap_swap(struct colo_bitmap *a, struct colo_bitmap *b)
{
	if (WARN_ON_ONCE(a->nr_bits != b->nr_bits))
		return;
	swap(a->dir, b->dir);
	swap(a->epoch, b->epoch);
	atomic64_set(&a->count,
		     atomic64_xchg(&b->count, atomic64_read(&a->count)));
	atomic64_set(&a->nr_pages,
		     atomic64_xchg(&b->nr_pages, atomic64_read(&a->nr_pages)));
}

/*
 * Free the leaves not used in the current or the previous epoch. The walk
 * ends once it has seen as many leaves as were allocated when it started,
 * so a sparse bitmap costs its leaves, not its directory; a leaf allocated
 * meanwhile may hide a stale one from this pass, which the next one frees.
 */
void colo_bitmap_reclaim(struct colo_bitmap *bm)
{
	s64 left = atomic64_read(&bm->nr_pages);
	unsigned long flags, *page;
	u64 i;

	for (i = 0; i < bm->nr_leaves && left > 0; i++) {
		if (!(i & 1023))
			cond_resched();
		if (!READ_ONCE(bm->dir[i].bits))
			continue;
		left--;
		spin_lock_irqsave(&bm->lock, flags);
		page = NULL;
		if (bm->dir[i].bits && bm->dir[i].epoch + 1 < bm->epoch) {
			page = bm->dir[i].bits;
			bm->dir[i].bits = NULL;
			bm->dir[i].epoch = 0;
			atomic64_dec(&bm->nr_pages);
		}
		spin_unlock_irqrestore(&bm->lock, flags);
		if (page)
			free_page((unsigned long)page);
	}
}

/* The first set bit at or after @from, or nr_bits when there is none. */
u64 colo_bitmap_next_set(struct colo_bitmap *bm, u64 from)
{
	u64 leaf;

	while (from < bm->nr_bits) {
		unsigned long *bits, n;

		leaf = leaf_of(from);
		bits = current_leaf(bm, leaf);
		if (bits) {
			n = find_next_bit(bits, COLO_LEAF_BITS, bit_in_leaf(from));
			if (n < COLO_LEAF_BITS)
				return min((leaf << COLO_LEAF_SHIFT) + n, bm->nr_bits);
		}
		from = (leaf + 1) << COLO_LEAF_SHIFT;
	}
	return bm->nr_bits;
}

/*
 * @dst |= @src, a leaf at a time (both of the same size). Neither may be
 * changed meanwhile: the caller holds and drains I/O (a failover). May
 * sleep when @gfp allows. On -ENOMEM @dst holds part of @src.
 */
int colo_bitmap_or(struct colo_bitmap *dst, struct colo_bitmap *src,
		   gfp_t gfp)
{
	u64 leaf;
	int r;

	if (WARN_ON_ONCE(dst->nr_bits != src->nr_bits))
		return -EINVAL;
	for (leaf = 0; leaf < src->nr_leaves; leaf++) {
		unsigned long *s = current_leaf(src, leaf), *d;
		unsigned int before;

		if (!s || bitmap_empty(s, COLO_LEAF_BITS))
			continue;
		r = colo_bitmap_prepare(dst, leaf << COLO_LEAF_SHIFT, gfp);
		if (r)
			return r;
		d = current_leaf(dst, leaf);
		before = bitmap_weight(d, COLO_LEAF_BITS);
		bitmap_or(d, d, s, COLO_LEAF_BITS);
		atomic64_add(bitmap_weight(d, COLO_LEAF_BITS) - before,
			     &dst->count);
		cond_resched();
	}
	return 0;
}

/*
 * Copy @nr bits from bit @first into @out as little-endian 64-bit words
 * (the on-disk bitmaps): bit i of the range is bit i % 8 of byte i / 8.
 * @first and @nr are multiples of 64; bits past the end read as zero.
 * Same contract as colo_bitmap_test().
 */
void colo_bitmap_get_le64(struct colo_bitmap *bm, u64 first, u64 nr,
			  __le64 *out)
{
	u64 i, pos;

	for (i = 0; i < nr / 64; i++) {
		unsigned long *bits = NULL;
		u64 word = 0;

		pos = first + i * 64;
		if (leaf_of(pos) < bm->nr_leaves)
			bits = current_leaf(bm, leaf_of(pos));
		if (bits)
			bitmap_to_arr64(&word,
					bits + bit_in_leaf(pos) / BITS_PER_LONG,
					64);
		out[i] = cpu_to_le64(word);
	}
}

/* Bytes used: the directory plus the leaf pages. */
size_t colo_bitmap_memory(struct colo_bitmap *bm)
{
	return bm->nr_leaves * sizeof(*bm->dir) +
	       (size_t)atomic64_read(&bm->nr_pages) * PAGE_SIZE;
}
