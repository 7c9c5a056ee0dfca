# SPDX-License-Identifier: GPL-2.0
#
# Writes with a colo-fleece running (copy-before-write into its buffer,
# ram3), against the same writes without a fleece and against dm-snapshot
# (a snapshot-origin over the same base with transient "N" snapshots of
# the same chunk size, the fleece's buffer ram3 as its exception store),
# at 4 KiB and 64 KiB chunks. Sourced by run.sh.
#
#  primary first touch  fixed work as ingress.sh's: $FIRST_IOS 4 KiB writes
#                 (at most half the chunks), each at the start of a chunk
#                 of its own, one replay log for all, QD 16, on a `colo
#                 primary` of ram0: with a new fleece (needed all) every
#                 run (fleece-p), with none (fleece-p0), and on a new
#                 origin and snapshot (fleece-psnap); a persistent fleece
#                 (fleece-pp: its map on the buffer, the primary with a
#                 metadata device on ram1) against a persistent ("P")
#                 snapshot (fleece-ppsnap); checked after each fleece
#                 run: one chunk saved a write
#  ingress first touch  the same on a new secondary and ingress every run
#                 (ram0 base, ram1 hidden, ram2 active): with a fleece
#                 started at once (fleece-i: hidden and the buffer each
#                 get the chunk), without (fleece-i0), against an origin
#                 with one snapshot on ram3 (fleece-isnap) and with two,
#                 on ram1 and ram3 (fleece-isnap2: the same two copies a
#                 write as colo's hidden and buffer)
#  primary, saved or unneeded chunks  time-based 4 KiB random writes (QD
#                 16) over the first half of the device, on one `colo
#                 primary` of ram0: without a fleece (fleece-pw0), with a
#                 new fleece whose every chunk of that half was saved
#                 first (fleece-psaved: a dd through the primary), and
#                 with a new fleece whose needed chunks are the other
#                 half only (fleece-punneeded); the no-fleece run twice a
#                 round (fleece-pw00, the A/A control: what a path that
#                 costs nothing measures against it here)

t_diag "fleece section"
brd_setup 4 $MIB || { t_fail "fleece: brd"; return; }
brd_fill 0
LEN=$(dev_sectors /dev/ram0)

# fio_long: fio_timed three times as long. The saved and unneeded rows
# compare the same work (their target, 0.95, is within the 2 s runs'
# spread), so their runs are longer.
fio_long() {
	fio_job "$@" --time_based --runtime=$((RT * 3))
}
# fl_up: a new fleece "f" on ram0's colo device, buffer ram3.
fl_up() {	# [OPTS]
	dmsetup create f --table "0 $LEN colo-fleece /dev/ram0 /dev/ram3${1:+ $1}" && dmsetup mknodes
}
# fl_saved: the fleece's saved count (status: state needed saved ...).
fl_saved() { field f 3; }
fp_up() {	# CHUNK [OPTS]: a colo primary "p" on ram0
	dmsetup create p --table "0 $LEN colo primary /dev/ram0 $1${2:+ $2}" && dmsetup mknodes
}
# zero1 DEV: zeroes over its first MiB (a new metadata device, a new store).
zero1() { dd if=/dev/zero of="$1" bs=1M count=1 oflag=direct 2> /dev/null; }
fi_up() {	# CHUNK: a colo secondary "vm" and its ingress "vm-ingress"
	dmsetup create vm --table "0 $LEN colo secondary /dev/ram0 /dev/ram1 /dev/ram2 $1" &&
		dmsetup create vm-ingress --table "0 $LEN colo-ingress /dev/ram0" &&
		dmsetup mknodes
}
fi_down() {
	dmsetup remove f 2> /dev/null
	dmsetup remove vm-ingress
	dmsetup remove vm
}
# fs_up CHUNK COW...: a new origin "origin" and a transient snapshot on
# each COW device (snap0, snap1, ...); persistent ones ("P") with FS_KIND=P.
fs_up() {
	local c=$1 i=0 d
	shift
	dmsetup create origin --table "0 $LEN snapshot-origin /dev/ram0" || return 1
	for d in "$@"; do
		dmsetup create snap$i --table "0 $LEN snapshot /dev/ram0 $d ${FS_KIND:-N} $c" || return 1
		i=$((i + 1))
	done
	dmsetup mknodes
}
fs_down() {
	local i
	for i in 0 1; do
		dmsetup remove snap$i 2> /dev/null
	done
	dmsetup remove origin
}
# fs_check KEY N KIB: record and check snap0's exception store after run N.
fs_check() {
	local s
	s=$(field snap0 1)
	bench "$1.cow_after.$2" "$s"
	case $s in
	[0-9]*/[0-9]*) ;;
	*) t_fail "fleece: dm-snapshot ($1), $3 KiB chunks, round $2: snapshot $s" ;;
	esac
}

