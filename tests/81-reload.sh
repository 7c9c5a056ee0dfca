#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Reload of a colo device (SPEC.md "Durability" -> "Reload"): a table with
# the same base, legs, chunk size and length carries all state over to the
# new table (mode, active/hidden, the commit and its progress, the dirty
# bitmap, the mirror, health, the attached ingress), and the VM's view is
# the same before and after. A table that changes the geometry is refused
# while the old table has state, or while the device is not suspended.
#
#  1. same-table reload with an ingress attached and an overlay, live and
#     suspended; the ingress keeps working
#  2. an ingress created between load and resume stays attached (C2)
#  3. failover with the device suspended and a new table loaded (C1), with
#     and without an ingress; failover, checkpoint, mirror start, mirror
#     stop between load and resume: their effect is in the new table
#  4. reload during a running commit: same table accepted, the commit ends
#     in the new table; a primary table refused until the commit is done,
#     then accepted, carrying the dirty bitmap and the mirror
#  5. primary: a same-table reload carries the mirror; health carried
#  6. geometry changes refused while there is state, or when live
. /tests/lib.sh

brd_setup 4 1
B=/dev/ram0 H=/dev/ram1 A=/dev/ram2 R=/dev/ram3
LEN=$(dev_sectors $B)
CH=$((LEN / 8))
SEC="0 $LEN colo secondary $B $H $A 8"
PRI="0 $LEN colo primary $B 8"

# Status fields as the other tests index them (after "0 LEN colo"): 4 mode,
# 5 chunk, 6 active, 7 hidden, 8 commit, 9 committed, 10 dirty, 11 mirror,
# 12 mirrored, 13 ingress, 14 health, 15 bitmap bytes.
# state DEV: every status field but the bitmaps' memory.
# state DEV: the status without bitmap_bytes (field 15), with the dirty
# coverage (16).
state() { dmsetup status "$1" | cut -d' ' -f4-14,16; }
# wr DEV CHUNK [SRC]: one 4 KiB write (a chunk) at CHUNK.
wr() {
	dd if="${3:-/dev/urandom}" of="$1" bs=4k seek="$2" count=1 oflag=direct conv=notrunc 2>&1
}
# csum DEV CHUNK: checksum of one chunk read with O_DIRECT.
csum() {
	dd if="$1" bs=4k skip="$2" count=1 iflag=direct 2>/dev/null | md5sum | cut -d' ' -f1
}
view() { direct_sum /dev/mapper/c; }
# mk_sec [ingress]: base filled with random data, a secondary c (and ci).
mk_sec() {
	dm_cleanup
	dd if=/dev/urandom of=$B bs=1M count=1 oflag=direct 2>/dev/null
	dmsetup create c --table "$SEC" || return 1
	if [ "$1" = ingress ]; then
		dmsetup create ci --table "0 $LEN colo-ingress $B" || return 1
	fi
	dmsetup mknodes
}
mk_pri() {
	dm_cleanup
	dd if=/dev/urandom of=$B bs=1M count=1 oflag=direct 2>/dev/null
	dd if=/dev/zero of=$R bs=1M count=1 oflag=direct 2>/dev/null
	dmsetup create c --table "$PRI" && dmsetup mknodes
}
# load_refused DESC TABLE: dmsetup load of c fails with a colo error in the
# kernel log (an accepted table is cleared again).
load_refused() {
	local log
	dmesg -c > /dev/null
	if dmsetup load c --table "$2" > /dev/null 2>&1; then
		t_fail "$1"
		t_diag "load accepted: $2"
		dmsetup clear c 2> /dev/null
		return
	fi
	log=$(dmesg -c)
	if echo "$log" | grep -q "colo: "; then
		t_ok "$1"
	else
		t_fail "$1"
		t_diag "no colo: error in the kernel log:"
		echo "$log" | sed 's/^/#   /'
	fi
}

