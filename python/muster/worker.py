"""worker.py — muster.Worker, the Python face of <muster/worker.h>.

A Worker is one libmuster handle (muster_worker_init .. finalize): the
process's place in the gang (rank, world, role, epoch, peers), the job's
KV store and barriers, progress reports, membership changes and
checkpoints.  libmuster's own thread keeps heartbeats and membership
flowing while Python computes; every blocking call here releases the GIL
(ctypes does) so other Python threads run meanwhile.

Conventions, the same for every method:
  * timeouts are in seconds (float): None waits forever, 0 does not wait;
  * keys and names are str (UTF-8) or bytes, without NUL; values are any
    bytes-like object or str (stored as UTF-8);
  * a failure raises a muster.MusterError subclass carrying muster's code
    and muster_strerror()'s message (see muster/errors.py); a bad argument
    raises muster.InvalidArgument naming it before anything is sent.

Membership changes reach Python three ways, all fed by one C callback the
Worker registers at init: ``on_membership(fn)`` (fn runs on libmuster's
thread: keep it short), ``wait_membership(timeout)`` (blocks the caller)
and ``await next_membership()`` (asyncio; the C API offers no file
descriptor, so the event is handed to the loop with
call_soon_threadsafe).  ``membership_changed()`` is the C API's
never-blocking poll.  Like the C handle, a Worker is not thread-safe:
use it from one thread at a time (Request objects may be waited on from
any thread).
"""
from __future__ import annotations

import asyncio
import ctypes
import math
import os
import shutil
import sys
import threading
import traceback
import weakref
from typing import Any, Callable, List, Optional, Tuple, Union

from . import _lib
from .errors import (Closed, InvalidArgument, MusterError, NoCheckpoint, NotFound, check,
                     error_for, invalid)
from .types import BucketSlice, CkptOutcome, CkptRequest, Membership, Peer, Restore

BytesLike = Union[bytes, bytearray, memoryview, str]
Key = Union[str, bytes]
_INT_MAX = 2**31 - 1


def _ms(timeout: Optional[float], what: str) -> int:
    """Seconds (None = forever) to the C API's milliseconds (-1 = forever)."""
    if timeout is None:
        return -1
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise invalid(what, "timeout must be a number of seconds or None, not %r"
                      % (timeout,))
    if timeout != timeout or timeout < 0:
        raise invalid(what, "timeout must be >= 0 seconds or None, not %r" % (timeout,))
    if math.isinf(timeout):
        return -1
    return min(_INT_MAX, int(math.ceil(timeout * 1000)))


def _key(key: Key, what: str, name: str = "key") -> bytes:
    if isinstance(key, str):
        b = key.encode("utf-8")
    elif isinstance(key, (bytes, bytearray)):
        b = bytes(key)
    else:
        raise invalid(what, "%s must be str or bytes, not %s" % (name, type(key).__name__))
    if not b:
        raise invalid(what, "%s must not be empty" % name)
    if b"\0" in b:
        raise invalid(what, "%s must not contain a NUL character" % name)
    return b


def _shown(key: Key) -> str:
    """A key for an error message: repr, cut after 80 characters."""
    r = repr(key)
    return r if len(r) <= 80 else r[:77] + "...(%d long)" % len(key)


class _Buf:
    """A C pointer and length over a bytes-like object, zero-copy when the
    object allows it.  ``keep`` must stay referenced while C may read it."""

    def __init__(self, data: BytesLike, what: str) -> None:
        if isinstance(data, str):
            data = data.encode("utf-8")
        if isinstance(data, bytes):
            self.keep: Any = data
            self.ptr = ctypes.cast(ctypes.c_char_p(data), ctypes.c_void_p)
            self.len = len(data)
            return
        try:
            mv = memoryview(data)
        except TypeError:
            raise invalid(what, "value must be bytes-like or str, not %s"
                          % type(data).__name__) from None
        if not mv.c_contiguous:
            mv = memoryview(mv.tobytes())
        mv = mv.cast("B") if mv.ndim != 1 or mv.format != "B" else mv
        self.len = mv.nbytes
        if self.len == 0:
            self.keep, self.ptr = mv, ctypes.c_void_p(0)
            return
        if mv.readonly:
            b = mv.tobytes()
            self.keep = b
            self.ptr = ctypes.cast(ctypes.c_char_p(b), ctypes.c_void_p)
        else:
            arr = (ctypes.c_char * self.len).from_buffer(mv)
            self.keep = (mv, arr)
            self.ptr = ctypes.cast(arr, ctypes.c_void_p)