for chunk in 8 128; do
	kib=$((chunk / 2))
	nc=$((LEN / chunk))
	ios=$FIRST_IOS
	[ "$ios" -le $((nc / 2)) ] || ios=$((nc / 2))
	ft_iolog /tmp/ft-fl.iolog $((chunk * 512)) $ios $((chunk + 1))

	# Primary first touch: fleece, none, dm-snapshot.
	n=1
	while [ $n -le "$REPS" ]; do
		for v in $(rotate $((n - 1)) fleece none snap pfleece psnap); do
			case $v in
			fleece|none|pfleece)
				k=fleece-p-first.c$kib fo= po=
				if [ $v = pfleece ]; then
					# Persistent: its map on ram3, the primary's metadata on ram1.
					k=fleece-pp-first.c$kib fo="1 persistent" po="2 metadata /dev/ram1"
					zero1 /dev/ram1
				fi
				fp_up $chunk "$po" || { t_fail "fleece c$kib: primary table"; continue; }
				if [ $v != none ]; then
					fl_up "$fo" || { t_fail "fleece c$kib: fleece table ($v)"; dmsetup remove p; continue; }
					fio_first "$k" $n /dev/mapper/p /tmp/ft-fl.iolog
					s=$(fl_saved)
					bench "$k.saved_after.$n" "$s"
					[ "$s" = "$ios" ] && [ "$(field f 1)" = active ] ||
						t_fail "fleece: primary ($v), $kib KiB chunks, round $n: $s saved ($(field f 1)), not $ios"
					dmsetup remove f
				else
					fio_first "fleece-p0-first.c$kib" $n /dev/mapper/p /tmp/ft-fl.iolog
				fi
				dmsetup remove p
				;;
			snap)
				fs_up $chunk /dev/ram3 || { t_fail "fleece c$kib: dm-snapshot table"; fs_down; continue; }
				fio_first "fleece-psnap-first.c$kib" $n /dev/mapper/origin /tmp/ft-fl.iolog
				fs_check fleece-psnap-first.c$kib $n $kib
				fs_down
				;;
			psnap)
				# A persistent ("P") snapshot: a new store on zeroes.
				zero1 /dev/ram3
				FS_KIND=P fs_up $chunk /dev/ram3 || { t_fail "fleece c$kib: dm-snapshot P table"; fs_down; continue; }
				fio_first "fleece-ppsnap-first.c$kib" $n /dev/mapper/origin /tmp/ft-fl.iolog
				fs_check fleece-ppsnap-first.c$kib $n $kib
				fs_down
				;;
			esac
		done
		n=$((n + 1))
	done
	check_eq "fleece, primary, $kib KiB chunks: the last fleece run saved one chunk a write" \
		"$ios" "$s"
	t_diag "ran fleece primary first touch at $kib KiB chunks ($REPS rounds, $ios writes)"

	# Ingress first touch: fleece, none, one and two snapshots.
	n=1
	while [ $n -le "$REPS" ]; do
		for v in $(rotate $((n - 1)) fleece none snap snap2); do
			case $v in
			fleece|none)
				fi_up $chunk || { t_fail "fleece c$kib: ingress tables"; dm_cleanup; continue; }
				k=fleece-i0-first.c$kib
				if [ $v = fleece ]; then
					fl_up || { t_fail "fleece c$kib: fleece on the secondary"; fi_down; continue; }
					k=fleece-i-first.c$kib
				fi
				fio_first "$k" $n /dev/mapper/vm-ingress /tmp/ft-fl.iolog
				h=$(field vm 4)
				bench "$k.hidden_after.$n" "$h"
				[ "$h" = "$ios/$nc" ] ||
					t_fail "fleece: ingress ($v), $kib KiB chunks, round $n: $h copied, not $ios"
				if [ $v = fleece ]; then
					s=$(fl_saved)
					bench "$k.saved_after.$n" "$s"
					[ "$s" = "$ios" ] && [ "$(field f 1)" = active ] ||
						t_fail "fleece: ingress, $kib KiB chunks, round $n: $s saved ($(field f 1)), not $ios"
				fi
				fi_down
				;;
			snap)
				fs_up $chunk /dev/ram3 || { t_fail "fleece c$kib: dm-snapshot table"; fs_down; continue; }
				fio_first "fleece-isnap-first.c$kib" $n /dev/mapper/origin /tmp/ft-fl.iolog
				fs_check fleece-isnap-first.c$kib $n $kib
				fs_down
				;;
			snap2)
				fs_up $chunk /dev/ram1 /dev/ram3 || { t_fail "fleece c$kib: dm-snapshot x2 tables"; fs_down; continue; }
				fio_first "fleece-isnap2-first.c$kib" $n /dev/mapper/origin /tmp/ft-fl.iolog
				fs_check fleece-isnap2-first.c$kib $n $kib
				fs_down
				;;
			esac
		done
		n=$((n + 1))
	done
	check_eq "fleece, ingress, $kib KiB chunks: the last fleece run saved one chunk a write" \
		"$ios" "$s"
	t_diag "ran fleece ingress first touch at $kib KiB chunks ($REPS rounds, $ios writes)"

	# Saved and unneeded chunks: time-based, the first half of the device.
	half=$((MIB / 2))
	fp_up $chunk || { t_fail "fleece c$kib: primary table"; dm_cleanup; continue; }
	n=1
	while [ $n -le "$REPS" ]; do
		for v in $(rotate $((n - 1)) none saved unneeded none2); do
			case $v in
			none)
				fio_long "fleece-pw0.c$kib" $n /dev/mapper/p randwrite 4k 16 --size=${half}M
				;;
			none2)
				fio_long "fleece-pw00.c$kib" $n /dev/mapper/p randwrite 4k 16 --size=${half}M
				;;
			saved)
				fl_up || { t_fail "fleece c$kib: fleece table"; continue; }
				dd if=/dev/ram3 of=/dev/mapper/p bs=1M count=$half iflag=direct oflag=direct 2> /dev/null
				s=$(fl_saved)
				bench "fleece-psaved.c$kib.saved_before.$n" "$s"
				[ "$s" = $((nc / 2)) ] ||
					t_fail "fleece: $kib KiB chunks, round $n: $s saved before the saved-chunk run, not $((nc / 2))"
				fio_long "fleece-psaved.c$kib" $n /dev/mapper/p randwrite 4k 16 --size=${half}M
				[ "$(fl_saved)" = "$s" ] && [ "$(field f 1)" = active ] ||
					t_fail "fleece: $kib KiB chunks, round $n: the saved-chunk run saved more ($(fl_saved), $(field f 1))"
				dmsetup remove f
				;;
			unneeded)
				fl_up || { t_fail "fleece c$kib: fleece table"; continue; }
				dmsetup message f 0 needed $((nc / 2))-$((nc - 1))
				fio_long "fleece-punneeded.c$kib" $n /dev/mapper/p randwrite 4k 16 --size=${half}M
				su=$(dmsetup status f | cut -d' ' -f4-)
				bench "fleece-punneeded.c$kib.status_after.$n" "$su"
				[ "$su" = "active $((nc - nc / 2)) 0 0 0/$nc" ] ||
					t_fail "fleece: $kib KiB chunks, round $n: after the unneeded-chunk run: $su"
				dmsetup remove f
				;;
			esac
		done
		n=$((n + 1))
	done
	check_eq "fleece, $kib KiB chunks: the last unneeded-chunk run saved nothing" \
		"active $((nc - nc / 2)) 0 0 0/$nc" "$su"
	t_diag "ran fleece saved and unneeded chunks at $kib KiB chunks ($REPS rounds)"
	dmsetup remove p
done