# --- 1. same table, ingress attached, overlay ------------------------------
mk_sec ingress
wr /dev/mapper/c 0 > /dev/null; wr /dev/mapper/c 1 > /dev/null
wr /dev/mapper/ci 1 > /dev/null; wr /dev/mapper/ci 2 > /dev/null; wr /dev/mapper/ci 3 > /dev/null
S=$(state c) V=$(view)
check_eq "1: state before the reload" \
	"secondary 8 2/$CH 2/$CH none 0/0 0/$CH none 0/0 attached ok unknown" "$S"
check "1: live load of the same table accepted with an ingress attached" \
	dmsetup load c --table "$SEC"
check_eq "1: the loaded table's status shows the state it takes over" "$S" \
	"$(dmsetup status --inactive c | cut -d' ' -f4-14,16)"
check "1: resume" dmsetup resume c
check_eq "1: state carried over" "$S" "$(state c)"
check_eq "1: view unchanged by the reload" "$V" "$(view)"
check_eq "1: ingress still names c" "0 $LEN colo-ingress c" "$(dmsetup status ci)"
check "1: ingress write after the reload" wr /dev/mapper/ci 5
check_eq "1: view unchanged by that ingress write (copy-before-write)" "$V" "$(view)"
check_eq "1: hidden counts it" "3/$CH" "$(field c 7)"
check "1: suspend" dmsetup suspend c
S=$(state c)
check "1: load of the same table while suspended accepted" dmsetup load c --table "$SEC"
check "1: resume" dmsetup resume c
check_eq "1: state carried over (suspended load)" "$S" "$(state c)"
check_eq "1: view unchanged by the second reload" "$V" "$(view)"
check "1: ingress write after the second reload" wr /dev/mapper/ci 6
check_eq "1: view still unchanged" "$V" "$(view)"
check "1: checkpoint" dmsetup message c 0 checkpoint
check_eq "1: checkpoint: view is base" "$(direct_sum $B)" "$(view)"

# --- 2. ingress created between load and resume (C2) ------------------------
mk_sec
wr /dev/mapper/c 0 > /dev/null
V=$(view)
check "2: load of the same table" dmsetup load c --table "$SEC"
check "2: ingress created after the load" \
	dmsetup create ci --table "0 $LEN colo-ingress $B"
dmsetup mknodes
check "2: resume" dmsetup resume c
check_eq "2: view unchanged by the reload" "$V" "$(view)"
check_eq "2: ingress still attached to c" "0 $LEN colo-ingress c" "$(dmsetup status ci)"
check_eq "2: c says attached" attached "$(field c 13)"
check_eq "2: overlay carried" "secondary 1/$CH 0/$CH" "$(field c 4) $(field c 6) $(field c 7)"
check "2: ingress write succeeds" wr /dev/mapper/ci 2
check_eq "2: view unchanged by the ingress write" "$V" "$(view)"
check_eq "2: hidden holds the saved chunk" "1/$CH" "$(field c 7)"
check "2: checkpoint" dmsetup message c 0 checkpoint
check_eq "2: checkpoint: view is base" "$(direct_sum $B)" "$(view)"

