#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# deb-check.sh (make deb-check, the "deb" lane of make check): build the
# Debian packages (scripts/deb-build.sh, into .build/deb), run lintian on
# the .changes, the .dsc and both .debs (no error, no warning), install both
# on this Debian 12 host (apt-get install ./x.deb), check that DKMS built
# and installed dm-colo.ko for every kernel of kernel/kernels, that
# colosetup runs and its man page, completion, udev rules and units are in
# place, then purge both and check that the host is as it was (dkms, /usr/src,
# /lib/modules, every directory the packages write to). Needs root and a
# host where neither package nor dm-colo's DKMS module is installed.
# TAP, then "deb: N passed, N failed".
set -uo pipefail
. "$(dirname "$0")/lib.sh"
cd "$top"

pass=0 fail=0
ok() { # ok COND-RC WHAT [DETAIL]
	if [ "$1" = 0 ]; then
		pass=$((pass + 1)); echo "ok $((pass + fail)) - $2"
	else
		fail=$((fail + 1)); echo "not ok $((pass + fail)) - $2"
		[ -n "${3:-}" ] && sed 's/^/#   /' <<< "$3" | tail -n 40
	fi
	return "$1"
}
end() { echo "deb: $pass passed, $fail failed"; [ "$fail" = 0 ]; exit; }

ver=$(cat VERSION)
pkgs=(colosetup dm-colo-dkms)
apt_opts=(-y -q --no-install-recommends -o DPkg::Lock::Timeout=300)
export DEBIAN_FRONTEND=noninteractive

[ "$(id -u)" = 0 ]; ok $? "running as root (dpkg, dkms)" || end
# One run at a time: it installs packages on the host.
exec 9> /tmp/colo-deb.lock
flock 9

installed() { dpkg-query -W -f='${db:Status-Status}' "$1" 2> /dev/null | grep -qv '^not-installed$'; }
clean_host() {
	local p out=
	for p in "${pkgs[@]}"; do installed "$p" && out+="package $p is installed"$'\n'; done
	[ -e "/usr/src/dm-colo-$ver" ] && out+="/usr/src/dm-colo-$ver exists"$'\n'
	dkms status -m dm-colo 2> /dev/null | grep -q . && out+="dkms has dm-colo: $(dkms status -m dm-colo)"$'\n'
	[ -e /usr/sbin/colosetup ] && out+="/usr/sbin/colosetup exists"$'\n'
	[ -z "$out" ] || { printf '%s' "$out"; return 1; }
}
out=$(clean_host)
ok $? "the host has neither package nor dm-colo in DKMS" "$out" || end

# Everything the packages touch, before: names, types, modes, and the
# content of depmod's files (dkms install and remove run depmod).
dirs=(/usr/src /var/lib/dkms /lib/modules /usr/sbin /usr/share/man /usr/share/doc
	/usr/share/bash-completion /usr/share/colosetup /lib/udev /lib/systemd/system
	/etc/systemd/system /var/lib/systemd/deb-systemd-helper-enabled
	/var/lib/systemd/deb-systemd-helper-masked)
