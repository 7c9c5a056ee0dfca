#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The model checker with failover at a random point while VM and ingress
# I/O is in flight: the VM's view across the switch, ingress writes failing
# after it, base equal to the view once the commit ends. FSX_FAILOVER_RUNS
# runs per chunk size (make soak: 200), split evenly (rounded up) between
# the max_copies values FSX_FAILOVER_COPIES ("default" is the plain table;
# 1 and 2 make the commit and the copies of partial VM writes contend for
# one or two copy slots), each on a fresh device with its own seed; a
# failure prints the command that replays it (with that table option).
. /tests/lib.sh

RUNS=${FSX_FAILOVER_RUNS:-6}
OPS=${FSX_FAILOVER_OPS:-1500}
COPIES=${FSX_FAILOVER_COPIES:-default 1 2}
brd_setup 3 8
LEN=$(dev_sectors /dev/ram0)
set -- $COPIES
VRUNS=$(( (RUNS + $# - 1) / $# ))

for chunk in ${FSX_CHUNKS:-1 8 16 128}; do
for copies in $COPIES; do
	opt= what="chunk $chunk"
	[ "$copies" = default ] || opt=" 2 max_copies $copies" what="chunk $chunk, max_copies $copies"
	pass=0 fail=0 run=1 start=$(date +%s)
	while [ $run -le "$VRUNS" ]; do
		dm_cleanup
		dmsetup create c --table "0 $LEN colo secondary /dev/ram0 /dev/ram1 /dev/ram2 $chunk$opt" &&
			dmsetup create c-ingress --table "0 $LEN colo-ingress /dev/ram0" &&
			dmsetup mknodes || { fail=$((fail + 1)); t_fail "$what: setup"; break; }
		seed=${FSX_SEED:-$(( $(date +%s) * 1000 + run * 7 + chunk ))}
		if colo-fsx --name c --vm /dev/mapper/c --ingress /dev/mapper/c-ingress \
			--base /dev/ram0 --hidden /dev/ram1 --active /dev/ram2 \
			--chunk "$chunk" --ops "$OPS" --checkpoint-every 200 \
			--failover --seed "$seed" > /tmp/fsx.log 2>&1; then
			pass=$((pass + 1))
			[ $run = 1 ] && grep -E '^# failover:' /tmp/fsx.log
		else
			fail=$((fail + 1))
			t_fail "$what: failover run $run, seed $seed (replay: FSX_SEED=$seed FSX_CHUNKS=$chunk FSX_FAILOVER_COPIES=$copies FSX_FAILOVER_RUNS=1 scripts/vm.sh 55-fsx-failover.sh)"
			grep -v '^colo-fsx: PASS' /tmp/fsx.log | tail -n 80 | sed 's/^/#   /'
			break
		fi
		run=$((run + 1))
	done
	[ $fail = 0 ] && t_ok "$what: $pass failover runs of $OPS ops passed ($(( $(date +%s) - start ))s)"
done
done
dm_cleanup
t_done
