// SPDX-License-Identifier: GPL-2.0
/*
 * dm-colo: parsing of table lines and messages. See dm-colo-parse.h for the
 * contract: pure functions, static error strings, argv never modified.
 */
#include <linux/errno.h>
#include <linux/kernel.h>
#include <linux/log2.h>
#include <linux/string.h>

#include "dm-colo-format.h"
#include "dm-colo-parse.h"
#include "dm-colo-rate.h"

const char *colo_mode_name(enum colo_mode mode)
{
	return mode == COLO_MODE_PRIMARY ? "primary" : "secondary";
}

/* The mode a message is valid in. */
enum colo_mode colo_msg_mode(enum colo_msg_kind kind)
{
	switch (kind) {
	case COLO_MSG_MIRROR_START:
	case COLO_MSG_MIRROR_STOP:
	case COLO_MSG_MIRROR_ASYNC:
	case COLO_MSG_MIRROR_SYNC:
	case COLO_MSG_MIRROR_RATE:
	case COLO_MSG_DIRTY_ADD:
	case COLO_MSG_VERIFY_START:
	case COLO_MSG_VERIFY_STOP:
	case COLO_MSG_VERIFY_RANGES:
	case COLO_MSG_VERIFY_RATE:
		return COLO_MODE_PRIMARY;
	default:
		return COLO_MODE_SECONDARY;
	}
}

int colo_parse_chunk_sectors(const char *word, unsigned int *shift,
			     char **error)
{
	unsigned long long sectors;

	if (kstrtoull(word, 10, &sectors)) {
		*error = "Invalid chunk size: not a number of sectors";
		return -EINVAL;
	}
	if (!sectors || !is_power_of_2(sectors)) {
		*error = "Invalid chunk size: not a power of two";
		return -EINVAL;
	}
	if (sectors > (1ULL << COLO_MAX_CHUNK_SHIFT)) {
		*error = "Invalid chunk size: larger than 2048 sectors";
		return -EINVAL;
	}
	*shift = ilog2(sectors);
	return 0;
}

static int parse_mode(const char *word, enum colo_mode *mode, char **error)
{
	if (!strcmp(word, "secondary")) {
		*mode = COLO_MODE_SECONDARY;
		return 0;
	}
	if (!strcmp(word, "primary")) {
		*mode = COLO_MODE_PRIMARY;
		return 0;
	}
	*error = "Invalid mode: expected secondary or primary";
	return -EINVAL;
}

static int parse_max_copies(const char *word, unsigned int *max_copies,
			    char **error)
{
	unsigned int n;

	if (kstrtouint(word, 10, &n) || !n || n > COLO_MAX_MAX_COPIES) {
		*error = "Invalid max_copies: expected 1 to 1024";
		return -EINVAL;
	}
	*max_copies = n;
	return 0;
}

static int parse_region_size(const char *word, unsigned int *shift,
			     char **error)
{
	unsigned long long sectors;

	if (kstrtoull(word, 10, &sectors) || !sectors ||
	    !is_power_of_2(sectors) ||
	    sectors > (1ULL << COLO_MAX_REGION_SHIFT)) {
		*error = "Invalid region_size: expected a power of two up to 2097152 sectors";
		return -EINVAL;
	}
	*shift = ilog2(sectors);
	return 0;
}

/* The table's optional arguments, each with one value. */
enum colo_feature {
	COLO_FEAT_MAX_COPIES,
	COLO_FEAT_METADATA,
	COLO_FEAT_REGION_SIZE,
	COLO_NR_FEATURES,
};

static const char * const feature_names[COLO_NR_FEATURES] = {
	[COLO_FEAT_MAX_COPIES] = "max_copies",
	[COLO_FEAT_METADATA] = "metadata",
	[COLO_FEAT_REGION_SIZE] = "region_size",
};

