// SPDX-License-Identifier: GPL-2.0
/*
 * colo-fsx: the command line, the model's setup, the final checks and main().
 */
#include "fsx.h"

/* ------------------------------------------------------------------ */
/* Setup, final verification, command line                             */

const char *const bug_name[] = {
	"none", "cow", "fill", "nofence", "commit-hidden-first",
	"mirror-noclear-order", "mirror-nodual", "fault-cow", "fault-fill",
	"fault-wrong-side", "mirror-dirty-guess"
};

struct fsx_opt opt = {
	.ops = 10000, .vm_threads = 2, .in_threads = 2, .ckpt_every = 500,
	.hot = 30, .selftest_sectors = 4 * 2048, .fault_leg = -1,
	.fault_eps = 4, .fault_kinds = FK_DEFAULT_KINDS,
};

char *replay_cmd;
bool setup_phase = true;	/* dmsetup trouble now is a setup error */

/* Geometry, in sectors; the last chunk may be short. */
uint64_t len_sectors, nr_chunks;
uint64_t hot_chunk[HOT_CHUNKS];

/* The reference model (see the top of fsx.h). */
uint8_t *view, *base, *base_ckpt;
uint8_t *vm_wrote, *in_wrote;
uint64_t nr_checkpoints;
uint64_t ctl_next_id;	/* atomic: ids of the control thread's VM writes */

/*
 * --mirror: a primary with no mirror; the model is base.  A fresh table
 * knows nothing of the replica: the dirty coverage must be unknown (and a
 * dirty start refused) whatever the replica holds.
 */
static void setup_model_mirror(uint8_t *buf)
{
	char out[4096], *argv[] = { "dmsetup", "table", (char *)opt.replica_dm, NULL };
	struct colo_status st;
	uint64_t i, n, want_len;
	int ret;

	if (opt.replica_dm && !opt.selftest) {
		ret = run_dmsetup(argv, out, sizeof(out));
		out[strcspn(out, "\n")] = 0;
		if (ret)
			die_setup("dmsetup table %s: exit %d: %s", opt.replica_dm, ret, out);
		if (sscanf(out, opt.replica_delay ? "0 %" SCNu64 " delay " :
			   "0 %" SCNu64 " linear ", &want_len) != 1 ||
		    want_len != mir_replica_sectors)
			die_setup("--replica-dm %s: table '%s', expected '0 %" PRIu64 " %s %s 0...' (its size is that of --replica %s)",
				  opt.replica_dm, out, mir_replica_sectors,
				  opt.replica_delay ? "delay" : "linear",
				  opt.replica_lower, opt.dev[DEV_REPLICA]);
	}
	dev_status(&st);	/* a dmsetup or parse error is a setup error */
	if (strcmp(st.mirror, "none"))
		die_setup("%s: mirror state is '%s' at the start, expected 'none' (mirror stop first); status: %s",
			  opt.name, st.mirror, st.line);
	setup_phase = false;
	mirror_check_status("at start", &st, 1U << MIR_NONE, false);
	printf("# mirror: status at start: %s\n", st.line);
	for (i = 0; i < len_sectors; i += BIG_IO_SECTORS) {
		n = len_sectors - i < BIG_IO_SECTORS ? len_sectors - i : BIG_IO_SECTORS;
		dev_io(DEV_BASE, buf, i, n, false, 0);
		memcpy(view + bytes(i), buf, bytes(n));
	}
	memcpy(base, view, bytes(len_sectors));
	memcpy(base_ckpt, view, bytes(len_sectors));
	check_range("start: VM device vs raw base", DEV_VM, view, 0, len_sectors, buf);
}

static void setup_model(uint8_t *buf)
{
	struct colo_status st;
	uint64_t r, i;

	view = malloc(bytes(len_sectors));
	base = malloc(bytes(len_sectors));
	base_ckpt = malloc(bytes(len_sectors));
	vm_wrote = calloc(nr_chunks, 1);
	in_wrote = calloc(nr_chunks, 1);
	if (opt.failover) {
		vm_pre = calloc(nr_chunks, 1);
		fo_race = calloc(nr_chunks, 1);
		fo_vmw = calloc(nr_chunks, 1);
		if (!vm_pre || !fo_race || !fo_vmw)
			die_setup("out of memory for the failover model");
	}
	if (!view || !base || !base_ckpt || !vm_wrote || !in_wrote)
		die_setup("out of memory for the model (3 x %" PRIu64 " bytes)",
			  (uint64_t)bytes(len_sectors));
	if (opt.fault_leg >= 0) {
		unres[0] = calloc(len_sectors, sizeof(struct unres));
		unres[1] = calloc(len_sectors, sizeof(struct unres));
		if (!unres[0] || !unres[1])
			die_setup("out of memory for the fault model");
	}

	if (opt.mirror) {
		setup_model_mirror(buf);
		goto hot;
	}
	/* Start from a checkpoint: the VM then reads exactly base. */
	dev_checkpoint();
	dev_status(&st);	/* a dmsetup or parse error is a setup error */
	setup_phase = false;
	verify_status("at start, after the initial checkpoint");
	for (i = 0; i < len_sectors; i += BIG_IO_SECTORS) {
		uint64_t n = len_sectors - i < BIG_IO_SECTORS ? len_sectors - i : BIG_IO_SECTORS;

		dev_io(DEV_BASE, buf, i, n, false, 0);	/* aligned for O_DIRECT */
		memcpy(base + bytes(i), buf, bytes(n));
	}
	memcpy(view, base, bytes(len_sectors));
	memcpy(base_ckpt, base, bytes(len_sectors));
	check_range("start: VM device vs raw base after the initial checkpoint",
		    DEV_VM, view, 0, len_sectors, buf);
	check_range("start: ingress device vs raw base", DEV_INGRESS, base,
		    0, len_sectors, buf);

hot:
	/* Hot chunks: first and last chunk, two more spread in between. */
	r = opt.seed ^ 0x686f74ULL;
	hot_chunk[0] = 0;
	hot_chunk[1] = nr_chunks / 4 + rnd(&r, nr_chunks / 4 + 1);
	hot_chunk[2] = nr_chunks / 2 + rnd(&r, nr_chunks / 4 + 1);
	hot_chunk[3] = nr_chunks - 1;
	for (i = 1; i < 3; i++)
		if (hot_chunk[i] >= nr_chunks)
			hot_chunk[i] = nr_chunks - 1;
}

