# SPDX-License-Identifier: GPL-2.0
#
# A resync that yields (issue 18): a guest job of 4 KiB random writes at
# QD 16 on a primary with no resync (resync-none), during a full phase 1
# at the auto rate (resync-auto: min_rate BENCH_RESYNC_MIN KiB/s, default
# 10240) and during one at a fixed rate (resync-fixed: BENCH_RESYNC_FIXED
# KiB/s, default 102400), REPS interleaved rounds. The guest's IOPS of each
# against resync-none's of the same round; for the two resyncs, the time
# from the guest's stop to in-sync, against a full phase 1 of the same
# kind with the guest idle all along (resync-idle-auto, -fixed), each round:
#   # BENCH resync-KIND.after.N SECONDS      (guest stop to in-sync)
#   # BENCH resync-idle-KIND.N SECONDS       (start to in-sync, no guest)
#   # BENCH resync-KIND.copied.N MIB         (copied while the guest ran)
# Times are the kernel log's ("mirror in sync") against now_us() at the
# guest's stop and at the start message. Sourced by run.sh.

t_diag "resync section"
RS_MIN=${BENCH_RESYNC_MIN:-10240}
RS_FIXED=${BENCH_RESYNC_FIXED:-102400}
bench resync-rates "$RS_MIN $RS_FIXED"
brd_setup 2 $MIB || { t_fail "resync: brd"; return; }
brd_fill 0 1
LEN=$(dev_sectors /dev/ram0)
dmsetup create p --table "0 $LEN colo primary /dev/ram0 8"
dmsetup mknodes

# rs_words KIND: the rate words of "mirror start" for KIND.
rs_words() {
	case $1 in
	auto) echo "auto min_rate $RS_MIN" ;;
	fixed) echo "$RS_FIXED" ;;
	esac
}
# rs_secs T0_US: seconds since T0 (microseconds, now_us), 3 decimals.
rs_secs() {
	awk -v d=$(($(now_us) - $1)) 'BEGIN { printf "%.3f", d / 1e6 }'
}
# rs_mirrored: chunks the mirror copied so far.
rs_mirrored() { field p 9 | cut -d/ -f1; }
# rs_start KIND: a full phase 1 to ram1 at KIND's rate.
rs_start() {
	# shellcheck disable=SC2046
	dmsetup message p 0 mirror start /dev/ram1 full $(rs_words "$1") ||
		t_fail "resync: mirror start $1"
}
rs_stop() {
	dmsetup message p 0 mirror stop || t_fail "resync: mirror stop"
}

# rs_guest KIND N: round N of the guest job during a KIND resync (none: no
# resync), then for a resync the time from the guest's stop to in-sync.
# The guest runs first: fio's first second is ramp time, not counted, and
# the resync starts half-way into it (a resync started first could end at
# full speed, the guest idle, before fio issued its first write).
rs_guest() {
	local kind=$1 n=$2 t c0 pid
	fio_job "resync-$kind.randwrite" "$n" /dev/mapper/p randwrite 4k 16 \
		--time_based --runtime="$RT" --ramp_time=1 &
	pid=$!
	sleep 0.5
	[ "$kind" = none ] || { rs_start "$kind"; c0=$(rs_mirrored); }
	wait $pid
	[ "$kind" = none ] && return
	t=$(now_us)
	bench "resync-$kind.copied.$n" $((($(rs_mirrored) - c0) * 4 / 1024))
	if [ "$(field p 8)" = copying ] && wait_field p 8 in-sync; then
		bench "resync-$kind.after.$n" "$(rs_secs "$t")"
	elif [ "$(field p 8)" = in-sync ]; then
		t_diag "resync-$kind round $n: in sync before the guest stopped"
	else
		t_fail "resync-$kind round $n: not in sync ($(field p 8))"
	fi
	rs_stop
}

# rs_idle KIND N: a full phase 1 at KIND's rate with the guest idle.
rs_idle() {
	local t
	t=$(now_us)
	rs_start "$1"
	if wait_field p 8 in-sync; then
		bench "resync-idle-$1.$2" "$(rs_secs "$t")"
	else
		t_fail "resync-idle-$1 round $2: $(field p 8)"
	fi
	rs_stop
}

n=1
while [ $n -le "$REPS" ]; do
	for v in $(rotate $((n - 1)) none auto fixed); do
		rs_guest "$v" $n
	done
	for v in $(rotate $((n - 1)) auto fixed); do
		rs_idle "$v" $n
	done
	n=$((n + 1))
done
t_diag "ran resync ($REPS rounds: none auto fixed; idle auto fixed)"
rs_start auto
check "resync: the last full sync in sync" wait_field p 8 in-sync
rs_stop
dmsetup remove p
check_eq "resync: replica equals base" "$(direct_sum /dev/ram0)" "$(direct_sum /dev/ram1)"
