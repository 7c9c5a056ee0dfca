// SPDX-License-Identifier: GPL-2.0
/*
 * Host unit tests of list, status --prometheus and monitor's pure parts
 * (colo-format.c) and of what they added to colo-util.c: the command
 * line, JSON of names that are not UTF-8, JSON progress. Prints TAP and
 * "report: N passed, N failed".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "colo-format.h"
#include "colo-util.h"
#include "test-tap.h"


/* What f wrote to buf (a memory stream), as a string. */
#define CAPTURE(buf, stmt) do { \
	FILE *f_ = fmemopen(buf, sizeof(buf), "w"); \
	FILE *f = f_; \
	long n_; \
	stmt; \
	n_ = ftell(f_); \
	fclose(f_); \
	buf[n_ < (long)sizeof(buf) ? n_ : (long)sizeof(buf) - 1] = '\0'; \
} while (0)

static void test_args(void)
{
	static const char *const bad[] = {
		"status", "status --prometheus --json", "status vm --prometheus x",
		"list --prometheus", "list -o", "list -o a -o b", "list -o +",
		"list --separator", "list --sort", "list --json -o name",
		"list --json --noheadings", "list --json --nameprefixes", "list --json --sort name",
		"list vm", "monitor --exec", "monitor --hook-timeout 5",
		"monitor --exec /bin/true --hook-timeout 0", "monitor --count 0",
		"monitor --count x", "monitor a/b", "monitor --json", "status vm --exec x",
		"wait vm degraded --count 1", "list --count 1", "monitor --interval x",
		"monitor --interval 3601", "list --interval 1",
	};
	struct colo_args a;
	char err[256];
	unsigned int i;
	int r;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		r = parse(bad[i], &a, err);
		ok(r == COLO_EXIT_USAGE && err[0], "command line refused", bad[i]);
	}
	r = parse("status --prometheus", &a, err);
	ok(!r && a.cmd == CMD_STATUS && a.prometheus && !a.name, "status --prometheus: all", "");
	r = parse("status --prometheus vm", &a, err);
	ok(!r && a.prometheus && !strcmp(a.name, "vm"), "status --prometheus NAME", "");
	r = parse("list -o +uuid,open --noheadings --separator : --sort -name --nameprefixes",
		  &a, err);
	ok(!r && a.cmd == CMD_LIST && !strcmp(a.fields, "+uuid,open") && a.noheadings &&
	   !strcmp(a.separator, ":") && !strcmp(a.sort, "-name") && a.nameprefixes,
	   "list's report options", "");
	r = parse("list --options=name -O size", &a, err);
	ok(!r && !strcmp(a.fields, "name") && !strcmp(a.sort, "size"),
	   "list --options=, -O", "");
	r = parse("monitor", &a, err);
	ok(!r && a.cmd == CMD_MONITOR && !a.nnames && !a.hook && !a.count && !a.no_syslog,
	   "monitor: every device", "");
	r = parse("monitor vm --exec /usr/local/bin/hook db --hook-timeout 5 --count 3 --no-syslog",
		  &a, err);
	ok(!r && a.nnames == 2 && !strcmp(a.names[0], "vm") && !strcmp(a.names[1], "db") &&
	   !strcmp(a.hook, "/usr/local/bin/hook") && a.hook_timeout == 5 && a.count == 3 &&
	   a.no_syslog && !a.interval_set, "monitor NAME... with its options", "");
	r = parse("monitor --interval 0", &a, err);
	ok(!r && a.interval_set && !a.interval, "monitor --interval 0: events only", "");
}

