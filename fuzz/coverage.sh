#!/usr/bin/env bash
# Source coverage of the fuzz targets: builds them with clang's coverage
# instrumentation (-fprofile-instr-generate -fcoverage-mapping, in
# build-fuzz-cov/), runs every input of each seed corpus once (and of
# build-fuzz/corpus-<target>, what fuzz/run.sh found, when present), merges
# the profiles with llvm-profdata and reports with llvm-cov: line coverage
# per library folder, then the lines that show whether the state machines
# are reached (TCP ESTABLISHED, the services, the 16-bit index wrap).
# Needs clang, llvm-profdata and llvm-cov (Debian's
# llvm package).
# Usage: fuzz/coverage.sh [--seeds-only]
set -euo pipefail
cd "$(dirname "$0")/.."
build=build-fuzz-cov
seeds_only=0
[ "${1:-}" = --seeds-only ] && seeds_only=1
targets=${FUZZ_TARGETS:-"vq_dev vq_drv vq_packed stack pcap live mm client"}
profdata=$(command -v llvm-profdata || command -v llvm-profdata-14)
llvmcov=$(command -v llvm-cov || command -v llvm-cov-14)
flags="-fprofile-instr-generate -fcoverage-mapping"
cmake -S . -B "$build" -DCMAKE_C_COMPILER=clang -DVNETSIM_FUZZ=ON -DVNETSIM_TESTS=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_FLAGS="$flags" \
  -DCMAKE_EXE_LINKER_FLAGS="-fprofile-instr-generate" >/dev/null
cmake --build "$build" -j 2 $(for t in $targets; do echo --target fuzz_$t; done) >/dev/null
rm -rf "$build/prof"
mkdir -p "$build/prof"
objects=()
for t in $targets; do
  dirs=(fuzz/corpus/$t)
  [ $seeds_only = 0 ] && [ -d build-fuzz/corpus-$t ] && dirs+=(build-fuzz/corpus-$t)
  n=$(find "${dirs[@]}" -type f | wc -l)
  LLVM_PROFILE_FILE="$build/prof/$t.profraw" \
    "$build/fuzz_$t" -runs=0 "${dirs[@]}" >"$build/prof/$t.log" 2>&1
  echo "coverage: fuzz_$t ran $n inputs (${dirs[*]})"
  objects+=(-object "$build/fuzz_$t")
done
"$profdata" merge -sparse "$build"/prof/*.profraw -o "$build/prof/all.profdata"
cov=(-instr-profile="$build/prof/all.profdata" "${objects[@]:1}")
echo
{
  echo "file lines missed line-cover branch-cover"
  "$llvmcov" report "${cov[@]}" emu virtio stack sim host/scn_live.c host/pcapio.c |
    awk '/^TOTAL/ || /\.c / { print $1, $8, $9, $10, $13 }'
} | column -t

# The lines that say whether a state machine is reached: file, a fixed
# string on the line, and what it means. Each is printed with the times it
# ran (0: not reached).
facts=(
  "stack/tcp.c|c->state = NET_TCP_ESTABLISHED;|TCP: a handshake completes (enter ESTABLISHED)"
  "stack/tcp.c|take_data(c, g->seq, g->data, g->len);|TCP: data taken in ESTABLISHED/FIN-WAIT"
  "stack/tcp.c|c->state = NET_TCP_CLOSE_WAIT;|TCP: ESTABLISHED -> CLOSE-WAIT on the peer's FIN"
  "stack/tcp.c|c->state = NET_TCP_CLOSING;|TCP: simultaneous close"
  "stack/tcp.c|enter_time_wait(c, now_ns);|TCP: TIME-WAIT entered"
  "stack/services.c|svc->stats.tcp_echo_bytes += (uint64_t)n;|services: TCP echo echoes"
  "stack/services.c|http_respond(c, 200, \"OK\", \"text/html\"|services: HTTP GET / answered"
  "stack/services.c|http_respond(c, 200, \"OK\", \"application/json\"|services: HTTP GET /stats answered"
  "host/scn_live.c|now_ns = scn_live_arrival_time(sl->s, now_ns);|live: a frame through slirp's entry"
  "host/scn_live.c|at++;|live: an arrival moved past a host event at the same nanosecond"
  "fuzz/fuzz_vq_dev.c|wraps_seen[0]++;|vq_dev: the device's pop cursor crossed 65535 -> 0"
  "fuzz/fuzz_vq_dev.c|wraps_seen[1]++;|vq_dev: the device's used index crossed 65535 -> 0"
  "virtio/vq_dev.c|q->last_avail_idx++;|vq_dev: pop cursor advanced (the line the wrap goes through)"
  "fuzz/fuzz_vq_drv.c|wraps_seen[0]++;|vq_drv: the driver's avail index crossed 65535 -> 0"
  "fuzz/fuzz_vq_drv.c|wraps_seen[1]++;|vq_drv: the driver's used cursor crossed 65535 -> 0"
  "virtio/vq_drv.c|q->last_used_idx++;|vq_drv: used cursor advanced (the line the wrap goes through)"
)
echo
printf '%-12s %s\n' "times run" "line"
for f in "${facts[@]}"; do
  IFS='|' read -r file text what <<<"$f"
  # llvm-cov show prints "LINE|COUNT|SOURCE"; COUNT is empty for lines
  # without code and may be abbreviated (1.2k, 3.4M).
  count=$("$llvmcov" show "${cov[@]}" "$file" 2>/dev/null | grep -F -- "$text" | head -1 |
    awk -F'|' '{ gsub(/ /, "", $2); print ($2 == "" ? "-" : $2) }')
  printf '%-12s %s (%s)\n' "${count:-?}" "$what" "$file"
done
