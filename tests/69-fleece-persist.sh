#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# A persistent colo-fleece: its map kept on its buffer, its view named in
# the colo device's metadata. On a primary with a metadata device (chunks
# 1, 8, 128): the randomized checker (colo-fleece-check, VM writes and
# discards); the fleece removed and re-attached ("reattach") with no write
# between: the same status (taken after a flush of the fleece, which
# waits for the releases' gone bits), and the checker again on the same
# reference and released chunks; the colo device removed and loaded again
# from its metadata, the fleece re-attached, the checker again; then a VM
# write with no fleece attached: a re-attach is refused from then on. On a
# secondary with metadata: ingress and VM writes, a re-attach, a failover
# whose commit writes base: the view as at its start throughout. A "needed"
# restriction survives a re-attach (the chunks outside it read EIO). With
# the buffer's map blocks behind a 3 s write delay, a write that needs a
# save leaves base as it was until its map entry is written, and a flush
# of the fleece after a discard ends once its gone bit is written, with the
# status counting the release; a VM write to a chunk released that way
# waits for its bit too, and saves nothing. Bad
# tables are refused: persistent without a metadata device, reattach of a
# buffer with no map, of another geometry. What a host crash leaves is
# checked by the crash lanes (scripts/crash.sh, set b).
# COLO_T_FLEECE_OPS ops per checker run (1000), COLO_T_FLEECE_MIB the legs'
# size (32), COLO_T_FLEECE_CHUNKS the chunk sizes (1 8 128); FSX_SEED fixes
# the seed.
. /tests/lib.sh

MIB=${COLO_T_FLEECE_MIB:-32}
OPS=${COLO_T_FLEECE_OPS:-1000}
brd_setup 6 $MIB
LEN=$(dev_sectors /dev/ram0)
B=/dev/ram0 M=/dev/ram1 H=/dev/ram4 A=/dev/ram5
REF=/tmp/fleece-ref STATE=/tmp/fleece-state
M_=/dev/mapper

zero() {	# DEV MIB: zeroes over its first MIB MiB
	dd if=/dev/zero of="$1" bs=1M count="$2" oflag=direct 2>/dev/null
}
# The buffer: ram2 and ram3 end to end, twice the device: the checker's
# writes may touch every chunk, and the map takes the buffer's first blocks.
buf_up() {
	dmsetup create buf --table "0 $LEN linear /dev/ram2 0
$LEN $LEN linear /dev/ram3 0" && dmsetup mknodes buf
}
BUF=$M_/buf
# The fleece's status fields after "colo-fleece": needed saved released used.
fst() { dmsetup status f | cut -d' ' -f4-; }
# With no I/O in flight and the releases committed (a flush): each saved
# chunk holds a slot of the buffer, and nothing else does.
saved_used() {	# DESC
	set -- "$1" $(fst)
	check_eq "$1: saved chunks equal buffer chunks used" "$4" "${6%/*}"
}
# released_waits CHUNK WHAT CMD...: a discard of CHUNK (4 KiB chunks),
# which reads EIO at once, then CMD in the background; with the map behind
# the delay, CMD still waits 1 s in for the gone bit. Once it and a flush
# of the fleece completed, the status counts the release, nothing saved.
released_waits() {
	local c=$1 what=$2 before pid rc
	shift 2
	before=$(fst)
	check "order: a discard of chunk $c" \
		blkdiscard -o $((c * 4096)) -l 4096 $M_/f
	check_fails "order: chunk $c reads EIO at once" \
		dd if=$M_/f of=/dev/null bs=4k skip="$c" count=1 iflag=direct
	"$@" > /dev/null 2>&1 &
	pid=$!
	sleep 1
	check "order: 1 s into $what, it waits for the map" kill -0 $pid
	wait $pid
	rc=$?
	check_eq "order: $what completes" 0 $rc
	check "order: a flush of the fleece" colo-open -f $M_/f
	set -- $before
	check_eq "order: after $what, the status counts the release, nothing saved" \
		"active $(($2 - 1)) $3 $(($4 + 1)) $5" "$(fst)"
}
fleece() {	# OPTION: create f over $BUF
	dmsetup create f --table "0 $LEN colo-fleece $B $BUF 1 $1" &&
		dmsetup mknodes f
}
primary() {	# CHUNK
	dmsetup create p --table "0 $LEN colo primary $B $1 2 metadata $M" &&
		dmsetup mknodes p
}

