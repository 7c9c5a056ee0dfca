/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dm-colo: the rate limit of a background pass (the mirror's phase 1, the
 * online verify), in KiB/s over windows of COLO_RATE_WINDOW.
 *
 * A limit is fixed (<KiB/s>, or none) or automatic ("auto"): every
 * COLO_RATE_SAMPLE the pass looks at how many bios the guest sent to the
 * colo device since the last look (a per-cpu count the data path bumps in
 * map, colo_rate_guest_count()). A guest doing COLO_RATE_IDLE_IOPS or more
 * is busy: the pass is held to its floor, min_kib. A guest below that is
 * idle: the pass runs with no limit. This is md's "sync_speed_min unless
 * the array is idle, else sync_speed_max" and DRBD's c-min-rate, with the
 * guest's bios as the measure of activity; the pass's own copies do not go
 * through map and are not counted. Bytes a pass took on at full speed are
 * forgiven when the guest becomes busy, so the pass backs off at once
 * rather than paying them off.
 *
 * The rate achieved, from the bytes the pass reports done (not just
 * started), is measured over every COLO_RATE_SHOW and kept for the status.
 *
 * Locking contract: a limit is used by one work item at a time (the
 * pass's own); nothing here takes a lock. colo_rate_start() and the
 * carry of a reload run with the pass stopped. colo_rate_set() (a message,
 * under msg_lock) changes the limit asked of a running pass: it writes
 * @fixed_kib and @min_kib, then publishes them with @gen (release); the
 * work item takes them at its next step (acquire). The status reads
 * @achieved, @fixed_kib and @min_kib with READ_ONCE.
 */
#ifndef DM_COLO_RATE_H
#define DM_COLO_RATE_H

#include <linux/typecheck.h>	/* for jiffies.h in 6.1 */
#include <linux/jiffies.h>
#include <linux/types.h>

#define COLO_RATE_WINDOW	(HZ / 10)
/* auto: how often the guest's bios are counted. */
#define COLO_RATE_SAMPLE	(HZ / 4)
/* The interval of the achieved rate (status). */
#define COLO_RATE_SHOW		HZ
/* auto: a guest sending fewer bios a second than this is idle. */
#define COLO_RATE_IDLE_IOPS	20
/* auto: the floor when no min_rate is given, KiB/s (10 MiB/s). */
#define COLO_RATE_DEFAULT_MIN	10240

struct colo_rate {
	/* The limit asked (start, colo_rate_set()) */
	unsigned int fixed_kib;	/* KiB/s, 0: none; unless auto */
	unsigned int min_kib;	/* auto: the floor, KiB/s; 0: not auto */
	unsigned int gen;	/* bumped by colo_rate_set() */
	/* The work item's */
	unsigned int seen;	/* the gen it applied */
	unsigned int kib;	/* the limit now, KiB/s, 0: none */
	unsigned long window;	/* jiffies the window began */
	u64 bytes;		/* moved in the window */
	/* auto: the guest's bio count at the last sample */
	unsigned long __percpu *guest;	/* the table's count (data path) */
	unsigned long guest_at;
	unsigned long guest_ios;
	/* The rate achieved: the pass's done bytes at the last measure. */
	unsigned long done_at;
	u64 done_bytes;
	unsigned int achieved;	/* KiB/s over the last COLO_RATE_SHOW */
};

unsigned long colo_rate_guest_count(unsigned long __percpu *guest);

/*
 * A new pass at @kib KiB/s (0: no limit), or automatic with the floor
 * @min_kib (non-zero; @kib is then ignored). @guest is the table's count
 * of guest bios.
 */
void colo_rate_start(struct colo_rate *r, unsigned int kib,
		     unsigned int min_kib, unsigned long __percpu *guest);

/*
 * A running pass's limit becomes @kib KiB/s (0: none) or auto with the
 * floor @min_kib (non-zero), from its next step on.
 */
void colo_rate_set(struct colo_rate *r, unsigned int kib,
		   unsigned int min_kib);

/* A reload: @to's table counts the guest's bios in @guest from now on. */
void colo_rate_carry(struct colo_rate *to, const struct colo_rate *from,
		     unsigned long __percpu *guest);

/* The pass moved @bytes. */
static inline void colo_rate_charge(struct colo_rate *r, u64 bytes)
{
	r->bytes += bytes;
}

/* Pure arithmetic, KUnit-tested (dm-colo-rate-test.c). */
unsigned int colo_rate_per_sec(u64 count, unsigned long elapsed);
unsigned int colo_rate_auto_limit(unsigned int min_kib, unsigned long ios,
				  unsigned long elapsed);
unsigned long colo_rate_delay_at(struct colo_rate *r, unsigned long now,
				 unsigned long guest_ios, u64 done_bytes);

/*
 * The jiffies to wait before the next step, else 0; @done_bytes: what the
 * pass has done since its start (for the achieved rate). The pass's work
 * item.
 */
unsigned long colo_rate_delay(struct colo_rate *r, u64 done_bytes);

#endif /* DM_COLO_RATE_H */