/*
 * Chunks whose A or H is unknown after failed writes (--fault) are not
 * compared raw: their overlay leg may hold a failed fill or copy.  The VM
 * and ingress reads still check them.
 */
static void final_verify(uint8_t *buf)
{
	uint64_t c, maybe = 0;

	check_range("final: whole VM device vs model view", DEV_VM, view,
		    0, len_sectors, buf);
	check_range("final: whole ingress device vs model base", DEV_INGRESS,
		    base, 0, len_sectors, buf);
	check_range("final: raw base leg vs model base", DEV_BASE, base,
		    0, len_sectors, buf);
	for (c = 0; c < nr_chunks; c++) {
		if (vm_wrote[c] == 1)
			check_range("final: raw active chunk (VM-written) vs model view",
				    DEV_ACTIVE, view, chunk_start(c), chunk_len(c), buf);
		else if (!vm_wrote[c] && in_wrote[c] == 1)
			check_range("final: raw hidden chunk (copy-before-write) vs base at last checkpoint",
				    DEV_HIDDEN, base_ckpt, chunk_start(c), chunk_len(c), buf);
		else if (vm_wrote[c] || in_wrote[c])
			maybe++;
	}
	verify_status("final");
	if (opt.fault_leg >= 0)
		printf("# fault: final: %" PRIu64 " chunks with A or H unknown after failed writes (not compared raw)\n",
		       maybe);
}

static void cleanup(void)
{
	uint64_t c;
	int d;

	for (d = 0; d < NR_DEVS; d++)
		if (dev_fd[d] >= 0)
			close(dev_fd[d]);
	if (opt.selftest) {
		if (sim.commit_started)
			pthread_join(sim.commit_thread, NULL);
		for (d = 0; d < NR_LEGS; d++)
			free(sim.leg[d]);
		if (sim.copier_started)
			pthread_join(sim.copier, NULL);
		for (c = 0; c < nr_chunks; c++)
			pthread_mutex_destroy(&sim.lock[c]);
		pthread_rwlock_destroy(&sim.hold);
		free(sim.replica);
		free(sim.lock);
		free(sim.abit);
		free(sim.hbit);
		free(sim.dirty);
	}
	for (d = 0; d < 2; d++) {
		if (!unres[d])
			continue;
		for (c = 0; c < len_sectors; c++)
			free(unres[d][c].who);
		free(unres[d]);
	}
	free(vm_pre);
	free(fo_race);
	free(fo_vmw);
	free(view);
	free(base);
	free(base_ckpt);
	free(vm_wrote);
	free(in_wrote);
	free(replay_cmd);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: colo-fsx --name NAME --vm DEV --ingress DEV --base DEV --hidden DEV --active DEV\n"
		"                --chunk SECTORS [--ops N] [--seed S] [--vm-threads N] [--ingress-threads N]\n"
		"                [--checkpoint-every N] [--max-sectors N] [--hot PERCENT] [--verbose]\n"
		"                [--failover | --failover-at N] [--retry-enomem] [--make-it-fail]\n"
		"       colo-fsx --mirror --name NAME --vm DEV --base DEV --replica DEV\n"
		"                [--replica-dm NAME --replica-lower DEV] --chunk SECTORS [--ingress-threads 0]\n"
		"                [--ops N] [--seed S] [--vm-threads N] [--max-sectors N] [--hot PERCENT] [--verbose]\n"
		"       colo-fsx --fault base|hidden|active --fault-dm NAME [--fault-episodes N]\n"
		"                [--fault-kinds error,flakey-w,flakey,delay,failreq] [the secondary-mode options]\n"
		"       colo-fsx --selftest --chunk SECTORS [--selftest-size MiB] [--selftest-sectors N]\n"
		"                [--selftest-bug cow|fill|nofence|commit-hidden-first|mirror-noclear-order|mirror-nodual|\n"
		"                                mirror-dirty-guess|fault-cow|fault-fill|fault-wrong-side]\n"
		"                [same options as above]\n"
		"  --failover      send 'failover' at a random op in [ops/4, 3*ops/4] with I/O in flight;\n"
		"                  the ingress must fail from then on, the VM goes on, the commit is checked\n"
		"  --failover-at N the same, at op N (1..ops)\n"
		"  --retry-enomem  send a message again when the kernel refused it for want of memory\n"
		"                  (allocation-failure tests: the refusal must have changed nothing)\n"
		"  --make-it-fail  the VM and ingress threads set their make-it-fail (failslab and\n"
		"                  fail_page_alloc with task-filter fail their allocations, dm-colo's map\n"
		"                  included); an I/O refused with ENOMEM before it started is sent again\n"
		"  --mirror        NAME is a 'colo primary' device: VM threads only, no checkpoints; a control\n"
		"                  thread sends mirror start/stop (and refused ones) at seeded op counts; at the\n"
		"                  end, in sync: raw base == raw replica == model, then writes in sync reach both\n"
		"  --replica DEV   the replica the kernel mirrors to (read raw for the checks)\n"
		"  --replica-dm NAME --replica-lower DEV\n"
		"                  NAME is a dm linear device over DEV that is the replica: replica failures are\n"
		"                  injected by swapping its table to 'error' and back (--replica defaults to\n"
		"                  /dev/mapper/NAME); the selftest always simulates them\n"
		"  --mirror-async MAX_LAG\n"
		"                  starts are 'async MAX_LAG' (KiB): the lag must never pass max_lag, events\n"
		"                  also switch sync <-> async (sync must drain the lag at once), checks in\n"
		"                  sync wait for the lag to drain; not with --selftest\n"
		"  --replica-delay MS\n"
		"                  the replica's good table is dm-delay (MS per write) over --replica-lower,\n"
		"                  not linear: a slow replica\n"
		"  --fault LEG     secondary mode with faults on one leg: --fault-dm NAME is a dm linear device\n"
		"                  over the raw leg (--base/--hidden/--active name the raw device) and the\n"
		"                  colo table uses /dev/mapper/NAME; N episodes (default 4) at seeded op counts\n"
		"                  swap it to one of the kinds and back; see the top of fsx/fsx.h\n"
		"                  (the selftest simulates the faults, with no --fault-dm)\n"
		"  --fleece BUFDEV a colo-fleece view of base (buffer BUFDEV), created after the first\n"
		"                  checkpoint (on a primary at the start), read by a reader thread and\n"
		"                  compared with the model of base at its start, with discards, 'needed'\n"
		"                  messages and status checks; see the top of fsx/fsx-fleece.c\n"
		"  --fleece-every N  restart the fleece every N ops (a secondary: at a checkpoint, before\n"
		"                  the failover), the workers held\n"
		"  --fleece-small  the fleece's buffer is nr_chunks/16 chunks of BUFDEV: it must break\n"
		"                  (broken:full), its reads fail, the workers' I/O never does\n"
		"  --fleece-bug live  compare with the live model of base (checks the checker: must fail)\n");
	exit(2);
}

