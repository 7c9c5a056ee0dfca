// SPDX-License-Identifier: GPL-2.0
/*
 * colo-fuzz: a fuzzer for dm-colo's table lines and messages.
 *
 * It talks to device-mapper with the DM ioctls directly (no process per
 * input), builds inputs from valid ones and mutates them (words dropped,
 * duplicated, swapped or replaced; numbers 0, -1, huge, 2^64, hex, not a
 * power of two; optional-argument counts wrong; unknown options; device
 * paths nonexistent, a char device, a directory, the same device twice,
 * very long, with odd bytes, major:minor forms; very long lines; odd
 * whitespace and backslash escapes; start and length wrong), and for every
 * input asks an oracle whether dm-colo must accept it (README "Tables",
 * "Messages"; the dm core's own rules for splitting words and finding
 * devices, as the kernel does them). Then:
 *
 *   refused   the ioctl fails, the kernel logs an error, nothing is left
 *             behind: no table loaded, every other device's status and
 *             table unchanged, dm-colo's module reference count unchanged
 *   accepted  the oracle must agree; the table's status and table lines
 *             are checked, the table is sometimes resumed and given I/O
 *             (and, for an ingress, the colo device's view checked), then
 *             undone; an accepted message's effect is checked, then the
 *             device is put back into its state
 *
 * and the kernel log (read from /dev/kmsg after every input) must show no
 * WARNING, BUG, oops or dm core complaint. Any mismatch is a failure.
 *
 * Devices it makes (and removes), over 24 free block devices given on the
 * command line (D0..D23, same size):
 *
 *   fz-t    the device every table input is loaded into (D0..D7 free)
 *   fz-c    colo secondary D8 D9 D10: the colo device ingress inputs attach to
 *   fz-s    colo secondary D11 D12 D13, with fz-si (colo-ingress D11)
 *   fz-p    colo secondary D14 D15 D16 after failover, commit done (its
 *           dirty coverage complete: kept so by a full sync to D20 after
 *           a full start that was cut short)
 *   fz-q    colo primary D17
 *   fz-m    colo primary D18 mirrored in sync to D19 (a full sync: its
 *           dirty coverage is complete)
 *   fz-small linear over D21, 1024 sectors (a device that is too small)
 *   fz-f    colo secondary over three linear slices of D23 (fz-fb, fz-fh,
 *           fz-fa), failed over with fz-fa turned into "error": its commit
 *           stopped ("failed"), so "failover" resumes it (and it fails again)
 *   D20, D22 free (replicas for mirror start)
 *
 * Inputs are numbered per kind; input i of a kind is generated from its
 * own PRNG state (seed, kind, i), so "--only KIND:I" replays one input.
 *
 * Also: "colo-fuzz --race NAME MSG1 MSG2" sends two messages to NAME from
 * two threads released at once and prints both results (0 or -errno).
 *
 * Exit status: 0 all inputs behaved, 1 a failure, 2 usage or setup error.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <linux/dm-ioctl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#define NDEVS		24
#define NODE_DIR	"/tmp/colo-fuzz"
#define MAX_WORDS	8192
#define MAX_TARGETS	3
#define SECTOR		512ULL

enum kind { K_TABLE, K_MSG, NKINDS };

static struct {
	uint64_t seed;
	long tables;
	long msgs;
	int only_kind;		/* -1: all */
	long only_index;
	bool verbose;
	int max_fail;
	const char *replay_hint;
} opt = { .tables = 2000, .msgs = 2000, .only_kind = -1, .max_fail = 5 };

static int failures;
static bool old_name_lookup;	/* < 6.5: dm falls back to name_to_dev_t() */
static const char *cur_input = "(setup)";

/* ---------------------------------------------------------------- utils */

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stdout, "colo-fuzz: setup error: ");
	vfprintf(stdout, fmt, ap);
	fprintf(stdout, "\n");
	va_end(ap);
	exit(2);
}

static void *xmalloc(size_t n)
{
	void *p = calloc(1, n ? n : 1);

	if (!p)
		die("out of memory");
	return p;
}

struct buf {
	char *p;
	size_t len, cap;
};

static void buf_reserve(struct buf *b, size_t more)
{
	if (b->len + more + 1 <= b->cap)
		return;
	b->cap = (b->len + more + 1) * 2;
	b->p = realloc(b->p, b->cap);
	if (!b->p)
		die("out of memory");
}

static void buf_addn(struct buf *b, const char *s, size_t n)
{
	buf_reserve(b, n);
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void buf_add(struct buf *b, const char *s)
{
	buf_addn(b, s, strlen(s));
}

static void buf_addc(struct buf *b, char c)
{
	buf_addn(b, &c, 1);
}

static void buf_printf(struct buf *b, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	buf_add(b, tmp);
}

static void buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->p)
		b->p[0] = '\0';
}

/* A printable form of @s (C escapes), cut at @max bytes of input. */
static void quote(struct buf *out, const char *s, size_t max)
{
	size_t i, n = strlen(s);

	buf_addc(out, '"');
	for (i = 0; i < n && i < max; i++) {
		unsigned char c = s[i];

		if (c == '"' || c == '\\')
			buf_printf(out, "\\%c", c);
		else if (c >= 0x20 && c < 0x7f)
			buf_addc(out, c);
		else
			buf_printf(out, "\\x%02x", c);
	}
	buf_addc(out, '"');
	if (n > max)
		buf_printf(out, "...(%zu bytes)", n);
}

/* ------------------------------------------------------------------ PRNG */

struct rng {
	uint64_t s;
};

static uint64_t rnd(struct rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t below(struct rng *r, uint64_t n)
{
	return n ? rnd(r) % n : 0;
}

static bool chance(struct rng *r, unsigned int pct)
{
	return below(r, 100) < pct;
}

static void rng_for(struct rng *r, int kind, uint64_t index)
{
	r->s = opt.seed ^ ((uint64_t)(kind + 1) << 56) ^
	       (index * 0xd1342543de82ef95ULL);
	rnd(r);
}

#define PICK(r, arr) ((arr)[below((r), sizeof(arr) / sizeof((arr)[0]))])

/* --------------------------------------------- the kernel's string rules */

/* lib/ctype.c: space is 9..13, 32 and 160. */
static bool k_isspace(unsigned char c)
{
	return (c >= 9 && c <= 13) || c == 32 || c == 160;
}

static bool k_isdigit(unsigned char c)
{
	return c >= '0' && c <= '9';
}


static const char *k_skip_spaces(const char *s)
{
	while (k_isspace(*s))
		s++;
	return s;
}

/* dm_split_args(): words split at spaces, a backslash quotes any byte. */
struct words {
	int n;
	char *w[MAX_WORDS];
	char *store;
};

static void words_free(struct words *ws)
{
	free(ws->store);
	ws->store = NULL;
	ws->n = 0;
}

static int k_split_args(const char *input, struct words *ws)
{
	char *end, *start, *out;

	ws->n = 0;
	ws->store = strdup(input);
	if (!ws->store)
		die("out of memory");
	end = ws->store;
	for (;;) {
		start = (char *)k_skip_spaces(end);
		if (!*start)
			break;
		end = out = start;
		while (*end) {
			if (*end == '\\' && *(end + 1)) {
				*out++ = *(end + 1);
				end += 2;
				continue;
			}
			if (k_isspace(*end))
				break;
			*out++ = *end++;
		}
		if (*end)
			end++;
		*out = '\0';
		if (ws->n == MAX_WORDS)
			return -1;
		ws->w[ws->n++] = start;
	}
	return 0;
}

/*
 * _parse_integer_limit(): digits of @base, wrapping on overflow; returns
 * the number of digits and sets *overflow.
 */
static size_t k_parse_integer(const char *s, unsigned int base,
			      unsigned long long *res, bool *overflow)
{
	unsigned long long r = 0;
	size_t n = 0;

	*overflow = false;
	for (;; s++, n++) {
		unsigned char c = *s, lc = c | 0x20;
		unsigned int val;

		if (k_isdigit(c))
			val = c - '0';
		else if (lc >= 'a' && lc <= 'f')
			val = lc - 'a' + 10;
		else
			break;
		if (val >= base)
			break;
		if (r > (~0ULL - val) / base)
			*overflow = true;
		r = r * base + val;
	}
	*res = r;
	return n;
}

/* kstrtoull(s, 10): optional '+', digits, optional one '\n', nothing else. */
static int k_kstrtoull(const char *s, unsigned long long *res)
{
	bool ovf;
	size_t n;

	if (*s == '+')
		s++;
	n = k_parse_integer(s, 10, res, &ovf);
	if (ovf)
		return -ERANGE;
	if (!n)
		return -EINVAL;
	s += n;
	if (*s == '\n')
		s++;
	return *s ? -EINVAL : 0;
}

static int k_kstrtouint(const char *s, unsigned int *res)
{
	unsigned long long v;
	int r = k_kstrtoull(s, &v);

	if (r)
		return r;
	if (v > 0xffffffffULL)
		return -ERANGE;
	*res = v;
	return 0;
}

/*
 * The kernel's vsscanf() for "%u:%u%c" (three == false) or "%u:%u:%u:%c"
 * (three == true): returns the number of conversions.
 */
static int k_sscanf_devnum(const char *str, bool three, unsigned int *maj,
			   unsigned int *min)
{
	unsigned int vals[3];
	int nconv = three ? 3 : 2, num = 0, i;

	for (i = 0; i < nconv; i++) {
		unsigned long long v;
		bool ovf;
		size_t n;

		if (i) {
			/* the literal ':' */
			if (*str++ != ':')
				goto out;
		}
		if (!*str)
			goto out;
		str = k_skip_spaces(str);
		if (!k_isdigit(*str))
			goto out;
		n = k_parse_integer(str, 10, &v, &ovf);
		str += n;
		vals[i] = (unsigned int)v;
		num++;
	}
	if (three) {
		if (*str++ != ':')
			goto out;
	}
	/* %c */
	if (*str)
		num++;
out:
	if (num >= 2) {
		*maj = vals[0];
		*min = vals[1];
	}
	return num;
}

/* ------------------------------------------------------- block devices */

struct devnum {
	unsigned int maj, min;
};

static bool devnum_eq(struct devnum a, struct devnum b)
{
	return a.maj == b.maj && a.min == b.min;
}

/* MKDEV() with the check dm does: major < 2^12, minor < 2^20. */
static bool k_mkdev_ok(unsigned int maj, unsigned int min)
{
	return maj < (1U << 12) && min < (1U << 20);
}

/* new_decode_dev() of a 32-bit number. */
static struct devnum k_new_decode_dev(uint32_t dev)
{
	struct devnum d = {
		.maj = (dev & 0xfff00) >> 8,
		.min = (dev & 0xff) | ((dev >> 12) & 0xfff00),
	};

	return d;
}

static uint32_t new_encode_dev(struct devnum d)
{
	return (d.min & 0xff) | (d.maj << 8) | ((d.min & ~0xffU) << 12);
}

static bool read_sys(const char *path, char *out, size_t outsz)
{
	FILE *f = fopen(path, "r");
	bool ok;

	if (!f)
		return false;
	ok = fgets(out, outsz, f) != NULL;
	fclose(f);
	if (ok)
		out[strcspn(out, "\n")] = '\0';
	return ok;
}

/*
 * A registered block device: its size and logical block size. Opening a
 * device number that has no device yet may create one (brd and loop probe
 * on open, CONFIG_BLOCK_LEGACY_AUTOLOAD), and so may the kernel's own open:
 * open it once the same way first.
 */
static bool dev_present(struct devnum d, uint64_t *sectors, unsigned int *lbs)
{
	char path[128], val[64];

	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/size", d.maj, d.min);
	if (!read_sys(path, val, sizeof(val))) {
		const char *node = NODE_DIR "/probe";
		int fd;

		unlink(node);
		if (!mknod(node, S_IFBLK | 0600, makedev(d.maj, d.min))) {
			fd = open(node, O_RDONLY | O_NONBLOCK);
			if (fd >= 0)
				close(fd);
			unlink(node);
		}
		if (!read_sys(path, val, sizeof(val)))
			return false;
	}
	if (sectors)
		*sectors = strtoull(val, NULL, 10);
	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/queue/logical_block_size",
		 d.maj, d.min);
	if (lbs)
		*lbs = read_sys(path, val, sizeof(val)) ? atoi(val) : 512;
	return true;
}

/* lookup_bdev(): the path names a block device node. */
static bool k_lookup_bdev(const char *path, struct devnum *d)
{
	struct stat st;

	if (stat(path, &st) || !S_ISBLK(st.st_mode))
		return false;
	d->maj = major(st.st_rdev);
	d->min = minor(st.st_rdev);
	return true;
}

/* blk_lookup_devt(name, 0): a disk of that name. */
static bool k_disk_by_name(const char *name, struct devnum *d)
{
	char path[128], val[64];
	unsigned int ma, mi;

	if (strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, "..") ||
	    !*name)
		return false;
	snprintf(path, sizeof(path), "/sys/block/%s/dev", name);
	if (!read_sys(path, val, sizeof(val)) ||
	    sscanf(val, "%u:%u", &ma, &mi) != 2)
		return false;
	d->maj = ma;
	d->min = mi;
	return true;
}

/*
 * name_to_dev_t() of 6.1 (init/do_mounts.c), for what dm-colo's inputs can
 * name: partitions (none exist here) and PARTUUID= never resolve to an
 * openable device, so they are "not found".
 */
