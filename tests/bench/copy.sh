# SPDX-License-Identifier: GPL-2.0
#
# Copies: the failover commit (active to base, every chunk active) and
# mirror phase 1 (base to the replica, "mirror start ... full") against dd
# between the same RAM disks (dd bs=1M iflag=direct oflag=direct, ram2 to
# ram0), at the chunk sizes of BENCH_COPY_CHUNKS (sectors: 4 KiB, 64 KiB,
# 1 MiB). Sourced by run.sh.
#
# A copy block is one copy of the whole $MIB MiB disk on a new device. In
# each of REPS rounds every block runs once, in an order that rotates, and
# dd runs before the first block and after every block, so each block has
# a dd run just before and just after it: the line
#   # BENCH KIND.cKIB.N RATE DD_BEFORE DD_AFTER      (MiB/s)
# The report takes each block against the mean of its two dd runs and
# drops the blocks whose two dd runs differ by more than 10%.
#
# The copies are timed by the kernel's own log: from the line that starts
# them to the line that ends them (dm-colo logs both), so no process start
# or status poll is counted. dd is timed around the process.

t_diag "copy section"
COPY_CHUNKS=${BENCH_COPY_CHUNKS:-8 128 2048}
brd_setup 4 $MIB || { t_fail "copy: brd"; return; }
# ram3 (the mirror's replica) too: brd allocates a page on its first write,
# which the first mirror block of a boot would pay alone (6.12, 2026-12-05:
# 185 MiB/s in round 1, about 900 after).
brd_fill 0 2 3
LEN=$(dev_sectors /dev/ram0)

# klog_us PATTERN: the kernel log time of the last line matching PATTERN.
klog_us() {
	dmesg | grep -E "$1" | tail -n 1 | sed 's/^\[ *\([0-9]*\)\.\([0-9]*\)\].*/\1\2/'
}
# mibs MICROSECONDS: MiB/s of a whole disk's copy.
mibs() {
	awk -v b=$((MIB << 20)) -v t="$1" 'BEGIN { printf "%.1f", b / 1048576 / (t / 1e6) }'
}
# klog_rate START END: MiB/s from the kernel log lines matching START and
# END (RATE), or a failure when either is missing.
klog_rate() {
	local t0 t1
	t0=$(klog_us "$1")
	t1=$(klog_us "$2")
	if [ -n "$t0" ] && [ -n "$t1" ] && [ "$t1" -gt "$t0" ]; then
		RATE=$(mibs $((t1 - t0)))
	else
		t_fail "copy: no kernel log times for '$1' ($t0) and '$2' ($t1)"
	fi
}
dd_rate() {
	local t0 t1
	t0=$(now_us)
	dd if=/dev/ram2 of=/dev/ram0 bs=1M iflag=direct oflag=direct 2> /dev/null
	t1=$(now_us)
	mibs $((t1 - t0))
}

# copy_block KIND CHUNK N: one commit or mirror phase 1 of the whole disk;
# RATE is set (MiB/s), empty when the copy failed.
copy_block() {
	local kind=$1 chunk=$2 n=$3 kib=$(($2 / 2)) i view
	RATE=
	if [ $kind = commit ]; then
		dmsetup create vm --table "0 $LEN colo secondary /dev/ram0 /dev/ram1 /dev/ram2 $chunk" &&
			dmsetup mknodes vm || { t_fail "commit c$kib: table"; return; }
		i=0
		while [ $i -lt $((MIB / 16)) ]; do
			dd if=/tmp/fill of=/dev/mapper/vm bs=1M seek=$((i * 16)) oflag=direct 2> /dev/null
			i=$((i + 1))
		done
		[ "$(field vm 3)" = "$((LEN / chunk))/$((LEN / chunk))" ] ||
			t_fail "commit c$kib round $n: not every chunk active: $(field vm 3)"
		[ $n = 1 ] && view=$(direct_sum /dev/mapper/vm)
		dmsetup message vm 0 failover
		if wait_field vm 5 "done"; then
			klog_rate 'failover: primary now' 'failover commit done'
		else
			t_fail "commit c$kib round $n: $(field vm 5)"
		fi
		[ $n = 1 ] && check_eq "commit, $kib KiB chunks: base holds the VM's view" \
			"$view" "$(direct_sum /dev/ram0)"
		dmsetup remove vm
	else
		dmsetup create p --table "0 $LEN colo primary /dev/ram0 $chunk" ||
			{ t_fail "mirror c$kib: table"; return; }
		dmsetup message p 0 mirror start /dev/ram3 full
		if wait_field p 8 in-sync; then
			klog_rate 'mirror to .* started' 'mirror in sync'
		else
			t_fail "mirror c$kib round $n: $(field p 8)"
		fi
		[ $n = 1 ] && check_eq "mirror, $kib KiB chunks: replica equals base" \
			"$(direct_sum /dev/ram0)" "$(direct_sum /dev/ram3)"
		dmsetup message p 0 mirror stop
		dmsetup remove p
	fi
}

blocks=
for chunk in $COPY_CHUNKS; do
	blocks="$blocks commit:$chunk mirror1:$chunk"
done
n=1
while [ $n -le "$REPS" ]; do
	pre=$(dd_rate)
	bench "dd.$n" "$pre"
	for b in $(rotate $((n - 1)) $blocks); do
		copy_block ${b%%:*} ${b#*:} $n
		post=$(dd_rate)
		[ -n "$RATE" ] && bench "${b%%:*}.c$((${b#*:} / 2)).$n" "$RATE $pre $post"
		pre=$post
	done
	n=$((n + 1))
done
t_diag "ran the copies ($REPS rounds:$blocks)"
