// SPDX-License-Identifier: GPL-2.0
/*
 * dm-colo: the online verify of a primary's base against its replica.
 *
 * "verify start [<KiB/s>|auto] [min_rate <KiB/s>]" (primary mode, the commit
 * done, the mirror in sync) starts a pass of a work item over every chunk: it
 * holds the next chunks exclusive in the per-chunk lock (a background chunk
 * job, waiting in the lock's queue for a busy chunk, so a hot chunk cannot make
 * it skip one), grows the hold up to one extent, reads that range from base and
 * from the replica into two buffers of its own with dm-io, compares them chunk
 * by chunk and releases the range. A chunk that differs is recorded in the
 * verify's own bitmap (what "verify ranges" reports) and marked in the dirty
 * bitmap, its write-intent region made durable first (with a metadata device),
 * so that "mirror start <dev> dirty" after a "mirror stop" copies exactly the
 * chunks found. Nothing is copied by the verify itself: it cannot tell which
 * side is right (DRBD's verify only flags too), and the operator may want the
 * replica's data.
 *
 * No difference that is there when the pass starts and is not written over
 * is missed: every chunk is compared once, under an exclusive hold, and
 * while the mirror is in sync every VM write holds its chunks shared until
 * both base and replica completed it, so the two reads see no write half
 * done. A chunk that was already dirty is compared too (and found again).
 * A chunk marked by the verify is not on the replica for the mirror: the
 * VM's later writes to it go to base alone and keep it dirty.
 *
 * The pass ends done (every chunk compared), stopped ("verify stop", or
 * "mirror stop", which closes the replica: the pass is stopped before) or
 * failed (a read error on base, which also sets the device's error flag;
 * the mirror degraded). Each end raises a dm event. A read error on the
 * replica counts the range's chunks as different and the pass goes on.
 * Suspend pauses the pass, resume continues it; a reload carries it over
 * to the new table (same geometry, see check_reload()). The destructor
 * runs on a suspended table: nothing is in flight.
 */
#include <linux/blkdev.h>
#include <linux/dm-io.h>
#include <linux/ioprio.h>
#include <linux/jiffies.h>
#include <linux/math64.h>
#include <linux/sizes.h>
#include <linux/string.h>
#include <linux/vmalloc.h>

#include "dm-colo.h"

#define DM_MSG_PREFIX "colo"

/* A chunk that could not be started for lack of memory is retried after. */
#define VERIFY_RETRY	(HZ / 10)
/* One buffer per side: the largest range one job holds. */
#define VERIFY_BUF	SZ_1M

static const char * const verify_state_names[] = {
	[COLO_VERIFY_NONE] = "none",
	[COLO_VERIFY_RUNNING] = "running",
	[COLO_VERIFY_DONE] = "done",
	[COLO_VERIFY_STOPPED] = "stopped",
	[COLO_VERIFY_FAILED] = "failed",
};

static void free_buffers(struct colo_verify *v)
{
	vfree(v->base_buf);
	vfree(v->replica_buf);
	v->base_buf = NULL;
	v->replica_buf = NULL;
}

/*
 * The pass ends in @state (done, stopped, failed): its buffers go, a dm
 * event says so. The work item does not run (it ends the pass itself, or
 * was stopped by the caller).
 */
static void end_pass(struct colo_c *cc, enum colo_verify_state state,
		     const char *why)
{
	struct colo_verify *v = &cc->verify;

	free_buffers(v);
	/* The buffers are gone before a new start can see the end. */
	smp_store_release(&v->state, state);
	if (state == COLO_VERIFY_FAILED)
		DMERR("%s: verify failed after %llu of %llu chunks: %s; %llu found different",
		      colo_name(cc), (unsigned long long)v->verified,
		      (unsigned long long)v->to_verify, why,
		      (unsigned long long)v->different);
	else
		DMINFO("%s: verify %s: %llu of %llu chunks compared, %llu found different%s%s",
		       colo_name(cc), verify_state_names[state],
		       (unsigned long long)v->verified,
		       (unsigned long long)v->to_verify,
		       (unsigned long long)v->different, why ? ": " : "",
		       why ? why : "");
	colo_event(cc);
}

/*
 * The leaves @chunk's bits may be set in, from the work item with the
 * range held: the dirty bitmap's and the verify's own. Work item.
 */
static int prepare_chunk(struct colo_c *cc, u64 chunk)
{
	int r = colo_bitmap_prepare(&cc->dirty_map, chunk, GFP_NOIO);

	return r ? r : colo_bitmap_prepare(&cc->verify.found, chunk, GFP_NOIO);
}

