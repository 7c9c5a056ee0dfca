// SPDX-License-Identifier: GPL-2.0
/*
 * colo-dm: device-mapper through libdevmapper, for colosetup.
 *
 * The kernel's reasons for refusing a table or a message go to the kernel
 * log (ti->error, DMERR), not back through the ioctl. So before each call
 * that the kernel may refuse, the end of /dev/kmsg is marked, and after a
 * refusal the last dm-colo line about the same device (by its major:minor,
 * colo_kmsg_reason()) logged since then becomes cdm_reason(): another
 * device's lines, logged in between, are not taken for its reason.
 */
#include <dirent.h>
#include <errno.h>
#include <time.h>
#include <fcntl.h>
#include <libdevmapper.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "colo-dm.h"
#include "colo-util.h"

static int verbose;
static int kmsg_fd = -1;
static char reason[512];
static char kmsg_dev[32];	/* "major:minor" of the device asked */

static void log_fn(int level, const char *file, int line, int dm_errno,
		   const char *f, ...)
{
	va_list ap;

	(void)file;
	(void)line;
	(void)dm_errno;
	/* libdevmapper's own lines ("reload ioctl on vm failed: ...") are
	 * replaced by colosetup's sentences; --verbose shows them. */
	if (!verbose || level > 3)
		return;
	va_start(ap, f);
	fputs("colosetup: libdevmapper: ", stderr);
	vfprintf(stderr, f, ap);
	fputc('\n', stderr);
	va_end(ap);
}

void cdm_init(int v)
{
	verbose = v;
	dm_log_with_errno_init(log_fn);
}

const char *cdm_reason(void)
{
	return reason[0] ? reason : NULL;
}

static void kmsg_mark(uint32_t major, uint32_t minor)
{
	reason[0] = '\0';
	snprintf(kmsg_dev, sizeof(kmsg_dev), "%u:%u", major, minor);
	if (kmsg_fd < 0)
		kmsg_fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (kmsg_fd >= 0)
		lseek(kmsg_fd, 0, SEEK_END);
}

/*
 * The reason (colo_kmsg_reason()) of the next record of /dev/kmsg on fd
 * that is a dm-colo line about devnum, read into rec; NULL when no record
 * is left.
 */
static const char *kmsg_next(int fd, const char *devnum, char *rec, size_t len)
{
	for (;;) {
		ssize_t n = read(fd, rec, len - 1);
		const char *p;
		char *msg, *nl;

		if (n < 0 && errno == EPIPE)
			continue;	/* overwritten records: go on */
		if (n <= 0)
			return NULL;
		rec[n] = '\0';
		msg = strchr(rec, ';');
		if (!msg)
			continue;
		msg++;
		nl = strchr(msg, '\n');
		if (nl)
			*nl = '\0';
		p = colo_kmsg_reason(msg, devnum);
		if (p)
			return p;
	}
}

/*
 * Read the kernel log written since kmsg_mark() and keep the last dm-colo
 * line about kmsg_dev that contains what (NULL: any): "device-mapper:
 * table: 253:0: colo: <why>" from a refused table, "device-mapper: colo:
 * 253:0: message ... refused: <why>" from a refused message.
 */
static void kmsg_collect(const char *what)
{
	char rec[1024];
	const char *p;

	if (kmsg_fd < 0)
		return;
	while ((p = kmsg_next(kmsg_fd, kmsg_dev, rec, sizeof(rec)))) {
		/*
		 * dm's own line after a target's refused preresume (a
		 * colo-fleece that cannot start) follows the target's reason:
		 * the reason stays.
		 */
		if (reason[0] && strstr(p, "preresume failed, error = "))
			continue;
		if (!what || strstr(p, what))
			snprintf(reason, sizeof(reason), "%s", p);
	}
}

/*
 * kmsg_collect() until it finds a line, for up to KMSG_WAIT_TRIES * 10 ms:
 * the kernel stores its line before the ioctl returns, but a reader of
 * /dev/kmsg stops at a record another CPU is still writing (the
 * ringbuffer is read in order), so the line may show a little later when
 * other devices log at the same time.
 */
#define KMSG_WAIT_TRIES	10

static void kmsg_collect_wait(const char *what)
{
	struct timespec pause = { 0, 10 * 1000 * 1000 };
	int i;

	kmsg_collect(what);
	for (i = 0; !reason[0] && kmsg_fd >= 0 && i < KMSG_WAIT_TRIES; i++) {
		nanosleep(&pause, NULL);
		kmsg_collect(what);
	}
}

