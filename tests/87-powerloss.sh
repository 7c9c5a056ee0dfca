#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Power loss (SPEC.md "Durability (metadata device)"), with dm-log-writes.
#
# Every leg of one colo device, its metadata device and a replica are
# dm-linear slices of one log-writes device "lw" (a null_blk disk with a
# volatile write cache as its data device, the log on /dev/ram0), so every
# write any of them takes is in one ordered log, logged once a flush made
# it durable. base sits behind a dm-delay (writes 25 ms), the table has
# max_copies 2 and the chunks written before the failover are two apart
# (the commit copies adjacent chunks together, 1 MiB at a time), so that
# the failover commit spans several VM flush epochs;
# the mirror writes r2 through a dm-delay that holds the copy of the last
# chunk for 200 ms, so that the full pass ends with a copy in flight (no
# write of the run touches that chunk's region after the failover).
#
# The run: base's contents written through lw; a secondary with metadata
# and an ingress; VM and ingress writes, a checkpoint, more of both; the
# VM's view saved (view0, and base as the old primary's disk, base0);
# failover; then epochs: epoch i writes a set of chunks of its own (4 KiB,
# every fourth 2 KiB inside its chunk) through the colo device with
# O_DIRECT, flushes (fsync) and marks the log "e<i>". Epochs while the
# commit runs; "committed"; a full mirror to the slice r2, an epoch while
# it copies, "insync"; mirrored epochs, a pause (marks cleared lazily),
# another; "async": the mirror switched to async mode (issue 18) with every
# replica write delayed by 2.5 s (more than two metadata ticks, so the lazy
# clearing passes run while the background writes are in flight), an epoch
# with max_lag 64 KiB (every write sent, none ahead), the lag back to 0,
# "asyncb", an epoch with max_lag 4 KiB (all but the first write ahead:
# marked dirty), "mirror sync", the delay
# off, in sync again, "asyncdone"; "mirror stop", base-only epochs. Then
# everything is removed.
#
# Cut points: every mark, just after every superblock write, just after
# every metadata write that follows an async epoch's mark before the next
# part ("asyncb", "asyncdone"), and random
# entry indexes (one between each pair of marks, then more to 24; seed
# COLO_T_PL_SEED, else FSX_SEED, else the clock; printed). For each: the
# log replayed onto a zeroed RAM disk up to the cut, the same slices built
# over it, the SAME secondary table loaded (its metadata included), and
#
#   cut before the failover mark  secondary (its view is base), or primary
#                                 (then, once the commit is done, view0)
#   cut at/after it               primary, ingress fenced, the commit
#                                 resumes by itself and ends; every chunk
#                                 of an epoch marked before the cut holds
#                                 its data, the next epoch's chunks old or
#                                 new, every other chunk view0's (imgcheck)
#   dirty coverage (primary)      unknown exactly when the last superblock
#                                 replayed says cut short (then a dirty
#                                 start is refused), else complete: then
#                                 "mirror start <replica> dirty" reaches
#                                 in-sync and base equals the replica:
#                                 base0 restored on r1 for a cut before
#                                 the full mirror started (coverage from
#                                 the failover), r2 as replayed after
#                                 (cut in the async epochs: the background
#                                 writes the cut left off r2 and the
#                                 writes that went ahead must come back
#                                 dirty from the marks on disk, or r2
#                                 differs after the dirty resync)
#   always                        metadata ok, no corruption in the log
#
# The superblocks in the log (read with colo-logreplay --data) say cut
# short from the full start's (the first after the "fullstart" mark) until
# the one written once the mirror is in sync after the replica flush (at
# most the second after the "insync" mark: the pass's end may write one
# still cut short), and complete at every other point after the failover.
#
# One TAP line per cut (its index, what it is, the rule, the time), then
# one with the number of cuts. A failed cut shows the log around it, and
# every logged write of the first chunk found wrong; COLO_T_PL_DEBUG=1
# shows the log around every cut. One log-writes device means one flush
# domain: a flush of any slice makes every slice's completed writes
# durable, so an ordering between two devices' flushes (base before the
# map blocks, the replica before the superblock) is not tested here.
. /tests/lib.sh

