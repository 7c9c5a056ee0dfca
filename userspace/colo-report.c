// SPDX-License-Identifier: GPL-2.0
/*
 * colo-report: list (on libdevmapper's dm_report, with lvs' options),
 * list --json, status --prometheus, and the copy rate of status/list
 * --json.
 */
#include <errno.h>
#include <inttypes.h>
#include <libdevmapper.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "colo-dm.h"
#include "colo-format.h"
#include "colosetup.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static double mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* One row of list: a colo or colo-ingress device. */
struct row {
	char name[128];
	char uuid[130];
	char type[32];
	int is_colo;
	struct colo_dev d;
	char ingress[160];	/* colo: the attached ingress's name, else "" */
	char colo[128];		/* colo-ingress: its colo device ("detached") */
	int open_count;
	uint32_t event_nr, major, minor;
};

/* Info and uuid of NAME, quietly. */
static int row_info(const char *name, struct row *r)
{
	struct dm_task *dmt = dm_task_create(DM_DEVICE_INFO);
	struct dm_info di;
	const char *uuid;
	int ret = -ENXIO;

	if (!dmt)
		return -ENOMEM;
	if (dm_task_set_name(dmt, name) && dm_task_run(dmt) && dm_task_get_info(dmt, &di) &&
	    di.exists) {
		uuid = dm_task_get_uuid(dmt);
		snprintf(r->uuid, sizeof(r->uuid), "%s", uuid ? uuid : "");
		r->open_count = di.open_count;
		r->event_nr = di.event_nr;
		r->major = di.major;
		r->minor = di.minor;
		ret = 0;
	}
	dm_task_destroy(dmt);
	return ret;
}

/*
 * Read NAME into r without a word on stderr: 0 for a colo or colo-ingress
 * device, 1 for another device (or one without a live table, or a status
 * this version does not understand), -errno when it is gone.
 */
static int read_row(const char *name, struct row *r)
{
	struct cdm_target t;
	int ret;

	memset(r, 0, sizeof(*r));
	snprintf(r->name, sizeof(r->name), "%s", name);
	ret = cdm_get_target(name, 1, &t);
	if (ret == -ENXIO)
		return ret;
	if (ret)
		return 1;
	snprintf(r->type, sizeof(r->type), "%s", t.type);
	if (!strcmp(t.type, "colo-ingress")) {
		snprintf(r->colo, sizeof(r->colo), "%s", t.params);
		ret = 0;
	} else if (!strcmp(t.type, "colo")) {
		r->is_colo = 1;
		r->d.sectors = t.len;
		ret = colo_parse_status(t.params, &r->d.st) ? 1 : 0;
	} else {
		ret = 1;
	}
	cdm_target_free(&t);
	if (ret)
		return ret;
	if (r->is_colo) {
		if (!cdm_get_target(name, 0, &t)) {
			parse_legs(t.params, &r->d);
			cdm_target_free(&t);
		}
		if (!strcmp(r->d.st.ingress, "attached") &&
		    find_ingress(name, r->ingress, sizeof(r->ingress)))
			r->ingress[0] = '\0';
	}
	return row_info(name, r) == -ENXIO ? -ENXIO : 0;
}

/* ---- rates ---------------------------------------------------------------- */

static int copying(const struct colo_status *st)
{
	return !strcmp(st->commit, "running") || !strcmp(st->mirror, "copying");
}

/*
 * The copy rate is measured, not reported: the kernel gives counts. A
 * rate-limited copy moves its count in bursts (a --rate of 1m copies 1 MiB
 * a second at once), so two looks a fixed time apart often see no change.
 * Instead the status is read every RATE_POLL_NS: the rate runs from the
 * first change seen to the last one seen, once they are RATE_SPAN_S apart,
 * for at most RATE_MAX_S; fewer than two changes by then, or the copy ended
 * or restarted, and the rate stays unknown.
 */
