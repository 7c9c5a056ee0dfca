// SPDX-License-Identifier: GPL-2.0
/*
 * colo-crash: the guest side of the host-crash tests (scripts/crash.sh,
 * tests/crash-guest.sh). A workload writes known data to a colo device and
 * keeps a journal of what it did on another disk, until the host kills the
 * VM; in the next boot, with the same table loaded again, "check" reads the
 * device and holds every sector against the durability rule (SPEC.md,
 * Durability) computed from the journal.
 *
 *   colo-crash init FILE SECTORS            the initial data (stamp 0) of a
 *                                           base disk (run on the host)
 *   colo-crash setup JOURNAL VM INGRESS|- SEED a|b [NAME]
 *                                           the journal's header; for a, the
 *                                           secondary's writes before the
 *                                           kill window (VM and ingress
 *                                           writes, a checkpoint of NAME)
 *   colo-crash run JOURNAL VM SEED a|b [NAME]
 *                                           a: failover of NAME, then (a and
 *                                           b) writes and flushes until killed
 *   colo-crash check JOURNAL VM MODE        MODE: the recovered device's mode
 *   colo-crash cmp DEV1 DEV2                the two devices are equal
 *   colo-crash stamp0 DEV SECTORS           DEV's first SECTORS sectors hold
 *                                           the initial data
 *
 * Data: every 512-byte sector holds a magic, its own sector number, a stamp
 * (which write put it there: 0 for the initial data) and filler derived
 * from both, so a sector read back tells which write it comes from, or that
 * it is garbage.
 *
 * Journal: sector 0 a header (workload, seed, size), then one record a
 * sector, written with O_DIRECT before the op it describes is issued. The
 * ops run one at a time, so a record followed by another one is an op that
 * completed; the last record's op may or may not have been issued. The host
 * kills QEMU, so every write the guest saw complete is in the disk file (a
 * process crash): the journal needs no flush.
 *
 * The rule checked, per sector: the data of the newest write to it that is
 * durable (it completed before a flush that completed, or it was a FUA
 * write that completed), else its data before the run, or the data of any
 * later write to it (one that completed but was not flushed, or the last
 * one, in flight at the kill). Workload a: a completed failover makes the
 * VM's view at the failover durable (the setup's data); before it the
 * device may come back as a secondary, whose view is base.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define SECT 512
#define DATA_MAGIC 0x4b48435253434f4cULL	/* "LOCSRCHK" */
#define JNL_MAGIC 0x314c4e4a48535243ULL		/* "CRSHJNL1" */
#define REC_MAGIC 0x43455243u			/* "CREC" */
#define CHUNK 8					/* sectors: the tests' 4 KiB chunks */
#define MAX_OPS 200000

enum { OP_WRITE = 1, OP_FUA = 2, OP_FLUSH = 3, OP_FAILOVER = 4, OP_SLEEP = 5 };

struct jhdr {
	uint64_t magic, seed, sectors;
	uint32_t workload, setup_ops;
	uint64_t hash;
};

struct rec {
	uint32_t magic, idx;
	uint64_t seed;
	uint32_t type, nsect;
	uint64_t sector, stamp, hash;
};

static uint64_t fnv(const void *p, size_t n)
{
	const unsigned char *c = p;
	uint64_t h = 0xcbf29ce484222325ULL;

	while (n--)
		h = (h ^ *c++) * 0x100000001b3ULL;
	return h;
}

static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static uint64_t rng_state;
static uint64_t rnd(void)
{
	rng_state += 0x9e3779b97f4a7c15ULL;
	return mix(rng_state);
}
static uint64_t rndn(uint64_t n) { return n ? rnd() % n : 0; }

static void die(const char *what)
{
	printf("not ok - colo-crash: %s: %s\n", what, strerror(errno));
	fflush(stdout);
	exit(1);
}

static void *abuf(size_t n)
{
	void *p;

	if (posix_memalign(&p, 4096, n))
		die("memory");
	memset(p, 0, n);
	return p;
}

static void fill_sector(uint64_t *w, uint64_t sector, uint64_t stamp)
{
	uint64_t x = mix(stamp * 0x2545f4914f6cdd1dULL ^ sector);
	int i;

	w[0] = DATA_MAGIC;
	w[1] = sector;
	w[2] = stamp;
	for (i = 3; i < SECT / 8; i++) {
		x = mix(x);
		w[i] = x;
	}
}

/* The stamp of a sector read back, or -1 for garbage. */
static int64_t sector_stamp(const uint64_t *w, uint64_t sector)
{
	uint64_t want[SECT / 8];

	if (w[0] != DATA_MAGIC || w[1] != sector)
		return -1;
	fill_sector(want, sector, w[2]);
	return memcmp(w, want, SECT) ? -1 : (int64_t)w[2];
}

