// SPDX-License-Identifier: GPL-2.0
/*
 * colo-monitor: colosetup monitor, one process over every colo device.
 *
 * As multipathd does: a file descriptor of /dev/mapper/control is armed
 * with the DM_DEV_ARM_POLL ioctl; poll() then reports POLLIN once any dm
 * device's event counter moves (or a device is created, removed, renamed,
 * or gets a new table). The monitor re-arms, lists the devices with their
 * event counters (DM_DEVICE_LIST through libdevmapper), re-reads the
 * status of each colo device whose counter moved, and reports the
 * transitions (colo-format.c: colo_events) as a JSON line on stdout, a
 * syslog line, and a run of the --exec hook.
 *
 * The arming is the raw ioctl on the monitor's own descriptor: the arm is
 * per open file, and libdevmapper's DM_DEVICE_ARM_POLL task arms its own
 * private control descriptor, which a caller cannot poll.
 *
 * Hooks run one at a time, in the order of the events, while the monitor
 * goes on watching: each in its own process group, with the event in its
 * environment and argv, its stdout sent to the monitor's stderr (stdout
 * carries only JSON lines), killed after --hook-timeout seconds (SIGTERM,
 * then SIGKILL after 2 s), reaped through a signalfd.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libdevmapper.h>
#include <linux/dm-ioctl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "colo-dm.h"
#include "colo-format.h"
#include "colosetup.h"

#define HOOK_TIMEOUT_DEFAULT	30	/* seconds */
#define HOOK_KILL_GRACE		2	/* seconds from SIGTERM to SIGKILL */
#define HOOK_QUEUE_MAX		1024	/* events waiting for the hook */
#define INTERVAL_DEFAULT	10	/* seconds between looks without an event */

/* A device the monitor knows. */
struct mdev {
	char name[128];
	uint32_t event_nr;
	int colo;		/* a colo device (else: another, checked again later) */
	int settled;		/* not colo, with a live table: checked at its next event */
	int seen;		/* in the latest listing */
	uint64_t sectors;
	struct colo_status st;
	char legs[3][160], metadata[160];
	unsigned int nlegs;
};

/* One run of the hook waiting in line. */
struct hook_job {
	char **env;		/* NULL-terminated, malloc'ed */
	char *event, *device;
};

static struct {
	const struct colo_args *a;
	int ctl, sfd, syslog;
	struct mdev *devs;
	unsigned int ndevs, cap;
	unsigned long events;
	unsigned int interval;
	double next_look;
	/* the hook */
	struct hook_job *queue;
	unsigned int qhead, qlen;
	pid_t hook_pid;
	double hook_deadline;
	int hook_termed;
	unsigned int hook_timeout;
	char hook_what[300];
} m;

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A warning of the monitor itself: stderr and syslog. */
__attribute__((format(printf, 1, 2)))
static void warn(const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fprintf(stderr, "colosetup: monitor: %s\n", buf);
	if (m.syslog)
		syslog(LOG_WARNING, "monitor: %s", buf);
}

static int wanted(const char *name)
{
	unsigned int i;

	if (!m.a->nnames)
		return 1;
	for (i = 0; i < m.a->nnames; i++)
		if (!strcmp(m.a->names[i], name))
			return 1;
	return 0;
}

/* ---- dm ------------------------------------------------------------------ */

static int arm_poll(void)
{
	struct dm_ioctl dmi;

	memset(&dmi, 0, sizeof(dmi));
	dmi.version[0] = DM_VERSION_MAJOR;
	dmi.version[1] = 37;	/* DM_DEV_ARM_POLL came with 4.37 */
	dmi.data_size = sizeof(dmi);
	dmi.data_start = sizeof(dmi);
	return ioctl(m.ctl, DM_DEV_ARM_POLL, &dmi) ? -errno : 0;
}

/* The event counter that DM_DEVICE_LIST puts after each name (dm 4.37). */
static uint32_t names_event_nr(const struct dm_names *n)
{
	uintptr_t p = (uintptr_t)(strchr(n->name, '\0') + 1);

	return *(const uint32_t *)((p + 7) & ~(uintptr_t)7);
}

