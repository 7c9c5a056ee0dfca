/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dm-colo: the on-disk format of the metadata device (README "Metadata
 * device"). This header is shared with userspace (colosetup reads an
 * inactive device's metadata): it holds only the layout and pure
 * arithmetic, no kernel call.
 *
 * The device is an array of 4 KiB blocks. Each logical block L is kept in
 * two physical slots, 2L and 2L + 1, written alternately: a write goes to
 * the slot that does not hold the newest copy, so a write torn by a power
 * loss leaves the previous copy intact. Every slot starts with a header:
 *
 *   csum        crc32c (seed ~0) of bytes 4..4095 of the slot
 *   kind        what the block holds (enum colo_meta_kind)
 *   blocknr     L: a slot read from the wrong place is refused
 *   instance    the metadata device's identity, chosen at initialisation:
 *               blocks of an earlier use of the device are ignored
 *   seq         the copy's sequence number; the newer copy wins
 *   generation  map blocks: the overlay generation they belong to
 *
 * Logical blocks, in this order:
 *
 *   0                     the superblock
 *   1 .. R                the write-intent region bitmap (R blocks)
 *   R+1 .. R+M            the active map (M blocks, one bit per chunk)
 *   R+M+1 .. R+2M         the hidden map
 *
 * with B = COLO_META_BITS bits per bitmap block, R = ceil(regions / B),
 * M = ceil(chunks / B), and the device needs 2 * (1 + R + 2M) blocks.
 *
 * A map block counts only when its generation is the superblock's overlay
 * generation; any other (never written, written for an earlier failover)
 * reads as all zero. A failover writes the blocks of the maps that have a
 * bit set under a new generation, then the superblock that names it: its
 * cost follows the overlay, not the device size.
 */
#ifndef DM_COLO_FORMAT_H
#define DM_COLO_FORMAT_H

#include <linux/types.h>

#define COLO_META_MAGIC		0x314f4c4f434d4444ULL	/* "DDMCOLO1" */
#define COLO_META_VERSION	1
#define COLO_META_BLOCK_SHIFT	12
#define COLO_META_BLOCK_SIZE	4096	/* 1 << COLO_META_BLOCK_SHIFT */
#define COLO_META_BLOCK_SECTORS	(COLO_META_BLOCK_SIZE >> 9)
#define COLO_META_HEADER_SIZE	64
#define COLO_META_PAYLOAD	(COLO_META_BLOCK_SIZE - COLO_META_HEADER_SIZE)
#define COLO_META_BITS		(COLO_META_PAYLOAD * 8)	/* 32256 */

/* The default write-intent region: 4 MiB (README "Region size"). */
#define COLO_DEFAULT_REGION_SHIFT	13
#define COLO_MAX_REGION_SHIFT		21		/* 1 GiB */

enum colo_meta_kind {
	COLO_META_SUPER = 1,
	COLO_META_REGIONS = 2,
	COLO_META_ACTIVE = 3,
	COLO_META_HIDDEN = 4,
};

/* Superblock mode and commit state (the values never change). */
enum {
	COLO_META_MODE_SECONDARY = 0,
	COLO_META_MODE_PRIMARY = 1,
};

enum {
	COLO_META_COMMIT_NONE = 0,
	COLO_META_COMMIT_RUNNING = 1,
	COLO_META_COMMIT_DONE = 2,
};

/*
 * Why the dirty bitmap may miss chunks that differ from a replica
 * (colo_c.mirror_gap); 0 when it covers them all.
 */
enum {
	COLO_META_GAP_NONE = 0,
	COLO_META_GAP_FRESH = 1,	/* no failover, no full sync yet */
	COLO_META_GAP_CUT_SHORT = 2,	/* a full sync did not finish */
	COLO_META_GAP_FLUSH = 3,	/* a replica flush failed */
	COLO_META_GAP_MAX = 3,
};

struct colo_meta_header {
	__le32 csum;
	__le32 kind;
	__le64 blocknr;
	__le64 instance;
	__le64 seq;
	__le64 generation;
	__u8 reserved[24];
};

struct colo_meta_super {
	struct colo_meta_header header;
	__le64 magic;
	__le32 version;
	__le32 block_size;
	__le64 dev_sectors;		/* the target's length */
	__le32 chunk_sectors;
	__le32 region_sectors;
	__le64 nr_blocks;		/* physical blocks the layout needs */
	__le32 mode;
	__le32 commit_state;
	__le64 overlay_generation;	/* map blocks of this generation count */
	__le64 to_commit;		/* chunks pending at failover */
	__le32 dirty_gap;		/* COLO_META_GAP_* */
	__le32 flags;			/* none defined, must be 0 */
	__le64 current_uuid;		/* data generation, new at failover */
	__le64 previous_uuid;		/* the one before */
	__le64 failovers;		/* failovers this device made */
	/*
	 * The instance of the persistent fleece whose view base is kept
	 * for (every write to base since it started was saved first, see
	 * dm-colo-fleece-format.h), 0 for none. Cleared, durably, before
	 * the first write to base that no active fleece saves for.
	 */
	__le64 fleece;
};

/* Bitmap blocks that hold @nr bits. */
static inline __u64 colo_meta_bitmap_blocks(__u64 nr)
{
	return (nr + COLO_META_BITS - 1) / COLO_META_BITS;
}

static inline __u64 colo_meta_nr_regions(__u64 dev_sectors,
					 unsigned int region_shift)
{
	return (dev_sectors + (1ULL << region_shift) - 1) >> region_shift;
}

static inline __u64 colo_meta_nr_chunks(__u64 dev_sectors,
					unsigned int chunk_shift)
{
	return (dev_sectors + (1ULL << chunk_shift) - 1) >> chunk_shift;
}

/* The layout of a device: first logical block of each area and counts. */
struct colo_meta_layout {
	__u64 nr_regions;
	__u64 nr_chunks;
	__u64 region_blocks;		/* R */
	__u64 map_blocks;		/* M */
	__u64 regions_start;		/* logical 1 */
	__u64 active_start;
	__u64 hidden_start;
	__u64 nr_logical;		/* 1 + R + 2M */
	__u64 nr_blocks;		/* physical: 2 * nr_logical */
};

static inline void colo_meta_layout(struct colo_meta_layout *l,
				    __u64 dev_sectors,
				    unsigned int chunk_shift,
				    unsigned int region_shift)
{
	l->nr_regions = colo_meta_nr_regions(dev_sectors, region_shift);
	l->nr_chunks = colo_meta_nr_chunks(dev_sectors, chunk_shift);
	l->region_blocks = colo_meta_bitmap_blocks(l->nr_regions);
	l->map_blocks = colo_meta_bitmap_blocks(l->nr_chunks);
	l->regions_start = 1;
	l->active_start = l->regions_start + l->region_blocks;
	l->hidden_start = l->active_start + l->map_blocks;
	l->nr_logical = l->hidden_start + l->map_blocks;
	l->nr_blocks = 2 * l->nr_logical;
}

/* The first sector of slot @slot (0 or 1) of logical block @l. */
static inline __u64 colo_meta_slot_sector(__u64 l, unsigned int slot)
{
	return (2 * l + slot) << (COLO_META_BLOCK_SHIFT - 9);
}

/* The chunks of region @region: [*first, *end). */
static inline void colo_meta_region_chunks(__u64 region,
					   unsigned int region_shift,
					   unsigned int chunk_shift,
					   __u64 nr_chunks,
					   __u64 *first, __u64 *end)
{
	unsigned int per = region_shift - chunk_shift;

	*first = region << per;
	*end = (region + 1) << per;
	if (*end > nr_chunks)
		*end = nr_chunks;
	if (*first > nr_chunks)
		*first = nr_chunks;
}

#endif /* DM_COLO_FORMAT_H */