static int parse_feature(enum colo_feature f, const char *value,
			 struct colo_table_args *args, char **error)
{
	switch (f) {
	case COLO_FEAT_MAX_COPIES:
		return parse_max_copies(value, &args->max_copies, error);
	case COLO_FEAT_METADATA:
		args->metadata_path = value;
		return 0;
	default:
		return parse_region_size(value, &args->region_shift, error);
	}
}

static int lookup_feature(const char *word, enum colo_feature *f)
{
	unsigned int i;

	for (i = 0; i < COLO_NR_FEATURES; i++) {
		if (!strcmp(word, feature_names[i])) {
			*f = i;
			return 0;
		}
	}
	return -EINVAL;
}

/* <#opt> <opt>...: every option word must be consumed, none may repeat. */
static int parse_features(unsigned int argc, char **argv,
			  struct colo_table_args *args, char **error)
{
	unsigned long seen = 0;
	enum colo_feature f;
	unsigned int nr, i;

	if (!argc)
		return 0;
	if (kstrtouint(argv[0], 10, &nr)) {
		*error = "Invalid number of optional arguments";
		return -EINVAL;
	}
	if (nr != argc - 1) {
		*error = "Optional argument count does not match the arguments given";
		return -EINVAL;
	}
	for (i = 1; i < argc; i += 2) {
		if (lookup_feature(argv[i], &f)) {
			*error = "Unknown optional argument";
			return -EINVAL;
		}
		if (seen & BIT(f)) {
			*error = "Optional argument given twice";
			return -EINVAL;
		}
		if (i + 1 >= argc) {
			*error = "Optional argument needs a value";
			return -EINVAL;
		}
		if (parse_feature(f, argv[i + 1], args, error))
			return -EINVAL;
		seen |= BIT(f);
	}
	return 0;
}

/*
 * colo secondary <base> <hidden> <active> <chunk_sectors> [<#opt> <opt>...]
 * colo primary   <base> <chunk_sectors> [<#opt> <opt>...]
 */
int colo_parse_table(unsigned int argc, char **argv,
		     struct colo_table_args *args, char **error)
{
	unsigned int nr_fixed;

	memset(args, 0, sizeof(*args));
	args->max_copies = COLO_DEFAULT_MAX_COPIES;
	args->region_shift = COLO_DEFAULT_REGION_SHIFT;

	if (!argc) {
		*error = "Missing mode: expected secondary or primary";
		return -EINVAL;
	}
	if (parse_mode(argv[0], &args->mode, error))
		return -EINVAL;

	nr_fixed = args->mode == COLO_MODE_SECONDARY ? 5 : 3;
	if (argc < nr_fixed && args->mode == COLO_MODE_SECONDARY) {
		*error = "Too few arguments: secondary <base> <hidden> <active> <chunk_sectors>";
		return -EINVAL;
	}
	if (argc < nr_fixed) {
		*error = "Too few arguments: primary <base> <chunk_sectors>";
		return -EINVAL;
	}

	args->base_path = argv[1];
	if (args->mode == COLO_MODE_SECONDARY) {
		args->hidden_path = argv[2];
		args->active_path = argv[3];
	}
	if (colo_parse_chunk_sectors(argv[nr_fixed - 1], &args->chunk_shift,
				     error))
		return -EINVAL;

	if (parse_features(argc - nr_fixed, argv + nr_fixed, args, error))
		return -EINVAL;
	if (args->region_shift < args->chunk_shift) {
		*error = "Invalid region_size: smaller than the chunk size";
		return -EINVAL;
	}
	return 0;
}

/* A max_lag word: KiB, positive, at most COLO_MAX_MAX_LAG. */
static int parse_max_lag(const char *word, unsigned int *max_lag)
{
	if (kstrtouint(word, 10, max_lag) || !*max_lag ||
	    *max_lag > COLO_MAX_MAX_LAG)
		return -EINVAL;
	return 0;
}

#define MAX_LAG_RANGE "max_lag must be a positive number of KiB, at most 1048576"

