#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# A device of more than 2^32 chunks (16 TiB with 512-byte chunks: 2^35):
# each leg is dm-zero with two RAM-disk windows, at sector 0 and at sector
# 2^33, where chunk numbers do not fit 32 bits. Every rule of secondary mode
# and the commit must hold up there, and a chunk up there must not alias
# chunk (n mod 2^32): base's low window holds data that an alias would hide.
. /tests/lib.sh

LEN=34359738368		# 16 TiB in sectors
HI=8589934592		# sector 2^33: chunk 2^33 with 1-sector chunks
WIN=8192		# 4 MiB window
brd_setup 3 8
HB=$((HI / 8))		# the high window's first 4 KiB block on the device
RB=$((WIN / 8))		# ... and on the RAM disks

# Legs lb, lh, la: /dev/ram0..2's first half at sector 0, zero, their
# second half at sector 2^33, zero.
mklegs() {
	local i=0 n
	for n in lb lh la; do
		printf '0 %s linear /dev/ram%s 0\n%s %s zero\n%s %s linear /dev/ram%s %s\n%s %s zero\n' \
			$WIN $i $WIN $((HI - WIN)) $HI $WIN $i $WIN \
			$((HI + WIN)) $((LEN - HI - WIN)) |
			dmsetup create $n
		i=$((i + 1))
	done
	dmsetup mknodes
}

blk() { dd if="$1" bs=4096 skip="$2" count=1 iflag=direct 2>/dev/null | head -c 8; }
put() { printf '%s' "$3" | dd of="$1" bs=4096 seek="$2" conv=sync,notrunc oflag=direct 2>/dev/null; }

for chunk in 1 8; do
	dm_cleanup
	mklegs
	put /dev/ram0 0 LLLLLLLL; put /dev/ram0 $RB BBBBBBBB; put /dev/ram0 $((RB + 1)) BBBBBBBB
	check "chunk $chunk: 16 TiB device loads" dmsetup create c --table \
		"0 $LEN colo secondary /dev/mapper/lb /dev/mapper/lh /dev/mapper/la $chunk"
	dmsetup create c-ingress --table "0 $LEN colo-ingress /dev/mapper/lb"
	dmsetup mknodes
	check_eq "chunk $chunk: VM reads base at 2^33" BBBBBBBB "$(blk /dev/mapper/c $HB)"
	put /dev/mapper/c $HB VVVVVVVV
	check_eq "chunk $chunk: VM reads its write at 2^33" VVVVVVVV "$(blk /dev/mapper/c $HB)"
	check_eq "chunk $chunk: the write is in active at 2^33" VVVVVVVV "$(blk /dev/ram2 $RB)"
	check_eq "chunk $chunk: no alias at chunk mod 2^32" LLLLLLLL "$(blk /dev/mapper/c 0)"
	check_match "chunk $chunk: active count" "colo secondary $chunk $((8 / chunk))/" "$(dmsetup status c)"
	put /dev/mapper/c-ingress $((HB + 1)) IIIIIIII
	check_eq "chunk $chunk: ingress write reached base" IIIIIIII "$(blk /dev/ram0 $((RB + 1)))"
	check_eq "chunk $chunk: VM view unchanged" BBBBBBBB "$(blk /dev/mapper/c $((HB + 1)))"
	check_eq "chunk $chunk: old content copied to hidden" BBBBBBBB "$(blk /dev/ram1 $((RB + 1)))"
	check "chunk $chunk: checkpoint" dmsetup message c 0 checkpoint
	check_eq "chunk $chunk: VM reads base after checkpoint" IIIIIIII "$(blk /dev/mapper/c $((HB + 1)))"
	check_eq "chunk $chunk: VM write dropped by checkpoint" BBBBBBBB "$(blk /dev/mapper/c $HB)"
	put /dev/mapper/c $((HB + 2)) FFFFFFFF
	check "chunk $chunk: failover" dmsetup message c 0 failover
	i=0; while [ $i -lt 100 ] && ! dmsetup status c | grep -q ' done '; do sleep 0.1; i=$((i + 1)); done
	check_eq "chunk $chunk: commit wrote the VM's write to base at 2^33" FFFFFFFF "$(blk /dev/ram0 $((RB + 2)))"
done
dm_cleanup
t_done
