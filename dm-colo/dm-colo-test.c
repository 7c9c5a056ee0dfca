// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests of dm-colo's pure logic: chunk arithmetic and the extents of
 * the copy engine (dm-colo-chunk.h), and the parsing of table lines and
 * messages (dm-colo-parse.h). Built into dm-colo.o with
 * CONFIG_DM_COLO_KUNIT_TEST; the suites run when the module is loaded, or
 * at boot when it is built in (scripts/kunit.sh runs them under UML).
 */
#include <kunit/test.h>
#include <linux/errno.h>
#include <linux/kernel.h>
#include <linux/log2.h>
#include <linux/string.h>

#include "dm-colo-async.h"
#include "dm-colo-chunk.h"
#include "dm-colo-format.h"
#include "dm-colo-parse.h"
#include "dm-colo-rate.h"

/* --- dm-colo-chunk ------------------------------------------------------ */

struct colo_round_trip_case {
	const char *name;
	unsigned int shift;
	sector_t sector;
	u64 chunk;		/* chunk holding @sector */
	sector_t chunk_start;	/* first sector of @chunk */
};

static const struct colo_round_trip_case colo_round_trip_cases[] = {
	{ "sector 0", 3, 0, 0, 0 },
	{ "inside the first chunk", 3, 7, 0, 0 },
	{ "start of the second chunk", 3, 8, 1, 8 },
	{ "1 MiB chunks", 11, 2048 * 5 + 3, 5, 2048 * 5 },
	{ "2^40 chunks of one sector", 0, 1ULL << 40, 1ULL << 40, 1ULL << 40 },
	{ "chunk 2^32 + 1", 3, (1ULL << 35) + 8 + 7, (1ULL << 32) + 1,
	  (1ULL << 35) + 8 },
	{ "chunk 2^33 of 1 MiB", 11, (1ULL << 44) + 2047, 1ULL << 33,
	  1ULL << 44 },
	{ "last sector of 64 bits", 0, ~0ULL, ~0ULL, ~0ULL },
};