#define RATE_POLL_NS	(20 * 1000 * 1000L)
#define RATE_SPAN_S	0.5
#define RATE_MAX_S	3.0

struct probe {
	const char *name;
	struct colo_status *st;	/* the newest look */
	struct colo_status first;	/* the look at the first change */
	double t_first, t_last;
	uint64_t last;
	int phase;		/* 0 no change yet, 1 changed, 2 done */
};

static uint64_t copied(const struct colo_status *st)
{
	return !strcmp(st->commit, "running") ? st->committed : st->mirrored;
}

/*
 * The same commit or mirror pass in both looks: still running, its done
 * count not fallen (the total is done plus still to do: it moves).
 */
static int same_copy(const struct colo_status *a, const struct colo_status *b)
{
	if (!strcmp(a->commit, "running"))
		return !strcmp(b->commit, "running") && b->committed >= a->committed;
	return !strcmp(b->mirror, "copying") && b->mirrored >= a->mirrored;
}

static void measure(struct probe *p, unsigned int n)
{
	struct timespec pause = { 0, RATE_POLL_NS };
	double start = mono_now(), now;
	unsigned int i, left = 0;

	for (i = 0; i < n; i++) {
		p[i].phase = copying(p[i].st) ? 0 : 2;
		p[i].last = copied(p[i].st);
		left += p[i].phase != 2;
	}
	while (left && mono_now() - start < RATE_MAX_S) {
		nanosleep(&pause, NULL);
		for (i = 0; i < n; i++) {
			struct cdm_target t;
			struct colo_status st;
			int ok;

			if (p[i].phase == 2 || cdm_get_target(p[i].name, 1, &t))
				continue;
			ok = !strcmp(t.type, "colo") && !colo_parse_status(t.params, &st);
			cdm_target_free(&t);
			if (!ok)
				continue;
			now = mono_now();
			if (!same_copy(p[i].st, &st)) {
				*p[i].st = st;	/* ended or restarted: unknown */
				p[i].phase = 2;
				left--;
				continue;
			}
			*p[i].st = st;
			if (copied(&st) == p[i].last)
				continue;
			p[i].last = copied(&st);
			if (!p[i].phase) {
				p[i].first = st;
				p[i].t_first = now;
				p[i].phase = 1;
				continue;
			}
			p[i].t_last = now;
			if (now - p[i].t_first >= RATE_SPAN_S) {
				colo_set_rates(&p[i].first, p[i].t_first, p[i].st, now);
				p[i].phase = 2;
				left--;
			}
		}
	}
	/* Out of time: the changes seen so far, if two came. */
	for (i = 0; i < n; i++)
		if (p[i].phase == 1 && p[i].t_last > p[i].t_first)
			colo_set_rates(&p[i].first, p[i].t_first, p[i].st, p[i].t_last);
}

void measure_rate(const char *name, struct colo_dev *d)
{
	struct probe p = { .name = name, .st = &d->st };

	measure(&p, 1);
}

/* ---- reading every device -------------------------------------------------- */

/* The colo and colo-ingress devices, in dm's order; *n of them. */
static struct row *read_rows(unsigned int *n, int *err)
{
	char **names, **p;
	struct row *rows = NULL, *more;
	unsigned int cap = 0;

	*n = 0;
	names = cdm_names(err);
	if (!names)
		return NULL;
	for (p = names; *p; p++) {
		if (*n == cap) {
			cap = cap ? 2 * cap : 16;
			more = realloc(rows, cap * sizeof(*rows));
			if (!more) {
				*err = -ENOMEM;
				free(rows);
				cdm_names_free(names);
				return NULL;
			}
			rows = more;
		}
		if (!read_row(*p, &rows[*n]))
			(*n)++;
	}
	cdm_names_free(names);
	if (!rows)
		rows = calloc(1, sizeof(*rows));
	if (!rows)
		*err = -ENOMEM;
	return rows;
}