static uint64_t dev_sectors(int fd)
{
	struct stat st;
	uint64_t b;

	if (fstat(fd, &st))
		die("stat");
	if (S_ISREG(st.st_mode))
		return st.st_size / SECT;
	if (ioctl(fd, BLKGETSIZE64, &b))
		die("BLKGETSIZE64");
	return b / SECT;
}

/* Stamps: 0 the initial data; then the run's seed and the op's number. */
static uint64_t stamp_of(uint64_t seed, uint32_t n) { return ((seed | 1) << 32) | n; }

/* --- the ops -------------------------------------------------------------- */

struct op {
	int type;		/* OP_*, or 'V' 'I' 'C' in the setup */
	uint64_t sector;
	uint32_t nsect;
	uint64_t stamp;
};

/* A write's range: whole chunks (1 to 4) or any sectors (1 to 24). */
static void pick_range(struct op *o, uint64_t sectors, const uint64_t *hot, int nhot)
{
	uint64_t c;

	if (nhot && rndn(2))
		c = hot[rndn(nhot)];
	else
		c = rndn(sectors / CHUNK);
	if (rndn(3)) {
		o->sector = c * CHUNK;
		o->nsect = CHUNK * (1 + rndn(4));
	} else {
		o->sector = c * CHUNK + rndn(CHUNK);
		o->nsect = 1 + rndn(24);
	}
	if (o->sector + o->nsect > sectors)
		o->nsect = sectors - o->sector;
}

/*
 * Workload a's setup, from the seed: VM and ingress writes, a checkpoint,
 * VM and ingress writes. Returns the number of ops; *hot gets the chunks of
 * the last overlay (the commit's), which the run writes to half the time.
 */
static int setup_ops(uint64_t seed, uint64_t sectors, struct op **ops, uint64_t **hot, int *nhot)
{
	int n = 0, i, phase, count;
	struct op *o = calloc(1200, sizeof(*o));
	uint64_t *h = calloc(1200, sizeof(*h));

	if (!o || !h)
		die("memory");
	rng_state = seed * 7 + 1;
	*nhot = 0;
	for (phase = 0; phase < 2; phase++) {
		count = phase ? 200 + rndn(300) : 20 + rndn(80);
		for (i = 0; i < count; i++) {
			o[n].type = rndn(2) ? 'V' : 'I';
			pick_range(&o[n], sectors, NULL, 0);
			o[n].stamp = stamp_of(seed, n + 1);
			if (phase)
				h[(*nhot)++] = o[n].sector / CHUNK;
			n++;
		}
		if (!phase)
			o[n++].type = 'C';
	}
	*ops = o;
	*hot = h;
	return n;
}

static void do_write(int fd, uint64_t sector, uint32_t nsect, uint64_t stamp, int fua)
{
	uint64_t *buf = abuf((size_t)nsect * SECT);
	struct iovec iov = { buf, (size_t)nsect * SECT };
	uint32_t i;
	ssize_t r;

	for (i = 0; i < nsect; i++)
		fill_sector(buf + i * (SECT / 8), sector + i, stamp);
	r = pwritev2(fd, &iov, 1, sector * SECT, fua ? RWF_DSYNC : 0);
	if (r != (ssize_t)iov.iov_len)
		die("write");
	free(buf);
}

/* --- the journal ---------------------------------------------------------- */

static int jfd;
static uint64_t *jbuf;

static void jwrite(uint64_t sector, const void *p, size_t n)
{
	memset(jbuf, 0, SECT);
	memcpy(jbuf, p, n);
	if (pwrite(jfd, jbuf, SECT, sector * SECT) != SECT)
		die("journal write");
}

static void journal(uint32_t idx, uint64_t seed, const struct op *o)
{
	struct rec r = { REC_MAGIC, idx, seed, o->type, o->nsect, o->sector, o->stamp, 0 };

	r.hash = fnv(&r, offsetof(struct rec, hash));
	jwrite(1 + idx, &r, sizeof(r));
}

static int dopen(const char *path, int flags)
{
	int fd = open(path, flags | O_DIRECT);

	if (fd < 0)
		die(path);
	return fd;
}

static void dmsg(const char *name, const char *msg)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "dmsetup message %s 0 %s", name, msg);
	if (system(cmd)) {
		errno = EIO;
		die(cmd);
	}
}

