#!/usr/bin/python3
"""Scenario 52 — service jobs (docs/services.md): independent replicas.

A musterd with pool agents runs examples/service_echo (a TCP echo server
that reports its load through the Python binding, muster.Worker.report_load):

  * a replica's worker SIGKILLed: only that replica restarts (the other
    pids and the epoch unchanged, the restart counted against the user
    budget and as a replica restart);
  * `muster update --env GREETING=v2`: the replicas are restarted one at a
    time (their start/stop records never show two down at once), each new
    worker has GREETING=v2, the rollout says "done: 3 of 3 updated";
  * a broken update (`--command /bin/false`) stops the rollout with a
    message, the replicas not reached keep their pids and the broken one
    is back on the old version;
  * an agent killed: its replica is re-placed on a free agent;
  * `muster scale` 3 -> 5 -> 2;
  * autoscale: replicas report a high load -> the target goes up to the
    max after the cooldown; low -> down to the min;
  * a replica crash-looping past max_restarts fails the job (epoch 1);
  * bad input: ctl.update / ctl.load of a gang job or an unknown job, a
    negative, NaN or non-numeric load, a bad env name, `muster update` with
    a bad --env or nothing to update -> structured errors naming the field,
    and the coordinator keeps serving.
"""
import os
import re
import signal
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import (BIN, SRC_DIR, MusterCase, ctl_call, have_pyzmq,  # noqa: E402
                     main, proc_cmdline)

ECHO = os.path.join(SRC_DIR, "examples", "service_echo", "service_echo.py")
PYTHON = "/usr/bin/python3"
BINDING = os.path.join(os.path.dirname(BIN), "python")


def sanitizer_env():
    """In a sanitizer build libmuster needs the ASan runtime loaded first:
    the Python replicas (not instrumented themselves) get it preloaded,
    without the leak check (the interpreter's own allocations)."""
    lib = os.path.join(os.path.dirname(BIN), "lib", "libmuster.so.0")
    try:
        out = subprocess.run(["ldd", lib], capture_output=True, text=True).stdout
    except OSError:
        return {}
    pre = re.findall(r"lib(?:asan|ubsan)\.so\S* => (\S+)", out)
    if not pre:
        return {}
    return {"LD_PRELOAD": " ".join(pre), "ASAN_OPTIONS": "detect_leaks=0"}


