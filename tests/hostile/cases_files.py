"""Inputs that are not plain files, or not readable: devices, a FIFO, a
directory, a symlink loop, a file without read permission, standard input,
and a sparse 2 GB file. Each must end, quickly, in a verdict."""

import os
import shutil
import subprocess
import threading
import time

import capgen as g
from cases_pcap import OUTS
from harness import Failure, need


def refused_path(h, path, names=(), extra=()):
    """Like cases_pcap.refused, for a path the test did not write."""
    untouched = h.keep_files(OUTS)
    r = h.run(["replay", path, "-o", OUTS[0], "--trace", OUTS[1], "--html", OUTS[2]] + list(extra))
    h.refused(r, 2, names=(path,) + tuple(names), once=(path,))
    untouched(r)


def fifo(h):
    """A writer sends a small capture through a FIFO, then closes it."""
    path = h.path("in.fifo")
    os.mkfifo(path)
    data = g.pcap(g.guest_frames(3))

    def writer():
        with open(path, "wb") as f:  # blocks until the reader opens it
            f.write(data[:30])
            f.flush()
            time.sleep(0.05)  # the reader meets a short read, then the rest
            f.write(data[30:])

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    r = h.run(["replay", "in.fifo", "--json", "-o", "fifo.out.pcap"])
    t.join(5)
    need(not t.is_alive(), "the FIFO's writer never finished")
    need(r.rc == 0, "%s: expected exit 0" % r)
    h.ledger(r, 3, {"answered": 3})
    return h.pcap_readable(h.path("fifo.out.pcap"), 3)


def fifo_writer_gone(h):
    """The writer opens the FIFO and closes it without a byte."""
    path = h.path("empty.fifo")
    os.mkfifo(path)
    t = threading.Thread(target=lambda: open(path, "wb").close(), daemon=True)
    t.start()
    refused_path(h, "empty.fifo", ["truncated"])
    t.join(5)


def stdin_capture(h):
    data = g.pcap(g.guest_frames(3))
    h.write("stdin.pcap", data)
    with open(h.path("stdin.pcap"), "rb") as f:
        r = h.run(["replay", "-", "--json"], stdin=f)
    need(r.rc == 0, "%s: expected exit 0" % r)
    h.ledger(r, 3, {"answered": 3})
    with open(h.path("stdin.pcap"), "rb") as f:
        f.seek(5)
        r = h.run(["replay", "-"], stdin=f)
    h.refused(r, 2, names=("-:",))


def endless_pipe(h):
    """A valid header, then zeros for ever: --max-frames bounds the read."""
    h.write("hdr.pcap", g.pcap_header())
    feed = subprocess.Popen(["cat", h.path("hdr.pcap"), "/dev/zero"], stdout=subprocess.PIPE)
    try:
        r = h.run(["replay", "-", "--json", "--max-frames", "1000"], stdin=feed.stdout)
    finally:
        feed.stdout.close()
        feed.kill()
        feed.wait()
    need(r.rc == 0, "%s: expected exit 0" % r)
    j = h.ledger(r, 1000)
    need(j.get("stopped_at_max_frames") is True, "%s: does not say it stopped" % r)


def unreadable(h):
    sub = h.path("locked")
    os.mkdir(sub)
    os.chmod(sub, 0o755)
    path = os.path.join(sub, "secret.pcap")
    with open(path, "wb") as f:
        f.write(g.pcap(g.guest_frames(2)))
    os.chmod(path, 0)
    if os.geteuid() != 0:
        return refused_path(h, path, ["Permission denied"])
    # root reads any file: the check needs another user
    setpriv = shutil.which("setpriv")
    if not setpriv:
        return "running as root, which reads any file, and no setpriv to drop to another user"
    # the work directory is private to its owner
    os.chmod(h.dir, 0o755)
    p = subprocess.run([setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", h.vnetsim,
                        "replay", path], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       stdin=subprocess.DEVNULL, timeout=h.timeout)
    err = p.stderr.decode(errors="replace")
    if p.returncode == 126 or "vnetsim" not in err:
        return "running as root, and user 65534 cannot run %s: %s" % (h.vnetsim, err.strip())
    need(p.returncode == 2 and len(err.splitlines()) == 1 and "Permission denied" in err and
         err.count(path) == 1, "as user 65534: exit %d, stderr %r" % (p.returncode, err))


SPARSE_SIZE = 2 << 30
SPARSE_NEEDS = 4 << 30


