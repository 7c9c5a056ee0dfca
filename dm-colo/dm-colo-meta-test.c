// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests of the metadata format (dm-colo-format.h and
 * dm-colo-meta-format.c), of a persistent fleece's buffer layout
 * (dm-colo-fleece-format.h) and of "dirty add" ranges: block sealing and
 * checks, the choice between a block's two copies, the superblock's
 * geometry checks, the size formula and the region arithmetic.
 */
#include <kunit/test.h>
#include <linux/errno.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "dm-colo-fleece-format.h"
#include "dm-colo-meta.h"
#include "dm-colo-parse.h"

static void *colo_block(struct kunit *test)
{
	void *b = kunit_kzalloc(test, COLO_META_BLOCK_SIZE, GFP_KERNEL);

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, b);
	return b;
}

static void colo_meta_slot_test(struct kunit *test)
{
	u8 *b = colo_block(test);

	KUNIT_EXPECT_EQ(test, colo_meta_check_slot(b, COLO_META_REGIONS, 1, 7),
			-ENODATA);
	b[COLO_META_HEADER_SIZE + 5] = 0x42;
	colo_meta_seal(b, COLO_META_REGIONS, 1, 7, 3, 0);
	KUNIT_EXPECT_EQ(test, colo_meta_check_slot(b, COLO_META_REGIONS, 1, 7),
			0);
	/* Read from the wrong place, as another kind, of another device. */
	KUNIT_EXPECT_EQ(test, colo_meta_check_slot(b, COLO_META_REGIONS, 2, 7),
			-EILSEQ);
	KUNIT_EXPECT_EQ(test, colo_meta_check_slot(b, COLO_META_ACTIVE, 1, 7),
			-EILSEQ);
	KUNIT_EXPECT_EQ(test, colo_meta_check_slot(b, COLO_META_REGIONS, 1, 8),
			-EILSEQ);
	/* One bit flipped anywhere after the checksum. */
	b[COLO_META_BLOCK_SIZE - 1] ^= 1;
	KUNIT_EXPECT_EQ(test, colo_meta_check_slot(b, COLO_META_REGIONS, 1, 7),
			-EILSEQ);
	b[COLO_META_BLOCK_SIZE - 1] ^= 1;
	b[4] ^= 0x80;
	KUNIT_EXPECT_EQ(test, colo_meta_check_slot(b, COLO_META_REGIONS, 1, 7),
			-EILSEQ);
}

/*
 * The checksum is crc32c (Castagnoli, reflected, initial value ~0, no
 * final inversion) of bytes 4..4095, as a userspace reader computes it:
 * 0x58cda791 for 4092 zero bytes, computed outside the kernel.
 */
static void colo_meta_csum_test(struct kunit *test)
{
	u8 *b = colo_block(test);

	KUNIT_EXPECT_EQ(test, colo_meta_csum(b), 0x58cda791U);
	/* The checksum field itself is not covered. */
	b[0] = 0xff;
	KUNIT_EXPECT_EQ(test, colo_meta_csum(b), 0x58cda791U);
	b[4] = 1;
	KUNIT_EXPECT_NE(test, colo_meta_csum(b), 0x58cda791U);
}

static void colo_meta_pick_test(struct kunit *test)
{
	u8 *a = colo_block(test), *b = colo_block(test);

	colo_meta_seal(a, COLO_META_SUPER, 0, 0, 4, 0);
	colo_meta_seal(b, COLO_META_SUPER, 0, 0, 5, 0);
	KUNIT_EXPECT_EQ(test, colo_meta_pick(a, 0, b, 0), 1);
	KUNIT_EXPECT_EQ(test, colo_meta_pick(b, 0, a, 0), 0);
	/* The newer copy torn: the older one. */
	KUNIT_EXPECT_EQ(test, colo_meta_pick(a, 0, b, -EILSEQ), 0);
	KUNIT_EXPECT_EQ(test, colo_meta_pick(a, -ENODATA, b, 0), 1);
	KUNIT_EXPECT_EQ(test, colo_meta_pick(a, -ENODATA, b, -ENODATA),
			-ENODATA);
	KUNIT_EXPECT_EQ(test, colo_meta_pick(a, -ENODATA, b, -EILSEQ),
			-EILSEQ);
	KUNIT_EXPECT_EQ(test, colo_meta_pick(a, -EILSEQ, b, -EILSEQ), -EILSEQ);
}

