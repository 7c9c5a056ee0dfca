#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# check.sh (make check): install what is missing, then run every suite:
# userspace unit tests, the model checker's selftest (scripts/selftest.sh), lint (checkpatch, sparse W=1), dkms builds,
# the Debian packages (deb: scripts/deb-check.sh builds, lintian, installs
# them on this host, DKMS for every kernel, and purges them), KUnit
# under UML, the VM tests on every kernel of kernel/kernels, and the debug
# lane (vm-debug: tests/debug-list on the debug kernel of
# scripts/debug-kernel.sh, built once and cached), and the host-crash
# tests on every kernel (crash-6.1 ...: scripts/crash.sh,
# COLO_CRASH_POINTS crash points each, 40 by default). Each suite
# ends with "<suite>: N passed, N failed"; the last line sums them all.
#
#   scripts/check.sh [SUITE...]   SUITE: userspace lint dkms deb kunit vm-6.1 ... crash-6.1 ... vm-debug
#
# The host suites run one after the other, first, with their output as it
# comes. Then the long ones (kunit, the VM lanes, the crash lanes) run
# COLO_CHECK_JOBS at a time (2 by default; 1 runs them one by one), each
# taking the next from the list when one ends; a suite's output is printed
# whole when it ends, and kept in .build/check-<suite>.log. A VM lane
# under TCG used about one host core of two (its guest waits on delays,
# timers and its own second vCPU), so two lanes side by side end sooner
# than one after the other, though each runs slower: in a warm run
# (2026-12-07) vm-6.1 took 1919 s beside vm-debug and vm-6.12, 1271 s
# alone; make check took 47 to 49 minutes, 75 in CI one by one. They share no build
# directory: each kernel's module and initramfs live in .build/<kver>/,
# and everything the lanes share (userspace/, tests/src/, both kernels'
# modules) is built before they start, so their own builds find it done.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
cd "$top"

"$top/scripts/deps.sh" || { echo "check: installing dependencies failed"; echo "0 passed, 1 failed"; exit 1; }

suites=("$@")
if [ ${#suites[@]} -eq 0 ]; then
	suites=(userspace selftest lint dkms deb)
	# The long suites, longest first (vm-debug with its kernel's cold
	# build), so that the last to end is a short one.
	suites+=(vm-debug)
	for k in $(colo_kernels); do suites+=("vm-$k"); done
	suites+=(kunit)
	for k in $(colo_kernels); do suites+=("crash-$k"); done
fi
jobs=${COLO_CHECK_JOBS:-2}

run_suite() {
	case "$1" in
	userspace) make -s -C userspace check ;;
	selftest) scripts/selftest.sh ;;
	lint) scripts/lint.sh ;;
	dkms) scripts/dkms-check.sh ;;
	deb) scripts/deb-check.sh ;;
	kunit) scripts/kunit.sh ;;
	vm-*)
		scripts/vm.sh --kernel "${1#vm-}" --timeout "${COLO_VM_TIMEOUT:-3600}"
		local rc=$?
		# How the debug kernel's background build went (debug_prebuild()).
		[ "$1" != vm-debug ] || grep -h '^# debug-kernel:' .build/debug-kernel.log 2> /dev/null
		return $rc ;;
	crash-*) scripts/crash.sh --kernel "${1#crash-}" --points "${COLO_CRASH_POINTS:-40}" ;;
	*) echo "check: unknown suite $1"; return 2 ;;
	esac
}
is_long() {
	case "$1" in kunit | vm-* | crash-*) return 0 ;; esac
	return 1
}

# The debug kernel's cold build (5 to 8 minutes of both cores, CI's cache
# is empty) starts in the background before the first suite, at
# SCHED_IDLE: it takes only what the other suites leave idle, never a
# vCPU's share. vm-debug's own call of scripts/debug-kernel.sh waits for
# it on the build's lock and finds it built; if it failed, that call
# builds again and the lane reports why.
debug_pid=
debug_prebuild() {
	local idle=
	printf '%s\n' "${suites[@]}" | grep -qx vm-debug || return 0
	chrt --idle 0 true 2> /dev/null && idle="chrt --idle 0"
	$idle nice -n 19 scripts/debug-kernel.sh > .build/debug-kernel.log 2>&1 &
	debug_pid=$!
	echo "# check: the debug kernel builds in the background (pid $debug_pid, .build/debug-kernel.log)"
}
# On the way out, whatever still runs goes, with its children.
kill_tree() {
	local c
	for c in $(pgrep -P "$1"); do kill_tree "$c"; done
	kill "$1" 2> /dev/null
}
workers=()
cleanup() {
	local p
	for p in $debug_pid "${workers[@]+"${workers[@]}"}"; do kill_tree "$p"; done
}
trap cleanup EXIT