static uint64_t parse_u64(const char *name, const char *s, uint64_t min, uint64_t max)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end || *s == '-' || v < min || v > max) {
		fprintf(stderr, "colo-fsx: --%s: '%s' is not a number in [%" PRIu64 ", %" PRIu64 "]\n",
			name, s, min, max);
		usage();
	}
	return v;
}

/* The replay command: argv as given, shell quoted, plus the seed if absent. */
static void build_replay(int argc, char **argv)
{
	size_t len = 64, i;
	char *p;
	int a;

	for (a = 0; a < argc; a++)
		len += 4 * strlen(argv[a]) + 3;
	replay_cmd = p = malloc(len);
	if (!p)
		die_setup("out of memory");
	for (a = 0; a < argc; a++) {
		bool plain = *argv[a] != 0;

		for (i = 0; argv[a][i]; i++)
			if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+@%",
				    argv[a][i]))
				plain = false;
		if (a)
			*p++ = ' ';
		if (plain) {
			p = stpcpy(p, argv[a]);
			continue;
		}
		*p++ = '\'';
		for (i = 0; argv[a][i]; i++) {
			if (argv[a][i] == '\'')
				p = stpcpy(p, "'\\''");
			else
				*p++ = argv[a][i];
		}
		*p++ = '\'';
	}
	*p = 0;
	if (!opt.seed_given)
		sprintf(p, " --seed %" PRIu64, opt.seed);
}

