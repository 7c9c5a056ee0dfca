/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dm-colo: the copy engine.
 *
 * A per-target copier that moves a range of sectors from one device to
 * another: it reads the range into pages of its own pool with dm-io, then
 * writes the same pages to the destination with dm-io. It serves every
 * copy of the module (a VM write's fill, a copy-before-write, a partial
 * write during the failover commit, the commit's and the mirror's
 * background copies) in place of dm-kcopyd, which allocates fresh pages for
 * every job: with init_on_alloc (on in Debian's kernels) each of them is
 * zeroed before it is read into, and copies ran at a third of dd.
 *
 * The pool is a private list of pages allocated once, when the target is
 * constructed, and recycled for ever: room for @extents extents of
 * COLO_COPY_EXTENT_PAGES pages (1 MiB). A copy takes the pages its length
 * needs; when the pool has not enough free, or copies wait already, it
 * waits in arrival order and starts when pages come back. A copy never
 * fails for want of memory: dm-io's own allocations (a bio and its
 * accounting per stage) come from mempools and are made in process
 * context.
 *
 * Completion context. dm-io may complete in interrupt context (real disks)
 * or inline, inside the dm_io() call that submitted the I/O (RAM disks,
 * drivers that complete in their submit path). Whichever of the submitter
 * and the completion comes second goes on: when the I/O completed inline,
 * the submitter issues the write (or calls the callback) itself, with no
 * hop; otherwise the completion hands the copy to the copier's work item,
 * which does. dm_io() is never called from a completion. So the callback
 * always runs in process context (the caller of colo_copy_start() or the
 * work item), possibly before colo_copy_start() returns.
 *
 * The callback has dm-kcopyd's shape: @read_err is non-zero when the read
 * failed (nothing was written), @write_err has bit 0 set when the write
 * failed.
 *
 * A second destination (colo_copy_start_two()) shares the read: the same
 * pages are written to both, each write with a completion of its own. The
 * second's callback runs as soon as its write ended, in any context
 * (interrupt context too), with dm-io's error bits, or with a non-zero
 * error without a write when the read failed; it runs before the copy's
 * callback, which comes once both writes ended and reports the first
 * destination's. So whoever waits for the second destination alone (the
 * fleece's save writes the buffer first and the ingress's hidden second)
 * never waits for the first.
 */
#ifndef DM_COLO_COPY_H
#define DM_COLO_COPY_H

#include <linux/dm-io.h>
#include <linux/list.h>
#include <linux/sizes.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/workqueue.h>

/* Pages of one extent: the largest copy. */
#define COLO_COPY_EXTENT_PAGES	(SZ_1M >> PAGE_SHIFT)
/* Extents the pool holds room for, by default (at most max_copies). */
#define COLO_COPY_EXTENTS	4

typedef void (*colo_copy_fn)(int read_err, unsigned long write_err,
			     void *context);
/* The end of the write to a second destination; any context. */
typedef void (*colo_copy_dst_fn)(unsigned long error, void *context);

struct colo_copier;

/*
 * One copy, embedded in what it is done for (a bio's per-bio data, a
 * background chunk job); owned by the copier from colo_copy_start() until
 * its callback runs.
 */
struct colo_copy {
	struct list_head node;		/* waiting for pages, or ready */
	struct colo_copier *copier;
	struct dm_io_region src;
	struct dm_io_region dst;
	struct dm_io_region dst2;	/* a second destination; count 0: none */
	colo_copy_fn fn;
	colo_copy_dst_fn fn2;		/* dst2's end */
	void *context;
	struct page_list *pages;	/* taken from the pool */
	unsigned int nr_pages;
	bool writing;			/* the read is done */
	atomic_t pending;		/* submitter and completion, see above */
	unsigned long error;		/* the stage's dm-io error bits */
	int read_err;
};

struct colo_copier {
	struct workqueue_struct *wq;	/* its own, unbound */
	struct dm_io_client *io_client;
	struct page_list *nodes;	/* one per page of the pool */
	unsigned int nr_pages;		/* in the pool */

	spinlock_t lock;		/* protects the fields below */
	struct page_list *free;		/* free pages, a chain */
	unsigned int nr_free;
	struct list_head waiting;	/* copies waiting for pages, in order */
	struct list_head ready;		/* copies whose stage completed */
	struct work_struct work;
};

int colo_copier_init(struct colo_copier *cp, unsigned int extents);
void colo_copier_destroy(struct colo_copier *cp);
void colo_copy_start(struct colo_copier *cp, struct colo_copy *copy,
		     const struct dm_io_region *src,
		     const struct dm_io_region *dst, colo_copy_fn fn,
		     void *context);
void colo_copy_start_two(struct colo_copier *cp, struct colo_copy *copy,
			 const struct dm_io_region *src,
			 const struct dm_io_region *dst,
			 const struct dm_io_region *dst2, colo_copy_dst_fn fn2,
			 colo_copy_fn fn, void *context);
bool colo_copier_has_room(struct colo_copier *cp);

#endif /* DM_COLO_COPY_H */
