#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# fio with verify=crc32c on the VM device while an ingress writer runs, and
# checkpoints between rounds (a checkpoint replaces the VM's view by base by
# definition, so fio's data cannot outlive one: each round is verified
# before it, and the view is compared with base right after it).
#
# Per round and chunk size: an fio random writer on the ingress (4 KiB to
# 64 KiB, unaligned to chunks, queue depth 8) runs the whole time; fio writes
# the VM device at random (512 B to 128 KiB, queue depth 16) verifying as it
# goes (verify_backlog), then verifies everything again once the ingress is
# done; a checkpoint follows, then the VM device must read exactly as base.
. /tests/lib.sh

ROUNDS=${FIO_ROUNDS:-2}
MIB=64
brd_setup 3 $MIB
LEN=$(dev_sectors /dev/ram0)

vmjob() {
	fio --name=vm --filename=/dev/mapper/c --direct=1 --eta=never --ioengine=libaio \
		--iodepth=16 --rw=randwrite --bsrange=512-128k \
		--size=${MIB}m --verify=crc32c --verify_backlog=256 \
		--verify_fatal=1 --randseed="$1" --output=/tmp/fio-vm.log
}

for chunk in 1 8 128; do
	dm_cleanup
	check "chunk $chunk: create" dmsetup create c --table \
		"0 $LEN colo secondary /dev/ram0 /dev/ram1 /dev/ram2 $chunk"
	dmsetup create c-ingress --table "0 $LEN colo-ingress /dev/ram0"
	dmsetup mknodes
	r=1
	while [ $r -le $ROUNDS ]; do
		seed=$((chunk * 100 + r))
		fio --name=ingress --filename=/dev/mapper/c-ingress --direct=1 --eta=never \
			--ioengine=libaio --iodepth=8 --rw=randwrite \
			--bsrange=4k-64k --time_based --runtime=600 \
			--randseed=$seed --output=/tmp/fio-in.log &
		ipid=$!
		if vmjob $seed; then
			t_ok "chunk $chunk round $r: fio verify during ingress writes"
		else
			t_fail "chunk $chunk round $r: fio verify during ingress writes (seed $seed)"
			sed 's/^/#   /' /tmp/fio-vm.log | tail -n 20
		fi
		kill $ipid; wait $ipid
		check "chunk $chunk round $r: fio re-verify after the ingress stopped" \
			fio --name=vm --filename=/dev/mapper/c --direct=1 --eta=never \
			--ioengine=libaio --iodepth=16 --rw=randwrite \
			--bsrange=512-128k --size=${MIB}m \
			--verify=crc32c --verify_only=1 --verify_fatal=1 \
			--randseed=$seed --output=/tmp/fio-vm2.log
		status=$(dmsetup status c)
		t_diag "chunk $chunk round $r before checkpoint: $status"
		check "chunk $chunk round $r: checkpoint" dmsetup message c 0 checkpoint
		check_match "chunk $chunk round $r: bitmaps empty after checkpoint" \
			"colo secondary $chunk 0/[0-9]+ 0/[0-9]+ " "$(dmsetup status c)"
		check_eq "chunk $chunk round $r: VM view equals base after checkpoint" \
			"$(direct_sum /dev/ram0)" "$(direct_sum /dev/mapper/c)"
		r=$((r + 1))
	done
	check_match "chunk $chunk: no I/O error" " ok [0-9]+ (complete|unknown) (none|ok|failed) " "$(dmsetup status c)"
done
dm_cleanup
t_done