LEG=${COLO_T_PL_MIB:-8}		# MiB per leg
LEN=$((LEG * 2048))		# sectors
CH=8 CB=4096			# chunk: sectors, bytes
NCH=$((LEN / CH))
RS=64				# region: 8 chunks
MSZ=2048			# metadata: 1 MiB
K=${COLO_T_PL_CHUNKS:-12}	# chunks an epoch
MAXC=6				# epochs at most during the commit
DELAY=25			# ms, base writes in the run
NRAND=${COLO_T_PL_CUTS:-16}	# random cuts at least
ASLOW=2500			# ms, replica writes in the async epochs
AROOM=64			# KiB, max_lag of the first async epoch
SEED=${COLO_T_PL_SEED:-${FSX_SEED:-$(date +%s)}}
LOG=/dev/ram0 SCRATCH=/dev/ram1 R1=/dev/ram2
DATA_SECTORS=$((4 * LEN + MSZ))
DATA_MIB=$((DATA_SECTORS / 2048))
T=/tmp/pl

mkdir -p $T
t_diag "seed $SEED (COLO_T_PL_SEED=$SEED reruns it), legs $LEG MiB, $K chunks an epoch"

# Slices of the disk DEV: base, hidden, active, the mirror's replica and
# the metadata; pb is base as the colo device sees it. With DELAY (ms, not
# "none"), pb delays base's writes by DELAY, and the mirror writes to pr2,
# r2 whose last chunk delays writes by 200 ms: the full pass reaches its
# end with the copy of the last chunk still in flight.
slices() {
	local dev=$1 delay=$2 tail=$((LEN - CH))
	dmsetup create lb --table "0 $LEN linear $dev 0" &&
		dmsetup create lh --table "0 $LEN linear $dev $LEN" &&
		dmsetup create la --table "0 $LEN linear $dev $((2 * LEN))" &&
		dmsetup create r2 --table "0 $LEN linear $dev $((3 * LEN))" &&
		dmsetup create lm --table "0 $MSZ linear $dev $((4 * LEN))" &&
		dmsetup mknodes || return 1
	if [ "$delay" = none ]; then
		dmsetup create pb --table "0 $LEN linear /dev/mapper/lb 0"
	else
		dmsetup create pb --table "0 $LEN delay /dev/mapper/lb 0 0 /dev/mapper/lb 0 $delay" &&
		printf '0 %s linear /dev/mapper/r2 0\n%s %s delay /dev/mapper/r2 %s 0 /dev/mapper/r2 %s 200\n' \
			$tail $tail $CH $tail $tail | dmsetup create pr2
	fi && dmsetup mknodes
}
# set_pr2 slow|fast: r2 under the running mirror, every write delayed by
# ASLOW ms, or none.
set_pr2() {
	local t="0 $LEN linear /dev/mapper/r2 0"
	[ "$1" = slow ] && t="0 $LEN delay /dev/mapper/r2 0 0 /dev/mapper/r2 0 $ASLOW"
	dmsetup suspend pr2 && dmsetup load pr2 --table "$t" && dmsetup resume pr2 ||
		t_fail "pr2 $1"
}
TABLE="0 $LEN colo secondary /dev/mapper/pb /dev/mapper/lh /dev/mapper/la $CH 6 max_copies 2 metadata /dev/mapper/lm region_size $RS"
MB=$((4 * LEN))		# the metadata slice's first sector in lw

mark() { dmsetup message lw 0 mark "$1" || t_fail "mark $1"; }
# wrun DEV FIRST_CHUNK NR SRC: chunks FIRST.. of DEV from SRC (O_DIRECT)
wrun() {
	colo-dio write "$1" $(($2 * CB)) $(($3 * CB)) "$4" ||
		t_fail "write $3 chunks at $2 to $1"
}

