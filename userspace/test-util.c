// SPDX-License-Identifier: GPL-2.0
/* Host unit tests of colo-util.c: sizes, the command line, the status
 * line, JSON, progress. Prints TAP and "N passed, N failed". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "colo-colotab.h"
#include "colo-udev.h"
#include "colo-util.h"
#include "test-tap.h"


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
		"mirror start vm /dev/x --async", "mirror start vm /dev/x --async 0",
		"mirror start vm /dev/x --async 4MB", "mirror start vm /dev/x --async 1500",
		"mirror start vm /dev/x --async 2g", "mirror start vm /dev/x --async -4k",
		"mirror start vm /dev/x --async 4x", "mirror async", "mirror async vm",
		"mirror async vm 0", "mirror async vm 4MB", "mirror async vm 4k 8k",
		"mirror async vm --async 4k", "mirror sync", "mirror sync vm 4k",
		"mirror sync vm --wait", "mirror stop vm --async 4k", "verify vm --async 4k",
		"wait", "wait vm", "wait vm bogus", "wait vm none", "wait vm done --wait",
		"status vm --json=1", "remove vm --force=yes", "--version x",
		"create vm --primary /a --region-size 4m",
		"create vm --primary /a --metadata /m --region-size 3m",
		"create vm --primary /a --metadata /m --region-size 2g",
		"create vm --primary /a --metadata /m --region-size 256",
		"create vm --primary /a --metadata /m --chunk 64k --region-size 32k",
		"create vm --primary /a --metadata", "create vm --primary /a --metadata=",
		"metadata", "metadata show /m", "metadata dump", "metadata dump /m /n",
		"metadata dump /m --force", "metadata export /m --json", "metadata wipe /m --json",
		"metadata wipe", "dirty", "dirty add vm", "dirty import", "dirty import vm a b",
		"dirty import a/b", "dirty import vm --force", "status vm --metadata /m",
		"verify", "verify vm --timeout 5", "verify vm --rate 100", "verify vm extra",
		"verify stop", "verify stop vm --wait", "verify stop vm --rate 1m",
		"verify start", "verify vm --force", "wait vm verify", "verify ranges",
		"verify ranges vm --wait", "up", "down", "up vm --all", "down vm --all",
		"down vm --pin", "up vm --force", "up vm --colotab=", "up vm --colotab",
		"up a b", "up a/b", "status vm --all",
		"mirror start vm /dev/x --min-rate 1m",
		"mirror start vm /dev/x --rate 10m --min-rate 1m",
		"mirror start vm /dev/x --rate auto --min-rate 0",
		"mirror start vm /dev/x --rate auto --min-rate x",
		"mirror start vm /dev/x --rate auto --min-rate",
		"mirror start vm /dev/x --rate Auto", "mirror start vm /dev/x --rate",
		"mirror start vm /dev/x --rate auto --rate 1m --min-rate 1m",
		"verify vm --min-rate 1m", "verify vm --rate auto --min-rate 100",
		"verify stop vm --rate auto", "verify stop vm --min-rate 1m",
		"status vm --min-rate 1m", "mirror stop vm --rate auto",
		"mirror rate", "mirror rate vm", "mirror rate vm 0", "mirror rate vm 50MB",
		"mirror rate vm 1500", "mirror rate vm Auto", "mirror rate vm auto 1m",
		"mirror rate vm 1m --min-rate 512k", "mirror rate vm none --min-rate 1m",
		"mirror rate vm auto --min-rate 0", "mirror rate vm auto --wait",
		"mirror rate vm auto --rate 1m", "mirror rate vm --min-rate 1m",
		"mirror rate a/b auto", "verify rate", "verify rate vm", "verify rate vm x",
		"verify rate vm 1m --min-rate 1m", "verify rate vm auto --timeout 5",
		"verify rate vm auto --async 4k", "mirror stop vm --min-rate 1m",
		"fleece", "fleece vm", "fleece begin vm /b", "fleece start", "fleece start vm",
		"fleece start vm /b /c", "fleece start a/b /b", "fleece start vm /b --timeout 0",
		"fleece start vm /b --timeout 3600001", "fleece start vm /b --timeout x",
		"fleece start vm /b --timeout", "fleece start vm /b --read-once=1",
		"fleece start vm /b --needed", "fleece start vm /b --needed=",
		"fleece start vm /b --needed 5-3", "fleece start vm /b --needed x",
		"fleece start vm /b --needed 1-", "fleece start vm /b --needed -1",
		"fleece start vm /b --needed 1,all", "fleece start vm /b --needed 1;2",
		"fleece start vm /b --needed 99999999999999999999",
		"fleece start vm /b --wait", "fleece start vm /b --force", "fleece start vm /b --json",
		"fleece stop", "fleece stop vm /b", "fleece stop vm --json",
		"fleece stop vm --timeout 5", "fleece status", "fleece status vm --force",
		"fleece status vm x", "fleece needed", "fleece needed vm", "fleece needed vm ,",
		"fleece needed vm 1 2", "fleece needed vm 2-1", "fleece needed vm 0x10",
		"fleece needed vm ALL", "fleece needed vm 1--2", "fleece needed vm 1-2-3",
		"fleece needed vm --read-once 1", "status vm --read-once", "wait vm done --needed 1",
		"fleece start vm /b --persistent=1", "fleece start vm /b --persistent=",
		"fleece start vm /b --reattach=yes", "fleece start vm /b --persist",
		"fleece start vm /b --re-attach", "fleece start vm /b --Persistent",
		"fleece start vm /b --persistent --reattach", "fleece start --reattach vm /b --persistent",
		"fleece start vm --persistent", "fleece start vm /b persistent",
		"fleece stop vm --persistent", "fleece stop vm --reattach",
		"fleece status vm --persistent", "fleece status vm --json --reattach",
		"fleece needed vm 1 --persistent", "fleece needed vm --reattach 1",
		"create vm --primary /dev/b --persistent", "status vm --persistent",
		"up vm --reattach", "metadata dump /dev/m --persistent",
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
	ok(!r && !a.dirty && !a.rate_kib && !a.wait && !a.rate_auto && !a.min_rate_kib &&
	   !a.lag_kib, "mirror start defaults to full", "");
	r = parse("mirror start vm /dev/nbd0 --async 4m --dirty", &a, err);
	ok(!r && a.cmd == CMD_MIRROR_START && a.dirty && a.lag_kib == 4096,
	   "mirror start --async parsed", "");
	r = parse("mirror start vm /dev/nbd0 --async=64KiB", &a, err);
	ok(!r && a.lag_kib == 64 && !a.dirty, "mirror start --async=64KiB parsed", "");
	r = parse("mirror async vm 1g", &a, err);
	ok(!r && a.cmd == CMD_MIRROR_ASYNC && !strcmp(a.name, "vm") && a.lag_kib == 1048576,
	   "mirror async NAME MAX_LAG parsed", "");
	r = parse("mirror sync vm", &a, err);
	ok(!r && a.cmd == CMD_MIRROR_SYNC && !strcmp(a.name, "vm") && !a.lag_kib,
	   "mirror sync NAME parsed", "");
	{
		static const struct {
			const char *line, *msg;
		} rates[] = {
			{ "mirror rate vm auto", "mirror rate auto" },
			{ "mirror rate vm auto --min-rate 4m", "mirror rate auto min_rate 4096" },
			{ "mirror rate --min-rate=1g vm auto", "mirror rate auto min_rate 1048576" },
			{ "mirror rate vm 50m", "mirror rate 51200" },
			{ "mirror rate vm 1k", "mirror rate 1" },
			{ "mirror rate vm none", "mirror rate none" },
			{ "verify rate vm 2MiB", "verify rate 2048" },
			{ "verify rate vm auto --min-rate 512k", "verify rate auto min_rate 512" },
			{ "verify rate vm none", "verify rate none" },
		};
		char msg[96];

		for (i = 0; i < sizeof(rates) / sizeof(rates[0]); i++) {
			r = parse(rates[i].line, &a, err);
			ok(!r && !strcmp(a.name, "vm") &&
			   a.cmd == (rates[i].line[0] == 'm' ? CMD_MIRROR_RATE : CMD_VERIFY_RATE) &&
			   !colo_rate_message(&a, msg, sizeof(msg)) && !strcmp(msg, rates[i].msg),
			   "rate command parsed, its kernel message", rates[i].line);
		}
		r = parse("mirror rate vm 50MB", &a, err);
		ok(r == 2 && strstr(err, "mirror rate: RATE '50MB': decimal units"),
		   "mirror rate 50MB: says to use MiB", err);
		r = parse("verify rate vm 1500", &a, err);
		ok(r == 2 && strstr(err, "verify rate: RATE '1500': not a whole number of KiB/s"),
		   "verify rate 1500: not rounded", err);
		r = parse("mirror rate vm 1m --min-rate 512k", &a, err);
		ok(r == 2 && !strcmp(err, "mirror rate: --min-rate is the floor of the auto rate: give auto as RATE"),
		   "mirror rate: --min-rate without auto", err);
		r = parse("verify rate vm", &a, err);
		ok(r == 2 && strstr(err, "verify rate: missing RATE"), "verify rate: missing RATE",
		   err);
		r = parse("mirror async vm 4m", &a, err);
		ok(!r && colo_rate_message(&a, msg, sizeof(msg)) == -1,
		   "no rate message for another command", "");
		r = parse("mirror rate vm auto --min-rate 4m", &a, err);
		ok(!r && colo_rate_message(&a, msg, 20) == -1, "rate message: too small a buffer",
		   "");
	}
	r = parse("mirror start vm /dev/x --async 4MB", &a, err);
	ok(r == 2 && !strcmp(err, "--async '4MB': decimal units (kB, MB, GB, TB) are refused: say 4MiB (binary units, powers of 1024: K or KiB, M or MiB, G or GiB, T or TiB)"),
	   "--async 4MB: says to use MiB", err);
	r = parse("mirror start vm /dev/x --async 1500", &a, err);
	ok(r == 2 && strstr(err, "--async '1500': not a whole number of KiB"),
	   "--async 1500: not rounded", err);
	r = parse("mirror async vm 2g", &a, err);
	ok(r == 2 && strstr(err, "mirror async: MAX_LAG '2g': bytes of replica writes in flight, 1k to 1g"),
	   "mirror async 2g: over 1 GiB refused", err);
	r = parse("mirror async vm", &a, err);
	ok(r == 2 && strstr(err, "mirror async: missing MAX_LAG"), "mirror async: missing MAX_LAG", err);
	r = parse("mirror start vm /dev/nbd0 --rate auto", &a, err);
	ok(!r && a.rate_auto && !a.rate_kib && !a.min_rate_kib, "mirror start --rate auto parsed",
	   "");
	r = parse("mirror start vm /dev/nbd0 --dirty --rate=auto --min-rate 4m", &a, err);
	ok(!r && a.rate_auto && a.dirty && !a.rate_kib && a.min_rate_kib == 4096,
	   "mirror start --rate auto --min-rate 4m parsed", "");
	r = parse("mirror start vm /dev/nbd0 --min-rate 1g --rate auto", &a, err);
	ok(!r && a.rate_auto && a.min_rate_kib == 1048576, "--min-rate before --rate auto", "");
	r = parse("mirror start vm /dev/nbd0 --rate auto --rate 2m", &a, err);
	ok(!r && !a.rate_auto && a.rate_kib == 2048, "the last --rate counts (fixed)", "");
	r = parse("mirror start vm /dev/nbd0 --rate 2m --rate auto", &a, err);
	ok(!r && a.rate_auto && !a.rate_kib, "the last --rate counts (auto)", "");
	r = parse("mirror start vm /dev/nbd0 --async 8m --rate auto --min-rate 2m", &a, err);
	ok(!r && a.rate_auto && a.min_rate_kib == 2048 && a.lag_kib == 8192,
	   "mirror start --async with --rate auto --min-rate parsed", "");
	r = parse("verify vm --rate auto --min-rate 512k --wait", &a, err);
	ok(!r && a.cmd == CMD_VERIFY && a.rate_auto && a.min_rate_kib == 512 && a.wait,
	   "verify --rate auto --min-rate parsed", "");
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
	r = parse("create vm --primary /dev/b --metadata /dev/m --region-size 16m", &a, err);
	ok(!r && a.cmd == CMD_CREATE && !strcmp(a.metadata, "/dev/m") && a.region_sectors == 32768,
	   "create --metadata --region-size parsed", "");
	r = parse("create vm --secondary /b /h /a --metadata=/dev/m --chunk 1m --region-size 1m",
		  &a, err);
	ok(!r && !strcmp(a.metadata, "/dev/m") && a.region_sectors == 2048 &&
	   a.chunk_sectors == 2048, "create: a region of one chunk", "");
	r = parse("create vm --primary /b --metadata /dev/m", &a, err);
	ok(!r && !a.region_sectors, "create --metadata: region size not given", "");
	r = parse("metadata dump /dev/vdc --json", &a, err);
	ok(!r && a.cmd == CMD_META_DUMP && !strcmp(a.dev, "/dev/vdc") && !a.name && a.json,
	   "metadata dump parsed (DEV is a path)", "");
	r = parse("metadata export /dev/vdc", &a, err);
	ok(!r && a.cmd == CMD_META_EXPORT && !strcmp(a.dev, "/dev/vdc") && !a.force,
	   "metadata export parsed", "");
	r = parse("metadata wipe --force /dev/vdc", &a, err);
	ok(!r && a.cmd == CMD_META_WIPE && !strcmp(a.dev, "/dev/vdc") && a.force,
	   "metadata wipe --force parsed", "");
	r = parse("dirty import vm /tmp/x.txt", &a, err);
	ok(!r && a.cmd == CMD_DIRTY_IMPORT && !strcmp(a.name, "vm") && !strcmp(a.file, "/tmp/x.txt"),
	   "dirty import FILE parsed", "");
	r = parse("dirty import vm -", &a, err);
	ok(!r && a.cmd == CMD_DIRTY_IMPORT && !strcmp(a.file, "-"), "dirty import - parsed", "");
	r = parse("dirty import vm", &a, err);
	ok(!r && a.cmd == CMD_DIRTY_IMPORT && !a.file, "dirty import from stdin parsed", "");
	r = parse("verify vm", &a, err);
	ok(!r && a.cmd == CMD_VERIFY && !strcmp(a.name, "vm") && !a.wait && !a.rate_kib,
	   "verify NAME parsed", "");
	r = parse("verify start vm --wait --timeout 9 --rate 4m", &a, err);
	ok(!r && a.cmd == CMD_VERIFY && !strcmp(a.name, "vm") && a.wait && a.timeout == 9 &&
	   a.rate_kib == 4096, "verify start NAME --wait --timeout --rate parsed", "");
	r = parse("verify --wait vm", &a, err);
	ok(!r && a.cmd == CMD_VERIFY && !strcmp(a.name, "vm") && a.wait,
	   "verify --wait NAME parsed", "");
	r = parse("verify ranges vm", &a, err);
	ok(!r && a.cmd == CMD_VERIFY_RANGES && !strcmp(a.name, "vm"), "verify ranges parsed", "");
	r = parse("verify stop vm", &a, err);
	ok(!r && a.cmd == CMD_VERIFY_STOP && !strcmp(a.name, "vm"), "verify stop parsed", "");
	r = parse("wait vm verified", &a, err);
	ok(!r && a.cmd == CMD_WAIT && a.state == STATE_VERIFIED, "wait verified parsed", "");
	r = parse("checkpoint vm --help", &a, err);
	ok(!r && a.cmd == CMD_HELP, "--help after a command", "");
	r = parse("--version", &a, err);
	ok(!r && a.cmd == CMD_VERSION, "--version", "");
	r = parse("up", &a, err);
	ok(r && !strcmp(err, "up: give NAME or --all"), "up: NAME or --all", err);
	r = parse("fleece start vm /dev/buf", &a, err);
	ok(!r && a.cmd == CMD_FLEECE_START && !strcmp(a.name, "vm") && !strcmp(a.dev, "/dev/buf") &&
	   !a.fleece_timeout_ms && !a.read_once && !a.needed && !a.timeout && !a.persistent &&
	   !a.reattach, "fleece start NAME BUFFER parsed", "");
	r = parse("fleece start vm /dev/buf --persistent", &a, err);
	ok(!r && a.cmd == CMD_FLEECE_START && !strcmp(a.dev, "/dev/buf") && a.persistent &&
	   !a.reattach, "fleece start --persistent parsed", "");
	r = parse("fleece start --reattach vm --read-once /dev/buf --timeout=20 --needed 0-9", &a, err);
	ok(!r && !strcmp(a.name, "vm") && !strcmp(a.dev, "/dev/buf") && a.reattach &&
	   !a.persistent && a.read_once && a.fleece_timeout_ms == 20 && !strcmp(a.needed, "0-9"),
	   "fleece start --reattach parsed, with the other options", "");
	r = parse("fleece start vm /dev/buf --persistent --persistent", &a, err);
	ok(!r && a.persistent && !a.reattach, "fleece start --persistent twice: once", "");
	r = parse("fleece start vm /dev/buf --persistent --reattach", &a, err);
	ok(r == COLO_EXIT_USAGE && !strcmp(err, "fleece start: give --persistent (a new view) or --reattach (the view on BUFFER), not both"),
	   "fleece start --persistent --reattach: one of them", err);
	r = parse("fleece start vm /dev/buf --reattach --help --persistent", &a, err);
	ok(!r && a.cmd == CMD_HELP, "fleece start --persistent --reattach --help: the help", "");
	r = parse("fleece start vm /b --persistent=1", &a, err);
	ok(r == COLO_EXIT_USAGE && !strcmp(err, "--persistent takes no value"),
	   "fleece start --persistent=1: takes no value", err);
	r = parse("fleece stop vm --reattach", &a, err);
	ok(r == COLO_EXIT_USAGE && !strcmp(err, "fleece stop does not take --reattach"),
	   "fleece stop --reattach: not its option", err);
	r = parse("fleece start vm /dev/buf --timeout 3600000 --read-once --needed=0-99,200", &a, err);
	ok(!r && a.fleece_timeout_ms == 3600000 && !a.timeout && a.read_once &&
	   !strcmp(a.needed, "0-99,200"), "fleece start --timeout MS --read-once --needed parsed", "");
	r = parse("fleece start --needed all vm --timeout=1 /dev/buf", &a, err);
	ok(!r && !strcmp(a.name, "vm") && !strcmp(a.dev, "/dev/buf") && a.fleece_timeout_ms == 1 &&
	   !strcmp(a.needed, "all"), "fleece start: options anywhere", "");
	r = parse("fleece start vm /b --timeout 0", &a, err);
	ok(r == 2 && !strcmp(err, "fleece start: --timeout '0': milliseconds a save may take before the fleece breaks, 1 to 3600000 (default 5000)"),
	   "fleece start --timeout 0: says the unit and range", err);
	r = parse("fleece start vm /b --needed 5-3", &a, err);
	ok(r == 2 && !strcmp(err, "fleece start: --needed '5-3': the first chunk is after the last"),
	   "fleece start --needed 5-3: says why", err);
	r = parse("fleece start vm", &a, err);
	ok(r == 2 && !strcmp(err, "fleece start: missing BUFFER (the fleece's buffer device)"),
	   "fleece start: missing BUFFER", err);
	r = parse("fleece stop vm --force", &a, err);
	ok(!r && a.cmd == CMD_FLEECE_STOP && !strcmp(a.name, "vm") && a.force,
	   "fleece stop --force parsed", "");
	r = parse("fleece status --json vm-fleece", &a, err);
	ok(!r && a.cmd == CMD_FLEECE_STATUS && !strcmp(a.name, "vm-fleece") && a.json,
	   "fleece status --json parsed", "");
	r = parse("fleece needed vm 1,2-3", &a, err);
	ok(!r && a.cmd == CMD_FLEECE_NEEDED && !strcmp(a.needed, "1,2-3"),
	   "fleece needed NAME RANGES parsed", "");
	r = parse("fleece needed vm x", &a, err);
	ok(r == 2 && !strcmp(err, "fleece needed: 'x' is not a chunk range: all, or <first>-<last> and <chunk> separated by commas (e.g. 0-99,200)"),
	   "fleece needed x: says what a range is", err);
	r = parse("fleece needed vm", &a, err);
	ok(r == 2 && !strcmp(err, "fleece needed: missing RANGES (chunk ranges such as 0-99,200, or all)"),
	   "fleece needed: missing RANGES", err);
	r = parse("fleece frob vm", &a, err);
	ok(r == 2 && !strcmp(err, "fleece: unknown subcommand 'frob' (start, stop, status, needed)"),
	   "fleece frob: lists the subcommands", err);
	r = parse("up --all --pin --colotab /tmp/t", &a, err);
	ok(!r && a.cmd == CMD_UP && a.all && a.pin && !a.name && !strcmp(a.colotab, "/tmp/t"),
	   "up --all --pin --colotab parsed", "");
	r = parse("down vm --force --colotab=/tmp/t", &a, err);
	ok(!r && a.cmd == CMD_DOWN && !a.all && a.force && !strcmp(a.name, "vm") &&
	   !strcmp(a.colotab, "/tmp/t"), "down NAME --force --colotab= parsed", "");
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
		/* fields 17-19: metadata, uuids, regions */
		"primary 8 0/16 0/16 done 1/1 0/16 none 0/0 none ok 0 complete ok",
		"primary 8 0/16 0/16 done 1/1 0/16 none 0/0 none ok 0 complete ok -",
		"primary 8 0/16 0/16 done 1/1 0/16 none 0/0 none ok 0 complete maybe - -",
		"primary 8 0/16 0/16 done 1/1 0/16 none 0/0 none ok 0 complete none 0123456789abcdef/0123456789abcdef -",
		"primary 8 0/16 0/16 done 1/1 0/16 none 0/0 none ok 0 complete none - 0/4",
		"primary 8 0/16 0/16 done 1/1 0/16 none 0/0 none ok 0 complete ok 0123456789ABCDEF/0123456789abcdef 0/4",
		"primary 8 0/16 0/16 done 1/1 0/16 none 0/0 none ok 0 complete ok 0123456789abcdef/0123456789abcde 0/4",
		"primary 8 0/16 0/16 done 1/1 0/16 none 0/0 none ok 0 complete ok 0123456789abcdef-0123456789abcdef 0/4",
		"primary 8 0/16 0/16 done 1/1 0/16 none 0/0 none ok 0 complete ok 0123456789abcdef/0123456789abcdef0 0/4",
		"primary 8 0/16 0/16 done 1/1 0/16 none 0/0 none ok 0 complete ok - 5/4",
		"primary 8 0/16 0/16 done 1/1 0/16 none 0/0 none ok 0 complete ok - 1/",
		"primary 8 0/16 0/16 done 1/1 0/16 none 0/0 none ok 0 complete ok - /4",
		"primary 8 0/16 0/16 done 1/1 0/16 none 0/0 none ok 0 complete ok - 1/+4",
		"primary 8 0/16 0/16 done 1/1 0/16 none 0/0 none ok 0 complete ok - 1/4x",
		"primary 8 0/16 0/16 done 1/1 0/16 none 0/0 none ok 0 complete ok - -1/4",
		"primary 8 0/16 0/16 done 1/1 0/16 none 0/0 none ok - complete ok - -",
		"- 8 0/16 0/16 done 1/1 0/16 none 0/0 none ok 0 complete ok - -",
		/* fields 20-22: verify state, verified/to_verify, different */
		"primary 8 0/16 0/16 done 1/1 0/16 in-sync 0/0 none ok 0 complete none - - maybe 0/0 0",
		"primary 8 0/16 0/16 done 1/1 0/16 in-sync 0/0 none ok 0 complete none - - done 2/1 0",
		"primary 8 0/16 0/16 done 1/1 0/16 in-sync 0/0 none ok 0 complete none - - done 1/1 2",
		"primary 8 0/16 0/16 done 1/1 0/16 in-sync 0/0 none ok 0 complete none - - done 1/1",
		"primary 8 0/16 0/16 done 1/1 0/16 in-sync 0/0 none ok 0 complete none - - done",
		"primary 8 0/16 0/16 done 1/1 0/16 in-sync 0/0 none ok 0 complete none - - done 1x/1 0",
		"primary 8 0/16 0/16 done 1/1 0/16 in-sync 0/0 none ok 0 complete none - - done 1/1x 0",
		"primary 8 0/16 0/16 done 1/1 0/16 in-sync 0/0 none ok 0 complete none - - done 1/1 0x",
		"primary 8 0/16 0/16 done 1/1 0/16 in-sync 0/0 none ok 0 complete none - - done 1/ 0",
		"primary 8 0/16 0/16 done 1/1 0/16 in-sync 0/0 none ok 0 complete none - - done 1/1 -1",
		/* fields 23-25: mirror mode, lag/max_lag (KiB), ahead */
		"primary 8 0/16 0/16 done 1/1 0/16 in-sync 0/0 none ok 0 complete none - - none 0/0 0 fast 0/0 0",
		"primary 8 0/16 0/16 done 1/1 0/16 in-sync 0/0 none ok 0 complete none - - none 0/0 0 async 0/0 0",
		"primary 8 0/16 0/16 done 1/1 0/16 in-sync 0/0 none ok 0 complete none - - none 0/0 0 sync 0/64 0",
		"primary 8 0/16 0/16 done 1/1 0/16 in-sync 0/0 none ok 0 complete none - - none 0/0 0 async 1/64",
		"primary 8 0/16 0/16 done 1/1 0/16 in-sync 0/0 none ok 0 complete none - - none 0/0 0 async 1/64 x",
		"primary 8 0/16 0/16 done 1/1 0/16 in-sync 0/0 none ok 0 complete none - - none 0/0 0 async 1x/64 0",
		"primary 8 0/16 0/16 done 1/1 0/16 in-sync 0/0 none ok 0 complete none - - none 0/0 0 async 1/ 0",
		"primary 8 0/16 0/16 done 1/1 0/16 in-sync 0/0 none ok 0 complete none - - none 0/0 0 async -1/64 0",
		"primary 8 0/16 0/16 done 1/1 0/16 in-sync 0/0 none ok 0 complete none - - none 0/0 0 async",
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
	ok(!colo_parse_status("primary 2048 5/10 3/10 running 2/7 7/10 copying 4/9 none error 99 complete ok 00000000000000ff/0000000000000000 1/3 none 0/0 0 async 12/64 3 512 auto:64 0 none extra 1",
			      &st) && !strcmp(st.commit, "running") && st.committed == 2 &&
	   st.to_commit == 7 && st.dirty == 7 && !strcmp(st.mirror, "copying") &&
	   st.mirrored == 4 && st.to_mirror == 9 && !strcmp(st.health, "error") &&
	   !strcmp(st.coverage, "complete") && !strcmp(st.metadata, "ok") &&
	   st.has_uuids && st.uuid_current == 0xff && !st.uuid_previous &&
	   st.has_regions && st.regions_marked == 1 && st.regions == 3 &&
	   st.has_mirror_mode && !strcmp(st.mirror_mode, "async") && st.lag_kib == 12 &&
	   st.max_lag_kib == 64 && st.ahead == 3 && st.has_rates && st.mirror_kib == 512 &&
	   !strcmp(st.mirror_limit, "auto:64") && !st.verify_kib &&
	   !strcmp(st.verify_limit, "none"),
	   "primary status parsed (fields after the 29th ignored)", "");
	ok(!colo_parse_status("primary 8 0/16 0/16 done 1/1 0/16 in-sync 9/9 none ok 0 complete none - - none 0/0 0 sync 0/0 7",
			      &st2) && st2.has_mirror_mode && !strcmp(st2.mirror_mode, "sync") &&
	   !st2.lag_kib && !st2.max_lag_kib && st2.ahead == 7 && !st2.has_rates,
	   "sync mirror mode parsed (no rates from an older module)", "");
	ok(!colo_parse_status("primary 8 0/16 0/16 done 1/1 0/16 in-sync 9/9 none ok 0 complete none - - none 0/0 0",
			      &st2) && !st2.has_mirror_mode && !strcmp(st2.mirror_mode, "none"),
	   "no mirror mode from an older module", "");
	ok(colo_parse_status("primary 8 0/16 0/16 done 1/1 0/16 in-sync 9/9 none ok 0 complete none - - none 0/0 0 0 none 0 none",
			     &st2) == -1,
	   "rate fields where the mirror's mode belongs refused", "");
	ok(!colo_parse_status("primary 8 0/16 0/16 none 0/0 0/16 none 0/0 none ok 0 complete ok 0123456789abcdef/fedcba9876543210 0/4",
			      &st2) && !strcmp(st2.metadata, "ok") &&
	   st2.uuid_current == 0x0123456789abcdefULL && st2.uuid_previous == 0xfedcba9876543210ULL &&
	   st2.has_regions && !st2.regions_marked && st2.regions == 4,
	   "metadata ok, uuids and regions parsed", "");
	ok(!colo_parse_status("secondary 8 0/16 0/16 none 0/0 0/16 none 0/0 none ok 0 unknown none - -",
			      &st2) && !strcmp(st2.metadata, "none") && !st2.has_uuids &&
	   !st2.has_regions, "no metadata device: none - -", "");
	ok(!colo_parse_status("primary 8 0/16 0/16 none 0/0 0/16 none 0/0 none error 0 unknown failed - -",
			      &st2) && !strcmp(st2.metadata, "failed") && !st2.has_uuids,
	   "metadata failed, no uuids", "");
	ok(!colo_parse_status("primary 8 0/16 0/16 none 0/0 0/16 none 0/0 none ok 0 complete",
			      &st2) && !strcmp(st2.metadata, "none") && !st2.has_uuids &&
	   !st2.has_regions, "a 16-field line: metadata none", "");
	ok(!colo_parse_status("primary 8 0/16 0/16 none 0/0 0/16 none 0/0 none ok 0 unknown", &st2) &&
	   !strcmp(st2.coverage, "unknown"), "dirty coverage unknown parsed", "");
	ok(!colo_parse_status("primary 8 0/16 0/16 none 0/0 0/16 none 0/0 none ok 0", &st2) &&
	   !st2.coverage[0] && !strcmp(st2.metadata, "none") && !strcmp(st2.verify, "none"),
	   "no dirty coverage, no verify from an older module", "");
	ok(!colo_parse_status("primary 8 0/16 0/16 done 1/1 0/16 in-sync 9/9 none ok 0 complete none - - running 5/16 2",
			      &st2) && !strcmp(st2.verify, "running") && st2.verified == 5 &&
	   st2.to_verify == 16 && st2.verify_different == 2 &&
	   colo_state_check(&st2, STATE_VERIFIED, &why) == 0 &&
	   colo_state_progress(&st2, STATE_VERIFIED, &d, &t) && d == 5 && t == 16,
	   "verify running parsed: not verified yet, progress 5/16", "");
	ok(!colo_parse_status("primary 8 0/16 0/16 done 1/1 3/16 in-sync 9/9 none ok 0 complete none - - done 16/16 3",
			      &st2) && colo_state_check(&st2, STATE_VERIFIED, &why) == 1 &&
	   st2.verify_different == 3, "verify done seen", "");
	ok(!colo_parse_status("primary 8 0/16 0/16 done 1/1 0/16 degraded 9/9 none ok 0 complete none - - failed 4/16 0",
			      &st2) && colo_state_check(&st2, STATE_VERIFIED, &why) == -1 && why,
	   "verify failed ends a wait for verified", "");
	ok(!colo_parse_status("primary 8 0/16 0/16 done 1/1 0/16 in-sync 9/9 none ok 0 complete none - - stopped 4/16 0",
			      &st2) && colo_state_check(&st2, STATE_VERIFIED, &why) == -1 && why,
	   "verify stopped ends a wait for verified", "");
	ok(!colo_parse_status("primary 8 0/16 0/16 done 1/1 0/16 in-sync 9/9 none ok 0 complete none - - none 0/0 0",
			      &st2) && colo_state_check(&st2, STATE_VERIFIED, &why) == -1 && why,
	   "no verify: nothing to wait for", "");
	ok(!colo_parse_status("primary 8 0/16 0/16 done 1/1 0/16 in-sync 9/9 none ok 0 complete none - - none 0/0 0",
			      &st2) && !st2.has_rates, "no copy rates from an older module", "");
	ok(!colo_parse_status("primary 8 0/16 0/16 done 1/1 0/16 copying 3/9 none ok 0 complete none - - running 5/16 0 sync 0/0 0 20480 auto:10240 77 4096",
			      &st2) && st2.has_rates && st2.mirror_kib == 20480 &&
	   !strcmp(st2.mirror_limit, "auto:10240") && st2.verify_kib == 77 &&
	   !strcmp(st2.verify_limit, "4096"), "copy rates and limits parsed", "");
	ok(!colo_parse_status("primary 8 0/16 0/16 done 1/1 0/16 copying 3/9 none ok 0 complete none - - none 0/0 0 sync 0/0 0 0 none 0 auto:1 newer fields",
			      &st2) && st2.has_rates && !st2.mirror_kib &&
	   !strcmp(st2.mirror_limit, "none") && !strcmp(st2.verify_limit, "auto:1"),
	   "copy rates: fields a newer module appends are ignored", "");
	{
		static const char *const bad_rates[] = {
			"0 auto: 0 none", "0 auto:x 0 none", "0 auto:-1 0 none", "x none 0 none",
			"1x none 0 none", "0 none 0", "0 fast 0 none", "0 none 0 12k",
			"-1 none 0 none", "0 none 0 none5",
		};
		char line[256];
		unsigned int k;

		for (k = 0; k < sizeof(bad_rates) / sizeof(bad_rates[0]); k++) {
			snprintf(line, sizeof(line),
				 "primary 8 0/16 0/16 done 1/1 0/16 copying 3/9 none ok 0 complete none - - none 0/0 0 sync 0/0 0 %s",
				 bad_rates[k]);
			ok(colo_parse_status(line, &st2) == -1, "bad copy rate fields refused",
			   bad_rates[k]);
		}
	}
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
	ok(colo_state_check(&st, STATE_DONE, &why) == 0 && why &&
	   colo_state_check(&st, STATE_FAILED, &why) == 0 && why &&
	   colo_state_check(&st, STATE_IN_SYNC, &why) == 0 && why &&
	   colo_state_check(&st, STATE_DEGRADED, &why) == 0 && why &&
	   colo_state_check(&st, STATE_PRIMARY, &why) == 0 && !why &&
	   !colo_state_progress(&st, STATE_DONE, &d, &t),
	   "secondary: commit and mirror not started yet, waited for", "");
	colo_parse_status("primary 8 0/16 0/16 done 3/3 0/16 copying 1/9 none ok 0", &st);
	ok(colo_state_check(&st, STATE_DEGRADED, &why) == 0 && !why &&
	   colo_state_check(&st, STATE_IN_SYNC, &why) == 0 && !why,
	   "mirror copying: in-sync and degraded not yet", "");
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
	colo_status_json(f, "vm", 128, &st, legs, "vm-ingress", NULL);
	n = ftell(f);
	fclose(f);
	buf[n] = '\0';
	ok(!strcmp(buf, "{\"schema\":2,\"name\":\"vm\",\"target\":\"colo\",\"sectors\":128,\"mode\":\"secondary\","
		   "\"chunk_sectors\":8,\"chunk_bytes\":4096,\"chunks\":16,"
		   "\"legs\":{\"base\":\"/dev/ram0\",\"hidden\":\"/dev/ram\\\"1\"},"
		   "\"active\":1,\"hidden\":2,\"commit\":{\"state\":\"none\",\"committed\":0,"
		   "\"to_commit\":0,\"percent\":null,\"rate\":null,\"eta_seconds\":null},"
		   "\"dirty\":0,\"mirror\":{\"state\":\"none\",\"mirrored\":0,"
		   "\"to_mirror\":0,\"percent\":null,\"rate\":null,\"eta_seconds\":null,"
		   "\"copy_rate\":null,\"rate_limit\":null,\"min_rate\":null},"
		   "\"ingress\":\"vm-ingress\",\"health\":\"ok\","
		   "\"bitmap_bytes\":8240,\"dirty_coverage\":null,\"metadata\":\"none\","
		   "\"metadata_device\":null,\"uuid_current\":null,\"uuid_previous\":null,"
		   "\"regions_marked\":null,\"regions\":null,\"verify\":{\"state\":\"none\","
		   "\"verified\":0,\"to_verify\":0,\"different\":0,\"copy_rate\":null,"
		   "\"rate_limit\":null,\"min_rate\":null},\"mirror_mode\":\"none\","
		   "\"lag_kib\":0,\"max_lag_kib\":0,\"ahead\":0}"), "status JSON", buf);

	colo_parse_status("primary 8 0/16 0/16 done 1/1 3/16 none 0/0 none ok 0 complete ok "
			  "00000000deadbeef/0000000000000001 2/4", &st);
	f = fmemopen(buf, sizeof(buf), "w");
	colo_status_json(f, NULL, 128, &st, NULL, NULL, "/dev/vdc");
	n = ftell(f);
	fclose(f);
	buf[n] = '\0';
	ok(strstr(buf, ",\"dirty_coverage\":\"complete\",\"metadata\":\"ok\","
		   "\"metadata_device\":\"/dev/vdc\",\"uuid_current\":\"00000000deadbeef\","
		   "\"uuid_previous\":\"0000000000000001\",\"regions_marked\":2,\"regions\":4,") &&
	   buf[n - 1] == '}', "status JSON with metadata", buf);

	colo_parse_status("primary 8 0/16 0/16 done 1/1 3/16 copying 2/9 none ok 0 complete none - - "
			  "running 5/16 0 sync 0/0 0 10240 auto:2048 3 512", &st);
	f = fmemopen(buf, sizeof(buf), "w");
	colo_status_json(f, NULL, 128, &st, NULL, NULL, NULL);
	n = ftell(f);
	fclose(f);
	buf[n] = '\0';
	ok(strstr(buf, "\"eta_seconds\":null,\"copy_rate\":10485760,\"rate_limit\":\"auto\","
		   "\"min_rate\":2097152},") &&
	   strstr(buf, "\"different\":0,\"copy_rate\":3072,\"rate_limit\":524288,"
		  "\"min_rate\":null},\"mirror_mode\":\"sync\""), "status JSON: the kernel's copy rates and limits", buf);
	colo_parse_status("primary 8 0/16 0/16 done 1/1 3/16 in-sync 9/9 none ok 0 complete none - - "
			  "none 0/0 0 sync 0/0 0 0 none 0 none", &st);
	f = fmemopen(buf, sizeof(buf), "w");
	colo_status_json(f, NULL, 128, &st, NULL, NULL, NULL);
	n = ftell(f);
	fclose(f);
	buf[n] = '\0';
	ok(strstr(buf, "\"copy_rate\":0,\"rate_limit\":null,\"min_rate\":null},") != NULL,
	   "status JSON: no limit is null", buf);
}

