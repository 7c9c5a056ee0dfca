// SPDX-License-Identifier: GPL-2.0
/*
 * colo-fuzz: the generator: word lists, numbers, paths and the mutations
 * of words and of raw lines.
 */
#include "fuzz.h"

/* ----------------------------------------------------------- generator */

void wl_add(struct wlist *l, const char *s)
{
	if (l->n < MAX_WORDS)
		l->w[l->n++] = strdup(s);
}

void wl_free(struct wlist *l)
{
	int i;

	for (i = 0; i < l->n; i++)
		free(l->w[i]);
	l->n = 0;
}

static void wl_insert(struct wlist *l, int at, const char *s)
{
	if (l->n >= MAX_WORDS)
		return;
	memmove(&l->w[at + 1], &l->w[at], (l->n - at) * sizeof(char *));
	l->w[at] = strdup(s);
	l->n++;
}

static void wl_delete(struct wlist *l, int at)
{
	free(l->w[at]);
	memmove(&l->w[at], &l->w[at + 1], (l->n - at - 1) * sizeof(char *));
	l->n--;
}

static void wl_set(struct wlist *l, int at, const char *s)
{
	free(l->w[at]);
	l->w[at] = strdup(s);
}

static const char *const number_pool[] = {
	"0", "1", "2", "3", "4", "7", "8", "12", "16", "64", "100", "128",
	"1000", "1023", "1024", "1025", "2047", "2048", "2049", "4096", "65536",
	"-1", "-8", "+8", "+0", "08", "0008", "0x8", "0x10", "8k", "8.0", "1e3",
	"4294967295", "4294967296", "4294967304", "18446744073709551615",
	"18446744073709551616", "99999999999999999999999", "9223372036854775808",
	"8\n", "2048\n", "\n8", "8\n\n", "8 ", "٨", "\xef\xbc\x98", "NaN", "inf",
	"-0", "--8", "8-", "0b1000", "010", "1\\",
};

void random_number(struct rng *r, char *out, size_t sz)
{
	switch (below(r, 4)) {
	case 0:
		snprintf(out, sz, "%s", PICK(r, number_pool));
		break;
	case 1:
		snprintf(out, sz, "%llu", 1ULL << below(r, 64));
		break;
	case 2:
		snprintf(out, sz, "%llu", (unsigned long long)below(r, 1ULL << below(r, 64)));
		break;
	default:
		snprintf(out, sz, "%lld", -(long long)below(r, 5000));
		break;
	}
}

/* A random word of odd bytes (never NUL; never starting a message with @). */
void random_bytes_word(struct rng *r, char *out, size_t sz, size_t maxlen)
{
	size_t n = 1 + below(r, maxlen), i;

	if (n >= sz)
		n = sz - 1;
	for (i = 0; i < n; i++) {
		unsigned char c = 1 + below(r, 255);

		if (chance(r, 60))
			c = 0x21 + below(r, 0x5e);
		out[i] = c;
	}
	out[n] = '\0';
	if (out[0] == '@')
		out[0] = 'a';
}

/* A device path for the D or resident @d, in one of the forms dm accepts. */
void path_forms(struct rng *r, const char *node, struct devnum d,
		char *out, size_t sz)
{
	const char *slash = strrchr(node, '/');
	const char *base = slash ? slash + 1 : node;

	switch (below(r, 12)) {
	case 0:
		snprintf(out, sz, "%u:%u", d.maj, d.min);
		break;
	case 1:
		snprintf(out, sz, "0%u:00%u", d.maj, d.min);
		break;
	case 2:
		snprintf(out, sz, "%llu:%u", (1ULL << 32) + d.maj, d.min);
		break;
	case 3:
		snprintf(out, sz, "%u:%u:0", d.maj, d.min);
		break;
	case 4:
		snprintf(out, sz, "%x", new_encode_dev(d));
		break;
	case 5:
		snprintf(out, sz, "/dev/../dev/%s", base);
		if (strncmp(node, "/dev/", 5))
			snprintf(out, sz, "%s/../%s/%s", NODE_DIR, strrchr(NODE_DIR, '/') + 1, base);
		break;
	case 6:
		snprintf(out, sz, "/dev/%s", base);
		break;
	case 7:
		snprintf(out, sz, "%s", base);
		break;
	case 8:
		snprintf(out, sz, "%u: %u", d.maj, d.min);
		break;
	default:
		snprintf(out, sz, "%s", node);
		break;
	}
}

