/* SPDX-License-Identifier: GPL-2.0 */
/*
 * colo-fuzz: a fuzzer for dm-colo's table lines and messages.
 *
 * It talks to device-mapper with the DM ioctls directly (no process per
 * input), builds inputs from valid ones and mutates them (words dropped,
 * duplicated, swapped or replaced; numbers 0, -1, huge, 2^64, hex, not a
 * power of two; optional-argument counts wrong; unknown options; device
 * paths nonexistent, a char device, a directory, the same device twice,
 * very long, with odd bytes, major:minor forms; very long lines; odd
 * whitespace and backslash escapes; start and length wrong), and for every
 * input asks an oracle whether dm-colo must accept it (README "Tables",
 * "Messages"; the dm core's own rules for splitting words and finding
 * devices, as the kernel does them). Then:
 *
 *   refused   the ioctl fails, the kernel logs an error, nothing is left
 *             behind: no table loaded, every other device's status and
 *             table unchanged, dm-colo's module reference count unchanged
 *   accepted  the oracle must agree; the table's status and table lines
 *             are checked, the table is sometimes resumed and given I/O
 *             (and, for an ingress, the colo device's view checked), then
 *             undone; an accepted message's effect is checked, then the
 *             device is put back into its state
 *
 * and the kernel log (read from /dev/kmsg after every input) must show no
 * WARNING, BUG, oops or dm core complaint. Any mismatch is a failure.
 *
 * Devices it makes (and removes), over 24 free block devices given on the
 * command line (D0..D23, same size):
 *
 *   fz-t    the device every table input is loaded into (D0..D7 free)
 *   fz-c    colo secondary D8 D9 D10: the colo device ingress inputs attach to
 *   fz-s    colo secondary D11 D12 D13, with fz-si (colo-ingress D11)
 *   fz-p    colo secondary D14 D15 D16 after failover, commit done (its
 *           dirty coverage complete: kept so by a full sync to D20 after
 *           a full start that was cut short)
 *   fz-q    colo primary D17
 *   fz-m    colo primary D18 mirrored in sync to D19 (a full sync: its
 *           dirty coverage is complete)
 *   fz-small linear over D21, 1024 sectors (a device that is too small)
 *   fz-f    colo secondary over three linear slices of D23 (fz-fb, fz-fh,
 *           fz-fa), failed over with fz-fa turned into "error": its commit
 *           stopped ("failed"), so "failover" resumes it (and it fails again)
 *   D20, D22 free (replicas for mirror start)
 *
 * Messages: checkpoint, failover, mirror start (with its rate words:
 * <KiB/s>|auto, min_rate, async), mirror stop|sync|async, mirror rate,
 * dirty add, verify start|stop|rate|ranges, and junk. The oracle reads the
 * target's mode, commit, mirror, dirty coverage and verify state from its
 * status. Verify and rate messages go mostly to fz-m (the one device
 * that can take them) and are mutated less; a slow verify ("verify start
 * 1") is sometimes started there first, so that "verify stop" and "verify
 * rate" meet a running one (its progress is not a change of the status).
 *
 * Inputs are numbered per kind; input i of a kind is generated from its
 * own PRNG state (seed, kind, i), so "--only KIND:I" replays one input.
 *
 * Also: "colo-fuzz --race NAME MSG1 MSG2" sends two messages to NAME from
 * two threads released at once and prints both results (0 or -errno).
 *
 * Exit status: 0 all inputs behaved, 1 a failure, 2 usage or setup error.
 *
 * The fuzzer is split by job, all sharing this header: fuzz-main.c (command
 * line, --race, main), fuzz-util.c (buffers, PRNG, timing, failure
 * reports), fuzz-kernel.c (the kernel's word, number and device rules for
 * the oracle), fuzz-dm.c (DM ioctls, kernel log), fuzz-devices.c (the
 * resident devices), fuzz-gen.c (generator and mutations), fuzz-oracle.c
 * (must a table be accepted?), fuzz-table.c and fuzz-msg.c (table and
 * message inputs and their checks).
 */
#ifndef COLO_FUZZ_H
#define COLO_FUZZ_H

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <linux/dm-ioctl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#define NDEVS		24
#define NODE_DIR	"/tmp/colo-fuzz"
#define MAX_WORDS	8192
#define MAX_TARGETS	3
#define SECTOR		512ULL

