// SPDX-License-Identifier: GPL-2.0
/*
 * Host unit tests of the metadata reader (colo-meta.c) and the range lists
 * (colo-range.c), on synthetic metadata images written by the small writer
 * below; of dirty import (colo-metacmd.c) over stubs of colosetup.c's
 * device-mapper helpers; and of colosetup's metadata commands on the
 * images (it runs ./colosetup). Prints TAP and "N passed, N failed".
 */
#include <endian.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "colo-meta.h"
#include "colo-range.h"
#include "colosetup.h"

static int pass, failed;

/* A TAP line; arg is quoted on it, its newlines as \n. */
static void ok(int cond, const char *what, const char *arg)
{
	if (cond)
		pass++;
	else
		failed++;
	printf("%sok %d - %s", cond ? "" : "not ", pass + failed, what);
	if (arg[0]) {
		fputs(" '", stdout);
		for (; *arg; arg++)
			if (*arg == '\n')
				fputs("\\n", stdout);
			else
				putchar(*arg);
		putchar('\'');
	}
	putchar('\n');
}

/* ---- the writer ------------------------------------------------------------ */

#define BLK COLO_META_BLOCK_SIZE

struct img {
	uint8_t *d;
	size_t size;			/* bytes */
	struct colo_meta_layout l;
	struct colo_meta_sb sb;		/* what img_super() writes */
};

static unsigned int ilog2(uint64_t v)
{
	unsigned int s = 0;

	while ((1ULL << s) < v)
		s++;
	return s;
}

/* A zeroed image for a device of dev_sectors, sb filled with defaults. */
static void img_init(struct img *im, uint64_t dev_sectors, uint32_t chunk, uint32_t region)
{
	memset(im, 0, sizeof(*im));
	colo_meta_layout(&im->l, dev_sectors, ilog2(chunk), ilog2(region));
	im->size = im->l.nr_blocks * BLK;
	im->d = calloc(1, im->size);
	im->sb.instance = 0x1122334455667788ULL;
	im->sb.version = COLO_META_VERSION;
	im->sb.block_size = BLK;
	im->sb.dev_sectors = dev_sectors;
	im->sb.chunk_sectors = chunk;
	im->sb.region_sectors = region;
	im->sb.nr_blocks = im->l.nr_blocks;
	im->sb.mode = COLO_META_MODE_PRIMARY;
	im->sb.commit_state = COLO_META_COMMIT_DONE;
	im->sb.overlay_generation = 3;
	im->sb.to_commit = 17;
	im->sb.dirty_gap = COLO_META_GAP_NONE;
	im->sb.current_uuid = 0x00000000deadbeefULL;
	im->sb.previous_uuid = 0x0123456789abcdefULL;
	im->sb.failovers = 2;
}

static uint8_t *slot_of(struct img *im, uint64_t l, unsigned int s)
{
	return im->d + (colo_meta_slot_sector(l, s) << 9);
}

static void seal(uint8_t *p, uint32_t kind, uint64_t l, uint64_t instance, uint64_t seq,
		 uint64_t gen)
{
	struct colo_meta_header *h = (void *)p;

	h->kind = htole32(kind);
	h->blocknr = htole64(l);
	h->instance = htole64(instance);
	h->seq = htole64(seq);
	h->generation = htole64(gen);
	h->csum = htole32(colo_meta_csum(p));
}

static void img_super(struct img *im, unsigned int s, uint64_t seq)
{
	uint8_t *p = slot_of(im, 0, s);
	struct colo_meta_super *d = (void *)p;
	const struct colo_meta_sb *sb = &im->sb;

	memset(p, 0, BLK);
	d->magic = htole64(COLO_META_MAGIC);
	d->version = htole32(sb->version);
	d->block_size = htole32(sb->block_size);
	d->dev_sectors = htole64(sb->dev_sectors);
	d->chunk_sectors = htole32(sb->chunk_sectors);
	d->region_sectors = htole32(sb->region_sectors);
	d->nr_blocks = htole64(sb->nr_blocks);
	d->mode = htole32(sb->mode);
	d->commit_state = htole32(sb->commit_state);
	d->overlay_generation = htole64(sb->overlay_generation);
	d->to_commit = htole64(sb->to_commit);
	d->dirty_gap = htole32(sb->dirty_gap);
	d->flags = htole32(sb->flags);
	d->current_uuid = htole64(sb->current_uuid);
	d->previous_uuid = htole64(sb->previous_uuid);
	d->failovers = htole64(sb->failovers);
	seal(p, COLO_META_SUPER, 0, sb->instance, seq, 0);
}

/* Bitmap block l (slot s) with bits[0..n) set (numbered within the area). */
static void img_bits(struct img *im, uint64_t l, unsigned int s, uint32_t kind, uint64_t seq,
		     uint64_t gen, uint64_t area_start, const uint64_t *bits, unsigned int n)
{
	uint8_t *p = slot_of(im, l, s), *pay = p + COLO_META_HEADER_SIZE;
	uint64_t first = (l - area_start) * COLO_META_BITS;
	unsigned int i;

	memset(p, 0, BLK);
	for (i = 0; i < n; i++)
		if (bits[i] >= first && bits[i] < first + COLO_META_BITS)
			pay[(bits[i] - first) / 8] |= 1U << ((bits[i] - first) % 8);
	seal(p, kind, l, im->sb.instance, seq, gen);
}

