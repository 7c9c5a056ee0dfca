#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The table-line and message fuzzer, tests/src/fuzz/: thousands of
# random and mutated inputs through the DM ioctls, each judged by an
# oracle of the README's grammar (plus the dm core's word splitting and
# device lookup); every input must be refused with nothing left behind or
# accepted cleanly, and the kernel log must stay free of warnings. Sizes:
# COLO_T_FUZZ_TABLES, COLO_T_FUZZ_MSGS (make soak raises them); the seed is
# drawn and printed unless COLO_T_FUZZ_SEED is set.
#
# First, fixed cases for the two bugs the fuzzer found: two colo targets
# on one base in one table, and a mirror to the colo device itself.
. /tests/lib.sh

TABLES=${COLO_T_FUZZ_TABLES:-1000}
MSGS=${COLO_T_FUZZ_MSGS:-1000}
SEED=${COLO_T_FUZZ_SEED:-$(( $(date +%s) % 100000 * 10007 + $$ ))}
KV=$(uname -r | cut -d. -f1,2)

dm_cleanup
brd_setup 24 4
LEN=$(dev_sectors /dev/ram0)
H=$((LEN / 2))

# --- fixed cases ---------------------------------------------------------
dmesg -c > /dev/null
printf '0 %s colo secondary /dev/ram0 /dev/ram1 /dev/ram2 8\n%s %s colo secondary /dev/ram0 /dev/ram3 /dev/ram4 8\n' \
	"$H" "$H" "$H" > /tmp/two.table
check_fails "two colo targets on one base in one table refused" dmsetup create two /tmp/two.table
check_match "the refusal names the reason" "two colo targets of the table" "$(dmesg -c)"
check_fails "nothing left behind" dmsetup info two
printf '0 %s colo secondary /dev/ram0 /dev/ram1 /dev/ram2 8\n%s %s colo secondary /dev/ram3 /dev/ram4 /dev/ram5 8\n' \
	"$H" "$H" "$H" > /tmp/two.table
check "two colo targets on two bases load" dmsetup create two /tmp/two.table
dmsetup remove two

dmsetup create p --table "0 $LEN colo primary /dev/ram6 8"
dmsetup mknodes p
dd if=/dev/urandom of=/dev/mapper/p bs=64k count=8 oflag=direct 2>/dev/null
st=$(dmsetup status p)
dmesg -c > /dev/null
check_fails "mirror to the colo device itself refused" \
	timeout 30 dmsetup message p 0 mirror start /dev/mapper/p full
check_match "the refusal names the reason" "is the device itself" "$(dmesg -c)"
check_eq "status unchanged" "$st" "$(dmsetup status p)"
check "mirror to another device in sync" dmsetup message p 0 mirror start /dev/ram7 full
i=0
while [ $i -lt 300 ] && ! dmsetup status p | grep -q in-sync; do sleep 0.1; i=$((i + 1)); done
check_eq "replica equals base" "$(direct_sum /dev/ram6)" "$(direct_sum /dev/ram7)"
check "mirror stop" timeout 30 dmsetup message p 0 mirror stop
check "remove" timeout 30 dmsetup remove p

# --- the fuzzer ----------------------------------------------------------
dm_cleanup
# Every refusal logs an error line: keep thousands of them off the (slow,
# emulated) serial console. They stay in the kernel log, which colo-fuzz
# reads after every input and checks for warnings itself.
old_level=$(cut -f1 /proc/sys/kernel/printk)
echo 3 > /proc/sys/kernel/printk
devs=""
i=0
while [ $i -lt 24 ]; do devs="$devs /dev/ram$i"; i=$((i + 1)); done
start=$(date +%s)
# shellcheck disable=SC2086
colo-fuzz --seed "$SEED" --tables "$TABLES" --messages "$MSGS" \
	--replay-hint "COLO_T_FUZZ_SEED=$SEED COLO_T_FUZZ_TABLES=$TABLES COLO_T_FUZZ_MSGS=$MSGS scripts/vm.sh --kernel $KV 75-fuzz.sh" \
	$devs > /tmp/fuzz.log 2>&1
rc=$?
echo "$old_level" > /proc/sys/kernel/printk
grep '^colo-fuzz:' /tmp/fuzz.log | sed 's/^/# /'
if [ $rc = 0 ]; then
	t_ok "fuzzer: $TABLES tables, $MSGS messages, seed $SEED ($(( $(date +%s) - start ))s)"
else
	t_fail "fuzzer: colo-fuzz exit $rc (seed $SEED)"
	grep -v '^colo-fuzz: [a-z]*:' /tmp/fuzz.log | head -n 150 | sed 's/^/#   /'
fi
bad='BUG:|WARNING:|Oops|general protection fault|blocked for more than|UBSAN:|KASAN:|kernel BUG|Call Trace:|dm_put_device call missing'
check_fails "no kernel warning in the log" sh -c "dmesg | grep -E '$bad'"
dm_cleanup

# A colo device still does I/O after the run.
dmsetup create c --table "0 $LEN colo secondary /dev/ram0 /dev/ram1 /dev/ram2 8"
dmsetup mknodes c
dd if=/dev/urandom of=/tmp/blk bs=64k count=4 2>/dev/null
check "sanity I/O after the fuzzer: write" dd if=/tmp/blk of=/dev/mapper/c bs=64k count=4 oflag=direct
check_eq "sanity I/O after the fuzzer: read back" "$(md5sum < /tmp/blk | cut -d' ' -f1)" \
	"$(dd if=/dev/mapper/c bs=64k count=4 iflag=direct 2>/dev/null | md5sum | cut -d' ' -f1)"
dm_cleanup
rmmod brd
t_done