/* The words parse_start() reads, and its error strings, per message. */
struct start_words {
	bool sync;		/* [full|dirty] first */
	bool rate_needed;	/* <KiB/s>|auto|none, not optional */
	bool async;		/* async <max_lag> allowed */
	/* ti->error's type; never written */
	char *usage;
	char *rate;
	char *min_rate;
	char *min_twice;
	char *min_fixed;
};

/* mirror start's words after the device (its usage is too long a line). */
#define MIRROR_START_WORDS \
	"[full|dirty [<KiB/s>|auto]] [min_rate <KiB/s>] [async <max_lag>]"

static const struct start_words mirror_start_words = {
	.sync = true,
	.async = true,
	.usage = "mirror start: expected <dev> " MIRROR_START_WORDS,
	.rate = "mirror start: rate must be a positive number of KiB/s or auto",
	.min_rate = "mirror start: min_rate must be a positive number of KiB/s",
	.min_twice = "mirror start: min_rate given twice",
	.min_fixed = "mirror start: min_rate is the floor of the auto rate: give auto",
};

static const struct start_words verify_start_words = {
	.usage = "verify start: expected [<KiB/s>|auto] [min_rate <KiB/s>]",
	.rate = "verify start: rate must be a positive number of KiB/s or auto",
	.min_rate = "verify start: min_rate must be a positive number of KiB/s",
	.min_twice = "verify start: min_rate given twice",
	.min_fixed = "verify start: min_rate is the floor of the auto rate: give auto",
};

static const struct start_words mirror_rate_words = {
	.rate_needed = true,
	.usage = "mirror rate: expected <KiB/s>|auto|none [min_rate <KiB/s>]",
	.rate = "mirror rate: rate must be a positive number of KiB/s, auto or none",
	.min_rate = "mirror rate: min_rate must be a positive number of KiB/s",
	.min_twice = "mirror rate: min_rate given twice",
	.min_fixed = "mirror rate: min_rate is the floor of the auto rate: give auto",
};

static const struct start_words verify_rate_words = {
	.rate_needed = true,
	.usage = "verify rate: expected <KiB/s>|auto|none [min_rate <KiB/s>]",
	.rate = "verify rate: rate must be a positive number of KiB/s, auto or none",
	.min_rate = "verify rate: min_rate must be a positive number of KiB/s",
	.min_twice = "verify rate: min_rate given twice",
	.min_fixed = "verify rate: min_rate is the floor of the auto rate: give auto",
};

/* A keyword of the start messages (they come after the positional words). */
static bool start_keyword(const char *word)
{
	return !strcmp(word, "min_rate") || !strcmp(word, "async");
}

/*
 * The rate words of "mirror start <dev>", "verify start", "mirror rate" and
 * "verify rate" after the fixed ones, as @w says: [full|dirty] (mirror
 * start only), a positional <KiB/s>|auto (for mirror start only after
 * full|dirty; for the rate messages not optional, and "none" too), then
 * keyword pairs in any order, each at most once: min_rate <KiB/s>, the
 * floor of auto (default COLO_RATE_DEFAULT_MIN), and for mirror start
 * async <max_lag>. msg->rate is the fixed rate (0: none), msg->min_rate
 * the floor of auto (0: not auto), msg->max_lag the async bound (0: sync).
 */
