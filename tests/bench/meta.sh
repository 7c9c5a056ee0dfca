# SPDX-License-Identifier: GPL-2.0
#
# The metadata device's rows of the benchmark, sourced by run.sh (its
# helpers bench, field, rotate and fio_timed, its OUT, RT and MIB). Each
# figure is measured in interleaved rounds: in a round every variant runs once, on new devices,
# in an order that rotates from round to round, so that a drift of the
# machine (other jobs, software emulation) hits every variant alike. The
# report takes each round's ratio against its twin without metadata of the
# same round and claims the worst (bench-report.py).
#
# The metadata device is a memory-backed null_blk disk with a volatile
# write cache (nullb_setup): its flushes are real requests, and its stat
# counts them with its writes, so every figure comes with the metadata I/O
# it caused. It is zeroed before each new device that uses it (fresh).
#
#  1. Primary mode, the primary rows' fio jobs (4 KiB random writes at
#     QD 16, 1 MiB sequential writes at QD 4, a 256 MiB brd base, 4 KiB
#     chunks), two runs on each new device: with metadata, cold (fresh
#     metadata: each 4 MiB region's first write waits for its mark) and
#     then warm (every region marked by the cold run: the steady state);
#     without, the same two runs (none1, none2), their twins. For the
#     random writes also cold with 4 KiB regions (one chunk a region, so
#     that nearly every write of the run is the first to its region: the
#     cost of a mark), against none1. A second device without metadata
#     each round (noneb1, noneb2), the A/A control: its runs over their
#     twins without metadata are what a path that costs nothing measures.
#  2. Failover latency at 10^3, 10^5 and 10^6 overlay chunks (active, 4 KiB
#     chunks, 16 GiB dm-zero legs) with and without metadata: the "failover"
#     ioctl alone (colo-ckpt --failover), and the metadata writes and
#     flushes that completed meanwhile.
#  3. Checkpoint latency at 10^5 dirty chunks on the same legs, with and
#     without metadata, and the metadata device's writes and flushes across
#     the checkpoints and the VM writes before them (there must be none).
#
# Sizes: BENCH_META_ROUNDS (8) rounds of the fio rows (8 so that the
# claimed bound, a sign test's, can drop one outlying round), the 4 KiB regions in
# the first BENCH_META_4K_ROUNDS (1) of them; BENCH_META_FO_ROUNDS
# ("6 5 1", rounds at 10^3, 10^5 and 10^6 chunks: each needs its chunks
# written first, 4 GiB at 10^6, half a minute under software emulation);
# BENCH_META_CKPT_ROUNDS (2) rounds of BENCH_META_CKPT_REPS (4)
# checkpoints. About 7 minutes in all on the 2-core development machine.
#
# A disk's stat counts an empty flush twice: as a flush, and as a write
# (the empty write that carried REQ_PREFLUSH), so data writes are writes
# minus flushes (bench-report.py shows them so).

M_ROUNDS=${BENCH_META_ROUNDS:-8}
M_4K_ROUNDS=${BENCH_META_4K_ROUNDS:-1}
M_FO_ROUNDS=${BENCH_META_FO_ROUNDS:-6 5 1}
M_CK_ROUNDS=${BENCH_META_CKPT_ROUNDS:-2}
M_CK_REPS=${BENCH_META_CKPT_REPS:-4}
MD=/dev/nullb0
MSTAT=/sys/block/nullb0/stat

# mstat: the metadata device's completed writes and flushes.
mstat() { awk '{ print $5, $16 }' $MSTAT; }
# mdelta BEFORE_W BEFORE_F AFTER_W AFTER_F: "writes flushes" in between.
mdelta() { echo "$(($3 - $1)) $(($4 - $2))"; }
# meta_zero: a fresh metadata device (its layout is at most 2.1 MiB here).
meta_zero() { dd if=/dev/zero of=$MD bs=1M count=4 oflag=direct 2> /dev/null; }

t_diag "metadata device section"
meta_t0=$(now_us)
brd_setup 1 $MIB || t_fail "meta: brd"
nullb_setup nullb0 64 || t_fail "meta: null_blk metadata device"
dd if=/dev/zero of=/dev/ram0 bs=1M count=$MIB 2> /dev/null
LEN=$(dev_sectors /dev/ram0)
NREG=$((LEN / 8192))