static void parse_args(int argc, char **argv)
{
	enum { O_NAME = 256, O_CHUNK, O_OPS, O_SEED, O_VMT, O_INT, O_CKPT,
	       O_MAXS, O_HOT, O_VERBOSE, O_SELFTEST, O_STSIZE, O_STSECT, O_STBUG,
	       O_FAILOVER, O_FOAT, O_MIRROR, O_REPDM, O_REPLOWER, O_FAULT,
	       O_FAULTDM, O_FAULTEPS, O_FAULTKINDS, O_RETRYENOMEM, O_MAKEITFAIL, O_MIRASYNC,
	       O_REPDELAY, O_FLEECE, O_FLEVERY, O_FLSMALL, O_FLBUG, O_DEV0 };
	static const struct option lo[] = {
		{ "name", 1, NULL, O_NAME },
		{ "vm", 1, NULL, O_DEV0 + DEV_VM },
		{ "ingress", 1, NULL, O_DEV0 + DEV_INGRESS },
		{ "base", 1, NULL, O_DEV0 + DEV_BASE },
		{ "hidden", 1, NULL, O_DEV0 + DEV_HIDDEN },
		{ "active", 1, NULL, O_DEV0 + DEV_ACTIVE },
		{ "replica", 1, NULL, O_DEV0 + DEV_REPLICA },
		{ "mirror", 0, NULL, O_MIRROR },
		{ "replica-dm", 1, NULL, O_REPDM },
		{ "replica-lower", 1, NULL, O_REPLOWER },
		{ "mirror-async", 1, NULL, O_MIRASYNC },
		{ "replica-delay", 1, NULL, O_REPDELAY },
		{ "chunk", 1, NULL, O_CHUNK },
		{ "ops", 1, NULL, O_OPS },
		{ "seed", 1, NULL, O_SEED },
		{ "vm-threads", 1, NULL, O_VMT },
		{ "ingress-threads", 1, NULL, O_INT },
		{ "checkpoint-every", 1, NULL, O_CKPT },
		{ "max-sectors", 1, NULL, O_MAXS },
		{ "hot", 1, NULL, O_HOT },
		{ "verbose", 0, NULL, O_VERBOSE },
		{ "selftest", 0, NULL, O_SELFTEST },
		{ "selftest-size", 1, NULL, O_STSIZE },
		{ "selftest-sectors", 1, NULL, O_STSECT },
		{ "selftest-bug", 1, NULL, O_STBUG },
		{ "failover", 0, NULL, O_FAILOVER },
		{ "failover-at", 1, NULL, O_FOAT },
		{ "fault", 1, NULL, O_FAULT },
		{ "fault-dm", 1, NULL, O_FAULTDM },
		{ "fault-episodes", 1, NULL, O_FAULTEPS },
		{ "fault-kinds", 1, NULL, O_FAULTKINDS },
		{ "retry-enomem", 0, NULL, O_RETRYENOMEM },
		{ "make-it-fail", 0, NULL, O_MAKEITFAIL },
		{ "fleece", 1, NULL, O_FLEECE },
		{ "fleece-every", 1, NULL, O_FLEVERY },
		{ "fleece-small", 0, NULL, O_FLSMALL },
		{ "fleece-bug", 1, NULL, O_FLBUG },
		{ "help", 0, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct timespec ts;
	uint64_t r, at_lo, at_hi;
	int c, d;

	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case O_NAME: opt.name = optarg; break;
		case O_CHUNK: opt.chunk = parse_u64("chunk", optarg, 1, 2048); break;
		case O_OPS: opt.ops = parse_u64("ops", optarg, 1, 0xfffffffULL); break;
		case O_SEED:
			opt.seed = parse_u64("seed", optarg, 0, UINT64_MAX);
			opt.seed_given = true;
			break;
		case O_VMT: opt.vm_threads = parse_u64("vm-threads", optarg, 0, MAX_THREADS); break;
		case O_INT:
			opt.in_threads = parse_u64("ingress-threads", optarg, 0, MAX_THREADS);
			opt.in_threads_given = true;
			break;
		case O_CKPT: opt.ckpt_every = parse_u64("checkpoint-every", optarg, 0, UINT64_MAX); break;
		case O_MAXS: opt.max_sectors = parse_u64("max-sectors", optarg, 1, 65536); break;
		case O_HOT: opt.hot = parse_u64("hot", optarg, 0, 100); break;
		case O_VERBOSE: opt.verbose = true; break;
		case O_SELFTEST: opt.selftest = true; break;
		case O_STSIZE:
			opt.selftest_sectors = parse_u64("selftest-size", optarg, 1, 1024) * 2048;
			break;
		case O_STSECT:
			opt.selftest_sectors = parse_u64("selftest-sectors", optarg, 1, 1ULL << 21);
			break;
		case O_STBUG:
			for (d = BUG_NONE + 1; d < NR_BUGS; d++)
				if (!strcmp(optarg, bug_name[d]))
					break;
			if (d >= NR_BUGS)
				usage();
			opt.bug = d;
			break;
		case O_FAILOVER: opt.failover = true; break;
		case O_FOAT:
			opt.failover_at = parse_u64("failover-at", optarg, 1, 0xfffffffULL);
			opt.failover_at_given = opt.failover = true;
			break;
		case O_MIRROR: opt.mirror = true; break;
		case O_FAULT:
			for (d = 0; d < 3 && strcmp(optarg, leg_opt[d]); d++)
				;
			if (d == 3)
				usage();
			opt.fault_leg = d;
			break;
		case O_FAULTDM: opt.fault_dm = optarg; break;
		case O_RETRYENOMEM: opt.retry_enomem = true; break;
		case O_MAKEITFAIL: opt.make_it_fail = true; break;
		case O_FAULTEPS:
			opt.fault_eps = parse_u64("fault-episodes", optarg, 1, FAULT_MAX_EPISODES);
			break;
		case O_FAULTKINDS: {
			char *list = strdup(optarg), *tok, *save = NULL;

			opt.fault_kinds = 0;
			for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
				for (d = 0; d < NR_FK && strcmp(tok, fk_name[d]); d++)
					;
				if (d == NR_FK) {
					fprintf(stderr, "colo-fsx: --fault-kinds: unknown kind '%s'\n", tok);
					usage();
				}
				opt.fault_kinds |= 1U << d;
			}
			free(list);
			if (!opt.fault_kinds)
				usage();
			break;
		}
		case O_REPDM: opt.replica_dm = optarg; break;
		case O_REPLOWER: opt.replica_lower = optarg; break;
		case O_MIRASYNC:
			opt.mir_async = parse_u64("mirror-async", optarg, 1, 1048576);
			break;
		case O_REPDELAY:
			opt.replica_delay = parse_u64("replica-delay", optarg, 1, 10000);
			break;
		case O_FLEECE: opt.fleece_buf = optarg; break;
		case O_FLEVERY: opt.fleece_every = parse_u64("fleece-every", optarg, 0, 0xfffffffULL); break;
		case O_FLSMALL: opt.fleece_small = true; break;
		case O_FLBUG:
			if (strcmp(optarg, "live"))
				usage();
			opt.fleece_bug = 1;
			break;
		default:
			if (c >= O_DEV0 && c < O_DEV0 + NR_DEVS) {
				opt.dev[c - O_DEV0] = optarg;
				break;
			}
			usage();
		}
	}
	if (optind != argc) {
		fprintf(stderr, "colo-fsx: unexpected argument '%s'\n", argv[optind]);
		usage();
	}
	if (!opt.chunk || (opt.chunk & (opt.chunk - 1))) {
		fprintf(stderr, "colo-fsx: --chunk is required, a power of two from 1 to 2048\n");
		usage();
	}
	if (opt.mirror) {
		static char rep_path[300];

		if (opt.failover) {
			fprintf(stderr, "colo-fsx: --mirror and --failover do not go together\n");
			usage();
		}
		if (opt.in_threads_given && opt.in_threads) {
			fprintf(stderr, "colo-fsx: --mirror: a primary has no ingress: --ingress-threads must be 0\n");
			usage();
		}
		opt.in_threads = 0;
		opt.ckpt_every = 0;	/* a primary has no checkpoints */
		for (d = 0; d < NR_DEVS; d++)
			if (opt.dev[d] && (d == DEV_INGRESS || d == DEV_HIDDEN || d == DEV_ACTIVE)) {
				fprintf(stderr, "colo-fsx: --mirror: --%s is not used (a primary has only base)\n",
					dev_opt[d]);
				usage();
			}
		if (!opt.replica_dm != !opt.replica_lower) {
			fprintf(stderr, "colo-fsx: --replica-dm and --replica-lower go together\n");
			usage();
		}
		if (opt.mir_async && opt.selftest) {
			fprintf(stderr, "colo-fsx: --mirror-async: the selftest does not simulate the async mode\n");
			usage();
		}
		if (opt.replica_delay && !opt.replica_dm) {
			fprintf(stderr, "colo-fsx: --replica-delay needs --replica-dm\n");
			usage();
		}
		if (opt.replica_dm && !opt.dev[DEV_REPLICA] && !opt.selftest) {
			snprintf(rep_path, sizeof(rep_path), "/dev/mapper/%s", opt.replica_dm);
			opt.dev[DEV_REPLICA] = rep_path;
		}
	} else if (opt.dev[DEV_REPLICA] || opt.replica_dm || opt.replica_lower ||
		   opt.mir_async || opt.replica_delay) {
		fprintf(stderr, "colo-fsx: --replica, --replica-dm, --replica-lower, --mirror-async and --replica-delay need --mirror\n");
		usage();
	}
	if ((opt.bug == BUG_MIRROR_NOCLEAR || opt.bug == BUG_MIRROR_NODUAL ||
	     opt.bug == BUG_MIRROR_DIRTY_GUESS) != opt.mirror && opt.bug) {
		fprintf(stderr, "colo-fsx: --selftest-bug %s %s --mirror\n", bug_name[opt.bug],
			opt.mirror ? "does not go with" : "needs");
		usage();
	}
	if (!opt.selftest) {
		if (!opt.name) {
			fprintf(stderr, "colo-fsx: --name is required\n");
			usage();
		}
		for (d = 0; d < NR_DEVS; d++)
			if (dev_used(d) && !opt.dev[d]) {
				fprintf(stderr, "colo-fsx: --%s is required\n", dev_opt[d]);
				usage();
			}
	}
	if (opt.bug && !opt.selftest) {
		fprintf(stderr, "colo-fsx: --selftest-bug needs --selftest\n");
		usage();
	}
	if (opt.fault_leg >= 0 && (opt.failover || opt.mirror)) {
		fprintf(stderr, "colo-fsx: --fault is for secondary mode: not with --failover or --mirror\n");
		usage();
	}
	if (opt.fault_leg >= 0 && !opt.selftest && !opt.fault_dm) {
		fprintf(stderr, "colo-fsx: --fault needs --fault-dm NAME (the leg's dm device)\n");
		usage();
	}
	if (opt.fault_leg < 0 && opt.fault_dm) {
		fprintf(stderr, "colo-fsx: --fault-dm needs --fault\n");
		usage();
	}
	if ((opt.bug == BUG_FAULT_COW || opt.bug == BUG_FAULT_FILL ||
	     opt.bug == BUG_FAULT_WRONG_SIDE) && opt.fault_leg < 0) {
		fprintf(stderr, "colo-fsx: --selftest-bug %s needs --fault\n", bug_name[opt.bug]);
		usage();
	}
	if (opt.fault_leg >= 0 && opt.ops < 40 * (uint64_t)opt.fault_eps) {
		fprintf(stderr, "colo-fsx: --fault: --ops must be at least 40 per episode\n");
		usage();
	}
	if (opt.fault_leg >= 0 && opt.ckpt_every == 0) {
		fprintf(stderr, "colo-fsx: --fault needs checkpoints (--checkpoint-every > 0)\n");
		usage();
	}
	if ((opt.bug == BUG_NOFENCE || opt.bug == BUG_COMMIT_HIDDEN) && !opt.failover) {
		fprintf(stderr, "colo-fsx: --selftest-bug %s needs --failover\n", bug_name[opt.bug]);
		usage();
	}
	if (opt.failover_at_given && opt.failover_at > opt.ops) {
		fprintf(stderr, "colo-fsx: --failover-at %" PRIu64 " is beyond --ops %" PRIu64 "\n",
			opt.failover_at, opt.ops);
		usage();
	}
	if (!opt.fleece_buf && (opt.fleece_every || opt.fleece_small || opt.fleece_bug)) {
		fprintf(stderr, "colo-fsx: --fleece-every, --fleece-small and --fleece-bug need --fleece\n");
		usage();
	}
	if (opt.fleece_buf && (opt.selftest || opt.fault_leg >= 0)) {
		fprintf(stderr, "colo-fsx: --fleece: not with --selftest (not simulated) or --fault (base faults fail its reads)\n");
		usage();
	}
	if (opt.vm_threads + opt.in_threads == 0) {
		fprintf(stderr, "colo-fsx: no threads\n");
		usage();
	}
	if (!opt.max_sectors)
		opt.max_sectors = 4 * opt.chunk < 8 ? 8 : 4 * opt.chunk;
	if (!opt.seed_given) {
		clock_gettime(CLOCK_REALTIME, &ts);
		opt.seed = ((uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec) ^
			   ((uint64_t)getpid() << 32);
		opt.seed %= 1000000000000ULL;	/* short enough to retype */
	}
	if (opt.failover && !opt.failover_at_given) {
		r = opt.seed ^ 0x6661696c6f766572ULL;	/* "failover" */
		at_lo = opt.ops / 4 ? opt.ops / 4 : 1;
		at_hi = 3 * opt.ops / 4 > at_lo ? 3 * opt.ops / 4 : at_lo;
		opt.failover_at = at_lo + rnd(&r, at_hi - at_lo + 1);
	}
	if (opt.mirror) {
		uint64_t t;
		int i, j;

		/* Events at seeded op counts in [1, 4*ops/5], sorted. */
		r = opt.seed ^ 0x6d6972726f72ULL;	/* "mirror" */
		at_hi = 4 * opt.ops / 5 ? 4 * opt.ops / 5 : 1;
		opt.mir_nevents = 4 + rnd(&r, MIRROR_MAX_EVENTS - 3);
		for (i = 0; i < opt.mir_nevents; i++)
			opt.mir_event_at[i] = 1 + rnd(&r, at_hi);
		for (i = 1; i < opt.mir_nevents; i++)
			for (j = i; j > 0 && opt.mir_event_at[j - 1] > opt.mir_event_at[j]; j--) {
				t = opt.mir_event_at[j];
				opt.mir_event_at[j] = opt.mir_event_at[j - 1];
				opt.mir_event_at[j - 1] = t;
			}
	}
	if (opt.fault_leg >= 0) {
		int kinds[NR_FK], nk = 0, off, i, j, t;
		uint64_t slot;

		/*
		 * Episodes in equal slots of [1, 4*ops/5]: each starts in the
		 * first quarter of its slot and lasts half a slot; the kinds
		 * in a seeded order, each once before any repeats.
		 */
		r = opt.seed ^ 0x6661756c74ULL;	/* "fault" */
		for (i = 0; i < NR_FK; i++)
			if (opt.fault_kinds & (1U << i))
				kinds[nk++] = i;
		for (i = nk - 1; i > 0; i--) {
			j = rnd(&r, i + 1);
			t = kinds[i];
			kinds[i] = kinds[j];
			kinds[j] = t;
		}
		off = rnd(&r, nk);
		slot = 4 * opt.ops / 5 / opt.fault_eps;
		for (i = 0; i < opt.fault_eps; i++) {
			opt.fault_start[i] = 1 + i * slot + rnd(&r, slot / 4);
			opt.fault_probe[i] = opt.fault_start[i] +
				(slot / 4 < FAULT_PROBE_AFTER ? slot / 4 : FAULT_PROBE_AFTER);
			opt.fault_end[i] = opt.fault_start[i] + slot / 2;
			opt.fault_kind[i] = kinds[(off + i) % nk];
		}
	}
	build_replay(argc, argv);
}