/* Every region block, slot 0, with the given regions marked. */
static void img_regions(struct img *im, const uint64_t *bits, unsigned int n)
{
	uint64_t b;

	for (b = 0; b < im->l.region_blocks; b++)
		img_bits(im, im->l.regions_start + b, 0, COLO_META_REGIONS, 1, 0,
			 im->l.regions_start, bits, n);
}

static char tmpdir[64];

/* Write the first size bytes of im to a file; returns its fd (read-only). */
static int img_fd(const struct img *im, size_t size, const char *name)
{
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, im->d, size) != (ssize_t)size) {
		perror(path);
		exit(2);
	}
	close(fd);
	return open(path, O_RDONLY);
}

/* Open im as metadata; returns colo_meta_open()'s result, m left open. */
static int img_open(const struct img *im, struct colo_meta *m)
{
	int fd = img_fd(im, im->size, "img");

	return colo_meta_open(m, fd, im->size);
}

static void img_close(struct colo_meta *m)
{
	close(m->fd);
	colo_meta_close(m);
}

static int ranges_are(const struct colo_ranges *rl, const uint64_t *want, unsigned int n)
{
	unsigned int i;

	if (rl->n != n)
		return 0;
	for (i = 0; i < n; i++)
		if (rl->r[i].first != want[2 * i] || rl->r[i].last != want[2 * i + 1])
			return 0;
	return 1;
}

/* ---- crc32c --------------------------------------------------------------- */

static void test_crc(void)
{
	uint8_t blk[BLK];
	uint32_t c;

	ok((colo_crc32c(~0U, "123456789", 9) ^ ~0U) == 0xe3069283U,
	   "crc32c check value (init ~0, final xor) is 0xe3069283", "");
	ok(colo_crc32c(~0U, "123456789", 9) == 0x1cf96d7cU,
	   "crc32c raw register, as the kernel's crc32c(~0, ...)", "");
	ok(colo_crc32c(colo_crc32c(~0U, "1234", 4), "56789", 5) == colo_crc32c(~0U, "123456789", 9),
	   "crc32c continues from a seed", "");
	memset(blk, 0xa5, sizeof(blk));
	c = colo_meta_csum(blk);
	blk[3] ^= 1;
	ok(colo_meta_csum(blk) == c, "slot checksum skips bytes 0..3 (the csum field)", "");
	blk[4] ^= 1;
	ok(colo_meta_csum(blk) != c, "slot checksum covers byte 4", "");
	blk[4] ^= 1;
	blk[BLK - 1] ^= 0x80;
	ok(colo_meta_csum(blk) != c, "slot checksum covers byte 4095", "");
}

/* ---- the superblock ------------------------------------------------------- */

static void test_super(void)
{
	struct colo_meta m;
	struct img im;
	int r;

	img_init(&im, 1 << 20, 8, 8192);
	r = img_open(&im, &m);
	ok(r == COLO_META_EFRESH && !strcmp(m.err, "no dm-colo metadata (fresh device)"),
	   "fresh zero device", m.err);
	img_close(&m);

	memcpy(slot_of(&im, 0, 0) + 64, "EXT4FSXX", 8);
	r = img_open(&im, &m);
	ok(r == COLO_META_EFOREIGN && !strcmp(m.err, "not dm-colo metadata") &&
	   m.slot_state[0] == COLO_SLOT_FOREIGN && m.slot_state[1] == COLO_SLOT_EMPTY,
	   "foreign magic", m.err);
	img_close(&m);

	img_super(&im, 0, 5);
	img_super(&im, 1, 6);
	r = img_open(&im, &m);
	ok(r == COLO_META_OK && m.slot == 1 && m.sb.seq == 6 && m.slot_seq[0] == 5,
	   "both slots valid: the newest (slot 1) wins", "");
	ok(m.sb.dev_sectors == 1 << 20 && m.sb.chunk_sectors == 8 && m.sb.region_sectors == 8192 &&
	   m.sb.mode == COLO_META_MODE_PRIMARY && m.sb.commit_state == COLO_META_COMMIT_DONE &&
	   m.sb.overlay_generation == 3 && m.sb.to_commit == 17 &&
	   m.sb.current_uuid == 0xdeadbeef && m.sb.previous_uuid == 0x0123456789abcdefULL &&
	   m.sb.failovers == 2 && m.sb.instance == 0x1122334455667788ULL &&
	   m.chunk_shift == 3 && m.region_shift == 13 && m.layout.nr_regions == 128,
	   "superblock fields read", "");
	img_close(&m);

	im.sb.to_commit = 99;
	img_super(&im, 0, 7);
	r = img_open(&im, &m);
	ok(r == COLO_META_OK && m.slot == 0 && m.sb.seq == 7 && m.sb.to_commit == 99,
	   "the newest (slot 0) wins", "");
	img_close(&m);

	/* A torn write of the newer copy: its tail is the old block's. */
	slot_of(&im, 0, 0)[3000] ^= 0xff;
	r = img_open(&im, &m);
	ok(r == COLO_META_OK && m.slot == 1 && m.sb.seq == 6 && m.sb.to_commit == 17 &&
	   m.slot_state[0] == COLO_SLOT_CSUM,
	   "torn newer slot: the older valid one wins", "");
	img_close(&m);

	slot_of(&im, 0, 1)[100] ^= 1;
	r = img_open(&im, &m);
	ok(r == COLO_META_ECORRUPT && !strncmp(m.err, "superblock corrupted", 20),
	   "both slots corrupted", m.err);
	img_close(&m);

	memset(slot_of(&im, 0, 1), 0, BLK);
	r = img_open(&im, &m);
	ok(r == COLO_META_ECORRUPT, "one corrupted slot, one zero: corrupted", m.err);
	img_close(&m);

	im.sb.version = 2;
	img_super(&im, 0, 8);
	r = img_open(&im, &m);
	ok(r == COLO_META_EVERSION && m.slot_state[0] == COLO_SLOT_VERSION,
	   "another version", m.err);
	img_close(&m);
	im.sb.version = COLO_META_VERSION;

	/* Checksum right, fields impossible: the other slot is used. */
	img_super(&im, 1, 8);
	im.sb.nr_blocks++;
	img_super(&im, 0, 9);
	im.sb.nr_blocks--;
	r = img_open(&im, &m);
	ok(r == COLO_META_OK && m.slot == 1 && m.slot_state[0] == COLO_SLOT_FIELDS &&
	   strstr(m.slot_why[0], "nr_blocks"), "impossible nr_blocks: slot refused", m.slot_why[0]);
	img_close(&m);

	im.sb.region_sectors = 4;
	img_super(&im, 0, 9);
	im.sb.region_sectors = 8192;
	r = img_open(&im, &m);
	ok(r == COLO_META_OK && m.slot == 1 && m.slot_state[0] == COLO_SLOT_FIELDS,
	   "region smaller than the chunk: slot refused", m.slot_why[0]);
	img_close(&m);

	/* A superblock copy found at the wrong place (block number 1). */
	img_super(&im, 0, 9);
	seal(slot_of(&im, 0, 0), COLO_META_SUPER, 1, im.sb.instance, 9, 0);
	r = img_open(&im, &m);
	ok(r == COLO_META_OK && m.slot == 1 && m.slot_state[0] == COLO_SLOT_HEADER,
	   "superblock with a wrong block number: slot refused", "");
	img_close(&m);

	img_super(&im, 0, 9);
	{
		int fd = img_fd(&im, im.size - BLK, "short");

		r = colo_meta_open(&m, fd, im.size - BLK);
		ok(r == COLO_META_ETRUNC && !strncmp(m.err, "truncated", 9),
		   "device smaller than nr_blocks", m.err);
		close(fd);
		colo_meta_close(&m);
		fd = img_fd(&im, BLK, "tiny");
		r = colo_meta_open(&m, fd, BLK);
		ok(r == COLO_META_ETRUNC && m.slot_state[1] == COLO_SLOT_MISSING,
		   "device of one block: slot 1 missing, truncated", m.err);
		close(fd);
		colo_meta_close(&m);
	}
	free(im.d);
}

