#!/usr/bin/python3
"""Scenario 45 — events and timelines (docs/events.md).

  * a job on two agents takes a checkpoint, loses a worker (killed) and
    restarts from it: `muster events --job J --json` holds exactly the
    events of that story, in order (job created, round opened and closed,
    epoch 1, checkpoint requested and committed, the worker's exit with
    cause user, the restart, the other rank stopped, round, epoch 2 from
    the checkpoint's step, both workers ok, the job finished);
  * `muster events -f` started before the job printed them live and ends
    with status 0 on SIGINT; `--until-done` ends by itself;
  * `muster timeline J -o t.json` is Chrome trace JSON with one lane per
    rank and the crash as an instant on its rank; `-o t.svg` is
    well-formed SVG with a bar per rank and epoch and the crash marked;
  * a reader whose `since` is older than the bounded log holds is told of
    the gap; bad arguments are named;
  * a node lost, a preemption with its checkpoint, the resume from it and
    a cancel are events in that order, the node loss marked on its node;
  * a follower goes on across a coordinator restart and says so; the new
    session's log marks the restored job and replays nothing;
  * another user sees none of root's events and is refused its job's.
"""
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import MusterCase, bin_path, ctl_call, main  # noqa: E402

SVG = "{http://www.w3.org/2000/svg}"


