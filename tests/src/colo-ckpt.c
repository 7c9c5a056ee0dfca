// SPDX-License-Identifier: GPL-2.0
/*
 * colo-ckpt: checkpoint latency of a colo device in secondary mode.
 *
 *   colo-ckpt NAME DIRTY REPS
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
 * The message goes through the raw ioctl rather than dmsetup so that the
 * figure is the kernel's, not a process start. Exit status: 0 done, 1 a
 * failed write, message or count check, 2 usage.
 */
#include <errno.h>
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
 */
static long long active_count(const char *name, unsigned int *chunk_sectors,
			      unsigned long long *bitmap_bytes)
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
		   &active) != 3 || strcmp(mode, "secondary"))
		return -1;
	/* Fields are only ever appended: bitmap_bytes is found by position. */
	p = (char *)(spec + 1);
	for (i = 0; i < 11 && p; i++) {
		p = strchr(p, ' ');
		if (p)
			p++;
	}
	*bitmap_bytes = p ? strtoull(p, NULL, 10) : 0;
	return active;
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
	unsigned long long peak_bytes = 0, bm_bytes;
	unsigned int chunk_sectors;
	struct timespec t0, t1;
	uint64_t *ns;
	long long n;
	void *buf;
	int fd;

	if (argc != 4) {
		fprintf(stderr, "usage: colo-ckpt NAME DIRTY REPS\n");
		return 2;
	}
	dirty = strtoull(argv[2], NULL, 0);
	reps = strtoull(argv[3], NULL, 0);
	if (!reps || posix_memalign(&buf, 4096, IOBUF))
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
		clock_gettime(CLOCK_MONOTONIC, &t0);
		if (dm_call(DM_TARGET_MSG, argv[1], "checkpoint", msgbuf,
			    sizeof(msgbuf))) {
			fprintf(stderr, "colo-ckpt: checkpoint: %s\n", strerror(errno));
			return 1;
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		ns[r] = (t1.tv_sec - t0.tv_sec) * 1000000000ULL + t1.tv_nsec - t0.tv_nsec;
		n = active_count(argv[1], &chunk_sectors, &bm_bytes);
		if (n != 0) {
			fprintf(stderr, "colo-ckpt: %lld active chunks after checkpoint\n", n);
			return 1;
		}
	}
	qsort(ns, reps, sizeof(*ns), cmp_u64);
	printf("dirty %llu reps %llu chunk_bytes %u median_us %.1f p99_us %.1f max_us %.1f bitmap_bytes %llu\n",
	       dirty, reps, chunk_sectors * 512, ns[reps / 2] / 1000.0,
	       ns[(reps * 99 + 99) / 100 - 1] / 1000.0, ns[reps - 1] / 1000.0,
	       peak_bytes);
	return 0;
}
