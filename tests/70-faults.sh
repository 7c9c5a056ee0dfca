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
		fault_leg_run "$chunk" "$leg" "chunk $chunk, faults on the $leg leg"
	done
done
dm_cleanup
t_done