static int task_error(struct dm_task *dmt)
{
	int e = dm_task_get_errno(dmt);

	return e > 0 ? -e : -EIO;
}

/*
 * Run a task the kernel may refuse for the device major:minor; keep the
 * kernel's reason if it does.
 */
static int run_refusable(struct dm_task *dmt, uint32_t major, uint32_t minor)
{
	int r = 0;

	kmsg_mark(major, minor);
	if (!dm_task_run(dmt)) {
		r = task_error(dmt);
		kmsg_collect_wait(NULL);
	}
	return r;
}

const char *cdm_log_since(const char *what)
{
	reason[0] = '\0';
	kmsg_collect_wait(what);
	return cdm_reason();
}

int cdm_log_last(const char *devnum, const char *what, char *buf, size_t len)
{
	char rec[1024];
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC), r = -1;
	const char *p;

	if (fd < 0)
		return -1;
	while ((p = kmsg_next(fd, devnum, rec, sizeof(rec))))
		if (strstr(p, what)) {
			snprintf(buf, len, "%s", p);
			r = 0;
		}
	close(fd);
	return r;
}

int cdm_control(void)
{
	char line[256];
	FILE *f;
	int fd, found = 0;

	fd = open("/dev/mapper/control", O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		close(fd);
		return 0;
	}
	if (errno == EACCES || errno == EPERM || errno == EROFS)
		return -EACCES;
	/* No node, or a node without a driver: is device-mapper there? */
	f = fopen("/proc/misc", "r");
	while (f && fgets(line, sizeof(line), f))
		if (strstr(line, " device-mapper\n"))
			found = 1;
	if (f)
		fclose(f);
	if (!found)
		return -ENODEV;
	/* libdevmapper makes the node (as root) when only it is missing. */
	return geteuid() ? -EACCES : 0;
}

int cdm_target_version(const char *target, unsigned int v[3])
{
	struct dm_task *dmt = dm_task_create(DM_DEVICE_LIST_VERSIONS);
	struct dm_versions *t, *last;
	int r = -ENOENT;

	if (!dmt)
		return -ENOMEM;
	if (!dm_task_run(dmt)) {
		r = task_error(dmt);
		goto out;
	}
	t = dm_task_get_versions(dmt);
	do {
		last = t;
		if (!strcmp(t->name, target)) {
			v[0] = t->version[0];
			v[1] = t->version[1];
			v[2] = t->version[2];
			r = 0;
			break;
		}
		t = (struct dm_versions *)((char *)t + t->next);
	} while (last != t);
out:
	dm_task_destroy(dmt);
	return r;
}

int cdm_info(const char *name, struct cdm_info *info)
{
	struct dm_task *dmt = dm_task_create(DM_DEVICE_INFO);
	const char *uuid;
	struct dm_info di;
	int r = 0;

	if (!dmt)
		return -ENOMEM;
	if (!dm_task_set_name(dmt, name) || !dm_task_run(dmt)) {
		r = task_error(dmt);
		goto out;
	}
	if (!dm_task_get_info(dmt, &di)) {
		r = -EIO;
		goto out;
	}
	if (!di.exists) {
		r = -ENXIO;
		goto out;
	}
	info->open_count = di.open_count;
	info->suspended = di.suspended;
	info->event_nr = di.event_nr;
	info->major = di.major;
	info->minor = di.minor;
	uuid = dm_task_get_uuid(dmt);
	snprintf(info->uuid, sizeof(info->uuid), "%s", uuid ? uuid : "");
out:
	dm_task_destroy(dmt);
	return r;
}

int cdm_get_target(const char *name, int status, struct cdm_target *t)
{
	struct dm_task *dmt = dm_task_create(status ? DM_DEVICE_STATUS : DM_DEVICE_TABLE);
	struct dm_info di;
	uint64_t start, len;
	char *type = NULL, *params = NULL;
	void *next;
	int r = 0;

	memset(t, 0, sizeof(*t));
	if (!dmt)
		return -ENOMEM;
	if (!dm_task_set_name(dmt, name) || !dm_task_run(dmt)) {
		r = task_error(dmt);
		goto out;
	}
	if (!dm_task_get_info(dmt, &di) || !di.exists) {
		r = -ENXIO;
		goto out;
	}
	if (!di.live_table) {
		r = -ENODATA;
		goto out;
	}
	next = dm_get_next_target(dmt, NULL, &start, &len, &type, &params);
	if (next || !type) {
		r = -ENOTUNIQ;
		goto out;
	}
	t->start = start;
	t->len = len;
	snprintf(t->type, sizeof(t->type), "%s", type);
	t->params = strdup(params ? params : "");
	if (!t->params)
		r = -ENOMEM;
out:
	dm_task_destroy(dmt);
	return r;
}