# --- 3. messages between load and resume --------------------------------------
# failover_case NAME suspend|live keep|drop: the VM writes chunk 0 and the
# ingress chunk 2; the same table is loaded; the device is suspended (or
# not) and fails over; the ingress is kept (or removed before the load).
# After the resume the failover, the overlay and the fence are carried.
# C1 of the review is "suspend keep".
dd if=/dev/urandom of=/tmp/p0 bs=4k count=1 2>/dev/null
failover_case() {
	local n="3 $1" old2
	mk_sec ingress
	wr /dev/mapper/c 0 /tmp/p0 > /dev/null
	old2=$(csum $B 2)
	wr /dev/mapper/ci 2 > /dev/null
	[ "$3" = keep ] || dmsetup remove ci
	V=$(view)
	check "$n: load of the same table" dmsetup load c --table "$SEC"
	[ "$2" = suspend ] && check "$n: suspend" dmsetup suspend c
	check "$n: failover between load and resume" dmsetup message c 0 failover
	check "$n: resume" dmsetup resume c
	check_eq "$n: primary after the resume" primary "$(field c 4)"
	wait_field c 8 'done|failed|none' 20
	check_eq "$n: commit done" "done 2/2" "$(field c 8) $(field c 9)"
	check_eq "$n: dirty starts as active|hidden" "2/$CH" "$(field c 10)"
	check_eq "$n: the VM's chunk 0 kept" "$(md5sum < /tmp/p0 | cut -d' ' -f1)" "$(csum /dev/mapper/c 0)"
	check_eq "$n: chunk 2 shows the old content" "$old2" "$(csum /dev/mapper/c 2)"
	check_eq "$n: view unchanged" "$V" "$(view)"
	if [ "$3" = keep ]; then
		check_match "$n: ingress fenced (EIO)" "Input/output error|I/O error" \
			"$(wr /dev/mapper/ci 4)"
	fi
	check_eq "$n: base equals the view" "$V" "$(direct_sum $B)"
}
failover_case C1 suspend keep
failover_case "C1 no ingress" suspend drop
failover_case failover live drop

# checkpoint between load and resume.
mk_sec ingress
wr /dev/mapper/c 0 > /dev/null; wr /dev/mapper/ci 2 > /dev/null
check "3 checkpoint: load of the same table" dmsetup load c --table "$SEC"
check "3 checkpoint: checkpoint between load and resume" dmsetup message c 0 checkpoint
check "3 checkpoint: resume" dmsetup resume c
check_eq "3 checkpoint: overlay empty after the resume" "secondary 0/$CH 0/$CH attached" \
	"$(field c 4) $(field c 6) $(field c 7) $(field c 13)"
check_eq "3 checkpoint: view is base" "$(direct_sum $B)" "$(view)"
V=$(view)
check "3 checkpoint: ingress write after it" wr /dev/mapper/ci 3
check_eq "3 checkpoint: view unchanged by it" "$V" "$(view)"

# mirror start between load and resume.
mk_pri
wr /dev/mapper/c 0 > /dev/null; wr /dev/mapper/c 5 > /dev/null
V=$(view)
check "3 mirror start: load of the same table" dmsetup load c --table "$PRI"
check "3 mirror start: mirror start between load and resume" \
	dmsetup message c 0 mirror start $R full
check "3 mirror start: resume" dmsetup resume c
check_match "3 mirror start: mirror running after the resume" "^(copying|in-sync)$" "$(field c 11)"
wait_field c 11 'in-sync|degraded|none' 20
check_eq "3 mirror start: in sync" in-sync "$(field c 11)"
check_eq "3 mirror start: view unchanged" "$V" "$(view)"
check_eq "3 mirror start: replica equals base" "$(direct_sum $B)" "$(direct_sum $R)"
wr /dev/mapper/c 9 > /dev/null
check_eq "3 mirror start: a write after it reaches the replica" "$(direct_sum $B)" "$(direct_sum $R)"

# mirror stop between load and resume.
mk_pri
dmsetup message c 0 mirror start $R full
wait_field c 11 'in-sync|degraded' 20
check "3 mirror stop: load of the same table" dmsetup load c --table "$PRI"
check "3 mirror stop: mirror stop between load and resume" dmsetup message c 0 mirror stop
check "3 mirror stop: resume" dmsetup resume c
check_eq "3 mirror stop: no mirror after the resume" "none 0/0" "$(field c 11) $(field c 12)"
check "3 mirror stop: the replica is free" dmsetup create rep --table "0 8 linear $R 0"
dmsetup remove rep 2>/dev/null
wr /dev/mapper/c 10 > /dev/null
check_eq "3 mirror stop: writes are marked dirty again" "1/$CH" "$(field c 10)"

