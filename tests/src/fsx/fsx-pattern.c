// SPDX-License-Identifier: GPL-2.0
/*
 * colo-fsx: the seeded random numbers, the data pattern every write carries
 * (pat_describe() tells who wrote a word), the ring of recent ops, and
 * failure reporting: fail(), die_setup(), check_buf().
 */
#include "fsx.h"

/* ------------------------------------------------------------------ */
/* Random numbers and the data pattern                                 */

const char *const op_name[] = {
	"vm-read", "vm-write", "ingress-read", "ingress-write", "checkpoint",
	"failover-sent", "failover-returned", "mirror"
};

uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

uint64_t rnd(uint64_t *state, uint64_t n)
{
	return n ? splitmix64(state) % n : 0;
}

/*
 * Every 8-byte word written is an invertible mix (keyed by the seed) of
 *   op id (28 bits) | thread (6) | sector, low 24 bits (24) | word in sector (6)
 * so a word read back tells who wrote it and for which place.  Distinct words
 * of one block differ, so no written block is all zero.
 */
#define PAT_M1 0xff51afd7ed558ccdULL
#define PAT_M2 0xc4ceb9fe1a85ec53ULL
static uint64_t pat_k1, pat_k2, pat_m1_inv, pat_m2_inv;

static uint64_t inv64(uint64_t a)
{
	uint64_t x = a;		/* correct to 3 bits for odd a */
	int i;

	for (i = 0; i < 6; i++)
		x *= 2 - a * x;
	return x;
}

void pat_init(uint64_t seed)
{
	uint64_t s = seed ^ 0x636f6c6f2d667378ULL;	/* "colo-fsx" */

	pat_k1 = splitmix64(&s);
	pat_k2 = splitmix64(&s);
	pat_m1_inv = inv64(PAT_M1);
	pat_m2_inv = inv64(PAT_M2);
}

static uint64_t pat_encode(uint64_t raw)
{
	uint64_t x = raw ^ pat_k1;

	x *= PAT_M1;
	x ^= x >> 32;
	x *= PAT_M2;
	return x ^ pat_k2;
}

static uint64_t pat_decode(uint64_t w)
{
	uint64_t x = w ^ pat_k2;

	x *= pat_m2_inv;
	x ^= x >> 32;
	x *= pat_m1_inv;
	return x ^ pat_k1;
}

void pat_fill(void *buf, uint64_t op, unsigned int tid,
	      uint64_t start, uint64_t nsect)
{
	uint64_t *w = buf, s, i;

	for (s = 0; s < nsect; s++)
		for (i = 0; i < SECTOR_SIZE / 8; i++)
			*w++ = pat_encode((op & 0xfffffffULL) << 36 |
					  (uint64_t)(tid & 63) << 30 |
					  ((start + s) & 0xffffffULL) << 6 | i);
}

static void thread_label(char *out, size_t n, unsigned int tid)
{
	if ((int)tid < opt.vm_threads)
		snprintf(out, n, "vm%u", tid);
	else if ((int)tid < opt.vm_threads + opt.in_threads)
		snprintf(out, n, "ingress%d", (int)tid - opt.vm_threads);
	else if ((int)tid == opt.vm_threads + opt.in_threads)
		snprintf(out, n, "control");
	else
		snprintf(out, n, "?%u", tid);
}

