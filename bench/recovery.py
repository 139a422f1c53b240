#!/usr/bin/python3
"""recovery.py -- how fast a gang recovers from a failure: muster against torchrun.

Four measurements, side by side in one invocation:

 (a) restart mode, C worker.  One worker of a running gang SIGKILLs itself;
     the figure is the time from that crash until every worker runs again:
     max over ranks of (the rank's first start after the crash) - crash.
     Every worker writes the CLOCK_REALTIME instant at which its program
     began to $BENCH_DIR/start.<epoch>.<rank> (the C worker,
     bench/recovery_worker, at main() entry); the crashing rank (1) waits
     until every rank runs, then --crash-ms more, writes the instant to
     $BENCH_DIR/crash and kills itself.  The crash file is created with
     O_EXCL, so the restarted worker does not crash again.
       1x4   muster run --nproc-per-node 4 --max-restarts 1 (embedded)
       4x1   a musterd on an ephemeral port, started once before anything is
             timed, and 4 `muster run --rdzv-endpoint ... --nnodes 4
             --nproc-per-node 1 --rdzv-id J --node-id J-nI --max-restarts 1`
     Measured twice: with recovery_worker (links libmuster, whose libzmq
     dependency chain makes exec-to-main() take about 4 ms instead of 0.6 ms
     on an idle 2-core machine) and with recovery_worker_bare (the same
     source built without libmuster: libc only), the launcher's own share.
 (b) the same with a Python worker (this very file, run as
     `recovery.py worker`: it reads time.time() as its first statement), under
     muster (MUSTER_PYTHON=--python) and under torchrun (same interpreter, same
     script, --max_restarts 1, torchrun's defaults otherwise, notably
     --monitor_interval 5 s unless --torchrun-monitor is given):
       1x4   --standalone's rendezvous (c10d, localhost, fresh run id) on a
             free port rather than the fixed 29400 (--torchrun-standalone
             passes the flag itself)
       NxK   --torchrun-multi (default 4x1): N torchrun processes with
             --rdzv_backend c10d on 127.0.0.1:PORT (torch 1.13: every agent
             first tries to host the store, the first to bind does, the
             others fall back to clients)
     ratio = torchrun (Python) / muster (Python).
 (c) in-place mode (--elastic-mode in-place), C worker linked with libmuster,
     1x4 and 4x1: the survivors keep running; each registers a membership
     callback and also polls muster_worker_membership_changed() every 1 ms,
     and writes both instants to $BENCH_DIR/member.<rank>.  Figures: max over
     survivors of (callback instant - crash), of (poll instant - crash), and
     the time until the replacement of the crashed rank runs.
 (d) agent loss, 4x1 against the musterd (started with --log-level info;
     heartbeat contract left at its default, 200 ms x 3 misses), with
     --nnodes 3:4 so the gang can re-form without the lost node: once every
     worker runs, the benchmark SIGKILLs one agent's `muster run` process (by
     its pid) and measures from the kill until musterd logs NODE-LOST for that
     node (its stderr is read through a pipe and every line time-stamped on
     arrival), the "silent for N ms" musterd reports, and the time until every
     worker of the re-formed gang (3 nodes) runs.  The killed agent's run
     directory (/tmp/muster-XXXXXX, which it cannot remove itself) is removed.

Medians of --reps repetitions (--torchrun-reps for torchrun, which is slow),
after --warmup discarded runs (none for torchrun); the cells are interleaved
within each repetition so drift hits all of them alike.

A benchmark, not a test: prints figures and ratios, exits 0 whatever they
are, and non-zero only if a muster run broke (a launcher failed, a worker or
a file is missing, a run timed out).  A torchrun run that fails is reported
as the baseline's failure and does not change the exit status.  Standard
library only; run it with the interpreter that has torch (/usr/bin/python3 on
Debian), which also runs the Python workers.
"""
import time

_T0_US = time.time_ns() // 1000  # the Python worker's start: first statement

import os  # noqa: E402  (after the clock read on purpose)
import sys  # noqa: E402


# --------------------------------------------------------------- the worker
def _env_int(name, dflt):
    v = os.environ.get(name, "")
    return int(v) if v.strip() else dflt