/* ---- bitmaps -------------------------------------------------------------- */

static void test_bitmaps(void)
{
	/* 3 regions and 100 sectors: the last region and chunk are short. */
	static const uint64_t dev = 3 * 8192 + 100;
	struct colo_ranges runs, chunks, sectors;
	struct colo_meta m;
	struct img im;
	uint64_t n, marks[] = { 0, 3 }, other[] = { 1 }, act[] = { 5, 6, 7, 3084 },
		 hid[] = { 8, 20 };
	int r;

	colo_ranges_init(&runs);
	colo_ranges_init(&chunks);
	colo_ranges_init(&sectors);
	img_init(&im, dev, 8, 8192);
	img_super(&im, 0, 1);
	r = img_open(&im, &m);
	ok(r == COLO_META_OK && colo_meta_regions(&m, &runs, &n) == COLO_META_EBLOCK &&
	   !strncmp(m.err, "metadata block 1 corrupted", 26),
	   "region block never written: corrupted", m.err);
	img_close(&m);

	img_regions(&im, marks, 2);
	r = img_open(&im, &m);
	runs.n = 0;
	ok(!r && !colo_meta_regions(&m, &runs, &n) && n == 2 &&
	   ranges_are(&runs, (const uint64_t[]){ 0, 0, 3, 3 }, 2),
	   "marked regions read (0 and the short last, 3)", "");
	ok(!colo_meta_regions_to_chunks(&m, &runs, &chunks) &&
	   ranges_are(&chunks, (const uint64_t[]){ 0, 1023, 3072, 3084 }, 2),
	   "regions to chunks, the last region short", "");
	ok(!colo_meta_chunks_to_sectors(&m, &chunks, &sectors) &&
	   ranges_are(&sectors, (const uint64_t[]){ 0, 8191, 24576, dev - 1 }, 2),
	   "chunks to sectors, the last chunk short", "");
	sectors.n = 0;
	ok(!colo_meta_export(&m, &sectors) &&
	   ranges_are(&sectors, (const uint64_t[]){ 0, 8191, 24576, dev - 1 }, 2),
	   "export: the marked regions (commit done: maps ignored)", "");
	img_close(&m);

	/* The newer region block wins; a torn newer one falls back. */
	img_bits(&im, 1, 1, COLO_META_REGIONS, 2, 0, 1, other, 1);
	r = img_open(&im, &m);
	runs.n = 0;
	ok(!r && !colo_meta_regions(&m, &runs, &n) && n == 1 &&
	   ranges_are(&runs, (const uint64_t[]){ 1, 1 }, 1), "newest region block wins", "");
	img_close(&m);
	slot_of(&im, 1, 1)[4000] ^= 4;
	r = img_open(&im, &m);
	runs.n = 0;
	ok(!r && !colo_meta_regions(&m, &runs, &n) && n == 2 &&
	   ranges_are(&runs, (const uint64_t[]){ 0, 0, 3, 3 }, 2),
	   "torn newer region block: the older one", "");
	img_close(&m);
	/* Of an earlier instance of the device: ignored. */
	img_bits(&im, 1, 1, COLO_META_REGIONS, 9, 0, 1, other, 1);
	((struct colo_meta_header *)slot_of(&im, 1, 1))->instance = htole64(42);
	seal(slot_of(&im, 1, 1), COLO_META_REGIONS, 1, 42, 9, 0);
	r = img_open(&im, &m);
	runs.n = 0;
	ok(!r && !colo_meta_regions(&m, &runs, &n) && n == 2,
	   "region block of another instance ignored", "");
	img_close(&m);
	slot_of(&im, 1, 0)[200] ^= 1;
	r = img_open(&im, &m);
	ok(!r && colo_meta_regions(&m, &runs, &n) == COLO_META_EBLOCK &&
	   !strncmp(m.err, "metadata block 1 corrupted", 26),
	   "region block with no valid slot", m.err);
	img_close(&m);
	img_regions(&im, marks, 2);

	/* Maps: only the superblock's overlay generation counts. */
	img_bits(&im, im.l.active_start, 0, COLO_META_ACTIVE, 1, 2, im.l.active_start, act, 4);
	img_bits(&im, im.l.hidden_start, 0, COLO_META_HIDDEN, 1, 3, im.l.hidden_start, hid, 2);
	r = img_open(&im, &m);
	runs.n = 0;
	ok(!r && !colo_meta_map(&m, COLO_META_ACTIVE, &runs, &n) && n == 0 && runs.n == 0,
	   "map block of another generation reads zero", "");
	ok(!colo_meta_map(&m, COLO_META_HIDDEN, &runs, &n) && n == 2 &&
	   ranges_are(&runs, (const uint64_t[]){ 8, 8, 20, 20 }, 2),
	   "map block of the overlay generation read", "");
	img_close(&m);
	/* Newer copy of another generation, older of this one: the older. */
	img_bits(&im, im.l.active_start, 1, COLO_META_ACTIVE, 2, 3, im.l.active_start, act, 4);
	img_bits(&im, im.l.active_start, 0, COLO_META_ACTIVE, 3, 4, im.l.active_start, act, 1);
	im.sb.commit_state = COLO_META_COMMIT_RUNNING;
	img_super(&im, 1, 2);
	r = img_open(&im, &m);
	runs.n = 0;
	ok(!r && m.slot == 1 && !colo_meta_map(&m, COLO_META_ACTIVE, &runs, &n) && n == 4 &&
	   ranges_are(&runs, (const uint64_t[]){ 5, 7, 3084, 3084 }, 2),
	   "map: the newest copy of the overlay generation", "");
	sectors.n = 0;
	ok(!colo_meta_export(&m, &sectors) &&
	   ranges_are(&sectors, (const uint64_t[]){ 0, 8191, 24576, dev - 1 }, 2),
	   "export while the commit runs: map chunks inside marked regions merge", "");
	img_close(&m);

	marks[1] = 2;
	img_regions(&im, marks, 1);
	r = img_open(&im, &m);
	sectors.n = 0;
	ok(!r && !colo_meta_export(&m, &sectors) &&
	   ranges_are(&sectors, (const uint64_t[]){ 0, 8191, 24672, dev - 1 }, 2),
	   "export while the commit runs: region 0, hidden 8 and 20, active 5-7, 3084", "");
	img_close(&m);
	free(im.d);
	colo_ranges_free(&runs);
	colo_ranges_free(&chunks);
	colo_ranges_free(&sectors);
}

