// SPDX-License-Identifier: GPL-2.0
/*
 * colo-logreplay: list and replay a dm-log-writes log (the format of the
 * kernel's drivers/md/dm-log-writes.c and log-writes.rst).
 *
 *   colo-logreplay --log LOG --list     "index sector nr_sectors flags" per
 *                  entry (FLUSH,FUA,DISCARD,META,MARK=name; - for none),
 *                  then "N entries (sector size S bytes)"
 *   colo-logreplay --log LOG --marks|--flushes|--count
 *                  "index name" per mark | the index of each flush entry |
 *                  the number of entries
 *   colo-logreplay --log LOG --data N
 *                  entry N's data (nr_sectors sectors; nothing for a
 *                  flush, a mark or a discard) on stdout
 *   colo-logreplay --log LOG --replay DEV [--limit N | --mark NAME]
 *                  [--zero-discards | --skip-discards]
 *                  write entries 0..N-1 (through the first mark NAME; all
 *                  by default) onto DEV; prints "replayed N entries"
 *
 * The log: a super block (magic, version 1, nr_entries, sectorsize) in its
 * first sectorsize bytes, then the entries: a sectorsize block (sector,
 * nr_sectors, flags, data_len; a mark's name after them) and, unless a
 * discard, nr_sectors of data. Sectors are sectorsize units (the data
 * device's logical block size), in --list too. The super, whose
 * nr_entries is what is read, is rewritten only after a FUA entry or a
 * mark, last after the "dm-log-writes-end" mark logged when the target is
 * removed: read the log once the target is gone.
 *
 * Replay writes each entry's data at its sector of DEV (O_DIRECT on a block
 * device); a flush entry is an fsync of DEV before its data (a PREFLUSH
 * comes first), a FUA entry one after, and one ends the replay. Discards
 * are written as zeros by default (--zero-discards): what a discarded range
 * reads back depends on the device (over brd, or null_blk without discard,
 * the target logs the discard but the data stays), so zeros make a replay
 * the same on every DEV and expose a reader that relies on discarded data;
 * --skip-discards leaves those ranges as DEV has them. The whole log is
 * checked (format, truncation, each replayed entry inside DEV) before the
 * first write: a bad log writes nothing.
 *
 * What a replayed prefix means. The target logs a write once it is known
 * to be on stable media: a completed write waits on a list; a flush takes
 * the writes on it when issued and, once complete, logs them (in
 * completion order), then itself. A FUA write is logged when it completes, a discard
 * like a write, a mark when its message arrives; writes still waiting at
 * removal are logged then. So entries 0..N-1 replayed onto what the data
 * device held when logging began give a state a power loss just after
 * entry N-1 could leave: every flush among them done, with all it made
 * durable, and of the writes completed but not flushed, none (the worst
 * case) or, for a cut inside the writes logged before a flush, the first
 * of them in completion order. One possible state, not every one (a
 * volatile cache may keep any subset of unflushed writes). A cut just after
 * a flush entry is what that flush guaranteed; --mark NAME is what was
 * durable when the mark was sent (a write completed but not yet flushed
 * then is logged after the mark).
 *
 * Exit status: 0 done, 1 an error (bad or truncated log, an entry beyond
 * DEV, an I/O error), 2 usage.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

typedef unsigned long long u64;

#define LOG_FLUSH_FLAG		(1 << 0)
#define LOG_FUA_FLAG		(1 << 1)
#define LOG_DISCARD_FLAG	(1 << 2)
#define LOG_MARK_FLAG		(1 << 3)
#define LOG_METADATA_FLAG	(1 << 4)
#define LOG_KNOWN_FLAGS		0x1fULL
#define WRITE_LOG_VERSION	1ULL
#define WRITE_LOG_MAGIC		0x6a736677736872ULL
#define ENTRY_LEN		32		/* struct log_write_entry */
#define CHUNK			(1 << 20)	/* bytes per read and write */

struct dev {
	const char *path;
	int fd;
	u64 size;		/* bytes */
	unsigned int lbs;	/* alignment of its I/O (O_DIRECT) */
};

struct entry {
	u64 sector, nr, flags;
	u64 data_off;		/* byte offset of its data in the log */
	char *mark;		/* a mark's name, else NULL */
};

struct log {
	struct dev dev;
	unsigned int ss;	/* sectorsize */
	u64 nr;
	struct entry *e;
	char *bounce;		/* CHUNK + 2 * lbs bytes, aligned */
};