static bool k_name_to_dev_t(const char *name, struct devnum *d)
{
	unsigned int ma, mi;
	char s[32], *p;

	if (!strcmp(name, "/dev/nfs") || !strcmp(name, "/dev/cifs"))
		return false;	/* 0:255, 0:254: never a disk here */
	if (!strcmp(name, "/dev/ram")) {
		d->maj = 1;
		d->min = 0;
		return true;
	}
	if (!strncmp(name, "PARTUUID=", 9) || !strncmp(name, "PARTLABEL=", 10))
		return false;
	if (!strncmp(name, "/dev/", 5)) {
		if (strlen(name + 5) > 31)
			return false;
		strcpy(s, name + 5);
		for (p = s; *p; p++)
			if (*p == '/')
				*p = '!';
		return k_disk_by_name(s, d);
	}
	if (k_sscanf_devnum(name, false, &ma, &mi) == 2 ||
	    k_sscanf_devnum(name, true, &ma, &mi) == 3) {
		if (!k_mkdev_ok(ma, mi))
			return false;
		d->maj = ma;
		d->min = mi;
		return d->maj || d->min;
	} else {
		unsigned long long v;
		const char *q = name;
		bool ovf;

		if (q[0] == '0' && (q[1] | 0x20) == 'x')
			q += 2;
		q += k_parse_integer(q, 16, &v, &ovf);
		if (*q)
			return false;
		*d = k_new_decode_dev((uint32_t)v);
		return d->maj || d->min;
	}
}

/* dm_get_device()'s path to device number. */
static bool k_dm_devt(const char *path, struct devnum *d)
{
	unsigned int ma, mi;

	if (k_sscanf_devnum(path, false, &ma, &mi) == 2) {
		if (!k_mkdev_ok(ma, mi))
			return false;
		d->maj = ma;
		d->min = mi;
		return true;
	}
	if (k_lookup_bdev(path, d))
		return true;
	return old_name_lookup && k_name_to_dev_t(path, d);
}

/* ------------------------------------------------------------ DM ioctls */

static int ctl_fd = -1;

struct dm_req {
	struct dm_ioctl *io;
	size_t size;
};

static struct dm_ioctl *dm_req_new(struct dm_req *q, const char *name,
				   size_t payload)
{
	q->size = sizeof(struct dm_ioctl) + payload + 4096;
	/* not zeroed beyond the header: cheap under emulation */
	q->io = malloc(q->size);
	if (!q->io)
		die("out of memory");
	memset(q->io, 0, sizeof(struct dm_ioctl) + payload);
	q->io->version[0] = DM_VERSION_MAJOR;
	q->io->version[1] = 0;
	q->io->version[2] = 0;
	q->io->data_size = q->size;
	q->io->data_start = sizeof(struct dm_ioctl);
	if (name)
		snprintf(q->io->name, sizeof(q->io->name), "%s", name);
	return q->io;
}

static int dm_run(struct dm_req *q, unsigned long cmd)
{
	return ioctl(ctl_fd, cmd, q->io) ? -errno : 0;
}

static int dm_simple(unsigned long cmd, const char *name, uint32_t flags,
		     struct dm_ioctl *out)
{
	struct dm_req q;
	int r;

	dm_req_new(&q, name, 0)->flags = flags;
	r = dm_run(&q, cmd);
	if (out)
		memcpy(out, q.io, sizeof(*out));
	free(q.io);
	return r;
}

static int dm_create(const char *name, struct devnum *d)
{
	struct dm_ioctl out;
	int r = dm_simple(DM_DEV_CREATE, name, 0, &out);

	if (!r && d) {
		d->maj = (out.dev >> 8) & 0xfff;	/* huge_encode_dev() */
		d->min = (out.dev & 0xff) | ((out.dev >> 12) & 0xfff00);
	}
	return r;
}

static int dm_remove(const char *name)
{
	return dm_simple(DM_DEV_REMOVE, name, 0, NULL);
}

static int dm_resume(const char *name)
{
	return dm_simple(DM_DEV_SUSPEND, name, 0, NULL);
}

static int dm_clear(const char *name)
{
	return dm_simple(DM_TABLE_CLEAR, name, 0, NULL);
}

static int dm_info(const char *name, struct dm_ioctl *out)
{
	return dm_simple(DM_DEV_STATUS, name, 0, out);
}

struct target {
	uint64_t start, len;
	char type[DM_MAX_TYPE_NAME];
	char *params;		/* owned */
};

static int dm_load(const char *name, const struct target *t, int n)
{
	struct dm_req q;
	size_t payload = 0, off;
	int i, r;

	for (i = 0; i < n; i++)
		payload += sizeof(struct dm_target_spec) + strlen(t[i].params) + 8;
	dm_req_new(&q, name, payload);
	q.io->target_count = n;
	off = q.io->data_start;
	for (i = 0; i < n; i++) {
		struct dm_target_spec *sp = (void *)((char *)q.io + off);
		size_t plen = strlen(t[i].params) + 1;
		size_t next = (sizeof(*sp) + plen + 7) & ~(size_t)7;

		sp->sector_start = t[i].start;
		sp->length = t[i].len;
		snprintf(sp->target_type, sizeof(sp->target_type), "%s", t[i].type);
		memcpy(sp + 1, t[i].params, plen);
		sp->next = next;
		off += next;
	}
	r = dm_run(&q, DM_TABLE_LOAD);
	free(q.io);
	return r;
}

/*
 * The status (or table) lines of every target, "; "-joined, into @out.
 * Returns 0, or -errno.
 */
static int dm_status(const char *name, bool table, bool inactive, struct buf *out)
{
	struct dm_req q;
	struct dm_target_spec *sp;
	unsigned int i;
	size_t off;
	int r;

	buf_reset(out);
	dm_req_new(&q, name, 8192);
	q.io->flags = (table ? DM_STATUS_TABLE_FLAG : 0) |
		      (inactive ? DM_QUERY_INACTIVE_TABLE_FLAG : 0);
	r = dm_run(&q, DM_TABLE_STATUS);
	if (!r && (q.io->flags & DM_BUFFER_FULL_FLAG))
		r = -ENOSPC;
	if (r) {
		free(q.io);
		return r;
	}
	off = q.io->data_start;
	for (i = 0; i < q.io->target_count; i++) {
		sp = (void *)((char *)q.io + off);
		if (i)
			buf_add(out, "; ");
		buf_printf(out, "%llu %llu %s ", (unsigned long long)sp->sector_start,
			   (unsigned long long)sp->length, sp->target_type);
		buf_add(out, (char *)(sp + 1));
		off += sp->next;
	}
	free(q.io);
	return 0;
}

/* Returns -errno, or the message's result (0). */
static int dm_message(const char *name, uint64_t sector, const char *msg)
{
	struct dm_req q;
	struct dm_target_msg *tm;
	int r;

	dm_req_new(&q, name, sizeof(*tm) + strlen(msg) + 1);
	tm = (void *)((char *)q.io + q.io->data_start);
	tm->sector = sector;
	memcpy(tm->message, msg, strlen(msg) + 1);
	r = dm_run(&q, DM_TARGET_MSG);
	free(q.io);
	return r;
}

static void dm_open_control(void)
{
	ctl_fd = open("/dev/mapper/control", O_RDWR);
	if (ctl_fd < 0) {
		/* no udev: make the node from the misc device's numbers */
		char val[32];
		unsigned int ma, mi;

		if (!read_sys("/sys/class/misc/device-mapper/dev", val, sizeof(val)) ||
		    sscanf(val, "%u:%u", &ma, &mi) != 2)
			die("no device-mapper");
		mkdir("/dev/mapper", 0755);
		mknod("/dev/mapper/control", S_IFCHR | 0600, makedev(ma, mi));
		ctl_fd = open("/dev/mapper/control", O_RDWR);
		if (ctl_fd < 0)
			die("open /dev/mapper/control: %s", strerror(errno));
	}
}

/* --------------------------------------------------------- kernel log */

static int kmsg_fd = -1;
static struct buf kmsg_lines;	/* the lines read by the last kmsg_drain() */

static const char *const bad_patterns[] = {
	"WARNING:", "BUG:", "Oops", "Kernel panic", "general protection fault",
	"blocked for more than", "UBSAN:", "KASAN:", "kernel BUG", "Call Trace:",
	"RIP:", "dm_put_device call missing", "refcount_t:", "list_add corruption",
	"list_del corruption", "bad unlock", "possible recursive locking",
	"circular locking", "leak",
};

/* Read what the kernel logged since the last call into kmsg_lines. */
static void kmsg_drain(void)
{
	static char rec[65536];

	buf_reset(&kmsg_lines);
	for (;;) {
		ssize_t n = read(kmsg_fd, rec, sizeof(rec) - 1);
		char *msg;

		if (n < 0 && errno == EPIPE) {
			buf_add(&kmsg_lines, "colo-fuzz: kernel log records were lost\n");
			continue;
		}
		if (n < 0 && errno != EAGAIN) {
			buf_printf(&kmsg_lines, "colo-fuzz: reading /dev/kmsg: %s\n",
				   strerror(errno));
			continue;
		}
		if (n <= 0)
			break;
		rec[n] = '\0';
		msg = strchr(rec, ';');
		msg = msg ? msg + 1 : rec;
		msg[strcspn(msg, "\n")] = '\0';
		buf_add(&kmsg_lines, msg);
		buf_addc(&kmsg_lines, '\n');
	}
}

static const char *kmsg_bad(void)
{
	size_t i;

	for (i = 0; i < sizeof(bad_patterns) / sizeof(bad_patterns[0]); i++)
		if (kmsg_lines.p && strstr(kmsg_lines.p, bad_patterns[i]))
			return bad_patterns[i];
	return NULL;
}

/* ------------------------------------------------------------- timing */

enum { TM_INPUT, TM_CHECK, TM_UNDO, TM_RESTORE, NTM };
static double tm_acc[NTM];

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

/* ----------------------------------------------------------- reporting */

static struct buf report;

static void print_kmsg(void)
{
	char *line, *save = NULL, *copy;
	int n = 0;

	if (!kmsg_lines.len)
		return;
	copy = strdup(kmsg_lines.p);
	for (line = strtok_r(copy, "\n", &save); line && n < 40;
	     line = strtok_r(NULL, "\n", &save), n++)
		printf("  kernel: %.300s\n", line);
	free(copy);
}

static struct buf dev_args;	/* " DEV0 DEV1 ..." for the replay line */

static void fail(const char *fmt, ...)
{
	va_list ap;

	failures++;
	printf("FAIL %s: ", cur_input);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (report.len)
		printf("%s", report.p);
	print_kmsg();
	printf("  replay this input (in the VM, after brd_setup 24 4): colo-fuzz --seed %" PRIu64
	       " --only %s%s\n", opt.seed, cur_input, dev_args.p ? dev_args.p : "");
	if (opt.replay_hint)
		printf("  replay the run: %s\n", opt.replay_hint);
	fflush(stdout);
	if (failures >= opt.max_fail) {
		printf("colo-fuzz: FAIL: %d failures, stopping (seed %" PRIu64 ")\n",
		       failures, opt.seed);
		exit(1);
	}
}

/* ------------------------------------------------------------- devices */

static char *devpath[NDEVS];
static struct devnum devnum[NDEVS];
static uint64_t dev_sectors;	/* every D has this size */

/* The devices colo-fuzz keeps while it runs. */
struct resident {
	const char *name;
	struct devnum dev;
	char node[64];
	uint64_t len;
	int base;		/* index into D, or -1 */
	struct devnum basedev;	/* its base device (colo, ingress) */
	char basepath[64];
	bool colo;
	bool has_ingress;
	char status[512];	/* INFO status, when idle */
	char table[512];
};

enum { R_C, R_S, R_SI, R_P, R_Q, R_M, R_SMALL, R_F, NRES };
static struct resident res[NRES] = {
	[R_C] = { .name = "fz-c", .base = 8, .colo = true },
	[R_S] = { .name = "fz-s", .base = 11, .colo = true, .has_ingress = true },
	[R_SI] = { .name = "fz-si", .base = 11 },
	[R_P] = { .name = "fz-p", .base = 14, .colo = true },
	[R_Q] = { .name = "fz-q", .base = 17, .colo = true },
	[R_M] = { .name = "fz-m", .base = 18, .colo = true },
	[R_SMALL] = { .name = "fz-small", .base = 21 },
	[R_F] = { .name = "fz-f", .base = -1, .colo = true },
};
#define D_REPLICA	19
#define T_DEV		"fz-t"
static struct devnum fzt_dev;
static unsigned long module_refs, module_refs0;

static unsigned long read_module_refs(void)
{
	char val[32];

	if (!read_sys("/sys/module/dm_colo/refcnt", val, sizeof(val)))
		die("cannot read /sys/module/dm_colo/refcnt");
	return strtoul(val, NULL, 10);
}

static void make_node(const char *name, struct devnum d, char *node, size_t sz)
{
	snprintf(node, sz, NODE_DIR "/%s", name);
	unlink(node);
	if (mknod(node, S_IFBLK | 0600, makedev(d.maj, d.min)))
		die("mknod %s: %s", node, strerror(errno));
}

static void create_or_die(const char *name, const char *type, uint64_t len,
			  const char *params, struct devnum *d)
{
	struct target t = { .start = 0, .len = len, .params = (char *)params };
	int r;

	snprintf(t.type, sizeof(t.type), "%s", type);
	r = dm_create(name, d);
	if (r)
		die("create %s: %s", name, strerror(-r));
	r = dm_load(name, &t, 1);
	if (r)
		die("load %s (%s %s): %s", name, type, params, strerror(-r));
	r = dm_resume(name);
	if (r)
		die("resume %s: %s", name, strerror(-r));
}

