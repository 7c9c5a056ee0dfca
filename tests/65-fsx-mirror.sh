#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The model checker in mirror mode: a primary device with VM threads at
# work while a control thread starts and stops the mirror (full, dirty,
# rate-limited) and makes the replica fail (its dm-linear swapped for
# dm-error and back). Every VM read is checked, no VM write may fail, and
# whenever the mirror is in sync the raw replica must equal the model.
# FSX_MIRROR_OPS ops per chunk size.
. /tests/lib.sh

OPS=${FSX_MIRROR_OPS:-3000}
MIB=${FSX_MIB:-32}
brd_setup 2 "$MIB"
LEN=$(dev_sectors /dev/ram0)

for chunk in ${FSX_CHUNKS:-1 8 128}; do
	dm_cleanup
	dmsetup create p --table "0 $LEN colo primary /dev/ram0 $chunk" &&
		dmsetup create rep --table "0 $LEN linear /dev/ram1 0" &&
		dmsetup mknodes || { t_fail "chunk $chunk: setup"; continue; }
	seed=${FSX_SEED:-$(( $(date +%s) * 1000 + chunk ))}
	fsx_run "chunk $chunk: $OPS ops with mirror starts, stops and replica failures, seed $seed" \
		'^# mirror:' --name p --vm /dev/mapper/p --base /dev/ram0 \
		--mirror --replica /dev/mapper/rep --replica-dm rep \
		--replica-lower /dev/ram1 --chunk "$chunk" --ops "$OPS" \
		--vm-threads 2 --ingress-threads 0 --seed "$seed"
done
dm_cleanup
t_done