enum kind { K_TABLE, K_MSG, NKINDS };

struct fuzz_opt {
	uint64_t seed;
	long tables;
	long msgs;
	int only_kind;		/* -1: all */
	long only_index;
	bool verbose;
	int max_fail;
	const char *replay_hint;
};

extern struct fuzz_opt opt;

extern int failures;
extern bool old_name_lookup;	/* < 6.5: dm falls back to name_to_dev_t() */
extern const char *cur_input;

struct buf {
	char *p;
	size_t len, cap;
};

struct rng {
	uint64_t s;
};

/* Words the generator puts anywhere (PICK()ed by fuzz-gen.c and fuzz-msg.c). */
static const char *const junk_words[] = {
	"secondary", "primary", "tertiary", "Secondary", "PRIMARY", "colo",
	"colo-ingress", "max_copies", "max_copy", "MAX_COPIES", "max_copies=8",
	"maxcopies", "chunk", "checkpoint", "failover", "mirror", "start",
	"stop", "full", "dirty", "sync", "--", "-", "x", "\\", "\"\"", "''",
	"null", "(null)", "%s%s%n", "%n", "0", "2", "#", ";", "@", "*",
};

#define PICK(r, arr) ((arr)[below((r), sizeof(arr) / sizeof((arr)[0]))])

enum { TM_INPUT, TM_CHECK, TM_UNDO, TM_RESTORE, NTM };

/* dm_split_args(): words split at spaces, a backslash quotes any byte. */
struct words {
	int n;
	char *w[MAX_WORDS];
	char *store;
};

struct devnum {
	unsigned int maj, min;
};

struct target {
	uint64_t start, len;
	char type[DM_MAX_TYPE_NAME];
	char *params;		/* owned */
};

enum { R_C, R_S, R_SI, R_P, R_Q, R_M, R_SMALL, R_F, NRES };

#define D_REPLICA	19

#define T_DEV		"fz-t"

/*
 * Field 12 of the colo status, dirty_coverage: "complete" when the dirty
 * bitmap covers every chunk that may differ from a replica (seeded at
 * failover, or a full pass ended since), "unknown" otherwise (a new table,
 * a full pass cut short, a replica flush that failed). A "dirty" mirror
 * start is refused while it is unknown.
 */
#define F_COVERAGE	12
/* Fields 16 and 17: verify_state, <verified>/<to_verify>; 24: verify_rate. */
#define F_VERIFY	16
#define F_VERIFIED	17
#define F_VERIFY_RATE	24

struct wlist {
	int n;
	char *w[MAX_WORDS];
};

struct verdict {
	bool accept;
	char why[256];
};

/* What the table fuzz has attached or registered besides the residents. */
struct tstate {
	bool c_attached;	/* fz-c has an ingress (from fz-t) */
	int nbases;
	struct devnum bases[MAX_TARGETS];	/* colo bases of fz-t's tables */
};

/* The devices colo-fuzz keeps while it runs. */
struct resident {
	const char *name;
	struct devnum dev;
	char node[64];
	uint64_t len;
	int base;		/* index into D, or -1 */
	struct devnum basedev;	/* its base device (colo, ingress) */
	char basepath[64];
	bool colo;
	bool has_ingress;
	char status[512];	/* INFO status, when idle */
	char table[512];
};

/* fuzz-util.c */
extern double tm_acc[NTM];
extern struct buf report;
extern struct buf dev_args;	/* " DEV0 DEV1 ..." for the replay line */
void die(const char *fmt, ...);
void *xmalloc(size_t n);
void buf_reserve(struct buf *b, size_t more);
void buf_add(struct buf *b, const char *s);
void buf_addc(struct buf *b, char c);
void buf_printf(struct buf *b, const char *fmt, ...);
void buf_reset(struct buf *b);
void quote(struct buf *out, const char *s, size_t max);
uint64_t below(struct rng *r, uint64_t n);
bool chance(struct rng *r, unsigned int pct);
void rng_for(struct rng *r, int kind, uint64_t index);
double now_s(void);
void fail(const char *fmt, ...);

