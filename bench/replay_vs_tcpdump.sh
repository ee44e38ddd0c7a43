#!/usr/bin/env bash
# Replay against the tool people copy captures with: an N-frame ICMP echo
# capture (bench/gen_echo_pcap.py) replayed with -o (the guest's replies
# written, the report to a file) beside 'tcpdump -r IN -w OUT' on the same
# file, alternating runs so both see the same machine load, in CPU seconds
# (user + sys). Prints each run, the medians with their spread, and the
# ratio; fails when the ratio is over MAX_RATIO (default 5).
# Usage: bench/replay_vs_tcpdump.sh VNETSIM [FRAMES] [ROUNDS] [MAX_RATIO]
set -euo pipefail
vnetsim=$1 frames=${2:-1000000} rounds=${3:-5} max_ratio=${4:-5}
command -v tcpdump >/dev/null || { echo "replay_vs_tcpdump: no tcpdump (apt-get install tcpdump)" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
python3 "$here/gen_echo_pcap.py" "$frames" "$dir/in.pcap"
cpu() { # the command's CPU seconds; its failure ends the benchmark
  /usr/bin/time -f "%U %S" "$@" >"$dir/stdout" 2>"$dir/time" ||
    { echo "failed: $*" >&2; cat "$dir/time" >&2; exit 1; }
  awk 'END { print $1 + $2 }' "$dir/time"
}
t=() v=()
for ((i = 0; i < rounds; i++)); do
  t+=("$(cpu tcpdump -r "$dir/in.pcap" -w "$dir/tcpdump.pcap")")
  v+=("$(cpu "$vnetsim" replay "$dir/in.pcap" -o "$dir/vnetsim.pcap")")
done
python3 - "$frames" "$max_ratio" "${t[*]}" "${v[*]}" <<'PY'
import statistics, sys
frames, max_ratio = int(sys.argv[1]), float(sys.argv[2])
t = [float(x) for x in sys.argv[3].split()]
v = [float(x) for x in sys.argv[4].split()]
mt, mv = statistics.median(t), statistics.median(v)
def line(name, xs, m):
    print(f"{name:<24} CPU s: {' '.join(f'{x:.2f}' for x in xs)}  median {m:.2f} "
          f"(spread {min(xs):.2f}-{max(xs):.2f}), {m / frames * 1e9:.0f} ns a frame")
line("tcpdump -r IN -w OUT", t, mt)
line("vnetsim replay IN -o OUT", v, mv)
ratio = mv / max(mt, 0.01)
print(f"replay / tcpdump: {ratio:.2f}x (budget {max_ratio:g}x), {frames} frames")
sys.exit(0 if ratio <= max_ratio else 1)
PY