/* A bitmap over two blocks, and bits past its end. */
static void test_two_blocks(void)
{
	static const uint64_t dev = 40000;	/* 40000 regions of 1 sector */
	uint64_t marks[] = { 2, 32255, 32256, 39999 }, n;
	struct colo_ranges runs;
	struct colo_meta m;
	struct img im;
	uint8_t *pay;
	int r;

	colo_ranges_init(&runs);
	img_init(&im, dev, 1, 1);
	ok(im.l.region_blocks == 2 && im.l.map_blocks == 2 && im.l.nr_logical == 7,
	   "layout: 2 region blocks, 2 blocks per map", "");
	img_super(&im, 0, 1);
	img_bits(&im, 1, 0, COLO_META_REGIONS, 1, 0, 1, marks, 4);
	img_bits(&im, 2, 1, COLO_META_REGIONS, 1, 0, 1, marks, 4);
	/* A bit past the last region, in the last block: not a region. */
	pay = slot_of(&im, 2, 1) + COLO_META_HEADER_SIZE;
	pay[(40000 - COLO_META_BITS) / 8] |= 1U << ((40000 - COLO_META_BITS) % 8);
	seal(slot_of(&im, 2, 1), COLO_META_REGIONS, 2, im.sb.instance, 1, 0);
	r = img_open(&im, &m);
	ok(!r && !colo_meta_regions(&m, &runs, &n) && n == 4 &&
	   ranges_are(&runs, (const uint64_t[]){ 2, 2, 32255, 32256, 39999, 39999 }, 3),
	   "a run across two bitmap blocks is one; bits past the end ignored", "");
	img_close(&m);
	free(im.d);
	colo_ranges_free(&runs);
}

/* ---- ranges ---------------------------------------------------------------- */

