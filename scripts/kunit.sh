#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# kunit.sh: build and run dm-colo's KUnit suites in a UML kernel.
#
#   scripts/kunit.sh [kunit.py run options...]
#
# The kernel is Debian's linux-source-6.1 (/usr/src/linux-source-6.1.tar.xz),
# unpacked once into the cache directory (shared with lint.sh)
#   ${DM_COLO_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dm-colo}
# with this repository's dm-colo/ linked in as drivers/md/dm-colo. The build
# directory (kunit-build-6.1/ in the cache) is kept between runs, so only
# what changed is rebuilt. Extra arguments go to "kunit.py run" (e.g.
# --raw_output, or a suite glob such as 'dm-colo-table').
#
# The kernel's per-test lines are shown as kunit.py prints them. The last
# line is "kunit: N passed, N failed"; skipped tests, a build or boot
# failure, a kernel BUG/WARNING and a run of zero tests count as failures.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

tarball=/usr/src/linux-source-6.1.tar.xz
[ -f "$tarball" ] || { echo "kunit: $tarball is missing (scripts/deps.sh)" >&2; exit 1; }
mkdir -p "$COLO_CACHE"
cache=$(cd "$COLO_CACHE" && pwd)
COLO_CACHE=$cache
build=$cache/kunit-build-6.1
kunitconfig=$top/kernel/kunitconfig

# One run at a time per cache: runs share the tree and the build directory.
exec 9>"$cache/.kunit.lock"
if ! flock -n 9; then
	echo "# kunit: waiting for another run using $cache" >&2
	flock 9
fi

# --- kernel tree -----------------------------------------------------------
# The tree is shared with lint.sh (colo_linux_source, unpacked once). It is
# unpacked again, and everything built from it dropped, when the tarball is
# no longer the one it came from (a new linux-source-6.1 package).
[ -f "$cache/linux-source-6.1/.unpacked" ] ||
	echo "# kunit: unpacking $tarball into $cache/linux-source-6.1" >&2
src=$(colo_linux_source)
tar_id="$(stat -c '%s %Y' "$tarball")"
if [ -f "$src/.dm-colo-tarball" ] && [ "$(cat "$src/.dm-colo-tarball")" != "$tar_id" ]; then
	echo "# kunit: $tarball changed, unpacking it again" >&2
	rm -f "$src/.unpacked"
	src=$(colo_linux_source)
	rm -rf "$build"
fi
[ -f "$src/Makefile" ] || { echo "kunit: unpacking $tarball failed" >&2; exit 1; }
echo "$tar_id" > "$src/.dm-colo-tarball"

# Link dm-colo/ in, every run: the repository may have moved since the last.
ln -sfn "$top/dm-colo" "$src/drivers/md/dm-colo"
if ! grep -q '^source "drivers/md/dm-colo/Kconfig"' "$src/drivers/md/Kconfig"; then
	printf '\nsource "drivers/md/dm-colo/Kconfig"\n' >> "$src/drivers/md/Kconfig"
fi
if ! grep -q '^obj-$(CONFIG_DM_COLO)[[:space:]]*+= dm-colo/' "$src/drivers/md/Makefile"; then
	printf '\nobj-$(CONFIG_DM_COLO)\t\t+= dm-colo/\n' >> "$src/drivers/md/Makefile"
fi

# make decides from timestamps. A fresh clone or a restored cache can leave
# sources older than objects built from other contents, so the objects of
# dm-colo are dropped whenever the contents of dm-colo/ changed.
mkdir -p "$build"
sum=$(cd "$top/dm-colo" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum)
if [ "$(cat "$build/.dm-colo-sources" 2>/dev/null || true)" != "$sum" ]; then
	rm -rf "$build/drivers/md/dm-colo"
fi

# --- build and run ----------------------------------------------------------
log=$(mktemp)
trap 'rm -f "$log"' EXIT
start=$(date +%s)
set +e
(cd "$src" && python3 tools/testing/kunit/kunit.py run \
	--kunitconfig="$kunitconfig" --build_dir="$build" --jobs="$(nproc)" "$@") 2>&1 |
	tee "$log"
rc=${PIPESTATUS[0]}
set -e
echo "# kunit: kunit.py exited $rc after $(( $(date +%s) - start ))s" >&2
# Recorded only now: an interrupted run leaves the objects to be checked
# again by make's timestamps, which is all a half-done build needs.
echo "$sum" > "$build/.dm-colo-sources"

# "Testing complete. Ran 93 tests: passed: 92, failed: 1" (every count but
# "Ran" and "passed" appears only when non-zero).
summary=$(sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -E 'Testing complete\. Ran [0-9]+ tests?' | tail -n 1 || true)
count() {
	local n
	n=$(echo "$summary" | grep -oE "$1: [0-9]+" | grep -oE '[0-9]+$' || true)
	echo "${n:-0}"
}
ran=$(echo "$summary" | grep -oE 'Ran [0-9]+' | grep -oE '[0-9]+' || true)
ran=${ran:-0}
pass=$(count passed)
fail=$(( $(count failed) + $(count crashed) ))
skip=$(count skipped)
errors=$(count errors)

problems=()
[ "$skip" -gt 0 ] && problems+=("$skip test(s) skipped")
[ "$errors" -gt 0 ] && problems+=("kunit.py found $errors error(s) in the kernel's test output")
[ -z "$summary" ] && problems+=("no test summary from kunit.py (build or boot failed?)")
[ -n "$summary" ] && [ "$ran" -eq 0 ] && problems+=("no test ran")
[ "$rc" -ne 0 ] && [ "$fail" -eq 0 ] && problems+=("kunit.py failed (exit $rc)")
bad='BUG:|WARNING:|Oops|Kernel panic|general protection fault|UBSAN:|KASAN:|kernel BUG|Call Trace:'
if [ -n "$summary" ] && [ -f "$build/test.log" ] && grep -Eq "$bad" "$build/test.log"; then
	problems+=("kernel reported a problem (see $build/test.log)")
	grep -E -m 20 -A 30 "$bad" "$build/test.log" | sed 's/^/# kernel: /' | head -n 80
fi
# A skipped test did not run: it is a failure, not a pass. The other
# problems stand for at least one test that could not pass.
fail=$((fail + skip))
for p in "${problems[@]+"${problems[@]}"}"; do
	echo "not ok - kunit: $p"
done
if [ "$fail" -eq 0 ] && [ ${#problems[@]} -gt 0 ]; then
	fail=1
fi
echo "kunit: $pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
