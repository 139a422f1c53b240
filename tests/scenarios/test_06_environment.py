#!/usr/bin/python3
"""Scenario 6 — the environment every worker sees: torchrun's variables and
muster's MUSTER_* set, consistent with each other and across the gang; the
launcher's own environment is passed through but never overrides muster's
variables; a parameter-server job (roles ps and worker), started with
`muster run --roles ... --role` or submitted on the control port to free
agents, gets TF_CONFIG and DMLC_* consistent with the ranks and ports."""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import (MusterCase, ctl_call, main, worker_lines,  # noqa: E402
                     zmq_available)

DUMP = ("import os, json\n"
        "print('ENV ' + json.dumps(dict(os.environ), sort_keys=True))\n")

TORCHRUN = ["RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "GROUP_RANK",
            "GROUP_WORLD_SIZE", "ROLE_NAME", "ROLE_RANK", "ROLE_WORLD_SIZE",
            "MASTER_ADDR", "MASTER_PORT", "TORCHELASTIC_RESTART_COUNT",
            "TORCHELASTIC_MAX_RESTARTS", "TORCHELASTIC_RUN_ID"]
MUSTER = ["MUSTER_JOB_ID", "MUSTER_ROLE", "MUSTER_RANK", "MUSTER_LOCAL_RANK",
          "MUSTER_WORLD_SIZE", "MUSTER_ROLE_RANK", "MUSTER_ROLE_WORLD_SIZE",
          "MUSTER_NODE_RANK", "MUSTER_NNODES", "MUSTER_EPOCH",
          "MUSTER_RESTART_COUNT", "MUSTER_NODE_ID", "MUSTER_AGENT_ENDPOINT",
          "MUSTER_PEER_PORT"]


def envs_of(case, proc, role):
    """{rank: environment dict} from the ENV lines of proc's workers."""
    out = {}
    for rank, lines in worker_lines(proc.out, role).items():
        dumps = [l[4:] for l in lines if l.startswith("ENV ")]
        case.expect_eq(len(dumps), 1, "ENV lines of rank %d" % rank, proc)
        out[rank] = json.loads(dumps[0])
    return out


