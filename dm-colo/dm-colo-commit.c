// SPDX-License-Identifier: GPL-2.0
/*
 * dm-colo: failover and the background commit.
 *
 * failover switches a secondary to primary mode in one step, with no copy:
 * new I/O is held and the I/O in flight drained (as for a checkpoint), the
 * ingress is fenced (its bios fail from now on), the dirty bitmap starts as
 * active|hidden, the mode becomes primary, and I/O is let go.
 *
 * The commit then writes every pending chunk (active[c] or hidden[c] set)
 * into base with the copy engine (dm-colo-copy.c), from active if
 * active[c] else from hidden. A copy takes the adjacent pending chunks that
 * come from the same leg, up to one extent (1 MiB, aligned), holding them
 * exclusive; at most max_copies copies at once, and a new one only when
 * the engine has an extent's pages free or none of the commit's copies is
 * in flight (colo_chunk_job_room()). A copy that completes clears both
 * bits of each of its chunks: they have left the commit. VM I/O
 * goes on meanwhile (dm-colo-io.c): reads follow the bits as before, a
 * write that covers a pending chunk goes to base and takes the chunk out
 * of the commit, a partial one commits its chunk first. No bit is ever set
 * in primary mode, so "pending" only ever goes from true to false.
 *
 * When nothing is pending, base is flushed and only then is the commit
 * done (data before the state that says it is there); a dm event is
 * raised. With a metadata device, failover returns once the overlay maps
 * are durable, the commit's progress reaches the disk with every VM flush
 * and FUA write and once a second (dm-colo-meta.c), and a table loaded
 * after a crash resumes the commit by itself. A copy error stops the
 * commit with the chunk still pending (state failed, a dm event); a second
 * failover message resumes it.
 *
 * Locking: commit_lock protects commit_state changes. The cursor and the
 * skipped flag belong to the commit work item, which never runs twice at
 * once. Copies count in cc->inflight, so suspend and the destructor wait
 * for them; the work item stops at COLO_SUSPENDED and is kicked on resume.
 */
#include <linux/blkdev.h>

#include "dm-colo.h"
#include "dm-colo-fleece.h"

#define DM_MSG_PREFIX "colo"

static const char * const commit_state_names[] = {
	[COLO_COMMIT_NONE] = "none",
	[COLO_COMMIT_RUNNING] = "running",
	[COLO_COMMIT_FAILED] = "failed",
	[COLO_COMMIT_DONE] = "done",
};

const char *colo_commit_state_name(enum colo_commit_state state)
{
	return commit_state_names[state];
}

/* Safe from interrupt context. */
bool colo_chunk_pending(struct colo_c *cc, u64 chunk)
{
	return colo_bitmap_test(&cc->active_map, chunk) ||
	       colo_bitmap_test(&cc->hidden_map, chunk);
}

/*
 * @chunk's data is on base: it leaves the commit. The caller holds the
 * chunk exclusive; VM reads do not take the lock (overlay_leg()), so
 * hidden is cleared first: a chunk with both bits must never read as
 * hidden only, which holds the content of the last checkpoint, not the
 * VM's. Safe from interrupt context.
 */
void colo_chunk_committed(struct colo_c *cc, u64 chunk)
{
	bool h = colo_bitmap_clear(&cc->hidden_map, chunk);
	bool a;

	/* Pairs with smp_rmb() in overlay_leg(). */
	smp_wmb();
	a = colo_bitmap_clear(&cc->active_map, chunk);

	if (a || h) {
		atomic64_inc(&cc->committed);
		colo_meta_chunk_left(cc, chunk);
	}
	if (!colo_bitmap_count(&cc->active_map) &&
	    !colo_bitmap_count(&cc->hidden_map))
		colo_commit_kick(cc);
}

