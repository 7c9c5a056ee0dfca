// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests of the rate limit's arithmetic (dm-colo-rate.c): given the
 * time, the guest's bio count and the bytes a pass moved, the delay it
 * computes and the limit auto chooses. Time is simulated: no sleep.
 */
#include <kunit/test.h>
#include <linux/jiffies.h>
#include <linux/sizes.h>

#include "dm-colo-rate.h"

/* A start near a jiffies wrap, so that the time_after() tests matter. */
#define T0	((unsigned long)-5 * HZ)

/* colo_rate_start() without a per-cpu count: time T0, guest at @ios. */
static void rate_init(struct colo_rate *r, unsigned int kib,
		      unsigned int min_kib, unsigned long ios)
{
	memset(r, 0, sizeof(*r));
	r->kib = min_kib ? min_kib : kib;
	r->fixed_kib = kib;
	r->min_kib = min_kib;
	r->window = T0;
	r->guest_at = T0;
	r->guest_ios = ios;
	r->done_at = T0;
}

static void colo_rate_per_sec_test(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, colo_rate_per_sec(0, HZ), 0U);
	KUNIT_EXPECT_EQ(test, colo_rate_per_sec(100, HZ), 100U);
	KUNIT_EXPECT_EQ(test, colo_rate_per_sec(100, HZ / 2), 200U);
	KUNIT_EXPECT_EQ(test, colo_rate_per_sec(300, 3 * HZ), 100U);
	/* No time passed: counted as one jiffy. */
	KUNIT_EXPECT_EQ(test, colo_rate_per_sec(5, 0), 5U * HZ);
	KUNIT_EXPECT_EQ(test, colo_rate_per_sec(U64_MAX, 1), UINT_MAX);
	KUNIT_EXPECT_EQ(test, colo_rate_per_sec((u64)UINT_MAX * 2, HZ),
			UINT_MAX);
}

static void colo_rate_auto_limit_test(struct kunit *test)
{
	unsigned long q = HZ / 4;

	/* An idle guest: no limit. */
	KUNIT_EXPECT_EQ(test, colo_rate_auto_limit(1024, 0, q), 0U);
	KUNIT_EXPECT_EQ(test, colo_rate_auto_limit(1024, 1, HZ), 0U);
	KUNIT_EXPECT_EQ(test,
			colo_rate_auto_limit(1024, COLO_RATE_IDLE_IOPS - 1,
					     HZ), 0U);
	/* A busy one: the floor. */
	KUNIT_EXPECT_EQ(test,
			colo_rate_auto_limit(1024, COLO_RATE_IDLE_IOPS, HZ),
			1024U);
	KUNIT_EXPECT_EQ(test, colo_rate_auto_limit(1024, 100000, q), 1024U);
	/* The same count over a longer time is a lighter load. */
	KUNIT_EXPECT_EQ(test,
			colo_rate_auto_limit(77, COLO_RATE_IDLE_IOPS, 2 * HZ),
			0U);
}

/*
 * Run a pass for @secs simulated seconds from T0: each step moves @step
 * bytes when the limit lets it, else the time goes on by the delay and
 * @lag jiffies more (the work item wakes late). The guest sends @iops bios
 * a second. Returns the bytes moved.
 */
static u64 simulate_lag(struct kunit *test, struct colo_rate *r,
			unsigned int secs, u64 step, unsigned int iops,
			unsigned long lag)
{
	unsigned long now = T0, end = T0 + secs * HZ, d;
	u64 moved = 0;

	while (time_before(now, end)) {
		d = colo_rate_delay_at(r, now,
				       (now - T0) / HZ * iops +
				       (now - T0) % HZ * iops / HZ, moved);
		KUNIT_ASSERT_LE(test, d, (unsigned long)COLO_RATE_WINDOW);
		if (d) {
			now += d + lag;
			continue;
		}
		r->bytes += step;
		moved += step;
		/* At full speed, a step a jiffy (a copy takes time). */
		now++;
	}
	return moved;
}

static u64 simulate(struct kunit *test, struct colo_rate *r, unsigned int secs,
		    u64 step, unsigned int iops)
{
	return simulate_lag(test, r, secs, step, iops, 0);
}

