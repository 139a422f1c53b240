#!/usr/bin/python3
"""Checkpoints through the Python binding (progs/ckpt.py): four workers,
each saving with another method (bytes synchronously, a bytearray
asynchronously, a writer callback, a file); a crash of rank 1 with
--max-restarts 1 resumes every rank from its own shard of one committed
step and ends with exactly the uninterrupted state; a finished job run
again with --resume restores the last checkpoint."""
import os
import re

from pyharness import PyCase, main

WORLD, STEPS = 4, 60
TOTAL = sum(range(STEPS))


class Checkpoints(PyCase):
    def ckpt_args(self, job):
        return ["--nproc-per-node", str(WORLD), "--rdzv-id", job,
                "--ckpt-dir", os.path.join(self.tmp, "ckpt"),
                "--ckpt-every-steps", "10"]

    def test_crash_resumes_from_every_save_method(self):
        p = self.py_run(self.ckpt_args("ck-crash") + ["--max-restarts", "1"],
                        "ckpt.py", [STEPS, 35, 1])
        self.check("rank 1 crashes after step 35; the job restarts and succeeds")
        self.expect_eq(p.rc, 0, "exit status", p)
        self.expect("crashing after step 35" in p.out, "rank 1 crashed", p)
        res = self.lines(p, "resumed after step")
        self.check("every rank resumed from its own shard of the same step")
        self.expect_eq(sorted(res), list(range(WORLD)), "ranks that resumed", p)
        steps = set()
        for r, ls in res.items():
            m = re.match(r"(\d+) total (\d+) \(shard of rank (\d+), step (\d+)\)$", ls[0])
            self.expect(m is not None, "rank %d resume line %r" % (r, ls[0]), p)
            s, total, frm, rstep = (int(x) for x in m.groups())
            self.expect_eq((total, frm, rstep), (sum(range(s + 1)), r, s),
                           "rank %d: state, writer and step of its shard" % r, p)
            steps.add(s)
        self.expect(len(steps) == 1 and 10 <= steps.pop() <= 35,
                    "one committed step between 10 and 35", p)
        self.check("every rank ends with the uninterrupted state %d" % TOTAL)
        done = self.lines(p, "done total")
        self.expect_eq(sorted(done), list(range(WORLD)), "ranks done", p)
        for r, ls in done.items():
            self.expect(ls[-1].startswith("%d saves" % TOTAL), "rank %d: %r" % (r, ls[-1]), p)

    def test_resume_of_a_finished_job(self):
        p = self.py_run(self.ckpt_args("ck-again"), "ckpt.py", [STEPS])
        self.check("a fresh run saves at least once on every rank")
        self.expect_eq(p.rc, 0, "exit status", p)
        for r, ls in self.lines(p, "done total").items():
            n = int(ls[-1].split()[-1])
            self.expect(n >= 1, "rank %d saved %d times" % (r, n), p)
        self.expect_eq(sorted(self.lines(p, "fresh start")), list(range(WORLD)),
                       "fresh starts", p)
        q = self.py_run(self.ckpt_args("ck-again") + ["--resume"], "ckpt.py", [STEPS + 20])
        self.check("run again with --resume: every rank restores its bytes")
        self.expect_eq(q.rc, 0, "exit status", q)
        res = self.lines(q, "resumed after step")
        self.expect_eq(sorted(res), list(range(WORLD)), "ranks that resumed", q)
        for r, ls in res.items():
            s, total = (int(x) for x in ls[0].split()[:3:2])
            self.expect_eq(total, sum(range(s + 1)), "rank %d restored state" % r, q)
            self.expect(self.lines(q, "done total")[r][-1].startswith(
                "%d " % sum(range(STEPS + 20))), "rank %d final state" % r, q)


if __name__ == "__main__":
    main()
