#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# demo.sh (make demo): install what is missing, then run tests/demo.sh in a
# VM on one kernel (KERNEL=6.1 by default).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
"$top/scripts/deps.sh"
exec "$top/scripts/vm.sh" --kernel "${KERNEL:-6.1}" demo.sh