/*
 * Read NAME's status quietly into d. 1 when it is a colo device, 0 when
 * not (another target, no live table yet: *settled says whether it has a
 * live table), -1 when it is gone.
 */
static int read_dev(const char *name, struct mdev *d, int *settled)
{
	struct cdm_target t;
	struct colo_dev cd;
	int r;
	unsigned int i;

	*settled = 0;
	r = cdm_get_target(name, 1, &t);
	if (r == -ENXIO)
		return -1;
	if (r) {
		*settled = r == -ENOTUNIQ;
		return 0;
	}
	*settled = 1;
	if (strcmp(t.type, "colo") || colo_parse_status(t.params, &d->st)) {
		cdm_target_free(&t);
		return 0;
	}
	d->sectors = t.len;
	cdm_target_free(&t);
	memset(&cd, 0, sizeof(cd));
	if (!cdm_get_target(name, 0, &t)) {
		parse_legs(t.params, &cd);
		cdm_target_free(&t);
	}
	d->nlegs = cd.nlegs;
	for (i = 0; i < cd.nlegs; i++)
		devpath(cd.legs[i], d->legs[i], sizeof(d->legs[i]));
	d->metadata[0] = '\0';
	if (cd.metadata[0])
		devpath(cd.metadata, d->metadata, sizeof(d->metadata));
	return 1;
}

/* ---- the hook ----------------------------------------------------------- */

static void job_free(struct hook_job *j)
{
	char **e;

	for (e = j->env; e && *e; e++)
		free(*e);
	free(j->env);
	free(j->event);
	free(j->device);
	memset(j, 0, sizeof(*j));
}

static void hook_start(void)
{
	struct hook_job *j;
	sigset_t none;
	pid_t pid;

	if (m.hook_pid || !m.qlen)
		return;
	j = &m.queue[m.qhead];
	snprintf(m.hook_what, sizeof(m.hook_what), "%s %s %s", m.a->hook, j->event, j->device);
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		warn("cannot run the hook (%s): %s", m.hook_what, strerror(errno));
	} else if (!pid) {
		char *argv[4] = { (char *)m.a->hook, j->event, j->device, NULL };
		char **e;

		setpgid(0, 0);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		dup2(STDERR_FILENO, STDOUT_FILENO);
		for (e = j->env; *e; e++)
			putenv(*e);
		execvp(m.a->hook, argv);
		fprintf(stderr, "colosetup: monitor: hook %s: %s\n", m.a->hook, strerror(errno));
		_exit(127);
	} else {
		m.hook_pid = pid;
		m.hook_deadline = mono() + m.hook_timeout;
		m.hook_termed = 0;
	}
	job_free(j);
	m.qhead = (m.qhead + 1) % HOOK_QUEUE_MAX;
	m.qlen--;
}

/* Reap the hook; start the next one. */
static void hook_reap(void)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (pid != m.hook_pid)
			continue;
		m.hook_pid = 0;
		if (WIFEXITED(status) && WEXITSTATUS(status))
			warn("hook %s exited with %d", m.hook_what, WEXITSTATUS(status));
		else if (WIFSIGNALED(status) && !m.hook_termed)
			warn("hook %s killed by signal %d", m.hook_what, WTERMSIG(status));
	}
	hook_start();
}

/* Called when the hook's time is up. */
/*
 * The signals waiting on the signalfd: SIGCHLD reaps the hook; returns
 * true when a signal asks the monitor to end (SIGTERM, SIGINT).
 */
static bool read_signals(void)
{
	struct signalfd_siginfo si;
	bool quit = false;

	while (read(m.sfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGCHLD)
			hook_reap();
		else
			quit = true;
	}
	return quit;
}

