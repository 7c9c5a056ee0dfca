#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Mirror figures (reported, never asserted): phase-1 copy throughput of
# "mirror start ... full" against a plain dd between the same RAM disks, and
# in-sync 4 KiB random write IOPS against dm-raid1 (the kernel's "mirror"
# target, core log) on the same devices. Run with
#   scripts/vm.sh --kernel 6.1 bench/mirror.sh
. /tests/lib.sh

MIB=${BENCH_MIB:-256}
brd_setup 3 $MIB
LEN=$(dev_sectors /dev/ram0)
now_cs() { awk '{ printf "%d\n", $1 * 100 }' /proc/uptime; }
mibs() { echo "$1 $2" | awk '{ printf "%.0f", $1 / ($2 / 100) }'; }
field() { dmsetup status "$1" | awk -v f="$2" '{ print $f }'; }
iops() {	# DEV: 4 KiB random writes, QD 16, 10 s
	[ -b "$1" ] || { echo 0; return 1; }
	fio --name=w --filename=$1 --direct=1 --ioengine=libaio --iodepth=16 \
		--rw=randwrite --bs=4k --time_based --runtime=10 --eta=never \
		--output-format=terse --terse-version=3 | awk -F';' '{ print $49 }'
}

dd if=/dev/urandom of=/dev/ram0 bs=1M count=$MIB oflag=direct 2>/dev/null
t0=$(now_cs)
dd if=/dev/ram0 of=/dev/ram1 bs=1M iflag=direct oflag=direct 2>/dev/null
t1=$(now_cs)
dd_rate=$(mibs $MIB $((t1 - t0)))
t_diag "bench: dd 1 MiB O_DIRECT ram0 -> ram1: $dd_rate MiB/s"

for chunk in 128 2048; do
	dmsetup create p --table "0 $LEN colo primary /dev/ram0 $chunk"
	dmsetup mknodes p
	t0=$(now_cs)
	dmsetup message p 0 mirror start /dev/ram2 full
	while [ "$(field p 11)" != in-sync ]; do sleep 0.01; done
	t1=$(now_cs)
	rate=$(mibs $MIB $((t1 - t0)))
	t_diag "bench: mirror phase 1, $((chunk / 2)) KiB chunks: $rate MiB/s ($(echo "$rate $dd_rate" | awk '{ printf "%.2f", $1 / $2 }') of dd)"
	check_eq "chunk $chunk: replica equals base" "$(direct_sum /dev/ram0)" "$(direct_sum /dev/ram2)"
	if [ $chunk = 128 ]; then
		colo=$(iops /dev/mapper/p)
		t_diag "bench: in-sync 4 KiB random writes, QD 16: colo $colo IOPS"
	fi
	dmsetup message p 0 mirror stop
	dmsetup remove p
done

dmsetup create m --table "0 $LEN mirror core 2 128 nosync 2 /dev/ram0 0 /dev/ram2 0 1 handle_errors"
dmsetup mknodes m
raid1=$(iops /dev/mapper/m)
t_diag "bench: dm-raid1 (core log, nosync) 4 KiB random writes, QD 16: $raid1 IOPS"
t_diag "bench: in-sync write IOPS, colo / dm-raid1: $(echo "$colo $raid1" | awk '{ printf "%.2f", $1 / $2 }')"
dmsetup remove m
t_done
