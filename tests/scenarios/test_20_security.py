#!/usr/bin/python3
"""Scenario 20 — secure by default: each attack of the security issue, rerun
as a new user would, fails.

  * a raw TCP client without keys, or with a key musterd does not know, gets
    nothing on the agent port, the TCP control port, or an embedded `muster
    run` coordinator;
  * another local user (created here with useradd, removed after) sees none
    of root's jobs, and their status, cancel, checkpoint, preempt and resume
    of root's job are refused with MUSTER_EPERM while the job runs on;
  * a TCP control client with a key listed in users/ is served, and sees
    only what its user may;
  * a spoofed node id (the same node id, another key) is refused and the
    real node stays registered with its job running;
  * a key enrolled with one job's token cannot bring another job, and a
    node holding another coordinator's token gets no answer at all;
  * no join token reaches a worker's environment or a launcher's
    /proc/PID/cmdline; keys and tokens are private files.
"""
import os
import pwd
import re
import secrets
import shutil
import stat
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import (MusterCase, bin_path, ctl_call, curve_socket,  # noqa: E402
                     enroll_node_key, free_port, have_pyzmq, main, mp_pack,
                     mp_unpack, token_keys, zmq_request)

EPERM, EAUTH, ENOTFOUND = -10023, -10025, -10010
STATUS = mp_pack({"v": 1, "t": "ctl.status"})


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def listening_tcp_ports(pid):
    """TCP ports a process listens on (its socket inodes in /proc/net/tcp)."""
    inodes = set()
    fd_dir = "/proc/%d/fd" % pid
    for fd in os.listdir(fd_dir):
        try:
            link = os.readlink(os.path.join(fd_dir, fd))
        except OSError:
            continue
        m = re.match(r"socket:\[(\d+)\]", link)
        if m:
            inodes.add(m.group(1))
    ports = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = open(table).read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            if f[3] == "0A" and f[9] in inodes:  # LISTEN
                ports.append(int(f[1].rsplit(":", 1)[1], 16))
    return ports


