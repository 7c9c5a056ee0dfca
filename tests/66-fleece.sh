#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# colo-fleece: a read-only point-in-time view of a colo device's base.
# On a primary (chunks 1, 8, 128) and on a secondary (its ingress writing,
# then a failover whose commit writes base), the randomized checker
# (colo-fleece-check: a writer on the device that reaches base, a reader
# comparing the fleece with a copy of base taken at its start, discards
# releasing chunks) must find every byte as it was; a fleece started on a
# secondary after an ingress write is refused until a checkpoint; a full
# buffer, a buffer of dm-error, dm-flakey and dm-delay past the timeout
# break the fleece (status, dm event, reads fail) and never fail or hold
# the guest; bad tables and messages are refused and change nothing;
# the colo device and the module cannot go while a fleece holds them;
# the checker again with the buffer behind a 1 ms dm-delay (saves that
# end after their start, which map starts itself); on a secondary, an
# ingress write to a chunk that needs both copies reads base once (one
# copy writes hidden and the buffer), also with the buffer or hidden
# stalled past the timeout.
# Then the model checker with a fleece (colo-fsx --fleece): on a secondary
# with checkpoints, with a failover and its commit, with a buffer too
# small, and on a primary with a mirror.
# COLO_T_FLEECE_OPS ops per checker run, FSX_FLEECE_OPS per colo-fsx run,
# COLO_T_FLEECE_MIB the legs' size (32), COLO_T_FLEECE_CHUNKS the chunk
# sizes of the primary's rounds (1 8 128); FSX_SEED fixes the seed.
. /tests/lib.sh

MIB=${COLO_T_FLEECE_MIB:-32}
OPS=${COLO_T_FLEECE_OPS:-2000}
brd_setup 4 $MIB
LEN=$(dev_sectors /dev/ram0)
B=/dev/ram0 H=/dev/ram1 A=/dev/ram2 BUF=/dev/ram3
REF=/tmp/fleece-ref

fleece_state() { field f 4; }
# A read of the whole fleece: the number of 4 KiB blocks that failed.
read_errors() {
	dd if=/dev/mapper/f of=/dev/null bs=4k iflag=direct conv=noerror 2>&1 |
		grep -c 'Input/output error'
}

# primary_up CHUNK: a new primary "p" on $B full of random data, and the
# checker's reference (base at the fleece's start) taken.
primary_up() {
	dm_cleanup
	dmsetup create p --table "0 $LEN colo primary $B $1"
	dmsetup mknodes
	fill_random /dev/mapper/p
	rm -f /tmp/fleece-state
	dd if=$B of=$REF bs=1M iflag=direct 2>/dev/null
}

# --- primary: the view holds while the VM writes ---------------------------
# COLO_T_FLEECE_CHUNKS: the chunk sizes of these rounds (1 8 128).
for chunk in ${COLO_T_FLEECE_CHUNKS:-1 8 128}; do
	primary_up $chunk
	check "chunk $chunk: fleece created on the primary" \
		dmsetup create f --table "0 $LEN colo-fleece $B $BUF"
	dmsetup mknodes
	total=$((LEN / chunk))
	check_eq "chunk $chunk: status before any write" \
		"active $total 0 0 0/$total" "$(dmsetup status f | cut -d' ' -f4-)"
	fleece_checker "chunk $chunk: primary, VM writes, discards" /dev/mapper/p \
		"$chunk" --discard
	st=$(dmsetup status f)
	check_match "chunk $chunk: active, chunks saved and released" \
		"colo-fleece active [0-9]+ [1-9][0-9]* [1-9][0-9]* [0-9]+/$total" "$st"
	saved=$(echo "$st" | awk '{ print $6 }')
	used=$(echo "$st" | awk '{ print $8 }' | cut -d/ -f1)
	check_eq "chunk $chunk: buffer use is the saved chunks" "$saved" "$used"
	check_eq "chunk $chunk: base moved on (the VM's writes are there)" 1 \
		"$(cmp -s $B $REF; echo $?)"
	check_fails "chunk $chunk: write to the fleece refused" \
		dd if=/dev/zero of=/dev/mapper/f bs=4k count=1 oflag=direct conv=notrunc
	check "chunk $chunk: fleece removed" dmsetup remove f
	check "chunk $chunk: VM writes after the fleece went" \
		dd if=/dev/urandom of=/dev/mapper/p bs=64k count=16 oflag=direct conv=notrunc
