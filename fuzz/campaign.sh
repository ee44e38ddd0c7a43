#!/usr/bin/env bash
# A fuzzing campaign longer than CI's: one target on several cores with
# libFuzzer's own fork mode (-fork=JOBS: the jobs share one corpus and the
# coverage they found), then the corpus minimized with libFuzzer's merge
# (-merge=1). Across machines, each runs a campaign into its own directory;
# the directories brought back are merged into one the same way.
#
# Usage: fuzz/campaign.sh run TARGET SECONDS [JOBS] [CORPUS_DIR]
#          TARGET one of fuzz/run.sh's (vq_dev, stack, pcap, ...); JOBS
#          defaults to every core; CORPUS_DIR to build-fuzz/campaign-TARGET.
#          A crash stops the campaign; its input is in build-fuzz/artifacts/.
#        fuzz/campaign.sh merge TARGET OUT_DIR IN_DIR...
#          OUT_DIR gets the smallest set of inputs of the IN_DIRs that
#          covers what all of them cover (libFuzzer -merge=1).
set -euo pipefail
cd "$(dirname "$0")/.."
build=build-fuzz
targets=" vq_dev vq_drv vq_packed stack pcap live mm client "
usage() { sed -n '/^# Usage:/,/^# *covers/s/^# \{0,1\}//p' "$0" >&2; exit 2; }

[ $# -ge 2 ] || usage
mode=$1 target=$2
case "$targets" in *" $target "*) ;; *) echo "campaign: no target '$target' (one of:$targets)" >&2; exit 2 ;; esac
if [ ! -x "$build/fuzz_$target" ]; then
  cmake -S . -B "$build" -DCMAKE_C_COMPILER=clang -DVNETSIM_FUZZ=ON -DVNETSIM_TESTS=OFF \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$build" -j "$(nproc 2>/dev/null || echo 2)" --target "fuzz_$target" >/dev/null
fi
bin="$build/fuzz_$target"

case "$mode" in
  run)
    secs=${3:?usage: fuzz/campaign.sh run TARGET SECONDS [JOBS] [CORPUS_DIR]}
    jobs=${4:-$(nproc 2>/dev/null || echo 2)}
    corpus=${5:-$build/campaign-$target}
    [[ "$secs" =~ ^[1-9][0-9]*$ ]] || { echo "campaign: SECONDS must be a positive number" >&2; exit 2; }
    [[ "$jobs" =~ ^[1-9][0-9]*$ ]] || { echo "campaign: JOBS must be a positive number" >&2; exit 2; }
    mkdir -p "$corpus" "$build/artifacts"
    log="$build/campaign-$target.log"
    echo "campaign: $target, $jobs jobs, ${secs}s, corpus $corpus (log: $log)"
    rc=0
    "$bin" -fork="$jobs" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
      -artifact_prefix="$build/artifacts/$target-" "$corpus" "fuzz/corpus/$target" >"$log" 2>&1 || rc=$?
    grep -E '^#[0-9]+: cov' "$log" | tail -1 || true
    if [ $rc -ne 0 ]; then
      grep -E 'ERROR|SUMMARY|Test unit written' "$log" | head -5
      echo "campaign: $target crashed (exit $rc)"
      exit 1
    fi
    tmp=$(mktemp -d "$build/merge-XXXXXX")
    "$bin" -merge=1 "$tmp" "$corpus" >>"$log" 2>&1
    rm -rf "$corpus" && mv "$tmp" "$corpus"
    echo "campaign: no crash; corpus minimized to $(find "$corpus" -type f | wc -l) inputs"
    ;;
  merge)
    out=${3:?usage: fuzz/campaign.sh merge TARGET OUT_DIR IN_DIR...}
    shift 3
    [ $# -ge 1 ] || usage
    for d in "$@"; do [ -d "$d" ] || { echo "campaign: '$d' is not a directory" >&2; exit 2; }; done
    mkdir -p "$out"
    "$bin" -merge=1 "$out" "$@" >"$build/campaign-$target-merge.log" 2>&1
    echo "campaign: $out holds $(find "$out" -type f | wc -l) inputs covering those of $#" \
      "director$([ $# = 1 ] && echo y || echo ies)"
    ;;
  *) usage ;;
esac
