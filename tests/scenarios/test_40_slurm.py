#!/usr/bin/python3
"""Scenario 40 — muster under Slurm, against a real local Slurm cluster
(tests/slurm/cluster.py: 4 virtual nodes, a private munged, partitions
`low` (PreemptMode=REQUEUE, GraceTime=5) and `high` (PriorityTier 10)).

* A batch script whose only line is `muster run ... -- PROG` forms a gang
  over the allocation's 4 nodes: the batch host hosts the coordinator and
  one srun starts the other 3 nodes; nothing is typed per node.  A --nnodes
  the allocation cannot hold is a one-line error naming both.  From an
  salloc shell that is not on a node, muster run runs again on the first
  node and does the same from there.
* Slurm's early warning (--signal, here USR1 sent to the batch script)
  with --preempt-signal USR1 checkpoints, suspends and requeues the same way.
* Preemption: a 4-node ckpt_train job in `low` is preempted by a job in
  `high`; muster checkpoints within GraceTime (its own run ends with the
  job suspended at a committed step and requeues the job), Slurm requeues
  it, SLURM_RESTART_COUNT=1 reaches the workers, training resumes from the
  committed step and ends with the checksum of an uninterrupted run.
* Nothing is left running: the cluster is stopped by the test and no
  process carrying the test's tag remains (daemons, steps, workers).

Skipped (exit 77) only when Slurm is not installed: scripts/install-deps.sh
installs slurm-wlm and munge."""
import os
import re
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import MusterCase, bin_path, main, SRC_DIR  # noqa: E402

CLUSTER = os.path.join(SRC_DIR, "tests", "slurm", "cluster.py")
PY = "/usr/bin/python3"
# Bounds only, so that a broken build cannot hang the suite.
SLURM_WAIT = 120.0
STEPS = "6000"
STEP_MS = "4"


def slurm_missing():
    for p in ("/usr/sbin/slurmctld", "/usr/sbin/slurmd", "/usr/sbin/munged"):
        if not os.access(p, os.X_OK):
            return p
    for p in ("sbatch", "srun", "scontrol", "squeue", "mungekey"):
        if shutil.which(p) is None and not os.access("/usr/sbin/" + p, os.X_OK):
            return p
    return None


def cluster_processes(conf):
    """Live processes whose environment holds SLURM_CONF=conf."""
    needle = ("SLURM_CONF=" + conf).encode()
    found = []
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == os.getpid():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    continue
            with open("/proc/%s/environ" % d, "rb") as f:
                if needle in f.read().split(b"\0"):
                    found.append(int(d))
        except (OSError, IndexError):
            pass
    return found


def checksums(text):
    return re.findall(r"done at step \d+ checksum ([0-9a-f]+)", text)


