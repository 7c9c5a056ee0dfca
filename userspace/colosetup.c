// SPDX-License-Identifier: GPL-2.0
/*
 * colosetup: set up and drive dm-colo devices (COLO block replication).
 *
 * It talks to device-mapper through libdevmapper (colo-dm.c); the pure
 * parts (command line, status line, progress) are in colo-util.c and are
 * unit-tested on the host; the metadata device's commands are in
 * colo-metacmd.c over the reader colo-meta.c. Every refusal ends in one
 * sentence on stderr, "colosetup: NAME: why", and an exit code of
 * colo-util.h.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>

#include "colo-dm.h"
#include "colo-udev.h"
#include "colo-util.h"
#include "colosetup.h"

#define INGRESS_SUFFIX COLO_INGRESS_SUFFIX

static const char usage_text[] =
"Usage: colosetup [-v] COMMAND [ARGS...]\n"
"\n"
"Set up and drive dm-colo COLO block replication devices.\n"
"\n"
"Commands:\n"
"  create NAME --secondary BASE HIDDEN ACTIVE [--chunk SIZE] [--max-copies N]\n"
"              [--metadata DEV [--region-size SIZE]]\n"
"  create NAME --primary BASE [--chunk SIZE] [--max-copies N]\n"
"              [--metadata DEV [--region-size SIZE]]\n"
"        Create /dev/mapper/NAME over BASE (the length of BASE). The chunk\n"
"        SIZE is a power of two from 512 to 1m, e.g. 4k (the default) or\n"
"        64k; the state is kept on the metadata DEV, with write-intent\n"
"        regions of a power of two from the chunk size to 1g (default 4m).\n"
"  ingress NAME\n"
"        Create NAME-ingress, where the primary's writes enter (export it\n"
"        with an NBD server).\n"
"  remove NAME [--force]\n"
"        Remove NAME and its ingress (or only NAME, an ingress or a fleece).\n"
"        Refused while open or while NAME has a fleece; --force removes them\n"
"        when last closed instead.\n"
"  status [--json] NAME\n"
"  status --prometheus [NAME]\n"
"        The status in the node_exporter textfile format (all devices\n"
"        without NAME).\n"
"  list [--json] [-o [+]FIELD,...] [--noheadings] [--separator S]\n"
"       [--sort [-]FIELD,...] [--nameprefixes]\n"
"        The colo devices and their ingresses (-o help lists the fields).\n"
"  checkpoint NAME\n"
"  failover NAME [--wait [--timeout SEC]]\n"
"        Make NAME the primary; --wait follows the commit until done.\n"
"  mirror start NAME DEV [--full|--dirty] [--rate auto|BYTES/S [--min-rate BYTES/S]]\n"
"               [--async MAX_LAG] [--wait [--timeout SEC]]\n"
"        --rate auto: copy at full speed while the guest is idle, at\n"
"        --min-rate (default 10m) while it does I/O.\n"
"        --async: a VM write completes when base did; its copy to the\n"
"        replica follows, at most MAX_LAG bytes (e.g. 4m) in flight.\n"
"  mirror stop NAME\n"
"  mirror async NAME MAX_LAG\n"
"  mirror sync NAME\n"
"        Switch a running mirror's mode (sync waits for the lag to drain).\n"
"  mirror rate NAME auto|none|BYTES/S [--min-rate BYTES/S]\n"
"  verify rate NAME auto|none|BYTES/S [--min-rate BYTES/S]\n"
"        Change the running mirror's or verify's rate, as --rate says it\n"
"        (none: no limit).\n"
"  verify NAME [--rate auto|BYTES/S [--min-rate BYTES/S]] [--wait [--timeout SEC]]\n"
"        Compare base with the in-sync mirror's replica in the background\n"
"        and mark the chunks that differ dirty; --wait prints them at the\n"
"        end. \"mirror stop\", then \"mirror start --dirty\", repairs them.\n"
"  verify stop NAME\n"
"  verify ranges NAME\n"
"        Print the chunks the last verify found different.\n"
"  fleece start NAME BUFFER [--timeout MS] [--read-once] [--needed RANGES|all]\n"
"               [--persistent|--reattach]\n"
"        Create NAME-fleece, a read-only view of NAME's base as it is now\n"
"        (a secondary's: run it right after a checkpoint) for a backup; the\n"
"        chunks written since are saved in BUFFER. A save that takes over MS\n"
"        milliseconds (default 5000) breaks the fleece, never the VM.\n"
"        --persistent keeps the view's map on BUFFER (NAME needs a metadata\n"
"        device); --reattach takes that view back after a crash or a fleece\n"
"        stop, refused once base was written without it.\n"
"  fleece stop NAME [--force]\n"
"  fleece status NAME [--json]\n"
"  fleece needed NAME RANGES|all\n"
"        Keep only these chunks in the view: RANGES such as 0-99,200.\n"
"  wait NAME STATE [--timeout SEC]\n"
"        STATE: done, failed (the failover commit), in-sync, degraded\n"
"        (the mirror), error (health), primary (mode), verified. A commit or\n"
"        mirror that has not started yet is waited for.\n"
"  monitor [NAME...] [--exec HOOK [--hook-timeout SEC]] [--no-syslog]\n"
"          [--interval SEC] [--count N]\n"
"        Watch every colo device (or the NAMEs) in one process: a JSON\n"
"        line per event on stdout, a syslog line, and HOOK run per event.\n"
"  up NAME|--all [--pin] [--colotab FILE]\n"
"        Create the devices of /etc/colo/colotab (colotab(5)), the legs\n"
"        checked against their identities pinned at the first up (--pin:\n"
"        pin them anew); a device already up with the same table is fine.\n"
"  down NAME|--all [--force] [--colotab FILE]\n"
"        Remove them (and their ingresses) as remove does.\n"
"  metadata dump DEV [--json]\n"
"        Show what an inactive metadata device holds.\n"
"  metadata export DEV [--force]\n"
"        Print the sector ranges that may differ from a replica (a\n"
"        returning old primary's leftover marks), for dirty import.\n"
"  metadata wipe DEV [--force]\n"
"        Zero the superblock (refused while in use; --force when a\n"
"        primary's marks would be lost).\n"
"  dirty import NAME [FILE|-]\n"
"        Add the sector ranges of a metadata export to the dirty bitmap\n"
"        of the primary NAME.\n"
"\n"
"Options: -v/--verbose (libdevmapper's messages too), -h/--help, --version.\n"
"\n"
"Sizes and rates are binary: a number of bytes with K, M, G or T (powers of\n"
"1024; KiB, MiB, ... alike), or s for 512-byte sectors; decimal units (kB,\n"
"MB, ...) are refused, and a --rate must be a whole number of KiB/s. Devices\n"
"are paths or MAJ:MIN.\n"
"\n"
"Exit codes: 0 success; 1 refused by the kernel or a failed state (commit\n"
"failed, mirror degraded, also at once after mirror start); 2 bad command\n"
"line; 3 no such device, or not a dm-colo device; 4 device in use; 5 timed\n"
"out; 6 cannot drive dm-colo here (no device-mapper, not root, the dm-colo\n"
"target not loaded or of another major version); 7 up: a leg is not the\n"
"disk pinned at the first up. A bad colotab is exit 2.\n"
"See colosetup(8).\n";

static const char *cmd_name = "colosetup";

/*
 * COLOSETUP_SKIP_CHECKS=1 skips colosetup's own checks of the devices and
 * states, so that the kernel's checks (and their sentences) can be tested.
 */
int skip_checks(void)
{
	const char *s = getenv("COLOSETUP_SKIP_CHECKS");

	return s && !strcmp(s, "1");
}

