// SPDX-License-Identifier: GPL-2.0
/*
 * colo-imgcheck: compare a device, chunk by chunk, with two images of it,
 * for crash tests where each chunk may hold its old or its new content.
 *
 *   colo-imgcheck DEV OLD NEW CHUNK_BYTES
 *
 * Every chunk of DEV must equal the same chunk of OLD or of NEW (files or
 * devices of DEV's size; where they agree, the chunk is exact). DEV is
 * read with O_DIRECT when it is a block device (no stale page cache). It
 * prints one line per bad chunk (the first 20), then
 *
 *   chunks C differing D new N bad B
 *
 * D: chunks where OLD and NEW differ, N: of those, the ones DEV holds as
 * in NEW, B: chunks equal to neither. Exit status: 0 no bad chunk, 1 bad
 * chunks or an error, 2 usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#define IOBUF	(1U << 20)

struct img {
	const char *path;
	int fd;
	unsigned long long size;
	char *buf;
};

static int img_open(struct img *m, const char *path)
{
	struct stat st;

	m->path = path;
	if (stat(path, &st)) {
		fprintf(stderr, "colo-imgcheck: %s: %s\n", path, strerror(errno));
		return -1;
	}
	m->fd = open(path, O_RDONLY | (S_ISBLK(st.st_mode) ? O_DIRECT : 0));
	m->size = st.st_size;
	if (m->fd < 0 || (S_ISBLK(st.st_mode) &&
			  ioctl(m->fd, BLKGETSIZE64, &m->size))) {
		fprintf(stderr, "colo-imgcheck: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (posix_memalign((void **)&m->buf, 4096, IOBUF)) {
		fprintf(stderr, "colo-imgcheck: out of memory\n");
		return -1;
	}
	return 0;
}

static int img_read(struct img *m, unsigned long long off, size_t len)
{
	ssize_t n = pread(m->fd, m->buf, len, off);

	if (n != (ssize_t)len) {
		fprintf(stderr, "colo-imgcheck: %s: read at byte %llu: %s\n",
			m->path, off, n < 0 ? strerror(errno) : "short read");
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	unsigned long long chunk, off, c, nr, differing = 0, new = 0, bad = 0;
	struct img m[3];
	size_t len, i;
	int k;

	if (argc != 5) {
		fprintf(stderr, "usage: colo-imgcheck DEV OLD NEW CHUNK_BYTES\n");
		return 2;
	}
	chunk = strtoull(argv[4], NULL, 0);
	if (!chunk || chunk > IOBUF || IOBUF % chunk || chunk % 512) {
		fprintf(stderr, "colo-imgcheck: CHUNK_BYTES: a multiple of 512 dividing %u\n",
			IOBUF);
		return 2;
	}
	for (k = 0; k < 3; k++)
		if (img_open(&m[k], argv[k + 1]))
			return 1;
	if (m[1].size != m[0].size || m[2].size != m[0].size) {
		fprintf(stderr, "colo-imgcheck: sizes differ: %llu %llu %llu bytes\n",
			m[0].size, m[1].size, m[2].size);
		return 1;
	}
	nr = (m[0].size + chunk - 1) / chunk;
	for (off = 0; off < m[0].size; off += len) {
		len = m[0].size - off < IOBUF ? m[0].size - off : IOBUF;
		for (k = 0; k < 3; k++)
			if (img_read(&m[k], off, len))
				return 1;
		for (i = 0; i < len; i += chunk) {
			size_t n = len - i < chunk ? len - i : chunk;
			int old = !memcmp(m[0].buf + i, m[1].buf + i, n);
			int nw = !memcmp(m[0].buf + i, m[2].buf + i, n);

			c = (off + i) / chunk;
			if (memcmp(m[1].buf + i, m[2].buf + i, n)) {
				differing++;
				new += nw;
			}
			if (old || nw)
				continue;
			if (bad++ < 20)
				printf("chunk %llu (byte %llu): neither old nor new\n",
				       c, off + i);
		}
	}
	printf("chunks %llu differing %llu new %llu bad %llu\n", nr, differing,
	       new, bad);
	return bad ? 1 : 0;
}
