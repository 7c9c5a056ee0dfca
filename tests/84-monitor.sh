#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# colosetup monitor: one process (no child but its hook) watches two colo
# devices and reports their events in order (a failover's primary and
# commit-done, a mirror's start and in-sync, a replica turned dm-error
# degrading the other's mirror, a mirror stop); picks up a device created
# after it started and reports its removal; runs the hook with the event in
# its argv and environment, one at a time, and stops a hook that hangs; and
# writes syslog lines. Then wait for a state not yet possible, status
# --prometheus, list's report options, and JSON of a name that is not
# UTF-8.
. /tests/lib.sh

brd_setup 12 32
LEN=$(dev_sectors /dev/ram0)
dm_cleanup

wr() {	# DEV BLOCK CHAR: one 4 KiB block of CHAR
	printf "%4096s" "" | tr ' ' "$3" | dd of="$1" bs=4096 seek="$2" oflag=direct conv=notrunc 2>/dev/null
}
# The events in the monitor's output so far: "device event" lines.
evlist() { jq -r '"\(.device) \(.event)"' /tmp/mon.json 2>/dev/null; }
# wait_ev LINE SECONDS: until "device event" LINE is in the output.
wait_ev() {
	local i=0
	while [ $i -lt $(($2 * 10)) ]; do
		evlist | grep -qx "$1" && return 0
		sleep 0.1; i=$((i + 1))
	done
	t_diag "no event '$1' after $2 s; so far:"
	evlist | sed 's/^/#   /'
	return 1
}
# children PID: the pids whose parent is PID.
children() {
	local s
	for s in /proc/[0-9]*/stat; do
		awk -v p="$1" '$4 == p { print $1 }' "$s" 2>/dev/null
	done
}

# syslog: busybox's syslogd writes to a file.
syslogd -n -O /tmp/syslog &
SYSLOGD=$!
for i in 1 2 3 4 5 6 7 8 9 10; do [ -S /dev/log ] && break; sleep 0.1; done

cat > /tmp/hook.sh << 'EOF'
#!/bin/sh
echo "$1 $2 $COLO_DEVICE $COLO_EVENT mode=$COLO_MODE commit=$COLO_COMMIT mirror=$COLO_MIRROR health=$COLO_HEALTH ppid=$PPID" >> /tmp/hook.log
echo "$COLO_JSON" | jq -e . > /dev/null || echo "bad COLO_JSON: $COLO_JSON" >> /tmp/hook.log
# The hook's stdout goes to the monitor's stderr, never into its JSON.
echo "hook says hello"
EOF
chmod +x /tmp/hook.sh
: > /tmp/hook.log

# --- two devices, one monitor -----------------------------------------------------
colosetup create a --secondary /dev/ram0 /dev/ram1 /dev/ram2 > /dev/null
colosetup create b --primary /dev/ram4 > /dev/null
dmsetup create brep --table "0 $LEN linear /dev/ram5 0"
dmsetup mknodes brep
wr /dev/mapper/a 3 A

# --interval 0: every event below comes from a dm event, none from a look.
colosetup monitor --exec /tmp/hook.sh --interval 0 > /tmp/mon.json 2> /tmp/mon.err &
MON=$!
check "monitor: a present" wait_ev "a present" 10
check "monitor: b present" wait_ev "b present" 10

check_exit 0 "failover a" colosetup failover a --wait --timeout 30
check "monitor: a commit-done" wait_ev "a commit-done" 10
check_exit 0 "mirror start a" colosetup mirror start a /dev/ram3 --full --wait --timeout 60
check "monitor: a in-sync" wait_ev "a in-sync" 10
check_exit 0 "mirror start b" colosetup mirror start b /dev/mapper/brep --full --wait --timeout 60
check "monitor: b in-sync" wait_ev "b in-sync" 10
dmsetup suspend brep
dmsetup load brep --table "0 $LEN error"
dmsetup resume brep
wr /dev/mapper/b 1 B
check "monitor: b degraded (replica on dm-error)" wait_ev "b degraded" 10

# Created after the monitor started, then removed.
colosetup create c --primary /dev/ram6 > /dev/null
check "monitor: c added" wait_ev "c added" 10
colosetup remove c > /dev/null
check "monitor: c removed" wait_ev "c removed" 10
# mirror stop raises a dm event (the module's, since 1.0.0).
colosetup mirror stop b > /dev/null
check "monitor: b mirror-stopped" wait_ev "b mirror-stopped" 10
sleep 1