/* Run the commit work soon. Safe from interrupt context. */
void colo_commit_kick(struct colo_c *cc)
{
	if (READ_ONCE(cc->commit_state) == COLO_COMMIT_RUNNING &&
	    !test_bit(COLO_SUSPENDED, &cc->flags))
		mod_delayed_work(cc->wq, &cc->commit_work, 0);
}

/* The commit is running or failed: suspend must not let it go on. */
bool colo_commit_busy(struct colo_c *cc)
{
	enum colo_commit_state state = READ_ONCE(cc->commit_state);

	return state == COLO_COMMIT_RUNNING || state == COLO_COMMIT_FAILED;
}

static bool set_commit_state(struct colo_c *cc, enum colo_commit_state from,
			     enum colo_commit_state to)
{
	unsigned long flags;
	bool changed = false;

	spin_lock_irqsave(&cc->commit_lock, flags);
	if (cc->commit_state == from) {
		WRITE_ONCE(cc->commit_state, to);
		changed = true;
	}
	spin_unlock_irqrestore(&cc->commit_lock, flags);
	return changed;
}

static void commit_failed(struct colo_c *cc, const char *what)
{
	colo_error(cc);
	if (set_commit_state(cc, COLO_COMMIT_RUNNING, COLO_COMMIT_FAILED)) {
		DMERR("%s: failover commit stopped: %s; send failover again to resume",
		      colo_name(cc), what);
		colo_event(cc);
	}
}

/*
 * The end of a commit copy: each of its chunks leaves the commit, or, on
 * an error, all stay pending with their overlay data. Process context.
 */
static void commit_copy_done(struct colo_chunk_job *job, int read_err,
			     unsigned long write_err)
{
	u64 c;

	if (read_err || write_err) {
		commit_failed(job->cc, read_err ? "read error" :
			      "write error on base");
		return;
	}
	for (c = job->chunk; c <= job->last; c++)
		colo_chunk_committed(job->cc, c);
}

/*
 * Where @chunk's committed data comes from: active, else hidden, or NULL
 * when it is not pending. Stable while the caller holds the chunk (a VM
 * write that takes it out of the commit holds it exclusive). Any context.
 */
static struct dm_dev *commit_source(struct colo_c *cc, u64 chunk)
{
	if (colo_bitmap_test(&cc->active_map, chunk))
		return cc->active;
	if (colo_bitmap_test(&cc->hidden_map, chunk))
		return cc->hidden;
	return NULL;
}

/* colo_chunk_job_grow(): @chunk is pending from the job's leg. Any context. */
static bool commit_same_leg(struct colo_chunk_job *job, u64 chunk)
{
	struct colo_c *cc = job->cc;

	return commit_source(cc, chunk) == commit_source(cc, job->chunk);
}

/*
 * Copy the chunk of @job, which holds it, to base if it is still pending,
 * with the following chunks pending from the same leg (re-checked once
 * held, so that no copy lands on a chunk a VM write took out of the
 * commit). Worker context.
 */
static void commit_copy(struct colo_c *cc, struct colo_chunk_job *job)
{
	/* Re-check under the lock: a VM write may have taken it out. */
	struct dm_dev *from = commit_source(cc, job->chunk);

	if (!from) {
		colo_chunk_job_put(job);
		return;
	}
	colo_chunk_job_grow(job, commit_same_leg);
	cc->commit_cursor = max(cc->commit_cursor, job->last + 1);
	/* A fleece keeps what base held (it waits for its saves). */
	colo_save_chunks(cc, job->chunk, job->last);
	job->done = commit_copy_done;
	colo_chunk_job_copy(job, from->bdev, cc->base->bdev);
}

/*
 * Copy @chunk to base, or wait for it while VM I/O holds it (the job is
 * kept in commit_waiting, and its grant runs the work item again).
 * Returns false when no memory was at hand: the caller comes back to it.
 */
static bool commit_chunk(struct colo_c *cc, u64 chunk)
{
	struct colo_chunk_job *job = colo_chunk_job_get(cc, chunk,
							&cc->commit_work);

	if (!job)
		return false;
	if (colo_chunk_job_holds(job))
		commit_copy(cc, job);
	else
		cc->commit_waiting = job;
	return true;
}

