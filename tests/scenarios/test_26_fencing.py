#!/usr/bin/python3
"""Scenario 26 — fencing and failure attribution.

  * an agent SIGSTOPped past its lease: musterd declares the node lost and
    re-forms the gang; on SIGCONT the agent kills its old workers at once
    (they never run to their end) instead of training on beside their
    replacements, and the job finishes;
  * a 2-node job (--nnodes 1:2) whose peer launcher is SIGKILLed: the
    survivor's worker fails at once (its peer's connection reset), but the
    root cause is the lost node, charged to the infrastructure budget: with
    --max-restarts 0 the job re-forms on the survivor and succeeds;
  * a node whose connection closes (its launcher SIGKILLed) is declared
    lost at once, not after missed heartbeats;
  * reports of an epoch that is over are refused: worker.state and kv.put
    naming an older epoch are answered MUSTER_ESTALE_EPOCH;
  * heartbeats over UDP (decision 90): the SIGSTOP case above with the
    agents' heartbeats on UDP (the default) and with the ZeroMQ fallback
    (MUSTER_HEARTBEAT=zmq); a raw node's datagrams: a good ping is answered
    with a pong tagged with the node's secret, a replayed, forged or
    malformed one is dropped unanswered and counted by why
    (muster_heartbeat_datagrams_dropped_total), and a node whose only
    heartbeats are forged is declared lost.
"""
import os
import re
import signal
import socket
import struct
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import (MusterCase, have_pyzmq, ctl_call, enroll_node_key, main,  # noqa: E402
                     mp_pack, mp_unpack)

ESTALE_EPOCH = -10005

STEPPER = """#!/bin/sh
echo "start rank=$RANK epoch=$MUSTER_EPOCH node=$MUSTER_NODE_ID pid=$$"
i=0
while [ $i -lt "${STEPS:-16}" ]; do sleep 0.25; i=$((i+1)); done
echo "finish rank=$RANK epoch=$MUSTER_EPOCH node=$MUSTER_NODE_ID"
"""

# Both ranks hold a TCP connection to each other (rank 0 listens on
# MASTER_PORT); when the peer dies the survivor's read fails and it exits 1,
# as a collective would.  Alone (world 1) it just succeeds.
PEERS = r"""
import os, socket, sys, time
rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
print("start rank=%d world=%d epoch=%s node=%s pid=%d" % (rank, world, os.environ["MUSTER_EPOCH"], os.environ["MUSTER_NODE_ID"], os.getpid()), flush=True)
if world == 1:
    time.sleep(0.5)
    sys.exit(0)
addr = (os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"]))
if rank == 0:
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(addr)
    srv.listen(1)
    conn, _ = srv.accept()
else:
    for _ in range(200):
        try:
            conn = socket.create_connection(addr)
            break
        except OSError:
            time.sleep(0.05)
print("connected rank=%d" % rank, flush=True)
try:
    data = conn.recv(1)
except OSError as e:
    data = b""
print("peer lost rank=%d" % rank, file=sys.stderr, flush=True)
sys.exit(1)
"""


def still_runs(pid, what):
    try:
        with open("/proc/%s/cmdline" % pid, "rb") as f:
            return what.encode() in f.read()
    except OSError:
        return False


def job_info(d, job):
    st = ctl_call(d.ctl_ep, {"t": "ctl.status", "job": job}) or {}
    return (st.get("jobs") or [{}])[0]


