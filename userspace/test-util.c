// SPDX-License-Identifier: GPL-2.0
/* Host unit tests of colo-util.c: sizes, the command line, the status
 * line, JSON, progress. Prints TAP and "N passed, N failed". */
#include <stdio.h>
#include <stdlib.h>
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

/* Split a command line on spaces into argv (static storage). */
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

static int parse(const char *line, struct colo_args *a, char *err)
{
	char *argv[32];
	int argc = split(line, argv, 32);

	return colo_parse_args(argc, argv, a, err, 256);
}

static void test_args(void)
{
	static const char *const bad[] = {
		"", "frobnicate x", "create", "create vm", "create vm --secondary /a /b",
		"create vm --secondary /a /b /c --primary /d",
		"create vm --primary /a --secondary /a /b /c",
		"create vm --primary", "create vm --primary /a --chunk 3k",
		"create vm --primary /a --chunk", "create vm --primary /a --chunk 2m",
		"create vm --primary /a --max-copies 0",
		"create vm --primary /a --max-copies 1025",
		"create vm --primary /a --max-copies -1", "create vm x --primary /a",
		"create a/b --primary /a", "create vm --primary /a --wait",
		"create vm --primary /a --bogus", "ingress", "ingress a b",
		"ingress vm --force", "remove", "remove vm --json", "status",
		"status vm --force", "list vm", "checkpoint", "checkpoint vm --wait",
		"failover", "failover vm --timeout 10", "failover vm --wait --timeout 0",
		"failover vm --wait --timeout x", "mirror", "mirror go vm",
		"mirror start", "mirror start vm", "mirror start vm /dev/x --full --dirty",
		"mirror start vm /dev/x --rate 100", "mirror start vm /dev/x --rate x",
		"mirror start vm /dev/x extra", "mirror stop", "mirror stop vm --wait",
		"wait", "wait vm", "wait vm bogus", "wait vm none", "wait vm done --wait",
		"status vm --json=1", "remove vm --force=yes", "--version x",
	};
	struct colo_args a;
	char err[256];
	unsigned int i;
	int r;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		r = parse(bad[i], &a, err);
		ok(r == COLO_EXIT_USAGE && err[0], "command line refused", bad[i]);
	}

	r = parse("create vm --secondary /dev/b /dev/h /dev/a --chunk 64k --max-copies 8", &a, err);
	ok(!r && a.cmd == CMD_CREATE && !a.primary && !strcmp(a.name, "vm") &&
	   !strcmp(a.base, "/dev/b") && !strcmp(a.hidden, "/dev/h") &&
	   !strcmp(a.active, "/dev/a") && a.chunk_sectors == 128 && a.max_copies == 8,
	   "create --secondary parsed", "");
	r = parse("create --chunk=4k --primary /dev/b vm", &a, err);
	ok(!r && a.cmd == CMD_CREATE && a.primary && !strcmp(a.name, "vm") &&
	   !strcmp(a.base, "/dev/b") && !a.hidden && a.chunk_sectors == 8,
	   "create --primary parsed (options first, --opt=value)", "");
	r = parse("mirror start vm /dev/nbd0 --dirty --rate 50m --wait --timeout 60", &a, err);
	ok(!r && a.cmd == CMD_MIRROR_START && !strcmp(a.name, "vm") &&
	   !strcmp(a.dev, "/dev/nbd0") && a.dirty && a.rate_kib == 51200 && a.wait &&
	   a.timeout == 60, "mirror start parsed", "");
	r = parse("mirror start vm /dev/nbd0", &a, err);
	ok(!r && !a.dirty && !a.rate_kib && !a.wait, "mirror start defaults to full", "");
	r = parse("mirror stop vm", &a, err);
	ok(!r && a.cmd == CMD_MIRROR_STOP && !strcmp(a.name, "vm"), "mirror stop parsed", "");
	r = parse("wait vm in-sync --timeout 5", &a, err);
	ok(!r && a.cmd == CMD_WAIT && a.state == STATE_IN_SYNC && a.timeout == 5,
	   "wait parsed", "");
	r = parse("-v status --json vm", &a, err);
	ok(!r && a.cmd == CMD_STATUS && a.json && a.verbose, "status --json -v parsed", "");
	r = parse("remove vm --force", &a, err);
	ok(!r && a.cmd == CMD_REMOVE && a.force, "remove --force parsed", "");
	r = parse("failover vm --wait", &a, err);
	ok(!r && a.cmd == CMD_FAILOVER && a.wait, "failover --wait parsed", "");
	r = parse("list --json", &a, err);
	ok(!r && a.cmd == CMD_LIST && a.json, "list --json parsed", "");
	r = parse("checkpoint vm --help", &a, err);
	ok(!r && a.cmd == CMD_HELP, "--help after a command", "");
	r = parse("--version", &a, err);
	ok(!r && a.cmd == CMD_VERSION, "--version", "");
}

