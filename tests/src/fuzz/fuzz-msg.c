// SPDX-License-Identifier: GPL-2.0
/*
 * colo-fuzz: message inputs: generating them, the oracle for messages,
 * checking their effect and putting the device back.
 */
#include "fuzz.h"

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
	 * <max_lag>" once, anywhere after the device. The generator sends
	 * no "auto" and no "min_rate" (67-mirror-rate and KUnit test those),
	 * so the oracle does not model them.
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

long n_msg_target[NRES];
long n_dirty_accepted, n_dirty_refused;

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

void msg_case(long index)
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