/*
 * Suspend: the work item stops, and gives up a chunk it waits for (see
 * colo_work_settle()).
 */
void colo_commit_stop(struct colo_c *cc)
{
	colo_work_settle(cc, &cc->commit_work);
}

/*
 * The next pending chunk at or after @from. Each bitmap's next set bit is
 * kept from the last search: no bit is set in primary mode, so it stays a
 * lower bound of the next pending chunk, and each bitmap is swept once per
 * pass however the two interleave.
 */
static u64 next_pending(struct colo_c *cc, u64 from)
{
	if (cc->commit_next_active < from)
		cc->commit_next_active =
			colo_bitmap_next_set(&cc->active_map, from);
	if (cc->commit_next_hidden < from)
		cc->commit_next_hidden =
			colo_bitmap_next_set(&cc->hidden_map, from);
	return min(cc->commit_next_active, cc->commit_next_hidden);
}

/* Start a pass of the commit from the first chunk. */
static void commit_rewind(struct colo_c *cc)
{
	cc->commit_cursor = 0;
	cc->commit_next_active = 0;
	cc->commit_next_hidden = 0;
}

/* Nothing is pending: make base durable, then say the commit is done. */
static void finish_commit(struct colo_c *cc)
{
	int r = blkdev_issue_flush(cc->base->bdev);

	if (r) {
		commit_failed(cc, "flush of base failed");
		return;
	}
	if (set_commit_state(cc, COLO_COMMIT_RUNNING, COLO_COMMIT_DONE)) {
		colo_meta_commit_done(cc);
		DMINFO("%s: failover commit done (%llu chunks)", colo_name(cc),
		       (unsigned long long)atomic64_read(&cc->committed));
		colo_event(cc);
	}
}

static void commit_worker(struct work_struct *work)
{
	struct colo_c *cc = container_of(to_delayed_work(work), struct colo_c,
					 commit_work);
	u64 chunk;

	for (;;) {
		if (READ_ONCE(cc->commit_state) != COLO_COMMIT_RUNNING ||
		    test_bit(COLO_SUSPENDED, &cc->flags)) {
			colo_chunk_job_drop(&cc->commit_waiting);
			return;
		}
		/* No room for a copy: a completing copy kicks us. */
		if (!colo_chunk_job_room(cc))
			return;
		if (cc->commit_waiting) {
			/* Not granted yet: the grant kicks us. */
			if (!colo_chunk_job_holds(cc->commit_waiting))
				return;
			commit_copy(cc, cc->commit_waiting);
			cc->commit_waiting = NULL;
			continue;
		}

		chunk = next_pending(cc, cc->commit_cursor);
		if (chunk < cc->nr_chunks) {
			cc->commit_cursor = chunk + 1;
			if (!commit_chunk(cc, chunk))
				cc->commit_skipped = true;
			cond_resched();
			continue;
		}

		/* End of the device. */
		commit_rewind(cc);
		if (!colo_bitmap_count(&cc->active_map) &&
		    !colo_bitmap_count(&cc->hidden_map)) {
			/* Pending bits clear before their copies complete. */
			if (!atomic_read(&cc->copies))
				finish_commit(cc);
			return;
		}
		if (cc->commit_skipped) {
			/* No memory for a job: try again soon. */
			cc->commit_skipped = false;
			queue_delayed_work(cc->wq, &cc->commit_work, 1);
			return;
		}
		if (atomic_read(&cc->copies))
			return;
	}
}

/* A reload: the commit goes on in @to (see __carry_state()). */
void colo_commit_carry(struct colo_c *from, struct colo_c *to)
{
	to->commit_state = from->commit_state;
	to->commit_cursor = from->commit_cursor;
	to->commit_next_active = from->commit_next_active;
	to->commit_next_hidden = from->commit_next_hidden;
	to->commit_skipped = from->commit_skipped;
	to->to_commit = from->to_commit;
	atomic64_set(&to->committed, atomic64_read(&from->committed));
	from->commit_state = COLO_COMMIT_NONE;
}

