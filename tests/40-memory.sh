#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Memory of a 16 TiB colo device with 4 KiB chunks (legs on dm-zero): clean,
# with 1 million dirty chunks written sequentially (clustered), and with
# chunks spread so that each sits alone in its bitmap leaf (the worst case,
# measured on 65536 chunks and given per chunk). The figure is the target's
# own count of bitmap memory (last status field); MemFree is shown beside it
# as a cross-check of everything the device costs the kernel.
. /tests/lib.sh

LEN=34359738368		# 16 TiB in sectors
for n in zb zh za; do dmsetup create $n --table "0 $LEN zero"; done
dmsetup mknodes

memfree_kib() {
	sync; echo 3 > /proc/sys/vm/drop_caches
	awk '/^MemFree:/ { print $2 }' /proc/meminfo
}
kib() { echo $(( ($1 + 1023) / 1024 )); }
bitmap_bytes() { field c 15; }
# bitmaps_back_to BYTES: the reclaim runs a second after a checkpoint
# (COLO_RECLAIM_DELAY); wait up to 10 s for the bitmaps' memory to be BYTES.
bitmaps_back_to() {
	local i=0
	while [ $i -lt 100 ]; do
		[ "$(bitmap_bytes)" = "$1" ] && return 0
		sleep 0.1; i=$((i + 1))
	done
	t_diag "bitmaps: $(bitmap_bytes) bytes, expected $1"
	return 1
}
active_dirty() { dmsetup status c | awk '{ split($6, a, "/"); print a[1] }'; }

before=$(memfree_kib)
check "16 TiB device with 4 KiB chunks loads" dmsetup create c --table \
	"0 $LEN colo secondary /dev/mapper/zb /dev/mapper/zh /dev/mapper/za 8"
dmsetup mknodes
empty=$(bitmap_bytes)
t_diag "memory: 16 TiB clean: bitmaps $(kib $empty) KiB, MemFree drop $(( before - $(memfree_kib) )) KiB"
check "16 TiB clean device: bitmaps under 8 MiB" [ "$empty" -lt 8388608 ]

# 1M clustered dirty chunks: 4 GiB written sequentially (1 MiB writes).
fio --name=seq --filename=/dev/mapper/c --rw=write --bs=1M --size=4g \
	--direct=1 --ioengine=psync > /dev/null 2>&1
check_eq "1M clustered chunks dirty" 1048576 "$(active_dirty)"
clustered=$(bitmap_bytes)
t_diag "memory: 16 TiB, 1M clustered dirty chunks: bitmaps $(kib $clustered) KiB"
check "1M clustered dirty chunks: bitmaps under 8 MiB" [ "$clustered" -lt 8388608 ]

# Two checkpoints: the clustered leaves are stale for a whole epoch and freed.
dmsetup message c 0 checkpoint
dmsetup message c 0 checkpoint
check "clustered leaves reclaimed after two checkpoints" bitmaps_back_to "$empty"
# 65536 chunks, one every 65536 chunks (256 MiB): each alone in its leaf.
fio --name=spread --filename=/dev/mapper/c --rw=write:262140k --bs=4k \
	--size=16t --direct=1 --ioengine=psync --number_ios=65536 > /dev/null 2>&1
check_eq "65536 spread chunks dirty" 65536 "$(active_dirty)"
spread=$(bitmap_bytes)
t_diag "memory: 16 TiB, 65536 chunks spread one per leaf: bitmaps $(kib $spread) KiB ($(( (spread - empty) / 65536 )) bytes per dirty chunk, worst case)"
check "spread chunks cost at most one leaf page each" \
	[ $((spread - empty)) -le $((65536 * 4096)) ]

dmsetup message c 0 checkpoint
dmsetup message c 0 checkpoint
check "leaves are reclaimed after two checkpoints" bitmaps_back_to "$empty"
reclaimed=$(bitmap_bytes)
t_diag "memory: after two checkpoints (leaves reclaimed): bitmaps $(kib $reclaimed) KiB"

dmsetup remove c
for n in zb zh za; do dmsetup remove $n; done
t_done