# wrun2 DEV FIRST_CHUNK NR SRC: every other chunk, NR of them from FIRST
wrun2() {
	local i=0
	while [ $i -lt "$3" ]; do
		wrun "$1" $(($2 + 2 * i)) 1 "$4"
		i=$((i + 1))
	done
}

# --- random choices (one awk, the seed) ---------------------------------------
# plan: "vm|ingress|ckpt CHUNK NR" lines, then "epoch LIST" lines (a
# permutation cut into epochs of K chunks: each chunk written once after
# failover; half of each epoch from the first half, where the overlay is).
awk -v seed="$SEED" -v nch=$NCH -v k=$K '
function shuffle(a, n,  i, j, t) {
	for (i = n - 1; i > 0; i--) {
		j = int(rand() * (i + 1)); t = a[i]; a[i] = a[j]; a[j] = t
	}
}
BEGIN {
	srand(seed)
	half = nch / 2
	run = 16
	# even chunks only (wrun2): no two chunks of the commit are adjacent
	for (i = 0; i < 8; i++) print "vm", 2 * int(rand() * (half / 2 - run)), run
	for (i = 0; i < 6; i++) print "ingress", 2 * int(rand() * (half / 2 - run)), run
	print "ckpt 0 0"
	for (i = 0; i < 40; i++) print "vm", 2 * int(rand() * (half / 2 - run)), run
	for (i = 0; i < 24; i++) print "ingress", 2 * int(rand() * (half / 2 - run)), run
	# the second half without its last 16 chunks (never written: see slices)
	for (i = 0; i < half; i++) lo[i] = i
	for (i = 0; i < half - 16; i++) hi[i] = half + i
	shuffle(lo, half)
	shuffle(hi, half - 16)
	n = 0
	for (e = 0; e < 20; e++) {
		s = "epoch"
		for (i = 0; i < k; i++) {
			s = s " " (i % 2 ? hi[n] : lo[n])
			if (i % 2) n++
		}
		print s
	}
}' > $T/plan

# --- the log -------------------------------------------------------------------------
check "null_blk data disk with a write back cache" nullb_setup pld $DATA_MIB
brd_setup 3 64 || t_fail "brd"
check "log-writes over it, the log on $LOG" \
	dmsetup create lw --table "0 $DATA_SECTORS log-writes /dev/pld $LOG"
dmsetup mknodes lw
check "slices of lw, base behind a $DELAY ms write delay" slices /dev/mapper/lw $DELAY
for f in init vm ingress rnd; do
	dd if=/dev/urandom of=$T/$f.img bs=1M count=$LEG 2>/dev/null
done
wrun /dev/mapper/lb 0 $NCH $T/init.img
colo-open -f /dev/mapper/lb || t_fail "flush base"
mark setup
# Without the devices nothing below means anything.
bail() {
	[ $T_FAIL = 0 ] && return
	t_diag "setup failed: stopping"
	dm_cleanup
	t_done
}
bail

check "colo secondary with metadata" dmsetup create c --table "$TABLE"
check "colo-ingress" dmsetup create ci --table "0 $LEN colo-ingress /dev/mapper/pb"
dmsetup mknodes
grep -v '^epoch' $T/plan > $T/secondary
while read -r what first nr; do
	case $what in
	vm) wrun2 /dev/mapper/c "$first" "$nr" $T/vm.img ;;
	ingress) wrun2 /dev/mapper/ci "$first" "$nr" $T/ingress.img ;;
	ckpt) dmsetup message c 0 checkpoint || t_fail checkpoint
	      dd if=/dev/urandom of=$T/vm.img bs=1M count=$LEG 2>/dev/null
	      dd if=/dev/urandom of=$T/ingress.img bs=1M count=$LEG 2>/dev/null ;;
	esac