def _take(ptr: ctypes.c_void_p, n: ctypes.c_size_t) -> bytes:
    """Copy a malloc'd C buffer into bytes and free it."""
    if not ptr.value:
        return b""
    try:
        return ctypes.string_at(ptr.value, n.value)
    finally:
        _lib.free(ptr.value)


def _report(where: str) -> None:
    """A user callback raised on libmuster's thread: say so, carry on."""
    print("muster: exception in %s callback (ignored):" % where, file=sys.stderr)
    traceback.print_exc()


class ShardClaim:
    """A checkpoint shard claimed by Worker.ckpt_claim, to be finished once
    with Worker.ckpt_claim_done."""

    def __init__(self, p: ctypes.c_void_p) -> None:
        self._p = p

    def __repr__(self) -> str:
        return "<ShardClaim %s>" % ("open" if self._p.value else "done")


class Request:
    """A non-blocking request (muster_req_t): a kv_get_nb or barrier_nb.

    ``done()`` never blocks; ``wait(timeout)`` returns the value (bytes for
    a kv get, None for a barrier) or raises the request's error; ``await
    req`` does the same from asyncio.  Closed (freed) by ``close()``, by
    ``with`` or when collected; freeing an unfinished request is safe."""

    def __init__(self, handle: ctypes.c_void_p, what: str, kind: str) -> None:
        self._h: Optional[ctypes.c_void_p] = handle
        self.what = what
        self.kind = kind
        self._fin = weakref.finalize(self, Request._free, handle)

    @staticmethod
    def _free(h: ctypes.c_void_p) -> None:
        _lib.lib().muster_req_free(ctypes.byref(h))

    def _handle(self) -> ctypes.c_void_p:
        if self._h is None:
            raise Closed(Closed.code, self.what, "the request was closed")  # type: ignore[call-arg]
        return self._h

    def done(self) -> bool:
        """True once the request has finished (successfully or not)."""
        return bool(_lib.lib().muster_req_done(self._handle()))

    def wait(self, timeout: Optional[float] = None) -> Optional[bytes]:
        """Wait up to timeout seconds; the kv value (bytes) or None for a
        barrier.  Raises TimedOut if still running, or the request's error."""
        ms = _ms(timeout, self.what)
        val, n = ctypes.c_void_p(), ctypes.c_size_t()
        rc = _lib.lib().muster_req_wait(self._handle(), ms, ctypes.byref(val),
                                        ctypes.byref(n))
        data = _take(val, n)
        check(rc, self.what)
        return data if self.kind == "kv_get" else None

    def __await__(self):
        loop = asyncio.get_running_loop()
        return loop.run_in_executor(None, self.wait, None).__await__()

    def close(self) -> None:
        """Free the request (finished or not)."""
        self._fin()
        self._h = None

    def __enter__(self) -> "Request":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _finalize(box: List[Any]) -> int:
    """Finalize a handle (from close(), or when the Worker is collected or
    the interpreter exits): first wait for asynchronous checkpoint saves
    (finalize would cancel queued ones), then finalize.  Returns the
    flush's status.  box = [handle, callbacks...]: the callbacks stay
    referenced until libmuster's thread has stopped."""
    h = box[0]
    rc = 0
    if h is not None and h.value:
        L = _lib.lib()
        rc = L.muster_worker_ckpt_flush(h)
        L.muster_worker_finalize(ctypes.byref(h))
    box[0] = None
    return rc


