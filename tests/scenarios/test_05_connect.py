#!/usr/bin/python3
"""Scenario 5 — reaching the coordinator: a node started before musterd
waits for it and runs; a node serving the coordinator itself (--host) and a
node joining it; an unreachable endpoint fails in bounded time, naming the
endpoint."""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import MusterCase, free_port, main, parse_kv_line, worker_lines  # noqa: E402

PROG = ["sh", "-c", 'echo "RANK=$RANK WORLD_SIZE=$WORLD_SIZE"']


class Connect(MusterCase):
    def test_agent_before_coordinator(self):
        port = free_port()
        n = self.muster_run(["--rdzv-endpoint", "127.0.0.1:%d" % port,
                             "--nproc-per-node", "2", "--rdzv-id", "early",
                             "--connect-timeout", "30s", "--"] + PROG, name="early")
        time.sleep(1.0)  # ordering only: the node is up before musterd
        self.check("the node keeps waiting while no coordinator is there")
        self.expect(n.running(), "the node gave up before musterd started", n)
        self.musterd(agent_bind="tcp://127.0.0.1:%d" % port)
        rc = n.wait()
        self.check("once musterd is up on that port the job runs: exit 0, ranks 0,1")
        self.expect_eq(rc, 0, "exit status", n)
        self.expect_eq(sorted(worker_lines(n.out, "worker")), [0, 1], "ranks", n)

    def test_host_serves_coordinator(self):
        port = free_port()
        ep = "127.0.0.1:%d" % port
        args = ["--nnodes", "2", "--nproc-per-node", "2", "--rdzv-id", "hosted",
                "--rdzv-endpoint", ep, "--connect-timeout", "30s"]
        h = self.muster_run(args + ["--host", "--node-id", "h0", "--"] + PROG,
                            name="host")
        j = self.muster_run(args + ["--node-id", "h1", "--"] + PROG, name="joiner")
        ranks = []
        for p in (h, j):
            rc = p.wait()
            self.check("%s exits 0" % p.name)
            self.expect_eq(rc, 0, "exit status of %s" % p.name, p)
            for r, ls in worker_lines(p.out, "worker").items():
                self.expect_eq(parse_kv_line(ls[0])["WORLD_SIZE"], "4", "world", p)
                ranks.append(r)
        self.check("--host served the coordinator and both nodes formed world 4")
        self.expect_eq(sorted(ranks), [0, 1, 2, 3], "ranks")

    def test_host_port_in_use(self):
        d = self.musterd()
        p = self.muster_run(["--rdzv-endpoint", d.rdzv, "--host", "--"] + PROG)
        rc = p.wait(30)
        self.check("--host on a port already taken (by musterd): exit 1, port named")
        self.expect_eq(rc, 1, "exit status", p)
        self.expect(str(d.agent_port) in p.err, "port not in the message", p)
        self.expect(d.running(), "musterd died", d)

    def test_unreachable_endpoint(self):
        port = free_port()
        ep = "127.0.0.1:%d" % port
        t0 = time.monotonic()
        p = self.muster_run(["--rdzv-endpoint", ep, "--connect-timeout", "1s",
                             "--nproc-per-node", "2", "--"] + PROG)
        rc = p.wait(30)  # bound against a hang, not a timing assertion
        self.check("nothing at %s, --connect-timeout 1s: exit 1 (took %.1f s)"
                   % (ep, time.monotonic() - t0))
        self.expect_eq(rc, 1, "exit status", p)
        self.check("the message names the endpoint")
        self.expect(ep in p.err, "endpoint %s not in stderr" % ep, p)
        self.expect_eq(worker_lines(p.out + p.err), {}, "worker output", p)


if __name__ == "__main__":
    main()