class Service(MusterCase):
    def setUp(self):
        if not have_pyzmq():
            self.skipTest("python3-zmq is not installed")
        super().setUp()
        self.env["PYTHONPATH"] = BINDING
        self.events = os.path.join(self.tmp, "events.txt")

    # ------------------------------------------------------------ helpers

    def cluster(self, n):
        d = self.musterd()
        for i in range(1, n + 1):
            self.agent(d, "n%d" % i, 1)
        self.wait_for(lambda: len(self.call(d, {"t": "ctl.nodes"}).get("nodes", [])) == n,
                      30, "%d agents to register" % n)
        self.env["MUSTER_COORDINATOR"] = d.ctl_ep
        return d

    def call(self, d, msg):
        return ctl_call(d.ctl_ep, msg) or {}

    def get(self, d, job="svc"):
        return self.call(d, {"t": "ctl.get", "job": job})

    def submit(self, d, nodes, env=None, job="svc", kind="service", **opts):
        e = {"GREETING": "v1", "SERVICE_EVENTS": self.events}
        e.update(sanitizer_env())
        e.update(env or {})
        spec = {"id": job, "kind": kind, "argv": [PYTHON, ECHO], "env": e,
                "last_call_ms": 500, "max_restarts": 3, "grace_ms": 3000,
                "elastic_mode": "in-place",
                "roles": [{"name": "server", "min_nodes": nodes,
                           "max_nodes": nodes, "nproc": 1}]}
        spec.update(opts)
        rep = self.call(d, {"t": "ctl.submit", "job": spec})
        self.expect(rep.get("t") not in (None, "error"), "submit: %r" % rep, d)

    def pids(self, d, job="svc"):
        """rank -> pid of the members, {} until every one is known and alive."""
        g = self.get(d, job)
        if g.get("job", {}).get("state") != "running":
            return {}
        out = {}
        for m in g.get("members", []):
            for r in m["ranks"]:
                if not r.get("pid") or not os.path.exists("/proc/%d" % r["pid"]):
                    return {}
                out[r["rank"]] = r["pid"]
        return out

    def node_pids(self, d, job="svc"):
        return {m["node_id"]: m["ranks"][0].get("pid") for m in self.get(d, job)["members"]}

    def wait_replicas(self, d, n, what, job="svc", timeout=60):
        def ok():
            p = self.pids(d, job)
            return len(p) == n and len(self.get(d, job).get("members", [])) == n
        self.wait_for(ok, timeout, what)
        return self.pids(d, job)

    def environ(self, pid):
        # The program's own: the pid muster reports is its supervisor
        # (muster-exec), a fork of the agent's spawner whose environment
        # is the agent's (decision 110); the program is its child.
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            kids = [int(c) for c in f.read().split()]
        with open("/proc/%d/comm" % pid) as f:
            if f.read().strip() == "muster-exec" and kids:
                pid = kids[0]
        with open("/proc/%d/environ" % pid, "rb") as f:
            return dict(kv.split(b"=", 1) for kv in f.read().split(b"\0") if b"=" in kv)

    def records(self):
        if not os.path.exists(self.events):
            return []
        with open(self.events) as f:
            return [line.split() for line in f if line.strip()]

    # ------------------------------------------------------------ tests

    def test_replica_alone_and_rolling_update(self):
        d = self.cluster(3)
        self.submit(d, 3)
        before = self.wait_replicas(d, 3, "3 replicas running")
        epoch = self.get(d)["job"]["epoch"]

        self.check("a replica SIGKILLed restarts alone: other pids and the epoch unchanged")
        os.kill(before[1], signal.SIGKILL)
        self.wait_for(lambda: self.pids(d).get(1) not in (None, before[1]), 60,
                      "replica 1 to run again with a new pid")
        after = self.pids(d)
        g = self.get(d)
        self.expect_eq(after[0], before[0], "replica 0's pid", d)
        self.expect_eq(after[2], before[2], "replica 2's pid", d)
        self.expect_eq(g["job"]["epoch"], epoch, "epoch after a replica restart", d)
        self.expect_eq(g.get("restarts_user"), 1, "restarts charged to the program", d)
        self.expect_eq(g.get("replica_restarts"), 1, "replica restarts", d)
        self.expect(self.environ(after[1]).get(b"RANK") == b"1",
                    "the restarted replica keeps RANK=1", d)

        self.check("muster update --env: one replica at a time, new env visible")
        old = self.pids(d)
        nrec = len(self.records())
        p = self.run_muster(["update", "svc", "--env", "GREETING=v2"], timeout=30)
        self.expect(p.rc == 0 and "updating" in p.out, "muster update", p)
        self.wait_for(lambda: (self.get(d).get("rollout") or "").startswith("done"), 90,
                      "the rollout to finish")
        self.expect_eq(self.get(d).get("rollout"), "done: 3 of 3 updated", "rollout", d)
        p = self.run_muster(["status", "svc"], timeout=30)
        self.expect(p.rc == 0 and "rollout: done: 3 of 3 updated" in p.out
                    and "replica restarts: 1" in p.out, "muster status svc", p)
        new = self.wait_replicas(d, 3, "3 updated replicas running")
        for r in range(3):
            self.expect(new[r] != old[r], "replica %d was restarted" % r, d)
            self.expect_eq(self.environ(new[r]).get(b"GREETING"), b"v2",
                           "GREETING of replica %d" % r, d)
        self.expect_eq(self.get(d)["job"]["epoch"], epoch, "epoch after the update", d)
        # (the pids ctl.get shows are muster-exec's, the replicas' parent:
        # the records are the replicas' own, taken from the update on)
        down, worst = set(), 0
        for rec in self.records()[nrec:]:
            if rec[0] == "stop":
                down.add(rec[1])
            elif rec[0] == "start" and rec[3] == "v2":
                down.discard(rec[1])
            worst = max(worst, len(down))
        self.expect(worst == 1 and not down,
                    "replicas down at once during the rollout: at most %d, left %r\n%r"
                    % (worst, down, self.records()), d)
        g = self.get(d)
        self.expect_eq(g["spec"]["env"].get("GREETING"), "v2", "the job's env after", d)

        self.check("a broken update stops with a message; the old replicas keep serving")
        good = self.pids(d)
        p = self.run_muster(["update", "svc", "--command", "/bin/false"], timeout=30)
        self.expect(p.rc == 0, "muster update --command /bin/false", p)
        self.wait_for(lambda: (self.get(d).get("rollout") or "").startswith("stopped"), 60,
                      "the rollout to stop")
        g = self.get(d)
        self.expect("exited with code 1" in g["rollout"] and "0 of 3 updated" in g["rollout"],
                    "rollout message %r" % g["rollout"], d)
        self.expect_eq(g["job"]["state"], "running", "job state", d)
        back = self.wait_replicas(d, 3, "3 replicas running after the broken update")
        self.expect_eq(back[1], good[1], "replica 1 untouched", d)
        self.expect_eq(back[2], good[2], "replica 2 untouched", d)
        self.expect(back[0] != good[0], "replica 0 was tried and rolled back", d)
        self.expect_eq(self.environ(back[0]).get(b"GREETING"), b"v2",
                       "the rolled-back replica runs the old version", d)
        self.expect("service_echo" in proc_cmdline(back[0]),
                    "the rolled-back replica runs the old command", d)
        self.expect_eq(self.get(d).get("restarts_user"), 1,
                       "a failed update is not charged to the budget", d)

    def test_node_lost_and_scale(self):
        d = self.cluster(6)
        self.submit(d, 3)
        self.wait_replicas(d, 3, "3 replicas running")
        # in place, a survivor keeps running if it attached libmuster
        # (which its load report shows); a replica still starting is replaced
        self.wait_for(lambda: all("load" in m for m in self.get(d).get("members", [])),
                      60, "every replica to report its load")
        by_node = self.node_pids(d)
        members = set(by_node)

        self.check("an agent killed: its replica is re-placed on a free agent")
        victim = sorted(members)[1]
        agent = [p for p in self.procs if p.name == victim][0]
        agent.signal(signal.SIGKILL)
        self.wait_for(lambda: victim not in {m["node_id"] for m in self.get(d).get("members", [])}
                      and len(self.pids(d)) == 3, 60, "the replica to be re-placed")
        now = {m["node_id"] for m in self.get(d)["members"]}
        self.expect(len(now) == 3 and victim not in now and len(now - members) == 1,
                    "members %r (were %r, lost %s)" % (now, members, victim), d)
        g = self.get(d)
        self.expect(g.get("restarts_infra") == 1, "restarts_infra %r" % g.get("restarts_infra"), d)
        after = self.node_pids(d)
        for node in members & now:
            self.expect_eq(after[node], by_node[node],
                           "the pid of the replica on %s (in place)" % node, d)

        self.check("muster scale 3 -> 5 -> 2")
        p = self.run_muster(["scale", "svc", "5"], timeout=30)
        self.expect(p.rc == 0, "scale 5", p)
        self.wait_replicas(d, 5, "5 replicas")
        p = self.run_muster(["scale", "svc", "2"], timeout=30)
        self.expect(p.rc == 0, "scale 2", p)
        self.wait_replicas(d, 2, "2 replicas")

    def test_autoscale(self):
        d = self.cluster(4)
        load = os.path.join(self.tmp, "load")
        with open(load, "w") as f:
            f.write("0")
        self.submit(d, 1, env={"SERVICE_LOAD_FILE": load}, autoscale_min=1,
                    autoscale_max=3, autoscale_target=10, autoscale_cooldown_ms=1500)
        self.wait_replicas(d, 1, "1 replica running")
        seen = []

        def count(n):
            members = len(self.get(d).get("members", []))
            seen.append(members)
            return members == n and len(self.pids(d)) == n

        self.check("a high load: up to the max (3), never above")
        with open(load, "w") as f:
            f.write("100")
        self.wait_for(lambda: count(3), 60, "the autoscaler to reach 3 replicas")
        g = self.get(d)
        self.expect(re.search(r"target 3", g.get("autoscale", "")), "autoscale %r"
                    % g.get("autoscale"), d)
        self.wait_for(lambda: float(self.get(d).get("load") or "0") >= 300, 30,
                      "the 3 replicas' load (100 each) in ctl.get")
        self.expect(all(float(m.get("load", "0")) == 100 for m in self.get(d)["members"]),
                    "per-replica loads %r" % self.get(d)["members"], d)

        self.check("a low load: down to the min (1)")
        with open(load, "w") as f:
            f.write("0.5")
        self.wait_for(lambda: count(1), 60, "the autoscaler to go down to 1 replica")
        self.expect(max(seen) <= 3, "replicas seen %r: above the max" % sorted(set(seen)), d)

    def test_crash_loop_fails(self):
        d = self.cluster(2)
        self.check("a replica crash-looping past the budget fails the job, in one epoch")
        spec = {"id": "loop", "kind": "service", "argv": ["/bin/sh", "-c", "sleep 0.2; exit 3"],
                "last_call_ms": 500, "max_restarts": 2, "elastic_mode": "in-place",
                "roles": [{"name": "server", "min_nodes": 2, "max_nodes": 2, "nproc": 1}]}
        rep = self.call(d, {"t": "ctl.submit", "job": spec})
        self.expect(rep.get("t") not in (None, "error"), "submit: %r" % rep, d)
        self.wait_for(lambda: self.get(d, "loop").get("job", {}).get("state") == "failed",
                      60, "the crash-looping service to fail")
        g = self.get(d, "loop")
        self.expect_eq(g["job"]["epoch"], 1, "epoch of the failed service", d)
        self.expect_eq(g.get("restarts_user"), 2, "restarts charged", d)
        self.expect("restart budget exhausted (2 of 2 used)" in g["job"].get("reason", ""),
                    "reason %r" % g["job"].get("reason"), d)

    def test_bad_input(self):
        d = self.cluster(2)
        self.submit(d, 1)
        self.submit(d, 1, job="gang", kind="gang")
        self.wait_replicas(d, 1, "the service running")

        def err(msg, code_name, field, needle):
            rep = self.call(d, msg)
            self.check("%r -> %s naming %r" % (msg, code_name, field))
            self.expect(rep.get("t") == "error" and rep.get("code_name") == code_name
                        and rep.get("field") == field and needle in rep.get("message", ""),
                        "answer %r" % (rep,), d)
        err({"t": "ctl.update", "job": "gang", "env": {"A": "1"}}, "MUSTER_EINVAL", "job",
            "not a service")
        err({"t": "ctl.update", "job": "nope", "env": {"A": "1"}}, "MUSTER_ENOTFOUND", "job",
            "no job nope")
        err({"t": "ctl.update", "job": "svc"}, "MUSTER_EINVAL", "argv", "nothing to update")
        err({"t": "ctl.update", "job": "svc", "env": {"1BAD": "x"}}, "MUSTER_EINVAL", "env",
            "'1BAD' is not a variable name")
        err({"t": "ctl.update", "job": "svc", "env": "x"}, "MUSTER_EPROTO", "env", "")
        err({"t": "ctl.load", "job": "gang", "load": "1"}, "MUSTER_EINVAL", "job",
            "not a service")
        err({"t": "ctl.load", "job": "nope", "load": "1"}, "MUSTER_ENOTFOUND", "job",
            "no job nope")
        for bad in ("-1", "nan", "inf", "abc", ""):
            err({"t": "ctl.load", "job": "svc", "load": bad}, "MUSTER_EINVAL", "load",
                "'%s' is not a finite number >= 0" % bad)

        self.check("muster update: usage errors name the option (exit 2)")
        p = self.run_muster(["update", "svc", "--env", "NOEQUALS"], timeout=30)
        self.expect(p.rc == 2 and "--env 'NOEQUALS'" in p.err, "bad --env", p)
        p = self.run_muster(["update", "svc"], timeout=30)
        self.expect(p.rc == 2 and "nothing to update" in p.err, "nothing to update", p)
        p = self.run_muster(["update", "gang", "--env", "A=1"], timeout=30)
        self.expect(p.rc == 1 and "not a service" in p.err, "update of a gang job", p)

        self.check("the coordinator keeps serving: ctl.load accepted and shown")
        p = self.run_muster(["load", "svc", "7.5"], timeout=30)
        self.expect(p.rc == 0 and "load 7.500" in p.out, "muster load", p)
        self.expect_eq(self.get(d).get("load"), "7.500", "the job's load", d)


if __name__ == "__main__":
    main()
