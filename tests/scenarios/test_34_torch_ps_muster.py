#!/usr/bin/python3
"""Scenario 34 — examples/torch_ps through muster's checkpoints (the
Python binding): every member reports its steps, muster asks for a
checkpoint every 10 steps and commits it when every server's rows and
every worker's step are durable; the job crashes with 2 servers, and the
same job resumed with 3 servers (on a new coordinator: the checkpoint
directory is all that is shared) restores through muster's bucket restore
plan and ends with the row count and table checksum of a fault-free run."""
import glob
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import MusterCase, main  # noqa: E402
from torch_examples import (PYTHON, TORCH_PS, binding_env,  # noqa: E402
                            binding_missing, torch_missing)

NBUCKETS = 64
STEPS = "60"
TABLE = re.compile(r"\[worker 0\] table rows=(\d+) checksum=([0-9a-f]{16}) "
                   r"auc=[0-9.]+ servers=(\d+) step=(\d+)")


class TorchPSMuster(MusterCase):
    def setUp(self):
        why = torch_missing() or binding_missing()
        if why:
            print("SKIPPED: " + why, flush=True)
            self.skipTest(why)
        super().setUp()

    def job(self, d, job, nps, args, extra=()):
        def node(role, name):
            return self.muster_run(
                ["--rdzv-endpoint", d.rdzv, "--rdzv-id", job,
                 "--roles", "worker=1x2,ps=%dx1" % nps, "--role", role,
                 "--node-id", name, "--nbuckets", str(NBUCKETS),
                 "--python", PYTHON, "--connect-timeout", "20s", *extra, "--",
                 TORCH_PS, "--steps", STEPS, *args], name=name,
                env_extra=binding_env())
        return [node("worker", "%s-%s-w" % (d.name, job))] + \
            [node("ps", "%s-%s-ps%d" % (d.name, job, i)) for i in range(nps)]

    def table(self, nodes):
        m = TABLE.findall(nodes[0].out)
        self.expect_eq(len(m), 1, "one table line", *nodes)
        rows, csum, servers, step = m[0]
        return int(rows), csum, int(servers), int(step)

    def test_resume_two_to_three_servers(self):
        d = self.musterd()
        ref = self.job(d, "ref", 2, ["--ckpt", "none"])
        for n in ref:
            self.expect_eq(n.wait(), 0, "exit status of " + n.name, *ref)
        rows, csum, _, _ = self.table(ref)
        self.check("fault-free run, 2 servers: %d rows, checksum %s" % (rows, csum))

        ck = os.path.join(self.tmp, "ck")
        ckargs = ["--ckpt-dir", ck, "--ckpt-every-steps", "10"]
        crashed = self.job(d, "psm", 2, ["--ckpt", "muster", "--crash-at-step", "35"],
                           ckargs)
        for n in crashed:
            self.expect(n.wait() != 0, "%s fails with the job" % n.name, *crashed)
        self.expect("crashing at step 35" in crashed[0].out, "the crash", *crashed)
        steps = sorted(int(os.path.basename(os.path.dirname(m))[5:]) for m in
                       glob.glob(os.path.join(ck, "psm", "step-*", "MANIFEST")))
        self.check("the 2-server job crashed at step 35; muster committed %r" % steps)
        self.expect(steps and steps[-1] in (20, 30), "a committed step 20 or 30",
                    *crashed)

        d2 = self.musterd(name="musterd2")
        resumed = self.job(d2, "psm", 3, ["--ckpt", "muster"], ckargs)
        for n in resumed:
            self.expect_eq(n.wait(), 0, "exit status of " + n.name, *resumed)
        self.expect(("resuming job psm from step %d" % steps[-1]) in resumed[0].err,
                    "muster resumes from step %d" % steps[-1], *resumed)
        ranges = []
        for n in resumed[1:]:
            for m in re.finditer(r"restored buckets \[(\d+),(\d+)\) of step (\d+)",
                                 n.out):
                ranges.append((int(m.group(1)), int(m.group(2))))
                self.expect_eq(int(m.group(3)), steps[-1], "restored step", n)
        ranges.sort()
        self.check("3 servers restored step %d through muster's restore plan: %r"
                   % (steps[-1], ranges))
        self.expect_eq(ranges, [(0, 21), (21, 42), (42, 64)], "ranges", *resumed)
        got = self.table(resumed)
        self.check("resumed with 3 servers: %d rows, checksum %s" % (got[0], got[1]))
        self.expect_eq(got, (rows, csum, 3, int(STEPS)),
                       "rows, checksum, servers, step", *resumed)


if __name__ == "__main__":
    main()
