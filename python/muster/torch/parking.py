"""parking.py — old process groups are let go without waiting for them.

Why (decision 100 in docs/architecture.md): destroying a gloo process
group runs ~ProcessGroupGloo, which joins the group's worker threads, and
a worker thread still executing a collective of that group returns only
when the collective ends.  After a peer is lost, one collective may never
end before its timeout: in about 1 of 16 in-place recoveries of
examples/torch_ctr a survivor had a collective launched just as the loss
was detected blocked in gloo's UnboundBuffer::waitRecv although every peer
had already closed its side (the dead rank, and the survivors that had
destroyed their groups), so `destroy_process_group()` took the whole
collective timeout (120 s in torch_ctr) and every other rank waited that
long in the new group's rendezvous for its keys.

The receive is the one gloo was reading into when the connection failed
(the killed rank's right-hand neighbour in the ring, reading a chunk of
megabytes): gloo's tcp Pair signals an error to the buffers still pending
on the pair but not to the one of the read in progress.  The same holds
for a peer: a survivor reading from us when we leave is woken only by our
connection closing, so keeping the whole group alive is not enough either
(tried: the peer then waited for its timeout instead).

So a group being left is parked: `park(pg, seconds)`
  1. shuts down (shutdown(2), both ways) the TCP connections the group
     made, which `remember` recorded when muster.torch.init_process_group
     created it: every peer still in one of the group's collectives with
     us gets EOF and fails at once, as when a process exits.  First it
     waits (2 s at most) until no byte is queued on them for 20 ms: a
     message cut half-way would leave the peer reading it (or writing it)
     waiting for its timeout, for the reason above;
  2. keeps a reference (the caller has already de-registered the group
     with destroy_process_group, which then cannot run the destructor),
     and a daemon thread drops it once the group's collective timeout has
     passed — every collective of the group has ended by then, at its
     timeout at the latest, so the destructor only joins idle threads.
A group still parked when the interpreter exits is left to the operating
system (its reference count is raised so that finalization does not join
its threads either).

The collective timeout of a group is what muster.torch.init_process_group
was given, torch's default (30 min) otherwise.  State is per process, as
torch's own process-group registry is.
"""
from __future__ import annotations

import atexit
import ctypes
import fcntl
import os
import socket
import struct
import threading
import time
from typing import Any, Dict, List, Optional, Set, Tuple

DEFAULT_TIMEOUT = 1800.0  # torch.distributed's default collective timeout (s)
MARGIN = 1.0              # past the timeout before the group is dropped (s)
DRAIN_POLL = 0.005        # between looks at the connections' queues (s)
QUIET = 4                 # looks with nothing queued before shutting down
DRAIN_MAX = 2.0           # at most this long (s)

_cv = threading.Condition()
_parked: List[Tuple[float, Any]] = []   # (monotonic deadline, group)
_timeouts: Dict[int, float] = {}        # id(group) -> collective timeout (s)
_conns: Dict[int, Set[Tuple[int, str]]] = {}  # id(group) -> {(fd, inode)}
_reaper: Optional[threading.Thread] = None
_reaping = threading.Lock()             # held while the reaper destroys a group
_exiting = False


def tcp_sockets() -> Set[Tuple[int, str]]:
    """{(fd, "socket:[inode]")} of this process's TCP sockets now."""
    out = set()
    try:
        fds = os.listdir("/proc/self/fd")
    except OSError:
        return out
    for name in fds:
        fd = int(name)
        try:
            link = os.readlink("/proc/self/fd/%d" % fd)
        except OSError:
            continue
        if not link.startswith("socket:"):
            continue
        try:
            s = socket.socket(fileno=os.dup(fd))
        except OSError:
            continue
        with s:
            if s.family in (socket.AF_INET, socket.AF_INET6) and s.type == socket.SOCK_STREAM:
                out.add((fd, link))
    return out


def remember(pg: Any, seconds: Optional[float],
             before: Optional[Set[Tuple[int, str]]] = None) -> None:
    """Note the collective timeout ``pg`` was made with (None: torch's)
    and, given the TCP sockets there were ``before`` it was made, the
    connections it made (the TCP sockets that are new now)."""
    with _cv:
        _timeouts[id(pg)] = DEFAULT_TIMEOUT if seconds is None else float(seconds)
        if before is not None:
            _conns[id(pg)] = tcp_sockets() - before