int fail(int code, const char *name, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", cmd_name);
	if (name)
		fprintf(stderr, "%s: ", name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}

int refused(const char *name, const char *what, int err)
{
	const char *why = cdm_reason();

	if (err == -EBUSY && !why)
		return fail(COLO_EXIT_BUSY, name, "%s refused: the device is busy", what);
	if (why)
		return fail(COLO_EXIT_FAIL, name, "%s refused by the kernel: %s", what, why);
	if (err == -ENXIO || err == -ENODEV)
		return fail(COLO_EXIT_NODEV, name, "%s failed: no such device", what);
	return fail(COLO_EXIT_FAIL, name, "%s failed: %s", what, strerror(-err));
}

/* ---- devices ------------------------------------------------------------ */

/* "/dev/mapper/vm" or "/dev/ram0" for a "major:minor" of a table. */
void devpath(const char *majmin, char *buf, size_t len)
{
	char path[128], line[256];
	FILE *f;

	snprintf(buf, len, "%s", majmin);
	snprintf(path, sizeof(path), "/sys/dev/block/%s/dm/name", majmin);
	f = fopen(path, "r");
	if (f) {
		if (fgets(line, sizeof(line), f)) {
			line[strcspn(line, "\n")] = '\0';
			snprintf(buf, len, "/dev/mapper/%.127s", line);
		}
		fclose(f);
		return;
	}
	snprintf(path, sizeof(path), "/sys/dev/block/%s/uevent", majmin);
	f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "DEVNAME=", 8)) {
			line[strcspn(line, "\n")] = '\0';
			snprintf(buf, len, "/dev/%.127s", line + 8);
		}
	fclose(f);
}

/*
 * The legs of a colo table line ("secondary B H A ..." or "primary B ..."),
 * and its metadata device.
 */
void parse_legs(const char *params, struct colo_dev *d)
{
	if (colo_table_opt(params, "metadata", d->metadata, sizeof(d->metadata)))
		d->metadata[0] = '\0';
	d->nlegs = 0;
	if (!strncmp(params, "secondary ", 10))
		d->nlegs = sscanf(params + 10, "%31s %31s %31s", d->legs[0], d->legs[1],
				  d->legs[2]) == 3 ? 3 : 0;
	else if (!strncmp(params, "primary ", 8))
		d->nlegs = sscanf(params + 8, "%31s", d->legs[0]) == 1 ? 1 : 0;
}

/* The device number of a device argument (a path or MAJ:MIN); 0 or -1. */
int arg_rdev(const char *arg, dev_t *rdev)
{
	struct stat sb;
	unsigned int ma, mi;

	if (!colo_parse_devnum(arg, &ma, &mi)) {
		*rdev = makedev(ma, mi);
		return 0;
	}
	if (stat(arg, &sb) || !S_ISBLK(sb.st_mode))
		return -1;
	*rdev = sb.st_rdev;
	return 0;
}

/* ---- who holds a device ------------------------------------------------- */

struct who {
	char *buf;
	size_t len;
	unsigned int n;
};

__attribute__((format(printf, 2, 3)))
static void who_add(struct who *w, const char *fmt, ...)
{
	size_t used = strlen(w->buf);
	va_list ap;

	if (used + 2 >= w->len)
		return;
	if (w->n++)
		used += snprintf(w->buf + used, w->len - used, "; ");
	va_start(ap, fmt);
	vsnprintf(w->buf + used, w->len - used, fmt, ap);
	va_end(ap);
}

/* A dm device holding devnum (sysfs holders/): which, and as what. */
static void who_dm(struct who *w, const char *holder, const char *devnum)
{
	static const char *const roles[3] = { "base", "hidden", "active" };
	struct cdm_target t;
	struct colo_dev d;
	char path[300], name[160];
	FILE *f;
	unsigned int i;

	snprintf(path, sizeof(path), "/sys/block/%.200s/dm/name", holder);
	f = fopen(path, "r");
	if (!f || !fgets(name, sizeof(name), f)) {
		if (f)
			fclose(f);
		who_add(w, "held by %s", holder);
		return;
	}
	fclose(f);
	name[strcspn(name, "\n")] = '\0';
	if (cdm_get_target(name, 0, &t)) {
		who_add(w, "held by dm device %s", name);
		return;
	}
	if (!strcmp(t.type, "colo")) {
		memset(&d, 0, sizeof(d));
		parse_legs(t.params, &d);
		for (i = 0; i < d.nlegs; i++)
			if (!strcmp(d.legs[i], devnum))
				break;
		/* Not in the table: the mirror's replica (linked since 1.0.0). */
		if (i == d.nlegs && strcmp(d.metadata, devnum))
			who_add(w, "the replica of colo device %s's mirror (colosetup mirror stop %s frees it)",
				name, name);
		else
			who_add(w, "held by colo device %s as its %s (colosetup remove %s frees it)",
				name, i < d.nlegs ? roles[i] : "metadata device", name);
	} else if (!strcmp(t.type, "colo-ingress")) {
		who_add(w, "held by %s, a colo-ingress (colosetup remove %s frees it)", name, name);
	} else {
		who_add(w, "held by dm device %s, a %s target (dmsetup remove %s frees it)",
			name, t.type, name);
	}
	cdm_target_free(&t);
}

/* The processes with rdev open (as fuser), but this one. */
static void who_procs(struct who *w, dev_t rdev)
{
	DIR *proc = opendir("/proc");
	struct dirent *e;
	unsigned int found = 0;
	pid_t self = getpid();

	while (proc && (e = readdir(proc))) {
		char path[300], comm[64] = "?";
		struct dirent *fe;
		struct stat sb;
		DIR *fds;
		FILE *f;
		int has = 0;

		if (!isdigit((unsigned char)e->d_name[0]) || atoi(e->d_name) == self)
			continue;
		snprintf(path, sizeof(path), "/proc/%.32s/fd", e->d_name);
		fds = opendir(path);
		while (fds && !has && (fe = readdir(fds))) {
			snprintf(path, sizeof(path), "/proc/%.32s/fd/%.32s", e->d_name, fe->d_name);
			has = fe->d_name[0] != '.' && !stat(path, &sb) && S_ISBLK(sb.st_mode) &&
			      sb.st_rdev == rdev;
		}
		if (fds)
			closedir(fds);
		if (!has)
			continue;
		if (++found > 3)
			continue;
		snprintf(path, sizeof(path), "/proc/%.32s/comm", e->d_name);
		f = fopen(path, "r");
		if (f) {
			if (fgets(comm, sizeof(comm), f))
				comm[strcspn(comm, "\n")] = '\0';
			fclose(f);
		}
		who_add(w, "open by process %s (%s)", e->d_name, comm);
	}
	if (proc)
		closedir(proc);
	if (found > 3)
		who_add(w, "and %u more processes", found - 3);
}

/* The colo devices whose mirror's replica is rdev (from their "mirror to
 * PATH started" line in the kernel log); the mirroring ones when the log
 * no longer says. For a module that does not link the replica in sysfs
 * (holders/) as its legs are. */
static void who_mirror(struct who *w, dev_t rdev)
{
	char **names, **p, maybe[256] = "";
	int err, n = 0;

	names = cdm_names(&err);
	for (p = names; p && *p; p++) {
		struct cdm_target t;
		struct colo_status st;
		struct cdm_info info;
		char devnum[32], line[512], *to, *end;
		dev_t r;

		if (cdm_get_target(*p, 1, &t))
			continue;
		err = strcmp(t.type, "colo") || colo_parse_status(t.params, &st) ||
		      !strcmp(st.mirror, "none");
		cdm_target_free(&t);
		if (err || cdm_info(*p, &info))
			continue;
		snprintf(devnum, sizeof(devnum), "%u:%u", info.major, info.minor);
		if (!cdm_log_last(devnum, "mirror to ", line, sizeof(line)) &&
		    (to = strstr(line, "mirror to ")) && (end = strstr(to, " started ("))) {
			*end = '\0';
			if (!arg_rdev(to + 10, &r) && r == rdev) {
				who_add(w, "the replica of colo device %s's mirror (colosetup mirror stop %s frees it)",
					*p, *p);
				n = -1;
				break;
			}
			continue;
		}
		snprintf(maybe + strlen(maybe), sizeof(maybe) - strlen(maybe), "%s%s",
			 n++ ? ", " : "", *p);
	}
	cdm_names_free(names);
	if (n > 0)
		who_add(w, "maybe the replica of a colo mirror (mirroring: %s; colosetup mirror stop NAME frees it)",
			maybe);
}