done < $T/secondary
colo-open -f /dev/mapper/c || t_fail "flush c"
t_diag "before failover: $(dmsetup status c)"
colo-dio read /dev/mapper/c 0 $((LEN * 512)) $T/img0 || t_fail "save view0"
colo-dio read /dev/mapper/lb 0 $((LEN * 512)) $T/base0 || t_fail "save base0"
cp $T/img0 $T/model
mark viewsaved
bail
check "failover" dmsetup message c 0 failover
mark failover
check_eq "the commit runs" running "$(field c 8)"
check_fails "ingress fenced" colo-dio write /dev/mapper/ci 0 $CB $T/rnd.img

# epoch: the next epoch's chunks from rnd.img to c and the model, a flush,
# its image, its mark. EPOCH counts them.
EPOCH=0
epoch() {
	local c j=0 off len
	EPOCH=$((EPOCH + 1))
	for c in $(grep '^epoch' $T/plan | sed -n "${EPOCH}p" | cut -d' ' -f2-); do
		j=$((j + 1))
		off=$((c * CB)) len=$CB
		[ $((j % 4)) = 0 ] && off=$((off + 1024)) len=2048
		colo-dio write /dev/mapper/c $off $len $T/rnd.img ||
			t_fail "epoch $EPOCH: write at $off"
		dd if=$T/rnd.img of=$T/model bs=512 skip=$((off / 512)) \
			seek=$((off / 512)) count=$((len / 512)) conv=notrunc 2>/dev/null
	done
	colo-open -f /dev/mapper/c || t_fail "epoch $EPOCH: flush"
	cp $T/model $T/img$EPOCH
	mark e$EPOCH
}

during=0
while [ "$(field c 8)" = running ] && [ $EPOCH -lt $MAXC ]; do
	epoch
	[ "$(field c 8)" = running ] && during=$((during + 1))
done
t_diag "$during epochs ended while the commit ran: $(dmsetup status c | cut -d' ' -f8-9)"
check "3 epochs or more ended during the commit ($during)" [ $during -ge 3 ]
wait_field c 8 done 120 || t_fail "commit done"
mark committed

mark fullstart
check "mirror start r2 full" dmsetup message c 0 mirror start /dev/mapper/pr2 full
mark fullstarted
epoch
wait_field c 11 in-sync 120 || t_fail "mirror in sync"
mark insync
epoch; epoch
sleep 3		# idle in sync: the marks are cleared lazily
epoch
# Async mode (issue 18), the replica slow: every write to r2 delayed by
# ASLOW ms, longer than two metadata ticks (1 s each), so that clearing
# passes run while the background writes are in flight. First with room
# for a whole epoch (AROOM KiB: every write sent, none ahead, the mirror
# stays in sync), "asyncb", then with room for one write (the others go
# ahead).
mark async
set_pr2 slow
check "mirror async $AROOM" dmsetup message c 0 mirror async $AROOM
epoch
alag=$(field c 24)
check "async: background writes in flight after the epoch's flush ($alag KiB)" \
	[ "${alag%/*}" -gt 0 -a "${alag%/*}" -le $AROOM ]
check_eq "async: no write went ahead" 0 "$(field c 25)"
wait_field c 24 "0/$AROOM" 10 || t_fail "async: lag 0"
sleep 1		# a clearing pass after the background writes ended
mark asyncb
check "mirror async 4" dmsetup message c 0 mirror async 4
epoch
aahead=$(field c 25)
check "async: writes went ahead ($aahead of $K)" [ "$aahead" -ge $((K / 2)) ]
check "mirror sync" dmsetup message c 0 mirror sync
set_pr2 fast
wait_field c 11 in-sync 60 || t_fail "async: in sync again"
mark asyncdone
check "mirror stop" dmsetup message c 0 mirror stop
mark stopped
epoch; epoch
t_diag "end: $(dmsetup status c)"
dmsetup remove ci; dmsetup remove c
for d in pb pr2 lb lh la r2 lm lw; do dmsetup remove $d || t_fail "remove $d"; done
check "$EPOCH epochs logged" [ -f $T/img$EPOCH ]