static const char *const bad_paths[] = {
	"/dev/nonexistent", "/dev/null", "/dev/zero", "/dev", "/", "/tmp",
	"/dev/ram99", "/dev/loop0", "/dev/loop7", "/dev/mapper/control",
	NODE_DIR "/link-dangling", NODE_DIR "/plain-file", "0:0", "1:99",
	"4096:0", "1:1048576", "-1:0", "1:-0", "1:0x", ":0", "1:", "1", "0",
	"/dev/ram", "ram0", "/dev/ram0/", "/dev//", "..", ".", "/dev/nfs",
	"/dev/cifs", "PARTUUID=", "1:0:0:0", "1:0:", "1::0", "01:0", "0x100",
	"100", "fff00", "/dev/ram\x01", "/dev/\xff\xfe", "/dev/ram 0",
	"/proc/self/fd/0", "/sys/block/ram0", "/dev/dm-0", "/dev/dm-99999",
};

/* A random device path: a D, a resident, or something odd. */
void random_path(struct rng *r, char *out, size_t sz)
{
	unsigned int k = below(r, 100);
	int i;

	if (k < 45) {
		i = below(r, NDEVS);
		path_forms(r, devpath[i], devnum[i], out, sz);
	} else if (k < 60) {
		i = below(r, NRES);
		path_forms(r, res[i].node, res[i].dev, out, sz);
	} else if (k < 62) {
		snprintf(out, sz, NODE_DIR "/%s", "link0");
	} else if (k < 64) {
		snprintf(out, sz, "%u:%u", fzt_dev.maj, fzt_dev.min);
	} else if (k < 85) {
		snprintf(out, sz, "%s", PICK(r, bad_paths));
	} else if (k < 90) {
		/* very long: beyond NAME_MAX in one component, or PATH_MAX */
		size_t n = chance(r, 50) ? 300 : 5000, j;

		if (n > sz - 8)
			n = sz - 8;
		strcpy(out, "/dev/");
		for (j = 5; j < n; j++)
			out[j] = chance(r, 3) ? '/' : 'a' + below(r, 26);
		out[n] = '\0';
	} else {
		random_bytes_word(r, out, sz, 40);
	}
}

/* Serialize words with odd separators; bytes that split a word are escaped. */
void serialize(struct rng *r, const struct wlist *l, struct buf *out)
{
	static const char *const seps[] = { " ", " ", " ", "  ", "\t", "\n",
		"\v", "\f", "\r", " \t ", "\xa0", "        " };
	bool odd = chance(r, 25);
	int i;

	buf_reset(out);
	if (odd && chance(r, 30))
		buf_add(out, PICK(r, seps));
	for (i = 0; i < l->n; i++) {
		const char *s;

		if (i)
			buf_add(out, odd ? PICK(r, seps) : " ");
		for (s = l->w[i]; *s; s++) {
			if (k_isspace(*s) || *s == '\\')
				buf_addc(out, '\\');
			buf_addc(out, *s);
		}
	}
	if (odd && chance(r, 30))
		buf_add(out, PICK(r, seps));
}

