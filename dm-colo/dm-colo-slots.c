// SPDX-License-Identifier: GPL-2.0
/*
 * dm-colo: the free chunks of a fleece's buffer. See dm-colo-slots.h.
 */
#include <linux/bitmap.h>
#include <linux/bitops.h>
#include <linux/bug.h>
#include <linux/errno.h>
#include <linux/limits.h>
#include <linux/slab.h>

#include "dm-colo-slots.h"

/* @nr slots, all free. Process context; may sleep. */
int colo_slots_init(struct colo_slots *s, u64 nr)
{
	s->nr = nr;
	s->nr_used = 0;
	s->hint = 0;
	s->used = NULL;
	if (!nr || nr > ULONG_MAX)
		return -EINVAL;
	s->used = kvcalloc(BITS_TO_LONGS(nr), sizeof(unsigned long),
			   GFP_KERNEL);
	return s->used ? 0 : -ENOMEM;
}

void colo_slots_destroy(struct colo_slots *s)
{
	kvfree(s->used);
	s->used = NULL;
}

/* Take a free slot: the first at or after the hint, else from 0. */
int colo_slots_get(struct colo_slots *s, u64 *slot)
{
	unsigned long n;

	n = find_next_zero_bit(s->used, s->nr, s->hint);
	if (n >= s->nr)
		n = find_first_zero_bit(s->used, s->nr);
	if (n >= s->nr)
		return -ENOSPC;
	__set_bit(n, s->used);
	s->hint = n + 1;
	s->nr_used++;
	*slot = n;
	return 0;
}

/* Take @slot (a map read back). Returns false when it is taken already. */
bool colo_slots_take(struct colo_slots *s, u64 slot)
{
	if (slot >= s->nr || __test_and_set_bit(slot, s->used))
		return false;
	s->nr_used++;
	return true;
}

/* Give @slot back. Returns false (and warns) when it was not in use. */
bool colo_slots_put(struct colo_slots *s, u64 slot)
{
	if (WARN_ON_ONCE(slot >= s->nr || !__test_and_clear_bit(slot, s->used)))
		return false;
	s->nr_used--;
	return true;
}
