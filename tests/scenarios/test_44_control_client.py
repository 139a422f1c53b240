#!/usr/bin/python3
"""Scenario 44 — the Python control client (python/muster/control.py)
drives a job end to end, from outside, over the TCP control port with
CURVE (a user key made by `muster keygen`, listed in the coordinator's
users/ before it starts, and the server's key) and over the local socket:

  submit a checkpointed 1:2 job -> list -> get (members, pids) -> follow
  its logs -> checkpoint (the step commits) -> scale to 1 -> nodes ->
  cordon/uncordon -> preempt (suspended, resumable) -> resume (restored
  from the checkpoint) -> cancel; errors raise the muster exception of
  their code with the field set; a client without a listed key gets no
  answer (TimedOut), never data.
"""
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import MusterCase, bin_path, have_pyzmq, main  # noqa: E402

BUILD = os.environ.get("MUSTER_BUILD_DIR") or os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "build")


class ControlClient(MusterCase):
    def setUp(self):
        if not have_pyzmq():
            self.skipTest("python3-zmq is not installed")
        try:
            import msgpack  # noqa: F401
        except ImportError:
            self.skipTest("python3-msgpack is not installed")
        super().setUp()
        for p in (os.path.join(BUILD, "python"),
                  os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
                      os.path.abspath(__file__)))), "python")):
            if os.path.isdir(os.path.join(p, "muster")):
                sys.path.insert(0, p)
                break

    def test_end_to_end(self):
        from muster import errors
        from muster.control import Control

        state = os.path.join(self.tmp, "musterd.state")
        os.makedirs(os.path.join(state, "users"), mode=0o700)
        key = os.path.join(self.tmp, "alice.key")
        r = subprocess.run([bin_path("muster"), "keygen", "--user", "root", "--admin", key],
                           capture_output=True, timeout=30)
        self.expect(r.returncode == 0, "keygen: %r" % r.stderr)
        subprocess.run(["cp", key, os.path.join(state, "users", "alice.key")], check=True)
        d = self.musterd(state_dir=state)
        for i in (1, 2):
            self.agent(d, "n%d" % i, 1)
        server_key = os.path.join(state, "server.key")

        self.check("over TCP with CURVE: the listed key is answered")
        c = Control(d.ctl_tcp_ep, key_file=key, server_key=server_key, timeout=10)
        self.addCleanup(c.close)
        self.wait_for(lambda: len(c.nodes()) == 2, 30, "2 nodes")

        ck = os.path.join(self.tmp, "ck")
        spec = {"id": "pyjob", "argv": [bin_path("ckpt_train"), "--steps", "100000",
                                        "--step-ms", "5"],
                "ckpt_dir": ck, "last_call_ms": 1000,
                "roles": [{"name": "worker", "min_nodes": 1, "max_nodes": 2, "nproc": 1}]}
        self.expect_eq(c.submit(spec), "submitted", "submit")
        self.wait_for(lambda: c.get("pyjob")["job"]["state"] == "running"
                      and c.get("pyjob")["job"]["nodes"] == 2, 60, "pyjob to run on 2")
        self.check("list and get: the job, its members with ranks and pids")
        self.expect([j["id"] for j in c.list()] == ["pyjob"], "list %r" % c.list(), d)
        self.expect([j["id"] for j in c.list(state="running")] == ["pyjob"], "filter", d)
        self.expect(c.list(state="suspended") == [], "filter suspended", d)
        self.wait_for(lambda: all(r.get("pid") for m in c.get("pyjob")["members"]
                                  for r in m["ranks"]), 20, "pids")
        g = c.get("pyjob")
        self.expect_eq(sorted(r["rank"] for m in g["members"] for r in m["ranks"]),
                       [0, 1], "ranks", d)

        self.check("checkpoint: the step asked for commits")
        step = c.checkpoint("pyjob")
        self.expect(step > 0, "checkpoint step %r" % step, d)
        self.wait_for(lambda: c.get("pyjob")["job"].get("ckpt_step", 0) >= step, 60,
                      "step %d to commit" % step)

        self.check("logs: pages with a cursor; every line prefixed")
        self.wait_for(lambda: len(c.logs("pyjob")["lines"]) >= 2, 30,
                      "both workers' first lines to be forwarded")
        page = c.logs("pyjob")
        self.expect(page["lines"] and all(re.match(r"\[worker \d\] ", l["text"])
                                          for l in page["lines"]), "page %r" % page, d)
        nxt = c.logs("pyjob", since=page["next"])
        self.expect(all(l["seq"] >= page["next"] for l in nxt["lines"]), "cursor", d)
        self.wait_for(lambda: c.logs("pyjob", rank=1)["lines"], 30, "rank 1's lines")
        only1 = c.logs("pyjob", rank=1)
        self.expect(only1["lines"] and all(l["rank"] == 1 for l in only1["lines"]),
                    "rank filter", d)

        self.check("scale to 1 node, then nodes shows one free")
        e = c.get("pyjob")["job"]["epoch"]
        c.scale("pyjob", target=1)
        self.wait_for(lambda: c.get("pyjob")["job"]["nodes"] == 1
                      and c.get("pyjob")["job"]["epoch"] > e
                      and c.get("pyjob")["job"]["state"] == "running", 60, "1 node")
        free = [n for n in c.nodes() if not n.get("job")]
        self.expect_eq(len(free), 1, "free nodes %r" % c.nodes(), d)
        c.cordon(free[0]["node_id"])
        self.expect_eq(c.nodes(free[0]["node_id"])[0]["health"], "cordoned", "health", d)
        c.uncordon(free[0]["node_id"])
        self.expect_eq(c.nodes(free[0]["node_id"])[0]["health"], "alive", "health", d)

        self.check("errors raise the exception of their code, naming the field")
        try:
            c.scale("pyjob", min=2, max=1)
            self.fail("scale 2:1 accepted")
        except errors.InvalidArgument as e:
            self.expect(e.field == "max" and e.code_name == "MUSTER_EINVAL"
                        and "must be >= min" in str(e), "error %r" % e.reply, d)
        try:
            c.get("nope")
            self.fail("get nope answered")
        except errors.NotFound as e:
            self.expect_eq(e.field, "job", "field", d)

        self.check("preempt: suspended, resumable; resume restores the checkpoint")
        c.preempt("pyjob", grace=20)
        self.wait_for(lambda: c.get("pyjob")["job"]["state"] == "suspended", 60,
                      "pyjob to be suspended")
        saved = c.get("pyjob")["job"]["ckpt_step"]
        self.expect(saved >= step, "suspended at %d < %d" % (saved, step), d)
        mark = c.logs("pyjob", since=1 << 62)["next"]
        c.resume("pyjob")
        self.wait_for(lambda: c.get("pyjob")["job"]["state"] == "running", 60,
                      "pyjob to run again")
        restored = None
        deadline = time.monotonic() + 60
        for line in c.follow_logs("pyjob", since=mark, until=deadline):
            m = re.search(r"restored step (\d+)", line["text"])
            if m:
                restored = int(m.group(1))
                break
        self.expect(restored == saved, "restored %r, saved %d" % (restored, saved), d)
        c.cancel("pyjob")
        self.wait_for(lambda: c.get("pyjob")["job"]["state"] == "cancelled", 60,
                      "pyjob cancelled")
        self.expect(c.logs("pyjob", since=1 << 62)["done"], "logs done", d)

        self.check("the local socket: no key needed (root is admin)")
        with Control(d.ctl_ep) as local:
            self.expect_eq([j["id"] for j in local.list()], ["pyjob"], "local list", d)

        self.check("an unlisted key gets no answer: TimedOut")
        other = os.path.join(self.tmp, "mallory.key")
        subprocess.run([bin_path("muster"), "keygen", other], check=True,
                       capture_output=True, timeout=30)
        with Control(d.ctl_tcp_ep, key_file=other, server_key=server_key,
                     timeout=1) as bad:
            try:
                bad.list()
                self.fail("an unlisted key was answered")
            except errors.TimedOut:
                pass


if __name__ == "__main__":
    main()
