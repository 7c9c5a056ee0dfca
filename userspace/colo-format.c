// SPDX-License-Identifier: GPL-2.0
/*
 * colo-format: field lists for list -o/--sort, the Prometheus text format
 * of status --prometheus, and the events monitor derives from two
 * statuses. Pure functions, unit-tested by test-util.c.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "colo-format.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static int known_field(const char *name, size_t n, const char *const *ids)
{
	for (; *ids; ids++)
		if (strlen(*ids) == n && !strncmp(*ids, name, n))
			return 1;
	return 0;
}

/* Check each name of the comma-separated list s; skip a leading sign. */
static int check_names(const char *s, int signs, const char *const *ids,
		       char *err, size_t errlen)
{
	while (1) {
		size_t n;

		if (signs && (*s == '-' || *s == '+'))
			s++;
		n = strcspn(s, ",");
		if (!n) {
			snprintf(err, errlen, "an empty field name (colosetup list -o help lists them)");
			return -1;
		}
		if (!known_field(s, n, ids)) {
			snprintf(err, errlen, "unknown field '%.*s' (colosetup list -o help lists them)",
				 (int)n, s);
			return -1;
		}
		s += n;
		if (!*s)
			return 0;
		s++;
	}
}

int colo_fields_expand(const char *opt, const char *defaults, const char *const *ids,
		       char *out, size_t len, char *err, size_t errlen)
{
	int add = opt[0] == '+';
	const char *names = opt + add;
	int n;

	if (check_names(names, 0, ids, err, errlen))
		return -1;
	n = add ? snprintf(out, len, "%s,%s", defaults, names) : snprintf(out, len, "%s", names);
	if (n < 0 || (size_t)n >= len) {
		snprintf(err, errlen, "too many fields");
		return -1;
	}
	return 0;
}

int colo_sort_check(const char *keys, const char *const *ids, char *err, size_t errlen)
{
	return check_names(keys, 1, ids, err, errlen);
}

void colo_set_rates(const struct colo_status *old, double t0, struct colo_status *st,
		    double t1)
{
	double dt = t1 - t0, chunk = st->chunk * 512.0;

	if (dt <= 0)
		return;
	if (!strcmp(old->commit, "running") && !strcmp(st->commit, "running") &&
	    st->committed >= old->committed) {
		st->commit_rate_known = 1;
		st->commit_rate = (st->committed - old->committed) * chunk / dt;
	}
	if (!strcmp(old->mirror, "copying") && !strcmp(st->mirror, "copying") &&
	    st->mirrored >= old->mirrored) {
		st->mirror_rate_known = 1;
		st->mirror_rate = (st->mirrored - old->mirrored) * chunk / dt;
	}
}

/* ---- Prometheus ------------------------------------------------------------ */

void colo_prom_label(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		unsigned int n = colo_utf8_len(p);

		if (!n) {
			fputs("\xef\xbf\xbd", f);	/* U+FFFD */
			p++;
		} else if (*p == '\\' || *p == '"') {
			fprintf(f, "\\%c", *p++);
		} else if (*p == '\n') {
			fputs("\\n", f);
			p++;
		} else {
			fwrite(p, 1, n, f);
			p += n;
		}
	}
}

enum prom_kind { P_SIZE, P_CHUNK, P_CHUNKS, P_ACTIVE, P_HIDDEN, P_DIRTY, P_COMMIT_DONE,
		 P_COMMIT_TOTAL, P_COMMIT_RATIO, P_MIRROR_DONE, P_MIRROR_TOTAL,
		 P_MIRROR_RATIO, P_BITMAP, P_INGRESS, P_COVERAGE, P_REGIONS_MARKED,
		 P_REGIONS, P_MODE, P_COMMIT_STATE, P_MIRROR_STATE, P_HEALTH,
		 P_METADATA_STATE };

