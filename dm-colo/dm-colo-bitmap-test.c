// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests of dm-colo's chunk bitmaps (dm-colo-bitmap.h), per-chunk
 * lock (dm-colo-lock.h) and a fleece buffer's free slots
 * (dm-colo-slots.h). Built with CONFIG_DM_COLO_KUNIT_TEST.
 */
#include <kunit/test.h>
#include <linux/bio.h>
#include <linux/hash.h>
#include <linux/mm.h>

#include "dm-colo-bitmap.h"
#include "dm-colo-lock.h"
#include "dm-colo-slots.h"

/* --- dm-colo-bitmap ----------------------------------------------------- */

/* Each test uses one bitmap, kept in test->priv and freed on exit. */
static void bitmap_test_exit(struct kunit *test)
{
	if (test->priv)
		colo_bitmap_destroy(test->priv);
}

static struct colo_bitmap *new_bitmap(struct kunit *test, u64 nr_bits)
{
	struct colo_bitmap *bm = kunit_kzalloc(test, sizeof(*bm), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, bm);
	KUNIT_ASSERT_EQ(test, colo_bitmap_init(bm, nr_bits), 0);
	test->priv = bm;
	return bm;
}

static void set_bit_ok(struct kunit *test, struct colo_bitmap *bm, u64 bit)
{
	KUNIT_ASSERT_EQ(test, colo_bitmap_prepare(bm, bit, GFP_KERNEL), 0);
	KUNIT_EXPECT_TRUE(test, colo_bitmap_set(bm, bit));
}

/* A new bitmap has no leaves and reads as zero everywhere. */
static void colo_bitmap_empty_test(struct kunit *test)
{
	struct colo_bitmap *bm = new_bitmap(test, 100000);

	KUNIT_EXPECT_EQ(test, bm->nr_leaves, DIV_ROUND_UP(100000ULL, COLO_LEAF_BITS));
	KUNIT_EXPECT_FALSE(test, colo_bitmap_test(bm, 0));
	KUNIT_EXPECT_FALSE(test, colo_bitmap_test(bm, 99999));
	KUNIT_EXPECT_EQ(test, colo_bitmap_count(bm), 0ULL);
	KUNIT_EXPECT_EQ(test, colo_bitmap_next_set(bm, 0), 100000ULL);
	KUNIT_EXPECT_EQ(test, colo_bitmap_memory(bm),
			(size_t)bm->nr_leaves * sizeof(struct colo_leaf));
}

/* Set, test, count; a second set of the same bit is not counted. */
static void colo_bitmap_set_test(struct kunit *test)
{
	struct colo_bitmap *bm = new_bitmap(test, 3 * COLO_LEAF_BITS + 5);
	u64 last = 3 * COLO_LEAF_BITS + 4;

	set_bit_ok(test, bm, 0);
	set_bit_ok(test, bm, COLO_LEAF_BITS - 1);
	set_bit_ok(test, bm, last);
	KUNIT_EXPECT_FALSE(test, colo_bitmap_set(bm, 0));
	KUNIT_EXPECT_EQ(test, colo_bitmap_count(bm), 3ULL);
	KUNIT_EXPECT_TRUE(test, colo_bitmap_test(bm, 0));
	KUNIT_EXPECT_TRUE(test, colo_bitmap_test(bm, COLO_LEAF_BITS - 1));
	KUNIT_EXPECT_FALSE(test, colo_bitmap_test(bm, COLO_LEAF_BITS));
	KUNIT_EXPECT_TRUE(test, colo_bitmap_test(bm, last));
	KUNIT_EXPECT_FALSE(test, colo_bitmap_test(bm, last - 1));
	/* Two leaves were touched: one page each. */
	KUNIT_EXPECT_EQ(test, atomic64_read(&bm->nr_pages), 2LL);
}

/* next_set walks across leaves, skipping absent ones. */
static void colo_bitmap_next_set_test(struct kunit *test)
{
	u64 n = 10 * COLO_LEAF_BITS;
	struct colo_bitmap *bm = new_bitmap(test, n);

	set_bit_ok(test, bm, 7);
	set_bit_ok(test, bm, 4 * COLO_LEAF_BITS + 1);
	set_bit_ok(test, bm, n - 1);
	KUNIT_EXPECT_EQ(test, colo_bitmap_next_set(bm, 0), 7ULL);
	KUNIT_EXPECT_EQ(test, colo_bitmap_next_set(bm, 7), 7ULL);
	KUNIT_EXPECT_EQ(test, colo_bitmap_next_set(bm, 8), 4 * COLO_LEAF_BITS + 1);
	KUNIT_EXPECT_EQ(test, colo_bitmap_next_set(bm, 4 * COLO_LEAF_BITS + 2), n - 1);
	KUNIT_EXPECT_EQ(test, colo_bitmap_next_set(bm, n), n);
}

/*
 * clear_all is O(1): the leaves stay allocated but read as zero; the next
 * prepare wipes them. Leaves unused for a whole epoch are reclaimed.
 */
