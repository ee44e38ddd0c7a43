"""Bad command lines, and outputs that cannot be written: every numeric
option of every command with every malformed or out-of-range number, bad
addresses, conflicting options, clashing paths, and full or missing
output places."""

import os
import socket
import subprocess

import capgen as g
from harness import Result, need

# `run` must never get as far as listening anywhere but loopback, nor for
# long: every run call ends with these (a forward on a port the kernel
# picks, and one second), so even an option wrongly accepted ends at once.
RUN_SAFE = ["--hostfwd", "tcp:127.0.0.1:0-:8023", "--duration-s", "1"]

# Malformed whatever the range: signs, spaces, prefixes, fractions,
# exponents, overflow, nothing. Every option goes through one parser
# (cli_parse_uint): all of these on one option, a sample on the others, a
# smaller one where the option itself is shared by every simulating command.
MALFORMED = ["-1", "+1", " 1", "1 ", "0x10", "0X10", "1e3", "1.5", "", "1_000", "\u0661",
             "18446744073709551616", "99999999999999999999999999"]
SAMPLE = ["-1", "+1", " 1", "0x10", "1.5", "", "18446744073709551616"]
SHARED_SAMPLE = ["-1", "0x10"]

# command prefix (complete but for the option), option, (lowest, highest)
# allowed; None where any 64-bit number is allowed
SIM_NUMERIC = [("--seed", None), ("--qsize", (2, 32768)), ("--guest-poll-ms", (0, 3600000)),
               ("--backlog", (0, 65536))]
COMMANDS = {
    "demo": ["demo"],
    "replay": ["replay", "in.pcap"],
    "explore": ["explore", "--bug", "rx-no-recycle", "--seeds", "1..2", "--bursts", "1"],
    "story": ["story"],
    "run": ["run"],
}
NUMERIC = [(cmd, opt, rng) for cmd in COMMANDS for opt, rng in SIM_NUMERIC
           if not (cmd == "explore" and opt == "--seed")] + [
    ("demo", "--pings", (1, 64)),
    ("demo", "--interval-us", (1, 10000000)),
    ("demo", "--ping-size", (0, 8972)),
    ("demo", "--mtu", (68, 9000)),
    ("demo", "--rx-buf-size", (13, 65536)),
    ("demo", "--max-conns", (1, 65536)),
    ("replay", "--max-conns", (1, 65536)),
    ("replay", "--max-frames", (1, 1000000000)),
    ("explore", "--bursts", (1, 10000)),
    ("explore", "--jobs", (1, 1024)),
    ("teach", "--qsize", (2, 64)),
    ("teach", "--frames", (1, 64)),
    ("teach", "--burst", (1, 8)),
    ("teach", "--seed", None),
    ("teach", "--mtu", (68, 9000)),
    ("teach", "--rx-buf-size", (13, 65536)),
    ("bench", "--frames", (1000, 100000000)),
    ("bench", "--rounds", (1, 99)),
    ("bench", "--tcp-bytes", (4096, 1 << 30)),
    ("bench", "--requests", (0, 1000000)),
    ("bench", "--concurrency", (1, 256)),
    ("run", "--duration-s", (1, 86400 * 365)),
]
COMMANDS.update({"teach": ["teach", "--no-pause"], "bench": ["bench"]})


def call(cmd, *args):
    return COMMANDS[cmd] + list(args) + (RUN_SAFE if cmd == "run" else [])


def bad_call(h, args, names=(), code=2):
    r = h.run(args)
    h.refused(r, code, names=names)


def numbers(h, cmd, opt, rng):
    shared = opt in dict(SIM_NUMERIC)
    values = list(MALFORMED if (cmd, opt) == ("demo", "--seed") else
                  SHARED_SAMPLE if shared and cmd != "demo" else SAMPLE)
    if rng:
        lo, hi = rng
        if lo > 0:
            values.append(str(lo - 1))
        values.append(str(hi + 1))
    h.each(values, lambda v: h.refused(h.run(call(cmd, opt, v)), 2, names=(opt,)), True)


