#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Leg faults after failover, with dd writers running while a leg's dm table
# is swapped to dm-error, dm-flakey (error_writes) or dm-delay and back:
#
#   commit    the failover commit in progress (base writes slowed by
#             dm-delay) and the base, hidden or active leg failing: the
#             commit stops ("failed"), health "error", a dm event; VM I/O
#             that needs the leg fails with EIO, the rest works; once the
#             fault is gone, "failover" again resumes the commit to "done"
#   primary   base failing under a primary: VM reads and writes fail with
#             EIO (writes only, under error_writes), work again afterwards
#   mirror    base or replica failing under a primary mirrored in sync: a
#             replica fault never fails a VM write and degrades the mirror;
#             a base fault fails the VM write and leaves the chunk dirty;
#             after the fault ("mirror start <dev> dirty" if degraded) the
#             mirror is in sync again with base == replica
#
# A model (a copy of the VM's view plus every write that succeeded) is
# compared with the device afterwards: every sector of a write that failed
# holds its old or its new data, everything else is exact. Sizes:
# COLO_T_FAULT_WRITES writes per writer, COLO_T_FAULT_MIB device size.
. /tests/lib.sh

MIB=${COLO_T_FAULT_MIB:-16}
NW=${COLO_T_FAULT_WRITES:-8}
brd_setup 4 "$MIB"
LEN=$(dev_sectors /dev/ram0)
dd if=/dev/urandom of=/tmp/new.img bs=1M count="$MIB" 2>/dev/null

# table KIND LOWER: a whole-device table over LOWER
table() {
	case $1 in
	linear) echo "0 $LEN linear $2 0" ;;
	error) echo "0 $LEN error" ;;
	flakey-w) echo "0 $LEN flakey $2 0 0 1 1 error_writes" ;;
	delay) echo "0 $LEN delay $2 0 20" ;;
	slow-writes) echo "0 $LEN delay $2 0 0 $2 0 500" ;;
	esac
}
# swap NAME KIND LOWER: replace the table of NAME under running I/O
swap() {
	dmsetup suspend "$1" && dmsetup load "$1" --table "$(table "$2" "$3")" &&
		dmsetup resume "$1" || t_fail "swap $1 to $2"
	[ "$2" = linear ] || NFAULT=$((NFAULT + 1))
}

