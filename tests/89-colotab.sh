#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Boot-time setup (colotab(5)): a colotab with a secondary (with its
# ingress) and a primary on RAM disks named by stable paths (symlinks in a
# directory standing for /dev/disk/by-id: there is no udev here), then
#   up --all (and the legs pinned), the devices' tables and status; up again
#   (idempotent); up of an existing device whose colotab line changed
#   (refused, the difference named); down refused while open; down --all;
#   down again;
#   a leg whose by-id link now reaches another RAM disk: refused (exit 7)
#   with both identities, nothing created; the same for a /dev/sdX-style
#   node that now is another disk; up --pin accepts the new disk;
#   a missing leg; a bad colotab line (file:line, exit 2, nothing created);
#   an unknown name (exit 3); the warning for a kernel name.
# Each case checks the exact sentence and the exit code.
. /tests/lib.sh

brd_setup 8 16
LEN=$(dev_sectors /dev/ram0)
D=/tmp/colotab.$$
rm -rf "$D"
mkdir -p "$D/by-id" "$D/state"
export COLO_STATE_DIR="$D/state" COLOTAB="$D/colotab"
for i in 0 1 2 3; do
	ln -s /dev/ram$i "$D/by-id/disk$i"
done
dev() { cat "/sys/block/$1/dev"; }

# run EXPECTED_RC DESC CMD...: CMD exits EXPECTED_RC; stdout in $OUT, stderr in $ERR.
run() {
	local want=$1 desc=$2 rc
	shift 2
	OUT=$("$@" 2> "$D/err")
	rc=$?
	ERR=$(cat "$D/err")
	if [ "$rc" = "$want" ]; then
		t_ok "$desc (exit $rc)"
	else
		t_fail "$desc: exit $rc, expected $want"
		t_diag "command: $*"
		echo "$OUT$ERR" | sed 's/^/#   /'
	fi
}
says() { check_eq "$1: stdout" "$2" "$OUT"; }
err_says() { check_eq "$1: stderr" "$2" "$ERR"; }
no_devices() { check_eq "$1: no device created" "" "$(dmsetup ls --target colo 2>/dev/null | grep -v 'No devices')$(dmsetup ls --target colo-ingress 2>/dev/null | grep -v 'No devices')"; }

cat > "$COLOTAB" << EOF
# dm-colo devices of this host (colotab(5))

vm   secondary base=$D/by-id/disk0 hidden=$D/by-id/disk1 active=$D/by-id/disk2 ingress=yes
	# the returning old primary
pvm  primary   base=$D/by-id/disk3 chunk=4k max-copies=8   # a comment
EOF

# --- bad input first: nothing is created -------------------------------------------
printf 'vm secondary base=/a hidden=/b active=/c\n\npvm primary base=/d colour=red\n' > "$D/bad"
run 2 "a bad colotab line" colosetup up --all --colotab "$D/bad"
err_says "a bad colotab line" "colosetup: $D/bad:3: unknown key 'colour' (base, hidden, active, metadata, chunk, max-copies, region-size, ingress)"
no_devices "a bad colotab line"
printf 'vm primary base=/a chunk=64KB\n' > "$D/bad2"
run 2 "a decimal unit in the colotab" colosetup up vm --colotab="$D/bad2"
err_says "a decimal unit in the colotab" "colosetup: $D/bad2:1: chunk '64KB': decimal units (kB, MB, GB, TB) are refused: binary units only (K or KiB, M or MiB, G or GiB, T or TiB)"
printf 'vm primary base=/a\nvm primary base=/b\n' > "$D/bad3"
run 2 "a duplicate name" colosetup down --all --colotab "$D/bad3"
err_says "a duplicate name" "colosetup: $D/bad3:2: duplicate name 'vm' (first on line 1)"
run 2 "no colotab" colosetup up --all --colotab "$D/none"
err_says "no colotab" "colosetup: cannot read the colotab $D/none: No such file or directory"
run 3 "up of a name not in the colotab" colosetup up nope
err_says "up of a name not in the colotab" "colosetup: nope: not in the colotab $COLOTAB"
run 3 "down of a name not in the colotab" colosetup down nope
err_says "down of a name not in the colotab" "colosetup: nope: not in the colotab $COLOTAB"
run 2 "up without NAME or --all" colosetup up
err_says "up without NAME or --all" "colosetup: up: give NAME or --all"
no_devices "refused commands"

# --- up --all ------------------------------------------------------------------------
run 0 "up --all" colosetup up --all
says "up --all" "/dev/mapper/vm: colo secondary, 16 MiB in 4 KiB chunks
/dev/mapper/vm-ingress: colo-ingress of vm
vm: legs pinned in $D/state/vm.legs
/dev/mapper/pvm: colo primary, 16 MiB in 4 KiB chunks
pvm: legs pinned in $D/state/pvm.legs"
err_says "up --all: no warning for stable paths" ""
check_eq "up --all: vm's table" "0 $LEN colo secondary $(dev ram0) $(dev ram1) $(dev ram2) 8" \
	"$(dmsetup table vm)"
check_eq "up --all: pvm's table" "0 $LEN colo primary $(dev ram3) 8 2 max_copies 8" \
	"$(dmsetup table pvm)"
check_eq "up --all: vm's ingress" "0 $LEN colo-ingress $(dev ram0)" "$(dmsetup table vm-ingress)"
check_match "up --all: vm is a secondary with its ingress" "^  ingress:  vm-ingress$" \
	"$(colosetup status vm)"
