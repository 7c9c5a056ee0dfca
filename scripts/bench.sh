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
# Sizes: BENCH_REPS, BENCH_RUNTIME, BENCH_MIB, BENCH_CKPT_REPS,
# BENCH_CKPT_BIG_REPS, BENCH_CKPT_HUGE_REPS (see tests/bench/run.sh), and
# BENCH_META_* for the metadata device's rows (tests/bench/meta.sh).
#
# BENCH_ONLY=meta runs only those rows (one shorter boot per kernel) and
# puts them into bench/K-fio.tar.gz in place of the ones there, beside the
# other figures of the last full run (kept as they were); their boot's log
# is bench/vm-meta.log in it, and the tables say which boot each part is
# from. A full run replaces everything again.
#
# BENCH_ONLY=copy runs only the copy rows (dd, the failover commit, the
# mirror's phase 1; chunk sizes BENCH_COPY_CHUNKS in sectors, default
# "8 128 2048") in a boot of their own and writes bench/K-copy.md: the
# medians and the median of the per-repeat ratios to dd, nothing else is
# touched. COLO_VM_APPEND adds kernel parameters (init_on_alloc=0).
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
# A section run alone (BENCH_ONLY): the raw files that are its own.
only=${BENCH_ONLY:-}
case "$only" in
'') ;;
meta) only_files='pmeta-*.json' ;;
copy) ;;
*) echo "bench: BENCH_ONLY=$only: no such section (meta, copy)" >&2; exit 2 ;;
esac

# copy_report K LOG: the copy rows of LOG (# BENCH dd.N, commit.cKIB.N,
# mirror1.cKIB.N lines), as a table.
copy_report() {
	python3 - "$1" "$2" "${COLO_VM_APPEND:-}" <<'EOF'
import re, statistics, sys
k, log, append = sys.argv[1], sys.argv[2], sys.argv[3]
vals = {}
for line in open(log):
    m = re.match(r"^# BENCH (dd|commit\.c\d+|mirror1\.c\d+)\.(\d+) (\S+)", line)
    if m:
        vals.setdefault(m.group(1), {})[int(m.group(2))] = float(m.group(3))
dd = vals.get("dd", {})
print(f"# Copy rows, kernel {k}" + (f" ({append})" if append else ""))
print()
print(f"dd: {statistics.median(dd.values()):.0f} MiB/s (runs: "
      + ", ".join(f"{v:.0f}" for v in dd.values()) + ")" if dd else "dd: none")
print()
print("| copy | chunk | MiB/s median | / dd median | / dd min-max |")
print("|---|---:|---:|---:|---:|")
ddm = statistics.median(dd.values()) if dd else None
for key in sorted(vals, key=lambda x: (x.split(".")[0], int(x.split(".c")[-1]) if ".c" in x else 0)):
    if key == "dd":
        continue
    kind, kib = key.split(".c")
    runs = vals[key]
    ratios = [v / ddm for v in runs.values()] if ddm else []
    print(f"| {'commit' if kind == 'commit' else 'mirror phase 1'} | {kib} KiB "
          f"| {statistics.median(runs.values()):.0f} "
          f"| {statistics.median(ratios):.2f} | {min(ratios):.2f}-{max(ratios):.2f} |"
          if ratios else f"| {kind} | {kib} KiB | - | - | - |")
EOF
}

# report K: bench/K.md from bench/K-fio.tar.gz; the kernel release, the date
# and the VM's run time are read back from the run's own log.
report() {
	local k=$1 raw=.build/bench-$1 log kver secs day
	rm -rf "$raw"
	mkdir -p "$raw"
	tar -C "$raw" -xzf "bench/$k-fio.tar.gz" || return 1
	log=$raw/bench/vm.log
	[ -f "$log" ] || log=$raw/bench/vm-meta.log
	kver=$(sed -n 's/^# vm-[^:]*: booting \([^ ]*\) .*/\1/p' "$log" | head -n 1)
	secs=$(sed -n 's/^# vm-[^:]*: VM ran \([0-9]*\)s$/\1/p' "$log" | tail -n 1)
	day=$(sed -n 's/^# BENCH-DATE //p' "$log" | tail -n 1)
	python3 scripts/bench-report.py --kernel "${kver:-$k}" --date "${day:-$date}" \
		${secs:+--seconds "$secs"} "$raw/bench" > "bench/$k.md"
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
	log=.build/bench-$k.log
	echo "=== bench on $kver"
	if ! scripts/vm.sh --kernel "$k" --mem 3072 --timeout "${BENCH_VM_TIMEOUT:-2400}" \
		bench/run.sh 2>&1 | tee "$log"; then
		echo "bench: the run on $k failed (see $log)"
		rc=1
	fi
	if [ "$only" = copy ]; then
		copy_report "$k" "$log" | tee "bench/$k-copy.md"
		continue
	fi
	raw=.build/bench-$k
	rm -rf "$raw"
	mkdir -p "$raw"
	if ! sed -n '/^# BENCH-TAR-BEGIN/,/^# BENCH-TAR-END/p' "$log" | sed '1d;$d' |
		base64 -d | tar -C "$raw" -xz; then
		echo "bench: no raw output came back from the $k VM"
		rc=1
		continue
	fi
	vmlog=vm.log
	if [ -n "$only" ]; then
		# The section's files replace their namesakes in the kept output.
		new=.build/only-$k
		rm -rf "$new"
		mv "$raw" "$new"
		mkdir -p "$raw"
		[ -f "bench/$k-fio.tar.gz" ] && tar -C "$raw" -xzf "bench/$k-fio.tar.gz"
		mkdir -p "$raw/bench/fio"
		# The full run's date, for output kept from before bench.sh wrote it.
		if [ -f "$raw/bench/vm.log" ] && ! grep -q '^# BENCH-DATE' "$raw/bench/vm.log"; then
			day=$(sed -n '1s/^# Kernel [^,]*, //p' "bench/$k.md" 2> /dev/null)
			[ -n "$day" ] && echo "# BENCH-DATE $day" >> "$raw/bench/vm.log"
		fi
		find "$raw/bench/fio" -name "$only_files" -delete
		find "$new/bench/fio" -name "$only_files" -exec cp {} "$raw/bench/fio/" \;
		vmlog=vm-$only.log
	fi
	{
		sed '/^# BENCH-TAR-BEGIN/,/^# BENCH-TAR-END/d' "$log"
		echo "# BENCH-DATE $date"
	} > "$raw/bench/$vmlog"
	tar -C "$raw" -czf "bench/$k-fio.tar.gz" bench
	report "$k" && cat "bench/$k.md"
done

[ "$only" = copy ] && exit $rc
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
	full=$(sed -n 's/^# BENCH-DATE //p' .build/bench-*/bench/vm.log 2> /dev/null | sort | tail -n 1)
	part=$(sed -n 's/^# BENCH-DATE //p' .build/bench-*/bench/vm-meta.log 2> /dev/null | sort | tail -n 1)
	made="Made by \`make bench\` on ${full:-$date}"
	[ -n "$part" ] &&
		made="$made; the metadata device's rows by \`BENCH_ONLY=meta scripts/bench.sh\` on $part"
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
