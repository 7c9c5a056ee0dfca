// SPDX-License-Identifier: GPL-2.0
/*
 * colo-ckpt: checkpoint (or failover) latency of a colo device in
 * secondary mode.
 *
 *   colo-ckpt [--failover] [--stat FILE] NAME DIRTY REPS
 *
 * REPS times: write DIRTY whole chunks through /dev/mapper/NAME (O_DIRECT,
 * contiguous from sector 0, so every write sets one active bit), check that
 * the status counts DIRTY active chunks, time one "checkpoint" message (the
 * DM_TARGET_MSG ioctl alone, with CLOCK_MONOTONIC), and check that the
 * status then counts none. It prints one line:
 *
 *   dirty D reps R chunk_bytes C median_us M p99_us P max_us X bitmap_bytes B
 *
 * where B is the bitmaps' memory (the status's bitmap_bytes) with DIRTY
 * chunks set.
 *
 * --failover times one "failover" message instead (REPS must be 1: the
 * device is primary afterwards) and checks that the device is then primary
 * with DIRTY dirty chunks. --stat FILE (a disk's /sys/block/DEV/stat, the
 * metadata device's) adds "stat_writes W stat_flushes F" to the line: the
 * write and flush requests the disk completed while the messages ran, read
 * just before and just after each ioctl and summed over the REPS messages.
 * The message goes through the raw ioctl rather than dmsetup so that the
 * figure is the kernel's, not a process start. Exit status: 0 done, 1 a
 * failed write, message or count check, 2 usage.
 */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <linux/dm-ioctl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define IOBUF	(1U << 20)

static int ctl_fd;

/* One DM ioctl on NAME; the reply lands in @buf (@len bytes). */
static int dm_call(unsigned long cmd, const char *name, const char *msg,
		   char *buf, size_t len)
{
	struct dm_ioctl *dmi = (struct dm_ioctl *)buf;

	memset(buf, 0, len);
	dmi->version[0] = DM_VERSION_MAJOR;
	dmi->version[1] = 0;
	dmi->version[2] = 0;
	dmi->data_size = len;
	dmi->data_start = sizeof(*dmi);
	snprintf(dmi->name, sizeof(dmi->name), "%s", name);
	if (msg) {
		struct dm_target_msg *tmsg = (void *)(buf + dmi->data_start);

		tmsg->sector = 0;
		snprintf(tmsg->message, len - dmi->data_start - sizeof(*tmsg),
			 "%s", msg);
	}
	return ioctl(ctl_fd, cmd, dmi);
}

/*
 * The active count (third status field, "<active>/<chunks>"), or -1; the
 * chunk size and the bitmaps' memory (the twelfth field) in the pointers.
 * The device must be in mode @want_mode; its dirty count (the seventh
 * field) goes to *dirty when @dirty is not NULL.
 */
static long long status_count(const char *name, const char *want_mode,
			      unsigned int *chunk_sectors,
			      unsigned long long *bitmap_bytes,
			      unsigned long long *dirty)
{
	static char buf[16384];
	struct dm_ioctl *dmi = (struct dm_ioctl *)buf;
	struct dm_target_spec *spec;
	char mode[32], *p;
	long long active;
	int i;

	if (dm_call(DM_TABLE_STATUS, name, NULL, buf, sizeof(buf)) ||
	    (dmi->flags & DM_BUFFER_FULL_FLAG) || dmi->target_count != 1)
		return -1;
	spec = (void *)(buf + dmi->data_start);
	if (strcmp(spec->target_type, "colo") ||
	    sscanf((char *)(spec + 1), "%31s %u %lld/", mode, chunk_sectors,
		   &active) != 3 || strcmp(mode, want_mode))
		return -1;
	/* Fields are only ever appended: they are found by position. */
	p = (char *)(spec + 1);
	for (i = 0; i < 11 && p; i++) {
		p = strchr(p, ' ');
		if (p)
			p++;
		if (i == 5 && dirty)
			*dirty = p ? strtoull(p, NULL, 10) : 0;
	}
	*bitmap_bytes = p ? strtoull(p, NULL, 10) : 0;
	return active;
}

static long long active_count(const char *name, unsigned int *chunk_sectors,
			      unsigned long long *bitmap_bytes)
{
	return status_count(name, "secondary", chunk_sectors, bitmap_bytes,
			    NULL);
}

/*
 * Write and flush requests completed by the disk of @path (its
 * /sys/block/DEV/stat: fields 5 and 16); false when unreadable.
 */
