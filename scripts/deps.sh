#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# deps.sh: install the Debian packages dm-colo needs, only those missing.
# With --list, print the package list and exit.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)

pkgs=(
	# build
	make gcc libc6-dev kmod libdevmapper-dev
	# kernels to build against and boot (kernel/kernels)
	$(awk '!/^#/ && NF { print $2, $3 }' "$top/kernel/kernels")
	# the test VM
	qemu-system-x86 busybox-static dmsetup fio cpio xz-utils
	nbd-client nbd-server qemu-utils jq
	# tests/88-udev.sh: udevd and its rules, LVM (pvcreate, pvs, its rules)
	udev lvm2
	# userspace/test-units.sh: systemd-analyze verify on the units
	systemd
	# the host-crash tests (scripts/crash.sh): 6.12's kernel image is zstd
	zstd
	# KUnit under UML, checkpatch.pl, sparse
	linux-source-6.1 flex bison bc python3 perl sparse
	# the debug kernel (scripts/debug-kernel.sh): objtool; scripts/check.sh
	# builds it in the background and stops it with its children (pgrep)
	libelf-dev procps
	# DKMS packaging
	dkms
	# make deb and scripts/deb-check.sh (dh-dkms: dh_dkms, a package of its
	# own in Debian 12), the completion's test (userspace/test-completion.sh)
	build-essential debhelper dh-dkms fakeroot lintian bash-completion
)
if [ "${1:-}" = --list ]; then
	printf '%s\n' "${pkgs[@]}"
	exit 0
fi

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
		missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}" >&2
sudo=
[ "$(id -u)" = 0 ] || sudo=sudo
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
