#!/usr/bin/python3
"""Scenario 30 — an env-only PyTorch DDP script (examples/torch_ctr with its
own checkpoint files: it imports nothing of muster and reads only torchrun's
environment) is killed mid-training; muster restarts the gang, the script
resumes from its last atomic checkpoint and finishes; a torn temporary
file is never taken for a checkpoint; bad options are one clear error."""
import os
import re
import signal
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import MusterCase, main  # noqa: E402
from torch_examples import (PYTHON, TORCH_CTR, ctr_finals,  # noqa: E402
                            ctr_starts, torch_missing)


class EnvDDP(MusterCase):
    def setUp(self):
        why = torch_missing()
        if why:
            print("SKIPPED: " + why, flush=True)
            self.skipTest(why)
        super().setUp()

    def run_ctr(self, args, name, extra=()):
        return self.muster_run(["--python", PYTHON, "--nproc-per-node", "2",
                                *extra, "--", TORCH_CTR, *args], name=name)

    def test_kill9_resumes_from_own_checkpoint(self):
        ck = os.path.join(self.tmp, "ck")
        p = self.run_ctr(["--steps", "300", "--ckpt-dir", ck, "--ckpt-every", "25"],
                         "ddp", ["--max-restarts", "1"])
        self.wait_for(lambda: any(n.startswith("ckpt-step-") and n.endswith(".pt")
                                  for n in (os.listdir(ck) if os.path.isdir(ck) else [])),
                      40, "a first checkpoint file")
        pid = self.wait_for(lambda: ctr_starts(p.out).get((1, 1)), 20,
                            "rank 1's start line")[0]
        # a torn write of a later step, as a crash in the middle of
        # torch.save would leave it: it must be ignored
        with open(os.path.join(ck, "ckpt-step-99999.pt.123.tmp"), "wb") as f:
            f.write(b"torn")
        self.check("kill -9 rank 1 (pid %d) once a checkpoint exists" % pid)
        os.kill(pid, signal.SIGKILL)
        rc = p.wait()
        self.check("the job restarts (epoch 2) and succeeds")
        self.expect_eq(rc, 0, "exit status", p)
        self.expect("re-forming the gang" in p.err, "restart announced", p)
        self.expect_eq(sorted(r for (e, r) in ctr_starts(p.out) if e == 2), [0, 1],
                       "ranks started in epoch 2", p)
        m = re.search(r"resumed from step (\d+) \(file (\S+),", p.out)
        self.check("rank 0 resumed from its own complete file, not the torn one")
        self.expect(m is not None, "a 'resumed from step' line", p)
        self.expect(int(m.group(1)) >= 25 and int(m.group(1)) % 25 == 0,
                    "resumed at a checkpointed step (%s)" % m.group(1), p)
        self.expect(m.group(2).endswith("ckpt-step-%s.pt" % m.group(1)),
                    "resumed from ckpt-step-N.pt", p)
        finals = ctr_finals(p.out)
        self.check("training finished at step 300 and reached its AUC target")
        self.expect_eq([f["step"] for f in finals], [300], "final lines", p)
        self.expect(finals[0]["reached"], "AUC %.4f >= %.2f"
                    % (finals[0]["auc"], finals[0]["target"]), p)
        self.check("only the newest checkpoints are kept, the torn file ignored")
        kept = sorted(n for n in os.listdir(ck) if n.endswith(".pt"))
        self.expect_eq(kept, ["ckpt-step-275.pt", "ckpt-step-300.pt"], "files", p)

    def test_bad_options_are_named(self):
        for args, want in ((["--steps", "0"], "--steps must be at least 1"),
                           (["--ckpt", "file"], "--ckpt file needs --ckpt-dir")):
            p = self.run_ctr(args, "bad-%d" % len(self.procs))
            rc = p.wait()
            self.check("%s: fails, naming the problem (%r)" % (" ".join(args), want))
            self.expect(rc != 0, "non-zero exit", p)
            self.expect(want in p.err, "message %r" % want, p)

    def test_resume_with_other_sizes_is_refused(self):
        ck = os.path.join(self.tmp, "ck")
        p = self.run_ctr(["--steps", "20", "--ckpt-dir", ck, "--ckpt-every", "10"],
                         "first")
        self.expect_eq(p.wait(), 0, "first run", p)
        q = self.run_ctr(["--steps", "40", "--ckpt-dir", ck, "--rows", "1000"],
                         "other-rows")
        rc = q.wait()
        self.check("resuming a checkpoint made with other table sizes fails "
                   "and says which")
        self.expect(rc != 0, "non-zero exit", q)
        self.expect("checkpoint of step 20 was made with" in q.err
                    and "'rows': 20000" in q.err, "the mismatch is named", q)


if __name__ == "__main__":
    main()
