#!/usr/bin/python3
"""Scenario 35 — examples/torch_ctr in in-place mode (--elastic-mode
in-place, --inplace: muster's Python binding): 4 nodes of one worker; one
node is killed and the 3 survivors keep their processes, re-form the
process group at world 3 and go on; a node returns and the job grows back
to world 4, the newcomer taking the state of rank 0; training reaches the
AUC the example states."""
import os
import re
import signal
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import MusterCase, main  # noqa: E402
from torch_examples import (BINDING, PYTHON, TORCH_CTR,  # noqa: E402
                            binding_missing, ctr_finals, torch_missing)

JOINED = re.compile(r"\] joined epoch (\d+) as rank (\d+)/(\d+) pid (\d+) at step (\d+)")


def joined(text):
    """[(epoch, rank, world, pid, step)] of torch_ctr's 'joined' lines."""
    return [tuple(int(x) for x in m.groups()) for m in JOINED.finditer(text)]


class CtrInPlace(MusterCase):
    def setUp(self):
        why = torch_missing() or binding_missing()
        if why:
            print("SKIPPED: " + why, flush=True)
            self.skipTest(why)
        super().setUp()
        self.env["PYTHONPATH"] = BINDING

    def test_lose_one_of_four_and_grow_back(self):
        d = self.musterd()
        prog = [TORCH_CTR, "--inplace", "--steps", "400"]
        extra = ["--elastic-mode", "in-place", "--python", PYTHON]
        nodes = [self.node(d, "n%d" % i, prog, "3:4", 1, "ctrip", last_call="20s",
                           extra=extra) for i in range(1, 5)]
        self.wait_for(lambda: all(joined(n.out) for n in nodes), 60,
                      "4 workers to join epoch 1")
        first = {n.name: joined(n.out)[0] for n in nodes}
        self.check("epoch 1: world 4, %r" % sorted((j[1], n) for n, j in first.items()))
        self.expect(all(j[2] == 4 for j in first.values()), "world 4", *nodes)
        victim = next(n for n in nodes if first[n.name][1] == 3)
        survivors = [n for n in nodes if n is not victim]
        self.wait_for(lambda: any("] step 100 " in n.out for n in nodes), 60,
                      "step 100")
        self.check("SIGKILL node %s (rank 3)" % victim.name)
        victim.signal(signal.SIGKILL)
        victim.wait()

        def at_world(n, w):
            return [j for j in joined(n.out) if j[2] == w and j[0] > 1]
        self.wait_for(lambda: all(at_world(n, 3) for n in survivors), 60,
                      "the survivors to re-form at world 3")
        self.check("the 3 survivors kept their pids and re-formed at world 3")
        for n in survivors:
            j = at_world(n, 3)[0]
            self.expect_eq(j[3], first[n.name][3], "pid of %s" % n.name, n)
        self.expect_eq(sorted(at_world(n, 3)[0][1] for n in survivors), [0, 1, 2],
                       "ranks at world 3", *survivors)

        world3 = re.compile(r"\] step (\d+) loss \S+ auc \S+ world 3 ")
        got = self.wait_for(lambda: [m for n in survivors for m in world3.findall(n.out)],
                            60, "an evaluation at world 3")
        self.check("training goes on at world 3 (evaluated at step %s)" % got[0])
        back = self.node(d, "n5", prog, "3:4", 1, "ctrip", last_call="20s",
                         extra=extra)
        for n in survivors + [back]:
            self.expect_eq(n.wait(90), 0, "exit status of " + n.name, *nodes, back)
        self.check("a node returned: world 4 again, the survivors still in "
                   "their first process, the newcomer is rank 3")
        for n in survivors:
            j = at_world(n, 4)
            self.expect(j, "%s re-formed at world 4" % n.name, n)
            self.expect_eq(j[0][3], first[n.name][3], "pid of %s" % n.name, n)
        history = sorted({(e, w, st) for n in survivors for e, r, w, pid, st in joined(n.out)})
        self.check("(epoch, world, step) of the survivors' groups: %r" % history)
        nj = joined(back.out)
        self.expect(nj and nj[0][1] == 3 and nj[0][2] == 4,
                    "newcomer joined as rank 3 of 4", back)
        sf = re.search(r"\] rank \d+/\d+ pid \d+ epoch \d+ restart \d+ sync_from (\d+)",
                       back.out)
        self.check("the newcomer took the state of the rank muster named (%s)"
                   % (sf and sf.group(1)))
        self.expect(sf is not None and ("(state from rank %s)" % sf.group(1)) in back.out,
                    "state from the sync_from rank", back)
        self.check("the newcomer went on from the survivors' step (%d), not 0"
                   % nj[0][4])
        self.expect(nj[0][4] >= int(got[0]), "newcomer's first step", back)
        finals = [f for n in survivors for f in ctr_finals(n.out)]
        self.expect_eq(len(finals), 1, "one final line", *survivors)
        self.check("training ended at step 400 with AUC %.4f (target %.2f)"
                   % (finals[0]["auc"], finals[0]["target"]))
        self.expect(finals[0]["reached"], "AUC target reached", *survivors)

    def test_embedded_crash_in_place(self):
        """The README's run command (scripts/run-example.sh): one muster
        run, 4 workers, in place; rank 1 crashes at step 120; the survivors
        keep their pids, a replacement takes rank 0's state, the AUC is
        reached."""
        p = self.muster_run(["--nproc-per-node", "4", "--elastic-mode", "in-place",
                             "--max-restarts", "1", "--python", PYTHON, "--",
                             TORCH_CTR, "--inplace", "--crash-at-step", "120",
                             "--steps", "300"], name="run-example")
        self.expect_eq(p.wait(240), 0, "exit status", p)
        js = joined(p.out)
        first = {r: pid for e, r, w, pid, st in js if e == 1}
        second = {r: (pid, st) for e, r, w, pid, st in js if e == 2}
        self.check("epoch 1: ranks %r at world 4" % sorted(first))
        self.expect_eq(sorted(first), [0, 1, 2, 3], "epoch 1 ranks", p)
        self.expect("[worker 1] crashing at step 120" in p.out, "the crash", p)
        self.check("epoch 2 re-formed in place: ranks 0, 2, 3 kept their pids; "
                   "rank 1 is a new process that took rank 0's state")
        self.expect_eq(sorted(second), [0, 1, 2, 3], "epoch 2 ranks", p)
        for r in (0, 2, 3):
            self.expect_eq(second[r][0], first[r], "pid of rank %d" % r, p)
        self.expect(second[1][0] != first[1], "rank 1 replaced", p)
        self.expect(second[1][1] > 0, "the replacement went on from the "
                    "survivors' step, not 0", p)
        self.expect("(re-formed in place)" in p.err, "in-place epoch", p)
        finals = ctr_finals(p.out)
        self.expect_eq(len(finals), 1, "one final line", p)
        self.check("training ended at step 300 with AUC %.4f (target %.2f)"
                   % (finals[0]["auc"], finals[0]["target"]))
        self.expect(finals[0]["reached"], "AUC target reached", p)


if __name__ == "__main__":
    main()
