// SPDX-License-Identifier: GPL-2.0
/*
 * colosetup fleece start|stop|status|needed: the colo-fleece device of a
 * colo device NAME (README, Fleece), a read-only point-in-time view of
 * NAME's base for backups.
 *
 * fleece start makes NAME-fleece over NAME's base with the buffer given,
 * dm UUID COLO-FLEECE-<NAME's ID>, private for udev as an ingress is (it
 * holds the guest's disk as it was: nothing on the host may probe, mount
 * or activate it). Its first resume starts the view. On a secondary the
 * kernel refuses that start once the ingress wrote base since the last
 * checkpoint; colosetup never sends a checkpoint to make room for it (a
 * checkpoint outside the COLO manager's own would drop the secondary VM's
 * writes while its memory stays as it was): it says to start the fleece
 * in the checkpoint, right after it.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <sys/types.h>

#include "colo-dm.h"
#include "colo-format.h"
#include "colo-udev.h"
#include "colo-util.h"
#include "colosetup.h"

/* A fleece and what colosetup knows about it. */
struct fleece {
	char name[160];
	char colo[160];		/* "" when no colo device has its base */
	char base[32], buffer[32];	/* MAJ:MIN, from its table */
	uint64_t sectors;
	unsigned int timeout_ms;
	int read_once;
	int persistent, reattach;	/* "persistent", or "reattach" (persistent too) */
	struct colo_fleece_status st;
	struct colo_dev d;	/* the colo device's, when colo[0] */
};

int find_fleece(const char *base, char *buf, size_t len)
{
	return cdm_find("colo-fleece", 0, 0, base, buf, len);
}

/* The colo device whose base is base (MAJ:MIN), into buf; 0 or -ENOENT. */
static int find_colo(const char *base, char *buf, size_t len)
{
	return cdm_find("colo", 0, 1, base, buf, len);
}

/*
 * Its table ("<base> <buffer> [<#opt> timeout <ms> read_once
 * persistent|reattach]") and status.
 */
static int read_fleece(struct fleece *f)
{
	struct cdm_target t;
	const char *p;
	int r;

	r = cdm_get_target(f->name, 0, &t);
	if (r)
		return fail(COLO_EXIT_FAIL, f->name, "cannot read its table: %s", strerror(-r));
	f->sectors = t.len;
	f->timeout_ms = 5000;
	if (sscanf(t.params, "%31s %31s", f->base, f->buffer) != 2) {
		cdm_target_free(&t);
		return fail(COLO_EXIT_FAIL, f->name, "table not understood");
	}
	p = strstr(t.params, " timeout ");
	if (p)
		f->timeout_ms = strtoul(p + 9, NULL, 10);
	f->read_once = !!strstr(t.params, " read_once");
	f->reattach = !!strstr(t.params, " reattach");
	f->persistent = f->reattach || strstr(t.params, " persistent");
	cdm_target_free(&t);
	r = cdm_get_target(f->name, 1, &t);
	if (r)
		return fail(COLO_EXIT_FAIL, f->name, "cannot read its status: %s", strerror(-r));
	r = colo_parse_fleece_status(t.params, &f->st);
	cdm_target_free(&t);
	if (r)
		return fail(COLO_EXIT_FAIL, f->name,
			    "status line not understood (is dm-colo newer than colosetup?)");
	return 0;
}

/*
 * NAME, a colo device or its colo-fleece: the fleece, and its colo device
 * when there is one (a fleece whose colo table was replaced has none).
 */
static int resolve(const char *name, struct fleece *f)
{
	struct cdm_target t;
	int r;

	memset(f, 0, sizeof(*f));
	r = cdm_get_target(name, 1, &t);
	if (r == -ENXIO)
		return fail(COLO_EXIT_NODEV, name, "no such device");
	if (r)
		return fail(COLO_EXIT_NODEV, name, "not a dm-colo device (%s)",
			    r == -ENODATA ? "no live table" : r == -ENOTUNIQ ?
			    "not a single target" : strerror(-r));
	if (!strcmp(t.type, "colo-fleece")) {
		cdm_target_free(&t);
		snprintf(f->name, sizeof(f->name), "%s", name);
		r = read_fleece(f);
		if (r)
			return r;
		if (!find_colo(f->base, f->colo, sizeof(f->colo)) && get_colo(f->colo, &f->d))
			f->colo[0] = '\0';
		return 0;
	}
	r = strcmp(t.type, "colo");
	if (r)
		fail(COLO_EXIT_NODEV, name, "not a dm-colo device (its target is %s)", t.type);
	cdm_target_free(&t);
	if (r)
		return COLO_EXIT_NODEV;
	r = get_colo(name, &f->d);
	if (r)
		return r;
	snprintf(f->colo, sizeof(f->colo), "%s", name);
	if (find_fleece(f->d.legs[0], f->name, sizeof(f->name)))
		return fail(COLO_EXIT_FAIL, name,
			    "has no fleece (colosetup fleece start %s BUFFER starts one)", name);
	return read_fleece(f);
}