static int parse_start(unsigned int argc, char **argv, struct colo_msg *msg,
		       const struct start_words *w, char **error)
{
	bool rate_allowed = !w->sync, automatic = false, async = false;
	unsigned int i = 0, min_rate = 0;

	if (w->sync && i < argc && !start_keyword(argv[i])) {
		if (!strcmp(argv[i], "dirty")) {
			msg->sync = COLO_SYNC_DIRTY;
		} else if (strcmp(argv[i], "full")) {
			*error = "mirror start: sync mode must be full or dirty";
			return -EINVAL;
		}
		i++;
		rate_allowed = true;
	}
	if (w->rate_needed && (i >= argc || start_keyword(argv[i]))) {
		*error = w->usage;
		return -EINVAL;
	}
	if (rate_allowed && i < argc && !start_keyword(argv[i])) {
		if (!strcmp(argv[i], "auto")) {
			automatic = true;
		} else if (w->rate_needed && !strcmp(argv[i], "none")) {
			msg->rate = 0;
		} else if (kstrtouint(argv[i], 10, &msg->rate) || !msg->rate) {
			*error = w->rate;
			return -EINVAL;
		}
		i++;
	}
	for (; i < argc; i += 2) {
		if (!strcmp(argv[i], "min_rate")) {
			if (min_rate) {
				*error = w->min_twice;
				return -EINVAL;
			}
			if (i + 1 >= argc ||
			    kstrtouint(argv[i + 1], 10, &min_rate) || !min_rate) {
				*error = w->min_rate;
				return -EINVAL;
			}
		} else if (w->async && !strcmp(argv[i], "async")) {
			if (async) {
				*error = "mirror start: async given twice";
				return -EINVAL;
			}
			if (i + 1 >= argc) {
				*error = "mirror start: async needs <max_lag> (KiB)";
				return -EINVAL;
			}
			if (parse_max_lag(argv[i + 1], &msg->max_lag)) {
				*error = "mirror start: " MAX_LAG_RANGE;
				return -EINVAL;
			}
			async = true;
		} else {
			*error = w->usage;
			return -EINVAL;
		}
	}
	if (min_rate && !automatic) {
		*error = w->min_fixed;
		return -EINVAL;
	}
	if (automatic)
		msg->min_rate = min_rate ? min_rate : COLO_RATE_DEFAULT_MIN;
	return 0;
}

/*
 * mirror start <dev> [full|dirty [<KiB/s>|auto]] [min_rate <KiB/s>]
 *	[async <max_lag>]
 * mirror rate <KiB/s>|auto|none [min_rate <KiB/s>]
 * mirror stop | mirror async <max_lag> | mirror sync
 * (README "Mirror").
 */
static int parse_mirror(unsigned int argc, char **argv, struct colo_msg *msg,
			char **error)
{
	if (!argc) {
		*error = "mirror: expected start, rate, stop, async or sync";
		return -EINVAL;
	}
	if (!strcmp(argv[0], "rate")) {
		msg->kind = COLO_MSG_MIRROR_RATE;
		return parse_start(argc - 1, argv + 1, msg, &mirror_rate_words,
				   error);
	}
	if (!strcmp(argv[0], "stop")) {
		if (argc != 1) {
			*error = "mirror stop: takes no arguments";
			return -EINVAL;
		}
		msg->kind = COLO_MSG_MIRROR_STOP;
		return 0;
	}
	if (!strcmp(argv[0], "sync")) {
		if (argc != 1) {
			*error = "mirror sync: takes no arguments";
			return -EINVAL;
		}
		msg->kind = COLO_MSG_MIRROR_SYNC;
		return 0;
	}
	if (!strcmp(argv[0], "async")) {
		if (argc != 2) {
			*error = "mirror async: expected <max_lag> (KiB)";
			return -EINVAL;
		}
		if (parse_max_lag(argv[1], &msg->max_lag)) {
			*error = "mirror async: " MAX_LAG_RANGE;
			return -EINVAL;
		}
		msg->kind = COLO_MSG_MIRROR_ASYNC;
		return 0;
	}
	if (strcmp(argv[0], "start")) {
		*error = "mirror: expected start, rate, stop, async or sync";
		return -EINVAL;
	}
	if (argc < 2) {
		*error = mirror_start_words.usage;
		return -EINVAL;
	}
	msg->kind = COLO_MSG_MIRROR_START;
	msg->dev_path = argv[1];
	msg->sync = COLO_SYNC_FULL;
	return parse_start(argc - 2, argv + 2, msg, &mirror_start_words, error);
}

/*
 * A chunk range of "dirty add": "<first>-<last>" (inclusive) or "<chunk>",
 * within a device of @nr_chunks.
 */
