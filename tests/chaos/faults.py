"""faults.py — the seeded fault scheduler of the chaos test.

A Scheduler draws every decision from random.Random(seed): which fault
comes next, its target (a worker, an agent, the coordinator, a link), how
long it lasts and the pause after it.  The same seed gives the same
sequence of decisions; what the system does in between is timing, so a
failing seed is replayed with the printed sequence as the guide.

The faults, each applied and then undone before the next:
  worker-kill   kill -9 one live ckpt_train worker (chosen among the live
                ones sorted by pid)
  agent-kill    kill -9 a muster-agent (its workers die with it), restart
                it on the same node id and state dir after the hold
  agent-stop    SIGSTOP a muster-agent, SIGCONT after the hold
  coord-kill    kill -9 the acting musterd; with a standby, the standby
                takes over and the killed one comes back as its standby;
                without, it restarts on its state dir and port
  coord-stop    SIGSTOP the acting musterd, SIGCONT after the hold (with
                a standby and a hold past its lease: the standby takes
                over and the woken primary must step down)
  standby-kill  kill -9 the standby musterd, restart it after the hold
  standby-stop  SIGSTOP the standby, SIGCONT after the hold (it must not
                take over from a primary that kept talking meanwhile)
After every fault the cluster is supervised back to one acting musterd
and, with a standby, one standby (cluster.Cluster.supervise).
  link-down     take an agent's veth down, up after the hold
  link-loss     make an agent's link lossy (see topology.py), clean after
"""

import os
import re
import signal
import time

KINDS = ("worker-kill", "agent-kill", "agent-stop", "coord-kill",
         "coord-stop", "standby-kill", "standby-stop", "link-down", "link-loss")
STANDBY_KINDS = ("standby-kill", "standby-stop")

START = re.compile(r"^\[\S+ \d+\] rank (\d+) pid (\d+) epoch (\d+) world (\d+)", re.M)


def live_workers(cluster):
    """Pids of ckpt_train workers alive now, sorted."""
    pids = set()
    for path in cluster.agent_out_paths():
        try:
            with open(path, errors="replace") as f:
                text = f.read()
        except OSError:
            continue
        for m in START.finditer(text):
            pids.add(int(m.group(2)))
    live = []
    for pid in sorted(pids):
        try:
            with open("/proc/%d/comm" % pid) as f:
                if f.read().strip() == "ckpt_train":
                    live.append(pid)
        except OSError:
            pass
    return live


class Scheduler:
    def __init__(self, seed, kinds, cluster, topo, log):
        import random
        self.rng = random.Random(seed)
        self.kinds = list(kinds)
        self.cluster = cluster
        self.topo = topo
        self.log = log
        self.done = []            # (n, kind, target, hold)

    def one(self, n):
        """Draw and carry out fault n; returns its description."""
        rng = self.rng
        kind = rng.choice(self.kinds)
        hold = round(rng.uniform(0.3, 3.0), 2)
        agent = rng.randrange(self.topo.n)
        pick = rng.random()
        pause = round(rng.uniform(0.5, 2.0), 2)
        c = self.cluster
        target = "a%d" % agent
        if kind == "worker-kill":
            # Between epochs no worker runs: wait (bounded) for one.
            deadline = time.monotonic() + 10
            live = live_workers(c)
            while not live and time.monotonic() < deadline:
                time.sleep(0.2)
                live = live_workers(c)
            if not live:
                target = "none alive"
            else:
                pid = live[int(pick * len(live))]
                target = "pid %d" % pid
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    target += " (gone already)"
                time.sleep(hold)
        elif kind == "agent-kill":
            c.agents[agent].kill()
            time.sleep(hold)
            c.start_agent(agent)
        elif kind == "agent-stop":
            c.agents[agent].signal(signal.SIGSTOP)
            time.sleep(hold)
            c.agents[agent].signal(signal.SIGCONT)
        elif kind == "coord-kill":
            a = c.acting()
            target = "musterd seat %d pid %d" % (a.k, a.proc.pid)
            a.proc.kill()
            time.sleep(hold)
            if len(c.seats) == 1:
                c.start_coord(a.k)
        elif kind == "coord-stop":
            a = c.acting()
            target = "musterd seat %d pid %d" % (a.k, a.proc.pid)
            a.proc.signal(signal.SIGSTOP)
            time.sleep(hold)
            a.proc.signal(signal.SIGCONT)
        elif kind in STANDBY_KINDS:
            sb = c.standby_seat()
            if sb is None:
                target = "no standby"
            else:
                target = "standby seat %d pid %d" % (sb.k, sb.proc.pid)
                if kind == "standby-kill":
                    sb.proc.kill()
                else:
                    sb.proc.signal(signal.SIGSTOP)
                time.sleep(hold)
                sb.proc.signal(signal.SIGCONT)
        elif kind == "link-down":
            self.topo.link(agent, False)
            time.sleep(hold)
            self.topo.link(agent, True)
        elif kind == "link-loss":
            self.topo.lossy(agent, 30)
            time.sleep(hold)
            self.topo.clean_link(agent)
        desc = "fault %d: %s %s hold %.2fs" % (n, kind, target, hold)
        self.done.append(desc)
        self.log(desc)
        c.supervise(self.log)
        time.sleep(pause)
        return desc

    def undo_all(self):
        """Everything back to normal (after an error mid-fault)."""
        c = self.cluster
        for i in range(self.topo.n):
            try:
                self.topo.link(i, True)
            except Exception:  # noqa: BLE001 - best effort on the way out
                pass
            self.topo.clean_link(i)
            if c.agents[i] is not None:
                c.agents[i].signal(signal.SIGCONT)
        for seat in c.seats:
            if seat.proc is not None:
                seat.proc.signal(signal.SIGCONT)
