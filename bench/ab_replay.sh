#!/usr/bin/env bash
# A/B of two vnetsim builds on one replay, alternating runs so both see the
# same machine load; prints each run's CPU seconds (user + sys), the medians
# and their ratio. Usage: bench/ab_replay.sh OLD_VNETSIM NEW_VNETSIM IN.pcap [ROUNDS] [-- EXTRA ARGS]
set -euo pipefail
old=$1 new=$2 in=$3 rounds=${4:-5}
shift $(($# < 4 ? $# : 4))
[ "${1:-}" = "--" ] && shift
cpu() { /usr/bin/time -f "%U %S" "$@" >/dev/null 2>"$tmp" || true; awk 'END { print $1 + $2 }' "$tmp"; }
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
a=() b=()
for ((i = 0; i < rounds; i++)); do
  a+=("$(cpu "$old" replay "$in" -o /dev/null "$@")")
  b+=("$(cpu "$new" replay "$in" -o /dev/null "$@")")
done
python3 - "${a[*]}" "${b[*]}" <<'PY'
import statistics, sys
a = [float(x) for x in sys.argv[1].split()]
b = [float(x) for x in sys.argv[2].split()]
ma, mb = statistics.median(a), statistics.median(b)
print(f"old CPU s: {' '.join(f'{x:.2f}' for x in a)}  median {ma:.2f} (spread {min(a):.2f}-{max(a):.2f})")
print(f"new CPU s: {' '.join(f'{x:.2f}' for x in b)}  median {mb:.2f} (spread {min(b):.2f}-{max(b):.2f})")
print(f"old / new: {ma / mb:.2f}x")
PY
