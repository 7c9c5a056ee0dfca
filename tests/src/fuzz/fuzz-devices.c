// SPDX-License-Identifier: GPL-2.0
/*
 * colo-fuzz: the devices the fuzzer makes (the residents fz-c .. fz-f),
 * their setup, status fields, restoring them, and teardown.
 */
#include "fuzz.h"

/* ------------------------------------------------------------- devices */

char *devpath[NDEVS];
struct devnum devnum[NDEVS];
uint64_t dev_sectors;	/* every D has this size */

struct resident res[NRES] = {
	[R_C] = { .name = "fz-c", .base = 8, .colo = true },
	[R_S] = { .name = "fz-s", .base = 11, .colo = true, .has_ingress = true },
	[R_SI] = { .name = "fz-si", .base = 11 },
	[R_P] = { .name = "fz-p", .base = 14, .colo = true },
	[R_Q] = { .name = "fz-q", .base = 17, .colo = true },
	[R_M] = { .name = "fz-m", .base = 18, .colo = true },
	[R_SMALL] = { .name = "fz-small", .base = 21 },
	[R_F] = { .name = "fz-f", .base = -1, .colo = true },
};
struct devnum fzt_dev;
unsigned long module_refs, module_refs0;

unsigned long read_module_refs(void)
{
	char val[32];

	if (!read_sys("/sys/module/dm_colo/refcnt", val, sizeof(val)))
		die("cannot read /sys/module/dm_colo/refcnt");
	return strtoul(val, NULL, 10);
}

void make_node(const char *name, struct devnum d, char *node, size_t sz)
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