static void test_status(void)
{
	static const char *const bad[] = {
		"", "secondary", "tertiary 8 0/16 0/16 none 0/0 0/16 none 0/0 none ok 0",
		"secondary 3 0/16 0/16 none 0/0 0/16 none 0/0 none ok 0",
		"secondary 4096 0/16 0/16 none 0/0 0/16 none 0/0 none ok 0",
		"secondary 8 17/16 0/16 none 0/0 0/16 none 0/0 none ok 0",
		"secondary 8 0/16 0/15 none 0/0 0/16 none 0/0 none ok 0",
		"secondary 8 0/16 0/16 maybe 0/0 0/16 none 0/0 none ok 0",
		"secondary 8 0/16 0/16 none 2/1 0/16 none 0/0 none ok 0",
		"primary 8 0/16 0/16 done 1/1 0/16 sideways 0/0 none ok 0",
		"primary 8 0/16 0/16 done 1/1 0/16 none 3/2 none ok 0",
		"primary 8 0/16 0/16 done 1/1 0/16 none 0/0 maybe ok 0",
		"primary 8 0/16 0/16 done 1/1 0/16 none 0/0 none fine 0",
		"primary 8 0/16 0/16 done 1/1 0/16 none 0/0 none ok",
		"primary 8 0/16 0/16 done 1/1 0/16 none 0/0 none ok 12x",
		"primary 8 0/16 0/16 done 1/1 0/16 none 0/0 none ok -1",
		"primary 8 0/16 0/16 done 1/1 0/16 none 0/0 none ok 0 maybe",
	};
	struct colo_status st, st2;
	const char *why;
	uint64_t d, t;
	unsigned int i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ok(colo_parse_status(bad[i], &st) == -1, "status refused", bad[i]);

	ok(!colo_parse_status("secondary 8 1/16384 2/16384 none 0/0 0/16384 none 0/0 attached ok 8240",
			      &st) && !strcmp(st.mode, "secondary") && st.chunk == 8 &&
	   st.active == 1 && st.hidden == 2 && st.chunks == 16384 &&
	   !strcmp(st.commit, "none") && !strcmp(st.ingress, "attached") &&
	   !strcmp(st.health, "ok") && st.bitmap_bytes == 8240,
	   "secondary status parsed", "");
	ok(!colo_parse_status("primary 2048 5/10 3/10 running 2/7 7/10 copying 4/9 none error 99 complete extra 1",
			      &st) && !strcmp(st.commit, "running") && st.committed == 2 &&
	   st.to_commit == 7 && st.dirty == 7 && !strcmp(st.mirror, "copying") &&
	   st.mirrored == 4 && st.to_mirror == 9 && !strcmp(st.health, "error") &&
	   !strcmp(st.coverage, "complete"),
	   "primary status parsed (appended fields ignored)", "");
	ok(!colo_parse_status("primary 8 0/16 0/16 none 0/0 0/16 none 0/0 none ok 0 unknown", &st2) &&
	   !strcmp(st2.coverage, "unknown"), "dirty coverage unknown parsed", "");
	ok(!colo_parse_status("primary 8 0/16 0/16 none 0/0 0/16 none 0/0 none ok 0", &st2) &&
	   !st2.coverage[0], "no dirty coverage from an older module", "");
	ok(colo_state_check(&st, STATE_DONE, &why) == 0 &&
	   colo_state_progress(&st, STATE_DONE, &d, &t) && d == 2 && t == 7,
	   "commit running: not done yet, progress 2/7", "");
	ok(colo_state_check(&st, STATE_ERROR, &why) == 1, "health error seen", "");
	ok(colo_state_check(&st, STATE_PRIMARY, &why) == 1, "primary seen", "");
	colo_parse_status("primary 8 0/16 0/16 failed 1/3 3/16 degraded 1/3 none error 0", &st);
	ok(colo_state_check(&st, STATE_DONE, &why) == -1 && why, "commit failed ends a wait for done", "");
	ok(colo_state_check(&st, STATE_FAILED, &why) == 1, "commit failed seen", "");
	ok(colo_state_check(&st, STATE_IN_SYNC, &why) == -1 && why, "degraded ends a wait for in-sync", "");
	ok(colo_state_check(&st, STATE_DEGRADED, &why) == 1, "degraded seen", "");
	colo_parse_status("primary 8 0/16 0/16 done 3/3 0/16 in-sync 9/9 none ok 0", &st);
	ok(colo_state_check(&st, STATE_DONE, &why) == 1 &&
	   colo_state_check(&st, STATE_IN_SYNC, &why) == 1 &&
	   colo_state_check(&st, STATE_FAILED, &why) == -1,
	   "done and in-sync seen; failed never comes", "");
	colo_parse_status("secondary 8 0/16 0/16 none 0/0 0/16 none 0/0 none ok 0", &st);
	ok(colo_state_check(&st, STATE_DONE, &why) == -1 &&
	   colo_state_check(&st, STATE_IN_SYNC, &why) == -1 &&
	   colo_state_check(&st, STATE_PRIMARY, &why) == 0 &&
	   !colo_state_progress(&st, STATE_DONE, &d, &t),
	   "secondary: no commit or mirror to wait for", "");
}