BAD_LISTS = {
    "--latency": ["kick=-1", "kick=+5", "kick= 5", "kick=0x10", "kick=1e3", "kick=5-1", "kick=1-",
                  "kick=-", "kick=1000000000001", "kick=18446744073709551616", "batch=0",
                  "batch=4294967296", "memory=5-6", "kick", "=5", "kick=5,,irq=3", ",", "kick=5,"],
    "--fault": ["drop=-0.1", "drop=1.01", "drop=nan", "drop=inf", "drop=", "drop=0x0.8",
                "drop=+0.5", "drop= 0.5", "drop=0.5 ", "drop=-0", "mtu=-1", "mtu=+1500",
                "mtu=0x5dc", "mtu= 1500", "delay_us=18446744073709551616", "dir=up",
                "drop=0.1,,dup=0.1", "drop", ","],
    "--seeds": ["2..1", "1..100001", "-1..2", "+1..2", "1..+2", " 1..2", "1.. 2", "0x1..2", "1..",
                "..2", "1...2", "1..18446744073709551616", "18446744073709551615..0", ""],
    "--shard": ["0/2", "3/2", "1/0", "-1/2", "+1/2", "1/+2", "1/100001", "1", "/2", "1/", " 1/2",
                "0x1/2", "1/2/3"],
}
EXPLORE = ["explore", "--bug", "rx-no-recycle", "--bursts", "1"]


def numbers_in_list(h, opt):
    """Numbers inside --latency, --fault, --seeds and --shard."""
    base = {"--latency": ["demo"], "--fault": ["demo"], "--seeds": EXPLORE,
            "--shard": EXPLORE + ["--seeds", "1..4"]}[opt]
    h.each(BAD_LISTS[opt], lambda v: bad_call(h, base + [opt, v], [opt]), True)


BAD_IPS = ["10.0.2", "10.0.2.15.1", "256.0.0.1", "10.0.2.1000", "-10.0.2.15", "+10.0.2.15",
           " 10.0.2.15", "10.0.2.15 ", "0x0a.0.2.15", "10..2.15", "", "a.b.c.d", "10.0.2.2",
           "10.0.2.3", "224.0.0.1", "239.255.255.250", "255.255.255.255", "0.0.0.0", "127.0.0.1",
           "10.0.2.0", "10.0.2.255", "10.0.2.15\n", "10.0.2.\r15"]
BAD_MACS = ["52:54:00:12:34", "52:54:00:12:34:56:78", "52:54:00:12:34:5g", "525400123456",
            "52-54-00-12-34-56", "52:54:00:12:34:567", " 52:54:00:12:34:56", "+2:54:00:12:34:56",
            "52:54:00:12:34:56 ", "", "01:00:5e:00:00:01", "ff:ff:ff:ff:ff:ff", "52:54::12:34:56",
            "52:54:00:12:34:56\n"]


def addresses(h, cmd, opt):
    # one parser for every command: all of them on demo, a sample on the others
    values = BAD_IPS if opt == "--guest-ip" else BAD_MACS
    if cmd != "demo":
        values = [values[5], values[-1]]
    h.each(values, lambda v: bad_call(h, call(cmd, opt, v), [opt]), True)


def hostfwd(h):
    """Only loopback host addresses: a spec wrongly accepted binds 127.0.0.1."""
    h.each(["tcp:+127.0.0.1:0-:8023", "tcp: 127.0.0.1:0-:8023", "tcp:127.0.0.1:-1-:8023",
              "tcp:127.0.0.1:+0-:8023", "tcp:127.0.0.1:65536-:8023", "tcp:127.0.0.1:0-:0",
              "tcp:127.0.0.1:0-:65536", "tcp:127.0.0.1:0-:+8023", "tcp:127.0.0.1:0- :8023",
              "tcp:127.0.0.1:0-+10.0.2.15:8023", "tcp:127.0.0.1:0- 10.0.2.15:8023",
              "tcp:127.0.0.1:0-10.0.2.15 :8023", "tcp:127.0.0.1:0-0x0a.0.2.15:8023",
              "sctp:127.0.0.1:0-:8023", "tcp:127.0.0.1", "tcp:127.0.0.1:0-:8023-",
              "tcp:127.0.0.1:0x10-:8023", ""],
           lambda v: bad_call(h, ["run", "--hostfwd", v, "--duration-s", "1"], ["--hostfwd"]),
           True)