for chunk in ${COLO_T_FLEECE_CHUNKS:-1 8 128}; do
	dm_cleanup
	zero $M 1
	buf_up
	zero $BUF 1
	primary "$chunk"
	fill_random $M_/p
	dd if=$B of=$REF bs=1M iflag=direct 2>/dev/null
	rm -f $STATE
	check "chunk $chunk: a persistent fleece on the primary" fleece persistent
	check_match "chunk $chunk: the table line says persistent" \
		" 1 persistent$" "$(dmsetup table f)"
	fleece_checker "chunk $chunk: persistent, VM writes, discards" $M_/p "$chunk" --discard
	# The status counts a release once its gone bit is on disk: a flush
	# of the fleece waits for that.
	check "chunk $chunk: a flush of the fleece" colo-open -f $M_/f
	saved_used "chunk $chunk"
	before=$(fst)
	t_diag "chunk $chunk: status $before"
	check "chunk $chunk: the fleece removed" dmsetup remove f
	check "chunk $chunk: re-attached, no write since" fleece reattach
	check_eq "chunk $chunk: the same needed, saved, released, used" \
		"active ${before#active }" "$(fst)"
	fleece_checker "chunk $chunk: after the re-attach" $M_/p "$chunk" --discard

	# The colo device goes too, and comes back from its metadata.
	check "chunk $chunk, after the re-attach: a flush of the fleece" \
		colo-open -f $M_/f
	saved_used "chunk $chunk, after the re-attach"
	before=$(fst)
	dmsetup remove f && dmsetup remove p
	check "chunk $chunk: the primary loaded again" primary "$chunk"
	check "chunk $chunk: re-attached to it" fleece reattach
	check_eq "chunk $chunk: the same state after both came back" \
		"$before" "$(fst)"
	fleece_checker "chunk $chunk: after the colo device came back" $M_/p "$chunk" --discard

	# A write to base with no fleece: the view cannot come back.
	dmsetup remove f
	check "chunk $chunk: a VM write with the fleece gone" \
		dd if=/dev/urandom of=$M_/p bs=4k count=1 seek=3 oflag=direct
	check_fails "chunk $chunk: re-attach refused after it" fleece reattach
	check "chunk $chunk: a new persistent fleece over the same buffer" \
		fleece persistent
	check_match "chunk $chunk: it starts empty" "^active [0-9]+ 0 0 0/" "$(fst)"
	dmsetup remove f
done

# --- secondary: ingress writes, then a failover whose commit writes base -----
dm_cleanup
zero $M 1
buf_up
zero $BUF 1
dmsetup create c --table "0 $LEN colo secondary $B $H $A 8 2 metadata $M" &&
	dmsetup create ci --table "0 $LEN colo-ingress $B" && dmsetup mknodes
dd if=$B of=$REF bs=1M iflag=direct 2>/dev/null
rm -f $STATE
check "secondary: a persistent fleece" \
	dmsetup create f --table "0 $LEN colo-fleece $B $BUF 1 persistent"
dmsetup mknodes f
whole() { dd if=$M_/f bs=1M iflag=direct 2>/dev/null | md5sum; }
ref=$(md5sum < $REF)
check "secondary: ingress writes" \
	dd if=/dev/urandom of=$M_/ci bs=64k count=256 oflag=direct
check "secondary: VM writes" \
	dd if=/dev/urandom of=$M_/c bs=64k count=128 oflag=direct
check_eq "secondary: the fleece as at its start" "$ref" "$(whole)"
dmsetup remove f
check "secondary: re-attached" \
	dmsetup create f --table "0 $LEN colo-fleece $B $BUF 1 reattach"
dmsetup mknodes f
check_eq "secondary: the re-attached fleece as at its start" "$ref" "$(whole)"
check "secondary: failover" dmsetup message c 0 failover
check "secondary: commit done" wait_field c 8 done 60
check_eq "secondary: after the commit, the fleece as at its start" \
	"$ref" "$(whole)"
dmsetup remove f
check "secondary: re-attached after the commit" \
	dmsetup create f --table "0 $LEN colo-fleece $B $BUF 1 reattach"
dmsetup mknodes f
check_eq "secondary: and still as at its start" "$ref" "$(whole)"
dmsetup remove f
check "secondary, failed over: a VM write with no fleece" \
	dd if=/dev/urandom of=$M_/c bs=4k count=1 oflag=direct
check_fails "secondary: re-attach refused after it" \
	dmsetup create f --table "0 $LEN colo-fleece $B $BUF 1 reattach"

# --- needed: the restriction survives a re-attach ---------------------------
dm_cleanup
zero $M 1
buf_up
primary 8
fill_random $M_/p
dd if=$B of=$REF bs=1M iflag=direct 2>/dev/null
total=$((LEN / 8))
check "needed: a persistent fleece" fleece persistent
check "needed: needed 0-99 200" dmsetup message f 0 needed 0-99 200
check "needed: VM writes over everything" \
	dd if=/dev/urandom of=$M_/p bs=1M count=$MIB oflag=direct
check_match "needed: only the needed chunks were saved" \
	"^active 101 101 0 101/" "$(fst)"
