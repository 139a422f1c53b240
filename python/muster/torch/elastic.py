"""elastic.py — in-place elastic DDP: survive a membership change without
restarting the process.

In in-place mode (`muster run --elastic-mode in-place`) muster keeps the
surviving workers running when one is lost or added, gives them their new
rank and world, and starts a newcomer told which rank to copy its state
from (``sync_from``).  torch's process group, though, is fixed to the
world it was made with, so the program

  1. notices the change: a collective with a lost peer raises (gloo:
     "Connection closed by peer"), or ``changed()`` says so between steps;
  2. ``wait_change()`` until muster has put the new epoch in effect;
  3. ``reinit()``: leaves the process group (``leave()``: without waiting
     for its collectives, decision 100) and creates one at the new rank
     and world through a fresh store (``muster.torch.store`` with the
     epoch in its prefix; the KV store of the old epoch is gone anyway);
  4. ``sync_state(model, optimizer, extra)``: every member of the new
     epoch takes part; if a newcomer exists, the model's tensors are
     broadcast in place from its ``sync_from`` rank and the optimizer's
     state and ``extra`` (e.g. the step) are sent as objects; survivors
     keep theirs (identical under DDP);
  5. wraps the model in a new DistributedDataParallel and re-shards its
     data by the new rank and world.

A newcomer runs steps 3-5 at start (reinit() also makes the first
process group), which is why the same code serves both.
"""
from __future__ import annotations

import datetime
from typing import Any, Optional

from ..errors import TimedOut
from ..types import Membership
from ..worker import Worker
from .defaults import default_worker


def _w(worker: Optional[Worker]) -> Worker:
    return worker if worker is not None else default_worker()


def changed(worker: Optional[Worker] = None) -> bool:
    """True if a membership change happened that wait_change() has not
    returned yet (never blocks)."""
    return _w(worker).membership_pending()


def wait_change(worker: Optional[Worker] = None,
                timeout: Optional[float] = 60.0) -> Membership:
    """Block until a membership change not yet returned (at once if one
    is pending); the new Membership.  TimedOut after ``timeout`` seconds."""
    m = _w(worker).wait_membership(timeout)
    if m is None:
        raise TimedOut(TimedOut.code, "muster.torch.elastic.wait_change",  # type: ignore[call-arg]
                       "no membership change within %s s" % timeout)
    return m


def leave(timeout: Optional[float] = None) -> int:
    """Leave the default process group without waiting for it.

    ``torch.distributed.destroy_process_group()`` joins the group's
    threads, so it waits for every collective of the group still running,
    and after a lost peer one may run until its timeout although every
    peer has gone (gloo, decision 100 in docs/architecture.md): the new
    group would then form only after that timeout.  leave() de-registers
    the group as destroy_process_group() does, so a new one can be made
    at once, shuts down the connections the group made (a group made by
    muster.torch.init_process_group), so that a peer still in one of its
    collectives fails at once, and keeps the group itself alive until its
    collectives have surely ended (``timeout`` seconds, default: the
    collective timeout it was made with through
    muster.torch.init_process_group, else torch's 30 min); a thread of
    muster's then drops it.  Returns the number of connections shut down
    (0 when no group exists)."""
    import torch.distributed as dist
    from torch.distributed.distributed_c10d import _get_default_group

    from . import parking
    if timeout is not None and (isinstance(timeout, bool) or
                                not isinstance(timeout, (int, float)) or timeout < 0):
        from ..errors import invalid
        raise invalid("muster.torch.elastic.leave",
                      "timeout must be seconds >= 0 or None, not %r" % (timeout,))
    if not dist.is_initialized():
        return 0
    pg = _get_default_group()
    dist.destroy_process_group()
    return parking.park(pg, timeout)


def reinit(backend: str = "gloo", worker: Optional[Worker] = None,
           **kwargs: Any) -> Any:
    """(Re)create the default process group at the worker's current rank
    and world: leave the existing one, if any (leave(): without waiting
    for its collectives), then muster.torch.init_process_group with a
    store of this epoch.  Extra keyword arguments go to torch.  Returns
    the store."""
    from . import init_process_group
    w = _w(worker)
    leave()
    kwargs.setdefault("timeout", datetime.timedelta(seconds=120))
    return init_process_group(backend, worker=w, prefix="torch/pg/%d" % w.epoch, **kwargs)


def sync_state(model: Any, optimizer: Any = None, extra: Any = None,
               worker: Optional[Worker] = None) -> Any:
    """Give newcomers the survivors' state; a collective of every rank of
    the epoch, after reinit().

    The source is the ``sync_from`` muster gave the newcomers (agreed on
    with an allreduce, so survivors, who are told -1, learn it too).
    With a source, ``model``'s parameters and buffers are overwritten in
    place with the source's, the optimizer's state dict is loaded from
    the source's, and the source's ``extra`` is returned; without one
    (nobody joined) nothing moves and ``extra`` comes back as given."""
    import torch
    import torch.distributed as dist
    w = _w(worker)
    src = torch.tensor([w.sync_from], dtype=torch.int64)
    dist.all_reduce(src, op=dist.ReduceOp.MAX)
    s = int(src.item())
    if s < 0:
        return extra
    with torch.no_grad():
        for t in list(model.parameters()) + list(model.buffers()):
            dist.broadcast(t.data, src=s)
    objs = [optimizer.state_dict() if optimizer is not None else None, extra]
    dist.broadcast_object_list(objs, src=s)
    if optimizer is not None and dist.get_rank() != s:
        optimizer.load_state_dict(objs[0])
    return objs[1]