/* colo_chunk_job_grow(): every chunk is compared, if its leaves are here. */
static bool verify_wants(struct colo_chunk_job *job, u64 chunk)
{
	return !prepare_chunk(job->cc, chunk);
}

/* Two reads at once: base's completion, waited for by the work item. */
struct base_read {
	struct completion done;
	unsigned long error;
};

static void base_read_done(unsigned long error, void *context)
{
	struct base_read *br = context;

	br->error = error;
	complete(&br->done);
}

/*
 * Read @count sectors at @sector from @bdev into @buf; asynchronous when
 * @br is given. Work item.
 */
static int read_range(struct colo_c *cc, struct block_device *bdev,
		      sector_t sector, sector_t count, void *buf,
		      struct base_read *br, unsigned long *error)
{
	struct dm_io_region region = {
		.bdev = bdev, .sector = sector, .count = count,
	};
	struct dm_io_request req = {
		.bi_opf = REQ_OP_READ,
		.mem.type = DM_IO_VMA,
		.mem.ptr.vma = buf,
		.client = cc->io_client,
	};

	if (br) {
		req.notify.fn = base_read_done;
		req.notify.context = br;
	}
	return dm_io(&req, 1, &region, br ? NULL : error, IOPRIO_DEFAULT);
}

/*
 * The chunks of @job found different (in the verify's bitmap) become
 * dirty for the mirror. With a metadata device their regions' marks are
 * durable first (one write for the job), so that a crash does not forget
 * them, and the regions count the chunks as users meanwhile, so that the
 * lazy clearing pass cannot take a mark back before the bit is set
 * (clear_region()). The range is held; the leaves were prepared. Work
 * item.
 */
static void mark_found(struct colo_c *cc, struct colo_chunk_job *job)
{
	struct colo_bitmap *found = &cc->verify.found;
	u64 c;

	for (c = job->chunk; c <= job->last; c++) {
		if (!colo_bitmap_test(found, c))
			continue;
		colo_meta_copy_get(cc, c);
		/* The user count before the mark's test: see clear_region(). */
		smp_mb__after_atomic();
		colo_meta_mark_chunks(cc, c, c);
	}
	if (colo_meta_flush_marks(cc))
		DMERR_LIMIT("%s: verify: marks of chunks %llu-%llu not written to metadata",
			    colo_name(cc), (unsigned long long)job->chunk,
			    (unsigned long long)job->last);
	for (c = job->chunk; c <= job->last; c++) {
		if (!colo_bitmap_test(found, c))
			continue;
		colo_bitmap_set(&cc->dirty_map, c);
		colo_meta_copy_put(cc, c);
	}
}

/*
 * Compare the chunks @job holds, from job->chunk on as far as it grows,
 * and release them. Returns 0, or -EIO after a read error on base (the
 * pass fails). Work item.
 */
static int verify_held(struct colo_c *cc, struct colo_chunk_job *job)
{
	struct colo_verify *v = &cc->verify;
	unsigned long base_err = 0, replica_err = 0;
	unsigned int shift = cc->chunk_shift;
	struct base_read br;
	sector_t start, count;
	size_t off, len;
	u64 c, n, compared;
	int r;

	colo_chunk_job_grow(job, verify_wants);
	start = colo_chunk_to_sector(job->chunk, shift);
	count = colo_chunks_len(job->chunk, job->last, cc->ti->len, shift);

	init_completion(&br.done);
	br.error = 0;
	r = read_range(cc, cc->base->bdev, start, count, v->base_buf, &br,
		       NULL);
	if (r) {
		base_err = 1;
	} else {
		/* The replica is open: a mirror stop stops the pass first. */
		if (read_range(cc, cc->replica, start, count, v->replica_buf,
			       NULL, &replica_err))
			replica_err = 1;
		wait_for_completion_io(&br.done);
		base_err = br.error;
	}

	if (base_err) {
		colo_chunk_job_put(job);
		colo_error(cc);
		return -EIO;
	}
	if (replica_err)
		DMERR_LIMIT("%s: verify: replica read error, chunks %llu-%llu different",
			    colo_name(cc), (unsigned long long)job->chunk,
			    (unsigned long long)job->last);
	n = 0;
	for (c = job->chunk; c <= job->last; c++) {
		off = to_bytes(colo_chunk_to_sector(c - job->chunk, shift));
		len = to_bytes(colo_chunk_len(c, cc->ti->len, shift));
		if ((replica_err ||
		     memcmp(v->base_buf + off, v->replica_buf + off, len)) &&
		    colo_bitmap_set(&v->found, c))
			n++;
	}
	if (n)
		mark_found(cc, job);
	compared = job->last - job->chunk + 1;
	v->cursor = job->last + 1;
	colo_rate_charge(&v->rate, to_bytes(count));
	colo_chunk_job_put(job);
	WRITE_ONCE(v->verified, v->verified + compared);
	/*
	 * The extent counts as compared before its differences count: pairs
	 * with smp_rmb() in colo_verify_status(), which reads different
	 * first, so a status never shows more different than compared.
	 */
	smp_wmb();
	WRITE_ONCE(v->different, v->different + n);
	return 0;
}

