#!/usr/bin/python3
"""launch.py -- time-to-running of a gang: muster against torchrun.

Measures, for each configuration (agents x workers per agent), the time from
starting the launcher(s) until every worker is running the program: every
worker writes the CLOCK_REALTIME instant at which its program began to
$BENCH_DIR/start.$RANK (the C worker at main() entry, the Python worker at the
first statement of the script), and the figure is

    max over ranks of that instant  -  time.time() just before the first
    launcher process was spawned

The median of --reps repetitions is reported (after --warmup discarded runs);
the systems are interleaved within each repetition, so drift (page cache, CPU
frequency, other load) hits all of them alike.  Also reported: the time until
every launcher process has exited (the whole trivial job, end to end).

Systems:
  muster C        muster run ... -- bench/launch_worker (C, no interpreter)
  muster Python   muster run ... -- launch_worker.py  (MUSTER_PYTHON=python)
  torchrun Python python -m torch.distributed.run ... launch_worker.py
                  (same interpreter, same script)

Configurations "1x4" (one node, four workers) use muster's embedded
coordinator (no --rdzv-endpoint) and torchrun --standalone.  Multi-agent
configurations ("4x1", "2x2") start N launcher processes on this machine:
  muster, musterd   a musterd started once per configuration, before timing;
                    every launcher joins it (--rdzv-endpoint, --nnodes N)
  muster, --host    no daemon: the first launcher serves the coordinator
                    (--host) and the others join it, as torchrun's c10d does
  torchrun          --nnodes N --rdzv_backend c10d --rdzv_endpoint
                    127.0.0.1:PORT (the first agent to bind hosts the store)

A benchmark, not a test: prints figures and ratios, exits 0 whatever they are,
and non-zero only if a launch broke (non-zero exit, missing worker, timeout).
Standard library only; run it with the interpreter that has torch
(/usr/bin/python3 on Debian), since that interpreter also runs the workers.
"""

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

from launchers import (LauncherGroup, find_bin, free_port,  # bench/
                       have_torchrun, log_tails)

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


