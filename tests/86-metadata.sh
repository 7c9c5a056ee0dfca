#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The metadata device (SPEC.md "Durability"): bad metadata refused with
# nothing written; a zeroed device initialised; write-intent marks in
# primary mode; recovery of the mode, the pending commit (which resumes by
# itself) and the dirty bitmap after a simulated crash; reload with the
# same metadata; "dirty add"; the lazy clearing of marks behind a mirror.
#
# A crash is simulated by turning every leg, then the metadata device, into
# dm-error (crash_now): nothing the target does afterwards reaches them,
# as after a host crash with disks that lost no completed write. Power
# losses (unflushed writes lost) are the dm-log-writes tests' job.
. /tests/lib.sh

brd_setup 5 16
LEN=$(dev_sectors /dev/ram0)
MSZ=2048		# metadata slice: 1 MiB
CH=8 RS=64		# 4 KiB chunks, 32 KiB regions: 8 chunks a region
NCH=$((LEN / CH)) NRG=$((LEN / RS))

# The legs and the metadata device are dm-linear slices ("lb", "lh", "la",
# "lm") so that a crash can cut them off; the replica is /dev/ram4.
B=/dev/mapper/lb H=/dev/mapper/lh A=/dev/mapper/la M=/dev/mapper/lm
R=/dev/ram4
legs_up() {
	dmsetup create lb --table "0 $LEN linear /dev/ram0 0" &&
		dmsetup create lh --table "0 $LEN linear /dev/ram1 0" &&
		dmsetup create la --table "0 $LEN linear /dev/ram2 0" &&
		dmsetup create lm --table "0 $MSZ linear /dev/ram3 0" &&
		dmsetup mknodes
}
# crash_now: the legs, then the metadata, stop taking I/O; the colo
# device goes; the slices come back over the same RAM disks.
crash_now() {
	local d n
	for d in lb lh la lm; do
		n=$(dev_sectors /dev/mapper/$d)
		dmsetup suspend --noflush $d &&
			dmsetup load $d --table "0 $n error" &&
			dmsetup resume $d
	done
	dmsetup remove c 2>/dev/null
	dm_cleanup
	legs_up
}
fresh() {
	dm_cleanup
	dd if=/dev/urandom of=/dev/ram0 bs=1M oflag=direct 2>/dev/null
	dd if=/dev/zero of=/dev/ram3 bs=1M count=1 oflag=direct 2>/dev/null
	legs_up
}
SEC="0 $LEN colo secondary $B $H $A $CH 4 metadata $M region_size $RS"
PRI="0 $LEN colo primary $B $CH 4 metadata $M region_size $RS"
mk() { dmsetup create c --table "$1" && dmsetup mknodes c; }
wr() { dd if=/dev/urandom of=/dev/mapper/c bs=4k seek="$1" count="${2:-1}" oflag=direct conv=notrunc 2>/dev/null; }
# Status fields (after "0 LEN colo"): 4 mode, 8 commit, 9 committed,
# 10 dirty, 11 mirror, 16 dirty coverage, 17 metadata, 18 uuids, 19 regions.
meta_sum() { dd if=/dev/ram3 bs=1M count=1 iflag=direct 2>/dev/null | md5sum; }

# load_refused DESC TABLE PATTERN: creating c fails, the error is in the
# log, and the metadata device is unchanged.
load_refused() {
	local before after log
	before=$(meta_sum)
	dmesg -c > /dev/null
	if dmsetup create c --table "$2" > /dev/null 2>&1; then
		t_fail "$1: accepted"
		dmsetup remove c
		return
	fi
	log=$(dmesg -c)
	after=$(meta_sum)
	if echo "$log" | grep -q "$3" && [ "$before" = "$after" ]; then
		t_ok "$1"
	else
		t_fail "$1"
		t_diag "want '$3' and an unchanged device; log:"
		echo "$log" | sed 's/^/#   /'
	fi
}