/*
 * Why the pass cannot go on with the mirror as it is, or NULL. A mirror
 * copying again (a failed base write marked a chunk) is fine: its dirty
 * chunks are compared as any other and it copies what the pass marks.
 */
static const char *mirror_gone(struct colo_c *cc)
{
	return colo_mirror_active(cc) ? NULL : "the mirror degraded";
}

/* What the pass compared, for its achieved rate. */
static u64 verify_done_bytes(struct colo_c *cc)
{
	return to_bytes(colo_chunk_to_sector(cc->verify.verified,
					     cc->chunk_shift));
}

static void verify_worker(struct work_struct *work)
{
	struct colo_c *cc = container_of(to_delayed_work(work), struct colo_c,
					 verify.work);
	struct colo_verify *v = &cc->verify;
	struct colo_chunk_job *job;
	unsigned long delay;
	const char *why;

	for (;;) {
		if (READ_ONCE(v->state) != COLO_VERIFY_RUNNING ||
		    READ_ONCE(v->stopping) ||
		    test_bit(COLO_SUSPENDED, &cc->flags)) {
			colo_chunk_job_drop(&v->waiting);
			return;
		}
		why = mirror_gone(cc);
		if (why) {
			colo_chunk_job_drop(&v->waiting);
			end_pass(cc, COLO_VERIFY_FAILED, why);
			return;
		}
		if (v->waiting) {
			/* Not granted yet: the grant queues us. */
			if (!colo_chunk_job_holds(v->waiting))
				return;
			job = v->waiting;
			v->waiting = NULL;
		} else {
			if (v->cursor >= cc->nr_chunks) {
				end_pass(cc, COLO_VERIFY_DONE, NULL);
				return;
			}
			delay = colo_rate_delay(&v->rate, verify_done_bytes(cc));
			if (delay) {
				queue_delayed_work(cc->wq, &v->work, delay);
				return;
			}
			job = NULL;
			if (!prepare_chunk(cc, v->cursor))
				job = colo_chunk_job_get(cc, v->cursor,
							 &v->work);
			if (!job) {
				queue_delayed_work(cc->wq, &v->work,
						   VERIFY_RETRY);
				return;
			}
			if (!colo_chunk_job_holds(job)) {
				v->waiting = job;
				return;
			}
		}
		if (verify_held(cc, job)) {
			end_pass(cc, COLO_VERIFY_FAILED, "read error on base");
			return;
		}
		cond_resched();
	}
}

/* Run the pass soon, if it runs. Any context. */
void colo_verify_kick(struct colo_c *cc)
{
	if (READ_ONCE(cc->verify.state) == COLO_VERIFY_RUNNING &&
	    !test_bit(COLO_SUSPENDED, &cc->flags))
		mod_delayed_work(cc->wq, &cc->verify.work, 0);
}

/*
 * Make the work item stop and wait for it: it gives up a chunk it waits
 * for (its grant could queue it until then), and is not queued again.
 */
static void park_worker(struct colo_c *cc)
{
	struct colo_verify *v = &cc->verify;

	WRITE_ONCE(v->stopping, true);
	colo_work_settle(cc, &v->work);
	cancel_delayed_work_sync(&v->work);
	WRITE_ONCE(v->stopping, false);
}

/* Suspend: the pass pauses (postsuspend); resume kicks it again. */
void colo_verify_pause(struct colo_c *cc)
{
	park_worker(cc);
}

/*
 * End a running pass as stopped, for @why (logged): "mirror stop", before
 * the replica closes. The caller holds msg_lock. Process context.
 */
void colo_verify_cancel(struct colo_c *cc, const char *why)
{
	park_worker(cc);
	if (READ_ONCE(cc->verify.state) == COLO_VERIFY_RUNNING)
		end_pass(cc, COLO_VERIFY_STOPPED, why);
}

