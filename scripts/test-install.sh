#!/usr/bin/env bash
# Installs vnetsim into a temporary prefix with `cmake --install`, checks what
# landed there (public headers only, both libraries, pkg-config and CMake
# package files), then builds the out-of-tree example in examples/ against it
# three ways (find_package, CMake through pkg-config, a bare cc line from
# `pkg-config --cflags --libs vnetsim`) and runs its Check suite each time.
# Usage: scripts/test-install.sh [BUILD_DIR]   (default build-install)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-install}
jobs=$(nproc 2>/dev/null || echo 2)
work=$(mktemp -d "${TMPDIR:-/tmp}/vnetsim-install.XXXXXX")
trap 'rm -rf "$work"' EXIT
prefix="$work/prefix"

echo "== install into a temporary prefix"
cmake -S . -B "$build" -DVNETSIM_WERROR=ON -DVNETSIM_TESTS=OFF >/dev/null
cmake --build "$build" -j "$jobs" --target vnetsim_shared vnetsim_static >/dev/null
cmake --install "$build" --prefix "$prefix" >/dev/null

fail() { echo "test-install: $*" >&2; exit 1; }
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
ls "$libdir"/libvnetsim.so* | sed "s|$prefix/|  |"

run_suite() { # build dir
  (cd "$1" && ctest --output-on-failure) | tail -3
}

echo "== example with find_package(vnetsim)"
cmake -S examples -B "$work/ex-cmake" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_FLAGS=-Werror \
  | grep -F "libvnetsim" || fail "find_package did not report libvnetsim"
cmake --build "$work/ex-cmake" -j "$jobs" >/dev/null
run_suite "$work/ex-cmake"

echo "== example with pkg-config (CMake)"
PKG_CONFIG_PATH="$libdir/pkgconfig" cmake -S examples -B "$work/ex-pc" \
  -DVNETSIM_EXAMPLE_USE_PKGCONFIG=ON -DCMAKE_C_FLAGS=-Werror | grep -F "libvnetsim"
cmake --build "$work/ex-pc" -j "$jobs" >/dev/null
run_suite "$work/ex-pc"

echo "== example with pkg-config (cc)"
flags=$(PKG_CONFIG_PATH="$libdir/pkgconfig" pkg-config --cflags --libs vnetsim check)
# shellcheck disable=SC2086 # the flags are words
cc -std=c11 -Wall -Wextra -Werror -o "$work/check_example" examples/check_example.c $flags \
  -Wl,-rpath,"$libdir"
"$work/check_example" | tail -1
echo "test-install: ok"
