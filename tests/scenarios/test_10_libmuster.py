#!/usr/bin/python3
"""Scenario 10 — LIBMUSTER: examples/hello_gang (linked with -lmuster) with
the embedded coordinator (4 workers) and through musterd (2 nodes x 2
workers): every rank learns its place and the next rank's address, reads
rank 0's greeting from the KV store, passes the barrier and exits 0.

Depends on libmuster being finished.  Skipped, saying SKIPPED and why, when
build/bin/hello_gang is missing or MUSTER_TEST_SKIP_LIBMUSTER is set; never
silently."""
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import MusterCase, bin_path, main, worker_lines  # noqa: E402

HELLO = bin_path("hello_gang")


def skip_reason():
    if os.environ.get("MUSTER_TEST_SKIP_LIBMUSTER"):
        return "MUSTER_TEST_SKIP_LIBMUSTER is set"
    if not os.access(HELLO, os.X_OK):
        return "%s is not built (libmuster or examples/ missing)" % HELLO
    return ""


class LibMuster(MusterCase):
    def setUp(self):
        why = skip_reason()
        if why:
            print("SKIPPED: libmuster scenario: " + why, flush=True)
            self.skipTest(why)
        super().setUp()

    def check_gang(self, procs, world):
        ranks = {}
        for p in procs:
            for r, ls in worker_lines(p.out, "worker").items():
                self.expect(r not in ranks, "rank %d twice" % r, p)
                ranks[r] = (p, ls)
        self.check("ranks 0..%d all report" % (world - 1))
        self.expect_eq(sorted(ranks), list(range(world)), "ranks", *procs)
        ports = {}
        for r, (p, ls) in sorted(ranks.items()):
            self.check("rank %d: place, next peer, greeting, barrier, in that order" % r)
            self.expect(len(ls) == 4, "rank %d printed %d lines, want 4" % (r, len(ls)), p)
            self.expect(ls[0].startswith("rank %d of %d: local rank " % (r, world))
                        and "role worker[%d of %d]" % (r, world) in ls[0],
                        "rank %d's place line %r" % (r, ls[0]), p)
            m = re.match(r"rank %d: next rank %d is at 127\.0\.0\.1:(\d+)$"
                         % (r, (r + 1) % world), ls[1])
            self.expect(m is not None, "rank %d's peer line %r" % (r, ls[1]), p)
            ports[(r + 1) % world] = int(m.group(1))
            self.expect_eq(ls[2], "rank %d: greeting: hello from rank 0 to a gang of %d"
                           % (r, world), "rank %d's greeting" % r, p)
            self.expect_eq(ls[3], "rank %d: passed the barrier" % r,
                           "rank %d's barrier line" % r, p)
        self.check("the peer ports of the %d ranks are distinct" % world)
        self.expect_eq(len(set(ports.values())), world, "ports %r" % ports, *procs)

    def test_embedded_four_workers(self):
        p = self.muster_run(["--nproc-per-node", "4", "--", HELLO])
        rc = p.wait()
        self.check("hello_gang, embedded, 4 workers: exit 0")
        self.expect_eq(rc, 0, "exit status", p)
        self.check_gang([p], 4)

    def test_two_nodes_through_musterd(self):
        d = self.musterd()
        nodes = [self.node(d, "g%d" % i, [HELLO], "2", 2, "hello") for i in range(2)]
        for n in nodes:
            rc = n.wait()
            self.check("hello_gang on node %s: exit 0" % n.name)
            self.expect_eq(rc, 0, "exit status of %s" % n.name, n)
        self.check_gang(nodes, 4)


if __name__ == "__main__":
    main()
