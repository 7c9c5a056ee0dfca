// SPDX-License-Identifier: GPL-2.0
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "colo-util.h"

int colo_parse_size(const char *s, uint64_t *bytes)
{
	unsigned long long v;
	unsigned int shift = 0;
	char *end;

	if (!s || !isdigit((unsigned char)*s))
		return COLO_SIZE_BAD;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return COLO_SIZE_BAD;
	switch (tolower((unsigned char)*end)) {
	case '\0':
		break;
	case 's':
		shift = 9;
		end++;
		break;
	case 'k':
		shift = 10;
		break;
	case 'm':
		shift = 20;
		break;
	case 'g':
		shift = 30;
		break;
	case 't':
		shift = 40;
		break;
	default:
		return COLO_SIZE_BAD;
	}
	if (shift > 9) {
		end++;
		/* 4MB: a decimal unit (10^6), refused rather than guessed. */
		if (!strcasecmp(end, "b"))
			return COLO_SIZE_DECIMAL;
		if (!strcasecmp(end, "ib"))
			end += 2;
	}
	if (*end)
		return COLO_SIZE_BAD;
	if (shift && v > (UINT64_MAX >> shift))
		return COLO_SIZE_BAD;
	*bytes = (uint64_t)v << shift;
	return 0;
}

int colo_parse_rate(const char *s, uint64_t *kib)
{
	uint64_t b;
	int r = colo_parse_size(s, &b);

	if (r)
		return r;
	if (!b || (b >> 10) > UINT32_MAX)
		return COLO_SIZE_BAD;
	if (b & 1023)
		return COLO_RATE_NOT_KIB;
	*kib = b >> 10;
	return 0;
}

int colo_parse_lag(const char *s, uint64_t *kib)
{
	uint64_t b;
	int r = colo_parse_size(s, &b);

	if (r)
		return r;
	if (!b || (b >> 10) > COLO_MAX_LAG_KIB)
		return COLO_SIZE_BAD;
	if (b & 1023)
		return COLO_RATE_NOT_KIB;
	*kib = b >> 10;
	return 0;
}

int colo_parse_devnum(const char *s, unsigned int *major, unsigned int *minor)
{
	unsigned long ma, mi;
	char *end;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	ma = strtoul(s, &end, 10);
	if (errno || *end != ':' || !isdigit((unsigned char)end[1]))
		return -1;
	mi = strtoul(end + 1, &end, 10);
	if (errno || *end || ma > 4095 || mi > 1048575)
		return -1;
	*major = ma;
	*minor = mi;
	return 0;
}

#ifndef COLO_VERSION_MAJOR
#error "COLO_VERSION_MAJOR comes from the top-level VERSION file (userspace/Makefile)"
#endif

int colo_target_version_ok(const unsigned int v[3])
{
	return v[0] == COLO_VERSION_MAJOR ? 0 : -1;
}

const char *colo_kmsg_reason(const char *line, const char *devnum)
{
	static const char *const types[] = { "colo: ", "colo-ingress: ", "colo-fleece: ", NULL };
	size_t n = strlen(devnum);
	const char *p;
	unsigned int i;

	if (!n || strncmp(line, "device-mapper: ", 15))
		return NULL;
	p = line + 15;
	if (!strncmp(p, "table: ", 7)) {
		p += 7;
		if (strncmp(p, devnum, n) || strncmp(p + n, ": ", 2))
			return NULL;
		p += n + 2;
		for (i = 0; types[i]; i++)
			if (!strncmp(p, types[i], strlen(types[i])))
				return p + strlen(types[i]);
		return NULL;
	}
	for (i = 0; types[i]; i++)
		if (!strncmp(p, types[i], strlen(types[i])))
			break;
	if (!types[i])
		return NULL;
	p += strlen(types[i]);
	return !strncmp(p, devnum, n) && !strncmp(p + n, ": ", 2) ? p : NULL;
}

int colo_parse_chunk(const char *s, unsigned int *sectors)
{
	uint64_t b;
	int r = colo_parse_size(s, &b);

	if (r)
		return r;
	if (b < 512 || b > (1U << 20) || (b & (b - 1)))
		return -1;
	*sectors = b >> 9;
	return 0;
}

int colo_parse_region(const char *s, unsigned int *sectors)
{
	uint64_t b;
	int r = colo_parse_size(s, &b);

	if (r)
		return r;
	if (b < 512 || b > (uint64_t)COLO_MAX_REGION_SECTORS << 9 || (b & (b - 1)))
		return -1;
	*sectors = b >> 9;
	return 0;
}

char *colo_human(uint64_t bytes, char *buf, size_t len)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	unsigned int u = 0;

	while (u < 6 && bytes >> (10 * (u + 1)))
		u++;
	if (bytes & ((1ULL << (10 * u)) - 1))
		snprintf(buf, len, "%.1f %s", (double)bytes / (double)(1ULL << (10 * u)),
			 unit[u]);
	else
		snprintf(buf, len, "%" PRIu64 " %s", bytes >> (10 * u), unit[u]);
	return buf;
}

/* ---- the command line --------------------------------------------------- */

static const struct {
	const char *name;
	enum colo_state state;
} state_names[] = {
	{ "done", STATE_DONE },
	{ "failed", STATE_FAILED },
	{ "in-sync", STATE_IN_SYNC },
	{ "degraded", STATE_DEGRADED },
	{ "error", STATE_ERROR },
	{ "primary", STATE_PRIMARY },
	{ "verified", STATE_VERIFIED },
};

const char *colo_state_name(enum colo_state s)
{
	unsigned int i;

	for (i = 0; i < sizeof(state_names) / sizeof(state_names[0]); i++)
		if (state_names[i].state == s)
			return state_names[i].name;
	return "none";
}

#define BIT(c) (1U << (c))
/* A size with a decimal unit (50MB): the option, the value, its binary
 * spelling (50MiB, binary_unit()). */
#define DECIMAL_UNIT "%s '%s': decimal units (kB, MB, GB, TB) are refused: say %s (binary units, powers of 1024: K or KiB, M or MiB, G or GiB, T or TiB)"

/* "50MB" -> "50MiB", "4kB" -> "4KiB" (static storage). */
static const char *binary_unit(const char *val)
{
	static char buf[64];
	size_t n = strlen(val);

	snprintf(buf, sizeof(buf), "%.*siB", n > 1 ? (int)(n - 1) : 0, val);
	if (n > 1)
		buf[n - 2] = toupper((unsigned char)buf[n - 2]);
	return buf;
}
#define USAGE(...) do { snprintf(err, errlen, __VA_ARGS__); return COLO_EXIT_USAGE; } while (0)

/* A max lag (--async, mirror async): KiB, binary units. */
static int parse_lag_arg(const char *what, const char *val, uint64_t *kib,
			 char *err, size_t errlen)
{
	int r = colo_parse_lag(val, kib);

	if (r == COLO_SIZE_DECIMAL)
		USAGE(DECIMAL_UNIT, what, val, binary_unit(val));
	if (r == COLO_RATE_NOT_KIB)
		USAGE("%s '%s': not a whole number of KiB (the kernel's unit); give a multiple of 1024 bytes, e.g. 64k or 4m",
		      what, val);
	if (r)
		USAGE("%s '%s': bytes of replica writes in flight, 1k to 1g (e.g. 4m)", what, val);
	return 0;
}

/*
 * A rate (--rate, mirror rate, verify rate): "auto", "none" where @none_ok
 * (no limit: the rate commands), or bytes per second, a whole KiB/s.
 */
static int parse_rate_arg(const char *what, const char *val, int none_ok,
			  struct colo_args *a, char *err, size_t errlen)
{
	int r;