static int cmd_setup(char **av)
{
	uint64_t seed = strtoull(av[3], NULL, 0), sectors, *hot;
	int vfd = dopen(av[1], O_RDWR), ifd = -1, n = 0, i, nhot;
	struct jhdr h = { JNL_MAGIC, seed, 0, av[4][0], 0, 0 };
	const char *name = av[5] ? av[5] : "c";
	struct op *ops;

	jfd = dopen(av[0], O_RDWR);
	jbuf = abuf(SECT);
	sectors = dev_sectors(vfd);
	if (av[4][0] == 'a') {
		ifd = dopen(av[2], O_RDWR);
		n = setup_ops(seed, sectors, &ops, &hot, &nhot);
		for (i = 0; i < n; i++) {
			if (ops[i].type == 'C')
				dmsg(name, "checkpoint");
			else
				do_write(ops[i].type == 'V' ? vfd : ifd, ops[i].sector,
					 ops[i].nsect, ops[i].stamp, 0);
		}
	}
	h.sectors = sectors;
	h.setup_ops = n;
	h.hash = fnv(&h, offsetof(struct jhdr, hash));
	jwrite(0, &h, sizeof(h));
	printf("# setup %c: %d ops, %d chunks in the overlay's last epoch\n",
	       av[4][0], n, n ? nhot : 0);
	return 0;
}

static int cmd_run(char **av)
{
	uint64_t seed = strtoull(av[2], NULL, 0), sectors, *hot = NULL;
	int vfd = dopen(av[1], O_RDWR), a = av[3][0] == 'a', nhot = 0;
	const char *name = av[4] ? av[4] : "c";
	struct op o, *sops;
	uint32_t idx = 0, max = MAX_OPS;
	struct timespec ts;

	jfd = dopen(av[0], O_RDWR);
	jbuf = abuf(SECT);
	sectors = dev_sectors(vfd);
	if (dev_sectors(jfd) - 1 < max)
		max = dev_sectors(jfd) - 1;
	if (a)
		setup_ops(seed, sectors, &sops, &hot, &nhot);
	rng_state = seed * 13 + 5;
	if (a) {
		memset(&o, 0, sizeof(o));
		o.type = OP_FAILOVER;
		journal(idx++, seed, &o);
		dmsg(name, "failover");
	}
	while (idx < max) {
		uint64_t r = rndn(100);

		memset(&o, 0, sizeof(o));
		if (r < 15) {
			o.type = OP_FLUSH;
		} else if (!a && r < 16) {
			o.type = OP_SLEEP;	/* a pause (ms in nsect) */
			o.nsect = 100 + rndn(500);
		} else {
			o.type = r < 25 ? OP_FUA : OP_WRITE;
			pick_range(&o, sectors, hot, nhot);
			o.stamp = stamp_of(seed, 0x80000000u | idx);
		}
		journal(idx++, seed, &o);
		if (o.type == OP_FLUSH) {
			if (fdatasync(vfd))
				die("flush");
		} else if (o.type == OP_SLEEP) {
			ts.tv_sec = o.nsect / 1000;
			ts.tv_nsec = (o.nsect % 1000) * 1000000L;
			nanosleep(&ts, NULL);
		} else {
			do_write(vfd, o.sector, o.nsect, o.stamp, o.type == OP_FUA);
		}
	}
	pause();
	return 0;
}

/* --- the check ------------------------------------------------------------ */

struct allowed {
	uint64_t dur;		/* the durable stamp */
	uint64_t *later;	/* stamps of the writes after it */
	int n;
};

static void allow(struct allowed *a, uint64_t s, uint32_t n, uint64_t stamp, int durable)
{
	uint32_t i;

	for (i = 0; i < n; i++, s++) {
		if (durable) {
			a[s].dur = stamp;
			a[s].n = 0;
			continue;
		}
		a[s].later = realloc(a[s].later, (a[s].n + 1) * sizeof(uint64_t));
		if (!a[s].later)
			die("memory");
		a[s].later[a[s].n++] = stamp;
	}
}

static const char *who(uint64_t stamp, uint32_t setup)
{
	static char b[64];
	uint32_t n = stamp & 0xffffffffu;

	if (!stamp)
		return "initial data";
	if (n & 0x80000000u)
		snprintf(b, sizeof(b), "run op %u", n & 0x7fffffffu);
	else if (n <= setup)
		snprintf(b, sizeof(b), "setup op %u", n - 1);
	else
		snprintf(b, sizeof(b), "stamp %#llx", (unsigned long long)stamp);
	return b;
}