done

# --- saves that end after their start: map starts them ---------------------
# On RAM disks a save started in the worker ends inside its start, and map
# hands every write that needs a save to the worker (dm-colo-save.c). A
# buffer behind dm-delay (1 ms) ends them later, from dm-delay's worker:
# then map starts the saves itself (and one in 256 goes to the worker to
# look again), the other way through the same code.
primary_up 8
dmsetup create slowbuf --table "0 $LEN delay $BUF 0 1"
dmsetup mknodes
check "delayed buffer: fleece created" \
	dmsetup create f --table "0 $LEN colo-fleece $B /dev/mapper/slowbuf"
dmsetup mknodes
# A sixth of the ops: each save waits for dm-delay's timer (3000 took 70 s).
CHECK_OPS=$((OPS / 6))
fleece_checker "delayed buffer (1 ms): primary, VM writes, discards" /dev/mapper/p 8 \
	--discard
CHECK_OPS=
check_match "delayed buffer: still active, chunks saved" \
	"colo-fleece active [0-9]+ [1-9][0-9]* " "$(dmsetup status f)"
dmsetup remove f
dmsetup remove p
dmsetup remove slowbuf

# --- with a mirror, a colo reload, a colo suspend ----------------------------
primary_up 8
dmsetup create f --table "0 $LEN colo-fleece $B $BUF"
dmsetup mknodes
check "mirror: full sync starts" dmsetup message p 0 mirror start $A full
check "mirror: in sync" wait_field p 11 in-sync 60
fleece_checker "mirror in sync: VM writes (mirrored)" /dev/mapper/p 8 --discard
check_eq "mirror: replica equals base" "$(direct_sum $B)" "$(direct_sum $A)"
check "mirror: stop" dmsetup message p 0 mirror stop
check_fails "a reload of the fleece is refused (a second fleece)" \
	dmsetup load f --table "0 $LEN colo-fleece $B $BUF"
check "colo reload (same table) with the fleece" \
	sh -c "dmsetup reload p --table '0 $LEN colo primary $B 8' && dmsetup suspend p && dmsetup resume p"
check_eq "after the colo reload: still active" active "$(fleece_state)"
fleece_checker "after the colo reload" /dev/mapper/p 8
# (The chunk may have been released: then the read ends with EIO, still
# only once the colo device resumed.)
dmsetup suspend p
rm -f /tmp/fleece-rc
(dd if=/dev/mapper/f of=/dev/null bs=4k count=1 skip=7 iflag=direct 2>/dev/null
 echo $? > /tmp/fleece-rc) &
rpid=$!
sleep 1
check_eq "colo suspended: a fleece read waits" no "$([ -e /tmp/fleece-rc ] && echo yes || echo no)"
dmsetup resume p
wait $rpid
check_eq "colo resumed: the read completes" yes "$([ -e /tmp/fleece-rc ] && echo yes || echo no)"
ev=$(events f)
check "colo table replaced by a linear one" \
	sh -c "dmsetup reload p --table '0 $LEN linear $B 0' && dmsetup suspend p && dmsetup resume p"
check_eq "replaced: broken:detached" broken:detached "$(fleece_state)"
check "replaced: dm event" timeout 5 dmsetup wait f "$ev"
check_fails "replaced: reads fail" \
	dd if=/dev/mapper/f of=/dev/null bs=4k count=1 iflag=direct
check "replaced: the fleece goes" dmsetup remove f

# --- bad input: refused, nothing changed -----------------------------------
dm_cleanup
dmsetup create p --table "0 $LEN colo primary $B 8"
dmsetup create small --table "0 4 linear $BUF 0"
dmsetup mknodes
pst=$(dmsetup status p)
check_fails "no colo device on the base: refused" \
	dmsetup create f --table "0 $LEN colo-fleece $H $BUF"
