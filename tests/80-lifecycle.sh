#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Lifecycle under I/O (README "Lifecycle", "Failover", "Messages"), with
# the content checked, not only the exit codes:
#
#  1. suspend/resume loops of the colo device, of its ingress and of both,
#     while the model checker (colo-fsx) runs VM and ingress I/O with
#     checkpoints, and once with a failover in the middle
#  2. dmsetup remove of a colo device with an attached ingress under I/O:
#     refused; --deferred: done when the ingress goes; --force: the table
#     is replaced, the ingress detaches and fails its I/O
#  3. rmmod dm-colo while in use (devices under I/O, an inactive table):
#     refused; unused: unloads, and loads again
#  4. the same message from two processes at once (colo-fuzz --race, two
#     threads released together): checkpoint+checkpoint, failover+failover
#     (also under load), checkpoint+failover, mirror start twice, mirror
#     start+stop: only the documented outcomes, a consistent status, and
#     the content the outcome implies
#  5. the ingress's NBD client, then its server, killed in the middle of
#     writes: no hang, the VM's view unchanged, every completed ingress
#     write on base, a checkpoint then gives view == base
#
# Sizes: COLO_T_LIFE_OPS (model-checker ops per run), COLO_T_LIFE_RACES
# (rounds of each race), COLO_T_LIFE_CF (checkpoint+failover races per
# round); make soak raises them.
. /tests/lib.sh

OPS=${COLO_T_LIFE_OPS:-1000}
RACES=${COLO_T_LIFE_RACES:-1}
CF_RUNS=${COLO_T_LIFE_CF:-4}	# checkpoint+failover races per round
SEED=${FSX_SEED:-$(( $(date +%s) % 100000 * 1000 + $$ % 1000 ))}
MIB=4
HALF=$((MIB * 8))	# 64 KiB blocks in half a device
brd_setup 8 $MIB
LEN=$(dev_sectors /dev/ram0)
KV=$(uname -r | cut -d. -f1,2)

# sect NAME: the time the previous section took, then NAME.
SECT_T=$(date +%s) SECT_N=""
sect() {
	[ -n "$SECT_N" ] && t_diag "$SECT_N: $(( $(date +%s) - SECT_T ))s"
	SECT_T=$(date +%s) SECT_N=$1
}
mk_secondary() {
	dm_cleanup
	dmsetup create c --table "0 $LEN colo secondary /dev/ram0 /dev/ram1 /dev/ram2 ${1:-8}" &&
		dmsetup create ci --table "0 $LEN colo-ingress /dev/ram0" &&
		dmsetup mknodes
}
# wait_gone PID SECONDS: the process ended within SECONDS.
wait_gone() {
	local i=0
	while kill -0 "$1" 2>/dev/null; do
		[ $i -ge $(($2 * 10)) ] && return 1
		sleep 0.1; i=$((i + 1))
	done
	wait "$1" 2>/dev/null
	return 0
}

# --- 1. suspend/resume under I/O, model-checked ----------------------------
sect "suspend/resume"
# suspend_loop: suspend and resume c, ci, both (ingress first), c with
# --noflush, until /tmp/stop-susp appears; counts cycles and failed commands.
suspend_loop() {
	local n=0 bad=0
	rm -f /tmp/susp.out
	while [ ! -e /tmp/stop-susp ]; do
		case $((n % 4)) in
		0) dmsetup suspend c && dmsetup resume c ;;
		1) dmsetup suspend ci && dmsetup resume ci ;;
		2) dmsetup suspend ci && dmsetup suspend c && sleep 0.05 &&
			dmsetup resume c && dmsetup resume ci ;;
		3) dmsetup suspend --noflush c && sleep 0.02 && dmsetup resume c ;;
		esac || { bad=$((bad + 1)); dmsetup resume c; dmsetup resume ci; }
		n=$((n + 1))
		sleep 0.0$((n % 7))
	done
	echo "$n $bad" > /tmp/susp.out
}