check_match "up --all: pvm is a primary" "^pvm: colo primary$" "$(colosetup status pvm)"
check_eq "up --all: vm's legs pinned" "base ram0 $(dev ram0) $LEN -
hidden ram1 $(dev ram1) $LEN -
active ram2 $(dev ram2) $LEN -" "$(grep -v '^#' "$D/state/vm.legs")"
check_eq "up --all: pvm's legs pinned" "base ram3 $(dev ram3) $LEN -" \
	"$(grep -v '^#' "$D/state/pvm.legs")"

# --- up again: idempotent --------------------------------------------------------------
cp "$D/state/vm.legs" "$D/vm.legs.before"
run 0 "up --all again" colosetup up --all
says "up --all again" "vm: already up (same table)
vm-ingress: already up
pvm: already up (same table)"
check_eq "up --all again: the pins are kept" "" "$(cmp "$D/vm.legs.before" "$D/state/vm.legs")"
run 0 "up NAME again" colosetup up pvm
says "up NAME again" "pvm: already up (same table)"

# --- an existing device whose colotab line changed ----------------------------------
sed 's/chunk=4k max-copies=8/chunk=64k/' "$COLOTAB" > "$D/changed"
run 1 "up of a device that exists with another table" colosetup up pvm --colotab "$D/changed"
err_says "up of a device that exists with another table" \
	"colosetup: pvm: exists with another table than $D/changed:5 says: its chunk is 8 sectors, the colotab's 128; its max-copies is 8, the colotab's 64 (colosetup down pvm first)"
check_eq "the other table: pvm unchanged" "0 $LEN colo primary $(dev ram3) 8 2 max_copies 8" \
	"$(dmsetup table pvm)"

# --- down ------------------------------------------------------------------------------
exec 3< /dev/mapper/pvm
run 4 "down while open" colosetup down pvm
check_match "down while open: says who" "^colosetup: pvm: in use \(open 1 time: open by process [0-9]+ \(.*\)\); close it first, or --force$" "$ERR"
exec 3<&-
check "down while open: pvm still there" dmsetup info pvm
run 0 "down --all" colosetup down --all
says "down --all" "pvm: down
vm: down"
no_devices "down --all"
run 0 "down --all again" colosetup down --all
says "down --all again" "pvm: not up
vm: not up"

# --- a changed leg -------------------------------------------------------------------
ln -sf /dev/ram5 "$D/by-id/disk3"
run 7 "up with a by-id link that reaches another disk" colosetup up --all
err_says "up with a by-id link that reaches another disk" \
	"colosetup: pvm: base $D/by-id/disk3 is now ram5 ($(dev ram5), 16 MiB), it was ram3 ($(dev ram3), 16 MiB) when pinned; refused. If the new disk is right: colosetup up pvm --pin"
check_eq "the changed leg: pvm not created" "" "$(dmsetup ls | grep -w pvm)"
check_eq "the changed leg: vm (unchanged) is up" "0 $LEN colo secondary $(dev ram0) $(dev ram1) $(dev ram2) 8" \
	"$(dmsetup table vm)"
run 0 "down --all (vm)" colosetup down --all
run 0 "up --pin accepts the new disk" colosetup up pvm --pin
says "up --pin accepts the new disk" "/dev/mapper/pvm: colo primary, 16 MiB in 4 KiB chunks
pvm: legs pinned in $D/state/pvm.legs"
check_eq "up --pin: the new pin" "base ram5 $(dev ram5) $LEN -" \
	"$(grep -v '^#' "$D/state/pvm.legs")"
run 0 "down pvm" colosetup down pvm
cp "$D/state/pvm.legs" "$D/pvm.legs.good"
echo "base ram5" >> "$D/state/pvm.legs"
run 1 "up with a damaged pins file" colosetup up pvm
err_says "up with a damaged pins file" "colosetup: pvm: $D/state/pvm.legs:4: not understood (remove it, or up --pin records the legs anew)"
check_eq "a damaged pins file: pvm not created" "" "$(dmsetup ls | grep -w pvm)"
cp "$D/pvm.legs.good" "$D/state/pvm.legs"

# --- a kernel name (/dev/sdX) that becomes another disk --------------------------------
mknod /dev/sdcolo b $(dev ram4 | tr : ' ')
echo "raw primary base=/dev/sdcolo" > "$D/raw"
run 0 "up of a leg by kernel name" colosetup up raw --colotab "$D/raw"
err_says "up of a leg by kernel name: warned" "$D/raw:1: warning: base /dev/sdcolo is not a stable path (use /dev/disk/by-id/..., by-uuid, by-partlabel or by-path): its identity is pinned, and up refuses it when it becomes another disk"
run 0 "down raw" colosetup down raw --colotab "$D/raw"
rm /dev/sdcolo
mknod /dev/sdcolo b $(dev ram6 | tr : ' ')
run 7 "up of /dev/sdX now another disk" colosetup up raw --colotab "$D/raw"
check_match "up of /dev/sdX now another disk: says" "^colosetup: raw: base /dev/sdcolo is now ram6 \($(dev ram6), 16 MiB\), it was ram4 \($(dev ram4), 16 MiB\) when pinned; refused" "$ERR"
check_eq "/dev/sdX now another disk: nothing created" "" "$(dmsetup ls | grep -w raw)"
rm /dev/sdcolo

# --- a missing leg --------------------------------------------------------------------
rm "$D/by-id/disk2"
run 1 "up with a missing leg" colosetup up vm
err_says "up with a missing leg" "colosetup: vm: active $D/by-id/disk2: no such device ($COLOTAB:3); is the disk attached?"
no_devices "a missing leg"

dm_cleanup
rm -rf "$D"
t_done