check_fails "buffer is base: refused" \
	dmsetup create f --table "0 $LEN colo-fleece $B $B"
check_fails "buffer smaller than a chunk: refused" \
	dmsetup create f --table "0 $LEN colo-fleece $B /dev/mapper/small"
check_fails "buffer stacked on the colo device: refused" \
	dmsetup create f --table "0 $LEN colo-fleece $B /dev/mapper/p"
check_fails "longer than the colo device: refused" \
	dmsetup create f --table "0 $((LEN + 8)) colo-fleece $B $BUF"
for opts in "1 timeout" "2 timeout 0" "2 timeout x" "2 read_once" "1 bogus" \
	    "3 timeout 10" "x"; do
	check_fails "options '$opts': refused" \
		dmsetup create f --table "0 $LEN colo-fleece $B $BUF $opts"
done
check_fails "one argument: refused" dmsetup create f --table "0 $LEN colo-fleece $B"
check_eq "no device left by the refusals" "" "$(dmsetup ls | grep -w f)"
check "a fleece with a timeout of 2000 ms" \
	dmsetup create f --table "0 $LEN colo-fleece $B $BUF 2 timeout 2000"
check_match "table shows the option" \
	"^0 $LEN colo-fleece [0-9]+:[0-9]+ [0-9]+:[0-9]+ 2 timeout 2000$" \
	"$(dmsetup table f)"
check_fails "a second fleece on the same colo device: refused" \
	dmsetup create f2 --table "0 $LEN colo-fleece $B $H"
fst=$(dmsetup status f)
check_fails "unknown message refused" dmsetup message f 0 bogus
check_fails "empty message refused" dmsetup message f 0 ""
check_eq "refused messages changed nothing" "$fst" "$(dmsetup status f)"
check_fails "colo device removal refused while a fleece holds it" dmsetup remove p
check_fails "module unload refused while a fleece is loaded" rmmod dm_colo
check_eq "the colo device is as it was" "$pst" "$(dmsetup status p)"
dmsetup remove f

# --- read_once: a read of a whole chunk releases it ---------------------------
dm_cleanup
dmsetup create p --table "0 $LEN colo primary $B 8"
dmsetup mknodes
fill_random /dev/mapper/p
dd if=$B of=$REF bs=1M iflag=direct 2>/dev/null
check "read_once: fleece created" \
	dmsetup create f --table "0 $LEN colo-fleece $B $BUF 1 read_once"
dmsetup mknodes
check_match "read_once: in the table" " 1 read_once$" "$(dmsetup table f)"
check "read_once: VM writes to chunks 0-3" \
	dd if=/dev/urandom of=/dev/mapper/p bs=4k count=4 oflag=direct conv=notrunc
# colo-dio: busybox dd drops O_DIRECT on a buffer it did not align, and
# a buffered read reads whole pages (whole chunks here).
dio() {	# OFFSET LEN: an O_DIRECT read of the fleece into /tmp/dio
	rm -f /tmp/dio
	colo-dio read /dev/mapper/f "$1" "$2" /tmp/dio
}
check "read_once: read chunk 0 (saved)" dio 0 4096
check_eq "read_once: chunk 0 as at the start" \
	"$(dd if=$REF bs=4k count=1 2>/dev/null | md5sum)" "$(md5sum < /tmp/dio)"
check "read_once: read chunk 9 (from base)" dio 36864 4096
check_eq "read_once: chunk 9 as at the start" \
	"$(dd if=$REF bs=4k skip=9 count=1 2>/dev/null | md5sum)" "$(md5sum < /tmp/dio)"
check_match "read_once: both released, chunk 0's buffer chunk freed" \
	"colo-fleece active $((LEN / 8 - 2)) 3 2 3/" "$(dmsetup status f)"
check_exit 5 "read_once: chunk 0 read again fails with EIO" dio 0 4096
check "read_once: 512 bytes of chunk 1" dio 4096 512
check_match "read_once: a part released nothing" \
	"colo-fleece active $((LEN / 8 - 2)) 3 2 3/" "$(dmsetup status f)"
