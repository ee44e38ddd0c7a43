"""Runs the built vnetsim command on hostile input and holds it to the
promises the README makes for every such run: an exit code of 0, 1 or 2
(never a signal), one line on standard error that names the problem (and a
path at most once), outputs that a failed run leaves as they were with no
temporary file beside them, and, where a run completes, fate ledgers that
add up to the frames read."""

import concurrent.futures
import json
import os
import shutil
import subprocess
import sys

KEEP = b"KEEP: a file a failed run must not touch\n"


class Failure(Exception):
    pass


def need(cond, msg):
    if not cond:
        raise Failure(msg)


class Result:
    def __init__(self, args, rc, out, err):
        self.args, self.rc, self.out, self.err = args, rc, out, err

    def __str__(self):
        return "vnetsim %s -> exit %s, stderr %r" % (" ".join(self.args), self.rc, self.err[:400])

    def json(self):
        try:
            return json.loads(self.out)
        except ValueError as e:
            raise Failure("%s: stdout is not one JSON object (%s): %r" % (self, e, self.out[:200]))


class Harness:
    def __init__(self, vnetsim, workdir, timeout):
        self.vnetsim, self.dir, self.timeout = vnetsim, workdir, timeout
        self.passed, self.failed, self.skipped = 0, [], []

    def path(self, name):
        return os.path.join(self.dir, name)

    def write(self, name, data):
        p = self.path(name)
        with open(p, "wb") as f:
            f.write(data)
        return p

    def run(self, args, stdin=subprocess.DEVNULL, timeout=None, stdout_file=None):
        """vnetsim ARGS in the work directory; stdout as text unless it goes to stdout_file."""
        out = open(stdout_file, "wb") if stdout_file else subprocess.PIPE
        try:
            p = subprocess.run([self.vnetsim] + args, cwd=self.dir, stdin=stdin, stdout=out,
                               stderr=subprocess.PIPE, timeout=timeout or self.timeout)
        except subprocess.TimeoutExpired:
            raise Failure("vnetsim %s did not end within %s s" % (" ".join(args),
                                                                   timeout or self.timeout))
        finally:
            if stdout_file:
                out.close()
        text = "" if stdout_file else p.stdout.decode("utf-8", "replace")
        r = Result(args, p.returncode, text, p.stderr.decode("utf-8", "replace"))
        need(r.rc >= 0, "%s: killed by signal %d" % (r, -r.rc))
        return r

    def case(self, name, fn, *a, **kw):
        """One named check: passes, fails with the reason, or is skipped with it."""
        try:
            why = fn(*a, **kw)
        except Failure as e:
            self.failed.append(name)
            print("FAIL %s: %s" % (name, e), flush=True)
            return
        if isinstance(why, str):
            self.skipped.append(name)
            print("skip %s: %s" % (name, why), flush=True)
            return
        self.passed += 1
        print("ok   %s" % name, flush=True)

    def each(self, items, fn, parallel=False):
        """fn on every item; one failure names every item that failed.
        parallel: on every CPU at once, for calls that share no file."""
        def one(it):
            try:
                fn(it)
            except Failure as e:
                return str(e)
            return None
        if parallel:
            with concurrent.futures.ThreadPoolExecutor(os.cpu_count() or 2) as pool:
                errs = [e for e in pool.map(one, items) if e]
        else:
            errs = [e for e in map(one, items) if e]
        need(not errs, "%d of %d failed:\n    %s" % (len(errs), len(items), "\n    ".join(errs)))

    def finish(self, group):
        print("%s: %d passed, %d failed, %d skipped (each skip says why above)" %
              (group, self.passed, len(self.failed), len(self.skipped)))
        if self.failed:
            print("failed: " + ", ".join(self.failed))
        return 1 if self.failed else 0

    # --- what every run promises ------------------------------------------

    def refused(self, r, code, names=(), once=()):
        """Exit `code`, one line on stderr containing each of `names`; each of
        `once` (a path) named no more than once."""
        need(r.rc == code, "%s: expected exit %d" % (r, code))
        lines = r.err.splitlines()
        need(len(lines) == 1 and r.err.endswith("\n"),
             "%s: stderr has %d lines, not one" % (r, len(lines)))
        need(r.err.startswith("vnetsim"), "%s: the line does not say who speaks" % r)
        for n in names:
            need(n in r.err, "%s: stderr does not name %r" % (r, n))
        for p in filter(None, once):
            need(r.err.count(p) <= 1, "%s: stderr names %r more than once" % (r, p))

    def keep_files(self, names):
        """Pre-existing outputs, each holding KEEP; returns a checker."""
        for n in names:
            self.write(n, KEEP)
        before = sorted(os.listdir(self.dir))

        def untouched(r):
            for n in names:
                with open(self.path(n), "rb") as f:
                    need(f.read() == KEEP, "%s: the failed run changed %s" % (r, n))
            after = sorted(os.listdir(self.dir))
            need(after == before, "%s: files left behind: %s" % (r, sorted(set(after) - set(before))))
        return untouched

    def ledger(self, r, frames_read, fates=None, notes=None):
        """A completed replay's --json: one fate per frame read, both ledgers
        whole; `fates` (fate -> count among the captured frames) and `notes`
        (a JSON key -> value) where the test knows them."""
        j = r.json()
        listed = j["frames"]
        need(len(listed) == frames_read,
             "%s: %d frames have a fate, %d were read" % (r, len(listed), frames_read))
        need(all(f["fate"] != "pending" for f in listed), "%s: a frame is still pending" % r)
        for key, n_key, ok_key in (("fates", "frames_in", "fates_accounted"),
                                   ("tx_fates", "tx_frames", "tx_fates_accounted")):
            total = sum(j[key].values())
            need(total == j[n_key], "%s: %s add up to %d of %d" % (r, key, total, j[n_key]))
            need(j[ok_key] is True, "%s: %s is %r" % (r, ok_key, j[ok_key]))
        need(j["frames_in"] == frames_read + j["arp_proxy_replies"],
             "%s: frames_in %d is not %d read + %d proxy replies" %
             (r, j["frames_in"], frames_read, j["arp_proxy_replies"]))
        seen = {}
        for f in listed:
            seen[f["fate"]] = seen.get(f["fate"], 0) + 1
        for fate, n in (fates or {}).items():
            need(seen.get(fate, 0) == n, "%s: %d frames %s, expected %d (fates %s)" %
                 (r, seen.get(fate, 0), fate, n, seen))
        for key, v in (notes or {}).items():
            need(j.get(key) == v, "%s: %s is %r, expected %r" % (r, key, j.get(key), v))
        return j

    def pcap_readable(self, path, frames=None):
        """Wireshark's tools read what we wrote, without an error."""
        if not shutil.which("capinfos"):
            return "capinfos is not installed (scripts/install-deps.sh installs tshark)"
        p = subprocess.run(["capinfos", "-c", "-M", "-T", "-r", path], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=30)
        need(p.returncode == 0, "capinfos %s: %s" % (path, p.stderr.decode(errors="replace")))
        if frames is not None:
            count = p.stdout.decode().split("\t")[-1].strip()
            need(count == str(frames), "capinfos counts %s frames in %s, not %d" %
                 (count, path, frames))
        return None


def main(groups):
    if len(sys.argv) != 3 or sys.argv[2] not in groups:
        sys.exit("usage: %s VNETSIM GROUP (GROUP: %s)" % (sys.argv[0], " ".join(groups)))
    import tempfile
    # each run's limit; ctest sets it higher for a sanitized build
    timeout = int(os.environ.get("VNETSIM_HOSTILE_TIMEOUT_S", "20"))
    with tempfile.TemporaryDirectory(prefix="vnetsim-hostile-") as d:
        h = Harness(os.path.abspath(sys.argv[1]), d, timeout)
        groups[sys.argv[2]](h)
        sys.exit(h.finish(sys.argv[2]))
