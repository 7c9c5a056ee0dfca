# SPDX-License-Identifier: GPL-2.0
#
# TAP helpers for tests run inside the VM. Each test script sources this
# file, calls the check helpers, and ends with t_done. The host counts the
# "ok" and "not ok" lines; a script that exits early is reported by t_done's
# trap as a failure.

# Sizes and seeds given on the host (scripts/vm.sh writes them here).
[ -f /tests/env ] && . /tests/env

T_NAME=$(basename "$0" .sh)
T_PASS=0
T_FAIL=0
T_DONE=0

t_ok() {
	T_PASS=$((T_PASS + 1))
	echo "ok $((T_PASS + T_FAIL)) - $T_NAME: $*"
}

t_fail() {
	T_FAIL=$((T_FAIL + 1))
	echo "not ok $((T_PASS + T_FAIL)) - $T_NAME: $*"
}

t_diag() {
	echo "# $*"
}

# check DESC CMD...: passes when CMD succeeds.
check() {
	local desc=$1 out
	shift
	if out=$("$@" 2>&1); then
		t_ok "$desc"
	else
		t_fail "$desc"
		t_diag "command failed: $*"
		[ -n "$out" ] && echo "$out" | sed 's/^/#   /'
	fi
}

# check_fails DESC CMD...: passes when CMD fails.
check_fails() {
	local desc=$1
	shift
	if "$@" > /dev/null 2>&1; then
		t_fail "$desc"
		t_diag "command unexpectedly succeeded: $*"
	else
		t_ok "$desc"
	fi
}

# check_eq DESC EXPECTED ACTUAL
check_eq() {
	if [ "$2" = "$3" ]; then
		t_ok "$1"
	else
		t_fail "$1"
		t_diag "expected: '$2'"
		t_diag "     got: '$3'"
	fi
}

# check_exit EXPECTED_RC DESC CMD...: CMD exits EXPECTED_RC; its output
# (stdout and stderr) is in $OUT, and shown when the exit code is not.
check_exit() {
	local want=$1 desc=$2 rc
	shift 2
	OUT=$("$@" 2>&1)
	rc=$?
	if [ "$rc" = "$want" ]; then
		t_ok "$desc (exit $rc)"
	else
		t_fail "$desc: exit $rc, expected $want"
		t_diag "command: $*"
		echo "$OUT" | sed 's/^/#   /'
	fi
}

# msg_refused DEV DESC KERNEL-SENTENCE MESSAGE...: "dmsetup message DEV 0
# MESSAGE" fails, the kernel log says why, and DEV's status as the test's
# own snap() prints it (the fields a running pass moves left out) is
# unchanged.
msg_refused() {
	local dev=$1 desc=$2 says=$3 st
	shift 3
	st=$(snap)
	dmesg -c > /dev/null
	check_fails "$desc: refused" dmsetup message "$dev" 0 "$@"
	check_match "$desc: says why" "$says" "$(dmesg)"
	check_eq "$desc: nothing changed" "$st" "$(snap)"
}

# cmd_refused RC DESC SENTENCE CMD...: CMD (colosetup, say) exits RC, says
# SENTENCE, and leaves every dm device's table and status as they were.
cmd_refused() {
	local want=$1 desc=$2 says=$3 before after
	shift 3
	before=$(dmsetup table; dmsetup status)
	check_exit "$want" "$desc" "$@"
	after=$(dmsetup table; dmsetup status)
	check_match "$desc: says why" "$says" "$OUT"
	check_eq "$desc: nothing changed" "$before" "$after"
}

# check_match DESC PATTERN TEXT: grep -E PATTERN in TEXT.
check_match() {
	if echo "$3" | grep -qE -- "$2"; then
		t_ok "$1"
	else
		t_fail "$1"
		t_diag "pattern '$2' not found in:"
		echo "$3" | sed 's/^/#   /'
	fi
}

t_done() {
	T_DONE=1
	echo "# $T_NAME: $T_PASS passed, $T_FAIL failed"
	[ "$T_FAIL" -eq 0 ]
	exit $?
}

t_early_exit() {
	[ "$T_DONE" = 1 ] && return
	t_fail "script exited before t_done"
}
trap t_early_exit EXIT

# brd_setup NR SIZE_MIB: (re)load brd with NR RAM disks of SIZE_MIB each.
brd_setup() {
	rmmod brd 2> /dev/null
	insmod /lib/modules/brd.ko rd_nr="$1" rd_size=$(($2 * 1024)) || return 1
}

# Sectors of a block device.
dev_sectors() {
	blockdev --getsz "$1"
}

