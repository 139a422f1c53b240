#!/usr/bin/python3
"""Scenario 16 — checkpoints: a worker killed at any phase of a checkpoint
never leaves a usable partial checkpoint (the previous complete one is
restored and training ends in the same state as an uninterrupted run); a
flipped byte in a shard is detected, reported, and the previous checkpoint
used; preempting (SIGTERM) checkpoints, suspends, exits 75, and the same command
resumes from the committed step; a PS job saved with 2 servers restores
with 3, every bucket owned once; retention keeps exactly K checkpoints."""
import glob
import os
import re
import signal
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import MusterCase, bin_path, main  # noqa: E402

STEPS = "300"
# Runs that need two periodic checkpoints before the end (the kill-in-phase
# runs, where rank 1's saves are also slowed by 300 ms, and the corrupt-shard
# run) train longer: with 300 steps a loaded machine sometimes fitted only
# one (a CI flake); 600 leave about a second of room.
LONG_STEPS = "600"


def train(extra=(), steps=STEPS):
    return [bin_path("ckpt_train"), "--steps", steps, "--step-ms", "3"] + list(extra)


def checksums(text):
    return set(re.findall(r"done at step \d+ checksum ([0-9a-f]+)", text))


def restored(text):
    return set(int(s) for s in re.findall(r"restored step (\d+)", text))


# Runs that share checkpoints name their job: without --rdzv-id the id is
# derived from the command (scenario 22), and these runs' commands differ.
JOB = "ck16"


def complete_steps(ckpt, job=JOB):
    return sorted(int(os.path.basename(os.path.dirname(m))[5:])
                  for m in glob.glob(os.path.join(ckpt, job, "step-*", "MANIFEST")))


