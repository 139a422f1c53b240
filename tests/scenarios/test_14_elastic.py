#!/usr/bin/python3
"""Scenario 14 — elasticity (DESIGN "Failure and elasticity", STYLE item
10's example): kill one node of a running --nnodes 2:3 gang and the rest
re-form in a new epoch (restart mode) with a smaller world whose ranks are
again 0..world-1, contiguous per node, and the job completes."""
import os
import signal
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import MusterCase, main, worker_lines  # noqa: E402


class Elastic(MusterCase):
    def test_gang_reforms_after_node_loss(self):
        d = self.musterd()
        go = os.path.join(self.tmp, "go")
        prog = ["sh", "-c", 'echo "start $MUSTER_EPOCH $RANK $WORLD_SIZE"; '
                'while [ ! -e "%s" ]; do sleep 0.05; done; '
                'echo "end $MUSTER_EPOCH $RANK $WORLD_SIZE"' % go]
        nodes = [self.node(d, "el%d" % i, prog, "2:3", 2, "elastic", last_call="1s",
                           extra=["--grace", "1s"]) for i in range(3)]

        def lines_of(n, what):
            return [l.split() for ls in worker_lines(n.out, "worker").values()
                    for l in ls if l.startswith(what + " ")]

        def epoch1_running():
            running = [n for n in nodes if len(lines_of(n, "start")) >= 2]
            return len(running) >= 2 and running
        running = self.wait_for(epoch1_running, 30, "epoch 1 to run on 2 or 3 nodes")
        world1 = int(lines_of(running[0], "start")[0][3])
        self.check("epoch 1 runs: world %d on %d node(s)" % (world1, len(running)))
        victim = running[-1]
        victim.signal(signal.SIGKILL)
        victim.wait(20)
        self.check("node %s SIGKILLed" % victim.name)
        rest = [n for n in nodes if n is not victim]

        def reformed():
            starts = [l for n in rest for l in lines_of(n, "start") if l[1] != "1"]
            if not starts:
                return False
            world = int(starts[0][3])
            return len(starts) >= world and starts
        starts = self.wait_for(reformed, 40, "the gang to re-form in a new epoch")
        epoch, world = starts[0][1], int(starts[0][3])
        self.check("re-formed in epoch %s with world %d" % (epoch, world))
        open(go, "w").close()
        ends = {}
        for n in rest:
            rc = n.wait()
            self.check("surviving node %s exits 0" % n.name)
            self.expect_eq(rc, 0, "exit status of %s" % n.name, n)
            mine = sorted(int(l[2]) for l in lines_of(n, "end"))
            self.check("node %s ends ranks %s in the last epoch, contiguous" % (n.name, mine))
            self.expect(mine == list(range(mine[0], mine[0] + len(mine))) if mine else True,
                        "ranks of %s not contiguous" % n.name, n)
            for l in lines_of(n, "end"):
                ends[int(l[2])] = (l[1], int(l[3]))
        self.check("the last epoch is a new one, smaller than the first, ranks 0..world-1")
        self.expect(int(epoch) > 1 and world < world1, "epoch %s world %d" % (epoch, world))
        self.expect_eq(sorted(ends), list(range(world)), "ranks that ended")
        self.expect_eq(set(ends.values()), {(epoch, world)}, "epoch and world of the ends")
        first = {n.name: min(int(l[2]) for l in lines_of(n, "start") if l[1] == "1")
                 for n in rest if any(l[1] == "1" for l in lines_of(n, "start"))}
        last = {n.name: min(int(l[2]) for l in lines_of(n, "end")) for n in rest}
        order1 = sorted(first, key=first.get)
        self.check("survivors keep their relative order: %s" % order1)
        self.expect_eq(sorted(order1, key=last.get), order1,
                       "order of the survivors (first ranks %r then %r)" % (first, last))


if __name__ == "__main__":
    main()
