#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# test-udev: the udev part on the host, without udev: colo-leg-id against
# a made-up sysfs, the rules file's labels, and make install-udev.
# TAP, then "udev: N passed, N failed".
here=$(cd "$(dirname "$0")" && pwd)
. "$here/test-tap.sh"

t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
sys=$t/sys
holder() { # holder MAJ:MIN DM-N UUID NAME
	mkdir -p "$sys/dev/block/$1/holders/$2/dm"
	echo "$3" > "$sys/dev/block/$1/holders/$2/dm/uuid"
	echo "$4" > "$sys/dev/block/$1/holders/$2/dm/name"
}
leg() { COLO_SYSFS=$sys sh "$here/udev/colo-leg-id" "$@"; }
id=0123456789abcdef0123456789abcdef

mkdir -p "$sys/dev/block/7:9/holders"
eq "no holder: nothing" "" "$(leg 7 9)"
eq "no such device: nothing" "" "$(leg 7 99)"
holder 7:1 dm-0 "LVM-abc" "vg-lv"
eq "a non-COLO holder: nothing" "" "$(leg 7 1)"
holder 7:2 dm-3 "COLO-DEV-$id" "vm"
eq "held by a colo device" "COLO_HOLDER=COLO-DEV-$id
COLO_HOLDER_NAME=vm" "$(leg 7 2)"
holder 7:3 dm-1 "COLO-INGRESS-$id" "vm-ingress"
holder 7:3 dm-2 "COLO-DEV-$id" "vm"
eq "base held by colo device and ingress: the colo device" "COLO_HOLDER=COLO-DEV-$id
COLO_HOLDER_NAME=vm" "$(leg 7 3)"
holder 7:4 dm-5 "COLO-INGRESS-$id" "vm-ingress"
eq "held by an ingress only" "COLO_HOLDER=COLO-INGRESS-$id
COLO_HOLDER_NAME=vm-ingress" "$(leg 7 4)"
holder 7:6 dm-8 "COLO-FLEECE-$id" "vm-fleece"
eq "a fleece's buffer: a leg" "COLO_HOLDER=COLO-FLEECE-$id
COLO_HOLDER_NAME=vm-fleece" "$(leg 7 6)"
grep -q '^ENV{DM_UUID}=="COLO-FLEECE-?\*", GOTO="colo_private"$' "$here/udev/57-dm-colo.rules"
ok $? "rules: a fleece is private, as an ingress"
grep -q 'r|^/dev/disk/by-id/dm-uuid-COLO-FLEECE-|' "$here/udev/lvm-global-filter.conf"
ok $? "lvm filter: the fleece's dm-uuid link"
mkdir -p "$sys/dev/block/7:5/holders/dm-6"
eq "a holder without dm/uuid: nothing" "" "$(leg 7 5)"
# A partition: /sys/dev/block/8:17 is a link into its disk's directory.
mkdir -p "$sys/devices/sdb/sdb1/holders" "$sys/devices/sdb/holders/dm-7/dm"
echo "COLO-DEV-$id" > "$sys/devices/sdb/holders/dm-7/dm/uuid"
echo vm > "$sys/devices/sdb/holders/dm-7/dm/name"
ln -s ../../devices/sdb/sdb1 "$sys/dev/block/8:17"
eq "a partition of a whole-disk leg" "COLO_HOLDER=COLO-DEV-$id
COLO_HOLDER_NAME=vm" "$(leg 8 17)"
leg 7 > "$t/out" 2>&1
ok $([ $? = 2 ] && grep -q '^usage: colo-leg-id MAJOR MINOR$' "$t/out"; echo $?) \
	"one argument: usage, exit 2" "$(cat "$t/out")"

# Every GOTO of the rules has its LABEL, each LABEL once.
r=$here/udev/57-dm-colo.rules
gotos=$(grep -o 'GOTO="[a-z_]*"' "$r" | sed 's/GOTO="\(.*\)"/\1/' | sort -u)
labels=$(grep -o 'LABEL="[a-z_]*"' "$r" | sed 's/LABEL="\(.*\)"/\1/' | sort)
eq "rules: labels unique" "$(echo "$labels" | sort -u)" "$labels"
missing=
for g in $gotos; do echo "$labels" | grep -qx "$g" || missing="$missing $g"; done
eq "rules: every GOTO has its LABEL" "" "$missing"
bad=$(grep -v '^#' "$r" | grep -v '^$' | grep -Ev '^(SUBSYSTEM|ACTION|KERNEL|ENV|LABEL|GOTO|IMPORT|SYMLINK|OPTIONS)' || true)
eq "rules: only known keys start a line" "" "$bad"

make -s -C "$here" install-udev DESTDIR="$t/root" UDEVDIR=/lib/udev DATADIR=/usr/share > "$t/out" 2>&1
ok $? "make install-udev" "$(cat "$t/out")"
eq "installed: rules 0644, helper 0755, filter 0644" \
	"644 $t/root/lib/udev/rules.d/57-dm-colo.rules
755 $t/root/lib/udev/colo-leg-id
644 $t/root/usr/share/colosetup/lvm-global-filter.conf" \
	"$(stat -c '%a %n' "$t/root/lib/udev/rules.d/57-dm-colo.rules" "$t/root/lib/udev/colo-leg-id" \
		"$t/root/usr/share/colosetup/lvm-global-filter.conf" 2>&1)"
grep -q 'IMPORT{program}="colo-leg-id %M %m"' "$t/root/lib/udev/rules.d/57-dm-colo.rules"
ok $? "the rules run the helper by udev's relative name"

tap_end udev
