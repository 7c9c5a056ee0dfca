// SPDX-License-Identifier: GPL-2.0
/*
 * colosetup up and down: create and remove the devices a colotab describes
 * (colotab(5)), through create, ingress and remove; pin each leg's
 * identity at the first up and refuse a later up when a leg became another
 * device.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "colo-colotab.h"
#include "colo-dm.h"
#include "colosetup.h"

#define DEFAULT_MAX_COPIES 64	/* the module's (dm-colo-parse.h) */

static const char *colotab_file(const struct colo_args *a)
{
	const char *env = getenv("COLOTAB");

	return a->colotab ? a->colotab : env && env[0] ? env : COLOTAB_DEFAULT;
}

static const char *state_dir(void)
{
	const char *env = getenv("COLO_STATE_DIR");

	return env && env[0] ? env : COLO_STATE_DIR_DEFAULT;
}

static int load(const struct colo_args *a, struct colotab *t, FILE *warn)
{
	const char *file = colotab_file(a);
	char err[512];
	FILE *f = fopen(file, "r");
	int r;

	if (!f)
		return fail(COLO_EXIT_USAGE, NULL, "cannot read the colotab %s: %s", file,
			    strerror(errno));
	r = colotab_read(f, file, t, err, sizeof(err), warn);
	fclose(f);
	if (r)
		return fail(COLO_EXIT_USAGE, NULL, "%s", err);
	if (a->name && !colotab_find(t, a->name))
		return fail(COLO_EXIT_NODEV, a->name, "not in the colotab %s", file);
	return 0;
}

/* ---- pinned identities ------------------------------------------------------ */

static void pins_path(const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s.legs", state_dir(), name);
}

/*
 * Read NAME.legs: 1 with the pins, 0 when there is none, or an exit code
 * (negated) after saying why.
 */
static int read_pins(const char *name, struct colo_leg_id pin[LEG_NR], int has[LEG_NR])
{
	char path[512], line[512], role[16];
	unsigned int n = 0, i;
	FILE *f;

	memset(has, 0, sizeof(int) * LEG_NR);
	pins_path(name, path, sizeof(path));
	f = fopen(path, "r");
	if (!f && errno == ENOENT)
		return 0;
	if (!f)
		return -fail(COLO_EXIT_FAIL, name, "cannot read %s: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		n++;
		if (line[0] == '#' || line[strspn(line, " \t\n")] == '\0')
			continue;
		if (sscanf(line, "%15s", role) != 1)
			role[0] = '\0';
		for (i = 0; i < LEG_NR; i++)
			if (!strcmp(role, colotab_leg_key[i]))
				break;
		if (i == LEG_NR ||
		    colo_leg_id_parse(line + strspn(line, " \t") + strlen(role), &pin[i])) {
			fclose(f);
			return -fail(COLO_EXIT_FAIL, name,
				     "%s:%u: not understood (remove it, or up --pin records the legs anew)",
				     path, n);
		}
		has[i] = 1;
	}
	fclose(f);
	return 1;
}

static int write_pins(const struct colotab_entry *e, const char *file,
		      const struct colo_leg_id now[LEG_NR])
{
	char path[512], tmp[600], id[300];
	time_t t = time(NULL);
	unsigned int i;
	FILE *f;

	if (mkdir(state_dir(), 0755) && errno != EEXIST)
		return fail(COLO_EXIT_FAIL, e->name, "cannot make %s: %s", state_dir(),
			    strerror(errno));
	pins_path(e->name, path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f)
		return fail(COLO_EXIT_FAIL, e->name, "cannot write %s: %s", tmp, strerror(errno));
	fprintf(f, "# The legs of %s (%s:%u) as colosetup up pinned them, %s", e->name, file,
		e->line, ctime(&t));
	fprintf(f, "# ROLE KNAME MAJ:MIN SECTORS HWID; colosetup up %s --pin writes it anew.\n",
		e->name);
	for (i = 0; i < LEG_NR; i++) {
		if (!e->leg[i][0])
			continue;
		colo_leg_id_format(&now[i], id, sizeof(id));
		fprintf(f, "%s %s\n", colotab_leg_key[i], id);
	}
	if (fflush(f) || fsync(fileno(f)) || fclose(f) || rename(tmp, path)) {
		fail(COLO_EXIT_FAIL, e->name, "cannot write %s: %s", path, strerror(errno));
		unlink(tmp);
		return COLO_EXIT_FAIL;
	}
	return 0;
}

/* ---- the live table against the colotab -------------------------------------- */

/*
 * The differences between NAME's live table and what the entry would load,
 * into buf ("" when none). The colotab's region-size is compared only
 * when given (create takes a valid metadata device's own otherwise).
 */