void cdm_target_free(struct cdm_target *t)
{
	free(t->params);
	t->params = NULL;
}

/* Make /dev/mapper/NAME: udev does it when it runs (the cookie waits for
 * it); without udev, libdevmapper's fallback or dm_mknodes() does. */
static void make_node(const char *name)
{
	char path[256];
	struct stat sb;

	snprintf(path, sizeof(path), "%s/%s", dm_dir(), name);
	if (stat(path, &sb))
		dm_mknodes(name);
}

/*
 * The legs of a device: the block devices its tables hold (sysfs
 * "slaves": base, hidden, active, metadata, and a mirror's replica).
 */
#define CDM_MAX_LEGS	8

struct cdm_legs {
	unsigned int n;
	unsigned int major[CDM_MAX_LEGS], minor[CDM_MAX_LEGS];
};

static void legs_of(uint32_t major, uint32_t minor, struct cdm_legs *l)
{
	char dir[64], path[384];
	struct dirent *e;
	DIR *d;

	l->n = 0;
	snprintf(dir, sizeof(dir), "/sys/dev/block/%u:%u/slaves", major, minor);
	d = opendir(dir);
	if (!d)
		return;
	while ((e = readdir(d)) && l->n < CDM_MAX_LEGS) {
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s/dev", dir, e->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		if (fscanf(f, "%u:%u", &l->major[l->n], &l->minor[l->n]) == 2)
			l->n++;
		fclose(f);
	}
	closedir(d);
}

static void legs_of_name(const char *name, struct cdm_legs *l)
{
	struct cdm_info info;

	l->n = 0;
	if (!cdm_info(name, &info))
		legs_of(info.major, info.minor, l);
}

static void uevent_change(const char *dir)
{
	char path[384];
	int fd;

	snprintf(path, sizeof(path), "%s/uevent", dir);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (write(fd, "change", 6) != 6 && verbose)
		fprintf(stderr, "colosetup: cannot ask udev to look at %s again\n", dir);
	close(fd);
}

/*
 * A leg's holder came or went: ask udev to look at it, and at its
 * partitions (a guest's partition table on a whole-disk leg), again
 * ("change", as udevadm trigger does), so that 57-dm-colo.rules keeps it
 * from being probed while a colo device holds it, and lets it be probed
 * again after. Nothing to do when udev does not run.
 */
static void udev_retrigger(const struct cdm_legs *l)
{
	char dir[64], part[384];
	struct dirent *e;
	unsigned int i;
	struct stat sb;
	DIR *d;

	if (!dm_udev_get_sync_support())
		return;
	for (i = 0; i < l->n; i++) {
		snprintf(dir, sizeof(dir), "/sys/dev/block/%u:%u", l->major[i], l->minor[i]);
		uevent_change(dir);
		d = opendir(dir);
		if (!d)
			continue;
		while ((e = readdir(d))) {
			snprintf(part, sizeof(part), "%s/%s/partition", dir, e->d_name);
			if (e->d_name[0] != '.' && !stat(part, &sb)) {
				snprintf(part, sizeof(part), "%s/%s", dir, e->d_name);
				uevent_change(part);
			}
		}
		closedir(d);
	}
}

/*
 * The udev flags of each kind of device, in the cookie of the create
 * (the same ones 57-dm-colo.rules sets from the UUID for later events):
 * the VM's disk is probed (blkid, /dev/disk links) but the "other" rules
 * (LVM autoactivation, multipath, kpartx) leave what it holds alone; an
 * ingress is neither probed nor activated, as lvm does for its internal
 * devices.
 */