check "read_once: chunk 1 whole" dio 4096 4096
check_eq "read_once: chunk 1 as at the start" \
	"$(dd if=$REF bs=4k skip=1 count=1 2>/dev/null | md5sum)" "$(md5sum < /tmp/dio)"
check "read_once: a VM write to the released chunk 9" \
	dd if=/dev/urandom of=/dev/mapper/p bs=4k seek=9 count=1 oflag=direct conv=notrunc
check_match "read_once: chunk 9 not saved (chunk 1 released)" \
	"colo-fleece active $((LEN / 8 - 3)) 2 3 2/" "$(dmsetup status f)"
dmsetup remove f

# --- needed: only the listed chunks are saved and served ---------------------
dm_cleanup
dmsetup create p --table "0 $LEN colo primary $B 8"
dmsetup mknodes
fill_random /dev/mapper/p
dd if=$B of=$REF bs=1M iflag=direct 2>/dev/null
dmsetup create f --table "0 $LEN colo-fleece $B $BUF"
dmsetup mknodes
total=$((LEN / 8))
fst=$(dmsetup status f)
for m in "needed" "needed 5-3" "needed x" "needed $total" "needed 0-$total" \
	 "needed 1 2-x"; do
	check_fails "'$m' refused" dmsetup message f 0 $m
done
check_eq "refused needed messages changed nothing" "$fst" "$(dmsetup status f)"
check "needed all (the default) accepted" dmsetup message f 0 needed all
check "needed 0-99 200" dmsetup message f 0 needed 0-99 200
check_match "needed: 101 chunks in the view" "colo-fleece active 101 0 0 0/$total" \
	"$(dmsetup status f)"
check_fails "needed all refused once restricted" dmsetup message f 0 needed all
check "needed: VM writes over everything" \
	dd if=/dev/urandom of=/dev/mapper/p bs=1M count=$MIB oflag=direct
check_match "needed: only the needed chunks were saved" \
	"colo-fleece active 101 101 0 101/$total" "$(dmsetup status f)"
check_eq "needed: chunks 0-99 as at the start" \
	"$(dd if=$REF bs=4k count=100 2>/dev/null | md5sum)" \
	"$(dd if=/dev/mapper/f bs=4k count=100 iflag=direct 2>/dev/null | md5sum)"
check_eq "needed: chunk 200 as at the start" \
	"$(dd if=$REF bs=4k skip=200 count=1 2>/dev/null | md5sum)" \
	"$(dd if=/dev/mapper/f bs=4k skip=200 count=1 iflag=direct 2>/dev/null | md5sum)"
check_fails "needed: a chunk not needed reads EIO" \
	dd if=/dev/mapper/f of=/dev/null bs=4k skip=150 count=1 iflag=direct
check "needed 50-60 200-300: the intersection" \
	dmsetup message f 0 needed 50-60 200-300
check_match "needed: 12 chunks left (the buffer keeps what was saved)" \
	"colo-fleece active 12 101 0 101/$total" "$(dmsetup status f)"
check_fails "needed: chunk 0 left the view" \
	dd if=/dev/mapper/f of=/dev/null bs=4k count=1 iflag=direct
dmsetup remove f

# --- secondary: one read of base for hidden and the buffer ----------------
# An ingress write to a chunk that needs both copies reads base once: the
# save's copy writes hidden too. Base is a dm-linear here, whose stat
# counts the sectors read.
dm_cleanup
dmsetup create cb --table "0 $LEN linear $B 0"
dmsetup mknodes
dmsetup create c --table "0 $LEN colo secondary /dev/mapper/cb $H $A 8"
dmsetup create c-ingress --table "0 $LEN colo-ingress /dev/mapper/cb"
dmsetup create f --table "0 $LEN colo-fleece /dev/mapper/cb $BUF"
dmsetup mknodes
base_read() {	# sectors read from cb so far
	awk '{ print $3 }' "/sys/block/dm-$(dmsetup info -c --noheadings -o minor cb)/stat"
}
for n in 100 101 102 103; do
	old=$(chunk_sum $B $n)
	r0=$(base_read)
	dd if=/dev/urandom of=/dev/mapper/c-ingress bs=4k seek=$n count=1 \
		oflag=direct 2>/dev/null
	r1=$(base_read)
	check_eq "shared read: chunk $n: ingress write read 8 sectors of base" \
		8 $((r1 - r0))
	check_eq "shared read: chunk $n: hidden holds its old data" \
		"$old" "$(chunk_sum $H $n)"
	check_eq "shared read: chunk $n: the fleece shows its old data" \
		"$old" "$(chunk_sum /dev/mapper/f $n)"
	check_eq "shared read: chunk $n: the VM sees its old data" \
		"$old" "$(chunk_sum /dev/mapper/c $n)"
