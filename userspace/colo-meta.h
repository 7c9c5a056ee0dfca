/* SPDX-License-Identifier: GPL-2.0 */
/*
 * colo-meta: read a dm-colo metadata device (its format is
 * ../dm-colo/dm-colo-format.h, shared with the kernel): the superblock, the
 * write-intent regions, the overlay maps, and what may differ from a
 * replica. It reads; it never writes. Unit-tested on images (test-meta.c).
 */
#ifndef COLO_META_H
#define COLO_META_H

#include <stddef.h>
#include <stdint.h>

#include "../dm-colo/dm-colo-format.h"
#include "colo-range.h"

/*
 * crc32c (Castagnoli, reflected) as the kernel's crc32c(): the register is
 * seeded by the caller and returned without the final inversion. The
 * standard check value is colo_crc32c(~0U, "123456789", 9) ^ ~0U.
 */
uint32_t colo_crc32c(uint32_t crc, const void *buf, size_t len);

/* A slot's checksum: crc32c seeded ~0 of bytes 4..4095. */
uint32_t colo_meta_csum(const void *slot);

/* What a slot holds. */
enum colo_slot_state {
	COLO_SLOT_VALID,
	COLO_SLOT_EMPTY,	/* all zero: never written */
	COLO_SLOT_MISSING,	/* beyond the device's end */
	COLO_SLOT_FOREIGN,	/* superblock: not the dm-colo magic */
	COLO_SLOT_VERSION,	/* superblock: a version this tool does not read */
	COLO_SLOT_CSUM,		/* checksum mismatch: torn or corrupted */
	COLO_SLOT_HEADER,	/* checksum right, wrong kind or block number */
	COLO_SLOT_STALE,	/* of another instance (an earlier use) */
	COLO_SLOT_FIELDS,	/* superblock: checksum right, fields impossible */
	COLO_SLOT_IO,		/* read error */
};

const char *colo_slot_state_name(enum colo_slot_state s);

/* The superblock, in host order. */
struct colo_meta_sb {
	uint64_t instance, seq;
	uint32_t version, block_size;
	uint64_t dev_sectors;
	uint32_t chunk_sectors, region_sectors;
	uint64_t nr_blocks;
	uint32_t mode, commit_state;
	uint64_t overlay_generation, to_commit;
	uint32_t dirty_gap, flags;
	uint64_t current_uuid, previous_uuid, failovers;
};

/* Why the metadata cannot be read (colo_meta_open() and the readers). */
enum colo_meta_err {
	COLO_META_OK,
	COLO_META_EFRESH,	/* both superblock slots zero */
	COLO_META_EFOREIGN,	/* not dm-colo metadata */
	COLO_META_EVERSION,	/* a version this tool does not read */
	COLO_META_ECORRUPT,	/* no valid superblock slot */
	COLO_META_ETRUNC,	/* smaller than the superblock's nr_blocks */
	COLO_META_EBLOCK,	/* a region block with no valid slot */
	COLO_META_EIO,
	COLO_META_ENOMEM,
};

struct colo_meta {
	int fd;
	uint64_t dev_bytes;
	struct colo_meta_sb sb;
	int slot;			/* the superblock's winning slot */
	enum colo_slot_state slot_state[2];
	uint64_t slot_seq[2];		/* of the slots that are valid */
	char slot_why[2][96];		/* COLO_SLOT_FIELDS: which field */
	struct colo_meta_layout layout;
	unsigned int chunk_shift, region_shift;
	void *buf;			/* one aligned block */
	char err[400];			/* the sentence of the last error */
};

/*
 * Read and check the superblock of the metadata on fd (dev_bytes long).
 * Returns COLO_META_OK, or an error with a sentence in m->err. Call
 * colo_meta_close() in either case.
 */
int colo_meta_open(struct colo_meta *m, int fd, uint64_t dev_bytes);
void colo_meta_close(struct colo_meta *m);

/* The marked write-intent regions as runs of region numbers, and their count. */
int colo_meta_regions(struct colo_meta *m, struct colo_ranges *runs,
		      uint64_t *marked);

/*
 * The chunks set in the active (COLO_META_ACTIVE) or hidden
 * (COLO_META_HIDDEN) map of the superblock's overlay generation.
 */
int colo_meta_map(struct colo_meta *m, enum colo_meta_kind kind,
		  struct colo_ranges *runs, uint64_t *set);

/* Runs of regions to the runs of chunks they hold. */
int colo_meta_regions_to_chunks(const struct colo_meta *m,
				const struct colo_ranges *regions,
				struct colo_ranges *chunks);

/* Runs of chunks to sector ranges (the last chunk may be short). */
int colo_meta_chunks_to_sectors(const struct colo_meta *m,
				const struct colo_ranges *chunks,
				struct colo_ranges *sectors);

/*
 * What may differ from a replica, in sectors, merged: every chunk of a
 * marked region and, while the commit runs, every chunk of the active and
 * hidden maps.
 */
int colo_meta_export(struct colo_meta *m, struct colo_ranges *sectors);

/* The dirty coverage: NULL when complete, else why not (a phrase). */
const char *colo_meta_gap_reason(uint32_t gap);
/* The same as a word for JSON: "complete", "fresh", "cut-short", ... */
const char *colo_meta_gap_word(uint32_t gap);
const char *colo_meta_mode_name(uint32_t mode);
const char *colo_meta_commit_name(uint32_t commit_state);

#endif