/* Byte-level damage after serializing: the oracle re-splits anyway. */
void raw_mutate(struct rng *r, struct buf *b)
{
	int n = 1 + below(r, 3);

	while (n--) {
		size_t at = b->len ? below(r, b->len + 1) : 0;
		char c;

		switch (below(r, 5)) {
		case 0:		/* insert a byte */
			c = 1 + below(r, 255);
			buf_reserve(b, 1);
			memmove(b->p + at + 1, b->p + at, b->len - at + 1);
			b->p[at] = c;
			b->len++;
			break;
		case 1:		/* insert a backslash */
			buf_reserve(b, 1);
			memmove(b->p + at + 1, b->p + at, b->len - at + 1);
			b->p[at] = '\\';
			b->len++;
			break;
		case 2:		/* change a byte */
			if (at < b->len)
				b->p[at] = 1 + below(r, 255);
			break;
		case 3:		/* cut the line */
			if (at < b->len) {
				b->len = at;
				b->p[at] = '\0';
			}
			break;
		default:	/* a trailing backslash */
			buf_addc(b, '\\');
			break;
		}
	}
}

/*
 * A message whose first word starts with '@' goes to the dm core (stats),
 * not to the target: keep the fuzzer on dm-colo's side.
 */
void no_core_message(struct buf *b)
{
	struct words ws;
	bool core;

	if (!b->p)
		return;
	core = !k_split_args(b->p, &ws) && ws.n && ws.w[0][0] == '@';
	words_free(&ws);
	if (core) {
		buf_reserve(b, 1);
		memmove(b->p + 1, b->p, b->len + 1);
		b->p[0] = 'x';
		b->len++;
	}
}

/* Word-level mutations. */
void mutate_words(struct rng *r, struct wlist *l)
{
	int n = below(r, 4), i;
	char w[8192];

	while (n--) {
		int at = l->n ? below(r, l->n) : 0;

		switch (below(r, 10)) {
		case 0:
			if (l->n)
				wl_delete(l, at);
			break;
		case 1:
			if (l->n)
				wl_insert(l, at, l->w[at]);
			break;
		case 2:
			if (l->n > 1) {
				int b = below(r, l->n);
				char *t = l->w[at];

				l->w[at] = l->w[b];
				l->w[b] = t;
			}
			break;
		case 3:
			random_number(r, w, sizeof(w));
			if (l->n && chance(r, 70))
				wl_set(l, at, w);
			else
				wl_insert(l, l->n ? at : 0, w);
			break;
		case 4:
			random_path(r, w, sizeof(w));
			if (l->n)
				wl_set(l, at, w);
			else
				wl_add(l, w);
			break;
		case 5:
			wl_insert(l, l->n ? below(r, l->n + 1) : 0, PICK(r, junk_words));
			break;
		case 6:
			random_bytes_word(r, w, sizeof(w), 24);
			wl_insert(l, l->n ? below(r, l->n + 1) : 0, w);
			break;
		case 7:
			if (l->n) {	/* truncate the list */
				int keep = below(r, l->n);

				for (i = l->n - 1; i >= keep; i--)
					wl_delete(l, i);
			}
			break;
		case 8:
			if (l->n) {	/* change the case of a word */
				snprintf(w, sizeof(w), "%s", l->w[at]);
				for (i = 0; w[i]; i++)
					w[i] = chance(r, 50) ? toupper((unsigned char)w[i]) : w[i];
				wl_set(l, at, w);
			}
			break;
		default:
			if (l->n) {	/* append junk to a word */
				snprintf(w, sizeof(w), "%s%s", l->w[at],
					 chance(r, 50) ? "x" : PICK(r, junk_words));
				wl_set(l, at, w);
			}
			break;
		}
	}
	if (chance(r, 3)) {	/* very many words */
		int extra = 100 + below(r, 3000);

		for (i = 0; i < extra && l->n < MAX_WORDS; i++)
			wl_add(l, chance(r, 50) ? "2" : "max_copies");
	}
	if (chance(r, 2)) {	/* one very long word */
		size_t len = 1000 + below(r, 60000), j;
		char *big = xmalloc(len + 1);

		for (j = 0; j < len; j++)
			big[j] = 'a' + below(r, 26);
		wl_insert(l, l->n ? below(r, l->n + 1) : 0, big);
		free(big);
	}
}
