#!/usr/bin/env bash
# The whole speed table in one run, as the README shows it: the machine,
# then per row the median and spread over ROUNDS alternating rounds. The
# minimal ring, vnetsim's own ring code and the full RX path (trace hash off
# and on) at 64 and 1500 bytes come from 'vnetsim bench' (CPU time, ratios
# against the minimal ring); replay beside tcpdump from
# bench/replay_vs_tcpdump.sh; the TCP echo from 'vnetsim bench'; explore's
# speed-up on every core from bench/explore_jobs.sh. Budgets are not
# checked here (bench/rx_path.sh and the scripts above check theirs).
# Usage: bench/table.sh [VNETSIM] [ROUNDS] [REPLAY_FRAMES]
set -euo pipefail
v=${1:-build/vnetsim} rounds=${2:-5} frames=${3:-1000000}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
echo "machine: $(nproc) CPUs ($cpu), $(uname -sr); load average at start $(cut -d' ' -f1-3 /proc/loadavg)"
"$v" bench --frames 300000 --rounds "$rounds" --json >"$tmp/bench.json"
bash "$here/replay_vs_tcpdump.sh" "$v" "$frames" "$rounds" 1000000 >"$tmp/replay.txt"
bash "$here/explore_jobs.sh" "$v" "$(nproc)" "$rounds" >"$tmp/explore.txt"
python3 - "$tmp" <<'PY'
import json, sys
d = sys.argv[1]
bench = json.load(open(f"{d}/bench.json"))
print()
print("| figure | 64 B | 1500 B |")
print("| --- | --- | --- |")
rows = [("minimal ring, ns a frame", "min", None), ("vnetsim's own ring", "ring", "min"),
        ("full RX path, trace hash off", "full", "min"), ("full RX path, trace hash on", "full_hash", "min")]
by_size = {r["size"]: r for r in bench["results"]}
for name, key, base in rows:
    cells = []
    for size in (64, 1500):
        r = by_size[size]
        lo, hi = r[f"{key}_ns_spread"]
        cell = f"{r[f'{key}_ns_per_frame']:.1f} ({lo:.1f}–{hi:.1f})"
        if base:
            cell += f", {r[f'{key}_ns_per_frame'] / r[f'{base}_ns_per_frame']:.1f}×"
        cells.append(cell)
    print(f"| {name} | {cells[0]} | {cells[1]} |")
print()
for line in open(f"{d}/replay.txt"):
    print(line.rstrip().split(" (budget")[0])
tcp = bench["tcp"]
print(f"TCP echo of {tcp['bytes']} bytes through the guest: {tcp['wall_bytes_per_s'] / 1e6:.1f} MB/s "
      f"of wall time each way ({tcp['virtual_s']} s virtual)")
for line in open(f"{d}/explore.txt"):
    print("explore: " + line.rstrip())
PY