void print_fleece_line(const struct colo_dev *d)
{
	struct fleece f;

	memset(&f, 0, sizeof(f));
	if (!d->nlegs || find_fleece(d->legs[0], f.name, sizeof(f.name)) || read_fleece(&f))
		return;
	printf("  fleece:   %s, %s%s%s, %" PRIu64 " saved, %" PRIu64 " of %" PRIu64
	       " buffer chunks used\n", f.name, f.st.state, f.st.reason[0] ? ":" : "",
	       f.st.reason, f.st.saved, f.st.used, f.st.total);
}

/* ---- start --------------------------------------------------------------- */

/* The buffer must not be a device the colo device uses. 0 or an exit code. */
static int buffer_not_a_leg(const struct colo_args *a, const struct colo_dev *d)
{
	static const char *const roles[3] = { "base", "hidden", "active" };
	unsigned int i, ma, mi;
	dev_t rdev;

	if (arg_rdev(a->dev, &rdev))
		return 0;	/* open_blk() says what it is not */
	for (i = 0; i < d->nlegs + 1; i++) {
		const char *leg = i < d->nlegs ? d->legs[i] : d->metadata;

		if (!colo_parse_devnum(leg, &ma, &mi) && makedev(ma, mi) == rdev)
			return fail(COLO_EXIT_FAIL, a->name,
				    "fleece start refused: buffer %s is the %s of %s", a->dev,
				    i < d->nlegs ? roles[i] : "metadata device", a->name);
	}
	return 0;
}

