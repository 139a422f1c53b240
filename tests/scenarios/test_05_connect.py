#!/usr/bin/python3
"""Scenario 5 — reaching the coordinator: a node started before musterd
waits for it and runs; a node serving the coordinator itself (--host) and a
node joining it; an unreachable endpoint fails in bounded time, naming the
endpoint."""
import os
import secrets
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import MusterCase, free_port, main, parse_kv_line, worker_lines  # noqa: E402

PROG = ["sh", "-c", 'echo "RANK=$RANK WORLD_SIZE=$WORLD_SIZE"']


class Connect(MusterCase):
    def test_agent_before_coordinator(self):
        port = free_port()
        # The cluster's keys exist before this start of musterd (an earlier
        # start made them), as on any real cluster: the node has the token.
        first = self.musterd(name="first")
        state = first.state_dir
        first.stop()
        n = self.muster_run(["--rdzv-endpoint", "127.0.0.1:%d" % port,
                             "--nproc-per-node", "2", "--rdzv-id", "early",
                             "--join-token-file", first.token_file,
                             "--connect-timeout", "30s", "--"] + PROG, name="early")
        time.sleep(1.0)  # ordering only: the node is up before musterd
        self.check("the node keeps waiting while no coordinator is there")
        self.expect(n.running(), "the node gave up before musterd started", n)
        self.musterd(name="second", agent_bind="tcp://127.0.0.1:%d" % port,
                     state_dir=state)
        rc = n.wait()
        self.check("once musterd is up on that port the job runs: exit 0, ranks 0,1")
        self.expect_eq(rc, 0, "exit status", n)
        self.expect_eq(sorted(worker_lines(n.out, "worker")), [0, 1], "ranks", n)

    def test_host_serves_coordinator(self):
        port = free_port()
        ep = "127.0.0.1:%d" % port
        args = ["--nnodes", "2", "--nproc-per-node", "2", "--rdzv-id", "hosted",
                "--rdzv-endpoint", ep, "--connect-timeout", "30s"]
        tok = os.path.join(self.tmp, "job.token")
        h = self.muster_run(args + ["--host", "--node-id", "h0",
                                    "--join-token-file", tok, "--"] + PROG,
                            name="host")
        self.wait_for(lambda: os.path.exists(tok), 20,
                      "the host to write the job's join token")
        self.check("the join token file is the owner's only (0600)")
        self.expect_eq(os.stat(tok).st_mode & 0o777, 0o600, "token file mode", h)
        j = self.muster_run(args + ["--node-id", "h1", "--join-token-file", tok,
                                    "--"] + PROG, name="joiner")
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
        p = self.muster_run(["--rdzv-endpoint", d.rdzv, "--host",
                             "--connect-timeout", "2s", "--"] + PROG)
        rc = p.wait(30)
        self.check("--host on a port already taken (by musterd): it tries to "
                   "join what serves there, which does not know its job "
                   "secret: exit 1, port named")
        self.expect_eq(rc, 1, "exit status", p)
        self.expect(str(d.agent_port) in p.err, "port not in the message", p)
        self.expect(d.running(), "musterd died", d)

    def test_unreachable_endpoint(self):
        port = free_port()
        ep = "127.0.0.1:%d" % port
        t0 = time.monotonic()
        # A well-formed token of a coordinator that is not there.
        token = "mj1_" + secrets.token_hex(64)
        p = self.muster_run(["--rdzv-endpoint", ep, "--connect-timeout", "1s",
                             "--nproc-per-node", "2", "--"] + PROG,
                            env_extra={"MUSTER_JOIN_TOKEN": token})
        rc = p.wait(30)  # bound against a hang, not a timing assertion
        self.check("nothing at %s, --connect-timeout 1s: exit 1 (took %.1f s)"
                   % (ep, time.monotonic() - t0))
        self.expect_eq(rc, 1, "exit status", p)
        self.check("the message names the endpoint")
        self.expect(ep in p.err, "endpoint %s not in stderr" % ep, p)
        self.expect_eq(worker_lines(p.out + p.err), {}, "worker output", p)


    def test_join_without_token(self):
        port = free_port()
        p = self.muster_run(["--rdzv-endpoint", "127.0.0.1:%d" % port,
                             "--rdzv-conf", "is_host=0", "--connect-timeout",
                             "1s", "--nproc-per-node", "1", "--"] + PROG)
        rc = p.wait(30)
        self.check("a node that never hosts (is_host=0), with no join token "
                   "and no job secret: exit 2 after --connect-timeout, and "
                   "the message says where a token comes from")
        self.expect_eq(rc, 2, "exit status", p)
        self.expect("join token" in p.err and "--join-token-file" in p.err,
                    "message names the token options", p)

    def test_join_with_malformed_token(self):
        port = free_port()
        p = self.muster_run(["--rdzv-endpoint", "127.0.0.1:%d" % port,
                             "--join-token", "mj1_nothex", "--"] + PROG)
        rc = p.wait(30)
        self.check("a malformed token: exit 2, named as not a join token")
        self.expect_eq(rc, 2, "exit status", p)
        self.expect("not a muster join token" in p.err, "message", p)


if __name__ == "__main__":
    main()
