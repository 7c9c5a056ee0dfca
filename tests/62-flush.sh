#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Flushes, and the devices a colo device may be stacked with. The legs are
# null_blk disks with a volatile write cache (brd has none, so the block
# layer drops every flush before dm-colo sees it); a disk's flush counter
# (field 16 of its stat) says whether a flush reached it.
#
#   secondary  a VM flush reaches base, hidden and active; an ingress flush
#              base and hidden
#   exclusive  the ingress does not claim its colo device: an O_EXCL open
#              (mkfs, mount, a VM manager) works while it is attached, and
#              it attaches while someone holds the colo device O_EXCL
#   in sync    the replica has been flushed when the mirror says in-sync;
#              a VM flush then reaches base and replica
#   marks      with a metadata device, the lazy clearing of a write-intent
#              mark flushes the replica before the clear is written
#   fold       with a metadata device, a failed replica flush makes the
#              regions still marked dirty: the coverage stays complete and
#              a dirty start copies them (the replica's lost bytes return)
#   replica    a replica that fails flushes (dm-flakey error_writes) never
#              fails the VM's flush: the mirror degrades (a dm event),
#              health stays ok, and with no metadata device the next
#              "dirty" start is refused (any chunk may be missing there)
#   stacked    a replica stacked on the colo device (dm linear over it, one
#              or two levels) is refused, not deadlocked; an unrelated dm
#              device is still accepted. Every step there runs in the
#              background with a deadline, so that a deadlock fails the
#              checks instead of hanging the VM.
. /tests/lib.sh

MIB=16

# swap NAME TABLE: replace the table of NAME
swap() {
	dmsetup suspend "$1" && dmsetup load "$1" --table "$2" &&
		dmsetup resume "$1" || t_fail "swap $1 to $2"
}
# grew DISK BEFORE: the disk completed a flush since its count was BEFORE
grew() {
	[ "$(disk_flushes "$1")" -gt "$2" ] && return 0
	echo "flushes of $1: $2 before, $(disk_flushes "$1") now"
	return 1
}
# sysfs directory of a dm device
dm_sysfs() { echo "/sys/dev/block/$(dmsetup info -c -o major,minor --noheadings --separator : "$1" | tr -d ' ')"; }

# --- null_blk legs ------------------------------------------------------------
for n in nb nh na pb nr; do
	check "null_blk $n: memory backed, write back cache" nullb_setup $n $MIB
done
check_match "null_blk features (configfs)" "cache_size" "$(cat /sys/kernel/config/nullb/features)"
check_match "a disk's stat has the flush counter (field 16)" "^[0-9]+$" "$(disk_flushes nb)"
LEN=$(dev_sectors /dev/nb)
CHUNKS=$((LEN / 8))
dd if=/dev/urandom of=/tmp/new.img bs=1M count=$MIB 2>/dev/null

# --- secondary: a VM flush reaches every leg, an ingress flush base and hidden --
dmsetup create c --table "0 $LEN colo secondary /dev/nb /dev/nh /dev/na 8"
dmsetup create c-ingress --table "0 $LEN colo-ingress /dev/nb"
dmsetup mknodes
check_eq "secondary: the colo device has a write back cache" "write back" \
	"$(cat "$(dm_sysfs c)/queue/write_cache")"
colo-dio write /dev/mapper/c 0 8192 /tmp/new.img
colo-dio write /dev/mapper/c-ingress 65536 8192 /tmp/new.img
b=$(disk_flushes nb) h=$(disk_flushes nh) a=$(disk_flushes na)
check "secondary: a VM flush succeeds" colo-open -f /dev/mapper/c
check "secondary: the VM flush reaches base" grew nb "$b"
check "secondary: the VM flush reaches hidden" grew nh "$h"
check "secondary: the VM flush reaches active" grew na "$a"
b=$(disk_flushes nb) h=$(disk_flushes nh)
check "secondary: an ingress flush succeeds" colo-open -f /dev/mapper/c-ingress
check "secondary: the ingress flush reaches base" grew nb "$b"
check "secondary: the ingress flush reaches hidden" grew nh "$h"

# --- exclusive opens of the colo device while an ingress is attached -------------
check "exclusive: O_EXCL open of the colo device with its ingress attached" \
	colo-open -x /dev/mapper/c
dmsetup remove c-ingress
rm -f /tmp/held
colo-open -x -s 60 /dev/mapper/c > /tmp/held 2> /tmp/held.err &
hpid=$!
i=0; while [ $i -lt 50 ] && ! grep -q held /tmp/held; do sleep 0.1; i=$((i + 1)); done
check "exclusive: a process holds the colo device O_EXCL" grep -q held /tmp/held
check "exclusive: the ingress attaches while the colo device is held O_EXCL" \
	dmsetup create c-ingress --table "0 $LEN colo-ingress /dev/nb"