static void colo_bitmap_clear_reclaim_test(struct kunit *test)
{
	struct colo_bitmap *bm = new_bitmap(test, 4 * COLO_LEAF_BITS);

	set_bit_ok(test, bm, 1);
	set_bit_ok(test, bm, 2 * COLO_LEAF_BITS + 3);
	colo_bitmap_clear_all(bm);
	KUNIT_EXPECT_EQ(test, colo_bitmap_count(bm), 0ULL);
	KUNIT_EXPECT_FALSE(test, colo_bitmap_test(bm, 1));
	KUNIT_EXPECT_FALSE(test, colo_bitmap_test(bm, 2 * COLO_LEAF_BITS + 3));
	KUNIT_EXPECT_EQ(test, colo_bitmap_next_set(bm, 0), 4 * COLO_LEAF_BITS);
	KUNIT_EXPECT_EQ(test, atomic64_read(&bm->nr_pages), 2LL);

	/* Reuse of leaf 0 in the new epoch: wiped, old bit 1 gone. */
	set_bit_ok(test, bm, 5);
	KUNIT_EXPECT_FALSE(test, colo_bitmap_test(bm, 1));
	KUNIT_EXPECT_TRUE(test, colo_bitmap_test(bm, 5));

	/* Leaf 2 was last used one epoch ago: kept until one more passes. */
	colo_bitmap_reclaim(bm);
	KUNIT_EXPECT_EQ(test, atomic64_read(&bm->nr_pages), 2LL);
	colo_bitmap_clear_all(bm);
	colo_bitmap_clear_all(bm);
	colo_bitmap_reclaim(bm);
	KUNIT_EXPECT_EQ(test, atomic64_read(&bm->nr_pages), 0LL);
	KUNIT_EXPECT_EQ(test, colo_bitmap_memory(bm),
			(size_t)bm->nr_leaves * sizeof(struct colo_leaf));

	/* A reclaimed leaf is allocated again on demand. */
	set_bit_ok(test, bm, 2 * COLO_LEAF_BITS + 3);
	KUNIT_EXPECT_TRUE(test, colo_bitmap_test(bm, 2 * COLO_LEAF_BITS + 3));
	KUNIT_EXPECT_EQ(test, colo_bitmap_count(bm), 1ULL);

	/*
	 * The walk counts the allocated leaves down: a fresh leaf before
	 * them does not end it before the stale last one.
	 */
	set_bit_ok(test, bm, 3 * COLO_LEAF_BITS);
	colo_bitmap_clear_all(bm);
	colo_bitmap_clear_all(bm);
	set_bit_ok(test, bm, 0);
	KUNIT_EXPECT_EQ(test, atomic64_read(&bm->nr_pages), 3LL);
	colo_bitmap_reclaim(bm);
	KUNIT_EXPECT_EQ(test, atomic64_read(&bm->nr_pages), 1LL);
	KUNIT_EXPECT_TRUE(test, colo_bitmap_test(bm, 0));
	KUNIT_EXPECT_EQ(test, colo_bitmap_count(bm), 1ULL);
}

/*
 * Bit numbers past 2^32 (a 16 TiB device with 512-byte chunks has 2^35):
 * no 32-bit truncation anywhere. Only the directory is allocated.
 */
static void colo_bitmap_large_test(struct kunit *test)
{
	u64 n = 1ULL << 35;
	struct colo_bitmap *bm = new_bitmap(test, n);
	u64 hi = (1ULL << 32) + 17, low = 17;

	set_bit_ok(test, bm, hi);
	set_bit_ok(test, bm, n - 1);
	KUNIT_EXPECT_TRUE(test, colo_bitmap_test(bm, hi));
	KUNIT_EXPECT_FALSE(test, colo_bitmap_test(bm, low));
	KUNIT_EXPECT_EQ(test, colo_bitmap_next_set(bm, 0), hi);
	KUNIT_EXPECT_EQ(test, colo_bitmap_next_set(bm, hi + 1), n - 1);
	KUNIT_EXPECT_EQ(test, colo_bitmap_count(bm), 2ULL);
	KUNIT_EXPECT_EQ(test, atomic64_read(&bm->nr_pages), 2LL);
}

/* set without a prepared leaf is a caller bug: warns, changes nothing. */
static void colo_bitmap_unprepared_test(struct kunit *test)
{
	struct colo_bitmap *bm = new_bitmap(test, 1000);

	set_bit_ok(test, bm, 3);
	colo_bitmap_clear_all(bm);
	/* Leaf 0 exists but is stale: test reads 0, count stays 0. */
	KUNIT_EXPECT_FALSE(test, colo_bitmap_test(bm, 3));
	KUNIT_EXPECT_EQ(test, colo_bitmap_count(bm), 0ULL);
}

/*
 * colo_bitmap_or(): every bit of the source lands in the destination, the
 * count follows (bits set in both counted once), a stale source leaf adds
 * nothing, and the source is unchanged.
 */
static void colo_bitmap_or_test(struct kunit *test)
{
	u64 n = 3 * COLO_LEAF_BITS + 10;
	struct colo_bitmap *dst = new_bitmap(test, n);
	struct colo_bitmap src = {};
	u64 in_src[] = { 1, 3, 2 * COLO_LEAF_BITS + 7, n - 1 };
	unsigned int i;

	KUNIT_ASSERT_EQ(test, colo_bitmap_init(&src, n), 0);
	/* A stale leaf of the source: leaf 1 set, then cleared by an epoch. */
	set_bit_ok(test, &src, COLO_LEAF_BITS + 9);
	colo_bitmap_clear_all(&src);
	for (i = 0; i < ARRAY_SIZE(in_src); i++)
		set_bit_ok(test, &src, in_src[i]);
	set_bit_ok(test, dst, 1);
	set_bit_ok(test, dst, COLO_LEAF_BITS + 5);

	KUNIT_EXPECT_EQ(test, colo_bitmap_or(dst, &src, GFP_KERNEL), 0);
	KUNIT_EXPECT_EQ(test, colo_bitmap_count(dst), 5ULL);
	for (i = 0; i < ARRAY_SIZE(in_src); i++)
		KUNIT_EXPECT_TRUE(test, colo_bitmap_test(dst, in_src[i]));
	KUNIT_EXPECT_TRUE(test, colo_bitmap_test(dst, COLO_LEAF_BITS + 5));
	KUNIT_EXPECT_FALSE(test, colo_bitmap_test(dst, COLO_LEAF_BITS + 9));
	KUNIT_EXPECT_EQ(test, colo_bitmap_next_set(dst, 4), COLO_LEAF_BITS + 5);
	KUNIT_EXPECT_EQ(test, colo_bitmap_count(&src), 4ULL);
	/* Again: nothing new, the count stays. */
	KUNIT_EXPECT_EQ(test, colo_bitmap_or(dst, &src, GFP_KERNEL), 0);
	KUNIT_EXPECT_EQ(test, colo_bitmap_count(dst), 5ULL);
	colo_bitmap_destroy(&src);
}

/*
 * colo_bitmap_get_le64(): whole words across a leaf boundary, in the
 * on-disk bit order, zero past the end and in stale or absent leaves.
 */