/* The README's size formula: 2 * (1 + R + 2M) blocks. */
static void colo_meta_layout_test(struct kunit *test)
{
	struct colo_meta_layout l;

	/* 1 GiB, 64 KiB chunks, 4 MiB regions. */
	colo_meta_layout(&l, 1ULL << 21, 7, 13);
	KUNIT_EXPECT_EQ(test, l.nr_chunks, 16384ULL);
	KUNIT_EXPECT_EQ(test, l.nr_regions, 256ULL);
	KUNIT_EXPECT_EQ(test, l.region_blocks, 1ULL);
	KUNIT_EXPECT_EQ(test, l.map_blocks, 1ULL);
	KUNIT_EXPECT_EQ(test, l.nr_blocks, 8ULL);
	KUNIT_EXPECT_EQ(test, l.active_start, 2ULL);
	KUNIT_EXPECT_EQ(test, l.hidden_start, 3ULL);
	/* 1 TiB, 64 KiB chunks: 2^24 chunks, 521 blocks a map. */
	colo_meta_layout(&l, 1ULL << 31, 7, 13);
	KUNIT_EXPECT_EQ(test, l.map_blocks, 521ULL);
	KUNIT_EXPECT_EQ(test, l.region_blocks, 9ULL);
	KUNIT_EXPECT_EQ(test, l.nr_blocks, 2ULL * (1 + 9 + 2 * 521));
	/* A length that is not a whole number of chunks or regions. */
	colo_meta_layout(&l, 8193, 3, 13);
	KUNIT_EXPECT_EQ(test, l.nr_chunks, 1025ULL);
	KUNIT_EXPECT_EQ(test, l.nr_regions, 2ULL);
	KUNIT_EXPECT_EQ(test, colo_meta_slot_sector(3, 1), 7ULL * 8);
}

static void colo_meta_region_test(struct kunit *test)
{
	u64 first, end;

	/* 4 KiB chunks, 32 KiB regions, 100 chunks. */
	colo_meta_region_chunks(0, 6, 3, 100, &first, &end);
	KUNIT_EXPECT_EQ(test, first, 0ULL);
	KUNIT_EXPECT_EQ(test, end, 8ULL);
	colo_meta_region_chunks(12, 6, 3, 100, &first, &end);
	KUNIT_EXPECT_EQ(test, first, 96ULL);
	KUNIT_EXPECT_EQ(test, end, 100ULL);
	/* Region and chunk of one size. */
	colo_meta_region_chunks(5, 3, 3, 100, &first, &end);
	KUNIT_EXPECT_EQ(test, first, 5ULL);
	KUNIT_EXPECT_EQ(test, end, 6ULL);
}

static struct colo_meta_super *colo_super(struct kunit *test,
					  struct colo_meta_layout *l)
{
	struct colo_meta_super *sb = colo_block(test);

	colo_meta_layout(l, 1ULL << 21, 7, 13);
	sb->magic = cpu_to_le64(COLO_META_MAGIC);
	sb->version = cpu_to_le32(COLO_META_VERSION);
	sb->block_size = cpu_to_le32(COLO_META_BLOCK_SIZE);
	sb->dev_sectors = cpu_to_le64(1ULL << 21);
	sb->chunk_sectors = cpu_to_le32(128);
	sb->region_sectors = cpu_to_le32(8192);
	sb->nr_blocks = cpu_to_le64(l->nr_blocks);
	return sb;
}

static void colo_meta_super_test(struct kunit *test)
{
	struct colo_meta_layout l;
	struct colo_meta_super *sb = colo_super(test, &l);
	char *error = NULL;

	KUNIT_EXPECT_EQ(test, colo_meta_check_super(sb, &l, 1ULL << 21, 7, 13,
						    8, &error), 0);
	KUNIT_EXPECT_EQ(test, colo_meta_check_super(sb, &l, 1ULL << 21, 7, 13,
						    7, &error), -EINVAL);
	KUNIT_EXPECT_STREQ(test, error, "Metadata device is too small");
	KUNIT_EXPECT_EQ(test, colo_meta_check_super(sb, &l, 1ULL << 21, 6, 13,
						    8, &error), -EINVAL);
	KUNIT_EXPECT_NOT_NULL(test, strstr(error, "geometry"));
	KUNIT_EXPECT_EQ(test, colo_meta_check_super(sb, &l, 1ULL << 21, 7, 14,
						    8, &error), -EINVAL);
	KUNIT_EXPECT_EQ(test, colo_meta_check_super(sb, &l, 1ULL << 20, 7, 13,
						    8, &error), -EINVAL);
	sb->mode = cpu_to_le32(2);
	KUNIT_EXPECT_EQ(test, colo_meta_check_super(sb, &l, 1ULL << 21, 7, 13,
						    8, &error), -EINVAL);
	KUNIT_EXPECT_NOT_NULL(test, strstr(error, "inconsistent"));
	sb->mode = 0;
	sb->version = cpu_to_le32(2);
	KUNIT_EXPECT_EQ(test, colo_meta_check_super(sb, &l, 1ULL << 21, 7, 13,
						    8, &error), -EINVAL);
	KUNIT_EXPECT_NOT_NULL(test, strstr(error, "version"));
	sb->magic = 0;
	KUNIT_EXPECT_EQ(test, colo_meta_check_super(sb, &l, 1ULL << 21, 7, 13,
						    8, &error), -EINVAL);
	KUNIT_EXPECT_NOT_NULL(test, strstr(error, "another format"));
}

