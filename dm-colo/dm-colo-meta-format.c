// SPDX-License-Identifier: GPL-2.0
/*
 * dm-colo: encoding and checks of metadata blocks (dm-colo-format.h). Pure
 * functions on a block in memory: no I/O, no lock, safe from any context,
 * tested by KUnit (dm-colo-meta-test.c).
 */
#include <linux/crc32c.h>
#include <linux/errno.h>
#include <linux/kernel.h>
#include <linux/string.h>

#include "dm-colo-meta.h"

static_assert(COLO_META_BLOCK_SIZE == 1 << COLO_META_BLOCK_SHIFT);
static_assert(sizeof(struct colo_meta_header) == COLO_META_HEADER_SIZE);
static_assert(sizeof(struct colo_meta_super) <= COLO_META_BLOCK_SIZE);

/* crc32c of everything after the checksum field. */
u32 colo_meta_csum(const void *block)
{
	return crc32c(~0U, (const u8 *)block + sizeof(__le32),
		      COLO_META_BLOCK_SIZE - sizeof(__le32));
}

/* Fill in @block's header and checksum; the payload is written already. */
void colo_meta_seal(void *block, enum colo_meta_kind kind, u64 blocknr,
		    u64 instance, u64 seq, u64 generation)
{
	struct colo_meta_header *h = block;

	memset(h, 0, sizeof(*h));
	h->kind = cpu_to_le32(kind);
	h->blocknr = cpu_to_le64(blocknr);
	h->instance = cpu_to_le64(instance);
	h->seq = cpu_to_le64(seq);
	h->generation = cpu_to_le64(generation);
	h->csum = cpu_to_le32(colo_meta_csum(block));
}

bool colo_meta_block_zero(const void *block)
{
	const u64 *p = block;
	unsigned int i;

	for (i = 0; i < COLO_META_BLOCK_SIZE / sizeof(*p); i++)
		if (p[i])
			return false;
	return true;
}

/*
 * Is @block a valid copy of logical block @blocknr of kind @kind of this
 * metadata (@instance; 0 for a superblock, whose instance is not known
 * yet)? 0 when it is, -ENODATA when it is all zero (never written),
 * -EILSEQ when it is something else (torn, corrupted, another use).
 */
int colo_meta_check_slot(const void *block, enum colo_meta_kind kind,
			 u64 blocknr, u64 instance)
{
	const struct colo_meta_header *h = block;

	if (le32_to_cpu(h->csum) != colo_meta_csum(block))
		return colo_meta_block_zero(block) ? -ENODATA : -EILSEQ;
	if (le32_to_cpu(h->kind) != kind || le64_to_cpu(h->blocknr) != blocknr)
		return -EILSEQ;
	if (instance && le64_to_cpu(h->instance) != instance)
		return -EILSEQ;
	return 0;
}

/*
 * Of the two copies of a block and the results of their checks, the one
 * to use: the valid one with the higher sequence number. Returns 0 or 1,
 * or -ENODATA when neither was ever written, -EILSEQ when neither is
 * valid and one is not blank.
 */
int colo_meta_pick(const void *slot0, int check0, const void *slot1,
		   int check1)
{
	const struct colo_meta_header *h0 = slot0, *h1 = slot1;

	if (!check0 && !check1)
		return le64_to_cpu(h1->seq) > le64_to_cpu(h0->seq) ? 1 : 0;
	if (!check0)
		return 0;
	if (!check1)
		return 1;
	if (check0 == -ENODATA && check1 == -ENODATA)
		return -ENODATA;
	return -EILSEQ;
}

/*
 * Does the superblock @sb describe a device of this geometry, laid out as
 * @want, that fits in @meta_blocks? On a mismatch @error says which
 * (a static string for ti->error).
 */
int colo_meta_check_super(const struct colo_meta_super *sb,
			  const struct colo_meta_layout *want,
			  u64 dev_sectors, unsigned int chunk_shift,
			  unsigned int region_shift, u64 meta_blocks,
			  char **error)
{
	if (le64_to_cpu(sb->magic) != COLO_META_MAGIC) {
		*error = "Metadata device holds another format";
		return -EINVAL;
	}
	if (le32_to_cpu(sb->version) != COLO_META_VERSION ||
	    le32_to_cpu(sb->block_size) != COLO_META_BLOCK_SIZE ||
	    le32_to_cpu(sb->flags)) {
		*error = "Metadata device has an unsupported version";
		return -EINVAL;
	}
	if (le64_to_cpu(sb->dev_sectors) != dev_sectors ||
	    le32_to_cpu(sb->chunk_sectors) != 1U << chunk_shift ||
	    le32_to_cpu(sb->region_sectors) != 1U << region_shift ||
	    le64_to_cpu(sb->nr_blocks) != want->nr_blocks) {
		*error = "Metadata device holds another geometry (length, chunk or region size)";
		return -EINVAL;
	}
	if (want->nr_blocks > meta_blocks) {
		*error = "Metadata device is too small";
		return -EINVAL;
	}
	if (le32_to_cpu(sb->mode) > COLO_META_MODE_PRIMARY ||
	    le32_to_cpu(sb->commit_state) > COLO_META_COMMIT_DONE ||
	    le32_to_cpu(sb->dirty_gap) > COLO_META_GAP_MAX ||
	    le64_to_cpu(sb->to_commit) > want->nr_chunks) {
		*error = "Metadata superblock is inconsistent";
		return -EINVAL;
	}
	return 0;
}