static void test_table(void)
{
	static const struct { const char *params, *want; } t[] = {
		{ "primary 254:1 8 2 metadata 254:2", "254:2" },
		{ "primary 254:1 8 6 max_copies 4 metadata 254:2 region_size 16384", "254:2" },
		{ "secondary 1:0 1:1 1:2 128 4 metadata 7:3 region_size 8192", "7:3" },
		{ "primary 254:1 8", NULL },
		{ "primary 254:1 8 2 max_copies 4", NULL },
		{ "secondary 1:0 1:1 1:2 128 2 max_copies 4 metadata 7:3", NULL },
		{ "primary 254:1 8 1 metadata", NULL },
		{ "bogus 254:1 8 2 metadata 254:2", NULL },
	};
	static const struct { const char *line, *want; } c[] = {
		{ "create vm --primary /dev/vdb --chunk 64k --metadata /dev/vdc --region-size 8m",
		  "primary /dev/vdb 128 4 metadata /dev/vdc region_size 16384" },
		{ "create vm --primary /dev/vdb --max-copies 4 --metadata /dev/vdc --region-size 4m",
		  "primary /dev/vdb 8 6 max_copies 4 metadata /dev/vdc region_size 8192" },
		{ "create vm --secondary /b /h /a --metadata /m", "secondary /b /h /a 8 2 metadata /m" },
		{ "create vm --secondary /b /h /a --max-copies 2", "secondary /b /h /a 8 2 max_copies 2" },
		{ "create vm --secondary /b /h /a --chunk 512", "secondary /b /h /a 1" },
	};
	struct colo_args a;
	unsigned int i;
	char buf[128], err[256];

	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		int r = parse(c[i].line, &a, err);

		ok(!r && !colo_table_params(&a, a.chunk_sectors ? a.chunk_sectors : 8,
					    a.region_sectors, buf, sizeof(buf)) &&
		   !strcmp(buf, c[i].want), "create's table line", buf);
	}
	parse(c[0].line, &a, err);
	ok(colo_table_params(&a, 128, 16384, buf, 40) == -1, "table line too long refused", "");

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int r = colo_table_opt(t[i].params, "metadata", buf, sizeof(buf));

		ok(t[i].want ? !r && !strcmp(buf, t[i].want) : r == -1,
		   "table's metadata option", t[i].params);
	}
}

