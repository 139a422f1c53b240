#!/usr/bin/python3
"""chaos.py — muster under random faults: a seeded, bounded run of
examples/ckpt_train on several agents (each in its own network namespace)
under a musterd primary with a journal and a standby musterd following
it, while workers, agents, the primary and the standby are killed with
SIGKILL or stopped with SIGSTOP and agents' links are cut or made lossy,
at random.  Then the invariants (checks.py): every job's final checksum
equals a fault-free run's, no partial or corrupt checkpoint was restored,
no rank ran twice in one epoch, never two coordinators serving at once
and no two ever in the same term, the journal replays to the live state,
and no process is left.

    /usr/bin/python3 tests/chaos/chaos.py                 # CI: 30 faults
    /usr/bin/python3 tests/chaos/chaos.py --seed 1234     # replay a seed
    /usr/bin/python3 tests/chaos/chaos.py --long          # 1000 faults

The seed (--seed, else $MUSTER_CHAOS_SEED, else random) is printed first;
every fault is printed as it is done.  Jobs run one after another: when a
job ends while faults remain, the next is submitted.  Exit status 0 when
every invariant held, 1 otherwise (each broken one is printed), 77 when
this machine cannot make network namespaces (not root, no iproute2).
"""

import argparse
import atexit
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, ".."))
from harness import bin_path, ctl_call, proc_cmdline  # noqa: E402
import checks  # noqa: E402
import cluster as cl  # noqa: E402
import faults as fl  # noqa: E402
import topology as tp  # noqa: E402

T0 = time.monotonic()


def say(msg):
    print("[%7.1fs] %s" % (time.monotonic() - T0, msg), flush=True)


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int,
                    default=int(os.environ["MUSTER_CHAOS_SEED"])
                    if os.environ.get("MUSTER_CHAOS_SEED") else None)
    ap.add_argument("--faults", type=int, default=30)
    ap.add_argument("--long", action="store_true", help="1000 faults")
    ap.add_argument("--agents", type=int, default=3)
    ap.add_argument("--min-nodes", type=int, default=None,
                    help="the job's min nodes (default: every agent, so "
                    "every fault on an agent hits the job)")
    ap.add_argument("--outage-ms", type=int, default=10000,
                    help="the job's outage_ms: how long an agent cut off "
                    "from musterd keeps its workers (10000: longer than any "
                    "one fault; 4000 reproduces the agent hang of README "
                    "bug 3)")
    ap.add_argument("--steps", type=int, default=1500,
                    help="steps of each ckpt_train job")
    ap.add_argument("--step-ms", type=int, default=20)
    ap.add_argument("--kinds", default=",".join(fl.KINDS),
                    help="comma-separated fault kinds (default: all)")
    ap.add_argument("--no-standby", dest="standby", action="store_false",
                    help="one musterd, restarted on its state dir after a "
                    "kill (no standby-* faults)")
    ap.add_argument("--keep", action="store_true",
                    help="keep the temporary directory (logs)")
    a = ap.parse_args()
    if a.long:
        a.faults = 1000
    if a.seed is None:
        a.seed = secrets.randbelow(2 ** 31)
    bad = [k for k in a.kinds.split(",") if k not in fl.KINDS]
    if bad:
        ap.error("unknown fault kind %s (known: %s)" % (bad, ", ".join(fl.KINDS)))
    if not a.standby:
        a.kinds = ",".join(k for k in a.kinds.split(",")
                           if k not in fl.STANDBY_KINDS)
    if a.min_nodes is None:
        a.min_nodes = a.agents
    if a.faults < 0 or a.agents < 1 or a.steps < 1 \
            or not 1 <= a.min_nodes <= a.agents:
        ap.error("--faults must be >= 0, --agents and --steps >= 1, "
                 "--min-nodes between 1 and --agents")
    return a


