#!/usr/bin/python3
"""Scenario 50 — musterd schedules submitted jobs with the gang scheduler
(docs/scheduler.md, decisions 81-85): a higher-priority job preempts a
lower one on a 4-agent cluster (checkpoint, suspend, resume from the
checkpoint at the right step); a gang never starts partially and says why
it waits; a quota that can never fit is a structured MUSTER_EQUOTA and
`muster submit` exits non-zero, one that fits but is busy waits with the
reason; a role's labels choose its agents; a drained agent's work moves
(checkpoint first); an elastic submitted job scales 3 -> 5 -> 2 through
`muster scale`; and musterd killed with SIGKILL comes back knowing its
queued and preempted jobs."""
import os
import re
import signal
import sys
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import (MusterCase, bin_path, ctl_call, main,  # noqa: E402
                     zmq_available)

TRAIN = """name: {name}
priority: {priority}
command: [{prog}, --steps, "{steps}", --step-ms, "{step_ms}", --size, "64"]
roles:
  - name: worker
    replicas: {replicas}
    nproc: 1
{labels}elastic:
  mode: {mode}
  last_call: 0
checkpoint:
  dir: {ckdir}
  every_steps: {every}
"""

HELLO = """name: {name}
priority: {priority}
command: [/bin/sh, -c, "echo HELLO {name} $RANK/$WORLD_SIZE; sleep {sleep}"]
roles:
  - name: worker
    replicas: {replicas}
    nproc: 1
{labels}elastic:
  last_call: 0
"""