static void hook_timeout(void)
{
	if (!m.hook_pid || mono() < m.hook_deadline)
		return;
	if (!m.hook_termed) {
		warn("hook %s still runs after %u s: stopping it", m.hook_what, m.hook_timeout);
		kill(-m.hook_pid, SIGTERM);
		m.hook_termed = 1;
		m.hook_deadline = mono() + HOOK_KILL_GRACE;
	} else {
		kill(-m.hook_pid, SIGKILL);
		m.hook_deadline = mono() + 3600;
	}
}

static char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	return n < 0 ? NULL : s;
}

static void hook_queue(enum colo_event e, const struct mdev *d, const char *when,
		       const char *json)
{
	const struct colo_status *st = &d->st;
	struct hook_job *j;
	char **env;
	unsigned int n = 0;

	if (m.qlen == HOOK_QUEUE_MAX) {
		warn("%u events wait for the hook: %s on %s not given to it", m.qlen,
		     colo_event_name(e), d->name);
		return;
	}
	env = calloc(20, sizeof(*env));
	if (!env)
		return;
	env[n++] = xasprintf("COLO_EVENT=%s", colo_event_name(e));
	env[n++] = xasprintf("COLO_DEVICE=%s", d->name);
	env[n++] = xasprintf("COLO_TIME=%s", when);
	env[n++] = xasprintf("COLO_JSON=%s", json);
	if (e != EV_REMOVED) {
		env[n++] = xasprintf("COLO_MODE=%s", st->mode);
		env[n++] = xasprintf("COLO_COMMIT=%s", st->commit);
		env[n++] = xasprintf("COLO_COMMITTED=%" PRIu64, st->committed);
		env[n++] = xasprintf("COLO_TO_COMMIT=%" PRIu64, st->to_commit);
		env[n++] = xasprintf("COLO_MIRROR=%s", st->mirror);
		env[n++] = xasprintf("COLO_MIRRORED=%" PRIu64, st->mirrored);
		env[n++] = xasprintf("COLO_TO_MIRROR=%" PRIu64, st->to_mirror);
		env[n++] = xasprintf("COLO_DIRTY=%" PRIu64, st->dirty);
		env[n++] = xasprintf("COLO_HEALTH=%s", st->health);
	}
	j = &m.queue[(m.qhead + m.qlen) % HOOK_QUEUE_MAX];
	j->env = env;
	j->event = strdup(colo_event_name(e));
	j->device = strdup(d->name);
	for (; n; n--)
		if (!env[n - 1])
			break;
	if (n || !j->event || !j->device) {
		job_free(j);
		warn("out of memory: %s on %s not given to the hook", colo_event_name(e), d->name);
		return;
	}
	m.qlen++;
	hook_start();
}

/* ---- events --------------------------------------------------------------- */

static void emit(enum colo_event e, const struct mdev *d)
{
	const char *legs[3] = { NULL, NULL, NULL };
	char when[64], *json = NULL;
	struct timespec ts;
	struct tm tm;
	size_t len = 0;
	unsigned int i;
	FILE *f;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(when + strlen(when), sizeof(when) - strlen(when), ".%03ldZ",
		 ts.tv_nsec / 1000000);
	f = open_memstream(&json, &len);
	if (!f)
		return;
	fprintf(f, "{\"schema\":%d,\"time\":\"%s\",\"device\":", COLO_JSON_SCHEMA, when);
	colo_json_str(f, d->name);
	fprintf(f, ",\"event\":\"%s\",\"status\":", colo_event_name(e));
	if (e == EV_REMOVED) {
		fputs("null", f);
	} else {
		for (i = 0; i < d->nlegs; i++)
			legs[i] = d->legs[i];
		colo_status_json(f, d->name, d->sectors, &d->st, legs, NULL,
				 d->metadata[0] ? d->metadata : NULL);
	}
	fputc('}', f);
	fclose(f);
	if (!json)
		return;
	printf("%s\n", json);
	fflush(stdout);
	if (m.syslog) {
		if (e == EV_REMOVED)
			syslog(colo_event_priority(e), "%s: %s", d->name, colo_event_name(e));
		else
			syslog(colo_event_priority(e),
			       "%s: %s (mode %s, commit %s %" PRIu64 "/%" PRIu64 ", mirror %s %"
			       PRIu64 "/%" PRIu64 ", %" PRIu64 " dirty chunks, health %s)",
			       d->name, colo_event_name(e), d->st.mode, d->st.commit,
			       d->st.committed, d->st.to_commit, d->st.mirror, d->st.mirrored,
			       d->st.to_mirror, d->st.dirty, d->st.health);
	}
	if (m.a->hook)
		hook_queue(e, d, when, json);
	free(json);
	m.events++;
}

