"""muster — Python binding of libmuster, muster's worker API.

A training process started by ``muster run`` (or a muster-agent) opens a
``muster.Worker`` to learn its place in the gang, use the job's KV store
and barriers, report progress, follow membership changes and save and
restore checkpoints::

    import muster
    with muster.Worker() as w:
        print(w.rank, w.world, w.epoch)
        w.kv_put("hello/%d" % w.rank, b"hi")
        w.barrier("ready")

The binding is ctypes over libmuster.so (no compiler at install): see
muster/_lib.py for where the library is looked for ($MUSTER_LIBRARY
first).  ``muster.torch`` adds a torch.distributed Store on muster's KV
store and checkpoint save/load of state dicts.  docs/python.md is the
guide.
"""
from .errors import (AuthError, Canceled, Closed, Corrupt, Exists, InternalError,
                     InvalidArgument, JobDone, JobFull, JobSpecMismatch,
                     MembershipChanged, MusterError, NoCheckpoint, NoEnvironment,
                     NotFound, Passed, PeerLost, PermissionDenied, ProtocolError,
                     QuotaExceeded, RendezvousTimeout, StaleEpoch, TimedOut, TooBig,
                     UnknownMessageType, VersionError, err_name, strerror)
from .types import BucketSlice, CkptOutcome, CkptRequest, Membership, Peer, Restore
from .worker import Request, Worker

__version__ = "0.1.0"

__all__ = [
    "Worker", "Request", "Membership", "Peer", "CkptRequest", "CkptOutcome", "Restore",
    "BucketSlice", "MusterError", "AuthError", "Canceled", "Closed", "Corrupt",
    "Exists", "InternalError", "InvalidArgument", "JobDone", "JobFull",
    "JobSpecMismatch", "MembershipChanged", "NoCheckpoint", "NoEnvironment",
    "NotFound", "Passed", "PeerLost", "PermissionDenied", "ProtocolError",
    "QuotaExceeded", "RendezvousTimeout", "StaleEpoch", "TimedOut", "TooBig",
    "UnknownMessageType", "VersionError", "err_name", "strerror",
]
