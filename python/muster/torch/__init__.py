"""muster.torch — PyTorch on muster: a c10d Store on musterd's KV store,
state-dict checkpoints through muster's two-phase commit, and in-place
elastic process groups.

torch is imported only when one of these is used (``import muster`` never
needs it); Debian's python3-torch is enough.

    import torch.distributed as dist
    import muster.torch as mt

    mt.init_process_group("gloo")        # store, rank and world from muster
    ck = mt.load()                       # None when the job starts fresh
    start = ck.step + 1 if ck else 0
    for step in range(start, steps):
        ...train...
        mt.save(model.state_dict(), step) # saves only when one is due
    mt.flush()

See docs/python.md for the whole guide.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

from .checkpoint import Checkpoint, flush, load, outcome, save
from .defaults import default_worker

if TYPE_CHECKING:  # pragma: no cover
    from .c10d_store import MusterStore


def store(worker: Any = None, prefix: str = "torch",
          timeout: Optional[float] = None) -> "MusterStore":
    """A torch.distributed.Store backed by musterd's KV store, scoped to
    the job and the worker's current epoch.  ``worker`` defaults to the
    process's muster.torch.default_worker(); ``prefix`` keeps stores of
    one epoch apart; ``timeout`` (seconds, default torch's 300) bounds
    get and wait."""
    from .c10d_store import MusterStore
    return MusterStore(worker if worker is not None else default_worker(), prefix,
                       timeout)


def init_process_group(backend: str = "gloo", worker: Any = None,
                       prefix: Optional[str] = None, **kwargs: Any) -> "MusterStore":
    """torch.distributed.init_process_group at muster's rank and world over
    store(): no TCPStore on rank 0, no MASTER_ADDR/MASTER_PORT.  Extra
    keyword arguments go to torch (e.g. timeout=timedelta(...)).  Returns
    the store."""
    import datetime

    import torch.distributed as dist
    w = worker if worker is not None else default_worker()
    to = kwargs.get("timeout")
    s = store(w, prefix or "torch/pg", to.total_seconds()
              if isinstance(to, datetime.timedelta) else None)
    from torch.distributed.distributed_c10d import _get_default_group

    from . import parking
    before = parking.tcp_sockets()  # the group's connections: the new ones
    dist.init_process_group(backend, store=s, rank=w.rank, world_size=w.world, **kwargs)
    parking.remember(_get_default_group(), to.total_seconds()
                     if isinstance(to, datetime.timedelta) else None, before)
    return s


def __getattr__(name: str) -> Any:
    if name == "MusterStore":
        from .c10d_store import MusterStore
        return MusterStore
    if name == "elastic":
        import importlib
        return importlib.import_module(__name__ + ".elastic")
    raise AttributeError("module 'muster.torch' has no attribute %r" % name)


__all__ = ["store", "init_process_group", "save", "load", "flush", "outcome", "Checkpoint",
           "default_worker", "MusterStore", "elastic"]