def guest_actions(h):
    """Every action here is refused before the run starts: none may send
    anything (a name that parsed would be resolved by the host's resolver)."""
    h.each(["", "fetch http://10.0.2.2/", "get", "get https://10.0.2.2/", "get http://",
            "get http://10.0.2.2:0/", "get http://10.0.2.2:65536/", "get http://u@10.0.2.2/",
            "get http://[::1]/", "get http://10.0.2.2/a b", "get http://bad_host!/",
            "get ftp://10.0.2.2/", "resolve", "resolve a..b", "resolve " + "a" * 64 + ".test",
            "resolve " + "a." * 130 + "test", "tcp", "tcp 10.0.2.2", "tcp 10.0.2.2:0 x",
            "tcp 10.0.2.256:80 x", "tcp +10.0.2.2:80 x", "tcp 10.0.2.2:80 \\q",
            "tcp 10.0.2.2:80 \\x4", "udp 10.0.2.2:53", "udp 0.0.0.0:53 x", "tcp 10.0.2.2:-1 x",
            "get http://10.0.2.2/" + "p" * 1100, "GET http://10.0.2.2/"],
           lambda v: bad_call(h, ["run", "--guest", v] + RUN_SAFE, ["--guest"]), True)
    bad_call(h, ["run", "--guest-out", "x.out"] + RUN_SAFE, ["--guest-out"])
    bad_call(h, ["run", "--guest", "udp 10.0.2.2:7 x", "--guest-out", "x.out"] + RUN_SAFE,
             ["--guest-out"])
    bad_call(h, ["run"] + ["--guest", "bogus"] * 33 + RUN_SAFE, ["--guest"])


def conflicts(h):
    h.write("in.pcap", g.pcap(g.guest_frames(2)))
    calls = [
        (["replay", "in.pcap", "--compare", "redox", "--html", "x.html"], "--compare"),
        (["replay", "in.pcap", "--compare", "redox", "--check"], "--compare"),
        (["replay", "in.pcap", "--compare", "redox", "-o", "x.pcap"], "--compare"),
        (["replay", "in.pcap", "--compare", "redox", "--trace", "x.jsonl"], "--compare"),
        (["replay", "in.pcap", "--compare", "redox", "--bug", "redox"], "--compare"),
        (["replay", "in.pcap", "--bug", "drv-mrg-first-only"], "--mergeable"),
        (["teach", "--bug", "drv-mrg-first-only", "--no-pause"], "--mergeable"),
        (["teach", "--mergeable", "--qsize", "2", "--no-pause"], "--rx-buf-size"),
        (["demo", "--ping-size", "1473"], "--mtu"),
        (["replay", "in.pcap", "--ring", "packed", "--bug", "used-slot-mod-256"], "split ring"),
        (["replay", "in.pcap", "in.pcap"], "unexpected argument"),
        (["replay", "in.pcap", "-o"], "-o"),
        (["explore", "--bug", "rx-no-recycle", "--seeds", "1..2", "--seed", "3"], "--seed"),
        (["explore", "--seeds", "1..2"], "--bug"),
        (["rules", "--json", "--markdown"], "--json"),
        (["bench", "--live", "--frames", "5000"], "--live"),
        (["run", "--backend", "tap", "--tap", "vtap-none", "--guest-ip", "172.16.0.1"],
         "host's own address"),
        (["run", "--backend", "tap"], "--tap"),
        (["run", "--tap", "vtap-none"], "--backend"),
        (["run", "--backend", "tap", "--tap", "vtap-none", "--hostfwd", "tcp::0-:8023"],
         "--hostfwd"),
        (["demo", "--memory", "strong"], "--memory"),
        (["demo", "--ring", "circular"], "--ring"),
        (["demo", "--bug", "redox,nonsense"], "nonsense"),
        (["demo", "--seed"], "--seed"),
        (["no\nsuch"], "unknown command"),
        # a bug that needs a weaker memory model gets a note, but not beside an error
        (["demo", "--bug", "avail-idx-no-wmb", "--guest-ip", "10.0.2.2"], "host's own address"),
        (["demo", "--bug", "avail-idx-no-wmb", "--ring", "packed"], "split ring"),
        (["demo", "--bogus\nline"], "--bogus"),
        (["demo", "--seed=1=2"], "--seed"),
    ]
    h.each(calls, lambda c: bad_call(h, c[0] + (RUN_SAFE[2:] if c[0][0] == "run" else []), [c[1]]),
           True)