# Remove every dm device (ingress first: they hold their colo device open).
dm_cleanup() {
	local n
	for n in $(dmsetup ls --target colo-ingress 2>/dev/null | awk '{print $1}'); do
		dmsetup remove "$n" 2>/dev/null
	done
	dmsetup remove_all 2>/dev/null
}

# fsx_run DESC SHOW COLO-FSX-ARGS...: run the model checker; print its
# lines matching the grep -E pattern SHOW and one TAP line (DESC, its time);
# on failure, the tail of its report (with the command that replays it).
fsx_run() {
	local desc=$1 show=$2 start rc
	shift 2
	start=$(date +%s)
	colo-fsx "$@" > /tmp/fsx.log 2>&1
	rc=$?
	grep -E "$show|^colo-fsx:" /tmp/fsx.log
	if [ $rc = 0 ]; then
		t_ok "$desc ($(( $(date +%s) - start ))s)"
	else
		t_fail "$desc: colo-fsx exit $rc"
		grep -v '^colo-fsx: PASS' /tmp/fsx.log | tail -n 80 | sed 's/^/#   /'
	fi
	return $rc
}

# fault_leg_run CHUNK LEG DESC [COLO-FSX-ARGS...]: the model checker's
# fault mode (colo-fsx --fault) on a secondary "c" with ingress "c-ingress"
# over /dev/ram0-2 ($LEN sectors), its LEG (base|hidden|active) a dm-linear
# device "fleg" over the raw leg; $OPS ops and $EPS faults; DESC starts the
# TAP line, the extra arguments go to colo-fsx.
fault_leg_run() {
	local chunk=$1 leg=$2 desc=$3 B=/dev/ram0 H=/dev/ram1 A=/dev/ram2 lower seed
	shift 3
	dm_cleanup
	case $leg in
	base) lower=$B; B=/dev/mapper/fleg ;;
	hidden) lower=$H; H=/dev/mapper/fleg ;;
	active) lower=$A; A=/dev/mapper/fleg ;;
	esac
	dmsetup create fleg --table "0 $LEN linear $lower 0" &&
		dmsetup mknodes fleg &&
		dmsetup create c --table "0 $LEN colo secondary $B $H $A $chunk" &&
		dmsetup create c-ingress --table "0 $LEN colo-ingress $B" &&
		dmsetup mknodes || { t_fail "$desc: setup"; return 1; }
	seed=${FSX_SEED:-$(( $(date +%s) * 1000 + chunk * 3 + ${#leg} ))}
	fsx_run "$desc: $OPS ops, $EPS faults, seed $seed" \
		'^# (fault|colo-fsx:)' --name c --vm /dev/mapper/c \
		--ingress /dev/mapper/c-ingress --base /dev/ram0 \
		--hidden /dev/ram1 --active /dev/ram2 --chunk "$chunk" \
		--ops "$OPS" --fault "$leg" --fault-dm fleg \
		--fault-episodes "$EPS" --seed "$seed" "$@"
}

# field DEV N: the Nth word of DEV's status line (dm's "<start> <len> <type>"
# are the first three).
field() { dmsetup status "$1" | awk -v f="$2" '{ print $f }'; }

# events DEV: DEV's dm event counter.
events() { dmsetup info -c -o events --noheadings "$1" | tr -d ' '; }

# wait_field DEV FIELD REGEX SECONDS: poll the status until FIELD matches
# REGEX whole; on a timeout say what the status was.
wait_field() {
	local i=0
	while [ $i -lt $(($4 * 10)) ]; do
		field "$1" "$2" | grep -qE "^($3)$" && return 0
		sleep 0.1; i=$((i + 1))
	done
	t_diag "waited for field $2 ~ $3: $(dmsetup status "$1")"
	return 1
}

# Checksum of a whole device read with O_DIRECT (no stale page cache).
direct_sum() {
	dd if="$1" bs=1M iflag=direct 2>/dev/null | md5sum | cut -d' ' -f1
}

# nullb_setup NAME SIZE_MIB: a memory-backed null_blk disk /dev/NAME with a
# volatile write cache ("write back"), made through configfs: unlike brd, a
# flush (REQ_PREFLUSH) reaches the dm devices stacked on it and is counted
# in its stat (disk_flushes).
nullb_setup() {
	local d=/sys/kernel/config/nullb/$1
	[ -d /sys/module/null_blk ] ||
		insmod /lib/modules/null_blk.ko nr_devices=0 || return 1
	[ -d /sys/kernel/config/nullb ] ||
		mount -t configfs none /sys/kernel/config || return 1
	mkdir "$d" || return 1
	echo "$2" > "$d/size" && echo 1 > "$d/memory_backed" &&
		echo "$2" > "$d/cache_size" && echo 512 > "$d/blocksize" &&
		echo 1 > "$d/power" || return 1
	[ -b "/dev/$1" ] || mdev -s
	[ "$(cat "/sys/block/$1/queue/write_cache")" = "write back" ]
}

# nullb_remove NAME...: power off and delete null_blk disks (frees their memory).
nullb_remove() {
	local n
	for n in "$@"; do
		echo 0 > "/sys/kernel/config/nullb/$n/power" 2>/dev/null
		rmdir "/sys/kernel/config/nullb/$n" 2>/dev/null
	done
}

# fill_random DEV: random data over its first $MIB MiB (O_DIRECT).
fill_random() {
	dd if=/dev/urandom of="$1" bs=1M count="$MIB" oflag=direct 2>/dev/null
}

# chunk_sum DEV|FILE N: md5sum of its 4 KiB chunk N (O_DIRECT on a device;
# a file on the initramfs cannot be opened so).
chunk_sum() {
	if [ -b "$1" ]; then
		dd if="$1" bs=4k skip="$2" count=1 iflag=direct 2>/dev/null
	else
		dd if="$1" bs=4k skip="$2" count=1 2>/dev/null
	fi | md5sum
}

# fleece_checker DESC WRITE-DEV CHUNK [ARGS...]: colo-fleece-check, writes
# to WRITE-DEV, reads of /dev/mapper/f compared with $REF (base at the
# fleece's start), the released chunks kept in /tmp/fleece-state across
# runs; $CHECK_OPS ops if set, else $OPS; FSX_SEED fixes the seed.
fleece_checker() {
	local desc=$1 dev=$2 chunk=$3 ops=${CHECK_OPS:-$OPS} seed start rc
	shift 3
	seed=${FSX_SEED:-$(( $(date +%s) * 1000 + chunk ))}
	start=$(date +%s)
	colo-fleece-check --write "$dev" --fleece /dev/mapper/f --ref "$REF" \
		--chunk "$chunk" --ops "$ops" --seed "$seed" \
		--state /tmp/fleece-state "$@" > /tmp/fc.log 2>&1
	rc=$?
	grep '^colo-fleece-check:' /tmp/fc.log | tail -n 1 | sed 's/^/# /'
	if [ $rc = 0 ]; then
		t_ok "$desc: $ops ops, seed $seed ($(( $(date +%s) - start ))s)"
	else
		t_fail "$desc: colo-fleece-check exit $rc (seed $seed)"
		tail -n 20 /tmp/fc.log | sed 's/^/#   /'
	fi
}

# Flush requests a disk completed (field 16 of /sys/block/DEV/stat).
disk_flushes() {
	awk '{ print $16 }' "/sys/block/$1/stat"
}

# ftrace_start FUNC...: count the calls of the kernel functions FUNC (a
# module's static functions too) with the function tracer, which Debian's
# kernels have; fails when tracefs or a function is not there. The counts
# are read with ftrace_count once ftrace_stop stopped the tracer.
FTRACE=/sys/kernel/tracing
ftrace_start() {
	[ -e $FTRACE/current_tracer ] ||
		mount -t tracefs nodev $FTRACE 2>/dev/null || return 1
	# The braces: a redirection the shell cannot open reports before 2>.
	{ echo "$*" > $FTRACE/set_ftrace_filter; } 2>/dev/null || return 1
	echo 16384 > $FTRACE/buffer_size_kb
	echo > $FTRACE/trace
	echo 1 > $FTRACE/tracing_on
	# Armed at boot (kernel/vm-init says why): only the filter changes.
	[ "$(cat $FTRACE/current_tracer)" = function ] ||
		echo function > $FTRACE/current_tracer
}
ftrace_stop() {
	echo 0 > $FTRACE/tracing_on
	grep -oE ' [a-z_0-9]+ <-' $FTRACE/trace | sort | uniq -c > /tmp/ftrace.counts
	# Back to the function nobody calls; the tracer stays on.
	echo sys_ni_syscall > $FTRACE/set_ftrace_filter
	echo > $FTRACE/trace
}
# ftrace_count FUNC: the calls of FUNC between ftrace_start and ftrace_stop
# (a lower bound: a full ring buffer drops the oldest).
ftrace_count() {
	awk -v f="$1" '$2 == f { n = $1 } END { print n + 0 }' /tmp/ftrace.counts
}
