#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The model checker in mirror mode: a primary device with VM threads at
# work while a control thread starts and stops the mirror (full, dirty,
# rate-limited) and makes the replica fail (its dm-linear swapped for
# dm-error and back). Every VM read is checked, no VM write may fail, and
# whenever the mirror is in sync the raw replica must equal the model.
# The function tracer (when the kernel has it) counts the mirrored writes
# sent from map (replica_clone_end) and from the worker (dual_write_done):
# each run must have taken the map path.
# FSX_MIRROR_OPS ops per chunk size, and one run with max_copies 1 (chunk
# 16, FSX_MC1_MIRROR_OPS ops, default FSX_MIRROR_OPS/3), and one in async
# mode behind dm-delay (FSX_ASYNC_MIRROR_OPS, default FSX_MIRROR_OPS/3).
. /tests/lib.sh

OPS=${FSX_MIRROR_OPS:-3000}
MIB=${FSX_MIB:-32}
brd_setup 2 "$MIB"
LEN=$(dev_sectors /dev/ram0)

# fsx_paths DESC: after a run traced with ftrace_start, say how many
# mirrored writes each path took; the map path must have been taken.
TRACED=0
fsx_trace_start() {
	TRACED=0
	ftrace_start replica_clone_end dual_write_done && TRACED=1
}
fsx_paths() {
	[ $TRACED = 1 ] || { t_diag "$1: no function tracer: paths not counted"; return; }
	ftrace_stop
	map=$(ftrace_count replica_clone_end)
	wrk=$(ftrace_count dual_write_done)
	t_diag "$1: $map mirrored writes sent from map, $wrk from the worker"
	check "$1: mirrored writes were sent from map" test "$map" -gt 0
}

for chunk in ${FSX_CHUNKS:-1 8 128}; do
	dm_cleanup
	dmsetup create p --table "0 $LEN colo primary /dev/ram0 $chunk" &&
		dmsetup create rep --table "0 $LEN linear /dev/ram1 0" &&
		dmsetup mknodes || { t_fail "chunk $chunk: setup"; continue; }
	seed=${FSX_SEED:-$(( $(date +%s) * 1000 + chunk ))}
	fsx_trace_start
	fsx_run "chunk $chunk: $OPS ops with mirror starts, stops and replica failures, seed $seed" \
		'^# mirror:' --name p --vm /dev/mapper/p --base /dev/ram0 \
		--mirror --replica /dev/mapper/rep --replica-dm rep \
		--replica-lower /dev/ram1 --chunk "$chunk" --ops "$OPS" \
		--vm-threads 2 --ingress-threads 0 --seed "$seed"
	fsx_paths "chunk $chunk"
done

# One more run with a single copy slot (max_copies 1, chunk 16): the
# mirror's copies and the VM's writes to the chunks they hold share it.
# FSX_MC1_MIRROR_OPS ops (0: skip).
MC1_OPS=${FSX_MC1_MIRROR_OPS:-$((OPS / 3))}
if [ "$MC1_OPS" -gt 0 ]; then
	dm_cleanup
	if dmsetup create p --table "0 $LEN colo primary /dev/ram0 16 2 max_copies 1" &&
		dmsetup create rep --table "0 $LEN linear /dev/ram1 0" &&
		dmsetup mknodes; then
		seed=${FSX_SEED:-$(( $(date +%s) * 1000 + 16 ))}
		fsx_trace_start
		fsx_run "chunk 16, max_copies 1: $MC1_OPS ops with mirror starts, stops and replica failures, seed $seed" \
			'^# mirror:' --name p --vm /dev/mapper/p --base /dev/ram0 \
			--mirror --replica /dev/mapper/rep --replica-dm rep \
			--replica-lower /dev/ram1 --chunk 16 --ops "$MC1_OPS" \
			--vm-threads 2 --ingress-threads 0 --seed "$seed"
		fsx_paths "chunk 16, max_copies 1"
	else
		t_fail "chunk 16, max_copies 1: setup"
	fi
fi
# The async mode (--mirror-async): the replica behind dm-delay (writes
# 5 ms) so that the lag fills and writes go ahead, starts in async mode,
# sync <-> async switches under the workers, dm-error episodes; the lag
# must never pass max_lag and the replica must equal the model once the
# lag drained. FSX_ASYNC_MIRROR_OPS ops (default FSX_MIRROR_OPS/3; 0: skip),
# chunk 8 and max_lag 16 KiB (FSX_ASYNC_LAG): writes of up to 16 KiB from
# two threads fill it.
ASYNC_OPS=${FSX_ASYNC_MIRROR_OPS:-$((OPS / 3))}
ASYNC_LAG=${FSX_ASYNC_LAG:-16}
if [ "$ASYNC_OPS" -gt 0 ]; then
	dm_cleanup
	if dmsetup create p --table "0 $LEN colo primary /dev/ram0 8" &&
		dmsetup create rep --table "0 $LEN delay /dev/ram1 0 0 /dev/ram1 0 5" &&
		dmsetup mknodes; then
		seed=${FSX_SEED:-$(( $(date +%s) * 1000 + 64 ))}
		fsx_run "async, max_lag $ASYNC_LAG KiB, replica dm-delay 5 ms: $ASYNC_OPS ops with starts, stops, switches and replica failures, seed $seed" \
			'^# mirror:' --name p --vm /dev/mapper/p --base /dev/ram0 \
			--mirror --replica /dev/mapper/rep --replica-dm rep \
			--replica-lower /dev/ram1 --replica-delay 5 \
			--mirror-async "$ASYNC_LAG" --chunk 8 --ops "$ASYNC_OPS" \
			--vm-threads 2 --ingress-threads 0 --seed "$seed"
	else
		t_fail "async: setup"
	fi
fi
dm_cleanup
t_done
