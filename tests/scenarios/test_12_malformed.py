#!/usr/bin/python3
"""Scenario 12 — malformed messages to musterd's agent port and control
port, sent with a ZeroMQ DEALER by an authenticated peer (an enrolled node
key on the agent port, the local socket for control): every one is
answered with an "error" message (a negative code from <muster/error.h>
and a text), musterd keeps serving, and a normal job runs through it
afterwards.  What unauthenticated peers get (nothing) is scenario 20."""
import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import (MsgpackError, MusterCase, enroll_node_key, have_pyzmq,  # noqa: E402
                     main, mp_pack, mp_unpack, worker_lines, zmq_request)

# <muster/error.h>: code = -10000 - offset
EPROTO, EVERSION, ETYPE, ETOOBIG = -10001, -10002, -10003, -10004
BOUND = (EPROTO, ETOOBIG)  # a size over a bound: either is fair
ENOTFOUND, EINVAL = -10010, -10012


def raw_map(*pairs):
    """A msgpack map from already-packed (key, value) pairs (allows
    duplicate keys)."""
    return bytes([0x80 | len(pairs)]) + b"".join(k + v for k, v in pairs)


P = mp_pack
STATUS = P({"v": 1, "t": "ctl.status"})
NEST = 100000

# (name, frames, expected code, a tuple of acceptable codes, or None for
# "any negative code")
COMMON = [
    ("not msgpack", [b"\xff\xfe garbage \x00\x01"], EPROTO),
    ("empty frame", [b""], EPROTO),
    ("truncated map", [STATUS[:-3]], EPROTO),
    ("trailing bytes", [STATUS + b"\xc0"], None),
    ("map promising more entries", [b"\x85" + P("v") + P(1)], EPROTO),
    ("array, not a map", [P([1, "ctl.status"])], EPROTO),
    ("a bare integer", [P(7)], EPROTO),
    ("a string", [P("ctl.status")], EPROTO),
    ("nil", [b"\xc0"], EPROTO),
    ("no version", [P({"t": "ctl.status"})], None),
    ("no type", [P({"v": 1})], None),
    ("version 99", [P({"v": 99, "t": "ctl.status"})], EVERSION),
    ("version -1", [P({"v": -1, "t": "ctl.status"})], None),
    ("version as string", [P({"v": "1", "t": "ctl.status"})], None),
    ("unknown type", [P({"v": 1, "t": "no.such.message"})], ETYPE),
    ("type as integer", [P({"v": 1, "t": 12})], None),
    ("duplicate key", [raw_map((P("v"), P(1)), (P("t"), P("ctl.status")),
                               (P("t"), P("ctl.status")))], None),
    ("str32 claiming 4 GiB", [b"\x82" + P("v") + P(1) + P("t")
                              + b"\xdb\xff\xff\xff\xf0abc"], BOUND),
    ("array32 claiming 4 G entries", [b"\x83" + P("v") + P(1) + P("t") + P("ctl.status")
                                      + P("job") + b"\xdd\xff\xff\xff\xff"], BOUND),
    ("map32 claiming 4 G entries", [b"\xdf\xff\xff\xff\xff" + P("v") + P(1)], BOUND),
    ("%d nested arrays" % NEST, [b"\x83" + P("v") + P(1) + P("t") + P("ctl.status")
                                 + P("job") + b"\x91" * NEST + b"\xc0"], None),
    ("%d nested maps" % NEST, [b"\x83" + P("v") + P(1) + P("t") + P("ctl.status")
                               + P("job") + (b"\x81\xc0") * NEST + b"\xc0"], None),
    ("two body frames", [STATUS, STATUS], EPROTO),
    ("reserved byte 0xc1", [b"\x82" + P("v") + P(1) + P("t") + b"\xc1"], EPROTO),
    ("float version", [b"\x82" + P("v") + b"\xcb" + struct.pack(">d", 1.0)
                       + P("t") + P("ctl.status")], None),
    ("ext type", [b"\x82" + P("v") + P(1) + P("t") + b"\xd4\x01\x00"], EPROTO),
]

AGENT_ONLY = [
    ("heartbeat from an unregistered node",
     [P({"v": 1, "t": "agent.heartbeat", "node_id": "ghost"})], ENOTFOUND),
    ("register: slots missing",
     [P({"v": 1, "t": "agent.register", "node_id": "PROBE", "host": "127.0.0.1"})], None),
    ("register: slots as string",
     [P({"v": 1, "t": "agent.register", "node_id": "PROBE", "host": "127.0.0.1",
         "slots": "2"})], None),
    ("register: 0 slots",
     [P({"v": 1, "t": "agent.register", "node_id": "PROBE", "host": "127.0.0.1",
         "slots": 0})], EINVAL),
    ("register: job with no roles",
     [P({"v": 1, "t": "agent.register", "node_id": "PROBE", "host": "127.0.0.1",
         "slots": 1, "job": {"id": "bad", "roles": [], "argv": ["true"]}})], None),
    ("register: job with a bad id",
     [P({"v": 1, "t": "agent.register", "node_id": "PROBE", "host": "127.0.0.1",
         "slots": 1, "job": {"id": "../x", "roles": [{"name": "worker", "min_nodes": 1,
                                                      "max_nodes": 1, "nproc": 1}],
                             "argv": ["true"]}})], None),
    ("a control request on the agent port", [STATUS], None),
]

