#!/usr/bin/env bash
# Installs the dependencies, then builds and runs every Check suite twice:
# under AddressSanitizer + UndefinedBehaviorSanitizer, then as the release
# build with warnings as errors; between the two, each libFuzzer target runs
# for VNETSIM_FUZZ_SECONDS (default 10). Before the release build, the
# portability guards: the core's strict C11/POSIX build
# (scripts/check-portable.sh) and the ports in VNETSIM_CI_PORTS (default
# s390x, the big-endian one; scripts/test-ports.sh alone runs all three).
# The last lines are ctest's summary.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
jobs=$(nproc 2>/dev/null || echo 2)
# each phase says when it starts, so that a slow one shows in the log
phase() { echo "== $* (at ${SECONDS} s)"; }

bash scripts/check-format.sh
bash scripts/check-func-length.sh
bash scripts/check-layers.sh

phase "sanitizer build (ASan + UBSan)"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DVNETSIM_SANITIZE=ON -DVNETSIM_WERROR=ON >/dev/null
cmake --build build-asan -j "$jobs" >/dev/null
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build-asan -j "$jobs" --output-on-failure

phase "fuzzing, ${VNETSIM_FUZZ_SECONDS:-10} s per target (clang, ASan + UBSan)"
bash fuzz/run.sh "${VNETSIM_FUZZ_SECONDS:-10}"

phase "install"
bash scripts/test-install.sh

phase "portability"
bash scripts/check-portable.sh
# shellcheck disable=SC2086 # a list of ports on purpose
bash scripts/test-ports.sh ${VNETSIM_CI_PORTS:-s390x}

phase "release build"
cmake -S . -B build -DVNETSIM_WERROR=ON >/dev/null
cmake --build build -j "$jobs" >/dev/null
ctest --test-dir build -j "$jobs" --output-on-failure