static void colo_bitmap_get_le64_test(struct kunit *test)
{
	u64 n = 3 * COLO_LEAF_BITS + 100;
	struct colo_bitmap *bm = new_bitmap(test, n);
	__le64 out[4];
	u8 *bytes = (u8 *)out;

	set_bit_ok(test, bm, COLO_LEAF_BITS - 128);
	set_bit_ok(test, bm, COLO_LEAF_BITS - 65);
	set_bit_ok(test, bm, COLO_LEAF_BITS - 1);
	set_bit_ok(test, bm, COLO_LEAF_BITS);
	set_bit_ok(test, bm, COLO_LEAF_BITS + 64 + 9);
	set_bit_ok(test, bm, n - 1);

	colo_bitmap_get_le64(bm, COLO_LEAF_BITS - 128, 256, out);
	KUNIT_EXPECT_EQ(test, le64_to_cpu(out[0]), 1ULL << 63 | 1ULL);
	KUNIT_EXPECT_EQ(test, le64_to_cpu(out[1]), 1ULL << 63);
	KUNIT_EXPECT_EQ(test, le64_to_cpu(out[2]), 1ULL);
	KUNIT_EXPECT_EQ(test, le64_to_cpu(out[3]), 1ULL << 9);
	/* Bit i of the range is bit i % 8 of byte i / 8. */
	KUNIT_EXPECT_EQ(test, bytes[0], 0x01);
	KUNIT_EXPECT_EQ(test, bytes[7], 0x80);
	KUNIT_EXPECT_EQ(test, bytes[3 * 8 + 1], 0x02);

	/* The last bit, the rest of its leaf and past the last leaf. */
	colo_bitmap_get_le64(bm, 3 * COLO_LEAF_BITS + 64, 128, out);
	KUNIT_EXPECT_EQ(test, le64_to_cpu(out[0]), 1ULL << 35);
	KUNIT_EXPECT_EQ(test, le64_to_cpu(out[1]), 0ULL);
	colo_bitmap_get_le64(bm, 4 * COLO_LEAF_BITS, 64, out);
	KUNIT_EXPECT_EQ(test, le64_to_cpu(out[0]), 0ULL);
	/* An absent leaf, and a stale one. */
	colo_bitmap_get_le64(bm, 2 * COLO_LEAF_BITS, 64, out);
	KUNIT_EXPECT_EQ(test, le64_to_cpu(out[0]), 0ULL);
	colo_bitmap_clear_all(bm);
	colo_bitmap_get_le64(bm, COLO_LEAF_BITS - 128, 64, out);
	KUNIT_EXPECT_EQ(test, le64_to_cpu(out[0]), 0ULL);
}

static struct kunit_case colo_bitmap_test_cases[] = {
	KUNIT_CASE(colo_bitmap_empty_test),
	KUNIT_CASE(colo_bitmap_set_test),
	KUNIT_CASE(colo_bitmap_next_set_test),
	KUNIT_CASE(colo_bitmap_clear_reclaim_test),
	KUNIT_CASE(colo_bitmap_large_test),
	KUNIT_CASE(colo_bitmap_unprepared_test),
	KUNIT_CASE(colo_bitmap_or_test),
	KUNIT_CASE(colo_bitmap_get_le64_test),
	{}
};

static struct kunit_suite colo_bitmap_suite = {
	.name = "dm-colo-bitmap",
	.exit = bitmap_test_exit,
	.test_cases = colo_bitmap_test_cases,
};

/* --- dm-colo-lock ------------------------------------------------------- */

struct lock_ctx {
	struct colo_locks locks;
	struct bio_list woken;
	unsigned int wakes;
};

static void lock_wake(void *context, struct bio_list *bios)
{
	struct lock_ctx *ctx = context;

	ctx->wakes++;
	bio_list_merge(&ctx->woken, bios);
}

/* Each test uses one lock table, kept in test->priv and freed on exit. */
static void lock_test_exit(struct kunit *test)
{
	if (test->priv)
		colo_locks_destroy(test->priv);
}

static struct lock_ctx *new_locks(struct kunit *test, unsigned int bits,
				  unsigned int granule_shift)
{
	struct lock_ctx *ctx = kunit_kzalloc(test, sizeof(*ctx), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, ctx);
	bio_list_init(&ctx->woken);
	KUNIT_ASSERT_EQ(test,
			colo_locks_init(&ctx->locks, bits, granule_shift,
					lock_wake, ctx), 0);
	test->priv = &ctx->locks;
	return ctx;
}

static struct bio *fake_bio(struct kunit *test)
{
	struct bio *bio = kunit_kzalloc(test, sizeof(*bio), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, bio);
	return bio;
}

/*
 * Shared holds share; exclusive excludes both ways; a release grants the
 * lock to the waiter it unblocks before it wakes its bio.
 */
static void colo_lock_modes_test(struct kunit *test)
{
	struct lock_ctx *ctx = new_locks(test, 4, 0);
	struct colo_lock_holder r1 = {}, r2 = {}, w = {}, b = {};
	struct bio *parked = fake_bio(test), *parked2 = fake_bio(test);

	KUNIT_EXPECT_TRUE(test, colo_lock_try(&ctx->locks, &r1, 9, COLO_HOLD_SHARED, NULL));
	KUNIT_EXPECT_TRUE(test, colo_lock_try(&ctx->locks, &r2, 9, COLO_HOLD_SHARED, NULL));
	KUNIT_EXPECT_FALSE(test, colo_lock_try(&ctx->locks, &w, 9, COLO_HOLD_EXCL, parked));
	KUNIT_EXPECT_EQ(test, w.hold, COLO_HOLD_NONE);
	KUNIT_EXPECT_TRUE(test, colo_lock_busy(&ctx->locks, NULL, 9, NULL));
	KUNIT_EXPECT_FALSE(test, colo_lock_busy(&ctx->locks, NULL, 10, NULL));

	/* A release that leaves a conflicting holder wakes nobody. */
	colo_lock_release(&ctx->locks, &r1);
	KUNIT_EXPECT_EQ(test, ctx->wakes, 0U);
	KUNIT_EXPECT_EQ(test, w.hold, COLO_HOLD_NONE);
	/* A new shared hold does not overtake the parked exclusive one. */
	KUNIT_EXPECT_FALSE(test, colo_lock_try(&ctx->locks, &r1, 9, COLO_HOLD_SHARED, NULL));

	/* The last shared holder goes: the waiter holds it when woken. */
	colo_lock_release(&ctx->locks, &r2);
	KUNIT_EXPECT_EQ(test, ctx->wakes, 1U);
	KUNIT_EXPECT_PTR_EQ(test, bio_list_pop(&ctx->woken), parked);
	KUNIT_EXPECT_EQ(test, w.hold, COLO_HOLD_EXCL);
	/* Its retry finds it held. */
	KUNIT_EXPECT_TRUE(test, colo_lock_try(&ctx->locks, &w, 9, COLO_HOLD_EXCL, NULL));
	KUNIT_EXPECT_FALSE(test, colo_lock_try(&ctx->locks, &r1, 9, COLO_HOLD_SHARED, NULL));

	/* A busy-waiter takes nothing, and is woken when the chunk is free. */
	KUNIT_EXPECT_TRUE(test, colo_lock_busy(&ctx->locks, &b, 9, parked2));
	colo_lock_release(&ctx->locks, &w);
	KUNIT_EXPECT_EQ(test, ctx->wakes, 2U);
	KUNIT_EXPECT_PTR_EQ(test, bio_list_pop(&ctx->woken), parked2);
	KUNIT_EXPECT_EQ(test, b.hold, COLO_HOLD_NONE);
	KUNIT_EXPECT_FALSE(test, colo_lock_busy(&ctx->locks, NULL, 9, NULL));
}