def siphash24(key, data):
    """SipHash-2-4 (common/hb_wire.c), for the datagrams a raw node sends."""
    mask = (1 << 64) - 1

    def rotl(x, b):
        return ((x << b) | (x >> (64 - b))) & mask
    k0, k1 = struct.unpack("<QQ", key)
    v = [0x736f6d6570736575 ^ k0, 0x646f72616e646f6d ^ k1,
         0x6c7967656e657261 ^ k0, 0x7465646279746573 ^ k1]

    def rnd():
        v[0] = (v[0] + v[1]) & mask; v[1] = rotl(v[1], 13); v[1] ^= v[0]
        v[0] = rotl(v[0], 32)
        v[2] = (v[2] + v[3]) & mask; v[3] = rotl(v[3], 16); v[3] ^= v[2]
        v[0] = (v[0] + v[3]) & mask; v[3] = rotl(v[3], 21); v[3] ^= v[0]
        v[2] = (v[2] + v[1]) & mask; v[1] = rotl(v[1], 17); v[1] ^= v[2]
        v[2] = rotl(v[2], 32)
    whole = len(data) - len(data) % 8
    for i in range(0, whole, 8):
        m = struct.unpack("<Q", data[i:i + 8])[0]
        v[3] ^= m; rnd(); rnd(); v[0] ^= m
    b = (len(data) & 0xff) << 56
    for i, ch in enumerate(data[whole:]):
        b |= ch << (8 * i)
    v[3] ^= b; rnd(); rnd(); v[0] ^= b
    v[2] ^= 0xff
    for _ in range(4):
        rnd()
    return v[0] ^ v[1] ^ v[2] ^ v[3]


def hb_datagram(key, kind, slot, seq, term=0, value=0):
    body = b"MH" + bytes([1, kind]) + struct.pack("<IQQQ", slot, seq, term,
                                                  value)
    return body + struct.pack("<Q", siphash24(key, body))


def dropped_count(url, why):
    with urllib.request.urlopen(url, timeout=10) as r:
        text = r.read().decode()
    m = re.search(r'^muster_heartbeat_datagrams_dropped_total\{why="%s"\} '
                  r'(\S+)$' % why, text, re.M)
    return float(m.group(1)) if m else 0.0


