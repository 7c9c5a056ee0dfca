#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The benchmark (make bench runs it once per kernel, scripts/bench.sh turns
# its output into bench/*.md). Everything is measured in one boot, on RAM
# disks (brd), null_blk and dm-zero, so each figure has its baseline beside
# it. Nothing here asserts a timing: the "ok" lines check only that each
# set-up did what it must (copies made, mirror in sync, replica equal to
# base, commit done, every first-touch write on a clean chunk) so that a
# figure never comes from a broken configuration.
#
# Sections (tests/bench/SECTION.sh, sourced in this order; BENCH_ONLY names
# some of them, separated by commas or spaces, to run those alone):
#   secondary  the VM's I/O in secondary mode against dm-linear (and brd)
#   ingress    ingress writes (copy-before-write) against dm-snapshot
#   mirror     primary mode against dm-linear, in-sync mirror against dm-raid1
#   copy       failover commit and mirror phase 1 against dd
#   ckpt       checkpoint latency and bitmap memory (dm-zero legs)
#   meta       with and without the metadata device (null_blk)
#   resync     the guest's IOPS during phase 1, auto against a fixed rate
#   async      the guest's IOPS with no mirror, a sync and an async one, the
#              replica behind dm-delay (2 and 20 ms)
#   fleece     writes with a colo-fleece running, against none and dm-snapshot
#
# Every comparison runs in interleaved rounds: in round N each variant (the
# baseline and the colo paths) runs once, in an order that rotates from
# round to round (A B, B A, ...), so that a drift of the machine hits every
# variant alike; the report pairs each colo run with its baseline's run of
# the same round (bench-report.py). fio runs are short, and pinned to one
# vCPU (BENCH_FIO_CPU): a single-job fio that the scheduler moves between
# the vCPUs, or shares with the kernel's workers, measures the placement.
#
# Output, besides TAP:
#   # BENCH key value        one figure (a rate, a latency, a count)
#   # BENCH KEY.sys.N ctxt C busy B total T
#                            the whole VM during fio run N of KEY: context
#                            switches, busy and total CPU jiffies (all vCPUs)
#   /tmp/bench/fio/KEY.N.json  raw fio output of round N of KEY; all of
#                            /tmp/bench is sent at the end as a base64 tar
#                            between "# BENCH-TAR-BEGIN" and "# BENCH-TAR-END"
#
# Sizes: BENCH_REPS (7) rounds of every comparison; BENCH_RUNTIME (2)
# seconds per time-based fio run; BENCH_MIB (256) per RAM disk;
# BENCH_FIRST_IOS (8192) writes per 4 KiB first-touch run (at most half the
# chunks); BENCH_COPY_CHUNKS ("8 128 2048") the copy rows' chunk sizes in
# sectors; BENCH_CKPT_REPS (100) checkpoint messages per dirty count up to
# 10^4, BENCH_CKPT_BIG_REPS (20) for 10^5 and BENCH_CKPT_HUGE_REPS (5) for
# 10^6. The metadata device's rows (meta.sh) have sizes of their own,
# BENCH_META_*.
. /tests/lib.sh

REPS=${BENCH_REPS:-7}
RT=${BENCH_RUNTIME:-2}
MIB=${BENCH_MIB:-256}
FIRST_IOS=${BENCH_FIRST_IOS:-8192}
NCPU=$(grep -c '^processor' /proc/cpuinfo)
# fio's vCPU: the last one (the first takes the console's interrupts).
FIO_CPU=${BENCH_FIO_CPU:-$((NCPU - 1))}
[ "$FIO_CPU" -lt "$NCPU" ] || FIO_CPU=0
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

