/* SPDX-License-Identifier: GPL-2.0 */
/*
 * colo-format: the pure parts of list, status --prometheus and monitor
 * (field lists, the Prometheus text format, the events between two
 * statuses). Nothing here talks to the kernel; test-util.c tests it.
 */
#ifndef COLO_FORMAT_H
#define COLO_FORMAT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "colo-util.h"

/*
 * list -o: "f1,f2" replaces the default fields, "+f1,f2" adds to them.
 * Every name must be one of ids (NULL-terminated). The expanded list goes
 * to out. Returns 0, or -1 with a sentence in err.
 */
int colo_fields_expand(const char *opt, const char *defaults, const char *const *ids,
		       char *out, size_t len, char *err, size_t errlen);

/* list --sort: "[-|+]f1,[-|+]f2", every name one of ids. 0 or -1 (err). */
int colo_sort_check(const char *keys, const char *const *ids, char *err, size_t errlen);

/*
 * The copy rates (bytes/s) of st's running commit or mirror, from an
 * earlier look old at t0 and st at t1 (seconds): known only when the same
 * copy ran at both looks (its done count did not fall; its total may move:
 * it is done plus still to do, and new writes add to a mirror's).
 */
void colo_set_rates(const struct colo_status *old, double t0, struct colo_status *st,
		    double t1);

/* One colo device for status --prometheus. */
struct colo_prom_dev {
	const char *name;
	uint64_t sectors;
	const struct colo_status *st;
};

/*
 * The devices in the node_exporter textfile format: each metric family's
 * # HELP and # TYPE once, then its samples, one per device (README,
 * Prometheus).
 */
void colo_prometheus(FILE *f, const struct colo_prom_dev *devs, unsigned int n);

/* A Prometheus label value: \\, \" and \n escaped, bad UTF-8 as U+FFFD. */
void colo_prom_label(FILE *f, const char *s);

/* What monitor reports (README, monitor: the list and when each comes). */
enum colo_event {
	EV_PRESENT,		/* a colo device the monitor found at its start */
	EV_ADDED,		/* a colo device that appeared later */
	EV_REMOVED,		/* it is gone (or no longer a colo device) */
	EV_PRIMARY,		/* mode secondary -> primary (failover) */
	EV_COMMIT_DONE,		/* the failover commit ended */
	EV_COMMIT_FAILED,	/* the failover commit failed */
	EV_MIRROR_STARTED,	/* a mirror started (from none or degraded) */
	EV_IN_SYNC,		/* the mirror caught up */
	EV_DEGRADED,		/* the mirror degraded (a replica write failed) */
	EV_MIRROR_STOPPED,	/* the mirror was stopped */
	EV_ERROR,		/* health ok -> error */
	EV_HEALTH_OK,		/* health error -> ok (a new table) */
	EV_COUNT
};

const char *colo_event_name(enum colo_event e);
/* syslog(3) priority of an event. */
int colo_event_priority(enum colo_event e);

/*
 * The events from status old to status new of one device, in the order
 * they happened, into ev (at most max). Returns how many.
 */
unsigned int colo_events(const struct colo_status *old, const struct colo_status *new,
			 enum colo_event *ev, unsigned int max);

/* One colo-fleece device for fleece status --json (README, JSON). */
struct colo_fleece_view {
	const char *name, *dm_uuid;	/* dm_uuid "" for none */
	const char *colo;		/* its colo device, NULL when not found */
	uint64_t sectors;
	unsigned int chunk;		/* sectors; 0 when the colo device is not known */
	uint64_t chunks;		/* the view's chunks (0: unknown) */
	const char *buffer;		/* the buffer device's path */
	unsigned int timeout_ms;
	int read_once;
	int persistent;			/* its map on the buffer ("persistent", "reattach") */
	const struct colo_fleece_status *st;
};

/* The fleece as one JSON object, in the schema of the colo devices' (no
 * trailing newline). */
void colo_fleece_json(FILE *f, const struct colo_fleece_view *v);

#endif
