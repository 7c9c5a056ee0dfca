// SPDX-License-Identifier: GPL-2.0
/*
 * colo-dio: one O_DIRECT read or write with an aligned buffer, for shell
 * tests that must see each I/O's own result (busybox dd drops O_DIRECT on a
 * buffer it did not align, and a buffered write's error is then lost).
 *
 *   colo-dio write DEV OFFSET LEN SRC    write LEN bytes of SRC at OFFSET
 *                                        (the same offset of SRC) to DEV
 *   colo-dio read  DEV OFFSET LEN DST    read LEN bytes of DEV at OFFSET
 *                                        into DST (a new file)
 *
 * With COLO_DIO_MAKE_IT_FAIL=1 in the environment, the I/O itself is made
 * with this task's make-it-fail set (allocation-failure tests: failslab and
 * fail_page_alloc with task-filter then fail the allocations made in its
 * context, dm-colo's map included); the buffer is locked first, so that no
 * page fault of ours needs one.
 *
 * Exit status: 0 done, 5 EIO, 1 any other error, 2 usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* The file stays open: opening it once marked could fail. */
static int make_it_fail(const char *on)
{
	static int fd = -1;

	if (fd < 0)
		fd = open("/proc/thread-self/make-it-fail", O_WRONLY);
	if (fd < 0 || pwrite(fd, on, 1, 0) != 1) {
		fprintf(stderr, "colo-dio: /proc/thread-self/make-it-fail: %s\n",
			strerror(errno));
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	unsigned long long off, len;
	int write, fd, ffd, fail, err;
	ssize_t n;
	void *buf;

	if (argc != 6 || (strcmp(argv[1], "read") && strcmp(argv[1], "write"))) {
		fprintf(stderr, "usage: colo-dio read|write DEV OFFSET LEN FILE\n");
		return 2;
	}
	write = !strcmp(argv[1], "write");
	off = strtoull(argv[3], NULL, 0);
	len = strtoull(argv[4], NULL, 0);
	if (!len || len % 512 || off % 512 || posix_memalign(&buf, 4096, len)) {
		fprintf(stderr, "colo-dio: OFFSET and LEN must be whole sectors, LEN > 0\n");
		return 2;
	}
	fd = open(argv[2], (write ? O_WRONLY : O_RDONLY) | O_DIRECT);
	if (fd < 0) {
		fprintf(stderr, "colo-dio: %s: %s\n", argv[2], strerror(errno));
		return 1;
	}
	if (write) {
		ffd = open(argv[5], O_RDONLY);
		if (ffd < 0 || pread(ffd, buf, len, off) != (ssize_t)len) {
			fprintf(stderr, "colo-dio: cannot read %s\n", argv[5]);
			return 1;
		}
	}
	fail = getenv("COLO_DIO_MAKE_IT_FAIL") &&
	       !strcmp(getenv("COLO_DIO_MAKE_IT_FAIL"), "1");
	if (fail && (mlockall(MCL_CURRENT) || make_it_fail("1")))
		return 1;
	if (write)
		n = pwrite(fd, buf, len, off);
	else
		n = pread(fd, buf, len, off);
	err = errno;
	if (fail && make_it_fail("0"))
		return 1;
	errno = err;
	if (n < 0) {
		fprintf(stderr, "colo-dio: %s %s: %s\n", argv[1], argv[2], strerror(errno));
		return errno == EIO ? 5 : 1;
	}
	if (n != (ssize_t)len) {
		fprintf(stderr, "colo-dio: short %s: %zd of %llu bytes\n", argv[1], n, len);
		return 1;
	}
	if (!write) {
		ffd = open(argv[5], O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (ffd < 0 || pwrite(ffd, buf, len, 0) != (ssize_t)len) {
			fprintf(stderr, "colo-dio: cannot write %s\n", argv[5]);
			return 1;
		}
	}
	return 0;
}
