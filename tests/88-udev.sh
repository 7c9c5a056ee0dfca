#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# dm UUIDs, udev and LVM: a guest's LVM PV on a colo secondary device with
# an ingress is seen once on the host (on the colo device, the VM's disk),
# not three times (base, the colo device, the ingress), nor four: hidden
# here is a dm device (linear, as an LV would be) holding a copy of base's
# first MiB, as after an ingress write to chunk 0.
#
#  1. Without udev (as every other test runs): the COLO-DEV-/COLO-INGRESS-
#     UUIDs, status, the /dev/mapper nodes colosetup makes itself, and the
#     four copies blkid and pvs see.
#  2. With systemd-udevd and the rules (55-dm, 56-lvm, 60-persistent-storage,
#     60-persistent-storage-dm, 69-lvm, 95-dm-notify, and ours,
#     57-dm-colo.rules): udev's probe (the udev database: what lsblk,
#     systemd and the /dev/disk links use) sees the PV once; pvs with the
#     shipped lvm.conf filter once, without it four times; blkid's own scan
#     four times (libblkid skips no COLO- device: README, udev).
#  3. Controls that make it fail: the rules without COLO- UUIDs (devices
#     made by dmsetup, as colosetup made them before) and the UUIDs without
#     the rules (the cookie's flags alone) each let the copies through.
#     A fleece (COLO-FLEECE-) is private as the ingress is, its buffer a
#     leg.
#  4. A mirror's replica is a leg too (its holder link in sysfs), and a leg
#     let go is probed again.
# Legs are loop devices on tmpfs: udev probes loop devices, not RAM disks.
. /tests/lib.sh

UDEVD=/lib/systemd/systemd-udevd
RULES=/usr/lib/udev/rules.d/57-dm-colo.rules
FILTER=/usr/share/colosetup/lvm-global-filter.conf
MIB=32
missing=
for p in "$UDEVD" /bin/udevadm /sbin/lvm /sbin/blkid "$RULES" /lib/udev/colo-leg-id "$FILTER" \
	 /usr/lib/udev/rules.d/55-dm.rules /usr/lib/udev/rules.d/95-dm-notify.rules \
	 /usr/lib/udev/rules.d/69-lvm.rules; do
	[ -e "$p" ] || missing="$missing $p"
done
if [ -n "$missing" ]; then
	t_fail "missing from the VM:$missing (scripts/deps.sh, scripts/vm.sh)"
	t_done
fi

udevd_stop() {
	[ -e /run/udev/control ] && udevadm control --exit 2>/dev/null
	# libdevmapper takes /run/udev/control for a running udev: without it,
	# the next tests get their nodes made by colosetup and dmsetup again.
	rm -rf /run/udev
}
cleanup() {
	dm_cleanup
	udevd_stop
	for i in 0 1 2 3; do losetup -d /dev/loop$i 2>/dev/null; done
	rm -rf /tmp/udev-legs /etc/lvm /tmp/lvm-none
}
trap 'cleanup; t_early_exit' EXIT

mkdir -p /tmp/udev-legs /tmp/lvm-none
for i in 0 1 2 3; do
	# loop1 under a linear device that starts 1 MiB in
	dd if=/dev/zero of=/tmp/udev-legs/$i bs=1M count=0 seek=$((MIB + (i == 1))) 2>/dev/null
	losetup /dev/loop$i /tmp/udev-legs/$i || t_fail "losetup /dev/loop$i"
done
LEN=$(dev_sectors /dev/loop0)

# The guest's disk, as the primary's forwarded writes leave it on base.
lvm pvcreate -q /dev/loop0 > /dev/null 2>&1 && lvm vgcreate -q guestvg /dev/loop0 > /dev/null 2>&1
check_eq "pvcreate and vgcreate on base" 0 $?
PVU=$(lvm pvs --noheadings -o pv_uuid /dev/loop0 2>/dev/null | tr -d ' ')
t_diag "guest PV $PVU on /dev/loop0"
# hidden: a dm leg, with the copy of chunk 0 an ingress write would leave.
dmsetup create hid --table "0 $LEN linear /dev/loop1 2048" && dmsetup mknodes hid &&
	dd if=/dev/loop0 of=/dev/mapper/hid bs=1M count=1 oflag=direct 2>/dev/null
check_eq "hidden, a linear dm device, holds a copy of the PV's label" 0 $?
LEGS="/dev/loop0 /dev/mapper/hid /dev/loop2"

