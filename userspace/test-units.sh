#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# test-units: the systemd units as make install writes them (DESTDIR,
# PREFIX=/usr): their ExecStart/ExecStop follow SBINDIR, and
# "systemd-analyze verify" accepts them (with colosetup at that path
# replaced by the one built here, as verify checks the programs exist; no
# man page check, as the pages are not installed on this host). Without
# systemd-analyze this fails: apt-get install systemd.
# TAP, then "units: N passed, N failed".
here=$(cd "$(dirname "$0")" && pwd)
. "$here/test-tap.sh"

t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
make -s -C "$here" install DESTDIR="$t/root" PREFIX=/usr UDEVDIR=/usr/lib/udev > "$t/log" 2>&1
ok $? "make install DESTDIR PREFIX=/usr" "$(cat "$t/log")"
u=$t/root/usr/lib/systemd/system
eq "colo@.service: ExecStart in SBINDIR" "ExecStart=/usr/sbin/colosetup up %i" \
	"$(grep '^ExecStart=' "$u/colo@.service")"
eq "colo@.service: ExecStop in SBINDIR" "ExecStop=/usr/sbin/colosetup down %i" \
	"$(grep '^ExecStop=' "$u/colo@.service")"
eq "colo@.service: oneshot, remains after exit" "Type=oneshot RemainAfterExit=yes" \
	"$(grep -E '^(Type|RemainAfterExit)=' "$u/colo@.service" | tr '\n' ' ' | sed 's/ $//')"
grep -q '^Before=libvirtd.service virtqemud.service libvirt-guests.service$' "$u/colo@.service"
ok $? "colo@.service: before libvirtd and libvirt-guests"
for f in colotab.5 colosetup.8; do
	[ -f "$t/root/usr/share/man/man${f##*.}/$f" ]
	ok $? "$f installed"
done
[ -f "$t/root/usr/share/colosetup/colotab.example" ]
ok $? "colotab.example installed"

sa=$(command -v systemd-analyze)
[ -n "$sa" ]
ok $? "systemd-analyze found (apt-get install systemd)"
if [ -n "$sa" ]; then
	mkdir "$t/v"
	sed "s|/usr/sbin/colosetup|$here/colosetup|" "$u/colo@.service" > "$t/v/colo@vm.service"
	sed "s|/usr/sbin/colosetup|$here/colosetup|" "$u/colo-monitor.service" \
		> "$t/v/colo-monitor.service"
	for unit in colo@vm.service colo-monitor.service; do
		out=$(cd "$t/v" && "$sa" verify --man=no "./$unit" 2>&1)
		ok $? "systemd-analyze verify $unit" "$out"
		eq "systemd-analyze verify $unit: no warning" "" "$out"
	done
	# And it can fail: an unknown directive is reported.
	sed 's/^Type=oneshot/Type=oneshot\nFrobnicate=yes/' "$t/v/colo@vm.service" > "$t/v/colo@bad.service"
	out=$(cd "$t/v" && "$sa" verify --man=no ./colo@bad.service 2>&1)
	case $out in *Frobnicate*) r=0 ;; *) r=1 ;; esac
	ok $r "systemd-analyze verify reports a bad unit" "$out"
fi

tap_end units
