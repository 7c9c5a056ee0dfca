// SPDX-License-Identifier: GPL-2.0
/*
 * colo-fsx: --fleece BUFDEV: a colo-fleece view of the colo device's base
 * (README "Fleece") checked while the workers, checkpoints, the failover
 * and its commit, and the mirror go on.
 *
 * The checker creates "<name>-fleece" (colo-fleece <base> <buffer>) at a
 * consistent moment and copies its model of base then (snap[]): on a
 * secondary with the workers held (no op in flight) right after a
 * checkpoint, where base is the model's base[]; on a primary (--mirror)
 * with the workers and the control thread's writes held, where base is
 * view[].  A reader thread then, with its own seeded PRNG:
 *
 *   reads random ranges of the fleece: a range in the view must read
 *   exactly snap[]; one that touches a chunk out of the view (released by
 *   a discard, or not needed) must fail with EIO;
 *   discards 1-4 whole chunks: they leave the view (released);
 *   sends "needed <first>-<last> [<chunk>]" (at most twice per fleece: the
 *   view keeps the intersection), "needed all" (accepted only while never
 *   restricted) and an out-of-range "needed" (refused);
 *   reads the status: needed == the model's view, released == the model's
 *   count, saved <= #(not released and maybe written since the start),
 *   used <= total == min(buffer chunks, view chunks).
 *
 * A third of the fleeces (seeded; chunks up to 128 sectors, so that dm
 * cuts no chunk in two under the queue's max_sectors) are "read_once": a
 * read that succeeds releases the chunks it covers whole (the model
 * releases them as a discard does); there a read that touches a chunk out
 * of the view reads just that chunk, as the pieces of a failed read that
 * succeeded may have released theirs.
 *
 * Writes that reach base (ingress writes on a secondary, VM writes on a
 * primary, and after a failover anything: the commit and the VM) mark
 * their chunks maybe-written (w_may) before they are sent and
 * surely-written (w_sure) once they succeeded.  With the workers held
 * (at a restart and at the end) the status must also show saved >=
 * #(in the view and surely written): a chunk still in the view was in it
 * all along, so every write to it saved it first; released chunks are
 * never saved again (the upper bound); used == saved.
 *
 * --fleece-every N restarts the fleece (remove, checkpoint on a
 * secondary, create) every N ops (on a secondary only before the
 * failover); before each restart and at the end the whole view is read
 * and compared.  --fleece-small puts the fleece on "<name>-fleecebuf", a
 * linear device of nr_chunks/16 or ops/32 chunks of BUFDEV, the fewer:
 * the fleece must end
 * broken:full once more chunks needed a save than it holds; from the
 * break on every read of it fails; the workers' I/O never fails and
 * the model stays exact.  Any other broken state, or a break without
 * --fleece-small, is a failure.
 *
 * --fleece-bug live (to check the checker): the reader compares with the
 * live model of base instead of the snapshot; it must fail.
 */
#include "fsx.h"

#define FLEECE_TIMEOUT_MS	30000	/* no "timeout" break from a slow VM */
#define FLEECE_MAX_NEEDED	2	/* restricting messages per fleece */
#define FLEECE_SMALL_DIV	16
#define FLEECE_SMALL_OPS_DIV	32
#define FLEECE_READ_MAX		256	/* sectors */

static char fl_name[128], fl_buf_name[128], fl_path[160], fl_buf_path[160];
static uint8_t *snap;			/* base at the start of this fleece */
static uint8_t *in_view, *released;	/* per chunk; the reader's */
static uint8_t *w_may, *w_sure;		/* per chunk; atomics (writers) */
static bool restricted, broken_seen, read_once;
static unsigned int nr_restrict;
static uint64_t nr_in_view, nr_released, fl_total, buf_chunks;
static int fl_fd = -1;
static pthread_t reader;
static bool reader_started;
static int reader_stop;			/* atomic */
static uint8_t *rbuf;
static uint64_t rng;

/* What the reader did, over all fleeces. */
static uint64_t n_reads_ok, n_reads_eio, n_reads_broken, n_discards;
static uint64_t n_released, n_needed, n_needed_refused, n_status;
static uint64_t n_restarts, n_breaks, n_full_passes, max_saved, n_read_once, n_once_released;

