#!/usr/bin/env bash
# Installs what vnetsim needs to build and test on Debian 12 (run as root).
# slirp.pc requires glib-2.0, so pkg-config finds libslirp only with
# libglib2.0-dev installed. clang and its runtime build the libFuzzer targets.
# chromium: the teaching view's HTML test loads the page headless.
# clang-format: CI fails on code that .clang-format would change.
# tshark (with capinfos): the tests have Wireshark read the pcap files we write.
# python3: the hostile-input suite (tests/hostile/) generates its inputs.
# universal-ctags: scripts/check-func-length.sh finds each function's extent.
# iproute2, iputils-ping, curl: the TAP test has the kernel's own tools talk
# to the guest in a network namespace.
# dnsmasq-base: the DNS test's server, inside a namespace of its own.
# tcpdump: bench/replay_vs_tcpdump.sh measures replay beside it.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
  ca-certificates gcc make cmake pkg-config \
  libuv1-dev libpcap-dev libslirp-dev libglib2.0-dev check \
  clang libclang-rt-14-dev clang-format chromium tshark python3 universal-ctags \
  iproute2 iputils-ping curl dnsmasq-base tcpdump >/dev/null
echo "dependencies installed: $(pkg-config --modversion libuv) libuv," \
  "$(pkg-config --modversion libpcap) libpcap, $(pkg-config --modversion slirp) libslirp," \
  "$(pkg-config --modversion check) check"
