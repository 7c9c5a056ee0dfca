/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dm-colo: the fleece, a read-only point-in-time view of a colo device's
 * base (the colo-fleece target, dm-colo-fleece.c), and the save that
 * every write to base makes first (copy-before-write into the fleece's
 * buffer, dm-colo-save.c).
 *
 * A fleece is attached to one colo device (cc->fleece, set and cleared
 * under colo_registry_lock, read under RCU by the data path). It starts
 * (becomes active) at its first resume, with the colo device's I/O held
 * and drained (colo_fleece_activate()), so that no write to base is half
 * way past the save hook at its point in time. From then on, per chunk:
 *
 *   released   no longer part of the view (a discard, or not among the
 *              needed chunks): reads fail, no save
 *   saved      its content at the point in time is in the buffer, at
 *              the slot that the map (fl->slots) gives
 *   else       base still holds it: a write to base saves it first
 *
 * The chunk's lock (cc->locks) serializes a save (exclusive, held by the
 * write that needs it), a release (exclusive) and a read of the fleece
 * (shared, until it completes), so a read never sees base change under
 * it and never reads a slot that was given back.
 *
 * A fleece breaks, for good, when its buffer is full, a save fails or
 * takes longer than its timeout, memory runs out, or its colo device goes
 * away; the writes that waited for a save go on, reads fail from then on,
 * and a dm event is raised on the fleece device. The guest's I/O never
 * fails because of a fleece.
 */
#ifndef DM_COLO_FLEECE_H
#define DM_COLO_FLEECE_H

#include <linux/atomic.h>
#include <linux/device-mapper.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>

#include "dm-colo-bitmap.h"
#include "dm-colo-chunk.h"
#include "dm-colo-compat.h"
#include "dm-colo-copy.h"
#include "dm-colo-slots.h"

struct colo_c;
struct colo_fleece_map;
struct colo_io;

#define COLO_FLEECE_DEFAULT_TIMEOUT_MS	5000
#define COLO_FLEECE_MAX_TIMEOUT_MS	3600000

enum colo_fleece_state {
	COLO_FLEECE_INACTIVE,	/* loaded, not resumed yet */
	COLO_FLEECE_ACTIVE,
	COLO_FLEECE_BROKEN,
};

/* Why a fleece broke (status "broken:<reason>"). */
enum colo_fleece_reason {
	COLO_FLEECE_NONE,
	COLO_FLEECE_FULL,	/* no free chunk in the buffer */
	COLO_FLEECE_IO_ERROR,	/* a save's read of base or write of buffer */
	COLO_FLEECE_TIMEOUT,	/* a save took longer than the timeout */
	COLO_FLEECE_NO_MEMORY,	/* a save could not be set up */
	COLO_FLEECE_DETACHED,	/* its colo table went away */
};

struct colo_fleece {
	struct dm_target *ti;
	struct dm_dev *base;
	struct dm_dev *buffer;
	struct colo_bdev_handle colo_pin;	/* holds the colo device open */
	struct mapped_device *colo_md;
	struct colo_c __rcu *cc;	/* under colo_registry_lock; NULL: detached */

	unsigned int chunk_shift;	/* the colo device's */
	u64 nr_chunks;
	u64 nr_slots;			/* whole chunks the buffer holds */
	unsigned int timeout_ms;
	bool read_once;			/* a read of a whole chunk releases it */
	/*
	 * Persistent: the map is kept on the buffer (@map, see
	 * dm-colo-fleece-map.c), new, or read back (@reattach). @instance
	 * names it in the colo device's metadata; the slots start at
	 * @data_start (0 when not persistent). @gone: the chunks whose gone
	 * bit is on disk (set bits only, by the map's commit): a write skips
	 * the save of a released chunk only from then on.
	 */
	bool persistent;
	bool reattach;
	u64 instance;
	sector_t data_start;
	struct colo_fleece_map *map;
	unsigned long *gone;

	atomic_t state;			/* enum colo_fleece_state */
	int reason;			/* enum colo_fleece_reason, once broken */

