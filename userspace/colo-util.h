/* SPDX-License-Identifier: GPL-2.0 */
/*
 * colo-util: the pure parts of colosetup (sizes, the command line, the
 * target's status line, progress). Nothing here talks to the kernel, so all
 * of it is unit-tested on the host (test-util.c).
 */
#ifndef COLO_UTIL_H
#define COLO_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/*
 * Parse a size: a whole number of bytes with an optional binary suffix,
 * K, M, G or T (powers of 1024; case-insensitive, with or without "iB":
 * 4k = 4K = 4KiB = 4096), or "s" for 512-byte sectors. Decimal units
 * (kB, MB, GB, TB, in any case) are refused: COLO_SIZE_DECIMAL. Returns 0
 * and the size in bytes, COLO_SIZE_DECIMAL, or COLO_SIZE_BAD on any other
 * bad input or overflow.
 */
#define COLO_SIZE_BAD (-1)
#define COLO_SIZE_DECIMAL (-2)
#define COLO_RATE_NOT_KIB (-3)
int colo_parse_size(const char *s, uint64_t *bytes);

/*
 * Parse a mirror rate: a size per second (colo_parse_size's units) that is
 * a whole number of KiB/s (the kernel's unit), from 1 KiB/s to 2^32-1
 * KiB/s. Returns 0 and the rate in KiB/s, COLO_SIZE_DECIMAL,
 * COLO_RATE_NOT_KIB (not a multiple of 1024 bytes) or COLO_SIZE_BAD.
 */
int colo_parse_rate(const char *s, uint64_t *kib);

/*
 * Parse an async mirror's max lag: a size (colo_parse_size's units) that
 * is a whole number of KiB (the kernel's unit), from 1 KiB to 1 GiB.
 * Returns 0 and the lag in KiB, COLO_SIZE_DECIMAL, COLO_RATE_NOT_KIB or
 * COLO_SIZE_BAD.
 */
#define COLO_MAX_LAG_KIB 1048576
int colo_parse_lag(const char *s, uint64_t *kib);

/* "MAJ:MIN" (decimal numbers only): 0 and the numbers, else -1. */
int colo_parse_devnum(const char *s, unsigned int *major, unsigned int *minor);

/*
 * A device's names: dm takes 1 to 127 bytes; colosetup creates NAME only
 * when NAME-ingress fits too (at most COLO_NAME_MAX_CREATE bytes).
 */
#define COLO_INGRESS_SUFFIX "-ingress"
#define COLO_NAME_MAX 127
#define COLO_NAME_MAX_CREATE (COLO_NAME_MAX - (sizeof(COLO_INGRESS_SUFFIX) - 1))
/* fleece start NAME makes NAME-fleece (shorter than NAME-ingress). */
#define COLO_FLEECE_SUFFIX "-fleece"

/*
 * colosetup's version, and the dm-colo target's it drives: the same MAJOR
 * (COLO_VERSION_MAJOR, from the top-level VERSION file). 0 when a target
 * of version v[0].v[1].v[2] is known, -1 when not.
 */
int colo_target_version_ok(const unsigned int v[3]);

/*
 * A dm-colo line of the kernel log (the text of a /dev/kmsg record) about
 * the device devnum ("253:4"): its reason, else NULL. dm identifies a
 * device by major:minor in both forms:
 *   "device-mapper: table: 253:4: colo: <why>"  (a refused table; also
 *                                                 colo-ingress)
 *   "device-mapper: colo: 253:4: <what>"        (dm-colo's own lines)
 * The reason is what follows "colo: " ("253:4: <what>" for the second).
 */
const char *colo_kmsg_reason(const char *line, const char *devnum);

/* Parse a chunk size: a size that is a power of two from 512 B to 1 MiB.
 * Returns 0 and the chunk in 512-byte sectors, or -1. */
int colo_parse_chunk(const char *s, unsigned int *sectors);

/* Format bytes as "4 KiB", "1.5 GiB" into buf. Returns buf. */
char *colo_human(uint64_t bytes, char *buf, size_t len);

