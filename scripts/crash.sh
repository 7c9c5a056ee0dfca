#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# crash.sh: host-crash tests of the metadata device (SPEC.md, Durability).
#
#   scripts/crash.sh --kernel 6.1|6.12 --points N [--seed S] [--jobs J]
#                    [--window-a MS] [--window-b MS]
#
# QEMU is killed (SIGKILL) at a random moment of a workload, over virtio
# disks that are files on the host and outlive it; the next boot loads the
# same table again and checks what the crash left. One boot is one crash
# point: it checks the previous point's disks, then starts the next
# workload, prints CRASH-READY, and the host kills it 0 to --window-a/-b ms
# later (2500/1500; one a-point in five 0 to 200 ms, during the failover
# message). The workloads alternate (tests/crash-guest.sh):
#   a  a secondary with metadata: VM and ingress writes, a checkpoint, then
#      (in the window) a failover and VM writes, FUA writes and flushes
#      while the commit runs over a base slowed by dm-delay
#   b  a primary with metadata mirrored in sync, with a persistent fleece
#      of half of base: VM writes, FUA writes, flushes and pauses
# and the checks: the mode (primary after a completed failover), the commit
# resumes and finishes, every sector as the durability rule allows
# (tests/src/colo-crash.c), and for b the fleece re-attached with its view
# as at its start (the chunks released and flushed before the run still
# released), and a dirty resync accepted that makes the replica
# equal to base. N points take N + 1 boots. --jobs J (default: the
# host's CPUs, at most 8; COLO_CRASH_JOBS) splits them between J chains that run at once, with
# seeds S, S+1, ...; a chain is replayed alone with --jobs 1.
#
# What a kill is: a process crash. Every write the guest saw complete is in
# the disk file (the host's page cache outlives QEMU), the writes in flight
# at the kill may or may not have landed, in part or whole. The disks use
# cache=unsafe: the guest sees a volatile write cache, so its flushes pass
# through the whole dm stack, and the host has nothing to flush. Lost
# unflushed writes (a power loss) are tests/87-powerloss.sh's (dm-log-writes)
# part, not this one's.
#
# Each point is a TAP line; a failure shows the guest's output, the seed and
# the kill delay; the consoles of failed points are kept in
# .build/<kver>/crash-logs/. The last line is "crash-<kernel>: N passed, N failed".
set -euo pipefail
. "$(dirname "$0")/lib.sh"

kernel=6.1
points=50
seed=${COLO_CRASH_SEED:-}
win_a=2500
win_b=1500
timeout=300	# one boot until CRASH-READY (or the end of the last check)
jobs=${COLO_CRASH_JOBS:-$(nproc)}
[ "$jobs" -le 8 ] || jobs=8
chain=		# set in the chains that a run with --jobs starts
while [ $# -gt 0 ]; do
	case "$1" in
	--kernel) kernel=$2; shift 2 ;;
	--points) points=$2; shift 2 ;;
	--seed) seed=$2; shift 2 ;;
	--jobs) jobs=$2; shift 2 ;;
	--chain) chain=$2; shift 2 ;;
	--window-a) win_a=$2; shift 2 ;;
	--window-b) win_b=$2; shift 2 ;;
	-h|--help) awk 'NR > 3 && !/^#/ { exit } NR > 3 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
	*) echo "crash.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done
seed=${seed:-$(( $(date +%s) % 100000 ))}
tag=crash-$kernel
kver=$(colo_kver "$kernel") || { echo "crash.sh: kernel $kernel is not installed (scripts/deps.sh)" >&2; exit 1; }
vmlinuz=/boot/vmlinuz-$kver

out=$top/.build/$kver
initrd=$out/crash-initramfs.cpio
image=$out/vmlinux

