// SPDX-License-Identifier: GPL-2.0
/*
 * colosetup's metadata commands: "metadata dump|export|wipe DEV" on an
 * inactive metadata device (read with colo-meta.c), the checks create
 * makes of a metadata device, and "dirty import NAME", which sends a
 * returning old primary's export to the new primary as "dirty add"
 * messages.
 */
#define _GNU_SOURCE	/* O_DIRECT */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "colo-meta.h"
#include "colo-range.h"
#include "colosetup.h"

/*
 * Open a metadata device (or an image file) for reading, or for writing
 * exclusively, with O_DIRECT where it is supported: the kernel writes the
 * metadata around the page cache. Returns 0 or an exit code.
 */
static int open_meta_dev(const char *path, int rw, int *fdp, uint64_t *bytes)
{
	struct stat sb;
	int flags, fd;

	if (stat(path, &sb))
		return fail(COLO_EXIT_FAIL, path, "%s", strerror(errno));
	if (!S_ISBLK(sb.st_mode) && !S_ISREG(sb.st_mode))
		return fail(COLO_EXIT_FAIL, path, "not a block device or an image file");
	flags = (rw ? O_RDWR : O_RDONLY) | O_CLOEXEC;
	if (rw && S_ISBLK(sb.st_mode))
		flags |= O_EXCL;
	fd = open(path, flags | O_DIRECT);
	if (fd < 0 && errno == EINVAL)
		fd = open(path, flags);
	if (fd < 0 && errno == EBUSY)
		return fail(COLO_EXIT_BUSY, path,
			    "in use (by a dm-colo table, or mounted, or held by another device)");
	if (fd < 0)
		return fail(COLO_EXIT_FAIL, path, "%s", strerror(errno));
	*bytes = sb.st_size;
	if (S_ISBLK(sb.st_mode) && ioctl(fd, BLKGETSIZE64, bytes)) {
		int e = errno;

		close(fd);
		return fail(COLO_EXIT_FAIL, path, "cannot read its size: %s", strerror(e));
	}
	*fdp = fd;
	return 0;
}

/* Open DEV and its superblock; 0 or an exit code (m is closed then). */
static int open_meta(const char *path, int rw, struct colo_meta *m)
{
	uint64_t bytes;
	int fd, r;

	r = open_meta_dev(path, rw, &fd, &bytes);
	if (r)
		return r;
	r = colo_meta_open(m, fd, bytes);
	if (r) {
		fail(COLO_EXIT_FAIL, path, "%s", m->err);
		colo_meta_close(m);
		close(fd);
		return COLO_EXIT_FAIL;
	}
	return 0;
}

static void close_meta(struct colo_meta *m)
{
	close(m->fd);
	colo_meta_close(m);
}

/* ---- metadata dump -------------------------------------------------------- */

/* What dump shows beyond the superblock. */
struct dump_data {
	struct colo_ranges dirty;	/* chunks of the marked regions */
	uint64_t marked;
	int maps;			/* the commit runs: the maps were read */
	uint64_t active, hidden;
};

