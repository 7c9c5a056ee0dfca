// SPDX-License-Identifier: GPL-2.0
/*
 * colo-fuzz: table inputs: generating them, loading them and checking
 * what an accepted or refused table left behind.
 */
#include "fuzz.h"

/* ------------------------------------------------------- table inputs */

struct table_input {
	int n;
	struct target t[MAX_TARGETS];
	const char *shape;
};

static void table_input_free(struct table_input *in)
{
	int i;

	for (i = 0; i < in->n; i++)
		free(in->t[i].params);
	in->n = 0;
}

static uint64_t random_len(struct rng *r, uint64_t good)
{
	static const uint64_t odd[] = { 0, 1, 7, 8, 9, 1023, 4095 };

	switch (below(r, 12)) {
	case 0:
		return PICK(r, odd);
	case 1:
		return good + 1 + below(r, 64);
	case 2:
		return ~0ULL - below(r, 3);
	case 3:
		return 1ULL << (40 + below(r, 24));
	case 4:
		return 1 + below(r, good);
	case 5:
		return good - below(r, 7);
	default:
		return good;
	}
}

static int free_d(struct rng *r)
{
	return below(r, 8);
}

/* A valid target of @type over free devices, then mutated. */
static void gen_target(struct rng *r, struct target *t, const char *type,
		       uint64_t start, uint64_t max_len, bool mutate)
{
	static const char *const chunks[] = { "1", "2", "8", "16", "64", "128",
		"1024", "2048" };
	struct wlist l = { 0 };
	struct buf b = { 0 };
	char w[8192];
	int a, bb, c;

	t->start = start;
	t->len = max_len;
	if (chance(r, 30))
		t->len = 1 + below(r, max_len);
	snprintf(t->type, sizeof(t->type), "%s", type);
	if (!strcmp(type, "colo-ingress")) {
		int which = chance(r, 70) ? R_C : below(r, NRES);

		path_forms(r, res[which].basepath, res[which].basedev, w, sizeof(w));
		if (chance(r, 70))
			snprintf(w, sizeof(w), "%s", res[which].basepath);
		wl_add(&l, w);
		t->len = chance(r, 70) ? res[R_C].len : 1 + below(r, res[R_C].len);
	} else if (!strcmp(type, "colo")) {
		bool secondary = chance(r, 60);

		a = free_d(r);
		do {
			bb = free_d(r);
		} while (bb == a);
		do {
			c = free_d(r);
		} while (c == a || c == bb);
		wl_add(&l, secondary ? "secondary" : "primary");
		path_forms(r, devpath[a], devnum[a], w, sizeof(w));
		wl_add(&l, chance(r, 60) ? devpath[a] : w);
		if (secondary) {
			path_forms(r, devpath[bb], devnum[bb], w, sizeof(w));
			wl_add(&l, chance(r, 60) ? devpath[bb] : w);
			path_forms(r, devpath[c], devnum[c], w, sizeof(w));
			wl_add(&l, chance(r, 60) ? devpath[c] : w);
		}
		wl_add(&l, PICK(r, chunks));
		if (chance(r, 40)) {
			static const char *const regions[] = {
				"8", "64", "8192", "2097152", "4194304", "0", "3",
				"1", "2048", "x",
			};
			unsigned int k = below(r, 3);

			if (k == 0) {
				wl_add(&l, "0");
			} else if (k == 1) {
				wl_add(&l, "2");
				wl_add(&l, "max_copies");
				snprintf(w, sizeof(w), "%llu",
					 (unsigned long long)(1 + below(r, 1024)));
				wl_add(&l, w);
			} else {
				wl_add(&l, "2");
				wl_add(&l, "region_size");
				wl_add(&l, PICK(r, regions));
			}
		}
	} else {
		/* zero, error: no arguments */
	}
	if (mutate && strcmp(type, "zero") && strcmp(type, "error")) {
		if (chance(r, 80))
			mutate_words(r, &l);
		if (chance(r, 30))
			t->len = random_len(r, t->len);
		if (chance(r, 4))
			t->start = PICK(r, ((const uint64_t[]){ 1, 8, ~0ULL, 1ULL << 40 }));
	}
	serialize(r, &l, &b);
	if (mutate && strcmp(type, "zero") && strcmp(type, "error") && chance(r, 12))
		raw_mutate(r, &b);
	t->params = strdup(b.p ? b.p : "");
	free(b.p);
	wl_free(&l);
}

static const char *const type_typos[] = { "Colo", "colo-ingres", "colo_ingress",
	"colo ", "col", "coloingress", "colo-Ingress" };

