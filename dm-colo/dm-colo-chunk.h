/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dm-colo: chunk arithmetic, and the extents the copy engine moves.
 *
 * Everything here is pure (no device, no allocation, no lock), so every
 * function is safe from any context and is tested by KUnit (dm-colo-test.c).
 * Chunk and sector numbers are always u64/sector_t: a 32-bit intermediate
 * corrupts devices of more than 2^32 chunks (LESSONS.md #7).
 */
#ifndef DM_COLO_CHUNK_H
#define DM_COLO_CHUNK_H

#include <linux/minmax.h>
#include <linux/types.h>

#define COLO_MAX_CHUNK_SHIFT		11	/* 2048 sectors, 1 MiB */

/*
 * A background copy (the failover commit, the mirror) takes adjacent
 * chunks together, up to one extent: 1 MiB, aligned, so that an extent
 * never crosses a lock granule (dm-colo-lock.h) and never needs more than
 * one extent's buffer. A chunk is never larger than an extent.
 */
#define COLO_EXTENT_SECTOR_SHIFT	11	/* 2048 sectors, 1 MiB */

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

/* Chunks per extent, log2, for chunks of 2^@shift sectors. */
static inline unsigned int colo_extent_chunk_shift(unsigned int shift)
{
	return COLO_EXTENT_SECTOR_SHIFT - min_t(unsigned int, shift,
						COLO_EXTENT_SECTOR_SHIFT);
}

/*
 * The last chunk an extent that starts at @chunk may reach: the end of
 * the aligned extent that holds @chunk, or the device's last chunk
 * (@nr_chunks chunks, at least one).
 */
static inline u64 colo_extent_last(u64 chunk, unsigned int shift,
				   u64 nr_chunks)
{
	u64 last = chunk | ((1ULL << colo_extent_chunk_shift(shift)) - 1);

	return min(last, nr_chunks - 1);
}

/*
 * The sectors of chunks @first to @last in a device of @len sectors (the
 * last chunk may be short): the length of their copy.
 */
static inline sector_t colo_chunks_len(u64 first, u64 last, sector_t len,
				       unsigned int shift)
{
	sector_t start = colo_chunk_to_sector(first, shift);
	sector_t end = colo_chunk_to_sector(last + 1, shift);

	if (start >= len)
		return 0;
	return min_t(sector_t, end, len) - start;
}

#endif /* DM_COLO_CHUNK_H */
