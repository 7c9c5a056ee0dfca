// SPDX-License-Identifier: GPL-2.0
/*
 * colo-fuzz: message inputs: generating them, the oracle for messages,
 * checking their effect and putting the device back.
 */
#include "fuzz.h"

/* ------------------------------------------------------ message inputs */

struct dev_state {
	char mode[16], commit[16], mirror[16], coverage[16], verify[16];
};

static void read_state(const char *name, struct dev_state *s)
{
	char st[512];

	colo_status(name, st, sizeof(st));
	status_field(st, 0, s->mode, sizeof(s->mode));
	status_field(st, 4, s->commit, sizeof(s->commit));
	status_field(st, 7, s->mirror, sizeof(s->mirror));
	status_field(st, F_COVERAGE, s->coverage, sizeof(s->coverage));
	status_field(st, F_VERIFY, s->verify, sizeof(s->verify));
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

/* A keyword of the start and rate messages (dm-colo-parse.c). */
static bool start_keyword(const char *w)
{
	return !strcmp(w, "min_rate") || !strcmp(w, "async");
}

/*
 * parse_start() of dm-colo-parse.c: the words after "mirror start <dev>"
 * (@sync: [full|dirty] first; @async_ok: "async <max_lag>"), "verify
 * start", "mirror rate" and "verify rate" (@rate_needed: <KiB/s>|auto|none
 * not optional). A positional [full|dirty], then a positional
 * <KiB/s>|auto (for mirror start only after full|dirty; "none" only for the
 * rate messages), unless the word is a keyword; then keyword pairs, each
 * at most once: min_rate <KiB/s> (not 0), async <max_lag>. min_rate only
 * with auto. *@dirty says "dirty" was the sync word.
 */
static bool start_words_ok(struct verdict *v, const char *what, int argc, char **argv,
			   bool sync, bool rate_needed, bool async_ok, bool *dirty)
{
	bool rate_allowed = !sync, automatic = false, async = false;
	unsigned int min_rate = 0, n;
	int i = 0;

	*dirty = false;
	if (sync && i < argc && !start_keyword(argv[i])) {
		if (!strcmp(argv[i], "dirty"))
			*dirty = true;
		else if (strcmp(argv[i], "full"))
			return refuse(v, "%s: sync mode must be full or dirty", what);
		i++;
		rate_allowed = true;
	}
	if (rate_needed && (i >= argc || start_keyword(argv[i])))
		return refuse(v, "%s: the rate is missing", what);
	if (rate_allowed && i < argc && !start_keyword(argv[i])) {
		if (!strcmp(argv[i], "auto"))
			automatic = true;
		else if (!(rate_needed && !strcmp(argv[i], "none")) &&
			 (k_kstrtouint(argv[i], &n) || !n))
			return refuse(v, "%s: bad rate", what);
		i++;
	}
	for (; i < argc; i += 2) {
		if (!strcmp(argv[i], "min_rate")) {
			if (min_rate)
				return refuse(v, "%s: min_rate given twice", what);
			if (i + 1 >= argc || k_kstrtouint(argv[i + 1], &min_rate) || !min_rate)
				return refuse(v, "%s: bad min_rate", what);
		} else if (async_ok && !strcmp(argv[i], "async")) {
			if (async)
				return refuse(v, "%s: async given twice", what);
			if (i + 1 >= argc || !max_lag_ok(argv[i + 1]))
				return refuse(v, "%s: bad async", what);
			async = true;
		} else {
			return refuse(v, "%s: unexpected word", what);
		}
	}
	if (min_rate && !automatic)
		return refuse(v, "%s: min_rate without auto", what);
	return true;
}

/*
 * verify start|stop|rate|ranges (dm-colo-parse.c, dm-colo-verify.c): the
 * words, then primary mode, then the state. start: no verify running, the
 * failover commit done, the mirror in sync; stop and rate: a verify
 * running; ranges: any state.
 */
static bool verify_ok(struct verdict *v, const struct dev_state *s, int argc, char **argv)
{
	unsigned long long from;
	bool dirty;

	if (argc < 2)
		return refuse(v, "verify: expected start, stop, ranges or rate");
	if (!strcmp(argv[1], "start")) {
		if (!start_words_ok(v, "verify start", argc - 2, argv + 2, false, false, false,
				    &dirty))
			return false;
	} else if (!strcmp(argv[1], "rate")) {
		if (!start_words_ok(v, "verify rate", argc - 2, argv + 2, false, true, false,
				    &dirty))
			return false;
	} else if (!strcmp(argv[1], "stop")) {
		if (argc != 2)
			return refuse(v, "verify stop takes no arguments");
	} else if (!strcmp(argv[1], "ranges")) {
		if (argc > 3)
			return refuse(v, "verify ranges: too many words");
		if (argc == 3 && k_kstrtoull(argv[2], &from))
			return refuse(v, "verify ranges: not a number");
	} else {
		return refuse(v, "verify: expected start, stop, ranges or rate");
	}
	if (strcmp(s->mode, "primary"))
		return refuse(v, "verify %s in secondary mode", argv[1]);
	if (!strcmp(argv[1], "ranges"))
		return true;
	if (strcmp(argv[1], "start"))
		return !strcmp(s->verify, "running") ||
		       refuse(v, "verify %s: no verify running (%s)", argv[1], s->verify);
	if (!strcmp(s->verify, "running"))
		return refuse(v, "verify start: a verify is running");
	if (!strcmp(s->commit, "running") || !strcmp(s->commit, "failed"))
		return refuse(v, "verify start: commit not done");
	if (strcmp(s->mirror, "in-sync"))
		return refuse(v, "verify start: the mirror is %s, not in-sync", s->mirror);
	return true;
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
	bool ok = false, dirty = false;
	char **argv;
	int argc;

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
	if (!strcmp(argv[0], "verify")) {
		ok = verify_ok(v, &s, argc, argv);
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
	if (!strcmp(argv[1], "rate")) {
		/* mirror rate <KiB/s>|auto|none [min_rate <KiB/s>]: a running mirror */
		if (!start_words_ok(v, "mirror rate", argc - 2, argv + 2, false, true, false,
				    &dirty))
			goto out;
		if (strcmp(s.mode, "primary"))
			refuse(v, "mirror rate in secondary mode");
		else if (strcmp(s.mirror, "copying") && strcmp(s.mirror, "in-sync"))
			refuse(v, "mirror rate: the mirror is %s", s.mirror);
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
	 * <dev> [full|dirty [<KiB/s>|auto]] [min_rate <KiB/s>] [async
	 * <max_lag>] (start_words_ok()).
	 */
	if (!start_words_ok(v, "mirror start", argc - 3, argv + 3, true, false, true, &dirty))
		goto out;
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
	if (dirty && strcmp(s.coverage, "complete")) {
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

/*
 * The rate words of mirror start (after full|dirty, or alone), verify
 * start and the rate messages: mostly valid, often odd: a positional
 * <KiB/s>|auto|none (@positional: always), then up to two keyword pairs
 * (min_rate, and async where @async_ok), valid or not.
 */
static void random_rate_words(struct rng *r, struct wlist *l, bool positional, bool async_ok)
{
	static const char *const odd[] = { "0", "-1", "Auto", "AUTO", "4294967296", "+7",
		"1k", "auto:10", "none", "min_rate", "async", "" };
	char w[64];
	unsigned int k, n;

	if (positional || chance(r, 70)) {
		k = below(r, 100);
		if (k < 30)
			snprintf(w, sizeof(w), "%u", (unsigned int)(1 + below(r, 1000000)));
		else if (k < 60)
			snprintf(w, sizeof(w), "auto");
		else if (k < 70)
			snprintf(w, sizeof(w), "none");
		else if (k < 85)
			snprintf(w, sizeof(w), "%s", PICK(r, odd));
		else
			random_number(r, w, sizeof(w));
		if (w[0])
			wl_add(l, w);
	}
	n = below(r, 3);
	while (n--) {
		if (async_ok && chance(r, 35)) {
			wl_add(l, "async");
			random_max_lag(r, w, sizeof(w));
			wl_add(l, w);
			continue;
		}
		wl_add(l, "min_rate");
		k = below(r, 100);
		if (k < 75)
			snprintf(w, sizeof(w), "%u", (unsigned int)(1 + below(r, 1000000)));
		else if (k < 90)
			snprintf(w, sizeof(w), "%s", PICK(r, odd));
		else
			random_number(r, w, sizeof(w));
		/* "" leaves min_rate without its value */
		if (w[0])
			wl_add(l, w);
	}
}

static const int msg_targets[] = { R_S, R_S, R_P, R_Q, R_Q, R_M, R_M, R_SI, R_F };

/*
 * A message; *@verify_first says to start a slow verify on the target
 * first (verify and rate messages), so that "verify stop" and "verify rate"
 * meet a running one.
 */
static void gen_message(struct rng *r, int *ptarget, struct buf *out, uint64_t *sector,
			bool *verify_first)
{
	struct wlist l = { 0 };
	char w[8192];
	unsigned int k = below(r, 100);
	/* rate and verify messages: mostly to fz-m, where they can be accepted */
	bool rate_or_verify = k >= 66 && k < 81;
	int target = *ptarget = rate_or_verify && chance(r, 60) ? R_M : *ptarget;

	*sector = 0;
	*verify_first = false;
	if (chance(r, 5)) {
		static const uint64_t secs[] = { 1, 4095, ~0ULL, 1ULL << 40 };

		*sector = chance(r, 50) ? res[target].len - 1 + below(r, 2) : PICK(r, secs);
	}
	if (k < 17) {
		wl_add(&l, "checkpoint");
	} else if (k < 29) {
		wl_add(&l, "failover");
	} else if (k < 58) {
		wl_add(&l, "mirror");
		wl_add(&l, "start");
		random_replica(r, w, sizeof(w));
		wl_add(&l, w);
		if (chance(r, 60)) {
			wl_add(&l, chance(r, 50) ? "full" : "dirty");
			if (chance(r, 50))
				random_rate_words(r, &l, false, true);
		} else if (chance(r, 20)) {
			/* rate words without full|dirty */
			random_rate_words(r, &l, false, true);
		}
		if (chance(r, 15)) {
			wl_add(&l, "async");
			random_max_lag(r, w, sizeof(w));
			wl_add(&l, w);
		}
	} else if (k < 66) {
		unsigned int m = below(r, 10);

		wl_add(&l, "mirror");
		wl_add(&l, m < 6 ? "stop" : m < 8 ? "sync" : "async");
		if (m >= 8) {
			random_max_lag(r, w, sizeof(w));
			wl_add(&l, w);
		}
	} else if (k < 72) {
		wl_add(&l, "mirror");
		wl_add(&l, "rate");
		random_rate_words(r, &l, chance(r, 90), chance(r, 10));
		*verify_first = chance(r, 30);
	} else if (k < 81) {
		unsigned int m = below(r, 10);

		wl_add(&l, "verify");
		if (m < 4) {
			wl_add(&l, "start");
			if (chance(r, 60))
				random_rate_words(r, &l, false, chance(r, 10));
		} else if (m < 6) {
			wl_add(&l, "stop");
			if (chance(r, 10))
				wl_add(&l, PICK(r, junk_words));
		} else if (m < 9) {
			wl_add(&l, "rate");
			random_rate_words(r, &l, chance(r, 90), chance(r, 10));
		} else {
			wl_add(&l, "ranges");
			if (chance(r, 50)) {
				if (chance(r, 70))
					snprintf(w, sizeof(w), "%u", (unsigned int)below(r, 100));
				else
					random_number(r, w, sizeof(w));
				wl_add(&l, w);
			}
		}
		*verify_first = chance(r, 50);
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
	if (k < 85 && chance(r, rate_or_verify ? 40 : 70))
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

/*
 * End a verify running on @target ("verify stop"; one that ended meanwhile
 * is fine): the residents rest with none running.
 */
static void end_verify(int target)
{
	char st[512], f[32];
	int r;

	if (!res[target].colo)
		return;
	colo_status(res[target].name, st, sizeof(st));
	status_field(st, F_VERIFY, f, sizeof(f));
	if (strcmp(f, "running"))
		return;
	r = dm_message(res[target].name, 0, "verify stop");
	colo_status(res[target].name, st, sizeof(st));
	status_field(st, F_VERIFY, f, sizeof(f));
	if (!strcmp(f, "running"))
		fail("%s: verify still running after verify stop (%s)", res[target].name,
		     r ? strerror(-r) : "accepted");
	settle(res[target].name);
}

/* Put @target back into its state after an accepted message. */
static void restore(int target, const char *first_word, const char *second_word)
{
	char st[512], f[32];
	int r;

	end_verify(target);
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
	} else if (!strcmp(first_word, "mirror") && !strcmp(second_word, "rate")) {
		/* The residents' mirrors run with no limit (mirror_to_replica()). */
		status_field(st, 7, f, sizeof(f));
		if (strcmp(f, "copying") && strcmp(f, "in-sync"))
			fail("after mirror rate: mirror %s", f);
		r = dm_message(res[target].name, 0, "mirror rate none");
		if (r)
			fail("mirror rate none after an accepted mirror rate: %s", strerror(-r));
	} else if (!strcmp(first_word, "mirror")) {
		status_field(st, 7, f, sizeof(f));
		if (strcmp(f, "none"))
			fail("after mirror stop: mirror %s", f);
	} else if (!strcmp(first_word, "verify") && !strcmp(second_word, "stop")) {
		status_field(st, F_VERIFY, f, sizeof(f));
		if (strcmp(f, "stopped"))
			fail("after verify stop: verify %s", f);
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

long n_class[NCLASS][2];
long n_verify_first;
const char *const class_names[NCLASS] = {
	"mirror start with auto or min_rate", "mirror rate", "verify start", "verify stop",
	"verify rate", "verify ranges", "other",
};

/* Which of the rate and verify messages @msg is (as the kernel splits it). */
static enum msg_class msg_class(const char *msg)
{
	enum msg_class c = MC_OTHER;
	struct words ws;
	int i;

	if (k_split_args(msg, &ws))
		return MC_OTHER;
	if (ws.n >= 2 && !strcmp(ws.w[0], "mirror") && !strcmp(ws.w[1], "rate")) {
		c = MC_MIRROR_RATE;
	} else if (ws.n >= 2 && !strcmp(ws.w[0], "mirror") && !strcmp(ws.w[1], "start")) {
		for (i = 3; i < ws.n; i++)
			if (!strcmp(ws.w[i], "auto") || !strcmp(ws.w[i], "min_rate"))
				c = MC_MIRROR_START_AUTO;
	} else if (ws.n >= 2 && !strcmp(ws.w[0], "verify")) {
		if (!strcmp(ws.w[1], "start"))
			c = MC_VERIFY_START;
		else if (!strcmp(ws.w[1], "stop"))
			c = MC_VERIFY_STOP;
		else if (!strcmp(ws.w[1], "rate"))
			c = MC_VERIFY_RATE;
		else if (!strcmp(ws.w[1], "ranges"))
			c = MC_VERIFY_RANGES;
	}
	words_free(&ws);
	return c;
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
	bool dirty_start, verify_first, verifying = false;
	enum msg_class mc;

	snprintf(name, sizeof(name), "msg:%ld", index);
	cur_input = name;
	rng_for(&r, K_MSG, index);
	target = PICK(&r, msg_targets);
	gen_message(&r, &target, &msg, &sector, &verify_first);
	n_msg_target[target]++;
	mc = msg_class(msg.p ? msg.p : "");

	/*
	 * A slow verify first (1 KiB/s: its 64 KiB chunks take a minute
	 * each), where one can run: fz-m, in sync.
	 */
	if (verify_first && target == R_M) {
		rc = dm_message(res[target].name, 0, "verify start 1");
		if (rc)
			fail("fz-m: verify start 1 refused: %s", strerror(-rc));
		kmsg_drain();
		check_kmsg();
		settle(res[target].name);
		snapshot_residents(snap_st, snap_tb);
		verifying = !rc;
		n_verify_first++;
	}

	buf_reset(&report);
	buf_printf(&report, "  input: message to %s at sector %llu%s: ", res[target].name,
		   (unsigned long long)sector, verifying ? " (a verify running)" : "");
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
		n_class[mc][1]++;
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
		if (verifying) {
			end_verify(target);
			snapshot_residents(snap_st, snap_tb);
		}
	} else {
		n_accepted[K_MSG]++;
		n_class[mc][0]++;
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