	a->rate_auto = 0;
	a->rate_none = 0;
	a->rate_kib = 0;
	if (!strcmp(val, "auto")) {
		a->rate_auto = 1;
		return 0;
	}
	if (none_ok && !strcmp(val, "none")) {
		a->rate_none = 1;
		return 0;
	}
	r = colo_parse_rate(val, &a->rate_kib);
	if (r == COLO_SIZE_DECIMAL)
		USAGE(DECIMAL_UNIT, what, val, binary_unit(val));
	if (r == COLO_RATE_NOT_KIB)
		USAGE("%s '%s': not a whole number of KiB/s (the kernel's unit); give a multiple of 1024 bytes/s, e.g. 2k or 50m",
		      what, val);
	if (r)
		USAGE("%s '%s': auto, %sor bytes per second, at least 1k (e.g. 50m)", what, val,
		      none_ok ? "none, " : "");
	return 0;
}

static int parse_uint(const char *s, unsigned int max, unsigned int *v)
{
	unsigned long n;
	char *end;

	if (!s || !isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	n = strtoul(s, &end, 10);
	if (errno || *end || n > max)
		return -1;
	*v = n;
	return 0;
}

/*
 * Options and the commands that take them. A value option is given as
 * "--opt VALUE" or "--opt=VALUE".
 */
enum opt_id { OPT_CHUNK, OPT_MAX_COPIES, OPT_METADATA, OPT_REGION_SIZE, OPT_RATE,
	      OPT_TIMEOUT, OPT_SECONDARY, OPT_PRIMARY, OPT_FULL, OPT_DIRTY, OPT_WAIT,
	      OPT_FORCE, OPT_JSON, OPT_VERBOSE, OPT_HELP,
	      OPT_PROMETHEUS, OPT_FIELDS, OPT_NOHEADINGS, OPT_SEPARATOR, OPT_SORT,
	      OPT_NAMEPREFIXES, OPT_EXEC, OPT_HOOK_TIMEOUT, OPT_COUNT, OPT_NO_SYSLOG,
	      OPT_INTERVAL, OPT_ALL, OPT_PIN, OPT_COLOTAB, OPT_MIN_RATE, OPT_ASYNC,
	      OPT_READ_ONCE, OPT_NEEDED, OPT_PERSISTENT, OPT_REATTACH };

static const struct {
	const char *name;
	enum opt_id id;
	int has_value;
	unsigned int cmds;
} opts[] = {
	{ "--chunk", OPT_CHUNK, 1, BIT(CMD_CREATE) },
	{ "--max-copies", OPT_MAX_COPIES, 1, BIT(CMD_CREATE) },
	{ "--metadata", OPT_METADATA, 1, BIT(CMD_CREATE) },
	{ "--region-size", OPT_REGION_SIZE, 1, BIT(CMD_CREATE) },
	{ "--rate", OPT_RATE, 1, BIT(CMD_MIRROR_START) | BIT(CMD_VERIFY) },
	{ "--async", OPT_ASYNC, 1, BIT(CMD_MIRROR_START) },
	{ "--min-rate", OPT_MIN_RATE, 1, BIT(CMD_MIRROR_START) | BIT(CMD_VERIFY) |
	  BIT(CMD_MIRROR_RATE) | BIT(CMD_VERIFY_RATE) },
	{ "--timeout", OPT_TIMEOUT, 1, BIT(CMD_FAILOVER) | BIT(CMD_MIRROR_START) | BIT(CMD_WAIT) |
	  BIT(CMD_VERIFY) | BIT(CMD_FLEECE_START) },
	{ "--read-once", OPT_READ_ONCE, 0, BIT(CMD_FLEECE_START) },
	{ "--needed", OPT_NEEDED, 1, BIT(CMD_FLEECE_START) },
	{ "--persistent", OPT_PERSISTENT, 0, BIT(CMD_FLEECE_START) },
	{ "--reattach", OPT_REATTACH, 0, BIT(CMD_FLEECE_START) },
	{ "--secondary", OPT_SECONDARY, 0, BIT(CMD_CREATE) },
	{ "--primary", OPT_PRIMARY, 0, BIT(CMD_CREATE) },
	{ "--full", OPT_FULL, 0, BIT(CMD_MIRROR_START) },
	{ "--dirty", OPT_DIRTY, 0, BIT(CMD_MIRROR_START) },
	{ "--wait", OPT_WAIT, 0, BIT(CMD_FAILOVER) | BIT(CMD_MIRROR_START) | BIT(CMD_VERIFY) },
	{ "--force", OPT_FORCE, 0, BIT(CMD_REMOVE) | BIT(CMD_META_EXPORT) | BIT(CMD_META_WIPE) |
	  BIT(CMD_DOWN) | BIT(CMD_FLEECE_STOP) },
	{ "--json", OPT_JSON, 0, BIT(CMD_STATUS) | BIT(CMD_LIST) | BIT(CMD_META_DUMP) |
	  BIT(CMD_FLEECE_STATUS) },
	{ "--verbose", OPT_VERBOSE, 0, ~0U },
	{ "-v", OPT_VERBOSE, 0, ~0U },
	{ "--help", OPT_HELP, 0, ~0U },
	{ "-h", OPT_HELP, 0, ~0U },
	{ "--prometheus", OPT_PROMETHEUS, 0, BIT(CMD_STATUS) },
	{ "--options", OPT_FIELDS, 1, BIT(CMD_LIST) },
	{ "-o", OPT_FIELDS, 1, BIT(CMD_LIST) },
	{ "--noheadings", OPT_NOHEADINGS, 0, BIT(CMD_LIST) },
	{ "--separator", OPT_SEPARATOR, 1, BIT(CMD_LIST) },
	{ "--sort", OPT_SORT, 1, BIT(CMD_LIST) },
	{ "-O", OPT_SORT, 1, BIT(CMD_LIST) },
	{ "--nameprefixes", OPT_NAMEPREFIXES, 0, BIT(CMD_LIST) },
	{ "--exec", OPT_EXEC, 1, BIT(CMD_MONITOR) },
	{ "--hook-timeout", OPT_HOOK_TIMEOUT, 1, BIT(CMD_MONITOR) },
	{ "--count", OPT_COUNT, 1, BIT(CMD_MONITOR) },
	{ "--no-syslog", OPT_NO_SYSLOG, 0, BIT(CMD_MONITOR) },
	{ "--interval", OPT_INTERVAL, 1, BIT(CMD_MONITOR) },
	{ "--all", OPT_ALL, 0, BIT(CMD_UP) | BIT(CMD_DOWN) },
	{ "--pin", OPT_PIN, 0, BIT(CMD_UP) },
	{ "--colotab", OPT_COLOTAB, 1, BIT(CMD_UP) | BIT(CMD_DOWN) },
};

static const struct {
	const char *name;
	enum colo_cmd cmd;
	int min_pos, max_pos;	/* positional words after the command */
} cmds[] = {
	{ "create", CMD_CREATE, 1, 1 },	/* devices follow --secondary/--primary */
	{ "ingress", CMD_INGRESS, 1, 1 },
	{ "remove", CMD_REMOVE, 1, 1 },
	{ "status", CMD_STATUS, 0, 1 },	/* NAME: checked below */
	{ "list", CMD_LIST, 0, 0 },
	{ "checkpoint", CMD_CHECKPOINT, 1, 1 },
	{ "failover", CMD_FAILOVER, 1, 1 },
	{ "wait", CMD_WAIT, 2, 2 },
	{ "help", CMD_HELP, 0, 0 },
	{ "version", CMD_VERSION, 0, 0 },
	{ "monitor", CMD_MONITOR, 0, COLO_MAX_NAMES },
	{ "up", CMD_UP, 0, 1 },	/* NAME or --all: checked below */
	{ "down", CMD_DOWN, 0, 1 },
};

/* Commands of two words: "mirror start NAME DEV", "metadata dump DEV". */
static const struct {
	const char *group, *name;
	enum colo_cmd cmd;
	int min_pos, max_pos;
} subcmds[] = {
	{ "mirror", "start", CMD_MIRROR_START, 2, 2 },
	{ "mirror", "stop", CMD_MIRROR_STOP, 1, 1 },
	{ "mirror", "async", CMD_MIRROR_ASYNC, 2, 2 },
	{ "mirror", "sync", CMD_MIRROR_SYNC, 1, 1 },
	{ "mirror", "rate", CMD_MIRROR_RATE, 2, 2 },
	{ "metadata", "dump", CMD_META_DUMP, 1, 1 },
	{ "metadata", "export", CMD_META_EXPORT, 1, 1 },
	{ "metadata", "wipe", CMD_META_WIPE, 1, 1 },
	{ "dirty", "import", CMD_DIRTY_IMPORT, 1, 2 },
	/* "verify NAME" too: see colo_parse_args() */
	{ "verify", "start", CMD_VERIFY, 1, 1 },
	{ "verify", "stop", CMD_VERIFY_STOP, 1, 1 },
	{ "verify", "ranges", CMD_VERIFY_RANGES, 1, 1 },
	{ "verify", "rate", CMD_VERIFY_RATE, 2, 2 },
	{ "fleece", "start", CMD_FLEECE_START, 2, 2 },
	{ "fleece", "stop", CMD_FLEECE_STOP, 1, 1 },
	{ "fleece", "status", CMD_FLEECE_STATUS, 1, 1 },
	{ "fleece", "needed", CMD_FLEECE_NEEDED, 2, 2 },
};

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static const char *cmd_word(enum colo_cmd c)
{
	static char buf[32];
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(subcmds); i++)
		if (subcmds[i].cmd == c) {
			snprintf(buf, sizeof(buf), "%s %s", subcmds[i].group, subcmds[i].name);
			return buf;
		}
	for (i = 0; i < ARRAY_SIZE(cmds); i++)
		if (cmds[i].cmd == c)
			return cmds[i].name;
	return "?";
}