static void test_json_utf8(void)
{
	static const struct { const char *in, *want; } t[] = {
		{ "vm", "\"vm\"" },
		{ "caf\xc3\xa9", "\"caf\xc3\xa9\"" },			/* valid UTF-8 kept */
		{ "\xe2\x82\xac\xf0\x9f\x98\x80", "\"\xe2\x82\xac\xf0\x9f\x98\x80\"" },
		{ "a\xffz", "\"a\\ufffdz\"" },				/* a stray byte */
		{ "\xc3", "\"\\ufffd\"" },				/* cut short */
		{ "\xc3\x28", "\"\\ufffd(\"" },				/* bad continuation */
		{ "\xc0\xaf", "\"\\ufffd\\ufffd\"" },			/* overlong '/' */
		{ "\xe0\x80\xaf", "\"\\ufffd\\ufffd\\ufffd\"" },	/* overlong, 3 bytes */
		{ "\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"" },	/* a surrogate */
		{ "\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\"" }, /* > U+10FFFF */
		{ "q\"b\\s\n\x7f", "\"q\\\"b\\\\s\\u000a\\u007f\"" },
	};
	unsigned int i;
	char buf[256];

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		CAPTURE(buf, colo_json_str(f, t[i].in));
		ok(!strcmp(buf, t[i].want), "JSON string", buf);
	}
	CAPTURE(buf, colo_prom_label(f, "a\"b\\c\nd\xfe"));
	ok(!strcmp(buf, "a\\\"b\\\\c\\nd\xef\xbf\xbd"), "Prometheus label value escaped", buf);
}

static void test_json_progress(void)
{
	struct colo_status st;
	char buf[2048];

	colo_parse_status("primary 8 0/16 0/16 done 3/3 5/16 copying 2/8 none ok 0", &st);
	st.mirror_rate_known = 1;
	st.mirror_rate = 4096;
	CAPTURE(buf, colo_status_json(f, "vm", 128, &st, NULL, NULL, NULL));
	ok(!strncmp(buf, "{\"schema\":2,\"name\":\"vm\",", 24), "JSON schema first", buf);
	ok(strstr(buf, "\"commit\":{\"state\":\"done\",\"committed\":3,\"to_commit\":3,"
		  "\"percent\":100.0,\"rate\":null,\"eta_seconds\":null}") != NULL,
	   "JSON commit done: 100%, no rate", buf);
	/* 6 chunks of 4 KiB left at 4 KiB/s: 6 s */
	ok(strstr(buf, "\"mirror\":{\"state\":\"copying\",\"mirrored\":2,\"to_mirror\":8,"
		  "\"percent\":25.0,\"rate\":4096,\"eta_seconds\":6,") != NULL,
	   "JSON mirror copying: percent, rate, ETA", buf);
	st.mirror_rate = 0;
	CAPTURE(buf, colo_status_json(f, NULL, 128, &st, NULL, NULL, NULL));
	ok(strstr(buf, "\"percent\":25.0,\"rate\":0,\"eta_seconds\":null,") != NULL,
	   "JSON mirror stalled: no ETA", buf);
	st.mirror_rate_known = 0;
	CAPTURE(buf, colo_status_json(f, "\xff", 128, &st, NULL, NULL, NULL));
	ok(strstr(buf, "\"percent\":25.0,\"rate\":null,\"eta_seconds\":null,") != NULL &&
	   strstr(buf, "\"name\":\"\\ufffd\"") != NULL,
	   "JSON rate unknown; a name of a bad byte", buf);
}

static void test_rates(void)
{
	struct colo_status a, b;

	colo_parse_status("primary 8 0/16 0/16 done 3/3 5/16 copying 2/10 none ok 0", &a);
	colo_parse_status("primary 8 0/16 0/16 done 3/3 5/16 copying 6/9 none ok 0", &b);
	colo_set_rates(&a, 1.0, &b, 1.5);
	ok(b.mirror_rate_known && b.mirror_rate == 4 * 4096 / 0.5 && !b.commit_rate_known,
	   "rate: 4 chunks of 4 KiB in 0.5 s (the total moved)", "");
	colo_parse_status("primary 8 0/16 0/16 done 3/3 5/16 copying 1/12 none ok 0", &b);
	colo_set_rates(&a, 1.0, &b, 1.5);
	ok(!b.mirror_rate_known, "rate: not across a mirror restart", "");
	colo_parse_status("primary 8 0/16 0/16 done 3/3 5/16 in-sync 10/10 none ok 0", &b);
	colo_set_rates(&a, 1.0, &b, 1.5);
	ok(!b.mirror_rate_known, "rate: not once in sync", "");
	colo_parse_status("primary 8 0/16 0/16 running 1/8 5/16 none 0/0 none ok 0", &a);
	colo_parse_status("primary 8 0/16 0/16 running 1/8 5/16 none 0/0 none ok 0", &b);
	colo_set_rates(&a, 2.0, &b, 2.0);
	ok(!b.commit_rate_known, "rate: not without time between the looks", "");
	colo_set_rates(&a, 2.0, &b, 3.0);
	ok(b.commit_rate_known && b.commit_rate == 0, "rate: a stalled commit is 0", "");
}

