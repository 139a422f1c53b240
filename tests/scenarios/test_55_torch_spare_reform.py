#!/usr/bin/python3
"""Scenario 55 — in-place recovery with a spare, looped: examples/torch_ctr
under `muster run --nproc-per-node 4 --elastic-mode in-place --spares 1`,
rank 1 SIGKILLed at step 30, RUNS times in a row.  Each time the three
survivors keep their processes, the spare takes rank 1, the four ranks
form the epoch-2 process group and training reaches its last step.

What it guards (decision 100): about 1 recovery in 16 formed the new
group only after the old group's collective timeout, because a survivor
waited in torch's destroy_process_group() for a collective of the old
group that gloo never woke.  Here the old group's collectives have 120 s
(--timeout) but the re-formed group's rendezvous only 20 s
(--reform-timeout): a survivor held up in the old group makes the others'
rendezvous fail ("re-forming again"), which this test refuses — a hang
fails the test instead of passing slowly.  The deterministic test of the
cause is tests/python/test_torch_leave.py."""
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import MusterCase, main  # noqa: E402
from torch_examples import (PYTHON, TORCH_CTR, binding_env,  # noqa: E402
                            binding_missing, ctr_finals, ctr_starts, torch_missing)

RUNS = 5
STEPS, CRASH = 50, 30
JOINED = re.compile(r"\] joined epoch (\d+) as rank (\d+)/(\d+) pid (\d+) at step (\d+)")


class SpareReform(MusterCase):
    def setUp(self):
        why = torch_missing() or binding_missing()
        if why:
            print("SKIPPED: " + why, flush=True)
            self.skipTest(why)
        super().setUp()

    def one_recovery(self, n):
        p = self.muster_run(
            ["--python", PYTHON, "--nproc-per-node", "4", "--max-restarts", "1",
             "--elastic-mode", "in-place", "--spares", "1", "--", TORCH_CTR,
             "--inplace", "--steps", str(STEPS), "--crash-at-step", str(CRASH),
             "--crash-rank", "1", "--eval-every", str(STEPS), "--timeout", "120",
             "--reform-timeout", "20"],
            name="run-%d" % n, env_extra=binding_env())
        rc = p.wait(240)  # bounds a broken build only: a hang fails below first
        self.check("run %d: no rank's rendezvous of the new group timed out" % n)
        self.expect("re-forming again" not in p.out, "no 're-forming again' line", p)
        self.expect_eq(rc, 0, "exit status", p)
        joined = [tuple(int(x) for x in m.groups()) for m in JOINED.finditer(p.out)]
        e1 = {r: pid for e, r, w, pid, st in joined if e == 1}
        e2 = {r: (pid, st) for e, r, w, pid, st in joined if e == 2}
        self.check("run %d: the survivors kept their pids, the spare took rank 1, "
                   "all at step %d" % (n, CRASH - 1))
        self.expect_eq(sorted(e2), [0, 1, 2, 3], "ranks of epoch 2", p)
        for r in (0, 2, 3):
            self.expect_eq(e2[r][0], e1.get(r), "pid of rank %d" % r, p)
        self.expect(e2[1][0] != e1.get(1), "rank 1 is another process", p)
        self.expect_eq(ctr_starts(p.out).get((2, 1), (None, None))[1], 4,
                       "the spare's start line at world 4", p)
        self.expect_eq(sorted({st for pid, st in e2.values()}), [CRASH - 1],
                       "step the group re-formed at", p)
        f = ctr_finals(p.out)
        self.expect_eq([x["step"] for x in f], [STEPS], "final line", p)

    def test_spare_recovery_loop(self):
        for n in range(1, RUNS + 1):
            self.one_recovery(n)


if __name__ == "__main__":
    main()
