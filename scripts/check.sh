#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# check.sh (make check): install what is missing, then run every suite:
# userspace unit tests, the model checker's selftest (scripts/selftest.sh), lint (checkpatch, sparse W=1), dkms builds,
# the Debian packages (deb: scripts/deb-check.sh builds, lintian, installs
# them on this host, DKMS for every kernel, and purges them), KUnit
# under UML, the VM tests on every kernel of kernel/kernels, and the debug
# lane (vm-debug: tests/debug-list on the debug kernel of
# scripts/debug-kernel.sh, built once and cached; a cold build runs in
# the background, at idle priority, from the first VM lane on), and the
# host-crash tests on every kernel (crash-6.1 ...: scripts/crash.sh,
# COLO_CRASH_POINTS crash points each, 40 by default). Each suite
# ends with "<suite>: N passed, N failed"; the last line sums them all.
#
#   scripts/check.sh [SUITE...]   SUITE: userspace lint dkms deb kunit vm-6.1 ... crash-6.1 ... vm-debug
set -uo pipefail
. "$(dirname "$0")/lib.sh"
cd "$top"

"$top/scripts/deps.sh" || { echo "check: installing dependencies failed"; echo "0 passed, 1 failed"; exit 1; }

suites=("$@")
if [ ${#suites[@]} -eq 0 ]; then
	suites=(userspace selftest lint dkms deb kunit)
	for k in $(colo_kernels); do suites+=("vm-$k"); done
	for k in $(colo_kernels); do suites+=("crash-$k"); done
	suites+=(vm-debug)
fi

run_suite() {
	case "$1" in
	userspace) make -s -C userspace check ;;
	selftest) scripts/selftest.sh ;;
	lint) scripts/lint.sh ;;
	dkms) scripts/dkms-check.sh ;;
	deb) scripts/deb-check.sh ;;
	kunit) scripts/kunit.sh ;;
	vm-*) scripts/vm.sh --kernel "${1#vm-}" --timeout "${COLO_VM_TIMEOUT:-2400}" ;;
	crash-*) scripts/crash.sh --kernel "${1#crash-}" --points "${COLO_CRASH_POINTS:-40}" ;;
	*) echo "check: unknown suite $1"; return 2 ;;
	esac
}

# The debug kernel's cold build (5 to 8 minutes of both cores, CI's cache
# is empty) runs in the background from the first VM lane on, at
# SCHED_IDLE: it takes only what the VMs leave idle (a VM lane used
# about one host core of two on average), never a vCPU's share.
# vm-debug's own call of scripts/debug-kernel.sh waits for it on the
# build's lock and finds it built; if it failed, that call builds again
# and the lane reports why.
debug_pid=
debug_prebuild() {
	local idle=
	[ -z "$debug_pid" ] || return 0
	printf '%s\n' "${suites[@]}" | grep -qx vm-debug || return 0
	chrt --idle 0 true 2> /dev/null && idle="chrt --idle 0"
	$idle nice -n 19 scripts/debug-kernel.sh > .build/debug-kernel.log 2>&1 &
	debug_pid=$!
	echo "# check: the debug kernel builds in the background (pid $debug_pid, .build/debug-kernel.log)"
}
# On the way out, a build still running goes, with its make and compilers.
kill_tree() {
	local c
	for c in $(pgrep -P "$1"); do kill_tree "$c"; done
	kill "$1" 2> /dev/null
}
trap '[ -z "$debug_pid" ] || kill_tree "$debug_pid"' EXIT

mkdir -p .build
total_pass=0 total_fail=0
summary=()
for s in "${suites[@]}"; do
	echo "=== $s"
	case "$s" in
	vm-debug)
		[ -z "$debug_pid" ] || grep -h '^# debug-kernel:' .build/debug-kernel.log ;;
	vm-* | crash-*) debug_prebuild ;;
	esac
	start=$(date +%s)
	run_suite "$s" 2>&1 | tee ".build/check-$s.log"
	rc=${PIPESTATUS[0]}
	line=$(grep -E '^[a-z0-9.-]+: [0-9]+ passed, [0-9]+ failed$' ".build/check-$s.log" | tail -n 1)
	p=$(sed -n 's/.*: \([0-9]*\) passed, \([0-9]*\) failed$/\1/p' <<< "$line")
	f=$(sed -n 's/.*: \([0-9]*\) passed, \([0-9]*\) failed$/\2/p' <<< "$line")
	p=${p:-0} f=${f:-0}
	# A suite that failed without counting a failure, or ran nothing, fails.
	if { [ "$rc" != 0 ] && [ "$f" = 0 ]; } || [ $((p + f)) = 0 ]; then
		f=$((f + 1))
	fi
	total_pass=$((total_pass + p))
	total_fail=$((total_fail + f))
	summary+=("$(printf '%-10s %4d passed, %3d failed  %4ds' "$s" "$p" "$f" $(( $(date +%s) - start )))")
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