/*
 * Waiters are served in order: an exclusive waiter behind a shared one
 * waits for it, a shared waiter behind an exclusive one too, and shared
 * waiters that nothing blocks are granted together.
 */
static void colo_lock_order_test(struct kunit *test)
{
	struct lock_ctx *ctx = new_locks(test, 4, 0);
	struct colo_lock_holder x = {}, s1 = {}, s2 = {}, e = {}, s3 = {};
	struct bio *b1 = fake_bio(test), *b2 = fake_bio(test);
	struct bio *b3 = fake_bio(test), *b4 = fake_bio(test);

	KUNIT_EXPECT_TRUE(test, colo_lock_try(&ctx->locks, &x, 5, COLO_HOLD_EXCL, NULL));
	KUNIT_EXPECT_FALSE(test, colo_lock_try(&ctx->locks, &s1, 5, COLO_HOLD_SHARED, b1));
	KUNIT_EXPECT_FALSE(test, colo_lock_try(&ctx->locks, &s2, 5, COLO_HOLD_SHARED, b2));
	KUNIT_EXPECT_FALSE(test, colo_lock_try(&ctx->locks, &e, 5, COLO_HOLD_EXCL, b3));
	KUNIT_EXPECT_FALSE(test, colo_lock_try(&ctx->locks, &s3, 5, COLO_HOLD_SHARED, b4));

	colo_lock_release(&ctx->locks, &x);
	KUNIT_EXPECT_PTR_EQ(test, bio_list_pop(&ctx->woken), b1);
	KUNIT_EXPECT_PTR_EQ(test, bio_list_pop(&ctx->woken), b2);
	KUNIT_EXPECT_NULL(test, bio_list_pop(&ctx->woken));
	KUNIT_EXPECT_EQ(test, s1.hold, COLO_HOLD_SHARED);
	KUNIT_EXPECT_EQ(test, s2.hold, COLO_HOLD_SHARED);
	KUNIT_EXPECT_EQ(test, s3.hold, COLO_HOLD_NONE);

	colo_lock_release(&ctx->locks, &s1);
	KUNIT_EXPECT_NULL(test, bio_list_pop(&ctx->woken));
	colo_lock_release(&ctx->locks, &s2);
	KUNIT_EXPECT_PTR_EQ(test, bio_list_pop(&ctx->woken), b3);
	KUNIT_EXPECT_NULL(test, bio_list_pop(&ctx->woken));
	KUNIT_EXPECT_EQ(test, e.hold, COLO_HOLD_EXCL);

	colo_lock_release(&ctx->locks, &e);
	KUNIT_EXPECT_PTR_EQ(test, bio_list_pop(&ctx->woken), b4);
	KUNIT_EXPECT_EQ(test, s3.hold, COLO_HOLD_SHARED);
	colo_lock_release(&ctx->locks, &s3);
	KUNIT_EXPECT_TRUE(test, colo_lock_try(&ctx->locks, &x, 5, COLO_HOLD_EXCL, NULL));
	colo_lock_release(&ctx->locks, &x);
}

static unsigned int grants;

static void count_grant(struct colo_lock_holder *h)
{
	grants++;
}

/*
 * A holder without a bio (a background copy) waits in the same queue:
 * later requests wait behind it, its grant calls back instead of a wake,
 * and a cancelled wait lets the waiters behind it go.
 */
static void colo_lock_wait_test(struct kunit *test)
{
	struct lock_ctx *ctx = new_locks(test, 4, 0);
	struct colo_lock_holder s = {}, j = {}, r = {}, q = {};
	struct bio *b1 = fake_bio(test), *b2 = fake_bio(test);

	grants = 0;
	KUNIT_EXPECT_TRUE(test, colo_lock_wait(&ctx->locks, &j, 3, COLO_HOLD_EXCL, count_grant));
	KUNIT_EXPECT_TRUE(test, colo_lock_held(&ctx->locks, &j));
	colo_lock_cancel(&ctx->locks, &j);
	KUNIT_EXPECT_FALSE(test, colo_lock_held(&ctx->locks, &j));

	KUNIT_EXPECT_TRUE(test, colo_lock_try(&ctx->locks, &s, 3, COLO_HOLD_SHARED, NULL));
	KUNIT_EXPECT_FALSE(test, colo_lock_wait(&ctx->locks, &j, 3, COLO_HOLD_EXCL, count_grant));
	KUNIT_EXPECT_FALSE(test, colo_lock_held(&ctx->locks, &j));
	/* A hot chunk: new shared holds wait behind the copy. */
	KUNIT_EXPECT_FALSE(test, colo_lock_try(&ctx->locks, &r, 3, COLO_HOLD_SHARED, b1));
	colo_lock_release(&ctx->locks, &s);
	KUNIT_EXPECT_EQ(test, grants, 1U);
	KUNIT_EXPECT_TRUE(test, colo_lock_held(&ctx->locks, &j));
	KUNIT_EXPECT_EQ(test, ctx->wakes, 0U);
	colo_lock_cancel(&ctx->locks, &j);
	KUNIT_EXPECT_PTR_EQ(test, bio_list_pop(&ctx->woken), b1);
	KUNIT_EXPECT_EQ(test, r.hold, COLO_HOLD_SHARED);

	/* A wait given up before its grant: the bio behind it goes. */
	KUNIT_EXPECT_FALSE(test, colo_lock_wait(&ctx->locks, &j, 3, COLO_HOLD_EXCL, count_grant));
	KUNIT_EXPECT_FALSE(test, colo_lock_try(&ctx->locks, &q, 3, COLO_HOLD_SHARED, b2));
	colo_lock_cancel(&ctx->locks, &j);
	KUNIT_EXPECT_EQ(test, grants, 1U);
	KUNIT_EXPECT_PTR_EQ(test, bio_list_pop(&ctx->woken), b2);
	KUNIT_EXPECT_EQ(test, q.hold, COLO_HOLD_SHARED);
	colo_lock_release(&ctx->locks, &q);
	colo_lock_release(&ctx->locks, &r);
	KUNIT_EXPECT_FALSE(test, colo_lock_busy(&ctx->locks, NULL, 3, NULL));
}