int colo_parse_range(const char *word, u64 nr_chunks, u64 *first, u64 *last)
{
	char buf[48];
	char *dash;

	if (strscpy(buf, word, sizeof(buf)) < 0)
		return -EINVAL;
	dash = strchr(buf, '-');
	if (dash)
		*dash = '\0';
	if (kstrtoull(buf, 10, first))
		return -EINVAL;
	if (!dash)
		*last = *first;
	else if (kstrtoull(dash + 1, 10, last))
		return -EINVAL;
	if (*first > *last || *last >= nr_chunks)
		return -EINVAL;
	return 0;
}

/* dirty add <range>...: the ranges are checked when the size is known. */
static int parse_dirty(unsigned int argc, char **argv, struct colo_msg *msg,
		       char **error)
{
	if (argc < 2 || strcmp(argv[0], "add")) {
		*error = "dirty: expected add <first>-<last>|<chunk>...";
		return -EINVAL;
	}
	msg->kind = COLO_MSG_DIRTY_ADD;
	msg->nr_ranges = argc - 1;
	msg->ranges = argv + 1;
	return 0;
}

/*
 * verify start [<KiB/s>|auto] [min_rate <KiB/s>] | verify stop |
 * verify ranges [<first_chunk>] |
 * verify rate <KiB/s>|auto|none [min_rate <KiB/s>]: the rate as "mirror
 * start" and "mirror rate" take it.
 */
static int parse_verify(unsigned int argc, char **argv, struct colo_msg *msg,
			char **error)
{
	if (!argc) {
		*error = "verify: expected start, stop, ranges or rate";
		return -EINVAL;
	}
	if (!strcmp(argv[0], "start")) {
		msg->kind = COLO_MSG_VERIFY_START;
		return parse_start(argc - 1, argv + 1, msg, &verify_start_words,
				   error);
	}
	if (!strcmp(argv[0], "rate")) {
		msg->kind = COLO_MSG_VERIFY_RATE;
		return parse_start(argc - 1, argv + 1, msg, &verify_rate_words,
				   error);
	}
	if (!strcmp(argv[0], "stop")) {
		if (argc != 1) {
			*error = "verify stop: takes no arguments";
			return -EINVAL;
		}
		msg->kind = COLO_MSG_VERIFY_STOP;
		return 0;
	}
	if (!strcmp(argv[0], "ranges")) {
		if (argc > 2) {
			*error = "verify ranges: expected [<first_chunk>]";
			return -EINVAL;
		}
		msg->kind = COLO_MSG_VERIFY_RANGES;
		if (argc == 2 && kstrtou64(argv[1], 10, &msg->from)) {
			*error = "verify ranges: the first chunk must be a number";
			return -EINVAL;
		}
		return 0;
	}
	*error = "verify: expected start, stop, ranges or rate";
	return -EINVAL;
}

int colo_parse_message(unsigned int argc, char **argv, struct colo_msg *msg,
		       char **error)
{
	memset(msg, 0, sizeof(*msg));

	if (!argc) {
		*error = "Empty message";
		return -EINVAL;
	}
	if (!strcmp(argv[0], "mirror"))
		return parse_mirror(argc - 1, argv + 1, msg, error);
	if (!strcmp(argv[0], "dirty"))
		return parse_dirty(argc - 1, argv + 1, msg, error);
	if (!strcmp(argv[0], "verify"))
		return parse_verify(argc - 1, argv + 1, msg, error);

	if (!strcmp(argv[0], "checkpoint")) {
		msg->kind = COLO_MSG_CHECKPOINT;
	} else if (!strcmp(argv[0], "failover")) {
		msg->kind = COLO_MSG_FAILOVER;
	} else {
		*error = "Unknown message";
		return -EINVAL;
	}
	if (argc != 1) {
		*error = "Message takes no arguments";
		return -EINVAL;
	}
	return 0;
}
