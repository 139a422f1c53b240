#!/usr/bin/python3
"""failover.py -- how fast a standalone musterd killed with SIGKILL serves
again when restarted on its state directory, and whether its jobs survive.

Three measurements, in one invocation:

 (a) baseline: a musterd started on a state directory that has its keys
     but no journal; the figure is the time from spawning it until it
     answers a control request (ctl.status on its local socket: with pyzmq
     on one connection, else `muster status` polled back to back).
 (b) the same musterd started on a state directory whose journal holds
     --jobs jobs' history (bench/journal_gen: created, rendezvous, an epoch,
     worker exits, a checkpoint, finished, and retired but for the last 64,
     about 8 records a job, all in one segment: the worst case, since a live
     musterd compacts every 20,000 records).  Same figure, plus the replay
     time musterd itself logs (JOURNAL-REPLAY).  ratio = (b) / (a).
 (c) failover with a job running: musterd, and 2 nodes (`muster run
     --rdzv-endpoint ... --nnodes 2`) training ckpt_train with checkpoints
     every 300 ms; once a checkpoint has committed, musterd is killed with
     SIGKILL, journal_gen puts the --jobs history in front of its journal's
     live segment (untimed: the restart delay of a supervisor), and musterd
     is started again on the same state directory and agent port.  Figures:
     spawn -> answering a control request, spawn -> every node of the job
     back (JOB-CONTINUES; bounded below by the agents' coordinator-loss
     detection, heartbeat x misses), worker restarts (worker starts seen
     minus the world size; the target is 0) and whether any rank rolled
     back to a checkpoint, and the job's exit status.
 (d) standby failover: a primary musterd (--standby-bind) on the (b)
     history, a standby musterd (--standby-of, a copy of the primary's
     keys, --standby-lease) following its journal, and the 2-node job of
     (c) whose nodes name the standby (`muster run --standby`).  Once a
     checkpoint has committed the primary is killed with SIGKILL and
     nothing is restarted: figures are kill -> the standby answering
     ctl.status (lease + replay + restore), kill -> every node back with
     the standby (JOB-CONTINUES), worker restarts (target 0), ranks rolled
     back, the job's exit status.

Medians of --reps repetitions for (a) and (b); (c) runs --failover-reps
times and prints each.  A benchmark, not a test: it prints figures and
ratios and exits 0 whatever they are, non-zero only if something broke (a
musterd did not serve, a node failed, a phase timed out), saying what and
keeping the logs.  Standard library only.
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
import threading
import time


class Daemon:
    """A musterd whose stderr lines are time-stamped as they arrive."""

    def __init__(self, args, state, agent_bind, log_path, extra=()):
        self.lines = []
        self.cv = threading.Condition()
        self.log = open(log_path, "a")
        self.endpoints = os.path.join(state, "endpoints")
        if os.path.exists(self.endpoints):
            os.unlink(self.endpoints)
        argv = [os.path.join(args.bin, "musterd"), "--state-dir", state,
                "--agent-bind", agent_bind, "--ctl-bind", "none",
                "--endpoints-file", self.endpoints, "--heartbeat", "100ms",
                "--log-level", "notice"] + list(extra)
        self.t0 = time.monotonic()
        self.p = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE)
        self.t = threading.Thread(target=self.reader, daemon=True)
        self.t.start()

    def reader(self):
        for raw in self.p.stderr:
            line = raw.decode(errors="replace")
            with self.cv:
                self.lines.append((time.monotonic(), line))
                self.cv.notify_all()
            self.log.write(line)

    def wait_line(self, pattern, timeout):
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self.cv:
            while True:
                for t, line in self.lines:
                    m = rx.search(line)
                    if m:
                        return t, m
                left = deadline - time.monotonic()
                if left <= 0 or self.p.poll() is not None:
                    return None, None
                self.cv.wait(min(left, 0.05))

    def endpoint(self, key, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if os.path.exists(self.endpoints):
                with open(self.endpoints) as f:
                    for line in f:
                        parts = line.split()
                        if len(parts) == 2 and parts[0] == key:
                            return parts[1]
            time.sleep(0.005)
        return None

    def kill(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGKILL)
        self.p.wait()

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()


def fail(msg, *paths):
    print("failover.py: BROKEN: " + msg, file=sys.stderr)
    for p in paths:
        print("  log: " + p, file=sys.stderr)
    sys.exit(1)


# {"v": 1, "t": "ctl.status"} in msgpack (a fixmap of two entries).
STATUS = b"\x82\xa1v\x01\xa1t\xaactl.status"


def time_to_serve_zmq(d, ep):
    """With pyzmq: one DEALER (ZMQ_IMMEDIATE: nothing is queued while no
    musterd listens, a stale socket file included) sends ctl.status as
    soon as a connection exists; the first answer ends the wait."""
    import zmq
    ctx = zmq.Context()
    s = ctx.socket(zmq.DEALER)
    s.setsockopt(zmq.LINGER, 0)
    s.setsockopt(zmq.IMMEDIATE, 1)
    s.setsockopt(zmq.RECONNECT_IVL, 1)
    s.setsockopt(zmq.RECONNECT_IVL_MAX, 1)
    try:
        s.connect(ep)
        deadline = d.t0 + 30
        while time.monotonic() < deadline and d.p.poll() is None:
            try:
                s.send(STATUS, zmq.NOBLOCK)
            except zmq.Again:
                time.sleep(0.0005)
                continue
            if s.poll(100, zmq.POLLIN):
                s.recv_multipart()
                return time.monotonic() - d.t0
        return None
    finally:
        s.close(0)
        ctx.term()


def time_to_serve(args, d, state):
    """Seconds from spawning d until it answers ctl.status on its local
    socket (which lives in the state directory): with pyzmq, on one
    connection; without, by running `muster status` back to back (a
    stale socket file left by a killed musterd makes each of those wait
    a little, so the figure is coarser)."""
    ep = "ipc://" + os.path.join(state, "ctl.sock")
    try:
        import zmq  # noqa: F401
        return time_to_serve_zmq(d, ep)
    except ImportError:
        pass
    muster = os.path.join(args.bin, "muster")
    deadline = d.t0 + 30
    while time.monotonic() < deadline:
        if os.path.exists(ep[6:]):
            r = subprocess.run([muster, "status", "--endpoint", ep],
                               stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
            if r.returncode == 0:
                return time.monotonic() - d.t0
        else:
            time.sleep(0.001)
        if d.p.poll() is not None:
            return None
    return None


def gen(args, state, log):
    r = subprocess.run([args.journal_gen, "--state-dir", state, "--jobs",
                        str(args.jobs)], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT)
    with open(log, "a") as f:
        f.write(r.stdout.decode(errors="replace"))
    if r.returncode != 0:
        fail("journal_gen exited %d" % r.returncode, log)
    return r.stdout.decode(errors="replace").strip()


def replay_ms(d):
    _, m = d.wait_line(r"JOURNAL-REPLAY .*?(\d+) snapshot \+ (\d+) journal "
                       r"record\(s\), (\d+) job\(s\) restored in ([\d.]+) ms "
                       r"\(replay ([\d.]+) ms\)", 5)
    if m is None:
        return None
    return {"records": int(m.group(1)) + int(m.group(2)),
            "jobs": int(m.group(3)), "total_ms": float(m.group(4)),
            "replay_ms": float(m.group(5))}


def cold_start(args, work, rep, with_history, template):
    state = os.path.join(work, "cold-%s-%d" % ("hist" if with_history else "empty", rep))
    shutil.copytree(template, state)
    if not with_history:
        shutil.rmtree(os.path.join(state, "journal"))
    log = os.path.join(work, "musterd-cold.log")
    d = Daemon(args, state, "tcp://127.0.0.1:0", log)
    t = time_to_serve(args, d, state)
    info = replay_ms(d) if with_history else None
    d.stop()
    if t is None:
        fail("musterd on %s did not serve" % state, log)
    shutil.rmtree(state, ignore_errors=True)
    return t, info


def starts(text):
    return re.findall(r"\] rank (\d+) pid (\d+) epoch (\d+) world (\d+)", text)


def failover(args, work, rep):
    state = os.path.join(work, "fo-%d" % rep)
    os.makedirs(state)
    log = os.path.join(work, "musterd-failover-%d.log" % rep)
    d = Daemon(args, state, "tcp://127.0.0.1:0", log)
    agent_ep = d.endpoint("agent")
    if agent_ep is None:
        fail("musterd did not write its endpoints", log)
    port = int(agent_ep.rsplit(":", 1)[1])
    token = open(os.path.join(state, "join-token")).read().strip()
    env = dict(os.environ, MUSTER_JOIN_TOKEN=token,
               MUSTER_STATE_DIR=os.path.join(work, "user-state-%d" % rep))
    ck = os.path.join(work, "ck-%d" % rep)
    nodes = []
    for i in range(2):
        out = open(os.path.join(work, "node%d-%d.out" % (i, rep)), "w")
        err = open(os.path.join(work, "node%d-%d.err" % (i, rep)), "w")
        argv = [os.path.join(args.bin, "muster"), "run", "--rdzv-endpoint",
                "127.0.0.1:%d" % port, "--nnodes", "2", "--nproc-per-node", "1",
                "--rdzv-id", "fo", "--node-id", "n%d" % i, "--ckpt-dir", ck,
                "--ckpt-every", "300ms", "--connect-timeout", "20s", "--",
                args.ckpt_train, "--steps", str(args.steps), "--step-ms", "5"]
        nodes.append((subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                       stdout=out, stderr=err, env=env),
                      out.name, err.name))
    t, _ = d.wait_line(r"CKPT-COMMITTED job fo", 60)
    if t is None:
        for p, _, _ in nodes:
            p.kill()
        fail("the job never committed a checkpoint", log, *[n[2] for n in nodes])
    d.kill()
    t_kill = time.monotonic()
    hist = gen(args, state, log)
    gap = time.monotonic() - t_kill
    d2 = Daemon(args, state, "tcp://127.0.0.1:%d" % port, log)
    serve = time_to_serve(args, d2, state)
    info = replay_ms(d2)
    tc, _ = d2.wait_line(r"JOB-CONTINUES job fo", 60)
    rcs = []
    for p, _, _ in nodes:
        try:
            rcs.append(p.wait(args.steps * 0.005 * 4 + 60))
        except subprocess.TimeoutExpired:
            p.kill()
            rcs.append("timeout")
    d2.stop()
    text = "".join(open(n[1]).read() for n in nodes)
    s = starts(text)
    restarts = len(s) - 2
    rolled = len(re.findall(r"restored step", text))
    if serve is None:
        fail("the restarted musterd did not serve", log)
    return {"serve": serve, "continue": (tc - d2.t0) if tc else None,
            "restarts": restarts, "rolled_back": rolled, "rcs": rcs,
            "gap": gap, "hist": hist, "info": info,
            "epochs": sorted(set(int(x[2]) for x in s))}


def failover_standby(args, work, rep, template):
    pstate = os.path.join(work, "sb-primary-%d" % rep)
    sstate = os.path.join(work, "sb-standby-%d" % rep)
    shutil.copytree(template, pstate)
    os.makedirs(sstate)
    for f in ("server.key", "server.key_secret"):
        shutil.copy2(os.path.join(pstate, f), os.path.join(sstate, f))
    log = os.path.join(work, "musterd-standby-%d.log" % rep)
    d = Daemon(args, pstate, "tcp://127.0.0.1:0", log,
               extra=["--standby-bind", "tcp://127.0.0.1:0"])
    agent_ep, repl_ep = d.endpoint("agent"), d.endpoint("standby")
    if agent_ep is None or repl_ep is None:
        fail("the primary did not write its endpoints", log)
    port = int(agent_ep.rsplit(":", 1)[1])
    import socket
    with socket.socket() as so:
        so.bind(("127.0.0.1", 0))
        sport = so.getsockname()[1]
    slog = os.path.join(work, "musterd-standby-follower-%d.log" % rep)
    sb = Daemon(args, sstate, "tcp://127.0.0.1:%d" % sport, slog,
                extra=["--standby-of", repl_ep,
                       "--standby-lease", args.standby_lease])
    if sb.wait_line(r"STANDBY-SYNCED", 30)[0] is None:
        fail("the standby never synced", log, slog)
    token = open(os.path.join(pstate, "join-token")).read().strip()
    env = dict(os.environ, MUSTER_JOIN_TOKEN=token,
               MUSTER_STATE_DIR=os.path.join(work, "user-state-sb-%d" % rep))
    ck = os.path.join(work, "ck-sb-%d" % rep)
    nodes = []
    for i in range(2):
        out = open(os.path.join(work, "sbnode%d-%d.out" % (i, rep)), "w")
        err = open(os.path.join(work, "sbnode%d-%d.err" % (i, rep)), "w")
        argv = [os.path.join(args.bin, "muster"), "run", "--rdzv-endpoint",
                "127.0.0.1:%d" % port, "--standby", "127.0.0.1:%d" % sport,
                "--nnodes", "2", "--nproc-per-node", "1",
                "--rdzv-id", "sb", "--node-id", "n%d" % i, "--ckpt-dir", ck,
                "--ckpt-every", "300ms", "--connect-timeout", "20s", "--",
                args.ckpt_train, "--steps", str(args.steps), "--step-ms", "5"]
        nodes.append((subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                       stdout=out, stderr=err, env=env),
                      out.name, err.name))
    t, _ = d.wait_line(r"CKPT-COMMITTED job sb", 60)
    if t is None:
        for p, _, _ in nodes:
            p.kill()
        fail("the job never committed a checkpoint", log, *[n[2] for n in nodes])
    d.kill()
    t_kill = time.monotonic()
    sb.t0 = t_kill  # the figures count from the kill
    serve = time_to_serve(args, sb, sstate)
    tt, _ = sb.wait_line(r"TAKEOVER", 30)
    info = replay_ms(sb)
    tc, _ = sb.wait_line(r"JOB-CONTINUES job sb", 60)
    rcs = []
    for p, _, _ in nodes:
        try:
            rcs.append(p.wait(args.steps * 0.005 * 4 + 60))
        except subprocess.TimeoutExpired:
            p.kill()
            rcs.append("timeout")
    sb.stop()
    d.log.close()
    text = "".join(open(n[1]).read() for n in nodes)
    s = starts(text)
    if serve is None:
        fail("the standby did not serve", slog)
    return {"serve": serve, "takeover": (tt - t_kill) if tt else None,
            "continue": (tc - t_kill) if tc else None,
            "restarts": len(s) - 2,
            "rolled_back": len(re.findall(r"restored step", text)),
            "rcs": rcs, "info": info,
            "epochs": sorted(set(int(x[2]) for x in s))}


def print_recovery(r, who, back_label, job, log):
    """The lines (c) and (d) share: the replay, when every node was back,
    restarts and rollbacks; a node that failed fails the benchmark."""
    if r["info"]:
        print("    %s: replay %.1f ms of %d records, %d job(s) "
              "restored, %.1f ms in all" % (
                  who, r["info"]["replay_ms"], r["info"]["records"],
                  r["info"]["jobs"], r["info"]["total_ms"]))
    print("    %s %s" % (back_label, "%.1f ms" % (r["continue"] * 1000)
                         if r["continue"] else "never"))
    print("    worker restarts: %d   ranks rolled back to a checkpoint: "
          "%d   epochs seen: %s   node exit statuses: %s"
          % (r["restarts"], r["rolled_back"], r["epochs"], r["rcs"]))
    if any(rc != 0 for rc in r["rcs"]):
        fail("a node of the %s failed: %s" % (job, r["rcs"]), log)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", required=True, help="directory of musterd, muster")
    ap.add_argument("--journal-gen", required=True, help="bench/journal_gen")
    ap.add_argument("--ckpt-train", required=True, help="examples' ckpt_train")
    ap.add_argument("--jobs", type=int, default=10000)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--failover-reps", type=int, default=1)
    ap.add_argument("--steps", type=int, default=1200,
                    help="ckpt_train steps (5 ms each) of the failover job")
    ap.add_argument("--standby-lease", default="500ms",
                    help="the standby's --standby-lease in (d)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    args = ap.parse_args()
    del here
    work = tempfile.mkdtemp(prefix="muster-failover-")
    broken = True
    try:
        # A state directory with musterd's keys (generating them is not
        # what is measured), then the history in its journal.
        template = os.path.join(work, "template")
        os.makedirs(template)
        log = os.path.join(work, "musterd-template.log")
        d = Daemon(args, template, "tcp://127.0.0.1:0", log)
        if time_to_serve(args, d, template) is None:
            fail("musterd did not serve", log)
        d.stop()
        shutil.rmtree(os.path.join(template, "journal"))
        print("journal: " + gen(args, template, os.path.join(work, "gen.log")))
        base, hist, infos = [], [], []
        for rep in range(args.reps):
            base.append(cold_start(args, work, rep, False, template)[0])
            t, info = cold_start(args, work, rep, True, template)
            hist.append(t)
            infos.append(info)
        b = statistics.median(base)
        h = statistics.median(hist)
        print("\n(a) musterd, no journal: spawn -> answering           "
              "%7.1f ms (median of %d)" % (b * 1000, len(base)))
        print("(b) musterd, %d jobs' history: spawn -> answering  %7.1f ms"
              "   ratio (b)/(a) %.2f" % (args.jobs, h * 1000, h / b))
        good = [i for i in infos if i]
        if good:
            print("    musterd's own figures: %d records, %d job(s) restored; "
                  "replay %.1f ms, replay + compaction + restore %.1f ms (median)"
                  % (good[0]["records"], good[0]["jobs"],
                     statistics.median(i["replay_ms"] for i in good),
                     statistics.median(i["total_ms"] for i in good)))
        for rep in range(args.failover_reps):
            r = failover(args, work, rep)
            print("\n(c) failover %d: kill -9 with a 2-node job running; %s"
                  % (rep + 1, r["hist"]))
            print("    restarted %.2f s after the kill (journal_gen meanwhile)"
                  % r["gap"])
            print("    spawn -> answering a control request   %7.1f ms   "
                  "ratio to (a) %.2f" % (r["serve"] * 1000, r["serve"] / b))
            print_recovery(r, "musterd", "spawn -> every node back (JOB-CONTINUES)",
                           "failover job",
                           os.path.join(work, "musterd-failover-%d.log" % rep))
        for rep in range(args.failover_reps):
            r = failover_standby(args, work, rep, template)
            print("\n(d) standby failover %d: kill -9 of the primary, the "
                  "standby (--standby-lease %s) takes over"
                  % (rep + 1, args.standby_lease))
            print("    kill -> the standby takes over (TAKEOVER)  %s"
                  % ("%.1f ms" % (r["takeover"] * 1000) if r["takeover"]
                     else "never"))
            print("    kill -> the standby answers ctl.status    %7.1f ms"
                  % (r["serve"] * 1000))
            print_recovery(r, "standby", "kill -> every node back (JOB-CONTINUES)  ",
                           "standby failover job",
                           os.path.join(work, "musterd-standby-%d.log" % rep))
        broken = False
    finally:
        if args.keep or broken:
            print("work directory kept: " + work)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
