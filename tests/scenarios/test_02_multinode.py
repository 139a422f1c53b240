#!/usr/bin/python3
"""Scenario 2 — a separate musterd, 3 nodes x 2 workers with --nnodes 2:3:
world 6, every rank once, each node's ranks contiguous, GROUP_RANK 0..2."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import MusterCase, main, parse_kv_line, worker_lines  # noqa: E402

PROG = ["sh", "-c", 'echo "RANK=$RANK LOCAL_RANK=$LOCAL_RANK WORLD_SIZE=$WORLD_SIZE '
        'GROUP_RANK=$GROUP_RANK GROUP_WORLD_SIZE=$GROUP_WORLD_SIZE '
        'LOCAL_WORLD_SIZE=$LOCAL_WORLD_SIZE NODE=$MUSTER_NODE_ID"']


class MultiNode(MusterCase):
    def test_three_nodes_two_workers(self):
        d = self.musterd()
        # The round closes when max (3) nodes have joined; the long last
        # call only matters if a node were missing.
        nodes = [self.node(d, "n%d" % i, PROG, "2:3", 2, "gang3") for i in range(3)]
        for n in nodes:
            rc = n.wait()
            self.check("node %s exits 0" % n.name)
            self.expect_eq(rc, 0, "exit status of %s" % n.name, n)
        seen = {}
        groups = {}
        for n in nodes:
            lines = worker_lines(n.out, "worker")
            ranks = sorted(lines)
            self.check("node %s runs 2 ranks, contiguous: %s" % (n.name, ranks))
            self.expect_eq(len(ranks), 2, "ranks of %s" % n.name, n)
            self.expect_eq(ranks[1], ranks[0] + 1, "contiguous ranks of %s" % n.name, n)
            for r in ranks:
                self.expect_eq(len(lines[r]), 1, "lines of rank %d" % r, n)
                v = parse_kv_line(lines[r][0])
                self.expect_eq(v["RANK"], str(r), "RANK under prefix %d" % r, n)
                self.expect_eq(v["WORLD_SIZE"], "6", "WORLD_SIZE of rank %d" % r, n)
                self.expect_eq(v["GROUP_WORLD_SIZE"], "3", "GROUP_WORLD_SIZE", n)
                self.expect_eq(v["LOCAL_WORLD_SIZE"], "2", "LOCAL_WORLD_SIZE", n)
                self.expect_eq(v["LOCAL_RANK"], str(r - ranks[0]), "LOCAL_RANK of %d" % r, n)
                self.expect_eq(v["NODE"], n.name, "MUSTER_NODE_ID of rank %d" % r, n)
                self.expect(r not in seen, "rank %d on %s and %s" % (r, seen.get(r), n.name))
                seen[r] = n.name
                groups.setdefault(n.name, set()).add(v["GROUP_RANK"])
            self.check("node %s has one GROUP_RANK, and its first rank is 2 x GROUP_RANK"
                       % n.name)
            self.expect_eq(len(groups[n.name]), 1, "GROUP_RANKs of %s" % n.name, n)
            self.expect_eq(ranks[0], 2 * int(next(iter(groups[n.name]))),
                           "first rank of %s" % n.name, n)
        self.check("world 6: ranks 0..5 each exactly once")
        self.expect_eq(sorted(seen), list(range(6)), "ranks seen")
        self.check("GROUP_RANK 0..2, one per node")
        self.expect_eq(sorted(g for s in groups.values() for g in s), ["0", "1", "2"],
                       "group ranks")
        st = self.run_muster(["status", "--endpoint", d.ctl_ep], timeout=20)
        self.check("muster status shows job gang3 succeeded, epoch 1, world 6")
        self.expect_eq(st.rc, 0, "muster status exit", st)
        row = [l.split() for l in st.out.splitlines() if l.startswith("gang3 ")]
        self.expect(len(row) == 1, "no row for gang3", st)
        self.expect_eq(row[0][1:4], ["succeeded", "1", "6"], "state epoch world", st)
        # job_info.world and .nodes both describe the job's (last) epoch
        # (common/proto_schema.def): a finished job of world 6 ran on 3 nodes.
        self.check("... and the NODES column of its last epoch: 3")
        self.expect_eq(row[0][4], "3", "NODES of the finished job", st)


if __name__ == "__main__":
    main()