/*
 * Who holds the block device rdev, and what frees it, into buf: dm devices
 * stacked on it (sysfs holders/), mounts, processes with it open, a colo
 * mirror whose replica it is.
 */
static void holders(dev_t rdev, char *buf, size_t len)
{
	struct who w = { buf, len, 0 };
	char devnum[32], path[300], line[1024];
	struct dirent *e;
	DIR *d;
	FILE *f;

	buf[0] = '\0';
	snprintf(devnum, sizeof(devnum), "%u:%u", major(rdev), minor(rdev));
	snprintf(path, sizeof(path), "/sys/dev/block/%s/holders", devnum);
	d = opendir(path);
	while (d && (e = readdir(d)))
		if (e->d_name[0] != '.')
			who_dm(&w, e->d_name, devnum);
	if (d)
		closedir(d);
	f = fopen("/proc/self/mountinfo", "r");
	while (f && fgets(line, sizeof(line), f)) {
		char dev[32], mnt[512];

		if (sscanf(line, "%*s %*s %31s %*s %511s", dev, mnt) == 2 && !strcmp(dev, devnum))
			who_add(&w, "mounted on %s (umount it first)", mnt);
	}
	if (f)
		fclose(f);
	who_procs(&w, rdev);
	if (!w.n)
		who_mirror(&w, rdev);
	if (!w.n)
		snprintf(buf, len, "held by a user colosetup cannot name (swap, md, a kernel user)");
}

/* The private directory of dev_node()'s nodes, removed at exit. */
static char node_dir[64];

static void node_dir_remove(void)
{
	char path[128];
	DIR *d = opendir(node_dir);
	struct dirent *e;

	while (d && (e = readdir(d)))
		if (e->d_name[0] != '.') {
			snprintf(path, sizeof(path), "%s/%.32s", node_dir, e->d_name);
			unlink(path);
		}
	if (d)
		closedir(d);
	rmdir(node_dir);
}

static int is_node_of(const char *path, dev_t dev)
{
	struct stat sb;

	return !stat(path, &sb) && S_ISBLK(sb.st_mode) && sb.st_rdev == dev;
}

/*
 * A node to open for a device argument: arg itself, or for MAJ:MIN (as
 * dm's tables take devices) /dev/block/MAJ:MIN, the kernel's name of the
 * device (/dev/NAME, /dev/mapper/NAME), else a node made for this run in a
 * private directory. NULL when MAJ:MIN is no block device here.
 */
static const char *dev_node(const char *arg)
{
	static char paths[4][192];
	static unsigned int next;
	unsigned int ma, mi;
	char *p = paths[next++ % 4], sys[64];
	dev_t dev;

	if (colo_parse_devnum(arg, &ma, &mi))
		return arg;
	dev = makedev(ma, mi);
	snprintf(sys, sizeof(sys), "/sys/dev/block/%u:%u", ma, mi);
	if (access(sys, F_OK))
		return NULL;
	snprintf(p, 192, "/dev/block/%u:%u", ma, mi);
	if (is_node_of(p, dev))
		return p;
	devpath(arg, p, 192);
	if (is_node_of(p, dev))
		return p;
	if (!node_dir[0]) {
		snprintf(node_dir, sizeof(node_dir), "/tmp/colosetup.XXXXXX");
		if (!mkdtemp(node_dir)) {
			node_dir[0] = '\0';
			return NULL;
		}
		atexit(node_dir_remove);
	}
	snprintf(p, 192, "%s/%u:%u", node_dir, ma, mi);
	if (!is_node_of(p, dev) && mknod(p, S_IFBLK | 0600, dev))
		return NULL;
	return p;
}

int open_blk(const char *role, const char *arg, struct blk *b)
{
	const char *path = dev_node(arg);
	struct stat sb;
	uint64_t bytes;
	char who[512];
	int fd, lbs;

	if (!path)
		return fail(COLO_EXIT_FAIL, NULL, "%s %s: no such block device", role, arg);
	b->path = path;
	if (stat(path, &sb))
		return fail(COLO_EXIT_FAIL, NULL, "%s %s: %s", role, arg, strerror(errno));
	if (!S_ISBLK(sb.st_mode))
		return fail(COLO_EXIT_FAIL, NULL, "%s %s: not a block device", role, arg);
	fd = open(path, O_RDONLY | O_EXCL | O_CLOEXEC);
	if (fd < 0 && errno == EBUSY) {
		holders(sb.st_rdev, who, sizeof(who));
		return fail(COLO_EXIT_BUSY, NULL, "%s %s: in use: %s", role, arg, who);
	}
	if (fd < 0)
		return fail(COLO_EXIT_FAIL, NULL, "%s %s: %s", role, arg, strerror(errno));
	if (ioctl(fd, BLKGETSIZE64, &bytes) || ioctl(fd, BLKSSZGET, &lbs)) {
		int e = errno;

		close(fd);
		return fail(COLO_EXIT_FAIL, NULL, "%s %s: cannot read its size: %s", role,
			    path, strerror(e));
	}
	close(fd);
	b->rdev = sb.st_rdev;
	b->sectors = bytes >> 9;
	b->lbs = lbs;
	return 0;
}

int get_colo(const char *name, struct colo_dev *d)
{
	struct cdm_target t;
	int r;

	memset(d, 0, sizeof(*d));
	r = cdm_get_target(name, 1, &t);
	if (r == -ENXIO)
		return fail(COLO_EXIT_NODEV, name, "no such device");
	if (r == -ENOTUNIQ || r == -ENODATA)
		return fail(COLO_EXIT_NODEV, name, "not a dm-colo device (%s)",
			    r == -ENODATA ? "no live table" : "not a single target");
	if (r)
		return fail(COLO_EXIT_FAIL, name, "cannot read its status: %s", strerror(-r));
	if (strcmp(t.type, "colo")) {
		r = fail(COLO_EXIT_NODEV, name, "not a colo device (its target is %s)", t.type);
		cdm_target_free(&t);
		return r;
	}
	d->sectors = t.len;
	r = colo_parse_status(t.params, &d->st);
	cdm_target_free(&t);
	if (r)
		return fail(COLO_EXIT_FAIL, name,
			    "status line not understood (is dm-colo newer than colosetup?)");
	r = cdm_get_target(name, 0, &t);
	if (r)
		return fail(COLO_EXIT_FAIL, name, "cannot read its table: %s", strerror(-r));
	parse_legs(t.params, d);
	cdm_target_free(&t);
	if (!d->nlegs)
		return fail(COLO_EXIT_FAIL, name, "table not understood");
	return 0;
}

/* The colo-ingress attached to colo device NAME, into buf; 0 or -ENOENT. */
int find_ingress(const char *name, char *buf, size_t len)
{
	return cdm_find("colo-ingress", 1, -1, name, buf, len);
}

/* The colo device whose base is rdev, into buf; 0 or -ENOENT. */
static int find_base_user(dev_t rdev, char *buf, size_t len)
{
	char want[32];

	snprintf(want, sizeof(want), "%u:%u", major(rdev), minor(rdev));
	return cdm_find("colo", 0, 1, want, buf, len);
}

/* ---- create, ingress, remove -------------------------------------------- */

