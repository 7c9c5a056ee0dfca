// SPDX-License-Identifier: GPL-2.0
/*
 * The colotab parser and the legs' identities (colo-colotab.h, colotab(5)).
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "colo-colotab.h"
#include "colo-util.h"

const char *const colotab_leg_key[LEG_NR] = { "base", "hidden", "active", "metadata" };

static const char keys_list[] =
	"base, hidden, active, metadata, chunk, max-copies, region-size, ingress";

__attribute__((format(printf, 5, 6)))
static int bad(char *err, size_t len, const char *file, unsigned int line,
	       const char *fmt, ...)
{
	size_t n;
	va_list ap;

	n = snprintf(err, len, "%s:%u: ", file, line);
	va_start(ap, fmt);
	if (n < len)
		vsnprintf(err + n, len - n, fmt, ap);
	va_end(ap);
	return -1;
}

/* A leg given by a name the kernel may give another disk at the next boot. */
static int unstable_path(const char *p)
{
	unsigned int ma, mi;

	if (!colo_parse_devnum(p, &ma, &mi))
		return 1;
	return !strncmp(p, "/dev/", 5) && !strchr(p + 5, '/');
}

/* "64k" -> the size parser's sentence for key. */
static int size_opt(const char *key, const char *val, unsigned int *sectors,
		    char *err, size_t len, const char *file, unsigned int line)
{
	int r = !strcmp(key, "chunk") ? colo_parse_chunk(val, sectors) :
		colo_parse_region(val, sectors);

	if (r == COLO_SIZE_DECIMAL)
		return bad(err, len, file, line,
			   "%s '%s': decimal units (kB, MB, GB, TB) are refused: binary units only (K or KiB, M or MiB, G or GiB, T or TiB)",
			   key, val);
	if (r && !strcmp(key, "chunk"))
		return bad(err, len, file, line,
			   "chunk '%s': a power of two from 512 to 1m (e.g. 4k, 64k)", val);
	if (r)
		return bad(err, len, file, line,
			   "region-size '%s': a power of two from 512 to 1g (e.g. 4m, the default)",
			   val);
	return 0;
}

static int parse_line(char *s, const char *file, unsigned int line,
		      struct colotab_entry *e, char *err, size_t len, FILE *warn)
{
	char *w, *save = NULL, *name, *mode;
	unsigned int i, seen = 0, v;
	size_t n;

