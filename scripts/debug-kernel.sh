#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# debug-kernel.sh: build the debug kernel of the VM tests (lockdep, KASAN,
# the atomic-sleep checks, kmemleak, debug objects and lists, UBSAN, lockup
# and hung-task detectors, fault injection) from Debian's linux-source-6.1,
# with kernel/debug.config merged onto "make tinyconfig". Prints the build
# directory; its kernel is arch/x86/boot/bzImage, its modules are installed
# under mods/, and "make M=" builds external modules against it.
#
# The build lives in the cache (${DM_COLO_CACHE:-~/.cache/dm-colo}/
# debug-build-6.1, beside the KUnit build, sharing the unpacked source) and
# is only redone when kernel/debug.config or the source package changes.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

tarball=/usr/src/linux-source-6.1.tar.xz
[ -f "$tarball" ] || { echo "debug-kernel: $tarball is missing (scripts/deps.sh)" >&2; exit 1; }
mkdir -p "$COLO_CACHE"
build=$COLO_CACHE/debug-build-6.1
fragment=$top/kernel/debug.config

# One build at a time, and not while KUnit uses the shared source tree.
exec 9>"$COLO_CACHE/.kunit.lock"
flock 9

src=$(colo_linux_source)
stamp="$(stat -c '%s %Y' "$tarball") $(sha256sum < "$fragment")"
if [ -f "$build/.done" ] && [ "$(cat "$build/.done")" = "$stamp" ]; then
	echo "$build"
	exit 0
fi

echo "# debug-kernel: building in $build (cold: about 5 minutes on 2 cores)" >&2
start=$(date +%s)
rm -rf "$build"
mkdir -p "$build"
mk() { make -s -C "$src" O="$build" ARCH=x86_64 "$@" >&2; }
mk tinyconfig
"$src/scripts/kconfig/merge_config.sh" -m -O "$build" "$build/.config" "$fragment" > /dev/null
mk olddefconfig

# Every option of the fragment must have come out as written.
bad=0
while read -r line; do
	case "$line" in
	CONFIG_*=*) want=$line ;;
	"# CONFIG_"*" is not set") want=$line ;;
	*) continue ;;
	esac
	opt=${want#\# }
	opt=${opt%%[= ]*}
	if ! grep -qx -- "$want" "$build/.config"; then
		echo "debug-kernel: $opt: wanted '$want', got '$(grep -E "^$opt=|^# $opt is not set" "$build/.config" || echo unset)'" >&2
		bad=1
	fi
done < "$fragment"
[ "$bad" = 0 ] || exit 1

mk -j"$(nproc)" bzImage modules
mk INSTALL_MOD_PATH="$build/mods" INSTALL_MOD_STRIP=1 modules_install
echo "# debug-kernel: built in $(( $(date +%s) - start ))s" >&2
echo "$stamp" > "$build/.done"
echo "$build"