/* A message on stderr; -1 */
#define fail(fmt, ...) \
	(fprintf(stderr, "colo-logreplay: " fmt "\n", ##__VA_ARGS__), -1)

enum action { NONE, LIST, MARKS, FLUSHES, COUNT, REPLAY, DATA };

struct opts {
	enum action action;
	const char *log, *dev, *mark;
	long long limit;	/* -1: none */
	long long entry;	/* --data */
	int zero_discards;
};

static void *alloc_aligned(size_t len)
{
	void *p;

	if (posix_memalign(&p, 4096, len))
		return NULL;
	return memset(p, 0, len);
}

static u64 get_le(const char *p, size_t len)
{
	u64 v = 0;

	memcpy(&v, p, len);
	return le64toh(v);
}

/*
 * A block device is opened O_DIRECT (its page cache may be stale: the
 * target writes the log with bios), a file buffered.
 */
static int dev_open(struct dev *d, const char *path, int flags)
{
	struct stat st;
	int lbs = 1;

	d->path = path;
	if (stat(path, &st))
		return fail("%s: %s", path, strerror(errno));
	d->fd = open(path, flags | (S_ISBLK(st.st_mode) ? O_DIRECT : 0));
	if (d->fd < 0)
		return fail("%s: %s", path, strerror(errno));
	d->size = st.st_size;
	if (S_ISBLK(st.st_mode) && (ioctl(d->fd, BLKGETSIZE64, &d->size) ||
				    ioctl(d->fd, BLKSSZGET, &lbs)))
		return fail("%s: %s", path, strerror(errno));
	d->lbs = lbs;
	return 0;
}

/* len (at most CHUNK) bytes of the log at off, through the bounce buffer */
static int log_read(struct log *l, u64 off, void *buf, size_t len)
{
	u64 start = off / l->dev.lbs * l->dev.lbs;
	u64 end = (off + len + l->dev.lbs - 1) / l->dev.lbs * l->dev.lbs;
	ssize_t n = pread(l->dev.fd, l->bounce, end - start, start);

	if (n < 0)
		return fail("%s: read at byte %llu: %s", l->dev.path, start,
			    strerror(errno));
	if ((u64)n < off + len - start)
		return fail("%s: truncated log: bytes %llu-%llu are beyond its end",
			    l->dev.path, off, off + len - 1);
	memcpy(buf, l->bounce + (off - start), len);
	return 0;
}

/* struct log_write_super: magic, version, nr_entries (le64), sectorsize (le32) */
static int read_super(struct log *l)
{
	char s[28];

	if (log_read(l, 0, s, sizeof(s)))
		return -1;
	if (get_le(s, 8) != WRITE_LOG_MAGIC)
		return fail("%s: bad magic %#llx: not a dm-log-writes log",
			    l->dev.path, get_le(s, 8));
	if (get_le(s + 8, 8) != WRITE_LOG_VERSION)
		return fail("%s: unsupported log version %llu", l->dev.path,
			    get_le(s + 8, 8));
	l->nr = get_le(s + 16, 8);
	l->ss = get_le(s + 24, 4);
	if (l->ss < 512 || l->ss > CHUNK || (l->ss & (l->ss - 1)))
		return fail("%s: bad sector size %u", l->dev.path, l->ss);
	if (l->dev.size < l->ss || l->nr > l->dev.size / l->ss - 1)
		return fail("%s: truncated log: %llu entries do not fit in its %llu bytes",
			    l->dev.path, l->nr, l->dev.size);
	return 0;
}

/* Entry i, whose block is at *off; *off moves past its data. */
static int read_entry(struct log *l, u64 i, u64 *off, char *blk)
{
	struct entry *e = &l->e[i];
	u64 len, data;

	if (*off > l->dev.size - l->ss)
		return fail("%s: truncated log: entry %llu (byte %llu) is beyond its end",
			    l->dev.path, i, *off);
	if (log_read(l, *off, blk, l->ss))
		return -1;
	e->sector = get_le(blk, 8);
	e->nr = get_le(blk + 8, 8);
	e->flags = get_le(blk + 16, 8);
	len = get_le(blk + 24, 8);
	e->data_off = *off + l->ss;
	data = e->flags & LOG_DISCARD_FLAG ? 0 : e->nr;
	if (e->flags & ~LOG_KNOWN_FLAGS)
		return fail("%s: entry %llu: unknown flags %#llx", l->dev.path,
			    i, e->flags);
	if (e->flags & LOG_MARK_FLAG) {
		if (e->nr || len > l->ss - ENTRY_LEN)
			return fail("%s: entry %llu: bad mark", l->dev.path, i);
		e->mark = strndup(blk + ENTRY_LEN, len);
	} else if (len) {
		return fail("%s: entry %llu: inline data is not supported",
			    l->dev.path, i);
	} else if (!e->nr && !(e->flags & LOG_FLUSH_FLAG)) {
		return fail("%s: entry %llu: empty (corrupt log)", l->dev.path, i);
	}
	if (data > (l->dev.size - e->data_off) / l->ss)
		return fail("%s: truncated log: the %llu sectors of entry %llu end beyond its end (%llu bytes)",
			    l->dev.path, data, i, l->dev.size);
	*off = e->data_off + data * l->ss;
	return 0;
}

/* Open LOG, check its super and every entry, keep the entries. */
static int log_open(struct log *l, const char *path)
{
	u64 i, off;
	char *blk;

	if (dev_open(&l->dev, path, O_RDONLY))
		return -1;
	l->bounce = alloc_aligned(CHUNK + 2 * l->dev.lbs);
	if (!l->bounce)
		return fail("out of memory");
	if (read_super(l))
		return -1;
	l->e = calloc(l->nr + 1, sizeof(*l->e));
	blk = malloc(l->ss);
	if (!l->e || !blk)
		return fail("out of memory");
	off = l->ss;
	for (i = 0; i < l->nr; i++)
		if (read_entry(l, i, &off, blk))
			return -1;
	free(blk);
	return 0;
}

static void print_flags(const struct entry *e)
{
	static const char * const names[] = { "FLUSH", "FUA", "DISCARD", "MARK", "META" };
	const char *sep = "";
	int b;

	for (b = 0; b < 5; b++) {
		if (!(e->flags & (1 << b)))
			continue;
		printf("%s%s", sep, names[b]);
		if (b == 3)
			printf("=%s", e->mark);
		sep = ",";
	}
	printf("%s\n", *sep ? "" : "-");
}

static void print_log(const struct log *l, enum action a)
{
	u64 i;

	for (i = 0; i < l->nr; i++) {
		const struct entry *e = &l->e[i];

		if (a == LIST) {
			printf("%llu %llu %llu ", i, e->sector, e->nr);
			print_flags(e);
		} else if (a == MARKS && e->mark) {
			printf("%llu %s\n", i, e->mark);
		} else if (a == FLUSHES && (e->flags & LOG_FLUSH_FLAG)) {
			printf("%llu\n", i);
		}
	}
	if (a == LIST)
		printf("%llu entries (sector size %u bytes)\n", l->nr, l->ss);
	else if (a == COUNT)
		printf("%llu\n", l->nr);
}

/* How many entries to replay: --limit, through --mark, or all. */
static long long replay_count(const struct log *l, const struct opts *o)
{
	u64 i;

	if (o->mark) {
		for (i = 0; i < l->nr; i++)
			if (l->e[i].mark && !strcmp(l->e[i].mark, o->mark))
				return i + 1;
		return fail("%s: no mark \"%s\"", l->dev.path, o->mark);
	}
	if (o->limit < 0)
		return l->nr;
	if ((u64)o->limit > l->nr)
		return fail("--limit %lld: the log has %llu entries", o->limit, l->nr);
	return o->limit;
}

/* Every entry of the n to replay lies inside DEV, at DEV's alignment. */
static int check_fit(const struct log *l, u64 n, const struct dev *d)
{
	u64 i, secs = d->size / l->ss;

	if (l->ss % d->lbs)
		return fail("%s: its logical block size %u is larger than the log's sectors (%u)",
			    d->path, d->lbs, l->ss);
	for (i = 0; i < n; i++) {
		const struct entry *e = &l->e[i];

		if (e->sector > secs || e->nr > secs - e->sector)
			return fail("entry %llu (sector %llu, %llu sectors of %u bytes) is beyond the end of %s (%llu bytes)",
				    i, e->sector, e->nr, l->ss, d->path, d->size);
	}
	return 0;
}

/* len bytes to DEV at off: the log's at from, or zeros when zero is set */
static int copy_range(struct log *l, const struct dev *d, char *buf,
		      u64 from, u64 off, u64 len, int zero)
{
	ssize_t n, w;

	if (zero)
		memset(buf, 0, CHUNK);
	for (; len; from += n, off += n, len -= n) {
		n = len < CHUNK ? len : CHUNK;
		if (!zero && log_read(l, from, buf, n))
			return -1;
		w = pwrite(d->fd, buf, n, off);
		if (w != n)
			return fail("%s: write at byte %llu: %s", d->path, off,
				    w < 0 ? strerror(errno) : "short write");
	}
	return 0;
}

static int dev_flush(const struct dev *d)
{
	if (fsync(d->fd))
		return fail("%s: fsync: %s", d->path, strerror(errno));
	return 0;
}

static int replay_entry(struct log *l, const struct dev *d, char *buf,
			const struct entry *e, int zero_discards)
{
	int discard = !!(e->flags & LOG_DISCARD_FLAG);

	if ((e->flags & LOG_FLUSH_FLAG) && dev_flush(d))
		return -1;
	if (e->nr && (!discard || zero_discards) &&
	    copy_range(l, d, buf, e->data_off, e->sector * l->ss, e->nr * l->ss, discard))
		return -1;
	if ((e->flags & LOG_FUA_FLAG) && dev_flush(d))
		return -1;
	return 0;
}

static int replay(struct log *l, const struct opts *o)
{
	long long n = replay_count(l, o), i;
	struct dev d;
	char *buf;

	if (n < 0 || dev_open(&d, o->dev, O_WRONLY) || check_fit(l, n, &d))
		return -1;
	buf = alloc_aligned(CHUNK);
	if (!buf)
		return fail("out of memory");
	for (i = 0; i < n; i++)
		if (replay_entry(l, &d, buf, &l->e[i], o->zero_discards))
			return -1;
	if (dev_flush(&d))
		return -1;
	printf("replayed %lld entries\n", n);
	return 0;
}

/* Entry o->entry's data on stdout. */
static int print_data(struct log *l, const struct opts *o)
{
	const struct entry *e;
	u64 off, len, n;
	char *buf;

	if ((u64)o->entry >= l->nr)
		return fail("--data %lld: the log has %llu entries", o->entry, l->nr);
	e = &l->e[o->entry];
	if (e->flags & LOG_DISCARD_FLAG)
		return 0;
	buf = malloc(CHUNK);
	if (!buf)
		return fail("out of memory");
	for (off = e->data_off, len = e->nr * l->ss; len; off += n, len -= n) {
		n = len < CHUNK ? len : CHUNK;
		if (log_read(l, off, buf, n))
			return -1;
		if (fwrite(buf, 1, n, stdout) != n)
			return fail("stdout: %s", strerror(errno));
	}
	free(buf);
	return fflush(stdout) ? fail("stdout: %s", strerror(errno)) : 0;
}

static void bad_usage(void)
{
	fprintf(stderr,
		"usage: colo-logreplay --log LOG --list|--marks|--flushes|--count\n"
		"       colo-logreplay --log LOG --data N\n"
		"       colo-logreplay --log LOG --replay DEV [--limit N | --mark NAME]\n"
		"                      [--zero-discards | --skip-discards]\n");
	exit(2);
}

static void parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option lopts[] = {
		{ "list", no_argument, NULL, LIST },
		{ "marks", no_argument, NULL, MARKS },
		{ "flushes", no_argument, NULL, FLUSHES },
		{ "count", no_argument, NULL, COUNT },
		{ "replay", required_argument, NULL, REPLAY },
		{ "data", required_argument, NULL, DATA },
		{ "log", required_argument, NULL, 'L' },
		{ "limit", required_argument, NULL, 'n' },
		{ "mark", required_argument, NULL, 'm' },
		{ "zero-discards", no_argument, NULL, 'z' },
		{ "skip-discards", no_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 }
	};
	char *end;
	int c;

	*o = (struct opts){ .limit = -1, .zero_discards = 1 };
	while ((c = getopt_long(argc, argv, "", lopts, NULL)) != -1) {
		switch (c) {
		case LIST: case MARKS: case FLUSHES: case COUNT: case REPLAY:
			if (o->action != NONE)
				bad_usage();
			o->action = c;
			o->dev = optarg;
			break;
		case DATA:
			if (o->action != NONE)
				bad_usage();
			o->action = DATA;
			o->entry = strtoll(optarg, &end, 10);
			if (*end || !*optarg || o->entry < 0)
				bad_usage();
			break;
		case 'L':
			o->log = optarg;
			break;
		case 'm':
			o->mark = optarg;
			break;
		case 'z':
		case 's':
			o->zero_discards = c == 'z';
			break;
		case 'n':
			o->limit = strtoll(optarg, &end, 10);
			if (*end || !*optarg || o->limit < 0)
				bad_usage();
			break;
		default:
			bad_usage();
		}
	}
	if (optind != argc || !o->log || o->action == NONE ||
	    (o->mark && o->limit >= 0) ||
	    (o->action != REPLAY && (o->mark || o->limit >= 0)))
		bad_usage();
}

int main(int argc, char **argv)
{
	struct log l = { 0 };
	struct opts o;

	parse_args(argc, argv, &o);
	if (log_open(&l, o.log))
		return 1;
	if (o.action == REPLAY)
		return replay(&l, &o) ? 1 : 0;
	if (o.action == DATA)
		return print_data(&l, &o) ? 1 : 0;
	print_log(&l, o.action);
	return 0;
}