	memset(e, 0, sizeof(*e));
	e->line = line;
	name = strtok_r(s, " \t", &save);
	mode = strtok_r(NULL, " \t", &save);
	n = strlen(name);
	if (n > COLO_NAME_MAX_CREATE || strchr(name, '/') || !strcmp(name, ".") ||
	    !strcmp(name, "..") || strchr(name, '='))
		return bad(err, len, file, line,
			   "'%.40s' is not a device name (1 to %zu bytes, no '/' or '=')", name,
			   COLO_NAME_MAX_CREATE);
	snprintf(e->name, sizeof(e->name), "%s", name);
	if (!mode || (strcmp(mode, "secondary") && strcmp(mode, "primary")))
		return bad(err, len, file, line, "%s: the mode is secondary or primary, not '%s'",
			   name, mode ? mode : "");
	e->primary = !strcmp(mode, "primary");
	while ((w = strtok_r(NULL, " \t", &save))) {
		char *val = strchr(w, '=');
		unsigned int bit;

		if (!val)
			return bad(err, len, file, line, "'%s' is not KEY=VALUE", w);
		*val++ = '\0';
		for (i = 0; i < LEG_NR; i++)
			if (!strcmp(w, colotab_leg_key[i]))
				break;
		bit = i < LEG_NR ? i : !strcmp(w, "chunk") ? 4 : !strcmp(w, "max-copies") ? 5 :
		      !strcmp(w, "region-size") ? 6 : !strcmp(w, "ingress") ? 7 : 8;
		if (bit == 8)
			return bad(err, len, file, line, "unknown key '%s' (%s)", w, keys_list);
		if (seen & (1U << bit))
			return bad(err, len, file, line, "%s= given twice", w);
		seen |= 1U << bit;
		if (!*val)
			return bad(err, len, file, line, "%s= needs a value", w);
		if (i < LEG_NR) {
			if (strlen(val) >= COLOTAB_PATH_MAX)
				return bad(err, len, file, line, "%s: path too long", w);
			snprintf(e->leg[i], sizeof(e->leg[i]), "%s", val);
			if (warn && unstable_path(val))
				fprintf(warn,
					"%s:%u: warning: %s %s is not a stable path (use /dev/disk/by-id/..., by-uuid, by-partlabel or by-path): its identity is pinned, and up refuses it when it becomes another disk\n",
					file, line, w, val);
		} else if (bit == 4 || bit == 6) {
			if (size_opt(w, val, bit == 4 ? &e->chunk_sectors : &e->region_sectors,
				     err, len, file, line))
				return -1;
		} else if (bit == 5) {
			char *end;
			unsigned long m;

			errno = 0;
			m = strtoul(val, &end, 10);
			v = m;
			if (!isdigit((unsigned char)*val) || errno || *end || !m || m > 1024)
				return bad(err, len, file, line,
					   "max-copies '%s': a number from 1 to 1024", val);
			e->max_copies = v;
		} else {
			if (strcmp(val, "yes") && strcmp(val, "no"))
				return bad(err, len, file, line, "ingress '%s': yes or no", val);
			e->ingress = !strcmp(val, "yes");
		}
	}
	if (!e->leg[LEG_BASE][0])
		return bad(err, len, file, line, "%s: base= is missing", name);
	if (!e->primary && (!e->leg[LEG_HIDDEN][0] || !e->leg[LEG_ACTIVE][0]))
		return bad(err, len, file, line, "%s: a secondary needs base=, hidden= and active=",
			   name);
	if (e->primary && (e->leg[LEG_HIDDEN][0] || e->leg[LEG_ACTIVE][0]))
		return bad(err, len, file, line, "%s: a primary has no hidden= or active=", name);
	if (e->primary && e->ingress)
		return bad(err, len, file, line, "%s: ingress=yes is for a secondary", name);
	if (e->region_sectors && !e->leg[LEG_METADATA][0])
		return bad(err, len, file, line,
			   "%s: region-size= needs metadata= (regions are kept there)", name);
	if (e->region_sectors && e->region_sectors <
	    (e->chunk_sectors ? e->chunk_sectors : COLO_DEFAULT_CHUNK_SECTORS))
		return bad(err, len, file, line, "%s: region-size= must be at least the chunk size",
			   name);
	return 0;
}

int colotab_read(FILE *f, const char *file, struct colotab *t, char *err,
		 size_t errlen, FILE *warn)
{
	char buf[4096];
	unsigned int line = 0, i;

	t->n = 0;
	while (fgets(buf, sizeof(buf), f)) {
		struct colotab_entry *e;
		char *s = buf, *hash;
		size_t n = strlen(buf);

		line++;
		if (n == sizeof(buf) - 1 && buf[n - 1] != '\n')
			return bad(err, errlen, file, line, "line too long (at most %zu bytes)",
				   sizeof(buf) - 2);
		hash = strchr(s, '#');
		if (hash)
			*hash = '\0';
		s[strcspn(s, "\r\n")] = '\0';
		while (*s == ' ' || *s == '\t')
			s++;
		if (!*s)
			continue;
		if (t->n == COLOTAB_MAX)
			return bad(err, errlen, file, line, "more than %d devices", COLOTAB_MAX);
		e = &t->e[t->n];
		if (parse_line(s, file, line, e, err, errlen, warn))
			return -1;
		for (i = 0; i < t->n; i++)
			if (!strcmp(t->e[i].name, e->name))
				return bad(err, errlen, file, line,
					   "duplicate name '%s' (first on line %u)", e->name,
					   t->e[i].line);
		t->n++;
	}
	if (ferror(f))
		return bad(err, errlen, file, line, "read error: %s", strerror(errno));
	return 0;
}

const struct colotab_entry *colotab_find(const struct colotab *t, const char *name)
{
	unsigned int i;

	for (i = 0; i < t->n; i++)
		if (!strcmp(t->e[i].name, name))
			return &t->e[i];
	return NULL;
}

/* ---- identities ----------------------------------------------------------- */

