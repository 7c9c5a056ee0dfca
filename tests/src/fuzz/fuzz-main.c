// SPDX-License-Identifier: GPL-2.0
/*
 * colo-fuzz: the command line, --race and main().
 */
#include "fuzz.h"

struct fuzz_opt opt = { .tables = 2000, .msgs = 2000, .only_kind = -1, .max_fail = 5 };

int failures;
bool old_name_lookup;	/* < 6.5: dm falls back to name_to_dev_t() */
const char *cur_input = "(setup)";

/* ---------------------------------------------------------------- race */

struct racer {
	const char *name, *msg;
	int rc;
	pthread_barrier_t *bar;
};

static void *race_thread(void *arg)
{
	struct racer *rc = arg;

	pthread_barrier_wait(rc->bar);
	rc->rc = dm_message(rc->name, 0, rc->msg);
	return NULL;
}

static int race_main(int argc, char **argv)
{
	pthread_barrier_t bar;
	struct racer a, b;
	pthread_t ta, tb;

	if (argc != 3) {
		fprintf(stderr, "usage: colo-fuzz --race NAME MSG1 MSG2\n");
		return 2;
	}
	dm_open_control();
	pthread_barrier_init(&bar, NULL, 2);
	a = (struct racer){ .name = argv[0], .msg = argv[1], .bar = &bar };
	b = (struct racer){ .name = argv[0], .msg = argv[2], .bar = &bar };
	if (pthread_create(&ta, NULL, race_thread, &a) ||
	    pthread_create(&tb, NULL, race_thread, &b))
		return 2;
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	printf("%d %d\n", a.rc, b.rc);
	return 0;
}

/* -------------------------------------------------------------- main */

static void on_alarm(int sig)
{
	char m[160];
	int n;

	(void)sig;
	n = snprintf(m, sizeof(m), "FAIL %s: no answer from the kernel for 120 s (hang)\n",
		     cur_input);
	if (write(1, m, n) < 0)
		_exit(3);
	_exit(3);
}