static void gen_table(struct rng *r, struct table_input *in)
{
	uint64_t size = dev_sectors;
	unsigned int k = below(r, 100);

	memset(in, 0, sizeof(*in));
	if (k < 38) {
		in->shape = "colo";
		in->n = 1;
		gen_target(r, &in->t[0], "colo", 0, size, chance(r, 85));
	} else if (k < 62) {
		in->shape = "colo-ingress";
		in->n = 1;
		gen_target(r, &in->t[0], "colo-ingress", 0, size, chance(r, 85));
	} else if (k < 90) {
		/* a colo table with a secondary/primary leaning, mutated hard */
		in->shape = "colo-mutated";
		in->n = 1;
		gen_target(r, &in->t[0], "colo", 0, size, true);
		if (chance(r, 50))
			in->t[0].len = random_len(r, in->t[0].len);
	} else if (k < 98) {
		/* two targets */
		uint64_t l1 = 1 + below(r, size - 1);
		static const char *const kinds[] = { "colo", "colo", "colo-ingress",
			"zero", "error" };
		const char *k1 = PICK(r, kinds), *k2 = PICK(r, kinds);

		in->shape = "two-targets";
		in->n = 2;
		gen_target(r, &in->t[0], k1, 0, l1, chance(r, 30));
		gen_target(r, &in->t[1], k2, l1, size - l1, chance(r, 30));
		if (!strcmp(k1, "colo") && !strcmp(k2, "colo") && chance(r, 50)) {
			/* the same base in both */
			struct words ws;

			if (!k_split_args(in->t[0].params, &ws) && ws.n > 1) {
				struct buf b = { 0 };
				struct words w2;

				if (!k_split_args(in->t[1].params, &w2) && w2.n > 1) {
					int i;

					for (i = 0; i < w2.n; i++) {
						const char *s = i == 1 ? ws.w[1] : w2.w[i];

						if (i)
							buf_addc(&b, ' ');
						for (; *s; s++) {
							if (k_isspace(*s) || *s == '\\')
								buf_addc(&b, '\\');
							buf_addc(&b, *s);
						}
					}
					free(in->t[1].params);
					in->t[1].params = strdup(b.p);
				}
				words_free(&w2);
				free(b.p);
			}
			words_free(&ws);
		}
	} else {
		/* a wrong target type name */
		in->shape = "type-typo";
		in->n = 1;
		gen_target(r, &in->t[0], chance(r, 50) ? "colo" : "colo-ingress", 0,
			   size, chance(r, 50));
		snprintf(in->t[0].type, sizeof(in->t[0].type), "%s", PICK(r, type_typos));
	}
}

static void describe_table(const struct table_input *in, struct buf *out)
{
	int i;

	for (i = 0; i < in->n; i++) {
		buf_printf(out, "  target %d: %llu %llu %s ", i,
			   (unsigned long long)in->t[i].start,
			   (unsigned long long)in->t[i].len, in->t[i].type);
		quote(out, in->t[i].params, 600);
		buf_addc(out, '\n');
	}
}

/* ------------------------------------------------------- table checks */

char snap_st[NRES][512], snap_tb[NRES][512];

static long n_checks;

void check_residents(const char *when)
{
	char st[NRES][512], tb[NRES][512];
	bool tables = !(n_checks++ % 8);
	int i;

	snapshot_residents_t(st, tb, tables);
	for (i = 0; i < NRES; i++) {
		if (!status_same(st[i], snap_st[i]))
			fail("%s: %s status changed: '%s' -> '%s'", when, res[i].name,
			     snap_st[i], st[i]);
		if (tables && strcmp(tb[i], snap_tb[i]))
			fail("%s: %s table changed: '%s' -> '%s'", when, res[i].name,
			     snap_tb[i], tb[i]);
	}
}

void check_refs(const char *when)
{
	unsigned long refs = read_module_refs();

	if (refs != module_refs)
		fail("%s: dm_colo module references %lu, expected %lu", when, refs,
		     module_refs);
}

void check_kmsg(void)
{
	const char *bad = kmsg_bad();

	if (bad)
		fail("the kernel logged '%s'", bad);
}

/*
 * "<digits> unknown none - - none 0/0 0 none 0/0 0 0 none 0 none" and
 * nothing after it (no metadata device, no verify, no mirror, no rate).
 */
static bool tail_is_bytes_unknown(const char *p)
{
	size_t n = strspn(p, "0123456789");

	return n && !strcmp(p + n, " unknown none - - none 0/0 0 none 0/0 0 0 none 0 none");
}