check_eq "monitor: the events, in order" "a present
b present
a primary
a commit-done
a mirror-started
a in-sync
b mirror-started
b in-sync
b degraded
c added
c removed
b mirror-stopped" "$(evlist)"
check "monitor: every line is JSON" jq -e . /tmp/mon.json
check_eq "monitor: every line has schema, time, device, event, status" \
	"$(wc -l < /tmp/mon.json)" \
	"$(jq -c 'select(.schema == 2 and (.time | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z$")) and
		(.device | type) == "string" and (.event | type) == "string" and
		((.status | type) == "object" or .event == "removed"))' /tmp/mon.json | wc -l)"
# A replica's errors are the mirror's "degraded", not the device's health.
check_eq "monitor: degraded carries the status" "primary degraded ok" \
	"$(jq -r 'select(.device == "b" and .event == "degraded") |
		"\(.status.mode) \(.status.mirror.state) \(.status.health)"' /tmp/mon.json)"

# The hook ran for every event, in order, with its argv and environment.
for i in 1 2 3 4 5 6 7 8 9 10; do [ "$(wc -l < /tmp/hook.log)" -ge 12 ] && break; sleep 0.5; done
check_eq "monitor: one process, no thread" "1" "$(ls /proc/$MON/task | wc -l)"
check_eq "monitor: no child once its hooks ended" "" "$(children $MON)"
check_eq "hook: once per event, in order (argv)" "$(evlist)" "$(awk '{ print $2, $1 }' /tmp/hook.log)"
check_eq "hook: COLO_DEVICE and COLO_EVENT as argv" "" "$(awk '$1 != $4 || $2 != $3' /tmp/hook.log)"
check_match "hook: environment of degraded" \
	"^degraded b b degraded mode=primary commit=none mirror=degraded health=ok ppid=$MON$" \
	"$(cat /tmp/hook.log)"
check_match "hook: environment of commit-done" \
	"^commit-done a a commit-done mode=primary commit=done mirror=none health=ok ppid=$MON$" \
	"$(cat /tmp/hook.log)"
check_match "hook: removed has no status" "^removed c c removed mode= commit= mirror= health= " \
	"$(cat /tmp/hook.log)"
check_fails "hook: COLO_JSON is JSON" grep -q "bad COLO_JSON" /tmp/hook.log
check_match "hook: its stdout went to the monitor's stderr" "hook says hello" "$(cat /tmp/mon.err)"
check_fails "hook: not in the JSON" grep -q hello /tmp/mon.json

check_match "syslog: degraded, a warning" \
	"daemon.warn colosetup\[$MON\]: b: degraded \(mode primary, commit none 0/0, mirror degraded" \
	"$(cat /tmp/syslog)"
check_match "syslog: commit-done, a notice" "daemon.notice colosetup\[$MON\]: a: commit-done" \
	"$(cat /tmp/syslog)"
kill $MON
wait $MON
check_eq "monitor: SIGTERM ends it with 0" "0" "$?"

# --- monitor NAME, --count, --no-syslog, a hook that hangs --------------------------
cat > /tmp/hang.sh << 'EOF'
#!/bin/sh
echo "start $1 $2" >> /tmp/hang.log
sleep 60
echo "not stopped" >> /tmp/hang.log
EOF
chmod +x /tmp/hang.sh
: > /tmp/hang.log
: > /tmp/syslog
start=$(date +%s)
colosetup monitor b --count 1 --no-syslog --exec /tmp/hang.sh --hook-timeout 2 > /tmp/mon2.out 2>&1 &
MON=$!
sleep 1
kids=$(children $MON)
check_eq "monitor: its one child is the hook" "/tmp/hang.sh" \
	"$(tr '\0' ' ' < /proc/${kids:-0}/cmdline 2>/dev/null | awk '{ print $2 }')"
wait $MON
check_eq "monitor b --count 1 --no-syslog, hook hangs: exit 0" "0" "$?"
OUT=$(cat /tmp/mon2.out)
check_eq "monitor NAME: only b" "b present" "$(echo "$OUT" | grep '^{' | jq -r '"\(.device) \(.event)"')"
check_match "monitor: says it stopped the hook" \
	"colosetup: monitor: hook /tmp/hang.sh present b still runs after 2 s: stopping it" "$OUT"
check "monitor: a hung hook cost its timeout, not 60 s" test $(($(date +%s) - start)) -lt 10
sleep 1
check_eq "the hung hook was stopped" "start present b" "$(cat /tmp/hang.log)"
check_fails "--no-syslog: nothing in syslog" grep -q "colosetup" /tmp/syslog
check_exit 0 "monitor: a hook that cannot run" \
	sh -c 'colosetup monitor b --count 1 --no-syslog --exec /nonexistent > /dev/null'
