/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the host unit tests test-util.c and test-report.c share: TAP lines
 * with their counts, and colosetup's command line parsed from one string.
 * Each is included by one test program (its definitions are static).
 */
#ifndef TEST_TAP_H
#define TEST_TAP_H

#include <stdio.h>
#include <string.h>

#include "colo-util.h"

static int pass, fail;

/* "ok N - WHAT 'ARG'" or "not ok N - ...", counted in pass and fail. */
static void ok(int cond, const char *what, const char *arg)
{
	if (cond)
		pass++;
	else
		fail++;
	printf("%sok %d - %s '%s'\n", cond ? "" : "not ", pass + fail, what, arg);
}

/* Split "colosetup LINE" on spaces into argv (static storage). */
static int split(const char *line, char **argv, int max)
{
	static char buf[1024];
	int n = 0;
	char *p;

	snprintf(buf, sizeof(buf), "colosetup %s", line);
	for (p = strtok(buf, " "); p && n < max - 1; p = strtok(NULL, " "))
		argv[n++] = p;
	argv[n] = NULL;
	return n;
}

/* colo_parse_args() of "colosetup LINE"; err holds 256 bytes. */
static int parse(const char *line, struct colo_args *a, char *err)
{
	char *argv[32];
	int argc = split(line, argv, 32);

	return colo_parse_args(argc, argv, a, err, 256);
}

#endif /* TEST_TAP_H */
