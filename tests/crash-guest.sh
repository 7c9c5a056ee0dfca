#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The guest side of the host-crash tests (scripts/crash.sh): one boot checks
# what the previous boot's workload left when the host killed QEMU, then
# starts the next workload, prints CRASH-READY and runs it until the host
# kills QEMU again. The kernel command line says what to do:
#
#   colo.crash_check=a|b,SEED   load the same table over set a or b again,
#                               check the mode, the commit (a), the data
#                               (colo-crash check), the dirty resync (b)
#   colo.crash_run=a|b,SEED     the next workload (none: power off)
#
# One virtio disk (serial "crash", a file on the host) holds both sets, in
# dm-linear slices at fixed offsets (one disk boots faster than nine):
#
#   set a, from 0:      ab base (linear; dm-delay in the run), ah hidden,
#                       aa active, am metadata, aj journal
#   set b, from 32 MiB: bb base, br replica, bf a fleece's buffer,
#                       bm metadata, bj journal
#
# Set a: a secondary with metadata; VM and ingress writes and a checkpoint
# (colo-crash setup), base slowed by dm-delay, CRASH-READY, then a failover
# and VM writes, FUA writes and flushes while the commit runs (colo-crash
# run). Set b: a primary with metadata, mirrored in sync to br (a full sync
# in the setup) and a persistent fleece of the first half of base started,
# its last chunks released by a discard and a flush of the fleece (the
# next boot re-attaches it, checks that they stayed released, and compares
# the rest of its view with base's stamp-0 data), the replica's writes
# slowed by dm-delay (and base's for odd seeds), CRASH-READY, then VM
# writes, FUA writes, flushes and idle pauses (the marks' lazy clearing).
# The host lays a set out anew before its workload starts (base: colo-crash
# init's stamp-0 data; the rest zero).
. /tests/lib.sh

arg() { tr ' ' '\n' < /proc/cmdline | sed -n "s/^colo\.$1=//p"; }
CHECK=$(arg crash_check) RUN=$(arg crash_run)
# Where the boot's time goes (uptime in seconds).
ts() { echo "# t $(cut -d' ' -f1 /proc/uptime) $*"; }
ts start

