#!/usr/bin/python3
"""muster.torch.elastic.leave() with Debian's python3-torch
(progs/torch_leave.py; decision 100): a process group whose collective
can only end by its timeout (600 s) is left, and a new group of the same
two workers forms at once — the state that made 1 in 16 in-place
recoveries of examples/torch_ctr wait the whole collective timeout,
forced here deterministically.  The same with torch's own
destroy_process_group() shows what leave() prevents: rank 1 stays in it,
so rank 0's rendezvous of the new group times out waiting for rank 1's
key.  A bad timeout is refused with MUSTER_EINVAL naming it.  Skipped
(exit 77, saying SKIPPED) when torch is not installed."""
from pyharness import PyCase, have_torch, main

NEW = 30  # seconds the new group's rendezvous may wait; leave() needs none


class TorchLeave(PyCase):
    def setUp(self):
        if not have_torch():
            print("SKIPPED: torch is not installed for this python", flush=True)
            self.skipTest("torch is not installed")
        super().setUp()

    def test_leave_does_not_wait_for_a_stuck_collective(self):
        p = self.py_run(["--nproc-per-node", "2"], "torch_leave.py", ["leave", NEW])
        self.check("rank 1 had an allreduce in flight that nobody serves")
        self.expect_eq(self.lines(p, "in flight"), {1: [""]}, "in-flight lines", p)
        self.check("both left the old group and formed a new one at world 2")
        self.expect_eq(p.rc, 0, "exit status", p)
        self.expect_eq(self.lines(p, "new group formed:"),
                       {0: ["sum 3 world 2"], 1: ["sum 3 world 2"]}, "new group", p)
        self.check("the old group is held (parked) until its collectives end")
        self.expect_eq(self.lines(p, "parked"), {0: ["1"], 1: ["1"]}, "parked groups", p)
        self.check("a negative timeout is refused, naming the argument")
        self.expect_eq(self.lines(p, "leave error:"),
                       {0: ["MUSTER_EINVAL True"], 1: ["MUSTER_EINVAL True"]},
                       "leave(-1)", p)

    def test_destroy_process_group_waits_for_it(self):
        p = self.py_run(["--nproc-per-node", "2"], "torch_leave.py", ["destroy", NEW])
        self.check("with destroy_process_group() the new group does not form: "
                   "rank 0 times out waiting for rank 1's key")
        self.expect(p.rc != 0, "the job fails (exit status %r)" % p.rc, p)
        self.expect_eq(self.lines(p, "new group formed:"), {}, "new group", p)
        self.expect("key '0/0/1' not set within" in p.out + p.err,
                    "rank 0's rendezvous waited for rank 1", p)


if __name__ == "__main__":
    main()