kname() { dmsetup info -c --noheadings -o blkdevname "$1" | tr -d ' '; }
uuid() { dmsetup info -c --noheadings -o uuid "$1" | tr -d ' '; }
prop() { # prop KERNEL-NAME KEY: the value in the udev database
	udevadm info --query=property --path="/sys/class/block/$1" 2>/dev/null |
		sed -n "s/^$2=//p"
}
# The block devices (kernel names) udev's probe found the PV on.
udev_pv() {
	local d
	for d in /sys/class/block/*; do
		[ "$(prop "${d##*/}" ID_FS_TYPE)" = LVM2_member ] && echo "${d##*/}"
	done | sorted
}
sorted() { tr ' ' '\n' | grep -v '^$' | sort | tr '\n' ' ' | sed 's/ $//'; }
# The kernel name (loop0, dm-3) of a device path, whatever link it is.
kn() {
	local mm
	mm=$(stat -L -c '%t %T' "$1" 2>/dev/null) || { echo "?$1"; return; }
	set -- $mm
	basename "$(readlink "/sys/dev/block/$((0x$1)):$((0x$2))")"
}
# The devices pvs finds the guest's PV on, by kernel name: the one it uses
# and the duplicates it warns about ("WARNING: Not using device D for PV
# U."; lvm 2.03.16's pvs has no --duplicates). LVM_SYSTEM_DIR picks the
# lvm.conf (/etc/lvm: the shipped filter; /tmp/lvm-none: none).
pvs_pv() {
	local n
	for n in $(LVM_SYSTEM_DIR=$1 lvm pvs --noheadings -o pv_name,pv_uuid 2>&1 |
		   awk -v u="$PVU" '$2 == u { print $1 }
			$1 == "WARNING:" && $2 == "Not" && $8 == u "." { print $5 }'); do
		kn "$n"
	done | sorted
}
# The devices blkid's own scan (no cache, no udev) finds it on.
blkid_pv() {
	local n
	for n in $(blkid -c /dev/null 2>/dev/null | grep 'TYPE="LVM2_member"' | cut -d: -f1); do
		kn "$n"
	done | sorted
}
settle() { udevadm settle --timeout=30 || t_diag "udevadm settle timed out"; }
# check_udev DESC WANT: udev's probe found the PV on WANT (kernel names);
# else what udev knows of each loop and dm device.
check_udev() {
	local got d
	got=$(udev_pv)
	check_eq "$1" "$(echo "$2" | sorted)" "$got"
	[ "$(echo "$2" | sorted)" = "$got" ] && return
	for d in /sys/class/block/loop[0-3] /sys/class/block/dm-*; do
		[ -e "$d" ] || continue
		t_diag "udev of ${d##*/}: $(udevadm info --query=property --path="$d" 2>&1 |
			grep -E '^(ID_FS_TYPE|DM_NAME|DM_UUID|DM_UDEV_DISABLE|DM_NOSCAN|COLO_|UDEV_DISABLE|DEVLINKS)' |
			tr '\n' ' ')"
	done
}