def cli_group(h):
    h.write("in.pcap", g.pcap(g.guest_frames(2)))
    for cmd, opt, rng in NUMERIC:
        h.case("cli: %s %s" % (cmd, opt), numbers, h, cmd, opt, rng)
    for opt in BAD_LISTS:
        h.case("cli: numbers inside %s" % opt, numbers_in_list, h, opt)
    for cmd in ("demo", "replay", "run", "story"):
        for opt in ("--guest-ip", "--guest-mac"):
            h.case("cli: %s %s" % (cmd, opt), addresses, h, cmd, opt)
    h.case("cli: run --hostfwd", hostfwd, h)
    h.case("cli: run --guest", guest_actions, h)
    h.case("cli: conflicting options", conflicts, h)


# --- outputs -------------------------------------------------------------------

REPLAY_OUTS = (("-o", "keep.pcap"), ("--trace", "keep.jsonl"), ("--html", "keep.html"))


def fails_untouched(h, args, code, names, keep=("keep.pcap", "keep.jsonl", "keep.html")):
    untouched = h.keep_files(list(keep))
    r = h.run(args)
    h.refused(r, code, names=names)
    untouched(r)
    return r


def same_paths(h):
    base = ["replay", "in.pcap"]
    for i, (a, pa) in enumerate(REPLAY_OUTS):
        for b, _ in REPLAY_OUTS[i + 1:]:
            fails_untouched(h, base + [a, pa, b, pa], 2, ["same file", a, b])
    fails_untouched(h, ["teach", "--no-pause", "--html", "keep.html", "--trace", "keep.html"], 2,
                    ["same file"])
    for a, b in (("--pcap", "--record"), ("--pcap", "--trace"), ("--record", "--trace")):
        fails_untouched(h, ["run", a, "keep.pcap", b, "keep.pcap"] + RUN_SAFE, 2, ["same file"])
    fails_untouched(h, ["run", "--pcap", "keep.pcap", "--record", "./keep.pcap"] + RUN_SAFE, 2,
                    ["same file"])


def output_is_input(h):
    data = g.pcap(g.guest_frames(2))
    h.write("in.pcap", data)
    os.symlink("in.pcap", h.path("in-link.pcap"))
    os.link(h.path("in.pcap"), h.path("in-hard.pcap"))
    for opt in ("-o", "--trace", "--html"):
        for out in ("in.pcap", "./in.pcap", h.path("in.pcap"), "in-link.pcap", "in-hard.pcap"):
            r = h.run(["replay", "in.pcap", opt, out])
            h.refused(r, 2, names=("same file",))
            with open(h.path("in.pcap"), "rb") as f:
                need(f.read() == data, "%s: the input changed" % r)


def to_stdout(h):
    h.write("in.pcap", g.pcap(g.guest_frames(3)))
    out = h.path("stdout.pcap")
    r = h.run(["replay", "in.pcap", "-o", "-"], stdout_file=out)
    need(r.rc == 0, "%s: expected exit 0" % r)
    need("wrote 3 guest frames to -" in r.err, "%s: the report is not on stderr" % r)
    with open(out, "rb") as f:
        need(f.read(4) == b"\x4d\x3c\xb2\xa1", "%s: stdout does not start a pcap file" % r)
    why = h.pcap_readable(out, 3)
    r = h.run(["replay", "in.pcap", "-o", "-", "--json"], stdout_file=out)
    need(r.rc == 0, "%s: expected exit 0" % r)
    r.out, r.err = r.err, ""
    h.ledger(r, 3, {"answered": 3})
    h.pcap_readable(out, 3)
    for other in ("--trace", "--html"):
        fails_untouched(h, ["replay", "in.pcap", "-o", "-", other, "-"], 2, ["-o", other],
                        keep=())
    # standard output by another name is standard output too
    for name in ("/dev/stdout", "/dev/fd/1", "/proc/self/fd/1"):
        r = h.run(["replay", "in.pcap", "-o", name], stdout_file=out)
        need(r.rc == 0 and "wrote 3 guest frames" in r.err, "%s: the report is not on stderr" % r)
        h.pcap_readable(out, 3)
        r = h.run(["demo", "--pings", "1", "--trace", name])
        need(r.rc == 0 and r.out.startswith("{") and "pings answered" not in r.out,
             "%s: stdout is not the trace alone" % r)
    return why


