#!/usr/bin/env bash
# Runs 'vnetsim bench' and holds the full RX path to a budget relative to the
# bare ring loop measured in the same run (wall-clock numbers alone say little
# on a shared machine; the ratio does). Usage: bench/rx_path.sh [BUILD_DIR] [MAX_RATIO]
set -euo pipefail
build=${1:-build}
max_ratio=${2:-12}
out=$("$build/vnetsim" bench --frames 300000 --json)
echo "$out"
python3 - "$max_ratio" "$out" <<'PY'
import json, sys
limit = float(sys.argv[1])
res = json.loads(sys.argv[2])["results"]
bad = [r for r in res if r["ratio"] > limit]
for r in res:
    print(f'{r["size"]:>5} B: full RX {r["full_fps"]:>12,.0f} frames/s, ring {r["ring_fps"]:>12,.0f}'
          f' frames/s, ratio {r["ratio"]:.2f} (budget {limit})')
sys.exit(1 if bad else 0)
PY