check_eq "exclusive: status says attached" attached "$(field c 13)"
kill $hpid; wait $hpid 2>/dev/null
dm_cleanup
nullb_remove nb nh na

# --- primary, mirror in sync: the replica was flushed ----------------------------
dmsetup create p --table "0 $LEN colo primary /dev/pb 8"
dmsetup mknodes
dd if=/tmp/new.img of=/dev/mapper/p bs=1M oflag=direct 2>/dev/null
r=$(disk_flushes nr)
check "in sync: full sync to a null_blk replica starts" dmsetup message p 0 mirror start /dev/nr full
check "in sync: mirror reaches in-sync" wait_field p 11 in-sync 120
check "in sync: the replica got a flush after the copies (none from the VM)" grew nr "$r"
check_eq "in sync: replica equals base" "$(direct_sum /dev/pb)" "$(direct_sum /dev/nr)"
b=$(disk_flushes pb) r=$(disk_flushes nr)
check "in sync: a VM flush succeeds" colo-open -f /dev/mapper/p
check "in sync: the VM flush reaches base" grew pb "$b"
check "in sync: the VM flush reaches the replica" grew nr "$r"
check "in sync: mirror stop" dmsetup message p 0 mirror stop

# --- a replica flush error degrades the mirror, never fails the VM's flush -------
dmsetup create rep --table "0 $LEN linear /dev/nr 0"
dmsetup mknodes
check "replica: full sync to dm linear over null_blk" dmsetup message p 0 mirror start /dev/mapper/rep full
check "replica: in-sync" wait_field p 11 in-sync 120
ev=$(events p)
swap rep "0 $LEN flakey /dev/nr 0 0 60 1 error_writes"
check_fails "replica: writes and flushes to it fail now" colo-open -f /dev/mapper/rep
check "replica: a VM flush succeeds while replica flushes fail" colo-open -f /dev/mapper/p
check "replica: mirror degraded" wait_field p 11 degraded 10
check "replica: dm event (dmsetup wait $ev)" timeout 5 dmsetup wait p "$ev"
check_eq "replica: health ok (a replica error is not a leg error)" ok "$(field p 14)"
swap rep "0 $LEN linear /dev/nr 0"
dmesg -c > /dev/null
check_eq "replica: dirty coverage unknown after the failed flush" unknown "$(field p 16)"
check_fails "replica: dirty start after the failed flush refused" \
	dmsetup message p 0 mirror start /dev/mapper/rep dirty
check_match "replica: the refusal names the failed flush and says to use full" \
	"dirty chunks may be missing \(a replica flush failed\): use full" "$(dmesg)"
check "replica: full start" dmsetup message p 0 mirror start /dev/mapper/rep full
check "replica: in-sync again" wait_field p 11 in-sync 120
check_match "replica: it synced in full ($CHUNKS chunks)" " in-sync $CHUNKS/$CHUNKS " "$(dmsetup status p)"
check_eq "replica: replica equals base" "$(direct_sum /dev/pb)" "$(direct_sum /dev/nr)"
dm_cleanup

# --- marks: the clearing pass flushes the replica before a mark leaves the disk --
# A region's mark may leave the metadata device only once the writes it
# covered are durable on the replica: with a volatile cache there, the
# pass flushes it first (nothing else flushes it here: no VM flush, the
# mark write flushes the metadata disk only).
check "marks: null_blk metadata disk" nullb_setup nm 4
dmsetup create p --table "0 $LEN colo primary /dev/pb 8 4 metadata /dev/nm region_size 64"
dmsetup mknodes
NRG=$((LEN / 64))
check "marks: full sync to the null_blk replica" dmsetup message p 0 mirror start /dev/nr full
check "marks: in-sync" wait_field p 11 in-sync 120
check "marks: every mark cleared once in sync" wait_field p 19 "0/$NRG" 10
colo-dio write /dev/mapper/p 40960 4096 /tmp/new.img
check_eq "marks: a write marks its region" "1/$NRG" "$(field p 19)"
r=$(disk_flushes nr)
check "marks: the mark is cleared once idle" wait_field p 19 "0/$NRG" 10
check "marks: the replica was flushed before the clear" grew nr "$r"
check_eq "marks: replica equals base" "$(direct_sum /dev/pb)" "$(direct_sum /dev/nr)"
check "marks: mirror stop" dmsetup message p 0 mirror stop

# --- marks: a failed replica flush costs a resync of the marked regions --------
# The marks still on disk cover every write the failed flush may have lost:
# they become dirty, the coverage stays complete, a dirty start repairs.
dmsetup create rep --table "0 $LEN linear /dev/nr 0"
dmsetup mknodes
check "fold: dirty sync to dm linear over the replica" \
	dmsetup message p 0 mirror start /dev/mapper/rep dirty
