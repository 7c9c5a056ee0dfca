#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# colosetup's errors where the cause is not the command line: device-mapper
# missing (dm-mod unloaded), not root, the dm-colo target not loaded (exit
# 6 and the next step); a device in use naming its holder; the kernel's
# reason taken from the device's own log lines while another device logs;
# a mirror that degrades at once without --wait (exit 1); binary units;
# MAJ:MIN devices; names that leave room for the ingress; one version, and
# a target of another major version refused (exit 6).
# Each case checks the exact sentence and the exit code.
. /tests/lib.sh

brd_setup 8 32
LEN=$(dev_sectors /dev/ram0)

# says DESC EXACT: the last run printed exactly EXACT.
says() { check_eq "$1: says" "$2" "$OUT"; }

# The dm modules, in load order and reversed.
dm_mods=$(grep -E '^dm[-_]' /lib/modules/load-order)
dm_mods_rev=$(echo "$dm_mods" | sed '1!G;h;$!d')

# --- one version --------------------------------------------------------------
tv=$(dmsetup targets | awk '$1 == "colo" { print substr($2, 2) }')
check_exit 0 "--version" colosetup --version
cv=$(echo "$OUT" | sed -n 's/^colosetup //p')
check_eq "--version: colosetup and the loaded target have one version" "$cv" "$tv"
check_eq "--version: the target's line" "dm-colo target $tv" "$(echo "$OUT" | sed -n 2p)"
check_eq "the module's version is the target's" "$tv" \
	"$(cat /sys/module/dm_colo/version 2>/dev/null)"

# --- the dm-colo target not loaded ---------------------------------------------
check "rmmod dm-colo" rmmod dm-colo
check_exit 6 "list without the target" colosetup list
says "list without the target" "colosetup: the dm-colo target is not loaded: modprobe dm-colo"
check_exit 6 "status without the target" colosetup status vm
says "status without the target" "colosetup: the dm-colo target is not loaded: modprobe dm-colo"
check_exit 6 "create without the target" colosetup create vm --primary /dev/ram0
says "create without the target" "colosetup: the dm-colo target is not loaded: modprobe dm-colo"
check_exit 0 "--version without the target" colosetup --version
check_eq "--version without the target: says so" "dm-colo target: not loaded" \
	"$(echo "$OUT" | sed -n 2p)"
check_exit 2 "a usage error is still a usage error" colosetup list --bogus
check "insmod dm-colo" insmod /lib/modules/dm-colo.ko

# --- a target of another major version -----------------------------------------
# dm-colo.ko built from these sources as the next major version
# (scripts/vm.sh, COLO_MODULE_VERSION of scripts/build-module.sh): the real
# target with another version triple, read by colosetup's real check
# (DM_LIST_VERSIONS). The same major with another minor is accepted:
# userspace/test-util.c feeds such triples to the check colosetup uses.
ov=$(( ${tv%%.*} + 1 )).0.0
refusal="colosetup: the loaded dm-colo target is version $ov, colosetup $tv drives version ${tv%%.*}.x only: install dm-colo and colosetup of one release"
check "rmmod dm-colo" rmmod dm-colo
check "insmod dm-colo $ov" insmod /lib/modules/other-version/dm-colo.ko
check_eq "the loaded target is version $ov" "$ov" \
	"$(dmsetup targets | awk '$1 == "colo" { print substr($2, 2) }')"
check_exit 6 "list with a target of another major version" colosetup list
says "list with a target of another major version" "$refusal"
check_exit 6 "create with a target of another major version" \
	colosetup create vm --primary /dev/ram0
says "create with a target of another major version" "$refusal"
check_fails "create refused: nothing created" dmsetup info vm
check_exit 6 "monitor with a target of another major version" colosetup monitor --count 1
says "monitor with a target of another major version" "$refusal"
check_exit 0 "--version with a target of another major version" colosetup --version
check_eq "--version: says colosetup does not drive it" \
	"dm-colo target $ov (not driven by this colosetup: another major version)" \
	"$(echo "$OUT" | sed -n 2p)"