static struct mdev *find(const char *name)
{
	unsigned int i;

	for (i = 0; i < m.ndevs; i++)
		if (!strcmp(m.devs[i].name, name))
			return &m.devs[i];
	return NULL;
}

static struct mdev *add(const char *name)
{
	struct mdev *more;

	if (m.ndevs == m.cap) {
		m.cap = m.cap ? 2 * m.cap : 16;
		more = realloc(m.devs, m.cap * sizeof(*m.devs));
		if (!more)
			return NULL;
		m.devs = more;
	}
	more = &m.devs[m.ndevs++];
	memset(more, 0, sizeof(*more));
	snprintf(more->name, sizeof(more->name), "%s", name);
	return more;
}

/* One device of a listing: new, changed, or the same. */
static void update(const char *name, uint32_t event_nr, int initial, int look)
{
	struct mdev *d = find(name), nd;
	enum colo_event ev[8];
	unsigned int n, i;
	int r, settled;

	if (d) {
		d->seen = 1;
		if (d->event_nr == event_nr && !(look && d->colo) && (d->colo || d->settled))
			return;
	}
	memset(&nd, 0, sizeof(nd));
	snprintf(nd.name, sizeof(nd.name), "%s", name);
	r = read_dev(name, &nd, &settled);
	if (r < 0)
		return;		/* gone since the listing: the next one says so */
	if (!d) {
		d = add(name);
		if (!d) {
			warn("out of memory: %s not watched", name);
			return;
		}
		d->seen = 1;
	}
	d->event_nr = event_nr;
	if (!r) {
		if (d->colo)
			emit(EV_REMOVED, d);	/* its table is no longer colo */
		d->colo = 0;
		d->settled = settled;
		return;
	}
	nd.event_nr = event_nr;
	nd.seen = 1;
	nd.colo = 1;
	if (!d->colo) {
		*d = nd;
		emit(initial ? EV_PRESENT : EV_ADDED, d);
		return;
	}
	n = colo_events(&d->st, &nd.st, ev, 8);
	*d = nd;
	for (i = 0; i < n; i++)
		emit(ev[i], d);
}

/*
 * List the devices with their event counters; report what changed. look:
 * read every colo device's status, even one whose counter did not move
 * (a mirror start or stop raises no dm event).
 */
static int scan(int initial, int look)
{
	struct dm_task *dmt = dm_task_create(DM_DEVICE_LIST);
	struct dm_names *n;
	unsigned int i, next = 0;
	int r = 0;

	if (!dmt)
		return -ENOMEM;
	n = dm_task_run(dmt) ? dm_task_get_names(dmt) : NULL;
	if (!n) {
		r = dm_task_get_errno(dmt) ? -dm_task_get_errno(dmt) : -EIO;
		dm_task_destroy(dmt);
		return r;
	}
	for (i = 0; i < m.ndevs; i++)
		m.devs[i].seen = 0;
	if (n->dev) {
		do {
			n = (struct dm_names *)((char *)n + next);
			if (wanted(n->name))
				update(n->name, names_event_nr(n), initial, look);
			next = n->next;
		} while (next);
	}
	dm_task_destroy(dmt);
	for (i = 0; i < m.ndevs;) {
		if (m.devs[i].seen) {
			i++;
			continue;
		}
		if (m.devs[i].colo)
			emit(EV_REMOVED, &m.devs[i]);
		m.devs[i] = m.devs[--m.ndevs];
	}
	return 0;
}

