// SPDX-License-Identifier: GPL-2.0
/*
 * colo-fleece-check: a randomized checker of a colo-fleece view.
 *
 * A writer thread writes random data at random places of a device that
 * reaches base (a primary's VM device, or a secondary's ingress), while a
 * reader thread reads random ranges of the fleece and compares every byte
 * with the reference image (a copy of base taken when the fleece started),
 * and now and then discards whole chunks of the fleece: a read that
 * touches a released chunk must fail with EIO, any other must match. At
 * the end the whole fleece is read and compared. The seed is printed; the
 * same seed replays the same operations (the interleaving is the
 * scheduler's).
 *
 * usage: colo-fleece-check --write DEV --fleece DEV --ref FILE
 *          --chunk SECTORS [--ops N] [--seed S] [--discard] [--state FILE]
 *
 * --state FILE keeps the released chunks across runs on one fleece: read
 * at the start when it exists, written at the end (one byte a chunk).
 * exit 0: the view held; 1: a difference or an unexpected error; 2: usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/fs.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define SECTOR		512ULL
#define MAX_IO		(256 * 1024)

static const char *write_path, *fleece_path, *ref_path, *state_path;
static uint64_t chunk_bytes, dev_bytes, ops = 2000, seed;
static int do_discard;
static unsigned char *released;	/* per chunk, set by the reader only */
static volatile int failed;

/* xorshift64*: one state per thread, seeded from the seed. */
static uint64_t rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

static void *alloc_io(size_t len)
{
	void *p;

	if (posix_memalign(&p, 4096, len)) {
		perror("posix_memalign");
		exit(1);
	}
	return p;
}

/* A random aligned range: 512 B to 64 KiB, inside the device. */
static void pick(uint64_t *s, uint64_t *off, uint64_t *len)
{
	uint64_t sectors = dev_bytes / SECTOR;

	*len = (1 + rnd(s) % 128) * SECTOR;
	*off = (rnd(s) % sectors) * SECTOR;
	if (*off + *len > dev_bytes)
		*len = dev_bytes - *off;
}

static void *writer(void *arg)
{
	uint64_t s = seed * 2 + 1, i, off, len, j;
	unsigned char *buf = alloc_io(MAX_IO);
	int fd = open(write_path, O_WRONLY | O_DIRECT);

	(void)arg;
	if (fd < 0) {
		perror(write_path);
		failed = 1;
		return NULL;
	}
	for (i = 0; i < ops && !failed; i++) {
		pick(&s, &off, &len);
		for (j = 0; j < len; j += 8)
			*(uint64_t *)(buf + j) = rnd(&s);
		if (pwrite(fd, buf, len, off) != (ssize_t)len) {
			fprintf(stderr, "writer: op %llu: write of %llu at %llu failed: %s (the guest must never fail)\n",
				(unsigned long long)i, (unsigned long long)len,
				(unsigned long long)off, strerror(errno));
			failed = 1;
		}
	}
	close(fd);
	free(buf);
	return NULL;
}

/* Does [off, off + len) touch a released chunk? */
static int touches_released(uint64_t off, uint64_t len)
{
	uint64_t c;

	for (c = off / chunk_bytes; c <= (off + len - 1) / chunk_bytes; c++)
		if (released[c])
			return 1;
	return 0;
}

/* Read and compare one range; returns 0 when it is as it must be. */
static int check_range(int fd, int ref, unsigned char *buf,
		       unsigned char *want, uint64_t off, uint64_t len,
		       const char *what)
{
	ssize_t n = pread(fd, buf, len, off);
	uint64_t k;

	if (touches_released(off, len)) {
		if (n < 0 && errno == EIO)
			return 0;
		fprintf(stderr, "%s: read of %llu at %llu touches a released chunk: %s, expected EIO\n",
			what, (unsigned long long)len, (unsigned long long)off,
			n < 0 ? strerror(errno) : "success");
		return 1;
	}
	if (n != (ssize_t)len) {
		fprintf(stderr, "%s: read of %llu at %llu failed: %s\n", what,
			(unsigned long long)len, (unsigned long long)off,
			n < 0 ? strerror(errno) : "short read");
		return 1;
	}
	if (pread(ref, want, len, off) != (ssize_t)len) {
		perror(ref_path);
		return 1;
	}
	if (!memcmp(buf, want, len))
		return 0;
	for (k = 0; k < len && buf[k] == want[k]; k++)
		;
	fprintf(stderr, "%s: the fleece differs from the reference at byte %llu (chunk %llu): 0x%02x, expected 0x%02x\n",
		what, (unsigned long long)(off + k),
		(unsigned long long)((off + k) / chunk_bytes), buf[k], want[k]);
	return 1;
}

