#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# mirror, async mode (README "Async mirror"): with the replica behind
# dm-delay, VM writes complete without waiting for it; the lag sampled
# under a write load never passes max_lag; writes beyond it go "ahead"
# (marked dirty, copied later by the mirror); after the mirror caught up
# the replica equals base byte for byte; switching sync <-> async under
# load loses nothing; a failing replica (dm-flakey, dm-error) degrades the
# mirror with every VM write succeeding and a dirty resync converges;
# suspend and remove drain the background writes; with a metadata device
# a background write's region stays marked; bad messages are refused and
# change nothing.
. /tests/lib.sh

# COLO_T_ASYNC_MIB: the device size (64 MiB; at least 16: the writes below
# reach chunk 2000 and the full sync must outlast a sample).
MIB=${COLO_T_ASYNC_MIB:-64}
brd_setup 4 $MIB
LEN=$(dev_sectors /dev/ram0)
CHUNKS=$((LEN / 8))
MAXLAG=256
# Status fields (dm's "<start> <len> colo" are 1-3): 10 dirty, 11 mirror,
# 19 regions, 23 mirror_mode, 24 lag/max_lag, 25 ahead.
rep_table() {	# KIND: the replica over /dev/ram1
	case $1 in
	fast) echo "0 $LEN linear /dev/ram1 0" ;;
	slow) echo "0 $LEN delay /dev/ram1 0 0 /dev/ram1 0 $2" ;;
	flakey) echo "0 $LEN flakey /dev/ram1 0 0 60" ;;
	error) echo "0 $LEN error" ;;
	esac
}
set_rep() {	# KIND [DELAY_MS]
	dmsetup suspend rep && dmsetup load rep --table "$(rep_table "$@")" &&
		dmsetup resume rep
}
wait_mirror() {	# DEV STATE TIMEOUT_S
	wait_field "$1" 11 "$2" "$3"
}
lag() { field "$1" 24 | cut -d/ -f1; }
ahead() { field "$1" 25; }
fio_load() {	# DEV SECONDS SEED: random writes, 512 B to 64 KiB
	fio --name=load --filename=$1 --direct=1 --ioengine=libaio --iodepth=16 \
		--rw=randwrite --bsrange=512-64k --time_based --runtime=$2 \
		--randseed=$3 --eta=never --output=/tmp/fio-load.log
}
# sample_lag DEV PID: the status every 20 ms while the load PID runs (fio
# may take seconds to start on a debug kernel); prints the largest lag, how
# many samples had lag > max_lag and how many had a lag at all.
sample_lag() {
	local maxl=0 over=0 nz=0 l m s
	while kill -0 "$2" 2>/dev/null; do
		s=$(field "$1" 24)
		l=${s%/*}; m=${s#*/}
		[ "$l" -gt "$maxl" ] && maxl=$l
		[ "$l" -gt "$m" ] && over=$((over + 1))
		[ "$l" -gt 0 ] && nz=$((nz + 1))
		sleep 0.02
	done
	echo "$maxl $over $nz"
}
# fio_ok NAME RC: a check that the load's writes all succeeded.
fio_ok() {
	check_eq "$1" 0 "$2"
	[ "$2" = 0 ] || tail -n 5 /tmp/fio-load.log | sed 's/^/#   /'
}

dmsetup create small --table "0 1024 linear /dev/ram3 0"
dmsetup create rep --table "$(rep_table slow 20)"
dmsetup create p --table "0 $LEN colo primary /dev/ram0 8"
dmsetup mknodes
dd if=/dev/urandom of=/dev/mapper/p bs=1M count=$MIB oflag=direct 2>/dev/null

# --- bad input ----------------------------------------------------------------
st=$(dmsetup status p)
check_eq "no mirror: mode none 0/0 0" "none 0/0 0" \
	"$(dmsetup status p | awk '{ print $23, $24, $25 }')"
