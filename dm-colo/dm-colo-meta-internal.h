/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dm-colo: what the metadata device's files share (dm-colo-meta.c, the I/O
 * and the state; dm-colo-meta-marks.c, the write-intent marks). Not for the
 * rest of dm-colo, which uses dm-colo-meta.h.
 */
#ifndef DM_COLO_META_INTERNAL_H
#define DM_COLO_META_INTERNAL_H

#include <linux/bio.h>
#include <linux/math64.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/workqueue.h>

#include "dm-colo.h"

/* The clearing pass and the commit's progress run this often. */
#define META_TICK	HZ

/* Bits of colo_meta.flags. */
enum {
	META_LIVE,		/* holds the device's state: writes, ticks */
	META_FAILED,		/* a metadata write failed: not used any more */
	META_SB_DIRTY,		/* the superblock lags the state (coverage) */
	META_MAP_DIRTY,		/* the commit cleared bits not on disk yet */
	META_FOLD,		/* a replica flush failed: fold the marks */
};

struct colo_meta {
	struct colo_c *cc;
	struct dm_dev *dev;
	struct dm_bufio_client *bufio;
	struct workqueue_struct *wq;
	struct colo_meta_layout layout;
	unsigned int region_shift;
	u64 instance;
	unsigned long flags;

	/* Every metadata write, the superblock and what is on disk. */
	struct mutex io_lock;
	struct colo_meta_super sb;	/* the newest superblock, on-disk order */
	u64 *seq;			/* newest copy of each logical block */
	unsigned long *ondisk;		/* the region bits as on disk */
	unsigned long *blk_changed;	/* region blocks to write */
	u64 nr_marked;			/* bits in ondisk; READ_ONCE */
	bool queued;			/* blocks put since the last write-out */

	/* Marks a write may rely on; see dm-colo-meta-marks.c. */
	unsigned long *marked;
	unsigned long *used;		/* written since the last pass */
	atomic_t *users;		/* writes and copies in flight */

	spinlock_t lock;		/* want and waiting */
	unsigned long *want;		/* marks asked for */
	unsigned long *marking;		/* marks being written (io_lock) */
	unsigned long *clearing;	/* marks a pass took back (io_lock) */
	struct bio_list waiting;	/* bios waiting for their marks */
	struct work_struct mark_work;
	struct delayed_work tick;

	unsigned long *map_changed;	/* map blocks with bits cleared */
};

static inline bool meta_failed(struct colo_meta *m)
{
	return test_bit(META_FAILED, &m->flags);
}

static inline u64 region_of(struct colo_meta *m, sector_t sector)
{
	return sector >> m->region_shift;
}

static inline u64 block_of(u64 bit)
{
	return div_u64(bit, COLO_META_BITS);
}

static inline void *payload(void *block)
{
	return (u8 *)block + COLO_META_HEADER_SIZE;
}

/* dm-colo-meta.c; io_lock held. */
void colo_meta_fail(struct colo_meta *m, const char *what, int r);
int colo_meta_write_out(struct colo_meta *m, const char *what);
int colo_meta_put_region_blocks(struct colo_meta *m);
int colo_meta_marks_to_dirty(struct colo_meta *m, gfp_t gfp);

/* dm-colo-meta-marks.c */
void colo_meta_mark_worker(struct work_struct *work);
int colo_meta_write_marks(struct colo_meta *m);
void colo_meta_want_chunks_of(struct colo_meta *m, struct colo_bitmap *bm);
void colo_meta_clear_marks(struct colo_meta *m);
void colo_meta_fold_marks(struct colo_meta *m);

#endif /* DM_COLO_META_INTERNAL_H */