static void dump_text(const char *path, const struct colo_meta *m, const struct dump_data *dd)
{
	const struct colo_meta_sb *sb = &m->sb;
	const char *gap = colo_meta_gap_reason(sb->dirty_gap);
	char b1[32], b2[32];
	unsigned int s;
	size_t i;

	printf("%s: dm-colo metadata version %u, superblock from slot %d\n", path, sb->version,
	       m->slot);
	for (s = 0; s < 2; s++) {
		printf("  slot %u:         %s", s, colo_slot_state_name(m->slot_state[s]));
		if (m->slot_state[s] == COLO_SLOT_VALID)
			printf(", seq %" PRIu64 "%s", m->slot_seq[s],
			       (int)s == m->slot ? " (the newest)" : "");
		if (m->slot_state[s] == COLO_SLOT_FIELDS)
			printf(", %s", m->slot_why[s]);
		putchar('\n');
	}
	printf("  instance:       %016" PRIx64 "\n", sb->instance);
	printf("  mode:           %s\n", colo_meta_mode_name(sb->mode));
	printf("  commit:         %s, %" PRIu64 " chunks to commit at the failover\n",
	       colo_meta_commit_name(sb->commit_state), sb->to_commit);
	printf("  device:         %s (%" PRIu64 " sectors)\n",
	       colo_human(sb->dev_sectors << 9, b1, sizeof(b1)), sb->dev_sectors);
	printf("  chunk:          %s (%u sectors), %" PRIu64 " chunks\n",
	       colo_human(sb->chunk_sectors * 512ULL, b1, sizeof(b1)), sb->chunk_sectors,
	       (uint64_t)m->layout.nr_chunks);
	printf("  region:         %s (%u sectors), %" PRIu64 " regions\n",
	       colo_human(sb->region_sectors * 512ULL, b1, sizeof(b1)), sb->region_sectors,
	       (uint64_t)m->layout.nr_regions);
	printf("  blocks:         %" PRIu64 " of 4 KiB (%s; the device holds %s)\n", sb->nr_blocks,
	       colo_human(sb->nr_blocks * COLO_META_BLOCK_SIZE, b1, sizeof(b1)),
	       colo_human(m->dev_bytes, b2, sizeof(b2)));
	printf("  uuid:           current %016" PRIx64 ", previous %016" PRIx64 "\n",
	       sb->current_uuid, sb->previous_uuid);
	printf("  failovers:      %" PRIu64 "\n", sb->failovers);
	printf("  overlay:        generation %" PRIu64, sb->overlay_generation);
	if (dd->maps)
		printf(", %" PRIu64 " active, %" PRIu64 " hidden chunks", dd->active, dd->hidden);
	putchar('\n');
	if (gap)
		printf("  dirty coverage: incomplete (%s)\n", gap);
	else
		printf("  dirty coverage: complete\n");
	printf("  regions marked: %" PRIu64 " of %" PRIu64 "\n", dd->marked, (uint64_t)m->layout.nr_regions);
	printf("  dirty chunks:   %" PRIu64 " in %zu range%s\n", colo_ranges_count(&dd->dirty),
	       dd->dirty.n, dd->dirty.n == 1 ? "" : "s");
	for (i = 0; i < dd->dirty.n; i++)
		printf("    %" PRIu64 "-%" PRIu64 "\n", dd->dirty.r[i].first, dd->dirty.r[i].last);
}

static void dump_json(const char *path, const struct colo_meta *m, const struct dump_data *dd)
{
	const struct colo_meta_sb *sb = &m->sb;
	unsigned int s;
	size_t i;

	fputs("{\"device\":", stdout);
	colo_json_str(stdout, path);
	printf(",\"version\":%u,\"slot\":%d,\"slots\":[", sb->version, m->slot);
	for (s = 0; s < 2; s++) {
		printf("%s{\"state\":", s ? "," : "");
		colo_json_str(stdout, colo_slot_state_name(m->slot_state[s]));
		if (m->slot_state[s] == COLO_SLOT_VALID)
			printf(",\"seq\":%" PRIu64 "}", m->slot_seq[s]);
		else
			fputs(",\"seq\":null}", stdout);
	}
	printf("],\"instance\":\"%016" PRIx64 "\",\"mode\":\"%s\",\"commit\":\"%s\"",
	       sb->instance, colo_meta_mode_name(sb->mode), colo_meta_commit_name(sb->commit_state));
	printf(",\"to_commit\":%" PRIu64 ",\"dev_sectors\":%" PRIu64 ",\"chunk_sectors\":%u"
	       ",\"region_sectors\":%u,\"chunks\":%" PRIu64 ",\"regions\":%" PRIu64
	       ",\"nr_blocks\":%" PRIu64, sb->to_commit, sb->dev_sectors, sb->chunk_sectors,
	       sb->region_sectors, (uint64_t)m->layout.nr_chunks, (uint64_t)m->layout.nr_regions, sb->nr_blocks);
	printf(",\"uuid_current\":\"%016" PRIx64 "\",\"uuid_previous\":\"%016" PRIx64 "\""
	       ",\"failovers\":%" PRIu64 ",\"overlay_generation\":%" PRIu64,
	       sb->current_uuid, sb->previous_uuid, sb->failovers, sb->overlay_generation);
	if (dd->maps)
		printf(",\"active_chunks\":%" PRIu64 ",\"hidden_chunks\":%" PRIu64, dd->active,
		       dd->hidden);
	else
		fputs(",\"active_chunks\":null,\"hidden_chunks\":null", stdout);
	printf(",\"dirty_coverage\":\"%s\",\"regions_marked\":%" PRIu64 ",\"dirty_chunks\":[",
	       colo_meta_gap_word(sb->dirty_gap), dd->marked);
	for (i = 0; i < dd->dirty.n; i++)
		printf("%s[%" PRIu64 ",%" PRIu64 "]", i ? "," : "", dd->dirty.r[i].first,
		       dd->dirty.r[i].last);
	puts("]}");
}

