#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The benchmark (make bench runs it once per kernel, scripts/bench.sh turns
# its output into bench/*.md). Everything is measured in this one boot, on
# RAM disks (brd) and dm-zero, so each figure has its baseline beside it.
# Nothing here asserts a timing: the "ok" lines check only that each set-up
# did what it must (copies made, mirror in sync, replica equal to base,
# commit done) so that a figure never comes from a broken configuration.
#
# Output, besides TAP:
#   # BENCH key value        one figure (a median, a rate, bytes)
#   /tmp/bench/fio/KEY.N.json  raw fio output of repeat N of KEY; all of
#                            /tmp/bench is sent at the end as a base64 tar
#                            between "# BENCH-TAR-BEGIN" and "# BENCH-TAR-END"
#
# Sizes: BENCH_REPS (3) repeats per figure, BENCH_RUNTIME (3) seconds per fio
# run, BENCH_MIB (256) per RAM disk, BENCH_CKPT_REPS (100) checkpoint
# messages per dirty count up to 10^4, BENCH_CKPT_BIG_REPS (20) for 10^5 and
# BENCH_CKPT_HUGE_REPS (5) for 10^6: each message needs its dirty chunks
# written again first, 10^6 chunk writes a message, which under software
# emulation takes about 10 s. The metadata device's rows (tests/bench/meta.sh)
# have sizes of their own, BENCH_META_*.
. /tests/lib.sh

REPS=${BENCH_REPS:-3}
RT=${BENCH_RUNTIME:-3}
MIB=${BENCH_MIB:-256}
CKPT_REPS=${BENCH_CKPT_REPS:-100}
CKPT_BIG_REPS=${BENCH_CKPT_BIG_REPS:-20}
CKPT_HUGE_REPS=${BENCH_CKPT_HUGE_REPS:-5}
OUT=/tmp/bench
mkdir -p $OUT/fio

bench() { echo "# BENCH $*"; }
now_us() { colo-now; }
# field NAME N: field N of the colo status line (1: mode, 3: active, 4:
# hidden, 5: commit state, 8: mirror state, 12: bitmap_bytes; see README),
# or of the target's own status for other targets.
field() { dmsetup status "$1" | awk -v f="$2" '{ print $(f + 3) }'; }
events() { dmsetup info -c --noheadings -o events "$1"; }

# wait_field NAME N VALUE: until status field N of NAME is VALUE, sleeping
# on dm events (the event count is read before the status, so none is lost).
wait_field() {
	local ev v
	while :; do
		ev=$(events "$1")
		v=$(field "$1" "$2")
		[ "$v" = "$3" ] && return 0
		case "$v" in failed|degraded) return 1 ;; esac
		dmsetup wait "$1" "$ev" > /dev/null || return 1
	done
}

# send_home: all of /tmp/bench as a base64 tar (see above), and the end.
send_home() {
	echo "# BENCH-TAR-BEGIN"
	tar -C /tmp -cz bench | base64
	echo "# BENCH-TAR-END"
	t_done
}

# BENCH_ONLY=meta runs only the metadata device's rows (tests/bench/meta.sh),
# for a quicker run while working on them; make bench runs everything.
if [ "${BENCH_ONLY:-}" = meta ]; then
	. /tests/bench/meta.sh
	send_home
fi

brd_setup 4 $MIB || exit 1
LEN=$(dev_sectors /dev/ram0)
# Fill the disks so that reads and copies move real data.
for d in 0 1 2 3; do
	dd if=/dev/urandom of=/dev/ram$d bs=1M count=$MIB 2> /dev/null
done