int cmd_create(const struct colo_args *a)
{
	static const char *const roles[3] = { "base", "hidden", "active" };
	const char *paths[3] = { a->base, a->hidden, a->active };
	unsigned int chunk = a->chunk_sectors ? a->chunk_sectors : COLO_DEFAULT_CHUNK_SECTORS;
	unsigned int n = a->primary ? 1 : 3, i, j, region = a->region_sectors;
	struct blk b[4];
	struct cdm_info info;
	dev_t rdev;
	char params[8192], user[128], hs[32], cs[32], rs[32];
	char id[COLO_UUID_ID_LEN + 1], uuid[COLO_UUID_MAX];
	int r;

	if (!cdm_info(a->name, &info))
		return fail(COLO_EXIT_FAIL, a->name, "a device of this name exists");
	/* Before the exclusive opens: a colo device holds its base. */
	if (!skip_checks() && !arg_rdev(a->base, &rdev) &&
	    !find_base_user(rdev, user, sizeof(user)))
		return fail(COLO_EXIT_FAIL, a->name, "base %s is already the base of colo device %s",
			    a->base, user);
	for (i = 0; i < n; i++) {
		r = open_blk(roles[i], paths[i], &b[i]);
		if (r)
			return r;
	}
	if (!b[0].sectors)
		return fail(COLO_EXIT_FAIL, a->name, "base %s is empty", a->base);
	for (i = 0; i < n && !skip_checks(); i++) {
		if (b[i].sectors < b[0].sectors)
			return fail(COLO_EXIT_FAIL, a->name,
				    "%s %s has %" PRIu64 " sectors, it needs at least %" PRIu64
				    " (the size of base)", roles[i], paths[i], b[i].sectors,
				    b[0].sectors);
		if (chunk * 512 < b[i].lbs)
			return fail(COLO_EXIT_FAIL, a->name,
				    "chunk of %u bytes is smaller than the logical block size of %s %s (%u)",
				    chunk * 512, roles[i], paths[i], b[i].lbs);
		for (j = 0; j < i; j++)
			if (b[i].rdev == b[j].rdev)
				return fail(COLO_EXIT_FAIL, a->name,
					    "%s and %s are the same device (%s)", roles[j],
					    roles[i], paths[i]);
	}
	if (a->metadata) {
		r = open_blk("metadata", a->metadata, &b[n]);
		if (r)
			return r;
		for (j = 0; j < n && !skip_checks(); j++)
			if (b[n].rdev == b[j].rdev)
				return fail(COLO_EXIT_FAIL, a->name,
					    "%s and metadata are the same device (%s)", roles[j],
					    a->metadata);
		if (!skip_checks()) {
			r = meta_check_create(a, &b[n], b[0].sectors, chunk, &region);
			if (r)
				return r;
		}
	}
	if (colo_table_params(a, chunk, region, params, sizeof(params)))
		return fail(COLO_EXIT_USAGE, a->name, "device paths too long for a table line");
	r = colo_uuid_new_id(id);
	if (r)
		return fail(COLO_EXIT_FAIL, a->name, "cannot draw a dm UUID: %s", strerror(-r));
	colo_uuid_make(uuid, sizeof(uuid), COLO_ROLE_DEV, id);
	r = cdm_create(a->name, uuid, CDM_UDEV_GUEST, b[0].sectors, "colo", params);
	if (r)
		return refused(a->name, "create", r);
	printf("/dev/mapper/%s: colo %s, %s in %s chunks", a->name,
	       a->primary ? "primary" : "secondary",
	       colo_human(b[0].sectors << 9, hs, sizeof(hs)),
	       colo_human(chunk * 512ULL, cs, sizeof(cs)));
	if (a->metadata)
		printf(", metadata on %s (%s regions)", a->metadata,
		       colo_human((region ? region : COLO_DEFAULT_REGION_SECTORS) * 512ULL,
				  rs, sizeof(rs)));
	putchar('\n');
	return 0;
}

int cmd_ingress(const struct colo_args *a)
{
	char iname[160], params[64], other[128];
	char id[COLO_UUID_ID_LEN + 1], uuid[COLO_UUID_MAX];
	struct colo_dev d;
	struct cdm_info info;
	int r;

	r = get_colo(a->name, &d);
	if (r)
		return r;
	if (strcmp(d.st.mode, "secondary"))
		return fail(COLO_EXIT_FAIL, a->name,
			    "is in primary mode: an ingress is only for a secondary");
	if (!strcmp(d.st.ingress, "attached")) {
		if (find_ingress(a->name, other, sizeof(other)))
			snprintf(other, sizeof(other), "?");
		return fail(COLO_EXIT_FAIL, a->name, "already has an ingress (%s)", other);
	}
	snprintf(iname, sizeof(iname), "%s%s", a->name, INGRESS_SUFFIX);
	if (strlen(iname) > 127)
		return fail(COLO_EXIT_USAGE, a->name, "name too long for \"%s%s\"", a->name,
			    INGRESS_SUFFIX);
	if (!cdm_info(iname, &info))
		return fail(COLO_EXIT_FAIL, iname, "a device of this name exists");
	snprintf(params, sizeof(params), "%s", d.legs[0]);
	/* The ID of its colo device; a new one when that has no COLO- UUID. */
	r = cdm_info(a->name, &info);
	if (r || colo_uuid_id(info.uuid, COLO_ROLE_DEV, id)) {
		r = colo_uuid_new_id(id);
		if (r)
			return fail(COLO_EXIT_FAIL, iname, "cannot draw a dm UUID: %s",
				    strerror(-r));
	}
	colo_uuid_make(uuid, sizeof(uuid), COLO_ROLE_INGRESS, id);
	r = cdm_create(iname, uuid, CDM_UDEV_PRIVATE, d.sectors, "colo-ingress", params);
	if (r)
		return refused(iname, "create", r);
	printf("/dev/mapper/%s: colo-ingress of %s\n", iname, a->name);
	return 0;
}

int remove_one(const char *name, int force)
{
	struct cdm_info info;
	int r, deferred = 0;

	r = cdm_info(name, &info);
	if (r)
		return refused(name, "remove", r);
	if (info.open_count > 0) {
		char who[512];

		if (!force) {
			holders(makedev(info.major, info.minor), who, sizeof(who));
			return fail(COLO_EXIT_BUSY, name,
				    "in use (open %d time%s: %s); close it first, or --force",
				    info.open_count, info.open_count > 1 ? "s" : "", who);
		}
		deferred = 1;
	}
	r = cdm_remove(name, deferred);
	if (r)
		return refused(name, "remove", r);
	if (deferred)
		printf("%s: will be removed when last closed\n", name);
	return 0;
}

int cmd_remove(const struct colo_args *a)
{
	struct cdm_target t;
	struct cdm_info ci, ii;
	struct colo_dev d;
	char iname[160];
	int r, has_ingress;

	r = cdm_get_target(a->name, 1, &t);
	if (r == -ENXIO)
		return fail(COLO_EXIT_NODEV, a->name, "no such device");
	if (r)
		return fail(COLO_EXIT_NODEV, a->name, "not a dm-colo device");
	if (!strcmp(t.type, "colo-ingress") || !strcmp(t.type, "colo-fleece")) {
		cdm_target_free(&t);
		return remove_one(a->name, a->force);
	}
	r = strcmp(t.type, "colo");
	if (r)
		fail(COLO_EXIT_NODEV, a->name, "not a dm-colo device (its target is %s)", t.type);
	cdm_target_free(&t);
	if (r)
		return COLO_EXIT_NODEV;
	/* A fleece holds NAME open: a backup may be reading it. */
	r = get_colo(a->name, &d);
	if (r)
		return r;
	if (!find_fleece(d.legs[0], iname, sizeof(iname)))
		return fail(COLO_EXIT_BUSY, a->name,
			    "has a fleece (%s): colosetup fleece stop %s first", iname, a->name);
	has_ingress = !find_ingress(a->name, iname, sizeof(iname));
	/* Check both before removing either: a refusal changes nothing. */
	r = cdm_info(a->name, &ci);
	if (r)
		return refused(a->name, "remove", r);
	if (has_ingress && cdm_info(iname, &ii))
		has_ingress = 0;
	if (!a->force) {
		char who[512];

		if (has_ingress && ii.open_count > 0) {
			holders(makedev(ii.major, ii.minor), who, sizeof(who));
			return fail(COLO_EXIT_BUSY, iname,
				    "in use (open %d time%s: %s); close it first (is the NBD server still running?), or --force",
				    ii.open_count, ii.open_count > 1 ? "s" : "", who);
		}
		if (ci.open_count > has_ingress) {
			holders(makedev(ci.major, ci.minor), who, sizeof(who));
			return fail(COLO_EXIT_BUSY, a->name,
				    "in use (open %d time%s: %s); close it first, or --force",
				    ci.open_count - has_ingress,
				    ci.open_count - has_ingress > 1 ? "s" : "", who);
		}
	}
	if (has_ingress) {
		r = remove_one(iname, a->force);
		if (r)
			return r;
		if (a->force && ii.open_count > 0) {
			/* The ingress holds NAME until it goes. */
			r = cdm_remove(a->name, 1);
			if (r)
				return refused(a->name, "remove", r);
			printf("%s: will be removed when last closed\n", a->name);
			return 0;
		}
	}
	return remove_one(a->name, a->force);
}

