"""control.py — a Python client of musterd's control port.

What a platform (a scheduler, a dashboard, a notebook) uses to drive
muster from outside: submit, list, get, scale, checkpoint, preempt,
resume, cancel, nodes, cordon, uncordon, drain and logs, each one request
and one answer on a ZeroMQ DEALER (pyzmq), msgpack on the wire, exactly as
docs/control-port.md shows them::

    from muster.control import Control
    with Control() as c:                      # this user's local musterd
        c.submit({"id": "j1", "argv": ["./train"],
                  "roles": [{"name": "worker", "min_nodes": 1,
                             "max_nodes": 4, "nproc": 8}]})
        print(c.get("j1")["members"])
        c.scale("j1", target=2)
        for line in c.follow_logs("j1"):
            print(line["text"])

Finding the coordinator is the CLI's rule: ``endpoint``, else
$MUSTER_CTL_ENDPOINT, else $MUSTER_COORDINATOR, else the local socket of
this user's musterd (STATE_DIR/ctl.sock: $MUSTER_STATE_DIR, root's
/var/lib/muster, $XDG_STATE_HOME/muster or ~/.local/state/muster), else
/var/lib/muster/ctl.sock.  On the local socket the kernel tells musterd who
is asking.  Over TCP the client speaks CURVE with the user's certificate
(``key_file`` or $MUSTER_KEY: a file made by ``muster keygen``, its secret
half in FILE_secret) and the server's public key (``server_key`` or
$MUSTER_SERVER_KEY: 40 Z85 characters, or the coordinator's server.key).

Every error reply raises the muster exception of its code (muster.errors:
NotFound, PermissionDenied, InvalidArgument, ...) with ``field`` (the
request field at fault, or None), ``code_name`` and ``reply`` (the whole
error message) set.  No answer within ``timeout`` seconds raises TimedOut.
Needs Debian's python3-zmq and python3-msgpack.
"""
from __future__ import annotations

import os
import re
import time
from typing import Any, Dict, Iterator, List, Optional

import msgpack
import zmq

from .errors import BY_CODE, InvalidArgument, MusterError, TimedOut

PROTO_VERSION = 1


def _error(code: int, what: str, message: str, code_name: Optional[str] = None,
           reply: Optional[Dict[str, Any]] = None) -> MusterError:
    """The muster exception of `code`, built from what the coordinator said
    (its code name and sentence): the client never loads libmuster, so it
    runs where the worker library cannot (another interpreter, a sanitized
    build)."""
    cls = BY_CODE.get(code, MusterError)
    e = cls.__new__(cls)
    name = code_name or ("MUSTER_ERROR_%d" % code)
    Exception.__init__(e, "%s: %s (%s)" % (what, message, name))
    e.code, e.name, e.strerror, e.what = code, name, message, what
    e.errno = -code if -4096 < code < 0 else None
    e.field = reply.get("field") if reply else None  # type: ignore[attr-defined]
    e.code_name = name  # type: ignore[attr-defined]
    e.reply = reply  # type: ignore[attr-defined]
    return e


def _invalid(what: str, detail: str) -> MusterError:
    return _error(InvalidArgument.code, what, detail, "MUSTER_EINVAL")  # type: ignore[attr-defined]


def _state_dir() -> Optional[str]:
    over = os.environ.get("MUSTER_STATE_DIR", "")
    if over.startswith("/"):
        return over
    if os.geteuid() == 0:
        return "/var/lib/muster"
    xdg = os.environ.get("XDG_STATE_HOME", "")
    if xdg.startswith("/"):
        return os.path.join(xdg, "muster")
    home = os.environ.get("HOME") or os.path.expanduser("~")
    return os.path.join(home, ".local", "state", "muster") if home else None


def default_endpoint() -> str:
    """The control endpoint the CLI would use (see the module's doc)."""
    for var in ("MUSTER_CTL_ENDPOINT", "MUSTER_COORDINATOR"):
        if os.environ.get(var):
            return os.environ[var]
    d = _state_dir()
    if d and os.path.exists(os.path.join(d, "ctl.sock")):
        return "ipc://" + os.path.join(d, "ctl.sock")
    return "ipc:///var/lib/muster/ctl.sock"