# ---- copies: failover commit and mirror phase 1 against dd ------------------
# The copies are timed by the kernel's own log: from the line that starts
# them to the line that ends them (dm-colo logs both), so no process start
# or status poll is counted. dd is timed around the process.
rate() {	# KEY BYTES MICROSECONDS
	bench "$1" "$(awk -v b="$2" -v t="$3" 'BEGIN { printf "%.1f", b / 1048576 / (t / 1e6) }')"
}
# klog_us PATTERN: the kernel log time of the last line matching PATTERN.
klog_us() {
	dmesg | grep -E "$1" | tail -n 1 | sed 's/^\[ *\([0-9]*\)\.\([0-9]*\)\].*/\1\2/'
}
# copy_rows CHUNKS: dd between the RAM disks, then the commit and the mirror's
# phase 1 with each chunk size of CHUNKS (sectors), REPS times each. The
# RAM disks ram0-ram3 are set up and filled.
copy_rows() {
	local n i t0 t1 chunk kib view
	n=1
	while [ $n -le "$REPS" ]; do
		t0=$(now_us)
		dd if=/dev/ram2 of=/dev/ram0 bs=1M iflag=direct oflag=direct 2> /dev/null
		t1=$(now_us)
		rate "dd.$n" $((MIB << 20)) $((t1 - t0))
		n=$((n + 1))
	done
	dd if=/dev/urandom of=/tmp/fill bs=1M count=16 2> /dev/null
	for chunk in $1; do
		kib=$((chunk / 2))
		n=1
		while [ $n -le "$REPS" ]; do
			dmsetup create vm --table "0 $LEN colo secondary /dev/ram0 /dev/ram1 /dev/ram2 $chunk"
			dmsetup mknodes
			i=0
			while [ $i -lt $((MIB / 16)) ]; do
				dd if=/tmp/fill of=/dev/mapper/vm bs=1M seek=$((i * 16)) oflag=direct 2> /dev/null
				i=$((i + 1))
			done
			view=$(direct_sum /dev/mapper/vm)
			dmsetup message vm 0 failover
			wait_field vm 5 done
			t0=$(klog_us 'failover: primary now')
			t1=$(klog_us 'failover commit done')
			rate "commit.c$kib.$n" $((MIB << 20)) $((t1 - t0))
			[ $n = 1 ] && check_eq "commit, $kib KiB chunks: base holds the VM's view" \
				"$view" "$(direct_sum /dev/ram0)"
			dmsetup remove vm
			n=$((n + 1))
		done
		n=1
		while [ $n -le "$REPS" ]; do
			dmsetup create p --table "0 $LEN colo primary /dev/ram0 $chunk"
			dmsetup message p 0 mirror start /dev/ram3 full
			wait_field p 8 in-sync
			t0=$(klog_us 'mirror to .* started')
			t1=$(klog_us 'mirror in sync')
			rate "mirror1.c$kib.$n" $((MIB << 20)) $((t1 - t0))
			[ $n = 1 ] && check_eq "mirror, $kib KiB chunks: replica equals base" \
				"$(direct_sum /dev/ram0)" "$(direct_sum /dev/ram3)"
			dmsetup message p 0 mirror stop
			dmsetup remove p
			n=$((n + 1))
		done
	done
}

# BENCH_ONLY=copy: only the copy rows, in a boot of their own (also with
# 4 KiB chunks, every chunk dirty: BENCH_COPY_CHUNKS, in sectors).
if [ "${BENCH_ONLY:-}" = copy ]; then
	copy_rows "${BENCH_COPY_CHUNKS:-8 128 2048}"
	rmmod brd
	send_home
fi

# fio_set KEY DEV RW BS QD [HOOK]: REPS time-based fio runs, HOOK (a shell
# command) before each; the JSON goes to $OUT/fio/KEY.N.json.
fio_set() {
	local key=$1 dev=$2 rw=$3 bs=$4 qd=$5 hook=${6:-} n=1
	while [ $n -le "$REPS" ]; do
		[ -n "$hook" ] && eval "$hook"
		fio --name="$key" --filename="$dev" --direct=1 --ioengine=libaio \
			--iodepth="$qd" --rw="$rw" --bs="$bs" --size=${MIB}M \
			--time_based --runtime="$RT" --randrepeat=0 \
			--eta=never --output-format=json --output="$OUT/fio/$key.$n.json" ||
			t_fail "fio $key run $n"
		n=$((n + 1))
	done
	t_diag "ran $key"
}

# The four VM workloads: 4 KiB random at QD 16, 1 MiB sequential at QD 4.
fio_four() {	# PREFIX DEV [HOOK_FOR_WRITES]
	fio_set "$1.randread" "$2" randread 4k 16
	fio_set "$1.read" "$2" read 1m 4
	fio_set "$1.randwrite" "$2" randwrite 4k 16 "${3:-}"
	fio_set "$1.write" "$2" write 1m 4 "${3:-}"
}

# ---- baselines: brd and dm-linear ------------------------------------------
fio_four brd /dev/ram0
dmsetup create lin --table "0 $LEN linear /dev/ram0 0"
dmsetup mknodes
fio_four linear /dev/mapper/lin
dmsetup remove lin

# ---- secondary mode: VM I/O on clean and on dirty chunks (4 KiB chunks) ----
sec_table="0 $LEN colo secondary /dev/ram0 /dev/ram1 /dev/ram2 8"
dmsetup create vm --table "$sec_table"
dmsetup mknodes
# Clean: a checkpoint before each run. fio's random map touches each block
# once per pass, so the 4 KiB random writes land on clean chunks until the
# pass ends (the dirty count after the run says how far it got).
fio_set sec-clean.randread /dev/mapper/vm randread 4k 16
fio_set sec-clean.read /dev/mapper/vm read 1m 4
fio_set sec-clean.randwrite /dev/mapper/vm randwrite 4k 16 "dmsetup message vm 0 checkpoint"
bench sec-clean.randwrite.active_after "$(field vm 3 | cut -d/ -f1)"
fio_set sec-clean.write /dev/mapper/vm write 1m 4 "dmsetup message vm 0 checkpoint"
dmsetup message vm 0 checkpoint
dd if=/dev/zero of=/dev/mapper/vm bs=1M count=$MIB oflag=direct 2> /dev/null
check_eq "secondary: every chunk dirty before the dirty-chunk runs" \
	"$((LEN / 8))/$((LEN / 8))" "$(field vm 3)"
