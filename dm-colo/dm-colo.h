/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dm-colo: state shared by the files of the module.
 */
#ifndef DM_COLO_H
#define DM_COLO_H

#include <linux/device-mapper.h>
#include <linux/list.h>
#include <linux/types.h>

#include "dm-colo-compat.h"
#include "dm-colo-parse.h"

struct colo_ingress;

/* Bits of colo_c.flags. */
enum {
	COLO_LIVE,	/* resumed at least once: an ingress may attach */
	COLO_ERROR,	/* an I/O error was seen; sticky, shown in status */
};

/*
 * One "colo" target. Fields set by the constructor are constant for its
 * life; @node and @ingress are protected by colo_registry_lock.
 */
struct colo_c {
	struct dm_target *ti;
	struct mapped_device *md;
	struct list_head node;		/* on colo_registry */

	enum colo_mode mode;
	struct dm_dev *base;
	struct dm_dev *hidden;		/* NULL in primary mode */
	struct dm_dev *active;		/* NULL in primary mode */

	unsigned int chunk_shift;
	u64 nr_chunks;
	unsigned int max_copies;

	struct colo_ingress *ingress;	/* attached ingress or NULL */
	unsigned long flags;
};

/*
 * One "colo-ingress" target. @cc is protected by colo_registry_lock and is
 * NULL once the colo target it belonged to went away.
 */
struct colo_ingress {
	struct dm_target *ti;
	struct dm_dev *base;
	struct dm_dev *colo_pin;	/* holds the colo device open */
	struct mapped_device *colo_md;	/* the device colo_pin holds */
	struct colo_c *cc;
};

static inline const char *colo_name(struct colo_c *cc)
{
	return dm_device_name(cc->md);
}

/* dm-colo-msg.c */
void colo_status(struct dm_target *ti, status_type_t type,
		 unsigned int status_flags, char *result, unsigned int maxlen);
int colo_message(struct dm_target *ti, unsigned int argc, char **argv,
		 char *result, unsigned int maxlen);
bool colo_has_ingress(struct colo_c *cc);

#endif /* DM_COLO_H */