# The model: /tmp/model.img is what the device must hold; /tmp/failed lists
# "sector count" of the writes that failed with EIO.
model_init() {
	dd if="$1" of=/tmp/model.img bs=1M iflag=direct 2>/dev/null
	: > /tmp/failed
	: > /tmp/other.err
}
# vm_write DEV BS OFF: one O_DIRECT write of BS bytes at OFF*BS, data from
# /tmp/new.img; 0 ok (model updated), 1 EIO (recorded), 2 other.
vm_write() {
	local r
	colo-dio write "$1" $(($2 * $3)) "$2" /tmp/new.img 2>> /tmp/other.err
	r=$?
	if [ $r = 0 ]; then
		dd if=/tmp/new.img of=/tmp/model.img bs="$2" skip="$3" seek="$3" count=1 \
			conv=notrunc 2>/dev/null
		return 0
	fi
	if [ $r = 5 ]; then
		echo "$(($3 * $2 / 512)) $(($2 / 512))" >> /tmp/failed
		return 1
	fi
	return 2
}
# vm_read DEV BLOCK4K: 0 read and equal to the model, 1 EIO, 2 other/mismatch
vm_read() {
	local r
	colo-dio read "$1" $(($2 * 4096)) 4096 /tmp/r.img 2>> /tmp/other.err
	r=$?
	[ $r = 5 ] && return 1
	[ $r = 0 ] || return 2
	[ "$(md5sum < /tmp/r.img)" = "$(dd if=/tmp/model.img bs=4096 skip="$2" count=1 2>/dev/null | md5sum)" ]
	[ $? = 0 ] || return 2
}
fsum() { md5sum < "$1" | cut -d' ' -f1; }
# writer DEV FIRST STEP: NW writes in the background, 4 KiB whole chunks
# and single sectors in turn, at blocks FIRST + i*STEP; the results go to
# /tmp/writer.out ("ok", "eio", "other" per write).
writer() {
	local i=0 b r
	: > /tmp/writer.out
	while [ $i -lt "$NW" ]; do
		b=$(($2 + i * $3))
		if [ $((i % 2)) = 0 ]; then
			vm_write "$1" 4096 "$b"
		else
			vm_write "$1" 512 $((b * 8 + 3))
		fi
		r=$?
		case $r in 0) echo ok ;; 1) echo eio ;; *) echo other ;; esac >> /tmp/writer.out
		i=$((i + 1))
	done
}
count() { grep -c "^$1\$" /tmp/writer.out; }
# verify DEV DESC: each failed write's sectors old or new; all else exact.
verify() {
	local s n bad=0 old=0 new=0 i a
	dd if="$1" of=/tmp/dev.img bs=1M iflag=direct 2>/dev/null || { t_fail "$2: read back"; return; }
	while read -r s n; do
		a=$(dd if=/tmp/dev.img bs=512 skip="$s" count="$n" 2>/dev/null | md5sum)
		if [ "$a" = "$(dd if=/tmp/model.img bs=512 skip="$s" count="$n" 2>/dev/null | md5sum)" ]; then
			old=$((old + n)); continue
		fi
		if [ "$a" = "$(dd if=/tmp/new.img bs=512 skip="$s" count="$n" 2>/dev/null | md5sum)" ]; then
			new=$((new + n))
			dd if=/tmp/new.img of=/tmp/model.img bs=512 skip="$s" seek="$s" count="$n" conv=notrunc 2>/dev/null
			continue
		fi
		i=0	# mixed: sector by sector
		while [ $i -lt "$n" ]; do
			a=$(dd if=/tmp/dev.img bs=512 skip=$((s + i)) count=1 2>/dev/null | md5sum)
			if [ "$a" = "$(dd if=/tmp/model.img bs=512 skip=$((s + i)) count=1 2>/dev/null | md5sum)" ]; then
				old=$((old + 1))
			elif [ "$a" = "$(dd if=/tmp/new.img bs=512 skip=$((s + i)) count=1 2>/dev/null | md5sum)" ]; then
				new=$((new + 1))
				dd if=/tmp/new.img of=/tmp/model.img bs=512 skip=$((s + i)) seek=$((s + i)) count=1 conv=notrunc 2>/dev/null
			else
				bad=$((bad + 1))
			fi
			i=$((i + 1))
		done
	done < /tmp/failed
	check_eq "$2: each sector of a failed write holds its old or its new data" 0 "$bad"
	check_eq "$2: device equals the model (no write that succeeded is lost)" \
		"$(md5sum < /tmp/model.img)" "$(md5sum < /tmp/dev.img)"
	t_diag "$2: $(wc -l < /tmp/failed) failed writes, their sectors: $old old, $new new"
	NLOST=$((NLOST + bad))
	: > /tmp/failed
}
# summary MODE LEG KIND: one line for the report's table
summary() {
	t_diag "fault-summary mode=$1 leg=$2 kind=$3 writer_ok=$(count ok) writer_eio=$(count eio) probes_eio=$PEIO"
	PEIO=0
}
must_eio() {	# DESC CMD...: CMD must fail with EIO
	local d=$1 r
	shift
	"$@"; r=$?
	[ $r = 1 ] && PEIO=$((PEIO + 1))
	check_eq "$d: EIO" 1 "$r"
}
must_ok() {
	local d=$1
	shift
	check "$d" "$@"
}
NFAULT=0 NLOST=0 PEIO=0
H0=/dev/ram1 A0=/dev/ram2

