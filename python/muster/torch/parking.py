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

So a group being left is parked: `park(pg, seconds)` keeps a reference
(the caller has already de-registered it with destroy_process_group,
which then cannot run the destructor), and a daemon thread drops the
reference once the group's collective timeout has passed — every
collective of the group has ended by then, at its timeout at the latest,
so the destructor only joins idle threads.  A group still parked when the
interpreter exits is left to the operating system (its reference count is
raised so that finalization does not join its threads either).

The collective timeout of a group is what muster.torch.init_process_group
was given (`remember(pg, seconds)`), torch's default (30 min) otherwise.
State is per process, as torch's own process-group registry is.
"""
from __future__ import annotations

import atexit
import ctypes
import threading
import time
from typing import Any, Dict, List, Optional, Tuple

DEFAULT_TIMEOUT = 1800.0  # torch.distributed's default collective timeout (s)
MARGIN = 1.0              # past the timeout before the group is dropped (s)

_cv = threading.Condition()
_parked: List[Tuple[float, Any]] = []   # (monotonic deadline, group)
_timeouts: Dict[int, float] = {}        # id(group) -> collective timeout (s)
_reaper: Optional[threading.Thread] = None


def remember(pg: Any, seconds: Optional[float]) -> None:
    """Note the collective timeout ``pg`` was made with (None: torch's)."""
    with _cv:
        _timeouts[id(pg)] = DEFAULT_TIMEOUT if seconds is None else float(seconds)


def timeout_of(pg: Any) -> float:
    """The collective timeout ``pg`` was made with, as remember() noted
    it, else torch's default."""
    with _cv:
        return _timeouts.get(id(pg), DEFAULT_TIMEOUT)


def park(pg: Any, seconds: Optional[float] = None) -> None:
    """Keep ``pg`` alive until ``seconds`` (default: its collective
    timeout) plus a margin have passed, then drop it on the reaper
    thread."""
    global _reaper
    with _cv:
        secs = _timeouts.pop(id(pg), DEFAULT_TIMEOUT)
        if seconds is not None:
            secs = float(seconds)
        _parked.append((time.monotonic() + max(0.0, secs) + MARGIN, pg))
        if _reaper is None or not _reaper.is_alive():
            _reaper = threading.Thread(target=_reap, name="muster-pg-reaper", daemon=True)
            _reaper.start()
        _cv.notify()


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