int cmd_metadata_dump(const struct colo_args *a)
{
	struct colo_ranges regions, runs;
	struct dump_data dd;
	struct colo_meta m;
	int r, fd;

	/* Reading a device a live table writes shows a moving state. */
	fd = open(a->dev, O_RDONLY | O_EXCL | O_CLOEXEC);
	if (fd < 0 && errno == EBUSY)
		fprintf(stderr, "colosetup: %s: in use (by a live table?): what is read may be changing\n",
			a->dev);
	if (fd >= 0)
		close(fd);
	r = open_meta(a->dev, 0, &m);
	if (r)
		return r;
	memset(&dd, 0, sizeof(dd));
	colo_ranges_init(&regions);
	colo_ranges_init(&runs);
	colo_ranges_init(&dd.dirty);
	r = colo_meta_regions(&m, &regions, &dd.marked);
	if (!r && colo_meta_regions_to_chunks(&m, &regions, &dd.dirty))
		r = COLO_META_ENOMEM;
	if (!r && m.sb.commit_state == COLO_META_COMMIT_RUNNING) {
		dd.maps = 1;
		r = colo_meta_map(&m, COLO_META_ACTIVE, &runs, &dd.active);
		if (!r)
			r = colo_meta_map(&m, COLO_META_HIDDEN, &runs, &dd.hidden);
	}
	if (r == COLO_META_ENOMEM)
		snprintf(m.err, sizeof(m.err), "out of memory");
	if (r)
		r = fail(COLO_EXIT_FAIL, a->dev, "%s", m.err);
	else if (a->json)
		dump_json(a->dev, &m, &dd);
	else
		dump_text(a->dev, &m, &dd);
	colo_ranges_free(&regions);
	colo_ranges_free(&runs);
	colo_ranges_free(&dd.dirty);
	close_meta(&m);
	return r;
}

/* ---- metadata export ------------------------------------------------------ */

int cmd_metadata_export(const struct colo_args *a)
{
	const char *gap;
	struct colo_ranges sectors;
	struct colo_meta m;
	char line[128];
	size_t i;
	int r;

	r = open_meta(a->dev, 0, &m);
	if (r)
		return r;
	gap = colo_meta_gap_reason(m.sb.dirty_gap);
	if (gap && !a->force) {
		close_meta(&m);
		return fail(COLO_EXIT_FAIL, a->dev,
			    "the marks may miss sectors that differ from a replica (dirty coverage: %s): resync it in full, or --force to export them anyway",
			    gap);
	}
	colo_ranges_init(&sectors);
	r = colo_meta_export(&m, &sectors);
	if (r) {
		r = fail(COLO_EXIT_FAIL, a->dev, "%s", m.err);
	} else {
		colo_export_hdr_line(line, sizeof(line), m.sb.current_uuid, m.sb.dev_sectors);
		puts(line);
		if (gap)
			printf("# incomplete (%s): sectors that differ may be missing\n", gap);
		for (i = 0; i < sectors.n; i++)
			printf("%" PRIu64 "-%" PRIu64 "\n", sectors.r[i].first, sectors.r[i].last);
		if (fflush(stdout) || ferror(stdout))
			r = fail(COLO_EXIT_FAIL, a->dev, "cannot write the export: %s",
				 strerror(errno));
	}
	colo_ranges_free(&sectors);
	close_meta(&m);
	return r;
}

/* ---- metadata wipe -------------------------------------------------------- */

/* Whether wiping m loses marks: 0 no, else an exit code (refused). */
static int wipe_loses_marks(const char *path, struct colo_meta *m)
{
	struct colo_ranges regions, chunks;
	uint64_t marked = 0;
	int r;

	if (m->sb.mode != COLO_META_MODE_PRIMARY)
		return 0;
	colo_ranges_init(&regions);
	colo_ranges_init(&chunks);
	r = colo_meta_regions(m, &regions, &marked);
	if (!r)
		r = colo_meta_regions_to_chunks(m, &regions, &chunks) ? COLO_META_ENOMEM : 0;
	if (r)
		r = fail(COLO_EXIT_FAIL, path,
			 "a primary's metadata whose marks cannot be read (%s): --force wipes it anyway",
			 m->err);
	else if (marked)
		r = fail(COLO_EXIT_FAIL, path,
			 "a primary's metadata with %" PRIu64 " marked region%s (%" PRIu64
			 " chunks that may differ from a replica): wiping loses them unless exported first (colosetup metadata export %s); --force wipes anyway",
			 marked, marked == 1 ? "" : "s", colo_ranges_count(&chunks), path);
	colo_ranges_free(&regions);
	colo_ranges_free(&chunks);
	return r;
}

