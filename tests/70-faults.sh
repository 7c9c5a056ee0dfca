#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Leg faults in secondary mode, under the model checker (colo-fsx --fault):
# for each leg (base, hidden, active) in turn, the leg is a dm-linear device
# whose table colo-fsx swaps, while VM and ingress threads do I/O, to
# dm-error, dm-flakey (error_writes; up/down) or dm-delay and back. Every EIO
# must come from an op that may touch the faulted leg (the other side must
# not see it), probes show what must fail and what must not (a failed
# copy-before-write leaves base as it was, a failed VM write the view),
# failed writes leave old or new data per sector and nothing else, the
# device works again after the fault, health turns "error" (sticky) with a
# dm event. Sizes: COLO_T_FAULT_OPS ops and COLO_T_FAULT_EPISODES faults
# per run, COLO_T_FAULT_CHUNKS chunk sizes (make soak raises them);
# FSX_SEED fixes the seed.
. /tests/lib.sh

OPS=${COLO_T_FAULT_OPS:-4000}
EPS=${COLO_T_FAULT_EPISODES:-4}
MIB=${COLO_T_FAULT_MIB:-16}
brd_setup 3 "$MIB"
LEN=$(dev_sectors /dev/ram0)

for chunk in ${COLO_T_FAULT_CHUNKS:-8}; do
	for leg in base hidden active; do
		dm_cleanup
		B=/dev/ram0 H=/dev/ram1 A=/dev/ram2
		case $leg in
		base) lower=$B; B=/dev/mapper/fleg ;;
		hidden) lower=$H; H=/dev/mapper/fleg ;;
		active) lower=$A; A=/dev/mapper/fleg ;;
		esac
		dmsetup create fleg --table "0 $LEN linear $lower 0" &&
			dmsetup mknodes fleg &&
			dmsetup create c --table "0 $LEN colo secondary $B $H $A $chunk" &&
			dmsetup create c-ingress --table "0 $LEN colo-ingress $B" &&
			dmsetup mknodes || { t_fail "chunk $chunk, $leg leg: setup"; continue; }
		seed=${FSX_SEED:-$(( $(date +%s) * 1000 + chunk * 3 + ${#leg} ))}
		fsx_run "chunk $chunk, faults on the $leg leg: $OPS ops, $EPS faults, seed $seed" \
			'^# (fault|colo-fsx:)' --name c --vm /dev/mapper/c \
			--ingress /dev/mapper/c-ingress --base /dev/ram0 \
			--hidden /dev/ram1 --active /dev/ram2 --chunk "$chunk" \
			--ops "$OPS" --fault "$leg" --fault-dm fleg \
			--fault-episodes "$EPS" --seed "$seed"
	done
done
dm_cleanup
t_done
