#!/usr/bin/env python3
"""Recomputes a run's trace hash from its --trace file (JSON lines).

Usage: scripts/trace-hash.py TRACE.jsonl          prints the hash, 16 hex digits
       scripts/trace-hash.py --check VNETSIM DIR  runs VNETSIM's commands with
           --trace into DIR and exits 1 unless each printed trace_hash equals
           the hash recomputed here from the trace it wrote

The definition is the one in include/vnetsim/trace.h; this is a second,
independent reading of it, from the text a user sees."""
import json
import os
import subprocess
import sys

MASK = (1 << 64) - 1
BASIS = 0xCBF29CE484222325
MULT = 0x9E3779B97F4A7C15
INT_FIELDS = ("head", "idx", "len", "frame")


def mix(x, w):
    y = ((x ^ w) * MULT) & MASK
    return y ^ (y >> 32)


def text(s):
    if s is None:
        return 0
    b = s.encode()
    x = BASIS
    for at in range(0, len(b), 8):
        x = mix(x, int.from_bytes(b[at:at + 8].ljust(8, b"\0"), "little"))
    return mix(x, len(b))


def event_hash(h, ev):
    names = BASIS
    for w in (ev["t"], text(ev["actor"]), text(ev["ev"]), text(ev.get("q"))):
        names = mix(names, w)
    fields = BASIS
    for key in INT_FIELDS:
        fields = mix(fields, ev.get(key, -1) & MASK)
    fields = mix(fields, text(ev.get("detail")))
    return mix(mix(h, names), fields)


def trace_hash(path):
    h = BASIS
    with open(path, encoding="utf-8") as f:
        for line in f:
            h = event_hash(h, json.loads(line))
    return "%016x" % h


# Runs that between them emit every kind of event: rings of both formats,
# a memory model's stores and barriers, link faults, fates of many kinds,
# mergeable buffers, the public captures' frames.
def check_runs(captures):
    runs = [["demo"], ["demo", "--ring", "packed", "--memory", "tso"],
            ["demo", "--memory", "weak"], ["demo", "--fault", "drop=0.2,dup=0.1"],
            ["demo", "--bug", "redox"], ["demo", "--mergeable", "--mtu", "4000"]]
    for name in sorted(os.listdir(captures)) if captures else []:
        if name.endswith((".pcap", ".pcapng")):
            runs.append(["replay", os.path.join(captures, name), "-o", os.devnull])
    return runs


def check(vnetsim, tmpdir, captures):
    failed = 0
    for i, args in enumerate(check_runs(captures)):
        path = os.path.join(tmpdir, "trace-%d.jsonl" % i)
        out = subprocess.run([vnetsim, *args, "--json", "--trace", path],
                             stdout=subprocess.PIPE, check=False)
        printed = json.loads(out.stdout)["trace_hash"] if out.returncode in (0, 1) else None
        got = trace_hash(path) if printed else None
        ok = printed is not None and got == printed
        failed += not ok
        print("%s %s: printed %s, recomputed %s" % ("ok  " if ok else "FAIL", " ".join(args),
                                                     printed, got))
    print("%d of %d runs' trace hashes recomputed from their traces" %
          (len(check_runs(captures)) - failed, len(check_runs(captures))))
    return 1 if failed else 0


def main(argv):
    if len(argv) >= 3 and argv[0] == "--check":
        return check(argv[1], argv[2], argv[3] if len(argv) > 3 else None)
    if len(argv) != 1 or argv[0].startswith("-"):
        sys.stderr.write(__doc__)
        return 2
    print(trace_hash(argv[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