# run_one SUITE: run it into .build/check-SUITE.log, and leave
# "PASSED FAILED SECONDS" in .build/check-SUITE.result.
run_one() {
	local s=$1 start rc line p f
	start=$(date +%s)
	if [ "${2:-}" = live ]; then
		run_suite "$s" 2>&1 | tee ".build/check-$s.log"
		rc=${PIPESTATUS[0]}
	else
		run_suite "$s" > ".build/check-$s.log" 2>&1
		rc=$?
	fi
	line=$(grep -E '^[a-z0-9.-]+: [0-9]+ passed, [0-9]+ failed$' ".build/check-$s.log" | tail -n 1)
	p=$(sed -n 's/.*: \([0-9]*\) passed, \([0-9]*\) failed$/\1/p' <<< "$line")
	f=$(sed -n 's/.*: \([0-9]*\) passed, \([0-9]*\) failed$/\2/p' <<< "$line")
	p=${p:-0} f=${f:-0}
	# A suite that failed without counting a failure, or ran nothing, fails.
	if { [ "$rc" != 0 ] && [ "$f" = 0 ]; } || [ $((p + f)) = 0 ]; then
		f=$((f + 1))
	fi
	echo "$p $f $(( $(date +%s) - start ))" > ".build/check-$s.result"
}

# A worker of the pool: it takes the next long suite from the list (under
# a lock; the list's next index is in .build/check-next), runs it, and
# prints its output whole when it ends.
pool=()
next_suite() {
	local i
	exec 8> .build/check-next.lock
	flock 8
	i=$(cat .build/check-next)
	echo $((i + 1)) > .build/check-next
	exec 8>&-
	[ "$i" -lt ${#pool[@]} ] && echo "${pool[$i]}"
}
worker() {
	local s
	while s=$(next_suite); do
		echo "# check: $s started"
		run_one "$s"
		{
			flock 7
			echo "=== $s"
			cat ".build/check-$s.log"
		} 7> .build/check-out.lock
	done
}

mkdir -p .build
rm -f .build/check-*.result
debug_prebuild
for s in "${suites[@]}"; do
	if is_long "$s"; then
		pool+=("$s")
		continue
	fi
	echo "=== $s"
	run_one "$s" live
done

if [ ${#pool[@]} -gt 0 ]; then
	# What the lanes share, built once before they start.
	for k in $(printf '%s\n' "${pool[@]}" | sed -n 's/^\(vm\|crash\)-\([0-9.]*\)$/\2/p' | sort -u); do
		kver=$(colo_kver "$k") && scripts/build-module.sh "$kver" > /dev/null
	done
	make -s -C userspace
	[ -f tests/src/Makefile ] && make -s -C tests/src
	echo 0 > .build/check-next
	echo "# check: ${pool[*]}: $jobs at a time"
	for ((j = 0; j < jobs; j++)); do
		worker &
		workers+=($!)
	done
	wait "${workers[@]}"
fi

total_pass=0 total_fail=0
summary=()
for s in "${suites[@]}"; do
	read -r p f secs < ".build/check-$s.result" 2> /dev/null || { p=0 f=1 secs=0; }
	total_pass=$((total_pass + p))
	total_fail=$((total_fail + f))
	summary+=("$(printf '%-10s %4d passed, %3d failed  %4ds' "$s" "$p" "$f" "$secs")")
done

# What failed, again, just above the summary: CI keeps only the end of the
# output, and a lane's own lines (a console excerpt of a VM that stopped)
# may be thousands of lines up.
if [ "$total_fail" != 0 ]; then
	echo "=== failures"
	for s in "${suites[@]}"; do
		{
			grep -E -A6 '^not ok [0-9]' ".build/check-$s.log" |
				grep -E '^not ok [0-9]|^#   |^# expected: ' |
				head -n 30
			grep -E '^not ok - |^# console: ' ".build/check-$s.log" |
				head -n 50
		} 2>/dev/null | sed "s/^/$s: /"
	done
fi
echo "=== summary"
printf '%s\n' "${summary[@]}"
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" = 0 ]
