#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# mirror: full and dirty syncs converge (base and replica byte-compared),
# writes during the copy land on the replica, writes in sync reach it with
# no copy, a replica failing under load (dm-flakey) degrades the mirror
# while every VM write succeeds, and "mirror start <dev> dirty" resumes and
# converges; bad mirror messages are refused and change nothing.
. /tests/lib.sh

MIB=64
brd_setup 4 $MIB
LEN=$(dev_sectors /dev/ram0)
dmsetup create small --table "0 1024 linear /dev/ram3 0"
dmsetup create rep --table "0 $LEN linear /dev/ram1 0"
dmsetup mknodes

# wait_mirror DEV STATE TIMEOUT_S
wait_mirror() {
	local i=0
	while [ $i -lt $(($3 * 10)) ]; do
		[ "$(field "$1" 11)" = "$2" ] && return 0
		sleep 0.1; i=$((i + 1))
	done
	t_diag "waited for mirror $2: $(dmsetup status "$1")"
	return 1
}
fio_load() {	# DEV SECONDS SEED: random writes, 512 B to 64 KiB
	fio --name=load --filename=$1 --direct=1 --ioengine=libaio --iodepth=8 \
		--rw=randwrite --bsrange=512-64k --time_based --runtime=$2 \
		--randseed=$3 --eta=never --output=/tmp/fio-load.log
}

dmsetup create p --table "0 $LEN colo primary /dev/ram0 8"
dmsetup mknodes
dd if=/dev/urandom of=/dev/mapper/p bs=1M count=$MIB oflag=direct 2>/dev/null

# --- bad input ---------------------------------------------------------------
st=$(dmsetup status p)
check_fails "stop without a mirror refused" dmsetup message p 0 mirror stop
check_fails "missing device refused" dmsetup message p 0 mirror start /dev/nonexistent
check_fails "too small device refused" dmsetup message p 0 mirror start /dev/mapper/small
check_fails "base as replica refused" dmsetup message p 0 mirror start /dev/ram0
check_fails "rate 0 refused" dmsetup message p 0 mirror start /dev/mapper/rep full 0
# A new primary table has no record of what a replica holds: its dirty
# bitmap cannot tell a "dirty" sync what to copy (the replica may be
# another disk, or base may have been written before the table).
check_eq "new table: dirty coverage unknown" unknown "$(field p 16)"
dmesg -c > /dev/null
check_fails "new table: dirty start refused" dmsetup message p 0 mirror start /dev/mapper/rep dirty
check_match "new table: the refusal says why and to use full" \
	"dirty chunks may be missing \(no failover and no full sync since the table was loaded\): use full" "$(dmesg)"
check_eq "refusals changed nothing" "$st" "$(dmsetup status p)"

# --- full sync, writes during the copy ------------------------------------------
ev=$(events p)
check "full sync starts (rate limited to 16 MiB/s)" \
	dmsetup message p 0 mirror start /dev/mapper/rep full 16384
check_match "status: copying" " copying [0-9]+/[0-9]+ " "$(dmsetup status p)"
check_fails "second start while mirroring refused" dmsetup message p 0 mirror start /dev/ram2
check "VM writes during the copy succeed" fio_load /dev/mapper/p 3 1
check "mirror reaches in-sync" wait_mirror p in-sync 120
check "dm event at in-sync" timeout 5 dmsetup wait p "$ev"
check_match "in sync: nothing dirty" " 0/16384 in-sync ([0-9]+)/\\1 " "$(dmsetup status p)"
check_eq "full sync: replica equals base" "$(direct_sum /dev/ram0)" "$(direct_sum /dev/ram1)"

# --- in sync: writes reach both -----------------------------------------------
check "VM writes in sync succeed" fio_load /dev/mapper/p 2 2
check_match "in sync: still nothing dirty" " 0/16384 in-sync " "$(dmsetup status p)"
check_eq "in sync: replica equals base with no copy" "$(direct_sum /dev/ram0)" "$(direct_sum /dev/ram1)"