def _queued(fd: int) -> int:
    """Bytes in the kernel's queues of socket fd: not yet sent or
    acknowledged (SIOCOUTQ) plus received and not yet read (SIOCINQ)."""
    n = 0
    for req in (0x5411, 0x541B):  # SIOCOUTQ (TIOCOUTQ), SIOCINQ (FIONREAD)
        try:
            b = fcntl.ioctl(fd, req, b"\0\0\0\0")
        except OSError:
            continue
        n += struct.unpack("i", b)[0]
    return n


def _drain(conns: Set[Tuple[int, str]]) -> None:
    """Wait until no byte moves on the connections: their kernel queues
    empty in QUIET consecutive looks DRAIN_POLL apart, DRAIN_MAX at most.
    A message cut half-way is never signalled by gloo to the rank reading
    it (or writing it): it would wait for its whole timeout; a connection
    cut between messages fails the collectives waiting on it at once."""
    fds = [fd for fd, link in conns if _same(fd, link)]
    quiet, end = 0, time.monotonic() + DRAIN_MAX
    while fds and quiet < QUIET and time.monotonic() < end:
        quiet = quiet + 1 if all(_queued(fd) == 0 for fd in fds) else 0
        time.sleep(DRAIN_POLL)


def _same(fd: int, link: str) -> bool:
    try:
        return os.readlink("/proc/self/fd/%d" % fd) == link
    except OSError:
        return False


def _shutdown(conns: Set[Tuple[int, str]]) -> int:
    """shutdown(2) the connections still open as recorded, once no byte
    moves on them; how many."""
    _drain(conns)
    n = 0
    for fd, link in conns:
        try:
            if os.readlink("/proc/self/fd/%d" % fd) != link:
                continue  # closed, the number reused
            s = socket.socket(fileno=os.dup(fd))
        except OSError:
            continue
        with s:
            try:
                s.shutdown(socket.SHUT_RDWR)
                n += 1
            except OSError:
                pass  # not connected (a listening socket) or already gone
    return n


def timeout_of(pg: Any) -> float:
    """The collective timeout ``pg`` was made with, as remember() noted
    it, else torch's default."""
    with _cv:
        return _timeouts.get(id(pg), DEFAULT_TIMEOUT)


def park(pg: Any, seconds: Optional[float] = None) -> int:
    """Shut down the connections ``pg`` made and keep it alive until
    ``seconds`` (default: its collective timeout) plus a margin have
    passed, then drop it on the reaper thread.  Returns how many
    connections were shut down."""
    global _reaper
    with _cv:
        conns = _conns.pop(id(pg), set())
    n = _shutdown(conns)
    with _cv:
        secs = _timeouts.pop(id(pg), DEFAULT_TIMEOUT)
        if seconds is not None:
            secs = float(seconds)
        _parked.append((time.monotonic() + max(0.0, secs) + MARGIN, pg))
        if _reaper is None or not _reaper.is_alive():
            _reaper = threading.Thread(target=_reap, name="muster-pg-reaper", daemon=True)
            _reaper.start()
        _cv.notify()
    return n


def parked() -> int:
    """How many left groups are still held."""
    with _cv:
        return len(_parked)


def _due() -> bool:
    return bool(_parked) and min(e[0] for e in _parked) <= time.monotonic()


def _reap() -> None:
    while True:
        with _cv:
            while not _exiting and not _due():
                _cv.wait(None if not _parked else
                         max(0.0, min(e[0] for e in _parked) - time.monotonic()))
            if _exiting:
                return
        with _reaping:  # _leave_to_the_os waits for a destructor under way
            with _cv:
                if _exiting or not _due():
                    continue
                _parked.sort(key=lambda e: e[0])
                pg = _parked.pop(0)[1]
            # torch runs the destructor without the GIL; the interpreter
            # must not finalize meanwhile (a thread taking the GIL back then
            # is ended, inside C++: std::terminate), hence the lock
            del pg


def _leave_to_the_os() -> None:
    """At exit: groups still parked are never destroyed (their collectives
    may not have ended; the process is going away anyway), and a
    destruction under way on the reaper thread is waited for."""
    global _exiting
    with _cv:
        _exiting = True
        _cv.notify_all()
    with _reaping, _cv:
        for _, pg in _parked:
            ctypes.pythonapi.Py_IncRef(ctypes.py_object(pg))


atexit.register(_leave_to_the_os)
