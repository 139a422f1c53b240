#!/usr/bin/python3
"""agent_scale.py -- one agent running many workers: start, watch, idle cost.

Issue 12's per-node target: one agent running 1,000 workers, all started
within 1 s of the spawn order, its own CPU while they idle under 2 % of a
core.  For N workers (default 1000) of bench/launch_worker --idle S (it
writes the instant its main() began to $BENCH_DIR/start.$RANK, then
sleeps S seconds and exits 0) it reports, for muster and for torchrun in
the same run:

  launch -> last main()      from the instant before the launcher was
                             spawned to the latest worker main()
  job.start -> last main()   muster: from the agent receiving job.start
                             (the wall-clock instant its EPOCH-SPAWNED log
                             line gives) to the latest worker main()
  job.start -> all running   muster: the agent had started every worker
                             and reported each running (EPOCH-SPAWNED)
  agent CPU while idle       CPU time of the agent process (all its
                             threads) over --window seconds once every
                             worker runs, as a percentage of one core
                             (/proc/PID/task/*/schedstat)
  helpers' CPU while idle    the same for all its child processes that
                             are not workers (each worker's muster-exec,
                             and the resident spawner, muster-exec
                             --serve: all the agent's children), summed
  agent RSS                  VmRSS of the agent process while they idle

muster runs as a real node: musterd on 127.0.0.1 and `muster run
--rdzv-endpoint` (the agent, in the launcher process, with the
coordinator in another).  torchrun's agent is its Python process
(c10d store, --no_python, --redirects=1 --tee=1 --log_dir, which torchrun
1.13 needs, see docs/benchmarks.md); it has no job.start, so its rows
from job.start are "-".  With --compare-bin DIR a second muster build
(e.g. the one before a change) runs in the same invocation, interleaved.

A benchmark, not a test: prints figures, ratios and the targets, exits 0
whatever they are, and non-zero only if a launch broke (non-zero exit, a
missing worker, a timeout).  Standard library only.
"""
import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from launchers import find_bin, free_port, have_torchrun  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TICK = os.sysconf("SC_CLK_TCK")
SPAWNED = re.compile(r"EPOCH-SPAWNED .*: (\d+) of (\d+) worker\(s\) running "
                     r"([0-9.]+) ms after the job.start \(received at "
                     r"([0-9.]+)\)")


class Broken(Exception):
    pass


def cpu_ticks(pid):
    """CPU time of every thread of pid, in ticks: from schedstat (run time
    in ns, exact even for a process that wakes for microseconds, which
    utime/stime sampled per tick would miss), else utime + stime."""
    try:
        ns = 0
        for t in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/schedstat" % (pid, t)) as f:
                ns += int(f.read().split()[0])
        return ns * TICK / 1e9
    except (OSError, ValueError, IndexError):
        pass
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def children(pid):
    out = []
    try:
        for t in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/children" % (pid, t)) as f:
                out += [int(c) for c in f.read().split()]
    except OSError:
        pass
    return out


def comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return ""


def helpers_ticks(agent, worker_name):
    """CPU ticks of the agent's children that are not the workers."""
    total = 0
    for c in children(agent):
        if comm(c) != worker_name:
            try:
                total += cpu_ticks(c)
            except OSError:
                pass
    return total


def wait_for(pred, timeout, what):
    end = time.time() + timeout
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    raise Broken("timed out waiting for %s" % what)


def read_starts(rdir, n):
    starts = []
    for r in range(n):
        try:
            with open(os.path.join(rdir, "start.%d" % r)) as f:
                starts.append(int(f.read()) / 1e6)
        except (OSError, ValueError):
            pass
    return starts