def _put(d, name, text):
    tmp = os.path.join(d, "%s.tmp.%d" % (name, os.getpid()))
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, os.path.join(d, name))


def py_worker():
    """Same logic as recovery_worker.c (restart mode only)."""
    d = os.environ["BENCH_DIR"]
    rank = int(os.environ["RANK"])
    world = _env_int("WORLD_SIZE", 1)
    epoch = _env_int("MUSTER_EPOCH", -1)
    if epoch < 0:
        epoch = _env_int("TORCHELASTIC_RESTART_COUNT", 0) + 1
    _put(d, "start.%d.%d" % (epoch, rank), "%d\n" % _T0_US)
    crash_rank = _env_int("BENCH_CRASH_RANK", 1)
    crash_ms = _env_int("BENCH_CRASH_MS", 300)
    run_ms = _env_int("BENCH_RUN_MS", 2000)
    after_ms = _env_int("BENCH_AFTER_MS", 100)
    late = (os.path.exists(os.path.join(d, "crash"))
            or os.path.exists(os.path.join(d, "lost")))
    if not late and rank == crash_rank:
        limit = time.time() + 30
        r = 0
        while r < world and time.time() < limit:
            if os.path.exists(os.path.join(d, "start.%d.%d" % (epoch, r))):
                r += 1
            else:
                time.sleep(0.001)
        time.sleep(crash_ms / 1e3)
        try:
            fd = os.open(os.path.join(d, "crash"),
                         os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            fd = None
        if fd is not None:
            os.write(fd, b"%d %d %d\n" % (time.time_ns() // 1000, epoch, rank))
            os.close(fd)
            import signal
            os.kill(os.getpid(), signal.SIGKILL)
    left = _T0_US / 1e6 + (after_ms if late else run_ms) / 1e3 - time.time()
    if left > 0:
        time.sleep(left)
    return 0


# ------------------------------------------------------------ the benchmark
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


def free_port():
    from launchers import free_port as fp  # the script's dir
    return fp()


class Broken(Exception):
    """A run that did not do what it should (not a slow one)."""


def read_us(path):
    with open(path) as f:
        return int(f.read().split()[0])


def starts(rdir):
    """{epoch: {rank: seconds}} from the start files of one run."""
    out = {}
    for name in os.listdir(rdir):
        p = name.split(".")
        if len(p) == 3 and p[0] == "start":
            out.setdefault(int(p[1]), {})[int(p[2])] = read_us(
                os.path.join(rdir, name)) / 1e6
    return out


class Musterd:
    """One musterd for every multi-agent muster run, started before anything
    is timed; its stderr is read line by line and time-stamped on arrival."""

    def __init__(self, b):
        import re
        import subprocess
        import threading
        self.re = re.compile(r"NODE-LOST node (\S+) silent for (\d+) ms")
        epf = os.path.join(b.tmp, "musterd.endpoints")
        self.state = os.path.join(b.tmp, "state")
        self.logf = open(os.path.join(b.tmp, "musterd.log"), "wb")
        self.lost = {}   # node id -> (arrival time, silent ms)
        self.cv = threading.Condition()
        self.p = subprocess.Popen(
            [os.path.join(b.a.bin, "musterd"), "--agent-bind",
             "tcp://127.0.0.1:*", "--ctl-bind", "none", "--endpoints-file",
             epf, "--state-dir", self.state, "--log-level", "info"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        self.t = threading.Thread(target=self.reader, daemon=True)
        self.t.start()
        for _ in range(1000):
            if os.path.exists(epf):
                break
            if self.p.poll() is not None:
                raise Broken("musterd exited with %s at start"
                              % self.p.returncode)
            time.sleep(0.01)
        else:
            raise Broken("musterd wrote no endpoints file in 10 s")
        with open(epf) as f:
            agent = f.readline().split()[1]  # "agent tcp://127.0.0.1:PORT"
        self.ep = agent.split("//", 1)[1]

    def reader(self):
        for line in iter(self.p.stderr.readline, b""):
            t = time.time()
            self.logf.write(line)
            m = self.re.search(line.decode(errors="replace"))
            if m:
                with self.cv:
                    self.lost[m.group(1)] = (t, int(m.group(2)))
                    self.cv.notify_all()
        self.logf.close()

    def wait_lost(self, node, timeout):
        with self.cv:
            self.cv.wait_for(lambda: node in self.lost, timeout)
            return self.lost.get(node)

    def close(self):
        import signal
        import subprocess
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.t.join(timeout=5)


class Bench:
    def __init__(self, a):
        import tempfile
        self.a = a
        self.tmp = tempfile.mkdtemp(prefix="muster-recovery-bench.")
        self.seq = 0
        self.musterd = None
        self.kept = False

    def daemon(self):
        if self.musterd is None:
            self.musterd = Musterd(self)
        return self.musterd.ep

    # ------------------------------------------------------- one run
    def run(self, name, argvs, env_extra, during=None, may_die=()):
        """Start the launchers `argvs` back to back, call during(procs,
        rdir) if given, wait for all; returns rdir.  Launchers whose index is
        in may_die may exit with any status."""
        from launchers import LauncherGroup, log_tails  # the script's dir
        rdir = os.path.join(self.tmp, "r%04d" % self.seq)
        env = dict(os.environ)
        env["BENCH_DIR"] = rdir
        # job secrets and control sockets of muster run: ours, not
        # /var/lib/muster (root) or the user's home
        env["MUSTER_STATE_DIR"] = os.path.join(self.tmp, "state")
        env["BENCH_CRASH_MS"] = str(self.a.crash_ms)
        env.update(env_extra)
        group = LauncherGroup(argvs(rdir), rdir, env, self.a.timeout)
        procs = group.procs
        err = None
        try:
            if during is not None:
                during(procs, rdir)
        except Broken as ex:
            err = str(ex)
        self.wall = group.wait() - group.t0
        if group.expired.is_set():
            err = "timed out after %.0f s" % self.a.timeout
        bad = group.failed(may_die)
        if bad and err is None:
            err = "launcher exit codes (index, code) %s" % bad
        if err:
            self.kept = True
            tail = log_tails(rdir, [i for i, _ in bad] or [0], 800)
            raise Broken("%s: %s (files in %s)\n%s" % (name, err, rdir, tail))
        return rdir

    def done(self, rdir):
        import shutil
        if not self.a.keep:
            shutil.rmtree(rdir, ignore_errors=True)

    def fresh(self):
        self.seq += 1
        rdir = os.path.join(self.tmp, "r%04d" % self.seq)
        os.mkdir(rdir)
        return self.seq

    # ----------------------------------------------- launcher commands
    def muster_cmds(self, prog, nodes, nproc, extra=(), nnodes=None):
        exe = os.path.join(self.a.bin, "muster")
        seq = self.fresh()
        job = "rb%d" % seq
        common = ["--quiet", "--nproc-per-node", str(nproc),
                  "--max-restarts", "1"] + list(extra)
        if nodes == 1:
            return lambda rdir: [[exe, "run"] + common + ["--"] + prog], job
        ep = self.daemon()

        def cmds(rdir):
            return [[exe, "run"] + common + [
                "--join-token-file",
                os.path.join(self.musterd.state, "join-token"),
                "--connect-timeout", "10s", "--rdzv-endpoint", ep,
                "--nnodes", nnodes or str(nodes), "--rdzv-id", job,
                "--node-id", "%s-n%d" % (job, i), "--"] + prog
                for i in range(nodes)]
        return cmds, job

    def torchrun_cmds(self, nodes, nproc):
        py = self.a.python
        self.fresh()
        common = ["--nproc_per_node", str(nproc), "--max_restarts", "1",
                  "--redirects=1", "--tee=1"]
        if self.a.torchrun_monitor is not None:
            common += ["--monitor_interval", str(self.a.torchrun_monitor)]
        script = [os.path.abspath(__file__), "worker"]
        if nodes == 1 and self.a.torchrun_standalone:
            return lambda rdir: [[py, "-m", "torch.distributed.run",
                                  "--standalone"] + common + [
                "--log_dir", os.path.join(rdir, "tlog")] + script]
        # 1 node: what --standalone does in torch 1.13 (run.py: c10d,
        # localhost:29400, a fresh run id), on a free port instead of 29400:
        # a torchrun that finds 29400 taken (another benchmark's torchrun,
        # a musterd on its default port) silently becomes a client of that
        # store and breaks with "Broken pipe" when its owner exits.
        port = free_port()
        job = "t%d.%d" % (os.getpid(), self.seq)
        host = "localhost" if nodes == 1 else "127.0.0.1"
        return lambda rdir: [
            [py, "-m", "torch.distributed.run", "--nnodes", str(nodes),
             "--rdzv_backend", "c10d", "--rdzv_endpoint",
             "%s:%d" % (host, port), "--rdzv_id", job] + common
            + ["--log_dir", os.path.join(rdir, "tlog%d" % i)] + script
            for i in range(nodes)]

    # ------------------------------------------------------ the cells
    def restart(self, system, lang, nodes, nproc):
        """(a)/(b): seconds from the crash until every worker runs again."""
        # The first attempt's workers are stopped by the restart; they would
        # exit on their own only if it never came.  torchrun notices the
        # crash at its next monitor tick, up to --monitor_interval later.
        env = {"BENCH_RUN_MS": "60000" if system == "torchrun" else "10000",
               "BENCH_AFTER_MS": str(self.a.after_ms)}
        if system == "torchrun":
            cmds = self.torchrun_cmds(nodes, nproc)
        else:
            prog = {"C": [self.a.worker], "Cbare": [self.a.bare_worker],
                    "Py": [os.path.abspath(__file__), "worker"]}[lang]
            if lang == "Py":
                env["MUSTER_PYTHON"] = self.a.python
            cmds, _ = self.muster_cmds(prog, nodes, nproc)
        rdir = self.run("%s %s %dx%d restart" % (system, lang, nodes, nproc),
                        cmds, env)
        crash_us, crash_epoch, _ = (int(x) for x in open(
            os.path.join(rdir, "crash")).read().split())
        crash = crash_us / 1e6
        # Every rank's first start after the crash.  Not simply the next
        # epoch's files: torchrun's TORCHELASTIC_RESTART_COUNT counts only
        # the restarts its own agent made after a failure, so the workers of
        # the other agents, restarted because the membership changed, start
        # again with count 0 (and overwrite their first start file).  Every
        # worker of the first attempt was running before the crash (the
        # crashing rank waits for all), so a start after it is a restart.
        after = {}
        for e, ranks in starts(rdir).items():
            for r, t in ranks.items():
                if t > crash:
                    after[r] = min(t, after.get(r, t))
        world = nodes * nproc
        if sorted(after) != list(range(world)):
            raise Broken("%s %s %dx%d: ranks %s started after the crash, "
                         "want 0-%d (files in %s)" % (
                             system, lang, nodes, nproc, sorted(after),
                             world - 1, rdir))
        self.done(rdir)
        return {"all": max(after.values()) - crash,
                "first": min(after.values()) - crash, "wall": self.wall}

    def inplace(self, nodes, nproc):
        """(c): seconds from the crash until the survivors see the new
        membership (callback, 1 ms poll) and until the replacement runs."""
        env = {"BENCH_INPLACE": "1", "BENCH_RUN_MS": "5000",
               "BENCH_AFTER_MS": str(self.a.after_ms)}
        cmds, _ = self.muster_cmds([self.a.worker], nodes, nproc,
                                   ["--elastic-mode", "in-place"])
        rdir = self.run("in-place %dx%d" % (nodes, nproc), cmds, env)
        crash_us, crash_epoch, crash_rank = (int(x) for x in open(
            os.path.join(rdir, "crash")).read().split())
        crash = crash_us / 1e6
        world = nodes * nproc
        cb, poll = [], []
        for r in range(world):
            if r == crash_rank:
                continue
            try:
                v = open(os.path.join(rdir, "member.%d" % r)).read().split()
            except OSError:
                raise Broken("in-place %dx%d: survivor %d saw no new "
                             "membership (files in %s)" % (nodes, nproc, r,
                                                          rdir))
            cb.append(int(v[0]) / 1e6)
            poll.append(int(v[1]) / 1e6)
        st = starts(rdir)
        later = [st[e][crash_rank] for e in st
                 if e > crash_epoch and crash_rank in st[e]]
        if not later:
            raise Broken("in-place %dx%d: no replacement of rank %d ran "
                         "(files in %s)" % (nodes, nproc, crash_rank, rdir))
        # In in-place mode the survivors must not have been restarted.
        if any(len(st[e]) > 1 for e in st if e > crash_epoch):
            raise Broken("in-place %dx%d: survivors were restarted (epochs "
                         "%s; files in %s)" % (nodes, nproc, {
                             e: sorted(st[e]) for e in st}, rdir))
        self.done(rdir)
        return {"cb": max(cb) - crash, "poll": max(poll) - crash,
                "repl": min(later) - crash}

    def agent_loss(self, nodes=4):
        """(d): SIGKILL one agent; seconds until musterd logs NODE-LOST and
        until the re-formed gang runs."""
        env = {"BENCH_CRASH_RANK": "-1", "BENCH_RUN_MS": "10000",
               "BENCH_AFTER_MS": str(self.a.after_ms)}
        cmds, job = self.muster_cmds([self.a.worker], nodes, 1,
                                     nnodes="%d:%d" % (nodes - 1, nodes))
        victim = nodes - 1
        node_id = "%s-n%d" % (job, victim)
        out = {}

        def during(procs, rdir):
            limit = time.time() + self.a.timeout / 2
            while len(starts(rdir).get(1, {})) < nodes:
                if time.time() > limit:
                    raise Broken("agent loss: the gang never ran")
                if any(p.poll() is not None for p in procs):
                    raise Broken("agent loss: a launcher exited early")
                time.sleep(0.005)
            time.sleep(self.a.crash_ms / 1e3)
            open(os.path.join(rdir, "lost"), "w").close()
            t_kill = time.time()
            procs[victim].kill()  # SIGKILL to that launcher's pid only
            got = self.musterd.wait_lost(node_id, self.a.timeout / 2)
            if got is None:
                raise Broken("agent loss: musterd never logged NODE-LOST for "
                             "%s" % node_id)
            out["t_kill"] = t_kill
            out["lost"] = got[0] - t_kill
            out["silent"] = got[1] / 1e3
        rdir = self.run("agent loss %dx1" % nodes, cmds, env, during,
                        may_die=(victim,))
        st = starts(rdir)
        later = sorted(e for e in st if e > 1)
        if not later or len(st[later[0]]) != nodes - 1:
            raise Broken("agent loss: epochs %s; the re-formed gang did not "
                         "run %d workers (files in %s)" % (
                             {e: sorted(st[e]) for e in st}, nodes - 1, rdir))
        out["reformed"] = max(st[later[0]].values()) - out["t_kill"]
        self.remove_agent_dirs(rdir)
        self.done(rdir)
        return out

    def remove_agent_dirs(self, rdir):
        """The SIGKILLed agent could not remove its run directory (the ipc
        socket's /tmp/muster-XXXXXX); the surviving ones did.  The workers
        recorded their agent's endpoint: remove what is left of those."""
        import re
        import shutil
        for name in os.listdir(rdir):
            if not name.startswith("start."):
                continue
            with open(os.path.join(rdir, name)) as f:
                tok = f.read().split()
            m = re.match(r"ipc://(/tmp/muster-[A-Za-z0-9]{6})/[^/]+$",
                         tok[1] if len(tok) > 1 else "")
            if m and os.path.isdir(m.group(1)):
                shutil.rmtree(m.group(1), ignore_errors=True)

    def close(self):
        import shutil
        if self.musterd is not None:
            self.musterd.close()
        if self.kept:
            print("files of the broken runs kept in %s" % self.tmp)
        elif not self.a.keep:
            shutil.rmtree(self.tmp, ignore_errors=True)
        else:
            print("run directories kept in %s" % self.tmp)


def have_torchrun(python):
    from launchers import have_torchrun as ht  # the script's dir
    return ht(python)


def fmt(v):
    if v is None:
        return "-"
    if v < 0.1:
        return "%.1f ms" % (v * 1e3)
    if v < 10:
        return "%.0f ms" % (v * 1e3)
    return "%.1f s" % v


def main():
    import argparse
    import statistics
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", help="directory with muster and musterd "
                    "(default: build-bench/bin or build/bin of the repo)")
    ap.add_argument("--worker", help="the C worker, linked with libmuster "
                    "(default: <bin>/../bench/recovery_worker)")
    ap.add_argument("--bare-worker", help="the same C worker built without "
                    "libmuster (default: <bin>/../bench/recovery_worker_bare; "
                    "its rows are skipped if it does not exist)")
    ap.add_argument("--python", default="/usr/bin/python3" if
                    os.path.exists("/usr/bin/python3") else sys.executable,
                    help="interpreter of the Python worker and of torchrun")
    ap.add_argument("--reps", type=int, default=5,
                    help="repetitions per muster cell (default %(default)s)")
    ap.add_argument("--torchrun-reps", type=int, default=3,
                    help="repetitions per torchrun cell (default "
                    "%(default)s; a run takes 13 s (1x4) to 26 s (4x1))")
    ap.add_argument("--warmup", type=int, default=1,
                    help="discarded runs per muster cell (default %(default)s)")
    ap.add_argument("--nodes", type=int, default=4,
                    help="agents of the multi-agent configs (default "
                    "%(default)s, one worker each)")
    ap.add_argument("--torchrun-multi", default="4x1",
                    help="torchrun's multi-agent config AGENTSxWORKERS "
                    "(default %(default)s)")
    ap.add_argument("--torchrun-monitor", type=float, default=None,
                    help="torchrun --monitor_interval in seconds (default: "
                    "torchrun's own, 5)")
    ap.add_argument("--torchrun-standalone", action="store_true",
                    help="1x4: pass --standalone itself (fixed port 29400) "
                    "rather than its equivalent on a free port")
    ap.add_argument("--crash-ms", type=int, default=300,
                    help="crash this long after every worker runs "
                    "(default %(default)s)")
    ap.add_argument("--after-ms", type=int, default=100,
                    help="how long restarted workers run (default "
                    "%(default)s)")
    ap.add_argument("--parts", default="a,b,c,d",
                    help="which measurements (default %(default)s)")
    ap.add_argument("--timeout", type=float, default=90,
                    help="seconds before one run counts as broken")
    ap.add_argument("--no-torchrun", action="store_true")
    ap.add_argument("--keep", action="store_true",
                    help="keep the per-run directories and logs")
    a = ap.parse_args()

    from launchers import find_bin  # the script's dir
    a.bin = find_bin(a.bin, REPO, "recovery.py")
    bench_dir = os.path.join(os.path.dirname(a.bin), "bench")
    if a.worker is None:
        a.worker = os.path.join(bench_dir, "recovery_worker")
    a.worker = os.path.abspath(a.worker)
    if not os.access(a.worker, os.X_OK):
        sys.exit("recovery.py: no C worker at %s (cmake --build ... --target "
                 "recovery_worker) or pass --worker" % a.worker)
    if a.bare_worker is None:
        cand = os.path.join(bench_dir, "recovery_worker_bare")
        a.bare_worker = cand if os.access(cand, os.X_OK) else ""
    elif not os.access(a.bare_worker, os.X_OK):
        sys.exit("recovery.py: no bare C worker at %s" % a.bare_worker)
    if a.bare_worker:
        a.bare_worker = os.path.abspath(a.bare_worker)
    parts = set(p.strip() for p in a.parts.split(",") if p.strip())
    N = a.nodes
    tn, tk = (int(x) for x in a.torchrun_multi.lower().split("x"))

    torch_ok = ("b" in parts and not a.no_torchrun
                and have_torchrun(a.python))
    b = Bench(a)
    print("recovery benchmark: median of %d runs per muster cell (+%d "
          "warm-up)%s; %s, %d CPUs"
          % (a.reps, a.warmup, ", %d per torchrun cell" % a.torchrun_reps
             if torch_ok else "", os.uname().release, os.cpu_count()))
    print("  load average %.2f %.2f %.2f at the start" % os.getloadavg())
    print("  muster: %s" % a.bin)
    print("  C worker: %s (links libmuster)" % a.worker)
    print("  bare C worker: %s" % (a.bare_worker + " (libc only)"
                                   if a.bare_worker else "none; rows skipped"))
    print("  Python worker: %s %s worker" % (a.python,
                                             os.path.abspath(__file__)))
    if "b" in parts:
        if a.no_torchrun:
            print("  torchrun: skipped (--no-torchrun)")
        elif not torch_ok:
            print("  torchrun: not available with %s (no torch); column "
                  "skipped" % a.python)
        else:
            print("  torchrun: %s -m torch.distributed.run, monitor_interval "
                  "%s; multi-agent %dx%d c10d" % (
                      a.python, "%g s" % a.torchrun_monitor
                      if a.torchrun_monitor is not None else "5 s (default)",
                      tn, tk))
            print("  torchrun 1x4: %s" % (
                "--standalone (port 29400)" if a.torchrun_standalone else
                "--standalone's c10d rendezvous on a free port instead of "
                "29400 (--torchrun-standalone: the flag itself)"))
    print("  crash %d ms after every worker runs; restarted workers run "
          "%d ms" % (a.crash_ms, a.after_ms))

    # cells: key -> (factory, is_torchrun)
    cells = []
    if "a" in parts:
        for lang in ("C", "Cbare") if a.bare_worker else ("C",):
            cells += [(("restart", lang, 1, 4),
                       lambda lang=lang: b.restart("muster", lang, 1, 4)),
                      (("restart", lang, N, 1),
                       lambda lang=lang: b.restart("muster", lang, N, 1))]
    if "b" in parts:
        cells += [(("restart", "Py", 1, 4), lambda: b.restart("muster", "Py", 1, 4)),
                  (("restart", "Py", N, 1), lambda: b.restart("muster", "Py", N, 1))]
        if torch_ok:
            cells += [(("torchrun", "Py", 1, 4),
                       lambda: b.restart("torchrun", "Py", 1, 4)),
                      (("torchrun", "Py", tn, tk),
                       lambda: b.restart("torchrun", "Py", tn, tk))]
    if "c" in parts:
        cells += [(("inplace", "C", 1, 4), lambda: b.inplace(1, 4)),
                  (("inplace", "C", N, 1), lambda: b.inplace(N, 1))]
    if "d" in parts:
        cells += [(("loss", "C", N, 1), lambda: b.agent_loss(N))]

    res = {k: [] for k, _ in cells}
    broken = []
    t_start = time.time()
    rc = 0
    try:
        if any(k[2] > 1 for k, _ in cells if k[0] != "torchrun"):
            b.daemon()
        nrounds = a.warmup + a.reps
        for rep in range(nrounds):
            for key, factory in cells:
                if key[0] == "torchrun":
                    # torchrun: no warm-up, --torchrun-reps runs spread over
                    # the last repetitions.
                    if rep < nrounds - a.torchrun_reps:
                        continue
                try:
                    v = factory()
                except Broken as ex:
                    print("\n%s: %s" % ("BASELINE BROKEN" if key[0] ==
                                         "torchrun" else "BROKEN", ex),
                          file=sys.stderr)
                    broken.append(key)
                    continue
                if key[0] == "torchrun" or rep >= a.warmup:
                    res[key].append(v)
                sys.stdout.write(".")
                sys.stdout.flush()
        sys.stdout.write("\n")
    finally:
        b.close()

    def med(key, field):
        v = [r[field] for r in res.get(key, [])]
        return statistics.median(v) if v else None

    def rng(key, field):
        v = [r[field] for r in res.get(key, [])]
        return (min(v), max(v)) if v else None

    def cnt(key):
        n = broken.count(key)
        return " [%d!]" % n if n else ""

    W = 54
    print()
    print("Recovery, median of %d muster runs (%d torchrun runs) per cell"
          % (a.reps, a.torchrun_reps if torch_ok else 0))
    hdr = "%-*s %11s %16s %18s %6s" % (W, "config", "muster (C)",
                                       "muster (Python)", "torchrun (Python)",
                                       "ratio")
    print(hdr)
    print("-" * len(hdr))

    def row(label, c="-", py="-", tr="-", ratio="-"):
        print("%-*s %11s %16s %18s %6s" % (W, label, c, py, tr, ratio))
    rows = []
    tcfg = {1: (1, 4), N: (tn, tk)}
    if "a" in parts or "b" in parts:
        for n, k, label in ((1, 4, "1 node x 4 (embedded)"),
                            (N, 1, "%d agents x 1 (musterd)" % N)):
            tkey = ("torchrun", "Py") + tcfg[n]
            ck, bk, pk = (("restart", x, n, k) for x in ("C", "Cbare", "Py"))
            c, py = med(ck, "all"), med(pk, "all")
            tr = med(tkey, "all") if torch_ok else None
            tl = fmt(tr) + cnt(tkey)
            if tr is not None and tkey[2:] != (n, k):
                tl += " (%dx%d)" % tkey[2:]
            row("restart %s: crash -> all run" % label,
                fmt(c) + cnt(ck), fmt(py) + cnt(pk), tl,
                "%.0fx" % (tr / py) if tr and py else "-")
            if a.bare_worker and "a" in parts:
                row("  same, C worker without libmuster",
                    fmt(med(bk, "all")) + cnt(bk))
            rows.append((n, k, c, py, tr))
    if "c" in parts:
        for n, k, label in ((1, 4, "1x4"), (N, 1, "%dx1 (musterd)" % N)):
            key = ("inplace", "C", n, k)
            for field, what in (("cb", "survivors' callback"),
                                ("poll", "survivors' 1 ms poll"),
                                ("repl", "replacement runs")):
                row("in-place %s: crash -> %s" % (label, what),
                    fmt(med(key, field)) + cnt(key))
    if "d" in parts:
        key = ("loss", "C", N, 1)
        for field, what in (("lost", "kill -9 agent -> NODE-LOST logged"),
                            ("silent", "  musterd's 'silent for'"),
                            ("reformed", "kill -9 agent -> %d workers run"
                             % (N - 1))):
            row("%dx1 (musterd): %s" % (N, what),
                fmt(med(key, field)) + cnt(key))
    print("ratio = torchrun (Python) / muster (Python), same worker script")
    if broken:
        print("[n!] = n runs of that cell broke (see BROKEN above); the "
              "median is over the others")

    print()
    print("Ranges and targets (informational; a benchmark never fails on "
          "timing):")

    def target(label, key, field, limit):
        m, r = med(key, field), rng(key, field)
        if m is None:
            return
        print("  %-50s %-7s median %s, range %s-%s (target < %s)" % (
            label, "met" if m < limit else "NOT met", fmt(m), fmt(r[0]),
            fmt(r[1]), fmt(limit)))
    for lang, what in (("C", "C"), ("Cbare", "bare C")):
        target("restart 1x4, %s: crash -> all run" % what,
               ("restart", lang, 1, 4), "all", 0.020)
        target("restart %dx1, %s: crash -> all run" % (N, what),
               ("restart", lang, N, 1), "all", 0.100)
    for n, k in ((1, 4), (N, 1)):
        for field, what in (("cb", "callback"), ("poll", "1 ms poll")):
            target("in-place %dx%d: crash -> survivors see it (%s)"
                   % (n, k, what), ("inplace", "C", n, k), field, 0.020)
    target("agent loss: kill -> NODE-LOST", ("loss", "C", N, 1), "lost", 1.0)
    for n, k, c, py, tr in rows:
        if tr and py:
            want = 3 if n == 1 else 10
            print("  %-50s %-7s %.0fx (target >= %dx)" % (
                "restart %dx%d, Python: faster than torchrun" % (n, k),
                "met" if tr / py >= want else "NOT met", tr / py, want))
    if torch_ok:
        for key in (("torchrun", "Py", 1, 4), ("torchrun", "Py", tn, tk)):
            w = med(key, "wall")
            if w is not None:
                print("  (torchrun %dx%d: one run takes %.0f s end to end)"
                      % (key[2], key[3], w))
    print("total time %.0f s; load average %.2f %.2f %.2f at the end"
          % ((time.time() - t_start,) + os.getloadavg()))
    ours = [k for k in broken if k[0] != "torchrun"]
    theirs = [k for k in broken if k[0] == "torchrun"]
    if theirs:
        print("\ntorchrun runs that failed (the baseline's failure, not "
              "muster's; not counted in the exit status): %s"
              % ", ".join("%dx%d" % k[2:] for k in theirs))
    if ours:
        print("\nbroken runs: %s" % ", ".join("%s %s %dx%d" % k
                                               for k in ours))
        rc = 1
    return rc


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "worker":
        sys.exit(py_worker())
    sys.exit(main())
