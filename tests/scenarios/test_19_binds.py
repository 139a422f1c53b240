#!/usr/bin/python3
"""Scenario 19 — binds are honest: an address given is bound as given.
`muster run --host` at an address that is not this machine's fails at once
(exit 2, the address named) instead of listening on all interfaces; at
127.0.0.1 it listens on 127.0.0.1 only; musterd refuses a foreign
--agent-bind the same way; endpoints are accepted as HOST:PORT and as
tcp://HOST:PORT, and a malformed one is named with the expected form."""
import os
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import (MusterCase, bin_path, free_port, main,  # noqa: E402
                     worker_lines)

TEST_NET = "192.0.2.1"  # TEST-NET-1: documentation only, never assigned
LISTEN = "0A"           # TCP_LISTEN in /proc/net/tcp


def bindable(family, addr):
    """Whether the kernel lets us bind addr here (the ground truth)."""
    try:
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.bind((addr, 0))
        return True
    except OSError:
        return False


def listeners(lines, port):
    """Local addresses (hex, as in /proc/net/tcp{,6}) listening on port."""
    out = []
    for line in lines:
        f = line.split()
        if len(f) > 3 and ":" in f[1] and f[3] == LISTEN:
            addr, p = f[1].rsplit(":", 1)
            if int(p, 16) == port:
                out.append(addr)
    return out


# The worker shows the kernel's table of TCP sockets: the coordinator's
# listener is in it while the job runs.
SHOW_SOCKETS = ["sh", "-c", "cat /proc/net/tcp /proc/net/tcp6 2>/dev/null"]