/*
 * Two chunks in one bucket (one past 2^32) are still told apart: a release
 * of one does not wake a waiter of the other.
 */
static void colo_lock_collision_test(struct kunit *test)
{
	struct lock_ctx *ctx = new_locks(test, 1, 0);
	struct colo_lock_holder a = {}, b = {}, c = {};
	struct bio *parked = fake_bio(test);
	u64 big = 1ULL << 40;

	while (hash_64(big, 1) != hash_64(9, 1))
		big++;

	KUNIT_EXPECT_TRUE(test, colo_lock_try(&ctx->locks, &a, 9, COLO_HOLD_EXCL, NULL));
	KUNIT_EXPECT_TRUE(test, colo_lock_try(&ctx->locks, &b, big, COLO_HOLD_EXCL, NULL));
	KUNIT_EXPECT_FALSE(test, colo_lock_try(&ctx->locks, &c, 9, COLO_HOLD_SHARED, parked));
	colo_lock_release(&ctx->locks, &b);
	KUNIT_EXPECT_EQ(test, ctx->wakes, 0U);
	colo_lock_release(&ctx->locks, &a);
	KUNIT_EXPECT_PTR_EQ(test, bio_list_pop(&ctx->woken), parked);
	KUNIT_EXPECT_EQ(test, c.hold, COLO_HOLD_SHARED);
	colo_lock_release(&ctx->locks, &c);
}

/*
 * Ranges (granules of 8 chunks): a shared range excludes an exclusive hold
 * of any chunk inside it and of none outside; overlapping shared ranges
 * share.
 */
static void colo_lock_range_test(struct kunit *test)
{
	struct lock_ctx *ctx = new_locks(test, 4, 3);
	struct colo_lock_holder r = {}, r2 = {}, w = {};

	KUNIT_EXPECT_TRUE(test, colo_lock_same_granule(&ctx->locks, 8, 15));
	KUNIT_EXPECT_FALSE(test, colo_lock_same_granule(&ctx->locks, 7, 8));
	KUNIT_EXPECT_FALSE(test, colo_lock_same_granule(&ctx->locks, 15, 16));

	KUNIT_EXPECT_TRUE(test, colo_lock_try_range(&ctx->locks, &r, 9, 12,
						    COLO_HOLD_SHARED, NULL));
	KUNIT_EXPECT_FALSE(test, colo_lock_try(&ctx->locks, &w, 9, COLO_HOLD_EXCL, NULL));
	KUNIT_EXPECT_FALSE(test, colo_lock_try(&ctx->locks, &w, 12, COLO_HOLD_EXCL, NULL));
	KUNIT_EXPECT_TRUE(test, colo_lock_busy(&ctx->locks, NULL, 11, NULL));
	KUNIT_EXPECT_FALSE(test, colo_lock_busy(&ctx->locks, NULL, 8, NULL));
	KUNIT_EXPECT_FALSE(test, colo_lock_busy(&ctx->locks, NULL, 13, NULL));
	KUNIT_EXPECT_TRUE(test, colo_lock_try_range(&ctx->locks, &r2, 12, 15,
						    COLO_HOLD_SHARED, NULL));
	colo_lock_release(&ctx->locks, &r2);

	KUNIT_EXPECT_TRUE(test, colo_lock_try(&ctx->locks, &w, 13, COLO_HOLD_EXCL, NULL));
	KUNIT_EXPECT_FALSE(test, colo_lock_try_range(&ctx->locks, &r2, 8, 15,
						     COLO_HOLD_SHARED, NULL));
	colo_lock_release(&ctx->locks, &w);
	KUNIT_EXPECT_TRUE(test, colo_lock_try(&ctx->locks, &w, 8, COLO_HOLD_EXCL, NULL));
	colo_lock_release(&ctx->locks, &w);
	colo_lock_release(&ctx->locks, &r);
	KUNIT_EXPECT_TRUE(test, colo_lock_try(&ctx->locks, &w, 10, COLO_HOLD_EXCL, NULL));
	colo_lock_release(&ctx->locks, &w);
}

/*
 * A background copy grows its range (granules of 4 chunks): it takes a
 * free chunk up to the end of its granule, not beyond, and not a chunk
 * another holds (shared or exclusive); shared ranges grow over shared
 * holders.
 */