def sparse(h):
    """2 GB of zeros after a valid header: records of no bytes at time 0.
    --max-frames must end the read at once, whatever the file's size."""
    free = shutil.disk_usage(h.dir).free
    if free < SPARSE_NEEDS:
        return "only %d MB free beside the work directory, the sparse 2 GB file wants 4 GB" % (
            free >> 20)
    path = h.write("sparse.pcap", g.pcap_header())
    os.truncate(path, SPARSE_SIZE)
    t0 = time.monotonic()
    r = h.run(["replay", "sparse.pcap", "--json", "--max-frames", "5000"])
    took = time.monotonic() - t0
    need(r.rc == 0, "%s: expected exit 0" % r)
    j = h.ledger(r, 5000)
    need(j.get("stopped_at_max_frames") is True, "%s: does not say it stopped" % r)
    need(took < h.timeout / 2, "5000 frames of a sparse file took %.1f s" % took)
    os.unlink(path)


def peak_rss_kb(h, args):
    """Runs vnetsim ARGS with stdout to a file; its exit status and peak RSS."""
    # a sanitized build would hold every freed block in its quarantine
    env = dict(os.environ)
    env["ASAN_OPTIONS"] = ":".join(x for x in (env.get("ASAN_OPTIONS"), "quarantine_size_mb=0") if x)
    with open(h.path("peak.out"), "wb") as out:
        p = subprocess.Popen([h.vnetsim] + args, cwd=h.dir, stdin=subprocess.DEVNULL, stdout=out,
                             stderr=subprocess.DEVNULL, env=env)
        t0 = time.monotonic()
        while True:
            pid, status, usage = os.wait4(p.pid, os.WNOHANG)
            if pid:
                p.returncode = os.waitstatus_to_exitcode(status)
                return p.returncode, usage.ru_maxrss
            if time.monotonic() - t0 > h.timeout:
                p.kill()
                p.wait()
                raise Failure("vnetsim %s did not end within %s s" % (" ".join(args), h.timeout))
            time.sleep(0.02)


def zeros_whole(h):
    """Zeroed records read whole, without --max-frames: records of no bytes,
    all at time 0. Memory must not grow with them: 5 times the records,
    not 5 times the memory (the frames leave 8 a nanosecond, each forgotten
    once its fate is reported; past the first 160,000 or so, which fill
    the link's 20 us of latency, nothing more is held)."""
    peaks = []
    for n in (200000, 1000000):
        path = h.write("zeros.pcap", g.pcap_header())
        os.truncate(path, len(g.pcap_header()) + 16 * n)
        rc, kb = peak_rss_kb(h, ["replay", "zeros.pcap"])
        need(rc == 0, "replay of %d zeroed records: exit %d" % (n, rc))
        with open(h.path("peak.out"), encoding="utf-8") as f:
            report = f.read()
        need("fates of %d frames host->guest (all accounted: yes)" % n in report and
             "frame_invalid        %d" % n in report,
             "replay of %d zeroed records: not every one frame_invalid" % n)
        peaks.append(kb)
    need(peaks[1] - peaks[0] < 16 << 10,
         "peak memory %d KB for 200000 zeroed records, %d KB for 1000000" % tuple(peaks))


def newline_name(h):
    """The error quotes the name with its control bytes escaped: still one line."""
    h.write("bad\nname.pcap", b"")
    untouched = h.keep_files(OUTS)
    r = h.run(["replay", "bad\nname.pcap", "-o", OUTS[0], "--trace", OUTS[1], "--html", OUTS[2]])
    h.refused(r, 2, names=("bad\\x0aname.pcap", "truncated"), once=("bad",))
    untouched(r)


def files_group(h):
    h.case("files: /dev/null", refused_path, h, "/dev/null", ["truncated"])
    h.case("files: /dev/zero", refused_path, h, "/dev/zero", ["unknown file format"])
    h.case("files: /dev/zero with --max-frames", refused_path, h, "/dev/zero",
           ["unknown file format"], ["--max-frames", "3"])
    h.case("files: a directory", refused_path, h, "/tmp", ["directory"])
    h.case("files: a missing file", refused_path, h, "no/such.pcap", ["No such file"])
    h.case("files: an empty name", refused_path, h, "", ["No such file"])
    os.symlink("loop-b", h.path("loop-a"))
    os.symlink("loop-a", h.path("loop-b"))
    h.case("files: a symlink loop", refused_path, h, "loop-a", ["symbolic links"])
    os.symlink("no-such-target.pcap", h.path("dangling"))
    h.case("files: a dangling symlink", refused_path, h, "dangling", ["No such file"])
    h.case("files: a FIFO with a writer", fifo, h)
    h.case("files: a FIFO closed at once", fifo_writer_gone, h)
    h.case("files: standard input", stdin_capture, h)
    h.case("files: an endless pipe, bounded by --max-frames", endless_pipe, h)
    h.case("files: no read permission", unreadable, h)
    h.case("files: a sparse 2 GB file", sparse, h)
    h.case("files: zeroed records read whole, in bounded memory", zeros_whole, h)
    h.case("files: a name with a newline", newline_name, h)