static void test_json(void)
{
	static const char *const legs[3] = { "/dev/ram0", "/dev/ram\"1", NULL };
	struct colo_status st;
	char buf[2048];
	FILE *f;
	size_t n;

	colo_parse_status("secondary 8 1/16 2/16 none 0/0 0/16 none 0/0 attached ok 8240", &st);
	f = fmemopen(buf, sizeof(buf), "w");
	colo_status_json(f, "vm", 128, &st, legs, "vm-ingress");
	n = ftell(f);
	fclose(f);
	buf[n] = '\0';
	ok(!strcmp(buf, "{\"name\":\"vm\",\"target\":\"colo\",\"sectors\":128,\"mode\":\"secondary\","
		   "\"chunk_sectors\":8,\"chunk_bytes\":4096,\"chunks\":16,"
		   "\"legs\":{\"base\":\"/dev/ram0\",\"hidden\":\"/dev/ram\\\"1\"},"
		   "\"active\":1,\"hidden\":2,\"commit\":{\"state\":\"none\",\"committed\":0,"
		   "\"to_commit\":0},\"dirty\":0,\"mirror\":{\"state\":\"none\",\"mirrored\":0,"
		   "\"to_mirror\":0},\"ingress\":\"vm-ingress\",\"health\":\"ok\","
		   "\"bitmap_bytes\":8240,\"dirty_coverage\":null}"), "status JSON", buf);
}

static void test_misc(void)
{
	char buf[128];

	ok(!strcmp(colo_human(4096, buf, sizeof(buf)), "4 KiB"), "human", buf);
	ok(!strcmp(colo_human(1536 << 20, buf, sizeof(buf)), "1.5 GiB"), "human", buf);
	ok(!strcmp(colo_human(16ULL << 40, buf, sizeof(buf)), "16 TiB"), "human", buf);
	ok(!strcmp(colo_human(1000, buf, sizeof(buf)), "1000 B"), "human", buf);
	colo_progress_bar(buf, sizeof(buf), 1, 4, 8);
	ok(!strcmp(buf, "[##      ]  25% 1/4"), "progress bar", buf);
	colo_progress_bar(buf, sizeof(buf), 0, 0, 4);
	ok(!strcmp(buf, "[####] 100% 0/0"), "progress bar of nothing", buf);
	colo_progress_bar(buf, 6, 1, 2, 40);
	ok(strlen(buf) == 5, "progress bar truncated to its buffer", buf);
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

	test_args();
	test_status();
	test_json();
	test_misc();

	printf("userspace: %d passed, %d failed\n", pass, fail);
	return fail ? 1 : 0;
}