# --- commit in progress ----------------------------------------------------
# The failing leg's overlay chunks are the even chunks 0-510, the other
# leg's the even chunks 1024-1534 (active: VM writes; hidden: ingress
# writes; not adjacent, since the commit copies adjacent chunks of a leg
# together, 1 MiB at a time); base writes then take 500 ms and max_copies
# is 4, so that the commit runs for half a minute and is still in chunks
# 0-510 (in its first few dozen) when the fault comes, with the
# writer running.
for leg in base hidden active; do
	dm_cleanup
	H=$H0 A=$A0
	dmsetup create lb --table "$(table linear /dev/ram0)"
	case $leg in
	hidden) dmsetup create lh --table "$(table linear $H0)"; H=/dev/mapper/lh ;;
	active) dmsetup create la --table "$(table linear $A0)"; A=/dev/mapper/la ;;
	esac
	dmsetup mknodes
	dmsetup create c --table "0 $LEN colo secondary /dev/mapper/lb $H $A 8 2 max_copies 4" &&
		dmsetup create c-ingress --table "0 $LEN colo-ingress /dev/mapper/lb" &&
		dmsetup mknodes || { t_fail "commit, $leg: setup"; continue; }
	if [ $leg = active ]; then act=0 hid=1024; else act=1024 hid=0; fi
	i=0
	while [ $i -lt 256 ]; do
		dd if=/dev/urandom of=/dev/mapper/c bs=4k seek=$((act + 2 * i)) count=1 \
			oflag=direct 2>/dev/null
		dd if=/dev/urandom of=/dev/mapper/c-ingress bs=4k seek=$((hid + 2 * i)) count=1 \
			oflag=direct 2>/dev/null
		i=$((i + 1))
	done
	model_init /dev/mapper/c
	swap lb slow-writes /dev/ram0
	NFAULT=$((NFAULT - 1))	# slowness to hold the commit, not one of the faults
	ev=$(events c)
	check "commit, $leg: failover" dmsetup message c 0 failover
	check_eq "commit, $leg: commit running" running "$(field c 8)"
	writer /dev/mapper/c 2048 7 &
	wpid=$!
	sleep 0.5
	t_diag "commit, $leg: at the fault: $(dmsetup status c | cut -d' ' -f8-9)"
	case $leg in
	base) swap lb error /dev/ram0 ;;
	hidden) swap lh error $H0 ;;
	active) swap la error $A0 ;;
	esac
	check "commit, $leg: the commit stops: failed" wait_field c 8 failed 120
	check_eq "commit, $leg: health error" error "$(field c 14)"
	check "commit, $leg: dm event (dmsetup wait $ev)" timeout 10 dmsetup wait c "$ev"
	wait $wpid
	case $leg in
	base)
		# Every VM write goes to base now; a chunk never in the overlay is read from base.
		must_eio "commit, base: a whole-chunk VM write" vm_write /dev/mapper/c 4096 100
		must_eio "commit, base: a partial VM write to an overlay chunk" vm_write /dev/mapper/c 512 $((510 * 8 + 1))
		must_eio "commit, base: a VM read of a clean chunk" vm_read /dev/mapper/c 3000
		check_eq "commit, base: writer: every write failed with EIO or succeeded before the fault" 0 "$(count other)"
		;;
	hidden)
		# The commit stopped in its first chunks: the last hidden ones are pending.
		must_eio "commit, hidden: a VM read of a pending hidden chunk" vm_read /dev/mapper/c 510
		must_eio "commit, hidden: a partial VM write to a pending hidden chunk (its fill)" \
			vm_write /dev/mapper/c 512 $((508 * 8 + 2))
		must_ok "commit, hidden: a whole-chunk VM write to a pending hidden chunk (to base)" \
			vm_write /dev/mapper/c 4096 506
		must_ok "commit, hidden: a VM read of an active chunk" vm_read /dev/mapper/c 1200
		must_ok "commit, hidden: a VM read of a clean chunk" vm_read /dev/mapper/c 3000
		check_eq "commit, hidden: writer to clean chunks: no write failed" "$NW" "$(count ok)"
		;;
	active)
		must_eio "commit, active: a VM read of a pending active chunk" vm_read /dev/mapper/c 510
		must_eio "commit, active: a partial VM write to a pending active chunk (its fill)" \
			vm_write /dev/mapper/c 512 $((508 * 8 + 5))
		must_ok "commit, active: a whole-chunk VM write to a pending active chunk (to base)" \
			vm_write /dev/mapper/c 4096 506
		must_ok "commit, active: a VM read of a hidden chunk" vm_read /dev/mapper/c 1300
		must_ok "commit, active: a VM read of a clean chunk" vm_read /dev/mapper/c 3000
		check_eq "commit, active: writer to clean chunks: no write failed" "$NW" "$(count ok)"
		;;
	esac
	summary commit "$leg" error
	case $leg in
	hidden) swap lh linear $H0 ;;
	active) swap la linear $A0 ;;
	esac
	swap lb linear /dev/ram0
	check "commit, $leg: failover again resumes the commit" dmsetup message c 0 failover
	check "commit, $leg: commit done" wait_field c 8 done 120
	check_match "commit, $leg: all committed, overlay empty" "colo primary 8 0/[0-9]+ 0/[0-9]+ done ([0-9]+)/\\1 " "$(dmsetup status c)"
	check_eq "commit, $leg: health stays error (sticky)" error "$(field c 14)"
	must_ok "commit, $leg: a VM write works again" vm_write /dev/mapper/c 4096 3001
	verify /dev/mapper/c "commit, $leg"
	check_eq "commit, $leg: raw base equals the view" "$(fsum /tmp/model.img)" "$(direct_sum /dev/ram0)"
