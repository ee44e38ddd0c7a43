#!/usr/bin/env bash
# Lists every C function longer than the limit (default 80 lines, body
# included) and fails when there is one. Exempt: the TCP input steps of
# RFC 9293 in stack/tcp.c, which follow the RFC's numbered text one function
# a step, and whatever names itself in a trailing argument.
set -euo pipefail
cd "$(dirname "$0")/.."
limit=${FUNC_LINES_MAX:-80}
if git rev-parse --git-dir >/dev/null 2>&1; then
  files=$(git ls-files '*.c')
else
  files=$(find . -path ./build\* -prune -o -name '*.c' -print)
fi
# universal-ctags gives each function's first and last line.
long=$(ctags -x --_xformat='%{input} %{line} %{end} %N' --kinds-C=f $files |
  awk -v max="$limit" '{ n = $3 - $2 + 1; if (n > max) printf "%s:%d %s: %d lines\n", $1, $2, $4, n }' |
  { grep -v -E "${FUNC_LINES_EXEMPT:-^$}" || true; })
echo "== function length: at most $limit lines"
if [ -n "$long" ]; then
  echo "$long"
  exit 1
fi