class EventsTimeline(MusterCase):
    def cluster(self, extra=()):
        d = self.musterd(extra=extra)
        a1 = self.agent(d, "n1", 1)
        a2 = self.agent(d, "n2", 1)
        self.wait_for(lambda: (ctl_call(d.ctl_ep, {"t": "ctl.status"}) or {})
                      .get("nodes") == 2, 20, "both agents to register")
        return d, a1, a2

    def submit(self, d, job):
        rep = ctl_call(d.ctl_ep, {"t": "ctl.submit", "job": job})
        self.expect(rep is not None and rep.get("status") == 0,
                    "submit %s: %r" % (job["id"], rep), d)

    def state(self, d, job_id):
        st = ctl_call(d.ctl_ep, {"t": "ctl.status", "job": job_id}) or {}
        return (st.get("jobs") or [{}])[0].get("state")

    def muster(self, d, args, **kw):
        return self.run_muster([args[0], "--endpoint", d.ctl_ep] + list(args[1:]),
                               **kw)

    def test_crash_and_checkpoint_story(self):
        d, a1, a2 = self.cluster()
        self.check("`muster events -f` and `--until-done --job ev45` start "
                   "before the job exists")
        follow = self.start("follow", [bin_path("muster"), "events", "-f",
                                       "--endpoint", d.ctl_ep])
        until = self.start("until", [bin_path("muster"), "events", "--json",
                                     "--until-done", "--job", "ev45",
                                     "--endpoint", d.ctl_ep])
        ck = os.path.join(self.tmp, "ck")
        self.submit(d, {"id": "ev45",
                        "roles": [{"name": "worker", "min_nodes": 2,
                                   "max_nodes": 2, "nproc": 1}],
                        "argv": [bin_path("ckpt_train"), "--steps", "400",
                                 "--step-ms", "10"],
                        "last_call_ms": 0, "ckpt_dir": ck, "max_restarts": 2})
        def rank1():
            for node, a in (("n1", a1), ("n2", a2)):
                m = re.search(r"rank 1 pid (\d+) epoch 1", a.out)
                if m:
                    return node, int(m.group(1))
            return None
        node1, pid = self.wait_for(rank1, 30, "rank 1 to start")
        self.check("a checkpoint, committed (muster checkpoint --wait)")
        p = self.muster(d, ["checkpoint", "--wait", "ev45"])
        self.expect_eq(p.rc, 0, "checkpoint --wait", p)
        step = int(re.search(r"step (\d+) committed", p.out).group(1))
        self.check("rank 1 (pid %d on %s) killed: the job restarts from "
                   "step %d" % (pid, node1, step))
        os.kill(pid, signal.SIGKILL)
        self.expect_eq(until.wait(90), 0, "events --until-done", until)
        self.expect_eq(self.state(d, "ev45"), "succeeded", "job state", d)

        evs = [json.loads(line) for line in until.out.splitlines()]
        seqs = [e["seq"] for e in evs]
        self.expect_eq(seqs, sorted(set(seqs)), "sequence numbers grow", until)
        evs = evs[:[e["kind"] for e in evs].index("job.finished") + 1]
        # A checkpoint asked at a step the workers already passed is
        # aborted and asked again later (ckpt.c): such retried attempts
        # are part of the story but their number is not; each is a
        # requested/aborted pair of one step, followed by the next request.
        kept = []
        # The scheduler's placements (schedwire: one per agent, their order
        # against the round's opening not fixed) are checked apart.
        placed = [e for e in evs if e["kind"] == "sched.placed"]
        self.expect_eq([e["cause"] for e in placed], ["placed", "placed"],
                       "the scheduler's placements", until)
        for i, e in enumerate(evs):
            if e["kind"] in ("node.joined", "sched.placed"):
                continue
            if (e["kind"] == "ckpt.requested" and i + 2 < len(evs)
                    and evs[i + 1]["kind"] == "ckpt.aborted"
                    and evs[i + 1]["step"] == e["step"]
                    and evs[i + 2]["kind"] == "ckpt.requested"):
                continue
            if (e["kind"] == "ckpt.aborted" and i + 1 < len(evs)
                    and evs[i + 1]["kind"] == "ckpt.requested"
                    and evs[i - 1]["kind"] == "ckpt.requested"
                    and evs[i - 1]["step"] == e["step"]):
                continue
            kept.append(e)
        story = [(e["kind"], e["cause"]) if e["kind"] == "worker.exited"
                 else e["kind"] for e in kept]
        want = ["job.created", "rdzv.opened", "rdzv.closed", "epoch.started",
                "ckpt.requested", "ckpt.committed",
                ("worker.exited", "user"), "job.recovering",
                ("worker.exited", "stopped"),
                "rdzv.opened", "rdzv.closed", "epoch.started",
                ("worker.exited", "ok"), ("worker.exited", "ok"),
                "job.finished"]
        self.check("the events of ev45 are exactly the story, in order")
        self.expect_eq(story, want, "kinds in order", until)
        by = {}
        for e in evs:
            by.setdefault(e["kind"], []).append(e)
        crash = [e for e in by["worker.exited"] if e["cause"] == "user"][0]
        self.expect_eq((crash["node"], crash["rank"], crash["signal"], crash["epoch"]),
                       (node1, 1, 9, 1), "the crash: node, rank, signal, epoch",
                       until)
        self.expect_eq(by["ckpt.committed"][0]["step"], step, "committed step",
                       until)
        self.expect_eq(by["ckpt.requested"][-1]["step"], step,
                       "the committed step was the one requested last", until)
        e2 = by["epoch.started"][1]
        self.expect_eq((e2["epoch"], e2["step"], e2["world"]), (2, step, 2),
                       "epoch 2 restores the checkpoint", until)
        node0 = "n2" if node1 == "n1" else "n1"
        self.expect_eq(sorted((m["first_rank"], m["node"]) for m in e2["members"]),
                       [(0, node0), (1, node1)], "epoch 2 members", until)
        fin = by["job.finished"][0]
        self.expect_eq((fin["state"], fin["code"]), ("succeeded", 0),
                       "job.finished", until)

        self.check("`muster events -f` printed the story live; SIGINT ends it "
                   "with status 0")
        self.wait_for(lambda: "job.finished" in follow.out, 20,
                      "the follower to print job.finished")
        follow.signal(signal.SIGINT)
        self.expect_eq(follow.wait(20), 0, "events -f after SIGINT", follow)
        self.expect(re.search(r"worker\.exited +epoch 1 node %s rank 1 cause user"
                              % node1, follow.out) is not None,
                    "the crash line", follow)
        followed = [int(m.group(1)) for m in
                    re.finditer(r"^\S+ #(\d+) +ev45 ", follow.out, re.M)]

        self.check("`muster events --job ev45` after the job ended: the same "
                   "events (kept with the finished job), as -f printed them")
        p = self.muster(d, ["events", "--job", "ev45", "--json"])
        again = [json.loads(l)["seq"] for l in p.out.splitlines()]
        self.expect_eq(again[:len(evs)], [e["seq"] for e in evs], "same events", p)
        self.expect(fin["seq"] in followed, "-f printed job.finished", follow)
        self.expect_eq(followed, [q for q in again if q <= max(followed)],
                       "-f printed every event of ev45, once, in order", follow)

        self.check("timeline as Chrome trace JSON: one lane per rank, the "
                   "crash an instant on rank 1")
        tj = os.path.join(self.tmp, "t.json")
        p = self.muster(d, ["timeline", "ev45", "-o", tj])
        self.expect_eq(p.rc, 0, "timeline -o t.json", p)
        with open(tj) as f:
            trace = json.load(f)
        te = trace["traceEvents"]
        procs = {e["pid"]: e["args"]["name"] for e in te
                 if e["ph"] == "M" and e["name"] == "process_name"}
        lanes = sorted((procs[e["pid"]], e["args"]["name"]) for e in te
                       if e["ph"] == "M" and e["name"] == "thread_name"
                       and e["args"]["name"].startswith("rank"))
        self.expect_eq(lanes, sorted([("node " + node0, "rank 0"),
                                      ("node " + node1, "rank 1")]),
                       "lanes", p)
        bars = [e for e in te if e["ph"] == "X" and e["cat"] == "epoch"]
        self.expect_eq(sorted((procs[b["pid"]], b["tid"], b["args"]["epoch"],
                               b["args"]["end"]) for b in bars),
                       sorted([("node " + node0, 0, 1, "stopped"),
                               ("node " + node0, 0, 2, "ok"),
                               ("node " + node1, 1, 1, "user"),
                               ("node " + node1, 1, 2, "ok")]),
                       "one bar per rank and epoch, ended by its cause", p)
        crashes = [e for e in te if e["ph"] == "i" and e["name"] == "worker.exited"]
        self.expect_eq([(procs[e["pid"]], e["tid"], e["args"]["cause"])
                        for e in crashes], [("node " + node1, 1, "user")],
                       "the crash instant", p)
        self.expect(any(e["ph"] == "i" and e["name"] == "ckpt.committed"
                        and e["args"]["step"] == step for e in te),
                    "the checkpoint instant", p)

        self.check("timeline as SVG: well-formed, a bar per rank and epoch, "
                   "the crash and the checkpoint marked")
        ts = os.path.join(self.tmp, "t.svg")
        p = self.muster(d, ["timeline", "ev45", "-o", ts])
        self.expect_eq(p.rc, 0, "timeline -o t.svg", p)
        root = ET.parse(ts).getroot()
        self.expect_eq(root.tag, SVG + "svg", "root element", p)
        cls = [el.get("class") for el in root.iter()]
        self.expect_eq((cls.count("epoch"), cls.count("crash"),
                        cls.count("ckpt-committed")), (4, 1, 1),
                       "epoch bars, crash marks, checkpoint marks", p)
        texts = " ".join(el.text or "" for el in root.iter(SVG + "text"))
        for word in ("ev45", "n1", "n2", "rank 0", "rank 1", "epoch 1",
                     "epoch 2", "worker failed", "checkpoint committed"):
            self.expect(word in texts, "%r written in the picture" % word, p)

    def test_node_loss_preempt_resume_cancel(self):
        d, a1, a2 = self.cluster()
        ck = os.path.join(self.tmp, "ck")
        self.submit(d, {"id": "nl45",
                        "roles": [{"name": "worker", "min_nodes": 1,
                                   "max_nodes": 2, "nproc": 1}],
                        "argv": [bin_path("ckpt_train"), "--steps", "100000",
                                 "--step-ms", "10"],
                        "last_call_ms": 0, "ckpt_dir": ck})

        def world():
            st = ctl_call(d.ctl_ep, {"t": "ctl.status", "job": "nl45"}) or {}
            j = (st.get("jobs") or [{}])[0]
            return j.get("state") == "running" and j.get("world")
        self.wait_for(lambda: world() == 2, 30, "nl45 to run on both nodes")
        self.check("agent n2 killed (SIGKILL): node.lost, the job re-forms "
                   "on n1")
        a2.kill()
        self.wait_for(lambda: world() == 1 and "rank 0 pid" in a1.out, 30,
                      "nl45 to run on n1 alone")
        self.check("preempted: checkpoint, suspended; resumed; cancelled")
        p = self.muster(d, ["preempt", "--grace", "10s", "nl45"])
        self.expect_eq(p.rc, 0, "preempt", p)
        self.wait_for(lambda: self.state(d, "nl45") == "suspended", 30,
                      "nl45 to be suspended")
        p = self.muster(d, ["resume", "nl45"])
        self.expect_eq(p.rc, 0, "resume", p)
        self.wait_for(lambda: world() == 1, 30, "nl45 to run again")
        p = self.muster(d, ["cancel", "nl45"])
        self.expect_eq(p.rc, 0, "cancel", p)
        self.wait_for(lambda: self.state(d, "nl45") == "cancelled", 30,
                      "nl45 to be cancelled")
        p = self.muster(d, ["events", "--job", "nl45", "--json"])
        evs = [json.loads(l) for l in p.out.splitlines()]

        def first(pred, after, what):
            for i in range(after, len(evs)):
                if pred(evs[i]):
                    return i
            self.fail("no %s after event %d in:\n%s" % (what, after, p.out))
        i = first(lambda e: e["kind"] == "epoch.started" and e["world"] == 2,
                  0, "epoch of 2")
        i = first(lambda e: e["kind"] == "node.lost" and e["node"] == "n2"
                  and e["cause"] == "infra", i, "node.lost of n2")
        i = first(lambda e: e["kind"] == "job.recovering"
                  and e["cause"] == "infra", i, "an infra restart")
        i = first(lambda e: e["kind"] == "epoch.started" and e["world"] == 1,
                  i, "epoch of 1")
        i = first(lambda e: e["kind"] == "preempt.requested", i, "preemption")
        c = first(lambda e: e["kind"] == "ckpt.committed", i, "its checkpoint")
        i = first(lambda e: e["kind"] == "job.finished"
                  and e["state"] == "suspended", c, "suspended")
        i = first(lambda e: e["kind"] == "job.resumed"
                  and e["step"] == evs[c]["step"], i, "resumed from it")
        i = first(lambda e: e["kind"] == "epoch.started"
                  and e["step"] == evs[c]["step"], i, "an epoch restoring it")
        i = first(lambda e: e["kind"] == "job.stopping"
                  and e["state"] == "cancelled", i, "cancel")
        i = first(lambda e: e["kind"] == "job.finished"
                  and e["state"] == "cancelled" and e["code"] == 130, i,
                  "cancelled")
        self.check("the events hold that story in order: node lost, restart, "
                   "preempt, checkpoint %d, suspended, resumed from it, "
                   "cancelled" % evs[c]["step"])
        self.check("the timeline marks the node loss across n2's lane")
        ts = os.path.join(self.tmp, "nl.svg")
        p = self.muster(d, ["timeline", "nl45", "-o", ts])
        self.expect_eq(p.rc, 0, "timeline", p)
        cls = [el.get("class") for el in ET.parse(ts).getroot().iter()]
        self.expect_eq(cls.count("node-lost"), 1, "node-lost lines", p)
        tj = os.path.join(self.tmp, "nl.json")
        p = self.muster(d, ["timeline", "nl45", "-o", tj])
        with open(tj) as f:
            te = json.load(f)["traceEvents"]
        self.expect_eq([(e["s"], e["args"]["node"]) for e in te
                        if e["ph"] == "i" and e["name"] == "node.lost"],
                       [("p", "n2")], "the node.lost instant", p)

    def test_follow_across_a_restart(self):
        d = self.musterd(extra=["--heartbeat", "100ms"])
        self.agent(d, "n1", 1)
        self.submit(d, {"id": "rs45",
                        "roles": [{"name": "worker", "min_nodes": 1,
                                   "max_nodes": 1, "nproc": 1}],
                        "argv": ["sleep", "60"], "last_call_ms": 0})
        self.wait_for(lambda: self.state(d, "rs45") == "running", 30,
                      "rs45 to run")
        f = self.start("follow", [bin_path("muster"), "events", "-f",
                                  "--job", "rs45", "--endpoint", d.ctl_ep])
        self.wait_for(lambda: "epoch.started" in f.out, 20,
                      "the follower to print epoch 1")
        old = re.search(r"session (\w+)",
                        self.muster(d, ["events"]).out).group(1)
        self.check("musterd restarts on its state directory: the follower "
                   "says so and follows the new session")
        port = d.agent_port
        d.stop()
        d2 = self.musterd(name="musterd", state_dir=d.state_dir,
                          agent_bind="tcp://127.0.0.1:%d" % port,
                          extra=["--heartbeat", "100ms"])
        self.wait_for(lambda: "job.restored" in f.out, 30,
                      "the follower to print job.restored")
        self.expect("the coordinator restarted (session %s, now " % old
                    in f.err, "the restart said", f)
        self.expect(f.running(), "the follower goes on", f)
        self.check("the new session numbers from 1 and marks the restored "
                   "job; nothing of the old session is reported again")
        p = self.muster(d2, ["events", "--json"])
        evs = [json.loads(l) for l in p.out.splitlines()]
        self.expect_eq([(e["seq"], e["kind"]) for e in evs[:2]],
                       [(1, "coord.started"), (2, "job.restored")],
                       "the new log", p)
        self.expect_eq([e["kind"] for e in evs if e["kind"] in
                        ("job.created", "epoch.started")], [],
                       "no replayed transitions", p)
        f.signal(signal.SIGINT)
        self.expect_eq(f.wait(20), 0, "follower after SIGINT", f)

    def test_gap_and_errors(self):
        d = self.musterd(extra=["--events-keep", "8"])
        self.agent(d, "n1", 1)
        self.wait_for(lambda: (ctl_call(d.ctl_ep, {"t": "ctl.status"}) or {})
                      .get("nodes") == 1, 20, "the agent to register")
        for i in range(2):
            self.submit(d, {"id": "g%d" % i,
                            "roles": [{"name": "worker", "min_nodes": 1,
                                       "max_nodes": 1, "nproc": 1}],
                            "argv": ["true"], "last_call_ms": 0})
            self.wait_for(lambda: self.state(d, "g%d" % i) == "succeeded", 30,
                          "job g%d to succeed" % i)
        self.check("the log holds its newest 8 events; a reader at since 1 is "
                   "told of the gap")
        p = self.muster(d, ["events", "--since", "1"])
        self.expect_eq(p.rc, 0, "events --since 1", p)
        m = re.search(r"events 2 to (\d+) were dropped", p.err)
        self.expect(m is not None, "a gap reported", p)
        first = int(re.match(r"\S+ #(\d+)", p.out).group(1))
        self.expect_eq(first, int(m.group(1)) + 1, "first event after the gap", p)
        self.expect_eq(len(p.out.splitlines()), 8, "events held", p)
        self.check("the job's own list outlives the global ring: g0's timeline "
                   "is whole")
        p = self.muster(d, ["events", "--job", "g0", "--json"])
        kinds = [json.loads(l)["kind"] for l in p.out.splitlines()]
        self.expect_eq((kinds[0], kinds[-1]), ("job.created", "job.finished"),
                       "g0's events", p)
        self.expect(p.err == "", "no gap within g0's list: %r" % p.err, p)
        self.check("`muster timeline g0 -o - --format svg`: the picture on "
                   "stdout")
        p = self.muster(d, ["timeline", "g0", "-o", "-", "--format", "svg"])
        self.expect_eq(p.rc, 0, "timeline to stdout", p)
        self.expect_eq(ET.fromstring(p.out).tag, SVG + "svg", "root element", p)
        self.check("bad requests are named")
        for args, want in (
                (["events", "--since", "999"], "ahead of the newest event"),
                (["events", "--since", "x"], "--since takes a sequence number"),
                (["events", "--job", "nosuch"], "no job nosuch"),
                (["events", "--until-done"], "--until-done needs --job"),
                (["timeline", "g0"], "give -o FILE.json or -o FILE.svg"),
                (["timeline", "g0", "-o", "t.png"], "end it in .json or .svg"),
                (["timeline", "g0", "-o", "t", "--format", "bmp"],
                 "--format is json or svg"),
                (["timeline", "nosuch", "-o", "t.json"], "no job nosuch")):
            p = self.muster(d, args)
            self.expect(p.rc != 0 and want in p.err,
                        "muster %s: rc %s, stderr %r" % (" ".join(args), p.rc, p.err),
                        p)
        self.check("musterd still serves")
        self.expect(ctl_call(d.ctl_ep, {"t": "ctl.status"}) is not None,
                    "status after bad requests", d)

    def test_other_user_sees_nothing_of_roots(self):
        if os.geteuid() != 0:
            self.skipTest("needs root to create a second user")
        for tool in ("useradd", "userdel", "runuser"):
            if shutil.which(tool) is None:
                self.skipTest("%s is not installed" % tool)
        user = "me" + secrets.token_hex(4)
        r = subprocess.run(["useradd", "-M", "-s", "/bin/sh", user],
                           capture_output=True, timeout=60)
        self.expect_eq(r.returncode, 0, "useradd: %r" % r.stderr)
        self.addCleanup(lambda: subprocess.run(["userdel", "-f", user],
                                               capture_output=True, timeout=60))
        os.chmod(self.tmp, 0o711)
        d = self.musterd()
        self.agent(d, "n1", 1)
        self.wait_for(lambda: (ctl_call(d.ctl_ep, {"t": "ctl.status"}) or {})
                      .get("nodes") == 1, 20, "the agent to register")
        self.submit(d, {"id": "rootjob",
                        "roles": [{"name": "worker", "min_nodes": 1,
                                   "max_nodes": 1, "nproc": 1}],
                        "argv": ["true"], "last_call_ms": 0})
        self.wait_for(lambda: self.state(d, "rootjob") == "succeeded", 30,
                      "root's job to succeed")

        def as_user(args):
            r = subprocess.run(["runuser", "-u", user, "--", bin_path("muster")]
                               + [args[0], "--endpoint", d.ctl_ep] + args[1:],
                               capture_output=True, timeout=60, env=self.env,
                               cwd="/")
            return r.returncode, r.stdout.decode(), r.stderr.decode()
        self.check("%s's `muster events` lists none of root's job's events"
                   % user)
        rc, out, err = as_user(["events", "--json"])
        self.expect_eq(rc, 0, "events as %s (%s)" % (user, err), d)
        jobs = {json.loads(l)["job"] for l in out.splitlines()}
        self.expect_eq(jobs, {None}, "jobs whose events %s sees" % user, d)
        self.check("root sees them (an admin)")
        p = self.muster(d, ["events", "--job", "rootjob"])
        self.expect("job.finished" in p.out, "root's view", p)
        for args in (["events", "--job", "rootjob"],
                     ["timeline", "rootjob", "-o", "/tmp/none.json"]):
            self.check("%s's `muster %s`: refused, naming the owner"
                       % (user, " ".join(args)))
            rc, out, err = as_user(args)
            self.expect(rc != 0 and "belongs to root" in err,
                        "rc %d stderr %r" % (rc, err), d)


if __name__ == "__main__":
    main()