fio_four sec-dirty /dev/mapper/vm
dmsetup remove vm

# ---- ingress copy-before-write against dm-snapshot's origin ----------------
for chunk in 8 128; do
	kib=$((chunk / 2))
	dmsetup create vm --table "0 $LEN colo secondary /dev/ram0 /dev/ram1 /dev/ram2 $chunk"
	dmsetup create vm-ingress --table "0 $LEN colo-ingress /dev/ram0"
	dmsetup mknodes
	fio_set "ingress-first.c$kib" /dev/mapper/vm-ingress randwrite 4k 16 \
		"dmsetup message vm 0 checkpoint"
	h=$(field vm 4 | cut -d/ -f1)
	bench "ingress-first.c$kib.hidden_after" "$h"
	check "ingress, $kib KiB chunks: first-touch writes made copies ($h)" \
		test "$h" -gt 0
	dmsetup message vm 0 checkpoint
	dd if=/dev/zero of=/dev/mapper/vm-ingress bs=1M count=$MIB oflag=direct 2> /dev/null
	check_eq "ingress, $kib KiB chunks: every chunk copied" \
		"$((LEN / chunk))/$((LEN / chunk))" "$(field vm 4)"
	fio_set "ingress-copied.c$kib" /dev/mapper/vm-ingress randwrite 4k 16
	dmsetup remove vm-ingress
	dmsetup remove vm

	# dm-snapshot: an origin with one transient snapshot of the same chunk
	# size; a new snapshot before each first-touch run.
	dmsetup create origin --table "0 $LEN snapshot-origin /dev/ram0"
	dmsetup mknodes
	fio_set "snap-first.c$kib" /dev/mapper/origin randwrite 4k 16 \
		"dmsetup remove snap 2> /dev/null; dmsetup create snap --table '0 $LEN snapshot /dev/ram0 /dev/ram1 N $chunk'"
	s=$(field snap 1)
	bench "snap-first.c$kib.cow_after" "$s"
	check_match "dm-snapshot, $kib KiB chunks: snapshot valid after the first-touch runs" \
		'^[0-9]+/[0-9]+' "$s"
	dmsetup remove snap
	dmsetup create snap --table "0 $LEN snapshot /dev/ram0 /dev/ram1 N $chunk"
	dd if=/dev/zero of=/dev/mapper/origin bs=1M count=$MIB oflag=direct 2> /dev/null
	fio_set "snap-copied.c$kib" /dev/mapper/origin randwrite 4k 16
	check_match "dm-snapshot, $kib KiB chunks: snapshot valid after the copied-chunk runs" \
		'^[0-9]+/[0-9]+' "$(field snap 1)"
	dmsetup remove snap
	dmsetup remove origin
done

# ---- primary mode, with a mirror in sync, against dm-raid1 ------------------
dmsetup create p --table "0 $LEN colo primary /dev/ram0 8"
dmsetup mknodes
fio_set primary.randwrite /dev/mapper/p randwrite 4k 16
fio_set primary.write /dev/mapper/p write 1m 4
dmsetup message p 0 mirror start /dev/ram3 full
check "primary: mirror in sync" wait_field p 8 in-sync
fio_set mirror.randwrite /dev/mapper/p randwrite 4k 16
fio_set mirror.write /dev/mapper/p write 1m 4
check_eq "primary: mirror still in sync after the runs" in-sync "$(field p 8)"
check_eq "primary: replica equals base" "$(direct_sum /dev/ram0)" "$(direct_sum /dev/ram3)"
dmsetup message p 0 mirror stop
dmsetup remove p

dmsetup create raid1 --table "0 $LEN mirror core 2 1024 nosync 2 /dev/ram0 0 /dev/ram3 0 1 handle_errors"
dmsetup mknodes
fio_set raid1.randwrite /dev/mapper/raid1 randwrite 4k 16
fio_set raid1.write /dev/mapper/raid1 write 1m 4
dmsetup remove raid1
check_eq "dm-raid1: legs equal" "$(direct_sum /dev/ram0)" "$(direct_sum /dev/ram3)"

# ---- copies: failover commit and mirror phase 1 against dd ------------------
# (copy_rows, defined above)
copy_rows "128 2048"
rmmod brd

# ---- checkpoint latency and memory, on dm-zero legs -------------------------
# zero_colo SECTORS: a secondary colo device "ck" of 4 KiB chunks whose legs
# are dm-zero devices of SECTORS (writes vanish, bits are kept).
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

# ---- the metadata device: with and without, interleaved ---------------------
. /tests/bench/meta.sh

# ---- send the raw output home ----------------------------------------------
send_home
