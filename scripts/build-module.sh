#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# build-module.sh KVER [make args...]: build dm-colo.ko against the Debian
# headers of kernel release KVER, in .build/KVER/ (one tree per kernel, so
# builds for 6.1 and 6.12 never share objects). Prints the module's path.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
kver=$1
shift
# COLO_KDIR: a kernel build tree instead (the debug kernel, debug-kernel.sh).
kdir=${COLO_KDIR:-/lib/modules/$kver/build}
[ -d "$kdir" ] || kdir=/usr/src/linux-headers-$kver
[ -d "$kdir" ] || { echo "build-module: no headers for $kver" >&2; exit 1; }

out=$top/.build/$kver
mkdir -p "$out/dm-colo"
cp -u "$top/Kbuild" "$top/VERSION" "$out/"
# Copy changed sources only, so make sees the real timestamps.
cp -u "$top"/dm-colo/*.[ch] "$top/dm-colo/Makefile" "$top/dm-colo/Kconfig" "$out/dm-colo/"
for f in "$out"/dm-colo/*.[ch]; do
	[ -e "$top/dm-colo/$(basename "$f")" ] || rm -f "$f"
done
make -s -C "$kdir" M="$out" "$@" modules >&2
echo "$out/dm-colo/dm-colo.ko"
