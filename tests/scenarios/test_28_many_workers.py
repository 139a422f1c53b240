#!/usr/bin/python3
"""Scenario 28 — many workers on one node: `muster run --nproc-per-node
1000` starts them all in one epoch and finishes, with no restart.  The
embedded coordinator and agent share one loop and never declare each
other lost while it spawns; spawning is spread over loop iterations; the
open-file limit is raised, and when the workers cannot fit even so the
launcher says so before starting anything.  libmuster workers (hello_gang:
hello, KV, barrier through the agent's ipc socket) work at a quarter of
the count.

MUSTER_TEST_MANY_WORKERS sets the count (default 1000; 250 in sanitizer
builds, where every process start is several times slower)."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import MusterCase, bin_path, main, worker_lines  # noqa: E402

SANITIZED = os.environ.get("MUSTER_SANITIZED", "") in ("1", "ON", "TRUE", "true")
N = int(os.environ.get("MUSTER_TEST_MANY_WORKERS") or (250 if SANITIZED else 1000))


class ManyWorkers(MusterCase):
    def expect_one_epoch(self, p, n):
        self.check("one epoch of %d workers, no restart, no lost peer" % n)
        self.expect("epoch 1: %d worker(s) on 1 node(s)" % n in p.err,
                    "epoch 1 line", p)
        for bad in ("epoch 2", "restarted", "COORD-LOST", "NODE-LOST",
                    "re-forming", "SPAWN-FAILED"):
            self.expect(bad not in p.err, "%r in the launcher's output" % bad, p)
        self.check("the job succeeds with all %d workers" % n)
        self.expect("succeeded: all %d workers exited 0" % n in p.err,
                    "success line", p)

    def test_sleepers(self):
        p = self.muster_run(["--nproc-per-node", str(N), "--", "/bin/sleep", "1"])
        rc = p.wait(timeout=300)
        self.check("muster run --nproc-per-node %d -- /bin/sleep 1 exits 0" % N)
        self.expect_eq(rc, 0, "exit status", p)
        self.expect_one_epoch(p, N)

    def test_every_worker_is_heard(self):
        n = max(N // 4, 10)
        p = self.muster_run(["--nproc-per-node", str(n), "--", "sh", "-c",
                             'echo "hello from $RANK of $WORLD_SIZE"; '
                             'echo "err $RANK" >&2; exec sleep 1'])
        rc = p.wait(timeout=300)
        self.expect_eq(rc, 0, "exit status", p)
        self.expect_one_epoch(p, n)
        self.check("each of the %d workers' stdout and stderr lines arrived" % n)
        out = worker_lines(p.out, "worker")
        self.expect_eq(sorted(out), list(range(n)), "ranks on stdout", p)
        for r in range(n):
            self.expect_eq(out[r], ["hello from %d of %d" % (r, n)],
                           "rank %d's stdout" % r, p)
        err = worker_lines(p.err, "worker")
        self.expect_eq(sorted(err), list(range(n)), "ranks on stderr", p)

    def test_libmuster_workers(self):
        # Every worker talks to the agent's ipc socket (hello, KV, barrier):
        # a quarter of N, since each is a process with its own ZeroMQ thread.
        hello = bin_path("hello_gang")
        if not os.access(hello, os.X_OK):
            self.skipTest("%s is not built" % hello)
        n = max(N // 4, 10)
        p = self.muster_run(["--nproc-per-node", str(n), "--", hello])
        rc = p.wait(timeout=300)
        self.check("%d libmuster workers (hello, KV, barrier): exit 0" % n)
        self.expect_eq(rc, 0, "exit status", p)
        self.expect_one_epoch(p, n)
        out = worker_lines(p.out, "worker")
        self.expect_eq(sorted(out), list(range(n)), "ranks heard", p)

    def test_too_many_for_the_fd_limit(self):
        # A hard limit of 256 open files cannot hold 1000 workers' pipes:
        # a one-line error before anything starts, not ranks failing one
        # by one.
        p = self.start("muster-fd", ["sh", "-c", 'ulimit -n 256 && exec "$0" '
                                     'run --nproc-per-node 1000 -- /bin/sleep 1',
                                     bin_path("muster")])
        rc = p.wait()
        self.check("refused with exit status 2 and the numbers")
        self.expect_eq(rc, 2, "exit status", p)
        self.expect("1000 workers on this node need up to" in p.err
                    and "the limit is 256" in p.err and "ulimit" in p.err,
                    "fd limit message", p)
        self.expect("epoch 1" not in p.err, "nothing started", p)


if __name__ == "__main__":
    main()
