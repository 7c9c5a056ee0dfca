#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# bench.sh (make bench): one VM boot per kernel of kernel/kernels running
# tests/bench/run.sh, then the tables. For each kernel K it writes
#   bench/K.md            the tables, with the kernel release and the date
#   bench/K-fio.tar.gz    the raw fio JSON of every run (and the VM's log)
# and bench/RESULTS.md (every kernel), which also replaces the block between
# the "bench:begin" and "bench:end" markers of the README.
#
#   scripts/bench.sh [KERNEL...]
#   scripts/bench.sh --report     the tables again from the kept raw output
#                                 (bench/K-fio.tar.gz), no VM
#
# Sizes: BENCH_REPS (rounds of every comparison), BENCH_RUNTIME,
# BENCH_MIB, BENCH_FIRST_IOS, BENCH_COPY_CHUNKS, BENCH_CKPT_REPS,
# BENCH_CKPT_BIG_REPS, BENCH_CKPT_HUGE_REPS, BENCH_FIO_CPU (see
# tests/bench/run.sh), BENCH_META_* for the metadata device's rows
# (tests/bench/meta.sh), BENCH_RESYNC_MIN and BENCH_RESYNC_FIXED for the
# resync's (tests/bench/resync.sh), BENCH_ASYNC_LAG and BENCH_ASYNC_DELAYS
# for the async mirror's (tests/bench/async.sh). BENCH_VM_TIMEOUT (3600) limits each boot.
#
# BENCH_ONLY=SECTION[,SECTION...] (secondary, ingress, mirror, copy, ckpt,
# meta, resync, async, fleece: the files of tests/bench/) runs only those sections (one shorter
# boot per kernel) and puts their figures into bench/K-fio.tar.gz in place
# of the ones there, beside the other figures of the last full run (kept as
# they were); their boot's log is bench/vm-SECTION.log in it, and the
# tables say which boot each part is from. A full run replaces everything.
#
# BENCH_INIT_ON_ALLOC0=1 adds a second boot per kernel with init_on_alloc=0
# on the kernel command line that runs the copy section again (when the run
# includes it); its output is bench/ioa0/ in the tar, and the report shows
# its copy table beside the default one.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$top"

report_only=0
if [ "${1:-}" = --report ]; then
	report_only=1
	shift