static void usage(void)
{
	printf("usage: colo-fuzz [--seed S] [--tables N] [--messages N] [--only table:I|msg:I]\n"
	       "                 [--verbose] [--max-fail N] [--replay-hint TEXT] DEV0 ... DEV23\n"
	       "       colo-fuzz --race NAME MSG1 MSG2\n"
	       "24 free block devices of one size (at least 8192 sectors): see the file header.\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "seed", required_argument, NULL, 's' },
		{ "tables", required_argument, NULL, 't' },
		{ "messages", required_argument, NULL, 'm' },
		{ "only", required_argument, NULL, 'o' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "max-fail", required_argument, NULL, 'f' },
		{ "replay-hint", required_argument, NULL, 'r' },
		{ "race", no_argument, NULL, 'R' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct timespec t0, t1;
	struct utsname u;
	unsigned int kmaj = 0, kmin = 0;
	long i;
	int c;

	setvbuf(stdout, NULL, _IOLBF, 0);
	opt.seed = (uint64_t)time(NULL) * 1000003ULL ^ getpid();
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			opt.seed = strtoull(optarg, NULL, 0);
			break;
		case 't':
			opt.tables = atol(optarg);
			break;
		case 'm':
			opt.msgs = atol(optarg);
			break;
		case 'o': {
			char *colon = strchr(optarg, ':');

			if (!colon)
				return usage(), 2;
			*colon = '\0';
			opt.only_kind = !strcmp(optarg, "table") ? K_TABLE :
					!strcmp(optarg, "msg") ? K_MSG : -1;
			if (opt.only_kind < 0)
				return usage(), 2;
			opt.only_index = atol(colon + 1);
			opt.verbose = true;
			break;
		}
		case 'v':
			opt.verbose = true;
			break;
		case 'f':
			opt.max_fail = atoi(optarg);
			break;
		case 'r':
			opt.replay_hint = optarg;
			break;
		case 'R':
			return race_main(argc - optind, argv + optind);
		default:
			usage();
			return c == 'h' ? 0 : 2;
		}
	}
	if (argc - optind != NDEVS) {
		usage();
		return 2;
	}
	for (i = 0; i < NDEVS; i++) {
		devpath[i] = argv[optind + i];
		buf_printf(&dev_args, " %s", devpath[i]);
	}
	if (!uname(&u))
		sscanf(u.release, "%u.%u", &kmaj, &kmin);
	old_name_lookup = kmaj < 6 || (kmaj == 6 && kmin < 5);
	if (posix_memalign(&dio_buf, 4096, 1 << 20))
		die("out of memory");

	printf("colo-fuzz: seed %" PRIu64 ", %ld tables, %ld messages, kernel %s%s\n",
	       opt.seed, opt.tables, opt.msgs, u.release,
	       old_name_lookup ? " (dm resolves names with name_to_dev_t)" : "");
	kmsg_fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);
	if (kmsg_fd < 0)
		die("open /dev/kmsg: %s", strerror(errno));
	lseek(kmsg_fd, 0, SEEK_END);
	signal(SIGALRM, on_alarm);
	alarm(300);
	setup();
	kmsg_drain();
	check_kmsg();
	snapshot_residents(snap_st, snap_tb);
	if (opt.verbose)
		for (i = 0; i < NRES; i++)
			printf("  %s: %s | %s\n", res[i].name, snap_st[i], snap_tb[i]);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (opt.only_kind >= 0) {
		alarm(120);
		if (opt.only_kind == K_TABLE)
			table_case(opt.only_index);
		else
			msg_case(opt.only_index);
	} else {
		for (i = 0; i < opt.tables; i++) {
			alarm(120);
			table_case(i);
		}
		cur_input = "(between tables and messages)";
		for (i = 0; i < opt.msgs; i++) {
			alarm(120);
			msg_case(i);
		}
	}
	alarm(300);
	cur_input = "(final I/O)";
	/* the residents still do I/O */
	if (dio(res[R_C].node, true, 0, 65536, 0x77) || dio(res[R_C].node, false, 0, 65536, 0) ||
	    ((unsigned char *)dio_buf)[65535] != 0x77)
		fail("final I/O on fz-c failed");
	teardown();
	kmsg_drain();
	check_kmsg();
	module_refs = module_refs0;
	check_refs("after teardown (no dm-colo device left)");
	clock_gettime(CLOCK_MONOTONIC, &t1);

	printf("colo-fuzz: tables: %ld accepted, %ld refused (colo %ld, colo-ingress %ld, "
	       "mutated %ld, two targets %ld, type typos %ld, loads over an inactive table %ld)\n",
	       n_accepted[K_TABLE], n_refused[K_TABLE], n_shape[0], n_shape[1], n_shape[2],
	       n_shape[3], n_shape[4], n_shape[5]);
	printf("colo-fuzz: messages: %ld accepted, %ld refused (fz-s secondary %ld, fz-p "
	       "failed-over %ld, fz-f commit failed %ld, fz-q primary %ld, fz-m mirrored %ld, "
	       "fz-si ingress %ld)\n",
	       n_accepted[K_MSG], n_refused[K_MSG], n_msg_target[R_S], n_msg_target[R_P],
	       n_msg_target[R_F], n_msg_target[R_Q], n_msg_target[R_M], n_msg_target[R_SI]);
	printf("colo-fuzz: dirty mirror starts: %ld accepted (coverage complete), %ld refused "
	       "for unknown coverage\n", n_dirty_accepted, n_dirty_refused);
	printf("colo-fuzz: rate and verify messages (accepted/refused):");
	for (i = 0; i < MC_OTHER; i++)
		printf("%s %s %ld/%ld", i ? "," : "", class_names[i], n_class[i][0], n_class[i][1]);
	printf("; %ld messages sent while a verify ran\n", n_verify_first);
	printf("colo-fuzz: %s: %ld inputs in %.1f s, seed %" PRIu64 "\n",
	       failures ? "FAIL" : "PASS", n_accepted[0] + n_refused[0] + n_accepted[1] +
	       n_refused[1], (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9,
	       opt.seed);
	printf("colo-fuzz: time in ioctls %.1f s, checks %.1f s, undoing accepted tables %.1f s, "
	       "restoring after accepted messages %.1f s\n", tm_acc[TM_INPUT], tm_acc[TM_CHECK],
	       tm_acc[TM_UNDO], tm_acc[TM_RESTORE]);
	return failures ? 1 : 0;
}
