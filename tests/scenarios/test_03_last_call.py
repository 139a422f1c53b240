#!/usr/bin/python3
"""Scenario 3 — --nnodes 2:4 with only 2 nodes: the minimum is reached, the
last call expires, and the gang runs with the 2 nodes (world 4)."""
import os
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
        self.check("muster status: lastcall succeeded, world 4 on 2 nodes")
        self.expect(len(row) == 1, "no row for lastcall", st)
        self.expect_eq(row[0][1:5], ["succeeded", "1", "4", "2"],
                       "state epoch world nodes", st)


if __name__ == "__main__":
    main()