# --- 4. reload during the commit; primary table once it is done --------------
dm_cleanup
dd if=/dev/urandom of=$B bs=1M count=1 oflag=direct 2>/dev/null
# base writes take 50 ms, one copy at a time: the commit of 50 chunks takes
# 2.5 s. Every other chunk, so that no two are adjacent: the commit copies
# adjacent chunks together (one extent), which would take 50 ms.
dmsetup create slow --table "0 $LEN delay $B 0 0 $B 0 50"
dmsetup mknodes
SLOW="0 $LEN colo secondary /dev/mapper/slow $H $A 8 2 max_copies 1"
dmsetup create c --table "$SLOW"
dmsetup mknodes
i=0
while [ $i -lt 50 ]; do
	wr /dev/mapper/c $((2 * i)) > /dev/null
	i=$((i + 1))
done
V=$(view)
check "4: failover" dmsetup message c 0 failover
check_eq "4: commit running" running "$(field c 8)"
load_refused "4: a primary table refused before the commit is done" \
	"0 $LEN colo primary /dev/mapper/slow 8 2 max_copies 1"
check "4: the same secondary table accepted during the commit" dmsetup load c --table "$SLOW"
check "4: resume" dmsetup resume c
check_eq "4: still primary" primary "$(field c 4)"
wait_field c 8 'done|failed' 60
check_eq "4: commit done in the new table, progress carried" "done 50/50" \
	"$(field c 8) $(field c 9)"
check_eq "4: view unchanged" "$V" "$(view)"
check_eq "4: base equals the view" "$V" "$(direct_sum /dev/mapper/slow)"
check_eq "4: dirty bitmap" "50/$CH" "$(field c 10)"
check "4: a primary table accepted once the commit is done" \
	dmsetup load c --table "0 $LEN colo primary /dev/mapper/slow 8 2 max_copies 1"
check "4: resume" dmsetup resume c
check_match "4: primary table live" "colo primary " "$(dmsetup table c)"
check_eq "4: primary, dirty bitmap carried" "primary 50/$CH" "$(field c 4) $(field c 10)"
check_eq "4: its coverage (seeded at failover) carried" complete "$(field c 16)"
check_eq "4: view unchanged by the primary table" "$V" "$(view)"
dm_cleanup

# a failed-over secondary with a mirror in sync, replaced by a primary table.
mk_sec ingress
wr /dev/mapper/c 0 > /dev/null; wr /dev/mapper/ci 2 > /dev/null
dmsetup remove ci
dd if=/dev/zero of=$R bs=1M count=1 oflag=direct 2>/dev/null
dmsetup message c 0 failover
wait_field c 8 'done|failed' 20
check "4 mirror: mirror start after the commit" dmsetup message c 0 mirror start $R full
wait_field c 11 'in-sync|degraded' 20
check_eq "4 mirror: in sync" in-sync "$(field c 11)"
V=$(view)
check "4 mirror: primary table loaded" dmsetup load c --table "$PRI"
check "4 mirror: resume" dmsetup resume c
check_eq "4 mirror: primary, mirror carried" "primary in-sync" "$(field c 4) $(field c 11)"
check_eq "4 mirror: view unchanged" "$V" "$(view)"
wr /dev/mapper/c 7 > /dev/null
check_eq "4 mirror: a write after it reaches the replica" "$(direct_sum $B)" "$(direct_sum $R)"
check_eq "4 mirror: and is not dirty" "0/$CH" "$(field c 10)"

# --- 5. primary: mirror and health carried ------------------------------------
mk_pri
check "5: mirror start" dmsetup message c 0 mirror start $R full
wait_field c 11 'in-sync|degraded' 20
wr /dev/mapper/c 3 > /dev/null
S=$(state c) V=$(view)
check_match "5: state before the reload" \
	"^primary 8 0/$CH 0/$CH none 0/0 0/$CH in-sync [0-9]+/[0-9]+ none ok complete$" "$S"
check "5: load of the same primary table" dmsetup load c --table "$PRI"
check "5: resume" dmsetup resume c
check_eq "5: state carried over (mirror in sync)" "$S" "$(state c)"
check_eq "5: view unchanged" "$V" "$(view)"
wr /dev/mapper/c 4 > /dev/null
check_eq "5: a write after it reaches the replica" "$(direct_sum $B)" "$(direct_sum $R)"
check_fails "5: the replica is still held after the reload" \
	dmsetup create rep --table "0 8 linear $R 0"