# --- build (once, before the chains) ---------------------------------------
if [ -z "$chain" ]; then
ko=$("$top/scripts/build-module.sh" "$kver")
make -s -C "$top/userspace" >&2
make -s -C "$top/tests/src" >&2
root=$out/crash-initramfs
colo_initramfs_begin "$root" "$top/kernel/vm-init"
colo_initramfs_prog /sbin/dmsetup
colo_initramfs_prog "$top/tests/bin/colo-crash" /usr/local/bin/colo-crash
colo_initramfs_prog "$top/tests/bin/colo-open" /usr/local/bin/colo-open
colo_initramfs_modules / "$kver" dm-mod dm-delay virtio_pci virtio_blk \
	$(modinfo -F depends "$ko" | tr , ' ')
colo_initramfs_module_file "$ko"
cp "$top/tests/lib.sh" "$top/tests/crash-guest.sh" "$root/tests/"
echo crash-guest.sh > "$root/tests/run-list"
colo_initramfs_pack "$initrd"

# The kernel as an ELF image (PVH boot): under TCG, decompressing the
# bzImage costs seconds at every boot. Cached; the bzImage when it fails.
kernel_image() {
	local elf=$out/vmlinux off
	if [ ! -s "$elf" ] || [ "$elf" -ot "$vmlinuz" ]; then
		rm -f "$elf"
		off=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$vmlinuz" | head -n 1 | cut -d: -f1)
		if [ -n "$off" ]; then
			tail -c +$((off + 1)) "$vmlinuz" | xz -dc --single-stream > "$elf.tmp" 2>/dev/null || true
		else
			off=$(LC_ALL=C grep -obUaP '\x28\xb5\x2f\xfd' "$vmlinuz" | head -n 1 | cut -d: -f1)
			[ -n "$off" ] && { tail -c +$((off + 1)) "$vmlinuz" | zstd -qdc > "$elf.tmp" 2>/dev/null || true; }
		fi
		if [ -s "$elf.tmp" ] && [ "$(head -c 4 "$elf.tmp" | od -An -c | tr -d ' ')" = 177ELF ]; then
			mv "$elf.tmp" "$elf"
		else
			rm -f "$elf.tmp"
		fi
	fi
	if [ -s "$elf" ]; then echo "$elf"; else echo "$vmlinuz"; fi
}
image=$(kernel_image)
echo "$image" > "$out/crash-image"

