#!/usr/bin/python3
"""muster.torch with Debian's python3-torch (progs/torch_ddp.py):
init_process_group over muster.torch.store() (no TCPStore, no
MASTER_PORT) and an allreduce at world 2 and 4 on gloo; the Store
methods torch uses (set/get/wait/check/add), the unsupported ones raising
NotImplementedError and a wait timing out as muster.TimedOut; a small DDP
model saved with muster.torch.save and, after a crash, restored with
muster.torch.load: the weights end bit-identical to an uninterrupted
run's.  Skipped (exit 77, saying SKIPPED) when torch is not installed."""
import os

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
        self.check("world %d: set/get/wait/check/add and the unsupported methods" % world)
        st = self.lines(p, "store")
        for r in range(world):
            self.expect_eq(st.get(r, [])[:6], [
                "get v%d check True False" % ((r + 1) % world),
                "add %d" % (world * (world + 1) // 2),
                "compare_set NotImplementedError True",
                "delete_key NotImplementedError True",
                "num_keys NotImplementedError True",
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


if __name__ == "__main__":
    main()
