// SPDX-License-Identifier: GPL-2.0
/*
 * colo-fsx: the device layer: opening the devices, I/O (real or simulated),
 * dmsetup, messages, table swaps, the status parser and the status check
 * of secondary mode.
 */
#include "fsx.h"

/* ------------------------------------------------------------------ */
/* Device layer: real block devices or the simulation                  */

const char *const dev_opt[NR_DEVS] = {
	"vm", "ingress", "base", "hidden", "active", "replica", "fleece"
};

const char *dev_path(enum dev_id d)
{
	static const char *const sim[NR_DEVS] = {
		"sim:vm", "sim:ingress", "sim:base", "sim:hidden", "sim:active",
		"sim:replica", "sim:fleece"
	};

	return opt.selftest ? sim[d] : opt.dev[d];
}

int dev_fd[NR_DEVS] = { -1, -1, -1, -1, -1, -1, -1 };

uint64_t dev_size(int fd, const char *path)
{
	uint64_t size;
	struct stat st;

	if (fstat(fd, &st))
		die_setup("stat %s: %s", path, strerror(errno));
	if (!S_ISBLK(st.st_mode))
		die_setup("%s is not a block device", path);
	if (ioctl(fd, BLKGETSIZE64, &size))
		die_setup("BLKGETSIZE64 %s: %s", path, strerror(errno));
	return size;
}

/*
 * The devices a mode uses: all but the replica, or (--mirror) vm, base,
 * replica.  The fleece is made and opened by fsx-fleece.c.
 */
bool dev_used(int d)
{
	if (opt.mirror)
		return d == DEV_VM || d == DEV_BASE || d == DEV_REPLICA;
	return d != DEV_REPLICA && d != DEV_FLEECE;
}

void dev_open_all(void)
{
	uint64_t size;
	int d;

	for (d = 0; d < NR_DEVS; d++) {
		int flags = (d == DEV_VM || d == DEV_INGRESS ? O_RDWR : O_RDONLY);

		if (!dev_used(d))
			continue;

		dev_fd[d] = open(opt.dev[d], flags | O_DIRECT | O_CLOEXEC);
		if (dev_fd[d] < 0)
			die_setup("cannot open --%s %s: %s", dev_opt[d],
				  opt.dev[d], strerror(errno));
		size = dev_size(dev_fd[d], opt.dev[d]);
		if (d == DEV_VM) {
			if (size < SECTOR_SIZE || size % SECTOR_SIZE)
				die_setup("%s: bad size %" PRIu64, opt.dev[d], size);
			len_sectors = size / SECTOR_SIZE;
		} else if (d == DEV_REPLICA && (size < bytes(len_sectors) || size % SECTOR_SIZE)) {
			die_setup("--replica %s: %" PRIu64 " bytes, smaller than the VM device (%" PRIu64 ") or not whole sectors",
				  opt.dev[d], size, (uint64_t)bytes(len_sectors));
		} else if (size < bytes(len_sectors)) {
			die_setup("--%s %s: %" PRIu64 " bytes, smaller than the VM device (%" PRIu64 ")",
				  dev_opt[d], opt.dev[d], size, (uint64_t)bytes(len_sectors));
		}
		if (d == DEV_REPLICA)
			mir_replica_sectors = size / SECTOR_SIZE;
	}
}

uint64_t io_enomem;	/* atomic: --make-it-fail I/Os sent again */

/*
 * One I/O: 0, or the errno of a failed one.  A short one is a failure.
 * --make-it-fail: the block layer's direct I/O refuses an I/O with ENOMEM
 * when it cannot allocate its bio_vec array, before any bio is sent; the
 * I/O is sent again.  (dm-colo itself never returns ENOMEM to a bio.)
 */
int dev_io_try(enum dev_id d, void *buf, uint64_t start, uint64_t nsect,
	       bool write, uint64_t op)
{
	struct timespec ms = { 0, 1000000 };
	ssize_t ret;

	if (opt.selftest)
		return sim_io(d, buf, start, nsect, write);
	for (;;) {
		if (write)
			ret = pwrite(dev_fd[d], buf, bytes(nsect), (off_t)bytes(start));
		else
			ret = pread(dev_fd[d], buf, bytes(nsect), (off_t)bytes(start));
		if (ret >= 0 || errno != ENOMEM || !opt.make_it_fail)
			break;
		__atomic_add_fetch(&io_enomem, 1, __ATOMIC_RELAXED);
		nanosleep(&ms, NULL);
	}
	if (ret == (ssize_t)bytes(nsect))
		return 0;
	if (ret < 0)
		return errno ? errno : EIO;
	fail("op %" PRIu64 ": short %s %s sector %" PRIu64 " +%" PRIu64 ": %zd of %zu bytes",
	     op, write ? "pwrite" : "pread", dev_path(d), start, nsect,
	     ret, bytes(nsect));
}