# --- chains ----------------------------------------------------------------
# A VM is one busy host thread (one virtual CPU, below) that also waits
# (the kill window, dm-delay): with two host cores, two chains of points (each
# its own disk, seed S and S+1, ...) run at once nearly double the points
# an hour. The points are split between them; each chain's
# output is shown when it ends, numbered on.
if [ "$jobs" -gt 1 ] && [ "$points" -ge "$jobs" ]; then
	echo "# $tag: $points points in $jobs chains, seeds $seed..$((seed + jobs - 1))" >&2
	start=$(date +%s)
	pids=()
	for ((i = 1; i <= jobs; i++)); do
		n=$(( points / jobs + (i <= points % jobs ? 1 : 0) ))
		"$0" --kernel "$kernel" --points "$n" --seed $((seed + i - 1)) \
			--window-a "$win_a" --window-b "$win_b" --chain "$i" \
			> "$out/crash-chain-$i.log" 2>&1 &
		pids+=($!)
	done
	for p in "${pids[@]}"; do wait "$p" || true; done
	pass=0 fail=0
	for ((i = 1; i <= jobs; i++)); do
		while IFS= read -r line; do
			case "$line" in
			"ok "*|"not ok "*)
				ok=${line%% [0-9]*}
				rest=${line#"$ok" }
				rest=${rest#* }
				if [ "$ok" = ok ]; then pass=$((pass + 1)); else fail=$((fail + 1)); fi
				echo "$ok $((pass + fail)) $rest" ;;
			"$tag: "*" passed, "*) ;;
			*) echo "$line" ;;
			esac
		done < "$out/crash-chain-$i.log"
		grep -q "^$tag: [0-9]* passed" "$out/crash-chain-$i.log" || {
			fail=$((fail + 1))
			echo "not ok $((pass + fail)) - $tag: chain $i ended without its count"
		}
	done
	echo "# $tag: $points points in $(( $(date +%s) - start ))s" >&2
	echo "$tag: $pass passed, $fail failed"
	[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
	exit
fi
else
	image=$(cat "$out/crash-image")
fi

# --- disks -----------------------------------------------------------------
# Sparse files in a tmpfs when there is one (nothing reaches a disk).
dir=${COLO_CRASH_DIR:-}
if [ -n "$dir" ] && [ -n "$chain" ]; then
	dir=$dir/chain-$chain
	mkdir -p "$dir"
fi
if [ -z "$dir" ]; then
	if [ -d /dev/shm ] && [ -w /dev/shm ]; then
		dir=$(mktemp -d /dev/shm/dm-colo-crash.XXXXXX)
	else
		mkdir -p "$out"
		dir=$(mktemp -d "$out/crash-disks.XXXXXX")
	fi
fi
qpid=
cleanup() {
	[ -n "$qpid" ] && kill -9 "$qpid" 2>/dev/null
	[ -z "${COLO_CRASH_DIR:-}" ] && rm -rf "$dir"
	return 0
}
trap cleanup EXIT
# One disk for both sets (the guest's dm-linear slices, tests/crash-guest.sh):
# set a in its first 32 MiB, set b in the next; each base is 8 MiB.
img=$dir/crash.img
truncate -s 64M "$img"
"$top/tests/bin/colo-crash" init "$dir/template" $((8 * 2048))
# fresh SET: lay out a set anew: zeroes (a hole), then base's stamp-0 data.
fresh() {
	local off=0
	[ "$1" = b ] && off=32
	fallocate -p -o "${off}MiB" -l 32MiB "$img"
	dd if="$dir/template" of="$img" bs=1M seek="$off" conv=notrunc status=none
}
fresh a
fresh b

# One virtual CPU: what a point tests is what the disks hold at a random
# moment, which the kill's timing draws; races between CPUs are the model
# checker's part (20-fsx, 55-fsx-failover, 65-fsx-mirror run on two). With
# two, TCG now and then broke the boot itself on a loaded host, before
# dm-colo was loaded: multi-threaded TCG an Oops on int3 in kernel text
# patched for a static key (a CPU running a stale translation of code the
# other had just patched), single-threaded TCG an RCU stall of a minute
# with one CPU waiting in smp_call_function_many_cond() for the other.
qemu=(qemu-system-x86_64 -nodefaults -display none -no-reboot -m 512 -smp 1
      -kernel "$image" -initrd "$initrd")
if cpu=$(colo_kvm_cpu "$vmlinuz"); then
	qemu+=(-enable-kvm -cpu "$cpu")
	accel=kvm
else
	qemu+=(-accel tcg -cpu max)
	accel=tcg
fi
qemu+=(-drive "id=crash,file=$img,format=raw,if=none,cache=unsafe,aio=threads"
       -device virtio-blk-pci,drive=crash,serial=crash)

logdir=$out/crash-logs
mkdir -p "$logdir"
bad='BUG:|WARNING:|Oops|Kernel panic|general protection fault|blocked for more than|UBSAN:|KASAN:|kernel BUG|Call Trace:|RIP:'

# boot CHECK RUN DELAY_MS: one boot; its serial output in $boot_out, its
# console in $boot_con; ready=1 when CRASH-READY came (then killed DELAY_MS
# later), timed_out=1 when it did not end by itself nor become ready in time.
boot_out=$dir/serial.log
boot_con=$dir/console.log
boot() {
	# cryptomgr.notests: the crypto self-tests cost most of a second of
	# TCG at every boot. no_timer_check: on a loaded host a TCG boot
	# now and then panicked in the IO-APIC timer check ("IO-APIC + timer
	# doesn't work!").
	local append="console=ttyS0 panic=-1 loglevel=5 cryptomgr.notests=1 no_timer_check"
	append+=" colo.crash_check=$1 colo.crash_run=$2"
	local fifo=$dir/fifo line deadline now left
	rm -f "$fifo" "$boot_out" "$boot_con"
	mkfifo "$fifo"
	ready=0 timed_out=0
	"${qemu[@]}" -append "$append" -serial "file:$boot_con" -serial stdio \
		< /dev/null > "$fifo" 2> "$dir/qemu.err" &
	qpid=$!
	exec 3< "$fifo"
	deadline=$(( $(date +%s) + timeout ))
	while :; do
		now=$(date +%s)
		left=$(( deadline - now ))
		if [ "$ready" = 0 ] && [ "$left" -le 0 ]; then
			timed_out=1
			kill -9 "$qpid" 2>/dev/null
		fi
		[ "$left" -gt 0 ] || left=5
		IFS= read -r -t "$left" line <&3 || { [ $? -gt 128 ] && continue; break; }
		line=${line%$'\r'}
		echo "$line" >> "$boot_out"
		case "$line" in
		CRASH-READY*)
			ready=1
			sleep "$(printf '%d.%03d' $(($3 / 1000)) $(($3 % 1000)))"
			kill -9 "$qpid" 2>/dev/null ;;
		esac
	done
	exec 3<&-
	wait "$qpid" 2>/dev/null || true
	qpid=
	touch "$boot_out" "$boot_con"
}