# --- replica fails under load: degraded, VM writes succeed ------------------------
ev=$(events p)
fio_load /dev/mapper/p 4 3 > /dev/null 2>&1 &
fpid=$!
sleep 1
dmsetup suspend rep
dmsetup load rep --table "0 $LEN flakey /dev/ram1 0 0 60"
dmsetup resume rep
wait $fpid
frc=$?
check_eq "every VM write succeeded while the replica failed" 0 "$frc"
[ $frc = 0 ] || sed 's/^/#   /' /tmp/fio-load.log | tail -n 5
check_eq "mirror degraded" degraded "$(field p 11)"
check "dm event at degraded" timeout 5 dmsetup wait p "$ev"
check_match "degraded: the missed chunks are dirty" " [1-9][0-9]*/16384 degraded " "$(dmsetup status p)"
check_eq "degraded: health stays ok (base is fine)" ok "$(field p 14)"
dmsetup suspend rep
dmsetup load rep --table "0 $LEN linear /dev/ram1 0"
dmsetup resume rep
dirty=$(dmsetup status p | awk '{ split($10, a, "/"); print a[1] }')
check "dirty resync starts" dmsetup message p 0 mirror start /dev/mapper/rep dirty
check "dirty resync reaches in-sync" wait_mirror p in-sync 120
mirrored=$(dmsetup status p | awk '{ split($12, a, "/"); print a[1] }')
t_diag "dirty resync copied $mirrored chunks for $dirty dirty"
check "dirty resync copied only the dirty chunks" [ "$mirrored" -le "$dirty" ]
check_eq "dirty resync: replica equals base" "$(direct_sum /dev/ram0)" "$(direct_sum /dev/ram1)"

# --- stop --------------------------------------------------------------------------
check "mirror stop" dmsetup message p 0 mirror stop
check_match "stopped: mirror none 0/0" "/16384 none 0/0 none ok " "$(dmsetup status p)"
before=$(direct_sum /dev/ram1)
dd if=/dev/urandom of=/dev/mapper/p bs=4k count=5 oflag=direct 2>/dev/null
check_match "after stop, writes are marked dirty" " 5/16384 none " "$(dmsetup status p)"
check_eq "after stop, the replica is not written" "$before" "$(direct_sum /dev/ram1)"
# A full sync cut short leaves uncopied chunks without dirty bits: a
# "dirty" start cannot know what to copy, and is refused (it does not
# guess), saying to use full; the status says the coverage is unknown.
check_eq "before: dirty coverage complete (a full sync ended)" complete "$(field p 16)"
check "full sync to a new replica (slow)" dmsetup message p 0 mirror start /dev/ram2 full 1024
check "stopped before it finished" dmsetup message p 0 mirror stop
check_eq "cut short: dirty coverage unknown" unknown "$(field p 16)"
st=$(dmsetup status p)
dmesg -c > /dev/null
check_fails "dirty start after a cut-short full sync: refused" dmsetup message p 0 mirror start /dev/ram2 dirty
check_match "the refusal says why and to use full" \
	"mirror start refused: dirty chunks may be missing \(a full sync was cut short\): use full" "$(dmesg)"
check_eq "the refusal changed nothing" "$st" "$(dmsetup status p)"
check "full start" dmsetup message p 0 mirror start /dev/ram2 full
check "full sync to the new replica" wait_mirror p in-sync 120
check_eq "after the full sync: dirty coverage complete" complete "$(field p 16)"
check_eq "second replica equals base" "$(direct_sum /dev/ram0)" "$(direct_sum /dev/ram2)"
check "mirror stop" dmsetup message p 0 mirror stop
dm_cleanup

# --- after failover: resync the old primary with only the dirty chunks --------------
# ram1 plays the old primary: it holds what base held at the last checkpoint.
dd if=/dev/urandom of=/dev/ram0 bs=1M count=$MIB oflag=direct 2>/dev/null
dd if=/dev/ram0 of=/dev/ram1 bs=1M iflag=direct oflag=direct 2>/dev/null
dmsetup create c --table "0 $LEN colo secondary /dev/ram0 /dev/ram2 /dev/ram3 8"
dmsetup mknodes
check_eq "secondary: dirty coverage unknown" unknown "$(field c 16)"
dd if=/dev/urandom of=/dev/mapper/c bs=4k seek=100 count=50 oflag=direct 2>/dev/null
dmsetup message c 0 failover
i=0; while [ $i -lt 300 ] && [ "$(field c 8)" != done ]; do sleep 0.1; i=$((i + 1)); done
dd if=/dev/urandom of=/dev/mapper/c bs=4k seek=9000 count=10 oflag=direct 2>/dev/null
check_match "failover: 60 chunks dirty" " 60/16384 none " "$(dmsetup status c)"
check_eq "failover seeded the dirty bitmap: coverage complete" complete "$(field c 16)"
check "dirty resync of the old primary" dmsetup message c 0 mirror start /dev/ram1 dirty
check "old primary in sync" wait_mirror c in-sync 60
check_match "copied exactly the 60 dirty chunks" " in-sync 60/60 " "$(dmsetup status c)"
check_eq "old primary equals the new one" "$(direct_sum /dev/ram0)" "$(direct_sum /dev/ram1)"
dm_cleanup
t_done
