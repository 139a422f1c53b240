"""defaults.py — the process's default muster.Worker for muster.torch.

store(), save(), load() and the elastic helpers take a ``worker``; when
it is omitted they share one Worker per process, opened on first use and
closed at interpreter exit (Worker.close() first waits for
asynchronous checkpoint saves).  A program that opens its own muster.Worker passes it instead.
"""
from __future__ import annotations

import atexit
import threading
from typing import Optional

from ..worker import Worker

_lock = threading.Lock()
_worker: Optional[Worker] = None


def default_worker() -> Worker:
    """The process-wide Worker muster.torch uses when given none."""
    global _worker
    with _lock:
        if _worker is None or _worker.closed:
            _worker = Worker()
        return _worker


def _close_at_exit() -> None:
    w = _worker
    if w is not None and not w.closed:
        w.close()  # flushes asynchronous saves first


atexit.register(_close_at_exit)
