"""harness.py — the shared harness of muster's black-box scenario tests.

Every scenario starts the real programs (musterd, muster run, muster-agent)
on 127.0.0.1 with ephemeral ports, the way Redis's start_server does, and
asserts on what a user sees: exit status, output, files.  The rules it
enforces, so that a scenario never hangs and never leaves anything behind:

  * every wait is bounded (Proc.wait, wait_for): on timeout the process is
    killed and the test fails, printing what the processes wrote;
  * every process is started with MUSTER_TEST_TAG=<random> in its
    environment; workers and their children inherit it.  When a test ends,
    its processes are stopped (SIGTERM, then SIGKILL, by pid) and then no
    process carrying the tag may remain in /proc/*/environ: that is the
    "no process left behind" check, run after EVERY test.  Stragglers are
    named in the failure and then killed, by pid;
  * every test works in its own temporary directory, removed at the end.

Scenarios are unittest test cases (class MusterCase); each prints what it
checks.  The programs are found in $MUSTER_BIN (ctest sets it to
${CMAKE_BINARY_DIR}/bin), else in build/bin of this source tree.

The control and agent ports speak msgpack over ZeroMQ; the small msgpack
codec below lets tests craft valid and malformed messages without the
msgpack module, and zmq_request() sends them with pyzmq when it is
installed, else with the zmq_probe helper built from tests/zmq_probe.c.
"""

import os
import re
import secrets
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import unittest

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
SRC_DIR = os.path.dirname(TESTS_DIR)
BIN = os.path.abspath(os.environ.get("MUSTER_BIN") or os.path.join(SRC_DIR, "build", "bin"))
TAG_VAR = "MUSTER_TEST_TAG"

# Generous bounds: they only keep a broken build from hanging the suite;
# no test asserts on how fast anything is.
RUN_TIMEOUT = 60.0        # one muster run to finish
START_TIMEOUT = 15.0      # a daemon to come up
STOP_TIMEOUT = 10.0       # a process to go after SIGTERM (before SIGKILL)
LEFTOVER_TIMEOUT = 15.0   # tagged processes to vanish once everything stopped
TAIL_CHARS = 4000         # how much of each output a failure prints

WORKER_LINE = re.compile(r"^\[(\S+) (\d+)\] (.*)$")


def bin_path(name):
    return os.path.join(BIN, name)


def free_port():
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def say(msg):
    print(msg, flush=True)


def tail(text, n=TAIL_CHARS):
    if len(text) <= n:
        return text
    return "...[%d bytes cut]...\n%s" % (len(text) - n, text[-n:])


def worker_lines(text, role=None):
    """{rank: [line, ...]} of the '[role rank] line' lines in text."""
    out = {}
    for line in text.splitlines():
        m = WORKER_LINE.match(line)
        if m and (role is None or m.group(1) == role):
            out.setdefault(int(m.group(2)), []).append(m.group(3))
    return out


def parse_kv_line(line):
    """'K1=v1 K2=v2 ...' -> dict (values hold no spaces)."""
    d = {}
    for tok in line.split():
        if "=" in tok:
            k, v = tok.split("=", 1)
            d[k] = v
    return d


# ------------------------------------------------------------- processes


