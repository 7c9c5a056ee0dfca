#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Table lines, pairing of colo and colo-ingress, messages and status: every
# valid form loads, every bad input of SPEC.md is refused with its own
# ti->error and leaves nothing behind.
. /tests/lib.sh

brd_setup 6 64
B=/dev/ram0 H=/dev/ram1 A=/dev/ram2 SMALL=/dev/ram5
LEN=$(dev_sectors $B)
# a device smaller than the target
dmsetup create small --table "0 1024 linear $SMALL 0"
dmsetup mknodes small
dmesg -c > /dev/null

# refused NAME "TABLE" "ERROR TEXT": create fails, the kernel log names the
# error, and no device is left behind.
refused() {
	local name=$1 table=$2 err=$3 log
	dmesg -c > /dev/null
	if dmsetup create "$name" --table "$table" > /dev/null 2>&1; then
		t_fail "refused: $table"
		t_diag "table was accepted"
		dmsetup remove "$name" 2>/dev/null
		return
	fi
	log=$(dmesg -c)
	if ! echo "$log" | grep -qF -- "$err"; then
		t_fail "refused: $table"
		t_diag "expected error '$err' in the kernel log:"
		echo "$log" | sed 's/^/#   /'
		return
	fi
	if dmsetup info "$name" > /dev/null 2>&1; then
		t_fail "refused: $table"
		t_diag "device $name exists after the refusal"
		dmsetup remove "$name" 2>/dev/null
		return
	fi
	t_ok "refused ($err): $table"
}

accepted() {
	local name=$1 table=$2
	check "accepted: $table" dmsetup create "$name" --table "$table"
	dmsetup remove "$name" 2>/dev/null
}

# --- valid forms -----------------------------------------------------------
accepted c "0 $LEN colo secondary $B $H $A 8"
accepted c "0 $LEN colo secondary $B $H $A 1"
accepted c "0 $LEN colo secondary $B $H $A 2048"
accepted c "0 $LEN colo secondary $B $H $A 128 2 max_copies 16"
accepted c "0 $LEN colo secondary $B $H $A 8 0"
accepted c "0 $LEN colo primary $B 8"
accepted c "0 $LEN colo primary $B 1 2 max_copies 1024"
accepted c "0 1000 colo secondary $B $H $A 64"

# --- bad tables ------------------------------------------------------------
refused c "0 $LEN colo" "Missing mode"
refused c "0 $LEN colo tertiary $B $H $A 8" "Invalid mode"
refused c "0 $LEN colo secondary $B $H $A" "Too few arguments"
refused c "0 $LEN colo primary $B" "Too few arguments"
refused c "0 $LEN colo secondary $B $H $A 0" "not a power of two"
refused c "0 $LEN colo secondary $B $H $A 3" "not a power of two"
refused c "0 $LEN colo secondary $B $H $A 12" "not a power of two"
refused c "0 $LEN colo secondary $B $H $A 4096" "larger than 2048"
refused c "0 $LEN colo secondary $B $H $A -8" "not a number"
refused c "0 $LEN colo secondary $B $H $A 8k" "not a number"
refused c "0 $LEN colo secondary $B $H $A 99999999999999999999999" "not a number"
refused c "0 $LEN colo primary $B 8 1" "count does not match"
refused c "0 $LEN colo primary $B 8 2 max_copies" "count does not match"
refused c "0 $LEN colo primary $B 8 1 max_copies" "needs a value"
refused c "0 $LEN colo primary $B 8 2 turbo 1" "Unknown optional argument"
refused c "0 $LEN colo primary $B 8 2 max_copies 0" "Invalid max_copies"
refused c "0 $LEN colo primary $B 8 2 max_copies 1025" "Invalid max_copies"
refused c "0 $LEN colo primary $B 8 4 max_copies 1 max_copies 2" "given twice"
refused c "0 $LEN colo primary $B 8 x" "Invalid number of optional"
refused c "0 $LEN colo secondary /dev/nonexistent $H $A 8" "Error opening base"
refused c "0 $LEN colo secondary $B /dev/nonexistent $A 8" "Error opening hidden"
refused c "0 $LEN colo secondary $B $H /dev/nonexistent 8" "Error opening active"
refused c "0 $LEN colo primary /dev/nonexistent 8" "Error opening base"
refused c "0 $LEN colo secondary /dev/mapper/small $H $A 8" "Base device is smaller"
refused c "0 $LEN colo secondary $B /dev/mapper/small $A 8" "Hidden device is smaller"
refused c "0 $LEN colo secondary $B $H /dev/mapper/small 8" "Active device is smaller"
refused c "0 $((LEN + 8)) colo primary $B 8" "Base device is smaller"
refused c "0 $LEN colo secondary $B $B $A 8" "must be different devices"
refused c "0 $LEN colo secondary $B $H $H 8" "must be different devices"
refused c "0 $LEN colo secondary $B $H $B 8" "must be different devices"

# --- pairing with colo-ingress -----------------------------------------------
refused i "0 $LEN colo-ingress $B" "No active colo device uses this base"
refused i "0 $LEN colo-ingress" "Invalid argument count"
refused i "0 $LEN colo-ingress $B $H" "Invalid argument count"
refused i "0 $LEN colo-ingress /dev/nonexistent" "Error opening base"

