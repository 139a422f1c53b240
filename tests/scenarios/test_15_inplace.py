#!/usr/bin/python3
"""Scenario 15 — in-place mode: when a worker dies the survivors keep their
processes (same pids) and learn the new epoch through libmuster; only the
lost worker is started again, told which rank to sync from; a lost node
re-ranks the survivors of the other nodes; a program that does not link
libmuster is refused in this mode when the job is submitted."""
import os
import re
import signal
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import MusterCase, bin_path, main  # noqa: E402


def starts(text):
    """[(rank, pid, epoch, world, sync_from)] from ckpt_train's start lines."""
    return [tuple(int(x) for x in m.groups())
            for m in re.finditer(r"\] rank (\d+) pid (\d+) epoch (\d+) world (\d+) "
                                 r"sync_from (-?\d+)", text)]


def changes(text):
    """[(epoch, rank, world, pid)] from ckpt_train's membership lines."""
    return [tuple(int(x) for x in m.groups())
            for m in re.finditer(r"membership: epoch (\d+) rank (\d+) world (\d+) "
                                 r"pid (\d+)", text)]


class InPlace(MusterCase):
    def test_worker_replaced_survivors_keep_running(self):
        p = self.muster_run(["--nproc-per-node", "3", "--elastic-mode",
                             "in-place", "--max-restarts", "1", "--",
                             bin_path("ckpt_train"), "--steps", "300",
                             "--step-ms", "4", "--crash-at", "60",
                             "--crash-rank", "1"])
        rc = p.wait()
        self.check("rank 1 crashes; the job goes on in place and succeeds")
        self.expect_eq(rc, 0, "exit status", p)
        s = starts(p.out)
        first = {r: pid for r, pid, e, w, sf in s if e == 1}
        later = [(r, pid, e, sf) for r, pid, e, w, sf in s if e > 1]
        self.check("only rank 1 started again, in epoch 2, syncing from rank 0")
        self.expect_eq(sorted(first), [0, 1, 2], "epoch-1 ranks", p)
        self.expect_eq([(r, e, sf) for r, pid, e, sf in later], [(1, 2, 0)],
                       "workers started after epoch 1", p)
        self.check("ranks 0 and 2 kept their pids and saw epoch 2")
        ch = changes(p.out)
        self.expect_eq(sorted((r, e, w, pid) for e, r, w, pid in ch),
                       [(0, 2, 3, first[0]), (2, 2, 3, first[2])],
                       "membership changes seen by the survivors", p)
        self.expect("re-formed in place" in p.err, "launcher says in place", p)

    def test_node_lost_survivors_reranked(self):
        d = self.musterd()
        prog = [bin_path("ckpt_train"), "--steps", "600", "--step-ms", "4"]
        extra = ["--elastic-mode", "in-place"]
        # the round closes when both (max) are in; the long last call keeps
        # a slow start from making epoch 1 with n1 alone
        n1 = self.node(d, "n1", prog, "1:2", 2, "ip", last_call="20s",
                       extra=extra)
        n2 = self.node(d, "n2", prog, "1:2", 2, "ip", last_call="20s",
                       extra=extra)
        self.wait_for(lambda: len(starts(n1.out)) == 2 and len(starts(n2.out)) == 2,
                      20, "both nodes to run epoch 1")
        order = sorted(starts(n1.out) + starts(n2.out))
        first_node = n1 if any(r == 0 for r, *_ in starts(n1.out)) else n2
        other = n2 if first_node is n1 else n1
        self.check("SIGKILL the node holding ranks 0-1 (%s)" % first_node.name)
        first_node.signal(signal.SIGKILL)
        first_node.wait()
        self.expect_eq(other.wait(), 0, "survivor exit status", d, other)
        ch = changes(other.out)
        self.check("the other node's workers kept their pids and became "
                   "ranks 0-1 of a world of 2")
        pids = {pid for r, pid, *_ in starts(other.out)}
        self.expect_eq(sorted((r, w) for e, r, w, pid in ch), [(0, 2), (1, 2)],
                       "new ranks and world", other)
        self.expect_eq({pid for *_, pid in ch}, pids, "same processes", other)
        self.check("their output lines carry the new ranks from then on")
        pre = re.findall(r"^\[worker (\d+)\] membership: epoch \d+ rank (\d+)",
                         other.out, re.M)
        self.expect_eq(sorted(pre), [("0", "0"), ("1", "1")],
                       "(prefix rank, new rank) of the membership lines", other)
        self.expect_eq(len(order), 4, "four workers in epoch 1", n1, n2)

    def test_program_without_libmuster_refused(self):
        p = self.muster_run(["--elastic-mode", "in-place", "--", "/bin/true"])
        # /bin/true is no interpreter and does not link libmuster
        rc = p.wait()
        self.check("an ELF program without libmuster: exit 2, named, "
                   "nothing started")
        self.expect_eq(rc, 2, "exit status", p)
        self.expect("needs a program linked with libmuster" in p.err
                    and "/bin/true" in p.err, "message names the program", p)
        self.check("a program linked with libmuster is accepted")
        q = self.muster_run(["--elastic-mode", "in-place", "--",
                             bin_path("ckpt_train"), "--steps", "5",
                             "--step-ms", "0"])
        self.expect_eq(q.wait(), 0, "exit status", q)


if __name__ == "__main__":
    main()