/* A fixed rate holds on average whatever the step size. */
static void colo_rate_fixed_test(struct kunit *test)
{
	struct colo_rate r;
	u64 moved;

	rate_init(&r, 1024, 0, 0);
	moved = simulate(test, &r, 10, SZ_256K, 0);
	KUNIT_EXPECT_GE(test, moved, (u64)9 * SZ_1M);
	KUNIT_EXPECT_LE(test, moved, (u64)11 * SZ_1M);
	/* A busy guest changes nothing: the rate is fixed. */
	rate_init(&r, 1024, 0, 0);
	moved = simulate(test, &r, 10, SZ_1M, 1000);
	KUNIT_EXPECT_GE(test, moved, (u64)9 * SZ_1M);
	KUNIT_EXPECT_LE(test, moved, (u64)12 * SZ_1M);
	KUNIT_EXPECT_EQ(test, r.kib, 1024U);
	/* A work item that wakes a fifth of a window late loses nothing. */
	rate_init(&r, 1024, 0, 0);
	moved = simulate_lag(test, &r, 10, SZ_256K, 0,
			     max(COLO_RATE_WINDOW / 5, 1));
	KUNIT_EXPECT_GE(test, moved, (u64)9 * SZ_1M + SZ_512K);
	KUNIT_EXPECT_LE(test, moved, (u64)11 * SZ_1M);
	/* No limit: never a delay. */
	rate_init(&r, 0, 0, 0);
	moved = simulate(test, &r, 1, SZ_1M, 1000);
	KUNIT_EXPECT_EQ(test, moved, (u64)HZ * SZ_1M);
}

/* auto with a busy guest: held to its floor. */
static void colo_rate_auto_busy_test(struct kunit *test)
{
	struct colo_rate r;
	u64 moved;

	rate_init(&r, 0, 2048, 0);
	moved = simulate(test, &r, 10, SZ_1M, 200);
	KUNIT_EXPECT_EQ(test, r.kib, 2048U);
	KUNIT_EXPECT_GE(test, moved, (u64)18 * SZ_1M);
	KUNIT_EXPECT_LE(test, moved, (u64)23 * SZ_1M);
	/* The rate achieved, measured every second. */
	KUNIT_EXPECT_GE(test, r.achieved, 1000U);
	KUNIT_EXPECT_LE(test, r.achieved, 3072U);
}

/* auto with an idle guest: no delay once the first sample saw it idle. */
static void colo_rate_auto_idle_test(struct kunit *test)
{
	struct colo_rate r;
	u64 moved;

	rate_init(&r, 0, 1024, 0);
	moved = simulate(test, &r, 2, SZ_1M, 0);
	KUNIT_EXPECT_EQ(test, r.kib, 0U);
	/* A step every jiffy once the first sample saw the guest idle. */
	KUNIT_EXPECT_GE(test, moved,
			(u64)(2 * HZ - 2 * COLO_RATE_SAMPLE) * SZ_1M);
	/* Far above the floor. */
	KUNIT_EXPECT_GE(test, r.achieved, 40U * 1024);
	/* A few bios now and then leave the guest idle. */
	rate_init(&r, 0, 1024, 0);
	moved = simulate(test, &r, 2, SZ_1M, COLO_RATE_IDLE_IOPS / 2);
	KUNIT_EXPECT_EQ(test, r.kib, 0U);
	KUNIT_EXPECT_GE(test, moved,
			(u64)(2 * HZ - 2 * COLO_RATE_SAMPLE) * SZ_1M);
}

/*
 * The guest becomes busy: the floor at the next sample, without paying
 * off what the pass moved at full speed; idle again: no limit at once,
 * whatever was moved.
 */
static void colo_rate_auto_switch_test(struct kunit *test)
{
	unsigned long now = T0 + COLO_RATE_SAMPLE, d;
	struct colo_rate r;

	rate_init(&r, 0, 1024, 0);
	/* Idle at the first sample. */
	KUNIT_EXPECT_EQ(test, colo_rate_delay_at(&r, now, 0, 0), 0UL);
	KUNIT_EXPECT_EQ(test, r.kib, 0U);
	r.bytes += 100 * SZ_1M;
	KUNIT_EXPECT_EQ(test, colo_rate_delay_at(&r, now + 1, 0, 0), 0UL);
	r.bytes += 100 * SZ_1M;
	/* Busy before the next sample is due: no change yet. */
	KUNIT_EXPECT_EQ(test, colo_rate_delay_at(&r, now + 2, 1000, 0), 0UL);
	KUNIT_EXPECT_EQ(test, r.kib, 0U);
	/* The sample: the floor, and the 100 MiB are forgiven. */
	now += COLO_RATE_SAMPLE;
	KUNIT_EXPECT_EQ(test, colo_rate_delay_at(&r, now, 1000, 0), 0UL);
	KUNIT_EXPECT_EQ(test, r.kib, 1024U);
	r.bytes += SZ_1M;
	d = colo_rate_delay_at(&r, now, 1000, 0);
	KUNIT_EXPECT_EQ(test, d, (unsigned long)COLO_RATE_WINDOW);
	/* Still busy a window later: 1 MiB at 1 MiB/s is still owed. */
	KUNIT_EXPECT_GT(test, colo_rate_delay_at(&r, now + d, 1000, 0), 0UL);
	/* Idle at the next sample: no limit, nothing owed. */
	now += COLO_RATE_SAMPLE;
	KUNIT_EXPECT_EQ(test, colo_rate_delay_at(&r, now, 1000, 0), 0UL);
	KUNIT_EXPECT_EQ(test, r.kib, 0U);
	KUNIT_EXPECT_EQ(test, r.bytes, 0ULL);
}

