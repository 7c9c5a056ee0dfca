/* SPDX-License-Identifier: GPL-2.0 */
/*
 * colo-dm: the device-mapper calls colosetup makes, through libdevmapper.
 * Every function returns 0 or a negative errno; after a kernel refusal,
 * cdm_reason() gives the kernel's own sentence for it (from the kernel
 * log), so the user sees why.
 */
#ifndef COLO_DM_H
#define COLO_DM_H

#include <stddef.h>
#include <stdint.h>

struct cdm_info {
	int open_count;
	int suspended;
	uint32_t event_nr;
	uint32_t major, minor;
	char uuid[129];		/* the dm UUID, "" when it has none */
};

/* What udev may do with a device colosetup creates (its cookie's flags). */
enum cdm_udev {
	CDM_UDEV_GUEST,		/* the VM's disk: probed, not activated */
	CDM_UDEV_PRIVATE,	/* an ingress: neither probed nor activated */
};

/* The one target of a device's live table. */
struct cdm_target {
	uint64_t start, len;
	char type[32];
	char *params;		/* malloc'ed; free with cdm_target_free() */
};

void cdm_init(int verbose);
int cdm_info(const char *name, struct cdm_info *info);
/* status != 0: DM_DEVICE_STATUS, else DM_DEVICE_TABLE. -ENXIO: no such
 * device; -ENOTUNIQ: not a single-target table; -ENODATA: no live table. */
int cdm_get_target(const char *name, int status, struct cdm_target *t);
void cdm_target_free(struct cdm_target *t);
/*
 * Create NAME with dm UUID uuid (NULL: none) and one target, udev's
 * treatment in its cookie; then ask udev to look again at its legs.
 */
int cdm_create(const char *name, const char *uuid, enum cdm_udev udev,
	       uint64_t len, const char *type, const char *params);

int cdm_remove(const char *name, int deferred);
int cdm_message(const char *name, const char *msg);
/* The same, with the target's reply (what dmsetup message prints) in *out,
 * malloc'ed (free it) when it returns 0. */
int cdm_message_response(const char *name, const char *msg, char **out);
/* Block until the device's event counter passes event_nr. */
int cdm_wait_event(const char *name, uint32_t event_nr);
/* Device names, NULL-terminated, malloc'ed (free with cdm_names_free). */
char **cdm_names(int *err);
void cdm_names_free(char **names);
/*
 * The first dm device with one target of @type whose table (@status 0) or
 * status (@status 1) has @value as its word @word (0-based; the whole
 * line when @word < 0), its name into buf. 0, -ENOENT, or the error of
 * listing the devices.
 */
int cdm_find(const char *type, int status, int word, const char *value,
	     char *buf, size_t len);
/* The kernel's reason for the last refusal, or NULL. */
const char *cdm_reason(void);
/*
 * The last line the kernel logged about the device of the last refusable
 * call (create, remove, message) since that call, that contains what;
 * NULL if none. E.g. "mirror degraded: " after a mirror start.
 */
const char *cdm_log_since(const char *what);
/* The last line the kernel log still holds about device devnum
 * ("253:4", colo_kmsg_reason()) that contains what, into buf: 0 or -1. */
int cdm_log_last(const char *devnum, const char *what, char *buf, size_t len);
/* Can device-mapper be driven? 0; -ENODEV: no device-mapper in the kernel
 * (dm-mod not loaded); -EACCES: /dev/mapper/control not open to us (not
 * root). */
int cdm_control(void);
/* The version of a loaded target type (DM_DEVICE_LIST_VERSIONS): 0, or
 * -ENOENT when no such target is loaded. */
int cdm_target_version(const char *target, unsigned int v[3]);

#endif