snapshot() {
	local d
	for d in "${dirs[@]}"; do
		[ -e "$d" ] && find "$d" -printf '%p %y %m\n'
	done | sort
	find /lib/modules -maxdepth 2 -name 'modules.*' -type f -exec md5sum {} + | sort
	dpkg-query -W -f='${Package} ${Version} ${db:Status-Status}\n' | sort
}
tmp=$(mktemp -d)
purge() {
	local p list=()
	for p in "${pkgs[@]}"; do installed "$p" && list+=("$p"); done
	[ ${#list[@]} = 0 ] || dpkg --purge "${list[@]}"
}
# Whatever happens, leave no package installed.
trap 'purge > "$tmp/purge-trap.log" 2>&1; rm -rf "$tmp"' EXIT
snapshot > "$tmp/before"

# Build.
out=$(nice -n 19 scripts/deb-build.sh 2>&1)
ok $? "make deb: dpkg-buildpackage" "$out" || end
d=$top/.build/deb
debs=("$d/colosetup_${ver}_amd64.deb" "$d/dm-colo-dkms_${ver}_all.deb")
files=("$d/dm-colo_${ver}_amd64.changes" "$d/dm-colo_$ver.dsc" "${debs[@]}")
for f in "${files[@]}"; do
	[ -s "$f" ]; ok $? "built ${f#"$d"/}" || end
done
for f in "${debs[@]}"; do
	v=$(dpkg-deb -f "$f" Version)
	[ "$v" = "$ver" ]; ok $? "${f#"$d"/}: version $v is VERSION's ($ver)"
done
dep=$(dpkg-deb -f "${debs[0]}" Depends)
grep -q 'libdevmapper1\.02\.1' <<< "$dep"; ok $? "colosetup depends on libdevmapper: $dep"
dep=$(dpkg-deb -f "${debs[1]}" Depends)
grep -qw dkms <<< "$dep"; ok $? "dm-colo-dkms depends on dkms: $dep"

# colosetup holds every file "make -C userspace install" installs at
# Debian's paths (a unit or man page added there is packaged too).
make -s -C userspace install DESTDIR="$tmp/inst" PREFIX=/usr SBINDIR=/usr/sbin \
	MANDIR=/usr/share/man UDEVDIR=/lib/udev UNITDIR=/lib/systemd/system \
	COMPLETIONDIR=/usr/share/bash-completion/completions > "$tmp/inst.log" 2>&1
ok $? "make -C userspace install at Debian's paths" "$(cat "$tmp/inst.log")"
(cd "$tmp/inst" && find . -type f | sed 's|^\.||; s|^\(/usr/share/man/.*\)|\1.gz|') |
	sort > "$tmp/want"
dpkg-deb -c "${debs[0]}" | awk '$1 !~ /^d/ { print substr($6, 2) }' | sort > "$tmp/have"
out=$(comm -23 "$tmp/want" "$tmp/have")
[ -s "$tmp/want" ] && [ -z "$out" ]
ok $? "colosetup .deb holds all $(wc -l < "$tmp/want") files of make install" "missing: $out"

# lintian: no error, no warning (overrides: debian/*lintian-overrides).
lv=$(lintian --version)
for f in "${files[@]}"; do
	out=$(nice -n 19 lintian --fail-on error,warning "$f" 2>&1 |
		grep -v '^running with root privileges is not recommended!$')
	bad=$(grep -E '^[EW]: ' <<< "$out")
	[ -z "$bad" ]; ok $? "$lv: ${f#"$d"/}: no error, no warning" "$out"
done

# Install both.
out=$(nice -n 19 apt-get install "${apt_opts[@]}" "${debs[@]}" 2>&1)
ok $? "apt-get install both packages" "$out"
for p in "${pkgs[@]}"; do
	s=$(dpkg-query -W -f='${db:Status-Abbrev}${Version}' "$p" 2> /dev/null)
	[ "$s" = "ii $ver" ]; ok $? "$p installed: '$s'"
done
# DKMS: built and installed for every kernel, at the one version.
for k in $(colo_kernels); do
	kver=$(colo_kver "$k")
	ok $? "kernel $k installed" || continue
	s=$(dkms status -m dm-colo -v "$ver" -k "$kver" 2> /dev/null)
	grep -q ': installed' <<< "$s"
	ok $? "dkms status for $kver: $s" "$(dkms status 2> /dev/null
		tail -n 20 "/var/lib/dkms/dm-colo/$ver/build/make.log" 2> /dev/null)"
	ko=$(ls "/lib/modules/$kver/updates/dkms/dm-colo.ko"* 2> /dev/null | head -n 1)
	[ -n "$ko" ]; ok $? "/lib/modules/$kver/updates/dkms/dm-colo.ko built" || continue
	v=$(modinfo -F version "$ko" 2> /dev/null)
	[ "$v" = "$ver" ]; ok $? "${ko##*/} for $kver: MODULE_VERSION $v is VERSION's"
	modinfo -F vermagic "$ko" | grep -q "^$kver "
	ok $? "${ko##*/}: vermagic is $kver's"
	grep -q "updates/dkms/dm-colo.ko" "/lib/modules/$kver/modules.dep"
	ok $? "depmod for $kver knows it"
done

# colosetup and its files.
out=$(colosetup --version 2>&1)
rc=$?
[ "$rc" = 0 ] && grep -qx "colosetup $ver" <<< "$(head -n 1 <<< "$out")"
ok $? "colosetup --version: exit 0, 'colosetup $ver'" "exit $rc: $out"
out=$(colosetup --help 2>&1)
rc=$?
[ "$rc" = 0 ] && grep -q '^Usage: colosetup' <<< "$out"
ok $? "colosetup --help: exit 0, Usage" "exit $rc: $out"
[ "$(command -v colosetup)" = /usr/sbin/colosetup ]; ok $? "colosetup is /usr/sbin/colosetup"
for f in /usr/share/man/man8/colosetup.8.gz /usr/share/bash-completion/completions/colosetup \
	/lib/udev/rules.d/57-dm-colo.rules /lib/udev/colo-leg-id \
	/lib/systemd/system/colo-monitor.service /usr/share/colosetup/lvm-global-filter.conf; do
	[ -f "$f" ]; ok $? "$f installed"
done
# Every man page and unit of the package, in place and readable.
for f in $(dpkg -L colosetup | grep -E '^/usr/share/man/man[0-9]/.*\.gz$'); do
	out=$(MANWIDTH=80 man -l "$f" 2>&1 > /dev/null)
	[ -z "$out" ]; ok $? "man -l ${f##*/}: no warning" "$out"
done
units=$(dpkg -L colosetup | grep -E '^/lib/systemd/system/[^/]+\.(service|timer|socket|path|target)$')
[ -n "$units" ]; ok $? "units installed: $(echo $units)"
for f in $units; do
	grep -Eq '^ExecStart=-?/usr/sbin/colosetup( |$)' "$f"
	ok $? "${f##*/}: ExecStart=/usr/sbin/colosetup" "$(grep ExecStart "$f")"
	! ls /etc/systemd/system/*.wants/"${f##*/}" > /dev/null 2>&1
	ok $? "${f##*/}: not enabled by the package"
