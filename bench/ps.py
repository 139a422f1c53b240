#!/usr/bin/python3
"""ps.py -- parameter-server figures of examples/ps_ctr (issue 11):

 (a) pull+push throughput: 2 servers and 2 workers (one `muster run` node
     per server, one for the workers, all on this machine, ZeroMQ over
     loopback) train --steps synchronous steps of --batch samples per
     worker; the figure is rows pulled plus rows pushed per second, summed
     over the workers.  Baseline in the same run: `ps_ctr --local 2`, the
     same steps, model and Adagrad updates on one in-process table (no
     muster, no data plane).  ratio = distributed / in-process.
 (b) live migration of --rows rows from 2 to 3 servers: the servers are
     prefilled with rows 0..N-1 (split by bucket), the workers train, and a
     third PS node joins; the figure is the new server's own count, from
     the plan to the completed barrier (epoch change, cut-step agreement,
     copying its third of the rows, reports, barrier), and how long the
     workers waited in the barrier.  Baseline in the same run: each of the
     2 servers moves its rows through a checkpoint's I/O (write with fsync,
     read back into a new table), the least a checkpoint round trip costs
     (the real one also restarts every process and commits through the
     coordinator).  ratio = round trip / live.

A benchmark, not a test: it prints figures and exits 0 whatever they are,
non-zero only when something broke (saying what, with the logs' tails).
Standard library only.  --smoke runs tiny sizes (ctest, label bench).
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time


def fail(msg, procs=()):
    print("ps.py: " + msg, file=sys.stderr)
    for p in procs:
        print("--- %s (rc %s)\n%s\n%s" % (p.name, p.proc.poll(), p.out()[-2000:],
                                        p.err()[-2000:]), file=sys.stderr)
    sys.exit(1)


class Proc:
    def __init__(self, tmp, name, argv, env):
        self.name = name
        self.out_path = os.path.join(tmp, name + ".out")
        self.err_path = os.path.join(tmp, name + ".err")
        with open(self.out_path, "wb") as o, open(self.err_path, "wb") as e:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                         stdout=o, stderr=e, env=env)

    def out(self):
        with open(self.out_path, errors="replace") as f:
            return f.read()

    def err(self):
        with open(self.err_path, errors="replace") as f:
            return f.read()

    def wait(self, timeout):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            if self.wait(10) is None:
                self.proc.kill()
                self.proc.wait()


def wait_for(pred, timeout, what, procs):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return
        time.sleep(0.05)
    fail("timed out waiting for " + what, procs)


class Bench:
    def __init__(self, args):
        self.a = args
        self.tmp = tempfile.mkdtemp(prefix="muster-bench-ps-")
        self.env = dict(os.environ)
        self.env["MUSTER_STATE_DIR"] = os.path.join(self.tmp, "state")
        self.procs = []
        self.musterd()

    def start(self, name, argv):
        p = Proc(self.tmp, name, argv, self.env)
        self.procs.append(p)
        return p

    def musterd(self):
        eps = os.path.join(self.tmp, "musterd.endpoints")
        self.d = self.start("musterd", [
            os.path.join(self.a.bin, "musterd"), "--agent-bind",
            "tcp://127.0.0.1:0", "--ctl-bind", "tcp://127.0.0.1:0",
            "--state-dir", os.path.join(self.tmp, "musterd.state"),
            "--endpoints-file", eps])

        def ready():
            if not os.path.exists(eps):
                return False
            with open(eps) as f:
                m = re.search(r"^agent tcp://[^:]+:(\d+)$", f.read(), re.M)
            if m:
                self.rdzv = "127.0.0.1:" + m.group(1)
            return m is not None
        wait_for(ready, 20, "musterd to serve", [self.d])
        with open(os.path.join(self.tmp, "musterd.state", "join-token")) as f:
            self.env["MUSTER_JOIN_TOKEN"] = f.read().strip()

    def node(self, job, role, name, args, max_ps=2):
        return self.start(name, [
            os.path.join(self.a.bin, "muster"), "run", "--rdzv-endpoint",
            self.rdzv, "--rdzv-id", job, "--roles",
            "worker=1x2,ps=2:%dx1" % max_ps, "--role", role, "--node-id",
            name, "--nbuckets", "1024", "--elastic-mode", "in-place",
            "--last-call", "1s", "--connect-timeout", "20s", "--",
            os.path.join(self.a.bin, "ps_ctr"), *args])

    def finish(self, nodes, timeout=600):
        for n in nodes:
            if n.wait(timeout) != 0:
                fail("%s failed" % n.name, nodes)

    def throughput(self):
        a = self.a
        args = ["--steps", str(a.steps), "--batch", str(a.batch), "--eval", "0"]
        nodes = [self.node("tp", "worker", "tp-w", args)] + \
            [self.node("tp", "ps", "tp-ps%d" % i, args) for i in range(2)]
        self.finish(nodes)
        rows = ms = 0
        for m in re.finditer(r"worker \d+: \d+ steps, (\d+) rows pulled\+pushed "
                             r"in (\d+) ms", nodes[0].out()):
            rows += int(m.group(1))
            ms = max(ms, int(m.group(2)))
        if rows == 0:
            fail("no throughput line", nodes)
        local = subprocess.run(
            [os.path.join(a.bin, "ps_ctr"), "--local", "2", "--steps",
             str(a.steps), "--batch", str(a.batch)], capture_output=True,
            text=True, timeout=600)
        m = re.search(r"(\d+) rows pulled\+pushed in (\d+) ms", local.stdout)
        if local.returncode != 0 or m is None:
            fail("ps_ctr --local failed: " + local.stdout + local.stderr)
        dist = rows / max(ms, 1) * 1000
        base = int(m.group(1)) / max(int(m.group(2)), 1) * 1000
        print("(a) pull+push, 2 servers x 2 workers, %d steps of %d samples:"
              % (a.steps, a.batch))
        print("    distributed  %12.0f rows/s  (%d rows in %d ms)" % (dist, rows, ms))
        print("    in-process   %12.0f rows/s  (baseline: ps_ctr --local 2)" % base)
        print("    ratio        %12.2f" % (dist / base), flush=True)

    def migration(self):
        a = self.a
        ck = os.path.join(self.tmp, "ckpt")
        os.makedirs(ck)
        # every node of a job runs the same command (workers ignore the
        # servers' options)
        args = ["--steps", str(a.mig_steps), "--batch", "64", "--step-ms",
                "20", "--eval", "0", "--prefill", str(a.rows),
                "--ckpt-baseline", ck]
        w = self.node("mig", "worker", "mig-w", args, 3)
        ps = [self.node("mig", "ps", "mig-ps%d" % i, args, 3) for i in range(2)]
        nodes = [w] + ps
        wait_for(lambda: re.search(r"step [2-9]\d+ loss", w.out()), 120,
                 "the workers to train on 2 servers", nodes)
        third = self.node("mig", "ps", "mig-ps2", args, 3)
        nodes.append(third)
        self.finish(nodes)
        m = re.search(r"migration to 3 servers done at step \d+: (\d+) rows in, "
                      r"\d+ rows out, (\d+) ms", third.out())
        waits = [int(x) for x in re.findall(r"2 -> 3 servers, \d+ moves, waited "
                                            r"(\d+) ms", w.out())]
        trips = [(int(n), int(s), int(r)) for n, s, r in re.findall(
            r"checkpoint round trip of (\d+) rows: save (\d+) ms, restore (\d+) ms",
            ps[0].out() + ps[1].out())]
        if m is None or len(trips) != 2 or not waits:
            fail("missing migration figures", nodes)
        moved, live = int(m.group(1)), int(m.group(2))
        total = sum(t[0] for t in trips)
        trip = max(t[1] + t[2] for t in trips)
        print("(b) live migration, 2 -> 3 servers, %d rows in the table:" % total)
        print("    live         %6d ms  (%d rows copied to the new server; "
              "workers waited %d ms in the barrier)" % (live, moved, max(waits)))
        print("    ckpt I/O     %6d ms  (baseline: save with fsync + load of "
              "every row, slowest server: %s)"
              % (trip, ", ".join("%d rows %d+%d ms" % t for t in trips)))
        print("    ratio        %6.2f  (checkpoint round trip / live)"
              % (trip / max(live, 1)), flush=True)

    def close(self):
        for p in reversed(self.procs):
            p.stop()
        if not os.environ.get("PS_BENCH_KEEP"):
            shutil.rmtree(self.tmp, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", required=True, help="directory of muster, "
                    "musterd and ps_ctr")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--batch", type=int, default=1024)
    ap.add_argument("--rows", type=int, default=1000000)
    ap.add_argument("--mig-steps", type=int, default=150)
    ap.add_argument("--smoke", action="store_true",
                    help="tiny sizes: proves the benchmark runs")
    a = ap.parse_args()
    if a.smoke:
        a.steps, a.batch, a.rows, a.mig_steps = 20, 64, 20000, 60
    b = Bench(a)
    try:
        b.throughput()
        b.migration()
    finally:
        b.close()


if __name__ == "__main__":
    main()