/* Rates, device numbers, names, the target's version, kernel log lines. */
static void test_units(void)
{
	static const struct { const char *s; uint64_t kib; } rates[] = {
		{ "1k", 1 }, { "1024", 1 }, { "2048", 2 }, { "50m", 51200 }, { "50M", 51200 },
		{ "50MiB", 51200 }, { "1g", 1048576 }, { "8s", 4 }, { "4294967295k", 4294967295ULL },
	};
	static const char *const not_kib[] = { "1500", "100", "1s", "1025", "3s" };
	static const char *const bad_rates[] = { "0", "0k", "x", "4294967296k", "1.5m", "" };
	static const char *const devnums[] = { "1:0", "253:12", "259:1048575" };
	static const char *const not_devnums[] = {
		"/dev/ram0", "1:", ":0", "1:0:0", "a:1", "1:x", "1 :0", "4096:0", "1:1048576",
		"-1:0", "ram0",
	};
	static const struct { const char *line, *dev, *reason; } lines[] = {
		{ "device-mapper: table: 253:4: colo: Base too small", "253:4", "Base too small" },
		{ "device-mapper: table: 253:4: colo-ingress: No colo device", "253:4",
		  "No colo device" },
		{ "device-mapper: colo: 253:4: message 'x' refused: no", "253:4",
		  "253:4: message 'x' refused: no" },
		{ "device-mapper: table: 253:40: colo: other", "253:4", NULL },
		{ "device-mapper: table: 253:4: linear: other", "253:4", NULL },
		{ "device-mapper: colo: 253:41: message refused", "253:4", NULL },
		{ "device-mapper: colo: 253:5: mirror degraded: x", "253:4", NULL },
		{ "device-mapper: ioctl: error adding target to table", "253:4", NULL },
		{ "colo: 253:4: not from dm", "253:4", NULL },
		{ "device-mapper: colo: 1253:4: other", "253:4", NULL },
		{ "device-mapper: colo: 253:4: mirror degraded: io", "253:4",
		  "253:4: mirror degraded: io" },
		{ "device-mapper: colo: 253:4: x", "", NULL },
		{ "device-mapper: table: 253:4: colo-fleece: No active colo device uses this base device",
		  "253:4", "No active colo device uses this base device" },
		{ "device-mapper: colo-fleece: 253:4: needed all refused: the view was restricted",
		  "253:4", "253:4: needed all refused: the view was restricted" },
		{ "device-mapper: colo-fleece: 253:5: needed refused", "253:4", NULL },
		{ "device-mapper: table: 253:4: colo-fleece: Base was written without this fleece since: cannot re-attach",
		  "253:4", "Base was written without this fleece since: cannot re-attach" },
		{ "device-mapper: colo-fleece: 253:4: cannot re-attach: base was written without it since",
		  "253:4", "253:4: cannot re-attach: base was written without it since" },
	};
	static const unsigned int versions[][4] = {	/* major minor patch ok */
		{ COLO_VERSION_MAJOR, 0, 0, 1 }, { COLO_VERSION_MAJOR, 7, 3, 1 },
		{ COLO_VERSION_MAJOR + 1, 0, 0, 0 }, { 0, 9, 9, COLO_VERSION_MAJOR == 0 },
	};
	struct colo_args a;
	char err[256], line[512], name[200];
	unsigned int i, ma, mi;
	const char *why;
	uint64_t v;
	int r;

	for (i = 0; i < sizeof(rates) / sizeof(rates[0]); i++)
		ok(!colo_parse_rate(rates[i].s, &v) && v == rates[i].kib, "rate accepted",
		   rates[i].s);
	for (i = 0; i < sizeof(not_kib) / sizeof(not_kib[0]); i++)
		ok(colo_parse_rate(not_kib[i], &v) == COLO_RATE_NOT_KIB,
		   "rate not a whole KiB/s refused", not_kib[i]);
	for (i = 0; i < sizeof(bad_rates) / sizeof(bad_rates[0]); i++)
		ok(colo_parse_rate(bad_rates[i], &v) == COLO_SIZE_BAD, "rate refused",
		   bad_rates[i]);
	for (i = 0; i < sizeof(devnums) / sizeof(devnums[0]); i++) {
		r = colo_parse_devnum(devnums[i], &ma, &mi);
		snprintf(line, sizeof(line), "%u:%u", ma, mi);
		ok(!r && !strcmp(line, devnums[i]), "MAJ:MIN parsed", devnums[i]);
	}
	for (i = 0; i < sizeof(not_devnums) / sizeof(not_devnums[0]); i++)
		ok(colo_parse_devnum(not_devnums[i], &ma, &mi) == -1, "not MAJ:MIN",
		   not_devnums[i]);
	for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		why = colo_kmsg_reason(lines[i].line, lines[i].dev);
		ok(lines[i].reason ? why && !strcmp(why, lines[i].reason) : !why,
		   "kernel log line for the device or not", lines[i].line);
	}
	for (i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
		snprintf(line, sizeof(line), "%u.%u.%u", versions[i][0], versions[i][1],
			 versions[i][2]);
		ok((colo_target_version_ok(versions[i]) == 0) == (int)versions[i][3],
		   versions[i][3] ? "target version known" : "target version refused", line);
	}

	/* Names: create needs room for NAME-ingress; other commands take 127. */
	memset(name, 'n', sizeof(name));
	name[COLO_NAME_MAX_CREATE] = '\0';
	snprintf(line, sizeof(line), "create %s --primary /dev/x", name);
	r = parse(line, &a, err);
	ok(!r && strlen(a.name) == 119, "create: a 119-byte name", "");
	name[COLO_NAME_MAX_CREATE] = 'n';
	name[COLO_NAME_MAX_CREATE + 1] = '\0';
	snprintf(line, sizeof(line), "create %s --primary /dev/x", name);
	r = parse(line, &a, err);
	ok(r == 2 && strstr(err, "is 120 bytes long: at most 119, so that its ingress NAME-ingress fits in dm's 127"),
	   "create: a 120-byte name refused", err);
	memset(name, 'n', sizeof(name));
	name[125] = '\0';
	snprintf(line, sizeof(line), "create %s --secondary /a /b /c", name);
	ok(parse(line, &a, err) == 2, "create: a 125-byte name refused", "");
	snprintf(line, sizeof(line), "status %s", name);
	ok(!parse(line, &a, err), "status: a 125-byte name taken", "");
	memset(name, 'n', sizeof(name));
	name[128] = '\0';
	snprintf(line, sizeof(line), "status %s", name);
	ok(parse(line, &a, err) == 2, "status: a 128-byte name refused", "");

	/* The option sentences. */
	r = parse("mirror start vm /dev/x --rate 50MB", &a, err);
	ok(r == 2 && !strcmp(err, "--rate '50MB': decimal units (kB, MB, GB, TB) are refused: say 50MiB (binary units, powers of 1024: K or KiB, M or MiB, G or GiB, T or TiB)"),
	   "--rate 50MB: says to use MiB", err);
	r = parse("mirror start vm /dev/x --rate 1500", &a, err);
	ok(r == 2 && !strcmp(err, "--rate '1500': not a whole number of KiB/s (the kernel's unit); give a multiple of 1024 bytes/s, e.g. 2k or 50m"),
	   "--rate 1500: not rounded", err);
	r = parse("create vm --primary /a --chunk 4kB", &a, err);
	ok(r == 2 && strstr(err, "--chunk '4kB': decimal units") && strstr(err, "say 4KiB"),
	   "--chunk 4kB: says to use KiB", err);
	r = parse("create vm --primary /a --metadata /m --region-size 4MB", &a, err);
	ok(r == 2 && strstr(err, "--region-size '4MB': decimal units"),
	   "--region-size 4MB: says to use MiB", err);
	r = parse("mirror start vm /dev/x --rate auto --min-rate 10MB", &a, err);
	ok(r == 2 && !strcmp(err, "--min-rate '10MB': decimal units (kB, MB, GB, TB) are refused: say 10MiB (binary units, powers of 1024: K or KiB, M or MiB, G or GiB, T or TiB)"),
	   "--min-rate 10MB: says to use MiB", err);
	r = parse("verify vm --rate auto --min-rate 1500", &a, err);
	ok(r == 2 && !strcmp(err, "--min-rate '1500': not a whole number of KiB/s (the kernel's unit); give a multiple of 1024 bytes/s, e.g. 2k or 10m"),
	   "--min-rate 1500: not rounded", err);
	r = parse("mirror start vm /dev/x --rate 4m --min-rate 1m", &a, err);
	ok(r == 2 && !strcmp(err, "mirror start: --min-rate is the floor of --rate auto: give --rate auto too"),
	   "--min-rate without --rate auto: says why", err);
	r = parse("mirror start vm /dev/x --rate fast", &a, err);
	ok(r == 2 && !strcmp(err, "--rate 'fast': auto, or bytes per second, at least 1k (e.g. 50m)"),
	   "--rate fast: auto or bytes per second", err);
	r = parse("mirror start vm 7:3 --rate 4MiB", &a, err);
	ok(!r && a.rate_kib == 4096 && !strcmp(a.dev, "7:3"), "mirror start MAJ:MIN --rate 4MiB",
	   "");
	r = parse("create vm --secondary 1:0 1:1 1:2 --metadata 1:3", &a, err);
	ok(!r && !strcmp(a.base, "1:0") && !strcmp(a.metadata, "1:3"), "create with MAJ:MIN",
	   "");
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