check_fails "mirror async without a mirror refused" dmsetup message p 0 mirror async 64
check_fails "mirror sync without a mirror refused" dmsetup message p 0 mirror sync
check_fails "async 0 refused" dmsetup message p 0 mirror start /dev/mapper/rep full async 0
check_fails "async without max_lag refused" dmsetup message p 0 mirror start /dev/mapper/rep full async
check_fails "async given twice refused" \
	dmsetup message p 0 mirror start /dev/mapper/rep async 64 async 64
check_fails "async over 1 GiB refused" \
	dmsetup message p 0 mirror start /dev/mapper/rep async 1048577
check_fails "async 64k (units) refused" dmsetup message p 0 mirror start /dev/mapper/rep async 64k
check_fails "async before full refused" \
	dmsetup message p 0 mirror start /dev/mapper/rep async 64 full
check_fails "async on a too small replica refused" \
	dmsetup message p 0 mirror start /dev/mapper/small async 64
check_eq "refusals changed nothing" "$st" "$(dmsetup status p)"

# --- full sync in async mode, then the lag under load ------------------------------
ev=$(events p)
check "async full sync starts" \
	dmsetup message p 0 mirror start /dev/mapper/rep full 65536 async $MAXLAG
check_eq "status: async, max_lag $MAXLAG" "async $MAXLAG" \
	"$(dmsetup status p | awk '{ split($24, a, "/"); print $23, a[2] }')"
check "mirror reaches in-sync" wait_mirror p in-sync 120
check_eq "full sync: replica equals base" "$(direct_sum /dev/ram0)" "$(direct_sum /dev/ram1)"
st=$(dmsetup status p)
for m in "mirror async" "mirror async 0" "mirror async x" "mirror async 1048577" \
	"mirror async 64 64" "mirror sync now" "mirror start /dev/ram2 async 64"; do
	# shellcheck disable=SC2086
	check_fails "running: '$m' refused" dmsetup message p 0 $m
done
check_eq "running: refusals changed nothing" "$st" "$(dmsetup status p)"

a0=$(ahead p)
fio_load /dev/mapper/p 6 1 > /dev/null 2>&1 &
fpid=$!
sample_lag p $fpid > /tmp/lag
wait $fpid
fio_ok "every VM write succeeded under async load" $?
read -r maxl over nz < /tmp/lag
t_diag "largest lag sampled $maxl KiB of $MAXLAG, $nz samples with a lag, ahead $a0 -> $(ahead p)"
check_eq "the lag never passed max_lag ($maxl KiB at most)" 0 "$over"
check "writes were in flight in the background (lag > 0 sampled)" [ "$nz" -gt 0 ]
check "writes beyond the lag went ahead" [ "$(ahead p)" -gt "$a0" ]
check "the mirror copies what went ahead: in-sync again" wait_mirror p in-sync 120
check "the lag drains to 0" wait_field p 24 "0/$MAXLAG" 30
check_match "caught up: nothing dirty" " 0/$CHUNKS in-sync " "$(dmsetup status p)"
check_eq "after the load: replica equals base" "$(direct_sum /dev/ram0)" "$(direct_sum /dev/ram1)"

# A write beyond the lag, alone: 64 KiB do not fit a max_lag of 4 KiB.
check "mirror async 4" dmsetup message p 0 mirror async 4
a0=$(ahead p)
dd if=/dev/urandom of=/dev/mapper/p bs=64k seek=100 count=1 oflag=direct 2>/dev/null
check "a write larger than max_lag went ahead" [ "$(ahead p)" -gt "$a0" ]
check "its chunks were copied later" wait_mirror p in-sync 30
check_eq "and the replica has it" \
	"$(dd if=/dev/ram0 bs=64k skip=100 count=1 iflag=direct 2>/dev/null | md5sum)" \
	"$(dd if=/dev/ram1 bs=64k skip=100 count=1 iflag=direct 2>/dev/null | md5sum)"
check "mirror async $MAXLAG" dmsetup message p 0 mirror async $MAXLAG

