/* SPDX-License-Identifier: GPL-2.0 */
/*
 * colosetup's own parts, shared by its command files: colosetup.c (the
 * device commands, and these helpers) and colo-metacmd.c (the metadata
 * device's commands and dirty import).
 */
#ifndef COLOSETUP_H
#define COLOSETUP_H

#include <stdint.h>
#include <sys/types.h>

#include "colo-util.h"

/* "colosetup: NAME: sentence" on stderr; returns code. */
__attribute__((format(printf, 3, 4)))
int fail(int code, const char *name, const char *fmt, ...);
/* A refusal by the kernel: its own reason when it logged one. */
int refused(const char *name, const char *what, int err);
/* COLOSETUP_SKIP_CHECKS=1: leave the checks to the kernel. */
int skip_checks(void);

/* A block device checked for create: opened exclusively, then closed. */
struct blk {
	const char *path;
	dev_t rdev;
	uint64_t sectors;
	unsigned int lbs;
};

int open_blk(const char *role, const char *path, struct blk *b);
/* The device number of a device argument (a path or MAJ:MIN); 0 or -1. */
int arg_rdev(const char *arg, dev_t *rdev);
/* Remove one device (--force: when last closed); 0 or an exit code. */
int remove_one(const char *name, int force);

/* The colo device NAME: its status, and its table's legs as major:minor. */
struct colo_dev {
	uint64_t sectors;
	struct colo_status st;
	char legs[3][32];	/* base, hidden, active ("" when primary) */
	unsigned int nlegs;
	char metadata[128];	/* the metadata device ("" without one) */
};

int get_colo(const char *name, struct colo_dev *d);
/* "/dev/mapper/vm" or "/dev/ram0" for a table's "major:minor". */
void devpath(const char *majmin, char *buf, size_t len);
/* The legs and metadata device of a colo table line, into d. */
void parse_legs(const char *params, struct colo_dev *d);
/* The colo-ingress attached to colo device NAME, into buf; 0 or -ENOENT. */
int find_ingress(const char *name, char *buf, size_t len);
int send_msg(const char *name, const char *msg, const char *what);

/* colo-metacmd.c */
int cmd_metadata_dump(const struct colo_args *a);
int cmd_metadata_export(const struct colo_args *a);
int cmd_metadata_wipe(const struct colo_args *a);
int cmd_dirty_import(const struct colo_args *a);
/*
 * create --metadata: check what the metadata device holds against the
 * table (dev_sectors, chunk). *region_sectors is the size given, or 0; it
 * becomes the one to put in the table (valid metadata's own when none was
 * given, else the default).
 */
int meta_check_create(const struct colo_args *a, const struct blk *meta,
		      uint64_t dev_sectors, unsigned int chunk,
		      unsigned int *region_sectors);

/* colo-report.c */
int cmd_list(const struct colo_args *a);
int cmd_status_prometheus(const struct colo_args *a);
/* Measure the copy rate of a running commit or mirror of NAME (d is its
 * status; it becomes the newer one): a second look after a short pause. */
void measure_rate(const char *name, struct colo_dev *d);

/* create, ingress, remove: colo-up.c drives them for a colotab's devices. */
int cmd_create(const struct colo_args *a);
int cmd_ingress(const struct colo_args *a);
int cmd_remove(const struct colo_args *a);

/* colo-up.c: up and down (colotab(5)) */
int cmd_up(const struct colo_args *a);
int cmd_down(const struct colo_args *a);

/* colo-fleece.c: fleece start|stop|status|needed */
int cmd_fleece_start(const struct colo_args *a);
int cmd_fleece_stop(const struct colo_args *a);
int cmd_fleece_status(const struct colo_args *a);
int cmd_fleece_needed(const struct colo_args *a);
/* The colo-fleece whose base is base ("MAJ:MIN" as tables show it), into
 * buf; 0 or -ENOENT. */
int find_fleece(const char *base, char *buf, size_t len);
/* status NAME: "  fleece:   NAME-fleece, active, ..." when it has one. */
void print_fleece_line(const struct colo_dev *d);

/* colo-monitor.c */
int cmd_monitor(const struct colo_args *a);

#endif
