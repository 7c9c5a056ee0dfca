// SPDX-License-Identifier: GPL-2.0
/*
 * dm-colo: status and messages of the colo target.
 */
#include <linux/kernel.h>

#include "dm-colo.h"

#define DM_MSG_PREFIX "colo"

static void emit_table(struct colo_c *cc, char *result, unsigned int maxlen)
{
	bool copies = cc->max_copies != COLO_DEFAULT_MAX_COPIES;
	bool region = cc->region_shift != COLO_DEFAULT_REGION_SHIFT;
	unsigned int sz = 0;

	/* The table as loaded: a failed-over device still shows secondary. */
	DMEMIT("%s %s", cc->hidden ? "secondary" : "primary", cc->base->name);
	if (cc->hidden)
		DMEMIT(" %s %s", cc->hidden->name, cc->active->name);
	DMEMIT(" %u", 1U << cc->chunk_shift);
	if (!copies && !cc->meta_dev)
		return;
	DMEMIT(" %u", 2 * (copies + !!cc->meta_dev + (cc->meta_dev && region)));
	if (copies)
		DMEMIT(" max_copies %u", cc->max_copies);
	if (cc->meta_dev)
		DMEMIT(" metadata %s", cc->meta_dev->name);
	if (cc->meta_dev && region)
		DMEMIT(" region_size %u", 1U << cc->region_shift);
}

/*
 * Status line (STATUSTYPE_INFO). The field order is stable; new fields are
 * only ever appended:
 *
 *   <mode> <chunk_sectors> <active>/<chunks> <hidden>/<chunks>
 *   <commit_state> <committed>/<to_commit> <dirty>/<chunks>
 *   <mirror_state> <mirrored>/<to_mirror> <ingress> <health>
 *   <bitmap_bytes> <dirty_coverage> <metadata> <uuids> <regions>
 *   <verify_state> <verified>/<to_verify> <verify_different>
 *   <mirror_mode> <lag>/<max_lag> <ahead>
 *   <mirror_rate> <mirror_limit> <verify_rate> <verify_limit>
 *
 * mode          secondary | primary
 * chunk_sectors chunk size in 512-byte sectors
 * active        chunks written by the VM since the last checkpoint
 * hidden        chunks saved by copy-before-write since the last checkpoint
 * commit_state  none | running | done | failed (the failover commit)
 * committed     chunks committed to base / chunks the commit has to write
 * dirty         chunks written since the device became primary
 * mirror_state  none | copying | in-sync | degraded
 * mirrored      chunks copied to the replica / chunks to copy
 * ingress       attached | none
 * health        ok | error (an I/O error was seen on any leg)
 * bitmap_bytes  kernel memory used by the chunk bitmaps, in bytes
 * dirty_coverage complete | unknown: whether the dirty bitmap covers every
 *               chunk that may differ from a replica (seeded at failover,
 *               or a full sync finished since); a "dirty" mirror start
 *               needs complete
 * metadata      none | ok | failed (a metadata write failed: the state is
 *               no longer crash-safe)
 * uuids         <current>/<previous> data generation, 16 hex digits each;
 *               a failover starts a new one (- without metadata)
 * regions       write-intent regions marked on disk / regions (-)
 * verify_state  none | running | done | stopped | failed (the last online
 *               verify, dm-colo-verify.c)
 * verified      chunks compared / chunks the pass compares (0/0: none)
 * verify_different chunks the pass found different so far
 * mirror_mode   none | sync | async (dm-colo-async.c): none without a
 *               mirror; a degraded mirror shows the mode it had
 * lag           KiB of background replica writes in flight (async mode),
 *               rounded up; never more than max_lag
 * max_lag       the async mode's limit of lag, in KiB (0: sync mode)
 * ahead         writes since the mirror started whose copy was not sent
 *               in the background (the lag was full, no memory at once,
 *               or a background write still covered a chunk): their
 *               chunks were marked dirty, and the mirror copies them
 * mirror_rate   KiB/s the mirror's phase 1 copied over the last second
 *               (0 when it is not copying)
 * mirror_limit  the limit of its last start: none | <KiB/s> | auto:<min>
 *               (auto with its floor min_rate, KiB/s)
 * verify_rate   KiB/s the online verify compared over the last second
 *               (0 when it is not running)
 * verify_limit  the limit of the last verify start, as mirror_limit
 */
/*
 * A background pass's <rate> <limit>: the rate achieved while @running,
 * else 0; the limit of its last start. Takes no lock.
 */