static const char *const modes[] = { "secondary", "primary", NULL };
static const char *const commits[] = { "none", "running", "done", "failed", NULL };
static const char *const mirrors[] = { "none", "copying", "in-sync", "degraded", NULL };
static const char *const healths[] = { "ok", "error", NULL };
static const char *const metas[] = { "none", "ok", "failed", NULL };

static const struct {
	enum prom_kind kind;
	const char *name, *help;
	const char *const *states;	/* one-hot: a sample per state, label "label" */
	const char *label;
} prom[] = {
	{ P_SIZE, "colo_size_bytes", "Size of the colo device in bytes.", NULL, NULL },
	{ P_CHUNK, "colo_chunk_bytes", "Chunk size in bytes.", NULL, NULL },
	{ P_CHUNKS, "colo_chunks", "Chunks of the device.", NULL, NULL },
	{ P_ACTIVE, "colo_active_chunks",
	  "Chunks in the active overlay (the secondary VM's writes since the last checkpoint).",
	  NULL, NULL },
	{ P_HIDDEN, "colo_hidden_chunks",
	  "Chunks in the hidden buffer (base content saved before the primary's writes).",
	  NULL, NULL },
	{ P_DIRTY, "colo_dirty_chunks",
	  "Chunks in the dirty bitmap (primary: may differ from the replica).", NULL, NULL },
	{ P_COMMIT_DONE, "colo_commit_done_chunks", "Chunks the failover commit has written.",
	  NULL, NULL },
	{ P_COMMIT_TOTAL, "colo_commit_total_chunks", "Chunks the failover commit writes in all.",
	  NULL, NULL },
	{ P_COMMIT_RATIO, "colo_commit_progress_ratio",
	  "Progress of the failover commit, 0 to 1 (no sample before a failover).", NULL, NULL },
	{ P_MIRROR_DONE, "colo_mirror_done_chunks", "Chunks the mirror has copied.", NULL, NULL },
	{ P_MIRROR_TOTAL, "colo_mirror_total_chunks", "Chunks the mirror copies in all.",
	  NULL, NULL },
	{ P_MIRROR_RATIO, "colo_mirror_progress_ratio",
	  "Progress of the mirror's copy, 0 to 1 (no sample while no mirror runs).", NULL, NULL },
	{ P_BITMAP, "colo_bitmap_bytes", "Memory held by the device's bitmaps in bytes.",
	  NULL, NULL },
	{ P_INGRESS, "colo_ingress_attached", "1 when a colo-ingress is attached.", NULL, NULL },
	{ P_COVERAGE, "colo_dirty_coverage_complete",
	  "1 when the dirty bitmap covers every chunk that may differ from the replica.",
	  NULL, NULL },
	{ P_REGIONS_MARKED, "colo_metadata_regions_marked",
	  "Write-intent regions marked on the metadata device.", NULL, NULL },
	{ P_REGIONS, "colo_metadata_regions", "Write-intent regions of the metadata device.",
	  NULL, NULL },
	{ P_MODE, "colo_mode", "The device's mode (1 for the current one).", modes, "mode" },
	{ P_COMMIT_STATE, "colo_commit_state",
	  "The failover commit's state (1 for the current one).", commits, "state" },
	{ P_MIRROR_STATE, "colo_mirror_state", "The mirror's state (1 for the current one).",
	  mirrors, "state" },
	{ P_HEALTH, "colo_health", "The device's health (1 for the current one).", healths,
	  "state" },
	{ P_METADATA_STATE, "colo_metadata_state",
	  "The metadata device's state (1 for the current one).", metas, "state" },
};

static const char *prom_state(enum prom_kind k, const struct colo_status *st)
{
	switch (k) {
	case P_MODE:
		return st->mode;
	case P_COMMIT_STATE:
		return st->commit;
	case P_MIRROR_STATE:
		return st->mirror;
	case P_HEALTH:
		return st->health;
	default:
		return st->metadata;
	}
}

