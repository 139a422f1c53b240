#!/usr/bin/python3
"""How a checkpoint ended, through the Python binding
(progs/ckpt_outcome.py): Worker.ckpt_outcome() and muster.torch.outcome()
say once that a checkpoint was committed, or that it failed and why — a
rank that timed out (every rank hears it), or this worker's own write
that failed (the synchronous save raises, and the outcome names the
shard's path and the errno)."""
import os
import re

from pyharness import PyCase, main


class CkptOutcome(PyCase):
    def run_mode(self, nproc, mode, extra=(), torch=False):
        ck = os.path.join(self.tmp, "ck")
        p = self.py_run(["--nproc-per-node", str(nproc), "--ckpt-dir", ck,
                         "--ckpt-every", "1s"] + list(extra),
                        "ckpt_outcome.py", [mode] + (["torch"] if torch else []))
        self.expect_eq(p.rc, 0, "exit status", p)
        return p, ck

    def outcomes(self, p, nproc):
        got = self.lines(p, "outcome step")
        self.expect_eq(sorted(got), list(range(nproc)), "ranks with an outcome", p)
        errs = self.lines(p, "error")
        once = self.lines(p, "outcome once")
        self.check("each outcome is told once")
        self.expect_eq(sorted(once), list(range(nproc)), "ranks told once", p)
        out = {}
        for r, ls in got.items():
            m = re.match(r"(\d+) status (\S+) committed (\S+) reason ?(.*)$", ls[0])
            self.expect(m is not None, "rank %d outcome line %r" % (r, ls[0]), p)
            out[r] = (int(m.group(1)), m.group(2), m.group(3), m.group(4), errs[r][0])
        return out

    def test_committed(self):
        for torch in (False, True):
            p, ck = self.run_mode(2, "commit", torch=torch)
            self.check("both ranks hear that the checkpoint was committed (%s)"
                       % ("muster.torch.outcome" if torch else "Worker.ckpt_outcome"))
            out = self.outcomes(p, 2)
            for r, (step, status, committed, reason, err) in out.items():
                self.expect_eq((status, committed, reason, err), ("0", "True", "", "None"),
                               "rank %d outcome" % r, p)
                self.expect(os.path.exists(os.path.join(ck, os.listdir(ck)[0],
                                                        "step-%020d" % step, "MANIFEST")),
                            "step %d has a MANIFEST" % step, p)
            self.expect_eq(out[0][0], out[1][0], "the same step", p)

    def test_rank_times_out(self):
        p, ck = self.run_mode(2, "timeout", ["--ckpt-timeout", "500ms"])
        self.expect("not saving step" in p.out, "rank 1 did not save", p)
        self.check("both ranks hear that the checkpoint failed: rank 1 timed out")
        out = self.outcomes(p, 2)
        for r, (step, status, committed, reason, err) in out.items():
            self.expect_eq((status, committed, err), ("MUSTER_ETIMEDOUT", "False", "TimedOut"),
                           "rank %d outcome" % r, p)
            self.expect_eq(reason, "timed out waiting for rank 1 (1 of 2 missing)",
                           "rank %d reason" % r, p)
        self.expect_eq(out[0][0], out[1][0], "the same step", p)

    def test_own_write_fails(self):
        p, ck = self.run_mode(1, "unwritable")
        self.check("the synchronous save raises with the errno")
        self.expect_eq(self.lines(p, "save raised").get(0), ["MusterError errno ENOTDIR"],
                       "save", p)
        self.check("the outcome says this worker could not write its shard, where, once")
        out = self.outcomes(p, 1)
        step, status, committed, reason, err = out[0]
        self.expect_eq((status, committed, err), ("ENOTDIR", "False", "MusterError"),
                       "outcome", p)
        self.expect(re.match(r"this worker could not write its shard: Not a directory "
                             r"\(ENOTDIR on %s/[^ ]+/step-%020d/rank-000000\.shard\)$"
                             % (re.escape(ck), step), reason),
                    "reason %r" % reason, p)


if __name__ == "__main__":
    main()
