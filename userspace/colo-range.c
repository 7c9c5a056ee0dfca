// SPDX-License-Identifier: GPL-2.0
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "colo-range.h"

void colo_ranges_init(struct colo_ranges *rl)
{
	memset(rl, 0, sizeof(*rl));
}

void colo_ranges_free(struct colo_ranges *rl)
{
	free(rl->r);
	colo_ranges_init(rl);
}

int colo_ranges_add(struct colo_ranges *rl, uint64_t first, uint64_t last)
{
	struct colo_range *prev = rl->n ? &rl->r[rl->n - 1] : NULL;

	if (prev && first >= prev->first &&
	    (first <= prev->last || first - 1 == prev->last)) {
		if (last > prev->last)
			prev->last = last;
		return 0;
	}
	if (rl->n == rl->cap) {
		size_t cap = rl->cap ? rl->cap * 2 : 64;
		struct colo_range *r;

		if (cap > SIZE_MAX / sizeof(*r))
			return -1;
		r = realloc(rl->r, cap * sizeof(*r));
		if (!r)
			return -1;
		rl->r = r;
		rl->cap = cap;
	}
	rl->r[rl->n].first = first;
	rl->r[rl->n].last = last;
	rl->n++;
	return 0;
}

static int cmp_range(const void *a, const void *b)
{
	const struct colo_range *x = a, *y = b;

	if (x->first != y->first)
		return x->first < y->first ? -1 : 1;
	if (x->last != y->last)
		return x->last < y->last ? -1 : 1;
	return 0;
}

void colo_ranges_merge(struct colo_ranges *rl)
{
	size_t i, n = 0;

	if (!rl->n)
		return;
	qsort(rl->r, rl->n, sizeof(*rl->r), cmp_range);
	for (i = 1; i < rl->n; i++) {
		struct colo_range *cur = &rl->r[n];

		if (rl->r[i].first <= cur->last || rl->r[i].first - 1 == cur->last) {
			if (rl->r[i].last > cur->last)
				cur->last = rl->r[i].last;
		} else {
			rl->r[++n] = rl->r[i];
		}
	}
	rl->n = n + 1;
}

uint64_t colo_ranges_count(const struct colo_ranges *rl)
{
	uint64_t sum = 0, len;
	size_t i;

	for (i = 0; i < rl->n; i++) {
		len = rl->r[i].last - rl->r[i].first;
		if (len == UINT64_MAX || sum > UINT64_MAX - len - 1)
			return UINT64_MAX;
		sum += len + 1;
	}
	return sum;
}

int colo_ranges_to_chunks(const struct colo_ranges *sectors,
			  unsigned int chunk_sectors, struct colo_ranges *chunks)
{
	unsigned int shift = 0;
	size_t i;

	while ((1U << shift) < chunk_sectors)
		shift++;
	for (i = 0; i < sectors->n; i++)
		if (colo_ranges_add(chunks, sectors->r[i].first >> shift,
				    sectors->r[i].last >> shift))
			return -1;
	colo_ranges_merge(chunks);
	return 0;
}

#define HDR_PREFIX "# dm-colo dirty export:"

void colo_export_hdr_line(char *buf, size_t len, uint64_t uuid,
			  uint64_t dev_sectors)
{
	snprintf(buf, len, HDR_PREFIX " %016" PRIx64 " %" PRIu64 " sectors", uuid,
		 dev_sectors);
}

/* A decimal number with no sign; *s moves past it. */
static int parse_u64(const char **s, uint64_t *v)
{
	unsigned long long n;
	char *end;

	if (!isdigit((unsigned char)**s))
		return -1;
	errno = 0;
	n = strtoull(*s, &end, 10);
	if (errno)
		return -1;
	*v = n;
	*s = end;
	return 0;
}