int cmd_metadata_wipe(const struct colo_args *a)
{
	struct colo_meta m;
	uint64_t bytes;
	void *zero;
	ssize_t n;
	int fd, r;

	r = open_meta_dev(a->dev, 1, &fd, &bytes);
	if (r)
		return r;
	r = colo_meta_open(&m, fd, bytes);
	if (r == COLO_META_EFRESH) {
		printf("%s: no dm-colo metadata (fresh device): nothing to wipe\n", a->dev);
		r = 0;
		goto out;
	}
	if (r == COLO_META_EIO || r == COLO_META_ENOMEM) {
		r = fail(COLO_EXIT_FAIL, a->dev, "%s", m.err);
		goto out;
	}
	if (r == COLO_META_EFOREIGN && !a->force) {
		r = fail(COLO_EXIT_FAIL, a->dev,
			 "not dm-colo metadata: --force zeroes its first 8 KiB anyway");
		goto out;
	}
	if (r == COLO_META_EVERSION && !a->force) {
		r = fail(COLO_EXIT_FAIL, a->dev,
			 "%s: its marks cannot be read; --force wipes it anyway", m.err);
		goto out;
	}
	/* A valid superblock (on a device maybe too small): are there marks? */
	if ((r == COLO_META_OK || r == COLO_META_ETRUNC) && !a->force)
		r = wipe_loses_marks(a->dev, &m);
	else
		r = 0;
	if (r)
		goto out;
	/* Both superblock slots: later blocks, of the old instance, are ignored. */
	if (posix_memalign(&zero, COLO_META_BLOCK_SIZE, 2 * COLO_META_BLOCK_SIZE)) {
		r = fail(COLO_EXIT_FAIL, a->dev, "out of memory");
		goto out;
	}
	memset(zero, 0, 2 * COLO_META_BLOCK_SIZE);
	n = bytes < 2 * COLO_META_BLOCK_SIZE ? (ssize_t)(bytes & ~511ULL) :
	    2 * COLO_META_BLOCK_SIZE;
	if (pwrite(fd, zero, n, 0) != n || fsync(fd))
		r = fail(COLO_EXIT_FAIL, a->dev, "cannot zero the superblock: %s", strerror(errno));
	else
		printf("%s: dm-colo metadata wiped (both superblock slots zeroed)\n", a->dev);
	free(zero);
out:
	colo_meta_close(&m);
	close(fd);
	return r;
}

/* ---- create --metadata ----------------------------------------------------- */

int meta_check_create(const struct colo_args *a, const struct blk *meta,
		      uint64_t dev_sectors, unsigned int chunk,
		      unsigned int *region_sectors)
{
	struct colo_meta_layout l;
	struct colo_meta m;
	unsigned int region;
	char rs[32];
	uint64_t bytes;
	int fd, r;

	r = open_meta_dev(meta->path, 0, &fd, &bytes);
	if (r)
		return r;
	r = colo_meta_open(&m, fd, bytes);
	if (r == COLO_META_OK &&
	    (m.sb.dev_sectors != dev_sectors || m.sb.chunk_sectors != chunk ||
	     (*region_sectors && *region_sectors != m.sb.region_sectors))) {
		r = fail(COLO_EXIT_FAIL, a->name,
			 "metadata %s holds the state of a device of %" PRIu64
			 " sectors with %u-sector chunks and %u-sector regions, not this one (%" PRIu64
			 " sectors, %u-sector chunks%s): colosetup metadata wipe %s discards it",
			 meta->path, m.sb.dev_sectors, m.sb.chunk_sectors, m.sb.region_sectors,
			 dev_sectors, chunk, *region_sectors ? ", other regions" : "", meta->path);
	} else if (r == COLO_META_OK) {
		*region_sectors = m.sb.region_sectors;
		r = 0;
	} else if (r == COLO_META_EFRESH) {
		r = 0;
	} else if (r == COLO_META_EFOREIGN) {
		r = fail(COLO_EXIT_FAIL, a->name,
			 "metadata %s is neither dm-colo metadata nor zeroed (colosetup metadata wipe %s --force zeroes its superblock)",
			 meta->path, meta->path);
	} else {
		r = fail(COLO_EXIT_FAIL, a->name, "metadata %s: %s", meta->path, m.err);
	}
	colo_meta_close(&m);
	close(fd);
	if (r)
		return r;
	/* The default region (4 MiB) is never smaller than a chunk. */
	region = *region_sectors ? *region_sectors : COLO_DEFAULT_REGION_SECTORS;
	colo_meta_layout(&l, dev_sectors, __builtin_ctz(chunk), __builtin_ctz(region));
	if (meta->sectors < l.nr_blocks * COLO_META_BLOCK_SECTORS)
		return fail(COLO_EXIT_FAIL, a->name,
			    "metadata %s has %" PRIu64 " sectors, it needs at least %" PRIu64
			    " (for %s regions)", meta->path, meta->sectors,
			    (uint64_t)l.nr_blocks * COLO_META_BLOCK_SECTORS,
			    colo_human(region * 512ULL, rs, sizeof(rs)));
	if (meta->lbs > COLO_META_BLOCK_SIZE)
		return fail(COLO_EXIT_FAIL, a->name,
			    "metadata %s has a logical block size of %u, more than its 4 KiB blocks",
			    meta->path, meta->lbs);
	return 0;
}