/* ---- status, list --------------------------------------------------------- */

/* "  metadata: /dev/vdc, ok, uuid 0123456789abcdef (previous ...), 3 of 256 regions marked" */
static void print_metadata(const struct colo_dev *d)
{
	const struct colo_status *st = &d->st;
	char dev[160];

	if (!d->metadata[0] && !strcmp(st->metadata, "none")) {
		printf("  metadata: none\n");
		return;
	}
	devpath(d->metadata[0] ? d->metadata : "?", dev, sizeof(dev));
	printf("  metadata: %s, %s", dev, st->metadata);
	if (st->has_uuids)
		printf(", uuid %016" PRIx64 " (previous %016" PRIx64 ")", st->uuid_current,
		       st->uuid_previous);
	if (st->has_regions)
		printf(", %" PRIu64 " of %" PRIu64 " regions marked", st->regions_marked,
		       st->regions);
	putchar('\n');
}

/* "  rate:     12.5 MiB/s (auto, at least 10 MiB/s)" of a running pass. */
static void print_rate(uint64_t kib, const char *limit)
{
	char r[32], m[32];

	printf("  rate:     %s/s", colo_human(kib * 1024, r, sizeof(r)));
	if (!strncmp(limit, "auto:", 5))
		printf(" (auto, at least %s/s)\n",
		       colo_human(strtoull(limit + 5, NULL, 10) * 1024, m, sizeof(m)));
	else if (strcmp(limit, "none"))
		printf(" (at most %s/s)\n",
		       colo_human(strtoull(limit, NULL, 10) * 1024, m, sizeof(m)));
	else
		printf(" (no limit)\n");
}

static void print_status(const char *name, const struct colo_dev *d, const char *iname)
{
	const struct colo_status *st = &d->st;
	char hs[32], cs[32], bs[32], leg[3][160];
	unsigned int i;

	for (i = 0; i < d->nlegs; i++)
		devpath(d->legs[i], leg[i], sizeof(leg[i]));
	printf("%s: colo %s\n", name, st->mode);
	if (st->has_dm_uuid)
		printf("  dm uuid:  %s\n", st->dm_uuid[0] ? st->dm_uuid : "none");
	printf("  size:     %s (%" PRIu64 " sectors), %" PRIu64 " chunks of %s\n",
	       colo_human(d->sectors << 9, hs, sizeof(hs)), d->sectors, st->chunks,
	       colo_human(st->chunk * 512ULL, cs, sizeof(cs)));
	printf("  base:     %s\n", leg[0]);
	if (d->nlegs == 3) {
		printf("  hidden:   %s\n", leg[1]);
		printf("  active:   %s\n", leg[2]);
	}
	if (!strcmp(st->mode, "secondary") || st->active || st->hidden)
		printf("  overlay:  %" PRIu64 " active, %" PRIu64 " hidden chunks\n",
		       st->active, st->hidden);
	if (strcmp(st->commit, "none"))
		printf("  commit:   %s, %" PRIu64 " of %" PRIu64 " chunks\n", st->commit,
		       st->committed, st->to_commit);
	if (!strcmp(st->mode, "primary"))
		printf("  dirty:    %" PRIu64 " chunks%s\n", st->dirty,
		       !strcmp(st->coverage, "unknown") ?
		       " (may miss chunks: a resync must be --full)" : "");
	if (strcmp(st->mirror, "none"))
		printf("  mirror:   %s, %" PRIu64 " of %" PRIu64 " chunks\n", st->mirror,
		       st->mirrored, st->to_mirror);
	if (strcmp(st->mirror, "none") && !strcmp(st->mirror_mode, "async"))
		printf("  mode:     async, lag %" PRIu64 " of %" PRIu64 " KiB, %" PRIu64
		       " writes ahead\n", st->lag_kib, st->max_lag_kib, st->ahead);
	else if (strcmp(st->mirror, "none") && !strcmp(st->mirror_mode, "sync"))
		printf("  mode:     sync, %" PRIu64 " writes ahead\n", st->ahead);
	else if (!strcmp(st->mode, "primary"))
		printf("  mirror:   none\n");
	if (st->has_rates && !strcmp(st->mirror, "copying"))
		print_rate(st->mirror_kib, st->mirror_limit);
	if (strcmp(st->verify, "none"))
		printf("  verify:   %s, %" PRIu64 " of %" PRIu64 " chunks compared, %" PRIu64
		       " different\n", st->verify, st->verified, st->to_verify,
		       st->verify_different);
	if (st->has_rates && !strcmp(st->verify, "running"))
		print_rate(st->verify_kib, st->verify_limit);
	if (!strcmp(st->ingress, "attached"))
		printf("  ingress:  %s\n", iname ? iname : "attached");
	else if (!strcmp(st->mode, "secondary"))
		printf("  ingress:  none\n");
	print_fleece_line(d);
	printf("  health:   %s\n", st->health);
	printf("  memory:   %s of bitmaps\n", colo_human(st->bitmap_bytes, bs, sizeof(bs)));
	print_metadata(d);
}

static void json_colo(const char *name, const struct colo_dev *d, const char *iname)
{
	char leg[3][160], meta[160];
	const char *legs[3] = { NULL, NULL, NULL };
	unsigned int i;

	for (i = 0; i < d->nlegs; i++) {
		devpath(d->legs[i], leg[i], sizeof(leg[i]));
		legs[i] = leg[i];
	}
	if (d->metadata[0])
		devpath(d->metadata, meta, sizeof(meta));
	colo_status_json(stdout, name, d->sectors, &d->st, legs, iname,
			 d->metadata[0] ? meta : NULL);
}

/* uuid: the ingress's dm UUID ("" for none), or NULL to leave it out. */
static void json_ingress(const char *name, const char *colo, const char *uuid)
{
	printf("{\"schema\":%d,\"name\":", COLO_JSON_SCHEMA);
	colo_json_str(stdout, name);
	if (uuid) {
		fputs(",\"dm_uuid\":", stdout);
		if (uuid[0])
			colo_json_str(stdout, uuid);
		else
			fputs("null", stdout);
	}
	fputs(",\"target\":\"colo-ingress\",\"colo\":", stdout);
	if (strcmp(colo, "detached"))
		colo_json_str(stdout, colo);
	else
		fputs("null", stdout);
	fputc('}', stdout);
}

static int cmd_status(const struct colo_args *a)
{
	struct cdm_target t;
	struct cdm_info info;
	struct colo_dev d;
	char iname[160];
	int r, has;

	if (a->prometheus)
		return cmd_status_prometheus(a);
	r = cdm_get_target(a->name, 1, &t);
	if (!r && !strcmp(t.type, "colo-ingress")) {
		if (a->json) {
			if (cdm_info(a->name, &info))
				info.uuid[0] = '\0';
			json_ingress(a->name, t.params, info.uuid);
			putchar('\n');
		} else {
			printf("%s: colo-ingress, %s\n", a->name, strcmp(t.params, "detached") ?
			       t.params : "detached (its colo device's table was replaced)");
		}
		cdm_target_free(&t);
		return 0;
	}
	if (!r && !strcmp(t.type, "colo-fleece")) {
		cdm_target_free(&t);
		return cmd_fleece_status(a);
	}
	if (!r)
		cdm_target_free(&t);
	r = get_colo(a->name, &d);
	if (r)
		return r;
	if (!cdm_info(a->name, &info)) {
		d.st.has_dm_uuid = 1;
		snprintf(d.st.dm_uuid, sizeof(d.st.dm_uuid), "%s", info.uuid);
	}
	has = !strcmp(d.st.ingress, "attached") && !find_ingress(a->name, iname, sizeof(iname));
	if (a->json) {
		measure_rate(a->name, &d);
		json_colo(a->name, &d, has ? iname : NULL);
		putchar('\n');
	} else {
		print_status(a->name, &d, has ? iname : NULL);
	}
	return 0;
}