done
check_eq "shared read: 4 chunks saved" 4 "$(field f 6)"

# shared_stall NAME HIDDEN-TABLE BUFFER-TABLE CHUNK: the same with hidden
# and the buffer behind those tables and a 500 ms timeout: the ingress
# write must succeed, the fleece break (timeout), and hidden, the VM and
# base hold what they must. A stalled buffer must not hold the write; a
# stalled hidden holds it (base must not change before H), as it would
# without a fleece.
shared_stall() {
	local n=$4 old t0 t1
	dm_cleanup
	dmsetup create cb --table "0 $LEN linear $B 0" &&
		dmsetup create hd --table "$2" && dmsetup create fb --table "$3" &&
		dmsetup mknodes &&
		dmsetup create c --table "0 $LEN colo secondary /dev/mapper/cb /dev/mapper/hd $A 8" &&
		dmsetup create c-ingress --table "0 $LEN colo-ingress /dev/mapper/cb" &&
		dmsetup create f --table "0 $LEN colo-fleece /dev/mapper/cb /dev/mapper/fb 2 timeout 500" &&
		dmsetup mknodes || { t_fail "$1: setup"; return; }
	old=$(chunk_sum $B $n)
	dd if=/dev/urandom of=/tmp/fleece-new bs=4k count=1 2>/dev/null
	t0=$(awk '{ printf "%d\n", $1 * 1000 }' /proc/uptime)
	check "$1: the ingress write succeeds" dd if=/tmp/fleece-new \
		of=/dev/mapper/c-ingress bs=4k seek=$n count=1 oflag=direct conv=notrunc
	t1=$(awk '{ printf "%d\n", $1 * 1000 }' /proc/uptime)
	t_diag "$1: the ingress write took $((t1 - t0)) ms"
	check_eq "$1: broken:timeout" broken:timeout "$(fleece_state)"
	check_eq "$1: hidden holds the old data" "$old" \
		"$(chunk_sum /dev/mapper/hd $n)"
	check_eq "$1: the VM sees the old data" "$old" \
		"$(chunk_sum /dev/mapper/c $n)"
	check_eq "$1: base holds the new data" "$(md5sum < /tmp/fleece-new)" \
		"$(chunk_sum $B $n)"
	check "$1: the fleece goes" dmsetup remove f
}
shared_stall "shared read, buffer past the timeout" "0 $LEN linear $H 0" \
	"0 $LEN delay $BUF 0 3000" 200
shared_stall "shared read, hidden past the timeout" \
	"0 $LEN delay $H 0 0 $H 0 1500" "0 $LEN linear $BUF 0" 300

# --- secondary: started at a checkpoint, the ingress writes, failover -------
dm_cleanup
dmsetup create c --table "0 $LEN colo secondary $B $H $A 8"
dmsetup create c-ingress --table "0 $LEN colo-ingress $B"
dmsetup mknodes
fill_random /dev/mapper/c-ingress
dmesg -c > /dev/null
dmsetup create f --notable
dmsetup load f --table "0 $LEN colo-fleece $B $BUF"
check_fails "secondary: start after an ingress write refused" dmsetup resume f
check_match "secondary: the refusal says why" \
	"ingress wrote base since the last checkpoint" "$(dmesg)"
