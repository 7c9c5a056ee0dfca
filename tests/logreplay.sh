#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# colo-logreplay against a log the kernel's dm-log-writes wrote. Not in the
# default set (run it by name: scripts/vm.sh --kernel 6.1 logreplay.sh).
#
# A log-writes device "lw" over a null_blk data disk with a write back
# cache (over brd, whose queue has none, the block layer drops every flush
# before dm-log-writes sees it), logging to /dev/ram0. Known writes
# (colo-dio, O_DIRECT), flushes (fsync) and marks; a file model of the data
# disk holds what each mark should replay to. Then, with lw removed:
#
#   list       --list, --marks, --flushes, --count: the exact entries (writes
#              are logged at the flush after them, a mark when sent: a
#              write not flushed before a mark comes after it), and the
#              four outputs agree with each other and with the target's
#              own count; --data: an entry's bytes
#   replay     onto a zeroed /dev/ram1, to each mark, to --limit cuts, the
#              whole log; discards as zeros, and left as they were with
#              --skip-discards
#   refused    a bad magic, a truncated log, a device too small for an
#              entry, an unknown mark, a --limit past the end: exit 1, a
#              message on stderr, and nothing written
. /tests/lib.sh

MIB=16
SIZE=$((MIB * 1024 * 1024))
K=1024
M=$((1024 * 1024))
LOG=/dev/ram0
SCRATCH=/dev/ram1

sum() { md5sum "$1" | cut -d' ' -f1; }
# model_write OFF LEN SRC / model_zero OFF LEN: the same change to the model
model_write() {
	dd if="$3" of=/tmp/model.img bs=512 skip=$(($1 / 512)) seek=$(($1 / 512)) \
		count=$(($2 / 512)) conv=notrunc 2>/dev/null
}
model_zero() {
	dd if=/dev/zero of=/tmp/model.img bs=512 seek=$(($1 / 512)) \
		count=$(($2 / 512)) conv=notrunc 2>/dev/null
}
# w OFF LEN SRC: an O_DIRECT write of SRC's bytes at OFF to lw, and to the model
w() {
	colo-dio write /dev/mapper/lw "$1" "$2" "$3" && model_write "$@" ||
		t_fail "write $2 bytes at $1 to lw"
}
flush() { colo-open -f /dev/mapper/lw || t_fail "flush lw"; }
mark() { dmsetup message lw 0 mark "$1" || t_fail "mark $1"; }
# lr ARGS...: run colo-logreplay; its output (stdout and stderr) in $OUT,
# its exit status in $RC
lr() {
	OUT=$(colo-logreplay "$@" 2>&1)
	RC=$?
}
zero_scratch() {
	colo-dio write $SCRATCH 0 $SIZE /tmp/zero.img || t_fail "zero $SCRATCH"
}
# replay_to DESC ENTRIES SUM ARGS...: replay LOG onto the zeroed scratch
# disk with ARGS; ENTRIES replayed, and the scratch disk's sum is SUM
replay_to() {
	local desc=$1 n=$2 want=$3
	shift 3
	zero_scratch
	lr --log $LOG --replay $SCRATCH "$@"
	check_eq "replay $desc: exit status" 0 "$RC"
	check_eq "replay $desc: $n entries" "replayed $n entries" "$OUT"
	check_eq "replay $desc: content" "$want" "$(direct_sum $SCRATCH)"
}
# refused DESC PATTERN ARGS...: colo-logreplay ARGS exits 1 with PATTERN
# in its message, and the scratch disk is still zero
refused() {
	local desc=$1 pat=$2
	shift 2
	zero_scratch
	lr "$@"
	check_eq "refused $desc: exit status 1" 1 "$RC"
	check_match "refused $desc: the message" "^colo-logreplay: .*$pat" "$OUT"
	check_eq "refused $desc: nothing written" "$ZERO" "$(direct_sum $SCRATCH)"
}

# --- the log ---------------------------------------------------------------------
check "null_blk data disk with a write back cache" nullb_setup lwd $MIB
brd_setup 2 $MIB || t_fail "brd"
N=$(dev_sectors /dev/lwd)
for f in a b c d; do
	dd if=/dev/urandom of=/tmp/$f.img bs=1M count=$MIB 2>/dev/null
done
dd if=/dev/zero of=/tmp/zero.img bs=1M count=$MIB 2>/dev/null
cp /tmp/zero.img /tmp/model.img
ZERO=$(sum /tmp/zero.img)
check "dmsetup create lw (log-writes over null_blk, log on brd)" \
	dmsetup create lw --table "0 $N log-writes /dev/lwd $LOG"
dmsetup mknodes

w 0 $((64 * K)) /tmp/a.img
w $M $((128 * K)) /tmp/a.img
flush
mark m1
M1=$(sum /tmp/model.img)
w $((64 * K)) $((4 * K)) /tmp/b.img
w $((4 * K)) $((8 * K)) /tmp/b.img	# over the first write
flush
mark m2
M2=$(sum /tmp/model.img)
w $((2 * M)) $((32 * K)) /tmp/c.img	# not flushed before m3
mark m3
flush
mark m4
M4=$(sum /tmp/model.img)
check_eq "the data disk holds the model's content" "$M4" "$(direct_sum /dev/lwd)"
cp /tmp/model.img /tmp/kept.img
check "discard 64 KiB at 1088 KiB" blkdiscard -o $((M + 64 * K)) -l $((64 * K)) /dev/mapper/lw
model_zero $((M + 64 * K)) $((64 * K))
flush
mark m5
M5=$(sum /tmp/model.img)
check "the target counts 15 logged entries" wait_field lw 4 15 10
w $((8 * M)) $((16 * K)) /tmp/d.img	# never flushed: logged at removal
END=$(sum /tmp/model.img)
cp /tmp/model.img /tmp/end.img
cp /tmp/kept.img /tmp/model.img
model_write $((8 * M)) $((16 * K)) /tmp/d.img
END_KEPT=$(sum /tmp/model.img)
check "dmsetup remove lw" dmsetup remove lw

