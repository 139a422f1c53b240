#!/usr/bin/python3
"""Scenario 14 — elasticity: an agent that is SIGKILLed is declared lost
within the heartbeat bound and the gang re-forms smaller while it stays at
or above min (no user budget spent); an agent joining a running job below
max grows the gang at the next epoch; a node whose workers keep failing is
cordoned and the job goes on without it."""
import os
import re
import signal
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import MusterCase, main  # noqa: E402

WORKER = """#!/bin/sh
echo "start rank=$RANK world=$WORLD_SIZE epoch=$MUSTER_EPOCH node=$MUSTER_NODE_ID"
sleep "${HOLD:-2}"
"""


def epochs(text):
    """{epoch: world} from the start lines."""
    return {int(m.group(2)): int(m.group(1))
            for m in re.finditer(r"start rank=\d+ world=(\d+) epoch=(\d+)", text)}


class Elastic(MusterCase):
    def test_agent_killed_gang_shrinks(self):
        d = self.musterd()
        w = self.write_script("w.sh", WORKER)
        # All three are started at once and the round closes as soon as the
        # third (max) joins; the long last call only keeps a slow start on
        # a loaded machine from closing epoch 1 with two.
        nodes = [self.node(d, "n%d" % i, [w], "2:3", 2, "shrink",
                           last_call="20s", extra=["--max-restarts", "0"])
                 for i in range(1, 4)]
        self.wait_for(lambda: all("start rank=" in n.out for n in nodes), 20,
                      "all 3 nodes to run epoch 1")
        self.check("SIGKILL the agent of n3 (its muster run)")
        nodes[2].signal(signal.SIGKILL)
        nodes[2].wait()
        rcs = [n.wait() for n in nodes[:2]]
        self.check("n1 and n2 re-form as world 4 in epoch 2 and succeed, "
                   "with --max-restarts 0 (a lost node is not a user failure)")
        self.expect_eq(rcs, [0, 0], "exit status of n1, n2", *nodes)
        e = epochs(nodes[0].out)
        self.expect_eq(e.get(1), 6, "epoch 1 world", *nodes)
        self.expect_eq(e.get(2), 4, "epoch 2 world", *nodes)
        m = re.search(r"node n3 silent for (\d+) ms(?: \(limit (\d+) ms\)"
                      r"|(: its connection closed))", d.err)
        self.check("musterd declared n3 lost at once when its connection "
                   "closed, or by missed heartbeats at its configured limit "
                   "(600 ms by default; generous slack for a loaded machine: "
                   "this is a bound, not a timing)")
        self.expect(m is not None and (m.group(3) is not None
                                       or (int(m.group(2)) == 600
                                           and int(m.group(1)) < 5600)),
                    "NODE-LOST line (connection closed, or the default "
                    "limit)", d)
        self.assert_no_process_left(what="SIGKILL of n3", allow=[d])

    def test_below_min_waits_join_timeout_then_fails(self):
        d = self.musterd()
        w = self.write_script("w.sh", "#!/bin/sh\necho \"start rank=$RANK\"\nsleep 30\n")
        extra = ["--join-timeout", "2s", "--max-restarts", "0"]
        nodes = [self.node(d, "n%d" % i, [w], "2", 1, "fixed", extra=extra)
                 for i in (1, 2)]
        self.wait_for(lambda: all("start rank=" in n.out for n in nodes), 20,
                      "both nodes to run epoch 1")
        self.check("SIGKILL n2 of a fixed 2-node job: n1 says why its workers "
                   "stopped, waits with a countdown, then fails with the reason")
        nodes[1].signal(signal.SIGKILL)
        nodes[1].wait()
        rc = nodes[0].wait()
        err = nodes[0].err
        self.expect_eq(rc, 1, "n1 exit status", nodes[0], d)
        self.expect(re.search(r"epoch 1 stopped: node n2 lost \((heartbeats "
                              r"missed|its connection closed)\); re-forming "
                              r"the gang", err) is not None,
                    "n1 says the epoch stopped and why", nodes[0])
        self.expect(re.search(r"waiting for nodes 1/2 \(min 2\), gives up in "
                              r"\d+ s", err) is not None,
                    "n1 shows the wait for capacity with its bound", nodes[0])
        self.expect("failed: rendezvous timed out: 1 of at least 2 nodes "
                    "joined" in err, "the reason of the failure", nodes[0])
        self.assert_no_process_left(what="join timeout", allow=[d])

    def test_agent_joins_running_job(self):
        d = self.musterd()
        w = self.write_script("w.sh", WORKER)
        env = ["--max-restarts", "0"]
        n1 = self.node(d, "n1", [w], "1:2", 2, "grow", last_call="200ms",
                       extra=env)
        self.wait_for(lambda: "start rank=" in n1.out, 20, "n1 to run alone")
        self.check("a second node joins the running job (below max)")
        n2 = self.node(d, "n2", [w], "1:2", 2, "grow", last_call="200ms",
                       extra=env)
        rcs = [n1.wait(), n2.wait()]
        self.expect_eq(rcs, [0, 0], "exit status", n1, n2)
        self.check("epoch 1 had world 2, epoch 2 world 4 with both nodes")
        e = epochs(n1.out)
        self.expect_eq(e.get(1), 2, "epoch 1 world", n1)
        self.expect_eq(e.get(2), 4, "epoch 2 world", n1)
        self.expect(re.search(r"world=4 epoch=2 node=n2", n2.out) is not None,
                    "n2 runs in epoch 2", n2)

    def test_newcomer_waits_when_full(self):
        d = self.musterd()
        w = self.write_script("w.sh", WORKER)
        n1 = self.node(d, "n1", [w], "1:1", 1, "full", extra=["--max-restarts", "0"])
        self.wait_for(lambda: "start rank=" in n1.out, 20, "n1 to run")
        n2 = self.node(d, "n2", [w], "1:1", 1, "full")
        self.wait_for(lambda: "waiting for a place" in n2.err, 20,
                      "n2 to be told the job is full")
        self.check("the job at max is not interrupted: n1 finishes epoch 1")
        self.expect_eq(n1.wait(), 0, "n1 exit status", n1, n2)
        self.expect_eq(list(epochs(n1.out)), [1], "n1 epochs", n1)
        self.check("the newcomer leaves with the job's status and says it "
                   "ran nothing")
        self.expect_eq(n2.wait(), 0, "n2 exit status", n2)
        self.expect("this node ran no worker" in n2.err, "n2 says so", n2)
        self.expect("start rank=" not in n2.out, "n2 ran nothing", n2)

    def test_flapping_node_cordoned(self):
        d = self.musterd()
        w = self.write_script("w.sh", """#!/bin/sh
echo "start rank=$RANK world=$WORLD_SIZE epoch=$MUSTER_EPOCH node=$MUSTER_NODE_ID"
if [ "$MUSTER_NODE_ID" = n3 ]; then echo "bad disk on n3" >&2; exit 1; fi
sleep 1.5
""")
        extra = ["--max-restarts", "10"]
        nodes = [self.node(d, "n%d" % i, [w], "2:3", 1, "flap",
                           last_call="20s", extra=extra) for i in (1, 2, 3)]
        rcs = [n.wait() for n in nodes[:2]]
        self.check("n3 fails 3 times: cordoned; n1 and n2 finish the job")
        self.expect_eq(rcs, [0, 0], "exit status of n1, n2", d, *nodes)
        self.expect("node n3 failed 3 times" in d.err, "NODE-CORDONED", d)
        last = max(epochs(nodes[0].out))
        self.expect_eq(epochs(nodes[0].out)[last], 2,
                       "the last epoch runs without n3", *nodes)
        nodes[2].stop()


if __name__ == "__main__":
    main()