static void emit_rate(struct colo_rate *r, bool running, char *result,
		      unsigned int maxlen, unsigned int *psz)
{
	unsigned int sz = *psz, min_kib = READ_ONCE(r->min_kib);
	unsigned int kib = READ_ONCE(r->fixed_kib);

	DMEMIT(" %u", running ? READ_ONCE(r->achieved) : 0);
	if (min_kib)
		DMEMIT(" auto:%u", min_kib);
	else if (kib)
		DMEMIT(" %u", kib);
	else
		DMEMIT(" none");
	*psz = sz;
}

struct status_buf {
	char *result;
	unsigned int maxlen;
};

/* The INFO line of @cc's state (colo_status_source()). Takes no lock. */
static void emit_info(struct colo_c *cc, void *arg)
{
	struct status_buf *b = arg;
	char *result = b->result;
	unsigned int maxlen = b->maxlen, sz = 0;
	unsigned long long chunks = cc->nr_chunks;
	unsigned long long mirrored = atomic64_read(&cc->mirrored);

	DMEMIT("%s %u %llu/%llu %llu/%llu %s %llu/%llu %llu/%llu %s %llu/%llu %s %s %zu %s",
	       colo_mode_name(READ_ONCE(cc->mode)), 1U << cc->chunk_shift,
	       colo_bitmap_count(&cc->active_map), chunks,
	       colo_bitmap_count(&cc->hidden_map), chunks,
	       colo_commit_state_name(READ_ONCE(cc->commit_state)),
	       (unsigned long long)atomic64_read(&cc->committed),
	       (unsigned long long)cc->to_commit,
	       colo_bitmap_count(&cc->dirty_map), chunks,
	       colo_mirror_state_name(colo_mirror_state(cc)),
	       mirrored, mirrored + colo_mirror_left(cc),
	       colo_has_ingress(cc) ? "attached" : "none",
	       test_bit(COLO_ERROR, &cc->flags) ? "error" : "ok",
	       colo_bitmap_memory(&cc->active_map) +
	       colo_bitmap_memory(&cc->hidden_map) +
	       colo_bitmap_memory(&cc->dirty_map) +
	       colo_bitmap_memory(&cc->verify.found) +
	       colo_bitmap_memory(&cc->async_map),
	       READ_ONCE(cc->mirror_gap) ? "unknown" : "complete");
	colo_meta_status(cc, result, maxlen, &sz);
	colo_verify_status(cc, result, maxlen, &sz);
	colo_async_status(cc, result, maxlen, &sz);
	emit_rate(&cc->mirror_rate,
		  colo_mirror_state(cc) == COLO_MIRROR_COPYING, result, maxlen,
		  &sz);
	emit_rate(&cc->verify.rate,
		  READ_ONCE(cc->verify.state) == COLO_VERIFY_RUNNING, result,
		  maxlen, &sz);
}

void colo_status(struct dm_target *ti, status_type_t type,
		 unsigned int status_flags, char *result, unsigned int maxlen)
{
	struct colo_c *cc = ti->private;
	struct status_buf b = { .result = result, .maxlen = maxlen };

	switch (type) {
	case STATUSTYPE_INFO:
		/* A reloaded table not resumed yet: the state it takes over. */
		colo_status_source(cc, emit_info, &b);
		break;
	case STATUSTYPE_TABLE:
		emit_table(cc, result, maxlen);
		break;
	default:
		result[0] = '\0';
		break;
	}
}

static int message_checkpoint(struct colo_c *cc)
{
	int r = colo_checkpoint(cc);

	if (r)
		DMERR("%s: checkpoint interrupted, nothing changed",
		      colo_name(cc));
	return r;
}

static int refuse(struct colo_c *cc, const char *msg, const char *why)
{
	/* The word is the user's: bounded, so the reason stays on the line. */
	DMERR("%s: message '%.64s' refused: %s", colo_name(cc), msg, why);
	return -EINVAL;
}

/*
 * dirty add <range>...: every range is checked before any is applied; the
 * bitmap leaves are allocated first too, so that a failure changes
 * nothing. With a metadata device the regions' marks are durable (one
 * write for the whole message) before the bits are set: after a crash
 * the chunks are still dirty.
 */
