/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dm-colo: parsing of table lines and messages.
 *
 * Everything here is pure: no device is opened, nothing is allocated and no
 * lock is taken, so every function is safe from any context and is tested
 * by KUnit (dm-colo-test.c). Words are only looked at, never modified;
 * pointers returned in the parsed structures point into the caller's argv.
 * Error strings are static and suitable for ti->error.
 */
#ifndef DM_COLO_PARSE_H
#define DM_COLO_PARSE_H

#include <linux/types.h>

#include "dm-colo-chunk.h"

#define COLO_DEFAULT_MAX_COPIES		64
#define COLO_MAX_MAX_COPIES		1024

/* The largest max_lag of an async mirror, in KiB (1 GiB). */
#define COLO_MAX_MAX_LAG		1048576U

enum colo_mode {
	COLO_MODE_SECONDARY,
	COLO_MODE_PRIMARY,
};

/* A parsed "colo" table line; the devices are still paths. */
struct colo_table_args {
	enum colo_mode mode;
	const char *base_path;
	const char *hidden_path;	/* NULL in primary mode */
	const char *active_path;	/* NULL in primary mode */
	unsigned int chunk_shift;	/* chunk = 1 << chunk_shift sectors */
	unsigned int max_copies;	/* copies in flight, per device */
	const char *metadata_path;	/* NULL: state in memory only */
	unsigned int region_shift;	/* write-intent region, in sectors */
};

enum colo_msg_kind {
	COLO_MSG_CHECKPOINT,
	COLO_MSG_FAILOVER,
	COLO_MSG_MIRROR_START,
	COLO_MSG_MIRROR_STOP,
	COLO_MSG_MIRROR_ASYNC,
	COLO_MSG_MIRROR_SYNC,
	COLO_MSG_DIRTY_ADD,
	COLO_MSG_VERIFY_START,
	COLO_MSG_VERIFY_STOP,
	COLO_MSG_VERIFY_RANGES,
	COLO_MSG_MIRROR_RATE,
	COLO_MSG_VERIFY_RATE,
};

enum colo_mirror_sync {
	COLO_SYNC_FULL,
	COLO_SYNC_DIRTY,
};

/* A parsed message. */
struct colo_msg {
	enum colo_msg_kind kind;
	const char *dev_path;		/* mirror start only */
	enum colo_mirror_sync sync;	/* mirror start only */
	unsigned int rate;		/* mirror, verify start, rate: KiB/s, 0 = none */
	unsigned int min_rate;		/* ... auto: its floor, KiB/s; 0: not auto */
	unsigned int max_lag;		/* mirror start, mirror async: KiB, 0 = sync */
	u64 from;			/* verify ranges: the first chunk */
	unsigned int nr_ranges;		/* dirty add: range words ... */
	char **ranges;			/* ... in the caller's argv */
};

int colo_parse_chunk_sectors(const char *word, unsigned int *shift,
			     char **error);
int colo_parse_table(unsigned int argc, char **argv,
		     struct colo_table_args *args, char **error);
int colo_parse_message(unsigned int argc, char **argv, struct colo_msg *msg,
		       char **error);
int colo_parse_range(const char *word, u64 nr_chunks, u64 *first,
		     u64 *last);
const char *colo_mode_name(enum colo_mode mode);
enum colo_mode colo_msg_mode(enum colo_msg_kind kind);

#endif /* DM_COLO_PARSE_H */