# ---- 1. primary-mode writes with and without metadata -----------------------
meta_table() {	# VARIANT
	case $1 in
	none | noneb) echo "0 $LEN colo primary /dev/ram0 8" ;;
	cold4k) echo "0 $LEN colo primary /dev/ram0 8 4 metadata $MD region_size 8" ;;
	*) echo "0 $LEN colo primary /dev/ram0 8 2 metadata $MD" ;;
	esac
}
# pm_plain VARIANT: true for the variants without metadata.
pm_plain() {
	case $1 in none | noneb) return 0 ;; esac
	return 1
}
# pm_up VARIANT: a new primary "pm" (with fresh metadata unless plain).
pm_up() {
	pm_plain "$1" || meta_zero
	dmsetup create pm --table "$(meta_table "$1")" && dmsetup mknodes pm
}
# pm_fio KEY N RW BS QD: round N's fio run on pm, its JSON in
# $OUT/fio/KEY.N.json; the metadata writes and flushes during it and the
# regions marked after it in the line KEY.mio.N.
pm_fio() {
	local s
	s=$(mstat)
	fio_timed "$1" "$2" /dev/mapper/pm "$3" "$4" "$5"
	bench "$1.mio.$2" "$(mdelta $s $(mstat)) $(field pm 16)"
}
# meta_unit W RW BS QD N UNIT: round N of workload W on a new device, two
# runs: UNIT none, without metadata (none1, then none2); cold, with fresh
# metadata (cold, then warm: every region marked by the cold run). So each
# run with metadata has its twin without, the same run on its device: the
# first runs are paired, and the second ones. cold4k: one run.
meta_unit() {
	local w=$1 rw=$2 bs=$3 qd=$4 n=$5 u=$6 first=$6 second=
	case $u in
	none) first=none1 second=none2 ;;
	noneb) first=noneb1 second=noneb2 ;;
	cold) second=warm ;;
	esac
	if ! pm_up "$u"; then
		t_fail "pmeta-$first.$w round $n: table"
		return
	fi
	[ "$u" = cold ] && [ "$n" = 1 ] && check_eq "pmeta-cold.$w: no region marked before the run" \
		"0/$NREG" "$(field pm 16)"
	pm_fio "pmeta-$first.$w" "$n" "$rw" "$bs" "$qd"
	if [ "$u" = cold ] && [ "$(field pm 16)" != "$NREG/$NREG" ]; then
		t_fail "pmeta-warm.$w round $n: not every region marked ($(field pm 16))"
	elif [ -n "$second" ]; then
		pm_fio "pmeta-$second.$w" "$n" "$rw" "$bs" "$qd"
	fi
	pm_plain "$u" || [ "$(field pm 14)" = ok ] ||
		t_fail "pmeta-$first.$w round $n: metadata $(field pm 14)"
	dmsetup remove pm
}
n=1
while [ $n -le "$M_ROUNDS" ]; do
	for u in $(rotate $((n - 1)) none cold noneb); do
		meta_unit randwrite randwrite 4k 16 $n $u
	done
	[ $n -le "$M_4K_ROUNDS" ] && meta_unit randwrite randwrite 4k 16 $n cold4k
	for u in $(rotate $((n - 1)) none cold noneb); do
		meta_unit write write 1m 4 $n $u
	done
	n=$((n + 1))
done
t_diag "ran the primary rows with and without metadata ($M_ROUNDS rounds, $((($(now_us) - meta_t0) / 1000000)) s)"
rmmod brd

# ---- 2. failover and 3. checkpoint latency, dm-zero legs --------------------
S=$((16 * 2097152))	# 16 GiB
for z in zb zh za; do
	dmsetup create $z --table "0 $S zero"
done
dmsetup mknodes
# zero_sec VARIANT: a secondary "fo" of 4 KiB chunks over the dm-zero legs,
# with (meta) or without (none) a fresh metadata device.
zero_sec() {
	local opt=
	if [ "$1" = meta ]; then
		meta_zero
		opt=" 2 metadata $MD"
	fi
	dmsetup create fo --table "0 $S colo secondary /dev/mapper/zb /dev/mapper/zh /dev/mapper/za 8$opt" &&
		dmsetup mknodes fo
}
set -- $M_FO_ROUNDS
for d in 1000 100000 1000000; do
	r=${1:-1}
	[ $# -gt 0 ] && shift
	n=1
	while [ $n -le "$r" ]; do
		for v in $(rotate $((n - 1)) none meta); do
			zero_sec $v || { t_fail "failover $v $d: table"; continue; }
			if out=$(colo-ckpt --failover --stat $MSTAT fo $d 1); then
				bench "fo-$v.dirty$d.$n" "$out"
			else
				t_fail "failover $v, $d chunks, round $n: colo-ckpt failed"
			fi
			[ "$v" = none ] || [ "$(field fo 14)" = ok ] ||
				t_fail "failover $v round $n: metadata $(field fo 14)"
			# The commit is running: removing the device stops it.
			dmsetup remove fo
		done
		n=$((n + 1))
	done
	t_diag "ran failover at $d chunks ($r rounds, $((($(now_us) - meta_t0) / 1000000)) s)"
done

n=1
while [ $n -le "$M_CK_ROUNDS" ]; do
	for v in $(rotate $((n - 1)) none meta); do
		zero_sec $v || { t_fail "checkpoint $v: table"; continue; }
		s=$(mstat)
		if out=$(colo-ckpt --stat $MSTAT fo 100000 "$M_CK_REPS"); then
			all=$(mdelta $s $(mstat))
			bench "ckm-$v.$n" "$out $(echo $all | awk '{ print "all_writes", $1, "all_flushes", $2 }')"
			# Metadata writes and flushes during the checkpoints, then
			# during the whole run (the VM's writes too).
			[ "$v" = meta ] && check_eq "checkpoints with metadata, round $n: no metadata I/O" \
				"0 0 0 0" "$(echo "$out" | sed 's/.*stat_writes \([0-9]*\) stat_flushes \([0-9]*\).*/\1 \2/') $all"
		else
			t_fail "checkpoint $v round $n: colo-ckpt failed"
		fi
		dmsetup remove fo
	done
	n=$((n + 1))
done
for z in zb zh za; do
	dmsetup remove $z
done
nullb_remove nullb0
