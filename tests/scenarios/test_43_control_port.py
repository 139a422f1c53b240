#!/usr/bin/python3
"""Scenario 43 — the control port, complete (docs/control-port.md).

A musterd with three pool agents (one slot each):

  * `muster ls` and `muster status JOB` list a 1:3 job; ctl.get shows its
    three members with node, host, ranks 0..2 and the pids of live worker
    processes; `muster nodes` lists slots, used and health;
  * `muster logs` returns the workers' prefixed output, `--rank` only one
    rank's, `-f` follows new lines until the job ends;
  * `muster scale JOB 2` stops one member (3 -> 2 nodes); a cordoned node
    is kept out (a pending job does not get it, scale cannot take it); once
    uncordoned, `muster scale JOB 3` grows the job back to 3 nodes;
  * a restart-mode checkpointed job scaled 3 -> 2 checkpoints first and
    re-forms from that step;
  * `muster drain NODE` of a running checkpointed job (restart mode,
    ckpt_train): the job checkpoints and re-forms on the other two nodes
    from a committed step at least the one committed before the drain;
    the node ends up cordoned and free;
  * malformed control messages (raw zmq: not msgpack, a wrong field type,
    a missing field, an unknown type) and wrong values (max < min, a
    fixed-size job, an unknown role, an unknown state filter) get errors
    with code, code_name and the field, and the coordinator keeps serving;
  * a chatty job (megabytes of output) costs the coordinator at most its
    log ring (--job-log-bytes), and the lost output is marked;
  * another user cannot get, scale or read the logs of root's job, nor
    list or cordon nodes (needs root to make the user).
"""
import os
import re
import secrets
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import (MusterCase, bin_path, ctl_call, have_pyzmq, main,  # noqa: E402
                     mp_pack, zmq_request, mp_unpack)

TICKER = """#!/bin/sh
i=0
while [ $i -lt 100000 ]; do
  echo "tick $i rank=$RANK"
  i=$((i+1))
  sleep 0.1
done
"""