static void colo_lock_extend_test(struct kunit *test)
{
	struct lock_ctx *ctx = new_locks(test, 4, 2);
	struct colo_lock_holder j = {}, r = {}, o = {};

	KUNIT_EXPECT_TRUE(test, colo_lock_try(&ctx->locks, &j, 4, COLO_HOLD_EXCL, NULL));
	KUNIT_EXPECT_TRUE(test, colo_lock_extend(&ctx->locks, &j));
	KUNIT_EXPECT_TRUE(test, colo_lock_extend(&ctx->locks, &j));
	KUNIT_EXPECT_TRUE(test, colo_lock_extend(&ctx->locks, &j));
	KUNIT_EXPECT_EQ(test, j.last, 7ULL);
	/* Chunk 8 is in the next granule. */
	KUNIT_EXPECT_FALSE(test, colo_lock_extend(&ctx->locks, &j));
	KUNIT_EXPECT_EQ(test, j.last, 7ULL);
	/* The whole range is held, the chunk after it is free. */
	KUNIT_EXPECT_FALSE(test, colo_lock_try(&ctx->locks, &o, 6, COLO_HOLD_SHARED, NULL));
	KUNIT_EXPECT_TRUE(test, colo_lock_try(&ctx->locks, &o, 8, COLO_HOLD_EXCL, NULL));
	colo_lock_release(&ctx->locks, &o);
	colo_lock_release(&ctx->locks, &j);
	KUNIT_EXPECT_FALSE(test, colo_lock_busy(&ctx->locks, NULL, 6, NULL));

	/* A reader of chunk 2 stops a copy from 0 at 1, until it is gone. */
	KUNIT_EXPECT_TRUE(test, colo_lock_try(&ctx->locks, &r, 2, COLO_HOLD_SHARED, NULL));
	KUNIT_EXPECT_TRUE(test, colo_lock_try(&ctx->locks, &j, 0, COLO_HOLD_EXCL, NULL));
	KUNIT_EXPECT_TRUE(test, colo_lock_extend(&ctx->locks, &j));
	KUNIT_EXPECT_FALSE(test, colo_lock_extend(&ctx->locks, &j));
	KUNIT_EXPECT_EQ(test, j.last, 1ULL);
	colo_lock_release(&ctx->locks, &r);
	KUNIT_EXPECT_TRUE(test, colo_lock_extend(&ctx->locks, &j));
	KUNIT_EXPECT_EQ(test, j.last, 2ULL);
	colo_lock_release(&ctx->locks, &j);

	KUNIT_EXPECT_TRUE(test, colo_lock_try(&ctx->locks, &r, 1, COLO_HOLD_SHARED, NULL));
	KUNIT_EXPECT_TRUE(test, colo_lock_try(&ctx->locks, &o, 0, COLO_HOLD_SHARED, NULL));
	KUNIT_EXPECT_TRUE(test, colo_lock_extend(&ctx->locks, &o));
	colo_lock_release(&ctx->locks, &o);
	colo_lock_release(&ctx->locks, &r);
	KUNIT_EXPECT_EQ(test, ctx->wakes, 0U);
}

/*
 * A free chunk that a waiter wants is not taken (the waiter is not
 * overtaken); a chunk given back goes to the waiter it blocked, and only
 * that chunk.
 */
static void colo_lock_shrink_test(struct kunit *test)
{
	struct lock_ctx *ctx = new_locks(test, 4, 2);
	struct colo_lock_holder j = {}, o = {}, w = {}, s = {};
	struct bio *b1 = fake_bio(test);

	/* o holds 3; w wants 2-3 and waits, though 2 is free. */
	KUNIT_EXPECT_TRUE(test, colo_lock_try(&ctx->locks, &o, 3, COLO_HOLD_EXCL, NULL));
	KUNIT_EXPECT_FALSE(test, colo_lock_try_range(&ctx->locks, &w, 2, 3,
						     COLO_HOLD_SHARED, b1));
	KUNIT_EXPECT_TRUE(test, colo_lock_try(&ctx->locks, &j, 0, COLO_HOLD_EXCL, NULL));
	KUNIT_EXPECT_TRUE(test, colo_lock_extend(&ctx->locks, &j));
	KUNIT_EXPECT_FALSE(test, colo_lock_extend(&ctx->locks, &j));
	KUNIT_EXPECT_EQ(test, j.last, 1ULL);
	colo_lock_release(&ctx->locks, &o);
	KUNIT_EXPECT_PTR_EQ(test, bio_list_pop(&ctx->woken), b1);
	KUNIT_EXPECT_EQ(test, w.hold, COLO_HOLD_SHARED);
	colo_lock_release(&ctx->locks, &w);
	colo_lock_release(&ctx->locks, &j);

	/* j holds 0-2; s waits for 2 and w for 1: shrinking frees 2 only. */
	grants = 0;
	KUNIT_EXPECT_TRUE(test, colo_lock_try(&ctx->locks, &j, 0, COLO_HOLD_EXCL, NULL));
	KUNIT_EXPECT_TRUE(test, colo_lock_extend(&ctx->locks, &j));
	KUNIT_EXPECT_TRUE(test, colo_lock_extend(&ctx->locks, &j));
	KUNIT_EXPECT_FALSE(test, colo_lock_wait(&ctx->locks, &s, 2, COLO_HOLD_EXCL, count_grant));
	KUNIT_EXPECT_FALSE(test, colo_lock_try(&ctx->locks, &w, 1, COLO_HOLD_SHARED, b1));
	colo_lock_shrink(&ctx->locks, &j);
	KUNIT_EXPECT_EQ(test, j.last, 1ULL);
	KUNIT_EXPECT_EQ(test, grants, 1U);
	KUNIT_EXPECT_TRUE(test, colo_lock_held(&ctx->locks, &s));
	KUNIT_EXPECT_TRUE(test, bio_list_empty(&ctx->woken));
	colo_lock_release(&ctx->locks, &j);
	KUNIT_EXPECT_PTR_EQ(test, bio_list_pop(&ctx->woken), b1);
	colo_lock_release(&ctx->locks, &w);
	colo_lock_release(&ctx->locks, &s);
	KUNIT_EXPECT_FALSE(test, colo_lock_busy(&ctx->locks, NULL, 1, NULL));
}

/*
 * A moved hold stays held: the waiter it blocks is not served by the move,
 * only by the release of the holder it moved to; the old holder holds
 * nothing.
 */
