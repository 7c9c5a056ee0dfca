#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# colosetup: every subcommand, its output, its exit codes (0 ok, 1 refused
# or failed state, 2 usage, 3 no such device, 4 busy, 5 timeout) and its
# error sentences, checked against dmsetup's view of the same devices.
. /tests/lib.sh

brd_setup 6 32
LEN=$(dev_sectors /dev/ram0)

refused() { cmd_refused "$@"; }
wr() {	# DEV BLOCK CHAR: one 4 KiB block of CHAR
	printf "%4096s" "" | tr ' ' "$3" | dd of="$1" bs=4096 seek="$2" oflag=direct conv=notrunc 2>/dev/null
}
rd() { dd if="$1" bs=4096 skip="$2" count=1 iflag=direct 2>/dev/null | head -c 1; }

check_exit 0 "--help" colosetup --help
check_match "--help lists the commands" "mirror start NAME DEV" "$OUT"
check_exit 0 "--version" colosetup --version
check_exit 2 "no command" colosetup
check_match "no command: says so" "no command given" "$OUT"
check_exit 2 "unknown command" colosetup frob vm
check_exit 2 "bad chunk" colosetup create vm --secondary /dev/ram0 /dev/ram1 /dev/ram2 --chunk 3k
check_match "bad chunk: says why" "power of two" "$OUT"

# --- create -------------------------------------------------------------------
dmsetup create small --table "0 1024 linear /dev/ram5 0"
dmsetup mknodes small
refused 1 "create: missing device" "base /dev/nope: No such file" \
	colosetup create vm --secondary /dev/nope /dev/ram1 /dev/ram2
refused 1 "create: not a block device" "not a block device" \
	colosetup create vm --secondary /dev/null /dev/ram1 /dev/ram2
refused 1 "create: hidden too small" "hidden /dev/mapper/small has 1024 sectors, it needs at least $LEN" \
	colosetup create vm --secondary /dev/ram0 /dev/mapper/small /dev/ram2
refused 1 "create: the same device twice" "hidden and active are the same device" \
	colosetup create vm --secondary /dev/ram0 /dev/ram1 /dev/ram1
refused 4 "create: a leg in use" "in use" \
	colosetup create vm --secondary /dev/ram0 /dev/ram1 /dev/ram5
refused 1 "create: kernel refusal reaches the user" \
	"refused by the kernel: Base, hidden and active must be different devices" \
	env COLOSETUP_SKIP_CHECKS=1 colosetup create vm --secondary /dev/ram0 /dev/ram1 /dev/ram1
dmsetup remove small

check_exit 0 "create --secondary" colosetup create vm --secondary /dev/ram0 /dev/ram1 /dev/ram2 --chunk 4k
check_match "create: names the device" "^/dev/mapper/vm: colo secondary, 32 MiB in 4 KiB chunks" "$OUT"
check_eq "create: the table" "0 $LEN colo secondary 1:0 1:1 1:2 8" "$(dmsetup table vm)"
check "create: the device node" test -b /dev/mapper/vm
refused 1 "create: name taken" "a device of this name exists" \
	colosetup create vm --primary /dev/ram3
refused 1 "create: base of another colo device" "already the base of colo device vm" \
	env COLOSETUP_SKIP_CHECKS=0 colosetup create vm2 --primary /dev/ram0
check_exit 0 "create --primary with options" colosetup create p --primary /dev/ram3 --chunk 64k --max-copies 4
check_eq "create --primary: the table" "0 $LEN colo primary 1:3 128 2 max_copies 4" "$(dmsetup table p)"

# --- ingress, status, list ------------------------------------------------------
check_exit 0 "ingress" colosetup ingress vm
check_eq "ingress: its table" "0 $LEN colo-ingress 1:0" "$(dmsetup table vm-ingress)"
check "ingress: its node" test -b /dev/mapper/vm-ingress
refused 1 "ingress: a second one" "already has an ingress \(vm-ingress\)" colosetup ingress vm
refused 1 "ingress: for a primary" "primary mode" colosetup ingress p
refused 3 "ingress: no such device" "nope: no such device" colosetup ingress nope