def _normalize(ep: str) -> str:
    if ep.startswith(("ipc://", "tcp://")):
        return ep
    if re.match(r"^[^/:]+:\d+$", ep) or re.match(r"^\[[0-9a-fA-F:]+\]:\d+$", ep):
        return "tcp://" + ep
    raise _invalid("endpoint", "%r: expected ipc://PATH, HOST:PORT or tcp://HOST:PORT" % ep)


def _cert_key(path: str, name: str) -> str:
    """The Z85 key `name` (public-key, secret-key) of a zcert file."""
    with open(path) as f:
        for line in f:
            m = re.match(r'\s*%s\s*=\s*"([^"]{40})"' % re.escape(name), line)
            if m:
                return m.group(1)
    raise _invalid(path, "holds no %s" % name)


def load_keys(key_file: str, server_key: str):
    """(server public, client public, client secret) as bytes, from a
    certificate made by `muster keygen` (FILE and FILE_secret) and the
    server's key (Z85 or its server.key file)."""
    pub = _cert_key(key_file, "public-key")
    sec_file = key_file + "_secret" if os.path.exists(key_file + "_secret") else key_file
    sec = _cert_key(sec_file, "secret-key")
    if len(server_key) == 40 and not os.path.exists(server_key):
        srv = server_key
    else:
        srv = _cert_key(server_key, "public-key")
    return srv.encode(), pub.encode(), sec.encode()