def fault_free_checksum(tmp, env, steps):
    """The checksum of a run that never stopped, in this invocation."""
    ref = os.path.join(tmp, "ref")
    os.makedirs(ref)
    e = dict(env, MUSTER_STATE_DIR=os.path.join(ref, "state"))
    r = subprocess.run([bin_path("muster"), "run", "--nproc-per-node", "1",
                        "--rdzv-id", "ref", "--",
                        bin_path("ckpt_train"), "--steps", str(steps),
                        "--step-ms", "0"],
                       cwd=ref, env=e, stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=120)
    m = checks.DONE.search(r.stdout)
    if r.returncode != 0 or not m:
        raise AssertionError("fault-free run failed (%d):\n%s\n%s"
                             % (r.returncode, r.stdout[-2000:], r.stderr[-2000:]))
    return m.group(3)


def submit(c, job_id, args, ck):
    job = {"id": job_id,
           "roles": [{"name": "worker", "min_nodes": args.min_nodes,
                      "max_nodes": c.topo.n, "nproc": c.slots}],
           "argv": [bin_path("ckpt_train"), "--steps", str(args.steps),
                    "--step-ms", str(args.step_ms)],
           "last_call_ms": 300, "max_restarts": 100000,
           "infra_restarts": 100000, "cordon_failures": 100000,
           "outage_ms": args.outage_ms, "ckpt_dir": ck, "ckpt_every_steps": 100,
           "ckpt_keep": 100000}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        rep = ctl_call(c.ctl_ep, {"t": "ctl.submit", "job": job}, timeout=5)
        if rep is not None and rep.get("status") == 0:
            return
        if rep is not None:
            raise AssertionError("submit of %s refused: %r" % (job_id, rep))
        time.sleep(0.5)
    raise AssertionError("musterd did not answer the submit of " + job_id)


def job_state(c, job_id):
    """'succeeded', 'failed: ...' or None while it runs (from musterd logs)."""
    for line in c.coord_logs().splitlines():
        if "JOB-DONE" in line and ("job %s " % job_id) in line:
            return "succeeded" if " succeeded" in line else line.strip()
    return None


