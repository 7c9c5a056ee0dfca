/* SPDX-License-Identifier: GPL-2.0 */
/*
 * colo-range: lists of inclusive ranges of sectors or chunks, as a dirty
 * export lists them ("<first>-<last>" a line) and as the target's
 * "dirty add" message takes them. Pure code, unit-tested (test-meta.c).
 */
#ifndef COLO_RANGE_H
#define COLO_RANGE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The most ranges one "dirty add" message may carry. */
#define COLO_DIRTY_ADD_MAX 4096

struct colo_range {
	uint64_t first, last;		/* inclusive */
};

struct colo_ranges {
	struct colo_range *r;
	size_t n, cap;
};

void colo_ranges_init(struct colo_ranges *rl);
void colo_ranges_free(struct colo_ranges *rl);

/*
 * Append [first, last]; a range that touches or overlaps the last one
 * extends it, so sorted input stays merged. Returns 0, or -1 (no memory).
 */
int colo_ranges_add(struct colo_ranges *rl, uint64_t first, uint64_t last);

/* Sort and merge overlapping and adjacent ranges. */
void colo_ranges_merge(struct colo_ranges *rl);

/* The units the ranges cover (saturates at UINT64_MAX). */
uint64_t colo_ranges_count(const struct colo_ranges *rl);

/*
 * Sector ranges to the chunks that hold them, rounding outward (a range
 * that touches a chunk takes all of it), merged. chunk_sectors is a power
 * of two. Returns 0, or -1 (no memory).
 */
int colo_ranges_to_chunks(const struct colo_ranges *sectors,
			  unsigned int chunk_sectors, struct colo_ranges *chunks);

/* What the comment line of a dirty export says, if the input has one. */
struct colo_export_hdr {
	int present;
	uint64_t uuid;
	uint64_t dev_sectors;
};

/* The first line of a dirty export, without its newline. */
void colo_export_hdr_line(char *buf, size_t len, uint64_t uuid,
			  uint64_t dev_sectors);

/*
 * Read a dirty export: a line is "<first>-<last>" or "<sector>" (decimal,
 * inclusive), blank, or a comment starting with '#'. The export's own
 * comment line fills hdr (two of them must agree on the size). Ranges are
 * appended to rl unmerged. Returns 0, or -1 with "line N: why" in err.
 */
int colo_ranges_read(FILE *f, struct colo_ranges *rl,
		     struct colo_export_hdr *hdr, char *err, size_t errlen);

/*
 * The "dirty add" message of the ranges from *next on, at most
 * COLO_DIRTY_ADD_MAX of them; *next moves past them. malloc'ed, or NULL
 * (no memory).
 */
char *colo_dirty_add_msg(const struct colo_ranges *chunks, size_t *next);

#endif
