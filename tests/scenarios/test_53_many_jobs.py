#!/usr/bin/python3
"""Scenario 53 — many concurrent jobs on one coordinator (issue 12 item 1,
at a size CI can afford; bench/many_jobs runs 1,000).

200 jobs of 2 simulated agents x 2 workers each run at once on one musterd:
every agent (a raw DEALER speaking the agent protocol) brings its job, every
job starts (epoch 1, world 4), ctl.list lists all 200 running, ctl.get
gives each job its own two nodes, and once every worker reports its exit
every job ends succeeded.  Then 30 jobs submitted on the control port draw
60 agents that register free: each job gets exactly two nodes, the oldest
job first, and all 30 succeed (the free-node offer gathers the jobs that
want nodes once per event: coordinator/jobs.c).  bench/many_jobs refuses
sizes it cannot run, naming the option.  Nothing here is timed: the
deadlines only stop a broken build from hanging."""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import (MusterCase, ctl_call, have_pyzmq, main,  # noqa: E402
                     mp_pack, mp_unpack)

JOBS, NODES, NPROC = 200, 2, 2
SUBMITTED = 30
DEADLINE = 90.0  # hang guard only


def spec(job_id):
    return {"id": job_id, "argv": ["true"], "last_call_ms": 0,
            "roles": [{"name": "worker", "min_nodes": NODES,
                       "max_nodes": NODES, "nproc": NPROC}]}


class Agents:
    """Simulated agents: one DEALER each (routing id = node id), polled
    together; they heartbeat while waiting, like an agent."""

    def __init__(self, case, endpoint):
        import zmq
        self.zmq = zmq
        self.case = case
        self.endpoint = endpoint
        self.ctx = zmq.Context()
        self.socks = {}
        self.poller = zmq.Poller()
        self.started = {}   # node id -> job.start
        self.done = {}      # node id -> job.done
        self.errors = []
        self.last_hb = 0.0

    def add(self, node_id, job=None):
        s = self.ctx.socket(self.zmq.DEALER)
        s.setsockopt(self.zmq.LINGER, 0)
        s.setsockopt(self.zmq.ROUTING_ID, node_id.encode())
        s.connect(self.endpoint)
        self.socks[node_id] = s
        self.poller.register(s, self.zmq.POLLIN)
        msg = {"v": 1, "t": "agent.register", "node_id": node_id,
               "host": "127.0.0.1", "slots": NPROC}
        if job is not None:
            msg["job"] = spec(job)
        s.send(mp_pack(msg))

    def pump(self, timeout_ms=100):
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
                t = m.get("t")
                if t == "job.start":
                    self.started[nid] = m
                elif t == "job.done":
                    self.done[nid] = m
                elif t in ("error", "job.stop"):
                    self.errors.append((nid, m))

    def until(self, pred, what):
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline:
            self.pump()
            self.case.expect(not self.errors, "no error or stop reaches an "
                             "agent: %r" % self.errors[:3])
            if pred():
                return
        self.case.fail("%s did not happen\n%s" % (what, self.case.describe()))

    def exit_all(self, nodes):
        for nid in nodes:
            st = self.started[nid]
            for a in st.get("assign", []):
                self.socks[nid].send(mp_pack(
                    {"v": 1, "t": "worker.state", "job": st["job"],
                     "epoch": st["epoch"], "rank": a["rank"],
                     "state": "exited", "exit_code": 0}))

    def close(self):
        for s in self.socks.values():
            s.close(0)
        self.ctx.term()