struct fl_status {
	char state[32];
	uint64_t needed, saved, released, used, total;
	char line[512];
};

static void fl_dmsetup(char *const argv[], const char *what, bool must)
{
	char out[1024];
	int r;

	r = run_dmsetup(argv, out, sizeof(out));
	out[strcspn(out, "\n")] = 0;
	if (r && must)
		fail("fleece: %s: dmsetup exit %d: %s", what, r, out);
}

static void fl_status(struct fl_status *st, const char *when)
{
	char *argv[] = { "dmsetup", "status", fl_name, NULL };
	char type[32];
	int r;

	memset(st, 0, sizeof(*st));
	r = run_dmsetup(argv, st->line, sizeof(st->line));
	st->line[strcspn(st->line, "\n")] = 0;
	if (r)
		fail("fleece status %s: dmsetup exit %d: %s", when, r, st->line);
	if (sscanf(st->line, "%*u %*u %31s %31s %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 "/%" SCNu64,
		   type, st->state, &st->needed, &st->saved, &st->released,
		   &st->used, &st->total) != 7 || strcmp(type, "colo-fleece"))
		fail("fleece status %s: cannot parse '%s'", when, st->line);
	n_status++;
	if (st->saved > max_saved)
		max_saved = st->saved;
}

/*
 * The status against the model.  quiet: no op in flight (the lower bound
 * of saved, used == saved).  Returns true once the fleece is broken.
 */
static bool fl_check_status(const char *when, bool quiet)
{
	uint64_t c, hi = 0, lo = 0;
	struct fl_status st;

	fl_status(&st, when);
	if (st.total != fl_total)
		fail("fleece status %s: total %" PRIu64 ", expected %" PRIu64 " (buffer chunks, at most the view's); status: %s",
		     when, st.total, fl_total, st.line);
	if (st.used > st.total)
		fail("fleece status %s: used %" PRIu64 " > total; status: %s", when, st.used, st.line);
	if (!strncmp(st.state, "broken:", 7)) {
		if (!opt.fleece_small || strcmp(st.state, "broken:full"))
			fail("fleece status %s: %s (only --fleece-small may break it, and only broken:full); status: %s",
			     when, st.state, st.line);
		if (!broken_seen)
			n_breaks++;
		broken_seen = true;
		return true;
	}
	if (strcmp(st.state, "active"))
		fail("fleece status %s: state %s, expected active; status: %s", when, st.state, st.line);
	if (broken_seen)
		fail("fleece status %s: active again after broken:full; status: %s", when, st.line);
	for (c = 0; c < nr_chunks; c++) {
		hi += !released[c] && __atomic_load_n(&w_may[c], __ATOMIC_ACQUIRE);
		lo += in_view[c] && __atomic_load_n(&w_sure[c], __ATOMIC_ACQUIRE);
	}
	if (st.needed != nr_in_view || st.released != nr_released)
		fail("fleece status %s: needed %" PRIu64 " released %" PRIu64 ", the model says %" PRIu64 " and %" PRIu64 "; status: %s",
		     when, st.needed, st.released, nr_in_view, nr_released, st.line);
	if (st.saved > hi)
		fail("fleece status %s: saved %" PRIu64 " > %" PRIu64 " chunks that are not released and may have been written since the start (a released or unwritten chunk saved); status: %s",
		     when, st.saved, hi, st.line);
	if (!quiet)
		return false;
	if (lo > fl_total)
		fail("fleece status %s: active, but %" PRIu64 " chunks of the view were written since the start and the buffer holds %" PRIu64 " (must be broken:full); status: %s",
		     when, lo, fl_total, st.line);
	if (st.saved < lo)
		fail("fleece status %s: saved %" PRIu64 " < %" PRIu64 " chunks in the view surely written since the start (a write did not save its chunk); status: %s",
		     when, st.saved, lo, st.line);
	if (st.used != st.saved)
		fail("fleece status %s: used %" PRIu64 " != saved %" PRIu64 " with no I/O in flight; status: %s",
		     when, st.used, st.saved, st.line);
	return false;
}

