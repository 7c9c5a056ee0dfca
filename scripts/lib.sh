# SPDX-License-Identifier: GPL-2.0
#
# Helpers shared by the host-side scripts. Source it; it sets $top.

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
COLO_CACHE=${DM_COLO_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dm-colo}

# The short kernel names of kernel/kernels (6.1, 6.12).
colo_kernels() {
	awk '!/^#/ && NF { print $1 }' "$top/kernel/kernels"
}

# The newest installed Debian kernel release for a short name.
colo_kver() {
	local k
	for k in $(ls /lib/modules | sort -V -r); do
		case "$k" in "$1".*-amd64|"$1"-*-amd64|"$1") ;; *) continue ;; esac
		[ -e "/boot/vmlinuz-$k" ] && { echo "$k"; return 0; }
	done
	return 1
}

# Print the path of Debian's linux-source-6.1 unpacked in the cache,
# unpacking it once (into a temporary directory, renamed when complete).
colo_linux_source() {
	local dst=$COLO_CACHE/linux-source-6.1 tmp
	if [ ! -f "$dst/.unpacked" ]; then
		mkdir -p "$COLO_CACHE"
		tmp=$(mktemp -d "$COLO_CACHE/unpack.XXXXXX")
		tar -C "$tmp" -xf /usr/src/linux-source-6.1.tar.xz
		rm -rf "$dst"
		mv "$tmp/linux-source-6.1" "$dst"
		rmdir "$tmp"
		touch "$dst/.unpacked"
	fi
	echo "$dst"
}

# The CPU model for KVM when it really works here: nested KVM may refuse
# "-cpu host" or hang without a word, so each CPU model is probed by booting
# the kernel VMLINUZ with no root for up to 15 s and waiting for its panic.
# The answer is cached in .build/. COLO_VM_ACCEL=tcg|kvm overrides the
# probe. Fails (prints nothing) when the VM must use TCG.
colo_kvm_cpu() {
	local vmlinuz=$1 cpu cache=$top/.build/kvm-cpu
	[ "${COLO_VM_ACCEL:-}" = tcg ] && return 1
	[ -r /dev/kvm ] && [ -w /dev/kvm ] || return 1
	if [ -f "$cache" ]; then
		cpu=$(cat "$cache")
		[ -n "$cpu" ] && echo "$cpu"
		[ -n "$cpu" ]
		return
	fi
	mkdir -p "$top/.build"
	for cpu in host host,-arch-capabilities; do
		if timeout 15 qemu-system-x86_64 -nodefaults -display none -no-reboot \
			-m 256 -enable-kvm -cpu "$cpu" -kernel "$vmlinuz" \
			-append "console=ttyS0 panic=-1" -serial stdio < /dev/null 2>&1 |
			grep -q 'Kernel panic'; then
			echo "$cpu" | tee "$cache"
			return 0
		fi
	done
	: > "$cache"
	return 1
}

# The test VMs' initramfs (scripts/vm.sh, scripts/crash.sh), built in steps:
#   colo_initramfs_begin ROOT INIT   a new tree at ROOT: busybox, INIT as /init
#   colo_initramfs_prog PATH [DST]   a program and the shared libraries it
#                                    needs (at the same paths)
#   colo_initramfs_modules MODDIR KVER NAME...  kernel modules with their
#                                    dependencies (modprobe -d MODDIR), in load
#                                    order in /lib/modules/load-order
#   colo_initramfs_module_file FILE  one module file (.ko, .ko.xz/zst/gz)
#   colo_initramfs_pack OUT          the cpio archive of the tree
colo_initramfs_begin() {
	colo_ir_root=$1
	rm -rf "$colo_ir_root"
	mkdir -p "$colo_ir_root"/{bin,sbin,usr/bin,usr/sbin,usr/local/bin,lib/modules,tests,proc,sys,dev,tmp,root}
	cp /bin/busybox "$colo_ir_root/bin/busybox"
	cp "$2" "$colo_ir_root/init"
	: > "$colo_ir_root/lib/modules/load-order"
}

colo_initramfs_prog() {
	local p=$1 dst=${2:-$1} lib root=$colo_ir_root
	mkdir -p "$root$(dirname "$dst")"
	cp -L "$p" "$root$dst"
	for lib in $(ldd "$p" 2>/dev/null | grep -o '/[^ ]*' || true); do
		[ -e "$root$lib" ] && continue
		mkdir -p "$root$(dirname "$lib")"
		cp -L "$lib" "$root$lib"
	done
}

colo_initramfs_module_file() {
	local f=$1 name dir=$colo_ir_root/lib/modules
	name=$(basename "$f")
	name=${name%%.ko*}
	grep -qx "$name" "$dir/load-order" && return 0
	case "$f" in
	*.ko.xz) xz -dc "$f" > "$dir/$name.ko" ;;
	*.ko.zst) zstd -qdc "$f" > "$dir/$name.ko" ;;
	*.ko.gz) gzip -dc "$f" > "$dir/$name.ko" ;;
	*) cp "$f" "$dir/$name.ko" ;;
	esac
	echo "$name" >> "$dir/load-order"
}

colo_initramfs_modules() {
	local moddir=$1 kver=$2 m kind path _
	shift 2
	for m in "$@"; do
		modprobe -d "$moddir" -S "$kver" --show-depends "$m" | while read -r kind path _; do
			if [ "$kind" = insmod ]; then colo_initramfs_module_file "$path"; fi
		done
	done
}

colo_initramfs_pack() {
	(cd "$colo_ir_root" && find . | cpio -o -H newc --quiet) > "$1"
}