/* The rates of the devices that copy. */
static void rows_rates(struct row *rows, unsigned int n)
{
	struct probe *p = calloc(n ? n : 1, sizeof(*p));
	unsigned int i, k = 0;

	if (!p)
		return;
	for (i = 0; i < n; i++)
		if (rows[i].is_colo && copying(&rows[i].d.st)) {
			p[k].name = rows[i].name;
			p[k++].st = &rows[i].d.st;
		}
	measure(p, k);
	free(p);
}

/* ---- list --json ------------------------------------------------------------ */

static void json_row(const struct row *r)
{
	char leg[3][160], meta[160];
	const char *legs[3] = { NULL, NULL, NULL };
	struct colo_status st;
	unsigned int i;

	if (!r->is_colo) {
		printf("{\"schema\":%d,\"name\":", COLO_JSON_SCHEMA);
		colo_json_str(stdout, r->name);
		fputs(",\"dm_uuid\":", stdout);
		if (r->uuid[0])
			colo_json_str(stdout, r->uuid);
		else
			fputs("null", stdout);
		fputs(",\"target\":\"colo-ingress\",\"colo\":", stdout);
		if (strcmp(r->colo, "detached"))
			colo_json_str(stdout, r->colo);
		else
			fputs("null", stdout);
		fputc('}', stdout);
		return;
	}
	for (i = 0; i < r->d.nlegs; i++) {
		devpath(r->d.legs[i], leg[i], sizeof(leg[i]));
		legs[i] = leg[i];
	}
	if (r->d.metadata[0])
		devpath(r->d.metadata, meta, sizeof(meta));
	st = r->d.st;
	st.has_dm_uuid = 1;
	snprintf(st.dm_uuid, sizeof(st.dm_uuid), "%s", r->uuid);
	colo_status_json(stdout, r->name, r->d.sectors, &st, legs,
			 r->ingress[0] ? r->ingress : NULL, r->d.metadata[0] ? meta : NULL);
}

/* ---- list on dm_report ------------------------------------------------------ */

static int nameprefixes;

/* A string value, copied to the report's pool; sorted by sortnum when not NULL. */
static int set_str(struct dm_pool *mem, struct dm_report_field *field, const char *s,
		   const uint64_t *sortnum)
{
	char *v, *q;
	uint64_t *sv = NULL;
	size_t n = 0;
	const char *p;

	/* --nameprefixes quotes values in '': a ' inside becomes '\'' (shell). */
	for (p = s; *p; p++)
		n += nameprefixes && *p == '\'' ? 4 : 1;
	v = dm_pool_alloc(mem, n + 1);
	if (!v)
		return 0;
	for (p = s, q = v; *p; p++) {
		if (nameprefixes && *p == '\'') {
			memcpy(q, "'\\''", 4);
			q += 4;
		} else {
			*q++ = *p;
		}
	}
	*q = '\0';
	if (sortnum) {
		sv = dm_pool_alloc(mem, sizeof(*sv));
		if (!sv)
			return 0;
		*sv = *sortnum;
	}
	dm_report_field_set_value(field, v, sv);
	return 1;
}

static int set_num(struct dm_pool *mem, struct dm_report_field *field, int known, uint64_t v)
{
	char buf[32];
	uint64_t zero = 0;

	if (!known)
		return set_str(mem, field, "", &zero);
	snprintf(buf, sizeof(buf), "%" PRIu64, v);
	return set_str(mem, field, buf, &v);
}

/* A percentage with one decimal, sorted by tenths. */
static int set_pct(struct dm_pool *mem, struct dm_report_field *field, int known,
		   uint64_t done, uint64_t total)
{
	char buf[16];
	double p = colo_percent(done, total);
	uint64_t tenths = (uint64_t)(p * 10);

	if (!known)
		return set_str(mem, field, "", &tenths);
	snprintf(buf, sizeof(buf), "%.1f", p);
	return set_str(mem, field, buf, &tenths);
}