static void status_field(const char *status, int field, char *out, size_t sz)
{
	const char *p = status;
	int i;

	for (i = 0; i < field && p; i++) {
		p = strchr(p, ' ');
		if (p)
			p++;
	}
	if (!p) {
		out[0] = '\0';
		return;
	}
	snprintf(out, sz, "%.*s", (int)strcspn(p, " "), p);
}

/* The INFO status after "<start> <len> colo " (the colo part only). */
static void colo_status(const char *name, char *out, size_t sz)
{
	struct buf b = { 0 };
	const char *p;

	if (dm_status(name, false, false, &b)) {
		snprintf(out, sz, "(no status)");
	} else {
		p = strstr(b.p, " colo ");
		snprintf(out, sz, "%s", p ? p + 6 : b.p);
	}
	free(b.p);
}

/* Wait (up to 60 s) until field @field of @name's status is one of @want. */
static bool wait_field(const char *name, int field, const char *want1,
		       const char *want2)
{
	char st[512], f[64];
	int i;

	for (i = 0; i < 6000; i++) {
		colo_status(name, st, sizeof(st));
		status_field(st, field, f, sizeof(f));
		if (!strcmp(f, want1) || (want2 && !strcmp(f, want2)))
			return true;
		usleep(10000);
	}
	return false;
}

/*
 * Field 12 of the colo status, dirty_coverage: "complete" when the dirty
 * bitmap covers every chunk that may differ from a replica (seeded at
 * failover, or a full pass ended since), "unknown" otherwise (a new table,
 * a full pass cut short, a replica flush that failed). A "dirty" mirror
 * start is refused while it is unknown.
 */
#define F_COVERAGE	12

static void coverage_of(const char *name, char *out, size_t sz)
{
	char st[512];

	colo_status(name, st, sizeof(st));
	status_field(st, F_COVERAGE, out, sz);
}

/*
 * The dirty coverage is one of complete|unknown, followed by the metadata
 * fields of a device without one ("none - -"), the verify's of a device
 * that never verified ("none 0/0 0": the fuzzer sends no verify), the
 * mirror's mode of a device without an async mirror ("none 0/0 0", or
 * "sync 0/0 0" while mirroring: an accepted "mirror async" is undone by
 * restore()) and nothing else.
 */
static void check_coverage_word(const char *name, const char *when)
{
	static const char *const meta[] = { "none", "-", "-", "none", "0/0", "0",
					     "none", "0/0", "0", "" };
	char st[512], f[32];
	unsigned int i;

	colo_status(name, st, sizeof(st));
	status_field(st, F_COVERAGE, f, sizeof(f));
	if (strcmp(f, "complete") && strcmp(f, "unknown"))
		fail("%s: %s dirty coverage '%s', expected complete or unknown: '%s'",
		     when, name, f, st);
	for (i = 0; i < sizeof(meta) / sizeof(meta[0]); i++) {
		status_field(st, F_COVERAGE + 1 + i, f, sizeof(f));
		if (i == 6 && !strcmp(f, "sync"))
			continue;
		if (strcmp(f, meta[i]))
			fail("%s: %s status: '%s' after the dirty coverage, expected 'none - - none 0/0 0 none|sync 0/0 0' and the end: '%s'",
			     when, name, f, st);
	}
}

/* "full" when a "dirty" mirror start of @name would be refused. */
static const char *restore_sync(const char *name)
{
	char f[32];

	coverage_of(name, f, sizeof(f));
	return strcmp(f, "complete") ? "full" : "dirty";
}

static void *dio_buf;

static int dio(const char *node, bool write, uint64_t sector, size_t bytes,
	       unsigned char fill)
{
	int fd = open(node, (write ? O_WRONLY : O_RDONLY) | O_DIRECT);
	ssize_t n;

	if (fd < 0)
		return -errno;
	if (write)
		memset(dio_buf, fill, bytes);
	n = write ? pwrite(fd, dio_buf, bytes, sector * SECTOR) :
		    pread(fd, dio_buf, bytes, sector * SECTOR);
	close(fd);
	return n == (ssize_t)bytes ? 0 : (n < 0 ? -errno : -EIO);
}

/*
 * Status lines of the residents, to compare before and after an input; the
 * table lines too when @tables (they are read less often: only a load can
 * change one).
 */
static void snapshot_residents_t(char st[NRES][512], char tb[NRES][512], bool tables)
{
	struct buf b = { 0 };
	int i;

	for (i = 0; i < NRES; i++) {
		if (dm_status(res[i].name, false, false, &b))
			snprintf(st[i], 512, "(status failed)");
		else
			snprintf(st[i], 512, "%s", b.p);
		if (!tables)
			continue;
		if (dm_status(res[i].name, true, false, &b))
			snprintf(tb[i], 512, "(table failed)");
		else
			snprintf(tb[i], 512, "%s", b.p);
	}
	free(b.p);
}

static void snapshot_residents(char st[NRES][512], char tb[NRES][512])
{
	snapshot_residents_t(st, tb, true);
}

/* Wait until the status of @name reads the same twice, 5 ms apart. */
static void settle(const char *name)
{
	char a[512], b[512];
	int i;

	colo_status(name, a, sizeof(a));
	for (i = 0; i < 1000; i++) {
		usleep(5000);
		colo_status(name, b, sizeof(b));
		if (!strcmp(a, b))
			return;
		memcpy(a, b, sizeof(a));
	}
}

/* fz-s: secondary with an ingress and some active and hidden chunks. */
static void dirty_fz_s(void)
{
	int i;

	for (i = 0; i < 4; i++) {
		if (dio(res[R_S].node, true, i * 16, 4096, 0x11 + i) ||
		    dio(res[R_SI].node, true, 128 + i * 16, 4096, 0x21 + i))
			die("I/O on fz-s, fz-si: %s", strerror(errno));
	}
	settle("fz-s");
}

static void make_fz_s(void)
{
	char params[256];

	snprintf(params, sizeof(params), "secondary %s %s %s 8", devpath[11],
		 devpath[12], devpath[13]);
	res[R_S].len = dev_sectors;
	create_or_die("fz-s", "colo", res[R_S].len, params, &res[R_S].dev);
	snprintf(params, sizeof(params), "%s", devpath[11]);
	res[R_SI].len = dev_sectors;
	create_or_die("fz-si", "colo-ingress", res[R_SI].len, params, &res[R_SI].dev);
	make_node("fz-s", res[R_S].dev, res[R_S].node, sizeof(res[R_S].node));
	make_node("fz-si", res[R_SI].dev, res[R_SI].node, sizeof(res[R_SI].node));
	dirty_fz_s();
}

static void remove_fz_s(void)
{
	if (dm_remove("fz-si") || dm_remove("fz-s"))
		die("cannot remove fz-si, fz-s");
}

/*
 * Mirror @name to D19 and wait until in sync. A "dirty" start needs the
 * dirty coverage complete (the kernel refuses it otherwise): pass
 * restore_sync(name) where it may be unknown.
 */
static void mirror_to_replica(const char *name, const char *sync)
{
	char msg[256];
	int r;

	snprintf(msg, sizeof(msg), "mirror start %s %s", devpath[D_REPLICA], sync);
	r = dm_message(name, 0, msg);
	if (r)
		die("%s: %s: %s", name, msg, strerror(-r));
	if (!wait_field(name, 7, "in-sync", NULL))
		die("%s: mirror not in sync after 60 s", name);
	settle(name);
}

/*
 * A full sync of @name to D@replica that reaches its end, then stopped:
 * the dirty coverage is complete again (fz-p after a full start that was
 * stopped before its pass ended, so that dirty starts to it are accepted
 * again).
 */
static void full_pass(const char *name, int replica)
{
	char msg[256], f[32];
	int r;

	snprintf(msg, sizeof(msg), "mirror start %s full", devpath[replica]);
	r = dm_message(name, 0, msg);
	if (r)
		die("%s: %s: %s", name, msg, strerror(-r));
	if (!wait_field(name, 7, "in-sync", NULL))
		die("%s: mirror not in sync after 60 s", name);
	r = dm_message(name, 0, "mirror stop");
	if (r)
		die("%s: mirror stop: %s", name, strerror(-r));
	settle(name);
	coverage_of(name, f, sizeof(f));
	if (strcmp(f, "complete"))
		fail("%s: dirty coverage %s after a full sync reached in-sync", name, f);
}

static void remove_stale(void)
{
	static const char *const names[] = { "fz-t", "fz-si", "fz-s", "fz-c",
		"fz-p", "fz-q", "fz-m", "fz-small", "fz-f", "fz-fb", "fz-fh", "fz-fa" };
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		dm_remove(names[i]);
}

static void setup(void)
{
	char params[256];
	struct stat st;
	int i, r;

	for (i = 0; i < NDEVS; i++) {
		uint64_t s;

		if (stat(devpath[i], &st) || !S_ISBLK(st.st_mode))
			die("%s is not a block device", devpath[i]);
		devnum[i].maj = major(st.st_rdev);
		devnum[i].min = minor(st.st_rdev);
		if (!dev_present(devnum[i], &s, NULL))
			die("%s: no size", devpath[i]);
		if (!i)
			dev_sectors = s;
		else if (s != dev_sectors)
			die("%s: all devices must have the same size", devpath[i]);
	}
	if (dev_sectors < 8192)
		die("devices must have at least 8192 sectors");
	mkdir(NODE_DIR, 0755);
	dm_open_control();
	remove_stale();
	module_refs0 = read_module_refs();

	snprintf(params, sizeof(params), "secondary %s %s %s 8", devpath[8],
		 devpath[9], devpath[10]);
	res[R_C].len = dev_sectors;
	create_or_die("fz-c", "colo", res[R_C].len, params, &res[R_C].dev);
	make_node("fz-c", res[R_C].dev, res[R_C].node, sizeof(res[R_C].node));

	make_fz_s();

	/* fz-p: a secondary with VM writes, failed over, commit done */
	snprintf(params, sizeof(params), "secondary %s %s %s 16", devpath[14],
		 devpath[15], devpath[16]);
	res[R_P].len = dev_sectors;
	create_or_die("fz-p", "colo", res[R_P].len, params, &res[R_P].dev);
	make_node("fz-p", res[R_P].dev, res[R_P].node, sizeof(res[R_P].node));
	for (i = 0; i < 8; i++)
		if (dio(res[R_P].node, true, i * 64, 4096, 0x31 + i))
			die("I/O on fz-p");
	r = dm_message("fz-p", 0, "failover");
	if (r)
		die("fz-p: failover: %s", strerror(-r));
	if (!wait_field("fz-p", 4, "done", NULL))
		die("fz-p: commit not done after 60 s");
	settle("fz-p");

	snprintf(params, sizeof(params), "primary %s 8 2 max_copies 4", devpath[17]);
	res[R_Q].len = dev_sectors - 7;	/* a short last chunk */
	create_or_die("fz-q", "colo", res[R_Q].len, params, &res[R_Q].dev);
	make_node("fz-q", res[R_Q].dev, res[R_Q].node, sizeof(res[R_Q].node));

	snprintf(params, sizeof(params), "primary %s 128", devpath[18]);
	res[R_M].len = dev_sectors;
	create_or_die("fz-m", "colo", res[R_M].len, params, &res[R_M].dev);
	make_node("fz-m", res[R_M].dev, res[R_M].node, sizeof(res[R_M].node));
	for (i = 0; i < 8; i++)
		if (dio(res[R_M].node, true, i * 256, 4096, 0x41 + i))
			die("I/O on fz-m");
	mirror_to_replica("fz-m", "full");

	snprintf(params, sizeof(params), "%s 0", devpath[21]);
	res[R_SMALL].len = 1024;
	create_or_die("fz-small", "linear", 1024, params, &res[R_SMALL].dev);
	make_node("fz-small", res[R_SMALL].dev, res[R_SMALL].node,
		  sizeof(res[R_SMALL].node));

	/* fz-f: failed over, its commit stopped by an error of its active leg */
	{
		static const char *const legs[] = { "fz-fb", "fz-fh", "fz-fa" };
		struct devnum ld[3];
		char nodes[3][64];

		for (i = 0; i < 3; i++) {
			snprintf(params, sizeof(params), "%s %d", devpath[23], i * 1024);
			create_or_die(legs[i], "linear", 1024, params, &ld[i]);
			make_node(legs[i], ld[i], nodes[i], sizeof(nodes[i]));
		}
		snprintf(params, sizeof(params), "secondary %s %s %s 8", nodes[0],
			 nodes[1], nodes[2]);
		res[R_F].len = 1024;
		create_or_die("fz-f", "colo", 1024, params, &res[R_F].dev);
		make_node("fz-f", res[R_F].dev, res[R_F].node, sizeof(res[R_F].node));
		res[R_F].basedev = ld[0];
		snprintf(res[R_F].basepath, sizeof(res[R_F].basepath), "%s", nodes[0]);
		for (i = 0; i < 8; i++)
			if (dio(res[R_F].node, true, i * 64, 4096, 0x51 + i))
				die("I/O on fz-f");
		r = dm_simple(DM_DEV_SUSPEND, "fz-fa", DM_SUSPEND_FLAG, NULL);
		if (!r) {
			struct target t = { .start = 0, .len = 1024, .params = "" };

			snprintf(t.type, sizeof(t.type), "error");
			r = dm_load("fz-fa", &t, 1);
		}
		if (!r)
			r = dm_resume("fz-fa");
		if (r)
			die("fz-fa: cannot switch to error: %s", strerror(-r));
		r = dm_message("fz-f", 0, "failover");
		if (r)
			die("fz-f: failover: %s", strerror(-r));
		if (!wait_field("fz-f", 4, "failed", NULL))
			die("fz-f: the commit did not fail");
		settle("fz-f");
	}
	for (i = 0; i < NRES; i++) {
		if (res[i].base < 0)
			continue;
		res[i].basedev = devnum[res[i].base];
		snprintf(res[i].basepath, sizeof(res[i].basepath), "%s", devpath[res[i].base]);
	}

	if (dm_create(T_DEV, &fzt_dev))
		die("create " T_DEV);

	/* links and files the path generator uses */
	unlink(NODE_DIR "/link0");
	if (symlink(devpath[0], NODE_DIR "/link0"))
		die("symlink: %s", strerror(errno));
	unlink(NODE_DIR "/link-dangling");
	if (symlink("/dev/colo-fuzz-nothing", NODE_DIR "/link-dangling"))
		die("symlink: %s", strerror(errno));
	unlink(NODE_DIR "/plain-file");
	close(open(NODE_DIR "/plain-file", O_CREAT | O_WRONLY, 0600));
	if (chdir(NODE_DIR))
		die("chdir %s", NODE_DIR);

	module_refs = read_module_refs();

	/*
	 * Dirty coverage: unknown on a new table, complete once a failover
	 * seeded the dirty bitmap or a full pass ended.
	 */
	{
		static const struct { int r; const char *want; } cov[] = {
			{ R_C, "unknown" }, { R_S, "unknown" }, { R_P, "complete" },
			{ R_Q, "unknown" }, { R_M, "complete" }, { R_F, "complete" },
		};
		char f[32];
		size_t k;

		for (k = 0; k < sizeof(cov) / sizeof(cov[0]); k++) {
			coverage_of(res[cov[k].r].name, f, sizeof(f));
			if (strcmp(f, cov[k].want))
				fail("%s after setup: dirty coverage '%s', expected '%s'",
				     res[cov[k].r].name, f, cov[k].want);
		}
	}
}

