// SPDX-License-Identifier: GPL-2.0
/*
 * colosetup: set up and drive dm-colo devices.
 *
 * This is the entry point only; the subcommands come with their own issue.
 */
#include <stdio.h>
#include <string.h>

#include "colo-util.h"

#define COLOSETUP_VERSION "0.1"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: colosetup [--help] [--version]\n"
		"\n"
		"Set up and drive dm-colo COLO block replication devices.\n"
		"The subcommands are not implemented yet; use dmsetup with the\n"
		"tables of the README meanwhile.\n");
}

int main(int argc, char **argv)
{
	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage(stdout);
		return 0;
	}
	if (argc > 1 && !strcmp(argv[1], "--version")) {
		printf("colosetup %s\n", COLOSETUP_VERSION);
		return 0;
	}
	usage(stderr);
	return 2;
}