/* Status and table lines of an accepted single colo or ingress target. */
static void check_loaded(const struct table_input *in, bool inactive)
{
	struct buf st = { 0 }, tb = { 0 };
	const struct target *t = &in->t[0];
	struct words ws;
	unsigned long long chunk, nchunks;
	char want[512];

	if (dm_status(T_DEV, false, inactive, &st) ||
	    dm_status(T_DEV, true, inactive, &tb)) {
		fail("accepted table: no status");
		goto out;
	}
	if (in->n != 1)
		goto out;
	if (!strcmp(t->type, "colo-ingress")) {
		snprintf(want, sizeof(want), "0 %llu colo-ingress fz-c",
			 (unsigned long long)t->len);
		if (strcmp(st.p, want))
			fail("ingress status '%s', expected '%s'", st.p, want);
		snprintf(want, sizeof(want), "0 %llu colo-ingress %u:%u",
			 (unsigned long long)t->len, devnum[8].maj, devnum[8].min);
		if (strcmp(tb.p, want))
			fail("ingress table '%s', expected '%s'", tb.p, want);
		goto out;
	}
	if (k_split_args(t->params, &ws))
		goto out;
	k_kstrtoull(ws.w[!strcmp(ws.w[0], "secondary") ? 4 : 2], &chunk);
	nchunks = (t->len + chunk - 1) / chunk;
	snprintf(want, sizeof(want),
		 "0 %llu colo %s %llu 0/%llu 0/%llu none 0/0 0/%llu none 0/0 none ok ",
		 (unsigned long long)t->len, ws.w[0], chunk, nchunks, nchunks, nchunks);
	/* then <bitmap_bytes> <dirty_coverage>: a new table's is unknown */
	if (strncmp(st.p, want, strlen(want)) || !tail_is_bytes_unknown(st.p + strlen(want)))
		fail("status '%s', expected '%s<bytes> unknown none - - none 0/0 0 none 0/0 0 0 none 0 none'",
		     st.p, want);
	words_free(&ws);
out:
	free(st.p);
	free(tb.p);
}

/* Does an accepted colo table use a resident dm device as a leg? */
static bool uses_resident(const struct table_input *in)
{
	struct words ws;
	struct devnum d;
	bool used = false;
	int i, j;

	for (i = 0; i < in->n; i++) {
		if (strcmp(in->t[i].type, "colo") || k_split_args(in->t[i].params, &ws))
			continue;
		for (j = 1; j < ws.n && j < 4; j++)
			if (k_dm_devt(ws.w[j], &d) && resident_of(d) >= 0)
				used = true;
		words_free(&ws);
	}
	return used;
}

/* A resumed table: I/O works; an ingress write leaves fz-c's view alone. */
static void check_io(const struct table_input *in)
{
	char node[64];
	const struct target *t = &in->t[0];
	uint64_t sector = t->len > 8 ? below(&(struct rng){ t->len }, t->len - 8) : 0;
	size_t bytes = t->len >= 8 ? 4096 : 512;
	unsigned char *before = NULL;
	int r;

	if (in->n != 1 || t->len < 1)
		return;
	make_node(T_DEV, fzt_dev, node, sizeof(node));
	if (!strcmp(t->type, "colo-ingress")) {
		before = xmalloc(bytes);
		if (dio(res[R_C].node, false, sector, bytes, 0)) {
			fail("fz-c read failed");
			goto out;
		}
		memcpy(before, dio_buf, bytes);
	}
	r = dio(node, true, sector, bytes, 0x5a);
	if (!r)
		r = dio(node, false, sector, bytes, 0);
	if (r) {
		fail("I/O on the accepted table: %s", strerror(-r));
		goto out;
	}
	if (((unsigned char *)dio_buf)[0] != 0x5a ||
	    ((unsigned char *)dio_buf)[bytes - 1] != 0x5a)
		fail("read back differs from what was written at sector %llu",
		     (unsigned long long)sector);
	if (before) {
		if (dio(res[R_C].node, false, sector, bytes, 0) ||
		    memcmp(before, dio_buf, bytes))
			fail("an ingress write changed fz-c's view at sector %llu",
			     (unsigned long long)sector);
	}
out:
	free(before);
	unlink(node);
}

long n_accepted[NKINDS], n_refused[NKINDS];
long n_shape[8];
static const char *const shapes[] = { "colo", "colo-ingress", "colo-mutated",
	"two-targets", "type-typo", "reload" };

static void count_shape(const char *shape)
{
	size_t i;

	for (i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++)
		if (!strcmp(shape, shapes[i]))
			n_shape[i]++;
}