static int cmd_check(char **av)
{
	int vfd = dopen(av[1], O_RDONLY), primary = !strcmp(av[2], "primary");
	uint64_t sectors, s, i, *buf, *base = NULL, *view = NULL, *hot;
	int m, f = -1, nhot, nops = 0, bad = 0, reverted = 0, newer = 0, k, j;
	struct rec *recs = calloc(MAX_OPS, sizeof(*recs));
	struct allowed *al;
	struct op *ops = NULL;
	struct jhdr h;
	const size_t io = 1 << 20;

	jfd = dopen(av[0], O_RDONLY);
	jbuf = abuf(io);
	if (pread(jfd, jbuf, SECT, 0) != SECT)
		die("journal read");
	memcpy(&h, jbuf, sizeof(h));
	if (h.magic != JNL_MAGIC || h.hash != fnv(&h, offsetof(struct jhdr, hash))) {
		printf("not ok - check: no journal header (the setup did not finish)\n");
		return 1;
	}
	sectors = dev_sectors(vfd);
	if (sectors != h.sectors) {
		printf("not ok - check: %llu sectors, the journal says %llu\n",
		       (unsigned long long)sectors, (unsigned long long)h.sectors);
		return 1;
	}
	/* The records: the valid prefix. */
	for (m = 0; m < MAX_OPS; ) {
		size_t n = io / SECT, r;

		if (pread(jfd, jbuf, io, (uint64_t)(1 + m) * SECT) <= 0)
			break;
		for (r = 0; r < n && m < MAX_OPS; r++, m++) {
			memcpy(&recs[m], (char *)jbuf + r * SECT, sizeof(struct rec));
			if (recs[m].magic != REC_MAGIC || recs[m].idx != (uint32_t)m ||
			    recs[m].seed != h.seed ||
			    recs[m].hash != fnv(&recs[m], offsetof(struct rec, hash)))
				goto records_done;
		}
	}
records_done:
	m--;		/* the last record's index, -1 for none */
	for (k = 0; k < m; k++)
		if (recs[k].type == OP_FLUSH)
			f = k;
	al = calloc(sectors, sizeof(*al));
	if (!al)
		die("memory");
	if (h.workload == 'a') {
		nops = setup_ops(h.seed, sectors, &ops, &hot, &nhot);
		base = calloc(sectors, 8);
		view = calloc(sectors, 8);
		for (k = 0; k < nops; k++) {
			if (ops[k].type == 'C') {
				memcpy(view, base, sectors * 8);
				continue;
			}
			for (i = 0; i < ops[k].nsect; i++) {
				if (ops[k].type == 'I')
					base[ops[k].sector + i] = ops[k].stamp;
				else
					view[ops[k].sector + i] = ops[k].stamp;
			}
		}
		if (m >= 0 && recs[0].type != OP_FAILOVER) {
			printf("not ok - check: the run did not start with a failover\n");
			return 1;
		}
		if (!primary && m >= 1) {
			printf("not ok - check: secondary after a failover that completed\n");
			return 1;
		}
		if (primary && m < 0) {
			printf("not ok - check: primary, but no failover was sent\n");
			return 1;
		}
		for (s = 0; s < sectors; s++)
			al[s].dur = primary ? view[s] : base[s];
	} else if (!primary) {
		printf("not ok - check: workload b came back %s\n", av[2]);
		return 1;
	}
	/* In secondary mode no VM write after the setup can show. */
	for (k = 0; primary && k <= m; k++) {
		struct rec *r = &recs[k];

		if (r->type != OP_WRITE && r->type != OP_FUA)
			continue;
		if (r->sector + r->nsect > sectors) {
			printf("not ok - check: record %d out of range\n", k);
			return 1;
		}
		allow(al, r->sector, r->nsect, r->stamp,
		      k < f || (r->type == OP_FUA && k < m));
	}
	buf = jbuf;
	for (s = 0; s < sectors; s += io / SECT) {
		uint64_t n = sectors - s < io / SECT ? sectors - s : io / SECT;

		if (pread(vfd, buf, n * SECT, s * SECT) != (ssize_t)(n * SECT))
			die("read");
		for (i = 0; i < n; i++) {
			uint64_t sec = s + i;
			int64_t st = sector_stamp(buf + i * (SECT / 8), sec);
			int ok = st >= 0 && (uint64_t)st == al[sec].dur;

			for (j = 0; !ok && st >= 0 && j < al[sec].n; j++)
				ok = (uint64_t)st == al[sec].later[j];
			if (ok && al[sec].n) {
				if ((uint64_t)st == al[sec].later[al[sec].n - 1])
					newer++;
				else if ((uint64_t)st == al[sec].dur)
					reverted++;
			}
			if (ok)
				continue;
			if (bad++ < 10) {
				printf("# sector %llu (chunk %llu): %s, ",
				       (unsigned long long)sec, (unsigned long long)sec / CHUNK,
				       st < 0 ? "garbage" : who(st, nops));
				printf("expected %s", who(al[sec].dur, nops));
				for (j = 0; j < al[sec].n; j++)
					printf(" or %s", who(al[sec].later[j], nops));
				printf("\n");
			}
		}
	}
	printf("# check %c, %s: %d records, last completed flush at record %d; "
	       "sectors with unflushed writes: %d at the newest, %d at the durable data\n",
	       (int)h.workload, av[2], m + 1, f, newer, reverted);
	if (bad) {
		printf("not ok - check: %d sectors break the durability rule\n", bad);
		return 1;
	}
	printf("ok - check: every sector as the durability rule allows\n");
	return 0;
}