/* ---- waiting ------------------------------------------------------------- */

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * A child process blocks in DM_DEVICE_WAITEVENT and writes a byte to the
 * pipe at each dm event of NAME, so the loop below wakes on state changes
 * at once, while a timeout redraws the progress now and then.
 */
static pid_t start_event_child(const char *name, uint32_t ev, int *rfd)
{
	int pfd[2];
	pid_t pid;

	if (pipe(pfd))
		return -1;
	pid = fork();
	if (pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return -1;
	}
	if (!pid) {
		struct cdm_info info;
		int null = open("/dev/null", O_RDWR);

		/* Die with the parent, and do not hold its output open. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() == 1)
			_exit(0);
		if (null >= 0) {
			dup2(null, STDOUT_FILENO);
			dup2(null, STDERR_FILENO);
			close(null);
		}
		close(pfd[0]);
		for (;;) {
			if (cdm_wait_event(name, ev) || cdm_info(name, &info))
				_exit(0);
			if (write(pfd[1], "e", 1) != 1)
				_exit(0);
			ev = info.event_nr;
		}
	}
	close(pfd[1]);
	*rfd = pfd[0];
	return pid;
}

static int wait_state(const char *name, enum colo_state s, unsigned int timeout)
{
	int tty = isatty(STDOUT_FILENO), r = COLO_EXIT_FAIL, rfd = -1, drawn = 0;
	int started = 0, told = 0;
	double start = now(), last_line = 0, t0 = start;
	uint64_t d0 = 0;
	char last_state[64] = "";
	const char *what = s == STATE_DONE ? "commit" : s == STATE_VERIFIED ? "verify" : "mirror";
	struct cdm_info info;
	pid_t child;

	r = cdm_info(name, &info);
	if (r)
		return r == -ENXIO ? fail(COLO_EXIT_NODEV, name, "no such device") :
			refused(name, "wait", r);
	child = start_event_child(name, info.event_nr, &rfd);
	if (child < 0)
		return fail(COLO_EXIT_FAIL, name, "cannot start the event waiter: %s",
			    strerror(errno));
	for (;;) {
		struct colo_dev d;
		struct pollfd pfd = { .fd = rfd, .events = POLLIN };
		uint64_t done, total;
		const char *why;
		char bar[128], buf[16], state[64];
		double t = now();
		int c, has;

		c = get_colo(name, &d);
		if (c) {
			r = c;
			break;
		}
		c = colo_state_check(&d.st, s, &why);
		has = colo_state_progress(&d.st, s, &done, &total);
		snprintf(state, sizeof(state), "%s/%s/%s", d.st.commit, d.st.mirror, d.st.verify);
		if (has && tty) {
			double rate = t > t0 ? (done - d0) * d.st.chunk * 512.0 / (t - t0) : 0;

			colo_progress_bar(bar, sizeof(bar), done, total, 40);
			printf("\r%s: %s %s %s/s   ", name, what,
			       bar, colo_human(rate > 0 ? (uint64_t)rate : 0, buf, sizeof(buf)));
			fflush(stdout);
			drawn = 1;
			if (t - t0 > 2) {
				t0 = t;
				d0 = done;
			}
		} else if (has && (strcmp(state, last_state) || t - last_line >= 5 || c)) {
			printf("%s: %s %s, %" PRIu64 "/%" PRIu64 " chunks\n", name, what,
			       s == STATE_DONE ? d.st.commit :
			       s == STATE_VERIFIED ? d.st.verify : d.st.mirror, done, total);
			fflush(stdout);
			last_line = t;
		}
		snprintf(last_state, sizeof(last_state), "%s", state);
		/*
		 * What s needs has not started yet: wait for it. Once it ran,
		 * its end without reaching s fails, except for degraded, which
		 * a watcher waits for across mirror stops and starts.
		 */
		if (!c && why && started && s != STATE_DEGRADED) {
			r = fail(COLO_EXIT_FAIL, name, "the %s ended before it was %s",
				 s == STATE_IN_SYNC ? "mirror" : "failover commit",
				 colo_state_name(s));
			break;
		}
		if (!c && why && !told) {
			printf("%s: %s; waiting\n", name, why);
			fflush(stdout);
			told = 1;
		}
		if (!c && !why)
			started = 1;
		if (c > 0) {
			r = 0;
			break;
		}
		if (c < 0) {
			if (drawn)
				putchar('\n');
			drawn = 0;
			r = fail(COLO_EXIT_FAIL, name, "%s", why);
			break;
		}
		if (timeout && t - start >= timeout) {
			if (drawn)
				putchar('\n');
			drawn = 0;
			r = fail(COLO_EXIT_TIMEOUT, name, "not %s after %u s", colo_state_name(s),
				 timeout);
			break;
		}
		if (poll(&pfd, 1, tty ? 250 : 1000) > 0) {
			char b[64];

			if (read(rfd, b, sizeof(b)) <= 0) {
				/* The waiter ended (device gone?): poll slowly. */
				close(rfd);
				rfd = -1;
			}
		}
	}
	if (drawn)
		putchar('\n');
	if (!r)
		printf("%s: %s\n", name, colo_state_name(s));
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	if (rfd >= 0)
		close(rfd);
	return r;
}

/* ---- messages ------------------------------------------------------------ */

int send_msg(const char *name, const char *msg, const char *what)
{
	int r = cdm_message(name, msg);

	return r ? refused(name, what, r) : 0;
}

static int cmd_checkpoint(const struct colo_args *a)
{
	struct colo_dev d;
	int r = get_colo(a->name, &d);

	if (r)
		return r;
	if (strcmp(d.st.mode, "secondary") && !skip_checks())
		return fail(COLO_EXIT_FAIL, a->name, "checkpoint refused: the device is primary");
	return send_msg(a->name, "checkpoint", "checkpoint");
}

static int cmd_failover(const struct colo_args *a)
{
	struct colo_dev d;
	int r = get_colo(a->name, &d);

	if (r)
		return r;
	if (!strcmp(d.st.mode, "primary") && strcmp(d.st.commit, "failed") && !skip_checks())
		return fail(COLO_EXIT_FAIL, a->name,
			    "failover refused: already primary (commit %s)", d.st.commit);
	if (!strcmp(d.st.mode, "primary"))
		printf("%s: resuming the failover commit\n", a->name);
	r = send_msg(a->name, "failover", "failover");
	if (r || !a->wait)
		return r;
	return wait_state(a->name, STATE_DONE, a->timeout);
}

/*
 * After mirror start without --wait: up to MIRROR_SETTLE_MS, until the
 * first chunk is copied, for a mirror that degrades at once (a replica
 * that fails every write): that is exit 1 with the kernel's reason.
 */
#define MIRROR_SETTLE_MS 2000

static int mirror_settle(const char *name)
{
	struct timespec pause = { 0, 20 * 1000 * 1000 };
	double end = now() + MIRROR_SETTLE_MS / 1000.0;
	struct colo_dev d;

	for (;;) {
		const char *why, *p;
		int r = get_colo(name, &d);

		if (r)
			return r;
		if (!strcmp(d.st.mirror, "degraded")) {
			char because[300] = "";

			why = cdm_log_since("mirror degraded: ");
			p = why ? strstr(why, "mirror degraded: ") : NULL;
			if (p)
				snprintf(because, sizeof(because), " (%.*s)",
					 (int)strcspn(p + 17, ";"), p + 17);
			return fail(COLO_EXIT_FAIL, name,
				    "mirror degraded at once%s: the chunks stay dirty; check the replica, then mirror start again",
				    because);
		}
		if (strcmp(d.st.mirror, "copying") || d.st.mirrored || now() >= end)
			return 0;
		nanosleep(&pause, NULL);
	}
}

/*
 * The rate words of mirror start and verify start: " <KiB/s>", " auto",
 * " auto min_rate <KiB/s>" or nothing.
 */
