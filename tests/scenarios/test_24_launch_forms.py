#!/usr/bin/python3
"""Scenario 24 — torchrun's launch forms, secured.

  * the same command on every node (what `srun torchrun ...` does): the
    node that binds the endpoint first hosts, the others join, with a job
    secret they share (here: the same state directory, as a shared home
    would give them); exactly one hosts, every rank runs once;
  * static rendezvous (--master-addr/--master-port/--node-rank, underscores
    too): GROUP_RANK equals --node-rank whatever order the nodes start in,
    node 0 hosts;
  * --rdzv-conf is_host=0 never hosts; is_host=1 does;
  * bad combinations are one-line usage errors (exit 2).
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import (MusterCase, free_port, main, parse_kv_line,  # noqa: E402
                     worker_lines)

PROG = ["sh", "-c", 'echo "RANK=$RANK WORLD_SIZE=$WORLD_SIZE GROUP_RANK=$GROUP_RANK"']


class LaunchForms(MusterCase):
    def ranks(self, procs, world):
        seen = {}
        for p in procs:
            self.expect_eq(p.wait(), 0, "exit status of %s" % p.name, *procs)
            for r, lines in worker_lines(p.out, "worker").items():
                kv = parse_kv_line(lines[0])
                self.expect_eq(kv["WORLD_SIZE"], str(world), "world", p)
                self.expect(r not in seen, "rank %d ran twice" % r, *procs)
                seen[r] = (p.name, int(kv["GROUP_RANK"]))
        self.expect_eq(sorted(seen), list(range(world)), "ranks", *procs)
        return seen

    def test_identical_commands(self):
        ep = "127.0.0.1:%d" % free_port()
        args = ["--rdzv-endpoint", ep, "--nnodes", "3", "--nproc-per-node", "1",
                "--rdzv-id", "same", "--connect-timeout", "30s", "--"] + PROG
        nodes = [self.muster_run(args, name="n%d" % i) for i in range(3)]
        self.check("three identical commands: every rank 0..2 runs once, world 3")
        self.ranks(nodes, 3)
        hosts = [n.name for n in nodes if "hosting job same" in n.err]
        self.check("exactly one node hosted (%s)" % hosts)
        self.expect_eq(len(hosts), 1, "hosting nodes", *nodes)
        secret = os.path.join(self.env["MUSTER_STATE_DIR"], "jobs", "same.secret")
        self.check("the job secret they shared is the user's only (0600)")
        self.expect_eq(os.stat(secret).st_mode & 0o777, 0o600, "secret mode")

    def test_static_rendezvous(self):
        port = free_port()
        late = self.muster_run(["--master_addr", "127.0.0.1", "--master_port",
                                str(port), "--nnodes", "2", "--node_rank", "1",
                                "--nproc-per-node", "2", "--rdzv-id", "st",
                                "--"] + PROG, name="rank1")
        first = self.muster_run(["--master-addr", "127.0.0.1", "--master-port",
                                 str(port), "--nnodes", "2", "--node-rank", "0",
                                 "--nproc-per-node", "2", "--rdzv-id", "st",
                                 "--"] + PROG, name="rank0")
        self.check("node rank 1 started first: still GROUP_RANK 1 with ranks "
                   "2-3; node rank 0 hosts and has ranks 0-1")
        seen = self.ranks([late, first], 4)
        for r, (name, group) in seen.items():
            self.expect_eq(group, r // 2, "GROUP_RANK of rank %d" % r)
            self.expect_eq(name, "rank%d" % (r // 2), "node of rank %d" % r)
        self.expect("hosting job st" in first.err, "node 0 hosts", first)

    def test_is_host(self):
        ep = "127.0.0.1:%d" % free_port()
        common = ["--rdzv-endpoint", ep, "--nnodes", "2", "--nproc-per-node",
                  "1", "--rdzv-id", "ih", "--"] + PROG
        joiner = self.muster_run(["--rdzv-conf", "is_host=0"] + common,
                                 name="joiner")
        host = self.muster_run(["--rdzv-conf", "is_host=1"] + common, name="host")
        self.check("is_host=0 joined (it waited for the job secret), is_host=1 "
                   "hosted")
        self.ranks([joiner, host], 2)
        self.expect("hosting job ih" in host.err, "host hosted", host)
        self.expect("hosting" not in joiner.err, "joiner hosted", joiner)

    def test_status_finds_local_runs(self):
        self.check("`muster status` without flags finds a running `muster "
                   "run` of this user (its socket in STATE_DIR/run/)")
        p = self.muster_run(["--nproc-per-node", "1", "--rdzv-id", "local1",
                             "--", "sleep", "30"], name="first")
        self.wait_for(lambda: "epoch 1" in p.err, 30, "the job to run")
        st = self.run_muster(["status"], timeout=20)
        self.expect(st.rc == 0 and "local1" in st.out and "running" in st.out,
                    "status lists local1", st, p)
        q = self.muster_run(["--nproc-per-node", "1", "--rdzv-id", "local2",
                             "--", "sleep", "30"], name="second")
        self.wait_for(lambda: "epoch 1" in q.err, 30, "the second job to run")
        st = self.run_muster(["status"], timeout=20)
        self.check("two of them: a clear error listing both sockets")
        self.expect(st.rc == 2 and "local1" in st.err and "local2" in st.err,
                    "status with two runs", st)
        st = self.run_muster(["status", "--endpoint", "ipc://%s/none.sock"
                              % self.tmp], timeout=20)
        self.check("a socket that does not exist: exit 1 at once, named")
        self.expect(st.rc == 1 and "no such socket" in st.err, "message", st)
        for x in (p, q):
            x.signal(2)
            x.wait()

    def test_usage_errors(self):
        cases = [
            (["--master-addr", "127.0.0.1", "--nnodes", "1:2", "--node-rank", "0"],
             "fixed --nnodes"),
            (["--master-port", "29999", "--rdzv-endpoint", "127.0.0.1:1",
              "--nnodes", "2"], "not both"),
            (["--master-port", "29999", "--nnodes", "2", "--node-rank", "2"],
             "below --nnodes"),
            (["--rdzv-endpoint", "127.0.0.1:1", "--host", "--rdzv-conf",
              "is_host=0"], "contradict"),
            (["--rdzv-endpoint", "127.0.0.1:1", "--rdzv-conf", "is_host=maybe"],
             "is_host"),
        ]
        for args, want in cases:
            p = self.run_muster(["run"] + args + ["--", "true"], timeout=30)
            self.check("muster run %s: exit 2, %r" % (" ".join(args), want))
            self.expect_eq(p.rc, 2, "exit status", p)
            self.expect(want in p.err, "message", p)
        tok = os.path.join(self.tmp, "join.token")
        with open(tok, "w") as f:
            f.write("mj1_" + "ab" * 64 + "\n")
        os.chmod(tok, 0o600)
        p = self.run_muster(["run", "--rdzv-endpoint", "127.0.0.1:%d" % free_port(),
                             "--host", "--join-token-file", tok, "--", "true"],
                            timeout=30)
        self.check("--host with a join token (not a job secret): exit 2, said so")
        self.expect_eq(p.rc, 2, "exit status", p)
        self.expect("needs a job secret" in p.err, "message", p)


if __name__ == "__main__":
    main()
