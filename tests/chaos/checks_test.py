#!/usr/bin/python3
"""checks_test.py — the chaos run's invariant checks catch what they are
for: a rank started twice in one epoch, a wrong final checksum, a restore
of a step without a MANIFEST, of a MANIFEST whose shard is missing or
short, a "restore failed" line, a job with no final line; and a clean
history passes.  Logs and checkpoint directories are made here, in the
formats ckpt_train and muster write (MANIFEST: msgpack)."""

import os
import shutil
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, ".."))
import checks  # noqa: E402
from harness import mp_pack  # noqa: E402

GOOD = """[worker 0] rank 0 pid 100 epoch 1 world 2 sync_from -1
[worker 1] rank 1 pid 101 epoch 1 world 2 sync_from -1
[worker 0] restored step 100 from rank 0's shard
[worker 0] rank 0 pid 102 epoch 2 world 2 sync_from -1
[worker 1] restored step 100 from rank 1's shard
[worker 1] rank 1 pid 103 epoch 2 world 2 sync_from -1
[worker 0] done at step 500 checksum 00ff
[worker 1] done at step 500 checksum 00ff
"""


class Checks(unittest.TestCase):
    def setUp(self):
        self.ck = tempfile.mkdtemp(prefix="chaos-checks-")
        self.step(100)

    def tearDown(self):
        shutil.rmtree(self.ck, ignore_errors=True)

    def step(self, n, job="j", shard_size=8, write_size=8, manifest=True):
        d = os.path.join(self.ck, job, "step-%020d" % n)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "shard-0"), "wb") as f:
            f.write(b"x" * write_size)
        if manifest:
            with open(os.path.join(d, "MANIFEST"), "wb") as f:
                f.write(mp_pack({"v": 1, "job": job, "step": n, "shards": [
                    {"rank": 0, "file": "shard-0", "size": shard_size}]}))

    def problems(self, text):
        out = []
        checks.check_job("j", text, self.ck, "00ff", 500, out)
        return out

    def test_clean_history_passes(self):
        self.assertEqual(self.problems(GOOD), [])

    def test_rank_twice_in_an_epoch(self):
        p = self.problems(GOOD + "[worker 1] rank 1 pid 999 epoch 2 world 2 sync_from -1\n")
        self.assertEqual(len(p), 1)
        self.assertIn("rank 1 ran twice in epoch 2 (pids [103, 999])", p[0])

    def test_wrong_checksum(self):
        p = self.problems(GOOD.replace("done at step 500 checksum 00ff\n[worker 1]",
                                       "done at step 500 checksum 0bad\n[worker 1]"))
        self.assertEqual(len(p), 1)
        self.assertIn("checksum 0bad", p[0])

    def test_no_final_line(self):
        p = self.problems(GOOD.split("[worker 0] done")[0])
        self.assertIn("no worker printed its final checksum", p[0])

    def test_restore_without_manifest(self):
        self.step(200, manifest=False)
        p = self.problems(GOOD.replace("restored step 100 from rank 0",
                                       "restored step 200 from rank 0"))
        self.assertEqual(len(p), 1)
        self.assertIn("restored step 200 not a committed checkpoint: no MANIFEST", p[0])

    def test_restore_of_short_shard(self):
        self.step(300, write_size=4)
        p = self.problems(GOOD.replace("restored step 100 from rank 0",
                                       "restored step 300 from rank 0"))
        self.assertEqual(len(p), 1)
        self.assertIn("missing or not 8 bytes", p[0])

    def test_restore_failed_line(self):
        p = self.problems(GOOD + "[worker 0] restore failed: corrupt\n")
        self.assertIn("restore failed", p[0])

    def test_finished_checkpoints_count(self):
        # After the job ends its checkpoints move to <job>.finished-DATE.
        os.rename(os.path.join(self.ck, "j"), os.path.join(self.ck, "j.finished-x"))
        self.assertEqual(self.problems(GOOD), [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