static uint16_t udev_flags(enum cdm_udev udev)
{
	switch (udev) {
	case CDM_UDEV_GUEST:
		return DM_UDEV_DISABLE_OTHER_RULES_FLAG;
	case CDM_UDEV_PRIVATE:
		return DM_UDEV_DISABLE_DISK_RULES_FLAG | DM_UDEV_DISABLE_OTHER_RULES_FLAG;
	}
	return 0;
}

static int remove_now(const char *name)
{
	struct dm_task *dmt = dm_task_create(DM_DEVICE_REMOVE);
	uint32_t cookie = 0;
	int r = 0;

	if (!dmt)
		return -ENOMEM;
	if (!dm_task_set_name(dmt, name) || !dm_task_set_cookie(dmt, &cookie, 0)) {
		dm_task_destroy(dmt);
		return -ENOMEM;
	}
	if (!dm_task_run(dmt))
		r = task_error(dmt);
	dm_task_destroy(dmt);
	dm_udev_wait(cookie);
	return r;
}

/*
 * As libdevmapper's own create does, in three steps: the device without a
 * table (with its dm UUID), its table, the resume (whose uevent carries the
 * udev flags). The first gives the device's major:minor, the name of its
 * table's refusal in the kernel log.
 */
int cdm_create(const char *name, const char *uuid, enum cdm_udev udev,
	       uint64_t len, const char *type, const char *params)
{
	struct dm_task *dmt = dm_task_create(DM_DEVICE_CREATE);
	struct cdm_legs legs;
	struct cdm_info info;
	uint32_t cookie = 0;
	int r = 0;

	if (!dmt)
		return -ENOMEM;
	if (!dm_task_set_name(dmt, name) || (uuid && !dm_task_set_uuid(dmt, uuid))) {
		dm_task_destroy(dmt);
		return -ENOMEM;
	}
	if (!dm_task_run(dmt))
		r = task_error(dmt);
	dm_task_destroy(dmt);
	if (r)
		return r;
	r = cdm_info(name, &info);
	if (r)
		return r;

	dmt = dm_task_create(DM_DEVICE_RELOAD);
	if (!dmt || !dm_task_set_name(dmt, name) ||
	    !dm_task_add_target(dmt, 0, len, type, params))
		r = -ENOMEM;
	else
		r = run_refusable(dmt, info.major, info.minor);
	if (dmt)
		dm_task_destroy(dmt);
	if (!r) {
		dmt = dm_task_create(DM_DEVICE_RESUME);
		if (!dmt || !dm_task_set_name(dmt, name) ||
		    !dm_task_set_cookie(dmt, &cookie, udev_flags(udev)))
			r = -ENOMEM;
		else
			r = run_refusable(dmt, info.major, info.minor);
		if (dmt)
			dm_task_destroy(dmt);
		dm_udev_wait(cookie);
	}
	if (r) {
		/* Nothing stays: the empty device goes (the reason stays). */
		remove_now(name);
		return r;
	}
	make_node(name);
	legs_of(info.major, info.minor, &legs);
	udev_retrigger(&legs);
	return 0;
}

int cdm_remove(const char *name, int deferred)
{
	struct dm_task *dmt;
	struct cdm_legs legs;
	struct cdm_info info;
	uint32_t cookie = 0;
	int r = cdm_info(name, &info);

	if (r)
		return r;
	dmt = dm_task_create(DM_DEVICE_REMOVE);
	if (!dmt)
		return -ENOMEM;
	if (!dm_task_set_name(dmt, name) ||
	    (deferred && !dm_task_deferred_remove(dmt)) ||
	    !dm_task_set_cookie(dmt, &cookie, 0)) {
		dm_task_destroy(dmt);
		return -ENOMEM;
	}
	/* A deferred remove keeps the device, and its legs held, for now. */
	legs_of(info.major, info.minor, &legs);
	r = run_refusable(dmt, info.major, info.minor);
	dm_task_destroy(dmt);
	dm_udev_wait(cookie);
	if (!r && !deferred)
		udev_retrigger(&legs);
	return r;
}

static int message_once(const char *name, const char *msg, char **out)
{
	struct dm_task *dmt;
	struct cdm_info info;
	int r = cdm_info(name, &info);

	if (r)
		return r;
	dmt = dm_task_create(DM_DEVICE_TARGET_MSG);
	if (!dmt)
		return -ENOMEM;
	if (!dm_task_set_name(dmt, name) || !dm_task_set_sector(dmt, 0) ||
	    !dm_task_set_message(dmt, msg)) {
		dm_task_destroy(dmt);
		return -ENOMEM;
	}
	r = run_refusable(dmt, info.major, info.minor);
	if (!r && out) {
		const char *resp = dm_task_get_message_response(dmt);

		*out = strdup(resp ? resp : "");
		if (!*out)
			r = -ENOMEM;
	}
	dm_task_destroy(dmt);
	return r;
}

