/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dm-colo: the rate limit of a background pass (the mirror's phase 1, the
 * online verify), in KiB/s over windows of COLO_RATE_WINDOW.
 *
 * Locking contract: a limit is used by one work item at a time (the
 * pass's own); nothing here takes a lock. colo_rate_start() and the
 * carry of a reload (a plain copy of the struct) run with the pass
 * stopped.
 */
#ifndef DM_COLO_RATE_H
#define DM_COLO_RATE_H

#include <linux/typecheck.h>	/* for jiffies.h in 6.1 */
#include <linux/jiffies.h>
#include <linux/types.h>

#define COLO_RATE_WINDOW	(HZ / 10)

struct colo_rate {
	unsigned int kib;	/* KiB/s, 0: no limit */
	unsigned long window;	/* jiffies the window began */
	u64 bytes;		/* moved in the window */
};

/* A new pass at @kib KiB/s (0: no limit). */
static inline void colo_rate_start(struct colo_rate *r, unsigned int kib)
{
	r->kib = kib;
	r->window = jiffies;
	r->bytes = 0;
}

/* The pass moved @bytes. */
static inline void colo_rate_charge(struct colo_rate *r, u64 bytes)
{
	r->bytes += bytes;
}

unsigned long colo_rate_delay(struct colo_rate *r);

#endif /* DM_COLO_RATE_H */