done

# --- primary mode after the commit: base --------------------------------------
dm_cleanup
dmsetup create lb --table "$(table linear /dev/ram0)"
dmsetup mknodes
dmsetup create p --table "0 $LEN colo primary /dev/mapper/lb 8"
dmsetup mknodes
dd if=/dev/urandom of=/dev/mapper/p bs=1M oflag=direct 2>/dev/null
model_init /dev/mapper/p
ev=$(events p)
for kind in delay flakey-w error; do
	writer /dev/mapper/p $((1 + ${#kind})) 41 &
	wpid=$!
	sleep 0.3
	swap lb "$kind" /dev/ram0
	wait $wpid
	case $kind in
	delay)
		check_eq "primary, base $kind: every write succeeded" "$NW" "$(count ok)"
		must_ok "primary, base $kind: a VM read" vm_read /dev/mapper/p 10
		check_eq "primary, base $kind: health ok" ok "$(field p 14)"
		;;
	flakey-w)
		must_eio "primary, base $kind: a VM write" vm_write /dev/mapper/p 4096 11
		must_ok "primary, base $kind: a VM read (reads work)" vm_read /dev/mapper/p 12
		check_eq "primary, base $kind: health error" error "$(field p 14)"
		check "primary, base $kind: dm event at the first error (dmsetup wait $ev)" timeout 10 dmsetup wait p "$ev"
		;;
	error)
		must_eio "primary, base $kind: a VM write" vm_write /dev/mapper/p 4096 13
		must_eio "primary, base $kind: a VM read" vm_read /dev/mapper/p 14
		check_eq "primary, base $kind: health error" error "$(field p 14)"
		;;
	esac
	check_eq "primary, base $kind: writer saw only success or EIO" 0 "$(count other)"
	summary primary base "$kind"
	swap lb linear /dev/ram0
	must_ok "primary, base $kind: a VM write works again" vm_write /dev/mapper/p 4096 15
	verify /dev/mapper/p "primary, base $kind"
