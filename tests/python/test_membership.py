#!/usr/bin/python3
"""Membership changes through the Python binding in in-place mode
(progs/inplace.py): rank 1 of 3 dies; the survivors keep their processes
and hear of epoch 2 through every form the binding offers (the callback,
the poll, wait_membership on a thread, await next_membership); the
replacement starts in epoch 2 told to sync from rank 0.  A node joining
a running in-place job (scale-up through musterd) reaches the workers
already running the same way, with the new world; there wait_membership
is called only after next_membership returned the change, and still
returns it: each form hears of every change."""
import os
import re

from pyharness import PROGS, PYTHON, PyCase, main

FORMS = ("callback", "membership_changed", "wait_membership", "next_membership")


class Membership(PyCase):
    def test_loss_in_place_reaches_every_form(self):
        p = self.py_run(["--nproc-per-node", "3", "--elastic-mode", "in-place",
                         "--max-restarts", "1"], "inplace.py", [200, 40, 1])
        self.check("rank 1 dies; the job goes on in place and succeeds")
        self.expect_eq(p.rc, 0, "exit status", p)
        starts = [tuple(int(x) for x in m.groups()) for m in re.finditer(
            r"start rank (\d+) pid (\d+) epoch (\d+) world (\d+) sync_from (-?\d+)", p.out)]
        first = {r: pid for r, pid, e, w, sf in starts if e == 1}
        later = [(r, e, w, sf) for r, pid, e, w, sf in starts if e != 1]
        self.expect_eq(sorted(first), [0, 1, 2], "epoch-1 ranks", p)
        self.check("only rank 1 started again, in epoch 2, syncing from rank 0")
        self.expect_eq(later, [(1, 2, 3, 0)], "workers started after epoch 1", p)
        for form in FORMS:
            seen = sorted(tuple(int(x) for x in m.groups()) for m in re.finditer(
                r"\] %s: epoch (\d+) rank (\d+) world (\d+) pid (\d+)" % form, p.out))
            self.check("%s: ranks 0 and 2 saw epoch 2, in their own processes" % form)
            self.expect_eq(seen, [(2, 0, 3, first[0]), (2, 2, 3, first[2])], form, p)

    def test_scale_up_in_place_reaches_running_workers(self):
        d = self.musterd()
        # wait_membership is called only after next_membership returned the
        # change: it still returns it (the forms keep separate accounts).
        prog = [PYTHON, os.path.join(PROGS, "inplace.py"), "700", "-1", "-1", "after-next"]
        extra = ["--elastic-mode", "in-place"]
        n1 = self.node(d, "n1", prog, "1:2", 2, "grow", last_call="200ms", extra=extra)
        self.wait_for(lambda: n1.out.count("start rank") == 2, 30, "n1 to run alone")
        self.check("a second node joins the running in-place job")
        n2 = self.node(d, "n2", prog, "1:2", 2, "grow", last_call="200ms", extra=extra)
        rcs = [n1.wait(), n2.wait()]
        self.expect_eq(rcs, [0, 0], "exit status", n1, n2)
        first = {int(m.group(1)): int(m.group(2)) for m in re.finditer(
            r"start rank (\d+) pid (\d+) epoch 1 world 2", n1.out)}
        self.expect_eq(sorted(first), [0, 1], "n1's ranks in epoch 1", n1)
        for form in FORMS:
            seen = sorted((int(m.group(1)), int(m.group(3)), int(m.group(4)))
                          for m in re.finditer(r"\] %s: epoch (\d+) rank (\d+) world (\d+) "
                                               r"pid (\d+)" % form, n1.out))
            self.check("%s: n1's two workers saw the gang grow to 4, in their own "
                       "processes" % form)
            self.expect_eq([(e, w) for e, w, pid in seen], [(2, 4), (2, 4)], form, n1)
            self.expect_eq(sorted(pid for e, w, pid in seen), sorted(first.values()),
                           form + " pids", n1)


if __name__ == "__main__":
    main()
