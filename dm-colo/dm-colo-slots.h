/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dm-colo: the free chunks of a fleece's buffer (dm-colo-save.c).
 *
 * A bitmap of slots (buffer chunks) in use, and a hint where the next free
 * one is likely to be, so that slots are handed out in order and a full
 * buffer is found in one sweep. Pure: no lock (the caller serializes), no
 * device; colo_slots_init() allocates and may sleep, the rest is safe from
 * any context. Tested by KUnit (dm-colo-bitmap-test.c).
 */
#ifndef DM_COLO_SLOTS_H
#define DM_COLO_SLOTS_H

#include <linux/types.h>

struct colo_slots {
	unsigned long *used;
	u64 nr;			/* slots in all */
	u64 nr_used;
	u64 hint;		/* where the search for a free one starts */
};

int colo_slots_init(struct colo_slots *s, u64 nr);
void colo_slots_destroy(struct colo_slots *s);
int colo_slots_get(struct colo_slots *s, u64 *slot);
bool colo_slots_take(struct colo_slots *s, u64 slot);
bool colo_slots_put(struct colo_slots *s, u64 slot);

#endif /* DM_COLO_SLOTS_H */