/* The commands whose first positional word is a device path, not a name. */
static int takes_dev_path(enum colo_cmd c)
{
	return c == CMD_META_DUMP || c == CMD_META_EXPORT || c == CMD_META_WIPE;
}

/* A device name as dm takes it: 1 to 127 bytes, no '/'. */
static int valid_name(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n < 128 && !strchr(s, '/') && strcmp(s, ".") && strcmp(s, "..");
}

int colo_parse_args(int argc, char **argv, struct colo_args *a,
		    char *err, size_t errlen)
{
	const char *pos[8];
	int npos = 0, min_pos = 0, max_pos = 0, i, full = 0, help = 0;
	const char *devs[3] = { NULL, NULL, NULL };
	int ndevs = 0, want_devs = 0, r;
	char why[160];
	unsigned int j;

	memset(a, 0, sizeof(*a));
	if (argc < 2)
		USAGE("no command given (try colosetup --help)");

	i = 1;
	/* Leading options that need no command. */
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		a->cmd = CMD_HELP;
		return argc > 2 ? (snprintf(err, errlen, "--help takes no arguments"), COLO_EXIT_USAGE) : 0;
	}
	if (!strcmp(argv[1], "--version")) {
		a->cmd = CMD_VERSION;
		return argc > 2 ? (snprintf(err, errlen, "--version takes no arguments"), COLO_EXIT_USAGE) : 0;
	}
	while (i < argc && (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--verbose"))) {
		a->verbose = 1;
		i++;
	}
	if (i >= argc)
		USAGE("no command given (try colosetup --help)");
	for (j = 0; j < ARRAY_SIZE(subcmds); j++)
		if (!strcmp(argv[i], subcmds[j].group))
			break;
	if (j < ARRAY_SIZE(subcmds)) {
		const char *group = subcmds[j].group;
		char words[64] = "";

		for (; j < ARRAY_SIZE(subcmds) && !strcmp(subcmds[j].group, group); j++) {
			if (i + 1 < argc && !strcmp(argv[i + 1], subcmds[j].name))
				break;
			snprintf(words + strlen(words), sizeof(words) - strlen(words), "%s%s",
				 words[0] ? ", " : "", subcmds[j].name);
		}
		if ((j == ARRAY_SIZE(subcmds) || strcmp(subcmds[j].group, group)) &&
		    !strcmp(group, "verify") && i + 1 < argc) {
			/* "verify NAME" is "verify start NAME". */
			for (j = 0; strcmp(subcmds[j].group, group); j++)
				;
			i--;
		} else if (j == ARRAY_SIZE(subcmds) || strcmp(subcmds[j].group, group)) {
			if (i + 1 >= argc)
				USAGE("%s: say %s", group, words);
			USAGE("%s: unknown subcommand '%s' (%s)", group, argv[i + 1], words);
		}
		a->cmd = subcmds[j].cmd;
		min_pos = subcmds[j].min_pos;
		max_pos = subcmds[j].max_pos;
		i += 2;
	} else {
		for (j = 0; j < sizeof(cmds) / sizeof(cmds[0]); j++)
			if (!strcmp(argv[i], cmds[j].name))
				break;
		if (j == sizeof(cmds) / sizeof(cmds[0]))
			USAGE("unknown command '%s' (try colosetup --help)", argv[i]);
		a->cmd = cmds[j].cmd;
		min_pos = cmds[j].min_pos;
		max_pos = cmds[j].max_pos;
		i++;
	}

	for (; i < argc; i++) {
		const char *arg = argv[i], *val = NULL, *eq;
		size_t nlen;

		if (want_devs) {
			if (arg[0] == '-' && arg[1] == '-')
				USAGE("create: %s needs %d device%s", want_devs == 3 ?
				      "--secondary" : "--primary", want_devs,
				      want_devs > 1 ? "s (BASE HIDDEN ACTIVE)" : " (BASE)");
			devs[ndevs++] = arg;
			if (ndevs == want_devs)
				want_devs = 0;
			continue;
		}
		if ((arg[0] != '-' || !arg[1]) && a->cmd == CMD_MONITOR) {
			if (a->nnames == COLO_MAX_NAMES)
				USAGE("monitor: at most %d names", COLO_MAX_NAMES);
			if (!valid_name(arg))
				USAGE("monitor: '%s' is not a device name (1 to 127 bytes, no '/')",
				      arg);
			a->names[a->nnames++] = arg;
			continue;
		}
		if (arg[0] != '-' || !arg[1]) {
			if (npos == (int)(sizeof(pos) / sizeof(pos[0])) || npos >= max_pos)
				USAGE("%s: unexpected argument '%s'", cmd_word(a->cmd), arg);
			pos[npos++] = arg;
			continue;
		}
		eq = strchr(arg, '=');
		nlen = eq ? (size_t)(eq - arg) : strlen(arg);
		for (j = 0; j < sizeof(opts) / sizeof(opts[0]); j++)
			if (strlen(opts[j].name) == nlen && !strncmp(arg, opts[j].name, nlen))
				break;
		if (j == sizeof(opts) / sizeof(opts[0]))
			USAGE("%s: unknown option '%.*s'", cmd_word(a->cmd), (int)nlen, arg);
		if (!(opts[j].cmds & BIT(a->cmd)))
			USAGE("%s does not take %s", cmd_word(a->cmd), opts[j].name);
		if (opts[j].has_value) {
			if (eq)
				val = eq + 1;
			else if (i + 1 < argc)
				val = argv[++i];
			else
				USAGE("%s needs a value", opts[j].name);
		} else if (eq) {
			USAGE("%s takes no value", opts[j].name);
		}
		switch (opts[j].id) {
		case OPT_CHUNK:
			r = colo_parse_chunk(val, &a->chunk_sectors);
			if (r == COLO_SIZE_DECIMAL)
				USAGE(DECIMAL_UNIT, "--chunk", val, binary_unit(val));
			if (r)
				USAGE("--chunk '%s': a power of two from 512 to 1m (e.g. 4k, 64k)", val);
			break;
		case OPT_MAX_COPIES:
			if (parse_uint(val, 1024, &a->max_copies) || !a->max_copies)
				USAGE("--max-copies '%s': a number from 1 to 1024", val);
			break;
		case OPT_METADATA:
			a->metadata = val;
			break;
		case OPT_REGION_SIZE:
			r = colo_parse_region(val, &a->region_sectors);
			if (r == COLO_SIZE_DECIMAL)
				USAGE(DECIMAL_UNIT, "--region-size", val, binary_unit(val));
			if (r)
				USAGE("--region-size '%s': a power of two from 512 to 1g (e.g. 4m, the default)",
				      val);
			break;
		case OPT_RATE:
			r = parse_rate_arg("--rate", val, 0, a, err, errlen);
			if (r)
				return r;
			break;
		case OPT_MIN_RATE:
			r = colo_parse_rate(val, &a->min_rate_kib);
			if (r == COLO_SIZE_DECIMAL)
				USAGE(DECIMAL_UNIT, "--min-rate", val, binary_unit(val));
			if (r == COLO_RATE_NOT_KIB)
				USAGE("--min-rate '%s': not a whole number of KiB/s (the kernel's unit); give a multiple of 1024 bytes/s, e.g. 2k or 10m",
				      val);
			if (r)
				USAGE("--min-rate '%s': bytes per second, at least 1k (e.g. 10m)", val);
			break;
		case OPT_ASYNC:
			r = parse_lag_arg("--async", val, &a->lag_kib, err, errlen);
			if (r)
				return r;
			break;
		case OPT_TIMEOUT:
			/* fleece start: the kernel's save timeout, in ms. */
			if (a->cmd == CMD_FLEECE_START) {
				if (parse_uint(val, 3600000, &a->fleece_timeout_ms) ||
				    !a->fleece_timeout_ms)
					USAGE("fleece start: --timeout '%s': milliseconds a save may take before the fleece breaks, 1 to 3600000 (default 5000)",
					      val);
				break;
			}
			if (parse_uint(val, 1000000, &a->timeout) || !a->timeout)
				USAGE("--timeout '%s': seconds, 1 to 1000000", val);
			break;
		case OPT_SECONDARY:
		case OPT_PRIMARY:
			if (ndevs || a->primary)
				USAGE("create: give one of --secondary and --primary, once");
			a->primary = opts[j].id == OPT_PRIMARY;
			want_devs = a->primary ? 1 : 3;
			break;
		case OPT_FULL:
			full = 1;
			break;
		case OPT_DIRTY:
			a->dirty = 1;
			break;
		case OPT_WAIT:
			a->wait = 1;
			break;
		case OPT_FORCE:
			a->force = 1;
			break;
		case OPT_JSON:
			a->json = 1;
			break;
		case OPT_VERBOSE:
			a->verbose = 1;
			break;
		case OPT_HELP:
			help = 1;
			break;
		case OPT_PROMETHEUS:
			a->prometheus = 1;
			break;
		case OPT_FIELDS:
			if (a->fields)
				USAGE("list: give -o once (a list of fields, or +FIELD,... to add to the default)");
			if (!val[0] || !strcmp(val, "+"))
				USAGE("list: -o needs fields (colosetup list -o help lists them)");
			a->fields = val;
			break;
		case OPT_NOHEADINGS:
			a->noheadings = 1;
			break;
		case OPT_SEPARATOR:
			if (!val[0])
				USAGE("list: --separator needs a string");
			a->separator = val;
			break;
		case OPT_SORT:
			if (!val[0])
				USAGE("list: --sort needs fields ([-]FIELD,...)");
			a->sort = val;
			break;
		case OPT_NAMEPREFIXES:
			a->nameprefixes = 1;
			break;
		case OPT_EXEC:
			if (!val[0])
				USAGE("monitor: --exec needs a program");
			a->hook = val;
			break;
		case OPT_HOOK_TIMEOUT:
			if (parse_uint(val, 86400, &a->hook_timeout) || !a->hook_timeout)
				USAGE("--hook-timeout '%s': seconds, 1 to 86400", val);
			break;
		case OPT_COUNT:
			if (parse_uint(val, 1000000, &a->count) || !a->count)
				USAGE("--count '%s': a number of events, 1 to 1000000", val);
			break;
		case OPT_NO_SYSLOG:
			a->no_syslog = 1;
			break;
		case OPT_INTERVAL:
			if (parse_uint(val, 3600, &a->interval))
				USAGE("--interval '%s': seconds, 0 (events only) to 3600", val);
			a->interval_set = 1;
			break;
		case OPT_ALL:
			a->all = 1;
			break;
		case OPT_PIN:
			a->pin = 1;
			break;
		case OPT_READ_ONCE:
			a->read_once = 1;
			break;
		case OPT_NEEDED:
			if (colo_fleece_needed_msg(val, UINT64_MAX, NULL, 0, why, sizeof(why)))
				USAGE("fleece start: --needed %s", why);
			a->needed = val;
			break;
		case OPT_PERSISTENT:
			a->persistent = 1;
			break;
		case OPT_REATTACH:
			a->reattach = 1;
			break;
		case OPT_COLOTAB:
			if (!val[0])
				USAGE("%s: --colotab needs a file", cmd_word(a->cmd));
			a->colotab = val;
			break;
		}
	}
	if (help) {
		a->cmd = CMD_HELP;
		return 0;
	}
	if (want_devs)
		USAGE("create: %s needs %d device%s", want_devs == 3 ? "--secondary" : "--primary",
		      want_devs, want_devs > 1 ? "s (BASE HIDDEN ACTIVE)" : " (BASE)");
	if (a->cmd == CMD_STATUS && !npos && !a->prometheus)
		USAGE("status: missing NAME");
	if (a->cmd == CMD_STATUS && a->prometheus && a->json)
		USAGE("status: give --json or --prometheus, not both");
	if (a->cmd == CMD_LIST && a->json &&
	    (a->fields || a->noheadings || a->separator || a->sort || a->nameprefixes))
		USAGE("list: --json shows every field; -o, --noheadings, --separator, --sort and --nameprefixes are for the table");
	if ((a->cmd == CMD_UP || a->cmd == CMD_DOWN) && !npos == !a->all)
		USAGE("%s: give NAME or --all", cmd_word(a->cmd));
	if (a->hook_timeout && !a->hook)
		USAGE("monitor: --hook-timeout needs --exec");
	if (a->min_rate_kib && !a->rate_auto && a->cmd != CMD_MIRROR_RATE &&
	    a->cmd != CMD_VERIFY_RATE)
		USAGE("%s: --min-rate is the floor of --rate auto: give --rate auto too",
		      cmd_word(a->cmd));
	if (npos < min_pos)
		USAGE("%s: missing %s", cmd_word(a->cmd),
		      a->cmd == CMD_WAIT && npos == 1 ? "STATE" :
		      a->cmd == CMD_MIRROR_START && npos == 1 ? "DEV (the replica)" :
		      a->cmd == CMD_MIRROR_ASYNC && npos == 1 ? "MAX_LAG (e.g. 4m)" :
		      (a->cmd == CMD_MIRROR_RATE || a->cmd == CMD_VERIFY_RATE) && npos == 1 ?
		      "RATE (auto, none or bytes per second, e.g. 50m)" :
		      a->cmd == CMD_FLEECE_START && npos == 1 ? "BUFFER (the fleece's buffer device)" :
		      a->cmd == CMD_FLEECE_NEEDED && npos == 1 ?
		      "RANGES (chunk ranges such as 0-99,200, or all)" :
		      takes_dev_path(a->cmd) ? "DEV (the metadata device)" : "NAME");
	if (npos && takes_dev_path(a->cmd))
		a->dev = pos[0];
	else if (npos)
		a->name = pos[0];
	if (a->name && !valid_name(a->name))
		USAGE("%s: '%s' is not a device name (1 to 127 bytes, no '/')",
		      cmd_word(a->cmd), a->name);
	if (a->cmd == CMD_CREATE) {
		if (strlen(a->name) > COLO_NAME_MAX_CREATE)
			USAGE("create: '%.20s...' is %zu bytes long: at most %zu, so that its ingress %s%s fits in dm's %u",
			      a->name, strlen(a->name), COLO_NAME_MAX_CREATE, "NAME",
			      COLO_INGRESS_SUFFIX, COLO_NAME_MAX);
		if (!ndevs)
			USAGE("create: say --secondary BASE HIDDEN ACTIVE or --primary BASE");
		a->base = devs[0];
		a->hidden = devs[1];
		a->active = devs[2];
		if (a->region_sectors && !a->metadata)
			USAGE("create: --region-size needs --metadata (regions are kept there)");
		if (a->region_sectors && a->region_sectors <
		    (a->chunk_sectors ? a->chunk_sectors : COLO_DEFAULT_CHUNK_SECTORS))
			USAGE("create: --region-size must be at least the chunk size");
		if (a->metadata && !a->metadata[0])
			USAGE("create: --metadata needs a device");
	}
	if (a->cmd == CMD_DIRTY_IMPORT && npos > 1)
		a->file = pos[1];
	if (a->cmd == CMD_MIRROR_RATE || a->cmd == CMD_VERIFY_RATE) {
		r = parse_rate_arg(a->cmd == CMD_MIRROR_RATE ? "mirror rate: RATE" :
				   "verify rate: RATE", pos[1], 1, a, err, errlen);
		if (r)
			return r;
		if (a->min_rate_kib && !a->rate_auto)
			USAGE("%s: --min-rate is the floor of the auto rate: give auto as RATE",
			      cmd_word(a->cmd));
	}
	if (a->cmd == CMD_MIRROR_ASYNC) {
		r = parse_lag_arg("mirror async: MAX_LAG", pos[1], &a->lag_kib, err, errlen);
		if (r)
			return r;
	}
	if (a->cmd == CMD_MIRROR_START) {
		a->dev = pos[1];
		if (full && a->dirty)
			USAGE("mirror start: give --full or --dirty, not both");
	}
	if (a->cmd == CMD_FLEECE_START) {
		a->dev = pos[1];
		/* The kernel's "reattach" is persistent too: one word of the two. */
		if (a->persistent && a->reattach)
			USAGE("fleece start: give --persistent (a new view) or --reattach (the view on BUFFER), not both");
	}
	if (a->cmd == CMD_FLEECE_NEEDED) {
		if (colo_fleece_needed_msg(pos[1], UINT64_MAX, NULL, 0, why, sizeof(why)))
			USAGE("fleece needed: %s", why);
		a->needed = pos[1];
	}
	if (a->cmd == CMD_WAIT) {
		for (j = 0; j < sizeof(state_names) / sizeof(state_names[0]); j++)
			if (!strcmp(pos[1], state_names[j].name))
				a->state = state_names[j].state;
		if (a->state == STATE_NONE)
			USAGE("wait: unknown state '%s' (done, failed, in-sync, degraded, error, primary, verified)",
			      pos[1]);
	}
	if (a->timeout && (a->cmd == CMD_FAILOVER || a->cmd == CMD_MIRROR_START ||
			   a->cmd == CMD_VERIFY) && !a->wait)
		USAGE("%s: --timeout needs --wait", cmd_word(a->cmd));
	return 0;
}

