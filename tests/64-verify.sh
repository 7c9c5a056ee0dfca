#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# verify: the online verify compares base with the in-sync mirror's replica.
# The replica (dm-linear "rep" over ram1) is corrupted behind the mirror's
# back by writing ram1 directly; verify reports exactly the corrupted
# chunks (count and ranges, by dmsetup and colosetup) and marks them
# dirty; "mirror stop" then "mirror start <dev> dirty" copies exactly those
# and base equals the replica again. An identical replica gives 0; a
# verify under concurrent fio writes misses no corrupted chunk; suspend,
# reload, mirror stop, a degraded mirror and remove during a verify; bad
# inputs are refused with clear errors and change nothing.
. /tests/lib.sh

MIB=64
brd_setup 3 $MIB
LEN=$(dev_sectors /dev/ram0)
CHUNKS=$((LEN / 8))
dmsetup create rep --table "0 $LEN linear /dev/ram1 0"
dmsetup create p --table "0 $LEN colo primary /dev/ram0 8"
dmsetup mknodes
dd if=/dev/urandom of=/dev/mapper/p bs=1M count=$MIB oflag=direct 2>/dev/null

# The verify's status fields: state, verified/to_verify, different.
vst() { dmsetup status p | awk '{ print $20, $21, $22 }'; }
dirty() { dmsetup status p | awk '{ split($10, a, "/"); print a[1] }'; }
mirrored() { dmsetup status p | awk '{ print $12 }'; }
# The status but the counters a running copy or verify moves (dirty,
# mirrored, verified, and the copy rates of the mirror and the verify).
snap() { dmsetup status p | awk '{ $10 = $12 = $21 = $26 = $28 = ""; print }'; }
# refused DESC KERNEL-SENTENCE MESSAGE...: see msg_refused in lib.sh.
refused() { msg_refused p "$@"; }
# corrupt CHUNK [SECTOR_IN_CHUNK]: overwrite one chunk (or one sector of
# it) of the replica's disk underneath the mirror. One sector is written
# as its whole 4 KiB block with O_DIRECT: busybox dd's 512-byte O_DIRECT
# write falls back to the page cache and reaches the disk only at
# writeback, seconds later.
corrupt() {
	if [ -n "$2" ]; then
		dd if=/dev/ram1 of=/tmp/blk bs=4096 skip="$1" count=1 iflag=direct 2>/dev/null
		dd if=/dev/urandom of=/tmp/blk bs=512 seek="$2" count=1 conv=notrunc 2>/dev/null
		dd if=/tmp/blk of=/dev/ram1 bs=4096 seek="$1" count=1 oflag=direct \
			conv=notrunc 2>/dev/null
	else
		dd if=/dev/urandom of=/dev/ram1 bs=4096 seek="$1" count=1 \
			oflag=direct conv=notrunc 2>/dev/null
	fi
}
# repair: what verify tells the operator to do; the resync copies exactly
# the chunks found.
repair() {
	dmsetup message p 0 mirror stop &&
		dmsetup message p 0 mirror start /dev/mapper/rep dirty &&
		wait_field p 11 in-sync 60
}
# DEV SECONDS SEED SIZE: random writes, 512 B to 64 KiB. Never two
# overlapping ones in flight: those may land in one order on base and in
# the other on the replica (README, Mirror), a real difference.
fio_load() {
	fio --name=load --filename=$1 --direct=1 --ioengine=libaio --iodepth=8 \
		--rw=randwrite --bsrange=512-64k --time_based --runtime=$2 \
		--serialize_overlap=1 \
		--randseed=$3 --size=$4 --eta=never --output=/tmp/fio-load.log
}

# --- bad input, no mirror ---------------------------------------------------------
check_eq "status: no verify yet" "none 0/0 0" "$(vst)"
refused "verify without a mirror" \
	"verify start refused: no mirror, no replica to compare with" verify start
refused "verify stop with none running" \
	"verify stop refused: no verify is running" verify stop
refused "rate 0" "verify start: rate must be a positive number of KiB/s" verify start 0
refused "rate 4k" "verify start: rate must be a positive number of KiB/s" verify start 4k
refused "rate given as a word" "verify start: rate must be a positive number of KiB/s or auto" verify start rate 10
refused "unknown verify word" "verify: expected start, stop, ranges or rate" verify begin
refused "verify ranges with a bad chunk" \
	"verify ranges: the first chunk must be a number" verify ranges x
