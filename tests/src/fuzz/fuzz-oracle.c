// SPDX-License-Identifier: GPL-2.0
/*
 * colo-fuzz: the oracle for table lines: must dm-colo accept this table?
 */
#include "fuzz.h"

/* ----------------------------------------------------------- the oracle */

bool refuse(struct verdict *v, const char *fmt, ...)
{
	va_list ap;

	v->accept = false;
	va_start(ap, fmt);
	vsnprintf(v->why, sizeof(v->why), fmt, ap);
	va_end(ap);
	return false;
}

/* A device a table can open: registered, not held by a non-dm holder. */
static bool table_dev(struct verdict *v, const char *role, const char *path,
		      uint64_t len, unsigned int chunk_bytes, struct devnum *d)
{
	uint64_t size;
	unsigned int lbs;

	if (!k_dm_devt(path, d))
		return refuse(v, "%s: no such device", role);
	if (devnum_eq(*d, fzt_dev))
		return refuse(v, "%s: the device itself", role);
	if (!dev_present(*d, &size, &lbs))
		return refuse(v, "%s: %u:%u does not open", role, d->maj, d->min);
	if (d_index(*d) == D_REPLICA)
		return refuse(v, "%s: held by fz-m's mirror", role);
	if (size < len)
		return refuse(v, "%s: %llu sectors < %llu", role,
			      (unsigned long long)size, (unsigned long long)len);
	if (chunk_bytes && chunk_bytes < lbs)
		return refuse(v, "%s: chunk smaller than its block size", role);
	return true;
}

static bool colo_table_ok(struct verdict *v, const struct target *t,
			  struct devnum *bases, int *nbases)
{
	struct words ws;
	struct devnum d[3];
	unsigned long long chunk;
	unsigned int nr, nfixed, i, argc;
	unsigned long long region = 0;
	bool secondary, ok = false;
	unsigned int seen = 0;
	char **argv;

	if (k_split_args(t->params, &ws))
		return refuse(v, "too many words");
	argc = ws.n;
	argv = ws.w;
	if (!argc) {
		refuse(v, "missing mode");
		goto out;
	}
	if (!strcmp(argv[0], "secondary")) {
		secondary = true;
	} else if (!strcmp(argv[0], "primary")) {
		secondary = false;
	} else {
		refuse(v, "invalid mode");
		goto out;
	}
	nfixed = secondary ? 5 : 3;
	if (argc < nfixed) {
		refuse(v, "too few arguments");
		goto out;
	}
	if (k_kstrtoull(argv[nfixed - 1], &chunk)) {
		refuse(v, "chunk not a number");
		goto out;
	}
	if (!chunk || (chunk & (chunk - 1)) || chunk > 2048) {
		refuse(v, "chunk %llu", chunk);
		goto out;
	}
	if (argc > nfixed) {
		if (k_kstrtouint(argv[nfixed], &nr)) {
			refuse(v, "bad #opt");
			goto out;
		}
		if (nr != argc - nfixed - 1) {
			refuse(v, "#opt mismatch");
			goto out;
		}
		for (i = nfixed + 1; i < argc; i++) {
			unsigned long long rs;
			unsigned int mc, bit;

			if (!strcmp(argv[i], "max_copies")) {
				bit = 1;
			} else if (!strcmp(argv[i], "region_size")) {
				bit = 2;
			} else {
				refuse(v, "unknown option");
				goto out;
			}
			if (seen & bit) {
				refuse(v, "%s twice", argv[i]);
				goto out;
			}
			if (i + 1 >= argc) {
				refuse(v, "%s needs a value", argv[i]);
				goto out;
			}
			i++;
			if (bit == 1 &&
			    (k_kstrtouint(argv[i], &mc) || !mc || mc > 1024)) {
				refuse(v, "bad max_copies");
				goto out;
			}
			if (bit == 2 &&
			    (k_kstrtoull(argv[i], &rs) || !rs || (rs & (rs - 1)) ||
			     rs > 2097152)) {
				refuse(v, "bad region_size");
				goto out;
			}
			if (bit == 2)
				region = rs;
			seen |= bit;
		}
		if (region && region < chunk) {
			refuse(v, "region_size below the chunk size");
			goto out;
		}
	}
	if (!table_dev(v, "base", argv[1], t->len, chunk * SECTOR, &d[0]))
		goto out;
	if (secondary) {
		if (!table_dev(v, "hidden", argv[2], t->len, chunk * SECTOR, &d[1]) ||
		    !table_dev(v, "active", argv[3], t->len, chunk * SECTOR, &d[2]))
			goto out;
		if (devnum_eq(d[0], d[1]) || devnum_eq(d[0], d[2]) ||
		    devnum_eq(d[1], d[2])) {
			refuse(v, "legs not different");
			goto out;
		}
	}
	for (i = 0; i < NRES; i++) {
		if (res[i].colo && devnum_eq(d[0], res[i].basedev)) {
			refuse(v, "base used by %s", res[i].name);
			goto out;
		}
	}
	for (i = 0; i < (unsigned int)*nbases; i++) {
		if (devnum_eq(d[0], bases[i])) {
			refuse(v, "base used twice in the table");
			goto out;
		}
	}
	bases[(*nbases)++] = d[0];
	ok = true;
out:
	words_free(&ws);
	return ok;
}

