#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# mirror-rate: the mirror's phase 1 and the online verify at the auto rate
# yield to the guest. With a guest fio job (4 KiB random writes) running,
# auto copies near min_rate and the guest keeps most of its IOPS; with the
# guest idle, auto copies far above min_rate. A fixed rate still holds.
# The status shows the rate achieved and the limit (dmsetup and colosetup,
# text and JSON). "mirror rate" and "verify rate" (dmsetup and colosetup)
# change a running pass's limit, and are refused without one. Bad rate
# words are refused with clear errors and change nothing. The replica
# equals base at the end.
#
# Timing in an emulated VM is coarse: every assertion on a rate has a wide
# margin (busy: under 3x min_rate; idle: over 4x min_rate; the guest: at
# least half its IOPS without a resync). Targets are for the benchmark.
. /tests/lib.sh

MIB=${RATE_MIB:-128}
MIN=1024			# min_rate, KiB/s
brd_setup 2 $MIB
LEN=$(dev_sectors /dev/ram0)
dmsetup create rep --table "0 $LEN linear /dev/ram1 0"
dmsetup create p --table "0 $LEN colo primary /dev/ram0 8"
dmsetup mknodes
dd if=/dev/urandom of=/dev/mapper/p bs=1M count=$MIB oflag=direct 2>/dev/null
DM=dm-$(dmsetup info -c --noheadings -o minor p | tr -d ' ')

# Status fields (dm's "<start> <len> colo" first): the mirror's state and
# mirrored/to_mirror, the verify's state and verified/to_verify, then the
# rate fields: mirror_rate mirror_limit verify_rate verify_limit.
mirrored() { field p 12 | cut -d/ -f1; }
verified() { field p 21 | cut -d/ -f1; }
rates() { dmsetup status p | awk '{ print $26, $27, $28, $29 }'; }
# The status but the counters and rates a running pass moves.
snap() { dmsetup status p | awk '{ $10 = $12 = $21 = $26 = $28 = ""; print }'; }
# Centiseconds since boot.
now_cs() { awk '{ split($1, a, "."); print a[1] * 100 + a[2] }' /proc/uptime; }
# Writes the guest completed on the colo device.
guest_writes() { awk '{ print $5 }' "/sys/block/$DM/stat"; }

# rate_of COUNTER SECONDS: sample COUNTER (a function printing chunks done)
# over SECONDS; prints "<KiB/s> <guest write IOPS>" for that interval.
rate_of() {
	local c0 c1 t0 t1 w0 w1
	c0=$($1); w0=$(guest_writes); t0=$(now_cs)
	sleep "$2"
	c1=$($1); w1=$(guest_writes); t1=$(now_cs)
	echo $(( (c1 - c0) * 4 * 100 / (t1 - t0) )) $(( (w1 - w0) * 100 / (t1 - t0) ))
}

# rate_holds COUNTER SECONDS LO HI DESC: the rate of COUNTER (rate_of) over
# SECONDS lies within LO..HI KiB/s, a check named "DESC (LO to HI)".
rate_holds() {
	local kib
	kib=$(rate_of "$1" "$2" | cut -d' ' -f1)
	t_diag "$5: $kib KiB/s"
	[ "$kib" -ge "$3" ] && [ "$kib" -le "$4" ]
	check_eq "$5 ($3 to $4)" 0 $?
}

# A guest job in the background: 4 KiB random writes at QD 8 for at most
# $1 seconds. No two overlapping writes in flight: those may land in one
# order on base and in the other on the replica (README, Mirror).
FIO_PID=
guest_start() {
	fio --name=guest --filename=/dev/mapper/p --direct=1 --ioengine=libaio \
		--iodepth=8 --rw=randwrite --bs=4k --time_based --runtime="$1" \
		--serialize_overlap=1 --randseed=66 --eta=never \
		--output=/tmp/fio-guest.log > /dev/null 2>&1 &
	FIO_PID=$!
	sleep 1
}
guest_stop() {
	[ -n "$FIO_PID" ] && kill "$FIO_PID" 2> /dev/null
	wait "$FIO_PID" 2> /dev/null
	FIO_PID=
}

# refused DESC KERNEL-SENTENCE MESSAGE...: see msg_refused in lib.sh.
refused() { msg_refused p "$@"; }

