"""checkpoint.py — torch state dicts through muster's checkpoints.

save(state_dict, step) is called after every training step: it reports
the step to muster and, only when the coordinator has asked for a
checkpoint of this step (muster run --ckpt-every / --ckpt-every-steps,
`muster checkpoint JOB`, a preemption), serializes the state dict with
torch.save into memory on the caller's thread and hands the bytes to
libmuster's asynchronous save: training goes on while libmuster's
thread writes and fsyncs the shard.  The coordinator commits the
checkpoint (its MANIFEST) only when every rank's shard of that same step
is durable, so a checkpoint is all ranks' state after one step or nothing.

A save that returned is not yet a checkpoint: outcome() says how the
checkpoints this rank was asked for ended (committed, or failed and why:
a full disk, a rank that timed out...).  A synchronous save that fails
raises at once; an asynchronous one whose write fails is an outcome at
once and raises at the next flush().

load() returns this rank's shard of the newest complete checkpoint as
Checkpoint(state_dict, step), or None when the job starts fresh.
"""
from __future__ import annotations

import io
from typing import Any, Callable, Dict, NamedTuple, Optional, Union

from ..errors import invalid
from ..types import CkptOutcome
from ..worker import Worker
from .defaults import default_worker

StateDict = Dict[str, Any]


class Checkpoint(NamedTuple):
    """What load() found: the state dict and the step it is the state after."""
    state_dict: StateDict
    step: int


def _w(worker: Optional[Worker]) -> Worker:
    return worker if worker is not None else default_worker()


def save(state_dict: Union[StateDict, Callable[[], StateDict]], step: int,
         worker: Optional[Worker] = None, asynchronous: bool = True) -> bool:
    """Report ``step`` as finished; if a checkpoint of it is due, save
    ``state_dict`` (or what calling it returns, so nothing is built when
    no checkpoint is due) as this rank's shard.  True when handed over
    (not yet a checkpoint: outcome() tells when it is committed, or that
    it failed and why).

    Asynchronous by default: returns once the serialized bytes are handed
    over; ``asynchronous=False`` returns when the shard is durable and
    raises the error that kept it from being written (a MusterError whose
    ``errno`` is ENOSPC, EROFS...).  A failed asynchronous write is an
    outcome() at once and raises at the next flush()."""
    import torch
    w = _w(worker)
    w.progress(step)
    rq = w.ckpt_due()
    if rq is None:
        return False
    sd = state_dict() if callable(state_dict) else state_dict
    if not isinstance(sd, dict):
        raise invalid("muster.torch.save", "state_dict must be a dict (or a callable "
                      "returning one), not %s" % type(sd).__name__)
    buf = io.BytesIO()
    torch.save({"step": step, "state_dict": sd}, buf)
    w.ckpt_save(buf.getbuffer(), asynchronous=asynchronous)
    return True


def outcome(worker: Optional[Worker] = None) -> Optional[CkptOutcome]:
    """How a checkpoint this rank was asked to save ended, if that is news
    since the last call (Worker.ckpt_outcome): a muster.CkptOutcome whose
    ``committed`` is True, or whose ``status`` < 0 and ``reason`` say why
    it failed (``error()`` gives the exception); None if no news.  Never
    blocks."""
    return _w(worker).ckpt_outcome()


def flush(worker: Optional[Worker] = None) -> None:
    """Wait until every asynchronous save is durable (raises the error of
    a failed one).  Call it before the program ends."""
    _w(worker).ckpt_flush()


def load(worker: Optional[Worker] = None, map_location: Any = "cpu") -> Optional[Checkpoint]:
    """This rank's shard of the newest complete checkpoint of the job as
    Checkpoint(state_dict, step), or None when there is none.  Raises
    muster.Corrupt if the shard fails its checksum."""
    import torch
    r = _w(worker).restore()
    if r is None:
        return None
    with r.open() as f:
        obj = torch.load(f, map_location=map_location)
    if not isinstance(obj, dict) or "state_dict" not in obj:
        from ..errors import Corrupt
        raise Corrupt(Corrupt.code, "muster.torch.load",  # type: ignore[call-arg]
                      "%s was not written by muster.torch.save" % r.path)
    return Checkpoint(obj["state_dict"], int(obj.get("step", r.step)))