void status_field(const char *status, int field, char *out, size_t sz)
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
void colo_status(const char *name, char *out, size_t sz)
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
bool wait_field(const char *name, int field, const char *want1,
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

static void coverage_of(const char *name, char *out, size_t sz)
{
	char st[512];

	colo_status(name, st, sizeof(st));
	status_field(st, F_COVERAGE, out, sz);
}

/* A number of decimal digits, nothing else. */
static bool all_digits(const char *f)
{
	return *f && strspn(f, "0123456789") == strlen(f);
}

/* A rate limit field: none, <KiB/s> or auto:<min_rate>. */
static bool limit_word(const char *f)
{
	return !strcmp(f, "none") || all_digits(f) ||
	       (!strncmp(f, "auto:", 5) && all_digits(f + 5));
}

/* A verify state and its counts: "<state> <verified>/<to_verify> <different>". */
static bool verify_fields(const char *st, char *state, size_t sz)
{
	static const char *const states[] = { "none", "running", "done", "stopped", "failed" };
	char f[64], *slash;
	size_t i;

	status_field(st, F_VERIFY, state, sz);
	for (i = 0; i < sizeof(states) / sizeof(states[0]); i++)
		if (!strcmp(state, states[i]))
			break;
	if (i == sizeof(states) / sizeof(states[0]))
		return false;
	status_field(st, F_VERIFIED, f, sizeof(f));
	slash = strchr(f, '/');
	if (!slash)
		return false;
	*slash = '\0';
	if (!all_digits(f) || !all_digits(slash + 1))
		return false;
	status_field(st, F_VERIFIED + 1, f, sizeof(f));
	return all_digits(f) && (strcmp(state, "none") || !strcmp(f, "0"));
}

/*
 * The dirty coverage is one of complete|unknown, followed by the metadata
 * fields of a device without one ("none - -"), the verify's ("none 0/0 0"
 * before any, else its state and counts), the mirror's mode ("none 0/0 0",
 * "sync 0/0 0" while mirroring, or "async" with any lag after an accepted
 * "mirror async", which restore() undoes), the rate fields (the mirror's
 * and the verify's rate and the limit of their last start) and nothing
 * else.
 */
void check_coverage_word(const char *name, const char *when)
{
	static const char *const meta[] = { "none", "-", "-", "none", "0/0", "0",
					     "none", "0/0", "0" };
	static const unsigned int n_meta = sizeof(meta) / sizeof(meta[0]);
	char st[512], f[32];
	bool async = false;
	unsigned int i;

	colo_status(name, st, sizeof(st));
	status_field(st, F_COVERAGE, f, sizeof(f));
	if (strcmp(f, "complete") && strcmp(f, "unknown"))
		fail("%s: %s dirty coverage '%s', expected complete or unknown: '%s'",
		     when, name, f, st);
	if (!verify_fields(st, f, sizeof(f)))
		fail("%s: %s verify fields, expected <state> <n>/<n> <n>: '%s'", when, name, st);
	for (i = 0; i < n_meta; i++) {
		/* the verify's, above */
		if (i >= 3 && i < 6)
			continue;
		status_field(st, F_COVERAGE + 1 + i, f, sizeof(f));
		if (i == 6 && !strcmp(f, "sync"))
			continue;
		/* An accepted "mirror async N", before restore() undoes it. */
		if (i == 6 && !strcmp(f, "async")) {
			async = true;
			continue;
		}
		if (async && (i == 7 || i == 8))
			continue;
		if (strcmp(f, meta[i]))
			fail("%s: %s status: '%s' after the dirty coverage, expected 'none - - none 0/0 0 none|sync 0/0 0' and the rates: '%s'",
			     when, name, f, st);
	}
	/* <mirror_rate> <mirror_limit> <verify_rate> <verify_limit>, the end */
	status_field(st, F_COVERAGE + 1 + n_meta, f, sizeof(f));
	if (!all_digits(f))
		fail("%s: %s mirror rate '%s', expected KiB/s: '%s'", when, name, f, st);
	status_field(st, F_COVERAGE + 2 + n_meta, f, sizeof(f));
	if (!limit_word(f))
		fail("%s: %s mirror limit '%s', expected none, KiB/s or auto:<min>: '%s'",
		     when, name, f, st);
	status_field(st, F_VERIFY_RATE, f, sizeof(f));
	if (!all_digits(f))
		fail("%s: %s verify rate '%s', expected KiB/s: '%s'", when, name, f, st);
	status_field(st, F_VERIFY_RATE + 1, f, sizeof(f));
	if (!limit_word(f))
		fail("%s: %s verify limit '%s', expected none, KiB/s or auto:<min>: '%s'",
		     when, name, f, st);
	status_field(st, F_VERIFY_RATE + 2, f, sizeof(f));
	if (f[0])
		fail("%s: %s status: '%s' after the verify limit, expected the end: '%s'",
		     when, name, f, st);
}

/*
 * Two status lines of a resident are the same; while a verify runs in
 * both, its progress (verified, and its rate) may differ: the pass goes on
 * by itself.
 */
bool status_same(const char *a, const char *b)
{
	const char *ca = strstr(a, " colo "), *cb = strstr(b, " colo ");
	char fa[64], fb[64];
	int i;

	if (!strcmp(a, b))
		return true;
	if (!ca || !cb || ca - a != cb - b || strncmp(a, b, ca - a))
		return false;
	ca += 6;
	cb += 6;
	status_field(ca, F_VERIFY, fa, sizeof(fa));
	status_field(cb, F_VERIFY, fb, sizeof(fb));
	if (strcmp(fa, "running") || strcmp(fb, "running"))
		return false;
	for (i = 0; ; i++) {
		status_field(ca, i, fa, sizeof(fa));
		status_field(cb, i, fb, sizeof(fb));
		if (i == F_VERIFIED || i == F_VERIFY_RATE)
			continue;
		if (strcmp(fa, fb))
			return false;
		if (!fa[0])
			return true;
	}
}

/* "full" when a "dirty" mirror start of @name would be refused. */
const char *restore_sync(const char *name)
{
	char f[32];

	coverage_of(name, f, sizeof(f));
	return strcmp(f, "complete") ? "full" : "dirty";
}

void *dio_buf;

int dio(const char *node, bool write, uint64_t sector, size_t bytes,
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
void snapshot_residents_t(char st[NRES][512], char tb[NRES][512], bool tables)
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

void snapshot_residents(char st[NRES][512], char tb[NRES][512])
{
	snapshot_residents_t(st, tb, true);
}

/* Wait until the status of @name reads the same twice, 5 ms apart. */
void settle(const char *name)
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
void dirty_fz_s(void)
{
	int i;

	for (i = 0; i < 4; i++) {
		if (dio(res[R_S].node, true, i * 16, 4096, 0x11 + i) ||
		    dio(res[R_SI].node, true, 128 + i * 16, 4096, 0x21 + i))
			die("I/O on fz-s, fz-si: %s", strerror(errno));
	}
	settle("fz-s");
}

void make_fz_s(void)
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

void remove_fz_s(void)
{
	if (dm_remove("fz-si") || dm_remove("fz-s"))
		die("cannot remove fz-si, fz-s");
}

/*
 * Mirror @name to D19 and wait until in sync. A "dirty" start needs the
 * dirty coverage complete (the kernel refuses it otherwise): pass
 * restore_sync(name) where it may be unknown.
 */
void mirror_to_replica(const char *name, const char *sync)
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
void full_pass(const char *name, int replica)
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

void setup(void)
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

void teardown(void)
{
	dm_remove(T_DEV);
	dm_remove("fz-si");
	if (dm_message("fz-m", 0, "mirror stop"))
		printf("colo-fuzz: fz-m: mirror stop failed\n");
	remove_stale();
}

/* Which device does @d name: a D index, a resident, or none. */
int d_index(struct devnum d)
{
	int i;

	for (i = 0; i < NDEVS; i++)
		if (devnum_eq(d, devnum[i]))
			return i;
	return -1;
}

int resident_of(struct devnum d)
{
	int i;

	for (i = 0; i < NRES; i++)
		if (devnum_eq(d, res[i].dev))
			return i;
	return -1;
}