class Fencing(MusterCase):
    def test_stopped_agent_fenced(self):
        """Heartbeats over UDP (the default)."""
        self.stopped_agent_fenced(udp=True)

    def test_stopped_agent_fenced_zmq_fallback(self):
        """Heartbeats over the agent port (MUSTER_HEARTBEAT=zmq)."""
        self.env["MUSTER_HEARTBEAT"] = "zmq"
        self.stopped_agent_fenced(udp=False)

    def stopped_agent_fenced(self, udp):
        d = self.musterd()
        w = self.write_script("w.sh", STEPPER)
        nodes = [self.node(d, "n%d" % i, [w], "2:3", 1, "fence",
                           last_call="20s", extra=["--max-restarts", "0",
                                                   "--log-level", "info"])
                 for i in range(1, 4)]
        self.wait_for(lambda: all("start rank=" in n.out for n in nodes), 30,
                      "every node to run epoch 1")
        if udp:
            self.check("every agent heartbeats over UDP")
            self.wait_for(lambda: all("HB-UDP heartbeats over UDP" in n.err
                                      for n in nodes), 20,
                          "every agent to say its heartbeats go over UDP")
        else:
            self.check("no agent heartbeats over UDP (MUSTER_HEARTBEAT=zmq)")
            self.expect(not any("HB-UDP heartbeats over UDP" in n.err
                                for n in nodes),
                        "an agent used UDP despite MUSTER_HEARTBEAT=zmq",
                        *nodes)
        victim = nodes[2]
        pid = re.search(r"start rank=\d+ epoch=1 node=n3 pid=(\d+)", victim.out)
        self.expect(pid is not None, "n3's worker pid", victim)
        self.check("SIGSTOP n3's launcher (its agent) for 3 s: musterd "
                   "declares n3 lost by missed heartbeats")
        victim.signal(signal.SIGSTOP)
        self.wait_for(lambda: "NODE-LOST node n3 silent for" in d.err, 20,
                      "musterd to declare n3 lost")
        time.sleep(max(0.0, 3.0 - 0.6))
        victim.signal(signal.SIGCONT)
        self.check("on SIGCONT n3's agent fences: its epoch-1 worker is killed "
                   "at once and never finishes; the job finishes (exit 0)")
        rcs = [n.wait() for n in nodes]
        self.expect_eq(rcs, [0, 0, 0], "exit status", d, *nodes)
        self.expect("FENCED" in victim.err and "longer than its lease"
                    in victim.err, "n3's agent fenced its workers", victim)
        self.expect(re.search(r"finish rank=\d+ epoch=1 node=n3", victim.out)
                    is None, "n3's epoch-1 worker ran to its end", victim)
        self.check("no rank finished twice in one epoch")
        fins = re.findall(r"finish rank=(\d+) epoch=(\d+)",
                          "".join(n.out for n in nodes))
        self.expect_eq(len(fins), len(set(fins)), "finish lines %r" % fins,
                       *nodes)
        self.expect(not still_runs(pid.group(1), "w.sh"),
                    "n3's old worker is still there", victim)

    def test_peer_killed_charged_to_loss(self):
        d = self.musterd()
        prog = ["/usr/bin/python3", self.write_script("peers.py", PEERS)]
        nodes = [self.node(d, "n%d" % i, prog, "1:2", 1, "peers",
                           last_call="20s", extra=["--max-restarts", "0"])
                 for i in (1, 2)]
        self.wait_for(lambda: all("connected rank=" in n.out for n in nodes),
                      30, "both ranks to connect")
        self.check("SIGKILL n2's launcher: n1's worker fails at once (peer "
                   "lost), yet the cause is n2's loss and no user restart is "
                   "charged (--max-restarts 0): the job re-forms on n1 and "
                   "succeeds")
        nodes[1].signal(signal.SIGKILL)
        nodes[1].wait()
        rc = nodes[0].wait()
        self.expect_eq(rc, 0, "n1's exit status", nodes[0], d)
        self.expect(re.search(r"epoch 1 stopped: node n2 lost", nodes[0].err)
                    is not None, "n1's report names n2's loss", nodes[0])
        self.check("musterd declared n2 lost when its connection closed "
                   "(socket monitor), not by waiting for missed heartbeats")
        self.expect(re.search(r"NODE-LOST node n2 silent for \d+ ms: its "
                              r"connection closed", d.err) is not None,
                    "NODE-LOST on the closed connection", d)
        self.expect("restart budget exhausted" not in nodes[0].err,
                    "the user's budget was charged", nodes[0], d)
        info = job_info(d, "peers")
        self.expect_eq((info.get("state"), info.get("restarts")),
                       ("succeeded", 1), "state and restarts", d)

    def test_failure_before_loss_attributed(self):
        d = self.musterd()
        prog = ["/usr/bin/python3", self.write_script("peers.py", PEERS)]
        nodes = [self.node(d, "n%d" % i, prog, "1:2", 1, "held",
                           last_call="20s", extra=["--max-restarts", "0"])
                 for i in (1, 2)]
        self.wait_for(lambda: all("connected rank=" in n.out for n in nodes),
                      30, "both ranks to connect")
        pid = re.search(r"node=n2 pid=(\d+)", nodes[1].out)
        self.expect(pid is not None, "n2's worker pid", nodes[1])
        self.check("n2's agent stops answering (SIGSTOP) and its worker dies: "
                   "n1's worker fails before n2 is declared lost; the failure "
                   "is held, then charged to n2's loss (--max-restarts 0: "
                   "the job re-forms on n1 and succeeds)")
        nodes[1].signal(signal.SIGSTOP)
        try:
            os.kill(int(pid.group(1)), signal.SIGKILL)
        except ProcessLookupError:
            pass
        rc = nodes[0].wait()
        nodes[1].signal(signal.SIGCONT)
        nodes[1].wait()
        self.expect_eq(rc, 0, "n1's exit status", nodes[0], d)
        self.expect("peer lost rank=" in nodes[0].err,
                    "n1's worker saw its peer go", nodes[0])
        self.expect("FAILURE-ATTRIBUTED" in d.err
                    and "charged to the loss" in d.err,
                    "musterd attributed the failure to the loss", d)
        self.expect(re.search(r"epoch 1 stopped: node n2 lost", nodes[0].err)
                    is not None, "n1's report names n2's loss", nodes[0])
        info = job_info(d, "held")
        self.expect_eq((info.get("state"), info.get("restarts")),
                       ("succeeded", 1), "state and restarts", d)

    def test_stale_epoch_refused(self):
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

        def recv_until(pred, what):
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                if s.poll(500):
                    m = mp_unpack(s.recv())
                    if pred(m):
                        return m
                    continue
                s.send(mp_pack({"v": 1, "t": "agent.heartbeat",
                                "node_id": "raw"}))
            self.fail("no %s from musterd\n%s" % (what, self.describe()))

        try:
            spec = {"id": "stale", "argv": ["true"], "last_call_ms": 0,
                    "roles": [{"name": "worker", "min_nodes": 1,
                               "max_nodes": 1, "nproc": 1}]}
            s.send(mp_pack({"v": 1, "t": "agent.register", "node_id": "raw",
                            "host": "127.0.0.1", "slots": 1, "job": spec}))
            recv_until(lambda m: m.get("t") == "job.start"
                       and m.get("epoch") == 1, "job.start of epoch 1")
            self.check("the raw node runs epoch 1; a kv.put of epoch 1 is "
                       "taken, one of epoch 0 is refused MUSTER_ESTALE_EPOCH")
            put = {"v": 1, "t": "kv.put", "job": "stale", "epoch": 1,
                   "rank": 0, "req_id": 1, "key": "k", "value": b"v"}
            s.send(mp_pack(put))
            rep = recv_until(lambda m: m.get("t") == "reply"
                             and m.get("req_id") == 1, "reply to kv.put")
            self.expect_eq(rep.get("status"), 0, "status of the current put", d)
            put.update(epoch=0, req_id=2)
            s.send(mp_pack(put))
            rep = recv_until(lambda m: m.get("t") == "reply"
                             and m.get("req_id") == 2, "reply to the stale put")
            self.expect_eq(rep.get("status"), ESTALE_EPOCH,
                           "status of the stale put", d)
            self.check("a worker.state of epoch 0 is refused the same way, "
                       "and changes nothing (the job still runs)")
            s.send(mp_pack({"v": 1, "t": "worker.state", "job": "stale",
                            "epoch": 0, "rank": 0, "state": "exited",
                            "exit_code": 1}))
            err = recv_until(lambda m: m.get("t") == "error",
                             "error for the stale worker.state")
            self.expect_eq((err.get("code"), err.get("in_reply_to")),
                           (ESTALE_EPOCH, "worker.state"), "error", d)
            self.expect_eq(job_info(d, "stale").get("state"), "running",
                           "state of the job", d)
        finally:
            s.close(0)
            ctx.term()

    def test_udp_heartbeat_datagrams(self):
        if not have_pyzmq():
            self.skipTest("sends raw messages: needs python3-zmq")
        import zmq
        d = self.musterd(extra=["--metrics-bind", "127.0.0.1:0"])
        url = None
        with open(d.endpoints_file) as f:
            for line in f:
                parts = line.split()
                if len(parts) == 2 and parts[0] == "metrics":
                    url = parts[1]
        self.expect(url is not None, "musterd's metrics URL", d)
        key = enroll_node_key(d, "raw")
        ctx = zmq.Context()
        s = ctx.socket(zmq.DEALER)
        s.setsockopt(zmq.LINGER, 0)
        s.curve_serverkey, s.curve_publickey, s.curve_secretkey = key
        s.connect(d.agent_ep)
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        stop = threading.Event()
        k = kt = None
        try:
            self.check("agent.welcome names the heartbeat port, the node's "
                       "slot and its secret")
            s.send(mp_pack({"v": 1, "t": "agent.register", "node_id": "raw",
                            "host": "127.0.0.1", "slots": 1}))
            self.expect(s.poll(10000), "no welcome", d)
            wel = mp_unpack(s.recv())
            self.expect_eq(wel.get("t"), "agent.welcome", "answer", d)
            port, slot = wel.get("hb_port"), wel.get("hb_slot", 0)
            secret = bytes.fromhex(wel.get("hb_key") or "")
            self.expect(port and len(secret) == 16,
                        "hb_port and hb_key in %r" % wel, d)
            u.connect(("127.0.0.1", port))
            u.settimeout(2.0)
            # The node must keep heartbeating while the bad datagrams are
            # judged: good pings from another socket (their pongs go there).
            lock = threading.Lock()
            seqs = [0]

            def next_seq():
                with lock:
                    seqs[0] += 1
                    return seqs[0]
            k = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            k.connect(("127.0.0.1", port))
            k.setblocking(False)

            def keepalive():
                while not stop.wait(0.1):
                    k.send(hb_datagram(secret, 1, slot, next_seq()))
                    try:
                        while k.recv(64):
                            pass
                    except OSError:
                        pass
            kt = threading.Thread(target=keepalive, daemon=True)

            self.check("a good ping is answered: a pong of the same seq "
                       "tagged with the node's secret")
            first = next_seq()
            ping = hb_datagram(secret, 1, slot, first)
            u.send(ping)
            pong = u.recv(64)
            kt.start()
            self.expect_eq(len(pong), 40, "pong length", d)
            self.expect_eq(pong[:4], b"MH\x01\x02", "pong header", d)
            self.expect_eq(struct.unpack("<IQ", pong[4:16]), (slot, first),
                           "pong slot and seq", d)
            self.expect_eq(struct.unpack("<Q", pong[32:])[0],
                           siphash24(secret, pong[:32]), "pong tag", d)

            def unanswered(dgram, why, before):
                u.send(dgram)
                u.settimeout(0.5)
                try:
                    got = u.recv(64)
                except socket.timeout:
                    got = None
                u.settimeout(2.0)
                self.expect(got is None, "%s datagram was answered" % why, d)
                self.wait_for(lambda: dropped_count(url, why) == before + 1,
                              10, "the %s datagram to be counted" % why)

            self.check("the same ping again (replayed): dropped, counted")
            unanswered(ping, "replayed", 0)
            self.check("a ping tagged with another key (forged): dropped, "
                       "counted")
            unanswered(hb_datagram(b"\x01" * 16, 1, slot, next_seq() + 100),
                       "forged", 0)
            self.check("a ping naming a slot nobody holds: dropped, counted")
            unanswered(hb_datagram(secret, 1, slot + 1000, next_seq()),
                       "unknown", 0)
            self.check("a short datagram: dropped, counted")
            unanswered(b"MH\x01\x01garbage", "malformed", 0)
            self.check("a later good ping is answered (nothing was spent)")
            good = next_seq()
            u.send(hb_datagram(secret, 1, slot, good))
            pong = u.recv(64)
            self.expect_eq(struct.unpack("<IQ", pong[4:16]), (slot, good),
                           "pong slot and seq", d)
            stop.set()
            kt.join()

            self.check("forged pings alone do not keep a node alive: "
                       "musterd declares it lost")
            forger = b"\x02" * 16
            deadline = time.monotonic() + 20
            seq = next_seq()
            while ("NODE-LOST node raw silent for" not in d.err
                   and time.monotonic() < deadline):
                u.send(hb_datagram(forger, 1, slot, seq))
                seq += 1
                time.sleep(0.05)
            self.expect("NODE-LOST node raw silent for" in d.err,
                        "musterd declared the forging node lost", d)
        finally:
            stop.set()
            if kt is not None and kt.is_alive():
                kt.join()
            if k is not None:
                k.close()
            u.close()
            s.close(0)
            ctx.term()


if __name__ == "__main__":
    main()
