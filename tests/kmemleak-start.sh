#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The debug lane's first test: kmemleak is there (the debug kernel has it),
# and forgets what boot left, so kmemleak-end.sh reports only what the
# tests leaked.
. /tests/lib.sh

mount -t debugfs none /sys/kernel/debug 2>/dev/null
check "kmemleak is there" test -w /sys/kernel/debug/kmemleak
check "kmemleak forgets the boot" sh -c 'echo clear > /sys/kernel/debug/kmemleak'
t_done
