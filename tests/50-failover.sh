#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# failover: the switch, the fence on the ingress, the background commit and
# its dm event, an I/O error during the commit and the resume by a second
# failover, suspend/resume during the commit, a reload during it (the same
# table carries the commit over, a primary table is refused), the dirty
# bitmap of primary mode, and a commit with max_copies 1 that partial VM
# writes (whose copies take the only copy slot) must not stall.
. /tests/lib.sh

MIB=64
brd_setup 4 $MIB
LEN=$(dev_sectors /dev/ram0)

status_field() { dmsetup status "$1" | awk -v f="$2" '{ print $f }'; }
now_ms() { awk '{ printf "%d\n", $1 * 1000 }' /proc/uptime; }
# wait_commit DEV TIMEOUT_S: poll until the commit is done or failed.
wait_commit() {
	local i=0 s
	while [ $i -lt $(($2 * 10)) ]; do
		s=$(status_field "$1" 8)
		[ "$s" = done ] || [ "$s" = failed ] && { echo "$s"; return; }
		sleep 0.1; i=$((i + 1))
	done
	echo timeout
}
# Fill: VM writes to the first half's chunks, ingress writes everywhere.
vm_write() { dd if=/dev/urandom of=/dev/mapper/$1 bs=$2 seek=$3 count=$4 oflag=direct conv=notrunc 2>/dev/null; }

# --- 1. switch, fence, commit, event ---------------------------------------
for chunk in 1 8 128; do
	dm_cleanup
	dmsetup create c --table "0 $LEN colo secondary /dev/ram0 /dev/ram1 /dev/ram2 $chunk"
	dmsetup create c-ingress --table "0 $LEN colo-ingress /dev/ram0"
	dmsetup mknodes
	vm_write c 64k 0 128			# 8 MiB of VM writes
	vm_write c 4k 5000 7			# partial chunks for chunk 128
	vm_write c-ingress 64k 64 256		# ingress over VM and clean chunks
	view=$(direct_sum /dev/mapper/c)
	ev=$(events c)
	t0=$(now_ms)
	check "chunk $chunk: failover" dmsetup message c 0 failover
	dd if=/dev/mapper/c of=/dev/null bs=4k count=1 iflag=direct 2>/dev/null
	t1=$(now_ms)
	t_diag "chunk $chunk: failover message + first 4 KiB VM read: $((t1 - t0)) ms (includes process start-up)"
	check_eq "chunk $chunk: mode primary" primary "$(status_field c 4)"
	check_fails "chunk $chunk: ingress write after failover fails" \
		dd if=/dev/zero of=/dev/mapper/c-ingress bs=4k count=1 oflag=direct conv=notrunc
	check "chunk $chunk: dmsetup wait returns at the commit's event" \
		timeout 120 dmsetup wait c "$ev"
	st=$(wait_commit c 120)
	t2=$(now_ms)
	check_eq "chunk $chunk: commit done" done "$st"
	t_diag "chunk $chunk: commit of $(status_field c 9) chunks took $((t2 - t0)) ms; status: $(dmsetup status c)"
	check_match "chunk $chunk: overlay empty, committed all" \
		"colo primary $chunk 0/[0-9]+ 0/[0-9]+ done ([0-9]+)/\\1 " "$(dmsetup status c)"
	check_eq "chunk $chunk: VM view unchanged by failover" "$view" "$(direct_sum /dev/mapper/c)"
	check_eq "chunk $chunk: base equals the view" "$view" "$(direct_sum /dev/ram0)"
	check_fails "chunk $chunk: checkpoint refused in primary mode" dmsetup message c 0 checkpoint
	check_fails "chunk $chunk: second failover refused when done" dmsetup message c 0 failover
	check "chunk $chunk: ingress removable" dmsetup remove c-ingress
	check "chunk $chunk: colo removable" dmsetup remove c
done

