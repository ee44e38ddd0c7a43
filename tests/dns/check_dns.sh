#!/usr/bin/env bash
# The guest's DNS stub resolver against a real DNS server (Debian's dnsmasq),
# through slirp, which forwards the guest's queries to 10.0.2.3 to the
# host's resolver from /etc/resolv.conf. Everything happens inside a
# network and mount namespace this test creates (unshare -n -m): only its
# own lo exists there, a resolv.conf naming 127.0.0.1 is bind-mounted over
# /etc/resolv.conf, and dnsmasq answers on 127.0.0.1 from its own records
# (--no-resolv --no-hosts): no query can leave the machine. Needs root
# (CAP_NET_ADMIN, CAP_SYS_ADMIN); without it the test says so and exits 77,
# which ctest reports as skipped.
set -euo pipefail
VNETSIM=${1:?usage: check_dns.sh VNETSIM}
if [ "${VNETSIM_DNS_INNER:-}" != 1 ]; then
  if ! unshare -n -m true 2>/dev/null; then
    echo "skipped: no CAP_NET_ADMIN (unshare -n -m needs root)"
    exit 77
  fi
  for tool in dnsmasq python3 ip sha256sum; do
    command -v "$tool" >/dev/null || { echo "FAIL: $tool not installed (scripts/install-deps.sh)"; exit 1; }
  done
  exec env VNETSIM_DNS_INNER=1 unshare -n -m bash "$0" "$@"
fi

work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; for f in run.out dnsmasq.log; do [ -f "$work/$f" ] && sed "s/^/  $f: /" "$work/$f"; done; exit 1; }

ip link set lo up
# This namespace's view of the resolver: ours alone.
echo "nameserver 127.0.0.1" >"$work/resolv.conf"
mount --bind "$work/resolv.conf" /etc/resolv.conf
# many.test has 40 addresses: 667 bytes of answer, over UDP's 512 (RFC 1035
# §4.2.1), so dnsmasq truncates it (TC) and the guest must ask over TCP.
for i in $(seq 40); do echo "10.1.0.$i many.test"; done >"$work/many.hosts"
dnsmasq --no-daemon --no-resolv --no-hosts --listen-address=127.0.0.1 --bind-interfaces \
  --port=53 --address=/example.test/127.0.0.1 --host-record=www.example.test,10.0.2.2 \
  --addn-hosts="$work/many.hosts" \
  --cname=alias.example.test,www.example.test --address=/nx.test/ \
  --log-queries --log-facility="$work/dnsmasq.log" --pid-file="$work/dnsmasq.pid" 2>"$work/dnsmasq.err" &
for _ in $(seq 50); do grep -q 'started' "$work/dnsmasq.log" 2>/dev/null && break; sleep 0.1; done
grep -q 'started' "$work/dnsmasq.log" || fail "dnsmasq did not start"

# A file to fetch by name, from python's HTTP server on the namespace's loopback.
mkdir "$work/www"
head -c 200000 /dev/urandom >"$work/www/f"
python3 -u -m http.server --bind 127.0.0.1 --directory "$work/www" 0 >"$work/http.out" 2>&1 &
for _ in $(seq 50); do grep -q 'port' "$work/http.out" 2>/dev/null && break; sleep 0.1; done
port=$(sed -n 's/.* port \([0-9]*\) .*/\1/p' "$work/http.out" | head -1)
[ -n "$port" ] || fail "python3 -m http.server did not start: $(cat "$work/http.out")"

# 1. names that resolve: an A record, a host record, a CNAME, and a GET by name
rc=0
timeout 60 "$VNETSIM" run --hostfwd tcp::0-:8023 --guest "resolve example.test" \
  --guest "resolve www.example.test" --guest "resolve ALIAS.example.test" \
  --guest "get http://www.example.test:$port/f" --guest-out "$work/got" >"$work/run.out" 2>&1 || rc=$?
[ $rc = 0 ] || fail "vnetsim run exited $rc"
grep -q '(resolve example.test): ok ip=127.0.0.1 ' "$work/run.out" || fail "example.test"
grep -q '(resolve www.example.test): ok ip=10.0.2.2 ' "$work/run.out" || fail "www.example.test"
grep -q '(resolve ALIAS.example.test): ok ip=10.0.2.2 ' "$work/run.out" || fail "the CNAME"
sum=$(sha256sum <"$work/www/f" | cut -d' ' -f1)
grep -q "ok status=200 length=200000 sha256=$sum server=10.0.2.2" "$work/run.out" ||
  fail "the GET by name"
cmp -s "$work/www/f" "$work/got" || fail "the body written differs from the file served"
grep -q 'query\[A\] www.example.test from 127.0.0.1' "$work/dnsmasq.log" ||
  fail "dnsmasq never saw the guest's query"
echo "ok: the guest resolved an A record, a host record and a CNAME through slirp and dnsmasq, and fetched a file by name"

guest_run() { # EXIT-STATUS ACTION: vnetsim run doing one action, which must exit so
  local want=$1 rc=0
  timeout 60 "$VNETSIM" run --hostfwd tcp::0-:8023 --guest "$2" >"$work/run.out" 2>&1 || rc=$?
  [ $rc = "$want" ] || fail "$2: vnetsim run exited $rc, not $want"
}

# 1b. an answer too long for UDP: truncated there, asked again over TCP
# (through slirp's TCP to 10.0.2.3:53, which reaches dnsmasq's TCP port)
guest_run 0 "resolve many.test"
grep -Eq '\(resolve many.test\): ok ip=10\.1\.0\.([1-9]|[1-3][0-9]|40) ' "$work/run.out" ||
  fail "many.test (a truncated answer, then DNS over TCP)"
[ "$(grep -c 'query\[A\] many.test from 127.0.0.1' "$work/dnsmasq.log")" = 2 ] ||
  fail "dnsmasq did not see the query twice (over UDP, then over TCP)"
echo "ok: an answer too long for UDP came truncated, and the guest asked again over TCP"

# 2. a name that does not exist: a clear failure, exit 1
guest_run 1 "resolve nothing.nx.test"
grep -q '(resolve nothing.nx.test): failed: no such name (NXDOMAIN)' "$work/run.out" ||
  fail "NXDOMAIN not reported"
echo "ok: NXDOMAIN is a failed action and exit status 1"
