#!/usr/bin/env python3
"""Load through 'vnetsim run' on loopback: CONNS concurrent echo connections
of BYTES each (every byte checked), then REQUESTS HTTP requests at
concurrency CONCURRENCY, each on its own connection (every response checked);
then the run's summary must show no frame dropped for want of an RX buffer,
none refused by a full TX ring and no connection refused by the guest, every
frame accounted. Prints MB/s and requests/s.

Usage: live_load.py VNETSIM [CONNS] [BYTES] [REQUESTS] [CONCURRENCY]"""
import concurrent.futures
import hashlib
import http.client
import json
import re
import signal
import socket
import subprocess
import sys
import threading
import time

TIMEOUT_S = 120


def start(vnetsim):
    p = subprocess.Popen([vnetsim, "run", "--json", "--hostfwd", "tcp:127.0.0.1:0-:8023",
                          "--hostfwd", "tcp:127.0.0.1:0-:80"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ports = {}
    while len(ports) < 2:
        line = p.stderr.readline()
        if not line:
            sys.exit("vnetsim run ended before forwarding: " + p.stderr.read())
        m = re.search(r"forwarding tcp 127\.0\.0\.1:(\d+) -> guest :(\d+)", line)
        if m:
            ports[int(m.group(2))] = int(m.group(1))
    # the rest of stderr is drained so the run never blocks on it
    threading.Thread(target=p.stderr.read, daemon=True).start()
    return p, ports[8023], ports[80]


def echo_one(port, i, size):
    data = (hashlib.sha256(b"%d" % i).digest() * (size // 32 + 1))[:size]
    got = bytearray()
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_S) as s:
        def read():
            while True:
                chunk = s.recv(1 << 16)
                if not chunk:
                    return
                got.extend(chunk)
        reader = threading.Thread(target=read)
        reader.start()
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        reader.join(TIMEOUT_S)
    if bytes(got) != data:
        raise RuntimeError("connection %d: %d of %d bytes echoed right" % (i, len(got), size))


def http_one(port, _):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT_S)
    c.request("GET", "/")
    r = c.getresponse()
    body = r.read()
    c.close()
    if r.status != 200 or len(body) != int(r.getheader("Content-Length", "-1")):
        raise RuntimeError("HTTP %d with %d bytes" % (r.status, len(body)))


def load(fn, port, n, workers, *args):
    failures = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as ex:
        futures = [ex.submit(fn, port, i, *args) for i in range(n)]
        for f in futures:
            try:
                f.result()
            except Exception as e:  # noqa: BLE001: every failure is reported
                failures.append(repr(e))
    return failures


def bench_live(vnetsim):
    """bench --live's figures: both echoes and both request rates measured,
    every request answered (the command fails otherwise), ratios of the
    medians as printed."""
    requests, conc = 300, 20
    r = subprocess.run([vnetsim, "bench", "--live", "--tcp-bytes", "1000000", "--rounds", "1",
                        "--requests", str(requests), "--concurrency", str(conc), "--json"],
                       capture_output=True, text=True, timeout=TIMEOUT_S)
    if r.returncode != 0:
        print("bench --live: exit %d: %s" % (r.returncode, r.stderr.strip()))
        return False
    live = json.loads(r.stdout)["live"]
    http = live["http"]
    print("bench --live: echo %.1f against %.1f MB/s, HTTP %.0f against %.0f requests/s" %
          (live["through_slirp_mb_s"], live["loopback_mb_s"], http["through_slirp_req_s"],
           http["loopback_req_s"]))
    return (http["requests"] == requests and http["concurrency"] == conc
            and http["response_bytes"] > 0 and http["through_slirp_req_s"] > 0
            and http["loopback_req_s"] > 0
            and abs(http["ratio"] * http["loopback_req_s"] - http["through_slirp_req_s"])
            <= 0.01 * http["through_slirp_req_s"] + 1)


def main(argv):
    vnetsim = argv[0]
    conns, size, requests, conc = (int(x) for x in (argv[1:] + ["200", "1000000", "5000", "50"][len(argv) - 1:]))
    p, echo_port, http_port = start(vnetsim)
    t0 = time.monotonic()
    echo_fail = load(echo_one, echo_port, conns, conns, size)
    t1 = time.monotonic()
    http_fail = load(http_one, http_port, requests, conc)
    t2 = time.monotonic()
    p.send_signal(signal.SIGINT)
    out, _ = p.communicate(timeout=TIMEOUT_S)
    summary = json.loads(out)
    print("echo: %d connections x %d bytes, %d failed, %.1f MB/s each way" %
          (conns, size, len(echo_fail), conns * size / (t1 - t0) / 1e6))
    print("http: %d requests at concurrency %d, %d failed, %.0f requests/s" %
          (requests, conc, len(http_fail), requests / (t2 - t1)))
    for f in (echo_fail + http_fail)[:5]:
        print("  failure: " + f)
    checks = {
        "rx_no_buffer": summary["fates"]["rx_no_buffer"],
        "socket_full": summary["fates"]["socket_full"],
        "tx_ring_full": summary["tx_fates"]["tx_ring_full"],
    }
    print("run: exit %d, %d frames in, %d out; %s; all accounted: %s/%s" %
          (p.returncode, summary["frames_in"], summary["frames_out"],
           ", ".join("%s %d" % kv for kv in checks.items()),
           summary["fates_accounted"], summary["tx_fates_accounted"]))
    ok = (not echo_fail and not http_fail and p.returncode == 0 and not any(checks.values())
          and summary["fates_accounted"] and summary["tx_fates_accounted"])
    ok = bench_live(vnetsim) and ok
    print("live load: " + ("passed" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
