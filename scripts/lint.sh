#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# lint.sh: checkpatch.pl --strict on every kernel source file, and a
# sparse (C=2) W=1 build against each kernel of kernel/kernels. Each check is
# one TAP line; the last line is "lint: N passed, N failed".
set -uo pipefail
. "$(dirname "$0")/lib.sh"
cd "$top"

pass=0 fail=0
result() {
	if [ "$1" = 0 ]; then
		pass=$((pass + 1)); echo "ok $((pass + fail)) - lint: $2"
	else
		fail=$((fail + 1)); echo "not ok $((pass + fail)) - lint: $2"
		sed 's/^/#   /' <<< "$3"
	fi
}

# One version (README, Version): VERSION is MAJOR.MINOR.PATCH, and
# dkms.conf, which DKMS needs literal, says the same.
ver=$(cat VERSION)
dver=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"$/\1/p' dkms.conf)
result $(echo "$ver" | grep -Eqx '[0-9]+\.[0-9]+\.[0-9]+' && [ "$dver" = "$ver" ]; echo $?) \
	"one version: VERSION ($ver) and dkms.conf's PACKAGE_VERSION ($dver)" \
	"VERSION must be MAJOR.MINOR.PATCH and dkms.conf's PACKAGE_VERSION the same"
# debian/changelog's newest entry (the packages' version; native: no
# Debian revision) says it too.
cver=$(dpkg-parsechangelog -l debian/changelog -S Version 2>&1)
result $([ "$cver" = "$ver" ]; echo $?) \
	"one version: VERSION ($ver) and debian/changelog's ($cver)" \
	"add a debian/changelog entry for $ver (dch -v $ver)"

src=$(colo_linux_source)
# The tracked sources only (an in-tree "make module" leaves dm-colo.mod.c).
for f in $(git ls-files 'dm-colo/*.[ch]'); do
	ignore=
	# The compat header is where the version checks live, by design.
	[ "$f" = dm-colo/dm-colo-compat.h ] && ignore="--ignore LINUX_VERSION_CODE"
	out=$(perl "$src/scripts/checkpatch.pl" --no-tree --strict --terse \
		--show-types $ignore -f "$f" 2>&1 | grep -E 'ERROR|WARNING|CHECK')
	result $([ -z "$out" ]; echo $?) "checkpatch --strict $f" "$out"
done

for k in $(colo_kernels); do
	kver=$(colo_kver "$k") || { result 1 "sparse W=1 on $k" "kernel $k not installed"; continue; }
	touch dm-colo/*.c
	out=$(scripts/build-module.sh "$kver" C=2 W=1 2>&1 >/dev/null)
	rc=$?
	bad=$(grep -E 'warning:|error:|Error ' <<< "$out")
	result $([ $rc = 0 ] && [ -z "$bad" ]; echo $?) "sparse C=2 W=1 build on $kver" "$bad"
done

echo "lint: $pass passed, $fail failed"
[ "$fail" = 0 ]