check_exit 1 "colosetup verify without a mirror" colosetup verify p
check_match "colosetup says why" \
	"colosetup: p: verify refused: no mirror, no replica to compare with" "$OUT"
check_exit 1 "colosetup verify without a mirror (kernel's check)" \
	env COLOSETUP_SKIP_CHECKS=1 colosetup verify p
check_match "colosetup gives the kernel's reason" "no mirror, no replica to compare with" "$OUT"
check_exit 2 "colosetup verify --rate 100 (below 1 KiB/s)" colosetup verify p --rate 100
check_exit 2 "colosetup verify --timeout without --wait" colosetup verify p --timeout 5
check_exit 1 "colosetup verify stop with none running" colosetup verify stop p
check_match "colosetup says none runs" "verify stop refused: no verify is running" "$OUT"
check_exit 3 "colosetup verify of no such device" colosetup verify nosuch
check_exit 1 "colosetup verify ranges before any verify" colosetup verify ranges p
check_match "it says none ran" "verify ranges: no verify ran on this device" "$OUT"
check_eq "refusals changed nothing" "none 0/0 0" "$(vst)"

# --- mirror copying: refused --------------------------------------------------------
dmsetup message p 0 mirror start /dev/mapper/rep full 1024
refused "verify while the mirror copies" \
	"verify start refused: the mirror is copying, not in-sync" verify start
dmsetup message p 0 mirror stop
dmsetup message p 0 mirror start /dev/mapper/rep full
check "mirror in sync" wait_field p 11 in-sync 60

# --- identical replica: nothing found ----------------------------------------------------
ev=$(events p)
check_exit 0 "colosetup verify --wait on an identical replica" colosetup verify p --wait --timeout 60
check_match "it reports 0 different" "p: $CHUNKS of $CHUNKS chunks compared, 0 different" "$OUT"
check_eq "status: done, every chunk, 0 different" "done $CHUNKS/$CHUNKS 0" "$(vst)"
check "dm event at the end" timeout 5 dmsetup wait p "$ev"
check_eq "nothing dirty" 0 "$(dirty)"
check_eq "verify ranges: empty" "" "$(dmsetup message p 0 verify ranges)"
check_eq "mirror still in sync" in-sync "$(field p 11)"

# --- twice, stop, rate limit ------------------------------------------------------------
t0=$(awk '{ printf "%d\n", $1 * 1000 }' /proc/uptime)
check "a slow verify starts (1 MiB/s)" dmsetup message p 0 verify start 1024
check_match "status: running" "^running [0-9]+/$CHUNKS 0$" "$(vst)"
refused "a second verify" "verify start refused: a verify is running" verify start
check_exit 1 "colosetup verify while one runs" colosetup verify p
check_match "colosetup says one runs" "verify refused: a verify is running" "$OUT"
sleep 1
n1=$(vst | awk '{ split($2, a, "/"); print a[1] }')
# The bound counts the time the commands above took (seconds on a loaded
# debug kernel): 1 MiB/s over the elapsed time, plus 2 MiB of slack.
ms=$(( $(awk '{ printf "%d\n", $1 * 1000 }' /proc/uptime) - t0 ))
t_diag "after ${ms} ms at 1 MiB/s: $n1 chunks compared"
check "rate limited: at most 1 MiB/s plus 2 MiB compared" \
	[ "$n1" -le $(( (ms + 999) / 1000 * 256 + 512 )) ]
ev=$(events p)
check_exit 0 "colosetup verify stop" colosetup verify stop p
check_match "status: stopped" "^stopped [0-9]+/$CHUNKS 0$" "$(vst)"
check "dm event at the stop" timeout 5 dmsetup wait p "$ev"
check_exit 1 "colosetup wait verified after a stop" colosetup wait p verified --timeout 5
check_match "wait says the verify was stopped" "the verify was stopped" "$OUT"

# --- corrupted replica: exactly the corrupted chunks ------------------------------------
LAST=$((CHUNKS - 1))
for c in 5 100 101 4095 $LAST; do corrupt $c; done
corrupt 7000 3	# one sector of a chunk
dd if=/dev/ram0 of=/tmp/b0 bs=4096 skip=7000 count=1 iflag=direct 2>/dev/null
dd if=/dev/ram1 of=/tmp/b1 bs=4096 skip=7000 count=1 iflag=direct 2>/dev/null
check_eq "chunk 7000 differs on the disks in its sector 3 alone" 3 \
	"$(cmp -l /tmp/b0 /tmp/b1 | awk '{ print int(($1 - 1) / 512) }' | sort -u | tr '\n' ' ' | sed 's/ $//')"