class Run:
    """One launch of n idle workers; fills `fig` with the figures."""

    def __init__(self, name, n, window, idle, tmp, env, timeout):
        self.name, self.n, self.window, self.idle = name, n, window, idle
        self.rdir = tempfile.mkdtemp(prefix=name.replace(" ", "_") + "-",
                                     dir=tmp)
        self.env = dict(env, BENCH_DIR=self.rdir)
        self.timeout = timeout
        self.procs = []
        self.fig = {}

    def start(self, argv, name, env=None):
        log = open(os.path.join(self.rdir, name + ".log"), "wb")
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                             stderr=subprocess.STDOUT, env=env or self.env,
                             start_new_session=True)
        p.log_path = log.name
        log.close()
        self.procs.append(p)
        return p

    def log(self, p):
        with open(p.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def cleanup(self, ok):
        for p in self.procs:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except OSError:
                    pass
                p.wait()
        if ok:
            shutil.rmtree(self.rdir, ignore_errors=True)

    def measure_idle(self, agent_pid, worker_name):
        """CPU % of the agent and its helpers over the window, and RSS."""
        a0 = cpu_ticks(agent_pid)
        h0 = helpers_ticks(agent_pid, worker_name)
        t0 = time.time()
        time.sleep(self.window)
        a1 = cpu_ticks(agent_pid)
        h1 = helpers_ticks(agent_pid, worker_name)
        dt = time.time() - t0
        self.fig["cpu"] = 100.0 * (a1 - a0) / TICK / dt
        self.fig["helpers_cpu"] = 100.0 * max(h1 - h0, 0) / TICK / dt
        self.fig["rss"] = rss_kib(agent_pid) / 1024.0

    def finish(self, launcher, t0):
        try:
            launcher.wait(timeout=self.idle + self.timeout)
        except subprocess.TimeoutExpired:
            raise Broken("%s x%d: did not finish (logs in %s)"
                         % (self.name, self.n, self.rdir))
        if launcher.returncode != 0:
            raise Broken("%s x%d: exit %d (logs in %s)\n%s"
                         % (self.name, self.n, launcher.returncode,
                            self.rdir, self.log(launcher)[-800:]))
        starts = read_starts(self.rdir, self.n)
        if len(starts) != self.n:
            raise Broken("%s x%d: %d of %d workers started (logs in %s)"
                         % (self.name, self.n, len(starts), self.n,
                            self.rdir))
        self.fig["launch_main"] = max(starts) - t0
        return starts


def run_muster(name, bindir, worker, n, window, tmp, env, timeout):
    idle = window + 5 + n / 100.0  # outlives the start and the window
    run = Run(name, n, window, idle, tmp, env, timeout)
    ok = False
    try:
        state = os.path.join(run.rdir, "state")
        eps = os.path.join(run.rdir, "endpoints")
        d = run.start([os.path.join(bindir, "musterd"), "--agent-bind",
                       "tcp://127.0.0.1:0", "--ctl-bind", "tcp://127.0.0.1:0",
                       "--state-dir", state, "--endpoints-file", eps],
                      "musterd")

        def agent_ep():
            if d.poll() is not None:
                raise Broken("musterd exited: %s" % run.log(d)[-800:])
            try:
                with open(eps) as f:
                    for line in f:
                        k, _, v = line.strip().partition(" ")
                        if k == "agent":
                            return v
            except OSError:
                pass
            return None
        ep = wait_for(agent_ep, 30, "musterd's endpoints")
        token = wait_for(lambda: os.path.exists(os.path.join(
            state, "join-token")) and open(os.path.join(
                state, "join-token")).read().strip(), 30, "the join token")
        lenv = dict(run.env, MUSTER_JOIN_TOKEN=token)
        t0 = time.time()
        launcher = run.start(
            [os.path.join(bindir, "muster"), "run", "--log-level", "info",
             "--quiet", "--rdzv-endpoint", ep.rsplit("/", 1)[1],
             "--nnodes", "1", "--nproc-per-node", str(n), "--node-id",
             "bench-node", "--rdzv-id", "agent-scale", "--last-call", "1s",
             "--", worker, "--idle", "%g" % idle], "launcher", lenv)
        m = wait_for(lambda: launcher.poll() is None and SPAWNED.search(
            run.log(launcher)) or (launcher.poll() is not None and "exit"),
            timeout, "EPOCH-SPAWNED")
        if m == "exit":
            raise Broken("%s: the launcher exited early:\n%s"
                         % (name, run.log(launcher)[-800:]))
        running, total = int(m.group(1)), int(m.group(2))
        if running != n or total != n:
            raise Broken("%s: %d of %d running" % (name, running, total))
        t_job = float(m.group(4))
        run.fig["job_running"] = float(m.group(3)) / 1e3
        wait_for(lambda: len(read_starts(run.rdir, n)) == n, timeout,
                 "every worker's main()")
        run.measure_idle(launcher.pid, os.path.basename(worker))
        starts = run.finish(launcher, t0)
        run.fig["job_main"] = max(starts) - t_job
        ok = True
        return run.fig
    finally:
        run.cleanup(ok)


def run_torchrun(python, worker, n, window, tmp, env, timeout):
    idle = window + 5 + n / 50.0
    run = Run("torchrun", n, window, idle, tmp, env, timeout)
    ok = False
    try:
        t0 = time.time()
        launcher = run.start(
            [python, "-m", "torch.distributed.run", "--nnodes", "1",
             "--rdzv_backend", "c10d", "--rdzv_endpoint",
             "127.0.0.1:%d" % free_port(), "--nproc_per_node", str(n),
             "--no_python", "--redirects=1", "--tee=1", "--log_dir",
             os.path.join(run.rdir, "tlog"), worker, "--idle", "%g" % idle],
            "launcher")
        wait_for(lambda: launcher.poll() is None
                 and len(read_starts(run.rdir, n)) == n
                 or launcher.poll() is not None, timeout,
                 "every worker's main()")
        if launcher.poll() is not None:
            raise Broken("torchrun exited early:\n%s"
                         % run.log(launcher)[-800:])
        run.measure_idle(launcher.pid, os.path.basename(worker))
        run.finish(launcher, t0)
        ok = True
        return run.fig
    finally:
        run.cleanup(ok)


def fmt_s(v):
    if v is None:
        return "-"
    return "%.0f ms" % (v * 1e3) if v < 10 else "%.1f s" % v


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", help="directory with muster and musterd "
                    "(default: build-bench/bin or build/bin of the repo)")
    ap.add_argument("--compare-bin", help="another build's bin directory, "
                    "run in the same invocation (e.g. before a change)")
    ap.add_argument("--worker", help="the C worker (default: "
                    "<bin>/../bench/launch_worker)")
    ap.add_argument("--python", default="/usr/bin/python3",
                    help="interpreter with torch for the torchrun baseline")
    ap.add_argument("--workers", type=int, default=1000)
    ap.add_argument("--window", type=float, default=10.0,
                    help="seconds of idle workers the CPU is measured over")
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=300.0,
                    help="seconds a start may take before it is killed")
    ap.add_argument("--no-torchrun", action="store_true",
                    help="skip the torchrun baseline")
    a = ap.parse_args()
    if a.workers < 1 or a.window <= 0 or a.reps < 1:
        sys.exit("agent_scale.py: --workers, --window and --reps must be "
                 "positive")
    a.bin = find_bin(a.bin, REPO, "agent_scale.py")
    worker = a.worker or os.path.join(os.path.dirname(a.bin), "bench",
                                      "launch_worker")
    if not os.access(worker, os.X_OK):
        sys.exit("agent_scale.py: no C worker at %s; build it or pass "
                 "--worker" % worker)
    torch_ok = not a.no_torchrun and have_torchrun(a.python)
    tmp = tempfile.mkdtemp(prefix="muster-agent-scale-")
    env = dict(os.environ)
    env.setdefault("MUSTER_STATE_DIR", os.path.join(tmp, "state"))
    systems = [("muster", lambda: run_muster(
        "muster", a.bin, worker, a.workers, a.window, tmp, env, a.timeout))]
    if a.compare_bin:
        cb = os.path.abspath(a.compare_bin)
        systems.append(("muster (compare)", lambda: run_muster(
            "muster-compare", cb, worker, a.workers, a.window, tmp, env,
            a.timeout)))
    if torch_ok:
        systems.append(("torchrun", lambda: run_torchrun(
            a.python, worker, a.workers, a.window, tmp, env, a.timeout)))

    print("one agent, %d workers (launch_worker --idle), CPU over %g s of "
          "idle workers, median of %d" % (a.workers, a.window, a.reps))
    print("  muster:   %s" % os.path.join(a.bin, "muster"))
    if a.compare_bin:
        print("  compare:  %s" % os.path.join(cb, "muster"))
    print("  worker:   %s" % worker)
    if not torch_ok:
        print("  torchrun: skipped (%s)" % ("--no-torchrun" if a.no_torchrun
                                           else "no torch in %s" % a.python))
    try:
        with open("/proc/loadavg") as f:
            print("  load before: %s" % " ".join(f.read().split()[:3]))
    except OSError:
        pass
    results = {}
    try:
        for _ in range(a.reps):
            for name, fn in systems:
                results.setdefault(name, []).append(fn())
    except Broken as e:
        print("BROKEN: %s" % e)
        return 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    def med(name, k):
        v = [r[k] for r in results.get(name, []) if r.get(k) is not None]
        return statistics.median(v) if v else None

    names = [s[0] for s in systems]
    rows = [("launch -> last main()", "launch_main", fmt_s),
            ("job.start -> last main()", "job_main", fmt_s),
            ("job.start -> all running", "job_running", fmt_s),
            ("agent CPU while idle", "cpu", lambda v: "-" if v is None
             else "%.2f %%" % v),
            ("helpers' CPU while idle", "helpers_cpu", lambda v: "-"
             if v is None else "%.2f %%" % v),
            ("agent RSS", "rss", lambda v: "-" if v is None
             else "%.1f MiB" % v)]
    print()
    print("%-26s" % "" + "".join("%18s" % nm for nm in names))
    for label, key, f in rows:
        print("%-26s" % label + "".join("%18s" % f(med(nm, key))
                                        for nm in names))
    ms, mc = med("muster", "job_main"), med("muster", "cpu")
    print()
    print("targets (issue 12): all started within 1 s of the job.start: "
          "%s (%s); agent CPU while idle under 2 %% of a core: %s (%s)"
          % ("met" if ms is not None and ms < 1 else "NOT met", fmt_s(ms),
             "met" if mc is not None and mc < 2 else "NOT met",
             "-" if mc is None else "%.2f %%" % mc))
    tl, ml = med("torchrun", "launch_main"), med("muster", "launch_main")
    if tl and ml:
        print("launch -> last main(): torchrun / muster = %.2fx (above 1: "
              "muster is faster)" % (tl / ml))
    tc = med("torchrun", "cpu")
    if tc is not None and mc is not None:
        print("agent CPU while idle: torchrun %.2f %% vs muster %.2f %%"
              % (tc, mc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
