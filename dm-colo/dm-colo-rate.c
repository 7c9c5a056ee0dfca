// SPDX-License-Identifier: GPL-2.0
/*
 * dm-colo: the rate limit of a background pass. See dm-colo-rate.h.
 */
#include <linux/math64.h>

#include "dm-colo-rate.h"

/*
 * Over the rate limit: the jiffies to wait, else 0. One step of a pass
 * (an extent of up to 1 MiB) can be more than a window allows: what it
 * took beyond the allowance is paid off by the windows after it, so the
 * average rate holds for any extent size. The pass's work item.
 */
unsigned long colo_rate_delay(struct colo_rate *r)
{
	unsigned long end = r->window + COLO_RATE_WINDOW;
	u64 allowed, windows;

	if (!r->kib)
		return 0;
	allowed = (u64)r->kib * 1024 * COLO_RATE_WINDOW / HZ;
	if (time_after_eq(jiffies, end)) {
		windows = (jiffies - r->window) / COLO_RATE_WINDOW;
		if (windows > div64_u64(r->bytes, allowed))
			r->bytes = 0;
		else
			r->bytes -= windows * allowed;
		r->window = jiffies;
		end = r->window + COLO_RATE_WINDOW;
	}
	if (r->bytes < allowed)
		return 0;
	return end - jiffies;
}