	/*
	 * The buffer's map: chunk -> slot (an xarray value), and which slots
	 * are taken. @lock protects @free and @saves; the xarray has its own
	 * lock.
	 */
	spinlock_t lock;
	struct xarray slots;
	struct colo_slots free;
	struct colo_bitmap saved;	/* the chunk's slot holds its data */
	struct colo_bitmap released;	/* released by a discard */
	/*
	 * The view's chunks: all of them, or, once a "needed" message
	 * restricted it (@restricted, release/acquire), those in @needed.
	 * A bit of @needed and of @released change under @lock together;
	 * @msg_lock serializes the messages.
	 */
	bool restricted;
	struct colo_bitmap needed;
	struct mutex msg_lock;		/* serializes "needed" messages */
	atomic64_t nr_saved;		/* saves done (not released since) */
	atomic64_t nr_released;

	struct list_head saves;		/* in flight, oldest first */
	/* Persistent: saves whose map entry waits for @commit_work; @lock. */
	struct list_head committing;
	/* Persistent: flushes that end after @commit_work's next commit. */
	struct bio_list flushes;	/* @lock */
	struct work_struct commit_work;
	atomic_t refs;			/* users from the colo side, see save.c */
	wait_queue_head_t refs_wq;

	struct workqueue_struct *wq;
	/* Its own copier: a stalled buffer stalls only the fleece. */
	struct colo_copier copier;
	struct delayed_work watchdog;	/* the timeout */
	struct work_struct event_work;
	/*
	 * Did the last save started from the worker end inside its start
	 * (base and buffer complete in their submit path)? Then a write
	 * from map that needs a save goes to the worker to start it there,
	 * and goes on there with no further hop; else map starts the save.
	 * True at first, so that the first save probes in the worker.
	 * @map_saves counts saves started from map: every
	 * COLO_SAVE_PROBE-th goes to the worker to look again.
	 */
	bool saves_inline;
	atomic_t map_saves;
};

/* dm-colo-save.c: below the data path. */
bool colo_save_before_write(struct colo_c *cc, struct bio *bio,
			    struct colo_io *io, bool in_worker);
void colo_save_chunks(struct colo_c *cc, u64 first, u64 last);
int colo_fleece_init(struct colo_fleece *fl);
void colo_fleece_destroy(struct colo_fleece *fl);
void colo_fleece_break(struct colo_fleece *fl, enum colo_fleece_reason why);
void colo_fleece_wait_idle(struct colo_fleece *fl);
bool colo_fleece_in_view(struct colo_fleece *fl, u64 chunk);
bool colo_fleece_needs(struct colo_fleece *fl, u64 chunk);
u64 colo_fleece_nr_needed(struct colo_fleece *fl);
int colo_fleece_restrict(struct colo_fleece *fl, unsigned int nr,
			 char **ranges);
int colo_fleece_release_chunk(struct colo_fleece *fl, u64 chunk, gfp_t gfp);
void colo_fleece_commit_flush(struct colo_fleece *fl, struct bio *bio);
bool colo_fleece_slot(struct colo_fleece *fl, u64 chunk, u64 *slot);
const char *colo_fleece_reason_name(int reason);

/* Acquire: once broken, @reason is seen. Any context. */
static inline int colo_fleece_state(struct colo_fleece *fl)
{
	return atomic_read_acquire(&fl->state);
}

/* dm-colo-fleece-map.c: a persistent fleece's map, below the save. */
int colo_fleece_map_alloc(struct colo_fleece *fl, char **error);
void colo_fleece_map_free(struct colo_fleece *fl);
int colo_fleece_map_layout(struct colo_fleece *fl, struct colo_c *cc,
			   char **error);
int colo_fleece_map_open(struct colo_fleece *fl, char **error);
void colo_fleece_map_set(struct colo_fleece *fl, u64 slot, u64 chunk);
void colo_fleece_map_gone(struct colo_fleece *fl, u64 chunk);
int colo_fleece_map_commit(struct colo_fleece *fl,
			   void (*gone)(struct colo_fleece *fl, u64 chunk));

/* The sector of slot @slot on the buffer. Any context. */
static inline sector_t colo_fleece_slot_sector(struct colo_fleece *fl,
					       u64 slot)
{
	return fl->data_start + colo_chunk_to_sector(slot, fl->chunk_shift);
}

/* dm-colo-fleece.c: the target. */
int colo_fleece_register(void);
void colo_fleece_unregister(void);
int colo_fleece_process(struct colo_c *cc, struct bio *bio,
			struct colo_io *io, bool in_worker);

/* dm-colo-target.c: the registry. */
int colo_fleece_attach(struct dm_target *ti, struct colo_fleece *fl);
void colo_fleece_detach(struct colo_fleece *fl);
int colo_fleece_activate(struct colo_fleece *fl);

#endif /* DM_COLO_FLEECE_H */
