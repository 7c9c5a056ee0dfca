#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Allocation failures, in the debug lane only (its kernel has failslab and
# fail_page_alloc; Debian's have not). Both are scoped with task-filter: a
# failure only hits a task whose make-it-fail is set. Marked are the test's
# own I/O tasks (colo-dio with COLO_DIO_MAKE_IT_FAIL=1, the model checker's
# VM and ingress threads with --make-it-fail: dm-colo's map runs in them)
# and the kernel threads that run dm-colo's work: every kworker and the
# dm-colo rescuer (and kcopyd's, from before the copy engine), marked again
# every 0.2 s while a case runs (the pools start new workers). So a failure
# can hit dm-colo's map, its worker, the commit and the mirror, the copy
# engine and dm-io. (The stack-trace
# filter that would scope it to one function does not exist on x86-64.)
#
# 1. Each site of dm-colo made to fail on purpose (every allocation of the
#    marked tasks fails, up to a budget of 20 or 40), with the outcome the README
#    gives (while the budget lasts): a VM write to a clean chunk whose active leaf cannot be had, an
#    ingress write whose hidden leaf cannot, a primary write whose dirty
#    leaf cannot (map, then the worker): each succeeds, later, with the
#    data in place, a log line naming the bitmap, health ok. The commit's
#    and the mirror's copy jobs: the commit ends with base equal to the
#    view, the mirror in sync with the replica equal to base.
# 2. The model checker with random failures: COLO_T_FAILALLOC_PCT percent
#    of the marked tasks' allocations fail (at most COLO_T_FAILALLOC_TIMES
#    of each kind), in secondary mode with a failover and in mirror mode
#    (COLO_T_FAILALLOC_OPS ops each, chunk sizes 1 and 8), and in async
#    mirror mode (chunk size 8): no op may fail,
#    every read is exact, a message refused with ENOMEM is sent again.
# The lane's kmemleak-end.sh then shows that nothing leaked.
. /tests/lib.sh

D=/sys/kernel/debug
mount -t debugfs none $D 2>/dev/null
PCT=${COLO_T_FAILALLOC_PCT:-5}
TIMES=${COLO_T_FAILALLOC_TIMES:-3000}
OPS=${COLO_T_FAILALLOC_OPS:-1500}

if [ ! -d $D/failslab ] || [ ! -d $D/fail_page_alloc ]; then
	t_fail "failslab and fail_page_alloc are not in this kernel (run it in the debug lane)"
	t_done
fi

# inject ATTR PROBABILITY TIMES: arm (or, with 0, disarm) failslab or
# fail_page_alloc for the marked tasks, for every allocation they make
# (sleeping ones and order-0 pages too).
inject() {
	echo 0 > $D/$1/probability
	echo Y > $D/$1/task-filter
	echo N > $D/$1/ignore-gfp-wait
	echo 1 > $D/$1/interval
	echo 1 > $D/$1/verbose
	echo 0 > $D/$1/space
	if [ "$1" = fail_page_alloc ]; then
		echo N > $D/$1/ignore-gfp-highmem
		echo 0 > $D/$1/min-order
	fi
	echo "$3" > $D/$1/times
	echo "$2" > $D/$1/probability
}

disarm() {
	inject failslab 0 0
	inject fail_page_alloc 0 0
}

# What was injected: TIMES minus what is left.
injected() {
	echo $(($2 - $(cat $D/$1/times)))
}

# The kernel threads that run dm-colo's work, marked until unmark.
mark_workers() {
	: > /tmp/marking
	(
		while [ -e /tmp/marking ]; do
			for p in /proc/[0-9]*; do
				{ read -r c < "$p/comm"; } 2>/dev/null || continue
				case $c in
				kworker*|kcopyd|dm-colo) echo 1 > "$p/make-it-fail" 2>/dev/null ;;
				esac
			done
			sleep 0.2
		done
	) &
	MARKER=$!
	sleep 0.5
}