int colo_rate_message(const struct colo_args *a, char *buf, size_t len)
{
	const char *what = a->cmd == CMD_MIRROR_RATE ? "mirror" :
			   a->cmd == CMD_VERIFY_RATE ? "verify" : NULL;
	int n;

	if (!what)
		return -1;
	if (a->rate_auto && a->min_rate_kib)
		n = snprintf(buf, len, "%s rate auto min_rate %" PRIu64, what, a->min_rate_kib);
	else if (a->rate_auto)
		n = snprintf(buf, len, "%s rate auto", what);
	else if (a->rate_none || !a->rate_kib)
		n = snprintf(buf, len, "%s rate none", what);
	else
		n = snprintf(buf, len, "%s rate %" PRIu64, what, a->rate_kib);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* ---- the status line ----------------------------------------------------- */

static int one_of(const char *s, const char *const *set)
{
	for (; *set; set++)
		if (!strcmp(s, *set))
			return 1;
	return 0;
}

/* "<16 lowercase hex digits>" */
static int parse_uuid(const char *s, uint64_t *v)
{
	unsigned int i;

	for (i = 0; i < 16; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return -1;
	*v = strtoull(s, NULL, 16);
	return 0;
}

/*
 * Fields 17 to 19, from a module with metadata devices: "<none|ok|failed>
 * <current>/<previous>|- <marked>/<regions>|-". Fields after them are
 * ignored.
 */
static int parse_metadata_fields(const char *p, struct colo_status *st, int *used)
{
	static const char *const states[] = { "none", "ok", "failed", NULL };
	char uuids[40], regions[48], c;
	int n = 0;

	if (sscanf(p, " %15s %39s %47s%n", st->metadata, uuids, regions, &n) != 3 ||
	    (p[n] && p[n] != ' ') || !one_of(st->metadata, states))
		return -1;
	if (strcmp(uuids, "-")) {
		if (strlen(uuids) != 33 || uuids[16] != '/' ||
		    parse_uuid(uuids, &st->uuid_current) ||
		    parse_uuid(uuids + 17, &st->uuid_previous))
			return -1;
		st->has_uuids = 1;
	}
	if (strcmp(regions, "-")) {
		if (!isdigit((unsigned char)regions[0]) ||
		    sscanf(regions, "%" SCNu64 "/%" SCNu64 "%c", &st->regions_marked,
			   &st->regions, &c) != 2 || !isdigit((unsigned char)strchr(regions, '/')[1]) ||
		    st->regions_marked > st->regions)
			return -1;
		st->has_regions = 1;
	}
	/* Without a metadata device there is nothing to report. */
	if (!strcmp(st->metadata, "none") && (st->has_uuids || st->has_regions))
		return -1;
	*used = n;
	return 0;
}

/* The online verify's fields: "<state> <verified>/<to_verify> <different>". */
static int parse_verify_fields(const char *p, struct colo_status *st, int *used)
{
	static const char *const states[] = { "none", "running", "done", "stopped", "failed",
					       NULL };
	char counts[48], diff[24], c;
	int n = 0;

	if (sscanf(p, " %15s %47s %23s%n", st->verify, counts, diff, &n) != 3 ||
	    (p[n] && p[n] != ' ') || !one_of(st->verify, states) ||
	    !isdigit((unsigned char)counts[0]) || !isdigit((unsigned char)diff[0]) ||
	    !strchr(counts, '/') || !isdigit((unsigned char)strchr(counts, '/')[1]) ||
	    sscanf(counts, "%" SCNu64 "/%" SCNu64 "%c", &st->verified, &st->to_verify, &c) != 2 ||
	    sscanf(diff, "%" SCNu64 "%c", &st->verify_different, &c) != 1 ||
	    st->verified > st->to_verify || st->verify_different > st->verified)
		return -1;
	*used = n;
	return 0;
}

/*
 * The mirror's mode (async mirror): "<none|sync|async> <lag>/<max_lag>
 * <ahead>", lag and max_lag in KiB.
 */
static int parse_mirror_mode_fields(const char *p, struct colo_status *st, int *used)
{
	static const char *const modes[] = { "none", "sync", "async", NULL };
	char lags[48], ahead[24], c;
	int n = 0;

	if (sscanf(p, " %15s %47s %23s%n", st->mirror_mode, lags, ahead, &n) != 3 ||
	    (p[n] && p[n] != ' ') || !one_of(st->mirror_mode, modes) ||
	    !isdigit((unsigned char)lags[0]) || !isdigit((unsigned char)ahead[0]) ||
	    !strchr(lags, '/') || !isdigit((unsigned char)strchr(lags, '/')[1]) ||
	    sscanf(lags, "%" SCNu64 "/%" SCNu64 "%c", &st->lag_kib, &st->max_lag_kib, &c) != 2 ||
	    sscanf(ahead, "%" SCNu64 "%c", &st->ahead, &c) != 1 ||
	    !strcmp(st->mirror_mode, "async") != !!st->max_lag_kib)
		return -1;
	st->has_mirror_mode = 1;
	*used = n;
	return 0;
}

/* A rate limit of the status: none, <KiB/s> or auto:<KiB/s>, no sign. */
static int rate_limit_ok(const char *s)
{
	const char *p = s;

	if (!strcmp(s, "none"))
		return 1;
	if (!strncmp(s, "auto:", 5))
		p += 5;
	if (!*p)
		return 0;
	for (; *p; p++)
		if (!isdigit((unsigned char)*p))
			return 0;
	return 1;
}

/*
 * <mirror_rate> <mirror_limit> <verify_rate> <verify_limit>, after the
 * mirror's mode. Fields after them are ignored.
 */
static int parse_rate_fields(const char *p, struct colo_status *st)
{
	char mk[24], vk[24], c;
	int n = 0;

	if (sscanf(p, " %23s %23s %23s %23s%n", mk, st->mirror_limit, vk,
		   st->verify_limit, &n) != 4 ||
	    (p[n] && p[n] != ' ') ||
	    !isdigit((unsigned char)mk[0]) || !isdigit((unsigned char)vk[0]) ||
	    sscanf(mk, "%" SCNu64 "%c", &st->mirror_kib, &c) != 1 ||
	    sscanf(vk, "%" SCNu64 "%c", &st->verify_kib, &c) != 1 ||
	    !rate_limit_ok(st->mirror_limit) || !rate_limit_ok(st->verify_limit))
		return -1;
	st->has_rates = 1;
	return 0;
}

int colo_parse_status(const char *params, struct colo_status *st)
{
	static const char *const modes[] = { "secondary", "primary", NULL };
	static const char *const commits[] = { "none", "running", "done", "failed", NULL };
	static const char *const mirrors[] = { "none", "copying", "in-sync", "degraded", NULL };
	static const char *const ingresses[] = { "attached", "none", NULL };
	static const char *const healths[] = { "ok", "error", NULL };
	uint64_t n_active, n_hidden, n_dirty;
	int used = 0;

	const char *p;

	memset(st, 0, sizeof(*st));
	if (!params)
		return -1;
	/*
	 * sscanf's %u takes a sign; the kernel never prints one (a lone "-"
	 * is a field of its own: no uuids, no regions).
	 */
	for (p = params; *p; p++)
		if ((*p == '-' || *p == '+') && (p == params || p[-1] == ' ' || p[-1] == '/') &&
		    !(*p == '-' && p > params && p[-1] == ' ' && (!p[1] || p[1] == ' ')))
			return -1;
	if (sscanf(params,
		   "%15s %u %" SCNu64 "/%" SCNu64 " %" SCNu64 "/%" SCNu64
		   " %15s %" SCNu64 "/%" SCNu64 " %" SCNu64 "/%" SCNu64
		   " %15s %" SCNu64 "/%" SCNu64 " %15s %15s %" SCNu64 "%n",
		   st->mode, &st->chunk, &st->active, &st->chunks, &st->hidden,
		   &n_hidden, st->commit, &st->committed, &st->to_commit,
		   &st->dirty, &n_dirty, st->mirror, &st->mirrored,
		   &st->to_mirror, st->ingress, st->health, &st->bitmap_bytes,
		   &used) != 17)
		return -1;
	n_active = st->chunks;
	if (params[used] && params[used] != ' ')
		return -1;
	strcpy(st->metadata, "none");
	strcpy(st->verify, "none");
	/* Appended later: the dirty bitmap's coverage, if the module says. */
	if (params[used]) {
		int n = 0;

		if (sscanf(params + used, " %15s%n", st->coverage, &n) != 1 ||
		    (strcmp(st->coverage, "complete") && strcmp(st->coverage, "unknown")))
			return -1;
		used += n;
	}
	/* Then the metadata device's fields, then the verify's. */
	if (params[used]) {
		int n = 0;

		if (parse_metadata_fields(params + used, st, &n))
			return -1;
		used += n;
	}
	strcpy(st->mirror_mode, "none");
	if (params[used]) {
		int n = 0;

		if (parse_verify_fields(params + used, st, &n))
			return -1;
		used += n;
	}
	/* Then the mirror's mode (async mirror). */
	if (params[used]) {
		int n = 0;

		if (parse_mirror_mode_fields(params + used, st, &n))
			return -1;
		used += n;
	}
	/* Then the copy rates of the mirror and of the verify. */
	if (params[used] && parse_rate_fields(params + used, st))
		return -1;
	if (!one_of(st->mode, modes) || !one_of(st->commit, commits) ||
	    !one_of(st->mirror, mirrors) || !one_of(st->ingress, ingresses) ||
	    !one_of(st->health, healths))
		return -1;
	if (!st->chunk || st->chunk > 2048 || (st->chunk & (st->chunk - 1)))
		return -1;
	if (n_hidden != n_active || n_dirty != n_active ||
	    st->active > n_active || st->hidden > n_active || st->dirty > n_active ||
	    st->committed > st->to_commit || st->mirrored > st->to_mirror)
		return -1;
	return 0;
}

int colo_state_check(const struct colo_status *st, enum colo_state s,
		     const char **why)
{
	*why = NULL;
	switch (s) {
	case STATE_DONE:
		if (!strcmp(st->commit, "done"))
			return 1;
		if (!strcmp(st->commit, "failed"))
			*why = "the failover commit failed (fix the fault, then failover again)";
		else if (!strcmp(st->commit, "none"))
			return *why = "no failover commit was started yet", 0;
		return *why ? -1 : 0;
	case STATE_FAILED:
		if (!strcmp(st->commit, "failed"))
			return 1;
		if (!strcmp(st->commit, "done"))
			*why = "the failover commit is done";
		else if (!strcmp(st->commit, "none"))
			return *why = "no failover commit was started yet", 0;
		return *why ? -1 : 0;
	case STATE_IN_SYNC:
		if (!strcmp(st->mirror, "in-sync"))
			return 1;
		if (!strcmp(st->mirror, "degraded"))
			*why = !strcmp(st->coverage, "unknown") ?
			       "the mirror is degraded (mirror start DEV --full resumes it)" :
			       "the mirror is degraded (mirror start DEV --dirty resumes it)";
		else if (!strcmp(st->mirror, "none"))
			return *why = "no mirror runs yet", 0;
		return *why ? -1 : 0;
	case STATE_DEGRADED:
		if (!strcmp(st->mirror, "degraded"))
			return 1;
		if (!strcmp(st->mirror, "none"))
			return *why = "no mirror runs yet", 0;
		return 0;
	case STATE_ERROR:
		return !strcmp(st->health, "error");
	case STATE_PRIMARY:
		return !strcmp(st->mode, "primary");
	case STATE_VERIFIED:
		if (!strcmp(st->verify, "done"))
			return 1;
		if (!strcmp(st->verify, "failed"))
			*why = "the verify failed (a read error on base, or the mirror degraded: see the kernel log)";
		else if (!strcmp(st->verify, "stopped"))
			*why = "the verify was stopped (verify stop, or mirror stop)";
		else if (!strcmp(st->verify, "none"))
			*why = "no verify was started (verify NAME first)";
		return *why ? -1 : 0;
	case STATE_NONE:
		break;
	}
	*why = "nothing to wait for";
	return -1;
}

int colo_state_progress(const struct colo_status *st, enum colo_state s,
			uint64_t *done, uint64_t *total)
{
	if (s == STATE_DONE && strcmp(st->commit, "none")) {
		*done = st->committed;
		*total = st->to_commit;
		return 1;
	}
	if (s == STATE_IN_SYNC && strcmp(st->mirror, "none")) {
		*done = st->mirrored;
		*total = st->to_mirror;
		return 1;
	}
	if (s == STATE_VERIFIED && strcmp(st->verify, "none")) {
		*done = st->verified;
		*total = st->to_verify;
		return 1;
	}
	return 0;
}

unsigned int colo_utf8_len(const unsigned char *s)
{
	unsigned int n, i;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	/* Overlong forms, surrogates, beyond U+10FFFF. */
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

void colo_json_str(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	fputc('"', f);
	while (*p) {
		unsigned int n = colo_utf8_len(p);

		if (!n) {
			fputs("\\ufffd", f);
			p++;
		} else if (*p == '"' || *p == '\\') {
			fprintf(f, "\\%c", *p++);
		} else if (*p < 0x20 || *p == 0x7f) {
			fprintf(f, "\\u%04x", *p++);
		} else {
			fwrite(p, 1, n, f);
			p += n;
		}
	}
	fputc('"', f);
}

/* ---- the fleece ---------------------------------------------------------- */

/* A decimal number of at most 20 digits at *p, moved past it: 0 or -1. */
static int chunk_number(const char **p, uint64_t *v)
{
	const char *s = *p;
	char *end;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	*v = strtoull(s, &end, 10);
	if (errno)
		return -1;
	*p = end;
	return 0;
}

int colo_fleece_needed_msg(const char *ranges, uint64_t nchunks, char *msg, size_t len,
			   char *err, size_t errlen)
{
	const char *p = ranges;
	size_t used;
	unsigned int n = 0;

	if (!strcmp(ranges, "all")) {
		if (msg && (size_t)snprintf(msg, len, "needed all") >= len)
			goto too_long;
		return 0;
	}
	used = msg ? (size_t)snprintf(msg, len, "needed") : 0;
	if (msg && used >= len)
		goto too_long;
	for (;;) {
		const char *word;
		uint64_t first, last;
		int w;

		while (*p == ',' || *p == ' ' || *p == '\t')
			p++;
		if (!*p)
			break;
		word = p;
		w = (int)strcspn(word, ", \t");
		if (chunk_number(&p, &first))
			goto bad;
		last = first;
		if (*p == '-') {
			p++;
			if (chunk_number(&p, &last))
				goto bad;
		}
		if (*p && *p != ',' && *p != ' ' && *p != '\t')
			goto bad;
		if (first > last) {
			snprintf(err, errlen, "'%.*s': the first chunk is after the last", w, word);
			return -1;
		}
		if (last >= nchunks) {
			snprintf(err, errlen, "'%.*s': past the last chunk, %" PRIu64 " (%" PRIu64
				 " chunks)", w, word, nchunks - 1, nchunks);
			return -1;
		}
		n++;
		if (msg) {
			if (first == last)
				used += snprintf(msg + used, len - used, " %" PRIu64, first);
			else
				used += snprintf(msg + used, len - used, " %" PRIu64 "-%" PRIu64,
						 first, last);
			if (used >= len)
				goto too_long;
		}
		continue;
bad:
		snprintf(err, errlen,
			 "'%.*s' is not a chunk range: all, or <first>-<last> and <chunk> separated by commas (e.g. 0-99,200)",
			 w, word);
		return -1;
	}
	if (!n) {
		snprintf(err, errlen,
			 "'%s': no chunk range: all, or <first>-<last> and <chunk> separated by commas (e.g. 0-99,200)",
			 ranges);
		return -1;
	}
	return 0;
too_long:
	snprintf(err, errlen, "too many ranges for one message");
	return -1;
}

int colo_parse_fleece_status(const char *params, struct colo_fleece_status *fs)
{
	static const char *const reasons[] = { "full", "io-error", "timeout", "no-memory",
					       "detached", NULL };
	char state[40], c;
	int n;

	memset(fs, 0, sizeof(*fs));
	n = sscanf(params, "%39s %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 "/%" SCNu64 "%c",
		   state, &fs->needed, &fs->saved, &fs->released, &fs->used, &fs->total, &c);
	if (n < 6 || (n == 7 && c != ' '))
		return -1;
	if (!strcmp(state, "active") || !strcmp(state, "inactive")) {
		snprintf(fs->state, sizeof(fs->state), "%.15s", state);
		return 0;
	}
	if (strncmp(state, "broken:", 7) || !one_of(state + 7, reasons))
		return -1;
	snprintf(fs->state, sizeof(fs->state), "broken");
	snprintf(fs->reason, sizeof(fs->reason), "%.15s", state + 7);
	return 0;
}

const char *colo_fleece_reason_text(const char *reason)
{
	if (!strcmp(reason, "full"))
		return "the buffer filled up";
	if (!strcmp(reason, "io-error"))
		return "a save failed to read base or to write the buffer";
	if (!strcmp(reason, "timeout"))
		return "a save took longer than the timeout";
	if (!strcmp(reason, "no-memory"))
		return "a save could not get memory";
	if (!strcmp(reason, "detached"))
		return "its colo device's table was replaced by another target";
	return "unknown reason";
}

double colo_percent(uint64_t done, uint64_t total)
{
	return total ? (double)done * 100.0 / (double)total : 100.0;
}

/* ,"percent":P,"rate":R,"eta_seconds":E of a commit or mirror object. */
static void json_progress(FILE *f, const char *state, uint64_t done, uint64_t total,
			  unsigned int chunk, int rate_known, double rate)
{
	int running = !strcmp(state, "running") || !strcmp(state, "copying");

	if (!strcmp(state, "none"))
		fputs(",\"percent\":null", f);
	else
		fprintf(f, ",\"percent\":%.1f", colo_percent(done, total));
	if (running && rate_known) {
		fprintf(f, ",\"rate\":%.0f", rate);
		if (rate >= 1.0)
			fprintf(f, ",\"eta_seconds\":%.0f",
				(double)(total - done) * chunk * 512.0 / rate);
		else
			fputs(",\"eta_seconds\":null", f);
	} else {
		fputs(",\"rate\":null,\"eta_seconds\":null", f);
	}
}

/*
 * ,"copy_rate":R,"rate_limit":L,"min_rate":M of a mirror or verify object:
 * the rate the kernel measured in bytes/s, the limit "auto" or bytes/s
 * (null: none), the floor of auto in bytes/s (null: not auto); all null
 * from a module that does not report them.
 */
static void json_kernel_rate(FILE *f, int known, uint64_t kib, const char *limit)
{
	if (!known) {
		fputs(",\"copy_rate\":null,\"rate_limit\":null,\"min_rate\":null", f);
		return;
	}
	fprintf(f, ",\"copy_rate\":%" PRIu64, kib * 1024);
	if (!strncmp(limit, "auto:", 5))
		fprintf(f, ",\"rate_limit\":\"auto\",\"min_rate\":%" PRIu64,
			(uint64_t)strtoull(limit + 5, NULL, 10) * 1024);
	else if (strcmp(limit, "none"))
		fprintf(f, ",\"rate_limit\":%" PRIu64 ",\"min_rate\":null",
			(uint64_t)strtoull(limit, NULL, 10) * 1024);
	else
		fputs(",\"rate_limit\":null,\"min_rate\":null", f);
}

void colo_status_json(FILE *f, const char *name, uint64_t sectors,
		      const struct colo_status *st, const char *const legs[3],
		      const char *ingress_dev, const char *metadata_dev)
{
	static const char *const leg_names[3] = { "base", "hidden", "active" };
	int i;

	fprintf(f, "{\"schema\":%d,", COLO_JSON_SCHEMA);
	if (name) {
		fputs("\"name\":", f);
		colo_json_str(f, name);
		fputc(',', f);
	}
	if (st->has_dm_uuid) {
		fputs("\"dm_uuid\":", f);
		if (st->dm_uuid[0])
			colo_json_str(f, st->dm_uuid);
		else
			fputs("null", f);
		fputc(',', f);
	}
	fprintf(f, "\"target\":\"colo\",\"sectors\":%" PRIu64 ",\"mode\":", sectors);
	colo_json_str(f, st->mode);
	fprintf(f, ",\"chunk_sectors\":%u,\"chunk_bytes\":%u,\"chunks\":%" PRIu64,
		st->chunk, st->chunk * 512, st->chunks);
	if (legs) {
		fputs(",\"legs\":{", f);
		for (i = 0; i < 3 && legs[i]; i++) {
			fprintf(f, "%s\"%s\":", i ? "," : "", leg_names[i]);
			colo_json_str(f, legs[i]);
		}
		fputc('}', f);
	}
	fprintf(f, ",\"active\":%" PRIu64 ",\"hidden\":%" PRIu64, st->active, st->hidden);
	fputs(",\"commit\":{\"state\":", f);
	colo_json_str(f, st->commit);
	fprintf(f, ",\"committed\":%" PRIu64 ",\"to_commit\":%" PRIu64,
		st->committed, st->to_commit);
	json_progress(f, st->commit, st->committed, st->to_commit, st->chunk,
		      st->commit_rate_known, st->commit_rate);
	fputc('}', f);
	fprintf(f, ",\"dirty\":%" PRIu64, st->dirty);
	fputs(",\"mirror\":{\"state\":", f);
	colo_json_str(f, st->mirror);
	fprintf(f, ",\"mirrored\":%" PRIu64 ",\"to_mirror\":%" PRIu64,
		st->mirrored, st->to_mirror);
	json_progress(f, st->mirror, st->mirrored, st->to_mirror, st->chunk,
		      st->mirror_rate_known, st->mirror_rate);
	json_kernel_rate(f, st->has_rates, st->mirror_kib, st->mirror_limit);
	fputc('}', f);
	fputs(",\"ingress\":", f);
	if (ingress_dev)
		colo_json_str(f, ingress_dev);
	else
		fputs(strcmp(st->ingress, "attached") ? "null" : "\"attached\"", f);
	fputs(",\"health\":", f);
	colo_json_str(f, st->health);
	fprintf(f, ",\"bitmap_bytes\":%" PRIu64, st->bitmap_bytes);
	fputs(",\"dirty_coverage\":", f);
	if (st->coverage[0])
		colo_json_str(f, st->coverage);
	else
		fputs("null", f);
	fputs(",\"metadata\":", f);
	colo_json_str(f, st->metadata);
	fputs(",\"metadata_device\":", f);
	if (metadata_dev)
		colo_json_str(f, metadata_dev);
	else
		fputs("null", f);
	if (st->has_uuids)
		fprintf(f, ",\"uuid_current\":\"%016" PRIx64 "\",\"uuid_previous\":\"%016" PRIx64 "\"",
			st->uuid_current, st->uuid_previous);
	else
		fputs(",\"uuid_current\":null,\"uuid_previous\":null", f);
	if (st->has_regions)
		fprintf(f, ",\"regions_marked\":%" PRIu64 ",\"regions\":%" PRIu64,
			st->regions_marked, st->regions);
	else
		fputs(",\"regions_marked\":null,\"regions\":null", f);
	fputs(",\"verify\":{\"state\":", f);
	colo_json_str(f, st->verify);
	fprintf(f, ",\"verified\":%" PRIu64 ",\"to_verify\":%" PRIu64 ",\"different\":%" PRIu64,
		st->verified, st->to_verify, st->verify_different);
	json_kernel_rate(f, st->has_rates, st->verify_kib, st->verify_limit);
	fputc('}', f);
	/* The mirror's mode (async mirror); appended, schema unchanged. */
	fputs(",\"mirror_mode\":", f);
	colo_json_str(f, st->mirror_mode);
	fprintf(f, ",\"lag_kib\":%" PRIu64 ",\"max_lag_kib\":%" PRIu64 ",\"ahead\":%" PRIu64,
		st->lag_kib, st->max_lag_kib, st->ahead);
	fputc('}', f);
}

int colo_table_params(const struct colo_args *a, unsigned int chunk,
		      unsigned int region, char *buf, size_t len)
{
	unsigned int words = 0;
	size_t n;

	if (a->primary)
		n = snprintf(buf, len, "primary %s %u", a->base, chunk);
	else
		n = snprintf(buf, len, "secondary %s %s %s %u", a->base, a->hidden, a->active,
			     chunk);
	words = (a->max_copies ? 2 : 0) + (a->metadata ? 2 : 0) + (region ? 2 : 0);
	if (words && n < len)
		n += snprintf(buf + n, len - n, " %u", words);
	if (a->max_copies && n < len)
		n += snprintf(buf + n, len - n, " max_copies %u", a->max_copies);
	if (a->metadata && n < len)
		n += snprintf(buf + n, len - n, " metadata %s", a->metadata);
	if (region && n < len)
		n += snprintf(buf + n, len - n, " region_size %u", region);
	return n < len ? 0 : -1;
}

int colo_table_opt(const char *params, const char *key, char *buf, size_t len)
{
	char *copy = strdup(params), *w, *save = NULL;
	unsigned int skip, i, nopt;
	int r = -1;

	if (!copy)
		return -1;
	w = strtok_r(copy, " ", &save);
	/* The mode, its legs and the chunk size come before the count. */
	skip = w && !strcmp(w, "secondary") ? 5 : w && !strcmp(w, "primary") ? 3 : 0;
	for (i = 0; w && i < skip; i++)
		w = strtok_r(NULL, " ", &save);
	if (!skip || !w || parse_uint(w, 1024, &nopt))
		goto out;
	for (i = 0; i + 1 < nopt; i += 2) {
		char *k = strtok_r(NULL, " ", &save), *v = strtok_r(NULL, " ", &save);

		if (!k || !v)
			break;
		if (!strcmp(k, key)) {
			snprintf(buf, len, "%s", v);
			r = 0;
			break;
		}
	}
out:
	free(copy);
	return r;
}

void colo_progress_bar(char *buf, size_t len, uint64_t done, uint64_t total,
		       unsigned int width)
{
	unsigned int fill, pct, i;
	size_t n;

	if (width > 200)
		width = 200;
	pct = total ? (unsigned int)(done * 100 / total) : 100;
	fill = total ? (unsigned int)(done * width / total) : width;
	if (!len)
		return;
	n = 0;
	if (n + 1 < len)
		buf[n++] = '[';
	for (i = 0; i < width && n + 1 < len; i++)
		buf[n++] = i < fill ? '#' : ' ';
	if (n + 1 < len)
		buf[n++] = ']';
	buf[n] = '\0';
	snprintf(buf + n, len - n, " %3u%% %" PRIu64 "/%" PRIu64, pct, done, total);
}