# --- cut points ----------------------------------------------------------------------
colo-logreplay --log $LOG --marks > $T/marks || t_fail "list marks"
colo-logreplay --log $LOG --list > $T/list || t_fail "list"
NENT=$(colo-logreplay --log $LOG --count)
t_diag "log: $NENT entries, $(wc -l < $T/marks) marks, $(awk '$4 ~ /FLUSH/' $T/list | wc -l) flushes"
idx() { awk -v m="$1" '$2 == m { print $1 }' $T/marks; }
F=$(idx failover) FS=$(idx fullstarted) IS=$(idx insync) SETUP=$(idx setup)
FSTART=$(idx fullstart) AS=$(idx async) AB=$(idx asyncb) AD=$(idx asyncdone)
# the async epochs' marks: the metadata writes after each, until the next
# part, are the clearing passes' and the resync's (the epochs' own mark
# writes are cut at random like every other epoch's)
AE1=$(awk -v a=$AS '$1 > a && $2 ~ /^e[0-9]+$/ { print $1; exit }' $T/marks)
AE2=$(awk -v a=$AB '$1 > a && $2 ~ /^e[0-9]+$/ { print $1; exit }' $T/marks)
# The superblock writes (entry indexes) and the dirty coverage each one
# puts on disk (dirty_gap, at byte 128 of the block: 0 complete, 2 cut
# short); a superblock write is one copy, at the metadata slice's sector 0
# or 8.
awk -v lo=$MB -v s=$SETUP '$1 > s && $3 > 0 && $2 < lo + 16 && $2 + $3 > lo { print $1, $2 }' \
	$T/list > $T/sbpos
: > $T/sbs
while read -r i sec; do
	off=$(((MB - sec) * 512))
	[ "$sec" -gt $MB ] && off=$(((MB + 8 - sec) * 512))
	colo-logreplay --log $LOG --data "$i" > $T/sbdata || t_fail "data of entry $i"
	# (the layout's zeroing at initialisation writes no superblock)
	magic=$(dd if=$T/sbdata bs=1 skip=$((off + 64)) count=8 2>/dev/null)
	[ "$magic" = DDMCOLO1 ] &&
		echo "$i $(od -An -tu4 -j $((off + 128)) -N 4 $T/sbdata | tr -d ' ')" >> $T/sbs
done < $T/sbpos
t_diag "superblock writes (entry, dirty_gap): $(tr '\n' ',' < $T/sbs)"
# The full start's superblock (cut short) is the first one after the
# "fullstart" mark; the one that says complete again follows in-sync, at
# most the second one after the "insync" mark (the pass's end may write
# one, still cut short); no other says cut short.
SB_CS=$(awk -v m=$FSTART '$1 > m { print $1; exit }' $T/sbs)
SB_DONE=$(awk -v c=$SB_CS '$1 > c && $2 == 0 { print $1; exit }' $T/sbs)
check_eq "the full start's superblock (entry ${SB_CS:-none}) says cut short" 2 \
	"$(awk -v c="$SB_CS" '$1 == c { print $2 }' $T/sbs)"
SB_LATE=$(awk -v m=$IS '$1 > m { print $1 }' $T/sbs | sed -n 2p)
if [ -n "$SB_DONE" ] && [ "$SB_DONE" -le "${SB_LATE:-$SB_DONE}" ]; then
	t_ok "complete on disk again (entry $SB_DONE) by the 2nd superblock after insync ($IS)"
else
	t_fail "complete on disk again (entry ${SB_DONE:-none}) by the 2nd superblock after insync ($IS)"
	SB_DONE=${SB_DONE:-$NENT}
fi
check_eq "no other superblock after the failover says cut short" "" \
	"$(awk -v f=$F -v c=$SB_CS -v d=$SB_DONE '$1 > f && ($1 < c || $1 >= d) && $2 != 0' $T/sbs)"
