#!/usr/bin/env python3
"""The README's table of the public captures, as `vnetsim replay` replays
them with its defaults: frames, the host the guest stands in for and why,
the fates, and the TCP conversations the host played the client of. The table is made, never typed: --check fails when the
README's copy differs from what the command prints now.

    captures-table.py VNETSIM CAPTURES_DIR [--check README | --update README]

Without --check or --update it prints the table."""

import json
import os
import subprocess
import sys

BEGIN = "<!-- captures table: scripts/captures-table.py makes it, a test checks it -->"
END = "<!-- end of captures table -->"
SUCCESS = ("answered", "delivered")


def replay(vnetsim, path):
    p = subprocess.run([vnetsim, "replay", "--json", path], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, timeout=120)
    if p.returncode != 0:
        return None, p.returncode, p.stderr.decode(errors="replace").strip()
    return json.loads(p.stdout), 0, ""


def stands_in(j):
    a = j.get("as")
    if not a:
        return "the guest itself (the capture addresses it)"
    if a["why"] == "none":
        return "nobody: no unicast IPv4 destination"
    why = {"tcp_server": "TCP server: SYN-ACKs %d" % a["syn_acks"],
           "tcp_server_loopback": "loopback TCP server: SYN-ACKs %d; the guest keeps its address"
           % a["syn_acks"],
           "busiest_destination": "requests %d, frames %d" % (a["requests_to"], a["frames_to"]),
           "given": "given"}[a["why"]]
    return "%s (%s)" % (a["ip"], why)


def conversations(j):
    convs = j.get("conversations", [])
    if not convs:
        return "none"
    est = sum(1 for c in convs if c["state"] == "established")
    notes = []
    for c in convs:
        if c["stopped"]:
            notes.append("stopped: %s" % c["stopped"]["reason"])
        elif c["state"] != "established":
            notes.append(c["state"])
    text = "%d of %d established" % (est, len(convs))
    return text + ("; " + ", ".join(sorted(set(notes))) if notes else "")


def row(vnetsim, directory, name):
    j, rc, err = replay(vnetsim, os.path.join(directory, name))
    if j is None:
        return "| `%s` | exit %d: %s | | | | | |" % (name, rc, err)
    fates = j["fates"]
    other = sorted(((n, f) for f, n in fates.items() if n and f not in SUCCESS),
                   key=lambda x: (-x[0], x[1]))
    others = ", ".join("%s %d" % (f, n) for n, f in other) or "none"
    return "| `%s` | %d | %s | %d | %d | %s | %s |" % (name, len(j["frames"]), stands_in(j),
                                                     fates["answered"], fates["delivered"],
                                                     others, conversations(j))


def table(vnetsim, directory):
    names = sorted(n for n in os.listdir(directory) if n.endswith((".pcap", ".pcapng")))
    lines = ["| capture | frames | the guest stands in for | answered | delivered | other fates "
             "| TCP conversations played |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    lines += [row(vnetsim, directory, n) for n in names]
    return "\n".join(lines) + "\n"


def readme_parts(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        sys.exit("%s: no table between '%s' and '%s'" % (path, BEGIN, END))
    start += len(BEGIN) + 1
    return text[:start], text[start:end], text[end:]


def main(argv):
    if len(argv) not in (3, 5) or (len(argv) == 5 and argv[3] not in ("--check", "--update")):
        sys.exit(__doc__)
    made = table(argv[1], argv[2])
    if len(argv) == 3:
        sys.stdout.write(made)
        return 0
    before, current, after = readme_parts(argv[4])
    if argv[3] == "--update":
        with open(argv[4] + ".tmp", "w", encoding="utf-8") as f:
            f.write(before + made + after)
        os.replace(argv[4] + ".tmp", argv[4])
        return 0
    if current == made:
        print("captures table: the README's matches what vnetsim replay prints")
        return 0
    print("captures table: the README's differs from what vnetsim replay prints now; "
          "run scripts/captures-table.py VNETSIM CAPTURES --update README.md")
    for old, new in zip(current.splitlines(), made.splitlines()):
        if old != new:
            print("  README: " + old + "\n  now:    " + new)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
