#!/usr/bin/python3
"""Scenario 51 — tidal multiplexing through the scheduler (docs/scheduler.md,
rule S3 and S5; decisions 81-85): a service job (kind service, priority 10)
and an elastic training job share 4 agents.  Scaling the service up with
`muster scale` shrinks the training (a checkpoint first, so no committed step
is lost); scaling it down lets the training grow back; the training
finishes at its last step with the checksum of an uninterrupted run."""
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import (MusterCase, bin_path, ctl_call, main,  # noqa: E402
                     zmq_available)

STEPS = 1500

SERVICE = """name: svc
kind: service
priority: 10
command: [/bin/sh, -c, "echo SERVING $RANK; exec sleep 600"]
roles:
  - name: serve
    replicas: 1:3
    nproc: 1
elastic:
  last_call: 0
"""

TRAIN = """name: train
priority: 0
command: [{prog}, --steps, "{steps}", --step-ms, "10", --size, "64"]
roles:
  - name: worker
    replicas: 1:4
    nproc: 1
elastic:
  mode: restart
  last_call: 0
checkpoint:
  dir: {ckdir}
  every_steps: 25
"""


class Tidal(MusterCase):
    def setUp(self):
        super().setUp()
        why = zmq_available()
        if why:
            print("SKIPPED: cannot talk to the control port: " + why, flush=True)
            self.skipTest(why)

    def info(self, d, job):
        rep = ctl_call(d.ctl_ep, {"t": "ctl.status", "job": job}) or {}
        return (rep.get("jobs") or [{}])[0]

    def on(self, d, job):
        rep = ctl_call(d.ctl_ep, {"t": "ctl.nodes"}) or {}
        return len([n for n in rep.get("nodes") or [] if n.get("job") == job])

    def submit(self, d, name, text):
        path = os.path.join(self.tmp, name + ".yaml")
        with open(path, "w") as f:
            f.write(text)
        p = self.run_muster(["submit", "--coordinator", d.ctl_ep, path])
        self.expect_eq(p.rc, 0, "muster submit " + name, p)

    def scale(self, d, job, n):
        p = self.run_muster(["scale", "--coordinator", d.ctl_ep, job, str(n)])
        self.expect_eq(p.rc, 0, "muster scale %s %d" % (job, n), p)

    def test_service_up_shrinks_training_down_grows_it(self):
        self.check("reference: the same training uninterrupted, on one node")
        ref = self.muster_run(["--nproc-per-node", "1", "--", bin_path("ckpt_train"),
                               "--steps", str(STEPS), "--step-ms", "0", "--size", "64"],
                              name="reference")
        ref.wait(120)
        m = re.search(r"done at step %d checksum ([0-9a-f]+)" % STEPS, ref.out)
        self.expect(ref.rc == 0 and m, "reference run", ref)
        want = m.group(1)

        d = self.musterd()
        agents = [self.agent(d, "t%d" % i, 1) for i in range(4)]
        self.wait_for(lambda: (ctl_call(d.ctl_ep, {"t": "ctl.status"}) or {})
                      .get("nodes") == 4, 20, "4 agents")
        ck = os.path.join(self.tmp, "ck")
        os.makedirs(ck)
        self.submit(d, "svc", SERVICE)
        self.wait_for(lambda: self.on(d, "svc") == 1, 30, "the service at 1 replica")
        self.submit(d, "train", TRAIN.format(prog=bin_path("ckpt_train"), steps=STEPS,
                                             ckdir=ck))
        self.check("the training grows onto the 3 agents the service leaves")
        self.wait_for(lambda: self.on(d, "train") == 3
                      and self.info(d, "train").get("world") == 3
                      and self.info(d, "train").get("ckpt_step", 0) >= 25, 60,
                      "training at 3 with a checkpoint")
        self.check("service scaled up to 3: training shrinks to 1 (checkpoint first)")
        before = self.info(d, "train").get("ckpt_step", 0)
        self.scale(d, "svc", 3)
        self.wait_for(lambda: self.on(d, "svc") == 3 and self.on(d, "train") == 1
                      and self.info(d, "train").get("world") == 1, 60,
                      "service 3, training 1")
        after = self.info(d, "train").get("ckpt_step", 0)
        self.expect(after >= before, "committed step %d then %d" % (before, after), d)
        self.check("service scaled down to 1: training grows back to 3")
        self.scale(d, "svc", 1)
        self.wait_for(lambda: self.on(d, "svc") == 1 and self.on(d, "train") == 3
                      and self.info(d, "train").get("world") == 3, 60,
                      "service 1, training 3")
        self.check("training finishes at step %d with the uninterrupted checksum" % STEPS)
        def done():
            i = self.info(d, "train")
            return i.get("state") in ("succeeded", "failed") and i
        info = self.wait_for(done, 120, "training to finish")
        self.expect_eq(info.get("state"), "succeeded", "training %r" % info, d, *agents)
        out = "".join(a.out for a in agents)
        sums = re.findall(r"done at step %d checksum ([0-9a-f]+)" % STEPS, out)
        self.expect(len(sums) >= 3 and set(sums) == {want},
                    "final checksums %r, want %s" % (sums, want), *agents)
        restored = [int(x) for x in re.findall(r"restored step (\d+) from", out)]
        self.expect(restored and min(restored) >= before,
                    "restored %r (checkpoint %d before the shrink)" % (restored, before),
                    *agents)
        ev = (ctl_call(d.ctl_ep, {"t": "ctl.events", "job": "train", "since": 0,
                                  "max": 1000}) or {}).get("events") or []
        kinds = [(e.get("kind"), e.get("cause")) for e in ev]
        self.check("events: training shrunk for svc, then grown")
        shrunk = [e for e in ev if e.get("kind") == "sched.preempted"]
        self.expect(len(shrunk) == 2 and all("for job svc" in (e.get("detail") or "")
                                            for e in shrunk),
                    "shrink events %r" % shrunk, d)
        self.expect(kinds.count(("sched.placed", "grown")) >= 4, "kinds %r" % kinds, d)
        ctl_call(d.ctl_ep, {"t": "ctl.cancel", "job": "svc"})


if __name__ == "__main__":
    main()