void dev_io(enum dev_id d, void *buf, uint64_t start, uint64_t nsect,
	    bool write, uint64_t op)
{
	int err = dev_io_try(d, buf, start, nsect, write, op);

	if (err)
		fail("op %" PRIu64 ": %s %s sector %" PRIu64 " +%" PRIu64 ": %s",
		     op, write ? "pwrite" : "pread", dev_path(d), start, nsect,
		     strerror(err));
}

/* Run argv[0] (dmsetup) with args; its output (stdout and stderr) goes to out. */
/*
 * --make-it-fail: is this thread marked (see set_make_it_fail())?  Its
 * make-it-fail file stays open: opening it once marked could fail.
 */
static __thread bool thread_marked;
static __thread int thread_mif_fd = -1;

static void write_make_it_fail(const char *v)
{
	if (thread_mif_fd < 0)
		thread_mif_fd = open("/proc/thread-self/make-it-fail", O_WRONLY);
	if (thread_mif_fd < 0 || pwrite(thread_mif_fd, v, 1, 0) != 1)
		die_setup("/proc/thread-self/make-it-fail: %s (a kernel without CONFIG_FAULT_INJECTION?)",
			  strerror(errno));
}

/* --make-it-fail: this thread's allocations may fail from now on. */
void set_make_it_fail(void)
{
	write_make_it_fail("1");
	thread_marked = true;
}

static int run_dmsetup_unmarked(char *const argv[], char *out, size_t outsz);

/*
 * Run dmsetup; its output in out.  A marked thread runs it unmarked: the
 * allocation failures are for the I/O path, not for starting a process.
 */
int run_dmsetup(char *const argv[], char *out, size_t outsz)
{
	int r;

	if (!thread_marked)
		return run_dmsetup_unmarked(argv, out, outsz);
	write_make_it_fail("0");
	r = run_dmsetup_unmarked(argv, out, outsz);
	write_make_it_fail("1");
	return r;
}