wr /dev/mapper/vm-ingress 0 P
wr /dev/mapper/vm 1 S
check_exit 0 "status" colosetup status vm
check_match "status: mode" "^vm: colo secondary" "$OUT"
check_match "status: size and chunks" "32 MiB \($LEN sectors\), 8192 chunks of 4 KiB" "$OUT"
check_match "status: legs by name" "base: +/dev/ram0" "$OUT"
check_match "status: overlay counts" "overlay: +1 active, 1 hidden chunks" "$OUT"
check_match "status: ingress" "ingress: +vm-ingress" "$OUT"
check_exit 0 "status --json" colosetup status --json vm
check_eq "status --json" "{\"schema\":2,\"name\":\"vm\",\"dm_uuid\":\"$(dmsetup info -c --noheadings -o uuid vm)\",\"target\":\"colo\",\"sectors\":$LEN,\"mode\":\"secondary\",\"chunk_sectors\":8,\"chunk_bytes\":4096,\"chunks\":8192,\"legs\":{\"base\":\"/dev/ram0\",\"hidden\":\"/dev/ram1\",\"active\":\"/dev/ram2\"},\"active\":1,\"hidden\":1,\"commit\":{\"state\":\"none\",\"committed\":0,\"to_commit\":0,\"percent\":null,\"rate\":null,\"eta_seconds\":null},\"dirty\":0,\"mirror\":{\"state\":\"none\",\"mirrored\":0,\"to_mirror\":0,\"percent\":null,\"rate\":null,\"eta_seconds\":null,\"copy_rate\":0,\"rate_limit\":null,\"min_rate\":null},\"ingress\":\"vm-ingress\",\"health\":\"ok\",\"bitmap_bytes\":$(field vm 15),\"dirty_coverage\":\"unknown\",\"metadata\":\"none\",\"metadata_device\":null,\"uuid_current\":null,\"uuid_previous\":null,\"regions_marked\":null,\"regions\":null,\"verify\":{\"state\":\"none\",\"verified\":0,\"to_verify\":0,\"different\":0,\"copy_rate\":0,\"rate_limit\":null,\"min_rate\":null},\"mirror_mode\":\"none\",\"lag_kib\":0,\"max_lag_kib\":0,\"ahead\":0}" "$OUT"
check_exit 0 "status of an ingress" colosetup status vm-ingress
check_eq "status of an ingress: names its colo device" "vm-ingress: colo-ingress, vm" "$OUT"
dmsetup create lin --table "0 8 linear /dev/ram4 0"
refused 3 "status: not a colo device" "lin: not a colo device \(its target is linear\)" colosetup status lin
refused 3 "status: no such device" "nope: no such device" colosetup status nope
check_exit 0 "list" colosetup list
check_match "list: the colo device" "^vm +colo +secondary +4 KiB +none +none +ok +32 MiB" "$OUT"
check_match "list: the ingress" "^vm-ingress +colo-ingress +-> vm" "$OUT"
check_match "list: the primary" "^p +colo +primary +64 KiB" "$OUT"
check_fails "list: not the linear device" sh -c "colosetup list | grep -q '^lin '"
check_exit 0 "list --json" colosetup list --json
check_match "list --json: three devices" '^\[\{"schema":2,"name":"p",.*\},\{"schema":2,"name":"vm",.*\},\{"schema":2,"name":"vm-ingress","dm_uuid":"COLO-INGRESS-[0-9a-f]{32}","target":"colo-ingress","colo":"vm"\}\]$' "$OUT"
dmsetup remove lin

# --- checkpoint, remove refusals ------------------------------------------------
check_exit 0 "checkpoint" colosetup checkpoint vm
check_eq "checkpoint: overlay dropped" "0/8192 0/8192" "$(field vm 6) $(field vm 7)"
check_eq "checkpoint: VM reads the primary's data" "P" "$(rd /dev/mapper/vm 0)"
refused 1 "checkpoint a primary" "checkpoint refused: the device is primary" colosetup checkpoint p
refused 1 "checkpoint a primary: the kernel's sentence" \
	"refused by the kernel: [0-9:]+: message 'checkpoint' refused: only valid in secondary mode" \
	env COLOSETUP_SKIP_CHECKS=1 colosetup checkpoint p
