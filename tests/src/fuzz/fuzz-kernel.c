// SPDX-License-Identifier: GPL-2.0
/*
 * colo-fuzz: the kernel's own rules, done again in userspace for the
 * oracle: how dm splits a table line into words, parses numbers, and finds
 * a block device by path, name or major:minor.
 */
#include "fuzz.h"

/* --------------------------------------------- the kernel's string rules */

/* lib/ctype.c: space is 9..13, 32 and 160. */
bool k_isspace(unsigned char c)
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

void words_free(struct words *ws)
{
	free(ws->store);
	ws->store = NULL;
	ws->n = 0;
}

int k_split_args(const char *input, struct words *ws)
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
int k_kstrtoull(const char *s, unsigned long long *res)
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

int k_kstrtouint(const char *s, unsigned int *res)
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

bool devnum_eq(struct devnum a, struct devnum b)
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

uint32_t new_encode_dev(struct devnum d)
{
	return (d.min & 0xff) | (d.maj << 8) | ((d.min & ~0xffU) << 12);
}

bool read_sys(const char *path, char *out, size_t outsz)
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
bool dev_present(struct devnum d, uint64_t *sectors, unsigned int *lbs)
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
bool k_lookup_bdev(const char *path, struct devnum *d)
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
bool k_dm_devt(const char *path, struct devnum *d)
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
