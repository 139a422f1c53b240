"""checkpoint.py — torch state dicts through muster's checkpoints.

save(state_dict, step) is called after every training step: it reports
the step to muster and, only when the coordinator has asked for a
checkpoint of this step (muster run --ckpt-every / --ckpt-every-steps,
`muster checkpoint JOB`, a preemption), saves this rank's shard.  The
coordinator commits the checkpoint (its MANIFEST) only when every rank's
shard of that same step is durable, so a checkpoint is all ranks' state
after one step or nothing.

Asynchronous saves fork (docs/architecture.md, decision 75): the child
process holds a copy-on-write view of the whole address space as it was
at the fork, serializes the state dict with torch.save straight into the
shard file and _exits; a thread of the parent waits for it and hands the
file to libmuster (muster_worker_ckpt_claim/_claim_done: fsync, CRC,
ckpt.saved).  The training loop is blocked only for the fork (~10-60 ms
for a 1 GiB process here, against 4.5 s for torch.save into memory), and
the state may change the moment save returns: the child's pages are the
fork's.  What the parent writes afterwards costs a page copy per page
first written (copy-on-write), spread over the next steps.  The child runs
no collective, no ZeroMQ, no intra-op thread pool: torch.save of CPU
tensors to a file, then os._exit.  A state dict holding tensors that are
not on the CPU (CUDA memory is not forked) is serialized into memory on
the caller's thread instead, as the synchronous save does.

A save that returned is not yet a checkpoint: outcome() says how the
checkpoints this rank was asked for ended (committed, or failed and why:
a full disk, a rank that timed out...).  A synchronous save that fails
raises at once; an asynchronous one whose write fails is an outcome at
once and raises at the next flush().

load() returns this rank's shard of the newest complete checkpoint as
Checkpoint(state_dict, step), or None when the job starts fresh.
"""
from __future__ import annotations

import errno
import gc
import io
import os
import threading
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
    obj = {"step": step, "state_dict": sd}
    if asynchronous and hasattr(os, "fork") and _cpu_only(sd):
        _save_forked(w, obj)
        return True
    buf = io.BytesIO()
    torch.save(obj, buf)
    w.ckpt_save(buf.getbuffer(), asynchronous=asynchronous)
    return True


def _cpu_only(obj: Any, depth: int = 0) -> bool:
    """True if every tensor in obj (dicts, lists, tuples) is on the CPU."""
    import torch
    if isinstance(obj, torch.Tensor):
        return obj.device.type == "cpu"
    if depth > 32:
        return False
    if isinstance(obj, dict):
        return all(_cpu_only(v, depth + 1) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return all(_cpu_only(v, depth + 1) for v in obj)
    return True


# Exit codes of the forked writer (an errno is passed as itself).
_CHILD_FAILED = 125


def _save_forked(w: Worker, obj: Dict[str, Any]) -> None:
    """Claim the due shard, fork, let the child torch.save obj into the
    shard file; a reaper thread hands the file over when the child exits."""
    import torch
    path, claim = w.ckpt_claim()
    try:
        pid = os.fork()
    except OSError as e:
        w.ckpt_claim_done(claim, -(e.errno or errno.EAGAIN))
        raise
    if pid == 0:  # the child: serialize, nothing else, and _exit
        # No cyclic collection: a finalizer run here (a Request's, say)
        # could wait on a lock a thread of the parent held at the fork.
        gc.disable()
        code = _CHILD_FAILED
        try:
            with open(path, "wb") as f:
                torch.save(obj, f)
            code = 0
        except BaseException as e:  # noqa: BLE001 - report, never return
            if isinstance(e, OSError) and e.errno and 0 < e.errno < _CHILD_FAILED:
                code = e.errno
            # os.write: the parent's unflushed sys.stderr must not be repeated
            os.write(2, ("muster.torch.save: the forked writer of %s failed: %s: %s\n"
                         % (path, type(e).__name__, e)).encode("utf-8", "replace"))
        finally:
            os._exit(code)
    t = threading.Thread(target=_reap, args=(w, pid, claim),
                         name="muster.torch.save[%d]" % pid, daemon=True)
    t.start()


def _reap(w: Worker, pid: int, claim: Any) -> None:
    from ..errors import InternalError, MusterError
    _, st = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(st)
    status = 0 if code == 0 else (-code if 0 < code < _CHILD_FAILED else InternalError.code)
    try:
        w.ckpt_claim_done(claim, status)
    except MusterError:
        pass  # reported to the coordinator and in outcome(); flush() raises it


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