check "in-sync mirror does not notice" [ "$(field p 11)" = in-sync ]
check_exit 0 "colosetup verify --wait finds the corruption" colosetup verify p --wait --timeout 60
check_match "6 chunks different" "p: $CHUNKS of $CHUNKS chunks compared, 6 different" "$OUT"
check_eq "colosetup prints exactly the corrupted ranges" \
	"different: chunks 5-5 (sectors 40-47)
different: chunks 100-101 (sectors 800-815)
different: chunks 4095-4095 (sectors 32760-32767)
different: chunks 7000-7000 (sectors 56000-56007)
different: chunks $LAST-$LAST (sectors $((LAST * 8))-$((LEN - 1)))" \
	"$(echo "$OUT" | grep '^different:')"
check_match "colosetup says how to repair" "mirror stop p; colosetup mirror start p REPLICA --dirty" "$OUT"
ranges=$(echo "$OUT" | grep '^different:')
check_exit 0 "colosetup verify ranges" colosetup verify ranges p
check_eq "it prints the same ranges" "$ranges" "$(echo "$OUT" | grep '^different:')"
check_match "and the counts" "p: verify done, $CHUNKS of $CHUNKS chunks compared, 6 different" "$OUT"
check_eq "verify ranges (dmsetup)" "5 100-101 4095 7000 $LAST" "$(dmsetup message p 0 verify ranges)"
check_eq "verify ranges from chunk 101" "101 4095 7000 $LAST" "$(dmsetup message p 0 verify ranges 101)"
check_eq "status: 6 different" "done $CHUNKS/$CHUNKS 6" "$(vst)"
check_eq "exactly those are dirty" 6 "$(dirty)"
check_match "status --json shows it" \
	"\"verify\":\{\"state\":\"done\",\"verified\":$CHUNKS,\"to_verify\":$CHUNKS,\"different\":6," \
	"$(colosetup status --json p)"
check_match "status shows it" "verify:   done, $CHUNKS of $CHUNKS chunks compared, 6 different" \
	"$(colosetup status p)"
check "repair: mirror stop, mirror start dirty" repair
check_eq "the dirty resync copied exactly the 6 chunks" 6/6 "$(mirrored)"
check_eq "repaired: replica equals base" "$(direct_sum /dev/ram0)" "$(direct_sum /dev/ram1)"
check_exit 0 "verify after the repair" colosetup verify p --wait --timeout 60
check_match "finds nothing" "0 different" "$OUT"

# --- many ranges: the reply comes a buffer at a time ------------------------------------------
# Every other chunk of 32 MiB: 4096 one-chunk ranges, more than one reply holds.
fio --name=stride --filename=/dev/ram1 --direct=1 --rw=write:4k --bs=4k \
	--offset=8m --size=32m --buffer_pattern=0xdeadbeef --output=/dev/null
check_exit 0 "verify of 4096 scattered chunks" colosetup verify p --wait --timeout 60
check_match "4096 different" "p: $CHUNKS of $CHUNKS chunks compared, 4096 different" "$OUT"
check_eq "colosetup prints 4096 ranges" 4096 "$(echo "$OUT" | grep -c '^different: chunks')"
check_eq "the first and the last" "different: chunks 2048-2048 (sectors 16384-16391)
different: chunks 10238-10238 (sectors 81904-81911)" \
	"$(echo "$OUT" | grep '^different: chunks' | sed -n '1p;$p')"
reply=$(dmsetup message p 0 verify ranges)
t_diag "one dmsetup reply: ${#reply} bytes, ends: $(echo "$reply" | tail -c 40)"
check_match "one reply holds what fits, then says where to go on" \
	"^2048 2050 2052 .* next [0-9]+$" "$reply"
next=$(echo "$reply" | awk '{ print $NF }')
check_match "asked from there, it goes on with that chunk" \
	"^$next $((next + 2)) " "$(dmsetup message p 0 verify ranges "$next")"
check "repair" repair
check_eq "the dirty resync copied exactly the 4096 chunks" 4096/4096 "$(mirrored)"
check_eq "repaired: replica equals base" "$(direct_sum /dev/ram0)" "$(direct_sum /dev/ram1)"