static void rate_words(const struct colo_args *a, char *buf, size_t len)
{
	if (a->rate_auto && a->min_rate_kib)
		snprintf(buf, len, " auto min_rate %" PRIu64, a->min_rate_kib);
	else if (a->rate_auto)
		snprintf(buf, len, " auto");
	else if (a->rate_kib)
		snprintf(buf, len, " %" PRIu64, a->rate_kib);
	else
		buf[0] = '\0';
}

static int cmd_mirror_start(const struct colo_args *a)
{
	char msg[512], rate[64], lag[40] = "";
	const char *dev = a->dev;
	struct colo_dev d;
	struct blk b;
	int r = get_colo(a->name, &d);

	if (r)
		return r;
	if (skip_checks()) {
		dev = dev_node(a->dev) ? dev_node(a->dev) : a->dev;
		goto send;
	}
	if (strcmp(d.st.mode, "primary"))
		return fail(COLO_EXIT_FAIL, a->name,
			    "mirror start refused: the device is secondary (fail over first)");
	if (!strcmp(d.st.commit, "running") || !strcmp(d.st.commit, "failed"))
		return fail(COLO_EXIT_FAIL, a->name,
			    "mirror start refused: the failover commit is not done");
	if (!strcmp(d.st.mirror, "copying") || !strcmp(d.st.mirror, "in-sync"))
		return fail(COLO_EXIT_FAIL, a->name, "mirror start refused: already mirroring");
	if (a->dirty && !strcmp(d.st.coverage, "unknown"))
		return fail(COLO_EXIT_FAIL, a->name,
			    "mirror start refused: the dirty bitmap may miss chunks that differ (no failover and no finished full sync on this table, or one cut short): use --full");
	r = open_blk("replica", a->dev, &b);
	if (r)
		return r;
	if (b.sectors < d.sectors)
		return fail(COLO_EXIT_FAIL, a->name,
			    "replica %s has %" PRIu64 " sectors, it needs at least %" PRIu64,
			    a->dev, b.sectors, d.sectors);
	dev = b.path;
send:
	rate_words(a, rate, sizeof(rate));
	if (a->lag_kib)
		snprintf(lag, sizeof(lag), " async %" PRIu64, a->lag_kib);
	snprintf(msg, sizeof(msg), "mirror start %s %s%s%s", dev, a->dirty ? "dirty" : "full",
		 rate, lag);
	r = send_msg(a->name, msg, "mirror start");
	if (r)
		return r;
	if (a->wait)
		return wait_state(a->name, STATE_IN_SYNC, a->timeout);
	return mirror_settle(a->name);
}

static int cmd_mirror_stop(const struct colo_args *a)
{
	struct colo_dev d;
	int r = get_colo(a->name, &d);

	if (r)
		return r;
	if (!strcmp(d.st.mirror, "none") && !skip_checks())
		return fail(COLO_EXIT_FAIL, a->name, "mirror stop refused: no mirror");
	return send_msg(a->name, "mirror stop", "mirror stop");
}

/*
 * mirror async NAME MAX_LAG, mirror sync NAME: the running mirror's mode.
 * The kernel waits for the background writes to drain (sync) or to fit a
 * lower MAX_LAG before it answers.
 */
static int cmd_mirror_mode(const struct colo_args *a)
{
	const char *what = a->cmd == CMD_MIRROR_SYNC ? "mirror sync" : "mirror async";
	struct colo_dev d;
	char msg[64];
	int r = get_colo(a->name, &d);

	if (r)
		return r;
	if (!skip_checks()) {
		if (!d.st.has_mirror_mode)
			return fail(COLO_EXIT_FAIL, a->name,
				    "%s refused: the loaded dm-colo module has no async mirror", what);
		if (strcmp(d.st.mirror, "copying") && strcmp(d.st.mirror, "in-sync"))
			return fail(COLO_EXIT_FAIL, a->name,
				    "%s refused: no running mirror (%s)", what, d.st.mirror);
	}
	if (a->cmd == CMD_MIRROR_SYNC)
		snprintf(msg, sizeof(msg), "mirror sync");
	else
		snprintf(msg, sizeof(msg), "mirror async %" PRIu64, a->lag_kib);
	return send_msg(a->name, msg, what);
}

/*
 * mirror rate NAME RATE, verify rate NAME RATE [--min-rate MIN]: the
 * running pass goes on at the new limit (a mirror in sync keeps it for
 * the copies a failed write or a dirty import starts again).
 */
static int cmd_pass_rate(const struct colo_args *a)
{
	const char *what = a->cmd == CMD_MIRROR_RATE ? "mirror rate" : "verify rate";
	struct colo_dev d;
	char msg[96];
	int r = get_colo(a->name, &d);

	if (r)
		return r;
	if (colo_rate_message(a, msg, sizeof(msg)))
		return fail(COLO_EXIT_USAGE, a->name, "%s: no message for these words", what);
	if (!skip_checks()) {
		if (!d.st.has_rates)
			return fail(COLO_EXIT_FAIL, a->name,
				    "%s refused: the loaded dm-colo module has no rate messages", what);
		if (a->cmd == CMD_MIRROR_RATE && strcmp(d.st.mirror, "copying") &&
		    strcmp(d.st.mirror, "in-sync"))
			return fail(COLO_EXIT_FAIL, a->name,
				    "mirror rate refused: no running mirror (%s)", d.st.mirror);
		if (a->cmd == CMD_VERIFY_RATE && strcmp(d.st.verify, "running"))
			return fail(COLO_EXIT_FAIL, a->name,
				    "verify rate refused: no verify is running (%s)", d.st.verify);
	}
	return send_msg(a->name, msg, what);
}

/* ---- verify -------------------------------------------------------------- */

/*
 * Print the chunks the last verify found different, one range a line, as
 * "verify ranges" returns them a buffer at a time ("next CHUNK" says where
 * the next one starts). Returns 0 or an exit code.
 */
static int print_ranges(const char *name, unsigned int chunk, uint64_t sectors)
{
	char msg[64], *reply, *tok, *save;
	uint64_t from = 0, first, last;
	int r, more, n;

	do {
		snprintf(msg, sizeof(msg), "verify ranges %" PRIu64, from);
		r = cdm_message_response(name, msg, &reply);
		if (r)
			return refused(name, "verify ranges", r);
		more = 0;
		n = 0;
		for (tok = strtok_r(reply, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save)) {
			char c;

			if (!strcmp(tok, "next")) {
				tok = strtok_r(NULL, " \n", &save);
				/* Each reply holds a range at least: no loop. */
				if (!tok || sscanf(tok, "%" SCNu64 "%c", &from, &c) != 1 || !n)
					goto bad;
				more = 1;
				break;
			}
			if (sscanf(tok, "%" SCNu64 "-%" SCNu64 "%c", &first, &last, &c) != 2) {
				if (sscanf(tok, "%" SCNu64 "%c", &first, &c) != 1)
					goto bad;
				last = first;
			}
			n++;
			printf("different: chunks %" PRIu64 "-%" PRIu64 " (sectors %" PRIu64 "-%" PRIu64
			       ")\n", first, last, first * chunk,
			       ((last + 1) * chunk < sectors ? (last + 1) * chunk : sectors) - 1);
		}
		free(reply);
	} while (more);
	return 0;
bad:
	free(reply);
	return fail(COLO_EXIT_FAIL, name, "verify ranges: the kernel's reply is not understood");
}

