/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dm-colo: the lag window of an async mirror (dm-colo-async.c).
 *
 * The bytes of background replica writes in flight and a "closed" flag
 * share one 64-bit word, so that a write takes its room with one
 * compare-and-exchange that also sees a mode switch: once the flag is set,
 * no write takes room any more, and the message that set it only has to
 * wait for the bytes to drain. colo_lag_take() is the pure step of that
 * exchange (KUnit tests it in dm-colo-test.c).
 */
#ifndef DM_COLO_ASYNC_H
#define DM_COLO_ASYNC_H

#include <linux/bits.h>
#include <linux/types.h>

/* No new background write may take room (a switch, or sync mode). */
#define COLO_LAG_CLOSED		BIT_ULL(62)
#define COLO_LAG_BYTES		(COLO_LAG_CLOSED - 1)

enum colo_lag_take {
	COLO_LAG_TAKEN,		/* *next is the word with @bytes added */
	COLO_LAG_FULL,		/* @bytes more would pass @max */
	COLO_LAG_SHUT,		/* the window is closed */
};

/*
 * May a background write of @bytes be sent, the window's word being
 * @word and its limit @max bytes? Pure.
 */
static inline enum colo_lag_take colo_lag_take(u64 word, u64 bytes, u64 max,
					       u64 *next)
{
	if (word & COLO_LAG_CLOSED)
		return COLO_LAG_SHUT;
	if (bytes > max || bytes > COLO_LAG_BYTES ||
	    (word & COLO_LAG_BYTES) > max - bytes ||
	    (word & COLO_LAG_BYTES) > COLO_LAG_BYTES - bytes)
		return COLO_LAG_FULL;
	*next = word + bytes;
	return COLO_LAG_TAKEN;
}

#endif /* DM_COLO_ASYNC_H */