class SchedCluster(MusterCase):
    def setUp(self):
        super().setUp()
        why = zmq_available()
        if why:
            print("SKIPPED: cannot talk to the control port: " + why, flush=True)
            self.skipTest(why)

    # -- helpers

    def info(self, d, job):
        rep = ctl_call(d.ctl_ep, {"t": "ctl.status", "job": job}) or {}
        jobs = rep.get("jobs") or [{}]
        return jobs[0]

    def nodes_alive(self, d):
        return (ctl_call(d.ctl_ep, {"t": "ctl.status"}) or {}).get("nodes")

    def cluster(self, n, extra=(), labels=None):
        d = self.musterd(extra=list(extra))
        agents = []
        for i in range(n):
            lab = []
            for kv in (labels or {}).get(i, []):
                lab += ["--label", kv]
            agents.append(self.agent(d, "a%d" % i, 1, lab))
        self.wait_for(lambda: self.nodes_alive(d) == n, 20,
                      "%d agents registered" % n)
        return d, agents

    def submit(self, d, text, name, expect_rc=0):
        path = os.path.join(self.tmp, name + ".yaml")
        with open(path, "w") as f:
            f.write(text)
        p = self.run_muster(["submit", "--coordinator", d.ctl_ep, path])
        self.expect_eq(p.rc, expect_rc, "exit status of muster submit " + name, p)
        return p

    def train(self, d, name, priority=0, replicas="4", steps=400, step_ms=20,
              every=20, mode="restart", labels=""):
        ck = os.path.join(self.tmp, "ck")
        os.makedirs(ck, exist_ok=True)
        return self.submit(d, TRAIN.format(
            name=name, priority=priority, prog=bin_path("ckpt_train"),
            steps=steps, step_ms=step_ms, replicas=replicas, every=every,
            mode=mode, ckdir=ck, labels=labels), name)

    def hello(self, d, name, priority=0, replicas=1, sleep=0, labels="",
              expect_rc=0):
        return self.submit(d, HELLO.format(name=name, priority=priority,
                                           replicas=replicas, sleep=sleep,
                                           labels=labels), name, expect_rc)

    def wait_state(self, d, job, states, timeout=60):
        def ok():
            i = self.info(d, job)
            return i.get("state") in states and i
        return self.wait_for(ok, timeout, "job %s to be %s" % (job, "/".join(states)))

    def events(self, d, job):
        rep = ctl_call(d.ctl_ep, {"t": "ctl.events", "job": job, "since": 0,
                                  "max": 1000}) or {}
        return [(e.get("kind"), e.get("cause"), e.get("detail") or "")
                for e in rep.get("events") or []]

    def out_of(self, agents):
        return "".join(a.out for a in agents)

    # -- tests

    def test_priority_preempts_and_resumes(self):
        d, agents = self.cluster(4)
        self.train(d, "low", priority=0, replicas="4", steps=600, step_ms=20)
        self.check("the low-priority job runs on all 4 agents and commits a checkpoint")
        self.wait_for(lambda: self.info(d, "low").get("state") == "running"
                      and self.info(d, "low").get("ckpt_step", 0) >= 40, 60,
                      "low to run and commit a checkpoint")
        self.hello(d, "high", priority=10, replicas=4, sleep=2)
        self.check("the high-priority job (needs 4) preempts it: low is checkpointed "
                   "and suspended, with the reason naming high")
        low = self.wait_state(d, "low", ("suspended",), 60)
        self.expect("preempted by the scheduler for job high" in (low.get("reason") or ""),
                    "low's reason %r" % low.get("reason"), d)
        saved = low.get("ckpt_step", 0)
        self.expect(saved >= 40, "low's checkpoint at suspension %r" % low, d)
        self.check("high runs whole and succeeds; low is resumed from its checkpoint")
        high = self.wait_state(d, "high", ("succeeded", "failed"), 60)
        self.expect_eq(high.get("state"), "succeeded", "high %r" % high, d)
        low = self.wait_state(d, "low", ("succeeded", "failed"), 120)
        self.expect_eq(low.get("state"), "succeeded", "low %r" % low, d, *agents)
        out = self.out_of(agents)
        restored = [int(x) for x in re.findall(r"restored step (\d+) from", out)]
        self.expect(restored and min(restored) >= saved,
                    "restored steps %r, checkpoint at suspension %d" % (restored, saved),
                    *agents)
        self.expect_eq(len(re.findall(r"done at step 600 ", out)), 4,
                       "ranks finishing at step 600", *agents)
        kinds = [(k, c) for k, c, _ in self.events(d, "low")]
        self.check("the events say sched.placed, sched.preempted (suspended), sched.resumed")
        for want in (("sched.placed", "placed"), ("sched.preempted", "suspended"),
                     ("sched.resumed", "resumed")):
            self.expect(want in kinds, "event %r in %r" % (want, kinds), d)

    def queue_length(self, d):
        url = None
        with open(d.endpoints_file) as f:
            for line in f:
                parts = line.split()
                if len(parts) == 2 and parts[0] == "metrics":
                    url = parts[1]
        body = urllib.request.urlopen(url, timeout=5).read().decode()
        m = re.search(r"^muster_scheduler_queue_length (\S+)$", body, re.M)
        return float(m.group(1)) if m else None

    def test_gang_waits_whole(self):
        d, agents = self.cluster(2, extra=["--metrics-bind", "127.0.0.1:0"])
        self.expect_eq(self.queue_length(d), 0.0, "queue length before", d)
        self.hello(d, "gang3", replicas=3)
        self.check("a 3-agent gang on 2 free agents waits, saying why with figures")
        def reason():
            r = self.info(d, "gang3").get("reason") or ""
            return "needs 3" in r and r
        r = self.wait_for(reason, 20, "gang3's reason")
        self.expect("2 free" in r, "reason %r" % r, d)
        self.expect("HELLO" not in self.out_of(agents), "no rank started", *agents)
        self.check("the scheduler's queue length (metrics) counts it")
        self.expect_eq(self.queue_length(d), 1.0, "queue length while it waits", d)
        self.check("the third agent registers: the gang starts whole and succeeds")
        agents.append(self.agent(d, "a2", 1))
        info = self.wait_state(d, "gang3", ("succeeded", "failed"), 60)
        self.expect_eq((info.get("state"), info.get("world")), ("succeeded", 3),
                       "gang3 %r" % info, d, *agents)
        self.expect_eq(self.queue_length(d), 0.0, "queue length after", d)

    def test_quota(self):
        user = __import__("pwd").getpwuid(os.geteuid()).pw_name
        d, agents = self.cluster(3, extra=["--quota", "%s=2" % user])
        self.check("a job whose min exceeds the tenant's quota is refused: "
                   "MUSTER_EQUOTA naming tenant, quota and need; exit non-zero")
        p = self.hello(d, "big", replicas=3, expect_rc=1)
        self.expect("EQUOTA" in p.err or "quota" in p.err, "error %r" % p.err, p)
        self.expect(user in p.err and "2" in p.err and "3" in p.err,
                    "error names tenant/quota/need %r" % p.err, p)
        rep = ctl_call(d.ctl_ep, {"t": "ctl.submit", "job": {
            "id": "big2", "argv": ["true"],
            "roles": [{"name": "w", "min_nodes": 3, "max_nodes": 3, "nproc": 1}]}})
        self.expect(rep and rep.get("code") is not None and rep.get("code") != 0,
                    "structured error %r" % rep, d)
        self.expect(self.info(d, "big").get("id") is None, "big was not created", d)
        self.check("within the quota but busy: waits with the quota reason")
        self.hello(d, "two", replicas=2, sleep=4)
        self.wait_state(d, "two", ("running",), 30)
        self.hello(d, "one", replicas=1)
        def reason():
            r = self.info(d, "one").get("reason") or ""
            return "quota" in r and r
        self.wait_for(reason, 20, "one's quota reason")
        info = self.wait_state(d, "one", ("succeeded", "failed"), 60)
        self.expect_eq(info.get("state"), "succeeded", "one %r" % info, d)

    def test_labels_choose_agents(self):
        d, agents = self.cluster(3, labels={2: ["zone=a"]})
        self.check("ctl.nodes shows the labels an agent registered with")
        rep = ctl_call(d.ctl_ep, {"t": "ctl.nodes", "node": "a2"}) or {}
        labels = ((rep.get("nodes") or [{}])[0]).get("labels")
        self.expect_eq(labels, {"zone": "a"}, "a2's labels", d)
        p = self.run_muster(["nodes", "--coordinator", d.ctl_ep])
        line = [l for l in p.out.splitlines() if l.startswith("a2 ")]
        self.expect(p.rc == 0 and line and line[0].endswith(" zone=a"),
                    "muster nodes: %r" % p.out, p)
        self.check("a role with labels zone=a lands only on the agent with it")
        self.hello(d, "zoned", labels="    labels: {zone: a}\n")
        info = self.wait_state(d, "zoned", ("succeeded", "failed"), 60)
        self.expect_eq(info.get("state"), "succeeded", "zoned %r" % info, d)
        self.expect("HELLO zoned" in agents[2].out, "a2 ran it", *agents)
        self.expect("HELLO zoned" not in agents[0].out + agents[1].out,
                    "no other agent ran it", *agents)
        self.check("a bad label is refused by muster-agent, naming it")
        p = self.start("badlabel", [bin_path("muster-agent"), "--coordinator",
                                    d.agent_ep, "--label", "zone"])
        p.wait(10)
        self.expect(p.rc == 2 and "label 'zone'" in p.err, "rc %r err %r" % (p.rc, p.err), p)

    def test_drain_moves_work(self):
        d, agents = self.cluster(3)
        self.train(d, "dr", replicas="2", steps=500, step_ms=20)
        self.wait_for(lambda: self.info(d, "dr").get("state") == "running"
                      and self.info(d, "dr").get("ckpt_step", 0) >= 40, 60,
                      "dr to run and checkpoint")
        rep = ctl_call(d.ctl_ep, {"t": "ctl.nodes"}) or {}
        busy = [n["node_id"] for n in rep.get("nodes") or [] if n.get("job") == "dr"]
        self.expect_eq(len(busy), 2, "agents of dr", d)
        self.check("draining one of its agents moves its replica to the free agent")
        p = self.run_muster(["drain", "--coordinator", d.ctl_ep, busy[0]])
        self.expect_eq(p.rc, 0, "muster drain", p)
        def moved():
            r = ctl_call(d.ctl_ep, {"t": "ctl.nodes"}) or {}
            on = sorted(n["node_id"] for n in r.get("nodes") or []
                        if n.get("job") == "dr")
            return busy[0] not in on and len(on) == 2 and on
        self.wait_for(moved, 60, "dr to leave the drained agent")
        info = self.wait_state(d, "dr", ("succeeded", "failed"), 120)
        self.expect_eq(info.get("state"), "succeeded", "dr %r" % info, d, *agents)
        out = self.out_of(agents)
        self.expect_eq(len(re.findall(r"done at step 500 ", out)), 2,
                       "ranks finishing at step 500", *agents)
        saved = [int(x) for x in re.findall(r"saved step (\d+) \(committed\)", out)]
        restored = [int(x) for x in re.findall(r"restored step (\d+) from", out)]
        self.check("no committed step lost: it resumed from its newest checkpoint")
        self.expect(restored and max(restored) >= 40, "restored %r saved %r"
                    % (restored, saved), *agents)

    def test_scale_3_5_2(self):
        d, agents = self.cluster(5)
        self.train(d, "el", replicas="1:3", steps=3000, step_ms=20, every=50,
                   mode="in-place")
        def on():
            r = ctl_call(d.ctl_ep, {"t": "ctl.nodes"}) or {}
            return len([n for n in r.get("nodes") or [] if n.get("job") == "el"])
        self.check("the elastic job grows to its max 3 on free agents")
        self.wait_for(lambda: on() == 3 and self.info(d, "el").get("world") == 3, 60,
                      "el at 3")
        for target in (5, 2):
            self.check("muster scale el %d" % target)
            p = self.run_muster(["scale", "--coordinator", d.ctl_ep, "el",
                                 str(target)])
            self.expect_eq(p.rc, 0, "muster scale", p)
            self.wait_for(lambda: on() == target
                          and self.info(d, "el").get("world") == target, 60,
                          "el at %d" % target)
        self.check("the scheduler shrank it (events sched.preempted, cause shrunk)")
        kinds = [(k, c) for k, c, _ in self.events(d, "el")]
        self.expect_eq(kinds.count(("sched.preempted", "shrunk")), 3,
                       "shrink events in %r" % kinds, d)
        self.expect_eq(kinds.count(("sched.placed", "grown")), 4,
                       "grow events in %r" % kinds, d)
        ctl_call(d.ctl_ep, {"t": "ctl.cancel", "job": "el"})
        self.wait_state(d, "el", ("cancelled",), 30)

    def test_bad_requests(self):
        self.check("musterd --quota with a bad value exits 2, naming it")
        p = self.start("badquota", [bin_path("musterd"), "--agent-bind",
                                    "tcp://127.0.0.1:0", "--ctl-bind", "none",
                                    "--state-dir", os.path.join(self.tmp, "bq"),
                                    "--quota", "recsys"])
        p.wait(10)
        self.expect(p.rc == 2 and "--quota recsys" in p.err, "rc %r err %r"
                    % (p.rc, p.err), p)
        d, agents = self.cluster(1)
        base = {"id": "b", "argv": ["true"],
                "roles": [{"name": "w", "min_nodes": 1, "max_nodes": 1, "nproc": 1}]}
        cases = [("kind", dict(base, kind="batch")),
                 ("priority", dict(base, priority="high")),
                 ("labels", dict(base, roles=[{"name": "w", "min_nodes": 1,
                                               "max_nodes": 1, "nproc": 1,
                                               "labels": "zone=a"}])),
                 ("tenant", dict(base, tenant=7))]
        for field, job in cases:
            self.check("a ctl.submit with a bad %s gets an error naming it" % field)
            rep = ctl_call(d.ctl_ep, {"t": "ctl.submit", "job": job})
            self.expect(rep is not None and rep.get("t") == "error"
                        and field in rep.get("message", ""), "answer %r" % (rep,), d)
        self.check("a scale of a submitted job with min > max is refused, naming max")
        self.hello(d, "el", replicas="1:2", sleep=30)
        self.wait_state(d, "el", ("running",), 30)
        rep = ctl_call(d.ctl_ep, {"t": "ctl.scale", "job": "el", "min": 3, "max": 2})
        self.expect(rep and rep.get("t") == "error" and "max" in rep.get("message", ""),
                    "answer %r" % (rep,), d)
        self.check("the coordinator keeps serving: el still runs")
        self.expect_eq(self.info(d, "el").get("state"), "running", "el", d)
        ctl_call(d.ctl_ep, {"t": "ctl.cancel", "job": "el"})
        self.wait_state(d, "el", ("cancelled",), 30)

    def test_restart_keeps_queue(self):
        d, agents = self.cluster(2)
        self.train(d, "low", priority=0, replicas="2", steps=5000, step_ms=20)
        self.wait_for(lambda: self.info(d, "low").get("state") == "running"
                      and self.info(d, "low").get("ckpt_step", 0) >= 20, 60,
                      "low running with a checkpoint")
        self.train(d, "high", priority=5, replicas="2", steps=5000, step_ms=20)
        saved = self.wait_state(d, "low", ("suspended",), 60).get("ckpt_step", 0)
        self.wait_state(d, "high", ("running",), 60)
        self.hello(d, "queued", priority=1, replicas=2)
        self.wait_for(lambda: "queued" in (self.info(d, "queued").get("reason") or ""),
                      20, "queued's reason")
        self.check("musterd killed with SIGKILL and restarted on the same state")
        d.signal(signal.SIGKILL)
        d.wait(10)
        d2 = self.musterd(name="musterd", state_dir=d.state_dir,
                          agent_bind="tcp://127.0.0.1:%d" % d.agent_port)
        low = self.wait_state(d2, "low", ("suspended",), 30)
        self.expect("preempted" in (low.get("reason") or ""), "low %r" % low, d2)
        q = self.info(d2, "queued")
        self.expect(q.get("state") in ("pending", "rendezvous"), "queued %r" % q, d2)
        self.wait_for(lambda: "queued" in (self.info(d2, "queued").get("reason") or ""),
                      30, "queued's reason after the restart")
        self.check("the rebuilt scheduler goes on: high cancelled, queued runs, "
                   "then low resumes from its checkpoint")
        ctl_call(d2.ctl_ep, {"t": "ctl.cancel", "job": "high"})
        q = self.wait_state(d2, "queued", ("succeeded", "failed"), 60)
        self.expect_eq(q.get("state"), "succeeded", "queued %r" % q, d2, *agents)
        self.wait_state(d2, "low", ("running",), 60)
        def restored():
            return [int(x) for x in re.findall(r"\[worker \d\] restored step (\d+) from",
                                               self.out_of(agents))]
        got = self.wait_for(lambda: len(restored()) >= 2 and restored(), 60,
                            "low's 2 ranks to restore")
        self.expect(min(got) >= saved, "restored %r, saved %d" % (got, saved), *agents)
        ctl_call(d2.ctl_ep, {"t": "ctl.cancel", "job": "low"})
        self.wait_state(d2, "low", ("cancelled",), 30)


if __name__ == "__main__":
    main()