unmark_workers() {
	rm -f /tmp/marking
	wait "$MARKER" 2>/dev/null
	for p in /proc/[0-9]*; do
		echo 0 > "$p/make-it-fail" 2>/dev/null
	done
}

kmsg_mark() { dmesg | wc -l; }
kmsg_since() { dmesg | tail -n +"$(($1 + 1))"; }

# A test pattern as large as a leg: one byte value (octal) throughout.
pattern() {
	dd if=/dev/zero bs=1M count=8 2>/dev/null | tr '\0' "\\$1" > "$2"
}

brd_setup 4 8
LEN=$(dev_sectors /dev/ram0)
# brd allocates its pages on the first write, in the writer's task: fill
# every leg first, so that only dm-colo's own allocations meet the faults.
for r in 0 1 2 3; do
	dd if=/dev/zero of=/dev/ram$r bs=1M 2>/dev/null
done
pattern 101 /tmp/pa
pattern 142 /tmp/pb

# site DESC BITMAP DEV OFFSET: one 4 KiB write by a marked task, with every
# page allocation of the marked tasks failing, 20 times at most (the leaf's
# first try is among them, and each retry takes one); it must succeed, with
# the data in place, after the log named BITMAP.
site() {
	local desc=$1 bm=$2 dev=$3 off=$4 m rc
	# dm's rate limit (10 lines per 5 s) may hide the line after a case
	# that printed many.
	sleep 6
	m=$(kmsg_mark)
	mark_workers
	inject fail_page_alloc 100 20
	COLO_DIO_MAKE_IT_FAIL=1 colo-dio write "$dev" "$off" 4096 /tmp/pa
	rc=$?
	n=$(injected fail_page_alloc 20)
	disarm
	unmark_workers
	check_eq "$desc: the write succeeds (exit status)" 0 "$rc"
	check_match "$desc: page allocations made to fail ($n)" '^[1-9]' "$n"
	check_match "$desc: the log names the $bm bitmap" \
		"no memory for the $bm bitmap, I/O retried" "$(kmsg_since "$m")"
	colo-dio read "$dev" "$off" 4096 /tmp/rd
	check_eq "$desc: the data is in place" \
		"$(dd if=/tmp/pa bs=4096 skip=$((off / 4096)) count=1 2>/dev/null | md5sum)" \
		"$(md5sum < /tmp/rd)"
}

# --- 1. each site ------------------------------------------------------------
dm_cleanup
dmsetup create c --table "0 $LEN colo secondary /dev/ram0 /dev/ram1 /dev/ram2 8" &&
	dmsetup create c-ingress --table "0 $LEN colo-ingress /dev/ram0" &&
	dmsetup mknodes || t_fail "secondary: setup"
site "VM write, active leaf" active /dev/mapper/c 8192
site "ingress write, hidden leaf" hidden /dev/mapper/c-ingress 65536
check_eq "secondary: health ok after both" ok "$(field c 14)"

# The commit's copy jobs: VM writes to 64 chunks, then a failover whose
# commit runs with the workers' slab allocations failing.
for i in $(seq 0 63); do
	colo-dio write /dev/mapper/c $((i * 65536)) 4096 /tmp/pb || break
done
view=$(direct_sum /dev/mapper/c)
dmsetup remove c-ingress
m=$(kmsg_mark)
mark_workers
inject failslab 100 40
check "failover" dmsetup message c 0 failover
wait_field c 8 done 120 || t_fail "the commit did not end under slab failures"
n=$(injected failslab 40)
disarm
unmark_workers
check_eq "commit: done" done "$(field c 8)"
check_match "commit: slab allocations made to fail ($n)" '^[1-9]' "$n"
check_match "commit: the log tells of copy jobs tried again" \
	"no memory for a copy job, tried again later" "$(kmsg_since "$m")"
check_eq "commit: base is the VM's view" "$view" "$(direct_sum /dev/ram0)"
check_eq "commit: the view is unchanged" "$view" "$(direct_sum /dev/mapper/c)"
check_eq "commit: health ok" ok "$(field c 14)"

