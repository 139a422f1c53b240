#!/usr/bin/python3
"""Scenario 42 — `muster submit FILE`: a YAML job spec submitted to a
musterd with free agents runs (every rank prints, the job succeeds, the
command, environment and role come from the file); --json answers in one
JSON object; malformed specs (not YAML, a wrong type, an unknown field, a
bad duration, min > max) are each refused on the client with
FILE:LINE:COLUMN and the field, exit status 2, nothing sent; and the
coordinator keeps serving, also after a malformed ctl.submit sent to it
directly."""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import (MusterCase, ctl_call, main, worker_lines,  # noqa: E402
                     zmq_available)

SCRIPT = ("import os\n"
          "print('HELLO rank=%s world=%s role=%s greeting=%s' % (os.environ['RANK'],"
          " os.environ['WORLD_SIZE'], os.environ['MUSTER_ROLE'],"
          " os.environ.get('GREETING')))\n")

SPEC = """# written by scenario 42
name: {name}
tenant: team-a
priority: 7
kind: gang
command: [{python}, {script}]
env:
  GREETING: from-the-spec
roles:
  - name: trainer
    replicas: 2
    nproc: 2
elastic:
  last_call: 0
restart:
  max_restarts: 1
"""

BAD = {
    # name: (text, the error's position and field, what it says)
    "not_yaml": ("name: j\nroles: [\n  - {{\n", None, "not valid YAML"),
    "wrong_type": ("name: j\ncommand: [x]\nroles:\n  - nproc: many\n",
                   ":4:12: roles[0].nproc", "expected a non-negative integer, got \"many\""),
    "unknown_field": ("name: j\ncommand: [x]\nroles:\n  - name: w\n    replica: 2\n",
                      ":5:5: roles[0].replica", "unknown field (did you mean replicas?)"),
    "bad_duration": ("name: j\ncommand: [x]\nroles: [{{}}]\ncheckpoint:\n  every: often\n",
                     ":5:10: checkpoint.every", "expected a duration"),
    "min_above_max": ("name: j\ncommand: [x]\nroles:\n  - replicas: 8:2\n",
                      ":4:15: roles[0].replicas", "min 8 is greater than max 2"),
}


class SubmitSpec(MusterCase):
    def setUp(self):
        super().setUp()
        why = zmq_available()
        if why:
            print("SKIPPED: cannot talk to the control port: " + why, flush=True)
            self.skipTest(why)

    def status(self, d, job=None):
        msg = {"t": "ctl.status"}
        if job:
            msg["job"] = job
        return ctl_call(d.ctl_ep, msg) or {}

    def wait_done(self, d, job):
        def done():
            jobs = self.status(d, job).get("jobs") or [{}]
            st = jobs[0].get("state")
            return st in ("succeeded", "failed", "cancelled") and jobs[0]
        return self.wait_for(done, 60, "job %s to finish" % job)

    def write_spec(self, name):
        script = self.write_script("hello.py", SCRIPT)
        path = os.path.join(self.tmp, name + ".yaml")
        with open(path, "w") as f:
            f.write(SPEC.format(name=name, python=sys.executable, script=script))
        return path

    def test_valid_spec_runs(self):
        d = self.musterd()
        agents = [self.agent(d, "sp%d" % i, 2) for i in range(2)]
        self.wait_for(lambda: self.status(d).get("nodes") == 2, 20, "2 agents registered")
        path = self.write_spec("specjob")

        self.check("muster submit FILE is accepted (exit 0, says submitted)")
        p = self.run_muster(["submit", "--coordinator", d.ctl_ep, path])
        self.expect_eq(p.rc, 0, "exit status of muster submit", p)
        self.expect("job specjob: submitted" in p.out, "its output", p)

        info = self.wait_done(d, "specjob")
        self.check("the job ran to success with world 4 (2 replicas x 2 processes)")
        self.expect_eq((info.get("state"), info.get("world")), ("succeeded", 4),
                       "job info %r" % info, d, *agents)
        ranks = {}
        for a in agents:
            for r, lines in worker_lines(a.out, "trainer").items():
                ranks[r] = [l for l in lines if l.startswith("HELLO")]
        self.check("every rank ran the spec's command with its env and role name")
        self.expect_eq(sorted(ranks), [0, 1, 2, 3], "ranks that printed", *agents)
        for r, lines in sorted(ranks.items()):
            self.expect_eq(lines, ["HELLO rank=%d world=4 role=trainer "
                                   "greeting=from-the-spec" % r],
                           "rank %d's line" % r, *agents)

        self.check("--json: one JSON object saying ok and the job")
        path2 = self.write_spec("specjob2")
        p = self.run_muster(["submit", "--json", "--coordinator", d.ctl_ep, path2])
        self.expect_eq(p.rc, 0, "exit status of muster submit --json", p)
        out = json.loads(p.out)
        self.expect_eq((out.get("ok"), out.get("job")), (True, "specjob2"), "json %r" % out, p)
        self.wait_done(d, "specjob2")

        self.check("no coordinator at the endpoint: exit 1, the error names it")
        gone = "ipc://" + os.path.join(self.tmp, "nobody.sock")
        p = self.run_muster(["submit", "--coordinator", gone, path2])
        self.expect_eq(p.rc, 1, "exit status without a coordinator", p)
        self.expect("job specjob2: no coordinator at " + gone in p.err, "the error", p)

    def test_malformed_specs(self):
        d = self.musterd()
        before = self.status(d)
        for name, (text, where, what) in sorted(BAD.items()):
            path = os.path.join(self.tmp, name + ".yaml")
            with open(path, "w") as f:
                f.write(text.format())
            self.check("%s: exit 2, the error names %s and the field" % (name, where or "the line"))
            p = self.run_muster(["submit", "--coordinator", d.ctl_ep, path])
            self.expect_eq(p.rc, 2, "exit status", p)
            if where:
                self.expect(path + where + ": " + what in p.err, "error text", p)
            else:
                self.expect(p.err.startswith("muster submit: " + path + ":")
                            and what in p.err, "error text", p)
            p = self.run_muster(["submit", "--json", "--coordinator", d.ctl_ep, path])
            out = json.loads(p.out)
            self.expect_eq((p.rc, out.get("ok")), (2, False), "--json: %r" % out, p)
            self.expect(what in out["errors"][0], "--json errors %r" % out, p)

        self.check("nothing was submitted, and the coordinator keeps serving")
        after = self.status(d)
        self.expect_eq(after.get("jobs"), before.get("jobs"), "jobs", d)

        self.check("a malformed ctl.submit sent directly gets an error; musterd serves on")
        rep = ctl_call(d.ctl_ep, {"t": "ctl.submit", "job": {"id": "x", "roles": "worker",
                                                              "argv": ["true"]}})
        self.expect(rep is not None and rep.get("t") == "error", "answer %r" % (rep,), d)
        self.expect("roles" in (rep or {}).get("message", ""), "it names the field: %r" % (rep,), d)
        self.expect(d.running() and "nodes" in self.status(d), "status after it", d)

        self.check("--dry-run checks a shipped example without a coordinator")
        ex = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                          "examples", "specs", "train_gang.yaml")
        p = self.run_muster(["submit", "--dry-run", ex])
        self.expect_eq(p.rc, 0, "exit status", p)
        self.expect("job ctr-train (gang, tenant recsys, priority 10)" in p.out, "summary", p)


if __name__ == "__main__":
    main()