static void discard_some(uint64_t *s, int fd)
{
	uint64_t nr_chunks = dev_bytes / chunk_bytes;
	uint64_t first = rnd(s) % nr_chunks, n = 1 + rnd(s) % 4, c;
	uint64_t range[2];

	if (first + n > nr_chunks)
		n = nr_chunks - first;
	range[0] = first * chunk_bytes;
	range[1] = n * chunk_bytes;
	if (ioctl(fd, BLKDISCARD, range)) {
		fprintf(stderr, "discard of chunks %llu+%llu failed: %s\n",
			(unsigned long long)first, (unsigned long long)n,
			strerror(errno));
		failed = 1;
		return;
	}
	for (c = first; c < first + n; c++)
		released[c] = 1;
}

static int reader(void)
{
	uint64_t s = seed * 2 + 2, i = 0, off, len;
	unsigned char *buf = alloc_io(MAX_IO), *want = malloc(MAX_IO);
	int fd = open(fleece_path, O_RDONLY | O_DIRECT);
	int wfd = do_discard ? open(fleece_path, O_WRONLY) : -1;
	int ref = open(ref_path, O_RDONLY), bad = 0;

	if (fd < 0 || ref < 0 || (do_discard && wfd < 0) || !want) {
		perror("open");
		return 1;
	}
	while (!failed && !bad && i++ < ops * 4) {
		if (do_discard && rnd(&s) % 64 == 0) {
			discard_some(&s, wfd);
			continue;
		}
		pick(&s, &off, &len);
		bad = check_range(fd, ref, buf, want, off, len, "reader");
	}
	/* The whole view, a chunk at a time. */
	for (off = 0; !bad && off < dev_bytes; off += len) {
		len = dev_bytes - off < chunk_bytes ? dev_bytes - off :
		      chunk_bytes;
		bad = check_range(fd, ref, buf, want, off, len, "final pass");
	}
	close(fd);
	close(ref);
	if (wfd >= 0)
		close(wfd);
	free(buf);
	free(want);
	return bad;
}

/* --state: the released chunks of earlier runs on the same fleece. */
static int load_state(void)
{
	size_t n = dev_bytes / chunk_bytes;
	FILE *f = fopen(state_path, "r");

	if (!f)
		return errno == ENOENT ? 0 : (perror(state_path), 1);
	if (fread(released, 1, n, f) != n) {
		fprintf(stderr, "%s: not a state of this fleece\n", state_path);
		fclose(f);
		return 1;
	}
	fclose(f);
	return 0;
}

static int save_state(void)
{
	size_t n = dev_bytes / chunk_bytes;
	FILE *f = fopen(state_path, "w");

	if (!f || fwrite(released, 1, n, f) != n || fclose(f)) {
		perror(state_path);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "write", required_argument, NULL, 'w' },
		{ "fleece", required_argument, NULL, 'f' },
		{ "ref", required_argument, NULL, 'r' },
		{ "chunk", required_argument, NULL, 'c' },
		{ "ops", required_argument, NULL, 'n' },
		{ "seed", required_argument, NULL, 's' },
		{ "discard", no_argument, NULL, 'd' },
		{ "state", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	pthread_t wt;
	int o, fd, bad;

	seed = (uint64_t)time(NULL);
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'w': write_path = optarg; break;
		case 'f': fleece_path = optarg; break;
		case 'r': ref_path = optarg; break;
		case 'c': chunk_bytes = strtoull(optarg, NULL, 0) * SECTOR; break;
		case 'n': ops = strtoull(optarg, NULL, 0); break;
		case 's': seed = strtoull(optarg, NULL, 0); break;
		case 'd': do_discard = 1; break;
		case 't': state_path = optarg; break;
		default: return 2;
		}
	}
	if (!write_path || !fleece_path || !ref_path || !chunk_bytes || !seed) {
		fprintf(stderr, "usage: colo-fleece-check --write DEV --fleece DEV --ref FILE --chunk SECTORS [--ops N] [--seed S] [--discard] [--state FILE]\n");
		return 2;
	}
	fd = open(fleece_path, O_RDONLY);
	if (fd < 0 || ioctl(fd, BLKGETSIZE64, &dev_bytes)) {
		perror(fleece_path);
		return 1;
	}
	close(fd);
	if (dev_bytes % chunk_bytes) {
		fprintf(stderr, "the fleece is not a whole number of chunks\n");
		return 2;
	}
	released = calloc(dev_bytes / chunk_bytes, 1);
	if (!released)
		return 1;
	if (state_path && load_state())
		return 1;
	printf("colo-fleece-check: seed %llu, %llu ops, chunk %llu bytes%s (replay: --seed %llu)\n",
	       (unsigned long long)seed, (unsigned long long)ops,
	       (unsigned long long)chunk_bytes, do_discard ? ", discards" : "",
	       (unsigned long long)seed);
	fflush(stdout);
	if (pthread_create(&wt, NULL, writer, NULL)) {
		perror("pthread_create");
		return 1;
	}
	bad = reader();
	if (bad)
		failed = 1;
	pthread_join(wt, NULL);
	if (state_path && save_state())
		failed = 1;
	printf("colo-fleece-check: %s (seed %llu)\n", failed ? "FAIL" : "PASS",
	       (unsigned long long)seed);
	return failed ? 1 : 0;
}