class Slurm(MusterCase):
    def setUp(self):
        super().setUp()
        missing = slurm_missing()
        if missing:
            self.skipTest("Slurm is not installed (%s missing): "
                          "scripts/install-deps.sh installs slurm-wlm and munge"
                          % missing)
        self.sdir = os.path.join(self.tmp, "slurm")
        self.cluster = self.start("slurm-cluster", [PY, CLUSTER, "up", self.sdir])
        self.wait_for(lambda: "ready" in self.cluster.out
                      or not self.cluster.running(), 90, "the local Slurm cluster")
        self.expect("ready" in self.cluster.out, "the cluster came up",
                    self.cluster)
        self.env["SLURM_CONF"] = os.path.join(self.sdir, "slurm.conf")

    def tearDown(self):
        # Stop the cluster first, and wait for it as long as it needs (it
        # stops its daemons by pid and waits for each), then the harness
        # checks that no tagged process is left.
        c = getattr(self, "cluster", None)
        left = []
        if c is not None and c.running():
            c.signal(signal.SIGTERM)
            try:
                c.p.wait(timeout=90)
            except subprocess.TimeoutExpired:
                c.kill()
            # Slurm gives its slurmstepd's a clean environment (no test
            # tag), so look for this cluster's slurm.conf in theirs.
            left = cluster_processes(self.env["SLURM_CONF"])
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        super().tearDown()
        self.assertEqual(left, [], "processes of the Slurm cluster left after "
                         "it stopped (killed now)")

    # -- Slurm helpers

    def slurm(self, *argv, check=True):
        r = subprocess.run(list(argv), env=self.env, cwd=self.tmp,
                           capture_output=True, text=True, timeout=30)
        if check and r.returncode != 0:
            self.fail("%s failed (%d): %s%s" % (" ".join(argv), r.returncode,
                                                 r.stdout, r.stderr))
        return r.stdout

    def sbatch(self, *argv):
        out = self.slurm("sbatch", "--parsable", *argv)
        return out.strip().split(";")[0]

    def job(self, jobid):
        """scontrol show job as a dict (the job's current run)."""
        out = self.slurm("scontrol", "-o", "show", "job", jobid)
        return dict(kv.split("=", 1) for kv in out.split() if "=" in kv)

    def wait_state(self, jobid, pred, what, timeout=SLURM_WAIT):
        self.wait_for(lambda: pred(self.job(jobid)), timeout,
                      "job %s: %s" % (jobid, what), interval=0.3)
        return self.job(jobid)

    def script(self, name, muster_args, opts):
        line = " ".join("'%s'" % a if " " in a or "$" in a else a
                        for a in [bin_path("muster"), "run"] + muster_args)
        return self.write_script(name, "#!/bin/bash\n"
                                 + "".join("#SBATCH %s\n" % o for o in opts)
                                 + "exec " + line + "\n")

    def read(self, path):
        with open(path, errors="replace") as f:
            return f.read()

    # -- the scenarios

    def test_gang_over_the_allocation(self):
        out = os.path.join(self.tmp, "hello.out")
        s = self.script("hello.sh", ["--advertise-host", "127.0.0.1",
                                     "--nproc-per-node", "2", "--",
                                     bin_path("hello_gang")],
                        ["-N4", "--exclusive"])
        self.check("sbatch -N4 of `muster run -- hello_gang`: one gang of 8 "
                   "workers on the 4 nodes, 2 each, hosted on the batch host")
        jid = self.sbatch("-o", out, s)
        st = self.wait_state(jid, lambda j: j.get("JobState") in
                             ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT"),
                             "finished")
        text = self.read(out)
        self.expect_eq(st["JobState"], "COMPLETED", "job state\n" + text)
        self.expect("hosting on sn1; srun starts the other 3 nodes" in text,
                    "the batch host hosts, srun starts the others\n" + text)
        ranks = sorted(int(r) for r in re.findall(r"^\[worker (\d+)\] rank \d+ "
                                                  r"of 8:", text, re.M))
        self.expect_eq(ranks, list(range(8)), "ranks of one gang\n" + text)
        nodes = set(re.findall(r"node (\d) of 4", text))
        self.expect_eq(nodes, {"0", "1", "2", "3"}, "4 nodes\n" + text)
        self.expect_eq(text.count("succeeded: all 8 workers exited 0"), 4,
                       "every node saw the job succeed\n" + text)
        self.expect("mj1_" not in text and "mjs1_" not in text,
                    "no token in the job's output\n" + text)

        self.check("--nnodes 5:8 in a 4-node allocation: a one-line error, "
                   "exit 2, before anything starts")
        out2 = os.path.join(self.tmp, "toobig.out")
        s2 = self.script("toobig.sh", ["--nnodes", "5:8", "--",
                                       bin_path("hello_gang")],
                         ["-N4", "--exclusive"])
        jid2 = self.sbatch("-o", out2, s2)
        st2 = self.wait_state(jid2, lambda j: j.get("JobState") in
                              ("COMPLETED", "FAILED"), "finished")
        text2 = self.read(out2)
        self.expect_eq(st2.get("ExitCode"), "2:0", "exit code\n" + text2)
        self.expect("--nnodes 5:8 needs at least 5 nodes and the allocation "
                    "has 4" in text2, "the error names both\n" + text2)

    def test_salloc_from_a_login_shell(self):
        self.check("salloc -N4 muster run -- hello_gang, from a shell that "
                   "is not one of the nodes: it runs again on the first node "
                   "and drives the allocation from there")
        p = self.start("salloc", ["salloc", "-N4", "--exclusive",
                                  bin_path("muster"), "run", "--advertise-host",
                                  "127.0.0.1", "--", bin_path("hello_gang")])
        self.expect_eq(p.wait(SLURM_WAIT), 0, "exit status", p)
        text = p.out + p.err
        self.expect("this shell is not on one of its 4 nodes; running muster "
                    "run on sn1" in text, "relaunched on the first node", p)
        self.expect("hosting on sn1; srun starts the other 3 nodes" in text,
                    "sn1 hosts", p)
        ranks = sorted(int(r) for r in re.findall(r"^\[worker (\d+)\] rank \d+ "
                                                  r"of 4:", text, re.M))
        self.expect_eq(ranks, [0, 1, 2, 3], "ranks of one gang", p)

    def test_warning_signal_requeues(self):
        ck = os.path.join(self.tmp, "ck")
        out = os.path.join(self.tmp, "warn.out")
        s = self.script("warn.sh", ["--advertise-host", "127.0.0.1",
                                    "--rdzv-id", "s40w", "--ckpt-dir", ck,
                                    "--ckpt-every-steps", "100",
                                    "--preempt-signal", "USR1",
                                    "--preempt-grace", "3s", "--",
                                    bin_path("ckpt_train"), "--steps", STEPS,
                                    "--step-ms", STEP_MS],
                        ["-N4", "--exclusive", "--requeue",
                         "--open-mode=append"])
        jid = self.sbatch("-o", out, s)
        self.wait_for(lambda: os.path.exists(out)
                      and "saved step 100" in self.read(out), SLURM_WAIT,
                      "training under Slurm to checkpoint step 100")
        self.check("Slurm's early warning (--signal=B:USR1, sent here with "
                   "scancel --batch --signal=USR1) with --preempt-signal USR1: "
                   "checkpoint, suspend, requeue")
        self.slurm("scancel", "--batch", "--signal=USR1", jid)
        self.wait_state(jid, lambda j: j.get("Restarts") == "1"
                        and j.get("JobState") == "PENDING", "requeued")
        text = self.read(out)
        self.expect("User defined signal 1: preempted; checkpointing within "
                    "3.0 s" in text, "USR1 taken as a preemption\n" + text)
        m = re.search(r"job s40w suspended: preempted; resumable from step "
                      r"(\d+)", text)
        self.expect(m is not None, "suspended at a committed step\n" + text)
        self.expect(os.path.exists(os.path.join(
            ck, "s40w", "step-%020d" % int(m.group(1)), "MANIFEST")),
            "that step committed\n" + text)
        self.expect("requeueing Slurm job %s" % jid in text,
                    "the job requeued\n" + text)
        self.slurm("scancel", jid)
        self.wait_state(jid, lambda j: j.get("JobState") == "CANCELLED",
                        "cancelled")

    def test_preempt_requeue_resume(self):
        self.check("the reference: an uninterrupted run's final state")
        ref = self.muster_run(["--", bin_path("ckpt_train"), "--steps", STEPS,
                               "--step-ms", "0"], name="reference")
        self.expect_eq(ref.wait(), 0, "reference run", ref)
        want = set(checksums(ref.out))
        self.expect_eq(len(want), 1, "one final state", ref)

        ck = os.path.join(self.tmp, "ck")
        out = os.path.join(self.tmp, "train.out")
        prog = ('echo "rank $RANK restart ${SLURM_RESTART_COUNT:-0}"; exec %s '
                "--steps %s --step-ms %s" % (bin_path("ckpt_train"), STEPS,
                                              STEP_MS))
        s = self.script("train.sh", ["--advertise-host", "127.0.0.1",
                                     "--rdzv-id", "s40", "--ckpt-dir", ck,
                                     "--ckpt-every-steps", "100",
                                     "--preempt-grace", "3s", "--",
                                     "/bin/sh", "-c", prog],
                        ["-N4", "--exclusive", "-p", "low", "--requeue",
                         "--open-mode=append"])
        jid = self.sbatch("-o", out, s)
        self.wait_for(lambda: os.path.exists(out)
                      and "saved step 100" in self.read(out), SLURM_WAIT,
                      "training under Slurm to checkpoint step 100")
        self.check("a 4-node job in partition high preempts it (GraceTime 5 s)")
        hi = self.sbatch("-p", "high", "-N4", "--exclusive", "-o",
                         os.path.join(self.tmp, "high.out"), "--wrap", "sleep 1")
        self.wait_state(jid, lambda j: j.get("Restarts") == "1"
                        and j.get("JobState") == "PENDING",
                        "requeued after the preemption")
        first = self.read(out)
        self.check("muster checkpointed within the grace: the run ended "
                   "suspended at a committed step and requeued the job itself "
                   "(a job killed at the end of GraceTime would not say so)")
        self.expect("preempted; checkpointing within 3.0 s" in first,
                    "SIGTERM taken as a preemption\n" + first)
        m = re.search(r"job s40 suspended: preempted; resumable from step (\d+)",
                      first)
        self.expect(m is not None, "suspended at a committed step\n" + first)
        step = int(m.group(1))
        self.expect(os.path.exists(os.path.join(ck, "s40", "step-%020d" % step,
                                                "MANIFEST")),
                    "step %d committed (MANIFEST)\n%s" % (step, first))
        self.expect("requeueing Slurm job %s" % jid in first,
                    "the job requeued\n" + first)
        self.expect_eq(sorted(re.findall(r"rank (\d) restart 0", first)),
                       ["0", "1", "2", "3"], "first run: SLURM_RESTART_COUNT "
                       "unset\n" + first)

        self.check("Slurm runs it again (BeginTime lifted with scontrol): it "
                   "resumes from step %d and ends in the uninterrupted state"
                   % step)
        self.wait_state(hi, lambda j: j.get("JobState") == "COMPLETED",
                        "the preemptor finished")
        self.slurm("scontrol", "update", "JobId=%s" % jid, "StartTime=now")
        st = self.wait_state(jid, lambda j: j.get("JobState") in
                             ("COMPLETED", "FAILED", "CANCELLED"), "finished")
        text = self.read(out)
        second = text[len(first):]
        self.expect_eq(st["JobState"], "COMPLETED", "job state\n" + text)
        self.expect_eq(st.get("Restarts"), "1", "Slurm restarts\n" + text)
        self.expect_eq(sorted(re.findall(r"rank (\d) restart 1", second)),
                       ["0", "1", "2", "3"],
                       "SLURM_RESTART_COUNT=1 reached every worker\n" + second)
        self.expect_eq(sorted(set(re.findall(r"restored step (\d+)", second))),
                       [str(step)], "restored step\n" + second)
        self.expect_eq(checksums(second), list(want) * 4,
                       "final checksum of every rank\n" + second)


if __name__ == "__main__":
    main()
