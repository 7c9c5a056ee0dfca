// SPDX-License-Identifier: GPL-2.0
/*
 * colo-udev: the dm UUIDs colosetup gives the devices it creates
 * (colo-udev.h says the format).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "colo-udev.h"

static int is_id(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

int colo_uuid_new_id(char *id)
{
	unsigned char b[COLO_UUID_ID_LEN / 2];
	size_t i;
	ssize_t n;

	do
		n = getrandom(b, sizeof(b), 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if ((size_t)n != sizeof(b))
		return -EIO;
	for (i = 0; i < sizeof(b); i++)
		snprintf(id + 2 * i, 3, "%02x", b[i]);
	return 0;
}

int colo_uuid_make(char *buf, size_t len, const char *role, const char *id)
{
	int n;

	if (strlen(id) != COLO_UUID_ID_LEN || !is_id(id, COLO_UUID_ID_LEN))
		return -1;
	n = snprintf(buf, len, COLO_UUID_PREFIX "%s-%s", role, id);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

int colo_uuid_id(const char *uuid, const char *role, char *id)
{
	size_t p = strlen(COLO_UUID_PREFIX), r = strlen(role);

	if (strncmp(uuid, COLO_UUID_PREFIX, p) || strncmp(uuid + p, role, r) ||
	    uuid[p + r] != '-')
		return -1;
	uuid += p + r + 1;
	if (strlen(uuid) != COLO_UUID_ID_LEN || !is_id(uuid, COLO_UUID_ID_LEN))
		return -1;
	memcpy(id, uuid, COLO_UUID_ID_LEN + 1);
	return 0;
}