static void colo_range_test(struct kunit *test)
{
	u64 first, last;

	KUNIT_EXPECT_EQ(test, colo_parse_range("3-9", 10, &first, &last), 0);
	KUNIT_EXPECT_EQ(test, first, 3ULL);
	KUNIT_EXPECT_EQ(test, last, 9ULL);
	KUNIT_EXPECT_EQ(test, colo_parse_range("7", 10, &first, &last), 0);
	KUNIT_EXPECT_EQ(test, first, 7ULL);
	KUNIT_EXPECT_EQ(test, last, 7ULL);
	KUNIT_EXPECT_EQ(test, colo_parse_range("3-10", 10, &first, &last),
			-EINVAL);
	KUNIT_EXPECT_EQ(test, colo_parse_range("10", 10, &first, &last),
			-EINVAL);
	KUNIT_EXPECT_EQ(test, colo_parse_range("5-3", 10, &first, &last),
			-EINVAL);
	KUNIT_EXPECT_EQ(test, colo_parse_range("-3", 10, &first, &last),
			-EINVAL);
	KUNIT_EXPECT_EQ(test, colo_parse_range("3-", 10, &first, &last),
			-EINVAL);
	KUNIT_EXPECT_EQ(test, colo_parse_range("x", 10, &first, &last),
			-EINVAL);
	KUNIT_EXPECT_EQ(test, colo_parse_range("1-2-3", 10, &first, &last),
			-EINVAL);
	KUNIT_EXPECT_EQ(test,
			colo_parse_range("1-99999999999999999999999999999999999999999999999",
					 10, &first, &last), -EINVAL);
}

/*
 * A persistent fleece's buffer layout: the map before the first chunk
 * border, as many slots as fit after it, at most one per chunk.
 */
static void colo_fleece_layout_test(struct kunit *test)
{
	struct colo_fleece_layout l;

	/* 32 MiB, 4 KiB chunks, a 64 MiB buffer: a slot per chunk. */
	colo_fleece_layout(&l, 131072, 8192, 3);
	KUNIT_EXPECT_EQ(test, l.nr_slots, 8192ULL);
	KUNIT_EXPECT_EQ(test, l.table_blocks, 16ULL);
	KUNIT_EXPECT_EQ(test, l.gone_blocks, 1ULL);
	KUNIT_EXPECT_EQ(test, l.table_start, 8ULL);
	KUNIT_EXPECT_EQ(test, l.gone_start, 136ULL);
	KUNIT_EXPECT_EQ(test, l.data_start, 144ULL);
	/* The same buffer as the device: the map takes 18 chunks' room. */
	colo_fleece_layout(&l, 65536, 8192, 3);
	KUNIT_EXPECT_EQ(test, l.nr_slots, 8174ULL);
	KUNIT_EXPECT_EQ(test, l.data_start, 144ULL);
	KUNIT_EXPECT_LE(test, l.data_start + (l.nr_slots << 3), 65536ULL);
	/* 64 KiB chunks: the map rounds up to one chunk. */
	colo_fleece_layout(&l, 16384, 512, 7);
	KUNIT_EXPECT_EQ(test, l.data_start, 128ULL);
	KUNIT_EXPECT_EQ(test, l.nr_slots, 127ULL);
	/* 1-sector chunks: the largest count that fits, exactly. */
	colo_fleece_layout(&l, 10000, 1000000, 0);
	KUNIT_EXPECT_LE(test, l.data_start + l.nr_slots, 10000ULL);
	colo_fleece_place(&l, 1000000, l.nr_slots + 1, 0);
	KUNIT_EXPECT_GT(test, l.data_start + l.nr_slots, 10000ULL);
	/* Too small for the map and a chunk: no slot. */
	colo_fleece_layout(&l, 16, 100, 3);
	KUNIT_EXPECT_EQ(test, l.nr_slots, 0ULL);
}

static struct kunit_case colo_meta_cases[] = {
	KUNIT_CASE(colo_meta_slot_test),
	KUNIT_CASE(colo_meta_csum_test),
	KUNIT_CASE(colo_meta_pick_test),
	KUNIT_CASE(colo_meta_layout_test),
	KUNIT_CASE(colo_meta_region_test),
	KUNIT_CASE(colo_meta_super_test),
	KUNIT_CASE(colo_range_test),
	KUNIT_CASE(colo_fleece_layout_test),
	{}
};

static struct kunit_suite colo_meta_suite = {
	.name = "dm-colo-meta",
	.test_cases = colo_meta_cases,
};

kunit_test_suites(&colo_meta_suite);