dmsetup remove f
check "needed: re-attached" fleece reattach
check_match "needed: 101 chunks in the view, 101 saved, the others released" \
	"^active 101 101 $((total - 101)) 101/" "$(fst)"
check_eq "needed: chunks 0-99 as at the start" \
	"$(dd if=$REF bs=4k count=100 2>/dev/null | md5sum)" \
	"$(dd if=$M_/f bs=4k count=100 iflag=direct 2>/dev/null | md5sum)"
check_eq "needed: chunk 200 as at the start" \
	"$(dd if=$REF bs=4k skip=200 count=1 2>/dev/null | md5sum)" \
	"$(dd if=$M_/f bs=4k skip=200 count=1 iflag=direct 2>/dev/null | md5sum)"
check_fails "needed: a chunk not needed reads EIO" \
	dd if=$M_/f of=/dev/null bs=4k skip=150 count=1 iflag=direct
check "needed: a discard of chunk 0" \
	blkdiscard -o 0 -l 4096 $M_/f
dmsetup remove f
check "needed: re-attached again" fleece reattach
check_match "needed: the discarded chunk stayed released" \
	"^active 100 100 $((total - 100)) 100/" "$(fst)"
check_fails "needed: chunk 0 reads EIO" \
	dd if=$M_/f of=/dev/null bs=4k count=1 iflag=direct

# --- order: a write reaches base only once its save's map entry is written ---
# The buffer's map blocks (before the first slot) behind a 3 s write
# delay, its slots not: a VM
# write to a chunk that needs a save must leave base as it was for as long
# as the entry takes.
dm_cleanup
zero $M 1
zero /dev/ram2 1
primary 8
fill_random $M_/p
dd if=$B of=$REF bs=1M iflag=direct 2>/dev/null
# The first slot's sector (dm-colo-fleece-format.h): a header block, then
# a table block per 512 slots and a gone block per 32768 chunks; the
# buffer (as large as the device) has a few slots fewer than chunks.
DS=$(( (1 + (LEN / 8 + 511) / 512 + (LEN / 8 + 32767) / 32768) * 8 ))
dmsetup create buf --table "0 $DS delay /dev/ram2 0 0 /dev/ram2 0 3000
$DS $((LEN - DS)) linear /dev/ram2 $DS" && dmsetup mknodes buf
check "order: a persistent fleece, its map behind a 3 s delay" fleece persistent
check_eq "order: its header puts the first slot at sector $DS" "$DS" \
	"$(od -An -t u8 -j 72 -N 8 $BUF | tr -d ' ')"
old=$(chunk_sum $REF 5)
check_fails "order: the reference's chunk was read" \
	test "$old" = "$(printf '' | md5sum)"
dd if=/dev/urandom of=$M_/p bs=4k seek=5 count=1 oflag=direct 2>/dev/null &
pid=$!
sleep 1
check_eq "order: 1 s into the write, base holds the old data" "$old" "$(chunk_sum $B 5)"
wait $pid
check_fails "order: once it completed, base holds the new data" \
	test "$old" = "$(chunk_sum $B 5)"
check_eq "order: the fleece holds the old data" "$old" "$(chunk_sum $M_/f 5)"
dmsetup remove f
check "order: re-attached" fleece reattach
check_eq "order: the re-attached fleece holds the old data" "$old" "$(chunk_sum $M_/f 5)"
# A release's gone bit goes to the map (behind the delay) with the next
# commit: a flush of the fleece ends after it; so does a VM write to the
# chunk, which saves nothing (that commit frees the chunk's slot), then
# goes to base.
released_waits 6 "a flush of the fleece" colo-open -f $M_/f
released_waits 7 "a VM write to the chunk" \
	dd if=/dev/urandom of=$M_/p bs=4k seek=7 count=1 oflag=direct
dmsetup remove f
dmsetup remove buf
buf_up

# --- bad tables --------------------------------------------------------------
dmsetup remove f
check_fails "reattach with the fleece's name dropped (a VM write since)" \
	sh -c "dd if=/dev/zero of=$M_/p bs=4k count=1 oflag=direct 2>/dev/null && \
	dmsetup create f --table '0 $LEN colo-fleece $B $BUF 1 reattach'"
zero $BUF 1
check_fails "reattach of a buffer with no map" fleece reattach
check "a persistent fleece again" fleece persistent
dmsetup remove f
check_fails "reattach with another length" \
	dmsetup create f --table "0 $((LEN / 2)) colo-fleece $B $BUF 1 reattach"
check_fails "an unknown option" \
	dmsetup create f --table "0 $LEN colo-fleece $B $BUF 1 persist"
dmsetup remove p
dmsetup create p --table "0 $LEN colo primary $B 8" && dmsetup mknodes p
check_fails "persistent without a metadata device" fleece persistent
check "not persistent: accepted" \
	dmsetup create f --table "0 $LEN colo-fleece $B $BUF"
dm_cleanup
t_done