done

# --- primary with a mirror in sync: replica, then base ---------------------------
dm_cleanup
dmsetup create lb --table "$(table linear /dev/ram0)"
dmsetup create lr --table "$(table linear /dev/ram3)"
dmsetup mknodes
dmsetup create p --table "0 $LEN colo primary /dev/mapper/lb 8"
dmsetup mknodes
dd if=/dev/urandom of=/dev/mapper/p bs=1M oflag=direct 2>/dev/null
check "mirror: full sync" dmsetup message p 0 mirror start /dev/mapper/lr full
check "mirror: in sync" wait_field p 11 in-sync 120
model_init /dev/mapper/p
# in_sync DESC: after the fault, resume if degraded, then base == replica == model
in_sync() {
	if [ "$(field p 11)" = degraded ]; then
		# A failed replica flush leaves the coverage unknown: then only
		# a full start is accepted (60-mirror and 62-flush check that).
		if [ "$(field p 16)" = complete ]; then
			check "$1: mirror start dirty resumes" dmsetup message p 0 mirror start /dev/mapper/lr dirty
		else
			t_diag "$1: dirty coverage $(field p 16): full resync"
			check "$1: mirror start full resumes" dmsetup message p 0 mirror start /dev/mapper/lr full
		fi
	fi
	check "$1: mirror in sync again" wait_field p 11 in-sync 120
	check_match "$1: in sync, nothing dirty" " 0/[0-9]+ in-sync " "$(dmsetup status p)"
	verify /dev/mapper/p "$1"
	check_eq "$1: raw replica equals raw base" "$(direct_sum /dev/ram0)" "$(direct_sum /dev/ram3)"
}
for kind in delay flakey-w error; do
	ev=$(events p)
	writer /dev/mapper/p $((3 + ${#kind})) 37 &
	wpid=$!
	sleep 0.3
	swap lr "$kind" /dev/ram3
	wait $wpid
	must_ok "mirror, replica $kind: a VM write after the fault" vm_write /dev/mapper/p 4096 20
	check_eq "mirror, replica $kind: no VM write failed" "$NW" "$(count ok)"
	if [ $kind = delay ]; then
		check_eq "mirror, replica $kind: still in sync" in-sync "$(field p 11)"
	else
		check_eq "mirror, replica $kind: degraded" degraded "$(field p 11)"
		check "mirror, replica $kind: dm event (dmsetup wait $ev)" timeout 10 dmsetup wait p "$ev"
	fi
	check_eq "mirror, replica $kind: health ok (a replica error is not a leg error)" ok "$(field p 14)"
	summary mirror replica "$kind"
	swap lr linear /dev/ram3
	in_sync "mirror, replica $kind"
done
for kind in flakey-w error; do
	ev=$(events p)
	writer /dev/mapper/p $((5 + ${#kind})) 43 &
	wpid=$!
	sleep 0.3
	swap lb "$kind" /dev/ram0
	wait $wpid
	must_eio "mirror, base $kind: a VM write" vm_write /dev/mapper/p 4096 21
	[ $kind = error ] && must_eio "mirror, base $kind: a VM read" vm_read /dev/mapper/p 23
	check_eq "mirror, base $kind: writer saw only success or EIO" 0 "$(count other)"
	check_eq "mirror, base $kind: health error" error "$(field p 14)"
	[ $kind = flakey-w ] &&
		check "mirror, base $kind: dm event (dmsetup wait $ev)" timeout 10 dmsetup wait p "$ev"
	summary mirror base "$kind"
	swap lb linear /dev/ram0
	must_ok "mirror, base $kind: a VM write works again" vm_write /dev/mapper/p 4096 22
	in_sync "mirror, base $kind"
done
check "mirror stop" dmsetup message p 0 mirror stop
dm_cleanup
t_diag "faults injected: $NFAULT; sectors lost or corrupted: $NLOST"
t_done