int cmd_fleece_start(const struct colo_args *a)
{
	char fname[160], other[160], params[512], opts[64] = "", why[256], hs[32], cs[32];
	char id[COLO_UUID_ID_LEN + 1], uuid[COLO_UUID_MAX], *msg = NULL;
	const char *buffer = a->dev;
	struct cdm_info info;
	struct colo_dev d;
	struct fleece f;
	struct blk b;
	size_t mlen;
	int r, nopt;

	r = get_colo(a->name, &d);
	if (r)
		return r;
	snprintf(fname, sizeof(fname), "%s%s", a->name, COLO_FLEECE_SUFFIX);
	if (strlen(fname) > COLO_NAME_MAX)
		return fail(COLO_EXIT_USAGE, a->name, "name too long for \"%s%s\"", a->name,
			    COLO_FLEECE_SUFFIX);
	if (!skip_checks()) {
		if (!find_fleece(d.legs[0], other, sizeof(other)))
			return fail(COLO_EXIT_FAIL, a->name,
				    "fleece start refused: it already has a fleece (%s)", other);
		if (!strcmp(d.st.commit, "running"))
			return fail(COLO_EXIT_FAIL, a->name,
				    "fleece start refused: the failover commit is running; start the fleece when it is done (colosetup wait %s done)",
				    a->name);
		/* The view is named in the colo device's metadata. */
		if ((a->persistent || a->reattach) && !d.metadata[0])
			return fail(COLO_EXIT_FAIL, a->name,
				    "fleece start refused: --%s needs a colo device with a metadata device (colosetup create --metadata)",
				    a->reattach ? "reattach" : "persistent");
	}
	if (!cdm_info(fname, &info))
		return fail(COLO_EXIT_FAIL, fname, "a device of this name exists");
	if (!skip_checks()) {
		r = buffer_not_a_leg(a, &d);
		if (r)
			return r;
		r = open_blk("buffer", a->dev, &b);
		if (r)
			return r;
		if (b.sectors < d.st.chunk)
			return fail(COLO_EXIT_FAIL, a->name,
				    "fleece start refused: buffer %s has %" PRIu64
				    " sectors, less than one chunk (%u)", a->dev, b.sectors,
				    d.st.chunk);
		if (b.lbs > d.st.chunk * 512)
			return fail(COLO_EXIT_FAIL, a->name,
				    "fleece start refused: the chunk of %u bytes is smaller than the logical block size of buffer %s (%u)",
				    d.st.chunk * 512, a->dev, b.lbs);
		buffer = b.path;
	}
	if (a->needed) {
		mlen = 2 * strlen(a->needed) + 32;
		msg = malloc(mlen);
		if (!msg)
			return fail(COLO_EXIT_FAIL, a->name, "out of memory");
		if (colo_fleece_needed_msg(a->needed, skip_checks() ? UINT64_MAX : d.st.chunks,
					   msg, mlen, why, sizeof(why))) {
			free(msg);
			return fail(COLO_EXIT_FAIL, a->name, "fleece start refused: --needed %s",
				    why);
		}
	}
	/*
	 * The options as dmsetup table shows them: "2 timeout <ms>",
	 * "1 read_once", "1 persistent" or "1 reattach", in this order.
	 */
	nopt = (a->fleece_timeout_ms ? 2 : 0) + !!a->read_once + (a->persistent || a->reattach);
	if (nopt)
		snprintf(opts, sizeof(opts), " %d", nopt);
	if (a->fleece_timeout_ms)
		snprintf(opts + strlen(opts), sizeof(opts) - strlen(opts), " timeout %u",
			 a->fleece_timeout_ms);
	if (a->read_once)
		snprintf(opts + strlen(opts), sizeof(opts) - strlen(opts), " read_once");
	if (a->persistent || a->reattach)
		snprintf(opts + strlen(opts), sizeof(opts) - strlen(opts), " %s",
			 a->reattach ? "reattach" : "persistent");
	if ((size_t)snprintf(params, sizeof(params), "%s %s%s", d.legs[0], buffer, opts) >=
	    sizeof(params)) {
		free(msg);
		return fail(COLO_EXIT_USAGE, a->name, "buffer path too long for a table line");
	}
	/* The ID of its colo device; a new one when that has no COLO- UUID. */
	r = cdm_info(a->name, &info);
	if (r || colo_uuid_id(info.uuid, COLO_ROLE_DEV, id)) {
		r = colo_uuid_new_id(id);
		if (r) {
			free(msg);
			return fail(COLO_EXIT_FAIL, fname, "cannot draw a dm UUID: %s",
				    strerror(-r));
		}
	}
	colo_uuid_make(uuid, sizeof(uuid), COLO_ROLE_FLEECE, id);
	r = cdm_create(fname, uuid, CDM_UDEV_PRIVATE, d.sectors, "colo-fleece", params);
	if (r) {
		const char *kwhy = cdm_reason();

		free(msg);
		r = refused(fname, "fleece start", r);
		if (kwhy && strstr(kwhy, "ingress wrote base since the last checkpoint"))
			fail(r, a->name,
			     "on a secondary a fleece starts only between a checkpoint and the next ingress write: run fleece start in the COLO checkpoint, right after colosetup checkpoint %s and before the primary's writes go on (README, Fleece)",
			     a->name);
		else if (kwhy && a->reattach && strstr(kwhy, "cannot re-attach"))
			fail(r, a->name,
			     "the view on %s is lost for good (base was written without it); a new one: colosetup fleece start %s %s --persistent",
			     a->dev, a->name, a->dev);
		return r;
	}
	if (msg) {
		r = cdm_message(fname, msg);
		free(msg);
		if (r) {
			/* A refusal changes nothing: the fleece goes again. */
			r = refused(fname, "fleece needed", r);
			cdm_remove(fname, 0);
			return r;
		}
	}
	memset(&f, 0, sizeof(f));
	snprintf(f.name, sizeof(f.name), "%s", fname);
	r = read_fleece(&f);
	if (r)
		return r;
	if (a->reattach)
		printf("/dev/mapper/%s: colo-fleece of %s (%s), re-attached: the image of its base kept on the buffer since that view started\n",
		       fname, a->name, d.st.mode);
	else
		printf("/dev/mapper/%s: colo-fleece of %s (%s), the image of its base %s\n",
		       fname, a->name, d.st.mode, strcmp(d.st.mode, "secondary") ?
		       "as it was at the start" : "at the last checkpoint");
	printf("  buffer:   %s, room for %" PRIu64 " of %" PRIu64 " chunks of %s (%s)\n", a->dev,
	       f.st.total, d.st.chunks, colo_human(d.st.chunk * 512ULL, cs, sizeof(cs)),
	       colo_human(f.st.total * d.st.chunk * 512ULL, hs, sizeof(hs)));
	if (a->reattach)
		printf("  view:     %" PRIu64 " chunks saved, %" PRIu64 " released\n", f.st.saved,
		       f.st.released);
	if (a->persistent || a->reattach)
		printf("  map:      on the buffer: after a crash or a fleece stop, fleece start --reattach takes the view back until base is written without it\n");
	if (a->needed)
		printf("  needed:   %" PRIu64 " chunks\n", f.st.needed);
	return 0;
}