static void test_uuid(void)
{
	static const char *const bad[] = {
		"", "COLO-DEV-", "COLO-DEV-0123456789abcdef0123456789abcde",
		"COLO-DEV-0123456789abcdef0123456789abcdef0",
		"COLO-DEV-0123456789ABCDEF0123456789abcdef",
		"COLO-DEV-0123456789abcdef0123456789abcdeg",
		"COLO-DEVX0123456789abcdef0123456789abcdef",
		"COLO-INGRESS-0123456789abcdef0123456789abcdef",
		"colo-DEV-0123456789abcdef0123456789abcdef",
		"LVM-0123456789abcdef0123456789abcdef",
	};
	char id[COLO_UUID_ID_LEN + 1], id2[COLO_UUID_ID_LEN + 1], back[COLO_UUID_ID_LEN + 1];
	char uuid[COLO_UUID_MAX], buf[2048], want[128];
	struct colo_status st;
	unsigned int i;
	FILE *f;
	size_t n;

	ok(!colo_uuid_new_id(id) && strlen(id) == COLO_UUID_ID_LEN &&
	   strspn(id, "0123456789abcdef") == COLO_UUID_ID_LEN, "new ID: 32 hex digits", id);
	ok(!colo_uuid_new_id(id2) && strcmp(id, id2), "two new IDs differ", id2);
	ok(!colo_uuid_make(uuid, sizeof(uuid), COLO_ROLE_DEV, id) &&
	   !strncmp(uuid, "COLO-DEV-", 9) && !strcmp(uuid + 9, id), "colo device UUID", uuid);
	ok(!colo_uuid_id(uuid, COLO_ROLE_DEV, back) && !strcmp(back, id), "its ID back", back);
	ok(colo_uuid_id(uuid, COLO_ROLE_INGRESS, back) == -1, "not an ingress UUID", uuid);
	ok(!colo_uuid_make(uuid, sizeof(uuid), COLO_ROLE_INGRESS, id) &&
	   strlen(uuid) == COLO_UUID_MAX - 1 && strlen(uuid) <= 128 &&
	   !strncmp(uuid, "COLO-INGRESS-", 13), "ingress UUID: the longest, within 128", uuid);
	ok(!colo_uuid_id(uuid, COLO_ROLE_INGRESS, back) && !strcmp(back, id),
	   "ingress UUID: its colo device's ID", back);
	ok(colo_uuid_make(uuid, COLO_UUID_MAX - 1, COLO_ROLE_INGRESS, id) == -1,
	   "UUID refused: buffer too small", "");
	ok(colo_uuid_make(uuid, sizeof(uuid), COLO_ROLE_DEV, "0123") == -1,
	   "UUID refused: not an ID", "0123");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ok(colo_uuid_id(bad[i], COLO_ROLE_DEV, back) == -1, "not a colo device UUID", bad[i]);

	colo_parse_status("secondary 8 1/16 2/16 none 0/0 0/16 none 0/0 attached ok 8240", &st);
	st.has_dm_uuid = 1;
	snprintf(st.dm_uuid, sizeof(st.dm_uuid), "COLO-DEV-%s", id);
	f = fmemopen(buf, sizeof(buf), "w");
	colo_status_json(f, "vm", 128, &st, NULL, NULL, NULL);
	n = ftell(f);
	fclose(f);
	buf[n] = '\0';
	snprintf(want, sizeof(want), "{\"schema\":2,\"name\":\"vm\",\"dm_uuid\":\"COLO-DEV-%s\","
		 "\"target\":\"colo\",", id);
	ok(!strncmp(buf, want, strlen(want)), "status JSON with the dm UUID", buf);
	st.dm_uuid[0] = '\0';
	f = fmemopen(buf, sizeof(buf), "w");
	colo_status_json(f, "vm", 128, &st, NULL, NULL, NULL);
	n = ftell(f);
	fclose(f);
	buf[n] = '\0';
	snprintf(want, sizeof(want), "{\"schema\":2,\"name\":\"vm\",\"dm_uuid\":null,\"target\":");
	ok(!strncmp(buf, want, strlen(want)),
	   "status JSON: no dm UUID is null", buf);
}

