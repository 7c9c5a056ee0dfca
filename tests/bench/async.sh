# SPDX-License-Identifier: GPL-2.0
#
# The async mirror (issue 18): the guest's 4 KiB random writes at QD 16
# (time-based) on a primary over a RAM disk (4 KiB chunks) with no mirror
# (async-dD.none), with a mirror in sync mode (async-dD.sync) and in async
# mode with max_lag BENCH_ASYNC_LAG KiB (async-dD.async, default 4096), the
# replica a dm-delay over another RAM disk that delays writes by D ms (D in
# BENCH_ASYNC_DELAYS, default "0 2 20"; 0: dm-linear instead, the cost of
# a replica write without any wait, the ceiling of any mirror on this
# machine); REPS interleaved rounds per delay,
# every variant once a round in a rotating order, each mirror run paired
# with the no-mirror run of its round. The no-mirror run runs twice a
# round (async-dD.none2, the A/A control: the second over the first is
# what a path that costs nothing measures here). Before each mirror run
# the replica is made fast (dm-linear), the mirror started "dirty" (in
# async mode for the async run) and waited for in-sync, and only then is
# the delay put under it; after the run the mirror stops (which waits for
# the background writes). Per mirror run:
#   # BENCH async-dD.MODE.ahead.N WRITES     (status "ahead" after the run)
#   # BENCH async-dD.MODE.dirty.N CHUNKS     (chunks dirty after the run)
#   # BENCH async-dD.MODE.pinned.N THREADS   (dm-delay's, see as_pin)
# At the end a last dirty resync must make the replica equal to base.
# Sourced by run.sh.

t_diag "async section"
AS_LAG=${BENCH_ASYNC_LAG:-4096}
AS_DELAYS=${BENCH_ASYNC_DELAYS:-0 2 20}
bench async-params "$AS_LAG $AS_DELAYS"
brd_setup 2 $MIB || { t_fail "async: brd"; return; }
brd_fill 0 1
LEN=$(dev_sectors /dev/ram0)
dmsetup create arep --table "0 $LEN linear /dev/ram1 0"
dmsetup create p --table "0 $LEN colo primary /dev/ram0 8"
dmsetup mknodes

# as_rep DELAY_MS: the replica's table (0: dm-linear), swapped under the
# running mirror (the delay applies to writes; reads are not delayed).
as_rep() {
	local t="0 $LEN linear /dev/ram1 0"
	[ "$1" = 0 ] || t="0 $LEN delay /dev/ram1 0 0 /dev/ram1 0 $1"
	if ! { dmsetup suspend arep && dmsetup load arep --table "$t" &&
		dmsetup resume arep; }; then
		t_fail "async: replica table, delay $1"
	fi
}
# as_pin: dm-delay's own threads (6.12's flush worker polls while bios
# wait, at full speed below 50 ms) on vCPU 0, away from fio's, as the
# kernel's other workers are: the delay stands for a link, not for a load
# on the guest's vCPU. Prints how many it moved (6.1 has none: a timer
# and a workqueue).
as_pin() {
	local f c n=0
	for f in /proc/[0-9]*/comm; do
		read -r c < "$f" 2> /dev/null || continue
		case $c in
		dm-delay* | kdelay*)
			f=${f%/comm}
			taskset -p 1 "${f#/proc/}" > /dev/null 2>&1 && n=$((n + 1)) ;;
		esac
	done
	echo $n
}
# as_start MODE: the mirror to a fast replica in MODE, until in-sync.
as_start() {
	local w=
	[ "$1" = async ] && w="async $AS_LAG"
	as_rep 0
	# shellcheck disable=SC2086
	dmsetup message p 0 mirror start /dev/mapper/arep dirty $w ||
		t_fail "async: mirror start $1"
	wait_field p 8 in-sync || t_fail "async: $1 mirror not in sync ($(field p 8))"
	[ "$(field p 20)" = "$1" ] || t_fail "async: mode $(field p 20), not $1"
}

# The first sync, full: from then on the dirty bitmap covers the replica.
dmsetup message p 0 mirror start /dev/mapper/arep full
check "async: the first full sync in sync" wait_field p 8 in-sync
dmsetup message p 0 mirror stop

# as_run D MODE N: round N of MODE (none, none2, sync, async) with the replica
# delayed by D ms.
as_run() {
	local key="async-d$1.$2"
	if [ "$2" = none ] || [ "$2" = none2 ]; then
		fio_timed "$key.randwrite" "$3" /dev/mapper/p randwrite 4k 16
		return
	fi
	as_start "$2"
	as_rep "$1"
	[ "$1" = 0 ] || bench "$key.pinned.$3" "$(as_pin)"
	fio_timed "$key.randwrite" "$3" /dev/mapper/p randwrite 4k 16
	bench "$key.ahead.$3" "$(field p 22)"
	bench "$key.dirty.$3" "$(field p 7 | cut -d/ -f1)"
	dmsetup message p 0 mirror stop || t_fail "async: mirror stop ($key)"
}

for d in $AS_DELAYS; do
	n=1
	while [ $n -le "$REPS" ]; do
		for v in $(rotate $((n - 1)) none sync async none2); do
			as_run "$d" "$v" $n
		done
		n=$((n + 1))
	done
	t_diag "ran async, replica delay $d ms ($REPS rounds: none sync async none2)"
done
as_start sync
dmsetup message p 0 mirror stop
dmsetup remove p
dmsetup remove arep
check_eq "async: replica equals base" "$(direct_sum /dev/ram0)" "$(direct_sum /dev/ram1)"
