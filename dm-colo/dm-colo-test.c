// SPDX-License-Identifier: GPL-2.0
#include <kunit/test.h>

#include "dm-colo-parse.h"

static void colo_placeholder_test(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, colo_sector_to_chunk(8, 3), 1);
}

static struct kunit_case colo_chunk_cases[] = {
	KUNIT_CASE(colo_placeholder_test),
	{}
};

static struct kunit_suite colo_chunk_suite = {
	.name = "dm-colo-chunk",
	.test_cases = colo_chunk_cases,
};

kunit_test_suites(&colo_chunk_suite);