class Binds(MusterCase):
    def test_host_at_foreign_address_fails(self):
        if bindable(socket.AF_INET, TEST_NET):
            self.skipTest("%s is an address of this machine" % TEST_NET)
        port = free_port()
        p = self.muster_run(["--host", "--rdzv-endpoint", "%s:%d" % (TEST_NET, port),
                             "--nproc-per-node", "2", "--", "true"])
        rc = p.wait(30)  # bound against a hang, not a timing assertion
        self.check("--host at %s: exit 2 before anything starts" % TEST_NET)
        self.expect_eq(rc, 2, "exit status", p)
        self.check("one line naming the address, saying it is not this machine's")
        self.expect("%s is not an address of this machine" % TEST_NET in p.err,
                    "message", p)
        self.expect("0.0.0.0" in p.err and "127.0.0.1" in p.err,
                    "the message lists the addresses here and the way out", p)
        self.expect_eq(len(p.err.strip().splitlines()), 1, "lines on stderr", p)
        self.expect_eq(worker_lines(p.out + p.err), {}, "worker output", p)

    def test_host_unresolvable_name_fails(self):
        port = free_port()
        p = self.muster_run(["--host", "--rdzv-endpoint",
                             "tcp://no-such-host.invalid:%d" % port, "--", "true"])
        rc = p.wait(30)
        self.check("--host at a name that does not resolve: exit 2, name given")
        self.expect_eq(rc, 2, "exit status", p)
        self.expect("no-such-host.invalid" in p.err, "name not in message", p)

    def test_host_at_loopback_listens_on_loopback_only(self):
        port = free_port()
        p = self.muster_run(["--host", "--rdzv-endpoint", "127.0.0.1:%d" % port,
                             "--"] + SHOW_SOCKETS)
        rc = p.wait()
        self.check("--host at 127.0.0.1 runs the job: exit 0")
        self.expect_eq(rc, 0, "exit status", p)
        lines = worker_lines(p.out, "worker").get(0, [])
        ls = listeners(lines, port)
        self.check("the coordinator listens on 127.0.0.1:%d only, not 0.0.0.0" % port)
        self.expect_eq(ls, ["0100007F"], "listeners on port %d" % port, p)
        self.check("the log says the bind is loopback only")
        self.expect("tcp://127.0.0.1:%d (loopback only)" % port in p.err,
                    "bind line", p)

    def test_host_tcp_form_and_all_interfaces(self):
        port = free_port()
        p = self.muster_run(["--host", "--rdzv-endpoint", "tcp://0.0.0.0:%d" % port,
                             "--"] + SHOW_SOCKETS)
        rc = p.wait()
        self.check("--host at tcp://0.0.0.0 (the tcp:// form) runs: exit 0")
        self.expect_eq(rc, 0, "exit status", p)
        ls = listeners(worker_lines(p.out, "worker").get(0, []), port)
        self.check("0.0.0.0 given explicitly: all interfaces, and the log says so")
        self.expect_eq(ls, ["00000000"], "listeners on port %d" % port, p)
        self.expect("(all interfaces)" in p.err, "bind line", p)

    def test_host_ipv6_loopback(self):
        if not bindable(socket.AF_INET6, "::1"):
            self.skipTest("no IPv6 loopback here")
        port = free_port()
        p = self.muster_run(["--host", "--rdzv-endpoint", "[::1]:%d" % port,
                             "--"] + SHOW_SOCKETS)
        rc = p.wait()
        self.check("--host at [::1]: exit 0, listening on ::1 only")
        self.expect_eq(rc, 0, "exit status", p)
        ls = listeners(worker_lines(p.out, "worker").get(0, []), port)
        self.expect_eq(ls, ["00000000000000000000000001000000"],
                       "listeners on port %d" % port, p)

    def test_bad_endpoint_named_with_hint(self):
        p = self.run_muster(["run", "--rdzv-endpoint", "node0", "--", "true"],
                            timeout=30)
        self.check("muster run --rdzv-endpoint node0: exit 2, the form expected")
        self.expect_eq(p.rc, 2, "exit status", p)
        self.expect("'node0'" in p.err
                    and "expected HOST:PORT or tcp://HOST:PORT" in p.err, "message", p)
        a = self.start("agent", [bin_path("muster-agent"), "--coordinator",
                                 "udp://h:1"])
        rc = a.wait(30)
        self.check("muster-agent --coordinator udp://h:1: exit 2, the form expected")
        self.expect_eq(rc, 2, "exit status", a)
        self.expect("expected HOST:PORT or tcp://HOST:PORT" in a.err, "message", a)
        s = self.run_muster(["status", "--endpoint", "127.0.0.1"], timeout=30)
        self.check("muster status --endpoint 127.0.0.1: exit 2, the form expected")
        self.expect_eq(s.rc, 2, "exit status", s)
        self.expect("expected HOST:PORT or tcp://HOST:PORT" in s.err, "message", s)

    def test_musterd_foreign_agent_bind(self):
        if bindable(socket.AF_INET, TEST_NET):
            self.skipTest("%s is an address of this machine" % TEST_NET)
        d = self.start("musterd", [bin_path("musterd"), "--agent-bind",
                                   "tcp://%s:0" % TEST_NET,
                                   "--ctl-bind", "tcp://127.0.0.1:0"])
        rc = d.wait(30)
        self.check("musterd --agent-bind tcp://%s:0: exits non-zero, address named"
                   % TEST_NET)
        self.expect(rc not in (0, None), "exit status %r" % rc, d)
        self.expect("%s is not an address of this machine" % TEST_NET in d.err,
                    "message", d)

    def test_musterd_logs_binds(self):
        d = self.musterd()
        self.check("musterd logs each bound endpoint with its scope (BIND)")
        self.wait_for(lambda: "BIND control port" in d.err, 15, "the BIND lines")
        self.expect("BIND agent port %s (loopback only)" % d.agent_ep in d.err,
                    "agent BIND line", d)

    def test_agent_endpoint_forms(self):
        d = self.musterd()
        agents = []
        for i, ep in enumerate((d.agent_ep, d.rdzv)):  # tcp://H:P, then H:P
            agents.append(self.start("agent%d" % i, [
                bin_path("muster-agent"), "--coordinator", ep, "--slots", "1",
                "--node-id", "a%d" % i]))
        self.check("muster-agent --coordinator in both forms: both register")

        def registered():
            s = self.run_muster(["status", "--endpoint",
                                 d.ctl_ep.replace("tcp://", "")], timeout=20)
            return s.rc == 0 and "2 node(s) registered" in s.out
        self.wait_for(registered, 30, "both agents to register", interval=0.2)
        for a in agents:
            self.expect(a.running(), "agent exited", a)
            a.stop()


if __name__ == "__main__":
    main()