CTL_ONLY = [
    ("agent.register on the control port",
     [P({"v": 1, "t": "agent.register", "node_id": "PROBE", "host": "h", "slots": 1})],
     ETYPE),
    ("ctl.status with job as integer", [P({"v": 1, "t": "ctl.status", "job": 5})], EPROTO),
    ("ctl.status of an unknown job", [P({"v": 1, "t": "ctl.status", "job": "nope"})],
     ENOTFOUND),
    ("ctl.cancel of an unknown job", [P({"v": 1, "t": "ctl.cancel", "job": "nope"})],
     ENOTFOUND),
    ("ctl.submit without a job", [P({"v": 1, "t": "ctl.submit"})], EPROTO),
    ("ctl.submit: job with no roles",
     [P({"v": 1, "t": "ctl.submit", "job": {"id": "bad", "roles": [], "argv": ["true"]}})],
     EINVAL),
    ("ctl.submit: min > max",
     [P({"v": 1, "t": "ctl.submit", "job": {"id": "bad", "roles": [
         {"name": "worker", "min_nodes": 3, "max_nodes": 2, "nproc": 1}],
         "argv": ["true"]}})], EINVAL),
    ("ctl.submit: empty argv",
     [P({"v": 1, "t": "ctl.submit", "job": {"id": "bad", "roles": [
         {"name": "worker", "min_nodes": 1, "max_nodes": 1, "nproc": 1}], "argv": []}})],
     EINVAL),
]


class Malformed(MusterCase):
    def setUp(self):
        if not have_pyzmq():
            why = "python3-zmq is not installed (CURVE requests need it)"
            print("SKIPPED: " + why, flush=True)
            self.skipTest(why)
        super().setUp()

    def send_all(self, d, port, endpoint, cases, curve=None):
        for name, frames, want in cases:
            rep = zmq_request(endpoint, frames, timeout=5.0, curve=curve)
            self.check("%s port, %s: answered with an error%s" % (
                port, name, "" if want is None else " (code %s)" % (want,)))
            self.expect(rep is not None, "no answer to %r on the %s port" % (name, port), d)
            try:
                msg = mp_unpack(rep[-1])
            except MsgpackError as e:
                self.fail("answer to %r is not msgpack (%s): %r" % (name, e, rep))
            self.expect(isinstance(msg, dict) and msg.get("t") == "error",
                        "answer to %r: %r" % (name, msg), d)
            code = msg.get("code")
            self.expect(isinstance(code, int) and code < 0,
                        "code of the answer to %r: %r" % (name, msg), d)
            if want is not None:
                ok = code in want if isinstance(want, tuple) else code == want
                self.expect(ok, "code of the answer to %r (%r): got %r, want %r"
                            % (name, msg.get("message"), code, want), d)
            self.expect(isinstance(msg.get("message"), str) and msg["message"],
                        "no message in the answer to %r: %r" % (name, msg), d)
            self.expect(d.running(), "musterd died after %r" % name, d)

    def test_malformed_then_normal_job(self):
        d = self.musterd()
        key = enroll_node_key(d, "PROBE")
        self.send_all(d, "agent", d.agent_ep, COMMON + AGENT_ONLY, curve=key)
        self.send_all(d, "control", d.ctl_ep, COMMON + CTL_ONLY)
        self.check("musterd still runs and answers muster status")
        self.expect(d.running(), "musterd exited", d)
        st = self.run_muster(["status", "--endpoint", d.ctl_ep], timeout=20)
        self.expect_eq(st.rc, 0, "muster status exit", st, d)
        self.check("no job was created by the malformed requests")
        self.expect(not any(l.startswith(("bad ", "nope ")) for l in st.out.splitlines()),
                    "unexpected job", st)
        nodes = [self.node(d, "ok%d" % i, ["sh", "-c", "echo RANK=$RANK"], "2", 1,
                           "afterwards") for i in range(2)]
        ranks = []
        for n in nodes:
            self.check("a normal job afterwards: node %s exits 0" % n.name)
            self.expect_eq(n.wait(), 0, "exit status of %s" % n.name, n, d)
            ranks += list(worker_lines(n.out, "worker"))
        self.expect_eq(sorted(ranks), [0, 1], "ranks of the normal job")


if __name__ == "__main__":
    main()
