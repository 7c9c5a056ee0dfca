#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# colosetup fleece start|stop|status|needed: on a primary and on a
# secondary, the fleece's content read while the VM (or the ingress) keeps
# writing must equal base's image at the start; its table, name, dm UUID,
# output, JSON and exit codes; stop removes it and says whether the copy
# is consistent; bad input refused with its exact sentence and exit code
# and nothing changed; on a secondary a start after an ingress write is
# refused with the kernel's reason, and a start in a checkpoint (ingress
# suspended, checkpoint, fleece start, ingress resumed) works.
. /tests/lib.sh

MIB=32
brd_setup 6 $MIB
LEN=$(dev_sectors /dev/ram0)
CHUNKS=$((LEN / 8))
REF=/tmp/fleece-ref

refused() { cmd_refused "$@"; }
sum() { dd if="$1" bs="${2:-64k}" iflag=direct 2>/dev/null | md5sum | cut -d' ' -f1; }
fst() { field "$1" "$2"; }	# DEV FIELD of the fleece's status
uuid() { dmsetup info -c --noheadings -o uuid "$1"; }

# writer DEV: 1 MiB of new random data at a time, round the device, until
# /tmp/wstop exists; /tmp/wcount counts the MiB written, replaced whole
# (a rename), so that a reader never sees it empty or half written.
writer() {
	local i=0
	while [ ! -e /tmp/wstop ]; do
		dd if=/dev/urandom of="$1" bs=64k count=16 seek=$(((i % MIB) * 16)) \
			oflag=direct conv=notrunc 2>/dev/null
		i=$((i + 1))
		echo $i > /tmp/wcount.new && mv /tmp/wcount.new /tmp/wcount
	done
}
# writer_start DEV: the count reset before the writer runs (a wait_writes
# right after must not read the last writer's count), its pid in $wpid.
writer_start() {
	rm -f /tmp/wstop
	echo 0 > /tmp/wcount
	writer "$1" &
	wpid=$!
}
wcount() { cat /tmp/wcount; }
# wait_writes N: until the writer wrote N MiB more than now (30 s at most).
wait_writes() {
	local want=$(($(wcount) + $1)) i=0
	while [ "$(wcount)" -lt $want ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
	[ "$(wcount)" -ge $want ]
}
writer_stop() { touch /tmp/wstop; wait "$1"; }

# --- primary: bad input ------------------------------------------------------
colosetup create vm --primary /dev/ram0 > /dev/null || t_fail "create vm"
fill_random /dev/mapper/vm
ID=$(uuid vm | sed 's/^COLO-DEV-//')
dmsetup create small --table "0 4 linear /dev/ram5 0"
dmsetup create lin --table "0 8 linear /dev/ram5 8"
dmsetup mknodes
refused 2 "fleece start: no BUFFER" "fleece start: missing BUFFER \(the fleece's buffer device\)" \
	colosetup fleece start vm
refused 2 "fleece start --timeout 0" \
	"fleece start: --timeout '0': milliseconds a save may take before the fleece breaks, 1 to 3600000 \(default 5000\)" \
	colosetup fleece start vm /dev/ram3 --timeout 0
refused 2 "fleece start --needed 5-3" "fleece start: --needed '5-3': the first chunk is after the last" \
	colosetup fleece start vm /dev/ram3 --needed 5-3
refused 2 "fleece: unknown subcommand" "fleece: unknown subcommand 'begin' \(start, stop, status, needed\)" \
	colosetup fleece begin vm /dev/ram3
refused 3 "fleece start: no such device" "^colosetup: nope: no such device$" \
	colosetup fleece start nope /dev/ram3
refused 3 "fleece start: not a colo device" "^colosetup: lin: not a colo device \(its target is linear\)$" \
	colosetup fleece start lin /dev/ram3
refused 1 "fleece start: no such buffer" "^colosetup: buffer /dev/nope: No such file or directory$" \
	colosetup fleece start vm /dev/nope
refused 1 "fleece start: buffer is base" "^colosetup: vm: fleece start refused: buffer /dev/ram0 is the base of vm$" \
	colosetup fleece start vm /dev/ram0
refused 1 "fleece start: buffer smaller than a chunk" \
	"^colosetup: vm: fleece start refused: buffer /dev/mapper/small has 4 sectors, less than one chunk \(8\)$" \
	colosetup fleece start vm /dev/mapper/small
refused 4 "fleece start: buffer in use" "^colosetup: buffer /dev/ram5: in use: held by dm device (small|lin), a linear target" \
	colosetup fleece start vm /dev/ram5
refused 1 "fleece start --needed past the last chunk" \
	"^colosetup: vm: fleece start refused: --needed '0-$CHUNKS': past the last chunk, $((CHUNKS - 1)) \($CHUNKS chunks\)$" \
	colosetup fleece start vm /dev/ram3 --needed 0-$CHUNKS
refused 1 "fleece start: the kernel's refusal reaches the user" \
	"^colosetup: vm-fleece: fleece start refused by the kernel: The buffer must not be the base device( \(-EINVAL\))?$" \
	env COLOSETUP_SKIP_CHECKS=1 colosetup fleece start vm /dev/ram0
check_fails "the kernel's refusal left no device" dmsetup info vm-fleece
refused 1 "fleece status without a fleece" \
	"^colosetup: vm: has no fleece \(colosetup fleece start vm BUFFER starts one\)$" \
	colosetup fleece status vm
refused 1 "fleece stop without a fleece" "^colosetup: vm: has no fleece" colosetup fleece stop vm
refused 1 "fleece needed without a fleece" "^colosetup: vm: has no fleece" colosetup fleece needed vm 1
refused 3 "fleece status: no such device" "^colosetup: nope: no such device$" \
	colosetup fleece status nope
dmsetup remove small lin

# --- primary: start, read while the VM writes, stop ---------------------------
dd if=/dev/ram0 of=$REF bs=1M iflag=direct 2>/dev/null
check_exit 0 "fleece start on the primary" colosetup fleece start vm /dev/ram3
check_eq "fleece start: its path and buffer" \
	"/dev/mapper/vm-fleece: colo-fleece of vm (primary), the image of its base as it was at the start
  buffer:   /dev/ram3, room for $CHUNKS of $CHUNKS chunks of 4 KiB (32 MiB)" "$OUT"
check_eq "fleece start: the table" "0 $LEN colo-fleece 1:0 1:3" "$(dmsetup table vm-fleece)"
check_eq "fleece start: dm UUID COLO-FLEECE- with vm's ID" "COLO-FLEECE-$ID" "$(uuid vm-fleece)"
check "fleece start: the device node" test -b /dev/mapper/vm-fleece
check_eq "fleece start: active, nothing saved" "active $CHUNKS 0 0 0/$CHUNKS" \
	"$(dmsetup status vm-fleece | cut -d' ' -f4-)"
writer_start /dev/mapper/vm
check "the VM writes (1 MiB)" wait_writes 1
w0=$(wcount)
check_eq "primary: the fleece read while the VM writes is base at the start" \
	"$(md5sum < $REF | cut -d' ' -f1)" "$(sum /dev/mapper/vm-fleece 4k)"
w1=$(wcount)
check "primary: the VM wrote during the read ($w0 -> $w1 MiB)" test "$w1" -gt "$w0"
check "primary: one more MiB written" wait_writes 1
writer_stop $wpid
check_eq "primary: base moved on" 1 "$(cmp -s /dev/ram0 $REF; echo $?)"
check_eq "primary: the fleece still is base at the start" "$(md5sum < $REF | cut -d' ' -f1)" \
	"$(sum /dev/mapper/vm-fleece)"
saved=$(fst vm-fleece 6)
check "primary: chunks were saved ($saved)" test "$saved" -gt 0
check_fails "a write to the fleece fails" \
	dd if=/dev/zero of=/dev/mapper/vm-fleece bs=4k count=1 oflag=direct conv=notrunc
refused 1 "fleece start: a second one" \
	"^colosetup: vm: fleece start refused: it already has a fleece \(vm-fleece\)$" \
	colosetup fleece start vm /dev/ram4
refused 4 "remove of a colo device with a fleece" \
	"^colosetup: vm: has a fleece \(vm-fleece\): colosetup fleece stop vm first$" colosetup remove vm

# --- status ---------------------------------------------------------------------
used=$(fst vm-fleece 8 | cut -d/ -f1)
check_exit 0 "fleece status" colosetup fleece status vm
check_eq "fleece status: the lines (but the buffer's)" "vm-fleece: colo-fleece of vm, active
  dm uuid:  COLO-FLEECE-$ID
  needed:   $CHUNKS of $CHUNKS chunks
  saved:    $saved chunks
  released: 0 chunks
  options:  timeout 5000 ms" "$(echo "$OUT" | sed 3d)"
check_match "fleece status: the buffer's line" \
	"^  buffer:   /dev/ram3, $used of $CHUNKS chunks used \([0-9.]+ [KM]iB of 32 MiB\)$" \
	"$(echo "$OUT" | sed -n 3p)"
check_exit 0 "fleece status --json" colosetup fleece status --json vm
check_eq "fleece status --json" "{\"schema\":2,\"name\":\"vm-fleece\",\"dm_uuid\":\"COLO-FLEECE-$ID\",\"target\":\"colo-fleece\",\"colo\":\"vm\",\"sectors\":$LEN,\"chunk_sectors\":8,\"chunk_bytes\":4096,\"chunks\":$CHUNKS,\"state\":\"active\",\"broken_reason\":null,\"needed\":$CHUNKS,\"saved\":$saved,\"released\":0,\"buffer_used\":$used,\"buffer_total\":$CHUNKS,\"buffer\":\"/dev/ram3\",\"timeout_ms\":5000,\"read_once\":false,\"persistent\":false}" "$OUT"
check_exit 0 "fleece status of the fleece by its name" colosetup fleece status --json vm-fleece
check_match "fleece status by its name: the same" "\"name\":\"vm-fleece\".*\"colo\":\"vm\"" "$OUT"
check_exit 0 "status of the fleece device" colosetup status vm-fleece
check_match "status of the fleece device: its status" "^vm-fleece: colo-fleece of vm, active" "$OUT"
check_exit 0 "status of the colo device" colosetup status vm
check_match "status of the colo device: its fleece" \
	"  fleece:   vm-fleece, active, $saved saved, $used of $CHUNKS buffer chunks used" "$OUT"

# --- needed ---------------------------------------------------------------------
refused 2 "fleece needed: a malformed range" \
	"^colosetup: fleece needed: 'x' is not a chunk range: all, or <first>-<last> and <chunk> separated by commas \(e.g. 0-99,200\)$" \
	colosetup fleece needed vm 1,x
refused 1 "fleece needed: past the last chunk" \
	"^colosetup: vm-fleece: fleece needed refused: '$CHUNKS': past the last chunk" \
	colosetup fleece needed vm 0,$CHUNKS
check_exit 0 "fleece needed 0-99,200" colosetup fleece needed vm 0-99,200
check_eq "fleece needed: says the chunks needed" "vm-fleece: 101 chunks needed" "$OUT"
check_eq "fleece needed: the kernel's count" 101 "$(fst vm-fleece 5)"
check_eq "needed: chunks 0-99 as at the start" \
	"$(dd if=$REF bs=4k count=100 2>/dev/null | md5sum)" \
	"$(dd if=/dev/mapper/vm-fleece bs=4k count=100 iflag=direct 2>/dev/null | md5sum)"
refused 1 "fleece needed all once restricted: the kernel's sentence" \
	"^colosetup: vm-fleece: fleece needed refused by the kernel: [0-9]+:[0-9]+: needed all refused: the view was restricted, it cannot grow back$" \
	colosetup fleece needed vm all

# --- stop ------------------------------------------------------------------------
exec 3< /dev/mapper/vm-fleece
refused 4 "fleece stop while open" "^colosetup: vm-fleece: in use \(open 1 time: open by process [0-9]+ \(sh\)\); close it first, or --force$" \
	colosetup fleece stop vm
exec 3<&-
check_exit 0 "fleece stop" colosetup fleece stop vm
check_eq "fleece stop: says the copy is consistent" \
	"vm-fleece: removed; it was active to the end: what was read from it is the image at its start" "$OUT"
check_fails "fleece stop: the device is gone" dmsetup info vm-fleece
check_exit 0 "fleece start --timeout 2000 --read-once --needed 0-9" \
	colosetup fleece start vm /dev/ram3 --timeout 2000 --read-once --needed 0-9
check_match "fleece start --needed: says the chunks needed" "^  needed:   10 chunks$" "$OUT"
check_eq "the options in the table" "0 $LEN colo-fleece 1:0 1:3 3 timeout 2000 read_once" \
	"$(dmsetup table vm-fleece)"
check_eq "the needed chunks in the status" 10 "$(fst vm-fleece 5)"
check_exit 0 "remove of the fleece by its name" colosetup remove vm-fleece
check_fails "remove: the fleece is gone" dmsetup info vm-fleece

# A buffer of 2 chunks: a VM write of 16 chunks breaks the fleece, not the VM.
dmsetup create sbuf --table "0 16 linear /dev/ram4 0"
dmsetup mknodes
check_exit 0 "fleece start with a buffer of 2 chunks" colosetup fleece start vm /dev/mapper/sbuf
check_match "fleece start: the buffer's room" \
	"^  buffer:   /dev/mapper/sbuf, room for 2 of $CHUNKS chunks of 4 KiB \(8 KiB\)$" "$OUT"
check "the VM writes 16 chunks" \
	dd if=/dev/urandom of=/dev/mapper/vm bs=64k count=1 oflag=direct conv=notrunc
check_exit 0 "fleece status of a broken fleece" colosetup fleece status vm
check_match "fleece status: broken, and why" \
	"^vm-fleece: colo-fleece of vm, broken: full \(the buffer filled up\): its reads fail; what was read is not a consistent image$" \
	"$OUT"
check_exit 0 "fleece status --json of a broken fleece" colosetup fleece status vm --json
check_match "fleece status --json: broken, full" '"state":"broken","broken_reason":"full"' "$OUT"
check_exit 0 "fleece stop of a broken fleece" colosetup fleece stop vm
check_eq "fleece stop: says the copy is not consistent" \
	"vm-fleece: removed; it was broken (full: the buffer filled up): what was read from it is not a consistent image" \
	"$OUT"
dmsetup remove sbuf
check_exit 0 "remove vm once its fleece is gone" colosetup remove vm

# --- secondary ------------------------------------------------------------------
colosetup create c --secondary /dev/ram0 /dev/ram1 /dev/ram2 > /dev/null &&
	colosetup ingress c > /dev/null || t_fail "create c and its ingress"
fill_random /dev/mapper/c-ingress
refused 1 "secondary: fleece start after an ingress write" \
	"^colosetup: c-fleece: fleece start refused by the kernel: [0-9]+:[0-9]+: cannot start: the ingress wrote base since the last checkpoint; resume it right after a checkpoint$" \
	colosetup fleece start c /dev/ram3
check_match "secondary: the refusal says when to start it" \
	"^colosetup: c: on a secondary a fleece starts only between a checkpoint and the next ingress write: run fleece start in the COLO checkpoint, right after colosetup checkpoint c and before the primary's writes go on \(README, Fleece\)$" \
	"$OUT"
check_eq "secondary: the refusal is two lines" 2 "$(echo "$OUT" | wc -l)"
check_fails "secondary: the refusal left no device" dmsetup info c-fleece
writer_start /dev/mapper/c-ingress
check "secondary: the ingress writes" wait_writes 2
# The checkpoint: the ingress held, checkpoint, fleece start, ingress let go.
check "secondary: ingress suspended" dmsetup suspend c-ingress
check_exit 0 "secondary: checkpoint" colosetup checkpoint c
dd if=/dev/ram0 of=$REF bs=1M iflag=direct 2>/dev/null
check_exit 0 "secondary: fleece start in the checkpoint" colosetup fleece start c /dev/ram3
check_match "secondary: the image at the checkpoint" \
	"^/dev/mapper/c-fleece: colo-fleece of c \(secondary\), the image of its base at the last checkpoint$" \
	"$OUT"
check "secondary: ingress resumed" dmsetup resume c-ingress
check "secondary: the ingress writes again" wait_writes 1
dd if=/dev/urandom of=/dev/mapper/c bs=64k count=32 oflag=direct 2>/dev/null
w0=$(wcount)
check_eq "secondary: the fleece read while the ingress writes is base at the checkpoint" \
	"$(md5sum < $REF | cut -d' ' -f1)" "$(sum /dev/mapper/c-fleece 4k)"
w1=$(wcount)
check "secondary: the ingress wrote during the read ($w0 -> $w1 MiB)" test "$w1" -gt "$w0"
check_exit 0 "secondary: a later checkpoint" colosetup checkpoint c
check "secondary: more ingress writes" wait_writes 2
writer_stop $wpid
check_eq "secondary: base moved on" 1 "$(cmp -s /dev/ram0 $REF; echo $?)"
check_eq "secondary: after a checkpoint, still the image at the start" \
	"$(md5sum < $REF | cut -d' ' -f1)" "$(sum /dev/mapper/c-fleece)"
check_eq "secondary: dm UUID COLO-FLEECE- with c's ID" \
	"COLO-FLEECE-$(uuid c | sed 's/^COLO-DEV-//')" "$(uuid c-fleece)"
check_exit 0 "secondary: fleece status" colosetup fleece status c
check_match "secondary: active" "^c-fleece: colo-fleece of c, active$" "$OUT"
refused 4 "secondary: remove with a fleece" "^colosetup: c: has a fleece \(c-fleece\)" \
	colosetup remove c
check_exit 0 "secondary: fleece stop" colosetup fleece stop c
check_eq "secondary: fleece stop says the copy is consistent" \
	"c-fleece: removed; it was active to the end: what was read from it is the image at its start" \
	"$OUT"
check_exit 0 "secondary: remove c and its ingress" colosetup remove c
check_eq "no device left" "" "$(dmsetup ls | grep -v '^No devices found')"

# --- --persistent and --reattach ---------------------------------------------
dd if=/dev/zero of=/dev/ram4 bs=1M count=1 oflag=direct 2>/dev/null
refused 2 "fleece start: --persistent and --reattach together" \
	"give --persistent \(a new view\) or --reattach \(the view on BUFFER\), not both" \
	colosetup fleece start vm /dev/ram3 --persistent --reattach
colosetup create pm --primary /dev/ram0 --metadata /dev/ram4 > /dev/null ||
	t_fail "create pm with metadata"
colosetup create np --primary /dev/ram5 > /dev/null || t_fail "create np"
refused 1 "fleece start --persistent: no metadata device" \
	"needs a colo device with a metadata device" \
	colosetup fleece start np /dev/ram3 --persistent
dd if=/dev/mapper/pm of=$REF bs=1M iflag=direct 2>/dev/null
check_exit 0 "fleece start --persistent" colosetup fleece start pm /dev/ram3 --persistent
check_eq "--persistent: the table" "0 $LEN colo-fleece 1:0 1:3 1 persistent" \
	"$(dmsetup table pm-fleece)"
check "--persistent: VM writes" \
	dd if=/dev/urandom of=/dev/mapper/pm bs=64k count=64 oflag=direct
check_exit 0 "--persistent: fleece status --json" colosetup fleece status --json pm
check_match "--persistent: JSON says persistent" '"persistent":true}$' "$OUT"
check_exit 0 "--persistent: fleece stop" colosetup fleece stop pm
check_exit 0 "fleece start --reattach" colosetup fleece start pm /dev/ram3 --reattach
check_match "--reattach: says re-attached" "re-attached" "$OUT"
check_eq "--reattach: the table" "0 $LEN colo-fleece 1:0 1:3 1 reattach" \
	"$(dmsetup table pm-fleece)"
check_eq "--reattach: the image at the first start" \
	"$(md5sum < $REF | cut -d' ' -f1)" "$(sum /dev/mapper/pm-fleece)"
check_exit 0 "--reattach: fleece status" colosetup fleece status pm
check_match "--reattach: the options say reattached" "options: .*, reattached$" "$OUT"
check_exit 0 "--reattach: fleece stop" colosetup fleece stop pm
check "a VM write with no fleece" \
	dd if=/dev/urandom of=/dev/mapper/pm bs=4k count=1 oflag=direct
refused 1 "fleece start --reattach after a write without it" \
	"the view on /dev/ram3 is lost for good" \
	colosetup fleece start pm /dev/ram3 --reattach
check_fails "the refused re-attach left no device" dmsetup info pm-fleece
colosetup remove pm > /dev/null
colosetup remove np > /dev/null
dm_cleanup
t_done