class Checkpoint(MusterCase):
    def reference(self, steps=STEPS):
        """The final state of a run that is never interrupted."""
        p = self.muster_run(["--nproc-per-node", "2", "--", *train(steps=steps)],
                            name="reference")
        self.expect_eq(p.wait(), 0, "reference run", p)
        sums = checksums(p.out)
        self.expect_eq(len(sums), 1, "one final state", p)
        return sums.pop()

    def kill_in_phase(self, phase):
        want = self.reference(LONG_STEPS)
        ck = os.path.join(self.tmp, "ck-" + phase)
        p = self.muster_run(["--nproc-per-node", "2", "--max-restarts", "1",
                             "--rdzv-id", JOB,
                             "--ckpt-dir", ck, "--ckpt-every", "250ms",
                             "--log-level", "info", "--",
                             *train(["--die-in-save", phase, "--die-at-save", "2",
                                     "--slow-save-rank", "1",
                                     "--slow-save-ms", "300"],
                                    steps=LONG_STEPS)],
                            name="run-" + phase)
        rc = p.wait()
        self.check("rank 0 killed '%s' in the 2nd checkpoint: the job "
                   "recovers and succeeds" % phase)
        self.expect_eq(rc, 0, "exit status", p)
        before = p.err.split("JOB-RECOVER")[0]
        commits = [int(s) for s in re.findall(r"step (\d+) committed", before)]
        want_step = {commits[-1]} if commits else set()
        self.check("the restart restored the newest checkpoint committed "
                   "before the kill (%s), not the interrupted one"
                   % (commits[-1] if commits else "none: start fresh"))
        self.expect("JOB-RECOVER" in p.err, "the job recovered", p)
        self.expect_eq(restored(p.out), want_step, "restored step", p)
        aborted = re.findall(r"CKPT-ABORTED job ck16: step (\d+)", p.err)
        for s in aborted:
            self.expect(int(s) not in complete_steps(ck),
                        "aborted step %s has no MANIFEST" % s, p)
        self.check("training ended in the uninterrupted run's state")
        self.expect_eq(checksums(p.out), {want}, "final checksum", p)

    def test_kill_before_writing(self):
        self.kill_in_phase("before")

    def test_kill_mid_write(self):
        self.kill_in_phase("mid")

    def test_kill_after_write_before_ack(self):
        self.kill_in_phase("written")

    def test_kill_after_ack_before_manifest(self):
        self.kill_in_phase("after")

    def test_corrupt_shard_falls_back(self):
        ck = os.path.join(self.tmp, "ck")
        p = self.muster_run(["--nproc-per-node", "2", "--rdzv-id", JOB,
                             "--ckpt-dir", ck, "--ckpt-every", "200ms", "--",
                             *train(steps=LONG_STEPS)])
        self.expect_eq(p.wait(), 0, "first run", p)
        steps = complete_steps(ck)
        self.expect(len(steps) >= 2, "at least two checkpoints: %r" % steps, p)
        newest, previous = steps[-1], steps[-2]
        shard = sorted(glob.glob(os.path.join(ck, JOB, "step-%020d" % newest,
                                              "rank-*.shard")))[0]
        with open(shard, "r+b") as f:
            f.seek(100)
            b = f.read(1)
            f.seek(100)
            f.write(bytes([b[0] ^ 0xFF]))
        self.check("one byte of step %d's shard flipped: the next run reports "
                   "it and restores step %d" % (newest, previous))
        # The first run succeeded (FINISHED): continuing it takes --resume.
        q = self.muster_run(["--nproc-per-node", "2", "--rdzv-id", JOB,
                             "--resume", "--ckpt-dir", ck, "--",
                             bin_path("ckpt_train"), "--steps", "700",
                             "--step-ms", "1"], name="second")
        self.expect_eq(q.wait(), 0, "second run", q)
        self.expect("step %d skipped (corrupt" % newest in q.err,
                    "corruption reported", q)
        self.expect_eq(restored(q.out), {previous}, "restored step", q)

    def test_preempt_and_resume(self):
        want = self.reference()
        ck = os.path.join(self.tmp, "ck")
        args = ["--nproc-per-node", "2", "--rdzv-id", JOB, "--ckpt-dir", ck,
                "--preempt-grace",
                "10s", "--", *train()]
        p = self.muster_run(args, name="preempted")
        self.wait_for(lambda: "rank 1 pid" in p.out, 20, "training to start")
        self.check("SIGTERM (what Kubernetes and Slurm send): checkpoint, "
                   "stop, suspended, exit 75 (EX_TEMPFAIL)")
        p.signal(signal.SIGTERM)
        self.expect_eq(p.wait(), 75, "exit status", p)
        m = re.search(r"suspended: preempted; resumable from step (\d+)", p.err)
        self.expect(m is not None, "suspended with a resumable step", p)
        step = int(m.group(1))
        self.expect(step in complete_steps(ck), "step %d complete" % step, p)
        self.assert_no_process_left(what="preemption")
        self.check("the same command resumes from step %d and ends in the "
                   "uninterrupted run's state" % step)
        q = self.muster_run(args, name="resumed")
        self.expect_eq(q.wait(), 0, "exit status", q)
        self.expect_eq(restored(q.out), {step}, "restored step", q)
        self.expect_eq(checksums(q.out), {want}, "final checksum", q)

    def test_ps_two_to_three(self):
        d = self.musterd()
        ck = os.path.join(self.tmp, "ck")

        def node(nps, role, name, steps):
            return self.muster_run(
                ["--rdzv-endpoint", d.rdzv, "--rdzv-id", "ps",
                 "--roles", "worker=1x1,ps=%dx1" % nps, "--role", role,
                 "--node-id", name, "--nbuckets", "1000", "--ckpt-dir", ck,
                 "--connect-timeout", "20s", "--",
                 bin_path("ckpt_train"), "--steps", str(steps), "--step-ms", "3"],
                name=name)

        first = [node(2, "worker", "w", 100000), node(2, "ps", "p1", 100000),
                 node(2, "ps", "p2", 100000)]
        self.wait_for(lambda: "epoch 1" in first[0].err, 20, "the PS job to run")
        self.check("preempt the job with 2 servers (control port)")
        r = self.run_muster(["preempt", "--endpoint", d.ctl_ep, "ps"])
        self.expect_eq(r.rc, 0, "muster preempt", r)
        self.check("every node of the suspended job exits 75 (EX_TEMPFAIL)")
        for n in first:
            self.expect_eq(n.wait(), 75, "exit status of " + n.name, n)
        saved = complete_steps(ck, "ps")
        self.expect(saved, "a complete checkpoint", *first)
        self.check("resume with 3 servers: each rebuilds its new bucket range "
                   "from the old shards, every value checked")
        second = [node(3, "worker", "w2", 50), node(3, "ps", "q1", 50),
                  node(3, "ps", "q2", 50), node(3, "ps", "q3", 50)]
        ranges = []
        for n in second:
            self.expect_eq(n.wait(), 0, "exit status of " + n.name, n)
            for m in re.finditer(r"restored buckets \[(\d+),(\d+)\) of step (\d+) "
                                 r".*all values check", n.out):
                ranges.append((int(m.group(1)), int(m.group(2))))
                self.expect_eq(int(m.group(3)), saved[-1], "restored step", n)
        ranges.sort()
        self.check("the 3 ranges cover buckets [0,1000) exactly once: %r" % ranges)
        self.expect_eq(len(ranges), 3, "three servers restored", *second)
        self.expect(ranges[0][0] == 0 and ranges[-1][1] == 1000
                    and all(a[1] == b[0] for a, b in zip(ranges, ranges[1:])),
                    "contiguous, no overlap", *second)

    def test_every_n_steps(self):
        ck = os.path.join(self.tmp, "ck")
        p = self.muster_run(["--nproc-per-node", "2", "--rdzv-id", JOB,
                             "--ckpt-dir", ck, "--ckpt-every-steps", "100", "--log-level",
                             "notice", "--", bin_path("ckpt_train"),
                             "--steps", "650", "--step-ms", "3"])
        self.expect_eq(p.wait(), 0, "exit status", p)
        commits = sorted(int(s) for s in re.findall(r"step (\d+) committed", p.err))
        self.check("--ckpt-every-steps 100: checkpoints at multiples of 100 "
                   "(%r)" % commits)
        self.expect(len(commits) >= 2, "at least two checkpoints", p)
        self.expect(all(s % 100 == 0 for s in commits), "multiples of 100", p)

    def test_retention_keeps_k(self):
        ck = os.path.join(self.tmp, "ck")
        p = self.muster_run(["--nproc-per-node", "2", "--rdzv-id", JOB,
                             "--ckpt-dir", ck, "--ckpt-every", "100ms",
                             "--ckpt-keep", "2",
                             "--log-level", "notice", "--",
                             bin_path("ckpt_train"), "--steps", "1500",
                             "--step-ms", "3"])
        self.expect_eq(p.wait(), 0, "exit status", p)
        commits = set(re.findall(r"step (\d+) committed", p.err))
        self.check("more than 2 checkpoints committed (%d), exactly 2 kept"
                   % len(commits))
        self.expect(len(commits) > 2, "more checkpoints than kept", p)
        self.expect_eq(len(complete_steps(ck)), 2, "complete checkpoints kept", p)


if __name__ == "__main__":
    main()
