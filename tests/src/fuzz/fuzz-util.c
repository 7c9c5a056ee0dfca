// SPDX-License-Identifier: GPL-2.0
/*
 * colo-fuzz: growing buffers, the seeded PRNG, timing and failure reports.
 */
#include "fuzz.h"

/* ---------------------------------------------------------------- utils */

void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stdout, "colo-fuzz: setup error: ");
	vfprintf(stdout, fmt, ap);
	fprintf(stdout, "\n");
	va_end(ap);
	exit(2);
}

void *xmalloc(size_t n)
{
	void *p = calloc(1, n ? n : 1);

	if (!p)
		die("out of memory");
	return p;
}

void buf_reserve(struct buf *b, size_t more)
{
	if (b->len + more + 1 <= b->cap)
		return;
	b->cap = (b->len + more + 1) * 2;
	b->p = realloc(b->p, b->cap);
	if (!b->p)
		die("out of memory");
}

static void buf_addn(struct buf *b, const char *s, size_t n)
{
	buf_reserve(b, n);
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void buf_add(struct buf *b, const char *s)
{
	buf_addn(b, s, strlen(s));
}

void buf_addc(struct buf *b, char c)
{
	buf_addn(b, &c, 1);
}

void buf_printf(struct buf *b, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	buf_add(b, tmp);
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->p)
		b->p[0] = '\0';
}

/* A printable form of @s (C escapes), cut at @max bytes of input. */
void quote(struct buf *out, const char *s, size_t max)
{
	size_t i, n = strlen(s);

	buf_addc(out, '"');
	for (i = 0; i < n && i < max; i++) {
		unsigned char c = s[i];

		if (c == '"' || c == '\\')
			buf_printf(out, "\\%c", c);
		else if (c >= 0x20 && c < 0x7f)
			buf_addc(out, c);
		else
			buf_printf(out, "\\x%02x", c);
	}
	buf_addc(out, '"');
	if (n > max)
		buf_printf(out, "...(%zu bytes)", n);
}

/* ------------------------------------------------------------------ PRNG */

static uint64_t rnd(struct rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

uint64_t below(struct rng *r, uint64_t n)
{
	return n ? rnd(r) % n : 0;
}

bool chance(struct rng *r, unsigned int pct)
{
	return below(r, 100) < pct;
}

void rng_for(struct rng *r, int kind, uint64_t index)
{
	r->s = opt.seed ^ ((uint64_t)(kind + 1) << 56) ^
	       (index * 0xd1342543de82ef95ULL);
	rnd(r);
}

/* ------------------------------------------------------------- timing */

double tm_acc[NTM];

double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

/* ----------------------------------------------------------- reporting */

struct buf report;

static void print_kmsg(void)
{
	char *line, *save = NULL, *copy;
	int n = 0;

	if (!kmsg_lines.len)
		return;
	copy = strdup(kmsg_lines.p);
	for (line = strtok_r(copy, "\n", &save); line && n < 40;
	     line = strtok_r(NULL, "\n", &save), n++)
		printf("  kernel: %.300s\n", line);
	free(copy);
}

struct buf dev_args;	/* " DEV0 DEV1 ..." for the replay line */

void fail(const char *fmt, ...)
{
	va_list ap;

	failures++;
	printf("FAIL %s: ", cur_input);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (report.len)
		printf("%s", report.p);
	print_kmsg();
	printf("  replay this input (in the VM, after brd_setup 24 4): colo-fuzz --seed %" PRIu64
	       " --only %s%s\n", opt.seed, cur_input, dev_args.p ? dev_args.p : "");
	if (opt.replay_hint)
		printf("  replay the run: %s\n", opt.replay_hint);
	fflush(stdout);
	if (failures >= opt.max_fail) {
		printf("colo-fuzz: FAIL: %d failures, stopping (seed %" PRIu64 ")\n",
		       failures, opt.seed);
		exit(1);
	}
}