static void test_prometheus(void)
{
	static const char want[] =
		"# HELP colo_size_bytes Size of the colo device in bytes.\n"
		"# TYPE colo_size_bytes gauge\n"
		"colo_size_bytes{device=\"vm\"} 65536\n"
		"# HELP colo_chunk_bytes Chunk size in bytes.\n"
		"# TYPE colo_chunk_bytes gauge\n"
		"colo_chunk_bytes{device=\"vm\"} 4096\n"
		"# HELP colo_chunks Chunks of the device.\n"
		"# TYPE colo_chunks gauge\n"
		"colo_chunks{device=\"vm\"} 16\n"
		"# HELP colo_active_chunks Chunks in the active overlay (the secondary VM's writes since the last checkpoint).\n"
		"# TYPE colo_active_chunks gauge\n"
		"colo_active_chunks{device=\"vm\"} 0\n"
		"# HELP colo_hidden_chunks Chunks in the hidden buffer (base content saved before the primary's writes).\n"
		"# TYPE colo_hidden_chunks gauge\n"
		"colo_hidden_chunks{device=\"vm\"} 0\n"
		"# HELP colo_dirty_chunks Chunks in the dirty bitmap (primary: may differ from the replica).\n"
		"# TYPE colo_dirty_chunks gauge\n"
		"colo_dirty_chunks{device=\"vm\"} 5\n"
		"# HELP colo_commit_done_chunks Chunks the failover commit has written.\n"
		"# TYPE colo_commit_done_chunks gauge\n"
		"colo_commit_done_chunks{device=\"vm\"} 3\n"
		"# HELP colo_commit_total_chunks Chunks the failover commit writes in all.\n"
		"# TYPE colo_commit_total_chunks gauge\n"
		"colo_commit_total_chunks{device=\"vm\"} 3\n"
		"# HELP colo_commit_progress_ratio Progress of the failover commit, 0 to 1 (no sample before a failover).\n"
		"# TYPE colo_commit_progress_ratio gauge\n"
		"colo_commit_progress_ratio{device=\"vm\"} 1\n"
		"# HELP colo_mirror_done_chunks Chunks the mirror has copied.\n"
		"# TYPE colo_mirror_done_chunks gauge\n"
		"colo_mirror_done_chunks{device=\"vm\"} 2\n"
		"# HELP colo_mirror_total_chunks Chunks the mirror copies in all.\n"
		"# TYPE colo_mirror_total_chunks gauge\n"
		"colo_mirror_total_chunks{device=\"vm\"} 8\n"
		"# HELP colo_mirror_progress_ratio Progress of the mirror's copy, 0 to 1 (no sample while no mirror runs).\n"
		"# TYPE colo_mirror_progress_ratio gauge\n"
		"colo_mirror_progress_ratio{device=\"vm\"} 0.25\n"
		"# HELP colo_bitmap_bytes Memory held by the device's bitmaps in bytes.\n"
		"# TYPE colo_bitmap_bytes gauge\n"
		"colo_bitmap_bytes{device=\"vm\"} 4096\n"
		"# HELP colo_ingress_attached 1 when a colo-ingress is attached.\n"
		"# TYPE colo_ingress_attached gauge\n"
		"colo_ingress_attached{device=\"vm\"} 0\n"
		"# HELP colo_dirty_coverage_complete 1 when the dirty bitmap covers every chunk that may differ from the replica.\n"
		"# TYPE colo_dirty_coverage_complete gauge\n"
		"colo_dirty_coverage_complete{device=\"vm\"} 1\n"
		"# HELP colo_metadata_regions_marked Write-intent regions marked on the metadata device.\n"
		"# TYPE colo_metadata_regions_marked gauge\n"
		"colo_metadata_regions_marked{device=\"vm\"} 1\n"
		"# HELP colo_metadata_regions Write-intent regions of the metadata device.\n"
		"# TYPE colo_metadata_regions gauge\n"
		"colo_metadata_regions{device=\"vm\"} 4\n"
		"# HELP colo_mode The device's mode (1 for the current one).\n"
		"# TYPE colo_mode gauge\n"
		"colo_mode{device=\"vm\",mode=\"secondary\"} 0\n"
		"colo_mode{device=\"vm\",mode=\"primary\"} 1\n"
		"# HELP colo_commit_state The failover commit's state (1 for the current one).\n"
		"# TYPE colo_commit_state gauge\n"
		"colo_commit_state{device=\"vm\",state=\"none\"} 0\n"
		"colo_commit_state{device=\"vm\",state=\"running\"} 0\n"
		"colo_commit_state{device=\"vm\",state=\"done\"} 1\n"
		"colo_commit_state{device=\"vm\",state=\"failed\"} 0\n"
		"# HELP colo_mirror_state The mirror's state (1 for the current one).\n"
		"# TYPE colo_mirror_state gauge\n"
		"colo_mirror_state{device=\"vm\",state=\"none\"} 0\n"
		"colo_mirror_state{device=\"vm\",state=\"copying\"} 1\n"
		"colo_mirror_state{device=\"vm\",state=\"in-sync\"} 0\n"
		"colo_mirror_state{device=\"vm\",state=\"degraded\"} 0\n"
		"# HELP colo_health The device's health (1 for the current one).\n"
		"# TYPE colo_health gauge\n"
		"colo_health{device=\"vm\",state=\"ok\"} 1\n"
		"colo_health{device=\"vm\",state=\"error\"} 0\n"
		"# HELP colo_metadata_state The metadata device's state (1 for the current one).\n"
		"# TYPE colo_metadata_state gauge\n"
		"colo_metadata_state{device=\"vm\",state=\"none\"} 0\n"
		"colo_metadata_state{device=\"vm\",state=\"ok\"} 1\n"
		"colo_metadata_state{device=\"vm\",state=\"failed\"} 0\n";
	struct colo_status st, st2;
	struct colo_prom_dev d[2];
	char buf[8192];
	const char *p;
	int n;

	colo_parse_status("primary 8 0/16 0/16 done 3/3 5/16 copying 2/8 none ok 4096 complete ok "
			  "00000000deadbeef/0000000000000001 1/4", &st);
	d[0].name = "vm";
	d[0].sectors = 128;
	d[0].st = &st;
	CAPTURE(buf, colo_prometheus(f, d, 1));
	ok(!strcmp(buf, want), "Prometheus text of one device", "");
	if (strcmp(buf, want))
		printf("# got:\n%s", buf);

	colo_parse_status("secondary 8 1/16 2/16 none 0/0 0/16 none 0/0 attached ok 0", &st2);
	d[1].name = "x\"y";
	d[1].sectors = 128;
	d[1].st = &st2;
	CAPTURE(buf, colo_prometheus(f, d, 2));
	for (n = 0, p = buf; (p = strstr(p, "# TYPE colo_chunks gauge\n")); p++)
		n++;
	ok(n == 1 && strstr(buf, "# TYPE colo_chunks gauge\ncolo_chunks{device=\"vm\"} 16\n"
			    "colo_chunks{device=\"x\\\"y\"} 16\n# HELP") != NULL,
	   "Prometheus: a family once, a sample per device", "");
	ok(strstr(buf, "colo_mirror_progress_ratio{device=\"vm\"} 0.25\n# HELP") != NULL &&
	   !strstr(buf, "colo_commit_progress_ratio{device=\"x") &&
	   !strstr(buf, "colo_metadata_regions{device=\"x") &&
	   strstr(buf, "colo_ingress_attached{device=\"x\\\"y\"} 1\n") != NULL &&
	   strstr(buf, "colo_mode{device=\"x\\\"y\",mode=\"secondary\"} 1\n") != NULL,
	   "Prometheus: samples only where they mean something", "");
	CAPTURE(buf, colo_prometheus(f, d, 0));
	ok(!strncmp(buf, "# HELP colo_size_bytes ", 23) && !strstr(buf, "{device"),
	   "Prometheus without a device: the families alone", "");
}

