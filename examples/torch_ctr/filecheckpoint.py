"""filecheckpoint.py — the script's own checkpoints: torch.save, atomically.

What an env-only PyTorch program does without muster's help, done right:
the state goes to a temporary file in the same directory, is fsynced, and
is renamed over `ckpt-step-<step>.pt` (rename is atomic), then the
directory is fsynced.  A crash at any moment leaves either the previous
checkpoint or the new one, never half a file; leftover `*.tmp` files are
ignored.  Only one rank writes (DDP replicas are identical); every rank
reads the step the caller chose.  The newest `keep` checkpoints are kept.
"""

import os
import re

import torch

NAME = re.compile(r"^ckpt-step-(\d+)\.pt$")


class FileCheckpoint:
    def __init__(self, directory, keep=2):
        if not directory:
            raise ValueError("a checkpoint directory is needed")
        self.dir = directory
        self.keep = max(1, keep)
        os.makedirs(directory, exist_ok=True)

    def path(self, step):
        return os.path.join(self.dir, "ckpt-step-%d.pt" % step)

    def steps(self):
        """Complete checkpoints, oldest first."""
        out = []
        for n in os.listdir(self.dir):
            m = NAME.match(n)
            if m:
                out.append(int(m.group(1)))
        return sorted(out)

    def latest(self):
        """The newest complete step, or 0 when there is none."""
        s = self.steps()
        return s[-1] if s else 0

    def save(self, step, state):
        """Write `state` as step `step`: temp file, fsync, rename, fsync dir."""
        final = self.path(step)
        tmp = "%s.%d.tmp" % (final, os.getpid())
        with open(tmp, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, final)
        fd = os.open(self.dir, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        for old in self.steps()[:-self.keep]:
            try:
                os.unlink(self.path(old))
            except FileNotFoundError:
                pass

    def load(self, step):
        """The state saved as `step`."""
        with open(self.path(step), "rb") as f:
            return torch.load(f)