#define ROW(data) ((const struct row *)(data))
#define RFN(fn) static int fn(struct dm_report *rh __attribute__((unused)), \
			      struct dm_pool *mem, struct dm_report_field *field, \
			      const void *data, void *priv __attribute__((unused)))
#define STR_FIELD(fn, expr) RFN(fn) { const struct row *r = ROW(data); \
	return set_str(mem, field, (expr), NULL); }
#define NUM_FIELD(fn, expr) RFN(fn) { const struct row *r = ROW(data); \
	return set_num(mem, field, r->is_colo, r->is_colo ? (uint64_t)(expr) : 0); }

STR_FIELD(f_name, r->name)
STR_FIELD(f_uuid, r->uuid)
STR_FIELD(f_target, r->type)
STR_FIELD(f_commit, r->is_colo ? r->d.st.commit : "")
STR_FIELD(f_mirror, r->is_colo ? r->d.st.mirror : "")
STR_FIELD(f_health, r->is_colo ? r->d.st.health : "")
STR_FIELD(f_coverage, r->is_colo ? r->d.st.coverage : "")
STR_FIELD(f_metadata, r->is_colo ? r->d.st.metadata : "")
STR_FIELD(f_colo, r->is_colo ? "" : r->colo)
NUM_FIELD(f_sectors, r->d.sectors)
NUM_FIELD(f_chunk_bytes, r->d.st.chunk * 512ULL)
NUM_FIELD(f_chunks, r->d.st.chunks)
NUM_FIELD(f_active, r->d.st.active)
NUM_FIELD(f_hidden, r->d.st.hidden)
NUM_FIELD(f_dirty, r->d.st.dirty)
NUM_FIELD(f_committed, r->d.st.committed)
NUM_FIELD(f_to_commit, r->d.st.to_commit)
NUM_FIELD(f_mirrored, r->d.st.mirrored)
NUM_FIELD(f_to_mirror, r->d.st.to_mirror)
NUM_FIELD(f_bitmap, r->d.st.bitmap_bytes)

RFN(f_mode)
{
	const struct row *r = ROW(data);
	char buf[160];

	/* An ingress shows its colo device here, as list always did. */
	if (!r->is_colo)
		snprintf(buf, sizeof(buf), "-> %s", r->colo);
	return set_str(mem, field, r->is_colo ? r->d.st.mode : buf, NULL);
}

RFN(f_chunk)
{
	const struct row *r = ROW(data);
	uint64_t b = r->is_colo ? r->d.st.chunk * 512ULL : 0;
	char buf[32];

	return set_str(mem, field, r->is_colo ? colo_human(b, buf, sizeof(buf)) : "", &b);
}

RFN(f_size)
{
	const struct row *r = ROW(data);
	uint64_t b = r->is_colo ? r->d.sectors << 9 : 0;
	char buf[32];

	return set_str(mem, field, r->is_colo ? colo_human(b, buf, sizeof(buf)) : "", &b);
}

RFN(f_commit_pct)
{
	const struct row *r = ROW(data);

	return set_pct(mem, field, r->is_colo && strcmp(r->d.st.commit, "none"),
		       r->d.st.committed, r->d.st.to_commit);
}

RFN(f_mirror_pct)
{
	const struct row *r = ROW(data);

	return set_pct(mem, field, r->is_colo && strcmp(r->d.st.mirror, "none"),
		       r->d.st.mirrored, r->d.st.to_mirror);
}

RFN(f_ingress)
{
	const struct row *r = ROW(data);
	const char *v = "";

	if (r->is_colo)
		v = r->ingress[0] ? r->ingress : r->d.st.ingress;
	return set_str(mem, field, v, NULL);
}

static int leg_field(struct dm_pool *mem, struct dm_report_field *field, const struct row *r,
		     unsigned int leg)
{
	char buf[160] = "";

	if (r->is_colo && leg < r->d.nlegs)
		devpath(r->d.legs[leg], buf, sizeof(buf));
	return set_str(mem, field, buf, NULL);
}