static bool disk_stat(const char *path, unsigned long long *writes,
		      unsigned long long *flushes)
{
	unsigned long long f[17] = { 0 };
	FILE *fp = fopen(path, "r");
	int n = 0;

	if (!fp)
		return false;
	while (n < 17 && fscanf(fp, "%llu", &f[n]) == 1)
		n++;
	fclose(fp);
	*writes = f[4];
	*flushes = f[15];
	return n >= 11;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	char path[512], msgbuf[4096];
	unsigned long long dirty, reps, r, bytes, off;
	unsigned long long peak_bytes = 0, bm_bytes, now_dirty;
	unsigned long long w0, f0, w1, f1, sum_w = 0, sum_f = 0;
	const char *stat = NULL, *msg = "checkpoint";
	unsigned int chunk_sectors;
	struct timespec t0, t1;
	bool failover = false;
	uint64_t *ns;
	long long n;
	void *buf;
	int fd;

	while (argc > 1 && argv[1][0] == '-') {
		if (!strcmp(argv[1], "--failover")) {
			failover = true;
			msg = "failover";
		} else if (!strcmp(argv[1], "--stat") && argc > 2) {
			stat = argv[2];
			argv++;
			argc--;
		} else {
			argc = 0;
			break;
		}
		argv++;
		argc--;
	}
	if (argc != 4) {
		fprintf(stderr, "usage: colo-ckpt [--failover] [--stat FILE] NAME DIRTY REPS\n");
		return 2;
	}
	dirty = strtoull(argv[2], NULL, 0);
	reps = strtoull(argv[3], NULL, 0);
	if (!reps || (failover && reps != 1) || posix_memalign(&buf, 4096, IOBUF))
		return 2;
	memset(buf, 0x5a, IOBUF);
	ns = calloc(reps, sizeof(*ns));
	ctl_fd = open("/dev/mapper/control", O_RDWR);
	snprintf(path, sizeof(path), "/dev/mapper/%s", argv[1]);
	fd = open(path, O_WRONLY | O_DIRECT);
	if (!ns || ctl_fd < 0 || fd < 0) {
		fprintf(stderr, "colo-ckpt: cannot open %s or the control device: %s\n",
			path, strerror(errno));
		return 1;
	}
	if (active_count(argv[1], &chunk_sectors, &bm_bytes) != 0) {
		fprintf(stderr, "colo-ckpt: %s is not a clean secondary colo device\n",
			argv[1]);
		return 1;
	}
	bytes = dirty * chunk_sectors * 512ULL;
	for (r = 0; r < reps; r++) {
		for (off = 0; off < bytes; off += IOBUF) {
			size_t len = bytes - off < IOBUF ? bytes - off : IOBUF;

			if (pwrite(fd, buf, len, off) != (ssize_t)len) {
				fprintf(stderr, "colo-ckpt: write at %llu: %s\n",
					off, strerror(errno));
				return 1;
			}
		}
		n = active_count(argv[1], &chunk_sectors, &bm_bytes);
		if (n != (long long)dirty) {
			fprintf(stderr, "colo-ckpt: %lld active chunks, expected %llu\n",
				n, dirty);
			return 1;
		}
		if (bm_bytes > peak_bytes)
			peak_bytes = bm_bytes;
		if (stat && !disk_stat(stat, &w0, &f0)) {
			fprintf(stderr, "colo-ckpt: cannot read %s\n", stat);
			return 1;
		}
		clock_gettime(CLOCK_MONOTONIC, &t0);
		if (dm_call(DM_TARGET_MSG, argv[1], msg, msgbuf, sizeof(msgbuf))) {
			fprintf(stderr, "colo-ckpt: %s: %s\n", msg, strerror(errno));
			return 1;
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		ns[r] = (t1.tv_sec - t0.tv_sec) * 1000000000ULL + t1.tv_nsec - t0.tv_nsec;
		if (stat && disk_stat(stat, &w1, &f1)) {
			sum_w += w1 - w0;
			sum_f += f1 - f0;
		}
		if (failover) {
			now_dirty = 0;
			n = status_count(argv[1], "primary", &chunk_sectors,
					 &bm_bytes, &now_dirty);
			if (n < 0 || now_dirty != dirty) {
				fprintf(stderr, "colo-ckpt: not primary with %llu dirty chunks after failover (%llu)\n",
					dirty, now_dirty);
				return 1;
			}
			continue;
		}
		n = active_count(argv[1], &chunk_sectors, &bm_bytes);
		if (n != 0) {
			fprintf(stderr, "colo-ckpt: %lld active chunks after checkpoint\n", n);
			return 1;
		}
	}
	qsort(ns, reps, sizeof(*ns), cmp_u64);
	printf("dirty %llu reps %llu chunk_bytes %u median_us %.1f p99_us %.1f max_us %.1f bitmap_bytes %llu",
	       dirty, reps, chunk_sectors * 512, ns[reps / 2] / 1000.0,
	       ns[(reps * 99 + 99) / 100 - 1] / 1000.0, ns[reps - 1] / 1000.0,
	       peak_bytes);
	if (stat)
		printf(" stat_writes %llu stat_flushes %llu", sum_w, sum_f);
	printf("\n");
	return 0;
}