/* ---- stop, status, needed ------------------------------------------------ */

int cmd_fleece_stop(const struct colo_args *a)
{
	struct cdm_info info;
	struct fleece f;
	int r = resolve(a->name, &f);

	if (r)
		return r;
	if (cdm_info(f.name, &info))
		info.open_count = 0;
	r = remove_one(f.name, a->force);
	if (r || info.open_count > 0)
		return r;
	if (!strcmp(f.st.state, "broken"))
		printf("%s: removed; it was broken (%s: %s): what was read from it is not a consistent image\n",
		       f.name, f.st.reason, colo_fleece_reason_text(f.st.reason));
	else
		printf("%s: removed; it was %s to the end: what was read from it is the image at its start\n",
		       f.name, f.st.state);
	return 0;
}

int cmd_fleece_status(const struct colo_args *a)
{
	struct colo_fleece_view v;
	struct cdm_info info;
	char buffer[160], hs[32], ts[32];
	unsigned int chunk;
	struct fleece f;
	int r = resolve(a->name, &f);

	if (r)
		return r;
	if (cdm_info(f.name, &info))
		info.uuid[0] = '\0';
	devpath(f.buffer, buffer, sizeof(buffer));
	chunk = f.colo[0] ? f.d.st.chunk : 0;
	if (a->json) {
		memset(&v, 0, sizeof(v));
		v.name = f.name;
		v.dm_uuid = info.uuid;
		v.colo = f.colo[0] ? f.colo : NULL;
		v.sectors = f.sectors;
		v.chunk = chunk;
		v.chunks = chunk ? f.d.st.chunks : 0;
		v.buffer = buffer;
		v.timeout_ms = f.timeout_ms;
		v.read_once = f.read_once;
		v.persistent = f.persistent;
		v.st = &f.st;
		colo_fleece_json(stdout, &v);
		putchar('\n');
		return 0;
	}
	printf("%s: colo-fleece of %s, %s", f.name, f.colo[0] ? f.colo : "no colo device",
	       f.st.state);
	if (!strcmp(f.st.state, "broken"))
		printf(": %s (%s): its reads fail; what was read is not a consistent image",
		       f.st.reason, colo_fleece_reason_text(f.st.reason));
	putchar('\n');
	printf("  dm uuid:  %s\n", info.uuid[0] ? info.uuid : "none");
	if (chunk)
		printf("  buffer:   %s, %" PRIu64 " of %" PRIu64 " chunks used (%s of %s)\n",
		       buffer, f.st.used, f.st.total,
		       colo_human(f.st.used * chunk * 512ULL, hs, sizeof(hs)),
		       colo_human(f.st.total * chunk * 512ULL, ts, sizeof(ts)));
	else
		printf("  buffer:   %s, %" PRIu64 " of %" PRIu64 " chunks used\n", buffer,
		       f.st.used, f.st.total);
	if (chunk)
		printf("  needed:   %" PRIu64 " of %" PRIu64 " chunks\n", f.st.needed,
		       f.d.st.chunks);
	else
		printf("  needed:   %" PRIu64 " chunks\n", f.st.needed);
	printf("  saved:    %" PRIu64 " chunks\n", f.st.saved);
	printf("  released: %" PRIu64 " chunks\n", f.st.released);
	printf("  options:  timeout %u ms%s%s\n", f.timeout_ms, f.read_once ? ", read_once" : "",
	       f.reattach ? ", reattached" : f.persistent ? ", persistent" : "");
	return 0;
}

int cmd_fleece_needed(const struct colo_args *a)
{
	char why[256], *msg;
	size_t mlen = 2 * strlen(a->needed) + 32;
	struct fleece f;
	int r = resolve(a->name, &f);

	if (r)
		return r;
	msg = malloc(mlen);
	if (!msg)
		return fail(COLO_EXIT_FAIL, a->name, "out of memory");
	if (colo_fleece_needed_msg(a->needed, f.colo[0] && !skip_checks() ? f.d.st.chunks :
				   UINT64_MAX, msg, mlen, why, sizeof(why))) {
		free(msg);
		return fail(COLO_EXIT_FAIL, f.name, "fleece needed refused: %s", why);
	}
	r = cdm_message(f.name, msg);
	free(msg);
	if (r)
		return refused(f.name, "fleece needed", r);
	r = read_fleece(&f);
	if (r)
		return r;
	printf("%s: %" PRIu64 " chunks needed\n", f.name, f.st.needed);
	return 0;
}