# at_kill SET: what the set's metadata said at the kill (colosetup metadata
# dump on the host, of a copy of the slice).
at_kill() {
	local off=24 j
	[ "$1" = b ] && off=56
	dd if="$img" of="$dir/meta" bs=1M skip="$off" count=1 status=none
	j=$("$top/userspace/colosetup" metadata dump "$dir/meta" --json 2>&1) ||
		{ echo "metadata: $j"; return; }
	js() { sed -n "s/.*\"$1\":\"\{0,1\}\([^\",]*\).*/\1/p" <<< "$j"; }
	if [ "$(js mode)" = secondary ]; then
		echo "secondary"
	elif [ "$1" = a ]; then
		if [ "$(js commit)" = running ]; then
			echo "primary, commit running ($(js active_chunks)+$(js hidden_chunks) of $(js to_commit) chunks to go)"
		else
			echo "primary, commit $(js commit) ($(js to_commit) chunks)"
		fi
	else
		echo "primary, $(js regions_marked) regions marked, coverage $(js dirty_coverage)"
	fi
}

# The console's problems before (part 1) or after (part 2) the run's marker.
con_part() {
	if [ "$1" = 1 ]; then
		sed '/crash-guest: run/,$d' "$boot_con"
	else
		sed -n '/crash-guest: run/,$p' "$boot_con"
	fi
}

