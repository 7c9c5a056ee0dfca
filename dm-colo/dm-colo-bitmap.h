/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dm-colo: chunk bitmaps whose memory follows the dirty set.
 *
 * A two-level bitmap: a directory of leaf pointers (allocated with the
 * bitmap, 16 bytes per 32768 chunks) and leaf pages allocated on first use.
 * Clearing is O(1): it advances an epoch, and a leaf whose epoch is older
 * than the bitmap's reads as all zero and is wiped when next prepared.
 * colo_bitmap_reclaim() frees leaves that stayed unused for a whole epoch.
 *
 * Locking contract:
 *  - colo_bitmap_test(), colo_bitmap_set(), colo_bitmap_clear() and
 *    colo_bitmap_count() take no lock and are safe from interrupt context.
 *  - colo_bitmap_set() needs a successful colo_bitmap_prepare() of the same
 *    chunk in the current epoch.
 *  - colo_bitmap_prepare() may sleep when @gfp allows; it takes the bitmap
 *    spinlock only to install or refresh a leaf (once a leaf per epoch).
 *  - colo_bitmap_clear_all() must not run concurrently with prepare, test
 *    or set: the caller quiesces I/O first (checkpoint).
 *  - colo_bitmap_reclaim() may sleep and runs concurrently with I/O; it
 *    only frees leaves that are stale, which no test or set touches.
 *  - colo_bitmap_swap() exchanges two bitmaps of one size that nothing
 *    else uses meanwhile (a reload, with both tables quiesced).
 *  - colo_bitmap_or() may sleep and needs both bitmaps left alone
 *    meanwhile (a failover, with I/O held and drained).
 *  - colo_bitmap_get_le64() and colo_bitmap_next_set() take no lock.
 */
#ifndef DM_COLO_BITMAP_H
#define DM_COLO_BITMAP_H

#include <linux/atomic.h>
#include <linux/bits.h>
#include <linux/spinlock.h>
#include <linux/types.h>

#define COLO_LEAF_SHIFT		(PAGE_SHIFT + 3)	/* bits per leaf page */
#define COLO_LEAF_BITS		BIT(COLO_LEAF_SHIFT)

struct colo_leaf {
	unsigned long *bits;	/* one page, or NULL */
	unsigned long epoch;	/* epoch the bits belong to */
};

struct colo_bitmap {
	u64 nr_bits;
	u64 nr_leaves;
	struct colo_leaf *dir;
	unsigned long epoch;
	spinlock_t lock;	/* installs and refreshes leaves */
	atomic64_t count;	/* bits set in the current epoch */
	atomic64_t nr_pages;	/* leaf pages allocated */
};

int colo_bitmap_init(struct colo_bitmap *bm, u64 nr_bits);
void colo_bitmap_destroy(struct colo_bitmap *bm);
int colo_bitmap_prepare(struct colo_bitmap *bm, u64 bit, gfp_t gfp);
bool colo_bitmap_test(struct colo_bitmap *bm, u64 bit);
bool colo_bitmap_set(struct colo_bitmap *bm, u64 bit);
bool colo_bitmap_clear(struct colo_bitmap *bm, u64 bit);
void colo_bitmap_clear_all(struct colo_bitmap *bm);
void colo_bitmap_reclaim(struct colo_bitmap *bm);
void colo_bitmap_swap(struct colo_bitmap *a, struct colo_bitmap *b);
u64 colo_bitmap_next_set(struct colo_bitmap *bm, u64 from);
int colo_bitmap_or(struct colo_bitmap *dst, struct colo_bitmap *src,
		   gfp_t gfp);
void colo_bitmap_get_le64(struct colo_bitmap *bm, u64 first, u64 nr,
			  __le64 *out);
size_t colo_bitmap_memory(struct colo_bitmap *bm);

static inline u64 colo_bitmap_count(struct colo_bitmap *bm)
{
	return atomic64_read(&bm->count);
}

#endif /* DM_COLO_BITMAP_H */