/* The export's comment line; 0 when line is one (hdr filled), else -1. */
static int parse_hdr(const char *line, struct colo_export_hdr *hdr)
{
	char uuid[17], unit[8], extra;
	uint64_t sectors;
	unsigned int i;

	if (strncmp(line, HDR_PREFIX, strlen(HDR_PREFIX)))
		return -1;
	line += strlen(HDR_PREFIX);
	if (sscanf(line, " %16s %" SCNu64 " %7s %c", uuid, &sectors, unit, &extra) != 3 ||
	    strlen(uuid) != 16 || strcmp(unit, "sectors"))
		return -1;
	for (i = 0; i < 16; i++)
		if (!isxdigit((unsigned char)uuid[i]))
			return -1;
	hdr->present = 1;
	hdr->uuid = strtoull(uuid, NULL, 16);
	hdr->dev_sectors = sectors;
	return 0;
}

int colo_ranges_read(FILE *f, struct colo_ranges *rl,
		     struct colo_export_hdr *hdr, char *err, size_t errlen)
{
	char *line = NULL;
	size_t cap = 0;
	unsigned long nr = 0;
	ssize_t len;
	int r = -1;

	memset(hdr, 0, sizeof(*hdr));
	while ((len = getline(&line, &cap, f)) >= 0) {
		struct colo_export_hdr h;
		const char *p = line;
		uint64_t first, last;

		nr++;
		while (len && isspace((unsigned char)line[len - 1]))
			line[--len] = '\0';
		while (isspace((unsigned char)*p))
			p++;
		if (!*p)
			continue;
		if (*p == '#') {
			if (parse_hdr(p, &h))
				continue;
			if (hdr->present && h.dev_sectors != hdr->dev_sectors) {
				snprintf(err, errlen,
					 "line %lu: an export of a device of %" PRIu64
					 " sectors, an earlier one says %" PRIu64,
					 nr, h.dev_sectors, hdr->dev_sectors);
				goto out;
			}
			if (!hdr->present)
				*hdr = h;
			continue;
		}
		if (parse_u64(&p, &first)) {
			snprintf(err, errlen, "line %lu: '%.64s' is not a sector range (FIRST-LAST)",
				 nr, line);
			goto out;
		}
		last = first;
		if (*p == '-') {
			p++;
			if (parse_u64(&p, &last)) {
				snprintf(err, errlen,
					 "line %lu: '%.64s' is not a sector range (FIRST-LAST)",
					 nr, line);
				goto out;
			}
		}
		while (isspace((unsigned char)*p))
			p++;
		if (*p) {
			snprintf(err, errlen, "line %lu: '%.64s' is not a sector range (FIRST-LAST)",
				 nr, line);
			goto out;
		}
		if (last < first) {
			snprintf(err, errlen, "line %lu: range %" PRIu64 "-%" PRIu64
				 " ends before it starts", nr, first, last);
			goto out;
		}
		if (colo_ranges_add(rl, first, last)) {
			snprintf(err, errlen, "out of memory");
			goto out;
		}
	}
	if (ferror(f)) {
		snprintf(err, errlen, "read error after line %lu: %s", nr, strerror(errno));
		goto out;
	}
	r = 0;
out:
	free(line);
	return r;
}

char *colo_dirty_add_msg(const struct colo_ranges *chunks, size_t *next)
{
	size_t i = *next, end = i + COLO_DIRTY_ADD_MAX, len = 0, cap;
	char *msg;

	if (end > chunks->n)
		end = chunks->n;
	/* "dirty add" and, per range, a space and two 20-digit numbers. */
	cap = 10 + (end - i) * 42 + 1;
	msg = malloc(cap);
	if (!msg)
		return NULL;
	len = snprintf(msg, cap, "dirty add");
	for (; i < end; i++) {
		const struct colo_range *r = &chunks->r[i];

		if (r->first == r->last)
			len += snprintf(msg + len, cap - len, " %" PRIu64, r->first);
		else
			len += snprintf(msg + len, cap - len, " %" PRIu64 "-%" PRIu64,
					r->first, r->last);
	}
	*next = end;
	return msg;
}