# The dirty leaf, on a fresh primary (map with GFP_NOWAIT, then the worker).
dm_cleanup
dmsetup create p --table "0 $LEN colo primary /dev/ram0 8" && dmsetup mknodes ||
	t_fail "primary: setup"
site "primary write, dirty leaf" dirty /dev/mapper/p 4096

# The mirror's copy jobs: a full pass with the workers' slab allocations
# failing, then VM writes while it runs.
m=$(kmsg_mark)
mark_workers
inject failslab 100 40
check "mirror start full" dmsetup message p 0 mirror start /dev/ram3 full
for i in $(seq 0 15); do
	colo-dio write /dev/mapper/p $((i * 131072)) 4096 /tmp/pb || break
done
wait_field p 11 in-sync 120 || t_fail "the mirror did not reach in-sync under slab failures"
n=$(injected failslab 40)
disarm
unmark_workers
check_eq "mirror: in-sync" in-sync "$(field p 11)"
check_match "mirror: slab allocations made to fail ($n)" '^[1-9]' "$n"
check_eq "mirror: the replica is base" "$(direct_sum /dev/ram0)" "$(direct_sum /dev/ram3)"
check "mirror stop" dmsetup message p 0 mirror stop

# --- 2. the model checker with random failures --------------------------------
# fsx_failing WHAT FILTER ARGS...: the model checker (ARGS) with the marked
# tasks' slab and page allocations failing at random; the check is named
# "chunk $chunk, WHAT".
fsx_failing() {
	local what=$1 filter=$2
	shift 2
	mark_workers
	inject failslab "$PCT" "$TIMES"
	inject fail_page_alloc "$PCT" "$TIMES"
	fsx_run "chunk $chunk, $PCT% of allocations failing: $OPS ops, $what, seed $seed" \
		"$filter" "$@" --chunk "$chunk" --ops "$OPS" --make-it-fail \
		--retry-enomem --seed "$seed"
	t_diag "injected: $(injected failslab "$TIMES") slab, $(injected fail_page_alloc "$TIMES") page allocation failures"
	check_match "chunk $chunk, $what: allocations were made to fail" '^[1-9]' \
		"$(( $(injected failslab "$TIMES") + $(injected fail_page_alloc "$TIMES") ))"
	disarm
	unmark_workers
}

for chunk in 1 8; do
	dm_cleanup
	dmsetup create c --table "0 $LEN colo secondary /dev/ram0 /dev/ram1 /dev/ram2 $chunk" &&
		dmsetup create c-ingress --table "0 $LEN colo-ingress /dev/ram0" &&
		dmsetup mknodes || { t_fail "chunk $chunk: setup"; continue; }
	seed=${FSX_SEED:-$(( $(date +%s) * 1000 + chunk ))}
	fsx_failing failover '^# (failover|colo-fsx:)' --name c \
		--vm /dev/mapper/c --ingress /dev/mapper/c-ingress \
		--base /dev/ram0 --hidden /dev/ram1 --active /dev/ram2 \
		--checkpoint-every 200 --failover

	# Mirror mode, then (chunk 8) async mode: a background write's record
	# at map (slab) or its pages in the sender (pages) failing sends the
	# write ahead.
	for mode in mirror async; do
		[ $mode = mirror ] || [ "$chunk" = 8 ] || continue
		dm_cleanup
		dmsetup create p --table "0 $LEN colo primary /dev/ram0 $chunk" &&
			dmsetup create rep --table "0 $LEN linear /dev/ram3 0" &&
			dmsetup mknodes || { t_fail "chunk $chunk: $mode setup"; continue; }
		set -- --name p --vm /dev/mapper/p --base /dev/ram0 --mirror \
			--replica /dev/mapper/rep --replica-dm rep \
			--replica-lower /dev/ram3 --vm-threads 2 --ingress-threads 0
		if [ $mode = mirror ]; then
			fsx_failing mirror '^# colo-fsx:' "$@"
		else
			fsx_failing "async mirror (max_lag 64 KiB)" '^# colo-fsx:' \
				"$@" --mirror-async 64
		fi
	done
done
dm_cleanup
t_done
