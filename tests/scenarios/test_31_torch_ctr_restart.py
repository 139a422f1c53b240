#!/usr/bin/python3
"""Scenario 31 — examples/torch_ctr in restart mode: 4 DDP ranks, one
SIGKILLs itself mid-training, muster restarts the gang at the same world,
the ranks resume from the last checkpoint (model, optimizer and step), and
the run ends with weights bit-identical to an uninterrupted run of the same
world (fingerprint of the final state dict), having reached the AUC the
example states on its held-out data."""
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import MusterCase, main  # noqa: E402
from torch_examples import (PYTHON, TORCH_CTR, ctr_finals,  # noqa: E402
                            ctr_starts, torch_missing)

WORLD = 4
STEPS = "200"  # the AUC target is reached by then (300 by default); keeps it short


class CtrRestart(MusterCase):
    def setUp(self):
        why = torch_missing()
        if why:
            print("SKIPPED: " + why, flush=True)
            self.skipTest(why)
        super().setUp()

    def run_ctr(self, name, args, extra=()):
        p = self.muster_run(["--python", PYTHON, "--nproc-per-node", str(WORLD),
                             *extra, "--", TORCH_CTR, "--steps", STEPS, *args],
                            name=name)
        self.expect_eq(p.wait(), 0, "exit status of " + name, p)
        finals = ctr_finals(p.out)
        self.expect_eq(len(finals), 1, "one final line from " + name, p)
        return p, finals[0]

    def test_crash_ends_bit_identical(self):
        _, want = self.run_ctr("uninterrupted", [])
        self.check("uninterrupted run: world %d, AUC %.4f (target %.2f), "
                   "weights %s..." % (WORLD, want["auc"], want["target"],
                                      want["weights"][:16]))
        self.expect(want["reached"], "the uninterrupted run reaches the target")
        ck = os.path.join(self.tmp, "ck")
        p, got = self.run_ctr("crashed", ["--ckpt-dir", ck, "--crash-at-step",
                                          "130", "--crash-rank", "2"],
                              ["--max-restarts", "1"])
        self.check("rank 2 killed itself at step 130; the gang restarted at "
                   "world %d and resumed from step 100" % WORLD)
        self.expect("[worker 2] crashing at step 130" in p.out, "the crash", p)
        starts = ctr_starts(p.out)
        self.expect_eq(sorted(r for (e, r) in starts if e == 2), list(range(WORLD)),
                       "ranks of epoch 2", p)
        self.expect(all(w == WORLD for (_, w) in starts.values()), "world stays", p)
        self.expect(re.search(r"resumed from step 100 \(file \S+, saved at world 4, "
                              r"now 4\)", p.out), "resumed from step 100", p)
        self.check("final weights bit-identical: %s" % got["weights"][:16])
        self.expect_eq(got["weights"], want["weights"], "final fingerprint", p)
        self.expect_eq(got["auc"], want["auc"], "final AUC", p)
        self.expect(got["reached"], "AUC %.4f reaches %.2f" % (got["auc"], got["target"]), p)


if __name__ == "__main__":
    main()