class Worker:
    """This process's libmuster handle.

    ``Worker()`` reads the MUSTER_* environment set by its agent (``muster
    run`` or muster-agent), connects and fetches its place in the gang.
    Raises NoEnvironment when not started by muster, PeerLost when the
    agent is gone, TimedOut when it does not answer within
    ``connect_timeout`` seconds (default 10).  Use it as a context manager,
    or call ``close()``, to tell the agent this worker is done."""

    def __init__(self, endpoint: Optional[str] = None,
                 connect_timeout: Optional[float] = None) -> None:
        L = _lib.lib()
        opts = _lib.WorkerOpts()
        if endpoint is not None:
            if not isinstance(endpoint, str) or not endpoint or "\0" in endpoint:
                raise invalid("muster.Worker", "endpoint must be a non-empty str, not %r"
                              % (endpoint,))
            opts.endpoint = endpoint.encode()
        if connect_timeout is not None:
            ms = _ms(connect_timeout, "muster.Worker")
            opts.connect_timeout_ms = max(1, ms) if ms >= 0 else _INT_MAX
        h = ctypes.c_void_p()
        check(L.muster_worker_init(ctypes.byref(h), ctypes.byref(opts)),
              "muster_worker_init")
        self._h: Optional[ctypes.c_void_p] = h
        self._mcond = threading.Condition()
        self._mseq = 0  # changes heard so far
        self._mseen_wait = 0  # the newest returned by wait_membership
        self._mseen_async = 0  # the newest returned by next_membership
        self._mlast: Optional[Membership] = None
        self._muser: Optional[Callable[[Membership], None]] = None
        self._mwaiters: List[Tuple[asyncio.AbstractEventLoop, asyncio.Future]] = []
        self._ckpt_cb: Any = None
        self._overlap_keep: Any = None
        me = weakref.ref(self)

        def on_membership(_w: Any, m: Any, _arg: Any) -> None:
            s = me()
            if s is not None:
                s._membership_event(Membership._from_c(m.contents))

        self._mcb = _lib.MEMBERSHIP_FN(on_membership)
        self._box: List[Any] = [h, self._mcb]
        self._fin = weakref.finalize(self, _finalize, self._box)
        check(L.muster_worker_on_membership(h, self._mcb, None),
              "muster_worker_on_membership")

    # ------------------------------------------------------------ lifecycle
    def close(self) -> None:
        """Wait until asynchronous checkpoint saves are durable, tell the
        agent this worker is done with muster and free the handle.  Safe
        to call twice.  Raises the error of a failed asynchronous save
        (after closing)."""
        rc = self._fin() or 0
        self._h = None
        with self._mcond:
            self._mcond.notify_all()
        for loop, fut in self._mwaiters:
            loop.call_soon_threadsafe(_fail_future, fut,
                                      Closed(Closed.code, "next_membership"))  # type: ignore[call-arg]
        self._mwaiters = []
        check(rc, "Worker.close (muster_worker_ckpt_flush)")

    @property
    def closed(self) -> bool:
        """True once close() ran (or the interpreter is exiting)."""
        return self._h is None or self._box[0] is None

    def __enter__(self) -> "Worker":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _handle(self, what: str) -> ctypes.c_void_p:
        if self._h is None or self._box[0] is None:
            raise Closed(Closed.code, what, "the Worker was closed")  # type: ignore[call-arg]
        return self._h

    def _int(self, name: str) -> int:
        return getattr(_lib.lib(), "muster_worker_" + name)(self._handle(name))

    # ------------------------------------------------------ place in the gang
    @property
    def rank(self) -> int:
        """Global rank in the current epoch."""
        return self._int("rank")

    @property
    def world(self) -> int:
        """Number of workers in the current epoch."""
        return self._int("world")

    @property
    def local_rank(self) -> int:
        return self._int("local_rank")

    @property
    def local_world(self) -> int:
        return self._int("local_world")

    @property
    def node_rank(self) -> int:
        return self._int("node_rank")

    @property
    def nnodes(self) -> int:
        return self._int("nnodes")

    @property
    def role(self) -> str:
        """Role name (``worker`` unless the job was started with --roles)."""
        return (_lib.lib().muster_worker_role(self._handle("role")) or b"").decode()

    @property
    def role_rank(self) -> int:
        return self._int("role_rank")

    @property
    def role_world(self) -> int:
        return self._int("role_world")

    @property
    def epoch(self) -> int:
        """The epoch; grows with every restart or re-rank."""
        return self._int("epoch")

    @property
    def restart_count(self) -> int:
        return self._int("restart_count")

    @property
    def job(self) -> str:
        return (_lib.lib().muster_worker_job(self._handle("job")) or b"").decode()

    @property
    def sync_from(self) -> int:
        """In-place mode: the rank to copy state from before training
        (this worker joined in this epoch), or -1."""
        return self._int("sync_from")

    def peer(self, rank: int) -> Peer:
        """The data-plane address of ``rank`` (0 .. world-1)."""
        what = "muster_worker_peer"
        if isinstance(rank, bool) or not isinstance(rank, int):
            raise invalid(what, "rank must be an int, not %r" % (rank,))
        if not 0 <= rank <= _INT_MAX:
            raise invalid(what, "rank %d is out of range 0..%d" % (rank, self.world - 1))
        p = _lib.Peer()
        rc = _lib.lib().muster_worker_peer(self._handle(what), rank, ctypes.byref(p))
        if rc < 0:
            raise error_for(rc, what, "rank %d (world %d)" % (rank, self.world))
        return Peer._from_c(rank, p)

    @property
    def peers(self) -> List[Peer]:
        """Every rank's address, in rank order."""
        return [self.peer(r) for r in range(self.world)]

    # ------------------------------------------------------ KV and barriers
    def kv_put(self, key: Key, value: BytesLike, timeout: Optional[float] = None) -> None:
        """Store ``value`` under ``key`` for this job and epoch (visible to
        every worker of the epoch, gone at the next)."""
        what = "muster_worker_kv_put"
        k = _key(key, what)
        b = _Buf(value, what)
        check(_lib.lib().muster_worker_kv_put(self._handle(what), k, b.ptr, b.len,
                                              _ms(timeout, what)), what)

    def kv_get(self, key: Key, timeout: Optional[float] = None) -> bytes:
        """The value of ``key``, waiting up to ``timeout`` seconds for some
        worker to put it.  NotFound (timeout 0) or TimedOut otherwise."""
        what = "muster_worker_kv_get"
        k = _key(key, what)
        ms = _ms(timeout, what)
        val, n = ctypes.c_void_p(), ctypes.c_size_t()
        rc = _lib.lib().muster_worker_kv_get(self._handle(what), k, ctypes.byref(val),
                                             ctypes.byref(n), ms)
        data = _take(val, n)
        if rc < 0:
            raise error_for(rc, what, "key %r" % (key,))
        return data

    def kv_get_nb(self, key: Key, timeout: Optional[float] = None) -> Request:
        """Start a kv_get and return at once; ``req.wait()`` or ``await req``."""
        what = "muster_worker_kv_get_nb"
        k = _key(key, what)
        r = ctypes.c_void_p()
        check(_lib.lib().muster_worker_kv_get_nb(self._handle(what), k, _ms(timeout, what),
                                                 ctypes.byref(r)), what)
        return Request(r, "kv_get %r" % (key,), "kv_get")

    async def kv_get_async(self, key: Key, timeout: Optional[float] = None) -> bytes:
        """asyncio form of kv_get (the wait runs in the loop's executor)."""
        v = await self.kv_get_nb(key, timeout)
        return v if v is not None else b""

    def kv_add(self, key: Key, delta: int, timeout: Optional[float] = None) -> int:
        """Add ``delta`` to the decimal integer ``key`` holds (absent = 0),
        atomically in the coordinator; the new value.  The key then holds
        the sum in decimal (kv_get reads b"42").  InvalidArgument if it
        holds anything else or the sum overflows int64."""
        what = "muster_worker_kv_add"
        k = _key(key, what)
        if isinstance(delta, bool) or not isinstance(delta, int):
            raise invalid(what, "delta must be an int, not %r" % (delta,))
        if not -2**63 <= delta < 2**63:
            raise invalid(what, "delta %d does not fit a 64-bit integer" % delta)
        out = ctypes.c_int64()
        rc = _lib.lib().muster_worker_kv_add(self._handle(what), k, delta,
                                             ctypes.byref(out), _ms(timeout, what))
        if rc < 0:
            raise error_for(rc, what, "key %s: the value is not a decimal integer or "
                            "the sum overflows int64" % _shown(key)
                            if rc == InvalidArgument.code else "key %s" % _shown(key))
        return out.value

    def kv_cas(self, key: Key, expected: BytesLike, desired: BytesLike,
               timeout: Optional[float] = None) -> Optional[bytes]:
        """Compare-and-set, atomically in the coordinator: if ``key`` holds
        ``expected`` (an empty ``expected`` also matches an absent key) it
        is set to ``desired``.  The value after the operation, or None if
        the key is absent (``expected`` was not empty; nothing stored)."""
        what = "muster_worker_kv_cas"
        k = _key(key, what)
        e, d = _Buf(expected, what), _Buf(desired, what)
        val, n = ctypes.c_void_p(), ctypes.c_size_t()
        rc = _lib.lib().muster_worker_kv_cas(self._handle(what), k, e.ptr, e.len, d.ptr,
                                             d.len, ctypes.byref(val), ctypes.byref(n),
                                             _ms(timeout, what))
        data = _take(val, n)
        if rc == NotFound.code:
            return None
        if rc < 0:
            raise error_for(rc, what, "key %s" % _shown(key))
        return data

    def kv_del(self, key: Key, timeout: Optional[float] = None) -> bool:
        """Delete ``key``; whether it existed."""
        what = "muster_worker_kv_del"
        k = _key(key, what)
        existed = ctypes.c_int()
        rc = _lib.lib().muster_worker_kv_del(self._handle(what), k, ctypes.byref(existed),
                                             _ms(timeout, what))
        if rc < 0:
            raise error_for(rc, what, "key %s" % _shown(key))
        return bool(existed.value)

    def kv_count(self, prefix: Key = "", timeout: Optional[float] = None) -> int:
        """The number of keys of this job and epoch that start with
        ``prefix`` (all keys by default; barrier names are not keys)."""
        what = "muster_worker_kv_count"
        p = _key(prefix, what, "prefix") if prefix else b""
        out = ctypes.c_uint64()
        rc = _lib.lib().muster_worker_kv_count(self._handle(what), p, ctypes.byref(out),
                                               _ms(timeout, what))
        if rc < 0:
            raise error_for(rc, what, "prefix %s" % _shown(prefix))
        return out.value

    def barrier(self, name: Key, timeout: Optional[float] = None) -> None:
        """Wait until every worker of the epoch has entered barrier ``name``."""
        what = "muster_worker_barrier"
        k = _key(name, what, "name")
        rc = _lib.lib().muster_worker_barrier(self._handle(what), k, _ms(timeout, what))
        if rc < 0:
            raise error_for(rc, what, "barrier %r" % (name,))

    def barrier_nb(self, name: Key, timeout: Optional[float] = None) -> Request:
        """Enter barrier ``name`` and return at once with a Request."""
        what = "muster_worker_barrier_nb"
        k = _key(name, what, "name")
        r = ctypes.c_void_p()
        check(_lib.lib().muster_worker_barrier_nb(self._handle(what), k, _ms(timeout, what),
                                                  ctypes.byref(r)), what)
        return Request(r, "barrier %r" % (name,), "barrier")

    async def barrier_async(self, name: Key, timeout: Optional[float] = None) -> None:
        """asyncio form of barrier."""
        await self.barrier_nb(name, timeout)

    def progress(self, step: int) -> None:
        """Report that ``step`` is finished (liveness; checkpoints are taken
        at reported steps).  Never blocks."""
        what = "muster_worker_progress"
        if isinstance(step, bool) or not isinstance(step, int) or not 0 <= step < 2**64:
            raise invalid(what, "step must be an int in 0..2**64-1, not %r" % (step,))
        check(_lib.lib().muster_worker_progress(self._handle(what), step), what)

    def report_load(self, load: float) -> None:
        """Service jobs: report this worker's load figure (the unit the
        job's autoscale_target is written in).  Never blocks; the latest
        figure of a burst is sent.  A negative, NaN or infinite load raises
        MusterError (MUSTER_EINVAL)."""
        what = "muster_worker_report_load"
        if isinstance(load, bool) or not isinstance(load, (int, float)):
            raise invalid(what, "load must be a number, not %r" % (load,))
        check(_lib.lib().muster_worker_report_load(self._handle(what), float(load)), what)

    # ------------------------------------------------------------ membership
    def _membership_event(self, m: Membership) -> None:
        """On libmuster's thread: record, wake waiters, call the user."""
        with self._mcond:
            self._mseq += 1
            self._mlast = m
            self._mcond.notify_all()
            waiters, self._mwaiters = self._mwaiters, []
            seq = self._mseq
        for loop, fut in waiters:
            try:
                loop.call_soon_threadsafe(self._resolve, fut, m, seq)
            except RuntimeError:
                pass  # that loop is closed
        fn = self._muser
        if fn is not None:
            try:
                fn(m)
            except Exception:
                _report("membership")

    def _resolve(self, fut: asyncio.Future, m: Membership, seq: int) -> None:
        if not fut.done():
            with self._mcond:
                self._mseen_async = max(self._mseen_async, seq)
            fut.set_result(m)

    def on_membership(self, fn: Optional[Callable[[Membership], None]]) -> None:
        """Call ``fn(Membership)`` on every new epoch, on libmuster's thread
        right after it is in effect (the properties already answer for it).
        Keep it short (set a flag); exceptions are printed and ignored.
        None removes it."""
        if fn is not None and not callable(fn):
            raise invalid("Worker.on_membership", "fn must be callable or None, not %r" % (fn,))
        self._handle("Worker.on_membership")
        self._muser = fn

    def membership_changed(self) -> Optional[Membership]:
        """The C API's poll: the new Membership if the epoch changed since
        the last call (or since init), else None.  Never blocks."""
        what = "muster_worker_membership_changed"
        m = _lib.Membership()
        rc = check(_lib.lib().muster_worker_membership_changed(self._handle(what),
                                                               ctypes.byref(m)), what)
        return Membership._from_c(m) if rc == 1 else None

    def membership_pending(self) -> bool:
        """True if a membership change happened that wait_membership has
        not returned yet.  Never blocks."""
        with self._mcond:
            return self._mseq > self._mseen_wait

    def wait_membership(self, timeout: Optional[float] = None) -> Optional[Membership]:
        """Block until a membership change this method has not returned
        yet; the latest Membership, or None after ``timeout`` seconds.
        Every thread blocked here when a change comes is woken with it,
        and next_membership keeps its own account: a change awaited there
        is still returned here (each form hears of every change)."""
        _ms(timeout, "Worker.wait_membership")
        self._handle("Worker.wait_membership")
        with self._mcond:
            seen = self._mseen_wait
            if not self._mcond.wait_for(lambda: self._mseq > seen or self._h is None,
                                        timeout):
                return None
            self._handle("Worker.wait_membership")
            self._mseen_wait = max(self._mseen_wait, self._mseq)
            return self._mlast

    async def next_membership(self) -> Membership:
        """Await the next membership change not yet returned by this
        method (asyncio); independent of wait_membership."""
        self._handle("Worker.next_membership")
        loop = asyncio.get_running_loop()
        fut: asyncio.Future = loop.create_future()
        with self._mcond:
            if self._mseq > self._mseen_async and self._mlast is not None:
                self._mseen_async = self._mseq
                return self._mlast
            self._mwaiters.append((loop, fut))
        return await fut

    # ------------------------------------------------------------ checkpoints
    def on_ckpt(self, fn: Optional[Callable[[CkptRequest], None]]) -> None:
        """Call ``fn(CkptRequest)`` on libmuster's thread when a checkpoint
        is requested (keep it short: set a flag).  None removes it."""
        what = "muster_worker_on_ckpt"
        if fn is not None and not callable(fn):
            raise invalid(what, "fn must be callable or None, not %r" % (fn,))
        h = self._handle(what)
        if fn is None:
            check(_lib.lib().muster_worker_on_ckpt(h, _lib.CKPT_FN(), None), what)
            self._ckpt_cb = None
            return

        def cb(_w: Any, rq: Any, _arg: Any) -> None:
            try:
                fn(CkptRequest._from_c(rq.contents))
            except Exception:
                _report("checkpoint")

        c = _lib.CKPT_FN(cb)
        check(_lib.lib().muster_worker_on_ckpt(h, c, None), what)
        self._ckpt_cb = c
        self._box.append(c)  # alive until the handle is finalized

    def ckpt_due(self) -> Optional[CkptRequest]:
        """The CkptRequest if this worker should save now (a checkpoint is
        requested and the last step reported is its step), else None."""
        what = "muster_worker_ckpt_due"
        rq = _lib.CkptRequest()
        rc = check(_lib.lib().muster_worker_ckpt_due(self._handle(what), ctypes.byref(rq)),
                   what)
        return CkptRequest._from_c(rq) if rc == 1 else None

    def ckpt_save(self, data: BytesLike, asynchronous: bool = False,
                  overlap: bool = False) -> None:
        """Save ``data`` as this worker's shard of the due checkpoint.

        Default: returns once the shard is durable and reported.
        ``asynchronous=True``: returns once the bytes are copied; a
        background thread writes and fsyncs (ckpt_flush() waits for it).
        ``overlap=True``: returns at once and the copy is made in the
        background: ``data`` must not change until ckpt_copied() returns.
        NotFound if no checkpoint is due."""
        what = "muster_worker_ckpt_save"
        flags = _lib.CKPT_OVERLAP if overlap else (_lib.CKPT_ASYNC if asynchronous else 0)
        b = _Buf(data, what)
        rc = _lib.lib().muster_worker_ckpt_save(self._handle(what), b.ptr, b.len, flags)
        if rc < 0:
            raise error_for(rc, what, "no checkpoint is due" if rc == NotFound.code else "")
        if overlap:
            self._overlap_keep = b

    def ckpt_claim(self) -> Tuple[str, "ShardClaim"]:
        """Take the due checkpoint for a shard another process or thread
        writes (muster.torch.save's fork()ed child does): the path to write
        it to, and the claim to finish with ckpt_claim_done() from any
        thread once the file is closed.  NotFound if no checkpoint is due;
        the save is in flight until then (ckpt_flush() waits for it)."""
        what = "muster_worker_ckpt_claim"
        buf = ctypes.create_string_buffer(4096)
        cl = ctypes.c_void_p()
        rc = _lib.lib().muster_worker_ckpt_claim(self._handle(what), buf, len(buf),
                                                 ctypes.byref(cl))
        if rc < 0:
            raise error_for(rc, what, "no checkpoint is due" if rc == NotFound.code else "")
        return buf.value.decode(), ShardClaim(cl)

    def ckpt_claim_done(self, claim: "ShardClaim", status: int = 0) -> None:
        """The claim's file is complete (status 0: fsync, checksum and
        report it) or its writer failed (a negative muster or errno code:
        report that).  Thread-safe; raises the save's error."""
        what = "muster_worker_ckpt_claim_done"
        if not isinstance(claim, ShardClaim) or not claim._p.value:
            raise invalid(what, "claim must be an unfinished ShardClaim, not %r" % (claim,))
        if isinstance(status, bool) or not isinstance(status, int) or status > 0:
            raise invalid(what, "status must be 0 or a negative code, not %r" % (status,))
        rc = _lib.lib().muster_worker_ckpt_claim_done(self._handle(what),
                                                      ctypes.byref(claim._p), status)
        if rc < 0:
            raise error_for(rc, what, "")

    def ckpt_copied(self) -> None:
        """After an overlap save: block until the data has been copied."""
        what = "muster_worker_ckpt_copied"
        check(_lib.lib().muster_worker_ckpt_copied(self._handle(what)), what)
        self._overlap_keep = None

    def ckpt_reserve(self, nbytes: int) -> None:
        """Have the background thread prepare a snapshot buffer now."""
        what = "muster_worker_ckpt_reserve"
        if isinstance(nbytes, bool) or not isinstance(nbytes, int) or nbytes < 0:
            raise invalid(what, "nbytes must be an int >= 0, not %r" % (nbytes,))
        check(_lib.lib().muster_worker_ckpt_reserve(self._handle(what), nbytes), what)

    def ckpt_path(self) -> str:
        """Where to write the due shard yourself (then ckpt_commit_file())."""
        what = "muster_worker_ckpt_path"
        buf = ctypes.create_string_buffer(4096)
        rc = _lib.lib().muster_worker_ckpt_path(self._handle(what), buf, len(buf))
        if rc < 0:
            raise error_for(rc, what, "no checkpoint is due" if rc == NotFound.code else "")
        return buf.value.decode()

    def ckpt_commit_file(self) -> None:
        """The shard was written at ckpt_path(): fsync, rename, report it."""
        what = "muster_worker_ckpt_save_file"
        check(_lib.lib().muster_worker_ckpt_save_file(self._handle(what)), what)

    def ckpt_save_file(self, source: Union[str, os.PathLike, Any]) -> None:
        """Save a file as the shard: ``source`` is a path or a readable
        binary file object; its bytes are copied to ckpt_path() and
        committed (synchronously)."""
        what = "Worker.ckpt_save_file"
        if isinstance(source, (str, os.PathLike)):
            if not os.path.isfile(source):
                raise invalid(what, "%s is not a file" % (os.fspath(source),))
            dst = self.ckpt_path()
            shutil.copyfile(source, dst)
        elif hasattr(source, "read"):
            dst = self.ckpt_path()
            with open(dst, "wb") as f:
                shutil.copyfileobj(source, f)
        else:
            raise invalid(what, "source must be a path or a binary file object, not %s"
                          % type(source).__name__)
        self.ckpt_commit_file()

    def ckpt_save_with(self, writer: Callable[[Any], None],
                       asynchronous: bool = False) -> None:
        """Save what ``writer(f)`` writes to the binary file object ``f``.

        Synchronous: f is the shard file at ckpt_path(), committed when
        writer returns.  ``asynchronous=True``: f is an in-memory buffer
        whose bytes are then saved with ckpt_save(asynchronous=True)."""
        what = "Worker.ckpt_save_with"
        if not callable(writer):
            raise invalid(what, "writer must be callable, not %r" % (writer,))
        if asynchronous:
            import io
            bio = io.BytesIO()
            writer(bio)
            self.ckpt_save(bio.getbuffer(), asynchronous=True)
            return
        with open(self.ckpt_path(), "wb") as f:
            writer(f)
        self.ckpt_commit_file()

    def ckpt_outcome(self) -> Optional[CkptOutcome]:
        """How a checkpoint this worker was asked to save ended, if that is
        news since the last call: a CkptOutcome (``committed``, or
        ``status`` < 0 and ``reason``: this worker's own write failed, seen
        at once, or the coordinator aborted the commit), else None.  Only
        the newest outcome is kept; never blocks.  A save that returned is
        not yet a checkpoint: it exists once an outcome says committed."""
        what = "muster_worker_ckpt_outcome"
        o = _lib.CkptOutcome()
        rc = check(_lib.lib().muster_worker_ckpt_outcome(self._handle(what),
                                                         ctypes.byref(o)), what)
        return CkptOutcome._from_c(o) if rc == 1 else None

    def ckpt_flush(self) -> None:
        """Block until every asynchronous save is durable; raises the
        error of the last one if it failed."""
        what = "muster_worker_ckpt_flush"
        check(_lib.lib().muster_worker_ckpt_flush(self._handle(what)), what)

    def restore(self) -> Optional[Restore]:
        """This worker's shard of the newest complete checkpoint, or None
        when the job starts fresh.  Raises Corrupt on a checksum failure."""
        what = "muster_worker_restore"
        r = _lib.Restore()
        rc = _lib.lib().muster_worker_restore(self._handle(what), ctypes.byref(r))
        if rc == NoCheckpoint.code:  # nothing to restore: not an error
            return None
        check(rc, what)
        return Restore._from_c(r)

    def buckets(self) -> Tuple[int, int]:
        """Parameter servers: (first, count) of the hash buckets owned now."""
        what = "muster_worker_buckets"
        first, count = ctypes.c_uint64(), ctypes.c_uint64()
        check(_lib.lib().muster_worker_buckets(self._handle(what), ctypes.byref(first),
                                               ctypes.byref(count)), what)
        return first.value, count.value

    def restore_buckets(self) -> List[BucketSlice]:
        """Parameter servers: the saved pieces holding the owned buckets."""
        what = "muster_worker_restore_buckets"
        arr = ctypes.POINTER(_lib.BucketSlice)()
        n = ctypes.c_size_t()
        check(_lib.lib().muster_worker_restore_buckets(self._handle(what), ctypes.byref(arr),
                                                       ctypes.byref(n)), what)
        try:
            return [BucketSlice((arr[i].path or b"").decode(), arr[i].bucket_first,
                                arr[i].bucket_count, arr[i].offset) for i in range(n.value)]
        finally:
            _lib.free(ctypes.cast(arr, ctypes.c_void_p).value or 0)

    def __repr__(self) -> str:
        if self.closed:
            return "<muster.Worker closed>"
        return "<muster.Worker job=%s rank=%d world=%d epoch=%d role=%s>" % (
            self.job, self.rank, self.world, self.epoch, self.role)


def _fail_future(fut: asyncio.Future, exc: MusterError) -> None:
    if not fut.done():
        fut.set_exception(exc)
