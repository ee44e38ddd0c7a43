#!/usr/bin/env bash
# Does replay hold the capture? Replays a small and a large ICMP echo capture
# (bench/gen_echo_pcap.py) and compares what each extra frame costs in peak
# memory with what it takes in the file: a replay that held the capture
# would grow by at least the file's bytes per frame (114), one that streams
# it grows only by each frame's record of its fate. Fails when the growth
# per frame is over MAX_RATIO of the file's (default 0.75).
# Usage: bench/replay_memory.sh VNETSIM [SMALL] [LARGE] [MAX_RATIO]
set -euo pipefail
vnetsim=$1 small=${2:-100000} large=${3:-1000000} max_ratio=${4:-0.75}
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
peak_kb() {
  /usr/bin/time -f "%M" "$vnetsim" replay "$1" -o /dev/null >/dev/null 2>"$dir/time" ||
    { echo "replay of $1 failed:" >&2; cat "$dir/time" >&2; exit 1; }
  tail -1 "$dir/time"
}
for n in "$small" "$large"; do python3 "$here/gen_echo_pcap.py" "$n" "$dir/$n.pcap"; done
kb_small=$(peak_kb "$dir/$small.pcap") kb_large=$(peak_kb "$dir/$large.pcap")
bytes_small=$(stat -c %s "$dir/$small.pcap") bytes_large=$(stat -c %s "$dir/$large.pcap")
python3 - "$small" "$large" "$kb_small" "$kb_large" "$bytes_small" "$bytes_large" "$max_ratio" <<'PY'
import sys
small, large, kb_s, kb_l, b_s, b_l = (int(x) for x in sys.argv[1:7])
max_ratio = float(sys.argv[7])
frames = large - small
grown = (kb_l - kb_s) * 1024 / frames
file = (b_l - b_s) / frames
ratio = grown / file
print(f"peak memory: {kb_s / 1024:.1f} MiB for {small} frames, {kb_l / 1024:.1f} MiB for {large}")
print(f"each extra frame: {grown:.1f} bytes of memory, {file:.1f} bytes of capture: {ratio:.2f}x "
      f"(budget {max_ratio}x)")
sys.exit(0 if ratio <= max_ratio else 1)
PY
