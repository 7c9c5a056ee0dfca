// SPDX-License-Identifier: GPL-2.0
/*
 * dm-colo: the rate limit of a background pass. See dm-colo-rate.h.
 */
#include <linux/cpumask.h>
#include <linux/limits.h>
#include <linux/math64.h>
#include <linux/percpu.h>

#include "dm-colo-rate.h"

/* The bios the guest sent so far: the sum of the per-cpu counts. */
unsigned long colo_rate_guest_count(unsigned long __percpu *guest)
{
	unsigned long n = 0;
	int cpu;

	for_each_possible_cpu(cpu)
		n += READ_ONCE(*per_cpu_ptr(guest, cpu));
	return n;
}

void colo_rate_start(struct colo_rate *r, unsigned int kib,
		     unsigned int min_kib, unsigned long __percpu *guest)
{
	unsigned long now = jiffies;

	WRITE_ONCE(r->fixed_kib, kib);
	WRITE_ONCE(r->min_kib, min_kib);
	r->seen = r->gen;
	/* auto starts at the floor: the first sample says if it may go on. */
	r->kib = min_kib ? min_kib : kib;
	r->window = now;
	r->bytes = 0;
	r->guest = guest;
	r->guest_at = now;
	r->guest_ios = colo_rate_guest_count(guest);
	r->done_at = now;
	r->done_bytes = 0;
	WRITE_ONCE(r->achieved, 0);
}

void colo_rate_set(struct colo_rate *r, unsigned int kib,
		   unsigned int min_kib)
{
	WRITE_ONCE(r->fixed_kib, kib);
	WRITE_ONCE(r->min_kib, min_kib);
	/* The limit before its generation: pairs with colo_rate_delay_at(). */
	smp_store_release(&r->gen, r->gen + 1);
}

void colo_rate_carry(struct colo_rate *to, const struct colo_rate *from,
		     unsigned long __percpu *guest)
{
	*to = *from;
	/* The new table's count starts from its own zero. */
	to->guest = guest;
	to->guest_at = jiffies;
	to->guest_ios = colo_rate_guest_count(guest);
}

/* @count per second, over @elapsed jiffies; at most UINT_MAX. */
unsigned int colo_rate_per_sec(u64 count, unsigned long elapsed)
{
	if (!elapsed)
		elapsed = 1;
	if (count > U64_MAX / HZ)
		return UINT_MAX;
	return min_t(u64, div64_u64(count * HZ, elapsed), UINT_MAX);
}

/*
 * auto: the limit for a guest that sent @ios bios in the last @elapsed
 * jiffies: the floor while it is busy, none (0) while it is idle.
 */
unsigned int colo_rate_auto_limit(unsigned int min_kib, unsigned long ios,
				  unsigned long elapsed)
{
	return colo_rate_per_sec(ios, elapsed) >= COLO_RATE_IDLE_IOPS ?
	       min_kib : 0;
}

/*
 * Over the rate limit at @now: the jiffies to wait, else 0. @guest_ios is
 * the guest's bio count at @now (looked at by auto every
 * COLO_RATE_SAMPLE), @done_bytes what the pass has done (the achieved
 * rate). One step of a pass (an extent of up to 1 MiB) can be more than a
 * window allows: what it took beyond the allowance is paid off by the
 * windows after it, so the average rate holds for any extent size. When
 * auto changes the limit, or a new one is asked (colo_rate_set()), a new
 * window starts with nothing to pay off.
 */
unsigned long colo_rate_delay_at(struct colo_rate *r, unsigned long now,
				 unsigned long guest_ios, u64 done_bytes)
{
	unsigned int kib, min_kib, gen;
	unsigned long end;
	u64 allowed, windows;

	/* Pairs with colo_rate_set(): the new limit is seen with its gen. */
	gen = smp_load_acquire(&r->gen);
	min_kib = READ_ONCE(r->min_kib);
	if (gen != r->seen) {
		r->seen = gen;
		r->kib = min_kib ? min_kib : READ_ONCE(r->fixed_kib);
		r->window = now;
		r->bytes = 0;
	}

	if (time_after_eq(now, r->done_at + COLO_RATE_SHOW)) {
		WRITE_ONCE(r->achieved,
			   colo_rate_per_sec((done_bytes - r->done_bytes) >> 10,
					     now - r->done_at));
		r->done_at = now;
		r->done_bytes = done_bytes;
	}
	if (min_kib && time_after_eq(now, r->guest_at + COLO_RATE_SAMPLE)) {
		kib = colo_rate_auto_limit(min_kib, guest_ios - r->guest_ios,
					   now - r->guest_at);
		if (kib != r->kib) {
			r->kib = kib;
			r->window = now;
			r->bytes = 0;
		}
		r->guest_at = now;
		r->guest_ios = guest_ios;
	}
	if (!r->kib) {
		r->window = now;
		r->bytes = 0;
		return 0;
	}
	end = r->window + COLO_RATE_WINDOW;
	allowed = (u64)r->kib * 1024 * COLO_RATE_WINDOW / HZ;
	if (time_after_eq(now, end)) {
		windows = (now - r->window) / COLO_RATE_WINDOW;
		if (windows > div64_u64(r->bytes, allowed))
			r->bytes = 0;
		else
			r->bytes -= windows * allowed;
		/*
		 * Whole windows only: the work item wakes a little after the
		 * end it asked for, and a window restarted at its wake-up
		 * would lose that time from every window (the rate would fall
		 * short of the limit by the wake-up latency).
		 */
		r->window += windows * COLO_RATE_WINDOW;
		end = r->window + COLO_RATE_WINDOW;
	}
	if (r->bytes < allowed)
		return 0;
	return end - now;
}

unsigned long colo_rate_delay(struct colo_rate *r, u64 done_bytes)
{
	unsigned long now = jiffies, ios = r->guest_ios;

	if (READ_ONCE(r->min_kib) &&
	    time_after_eq(now, r->guest_at + COLO_RATE_SAMPLE))
		ios = colo_rate_guest_count(r->guest);
	return colo_rate_delay_at(r, now, ios, done_bytes);
}