static void teardown(void)
{
	dm_remove(T_DEV);
	dm_remove("fz-si");
	if (dm_message("fz-m", 0, "mirror stop"))
		printf("colo-fuzz: fz-m: mirror stop failed\n");
	remove_stale();
}

/* Which device does @d name: a D index, a resident, or none. */
static int d_index(struct devnum d)
{
	int i;

	for (i = 0; i < NDEVS; i++)
		if (devnum_eq(d, devnum[i]))
			return i;
	return -1;
}

static int resident_of(struct devnum d)
{
	int i;

	for (i = 0; i < NRES; i++)
		if (devnum_eq(d, res[i].dev))
			return i;
	return -1;
}

/* ----------------------------------------------------------- generator */

struct wlist {
	int n;
	char *w[MAX_WORDS];
};

static void wl_add(struct wlist *l, const char *s)
{
	if (l->n < MAX_WORDS)
		l->w[l->n++] = strdup(s);
}

static void wl_free(struct wlist *l)
{
	int i;

	for (i = 0; i < l->n; i++)
		free(l->w[i]);
	l->n = 0;
}

static void wl_insert(struct wlist *l, int at, const char *s)
{
	if (l->n >= MAX_WORDS)
		return;
	memmove(&l->w[at + 1], &l->w[at], (l->n - at) * sizeof(char *));
	l->w[at] = strdup(s);
	l->n++;
}

static void wl_delete(struct wlist *l, int at)
{
	free(l->w[at]);
	memmove(&l->w[at], &l->w[at + 1], (l->n - at - 1) * sizeof(char *));
	l->n--;
}

static void wl_set(struct wlist *l, int at, const char *s)
{
	free(l->w[at]);
	l->w[at] = strdup(s);
}

static const char *const number_pool[] = {
	"0", "1", "2", "3", "4", "7", "8", "12", "16", "64", "100", "128",
	"1000", "1023", "1024", "1025", "2047", "2048", "2049", "4096", "65536",
	"-1", "-8", "+8", "+0", "08", "0008", "0x8", "0x10", "8k", "8.0", "1e3",
	"4294967295", "4294967296", "4294967304", "18446744073709551615",
	"18446744073709551616", "99999999999999999999999", "9223372036854775808",
	"8\n", "2048\n", "\n8", "8\n\n", "8 ", "٨", "\xef\xbc\x98", "NaN", "inf",
	"-0", "--8", "8-", "0b1000", "010", "1\\",
};

static void random_number(struct rng *r, char *out, size_t sz)
{
	switch (below(r, 4)) {
	case 0:
		snprintf(out, sz, "%s", PICK(r, number_pool));
		break;
	case 1:
		snprintf(out, sz, "%llu", 1ULL << below(r, 64));
		break;
	case 2:
		snprintf(out, sz, "%llu", (unsigned long long)below(r, 1ULL << below(r, 64)));
		break;
	default:
		snprintf(out, sz, "%lld", -(long long)below(r, 5000));
		break;
	}
}

static const char *const junk_words[] = {
	"secondary", "primary", "tertiary", "Secondary", "PRIMARY", "colo",
	"colo-ingress", "max_copies", "max_copy", "MAX_COPIES", "max_copies=8",
	"maxcopies", "chunk", "checkpoint", "failover", "mirror", "start",
	"stop", "full", "dirty", "sync", "--", "-", "x", "\\", "\"\"", "''",
	"null", "(null)", "%s%s%n", "%n", "0", "2", "#", ";", "@", "*",
};

/* A random word of odd bytes (never NUL; never starting a message with @). */
static void random_bytes_word(struct rng *r, char *out, size_t sz, size_t maxlen)
{
	size_t n = 1 + below(r, maxlen), i;

	if (n >= sz)
		n = sz - 1;
	for (i = 0; i < n; i++) {
		unsigned char c = 1 + below(r, 255);

		if (chance(r, 60))
			c = 0x21 + below(r, 0x5e);
		out[i] = c;
	}
	out[n] = '\0';
	if (out[0] == '@')
		out[0] = 'a';
}

/* A device path for the D or resident @d, in one of the forms dm accepts. */
static void path_forms(struct rng *r, const char *node, struct devnum d,
		       char *out, size_t sz)
{
	const char *slash = strrchr(node, '/');
	const char *base = slash ? slash + 1 : node;

	switch (below(r, 12)) {
	case 0:
		snprintf(out, sz, "%u:%u", d.maj, d.min);
		break;
	case 1:
		snprintf(out, sz, "0%u:00%u", d.maj, d.min);
		break;
	case 2:
		snprintf(out, sz, "%llu:%u", (1ULL << 32) + d.maj, d.min);
		break;
	case 3:
		snprintf(out, sz, "%u:%u:0", d.maj, d.min);
		break;
	case 4:
		snprintf(out, sz, "%x", new_encode_dev(d));
		break;
	case 5:
		snprintf(out, sz, "/dev/../dev/%s", base);
		if (strncmp(node, "/dev/", 5))
			snprintf(out, sz, "%s/../%s/%s", NODE_DIR, strrchr(NODE_DIR, '/') + 1, base);
		break;
	case 6:
		snprintf(out, sz, "/dev/%s", base);
		break;
	case 7:
		snprintf(out, sz, "%s", base);
		break;
	case 8:
		snprintf(out, sz, "%u: %u", d.maj, d.min);
		break;
	default:
		snprintf(out, sz, "%s", node);
		break;
	}
}

static const char *const bad_paths[] = {
	"/dev/nonexistent", "/dev/null", "/dev/zero", "/dev", "/", "/tmp",
	"/dev/ram99", "/dev/loop0", "/dev/loop7", "/dev/mapper/control",
	NODE_DIR "/link-dangling", NODE_DIR "/plain-file", "0:0", "1:99",
	"4096:0", "1:1048576", "-1:0", "1:-0", "1:0x", ":0", "1:", "1", "0",
	"/dev/ram", "ram0", "/dev/ram0/", "/dev//", "..", ".", "/dev/nfs",
	"/dev/cifs", "PARTUUID=", "1:0:0:0", "1:0:", "1::0", "01:0", "0x100",
	"100", "fff00", "/dev/ram\x01", "/dev/\xff\xfe", "/dev/ram 0",
	"/proc/self/fd/0", "/sys/block/ram0", "/dev/dm-0", "/dev/dm-99999",
};

/* A random device path: a D, a resident, or something odd. */
static void random_path(struct rng *r, char *out, size_t sz)
{
	unsigned int k = below(r, 100);
	int i;

	if (k < 45) {
		i = below(r, NDEVS);
		path_forms(r, devpath[i], devnum[i], out, sz);
	} else if (k < 60) {
		i = below(r, NRES);
		path_forms(r, res[i].node, res[i].dev, out, sz);
	} else if (k < 62) {
		snprintf(out, sz, NODE_DIR "/%s", "link0");
	} else if (k < 64) {
		snprintf(out, sz, "%u:%u", fzt_dev.maj, fzt_dev.min);
	} else if (k < 85) {
		snprintf(out, sz, "%s", PICK(r, bad_paths));
	} else if (k < 90) {
		/* very long: beyond NAME_MAX in one component, or PATH_MAX */
		size_t n = chance(r, 50) ? 300 : 5000, j;

		if (n > sz - 8)
			n = sz - 8;
		strcpy(out, "/dev/");
		for (j = 5; j < n; j++)
			out[j] = chance(r, 3) ? '/' : 'a' + below(r, 26);
		out[n] = '\0';
	} else {
		random_bytes_word(r, out, sz, 40);
	}
}

/* Serialize words with odd separators; bytes that split a word are escaped. */
static void serialize(struct rng *r, const struct wlist *l, struct buf *out)
{
	static const char *const seps[] = { " ", " ", " ", "  ", "\t", "\n",
		"\v", "\f", "\r", " \t ", "\xa0", "        " };
	bool odd = chance(r, 25);
	int i;

	buf_reset(out);
	if (odd && chance(r, 30))
		buf_add(out, PICK(r, seps));
	for (i = 0; i < l->n; i++) {
		const char *s;

		if (i)
			buf_add(out, odd ? PICK(r, seps) : " ");
		for (s = l->w[i]; *s; s++) {
			if (k_isspace(*s) || *s == '\\')
				buf_addc(out, '\\');
			buf_addc(out, *s);
		}
	}
	if (odd && chance(r, 30))
		buf_add(out, PICK(r, seps));
}

/* Byte-level damage after serializing: the oracle re-splits anyway. */
static void raw_mutate(struct rng *r, struct buf *b)
{
	int n = 1 + below(r, 3);

	while (n--) {
		size_t at = b->len ? below(r, b->len + 1) : 0;
		char c;

		switch (below(r, 5)) {
		case 0:		/* insert a byte */
			c = 1 + below(r, 255);
			buf_reserve(b, 1);
			memmove(b->p + at + 1, b->p + at, b->len - at + 1);
			b->p[at] = c;
			b->len++;
			break;
		case 1:		/* insert a backslash */
			buf_reserve(b, 1);
			memmove(b->p + at + 1, b->p + at, b->len - at + 1);
			b->p[at] = '\\';
			b->len++;
			break;
		case 2:		/* change a byte */
			if (at < b->len)
				b->p[at] = 1 + below(r, 255);
			break;
		case 3:		/* cut the line */
			if (at < b->len) {
				b->len = at;
				b->p[at] = '\0';
			}
			break;
		default:	/* a trailing backslash */
			buf_addc(b, '\\');
			break;
		}
	}
}

/*
 * A message whose first word starts with '@' goes to the dm core (stats),
 * not to the target: keep the fuzzer on dm-colo's side.
 */
static void no_core_message(struct buf *b)
{
	struct words ws;
	bool core;

	if (!b->p)
		return;
	core = !k_split_args(b->p, &ws) && ws.n && ws.w[0][0] == '@';
	words_free(&ws);
	if (core) {
		buf_reserve(b, 1);
		memmove(b->p + 1, b->p, b->len + 1);
		b->p[0] = 'x';
		b->len++;
	}
}