/* colotab(5): a good file, then each bad line's exact sentence. */
static int tab_read(const char *text, struct colotab *t, char *err, char *warn)
{
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	FILE *w = fmemopen(warn, 1024, "w");
	int r;

	memset(warn, 0, 1024);
	err[0] = '\0';
	r = colotab_read(f, "tab", t, err, 512, w);
	fclose(f);
	fclose(w);
	return r;
}

static void test_colotab(void)
{
	static const struct {
		const char *text, *err;
	} bad[] = {
		{ "vm secondary base=/a hidden=/b active=/c colour=red\n",
		  "tab:1: unknown key 'colour' (base, hidden, active, metadata, chunk, max-copies, region-size, ingress)" },
		{ "# c\n\nvm primary base=/a\n  vm primary base=/b # again\n",
		  "tab:4: duplicate name 'vm' (first on line 3)" },
		{ "vm primary base=/a chunk=4kB\n",
		  "tab:1: chunk '4kB': decimal units (kB, MB, GB, TB) are refused: binary units only (K or KiB, M or MiB, G or GiB, T or TiB)" },
		{ "vm primary base=/a chunk=3k\n",
		  "tab:1: chunk '3k': a power of two from 512 to 1m (e.g. 4k, 64k)" },
		{ "vm primary base=/a metadata=/m region-size=5m\n",
		  "tab:1: region-size '5m': a power of two from 512 to 1g (e.g. 4m, the default)" },
		{ "vm primary base=/a region-size=4m\n",
		  "tab:1: vm: region-size= needs metadata= (regions are kept there)" },
		{ "vm primary base=/a metadata=/m chunk=64k region-size=4k\n",
		  "tab:1: vm: region-size= must be at least the chunk size" },
		{ "vm tertiary base=/a\n", "tab:1: vm: the mode is secondary or primary, not 'tertiary'" },
		{ "vm\n", "tab:1: vm: the mode is secondary or primary, not ''" },
		{ "vm primary /dev/x\n", "tab:1: '/dev/x' is not KEY=VALUE" },
		{ "vm primary base=\n", "tab:1: base= needs a value" },
		{ "vm primary base=/a base=/b\n", "tab:1: base= given twice" },
		{ "vm primary chunk=4k\n", "tab:1: vm: base= is missing" },
		{ "vm secondary base=/a hidden=/b\n",
		  "tab:1: vm: a secondary needs base=, hidden= and active=" },
		{ "vm primary base=/a hidden=/b\n", "tab:1: vm: a primary has no hidden= or active=" },
		{ "vm primary base=/a ingress=yes\n", "tab:1: vm: ingress=yes is for a secondary" },
		{ "vm secondary base=/a hidden=/b active=/c ingress=1\n",
		  "tab:1: ingress '1': yes or no" },
		{ "vm primary base=/a max-copies=0\n", "tab:1: max-copies '0': a number from 1 to 1024" },
		{ "vm primary base=/a max-copies=1025\n",
		  "tab:1: max-copies '1025': a number from 1 to 1024" },
		{ "a/b primary base=/a\n",
		  "tab:1: 'a/b' is not a device name (1 to 119 bytes, no '/' or '=')" },
		{ "x=y primary base=/a\n",
		  "tab:1: 'x=y' is not a device name (1 to 119 bytes, no '/' or '=')" },
	};
	static const char good[] =
		"# the VMs of this host\n"
		"\n"
		"vm  secondary base=/dev/disk/by-id/wwn-0x1 hidden=/dev/disk/by-partlabel/h \\\n";
	static const char good2[] =
		"vm\tsecondary base=/dev/disk/by-id/wwn-0x1 hidden=/dev/disk/by-partlabel/h active=/dev/sdc chunk=64k ingress=yes  # comment\n"
		"   \t\n"
		"pvm primary base=/dev/disk/by-uuid/u metadata=/dev/disk/by-path/p region-size=8m max-copies=8\n"
		"old primary base=8:16\n";
	struct colotab t;
	char err[512], warn[1024], line[160];
	const struct colotab_entry *e;
	unsigned int i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = tab_read(bad[i].text, &t, err, warn);

		ok(r == -1 && !strcmp(err, bad[i].err), "colotab refused", bad[i].err);
		if (strcmp(err, bad[i].err))
			printf("#   got '%s'\n", err);
	}
	/* A continuation is no part of the format: "\" is a word, not KEY=VALUE. */
	ok(tab_read(good, &t, err, warn) == -1 && !strcmp(err, "tab:3: '\\' is not KEY=VALUE"),
	   "colotab: no line continuation", err);
	ok(!tab_read(good2, &t, err, warn) && t.n == 3, "colotab read", err);
	e = colotab_find(&t, "vm");
	ok(e && !e->primary && e->line == 1 && !strcmp(e->leg[LEG_BASE], "/dev/disk/by-id/wwn-0x1") &&
	   !strcmp(e->leg[LEG_ACTIVE], "/dev/sdc") && !e->leg[LEG_METADATA][0] &&
	   e->chunk_sectors == 128 && e->ingress && !e->max_copies, "colotab entry", "vm");
	e = colotab_find(&t, "pvm");
	ok(e && e->primary && e->line == 3 && e->region_sectors == 16384 && e->max_copies == 8 &&
	   !strcmp(e->leg[LEG_METADATA], "/dev/disk/by-path/p") && !e->ingress && !e->chunk_sectors,
	   "colotab entry", "pvm");
	ok(!colotab_find(&t, "nope"), "colotab: unknown name", "nope");
	ok(!strcmp(warn,
		   "tab:1: warning: active /dev/sdc is not a stable path (use /dev/disk/by-id/..., by-uuid, by-partlabel or by-path): its identity is pinned, and up refuses it when it becomes another disk\n"
		   "tab:4: warning: base 8:16 is not a stable path (use /dev/disk/by-id/..., by-uuid, by-partlabel or by-path): its identity is pinned, and up refuses it when it becomes another disk\n"),
	   "colotab: warnings for /dev/sdX and MAJ:MIN", "tab:1, tab:4");
	ok(!tab_read("", &t, err, warn) && t.n == 0, "colotab: empty file", "");

	/* Identities. */
	{
		struct colo_leg_id a, b;

		ok(!colo_leg_id_parse(" ram1 1:1 65536 -", &a) && !a.hwid[0] && a.sectors == 65536 &&
		   !strcmp(a.kname, "ram1"), "leg id parsed", "ram1 1:1 65536 -");
		colo_leg_id_format(&a, line, sizeof(line));
		ok(!strcmp(line, "ram1 1:1 65536 -"), "leg id formatted", line);
		b = a;
		ok(colo_leg_id_same(&a, &b), "leg id: same", "ram1");
		snprintf(b.kname, sizeof(b.kname), "ram5");
		ok(!colo_leg_id_same(&a, &b), "leg id: another RAM disk is not the same", "ram5");
		b = a;
		b.sectors++;
		ok(!colo_leg_id_same(&a, &b), "leg id: another size is not the same", "65537");
		ok(!colo_leg_id_parse("sdb 8:16 2048 wwid:naa.5000", &a) &&
		   !colo_leg_id_parse("sdc 8:32 2048 wwid:naa.5000", &b) && colo_leg_id_same(&a, &b),
		   "leg id: a renumbered disk with its wwid is the same", "sdb -> sdc");
		colo_leg_id_parse("sdb 8:16 2048 wwid:naa.5001", &b);
		ok(!colo_leg_id_same(&a, &b), "leg id: sdb with another wwid is not", "naa.5001");
		colo_leg_id_parse("sdb 8:16 2048 -", &b);
		ok(!colo_leg_id_same(&a, &b), "leg id: sdb without its wwid is not", "-");
		ok(colo_leg_id_parse("sdb 8:16 x -", &b) == -1 &&
		   colo_leg_id_parse("sdb 8:16 1 - extra", &b) == -1, "leg id: bad lines refused",
		   "x");
		colo_leg_id_human(&a, line, sizeof(line));
		ok(!strcmp(line, "sdb (8:16, 1 MiB, wwid:naa.5000)"), "leg id: human", line);
	}
}

