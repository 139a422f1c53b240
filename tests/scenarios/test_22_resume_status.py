#!/usr/bin/python3
"""Scenario 22 — resume is visible and deliberate, status says why: every
restore prints which step and when it was written; a job that succeeded
is marked FINISHED, so its command run again starts fresh with a notice
(its checkpoints moved aside, not deleted) while --resume continues from
its last checkpoint; without --rdzv-id the job id is derived from the
command (the same command gets the same id, another program another), and
a node that brings an existing id with another program gets one clear
line; `muster status` says why a job waits and shows its last checkpoint;
`muster checkpoint --wait` reports the committed step; and
--ckpt-every-steps 50 takes its first checkpoint at step 50."""
import glob
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import MusterCase, bin_path, main  # noqa: E402

JOB_LINE = re.compile(r"^muster: job (\S+) \(from the command", re.M)


def train(steps="230", step_ms="3"):
    return [bin_path("ckpt_train"), "--steps", steps, "--step-ms", step_ms]


def job_id(p):
    m = JOB_LINE.search(p.err)
    return m.group(1) if m else None


def commits(text):
    return [int(s) for s in re.findall(r"step (\d+) committed", text)]


class ResumeStatus(MusterCase):
    def test_every_steps_finished_and_resume(self):
        ck = os.path.join(self.tmp, "ck")
        args = ["--nproc-per-node", "2", "--ckpt-dir", ck,
                "--ckpt-every-steps", "50", "--log-level", "notice", "--",
                *train()]
        p = self.muster_run(args, name="first")
        self.expect_eq(p.wait(), 0, "first run", p)
        job = job_id(p)
        self.check("the derived job id is shown (%s)" % job)
        self.expect(job is not None and job.startswith("ckpt_train-"),
                    "a derived id named after the program", p)
        got = commits(p.err)
        self.check("--ckpt-every-steps 50: first checkpoint at step 50, all "
                   "multiples of 50 (%r)" % got)
        self.expect(got and got[0] == 50, "first checkpoint at step 50", p)
        self.expect(all(s % 50 == 0 for s in got), "multiples of 50", p)
        last = max(got)
        self.check("the job succeeded: its checkpoint directory is FINISHED")
        self.expect(os.path.exists(os.path.join(ck, job, "FINISHED")),
                    "FINISHED marker", p)

        q = self.muster_run(args, name="again")
        self.expect_eq(q.wait(), 0, "second run", q)
        self.check("the same command gets the same id, and starts fresh with "
                   "a notice")
        self.expect_eq(job_id(q), job, "same id", q)
        self.expect(re.search(r"muster: job %s finished at step %d on .*; "
                              r"starting fresh \(use --resume" % (re.escape(job), last),
                              q.err), "starting-fresh notice", q)
        self.expect("restored step" not in q.out, "nothing restored", q)
        moved = glob.glob(os.path.join(ck, job + ".finished-*"))
        self.check("the finished run's checkpoints were moved aside, not "
                   "deleted (%r)" % moved)
        self.expect(len(moved) == 1 and os.path.exists(
            os.path.join(moved[0], "step-%020d" % last, "MANIFEST")),
            "old checkpoints kept", q)
        second_last = max(commits(q.err))

        r = self.muster_run(["--resume"] + args, name="resumed")
        self.expect_eq(r.wait(), 0, "resumed run", r)
        self.check("--resume continues from the last checkpoint (step %d), "
                   "and says so at the default log level" % second_last)
        self.expect(re.search(r"muster: resuming job %s from step %d \(checkpoint "
                              r"written \d{4}-\d\d-\d\d \d\d:\d\d:\d\d, "
                              % (re.escape(job), second_last), r.err),
                    "resume notice", r)
        self.expect("restored step %d" % second_last in r.out, "restored", r)

    def test_resume_notice_after_preemption(self):
        ck = os.path.join(self.tmp, "ck")
        args = ["--nproc-per-node", "2", "--ckpt-dir", ck, "--preempt-grace",
                "10s", "--", *train(steps="100000")]
        p = self.muster_run(args, name="preempted")
        self.wait_for(lambda: "rank 1 pid" in p.out, 20, "training to start")
        p.signal(15)
        self.expect_eq(p.wait(), 75, "exit status (preempted)", p)
        m = re.search(r"resumable from step (\d+)", p.err)
        self.expect(m is not None, "suspended with a step", p)
        step = int(m.group(1))
        q = self.muster_run(args, name="rerun")
        self.wait_for(lambda: "muster: resuming job" in q.err, 20,
                      "the resume notice")
        self.check("a rerun of a suspended job says it resumes from step %d "
                   "(default log level)" % step)
        self.expect(re.search(r"muster: resuming job %s from step %d "
                              r"\(checkpoint written .*(s ago|just now|min ago)\)"
                              % (re.escape(job_id(p)), step), q.err),
                    "resume notice with step and age", q)
        q.stop()

    def test_ids_and_merge_refused(self):
        d = self.musterd()
        a = self.write_script("a.sh", "#!/bin/sh\necho a\n")
        b = self.write_script("b.sh", "#!/bin/sh\necho b\n")
        common = ["--rdzv-endpoint", d.rdzv, "--nproc-per-node", "1",
                  "--connect-timeout", "20s", "--"]
        pa = self.muster_run(common + [a], name="prog-a")
        self.expect_eq(pa.wait(), 0, "program a", pa)
        pb = self.muster_run(common + [b], name="prog-b")
        self.expect_eq(pb.wait(), 0, "program b", pb)
        pa2 = self.muster_run(common + [a], name="prog-a-again")
        self.expect_eq(pa2.wait(), 0, "program a again", pa2)
        self.check("two programs on one musterd without --rdzv-id get different "
                   "ids (%s, %s); the same one again the same id"
                   % (job_id(pa), job_id(pb)))
        self.expect(job_id(pa) and job_id(pb) and job_id(pa) != job_id(pb),
                    "different ids", pa, pb)
        self.expect_eq(job_id(pa2), job_id(pa), "same id", pa2)

        slow = self.write_script("slow.sh", "#!/bin/sh\nsleep 30\n")
        first = self.muster_run(["--rdzv-endpoint", d.rdzv, "--rdzv-id", "shared",
                                 "--nnodes", "1:2", "--nproc-per-node", "1",
                                 "--node-id", "n1", "--connect-timeout", "20s",
                                 "--", slow], name="n1")
        self.wait_for(lambda: "epoch 1" in first.err, 20, "the first job to run")
        other = self.muster_run(["--rdzv-endpoint", d.rdzv, "--rdzv-id", "shared",
                                 "--nnodes", "1:2", "--nproc-per-node", "1",
                                 "--node-id", "n2", "--connect-timeout", "20s",
                                 "--", b], name="n2")
        self.expect(other.wait() != 0, "a node with another program fails", other)
        lines = [l for l in other.err.splitlines() if "another program" in l]
        self.check("one clear line: %r" % lines)
        self.expect_eq(len(lines), 1, "one line", other)
        self.expect(re.search(r"job shared already exists on the coordinator "
                              r"with another program \(.*slow\.sh\); give "
                              r"--rdzv-id", lines[0]), "the line names it", other)

    def test_status_reason_checkpoint_and_wait(self):
        d = self.musterd()
        waiting = self.muster_run(["--rdzv-endpoint", d.rdzv, "--rdzv-id", "wj",
                                   "--nnodes", "2", "--nproc-per-node", "1",
                                   "--node-id", "w1", "--connect-timeout", "20s",
                                   "--", "/bin/true"], name="w1")
        ck = os.path.join(self.tmp, "ck")
        run = self.muster_run(["--rdzv-endpoint", d.rdzv, "--rdzv-id", "cj",
                               "--nproc-per-node", "2", "--node-id", "c1",
                               "--ckpt-dir", ck, "--connect-timeout", "20s",
                               "--", *train(steps="100000")], name="c1")
        self.wait_for(lambda: "rank 1 pid" in run.out, 20, "training to start")

        def status():
            s = self.run_muster(["status", "--endpoint", d.ctl_ep])
            return s.out if s.rc == 0 else ""
        self.check("status says why a job waits")
        self.wait_for(lambda: re.search(r"^wj .*waiting for nodes: 1 of min 2 "
                                        r"joined", status(), re.M),
                      20, "the waiting reason", interval=0.2)
        self.check("muster checkpoint --wait reports the committed step")
        w = self.run_muster(["checkpoint", "--wait", "--endpoint", d.ctl_ep, "cj"])
        self.expect_eq(w.rc, 0, "checkpoint --wait", w)
        m = re.search(r"checkpoint of step (\d+) committed", w.out)
        self.expect(m is not None, "the committed step", w)
        step = int(m.group(1))
        self.expect(os.path.exists(os.path.join(ck, "cj", "step-%020d" % step,
                                                "MANIFEST")), "on disk", w)
        self.check("status shows the last checkpoint (step %d) and its age" % step)
        out = status()
        self.expect(re.search(r"^cj .*step %d, (just now|\d+ s ago)" % step, out,
                              re.M), "checkpoint column:\n" + out)
        self.check("--wait on a job without checkpoints fails with the reason")
        x = self.run_muster(["checkpoint", "--wait", "--endpoint", d.ctl_ep, "wj"])
        self.expect(x.rc != 0 and "wj" in x.err, "refused", x)
        run.stop()
        waiting.stop()


if __name__ == "__main__":
    main()
