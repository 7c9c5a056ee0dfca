# SPDX-License-Identifier: GPL-2.0
#
# Checkpoint latency and the bitmaps' memory, on dm-zero legs (writes
# vanish, bits are kept): colo-ckpt times each "checkpoint" ioctl alone,
# after writing its dirty chunks again, at 10^3 to 10^6 dirty chunks of a
# 16 GiB device and at 10^5 on 1 GiB to 16 TiB. No baseline: the targets
# are absolute (and the 16 TiB / 1 GiB ratio). Sourced by run.sh.

t_diag "checkpoint section"
CKPT_REPS=${BENCH_CKPT_REPS:-100}
CKPT_BIG_REPS=${BENCH_CKPT_BIG_REPS:-20}
CKPT_HUGE_REPS=${BENCH_CKPT_HUGE_REPS:-5}

# zero_colo SECTORS: a secondary colo device "ck" of 4 KiB chunks whose legs
# are dm-zero devices of SECTORS.
zero_colo() {
	for z in zb zh za; do
		dmsetup create $z --table "0 $1 zero"
	done
	dmsetup mknodes
	dmsetup create ck --table "0 $1 colo secondary /dev/mapper/zb /dev/mapper/zh /dev/mapper/za 8"
	dmsetup mknodes
}
zero_gone() {
	dmsetup remove ck
	for z in zb zh za; do dmsetup remove $z; done
}
# ckpt KEY DIRTY REPS: checkpoint latency and the bitmaps' memory at DIRTY.
ckpt() {
	local out
	if out=$(colo-ckpt ck "$2" "$3"); then
		t_ok "checkpoint $1: $out"
		bench "$1" "$out"
	else
		t_fail "checkpoint $1: colo-ckpt failed"
	fi
}
GIB=2097152	# sectors
for d in 1000 10000 100000 1000000; do
	r=$CKPT_REPS
	[ $d -ge 100000 ] && r=$CKPT_BIG_REPS
	[ $d -ge 1000000 ] && r=$CKPT_HUGE_REPS
	zero_colo $((16 * GIB))
	ckpt "ckpt.size16G.dirty$d" $d $r
	zero_gone
done
for s in 1 64 1024 16384; do
	zero_colo $((s * GIB))
	bench "mem.size${s}G.empty" "$(field ck 12)"
	ckpt "ckpt.size${s}G.dirty100000" 100000 "$CKPT_BIG_REPS"
	zero_gone
done