# --- VM writes do not wait for a slow replica -----------------------------------------
set_rep slow 1000
start=$(colo-now)
dd if=/dev/urandom of=/dev/mapper/p bs=4k seek=100 count=8 oflag=direct 2>/dev/null
ms=$(( ($(colo-now) - start) / 1000 ))
l=$(lag p)
t_diag "8 writes of 4 KiB to a replica with 1 s write latency: $ms ms, lag $l KiB"
check "async: 8 writes did not wait for a 1 s replica ($ms ms)" [ "$ms" -lt 4000 ]
check "async: their copies are in flight" [ "$l" -gt 0 ]
# Suspend drains the background writes before it returns.
check "suspend with background writes in flight" timeout 30 dmsetup suspend p
check_eq "suspended: the lag is 0" "0/$MAXLAG" "$(field p 24)"
check "resume" dmsetup resume p
check "in sync after the drain" wait_mirror p in-sync 30
check_eq "replica equals base after the drain" "$(direct_sum /dev/ram0)" "$(direct_sum /dev/ram1)"

# --- switching sync <-> async under load -------------------------------------------
set_rep slow 5
fio_load /dev/mapper/p 8 2 > /dev/null 2>&1 &
fpid=$!
sleep 1
check "under load: mirror sync" timeout 60 dmsetup message p 0 mirror sync
check_eq "sync: mode sync 0/0" "sync 0/0" "$(dmsetup status p | awk '{ print $23, $24 }')"
sleep 1
check "under load: mirror async 128" dmsetup message p 0 mirror async 128
check_match "async 128 shown" "^async [0-9]+/128$" "$(dmsetup status p | awk '{ print $23, $24 }')"
sleep 1
check "under load: mirror async 1024 (raise)" dmsetup message p 0 mirror async 1024
sleep 1
check "under load: mirror async 16 (lower: waits for the lag to fit)" \
	timeout 60 dmsetup message p 0 mirror async 16
l=$(lag p)
check "after the lower limit: lag within it ($l KiB)" [ "$l" -le 16 ]
sleep 1
check "under load: mirror sync again" timeout 60 dmsetup message p 0 mirror sync
check_eq "sync again: lag 0" "0/0" "$(field p 24)"
wait $fpid
fio_ok "every VM write succeeded while switching" $?
check "in sync after switching" wait_mirror p in-sync 120
check_eq "switching lost nothing: replica equals base" \
	"$(direct_sum /dev/ram0)" "$(direct_sum /dev/ram1)"
check "back to async" dmsetup message p 0 mirror async $MAXLAG

# --- a reload carries the mode (and the map of busy chunks) over -----------------
fio_load /dev/mapper/p 3 4 > /dev/null 2>&1 &
fpid=$!
sleep 1
check "reload under load" sh -c "dmsetup load p --table '0 $LEN colo primary /dev/ram0 8' &&
	dmsetup suspend p && dmsetup resume p"
wait $fpid
fio_ok "every VM write succeeded across the reload" $?
check_eq "the reload kept the async mode" "async $MAXLAG" \
	"$(dmsetup status p | awk '{ split($24, a, "/"); print $23, a[2] }')"
check "in sync after the reload" wait_mirror p in-sync 120
check "the lag drains after the reload" wait_field p 24 "0/$MAXLAG" 30
check_eq "after the reload: replica equals base" "$(direct_sum /dev/ram0)" "$(direct_sum /dev/ram1)"

# --- a failing replica: degraded, VM writes succeed, dirty resync ---------------------
for kind in flakey error; do
	ev=$(events p)
	fio_load /dev/mapper/p 4 3 > /dev/null 2>&1 &
	fpid=$!
	sleep 1
	set_rep $kind
	wait $fpid
	fio_ok "$kind: every VM write succeeded while the replica failed" $?
	check "$kind: mirror degraded" wait_mirror p degraded 10
	check "$kind: dm event at degraded" timeout 5 dmsetup wait p "$ev"
	check_match "$kind: the missed chunks are dirty" " [1-9][0-9]*/$CHUNKS degraded " \
		"$(dmsetup status p)"
	check_eq "$kind: health stays ok" ok "$(field p 14)"
	check_eq "$kind: a degraded mirror shows its mode" async "$(field p 23)"
	set_rep slow 2
	check "$kind: async dirty resync starts" \
		dmsetup message p 0 mirror start /dev/mapper/rep dirty async $MAXLAG
	check "$kind: in sync" wait_mirror p in-sync 120
	check_eq "$kind: replica equals base" "$(direct_sum /dev/ram0)" "$(direct_sum /dev/ram1)"
