#!/usr/bin/python3
"""Scenario 18 — LIMITS: musterd's resources stay bounded, per job and per
peer, under the floods that used to grow it or lock clients out.

  (a) a worker putting 15 MB values until it is refused gets MUSTER_EQUOTA
      after 4 puts (default --kv-max-bytes 64 MiB), the coordinator says
      KV-QUOTA with the limit and the usage, and musterd's peak RSS
      (VmHWM) stays under the limit + 64 MiB;
  (b) with kv-max-bytes = 1M (through --config) 100 kB puts are refused
      at the 11th, and a node of 1 slot may park 4 x 1 + 64 = 68 waiting
      kv.gets, the rest are refused at once with MUSTER_EQUOTA;
  (c) with a few thousand stalled TCP connections (connect, send nothing)
      on the agent and control ports, a control request still answers and
      musterd's RSS stays bounded; the connections are closed after.

Sizes are asserted, never times; every wait is bounded.  The worker is
tests/kv_flood.c (built next to the programs); without it the scenario is
skipped, saying so.  The control request goes through control_status()
alone, so moving it to another transport (CURVE, a Unix socket) is one
function."""
import os
import resource
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import (MusterCase, bin_path, ctl_call, main, parse_kv_line,  # noqa: E402
                     worker_lines, zmq_available)

KV_FLOOD = bin_path("kv_flood")
MiB = 1 << 20
DEFAULT_KV_MAX_BYTES = 64 * MiB   # coordinator/kv_quota.h
SLACK = 64 * MiB                  # allocator, ZeroMQ buffers, one message in flight
STALLED_PER_PORT = 2000
SANITIZED = os.environ.get("MUSTER_SANITIZED", "") in ("1", "ON", "TRUE", "true")


def proc_status_kib(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return None


def control_status(d, timeout=10.0):
    """One ctl.status request to musterd d; the decoded answer or None.
    The one place this scenario talks to the control port."""
    return ctl_call(d.ctl_ep, {"t": "ctl.status"}, timeout=timeout)


class Limits(MusterCase):
    def setUp(self):
        if not os.access(KV_FLOOD, os.X_OK):
            print("SKIPPED: limits scenario: %s is not built" % KV_FLOOD, flush=True)
            self.skipTest("kv_flood not built")
        super().setUp()

    def flood(self, d, node_id, args, job):
        p = self.node(d, node_id, [KV_FLOOD] + args, "1", 1, job)
        rc = p.wait()
        self.expect_eq(rc, 0, "exit status of %s" % node_id, p, d)
        lines = worker_lines(p.out).get(0, [])
        self.expect(len(lines) == 1, "one result line from rank 0, got %r" % lines, p)
        return p, lines[0]

    def check_rss(self, d, field, bound, what):
        kib = proc_status_kib(d.pid, field)
        self.check("musterd %s %.1f MiB <= %.1f MiB (%s)"
                   % (field, kib / 1024.0, bound / MiB, what))
        if SANITIZED:
            print("  (not asserted: sanitizer build)", flush=True)
            return
        self.expect(kib * 1024 <= bound, "musterd %s %d KiB over %d bytes"
                    % (field, kib, bound), d)

    def test_a_default_byte_quota(self):
        d = self.musterd()
        base = proc_status_kib(d.pid, "VmRSS") * 1024
        p, line = self.flood(d, "fa", ["puts", "15000000", "60"], "big")
        r = parse_kv_line(line)
        self.check("15 MB puts: 4 stored, the 5th refused with MUSTER_EQUOTA")
        self.expect_eq((r.get("ok"), r.get("name")), ("4", "MUSTER_EQUOTA"),
                       "puts before the refusal and its code (%s)" % line, p)
        self.expect_eq(r.get("code"), "-10024", "code", p)
        self.check("musterd said KV-QUOTA once, naming the limit and the usage")
        q = [x for x in d.err.splitlines() if "KV-QUOTA" in x]
        self.expect(len(q) == 1 and "job big: KV store holds 57.2 MiB in 4 keys"
                    in q[0] and "limit of 64 MiB (--kv-max-bytes)" in q[0],
                    "KV-QUOTA lines %r" % q, d)
        self.check_rss(d, "VmHWM", base + DEFAULT_KV_MAX_BYTES + SLACK,
                       "peak, KV limit + 64 MiB over the start")

    def test_b_small_quota_and_waiting_requests(self):
        conf = self.write_script("musterd.conf",
                                 "# limits for scenario 18\nkv-max-bytes = 1M\n",
                                 mode=0o644)
        d = self.musterd(extra=["--config", conf])
        p, line = self.flood(d, "fb", ["puts", "100000", "1000"], "small")
        r = parse_kv_line(line)
        self.check("1M quota, 100 kB puts: 10 stored, the 11th refused")
        self.expect_eq((r.get("ok"), r.get("name")), ("10", "MUSTER_EQUOTA"),
                       "puts before the refusal (%s)" % line, p)
        p, line = self.flood(d, "fw", ["waits", "200"], "waits")
        r = parse_kv_line(line)
        self.check("200 waiting gets on a 1-slot node: 68 parked, 132 refused")
        self.expect_eq((r.get("started"), r.get("refused"), r.get("name")),
                       ("200", "132", "MUSTER_EQUOTA"), "waits (%s)" % line, p)
        self.expect(any("KV-WAIT-QUOTA" in x for x in d.err.splitlines()),
                    "musterd said KV-WAIT-QUOTA", d)

    def test_c_stalled_connections(self):
        why = zmq_available()
        if why:
            print("SKIPPED: stalled connections: " + why, flush=True)
            self.skipTest(why)
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        n = STALLED_PER_PORT
        if soft < 2 * n + 256:
            want = min(hard, 2 * n + 256)
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
            n = max(1, (want - 256) // 2)
        d = self.musterd()
        self.check("musterd logged its descriptor limit")
        self.expect(any("FD-LIMIT" in x for x in d.err.splitlines()),
                    "FD-LIMIT line", d)
        base = proc_status_kib(d.pid, "VmRSS") * 1024
        ports = [d.agent_port, int(d.ctl_tcp_ep.rsplit(":", 1)[1])]
        conns = []
        try:
            for port in ports:
                for _ in range(n):
                    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                    conns.append(s)
                    s.settimeout(5.0)
                    s.connect(("127.0.0.1", port))
            self.check("%d stalled connections open (%d per port)" % (len(conns), n))
            rep = control_status(d, timeout=20.0)
            self.check("a control request still answers")
            self.expect(rep is not None and rep.get("t") == "ctl.status.reply",
                        "ctl.status answer: %r" % (rep,), d)
            self.check_rss(d, "VmRSS", base + SLACK,
                           "with the stalled connections, start + 64 MiB")
        finally:
            for s in conns:
                s.close()
        self.check("after closing them, a control request answers")
        self.expect(control_status(d) is not None, "ctl.status after", d)


if __name__ == "__main__":
    main()