static void test_ranges(void)
{
	struct colo_ranges rl, ch;
	struct colo_export_hdr hdr;
	char err[256], buf[128], *msg;
	size_t next;
	FILE *f;
	unsigned int i;
	static const char good[] =
		"# dm-colo dirty export: 00000000deadbeef 24676 sectors\n"
		"\n  # a comment\n0-8191\r\n 24576-24675 \n5\n";
	static const char *const bad[] = {
		"1-2\nx\n", "5-3\n", "1-\n", "-4\n", "1-2-3\n", "1 2\n", "+1\n",
		"99999999999999999999\n",
		("# dm-colo dirty export: 00000000deadbeef 100 sectors\n"
		 "# dm-colo dirty export: 00000000deadbeef 200 sectors\n"),
	};

	colo_ranges_init(&rl);
	colo_ranges_init(&ch);
	colo_ranges_add(&rl, 10, 20);
	colo_ranges_add(&rl, 21, 25);
	colo_ranges_add(&rl, 0, 3);
	colo_ranges_add(&rl, 2, 5);
	colo_ranges_add(&rl, 30, 30);
	colo_ranges_add(&rl, 6, 6);
	colo_ranges_add(&rl, 12, 14);
	ok(rl.n == 5, "adding a touching or overlapping range extends the last one", "");
	colo_ranges_merge(&rl);
	ok(ranges_are(&rl, (const uint64_t[]){ 0, 6, 10, 25, 30, 30 }, 3) &&
	   colo_ranges_count(&rl) == 24, "merge: sorted, overlapping and adjacent joined", "");

	/* Sectors to 8-sector chunks, rounding outward. */
	rl.n = 0;
	colo_ranges_add(&rl, 7, 8);
	colo_ranges_add(&rl, 40, 47);
	colo_ranges_add(&rl, 49, 49);
	colo_ranges_add(&rl, 100, 100);
	colo_ranges_add(&rl, 15, 16);
	ok(!colo_ranges_to_chunks(&rl, 8, &ch) &&
	   ranges_are(&ch, (const uint64_t[]){ 0, 2, 5, 6, 12, 12 }, 3),
	   "sectors to chunks round outward and merge", "");
	ch.n = 0;
	ok(!colo_ranges_to_chunks(&rl, 1, &ch) &&
	   ranges_are(&ch, (const uint64_t[]){ 7, 8, 15, 16, 40, 47, 49, 49, 100, 100 }, 5),
	   "chunk of one sector: sorted, merged", "");

	f = fmemopen((char *)good, strlen(good), "r");
	rl.n = 0;
	ok(f && !colo_ranges_read(f, &rl, &hdr, err, sizeof(err)) && hdr.present &&
	   hdr.uuid == 0xdeadbeef && hdr.dev_sectors == 24676 &&
	   ranges_are(&rl, (const uint64_t[]){ 0, 8191, 24576, 24675, 5, 5 }, 3),
	   "export read: header, comments, blank lines, CRLF, a single sector", "");
	if (f)
		fclose(f);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		f = fmemopen((char *)bad[i], strlen(bad[i]), "r");
		rl.n = 0;
		err[0] = '\0';
		ok(colo_ranges_read(f, &rl, &hdr, err, sizeof(err)) == -1 &&
		   !strncmp(err, "line ", 5), "export refused", bad[i]);
		fclose(f);
	}
	f = fmemopen((char *)"1-2\nx\n", 6, "r");
	colo_ranges_read(f, &rl, &hdr, err, sizeof(err));
	fclose(f);
	ok(!strncmp(err, "line 2:", 7), "the bad line is named", err);

	colo_export_hdr_line(buf, sizeof(buf), 0xdeadbeef, 24676);
	ok(!strcmp(buf, "# dm-colo dirty export: 00000000deadbeef 24676 sectors"),
	   "export header line", buf);

	/* Batches of at most COLO_DIRTY_ADD_MAX ranges. */
	ch.n = 0;
	for (i = 0; i <= COLO_DIRTY_ADD_MAX; i++)
		colo_ranges_add(&ch, 3 * i, 3 * i + (i & 1));
	next = 0;
	msg = colo_dirty_add_msg(&ch, &next);
	ok(msg && next == COLO_DIRTY_ADD_MAX && !strncmp(msg, "dirty add 0 3-4 6 9-10 ", 23),
	   "first dirty add message", "");
	{
		unsigned int words = 0;
		char *p;

		for (p = msg; p && *p; p++)
			words += *p == ' ';
		ok(words == COLO_DIRTY_ADD_MAX + 1, "first message: 4096 ranges", "");
	}
	free(msg);
	msg = colo_dirty_add_msg(&ch, &next);
	ok(msg && next == ch.n && !strcmp(msg, "dirty add 12288"), "second message: the rest", msg);
	free(msg);
	ch.n = 0;
	colo_ranges_add(&ch, 0, UINT64_MAX - 1);
	next = 0;
	msg = colo_dirty_add_msg(&ch, &next);
	ok(msg && !strcmp(msg, "dirty add 0-18446744073709551614"), "large chunk numbers", msg);
	free(msg);
	colo_ranges_free(&rl);
	colo_ranges_free(&ch);
}

/* ---- colosetup on images ---------------------------------------------------- */