# 1. Initialisation and bad metadata.
fresh
check "zeroed metadata device initialised" mk "$PRI"
check_eq "status: metadata ok" ok "$(field c 17)"
check_match "status: generation uuids" '^[0-9a-f]{16}/0{16}$' "$(field c 18)"
check_eq "status: no region marked" "0/$NRG" "$(field c 19)"
check_eq "fresh primary: coverage unknown" unknown "$(field c 16)"
dmsetup remove c

load_refused "wrong chunk size" \
	"0 $LEN colo primary $B 16 4 metadata $M region_size $RS" "another geometry"
load_refused "wrong region size" \
	"0 $LEN colo primary $B $CH 4 metadata $M region_size 128" "another geometry"
load_refused "wrong length" \
	"0 $((LEN - 64)) colo primary $B $CH 4 metadata $M region_size $RS" "another geometry"
load_refused "a secondary table over a primary's metadata" "$SEC" \
	"Metadata of a primary"
dmsetup create small --table "0 8 linear /dev/ram3 0" && dmsetup mknodes small
load_refused "too small" \
	"0 $LEN colo primary $B $CH 4 metadata /dev/mapper/small region_size $RS" "too small"
dmsetup remove small
load_refused "metadata on a leg" \
	"0 $LEN colo primary $B $CH 2 metadata $B" "must not be a leg"
# Corrupt both superblock copies (one byte in each slot's payload).
cp_meta() { dd if=/dev/ram3 of=/tmp/meta.img bs=1M count=1 iflag=direct 2>/dev/null; }
put_meta() { dd if=/tmp/meta.img of=/dev/ram3 bs=1M count=1 oflag=direct conv=notrunc 2>/dev/null; }
poke() { printf '\377' | dd of=/dev/ram3 bs=1 seek="$1" conv=notrunc,fsync 2>/dev/null; }
cp_meta
poke 200; poke $((4096 + 200))
load_refused "corrupted superblock" "$PRI" "corrupted"
put_meta
poke 200
check "one torn superblock copy: the other is used" mk "$PRI"
dmsetup remove c
put_meta
poke $((2 * 4096 + 300)); poke $((3 * 4096 + 300))
load_refused "corrupted region bitmap" "$PRI" "corrupted"
put_meta
dd if=/dev/urandom of=/dev/ram3 bs=4k count=2 oflag=direct conv=notrunc 2>/dev/null
load_refused "foreign data" "$PRI" "another format"

# 2. Primary: write-intent marks survive a crash; every chunk of a marked
#    region is dirty afterwards.
fresh
mk "$PRI"
wr 0; wr 100; wr 101; wr $((NCH - 1))
check_eq "three regions marked" "3/$NRG" "$(field c 19)"
crash_now
check "primary table loaded again after the crash" mk "$PRI"
check_eq "recovered: primary" primary "$(field c 4)"
check_eq "recovered: 3 regions of dirty chunks" "24/$NCH" "$(field c 10)"
check_eq "recovered: coverage still unknown (fresh)" unknown "$(field c 16)"
check_fails "dirty resync refused" dmsetup message c 0 mirror start $R dirty

# 3. A full sync makes the coverage complete, on disk; idle regions in sync
#    are cleared lazily; dirty start allowed after the crash.
dd if=/dev/zero of=$R bs=1M oflag=direct 2>/dev/null
check "full sync started" dmsetup message c 0 mirror start $R full
wait_field c 11 in-sync 60 && t_ok "in sync" || t_fail "in sync"
wait_field c 19 "0/$NRG" 10 && t_ok "marks cleared once in sync and idle" ||
	t_fail "marks cleared once in sync and idle"