int main(int argc, char **argv)
{
	struct worker w[2 * MAX_THREADS];
	uint64_t nr[4] = { 0 };
	int i, k, nthreads, err;
	pthread_t control;
	char fo_str[48] = "", mir_str[512] = "", flt_str[512] = "", fl_str[160] = "";
	uint8_t *buf, *ctl_buf = NULL;

	setvbuf(stdout, NULL, _IOLBF, 0);
	parse_args(argc, argv);
	pat_init(opt.seed);

	if (opt.selftest)
		len_sectors = opt.selftest_sectors;
	else
		dev_open_all();
	nr_chunks = (len_sectors + opt.chunk - 1) / opt.chunk;
	nthreads = opt.vm_threads + opt.in_threads;
	if (opt.mirror) {
		/* rate-limited syncs: a full pass in at most ~8 s */
		opt.mir_rate = bytes(len_sectors) / 1024 / 8;
		if (opt.mir_rate < 8192)
			opt.mir_rate = 8192;
		mir_ctl_tid = nthreads;
		ctl_next_id = opt.ops;
		snprintf(mir_str, sizeof(mir_str), " mirror replica=%s%s%s failures=%s rate=%u async=%u replica_delay=%u events_at=",
			 dev_path(DEV_REPLICA), opt.replica_dm ? " replica_dm=" : "",
			 opt.replica_dm ? opt.replica_dm : "",
			 opt.replica_dm || opt.selftest ? "on" : "off", opt.mir_rate,
			 opt.mir_async, opt.replica_delay);
		for (i = 0; i < opt.mir_nevents; i++)
			snprintf(mir_str + strlen(mir_str), sizeof(mir_str) - strlen(mir_str),
				 "%s%" PRIu64, i ? "," : "", opt.mir_event_at[i]);
	}

	if (opt.failover)
		snprintf(fo_str, sizeof(fo_str), " failover_at=%" PRIu64, opt.failover_at);
	if (opt.fault_leg >= 0) {
		flt_ctl_tid = nthreads;
		ctl_next_id = opt.ops;
		flt_leg_sectors = opt.selftest ? len_sectors :
			dev_size(dev_fd[DEV_BASE + opt.fault_leg],
				 opt.dev[DEV_BASE + opt.fault_leg]) / SECTOR_SIZE;
		snprintf(flt_str, sizeof(flt_str), " fault=%s fault_dm=%s episodes=",
			 leg_opt[opt.fault_leg], opt.fault_dm ? opt.fault_dm : "sim");
		for (i = 0; i < opt.fault_eps; i++)
			snprintf(flt_str + strlen(flt_str), sizeof(flt_str) - strlen(flt_str),
				 "%s%s@%" PRIu64 "-%" PRIu64, i ? "," : "",
				 fk_name[opt.fault_kind[i]], opt.fault_start[i], opt.fault_end[i]);
	}
	if (opt.fleece_buf)
		snprintf(fl_str, sizeof(fl_str), " fleece=%s fleece_every=%" PRIu64 "%s%s",
			 opt.fleece_buf, opt.fleece_every, opt.fleece_small ? " fleece_small" : "",
			 opt.fleece_bug ? " fleece_bug=live" : "");
	printf("# colo-fsx: seed=%" PRIu64 " chunk=%" PRIu64 " len=%" PRIu64 " vm_threads=%d ingress_threads=%d ops=%" PRIu64 " checkpoint_every=%" PRIu64 " max_sectors=%" PRIu64 " hot=%u chunks=%" PRIu64 "%s%s%s%s%s%s%s\n",
	       opt.seed, opt.chunk, len_sectors, opt.vm_threads, opt.in_threads,
	       opt.ops, opt.ckpt_every, opt.max_sectors, opt.hot, nr_chunks,
	       fo_str, mir_str, flt_str, fl_str, opt.selftest ? " selftest" : "",
	       opt.bug ? " bug=" : "", opt.bug ? bug_name[opt.bug] : "");

	if (opt.selftest)
		sim_init();
	buf = alloc_io(BIG_IO_SECTORS);
	setup_model(buf);
	if (opt.verbose)
		printf("# hot chunks: %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 "\n",
		       hot_chunk[0], hot_chunk[1], hot_chunk[2], hot_chunk[3]);
	fleece_setup();	/* before the control threads write */

	if (opt.failover) {
		err = pthread_create(&control, NULL, control_fn, NULL);
		if (err)
			die_setup("pthread_create: %s", strerror(err));
	}
	if (opt.fault_leg >= 0) {
		flt_buf = alloc_io(opt.max_sectors > opt.chunk ? opt.max_sectors : opt.chunk);
		err = pthread_create(&control, NULL, fault_control_fn, NULL);
		if (err)
			die_setup("pthread_create: %s", strerror(err));
	}
	if (opt.mirror) {
		ctl_buf = alloc_io(opt.max_sectors);
		err = pthread_create(&mir_control, NULL, mirror_control_fn, ctl_buf);
		if (err)
			die_setup("pthread_create: %s", strerror(err));
	}
	/* --make-it-fail: no page fault of ours may need an allocation. */
	if (opt.make_it_fail && !opt.selftest && mlockall(MCL_CURRENT | MCL_FUTURE))
		die_setup("mlockall: %s", strerror(errno));
	pthread_barrier_init(&start_barrier, NULL, nthreads);
	for (i = 0; i < nthreads; i++) {
		w[i] = (struct worker){ .tid = i, .vm = i < opt.vm_threads };
		w[i].rng = opt.seed ^ (0x9e3779b97f4a7c15ULL * (i + 1));
		splitmix64(&w[i].rng);
		/* fixed shares: each thread's op sequence replays exactly */
		w[i].quota = opt.ops / nthreads + ((uint64_t)i < opt.ops % nthreads);
		w[i].buf = alloc_io(opt.max_sectors);
		err = pthread_create(&w[i].thread, NULL, worker_fn, &w[i]);
		if (err)
			die_setup("pthread_create: %s", strerror(err));
	}
	for (i = 0; i < nthreads; i++) {
		pthread_join(w[i].thread, NULL);
		for (k = 0; k < 4; k++)
			nr[k] += w[i].nr[k];
	}
	if (__atomic_load_n(&stop, __ATOMIC_RELAXED))	/* a failure is being reported; it exits */
		pause();

	if (opt.failover) {
		__atomic_store_n(&workers_done_ns, now_ns(), __ATOMIC_RELEASE);
		pthread_mutex_lock(&gate_lock);
		fo_abort = true;
		pthread_cond_broadcast(&fo_cond);
		pthread_mutex_unlock(&gate_lock);
		pthread_join(control, NULL);
		if (__atomic_load_n(&stop, __ATOMIC_RELAXED))
			pause();
		if (!fo_triggered)
			fail("the failover point (op %" PRIu64 ") was never reached: %" PRIu64 " ops issued",
			     opt.failover_at, ops_issued);
		fleece_finish(fl_str, sizeof(fl_str));
		fo_report(w, nthreads);
		final_verify_failover(buf);
		snprintf(fo_str, sizeof(fo_str), " failover_at=%" PRIu64 " to_commit=%" PRIu64,
			 opt.failover_at, fo_to_commit);
	} else if (opt.mirror) {
		pthread_mutex_lock(&gate_lock);
		fo_abort = true;
		pthread_cond_broadcast(&fo_cond);
		pthread_mutex_unlock(&gate_lock);
		pthread_join(mir_control, NULL);
		if (__atomic_load_n(&stop, __ATOMIC_RELAXED))
			pause();
		if (mir_ev_next != opt.mir_nevents)
			fail("internal: %d of %d mirror events ran", mir_ev_next, opt.mir_nevents);
		fleece_finish(fl_str, sizeof(fl_str));
		final_verify_mirror(buf, ctl_buf, mir_str, sizeof(mir_str));
	} else if (opt.fault_leg >= 0) {
		pthread_mutex_lock(&gate_lock);
		fo_abort = true;
		pthread_cond_broadcast(&fo_cond);
		pthread_mutex_unlock(&gate_lock);
		pthread_join(control, NULL);
		if (__atomic_load_n(&stop, __ATOMIC_RELAXED))
			pause();
		if (flt_ev_next != 3 * opt.fault_eps)
			fail("internal: %d of %d fault events ran", flt_ev_next, 3 * opt.fault_eps);
		final_verify(buf);
		printf("# fault-summary leg=%s chunk=%" PRIu64 " error=%u flakey-w=%u flakey=%u delay=%u failreq=%u eio_vm=%" PRIu64 " eio_ingress=%" PRIu64 " probes_failed=%" PRIu64 " probes_ok=%" PRIu64 " pinned_old=%" PRIu64 " pinned_new=%" PRIu64 " lost=0\n",
		       leg_opt[opt.fault_leg], opt.chunk, flt_nkind[FK_ERROR],
		       flt_nkind[FK_FLAKEY_W], flt_nkind[FK_FLAKEY], flt_nkind[FK_DELAY],
		       flt_nkind[FK_FAILREQ], flt_eio[0], flt_eio[1], flt_probe_fail, flt_probe_ok,
		       pinned_old[0] + pinned_old[1], pinned_new[0] + pinned_new[1]);
		snprintf(flt_str, sizeof(flt_str), " fault=%s eio_vm=%" PRIu64 " eio_ingress=%" PRIu64,
			 leg_opt[opt.fault_leg], flt_eio[0], flt_eio[1]);
	} else {
		fleece_finish(fl_str, sizeof(fl_str));
		final_verify(buf);
	}
	if (opt.retry_enomem)
		printf("# colo-fsx: %" PRIu64 " messages sent again after ENOMEM\n",
		       __atomic_load_n(&enomem_retries, __ATOMIC_RELAXED));
	if (__atomic_load_n(&eagain_retries, __ATOMIC_RELAXED))
		printf("# colo-fsx: %" PRIu64 " messages sent again after EAGAIN (a reload not resumed yet)\n",
		       __atomic_load_n(&eagain_retries, __ATOMIC_RELAXED));
	if (opt.make_it_fail)
		printf("# colo-fsx: %" PRIu64 " I/Os sent again after ENOMEM\n",
		       __atomic_load_n(&io_enomem, __ATOMIC_RELAXED));
	printf("colo-fsx: PASS seed=%" PRIu64 " ops=%" PRIu64 " chunk=%" PRIu64 " len=%" PRIu64 " checkpoints=%" PRIu64
	       " vm_reads=%" PRIu64 " vm_writes=%" PRIu64 " ingress_reads=%" PRIu64 " ingress_writes=%" PRIu64 "%s%s%s%s%s\n",
	       opt.seed, ops_issued, opt.chunk, len_sectors, nr_checkpoints,
	       nr[OP_VM_READ], nr[OP_VM_WRITE], nr[OP_IN_READ], nr[OP_IN_WRITE],
	       fo_str, opt.mirror ? mir_str : "", flt_str, fl_str, opt.selftest ? " selftest" : "");

	for (i = 0; i < nthreads; i++)
		free(w[i].buf);
	free(buf);
	free(ctl_buf);
	free(flt_buf);
	cleanup();
	return 0;
}
