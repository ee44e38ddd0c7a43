#!/usr/bin/env bash
# Guards for a lean public library, one ctest entry per check
# (tests/CMakeLists.txt). Each fails if what it guards regresses.
#   compiled-once BUILD SRC  every C source under the layers is compiled into
#                            exactly one object
#   one-archive BUILD        the build tree holds one libvnetsim.a, the public one
#   needed SO                libvnetsim.so needs libc only (readelf -d, ldd)
#   symbols BUILD            installed, libvnetsim.a and libvnetsim.so define
#                            the same global symbols, all vns_
#   pkg-config BUILD SRC     vnetsim.pc works with nothing else visible, and a
#                            program built with its flags runs
#   static-user BUILD SRC    a program with its own gmem_read links
#                            libvnetsim.a statically and runs
# BUILD is a configured and built tree; the checks that need an installed
# library install it into a temporary prefix. symbols, pkg-config and
# static-user also take an installed prefix instead.
# Environment: CC (default cc); VNETSIM_USER_CFLAGS, what a program needs to
# link the library's objects (the sanitizers in a sanitizer build);
# VNETSIM_EXTRA_NEEDED, the libraries the .so may need besides libc (the
# sanitizer runtimes in a sanitizer build), as shell patterns.
set -euo pipefail
CC=${CC:-cc}
USER_CFLAGS=${VNETSIM_USER_CFLAGS:-}
LAYERS="emu virtio stack sim host teach api cli"

fail() {
  echo "library check $check: $*" >&2
  exit 1
}

work=$(mktemp -d "${TMPDIR:-/tmp}/vnetsim-library.XXXXXX")
trap 'rm -rf "$work"' EXIT

# Installs BUILD into a temporary prefix, or takes an installed prefix as
# it is; sets libdir and pcdir.
install_prefix() {
  local prefix=$1 pc
  if [ -f "$1/CMakeCache.txt" ]; then
    prefix="$work/prefix"
    cmake --install "$1" --prefix "$prefix" >/dev/null
  fi
  pc=$(find "$prefix" -name vnetsim.pc)
  [ -n "$pc" ] || fail "no vnetsim.pc installed"
  pcdir=$(dirname "$pc")
  libdir=$(dirname "$pcdir")
}

# pkg-config that sees the installed prefix and nothing else.
pc() { env -u PKG_CONFIG_PATH PKG_CONFIG_LIBDIR="$pcdir" pkg-config --print-errors "$@"; }

# Global symbols a file defines, one a line, sorted.
defined_globals() { nm "$@" -g --defined-only -P | awk 'NF >= 2 { print $1 }' | sort -u; }

check_compiled_once() { # BUILD SRC
  local build=$1 src=$2 layer file rel n objects
  # An object's path ends with its source's path under the source tree.
  objects=$(find "$build" -path '*/CMakeFiles/*.dir/*.c.o' | sed 's|.*/CMakeFiles/[^/]*\.dir/||')
  for layer in $LAYERS; do
    for file in "$src/$layer"/*.c; do
      [ -e "$file" ] || continue
      rel=${file#"$src"/}
      n=$(echo "$objects" | grep -cxF "$rel.o" || true)
      [ "$n" -eq 1 ] || fail "$rel is compiled into $n objects, not 1"
    done
  done
  echo "every source under $LAYERS compiled once"
}

check_one_archive() { # BUILD
  local found
  found=$(find "$1" -name libvnetsim.a)
  [ "$(echo "$found" | grep -c .)" -eq 1 ] || fail "not one libvnetsim.a: ${found:-none}"
  echo "one libvnetsim.a: ${found#"$1"/}"
}

# Whether name $1 matches one of the patterns in VNETSIM_EXTRA_NEEDED.
extra_needed() {
  local p
  for p in ${VNETSIM_EXTRA_NEEDED:-}; do
    # shellcheck disable=SC2053 # a pattern on purpose
    [[ $1 == $p ]] && return 0
  done
  return 1
}

check_needed() { # SO
  local so=$1 needed name allowed="libc.so.6" line path
  needed=$(readelf -d "$so" | awk '/\(NEEDED\)/ { gsub(/[][]/, "", $NF); print $NF }')
  [ -n "$needed" ] || fail "readelf -d lists no NEEDED entry in $so"
  for name in $needed; do
    [ "$name" = libc.so.6 ] || extra_needed "$name" || fail "$so needs $name"
    allowed="$allowed $name"
  done
  echo "readelf -d: NEEDED ${needed//$'\n'/ }"
  # ldd resolves the whole closure: besides the loader and the vDSO, only
  # what is needed above and what that needs in turn.
  ldd "$so" | grep -F "not found" && fail "ldd: a dependency is not found"
  while read -r line; do
    name=${line%% *}
    path=$(echo "$line" | awk '$2 == "=>" { print $3 }')
    if [ -n "$path" ] && [ "$name" != libc.so.6 ] && extra_needed "$name"; then
      allowed="$allowed $(ldd "$path" | awk '{ print $1 }' | tr '\n' ' ')"
    fi
  done < <(ldd "$so")
  for name in $(ldd "$so" | awk '{ print $1 }'); do
    case "$name" in
      linux-vdso.so.* | */ld-linux*.so.* | ld-linux*.so.*) continue ;;
    esac
    [[ " $allowed " == *" $name "* ]] || fail "ldd: $so loads $name"
  done
  echo "ldd: $(ldd "$so" | awk '{ print $1 }' | tr '\n' ' ')"
}