for mode in secondary failover; do
	mk_secondary 8 || { t_fail "$mode: setup"; continue; }
	rm -f /tmp/stop-susp
	suspend_loop &
	lpid=$!
	extra=""
	[ $mode = failover ] && extra=--failover
	fsx_run "$mode: model checker with suspend/resume loops of c and ci ($OPS ops, seed $SEED)" \
		'^# (colo-fsx|failover):' --name c --vm /dev/mapper/c --ingress /dev/mapper/ci \
		--base /dev/ram0 --hidden /dev/ram1 --active /dev/ram2 --chunk 8 \
		--ops "$OPS" --checkpoint-every 150 --seed "$SEED" $extra
	touch /tmp/stop-susp
	if wait_gone $lpid 60; then
		read -r cycles bad < /tmp/susp.out
		t_diag "$mode: $cycles suspend/resume cycles during the run"
		check_eq "$mode: every suspend and resume succeeded" 0 "$bad"
		[ "$cycles" -ge 4 ] && t_ok "$mode: at least 4 suspend/resume cycles ran" ||
			t_fail "$mode: only $cycles suspend/resume cycles ran"
	else
		t_fail "$mode: the suspend loop hangs"
	fi
	check_match "$mode: no I/O error" " ok [0-9]+ (complete|unknown) (none|ok|failed) " "$(dmsetup status c)"
done
[ "$FSX_SEED" ] || t_diag "replay: FSX_SEED=$SEED scripts/vm.sh --kernel $KV 80-lifecycle.sh"

# --- 2. remove with an attached ingress, under I/O -------------------------
sect "remove"
# (exec: $! is fio itself, so that kill reaches it)
fio_vm() {	# verify job over the whole VM device
	exec fio --name=vm --filename=/dev/mapper/c --direct=1 --eta=never --ioengine=libaio \
		--iodepth=8 --rw=randwrite --bsrange=4k-64k --size=${MIB}m \
		--verify=crc32c --verify_fatal=1 --randseed="$1" --output=/tmp/fio-vm.log \
		2> /tmp/fio-vm.err
}
fio_in() {	# ingress writer, until killed
	exec fio --name=in --filename=/dev/mapper/ci --direct=1 --eta=never --ioengine=libaio \
		--iodepth=8 --rw=randwrite --bsrange=4k-64k --time_based --runtime=600 \
		--randseed="$1" --output=/tmp/fio-in.log 2> /tmp/fio-in.err
}

mk_secondary 8
fio_in 21 &
ipid=$!
fio_vm 22 &
vpid=$!
sleep 1
out=$(dmsetup remove c 2>&1)
rc=$?
[ $rc != 0 ] && t_ok "remove of c with an attached ingress refused (I/O in flight)" ||
	t_fail "remove of c with an attached ingress succeeded"
check_match "the refusal says busy" "busy" "$out"
check "c is still there" dmsetup info c
check_fails "rmmod refused while the devices do I/O" rmmod dm-colo
check "module still loaded" grep -q '^dm_colo ' /proc/modules
check_fails "remove of c refused again" dmsetup remove c
wait_gone $vpid 300
check "fio verify on c while the removes and rmmod were refused" grep -q 'err= 0' /tmp/fio-vm.log
kill $ipid; wait_gone $ipid 60 || t_fail "ingress writer hangs"
check_match "ingress still attached, no error" " attached ok [0-9]+ (complete|unknown) (none|ok|failed) " "$(dmsetup status c)"

check "deferred remove of c accepted" dmsetup remove --deferred c
check_match "c is marked for deferred removal" "DEFERRED" "$(dmsetup info c)"
check "c still does I/O" dd if=/dev/zero of=/dev/mapper/c bs=4k count=16 oflag=direct
check "ci still does I/O" dd if=/dev/zero of=/dev/mapper/ci bs=4k count=16 seek=100 oflag=direct
check "remove ci" dmsetup remove ci
i=0
while dmsetup info c > /dev/null 2>&1 && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
check_fails "c went away once its ingress was removed" dmsetup info c

mk_secondary 8
fio_in 23 &
ipid=$!
fio --name=vmr --filename=/dev/mapper/c --direct=1 --eta=never --ioengine=libaio \
	--iodepth=8 --rw=randrw --bs=4k --time_based --runtime=600 --output=/tmp/fio-vmr.log \
	2> /tmp/fio-vmr.err &
vpid=$!
sleep 1
dmsetup remove --force c > /tmp/force.out 2>&1
check_match "remove --force replaced the colo table" "error" "$(dmsetup table c)"
check_eq "the ingress says detached" "0 $LEN colo-ingress detached" "$(dmsetup status ci)"
check_fails "ingress writes fail once detached" \
	dd if=/dev/zero of=/dev/mapper/ci bs=4k count=1 oflag=direct conv=notrunc
kill $ipid $vpid 2>/dev/null
wait_gone $ipid 60 && wait_gone $vpid 60 && t_ok "I/O ended after remove --force" ||
	t_fail "I/O hangs after remove --force"
check "remove the detached ingress" dmsetup remove ci
check "then c" dmsetup remove c