/* A write that may reach base: before it is sent (done false), after it succeeded. */
void fleece_note_write(bool vm, uint64_t start, uint64_t nsect, bool done)
{
	uint64_t c;

	if (!opt.fleece_buf || vm != opt.mirror)
		return;
	for (c = chunk_of(start); c <= chunk_of(start + nsect - 1); c++)
		__atomic_store_n(done ? &w_sure[c] : &w_may[c], 1, __ATOMIC_RELEASE);
}

/* The failover: the commit and the VM write base from now on. */
void fleece_note_failover(void)
{
	uint64_t c;

	if (!opt.fleece_buf)
		return;
	for (c = 0; c < nr_chunks; c++)
		__atomic_store_n(&w_may[c], 1, __ATOMIC_RELEASE);
}

/* read_once: a successful read released the chunks it covered whole. */
static void release_whole(uint64_t start, uint64_t n)
{
	uint64_t c;

	for (c = chunk_of(start); c <= chunk_of(start + n - 1); c++) {
		if (chunk_start(c) < start || chunk_start(c) + chunk_len(c) > start + n ||
		    !in_view[c])
			continue;
		in_view[c] = 0;
		released[c] = 1;
		nr_in_view--;
		nr_released++;
		n_once_released++;
	}
}

/*
 * Read [start, start+n) of the fleece.  fail_ok: it touches a chunk out of
 * the view, so it must fail with EIO.  A read in the view that fails must
 * find the fleece broken:full (--fleece-small); one that succeeds must
 * equal the snapshot.
 */
static void fl_read(uint64_t start, uint64_t n, bool must_fail, const char *what)
{
	const uint8_t *model = opt.fleece_bug ? (opt.mirror ? view : base) : snap;
	char w[160];
	int err;

	err = dev_io_try(DEV_FLEECE, rbuf, start, n, false, 0);
	if (err && err != EIO)
		fail("fleece: %s: read of sector %" PRIu64 " +%" PRIu64 ": %s (only EIO is expected)",
		     what, start, n, strerror(err));
	if (broken_seen) {
		if (!err)
			fail("fleece: %s: read of sector %" PRIu64 " +%" PRIu64 " succeeded after the fleece broke (must fail)",
			     what, start, n);
		n_reads_broken++;
		return;
	}
	if (must_fail) {
		if (!err)
			fail("fleece: %s: read of sector %" PRIu64 " +%" PRIu64 " touches a chunk out of the view (released or not needed) but succeeded",
			     what, start, n);
		n_reads_eio++;
		return;
	}
	if (err) {
		snprintf(w, sizeof(w), "after a failed read (%s) of sector %" PRIu64 " +%" PRIu64 " in the view",
			 what, start, n);
		if (!fl_check_status(w, false))
			fail("fleece: %s: read of sector %" PRIu64 " +%" PRIu64 " in the view failed with EIO, the fleece active",
			     what, start, n);
		n_reads_broken++;
		return;
	}
	snprintf(w, sizeof(w), "fleece %s (vs the model of base at the fleece's start)", what);
	check_buf(w, DEV_FLEECE, bytes(start), model + bytes(start), rbuf, bytes(n));
	n_reads_ok++;
	if (read_once)
		release_whole(start, n);
}

/* Does [start, start+n) touch a chunk out of the view? */
static bool touches_out(uint64_t start, uint64_t n)
{
	uint64_t c;

	for (c = chunk_of(start); c <= chunk_of(start + n - 1); c++)
		if (!in_view[c])
			return true;
	return false;
}

/* The whole view, in runs of chunks in it; the first chunk of each run out of it. */
static void fl_full_pass(const char *when)
{
	uint64_t c = 0, e, max = BIG_IO_SECTORS / opt.chunk;
	char what[96];

	snprintf(what, sizeof(what), "full pass %s", when);
	while (c < nr_chunks) {
		if (broken_seen) {
			fl_read(0, chunk_len(0), true, what);
			fl_read(chunk_start(nr_chunks - 1), chunk_len(nr_chunks - 1), true, what);
			break;
		}
		if (!in_view[c]) {
			fl_read(chunk_start(c), chunk_len(c), true, what);
			while (c < nr_chunks && !in_view[c])
				c++;
			continue;
		}
		for (e = c; e < nr_chunks && in_view[e] && e - c < max; e++)
			;
		fl_read(chunk_start(c), chunk_start(e - 1) + chunk_len(e - 1) - chunk_start(c),
			false, what);
		c = e;
	}
	n_full_passes++;
}