/* Word-level mutations. */
static void mutate_words(struct rng *r, struct wlist *l)
{
	int n = below(r, 4), i;
	char w[8192];

	while (n--) {
		int at = l->n ? below(r, l->n) : 0;

		switch (below(r, 10)) {
		case 0:
			if (l->n)
				wl_delete(l, at);
			break;
		case 1:
			if (l->n)
				wl_insert(l, at, l->w[at]);
			break;
		case 2:
			if (l->n > 1) {
				int b = below(r, l->n);
				char *t = l->w[at];

				l->w[at] = l->w[b];
				l->w[b] = t;
			}
			break;
		case 3:
			random_number(r, w, sizeof(w));
			if (l->n && chance(r, 70))
				wl_set(l, at, w);
			else
				wl_insert(l, l->n ? at : 0, w);
			break;
		case 4:
			random_path(r, w, sizeof(w));
			if (l->n)
				wl_set(l, at, w);
			else
				wl_add(l, w);
			break;
		case 5:
			wl_insert(l, l->n ? below(r, l->n + 1) : 0, PICK(r, junk_words));
			break;
		case 6:
			random_bytes_word(r, w, sizeof(w), 24);
			wl_insert(l, l->n ? below(r, l->n + 1) : 0, w);
			break;
		case 7:
			if (l->n) {	/* truncate the list */
				int keep = below(r, l->n);

				for (i = l->n - 1; i >= keep; i--)
					wl_delete(l, i);
			}
			break;
		case 8:
			if (l->n) {	/* change the case of a word */
				snprintf(w, sizeof(w), "%s", l->w[at]);
				for (i = 0; w[i]; i++)
					w[i] = chance(r, 50) ? toupper((unsigned char)w[i]) : w[i];
				wl_set(l, at, w);
			}
			break;
		default:
			if (l->n) {	/* append junk to a word */
				snprintf(w, sizeof(w), "%s%s", l->w[at],
					 chance(r, 50) ? "x" : PICK(r, junk_words));
				wl_set(l, at, w);
			}
			break;
		}
	}
	if (chance(r, 3)) {	/* very many words */
		int extra = 100 + below(r, 3000);

		for (i = 0; i < extra && l->n < MAX_WORDS; i++)
			wl_add(l, chance(r, 50) ? "2" : "max_copies");
	}
	if (chance(r, 2)) {	/* one very long word */
		size_t len = 1000 + below(r, 60000), j;
		char *big = xmalloc(len + 1);

		for (j = 0; j < len; j++)
			big[j] = 'a' + below(r, 26);
		wl_insert(l, l->n ? below(r, l->n + 1) : 0, big);
		free(big);
	}
}

/* ----------------------------------------------------------- the oracle */

struct verdict {
	bool accept;
	char why[256];
};

static bool refuse(struct verdict *v, const char *fmt, ...)
{
	va_list ap;

	v->accept = false;
	va_start(ap, fmt);
	vsnprintf(v->why, sizeof(v->why), fmt, ap);
	va_end(ap);
	return false;
}

/* A device a table can open: registered, not held by a non-dm holder. */
static bool table_dev(struct verdict *v, const char *role, const char *path,
		      uint64_t len, unsigned int chunk_bytes, struct devnum *d)
{
	uint64_t size;
	unsigned int lbs;

	if (!k_dm_devt(path, d))
		return refuse(v, "%s: no such device", role);
	if (devnum_eq(*d, fzt_dev))
		return refuse(v, "%s: the device itself", role);
	if (!dev_present(*d, &size, &lbs))
		return refuse(v, "%s: %u:%u does not open", role, d->maj, d->min);
	if (d_index(*d) == D_REPLICA)
		return refuse(v, "%s: held by fz-m's mirror", role);
	if (size < len)
		return refuse(v, "%s: %llu sectors < %llu", role,
			      (unsigned long long)size, (unsigned long long)len);
	if (chunk_bytes && chunk_bytes < lbs)
		return refuse(v, "%s: chunk smaller than its block size", role);
	return true;
}

/* What the table fuzz has attached or registered besides the residents. */
struct tstate {
	bool c_attached;	/* fz-c has an ingress (from fz-t) */
	int nbases;
	struct devnum bases[MAX_TARGETS];	/* colo bases of fz-t's tables */
};

static bool colo_table_ok(struct verdict *v, const struct target *t,
			  struct devnum *bases, int *nbases)
{
	struct words ws;
	struct devnum d[3];
	unsigned long long chunk;
	unsigned int nr, nfixed, i, argc;
	unsigned long long region = 0;
	bool secondary, ok = false;
	unsigned int seen = 0;
	char **argv;

	if (k_split_args(t->params, &ws))
		return refuse(v, "too many words");
	argc = ws.n;
	argv = ws.w;
	if (!argc) {
		refuse(v, "missing mode");
		goto out;
	}
	if (!strcmp(argv[0], "secondary")) {
		secondary = true;
	} else if (!strcmp(argv[0], "primary")) {
		secondary = false;
	} else {
		refuse(v, "invalid mode");
		goto out;
	}
	nfixed = secondary ? 5 : 3;
	if (argc < nfixed) {
		refuse(v, "too few arguments");
		goto out;
	}
	if (k_kstrtoull(argv[nfixed - 1], &chunk)) {
		refuse(v, "chunk not a number");
		goto out;
	}
	if (!chunk || (chunk & (chunk - 1)) || chunk > 2048) {
		refuse(v, "chunk %llu", chunk);
		goto out;
	}
	if (argc > nfixed) {
		if (k_kstrtouint(argv[nfixed], &nr)) {
			refuse(v, "bad #opt");
			goto out;
		}
		if (nr != argc - nfixed - 1) {
			refuse(v, "#opt mismatch");
			goto out;
		}
		for (i = nfixed + 1; i < argc; i++) {
			unsigned long long rs;
			unsigned int mc, bit;

			if (!strcmp(argv[i], "max_copies")) {
				bit = 1;
			} else if (!strcmp(argv[i], "region_size")) {
				bit = 2;
			} else {
				refuse(v, "unknown option");
				goto out;
			}
			if (seen & bit) {
				refuse(v, "%s twice", argv[i]);
				goto out;
			}
			if (i + 1 >= argc) {
				refuse(v, "%s needs a value", argv[i]);
				goto out;
			}
			i++;
			if (bit == 1 &&
			    (k_kstrtouint(argv[i], &mc) || !mc || mc > 1024)) {
				refuse(v, "bad max_copies");
				goto out;
			}
			if (bit == 2 &&
			    (k_kstrtoull(argv[i], &rs) || !rs || (rs & (rs - 1)) ||
			     rs > 2097152)) {
				refuse(v, "bad region_size");
				goto out;
			}
			if (bit == 2)
				region = rs;
			seen |= bit;
		}
		if (region && region < chunk) {
			refuse(v, "region_size below the chunk size");
			goto out;
		}
	}
	if (!table_dev(v, "base", argv[1], t->len, chunk * SECTOR, &d[0]))
		goto out;
	if (secondary) {
		if (!table_dev(v, "hidden", argv[2], t->len, chunk * SECTOR, &d[1]) ||
		    !table_dev(v, "active", argv[3], t->len, chunk * SECTOR, &d[2]))
			goto out;
		if (devnum_eq(d[0], d[1]) || devnum_eq(d[0], d[2]) ||
		    devnum_eq(d[1], d[2])) {
			refuse(v, "legs not different");
			goto out;
		}
	}
	for (i = 0; i < NRES; i++) {
		if (res[i].colo && devnum_eq(d[0], res[i].basedev)) {
			refuse(v, "base used by %s", res[i].name);
			goto out;
		}
	}
	for (i = 0; i < (unsigned int)*nbases; i++) {
		if (devnum_eq(d[0], bases[i])) {
			refuse(v, "base used twice in the table");
			goto out;
		}
	}
	bases[(*nbases)++] = d[0];
	ok = true;
out:
	words_free(&ws);
	return ok;
}

static bool ingress_table_ok(struct verdict *v, const struct target *t,
			     struct tstate *ts)
{
	struct words ws;
	struct devnum d;
	bool ok = false;
	int i, found = -1;

	if (k_split_args(t->params, &ws))
		return refuse(v, "too many words");
	if (ws.n != 1) {
		refuse(v, "ingress takes one argument");
		goto out;
	}
	if (!table_dev(v, "base", ws.w[0], 0, 0, &d))
		goto out;
	for (i = 0; i < NRES; i++)
		if (res[i].colo && devnum_eq(d, res[i].basedev))
			found = i;
	if (found < 0) {
		refuse(v, "no colo device on this base");
		goto out;
	}
	if (res[found].has_ingress || (found == R_C && ts->c_attached)) {
		refuse(v, "%s already has an ingress", res[found].name);
		goto out;
	}
	if (found != R_C && found != R_S) {
		refuse(v, "%s is a primary", res[found].name);
		goto out;
	}
	if (t->len > res[found].len) {
		refuse(v, "ingress longer than %s", res[found].name);
		goto out;
	}
	ts->c_attached = true;
	ok = true;
out:
	words_free(&ws);
	return ok;
}

/*
 * The whole table, as dm and dm-colo must judge it. @live_bases are the
 * colo bases of the table being replaced (same device: no conflict).
 */
static bool table_ok(struct verdict *v, const struct target *t, int n,
		     struct tstate *ts)
{
	struct devnum bases[MAX_TARGETS];
	int nbases = 0, i;
	uint64_t next = 0;

	v->accept = true;
	snprintf(v->why, sizeof(v->why), "valid");
	for (i = 0; i < n; i++) {
		if (!t[i].len)
			return refuse(v, "target %d: zero length", i);
		if (t[i].start != next)
			return refuse(v, "target %d: gap in table", i);
		next = t[i].start + t[i].len;
		if (next < t[i].start)
			return refuse(v, "target %d: wraps", i);
		if (!strcmp(t[i].type, "colo")) {
			if (!colo_table_ok(v, &t[i], bases, &nbases))
				return false;
		} else if (!strcmp(t[i].type, "colo-ingress")) {
			if (!ingress_table_ok(v, &t[i], ts))
				return false;
		} else if (!strcmp(t[i].type, "zero") || !strcmp(t[i].type, "error")) {
			continue;
		} else {
			return refuse(v, "unknown target type");
		}
	}
	return true;
}

/* ------------------------------------------------------- table inputs */

struct table_input {
	int n;
	struct target t[MAX_TARGETS];
	const char *shape;
};

static void table_input_free(struct table_input *in)
{
	int i;

	for (i = 0; i < in->n; i++)
		free(in->t[i].params);
	in->n = 0;
}

static uint64_t random_len(struct rng *r, uint64_t good)
{
	static const uint64_t odd[] = { 0, 1, 7, 8, 9, 1023, 4095 };

	switch (below(r, 12)) {
	case 0:
		return PICK(r, odd);
	case 1:
		return good + 1 + below(r, 64);
	case 2:
		return ~0ULL - below(r, 3);
	case 3:
		return 1ULL << (40 + below(r, 24));
	case 4:
		return 1 + below(r, good);
	case 5:
		return good - below(r, 7);
	default:
		return good;
	}
}

static int free_d(struct rng *r)
{
	return below(r, 8);
}

/* A valid target of @type over free devices, then mutated. */
static void gen_target(struct rng *r, struct target *t, const char *type,
		       uint64_t start, uint64_t max_len, bool mutate)
{
	static const char *const chunks[] = { "1", "2", "8", "16", "64", "128",
		"1024", "2048" };
	struct wlist l = { 0 };
	struct buf b = { 0 };
	char w[8192];
	int a, bb, c;

	t->start = start;
	t->len = max_len;
	if (chance(r, 30))
		t->len = 1 + below(r, max_len);
	snprintf(t->type, sizeof(t->type), "%s", type);
	if (!strcmp(type, "colo-ingress")) {
		int which = chance(r, 70) ? R_C : below(r, NRES);

		path_forms(r, res[which].basepath, res[which].basedev, w, sizeof(w));
		if (chance(r, 70))
			snprintf(w, sizeof(w), "%s", res[which].basepath);
		wl_add(&l, w);
		t->len = chance(r, 70) ? res[R_C].len : 1 + below(r, res[R_C].len);
	} else if (!strcmp(type, "colo")) {
		bool secondary = chance(r, 60);

		a = free_d(r);
		do {
			bb = free_d(r);
		} while (bb == a);
		do {
			c = free_d(r);
		} while (c == a || c == bb);
		wl_add(&l, secondary ? "secondary" : "primary");
		path_forms(r, devpath[a], devnum[a], w, sizeof(w));
		wl_add(&l, chance(r, 60) ? devpath[a] : w);
		if (secondary) {
			path_forms(r, devpath[bb], devnum[bb], w, sizeof(w));
			wl_add(&l, chance(r, 60) ? devpath[bb] : w);
			path_forms(r, devpath[c], devnum[c], w, sizeof(w));
			wl_add(&l, chance(r, 60) ? devpath[c] : w);
		}
		wl_add(&l, PICK(r, chunks));
		if (chance(r, 40)) {
			static const char *const regions[] = {
				"8", "64", "8192", "2097152", "4194304", "0", "3",
				"1", "2048", "x",
			};
			unsigned int k = below(r, 3);

			if (k == 0) {
				wl_add(&l, "0");
			} else if (k == 1) {
				wl_add(&l, "2");
				wl_add(&l, "max_copies");
				snprintf(w, sizeof(w), "%llu",
					 (unsigned long long)(1 + below(r, 1024)));
				wl_add(&l, w);
			} else {
				wl_add(&l, "2");
				wl_add(&l, "region_size");
				wl_add(&l, PICK(r, regions));
			}
		}
	} else {
		/* zero, error: no arguments */
	}
	if (mutate && strcmp(type, "zero") && strcmp(type, "error")) {
		if (chance(r, 80))
			mutate_words(r, &l);
		if (chance(r, 30))
			t->len = random_len(r, t->len);
		if (chance(r, 4))
			t->start = PICK(r, ((const uint64_t[]){ 1, 8, ~0ULL, 1ULL << 40 }));
	}
	serialize(r, &l, &b);
	if (mutate && strcmp(type, "zero") && strcmp(type, "error") && chance(r, 12))
		raw_mutate(r, &b);
	t->params = strdup(b.p ? b.p : "");
	free(b.p);
	wl_free(&l);
}

static const char *const type_typos[] = { "Colo", "colo-ingres", "colo_ingress",
	"colo ", "col", "coloingress", "colo-Ingress" };