# --- bad input ------------------------------------------------------------------
check_eq "status: no pass yet, no limit" "0 none 0 none" "$(rates)"
R=/dev/mapper/rep
refused "min_rate without auto" \
	"mirror start: min_rate is the floor of the auto rate: give auto" \
	mirror start $R full 4096 min_rate 1024
refused "min_rate 0" "mirror start: min_rate must be a positive number of KiB/s" \
	mirror start $R full auto min_rate 0
refused "min_rate without a value" \
	"mirror start: min_rate must be a positive number of KiB/s" \
	mirror start $R full auto min_rate
refused "min_rate twice" "mirror start: min_rate given twice" \
	mirror start $R dirty auto min_rate 10 min_rate 10
refused "a word after the rate" \
	"mirror start: expected <dev> \[full\|dirty \[<KiB/s>\|auto\]\] \[min_rate <KiB/s>\] \[async <max_lag>\]" \
	mirror start $R full auto fast
refused "a bad rate" "mirror start: rate must be a positive number of KiB/s or auto" \
	mirror start $R full Auto
refused "auto without full|dirty" "mirror start: sync mode must be full or dirty" \
	mirror start $R auto
refused "verify: min_rate without auto" \
	"verify start: min_rate is the floor of the auto rate: give auto" \
	verify start 100 min_rate 10
refused "verify: a word after auto" \
	"verify start: expected \[<KiB/s>\|auto\] \[min_rate <KiB/s>\]" verify start auto 10
refused "mirror rate without a mirror" \
	"mirror rate refused: the mirror is none, not copying or in-sync" mirror rate 100
refused "verify rate without a verify" "verify rate refused: no verify is running" \
	verify rate auto
refused "mirror rate 0" \
	"mirror rate: rate must be a positive number of KiB/s, auto or none" mirror rate 0
refused "mirror rate without a rate" \
	"mirror rate: expected <KiB/s>\|auto\|none \[min_rate <KiB/s>\]" mirror rate
check_exit 2 "colosetup: --min-rate without --rate auto" \
	colosetup mirror start p $R --min-rate 1m
check_match "colosetup: says why" "--min-rate is the floor of --rate auto" "$OUT"
check_exit 2 "colosetup: --min-rate in MB" colosetup verify p --rate auto --min-rate 1MB
check_match "colosetup: says to use MiB" "say 1MiB" "$OUT"
check_eq "nothing started" "none 0 none 0 none" "$(field p 11) $(rates)"

# --- a fixed rate ----------------------------------------------------------------
check "fixed rate start" dmsetup message p 0 mirror start $R full 2048
sleep 1
rate_holds mirrored 3 1024 4096 "fixed rate: 2048 KiB/s held"
set -- $(rates)
[ "$1" -ge 1024 ] && [ "$1" -le 4096 ]
check_eq "fixed rate: status shows it ($1) and the limit" "0 2048" "$? $2"
refused "mirror rate: min_rate without auto" \
	"mirror rate: min_rate is the floor of the auto rate: give auto" \
	mirror rate 100 min_rate 10
check "mirror rate 4096 while copying" dmsetup message p 0 mirror rate 4096
sleep 1
rate_holds mirrored 3 2048 8192 "mirror rate: the new rate holds"
check_eq "mirror rate: the status shows the new limit" 4096 "$(rates | cut -d' ' -f2)"
# colosetup mirror rate: the same message, the rate in bytes per second.
check_exit 0 "colosetup mirror rate 8m while copying" colosetup mirror rate p 8m
check_eq "colosetup mirror rate 8m: the limit 8192 KiB/s" 8192 "$(rates | cut -d' ' -f2)"
sleep 1
rate_holds mirrored 2 4096 16384 "colosetup mirror rate 8m: the new rate holds"
check_eq "colosetup mirror rate: still copying" copying "$(field p 11)"
check_exit 0 "colosetup mirror rate auto --min-rate 3m" \
	colosetup mirror rate p auto --min-rate 3m
check_eq "colosetup mirror rate auto: auto and its floor" auto:3072 "$(rates | cut -d' ' -f2)"
check_exit 0 "colosetup mirror rate none" colosetup mirror rate p none
check_eq "colosetup mirror rate none: no limit" none "$(rates | cut -d' ' -f2)"
check_exit 2 "colosetup mirror rate: --min-rate without auto" \
	colosetup mirror rate p 4m --min-rate 1m
check_eq "colosetup mirror rate: says why" \
	"colosetup: mirror rate: --min-rate is the floor of the auto rate: give auto as RATE" "$OUT"