static void fl_open(void)
{
	int i;

	for (i = 0; i < 100; i++) {
		fl_fd = open(fl_path, O_RDWR | O_DIRECT | O_CLOEXEC);
		if (fl_fd >= 0)
			break;
		sleep_ms(50);
	}
	if (fl_fd < 0)
		fail("fleece: cannot open %s: %s", fl_path, strerror(errno));
	dev_fd[DEV_FLEECE] = fl_fd;
}

/* Create the fleece and take the snapshot: no write to base may be in flight. */
static void fl_create(const char *when)
{
	char table[512], what[128];
	char *cr[] = { "dmsetup", "create", fl_name, "--table", table, NULL };
	char *mk[] = { "dmsetup", "mknodes", fl_name, NULL };
	uint64_t c;

	/* Up to 64 KiB chunks: dm's pieces of a read are then whole chunks. */
	read_once = rnd(&rng, 3) == 0 && opt.chunk <= 128;
	n_read_once += read_once;
	snprintf(table, sizeof(table), "0 %" PRIu64 " colo-fleece %s %s %d timeout %d%s",
		 len_sectors, opt.dev[DEV_BASE],
		 opt.fleece_small ? fl_buf_path : opt.fleece_buf, read_once ? 3 : 2,
		 FLEECE_TIMEOUT_MS, read_once ? " read_once" : "");
	fl_dmsetup(cr, "create", true);
	fl_dmsetup(mk, "mknodes", false);
	memcpy(snap, opt.mirror ? view : base, bytes(len_sectors));
	memset(in_view, 1, nr_chunks);
	memset(released, 0, nr_chunks);
	for (c = 0; c < nr_chunks; c++) {
		__atomic_store_n(&w_may[c], 0, __ATOMIC_RELAXED);
		__atomic_store_n(&w_sure[c], 0, __ATOMIC_RELAXED);
	}
	restricted = broken_seen = false;
	nr_restrict = 0;
	nr_in_view = nr_chunks;
	nr_released = 0;
	fl_open();
	snprintf(what, sizeof(what), "right after its start (%s)", when);
	fl_check_status(what, true);
}

static void fl_remove(void)
{
	char *rm[] = { "dmsetup", "remove", fl_name, NULL };
	char out[1024];
	int i, r = 0;

	if (fl_fd >= 0)
		close(fl_fd);
	fl_fd = dev_fd[DEV_FLEECE] = -1;
	/* udev may hold a new device open for a moment */
	for (i = 0; i < 100; i++) {
		r = run_dmsetup(rm, out, sizeof(out));
		if (!r)
			return;
		sleep_ms(50);
	}
	out[strcspn(out, "\n")] = 0;
	fail("fleece: dmsetup remove %s: exit %d: %s", fl_name, r, out);
}

/*
 * Hold the workers (the checkpoint gate) and, on a primary, the control
 * thread's VM writes (the whole VM range).  false: no restart any more
 * (the failover is due).
 */
static bool fl_hold(int *slot)
{
	pthread_mutex_lock(&gate_lock);
	while (ckpt_pending)
		pthread_cond_wait(&gate_cond, &gate_lock);
	if (opt.failover && ops_issued >= opt.failover_at) {
		pthread_mutex_unlock(&gate_lock);
		return false;
	}
	ckpt_pending = true;
	while (in_flight)
		pthread_cond_wait(&gate_cond, &gate_lock);
	pthread_mutex_unlock(&gate_lock);
	*slot = opt.mirror ? range_reserve(&side_ranges[0], 0, len_sectors) : -1;
	return true;
}

static void fl_unhold(int slot)
{
	if (slot >= 0)
		range_release(&side_ranges[0], slot);
	pthread_mutex_lock(&gate_lock);
	ckpt_pending = false;
	pthread_cond_broadcast(&gate_cond);
	pthread_mutex_unlock(&gate_lock);
}

