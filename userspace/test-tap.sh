# SPDX-License-Identifier: GPL-2.0
#
# What the userspace shell tests (test-udev, test-units, test-completion)
# share, sourced: TAP lines with their counts, and the summary line.
pass=0
fail=0
ok() { # ok COND-RC WHAT [GOT]
	if [ "$1" = 0 ]; then
		pass=$((pass + 1)); echo "ok - $2"
	else
		fail=$((fail + 1)); echo "not ok - $2${3:+: got '$3'}"
	fi
}
eq() { [ "$2" = "$3" ]; ok $? "$1" "$3"; }
# tap_end WHAT: "WHAT: N passed, N failed"; its status is 0 when none failed.
tap_end() { echo "$1: $pass passed, $fail failed"; [ "$fail" = 0 ]; }