class Environment(MusterCase):
    def test_torchrun_and_muster_variables(self):
        script = self.write_script("dump_env.py", DUMP)
        d = self.musterd()
        extra_env = {"MUSTER_TEST_PASSTHRU": "kept-" + self.tag,
                     # stale values a user might have exported: muster's win
                     "RANK": "99", "WORLD_SIZE": "99", "MASTER_PORT": "1"}
        nodes = []
        for i in range(2):
            args = ["--rdzv-endpoint", d.rdzv, "--nnodes", "2", "--nproc-per-node",
                    "2", "--rdzv-id", "envjob", "--node-id", "e%d" % i,
                    "--max-restarts", "3", "--connect-timeout", "20s", "--",
                    sys.executable, script]
            nodes.append(self.muster_run(args, name="e%d" % i, env_extra=extra_env))
        env = {}
        node_of = {}
        for n in nodes:
            self.check("node %s exits 0" % n.name)
            self.expect_eq(n.wait(), 0, "exit status of %s" % n.name, n)
            for r, e in envs_of(self, n, "worker").items():
                env[r] = e
                node_of[r] = n
        self.check("4 workers reported: ranks 0..3")
        self.expect_eq(sorted(env), [0, 1, 2, 3], "ranks", *nodes)

        for r, e in sorted(env.items()):
            n = node_of[r]
            missing = [k for k in TORCHRUN + MUSTER if k not in e]
            self.check("rank %d: every torchrun and MUSTER_* variable is set" % r)
            self.expect_eq(missing, [], "missing variables of rank %d" % r, n)
            first = min(k for k in env if node_of[k] is n)
            want = {
                "RANK": str(r), "LOCAL_RANK": str(r - first), "WORLD_SIZE": "4",
                "LOCAL_WORLD_SIZE": "2", "GROUP_WORLD_SIZE": "2",
                "ROLE_NAME": "worker", "ROLE_RANK": str(r), "ROLE_WORLD_SIZE": "4",
                "MASTER_ADDR": "127.0.0.1", "TORCHELASTIC_RESTART_COUNT": "0",
                "TORCHELASTIC_MAX_RESTARTS": "3", "TORCHELASTIC_RUN_ID": "envjob",
                "MUSTER_JOB_ID": "envjob", "MUSTER_ROLE": "worker",
                "MUSTER_RANK": str(r), "MUSTER_LOCAL_RANK": str(r - first),
                "MUSTER_WORLD_SIZE": "4", "MUSTER_ROLE_RANK": str(r),
                "MUSTER_ROLE_WORLD_SIZE": "4", "MUSTER_NODE_RANK": e["GROUP_RANK"],
                "MUSTER_NNODES": "2", "MUSTER_RESTART_COUNT": "0",
                "MUSTER_NODE_ID": n.name,
            }
            got = {k: e.get(k) for k in want}
            self.check("rank %d: values agree (rank, local rank, sizes, role, run id, "
                       "node id %s)" % (r, n.name))
            self.expect_eq(got, want, "variables of rank %d" % r, n)
            self.check("rank %d: GROUP_RANK %s matches its node's first rank %d"
                       % (r, e["GROUP_RANK"], first))
            self.expect_eq(int(e["GROUP_RANK"]) * 2, first, "GROUP_RANK", n)
            self.check("rank %d: the launcher's environment is inherited "
                       "(MUSTER_TEST_PASSTHRU, the test tag); MUSTER_EXEC_PPID is not" % r)
            self.expect_eq(e.get("MUSTER_TEST_PASSTHRU"), "kept-" + self.tag,
                           "passthrough variable", n)
            self.expect_eq(e.get("MUSTER_TEST_TAG"), self.tag, "tag", n)
            self.expect("MUSTER_EXEC_PPID" not in e, "MUSTER_EXEC_PPID leaked", n)
            self.check("rank %d: no TF_CONFIG or DMLC_* in a job without a ps role" % r)
            self.expect_eq([k for k in e if k == "TF_CONFIG" or k.startswith("DMLC_")],
                           [], "PS variables", n)
            self.check("rank %d: MUSTER_AGENT_ENDPOINT is an ipc:// endpoint" % r)
            ep = e["MUSTER_AGENT_ENDPOINT"]
            self.expect(ep.startswith("ipc://"), "endpoint %r" % ep, n)

        self.check("the gang agrees on MASTER_ADDR:MASTER_PORT and MUSTER_EPOCH")
        masters = {(e["MASTER_ADDR"], e["MASTER_PORT"]) for e in env.values()}
        self.expect_eq(len(masters), 1, "distinct masters %r" % masters)
        port = int(next(iter(masters))[1])
        self.expect(1 <= port <= 65535 and port != 1, "MASTER_PORT %d" % port)
        epochs = {e["MUSTER_EPOCH"] for e in env.values()}
        self.expect(len(epochs) == 1 and int(next(iter(epochs))) >= 1,
                    "epochs %r" % epochs)
        self.check("one agent endpoint per node, different nodes different endpoints")
        by_node = {}
        for r, e in env.items():
            by_node.setdefault(node_of[r].name, set()).add(e["MUSTER_AGENT_ENDPOINT"])
        self.expect(all(len(s) == 1 for s in by_node.values()), "endpoints %r" % by_node)
        self.expect_eq(len(set.union(*by_node.values())), 2, "endpoints %r" % by_node)
        self.check("peer ports: distinct per rank, consecutive on a node, "
                   "none equal to MASTER_PORT")
        peers = {r: int(e["MUSTER_PEER_PORT"]) for r, e in env.items()}
        self.expect_eq(len(set(peers.values())), 4, "peer ports %r" % peers)
        self.expect(port not in peers.values(), "MASTER_PORT %d is a peer port %r"
                    % (port, peers))
        for r in (0, 2):
            self.expect_eq(peers[r + 1], peers[r] + 1, "peer ports of one node %r" % peers)

    def test_ps_job_cli(self):
        """A ps+worker job from the command line: every node brings the same
        --roles and picks its own with --role."""
        script = self.write_script("dump_env.py", DUMP)
        d = self.musterd()
        nodes = []
        for node_id, role in (("ps0", "ps"), ("wk0", "worker"), ("wk1", "worker")):
            nodes.append(self.muster_run(
                ["--rdzv-endpoint", d.rdzv, "--roles", "ps=1x1,worker=2x2",
                 "--role", role, "--rdzv-id", "psjob", "--node-id", node_id,
                 "--connect-timeout", "20s", "--", sys.executable, script],
                name=node_id))
        for n in nodes:
            self.check("node %s exits 0" % n.name)
            self.expect_eq(n.wait(), 0, "exit status of %s" % n.name, n)
        self.check_ps_env(nodes)

    def test_ps_job_control_port(self):
        """The same job submitted on the control port to free agents."""
        why = zmq_available()
        if why:
            print("SKIPPED: cannot submit on the control port: " + why, flush=True)
            self.skipTest(why)
        script = self.write_script("dump_env.py", DUMP)
        d = self.musterd()
        agents = [self.agent(d, "ps0", 1, ["--role", "ps"]),
                  self.agent(d, "wk0", 2, ["--role", "worker"]),
                  self.agent(d, "wk1", 2, ["--role", "worker"])]
        self.wait_for(lambda: (ctl_call(d.ctl_ep, {"t": "ctl.status"}) or {})
                      .get("nodes") == 3, 20, "3 agents registered")
        job = {"id": "psjob",
               "roles": [{"name": "ps", "min_nodes": 1, "max_nodes": 1, "nproc": 1},
                         {"name": "worker", "min_nodes": 2, "max_nodes": 2, "nproc": 2}],
               "argv": [sys.executable, script], "last_call_ms": 0}
        rep = ctl_call(d.ctl_ep, {"t": "ctl.submit", "job": job})
        self.check("ctl.submit of a two-role job (ps 1x1, worker 2x2) is accepted")
        self.expect(rep is not None and rep.get("t") == "ctl.reply"
                    and rep.get("status") == 0, "submit answer %r" % (rep,))

        def done():
            st = ctl_call(d.ctl_ep, {"t": "ctl.status", "job": "psjob"}) or {}
            jobs = st.get("jobs") or [{}]
            return jobs[0].get("state") in ("succeeded", "failed", "cancelled") and jobs[0]
        info = self.wait_for(done, 30, "psjob to finish")
        self.check("psjob succeeded with world 5")
        self.expect_eq((info.get("state"), info.get("world")), ("succeeded", 5),
                       "job info %r" % info)
        self.check_ps_env(agents)

    def check_ps_env(self, procs):
        """Rank 0 is the ps, ranks 1..4 the workers; torchrun, MUSTER_*,
        TF_CONFIG and DMLC_* agree with each other."""
        env = {}
        role_of = {}
        for a in procs:
            for role in ("ps", "worker"):
                for r, e in envs_of(self, a, role).items():
                    env[r] = e
                    role_of[r] = role
        self.check("ranks 0..4: rank 0 is the ps ('[ps 0] ' prefix), ranks 1..4 workers")
        self.expect_eq(sorted(env), [0, 1, 2, 3, 4], "ranks", *procs)
        self.expect_eq(role_of, {0: "ps", 1: "worker", 2: "worker", 3: "worker",
                                 4: "worker"}, "roles", *procs)
        addr = lambda e: "%s:%s" % (e["DMLC_NODE_HOST"], e["MUSTER_PEER_PORT"])  # noqa
        for r, e in sorted(env.items()):
            missing = [k for k in TORCHRUN + MUSTER + ["TF_CONFIG", "DMLC_ROLE",
                       "DMLC_PS_ROOT_URI", "DMLC_PS_ROOT_PORT", "DMLC_NUM_SERVER",
                       "DMLC_NUM_WORKER", "DMLC_NODE_HOST"] if k not in e]
            self.check("rank %d (%s): torchrun, MUSTER_*, TF_CONFIG and DMLC_* set"
                       % (r, role_of[r]))
            self.expect_eq(missing, [], "missing variables of rank %d" % r, *procs)
            ps = role_of[r] == "ps"
            want = {"ROLE_NAME": role_of[r], "ROLE_RANK": str(0 if ps else r - 1),
                    "ROLE_WORLD_SIZE": "1" if ps else "4", "WORLD_SIZE": "5",
                    "MUSTER_ROLE": role_of[r], "MUSTER_ROLE_RANK": str(0 if ps else r - 1),
                    "MUSTER_ROLE_WORLD_SIZE": "1" if ps else "4",
                    "DMLC_ROLE": "server" if ps else "worker",
                    "DMLC_NUM_SERVER": "1", "DMLC_NUM_WORKER": "4",
                    "DMLC_PS_ROOT_URI": e["MASTER_ADDR"],
                    "DMLC_PS_ROOT_PORT": e["MASTER_PORT"]}
            self.expect_eq({k: e[k] for k in want}, want, "variables of rank %d" % r,
                           *procs)
            tf = json.loads(e["TF_CONFIG"])
            self.check("rank %d: TF_CONFIG task is %s/%s" % (r, want["ROLE_NAME"],
                                                              want["ROLE_RANK"]))
            self.expect_eq(tf.get("task"), {"type": role_of[r],
                                            "index": int(want["ROLE_RANK"])},
                           "TF_CONFIG task of rank %d" % r, *procs)
            cluster = {"ps": [addr(env[0])] if 0 in env else [],
                       "worker": [addr(env[k]) for k in (1, 2, 3, 4) if k in env]}
            self.check("rank %d: TF_CONFIG cluster lists every ps and worker as "
                       "host:MUSTER_PEER_PORT in role-rank order" % r)
            self.expect_eq(tf.get("cluster"), cluster, "TF_CONFIG cluster of rank %d"
                           % r, *procs)
        self.check("the gang agrees on MASTER_ADDR:MASTER_PORT")
        self.expect_eq(len({(e["MASTER_ADDR"], e["MASTER_PORT"]) for e in env.values()}),
                       1, "masters", *procs)


if __name__ == "__main__":
    main()