/* Exit codes of colosetup (documented in colosetup.8 and --help). */
enum {
	COLO_EXIT_OK = 0,
	COLO_EXIT_FAIL = 1,	/* refused by the kernel, or a failed state */
	COLO_EXIT_USAGE = 2,	/* bad command line */
	COLO_EXIT_NODEV = 3,	/* no such device, or not a dm-colo device */
	COLO_EXIT_BUSY = 4,	/* device in use (remove without --force) */
	COLO_EXIT_TIMEOUT = 5,	/* wait/--wait ran out of time */
	/* cannot drive dm-colo here: no device-mapper, not root, the dm-colo
	 * target not loaded or of a major version colosetup does not know */
	COLO_EXIT_ENV = 6,
	/* up: a leg is not the device pinned at the first up (colotab(5)) */
	COLO_EXIT_LEG = 7,
};

enum colo_cmd {
	CMD_NONE,
	CMD_HELP,
	CMD_VERSION,
	CMD_CREATE,
	CMD_INGRESS,
	CMD_REMOVE,
	CMD_STATUS,
	CMD_LIST,
	CMD_CHECKPOINT,
	CMD_FAILOVER,
	CMD_MIRROR_START,
	CMD_MIRROR_STOP,
	CMD_MIRROR_ASYNC,
	CMD_MIRROR_SYNC,
	CMD_WAIT,
	CMD_META_DUMP,
	CMD_META_EXPORT,
	CMD_META_WIPE,
	CMD_DIRTY_IMPORT,
	CMD_VERIFY,
	CMD_VERIFY_STOP,
	CMD_VERIFY_RANGES,
	CMD_MONITOR,
	CMD_UP,
	CMD_DOWN,
	CMD_MIRROR_RATE,
	CMD_VERIFY_RATE,
	CMD_FLEECE_START,
	CMD_FLEECE_STOP,
	CMD_FLEECE_STATUS,
	CMD_FLEECE_NEEDED,
};

/* What "wait" and "--wait" wait for. */
enum colo_state {
	STATE_NONE,
	STATE_DONE,		/* commit done */
	STATE_FAILED,		/* commit failed */
	STATE_IN_SYNC,		/* mirror in sync */
	STATE_DEGRADED,		/* mirror degraded */
	STATE_ERROR,		/* health error */
	STATE_PRIMARY,		/* primary mode */
	STATE_VERIFIED,		/* online verify done */
};

#define COLO_DEFAULT_CHUNK_SECTORS 8	/* 4 KiB */
#define COLO_DEFAULT_REGION_SECTORS 8192	/* 4 MiB, the module's default */
#define COLO_MAX_REGION_SECTORS 2097152	/* 1 GiB */

/* Parse a write-intent region size: a power of two from 512 B to 1 GiB.
 * Returns 0 and the region in 512-byte sectors, or -1. */
int colo_parse_region(const char *s, unsigned int *sectors);

#define COLO_MAX_NAMES 64	/* monitor NAME... */