check_eq "coverage complete" complete "$(field c 16)"
# No clearing without a mirror in sync: the mark stays.
dmsetup message c 0 mirror stop
wr 7
check_eq "a write marks its region again" "1/$NRG" "$(field c 19)"
crash_now
mk "$PRI"
check_eq "after the crash: coverage complete" complete "$(field c 16)"
check_eq "after the crash: the written region is dirty" "8/$NCH" "$(field c 10)"
check "dirty resync accepted" dmsetup message c 0 mirror start $R dirty
wait_field c 11 in-sync 60 && t_ok "dirty resync in sync" ||
	t_fail "dirty resync in sync"
check_eq "replica equals base" "$(direct_sum $B)" "$(direct_sum $R)"

wait_field c 19 "0/$NRG" 10

# 4. dirty add: checked whole, durable.
check_fails "dirty add: range beyond the device" \
	dmsetup message c 0 dirty add 1-2 $NCH
check_fails "dirty add: bad range" dmsetup message c 0 dirty add 5-3
check_eq "refused ranges changed nothing" "0/$NCH" "$(field c 10)"
dmsetup message c 0 mirror stop
check "dirty add of two ranges" dmsetup message c 0 dirty add 10-12 200
check_eq "4 chunks dirty" "4/$NCH" "$(field c 10)"
crash_now
mk "$PRI"
check_eq "after the crash: their regions dirty" "16/$NCH" "$(field c 10)"
dmsetup remove c

# 5. Secondary: failover persists the overlay; a crash during the commit
#    brings back a primary whose commit resumes, with the VM's view exact.
fresh
dd if=/dev/urandom of=/dev/ram1 bs=1M oflag=direct 2>/dev/null
mk "$SEC"
dmsetup create ci --table "0 $LEN colo-ingress $B" && dmsetup mknodes ci
dd if=/dev/urandom of=/dev/mapper/ci bs=4k seek=50 count=300 oflag=direct 2>/dev/null
wr 10 400
check_eq "checkpoint writes no metadata" "$(meta_sum)" \
	"$(dmsetup message c 0 checkpoint; meta_sum)"
wr 30 500
dd if=/dev/urandom of=/dev/mapper/ci bs=4k seek=600 count=100 oflag=direct 2>/dev/null
view=$(direct_sum /dev/mapper/c)
# Slow base writes so that the commit is still running at the crash.
dmsetup suspend lb && dmsetup load lb --table "0 $LEN delay /dev/ram0 0 0 /dev/ram0 0 500" &&
	dmsetup resume lb
check "failover" dmsetup message c 0 failover
check_eq "commit running" running "$(field c 8)"
dmsetup remove ci
crash_now
check "secondary table loaded again after the crash" mk "$SEC"
check_eq "recovered as primary" primary "$(field c 4)"
wait_field c 8 done 60 && t_ok "the commit resumed and finished" ||
	t_fail "the commit resumed and finished"
check_eq "the VM's view is the one at failover" "$view" "$(direct_sum /dev/mapper/c)"
check_eq "base holds it" "$view" "$(direct_sum $B)"
check_eq "every chunk committed" "$(field c 9 | cut -d/ -f2)" \
	"$(field c 9 | cut -d/ -f1)"
check_fails "an ingress write fails (fenced)" \
	sh -c "dmsetup create ci --table '0 $LEN colo-ingress $B' && dmsetup mknodes ci &&
	       dd if=/dev/zero of=/dev/mapper/ci bs=4k count=1 oflag=direct 2>/dev/null"
dmsetup remove ci 2>/dev/null

# 6. A flush during the commit makes the VM's later writes safe from it.
fresh
mk "$SEC"
wr 0 800
dmsetup suspend lb && dmsetup load lb --table "0 $LEN delay /dev/ram0 0 0 /dev/ram0 0 500" &&
	dmsetup resume lb
dmsetup message c 0 failover
# Chunks 0-7 were in the overlay: write them now, flush, crash.
dd if=/dev/urandom of=/tmp/new bs=4k count=8 2>/dev/null
dd if=/tmp/new of=/dev/mapper/c bs=4k count=8 oflag=direct conv=notrunc,fsync 2>/dev/null
want=$(md5sum < /tmp/new)
crash_now
mk "$SEC"
wait_field c 8 done 60
check_eq "writes flushed during the commit survive it" "$want" \
	"$(dd if=/dev/mapper/c bs=4k count=8 iflag=direct 2>/dev/null | md5sum)"

