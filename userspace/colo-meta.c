// SPDX-License-Identifier: GPL-2.0
/*
 * colo-meta: the metadata reader. Each logical block has two slots; the
 * newest valid one (highest seq) wins. A slot is valid when its checksum
 * matches, its kind and block number are right and it belongs to the
 * superblock's instance; a map block counts only under the superblock's
 * overlay generation, else it reads as all zero.
 */
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "colo-meta.h"

#define BLOCK COLO_META_BLOCK_SIZE

/* ---- crc32c ------------------------------------------------------------- */

static uint32_t crc_table[256];

static void crc_init(void)
{
	uint32_t c;
	unsigned int i, k;

	for (i = 0; i < 256; i++) {
		c = i;
		for (k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0x82f63b78U : c >> 1;
		crc_table[i] = c;
	}
}

uint32_t colo_crc32c(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	if (!crc_table[1])
		crc_init();
	while (len--)
		crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return crc;
}

uint32_t colo_meta_csum(const void *slot)
{
	return colo_crc32c(~0U, (const uint8_t *)slot + 4, BLOCK - 4);
}

/* ---- names --------------------------------------------------------------- */

const char *colo_slot_state_name(enum colo_slot_state s)
{
	switch (s) {
	case COLO_SLOT_VALID:
		return "valid";
	case COLO_SLOT_EMPTY:
		return "empty (never written)";
	case COLO_SLOT_MISSING:
		return "beyond the device's end";
	case COLO_SLOT_FOREIGN:
		return "not dm-colo metadata";
	case COLO_SLOT_VERSION:
		return "an unknown version";
	case COLO_SLOT_CSUM:
		return "bad checksum (torn or corrupted)";
	case COLO_SLOT_HEADER:
		return "wrong kind or block number";
	case COLO_SLOT_STALE:
		return "of an earlier use of the device";
	case COLO_SLOT_FIELDS:
		return "impossible fields";
	case COLO_SLOT_IO:
		return "read error";
	}
	return "?";
}

const char *colo_meta_gap_reason(uint32_t gap)
{
	switch (gap) {
	case COLO_META_GAP_NONE:
		return NULL;
	case COLO_META_GAP_FRESH:
		return "fresh";
	case COLO_META_GAP_CUT_SHORT:
		return "a full sync was cut short";
	case COLO_META_GAP_FLUSH:
		return "a replica flush failed";
	}
	return "unknown";
}

const char *colo_meta_gap_word(uint32_t gap)
{
	static const char *const words[] = { "complete", "fresh", "cut-short", "flush-failed" };

	return gap <= COLO_META_GAP_MAX ? words[gap] : "unknown";
}

const char *colo_meta_mode_name(uint32_t mode)
{
	return mode == COLO_META_MODE_PRIMARY ? "primary" :
	       mode == COLO_META_MODE_SECONDARY ? "secondary" : "?";
}

const char *colo_meta_commit_name(uint32_t commit_state)
{
	static const char *const names[] = { "none", "running", "done" };

	return commit_state <= COLO_META_COMMIT_DONE ? names[commit_state] : "?";
}

/* ---- slots --------------------------------------------------------------- */

static int all_zero(const uint8_t *p, size_t len)
{
	while (len--)
		if (*p++)
			return 0;
	return 1;
}

/* Read slot s of logical block l into m->buf + s * BLOCK. */
static enum colo_slot_state read_slot(struct colo_meta *m, uint64_t l, unsigned int s)
{
	uint64_t off = colo_meta_slot_sector(l, s) << 9;
	uint8_t *p = (uint8_t *)m->buf + s * BLOCK;
	size_t done = 0;

	if (off > m->dev_bytes || m->dev_bytes - off < BLOCK)
		return COLO_SLOT_MISSING;
	while (done < BLOCK) {
		ssize_t n = pread(m->fd, p + done, BLOCK - done, off + done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return COLO_SLOT_IO;
		done += n;
	}
	return all_zero(p, BLOCK) ? COLO_SLOT_EMPTY : COLO_SLOT_VALID;
}

/* Checks every slot needs after its checksum. */
static enum colo_slot_state check_header(const struct colo_meta_header *h, uint64_t l,
					 uint32_t kind)
{
	if (le32toh(h->csum) != colo_meta_csum(h))
		return COLO_SLOT_CSUM;
	if (le32toh(h->kind) != kind || le64toh(h->blocknr) != l)
		return COLO_SLOT_HEADER;
	return COLO_SLOT_VALID;
}

static int pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

static unsigned int log2_of(uint64_t v)
{
	unsigned int s = 0;

	while ((1ULL << s) < v)
		s++;
	return s;
}

static void sb_from_disk(struct colo_meta_sb *sb, const struct colo_meta_super *d)
{
	sb->instance = le64toh(d->header.instance);
	sb->seq = le64toh(d->header.seq);
	sb->version = le32toh(d->version);
	sb->block_size = le32toh(d->block_size);
	sb->dev_sectors = le64toh(d->dev_sectors);
	sb->chunk_sectors = le32toh(d->chunk_sectors);
	sb->region_sectors = le32toh(d->region_sectors);
	sb->nr_blocks = le64toh(d->nr_blocks);
	sb->mode = le32toh(d->mode);
	sb->commit_state = le32toh(d->commit_state);
	sb->overlay_generation = le64toh(d->overlay_generation);
	sb->to_commit = le64toh(d->to_commit);
	sb->dirty_gap = le32toh(d->dirty_gap);
	sb->flags = le32toh(d->flags);
	sb->current_uuid = le64toh(d->current_uuid);
	sb->previous_uuid = le64toh(d->previous_uuid);
	sb->failovers = le64toh(d->failovers);
}

/* Whether a superblock's fields can be; why not into why. */
static int sb_fields_ok(const struct colo_meta_sb *sb, char *why, size_t len)
{
	struct colo_meta_layout l;

	if (sb->block_size != BLOCK)
		snprintf(why, len, "block size %u", sb->block_size);
	else if (!sb->dev_sectors)
		snprintf(why, len, "a device of 0 sectors");
	else if (!pow2(sb->chunk_sectors) || sb->chunk_sectors > 2048)
		snprintf(why, len, "chunk of %u sectors", sb->chunk_sectors);
	else if (!pow2(sb->region_sectors) || sb->region_sectors < sb->chunk_sectors ||
		 sb->region_sectors > (1U << COLO_MAX_REGION_SHIFT))
		snprintf(why, len, "region of %u sectors", sb->region_sectors);
	else if (sb->mode > COLO_META_MODE_PRIMARY)
		snprintf(why, len, "mode %u", sb->mode);
	else if (sb->commit_state > COLO_META_COMMIT_DONE)
		snprintf(why, len, "commit state %u", sb->commit_state);
	else if (sb->dirty_gap > COLO_META_GAP_MAX)
		snprintf(why, len, "dirty coverage %u", sb->dirty_gap);
	else if (sb->flags)
		snprintf(why, len, "flags %#x", sb->flags);
	else
		why[0] = '\0';
	if (why[0])
		return 0;
	colo_meta_layout(&l, sb->dev_sectors, log2_of(sb->chunk_sectors),
			 log2_of(sb->region_sectors));
	if (l.nr_blocks != sb->nr_blocks) {
		snprintf(why, len, "nr_blocks %" PRIu64 " where the geometry needs %" PRIu64,
			 sb->nr_blocks, (uint64_t)l.nr_blocks);
		return 0;
	}
	return 1;
}

static enum colo_slot_state check_super(struct colo_meta *m, unsigned int s,
					struct colo_meta_sb *sb)
{
	const struct colo_meta_super *d = (const void *)((uint8_t *)m->buf + s * BLOCK);
	enum colo_slot_state st;

	if (le64toh(d->magic) != COLO_META_MAGIC)
		return COLO_SLOT_FOREIGN;
	if (le32toh(d->version) != COLO_META_VERSION)
		return COLO_SLOT_VERSION;
	st = check_header(&d->header, 0, COLO_META_SUPER);
	if (st != COLO_SLOT_VALID)
		return st;
	sb_from_disk(sb, d);
	if (!sb_fields_ok(sb, m->slot_why[s], sizeof(m->slot_why[s])))
		return COLO_SLOT_FIELDS;
	return COLO_SLOT_VALID;
}

static void slot_desc(const struct colo_meta *m, unsigned int s, char *buf, size_t len)
{
	snprintf(buf, len, "slot %u: %s%s%s", s, colo_slot_state_name(m->slot_state[s]),
		 m->slot_state[s] == COLO_SLOT_FIELDS ? ", " : "",
		 m->slot_state[s] == COLO_SLOT_FIELDS ? m->slot_why[s] : "");
}

int colo_meta_open(struct colo_meta *m, int fd, uint64_t dev_bytes)
{
	struct colo_meta_sb sb[2];
	unsigned int s, n[COLO_SLOT_IO + 1] = { 0 };
	char d0[160], d1[160];
	uint64_t need;

	memset(m, 0, sizeof(*m));
	m->fd = fd;
	m->dev_bytes = dev_bytes;
	m->slot = -1;
	if (posix_memalign(&m->buf, BLOCK, 2 * BLOCK)) {
		m->buf = NULL;
		snprintf(m->err, sizeof(m->err), "out of memory");
		return COLO_META_ENOMEM;
	}
	for (s = 0; s < 2; s++) {
		m->slot_state[s] = read_slot(m, 0, s);
		if (m->slot_state[s] == COLO_SLOT_VALID)
			m->slot_state[s] = check_super(m, s, &sb[s]);
		n[m->slot_state[s]]++;
		if (m->slot_state[s] != COLO_SLOT_VALID)
			continue;
		m->slot_seq[s] = sb[s].seq;
		if (m->slot < 0 || sb[s].seq > sb[m->slot].seq)
			m->slot = s;
	}
	slot_desc(m, 0, d0, sizeof(d0));
	slot_desc(m, 1, d1, sizeof(d1));
	if (m->slot < 0) {
		if (n[COLO_SLOT_IO]) {
			snprintf(m->err, sizeof(m->err), "cannot read the superblock (%s; %s)",
				 d0, d1);
			return COLO_META_EIO;
		}
		if (n[COLO_SLOT_VERSION]) {
			snprintf(m->err, sizeof(m->err),
				 "dm-colo metadata of a version this colosetup does not read (it reads version %u)",
				 COLO_META_VERSION);
			return COLO_META_EVERSION;
		}
		if (n[COLO_SLOT_CSUM] || n[COLO_SLOT_HEADER] || n[COLO_SLOT_FIELDS]) {
			snprintf(m->err, sizeof(m->err), "superblock corrupted (%s; %s)", d0, d1);
			return COLO_META_ECORRUPT;
		}
		if (n[COLO_SLOT_FOREIGN]) {
			snprintf(m->err, sizeof(m->err), "not dm-colo metadata");
			return COLO_META_EFOREIGN;
		}
		snprintf(m->err, sizeof(m->err), "no dm-colo metadata (fresh device)");
		return COLO_META_EFRESH;
	}
	m->sb = sb[m->slot];
	m->chunk_shift = log2_of(m->sb.chunk_sectors);
	m->region_shift = log2_of(m->sb.region_sectors);
	colo_meta_layout(&m->layout, m->sb.dev_sectors, m->chunk_shift, m->region_shift);
	need = m->sb.nr_blocks * BLOCK;
	if (m->sb.nr_blocks > UINT64_MAX / BLOCK || dev_bytes < need) {
		snprintf(m->err, sizeof(m->err),
			 "truncated: the metadata needs %" PRIu64 " blocks of 4 KiB, the device holds %" PRIu64,
			 m->sb.nr_blocks, dev_bytes / BLOCK);
		return COLO_META_ETRUNC;
	}
	return COLO_META_OK;
}

void colo_meta_close(struct colo_meta *m)
{
	free(m->buf);
	m->buf = NULL;
}

/* ---- bitmaps ------------------------------------------------------------- */

/*
 * The payload of bitmap block l of kind, or NULL (*p) when no slot counts
 * (a map block then reads as all zero; a region block is corrupted).
 */
static int read_bitmap_block(struct colo_meta *m, uint64_t l, uint32_t kind,
			     const uint8_t **payload)
{
	enum colo_slot_state st[2];
	uint64_t best_seq = 0;
	unsigned int s;
	int best = -1;

	*payload = NULL;
	for (s = 0; s < 2; s++) {
		const struct colo_meta_header *h = (const void *)((uint8_t *)m->buf + s * BLOCK);

		st[s] = read_slot(m, l, s);
		if (st[s] != COLO_SLOT_VALID)
			continue;
		st[s] = check_header(h, l, kind);
		if (st[s] == COLO_SLOT_VALID && le64toh(h->instance) != m->sb.instance)
			st[s] = COLO_SLOT_STALE;
		if (st[s] != COLO_SLOT_VALID)
			continue;
		if (kind != COLO_META_REGIONS &&
		    le64toh(h->generation) != m->sb.overlay_generation)
			continue;
		if (best < 0 || le64toh(h->seq) > best_seq) {
			best = s;
			best_seq = le64toh(h->seq);
		}
	}
	if (best >= 0) {
		*payload = (const uint8_t *)m->buf + best * BLOCK + COLO_META_HEADER_SIZE;
		return COLO_META_OK;
	}
	if (st[0] == COLO_SLOT_IO || st[1] == COLO_SLOT_IO) {
		snprintf(m->err, sizeof(m->err), "cannot read metadata block %" PRIu64, l);
		return COLO_META_EIO;
	}
	if (kind != COLO_META_REGIONS)
		return COLO_META_OK;
	snprintf(m->err, sizeof(m->err),
		 "metadata block %" PRIu64 " corrupted (region bitmap; slot 0: %s; slot 1: %s)",
		 l, colo_slot_state_name(st[0]), colo_slot_state_name(st[1]));
	return COLO_META_EBLOCK;
}

/* Add the set bits of p[0 .. nbits) as runs from base on. */
static int add_bits(const uint8_t *p, uint64_t nbits, uint64_t base,
		    struct colo_ranges *runs, uint64_t *count)
{
	uint64_t i = 0;

	while (i < nbits) {
		if (!(i & 7) && !p[i >> 3]) {
			i += 8;
			continue;
		}
		if (p[i >> 3] & (1U << (i & 7))) {
			if (colo_ranges_add(runs, base + i, base + i))
				return -1;
			(*count)++;
		}
		i++;
	}
	return 0;
}

static int read_bitmap(struct colo_meta *m, uint64_t start, uint64_t nbits, uint32_t kind,
		       struct colo_ranges *runs, uint64_t *count)
{
	uint64_t b, blocks = colo_meta_bitmap_blocks(nbits);

	*count = 0;
	for (b = 0; b < blocks; b++) {
		uint64_t first = b * COLO_META_BITS, n = nbits - first;
		const uint8_t *p;
		int r = read_bitmap_block(m, start + b, kind, &p);

		if (r)
			return r;
		if (!p)
			continue;
		if (n > COLO_META_BITS)
			n = COLO_META_BITS;
		if (add_bits(p, n, first, runs, count)) {
			snprintf(m->err, sizeof(m->err), "out of memory");
			return COLO_META_ENOMEM;
		}
	}
	return COLO_META_OK;
}

int colo_meta_regions(struct colo_meta *m, struct colo_ranges *runs, uint64_t *marked)
{
	return read_bitmap(m, m->layout.regions_start, m->layout.nr_regions,
			   COLO_META_REGIONS, runs, marked);
}

int colo_meta_map(struct colo_meta *m, enum colo_meta_kind kind,
		  struct colo_ranges *runs, uint64_t *set)
{
	uint64_t start = kind == COLO_META_ACTIVE ? m->layout.active_start :
			 m->layout.hidden_start;

	return read_bitmap(m, start, m->layout.nr_chunks, kind, runs, set);
}

int colo_meta_regions_to_chunks(const struct colo_meta *m,
				const struct colo_ranges *regions,
				struct colo_ranges *chunks)
{
	__u64 first, end, f2, e2;
	size_t i;

	for (i = 0; i < regions->n; i++) {
		colo_meta_region_chunks(regions->r[i].first, m->region_shift, m->chunk_shift,
					m->layout.nr_chunks, &first, &e2);
		colo_meta_region_chunks(regions->r[i].last, m->region_shift, m->chunk_shift,
					m->layout.nr_chunks, &f2, &end);
		if (end > first && colo_ranges_add(chunks, first, end - 1))
			return -1;
	}
	colo_ranges_merge(chunks);
	return 0;
}

int colo_meta_chunks_to_sectors(const struct colo_meta *m,
				const struct colo_ranges *chunks,
				struct colo_ranges *sectors)
{
	uint64_t first, last;
	size_t i;

	for (i = 0; i < chunks->n; i++) {
		if (chunks->r[i].first >= m->layout.nr_chunks)
			continue;
		first = chunks->r[i].first << m->chunk_shift;
		last = chunks->r[i].last >= m->layout.nr_chunks - 1 ? m->sb.dev_sectors - 1 :
		       ((chunks->r[i].last + 1) << m->chunk_shift) - 1;
		if (colo_ranges_add(sectors, first, last))
			return -1;
	}
	colo_ranges_merge(sectors);
	return 0;
}

int colo_meta_export(struct colo_meta *m, struct colo_ranges *sectors)
{
	struct colo_ranges regions, chunks;
	uint64_t n;
	int r;

	colo_ranges_init(&regions);
	colo_ranges_init(&chunks);
	r = colo_meta_regions(m, &regions, &n);
	if (!r && colo_meta_regions_to_chunks(m, &regions, &chunks))
		r = COLO_META_ENOMEM;
	if (!r && m->sb.commit_state == COLO_META_COMMIT_RUNNING) {
		r = colo_meta_map(m, COLO_META_ACTIVE, &chunks, &n);
		if (!r)
			r = colo_meta_map(m, COLO_META_HIDDEN, &chunks, &n);
	}
	if (!r) {
		colo_ranges_merge(&chunks);
		if (colo_meta_chunks_to_sectors(m, &chunks, sectors))
			r = COLO_META_ENOMEM;
	}
	if (r == COLO_META_ENOMEM)
		snprintf(m->err, sizeof(m->err), "out of memory");
	colo_ranges_free(&regions);
	colo_ranges_free(&chunks);
	return r;
}
