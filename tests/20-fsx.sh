#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The randomized model checker (tests/src/fsx/) on a secondary device
# and its ingress, for chunk sizes 1, 8 and 128 sectors: 2 VM threads and 2
# ingress threads at once, checkpoints every 500 ops, every read compared
# with the model, and the raw legs compared at the end. FSX_OPS sets the ops
# per chunk size (make soak raises it), FSX_SEED fixes the seed (else one is
# drawn and printed; a failure prints the command that replays it). One
# extra run uses max_copies 1 (chunk 16, FSX_MC1_OPS ops, default FSX_OPS/4).
. /tests/lib.sh

OPS=${FSX_OPS:-20000}
MIB=${FSX_MIB:-32}
brd_setup 3 "$MIB"
LEN=$(dev_sectors /dev/ram0)

for chunk in ${FSX_CHUNKS:-1 8 128}; do
	dm_cleanup
	dmsetup create c --table "0 $LEN colo secondary /dev/ram0 /dev/ram1 /dev/ram2 $chunk" &&
		dmsetup create c-ingress --table "0 $LEN colo-ingress /dev/ram0" &&
		dmsetup mknodes || { t_fail "chunk $chunk: setup"; continue; }
	seed=${FSX_SEED:-$(( $(date +%s) * 1000 + chunk ))}
	fsx_run "chunk $chunk: $OPS ops, 2 VM + 2 ingress threads, seed $seed" \
		'^# colo-fsx:' --name c --vm /dev/mapper/c \
		--ingress /dev/mapper/c-ingress --base /dev/ram0 \
		--hidden /dev/ram1 --active /dev/ram2 \
		--chunk "$chunk" --ops "$OPS" --seed "$seed"
done

# One more run with a single copy slot (table option max_copies 1, chunk
# 16): the fills of partial VM writes and the copy-before-writes of the
# ingress queue for it. FSX_MC1_OPS ops (0: skip).
MC1_OPS=${FSX_MC1_OPS:-$((OPS / 4))}
if [ "$MC1_OPS" -gt 0 ]; then
	dm_cleanup
	if dmsetup create c --table "0 $LEN colo secondary /dev/ram0 /dev/ram1 /dev/ram2 16 2 max_copies 1" &&
		dmsetup create c-ingress --table "0 $LEN colo-ingress /dev/ram0" &&
		dmsetup mknodes; then
		seed=${FSX_SEED:-$(( $(date +%s) * 1000 + 16 ))}
		fsx_run "chunk 16, max_copies 1: $MC1_OPS ops, 2 VM + 2 ingress threads, seed $seed" \
			'^# colo-fsx:' --name c --vm /dev/mapper/c \
			--ingress /dev/mapper/c-ingress --base /dev/ram0 \
			--hidden /dev/ram1 --active /dev/ram2 \
			--chunk 16 --ops "$MC1_OPS" --seed "$seed"
	else
		t_fail "chunk 16, max_copies 1: setup"
	fi
fi
dm_cleanup
t_done
