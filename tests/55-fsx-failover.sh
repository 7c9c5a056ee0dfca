#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The model checker with failover at a random point while VM and ingress
# I/O is in flight: the VM's view across the switch, ingress writes failing
# after it, base equal to the view once the commit ends. FSX_FAILOVER_RUNS
# runs per chunk size (make soak: 200), each on a fresh device with its own
# seed; a failure prints the command that replays it.
. /tests/lib.sh

RUNS=${FSX_FAILOVER_RUNS:-20}
OPS=${FSX_FAILOVER_OPS:-1500}
brd_setup 3 8
LEN=$(dev_sectors /dev/ram0)

for chunk in ${FSX_CHUNKS:-1 8 128}; do
	pass=0 fail=0 run=1 start=$(date +%s)
	while [ $run -le "$RUNS" ]; do
		dm_cleanup
		dmsetup create c --table "0 $LEN colo secondary /dev/ram0 /dev/ram1 /dev/ram2 $chunk" &&
			dmsetup create c-ingress --table "0 $LEN colo-ingress /dev/ram0" &&
			dmsetup mknodes || { fail=$((fail + 1)); break; }
		seed=${FSX_SEED:-$(( $(date +%s) * 1000 + run * 7 + chunk ))}
		if colo-fsx --name c --vm /dev/mapper/c --ingress /dev/mapper/c-ingress \
			--base /dev/ram0 --hidden /dev/ram1 --active /dev/ram2 \
			--chunk "$chunk" --ops "$OPS" --checkpoint-every 200 \
			--failover --seed "$seed" > /tmp/fsx.log 2>&1; then
			pass=$((pass + 1))
			[ $run = 1 ] && grep -E '^# failover:' /tmp/fsx.log
		else
			fail=$((fail + 1))
			t_fail "chunk $chunk: failover run $run, seed $seed"
			grep -v '^colo-fsx: PASS' /tmp/fsx.log | tail -n 60 | sed 's/^/#   /'
			break
		fi
		run=$((run + 1))
	done
	[ $fail = 0 ] && t_ok "chunk $chunk: $pass failover runs of $OPS ops passed ($(( $(date +%s) - start ))s)"
done
dm_cleanup
t_done
