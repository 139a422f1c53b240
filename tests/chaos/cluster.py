"""cluster.py — the processes of a chaos run: one musterd (the primary,
with its state directory and journal) in the root namespace and one
muster-agent per network namespace, each restartable after a kill -9.

Every incarnation of a process writes its own stdout/stderr files
(musterd.1.err, a0.3.out, ...), so logs survive restarts and the checks
read the whole history.  Every process carries MUSTER_TEST_TAG=<tag> in its
environment (workers inherit it), which is how the end-of-run check finds
anything left behind; processes are only ever signalled by pid.
"""

import os
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import TAG_VAR, bin_path, tagged_pids  # noqa: E402


class Proc:
    """One incarnation of a program, output to files."""

    def __init__(self, tmp, name, argv, env):
        self.name = name
        self.out_path = os.path.join(tmp, name + ".out")
        self.err_path = os.path.join(tmp, name + ".err")
        with open(self.out_path, "wb") as o, open(self.err_path, "wb") as e:
            self.p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=o,
                                      stderr=e, env=env, cwd=tmp)
        self.pid = self.p.pid
        self.argv = argv

    def running(self):
        return self.p.poll() is None

    def signal(self, sig):
        if self.running():
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass

    def kill(self):
        self.signal(signal.SIGKILL)
        self.p.wait(timeout=10)

    def stop(self, timeout=15):
        if not self.running():
            return self.p.returncode
        self.signal(signal.SIGCONT)
        self.signal(signal.SIGTERM)
        try:
            return self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return self.p.returncode


def read(path):
    try:
        with open(path, "r", errors="replace") as f:
            return f.read()
    except OSError:
        return ""


class Cluster:
    def __init__(self, tmp, topo, tag, heartbeat="200ms", restore_window="5s",
                 slots=1):
        self.tmp = tmp
        self.topo = topo
        self.tag = tag
        self.env = dict(os.environ)
        self.env[TAG_VAR] = tag
        self.env["MUSTER_STATE_DIR"] = os.path.join(tmp, "state")
        self.env.pop("MUSTER_JOIN_TOKEN", None)
        self.env.pop("MUSTER_CTL_ENDPOINT", None)
        self.state_dir = os.path.join(tmp, "musterd.state")
        self.endpoints_file = os.path.join(tmp, "musterd.endpoints")
        self.heartbeat = heartbeat
        self.restore_window = restore_window
        self.slots = slots
        # A fixed agent port on the bridge: a restarted musterd binds it again.
        with socket.socket() as s:
            s.bind((topo.hub_ip, 0))
            self.port = s.getsockname()[1]
        self.agent_ep = "tcp://%s:%d" % (topo.hub_ip, self.port)
        self.coord = None
        self.coord_gen = 0
        self.coord_pids = []      # every musterd incarnation, in order
        self.agents = [None] * topo.n
        self.agent_gen = [0] * topo.n
        self.all_procs = []
        self.ctl_ep = None

    # ------------------------------------------------------------ musterd

    def start_coord(self, timeout=20):
        """Start (or restart on the same state dir and port) musterd.  The
        previous incarnation must be gone: one coordinator at a time."""
        if self.coord is not None and self.coord.running():
            raise AssertionError("musterd %d still runs; not starting another"
                                 % self.coord.pid)
        if os.path.exists(self.endpoints_file):
            os.unlink(self.endpoints_file)
        self.coord_gen += 1
        argv = [bin_path("musterd"), "--agent-bind", self.agent_ep,
                "--ctl-bind", "tcp://127.0.0.1:0", "--state-dir", self.state_dir,
                "--endpoints-file", self.endpoints_file,
                "--heartbeat", self.heartbeat,
                "--restore-window", self.restore_window]
        deadline = time.monotonic() + timeout
        while True:
            p = Proc(self.tmp, "musterd.%d" % self.coord_gen, argv, self.env)
            self.all_procs.append(p)
            ok = self._wait_endpoints(p, deadline)
            if ok:
                break
            # The port may still be held for a moment after a kill -9.
            if "Address already in use" not in read(p.err_path) \
                    or time.monotonic() > deadline:
                raise AssertionError("musterd did not come up:\n" + read(p.err_path))
            time.sleep(0.2)
            self.coord_gen += 1
        self.coord = p
        self.coord_pids.append(p.pid)
        return p

    def _wait_endpoints(self, p, deadline):
        while time.monotonic() < deadline:
            if not p.running():
                return False
            eps = {}
            for line in read(self.endpoints_file).splitlines():
                parts = line.split()
                if len(parts) == 2:
                    eps[parts[0]] = parts[1]
            if eps.get("agent"):
                self.ctl_ep = eps.get("ctl-local") or eps.get("ctl")
                return True
            time.sleep(0.05)
        return False

    @property
    def token_file(self):
        return os.path.join(self.state_dir, "join-token")

    def coord_logs(self):
        return "".join(read(os.path.join(self.tmp, "musterd.%d.err" % g))
                       for g in range(1, self.coord_gen + 1))

    # ------------------------------------------------------------- agents

    def start_agent(self, i):
        if self.agents[i] is not None and self.agents[i].running():
            raise AssertionError("agent a%d still runs" % i)
        self.agent_gen[i] += 1
        node = "a%d" % i
        argv = self.topo.exec_prefix(i) + [
            bin_path("muster-agent"), "--coordinator", self.agent_ep,
            "--slots", str(self.slots), "--node-id", node,
            "--host", self.topo.agent_ip(i),
            "--state-dir", os.path.join(self.tmp, node + ".agent"),
            "--join-token-file", self.token_file]
        # `ip netns exec` execs the agent: the pid is the agent's.
        p = Proc(self.tmp, "%s.%d" % (node, self.agent_gen[i]), argv, self.env)
        self.all_procs.append(p)
        self.agents[i] = p
        return p

    def agent_out_paths(self):
        return [os.path.join(self.tmp, "a%d.%d.out" % (i, g))
                for i in range(self.topo.n)
                for g in range(1, self.agent_gen[i] + 1)]

    # -------------------------------------------------------------- ending

    def stop_all(self):
        for p in reversed(self.all_procs):
            p.stop()

    def leftovers(self, timeout=15):
        """Tagged pids still alive `timeout` s after everything stopped."""
        deadline = time.monotonic() + timeout
        left = tagged_pids(self.tag)
        while left and time.monotonic() < deadline:
            time.sleep(0.2)
            left = tagged_pids(self.tag)
        return left

    def kill_tagged(self):
        for pid in tagged_pids(self.tag):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
