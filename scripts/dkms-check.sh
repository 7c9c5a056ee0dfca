#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# dkms-check.sh: "dkms build" dm-colo against every kernel of kernel/kernels,
# in a private source and dkms tree (the host's /var/lib/dkms is untouched).
# The last line is "dkms: N passed, N failed".
set -uo pipefail
. "$(dirname "$0")/lib.sh"

ver=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' "$top/dkms.conf")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
src=$tmp/src/dm-colo-$ver
mkdir -p "$src" "$tmp/tree"
cp -r "$top/Kbuild" "$top/VERSION" "$top/dkms.conf" "$top/dm-colo" "$src/"
rm -f "$src"/dm-colo/*.o "$src"/dm-colo/*.ko "$src"/dm-colo/.*.cmd
opts=(--sourcetree "$tmp/src" --dkmstree "$tmp/tree")

pass=0 fail=0
dkms add -m dm-colo -v "$ver" "${opts[@]}" > "$tmp/add.log" 2>&1 ||
	{ cat "$tmp/add.log"; echo "dkms: 0 passed, 1 failed"; exit 1; }
for k in $(colo_kernels); do
	kver=$(colo_kver "$k") || { fail=$((fail + 1)); echo "not ok - dkms: kernel $k not installed"; continue; }
	if dkms build -m dm-colo -v "$ver" -k "$kver" "${opts[@]}" > "$tmp/build.log" 2>&1 &&
		ls "$tmp"/tree/dm-colo/"$ver"/"$kver"/*/module/dm-colo.ko* > /dev/null 2>&1; then
		pass=$((pass + 1)); echo "ok $((pass + fail)) - dkms build for $kver"
	else
		fail=$((fail + 1)); echo "not ok $((pass + fail)) - dkms build for $kver"
		sed 's/^/#   /' "$tmp/build.log" | tail -n 30
	fi
done
echo "dkms: $pass passed, $fail failed"
[ "$fail" = 0 ]