/* Describe who wrote the word w found at byte offset off of the device. */
static void pat_describe(char *out, size_t n, uint64_t w, uint64_t off)
{
	uint64_t raw = pat_decode(w);
	uint64_t op = raw >> 36, sec = (raw >> 6) & 0xffffff;
	unsigned int tid = (raw >> 30) & 63, word = raw & 63;
	uint64_t here = off / SECTOR_SIZE;
	char who[32];

	if (word != (off % SECTOR_SIZE) / 8) {
		snprintf(out, n, "no colo-fsx pattern (initial content or garbage)");
		return;
	}
	if (op == 0 && tid >= TID_INIT_REPLICA) {
		snprintf(out, n, "selftest initial %s content%s",
			 tid == TID_INIT_BASE ? "base" :
			 tid == TID_INIT_HIDDEN ? "hidden" :
			 tid == TID_INIT_ACTIVE ? "active" : "replica",
			 sec == (here & 0xffffff) ? "" : " (misplaced)");
		return;
	}
	thread_label(who, sizeof(who), tid);
	if (sec == (here & 0xffffff))
		snprintf(out, n, "op %" PRIu64 " thread %s", op, who);
	else
		snprintf(out, n, "op %" PRIu64 " thread %s, MISPLACED: written for sector %" PRIu64,
			 op, who, (here & ~(uint64_t)0xffffff) | sec);
}

/* ------------------------------------------------------------------ */
/* Recent-op ring and failure reporting                                */

struct ring_ent {
	uint64_t id;
	int tid;
	enum op_kind kind;
	uint64_t start, nsect;
	const char *what;	/* OP_MIRROR: a static string */
};

static struct ring_ent ring[RING_SIZE];
static uint64_t ring_n;
static pthread_mutex_t ring_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t report_lock = PTHREAD_MUTEX_INITIALIZER;
volatile int stop;

static void ring_format(char *out, size_t n, const struct ring_ent *e)
{
	char who[32];

	thread_label(who, sizeof(who), e->tid);
	if (e->kind == OP_CKPT)
		snprintf(out, n, "%-9s checkpoint after op %" PRIu64, who, e->id);
	else if (e->kind == OP_FO_SEND)
		snprintf(out, n, "%-9s failover message sent (failover_at=%" PRIu64 ")",
			 who, e->id);
	else if (e->kind == OP_FO_DONE)
		snprintf(out, n, "%-9s failover message returned; %" PRIu64 " ops issued so far",
			 who, e->id);
	else if (e->kind == OP_MIRROR)
		snprintf(out, n, "%-9s %s (%" PRIu64 " ops issued)", who, e->what, e->id);
	else
		snprintf(out, n, "op %-7" PRIu64 " %-9s %-13s sector %-9" PRIu64 " +%-5" PRIu64 " chunks %" PRIu64 "..%" PRIu64,
			 e->id, who, op_name[e->kind], e->start, e->nsect,
			 chunk_of(e->start), chunk_of(e->start + e->nsect - 1));
}

static void ring_push(const struct ring_ent *e)
{
	char line[160];

	pthread_mutex_lock(&ring_lock);
	ring[ring_n % RING_SIZE] = *e;
	ring_n++;
	if (opt.verbose && !__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		ring_format(line, sizeof(line), e);
		printf("# %s\n", line);
	}
	pthread_mutex_unlock(&ring_lock);
}

void ring_log(uint64_t id, int tid, enum op_kind kind,
	      uint64_t start, uint64_t nsect)
{
	struct ring_ent e = { id, tid, kind, start, nsect, NULL };

	ring_push(&e);
}

/* A mirror event in the ring: what is a static string. */
void ring_log_mirror(const char *what, uint64_t ops_now)
{
	struct ring_ent e = { ops_now, opt.vm_threads + opt.in_threads,
			      OP_MIRROR, 0, 0, what };

	ring_push(&e);
}

static void ring_dump(void)
{
	char line[160];
	uint64_t i;

	pthread_mutex_lock(&ring_lock);
	i = ring_n > RING_SIZE ? ring_n - RING_SIZE : 0;
	printf("# last %" PRIu64 " ops (oldest first; started, not necessarily finished):\n",
	       ring_n - i);
	for (; i < ring_n; i++) {
		ring_format(line, sizeof(line), &ring[i % RING_SIZE]);
		printf("#   %s\n", line);
	}
	pthread_mutex_unlock(&ring_lock);
}

/* Report the first failure, stop everything, exit 1.  Later ones block. */
static void __attribute__((noreturn)) fail_finish(void)
{
	ring_dump();
	mirror_fail_cleanup();
	fault_fail_cleanup();
	printf("colo-fsx: FAIL seed=%" PRIu64 " (replay: %s)\n", opt.seed, replay_cmd);
	fflush(stdout);
	fflush(stderr);
	_exit(1);
}

