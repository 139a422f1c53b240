"""cluster.py — the processes of a chaos run: a musterd primary (with its
state directory and journal) and, optionally, a standby musterd following
its journal, in the root namespace, and one muster-agent per network
namespace listing both coordinators, each restartable after a kill -9.

Every incarnation of a process writes its own stdout/stderr files
(musterd.1.err, a0.3.out, ...), so logs survive restarts and the checks
read the whole history.  Every process carries MUSTER_TEST_TAG=<tag> in its
environment (workers inherit it), which is how the end-of-run check finds
anything left behind; processes are only ever signalled by pid.
"""

import os
import re
import shutil
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


def _last_term(seat):
    terms = [int(m.group(1)) for p, _ in seat.history
             for m in re.finditer(r"SERVING .* term (\d+)", read(p.err_path))]
    return max(terms) if terms else 0


def read(path):
    try:
        with open(path, "r", errors="replace") as f:
            return f.read()
    except OSError:
        return ""


class Seat:
    """One of the two places a musterd runs: a fixed agent port on the
    bridge (the agents list both), a fixed journal-stream port (where a
    standby follows it, and where a newer primary fences it), and its own
    state directory.  Each incarnation is a Proc named mK.G."""

    def __init__(self, tmp, k, hub_ip):
        self.k = k
        self.tmp = tmp
        self.state_dir = os.path.join(tmp, "musterd%d.state" % k)
        self.endpoints_file = os.path.join(tmp, "musterd%d.endpoints" % k)
        self.agent_ep = "tcp://%s:%d" % (hub_ip, _free_port(hub_ip))
        self.stream_ep = "tcp://127.0.0.1:%d" % _free_port("127.0.0.1")
        self.proc = None
        self.gen = 0
        self.role = None          # "primary" or "standby" (as started)
        self.history = []         # (Proc, role) of every incarnation

    def running(self):
        return self.proc is not None and self.proc.running()

    def err(self):
        return read(self.proc.err_path) if self.proc else ""

    def term(self):
        """The term this incarnation serves under, or None (not serving:
        a standby still following, or not running)."""
        if not self.running():
            return None
        m = re.search(r"SERVING .* term (\d+)", self.err())
        return int(m.group(1)) if m else None

    def synced(self):
        return self.running() and "STANDBY-SYNCED" in self.err()


def _free_port(ip):
    with socket.socket() as s:
        s.bind((ip, 0))
        return s.getsockname()[1]