done
[ -x /lib/udev/colo-leg-id ]; ok $? "/lib/udev/colo-leg-id executable"
# The completion, as bash-completion loads it on first use.
out=$(bash -c '. /usr/share/bash-completion/bash_completion
	_completion_loader colosetup
	COMP_WORDS=(colosetup mirror ""); COMP_CWORD=2; COMP_LINE="colosetup mirror "
	COMP_POINT=${#COMP_LINE}; compopt() { :; }
	_colosetup colosetup "" mirror; echo "${COMPREPLY[*]}"' 2>&1)
[ "$out" = "start stop async sync rate" ]; ok $? "bash-completion loads the completion: 'colosetup mirror ' -> start stop async sync rate" "$out"

# Purge, and the host is as it was.
out=$(purge 2>&1)
ok $? "dpkg --purge ${pkgs[*]}" "$out"
out=$(clean_host)
ok $? "no package, no /usr/src/dm-colo-$ver, nothing in dkms status" "$out"
for k in $(colo_kernels); do
	kver=$(colo_kver "$k") || continue
	! ls "/lib/modules/$kver/updates/dkms/dm-colo.ko"* > /dev/null 2>&1
	ok $? "dm-colo.ko gone from $kver"
done
snapshot > "$tmp/after"
out=$(diff "$tmp/before" "$tmp/after")
ok $? "every directory the packages touched is as before" "$out"
end