static int table_diff(const struct colotab_entry *e, const dev_t rdev[LEG_NR], char *buf,
		      size_t len)
{
	struct cdm_target t;
	struct colo_dev d;
	char want[32], v[32], live_mode[16] = "";
	unsigned int i, chunk = 0, copies = DEFAULT_MAX_COPIES, region = 0, n = 0;
	int r;

	buf[0] = '\0';
	r = cdm_get_target(e->name, 0, &t);
	if (r)
		return r;
	if (strcmp(t.type, "colo")) {
		snprintf(buf, len, "its target is %s, not colo", t.type);
		cdm_target_free(&t);
		return 0;
	}
	memset(&d, 0, sizeof(d));
	parse_legs(t.params, &d);
	if (sscanf(t.params, "%15s", live_mode) != 1)
		live_mode[0] = '\0';
	if (d.nlegs) {
		const char *p = t.params;

		for (i = 0; i <= d.nlegs; i++)
			p = strchr(p, ' ') ? strchr(p, ' ') + 1 : "";
		if (sscanf(p, "%u", &chunk) != 1)
			chunk = 0;
	}
	if (!colo_table_opt(t.params, "max_copies", v, sizeof(v)) &&
	    sscanf(v, "%u", &copies) != 1)
		copies = 0;
	if (!colo_table_opt(t.params, "region_size", v, sizeof(v)) &&
	    sscanf(v, "%u", &region) != 1)
		region = 0;
	cdm_target_free(&t);

#define DIFF(...) do { \
		size_t u = strlen(buf); \
		if (u < len) \
			snprintf(buf + u, len - u, "%s", n++ ? "; " : ""); \
		u = strlen(buf); \
		if (u < len) \
			snprintf(buf + u, len - u, __VA_ARGS__); \
	} while (0)

	if (strcmp(live_mode, e->primary ? "primary" : "secondary"))
		DIFF("it is a %s table, the colotab's is %s", live_mode,
		     e->primary ? "primary" : "secondary");
	for (i = 0; i < LEG_NR; i++) {
		const char *live = i == LEG_METADATA ? d.metadata :
				   i < d.nlegs ? d.legs[i] : "";
		char path[160];

		if (!e->leg[i][0] && !live[0])
			continue;
		want[0] = '\0';
		if (e->leg[i][0])
			snprintf(want, sizeof(want), "%u:%u", major(rdev[i]), minor(rdev[i]));
		if (!strcmp(want, live))
			continue;
		if (!live[0]) {
			DIFF("it has no %s, the colotab's is %s (%s)", colotab_leg_key[i], want,
			     e->leg[i]);
		} else if (!want[0]) {
			DIFF("its %s is %s, the colotab has none", colotab_leg_key[i], live);
		} else {
			devpath(live, path, sizeof(path));
			DIFF("its %s is %s (%s), the colotab's %s (%s)", colotab_leg_key[i], live,
			     path, want, e->leg[i]);
		}
	}
	if (chunk != (e->chunk_sectors ? e->chunk_sectors : COLO_DEFAULT_CHUNK_SECTORS))
		DIFF("its chunk is %u sectors, the colotab's %u", chunk,
		     e->chunk_sectors ? e->chunk_sectors : COLO_DEFAULT_CHUNK_SECTORS);
	if (copies != (e->max_copies ? e->max_copies : DEFAULT_MAX_COPIES))
		DIFF("its max-copies is %u, the colotab's %u", copies,
		     e->max_copies ? e->max_copies : DEFAULT_MAX_COPIES);
	if (e->region_sectors &&
	    (region ? region : COLO_DEFAULT_REGION_SECTORS) != e->region_sectors)
		DIFF("its region-size is %u sectors, the colotab's %u",
		     region ? region : COLO_DEFAULT_REGION_SECTORS, e->region_sectors);
#undef DIFF
	return 0;
}

/* ---- up, down ------------------------------------------------------------------ */

static int up_ingress(const struct colotab_entry *e)
{
	struct colo_args a;
	struct colo_dev d;
	char iname[160];
	int r = get_colo(e->name, &d);

	if (r)
		return r;
	if (strcmp(d.st.mode, "secondary")) {
		printf("%s: primary now (failed over): no ingress\n", e->name);
		return 0;
	}
	if (!strcmp(d.st.ingress, "attached")) {
		if (find_ingress(e->name, iname, sizeof(iname)))
			snprintf(iname, sizeof(iname), "its ingress");
		printf("%s: already up\n", iname);
		return 0;
	}
	memset(&a, 0, sizeof(a));
	a.cmd = CMD_INGRESS;
	a.name = e->name;
	return cmd_ingress(&a);
}

