#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# deb-build.sh [OUTDIR] (make deb): build the Debian packages dm-colo-dkms
# and colosetup with debhelper (debian/) from a copy of the tree in OUTDIR
# (.build/deb by default; the tree itself stays clean): the source package
# (.dsc, .tar.xz), both .debs, .buildinfo and .changes, unsigned. The copy
# holds the files git knows (tracked, or new and not ignored), so build
# products in the tree stay out of the packages.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

ver=$(cat "$top/VERSION")
cver=$(dpkg-parsechangelog -l "$top/debian/changelog" -S Version)
if [ "$cver" != "$ver" ]; then
	echo "deb: debian/changelog's version ($cver) is not VERSION's ($ver): add an entry (dch -v $ver)" >&2
	exit 1
fi
out=${1:-$top/.build/deb}
mkdir -p "$out"
out=$(cd "$out" && pwd)
rm -rf "${out:?}"/dm-colo-* "$out"/dm-colo_* "$out"/*.deb
src=$out/dm-colo-$ver
mkdir "$src"
if git -C "$top" rev-parse --git-dir > /dev/null 2>&1; then
	(cd "$top" && git ls-files -z --cached --others --exclude-standard |
		while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
		tar --null --no-recursion -T - -cf -) | tar -C "$src" -xf -
else
	tar -C "$top" --exclude=./.build --exclude='*.o' --exclude='*.ko' -cf - . |
		tar -C "$src" -xf -
fi
(cd "$src" && dpkg-buildpackage --no-sign -sa) > "$out/build.log" 2>&1 || {
	tail -n 40 "$out/build.log" >&2
	echo "deb: dpkg-buildpackage failed (the whole log: $out/build.log)" >&2
	exit 1
}
rm -rf "$src"
echo "deb: built in $out:"
(cd "$out" && ls -1 ./*.deb ./*.dsc ./*.changes | sed 's|^\./|  |')