class Proc:
    """A process the test started; stdout and stderr go to files (so a
    chatty process can never block on a full pipe)."""

    def __init__(self, case, name, argv, env, cwd=None):
        self.case = case
        self.name = name
        self.argv = list(argv)
        self.out_path = os.path.join(case.tmp, name + ".out")
        self.err_path = os.path.join(case.tmp, name + ".err")
        with open(self.out_path, "wb") as o, open(self.err_path, "wb") as e:
            self.p = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL,
                                      stdout=o, stderr=e, env=env,
                                      cwd=cwd or case.tmp)
        self.pid = self.p.pid
        self.started = time.monotonic()
        self.rc = None

    def poll(self):
        if self.rc is None:
            self.rc = self.p.poll()
        return self.rc

    def running(self):
        return self.poll() is None

    def wait(self, timeout=RUN_TIMEOUT):
        """Exit status (negative: killed by that signal); fails the test if
        the process is still running after `timeout` seconds."""
        try:
            self.rc = self.p.wait(timeout=timeout)
            return self.rc
        except subprocess.TimeoutExpired:
            pass
        self.kill()
        self.case.fail("%s did not finish within %.0f s (killed)\n%s"
                       % (self.name, timeout, self.case.describe()))

    def signal(self, sig):
        if self.running():
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass

    def kill(self):
        self.signal(signal.SIGKILL)
        try:
            self.rc = self.p.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            pass

    def stop(self):
        """SIGTERM, then SIGKILL if it is still there after STOP_TIMEOUT."""
        if not self.running():
            return self.rc
        self.signal(signal.SIGTERM)
        try:
            self.rc = self.p.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill()
        return self.rc

    @property
    def out(self):
        with open(self.out_path, "r", errors="replace") as f:
            return f.read()

    @property
    def err(self):
        with open(self.err_path, "r", errors="replace") as f:
            return f.read()

    def describe(self):
        state = "running" if self.running() else "exit status %s" % self.rc
        return ("--- %s (pid %d, %s): %s\n--- stdout:\n%s\n--- stderr:\n%s\n"
                % (self.name, self.pid, state, " ".join(self.argv),
                   tail(self.out), tail(self.err)))


class Musterd(Proc):
    """musterd on ephemeral ports; the bound endpoints are read back from
    its --endpoints-file."""

    def __init__(self, case, name, extra=(), agent_bind="tcp://127.0.0.1:0",
                 state_dir=None):
        self.endpoints_file = os.path.join(case.tmp, name + ".endpoints")
        if os.path.exists(self.endpoints_file):
            os.unlink(self.endpoints_file)  # a restart under the same name
        # Keys, join token and the local control socket live here (not in
        # /var/lib/muster, which a test must never touch).
        self.state_dir = state_dir or os.path.join(case.tmp, name + ".state")
        argv = [bin_path("musterd"), "--agent-bind", agent_bind,
                "--ctl-bind", "tcp://127.0.0.1:0",
                "--state-dir", self.state_dir,
                "--endpoints-file", self.endpoints_file] + list(extra)
        super().__init__(case, name, argv, case.env)
        self.agent_ep = self.ctl_ep = self.ctl_tcp_ep = None
        self.server_key = None
        self.token_file = os.path.join(self.state_dir, "join-token")

    def wait_ready(self, timeout=START_TIMEOUT):
        def ready():
            if not self.running():
                self.case.fail("%s exited before serving\n%s"
                               % (self.name, self.case.describe()))
            if not os.path.exists(self.endpoints_file):
                return False
            eps = {}
            with open(self.endpoints_file) as f:
                for line in f:
                    parts = line.split()
                    if len(parts) == 2:
                        eps[parts[0]] = parts[1]
            self.agent_ep = eps.get("agent")
            self.ctl_tcp_ep = eps.get("ctl")
            # Tests are root (an admin) on the local socket; the TCP control
            # port needs a listed key (see test_20_security).
            self.ctl_ep = eps.get("ctl-local") or self.ctl_tcp_ep
            self.server_key = eps.get("server-key")
            return self.agent_ep is not None
        self.case.wait_for(ready, timeout, "%s to write its endpoints" % self.name)
        return self

    @property
    def agent_port(self):
        return int(self.agent_ep.rsplit(":", 1)[1])

    @property
    def token(self):
        """The cluster join token (secret) this musterd wrote."""
        if not os.path.exists(self.token_file):
            return None
        with open(self.token_file) as f:
            return f.read().strip()

    @property
    def rdzv(self):
        """The --rdzv-endpoint form (HOST:PORT) of the agent port."""
        return "127.0.0.1:%d" % self.agent_port


# ------------------------------------------------------------ test case