check "secondary: checkpoint" dmsetup message c 0 checkpoint
rm -f /tmp/fleece-state
dd if=$B of=$REF bs=1M iflag=direct 2>/dev/null
check "secondary: the refused fleece resumes after the checkpoint" dmsetup resume f
dmsetup mknodes
check_eq "secondary: active" active "$(fleece_state)"
dd if=/dev/urandom of=/dev/mapper/c bs=64k count=64 oflag=direct 2>/dev/null
fleece_checker "secondary: ingress writes, discards" /dev/mapper/c-ingress 8 --discard
check "secondary: checkpoint with the fleece" dmsetup message c 0 checkpoint
fleece_checker "secondary: after a checkpoint, more ingress writes" \
	/dev/mapper/c-ingress 8
dd if=/dev/urandom of=/dev/mapper/c bs=64k count=256 oflag=direct 2>/dev/null
check "secondary: failover" dmsetup message c 0 failover
check "secondary: commit done" wait_field c 8 done 60
fleece_checker "after failover: the commit's and the VM's writes" /dev/mapper/c 8
check_eq "after failover: still active" active "$(fleece_state)"
dmsetup remove f

# --- a full buffer breaks the fleece, never the guest ------------------------
dm_cleanup
dmsetup create p --table "0 $LEN colo primary $B 8"
dmsetup create sbuf --table "0 128 linear $BUF 0"	# 16 chunks
dmsetup mknodes
dmsetup create f --table "0 $LEN colo-fleece $B /dev/mapper/sbuf"
dmsetup mknodes
ev=$(events f)
dd if=/dev/urandom of=/tmp/fleece-data bs=64k count=8 2>/dev/null
check "full: the VM's writes over 32 chunks succeed" \
	dd if=/tmp/fleece-data of=/dev/mapper/p bs=64k oflag=direct conv=notrunc
check_eq "full: status says why" broken:full "$(fleece_state)"
check "full: dm event" timeout 5 dmsetup wait f "$ev"
check_eq "full: the VM's data is in base" \
	"$(md5sum < /tmp/fleece-data)" \
	"$(dd if=$B bs=64k count=8 iflag=direct 2>/dev/null | md5sum)"
check_fails "full: reads of the fleece fail" \
	dd if=/dev/mapper/f of=/dev/null bs=4k count=1 iflag=direct
check "full: VM writes go on" \
	dd if=/dev/urandom of=/dev/mapper/p bs=64k count=64 oflag=direct conv=notrunc
dmsetup remove f

# --- faults on the buffer ------------------------------------------------------
# fault_case NAME TABLE REASON: a buffer "fb" with TABLE; one VM write must
# succeed and break the fleece with REASON; reads then fail.
fault_case() {
	dmsetup remove f 2>/dev/null
	dmsetup remove fb 2>/dev/null
	dmsetup create fb --table "$2" && dmsetup mknodes &&
		dmsetup create f --table "0 $LEN colo-fleece $B /dev/mapper/fb 2 timeout 1000" &&
		dmsetup mknodes || { t_fail "$1: setup"; return; }
	ev=$(events f)
	t0=$(awk '{ printf "%d\n", $1 * 1000 }' /proc/uptime)
	check "$1: VM write succeeds" \
		dd if=/tmp/fleece-data of=/dev/mapper/p bs=64k count=1 oflag=direct conv=notrunc
	t1=$(awk '{ printf "%d\n", $1 * 1000 }' /proc/uptime)
	t_diag "$1: the write took $((t1 - t0)) ms"
	check_eq "$1: broken:$3" "broken:$3" "$(fleece_state)"
	check "$1: dm event" timeout 5 dmsetup wait f "$ev"
	check_fails "$1: reads fail" \
		dd if=/dev/mapper/f of=/dev/null bs=4k count=1 iflag=direct
	check_eq "$1: the VM's data is in base" \
		"$(dd if=/tmp/fleece-data bs=64k count=1 2>/dev/null | md5sum)" \
		"$(dd if=$B bs=64k count=1 iflag=direct 2>/dev/null | md5sum)"
}
fault_case "dm-error buffer" "0 $LEN error" io-error
fault_case "dm-flakey buffer (down)" \
	"0 $LEN flakey $BUF 0 0 60" io-error