static void colo_lock_move_test(struct kunit *test)
{
	struct lock_ctx *ctx = new_locks(test, 4, 2);
	struct colo_lock_holder vm = {}, bg = {}, x = {}, r = {};
	struct bio *b1 = fake_bio(test);

	KUNIT_EXPECT_TRUE(test, colo_lock_try_range(&ctx->locks, &vm, 1, 2,
						    COLO_HOLD_SHARED, NULL));
	KUNIT_EXPECT_FALSE(test, colo_lock_try(&ctx->locks, &x, 2, COLO_HOLD_EXCL, b1));
	colo_lock_move(&ctx->locks, &vm, &bg);
	KUNIT_EXPECT_EQ(test, vm.hold, COLO_HOLD_NONE);
	KUNIT_EXPECT_EQ(test, bg.hold, COLO_HOLD_SHARED);
	KUNIT_EXPECT_EQ(test, bg.chunk, 1ULL);
	KUNIT_EXPECT_EQ(test, bg.last, 2ULL);
	KUNIT_EXPECT_TRUE(test, bio_list_empty(&ctx->woken));
	KUNIT_EXPECT_TRUE(test, colo_lock_busy(&ctx->locks, NULL, 1, NULL));
	/* A shared request behind the waiting exclusive one waits too. */
	KUNIT_EXPECT_FALSE(test, colo_lock_try(&ctx->locks, &r, 2, COLO_HOLD_SHARED, NULL));
	colo_lock_release(&ctx->locks, &bg);
	KUNIT_EXPECT_PTR_EQ(test, bio_list_pop(&ctx->woken), b1);
	KUNIT_EXPECT_EQ(test, x.hold, COLO_HOLD_EXCL);
	colo_lock_release(&ctx->locks, &x);
	KUNIT_EXPECT_FALSE(test, colo_lock_busy(&ctx->locks, NULL, 1, NULL));
}

/*
 * Counted reads: no holder, but an exclusive request waits for them to
 * drain, and they back off while one is there, in every granule of its
 * bucket (two buckets here).
 */
static void colo_lock_read_test(struct kunit *test)
{
	struct lock_ctx *ctx = new_locks(test, 1, 0);
	struct colo_lock_holder w = {}, r = {}, x = {};
	struct bio *parked = fake_bio(test), *busy = fake_bio(test);
	u64 other = 0, same = 0, c;

	/* A chunk in the other bucket, and another one in 5's. */
	for (c = 6; c < 64; c++) {
		if (hash_64(c, 1) != hash_64(5, 1))
			other = other ?: c;
		else
			same = same ?: c;
	}
	KUNIT_ASSERT_NE(test, other, 0ULL);
	KUNIT_ASSERT_NE(test, same, 0ULL);

	/* Counted reads share with each other and with shared holds. */
	KUNIT_EXPECT_TRUE(test, colo_lock_try(&ctx->locks, &r, 5, COLO_HOLD_SHARED, NULL));
	KUNIT_EXPECT_TRUE(test, colo_lock_read(&ctx->locks, 5));
	KUNIT_EXPECT_TRUE(test, colo_lock_read(&ctx->locks, 5));
	colo_lock_release(&ctx->locks, &r);

	/* An exclusive try fails without changing anything... */
	KUNIT_EXPECT_FALSE(test, colo_lock_try(&ctx->locks, &w, 5, COLO_HOLD_EXCL, NULL));
	KUNIT_EXPECT_EQ(test, w.hold, COLO_HOLD_NONE);
	KUNIT_EXPECT_TRUE(test, colo_lock_read(&ctx->locks, 5));
	colo_lock_read_end(&ctx->locks, 5);
	/* ...and a parked one waits for the last counted read. */
	KUNIT_EXPECT_FALSE(test, colo_lock_try(&ctx->locks, &w, 5, COLO_HOLD_EXCL, parked));
	/* No new counted read passes it, in any granule of its bucket. */
	KUNIT_EXPECT_FALSE(test, colo_lock_read(&ctx->locks, 5));
	KUNIT_EXPECT_FALSE(test, colo_lock_read(&ctx->locks, same));
	/* Another bucket is not concerned. */
	KUNIT_EXPECT_TRUE(test, colo_lock_read(&ctx->locks, other));
	colo_lock_read_end(&ctx->locks, other);
	/* A shared hold of another chunk is, as ever, granted. */
	KUNIT_EXPECT_TRUE(test, colo_lock_try(&ctx->locks, &x, 7, COLO_HOLD_SHARED, NULL));
	colo_lock_release(&ctx->locks, &x);

	colo_lock_read_end(&ctx->locks, 5);
	KUNIT_EXPECT_EQ(test, ctx->wakes, 0U);
	KUNIT_EXPECT_EQ(test, w.hold, COLO_HOLD_NONE);
	colo_lock_read_end(&ctx->locks, 5);
	KUNIT_EXPECT_EQ(test, ctx->wakes, 1U);
	KUNIT_EXPECT_PTR_EQ(test, bio_list_pop(&ctx->woken), parked);
	KUNIT_EXPECT_EQ(test, w.hold, COLO_HOLD_EXCL);
	KUNIT_EXPECT_FALSE(test, colo_lock_read(&ctx->locks, 5));
	colo_lock_release(&ctx->locks, &w);
	KUNIT_EXPECT_TRUE(test, colo_lock_read(&ctx->locks, 5));

	/* colo_lock_busy() waits for counted reads too. */
	KUNIT_EXPECT_TRUE(test, colo_lock_busy(&ctx->locks, NULL, 5, NULL));
	KUNIT_EXPECT_TRUE(test, colo_lock_busy(&ctx->locks, &x, 5, busy));
	KUNIT_EXPECT_FALSE(test, colo_lock_read(&ctx->locks, 5));
	colo_lock_read_end(&ctx->locks, 5);
	KUNIT_EXPECT_EQ(test, ctx->wakes, 2U);
	KUNIT_EXPECT_PTR_EQ(test, bio_list_pop(&ctx->woken), busy);
	KUNIT_EXPECT_EQ(test, x.hold, COLO_HOLD_NONE);

	/* A cancelled wait and a background holder leave no blocker. */
	KUNIT_EXPECT_TRUE(test, colo_lock_read(&ctx->locks, 5));
	KUNIT_EXPECT_FALSE(test, colo_lock_wait(&ctx->locks, &w, 5, COLO_HOLD_EXCL, count_grant));
	colo_lock_cancel(&ctx->locks, &w);
	KUNIT_EXPECT_TRUE(test, colo_lock_read(&ctx->locks, 5));
	colo_lock_read_end(&ctx->locks, 5);
	colo_lock_read_end(&ctx->locks, 5);
	KUNIT_EXPECT_TRUE(test, colo_lock_wait(&ctx->locks, &w, 5, COLO_HOLD_EXCL, count_grant));
	colo_lock_cancel(&ctx->locks, &w);
	KUNIT_EXPECT_TRUE(test, colo_lock_read(&ctx->locks, 5));
	colo_lock_read_end(&ctx->locks, 5);
	KUNIT_EXPECT_FALSE(test, colo_lock_busy(&ctx->locks, NULL, 5, NULL));
}

