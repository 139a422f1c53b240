#!/usr/bin/python3
"""Scenario 25 — a stalled or vanished coordinator stops nothing.

  * musterd SIGSTOPped for 3 s in the middle of a job: every agent loses
    it, registers again saying what it runs, and is kept in its epoch: no
    restart, no rollback (epoch 1, restarts 0), the job succeeds;
  * the same with the coordinator embedded in one of three identical
    `muster run` commands (the issue's reproduction), SIGSTOPped 1.5 s;
  * a member that comes back on a new connection is kept in its epoch and
    the exits it reports that musterd missed are replayed; one that claims
    other ranks is fenced (job.stop of its epoch);
  * a member that registers again after its job finished is told the
    job's outcome (job.done): a finished job never becomes a new one
    (the CI failure of scenario 24);
  * musterd killed and not restarted: each launcher reports the true
    outcome of its own workers after the outage window (exit 0 when they
    all exited 0, their code otherwise) and says the coordinator was lost;
    workers still running when the window ends are killed.
"""
import os
import re
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import (MusterCase, bin_path, have_pyzmq, ctl_call, enroll_node_key, free_port,  # noqa: E402
                     main, mp_pack, mp_unpack, worker_lines)

WORKER = """#!/bin/sh
echo "start rank=$RANK epoch=$MUSTER_EPOCH"
sleep "${HOLD:-4}"
echo "finish rank=$RANK epoch=$MUSTER_EPOCH"
exit "${CODE:-0}"
"""


def job_info(d, job):
    st = ctl_call(d.ctl_ep, {"t": "ctl.status", "job": job}) or {}
    return (st.get("jobs") or [{}])[0]


