#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Reloads under I/O (SPEC.md "Durability" -> "Reload"): while the model
# checker runs (secondary with ingress writes, checkpoints and a failover;
# primary with mirror starts, stops and replica failures), the same table is
# loaded, the device suspended and resumed, again and again; every read the
# checker makes must still be exact, so no reload changed the VM's view or
# forgot a dirty chunk. With and without a metadata device. A table that
# cannot carry the state (another chunk size) is refused meanwhile.
. /tests/lib.sh

brd_setup 5 16
LEN=$(dev_sectors /dev/ram0)
OPS=${COLO_T_RELOAD_OPS:-1500}
# Rounds of the four runs (make soak: 20; a reload race showed in 2 of 70).
ROUNDS=${COLO_T_RELOAD_ROUNDS:-1}

# reloader NAME TABLE: reload NAME with TABLE until /tmp/fsx.done exists;
# counts the reloads in /tmp/reloads and refused bad reloads in /tmp/bad.
reloader() {
	local n=0 bad=0
	while [ ! -e /tmp/fsx.done ]; do
		if dmsetup load "$1" --table "$2" && dmsetup suspend "$1" &&
		   dmsetup resume "$1"; then
			n=$((n + 1))
		else
			dmsetup resume "$1" 2>/dev/null
			echo "reload $n failed" >> /tmp/reload.err
		fi
		# A new chunk size cannot carry the state: refused, nothing changes.
		if dmsetup load "$1" --table "$3" 2>/dev/null; then
			echo "a chunk size change was accepted under I/O" >> /tmp/reload.err
			dmsetup clear "$1"
		else
			bad=$((bad + 1))
		fi
		sleep 0.2
	done
	echo $n > /tmp/reloads
	echo $bad > /tmp/bad
}

# run DESC TABLE BAD-TABLE COLO-FSX-ARGS...
run() {
	local desc=$1 table=$2 badtable=$3 seed
	shift 3
	rm -f /tmp/fsx.done /tmp/reload.err
	seed=${FSX_SEED:-$(( $(date +%s) * 1000 + ${#desc} ))}
	dmesg -c > /dev/null
	reloader c "$table" "$badtable" &
	if ! fsx_run "$desc: $OPS ops, seed $seed" '^# colo-fsx:' --seed "$seed" \
		--ops "$OPS" "$@"; then
		t_diag "the kernel's device-mapper lines meanwhile (last 40):"
		dmesg | grep -E 'device-mapper|colo' | tail -n 40 | sed 's/^/#   /'
	fi
	touch /tmp/fsx.done
	wait
	check_eq "$desc: no reload failed" "" "$(cat /tmp/reload.err 2>/dev/null)"
	check "$desc: reloads under I/O ($(cat /tmp/reloads))" test "$(cat /tmp/reloads)" -ge 3
	check "$desc: chunk size changes refused ($(cat /tmp/bad))" test "$(cat /tmp/bad)" -ge 3
}

round=0
while [ $round -lt "$ROUNDS" ]; do
	round=$((round + 1))
	for meta in none metadata; do
		opt="" m=""
		if [ $meta = metadata ]; then
			dd if=/dev/zero of=/dev/ram3 bs=1M count=1 oflag=direct 2>/dev/null
			opt=" 2 metadata /dev/ram3" m="with metadata"
		fi
		dm_cleanup
		T="0 $LEN colo secondary /dev/ram0 /dev/ram1 /dev/ram2 8$opt"
		dmsetup create c --table "$T" &&
			dmsetup create c-ingress --table "0 $LEN colo-ingress /dev/ram0" &&
			dmsetup mknodes || t_fail "secondary $m: setup"
		run "secondary $m" "$T" "0 $LEN colo secondary /dev/ram0 /dev/ram1 /dev/ram2 16$opt" \
			--name c --vm /dev/mapper/c --ingress /dev/mapper/c-ingress \
			--base /dev/ram0 --hidden /dev/ram1 --active /dev/ram2 --chunk 8 \
			--vm-threads 2 --ingress-threads 2 --checkpoint-every 200 --failover

		dm_cleanup
		[ $meta = metadata ] &&
			dd if=/dev/zero of=/dev/ram3 bs=1M count=1 oflag=direct 2>/dev/null
		T="0 $LEN colo primary /dev/ram0 8$opt"
		dmsetup create rep --table "0 $LEN linear /dev/ram4 0" &&
			dmsetup create c --table "$T" && dmsetup mknodes ||
			t_fail "primary $m: setup"
		run "primary $m" "$T" "0 $LEN colo primary /dev/ram0 16$opt" \
			--mirror --name c --vm /dev/mapper/c --base /dev/ram0 \
			--replica /dev/mapper/rep --replica-dm rep --replica-lower /dev/ram4 \
			--chunk 8 --vm-threads 2 --ingress-threads 0
	done
done
dm_cleanup
t_done