dmsetup remove rep 2>/dev/null
check "5: mirror stop after the reload" dmsetup message c 0 mirror stop
check "5: mirror stop freed it" dmsetup create rep --table "0 8 linear $R 0"
dmsetup remove rep 2>/dev/null

# health: an I/O error of active, then a same-table reload.
dm_cleanup
dmsetup create act --table "0 $LEN linear $A 0"
dmsetup mknodes
AT="0 $LEN colo secondary $B $H /dev/mapper/act 8"
dmsetup create c --table "$AT"
dmsetup mknodes
wr /dev/mapper/c 1 > /dev/null
dmsetup suspend act; dmsetup load act --table "0 $LEN error"; dmsetup resume act
wr /dev/mapper/c 2 > /dev/null
dmsetup suspend act; dmsetup load act --table "0 $LEN linear $A 0"; dmsetup resume act
check_eq "5 health: error after a failed VM write" error "$(field c 14)"
S=$(state c) V=$(view)
check "5 health: load of the same table" dmsetup load c --table "$AT"
check "5 health: resume" dmsetup resume c
check_eq "5 health: state carried over (health error)" "$S" "$(state c)"
check_eq "5 health: view unchanged" "$V" "$(view)"

# --- 6. geometry changes ---------------------------------------------------------
# overlay non-empty (suspended)
mk_sec
wr /dev/mapper/c 0 > /dev/null
S=$(state c) V=$(view)
dmsetup suspend c
load_refused "6 overlay: chunk 16 refused" "0 $LEN colo secondary $B $H $A 16"
load_refused "6 overlay: shorter length refused" "0 $((LEN - 8)) colo secondary $B $H $A 8"
load_refused "6 overlay: other hidden and active refused" "0 $LEN colo secondary $B $R $H 8"
dmsetup resume c
check_eq "6 overlay: state unchanged" "$S" "$(state c)"
check_eq "6 overlay: view unchanged" "$V" "$(view)"

# ingress attached, no overlay (suspended)
mk_sec ingress
dmsetup suspend c
load_refused "6 ingress: chunk 16 refused" "0 $LEN colo secondary $B $H $A 16"
dmsetup resume c
check_eq "6 ingress: still attached" "0 $LEN colo-ingress c" "$(dmsetup status ci)"

# primary: dirty bitmap non-empty (suspended)
mk_pri
wr /dev/mapper/c 0 > /dev/null
dmsetup suspend c
load_refused "6 dirty: chunk 16 refused" "0 $LEN colo primary $B 16"
load_refused "6 dirty: shorter length refused" "0 $((LEN - 8)) colo primary $B 8"
dmsetup resume c
check_eq "6 dirty: dirty bitmap kept" "8 1/$CH" "$(field c 5) $(field c 10)"

# primary: mirror in sync, dirty 0 (suspended)
dmsetup message c 0 mirror start $R full
wait_field c 11 'in-sync|degraded' 20
check_eq "6 mirror: in sync, nothing dirty" "in-sync 0/$CH" "$(field c 11) $(field c 10)"
dmsetup suspend c
load_refused "6 mirror: chunk 16 refused" "0 $LEN colo primary $B 16"
dmsetup resume c
check_eq "6 mirror: mirror kept" "8 in-sync" "$(field c 5) $(field c 11)"

# no state: refused live, accepted suspended
mk_sec
load_refused "6 idle: chunk 16 refused while live" "0 $LEN colo secondary $B $H $A 16"
check "6 idle: suspend" dmsetup suspend c
check "6 idle: chunk 16 accepted while suspended" \
	dmsetup load c --table "0 $LEN colo secondary $B $H $A 16"
check "6 idle: resume" dmsetup resume c
check_eq "6 idle: new chunk size live" "secondary 16 0/$((LEN / 16))" \
	"$(field c 4) $(field c 5) $(field c 6)"
dm_cleanup
t_done