# 7. Reload with the same metadata carries everything; a primary table over
#    a pending commit is refused.
fresh
mk "$SEC"
wr 0 100
dmsetup message c 0 failover
wait_field c 8 done 30
before=$(dmsetup status c | cut -d' ' -f4-14,16-19)
check "reload with the same metadata" sh -c \
	"dmsetup load c --table '$SEC' && dmsetup suspend c && dmsetup resume c"
check_eq "state carried" "$before" "$(dmsetup status c | cut -d' ' -f4-14,16-19)"
dm_cleanup

# 8. Failback with colosetup: the old primary's leftovers (writes that
#    never reached the peer) are exported from its metadata, imported into
#    the new primary, and a dirty resync makes the old disk equal again.
fresh
dd if=/dev/zero of=$R bs=1M oflag=direct 2>/dev/null
check "colosetup create --metadata" colosetup create old --primary $B \
	--chunk 4k --metadata $M --region-size 32k
check_eq "colosetup status shows the metadata" 1 \
	"$(colosetup status old | grep -c "metadata: $M, ok")"
check "full sync of the old primary" colosetup mirror start old $R --full --wait
colosetup mirror stop old
# Written on the old primary only: the peer never got them.
dd if=/dev/urandom of=/dev/mapper/old bs=4k seek=40 count=2 oflag=direct 2>/dev/null
dd if=/dev/urandom of=/dev/mapper/old bs=4k seek=500 count=1 oflag=direct 2>/dev/null
crash_now
# The peer (its disk is R) is a secondary that fails over.
dmsetup create new --table "0 $LEN colo secondary $R $H $A $CH" && dmsetup mknodes new
dd if=/dev/urandom of=/dev/mapper/new bs=4k seek=900 count=1 oflag=direct 2>/dev/null
check "the peer fails over" colosetup failover new --wait
check_match "metadata dump of the old primary" "mode: +primary" \
	"$(colosetup metadata dump $M)"
colosetup metadata export $M > /tmp/left
check_eq "export: the two marked regions" "# 40-47 496-503" \
	"$(grep -v '^#' /tmp/left | awk -F- '{ printf " %d-%d", $1 / 8, $2 / 8 }' | sed 's/^/#/')"
check "dirty import into the new primary" colosetup dirty import new /tmp/left
check "dirty resync of the old disk" colosetup mirror start new $B --dirty --wait
check_eq "the old disk equals the new primary's" \
	"$(direct_sum /dev/mapper/new)" "$(direct_sum $B)"
dmsetup remove new
check_fails "wipe refused while marks would be lost" colosetup metadata wipe $M
check "wipe --force" colosetup metadata wipe $M --force
check_match "wiped: a fresh device" "fresh" "$(colosetup metadata dump $M 2>&1)"
dm_cleanup

# 9. A failing metadata device fails nothing else: writes and a failover go
#    on, the status says the state is not crash-safe any more.
meta_error() {
	dmsetup suspend --noflush lm && dmsetup load lm --table "0 $MSZ error" &&
		dmsetup resume lm
}
fresh
mk "$PRI"
meta_error
check "primary: a write to an unmarked region succeeds" wr 300
check_eq "metadata failed" failed "$(field c 17)"
check_eq "health error" error "$(field c 14)"
check "and the next write" wr 600
dm_cleanup
fresh
mk "$SEC"
wr 0 10
meta_error
check "failover with a failed metadata device" dmsetup message c 0 failover
check_eq "primary" primary "$(field c 4)"
check_eq "metadata failed" failed "$(field c 17)"
wait_field c 8 done 30 && t_ok "commit done" || t_fail "commit done"
dm_cleanup
t_done