# The refusal is colosetup's own: the target itself works.
check "the $ov target loads a table (dmsetup)" \
	dmsetup create v2 --table "0 $LEN colo primary /dev/ram0 8"
check_exit 6 "status of a device of the $ov target" colosetup status v2
says "status of a device of the $ov target" "$refusal"
check "remove it (dmsetup)" dmsetup remove v2
check "rmmod dm-colo $ov" rmmod dm-colo
check "insmod dm-colo $tv" insmod /lib/modules/dm-colo.ko
check_exit 0 "list with the target of its own version" colosetup list

# --- device-mapper missing -------------------------------------------------------
for m in $dm_mods_rev; do rmmod "$m" || t_diag "rmmod $m failed"; done
if grep -q device-mapper /proc/misc; then
	t_fail "device-mapper unloaded (dm-mod still in /proc/misc)"
else
	t_ok "device-mapper unloaded"
fi
check_exit 6 "list without device-mapper" colosetup list
says "list without device-mapper" "colosetup: device-mapper is not available: modprobe dm-mod"
check_exit 6 "remove without device-mapper" colosetup remove vm
says "remove without device-mapper" "colosetup: device-mapper is not available: modprobe dm-mod"
check_exit 6 "mirror start without device-mapper" colosetup mirror start vm /dev/ram4
says "mirror start without device-mapper" "colosetup: device-mapper is not available: modprobe dm-mod"
check_exit 0 "--version without device-mapper" colosetup --version
check_eq "--version without device-mapper: says so" \
	"dm-colo target: none (device-mapper is not available)" "$(echo "$OUT" | sed -n 2p)"
for m in $dm_mods; do insmod "/lib/modules/$m.ko" || t_diag "insmod $m failed"; done
check "device-mapper back" dmsetup targets