# --- list --------------------------------------------------------------------------
lr --log $LOG --list
LIST=$OUT
check_eq "list: exit status" 0 "$RC"
check_eq "list: the entries" "0 0 128 -
1 2048 256 -
2 0 0 FLUSH
3 0 0 MARK=m1
4 128 8 -
5 8 16 -
6 0 0 FLUSH
7 0 0 MARK=m2
8 0 0 MARK=m3
9 4096 64 -
10 0 0 FLUSH
11 0 0 MARK=m4
12 2176 128 DISCARD
13 0 0 FLUSH
14 0 0 MARK=m5
15 16384 32 -
16 0 0 MARK=dm-log-writes-end
17 entries (sector size 512 bytes)" "$LIST"
lr --log $LOG --marks
MARKS=$OUT
check_eq "marks: each with its index, the end mark last" "3 m1
7 m2
8 m3
11 m4
14 m5
16 dm-log-writes-end" "$MARKS"
lr --log $LOG --flushes
FLUSHES=$OUT
check_eq "flushes: the index of each" "2
6
10
13" "$FLUSHES"
lr --log $LOG --count
COUNT=$OUT
check_eq "count: 17 entries (15, the unflushed write and the end mark)" 17 "$COUNT"
check_eq "list and marks agree" "$MARKS" \
	"$(echo "$LIST" | sed -n 's/^\([0-9]*\) .* MARK=\(.*\)$/\1 \2/p')"
check_eq "list and flushes agree" "$FLUSHES" \
	"$(echo "$LIST" | awk '$4 ~ /FLUSH/ { print $1 }')"
check_eq "list and count agree" "$COUNT $COUNT" \
	"$(echo "$LIST" | awk '/^[0-9]+ [0-9]+ [0-9]+ / { n++ } / entries / { c = $1 } END { print n, c }')"
check_eq "the last mark is the last entry" "$((COUNT - 1)) dm-log-writes-end" \
	"$(echo "$MARKS" | tail -n 1)"
# --data: entry 5 is the 8 KiB of b.img written at 4 KiB; a flush has none
check_eq "data of entry 5: the write's bytes" \
	"$(dd if=/tmp/b.img bs=4096 skip=1 count=2 2>/dev/null | md5sum | cut -d' ' -f1)" \
	"$(colo-logreplay --log $LOG --data 5 | md5sum | cut -d' ' -f1)"
check_eq "data of entry 2 (a flush): none" 0 "$(colo-logreplay --log $LOG --data 2 | wc -c)"
lr --log $LOG --data 17
check_eq "--data past the end: exit status 1" 1 "$RC"

# --- replay ------------------------------------------------------------------------
replay_to "to m1" 4 "$M1" --mark m1
replay_to "to m2" 8 "$M2" --mark m2
replay_to "to m3: the unflushed write is not in" 9 "$M2" --mark m3
replay_to "to m4" 12 "$M4" --mark m4
replay_to "to m5: the discard as zeros" 15 "$M5" --mark m5
replay_to "to m5 --zero-discards" 15 "$M5" --mark m5 --zero-discards
replay_to "to m5 --skip-discards: the range kept" 15 "$M4" --mark m5 --skip-discards
replay_to "--limit 4 (= to m1)" 4 "$M1" --limit 4
replay_to "--limit 10: a write logged before its flush" 10 "$M4" --limit 10
replay_to "--limit 0" 0 "$ZERO" --limit 0
replay_to "the whole log" 17 "$END"
replay_to "the whole log --skip-discards" 17 "$END_KEPT" --skip-discards
# null_blk without discard support: log-writes logs the discard, the data stays
check_eq "the data disk equals the whole log replayed with --skip-discards" \
	"$END_KEPT" "$(direct_sum /dev/lwd)"
colo-dio read $LOG 0 $SIZE /tmp/log.img || t_fail "copy the log"
lr --log /tmp/log.img --count
check_eq "the log copied to a file reads the same" 17 "$OUT"

# --- refused -----------------------------------------------------------------------
cp /tmp/log.img /tmp/bad.img
printf 'X' | dd of=/tmp/bad.img bs=1 count=1 conv=notrunc 2>/dev/null
refused "bad magic, list" "bad magic" --log /tmp/bad.img --list
refused "bad magic, replay" "bad magic" --log /tmp/bad.img --replay $SCRATCH
head -c $((64 * K)) /tmp/log.img > /tmp/short.img
refused "truncated log, count" "truncated log" --log /tmp/short.img --count
refused "truncated log, replay" "truncated log" --log /tmp/short.img --replay $SCRATCH
dmsetup create small --table "0 2048 linear $SCRATCH 0" && dmsetup mknodes
refused "an entry beyond a 1 MiB device" "entry 1 .* beyond the end of /dev/mapper/small" \
	--log $LOG --replay /dev/mapper/small
dmsetup remove small
refused "unknown mark" 'no mark "m9"' --log $LOG --replay $SCRATCH --mark m9
refused "--limit past the end" "the log has 17 entries" --log $LOG --replay $SCRATCH --limit 18
lr --log $LOG --list --limit 3
check_eq "usage error: exit status 2" 2 "$RC"

dm_cleanup
nullb_remove lwd
rmmod brd
t_done
