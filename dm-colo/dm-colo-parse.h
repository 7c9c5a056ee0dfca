/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dm-colo: chunk arithmetic and parsing of table lines and messages.
 *
 * Everything here is pure: no device is opened, nothing is allocated and no
 * lock is taken, so every function is safe from any context and is tested
 * by KUnit (dm-colo-test.c). Words are only looked at, never modified;
 * pointers returned in the parsed structures point into the caller's argv.
 * Error strings are static and suitable for ti->error.
 */
#ifndef DM_COLO_PARSE_H
#define DM_COLO_PARSE_H

#include <linux/types.h>
#include <linux/minmax.h>

#define COLO_MAX_CHUNK_SHIFT		11	/* 2048 sectors, 1 MiB */
#define COLO_DEFAULT_MAX_COPIES		64
#define COLO_MAX_MAX_COPIES		1024

enum colo_mode {
	COLO_MODE_SECONDARY,
	COLO_MODE_PRIMARY,
};

/* A parsed "colo" table line; the devices are still paths. */
struct colo_table_args {
	enum colo_mode mode;
	const char *base_path;
	const char *hidden_path;	/* NULL in primary mode */
	const char *active_path;	/* NULL in primary mode */
	unsigned int chunk_shift;	/* chunk = 1 << chunk_shift sectors */
	unsigned int max_copies;	/* copies in flight, per device */
	const char *metadata_path;	/* NULL: state in memory only */
	unsigned int region_shift;	/* write-intent region, in sectors */
};

enum colo_msg_kind {
	COLO_MSG_CHECKPOINT,
	COLO_MSG_FAILOVER,
	COLO_MSG_MIRROR_START,
	COLO_MSG_MIRROR_STOP,
	COLO_MSG_DIRTY_ADD,
};

enum colo_mirror_sync {
	COLO_SYNC_FULL,
	COLO_SYNC_DIRTY,
};

/* A parsed message. */
struct colo_msg {
	enum colo_msg_kind kind;
	const char *dev_path;		/* mirror start only */
	enum colo_mirror_sync sync;	/* mirror start only */
	unsigned int rate;		/* mirror start only: KiB/s, 0 = no limit */
	unsigned int nr_ranges;		/* dirty add: range words ... */
	char **ranges;			/* ... in the caller's argv */
};

int colo_parse_chunk_sectors(const char *word, unsigned int *shift,
			     char **error);
int colo_parse_table(unsigned int argc, char **argv,
		     struct colo_table_args *args, char **error);
int colo_parse_message(unsigned int argc, char **argv, struct colo_msg *msg,
		       char **error);
int colo_parse_range(const char *word, u64 nr_chunks, u64 *first,
		     u64 *last);
const char *colo_mode_name(enum colo_mode mode);
enum colo_mode colo_msg_mode(enum colo_msg_kind kind);

/*
 * Chunk arithmetic. Chunk and sector numbers are always u64/sector_t: a
 * 32-bit intermediate corrupts devices of more than 2^32 chunks.
 */
static inline u64 colo_sector_to_chunk(sector_t sector, unsigned int shift)
{
	return sector >> shift;
}

static inline sector_t colo_chunk_to_sector(u64 chunk, unsigned int shift)
{
	return (sector_t)chunk << shift;
}

/* Number of chunks covering @len sectors; the last one may be partial. */
static inline u64 colo_nr_chunks(sector_t len, unsigned int shift)
{
	return (len >> shift) + !!(len & ((1ULL << shift) - 1));
}

/* Length of @chunk within a device of @len sectors (short for the last). */
static inline sector_t colo_chunk_len(u64 chunk, sector_t len,
				      unsigned int shift)
{
	sector_t start = colo_chunk_to_sector(chunk, shift);

	if (start >= len)
		return 0;
	return min_t(sector_t, len - start, 1ULL << shift);
}

/*
 * The chunks wholly inside [@start, @start + @nr): start rounded up, end
 * rounded down, so a range inside one chunk yields first == end (none).
 * A range reaching @len covers the short last chunk wholly.
 */
static inline u64 colo_first_whole_chunk(sector_t start, unsigned int shift)
{
	return colo_nr_chunks(start, shift);
}

static inline u64 colo_end_whole_chunk(sector_t start, sector_t nr,
				       sector_t len, unsigned int shift)
{
	sector_t end = start + nr;

	if (end >= len)
		return colo_nr_chunks(len, shift);
	return colo_sector_to_chunk(end, shift);
}

#endif /* DM_COLO_PARSE_H */
