#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# vm.sh: run dm-colo's in-VM tests (or a shell) under one Debian kernel.
#
#   scripts/vm.sh --kernel 6.1|6.12|debug [--timeout SEC] [--mem MIB]
#                 [--append ARGS] [TEST...]
#   scripts/vm.sh --kernel 6.1|6.12|debug --shell
#
# --kernel debug boots the debug kernel of scripts/debug-kernel.sh (built
# once, cached): lockdep, KASAN, kmemleak, UBSAN and the rest, with fault
# injection. Its default tests are the debug lane (tests/debug-list, at the
# sizes set there), and a problem any of them reports fails the run.
#
# It builds dm-colo.ko and the userspace programs for the kernel, packs an
# initramfs (busybox, dmsetup, fio, udevd, lvm, blkid, the programs and udev
# rules, dm-colo.ko and the modules of kernel/modules with their
# dependencies, dm-colo.ko built as the next major version in
# /lib/modules/other-version/ for 83-colosetup-errors, tests/), boots it
# under QEMU (KVM when /dev/kvm is usable, else TCG), streams the tests' TAP
# output and fails on a failed test, a kernel BUG/WARNING/oops/hung task, or
# a VM that does not finish. TEST names are files in tests/ (default: tests/[0-9]*.sh).
# The last line is "vm-<kernel>: N passed, N failed". --append adds ARGS to
# the kernel command line (make bench's init_on_alloc=0 boot).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

kernel=6.1
timeout=${COLO_VM_TIMEOUT:-}	# the whole VM run; make soak raises it
mem=2048
shell=0
tests=()
extra=
while [ $# -gt 0 ]; do
	case "$1" in
	--kernel) kernel=$2; shift 2 ;;
	--timeout) timeout=$2; shift 2 ;;
	--mem) mem=$2; shift 2 ;;
	--shell) shell=1; shift ;;
	--append) extra=$2; shift 2 ;;
	-h|--help) sed -n '4,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	-*) echo "vm.sh: unknown option $1" >&2; exit 2 ;;
	*) tests+=("$1"); shift ;;
	esac
done

moddir=/
if [ "$kernel" = debug ]; then
	dbg=$("$top/scripts/debug-kernel.sh")
	kver=$(cat "$dbg/include/config/kernel.release")
	vmlinuz=$dbg/arch/x86/boot/bzImage
	moddir=$dbg/mods
	export COLO_KDIR=$dbg
	mem=3072	# KASAN's shadow and kmemleak's pool
	timeout=${timeout:-2400}
else
	kver=$(colo_kver "$kernel") || { echo "vm.sh: kernel $kernel is not installed (scripts/deps.sh)" >&2; exit 1; }
	vmlinuz=/boot/vmlinuz-$kver
fi
tag=vm-$kernel
timeout=${timeout:-900}

# --- build -----------------------------------------------------------------
ko=$("$top/scripts/build-module.sh" "$kver")
# The same module of the next major version, which colosetup must refuse
# (tests/83-colosetup-errors.sh loads it in place of dm-colo.ko).
read -r version < "$top/VERSION"
other_version=$(( ${version%%.*} + 1 )).0.0
ko_other=$(COLO_MODULE_VERSION=$other_version "$top/scripts/build-module.sh" "$kver")
make -s -C "$top/userspace" >&2
[ -f "$top/tests/src/Makefile" ] && make -s -C "$top/tests/src" >&2

# --- initramfs -------------------------------------------------------------
# (scripts/lib.sh: colo_initramfs_*, shared with scripts/crash.sh)
root=$top/.build/$kver/initramfs
colo_initramfs_begin "$root" "$top/kernel/vm-init"
colo_initramfs_prog /sbin/dmsetup
colo_initramfs_prog /usr/bin/fio
for p in nbd-server nbd-client qemu-nbd jq setpriv; do
	path=$(command -v "$p" 2>/dev/null || true)
	[ -n "$path" ] && colo_initramfs_prog "$path"
done
# udev, LVM and blkid for tests/88-udev.sh, the one test that starts
# udevd (the others run without udev, as the VM boots). The VM's /lib is not
# merged with /usr/lib: udevd reads rules from /usr/lib/udev/rules.d and runs
# helpers from /lib/udev, a link to /usr/lib/udev here as on Debian 12.
for p in /lib/systemd/systemd-udevd /bin/udevadm /sbin/lvm /sbin/blkid; do
	[ -e "$p" ] && colo_initramfs_prog "$p"
done
mkdir -p "$root/usr/lib/udev/rules.d"
ln -s ../usr/lib/udev "$root/lib/udev"
for r in 55-dm.rules 56-lvm.rules 60-persistent-storage.rules \
	 60-persistent-storage-dm.rules 69-lvm.rules 95-dm-notify.rules; do
	[ -f "/lib/udev/rules.d/$r" ] && cp "/lib/udev/rules.d/$r" "$root/usr/lib/udev/rules.d/"
done
make -s -C "$top/userspace" install-udev DESTDIR="$root" UDEVDIR=/usr/lib/udev \
	DATADIR=/usr/share >&2