RFN(f_base) { return leg_field(mem, field, ROW(data), 0); }
RFN(f_hidden_dev) { return leg_field(mem, field, ROW(data), 1); }
RFN(f_active_dev) { return leg_field(mem, field, ROW(data), 2); }

RFN(f_metadata_dev)
{
	const struct row *r = ROW(data);
	char buf[160] = "";

	if (r->is_colo && r->d.metadata[0])
		devpath(r->d.metadata, buf, sizeof(buf));
	return set_str(mem, field, buf, NULL);
}

RFN(f_devno)
{
	const struct row *r = ROW(data);
	char buf[32];
	uint64_t v = (uint64_t)r->major << 32 | r->minor;

	snprintf(buf, sizeof(buf), "%u:%u", r->major, r->minor);
	return set_str(mem, field, buf, &v);
}

RFN(f_open)
{
	const struct row *r = ROW(data);

	return set_num(mem, field, 1, (uint64_t)r->open_count);
}

RFN(f_events)
{
	const struct row *r = ROW(data);

	return set_num(mem, field, 1, r->event_nr);
}

#define T_STR (DM_REPORT_FIELD_TYPE_STRING | DM_REPORT_FIELD_ALIGN_LEFT)
#define T_NUM (DM_REPORT_FIELD_TYPE_NUMBER | DM_REPORT_FIELD_ALIGN_RIGHT)
/* Sorted by number, shown as text on the left (sizes, as list always did). */
#define T_NUMSTR (DM_REPORT_FIELD_TYPE_NUMBER | DM_REPORT_FIELD_ALIGN_LEFT)
#define F(id, head, w, fl, fn, desc) { 1, fl, 0, w, id, head, fn, desc }

static const struct dm_report_field_type fields[] = {
	F("name", "NAME", 20, T_STR, f_name, "Device name."),
	F("target", "TARGET", 12, T_STR, f_target, "Target: colo or colo-ingress."),
	F("mode", "MODE", 9, T_STR, f_mode,
	  "secondary or primary; for an ingress, -> its colo device."),
	F("chunk", "CHUNK", 9, T_NUMSTR, f_chunk, "Chunk size."),
	F("commit", "COMMIT", 9, T_STR, f_commit, "Failover commit: none, running, done, failed."),
	F("mirror", "MIRROR", 8, T_STR, f_mirror, "Mirror: none, copying, in-sync, degraded."),
	F("health", "HEALTH", 6, T_STR, f_health, "ok or error."),
	F("size", "SIZE", 4, T_NUMSTR, f_size, "Size of the device."),
	F("uuid", "UUID", 4, T_STR, f_uuid, "dm UUID (empty when it has none)."),
	F("devno", "DEVNO", 5, T_NUMSTR, f_devno, "major:minor of the device."),
	F("sectors", "SECTORS", 7, T_NUM, f_sectors, "Size in 512-byte sectors."),
	F("chunk_bytes", "CHUNK_B", 7, T_NUM, f_chunk_bytes, "Chunk size in bytes."),
	F("chunks", "CHUNKS", 6, T_NUM, f_chunks, "Chunks of the device."),
	F("active", "ACTIVE", 6, T_NUM, f_active, "Chunks in the active overlay."),
	F("hidden", "HIDDEN", 6, T_NUM, f_hidden, "Chunks in the hidden buffer."),
	F("dirty", "DIRTY", 5, T_NUM, f_dirty, "Chunks in the dirty bitmap."),
	F("committed", "COMMITTED", 9, T_NUM, f_committed, "Chunks the commit has written."),
	F("to_commit", "TO_COMMIT", 9, T_NUM, f_to_commit, "Chunks the commit writes in all."),
	F("commit_percent", "COMMIT%", 7, T_NUMSTR, f_commit_pct, "Commit progress in percent."),
	F("mirrored", "MIRRORED", 8, T_NUM, f_mirrored, "Chunks the mirror has copied."),
	F("to_mirror", "TO_MIRROR", 9, T_NUM, f_to_mirror, "Chunks the mirror copies in all."),
	F("mirror_percent", "MIRROR%", 7, T_NUMSTR, f_mirror_pct, "Mirror progress in percent."),
	F("ingress", "INGRESS", 7, T_STR, f_ingress,
	  "The attached ingress (its name, or attached), or none."),
	F("colo", "COLO", 4, T_STR, f_colo, "An ingress's colo device (or detached)."),
	F("coverage", "COVERAGE", 8, T_STR, f_coverage,
	  "Dirty bitmap coverage: complete or unknown."),
	F("metadata", "METADATA", 8, T_STR, f_metadata, "Metadata device state: none, ok, failed."),
	F("metadata_dev", "METADATA_DEV", 12, T_STR, f_metadata_dev, "The metadata device."),
	F("base", "BASE", 4, T_STR, f_base, "The base leg."),
	F("hidden_dev", "HIDDEN_DEV", 10, T_STR, f_hidden_dev, "The hidden leg (secondary)."),
	F("active_dev", "ACTIVE_DEV", 10, T_STR, f_active_dev, "The active leg (secondary)."),
	F("bitmap_bytes", "BITMAP_B", 8, T_NUM, f_bitmap, "Memory of the bitmaps in bytes."),
	F("open", "OPEN", 4, T_NUM, f_open, "Open count."),
	F("events", "EVENTS", 6, T_NUM, f_events, "dm event counter."),
	{ 0, 0, 0, 0, "", "", NULL, NULL },
};

