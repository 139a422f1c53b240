#!/usr/bin/python3
"""Scenario 13 — restart mode: a crashed worker restarts the whole gang in a
new epoch with the same world; the restart budget belongs to the job and,
once spent, the job fails with the root cause; a hung worker (no progress
for --progress-timeout) is killed and restarted; stale-epoch requests are
refused."""
import os
import re
import signal
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import (MusterCase, bin_path, have_pyzmq, main,  # noqa: E402
                     worker_lines)


def starts(text):
    """{(epoch, rank): (pid, world)} from ckpt_train's start lines."""
    got = {}
    for m in re.finditer(r"\] rank (\d+) pid (\d+) epoch (\d+) world (\d+)", text):
        got[(int(m.group(3)), int(m.group(1)))] = (int(m.group(2)), int(m.group(4)))
    return got


class Restart(MusterCase):
    def test_kill9_worker_restarts_all(self):
        script = self.write_script("w.sh", """#!/bin/sh
echo "start rank=$RANK world=$WORLD_SIZE epoch=$MUSTER_EPOCH restart=$TORCHELASTIC_RESTART_COUNT muster_restart=$MUSTER_RESTART_COUNT"
if [ "$RANK" = 2 ] && [ "$TORCHELASTIC_RESTART_COUNT" = 0 ]; then
  sleep 0.2; kill -9 $$
fi
sleep 0.5
""")
        p = self.muster_run(["--nproc-per-node", "4", "--max-restarts", "2",
                             "--", script])
        rc = p.wait()
        self.check("kill -9 of rank 2: the gang restarts and then succeeds")
        self.expect_eq(rc, 0, "exit status", p)
        lines = [l for l in p.out.splitlines() if "start rank=" in l]
        first = [l for l in lines if "epoch=1 " in l]
        second = [l for l in lines if "epoch=2 " in l]
        self.check("every rank started once in epoch 1 and once in epoch 2")
        self.expect_eq(len(first), 4, "epoch-1 starts", p)
        self.expect_eq(len(second), 4, "epoch-2 starts", p)
        self.check("same world; restart counts went up for every rank")
        self.expect(all("world=4 " in l for l in lines), "world stays 4", p)
        self.expect(all("restart=1 muster_restart=1" in l for l in second),
                    "TORCHELASTIC_RESTART_COUNT and MUSTER_RESTART_COUNT are 1 "
                    "for every rank of epoch 2", p)

    def test_budget_exhausted_root_cause(self):
        marker = "fatal config error " + self.tag
        prog = ('if [ "$RANK" = 1 ]; then echo "%s" >&2; exit 5; fi; '
                'exec sleep 30' % marker)
        p = self.muster_run(["--nproc-per-node", "3", "--max-restarts", "2",
                             "--grace", "1s", "--", "sh", "-c", prog])
        rc = p.wait()
        self.check("a rank that always fails: 2 restarts, then the job fails "
                   "with its exit code")
        self.expect_eq(rc, 5, "exit status", p)
        self.expect_eq(p.err.count("(restarted)"), 2, "two restarts shown", p)
        self.check("the failure says the budget is spent and shows the root "
                   "cause once, with the stderr tail")
        self.expect("restart budget exhausted (2 of 2 used)" in p.err,
                    "budget message", p)
        self.expect_eq(p.err.count("root cause:"), 1, "root cause lines", p)
        self.expect("rank 1 on node local exited with code 5" in p.err,
                    "root cause names rank 1", p)
        self.expect("muster:   | " + marker in p.err, "stderr tail", p)

    def test_hung_worker_restarted(self):
        p = self.muster_run(["--nproc-per-node", "2", "--max-restarts", "1",
                             "--progress-timeout", "500ms", "--",
                             bin_path("ckpt_train"), "--steps", "500",
                             "--step-ms", "4"])
        got = self.wait_for(lambda: starts(p.out).get((1, 1)), 20,
                            "rank 1 to start")
        pid = got[0]
        self.check("SIGSTOP rank 1 (pid %d): it stops reporting progress" % pid)
        os.kill(pid, signal.SIGSTOP)
        rc = p.wait()
        self.check("the agent declares it hung, the gang restarts, the job "
                   "succeeds")
        self.expect_eq(rc, 0, "exit status", p)
        self.expect("WORKER-HUNG rank 1" in p.err, "hang reported", p)
        s = starts(p.out)
        self.expect((2, 0) in s and (2, 1) in s, "epoch 2 started both ranks", p)
        self.expect(s[(2, 1)][0] != pid, "rank 1 is a new process", p)

    def test_stale_epoch_rejected(self):
        if not have_pyzmq():
            self.skipTest("python3-zmq is not installed")
        import zmq  # noqa: E402
        d = self.musterd(extra=["--heartbeat", "100ms"])
        n = self.node(d, "n1", ["sleep", "30"], 1, 1, "stale")
        self.wait_for(lambda: "epoch 1" in n.err, 20, "the job to start")
        # A fake agent registers for the same job: it is the second node of
        # a 1-node job, so it waits; its requests name an old epoch.
        from harness import curve_socket, enroll_node_key, mp_pack, mp_unpack  # noqa: E402
        ctx = zmq.Context()
        s = curve_socket(ctx, zmq.DEALER, enroll_node_key(d, "fake"))
        s.connect(d.agent_ep)
        try:
            spec = {"id": "stale", "argv": ["sleep", "30"],
                    "roles": [{"name": "worker", "min_nodes": 1,
                               "max_nodes": 1, "nproc": 1}]}
            s.send(mp_pack({"v": 1, "t": "agent.register", "node_id": "fake",
                            "host": "127.0.0.1", "slots": 1, "job": spec}))
            self.check("a node of the job (waiting: the job is at max) sends "
                       "kv.put for epoch 0 while the job is in epoch 1")
            s.send(mp_pack({"v": 1, "t": "kv.put", "job": "stale", "epoch": 0,
                            "rank": 0, "req_id": 7, "key": "k",
                            "value": b"x"}))
            answers = []
            poller = zmq.Poller()
            poller.register(s, zmq.POLLIN)
            while len(answers) < 3 and poller.poll(2000):
                answers.append(mp_unpack(s.recv()))
            replies = [a for a in answers if a.get("t") == "reply"]
            self.expect(replies and replies[0]["status"] == -10005,
                        "reply with MUSTER_ESTALE_EPOCH (-10005), got %r"
                        % answers, d, n)
        finally:
            s.close()
            ctx.term()
        n.stop()


if __name__ == "__main__":
    main()
