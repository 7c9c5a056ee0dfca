/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dm-colo: is one block device stacked on another?
 *
 * A device that maps its I/O onto the colo device (dm-linear over it, a
 * device-mapper stack of any depth, md, anything that links its lower
 * devices as "slaves" in sysfs) must never become that device's replica:
 * the mirror's writes would come back to the colo device and wait for the
 * chunk their own copy holds (LESSONS.md #13). The block layer keeps the
 * stack in sysfs only (bd_link_disk_holder()), so it is read there, through
 * the VFS, from the caller's view of /sys.
 *
 * Process context only; may sleep. Takes no dm-colo lock.
 */
#ifndef DM_COLO_STACK_H
#define DM_COLO_STACK_H

#include <linux/blkdev.h>

int colo_stack_contains(struct block_device *top, struct block_device *bdev);

#endif /* DM_COLO_STACK_H */