static int run_dmsetup_unmarked(char *const argv[], char *out, size_t outsz)
{
	posix_spawn_file_actions_t fa;
	int pfd[2], status, err;
	size_t got = 0;
	ssize_t n;
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC))
		return -1;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], 2);
	err = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(pfd[1]);
	if (err) {
		close(pfd[0]);
		snprintf(out, outsz, "cannot run %s: %s", argv[0], strerror(err));
		return -1;
	}
	while ((n = read(pfd[0], out + got, outsz - 1 - got)) > 0 ||
	       (n < 0 && errno == EINTR))
		if (n > 0)
			got += n;
	out[got] = 0;
	close(pfd[0]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/*
 * dmsetup message NAME 0 msg: its exit status (-1: could not run it), its
 * output in out.  The simulation knows checkpoint and failover.
 */
/*
 * --retry-enomem: a message the kernel refused for want of memory (which
 * must have changed nothing, README) is sent again, 20 ms later, up to
 * ENOMEM_RETRIES times.
 */
#define ENOMEM_RETRIES	1000
uint64_t enomem_retries;	/* atomic */
uint64_t eagain_retries;	/* atomic: messages sent again after EAGAIN */

int dev_message(const char *msg, char *out, size_t outsz)
{
	char *argv[] = { "dmsetup", "message", (char *)opt.name, "0",
			 (char *)msg, NULL };
	struct timespec spawn = { 0, 1000000 };	/* like running dmsetup */
	struct timespec pause_20ms = { 0, 20000000 };
	int r, i;

	if (!opt.selftest) {
		for (i = 0;; i++) {
			r = run_dmsetup(argv, out, outsz);
			/*
			 * A reloaded table not resumed yet refuses every
			 * message with EAGAIN, changing nothing: send again.
			 */
			if (r && i < ENOMEM_RETRIES &&
			    strstr(out, "Resource temporarily unavailable")) {
				__atomic_add_fetch(&eagain_retries, 1, __ATOMIC_RELAXED);
				nanosleep(&pause_20ms, NULL);
				continue;
			}
			if (!r || !opt.retry_enomem || i == ENOMEM_RETRIES ||
			    !strstr(out, "Cannot allocate memory"))
				return r;
			__atomic_add_fetch(&enomem_retries, 1, __ATOMIC_RELAXED);
			nanosleep(&pause_20ms, NULL);
		}
	}
	out[0] = 0;
	if (!strcmp(msg, "checkpoint")) {
		if (__atomic_load_n(&sim.primary, __ATOMIC_ACQUIRE)) {
			snprintf(out, outsz, "(simulated) checkpoint refused: primary mode");
			return 1;
		}
		memset(sim.abit, 0, nr_chunks);
		memset(sim.hbit, 0, nr_chunks);
		return 0;
	}
	if (!strcmp(msg, "failover")) {
		nanosleep(&spawn, NULL);
		r = sim_failover();
		nanosleep(&spawn, NULL);
		if (r)
			snprintf(out, outsz, "(simulated) failover refused: already primary");
		return r ? 1 : 0;
	}
	if (opt.mirror && !strncmp(msg, "mirror ", 7)) {
		nanosleep(&spawn, NULL);
		r = sim_mirror_message(msg, out, outsz);
		nanosleep(&spawn, NULL);
		return r;
	}
	snprintf(out, outsz, "(simulated) unknown message");
	return 1;
}

void dev_checkpoint(void)
{
	char out[4096];
	int ret;

	ret = dev_message("checkpoint", out, sizeof(out));
	if (ret && setup_phase)
		die_setup("dmsetup message %s 0 checkpoint: exit %d: %s",
			  opt.name, ret, out);
	if (ret)
		fail("dmsetup message %s 0 checkpoint: exit %d: %s", opt.name,
		     ret, out);
}

void dev_status(struct colo_status *st)
{
	char *argv[] = { "dmsetup", "status", (char *)opt.name, NULL };
	char *tok[64], *p, *save;
	uint64_t c;
	int n = 0, ret;

	memset(st, 0, sizeof(*st));
	if (opt.selftest) {
		bool primary = __atomic_load_n(&sim.primary, __ATOMIC_ACQUIRE);
		int cst = __atomic_load_n(&sim.commit_state, __ATOMIC_ACQUIRE);
		int mst = opt.mirror ? sim_mstate() : MIR_NONE;
		uint64_t left = 0;

		snprintf(st->mode, sizeof(st->mode), primary ? "primary" : "secondary");
		snprintf(st->ingress, sizeof(st->ingress), "attached");
		snprintf(st->commit, sizeof(st->commit), "%s", commit_state_name[cst]);
		st->chunk = opt.chunk;
		st->chunks = st->chunks2 = st->chunks3 = nr_chunks;
		for (c = 0; c < nr_chunks; c++) {
			st->active += __atomic_load_n(&sim.abit[c], __ATOMIC_RELAXED);
			st->hidden += __atomic_load_n(&sim.hbit[c], __ATOMIC_RELAXED);
			st->dirty += __atomic_load_n(&sim.dirty[c], __ATOMIC_RELAXED);
		}
		st->committed = __atomic_load_n(&sim.committed, __ATOMIC_RELAXED);
		st->to_commit = primary ? sim.to_commit : 0;
		st->commit_parsed = true;
		st->mirrored = opt.mirror ? __atomic_load_n(&sim.mirrored, __ATOMIC_RELAXED) : 0;
		if (mst == MIR_COPYING && __atomic_load_n(&sim.full_pass, __ATOMIC_ACQUIRE))
			left = nr_chunks - __atomic_load_n(&sim.cursor, __ATOMIC_ACQUIRE);
		else if (mst != MIR_NONE)
			left = st->dirty;
		st->to_mirror = st->mirrored + left;
		snprintf(st->mirror, sizeof(st->mirror), "%s", mir_state_name[mst]);
		st->mirror_parsed = true;
		if (opt.mirror)
			snprintf(st->ingress, sizeof(st->ingress), "none");
		st->ok = !__atomic_load_n(&sim.error, __ATOMIC_ACQUIRE);
		/* read last, as the kernel does */
		st->coverage = __atomic_load_n(&sim.needs_full, __ATOMIC_ACQUIRE) ?
			       COV_UNKNOWN : COV_COMPLETE;
		snprintf(st->line, sizeof(st->line),
			 "(simulated) 0 %" PRIu64 " colo %s %" PRIu64 " %" PRIu64 "/%" PRIu64 " %" PRIu64 "/%" PRIu64 " %s %" PRIu64 "/%" PRIu64 " %" PRIu64 "/%" PRIu64 " %s %" PRIu64 "/%" PRIu64 " %s %s %" PRIu64 " %s",
			 len_sectors, st->mode, opt.chunk, st->active, nr_chunks,
			 st->hidden, nr_chunks, st->commit, st->committed,
			 st->to_commit, st->dirty, nr_chunks, st->mirror,
			 st->mirrored, st->to_mirror, st->ingress,
			 st->ok ? "ok" : "error", 3 * ((nr_chunks + 7) / 8),
			 cov_name[st->coverage]);
		return;
	}
	ret = run_dmsetup(argv, st->line, sizeof(st->line));
	if (ret && setup_phase)
		die_setup("dmsetup status %s: exit %d: %s", opt.name, ret,
			  st->line);
	if (ret)
		fail("dmsetup status %s: exit %d: %s", opt.name, ret, st->line);
	st->line[strcspn(st->line, "\n")] = 0;
	p = strdup(st->line);
	if (!p)
		fail("out of memory");
	for (tok[n] = strtok_r(p, " \t", &save); tok[n] && n < 63;
	     tok[++n] = strtok_r(NULL, " \t", &save))
		;
	/*
	 * 0 <len> colo <mode> <chunk> <a>/<n> <h>/<n> <commit> <c>/<t>
	 * <dirty>/<n> <mirror> <m>/<t> <ingress> <health> [<bitmap_bytes>
	 * <dirty_coverage> ...]
	 * Fields are only ever appended, so each is found by position.
	 */
	if (n < 14 || strcmp(tok[2], "colo") ||
	    sscanf(tok[4], "%" SCNu64, &st->chunk) != 1 ||
	    sscanf(tok[5], "%" SCNu64 "/%" SCNu64, &st->active, &st->chunks) != 2 ||
	    sscanf(tok[6], "%" SCNu64 "/%" SCNu64, &st->hidden, &st->chunks2) != 2) {
		if (setup_phase)
			die_setup("cannot parse dmsetup status %s: '%s'",
				  opt.name, st->line);
		fail("cannot parse dmsetup status %s: '%s'", opt.name, st->line);
	}
	snprintf(st->mode, sizeof(st->mode), "%s", tok[3]);
	snprintf(st->ingress, sizeof(st->ingress), "%s", tok[12]);
	st->ok = !strcmp(tok[13], "ok");
	snprintf(st->commit, sizeof(st->commit), "%s", tok[7]);
	st->commit_parsed =
		sscanf(tok[8], "%" SCNu64 "/%" SCNu64, &st->committed, &st->to_commit) == 2 &&
		sscanf(tok[9], "%" SCNu64 "/%" SCNu64, &st->dirty, &st->chunks3) == 2;
	snprintf(st->mirror, sizeof(st->mirror), "%s", tok[10]);
	st->mirror_parsed = st->commit_parsed &&
		sscanf(tok[11], "%" SCNu64 "/%" SCNu64, &st->mirrored, &st->to_mirror) == 2;
	st->coverage = -1;
	if (n > 15 && !strcmp(tok[15], "complete"))
		st->coverage = COV_COMPLETE;
	else if (n > 15 && !strcmp(tok[15], "unknown"))
		st->coverage = COV_UNKNOWN;
	/* fields 23-25: <mirror_mode> <lag>/<max_lag> <ahead> (async mirror) */
	if (n > 24 &&
	    sscanf(tok[23], "%" SCNu64 "/%" SCNu64, &st->lag, &st->max_lag) == 2 &&
	    sscanf(tok[24], "%" SCNu64, &st->ahead) == 1)
		snprintf(st->mmode, sizeof(st->mmode), "%s", tok[22]);
	free(p);
	if (opt.mirror && !st->mirror_parsed && setup_phase)
		die_setup("cannot parse the dirty and mirror fields of dmsetup status %s: '%s'",
			  opt.name, st->line);
	if (opt.mirror && !st->mirror_parsed)
		fail("cannot parse the dirty and mirror fields of dmsetup status %s: '%s'",
		     opt.name, st->line);
	if (opt.mirror && st->coverage < 0 && setup_phase)
		die_setup("cannot parse the dirty_coverage field (16th word: complete|unknown) of dmsetup status %s: '%s'",
			  opt.name, st->line);
	if (opt.mirror && st->coverage < 0)
		fail("cannot parse the dirty_coverage field (16th word: complete|unknown) of dmsetup status %s: '%s'",
		     opt.name, st->line);
	if (opt.failover && !st->commit_parsed && setup_phase)
		die_setup("cannot parse the commit and dirty fields of dmsetup status %s: '%s'",
			  opt.name, st->line);
	if (opt.failover && !st->commit_parsed)
		fail("cannot parse the commit and dirty fields of dmsetup status %s: '%s'",
		     opt.name, st->line);
}

/*
 * With no op in flight, the status counts must agree with the model:
 * #(vm_wrote == 1) <= active <= #vm_wrote (equal but after failed writes,
 * --fault), #(in_wrote == 1 && !vm_wrote) <= hidden <= #in_wrote; health
 * ok until an I/O error was possible, error once one was seen (sticky).
 */
void verify_status(const char *when)
{
	uint64_t c, nvm = 0, nvm_sure = 0, nin = 0, nin_only = 0;
	int may = __atomic_load_n(&health_may_err, __ATOMIC_ACQUIRE);
	int must = __atomic_load_n(&health_must_err, __ATOMIC_ACQUIRE);
	struct colo_status st;

	dev_status(&st);
	for (c = 0; c < nr_chunks; c++) {
		nvm += vm_wrote[c] != 0;
		nvm_sure += vm_wrote[c] == 1;
		nin += in_wrote[c] != 0;
		nin_only += in_wrote[c] == 1 && !vm_wrote[c];
	}
	if (strcmp(st.mode, "secondary") || strcmp(st.ingress, "attached") ||
	    st.chunk != opt.chunk ||
	    st.chunks != nr_chunks || st.chunks2 != nr_chunks ||
	    (st.ok && must) || (!st.ok && !may) ||
	    st.active < nvm_sure || st.active > nvm ||
	    st.hidden < nin_only || st.hidden > nin)
		fail("status %s: got mode=%s ingress=%s chunk=%" PRIu64 " active=%" PRIu64 "/%" PRIu64 " hidden=%" PRIu64 "/%" PRIu64 " health=%s; "
		     "expected secondary attached chunk=%" PRIu64 " active in [%" PRIu64 ",%" PRIu64 "]/%" PRIu64 " hidden in [%" PRIu64 ",%" PRIu64 "]/%" PRIu64 " health=%s; status line: %s",
		     when, st.mode, st.ingress, st.chunk, st.active, st.chunks, st.hidden,
		     st.chunks2, st.ok ? "ok" : "error", opt.chunk, nvm_sure, nvm,
		     nr_chunks, nin_only, nin, nr_chunks,
		     must ? "error (an I/O failed: sticky)" : may ? "ok or error" : "ok (no fault yet)",
		     st.line);
}

void *alloc_io(uint64_t nsect)
{
	void *p;

	if (posix_memalign(&p, 4096, bytes(nsect)))
		die_setup("out of memory for I/O buffers");
	return p;
}

/* Read sectors [start, start+nsect) of d in big pieces and compare. */
void check_range(const char *what, enum dev_id d, const uint8_t *model,
		 uint64_t start, uint64_t nsect, uint8_t *buf)
{
	uint64_t s, n;

	for (s = start; s < start + nsect; s += n) {
		n = start + nsect - s < BIG_IO_SECTORS ? start + nsect - s : BIG_IO_SECTORS;
		dev_io(d, buf, s, n, false, 0);
		check_buf(what, d, bytes(s), model + bytes(s), buf, bytes(n));
	}
}

/* Replace dm device dm's table by table (suspend, load, resume); 0, else fills err. */
int dm_swap_try(const char *dm, const char *table, char *err, size_t errsz)
{
	char out[1024];
	char *sus[] = { "dmsetup", "suspend", (char *)dm, NULL };
	char *load[] = { "dmsetup", "load", (char *)dm, "--table", (char *)table, NULL };
	char *res[] = { "dmsetup", "resume", (char *)dm, NULL };
	int r;

	r = run_dmsetup(sus, out, sizeof(out));
	if (r) {
		snprintf(err, errsz, "dmsetup suspend %s: exit %d: %s", dm, r, out);
		return -1;
	}
	r = run_dmsetup(load, out, sizeof(out));
	if (r) {
		snprintf(err, errsz, "dmsetup load %s --table '%s': exit %d: %s",
			 dm, table, r, out);
		run_dmsetup(res, out, sizeof(out));	/* do not leave it suspended */
		return -1;
	}
	r = run_dmsetup(res, out, sizeof(out));
	if (r) {
		snprintf(err, errsz, "dmsetup resume %s: exit %d: %s", dm, r, out);
		return -1;
	}
	return 0;
}