exec 3< /dev/mapper/vm
refused 4 "remove: colo device open" "vm: in use \(open 1 time: open by process [0-9]+ \(sh\)" colosetup remove vm
exec 3<&-
exec 3< /dev/mapper/vm-ingress
refused 4 "remove: ingress open" "vm-ingress: in use .*NBD server" colosetup remove vm
refused 4 "remove: the ingress alone, open" "vm-ingress: in use" colosetup remove vm-ingress
exec 3<&-
refused 3 "remove: no such device" "no such device" colosetup remove nope

# --- failover ------------------------------------------------------------------
wr /dev/mapper/vm 2 T
wr /dev/mapper/vm-ingress 3 Q
check_exit 0 "failover --wait" colosetup failover vm --wait
check_match "failover --wait: ends done" "vm: done$" "$OUT"
check_eq "failover: primary, commit done" "primary done" "$(field vm 4) $(field vm 8)"
check_eq "failover: base has the VM's write" "T" "$(rd /dev/ram0 2)"
refused 1 "failover again" "already primary \(commit done\)" colosetup failover vm
refused 1 "failover again: the kernel's sentence" "refused by the kernel: [0-9:]+: message 'failover' refused" \
	env COLOSETUP_SKIP_CHECKS=1 colosetup failover vm
check_exit 0 "wait primary" colosetup wait vm primary
check_exit 0 "wait done" colosetup wait vm done
check_exit 1 "wait failed: never comes" colosetup wait vm failed
check_match "wait failed: says why" "the failover commit is done" "$OUT"
check_exit 0 "remove the fenced ingress" colosetup remove vm-ingress
check_fails "ingress gone" dmsetup info vm-ingress

# --- mirror -----------------------------------------------------------------------
# A new primary table cannot know which chunks a replica lacks: --dirty is
# refused (by colosetup, and by the kernel), saying to use --full.
dmsetup create pv --table "0 $LEN colo primary /dev/ram5 8" && dmsetup mknodes pv
refused 1 "mirror start --dirty on a new primary table" "use --full" \
	colosetup mirror start pv /dev/ram4 --dirty
refused 1 "mirror start --dirty on a new primary table: the kernel's sentence" \
	"refused by the kernel: [0-9:]+: mirror start refused: dirty chunks may be missing .*: use full" \
	env COLOSETUP_SKIP_CHECKS=1 colosetup mirror start pv /dev/ram4 --dirty
check_exit 0 "status of a new primary table" colosetup status pv
check_match "status: a resync must be full" "may miss chunks: a resync must be --full" "$OUT"
dmsetup remove pv
refused 1 "mirror stop without a mirror" "no mirror" colosetup mirror stop vm
refused 1 "mirror start on a secondary-less device: replica too small" "needs at least" \
	sh -c "dmsetup create small --table '0 1024 linear /dev/ram5 0' && dmsetup mknodes small &&
	       colosetup mirror start vm /dev/mapper/small; rc=\$?; dmsetup remove small; exit \$rc"
check_exit 0 "mirror start --full --wait" colosetup mirror start vm /dev/ram4 --full --wait
check_match "mirror start: ends in-sync" "vm: in-sync$" "$OUT"
check_eq "mirror: replica equals base" "$(direct_sum /dev/ram0)" "$(direct_sum /dev/ram4)"
refused 1 "mirror start twice" "already mirroring" colosetup mirror start vm /dev/ram5
refused 1 "mirror start twice: the kernel's sentence" "refused by the kernel: [0-9:]+: mirror start refused: already mirroring" \
	env COLOSETUP_SKIP_CHECKS=1 colosetup mirror start vm /dev/ram5