struct colo_args {
	enum colo_cmd cmd;
	const char *name;
	int primary;			/* create: --primary (else --secondary) */
	const char *base, *hidden, *active;
	unsigned int chunk_sectors;	/* 0: not given */
	unsigned int max_copies;	/* 0: not given */
	const char *metadata;		/* create: --metadata */
	unsigned int region_sectors;	/* create: --region-size (0: not given) */
	const char *dev;		/* mirror start: the replica; metadata: DEV */
	const char *file;		/* dirty import: FILE ("-" or NULL: stdin) */
	int dirty;			/* mirror start: --dirty (else full) */
	uint64_t rate_kib;		/* mirror start, verify: --rate; mirror/verify rate: RATE; KiB/s (0: none) */
	uint64_t lag_kib;		/* mirror start --async, mirror async: KiB (0: sync) */
	int rate_auto;			/* ... --rate auto */
	int rate_none;			/* mirror rate, verify rate: none (no limit) */
	uint64_t min_rate_kib;		/* ... --min-rate, KiB/s (0: not given) */
	enum colo_state state;		/* wait */
	unsigned int timeout;		/* seconds, 0: none */
	int wait, force, json, verbose;
	/* status --prometheus; list's report options (colo-report.c) */
	int prometheus, noheadings, nameprefixes;
	const char *fields;		/* list -o/--options */
	const char *separator;		/* list --separator */
	const char *sort;		/* list --sort */
	/* monitor [NAME...] (colo-monitor.c) */
	const char *names[COLO_MAX_NAMES];
	unsigned int nnames;
	const char *hook;		/* --exec HOOK */
	unsigned int hook_timeout;	/* --hook-timeout SEC (0: default) */
	unsigned int count;		/* --count N: exit after N events (0: never) */
	unsigned int interval;		/* --interval SEC: a look without an event */
	int interval_set;
	int no_syslog;			/* --no-syslog */
	/* up, down (colo-up.c) */
	int all;			/* --all */
	int pin;			/* up --pin */
	const char *colotab;		/* --colotab FILE (NULL: $COLOTAB, else the default) */
	/* fleece start NAME BUFFER (a->dev), fleece needed NAME RANGES */
	unsigned int fleece_timeout_ms;	/* --timeout MS (0: the kernel's default) */
	int read_once;			/* --read-once */
	int persistent;			/* --persistent: its map on the buffer */
	int reattach;			/* --reattach: the buffer's view back */
	const char *needed;		/* --needed RANGES|all, or RANGES */
};

/*
 * Parse colosetup's command line (argv[0] is the program). Returns 0, or
 * COLO_EXIT_USAGE with a sentence in err.
 */
int colo_parse_args(int argc, char **argv, struct colo_args *a,
		    char *err, size_t errlen);

const char *colo_state_name(enum colo_state s);

/*
 * The kernel message of "mirror rate" and "verify rate" (a->cmd):
 * "mirror rate <KiB/s>|auto|none [min_rate <KiB/s>]". Returns 0, or -1
 * when @len is too small or a->cmd is another command.
 */
int colo_rate_message(const struct colo_args *a, char *buf, size_t len);

/* The colo target's status, as documented in the README. */
struct colo_status {
	char mode[16];		/* secondary | primary */
	unsigned int chunk;	/* sectors */
	uint64_t chunks;
	uint64_t active, hidden;
	char commit[16];	/* none | running | done | failed */
	uint64_t committed, to_commit;
	uint64_t dirty;
	char mirror[16];	/* none | copying | in-sync | degraded */
	uint64_t mirrored, to_mirror;
	char ingress[16];	/* attached | none */
	char health[16];	/* ok | error */
	uint64_t bitmap_bytes;
	/* complete | unknown; "" from a module that does not report it */
	char coverage[16];
	/* none | ok | failed; "none" from a module that does not report it */
	char metadata[16];
	int has_uuids;		/* uuid_current/uuid_previous given */
	uint64_t uuid_current, uuid_previous;
	int has_regions;	/* regions_marked/regions given */
	uint64_t regions_marked, regions;
	/* Not in the status line: the device's dm UUID ("" for none), when
	 * has_dm_uuid says colosetup looked it up (then JSON has "dm_uuid"). */
	int has_dm_uuid;
	char dm_uuid[129];
	/* none | running | done | stopped | failed; "none" from an older module */
	char verify[16];
	uint64_t verified, to_verify, verify_different;
	/*
	 * The mirror's mode: none | sync | async ("none" from an older
	 * module, has_mirror_mode 0); the KiB of background writes in flight,
	 * the limit (0 in sync mode), the writes that went ahead.
	 */
	int has_mirror_mode;
	char mirror_mode[16];
	uint64_t lag_kib, max_lag_kib, ahead;
	/*
	 * The copy rates the kernel measured (KiB/s over the last second, 0
	 * when not running) and the limits of the last starts: "none",
	 * "<KiB/s>" or "auto:<min KiB/s>"; has_rates 0 from an older module.
	 */
	int has_rates;
	uint64_t mirror_kib, verify_kib;
	char mirror_limit[24], verify_limit[24];
	/*
	 * Not from the kernel: the commit's and the mirror's copy rates in
	 * bytes/s as colosetup measured them (status/list --json), when known.
	 */
	int commit_rate_known, mirror_rate_known;
	double commit_rate, mirror_rate;
};

