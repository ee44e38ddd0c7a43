#!/usr/bin/env bash
# Runs the README's library lines as printed (build, install, build a test
# against the installed library shared and static, run it), with a temporary
# prefix for /opt/vnetsim and BUILD_DIR for build; checks what landed in the
# prefix (public headers only, both libraries, pkg-config and CMake package
# files); then builds the out-of-tree example in examples/ against it with
# find_package (shared and static) and with CMake through pkg-config, and
# runs its Check suite each time.
# Usage: scripts/test-install.sh [BUILD_DIR]   (default build-install)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-install}
jobs=$(nproc 2>/dev/null || echo 2)
work=$(mktemp -d "${TMPDIR:-/tmp}/vnetsim-install.XXXXXX")
trap 'rm -rf "$work"' EXIT
prefix="$work/prefix"

fail() {
  echo "test-install: $*" >&2
  exit 1
}

# The indented lines between the README's two library markers, indent
# removed.
readme_lines() {
  awk '/^<!-- library lines/ { on = 1; next } /^<!-- end of library lines/ { on = 0 }
       on && /^    / { print substr($0, 5) }' README.md
}

# The README's lines with this run's places: the prefix for /opt/vnetsim,
# the build directory for build, the work directory for the test programs.
# Fails if one of them is no longer there to replace: the README changed
# shape, and this script must change with it.
readme_script() {
  local lines want
  lines=$(readme_lines)
  [ -n "$lines" ] || fail "no library lines between the README's markers"
  for want in "/opt/vnetsim" "-B build" "--build build" "--install build" "-o my_test" "./my_test"; do
    [[ $lines == *"$want"* ]] || fail "the README's library lines no longer have '$want'"
  done
  echo "$lines" | sed -e "s|/opt/vnetsim|$prefix|g" -e "s|-B build |-B $build |g" \
    -e "s|--build build |--build $build |g" -e "s|--install build |--install $build |g" \
    -e "s|-o my_test|-o $work/my_test|g" -e "s|\./my_test|$work/my_test|g"
}

echo "== the README's library lines, with prefix $prefix"
script=$(readme_script)
echo "$script" | sed 's/^/  $ /'
# Configured first with warnings as errors and without the test suites; the
# README's configure line keeps those settings.
cmake -S . -B "$build" -DVNETSIM_WERROR=ON -DVNETSIM_TESTS=OFF >/dev/null
bash -euo pipefail -c "$script" >"$work/readme.log" 2>&1 || {
  tail -30 "$work/readme.log"
  fail "the README's library lines failed"
}
grep -E '^[0-9]+%: Checks' "$work/readme.log" | sed 's/^/  /'
[ "$(grep -cE '^100%: Checks' "$work/readme.log")" -eq 2 ] \
  || fail "the test built by the README's lines did not pass twice (shared, static)"
readelf -d "$work/my_test_static" | grep -qF libvnetsim && fail "my_test_static needs libvnetsim.so"

echo "== what landed in the prefix"
libdir="$prefix/lib"
for f in "$libdir/libvnetsim.so" "$libdir/libvnetsim.a" "$libdir/pkgconfig/vnetsim.pc" \
  "$libdir/cmake/vnetsim/vnetsimConfig.cmake" "$prefix/include/vnetsim/vnetsim.h" \
  "$prefix/include/vnetsim/version.h"; do
  [ -e "$f" ] || fail "missing $f"
done
[ -L "$libdir/libvnetsim.so" ] || fail "libvnetsim.so is not a version symlink"
# only the public headers: nothing from emu/, virtio/, stack/ or cli/
extra=$(find "$prefix/include" -type f ! -path "$prefix/include/vnetsim/*.h")
[ -z "$extra" ] || fail "internal files installed: $extra"
ls "$libdir"/libvnetsim.* | sed "s|$prefix/|  |"
# The installed libraries, as the build tree's tests check them.
bash tests/library/check.sh needed "$libdir/libvnetsim.so"
bash tests/library/check.sh symbols "$prefix"

run_suite() { # build dir
  (cd "$1" && ctest --output-on-failure) | tail -3
}

echo "== example with find_package(vnetsim)"
cmake -S examples -B "$work/ex-cmake" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_FLAGS=-Werror \
  | grep -F "libvnetsim" || fail "find_package did not report libvnetsim"
cmake --build "$work/ex-cmake" -j "$jobs" >/dev/null
run_suite "$work/ex-cmake"

echo "== example with find_package(vnetsim), static"
cmake -S examples -B "$work/ex-static" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_FLAGS=-Werror \
  -DVNETSIM_EXAMPLE_STATIC=ON | grep -F "libvnetsim" || fail "find_package did not report libvnetsim"
cmake --build "$work/ex-static" -j "$jobs" >/dev/null
readelf -d "$work/ex-static/check_example" | grep -qF libvnetsim && fail "static example needs libvnetsim.so"
run_suite "$work/ex-static"

echo "== example with pkg-config (CMake)"
PKG_CONFIG_PATH="$libdir/pkgconfig" cmake -S examples -B "$work/ex-pc" \
  -DVNETSIM_EXAMPLE_USE_PKGCONFIG=ON -DCMAKE_C_FLAGS=-Werror | grep -F "libvnetsim"
cmake --build "$work/ex-pc" -j "$jobs" >/dev/null
run_suite "$work/ex-pc"
echo "test-install: ok"