/* Run a shell command line; its output (stdout and stderr) into out. */
static int run(const char *cmd, char *out, size_t len)
{
	char line[1024];
	size_t n = 0;
	FILE *p;
	int st;

	snprintf(line, sizeof(line), "%s 2>&1", cmd);
	p = popen(line, "r");
	if (!p)
		return -1;
	n = fread(out, 1, len - 1, p);
	out[n] = '\0';
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void write_img(const struct img *im, const char *name)
{
	close(img_fd(im, im->size, name));
}

static void test_cli(void)
{
	static const uint64_t dev = 3 * 8192 + 100;
	uint64_t marks[] = { 0, 3 }, act[] = { 5, 1100 };
	char cmd[256], out[8192];
	struct img im;
	int r;

	if (access("./colosetup", X_OK)) {
		ok(0, "./colosetup is built (make colosetup)", "");
		return;
	}
	img_init(&im, dev, 8, 8192);
	write_img(&im, "fresh");
	snprintf(cmd, sizeof(cmd), "./colosetup metadata dump %s/fresh", tmpdir);
	r = run(cmd, out, sizeof(out));
	ok(r == 1 && strstr(out, "fresh: no dm-colo metadata (fresh device)\n"), "dump: fresh", out);

	img_super(&im, 0, 4);
	img_regions(&im, marks, 2);
	write_img(&im, "primary");
	snprintf(cmd, sizeof(cmd), "./colosetup metadata dump %s/primary", tmpdir);
	r = run(cmd, out, sizeof(out));
	ok(!r && strstr(out, "  mode:           primary\n") &&
	   strstr(out, "  commit:         done, 17 chunks to commit at the failover\n") &&
	   strstr(out, "  uuid:           current 00000000deadbeef, previous 0123456789abcdef\n") &&
	   strstr(out, "  dirty coverage: complete\n") &&
	   strstr(out, "  regions marked: 2 of 4\n") &&
	   strstr(out, "  dirty chunks:   1037 in 2 ranges\n    0-1023\n    3072-3084\n") &&
	   strstr(out, "  slot 0:         valid, seq 4 (the newest)\n"),
	   "dump", out);
	snprintf(cmd, sizeof(cmd), "./colosetup metadata dump --json %s/primary", tmpdir);
	r = run(cmd, out, sizeof(out));
	ok(!r && strstr(out, "\"slot\":0,\"slots\":[{\"state\":\"valid\",\"seq\":4},"
			"{\"state\":\"empty (never written)\",\"seq\":null}]") &&
	   strstr(out, "\"mode\":\"primary\",\"commit\":\"done\"") &&
	   strstr(out, "\"uuid_current\":\"00000000deadbeef\"") &&
	   strstr(out, "\"dirty_coverage\":\"complete\",\"regions_marked\":2,"
			"\"dirty_chunks\":[[0,1023],[3072,3084]]}\n"),
	   "dump --json", out);

	snprintf(cmd, sizeof(cmd), "./colosetup metadata export %s/primary", tmpdir);
	r = run(cmd, out, sizeof(out));
	ok(!r && !strcmp(out, "# dm-colo dirty export: 00000000deadbeef 24676 sectors\n"
			 "0-8191\n24576-24675\n"), "export", out);

	snprintf(cmd, sizeof(cmd), "./colosetup metadata wipe %s/primary", tmpdir);
	r = run(cmd, out, sizeof(out));
	ok(r == 1 && strstr(out, "2 marked regions") && strstr(out, "--force"),
	   "wipe refused: a primary's marks", out);

	/* A pending commit: the overlay maps count too. */
	im.sb.commit_state = COLO_META_COMMIT_RUNNING;
	img_bits(&im, im.l.active_start, 0, COLO_META_ACTIVE, 1, 3, im.l.active_start, act, 2);
	img_super(&im, 0, 4);
	write_img(&im, "running");
	snprintf(cmd, sizeof(cmd), "./colosetup metadata dump %s/running", tmpdir);
	r = run(cmd, out, sizeof(out));
	ok(!r && strstr(out, "  commit:         running, 17 chunks to commit at the failover\n") &&
	   strstr(out, "  overlay:        generation 3, 2 active, 0 hidden chunks\n"),
	   "dump: a pending commit's overlay", out);
	snprintf(cmd, sizeof(cmd), "./colosetup metadata export %s/running", tmpdir);
	r = run(cmd, out, sizeof(out));
	ok(!r && strstr(out, " sectors\n0-8191\n8800-8807\n24576-24675\n"),
	   "export: a pending commit's active chunks", out);
	im.sb.commit_state = COLO_META_COMMIT_DONE;
	img_super(&im, 0, 4);

	im.sb.dirty_gap = COLO_META_GAP_CUT_SHORT;
	img_super(&im, 1, 5);
	write_img(&im, "cut");
	snprintf(cmd, sizeof(cmd), "./colosetup metadata dump %s/cut", tmpdir);
	r = run(cmd, out, sizeof(out));
	ok(!r && strstr(out, "  dirty coverage: incomplete (a full sync was cut short)\n"),
	   "dump: coverage cut short", out);
	snprintf(cmd, sizeof(cmd), "./colosetup metadata export %s/cut", tmpdir);
	r = run(cmd, out, sizeof(out));
	ok(r == 1 && strstr(out, "a full sync was cut short"), "export refused: coverage", out);
	snprintf(cmd, sizeof(cmd), "./colosetup metadata export --force %s/cut", tmpdir);
	r = run(cmd, out, sizeof(out));
	ok(!r && strstr(out, "# incomplete (a full sync was cut short)") &&
	   strstr(out, "\n0-8191\n24576-24675\n"), "export --force: incomplete, said so", out);

	slot_of(&im, 0, 0)[10] ^= 1;
	slot_of(&im, 0, 1)[10] ^= 1;
	write_img(&im, "corrupt");
	snprintf(cmd, sizeof(cmd), "./colosetup metadata dump %s/corrupt", tmpdir);
	r = run(cmd, out, sizeof(out));
	ok(r == 1 && strstr(out, "corrupt: superblock corrupted ("), "dump: corrupted", out);
	snprintf(cmd, sizeof(cmd), "./colosetup metadata wipe %s/corrupt && "
		 "./colosetup metadata dump %s/corrupt", tmpdir, tmpdir);
	r = run(cmd, out, sizeof(out));
	ok(r == 1 && strstr(out, "wiped (both superblock slots zeroed)") &&
	   strstr(out, "no dm-colo metadata (fresh device)"), "wipe of corrupted metadata", out);

	snprintf(cmd, sizeof(cmd), "./colosetup metadata wipe --force %s/primary && "
		 "./colosetup metadata dump %s/primary", tmpdir, tmpdir);
	r = run(cmd, out, sizeof(out));
	ok(r == 1 && strstr(out, "wiped") && strstr(out, "(fresh device)"), "wipe --force", out);

	memset(im.d, 0x5a, 2 * BLK);
	write_img(&im, "foreign");
	snprintf(cmd, sizeof(cmd), "./colosetup metadata wipe %s/foreign", tmpdir);
	r = run(cmd, out, sizeof(out));
	ok(r == 1 && strstr(out, "not dm-colo metadata: --force"), "wipe refused: foreign", out);
	snprintf(cmd, sizeof(cmd), "./colosetup metadata export %s/foreign", tmpdir);
	r = run(cmd, out, sizeof(out));
	ok(r == 1 && strstr(out, "foreign: not dm-colo metadata\n"), "export: foreign", out);

	im.sb.mode = COLO_META_MODE_SECONDARY;
	im.sb.dirty_gap = COLO_META_GAP_NONE;
	img_super(&im, 0, 6);
	img_super(&im, 1, 7);
	write_img(&im, "secondary");
	snprintf(cmd, sizeof(cmd), "./colosetup metadata wipe %s/secondary", tmpdir);
	r = run(cmd, out, sizeof(out));
	ok(!r && strstr(out, "wiped"), "wipe of a secondary's metadata needs no --force", out);

	img_super(&im, 0, 6);
	write_img(&im, "short");
	snprintf(cmd, sizeof(cmd), "%s/short", tmpdir);
	r = truncate(cmd, im.size - BLK);
	snprintf(cmd, sizeof(cmd), "./colosetup metadata dump %s/short", tmpdir);
	r = run(cmd, out, sizeof(out));
	ok(r == 1 && strstr(out, "short: truncated: "), "dump: truncated", out);

	im.sb.mode = COLO_META_MODE_PRIMARY;
	img_super(&im, 0, 8);
	write_img(&im, "shortp");
	snprintf(cmd, sizeof(cmd), "%s/shortp", tmpdir);
	r = truncate(cmd, im.size - BLK);
	snprintf(cmd, sizeof(cmd), "./colosetup metadata wipe %s/shortp", tmpdir);
	r = run(cmd, out, sizeof(out));
	ok(r == 1 && strstr(out, "2 marked regions"),
	   "wipe refused: a truncated primary's marks", out);

	im.sb.version = 2;
	img_super(&im, 0, 9);
	img_super(&im, 1, 10);
	write_img(&im, "v2");
	snprintf(cmd, sizeof(cmd), "./colosetup metadata wipe %s/v2", tmpdir);
	r = run(cmd, out, sizeof(out));
	ok(r == 1 && strstr(out, "does not read (it reads version 1): its marks cannot be read; --force"),
	   "wipe refused: another version", out);
	snprintf(cmd, sizeof(cmd), "./colosetup metadata wipe --force %s/v2", tmpdir);
	r = run(cmd, out, sizeof(out));
	ok(!r && strstr(out, "wiped"), "wipe --force: another version", out);
	im.sb.version = COLO_META_VERSION;

	free(im.d);
	img_init(&im, dev, 8, 8192);
	img_super(&im, 0, 1);
	write_img(&im, "noregions");
	snprintf(cmd, sizeof(cmd), "./colosetup metadata export %s/noregions", tmpdir);
	r = run(cmd, out, sizeof(out));
	ok(r == 1 && strstr(out, "noregions: metadata block 1 corrupted"),
	   "export: a region block with no valid slot", out);
	free(im.d);
}

/* ---- dirty import over stubs of colosetup.c ------------------------------- */

static struct colo_dev stub_dev;
static int stub_refuse_at = -1;		/* the message the kernel refuses */
static unsigned int stub_nmsgs;
static char *stub_msgs[8];

int fail(int code, const char *name, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "colosetup: %s: ", name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}

int refused(const char *name, const char *what, int err)
{
	return fail(COLO_EXIT_FAIL, name, "%s refused by the kernel: %d", what, err);
}

int skip_checks(void)
{
	return 0;
}

int open_blk(const char *role, const char *path, struct blk *b)
{
	(void)b;
	return fail(COLO_EXIT_FAIL, role, "%s: not in these tests", path);
}

int get_colo(const char *name, struct colo_dev *d)
{
	(void)name;
	*d = stub_dev;
	return 0;
}

int send_msg(const char *name, const char *msg, const char *what)
{
	if ((int)stub_nmsgs == stub_refuse_at)
		return refused(name, what, -22);
	if (stub_nmsgs < sizeof(stub_msgs) / sizeof(stub_msgs[0]))
		stub_msgs[stub_nmsgs] = strdup(msg);
	stub_nmsgs++;
	return 0;
}

/* Run dirty import of input; its stdout and stderr into out. */
static int import(const char *input, char *out, size_t len)
{
	char path[128], *argv[] = { "colosetup", "dirty", "import", "vm", path, NULL };
	struct colo_args a;
	int fd, saved[2], r;
	unsigned int i;
	ssize_t n;
	FILE *f;

	for (i = 0; i < stub_nmsgs && i < sizeof(stub_msgs) / sizeof(stub_msgs[0]); i++)
		free(stub_msgs[i]);
	memset(stub_msgs, 0, sizeof(stub_msgs));
	stub_nmsgs = 0;
	snprintf(path, sizeof(path), "%s/import", tmpdir);
	f = fopen(path, "w");
	fputs(input, f);
	fclose(f);
	if (colo_parse_args(5, argv, &a, out, len))
		return -1;
	snprintf(path, sizeof(path), "%s/import.out", tmpdir);
	fflush(stdout);
	fflush(stderr);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	saved[0] = dup(1);
	saved[1] = dup(2);
	dup2(fd, 1);
	dup2(fd, 2);
	snprintf(path, sizeof(path), "%s/import", tmpdir);
	r = cmd_dirty_import(&a);
	fflush(stdout);
	fflush(stderr);
	dup2(saved[0], 1);
	dup2(saved[1], 2);
	close(saved[0]);
	close(saved[1]);
	n = pread(fd, out, len - 1, 0);
	out[n > 0 ? n : 0] = '\0';
	close(fd);
	return r;
}

static void test_import(void)
{
	static const char hdr[] = "# dm-colo dirty export: 00000000deadbeef 24676 sectors\n";
	char in[65536], out[1024];
	unsigned int i;
	size_t n;
	int r;

	memset(&stub_dev, 0, sizeof(stub_dev));
	stub_dev.sectors = 24676;
	colo_parse_status("primary 8 0/3085 0/3085 done 0/0 0/3085 none 0/0 none ok 0 complete",
			  &stub_dev.st);
	snprintf(in, sizeof(in), "%s0-8191\n24576-24675\n7-8\n", hdr);
	r = import(in, out, sizeof(out));
	ok(!r && stub_nmsgs == 1 && stub_msgs[0] && !strcmp(stub_msgs[0], "dirty add 0-1023 3072-3084") &&
	   !strcmp(out, "vm: 1037 chunks added to the dirty bitmap (2 ranges, 1 message)\n"),
	   "import: sectors to chunks, merged, one message", out);

	r = import("9-9\n17-17\n24675\n", out, sizeof(out));
	ok(!r && stub_nmsgs == 1 && !strcmp(stub_msgs[0], "dirty add 1-2 3084"),
	   "import without a header: single sectors round to their chunks", stub_msgs[0]);

	snprintf(in, sizeof(in), "%s0-7\n24670-24676\n", hdr);
	r = import(in, out, sizeof(out));
	ok(r == 1 && !stub_nmsgs && strstr(out, "sectors 24670-24676 are beyond the device's end"),
	   "import: a range beyond the device refused before any message", out);

	r = import("# dm-colo dirty export: 00000000deadbeef 24677 sectors\n0-7\n", out,
		   sizeof(out));
	ok(r == 1 && !stub_nmsgs && strstr(out, "of a device of 24677 sectors, this one has 24676"),
	   "import: an export of another size refused", out);

	r = import("0-7\nnope\n", out, sizeof(out));
	ok(r == 1 && !stub_nmsgs && strstr(out, "import: line 2: 'nope' is not a sector range"),
	   "import: a bad line refused", out);

	/* 5000 disjoint chunks: 2 messages of at most 4096 ranges. */
	stub_dev.sectors = 1 << 20;
	for (i = 0, n = 0; i < 5000; i++)
		n += snprintf(in + n, sizeof(in) - n, "%u-%u\n", 16 * i, 16 * i + 3);
	r = import(in, out, sizeof(out));
	ok(!r && stub_nmsgs == 2 && !strncmp(stub_msgs[1], "dirty add 8192 8194 ", 20) &&
	   !strcmp(out, "vm: 5000 chunks added to the dirty bitmap (5000 ranges, 2 messages)\n"),
	   "import: 5000 ranges in 2 messages", out);

	stub_refuse_at = 1;
	r = import(in, out, sizeof(out));
	ok(r == 1 && stub_nmsgs == 1 &&
	   strstr(out, "dirty add refused by the kernel") &&
	   strstr(out, "4096 chunks were added by the 1 message before"),
	   "import: the kernel refuses the second message", out);
	stub_refuse_at = -1;

	r = import("# nothing\n", out, sizeof(out));
	ok(!r && !stub_nmsgs && strstr(out, "0 chunks added"), "import of nothing", out);

	colo_parse_status("secondary 8 0/3085 0/3085 none 0/0 0/3085 none 0/0 none ok 0", &stub_dev.st);
	r = import("0-7\n", out, sizeof(out));
	ok(r == 1 && !stub_nmsgs && strstr(out, "the device is secondary"),
	   "import refused on a secondary", out);
	for (i = 0; i < sizeof(stub_msgs) / sizeof(stub_msgs[0]); i++)
		free(stub_msgs[i]);
}

int main(void)
{
	char cmd[128];

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test-meta.XXXXXX");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 2;
	}
	test_crc();
	test_super();
	test_bitmaps();
	test_two_blocks();
	test_ranges();
	test_import();
	test_cli();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	if (system(cmd))
		fprintf(stderr, "cannot remove %s\n", tmpdir);
	printf("metadata: %d passed, %d failed\n", pass, failed);
	return failed ? 1 : 0;
}