# --- 3. module unload while in use ------------------------------------------
sect "rmmod"
# (refused under I/O: above)
dm_cleanup
dmsetup create empty --notable
check "an inactive colo table" dmsetup load empty --table "0 $LEN colo primary /dev/ram0 8"
check_fails "rmmod refused with only an inactive table" rmmod dm-colo
check "clear the inactive table" dmsetup clear empty
check "rmmod when no table uses it" rmmod dm-colo
check_fails "no colo target without the module" \
	dmsetup load empty --table "0 $LEN colo primary /dev/ram0 8"
check "insmod again" insmod /lib/modules/dm-colo.ko
check "the empty device takes a colo table" dmsetup load empty --table "0 $LEN colo primary /dev/ram0 8"
check "and resumes it" dmsetup resume empty
dm_cleanup

# --- 4. the same message from two processes at once ---------------------------
sect "message races"
# race DEV MSG1 MSG2: both at once; sets R1 R2 to their results (0, -errno).
race() {
	set -- $(colo-fuzz --race "$@")
	R1=$1 R2=$2
}
# fill: VM writes (the view) and ingress writes (base) on overlapping chunks.
fill() {
	dd if=/dev/urandom of=/dev/mapper/c bs=4k seek="$1" count=64 oflag=direct conv=notrunc 2>/dev/null
	dd if=/dev/urandom of=/dev/mapper/ci bs=4k seek="$2" count=64 oflag=direct conv=notrunc 2>/dev/null
	V=$(direct_sum /dev/mapper/c)
	B=$(direct_sum /dev/ram0)
}

r=1
while [ $r -le "$RACES" ]; do
	# checkpoint + checkpoint: both succeed; the view is base.
	mk_secondary 8; fill $((r * 10)) $((r * 10 + 50))
	race c checkpoint checkpoint
	check_eq "round $r: checkpoint+checkpoint both succeed" "0 0" "$R1 $R2"
	check_match "round $r: checkpoint+checkpoint: overlay empty" "^0/[0-9]+ 0/[0-9]+$" \
		"$(field c 6) $(field c 7)"
	check_eq "round $r: checkpoint+checkpoint: view is base" "$B" "$(direct_sum /dev/mapper/c)"

	# failover + failover: one wins, the other is refused.
	mk_secondary 8; fill $((r * 10)) $((r * 10 + 50))
	race c failover failover
	case "$R1 $R2" in
	"0 -22"|"-22 0") t_ok "round $r: failover+failover: one wins ($R1 $R2)" ;;
	*) t_fail "round $r: failover+failover: results $R1 $R2 (expected 0 and -22)" ;;
	esac
	wait_field c 8 done 60 || t_fail "round $r: commit not done"
	check_match "round $r: failover+failover: primary, all committed" \
		"^primary done ([0-9]+)/\\1$" "$(field c 4) $(field c 8) $(field c 9)"
	check_eq "round $r: failover+failover: view kept" "$V" "$(direct_sum /dev/mapper/c)"
	check_eq "round $r: failover+failover: base is the view" "$V" "$(direct_sum /dev/ram0)"

	# checkpoint + failover: either order, with its own content; CF_RUNS
	# times (the race that lost the overlay before the mode was checked
	# under msg_lock).
	k=1 first_ckpt=0 first_fo=0
	while [ $k -le "$CF_RUNS" ]; do
		mk_secondary 8; fill $((r * 10 + k)) $((r * 10 + k + 50))
		race c checkpoint failover
		wait_field c 8 done 60 || t_fail "round $r.$k: commit not done"
		st="$(field c 4) $(field c 9)"
		case "$R1 $R2" in
		"0 0")
			first_ckpt=$((first_ckpt + 1))
			check_eq "round $r.$k: checkpoint, then failover: nothing to commit" \
				"primary 0/0" "$st"
			check_eq "round $r.$k: checkpoint, then failover: view is the old base" "$B" \
				"$(direct_sum /dev/mapper/c)" ;;
		"-22 0")
			first_fo=$((first_fo + 1))
			check_match "round $r.$k: failover, then checkpoint refused: all committed" \
				"^primary ([1-9][0-9]*)/\\1$" "$st"
			check_eq "round $r.$k: failover, then checkpoint refused: view kept" "$V" \
				"$(direct_sum /dev/mapper/c)" ;;
		*) t_fail "round $r.$k: checkpoint+failover: results $R1 $R2" ;;
		esac
		check_eq "round $r.$k: checkpoint+failover: base is the view" \
			"$(direct_sum /dev/mapper/c)" "$(direct_sum /dev/ram0)"
		k=$((k + 1))
	done
	t_diag "round $r: checkpoint+failover: checkpoint first $first_ckpt times, failover first $first_fo times"

	# mirror start twice (two replicas), then start + stop.
	dm_cleanup
	dmsetup create p --table "0 $LEN colo primary /dev/ram3 8"
	dmsetup mknodes p
	dd if=/dev/urandom of=/dev/mapper/p bs=64k count=16 seek=$r oflag=direct conv=notrunc 2>/dev/null
	race p "mirror start /dev/ram4 full" "mirror start /dev/ram5 full"
	case "$R1 $R2" in
	"0 -16") win=4 lose=5 ;;
	"-16 0") win=5 lose=4 ;;
	*) win=""; t_fail "round $r: mirror start twice: results $R1 $R2 (expected 0 and -16)" ;;
	esac
	if [ -n "$win" ]; then
		t_ok "round $r: mirror start twice: one wins (/dev/ram$win)"
		wait_field p 11 in-sync 60 || t_fail "round $r: mirror not in sync"
		check_eq "round $r: the winner's replica equals base" \
			"$(direct_sum /dev/ram3)" "$(direct_sum /dev/ram$win)"
		check "round $r: the loser's replica is not held" \
			dmsetup create lose --table "0 8 linear /dev/ram$lose 0"
		dmsetup remove lose 2>/dev/null
	fi
	check "round $r: mirror stop" dmsetup message p 0 mirror stop
	# a dirty start needs the replica that was in sync: the winner's
	rep=/dev/ram${win:-4} sync=dirty
	[ -n "$win" ] || sync=full
	race p "mirror start $rep $sync" "mirror stop"
	case "$R1 $R2" in
	"0 0")
		t_ok "round $r: mirror start+stop: start first, then stop"
		check_eq "round $r: start, stop: no mirror" "none 0/0" "$(field p 11) $(field p 12)" ;;
	"0 -22")
		t_ok "round $r: mirror start+stop: stop first (refused), then start"
		wait_field p 11 in-sync 60 || t_fail "round $r: mirror not in sync"
		check_eq "round $r: stop, start: replica equals base" \
			"$(direct_sum /dev/ram3)" "$(direct_sum $rep)"
		dmsetup message p 0 mirror stop ;;
	*) t_fail "round $r: mirror start+stop: results $R1 $R2" ;;
	esac
	check_match "round $r: primary healthy" " ok [0-9]+ (complete|unknown) (none|ok|failed) " "$(dmsetup status p)"
	r=$((r + 1))
