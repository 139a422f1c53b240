#!/usr/bin/python3
"""Scenario 32 — examples/torch_ps, a parameter-server job on PyTorch RPC
(`--roles worker=1x2,ps=Nx1`): a job with 2 servers crashes after a few
checkpoints; the job resumed with 3 servers re-partitions the hash buckets
(each server loads its new range from the old shards) and ends with the
row count and table checksum of a fault-free run; bad options are one
clear error."""
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import MusterCase, main  # noqa: E402
from torch_examples import PYTHON, TORCH_PS, torch_missing  # noqa: E402

NBUCKETS = 64
STEPS = "60"
TABLE = re.compile(r"\[worker 0\] table rows=(\d+) checksum=([0-9a-f]{16}) "
                   r"auc=([0-9.]+) servers=(\d+) step=(\d+)")


class TorchPS(MusterCase):
    def setUp(self):
        why = torch_missing()
        if why:
            print("SKIPPED: " + why, flush=True)
            self.skipTest(why)
        super().setUp()

    def job(self, d, job, nps, args):
        """One worker node (2 workers) and nps server nodes of job `job`."""
        def node(role, name):
            return self.muster_run(
                ["--rdzv-endpoint", d.rdzv, "--rdzv-id", job,
                 "--roles", "worker=1x2,ps=%dx1" % nps, "--role", role,
                 "--node-id", name, "--nbuckets", str(NBUCKETS),
                 "--python", PYTHON, "--connect-timeout", "20s", "--",
                 TORCH_PS, "--steps", STEPS, *args], name=name)
        return [node("worker", job + "-w")] + \
            [node("ps", "%s-ps%d" % (job, i)) for i in range(nps)]

    def table(self, nodes):
        m = TABLE.findall(nodes[0].out)
        self.expect_eq(len(m), 1, "one table line", *nodes)
        rows, csum, _, servers, step = m[0]
        return int(rows), csum, int(servers), int(step)

    def test_resume_two_to_three_servers(self):
        d = self.musterd()
        ref = self.job(d, "ref", 2, [])
        for n in ref:
            self.expect_eq(n.wait(), 0, "exit status of " + n.name, *ref)
        rows, csum, _, _ = self.table(ref)
        self.check("fault-free run, 2 servers: %d rows, checksum %s" % (rows, csum))
        self.expect(rows > 1000, "rows were created", *ref)

        ck = os.path.join(self.tmp, "ck")
        crashed = self.job(d, "crash", 2, ["--ckpt-dir", ck, "--crash-at-step", "35"])
        for n in crashed:
            rc = n.wait()
            self.expect(rc != 0, "%s fails with the job (status %s)" % (n.name, rc),
                        *crashed)
        self.check("the 2-server job crashed at step 35 after committing step 30")
        self.expect("crashing at step 35" in crashed[0].out, "the crash", *crashed)
        m = re.search(r"checkpoint step 30 committed \(2 servers, (\d+) rows\)",
                      crashed[0].out)
        self.expect(m is not None, "step 30 committed", *crashed)
        saved = int(m.group(1))

        resumed = self.job(d, "resume", 3, ["--ckpt-dir", ck])
        for n in resumed:
            self.expect_eq(n.wait(), 0, "exit status of " + n.name, *resumed)
        ranges, restored = [], 0
        for n in resumed[1:]:
            for m in re.finditer(r"restored buckets \[(\d+),(\d+)\) of step (\d+) "
                                 r"from (\d+) old shard\(s\): (\d+) rows", n.out):
                ranges.append((int(m.group(1)), int(m.group(2))))
                restored += int(m.group(5))
                self.expect_eq(int(m.group(3)), 30, "restored step", n)
        ranges.sort()
        self.check("3 servers restored step 30, their ranges tile [0,%d): %r"
                   % (NBUCKETS, ranges))
        self.expect_eq(len(ranges), 3, "three servers restored", *resumed)
        self.expect(ranges[0][0] == 0 and ranges[-1][1] == NBUCKETS
                    and all(a[1] == b[0] for a, b in zip(ranges, ranges[1:])),
                    "contiguous, no overlap", *resumed)
        self.check("no row lost in the re-partition: %d rows saved, %d restored"
                   % (saved, restored))
        self.expect_eq(restored, saved, "rows restored", *resumed)
        got = self.table(resumed)
        self.check("resumed with 3 servers: %d rows, checksum %s, at step %s"
                   % (got[0], got[1], got[3]))
        self.expect_eq(got, (rows, csum, 3, int(STEPS)),
                       "rows, checksum, servers, step", *resumed)

    def test_bad_options_are_named(self):
        d = self.musterd()
        nodes = self.job(d, "bad", 1, ["--nbuckets", "0"])
        for n in nodes:
            self.expect(n.wait() != 0, "non-zero exit of " + n.name, n)
        self.check("--nbuckets 0 fails, naming the option")
        self.expect("--nbuckets must be at least 1" in nodes[0].err, "message",
                    *nodes)


if __name__ == "__main__":
    main()