class Security(MusterCase):
    def setUp(self):
        if not have_pyzmq():
            self.skipTest("python3-zmq is not installed")
        super().setUp()

    # ------------------------------------------------------------ helpers

    def make_user(self):
        if os.geteuid() != 0:
            self.skipTest("needs root to create a second user")
        for tool in ("useradd", "userdel", "runuser"):
            if shutil.which(tool) is None:
                self.skipTest("%s is not installed" % tool)
        user = "ms" + secrets.token_hex(4)
        r = subprocess.run(["useradd", "-M", "-s", "/bin/sh", user],
                           capture_output=True, timeout=60)
        if r.returncode != 0:
            self.fail("useradd %s: %s" % (user, r.stderr.decode(errors="replace")))
        self.addCleanup(lambda: subprocess.run(["userdel", "-f", user],
                                               capture_output=True, timeout=60))
        # The user must reach musterd's local socket inside our tmp.
        os.chmod(self.tmp, 0o711)
        return user

    def as_user(self, user, args, timeout=30):
        """Run `muster ARGS` as user to completion: (rc, stdout, stderr)."""
        r = subprocess.run(["runuser", "-u", user, "--", bin_path("muster")]
                           + list(args), capture_output=True, timeout=timeout,
                           env=self.env, cwd="/")
        return r.returncode, r.stdout.decode(errors="replace"), \
            r.stderr.decode(errors="replace")

    def submit_sleeper(self, d, job_id, seconds=60):
        job = {"id": job_id,
               "roles": [{"name": "worker", "min_nodes": 1, "max_nodes": 1,
                          "nproc": 1}],
               "argv": ["sleep", str(seconds)], "last_call_ms": 0}
        rep = ctl_call(d.ctl_ep, {"t": "ctl.submit", "job": job})
        self.expect(rep is not None and rep.get("status") == 0,
                    "root's submit: %r" % (rep,), d)

        def running():
            st = ctl_call(d.ctl_ep, {"t": "ctl.status", "job": job_id}) or {}
            jobs = st.get("jobs") or [{}]
            return jobs[0].get("state") == "running"
        self.wait_for(running, 30, "job %s to run" % job_id)

    def job_state(self, d, job_id):
        st = ctl_call(d.ctl_ep, {"t": "ctl.status", "job": job_id}) or {}
        return (st.get("jobs") or [{}])[0].get("state")

    # -------------------------------------------------------------- tests

    def test_unauthenticated_peers_get_nothing(self):
        import zmq
        d = self.musterd()
        self.check("a raw TCP DEALER without keys: no answer on the agent "
                   "port, nor on the TCP control port")
        for ep, frames in ((d.agent_ep, [mp_pack({"v": 1, "t": "agent.heartbeat",
                                                   "node_id": "x"})]),
                           (d.ctl_tcp_ep, [STATUS])):
            self.expect(zmq_request(ep, frames, timeout=2.0) is None,
                        "%s answered a peer without keys" % ep, d)
        self.check("a CURVE client with the right server key but a key musterd "
                   "does not know: no answer on either port")
        stranger = (d.server_key.encode(),) + zmq.curve_keypair()
        for ep in (d.agent_ep, d.ctl_tcp_ep):
            self.expect(zmq_request(ep, [STATUS], timeout=2.0, curve=stranger)
                        is None, "%s answered an unknown key" % ep, d)
        self.check("a join token's own key may only enrol: any other message on "
                   "that connection gets no answer")
        server, epub, esec = token_keys(d.token)
        self.expect(zmq_request(d.agent_ep, [mp_pack({
            "v": 1, "t": "agent.register", "node_id": "tok", "host": "127.0.0.1",
            "slots": 1})], timeout=2.0, curve=(server, epub, esec)) is None,
            "registration on a token's connection was answered", d)
        self.check("musterd logged the refusals (rate-limited) and still serves")
        self.wait_for(lambda: "AUTH-DENIED" in d.err, 10, "an AUTH-DENIED line")
        self.expect(ctl_call(d.ctl_ep, {"t": "ctl.status"}) is not None,
                    "the local socket stopped answering", d)

    def test_other_user_cannot_touch_roots_job(self):
        user = self.make_user()
        d = self.musterd()
        self.agent(d, "a1", 1)
        self.submit_sleeper(d, "rootjob")
        self.check("%s's `muster status` lists no job of root's" % user)
        rc, out, err = self.as_user(user, ["status", "--endpoint", d.ctl_ep])
        self.expect_eq(rc, 0, "status exit (%s)" % err, d)
        self.expect("rootjob" not in out, "root's job listed to %s:\n%s"
                    % (user, out), d)
        for cmd in (["status", "rootjob"], ["cancel", "rootjob"],
                    ["checkpoint", "rootjob"], ["preempt", "rootjob"],
                    ["resume", "rootjob"]):
            rc, out, err = self.as_user(user, [cmd[0], "--endpoint", d.ctl_ep]
                                        + cmd[1:])
            self.check("%s's `muster %s rootjob`: refused, naming the owner"
                       % (user, cmd[0]))
            self.expect(rc != 0 and "belongs to root" in err,
                        "muster %s as %s: rc %d, stderr %r" % (cmd[0], user, rc, err),
                        d)
        self.check("the same requests on the wire answer MUSTER_EPERM")
        r = subprocess.run(
            ["runuser", "-u", user, "--", "/usr/bin/python3", "-c",
             "import sys; sys.path.insert(0, %r); from harness import ctl_call; "
             "print(ctl_call(%r, {'t': 'ctl.cancel', 'job': 'rootjob'}))"
             % (os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                d.ctl_ep)], capture_output=True, timeout=60, env=self.env, cwd="/")
        self.expect("'code': %d" % EPERM in r.stdout.decode(),
                    "wire answer %r %r" % (r.stdout, r.stderr), d)
        self.check("root's job is still running; musterd logged CTL-REFUSED")
        self.expect_eq(self.job_state(d, "rootjob"), "running", "state", d)
        self.expect("CTL-REFUSED" in d.err, "CTL-REFUSED logged", d)
        self.check("root (an admin) sees and cancels it")
        rep = ctl_call(d.ctl_ep, {"t": "ctl.cancel", "job": "rootjob"})
        self.expect(rep is not None and rep.get("status") == 0, "cancel %r" % rep, d)

    def test_user_submission_runs_as_that_user(self):
        user = self.make_user()
        uid = pwd.getpwnam(user).pw_uid
        d = self.musterd()
        a = self.agent(d, "a1", 1)
        self.wait_for(lambda: (ctl_call(d.ctl_ep, {"t": "ctl.status"}) or {})
                      .get("nodes") == 1, 20, "the agent to register")
        self.check("%s submits `id -u` through the local socket; the root agent "
                   "runs it as %s (uid %d), never as root" % (user, user, uid))
        job = {"id": "userjob",
               "roles": [{"name": "worker", "min_nodes": 1, "max_nodes": 1,
                          "nproc": 1}],
               "argv": ["sh", "-c", "echo ID=$(id -u); cat /etc/shadow >/dev/null "
                        "2>&1 && echo SHADOW=readable || echo SHADOW=denied"],
               "last_call_ms": 0, "cwd": "/"}
        r = subprocess.run(
            ["runuser", "-u", user, "--", "/usr/bin/python3", "-c",
             "import sys; sys.path.insert(0, %r); from harness import ctl_call; "
             "print(ctl_call(%r, {'t': 'ctl.submit', 'job': %r}))"
             % (os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                d.ctl_ep, job)], capture_output=True, timeout=60, env=self.env,
            cwd="/")
        self.expect("'status': 0" in r.stdout.decode(), "submit as %s: %r %r"
                    % (user, r.stdout, r.stderr), d)
        self.wait_for(lambda: "SHADOW=" in a.out, 30, "the job's output")
        self.expect("ID=%d" % uid in a.out, "worker uid", a)
        self.expect("SHADOW=denied" in a.out, "/etc/shadow readable", a)
        st = ctl_call(d.ctl_ep, {"t": "ctl.status", "job": "userjob"}) or {}
        self.expect_eq((st.get("jobs") or [{}])[0].get("owner"), user,
                       "owner in ctl.status", d)

    def test_tcp_control_keys(self):
        user = self.make_user()
        d = self.musterd()
        self.agent(d, "a1", 1)
        self.submit_sleeper(d, "rootjob")
        keys = os.path.join(self.tmp, "keys")
        os.mkdir(keys)
        for name, extra in (("admin", ["--user", "root", "--admin"]),
                            ("plain", ["--user", user])):
            p = self.run_muster(["keygen"] + extra + [os.path.join(keys, name)])
            self.expect_eq(p.rc, 0, "keygen %s" % name, p)
            self.expect_eq(mode(os.path.join(keys, name + "_secret")), 0o600,
                           "secret key mode", p)
            shutil.copy(os.path.join(keys, name), os.path.join(d.state_dir, "users"))
        # musterd reads users/ at start.
        d.stop()
        d = self.musterd(name="musterd2", state_dir=d.state_dir)
        self.agent(d, "a2", 1)
        self.submit_sleeper(d, "rootjob2")
        srv = os.path.join(d.state_dir, "server.key")
        self.check("over TCP without --key: a clear error naming what to give")
        p = self.run_muster(["status", "--endpoint", d.ctl_tcp_ep])
        self.expect(p.rc != 0 and "--key" in p.err, "no-key error", p)
        self.check("with the admin key: every job")
        p = self.run_muster(["status", "--endpoint", d.ctl_tcp_ep, "--key",
                             os.path.join(keys, "admin"), "--server-key", srv])
        self.expect(p.rc == 0 and "rootjob2" in p.out, "admin status", p, d)
        self.check("with %s's key: none of root's jobs, and cancel is refused" % user)
        p = self.run_muster(["status", "--endpoint", d.ctl_tcp_ep, "--key",
                             os.path.join(keys, "plain"), "--server-key", srv])
        self.expect(p.rc == 0 and "rootjob2" not in p.out, "user status", p, d)
        p = self.run_muster(["cancel", "--endpoint", d.ctl_tcp_ep, "--key",
                             os.path.join(keys, "plain"), "--server-key", srv,
                             "rootjob2"])
        self.expect(p.rc != 0 and "belongs to root" in p.err, "user cancel", p, d)
        self.expect_eq(self.job_state(d, "rootjob2"), "running", "state", d)

    def test_spoofed_node_refused(self):
        import zmq
        d = self.musterd()
        real = self.agent(d, "n1", 1)
        self.submit_sleeper(d, "victim")
        self.check("an enrolled attacker registers node id n1 with its own key: "
                   "MUSTER_EPERM, and the real n1 keeps its job")
        key = enroll_node_key(d, "attacker")
        ctx = zmq.Context()
        s = curve_socket(ctx, zmq.DEALER, key)
        s.setsockopt(zmq.ROUTING_ID, b"n1")  # the old way to take n1 over
        s.connect(d.agent_ep)
        try:
            s.send(mp_pack({"v": 1, "t": "agent.register", "node_id": "n1",
                            "host": "127.0.0.1", "slots": 1}))
            self.expect(s.poll(5000), "no answer to the spoofed registration", d)
            ans = mp_unpack(s.recv())
            self.expect(ans.get("t") == "error" and ans.get("code") == EPERM
                        and "another key" in ans.get("message", ""),
                        "answer %r" % ans, d)
            self.check("its forged heartbeat and worker.state for n1 are not "
                       "taken as n1's (unknown node)")
            for m in ({"t": "agent.heartbeat", "node_id": "n1"},
                      {"t": "worker.state", "job": "victim", "epoch": 1,
                       "rank": 0, "state": "exited", "exit_code": 1}):
                s.send(mp_pack(dict({"v": 1}, **m)))
                self.expect(s.poll(5000), "no answer to %s" % m["t"], d)
                ans = mp_unpack(s.recv())
                self.expect(ans.get("code") == ENOTFOUND, "answer %r" % ans, d)
        finally:
            s.close(0)
            ctx.term()
        time.sleep(1.0)  # ordering only: a takeover would show by now
        self.expect("NODE-SPOOF" in d.err, "NODE-SPOOF logged", d)
        self.check("the job still runs on the real n1, which stays registered")
        self.expect_eq(self.job_state(d, "victim"), "running", "state", d, real)
        st = ctl_call(d.ctl_ep, {"t": "ctl.status"}) or {}
        self.expect_eq(st.get("nodes"), 1, "registered nodes", d)
        self.expect("NODE-LOST" not in d.err and "REREGISTER" not in d.err,
                    "n1 was disturbed", d)
        self.expect(real.running(), "the real agent exited", real)

    def test_job_token_scopes(self):
        import zmq
        port = free_port()
        ep = "127.0.0.1:%d" % port
        tok = os.path.join(self.tmp, "job.token")
        host = self.muster_run(["--rdzv-endpoint", ep, "--host", "--nnodes", "2",
                                "--rdzv-id", "jobA", "--node-id", "h0",
                                "--join-token-file", tok, "--",
                                "sh", "-c", "echo ENV; env; sleep 1"], name="host")
        self.wait_for(lambda: os.path.exists(tok), 20, "the job token")
        with open(tok) as f:
            token = f.read().strip()
        self.check("a key enrolled with job jobA's token cannot bring job jobB")
        server, epub, esec = token_keys(token)
        pub, sec = zmq.curve_keypair()
        rep = zmq_request("tcp://" + ep, [mp_pack({
            "v": 1, "t": "auth.enroll", "node_key": pub.decode(),
            "node_id": "x"})], 5.0, curve=(server, epub, esec))
        self.expect(rep is not None and mp_unpack(rep[-1]).get("job") == "jobA",
                    "enrolment %r" % rep, host)
        spec = {"id": "jobB", "argv": ["true"],
                "roles": [{"name": "worker", "min_nodes": 1, "max_nodes": 1,
                           "nproc": 1}]}
        rep = zmq_request("tcp://" + ep, [mp_pack({
            "v": 1, "t": "agent.register", "node_id": "x", "host": "127.0.0.1",
            "slots": 1, "job": spec})], 5.0, curve=(server, pub, sec))
        ans = mp_unpack(rep[-1]) if rep else {}
        self.expect(ans.get("code") == EPERM and "only join" in ans.get("message", ""),
                    "answer %r" % ans, host)
        self.check("a node holding another coordinator's token gets no answer: "
                   "exit 1 after --connect-timeout, saying why it may be")
        other = "mj1_" + secrets.token_hex(64)
        p = self.muster_run(["--rdzv-endpoint", ep, "--nnodes", "2",
                             "--rdzv-id", "jobA", "--node-id", "intruder",
                             "--connect-timeout", "2s", "--join-token", other,
                             "--", "true"], name="intruder")
        self.expect_eq(p.wait(30), 1, "intruder exit", p)
        self.expect("another job or coordinator" in p.err, "message", p)
        self.check("the inline --join-token is blanked in the launcher's "
                   "/proc/PID/cmdline")
        joiner = self.muster_run(["--rdzv-endpoint", ep, "--nnodes", "2",
                                  "--rdzv-id", "jobA", "--node-id", "h1",
                                  "--join-token", token, "--",
                                  "sh", "-c", "echo ENV; env; sleep 1"],
                                 name="joiner")
        self.wait_for(lambda: "ENV" in joiner.out, 30, "the joiner's worker")
        try:
            cmdline = open("/proc/%d/cmdline" % joiner.pid, "rb").read()
            self.expect(token.encode() not in cmdline, "token in cmdline", joiner)
        except OSError:
            pass  # already gone: nothing to read
        self.check("both nodes finish; no worker saw a join token")
        for n in (host, joiner):
            self.expect_eq(n.wait(), 0, "exit of %s" % n.name, n)
            self.expect(token not in n.out and "MUSTER_JOIN_TOKEN" not in n.out,
                        "a join token in %s's worker environment" % n.name, n)

    def test_env_token_never_reaches_workers(self):
        d = self.musterd()
        self.check("MUSTER_JOIN_TOKEN given to a joining launcher is gone from "
                   "its workers' environment")
        n = self.node(d, "e1", ["sh", "-c", "env"], 1, 1, "envjob")
        self.expect_eq(n.wait(), 0, "exit", n)
        self.expect("MUSTER_JOIN_TOKEN" not in n.out and d.token not in n.out,
                    "token in the worker's environment", n)
        a = self.agent(d, "a1", 1)
        self.wait_for(lambda: (ctl_call(d.ctl_ep, {"t": "ctl.status"}) or {})
                      .get("nodes") == 1, 20, "the agent to register")
        job = {"id": "envjob2", "argv": ["sh", "-c", "env; echo DONE"],
               "roles": [{"name": "worker", "min_nodes": 1, "max_nodes": 1,
                          "nproc": 1}], "last_call_ms": 0}
        ctl_call(d.ctl_ep, {"t": "ctl.submit", "job": job})
        self.wait_for(lambda: "DONE" in a.out, 30, "the agent's worker")
        self.expect(d.token not in a.out, "token in a muster-agent worker's env", a)

    def test_embedded_coordinator_is_private(self):
        p = self.muster_run(["--nproc-per-node", "1", "--", "sleep", "20"])
        self.wait_for(lambda: listening_tcp_ports(p.pid), 20,
                      "the embedded coordinator to listen")
        ports = listening_tcp_ports(p.pid)
        self.check("`muster run`'s embedded coordinator (ports %s) answers no "
                   "one else: no keys, no answer" % ports)
        for port in ports:
            for frames in ([STATUS], [mp_pack({"v": 1, "t": "agent.heartbeat",
                                                "node_id": "local"})]):
                self.expect(zmq_request("tcp://127.0.0.1:%d" % port, frames,
                                        timeout=1.5) is None,
                            "port %d answered" % port, p)
        p.signal(2)
        p.wait()

    def test_private_files(self):
        d = self.musterd()
        a = self.agent(d, "a1", 1)
        self.wait_for(lambda: (ctl_call(d.ctl_ep, {"t": "ctl.status"}) or {})
                      .get("nodes") == 1, 20, "the agent to register")
        sd = d.state_dir
        self.check("state directory 0711; secrets 0600; key directories 0700; "
                   "the local socket 0666 (who asks is the kernel's word)")
        want = {sd: 0o711, os.path.join(sd, "server.key_secret"): 0o600,
                os.path.join(sd, "join-token"): 0o600,
                os.path.join(sd, "server.key"): 0o644,
                os.path.join(sd, "authorized"): 0o700,
                os.path.join(sd, "users"): 0o700,
                os.path.join(sd, "ctl.sock"): 0o666,
                os.path.join(self.tmp, "a1.agent", "agent.key_secret"): 0o600}
        for path, m in want.items():
            self.expect_eq(mode(path), m, "mode of %s" % path, d, a)
        self.check("the agent's key was enrolled and kept in authorized/")
        self.expect(len(os.listdir(os.path.join(sd, "authorized"))) == 1,
                    "authorized/ holds one node key", d)


if __name__ == "__main__":
    main()