/* "verify stop". The caller holds msg_lock. */
int colo_verify_stop(struct colo_c *cc)
{
	if (READ_ONCE(cc->verify.state) != COLO_VERIFY_RUNNING) {
		DMERR("%s: verify stop refused: no verify is running",
		      colo_name(cc));
		return -EINVAL;
	}
	colo_verify_cancel(cc, NULL);
	return 0;
}

/*
 * "verify rate <KiB/s>|auto|none [min_rate <KiB/s>]": the running pass goes
 * on at the new limit. The caller holds msg_lock.
 */
int colo_verify_rate(struct colo_c *cc, unsigned int rate,
		     unsigned int min_rate)
{
	if (READ_ONCE(cc->verify.state) != COLO_VERIFY_RUNNING) {
		DMERR("%s: verify rate refused: no verify is running",
		      colo_name(cc));
		return -EINVAL;
	}
	colo_rate_set(&cc->verify.rate, rate, min_rate);
	colo_log_rate(cc, "verify", rate, min_rate);
	/* A step waiting out the old limit goes at once. */
	colo_verify_kick(cc);
	return 0;
}

/*
 * "verify start [<KiB/s>|auto] [min_rate <KiB/s>]": @rate KiB/s (0: no
 * limit), or auto with the floor @min_rate (non-zero). The caller holds
 * msg_lock.
 */
int colo_verify_start(struct colo_c *cc, unsigned int rate,
		      unsigned int min_rate)
{
	struct colo_verify *v = &cc->verify;
	enum colo_mirror_state mirror = colo_mirror_state(cc);

	/* Pairs with end_pass(): the old pass let its buffers go. */
	if (smp_load_acquire(&v->state) == COLO_VERIFY_RUNNING) {
		DMERR("%s: verify start refused: a verify is running (%llu of %llu chunks)",
		      colo_name(cc), (unsigned long long)v->verified,
		      (unsigned long long)v->to_verify);
		return -EBUSY;
	}
	if (colo_overlay(cc)) {
		DMERR("%s: verify start refused: the failover commit is not done",
		      colo_name(cc));
		return -EBUSY;
	}
	if (mirror == COLO_MIRROR_NONE) {
		DMERR("%s: verify start refused: no mirror, no replica to compare with",
		      colo_name(cc));
		return -EINVAL;
	}
	if (mirror != COLO_MIRROR_INSYNC) {
		DMERR("%s: verify start refused: the mirror is %s, not in-sync",
		      colo_name(cc), colo_mirror_state_name(mirror));
		return -EBUSY;
	}
	v->base_buf = vmalloc(VERIFY_BUF);
	v->replica_buf = vmalloc(VERIFY_BUF);
	if (!v->base_buf || !v->replica_buf) {
		free_buffers(v);
		DMERR("%s: verify start refused: no memory for its buffers",
		      colo_name(cc));
		return -ENOMEM;
	}
	/* The bitmap's directory, at the first verify of the device. */
	if (!v->found.dir && colo_bitmap_init(&v->found, cc->nr_chunks)) {
		free_buffers(v);
		colo_bitmap_destroy(&v->found);
		DMERR("%s: verify start refused: no memory for its bitmap",
		      colo_name(cc));
		return -ENOMEM;
	}
	/* The work item is parked: nothing else uses the bitmap. */
	colo_bitmap_clear_all(&v->found);
	v->cursor = 0;
	v->to_verify = cc->nr_chunks;
	WRITE_ONCE(v->verified, 0);
	WRITE_ONCE(v->different, 0);
	colo_rate_start(&v->rate, rate, min_rate, cc->guest_ios);
	WRITE_ONCE(v->state, COLO_VERIFY_RUNNING);
	if (min_rate)
		DMINFO("%s: verify started (%llu chunks, auto rate, at least %u KiB/s)",
		       colo_name(cc), (unsigned long long)v->to_verify,
		       min_rate);
	else if (rate)
		DMINFO("%s: verify started (%llu chunks, at most %u KiB/s)",
		       colo_name(cc), (unsigned long long)v->to_verify, rate);
	else
		DMINFO("%s: verify started (%llu chunks)", colo_name(cc),
		       (unsigned long long)v->to_verify);
	colo_verify_kick(cc);
	return 0;
}