void colo_leg_id_format(const struct colo_leg_id *id, char *buf, size_t len)
{
	snprintf(buf, len, "%s %s %llu %s", id->kname, id->devnum, id->sectors,
		 id->hwid[0] ? id->hwid : "-");
}

int colo_leg_id_parse(const char *s, struct colo_leg_id *id)
{
	char c;

	memset(id, 0, sizeof(*id));
	if (sscanf(s, "%63s %31s %llu %191s %c", id->kname, id->devnum, &id->sectors, id->hwid,
		   &c) != 4)
		return -1;
	if (!strcmp(id->hwid, "-"))
		id->hwid[0] = '\0';
	return 0;
}

int colo_leg_id_same(const struct colo_leg_id *pinned, const struct colo_leg_id *now)
{
	if (pinned->sectors != now->sectors)
		return 0;
	if (pinned->hwid[0] && now->hwid[0])
		return !strcmp(pinned->hwid, now->hwid);
	if (pinned->hwid[0] || now->hwid[0])
		return 0;
	return !strcmp(pinned->kname, now->kname);
}

void colo_leg_id_human(const struct colo_leg_id *id, char *buf, size_t len)
{
	char hs[32];

	snprintf(buf, len, "%s (%s, %s%s%s)", id->kname, id->devnum,
		 colo_human(id->sectors << 9, hs, sizeof(hs)), id->hwid[0] ? ", " : "",
		 id->hwid);
}

/* The first line of a sysfs file, trimmed, with blanks as '_'; 0 or -1. */
static int sys_read(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	char *p, *s;

	if (!f)
		return -1;
	if (!fgets(buf, len, f)) {
		fclose(f);
		return -1;
	}
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
	for (s = buf; *s == ' '; s++)
		;
	memmove(buf, s, strlen(s) + 1);
	for (p = buf + strlen(buf); p > buf && p[-1] == ' '; p--)
		p[-1] = '\0';
	for (p = buf; *p; p++)
		if (isspace((unsigned char)*p) || !isprint((unsigned char)*p))
			*p = '_';
	return buf[0] ? 0 : -1;
}

/* The stable ID of a whole disk's sysfs directory, into buf; 0 or -1. */
static int disk_hwid(const char *dir, char *buf, size_t len)
{
	static const char *const files[] = { "dm/uuid", "wwid", "device/wwid", "serial",
					     "device/serial", NULL };
	static const char *const tags[] = { "dm-uuid", "wwid", "wwid", "serial", "serial" };
	char path[PATH_MAX + 32], val[160];
	unsigned int i;

	for (i = 0; files[i]; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		if (!sys_read(path, val, sizeof(val))) {
			snprintf(buf, len, "%s:%s", tags[i], val);
			return 0;
		}
	}
	return -1;
}

int colotab_identity(const char *sysroot, dev_t rdev, struct colo_leg_id *id)
{
	char path[PATH_MAX + 16], real[PATH_MAX], val[64], *base;
	char parent[PATH_MAX + 8];

	memset(id, 0, sizeof(*id));
	snprintf(id->devnum, sizeof(id->devnum), "%u:%u", major(rdev), minor(rdev));
	snprintf(path, sizeof(path), "%s/dev/block/%s", sysroot, id->devnum);
	if (!realpath(path, real))
		return -1;
	base = strrchr(real, '/');
	snprintf(id->kname, sizeof(id->kname), "%.63s", base ? base + 1 : real);
	snprintf(path, sizeof(path), "%s/size", real);
	if (sys_read(path, val, sizeof(val)) || sscanf(val, "%llu", &id->sectors) != 1)
		return -1;
	snprintf(path, sizeof(path), "%s/partition", real);
	if (!sys_read(path, val, sizeof(val))) {
		char hw[160];

		/* A partition: its disk's ID and its number. */
		snprintf(parent, sizeof(parent), "%s/..", real);
		if (!disk_hwid(parent, hw, sizeof(hw)))
			snprintf(id->hwid, sizeof(id->hwid), "%.150s-part%.20s", hw, val);
		return 0;
	}
	if (disk_hwid(real, id->hwid, sizeof(id->hwid)))
		id->hwid[0] = '\0';
	return 0;
}
