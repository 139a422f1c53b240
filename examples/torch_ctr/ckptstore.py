"""ckptstore.py — where torch_ctr keeps its checkpoints.

Two stores with one interface (latest, load, save, close, describe):

  file    the script's own files (filecheckpoint.py): rank 0 writes each
          checkpoint atomically into --ckpt-dir; any launcher will do.
  muster  muster's checkpoints (see MusterStore below).

`open_store` picks one from --ckpt (auto: file when --ckpt-dir is given,
muster when the job has a muster checkpoint directory and the binding is
importable, else none) and says which.
"""

import os
import sys

from filecheckpoint import FileCheckpoint


class FileStore:
    def __init__(self, directory, rank):
        self.ck = FileCheckpoint(directory)
        self.rank = rank

    def latest(self):
        return self.ck.latest()

    def load(self, step):
        return self.ck.load(step)

    def save(self, step, state):
        if self.rank == 0:  # the replicas are identical: one writer
            self.ck.save(step, state)

    def close(self):
        pass

    def describe(self):
        return "file %s" % self.ck.path(self.ck.latest())


def muster_binding():
    """The muster.torch module, or None with the reason."""
    try:
        import muster.torch as mt  # noqa: F401
        return mt, None
    except ImportError as e:
        return None, str(e)


def open_store(o, rank, world):
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
        return FileStore(o.ckpt_dir, rank)
    mt, why = muster_binding()
    if mt is None:
        sys.exit("torch_ctr: --ckpt muster needs muster's Python binding "
                 "(python/muster): %s" % why)
    from musterstore import MusterStore
    return MusterStore(mt, rank, world)