static void test_fields(void)
{
	static const char *const ids[] = { "name", "mode", "size", "uuid", NULL };
	char out[256], err[256];

	ok(!colo_fields_expand("uuid,name", "name,mode", ids, out, sizeof(out), err, sizeof(err)) &&
	   !strcmp(out, "uuid,name"), "-o replaces the default", out);
	ok(!colo_fields_expand("+uuid,size", "name,mode", ids, out, sizeof(out), err,
			       sizeof(err)) && !strcmp(out, "name,mode,uuid,size"),
	   "-o + adds to the default", out);
	ok(colo_fields_expand("name,bogus", "name", ids, out, sizeof(out), err, sizeof(err)) &&
	   !strcmp(err, "unknown field 'bogus' (colosetup list -o help lists them)"),
	   "-o unknown field", err);
	ok(colo_fields_expand("name,,mode", "name", ids, out, sizeof(out), err, sizeof(err)) &&
	   !strcmp(err, "an empty field name (colosetup list -o help lists them)"),
	   "-o empty field", err);
	ok(colo_fields_expand("nam", "name", ids, out, sizeof(out), err, sizeof(err)) == -1,
	   "-o: a prefix is not a field", err);
	ok(colo_fields_expand("+uuid", "name,mode", ids, out, 8, err, sizeof(err)) == -1,
	   "-o: too long", err);
	ok(!colo_sort_check("-size,+name,mode", ids, err, sizeof(err)), "--sort accepted", "");
	ok(colo_sort_check("-sizes", ids, err, sizeof(err)) &&
	   !strcmp(err, "unknown field 'sizes' (colosetup list -o help lists them)"),
	   "--sort unknown field", err);
	ok(colo_sort_check("name,", ids, err, sizeof(err)) == -1, "--sort trailing comma", err);
}