# rotate N WORD...: the words rotated left by N (round N+1's order).
rotate() {
	local k=$(($1 % ($# - 1)))
	shift
	while [ $k -gt 0 ]; do
		set -- "$@" "$1"
		shift
		k=$((k - 1))
	done
	echo "$@"
}

# brd_fill NR...: RAM disks NR... filled with random data (a 16 MiB
# pattern, /tmp/fill, made once), so that reads and copies move real data.
brd_fill() {
	local d i
	[ -f /tmp/fill ] || dd if=/dev/urandom of=/tmp/fill bs=1M count=16 2> /dev/null
	for d in "$@"; do
		i=0
		while [ $i -lt $((MIB / 16)) ]; do
			dd if=/tmp/fill of=/dev/ram$d bs=1M seek=$((i * 16)) 2> /dev/null
			i=$((i + 1))
		done
	done
}

# sys_stat: the VM's context switches, busy and total CPU jiffies so far.
sys_stat() {
	awk '/^cpu / { b = $2 + $3 + $4 + $7 + $8; t = b + $5 + $6 + $9 }
	     /^ctxt / { c = $2 } END { print c, b, t }' /proc/stat
}

# fio_job KEY N DEV RW BS QD [FIO-ARGS...]: run N of KEY, one fio job on
# fio's vCPU; the JSON goes to $OUT/fio/KEY.N.json, the VM's context
# switches and CPU time during it to the line KEY.sys.N.
fio_job() {
	local key=$1 n=$2 dev=$3 rw=$4 bs=$5 qd=$6 s
	shift 6
	s=$(sys_stat)
	fio --name="$key" --filename="$dev" --direct=1 --ioengine=libaio \
		--iodepth="$qd" --rw="$rw" --bs="$bs" --size=${MIB}M \
		--randrepeat=0 --cpus_allowed="$FIO_CPU" "$@" \
		--eta=never --output-format=json --output="$OUT/fio/$key.$n.json" ||
		t_fail "fio $key run $n"
	set -- $s $(sys_stat)
	bench "$key.sys.$n" "ctxt $(($4 - $1)) busy $(($5 - $2)) total $(($6 - $3))"
}

# fio_timed KEY N DEV RW BS QD: a time-based run of $RT seconds.
fio_timed() {
	fio_job "$@" --time_based --runtime="$RT"
}

# ft_iolog FILE CHUNK_BYTES COUNT SEED: an fio replay log (version 2) of
# COUNT 4 KiB writes, each at the start of a different chunk of the first
# $MIB MiB, the chunks in random order. fio's own --blockalign=<chunk>
# turns its random map off (so a chunk can be written twice in a run) and
# its LFSR generator issues nothing with it (fio 3.33); a replay log gives
# both the baseline and colo exactly the same writes.
ft_iolog() {
	awk -v c="$2" -v n="$3" -v seed="$4" -v m=$((MIB << 20)) 'BEGIN {
		srand(seed)
		nc = int(m / c)
		print "fio version 2 iolog"
		print "ft add"
		print "ft open"
		# The first n of a random permutation (a partial Fisher-Yates).
		for (i = 0; i < n; i++) {
			j = i + int(rand() * (nc - i))
			a = (i in p) ? p[i] : i
			b = (j in p) ? p[j] : j
			p[i] = b
			p[j] = a
			print "ft write", b * c, 4096
		}
		print "ft close"
	}' > "$1"
}

# fio_first KEY N DEV IOLOG: a fixed-work run replaying IOLOG on DEV at
# queue depth 16 (4 KiB random writes, each on a chunk of its own).
fio_first() {
	fio_job "$1" "$2" "$3" randwrite 4k 16 --read_iolog="$4" --replay_redirect="$3"
}

# send_home: all of /tmp/bench as a base64 tar (see above), and the end.
send_home() {
	echo "# BENCH-TAR-BEGIN"
	tar -C /tmp -cz bench | base64
	echo "# BENCH-TAR-END"
	t_done
}

t_diag "fio pinned to vCPU $FIO_CPU of $NCPU; $REPS rounds, ${RT} s time-based runs, $MIB MiB RAM disks"
bench bench.fio_cpu "$FIO_CPU $NCPU"
# The sections use global names freely (n, v, s, ...): these are BENCH_*.
for BENCH_SECTION in $(echo "${BENCH_ONLY:-secondary ingress mirror copy ckpt meta resync async fleece}" | tr , ' '); do
	if [ ! -f "/tests/bench/$BENCH_SECTION.sh" ]; then
		t_fail "no bench section $BENCH_SECTION"
		continue
	fi
	BENCH_T0=$(now_us)
	# shellcheck disable=SC1090
	. "/tests/bench/$BENCH_SECTION.sh"
	dm_cleanup
	rmmod brd 2> /dev/null
	bench "section.$BENCH_SECTION.seconds" $((($(now_us) - BENCH_T0) / 1000000))
done
send_home
