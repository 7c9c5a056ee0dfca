// SPDX-License-Identifier: GPL-2.0
/*
 * colo-fuzz: the DM ioctls, and the kernel log read from /dev/kmsg.
 */
#include "fuzz.h"

/* ------------------------------------------------------------ DM ioctls */

static int ctl_fd = -1;

struct dm_req {
	struct dm_ioctl *io;
	size_t size;
};

static struct dm_ioctl *dm_req_new(struct dm_req *q, const char *name,
				   size_t payload)
{
	q->size = sizeof(struct dm_ioctl) + payload + 4096;
	/* not zeroed beyond the header: cheap under emulation */
	q->io = malloc(q->size);
	if (!q->io)
		die("out of memory");
	memset(q->io, 0, sizeof(struct dm_ioctl) + payload);
	q->io->version[0] = DM_VERSION_MAJOR;
	q->io->version[1] = 0;
	q->io->version[2] = 0;
	q->io->data_size = q->size;
	q->io->data_start = sizeof(struct dm_ioctl);
	if (name)
		snprintf(q->io->name, sizeof(q->io->name), "%s", name);
	return q->io;
}

static int dm_run(struct dm_req *q, unsigned long cmd)
{
	return ioctl(ctl_fd, cmd, q->io) ? -errno : 0;
}

int dm_simple(unsigned long cmd, const char *name, uint32_t flags,
	      struct dm_ioctl *out)
{
	struct dm_req q;
	int r;

	dm_req_new(&q, name, 0)->flags = flags;
	r = dm_run(&q, cmd);
	if (out)
		memcpy(out, q.io, sizeof(*out));
	free(q.io);
	return r;
}

int dm_create(const char *name, struct devnum *d)
{
	struct dm_ioctl out;
	int r = dm_simple(DM_DEV_CREATE, name, 0, &out);

	if (!r && d) {
		d->maj = (out.dev >> 8) & 0xfff;	/* huge_encode_dev() */
		d->min = (out.dev & 0xff) | ((out.dev >> 12) & 0xfff00);
	}
	return r;
}

int dm_remove(const char *name)
{
	return dm_simple(DM_DEV_REMOVE, name, 0, NULL);
}

int dm_resume(const char *name)
{
	return dm_simple(DM_DEV_SUSPEND, name, 0, NULL);
}

int dm_clear(const char *name)
{
	return dm_simple(DM_TABLE_CLEAR, name, 0, NULL);
}

int dm_info(const char *name, struct dm_ioctl *out)
{
	return dm_simple(DM_DEV_STATUS, name, 0, out);
}

int dm_load(const char *name, const struct target *t, int n)
{
	struct dm_req q;
	size_t payload = 0, off;
	int i, r;

	for (i = 0; i < n; i++)
		payload += sizeof(struct dm_target_spec) + strlen(t[i].params) + 8;
	dm_req_new(&q, name, payload);
	q.io->target_count = n;
	off = q.io->data_start;
	for (i = 0; i < n; i++) {
		struct dm_target_spec *sp = (void *)((char *)q.io + off);
		size_t plen = strlen(t[i].params) + 1;
		size_t next = (sizeof(*sp) + plen + 7) & ~(size_t)7;

		sp->sector_start = t[i].start;
		sp->length = t[i].len;
		snprintf(sp->target_type, sizeof(sp->target_type), "%s", t[i].type);
		memcpy(sp + 1, t[i].params, plen);
		sp->next = next;
		off += next;
	}
	r = dm_run(&q, DM_TABLE_LOAD);
	free(q.io);
	return r;
}

/*
 * The status (or table) lines of every target, "; "-joined, into @out.
 * Returns 0, or -errno.
 */