static void gen_table(struct rng *r, struct table_input *in)
{
	uint64_t size = dev_sectors;
	unsigned int k = below(r, 100);

	memset(in, 0, sizeof(*in));
	if (k < 38) {
		in->shape = "colo";
		in->n = 1;
		gen_target(r, &in->t[0], "colo", 0, size, chance(r, 85));
	} else if (k < 62) {
		in->shape = "colo-ingress";
		in->n = 1;
		gen_target(r, &in->t[0], "colo-ingress", 0, size, chance(r, 85));
	} else if (k < 90) {
		/* a colo table with a secondary/primary leaning, mutated hard */
		in->shape = "colo-mutated";
		in->n = 1;
		gen_target(r, &in->t[0], "colo", 0, size, true);
		if (chance(r, 50))
			in->t[0].len = random_len(r, in->t[0].len);
	} else if (k < 98) {
		/* two targets */
		uint64_t l1 = 1 + below(r, size - 1);
		static const char *const kinds[] = { "colo", "colo", "colo-ingress",
			"zero", "error" };
		const char *k1 = PICK(r, kinds), *k2 = PICK(r, kinds);

		in->shape = "two-targets";
		in->n = 2;
		gen_target(r, &in->t[0], k1, 0, l1, chance(r, 30));
		gen_target(r, &in->t[1], k2, l1, size - l1, chance(r, 30));
		if (!strcmp(k1, "colo") && !strcmp(k2, "colo") && chance(r, 50)) {
			/* the same base in both */
			struct words ws;

			if (!k_split_args(in->t[0].params, &ws) && ws.n > 1) {
				struct buf b = { 0 };
				struct words w2;

				if (!k_split_args(in->t[1].params, &w2) && w2.n > 1) {
					int i;

					for (i = 0; i < w2.n; i++) {
						const char *s = i == 1 ? ws.w[1] : w2.w[i];

						if (i)
							buf_addc(&b, ' ');
						for (; *s; s++) {
							if (k_isspace(*s) || *s == '\\')
								buf_addc(&b, '\\');
							buf_addc(&b, *s);
						}
					}
					free(in->t[1].params);
					in->t[1].params = strdup(b.p);
				}
				words_free(&w2);
				free(b.p);
			}
			words_free(&ws);
		}
	} else {
		/* a wrong target type name */
		in->shape = "type-typo";
		in->n = 1;
		gen_target(r, &in->t[0], chance(r, 50) ? "colo" : "colo-ingress", 0,
			   size, chance(r, 50));
		snprintf(in->t[0].type, sizeof(in->t[0].type), "%s", PICK(r, type_typos));
	}
}

static void describe_table(const struct table_input *in, struct buf *out)
{
	int i;

	for (i = 0; i < in->n; i++) {
		buf_printf(out, "  target %d: %llu %llu %s ", i,
			   (unsigned long long)in->t[i].start,
			   (unsigned long long)in->t[i].len, in->t[i].type);
		quote(out, in->t[i].params, 600);
		buf_addc(out, '\n');
	}
}

/* ------------------------------------------------------- table checks */

static char snap_st[NRES][512], snap_tb[NRES][512];

static long n_checks;

static void check_residents(const char *when)
{
	char st[NRES][512], tb[NRES][512];
	bool tables = !(n_checks++ % 8);
	int i;

	snapshot_residents_t(st, tb, tables);
	for (i = 0; i < NRES; i++) {
		if (strcmp(st[i], snap_st[i]))
			fail("%s: %s status changed: '%s' -> '%s'", when, res[i].name,
			     snap_st[i], st[i]);
		if (tables && strcmp(tb[i], snap_tb[i]))
			fail("%s: %s table changed: '%s' -> '%s'", when, res[i].name,
			     snap_tb[i], tb[i]);
	}
}

static void check_refs(const char *when)
{
	unsigned long refs = read_module_refs();

	if (refs != module_refs)
		fail("%s: dm_colo module references %lu, expected %lu", when, refs,
		     module_refs);
}

static void check_kmsg(void)
{
	const char *bad = kmsg_bad();

	if (bad)
		fail("the kernel logged '%s'", bad);
}

/*
 * "<digits> unknown none - - none 0/0 0 none 0/0 0" and nothing after it
 * (no metadata device, no verify, no mirror).
 */
static bool tail_is_bytes_unknown(const char *p)
{
	size_t n = strspn(p, "0123456789");

	return n && !strcmp(p + n, " unknown none - - none 0/0 0 none 0/0 0");
}

/* Status and table lines of an accepted single colo or ingress target. */
static void check_loaded(const struct table_input *in, bool inactive)
{
	struct buf st = { 0 }, tb = { 0 };
	const struct target *t = &in->t[0];
	struct words ws;
	unsigned long long chunk, nchunks;
	char want[512];

	if (dm_status(T_DEV, false, inactive, &st) ||
	    dm_status(T_DEV, true, inactive, &tb)) {
		fail("accepted table: no status");
		goto out;
	}
	if (in->n != 1)
		goto out;
	if (!strcmp(t->type, "colo-ingress")) {
		snprintf(want, sizeof(want), "0 %llu colo-ingress fz-c",
			 (unsigned long long)t->len);
		if (strcmp(st.p, want))
			fail("ingress status '%s', expected '%s'", st.p, want);
		snprintf(want, sizeof(want), "0 %llu colo-ingress %u:%u",
			 (unsigned long long)t->len, devnum[8].maj, devnum[8].min);
		if (strcmp(tb.p, want))
			fail("ingress table '%s', expected '%s'", tb.p, want);
		goto out;
	}
	if (k_split_args(t->params, &ws))
		goto out;
	k_kstrtoull(ws.w[!strcmp(ws.w[0], "secondary") ? 4 : 2], &chunk);
	nchunks = (t->len + chunk - 1) / chunk;
	snprintf(want, sizeof(want),
		 "0 %llu colo %s %llu 0/%llu 0/%llu none 0/0 0/%llu none 0/0 none ok ",
		 (unsigned long long)t->len, ws.w[0], chunk, nchunks, nchunks, nchunks);
	/* then <bitmap_bytes> <dirty_coverage>: a new table's is unknown */
	if (strncmp(st.p, want, strlen(want)) || !tail_is_bytes_unknown(st.p + strlen(want)))
		fail("status '%s', expected '%s<bytes> unknown none - - none 0/0 0 none 0/0 0'",
		     st.p, want);
	words_free(&ws);
out:
	free(st.p);
	free(tb.p);
}

/* Does an accepted colo table use a resident dm device as a leg? */
static bool uses_resident(const struct table_input *in)
{
	struct words ws;
	struct devnum d;
	bool used = false;
	int i, j;

	for (i = 0; i < in->n; i++) {
		if (strcmp(in->t[i].type, "colo") || k_split_args(in->t[i].params, &ws))
			continue;
		for (j = 1; j < ws.n && j < 4; j++)
			if (k_dm_devt(ws.w[j], &d) && resident_of(d) >= 0)
				used = true;
		words_free(&ws);
	}
	return used;
}

/* A resumed table: I/O works; an ingress write leaves fz-c's view alone. */
static void check_io(const struct table_input *in)
{
	char node[64];
	const struct target *t = &in->t[0];
	uint64_t sector = t->len > 8 ? below(&(struct rng){ t->len }, t->len - 8) : 0;
	size_t bytes = t->len >= 8 ? 4096 : 512;
	unsigned char *before = NULL;
	int r;

	if (in->n != 1 || t->len < 1)
		return;
	make_node(T_DEV, fzt_dev, node, sizeof(node));
	if (!strcmp(t->type, "colo-ingress")) {
		before = xmalloc(bytes);
		if (dio(res[R_C].node, false, sector, bytes, 0)) {
			fail("fz-c read failed");
			goto out;
		}
		memcpy(before, dio_buf, bytes);
	}
	r = dio(node, true, sector, bytes, 0x5a);
	if (!r)
		r = dio(node, false, sector, bytes, 0);
	if (r) {
		fail("I/O on the accepted table: %s", strerror(-r));
		goto out;
	}
	if (((unsigned char *)dio_buf)[0] != 0x5a ||
	    ((unsigned char *)dio_buf)[bytes - 1] != 0x5a)
		fail("read back differs from what was written at sector %llu",
		     (unsigned long long)sector);
	if (before) {
		if (dio(res[R_C].node, false, sector, bytes, 0) ||
		    memcmp(before, dio_buf, bytes))
			fail("an ingress write changed fz-c's view at sector %llu",
			     (unsigned long long)sector);
	}
out:
	free(before);
	unlink(node);
}

static long n_accepted[NKINDS], n_refused[NKINDS];
static long n_shape[8];
static const char *const shapes[] = { "colo", "colo-ingress", "colo-mutated",
	"two-targets", "type-typo", "reload" };

static void count_shape(const char *shape)
{
	size_t i;

	for (i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++)
		if (!strcmp(shape, shapes[i]))
			n_shape[i]++;
}

/*
 * Load @in into fz-t; judge. Returns 1 if loaded (accepted), 0 if not.
 * @ts is what fz-t's current tables hold.
 */
static int try_load(struct table_input *in, struct tstate *ts, const char *what)
{
	struct verdict v;
	struct tstate next = *ts;
	struct dm_ioctl info;
	double t0;
	int r;

	buf_reset(&report);
	buf_printf(&report, "  input (%s, %s):\n", in->shape, what);
	describe_table(in, &report);
	next.nbases = 0;
	table_ok(&v, in->t, in->n, &next);
	buf_printf(&report, "  oracle: %s (%s)\n", v.accept ? "accept" : "refuse", v.why);

	t0 = now_s();
	r = dm_load(T_DEV, in->t, in->n);
	tm_acc[TM_INPUT] += now_s() - t0;
	kmsg_drain();
	check_kmsg();
	buf_printf(&report, "  kernel: %s\n", r ? strerror(-r) : "accepted");
	if (opt.verbose)
		printf("%s %s", cur_input, report.p);
	if (r) {
		n_refused[K_TABLE]++;
		if (v.accept)
			fail("refused (%s), the oracle says it is valid", strerror(-r));
		if (!strstr(kmsg_lines.p ? kmsg_lines.p : "", "device-mapper"))
			fail("refused without a kernel log line");
		if (dm_info(T_DEV, &info))
			fail("fz-t is gone");
		else if ((info.flags & DM_INACTIVE_PRESENT_FLAG) && !ts->nbases &&
			 !ts->c_attached && !strcmp(what, "load"))
			fail("a refused table left an inactive table behind");
		return 0;
	}
	n_accepted[K_TABLE]++;
	if (!v.accept)
		fail("accepted, the oracle says: %s", v.why);
	*ts = next;
	return 1;
}

static void table_case(long index)
{
	struct table_input in, in2;
	struct tstate ts = { 0 };
	struct rng r;
	char name[64];
	double t0;

	snprintf(name, sizeof(name), "table:%ld", index);
	cur_input = name;
	rng_for(&r, K_TABLE, index);
	gen_table(&r, &in);
	count_shape(in.shape);

	if (!try_load(&in, &ts, "load"))
		goto check;
	check_loaded(&in, true);

	if (chance(&r, 15)) {
		/* load another over the inactive one */
		struct tstate ts2 = { 0 };

		gen_table(&r, &in2);
		in2.shape = "reload";
		count_shape(in2.shape);
		/* the inactive table is replaced: its ingress and bases go */
		ts2.c_attached = ts.c_attached;
		if (try_load(&in2, &ts2, "load over an inactive table")) {
			table_input_free(&in);
			in = in2;
			ts = ts2;
			ts.c_attached = false;
			for (int i = 0; i < in.n; i++)
				if (!strcmp(in.t[i].type, "colo-ingress"))
					ts.c_attached = true;
			check_loaded(&in, true);
		} else {
			table_input_free(&in2);
		}
	}

	t0 = now_s();
	if (chance(&r, 12)) {
		int rr = dm_resume(T_DEV);

		kmsg_drain();
		check_kmsg();
		if (rr) {
			fail("resume of an accepted table failed: %s", strerror(-rr));
		} else {
			check_loaded(&in, false);
			check_io(&in);
		}
		if (dm_remove(T_DEV))
			fail("cannot remove fz-t");
		if (dm_create(T_DEV, &fzt_dev))
			die("create " T_DEV);
		if (uses_resident(&in) || !strcmp(in.t[0].type, "colo-ingress") ||
		    (in.n > 1 && !strcmp(in.t[1].type, "colo-ingress"))) {
			/*
			 * Its I/O went into a resident (an ingress write
			 * saves chunks to fz-c's hidden): new status lines.
			 */
			char st[512], f[32];

			colo_status("fz-c", st, sizeof(st));
			status_field(st, 9, f, sizeof(f));
			if (strcmp(f, "none"))
				fail("fz-c still has an ingress after fz-t went: %s", st);
			snapshot_residents(snap_st, snap_tb);
		}
	} else {
		if (dm_clear(T_DEV))
			fail("cannot clear fz-t's inactive table");
	}
	tm_acc[TM_UNDO] += now_s() - t0;
check:
	t0 = now_s();
	kmsg_drain();
	check_kmsg();
	check_residents("after the input");
	check_refs("after the input");
	tm_acc[TM_CHECK] += now_s() - t0;
	table_input_free(&in);
}

/* ------------------------------------------------------ message inputs */

struct dev_state {
	char mode[16], commit[16], mirror[16], coverage[16];
};