class Control:
    """One connection to a coordinator's control port (not thread-safe:
    one request at a time, as the port expects)."""

    def __init__(self, endpoint: Optional[str] = None, key_file: Optional[str] = None,
                 server_key: Optional[str] = None, timeout: float = 5.0) -> None:
        self.endpoint = _normalize(endpoint or default_endpoint())
        self.timeout = timeout
        self._curve = None
        if self.endpoint.startswith("tcp://"):
            kf = key_file or os.environ.get("MUSTER_KEY")
            sk = server_key or os.environ.get("MUSTER_SERVER_KEY")
            if not kf or not sk:
                raise _invalid("Control", "the control port %s speaks CURVE: give key_file "
                              "(a `muster keygen` certificate listed in the coordinator's "
                              "users/) and server_key (its server.key), or $MUSTER_KEY and "
                              "$MUSTER_SERVER_KEY" % self.endpoint)
            self._curve = load_keys(kf, sk)
        elif self.endpoint.startswith("ipc://") and not os.path.exists(self.endpoint[6:]):
            raise _error(-10010, "Control", "no coordinator at %s (no such socket)"
                         % self.endpoint, "MUSTER_ENOTFOUND")
        self._ctx = zmq.Context.instance()
        self._sock = None

    # ------------------------------------------------------------ plumbing

    def _socket(self):
        if self._sock is None:
            s = self._ctx.socket(zmq.DEALER)
            s.setsockopt(zmq.LINGER, 0)
            if self._curve is not None:
                s.curve_serverkey, s.curve_publickey, s.curve_secretkey = self._curve
            s.connect(self.endpoint)
            self._sock = s
        return self._sock

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close(0)
            self._sock = None

    def __enter__(self) -> "Control":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def request(self, t: str, **fields: Any) -> Dict[str, Any]:
        """Send message type t with fields (None values left out); return the
        reply as a dict, or raise the error it carries."""
        body = {"v": PROTO_VERSION, "t": t}
        body.update({k: v for k, v in fields.items() if v is not None})
        s = self._socket()
        s.send(msgpack.packb(body, use_bin_type=True))
        if not s.poll(int(self.timeout * 1000), zmq.POLLIN):
            self.close()  # a late answer must not be read as the next one's
            raise _error(TimedOut.code, t, "no answer from %s after %.1f s"
                         % (self.endpoint, self.timeout), "MUSTER_ETIMEDOUT")
        rep = msgpack.unpackb(s.recv_multipart()[-1], raw=False)
        if rep.get("t") == "error":
            raise _error(int(rep.get("code", -10019)), t, rep.get("message", ""),
                         rep.get("code_name"), rep)
        return rep

    def _ok(self, t: str, **fields: Any) -> str:
        return self.request(t, **fields).get("message", "")

    # ------------------------------------------------------------ jobs

    def submit(self, spec: Dict[str, Any]) -> str:
        """Submit a job (a job_spec dict: id, roles, argv, ...)."""
        return self._ok("ctl.submit", job=spec)

    def status(self, job: Optional[str] = None) -> Dict[str, Any]:
        return self.request("ctl.status", job=job)

    def list(self, state: Optional[str] = None, owner: Optional[str] = None) -> List[Dict[str, Any]]:
        """The jobs you may see, oldest first (job_info dicts)."""
        return self.request("ctl.list", state=state, owner=owner)["jobs"]

    def get(self, job: str) -> Dict[str, Any]:
        """One job in full: job, spec, members (with ranks and pids),
        restarts by cause, checkpoint, failure."""
        return self.request("ctl.get", job=job)

    def scale(self, job: str, min: Optional[int] = None, max: Optional[int] = None,
              target: Optional[int] = None, role: Optional[str] = None) -> str:
        """Change a role's node range (min and max) or run it at target nodes."""
        return self._ok("ctl.scale", job=job, role=role, min=min, max=max, target=target)

    def cancel(self, job: str) -> str:
        return self._ok("ctl.cancel", job=job)

    def update(self, job: str, argv: Optional[List[str]] = None,
               env: Optional[Dict[str, str]] = None) -> str:
        """Service jobs: rolling update of the command and/or environment."""
        return self._ok("ctl.update", job=job, argv=argv, env=env)

    def load(self, job: str, load: float) -> str:
        """Service jobs: the whole job's load figure (an external balancer's)."""
        return self._ok("ctl.load", job=job, load=repr(float(load)))

    def checkpoint(self, job: str) -> int:
        """Ask for a checkpoint now; returns the step asked for."""
        return int(self.request("ctl.checkpoint", job=job).get("step", 0))

    def preempt(self, job: str, grace: Optional[float] = None) -> str:
        return self._ok("ctl.preempt", job=job,
                        grace_ms=int(grace * 1000) if grace is not None else None)

    def resume(self, job: str) -> str:
        return self._ok("ctl.resume", job=job)

    # ------------------------------------------------------------ nodes

    def nodes(self, node: Optional[str] = None) -> List[Dict[str, Any]]:
        return self.request("ctl.nodes", node=node)["nodes"]

    def cordon(self, node: str) -> str:
        return self._ok("ctl.cordon", node=node)

    def uncordon(self, node: str) -> str:
        return self._ok("ctl.uncordon", node=node)

    def drain(self, node: str, grace: Optional[float] = None) -> str:
        return self._ok("ctl.drain", node=node,
                        grace_ms=int(grace * 1000) if grace is not None else None)

    # ------------------------------------------------------------ logs

    def logs(self, job: str, rank: Optional[int] = None, since: int = 0,
             max: Optional[int] = None) -> Dict[str, Any]:
        """One page of output: {"lines": [...], "next": cursor, "first",
        "done", "state"}; pass "next" as since to continue."""
        return self.request("ctl.logs", job=job, by_rank=True if rank is not None else None,
                            rank=rank, since=since, max=max)

    def follow_logs(self, job: str, rank: Optional[int] = None, since: int = 0,
                    poll: float = 0.25, until: Optional[float] = None) -> Iterator[Dict[str, Any]]:
        """Every line from `since` on, following until the job has finished
        (or `until`, a time.monotonic() deadline, passed: TimedOut)."""
        while True:
            page = self.logs(job, rank=rank, since=since)
            for line in page["lines"]:
                yield line
            since = page["next"]
            if page["lines"] and len(page["lines"]) >= 1000:
                continue
            if page.get("done"):
                return
            if until is not None and time.monotonic() > until:
                raise _error(TimedOut.code, "follow_logs", "job %s still %s"
                             % (job, page.get("state")), "MUSTER_ETIMEDOUT")
            time.sleep(poll)


__all__ = ["Control", "MusterError", "default_endpoint", "load_keys"]