#define DEFAULT_FIELDS "name,target,mode,chunk,commit,mirror,health,size"

static void *row_data(void *obj)
{
	return obj;
}

static const struct dm_report_object_type types[] = {
	{ 1, "dm-colo device", "", row_data },
	{ 0, "", "", NULL },
};

static const char *const *field_ids(void)
{
	static const char *ids[ARRAY_SIZE(fields)];
	unsigned int i;

	for (i = 0; i + 1 < ARRAY_SIZE(fields); i++)
		ids[i] = fields[i].id;
	ids[i] = NULL;
	return ids;
}

static void fields_help(void)
{
	unsigned int i;

	printf("Fields of colosetup list (-o FIELD,... or -o +FIELD,...; default %s):\n",
	       DEFAULT_FIELDS);
	for (i = 0; fields[i].report_fn; i++)
		printf("  %-16s %s\n", fields[i].id, fields[i].desc);
}

/* dm_report writes its lines through libdevmapper's log, as level 4. */
static void report_log(int level, const char *file, int line, int dm_errno,
		       const char *f, ...)
{
	va_list ap;

	(void)file;
	(void)line;
	(void)dm_errno;
	va_start(ap, f);
	if ((level & 0xf) == 4 && !(level & 128)) {
		vprintf(f, ap);
		putchar('\n');
	} else if ((level & 0xf) <= 3) {
		fputs("colosetup: libdevmapper: ", stderr);
		vfprintf(stderr, f, ap);
		fputc('\n', stderr);
	}
	va_end(ap);
}

/* The fields of -o, expanded, into fl; 0 or a usage error. */
static int list_fields(const struct colo_args *a, char *fl, size_t len)
{
	char err[256];

	if (colo_fields_expand(a->fields ? a->fields : DEFAULT_FIELDS, DEFAULT_FIELDS,
			       field_ids(), fl, len, err, sizeof(err)))
		return fail(COLO_EXIT_USAGE, NULL, "list: -o: %s", err);
	if (a->sort && colo_sort_check(a->sort, field_ids(), err, sizeof(err)))
		return fail(COLO_EXIT_USAGE, NULL, "list: --sort: %s", err);
	return 0;
}