static int up_one(const struct colotab_entry *e, const char *file, int pin)
{
	struct colo_leg_id now[LEG_NR], pinned[LEG_NR];
	int has[LEG_NR], r, pins;
	dev_t rdev[LEG_NR];
	struct cdm_info info;
	unsigned int i;
	char diff[1024];

	memset(now, 0, sizeof(now));
	memset(rdev, 0, sizeof(rdev));
	for (i = 0; i < LEG_NR; i++) {
		struct stat sb;

		if (!e->leg[i][0])
			continue;
		if (stat(e->leg[i], &sb))
			return fail(COLO_EXIT_FAIL, e->name,
				    "%s %s: %s (%s:%u); is the disk attached?",
				    colotab_leg_key[i], e->leg[i],
				    errno == ENOENT ? "no such device" : strerror(errno),
				    file, e->line);
		if (!S_ISBLK(sb.st_mode))
			return fail(COLO_EXIT_FAIL, e->name, "%s %s: not a block device (%s:%u)",
				    colotab_leg_key[i], e->leg[i], file, e->line);
		rdev[i] = sb.st_rdev;
		if (colotab_identity("/sys", sb.st_rdev, &now[i]))
			return fail(COLO_EXIT_FAIL, e->name, "%s %s: no such block device in /sys",
				    colotab_leg_key[i], e->leg[i]);
	}
	pins = read_pins(e->name, pinned, has);
	if (pins < 0)
		return -pins;
	for (i = 0; pins && !pin && i < LEG_NR; i++) {
		char was[300], is[300];

		if (!e->leg[i][0])
			continue;
		if (!has[i])
			return fail(COLO_EXIT_LEG, e->name,
				    "%s %s has no pinned identity (the colotab changed?); if it is right: colosetup up %s --pin",
				    colotab_leg_key[i], e->leg[i], e->name);
		if (colo_leg_id_same(&pinned[i], &now[i]))
			continue;
		colo_leg_id_human(&pinned[i], was, sizeof(was));
		colo_leg_id_human(&now[i], is, sizeof(is));
		return fail(COLO_EXIT_LEG, e->name,
			    "%s %s is now %s, it was %s when pinned; refused. If the new disk is right: colosetup up %s --pin",
			    colotab_leg_key[i], e->leg[i], is, was, e->name);
	}
	if (!cdm_info(e->name, &info)) {
		r = table_diff(e, rdev, diff, sizeof(diff));
		if (r)
			return refused(e->name, "up", r);
		if (diff[0])
			return fail(COLO_EXIT_FAIL, e->name,
				    "exists with another table than %s:%u says: %s (colosetup down %s first)",
				    file, e->line, diff, e->name);
		printf("%s: already up (same table)\n", e->name);
	} else {
		struct colo_args a;

		memset(&a, 0, sizeof(a));
		a.cmd = CMD_CREATE;
		a.name = e->name;
		a.primary = e->primary;
		a.base = e->leg[LEG_BASE];
		a.hidden = e->primary ? NULL : e->leg[LEG_HIDDEN];
		a.active = e->primary ? NULL : e->leg[LEG_ACTIVE];
		a.metadata = e->leg[LEG_METADATA][0] ? e->leg[LEG_METADATA] : NULL;
		a.chunk_sectors = e->chunk_sectors;
		a.max_copies = e->max_copies;
		a.region_sectors = e->region_sectors;
		r = cmd_create(&a);
		if (r)
			return r;
	}
	if (e->ingress) {
		r = up_ingress(e);
		if (r)
			return r;
	}
	if (!pins || pin) {
		r = write_pins(e, file, now);
		if (r)
			return r;
		printf("%s: legs pinned in %s/%s.legs\n", e->name, state_dir(), e->name);
	}
	return 0;
}

int cmd_up(const struct colo_args *a)
{
	static struct colotab t;
	unsigned int i;
	int r, first = 0;

	r = load(a, &t, stderr);
	if (r)
		return r;
	if (a->name)
		return up_one(colotab_find(&t, a->name), colotab_file(a), a->pin);
	for (i = 0; i < t.n; i++) {
		r = up_one(&t.e[i], colotab_file(a), a->pin);
		if (r && !first)
			first = r;
	}
	return first;
}

static int down_one(const struct colotab_entry *e, int force)
{
	struct cdm_info info;
	struct colo_args a;
	int r;

	if (cdm_info(e->name, &info)) {
		printf("%s: not up\n", e->name);
		return 0;
	}
	memset(&a, 0, sizeof(a));
	a.cmd = CMD_REMOVE;
	a.name = e->name;
	a.force = force;
	r = cmd_remove(&a);
	if (!r)
		printf("%s: down\n", e->name);
	return r;
}

int cmd_down(const struct colo_args *a)
{
	static struct colotab t;
	unsigned int i;
	int r, first = 0;

	r = load(a, &t, NULL);
	if (r)
		return r;
	if (a->name)
		return down_one(colotab_find(&t, a->name), a->force);
	/* The reverse order of up. */
	for (i = t.n; i-- > 0;) {
		r = down_one(&t.e[i], a->force);
		if (r && !first)
			first = r;
	}
	return first;
}