static struct kunit_case colo_lock_test_cases[] = {
	KUNIT_CASE(colo_lock_modes_test),
	KUNIT_CASE(colo_lock_order_test),
	KUNIT_CASE(colo_lock_wait_test),
	KUNIT_CASE(colo_lock_collision_test),
	KUNIT_CASE(colo_lock_range_test),
	KUNIT_CASE(colo_lock_extend_test),
	KUNIT_CASE(colo_lock_shrink_test),
	KUNIT_CASE(colo_lock_move_test),
	KUNIT_CASE(colo_lock_read_test),
	{}
};

static struct kunit_suite colo_lock_suite = {
	.name = "dm-colo-lock",
	.exit = lock_test_exit,
	.test_cases = colo_lock_test_cases,
};

/* --- dm-colo-slots -------------------------------------------------------- */

static void slots_test_exit(struct kunit *test)
{
	if (test->priv)
		colo_slots_destroy(test->priv);
}

static struct colo_slots *new_slots(struct kunit *test, u64 nr)
{
	struct colo_slots *s = kunit_kzalloc(test, sizeof(*s), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, s);
	KUNIT_ASSERT_EQ(test, colo_slots_init(s, nr), 0);
	test->priv = s;
	return s;
}

/* Slots come in order; a full buffer says -ENOSPC and changes nothing. */
static void colo_slots_fill_test(struct kunit *test)
{
	struct colo_slots *s = new_slots(test, 130);
	u64 slot, i;

	for (i = 0; i < 130; i++) {
		KUNIT_ASSERT_EQ(test, colo_slots_get(s, &slot), 0);
		KUNIT_EXPECT_EQ(test, slot, i);
	}
	KUNIT_EXPECT_EQ(test, s->nr_used, 130ULL);
	slot = 7777;
	KUNIT_EXPECT_EQ(test, colo_slots_get(s, &slot), -ENOSPC);
	KUNIT_EXPECT_EQ(test, slot, 7777ULL);
	KUNIT_EXPECT_EQ(test, s->nr_used, 130ULL);
}

/* A slot given back is found again, after the hint wraps. */
static void colo_slots_reuse_test(struct kunit *test)
{
	struct colo_slots *s = new_slots(test, 64);
	u64 slot, i;

	for (i = 0; i < 64; i++)
		KUNIT_ASSERT_EQ(test, colo_slots_get(s, &slot), 0);
	KUNIT_EXPECT_TRUE(test, colo_slots_put(s, 5));
	KUNIT_EXPECT_TRUE(test, colo_slots_put(s, 63));
	KUNIT_EXPECT_EQ(test, s->nr_used, 62ULL);
	/* The hint is past the end: the search starts again at 0. */
	KUNIT_ASSERT_EQ(test, colo_slots_get(s, &slot), 0);
	KUNIT_EXPECT_EQ(test, slot, 5ULL);
	KUNIT_ASSERT_EQ(test, colo_slots_get(s, &slot), 0);
	KUNIT_EXPECT_EQ(test, slot, 63ULL);
	KUNIT_EXPECT_EQ(test, colo_slots_get(s, &slot), -ENOSPC);
}

/* One slot; no slot at all is refused at init. */
static void colo_slots_edge_test(struct kunit *test)
{
	struct colo_slots *s = new_slots(test, 1), none;
	u64 slot;

	KUNIT_ASSERT_EQ(test, colo_slots_get(s, &slot), 0);
	KUNIT_EXPECT_EQ(test, slot, 0ULL);
	KUNIT_EXPECT_EQ(test, colo_slots_get(s, &slot), -ENOSPC);
	KUNIT_EXPECT_TRUE(test, colo_slots_put(s, 0));
	KUNIT_EXPECT_EQ(test, s->nr_used, 0ULL);
	KUNIT_EXPECT_EQ(test, colo_slots_init(&none, 0), -EINVAL);
	KUNIT_EXPECT_NULL(test, none.used);
}

/* A map read back takes its slots; get then skips them. */
static void colo_slots_take_test(struct kunit *test)
{
	struct colo_slots *s = new_slots(test, 4);
	u64 slot;

	KUNIT_EXPECT_TRUE(test, colo_slots_take(s, 0));
	KUNIT_EXPECT_TRUE(test, colo_slots_take(s, 2));
	KUNIT_EXPECT_FALSE(test, colo_slots_take(s, 2));
	KUNIT_EXPECT_FALSE(test, colo_slots_take(s, 4));
	KUNIT_EXPECT_EQ(test, s->nr_used, 2ULL);
	KUNIT_ASSERT_EQ(test, colo_slots_get(s, &slot), 0);
	KUNIT_EXPECT_EQ(test, slot, 1ULL);
	KUNIT_ASSERT_EQ(test, colo_slots_get(s, &slot), 0);
	KUNIT_EXPECT_EQ(test, slot, 3ULL);
	KUNIT_EXPECT_EQ(test, colo_slots_get(s, &slot), -ENOSPC);
}

static struct kunit_case colo_slots_test_cases[] = {
	KUNIT_CASE(colo_slots_fill_test),
	KUNIT_CASE(colo_slots_take_test),
	KUNIT_CASE(colo_slots_reuse_test),
	KUNIT_CASE(colo_slots_edge_test),
	{}
};

static struct kunit_suite colo_slots_suite = {
	.name = "dm-colo-slots",
	.exit = slots_test_exit,
	.test_cases = colo_slots_test_cases,
};

kunit_test_suites(&colo_bitmap_suite, &colo_lock_suite, &colo_slots_suite);