done

# --- mirror start without async is sync; stop and remove drain ------------------------
check "mirror stop" dmsetup message p 0 mirror stop
check_eq "stopped: mode none 0/0" "none 0/0" "$(dmsetup status p | awk '{ print $23, $24 }')"
check "dirty start, sync mode" dmsetup message p 0 mirror start /dev/mapper/rep dirty
check_eq "sync mode without async" "sync 0/0" "$(dmsetup status p | awk '{ print $23, $24 }')"
check "in sync" wait_mirror p in-sync 60
check "mirror async $MAXLAG" dmsetup message p 0 mirror async $MAXLAG
set_rep slow 1000
dd if=/dev/urandom of=/dev/mapper/p bs=4k seek=300 count=8 oflag=direct 2>/dev/null
check "background writes in flight before stop" [ "$(lag p)" -gt 0 ]
check "mirror stop drains them" timeout 30 dmsetup message p 0 mirror stop
dirty=$(dmsetup status p | awk '{ split($10, a, "/"); print a[1] }')
check_eq "stop after the drain: nothing dirty (they reached the replica)" 0 "$dirty"
check "async start again" dmsetup message p 0 mirror start /dev/mapper/rep dirty async $MAXLAG
dd if=/dev/urandom of=/dev/mapper/p bs=4k seek=400 count=8 oflag=direct 2>/dev/null
check "background writes in flight before remove" [ "$(lag p)" -gt 0 ]
check "remove drains them" timeout 30 dmsetup remove p
check_eq "they reached the replica" "$(direct_sum /dev/ram0)" "$(direct_sum /dev/ram1)"

# --- metadata: a background write's region stays marked -------------------------------
MSZ=2048
dd if=/dev/zero of=/dev/ram3 bs=512 count=$MSZ 2>/dev/null
dmsetup remove small
dmsetup create meta --table "0 $MSZ linear /dev/ram3 0"
dmsetup mknodes
PRI="0 $LEN colo primary /dev/ram0 8 2 metadata /dev/mapper/meta"
check "primary with metadata" dmsetup create p --table "$PRI"
dmsetup mknodes
set_rep fast
check "full async sync" dmsetup message p 0 mirror start /dev/mapper/rep full async $MAXLAG
check "in sync" wait_mirror p in-sync 60
# The lazy clearing pass (once a second) clears the idle regions' marks.
check "idle: no region marked" wait_field p 19 "0/[0-9]+" 10
set_rep slow 3000
dd if=/dev/urandom of=/dev/mapper/p bs=4k seek=2000 count=1 oflag=direct 2>/dev/null
check "a background write in flight" [ "$(lag p)" -gt 0 ]
# Sample the marks and the lag from one status line each time while the
# write is in flight (3 s on the replica): once it has been in flight for
# 1.5 s, at least one clearing pass ran. A slow machine shortens the time
# sampled, never the check's meaning.
start=$(colo-now) inflight_ms=0 unmarked=
while :; do
	set -- $(dmsetup status p | awk '{ split($19, m, "/"); split($24, l, "/"); print m[1], l[1] }')
	[ "$2" -gt 0 ] || break
	inflight_ms=$(( ($(colo-now) - start) / 1000 ))
	[ "$1" -gt 0 ] || { unmarked="$1 marked, lag $2 KiB"; break; }
	sleep 0.1
done
t_diag "the background write was seen in flight for $inflight_ms ms"
check_eq "its region stays marked while it is in flight" "" "$unmarked"
check "it was in flight through a clearing pass ($inflight_ms ms >= 1500)" \
	[ "$inflight_ms" -ge 1500 ]
check "it ends" wait_field p 24 "0/$MAXLAG" 10
set_rep fast
check "its mark is cleared once idle" wait_field p 19 "0/[0-9]+" 10
check_eq "replica equals base" "$(direct_sum /dev/ram0)" "$(direct_sum /dev/ram1)"
dm_cleanup
t_done
