#!/usr/bin/env bash
# Fails when any C source or header differs from what .clang-format makes of
# it; prints the places. `clang-format -i FILE` mends one.
set -euo pipefail
cd "$(dirname "$0")/.."
if git rev-parse --git-dir >/dev/null 2>&1; then
  files=$(git ls-files '*.c' '*.h')
else
  files=$(find . -path ./build\* -prune -o \( -name '*.c' -o -name '*.h' \) -print)
fi
echo "== format: clang-format $(clang-format --version | sed 's/.*version //') on $(echo "$files" | wc -l) files"
echo "$files" | xargs clang-format --dry-run -Werror