def to_full(h):
    """/dev/full under each output, and under the report: exit 1, one line."""
    h.write("in.pcap", g.pcap(g.guest_frames(3)))
    for opt, names in (("-o", ["-o", "/dev/full"]), ("--trace", ["--trace", "/dev/full"]),
                       ("--html", ["--html", "/dev/full"])):
        for extra in ([], ["--json"]):
            fails_untouched(h, ["replay", "in.pcap", opt, "/dev/full"] + extra, 1, names,
                            keep=())
    with open("/dev/full", "wb") as full:
        for args in (["replay", "in.pcap", "--json"], ["teach", "--no-pause"],
                     ["explore", "--bug", "rx-no-recycle", "--seeds", "1..2", "--bursts", "1"]):
            r = run_to(h, args, full)
            h.refused(r, 1, names=("writing",))
        # the report is on stderr then, beside the one error line
        r = run_to(h, ["replay", "in.pcap", "-o", "-"], full)
        need(r.rc == 1 and r.err.count("vnetsim replay: -o: writing '-' failed\n") == 1,
             "%s: expected exit 1 and the error once" % r)
    fails_untouched(h, ["teach", "--no-pause", "--html", "/dev/full"], 1, ["--html"], keep=())
    fails_untouched(h, ["teach", "--no-pause", "--trace", "/dev/full"], 1, ["--trace"], keep=())
    fails_untouched(h, ["run", "--pcap", "/dev/full"] + RUN_SAFE, 1, ["--pcap"], keep=())


def run_to(h, args, stdout):
    p = subprocess.run([h.vnetsim] + args, cwd=h.dir, stdin=subprocess.DEVNULL, stdout=stdout,
                       stderr=subprocess.PIPE, timeout=h.timeout)
    r = Result(args, p.returncode, "", p.stderr.decode(errors="replace"))
    need(r.rc >= 0, "%s: killed by signal %d" % (r, -r.rc))
    return r


def missing_places(h):
    h.write("in.pcap", g.pcap(g.guest_frames(2)))
    os.mkdir(h.path("adir"))
    calls = []
    for target, why in (("no/such/dir/out", "No such file"), ("adir", "directory"),
                        ("adir/", "directory"), ("", "empty")):
        for opt in ("-o", "--trace", "--html"):
            # beside one output that could be written, which must stay as it was
            other = ["--trace", "keep.jsonl"] if opt == "-o" else ["-o", "keep.pcap"]
            calls.append((["replay", "in.pcap", opt, target] + other, opt, why))
        for opt in ("--html", "--trace"):
            calls.append((["teach", "--no-pause", opt, target], opt, why))
        for opt in ("--pcap", "--record", "--trace"):
            calls.append((["run", opt, target] + RUN_SAFE, opt, why))
    h.each(calls, lambda c: fails_untouched(h, c[0], 2, [c[1], c[2]],
                                            keep=("keep.pcap", "keep.jsonl")))


def run_outputs_first(h):
    """run checks its outputs before it listens: a port already taken does
    not hide the output's own problem."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        for opt in ("--pcap", "--record"):
            fails_untouched(h, ["run", "--hostfwd", "tcp:127.0.0.1:%d-:8023" % port, opt,
                                "no/such/dir/x.pcap", "--duration-s", "1"], 2,
                            [opt, "No such file"], keep=())


def outputs_group(h):
    h.write("in.pcap", g.pcap(g.guest_frames(2)))
    h.case("outputs: the same path for two outputs", same_paths, h)
    h.case("outputs: an output on the input", output_is_input, h)
    h.case("outputs: -o - is a pcap on stdout", to_stdout, h)
    h.case("outputs: /dev/full", to_full, h)
    h.case("outputs: a missing directory, a directory, an empty name", missing_places, h)
    h.case("outputs: run checks its outputs before it listens", run_outputs_first, h)