/*
 * Load @in into fz-t; judge. Returns 1 if loaded (accepted), 0 if not.
 * @ts is what fz-t's current tables hold.
 */
static int try_load(struct table_input *in, struct tstate *ts, const char *what)
{
	struct verdict v;
	struct tstate next = *ts;
	struct dm_ioctl info;
	double t0;
	int r;

	buf_reset(&report);
	buf_printf(&report, "  input (%s, %s):\n", in->shape, what);
	describe_table(in, &report);
	next.nbases = 0;
	table_ok(&v, in->t, in->n, &next);
	buf_printf(&report, "  oracle: %s (%s)\n", v.accept ? "accept" : "refuse", v.why);

	t0 = now_s();
	r = dm_load(T_DEV, in->t, in->n);
	tm_acc[TM_INPUT] += now_s() - t0;
	kmsg_drain();
	check_kmsg();
	buf_printf(&report, "  kernel: %s\n", r ? strerror(-r) : "accepted");
	if (opt.verbose)
		printf("%s %s", cur_input, report.p);
	if (r) {
		n_refused[K_TABLE]++;
		if (v.accept)
			fail("refused (%s), the oracle says it is valid", strerror(-r));
		if (!strstr(kmsg_lines.p ? kmsg_lines.p : "", "device-mapper"))
			fail("refused without a kernel log line");
		if (dm_info(T_DEV, &info))
			fail("fz-t is gone");
		else if ((info.flags & DM_INACTIVE_PRESENT_FLAG) && !ts->nbases &&
			 !ts->c_attached && !strcmp(what, "load"))
			fail("a refused table left an inactive table behind");
		return 0;
	}
	n_accepted[K_TABLE]++;
	if (!v.accept)
		fail("accepted, the oracle says: %s", v.why);
	*ts = next;
	return 1;
}

void table_case(long index)
{
	struct table_input in, in2;
	struct tstate ts = { 0 };
	struct rng r;
	char name[64];
	double t0;

	snprintf(name, sizeof(name), "table:%ld", index);
	cur_input = name;
	rng_for(&r, K_TABLE, index);
	gen_table(&r, &in);
	count_shape(in.shape);

	if (!try_load(&in, &ts, "load"))
		goto check;
	check_loaded(&in, true);

	if (chance(&r, 15)) {
		/* load another over the inactive one */
		struct tstate ts2 = { 0 };

		gen_table(&r, &in2);
		in2.shape = "reload";
		count_shape(in2.shape);
		/* the inactive table is replaced: its ingress and bases go */
		ts2.c_attached = ts.c_attached;
		if (try_load(&in2, &ts2, "load over an inactive table")) {
			table_input_free(&in);
			in = in2;
			ts = ts2;
			ts.c_attached = false;
			for (int i = 0; i < in.n; i++)
				if (!strcmp(in.t[i].type, "colo-ingress"))
					ts.c_attached = true;
			check_loaded(&in, true);
		} else {
			table_input_free(&in2);
		}
	}

	t0 = now_s();
	if (chance(&r, 12)) {
		int rr = dm_resume(T_DEV);

		kmsg_drain();
		check_kmsg();
		if (rr) {
			fail("resume of an accepted table failed: %s", strerror(-rr));
		} else {
			check_loaded(&in, false);
			check_io(&in);
		}
		if (dm_remove(T_DEV))
			fail("cannot remove fz-t");
		if (dm_create(T_DEV, &fzt_dev))
			die("create " T_DEV);
		if (uses_resident(&in) || !strcmp(in.t[0].type, "colo-ingress") ||
		    (in.n > 1 && !strcmp(in.t[1].type, "colo-ingress"))) {
			/*
			 * Its I/O went into a resident (an ingress write
			 * saves chunks to fz-c's hidden): new status lines.
			 */
			char st[512], f[32];

			colo_status("fz-c", st, sizeof(st));
			status_field(st, 9, f, sizeof(f));
			if (strcmp(f, "none"))
				fail("fz-c still has an ingress after fz-t went: %s", st);
			snapshot_residents(snap_st, snap_tb);
		}
	} else {
		if (dm_clear(T_DEV))
			fail("cannot clear fz-t's inactive table");
	}
	tm_acc[TM_UNDO] += now_s() - t0;
check:
	t0 = now_s();
	kmsg_drain();
	check_kmsg();
	check_residents("after the input");
	check_refs("after the input");
	tm_acc[TM_CHECK] += now_s() - t0;
	table_input_free(&in);
}