check_symbols() { # BUILD
  install_prefix "$1"
  local a="$libdir/libvnetsim.a" so="$libdir/libvnetsim.so" a_syms so_syms leaks
  a_syms=$(defined_globals "$a")
  so_syms=$(defined_globals -D "$so")
  [ -n "$a_syms" ] || fail "nm: libvnetsim.a defines no global symbol"
  leaks=$(echo "$a_syms" | grep -v '^vns_' || true)
  [ -z "$leaks" ] || fail "libvnetsim.a exposes $(echo "$leaks" | wc -l) symbols outside vns_:
$(echo "$leaks" | head -20)"
  leaks=$(echo "$so_syms" | grep -v '^vns_' || true)
  [ -z "$leaks" ] || fail "libvnetsim.so exports symbols outside vns_:
$(echo "$leaks" | head -20)"
  [ "$a_syms" = "$so_syms" ] || fail "libvnetsim.a and libvnetsim.so differ:
$(diff <(echo "$a_syms") <(echo "$so_syms") | head -20)"
  echo "nm: installed libvnetsim.a and libvnetsim.so define the same $(echo "$a_syms" | wc -l)" \
    "global symbols, all vns_"
}

# Builds tests/library/user_gmem_read.c as $1 with the rest of the
# arguments as flags, then runs it.
build_and_run() {
  local out=$1
  shift
  # shellcheck disable=SC2086 # the flags are words
  "$CC" -std=c11 -Wall -Wextra -Werror -Wmissing-prototypes $USER_CFLAGS -o "$work/$out" \
    "$src/tests/library/user_gmem_read.c" "$@"
  "$work/$out" || fail "$out exited $?"
}

check_pkg_config() { # BUILD SRC
  install_prefix "$1"
  src=$2
  local flags requires
  flags=$(pc --cflags --libs vnetsim) || fail "pkg-config --cflags --libs vnetsim failed"
  echo "pkg-config --cflags --libs vnetsim: $flags"
  pc --static --cflags --libs vnetsim >/dev/null || fail "pkg-config --static failed"
  requires=$(pc --print-requires --print-requires-private vnetsim)
  [ -z "$requires" ] || fail "vnetsim.pc requires $requires"
  if grep -iqE '^URL:.*(example|invalid)' "$pcdir/vnetsim.pc"; then
    fail "vnetsim.pc carries a placeholder URL"
  fi
  # shellcheck disable=SC2086 # the flags are words
  build_and_run user_shared $flags -Wl,-rpath,"$libdir"
  readelf -d "$work/user_shared" | grep -qF 'libvnetsim.so' || fail "user_shared is not linked to libvnetsim.so"
}

check_static_user() { # BUILD SRC
  install_prefix "$1"
  src=$2
  # The program's gmem_read must share its name with one inside the
  # library, or this test proves nothing.
  nm -P "$libdir/libvnetsim.a" | awk '$1 == "gmem_read" && $2 == "t" { found = 1 } END { exit !found }' \
    || fail "libvnetsim.a has no local gmem_read: pick another internal name for the test"
  # shellcheck disable=SC2046 # the flags are words
  build_and_run user_static $(pc --cflags vnetsim) \
    -Wl,-Bstatic $(pc --static --libs vnetsim) -Wl,-Bdynamic
  if readelf -d "$work/user_static" | grep -qF 'libvnetsim'; then
    fail "user_static needs a shared libvnetsim"
  fi
}

# The installed headers compile as C++98 and as C11 with -pedantic and every
# warning an error: a user's test may be either.
check_headers() { # BUILD SRC
  install_prefix "$1"
  printf '#include <vnetsim/vnetsim.h>\nint main(void) { return vns_version() ? 0 : 1; }\n' \
    >"$work/headers.c"
  cp "$work/headers.c" "$work/headers.cpp"
  # shellcheck disable=SC2046 # the flags are words
  ${CXX:-g++} -std=c++98 -pedantic -Wall -Wextra -Werror -fsyntax-only $(pc --cflags vnetsim) \
    "$work/headers.cpp" || fail "the headers do not compile as C++98 -pedantic"
  # shellcheck disable=SC2046 # the flags are words
  ${CC:-cc} -std=c11 -pedantic -Wall -Wextra -Werror -fsyntax-only $(pc --cflags vnetsim) \
    "$work/headers.c" || fail "the headers do not compile as C11 -pedantic"
  echo "headers: C++98 and C11 -pedantic, no warning"
}

check=${1:-}
[ $# -ge 2 ] || fail "usage: $0 compiled-once|one-archive|needed|symbols|pkg-config|static-user|headers ARGS"
shift
case "$check" in
  compiled-once) check_compiled_once "$@" ;;
  one-archive) check_one_archive "$@" ;;
  needed) check_needed "$@" ;;
  symbols) check_symbols "$@" ;;
  pkg-config) check_pkg_config "$@" ;;
  static-user) check_static_user "$@" ;;
  headers) check_headers "$@" ;;
  *) fail "no such check" ;;
esac
