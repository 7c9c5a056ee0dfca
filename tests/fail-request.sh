#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Submission failures on single legs, in the debug lane only (its kernel
# has fail_make_request; Debian's has not): the model checker in fault mode
# (as tests/70-faults.sh, secondary mode) with the fault kind "failreq":
# each leg in turn is a dm-linear device whose make-it-fail colo-fsx turns
# on and off under running I/O, and fail_make_request, armed here with
# probability 100 for marked disks only, fails every bio sent to it. The
# checker's rules are those of a dm-error leg: EIO only for ops that may
# touch that leg, failed writes leave old or new data, health "error" with a
# dm event, and the device works again after the fault. Sizes:
# COLO_T_FAILREQ_OPS ops and COLO_T_FAILREQ_EPISODES faults per leg.
. /tests/lib.sh

D=/sys/kernel/debug
mount -t debugfs none $D 2>/dev/null
OPS=${COLO_T_FAILREQ_OPS:-1500}
EPS=${COLO_T_FAILREQ_EPISODES:-2}
F=$D/fail_make_request

if [ ! -d $F ]; then
	t_fail "fail_make_request is not in this kernel (run it in the debug lane)"
	t_done
fi
echo 0 > $F/probability
echo 1 > $F/interval
echo -1 > $F/times
echo 0 > $F/verbose
echo 0 > $F/space
echo 100 > $F/probability

brd_setup 3 8
LEN=$(dev_sectors /dev/ram0)
for leg in base hidden active; do
	fault_leg_run 8 "$leg" "chunk 8, fail_make_request on the $leg leg" \
		--fault-kinds failreq
done
echo 0 > $F/probability
dm_cleanup
t_done
