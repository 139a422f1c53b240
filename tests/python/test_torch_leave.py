#!/usr/bin/python3
"""muster.torch.elastic.leave() with Debian's python3-torch
(progs/torch_leave.py; decision 100).  Two workers in a group with a
600 s collective timeout; a new group of the same two must form within
30 s after one of them leaves the old group while a collective of it
cannot end:
  * self: rank 1's own allreduce waits in a receive nothing wakes (its
    peer keeps its side open) — leave() does not wait for it; torch's
    destroy_process_group() does, and rank 0's rendezvous of the new group
    times out waiting for rank 1's key (what made 1 in 16 in-place
    recoveries of examples/torch_ctr wait the whole timeout);
  * peer: rank 1 waits in an allreduce rank 0 never joins and rank 0
    leaves: rank 1's allreduce fails at once (leave() shut the
    connection down), as if rank 0 had exited.
A bad timeout is refused with MUSTER_EINVAL naming it.  Skipped (exit 77,
saying SKIPPED) when torch is not installed."""
from pyharness import PyCase, have_torch, main

NEW = 30  # seconds the new group's rendezvous may wait; leave() needs none


class TorchLeave(PyCase):
    def setUp(self):
        if not have_torch():
            print("SKIPPED: torch is not installed for this python", flush=True)
            self.skipTest("torch is not installed")
        super().setUp()

    def run_case(self, case, fn):
        return self.py_run(["--nproc-per-node", "2"], "torch_leave.py", [case, fn, NEW])

    def formed(self, p):
        self.expect_eq(p.rc, 0, "exit status", p)
        self.expect_eq(self.lines(p, "new group formed:"),
                       {0: ["sum 3 world 2"], 1: ["sum 3 world 2"]}, "new group", p)

    def test_leave_does_not_wait_for_its_own_stuck_collective(self):
        p = self.run_case("self", "leave")
        self.check("rank 1 had an allreduce in flight that nobody serves, and left")
        self.expect_eq(self.lines(p, "in flight"), {1: [""]}, "in-flight lines", p)
        self.expect_eq(self.lines(p, "shut down"), {1: ["1"]}, "connections shut down", p)
        self.check("both formed a new group at world 2")
        self.formed(p)
        self.check("rank 1's old group is held (parked) until its collectives end")
        self.expect_eq(self.lines(p, "parked"), {0: ["0"], 1: ["1"]}, "parked groups", p)
        self.check("a group left with leave(0) is dropped by the reaper thread")
        self.expect_eq(self.lines(p, "reaped"), {0: ["True"], 1: ["True"]}, "reaped", p)
        self.check("a negative timeout is refused, naming the argument")
        self.expect_eq(self.lines(p, "leave error:"),
                       {0: ["MUSTER_EINVAL True"], 1: ["MUSTER_EINVAL True"]},
                       "leave(-1)", p)

    def test_destroy_process_group_waits_for_it(self):
        p = self.run_case("self", "destroy")
        self.check("with destroy_process_group() the new group does not form: "
                   "rank 0 times out waiting for rank 1's key")
        self.expect(p.rc != 0, "the job fails (exit status %r)" % p.rc, p)
        self.expect_eq(self.lines(p, "new group formed:"), {}, "new group", p)
        self.expect("key '0/0/1' not set within" in p.out + p.err,
                    "rank 0's rendezvous waited for rank 1", p)

    def test_a_peer_in_a_collective_fails_when_we_leave(self):
        p = self.run_case("peer", "leave")
        self.check("rank 1's allreduce failed when rank 0 left; a new group formed")
        got = self.lines(p, "allreduce failed:")
        self.expect_eq(sorted(got), [1], "rank 1's allreduce failed", p)
        self.expect_eq(self.lines(p, "shut down"), {0: ["1"]}, "connections shut down", p)
        self.formed(p)


if __name__ == "__main__":
    main()
