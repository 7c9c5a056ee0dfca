/* SPDX-License-Identifier: GPL-2.0 */
/*
 * colo-udev: the dm UUIDs colosetup gives the devices it creates.
 *
 *   COLO-<ROLE>-<ID>
 *
 * ROLE says what the device is (DEV: the colo device, the VM's disk;
 * INGRESS: its colo-ingress; FLEECE: its colo-fleece), ID is 32 lowercase
 * hex digits (128 random bits) drawn when the colo device is created. Its
 * ingress and fleece carry the same ID, so any of the UUIDs names the set. The udev rules (udev/57-dm-colo.rules)
 * and the lvm.conf filter (udev/lvm-global-filter.conf) match the prefixes.
 */
#ifndef COLO_UDEV_H
#define COLO_UDEV_H

#include <stddef.h>

#define COLO_UUID_PREFIX	"COLO-"
#define COLO_ROLE_DEV		"DEV"
#define COLO_ROLE_INGRESS	"INGRESS"
#define COLO_ROLE_FLEECE	"FLEECE"
#define COLO_UUID_ID_LEN	32	/* hex digits */
/* The longest UUID colosetup makes, with its NUL: "COLO-INGRESS-" + ID. */
#define COLO_UUID_MAX		(sizeof(COLO_UUID_PREFIX COLO_ROLE_INGRESS "-") + \
				 COLO_UUID_ID_LEN)

/* A new ID into id (COLO_UUID_ID_LEN + 1 bytes). 0, or -errno. */
int colo_uuid_new_id(char *id);
/* "COLO-<role>-<id>" into buf. 0, or -1 when id is not an ID or buf is
 * too small. */
int colo_uuid_make(char *buf, size_t len, const char *role, const char *id);
/* 0 and the ID into id (COLO_UUID_ID_LEN + 1 bytes) when uuid is
 * "COLO-<role>-<ID>"; -1 when it is not. */
int colo_uuid_id(const char *uuid, const char *role, char *id);

#endif