# --- not root --------------------------------------------------------------------
# util-linux's setpriv (scripts/vm.sh): by its path, as busybox's shell
# prefers its own applet of the same name, which cannot change uids.
if [ -x /usr/bin/setpriv ]; then
	asnobody() { /usr/bin/setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
	check_exit 6 "list as non-root" asnobody colosetup list
	says "list as non-root" "colosetup: permission denied: run as root (device-mapper needs CAP_SYS_ADMIN)"
	check_exit 6 "checkpoint as non-root" asnobody colosetup checkpoint vm
	says "checkpoint as non-root" "colosetup: permission denied: run as root (device-mapper needs CAP_SYS_ADMIN)"
else
	t_fail "setpriv is not in the VM (scripts/vm.sh)"
fi

# --- units ---------------------------------------------------------------------
check_exit 2 "--rate 50MB" colosetup mirror start vm /dev/ram4 --rate 50MB
says "--rate 50MB" "colosetup: --rate '50MB': decimal units (kB, MB, GB, TB) are refused: say 50MiB (binary units, powers of 1024: K or KiB, M or MiB, G or GiB, T or TiB)"
check_exit 2 "--rate 1500" colosetup mirror start vm /dev/ram4 --rate 1500
says "--rate 1500" "colosetup: --rate '1500': not a whole number of KiB/s (the kernel's unit); give a multiple of 1024 bytes/s, e.g. 2k or 50m"
check_exit 2 "--chunk 4kB" colosetup create vm --primary /dev/ram0 --chunk 4kB
says "--chunk 4kB" "colosetup: --chunk '4kB': decimal units (kB, MB, GB, TB) are refused: say 4KiB (binary units, powers of 1024: K or KiB, M or MiB, G or GiB, T or TiB)"
check_exit 2 "--region-size 4MB" colosetup create vm --primary /dev/ram0 --metadata /dev/ram7 --region-size 4MB
says "--region-size 4MB" "colosetup: --region-size '4MB': decimal units (kB, MB, GB, TB) are refused: say 4MiB (binary units, powers of 1024: K or KiB, M or MiB, G or GiB, T or TiB)"

# --- names -----------------------------------------------------------------------
n119=$(head -c 119 /dev/zero | tr '\0' n)
n125=$(head -c 125 /dev/zero | tr '\0' n)
check_exit 2 "create: a 125-byte name" colosetup create "$n125" --secondary /dev/ram0 /dev/ram1 /dev/ram2
says "create: a 125-byte name" "colosetup: create: 'nnnnnnnnnnnnnnnnnnnn...' is 125 bytes long: at most 119, so that its ingress NAME-ingress fits in dm's 127"
check_fails "create: a 125-byte name: nothing created" dmsetup info "$n125"
check_exit 0 "create: a 119-byte name" colosetup create "$n119" --secondary /dev/ram0 /dev/ram1 /dev/ram2
check_exit 0 "ingress of a 119-byte name" colosetup ingress "$n119"
check "the 127-byte ingress exists" dmsetup info "$n119-ingress"
colosetup remove "$n119" > /dev/null

# --- MAJ:MIN -----------------------------------------------------------------------
maj=$(cut -d: -f1 /sys/block/ram0/dev)	# brd's, 1
check_exit 0 "create --secondary MAJ:MIN" colosetup create s --secondary "$maj:0" "$maj:1" "$maj:2" --metadata "$maj:6"
check_eq "create MAJ:MIN: the table" "0 $LEN colo secondary $maj:0 $maj:1 $maj:2 8 2 metadata $maj:6" \
	"$(dmsetup table s)"
check_exit 0 "create --primary MAJ:MIN" colosetup create p --primary "$maj:3"
check_eq "create --primary MAJ:MIN: the table" "0 $LEN colo primary $maj:3 8" "$(dmsetup table p)"
check_exit 1 "create: MAJ:MIN of no device" colosetup create q --primary 250:99
says "create: MAJ:MIN of no device" "colosetup: base 250:99: no such block device"

# --- in use: the holder named ----------------------------------------------------
dmsetup create small --table "0 1024 linear /dev/ram5 0"
check_exit 4 "create: a leg held by a dm device" colosetup create q --secondary /dev/ram4 /dev/ram7 /dev/ram5
says "create: a leg held by a dm device" "colosetup: active /dev/ram5: in use: held by dm device small, a linear target (dmsetup remove small frees it)"
dmsetup remove small
check_exit 4 "create: a leg of a colo device" colosetup create q --primary /dev/ram1
says "create: a leg of a colo device" "colosetup: base /dev/ram1: in use: held by colo device s as its hidden (colosetup remove s frees it)"
check_exit 4 "create: a leg held by MAJ:MIN" colosetup create q --primary "$maj:6"
says "create: a leg held by MAJ:MIN" "colosetup: base $maj:6: in use: held by colo device s as its metadata device (colosetup remove s frees it)"
colo-open -x -s 30 /dev/ram7 > /tmp/held 2>&1 &
holder=$!
for i in 1 2 3 4 5 6 7 8 9 10; do grep -q held /tmp/held && break; sleep 0.2; done
check_exit 4 "create: a leg open by a process" colosetup create q --primary /dev/ram7
says "create: a leg open by a process" "colosetup: base /dev/ram7: in use: open by process $holder (colo-open)"
kill "$holder"; wait "$holder" 2>/dev/null
rm -f /tmp/held
colo-open -s 30 /dev/mapper/p > /tmp/held 2>&1 &
holder=$!
for i in 1 2 3 4 5 6 7 8 9 10; do grep -q held /tmp/held && break; sleep 0.2; done
check_exit 4 "remove: open by a process" colosetup remove p
says "remove: open by a process" "colosetup: p: in use (open 1 time: open by process $holder (colo-open)); close it first, or --force"
kill "$holder"; wait "$holder" 2>/dev/null
# A failed-over secondary mirrors to a local ingress: the ingress is held
# by the mirror, not by a process.
colosetup ingress s > /dev/null
colosetup mirror start p /dev/ram4 --wait > /dev/null
check_exit 4 "create: the replica of a mirror" colosetup create q --primary /dev/ram4
says "create: the replica of a mirror" "colosetup: base /dev/ram4: in use: the replica of colo device p's mirror (colosetup mirror stop p frees it)"
colosetup mirror stop p > /dev/null
check_exit 0 "mirror start to the ingress" colosetup mirror start p /dev/mapper/s-ingress --wait
check_exit 4 "remove: the ingress held by a mirror" colosetup remove s
says "remove: the ingress held by a mirror" "colosetup: s-ingress: in use (open 1 time: the replica of colo device p's mirror (colosetup mirror stop p frees it)); close it first (is the NBD server still running?), or --force"
colosetup mirror stop p > /dev/null

# --- the kernel's reason, filtered by the device ------------------------------------
# Other devices' colo lines written to the kernel log all along (as a busy
# host's would be): each refusal still gives its own device's reason.
echo on > /proc/sys/kernel/printk_devkmsg
(while :; do
	echo "device-mapper: colo: 253:250: message 'checkpoint' refused: NOT THIS ONE"
	echo "device-mapper: table: 253:251: colo: NOT THIS ONE EITHER"
done > /dev/kmsg) 2>/dev/null &
spam=$!
bad=0
for i in $(seq 30); do
	OUT=$(COLOSETUP_SKIP_CHECKS=1 colosetup checkpoint p 2>&1)
	echo "$OUT" | grep -q "^colosetup: p: checkpoint refused by the kernel: [0-9]*:[0-9]*: message 'checkpoint' refused: only valid in secondary mode$" ||
		{ bad=$((bad + 1)); t_diag "$OUT"; }
	OUT=$(COLOSETUP_SKIP_CHECKS=1 colosetup create q --secondary /dev/ram4 /dev/ram7 /dev/ram7 2>&1)
	# dm adds the error code: "... devices (-EINVAL)"
	echo "$OUT" | grep -Eq "^colosetup: q: create refused by the kernel: Base, hidden and active must be different devices( \(-E[A-Z]+\))?$" ||
		{ bad=$((bad + 1)); t_diag "$OUT"; }
done
kill "$spam"; wait "$spam" 2>/dev/null
check_eq "30 refused messages and creates, other devices logging: each its own reason" 0 "$bad"
check_fails "the refused creates left nothing" dmsetup info q

# --- mirror start without --wait -----------------------------------------------------
# Another device's mirror degrades all along: the reason is p's own.
(while :; do
	echo "device-mapper: colo: 253:250: mirror degraded: NOT THIS ONE; the chunks it missed stay dirty"
done > /dev/kmsg) 2>/dev/null &
spam=$!
dmsetup create bad --table "0 $LEN error"
dmsetup mknodes bad
check_exit 1 "mirror start to a failing replica, no --wait" colosetup mirror start p /dev/mapper/bad
says "mirror start to a failing replica, no --wait" "colosetup: p: mirror degraded at once (write error on the replica): the chunks stay dirty; check the replica, then mirror start again"
check_eq "mirror start to a failing replica: degraded" degraded "$(field p 11)"
kill "$spam"; wait "$spam" 2>/dev/null
echo ratelimit > /proc/sys/kernel/printk_devkmsg
colosetup mirror stop p > /dev/null
dmsetup remove bad
check_exit 0 "mirror start to a good replica, no --wait" colosetup mirror start p "$maj:4" --rate 1m
check_match "mirror start, no --wait: copying or in sync" "^(copying|in-sync)$" "$(field p 11)"
colosetup mirror stop p > /dev/null

colosetup remove s > /dev/null
colosetup remove p > /dev/null
check_eq "no device left" "No devices found" "$(dmsetup ls)"
t_done