/* The value of a plain gauge; 0 when the device has no such sample. */
static int prom_value(enum prom_kind k, const struct colo_prom_dev *d, double *v)
{
	const struct colo_status *st = d->st;

	switch (k) {
	case P_SIZE:
		*v = (double)d->sectors * 512;
		break;
	case P_CHUNK:
		*v = st->chunk * 512.0;
		break;
	case P_CHUNKS:
		*v = st->chunks;
		break;
	case P_ACTIVE:
		*v = st->active;
		break;
	case P_HIDDEN:
		*v = st->hidden;
		break;
	case P_DIRTY:
		*v = st->dirty;
		break;
	case P_COMMIT_DONE:
		*v = st->committed;
		break;
	case P_COMMIT_TOTAL:
		*v = st->to_commit;
		break;
	case P_COMMIT_RATIO:
		if (!strcmp(st->commit, "none"))
			return 0;
		*v = colo_percent(st->committed, st->to_commit) / 100.0;
		break;
	case P_MIRROR_DONE:
		*v = st->mirrored;
		break;
	case P_MIRROR_TOTAL:
		*v = st->to_mirror;
		break;
	case P_MIRROR_RATIO:
		if (!strcmp(st->mirror, "none"))
			return 0;
		*v = colo_percent(st->mirrored, st->to_mirror) / 100.0;
		break;
	case P_BITMAP:
		*v = st->bitmap_bytes;
		break;
	case P_INGRESS:
		*v = !strcmp(st->ingress, "attached");
		break;
	case P_COVERAGE:
		if (!st->coverage[0])
			return 0;
		*v = !strcmp(st->coverage, "complete");
		break;
	case P_REGIONS_MARKED:
		if (!st->has_regions)
			return 0;
		*v = st->regions_marked;
		break;
	case P_REGIONS:
		if (!st->has_regions)
			return 0;
		*v = st->regions;
		break;
	default:
		return 0;
	}
	return 1;
}

void colo_prometheus(FILE *f, const struct colo_prom_dev *devs, unsigned int n)
{
	unsigned int i, j;

	for (i = 0; i < ARRAY_SIZE(prom); i++) {
		fprintf(f, "# HELP %s %s\n# TYPE %s gauge\n", prom[i].name, prom[i].help,
			prom[i].name);
		for (j = 0; j < n; j++) {
			const char *const *s;
			double v;

			if (!prom[i].states) {
				if (!prom_value(prom[i].kind, &devs[j], &v))
					continue;
				fprintf(f, "%s{device=\"", prom[i].name);
				colo_prom_label(f, devs[j].name);
				if (v == (double)(uint64_t)v)
					fprintf(f, "\"} %.0f\n", v);
				else
					fprintf(f, "\"} %.6g\n", v);
				continue;
			}
			for (s = prom[i].states; *s; s++) {
				fprintf(f, "%s{device=\"", prom[i].name);
				colo_prom_label(f, devs[j].name);
				fprintf(f, "\",%s=\"%s\"} %d\n", prom[i].label, *s,
					!strcmp(prom_state(prom[i].kind, devs[j].st), *s));
			}
		}
	}
}

/* ---- monitor's events ------------------------------------------------------ */

static const char *const event_names[EV_COUNT] = {
	[EV_PRESENT] = "present",
	[EV_ADDED] = "added",
	[EV_REMOVED] = "removed",
	[EV_PRIMARY] = "primary",
	[EV_COMMIT_DONE] = "commit-done",
	[EV_COMMIT_FAILED] = "commit-failed",
	[EV_MIRROR_STARTED] = "mirror-started",
	[EV_IN_SYNC] = "in-sync",
	[EV_DEGRADED] = "degraded",
	[EV_MIRROR_STOPPED] = "mirror-stopped",
	[EV_ERROR] = "error",
	[EV_HEALTH_OK] = "health-ok",
};

const char *colo_event_name(enum colo_event e)
{
	return e < EV_COUNT ? event_names[e] : "?";
}

