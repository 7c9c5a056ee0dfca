/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dm-colo: the on-disk format of a persistent fleece's buffer (README
 * "Fleecing", persistent). Only the layout and pure arithmetic, shared
 * with userspace.
 *
 * A persistent fleece keeps its map in the first blocks of its buffer
 * (4 KiB blocks), the saved chunks after them:
 *
 *   block 0        the header (struct colo_fleece_header)
 *   table          one __le64 per slot: the chunk it holds + 1, 0 for
 *                  none (T = ceil(slots * 8 / 4096) blocks)
 *   gone           one bit per chunk (little-endian bit order): the chunk
 *                  left the view, by a release or a "needed" message
 *                  (G = ceil(chunks / 32768) blocks)
 *   data           from the first chunk border after them: slot s at
 *                  data_start + s * chunk
 *
 * An entry of the table or a bit of gone is written (with a flush before,
 * FUA) before anything relies on it: a slot's entry after its data is
 * written and before the write it was saved for reaches base; a gone bit
 * before a write skips the chunk's save or the chunk's slot is given to
 * another. So each entry and bit stands alone and a torn block loses only
 * what nothing relied on yet. A slot whose entry names a gone chunk is
 * free. The header is written once, when a new persistent fleece is
 * loaded, with a new random instance; the colo device's metadata
 * superblock names the instance whose view base is kept for.
 */
#ifndef DM_COLO_FLEECE_FORMAT_H
#define DM_COLO_FLEECE_FORMAT_H

#include <linux/types.h>

#define COLO_FLEECE_MAGIC	0x3143454c46434444ULL	/* "DDCFLEC1" */
#define COLO_FLEECE_VERSION	1
#define COLO_FLEECE_BLOCK_SHIFT	12
#define COLO_FLEECE_BLOCK_SIZE	4096
#define COLO_FLEECE_BLOCK_SECTORS	(COLO_FLEECE_BLOCK_SIZE >> 9)
#define COLO_FLEECE_ENTRIES	(COLO_FLEECE_BLOCK_SIZE / 8)	/* per block */
#define COLO_FLEECE_BITS	(COLO_FLEECE_BLOCK_SIZE * 8)	/* per block */

struct colo_fleece_header {
	__le32 csum;		/* crc32c (seed ~0) of bytes 4..4095 */
	__le32 version;
	__le64 magic;
	__le64 instance;	/* random, never 0 */
	__le64 dev_sectors;	/* the fleece's length */
	__le32 chunk_sectors;
	__le32 flags;		/* none defined, must be 0 */
	__le64 nr_chunks;
	__le64 nr_slots;
	__le64 table_start;	/* sectors */
	__le64 gone_start;
	__le64 data_start;
};

struct colo_fleece_layout {
	__u64 nr_chunks;
	__u64 nr_slots;
	__u64 table_blocks;	/* T */
	__u64 gone_blocks;	/* G */
	__u64 table_start;	/* sectors */
	__u64 gone_start;
	__u64 data_start;	/* a chunk border */
};

/* Where the areas of a layout with @nr_slots slots go. */
static inline void colo_fleece_place(struct colo_fleece_layout *l,
				     __u64 nr_chunks, __u64 nr_slots,
				     unsigned int chunk_shift)
{
	__u64 meta, mask = (1ULL << chunk_shift) - 1;

	l->nr_chunks = nr_chunks;
	l->nr_slots = nr_slots;
	l->table_blocks = (nr_slots + COLO_FLEECE_ENTRIES - 1) /
			  COLO_FLEECE_ENTRIES;
	l->gone_blocks = (nr_chunks + COLO_FLEECE_BITS - 1) / COLO_FLEECE_BITS;
	l->table_start = COLO_FLEECE_BLOCK_SECTORS;
	l->gone_start = l->table_start +
			l->table_blocks * COLO_FLEECE_BLOCK_SECTORS;
	meta = l->gone_start + l->gone_blocks * COLO_FLEECE_BLOCK_SECTORS;
	l->data_start = (meta + mask) & ~mask;
}

/*
 * The layout of a buffer of @buffer_sectors for @nr_chunks chunks: as
 * many slots as fit after the map (at most one per chunk), 0 when none.
 */
static inline void colo_fleece_layout(struct colo_fleece_layout *l,
				      __u64 buffer_sectors, __u64 nr_chunks,
				      unsigned int chunk_shift)
{
	__u64 lo = 0, hi = buffer_sectors >> chunk_shift, mid;

	if (hi > nr_chunks)
		hi = nr_chunks;
	/* The largest count that fits: the map grows with it. */
	while (lo < hi) {
		mid = hi - (hi - lo) / 2;
		colo_fleece_place(l, nr_chunks, mid, chunk_shift);
		if (l->data_start + (mid << chunk_shift) <= buffer_sectors)
			lo = mid;
		else
			hi = mid - 1;
	}
	colo_fleece_place(l, nr_chunks, lo, chunk_shift);
}

#endif /* DM_COLO_FLEECE_FORMAT_H */