# cuts: "N what" lines. A mark's cut replays it (N = index + 1); so does a
# superblock write's.
{
	awk '{ print $1 + 1, "mark-" $2 }' $T/marks
	awk -v lo=$MB -v s=$SETUP '$1 > s && $3 > 0 && $2 < lo + 16 && $2 + $3 > lo { print $1 + 1, "superblock" }' $T/list
	# every metadata write after an async epoch's flush, until the next
	# part (clearing passes while its background writes are in flight)
	awk -v lo=$MB -v hi=$((MB + MSZ)) -v e1=$AE1 -v b=$AB -v e2=$AE2 -v d=$AD '
		(($1 > e1 && $1 < b) || ($1 > e2 && $1 < d)) && $3 > 0 && $2 < hi && $2 + $3 > lo { print $1 + 1, "metadata" }' $T/list
	awk -v seed="$SEED" -v n=$NRAND -v s=$SETUP -v end=$NENT '
		BEGIN { srand(seed + 1) }
		{ m[NR] = $1 }
		END {
			c = 0
			for (i = 1; i < NR; i++)
				if (m[i] >= s && m[i + 1] > m[i] + 1) {
					print m[i] + 2 + int(rand() * (m[i + 1] - m[i] - 1)), "random"
					c++
				}
			for (; c < n; c++)
				print s + 1 + int(rand() * (end - s)), "random"
		}' $T/marks
} | sort -n -k1,1 | awk '$1 == p { w = w "+" $2; next }
	NR > 1 { print p, w } { p = $1; w = $2 } END { print p, w }' > $T/cuts
t_diag "$(wc -l < $T/cuts) cut points: marks $(wc -l < $T/marks), failover at $F, full mirror started at $FS, in sync at $IS; cut short on disk from $SB_CS to $SB_DONE; async from $AS to $AD (epochs' marks $AE1, $AE2)"

# epoch_of N: the last epoch whose mark a replay of N entries holds
epoch_of() {
	awk -v n=$1 '$2 ~ /^e[0-9]+$/ && $1 < n { e = substr($2, 2) } END { print e + 0 }' $T/marks
}

# same A B: devices A and B hold the same data (read with O_DIRECT)
same() { colo-imgcheck "$1" "$2" "$2" $CB > /dev/null; }

# cut_check N: the cut after N entries; sets "rule" (what was checked) and
# "why" (what failed). The slices over the scratch disk stay; the colo
# device is made anew.
cut_check() {
	local n=$1 mode k new cov ref out
	rule= why=
	dmsetup remove ci 2> /dev/null
	dmsetup remove c 2> /dev/null
	dd if=/dev/zero of=$SCRATCH bs=1M count=$DATA_MIB oflag=direct 2>/dev/null
	out=$(colo-logreplay --log $LOG --replay $SCRATCH --limit "$n" 2>&1) ||
		{ why="replay: $out"; return 1; }
	dmesg -c > /dev/null
	dmsetup create c --table "$TABLE" > /dev/null 2>&1 ||
		{ why="table refused: $(dmesg | grep colo | tail -n 2)"; return 1; }
	dmsetup mknodes c
	mode=$(field c 4)
	if [ "$mode" = secondary ]; then
		rule="secondary, its view is base"
		[ "$n" -le "$F" ] || { why="secondary after the failover mark"; return 1; }
		same /dev/mapper/c /dev/mapper/lb || { why="view differs from base"; return 1; }
	else
		k=0 new=0
		if [ "$n" -gt "$F" ]; then
			k=$(epoch_of "$n") new=$((k + 1))
			[ -f $T/img$new ] || new=$k
		fi
		rule="primary, epochs <= $k exact, $new old or new"
		wait_field c 8 done 60 > /dev/null ||
			{ why="commit not done: $(dmsetup status c)"; return 1; }
		out=$(colo-imgcheck /dev/mapper/c $T/img$k $T/img$new $CB) ||
			{ why="view: $out"; return 1; }
		rule="$rule ($(echo "$out" | awk '{ print $6 }') new)"
		if dmsetup create ci --table "0 $LEN colo-ingress /dev/mapper/pb" 2>/dev/null; then
			dmsetup mknodes ci
			colo-dio write /dev/mapper/ci 0 $CB $T/rnd.img 2>/dev/null &&
				{ why="ingress not fenced"; return 1; }
			dmsetup remove ci
		fi
		cov=$(field c 16)
		if [ "$n" -le "$SB_CS" ]; then ref=r1; else ref=r2; fi
		# cut short on disk: the cut holds SB_CS, not SB_DONE
		if [ "$n" -gt "$SB_CS" ] && [ "$n" -le "$SB_DONE" ]; then
			[ "$cov" = unknown ] ||
				{ why="coverage $cov, the disk says cut short"; return 1; }
		else
			[ "$cov" != unknown ] ||
				{ why="coverage unknown, the disk says complete"; return 1; }
		fi
		if [ "$cov" = unknown ]; then
			rule="$rule, coverage unknown"
			dmsetup message c 0 mirror start /dev/mapper/$ref dirty 2>/dev/null &&
				{ why="dirty start accepted, coverage unknown"; return 1; }
		else
			rule="$rule, coverage $cov, dirty resync to $ref ($(field c 10))"
			if [ $ref = r1 ]; then
				colo-dio write /dev/mapper/r1 0 $((LEN * 512)) $T/base0 ||
					{ why="restore base0 on r1"; return 1; }
			fi
			dmsetup message c 0 mirror start /dev/mapper/$ref dirty ||
				{ why="dirty start refused"; return 1; }
			wait_field c 11 in-sync 60 > /dev/null ||
				{ why="no in-sync: $(dmsetup status c)"; return 1; }
			out=$(colo-imgcheck /dev/mapper/$ref /dev/mapper/lb /dev/mapper/lb $CB) ||
				{ why="the replica differs from base after the dirty resync: $out"; return 1; }
		fi
	fi
	[ "$(field c 17)" = ok ] || { why="metadata $(field c 17)"; return 1; }
	out=$(dmesg | grep -iE 'corrupt|crash-safe|i/o error')
	[ -z "$out" ] || { why="kernel: $out"; return 1; }
	return 0
}

