#!/usr/bin/python3
"""Scenario 54 — one agent, hundreds of workers (issue 12: `muster run
--nproc-per-node 600` livelocked).  The agent starts its workers with
posix_spawn (no fork of a large agent) and watches each exit on its own
pidfd (docs/architecture.md, decisions 97-99); what a user sees:

- N workers that each write their rank and exit: the job succeeds in one
  epoch, and every rank's line is there exactly once, prefixed
  "[worker R] ", on stdout, and its stderr line on stderr;
- N workers that idle until every one of them runs (a gate the test
  opens then) and then exit: the same, with the lines they write before
  and after the idle time, and the agent says it had every one of them
  running (EPOCH-SPAWNED, --log-level info);
- a worker sees no signal ignored or blocked that the agent ignores or
  blocks (posix_spawn resets every disposition, glibc's own two too).

No timing is asserted: the harness's timeout is what bounds a livelock.
MUSTER_TEST_AGENT1K_WORKERS sets N (default 600; 150 in sanitizer
builds, where every process start is several times slower)."""
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import MusterCase, main, worker_lines  # noqa: E402

SANITIZED = os.environ.get("MUSTER_SANITIZED", "") in ("1", "ON", "TRUE", "true")
N = int(os.environ.get("MUSTER_TEST_AGENT1K_WORKERS")
        or (150 if SANITIZED else 600))


class ManyWorkersOneAgent(MusterCase):
    def expect_success(self, p, n):
        self.check("one epoch of %d workers, no restart, exit 0" % n)
        self.expect("epoch 1: %d worker(s) on 1 node(s)" % n in p.err,
                    "epoch 1 line", p)
        for bad in ("epoch 2", "restarted", "SPAWN-FAILED", "NODE-LOST",
                    "COORD-LOST"):
            self.expect(bad not in p.err, "%r in the launcher's output" % bad, p)
        self.expect("succeeded: all %d workers exited 0" % n in p.err,
                    "success line", p)

    def expect_each_once(self, text, n, want, stream, p):
        """Every rank has exactly the lines want(rank) on that stream, and
        no line of a worker goes out without its prefix."""
        got = worker_lines(text, "worker")
        self.expect_eq(sorted(got), list(range(n)),
                       "ranks heard on %s" % stream, p)
        for r in range(n):
            self.expect_eq(got.get(r), want(r), "rank %d's %s" % (r, stream), p)

    def test_rank_lines(self):
        p = self.muster_run(["--nproc-per-node", str(N), "--", "sh", "-c",
                             'echo "rank $RANK of $WORLD_SIZE"; '
                             'echo "err $LOCAL_RANK" >&2'])
        rc = p.wait(timeout=300)
        self.expect_eq(rc, 0, "exit status", p)
        self.expect_success(p, N)
        self.check("each of the %d ranks wrote its line exactly once, "
                   "prefixed, on stdout and on stderr" % N)
        self.expect_each_once(p.out, N,
                              lambda r: ["rank %d of %d" % (r, N)], "stdout", p)
        self.expect_each_once(p.err, N, lambda r: ["err %d" % r], "stderr", p)
        stray = [ln for ln in p.out.splitlines()
                 if not re.match(r"^\[worker \d+\] ", ln)]
        self.expect_eq(stray, [], "stdout lines without a worker prefix", p)

    def test_idle_then_exit(self):
        # The workers idle until the test opens a gate (a FIFO it holds
        # open for writing; each worker reads it to EOF), and the test
        # opens it only once every worker said "up": however slow the
        # machine, all N are running at once, and no timing is involved.
        gate = os.path.join(self.tmp, "gate")
        os.mkfifo(gate)
        holder = os.open(gate, os.O_RDWR | os.O_NONBLOCK)
        try:
            p = self.muster_run(["--log-level", "info", "--nproc-per-node",
                                 str(N), "--", "sh", "-c",
                                 'exec 3<"%s"; echo "up $RANK"; '
                                 'read -r x <&3; echo "down $RANK"' % gate])

            def all_up():
                if not p.running():
                    return True
                got = worker_lines(p.out, "worker")
                ups = sum(1 for r, v in got.items() if v[:1] == ["up %d" % r])
                return ups == N and "EPOCH-SPAWNED" in p.err
            self.wait_for(all_up, 240, "every worker to be up", interval=0.5)
            self.check("the agent had all %d running at once" % N)
            self.expect(p.running(), "the launcher still runs", p)
            m = re.search(r"EPOCH-SPAWNED .*: (\d+) of (\d+) worker\(s\) "
                          r"running", p.err)
            self.expect(m is not None, "EPOCH-SPAWNED line", p)
            self.expect_eq((int(m.group(1)), int(m.group(2))), (N, N),
                           "workers running of those started", p)
        finally:
            os.close(holder)  # the gate opens: every worker reads EOF
        rc = p.wait(timeout=300)
        self.expect_eq(rc, 0, "exit status", p)
        self.expect_success(p, N)
        self.check("each idle worker's lines before and after its idle "
                   "time arrived, once, in order")
        self.expect_each_once(p.out, N,
                              lambda r: ["up %d" % r, "down %d" % r],
                              "stdout", p)

    def test_clean_signal_state(self):
        # Whatever the launcher ignores or blocks stays its own; glibc's
        # posix_spawn would leave its internal signals 32 and 33 ignored
        # in the child unless told otherwise.
        # (The program reads its own status: a shell's, read by a child
        # it vforked, shows every signal blocked while dash waits for
        # that child's exec.)
        p = self.muster_run(["--nproc-per-node", "2", "--", "grep", "-E",
                             "^Sig(Ign|Blk):", "/proc/self/status"])
        rc = p.wait(timeout=120)
        self.expect_eq(rc, 0, "exit status", p)
        self.check("no worker starts with a signal ignored or blocked")
        got = worker_lines(p.out, "worker")
        for r in range(2):
            self.expect_eq(sorted(got.get(r, [])),
                           ["SigBlk:\t0000000000000000",
                            "SigIgn:\t0000000000000000"],
                           "rank %d's signal masks" % r, p)


if __name__ == "__main__":
    main()