check_eq "colosetup mirror rate: refused, the limit unchanged" none "$(rates | cut -d' ' -f2)"
check "mirror rate auto" dmsetup message p 0 mirror rate auto min_rate 2048
check_eq "mirror rate: auto and its floor in the status" auto:2048 "$(rates | cut -d' ' -f2)"
check "mirror stop" dmsetup message p 0 mirror stop
check_eq "stopped: rate 0, the last limit stays" "0 auto:2048 0 none" "$(rates)"
refused "bad min_rate after a stop" "min_rate must be a positive number" \
	mirror start $R full auto min_rate x
check_exit 1 "colosetup mirror rate without a mirror" colosetup mirror rate p auto
check_eq "colosetup mirror rate without a mirror: says why" \
	"colosetup: p: mirror rate refused: no running mirror (none)" "$OUT"
check_exit 1 "colosetup mirror rate without a mirror: the kernel's refusal too" \
	env COLOSETUP_SKIP_CHECKS=1 colosetup mirror rate p 1m
check_match "colosetup mirror rate: the kernel's reason" \
	"^colosetup: p: mirror rate refused by the kernel: [0-9]+:[0-9]+: mirror rate refused: the mirror is none, not copying or in-sync$" \
	"$OUT"
check_eq "colosetup mirror rate refused: the limit unchanged" "0 auto:2048 0 none" "$(rates)"

# --- auto, guest busy -----------------------------------------------------------
guest_start 60
set -- $(rate_of mirrored 4)
BASE_IOPS=$2
t_diag "guest alone: $BASE_IOPS write IOPS"
[ "$BASE_IOPS" -gt 50 ]
check_eq "the guest job runs ($BASE_IOPS IOPS)" 0 $?
check_exit 0 "colosetup mirror start --rate auto --min-rate 1m" \
	colosetup mirror start p $R --rate auto --min-rate 1m
sleep 1
set -- $(rate_of mirrored 6)
BUSY=$1 BUSY_IOPS=$2
t_diag "auto, guest busy: copied $BUSY KiB/s (min_rate $MIN); guest $BUSY_IOPS IOPS"
check_eq "auto, guest busy: still copying" copying "$(field p 11)"
[ "$BUSY" -lt $((3 * MIN)) ]
check_eq "auto, guest busy: under 3x min_rate ($BUSY KiB/s)" 0 $?
[ "$BUSY" -ge $((MIN / 4)) ]
check_eq "auto, guest busy: not starved ($BUSY KiB/s)" 0 $?
[ $((BUSY_IOPS * 2)) -ge "$BASE_IOPS" ]
check_eq "auto: the guest keeps most of its IOPS ($BUSY_IOPS of $BASE_IOPS)" 0 $?
set -- $(rates)
[ "$1" -lt $((3 * MIN)) ]
check_eq "status: the rate ($1) and auto with its floor" "0 auto:1024" "$? $2"
check_match "colosetup status: the rate line" \
	"rate: +[0-9.]+ (B|KiB|MiB)/s \(auto, at least 1 MiB/s\)" "$(colosetup status p)"
check_match "colosetup status --json: copy_rate, rate_limit, min_rate" \
	"\"copy_rate\":[0-9]+,\"rate_limit\":\"auto\",\"min_rate\":1048576\}" \
	"$(colosetup status --json p)"

# --- auto, guest idle -------------------------------------------------------------
guest_stop
# From the guest's stop to in-sync: the rest of the pass, with the time
# auto takes to see the guest idle.
C0=$(mirrored) T0=$(now_cs)
check "in sync" wait_field p 11 in-sync 120
IDLE=$(( ($(mirrored) - C0) * 4 * 100 / ($(now_cs) - T0 + 1) ))
t_diag "auto, guest idle: copied $IDLE KiB/s ($(( ($(mirrored) - C0) / 256 )) MiB from chunk $C0 of $((LEN / 8)) on)"
[ "$IDLE" -gt $((4 * MIN)) ]
check_eq "auto, guest idle: over 4x min_rate ($IDLE KiB/s)" 0 $?
check_eq "replica equals base" "$(direct_sum /dev/ram0)" "$(direct_sum /dev/ram1)"
check_eq "in sync: the mirror's rate 0" "0 auto:1024" "$(rates | cut -d' ' -f1,2)"