/* colotab_identity() over a sysfs tree made here: a disk with a wwid, its
 * partition, a dm device, a RAM disk without an ID. */
static void put(const char *root, const char *path, const char *text)
{
	char p[512], *slash;
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", root, path);
	for (slash = strchr(p + strlen(root) + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		mkdir(p, 0755);
		*slash = '/';
	}
	f = fopen(p, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static void link_dev(const char *root, const char *devnum, const char *target)
{
	char p[512];

	snprintf(p, sizeof(p), "%s/dev/block/%s", root, devnum);
	if (symlink(target, p))
		perror(p);
}

static void test_identity(void)
{
	char root[] = "/tmp/test-util.XXXXXX", cmd[128], line[256];
	struct colo_leg_id id;

	if (!mkdtemp(root)) {
		ok(0, "mkdtemp", root);
		return;
	}
	put(root, "devices/sdb/size", "2048\n");
	put(root, "devices/sdb/device/wwid", "naa.5000c500a1b2c3d4 \n");
	put(root, "devices/sdb/sdb1/size", "1024\n");
	put(root, "devices/sdb/sdb1/partition", "1\n");
	put(root, "devices/dm-3/size", "4096\n");
	put(root, "devices/dm-3/dm/uuid", "LVM-abc def\n");
	put(root, "devices/vda/size", "8\n");
	put(root, "devices/vda/serial", "QM00001\n");
	put(root, "devices/ram0/size", "65536\n");
	put(root, "dev/block/.keep", "");
	link_dev(root, "8:16", "../../devices/sdb");
	link_dev(root, "8:17", "../../devices/sdb/sdb1");
	link_dev(root, "253:3", "../../devices/dm-3");
	link_dev(root, "254:0", "../../devices/vda");
	link_dev(root, "1:0", "../../devices/ram0");

	ok(!colotab_identity(root, makedev(8, 16), &id), "identity read", "8:16");
	colo_leg_id_format(&id, line, sizeof(line));
	ok(!strcmp(line, "sdb 8:16 2048 wwid:naa.5000c500a1b2c3d4"), "identity: a disk's wwid", line);
	ok(!colotab_identity(root, makedev(8, 17), &id), "identity read", "8:17");
	colo_leg_id_format(&id, line, sizeof(line));
	ok(!strcmp(line, "sdb1 8:17 1024 wwid:naa.5000c500a1b2c3d4-part1"),
	   "identity: a partition, its disk's wwid", line);
	ok(!colotab_identity(root, makedev(253, 3), &id), "identity read", "253:3");
	colo_leg_id_format(&id, line, sizeof(line));
	ok(!strcmp(line, "dm-3 253:3 4096 dm-uuid:LVM-abc_def"), "identity: a dm device's UUID",
	   line);
	ok(!colotab_identity(root, makedev(254, 0), &id), "identity read", "254:0");
	colo_leg_id_format(&id, line, sizeof(line));
	ok(!strcmp(line, "vda 254:0 8 serial:QM00001"), "identity: a serial", line);
	ok(!colotab_identity(root, makedev(1, 0), &id), "identity read", "1:0");
	colo_leg_id_format(&id, line, sizeof(line));
	ok(!strcmp(line, "ram0 1:0 65536 -"), "identity: none for a RAM disk", line);
	ok(colotab_identity(root, makedev(9, 9), &id) == -1, "identity: no such device", "9:9");
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	if (system(cmd))
		ok(0, "rm -rf", root);
}

/* fleece needed's ranges, the fleece's status line. */
static void test_fleece(void)
{
	static const struct { const char *in; uint64_t n; const char *msg; } good[] = {
		{ "all", 10, "needed all" },
		{ "0", 10, "needed 0" },
		{ "9", 10, "needed 9" },
		{ "0-9", 10, "needed 0-9" },
		{ "3-3", 10, "needed 3" },
		{ "0-99,200", UINT64_MAX, "needed 0-99 200" },
		{ " 1, 2-4 ,,7\t8 ", 10, "needed 1 2-4 7 8" },
		{ "007-08", 10, "needed 7-8" },
		{ "18446744073709551614", UINT64_MAX, "needed 18446744073709551614" },
	};
	static const struct { const char *in; uint64_t n; const char *err; } bad[] = {
		{ "10", 10, "'10': past the last chunk, 9 (10 chunks)" },
		{ "5-10", 10, "'5-10': past the last chunk, 9 (10 chunks)" },
		{ "1,5-3", 10, "'5-3': the first chunk is after the last" },
		{ "", 10, "'': no chunk range" },
		{ ",", 10, "',': no chunk range" },
		{ "x", 10, "'x' is not a chunk range" },
		{ "1,2x", 10, "'2x' is not a chunk range" },
		{ "1-", 10, "'1-' is not a chunk range" },
		{ "-1", 10, "'-1' is not a chunk range" },
		{ "+1", 10, "'+1' is not a chunk range" },
		{ "all,1", 10, "'all' is not a chunk range" },
		{ "1,all", 10, "'all' is not a chunk range" },
		{ "ALL", 10, "'ALL' is not a chunk range" },
		{ "1-2-3", 10, "'1-2-3' is not a chunk range" },
		{ "18446744073709551616", UINT64_MAX, "is not a chunk range" },
	};
	static const struct { const char *line; int ok; const char *state, *reason; } st[] = {
		{ "active 8192 3 2 3/8192", 1, "active", "" },
		{ "inactive 8192 0 0 0/16", 1, "inactive", "" },
		{ "broken:full 5 16 0 16/16", 1, "broken", "full" },
		{ "broken:io-error 5 1 0 1/16", 1, "broken", "io-error" },
		{ "broken:timeout 5 1 0 1/16", 1, "broken", "timeout" },
		{ "broken:no-memory 5 1 0 1/16", 1, "broken", "no-memory" },
		{ "broken:detached 5 1 0 1/16", 1, "broken", "detached" },
		{ "active 8192 3 2 3/8192 future fields", 1, "active", "" },
		{ "broken:other 5 1 0 1/16", 0, NULL, NULL },
		{ "broken 5 1 0 1/16", 0, NULL, NULL },
		{ "running 5 1 0 1/16", 0, NULL, NULL },
		{ "active 5 1 0 1", 0, NULL, NULL },
		{ "active 5 1 0 1/16x", 0, NULL, NULL },
		{ "active 5 1 x 1/16", 0, NULL, NULL },
		{ "", 0, NULL, NULL },
	};
	struct colo_fleece_status fs;
	char msg[128], err[256];
	unsigned int i;
	int r;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		r = colo_fleece_needed_msg(good[i].in, good[i].n, msg, sizeof(msg), err,
					   sizeof(err));
		ok(!r && !strcmp(msg, good[i].msg), "fleece needed ranges accepted", good[i].in);
		ok(!colo_fleece_needed_msg(good[i].in, good[i].n, NULL, 0, err, sizeof(err)),
		   "fleece needed ranges accepted without a message", good[i].in);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		r = colo_fleece_needed_msg(bad[i].in, bad[i].n, msg, sizeof(msg), err,
					   sizeof(err));
		ok(r == -1 && strstr(err, bad[i].err), "fleece needed ranges refused", err);
	}
	r = colo_fleece_needed_msg("1,2,3,4,5,6,7,8", 10, msg, 16, err, sizeof(err));
	ok(r == -1 && !strcmp(err, "too many ranges for one message"),
	   "fleece needed: a message that does not fit is refused", err);
	ok(!colo_fleece_needed_msg("1,2,3", 10, msg, 16, err, sizeof(err)) &&
	   !strcmp(msg, "needed 1 2 3"), "fleece needed: a message that just fits", msg);
	for (i = 0; i < sizeof(st) / sizeof(st[0]); i++) {
		r = colo_parse_fleece_status(st[i].line, &fs);
		ok(st[i].ok ? !r && !strcmp(fs.state, st[i].state) &&
		   !strcmp(fs.reason, st[i].reason) : r == -1,
		   st[i].ok ? "fleece status parsed" : "fleece status refused", st[i].line);
	}
	r = colo_parse_fleece_status("broken:full 5 16 2 15/16", &fs);
	ok(!r && fs.needed == 5 && fs.saved == 16 && fs.released == 2 && fs.used == 15 &&
	   fs.total == 16, "fleece status: the numbers", "");
	ok(!strcmp(colo_fleece_reason_text("full"), "the buffer filled up") &&
	   !strcmp(colo_fleece_reason_text("bogus"), "unknown reason"),
	   "fleece broken reasons in words", "");
}

int main(void)
{
	static const struct { const char *s; uint64_t v; } good[] = {
		{ "0", 0 }, { "512", 512 }, { "4k", 4096 }, { "4K", 4096 },
		{ "64KiB", 65536 }, { "1m", 1 << 20 }, { "1MiB", 1 << 20 }, { "1mib", 1 << 20 },
		{ "2GiB", 2ULL << 30 }, { "3T", 3ULL << 40 }, { "5TiB", 5ULL << 40 },
		{ "2g", 2ULL << 30 }, { "16t", 16ULL << 40 }, { "8s", 4096 },
		{ "16777215t", 16777215ULL << 40 },
	};
	static const char *const bad[] = {
		"", "k", "-1", "+4", " 4k", "4k ", "4x", "4kk", "4kib2",
		"18446744073709551616", "16777216t", "1.5m", "0x10", "4sib", "4b", "4B",
		"4kbit", "4kiB2", "4iB", "4 KiB", "4Ki",
	};
	/* Decimal units: refused as such (the caller says "use MiB"). */
	static const char *const decimal[] = {
		"1MB", "1mb", "50MB", "4kB", "4KB", "2GB", "1TB", "1Mb",
	};
	static const struct { const char *s; unsigned int sectors; } chunks[] = {
		{ "512", 1 }, { "4k", 8 }, { "64k", 128 }, { "1m", 2048 },
		{ "1s", 1 }, { "2048s", 2048 },
	};
	static const char *const bad_chunks[] = {
		"0", "256", "3k", "2m", "4097", "1536", "x",
	};
	static const struct { const char *s; unsigned int sectors; } regions[] = {
		{ "512", 1 }, { "4m", 8192 }, { "8192s", 8192 }, { "1g", 2097152 },
		{ "64k", 128 },
	};
	static const char *const bad_regions[] = { "0", "256", "3m", "2g", "x", "4096k1" };
	unsigned int i, sectors;
	uint64_t v;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		ok(!colo_parse_size(good[i].s, &v) && v == good[i].v,
		   "size accepted", good[i].s);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ok(colo_parse_size(bad[i], &v) == COLO_SIZE_BAD, "size refused", bad[i]);
	for (i = 0; i < sizeof(decimal) / sizeof(decimal[0]); i++) {
		ok(colo_parse_size(decimal[i], &v) == COLO_SIZE_DECIMAL,
		   "decimal size refused as decimal", decimal[i]);
		ok(colo_parse_chunk(decimal[i], &sectors) == COLO_SIZE_DECIMAL,
		   "decimal chunk refused as decimal", decimal[i]);
		ok(colo_parse_region(decimal[i], &sectors) == COLO_SIZE_DECIMAL,
		   "decimal region refused as decimal", decimal[i]);
		ok(colo_parse_rate(decimal[i], &v) == COLO_SIZE_DECIMAL,
		   "decimal rate refused as decimal", decimal[i]);
	}
	for (i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++)
		ok(!colo_parse_chunk(chunks[i].s, &sectors) &&
		   sectors == chunks[i].sectors, "chunk accepted", chunks[i].s);
	for (i = 0; i < sizeof(bad_chunks) / sizeof(bad_chunks[0]); i++)
		ok(colo_parse_chunk(bad_chunks[i], &sectors) == -1,
		   "chunk refused", bad_chunks[i]);
	for (i = 0; i < sizeof(regions) / sizeof(regions[0]); i++)
		ok(!colo_parse_region(regions[i].s, &sectors) &&
		   sectors == regions[i].sectors, "region accepted", regions[i].s);
	for (i = 0; i < sizeof(bad_regions) / sizeof(bad_regions[0]); i++)
		ok(colo_parse_region(bad_regions[i], &sectors) == -1,
		   "region refused", bad_regions[i]);

	test_units();
	test_args();
	test_status();
	test_json();
	test_table();
	test_misc();
	test_uuid();
	test_colotab();
	test_identity();
	test_fleece();

	printf("util: %d passed, %d failed\n", pass, fail);
	return fail ? 1 : 0;
}
