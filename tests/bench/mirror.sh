# SPDX-License-Identifier: GPL-2.0
#
# Primary mode (4 KiB chunks) against dm-linear over the same RAM disk
# (plinear: colo primary does strictly more work), then the same device
# with a mirror in sync to ram3 against dm-raid1 (the mirror target, core
# log of 512 KiB regions, nosync) over two RAM disks of its own, ram1 and
# ram2 (the colo mirror holds ram3 exclusively; not a superset: each does
# its own bookkeeping). Time-based 4 KiB random writes at QD 16 and 1 MiB
# sequential writes at QD 4, REPS interleaved rounds; the legs of each must
# be equal at the end. Sourced by run.sh.

t_diag "mirror section"
brd_setup 4 $MIB || { t_fail "mirror: brd"; return; }
brd_fill 0
LEN=$(dev_sectors /dev/ram0)
dmsetup create plinear --table "0 $LEN linear /dev/ram0 0"
dmsetup create p --table "0 $LEN colo primary /dev/ram0 8"
dmsetup mknodes

# mir_rounds W RW BS QD KEY=DEV...: REPS interleaved rounds of workload W.
mir_rounds() {
	local w=$1 rw=$2 bs=$3 qd=$4 n=1 v
	shift 4
	while [ $n -le "$REPS" ]; do
		for v in $(rotate $((n - 1)) "$@"); do
			fio_timed "${v%%=*}.$w" $n "${v#*=}" "$rw" "$bs" "$qd"
		done
		n=$((n + 1))
	done
	t_diag "ran $w ($REPS rounds: $*)"
}

mir_rounds randwrite randwrite 4k 16 plinear=/dev/mapper/plinear primary=/dev/mapper/p
mir_rounds write write 1m 4 plinear=/dev/mapper/plinear primary=/dev/mapper/p
dmsetup remove plinear

dmsetup message p 0 mirror start /dev/ram3 full
check "primary: mirror in sync" wait_field p 8 in-sync
# Both legs all zeros so far (brd), so nosync is true.
dmsetup create raid1 --table "0 $LEN mirror core 2 1024 nosync 2 /dev/ram1 0 /dev/ram2 0 1 handle_errors"
dmsetup mknodes
mir_rounds randwrite randwrite 4k 16 raid1=/dev/mapper/raid1 mirror=/dev/mapper/p
mir_rounds write write 1m 4 raid1=/dev/mapper/raid1 mirror=/dev/mapper/p
check_eq "primary: mirror still in sync after the runs" in-sync "$(field p 8)"
dmsetup remove raid1
check_eq "dm-raid1: legs equal" "$(direct_sum /dev/ram1)" "$(direct_sum /dev/ram2)"
dmsetup message p 0 mirror stop
dmsetup remove p
check_eq "primary: replica equals base" "$(direct_sum /dev/ram0)" "$(direct_sum /dev/ram3)"