static void read_state(const char *name, struct dev_state *s)
{
	char st[512];

	colo_status(name, st, sizeof(st));
	status_field(st, 0, s->mode, sizeof(s->mode));
	status_field(st, 4, s->commit, sizeof(s->commit));
	status_field(st, 7, s->mirror, sizeof(s->mirror));
	status_field(st, F_COVERAGE, s->coverage, sizeof(s->coverage));
}

/* The chunks of a colo device, from its status ("<dirty>/<chunks>"). */
static uint64_t nr_chunks_of(const char *name)
{
	char st[512], f[64], *slash;

	colo_status(name, st, sizeof(st));
	status_field(st, 6, f, sizeof(f));
	slash = strchr(f, '/');
	return slash ? strtoull(slash + 1, NULL, 10) : 0;
}

/* One range of "dirty add", as colo_parse_range() reads it. */
static bool range_ok(const char *word, uint64_t nr_chunks)
{
	unsigned long long first, last;
	char buf[48], *dash;

	if (strlen(word) >= sizeof(buf))
		return false;
	strcpy(buf, word);
	dash = strchr(buf, '-');
	if (dash)
		*dash = '\0';
	if (k_kstrtoull(buf, &first))
		return false;
	if (!dash)
		last = first;
	else if (k_kstrtoull(dash + 1, &last))
		return false;
	return first <= last && last < nr_chunks;
}

/* "dirty add <range>...": primary mode only, every range valid. */
static bool dirty_add_ok(struct verdict *v, int target,
			 const struct dev_state *s, int argc, char **argv)
{
	uint64_t nch = nr_chunks_of(res[target].name);
	int i;

	if (argc < 3 || strcmp(argv[1], "add"))
		return refuse(v, "dirty: expected add and ranges");
	if (strcmp(s->mode, "primary"))
		return refuse(v, "dirty add in secondary mode");
	for (i = 2; i < argc; i++)
		if (!range_ok(argv[i], nch))
			return refuse(v, "dirty add: bad range '%s'", argv[i]);
	return true;
}

/* The replica candidates for "mirror start". */
static void random_replica(struct rng *r, char *out, size_t sz)
{
	static const int free_ds[] = { 20, 22, 23, 0, 1 };
	unsigned int k = below(r, 100);
	int i;

	if (k < 40) {
		snprintf(out, sz, "%s", devpath[PICK(r, free_ds)]);
	} else if (k < 55) {
		i = below(r, NRES);
		snprintf(out, sz, "%s", res[i].node);
	} else if (k < 65) {
		i = below(r, NDEVS);
		snprintf(out, sz, "%s", devpath[i]);
	} else {
		random_path(r, out, sz);
	}
}

/* An async mirror's max_lag: KiB, 1 to 1048576 (dm-colo-parse.c). */
static bool max_lag_ok(const char *word)
{
	unsigned int lag;

	return !k_kstrtouint(word, &lag) && lag && lag <= 1048576;
}