# --- the verify at the auto rate -------------------------------------------------
guest_start 60
check_exit 0 "colosetup verify --rate auto --min-rate 1m" \
	colosetup verify p --rate auto --min-rate 1m
sleep 1
set -- $(rate_of verified 4)
VBUSY=$1
t_diag "verify auto, guest busy: compared $VBUSY KiB/s; guest $2 IOPS"
check_eq "verify, guest busy: still running" running "$(field p 20)"
[ "$VBUSY" -lt $((3 * MIN)) ]
check_eq "verify auto, guest busy: under 3x min_rate ($VBUSY KiB/s)" 0 $?
set -- $(rates)
check_eq "status: the verify's limit" "auto:1024" "$4"
check_match "colosetup status --json: the verify's rate" \
	"\"different\":0,\"copy_rate\":[0-9]+,\"rate_limit\":\"auto\",\"min_rate\":1048576\}" \
	"$(colosetup status --json p)"
# colosetup verify rate auto with a floor, while the guest keeps it there.
check_exit 0 "colosetup verify rate auto --min-rate 512k while running" \
	colosetup verify rate p auto --min-rate 512k
check_eq "colosetup verify rate: auto and its floor in the status" auto:512 \
	"$(rates | cut -d' ' -f4)"
check_eq "verify, guest busy: still running after verify rate" running "$(field p 20)"
guest_stop
V0=$(verified) T0=$(now_cs)
check "verify done" wait_field p 20 done 120
VIDLE=$(( ($(verified) - V0) * 4 * 100 / ($(now_cs) - T0 + 1) ))
t_diag "verify auto, guest idle: compared $VIDLE KiB/s (from chunk $V0 on)"
[ "$VIDLE" -gt $((4 * MIN)) ]
check_eq "verify auto, guest idle: over 4x min_rate ($VIDLE KiB/s)" 0 $?
check_eq "verify: nothing different" 0 "$(field p 22)"
check_eq "verify done: rates 0, limits kept" "0 auto:1024 0 auto:512" "$(rates)"
refused "verify: min_rate twice" "verify start: min_rate given twice" \
	verify start auto min_rate 1 min_rate 2

# A fixed rate for the verify, with the default floor's auto for the mirror.
check "verify at a fixed rate" dmsetup message p 0 verify start 2048
sleep 1
rate_holds verified 2 1024 4096 "verify: a fixed rate holds"
check_exit 0 "colosetup verify rate 1m while running" colosetup verify rate p 1m
check_eq "colosetup verify rate 1m: the limit 1024 KiB/s" 1024 "$(rates | cut -d' ' -f4)"
sleep 1
rate_holds verified 2 512 2048 "colosetup verify rate 1m: the new rate holds"
# A fixed rate again: auto with the guest idle would end the pass at once.
check_exit 0 "colosetup verify rate 4m while running" colosetup verify rate p 4m
check_eq "colosetup verify rate 4m: the limit 4096 KiB/s" 4096 "$(rates | cut -d' ' -f4)"
check_eq "colosetup verify rate: the mirror's limit unchanged" auto:1024 "$(rates | cut -d' ' -f2)"
check "verify rate while running" dmsetup message p 0 verify rate auto min_rate 512
check_eq "verify rate: auto and its floor in the status" auto:512 "$(rates | cut -d' ' -f4)"
check "verify stop" dmsetup message p 0 verify stop
check_exit 1 "colosetup verify rate without a verify" colosetup verify rate p none
check_eq "colosetup verify rate without a verify: says why" \
	"colosetup: p: verify rate refused: no verify is running (stopped)" "$OUT"
check_exit 1 "colosetup verify rate without a verify: the kernel's refusal too" \
	env COLOSETUP_SKIP_CHECKS=1 colosetup verify rate p 2m
check_match "colosetup verify rate: the kernel's reason" \
	"^colosetup: p: verify rate refused by the kernel: [0-9]+:[0-9]+: verify rate refused: no verify is running$" \
	"$OUT"
check "mirror stop" dmsetup message p 0 mirror stop
check "auto with the default floor" dmsetup message p 0 mirror start $R dirty auto
check_eq "the default floor: 10 MiB/s" "auto:10240" "$(rates | cut -d' ' -f2)"
check "in sync" wait_field p 11 in-sync 60
check_eq "replica equals base at the end" "$(direct_sum /dev/ram0)" "$(direct_sum /dev/ram1)"
check "mirror stop" dmsetup message p 0 mirror stop
dm_cleanup
t_done
