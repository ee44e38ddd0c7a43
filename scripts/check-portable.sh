#!/usr/bin/env bash
# Keeps the deterministic core and the public library portable: they use C11
# and POSIX only, so they build wherever a C11 compiler and libc do
# (docs/PORTING.md). Two checks, each failing with the places:
#  1. every #include <...> under emu/ virtio/ stack/ sim/ api/ and
#     include/vnetsim/ names a C11 standard header (today nothing more is
#     needed; a POSIX header may join the list below with its reason);
#  2. those folders compile with -std=c11 -pedantic-errors
#     -D_POSIX_C_SOURCE=200809L -Werror: a call that exists only in glibc (or
#     only with _GNU_SOURCE) is an undeclared function there.
# Environment: VNETSIM_PORTABLE_BUILD, the build folder (default
# build-portable).
set -euo pipefail
cd "$(dirname "$0")/.."
CORE="emu virtio stack sim api include/vnetsim"
C11_HEADERS="assert.h complex.h ctype.h errno.h fenv.h float.h inttypes.h iso646.h limits.h
  locale.h math.h setjmp.h signal.h stdalign.h stdarg.h stdatomic.h stdbool.h stddef.h
  stdint.h stdio.h stdlib.h stdnoreturn.h string.h tgmath.h threads.h time.h uchar.h
  wchar.h wctype.h"
# The public headers include each other by their installed name.
ALLOWED="$C11_HEADERS vnetsim/*.h"

echo "== portable core: system headers under $CORE"
bad=0
while IFS=: read -r file line text; do
  header=$(echo "$text" | sed 's/.*<\(.*\)>.*/\1/')
  ok=0
  for a in $ALLOWED; do
    # shellcheck disable=SC2053 # a pattern on purpose
    [[ $header == $a ]] && ok=1 && break
  done
  if [ $ok -eq 0 ]; then
    echo "$file:$line: <$header> is not a C11 header" >&2
    bad=1
  fi
  # shellcheck disable=SC2086 # the folder list on purpose
done < <(grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*<' $(for d in $CORE; do
  echo "$d"/*.[ch]; done))
[ $bad -eq 0 ] || exit 1

build=${VNETSIM_PORTABLE_BUILD:-build-portable}
echo "== portable core: -std=c11 -pedantic-errors -D_POSIX_C_SOURCE=200809L"
cmake -S . -B "$build" -DVNETSIM_HOST=OFF -DVNETSIM_TESTS=OFF -DVNETSIM_WERROR=ON \
  -DCMAKE_C_FLAGS="-pedantic-errors -D_POSIX_C_SOURCE=200809L" >/dev/null
cmake --build "$build" -j 2 --target vnetsim_core vnetsim_api_obj >"$build/portable.log" 2>&1 || {
  grep -E "error|warning" "$build/portable.log" >&2
  exit 1
}
echo "core and API compiled: $(find "$build" -name '*.c.o' | wc -l) objects, no warning"
