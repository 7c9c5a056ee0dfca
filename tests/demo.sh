#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The demo: a COLO secondary device on RAM disks, written and read by the
# "VM" and by the primary's forwarded writes through the ingress.
. /tests/lib.sh

brd_setup 3 64
LEN=$(dev_sectors /dev/ram0)
say() { echo "# demo: $*"; }

say "secondary device: base=/dev/ram0 hidden=/dev/ram1 active=/dev/ram2, 4 KiB chunks"
check "dmsetup create vm (colo secondary)" \
	dmsetup create vm --table "0 $LEN colo secondary /dev/ram0 /dev/ram1 /dev/ram2 8"
check "dmsetup create vm-ingress (colo-ingress)" \
	dmsetup create vm-ingress --table "0 $LEN colo-ingress /dev/ram0"
dmsetup mknodes
say "table:  $(dmsetup table vm)"
say "status: $(dmsetup status vm)"

say "the primary forwards a write of 'P' to sector 0 through the ingress"
printf 'PPPPPPPP' | dd of=/dev/mapper/vm-ingress bs=4096 conv=sync,notrunc oflag=direct 2>/dev/null
check_eq "ingress write reached base" "PPPPPPPP" "$(dd if=/dev/ram0 bs=8 count=1 2>/dev/null)"

say "the secondary VM writes 'S' to sector 8 of its disk"
printf 'SSSSSSSS' | dd of=/dev/mapper/vm bs=4096 seek=1 conv=sync,notrunc oflag=direct 2>/dev/null
check_eq "VM reads its own write" "SSSSSSSS" "$(dd if=/dev/mapper/vm bs=4096 skip=1 count=1 iflag=direct 2>/dev/null | head -c 8)"
say "status: $(dmsetup status vm)"

say "checkpoint: the VM's disk is brought back in line with the primary"
check "checkpoint" dmsetup message vm 0 checkpoint
check_eq "VM reads the primary's data" "PPPPPPPP" "$(dd if=/dev/mapper/vm bs=4096 count=1 iflag=direct 2>/dev/null | head -c 8)"
say "status: $(dmsetup status vm)"

say "the secondary VM writes 'T' to sector 16; the primary forwards 'Q' to sector 24"
printf 'TTTTTTTT' | dd of=/dev/mapper/vm bs=4096 seek=2 conv=sync,notrunc oflag=direct 2>/dev/null
printf 'QQQQQQQQ' | dd of=/dev/mapper/vm-ingress bs=4096 seek=3 conv=sync,notrunc oflag=direct 2>/dev/null
say "the primary host dies: failover (the VM carries on at once)"
ev=$(dmsetup info -c -o events --noheadings vm | tr -d ' ')
check "failover" dmsetup message vm 0 failover
check_fails "the ingress is fenced" dd if=/dev/zero of=/dev/mapper/vm-ingress bs=4096 count=1 oflag=direct conv=notrunc
check "dmsetup wait: the commit is done" timeout 60 dmsetup wait vm "$ev"
say "status: $(dmsetup status vm)"
check_eq "base holds the VM's write" "TTTTTTTT" "$(dd if=/dev/ram0 bs=4096 skip=2 count=1 iflag=direct 2>/dev/null | head -c 8)"
check_eq "base lost the forwarded write the VM never saw" "" "$(dd if=/dev/ram0 bs=4096 skip=3 count=1 iflag=direct 2>/dev/null | tr -d '\0' | head -c 8)"

dmsetup remove vm-ingress
dmsetup remove vm
t_done