static int message_dirty_add(struct colo_c *cc, struct colo_msg *msg)
{
	u64 first, last, c, added = 0;
	unsigned int i;
	int r;

	for (i = 0; i < msg->nr_ranges; i++) {
		if (colo_parse_range(msg->ranges[i], cc->nr_chunks, &first,
				     &last))
			return refuse(cc, "dirty",
				      "a range is not <first>-<last> or <chunk> within the device");
	}
	for (i = 0; i < msg->nr_ranges; i++) {
		colo_parse_range(msg->ranges[i], cc->nr_chunks, &first, &last);
		for (c = first; c <= last; c++) {
			r = colo_bitmap_prepare(&cc->dirty_map, c, GFP_KERNEL);
			if (r) {
				DMERR("%s: dirty add: no memory for the dirty bitmap",
				      colo_name(cc));
				return r;
			}
			if (!(c & 1023))
				cond_resched();
		}
		colo_meta_mark_chunks(cc, first, last);
	}
	r = colo_meta_flush_marks(cc);
	if (r) {
		DMERR("%s: dirty add: the marks could not be written to the metadata device",
		      colo_name(cc));
		return r;
	}
	for (i = 0; i < msg->nr_ranges; i++) {
		colo_parse_range(msg->ranges[i], cc->nr_chunks, &first, &last);
		for (c = first; c <= last; c++)
			added += colo_bitmap_set(&cc->dirty_map, c);
	}
	DMINFO("%s: dirty add: %llu chunks added in %u ranges", colo_name(cc),
	       (unsigned long long)added, msg->nr_ranges);
	colo_mirror_dirty_added(cc);
	return 0;
}

/* The caller holds msg_lock, under which alone the mode changes. */
static int dispatch(struct colo_c *cc, struct colo_msg *msg, const char *word,
		    char *result, unsigned int maxlen)
{
	enum colo_mode mode = READ_ONCE(cc->mode);

	/* A table that will not take the state over is loaded. */
	if ((msg->kind == COLO_MSG_FAILOVER ||
	     msg->kind == COLO_MSG_MIRROR_START) &&
	    colo_fresh_reload_pending(cc))
		return refuse(cc, word,
			      "a table loaded for a fresh start waits: resume or clear it");

	/* failover again in primary mode resumes a failed commit. */
	if (msg->kind == COLO_MSG_FAILOVER)
		return colo_failover(cc);

	if (colo_msg_mode(msg->kind) != mode)
		return refuse(cc, word, mode == COLO_MODE_PRIMARY ?
			      "only valid in secondary mode" :
			      "only valid in primary mode");

	switch (msg->kind) {
	case COLO_MSG_CHECKPOINT:
		return message_checkpoint(cc);
	case COLO_MSG_MIRROR_START:
		return colo_mirror_start(cc, msg->dev_path, msg->sync, msg->rate,
					 msg->min_rate, msg->max_lag);
	case COLO_MSG_MIRROR_STOP:
		return colo_mirror_stop(cc);
	case COLO_MSG_MIRROR_ASYNC:
	case COLO_MSG_MIRROR_SYNC:
		/* max_lag is 0 for sync. */
		return colo_mirror_set_async(cc, msg->max_lag);
	case COLO_MSG_DIRTY_ADD:
		return message_dirty_add(cc, msg);
	case COLO_MSG_VERIFY_START:
		return colo_verify_start(cc, msg->rate, msg->min_rate);
	case COLO_MSG_VERIFY_STOP:
		return colo_verify_stop(cc);
	case COLO_MSG_VERIFY_RANGES:
		return colo_verify_ranges(cc, msg->from, result, maxlen);
	case COLO_MSG_MIRROR_RATE:
		return colo_mirror_rate(cc, msg->rate, msg->min_rate);
	case COLO_MSG_VERIFY_RATE:
		return colo_verify_rate(cc, msg->rate, msg->min_rate);
	default:
		return refuse(cc, word, "not a colo message");
	}
}

/*
 * Messages: checkpoint, failover (secondary mode); mirror start <dev>
 * [full|dirty [<KiB/s>|auto]] [min_rate <KiB/s>] [async <max_lag>], mirror
 * rate <KiB/s>|auto|none [min_rate <KiB/s>], mirror stop, mirror async
 * <max_lag>, mirror sync, dirty add <range>..., verify start
 * [<KiB/s>|auto] [min_rate <KiB/s>], verify rate (as mirror rate), verify
 * stop, verify ranges [<chunk>] (primary mode; the last one prints its
 * result). Anything else, or a message in the wrong mode, is refused
 * with -EINVAL and changes nothing. Messages are serialized, and the mode
 * is checked under the same lock: a checkpoint that waited for a failover
 * is refused, it does not clear the overlay the failover commit is writing
 * to base.
 */
int colo_message(struct dm_target *ti, unsigned int argc, char **argv,
		 char *result, unsigned int maxlen)
{
	struct colo_c *cc = ti->private;
	const char *word = argc ? argv[0] : "";
	struct colo_msg msg;
	char *error;
	int r;

	if (colo_parse_message(argc, argv, &msg, &error))
		return refuse(cc, word, error);

	r = colo_msg_ready(cc);
	if (r)
		return r;
	mutex_lock(&cc->msg_lock);
	r = dispatch(cc, &msg, word, result, maxlen);
	mutex_unlock(&cc->msg_lock);
	return r;
}
