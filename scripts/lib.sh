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