static int cmd_verify(const struct colo_args *a)
{
	char msg[96], rate[64];
	struct colo_dev d;
	int r = get_colo(a->name, &d);

	if (r)
		return r;
	if (skip_checks())
		goto send;
	if (strcmp(d.st.mode, "primary"))
		return fail(COLO_EXIT_FAIL, a->name,
			    "verify refused: the device is secondary (it has no replica)");
	if (!strcmp(d.st.commit, "running") || !strcmp(d.st.commit, "failed"))
		return fail(COLO_EXIT_FAIL, a->name, "verify refused: the failover commit is not done");
	if (!strcmp(d.st.mirror, "none"))
		return fail(COLO_EXIT_FAIL, a->name,
			    "verify refused: no mirror, no replica to compare with (mirror start first)");
	if (strcmp(d.st.mirror, "in-sync"))
		return fail(COLO_EXIT_FAIL, a->name, "verify refused: the mirror is %s, not in-sync",
			    d.st.mirror);
	if (!strcmp(d.st.verify, "running"))
		return fail(COLO_EXIT_FAIL, a->name,
			    "verify refused: a verify is running (%" PRIu64 " of %" PRIu64
			    " chunks; verify stop NAME ends it)", d.st.verified, d.st.to_verify);
send:
	rate_words(a, rate, sizeof(rate));
	snprintf(msg, sizeof(msg), "verify start%s", rate);
	r = send_msg(a->name, msg, "verify");
	if (r)
		return r;
	if (!a->wait) {
		printf("%s: verify started (%" PRIu64 " chunks); colosetup wait %s verified\n",
		       a->name, d.st.chunks, a->name);
		return 0;
	}
	r = wait_state(a->name, STATE_VERIFIED, a->timeout);
	if (r)
		return r;
	r = get_colo(a->name, &d);
	if (r)
		return r;
	printf("%s: %" PRIu64 " of %" PRIu64 " chunks compared, %" PRIu64 " different\n", a->name,
	       d.st.verified, d.st.to_verify, d.st.verify_different);
	if (!d.st.verify_different)
		return 0;
	r = print_ranges(a->name, d.st.chunk, d.sectors);
	if (!r)
		printf("%s: marked dirty; to copy them from base to the replica: colosetup mirror stop %s; colosetup mirror start %s REPLICA --dirty\n",
		       a->name, a->name, a->name);
	return r;
}

static int cmd_verify_ranges(const struct colo_args *a)
{
	struct colo_dev d;
	int r = get_colo(a->name, &d);

	if (r)
		return r;
	if (!strcmp(d.st.verify, "none") && !skip_checks())
		return fail(COLO_EXIT_FAIL, a->name, "verify ranges: no verify ran on this device");
	printf("%s: verify %s, %" PRIu64 " of %" PRIu64 " chunks compared, %" PRIu64 " different\n",
	       a->name, d.st.verify, d.st.verified, d.st.to_verify, d.st.verify_different);
	return print_ranges(a->name, d.st.chunk, d.sectors);
}

static int cmd_verify_stop(const struct colo_args *a)
{
	struct colo_dev d;
	int r = get_colo(a->name, &d);

	if (r)
		return r;
	if (strcmp(d.st.verify, "running") && !skip_checks())
		return fail(COLO_EXIT_FAIL, a->name, "verify stop refused: no verify is running");
	return send_msg(a->name, "verify stop", "verify stop");
}

static int cmd_wait(const struct colo_args *a)
{
	struct colo_dev d;
	int r = get_colo(a->name, &d);

	return r ? r : wait_state(a->name, a->state, a->timeout);
}

/*
 * Can colosetup drive dm-colo here? device-mapper, root, and a dm-colo
 * target of a major version it knows. Else one sentence with the next step,
 * and COLO_EXIT_ENV.
 */
static int dm_ready(void)
{
	unsigned int v[3];
	int r = cdm_control();

	if (r == -ENODEV)
		return fail(COLO_EXIT_ENV, NULL, "device-mapper is not available: modprobe dm-mod");
	if (!r)
		r = cdm_target_version("colo", v);
	if (r == -EACCES || r == -EPERM)
		return fail(COLO_EXIT_ENV, NULL,
			    "permission denied: run as root (device-mapper needs CAP_SYS_ADMIN)");
	if (r == -ENOENT)
		return fail(COLO_EXIT_ENV, NULL, "the dm-colo target is not loaded: modprobe dm-colo");
	if (r)
		return fail(COLO_EXIT_ENV, NULL, "cannot list device-mapper's targets: %s",
			    strerror(-r));
	if (colo_target_version_ok(v))
		return fail(COLO_EXIT_ENV, NULL,
			    "the loaded dm-colo target is version %u.%u.%u, colosetup %s drives version %d.x only: install dm-colo and colosetup of one release",
			    v[0], v[1], v[2], COLO_VERSION, COLO_VERSION_MAJOR);
	return 0;
}

/* colosetup's version and the loaded target's (or why there is none). */
static int print_version(void)
{
	unsigned int v[3];
	int r = cdm_control();

	printf("colosetup %s\n", COLO_VERSION);
	if (r == -ENODEV) {
		printf("dm-colo target: none (device-mapper is not available)\n");
		return 0;
	}
	if (!r)
		r = cdm_target_version("colo", v);
	if (r == -ENOENT)
		printf("dm-colo target: not loaded\n");
	else if (r)
		printf("dm-colo target: unknown (%s)\n",
		       r == -EACCES || r == -EPERM ? "permission denied: run as root" :
		       strerror(-r));
	else
		printf("dm-colo target %u.%u.%u%s\n", v[0], v[1], v[2],
		       colo_target_version_ok(v) ? " (not driven by this colosetup: another major version)" :
		       "");
	return 0;
}

int main(int argc, char **argv)
{
	struct colo_args a;
	char err[256];
	int r;

	r = colo_parse_args(argc, argv, &a, err, sizeof(err));
	if (r) {
		fprintf(stderr, "%s: %s\n", cmd_name, err);
		return r;
	}
	switch (a.cmd) {
	case CMD_HELP:
		fputs(usage_text, stdout);
		return 0;
	case CMD_VERSION:
		cdm_init(a.verbose);
		return print_version();
	default:
		break;
	}
	cdm_init(a.verbose);
	switch (a.cmd) {
	case CMD_META_DUMP:
	case CMD_META_EXPORT:
	case CMD_META_WIPE:
		break;		/* the metadata device alone: no device-mapper */
	case CMD_LIST:
		/* list -o help: the fields alone (bash completion, any user) */
		if (a.fields && !strcmp(a.fields, "help"))
			break;
		/* fall through */
	default:
		r = dm_ready();
		if (r)
			return r;
	}
	switch (a.cmd) {
	case CMD_CREATE:
		return cmd_create(&a);
	case CMD_INGRESS:
		return cmd_ingress(&a);
	case CMD_REMOVE:
		return cmd_remove(&a);
	case CMD_STATUS:
		return cmd_status(&a);
	case CMD_LIST:
		return cmd_list(&a);
	case CMD_CHECKPOINT:
		return cmd_checkpoint(&a);
	case CMD_FAILOVER:
		return cmd_failover(&a);
	case CMD_MIRROR_START:
		return cmd_mirror_start(&a);
	case CMD_MIRROR_STOP:
		return cmd_mirror_stop(&a);
	case CMD_MIRROR_ASYNC:
	case CMD_MIRROR_SYNC:
		return cmd_mirror_mode(&a);
	case CMD_MIRROR_RATE:
	case CMD_VERIFY_RATE:
		return cmd_pass_rate(&a);
	case CMD_WAIT:
		return cmd_wait(&a);
	case CMD_VERIFY:
		return cmd_verify(&a);
	case CMD_VERIFY_STOP:
		return cmd_verify_stop(&a);
	case CMD_VERIFY_RANGES:
		return cmd_verify_ranges(&a);
	case CMD_META_DUMP:
		return cmd_metadata_dump(&a);
	case CMD_META_EXPORT:
		return cmd_metadata_export(&a);
	case CMD_META_WIPE:
		return cmd_metadata_wipe(&a);
	case CMD_DIRTY_IMPORT:
		return cmd_dirty_import(&a);
	case CMD_MONITOR:
		return cmd_monitor(&a);
	case CMD_UP:
		return cmd_up(&a);
	case CMD_DOWN:
		return cmd_down(&a);
	case CMD_FLEECE_START:
		return cmd_fleece_start(&a);
	case CMD_FLEECE_STOP:
		return cmd_fleece_stop(&a);
	case CMD_FLEECE_STATUS:
		return cmd_fleece_status(&a);
	case CMD_FLEECE_NEEDED:
		return cmd_fleece_needed(&a);
	default:
		return COLO_EXIT_USAGE;
	}
}
