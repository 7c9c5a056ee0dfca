#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The debug lane's last test: every device removed and dm-colo unloaded,
# kmemleak finds nothing that the tests allocated and nobody references.
# (A young object is only reported by a scan after it aged: two scans, a
# few seconds apart.)
. /tests/lib.sh

dm_cleanup
check "dm-colo unloads" rmmod dm-colo
sleep 6
echo scan > /sys/kernel/debug/kmemleak
sleep 6
echo scan > /sys/kernel/debug/kmemleak
leaks=$(cat /sys/kernel/debug/kmemleak)
check_eq "kmemleak finds no leak" "" "$leaks"
[ -n "$leaks" ] && echo "$leaks" | head -n 60 | sed 's/^/#   /'
t_done
