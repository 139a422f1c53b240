"""c10d_store.py — MusterStore, a torch.distributed.Store on musterd's KV store.

init_process_group(store=MusterStore(...)) then needs no TCPStore on rank
0 and no free MASTER_PORT: keys live in the coordinator, scoped to the job
and epoch (a new epoch empties them), and a get waits in the coordinator
(libmuster's blocking kv_get, the GIL released) instead of polling.

Every Store method maps onto one musterd KV operation, atomic in the
coordinator (coordinator/kv_table.c):

  set, get                put / get waiting up to the store's timeout;
  wait                    get with a timeout, one key after the other, so a
                          rank holds one waiting request at a time;
  check                   every key at once with kv_get_nb, not waiting;
  add(key, n)             kv.add: the key holds a decimal integer (as
                          TCPStore's does: get reads b"3"), the new value
                          is returned, a unique ticket per add;
  compare_set(k, e, d)    kv.cas: the value after the operation; for an
                          absent key and a non-empty e it returns e, as
                          TCPStore does (nothing is stored);
  delete_key(k)           kv.del: whether the key existed;
  num_keys()              kv.count of this store's keys (its prefix): a
                          fresh store has 0 (TCPStore counts 1, its own
                          "init/" key).

Values set through torch arrive as bytes; get returns bytes.  A store
belongs to the epoch it was made in: used after a membership change it
raises muster.StaleEpoch (make a new one, as elastic.reinit does).
"""
from __future__ import annotations

import datetime
import time
from typing import List, Optional, Union

import torch.distributed as dist

from ..errors import InvalidArgument, NotFound, StaleEpoch, TimedOut, invalid
from ..worker import Worker


def _bytes(v: Union[bytes, str], what: str) -> bytes:
    if isinstance(v, str):
        return v.encode("utf-8")
    if isinstance(v, (bytes, bytearray, memoryview)):
        return bytes(v)
    raise invalid("MusterStore.compare_set", "%s must be bytes or str, not %s"
                  % (what, type(v).__name__))


class MusterStore(dist.Store):
    """A c10d Store over a muster.Worker's KV store (see the module doc)."""

    def __init__(self, worker: Worker, prefix: str = "torch",
                 timeout: Optional[float] = None) -> None:
        super().__init__()
        if not isinstance(worker, Worker):
            raise invalid("muster.torch.store", "worker must be a muster.Worker, not %s"
                          % type(worker).__name__)
        if not isinstance(prefix, str) or not prefix or "\0" in prefix:
            raise invalid("muster.torch.store", "prefix must be a non-empty str, not %r"
                          % (prefix,))
        self.worker = worker
        self.prefix = prefix
        self.epoch = worker.epoch
        self.rank = worker.rank
        self.world = worker.world
        if timeout is not None:
            if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) \
                    or timeout < 0:
                raise invalid("muster.torch.store", "timeout must be seconds >= 0, not %r"
                              % (timeout,))
            self.set_timeout(datetime.timedelta(seconds=timeout))

    # keys ------------------------------------------------------------
    def _k(self, key: str) -> str:
        e = self.worker.epoch
        if e != self.epoch:
            raise StaleEpoch(StaleEpoch.code, "MusterStore",  # type: ignore[call-arg]
                             "this store belongs to epoch %d, the gang is in epoch %d: "
                             "make a new one (muster.torch.elastic.reinit does)"
                             % (self.epoch, e))
        if not isinstance(key, str):
            raise invalid("MusterStore", "key must be str, not %s" % type(key).__name__)
        return "%s/v/%s" % (self.prefix, key)

    def _secs(self, timeout: Optional[datetime.timedelta] = None) -> Optional[float]:
        t = timeout if timeout is not None else self.timeout
        s = t.total_seconds()
        return None if s <= 0 else s  # c10d's kNoTimeout (0) waits forever

    # the Store API -----------------------------------------------------
    def set(self, key: str, value: Union[bytes, str]) -> None:
        """Store value under key (bytes or str)."""
        self.worker.kv_put(self._k(key), value, self._secs())

    def get(self, key: str) -> bytes:
        """The value of key, waiting up to the store's timeout for it (a
        counter's value is its decimal total, as TCPStore's)."""
        return self.worker.kv_get(self._k(key), self._secs())

    def _collect(self, keys: List[str], timeout: Optional[float]) -> List[Optional[bytes]]:
        """Ask for every key at once (kv_get_nb); None for an absent key
        when timeout is 0."""
        reqs = [self.worker.kv_get_nb(k, timeout) for k in keys]
        out: List[Optional[bytes]] = []
        try:
            for r in reqs:
                try:
                    out.append(r.wait())
                except NotFound:
                    out.append(None)
        finally:
            for r in reqs:
                r.close()
        return out

    def wait(self, keys: List[str], timeout: Optional[datetime.timedelta] = None) -> None:
        """Block until every key is set (timeout: the store's by default).

        One key at a time, each get waiting in the coordinator until the
        deadline: a rank holds at most one waiting request, well inside
        musterd's per-node bound on waiting requests (4 per slot + 64),
        however many keys it waits for."""
        if isinstance(keys, str):
            keys = [keys]
        names = [self._k(k) for k in keys]
        total = self._secs(timeout)
        deadline = None if total is None else time.monotonic() + total
        for k, name in zip(keys, names):
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                self.worker.kv_get(name, left)
            except (TimedOut, NotFound):
                raise TimedOut(TimedOut.code, "MusterStore.wait",  # type: ignore[call-arg]
                               "key %r not set within %s (of keys %r)"
                               % (k, timeout or self.timeout, list(keys))) from None

    def check(self, keys: List[str]) -> bool:
        """True if every key is set now (never waits)."""
        if isinstance(keys, str):
            keys = [keys]
        return all(v is not None for v in self._collect([self._k(k) for k in keys], 0))

    def add(self, key: str, amount: int) -> int:
        """Add amount to the counter key (absent = 0); the new value."""
        if isinstance(amount, bool) or not isinstance(amount, int):
            raise invalid("MusterStore.add", "amount must be an int, not %r" % (amount,))
        try:
            return self.worker.kv_add(self._k(key), amount, self._secs())
        except InvalidArgument as e:
            raise invalid("MusterStore.add", "key %r holds a value that is not a decimal "
                          "integer, or adding %d overflows int64 (%s)"
                          % (key, amount, e)) from None

    def compare_set(self, key: str, expected: Union[bytes, str],
                    desired: Union[bytes, str]) -> bytes:
        """If key holds expected (or is absent and expected is empty), set
        it to desired; the value after, as TCPStore answers (expected
        itself for an absent key and a non-empty expected)."""
        e, d = _bytes(expected, "expected"), _bytes(desired, "desired")
        cur = self.worker.kv_cas(self._k(key), e, d, self._secs())
        return e if cur is None else cur

    def delete_key(self, key: str) -> bool:
        """Delete key; True if it existed."""
        return self.worker.kv_del(self._k(key), self._secs())

    def num_keys(self) -> int:
        """How many keys this store holds (its prefix's, this epoch)."""
        self._k("")  # the epoch check
        return self.worker.kv_count("%s/v/" % self.prefix, self._secs())

    def __repr__(self) -> str:
        return "<MusterStore prefix=%r epoch=%d rank=%d world=%d>" % (
            self.prefix, self.epoch, self.rank, self.world)
