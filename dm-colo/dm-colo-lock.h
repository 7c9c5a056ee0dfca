/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dm-colo: the per-chunk lock.
 *
 * A hash of the chunks with I/O that must be serialized, with one spinlock
 * per bucket and no global lock. A holder is embedded in the per-bio data of
 * the bio that holds the chunk, so taking the lock never allocates. Shared
 * holders are VM reads of base that could not be counted (see Counted
 * reads below) and VM writes while a mirror runs; an
 * exclusive holder is a copy-before-write or a partial-chunk fill together
 * with the write that follows it, or a background copy (the failover
 * commit, the mirror).
 *
 * A holder covers a range of chunks inside one lock granule (2^granule_shift
 * chunks, aligned): the bucket is chosen by granule, so a range is one
 * holder in one bucket, and holds conflict when their ranges overlap. VM
 * reads of base over several clean chunks and mirrored writes over several
 * chunks take one shared range, a background copy of adjacent chunks one
 * exclusive range; every other holder covers one chunk.
 *
 * A bio that cannot get the lock is parked on its bucket with its holder,
 * atomically with the failed attempt. Waiters are served in order: a new
 * request that overlaps a parked one and conflicts with it (either is
 * exclusive) parks behind it, so a stream of shared holds (VM reads of
 * base, mirrored writes) cannot starve a copy-before-write or a fill. A
 * release grants the lock to the waiters it unblocks, in order, before it
 * hands their bios to the wake callback: a woken bio already holds what it
 * asked for, and its retry (which re-checks the chunk bitmaps, LESSONS.md
 * #1) finds it held. colo_lock_busy() parks a bio that takes nothing: it
 * is woken once no holder overlaps its chunk.
 *
 * A holder with no bio (a background copy, colo_chunk_job_get()) can wait
 * in the same queue with colo_lock_wait(): when it is granted, its
 * @granted callback runs instead of a wake. colo_lock_cancel() takes back
 * a wait or a hold. A held range can grow by the next chunk of its
 * granule when that chunk is free and wanted by no waiter
 * (colo_lock_extend(), how a background copy takes adjacent chunks into
 * one extent), and give its last chunk back (colo_lock_shrink()). A hold
 * can pass from one holder to another with no gap (colo_lock_move(), how
 * an async mirror's background write keeps its VM write's range).
 *
 * Counted reads. The most common shared hold, a VM read of clean chunks,
 * takes no bucket lock: colo_lock_read() counts it in its bucket's
 * @readers, unless a request that excludes it is there (@blockers: the
 * exclusive holders and the waiters for an exclusive hold or for
 * colo_lock_busy(), all of the bucket's granules alike), in which case it
 * takes nothing and the caller takes a shared hold the usual way, in line.
 * Such a request counts itself in @blockers before it looks at @readers,
 * and a counted read counts itself in @readers before it looks at
 * @blockers (full barriers between, on both sides): either the request
 * sees the read and is not granted until @readers drains to zero, or the
 * read sees the request and backs off. colo_lock_read_end() serves the
 * waiters when the last counted read of a bucket with blockers ends. A
 * read is counted per bucket, not per chunk, so an exclusive request waits
 * for the counted reads of every granule that hashes to its bucket; those
 * are a few reads in flight, and no new one is counted meanwhile.
 *
 * Locking contract: every function takes only the bucket spinlock, with
 * interrupts saved, and is safe from interrupt context (release runs from
 * bio completion); colo_lock_read() and colo_lock_read_end() take it only
 * to serve waiters when the last counted read of a bucket ends. The wake
 * callback is called with no lock held; a holder's @granted callback is
 * called under the bucket spinlock with interrupts off, and may only queue
 * work.
 */
#ifndef DM_COLO_LOCK_H
#define DM_COLO_LOCK_H

#include <linux/bio.h>
#include <linux/list.h>
#include <linux/spinlock.h>
#include <linux/types.h>

enum colo_hold {
	COLO_HOLD_NONE,
	COLO_HOLD_SHARED,
	COLO_HOLD_EXCL,
};

struct colo_lock_holder {
	struct list_head node;	/* on its bucket's holders or waiters */
	u64 chunk;		/* first chunk held or wanted */
	u64 last;		/* last chunk, in the same granule */
	enum colo_hold hold;	/* held now */
	enum colo_hold want;	/* parked for; COLO_HOLD_NONE: no holder */
	bool parked;		/* on the waiters */
	struct bio *bio;	/* the parked bio, or NULL: */
	void (*granted)(struct colo_lock_holder *h);	/* see above */
};

struct colo_lock_bucket {
	spinlock_t lock;		/* protects holders and waiters */
	struct list_head holders;
	struct list_head waiters;	/* in arrival order */
	atomic_t readers;		/* counted reads, colo_lock_read() */
	atomic_t blockers;		/* what counted reads must not pass */
};

struct colo_locks {
	unsigned int hash_bits;
	unsigned int granule_shift;	/* chunks per granule, log2 */
	struct colo_lock_bucket *buckets;
	void (*wake)(void *context, struct bio_list *bios);
	void *context;
};

int colo_locks_init(struct colo_locks *locks, unsigned int hash_bits,
		    unsigned int granule_shift,
		    void (*wake)(void *context, struct bio_list *bios),
		    void *context);
void colo_locks_destroy(struct colo_locks *locks);
bool colo_lock_try_range(struct colo_locks *locks, struct colo_lock_holder *h,
			 u64 first, u64 last, enum colo_hold hold,
			 struct bio *park);
bool colo_lock_try(struct colo_locks *locks, struct colo_lock_holder *h,
		   u64 chunk, enum colo_hold hold, struct bio *park);
bool colo_lock_same_granule(struct colo_locks *locks, u64 first, u64 last);
void colo_lock_release(struct colo_locks *locks, struct colo_lock_holder *h);
void colo_lock_move(struct colo_locks *locks, struct colo_lock_holder *from,
		    struct colo_lock_holder *to);
bool colo_lock_extend(struct colo_locks *locks, struct colo_lock_holder *h);
void colo_lock_shrink(struct colo_locks *locks, struct colo_lock_holder *h);
bool colo_lock_wait(struct colo_locks *locks, struct colo_lock_holder *h,
		    u64 chunk, enum colo_hold hold,
		    void (*granted)(struct colo_lock_holder *h));
void colo_lock_cancel(struct colo_locks *locks, struct colo_lock_holder *h);
bool colo_lock_held(struct colo_locks *locks, struct colo_lock_holder *h);
bool colo_lock_busy(struct colo_locks *locks, struct colo_lock_holder *h,
		    u64 chunk, struct bio *park);
bool colo_lock_read(struct colo_locks *locks, u64 chunk);
void colo_lock_read_end(struct colo_locks *locks, u64 chunk);

#endif /* DM_COLO_LOCK_H */