fi
kernels=("$@")
[ ${#kernels[@]} -gt 0 ] || mapfile -t kernels < <(colo_kernels)

mkdir -p bench .build
date=$(date -u +%Y-%m-%d)
rc=0
# Sections run alone (BENCH_ONLY), checked against bench-report.py's list.
mapfile -t all_sections < <(python3 scripts/bench-report.py --sections)
only=()
only_list=${BENCH_ONLY:-}
for s in ${only_list//,/ }; do
	if ! printf '%s\n' "${all_sections[@]}" | grep -qx -- "$s"; then
		echo "bench: BENCH_ONLY=$BENCH_ONLY: no section $s (${all_sections[*]})" >&2
		exit 2
	fi
	only+=("$s")
done
ioa0=0
if [ "${BENCH_INIT_ON_ALLOC0:-0}" = 1 ]; then
	if [ ${#only[@]} = 0 ] || printf '%s\n' "${only[@]}" | grep -qx copy; then
		ioa0=1
	fi
fi

# report K: bench/K.md from bench/K-fio.tar.gz; the kernel release, the date
# and the VM's run time are read back from the run's own log.
report() {
	local k=$1 raw=.build/bench-$1 log kver secs day
	rm -rf "$raw"
	mkdir -p "$raw"
	tar -C "$raw" -xzf "bench/$k-fio.tar.gz" || return 1
	log=$raw/bench/vm.log
	[ -f "$log" ] || log=$(ls "$raw"/bench/vm-*.log 2> /dev/null | head -n 1)
	[ -n "$log" ] || return 1
	kver=$(sed -n 's/^# vm-[^:]*: booting \([^ ]*\) .*/\1/p' "$log" | head -n 1)
	secs=$(sed -n 's/^# vm-[^:]*: VM ran \([0-9]*\)s$/\1/p' "$log" | tail -n 1)
	day=$(sed -n 's/^# BENCH-DATE //p' "$log" | tail -n 1)
	python3 scripts/bench-report.py --kernel "${kver:-$k}" --date "${day:-$date}" \
		${secs:+--seconds "$secs"} "$raw/bench" > "bench/$k.md"
}

# boot K DIR [VM.SH-ARGS...]: one VM running tests/bench/run.sh (with the
# environment's BENCH_ONLY), its raw output unpacked into DIR (DIR/bench)
# and its log, without the tar, in DIR/bench/vm.log.
boot() {
	local k=$1 dir=$2 log=.build/bench-$1.log
	shift 2
	if ! scripts/vm.sh --kernel "$k" --mem 3072 --timeout "${BENCH_VM_TIMEOUT:-3600}" \
		"$@" bench/run.sh 2>&1 | tee "$log"; then
		echo "bench: the run on $k failed (see $log)"
		rc=1
	fi
	rm -rf "$dir"
	mkdir -p "$dir"
	if ! sed -n '/^# BENCH-TAR-BEGIN/,/^# BENCH-TAR-END/p' "$log" | sed '1d;$d' |
		base64 -d | tar -C "$dir" -xz; then
		echo "bench: no raw output came back from the $k VM"
		rc=1
		return 1
	fi
	{
		sed '/^# BENCH-TAR-BEGIN/,/^# BENCH-TAR-END/d' "$log"
		echo "# BENCH-DATE $date"
	} > "$dir/bench/vm.log"
}

if [ "$report_only" = 1 ]; then
	for k in "${kernels[@]}"; do
		report "$k" || { echo "bench: no raw output for $k (make bench)"; rc=1; }
	done
	kernels=()
else
	"$top/scripts/deps.sh"
fi
for k in "${kernels[@]}"; do
	kver=$(colo_kver "$k")
	raw=.build/bench-$k
	echo "=== bench on $kver${only[*]:+ (${only[*]})}"
	new=.build/bench-new-$k
	boot "$k" "$new" || continue
	if [ ${#only[@]} = 0 ]; then
		rm -rf "$raw"
		mv "$new" "$raw"
	else
		# Each section's files replace their namesakes in the kept output.
		rm -rf "$raw"
		mkdir -p "$raw"
		[ -f "bench/$k-fio.tar.gz" ] && tar -C "$raw" -xzf "bench/$k-fio.tar.gz"
		mkdir -p "$raw/bench/fio"
		# The full run's date, for output kept from before bench.sh wrote it.
		if [ -f "$raw/bench/vm.log" ] && ! grep -q '^# BENCH-DATE' "$raw/bench/vm.log"; then
			day=$(sed -n '1s/^# Kernel [^,]*, //p' "bench/$k.md" 2> /dev/null)
			[ -n "$day" ] && echo "# BENCH-DATE $day" >> "$raw/bench/vm.log"
		fi
		for s in "${only[@]}"; do
			for pre in $(python3 scripts/bench-report.py --prefixes "$s"); do
				find "$raw/bench/fio" -name "$pre*.json" -delete
				find "$new/bench/fio" -name "$pre*.json" -exec cp {} "$raw/bench/fio/" \;
			done
			cp "$new/bench/vm.log" "$raw/bench/vm-$s.log"
		done
		rm -rf "$new"
	fi
	if [ "$ioa0" = 1 ]; then
		echo "=== bench on $kver with init_on_alloc=0 (copy)"
		if BENCH_ONLY=copy boot "$k" "$new" --append init_on_alloc=0; then
			rm -rf "$raw/bench/ioa0"
			mv "$new/bench" "$raw/bench/ioa0"
			rm -rf "$new"
		fi
	fi
	tar -C "$raw" -czf "bench/$k-fio.tar.gz" bench
	report "$k" && cat "bench/$k.md"
done

{
	echo "# dm-colo benchmark"
	echo
	accel=$(sed -n 's/^# vm-[^:]*: booting [^ ]* (\([a-z]*\)).*/\1/p' \
		.build/bench-*/bench/vm*.log 2> /dev/null | sort -u | paste -sd/)
	case "$accel" in
	tcg) accel="software emulation (TCG)" ;;
	kvm) accel=KVM ;;
	esac
	# The dates of the runs the tables come from (today's if unknown).
	full=$(sed -n 's/^# BENCH-DATE //p' .build/bench-*/bench/vm.log 2> /dev/null | sort | tail -n 1) || true
	made="Made by \`make bench\` on ${full:-$date}"
	for s in "${all_sections[@]}"; do
		part=$(sed -n 's/^# BENCH-DATE //p' .build/bench-*/bench/vm-"$s".log 2> /dev/null |
			sort | tail -n 1) || true
		[ -n "$part" ] &&
			made="$made; the $s rows by \`BENCH_ONLY=$s scripts/bench.sh\` on $part"
	done
	part=$(sed -n 's/^# BENCH-DATE //p' .build/bench-*/bench/ioa0/vm.log 2> /dev/null |
		sort | tail -n 1) || true
	[ -n "$part" ] && made="$made; the copy rows with init_on_alloc=0 on $part"
	echo "$made." \
		"QEMU $(qemu-system-x86_64 --version | head -n 1 | awk '{ print $4 }')," \
		"${accel:-accelerator unknown}, $(nproc) host cores."
	for k in $(colo_kernels); do
		[ -f "bench/$k.md" ] && { echo; sed 's/^#/##/' "bench/$k.md"; }
	done
} > bench/RESULTS.md

# The README shows the newest tables, between its markers.
if grep -q '^<!-- bench:begin -->' README; then
	awk -v f=bench/RESULTS.md '
		/^<!-- bench:begin -->/ { print; while ((getline l < f) > 0) if (l !~ /^# dm-colo benchmark/) print l; skip = 1; next }
		/^<!-- bench:end -->/ { skip = 0 }
		!skip' README > .build/README.new && mv .build/README.new README
fi
exit $rc