/*
 * A table reloaded but not resumed yet refuses messages with EAGAIN (it
 * cannot know which table's state they change; README, Reload): sent
 * again every 10 ms for up to 5 s, then the refusal stands.
 */
#define MESSAGE_EAGAIN_TRIES	500

static int message_retry(const char *name, const char *msg)
{
	return cdm_message_response(name, msg, NULL);
}

int cdm_message_response(const char *name, const char *msg, char **out)
{
	struct timespec pause = { 0, 10 * 1000 * 1000 };
	int r, i;

	for (i = 0;; i++) {
		r = message_once(name, msg, out);
		if (r != -EAGAIN || i == MESSAGE_EAGAIN_TRIES)
			return r;
		nanosleep(&pause, NULL);
	}
}

/* mirror start and stop take and let go of a replica: a leg for udev. */
int cdm_message(const char *name, const char *msg)
{
	struct cdm_legs before, after;
	int r;

	if (strncmp(msg, "mirror ", 7))
		return message_retry(name, msg);
	legs_of_name(name, &before);
	r = message_retry(name, msg);
	if (!r) {
		legs_of_name(name, &after);
		udev_retrigger(&before);
		udev_retrigger(&after);
	}
	return r;
}

int cdm_wait_event(const char *name, uint32_t event_nr)
{
	struct dm_task *dmt = dm_task_create(DM_DEVICE_WAITEVENT);
	int r = 0;

	if (!dmt)
		return -ENOMEM;
	if (!dm_task_set_name(dmt, name) || !dm_task_set_event_nr(dmt, event_nr) ||
	    !dm_task_run(dmt))
		r = task_error(dmt);
	dm_task_destroy(dmt);
	return r;
}

char **cdm_names(int *err)
{
	struct dm_task *dmt = dm_task_create(DM_DEVICE_LIST);
	struct dm_names *n;
	char **names = NULL;
	size_t count = 0;
	unsigned int next = 0;

	*err = 0;
	if (!dmt) {
		*err = -ENOMEM;
		return NULL;
	}
	if (!dm_task_run(dmt)) {
		*err = task_error(dmt);
		goto out;
	}
	names = calloc(1, sizeof(*names));
	n = dm_task_get_names(dmt);
	if (!names || !n) {
		*err = -ENOMEM;
		goto out;
	}
	if (n->dev) {
		do {
			char **more;

			n = (struct dm_names *)((char *)n + next);
			more = realloc(names, (count + 2) * sizeof(*names));
			if (!more) {
				*err = -ENOMEM;
				break;
			}
			names = more;
			names[count] = strdup(n->name);
			names[++count] = NULL;
			next = n->next;
		} while (next);
	}
out:
	dm_task_destroy(dmt);
	if (*err) {
		cdm_names_free(names);
		names = NULL;
	}
	return names;
}

void cdm_names_free(char **names)
{
	char **p;

	if (!names)
		return;
	for (p = names; *p; p++)
		free(*p);
	free(names);
}

/* Does word @word (0-based, space-separated) of @params equal @value? */
static int word_is(const char *params, unsigned int word, const char *value)
{
	size_t n = strlen(value);

	while (word--) {
		params = strchr(params, ' ');
		if (!params)
			return 0;
		params++;
	}
	return !strncmp(params, value, n) && (params[n] == ' ' || !params[n]);
}

int cdm_find(const char *type, int status, int word, const char *value,
	     char *buf, size_t len)
{
	char **names, **p;
	int err, r = -ENOENT;

	names = cdm_names(&err);
	if (!names)
		return err;
	for (p = names; *p && r; p++) {
		struct cdm_target t;

		if (cdm_get_target(*p, status, &t))
			continue;
		if (!strcmp(t.type, type) &&
		    (word < 0 ? !strcmp(t.params, value) : word_is(t.params, word, value))) {
			snprintf(buf, len, "%s", *p);
			r = 0;
		}
		cdm_target_free(&t);
	}
	cdm_names_free(names);
	return r;
}