class Reconnect(MusterCase):
    def started(self, nodes):
        self.wait_for(lambda: all("start rank=" in n.out for n in nodes),
                      30, "every node to run epoch 1")

    def test_musterd_stopped_no_restart(self):
        d = self.musterd()
        w = self.write_script("w.sh", WORKER)
        nodes = [self.node(d, "n%d" % i, [w], 3, 1, "stall", last_call="20s",
                           extra=["--max-restarts", "0"])
                 for i in range(1, 4)]
        self.started(nodes)
        self.check("SIGSTOP musterd for 3 s while the workers run, then SIGCONT")
        d.signal(signal.SIGSTOP)
        time.sleep(3)
        d.signal(signal.SIGCONT)
        rcs = [n.wait() for n in nodes]
        self.check("every node exits 0; each rank ran once, in epoch 1 only")
        self.expect_eq(rcs, [0, 0, 0], "exit status", d, *nodes)
        for n in nodes:
            self.expect("epoch=2" not in n.out, "a second epoch ran", n)
        self.expect(any("COORD-LOST" in n.err for n in nodes),
                    "the agents noticed the stall (else this tests nothing)",
                    *nodes)
        self.check("musterd reconciled the returning members: no node lost, "
                   "no re-registration counted as a loss, no recovery")
        self.expect("NODE-RECONCILED" in d.err, "NODE-RECONCILED logged", d)
        for bad in ("NODE-REREGISTER", "NODE-LOST", "JOB-RECOVER"):
            self.expect(bad not in d.err, "%s in musterd's log" % bad, d)
        self.check("muster status: succeeded in epoch 1 with 0 restarts")
        st = self.run_muster(["status", "--endpoint", d.ctl_ep], timeout=20)
        self.expect_eq(st.rc, 0, "muster status exit", st)
        row = [l.split() for l in st.out.splitlines() if l.startswith("stall ")]
        self.expect(len(row) == 1, "no row for stall", st)
        # JOB STATE EPOCH WORLD NODES RESTARTS ...
        self.expect_eq([row[0][1], row[0][2], row[0][5]], ["succeeded", "1", "0"],
                       "state, epoch, restarts", st, d)

    def test_libmuster_calls_delayed(self):
        d = self.musterd()
        w = self.write_script("w.sh", "#!/bin/sh\necho \"start rank=$RANK\"\n"
                              "sleep 1.5\nexec %s\n" % bin_path("hello_gang"))
        nodes = [self.node(d, "n%d" % i, [w], 2, 2, "kvstall", last_call="20s",
                           extra=["--max-restarts", "0"])
                 for i in (1, 2)]
        self.started(nodes)
        self.check("SIGSTOP musterd for 3 s just before the workers' kv.put, "
                   "kv.get and barrier: the calls wait, then succeed")
        d.signal(signal.SIGSTOP)
        time.sleep(3)
        d.signal(signal.SIGCONT)
        rcs = [n.wait() for n in nodes]
        self.expect_eq(rcs, [0, 0], "exit status", d, *nodes)
        passed = sum(n.out.count("passed the barrier") for n in nodes)
        self.expect_eq(passed, 4, "workers past the barrier", *nodes)
        self.expect("epoch 2" not in "".join(n.err for n in nodes),
                    "a second epoch ran", *nodes)

    def test_embedded_host_stopped(self):
        ep = "127.0.0.1:%d" % free_port()
        w = self.write_script("w.sh", WORKER)
        args = ["--rdzv-endpoint", ep, "--nnodes", "3", "--nproc-per-node", "1",
                "--rdzv-id", "same", "--connect-timeout", "30s", "--", w]
        nodes = [self.muster_run(args, name="n%d" % i, env_extra={"HOLD": "3"})
                 for i in range(3)]
        self.started(nodes)
        host = [n for n in nodes if "hosting job same" in n.err]
        self.expect_eq(len(host), 1, "hosting nodes", *nodes)
        self.check("SIGSTOP the hosting launcher (coordinator and agent) for "
                   "1.5 s: no node lost, no restart, every rank once")
        host[0].signal(signal.SIGSTOP)
        time.sleep(1.5)
        host[0].signal(signal.SIGCONT)
        rcs = [n.wait() for n in nodes]
        self.expect_eq(rcs, [0, 0, 0], "exit status", *nodes)
        seen = []
        for n in nodes:
            self.expect("lost" not in n.err.replace("COORD-LOST", ""),
                        "a node was declared lost", n)
            self.expect("stopped" not in n.err, "an epoch was stopped", n)
            for r, lines in worker_lines(n.out, "worker").items():
                starts = [l for l in lines if l.startswith("start")]
                seen += [r] * len(starts)
                self.expect(all("epoch=1" in l for l in starts),
                            "rank %d ran in another epoch" % r, n)
        self.expect_eq(sorted(seen), [0, 1, 2], "ranks started", *nodes)

    def test_finished_job_answers_done(self):
        if not have_pyzmq():
            self.skipTest("sends raw messages: needs python3-zmq")
        import zmq
        d = self.musterd()
        p = self.node(d, "n1", ["true"], 1, 1, "fin", last_call="0")
        self.expect_eq(p.wait(), 0, "exit status", p, d)
        self.check("a member of the finished job registers again with its "
                   "epoch: job.done (succeeded), and no new job")
        key = enroll_node_key(d, "late")
        spec = {"id": "fin", "argv": ["true"],
                "roles": [{"name": "worker", "min_nodes": 1, "max_nodes": 1,
                           "nproc": 1}]}
        reg = {"v": 1, "t": "agent.register", "node_id": "late",
               "host": "127.0.0.1", "slots": 1, "job": spec, "epoch": 1,
               "workers": [{"rank": 0, "pid": 4242, "state": "exited",
                            "exit_code": 0, "exit_seq": 1}]}
        ctx = zmq.Context()
        s = ctx.socket(zmq.DEALER)
        s.setsockopt(zmq.LINGER, 0)
        s.curve_serverkey, s.curve_publickey, s.curve_secretkey = key
        s.connect(d.agent_ep)
        try:
            s.send(mp_pack(reg))
            self.expect(s.poll(5000), "no answer to the registration", d)
            ans = mp_unpack(s.recv())
            self.expect(ans.get("t") == "job.done"
                        and ans.get("state") == "succeeded"
                        and ans.get("exit_code") == 0,
                        "answer %r" % ans, d)
            self.expect_eq(job_info(d, "fin").get("state"), "succeeded",
                           "state of fin afterwards", d)
            self.check("control: the same registration without an epoch "
                       "(a fresh run) does start the id again")
            del reg["epoch"]
            del reg["workers"]
            reg["node_id"] = "fresh"
            s.send(mp_pack(reg))
            self.expect(s.poll(5000), "no answer to the fresh registration", d)
            ans = mp_unpack(s.recv())
            self.expect_eq(ans.get("t"), "agent.welcome", "answer", d)
            self.wait_for(lambda: job_info(d, "fin").get("state")
                          in ("rendezvous", "running"), 10,
                          "fin to start again")
        finally:
            s.close(0)
            ctx.term()

    def test_reconnect_replays_exits(self):
        if not have_pyzmq():
            self.skipTest("sends raw messages: needs python3-zmq")
        import zmq
        d = self.musterd()
        key = enroll_node_key(d, "raw")
        ctx = zmq.Context()
        socks = []

        def dealer():
            s = ctx.socket(zmq.DEALER)
            s.setsockopt(zmq.LINGER, 0)
            s.curve_serverkey, s.curve_publickey, s.curve_secretkey = key
            s.connect(d.agent_ep)
            socks.append(s)
            return s

        def recv_until(s, pred, what):
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                if s.poll(200):
                    m = mp_unpack(s.recv())
                    if pred(m):
                        return m
            self.fail("no %s from musterd\n%s" % (what, self.describe()))

        spec = {"id": "replay", "argv": ["true"], "last_call_ms": 0,
                "roles": [{"name": "worker", "min_nodes": 1, "max_nodes": 1,
                           "nproc": 2}]}
        reg = {"v": 1, "t": "agent.register", "node_id": "raw",
               "host": "127.0.0.1", "slots": 2, "job": spec}
        try:
            first = dealer()
            first.send(mp_pack(reg))
            recv_until(first, lambda m: m.get("t") == "job.start"
                       and m.get("epoch") == 1, "job.start of epoch 1")
            self.check("the node comes back on a new connection saying both "
                       "its workers exited 0 while it was cut off (reports "
                       "musterd never got): kept in epoch 1, the exits "
                       "replayed, the job succeeds with no restart")
            back = dealer()
            back.send(mp_pack(dict(reg, epoch=1, workers=[
                {"rank": 0, "pid": 11, "state": "exited", "exit_code": 0,
                 "exit_seq": 2},
                {"rank": 1, "pid": 12, "state": "exited", "exit_code": 0,
                 "exit_seq": 1}])))
            recv_until(back, lambda m: m.get("t") == "agent.welcome",
                       "agent.welcome on the new connection")
            done = recv_until(back, lambda m: m.get("t") == "job.done",
                              "job.done on the new connection")
            self.expect_eq(done.get("state"), "succeeded", "outcome", d)
            info = job_info(d, "replay")
            self.expect_eq((info.get("state"), info.get("epoch"),
                            info.get("restarts", 0)), ("succeeded", 1, 0),
                           "state, epoch, restarts", d)
            self.expect("EXIT-REPLAYED" in d.err or "NODE-RECONCILED" in d.err,
                        "musterd reconciled", d)
        finally:
            for s in socks:
                s.close(0)
            ctx.term()

    def test_reconnect_other_ranks_fenced(self):
        if not have_pyzmq():
            self.skipTest("sends raw messages: needs python3-zmq")
        import zmq
        d = self.musterd()
        key = enroll_node_key(d, "raw")
        ctx = zmq.Context()
        s = ctx.socket(zmq.DEALER)
        s.setsockopt(zmq.LINGER, 0)
        s.curve_serverkey, s.curve_publickey, s.curve_secretkey = key
        s.connect(d.agent_ep)
        spec = {"id": "other", "argv": ["true"], "last_call_ms": 0,
                "roles": [{"name": "worker", "min_nodes": 1, "max_nodes": 1,
                           "nproc": 1}]}
        reg = {"v": 1, "t": "agent.register", "node_id": "raw",
               "host": "127.0.0.1", "slots": 1, "job": spec}
        try:
            s.send(mp_pack(reg))
            deadline = time.monotonic() + 10
            started = False
            while not started and time.monotonic() < deadline:
                if s.poll(200):
                    m = mp_unpack(s.recv())
                    started = m.get("t") == "job.start"
            self.expect(started, "no job.start", d)
            self.check("the node registers again claiming rank 5 of epoch 1 "
                       "(it runs rank 0): its workers are stopped (job.stop "
                       "of epoch 1) and it is handled as a new node")
            s.send(mp_pack(dict(reg, epoch=1, workers=[
                {"rank": 5, "pid": 11, "state": "running"}])))
            stop = None
            deadline = time.monotonic() + 10
            while stop is None and time.monotonic() < deadline:
                if s.poll(200):
                    m = mp_unpack(s.recv())
                    if m.get("t") == "job.stop":
                        stop = m
            self.expect(stop is not None and stop.get("epoch") == 1
                        and "is over" in (stop.get("reason") or ""),
                        "job.stop %r" % stop, d)
            self.expect("NODE-FENCED" in d.err, "NODE-FENCED logged", d)
        finally:
            s.close(0)
            ctx.term()

    def test_musterd_killed_workers_finish(self):
        d = self.musterd()
        w = self.write_script("w.sh", WORKER)
        nodes = []
        for i, code in ((1, "0"), (2, "3")):
            rdzv = d.rdzv
            args = ["--rdzv-endpoint", rdzv, "--nnodes", "2", "--nproc-per-node",
                    "1", "--rdzv-id", "gone", "--node-id", "n%d" % i,
                    "--last-call", "20s", "--outage-window", "3s", "--", w]
            nodes.append(self.muster_run(args, name="n%d" % i,
                                         env_extra={"HOLD": "2", "CODE": code}))
        self.started(nodes)
        self.check("kill -9 musterd and do not restart it; the workers finish "
                   "(n1's with 0, n2's with 3)")
        d.kill()
        rcs = [n.wait() for n in nodes]
        self.expect_eq(rcs, [0, 3], "exit status of n1, n2", *nodes)
        for n in nodes:
            self.expect("finish rank=" in n.out, "the worker finished", n)
            self.expect(re.search(r"coordinator at \S+ was lost", n.err)
                        is not None, "the launcher says the coordinator was "
                        "lost", n)
            self.expect("cannot reach the coordinator" not in n.err,
                        "reported as unreachable instead", n)
        self.expect("all 1 worker(s) of this node exited 0" in nodes[0].err,
                    "n1's outcome", nodes[0])
        self.expect("exited with code 3" in nodes[1].err, "n2's outcome",
                    nodes[1])

    def test_musterd_killed_outage_window_kills(self):
        d = self.musterd()
        w = self.write_script("w.sh", WORKER)
        p = self.node(d, "n1", [w], 1, 1, "long", last_call="0",
                      extra=["--outage-window", "2s"])
        self.started([p])
        self.check("kill -9 musterd while a worker runs longer than the 2 s "
                   "outage window: the worker is killed, the launcher fails "
                   "saying why")
        # The worker sleeps 4 s by default: longer than the window.
        d.kill()
        rc = p.wait()
        self.expect(rc != 0, "exit status %s" % rc, p)
        self.expect("FENCED" in p.err and "outage window" in p.err,
                    "the agent fenced its workers at the window", p)
        self.expect("finish rank=" not in p.out, "the worker ran to its end", p)
        self.assert_no_process_left(what="the outage window", allow=[d])


if __name__ == "__main__":
    main()