check_match "monitor: says the hook failed" "hook /nonexistent present b exited with 127" "$OUT"
check_exit 2 "monitor --hook-timeout without --exec" colosetup monitor --hook-timeout 5
check_match "monitor: says why" "monitor: --hook-timeout needs --exec" "$OUT"

# --- wait for what has not started yet ----------------------------------------------
colosetup mirror stop a > /dev/null
dmsetup create arep --table "0 $LEN linear /dev/ram3 0"
dmsetup mknodes arep
colosetup wait a degraded --timeout 60 > /tmp/wait.out 2>&1 &
WAITER=$!
sleep 1
check "wait degraded without a mirror: still waiting" kill -0 $WAITER
colosetup mirror start a /dev/mapper/arep --full --wait > /dev/null
dmsetup suspend arep
dmsetup load arep --table "0 $LEN error"
dmsetup resume arep
wr /dev/mapper/a 2 C
wait $WAITER
check_eq "wait degraded: armed early, ends when the mirror degrades" "0" "$?"
check_eq "wait degraded: its words" "a: no mirror runs yet; waiting
a: degraded" "$(cat /tmp/wait.out)"
colosetup mirror stop a > /dev/null
check_exit 5 "wait in-sync without a mirror: waits, then times out" colosetup wait a in-sync --timeout 2
check_match "wait in-sync: says it waited" "^a: no mirror runs yet; waiting" "$OUT"
colosetup wait a in-sync --timeout 30 > /tmp/wait.out 2>&1 &
WAITER=$!
sleep 1
dmsetup suspend arep
dmsetup load arep --table "0 $LEN linear /dev/ram3 0"
dmsetup resume arep
colosetup mirror start a /dev/mapper/arep --full --rate 1m > /dev/null
sleep 3
colosetup mirror stop a > /dev/null
wait $WAITER
check_eq "wait in-sync: a mirror stopped before in-sync fails" "1" "$?"
check_match "wait in-sync: says so" "colosetup: a: the mirror ended before it was in-sync" \
	"$(cat /tmp/wait.out)"
check_exit 1 "wait failed after done: never comes" colosetup wait a failed
colosetup create s --secondary /dev/ram8 /dev/ram9 /dev/ram10 > /dev/null
check_exit 5 "wait done on a secondary: waits for a failover" colosetup wait s done --timeout 2
check_match "wait done: says it waited" "^s: no failover commit was started yet; waiting" "$OUT"

# --- status --prometheus ---------------------------------------------------------------
check_exit 0 "status --prometheus" colosetup status --prometheus
check_match "prometheus: a family" "^# TYPE colo_mirror_state gauge$" "$OUT"
check_match "prometheus: a's mode" '^colo_mode\{device="a",mode="primary"\} 1$' "$OUT"
check_match "prometheus: s's mode" '^colo_mode\{device="s",mode="secondary"\} 1$' "$OUT"
check_eq "prometheus: b's and s's size" "33554432 33554432" \
	"$(echo "$OUT" | sed -n 's/^colo_size_bytes{device="[bs]"} //p' | tr '\n' ' ' | sed 's/ $//')"
check_eq "prometheus: every family once" "" \
	"$(echo "$OUT" | grep '^# TYPE' | sort | uniq -d)"
check_exit 0 "status --prometheus NAME" colosetup status --prometheus s
check_fails "prometheus NAME: only s" sh -c "echo \"\$0\" | grep -q 'device=\"a\"'" "$OUT"
check_exit 3 "status --prometheus of no device" colosetup status --prometheus nosuch

# --- list on dm_report -------------------------------------------------------------------
colosetup ingress s > /dev/null
check_exit 0 "list" colosetup list
check_match "list: heading as before" "^NAME +TARGET +MODE +CHUNK +COMMIT +MIRROR +HEALTH +SIZE *$" "$OUT"
check_match "list: a secondary as before" "^s +colo +secondary +4 KiB +none +none +ok +32 MiB *$" "$OUT"
check_match "list: the ingress as before" "^s-ingress +colo-ingress +-> s *$" "$OUT"
check_exit 0 "list -o name,mode --noheadings" colosetup list -o name,mode --noheadings
check_eq "list -o: the fields asked" "a primary
b primary
s secondary
s-ingress -> s" "$(echo "$OUT" | sed 's/ *$//; s/  */ /g')"
check_exit 0 "list -o +sectors,devno" colosetup list -o +sectors,devno
check_match "list -o +: the default, then more" \
	"^b +colo +primary +4 KiB +none +none +ok +32 MiB +$LEN +[0-9]+:[0-9]+ *$" "$OUT"