for p in "$top"/userspace/colosetup "$top"/tests/bin/*; do
	[ -x "$p" ] && [ -f "$p" ] && colo_initramfs_prog "$p" "/usr/local/bin/$(basename "$p")"
done

# Modules, decompressed, in load order (dependencies first).
colo_initramfs_modules "$moddir" "$kver" $(grep -v '^#' "$top/kernel/modules") \
	$(modinfo -F depends "$ko" | tr , ' ')
colo_initramfs_module_file "$ko"
mkdir -p "$root/lib/modules/other-version"
cp "$ko_other" "$root/lib/modules/other-version/dm-colo.ko"

# Tests.
cp "$top"/tests/*.sh "$root/tests/"
# Measurements (reported, never asserted) run only when named.
cp -r "$top/tests/bench" "$root/tests/"
if [ ${#tests[@]} -eq 0 ] && [ "$kernel" = debug ]; then
	# The debug lane: its tests, and its sizes (NAME=VALUE lines) where the
	# environment sets none (make soak does); soak:NAME lines only when
	# COLO_SOAK is set (make soak sets it).
	while read -r w _; do
		case "$w" in
		''|\#*) ;;
		*=*) n=${w%%=*}; [ -n "${!n:-}" ] || export "${w?}" ;;
		soak:*) [ -z "${COLO_SOAK:-}" ] || tests+=("${w#soak:}") ;;
		*) tests+=("$w") ;;
		esac
	done < "$top/tests/debug-list"
fi
if [ ${#tests[@]} -eq 0 ]; then
	# A release kernel's lane: every numbered test, but those that
	# tests/soak-only keeps for make soak (COLO_SOAK) on this kernel.
	for t in "$top"/tests/[0-9]*.sh; do
		t=$(basename "$t")
		[ -z "${COLO_SOAK:-}" ] &&
			grep -qx "$kernel $t" "$top/tests/soak-only" && continue
		tests+=("$t")
	done
fi
for t in "${tests[@]}"; do
	[ -f "$top/tests/$t" ] || { echo "vm.sh: no test tests/$t" >&2; exit 2; }
done
printf '%s\n' "${tests[@]}" > "$root/tests/run-list"
# Test sizes and seeds (FSX_*, FIO_*, COLO_T_*, BENCH_*) reach the tests through
# /tests/env, which tests/lib.sh reads.
env | grep -E '^(FSX|FIO|COLO_T|BENCH)_[A-Z_]*=' | sed "s/=\(.*\)/='\1'/; s/^/export /" > "$root/tests/env" || true

initrd=$top/.build/$kver/initramfs.cpio
colo_initramfs_pack "$initrd"

# --- boot ------------------------------------------------------------------
qemu=(qemu-system-x86_64 -nodefaults -display none -no-reboot
      -m "$mem" -smp 2 -kernel "$vmlinuz" -initrd "$initrd")
# KVM when it really works here (colo_kvm_cpu in scripts/lib.sh), else TCG.
if cpu=$(colo_kvm_cpu "$vmlinuz"); then
	qemu+=(-enable-kvm -cpu "$cpu")
	accel=kvm
else
	qemu+=(-accel tcg,thread=multi -cpu max)
	accel=tcg
fi
append="console=ttyS0 panic=-1${extra:+ $extra}"

if [ "$shell" = 1 ]; then
	exec "${qemu[@]}" -append "$append colo.shell=1" -serial mon:stdio -serial null
fi

logdir=$top/.build/$kver/logs
mkdir -p "$logdir"
console=$logdir/console.log
tap=$logdir/tap.log
echo "# $tag: booting $kver ($accel)${extra:+ with $extra}, tests: ${tests[*]}" >&2
start=$(date +%s)
set +e
timeout --foreground -k 10 "$timeout" "${qemu[@]}" -append "$append" \
	-serial "file:$console" -serial stdio < /dev/null | tr -d '\r' | tee "$tap"
qrc=${PIPESTATUS[0]}
set -e
echo "# $tag: VM ran $(( $(date +%s) - start ))s" >&2

pass=$(grep -c '^ok ' "$tap" || true)
fail=$(grep -c '^not ok ' "$tap" || true)
problems=()
if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
	problems+=("VM did not finish within ${timeout}s")
elif ! grep -q '^DM-COLO-VM-DONE' "$tap"; then
	problems+=("VM stopped before the tests finished (qemu exit $qrc)")
fi
bad='BUG:|WARNING:|Oops|Kernel panic|general protection fault|blocked for more than|UBSAN:|KASAN:|kernel BUG|Call Trace:|RIP:'
reported=
if grep -Eq "$bad" "$console"; then
	problems+=("kernel reported a problem (see $console)")
	reported=1
fi
for p in "${problems[@]+"${problems[@]}"}"; do
	echo "not ok - $tag: $p"
	fail=$((fail + 1))
done
# The console after the list, so that check.sh's digest of the failures
# shows it: the first problem the kernel reported, else how the VM ended.
if [ -n "$reported" ]; then
	grep -E -m 20 -A 30 "$bad" "$console" | sed 's/^/# console: /' | head -n 80
elif [ ${#problems[@]} -gt 0 ]; then
	tail -n 30 "$console" | sed 's/^/# console: /'
fi
echo "$tag: $pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