/* ---- dirty import ---------------------------------------------------------- */

int cmd_dirty_import(const struct colo_args *a)
{
	const char *src = a->file && strcmp(a->file, "-") ? a->file : NULL;
	struct colo_ranges sectors, chunks;
	struct colo_export_hdr hdr;
	struct colo_dev d;
	unsigned int msgs = 0;
	uint64_t sent = 0;
	size_t i, next = 0;
	char err[256];
	FILE *f;
	int r;

	r = get_colo(a->name, &d);
	if (r)
		return r;
	if (strcmp(d.st.mode, "primary") && !skip_checks())
		return fail(COLO_EXIT_FAIL, a->name,
			    "dirty import refused: the device is secondary (fail over first)");
	f = src ? fopen(src, "r") : stdin;
	if (!f)
		return fail(COLO_EXIT_FAIL, a->name, "%s: %s", src, strerror(errno));
	colo_ranges_init(&sectors);
	colo_ranges_init(&chunks);
	r = colo_ranges_read(f, &sectors, &hdr, err, sizeof(err));
	if (src)
		fclose(f);
	if (r) {
		r = fail(COLO_EXIT_FAIL, a->name, "%s: %s", src ? src : "stdin", err);
		goto out;
	}
	colo_ranges_merge(&sectors);
	if (!skip_checks() && hdr.present && hdr.dev_sectors != d.sectors) {
		r = fail(COLO_EXIT_FAIL, a->name,
			 "dirty import refused: the export is of a device of %" PRIu64
			 " sectors, this one has %" PRIu64, hdr.dev_sectors, d.sectors);
		goto out;
	}
	if (!skip_checks() && sectors.n && sectors.r[sectors.n - 1].last >= d.sectors) {
		r = fail(COLO_EXIT_FAIL, a->name,
			 "dirty import refused: sectors %" PRIu64 "-%" PRIu64
			 " are beyond the device's end (%" PRIu64 " sectors); nothing was added",
			 sectors.r[sectors.n - 1].first, sectors.r[sectors.n - 1].last, d.sectors);
		goto out;
	}
	if (colo_ranges_to_chunks(&sectors, d.st.chunk, &chunks)) {
		r = fail(COLO_EXIT_FAIL, a->name, "out of memory");
		goto out;
	}
	while (next < chunks.n) {
		size_t from = next;
		char *msg = colo_dirty_add_msg(&chunks, &next);

		if (!msg) {
			r = fail(COLO_EXIT_FAIL, a->name, "out of memory");
			break;
		}
		r = send_msg(a->name, msg, "dirty add");
		free(msg);
		if (r) {
			if (sent)
				fprintf(stderr, "colosetup: %s: %" PRIu64
					" chunks were added by the %u message%s before\n",
					a->name, sent, msgs, msgs == 1 ? "" : "s");
			break;
		}
		msgs++;
		for (i = from; i < next; i++)
			sent += chunks.r[i].last - chunks.r[i].first + 1;
	}
	if (!r)
		printf("%s: %" PRIu64 " chunks added to the dirty bitmap (%zu range%s, %u message%s)\n",
		       a->name, sent, chunks.n, chunks.n == 1 ? "" : "s", msgs, msgs == 1 ? "" : "s");
out:
	colo_ranges_free(&sectors);
	colo_ranges_free(&chunks);
	return r;
}
