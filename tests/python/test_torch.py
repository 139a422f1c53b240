#!/usr/bin/python3
"""muster.torch with Debian's python3-torch (progs/torch_ddp.py):
init_process_group over muster.torch.store() (no TCPStore, no
MASTER_PORT) and an allreduce at world 2 and 4 on gloo; the Store
methods (set/get/wait/check/add/compare_set/num_keys/delete_key)
and a wait timing out as muster.TimedOut; a small DDP
model saved with muster.torch.save and, after a crash, restored with
muster.torch.load: the weights end bit-identical to an uninterrupted
run's; in in-place mode (progs/torch_elastic.py) the survivors of a lost
worker keep their processes, re-create the process group with
muster.torch.elastic and hand the newcomer model, optimizer state and
step, all ending with the same weights.  Skipped (exit 77, saying SKIPPED) when torch is not installed."""
import os
import re

from pyharness import PyCase, have_torch, main

STEPS = 60


class Torch(PyCase):
    def setUp(self):
        if not have_torch():
            print("SKIPPED: torch is not installed for this python", flush=True)
            self.skipTest("torch is not installed")
        super().setUp()

    def run_ddp(self, world, job, extra=(), prog_args=()):
        return self.py_run(["--nproc-per-node", str(world), "--rdzv-id", job,
                            "--ckpt-dir", os.path.join(self.tmp, job),
                            "--ckpt-every-steps", "10"] + list(extra),
                           "torch_ddp.py", [STEPS] + list(prog_args))

    def check_store(self, p, world):
        self.check("world %d: allreduce of rank+1 over the muster store" % world)
        ar = self.lines(p, "allreduce")
        self.expect_eq(sorted(ar), list(range(world)), "ranks", p)
        for r, ls in ar.items():
            self.expect_eq(ls[0], "%d world %d" % (world * (world + 1) // 2, world),
                           "rank %d allreduce" % r, p)
        self.check("world %d: set/get/wait/check/add/compare_set/num_keys/delete_key" % world)
        st = self.lines(p, "store")
        for r in range(world):
            self.expect_eq(st.get(r, [])[:6], [
                "get v%d check True False" % ((r + 1) % world),
                "add %d get %d check True" % ((world * (world + 1) // 2,) * 2),
                "compare_set True True",
                "num_keys True",
                "delete_key True False",
                "wait TimedOut MUSTER_ETIMEDOUT"], "rank %d store lines" % r, p)

    def finals(self, p, world):
        f = self.lines(p, "final")
        self.expect_eq(sorted(f), list(range(world)), "ranks with final weights", p)
        vals = {ls[-1] for ls in f.values()}
        self.expect_eq(len(vals), 1, "all ranks hold the same weights", p)
        return vals.pop()

    def test_world_4_store_allreduce(self):
        p = self.run_ddp(4, "t4")
        self.expect_eq(p.rc, 0, "exit status", p)
        self.check_store(p, 4)
        self.finals(p, 4)

    def test_world_2_save_load_after_crash(self):
        ref = self.run_ddp(2, "t2ref")
        self.expect_eq(ref.rc, 0, "uninterrupted run: exit status", ref)
        self.check_store(ref, 2)
        want = self.finals(ref, 2)
        p = self.run_ddp(2, "t2crash", ["--max-restarts", "1"], [35, 1])
        self.check("rank 1 crashes after step 35; the job restarts from a checkpoint")
        self.expect_eq(p.rc, 0, "exit status", p)
        self.expect("crashing after step 35" in p.out, "rank 1 crashed", p)
        res = self.lines(p, "resumed after step")
        self.expect_eq(sorted(res), [0, 1], "ranks resumed by muster.torch.load", p)
        self.check("the weights end bit-identical to the uninterrupted run's")
        self.expect_eq(self.finals(p, 2), want, "final weights", p)

    def test_in_place_elastic_ddp(self):
        p = self.py_run(["--nproc-per-node", "3", "--elastic-mode", "in-place",
                         "--max-restarts", "1"], "torch_elastic.py", [80, 30, 1])
        self.check("rank 1 dies after step 30; the job goes on in place and succeeds")
        self.expect_eq(p.rc, 0, "exit status", p)
        starts = [tuple(int(x) for x in m.groups())
                  for m in re.finditer(r"start rank (\d+) pid (\d+) epoch (\d+)", p.out)]
        first = {r: pid for r, pid, e in starts if e == 1}
        self.expect_eq(sorted(first), [0, 1, 2], "epoch-1 ranks", p)
        self.expect_eq([(r, e) for r, pid, e in starts if e != 1], [(1, 2)],
                       "only rank 1 started again, in epoch 2", p)
        self.check("the survivors re-formed their process group at epoch 2, world 3")
        ref = self.lines(p, "re-formed:")
        self.expect_eq(sorted(ref), [0, 2], "ranks that re-formed", p)
        for r, ls in ref.items():
            self.expect(ls[0].startswith("epoch 2 rank %d world 3" % r),
                        "rank %d: %r" % (r, ls[0]), p)
        self.check("the survivors' store of epoch 1 refuses use in epoch 2 (StaleEpoch)")
        self.expect_eq(self.lines(p, "old store:"), {0: ["StaleEpoch True"], 2: ["StaleEpoch True"]},
                       "old store use", p)
        self.check("the newcomer got the state of step 30 from rank 0")
        self.expect_eq(self.lines(p, "synced at step"), {1: ["30"]}, "newcomer's sync", p)
        self.check("all three end with the same weights; survivors in their own processes")
        fin = {r: ls[-1].split() for r, ls in self.lines(p, "final").items()}
        self.expect_eq(sorted(fin), [0, 1, 2], "ranks with final weights", p)
        self.expect_eq(len({f[0] for f in fin.values()}), 1, "one set of weights", p)
        self.expect_eq((int(fin[0][2]), int(fin[2][2])), (first[0], first[2]),
                       "survivors' pids", p)


if __name__ == "__main__":
    main()
