#!/usr/bin/python3
"""Scenario 57 — a joining node's rdzv.progress is held back (decision 107).

rdzv.progress is display only (`muster run` prints "waiting for nodes
1/2" from it).  It used to go to every node the moment it joined: a third
of a 10,000-node round's messages, none of them needed when the round
closes a moment later.  Now a join's progress is sent only if the node
still waits a short delay later (coordinator/join_progress.c).

(a) three agents bring a 3:3 job together: each hears agent.welcome and
    then job.start, and no rdzv.progress at all (the round closed before
    any fell due);
(b) one agent of a 2:2 job waits alone: it is still told its progress
    (joined 1 of 2, not "full"); when the second comes both start, and
    neither hears a progress after its job.start;
(c) a third agent of the now running 2:2 job waits for a place: it is
    told so (waiting = true), though no round is open;
(e) a registering node's agent.welcome is held back (decision 113) to
    share a write with its job.start: three agents of a 3:3 job each get
    welcome then job.start, and musterd counts the held welcomes as gone
    "with_next" (muster_agent_welcomes_held_total), none "alone"; an agent
    of a 2:2 job that waits alone gets its welcome on its own when the
    hold runs out, counted "alone", is not declared lost for the wait,
    and starts with the second;
(d) bench/rdzv_load's simulated agents, both kinds (plain sockets speaking
    ZMTP, the default, and libzmq DEALERs), run a 30-node round against
    the real port: two messages each (welcome, start), no progress; and
    it refuses an --agent-io it does not know, naming it.

Simulated agents are raw DEALERs speaking the agent protocol (python3-zmq).
Nothing here is timed: the deadlines only stop a broken build from
hanging."""
import os
import re
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import MusterCase, have_pyzmq, main, mp_pack, mp_unpack  # noqa: E402

DEADLINE = 30.0  # hang guard only


def spec(job_id, nodes):
    return {"id": job_id, "argv": ["true"], "last_call_ms": 0,
            "roles": [{"name": "worker", "min_nodes": nodes,
                       "max_nodes": nodes, "nproc": 2}]}


class Agents:
    """One DEALER per simulated agent; every message each one receives is
    kept in order (its type and body)."""

    def __init__(self, endpoint):
        import zmq
        self.zmq = zmq
        self.endpoint = endpoint
        self.ctx = zmq.Context()
        self.socks = {}
        self.got = {}
        self.poller = zmq.Poller()
        self.last_hb = 0.0

    def connect(self, node_id):
        s = self.ctx.socket(self.zmq.DEALER)
        s.setsockopt(self.zmq.LINGER, 0)
        s.setsockopt(self.zmq.ROUTING_ID, node_id.encode())
        s.connect(self.endpoint)
        self.socks[node_id] = s
        self.got[node_id] = []
        self.poller.register(s, self.zmq.POLLIN)

    def register(self, node_id, job, nodes):
        self.socks[node_id].send(mp_pack(
            {"v": 1, "t": "agent.register", "node_id": node_id,
             "host": "127.0.0.1", "slots": 2, "job": spec(job, nodes)}))

    def pump(self, timeout_ms=50):
        now = time.monotonic()
        if now - self.last_hb > 0.5:
            self.last_hb = now
            for nid, s in self.socks.items():
                s.send(mp_pack({"v": 1, "t": "agent.heartbeat",
                                "node_id": nid}))
        for s, _ in self.poller.poll(timeout_ms):
            nid = s.getsockopt(self.zmq.ROUTING_ID).decode()
            while True:
                try:
                    m = mp_unpack(s.recv(self.zmq.NOBLOCK))
                except self.zmq.Again:
                    break
                if m.get("t") != "agent.heartbeat":
                    self.got[nid].append(m)

    def types(self, nid):
        # A heartbeat before the registration is answered "unknown node".
        return [m.get("t") for m in self.got[nid]
                if not (m.get("t") == "error"
                        and m.get("in_reply_to") == "agent.heartbeat")]

    def until(self, case, pred, what):
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline:
            self.pump()
            if pred():
                return
        case.fail("%s did not happen: %r\n%s"
                  % (what, {n: self.types(n) for n in self.got},
                     case.describe()))

    def close(self):
        for s in self.socks.values():
            s.close(0)
        self.ctx.term()