check "fold: in-sync" wait_field p 11 in-sync 120
check "fold: every mark cleared once in sync" wait_field p 19 "0/$NRG" 10
# The failing table waits inactive: the swap after the write is one resume,
# well within the two passes (>= 1 s) before the write's mark is taken back.
dmsetup load rep --table "0 $LEN flakey /dev/nr 0 0 60 1 error_writes"
colo-dio write /dev/mapper/p 1048576 4096 /tmp/new.img
dmsetup resume rep
check_eq "fold: the write's region is marked when the replica starts failing" \
	"1/$NRG" "$(field p 19)"
check "fold: the clearing pass's replica flush fails: degraded" \
	wait_field p 11 degraded 10
check "fold: dirty coverage complete (the marks cover the flush)" \
	wait_field p 16 complete 10
check_eq "fold: the marked region's 8 chunks are dirty" 8/$CHUNKS "$(field p 10)"
check_match "fold: the kernel says why" "marked regions are dirty" "$(dmesg)"
# What a replica's volatile cache could lose in a failed flush.
dd if=/dev/zero of=/dev/nr bs=4096 seek=256 count=1 oflag=direct 2>/dev/null
swap rep "0 $LEN linear /dev/nr 0"
check "fold: dirty start accepted" dmsetup message p 0 mirror start /dev/mapper/rep dirty
check "fold: in-sync again" wait_field p 11 in-sync 120
check_match "fold: it copied the 8 chunks" " in-sync 8/8 " "$(dmsetup status p)"
check_eq "fold: replica equals base" "$(direct_sum /dev/pb)" "$(direct_sum /dev/nr)"
dm_cleanup
nullb_remove pb nr nm

# --- a replica stacked on the colo device is refused -----------------------------
# within SECONDS CMD...: run CMD in the background; its status if it ends in
# time, else 124 (left running: a process stuck in D state cannot be killed).
within() {
	local t=$(($1 * 10)) i=0
	shift
	rm -f /tmp/within.rc
	( "$@" > /tmp/within.out 2>&1; echo $? > /tmp/within.rc ) &
	while [ $i -lt $t ] && [ ! -s /tmp/within.rc ]; do
		sleep 0.1; i=$((i + 1))
	done
	[ -s /tmp/within.rc ] || return 124
	return "$(cat /tmp/within.rc)"
}
brd_setup 2 $MIB
LEN=$(dev_sectors /dev/ram0)
dmsetup create p --table "0 $LEN colo primary /dev/ram0 8"
dmsetup mknodes
dmsetup create stk --table "0 $LEN linear /dev/mapper/p 0"
dmsetup create rep1 --table "0 $LEN linear /dev/ram1 0"
dmsetup mknodes
dd if=/tmp/new.img of=/dev/mapper/p bs=1M oflag=direct 2>/dev/null
hung=
# stk2 is made only after stk was tried: it claims stk, whose exclusive open
# then fails for that reason alone.
for s in stk stk2; do
	over=p
	if [ $s = stk2 ]; then
		dmsetup create stk2 --table "0 $LEN linear /dev/mapper/stk 0"
		dmsetup mknodes
		over="stk over p"
	fi
	dmesg -c > /dev/null
	within 20 dmsetup message p 0 mirror start /dev/mapper/$s full
	rc=$?
	case $rc in
	0) t_fail "stacked: mirror start on $s (linear over $over) refused" ;;
	124) t_fail "stacked: mirror start on $s (linear over $over) refused: it hung"
		hung="mirror start on $s" ;;
	*) t_ok "stacked: mirror start on $s (linear over $over) refused" ;;
	esac
	check_match "stacked: $s: the kernel log says why" "refused.*(stk|stack)" "$(dmesg)"
	check_eq "stacked: $s: mirror still none" none "$(field p 11)"
	[ -n "$hung" ] && break
	within 20 colo-dio write /dev/mapper/p 0 4096 /tmp/new.img
	rc=$?
	check_eq "stacked: $s: a VM write to p afterwards completes" 0 "$rc"
	if [ $rc = 124 ]; then
		hung="a VM write to p after mirror start on $s"
		break
	fi
done
if [ -n "$hung" ]; then
	# Devices in a deadlock cannot be removed: leave them as they are.
	t_fail "stacked: p hung ($hung): $(dmsetup status p)"
	t_fail "stacked: unrelated replica accepted (skipped: p hung)"
	t_done
fi
check "stacked: unrelated dm linear replica accepted" \
	within 20 dmsetup message p 0 mirror start /dev/mapper/rep1 full
check "stacked: unrelated replica in-sync" wait_field p 11 in-sync 120
check_eq "stacked: unrelated replica equals base" "$(direct_sum /dev/ram0)" "$(direct_sum /dev/ram1)"
check "stacked: mirror stop" within 20 dmsetup message p 0 mirror stop
dm_cleanup
t_done
