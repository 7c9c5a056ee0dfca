/* SPDX-License-Identifier: GPL-2.0 */
/*
 * colo-colotab: the boot-time configuration, /etc/colo/colotab (colotab(5)),
 * and the legs' identities that "colosetup up" pins. The parser and the
 * identity comparison are pure (unit-tested on the host, test-util.c);
 * reading sysfs for an identity is colotab_identity().
 */
#ifndef COLO_COLOTAB_H
#define COLO_COLOTAB_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#define COLOTAB_DEFAULT "/etc/colo/colotab"
#define COLO_STATE_DIR_DEFAULT "/var/lib/colo"
#define COLOTAB_MAX 64		/* devices in one colotab */
#define COLOTAB_PATH_MAX 256

/* The legs of an entry, in this order: base, hidden, active, metadata. */
enum { LEG_BASE, LEG_HIDDEN, LEG_ACTIVE, LEG_METADATA, LEG_NR };
extern const char *const colotab_leg_key[LEG_NR];

struct colotab_entry {
	unsigned int line;
	char name[128];
	int primary;
	char leg[LEG_NR][COLOTAB_PATH_MAX];	/* "" when not given */
	unsigned int chunk_sectors;		/* 0: not given */
	unsigned int max_copies;		/* 0: not given */
	unsigned int region_sectors;		/* 0: not given */
	int ingress;				/* ingress=yes */
};

struct colotab {
	unsigned int n;
	struct colotab_entry e[COLOTAB_MAX];
};

/*
 * Read a colotab from f (named file in the messages). Returns 0, or -1
 * with "FILE:LINE: why" in err. Warnings ("FILE:LINE: warning: ...", a
 * leg given by a kernel name such as /dev/sdb) go to warn, one a line,
 * when warn is not NULL.
 */
int colotab_read(FILE *f, const char *file, struct colotab *t, char *err,
		 size_t errlen, FILE *warn);

/* The entry called name, or NULL. */
const struct colotab_entry *colotab_find(const struct colotab *t, const char *name);

/*
 * A leg's identity: what the device a path resolves to is, as pinned in
 * STATEDIR/NAME.legs, one line a leg: "ROLE KNAME MAJ:MIN SECTORS HWID".
 * HWID is a stable ID read from sysfs (a disk's wwid or serial, a dm
 * device's dm UUID; for a partition its disk's, with "-partN"), "-" when
 * the device has none (a RAM disk, a loop device).
 */
struct colo_leg_id {
	char kname[64];
	char devnum[32];
	unsigned long long sectors;
	char hwid[192];
};

/* Format and parse one identity ("ram1 1:1 65536 -"). parse: 0 or -1. */
void colo_leg_id_format(const struct colo_leg_id *id, char *buf, size_t len);
int colo_leg_id_parse(const char *s, struct colo_leg_id *id);

/*
 * Is now the same device as pinned? With a HWID on both sides, the HWID
 * and the size decide (a renumbered disk, sdb become sdc, is the same);
 * else the kernel name and the size do (a /dev/sdX or a by-id link that
 * now reaches another disk is not). 1 same, 0 not.
 */
int colo_leg_id_same(const struct colo_leg_id *pinned, const struct colo_leg_id *now);

/* A human form: "ram1 (1:1, 32 MiB)" or "sdb (8:16, 1 TiB, wwid ...)". */
void colo_leg_id_human(const struct colo_leg_id *id, char *buf, size_t len);

/*
 * The identity of block device rdev from sysfs (sysroot: "/sys" or a test
 * tree). Returns 0 or -1.
 */
int colotab_identity(const char *sysroot, dev_t rdev, struct colo_leg_id *id);

#endif
