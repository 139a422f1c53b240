#!/usr/bin/python3
"""Scenario 8 — the job's outcome is muster run's exit status: 0 on
success, the first failed rank's code, 128+signal for a killed rank; the
failure is reported once, by its root cause (rank, node, code or signal)
with the tail of that rank's stderr."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import MusterCase, main, worker_lines  # noqa: E402


class ExitStatus(MusterCase):
    def test_success(self):
        p = self.muster_run(["--nproc-per-node", "3", "--", "true"])
        self.check("all ranks exit 0: muster run exits 0, no root cause")
        self.expect_eq(p.wait(), 0, "exit status", p)
        self.expect("root cause" not in p.err, "unexpected root cause", p)

    def test_one_rank_exits_7(self):
        tagline = "boom from rank 1 " + self.tag
        prog = ('if [ "$RANK" = 1 ]; then echo "%s" >&2; exit 7; fi; '
                'exec sleep 100' % tagline)
        p = self.muster_run(["--nproc-per-node", "4", "--grace", "2s", "--",
                             "sh", "-c", prog])
        rc = p.wait()
        self.check("rank 1 exits 7 (the others are stopped): muster run exits 7")
        self.expect_eq(rc, 7, "exit status", p)
        self.check("root cause names rank 1, its node and code 7")
        self.expect("muster: root cause: rank 1 on node local exited with code 7"
                    in p.err, "root cause line", p)
        self.check("the root cause carries rank 1's stderr tail")
        self.expect("muster:   | " + tagline in p.err, "stderr tail", p)
        self.check("the root cause is reported once")
        self.expect_eq(p.err.count("root cause:"), 1, "root cause lines", p)

    def test_one_rank_sigkilled(self):
        prog = 'if [ "$RANK" = 2 ]; then kill -KILL $$; fi; exec sleep 100'
        p = self.muster_run(["--nproc-per-node", "4", "--grace", "2s", "--",
                             "sh", "-c", prog])
        rc = p.wait()
        self.check("rank 2 killed by SIGKILL: muster run exits 137")
        self.expect_eq(rc, 137, "exit status", p)
        self.check("root cause names rank 2 and signal 9")
        self.expect("root cause: rank 2 on node local was killed by signal 9"
                    in p.err, "root cause line", p)

    def test_segfault_and_code_255(self):
        p = self.muster_run(["--nproc-per-node", "2", "--", "sh", "-c",
                             'if [ "$RANK" = 1 ]; then kill -SEGV $$; fi; exec sleep 100'])
        self.check("a rank dying of SIGSEGV: exit 139, signal 11 named")
        self.expect_eq(p.wait(), 139, "exit status", p)
        self.expect("was killed by signal 11" in p.err, "root cause", p)
        q = self.muster_run(["--", "sh", "-c", "exit 255"])
        self.check("a rank exiting 255: exit 255")
        self.expect_eq(q.wait(), 255, "exit status", q)

    def test_restart_then_success(self):
        prog = ('if [ "$TORCHELASTIC_RESTART_COUNT" = 0 ] && [ "$RANK" = 1 ]; then exit 3; fi; '
                'echo "restart=$TORCHELASTIC_RESTART_COUNT epoch=$MUSTER_EPOCH"')
        p = self.muster_run(["--nproc-per-node", "2", "--max-restarts", "1", "--grace", "2s",
                             "--", "sh", "-c", prog])
        self.check("rank 1 fails in the first attempt, --max-restarts 1: exit 0")
        self.expect_eq(p.wait(), 0, "exit status", p)
        lines = worker_lines(p.out, "worker")
        self.check("both ranks finish in the restarted epoch (restart count 1)")
        for r in (0, 1):
            self.expect(lines.get(r) and lines[r][-1].startswith("restart=1 epoch="),
                        "last line of rank %d: %r" % (r, lines.get(r)), p)
        self.expect("(restarted)" in p.err, "restart not announced", p)

    def test_restart_budget_exhausted(self):
        p = self.muster_run(["--nproc-per-node", "2", "--max-restarts", "2", "--",
                             "sh", "-c", "exit 4"])
        self.check("every attempt fails, --max-restarts 2: exit 4 after 3 epochs")
        self.expect_eq(p.wait(), 4, "exit status", p)
        self.expect_eq(p.err.count("(restarted)"), 2, "restarts announced", p)
        self.check("the failure says the budget is exhausted, with the root cause")
        self.expect("restart budget exhausted" in p.err, "message", p)
        self.expect("root cause: rank" in p.err and "exited with code 4" in p.err,
                    "root cause", p)

    def test_multinode_failure_reaches_every_node(self):
        d = self.musterd()
        prog = ["sh", "-c", 'if [ "$RANK" = 3 ]; then echo "rank 3 fails" >&2; '
                'exit 5; fi; exec sleep 100']
        nodes = [self.node(d, "x%d" % i, prog, "2", 2, "fail5",
                           extra=["--grace", "2s"]) for i in range(2)]
        culprit = None
        for n in nodes:
            rc = n.wait()
            self.check("node %s exits with the job's status 5" % n.name)
            self.expect_eq(rc, 5, "exit status of %s" % n.name, n)
            self.expect("root cause: rank 3 on node " in n.err, "root cause", n)
            if "[worker 3]" in n.err:
                culprit = n.name
        self.check("the root cause names rank 3's node (%s) on every node" % culprit)
        self.expect(culprit is not None, "no node ran rank 3")
        for n in nodes:
            self.expect("root cause: rank 3 on node %s exited with code 5" % culprit
                        in n.err, "root cause on %s" % n.name, n)
            self.expect("muster:   | rank 3 fails" in n.err, "stderr tail on %s" % n.name, n)


if __name__ == "__main__":
    main()
