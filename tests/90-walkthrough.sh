#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The README's walk-through (tests/demo.sh, what make demo runs) as part of
# make check, on every kernel.
. /tests/demo.sh