# --- 1. without udev -------------------------------------------------------------
colosetup create vm --secondary $LEGS > /dev/null && colosetup ingress vm > /dev/null
check_eq "no udev: create and ingress" 0 $?
U=$(uuid vm)
ID=${U#COLO-DEV-}
H=$(kname hid)
check_match "colo device's dm UUID: COLO-DEV- and 32 hex digits" '^COLO-DEV-[0-9a-f]{32}$' "$U"
check_eq "ingress's dm UUID: COLO-INGRESS- and its colo device's ID" "COLO-INGRESS-$ID" "$(uuid vm-ingress)"
check_match "status shows the dm UUID" "^  dm uuid:  $U\$" "$(colosetup status vm)"
check_match "status --json shows it" "^\\{\"schema\":2,\"name\":\"vm\",\"dm_uuid\":\"$U\",\"target\":\"colo\"," \
	"$(colosetup status --json vm)"
check_eq "status --json of the ingress shows its own" \
	"{\"schema\":2,\"name\":\"vm-ingress\",\"dm_uuid\":\"COLO-INGRESS-$ID\",\"target\":\"colo-ingress\",\"colo\":\"vm\"}" \
	"$(colosetup status --json vm-ingress)"
[ -b /dev/mapper/vm ] && [ -b /dev/mapper/vm-ingress ]
check_eq "no udev: colosetup made the /dev/mapper nodes" 0 $?
ALL=$(echo loop0 "$H" "$(kname vm)" "$(kname vm-ingress)" | sorted)
check_eq "no udev: blkid finds the PV four times" "$ALL" "$(blkid_pv)"
check_eq "no udev: pvs finds it four times" "$ALL" "$(pvs_pv /tmp/lvm-none)"
colosetup remove vm > /dev/null
colosetup create vm2 --secondary $LEGS > /dev/null
U2=$(uuid vm2)
check_eq "a new colo device, a new UUID" 1 "$([ -n "$U2" ] && [ "$U2" != "$U" ] && echo 1)"
colosetup remove vm2 > /dev/null
# A dm device made before udevd ran is one udev never saw activated
# (55-dm.rules disables its rules on a coldplug add): made again below.
dmsetup remove hid

# --- 2. with udev and the rules -----------------------------------------------------
mkdir -p /run/udev
"$UDEVD" --daemon --resolve-names=never 2> /tmp/udevd.log
check_eq "systemd-udevd starts" 0 $?
dmsetup create hid --table "0 $LEN linear /dev/loop1 2048"
H=$(kname hid)
udevadm trigger --action=add --subsystem-match=block
settle
check_udev "udev probed base and hidden before any colo device" "loop0 $H"

colosetup create vm --secondary $LEGS > /dev/null && colosetup ingress vm > /dev/null
check_eq "udev: create and ingress" 0 $?
settle
V=$(kname vm)
I=$(kname vm-ingress)
U=$(uuid vm)
ID=${U#COLO-DEV-}
ALL=$(echo loop0 "$H" "$V" "$I" | sorted)
check_udev "udev: the PV once, on the colo device" "$V"
check_eq "colo device: other rules off (no LVM autoactivation), disk rules on" "1 " \
	"$(prop "$V" DM_UDEV_DISABLE_OTHER_RULES_FLAG) $(prop "$V" DM_UDEV_DISABLE_DISK_RULES_FLAG)"
check_eq "ingress: disk and other rules off" "1 1" \
	"$(prop "$I" DM_UDEV_DISABLE_DISK_RULES_FLAG) $(prop "$I" DM_UDEV_DISABLE_OTHER_RULES_FLAG)"
check_eq "base: a leg of vm, not probed" "$U " "$(prop loop0 COLO_HOLDER) $(prop loop0 ID_FS_TYPE)"
check_eq "hidden (dm): a leg, DM_NOSCAN, not probed" "$U 1 " \
	"$(prop "$H" COLO_HOLDER) $(prop "$H" DM_NOSCAN) $(prop "$H" ID_FS_TYPE)"
check_eq "active: a leg" "$U" "$(prop loop2 COLO_HOLDER)"
check_eq "udev made the links: /dev/mapper, dm-uuid of both, colo-leg" "0 0 0 0 0 0" "$(
	for l in /dev/mapper/vm /dev/mapper/vm-ingress /dev/disk/by-id/dm-uuid-COLO-DEV-$ID \
		 /dev/disk/by-id/dm-uuid-COLO-INGRESS-$ID /dev/disk/by-id/colo-leg-loop0 \
		 /dev/disk/by-id/colo-leg-$H; do
		[ -L "$l" ]; printf '%s ' $?
	done | sed 's/ $//')"
check_eq "no by-id/dm-name link for the ingress (disk rules off)" 1 \
	"$([ -e /dev/disk/by-id/dm-name-vm-ingress ]; echo $?)"
mkdir -p /etc/lvm
cp "$FILTER" /etc/lvm/lvm.conf
check_eq "pvs with the shipped filter: once, on the colo device" "$V" "$(pvs_pv /etc/lvm)"
check_eq "pvs without it: four times (lvm reads no udev flags)" "$ALL" "$(pvs_pv /tmp/lvm-none)"
check_eq "blkid's own scan: four times (libblkid skips only LVM-/stratis UUIDs)" \
	"$ALL" "$(blkid_pv)"
udevadm trigger --action=change --subsystem-match=block
settle
check_udev "after udevadm trigger (no cookie): still once" "$V"
udevadm trigger --action=add --subsystem-match=block
settle
check_udev "after a coldplug add: still once" "$V"

# A fleece holds the guest's disk as it was at its start: private, as the
# ingress is; its buffer is a leg.
colosetup fleece start vm /dev/loop3 > /dev/null
check_eq "udev: fleece start" 0 $?
settle
F=$(kname vm-fleece)
check_udev "udev with a fleece: the PV still once, on the colo device" "$V"
check_eq "fleece: disk and other rules off" "1 1" \
	"$(prop "$F" DM_UDEV_DISABLE_DISK_RULES_FLAG) $(prop "$F" DM_UDEV_DISABLE_OTHER_RULES_FLAG)"
check_eq "fleece: its dm-uuid link" 0 "$([ -L "/dev/disk/by-id/dm-uuid-COLO-FLEECE-$ID" ]; echo $?)"
check_eq "fleece's buffer: a leg (held by the fleece)" "COLO-FLEECE-$ID" "$(prop loop3 COLO_HOLDER)"
check_eq "pvs with the shipped filter and a fleece: once" "$V" "$(pvs_pv /etc/lvm)"
check_eq "pvs without it: five times" "$(echo "$ALL $F" | sorted)" "$(pvs_pv /tmp/lvm-none)"
udevadm trigger --action=change --subsystem-match=block
settle
check_udev "with a fleece, after udevadm trigger (no cookie): still once" "$V"
colosetup fleece stop vm > /dev/null
settle
check_eq "fleece stopped: its buffer is no leg any more" "" "$(prop loop3 COLO_HOLDER)"

colosetup remove vm > /dev/null
settle
check_udev "removed: base and hidden are probed again" "loop0 $H"
check_eq "removed: no leg any more" "" "$(prop loop0 COLO_HOLDER)$(prop "$H" COLO_HOLDER)"
check_eq "removed: no colo-leg link" 1 "$([ -e /dev/disk/by-id/colo-leg-loop0 ]; echo $?)"

# --- 3. controls ----------------------------------------------------------------------
# The rules, but no COLO- UUIDs: devices made as colosetup made them before.
dmsetup create ctl --table "0 $LEN colo secondary $LEGS 8" &&
	dmsetup create ctl-ingress --table "0 $LEN colo-ingress /dev/loop0"
for d in loop0 "$H" loop2; do echo change > "/sys/class/block/$d/uevent"; done
settle
ALL=$(echo loop0 "$H" "$(kname ctl)" "$(kname ctl-ingress)" | sorted)
check_udev "control, no UUIDs: udev sees the PV four times" "$ALL"
check_eq "control, no UUIDs: pvs with the filter, four times" "$ALL" "$(pvs_pv /etc/lvm)"
dmsetup remove ctl-ingress && dmsetup remove ctl
settle

# The UUIDs and the cookie's flags, but not the rules: the ingress stays
# unprobed (its cookie), the legs do not (no cookie reaches a leg).
mv "$RULES" /tmp/57-dm-colo.rules
udevadm control --reload
colosetup create vm --secondary $LEGS > /dev/null && colosetup ingress vm > /dev/null
settle
V=$(kname vm)
I=$(kname vm-ingress)
check_eq "no rules, cookie only: ingress flags" "1 1" \
	"$(prop "$I" DM_UDEV_DISABLE_DISK_RULES_FLAG) $(prop "$I" DM_UDEV_DISABLE_OTHER_RULES_FLAG)"
check_eq "no rules, cookie only: the colo device's flag" "1" "$(prop "$V" DM_UDEV_DISABLE_OTHER_RULES_FLAG)"
check_udev "no rules: udev sees the PV three times (base, hidden, the colo device)" "loop0 $H $V"
colosetup remove vm > /dev/null
mv /tmp/57-dm-colo.rules "$RULES"
udevadm control --reload
dmsetup remove hid
settle

# --- 4. a mirror's replica ---------------------------------------------------------------
colosetup create p --primary /dev/loop0 > /dev/null
P=$(kname p)
colosetup mirror start p /dev/loop3 --wait > /dev/null
check_eq "mirror in sync" 0 $?
check_eq "the replica's holder in sysfs is the colo device" "$P" "$(ls /sys/class/block/loop3/holders)"
check_eq "and the colo device's slaves hold it" "loop0 loop3" "$(ls /sys/class/block/$P/slaves | sorted)"
udevadm trigger --action=change --subsystem-match=block
settle
check_eq "replica: a leg, not probed although it holds the PV now" "$(uuid p) " \
	"$(prop loop3 COLO_HOLDER) $(prop loop3 ID_FS_TYPE)"
check_udev "primary with a replica: udev sees the PV once" "$P"
check_eq "pvs with the filter: once" "$P" "$(pvs_pv /etc/lvm)"
colosetup mirror stop p > /dev/null
settle
check_eq "mirror stopped: the replica has no holder" "" "$(ls /sys/class/block/loop3/holders)"
check_eq "mirror stopped: the replica is probed again (the PV copy is there)" "LVM2_member -" \
	"$(prop loop3 ID_FS_TYPE) $(prop loop3 COLO_HOLDER)-"
colosetup remove p > /dev/null

# --- udev gone: colosetup makes its nodes itself again -------------------------------------
udevd_stop
colosetup create vm --secondary /dev/loop0 /dev/loop1 /dev/loop2 > /dev/null
rc=$?
check_eq "udev stopped: create, and the node is there" "0 0" "$rc $([ -b /dev/mapper/vm ]; echo $?)"
colosetup remove vm > /dev/null
check_eq "udev stopped: remove" 0 $?
grep -i 'error' /tmp/udevd.log | head -5 | while read -r l; do t_diag "udevd: $l"; done
t_done
