#!/usr/bin/python3
"""Scenario 3 — rendezvous outcomes: --nnodes 2:4 with only 2 nodes (the
minimum is reached, the last call expires, the gang runs with world 4); the
minimum never reached (--join-timeout: exit 1, "rendezvous timed out"); a
node bringing a different spec for the same job id is refused while the
right nodes still form the gang; a node arriving when the job is full waits
and ends with the job."""
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import MusterCase, main, parse_kv_line, worker_lines  # noqa: E402

PROG = ["sh", "-c", 'echo "RANK=$RANK WORLD_SIZE=$WORLD_SIZE '
        'GROUP_WORLD_SIZE=$GROUP_WORLD_SIZE GROUP_RANK=$GROUP_RANK"']


class LastCall(MusterCase):
    def test_min_reached_then_last_call(self):
        d = self.musterd()
        nodes = [self.node(d, "lc%d" % i, PROG, "2:4", 2, "lastcall",
                           last_call="1s") for i in range(2)]
        ranks = []
        for n in nodes:
            rc = n.wait()
            self.check("node %s exits 0" % n.name)
            self.expect_eq(rc, 0, "exit status of %s" % n.name, n)
            for r, ls in worker_lines(n.out, "worker").items():
                v = parse_kv_line(ls[0])
                self.expect_eq((v["WORLD_SIZE"], v["GROUP_WORLD_SIZE"]), ("4", "2"),
                               "WORLD_SIZE, GROUP_WORLD_SIZE of rank %d" % r, n)
                ranks.append(r)
        self.check("the round closed below max with 2 nodes: world 4, ranks 0..3")
        self.expect_eq(sorted(ranks), [0, 1, 2, 3], "ranks seen")
        self.check("a node was told about the last call")
        self.expect(any("last call" in n.err for n in nodes),
                    "no 'last call' progress line on any node")
        st = self.run_muster(["status", "--endpoint", d.ctl_ep], timeout=20)
        row = [l.split() for l in st.out.splitlines() if l.startswith("lastcall ")]
        self.check("muster status: lastcall succeeded, epoch 1, world 4")
        self.expect(len(row) == 1, "no row for lastcall", st)
        self.expect_eq(row[0][1:4], ["succeeded", "1", "4"], "state epoch world", st)


    def test_join_timeout(self):
        d = self.musterd()
        n = self.node(d, "alone", PROG, "2", 1, "lonely", extra=["--join-timeout", "1s"])
        rc = n.wait()
        self.check("--nnodes 2 with one node and --join-timeout 1s: exit 1")
        self.expect_eq(rc, 1, "exit status", n)
        self.check("the message says the rendezvous timed out")
        self.expect("rendezvous timed out" in n.err, "message", n)
        self.expect_eq(worker_lines(n.out), {}, "worker output", n)

    def test_mismatched_spec_refused(self):
        d = self.musterd()
        first = self.node(d, "m0", PROG, "2", 1, "mixed")
        self.wait_for(lambda: "waiting for nodes" in first.err, 20, "m0 to join")
        odd = self.node(d, "m1", PROG, "2", 2, "mixed")  # nproc 2, not 1
        rc = odd.wait()
        self.check("a node with another --nproc-per-node for the same job: exit 1")
        self.expect_eq(rc, 1, "exit status of the odd node", odd)
        self.check("its message says the job exists with another shape")
        self.expect("already exists" in odd.err, "message", odd)
        ok = self.node(d, "m2", PROG, "2", 1, "mixed",
                       extra=["--max-restarts", "7", "--join-timeout", "5m"])
        self.check("a node of the right shape but other job options joins, "
                   "and is told the job keeps its own")
        self.wait_for(lambda: "JOB-OPTIONS" in ok.err, 20, "m2's note")
        self.expect(re.search(r"the job keeps the options it was created with: "
                              r"max_restarts \d+ \(this node: 7\); "
                              r"join_timeout_ms \d+ \(this node: 300000\)",
                              ok.err) is not None, "m2's note names both", ok)
        self.expect("node m2 joins job mixed, whose options differ" in d.err,
                    "musterd logs it", d)
        for n in (first, ok):
            self.check("the right nodes still form the gang: %s exits 0" % n.name)
            self.expect_eq(n.wait(), 0, "exit status of %s" % n.name, n)

    def test_late_node_when_full(self):
        d = self.musterd()
        go = os.path.join(self.tmp, "go")
        prog = ["sh", "-c", 'while [ ! -e "%s" ]; do sleep 0.05; done; echo RANK=$RANK' % go]
        nodes = [self.node(d, "f%d" % i, prog, "2", 1, "full") for i in range(2)]
        self.wait_for(lambda: all("epoch 1" in n.err for n in nodes), 30, "the gang to start")
        late = self.node(d, "f2", prog, "2", 1, "full")
        self.wait_for(lambda: "is full" in late.err, 30, "the late node to be told")
        self.check("a node arriving at a full job is told it waits for a place")
        open(go, "w").close()
        for n in nodes:
            self.expect_eq(n.wait(), 0, "exit status of %s" % n.name, n)
        rc = late.wait()
        self.check("when the job ends, the waiting node ends too (exit %s), "
                   "having run no worker" % rc)
        self.expect_eq(worker_lines(late.out), {}, "worker output of the late node", late)


if __name__ == "__main__":
    main()
