// SPDX-License-Identifier: GPL-2.0
/* Host unit tests of colo-util.c. Prints TAP and "N passed, N failed". */
#include <stdio.h>
#include <string.h>

#include "colo-util.h"

static int pass, fail;

static void ok(int cond, const char *what, const char *arg)
{
	if (cond)
		pass++;
	else
		fail++;
	printf("%sok %d - %s '%s'\n", cond ? "" : "not ", pass + fail, what, arg);
}

int main(void)
{
	static const struct { const char *s; uint64_t v; } good[] = {
		{ "0", 0 }, { "512", 512 }, { "4k", 4096 }, { "4K", 4096 },
		{ "64KiB", 65536 }, { "1m", 1 << 20 }, { "1MB", 1 << 20 },
		{ "2g", 2ULL << 30 }, { "16t", 16ULL << 40 }, { "8s", 4096 },
		{ "16777215t", 16777215ULL << 40 },
	};
	static const char *const bad[] = {
		"", "k", "-1", "+4", " 4k", "4k ", "4x", "4kk", "4kib2",
		"18446744073709551616", "16777216t", "1.5m", "0x10", "4sib",
	};
	static const struct { const char *s; unsigned int sectors; } chunks[] = {
		{ "512", 1 }, { "4k", 8 }, { "64k", 128 }, { "1m", 2048 },
		{ "1s", 1 }, { "2048s", 2048 },
	};
	static const char *const bad_chunks[] = {
		"0", "256", "3k", "2m", "4097", "1536", "x",
	};
	unsigned int i, sectors;
	uint64_t v;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		ok(!colo_parse_size(good[i].s, &v) && v == good[i].v,
		   "size accepted", good[i].s);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ok(colo_parse_size(bad[i], &v) == -1, "size refused", bad[i]);
	for (i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++)
		ok(!colo_parse_chunk(chunks[i].s, &sectors) &&
		   sectors == chunks[i].sectors, "chunk accepted", chunks[i].s);
	for (i = 0; i < sizeof(bad_chunks) / sizeof(bad_chunks[0]); i++)
		ok(colo_parse_chunk(bad_chunks[i], &sectors) == -1,
		   "chunk refused", bad_chunks[i]);

	printf("userspace: %d passed, %d failed\n", pass, fail);
	return fail ? 1 : 0;
}