static int list_report(const struct colo_args *a, const char *fl, struct row *rows,
		       unsigned int n)
{
	uint32_t report_types = 1, flags = DM_REPORT_OUTPUT_BUFFERED;
	const char *sep = a->separator ? a->separator : " ";
	struct dm_report *rh;
	unsigned int i;
	int r = 0;

	/* As lvs: a separator turns alignment off, name prefixes headings too. */
	if (!a->separator && !a->nameprefixes)
		flags |= DM_REPORT_OUTPUT_ALIGNED;
	if (!a->noheadings && !a->nameprefixes)
		flags |= DM_REPORT_OUTPUT_HEADINGS;
	if (a->nameprefixes)
		flags |= DM_REPORT_OUTPUT_FIELD_NAME_PREFIX;
	nameprefixes = a->nameprefixes;
	dm_log_with_errno_init(report_log);
	rh = dm_report_init(&report_types, types, fields, fl, sep, flags,
			    a->sort ? a->sort : "", NULL);
	if (!rh) {
		r = fail(COLO_EXIT_FAIL, NULL, "list: cannot set up the report");
		goto out;
	}
	if (a->nameprefixes && !dm_report_set_output_field_name_prefix(rh, "colo_")) {
		r = fail(COLO_EXIT_FAIL, NULL, "list: cannot set up the report");
		goto out;
	}
	for (i = 0; i < n && !r; i++)
		if (!dm_report_object(rh, &rows[i]))
			r = fail(COLO_EXIT_FAIL, rows[i].name, "list: cannot report this device");
	if (!r && n && !dm_report_output(rh))
		r = fail(COLO_EXIT_FAIL, NULL, "list: cannot write the report");
	/* No device: the headings alone, as list always printed. */
	if (!r && !n && (flags & DM_REPORT_OUTPUT_HEADINGS))
		dm_report_column_headings(rh);
out:
	if (rh)
		dm_report_free(rh);
	fflush(stdout);
	cdm_init(a->verbose);
	return r;
}

int cmd_list(const struct colo_args *a)
{
	struct row *rows;
	unsigned int n, i;
	char fl[2048];
	int err, r = 0;

	if (a->fields && !strcmp(a->fields, "help")) {
		fields_help();
		return 0;
	}
	if (!a->json) {
		r = list_fields(a, fl, sizeof(fl));
		if (r)
			return r;
	}
	rows = read_rows(&n, &err);
	if (!rows)
		return fail(COLO_EXIT_FAIL, NULL, "cannot list devices: %s", strerror(-err));
	if (a->json) {
		rows_rates(rows, n);
		putchar('[');
		for (i = 0; i < n; i++) {
			if (i)
				putchar(',');
			json_row(&rows[i]);
		}
		puts("]");
	} else {
		r = list_report(a, fl, rows, n);
	}
	free(rows);
	return r;
}

/* ---- status --prometheus ---------------------------------------------------- */

int cmd_status_prometheus(const struct colo_args *a)
{
	struct colo_prom_dev *devs;
	struct row *rows;
	unsigned int n, i, k = 0;
	int err;

	if (a->name) {
		struct colo_dev d;
		struct colo_prom_dev one;
		int r = get_colo(a->name, &d);

		if (r)
			return r;
		one.name = a->name;
		one.sectors = d.sectors;
		one.st = &d.st;
		colo_prometheus(stdout, &one, 1);
		return 0;
	}
	rows = read_rows(&n, &err);
	if (!rows)
		return fail(COLO_EXIT_FAIL, NULL, "cannot list devices: %s", strerror(-err));
	devs = calloc(n ? n : 1, sizeof(*devs));
	if (!devs) {
		free(rows);
		return fail(COLO_EXIT_FAIL, NULL, "out of memory");
	}
	for (i = 0; i < n; i++)
		if (rows[i].is_colo) {
			devs[k].name = rows[i].name;
			devs[k].sectors = rows[i].d.sectors;
			devs[k++].st = &rows[i].d.st;
		}
	colo_prometheus(stdout, devs, k);
	free(devs);
	free(rows);
	return 0;
}
