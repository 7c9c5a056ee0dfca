// SPDX-License-Identifier: GPL-2.0
/*
 * colo-open: open a block device read-write, the way a VM manager or mkfs
 * does, and report the open's or the flush's own error.
 *
 *   colo-open [-x] [-f] [-s SECONDS] DEV
 *
 *   -x          open with O_EXCL (an exclusive claim, as mkfs and mount)
 *   -f          fsync() the device: the block layer sends it one flush
 *               (REQ_PREFLUSH) and nothing else when no page is dirty
 *   -s SECONDS  then print "held" and keep the device open SECONDS
 *
 * Exit status: 0 done, 5 EIO, 16 EBUSY, 1 any other error, 2 usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int fail(const char *what, const char *dev)
{
	int err = errno;

	fprintf(stderr, "colo-open: %s %s: %s\n", what, dev, strerror(err));
	if (err == EIO)
		return 5;
	return err == EBUSY ? 16 : 1;
}

int main(int argc, char **argv)
{
	int excl = 0, flush = 0, hold = -1, c, fd;

	while ((c = getopt(argc, argv, "xfs:")) != -1) {
		switch (c) {
		case 'x':
			excl = 1;
			break;
		case 'f':
			flush = 1;
			break;
		case 's':
			hold = atoi(optarg);
			break;
		default:
			goto usage;
		}
	}
	if (optind != argc - 1)
		goto usage;

	fd = open(argv[optind], O_RDWR | (excl ? O_EXCL : 0));
	if (fd < 0)
		return fail("open", argv[optind]);
	if (flush && fsync(fd))
		return fail("fsync", argv[optind]);
	if (hold >= 0) {
		printf("held\n");
		fflush(stdout);
		sleep(hold);
	}
	if (close(fd))
		return fail("close", argv[optind]);
	return 0;

usage:
	fprintf(stderr, "usage: colo-open [-x] [-f] [-s SECONDS] DEV\n");
	return 2;
}