int colo_event_priority(enum colo_event e)
{
	switch (e) {
	case EV_ERROR:
		return LOG_ERR;
	case EV_DEGRADED:
	case EV_COMMIT_FAILED:
	case EV_REMOVED:
		return LOG_WARNING;
	case EV_PRESENT:
		return LOG_INFO;
	default:
		return LOG_NOTICE;
	}
}

unsigned int colo_events(const struct colo_status *old, const struct colo_status *new,
			 enum colo_event *ev, unsigned int max)
{
	enum colo_event e[8];
	unsigned int n = 0, i;
	int was_none = !strcmp(old->mirror, "none"), is_none = !strcmp(new->mirror, "none");
	int same_mirror = !strcmp(old->mirror, new->mirror);

	if (!strcmp(old->mode, "secondary") && !strcmp(new->mode, "primary"))
		e[n++] = EV_PRIMARY;
	if (strcmp(old->commit, new->commit)) {
		if (!strcmp(new->commit, "done"))
			e[n++] = EV_COMMIT_DONE;
		else if (!strcmp(new->commit, "failed"))
			e[n++] = EV_COMMIT_FAILED;
	}
	if (!same_mirror && is_none) {
		e[n++] = EV_MIRROR_STOPPED;
	} else if (!same_mirror) {
		/* A mirror (re)started: from none, degraded or a finished one. */
		if (was_none || !strcmp(new->mirror, "copying") ||
		    (!strcmp(old->mirror, "degraded") && !strcmp(new->mirror, "in-sync")))
			e[n++] = EV_MIRROR_STARTED;
		if (!strcmp(new->mirror, "in-sync"))
			e[n++] = EV_IN_SYNC;
		else if (!strcmp(new->mirror, "degraded"))
			e[n++] = EV_DEGRADED;
	}
	if (strcmp(old->health, new->health))
		e[n++] = !strcmp(new->health, "error") ? EV_ERROR : EV_HEALTH_OK;
	for (i = 0; i < n && i < max; i++)
		ev[i] = e[i];
	return i;
}

/* ---- fleece status --json ------------------------------------------------- */

static void json_u64_or_null(FILE *f, const char *key, int known, uint64_t v)
{
	if (known)
		fprintf(f, ",\"%s\":%" PRIu64, key, v);
	else
		fprintf(f, ",\"%s\":null", key);
}

void colo_fleece_json(FILE *f, const struct colo_fleece_view *v)
{
	const struct colo_fleece_status *st = v->st;

	fprintf(f, "{\"schema\":%d,\"name\":", COLO_JSON_SCHEMA);
	colo_json_str(f, v->name);
	fputs(",\"dm_uuid\":", f);
	if (v->dm_uuid && v->dm_uuid[0])
		colo_json_str(f, v->dm_uuid);
	else
		fputs("null", f);
	fputs(",\"target\":\"colo-fleece\",\"colo\":", f);
	if (v->colo)
		colo_json_str(f, v->colo);
	else
		fputs("null", f);
	fprintf(f, ",\"sectors\":%" PRIu64, v->sectors);
	json_u64_or_null(f, "chunk_sectors", v->chunk, v->chunk);
	json_u64_or_null(f, "chunk_bytes", v->chunk, v->chunk * 512ULL);
	json_u64_or_null(f, "chunks", v->chunks, v->chunks);
	fprintf(f, ",\"state\":\"%s\",\"broken_reason\":", st->state);
	if (st->reason[0])
		fprintf(f, "\"%s\"", st->reason);
	else
		fputs("null", f);
	fprintf(f, ",\"needed\":%" PRIu64 ",\"saved\":%" PRIu64 ",\"released\":%" PRIu64
		",\"buffer_used\":%" PRIu64 ",\"buffer_total\":%" PRIu64 ",\"buffer\":",
		st->needed, st->saved, st->released, st->used, st->total);
	colo_json_str(f, v->buffer);
	fprintf(f, ",\"timeout_ms\":%u,\"read_once\":%s,\"persistent\":%s}", v->timeout_ms,
		v->read_once ? "true" : "false", v->persistent ? "true" : "false");
}