static int done(void)
{
	return m.a->count && m.events >= m.a->count;
}

int cmd_monitor(const struct colo_args *a)
{
	sigset_t set;
	int r, quit = 0;

	memset(&m, 0, sizeof(m));
	m.a = a;
	m.hook_timeout = a->hook_timeout ? a->hook_timeout : HOOK_TIMEOUT_DEFAULT;
	m.interval = a->interval_set ? a->interval : INTERVAL_DEFAULT;
	m.ctl = open("/dev/mapper/control", O_RDWR | O_CLOEXEC);
	if (m.ctl < 0)
		return fail(COLO_EXIT_FAIL, NULL, "monitor: cannot open /dev/mapper/control: %s",
			    strerror(errno));
	if (a->hook) {
		m.queue = calloc(HOOK_QUEUE_MAX, sizeof(*m.queue));
		if (!m.queue)
			return fail(COLO_EXIT_FAIL, NULL, "monitor: out of memory");
	}
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	m.sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (m.sfd < 0)
		return fail(COLO_EXIT_FAIL, NULL, "monitor: signalfd: %s", strerror(errno));
	/* A closed stdout must not kill the monitor: syslog and hooks go on. */
	signal(SIGPIPE, SIG_IGN);
	if (!a->no_syslog) {
		openlog("colosetup", LOG_PID, LOG_DAEMON);
		m.syslog = 1;
	}
	/* Armed before the first listing: no change between them is lost. */
	r = arm_poll();
	if (r)
		return fail(COLO_EXIT_FAIL, NULL,
			    "monitor: DM_DEV_ARM_POLL: %s (device-mapper 4.37, Linux 4.13, has it)",
			    strerror(-r));
	r = scan(1, 0);
	if (r)
		return fail(COLO_EXIT_FAIL, NULL, "monitor: cannot list devices: %s",
			    strerror(-r));
	if (m.syslog)
		syslog(LOG_INFO, "monitor: watching %s", a->nnames ? "the named devices" :
		       "every colo device");
	while (!quit && !done()) {
		struct pollfd pfd[2] = {
			{ .fd = m.ctl, .events = POLLIN },
			{ .fd = m.sfd, .events = POLLIN },
		};
		int timeout = -1, look = 0;
		double left;

		if (m.interval && !m.next_look)
			m.next_look = mono() + m.interval;
		if (m.interval) {
			left = m.next_look - mono();
			timeout = left > 0 ? (int)(left * 1000) + 1 : 0;
		}
		if (m.hook_pid) {
			left = m.hook_deadline - mono();
			if (timeout < 0 || left * 1000 < timeout)
				timeout = left > 0 ? (int)(left * 1000) + 1 : 0;
		}
		r = poll(pfd, 2, timeout);
		if (r < 0 && errno != EINTR) {
			warn("poll: %s", strerror(errno));
			sleep(1);
			continue;
		}
		if ((pfd[1].revents & POLLIN) && read_signals())
			quit = 1;
		hook_timeout();
		if (m.interval && mono() >= m.next_look) {
			look = 1;
			m.next_look = mono() + m.interval;
		}
		if ((pfd[0].revents & POLLIN) || look) {
			r = arm_poll();
			if (!r)
				r = scan(0, look);
			if (r) {
				warn("cannot read the devices: %s", strerror(-r));
				sleep(1);
			}
		}
	}
	/* --count: let the queued hooks run, within their timeouts. */
	while (!quit && (m.hook_pid || m.qlen)) {
		struct pollfd pfd = { .fd = m.sfd, .events = POLLIN };
		double left = m.hook_deadline - mono();

		if (poll(&pfd, 1, left > 0 ? (int)(left * 1000) + 1 : 0) > 0 && read_signals())
			quit = 1;
		hook_timeout();
	}
	if (m.hook_pid)
		kill(-m.hook_pid, SIGTERM);
	if (m.syslog)
		closelog();
	return 0;
}
