/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dm-colo: every difference between the kernels we build against (6.1 and
 * 6.12) lives here, so the rest of the code has no version checks. This is
 * the only file allowed to test LINUX_VERSION_CODE (scripts/lint.sh runs
 * checkpatch on it with that one check ignored).
 *
 * Test features, not versions, where the distribution backports: Debian's
 * 6.1.y already has the ioprio argument of dm_io() that mainline gained in
 * 6.9, so a version check would be wrong there; both kernels take it.
 * The rest of dm-io's interface (the copy engine's) is the same on both.
 *
 * Opening a block device by path (the mirror's replica, named in a message
 * rather than in the table) or by number (the colo device an ingress holds
 * open) changed twice: blkdev_get_by_path()/blkdev_get_by_dev() (6.1),
 * bdev_open_by_*() (6.7), bdev_file_open_by_*() (6.9, and 6.12).

 */
#ifndef DM_COLO_COMPAT_H
#define DM_COLO_COMPAT_H

#include <linux/blkdev.h>
#include <linux/err.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/version.h>

/* The mode bit that opens a table device for writing (blk_mode_t since 6.5). */
#if KERNEL_VERSION(6, 5, 0) <= LINUX_VERSION_CODE
#define COLO_OPEN_WRITE		BLK_OPEN_WRITE
#else
#define COLO_OPEN_WRITE		FMODE_WRITE
#endif

/*
 * A target's discard limits (io_hints): 6.10 made the hardware limit the
 * one stacked drivers set, and derives max_discard_sectors from it.
 */
static inline void colo_set_discard_limits(struct queue_limits *limits,
					   unsigned int sectors)
{
	limits->discard_granularity = sectors << SECTOR_SHIFT;
	limits->max_hw_discard_sectors = sectors;
#if KERNEL_VERSION(6, 10, 0) > LINUX_VERSION_CODE
	limits->max_discard_sectors = sectors;
#endif
}

#if KERNEL_VERSION(6, 9, 0) <= LINUX_VERSION_CODE

struct colo_bdev_handle {
	struct file *file;
};

/* Open @path read-write, claimed exclusively by @holder. */
static inline struct block_device *
colo_bdev_open(const char *path, void *holder, struct colo_bdev_handle *h)
{
	struct file *file = bdev_file_open_by_path(path, BLK_OPEN_READ |
						   BLK_OPEN_WRITE, holder,
						   NULL);

	if (IS_ERR(file))
		return ERR_CAST(file);
	h->file = file;
	return file_bdev(file);
}

/*
 * Open @dev for reading without claiming it: the holder keeps the device
 * open (dm refuses to remove an open device) and does not stop anyone from
 * claiming it exclusively.
 */
static inline int colo_bdev_open_unclaimed(dev_t dev,
					   struct colo_bdev_handle *h)
{
	struct file *file = bdev_file_open_by_dev(dev, BLK_OPEN_READ, NULL,
						  NULL);

	if (IS_ERR(file))
		return PTR_ERR(file);
	h->file = file;
	return 0;
}

static inline struct block_device *
colo_bdev_handle_bdev(struct colo_bdev_handle *h)
{
	return file_bdev(h->file);
}

/*
 * Close now, as dm does its table devices (close_table_device()): a plain
 * fput() from an ioctl defers the release to the return to user space, so
 * a "dmsetup remove_all" that removed the colo device would still find its
 * replica open. Process context.
 */
static inline void colo_bdev_close(struct colo_bdev_handle *h)
{
	__fput_sync(h->file);
}

#else

struct colo_bdev_handle {
	struct block_device *bdev;
	fmode_t mode;
};

/* Open @path read-write, claimed exclusively by @holder. */
static inline struct block_device *
colo_bdev_open(const char *path, void *holder, struct colo_bdev_handle *h)
{
	fmode_t mode = FMODE_READ | FMODE_WRITE | FMODE_EXCL;
	struct block_device *bdev = blkdev_get_by_path(path, mode, holder);

	if (!IS_ERR(bdev)) {
		h->bdev = bdev;
		h->mode = mode;
	}
	return bdev;
}

/* Open @dev for reading without claiming it (see the 6.9+ version). */
static inline int colo_bdev_open_unclaimed(dev_t dev,
					   struct colo_bdev_handle *h)
{
	struct block_device *bdev = blkdev_get_by_dev(dev, FMODE_READ, NULL);

	if (IS_ERR(bdev))
		return PTR_ERR(bdev);
	h->bdev = bdev;
	h->mode = FMODE_READ;
	return 0;
}

static inline struct block_device *
colo_bdev_handle_bdev(struct colo_bdev_handle *h)
{
	return h->bdev;
}

static inline void colo_bdev_close(struct colo_bdev_handle *h)
{
	blkdev_put(h->bdev, h->mode);
}

#endif

#endif /* DM_COLO_COMPAT_H */