static bool ingress_table_ok(struct verdict *v, const struct target *t,
			     struct tstate *ts)
{
	struct words ws;
	struct devnum d;
	bool ok = false;
	int i, found = -1;

	if (k_split_args(t->params, &ws))
		return refuse(v, "too many words");
	if (ws.n != 1) {
		refuse(v, "ingress takes one argument");
		goto out;
	}
	if (!table_dev(v, "base", ws.w[0], 0, 0, &d))
		goto out;
	for (i = 0; i < NRES; i++)
		if (res[i].colo && devnum_eq(d, res[i].basedev))
			found = i;
	if (found < 0) {
		refuse(v, "no colo device on this base");
		goto out;
	}
	if (res[found].has_ingress || (found == R_C && ts->c_attached)) {
		refuse(v, "%s already has an ingress", res[found].name);
		goto out;
	}
	if (found != R_C && found != R_S) {
		refuse(v, "%s is a primary", res[found].name);
		goto out;
	}
	if (t->len > res[found].len) {
		refuse(v, "ingress longer than %s", res[found].name);
		goto out;
	}
	ts->c_attached = true;
	ok = true;
out:
	words_free(&ws);
	return ok;
}

/*
 * The whole table, as dm and dm-colo must judge it. @live_bases are the
 * colo bases of the table being replaced (same device: no conflict).
 */
bool table_ok(struct verdict *v, const struct target *t, int n,
	      struct tstate *ts)
{
	struct devnum bases[MAX_TARGETS];
	int nbases = 0, i;
	uint64_t next = 0;

	v->accept = true;
	snprintf(v->why, sizeof(v->why), "valid");
	for (i = 0; i < n; i++) {
		if (!t[i].len)
			return refuse(v, "target %d: zero length", i);
		if (t[i].start != next)
			return refuse(v, "target %d: gap in table", i);
		next = t[i].start + t[i].len;
		if (next < t[i].start)
			return refuse(v, "target %d: wraps", i);
		if (!strcmp(t[i].type, "colo")) {
			if (!colo_table_ok(v, &t[i], bases, &nbases))
				return false;
		} else if (!strcmp(t[i].type, "colo-ingress")) {
			if (!ingress_table_ok(v, &t[i], ts))
				return false;
		} else if (!strcmp(t[i].type, "zero") || !strcmp(t[i].type, "error")) {
			continue;
		} else {
			return refuse(v, "unknown target type");
		}
	}
	return true;
}