fault_case "dm-delay buffer past the timeout" "0 $LEN delay $BUF 0 5000" timeout
check "delay: VM writes go on" \
	dd if=/dev/urandom of=/dev/mapper/p bs=64k count=64 oflag=direct conv=notrunc
check "delay: the fleece goes (its late save ends first)" dmsetup remove f

# --- the model checker learns the fleece (colo-fsx --fleece) -----------------
# colo-fsx makes "<name>-fleece" over base with $BUF as its buffer (after a
# checkpoint, the workers held; on a primary at any op) and restarts it every
# N ops; a reader thread compares every read with its model of base at the
# start while VM and ingress threads write (checkpoints, a failover and its
# commit, a mirror), discards and "needed" take chunks out of the view (their
# reads must fail, the status counts must follow), and with --fleece-small a
# buffer of 1/16 of the chunks must break it (broken:full) and nothing else.
# FSX_FLEECE_OPS ops per run (default 2500).
FOPS=${FSX_FLEECE_OPS:-2500}
fsx_fleece() {	# DESC CHUNK COLO-FSX-ARGS...
	local desc=$1 chunk=$2 seed
	shift 2
	seed=${FSX_SEED:-$(( $(date +%s) * 1000 + chunk ))}
	fsx_run "fsx --fleece: $desc, chunk $chunk: $FOPS ops, seed $seed" \
		'^# (colo-fsx:|fleece-summary)' --chunk "$chunk" --ops "$FOPS" \
		--seed "$seed" --fleece $BUF "$@"
	dmsetup remove c-fleece 2>/dev/null
	dmsetup remove c-fleecebuf 2>/dev/null
	dmsetup remove p-fleece 2>/dev/null
}
secondary() {	# CHUNK
	dm_cleanup
	dmsetup create c --table "0 $LEN colo secondary $B $H $A $1" &&
		dmsetup create c-ingress --table "0 $LEN colo-ingress $B" &&
		dmsetup mknodes
}
SEC="--name c --vm /dev/mapper/c --ingress /dev/mapper/c-ingress --base $B --hidden $H --active $A"
if secondary 1; then
	fsx_fleece "secondary, 2 VM + 2 ingress threads, restarts" 1 $SEC \
		--fleece-every $((FOPS / 3))
else
	t_fail "fsx --fleece: secondary, chunk 1: setup"
fi
if secondary 8; then
	fsx_fleece "secondary, failover and its commit" 8 $SEC --failover \
		--fleece-every $((FOPS / 4))
else
	t_fail "fsx --fleece: failover, chunk 8: setup"
fi
if secondary 8; then
	fsx_fleece "secondary, a buffer too small (broken:full)" 8 $SEC \
		--fleece-small --fleece-every $((FOPS / 2))
else
	t_fail "fsx --fleece: small buffer, chunk 8: setup"
fi
# The checker can fail: compared with the live model of base (not the
# snapshot), the first read of a chunk written since the start differs.
if secondary 8; then
	colo-fsx $SEC --chunk 8 --ops 1000 --seed "${FSX_SEED:-$(date +%s)}" \
		--fleece $BUF --fleece-bug live > /tmp/fsx.log 2>&1
	rc=$?
	grep '^colo-fsx: FAIL' /tmp/fsx.log | sed 's/^/# /'
	check_eq "fsx --fleece-bug live (a wrong snapshot): exit 1" 1 "$rc"
	check_match "fsx --fleece-bug live: a data mismatch of the fleece" \
		"data mismatch in fleece" "$(cat /tmp/fsx.log)"
	dmsetup remove c-fleece 2>/dev/null
else
	t_fail "fsx --fleece-bug live: setup"
fi
dm_cleanup
if dmsetup create p --table "0 $LEN colo primary $B 128" && dmsetup mknodes; then
	fsx_fleece "primary, mirror starts and stops" 128 --mirror --name p \
		--vm /dev/mapper/p --base $B --replica $A \
		--fleece-every $((FOPS / 3))
else
	t_fail "fsx --fleece: primary, chunk 128: setup"
fi
dm_cleanup
t_done