check_exit 0 "list --separator" colosetup list -o name,chunk_bytes,mirror --separator '|' --noheadings
check_eq "list --separator: no alignment" "a|4096|none
b|4096|none
s|4096|none
s-ingress||" "$OUT"
check_exit 0 "list --sort -name" colosetup list -o name --noheadings --sort -name
check_eq "list --sort -name" "s-ingress s b a" "$(echo $OUT)"
check_exit 0 "list --sort target,name" colosetup list -o name --noheadings --sort -target,name
check_eq "list --sort two keys" "s-ingress a b s" "$(echo $OUT)"
check_exit 0 "list --nameprefixes" colosetup list -o name,mode,size --nameprefixes
check_match "list --nameprefixes" "^COLO_NAME='s' COLO_MODE='secondary' COLO_SIZE='32 MiB'$" "$OUT"
check_eq "list --nameprefixes: eval-able" "s-ingress:-> s" \
	"$(echo "$OUT" | tail -n 1 | { read -r line; eval "$line"; echo "$COLO_NAME:$COLO_MODE"; })"
check_exit 0 "list -o help" colosetup list -o help
check_match "list -o help: a field and its sentence" "^  mirror_percent +Mirror progress in percent\.$" "$OUT"
check_exit 2 "list -o with an unknown field" colosetup list -o name,bogus
check_eq "list -o: says why" "colosetup: list: -o: unknown field 'bogus' (colosetup list -o help lists them)" "$OUT"
check_exit 2 "list --sort with an unknown field" colosetup list --sort -bogus
check_eq "list --sort: says why" "colosetup: list: --sort: unknown field 'bogus' (colosetup list -o help lists them)" "$OUT"
check_exit 2 "list --json -o" colosetup list --json -o name
check_exit 0 "list --json" colosetup list --json
check "list --json: valid JSON" sh -c "echo \"\$0\" | jq -e . > /dev/null" "$OUT"
check_eq "list --json: schema 2 everywhere" "2 2 2 2" "$(echo "$OUT" | jq -r '[.[].schema | tostring] | join(" ")')"
check_eq "list --json: percent, rate, ETA" "100 null null" \
	"$(echo "$OUT" | jq -r '.[] | select(.name == "b") | "\(.commit.percent // 100) \(.mirror.rate) \(.mirror.eta_seconds)"')"

# A running mirror: rate and ETA measured.
dmsetup suspend brep
dmsetup load brep --table "0 $LEN linear /dev/ram5 0"
dmsetup resume brep
colosetup mirror start b /dev/mapper/brep --full --rate 1m > /dev/null
check_exit 0 "status --json of a copying mirror" colosetup status --json b
check_match "status --json: a rate and an ETA" \
	'"mirror":\{"state":"copying","mirrored":[0-9]+,"to_mirror":[0-9]+,"percent":[0-9.]+,"rate":[0-9]+,"eta_seconds":[0-9]+,"copy_rate":[0-9]+,"rate_limit":1048576,' "$OUT"
rate=$(echo "$OUT" | jq -r .mirror.rate)
check "status --json: the rate near 1 MiB/s ($rate)" test "$rate" -ge 524288 -a "$rate" -le 2097152
colosetup mirror stop b > /dev/null

# A name that is not UTF-8 stays valid JSON (U+FFFD for the bad byte).
bad=$(printf 'x\377y')
check_exit 0 "create a name with a byte that is not UTF-8" colosetup create "$bad" --primary /dev/ram11
check_exit 0 "list --json with it" colosetup list --json
check "list --json: still valid JSON" sh -c "echo \"\$0\" | jq -e . > /dev/null" "$OUT"
check_eq "list --json: the bad byte as U+FFFD" "1" \
	"$(echo "$OUT" | jq -r '[.[] | select(.name == "x\ufffdy")] | length')"
# jq would take the raw byte too (as U+FFFD): look at the bytes themselves.
check "list --json: the escape, written out" sh -c "printf '%s\\n' \"\$0\" | grep -qF 'x\\ufffdy'" "$OUT"
check_fails "list --json: no raw byte 0xff" sh -c "printf '%s\\n' \"\$0\" | grep -q \"\$(printf '\\377')\"" "$OUT"
check_exit 0 "status --prometheus with it" colosetup status --prometheus "$bad"
check_match "prometheus: the bad byte as U+FFFD" "device=\"x$(printf '\357\277\275')y\"" "$OUT"
colosetup remove "$bad" > /dev/null

kill $SYSLOGD 2> /dev/null
dm_cleanup
t_done
