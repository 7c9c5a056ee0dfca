# SPDX-License-Identifier: GPL-2.0
#
# Secondary mode: the VM's I/O on clean and on dirty chunks (4 KiB chunks)
# against dm-linear over the same RAM disk, and raw brd (dm-linear does
# strictly more work than brd, colo strictly more than dm-linear: a path
# that beats the one below it by more than the noise is a noise alarm in
# the report). Sourced by run.sh (its helpers, REPS, MIB, FIRST_IOS).
#
# Variants: brd (/dev/ram0), linear (dm-linear over it), clean (colo after
# a checkpoint: every chunk clean, reads go to base) and dirty (colo with
# every chunk written since the checkpoint: reads and writes go to active);
# linear2, dm-linear again, the A/A control: the second dm-linear run of a
# round over the first, what a path that costs nothing measures here.
# One colo device serves both: it is checkpointed before a clean run and
# written whole (from ram3) before a dirty run, when not so already.
#
#  time-based, $RT s: 4 KiB random reads (QD 16) and 1 MiB sequential reads
#                     (QD 4): brd, linear, clean, dirty, linear2; 4 KiB
#                     random and 1 MiB sequential writes: brd, linear,
#                     dirty, linear2
#  fixed work:        first writes to clean chunks: $FIRST_IOS 4 KiB writes
#                     each on a chunk of its own (a replay log, the same for
#                     both), QD 16; 1 MiB sequential writes over the whole
#                     disk once (never wrapping), QD 4: linear, clean,
#                     linear2, with
#                     a checkpoint before each clean run, and the active
#                     count after it (every write must have found its chunks
#                     clean: "sec-clean.KEY.active_after.N").

t_diag "secondary section"
brd_setup 4 $MIB || { t_fail "secondary: brd"; return; }
brd_fill 0 3
LEN=$(dev_sectors /dev/ram0)
CHUNKS=$((LEN / 8))
FT_IOS=$FIRST_IOS
[ "$FT_IOS" -le $((CHUNKS / 2)) ] || FT_IOS=$((CHUNKS / 2))
ft_iolog /tmp/ft-sec.iolog 4096 $FT_IOS 1
dmsetup create lin --table "0 $LEN linear /dev/ram0 0"
dmsetup create vm --table "0 $LEN colo secondary /dev/ram0 /dev/ram1 /dev/ram2 8"
dmsetup mknodes
SEC_STATE=new
SEC_DIRTY_CHECKED=0

# sec_state clean|dirty: the colo device in that state.
sec_state() {
	[ "$SEC_STATE" = "$1" ] && return
	dmsetup message vm 0 checkpoint
	if [ "$1" = dirty ]; then
		dd if=/dev/ram3 of=/dev/mapper/vm bs=1M iflag=direct oflag=direct 2> /dev/null
		if [ $SEC_DIRTY_CHECKED = 0 ]; then
			check_eq "secondary: every chunk dirty for the dirty-chunk runs" \
				"$CHUNKS/$CHUNKS" "$(field vm 3)"
			SEC_DIRTY_CHECKED=1
		fi
	else
		[ "$(field vm 3)" = "0/$CHUNKS" ] ||
			t_fail "secondary: chunks dirty after a checkpoint: $(field vm 3)"
	fi
	SEC_STATE=$1
}

# sec_dev VARIANT: SEC_DEV, the variant's device (the colo device put in
# its state; not through $(...), whose subshell would forget the state).
sec_dev() {
	case $1 in
	brd) SEC_DEV=/dev/ram0 ;;
	linear | linear2) SEC_DEV=/dev/mapper/lin ;;
	clean|dirty) sec_state $1; SEC_DEV=/dev/mapper/vm ;;
	esac
}
sec_key() {
	case $1 in
	clean | dirty | linear2) echo "sec-$1" ;;
	*) echo "$1" ;;
	esac
}

# sec_rounds W RW BS QD VARIANT...: REPS interleaved rounds of workload W.
sec_rounds() {
	local w=$1 rw=$2 bs=$3 qd=$4 n=1 v
	shift 4
	while [ $n -le "$REPS" ]; do
		for v in $(rotate $((n - 1)) "$@"); do
			sec_dev $v
			fio_timed "$(sec_key $v).$w" $n "$SEC_DEV" "$rw" "$bs" "$qd"
		done
		n=$((n + 1))
	done
	t_diag "ran secondary $w ($REPS rounds: $*)"
}

sec_rounds randread randread 4k 16 brd linear clean dirty linear2
sec_rounds read read 1m 4 brd linear clean dirty linear2
sec_rounds randwrite randwrite 4k 16 brd linear dirty linear2
sec_rounds write write 1m 4 brd linear dirty linear2

# First writes to clean chunks, fixed work. After each clean run the
# active count must be one chunk per 4 KiB write, every chunk after the
# 1 MiB run.
# sec_first W N EXPECTED: record and check the active count after run N.
sec_first() {
	local a
	a=$(field vm 3)
	bench "sec-clean.$1.active_after.$2" "$a"
	if [ "$2" = 1 ]; then
		check_eq "secondary: every $1 write of round 1 found its chunks clean" "$3" "$a"
	elif [ "$a" != "$3" ]; then
		t_fail "secondary: $1 round $2 left $a chunks active, not $3"
	fi
	SEC_STATE=used
}
n=1
while [ $n -le "$REPS" ]; do
	for v in $(rotate $((n - 1)) linear clean linear2); do
		sec_dev $v
		fio_first "$(sec_key $v).ftrandwrite" $n "$SEC_DEV" /tmp/ft-sec.iolog
		[ $v = clean ] && sec_first ftrandwrite $n "$FT_IOS/$CHUNKS"
	done
	for v in $(rotate $((n - 1)) linear clean linear2); do
		sec_dev $v
		fio_job "$(sec_key $v).ftwrite" $n "$SEC_DEV" write 1m 4
		[ $v = clean ] && sec_first ftwrite $n "$CHUNKS/$CHUNKS"
	done
	n=$((n + 1))
done
t_diag "ran secondary first writes ($REPS rounds: $FT_IOS 4 KiB writes, $MIB 1 MiB writes)"
dmsetup remove vm
dmsetup remove lin