static bool excl_open_ok(const char *path)
{
	int fd = open(path, O_RDWR | O_EXCL);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

static bool msg_ok(struct verdict *v, int target, uint64_t sector, const char *msg)
{
	struct words ws;
	struct dev_state s;
	struct devnum d;
	uint64_t size;
	unsigned int rate;
	bool ok = false, sync_given = false, async_given = false;
	char **argv;
	int argc, i;

	v->accept = true;
	snprintf(v->why, sizeof(v->why), "valid");
	if (k_split_args(msg, &ws))
		return refuse(v, "too many words");
	argc = ws.n;
	argv = ws.w;
	if (!argc) {
		refuse(v, "empty message");
		goto out;
	}
	if (sector >= res[target].len) {
		refuse(v, "sector outside the device");
		goto out;
	}
	if (!res[target].colo) {
		refuse(v, "target has no messages");
		goto out;
	}
	read_state(res[target].name, &s);
	if (!strcmp(argv[0], "checkpoint") || !strcmp(argv[0], "failover")) {
		if (argc != 1) {
			refuse(v, "takes no arguments");
			goto out;
		}
		if (!strcmp(argv[0], "failover") && strcmp(s.mode, "secondary") &&
		    strcmp(s.commit, "failed")) {
			refuse(v, "failover in primary mode, commit %s", s.commit);
			goto out;
		}
		if (!strcmp(argv[0], "checkpoint") && strcmp(s.mode, "secondary")) {
			refuse(v, "checkpoint in primary mode");
			goto out;
		}
		ok = true;
		goto out;
	}
	if (!strcmp(argv[0], "dirty")) {
		ok = dirty_add_ok(v, target, &s, argc, argv);
		goto out;
	}
	if (strcmp(argv[0], "mirror")) {
		refuse(v, "unknown message");
		goto out;
	}
	if (argc < 2) {
		refuse(v, "mirror needs start or stop");
		goto out;
	}
	if (!strcmp(argv[1], "sync") || !strcmp(argv[1], "async")) {
		bool async = !strcmp(argv[1], "async");

		if (argc != 2 + async)
			refuse(v, "mirror %s: wrong argument count", argv[1]);
		else if (async && !max_lag_ok(argv[2]))
			refuse(v, "mirror async: bad max_lag");
		else if (strcmp(s.mode, "primary"))
			refuse(v, "mirror %s in secondary mode", argv[1]);
		else if (strcmp(s.mirror, "copying") && strcmp(s.mirror, "in-sync"))
			refuse(v, "mirror %s without a running mirror", argv[1]);
		else
			ok = true;
		goto out;
	}
	if (!strcmp(argv[1], "stop")) {
		if (argc != 2)
			refuse(v, "mirror stop takes no arguments");
		else if (strcmp(s.mode, "primary"))
			refuse(v, "mirror stop in secondary mode");
		else if (!strcmp(s.mirror, "none"))
			refuse(v, "mirror stop without a mirror");
		else
			ok = true;
		goto out;
	}
	if (strcmp(argv[1], "start")) {
		refuse(v, "mirror needs start or stop");
		goto out;
	}
	if (argc < 3) {
		refuse(v, "mirror start: wrong argument count");
		goto out;
	}
	/*
	 * <dev> [full|dirty [<KiB/s>]] [async <max_lag>]: the sync mode only
	 * right after the device, the rate only right after it, "async
	 * <max_lag>" once, anywhere after the device.
	 */
	for (i = 3; i < argc; i++) {
		if (i == 3 && (!strcmp(argv[i], "full") || !strcmp(argv[i], "dirty"))) {
			sync_given = true;
		} else if (!strcmp(argv[i], "async")) {
			if (async_given || i + 1 >= argc || !max_lag_ok(argv[i + 1])) {
				refuse(v, "bad async");
				goto out;
			}
			async_given = true;
			i++;
		} else if (i == 4 && sync_given) {
			if (k_kstrtouint(argv[i], &rate) || !rate) {
				refuse(v, "bad rate");
				goto out;
			}
		} else {
			refuse(v, i == 3 ? "bad sync mode" : "mirror start: unexpected word");
			goto out;
		}
	}
	if (strcmp(s.mode, "primary")) {
		refuse(v, "mirror start in secondary mode");
		goto out;
	}
	if (!strcmp(s.commit, "running") || !strcmp(s.commit, "failed")) {
		refuse(v, "commit not done");
		goto out;
	}
	if (!strcmp(s.mirror, "copying") || !strcmp(s.mirror, "in-sync")) {
		refuse(v, "already mirroring");
		goto out;
	}
	/* checked before the replica is opened */
	if (sync_given && !strcmp(argv[3], "dirty") && strcmp(s.coverage, "complete")) {
		refuse(v, "dirty start, dirty coverage %s", s.coverage);
		goto out;
	}
	if (!k_lookup_bdev(argv[2], &d)) {
		refuse(v, "replica: not a block device path");
		goto out;
	}
	if (!dev_present(d, &size, NULL)) {
		refuse(v, "replica does not open");
		goto out;
	}
	if (!excl_open_ok(argv[2])) {
		refuse(v, "replica is busy");
		goto out;
	}
	if (devnum_eq(d, res[target].dev)) {
		refuse(v, "replica is the device itself");
		goto out;
	}
	if (size < res[target].len) {
		refuse(v, "replica too small");
		goto out;
	}
	ok = true;
out:
	words_free(&ws);
	return ok;
}

/* An async mirror's max_lag: mostly valid (1 to 1048576 KiB), or not. */
static void random_max_lag(struct rng *r, char *out, size_t sz)
{
	static const char *const odd[] = { "0", "1048577", "4294967296", "64k", "-1" };

	if (chance(r, 70))
		snprintf(out, sz, "%u", (unsigned int)(1 + below(r, 1048576)));
	else if (chance(r, 50))
		snprintf(out, sz, "%s", PICK(r, odd));
	else
		random_number(r, out, sz);
}

static const int msg_targets[] = { R_S, R_S, R_P, R_Q, R_Q, R_M, R_M, R_SI, R_F };

static void gen_message(struct rng *r, int target, struct buf *out, uint64_t *sector)
{
	struct wlist l = { 0 };
	char w[8192];
	unsigned int k = below(r, 100);

	*sector = 0;
	if (chance(r, 5)) {
		static const uint64_t secs[] = { 1, 4095, ~0ULL, 1ULL << 40 };

		*sector = chance(r, 50) ? res[target].len - 1 + below(r, 2) : PICK(r, secs);
	}
	if (k < 20) {
		wl_add(&l, "checkpoint");
	} else if (k < 35) {
		wl_add(&l, "failover");
	} else if (k < 70) {
		wl_add(&l, "mirror");
		wl_add(&l, "start");
		random_replica(r, w, sizeof(w));
		wl_add(&l, w);
		if (chance(r, 60)) {
			wl_add(&l, chance(r, 50) ? "full" : "dirty");
			if (chance(r, 40)) {
				if (chance(r, 60))
					snprintf(w, sizeof(w), "%llu",
						 (unsigned long long)(1 + below(r, 1000000)));
				else
					random_number(r, w, sizeof(w));
				wl_add(&l, w);
			}
		}
		if (chance(r, 15)) {
			wl_add(&l, "async");
			random_max_lag(r, w, sizeof(w));
			wl_add(&l, w);
		}
	} else if (k < 80) {
		unsigned int m = below(r, 10);

		wl_add(&l, "mirror");
		wl_add(&l, m < 6 ? "stop" : m < 8 ? "sync" : "async");
		if (m >= 8) {
			random_max_lag(r, w, sizeof(w));
			wl_add(&l, w);
		}
	} else if (k < 85) {
		int n = below(r, 4);
		uint64_t nch = res[target].len / 8 + 1;

		wl_add(&l, "dirty");
		wl_add(&l, chance(r, 90) ? "add" : PICK(r, junk_words));
		while (n-- >= 0) {
			uint64_t a = below(r, nch + 2), b = a + below(r, 40);

			if (chance(r, 30))
				snprintf(w, sizeof(w), "%llu", (unsigned long long)a);
			else if (chance(r, 90))
				snprintf(w, sizeof(w), "%llu-%llu",
					 (unsigned long long)a, (unsigned long long)b);
			else
				random_bytes_word(r, w, sizeof(w), 60);
			wl_add(&l, w);
		}
	} else if (k < 90) {
		/* empty or blank */
	} else {
		int n = 1 + below(r, 6);

		while (n--) {
			if (chance(r, 50))
				wl_add(&l, PICK(r, junk_words));
			else {
				random_bytes_word(r, w, sizeof(w), 30);
				wl_add(&l, w);
			}
		}
	}
	/* the first message word must not turn into a dm core "@" message */
	if (k < 85 && chance(r, 70))
		mutate_words(r, &l);
	if (l.n && l.w[0][0] == '@')
		l.w[0][0] = 'a';
	serialize(r, &l, out);
	if (chance(r, 10))
		raw_mutate(r, out);
	no_core_message(out);
	if (chance(r, 2)) {	/* a very long line of blanks after a valid word */
		size_t n = 1000 + below(r, 200000);

		while (n--)
			buf_addc(out, chance(r, 90) ? ' ' : '\t');
	}
	wl_free(&l);
}

/* Put @target back into its state after an accepted message. */
static void restore(int target, const char *first_word, const char *second_word)
{
	char st[512], f[32];
	int r;

	colo_status(res[target].name, st, sizeof(st));
	if (target == R_S && !strcmp(first_word, "checkpoint")) {
		status_field(st, 2, f, sizeof(f));
		if (strncmp(f, "0/", 2))
			fail("after checkpoint: active %s", f);
		status_field(st, 3, f, sizeof(f));
		if (strncmp(f, "0/", 2))
			fail("after checkpoint: hidden %s", f);
		dirty_fz_s();
		return;
	}
	if (target == R_S && !strcmp(first_word, "failover")) {
		status_field(st, 0, f, sizeof(f));
		if (strcmp(f, "primary"))
			fail("after failover: mode %s", f);
		/* the failover seeded the dirty bitmap */
		status_field(st, F_COVERAGE, f, sizeof(f));
		if (strcmp(f, "complete"))
			fail("after failover: dirty coverage %s", f);
		if (!wait_field("fz-s", 4, "done", NULL))
			fail("fz-s: commit not done after 60 s");
		remove_fz_s();
		make_fz_s();
		return;
	}
	if (target == R_F) {
		/* failover resumed the commit; the leg still fails */
		if (!wait_field("fz-f", 4, "failed", NULL))
			fail("fz-f: the resumed commit did not fail again");
		settle("fz-f");
		return;
	}
	if (!strcmp(first_word, "mirror") && !strcmp(second_word, "start")) {
		status_field(st, 7, f, sizeof(f));
		/* degraded: the replica (another fz device) failed a write */
		if (strcmp(f, "copying") && strcmp(f, "in-sync") && strcmp(f, "degraded"))
			fail("after mirror start: mirror %s", f);
		r = dm_message(res[target].name, 0, "mirror stop");
		if (r)
			fail("mirror stop after an accepted start: %s", strerror(-r));
	} else if (!strcmp(first_word, "mirror") &&
		   (!strcmp(second_word, "sync") || !strcmp(second_word, "async"))) {
		/* A mode switch: back to sync, which the checks expect. */
		r = dm_message(res[target].name, 0, "mirror sync");
		if (r)
			fail("mirror sync after an accepted mode switch: %s", strerror(-r));
	} else if (!strcmp(first_word, "mirror")) {
		status_field(st, 7, f, sizeof(f));
		if (strcmp(f, "none"))
			fail("after mirror stop: mirror %s", f);
	}
	/*
	 * fz-m goes back to in sync with D19: a dirty start, unless a start
	 * above was a full one, stopped before its pass ended (coverage
	 * unknown: a dirty start is refused).
	 */
	if (target == R_M) {
		/* A running mirror (after "dirty add") copies what was added. */
		colo_status("fz-m", st, sizeof(st));
		status_field(st, 7, f, sizeof(f));
		if (!strcmp(f, "copying") || !strcmp(f, "in-sync")) {
			if (!wait_field("fz-m", 7, "in-sync", NULL))
				die("fz-m: mirror not in sync after 60 s");
		} else {
			mirror_to_replica("fz-m", restore_sync("fz-m"));
		}
	}
	/* fz-p keeps its failover's complete coverage (fz-q need not) */
	if (target == R_P && !strcmp(restore_sync("fz-p"), "full"))
		full_pass("fz-p", 20);
	settle(res[target].name);
	check_coverage_word(res[target].name, "after restoring");
}

static long n_msg_target[NRES];
static long n_dirty_accepted, n_dirty_refused;

/* Is @msg a "mirror start <dev> dirty [...]" (as the kernel splits it)? */
static bool is_dirty_start(const char *msg)
{
	struct words ws;
	bool dirty;

	if (k_split_args(msg, &ws))
		return false;
	dirty = ws.n >= 4 && !strcmp(ws.w[0], "mirror") && !strcmp(ws.w[1], "start") &&
		!strcmp(ws.w[3], "dirty");
	words_free(&ws);
	return dirty;
}

static void msg_case(long index)
{
	struct buf msg = { 0 };
	struct verdict v;
	struct words ws;
	struct dev_state pre = { 0 };
	struct rng r;
	uint64_t sector;
	double t0;
	char name[64], first[64] = "", second[64] = "";
	int target, rc;
	bool dirty_start;

	snprintf(name, sizeof(name), "msg:%ld", index);
	cur_input = name;
	rng_for(&r, K_MSG, index);
	target = PICK(&r, msg_targets);
	n_msg_target[target]++;
	gen_message(&r, target, &msg, &sector);

	buf_reset(&report);
	buf_printf(&report, "  input: message to %s at sector %llu: ", res[target].name,
		   (unsigned long long)sector);
	quote(&report, msg.p ? msg.p : "", 600);
	buf_addc(&report, '\n');
	if (res[target].colo)
		read_state(res[target].name, &pre);
	dirty_start = is_dirty_start(msg.p ? msg.p : "");
	msg_ok(&v, target, sector, msg.p ? msg.p : "");
	buf_printf(&report, "  oracle: %s (%s)\n", v.accept ? "accept" : "refuse", v.why);
	if (dirty_start)
		buf_printf(&report, "  dirty coverage before: %s\n", pre.coverage);

	t0 = now_s();
	rc = dm_message(res[target].name, sector, msg.p ? msg.p : "");
	tm_acc[TM_INPUT] += now_s() - t0;
	kmsg_drain();
	check_kmsg();
	buf_printf(&report, "  kernel: %s\n", rc ? strerror(-rc) : "accepted");
	if (opt.verbose)
		printf("%s %s", cur_input, report.p);
	if (rc) {
		n_refused[K_MSG]++;
		if (v.accept)
			fail("refused (%s), the oracle says it is valid", strerror(-rc));
		if (!strstr(kmsg_lines.p ? kmsg_lines.p : "", "device-mapper"))
			fail("refused without a kernel log line");
		if (!v.accept && !strncmp(v.why, "dirty start, dirty coverage", 27)) {
			/* refused before the replica is opened, for this reason */
			n_dirty_refused++;
			if (rc != -EINVAL)
				fail("dirty start with coverage %s refused with %s, expected %s",
				     pre.coverage, strerror(-rc), strerror(EINVAL));
			if (!strstr(kmsg_lines.p ? kmsg_lines.p : "", "dirty chunks may be missing"))
				fail("dirty start with coverage %s refused, but the log does not say "
				     "dirty chunks may be missing", pre.coverage);
		}
		check_residents("after a refused message");
	} else {
		n_accepted[K_MSG]++;
		if (!v.accept)
			fail("accepted, the oracle says: %s", v.why);
		if (dirty_start) {
			n_dirty_accepted++;
			if (strcmp(pre.coverage, "complete"))
				fail("a dirty mirror start was accepted with dirty coverage '%s'",
				     pre.coverage);
		}
		if (res[target].colo)
			check_coverage_word(res[target].name, "after an accepted message");
		if (!k_split_args(msg.p, &ws) && ws.n) {
			snprintf(first, sizeof(first), "%s", ws.w[0]);
			if (ws.n > 1)
				snprintf(second, sizeof(second), "%s", ws.w[1]);
		}
		words_free(&ws);
		t0 = now_s();
		restore(target, first, second);
		tm_acc[TM_RESTORE] += now_s() - t0;
		kmsg_drain();
		check_kmsg();
		snapshot_residents(snap_st, snap_tb);
	}
	check_refs("after the message");
	free(msg.p);
}

/* ---------------------------------------------------------------- race */

struct racer {
	const char *name, *msg;
	int rc;
	pthread_barrier_t *bar;
};

static void *race_thread(void *arg)
{
	struct racer *rc = arg;

	pthread_barrier_wait(rc->bar);
	rc->rc = dm_message(rc->name, 0, rc->msg);
	return NULL;
}

static int race_main(int argc, char **argv)
{
	pthread_barrier_t bar;
	struct racer a, b;
	pthread_t ta, tb;

	if (argc != 3) {
		fprintf(stderr, "usage: colo-fuzz --race NAME MSG1 MSG2\n");
		return 2;
	}
	dm_open_control();
	pthread_barrier_init(&bar, NULL, 2);
	a = (struct racer){ .name = argv[0], .msg = argv[1], .bar = &bar };
	b = (struct racer){ .name = argv[0], .msg = argv[2], .bar = &bar };
	if (pthread_create(&ta, NULL, race_thread, &a) ||
	    pthread_create(&tb, NULL, race_thread, &b))
		return 2;
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	printf("%d %d\n", a.rc, b.rc);
	return 0;
}

/* -------------------------------------------------------------- main */

static void on_alarm(int sig)
{
	char m[160];
	int n;

	(void)sig;
	n = snprintf(m, sizeof(m), "FAIL %s: no answer from the kernel for 120 s (hang)\n",
		     cur_input);
	if (write(1, m, n) < 0)
		_exit(3);
	_exit(3);
}

static void usage(void)
{
	printf("usage: colo-fuzz [--seed S] [--tables N] [--messages N] [--only table:I|msg:I]\n"
	       "                 [--verbose] [--max-fail N] [--replay-hint TEXT] DEV0 ... DEV23\n"
	       "       colo-fuzz --race NAME MSG1 MSG2\n"
	       "24 free block devices of one size (at least 8192 sectors): see the file header.\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "seed", required_argument, NULL, 's' },
		{ "tables", required_argument, NULL, 't' },
		{ "messages", required_argument, NULL, 'm' },
		{ "only", required_argument, NULL, 'o' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "max-fail", required_argument, NULL, 'f' },
		{ "replay-hint", required_argument, NULL, 'r' },
		{ "race", no_argument, NULL, 'R' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct timespec t0, t1;
	struct utsname u;
	unsigned int kmaj = 0, kmin = 0;
	long i;
	int c;

	setvbuf(stdout, NULL, _IOLBF, 0);
	opt.seed = (uint64_t)time(NULL) * 1000003ULL ^ getpid();
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			opt.seed = strtoull(optarg, NULL, 0);
			break;
		case 't':
			opt.tables = atol(optarg);
			break;
		case 'm':
			opt.msgs = atol(optarg);
			break;
		case 'o': {
			char *colon = strchr(optarg, ':');

			if (!colon)
				return usage(), 2;
			*colon = '\0';
			opt.only_kind = !strcmp(optarg, "table") ? K_TABLE :
					!strcmp(optarg, "msg") ? K_MSG : -1;
			if (opt.only_kind < 0)
				return usage(), 2;
			opt.only_index = atol(colon + 1);
			opt.verbose = true;
			break;
		}
		case 'v':
			opt.verbose = true;
			break;
		case 'f':
			opt.max_fail = atoi(optarg);
			break;
		case 'r':
			opt.replay_hint = optarg;
			break;
		case 'R':
			return race_main(argc - optind, argv + optind);
		default:
			usage();
			return c == 'h' ? 0 : 2;
		}
	}
	if (argc - optind != NDEVS) {
		usage();
		return 2;
	}
	for (i = 0; i < NDEVS; i++) {
		devpath[i] = argv[optind + i];
		buf_printf(&dev_args, " %s", devpath[i]);
	}
	if (!uname(&u))
		sscanf(u.release, "%u.%u", &kmaj, &kmin);
	old_name_lookup = kmaj < 6 || (kmaj == 6 && kmin < 5);
	if (posix_memalign(&dio_buf, 4096, 1 << 20))
		die("out of memory");

	printf("colo-fuzz: seed %" PRIu64 ", %ld tables, %ld messages, kernel %s%s\n",
	       opt.seed, opt.tables, opt.msgs, u.release,
	       old_name_lookup ? " (dm resolves names with name_to_dev_t)" : "");
	kmsg_fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);
	if (kmsg_fd < 0)
		die("open /dev/kmsg: %s", strerror(errno));
	lseek(kmsg_fd, 0, SEEK_END);
	signal(SIGALRM, on_alarm);
	alarm(300);
	setup();
	kmsg_drain();
	check_kmsg();
	snapshot_residents(snap_st, snap_tb);
	if (opt.verbose)
		for (i = 0; i < NRES; i++)
			printf("  %s: %s | %s\n", res[i].name, snap_st[i], snap_tb[i]);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (opt.only_kind >= 0) {
		alarm(120);
		if (opt.only_kind == K_TABLE)
			table_case(opt.only_index);
		else
			msg_case(opt.only_index);
	} else {
		for (i = 0; i < opt.tables; i++) {
			alarm(120);
			table_case(i);
		}
		cur_input = "(between tables and messages)";
		for (i = 0; i < opt.msgs; i++) {
			alarm(120);
			msg_case(i);
		}
	}
	alarm(300);
	cur_input = "(final I/O)";
	/* the residents still do I/O */
	if (dio(res[R_C].node, true, 0, 65536, 0x77) || dio(res[R_C].node, false, 0, 65536, 0) ||
	    ((unsigned char *)dio_buf)[65535] != 0x77)
		fail("final I/O on fz-c failed");
	teardown();
	kmsg_drain();
	check_kmsg();
	module_refs = module_refs0;
	check_refs("after teardown (no dm-colo device left)");
	clock_gettime(CLOCK_MONOTONIC, &t1);

	printf("colo-fuzz: tables: %ld accepted, %ld refused (colo %ld, colo-ingress %ld, "
	       "mutated %ld, two targets %ld, type typos %ld, loads over an inactive table %ld)\n",
	       n_accepted[K_TABLE], n_refused[K_TABLE], n_shape[0], n_shape[1], n_shape[2],
	       n_shape[3], n_shape[4], n_shape[5]);
	printf("colo-fuzz: messages: %ld accepted, %ld refused (fz-s secondary %ld, fz-p "
	       "failed-over %ld, fz-f commit failed %ld, fz-q primary %ld, fz-m mirrored %ld, "
	       "fz-si ingress %ld)\n",
	       n_accepted[K_MSG], n_refused[K_MSG], n_msg_target[R_S], n_msg_target[R_P],
	       n_msg_target[R_F], n_msg_target[R_Q], n_msg_target[R_M], n_msg_target[R_SI]);
	printf("colo-fuzz: dirty mirror starts: %ld accepted (coverage complete), %ld refused "
	       "for unknown coverage\n", n_dirty_accepted, n_dirty_refused);
	printf("colo-fuzz: %s: %ld inputs in %.1f s, seed %" PRIu64 "\n",
	       failures ? "FAIL" : "PASS", n_accepted[0] + n_refused[0] + n_accepted[1] +
	       n_refused[1], (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9,
	       opt.seed);
	printf("colo-fuzz: time in ioctls %.1f s, checks %.1f s, undoing accepted tables %.1f s, "
	       "restoring after accepted messages %.1f s\n", tm_acc[TM_INPUT], tm_acc[TM_CHECK],
	       tm_acc[TM_UNDO], tm_acc[TM_RESTORE]);
	return failures ? 1 : 0;
}