class Cluster:
    """Agents in namespaces under one acting musterd, and (standby=True) a
    second one following its journal, ready to take over.  The seats swap
    roles as faults go: supervise() brings a dead seat back as the standby
    of the acting one (or as the primary when there is none)."""

    def __init__(self, tmp, topo, tag, heartbeat="200ms", restore_window="5s",
                 slots=1, standby=False, lease="1s"):
        self.tmp = tmp
        self.topo = topo
        self.tag = tag
        self.env = dict(os.environ)
        self.env[TAG_VAR] = tag
        self.env["MUSTER_STATE_DIR"] = os.path.join(tmp, "state")
        self.env.pop("MUSTER_JOIN_TOKEN", None)
        self.env.pop("MUSTER_CTL_ENDPOINT", None)
        self.heartbeat = heartbeat
        self.restore_window = restore_window
        self.lease = lease
        self.slots = slots
        self.seats = [Seat(tmp, k, topo.hub_ip) for k in range(2 if standby else 1)]
        self.agents = [None] * topo.n
        self.agent_gen = [0] * topo.n
        self.all_procs = []

    # ------------------------------------------------------------ musterd

    def _argv(self, seat):
        argv = [bin_path("musterd"), "--agent-bind", seat.agent_ep,
                "--ctl-bind", "tcp://127.0.0.1:0", "--state-dir", seat.state_dir,
                "--endpoints-file", seat.endpoints_file,
                "--heartbeat", self.heartbeat,
                "--restore-window", self.restore_window]
        if len(self.seats) > 1:
            argv += ["--standby-bind", seat.stream_ep]
        return argv

    def _spawn(self, seat, argv, role, serving, timeout=20):
        if seat.running():
            raise AssertionError("musterd %d still runs in seat %d; not "
                                 "starting another" % (seat.proc.pid, seat.k))
        deadline = time.monotonic() + timeout
        while True:
            if os.path.exists(seat.endpoints_file):
                os.unlink(seat.endpoints_file)
            seat.gen += 1
            p = Proc(self.tmp, "m%d.%d" % (seat.k, seat.gen), argv, self.env)
            self.all_procs.append(p)
            seat.proc, seat.role = p, role
            seat.history.append((p, role))
            if not serving:
                return p
            if self._wait_endpoints(seat, deadline):
                return p
            # The port may still be held for a moment after a kill -9.
            if "Address already in use" not in read(p.err_path) \
                    or time.monotonic() > deadline:
                raise AssertionError("musterd did not come up:\n" + read(p.err_path))
            time.sleep(0.2)

    def start_coord(self, k=0):
        """Start (or restart on its state dir and ports) the primary in
        seat k.  No other seat may be serving: one coordinator at a time,
        unless fencing is what is being tested."""
        for s in self.seats:
            if s.k != k and s.term() is not None:
                raise AssertionError("seat %d serves (term %d); not starting "
                                     "a primary in seat %d" % (s.k, s.term(), k))
        seat = self.seats[k]
        return self._spawn(seat, self._argv(seat), "primary", True)

    def start_standby(self, k, of):
        """A standby in seat k of the primary in seat `of`: the server's
        keys, join token and enrolled nodes copied from it (docs/standby.md),
        its own stale journal removed (it receives a fresh copy)."""
        seat, prim = self.seats[k], self.seats[of]
        os.makedirs(seat.state_dir, mode=0o711, exist_ok=True)
        for f in ("server.key", "server.key_secret", "join-token"):
            src = os.path.join(prim.state_dir, f)
            if os.path.exists(src):
                shutil.copy2(src, os.path.join(seat.state_dir, f))
        auth = os.path.join(prim.state_dir, "authorized")
        if os.path.isdir(auth):
            shutil.copytree(auth, os.path.join(seat.state_dir, "authorized"),
                            dirs_exist_ok=True)
        shutil.rmtree(os.path.join(seat.state_dir, "journal"), ignore_errors=True)
        argv = self._argv(seat) + ["--standby-of", prim.stream_ep,
                                   "--standby-lease", self.lease]
        return self._spawn(seat, argv, "standby", False)

    def _wait_endpoints(self, seat, deadline):
        while time.monotonic() < deadline:
            if not seat.proc.running():
                return False
            if self._endpoints(seat).get("agent"):
                return True
            time.sleep(0.05)
        return False

    @staticmethod
    def _endpoints(seat):
        eps = {}
        for line in read(seat.endpoints_file).splitlines():
            parts = line.split()
            if len(parts) == 2:
                eps[parts[0]] = parts[1]
        return eps

    def acting(self):
        """The seat serving the highest term now, or None."""
        best = None
        for s in self.seats:
            t = s.term()
            if t is not None and (best is None or t > best.term()):
                best = s
        return best

    def standby_seat(self):
        a = self.acting()
        for s in self.seats:
            if s is not a and s.running() and s.term() is None:
                return s
        return None

    @property
    def coord(self):
        """The acting primary's Proc (None when no seat serves)."""
        a = self.acting()
        return a.proc if a else None

    @property
    def ctl_ep(self):
        a = self.acting()
        if a is None:
            return None
        eps = self._endpoints(a)
        return eps.get("ctl-local") or eps.get("ctl")

    @property
    def agent_eps(self):
        return ",".join(s.agent_ep for s in self.seats)

    @property
    def state_dir(self):
        a = self.acting()
        return (a or self.seats[0]).state_dir

    @property
    def token_file(self):
        return os.path.join(self.seats[0].state_dir, "join-token")

    def coord_pids(self):
        return [p.pid for s in self.seats for p, _ in s.history]

    def coord_logs(self):
        return "".join(read(p.err_path) for s in self.seats for p, _ in s.history)

    def supervise(self, say, timeout=20):
        """After a fault: wait until exactly one seat serves (a stopped
        primary that wakes under a newer term must step down) and bring
        every dead seat back: as the standby of the acting one, or, when
        none acts and no synced standby will take over, as the primary."""
        deadline = time.monotonic() + timeout
        while True:
            serving = [s for s in self.seats if s.term() is not None]
            if len(serving) <= 1:
                break
            if time.monotonic() > deadline:
                raise AssertionError(
                    "two coordinators serve at once: %s"
                    % ", ".join("seat %d pid %d term %d" % (s.k, s.proc.pid, s.term())
                                for s in serving))
            time.sleep(0.1)
        a = self.acting()
        if a is None:
            sb = [s for s in self.seats if s.synced()]
            # A synced standby takes over within its lease: wait for it.
            while sb and self.acting() is None and time.monotonic() < deadline:
                time.sleep(0.1)
            a = self.acting()
            if a is not None:
                self._wait_endpoints(a, deadline)
        if a is None:
            dead = [s for s in self.seats if not s.running()]
            if not dead:
                raise AssertionError("no seat serves and none can be restarted")
            # The newest state: the seat that served the highest term last.
            k = max(dead, key=lambda s: _last_term(s)).k
            say("seat %d restarts as the primary" % k)
            self.start_coord(k)
            a = self.seats[k]
        for s in self.seats:
            if not s.running():
                say("seat %d restarts as the standby of seat %d" % (s.k, a.k))
                self.start_standby(s.k, a.k)

    def terms_served(self):
        """[(seat, pid, term)] for every incarnation that served."""
        out = []
        for s in self.seats:
            for p, _ in s.history:
                for m in re.finditer(r"SERVING .* term (\d+)", read(p.err_path)):
                    out.append((s.k, p.pid, int(m.group(1))))
        return out

    # ------------------------------------------------------------- agents

    def start_agent(self, i):
        if self.agents[i] is not None and self.agents[i].running():
            raise AssertionError("agent a%d still runs" % i)
        self.agent_gen[i] += 1
        node = "a%d" % i
        argv = self.topo.exec_prefix(i) + [
            bin_path("muster-agent"), "--coordinator", self.agent_eps,
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