static int cmd_cmp(char **av)
{
	int a = dopen(av[0], O_RDONLY), b = dopen(av[1], O_RDONLY), diff = 0;
	const size_t io = 1 << 20;
	char *x = abuf(io), *y = abuf(io);
	uint64_t sectors = dev_sectors(a), s, n, i, first = 0;

	if (dev_sectors(b) < sectors)
		sectors = dev_sectors(b);
	for (s = 0; s < sectors; s += n) {
		n = sectors - s < io / SECT ? sectors - s : io / SECT;
		if (pread(a, x, n * SECT, s * SECT) != (ssize_t)(n * SECT) ||
		    pread(b, y, n * SECT, s * SECT) != (ssize_t)(n * SECT))
			die("read");
		for (i = 0; i < n; i++)
			if (memcmp(x + i * SECT, y + i * SECT, SECT) && !diff++)
				first = s + i;
	}
	if (diff)
		printf("# %d sectors differ, the first at %llu\n", diff,
		       (unsigned long long)first);
	return !!diff;
}

/* stamp0 DEV SECTORS: the first SECTORS sectors of DEV hold stamp 0. */
static int cmd_stamp0(char **av)
{
	int fd = dopen(av[0], O_RDONLY), diff = 0;
	uint64_t sectors = strtoull(av[1], NULL, 0), s, n, i, first = 0;
	const size_t io = 1 << 20;
	uint64_t *x = abuf(io), *want = abuf(SECT);

	if (dev_sectors(fd) < sectors)
		die("stamp0: device too small");
	for (s = 0; s < sectors; s += n) {
		n = sectors - s < io / SECT ? sectors - s : io / SECT;
		if (pread(fd, x, n * SECT, s * SECT) != (ssize_t)(n * SECT))
			die("read");
		for (i = 0; i < n; i++) {
			fill_sector(want, s + i, 0);
			if (memcmp(x + i * (SECT / 8), want, SECT) && !diff++)
				first = s + i;
		}
	}
	if (diff)
		printf("# %d sectors differ from stamp 0, the first at %llu\n",
		       diff, (unsigned long long)first);
	return !!diff;
}

static int cmd_init(char **av)
{
	uint64_t sectors = strtoull(av[1], NULL, 0), s;
	uint64_t *buf = abuf(1 << 20);
	int fd = open(av[0], O_WRONLY | O_CREAT | O_TRUNC, 0644);
	FILE *out = fd < 0 ? NULL : fdopen(fd, "w");

	if (!out)
		die(av[0]);
	for (s = 0; s < sectors; s++) {
		fill_sector(buf, s, 0);
		if (fwrite(buf, SECT, 1, out) != 1)
			die("write");
	}
	if (fclose(out))
		die("close");
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 4 && !strcmp(argv[1], "init"))
		return cmd_init(argv + 2);
	if (argc >= 7 && !strcmp(argv[1], "setup"))
		return cmd_setup(argv + 2);
	if (argc >= 6 && !strcmp(argv[1], "run"))
		return cmd_run(argv + 2);
	if (argc >= 5 && !strcmp(argv[1], "check"))
		return cmd_check(argv + 2);
	if (argc >= 4 && !strcmp(argv[1], "cmp"))
		return cmd_cmp(argv + 2);
	if (argc >= 4 && !strcmp(argv[1], "stamp0"))
		return cmd_stamp0(argv + 2);
	fprintf(stderr, "usage: colo-crash init FILE SECTORS | setup JOURNAL VM INGRESS|- SEED a|b [NAME] |\n"
		"       run JOURNAL VM SEED a|b [NAME] | check JOURNAL VM MODE | cmp DEV1 DEV2 |\n"
		"       stamp0 DEV SECTORS\n");
	return 2;
}