void __attribute__((noreturn, format(printf, 1, 2))) fail(const char *fmt, ...)
{
	va_list ap;

	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	pthread_mutex_lock(&report_lock);
	printf("# FAILURE: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fail_finish();
}

void __attribute__((noreturn, format(printf, 1, 2))) die_setup(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "colo-fsx: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(2);
}

static void hex16(const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		printf("%s%02x", i && !(i % 8) ? "  " : " ", p[i]);
	printf("\n");
}

/*
 * Compare len bytes read from device d at byte offset off (sector aligned)
 * with what the model expects; on a difference report it in detail.
 */
void check_buf(const char *what, enum dev_id d, uint64_t off,
	       const uint8_t *exp, const uint8_t *act, size_t len)
{
	size_t i, last, win, wlen, wo, ndiff = 0;
	uint64_t e, a, sector, c;
	char de[160], da[160];

	if (!memcmp(exp, act, len))
		return;

	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	pthread_mutex_lock(&report_lock);
	for (i = 0; exp[i] == act[i]; i++)
		;
	for (last = len - 1; exp[last] == act[last]; last--)
		;
	for (wo = i; wo <= last; wo++)
		ndiff += exp[wo] != act[wo];
	sector = (off + i) / SECTOR_SIZE;
	c = chunk_of(sector);
	printf("# FAILURE: data mismatch in %s\n", what);
	printf("#   device %s, compared bytes %" PRIu64 "..%" PRIu64 " (sectors %" PRIu64 "+%zu)\n",
	       dev_path(d), off, off + len - 1, off / SECTOR_SIZE,
	       len / (size_t)SECTOR_SIZE);
	printf("#   first difference at byte %" PRIu64 " (sector %" PRIu64 " +%" PRIu64 ", chunk %" PRIu64 " +%" PRIu64 " sectors); %zu bytes differ up to byte %" PRIu64 "\n",
	       off + i, sector, (off + i) % SECTOR_SIZE, c,
	       sector - chunk_start(c), ndiff, off + last);
	if (opt.mirror)
		printf("#   model: view only (mirror mode); mirror %s, starts=%u (dirty %u, dirty refused %u) stops=%u failures=%u, dirty coverage %s\n",
		       mir_running ? "running" : "not running", mir_starts,
		       mir_dirty_starts, mir_dirty_refused, mir_stops, mir_failures,
		       cov_name[mir_cov]);
	else
		printf("#   model: vm_wrote[%" PRIu64 "]=%d in_wrote[%" PRIu64 "]=%d checkpoints=%" PRIu64 "\n",
		       c, vm_wrote[c], c, in_wrote[c], nr_checkpoints);
	if (opt.failover)
		printf("#   failover: phase=%s vm_pre[%" PRIu64 "]=%d fo_race[%" PRIu64 "]=%d fo_vmw[%" PRIu64 "]=%d\n",
		       (const char *[]){ "before", "message-running", "returned" }
			       [__atomic_load_n(&fo_phase, __ATOMIC_ACQUIRE)],
		       c, vm_pre[c], c, fo_race[c], c, fo_vmw[c]);
	win = i & ~(size_t)15;
	wlen = len - win < 16 ? len - win : 16;
	printf("#   expected @%" PRIu64 ":", off + win);
	hex16(exp + win, wlen);
	printf("#   actual   @%" PRIu64 ":", off + win);
	hex16(act + win, wlen);
	wo = i & ~(size_t)7;
	memcpy(&e, exp + wo, 8);
	memcpy(&a, act + wo, 8);
	pat_describe(de, sizeof(de), e, off + wo);
	pat_describe(da, sizeof(da), a, off + wo);
	printf("#   expected data written by: %s\n", de);
	printf("#   actual data written by:   %s\n", da);
	fail_finish();
}