class ManyJobs(MusterCase):
    def setUp(self):
        super().setUp()
        if not have_pyzmq():
            self.skipTest("simulated agents: needs python3-zmq")

    def jobs_listed(self, d, prefix, state=None):
        req = {"t": "ctl.list"}
        if state is not None:
            req["state"] = state
        rep = ctl_call(d.ctl_ep, req, timeout=30)
        self.expect(rep is not None and rep.get("t") == "ctl.list.reply",
                    "ctl.list answered: %r" % (rep,), d)
        return [j for j in rep["jobs"] if j["id"].startswith(prefix)]

    def test_200_jobs_at_once(self):
        # 2 s heartbeats: the simulated agents fall silent while a control
        # request is answered (a loaded machine must not make them lost).
        d = self.musterd(extra=["--insecure", "--heartbeat", "2s"])
        ag = Agents(self, d.agent_ep)
        try:
            self.check("%d jobs of %d agents each register; every agent "
                       "gets its job.start" % (JOBS, NODES))
            for j in range(JOBS):
                for n in range(NODES):
                    ag.add("j%03d-n%d" % (j, n), "many-%03d" % j)
            total = JOBS * NODES
            ag.until(lambda: len(ag.started) == total, "every job.start")
            for nid, st in ag.started.items():
                self.expect_eq((st["job"], st["epoch"], st["world"]),
                               ("many-" + nid[1:4], 1, NODES * NPROC),
                               "job.start of %s" % nid, d)

            self.check("ctl.list lists all %d jobs running" % JOBS)
            listed = self.jobs_listed(d, "many-")
            self.expect_eq(len(listed), JOBS, "jobs listed", d)
            self.expect_eq(sorted({j["state"] for j in listed}), ["running"],
                           "their states", d)
            self.expect_eq(len(self.jobs_listed(d, "many-", "running")), JOBS,
                           "jobs listed with state=running", d)

            self.check("ctl.get gives a job its own two nodes")
            for j in (0, JOBS // 2, JOBS - 1):
                rep = ctl_call(d.ctl_ep, {"t": "ctl.get",
                                          "job": "many-%03d" % j}, timeout=30)
                got = sorted(m["node_id"] for m in rep["members"])
                self.expect_eq(got, ["j%03d-n%d" % (j, n)
                                     for n in range(NODES)],
                               "members of many-%03d" % j, d)

            self.check("every worker exits 0: every job ends succeeded")
            ag.exit_all(list(ag.socks))
            ag.until(lambda: len(ag.done) == total, "every job.done")
            states = {m.get("state") for m in ag.done.values()}
            self.expect_eq(states, {"succeeded"}, "job.done states", d)
            listed = self.jobs_listed(d, "many-")
            self.expect(len(listed) > 0 and all(j["state"] == "succeeded"
                                                for j in listed),
                        "the jobs still listed all succeeded: %r"
                        % [(j["id"], j["state"]) for j in listed
                           if j["state"] != "succeeded"][:5], d)
        finally:
            ag.close()

    def test_submitted_jobs_draw_free_nodes_oldest_first(self):
        d = self.musterd(extra=["--insecure", "--heartbeat", "2s"])
        self.check("%d jobs submitted on the control port wait for nodes"
                   % SUBMITTED)
        for j in range(SUBMITTED):
            rep = ctl_call(d.ctl_ep, {"t": "ctl.submit",
                                      "job": spec("sub-%02d" % j)},
                           timeout=30)
            self.expect(rep is not None and rep.get("t") != "error",
                        "ctl.submit sub-%02d: %r" % (j, rep), d)
        waiting = self.jobs_listed(d, "sub-")
        self.expect_eq(len(waiting), SUBMITTED, "jobs listed", d)
        self.expect(all(j["state"] in ("pending", "rendezvous")
                        for j in waiting),
                    "all wait: %r" % sorted({j["state"] for j in waiting}), d)

        ag = Agents(self, d.agent_ep)
        try:
            self.check("the first 2 free agents go to the oldest job")
            for n in range(NODES):
                ag.add("free-%03d" % n)
            ag.until(lambda: len(ag.started) == NODES, "the first job.start")
            self.expect_eq({m["job"] for m in ag.started.values()}, {"sub-00"},
                           "the job the first free nodes serve", d)

            self.check("%d more free agents: every job gets exactly two"
                       % ((SUBMITTED - 1) * NODES))
            for n in range(NODES, SUBMITTED * NODES):
                ag.add("free-%03d" % n)
            total = SUBMITTED * NODES
            ag.until(lambda: len(ag.started) == total, "every job.start")
            per_job = {}
            for nid, st in ag.started.items():
                per_job.setdefault(st["job"], []).append(nid)
            self.expect_eq(sorted(per_job),
                           ["sub-%02d" % j for j in range(SUBMITTED)],
                           "jobs started", d)
            self.expect_eq({len(v) for v in per_job.values()}, {NODES},
                           "nodes per job", d)
            ag.exit_all(list(ag.socks))
            ag.until(lambda: len(ag.done) == total, "every job.done")
            self.expect_eq({m.get("state") for m in ag.done.values()},
                           {"succeeded"}, "job.done states", d)
        finally:
            ag.close()

    def test_bench_refuses_bad_sizes(self):
        exe = os.path.join(os.environ.get("MUSTER_BUILD_DIR", ""), "bench",
                           "many_jobs")
        if not os.path.exists(exe):
            self.skipTest("bench/many_jobs is not built here")
        for args, word in ((["--jobs", "0"], "--jobs must be 1..100000"),
                           (["--nodes", "0"], "--nodes must be 1..1000"),
                           (["--workers", "x"], "--workers must be 1..1000"),
                           (["--jobs", "1000", "--nodes", "1000"],
                            "1000000 agents; at most 200000"),
                           ([], "--musterd PATH is required")):
            argv = [exe] + args
            if "--musterd" not in word:
                argv += ["--musterd", "/nonexistent"]
            r = subprocess.run(argv, capture_output=True, timeout=30)
            err = r.stderr.decode(errors="replace")
            self.expect_eq(r.returncode, 2, "exit status of %r" % args)
            self.expect(word in err, "the error names %s: %r" % (word, err))


if __name__ == "__main__":
    main()