# --- 2. I/O error during the commit, resume by a second failover ------------
dm_cleanup
dmsetup create act --table "0 $LEN linear /dev/ram2 0"
dmsetup mknodes
dmsetup create c --table "0 $LEN colo secondary /dev/ram0 /dev/ram1 /dev/mapper/act 8"
dmsetup create c-ingress --table "0 $LEN colo-ingress /dev/ram0"
dmsetup mknodes
vm_write c 64k 0 64
vm_write c-ingress 64k 32 128
view=$(direct_sum /dev/mapper/c)
# active fails from now on: the commit cannot read it.
dmsetup suspend act; dmsetup load act --table "0 $LEN error"; dmsetup resume act
ev=$(events c)
check "error: failover" dmsetup message c 0 failover
check_eq "error: commit failed" failed "$(wait_commit c 60)"
check "error: dm event raised" timeout 10 dmsetup wait c "$ev"
check_eq "error: health error" error "$(status_field c 14)"
check_match "error: active chunks still pending" "colo primary 8 [1-9][0-9]*/" "$(dmsetup status c)"
dmsetup suspend act; dmsetup load act --table "0 $LEN linear /dev/ram2 0"; dmsetup resume act
check "error: failover again resumes" dmsetup message c 0 failover
check_eq "error: commit done after resume" done "$(wait_commit c 60)"
check_eq "error: VM view kept" "$view" "$(direct_sum /dev/mapper/c)"
check_eq "error: base equals the view" "$view" "$(direct_sum /dev/ram0)"
dm_cleanup

# --- 3. suspend/resume during the commit; reload during it -----------------
# base behind dm-delay so that the commit takes a while: 32 MiB of adjacent
# chunks are 32 copies of 1 MiB (extents), at most 4 at once, 400 ms each.
dmsetup create slow --table "0 $LEN delay /dev/ram3 0 0 /dev/ram3 0 400"
dmsetup mknodes
dmsetup create c --table "0 $LEN colo secondary /dev/mapper/slow /dev/ram1 /dev/ram2 8"
dmsetup mknodes
vm_write c 64k 0 512			# 32 MiB, 8192 chunks
view=$(direct_sum /dev/mapper/c)
check "suspend: failover" dmsetup message c 0 failover
sleep 1
check "suspend: suspend during the commit" dmsetup suspend c
a=$(status_field c 9); sleep 1; b=$(status_field c 9)
check_eq "suspend: no progress while suspended" "$a" "$b"
check_eq "suspend: commit still running" running "$(status_field c 8)"
check_fails "reload: a primary table refused before the commit is done" \
	dmsetup reload c --table "0 $LEN colo primary /dev/mapper/slow 8"
dmsetup clear c 2>/dev/null
check "reload: the same secondary table accepted before the commit is done" \
	dmsetup reload c --table "0 $LEN colo secondary /dev/mapper/slow /dev/ram1 /dev/ram2 8"
check "suspend: resume" dmsetup resume c
check_eq "reload: still primary in the new table" primary "$(status_field c 4)"
check_eq "suspend: commit done after resume" done "$(wait_commit c 300)"
check_match "reload: the commit finished in the new table" \
	"colo primary 8 0/[0-9]+ 0/[0-9]+ done 8192/8192 " "$(dmsetup status c)"
check_eq "reload: VM view unchanged" "$view" "$(direct_sum /dev/mapper/c)"
check_eq "suspend: base equals the view" "$view" "$(direct_sum /dev/mapper/slow)"
check "reload: allowed once the commit is done" \
	dmsetup reload c --table "0 $LEN colo primary /dev/mapper/slow 8"
dmsetup resume c
check_eq "reload: primary table live" primary "$(status_field c 4)"
dm_cleanup

