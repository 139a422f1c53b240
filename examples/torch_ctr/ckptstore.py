"""ckptstore.py — where torch_ctr keeps its checkpoints.

Two stores with one interface:

  restore()            -> (step, state, where) of the checkpoint to resume
                          from, the same on every rank, or None
  after_step(step, fn) -> called after every step; saves fn() (the state
                          dict) when this store's policy says so
  close()              -> waits for saves still in flight

  file    the script's own files (filecheckpoint.py): rank 0 writes one
          every --ckpt-every steps, atomically, into --ckpt-dir; rank 0
          picks the newest and broadcasts its step.  Any launcher will do.
  muster  muster's checkpoints through the Python binding (muster.torch):
          muster decides when (muster run --ckpt-every-steps N,
          --ckpt-every DUR, `muster checkpoint JOB`, a preemption); every
          rank saves its shard asynchronously and the coordinator commits
          the step when all shards are durable; every rank restores its
          own shard of the newest complete checkpoint.

`open_store` picks one from --ckpt (auto: file when --ckpt-dir is given,
muster when the job has a muster checkpoint directory and the binding is
importable, else none).
"""

import os
import sys

import torch
import torch.distributed as dist

from filecheckpoint import FileCheckpoint


class FileStore:
    def __init__(self, directory, rank, every, last):
        self.ck = FileCheckpoint(directory)
        self.rank, self.every, self.last = rank, every, last

    def restore(self):
        step = torch.tensor([self.ck.latest() if self.rank == 0 else 0])
        dist.broadcast(step, 0)
        step = int(step)
        if step == 0:
            return None
        return step, self.ck.load(step), "file %s" % self.ck.path(step)

    def after_step(self, step, state):
        if self.rank == 0 and (step % self.every == 0 or step == self.last):
            self.ck.save(step, state())  # the replicas are identical: one writer

    def close(self):
        pass


class MusterStore:
    def __init__(self, mt):
        self.mt = mt

    def restore(self):
        ck = self.mt.load()
        if ck is None:
            return None
        return ck.step, ck.state_dict, "muster checkpoint"

    def after_step(self, step, state):
        self.mt.save(state, step)  # a no-op unless muster asked for this step

    def close(self):
        self.mt.flush()


def muster_binding():
    """The muster.torch module, or None with the reason."""
    try:
        import muster.torch as mt
        return mt, None
    except ImportError as e:
        return None, str(e)


def open_store(o, rank):
    kind = o.ckpt
    if kind == "auto":
        if o.ckpt_dir:
            kind = "file"
        elif os.environ.get("MUSTER_CKPT_DIR") and muster_binding()[0]:
            kind = "muster"
        else:
            kind = "none"
    if kind == "none":
        return None
    if kind == "file":
        if not o.ckpt_dir:
            sys.exit("torch_ctr: --ckpt file needs --ckpt-dir DIR")
        return FileStore(o.ckpt_dir, rank, o.ckpt_every, o.steps)
    mt, why = muster_binding()
    if mt is None:
        sys.exit("torch_ctr: --ckpt muster needs muster's Python binding "
                 "(python/muster, e.g. PYTHONPATH=build/python): %s" % why)
    if not os.environ.get("MUSTER_CKPT_DIR"):
        sys.exit("torch_ctr: --ckpt muster needs a job with checkpoints "
                 "(muster run --ckpt-dir DIR --ckpt-every-steps N)")
    return MusterStore(mt)
