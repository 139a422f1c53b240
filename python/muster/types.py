"""types.py — the plain values the binding hands out.

Each mirrors a C structure of <muster/worker.h> as a frozen dataclass with
Python types (str for C strings, int for every integer), copied out of the
C memory at once so it stays valid after the handle moves on or closes.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional


def _s(b: Optional[bytes]) -> str:
    return b.decode("utf-8", "replace") if b else ""


@dataclass(frozen=True)
class Peer:
    """One rank's data-plane address (muster_peer_t)."""
    rank: int
    host: str
    port: int
    role: str
    role_rank: int
    node_rank: int
    local_rank: int

    @classmethod
    def _from_c(cls, rank: int, p) -> "Peer":
        return cls(rank, _s(p.host), p.port, _s(p.role), p.role_rank,
                   p.node_rank, p.local_rank)


@dataclass(frozen=True)
class Membership:
    """The gang entered a new epoch (muster_membership_t).

    ``sync_from`` is -1, or the rank a worker that joined in this epoch
    copies its state from; ``reason`` says why the epoch began ("" if not
    said)."""
    epoch: int
    rank: int
    world: int
    local_rank: int
    local_world: int
    role_rank: int
    role_world: int
    node_rank: int
    nnodes: int
    sync_from: int
    reason: str

    @classmethod
    def _from_c(cls, m) -> "Membership":
        return cls(m.epoch, m.rank, m.world, m.local_rank, m.local_world,
                   m.role_rank, m.role_world, m.node_rank, m.nnodes,
                   m.sync_from, _s(m.reason))


@dataclass(frozen=True)
class CkptRequest:
    """A checkpoint the coordinator asked for (muster_ckpt_request_t):
    save the state after ``step`` (or at once when ``now``)."""
    step: int
    now: bool
    deadline_ms: int
    reason: str

    @classmethod
    def _from_c(cls, r) -> "CkptRequest":
        return cls(r.step, bool(r.now), r.deadline_ms, _s(r.reason))


@dataclass(frozen=True)
class CkptOutcome:
    """How a checkpoint this worker was asked to save ended
    (muster_ckpt_outcome_t): ``step`` is the checkpoint's step;
    ``status`` is 0 when it was committed (every shard durable, the
    MANIFEST written: only then does it exist), else why not, a negative
    muster code or negated errno; ``reason`` is "" when committed, else a
    sentence ("this worker could not write its shard: ...", "timed out
    waiting for rank 3 (1 of 4 missing)")."""
    step: int
    status: int
    reason: str

    @property
    def committed(self) -> bool:
        return self.status == 0

    def error(self):
        """The MusterError subclass for a failed checkpoint (not raised),
        or None when it was committed."""
        if self.status == 0:
            return None
        from .errors import error_for
        return error_for(self.status, "checkpoint of step %d" % self.step, self.reason)

    @classmethod
    def _from_c(cls, o) -> "CkptOutcome":
        return cls(o.step, o.status, _s(o.reason))


@dataclass(frozen=True)
class Restore:
    """Where this worker resumes from (muster_restore_t): the newest
    complete checkpoint's ``step`` and this worker's shard file."""
    step: int
    path: str
    size: int
    from_rank: int

    def read(self) -> bytes:
        """The shard's bytes (checked against ``size``)."""
        with open(self.path, "rb") as f:
            data = f.read()
        if len(data) != self.size:
            from .errors import Corrupt
            raise Corrupt(Corrupt.code, "Restore.read",  # type: ignore[call-arg]
                          "%s has %d bytes, the manifest says %d"
                          % (self.path, len(data), self.size))
        return data

    def open(self):
        """The shard file opened for binary reading (the caller closes it)."""
        return open(self.path, "rb")

    @classmethod
    def _from_c(cls, r) -> "Restore":
        return cls(r.step, _s(r.path), r.size, r.from_rank)


@dataclass(frozen=True)
class BucketSlice:
    """A piece of a saved parameter-server shard (muster_bucket_slice_t):
    buckets [bucket_first, bucket_first + bucket_count) stored at index
    ``offset`` of the shard file ``path``."""
    path: str
    bucket_first: int
    bucket_count: int
    offset: int
