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
     us gets EOF and fails at once, as when a process exits;
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
import os
import socket
import threading
import time
from typing import Any, Dict, List, Optional, Set, Tuple

DEFAULT_TIMEOUT = 1800.0  # torch.distributed's default collective timeout (s)
MARGIN = 1.0              # past the timeout before the group is dropped (s)

_cv = threading.Condition()
_parked: List[Tuple[float, Any]] = []   # (monotonic deadline, group)
_timeouts: Dict[int, float] = {}        # id(group) -> collective timeout (s)
_conns: Dict[int, Set[Tuple[int, str]]] = {}  # id(group) -> {(fd, inode)}
_reaper: Optional[threading.Thread] = None


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


def _shutdown(conns: Set[Tuple[int, str]]) -> int:
    """shutdown(2) the connections still open as recorded; how many."""
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
        secs = _timeouts.pop(id(pg), DEFAULT_TIMEOUT)
        if seconds is not None:
            secs = float(seconds)
        n = _shutdown(_conns.pop(id(pg), set()))
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


def _reap() -> None:
    while True:
        with _cv:
            while not _parked:
                _cv.wait()
            _parked.sort(key=lambda e: e[0])
            left = _parked[0][0] - time.monotonic()
            if left > 0:
                _cv.wait(left)
                continue
            _, pg = _parked.pop(0)
        del pg  # the destructor runs here, outside the lock


def _leave_to_the_os() -> None:
    """At exit: groups still parked are never destroyed (their collectives
    may not have ended; the process is going away anyway)."""
    with _cv:
        for _, pg in _parked:
            ctypes.pythonapi.Py_IncRef(ctypes.py_object(pg))


atexit.register(_leave_to_the_os)
