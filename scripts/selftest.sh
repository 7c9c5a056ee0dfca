#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# selftest.sh: the model checker checks itself, on the host (no VM).
# "colo-fsx --selftest" runs it against an in-memory simulation of the
# target. Every mode must pass on the correct simulation (chunks 1, 8 and
# 128, seeds 1 to 3), and every planted bug (--selftest-bug) must be caught:
# colo-fsx exits 1 (a detected failure, not 2, a usage error) for at least
# one of the seeds 1 to 5. Seeds are fixed, so a run is reproducible.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
cd "$top"

make -s -C tests/src || { echo "selftest: building colo-fsx failed"; echo "selftest: 0 passed, 1 failed"; exit 1; }
fsx=tests/bin/colo-fsx
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok $((pass + fail)) - selftest: $*"; }
notok() { fail=$((fail + 1)); echo "not ok $((pass + fail)) - selftest: $*"; }

modes=("" "--failover" "--mirror" "--fault base" "--fault hidden" "--fault active")
for chunk in 1 8 128; do
	for m in "${modes[@]}"; do
		bad=
		for seed in 1 2 3; do
			# shellcheck disable=SC2086
			if ! out=$(timeout 120 "$fsx" --selftest --chunk "$chunk" --ops 3000 \
				--seed "$seed" $m 2>&1); then
				bad="seed $seed: $(tail -n 3 <<< "$out" | tr '\n' ' ')"
				break
			fi
		done
		if [ -z "$bad" ]; then
			ok "chunk $chunk ${m:-secondary}: passes on the simulation (seeds 1-3)"
		else
			notok "chunk $chunk ${m:-secondary}: $bad"
		fi
	done
done

# bug MODE...: the planted bug and the mode that exercises it.
while read -r bug m; do
	caught=0 usage=0
	for seed in 1 2 3 4 5; do
		# shellcheck disable=SC2086
		timeout 120 "$fsx" --selftest --chunk 8 --ops 3000 --seed "$seed" $m \
			--selftest-bug "$bug" > /dev/null 2>&1
		case $? in
		1) caught=$((caught + 1)) ;;
		0) ;;
		*) usage=$((usage + 1)) ;;
		esac
	done
	if [ "$caught" -gt 0 ] && [ "$usage" = 0 ]; then
		ok "planted bug $bug ($m) caught on $caught of 5 seeds"
	else
		notok "planted bug $bug ($m): caught on $caught of 5 seeds, $usage runs failed to run"
	fi
done <<'LIST'
cow
fill
nofence --failover
commit-hidden-first --failover
mirror-noclear-order --mirror
mirror-nodual --mirror
mirror-dirty-guess --mirror
fault-cow --fault base
fault-fill --fault active
fault-wrong-side --fault active
LIST

echo "selftest: $pass passed, $fail failed"
[ "$fail" = 0 ]