/* fuzz-kernel.c */
bool k_isspace(unsigned char c);
void words_free(struct words *ws);
int k_split_args(const char *input, struct words *ws);
int k_kstrtoull(const char *s, unsigned long long *res);
int k_kstrtouint(const char *s, unsigned int *res);
bool devnum_eq(struct devnum a, struct devnum b);
uint32_t new_encode_dev(struct devnum d);
bool read_sys(const char *path, char *out, size_t outsz);
bool dev_present(struct devnum d, uint64_t *sectors, unsigned int *lbs);
bool k_lookup_bdev(const char *path, struct devnum *d);
bool k_dm_devt(const char *path, struct devnum *d);

/* fuzz-dm.c */
extern int kmsg_fd;
extern struct buf kmsg_lines;	/* the lines read by the last kmsg_drain() */
int dm_simple(unsigned long cmd, const char *name, uint32_t flags,
	      struct dm_ioctl *out);
int dm_create(const char *name, struct devnum *d);
int dm_remove(const char *name);
int dm_resume(const char *name);
int dm_clear(const char *name);
int dm_info(const char *name, struct dm_ioctl *out);
int dm_load(const char *name, const struct target *t, int n);
int dm_status(const char *name, bool table, bool inactive, struct buf *out);
int dm_message(const char *name, uint64_t sector, const char *msg);
void dm_open_control(void);
void kmsg_drain(void);
const char *kmsg_bad(void);

/* fuzz-devices.c */
extern char *devpath[NDEVS];
extern struct devnum devnum[NDEVS];
extern uint64_t dev_sectors;	/* every D has this size */
extern struct resident res[NRES];
extern struct devnum fzt_dev;
extern unsigned long module_refs, module_refs0;
extern void *dio_buf;
unsigned long read_module_refs(void);
void make_node(const char *name, struct devnum d, char *node, size_t sz);
void status_field(const char *status, int field, char *out, size_t sz);
void colo_status(const char *name, char *out, size_t sz);
bool wait_field(const char *name, int field, const char *want1,
		const char *want2);
void check_coverage_word(const char *name, const char *when);
const char *restore_sync(const char *name);
int dio(const char *node, bool write, uint64_t sector, size_t bytes,
	unsigned char fill);
void snapshot_residents_t(char st[NRES][512], char tb[NRES][512], bool tables);
void snapshot_residents(char st[NRES][512], char tb[NRES][512]);
bool status_same(const char *a, const char *b);
void settle(const char *name);
void dirty_fz_s(void);
void make_fz_s(void);
void remove_fz_s(void);
void mirror_to_replica(const char *name, const char *sync);
void full_pass(const char *name, int replica);
void setup(void);
void teardown(void);
int d_index(struct devnum d);
int resident_of(struct devnum d);

/* fuzz-gen.c */
void wl_add(struct wlist *l, const char *s);
void wl_free(struct wlist *l);
void random_number(struct rng *r, char *out, size_t sz);
void random_bytes_word(struct rng *r, char *out, size_t sz, size_t maxlen);
void path_forms(struct rng *r, const char *node, struct devnum d,
		char *out, size_t sz);
void random_path(struct rng *r, char *out, size_t sz);
void serialize(struct rng *r, const struct wlist *l, struct buf *out);
void raw_mutate(struct rng *r, struct buf *b);
void no_core_message(struct buf *b);
void mutate_words(struct rng *r, struct wlist *l);

/* fuzz-oracle.c */
bool refuse(struct verdict *v, const char *fmt, ...);
bool table_ok(struct verdict *v, const struct target *t, int n,
	      struct tstate *ts);

/* fuzz-table.c */
extern char snap_st[NRES][512], snap_tb[NRES][512];
extern long n_accepted[NKINDS], n_refused[NKINDS];
extern long n_shape[8];
void check_residents(const char *when);
void check_refs(const char *when);
void check_kmsg(void);
void table_case(long index);

/* fuzz-msg.c */
extern long n_msg_target[NRES];
extern long n_dirty_accepted, n_dirty_refused;
/* The rate and verify messages, accepted ([0]) and refused ([1]). */
enum msg_class { MC_MIRROR_START_AUTO, MC_MIRROR_RATE, MC_VERIFY_START, MC_VERIFY_STOP,
		 MC_VERIFY_RATE, MC_VERIFY_RANGES, MC_OTHER, NCLASS };
extern long n_class[NCLASS][2];
extern long n_verify_first;	/* messages sent while a verify ran */
extern const char *const class_names[NCLASS];
void msg_case(long index);

#endif /* COLO_FUZZ_H */
