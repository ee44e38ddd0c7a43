#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs each for
# SECONDS (default 60) from the committed seed corpora. Exits non-zero when a
# target crashes; the input that did it is left in build-fuzz/artifacts/.
# Usage: fuzz/run.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
build=build-fuzz
if [ ! -x "$build/fuzz_pcap" ] || [ -n "$(find emu virtio stack sim host teach api cli fuzz -newer "$build/fuzz_pcap" -name '*.[ch]' | head -1)" ]; then
  cmake -S . -B "$build" -DCMAKE_C_COMPILER=clang -DVNETSIM_FUZZ=ON -DVNETSIM_TESTS=OFF \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$build" -j "$(nproc 2>/dev/null || echo 2)" >/dev/null
fi
mkdir -p "$build/artifacts"
# One target per CPU at a time: each still gets SECONDS, the phase takes
# SECONDS per CPU's share of the targets.
jobs=$(nproc 2>/dev/null || echo 2)
run_target() { # target -> its result line in $build/result-$target, CRASH or ok
  local target=$1 work="$build/corpus-$1" log="$build/fuzz_$1.log" result=ok
  local seeds=(fuzz/corpus/$target)
  mkdir -p "$work"
  # the public captures are good pcap seeds too, read-only
  if [ "$target" = pcap ] && [ -d ../shared/captures ]; then seeds+=(../shared/captures); fi
  "$build/fuzz_$target" -max_total_time="$secs" -print_final_stats=1 -timeout=10 \
    -rss_limit_mb=2048 -artifact_prefix="$build/artifacts/$target-" "$work" "${seeds[@]}" \
    >"$log" 2>&1 || result=CRASH
  local execs
  execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
  printf 'fuzz %-7s %-6s %12s executions in %ss (log: %s)\n' "$target" "$result" "$execs" "$secs" \
    "$log" >"$build/result-$target"
  [ "$result" = ok ] || crash_report "$target" "$log" >>"$build/result-$target"
}
# What a crash leaves in CI's output, where build-fuzz/ is gone with the
# clone: the error, the project's own frames, and the input itself (base64,
# decode with 'base64 -d' and run the target on it).
crash_report() { # target log
  grep -E 'ERROR|SUMMARY' "$2" | head -5
  grep -E '^ +#[0-9]+ .* in [A-Za-z_].*/(emu|virtio|stack|sim|host|teach|api|cli|fuzz)/' "$2" | head -12
  local input
  input=$(grep -o "$build/artifacts/$1-[a-z]*-[0-9a-f]*" "$2" | head -1)
  if [ -n "$input" ] && [ -f "$input" ] && [ "$(stat -c %s "$input")" -le 8192 ]; then
    echo "crash input $input (base64):"
    base64 -w 100 "$input"
  fi
}
targets=(vq_dev vq_drv vq_packed stack pcap live mm client)
for target in "${targets[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
  run_target "$target" &
done
wait
status=0
for target in "${targets[@]}"; do
  cat "$build/result-$target"
  grep -q ' CRASH ' "$build/result-$target" && status=1
done
exit $status