check "create secondary" dmsetup create c --table "0 $LEN colo secondary $B $H $A 8"
refused c2 "0 $LEN colo secondary $B /dev/ram3 /dev/ram4 8" "already used by another colo"
refused i "0 $((LEN + 8)) colo-ingress $B" "longer than the colo device"
check "ingress attaches" dmsetup create i --table "0 $LEN colo-ingress $B"
refused i2 "0 $LEN colo-ingress $B" "already has a colo-ingress"
check_match "status shows the ingress" " attached ok [0-9]+ (complete|unknown) (none|ok|failed) " "$(dmsetup status c)"
check_match "ingress status names its colo device" "colo-ingress c$" "$(dmsetup status i)"
check_fails "colo device cannot be removed while an ingress is attached" dmsetup remove c
check "colo device still there" dmsetup info c
check "reload with the same table accepted while an ingress is attached" \
	dmsetup reload c --table "0 $LEN colo secondary $B $H $A 8"
check "resume the reloaded table" dmsetup resume c
check_match "the ingress stays attached across the reload" "colo-ingress c$" "$(dmsetup status i)"
check "ingress removed" dmsetup remove i
check "colo removed after its ingress" dmsetup remove c

check "create primary" dmsetup create p --table "0 $LEN colo primary $B 8"
refused i "0 $LEN colo-ingress $B" "not in secondary mode"
check "remove primary" dmsetup remove p

# a new chunk size: only for an idle colo device (no state), suspended
check "create for reload" dmsetup create c --table "0 $LEN colo secondary $B $H $A 8"
check_fails "reload with a new chunk size refused while live" \
	dmsetup reload c --table "0 $LEN colo secondary $B $H $A 16"
dmsetup clear c 2>/dev/null
check "suspend for the reload" dmsetup suspend c
check "reload with a new chunk size accepted while suspended" \
	dmsetup reload c --table "0 $LEN colo secondary $B $H $A 16"
check "resume the reloaded table" dmsetup resume c
check_match "reloaded table is live" "colo secondary .* 16$" "$(dmsetup table c)"
check "ingress attaches to the reloaded device" dmsetup create i --table "0 $LEN colo-ingress $B"
dmsetup remove i; dmsetup remove c

# --- status and table --------------------------------------------------------
dmsetup create c --table "0 $LEN colo secondary $B $H $A 8 2 max_copies 8"
CH=$((LEN / 8))
check_eq "status line" "0 $LEN colo secondary 8 0/$CH 0/$CH none 0/0 0/$CH none 0/0 none ok 48 unknown none - - none 0/0 0 none 0/0 0 0 none 0 none" "$(dmsetup status c)"
check_match "table line round-trips" "^0 $LEN colo secondary [0-9]+:[0-9]+ [0-9]+:[0-9]+ [0-9]+:[0-9]+ 8 2 max_copies 8$" "$(dmsetup table c)"
T=$(dmsetup table c)
dmsetup remove c
check "table output loads again" dmsetup create c --table "$T"
dmsetup remove c
dmsetup create c --table "0 1000 colo primary $B 64"
check_eq "partial last chunk counted" "0 1000 colo primary 64 0/16 0/16 none 0/0 0/16 none 0/0 none ok 48 unknown none - - none 0/0 0 none 0/0 0 0 none 0 none" "$(dmsetup status c)"
dmsetup remove c

# --- messages ----------------------------------------------------------------
dmsetup create c --table "0 $LEN colo secondary $B $H $A 8"
dmsetup create p --table "0 $LEN colo primary /dev/ram3 8"
msg_refused() {
	local dev=$1 err=$2 log
	shift 2
	dmesg -c > /dev/null
	if dmsetup message "$dev" 0 "$@" > /dev/null 2>&1; then
		t_fail "message refused: $dev $*"
		return
	fi
	log=$(dmesg -c)
	if echo "$log" | grep -qF -- "$err"; then
		t_ok "message refused ($err): $dev $*"
	else
		t_fail "message refused: $dev $*"
		t_diag "expected '$err' in: $log"
	fi
}
msg_refused c "Unknown message" frobnicate
msg_refused c "Message takes no arguments" checkpoint now
msg_refused c "only valid in primary mode" mirror stop
msg_refused c "only valid in primary mode" mirror start /dev/ram4
msg_refused p "only valid in secondary mode" checkpoint
msg_refused p "only valid in secondary mode" failover
msg_refused p "sync mode must be full or dirty" mirror start /dev/ram4 sideways
msg_refused p "expected start, rate, stop, async or sync" mirror
msg_refused p "expected <dev> [full|dirty [<KiB/s>|auto]] [min_rate <KiB/s>] [async <max_lag>]" mirror start
check_eq "refused messages changed nothing" "0 $LEN colo secondary 8 0/$CH 0/$CH none 0/0 0/$CH none 0/0 none ok 48 unknown none - - none 0/0 0 none 0/0 0 0 none 0 none" "$(dmsetup status c)"
dmsetup remove p c
dmsetup remove small

# --- module reference --------------------------------------------------------
dmsetup create c --table "0 $LEN colo secondary $B $H $A 8"
check_fails "module unload refused while in use" rmmod dm-colo
dmsetup remove c
check "module unloads when unused" rmmod dm-colo
check "module loads again" insmod /lib/modules/dm-colo.ko
check_match "targets registered" "colo-ingress" "$(dmsetup targets)"

t_done
