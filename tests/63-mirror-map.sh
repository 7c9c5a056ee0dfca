#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# mirror-map: VM writes mirrored from map (dm-colo-mirror.c: a write whose
# chunks are all on the replica is remapped to base in map, its replica
# copy a clone sent from map too; only a busy chunk, a missing leaf or
# clone, or a chunk not on the replica yet takes the worker's dm-io path),
# under concurrent writers (fio, 4 jobs, queue depth 16), for the chunk
# sizes of COLO_T_MAP_CHUNKS (sectors; 8 in make check, 1 8 128 in make
# soak, where 1 makes a write span many chunks of a lock granule):
#
#   in sync    every write succeeds, nothing gets dirty, the raw replica
#              equals base with no copy; the function tracer counts the
#              clones' completions (replica_clone_end) against the
#              worker's (dual_write_done): most writes take the map path
#   faults     the replica swapped to dm-error, then to dm-flakey (up 1 s,
#              writes failing 1 s) under the writers: no VM write fails,
#              the mirror degrades, health stays ok, chunks are dirty; a
#              "dirty" resync started under writers (rate limited, so the
#              copies meet the writers' chunks) ends in sync with the
#              replica equal to base
#   drain      a suspend/resume and a "mirror stop" under the writers wait
#              for the clones in flight: every write succeeds, a "full"
#              start afterwards ends with the replica equal to base
. /tests/lib.sh

MIB=${COLO_T_MAP_MIB:-64}
SECS=${COLO_T_MAP_SECS:-3}
brd_setup 2 "$MIB"
LEN=$(dev_sectors /dev/ram0)

# swap NAME TABLE: replace the table of NAME under running I/O
swap() {
	dmsetup suspend "$1" && dmsetup load "$1" --table "$2" &&
		dmsetup resume "$1" || t_fail "swap $1 to $2"
}
# writers SECONDS SEED: 4 fio jobs of random O_DIRECT writes, 512 B to
# 64 KiB, queue depth 16, on p; the log in /tmp/fio-map.log. Each job has
# its quarter of the device and never has two overlapping writes in flight
# (serialize_overlap): two overlapping writes in flight at once may land
# in either order on base and in the other on the replica, as on any
# mirror (README, Mirror), and the replica is compared with base.
writers() {
	fio --name=map --filename=/dev/mapper/p --direct=1 --ioengine=libaio \
		--iodepth=16 --numjobs=4 --size=$((MIB / 4))M \
		--offset_increment=$((MIB / 4))M --serialize_overlap=1 \
		--rw=randwrite --bsrange=512-64k --time_based --runtime="$1" \
		--randseed="$2" --group_reporting --eta=never \
		--output=/tmp/fio-map.log
}
fio_failed() { sed 's/^/#   /' /tmp/fio-map.log | tail -n 8; }
# resume_sync DESC: start the mirror again (dirty when the coverage allows,
# under writers, rate limited) and wait for in-sync with replica == base
resume_sync() {
	local how=dirty
	[ "$(field p 16)" = complete ] || how=full
	traced=0
	ftrace_start replica_clone_end dual_write_done && traced=1
	writers "$SECS" 7 &
	wpid=$!
	check "$1: mirror start $how under writers" \
		dmsetup message p 0 mirror start /dev/mapper/rep $how 32768
	wait $wpid
	frc=$?
	if [ $traced = 1 ]; then
		ftrace_stop
		# Those whose chunks a copy held went the worker's way.
		t_diag "$1: during the resync $(ftrace_count replica_clone_end) writes mirrored from map, $(ftrace_count dual_write_done) from the worker"
	fi
	check_eq "$1: no VM write failed during the resync" 0 "$frc"
	[ $frc = 0 ] || fio_failed
	check "$1: mirror in sync again" wait_field p 11 in-sync 120
	check_match "$1: nothing dirty" " 0/[0-9]+ in-sync " "$(dmsetup status p)"
	check_eq "$1: replica equals base" "$(direct_sum /dev/ram0)" "$(direct_sum /dev/ram1)"
}

