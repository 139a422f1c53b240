"""errors.py — muster's error codes as Python exceptions.

Every libmuster call returns 0 or a negative code (<muster/error.h>): a
muster code below -10000 or a negated errno.  The binding turns each
failure into an exception carrying the code, its symbolic name and
muster_strerror()'s sentence, plus what was being done.  There is one
subclass per muster code, so callers catch what they mean
(``except muster.TimedOut``); the common ones also derive from the
matching built-in (TimedOut is a TimeoutError, NotFound a KeyError,
InvalidArgument a ValueError and TypeError) so generic code keeps working.
A negated errno becomes plain MusterError with ``errno`` set.

Arguments the binding can check before calling C (a key that is not a
string, a negative rank) raise InvalidArgument with a message naming the
argument, the same class libmuster's MUSTER_EINVAL maps to.
"""
from __future__ import annotations

import errno as _errno
import os
from typing import Dict, Type

ERR_BASE = -10000


class MusterError(Exception):
    """A failed muster call.

    Attributes: ``code`` (the negative C code), ``name`` (e.g.
    ``"MUSTER_ETIMEDOUT"`` or ``"ENOMEM"``), ``strerror`` (muster's sentence
    for the code), ``what`` (the call or action that failed) and ``errno``
    (the positive errno for OS failures, else None)."""

    code: int = 0

    def __init__(self, code: int, what: str = "", detail: str = "") -> None:
        name, text = err_name(code), strerror(code)
        msg = "%s: %s (%s)" % (what, text, name) if what else "%s (%s)" % (text, name)
        if detail:
            msg += ": " + detail
        super().__init__(msg)
        # After the base's __init__: OSError-derived classes (TimedOut is a
        # TimeoutError) reset errno and strerror there.
        self.code = code
        self.name = name
        self.strerror = text
        self.what = what
        self.errno = -code if -4096 < code < 0 else None

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


def _cls(name: str, off: int, *bases: type, doc: str) -> Type[MusterError]:
    c = type(name, (MusterError,) + bases, {"__doc__": doc, "code": ERR_BASE - off,
                                            "__module__": __name__})
    return c  # type: ignore[return-value]


ProtocolError = _cls("ProtocolError", 1, doc="MUSTER_EPROTO: malformed or unsupported protocol message")
VersionError = _cls("VersionError", 2, doc="MUSTER_EVERSION: unsupported protocol version")
UnknownMessageType = _cls("UnknownMessageType", 3, doc="MUSTER_ETYPE: unknown message type")
TooBig = _cls("TooBig", 4, ValueError, doc="MUSTER_ETOOBIG: a message or field exceeds its size bound")
StaleEpoch = _cls("StaleEpoch", 5, doc="MUSTER_ESTALE_EPOCH: the request belongs to an older epoch")
RendezvousTimeout = _cls("RendezvousTimeout", 6, TimeoutError, doc="MUSTER_ERDZV_TIMEOUT")
PeerLost = _cls("PeerLost", 7, ConnectionError, doc="MUSTER_EPEERLOST: a peer, the agent or the coordinator was lost")
TimedOut = _cls("TimedOut", 8, TimeoutError, doc="MUSTER_ETIMEDOUT: the operation timed out")
Closed = _cls("Closed", 9, doc="MUSTER_ECLOSED: the handle is closed or shutting down")
NotFound = _cls("NotFound", 10, KeyError, doc="MUSTER_ENOTFOUND: no such key, job, node or rank; no checkpoint due")
Exists = _cls("Exists", 11, doc="MUSTER_EEXIST: already exists")
InvalidArgument = _cls("InvalidArgument", 12, ValueError, TypeError, doc="MUSTER_EINVAL: invalid argument")
MembershipChanged = _cls("MembershipChanged", 13, doc="MUSTER_EMEMBERSHIP: membership changed (new epoch); retry in the new one")
JobSpecMismatch = _cls("JobSpecMismatch", 14, doc="MUSTER_EJOBSPEC")
JobFull = _cls("JobFull", 15, doc="MUSTER_EFULL")
NoEnvironment = _cls("NoEnvironment", 16, doc="MUSTER_ENOENV: not started by muster (MUSTER_* environment missing)")
Canceled = _cls("Canceled", 17, doc="MUSTER_ECANCELED: operation canceled")
JobDone = _cls("JobDone", 18, doc="MUSTER_EJOBDONE: the job has already finished")
InternalError = _cls("InternalError", 19, doc="MUSTER_EINTERNAL: internal error")
Passed = _cls("Passed", 20, doc="MUSTER_EPASSED: the worker is already past the requested step")
Corrupt = _cls("Corrupt", 21, doc="MUSTER_ECORRUPT: checkpoint data is corrupt")
NoCheckpoint = _cls("NoCheckpoint", 22, doc="MUSTER_ENOCKPT: no complete checkpoint to restore from")
PermissionDenied = _cls("PermissionDenied", 23, PermissionError, doc="MUSTER_EPERM")
QuotaExceeded = _cls("QuotaExceeded", 24, doc="MUSTER_EQUOTA: a per-job or per-peer resource limit was reached")
AuthError = _cls("AuthError", 25, doc="MUSTER_EAUTH: authentication failed")

BY_CODE: Dict[int, Type[MusterError]] = {
    c.code: c for c in (ProtocolError, VersionError, UnknownMessageType, TooBig,
                        StaleEpoch, RendezvousTimeout, PeerLost, TimedOut, Closed,
                        NotFound, Exists, InvalidArgument, MembershipChanged,
                        JobSpecMismatch, JobFull, NoEnvironment, Canceled, JobDone,
                        InternalError, Passed, Corrupt, NoCheckpoint,
                        PermissionDenied, QuotaExceeded, AuthError)}


def strerror(code: int) -> str:
    """muster_strerror(code), or a fallback if libmuster cannot be loaded."""
    try:
        from ._lib import lib
        return lib().muster_strerror(code).decode("utf-8", "replace")
    except ImportError:
        return os.strerror(-code) if -4096 < code < 0 else "muster error %d" % code


def err_name(code: int) -> str:
    """muster_err_name(code), e.g. "MUSTER_ETIMEDOUT" or "ENOMEM"."""
    try:
        from ._lib import lib
        return lib().muster_err_name(code).decode("utf-8", "replace")
    except ImportError:
        return _errno.errorcode.get(-code, "MUSTER_ERROR_%d" % code)


def error_for(code: int, what: str = "", detail: str = "") -> MusterError:
    """The exception for a negative code: its subclass, else MusterError."""
    cls = BY_CODE.get(code, MusterError)
    return cls(code, what, detail)


def check(rc: int, what: str) -> int:
    """Raise error_for(rc, what) when rc < 0; return rc otherwise."""
    if rc < 0:
        raise error_for(rc, what)
    return rc


def invalid(what: str, detail: str) -> InvalidArgument:
    """InvalidArgument for a bad argument found before calling C."""
    return InvalidArgument(InvalidArgument.code, what, detail)  # type: ignore[call-arg]
