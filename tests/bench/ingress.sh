# SPDX-License-Identifier: GPL-2.0
#
# Ingress writes (the primary's writes forwarded to the secondary): copy-
# before-write against dm-snapshot, the kernel's own (a snapshot-origin
# with one transient "N" snapshot of the same chunk size, its exception
# store on ram3), at 4 KiB and 64 KiB chunks. Sourced by run.sh.
#
#  first touch   fixed work: $FIRST_IOS 4 KiB writes (at most half the
#                chunks), each at the start of a chunk of its own, the same
#                replay log for both, QD 16; a new colo device (and its
#                ingress) or a new origin and snapshot for every run, so
#                every write makes a copy (checked: hidden, and the
#                snapshot's exceptions, after the run)
#  copied        time-based 4 KiB random writes (QD 16) once every chunk
#                is copied (written whole through the ingress, or the
#                origin), against dm-linear over the same base (ilinear):
#                a write to a copied chunk does strictly more work there
#                than dm-linear's; dm-linear runs twice a round
#                (ingress-linear2, the A/A control: what a path that costs
#                nothing measures against it here)

t_diag "ingress section"
brd_setup 4 $MIB || { t_fail "ingress: brd"; return; }
brd_fill 0
LEN=$(dev_sectors /dev/ram0)

# ing_up CHUNK: a new colo device "vm" and its ingress "vm-ingress".
ing_up() {
	dmsetup create vm --table "0 $LEN colo secondary /dev/ram0 /dev/ram1 /dev/ram2 $1" &&
		dmsetup create vm-ingress --table "0 $LEN colo-ingress /dev/ram0" &&
		dmsetup mknodes
}
ing_down() {
	dmsetup remove vm-ingress
	dmsetup remove vm
}
# snap_up CHUNK: a new origin "origin" and transient snapshot "snap".
snap_up() {
	dmsetup create origin --table "0 $LEN snapshot-origin /dev/ram0" &&
		dmsetup create snap --table "0 $LEN snapshot /dev/ram0 /dev/ram3 N $1" &&
		dmsetup mknodes
}
snap_down() {
	dmsetup remove snap
	dmsetup remove origin
}

for chunk in 8 128; do
	kib=$((chunk / 2))
	nc=$((LEN / chunk))
	ios=$FIRST_IOS
	[ "$ios" -le $((nc / 2)) ] || ios=$((nc / 2))
	ft_iolog /tmp/ft-ing.iolog $((chunk * 512)) $ios $chunk
	n=1
	while [ $n -le "$REPS" ]; do
		for v in $(rotate $((n - 1)) colo snap); do
			if [ $v = colo ]; then
				ing_up $chunk || { t_fail "ingress c$kib: table"; continue; }
				fio_first "ingress-first.c$kib" $n /dev/mapper/vm-ingress /tmp/ft-ing.iolog
				h=$(field vm 4)
				bench "ingress-first.c$kib.hidden_after.$n" "$h"
				[ "$h" = "$ios/$nc" ] ||
					t_fail "ingress, $kib KiB chunks, round $n: $h chunks copied, not $ios"
				ing_down
			else
				snap_up $chunk || { t_fail "dm-snapshot c$kib: table"; continue; }
				fio_first "snap-first.c$kib" $n /dev/mapper/origin /tmp/ft-ing.iolog
				s=$(field snap 1)
				bench "snap-first.c$kib.cow_after.$n" "$s"
				case $s in
				[0-9]*/[0-9]*) ;;
				*) t_fail "dm-snapshot, $kib KiB chunks, round $n: snapshot $s" ;;
				esac
				snap_down
			fi
		done
		n=$((n + 1))
	done
	check_eq "ingress, $kib KiB chunks: the last first-touch run copied one chunk a write" \
		"$ios/$nc" "$h"
	t_diag "ran ingress first touch at $kib KiB chunks ($REPS rounds, $ios writes)"

	# Every chunk copied, for colo and dm-snapshot; dm-linear beside them.
	ing_up $chunk && snap_up $chunk &&
		dmsetup create ilinear --table "0 $LEN linear /dev/ram0 0" && dmsetup mknodes ||
		{ t_fail "ingress c$kib: copied set-up"; dm_cleanup; continue; }
	dd if=/dev/zero of=/dev/mapper/vm-ingress bs=1M count=$MIB oflag=direct 2> /dev/null
	check_eq "ingress, $kib KiB chunks: every chunk copied" "$nc/$nc" "$(field vm 4)"
	dd if=/dev/zero of=/dev/mapper/origin bs=1M count=$MIB oflag=direct 2> /dev/null
	n=1
	while [ $n -le "$REPS" ]; do
		for v in $(rotate $((n - 1)) colo snap linear linear2); do
			case $v in
			colo) fio_timed "ingress-copied.c$kib" $n /dev/mapper/vm-ingress randwrite 4k 16 ;;
			snap) fio_timed "snap-copied.c$kib" $n /dev/mapper/origin randwrite 4k 16 ;;
			linear) fio_timed "ilinear.c$kib" $n /dev/mapper/ilinear randwrite 4k 16 ;;
			linear2) fio_timed "ingress-linear2.c$kib" $n /dev/mapper/ilinear randwrite 4k 16 ;;
			esac
		done
		n=$((n + 1))
	done
	check_match "dm-snapshot, $kib KiB chunks: snapshot valid after the copied-chunk runs" \
		'^[0-9]+/[0-9]+' "$(field snap 1)"
	check_eq "ingress, $kib KiB chunks: every chunk still copied" "$nc/$nc" "$(field vm 4)"
	t_diag "ran ingress copied-chunk writes at $kib KiB chunks ($REPS rounds)"
	dmsetup remove ilinear
	snap_down
	ing_down
done