done

# failover + failover under load: the VM's fio verify runs across it (the
# view never changes), the ingress writer is fenced.
mk_secondary 8
fio_in 41 &
ipid=$!
fio_vm 42 &
vpid=$!
sleep 1
race c failover failover
case "$R1 $R2" in
"0 -22"|"-22 0") t_ok "under load: failover+failover: one wins ($R1 $R2)" ;;
*) t_fail "under load: failover+failover: results $R1 $R2" ;;
esac
wait_gone $ipid 60 || { t_fail "under load: the fenced ingress writer goes on"; kill $ipid; }
check_match "under load: the ingress writer got errors" "err=[ ]*[1-9-]|Input/output error" \
	"$(cat /tmp/fio-in.log /tmp/fio-in.err)"
wait_gone $vpid 300
check "under load: fio verify on c across the failover" grep -q 'err= 0' /tmp/fio-vm.log
wait_field c 8 done 60 || t_fail "under load: commit not done"
check_eq "under load: base is the view" "$(direct_sum /dev/mapper/c)" "$(direct_sum /dev/ram0)"

# --- 5. the NBD client and server killed in the middle of writes -------------
sect "nbd"
ifconfig lo 127.0.0.1 up
mk_secondary 8
dd if=/dev/urandom of=/dev/mapper/c bs=64k count=$HALF oflag=direct 2>/dev/null
PORT=10811
qemu-nbd -f raw --cache=none -t -b 127.0.0.1 -p $PORT -x ing /dev/mapper/ci > /tmp/qnbd.log 2>&1 &
spid=$!
# nbd_connect: nbd-client in ioctl mode (it stays, holding the connection).
nbd_connect() {
	local i=0
	while [ $i -lt 50 ]; do
		nbd-client 127.0.0.1 $PORT /dev/nbd0 -N ing -L -n > /tmp/nbdc.log 2>&1 &
		cpid=$!
		local j=0
		while [ $j -lt 30 ]; do
			[ "$(cat /sys/block/nbd0/size)" != 0 ] && return 0
			kill -0 $cpid 2>/dev/null || break
			sleep 0.1; j=$((j + 1))
		done
		kill $cpid 2>/dev/null; wait $cpid 2>/dev/null
		sleep 0.2; i=$((i + 1))
	done
	return 1
}
# tracked_writes PATTERN: 64 KiB blocks of PATTERN to the second half of
# nbd0, one at a time; /tmp/done holds the last block whose write completed
# (replaced by a rename, so a reader never sees it empty).
tracked_writes() {
	local i=0
	while [ $i -lt $HALF ]; do
		dd if="$1" of=/dev/nbd0 bs=64k skip=$i seek=$((HALF + i)) count=1 \
			oflag=direct conv=notrunc 2>/dev/null || break
		echo $i > /tmp/done.new && mv /tmp/done.new /tmp/done
		i=$((i + 1))
	done
}
# nbd_round WHAT KILLPID PATTERN: writes through nbd0 (fio on the first
# 8 MiB, tracked blocks after it), KILLPID killed -9 in the middle.
nbd_round() {
	local what=$1 victim=$2 pat=$3 view done i
	view=$(direct_sum /dev/mapper/c)
	echo -1 > /tmp/done
	fio --name=nbd --filename=/dev/nbd0 --direct=1 --eta=never --ioengine=libaio \
		--iodepth=16 --rw=randwrite --bsrange=4k-64k --size=$((MIB / 2))m --time_based \
		--runtime=600 --output=/tmp/fio-nbd.log 2> /tmp/fio-nbd.err &
	fpid=$!
	tracked_writes "$pat" &
	tpid=$!
	i=0
	while [ "$(cat /tmp/done)" -lt 4 ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
	kill -9 "$victim"
	if wait_gone $tpid 60 && wait_gone $fpid 60; then
		t_ok "$what killed mid-write: the writers ended (no hang)"
	else
		t_fail "$what killed mid-write: writers hang"
		kill -9 $tpid $fpid 2>/dev/null
	fi
	done=$(cat /tmp/done)
	t_diag "$what killed after $((done + 1)) tracked 64 KiB writes completed"
	[ "$done" -ge 4 ] && t_ok "$what: writes completed before the kill" ||
		t_fail "$what: only $((done + 1)) writes completed before the kill"
	i=0
	while [ "$(cat /sys/block/nbd0/size)" != 0 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	check_eq "$what: nbd0 disconnected" 0 "$(cat /sys/block/nbd0/size)"
	check_eq "$what: the VM's view unchanged by the ingress writes" "$view" \
		"$(direct_sum /dev/mapper/c)"
	check_eq "$what: every completed ingress write is on base" \
		"$(dd if="$pat" bs=64k count=$((done + 1)) 2>/dev/null | md5sum | cut -d' ' -f1)" \
		"$(dd if=/dev/ram0 bs=64k skip=$HALF count=$((done + 1)) iflag=direct 2>/dev/null | md5sum | cut -d' ' -f1)"
	check_match "$what: colo device healthy" "attached ok [0-9]+ (complete|unknown) (none|ok|failed) " "$(dmsetup status c)"
	check "$what: VM write after it" dd if=/dev/urandom of=/dev/mapper/c bs=4k count=4 seek=7 \
		oflag=direct conv=notrunc
	check "$what: checkpoint" dmsetup message c 0 checkpoint
	check_eq "$what: after the checkpoint the view is base" "$(direct_sum /dev/ram0)" \
		"$(direct_sum /dev/mapper/c)"
}
dd if=/dev/urandom of=/tmp/pat1 bs=64k count=$HALF 2>/dev/null
dd if=/dev/urandom of=/tmp/pat2 bs=64k count=$HALF 2>/dev/null
if nbd_connect; then
	t_ok "nbd-client connected to the exported colo-ingress"
	nbd_round "nbd-client" $cpid /tmp/pat1
	if nbd_connect; then
		t_ok "nbd-client reconnects after being killed"
		nbd_round "the NBD server" $spid /tmp/pat2
		wait_gone $cpid 30 || { t_fail "nbd-client stays after its server died"; kill -9 $cpid; }
	else
		t_fail "nbd-client does not reconnect"
		cat /tmp/nbdc.log /tmp/qnbd.log | sed 's/^/#   /'
	fi
else
	t_fail "nbd-client does not connect"
	cat /tmp/nbdc.log /tmp/qnbd.log | sed 's/^/#   /'
fi
kill -9 $spid 2>/dev/null
nbd-client -d /dev/nbd0 > /dev/null 2>&1
dm_cleanup
sect ""
t_done