def dump_state(env, state_dir):
    r = subprocess.run([bin_path("musterd"), "--dump-state", "--state-dir",
                        state_dir], env=env, stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise AssertionError("musterd --dump-state %s: %d %s"
                             % (state_dir, r.returncode, r.stderr))
    return r.stdout


def run(args, tmp, problems):
    why = tp.have_tools()
    if why:
        say("SKIPPED: " + why)
        return 77
    tp.sweep_stale()
    topo = tp.Topology(args.agents)
    tag = secrets.token_hex(8)
    atexit.register(topo.destroy)
    topo.create()
    say("topology: musterd on %s, agents %s in namespaces %s; lossy links: %s"
        % (topo.hub_ip, [topo.agent_ip(i) for i in range(topo.n)],
           topo.netns, topo.loss_kind()))
    c = cl.Cluster(tmp, topo, tag, standby=args.standby)
    atexit.register(c.kill_tagged)
    want = fault_free_checksum(tmp, c.env, args.steps)
    say("fault-free checksum of %d steps: %s" % (args.steps, want))
    c.start_coord(0)
    if args.standby:
        c.start_standby(1, 0)
        deadline = time.monotonic() + 30
        while not c.seats[1].synced():
            if time.monotonic() > deadline:
                raise AssertionError("the standby never synced:\n"
                                     + c.seats[1].err())
            time.sleep(0.1)
        say("standby seat 1 follows the primary in seat 0")
    for i in range(topo.n):
        c.start_agent(i)
    ck = os.path.join(tmp, "ck")
    sched = fl.Scheduler(args.seed, args.kinds.split(","), c, topo, say)
    jobs = []        # (id, offsets)
    stats = {}

    def next_job():
        jid = "chaos-%d" % (len(jobs) + 1)
        offs = checks.offsets_now(c.agent_out_paths())
        submit(c, jid, args, ck)
        jobs.append((jid, offs))
        say("submitted job %s" % jid)

    next_job()
    deadline_start = time.monotonic() + 60
    while not fl.live_workers(c):
        if time.monotonic() > deadline_start:
            raise AssertionError("the first job never started a worker")
        time.sleep(0.2)
    try:
        for n in range(1, args.faults + 1):
            st = job_state(c, jobs[-1][0])
            if st is not None:
                say("job %s ended: %s" % (jobs[-1][0], st))
                if st != "succeeded":
                    problems.append("job %s: %s" % (jobs[-1][0], st))
                next_job()
            sched.one(n)
    finally:
        sched.undo_all()
    say("all %d faults done; letting job %s finish" % (args.faults, jobs[-1][0]))
    deadline = time.monotonic() + 120
    while job_state(c, jobs[-1][0]) is None:
        if time.monotonic() > deadline:
            problems.append("job %s did not finish within 120 s of the last "
                            "fault" % jobs[-1][0])
            break
        time.sleep(0.5)
    st = job_state(c, jobs[-1][0])
    if st is not None and st != "succeeded":
        problems.append("job %s: %s" % (jobs[-1][0], st))

    # Per-job invariants.
    paths = c.agent_out_paths()
    for k, (jid, offs) in enumerate(jobs):
        nxt = jobs[k + 1][1] if k + 1 < len(jobs) else None
        text = checks.job_text(paths, offs, nxt)
        stats[jid] = checks.check_job(jid, text, ck, want, args.steps, problems)
        say("job %s: %r" % (jid, stats[jid]))

    # Never two serving at once (supervise() fails the run if a woken
    # primary keeps serving beside a newer one), and never two seats in one
    # term: a seat restarted on its own state directory serves its stored
    # term again, a takeover always a higher one.
    served = c.terms_served()
    by_term = {}
    for seat, pid, term in served:
        by_term.setdefault(term, set()).add(seat)
    for term, seats in sorted(by_term.items()):
        if len(seats) > 1:
            problems.append("term %d was served by seats %s" % (term, sorted(seats)))
    say("musterd incarnations: %d (pids %s); served (seat, pid, term): %s"
        % (len(c.coord_pids()), c.coord_pids(), served))
    stepped = c.coord_logs().count("STEP-DOWN")
    if stepped:
        say("%d woken primar%s stepped down" % (stepped, "y" if stepped == 1 else "ies"))

    # The journal replays to the live state (the standby stopped first, so
    # that it does not take over from the stopping primary).
    time.sleep(0.5)
    sb = c.standby_seat()
    if sb is not None:
        sb.proc.stop()
    state_dir = c.state_dir
    copy = os.path.join(tmp, "copy.state")
    shutil.copytree(os.path.join(state_dir, "journal"),
                    os.path.join(copy, "journal"))
    c.coord.stop()
    replayed = dump_state(c.env, copy)
    live = dump_state(c.env, state_dir)
    if replayed != live:
        problems.append("the journal does not replay to the live state:\n"
                        "replayed: %s\nlive:     %s" % (replayed, live))
    else:
        say("journal replay equals the live table (%d jobs)"
            % len(json.loads(live)["jobs"]))

    # No process left.
    c.stop_all()
    left = c.leftovers()
    if left:
        problems.append("processes left: %s"
                        % ["%d: %s" % (p, proc_cmdline(p)) for p in left])
    c.kill_tagged()
    say("faults: %d (%s)" % (len(sched.done), ", ".join(
        "%s x%d" % (k, sum(1 for d in sched.done if (" %s " % k) in d))
        for k in fl.KINDS)))
    return 0


def main():
    args = parse_args()
    say("chaos seed %d (replay: --seed %d or MUSTER_CHAOS_SEED=%d), %d faults, "
        "%d agents" % (args.seed, args.seed, args.seed, args.faults, args.agents))
    tmp = tempfile.mkdtemp(prefix="muster-chaos-")
    problems = []
    rc = 1

    def on_term(signum, frame):
        raise SystemExit(1)

    signal.signal(signal.SIGTERM, on_term)
    try:
        rc = run(args, tmp, problems)
    except Exception as e:  # noqa: BLE001 - reported, then the logs
        problems.append("error: %s: %s" % (type(e).__name__, e))
    if rc == 77:
        shutil.rmtree(tmp, ignore_errors=True)
        return 77
    for p in problems:
        say("BROKEN: " + p)
    if problems:
        say("seed %d: %d invariant(s) broken; logs in %s" % (args.seed, len(problems), tmp))
        return 1
    say("seed %d: every invariant held" % args.seed)
    if not args.keep:
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        say("logs in " + tmp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