RANDOM=$seed
# rnd N: a number below N in $r (not in a subshell: $RANDOM's sequence).
rnd() { r=$(( (RANDOM * 32768 + RANDOM) % $1 )); }
echo "# $tag: $points points, seed $seed, $kver ($accel), disks in $dir" >&2
echo "# replay: scripts/crash.sh --kernel $kernel --points $points --seed $seed --jobs 1" >&2
pass=0 fail=0
prev=		# the previous point: "SET,SEED", if it is to be checked
prev_desc=
prev_bad=	# what already failed the previous point
start=$(date +%s)
boot_total=0
for ((k = 1; k <= points + 1; k++)); do
	run= delay=0 desc=
	if [ "$k" -le "$points" ]; then
		if [ $((k % 2)) = 1 ]; then set=a; w=$win_a; else set=b; w=$win_b; fi
		rnd 1000000000; s=$r
		rnd $((w + 1)); delay=$r
		# One a-point in five is killed in the first 200 ms: during the
		# failover message itself (maps, marks, superblock) or just after.
		[ "$set" = a ] && rnd 5 && [ "$r" = 0 ] && rnd 201 && delay=$r
		run=$set,$s
		desc="point $k ($set, seed $s, killed ${delay} ms after ready)"
		fresh "$set"
	fi
	t0=$(date +%s%N)
	boot "$prev" "$run" "$delay"
	t1=$(date +%s%N)
	boot_total=$((boot_total + (t1 - t0) / 1000000))
	echo "# boot $k: $(( (t1 - t0) / 1000000 )) ms" >&2
	[ -n "${COLO_CRASH_VERBOSE:-}" ] && sed 's/^/#> /' "$boot_out" >&2
	tapl=$(sed '/^CRASH-READY/,$d' "$boot_out")
	# The previous point: its check in this boot.
	if [ -n "$prev" ]; then
		why=$prev_bad
		grep -q '^not ok' <<< "$tapl" && why="${why:+$why; }the check failed"
		grep -q '^ok' <<< "$tapl" || why="${why:+$why; }no check passed"
		grep -q '^# crash-guest: checked' <<< "$tapl" ||
			why="${why:+$why; }the check did not finish"
		if con_part 1 | grep -Eq "$bad"; then
			why="${why:+$why; }kernel problem at the check"
		fi
		if [ -z "$why" ]; then
			pass=$((pass + 1))
			echo "ok $((pass + fail)) - $tag: $prev_desc: $(grep -c '^ok' <<< "$tapl") checks"
			grep -E '^# (a|b|check)' <<< "$tapl" | sed 's/^#/#  /'
		else
			fail=$((fail + 1))
			echo "not ok $((pass + fail)) - $tag: $prev_desc: $why"
			sed 's/^/#   /' < "$boot_out"
			cp "$boot_con" "$logdir/${chain:+chain-$chain-}point-$((k - 1))-check-console.log"
			con_part 1 | grep -E -m 5 -A 30 "$bad" | sed 's/^/# console: /' | head -n 60 || true
		fi
	elif [ -n "$prev_bad" ]; then
		fail=$((fail + 1))
		echo "not ok $((pass + fail)) - $tag: $prev_desc: $prev_bad"
	fi
	prev= prev_desc=$desc prev_bad=
	[ -n "$run" ] || break
	# This point's run.
	if [ "$ready" = 1 ]; then
		prev=$run
		prev_desc="$desc: $(at_kill "$set")"
		runout=$(sed -n '/^CRASH-READY/,$p' "$boot_out")
		grep -q '^not ok' <<< "$runout" && prev_bad="the run failed: $(grep -m 1 '^not ok' <<< "$runout")"
		if con_part 2 | grep -Eq "$bad"; then
			prev_bad="${prev_bad:+$prev_bad; }kernel problem in the run"
			cp "$boot_con" "$logdir/${chain:+chain-$chain-}point-$k-run-console.log"
			con_part 2 | grep -E -m 5 -A 30 "$bad" | sed 's/^/# console: /' | head -n 60 || true
		fi
	else
		# Not ready: nothing to check next time; the point fails.
		prev_bad="no CRASH-READY ($([ "$timed_out" = 1 ] && echo "timed out after ${timeout}s" || echo "the VM ended"))"
		sed 's/^/#   /' < "$boot_out"
		cp "$boot_con" "$logdir/${chain:+chain-$chain-}point-$k-run-console.log"
		fresh "$set"
	fi
done
el=$(( $(date +%s) - start ))
# The CPU time of QEMU and the host's helpers (children waited for).
times > "$dir/times"
cpu=$(tail -n 1 "$dir/times" | awk '{ split($1, u, /[ms]/); split($2, s, /[ms]/);
	printf "%.0f", (u[1] * 60 + u[2] + s[1] * 60 + s[2]) * 1000 }')
echo "# $tag: $((points + 1)) boots in ${el}s: $(( boot_total / (points + 1) )) ms a boot," \
	"$(( el * 1000 / points )) ms and $(( cpu / points )) ms of CPU a point" >&2
echo "$tag: $pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