check_exit 0 "wait in-sync" colosetup wait vm in-sync
check_exit 5 "wait degraded: times out" colosetup wait vm degraded --timeout 2
check_match "wait: says it timed out" "not degraded after 2 s" "$OUT"
check_exit 0 "mirror stop" colosetup mirror stop vm
wr /dev/mapper/vm 5 D
check_eq "after stop: the write is dirty" "1" "$(field vm 10 | cut -d/ -f1)"
check_exit 0 "mirror start --dirty --rate --wait" colosetup mirror start vm /dev/ram4 --dirty --rate 1m --wait
check_eq "dirty resync: replica equals base" "$(direct_sum /dev/ram0)" "$(direct_sum /dev/ram4)"
colosetup mirror stop vm > /dev/null
# --wait's progress: lines when not on a terminal, a bar redrawn in place
# on one (ptyrun gives colosetup a pseudo-terminal).
check_exit 0 "mirror start --wait, not on a terminal" colosetup mirror start vm /dev/ram4 --full --rate 16m --wait
check_match "progress lines" "^vm: mirror copying, [0-9]+/[0-9]+ chunks$" "$OUT"
colosetup mirror stop vm > /dev/null
check_exit 0 "mirror start --wait, on a terminal" ptyrun colosetup mirror start vm /dev/ram4 --full --rate 16m --wait
check_match "a progress bar, redrawn in place" "$(printf '\r')vm: mirror \[#* *\] +[0-9]+% [0-9]+/8192 .*$(printf '\r')vm: mirror \[#{40}\] 100% 8192/8192" "$OUT"
colosetup mirror stop vm > /dev/null

# A replica that fails: wait in-sync ends with the degraded state's sentence.
dmsetup create rep --table "0 $LEN linear /dev/ram4 0"
dmsetup mknodes rep
check_exit 0 "mirror start (replica on dm-linear)" colosetup mirror start vm /dev/mapper/rep --full --wait
dmsetup suspend rep
dmsetup load rep --table "0 $LEN error"
dmsetup resume rep
wr /dev/mapper/vm 6 E
check_exit 0 "wait degraded" colosetup wait vm degraded --timeout 30
check_exit 1 "wait in-sync on a degraded mirror" colosetup wait vm in-sync
check_match "wait in-sync: says degraded" "mirror is degraded" "$OUT"
# health is about base, hidden and active; a replica's errors are the
# mirror's "degraded".
check_exit 5 "wait error: a replica error is not the device's health" colosetup wait vm error --timeout 2
colosetup mirror stop vm > /dev/null
dmsetup remove rep

# --- a failed commit, resumed by failover --------------------------------------------
colosetup remove vm > /dev/null
colosetup remove p > /dev/null
dmsetup create act --table "0 $LEN linear /dev/ram2 0"
dmsetup mknodes act
check_exit 0 "create over a dm-linear active" colosetup create vm --secondary /dev/ram0 /dev/ram1 /dev/mapper/act
wr /dev/mapper/vm 7 V
view=$(direct_sum /dev/mapper/vm)
dmsetup suspend act
dmsetup load act --table "0 $LEN error"
dmsetup resume act
check_exit 1 "failover --wait: the commit fails" colosetup failover vm --wait --timeout 60
check_match "failover --wait: says it failed" "failover commit failed" "$OUT"
dmsetup suspend act
dmsetup load act --table "0 $LEN linear /dev/ram2 0"
dmsetup resume act
check_exit 0 "failover again resumes" colosetup failover vm --wait --timeout 60
check_match "failover again: says it resumes" "resuming the failover commit" "$OUT"
check_eq "resumed commit: base equals the view" "$view" "$(direct_sum /dev/ram0)"

# --- remove --force -----------------------------------------------------------------
exec 3< /dev/mapper/vm
check_exit 0 "remove --force of an open device" colosetup remove vm --force
check_match "remove --force: deferred" "removed when last closed" "$OUT"
exec 3<&-
check_fails "remove --force: gone once closed" dmsetup info vm
# dm finishes a deferred removal in a work item, just after the close.
for i in 1 2 3 4 5 6 7 8 9 10; do dmsetup remove act 2>/dev/null && break; sleep 0.5; done
check_fails "the leg is released" dmsetup info act
check_exit 0 "list with no device" colosetup list
check_eq "list: header only" "1" "$(echo "$OUT" | wc -l)"
t_done