# --- concurrent VM writes: no corrupted chunk is missed ---------------------------------
# fio writes the first 32 MiB during the whole verify; the corrupted
# chunks lie beyond it (fio would repair a chunk it writes over).
SEED=$(( $(date +%s) % 100000 ))
t_diag "fio seed $SEED"
for c in 8200 8201 9000 12000 $LAST; do corrupt $c; done
fio_load /dev/mapper/p 8 $SEED 32m > /dev/null 2>&1 &
fpid=$!
sleep 1
check_exit 0 "verify (8 MiB/s) under concurrent writes" colosetup verify p --rate 8m --wait --timeout 120
wait $fpid
check_eq "every VM write succeeded" 0 "$?"
ranges=$(dmsetup message p 0 verify ranges)
t_diag "found: $ranges"
check_match "the corrupted chunks are all found" "8200-8201 9000 12000 $LAST$" "$ranges"
check_eq "no false difference either (writes wait for the compared range)" \
	"8200-8201 9000 12000 $LAST" "$ranges"
check "repair" repair
check_eq "after the repair: replica equals base (nothing was missed)" \
	"$(direct_sum /dev/ram0)" "$(direct_sum /dev/ram1)"

# --- suspend and reload during a verify: it goes on -----------------------------------------
corrupt 15000
dmsetup message p 0 verify start 4096
sleep 1
dmsetup suspend p
n1=$(vst)
sleep 1
check_eq "suspended: the verify pauses" "$n1" "$(vst)"
check_match "suspended: still running" "^running " "$n1"
dmsetup resume p
check "resumed: it goes on to done" wait_field p 20 done 60
check_eq "suspend lost nothing" "done $CHUNKS/$CHUNKS 1" "$(vst)"
corrupt 15001
dmsetup message p 0 verify start 4096
sleep 1
check "reload with the same table during a verify" \
	sh -c "dmsetup reload p --table '0 $LEN colo primary /dev/ram0 8' && dmsetup resume p"
check_match "reloaded: the verify carried over" "^(running|done) " "$(vst)"
check "it goes on to done" wait_field p 20 done 60
check_eq "the reload lost nothing" "15000-15001" "$(dmsetup message p 0 verify ranges)"
check "repair" repair

# --- mirror stop, degraded mirror, remove during a verify -------------------------------------
dmsetup message p 0 verify start 1024
ev=$(events p)
dmesg -c > /dev/null
check "mirror stop during a verify" dmsetup message p 0 mirror stop
check_match "the verify is stopped" "^stopped " "$(vst)"
check_match "the log says why" "verify stopped: .*the mirror was stopped" "$(dmesg)"
check "dm event" timeout 5 dmsetup wait p "$ev"
dmsetup message p 0 mirror start /dev/mapper/rep full
wait_field p 11 in-sync 60
dmsetup message p 0 verify start 1024
ev=$(events p)
dmsetup suspend rep
dmsetup load rep --table "0 $LEN error"
dmsetup resume rep
dd if=/dev/urandom of=/dev/mapper/p bs=4k count=1 seek=77 oflag=direct 2>/dev/null
check_eq "the mirror degraded" degraded "$(field p 11)"
check "the verify fails" wait_field p 20 failed 10
check_match "the log says why" "verify failed after .*the mirror degraded" "$(dmesg)"
check "dm event" timeout 5 dmsetup wait p "$ev"
check_exit 1 "colosetup wait verified says it failed" colosetup wait p verified
check_match "and why" "the verify failed" "$OUT"
dmsetup suspend rep
dmsetup load rep --table "0 $LEN linear /dev/ram1 0"
dmsetup resume rep
dmsetup message p 0 mirror start /dev/mapper/rep dirty
wait_field p 11 in-sync 60
check "a slow verify runs" dmsetup message p 0 verify start 1024
check "remove during a verify" dmsetup remove p
check_eq "no trace of the device" "" "$(dmsetup ls | awk '$1 == "p"')"

# --- secondary mode --------------------------------------------------------------------------
dmsetup create s --table "0 $LEN colo secondary /dev/ram0 /dev/ram1 /dev/ram2 8"
dmesg -c > /dev/null
check_fails "verify in secondary mode refused" dmsetup message s 0 verify start
check_match "it says why" "only valid in primary mode" "$(dmesg)"
dm_cleanup
t_done