/* The version of colosetup's JSON objects ("schema"; README, JSON). */
#define COLO_JSON_SCHEMA 2

/*
 * Parse the colo target's status parameters (what follows "colo" in
 * dmsetup status). Returns 0, or -1 when the line is not one this version
 * understands. Fields appended by a newer module are ignored.
 */
int colo_parse_status(const char *params, struct colo_status *st);

/*
 * 1 when st is in state s, 0 when not yet, -1 when it never will be
 * without an operator's action (e.g. waiting for in-sync, mirror degraded);
 * *why then says why. 0 with *why set: what s needs has not started yet
 * (no mirror runs, no failover commit): a wait goes on (README, wait).
 */
int colo_state_check(const struct colo_status *st, enum colo_state s,
		     const char **why);

/* Progress (done/total) of what s waits for; 0 when there is none. */
int colo_state_progress(const struct colo_status *st, enum colo_state s,
			uint64_t *done, uint64_t *total);

/* The status as one JSON object (no trailing newline). name, legs,
 * ingress_dev and metadata_dev may be NULL. */
void colo_status_json(FILE *f, const char *name, uint64_t sectors,
		      const struct colo_status *st, const char *const legs[3],
		      const char *ingress_dev, const char *metadata_dev);

/*
 * The colo table line (after "colo") that create loads: the mode, the
 * legs, the chunk size, then the optional arguments (max_copies, metadata,
 * region_size when region is not 0), counted in words. Returns 0, or -1
 * when it does not fit in buf.
 */
int colo_table_params(const struct colo_args *a, unsigned int chunk,
		      unsigned int region, char *buf, size_t len);

/*
 * The value of optional argument key ("metadata") in a colo table line,
 * into buf. Returns 0, or -1 when the table has no such option.
 */
int colo_table_opt(const char *params, const char *key, char *buf, size_t len);

/*
 * A JSON string with escapes. Bytes that are not well-formed UTF-8 (a dm
 * name may hold any byte) become U+FFFD, each one, so the output is always
 * valid UTF-8 JSON.
 */
void colo_json_str(FILE *f, const char *s);

/* The length of the well-formed UTF-8 sequence at s (1 to 4), or 0. */
unsigned int colo_utf8_len(const unsigned char *s);

/*
 * The chunk ranges of fleece needed / --needed: "all", or words
 * "<first>-<last>" or "<chunk>" (decimal, inclusive) separated by commas
 * or blanks, e.g. "0-99,200". Each range must lie below nchunks
 * (UINT64_MAX: the syntax alone). Returns 0 and the kernel's message
 * ("needed all" or "needed 0-99 200") in msg when msg is not NULL, or -1
 * with a sentence in err (msg too small counts as an error).
 */
int colo_fleece_needed_msg(const char *ranges, uint64_t nchunks, char *msg, size_t len,
			   char *err, size_t errlen);

/* The colo-fleece target's status (README, Fleece). */
struct colo_fleece_status {
	char state[16];		/* inactive | active | broken */
	char reason[16];	/* broken's: full, io-error, ... ("" otherwise) */
	uint64_t needed, saved, released, used, total;
};

/*
 * Parse the colo-fleece status parameters ("active 8192 3 0 3/8192",
 * what follows "colo-fleece" in dmsetup status). 0, or -1 when the line
 * is not one this version understands (fields appended later are
 * ignored).
 */
int colo_parse_fleece_status(const char *params, struct colo_fleece_status *fs);

/* What broken:<reason> means, one phrase ("the buffer is full"). */
const char *colo_fleece_reason_text(const char *reason);

/* Percent done of done/total (100 when total is 0). */
double colo_percent(uint64_t done, uint64_t total);

/* A progress bar line of width columns: "[#####     ]  45% 1234/5678". */
void colo_progress_bar(char *buf, size_t len, uint64_t done, uint64_t total,
		       unsigned int width);

#endif