/*
 * "verify ranges [<from>]": the chunks the last pass found different, from
 * chunk @from on, as "dirty add" takes them ("<first>-<last>" or
 * "<chunk>", space-separated), as many as the result buffer holds; when it
 * cannot hold them all, the last words are "next <chunk>", where to ask
 * again. The buffer is never filled (dm would flag it full, and
 * libdevmapper send the message again). The caller holds msg_lock.
 * Returns 1: the result is the message's output.
 */
int colo_verify_ranges(struct colo_c *cc, u64 from, char *result,
		       unsigned int maxlen)
{
	struct colo_bitmap *found = &cc->verify.found;
	/* " next <u64>" and the terminating NUL */
	const unsigned int reserve = 6 + 20 + 1;
	unsigned int sz = 0, n = 0;
	char word[48];
	u64 first, last;
	int len;

	if (maxlen <= reserve) {
		if (maxlen)
			result[0] = '\0';
		return 1;
	}
	result[0] = '\0';
	/* No verify ran: nothing found. */
	if (!found->dir)
		return 1;
	first = colo_bitmap_next_set(found, from);
	while (first < cc->nr_chunks) {
		for (last = first; last + 1 < cc->nr_chunks &&
		     colo_bitmap_test(found, last + 1); last++)
			if (!(last & 0xffff))
				cond_resched();
		if (first == last)
			len = scnprintf(word, sizeof(word), "%s%llu",
					n ? " " : "",
					(unsigned long long)first);
		else
			len = scnprintf(word, sizeof(word), "%s%llu-%llu",
					n ? " " : "",
					(unsigned long long)first,
					(unsigned long long)last);
		if (sz + len + reserve > maxlen) {
			DMEMIT("%snext %llu", n ? " " : "",
			       (unsigned long long)first);
			break;
		}
		DMEMIT("%s", word);
		n++;
		if (!(n & 1023))
			cond_resched();
		first = colo_bitmap_next_set(found, last + 1);
	}
	return 1;
}

/*
 * The verify's status fields, appended to the status line:
 * <verify_state> <verified>/<to_verify> <different>. No lock.
 */
void colo_verify_status(struct colo_c *cc, char *result, unsigned int maxlen,
			unsigned int *psz)
{
	struct colo_verify *v = &cc->verify;
	unsigned int sz = *psz;
	u64 different, verified;

	/*
	 * Without a lock, different first: an extent's differences are seen
	 * only with the extent counted as compared. A start resets both
	 * while the work item is parked; a status taken meanwhile may mix
	 * the passes, so different is shown at most verified.
	 */
	different = READ_ONCE(v->different);
	/* Pairs with smp_wmb() in verify_held(). */
	smp_rmb();
	verified = READ_ONCE(v->verified);
	DMEMIT(" %s %llu/%llu %llu", verify_state_names[READ_ONCE(v->state)],
	       (unsigned long long)verified,
	       (unsigned long long)READ_ONCE(v->to_verify),
	       (unsigned long long)min(different, verified));
	*psz = sz;
}

/*
 * A reload: the verify passes to @to, as the mirror does (see
 * __carry_state()); a running pass goes on when @to resumes. @from is
 * suspended: its work item is parked.
 */
void colo_verify_carry(struct colo_c *from, struct colo_c *to)
{
	struct colo_verify *f = &from->verify, *t = &to->verify;

	/* @to never ran one (it refused messages until now): it takes @from's. */
	colo_bitmap_destroy(&t->found);
	t->found = f->found;
	spin_lock_init(&t->found.lock);
	memset(&f->found, 0, sizeof(f->found));
	t->cursor = f->cursor;
	t->verified = f->verified;
	t->to_verify = f->to_verify;
	t->different = f->different;
	colo_rate_carry(&t->rate, &f->rate, to->guest_ios);
	t->base_buf = f->base_buf;
	t->replica_buf = f->replica_buf;
	f->base_buf = NULL;
	f->replica_buf = NULL;
	t->state = f->state;
	f->state = COLO_VERIFY_NONE;
}

/* The found bitmap is allocated by the first verify (colo_verify_start()). */
int colo_verify_init(struct colo_c *cc)
{
	struct colo_verify *v = &cc->verify;

	v->state = COLO_VERIFY_NONE;
	INIT_DELAYED_WORK(&v->work, verify_worker);
	memset(&v->found, 0, sizeof(v->found));
	return 0;
}

/* The target goes away, suspended: the work item is parked already. */
void colo_verify_destroy(struct colo_c *cc)
{
	park_worker(cc);
	free_buffers(&cc->verify);
	colo_bitmap_destroy(&cc->verify.found);
}