/*
 * A new limit asked of a running pass (colo_rate_set()) holds from its next
 * step, with nothing owed under the old one.
 */
static void colo_rate_set_test(struct kunit *test)
{
	struct colo_rate r;

	rate_init(&r, 1024, 0, 0);
	r.bytes = 10 * SZ_1M;
	KUNIT_EXPECT_GT(test, colo_rate_delay_at(&r, T0, 0, 0), 0UL);
	/* No limit: at once. */
	colo_rate_set(&r, 0, 0);
	KUNIT_EXPECT_EQ(test, colo_rate_delay_at(&r, T0 + 1, 0, 0), 0UL);
	KUNIT_EXPECT_EQ(test, r.kib, 0U);
	/* A fixed one again: the window starts afresh. */
	colo_rate_set(&r, 4096, 0);
	r.bytes = 0;
	KUNIT_EXPECT_EQ(test, colo_rate_delay_at(&r, T0 + 2, 0, 0), 0UL);
	KUNIT_EXPECT_EQ(test, r.kib, 4096U);
	KUNIT_EXPECT_EQ(test, r.bytes, 0ULL);
	r.bytes += SZ_1M;
	KUNIT_EXPECT_GT(test, colo_rate_delay_at(&r, T0 + 2, 0, 0), 0UL);
	/* auto: from its floor, then free once the guest is seen idle. */
	colo_rate_set(&r, 0, 512);
	KUNIT_EXPECT_EQ(test, colo_rate_delay_at(&r, T0 + 3, 0, 0), 0UL);
	KUNIT_EXPECT_EQ(test, r.kib, 512U);
	KUNIT_EXPECT_EQ(test, r.fixed_kib, 0U);
	KUNIT_EXPECT_EQ(test, r.min_kib, 512U);
	KUNIT_EXPECT_EQ(test,
			colo_rate_delay_at(&r, T0 + COLO_RATE_SAMPLE, 0, 0),
			0UL);
	KUNIT_EXPECT_EQ(test, r.kib, 0U);
	/* Nothing asked since: the limit stays auto's. */
	KUNIT_EXPECT_EQ(test,
			colo_rate_delay_at(&r, T0 + COLO_RATE_SAMPLE + 1, 0, 0),
			0UL);
	KUNIT_EXPECT_EQ(test, r.kib, 0U);
}

/* The rate achieved is what the pass reports done, once a second. */
static void colo_rate_achieved_test(struct kunit *test)
{
	struct colo_rate r;

	rate_init(&r, 0, 0, 0);
	colo_rate_delay_at(&r, T0 + HZ - 1, 0, 5 * SZ_1M);
	KUNIT_EXPECT_EQ(test, r.achieved, 0U);
	colo_rate_delay_at(&r, T0 + HZ, 0, 5 * SZ_1M);
	KUNIT_EXPECT_EQ(test, r.achieved, 5U * 1024);
	colo_rate_delay_at(&r, T0 + 3 * HZ, 0, 7 * SZ_1M);
	KUNIT_EXPECT_EQ(test, r.achieved, 1024U);
	colo_rate_delay_at(&r, T0 + 4 * HZ, 0, 7 * SZ_1M);
	KUNIT_EXPECT_EQ(test, r.achieved, 0U);
}

static struct kunit_case colo_rate_test_cases[] = {
	KUNIT_CASE(colo_rate_per_sec_test),
	KUNIT_CASE(colo_rate_auto_limit_test),
	KUNIT_CASE(colo_rate_fixed_test),
	KUNIT_CASE(colo_rate_auto_busy_test),
	KUNIT_CASE(colo_rate_auto_idle_test),
	KUNIT_CASE(colo_rate_auto_switch_test),
	KUNIT_CASE(colo_rate_set_test),
	KUNIT_CASE(colo_rate_achieved_test),
	{}
};

static struct kunit_suite colo_rate_suite = {
	.name = "dm-colo-rate",
	.test_cases = colo_rate_test_cases,
};

kunit_test_suites(&colo_rate_suite);