dm_cleanup
if slices $SCRATCH none && dmsetup create r1 --table "0 $LEN linear $R1 0" &&
	dmsetup mknodes r1; then
	t_ok "the same slices over $SCRATCH, r1 over $R1"
else
	t_fail "the same slices over $SCRATCH, r1 over $R1"
fi
NCUT=0 NFAIL=0
while read -r n what; do
	NCUT=$((NCUT + 1))
	start=$(date +%s)
	if cut_check "$n" < /dev/null; then
		t_ok "cut $n ($what): $rule ($(( $(date +%s) - start ))s)"
		[ -n "$COLO_T_PL_DEBUG" ] && awk -v n=$n '$1 >= n - 20 && $1 <= n + 20' $T/list | sed 's/^/#   /'
	else
		NFAIL=$((NFAIL + 1))
		t_fail "cut $n ($what): $rule: $why"
		t_diag "the log around the cut (index sector sectors flags):"
		awk -v n=$n '$1 >= n - 10 && $1 <= n + 5' $T/list | sed 's/^/#   /'
		# the writes of the first bad chunk, on any slice
		bad=$(echo "$why" | sed -n 's/.*chunk \([0-9]*\) (byte.*/\1/p' | head -n 1)
		if [ -n "$bad" ]; then
			t_diag "the log's writes of chunk $bad (base, hidden, active, r2 at +0, +$LEN, +$((2 * LEN)), +$((3 * LEN))):"
			awk -v c=$bad -v len=$LEN -v ch=$CH '$3 > 0 {
				for (l = 0; l < 4; l++) {
					s = l * len + c * ch
					if ($2 < s + ch && $2 + $3 > s) print
				}
			}' $T/list | sed 's/^/#   /'
		fi
	fi
done < $T/cuts
dm_cleanup
check_eq "$NCUT cut points checked (seed $SEED): all pass" 0 "$NFAIL"

nullb_remove pld
for i in 1 2 3 4 5; do rmmod brd 2> /dev/null && break; sleep 1; done
rm -rf $T
t_done
