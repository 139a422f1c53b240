#!/usr/bin/python3
"""Scenario 56 — musterd serves its agent port itself (ZMTP 3 with CURVE,
common/zmtp_server.c) and unchanged libzmq agents use it.

  * a job on three `muster run` nodes and a pool agent, over CURVE, on the
    native port (the default) and on libzmq's ROUTER (--agent-transport
    zmq, the baseline): both succeed;
  * keys: a client with a key musterd does not know, and one that believes
    in another server key, get no answer (AUTH-DENIED for the first); an
    enrolled key is answered on the same port right after;
  * routes: a node that registered on one connection and is heard on a
    second one with the same key is moved to it (rebind by key); the first
    connection closing then loses nothing; the second closing loses the
    node at once ("its connection closed"); an agent killed with SIGKILL
    is lost the same way, and registers again when restarted;
  * a flood of stalled and garbage connections does not lock agents out:
    a new agent registers and a job runs during it; the stalled ones are
    dropped by the handshake timeout (CONN-HANDSHAKE-DROPPED).
"""
import os
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import (MusterCase, ctl_call, curve_socket, enroll_node_key,  # noqa: E402
                     have_pyzmq, main, mp_pack, mp_unpack)

WORKER = """#!/bin/sh
echo "rank=$RANK world=$WORLD_SIZE"
exit 0
"""


def nodes_alive(d):
    rep = ctl_call(d.ctl_ep, {"t": "ctl.nodes"}) or {}
    return {n.get("node_id"): n for n in (rep.get("nodes") or [])}