class JoinProgress(MusterCase):
    def setUp(self):
        super().setUp()
        if not have_pyzmq():
            self.skipTest("simulated agents: needs python3-zmq")

    def test_quick_round_sends_no_progress(self):
        d = self.musterd(extra=["--insecure"])
        ag = Agents(d.agent_ep)
        try:
            nodes = ["q%d" % i for i in range(3)]
            for nid in nodes:
                ag.connect(nid)
            self.check("three agents bring a 3:3 job at once: welcome, then "
                       "job.start, and no rdzv.progress")
            for nid in nodes:
                ag.register(nid, "quick", 3)
            ag.until(self, lambda: all("job.start" in ag.types(n)
                                       for n in nodes), "every job.start")
            # Anything held back would fall due within a second: wait that
            # long for it to show up (it must not).
            end = time.monotonic() + 1.5
            while time.monotonic() < end:
                ag.pump()
            for nid in nodes:
                self.expect_eq(ag.types(nid), ["agent.welcome", "job.start"],
                               "what %s heard" % nid, d)
        finally:
            ag.close()

    def test_waiting_nodes_still_hear_progress(self):
        d = self.musterd(extra=["--insecure"])
        ag = Agents(d.agent_ep)
        try:
            for nid in ("w0", "w1", "w2"):
                ag.connect(nid)
            self.check("one agent of a 2:2 job waits alone: it hears its "
                       "progress (1 of 2)")
            ag.register("w0", "slow", 2)
            ag.until(self, lambda: "rdzv.progress" in ag.types("w0"),
                     "w0's rdzv.progress")
            p = [m for m in ag.got["w0"] if m.get("t") == "rdzv.progress"][0]
            self.expect_eq((p.get("job"), p.get("joined"), p.get("min_nodes"),
                            bool(p.get("waiting"))), ("slow", 1, 2, False),
                           "w0's progress (job, joined, min, waiting)", d)

            self.check("the second agent comes: both start, and no progress "
                       "follows a job.start")
            ag.register("w1", "slow", 2)
            ag.until(self, lambda: all("job.start" in ag.types(n)
                                       for n in ("w0", "w1")),
                     "both job.start")

            self.check("a third agent of the running 2:2 job hears that it "
                       "waits for a place")
            ag.register("w2", "slow", 2)
            ag.until(self, lambda: "rdzv.progress" in ag.types("w2"),
                     "w2's rdzv.progress")
            p = [m for m in ag.got["w2"] if m.get("t") == "rdzv.progress"][0]
            self.expect_eq((p.get("job"), bool(p.get("waiting"))),
                           ("slow", True), "w2's progress (job, waiting)", d)
            end = time.monotonic() + 1.5
            while time.monotonic() < end:
                ag.pump()
            for nid in ("w0", "w1"):
                t = ag.types(nid)
                self.expect("rdzv.progress" not in t[t.index("job.start"):],
                            "no progress after %s's job.start: %r" % (nid, t),
                            d)
            self.expect_eq(ag.types("w1"), ["agent.welcome", "job.start"],
                           "what w1 (it closed the round) heard", d)
        finally:
            ag.close()

    def welcomes(self, url):
        with urllib.request.urlopen(url, timeout=10) as r:
            text = r.read().decode()
        out = {}
        for sent in ("with_next", "alone"):
            m = re.search(r'^muster_agent_welcomes_held_total\{sent="%s"\} '
                          r'(\S+)$' % sent, text, re.M)
            out[sent] = float(m.group(1)) if m else 0.0
        return out

    def metrics_url(self, d):
        with open(d.endpoints_file) as f:
            for line in f:
                parts = line.split()
                if len(parts) == 2 and parts[0] == "metrics":
                    return parts[1]
        self.fail("musterd's metrics URL is not in %s" % d.endpoints_file)

    def test_welcome_shares_the_start_write(self):
        d = self.musterd(extra=["--insecure", "--metrics-bind", "127.0.0.1:0"])
        url = self.metrics_url(d)
        ag = Agents(d.agent_ep)
        try:
            nodes = ["h%d" % i for i in range(3)]
            for nid in nodes:
                ag.connect(nid)
            self.check("a 3:3 job: each welcome leaves with its job.start")
            for nid in nodes:
                ag.register(nid, "held", 3)
            ag.until(self, lambda: all("job.start" in ag.types(n)
                                       for n in nodes), "every job.start")
            for nid in nodes:
                self.expect_eq(ag.types(nid), ["agent.welcome", "job.start"],
                               "what %s heard, in order" % nid, d)
            self.expect_eq(self.welcomes(url), {"with_next": 3.0, "alone": 0.0},
                           "held welcomes by how they went", d)

            self.check("one agent of a 2:2 job waits alone: its welcome goes "
                       "alone when the hold runs out, and it is not lost")
            ag.connect("a0")
            ag.connect("a1")
            ag.register("a0", "alone", 2)
            ag.until(self, lambda: "agent.welcome" in ag.types("a0"),
                     "a0's welcome")
            self.expect_eq(self.welcomes(url)["alone"], 1.0,
                           "welcomes sent alone", d)
            # Longer than a hold and a heartbeat interval: still a member.
            end = time.monotonic() + 1.5
            while time.monotonic() < end:
                ag.pump()
            self.expect("NODE-LOST" not in d.err + d.out, "a0 declared lost", d)
            ag.register("a1", "alone", 2)
            ag.until(self, lambda: all("job.start" in ag.types(n)
                                       for n in ("a0", "a1")),
                     "both job.start")
            self.expect_eq(ag.types("a1"), ["agent.welcome", "job.start"],
                           "what a1 heard", d)
        finally:
            ag.close()

    def rdzv_load(self):
        exe = os.path.join(os.environ.get("MUSTER_BUILD_DIR", ""), "bench",
                           "rdzv_load")
        if not os.path.exists(exe):
            self.skipTest("bench/rdzv_load is not built here")
        return exe

    def test_simulated_agents_both_ways(self):
        exe = self.rdzv_load()
        musterd = os.path.join(os.environ["MUSTER_BIN"], "musterd")
        for io in ("zmtp", "zmq"):
            self.check("rdzv_load --agent-io %s: 30 agents, a quick round, "
                       "welcome and start only" % io)
            r = subprocess.run([exe, "--musterd", musterd, "--agents", "30",
                                "--workers", "2", "--steady", "0",
                                "--agent-io", io, "--timeout", "60"],
                               capture_output=True, timeout=120)
            out = r.stdout.decode(errors="replace")
            err = r.stderr.decode(errors="replace")
            self.expect_eq(r.returncode, 0, "rdzv_load exit status (%s)\n%s%s"
                           % (io, out, err))
            m = re.search(r"received (\d+) msgs \((\d+) rdzv.progress\)", out)
            self.expect(m is not None, "the round's message count: %r" % out)
            self.expect_eq((int(m.group(1)), int(m.group(2))), (60, 0),
                           "messages received in the round, of them "
                           "rdzv.progress (%s)" % io)
            self.expect("musterd's view: " in out,
                        "musterd's own round figure is shown: %r" % out)

    def test_bench_refuses_unknown_agent_io(self):
        exe = self.rdzv_load()
        r = subprocess.run([exe, "--musterd", "/nonexistent", "--agent-io",
                            "tcp"], capture_output=True, timeout=30)
        err = r.stderr.decode(errors="replace")
        self.expect_eq(r.returncode, 2, "exit status")
        self.expect("--agent-io 'tcp': expected zmtp or zmq" in err,
                    "the error names the option and the choices: %r" % err)


if __name__ == "__main__":
    main()