int dm_status(const char *name, bool table, bool inactive, struct buf *out)
{
	struct dm_req q;
	struct dm_target_spec *sp;
	unsigned int i;
	size_t off;
	int r;

	buf_reset(out);
	dm_req_new(&q, name, 8192);
	q.io->flags = (table ? DM_STATUS_TABLE_FLAG : 0) |
		      (inactive ? DM_QUERY_INACTIVE_TABLE_FLAG : 0);
	r = dm_run(&q, DM_TABLE_STATUS);
	if (!r && (q.io->flags & DM_BUFFER_FULL_FLAG))
		r = -ENOSPC;
	if (r) {
		free(q.io);
		return r;
	}
	off = q.io->data_start;
	for (i = 0; i < q.io->target_count; i++) {
		sp = (void *)((char *)q.io + off);
		if (i)
			buf_add(out, "; ");
		buf_printf(out, "%llu %llu %s ", (unsigned long long)sp->sector_start,
			   (unsigned long long)sp->length, sp->target_type);
		buf_add(out, (char *)(sp + 1));
		off += sp->next;
	}
	free(q.io);
	return 0;
}

/* Returns -errno, or the message's result (0). */
int dm_message(const char *name, uint64_t sector, const char *msg)
{
	struct dm_req q;
	struct dm_target_msg *tm;
	int r;

	dm_req_new(&q, name, sizeof(*tm) + strlen(msg) + 1);
	tm = (void *)((char *)q.io + q.io->data_start);
	tm->sector = sector;
	memcpy(tm->message, msg, strlen(msg) + 1);
	r = dm_run(&q, DM_TARGET_MSG);
	free(q.io);
	return r;
}

void dm_open_control(void)
{
	ctl_fd = open("/dev/mapper/control", O_RDWR);
	if (ctl_fd < 0) {
		/* no udev: make the node from the misc device's numbers */
		char val[32];
		unsigned int ma, mi;

		if (!read_sys("/sys/class/misc/device-mapper/dev", val, sizeof(val)) ||
		    sscanf(val, "%u:%u", &ma, &mi) != 2)
			die("no device-mapper");
		mkdir("/dev/mapper", 0755);
		mknod("/dev/mapper/control", S_IFCHR | 0600, makedev(ma, mi));
		ctl_fd = open("/dev/mapper/control", O_RDWR);
		if (ctl_fd < 0)
			die("open /dev/mapper/control: %s", strerror(errno));
	}
}

/* --------------------------------------------------------- kernel log */

int kmsg_fd = -1;
struct buf kmsg_lines;	/* the lines read by the last kmsg_drain() */

static const char *const bad_patterns[] = {
	"WARNING:", "BUG:", "Oops", "Kernel panic", "general protection fault",
	"blocked for more than", "UBSAN:", "KASAN:", "kernel BUG", "Call Trace:",
	"RIP:", "dm_put_device call missing", "refcount_t:", "list_add corruption",
	"list_del corruption", "bad unlock", "possible recursive locking",
	"circular locking", "leak",
};

/* Read what the kernel logged since the last call into kmsg_lines. */
void kmsg_drain(void)
{
	static char rec[65536];

	buf_reset(&kmsg_lines);
	for (;;) {
		ssize_t n = read(kmsg_fd, rec, sizeof(rec) - 1);
		char *msg;

		if (n < 0 && errno == EPIPE) {
			buf_add(&kmsg_lines, "colo-fuzz: kernel log records were lost\n");
			continue;
		}
		if (n < 0 && errno != EAGAIN) {
			buf_printf(&kmsg_lines, "colo-fuzz: reading /dev/kmsg: %s\n",
				   strerror(errno));
			continue;
		}
		if (n <= 0)
			break;
		rec[n] = '\0';
		msg = strchr(rec, ';');
		msg = msg ? msg + 1 : rec;
		msg[strcspn(msg, "\n")] = '\0';
		buf_add(&kmsg_lines, msg);
		buf_addc(&kmsg_lines, '\n');
	}
}

const char *kmsg_bad(void)
{
	size_t i;

	for (i = 0; i < sizeof(bad_patterns) / sizeof(bad_patterns[0]); i++)
		if (kmsg_lines.p && strstr(kmsg_lines.p, bad_patterns[i]))
			return bad_patterns[i];
	return NULL;
}