void colo_commit_init(struct colo_c *cc)
{
	spin_lock_init(&cc->commit_lock);
	cc->commit_state = COLO_COMMIT_NONE;
	atomic64_set(&cc->committed, 0);
	INIT_DELAYED_WORK(&cc->commit_work, commit_worker);
	cc->slot_waiters[COLO_SLOT_WAITER_COMMIT] = colo_commit_kick;
}

/*
 * dirty = active | hidden, and the number of chunks in it. Runs with I/O
 * held; a failed allocation leaves dirty partly set, which is harmless in
 * secondary mode (it is unused there) and is cleared by the caller.
 */
static int start_dirty_map(struct colo_c *cc, u64 *pending)
{
	int r;

	r = colo_bitmap_or(&cc->dirty_map, &cc->active_map, GFP_NOIO);
	if (!r)
		r = colo_bitmap_or(&cc->dirty_map, &cc->hidden_map, GFP_NOIO);
	if (r)
		return r;
	*pending = colo_bitmap_count(&cc->dirty_map);
	return 0;
}

/* Resume a commit stopped by an error. */
static int resume_commit(struct colo_c *cc)
{
	if (!set_commit_state(cc, COLO_COMMIT_FAILED, COLO_COMMIT_RUNNING)) {
		DMERR("%s: message 'failover' refused: %s (commit %s)",
		      colo_name(cc),
		      "only valid in secondary mode, or to resume a failed commit",
		      colo_commit_state_name(READ_ONCE(cc->commit_state)));
		return -EINVAL;
	}
	DMINFO("%s: failover commit resumed, %llu of %llu chunks left",
	       colo_name(cc),
	       (unsigned long long)(cc->to_commit - atomic64_read(&cc->committed)),
	       (unsigned long long)cc->to_commit);
	colo_commit_kick(cc);
	return 0;
}

/* The failover message. The caller holds msg_lock. */
int colo_failover(struct colo_c *cc)
{
	u64 pending = 0;
	int r;

	if (READ_ONCE(cc->mode) == COLO_MODE_PRIMARY)
		return resume_commit(cc);

	r = colo_hold_and_drain(cc);
	if (r) {
		DMERR("%s: failover interrupted, nothing changed", colo_name(cc));
		return r;
	}
	r = start_dirty_map(cc, &pending);
	if (r) {
		colo_bitmap_clear_all(&cc->dirty_map);
		colo_release_hold(cc, COLO_HOLD_ALL);
		DMERR("%s: failover refused: no memory for the dirty bitmap",
		      colo_name(cc));
		return r;
	}
	/*
	 * dirty = active | hidden: what differs from the old primary's disk.
	 * Set before the metadata's failover, whose superblock records it
	 * (no second superblock write for the coverage).
	 */
	colo_dirty_complete(cc);
	/* Returns once the overlay is durable, with a metadata device. */
	colo_meta_failover(cc, pending);

	/* Held and drained: no bio sees the switch half done. */
	set_bit(COLO_FENCED, &cc->flags);
	cc->to_commit = pending;
	atomic64_set(&cc->committed, 0);
	commit_rewind(cc);
	cc->commit_skipped = false;
	WRITE_ONCE(cc->mode, COLO_MODE_PRIMARY);
	set_commit_state(cc, COLO_COMMIT_NONE, pending ? COLO_COMMIT_RUNNING :
			 COLO_COMMIT_DONE);
	colo_release_hold(cc, COLO_HOLD_ALL);

	DMINFO("%s: failover: primary now, ingress fenced, %llu chunks to commit",
	       colo_name(cc), (unsigned long long)pending);
	if (pending)
		colo_commit_kick(cc);
	else
		colo_event(cc);
	return 0;
}