for chunk in ${COLO_T_MAP_CHUNKS:-8}; do
	dm_cleanup
	dmsetup create rep --table "0 $LEN linear /dev/ram1 0" &&
		dmsetup create p --table "0 $LEN colo primary /dev/ram0 $chunk" &&
		dmsetup mknodes || { t_fail "chunk $chunk: setup"; continue; }
	dd if=/dev/urandom of=/dev/mapper/p bs=1M oflag=direct 2>/dev/null
	check "chunk $chunk: full sync" dmsetup message p 0 mirror start /dev/mapper/rep full
	check "chunk $chunk: in sync" wait_field p 11 in-sync 120

	# --- in sync: writes from map ---------------------------------------------
	mirrored=$(dmsetup status p | awk '{ split($12, a, "/"); print a[1] }')
	traced=0
	ftrace_start replica_clone_end dual_write_done && traced=1
	writers "$SECS" "$chunk"
	frc=$?
	[ $traced = 1 ] && ftrace_stop
	check_eq "chunk $chunk, in sync: every VM write succeeded" 0 "$frc"
	[ $frc = 0 ] || fio_failed
	check_match "chunk $chunk, in sync: still in sync, nothing dirty, no copy" \
		" 0/[0-9]+ in-sync $mirrored/$mirrored " "$(dmsetup status p)"
	check_eq "chunk $chunk, in sync: replica equals base" \
		"$(direct_sum /dev/ram0)" "$(direct_sum /dev/ram1)"
	if [ $traced = 1 ]; then
		map=$(ftrace_count replica_clone_end)
		wrk=$(ftrace_count dual_write_done)
		t_diag "chunk $chunk, in sync: $map writes mirrored from map, $wrk from the worker"
		check "chunk $chunk, in sync: most mirrored writes were sent from map" \
			test "$map" -gt 0 -a "$map" -gt "$wrk"
	else
		t_diag "chunk $chunk: no function tracer here: which path was taken is not checked"
	fi

	# --- replica faults under the writers ----------------------------------------
	for kind in error flakey; do
		case $kind in
		error) t="0 $LEN error" ;;
		flakey) t="0 $LEN flakey /dev/ram1 0 1 1 1 error_writes" ;;
		esac
		ev=$(events p)
		# Past the flakey table's first up period into its down one.
		writers $((SECS + 2)) $((chunk + ${#kind})) &
		wpid=$!
		sleep 1
		swap rep "$t"
		wait $wpid
		frc=$?
		check_eq "chunk $chunk, replica $kind: no VM write failed" 0 "$frc"
		[ $frc = 0 ] || fio_failed
		check_eq "chunk $chunk, replica $kind: mirror degraded" degraded "$(field p 11)"
		check "chunk $chunk, replica $kind: dm event" timeout 5 dmsetup wait p "$ev"
		check_match "chunk $chunk, replica $kind: chunks dirty" \
			" [1-9][0-9]*/[0-9]+ degraded " "$(dmsetup status p)"
		check_eq "chunk $chunk, replica $kind: health ok" ok "$(field p 14)"
		swap rep "0 $LEN linear /dev/ram1 0"
		resume_sync "chunk $chunk, replica $kind"
	done

	# --- suspend/resume and stop under the writers -------------------------------
	writers "$SECS" $((chunk + 11)) &
	wpid=$!
	sleep 1
	check "chunk $chunk, drain: suspend under writers" dmsetup suspend p
	check "chunk $chunk, drain: resume" dmsetup resume p
	sleep 0.5
	check "chunk $chunk, drain: mirror stop under writers" dmsetup message p 0 mirror stop
	wait $wpid
	frc=$?
	check_eq "chunk $chunk, drain: no VM write failed" 0 "$frc"
	[ $frc = 0 ] || fio_failed
	check_eq "chunk $chunk, drain: mirror none" none "$(field p 11)"
	check "chunk $chunk, drain: full start" dmsetup message p 0 mirror start /dev/mapper/rep full
	check "chunk $chunk, drain: in sync" wait_field p 11 in-sync 120
	check_eq "chunk $chunk, drain: replica equals base" \
		"$(direct_sum /dev/ram0)" "$(direct_sum /dev/ram1)"
	check "chunk $chunk: mirror stop" dmsetup message p 0 mirror stop
done
dm_cleanup
t_done