/* Returns false when no restart may happen any more. */
static bool fl_restart(void)
{
	char when[96];
	uint64_t at;
	int slot;

	snprintf(when, sizeof(when), "before restart %" PRIu64, n_restarts + 1);
	fl_full_pass(when);
	if (!fl_hold(&slot))
		return false;
	at = ops_issued;
	snprintf(when, sizeof(when), "before restart %" PRIu64 " after op %" PRIu64 ", workers held",
		 n_restarts + 1, at);
	fl_check_status(when, true);
	fl_remove();
	if (!opt.mirror)
		do_checkpoint(opt.vm_threads + opt.in_threads, at);
	snprintf(when, sizeof(when), "restart %" PRIu64 " after op %" PRIu64,
		 n_restarts + 1, at);
	fl_create(when);
	printf("# fleece: restart %" PRIu64 " after op %" PRIu64 "%s\n", n_restarts + 1, at,
	       read_once ? " (read_once)" : "");
	n_restarts++;
	fl_unhold(slot);
	return true;
}

static void fl_discard(void)
{
	uint64_t first = rnd(&rng, nr_chunks), n = 1 + rnd(&rng, 4), c, range[2];
	char when[96];

	if (first + n > nr_chunks)
		n = nr_chunks - first;
	range[0] = bytes(chunk_start(first));
	range[1] = bytes(chunk_start(first + n - 1) + chunk_len(first + n - 1)) - range[0];
	if (ioctl(fl_fd, BLKDISCARD, range)) {
		/* fl_check_status() runs dmsetup, which sets errno. */
		int err = errno;

		if (err == EIO && !broken_seen) {
			snprintf(when, sizeof(when), "after a failed discard of chunks %" PRIu64 "+%" PRIu64,
				 first, n);
			if (!fl_check_status(when, false))
				fail("fleece: discard of chunks %" PRIu64 "+%" PRIu64 " failed with EIO, the fleece active",
				     first, n);
		}
		if (err != EIO || !broken_seen)
			fail("fleece: discard of chunks %" PRIu64 "+%" PRIu64 ": %s", first, n,
			     strerror(err));
		return;
	}
	if (broken_seen)
		fail("fleece: discard of chunks %" PRIu64 "+%" PRIu64 " succeeded on a broken fleece",
		     first, n);
	n_discards++;
	for (c = first; c < first + n; c++) {
		if (!in_view[c])
			continue;
		in_view[c] = 0;
		released[c] = 1;
		nr_in_view--;
		nr_released++;
		n_released++;
	}
}

static void fl_message(const char *msg, bool must_ok)
{
	char *argv[] = { "dmsetup", "message", fl_name, "0", (char *)msg, NULL };
	char out[1024];
	int r;

	r = run_dmsetup(argv, out, sizeof(out));
	out[strcspn(out, "\n")] = 0;
	if (!r != must_ok)
		fail("fleece: dmsetup message %s 0 %s: exit %d, expected %s: %s",
		     fl_name, msg, r, must_ok ? "success" : "a refusal", out);
}

static void fl_needed(void)
{
	uint64_t a, b, x, c;
	char msg[128];
	bool one;

	if (rnd(&rng, 4) == 0) {
		fl_message("needed all", !restricted);
		n_needed++;
		return;
	}
	if (rnd(&rng, 4) == 0) {
		snprintf(msg, sizeof(msg), "needed 0-%" PRIu64, nr_chunks);
		fl_message(msg, false);
		n_needed_refused++;
		return;
	}
	if (nr_restrict >= FLEECE_MAX_NEEDED)
		return;
	a = rnd(&rng, nr_chunks / 4 + 1);
	b = nr_chunks - 1 - rnd(&rng, nr_chunks / 4 + 1);
	if (b < a)
		b = a;
	x = rnd(&rng, nr_chunks);
	one = rnd(&rng, 2);
	if (one)
		snprintf(msg, sizeof(msg), "needed %" PRIu64 "-%" PRIu64 " %" PRIu64, a, b, x);
	else
		snprintf(msg, sizeof(msg), "needed %" PRIu64 "-%" PRIu64, a, b);
	fl_message(msg, true);
	for (c = 0; c < nr_chunks; c++) {
		if (!in_view[c] || (c >= a && c <= b) || (one && c == x))
			continue;
		in_view[c] = 0;
		nr_in_view--;
	}
	restricted = true;
	nr_restrict++;
	n_needed++;
}