class ControlPort(MusterCase):
    def setUp(self):
        if not have_pyzmq():
            self.skipTest("python3-zmq is not installed")
        super().setUp()

    # ------------------------------------------------------------ helpers

    def cluster(self, n=3, extra=()):
        d = self.musterd(extra=extra)
        agents = [self.agent(d, "n%d" % i, 1) for i in range(1, n + 1)]
        self.wait_for(lambda: len(self.call(d, {"t": "ctl.nodes"}).get("nodes", [])) == n,
                      30, "%d agents to register" % n)
        return d, agents

    def call(self, d, msg):
        return ctl_call(d.ctl_ep, msg) or {}

    def ok(self, d, msg, what):
        rep = self.call(d, msg)
        self.expect(rep.get("t") not in (None, "error"), "%s: %r" % (what, rep), d)
        return rep

    def submit(self, d, job, argv, nmin, nmax, **opts):
        spec = {"id": job, "argv": argv, "last_call_ms": 1000,
                "roles": [{"name": "worker", "min_nodes": nmin,
                           "max_nodes": nmax, "nproc": 1}]}
        spec.update(opts)
        self.ok(d, {"t": "ctl.submit", "job": spec}, "submit " + job)

    def get(self, d, job):
        return self.call(d, {"t": "ctl.get", "job": job})

    def wait_nodes(self, d, job, n, what, after_epoch=0, timeout=60):
        def ready():
            g = self.get(d, job).get("job", {})
            return (g.get("state") == "running" and g.get("nodes") == n
                    and g.get("epoch", 0) > after_epoch
                    and len(self.get(d, job).get("members", [])) == n)
        self.wait_for(ready, timeout, what)
        return self.get(d, job)

    def cli(self, args, **kw):
        return self.run_muster(args, timeout=60, **kw)

    def nodes(self, d):
        return {n["node_id"]: n for n in self.call(d, {"t": "ctl.nodes"}).get("nodes", [])}

    # ------------------------------------------------------------ tests

    def test_members_logs_scale_cordon(self):
        d, _ = self.cluster()
        self.env["MUSTER_COORDINATOR"] = d.ctl_ep
        w = self.write_script("tick.sh", TICKER)
        self.submit(d, "el", [w], 1, 3)
        g = self.wait_nodes(d, "el", 3, "the job to run on 3 nodes")

        self.check("ctl.get: 3 members, ranks 0..2, each with a live pid")
        ranks = sorted(r["rank"] for m in g["members"] for r in m["ranks"])
        self.expect_eq(ranks, [0, 1, 2], "ranks %r" % g["members"], d)
        for m in g["members"]:
            self.expect(m["node_id"] in ("n1", "n2", "n3") and m["host"],
                        "member %r" % m, d)
        self.wait_for(lambda: all(r.get("pid") for m in self.get(d, "el")["members"]
                                  for r in m["ranks"]), 20, "every pid reported")
        for m in self.get(d, "el")["members"]:
            for r in m["ranks"]:
                self.expect(os.path.exists("/proc/%d" % r["pid"]),
                            "pid %d of rank %d is not a live process"
                            % (r["pid"], r["rank"]), d)

        self.check("muster ls / status JOB / nodes print them")
        p = self.cli(["ls"])
        self.expect(p.rc == 0 and re.search(r"^el\s+root\s+running\s+\d+\s+3\s+3\s", p.out, re.M),
                    "ls output", p)
        p = self.cli(["status", "el"])
        self.expect(p.rc == 0 and len(re.findall(r"^\d+\s+n\d\s+\S+\s+worker\s+\d\s+\d+$",
                                                 p.out, re.M)) == 3,
                    "status detail: 3 member lines with pids", p)
        p = self.cli(["nodes"])
        self.expect(p.rc == 0 and len(re.findall(r"^n\d\s+\S+\s+1\s+1\s+alive\s+el/worker",
                                                 p.out, re.M)) == 3,
                    "nodes: 3 alive nodes, 1 slot, 1 used, serving el", p)
        p = self.cli(["ls", "--json"])
        self.expect(p.rc == 0 and '"t": "ctl.list.reply"' in p.out and '"id": "el"' in p.out,
                    "ls --json", p)

        self.check("muster logs: prefixed output of every rank; --rank 1 only rank 1's")
        self.wait_for(lambda: "rank=2" in self.cli(["logs", "el"]).out, 20,
                      "rank 2's lines to reach the coordinator")
        p = self.cli(["logs", "el"])
        for r in (0, 1, 2):
            self.expect(re.search(r"^\[worker %d\] tick \d+ rank=%d$" % (r, r), p.out, re.M),
                        "rank %d's lines in logs" % r, p)
        p = self.cli(["logs", "--rank", "1", "el"])
        lines = p.out.splitlines()
        self.expect(lines and all(l.startswith("[worker 1] ") for l in lines),
                    "logs --rank 1: %r" % lines[:5], p)

        self.check("muster logs -f follows lines written after it started")
        start = self.call(d, {"t": "ctl.logs", "job": "el", "since": 1 << 62})["next"]
        follower = self.start("follow", [bin_path("muster"), "logs", "-f", "el"])
        self.wait_for(lambda: any(int(x) > 0 for x in re.findall(r"tick (\d+)", follower.out)),
                      20, "the follower to print")

        self.check("scale 1:3 job to 2: one member stopped, the job re-forms on 2")
        e0 = g["job"]["epoch"]
        p = self.cli(["scale", "el", "2"])
        self.expect(p.rc == 0 and "1 node(s) released" in p.out, "scale output", p)
        g = self.wait_nodes(d, "el", 2, "el to run on 2 nodes", after_epoch=e0)
        self.expect_eq(g["spec"]["roles"][0]["max_nodes"], 2, "max after scale", d)
        free = [n for n, x in self.nodes(d).items() if "job" not in x]
        self.expect_eq(len(free), 1, "free nodes %r" % self.nodes(d), d)

        self.check("a cordoned node takes no new work")
        p = self.cli(["cordon", free[0]])
        self.expect(p.rc == 0 and "cordoned" in p.out, "cordon", p)
        self.expect_eq(self.nodes(d)[free[0]]["health"], "cordoned", "health", d)
        self.submit(d, "other", ["/bin/true"], 1, 1)
        st = self.get(d, "other")["job"]
        self.expect(st["state"] == "rendezvous" and "0 free" in st.get("reason", ""),
                    "other job: %r" % st, d)
        p = self.cli(["scale", "el", "3"])
        self.expect(p.rc == 0 and "0 attached" in p.out, "scale to 3 while cordoned", p)
        self.expect_eq(self.get(d, "el")["job"]["nodes"], 2, "el nodes", d)
        self.ok(d, {"t": "ctl.cancel", "job": "other"}, "cancel other")

        self.check("uncordoned, scale to 3 takes it: 3 nodes again")
        p = self.cli(["uncordon", free[0]])
        self.expect(p.rc == 0, "uncordon", p)
        e1 = self.get(d, "el")["job"]["epoch"]
        # The scheduler grows an elastic job onto a node freed for it (rule
        # S3), so el may be back at 3 before the scale asks for it.
        p = self.cli(["scale", "el", "--min", "1", "--max", "3"])
        self.expect(p.rc == 0 and re.search(r"[01] attached", p.out), "scale up", p)
        self.wait_nodes(d, "el", 3, "el to run on 3 nodes again", after_epoch=e1)

        self.check("the follower saw lines written after it started and "
                   "exits 0 when the job ends")
        self.ok(d, {"t": "ctl.cancel", "job": "el"}, "cancel el")
        self.expect_eq(follower.wait(60), 0, "follower exit", follower)
        seqs = self.call(d, {"t": "ctl.logs", "job": "el", "since": start, "max": 1})
        self.expect(seqs["lines"] and seqs["lines"][0]["text"] in follower.out,
                    "a line written after the follower started is in its output",
                    follower)

    def test_drain_checkpointed_job(self):
        d, _ = self.cluster()
        ck = os.path.join(self.tmp, "ck")
        self.submit(d, "tr", [bin_path("ckpt_train"), "--steps", "100000",
                              "--step-ms", "5"], 1, 3, ckpt_dir=ck,
                    ckpt_every_ms=500)
        g = self.wait_nodes(d, "tr", 3, "tr to run on 3 nodes")
        self.wait_for(lambda: self.get(d, "tr")["job"].get("ckpt_step", 0) > 0, 60,
                      "a committed checkpoint")
        before = self.get(d, "tr")["job"]["ckpt_step"]
        victim = [m["node_id"] for m in g["members"] if m["ranks"][0]["rank"] == 2][0]
        self.check("drain %s (rank 2): the job checkpoints, then goes on on 2 "
                   "nodes from a step >= %d" % (victim, before))
        p = self.cli(["drain", "--coordinator", d.ctl_ep, victim])
        self.expect(p.rc == 0 and "draining" in p.out and "checkpoints" in p.out,
                    "drain output", p)
        g2 = self.wait_nodes(d, "tr", 2, "tr to re-form on 2 nodes",
                             after_epoch=g["job"]["epoch"])
        self.expect(victim not in [m["node_id"] for m in g2["members"]],
                    "the drained node is still a member: %r" % g2["members"], d)
        self.expect(g2["job"].get("ckpt_step", 0) >= before,
                    "committed step went back: %r < %d" % (g2["job"], before), d)
        self.wait_for(lambda: re.search(r"restored step (\d+)", "\n".join(
            l["text"] for l in self.call(d, {"t": "ctl.logs", "job": "tr",
                                             "max": 10000})["lines"])), 30,
            "the new epoch to restore")
        texts = "\n".join(l["text"] for l in self.call(
            d, {"t": "ctl.logs", "job": "tr", "max": 10000})["lines"])
        restored = [int(x) for x in re.findall(r"restored step (\d+)", texts)]
        self.expect(restored and min(restored) >= before,
                    "restored steps %r, committed before the drain %d"
                    % (restored, before), d)
        self.expect_eq(self.nodes(d)[victim]["health"], "cordoned",
                       "the drained node's health", d)
        self.expect("job" not in self.nodes(d)[victim], "the drained node is free", d)
        self.ok(d, {"t": "ctl.cancel", "job": "tr"}, "cancel tr")

    def test_scale_down_checkpoints_first(self):
        d, _ = self.cluster()
        ck = os.path.join(self.tmp, "ck")
        self.submit(d, "sd", [bin_path("ckpt_train"), "--steps", "100000",
                              "--step-ms", "5"], 1, 3, ckpt_dir=ck)
        g = self.wait_nodes(d, "sd", 3, "sd to run on 3 nodes")
        self.check("scale a restart-mode checkpointed job 3 -> 2: a checkpoint "
                   "first, then the gang re-forms from it")
        rep = self.ok(d, {"t": "ctl.scale", "job": "sd", "target": 2}, "scale sd")
        step = rep.get("step", 0)
        self.expect(step > 0 and "checkpointing step %d" % step in rep.get("message", ""),
                    "scale reply %r" % rep, d)
        g2 = self.wait_nodes(d, "sd", 2, "sd to re-form on 2 nodes",
                             after_epoch=g["job"]["epoch"])
        self.expect(g2["job"].get("ckpt_step", 0) >= step,
                    "committed %r < the step asked %d" % (g2["job"], step), d)
        self.wait_for(lambda: re.search(r"restored step (\d+)", "\n".join(
            l["text"] for l in self.call(d, {"t": "ctl.logs", "job": "sd",
                                             "max": 10000})["lines"])), 30,
            "the new epoch to restore")
        texts = "\n".join(l["text"] for l in self.call(
            d, {"t": "ctl.logs", "job": "sd", "max": 10000})["lines"])
        restored = [int(x) for x in re.findall(r"restored step (\d+)", texts)]
        self.expect(restored and min(restored) >= step,
                    "restored %r, checkpoint asked at %d" % (restored, step), d)
        self.ok(d, {"t": "ctl.cancel", "job": "sd"}, "cancel sd")

    def test_errors_name_the_field(self):
        d, _ = self.cluster(n=1)
        self.submit(d, "fixed", ["sleep", "60"], 1, 1)
        self.wait_nodes(d, "fixed", 1, "fixed to run")

        def err(msg, code_name, field, needle):
            rep = self.call(d, msg)
            self.check("%r -> %s naming %r" % (msg, code_name, field))
            self.expect(rep.get("t") == "error" and rep.get("code_name") == code_name
                        and rep.get("field") == field and needle in rep.get("message", ""),
                        "answer %r" % (rep,), d)
        err({"t": "ctl.scale", "job": "fixed", "min": 3, "max": 1}, "MUSTER_EINVAL",
            "job", "not elastic")
        err({"t": "ctl.scale", "job": "fixed", "role": "ps", "max": 2}, "MUSTER_ENOTFOUND",
            "role", "no role 'ps'")
        err({"t": "ctl.scale", "job": "fixed", "max": "x"}, "MUSTER_EPROTO", "max",
            "expected unsigned integer")
        err({"t": "ctl.get"}, "MUSTER_EPROTO", "job", "required field is missing")
        err({"t": "ctl.get", "job": "nope"}, "MUSTER_ENOTFOUND", "job", "no job nope")
        err({"t": "ctl.list", "state": "bogus"}, "MUSTER_EINVAL", "state", "got 'bogus'")
        err({"t": "ctl.logs", "job": "fixed", "max": 99999}, "MUSTER_EINVAL", "max",
            "at most 10000")
        err({"t": "ctl.cordon", "node": "nope"}, "MUSTER_ENOTFOUND", "node", "no node nope")
        self.submit(d, "el", ["sleep", "60"], 1, 3)
        err({"t": "ctl.scale", "job": "el", "min": 3, "max": 1}, "MUSTER_EINVAL", "max",
            "scale: field 'max' must be >= min (got 1 < 3)")
        err({"t": "ctl.scale", "job": "el", "target": 2, "max": 2}, "MUSTER_EINVAL",
            "target", "not both")
        self.check("not msgpack at all, and an unknown type: errors, no crash")
        rep = zmq_request(d.ctl_ep, [b"\xc1garbage"])
        self.expect(rep is not None and mp_unpack(rep[-1]).get("code_name") == "MUSTER_EPROTO",
                    "garbage answer %r" % (rep,), d)
        rep = self.call(d, {"t": "ctl.frobnicate"})
        self.expect(rep.get("code_name") == "MUSTER_ETYPE", "unknown type %r" % rep, d)
        self.check("the CLI: usage errors exit 2, refusals exit 1 naming the field")
        p = self.cli(["scale", "--coordinator", d.ctl_ep, "el", "--min", "1"])
        self.expect(p.rc == 2 and "give both --min and --max" in p.err, "half a range", p)
        p = self.cli(["scale", "--coordinator", d.ctl_ep, "el", "--min", "3", "--max", "1"])
        self.expect(p.rc == 1 and "field 'max' must be >= min (got 1 < 3)" in p.err,
                    "max < min", p)
        p = self.cli(["logs", "--coordinator", d.ctl_ep, "--rank", "x", "el"])
        self.expect(p.rc == 2 and "--rank: 'x' is not a number" in p.err, "bad rank", p)
        p = self.cli(["drain", "--coordinator", d.ctl_ep])
        self.expect(p.rc == 2 and "which node?" in p.err, "no node", p)
        for cmd in ("ls", "logs", "scale", "nodes", "cordon", "uncordon", "drain"):
            p = self.cli([cmd, "--help"])
            self.check("muster %s --help: usage on stdout, exit 0" % cmd)
            self.expect(p.rc == 0 and p.out.startswith("usage: muster %s" % cmd)
                        and "--json" in p.out and p.err == "", "help", p)
        self.check("the coordinator still serves")
        self.expect(self.get(d, "fixed").get("job", {}).get("state") == "running",
                    "fixed still running", d)

    def test_chatty_job_is_bounded(self):
        d, _ = self.cluster(n=1, extra=["--job-log-bytes", "64K"])
        self.submit(d, "chatty", ["/bin/sh", "-c",
                                  "head -c 20000000 /dev/zero | tr '\\0' 'x' | fold -w 100"],
                    1, 1)
        self.wait_for(lambda: self.get(d, "chatty")["job"]["state"] == "succeeded", 120,
                      "the chatty job to finish (its output never waits for the "
                      "coordinator)")
        g = self.get(d, "chatty")
        self.check("20 MB of output: the coordinator holds at most 64 KiB of it")
        self.expect(0 < g["log_bytes"] <= 64 * 1024, "log_bytes %r" % g.get("log_bytes"), d)
        page = self.call(d, {"t": "ctl.logs", "job": "chatty", "max": 10000})
        self.expect(page["first"] > 1, "the oldest lines were evicted: %r" % page["first"], d)
        self.expect(g.get("log_dropped", 0) > 0,
                    "the agent dropped what was over its budget, and says so: "
                    "log_dropped %r" % g.get("log_dropped"), d)
        # Each drop is also a marker line; the newest lines may have pushed
        # every marker out of a 64 KiB ring (how fast the job wrote, against
        # the agent's per-second budget, decides): the count is asserted,
        # and the markers still held are checked.
        for m in [l for l in page["lines"] if l["stream"] == "muster"]:
            self.expect(re.match(r"\[\.\.\. \d+ bytes dropped", m["text"]),
                        "a marker line reads %r" % m["text"], d)

    def test_other_user_refused(self):
        if os.geteuid() != 0:
            self.skipTest("needs root to create a second user")
        for tool in ("useradd", "userdel", "runuser"):
            if shutil.which(tool) is None:
                self.skipTest("%s is not installed" % tool)
        user = "mc" + secrets.token_hex(4)
        r = subprocess.run(["useradd", "-M", "-s", "/bin/sh", user],
                           capture_output=True, timeout=60)
        self.expect(r.returncode == 0, "useradd: %r" % r.stderr)
        self.addCleanup(lambda: subprocess.run(["userdel", "-f", user],
                                               capture_output=True, timeout=60))
        os.chmod(self.tmp, 0o711)
        d, _ = self.cluster(n=1)
        self.submit(d, "rootjob", ["sleep", "60"], 1, 2)
        self.wait_nodes(d, "rootjob", 1, "rootjob to run")
        for args in (["status", "rootjob"], ["scale", "rootjob", "2"],
                     ["logs", "rootjob"], ["nodes"], ["cordon", "n1"],
                     ["drain", "n1"]):
            r = subprocess.run(["runuser", "-u", user, "--", bin_path("muster")]
                               + args[:1] + ["--coordinator", d.ctl_ep] + args[1:],
                               capture_output=True, timeout=30, env=self.env, cwd="/")
            err = r.stderr.decode(errors="replace")
            self.check("%s: `muster %s` refused" % (user, " ".join(args)))
            self.expect(r.returncode == 1 and ("belongs to root" in err
                                               or "only an admin" in err),
                        "rc %d, stderr %r" % (r.returncode, err), d)
        r = subprocess.run(["runuser", "-u", user, "--", bin_path("muster"), "ls",
                            "--coordinator", d.ctl_ep], capture_output=True,
                           timeout=30, env=self.env, cwd="/")
        self.expect(r.returncode == 0 and b"rootjob" not in r.stdout,
                    "%s's ls: %r" % (user, r.stdout), d)
        self.expect_eq(self.get(d, "rootjob")["job"]["nodes"], 1, "rootjob untouched", d)


if __name__ == "__main__":
    main()
