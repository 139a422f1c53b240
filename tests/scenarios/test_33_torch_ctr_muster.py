#!/usr/bin/python3
"""Scenario 33 — examples/torch_ctr through muster's Python binding: the
process group comes up on musterd's KV store (--store muster: no TCPStore,
no MASTER_PORT) and checkpoints go through muster's two-phase commit
(--ckpt muster, muster run --ckpt-every-steps); a rank killed mid-training
restarts the gang, every rank restores its shard of the newest complete
checkpoint, and the run ends bit-identical to an uninterrupted run of the
same world, with the AUC it states; --ckpt muster without a checkpoint
directory is one clear error."""
import glob
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import MusterCase, main  # noqa: E402
from torch_examples import (PYTHON, TORCH_CTR, binding_env,  # noqa: E402
                            binding_missing, ctr_finals, torch_missing)

WORLD, STEPS = 4, "150"


class CtrMuster(MusterCase):
    def setUp(self):
        why = torch_missing() or binding_missing()
        if why:
            print("SKIPPED: " + why, flush=True)
            self.skipTest(why)
        super().setUp()

    def run_ctr(self, name, args, extra=()):
        p = self.muster_run(["--python", PYTHON, "--nproc-per-node", str(WORLD),
                             *extra, "--", TORCH_CTR, "--steps", STEPS, *args],
                            name=name, env_extra=binding_env())
        self.expect_eq(p.wait(), 0, "exit status of " + name, p)
        finals = ctr_finals(p.out)
        self.expect_eq(len(finals), 1, "one final line from " + name, p)
        return p, finals[0]

    def test_crash_resumes_from_muster_checkpoint(self):
        _, want = self.run_ctr("uninterrupted", [])
        self.check("uninterrupted run (TCPStore, no checkpoints): AUC %.4f, "
                   "weights %s..." % (want["auc"], want["weights"][:16]))
        ck = os.path.join(self.tmp, "ck")
        p, got = self.run_ctr("crashed", ["--store", "muster", "--ckpt", "muster",
                                          "--crash-at-step", "100", "--crash-rank", "3"],
                              ["--rdzv-id", "ctr33", "--ckpt-dir", ck,
                               "--ckpt-every-steps", "40", "--max-restarts", "1"])
        # checkpoints are due at steps 40 and 80; their commits are
        # asynchronous, so the newest complete one at the crash is either
        m = re.search(r"resuming job ctr33 from step (\d+)", p.err)
        self.expect(m is not None and m.group(1) in ("40", "80"),
                    "muster resumes from step 40 or 80", p)
        step = m.group(1)
        self.check("rank 3 killed itself at step 100; muster restored step %s "
                   "on every rank" % step)
        self.expect("[worker 3] crashing at step 100" in p.out, "the crash", p)
        self.expect("resumed from step %s (muster checkpoint, saved at world 4, "
                    "now 4)" % step in p.out, "the script resumed", p)
        self.check("the checkpoints are muster's: committed MANIFESTs in %s" % ck)
        self.expect(glob.glob(os.path.join(ck, "ctr33", "step-*", "MANIFEST")),
                    "a MANIFEST", p)
        self.check("final weights bit-identical: %s..." % got["weights"][:16])
        self.expect_eq(got["weights"], want["weights"], "final fingerprint", p)
        self.expect(got["reached"], "AUC %.4f reaches %.2f" % (got["auc"], got["target"]), p)

    def test_muster_ckpt_needs_a_ckpt_dir(self):
        p = self.muster_run(["--python", PYTHON, "--nproc-per-node", "1", "--",
                             TORCH_CTR, "--ckpt", "muster"], env_extra=binding_env())
        rc = p.wait()
        self.check("--ckpt muster in a job without --ckpt-dir: a clear error")
        self.expect(rc != 0, "non-zero exit", p)
        self.expect("--ckpt muster needs a job with checkpoints" in p.err, "message", p)


if __name__ == "__main__":
    main()
