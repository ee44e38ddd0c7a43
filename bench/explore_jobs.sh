#!/usr/bin/env bash
# explore's parallel speed-up: the same seed range with --jobs 1 and --jobs N,
# alternating, checking the outputs are identical; prints wall seconds per
# run, the medians and their ratio, and the machine's load while it ran.
# Usage: bench/explore_jobs.sh [VNETSIM] [JOBS] [ROUNDS] [EXPLORE ARGS...]
set -euo pipefail
v=${1:-build/vnetsim} jobs=${2:-$(nproc)} rounds=${3:-3}
shift $(($# < 3 ? $# : 3))
args=("$@")
[ ${#args[@]} -gt 0 ] || args=(--bug rx-no-recycle --bursts 2 --seeds 1..10000)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
one() { # jobs -> wall seconds; output kept for the comparison
  /usr/bin/time -f "%e" -o "$tmp/t" "$v" explore "${args[@]}" --jobs "$1" >"$tmp/out$1" 2>&1 || true
  tail -n 1 "$tmp/t"
}
s=() p=()
for ((i = 0; i < rounds; i++)); do
  s+=("$(one 1)")
  p+=("$(one "$jobs")")
  cmp -s "$tmp/out1" "$tmp/out$jobs" || { echo "outputs differ" >&2; exit 1; }
done
echo "$(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg); vnetsim explore ${args[*]}"
python3 - "$jobs" "${s[*]}" "${p[*]}" <<'PY'
import statistics, sys
j, s, p = sys.argv[1], [float(x) for x in sys.argv[2].split()], [float(x) for x in sys.argv[3].split()]
ms, mp = statistics.median(s), statistics.median(p)
print(f"--jobs 1: {' '.join(map(str, s))} s wall, median {ms:.2f}")
print(f"--jobs {j}: {' '.join(map(str, p))} s wall, median {mp:.2f}")
print(f"speed-up: {ms / mp:.2f}x (outputs identical)")
PY