static void test_events(void)
{
	static const struct { const char *from, *to, *want; } t[] = {
		{ "secondary 8 1/16 0/16 none 0/0 0/16 none 0/0 attached ok 0",
		  "secondary 8 2/16 0/16 none 0/0 0/16 none 0/0 attached ok 0", "" },
		{ "secondary 8 1/16 0/16 none 0/0 0/16 none 0/0 attached ok 0",
		  "primary 8 1/16 0/16 running 0/1 1/16 none 0/0 none ok 0", "primary" },
		{ "secondary 8 1/16 0/16 none 0/0 0/16 none 0/0 attached ok 0",
		  "primary 8 1/16 0/16 done 1/1 1/16 none 0/0 none ok 0", "primary commit-done" },
		{ "primary 8 1/16 0/16 running 0/1 1/16 none 0/0 none ok 0",
		  "primary 8 1/16 0/16 failed 0/1 1/16 none 0/0 none error 0",
		  "commit-failed error" },
		{ "primary 8 0/16 0/16 failed 0/1 1/16 none 0/0 none error 0",
		  "primary 8 0/16 0/16 running 0/1 1/16 none 0/0 none ok 0", "health-ok" },
		{ "primary 8 0/16 0/16 done 1/1 1/16 none 0/0 none ok 0",
		  "primary 8 0/16 0/16 done 1/1 1/16 copying 0/16 none ok 0", "mirror-started" },
		{ "primary 8 0/16 0/16 done 1/1 1/16 none 0/0 none ok 0",
		  "primary 8 0/16 0/16 done 1/1 0/16 in-sync 16/16 none ok 0",
		  "mirror-started in-sync" },
		{ "primary 8 0/16 0/16 done 1/1 1/16 copying 3/16 none ok 0",
		  "primary 8 0/16 0/16 done 1/1 1/16 copying 9/16 none ok 0", "" },
		{ "primary 8 0/16 0/16 done 1/1 1/16 copying 3/16 none ok 0",
		  "primary 8 0/16 0/16 done 1/1 0/16 in-sync 16/16 none ok 0", "in-sync" },
		{ "primary 8 0/16 0/16 done 1/1 0/16 in-sync 16/16 none ok 0",
		  "primary 8 0/16 0/16 done 1/1 1/16 degraded 16/16 none ok 0", "degraded" },
		{ "primary 8 0/16 0/16 done 1/1 1/16 degraded 16/16 none ok 0",
		  "primary 8 0/16 0/16 done 1/1 1/16 copying 0/1 none ok 0", "mirror-started" },
		{ "primary 8 0/16 0/16 done 1/1 1/16 degraded 16/16 none ok 0",
		  "primary 8 0/16 0/16 done 1/1 0/16 in-sync 1/1 none ok 0",
		  "mirror-started in-sync" },
		{ "primary 8 0/16 0/16 done 1/1 0/16 in-sync 16/16 none ok 0",
		  "primary 8 0/16 0/16 done 1/1 0/16 none 0/0 none ok 0", "mirror-stopped" },
		{ "primary 8 0/16 0/16 done 1/1 0/16 in-sync 16/16 none ok 0",
		  "primary 8 0/16 0/16 done 1/1 0/16 copying 0/16 none ok 0", "mirror-started" },
		{ "primary 8 0/16 0/16 done 1/1 0/16 none 0/0 none ok 0",
		  "primary 8 0/16 0/16 done 1/1 1/16 degraded 0/16 none ok 0",
		  "mirror-started degraded" },
	};
	struct colo_status a, b;
	enum colo_event ev[8];
	unsigned int i, j, n;
	char got[256];

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (colo_parse_status(t[i].from, &a) || colo_parse_status(t[i].to, &b)) {
			ok(0, "event test's status lines parse", t[i].to);
			continue;
		}
		n = colo_events(&a, &b, ev, 8);
		got[0] = '\0';
		for (j = 0; j < n; j++)
			snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%s", j ? " " : "",
				 colo_event_name(ev[j]));
		ok(!strcmp(got, t[i].want), "events", got);
	}
	ok(colo_events(&a, &b, ev, 1) == 1, "events: no more than max", "");
	for (i = 0; i < EV_COUNT; i++)
		if (!colo_event_name(i) || !strcmp(colo_event_name(i), "?"))
			break;
	ok(i == EV_COUNT && !strcmp(colo_event_name(EV_COUNT), "?"), "every event has a name", "");
}