static void fl_random_read(void)
{
	uint64_t s, n, c, max = opt.max_sectors > FLEECE_READ_MAX ? FLEECE_READ_MAX : opt.max_sectors;

	if (max < opt.chunk && opt.chunk <= FLEECE_READ_MAX)
		max = opt.chunk;
	if (rnd(&rng, 100) < opt.hot) {
		c = hot_chunk[rnd(&rng, HOT_CHUNKS)];
		s = chunk_start(c) + rnd(&rng, chunk_len(c));
	} else {
		s = rnd(&rng, len_sectors);
	}
	if (rnd(&rng, 3) == 0)
		s = chunk_start(chunk_of(s));
	n = 1 + rnd(&rng, max);
	if (n > len_sectors - s)
		n = len_sectors - s;
	/*
	 * read_once: the pieces of a failed read that succeeded may have
	 * released their chunks; a read out of the view reads one such chunk.
	 */
	if (read_once && touches_out(s, n)) {
		for (c = chunk_of(s); in_view[c]; c++)
			;
		s = chunk_start(c);
		n = chunk_len(c);
	}
	fl_read(s, n, touches_out(s, n), "random read");
}

static void *reader_fn(void *arg)
{
	uint64_t next = opt.fleece_every, ops = 0, r;
	bool restarts = opt.fleece_every != 0;

	(void)arg;
	while (!__atomic_load_n(&reader_stop, __ATOMIC_ACQUIRE) &&
	       !__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		/* at most 2 reader ops per worker op (and 200 ahead) */
		if (ops > 2 * ops_now() + 200) {
			sleep_ms(1);
			continue;
		}
		ops++;
		if (restarts && ops_now() >= next) {
			restarts = fl_restart();
			next += opt.fleece_every;
			continue;
		}
		r = rnd(&rng, 1000);
		if (r < 5)
			fl_needed();
		else if (r < 45)
			fl_discard();
		else if (r < 80)
			fl_check_status("while the workers run", false);
		else
			fl_random_read();
	}
	return NULL;
}