DISK=
for d in /sys/block/vd*; do
	[ "$(cat "$d/serial" 2>/dev/null)" = crash ] && DISK=/dev/${d##*/}
done
[ -n "$DISK" ] || { t_fail "no disk with serial 'crash'"; t_done; }

MIB=2048		# sectors
LEN=$((8 * MIB))	# the colo devices
CH=8 RS=128		# 4 KiB chunks, 64 KiB regions
# slice NAME OFFSET_MIB SIZE_MIB [TARGET...]: a concise table entry.
slice() { echo "$1,,,,0 $(($3 * MIB)) linear $DISK $(($2 * MIB))"; }
slices() {
	if [ "$1" = a ]; then
		echo "$(slice ab 0 8);$(slice ah 8 8);$(slice aa 16 8);$(slice am 24 1);$(slice aj 25 4)"
	else
		echo "$(slice bb 32 8);$(slice br 40 8);$(slice bf 48 8);$(slice bm 56 1);$(slice bj 57 4)"
	fi
}
M=/dev/mapper
# max_copies of set a's table, from the seed: the commit's pace.
copies() { set -- 4 16 64; shift $(($1 % 3)); echo "$1"; }
tab_a() {
	echo "0 $LEN colo secondary $M/ab $M/ah $M/aa $CH 6 metadata $M/am region_size $RS max_copies $(copies "$1")"
}
TAB_B="0 $LEN colo primary $M/bb $CH 4 metadata $M/bm region_size $RS"
# Set b's persistent fleece (buffer bf) needs its first half.
FLEECE_CHUNKS=$((LEN / CH / 2))
# Its last RELEASED chunks are released (a discard and a flush) before the run.
RELEASED=4
up() { dmsetup create --concise "$(slices "$1")" && dmsetup mknodes; }
mk() { dmsetup create c --table "$1" && dmsetup mknodes c; }
# st: the status fields of c in $1.. (after "0 LEN colo": $4 mode, ...)
st() { set -- $(dmsetup status c); echo "$@"; }

# data_check SET JOURNAL MODE: colo-crash check of /dev/mapper/c.
data_check() {
	local out
	if out=$(colo-crash check "$2" $M/c "$3" 2>&1); then
		t_ok "$1: data (seed $seed)"
		echo "$out" | grep '^#'
	else
		t_fail "$1: data (seed $seed)"
		echo "$out" | sed 's/^\([^#]\)/#   \1/'
	fi
}

# --- check -------------------------------------------------------------------
if [ -n "$CHECK" ]; then
	set=${CHECK%%,*} seed=${CHECK#*,}
	up "$set"
	if [ "$set" = a ]; then
		check "a: the same secondary table loads again" mk "$(tab_a "$seed")"
		ts loaded
		# shellcheck disable=SC2046
		set -- $(st)
		mode=$4
		t_diag "a: recovered $mode, commit $8, committed $9, metadata ${17}"
		check_eq "a: metadata ok" ok "${17}"
		if [ "$mode" = primary ]; then
			wait_field c 8 done 120 && t_ok "a: the commit resumes and finishes" ||
				t_fail "a: the commit resumes and finishes"
			ts commit done
		fi
		data_check a $M/aj "$mode"
	else
		check "b: the same primary table loads again" mk "$TAB_B"
		# Before anything writes base: the fleece's view, as at its
		# start (base's stamp-0 data) over the chunks it needs.
		check "b: the persistent fleece re-attached" \
			dmsetup create bfl --table "0 $LEN colo-fleece $M/bb $M/bf 1 reattach"
		dmsetup mknodes bfl
		# shellcheck disable=SC2046
		set -- $(dmsetup status bfl)
		shift 3
		t_diag "b: fleece $*"
		check_eq "b: the chunks released and flushed before the run stayed released" \
			$((FLEECE_CHUNKS - RELEASED)) "$2"
		check_fails "b: the last of them reads EIO" \
			dd if=$M/bfl of=/dev/null bs=4k skip=$((FLEECE_CHUNKS - 1)) count=1 iflag=direct
		check "b: the fleece's view as at its start" \
			colo-crash stamp0 $M/bfl $(((FLEECE_CHUNKS - RELEASED) * CH))
		dmsetup remove bfl
		# shellcheck disable=SC2046
		set -- $(st)
		check_eq "b: recovered primary, coverage complete, metadata ok" \
			"primary complete ok" "$4 ${16} ${17}"
		t_diag "b: dirty ${10}, regions ${19}"
		data_check b $M/bj primary
		ts data checked
		if dmsetup message c 0 mirror start $M/br dirty; then
			t_ok "b: dirty resync accepted"
		else
			# Refused (coverage not complete): a full resync, so that
			# the replica is still compared with base.
			t_fail "b: dirty resync accepted (coverage ${16})"
			dmsetup message c 0 mirror start $M/br full
		fi
		wait_field c 11 in-sync 120 && t_ok "b: resync in sync" ||
			t_fail "b: resync in sync"
		ts resynced
		dmsetup message c 0 mirror stop
		check "b: replica equals base" colo-crash cmp $M/bb $M/br
	fi
	dm_cleanup
	ts checked
	echo "# crash-guest: checked"
fi

# --- the next workload --------------------------------------------------------
if [ -n "$RUN" ]; then
	set=${RUN%%,*} seed=${RUN#*,}
	# The host tells the check's kernel messages from the run's by this line.
	echo "<4>crash-guest: run $set" > /dev/kmsg
	if [ "$set" = a ]; then
		up a && mk "$(tab_a "$seed")" &&
			dmsetup create ci --table "0 $LEN colo-ingress $M/ab" &&
			dmsetup mknodes ci && ts created &&
			colo-crash setup $M/aj $M/c $M/ci "$seed" a c && ts setup &&
			# Slow base writes: the commit spans the kill window.
			dmsetup suspend ab &&
			dmsetup load ab --table "0 $LEN delay $DISK 0 0 $DISK 0 40" &&
			dmsetup resume ab || { t_fail "a: setup"; t_done; }
		# shellcheck disable=SC2046
		set -- $(st)
		echo "CRASH-READY a: active $6, hidden $7"
		colo-crash run $M/aj $M/c "$seed" a c
	else
		up b && mk "$TAB_B" && ts created &&
			dmsetup message c 0 mirror start $M/br full &&
			wait_field c 11 in-sync 120 && ts synced &&
			dmsetup create bfl --table "0 $LEN colo-fleece $M/bb $M/bf 1 persistent" &&
			dmsetup message bfl 0 needed 0-$((FLEECE_CHUNKS - 1)) &&
			dmsetup mknodes bfl &&
			blkdiscard -o $(((FLEECE_CHUNKS - RELEASED) * CH * 512)) \
				-l $((RELEASED * CH * 512)) $M/bfl &&
			colo-open -f $M/bfl &&
			colo-crash setup $M/bj $M/c - "$seed" b c &&
			# Slow replica writes (and, for some seeds, base writes):
			# mirrored writes are in flight on one leg long after the
			# other, so a kill leaves base and the replica different.
			dmsetup suspend br &&
			dmsetup load br --table "0 $LEN delay $DISK $((40 * MIB)) 0 $DISK $((40 * MIB)) 30" &&
			dmsetup resume br &&
			if [ $((seed % 2)) = 1 ]; then
				dmsetup suspend bb &&
				dmsetup load bb --table "0 $LEN delay $DISK $((32 * MIB)) 0 $DISK $((32 * MIB)) 10" &&
				dmsetup resume bb
			fi || { t_fail "b: setup"; t_done; }
		echo "CRASH-READY b"
		colo-crash run $M/bj $M/c "$seed" b c
	fi
	t_fail "$set: the workload ended before the kill"
fi
t_done