# --- 4. dirty bitmap ---------------------------------------------------------
dmsetup create c --table "0 $LEN colo secondary /dev/ram0 /dev/ram1 /dev/ram2 8"
dmsetup create c-ingress --table "0 $LEN colo-ingress /dev/ram0"
dmsetup mknodes
vm_write c 4k 0 10			# active: chunks 0-9
vm_write c-ingress 4k 5 10		# hidden: chunks 10-14 (5-9 are active)
view=$(direct_sum /dev/mapper/c)
dmsetup message c 0 failover
wait_commit c 60 > /dev/null
check_match "dirty: starts as active|hidden (15 chunks)" " 15/16384 " "$(dmsetup status c)"
# Adjacent chunks from two legs: the commit's extents end where the leg
# changes (chunks 0-9 from active, 10-14 from hidden).
check_match "extents: 15 chunks committed" " done 15/15 " "$(dmsetup status c)"
check_eq "extents: base equals the view across the change of leg" "$view" \
	"$(direct_sum /dev/ram0)"
vm_write c 4k 100 3
vm_write c 4k 2 1
check_match "dirty: VM writes after failover are added" " 18/16384 " "$(dmsetup status c)"
dm_cleanup
dmsetup create p --table "0 $LEN colo primary /dev/ram0 8"
dmsetup mknodes
vm_write p 4k 7 3
vm_write p 512 81 1
check_match "dirty: primary table marks written chunks" \
	"colo primary 8 0/16384 0/16384 none 0/0 4/16384 " "$(dmsetup status p)"
check_fails "primary table: failover refused" dmsetup message p 0 failover
dm_cleanup

# --- 5. commit with max_copies 1 and partial VM writes -----------------------
# A partial VM write to a pending chunk commits the chunk with a copy of its
# own, which takes the only copy slot; the commit must still go on once that
# copy ends (the copy, not only the commit's own copies, has to restart it).
# base is behind dm-delay (100 ms per write) while the writes run, so that
# the commit (16 copies of 1 MiB extents, one at a time, and the VM's
# partial writes' copies in between) is far from done and its copies and
# the VM's overlap; the delay is lifted when the writes end, after which
# the rest takes ~1 s under TCG.
SLEN=32768				# 16 MiB: 2048 chunks of 16 sectors
dmsetup create slow --table "0 $SLEN delay /dev/ram3 0 0 /dev/ram3 0 100"
dmsetup mknodes
dmsetup create c --table "0 $SLEN colo secondary /dev/mapper/slow /dev/ram1 /dev/ram2 16 2 max_copies 1"
dmsetup mknodes
vm_write c 1M 0 16			# every chunk active
check "max_copies 1: failover" dmsetup message c 0 failover
t0=$(now_ms)
check "max_copies 1: 2 s of 512 B..4 KiB O_DIRECT random VM writes during the commit" \
	fio --name=partial --filename=/dev/mapper/c --rw=randwrite \
	--bsrange=512-4k --direct=1 --ioengine=psync --numjobs=2 \
	--time_based --runtime=2 --randrepeat=0
t_diag "max_copies 1: writes ended after $(( $(now_ms) - t0 )) ms; status: $(dmsetup status c)"
dmsetup suspend slow; dmsetup load slow --table "0 $SLEN linear /dev/ram3 0"; dmsetup resume slow
view=$(direct_sum /dev/mapper/c)
t1=$(now_ms) st=running
while [ "$st" = running ] && [ $(( $(now_ms) - t1 )) -lt 60000 ]; do
	sleep 0.2; st=$(status_field c 8)
done
t_diag "max_copies 1: commit $st $(( $(now_ms) - t1 )) ms after the writes ended; status: $(dmsetup status c)"
check_eq "max_copies 1: commit done within 60 s after the partial writes ended" done "$st"
if [ "$st" = running ]; then	# unstick it for the checks below
	dmsetup suspend c; dmsetup resume c
	st=$(wait_commit c 60)
	t_diag "max_copies 1: after suspend/resume: commit $st; status: $(dmsetup status c)"
fi
check_eq "max_copies 1: VM view kept" "$view" "$(direct_sum /dev/mapper/c)"
check_eq "max_copies 1: base equals the view" "$view" "$(direct_sum /dev/mapper/slow)"
dm_cleanup
t_done