/* After setup_model(): the first fleece, and the reader. */
void fleece_setup(void)
{
	char table[256], *cr[] = { "dmsetup", "create", fl_buf_name, "--table", table, NULL };
	char *mk[] = { "dmsetup", "mknodes", fl_buf_name, NULL };
	uint64_t sz;
	int fd, err;

	if (!opt.fleece_buf)
		return;
	snprintf(fl_name, sizeof(fl_name), "%s-fleece", opt.name);
	snprintf(fl_path, sizeof(fl_path), "/dev/mapper/%s", fl_name);
	opt.dev[DEV_FLEECE] = fl_path;
	fd = open(opt.fleece_buf, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die_setup("--fleece %s: %s", opt.fleece_buf, strerror(errno));
	sz = dev_size(fd, opt.fleece_buf) / SECTOR_SIZE;
	close(fd);
	buf_chunks = sz / opt.chunk;
	if (opt.fleece_small) {
		/*
		 * Small enough to fill in a short run too: a run of 800 ops
		 * (the debug lane's) saved 144 chunks, not nr_chunks/16 = 256.
		 */
		buf_chunks = nr_chunks / FLEECE_SMALL_DIV;
		if (buf_chunks > opt.ops / FLEECE_SMALL_OPS_DIV)
			buf_chunks = opt.ops / FLEECE_SMALL_OPS_DIV;
		if (!buf_chunks)
			buf_chunks = 1;
		if (buf_chunks * opt.chunk > sz)
			die_setup("--fleece %s: smaller than %" PRIu64 " chunks", opt.fleece_buf, buf_chunks);
		snprintf(fl_buf_name, sizeof(fl_buf_name), "%s-fleecebuf", opt.name);
		snprintf(fl_buf_path, sizeof(fl_buf_path), "/dev/mapper/%s", fl_buf_name);
		snprintf(table, sizeof(table), "0 %" PRIu64 " linear %s 0",
			 buf_chunks * opt.chunk, opt.fleece_buf);
		fl_dmsetup(cr, "create the small buffer", true);
		fl_dmsetup(mk, "mknodes", false);
	}
	fl_total = buf_chunks < nr_chunks ? buf_chunks : nr_chunks;
	snap = malloc(bytes(len_sectors));
	in_view = malloc(nr_chunks);
	released = malloc(nr_chunks);
	w_may = calloc(nr_chunks, 1);
	w_sure = calloc(nr_chunks, 1);
	rbuf = alloc_io(BIG_IO_SECTORS);
	if (!snap || !in_view || !released || !w_may || !w_sure)
		die_setup("out of memory for the fleece model");
	rng = opt.seed ^ 0x666c65656365ULL;	/* "fleece" */
	fl_create("at the start");
	printf("# fleece: %s on %s%s: %" PRIu64 " buffer chunks, status: active %" PRIu64 " 0 0 0/%" PRIu64 "\n",
	       fl_name, opt.fleece_small ? fl_buf_path : opt.fleece_buf,
	       read_once ? " (read_once)" : "", buf_chunks, nr_chunks, fl_total);
	err = pthread_create(&reader, NULL, reader_fn, NULL);
	if (err)
		die_setup("pthread_create: %s", strerror(err));
	reader_started = true;
}

/*
 * After the workers and the control threads (the commit done): stop the
 * reader, read the whole view, check the status with nothing in flight,
 * remove the fleece.  sum gets a summary for the PASS line.
 */
void fleece_finish(char *sum, size_t sumsz)
{
	char *rm[] = { "dmsetup", "remove", fl_buf_name, NULL };

	if (!opt.fleece_buf)
		return;
	__atomic_store_n(&reader_stop, 1, __ATOMIC_RELEASE);
	if (reader_started)
		pthread_join(reader, NULL);
	reader_started = false;
	if (__atomic_load_n(&stop, __ATOMIC_RELAXED))
		pause();
	fl_full_pass("at the end");
	fl_check_status("at the end, no I/O in flight", true);
	if (opt.fleece_small && !n_breaks)
		fail("fleece: --fleece-small, but no fleece broke (buffer of %" PRIu64 " chunks, saved up to %" PRIu64 ")",
		     buf_chunks, max_saved);
	/*
	 * With --fleece-small every fleece may break before the reader's
	 * first read ends (a buffer of a few chunks, a slow debug kernel:
	 * seed 1796581785008 at 300 ops); reads that found it broken were
	 * still checked then.
	 */
	if (!n_reads_ok && !(opt.fleece_small && n_reads_broken))
		fail("fleece: not one read of the fleece succeeded");
	printf("# fleece-summary fleeces=%" PRIu64 " restarts=%" PRIu64 " reads_ok=%" PRIu64 " reads_eio_out_of_view=%" PRIu64
	       " reads_eio_broken=%" PRIu64 " full_passes=%" PRIu64 " discards=%" PRIu64 " released=%" PRIu64
	       " needed=%" PRIu64 " needed_refused=%" PRIu64 " status=%" PRIu64 " breaks=%" PRIu64 " max_saved=%" PRIu64 " buffer=%" PRIu64
	       " read_once_fleeces=%" PRIu64 " read_once_released=%" PRIu64 "\n",
	       n_restarts + 1, n_restarts, n_reads_ok, n_reads_eio, n_reads_broken, n_full_passes,
	       n_discards, n_released, n_needed, n_needed_refused, n_status, n_breaks,
	       max_saved, fl_total, n_read_once, n_once_released);
	snprintf(sum, sumsz, " fleeces=%" PRIu64 " fleece_reads=%" PRIu64 " fleece_breaks=%" PRIu64,
		 n_restarts + 1, n_reads_ok + n_reads_eio + n_reads_broken, n_breaks);
	fl_remove();
	if (opt.fleece_small)
		fl_dmsetup(rm, "remove the small buffer", true);
}