def tagged_pids(tag):
    """Pids of live processes whose environment holds MUSTER_TEST_TAG=tag
    (zombies have no readable environment and are not counted)."""
    needle = ("%s=%s" % (TAG_VAR, tag)).encode()
    me = os.getpid()
    found = []
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == me:
            continue
        try:
            with open("/proc/%s/environ" % d, "rb") as f:
                if needle in f.read().split(b"\0"):
                    found.append(int(d))
        except OSError:
            pass
    return found


def proc_cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return "?"


class MusterCase(unittest.TestCase):
    """Base of every scenario: a tag, a temporary directory, the processes
    it started, and the checks run when the test ends."""

    maxDiff = None

    def setUp(self):
        for prog in ("muster", "musterd", "muster-agent", "muster-exec"):
            if not os.access(bin_path(prog), os.X_OK):
                self.fail("%s is not built (MUSTER_BIN=%s)" % (prog, BIN))
        self.tag = secrets.token_hex(8)
        self.tmp = tempfile.mkdtemp(prefix="muster-test-")
        self.env = dict(os.environ)
        self.env[TAG_VAR] = self.tag
        self.env.pop("MUSTER_JOIN_TOKEN", None)
        # Job secrets, agent keys and default sockets go to the test's own
        # directory, never to /var/lib/muster or a home directory.
        self.env["MUSTER_STATE_DIR"] = os.path.join(self.tmp, "state")
        self.env.pop("MUSTER_CTL_ENDPOINT", None)
        self.procs = []
        self.extra_dirs = []
        self.t0 = time.monotonic()
        say("\n=== %s (tag %s)" % (self.id(), self.tag))

    def tearDown(self):
        try:
            for p in reversed(self.procs):
                p.stop()
            self.assert_no_process_left()
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)
            for d in self.extra_dirs:
                shutil.rmtree(d, ignore_errors=True)
            say("=== %s done in %.1f s" % (self.id(), time.monotonic() - self.t0))

    # -- checks and reporting

    def check(self, what):
        """Announce a check (every test prints what it checks)."""
        say("  check: " + what)

    def describe(self):
        return "".join(p.describe() for p in self.procs)

    def expect(self, cond, msg, *procs):
        """assertTrue that prints the processes' output when it fails: the
        ones named first, then every other process of the test (the cause
        of a failure is often in a process the check did not name)."""
        if not cond:
            rest = [p for p in self.procs if p not in procs]
            text = "".join(p.describe() for p in procs)
            if rest:
                text += ("--- the test's other processes:\n" if procs else "")
                text += "".join(p.describe() for p in rest)
            self.fail(msg + "\n" + text)

    def expect_eq(self, got, want, msg, *procs):
        self.expect(got == want, "%s: got %r, want %r" % (msg, got, want), *procs)

    def wait_for(self, pred, timeout, what, interval=0.05):
        """Poll pred() until it is true; fail after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            v = pred()
            if v:
                return v
            if time.monotonic() >= deadline:
                self.fail("timed out after %.0f s waiting for %s\n%s"
                          % (timeout, what, self.describe()))
            time.sleep(interval)

    def assert_no_process_left(self, timeout=LEFTOVER_TIMEOUT, what="test end",
                               allow=()):
        """No process with this test's tag may remain (bounded wait for the
        ones already dying), except the processes `allow` (Procs the test
        still runs, e.g. musterd); stragglers are reported, then killed."""
        self.check("no process left behind (%s)" % what)
        keep = {p.pid for p in allow if p.running()}
        deadline = time.monotonic() + timeout
        left = [pid for pid in tagged_pids(self.tag) if pid not in keep]
        while left and time.monotonic() < deadline:
            time.sleep(0.1)
            left = [pid for pid in tagged_pids(self.tag) if pid not in keep]
        if not left:
            return
        names = ["%d: %s" % (pid, proc_cmdline(pid)) for pid in left]
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        self.fail("%d process(es) with tag %s left %.0f s after %s:\n  %s\n%s"
                  % (len(left), self.tag, timeout, what, "\n  ".join(names),
                     self.describe()))

    # -- starting programs

    def start(self, name, argv, env_extra=None, cwd=None):
        env = dict(self.env)
        if env_extra:
            env.update(env_extra)
        p = Proc(self, name, argv, env, cwd)
        self.procs.append(p)
        return p

    def muster_run(self, args, name=None, env_extra=None, cwd=None):
        """Start `muster run ARGS...` in the background."""
        name = name or "muster-run-%d" % len(self.procs)
        return self.start(name, [bin_path("muster"), "run"] + list(args),
                          env_extra, cwd)

    def run_muster(self, args, timeout=RUN_TIMEOUT, **kw):
        """Run `muster ARGS...` to completion; returns the Proc (rc, out, err)."""
        p = self.start(kw.pop("name", "muster-%d" % len(self.procs)),
                       [bin_path("muster")] + list(args), **kw)
        p.wait(timeout)
        return p

    def musterd(self, name="musterd", extra=(), agent_bind="tcp://127.0.0.1:0",
                state_dir=None):
        d = Musterd(self, name, extra, agent_bind, state_dir)
        self.procs.append(d)
        d.wait_ready()
        # Nodes started from now on join with its cluster token, the way an
        # operator's would ($MUSTER_JOIN_TOKEN never reaches a worker).
        if d.token:
            self.env["MUSTER_JOIN_TOKEN"] = d.token
        return d

    def node(self, d, node_id, prog, nnodes, nproc, job, last_call="30s",
             extra=()):
        """One `muster run` node joining coordinator d (or HOST:PORT)."""
        rdzv = d.rdzv if isinstance(d, Musterd) else d
        args = ["--rdzv-endpoint", rdzv, "--nnodes", str(nnodes),
                "--nproc-per-node", str(nproc), "--rdzv-id", job,
                "--node-id", node_id, "--last-call", last_call,
                "--connect-timeout", "20s"] + list(extra) + ["--"] + list(prog)
        return self.muster_run(args, name=node_id)

    def agent(self, d, node_id, slots, extra=()):
        """A free muster-agent (pool node) of coordinator d."""
        return self.start(node_id, [bin_path("muster-agent"), "--coordinator",
                                    d.agent_ep, "--slots", str(slots),
                                    "--node-id", node_id,
                                    "--state-dir",
                                    os.path.join(self.tmp, node_id + ".agent"),
                                    "--join-token-file", d.token_file]
                          + list(extra))

    def write_script(self, name, body, mode=0o755):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(body)
        os.chmod(path, mode)
        return path


def main():
    """Run the scenarios of the calling module; exit 77 (ctest's skip code
    for these tests) when every test was skipped."""
    prog = unittest.main(module="__main__", verbosity=2, exit=False)
    r = prog.result
    ran = r.testsRun
    skipped = len(r.skipped)
    if r.wasSuccessful() and ran > 0 and skipped == ran:
        say("SKIPPED: all %d test(s) of this scenario were skipped" % ran)
        sys.exit(77)
    sys.exit(0 if r.wasSuccessful() else 1)


# --------------------------------------------------------------- msgpack


def mp_pack(obj):
    """Minimal msgpack encoder (dict, list, str, bytes, int, bool, None)."""
    if obj is None:
        return b"\xc0"
    if obj is True:
        return b"\xc3"
    if obj is False:
        return b"\xc2"
    if isinstance(obj, int):
        if 0 <= obj < 0x80:
            return bytes([obj])
        if -32 <= obj < 0:
            return struct.pack("b", obj)
        if obj >= 0:
            return b"\xcf" + struct.pack(">Q", obj)
        return b"\xd3" + struct.pack(">q", obj)
    if isinstance(obj, str):
        b = obj.encode()
        if len(b) < 32:
            return bytes([0xa0 | len(b)]) + b
        return b"\xdb" + struct.pack(">I", len(b)) + b
    if isinstance(obj, (bytes, bytearray)):
        return b"\xc6" + struct.pack(">I", len(obj)) + bytes(obj)
    if isinstance(obj, (list, tuple)):
        head = (bytes([0x90 | len(obj)]) if len(obj) < 16
                else b"\xdd" + struct.pack(">I", len(obj)))
        return head + b"".join(mp_pack(x) for x in obj)
    if isinstance(obj, dict):
        head = (bytes([0x80 | len(obj)]) if len(obj) < 16
                else b"\xdf" + struct.pack(">I", len(obj)))
        return head + b"".join(mp_pack(k) + mp_pack(v) for k, v in obj.items())
    raise TypeError("cannot pack %r" % type(obj))


class MsgpackError(ValueError):
    pass


def mp_unpack(data):
    """Minimal msgpack decoder for the answers of musterd."""
    def need(pos, n):
        if pos + n > len(data):
            raise MsgpackError("truncated at %d" % pos)

    def one(pos):
        need(pos, 1)
        b = data[pos]
        pos += 1
        if b < 0x80:
            return b, pos
        if b >= 0xe0:
            return b - 0x100, pos
        if 0x80 <= b <= 0x8f:
            return coll(pos, b & 0x0f, True)
        if 0x90 <= b <= 0x9f:
            return coll(pos, b & 0x0f, False)
        if 0xa0 <= b <= 0xbf:
            n = b & 0x1f
            need(pos, n)
            return data[pos:pos + n].decode(errors="replace"), pos + n
        simple = {0xc0: None, 0xc2: False, 0xc3: True}
        if b in simple:
            return simple[b], pos
        fixed = {0xcc: ">B", 0xcd: ">H", 0xce: ">I", 0xcf: ">Q",
                 0xd0: ">b", 0xd1: ">h", 0xd2: ">i", 0xd3: ">q",
                 0xca: ">f", 0xcb: ">d"}
        if b in fixed:
            n = struct.calcsize(fixed[b])
            need(pos, n)
            return struct.unpack(fixed[b], data[pos:pos + n])[0], pos + n
        lens = {0xd9: (">B", "s"), 0xda: (">H", "s"), 0xdb: (">I", "s"),
                0xc4: (">B", "b"), 0xc5: (">H", "b"), 0xc6: (">I", "b")}
        if b in lens:
            fmt, kind = lens[b]
            k = struct.calcsize(fmt)
            need(pos, k)
            n = struct.unpack(fmt, data[pos:pos + k])[0]
            pos += k
            need(pos, n)
            raw = data[pos:pos + n]
            return (raw.decode(errors="replace") if kind == "s" else raw), pos + n
        colls = {0xdc: (">H", False), 0xdd: (">I", False),
                 0xde: (">H", True), 0xdf: (">I", True)}
        if b in colls:
            fmt, is_map = colls[b]
            k = struct.calcsize(fmt)
            need(pos, k)
            n = struct.unpack(fmt, data[pos:pos + k])[0]
            return coll(pos + k, n, is_map)
        raise MsgpackError("unsupported msgpack byte 0x%02x" % b)

    def coll(pos, n, is_map):
        if is_map:
            d = {}
            for _ in range(n):
                k, pos = one(pos)
                v, pos = one(pos)
                d[k] = v
            return d, pos
        lst = []
        for _ in range(n):
            v, pos = one(pos)
            lst.append(v)
        return lst, pos

    obj, pos = one(0)
    if pos != len(data):
        raise MsgpackError("%d trailing bytes" % (len(data) - pos))
    return obj


# ------------------------------------------------------------ ZeroMQ


def have_pyzmq():
    if os.environ.get("MUSTER_TEST_ZMQ") == "probe":
        return False
    try:
        import zmq  # noqa: F401
        return True
    except ImportError:
        return False


def zmq_probe_path():
    return os.environ.get("MUSTER_TEST_ZMQ_PROBE") or ""


def zmq_available():
    """'' if raw ZeroMQ requests can be sent, else why not."""
    if have_pyzmq():
        return ""
    p = zmq_probe_path()
    if p and os.access(p, os.X_OK):
        return ""
    return ("neither pyzmq (python3-zmq) nor the zmq_probe helper "
            "($MUSTER_TEST_ZMQ_PROBE, built by tests/CMakeLists.txt) is there")


def token_keys(token):
    """(server public key, enrolment public key, enrolment secret key), Z85
    bytes, of a join token "mj1_" + hex(server) + hex(enrolment secret) or
    of a job secret "mjs1_" + hex(server secret) + hex(enrolment secret)."""
    import zmq
    from zmq.utils import z85
    if token.startswith("mjs1_"):
        server = zmq.curve_public(z85.encode(bytes.fromhex(token[5:69])))
        esec = z85.encode(bytes.fromhex(token[69:133]))
    else:
        server = z85.encode(bytes.fromhex(token[4:68]))
        esec = z85.encode(bytes.fromhex(token[68:132]))
    return server, zmq.curve_public(esec), esec


def enroll_node_key(d, node_id="test-node", timeout=10.0):
    """A fresh CURVE key pair enrolled with musterd d through its cluster
    join token, as an agent does: (server, public, secret), Z85 bytes, for
    zmq_request(..., curve=...)."""
    import zmq
    server, epub, esec = token_keys(d.token)
    pub, sec = zmq.curve_keypair()
    rep = zmq_request(d.agent_ep, [mp_pack({"v": 1, "t": "auth.enroll",
                                            "node_key": pub.decode(),
                                            "node_id": node_id})],
                      timeout, curve=(server, epub, esec))
    if rep is None:
        raise AssertionError("musterd did not answer auth.enroll")
    ans = mp_unpack(rep[-1])
    if ans.get("status") != 0:
        raise AssertionError("enrolment refused: %r" % ans)
    return server, pub, sec


def curve_socket(ctx, kind, curve):
    """A socket of `kind` made a CURVE client with curve = (server, public,
    secret)."""
    import zmq
    s = ctx.socket(kind)
    s.setsockopt(zmq.LINGER, 0)
    s.curve_serverkey, s.curve_publickey, s.curve_secretkey = curve
    return s


def zmq_request(endpoint, frames, timeout=5.0, routing_id=None, curve=None):
    """Send one multipart message on a fresh DEALER connected to endpoint
    and return the frames of the first answer, or None if none came within
    `timeout` seconds.  With curve = (server, public, secret) the DEALER
    speaks CURVE (pyzmq only)."""
    frames = [bytes(f) for f in frames]
    if curve is not None and not have_pyzmq():
        raise RuntimeError("a CURVE request needs pyzmq (python3-zmq)")
    if have_pyzmq():
        import zmq
        ctx = zmq.Context()
        s = ctx.socket(zmq.DEALER)
        s.setsockopt(zmq.LINGER, 0)
        if curve is not None:
            s.curve_serverkey, s.curve_publickey, s.curve_secretkey = curve
        if routing_id:
            s.setsockopt(zmq.ROUTING_ID, routing_id)
        try:
            s.connect(endpoint)
            s.send_multipart(frames)
            if s.poll(int(timeout * 1000), zmq.POLLIN):
                return s.recv_multipart()
            return None
        finally:
            s.close(0)
            ctx.term()
    argv = [zmq_probe_path(), endpoint, str(int(timeout * 1000))]
    if routing_id:
        argv += ["--routing-id", routing_id.hex()]
    frames_in = "\n".join(f.hex() for f in frames).encode()
    r = subprocess.run(argv, input=frames_in, capture_output=True,
                       timeout=timeout + 10)
    if r.returncode == 3:
        return None
    if r.returncode != 0:
        raise RuntimeError("zmq_probe failed (%d): %s"
                           % (r.returncode, r.stderr.decode(errors="replace")))
    # One line per frame: "F <hex>" (an empty frame is "F ").
    return [bytes.fromhex(line[2:]) for line in r.stdout.decode().splitlines()
            if line.startswith("F ")]


def ctl_call(endpoint, msg, timeout=5.0):
    """One control-port request (a dict, packed with v=1); the decoded
    answer, or None if none came."""
    body = dict({"v": 1}, **msg)
    rep = zmq_request(endpoint, [mp_pack(body)], timeout)
    if rep is None:
        return None
    return mp_unpack(rep[-1])