def port_free(port):
    s = socket.socket()
    try:
        s.bind(("0.0.0.0", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


class Broken(Exception):
    """A launch that did not run every worker (not a slow one)."""


class Bench:
    def __init__(self, args):
        self.a = args
        self.tmp = tempfile.mkdtemp(prefix="muster-launch-bench.")
        self.seq = 0
        self.daemons = {}
        self.broken = False

    # ----------------------------------------------------------- one launch
    def run_once(self, name, cmds, nworkers, env_extra=None):
        """Start every command of `cmds` back to back, wait for all, and
        return (start_s, exit_s): the latest worker start and the last
        launcher exit, both relative to the instant before the first
        spawn."""
        self.seq += 1
        rdir = os.path.join(self.tmp, "r%04d" % self.seq)
        os.mkdir(rdir)
        env = dict(os.environ)
        env["BENCH_DIR"] = rdir
        # job secrets and control sockets of muster run: ours, not
        # /var/lib/muster (root) or the user's home
        env["MUSTER_STATE_DIR"] = os.path.join(self.tmp, "state")
        env.update(env_extra or {})
        group = LauncherGroup(cmds(rdir), rdir, env, self.a.timeout)
        t0 = group.t0
        t_exit = group.wait()
        if group.expired.is_set():
            raise Broken("%s: timed out after %.0f s (logs in %s)"
                         % (name, self.a.timeout, rdir))
        bad = group.failed()
        starts = []
        for r in range(nworkers):
            try:
                with open(os.path.join(rdir, "start.%d" % r)) as f:
                    starts.append(int(f.read()) / 1e6)
            except (OSError, ValueError):
                pass
        if bad or len(starts) != nworkers:
            tail = log_tails(rdir, [i for i, _ in bad] or [0], 600)
            self.broken = True
            raise Broken("%s: exit codes (launcher, code) %s, %d of %d "
                         "workers started (logs in %s)\n%s"
                         % (name, bad, len(starts), nworkers, rdir, tail))
        if not self.a.keep:
            shutil.rmtree(rdir, ignore_errors=True)
        return max(starts) - t0, t_exit - t0

    # -------------------------------------------------------------- muster
    def muster(self, worker_argv, nodes, nproc, mode, secure=True):
        """Commands for one muster launch.  mode: embedded, musterd, host.
        secure=False adds --insecure everywhere (no CURVE), to measure what
        the security costs."""
        exe = os.path.join(self.a.bin, "muster")
        job = "b%d" % (self.seq + 1)
        sec = [] if secure else ["--insecure"]
        if mode == "embedded":
            return lambda rdir: [[exe, "run", "--quiet"] + sec
                                 + ["--nproc-per-node", str(nproc), "--"]
                                 + worker_argv]
        if mode == "musterd":
            ep, state = self.daemon(nodes, secure)
            host = []
        else:
            ep = "127.0.0.1:%d" % free_port()
            host = ["--host"]

        def cmds(rdir):
            out = []
            # Joining needs the cluster's token (musterd) or the job's, which
            # the --host node writes when it starts: the others wait for the
            # file, and that wait is part of the measured time.
            tok = (os.path.join(state, "join-token") if mode == "musterd"
                   else os.path.join(rdir, "job.token"))
            for i in range(nodes):
                argv = ([exe, "run", "--quiet"] + (host if i == 0 else []) + sec
                        + (["--join-token-file", tok] if secure else [])
                        + ["--connect-timeout", "10s",
                           "--rdzv-endpoint", ep, "--nnodes", str(nodes),
                           "--nproc-per-node", str(nproc),
                           "--rdzv-id", job, "--node-id",
                           "%s-n%d" % (job, i), "--"] + worker_argv)
                if secure and mode == "host" and i > 0:
                    argv = ["sh", "-c", 'while [ ! -s "$0" ]; do sleep 0.001; '
                            'done; exec "$@"', tok] + argv
                out.append(argv)
            return out
        return cmds

    def daemon(self, nodes, secure=True):
        """One musterd per configuration, started before anything is timed
        and reused by every repetition (each with its own job id)."""
        if (nodes, secure) in self.daemons:
            return self.daemons[(nodes, secure)][1:]
        tag = "%d%s" % (nodes, "" if secure else "-insecure")
        epf = os.path.join(self.tmp, "musterd%s.endpoints" % tag)
        state = os.path.join(self.tmp, "state%s" % tag)
        log = open(os.path.join(self.tmp, "musterd%s.log" % tag), "wb")
        p = subprocess.Popen(
            [os.path.join(self.a.bin, "musterd"), "--agent-bind",
             "tcp://127.0.0.1:*", "--ctl-bind", "none", "--endpoints-file",
             epf, "--state-dir", state] + ([] if secure else ["--insecure"]),
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        for _ in range(500):
            if os.path.exists(epf):
                break
            if p.poll() is not None:
                raise Broken("musterd exited with %s at start" % p.returncode)
            time.sleep(0.01)
        with open(epf) as f:
            agent = f.readline().split()[1]  # "agent tcp://127.0.0.1:PORT"
        ep = agent.split("//", 1)[1]
        self.daemons[(nodes, secure)] = (p, ep, state)
        return ep, state

    # ------------------------------------------------------------ torchrun
    def torchrun(self, nodes, nproc):
        py = self.a.python
        script = self.a.py_worker
        common = ["--nproc_per_node", str(nproc), "--redirects=1", "--tee=1"]
        if nodes == 1 and self.standalone_ok:
            def cmds(rdir):
                return [[py, "-m", "torch.distributed.run", "--standalone"]
                        + common + ["--log_dir", os.path.join(rdir, "tlog"),
                                    script]]
            return cmds
        port = free_port()
        job = "t%d" % (self.seq + 1)

        def cmds(rdir):
            return [[py, "-m", "torch.distributed.run", "--nnodes", str(nodes),
                     "--rdzv_backend", "c10d", "--rdzv_endpoint",
                     "127.0.0.1:%d" % port, "--rdzv_id", job] + common
                    + ["--log_dir", os.path.join(rdir, "tlog%d" % i), script]
                    for i in range(nodes)]
        return cmds

    def close(self):
        for p, _, _ in self.daemons.values():
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if self.broken:
            print("logs of the broken runs kept in %s" % self.tmp)
        elif not self.a.keep:
            shutil.rmtree(self.tmp, ignore_errors=True)


def fmt(v):
    if v is None:
        return "-"
    return "%.1f ms" % (v * 1e3) if v < 10 else "%.2f s" % v


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", help="directory with muster and musterd "
                    "(default: build-bench/bin or build/bin of the repo)")
    ap.add_argument("--worker", help="the C worker (default: "
                    "<bin>/../bench/launch_worker)")
    ap.add_argument("--python", default="/usr/bin/python3" if
                    os.path.exists("/usr/bin/python3") else sys.executable,
                    help="interpreter of the Python worker and of torchrun")
    ap.add_argument("--configs", default="1x4,4x1,2x2",
                    help="comma-separated AGENTSxWORKERS (default %(default)s)")
    ap.add_argument("--reps", type=int, default=5,
                    help="measured runs per cell (default %(default)s)")
    ap.add_argument("--warmup", type=int, default=1,
                    help="discarded runs before them (default %(default)s)")
    ap.add_argument("--timeout", type=float, default=120,
                    help="seconds before one launch counts as broken")
    ap.add_argument("--multi", default="musterd,host",
                    help="muster modes for multi-agent configs: musterd, "
                    "host or both (default %(default)s)")
    ap.add_argument("--no-torchrun", action="store_true",
                    help="skip the torchrun baseline")
    ap.add_argument("--security", choices=("on", "both"), default="on",
                    help="both: also run the C worker with --insecure (no "
                    "CURVE) and report what security costs")
    ap.add_argument("--keep", action="store_true",
                    help="keep the per-run directories and logs")
    a = ap.parse_args()

    a.bin = find_bin(a.bin, REPO, "launch.py")
    if a.worker is None:
        a.worker = os.path.join(os.path.dirname(a.bin), "bench", "launch_worker")
    if not os.access(a.worker, os.X_OK):
        sys.exit("launch.py: no C worker at %s (cmake --build ... --target "
                 "launch_worker) or pass --worker" % a.worker)
    a.py_worker = os.path.join(HERE, "launch_worker.py")

    configs = []
    for c in a.configs.split(","):
        n, k = c.lower().split("x")
        configs.append((int(n), int(k)))
    modes = [m for m in a.multi.split(",") if m]

    torch_ok = not a.no_torchrun and have_torchrun(a.python)
    b = Bench(a)
    b.standalone_ok = port_free(29400)
    print("launch benchmark: %d repetitions (+%d warm-up) per cell, median "
          "reported; %s, %d CPUs" % (a.reps, a.warmup, os.uname().release,
                                     os.cpu_count()))
    print("  load average at start: %.2f %.2f %.2f (other work on the machine "
          "skews every figure)" % os.getloadavg())
    print("  muster: %s   C worker: %s" % (a.bin, a.worker))
    print("  Python worker: %s %s" % (a.python, a.py_worker))
    if a.no_torchrun:
        print("  torchrun: skipped (--no-torchrun)")
    elif not torch_ok:
        print("  torchrun: not available with %s (no torch); column skipped"
              % a.python)
    elif not b.standalone_ok:
        print("  torchrun: port 29400 (--standalone's fixed port) is busy; "
              "1-node runs use c10d on a free port instead")
    print()

    # One row per (config, muster mode); torchrun runs once per config.
    rows = []
    broken = []
    for (n, k) in configs:
        mlist = ["embedded"] if n == 1 else modes
        cells = []   # (label, key, commands-factory, env, nworkers)
        cpy = {"MUSTER_PYTHON": a.python}
        for m in mlist:
            cells.append(((n, k, m, "C"), lambda m=m: b.muster([a.worker], n, k, m), {}))
            cells.append(((n, k, m, "Py"), lambda m=m: b.muster([a.py_worker], n, k, m), cpy))
            if a.security == "both":
                cells.append(((n, k, m, "C-insecure"),
                              lambda m=m: b.muster([a.worker], n, k, m, False), {}))
        if torch_ok:
            cells.append(((n, k, "torchrun", "Py"), lambda: b.torchrun(n, k), {}))
        res = {key: [] for key, _, _ in cells}
        ends = {key: [] for key, _, _ in cells}
        for rep in range(a.warmup + a.reps):
            for key, factory, env in cells:
                try:
                    s, e = b.run_once("%dx%d %s %s" % key, factory(), n * k, env)
                except Broken as ex:
                    # Keep going: the figure is the median of the runs that
                    # worked, and the table says how many did not.
                    print("\nBROKEN: %s" % ex, file=sys.stderr)
                    broken.append(key)
                    continue
                if rep >= a.warmup:
                    res[key].append(s)
                    ends[key].append(e)
            sys.stdout.write(".")
            sys.stdout.flush()
        sys.stdout.write("\n")

        def med(key, d=res):
            v = d.get(key)
            return statistics.median(v) if v else None
        tr = med((n, k, "torchrun", "Py"))
        tre = med((n, k, "torchrun", "Py"), ends)
        for m in mlist:
            rows.append(dict(n=n, k=k, mode=m,
                             bc=broken.count((n, k, m, "C")),
                             bpy=broken.count((n, k, m, "Py")),
                             btr=broken.count((n, k, "torchrun", "Py")),
                             c=med((n, k, m, "C")), py=med((n, k, m, "Py")),
                             cin=med((n, k, m, "C-insecure")),
                             tr=tr,
                             cmin=min(res[(n, k, m, "C")], default=None),
                             cmax=max(res[(n, k, m, "C")], default=None),
                             ce=med((n, k, m, "C"), ends),
                             pye=med((n, k, m, "Py"), ends), tre=tre))

    label = {"embedded": "embedded", "musterd": "musterd up",
             "host": "--host"}
    print()
    print("Time from launcher start until all workers run (median of %d)"
          % a.reps)
    hdr = "%-22s %12s %14s %16s %10s" % ("config", "muster C",
                                         "muster Python", "torchrun Python",
                                         "ratio")
    print(hdr)
    print("-" * len(hdr))
    nbroken = 0
    for r in rows:
        ratio = ("%.0fx" % (r["tr"] / r["py"])) if r["tr"] and r["py"] else "-"
        c, py = fmt(r["c"]), fmt(r["py"])
        if r["bc"]:
            c += " [%d!]" % r["bc"]
        if r["bpy"]:
            py += " [%d!]" % r["bpy"]
        tr = fmt(r["tr"]) + (" [%d!]" % r["btr"] if r["btr"] else "")
        nbroken += r["bc"] + r["bpy"] + r["btr"]
        print("%-22s %12s %14s %16s %10s" % (
            "%dx%d (%s)" % (r["n"], r["k"], label[r["mode"]]), c, py, tr,
            ratio))
    print("ratio = torchrun Python / muster Python (same worker script)")
    if nbroken:
        print("[n!] = n of the %d runs of that cell broke (see BROKEN above); "
              "the median is over the others" % (a.warmup + a.reps))
    print()
    print("Time until every launcher exited (whole trivial job, median)")
    print("%-22s %12s %14s %16s" % ("config", "muster C", "muster Python",
                                    "torchrun Python"))
    for r in rows:
        print("%-22s %12s %14s %16s" % (
            "%dx%d (%s)" % (r["n"], r["k"], label[r["mode"]]), fmt(r["ce"]),
            fmt(r["pye"]), fmt(r["tre"])))
    print()
    print("Targets (informational; a benchmark never fails on timing):")
    for r in rows:
        if r["tr"] and r["py"]:
            ok = r["tr"] / r["py"] >= 10
            print("  %-22s >=10x faster than torchrun (Python): %s (%.0fx)"
                  % ("%dx%d (%s)" % (r["n"], r["k"], label[r["mode"]]),
                     "met" if ok else "NOT met", r["tr"] / r["py"]))
    for r in rows:
        if r["c"] is not None and r["n"] * r["k"] == 4:
            print("  %-22s all 4 C workers within 30 ms: %s (median %.1f ms, "
                  "range %.1f-%.1f)" % (
                      "%dx%d (%s)" % (r["n"], r["k"], label[r["mode"]]),
                      "met" if r["c"] <= 0.030 else "NOT met", r["c"] * 1e3,
                      r["cmin"] * 1e3, r["cmax"] * 1e3))
    if a.security == "both":
        print()
        print("What CURVE costs: C worker, security on vs --insecure (median)")
        for r in rows:
            if r["c"] is not None and r["cin"]:
                over = r["c"] / r["cin"] - 1
                print("  %-22s on %9s  off %9s  %+5.1f%%  target within 10%%: %s"
                      % ("%dx%d (%s)" % (r["n"], r["k"], label[r["mode"]]),
                         fmt(r["c"]), fmt(r["cin"]), over * 100,
                         "met" if over <= 0.10 else "NOT met"))
    print("load average at the end: %.2f %.2f %.2f" % os.getloadavg())
    b.close()
    if broken:
        print("\nbroken runs: %s" % ", ".join("%dx%d %s %s" % k for k in broken))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
