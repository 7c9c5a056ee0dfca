#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# build-module.sh KVER [make args...]: build dm-colo.ko against the Debian
# headers of kernel release KVER, in .build/KVER/ (one tree per kernel, so
# builds for 6.1 and 6.12 never share objects). Prints the module's path.
#
# COLO_MODULE_VERSION=X.Y.Z builds the same sources with another version
# (the targets' version triple and MODULE_VERSION, which the VERSION file
# gives otherwise), in .build/KVER/vX.Y.Z/: scripts/vm.sh packs one of the
# next major version for tests/83-colosetup-errors.sh, which loads it to
# see colosetup refuse a target of a major version it does not know.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
kver=$1
shift
# COLO_KDIR: a kernel build tree instead (the debug kernel, debug-kernel.sh).
kdir=${COLO_KDIR:-/lib/modules/$kver/build}
[ -d "$kdir" ] || kdir=/usr/src/linux-headers-$kver
[ -d "$kdir" ] || { echo "build-module: no headers for $kver" >&2; exit 1; }

out=$top/.build/$kver
ver=${COLO_MODULE_VERSION:-}
if [ -n "$ver" ]; then
	[[ $ver =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] ||
		{ echo "build-module: COLO_MODULE_VERSION '$ver' is not MAJOR.MINOR.PATCH" >&2; exit 1; }
	out=$out/v$ver
fi
mkdir -p "$out/dm-colo"
cp -u "$top/Kbuild" "$out/"
if [ -n "$ver" ]; then
	# Written when it changes only, as cp -u does.
	[ "$(cat "$out/VERSION" 2> /dev/null)" = "$ver" ] || echo "$ver" > "$out/VERSION"
else
	cp -u "$top/VERSION" "$out/"
fi
# Copy changed sources only, so make sees the real timestamps.
cp -u "$top"/dm-colo/*.[ch] "$top/dm-colo/Makefile" "$top/dm-colo/Kconfig" "$out/dm-colo/"
for f in "$out"/dm-colo/*.[ch]; do
	[ -e "$top/dm-colo/$(basename "$f")" ] || rm -f "$f"
done
make -s -C "$kdir" M="$out" "$@" modules >&2
echo "$out/dm-colo/dm-colo.ko"