static void colo_round_trip_desc(const struct colo_round_trip_case *c,
				 char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(colo_round_trip, colo_round_trip_cases,
		  colo_round_trip_desc);

static void colo_round_trip_test(struct kunit *test)
{
	const struct colo_round_trip_case *c = test->param_value;
	u64 chunk = colo_sector_to_chunk(c->sector, c->shift);
	sector_t start = colo_chunk_to_sector(chunk, c->shift);

	KUNIT_EXPECT_EQ(test, chunk, c->chunk);
	KUNIT_EXPECT_EQ(test, start, c->chunk_start);
	KUNIT_EXPECT_LE(test, start, c->sector);
	KUNIT_EXPECT_EQ(test, colo_sector_to_chunk(start, c->shift), chunk);
}

static void colo_nr_chunks_test(struct kunit *test)
{
	/* exact multiple, partial last chunk, empty device */
	KUNIT_EXPECT_EQ(test, colo_nr_chunks(16, 3), 2ULL);
	KUNIT_EXPECT_EQ(test, colo_nr_chunks(17, 3), 3ULL);
	KUNIT_EXPECT_EQ(test, colo_nr_chunks(23, 3), 3ULL);
	KUNIT_EXPECT_EQ(test, colo_nr_chunks(0, 3), 0ULL);
	KUNIT_EXPECT_EQ(test, colo_nr_chunks(0, 0), 0ULL);
	KUNIT_EXPECT_EQ(test, colo_nr_chunks(1, 11), 1ULL);
	KUNIT_EXPECT_EQ(test, colo_nr_chunks(2048, 11), 1ULL);
	KUNIT_EXPECT_EQ(test, colo_nr_chunks(2049, 11), 2ULL);
	KUNIT_EXPECT_EQ(test, colo_nr_chunks(5, 0), 5ULL);
	/* more than 2^32 chunks */
	KUNIT_EXPECT_EQ(test, colo_nr_chunks((1ULL << 40) + 1, 0),
			(1ULL << 40) + 1);
	KUNIT_EXPECT_EQ(test, colo_nr_chunks(1ULL << 43, 3), 1ULL << 40);
	KUNIT_EXPECT_EQ(test, colo_nr_chunks((1ULL << 43) + 1, 3),
			(1ULL << 40) + 1);
}

static void colo_chunk_len_test(struct kunit *test)
{
	/* 20 sectors in chunks of 8: 8, 8, then a short chunk of 4 */
	KUNIT_EXPECT_EQ(test, colo_chunk_len(0, 20, 3), 8ULL);
	KUNIT_EXPECT_EQ(test, colo_chunk_len(1, 20, 3), 8ULL);
	KUNIT_EXPECT_EQ(test, colo_chunk_len(2, 20, 3), 4ULL);
	KUNIT_EXPECT_EQ(test, colo_chunk_len(3, 20, 3), 0ULL);
	KUNIT_EXPECT_EQ(test, colo_chunk_len(100, 20, 3), 0ULL);
	/* exact multiple: no short chunk */
	KUNIT_EXPECT_EQ(test, colo_chunk_len(1, 16, 3), 8ULL);
	KUNIT_EXPECT_EQ(test, colo_chunk_len(2, 16, 3), 0ULL);
	/* one-sector chunks, empty device */
	KUNIT_EXPECT_EQ(test, colo_chunk_len(4, 5, 0), 1ULL);
	KUNIT_EXPECT_EQ(test, colo_chunk_len(5, 5, 0), 0ULL);
	KUNIT_EXPECT_EQ(test, colo_chunk_len(0, 0, 3), 0ULL);
	/* beyond 2^32 chunks */
	KUNIT_EXPECT_EQ(test, colo_chunk_len(1ULL << 37, (1ULL << 40) + 5, 3),
			5ULL);
	KUNIT_EXPECT_EQ(test,
			colo_chunk_len((1ULL << 37) - 1, (1ULL << 40) + 5, 3),
			8ULL);
	KUNIT_EXPECT_EQ(test,
			colo_chunk_len((1ULL << 37) + 1, (1ULL << 40) + 5, 3),
			0ULL);
}

struct colo_whole_case {
	const char *name;
	sector_t start;
	sector_t nr;
	sector_t len;
	unsigned int shift;
	u64 nr_whole;		/* 0: none, so only first >= end is checked */
	u64 first;
	u64 end;
};

static const struct colo_whole_case colo_whole_cases[] = {
	{ "inside one chunk", 9, 5, 64, 3, 0 },
	{ "inside one chunk, to its end", 10, 6, 64, 3, 0 },
	{ "inside one chunk, from its start", 8, 7, 64, 3, 0 },
	{ "exactly one chunk", 8, 8, 64, 3, 1, 1, 2 },
	{ "the first chunk", 0, 8, 64, 3, 1, 0, 1 },
	{ "unaligned, two whole chunks", 5, 20, 64, 3, 2, 1, 3 },
	{ "whole device", 0, 64, 64, 3, 8, 0, 8 },
	{ "to the end, short last chunk", 50, 10, 60, 3, 1, 7, 8 },
	{ "the short last chunk", 56, 4, 60, 3, 1, 7, 8 },
	{ "whole device, short last chunk", 0, 60, 60, 3, 8, 0, 8 },
	{ "inside the short last chunk", 57, 2, 60, 3, 0 },
	{ "zero length, aligned", 16, 0, 64, 3, 0 },
	{ "zero length, unaligned", 13, 0, 64, 3, 0 },
	{ "zero length at the end", 60, 0, 60, 3, 0 },
	{ "zero length in the short last chunk", 57, 0, 60, 3, 0 },
	{ "one-sector chunks", 3, 4, 10, 0, 4, 3, 7 },
	{ "beyond 2^32 chunks", (1ULL << 40) + 1, 24, 1ULL << 41, 3, 2,
	  (1ULL << 37) + 1, (1ULL << 37) + 3 },
	{ "beyond 2^32 one-sector chunks", 1ULL << 40, 3, 1ULL << 41, 0, 3,
	  1ULL << 40, (1ULL << 40) + 3 },
};

static void colo_whole_desc(const struct colo_whole_case *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(colo_whole, colo_whole_cases, colo_whole_desc);

static void colo_whole_chunks_test(struct kunit *test)
{
	const struct colo_whole_case *c = test->param_value;
	u64 first = colo_first_whole_chunk(c->start, c->shift);
	u64 end = colo_end_whole_chunk(c->start, c->nr, c->len, c->shift);

	if (!c->nr_whole) {
		KUNIT_EXPECT_GE(test, first, end);
		return;
	}
	KUNIT_EXPECT_EQ(test, first, c->first);
	KUNIT_EXPECT_EQ(test, end, c->end);
	KUNIT_EXPECT_EQ(test, end - first, c->nr_whole);
}

static void colo_extent_chunk_shift_test(struct kunit *test)
{
	/* 1 MiB extents: 2048 one-sector chunks, 256 of 4 KiB, ... */
	KUNIT_EXPECT_EQ(test, colo_extent_chunk_shift(0), 11U);
	KUNIT_EXPECT_EQ(test, colo_extent_chunk_shift(3), 8U);
	KUNIT_EXPECT_EQ(test, colo_extent_chunk_shift(7), 4U);
	KUNIT_EXPECT_EQ(test, colo_extent_chunk_shift(10), 1U);
	KUNIT_EXPECT_EQ(test, colo_extent_chunk_shift(11), 0U);
}

static void colo_extent_last_test(struct kunit *test)
{
	u64 big = 1ULL << 50;

	/* 4 KiB chunks: 256 per extent, aligned */
	KUNIT_EXPECT_EQ(test, colo_extent_last(0, 3, big), 255ULL);
	KUNIT_EXPECT_EQ(test, colo_extent_last(255, 3, big), 255ULL);
	KUNIT_EXPECT_EQ(test, colo_extent_last(256, 3, big), 511ULL);
	KUNIT_EXPECT_EQ(test, colo_extent_last(300, 3, big), 511ULL);
	/* 64 KiB chunks: 16 per extent */
	KUNIT_EXPECT_EQ(test, colo_extent_last(0, 7, big), 15ULL);
	KUNIT_EXPECT_EQ(test, colo_extent_last(17, 7, big), 31ULL);
	/* 1 MiB chunks: one chunk per extent */
	KUNIT_EXPECT_EQ(test, colo_extent_last(5, 11, big), 5ULL);
	/* the device ends first: 10 chunks, and a device of one chunk */
	KUNIT_EXPECT_EQ(test, colo_extent_last(0, 3, 10), 9ULL);
	KUNIT_EXPECT_EQ(test, colo_extent_last(9, 3, 10), 9ULL);
	KUNIT_EXPECT_EQ(test, colo_extent_last(0, 0, 1), 0ULL);
	KUNIT_EXPECT_EQ(test, colo_extent_last(0, 11, 1), 0ULL);
	/* beyond 2^32 chunks */
	KUNIT_EXPECT_EQ(test, colo_extent_last((1ULL << 40) + 3, 0, big),
			(1ULL << 40) + 2047);
	KUNIT_EXPECT_EQ(test, colo_extent_last((1ULL << 33) + 1, 3, big),
			(1ULL << 33) + 255);
	/* the last chunks of 64 bits */
	KUNIT_EXPECT_EQ(test, colo_extent_last(~0ULL - 5, 0, ~0ULL),
			~0ULL - 1);
}

static void colo_chunks_len_test(struct kunit *test)
{
	/* whole chunks */
	KUNIT_EXPECT_EQ(test, colo_chunks_len(0, 255, 1ULL << 20, 3), 2048ULL);
	KUNIT_EXPECT_EQ(test, colo_chunks_len(3, 3, 1ULL << 20, 3), 8ULL);
	/* 76 sectors in chunks of 8: the tenth chunk has 4 */
	KUNIT_EXPECT_EQ(test, colo_chunks_len(0, 9, 76, 3), 76ULL);
	KUNIT_EXPECT_EQ(test, colo_chunks_len(8, 9, 76, 3), 12ULL);
	KUNIT_EXPECT_EQ(test, colo_chunks_len(9, 9, 76, 3), 4ULL);
	/* beyond the device */
	KUNIT_EXPECT_EQ(test, colo_chunks_len(10, 12, 76, 3), 0ULL);
	/* beyond 2^32 chunks */
	KUNIT_EXPECT_EQ(test, colo_chunks_len(1ULL << 37, (1ULL << 37) + 255,
					      1ULL << 41, 3), 2048ULL);
	KUNIT_EXPECT_EQ(test, colo_chunks_len(1ULL << 37, (1ULL << 37) + 255,
					      (1ULL << 40) + 5, 3), 5ULL);
}

/*
 * For every chunk size: an extent from any chunk is at most 1 MiB, stays
 * in its aligned 1 MiB (one lock granule), and ends at the device's end.
 */
static void colo_extent_bounds_test(struct kunit *test)
{
	static const u64 starts[] = { 0, 1, 7, 255, 256, 1000, 2047, 2048,
				      (1ULL << 32) + 5, (1ULL << 40) - 1 };
	unsigned int shift, i;

	for (shift = 0; shift <= COLO_MAX_CHUNK_SHIFT; shift++) {
		for (i = 0; i < ARRAY_SIZE(starts); i++) {
			u64 c = starts[i], nr = (1ULL << 40) + 3;
			u64 last = colo_extent_last(c, shift, nr);
			sector_t len = colo_chunk_to_sector(nr, shift) - 1;
			sector_t sectors = colo_chunks_len(c, last, len, shift);

			KUNIT_EXPECT_GE(test, last, c);
			KUNIT_EXPECT_LE(test, sectors,
					1ULL << COLO_EXTENT_SECTOR_SHIFT);
			KUNIT_EXPECT_EQ(test,
					colo_chunk_to_sector(c, shift) >>
					COLO_EXTENT_SECTOR_SHIFT,
					colo_chunk_to_sector(last, shift) >>
					COLO_EXTENT_SECTOR_SHIFT);
			KUNIT_EXPECT_LT(test, last, nr);
		}
	}
}

static struct kunit_case colo_chunk_test_cases[] = {
	KUNIT_CASE(colo_extent_chunk_shift_test),
	KUNIT_CASE(colo_extent_last_test),
	KUNIT_CASE(colo_chunks_len_test),
	KUNIT_CASE(colo_extent_bounds_test),
	KUNIT_CASE_PARAM(colo_round_trip_test, colo_round_trip_gen_params),
	KUNIT_CASE(colo_nr_chunks_test),
	KUNIT_CASE(colo_chunk_len_test),
	KUNIT_CASE_PARAM(colo_whole_chunks_test, colo_whole_gen_params),
	{}
};

static struct kunit_suite colo_chunk_suite = {
	.name = "dm-colo-chunk",
	.test_cases = colo_chunk_test_cases,
};

/* --- words --------------------------------------------------------------- */

#define COLO_TEST_LINE_MAX	128
#define COLO_TEST_WORDS_MAX	16

/*
 * A line split into words as device-mapper hands them to a target. The
 * word "" stands for an empty word. A copy of everything is kept to check
 * that the parser modified neither the words nor the argv array.
 */
struct colo_words {
	unsigned int argc;
	char *argv[COLO_TEST_WORDS_MAX];
	char *saved_argv[COLO_TEST_WORDS_MAX];
	char buf[COLO_TEST_LINE_MAX];
	char saved_buf[COLO_TEST_LINE_MAX];
};

static struct colo_words *colo_split(struct kunit *test, const char *line)
{
	struct colo_words *w;
	char *p, *word;

	w = kunit_kzalloc(test, sizeof(*w), GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, w);
	KUNIT_ASSERT_LT(test, strlen(line), sizeof(w->buf));
	strscpy(w->buf, line, sizeof(w->buf));

	p = w->buf;
	while ((word = strsep(&p, " "))) {
		if (!*word)
			continue;
		if (!strcmp(word, "\"\""))
			*word = '\0';
		KUNIT_ASSERT_LT(test, w->argc, COLO_TEST_WORDS_MAX);
		w->argv[w->argc++] = word;
	}
	memcpy(w->saved_argv, w->argv, sizeof(w->argv));
	memcpy(w->saved_buf, w->buf, sizeof(w->buf));
	return w;
}

static void colo_expect_unmodified(struct kunit *test, struct colo_words *w)
{
	KUNIT_EXPECT_EQ(test, memcmp(w->argv, w->saved_argv, sizeof(w->argv)),
			0);
	KUNIT_EXPECT_EQ(test, memcmp(w->buf, w->saved_buf, sizeof(w->buf)), 0);
}

static void colo_expect_error(struct kunit *test, int ret, const char *error)
{
	KUNIT_EXPECT_EQ(test, ret, -EINVAL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, error);
	KUNIT_EXPECT_NE(test, error[0], '\0');
}

static void colo_line_desc(const char *line, char *desc)
{
	strscpy(desc, *line ? line : "(no words)", KUNIT_PARAM_DESC_SIZE);
}

/* --- dm-colo-table ------------------------------------------------------ */

struct colo_table_case {
	const char *line;
	enum colo_mode mode;
	unsigned int chunk_shift;
	unsigned int max_copies;
	int meta_word;			/* index of the metadata word, or 0 */
	unsigned int region_shift;	/* 0: the default */
};

static const struct colo_table_case colo_table_ok_cases[] = {
	{ "secondary /dev/a /dev/b /dev/c 8", COLO_MODE_SECONDARY, 3,
	  COLO_DEFAULT_MAX_COPIES },
	{ "primary /dev/a 1", COLO_MODE_PRIMARY, 0, COLO_DEFAULT_MAX_COPIES },
	{ "primary /dev/a 2048", COLO_MODE_PRIMARY, 11,
	  COLO_DEFAULT_MAX_COPIES },
	{ "secondary a b c 128 2 max_copies 16", COLO_MODE_SECONDARY, 7, 16 },
	{ "secondary a b c 8 0", COLO_MODE_SECONDARY, 3,
	  COLO_DEFAULT_MAX_COPIES },
	{ "primary a 8 0", COLO_MODE_PRIMARY, 3, COLO_DEFAULT_MAX_COPIES },
	{ "primary a 16 2 max_copies 1", COLO_MODE_PRIMARY, 4, 1 },
	{ "secondary a b c 1024 2 max_copies 1024", COLO_MODE_SECONDARY, 10,
	  1024 },
	{ "primary a 8 2 metadata m", COLO_MODE_PRIMARY, 3,
	  COLO_DEFAULT_MAX_COPIES, 5, COLO_DEFAULT_REGION_SHIFT },
	{ "secondary a b c 8 4 region_size 8 metadata m", COLO_MODE_SECONDARY,
	  3, COLO_DEFAULT_MAX_COPIES, 9, 3 },
	{ "primary a 128 6 metadata m max_copies 2 region_size 2097152",
	  COLO_MODE_PRIMARY, 7, 2, 5, 21 },
};

static void colo_table_desc(const struct colo_table_case *c, char *desc)
{
	colo_line_desc(c->line, desc);
}

KUNIT_ARRAY_PARAM(colo_table_ok, colo_table_ok_cases, colo_table_desc);

static void colo_table_ok_test(struct kunit *test)
{
	const struct colo_table_case *c = test->param_value;
	struct colo_words *w = colo_split(test, c->line);
	struct colo_table_args args;
	char *error = NULL;
	int ret;

	ret = colo_parse_table(w->argc, w->argv, &args, &error);
	KUNIT_ASSERT_EQ_MSG(test, ret, 0, "error: %s", error);
	KUNIT_EXPECT_EQ(test, args.mode, c->mode);
	KUNIT_EXPECT_PTR_EQ(test, args.base_path, w->argv[1]);
	if (c->mode == COLO_MODE_SECONDARY) {
		KUNIT_EXPECT_PTR_EQ(test, args.hidden_path, w->argv[2]);
		KUNIT_EXPECT_PTR_EQ(test, args.active_path, w->argv[3]);
	} else {
		KUNIT_EXPECT_NULL(test, args.hidden_path);
		KUNIT_EXPECT_NULL(test, args.active_path);
	}
	KUNIT_EXPECT_EQ(test, args.chunk_shift, c->chunk_shift);
	KUNIT_EXPECT_EQ(test, args.max_copies, c->max_copies);
	if (c->meta_word)
		KUNIT_EXPECT_PTR_EQ(test, args.metadata_path,
				    w->argv[c->meta_word]);
	else
		KUNIT_EXPECT_NULL(test, args.metadata_path);
	KUNIT_EXPECT_EQ(test, args.region_shift,
			c->region_shift ?: COLO_DEFAULT_REGION_SHIFT);
	colo_expect_unmodified(test, w);
}

static const char * const colo_table_bad_lines[] = {
	"",
	"tertiary a b c 8",
	"secondary",
	"secondary a b c",
	"primary",
	"primary a",
	"secondary a b c 0",
	"secondary a b c 3",
	"secondary a b c 4096",
	"secondary a b c -8",
	"secondary a b c 8x",
	"secondary a b c \"\"",
	"secondary a b c 99999999999999999999",
	"primary a 0",
	"primary a 4096",
	"secondary a b c 8 1",
	"secondary a b c 8 2 max_copies",
	"secondary a b c 8 x",
	"secondary a b c 8 -1",
	"secondary a b c 8 2 flush 1",
	"secondary a b c 8 1 max_copies",
	"secondary a b c 8 2 max_copies 0",
	"secondary a b c 8 2 max_copies 1025",
	"secondary a b c 8 2 max_copies x",
	"secondary a b c 8 4 max_copies 16 max_copies 16",
	"secondary a b c 8 0 extra",
	"secondary a b c 8 2 max_copies 16 extra",
	"secondary a b c d 8",
	"primary a 8 1 metadata",
	"primary a 8 4 metadata m metadata n",
	"primary a 8 2 region_size 0",
	"primary a 8 2 region_size 12",
	"primary a 8 2 region_size 4194304",
	"primary a 16 2 region_size 8",
	"primary a 8 2 region_size x",
	"primary a 8 extra",
	"primary a b 8",
};

static void colo_table_bad_desc(const char * const *line, char *desc)
{
	colo_line_desc(*line, desc);
}

KUNIT_ARRAY_PARAM(colo_table_bad, colo_table_bad_lines, colo_table_bad_desc);

static void colo_table_bad_test(struct kunit *test)
{
	const char * const *line = test->param_value;
	struct colo_words *w = colo_split(test, *line);
	struct colo_table_args args;
	char *error = NULL;
	int ret;

	ret = colo_parse_table(w->argc, w->argv, &args, &error);
	colo_expect_error(test, ret, error);
	colo_expect_unmodified(test, w);
}

static void colo_chunk_sectors_test(struct kunit *test)
{
	unsigned int n, shift;
	char word[16];
	char *error;
	int ret;

	for (n = 1; n <= 4096; n++) {
		bool ok = is_power_of_2(n) && n <= 2048;

		snprintf(word, sizeof(word), "%u", n);
		shift = ~0U;
		error = NULL;
		ret = colo_parse_chunk_sectors(word, &shift, &error);
		if (!ok) {
			KUNIT_EXPECT_EQ_MSG(test, ret, -EINVAL, "chunk %u", n);
			KUNIT_EXPECT_NOT_NULL_MSG(test, error, "chunk %u", n);
			continue;
		}
		KUNIT_EXPECT_EQ_MSG(test, ret, 0, "chunk %u: %s", n, error);
		KUNIT_EXPECT_EQ_MSG(test, 1U << shift, n, "chunk %u", n);
	}
}

/* A mode's name is the word that selects it in a table line. */
static void colo_mode_name_test(struct kunit *test)
{
	static const enum colo_mode modes[] = {
		COLO_MODE_SECONDARY, COLO_MODE_PRIMARY,
	};
	struct colo_table_args args;
	char line[COLO_TEST_LINE_MAX];
	struct colo_words *w;
	char *error = NULL;
	unsigned int i;

	KUNIT_EXPECT_STREQ(test, colo_mode_name(COLO_MODE_SECONDARY),
			   "secondary");
	KUNIT_EXPECT_STREQ(test, colo_mode_name(COLO_MODE_PRIMARY), "primary");

	for (i = 0; i < ARRAY_SIZE(modes); i++) {
		snprintf(line, sizeof(line), "%s %s", colo_mode_name(modes[i]),
			 modes[i] == COLO_MODE_PRIMARY ? "a 8" : "a b c 8");
		w = colo_split(test, line);
		KUNIT_ASSERT_EQ_MSG(test, colo_parse_table(w->argc, w->argv,
							   &args, &error), 0,
				    "%s: %s", line, error);
		KUNIT_EXPECT_EQ(test, args.mode, modes[i]);
	}
}

static struct kunit_case colo_table_test_cases[] = {
	KUNIT_CASE_PARAM(colo_table_ok_test, colo_table_ok_gen_params),
	KUNIT_CASE_PARAM(colo_table_bad_test, colo_table_bad_gen_params),
	KUNIT_CASE(colo_chunk_sectors_test),
	KUNIT_CASE(colo_mode_name_test),
	{}
};

static struct kunit_suite colo_table_suite = {
	.name = "dm-colo-table",
	.test_cases = colo_table_test_cases,
};

/* --- dm-colo-message ---------------------------------------------------- */

struct colo_msg_case {
	const char *line;
	enum colo_msg_kind kind;
	int dev_word;		/* index of the device's word, or -1 */
	enum colo_mirror_sync sync;
	unsigned int rate;
	u64 from;
	unsigned int min_rate;
	unsigned int max_lag;
};

static const struct colo_msg_case colo_msg_ok_cases[] = {
	{ "checkpoint", COLO_MSG_CHECKPOINT, -1 },
	{ "failover", COLO_MSG_FAILOVER, -1 },
	{ "mirror start /dev/x", COLO_MSG_MIRROR_START, 2, COLO_SYNC_FULL },
	{ "mirror start /dev/x full", COLO_MSG_MIRROR_START, 2,
	  COLO_SYNC_FULL },
	{ "mirror start /dev/x dirty", COLO_MSG_MIRROR_START, 2,
	  COLO_SYNC_DIRTY },
	{ "mirror start /dev/x full 51200", COLO_MSG_MIRROR_START, 2,
	  COLO_SYNC_FULL, 51200 },
	{ "mirror start /dev/x dirty 1", COLO_MSG_MIRROR_START, 2,
	  COLO_SYNC_DIRTY, 1 },
	{ "mirror stop", COLO_MSG_MIRROR_STOP, -1 },
	/* async may follow the device, the sync mode or the rate. */
	{ "mirror start /dev/x async 64", COLO_MSG_MIRROR_START, 2,
	  COLO_SYNC_FULL, .max_lag = 64 },
	{ "mirror start /dev/x dirty async 1", COLO_MSG_MIRROR_START, 2,
	  COLO_SYNC_DIRTY, .max_lag = 1 },
	{ "mirror start /dev/x full 51200 async 1048576",
	  COLO_MSG_MIRROR_START, 2, COLO_SYNC_FULL, 51200, .max_lag = 1048576 },
	/* ... and come in any order with min_rate. */
	{ "mirror start /dev/x full auto min_rate 20 async 64",
	  COLO_MSG_MIRROR_START, 2, COLO_SYNC_FULL, .min_rate = 20,
	  .max_lag = 64 },
	{ "mirror start /dev/x dirty auto async 8 min_rate 30",
	  COLO_MSG_MIRROR_START, 2, COLO_SYNC_DIRTY, .min_rate = 30,
	  .max_lag = 8 },
	{ "mirror start /dev/x full auto async 16", COLO_MSG_MIRROR_START, 2,
	  COLO_SYNC_FULL, .min_rate = COLO_RATE_DEFAULT_MIN, .max_lag = 16 },
	{ "mirror async 4096", COLO_MSG_MIRROR_ASYNC, -1, .max_lag = 4096 },
	{ "mirror sync", COLO_MSG_MIRROR_SYNC, -1 },
	{ "dirty add 1-2", COLO_MSG_DIRTY_ADD, -1 },
	{ "dirty add 1 5-9 x", COLO_MSG_DIRTY_ADD, -1 },
	{ "verify start", COLO_MSG_VERIFY_START, -1 },
	{ "verify start 4096", COLO_MSG_VERIFY_START, -1, 0, 4096 },
	{ "verify start auto", COLO_MSG_VERIFY_START, -1, 0, 0, 0,
	  COLO_RATE_DEFAULT_MIN },
	{ "verify start auto min_rate 512", COLO_MSG_VERIFY_START, -1, 0, 0,
	  0, 512 },
	{ "mirror start /dev/x full auto", COLO_MSG_MIRROR_START, 2,
	  COLO_SYNC_FULL, 0, 0, COLO_RATE_DEFAULT_MIN },
	{ "mirror start /dev/x dirty auto min_rate 1", COLO_MSG_MIRROR_START,
	  2, COLO_SYNC_DIRTY, 0, 0, 1 },
	{ "mirror start /dev/x full auto min_rate 4294967295",
	  COLO_MSG_MIRROR_START, 2, COLO_SYNC_FULL, 0, 0, UINT_MAX },
	{ "mirror rate 100", COLO_MSG_MIRROR_RATE, -1, 0, 100 },
	{ "mirror rate none", COLO_MSG_MIRROR_RATE, -1 },
	{ "mirror rate auto", COLO_MSG_MIRROR_RATE, -1, 0, 0, 0,
	  COLO_RATE_DEFAULT_MIN },
	{ "mirror rate auto min_rate 7", COLO_MSG_MIRROR_RATE, -1, 0, 0, 0, 7 },
	{ "verify rate 4096", COLO_MSG_VERIFY_RATE, -1, 0, 4096 },
	{ "verify rate none", COLO_MSG_VERIFY_RATE, -1 },
	{ "verify rate auto min_rate 9", COLO_MSG_VERIFY_RATE, -1, 0, 0, 0, 9 },
	{ "verify stop", COLO_MSG_VERIFY_STOP, -1 },
	{ "verify ranges", COLO_MSG_VERIFY_RANGES, -1 },
	{ "verify ranges 18446744073709551615", COLO_MSG_VERIFY_RANGES, -1,
	  0, 0, U64_MAX },
};

static void colo_msg_desc(const struct colo_msg_case *c, char *desc)
{
	colo_line_desc(c->line, desc);
}

KUNIT_ARRAY_PARAM(colo_msg_ok, colo_msg_ok_cases, colo_msg_desc);

static void colo_msg_ok_test(struct kunit *test)
{
	const struct colo_msg_case *c = test->param_value;
	struct colo_words *w = colo_split(test, c->line);
	struct colo_msg msg;
	char *error = NULL;
	int ret;

	ret = colo_parse_message(w->argc, w->argv, &msg, &error);
	KUNIT_ASSERT_EQ_MSG(test, ret, 0, "error: %s", error);
	KUNIT_EXPECT_EQ(test, msg.kind, c->kind);
	if (c->dev_word < 0) {
		KUNIT_EXPECT_NULL(test, msg.dev_path);
	} else {
		KUNIT_EXPECT_PTR_EQ(test, msg.dev_path, w->argv[c->dev_word]);
		KUNIT_EXPECT_EQ(test, msg.sync, c->sync);
	}
	KUNIT_EXPECT_EQ(test, msg.rate, c->rate);
	KUNIT_EXPECT_EQ(test, msg.from, c->from);
	KUNIT_EXPECT_EQ(test, msg.min_rate, c->min_rate);
	KUNIT_EXPECT_EQ(test, msg.max_lag, c->max_lag);
	colo_expect_unmodified(test, w);
}

static const char * const colo_msg_bad_lines[] = {
	"",
	"rewind",
	"checkpoint now",
	"failover now",
	"mirror",
	"mirror start",
	"mirror start x sideways",
	"mirror start x full extra",
	"mirror start x full 0",
	"mirror start x dirty -5",
	"mirror start x dirty 99999999999",
	"mirror start x 100",
	"mirror start x full 10 more",
	"mirror start x async",
	"mirror start x async 0",
	"mirror start x async -1",
	"mirror start x async 64k",
	"mirror start x async 1048577",
	"mirror start x async 99999999999",
	"mirror start x async 64 async 64",
	"mirror start x async 64 full",
	"mirror start x async 64 full 10",
	"mirror start x full async 64 10",
	"mirror start x full 10 async",
	"mirror start x full 10 async 64 extra",
	"mirror start x 100 async 64",
	"mirror async",
	"mirror async 0",
	"mirror async 64 128",
	"mirror async 1MiB",
	"mirror async 1048577",
	"mirror sync now",
	"mirror start x auto",
	"mirror start x min_rate 10",
	"mirror start x full 10 min_rate 5",
	"mirror start x full auto min_rate",
	"mirror start x full auto min_rate 0",
	"mirror start x full auto min_rate -1",
	"mirror start x full auto min_rate 4294967296",
	"mirror start x full auto min_rate 10 min_rate 10",
	"mirror start x full auto min_rate 10 extra",
	"mirror start x full auto auto",
	"mirror start x full automatic",
	"mirror start x full min_rate 10",
	"mirror start x full Auto",
	"mirror start x async 64 min_rate 10",
	"mirror start x full auto async 64 min_rate 10 async 64",
	"mirror start x full auto async 64 min_rate 10 min_rate 10",
	"mirror start x full auto async min_rate 10",
	"mirror start x async 64 auto",
	"verify start async 64",
	"verify start auto async 64",
	"mirror rate auto async 64",
	"mirror rate async 64",
	"mirror async auto",
	"dirty",
	"dirty add",
	"dirty remove 1-2",
	"dirty 1-2",
	"mirror stop now",
	"mirror pause",
	"mirror pause x",
	"start mirror x",
	"verify",
	"verify begin",
	"verify start 0",
	"verify start -1",
	"verify start 4k",
	"verify start 99999999999",
	"verify start 10 20",
	"verify start rate 10",
	"verify start min_rate 10",
	"verify start 10 min_rate 5",
	"verify start auto min_rate",
	"verify start auto min_rate 0",
	"verify start auto 10",
	"verify start auto min_rate 10 min_rate 20",
	"verify start none",
	"mirror start x full none",
	"mirror rate",
	"mirror rate 0",
	"mirror rate min_rate 5",
	"mirror rate 10 min_rate 5",
	"mirror rate auto min_rate",
	"mirror rate auto 5",
	"mirror rate none min_rate 5",
	"mirror rate fast",
	"verify rate",
	"verify rate -1",
	"verify rate auto min_rate 0",
	"verify rate auto min_rate 1 min_rate 1",
	"verify stop now",
	"verify ranges x",
	"verify ranges -1",
	"verify ranges 1 2",
	"verify ranges 18446744073709551616",
};

static void colo_msg_bad_desc(const char * const *line, char *desc)
{
	colo_line_desc(*line, desc);
}

KUNIT_ARRAY_PARAM(colo_msg_bad, colo_msg_bad_lines, colo_msg_bad_desc);

static void colo_msg_bad_test(struct kunit *test)
{
	const char * const *line = test->param_value;
	struct colo_words *w = colo_split(test, *line);
	struct colo_msg msg;
	char *error = NULL;
	int ret;

	ret = colo_parse_message(w->argc, w->argv, &msg, &error);
	colo_expect_error(test, ret, error);
	colo_expect_unmodified(test, w);
}

static void colo_msg_mode_test(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, colo_msg_mode(COLO_MSG_MIRROR_START),
			COLO_MODE_PRIMARY);
	KUNIT_EXPECT_EQ(test, colo_msg_mode(COLO_MSG_MIRROR_STOP),
			COLO_MODE_PRIMARY);
	KUNIT_EXPECT_EQ(test, colo_msg_mode(COLO_MSG_MIRROR_ASYNC),
			COLO_MODE_PRIMARY);
	KUNIT_EXPECT_EQ(test, colo_msg_mode(COLO_MSG_MIRROR_SYNC),
			COLO_MODE_PRIMARY);
	KUNIT_EXPECT_EQ(test, colo_msg_mode(COLO_MSG_CHECKPOINT),
			COLO_MODE_SECONDARY);
	KUNIT_EXPECT_EQ(test, colo_msg_mode(COLO_MSG_FAILOVER),
			COLO_MODE_SECONDARY);
	KUNIT_EXPECT_EQ(test, colo_msg_mode(COLO_MSG_VERIFY_START),
			COLO_MODE_PRIMARY);
	KUNIT_EXPECT_EQ(test, colo_msg_mode(COLO_MSG_VERIFY_STOP),
			COLO_MODE_PRIMARY);
	KUNIT_EXPECT_EQ(test, colo_msg_mode(COLO_MSG_VERIFY_RANGES),
			COLO_MODE_PRIMARY);
	KUNIT_EXPECT_EQ(test, colo_msg_mode(COLO_MSG_MIRROR_RATE),
			COLO_MODE_PRIMARY);
	KUNIT_EXPECT_EQ(test, colo_msg_mode(COLO_MSG_VERIFY_RATE),
			COLO_MODE_PRIMARY);
}

/*
 * The async mode's window (dm-colo-async.h): room is taken up to max_lag
 * bytes and no further, never once the window is closed, and never when
 * the sum would overflow.
 */
static void colo_lag_take_test(struct kunit *test)
{
	u64 next = 0;

	KUNIT_EXPECT_EQ(test, colo_lag_take(0, 4096, 65536, &next),
			COLO_LAG_TAKEN);
	KUNIT_EXPECT_EQ(test, next, 4096);
	KUNIT_EXPECT_EQ(test, colo_lag_take(61440, 4096, 65536, &next),
			COLO_LAG_TAKEN);
	KUNIT_EXPECT_EQ(test, next, 65536);
	next = 7;
	KUNIT_EXPECT_EQ(test, colo_lag_take(61441, 4096, 65536, &next),
			COLO_LAG_FULL);
	KUNIT_EXPECT_EQ(test, colo_lag_take(0, 65537, 65536, &next),
			COLO_LAG_FULL);
	/* Sync mode: max 0, and closed. */
	KUNIT_EXPECT_EQ(test, colo_lag_take(0, 512, 0, &next), COLO_LAG_FULL);
	KUNIT_EXPECT_EQ(test, colo_lag_take(COLO_LAG_CLOSED, 512, 65536, &next),
			COLO_LAG_SHUT);
	KUNIT_EXPECT_EQ(test, colo_lag_take(COLO_LAG_CLOSED | 512, 512, 65536,
					    &next), COLO_LAG_SHUT);
	/* Nothing was written by a refusal. */
	KUNIT_EXPECT_EQ(test, next, 7);
	/* The largest window: bytes in flight never reach the flag. */
	KUNIT_EXPECT_EQ(test, colo_lag_take(0, 1U << 30,
					    (u64)COLO_MAX_MAX_LAG << 10, &next),
			COLO_LAG_TAKEN);
	KUNIT_EXPECT_EQ(test, next & COLO_LAG_CLOSED, 0);
	KUNIT_EXPECT_EQ(test, colo_lag_take(COLO_LAG_BYTES, 512, U64_MAX,
					    &next), COLO_LAG_FULL);
}

static struct kunit_case colo_msg_test_cases[] = {
	KUNIT_CASE_PARAM(colo_msg_ok_test, colo_msg_ok_gen_params),
	KUNIT_CASE_PARAM(colo_msg_bad_test, colo_msg_bad_gen_params),
	KUNIT_CASE(colo_msg_mode_test),
	KUNIT_CASE(colo_lag_take_test),
	{}
};

static struct kunit_suite colo_msg_suite = {
	.name = "dm-colo-message",
	.test_cases = colo_msg_test_cases,
};

kunit_test_suites(&colo_chunk_suite, &colo_table_suite, &colo_msg_suite);