static void test_fleece_json(void)
{
	struct colo_fleece_status st;
	struct colo_fleece_view v = {
		.name = "vm-fleece", .dm_uuid = "COLO-FLEECE-0123", .colo = "vm",
		.sectors = 65536, .chunk = 8, .chunks = 8192, .buffer = "/dev/ram3",
		.timeout_ms = 5000, .st = &st,
	};
	char buf[1024];

	colo_parse_fleece_status("active 8190 3 2 1/8192", &st);
	CAPTURE(buf, colo_fleece_json(f, &v));
	ok(!strcmp(buf, "{\"schema\":2,\"name\":\"vm-fleece\",\"dm_uuid\":\"COLO-FLEECE-0123\",\"target\":\"colo-fleece\",\"colo\":\"vm\",\"sectors\":65536,\"chunk_sectors\":8,\"chunk_bytes\":4096,\"chunks\":8192,\"state\":\"active\",\"broken_reason\":null,\"needed\":8190,\"saved\":3,\"released\":2,\"buffer_used\":1,\"buffer_total\":8192,\"buffer\":\"/dev/ram3\",\"timeout_ms\":5000,\"read_once\":false,\"persistent\":false}"),
	   "fleece JSON", buf);
	colo_parse_fleece_status("broken:detached 1 1 0 1/16", &st);
	v.colo = NULL;
	v.dm_uuid = "";
	v.chunk = 0;
	v.chunks = 0;
	v.read_once = 1;
	v.persistent = 1;
	v.timeout_ms = 20;
	CAPTURE(buf, colo_fleece_json(f, &v));
	ok(!strcmp(buf, "{\"schema\":2,\"name\":\"vm-fleece\",\"dm_uuid\":null,\"target\":\"colo-fleece\",\"colo\":null,\"sectors\":65536,\"chunk_sectors\":null,\"chunk_bytes\":null,\"chunks\":null,\"state\":\"broken\",\"broken_reason\":\"detached\",\"needed\":1,\"saved\":1,\"released\":0,\"buffer_used\":1,\"buffer_total\":16,\"buffer\":\"/dev/ram3\",\"timeout_ms\":20,\"read_once\":true,\"persistent\":true}"),
	   "fleece JSON: detached, no colo device known, persistent", buf);
}

int main(void)
{
	test_args();
	test_json_utf8();
	test_json_progress();
	test_rates();
	test_prometheus();
	test_fields();
	test_events();
	test_fleece_json();
	printf("report: %d passed, %d failed\n", pass, fail);
	return fail ? 1 : 0;
}