class NativeAgentPort(MusterCase):
    def run_job(self, d, job):
        w = self.write_script("w.sh", WORKER)
        nodes = [self.node(d, "%s-n%d" % (job, i), [w], 3, 2, job)
                 for i in range(3)]
        rcs = [n.wait() for n in nodes]
        self.expect_eq(rcs, [0, 0, 0], "exit status of the three nodes",
                       d, *nodes)
        ranks = sorted(l for n in nodes for l in n.out.splitlines()
                       if "rank=" in l)
        self.expect_eq(len(ranks), 6, "worker lines", *nodes)

    def test_a_jobs_over_curve_both_transports(self):
        d = self.musterd()
        self.check("musterd says its agent port is its own, with CURVE")
        self.expect("AGENT-PORT" in d.err and "CURVE" in d.err,
                    "AGENT-PORT ... CURVE logged", d)
        self.check("a 3-node job over the native port succeeds")
        self.run_job(d, "nat")
        self.check("a pool agent registers over it too")
        a = self.agent(d, "pool1", 2)
        self.wait_for(lambda: "pool1" in nodes_alive(d), 20,
                      "pool1 in ctl.nodes")
        a.stop()
        d.stop()
        z = self.musterd(name="musterd-zmq", extra=["--agent-transport", "zmq"])
        self.check("--agent-transport zmq: no AGENT-PORT line, the job runs")
        self.expect("AGENT-PORT" not in z.err, "no native port", z)
        self.run_job(z, "zmq")

    def test_b_keys(self):
        if not have_pyzmq():
            self.skipTest("needs pyzmq")
        import zmq
        d = self.musterd()
        reg = mp_pack({"v": 1, "t": "agent.heartbeat", "node_id": "ghost",
                       "seq": 1})
        ctx = zmq.Context()
        try:
            server = d.server_key.encode()
            stranger = zmq.curve_keypair()
            self.check("an unknown client key: no answer, AUTH-DENIED")
            s = curve_socket(ctx, zmq.DEALER, (server,) + stranger)
            s.connect(d.agent_ep)
            s.send(reg)
            self.expect(not s.poll(1500), "an answer to an unknown key", d)
            s.close(0)
            self.wait_for(lambda: "AUTH-DENIED" in d.err, 10, "AUTH-DENIED")
            self.check("a client that believes in another server key: no answer")
            other_pub, _ = zmq.curve_keypair()
            s = curve_socket(ctx, zmq.DEALER, (other_pub,) + stranger)
            s.connect(d.agent_ep)
            s.send(reg)
            self.expect(not s.poll(1500), "an answer under a wrong server key", d)
            s.close(0)
            self.check("an enrolled key is answered (unknown node: register first)")
            curve = enroll_node_key(d, "keyed")
            s = curve_socket(ctx, zmq.DEALER, curve)
            s.connect(d.agent_ep)
            s.send(reg)
            self.expect(s.poll(10000), "no answer to an enrolled key", d)
            ans = mp_unpack(s.recv())
            self.expect_eq(ans.get("t"), "error", "answer type (%r)" % ans, d)
            s.close(0)
        finally:
            ctx.term()

    def test_c_routes(self):
        if not have_pyzmq():
            self.skipTest("needs pyzmq")
        import zmq
        d = self.musterd(extra=["--heartbeat", "2s"])
        curve = enroll_node_key(d, "r1")
        ctx = zmq.Context()
        try:
            a = curve_socket(ctx, zmq.DEALER, curve)
            a.connect(d.agent_ep)
            a.send(mp_pack({"v": 1, "t": "agent.register", "node_id": "r1",
                            "host": "127.0.0.1", "slots": 1}))
            self.expect(a.poll(10000), "no answer to agent.register", d)
            self.expect_eq(mp_unpack(a.recv()).get("t"), "agent.welcome",
                           "register answer", d)
            self.check("the same key on a second connection: the node moves")
            b = curve_socket(ctx, zmq.DEALER, curve)
            b.connect(d.agent_ep)
            b.send(mp_pack({"v": 1, "t": "agent.heartbeat", "node_id": "r1",
                            "seq": 1}))
            self.expect(b.poll(10000), "no heartbeat answer on the second", d)
            self.expect_eq(mp_unpack(b.recv()).get("t"), "agent.heartbeat",
                           "heartbeat answer", d)
            self.check("the first connection closes: the node stays")
            a.close(0)
            time.sleep(1.0)
            self.expect("r1" in nodes_alive(d), "r1 lost with its old route", d)
            self.expect("NODE-LOST" not in d.err, "NODE-LOST for the old route", d)
            self.check("the second closes: the node is lost at once")
            b.close(0)
            self.wait_for(lambda: "r1" not in nodes_alive(d), 5,
                          "r1 to be lost")
            self.expect("its connection closed" in d.err,
                        "lost for its connection", d)
        finally:
            ctx.term()
        self.check("an agent killed with SIGKILL is lost, and registers again")
        p = self.agent(d, "k1", 1)
        self.wait_for(lambda: "k1" in nodes_alive(d), 20, "k1 registered")
        p.signal(signal.SIGKILL)
        p.wait()
        self.wait_for(lambda: "k1" not in nodes_alive(d), 5, "k1 lost")
        p2 = self.agent(d, "k1", 1)
        self.wait_for(lambda: "k1" in nodes_alive(d), 20, "k1 back")
        p2.stop()

    def test_d_flood(self):
        d = self.musterd()
        conns = []
        try:
            self.check("1000 stalled and 200 garbage connections")
            for i in range(1200):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                conns.append(s)
                s.settimeout(5.0)
                s.connect(("127.0.0.1", d.agent_port))
                if i >= 1000:
                    s.sendall(b"GET / HTTP/1.0\r\n\r\n" * 4)
            self.check("a job runs during the flood")
            self.run_job(d, "flood")
            self.check("the stalled ones are dropped by the handshake timeout")
            self.wait_for(lambda: "CONN-HANDSHAKE-DROPPED" in d.err, 20,
                          "CONN-HANDSHAKE-DROPPED")
            closed = 0
            for s in conns[:1000]:
                s.settimeout(10.0)
                try:
                    if s.recv(4096, socket.MSG_PEEK) == b"":
                        closed += 1
                    else:
                        # the greeting came first; closed after it
                        s.recv(4096)
                        closed += s.recv(1) == b""
                except OSError:
                    closed += 1
            self.expect_eq(closed, 1000, "stalled connections closed", d)
        finally:
            for s in conns:
                s.close()
        self.check("musterd still serves: a pool agent registers")
        a = self.agent(d, "after", 1)
        self.wait_for(lambda: "after" in nodes_alive(d), 20, "after registered")
        a.stop()


if __name__ == "__main__":
    main()
