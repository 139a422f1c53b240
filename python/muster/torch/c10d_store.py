"""c10d_store.py — MusterStore, a torch.distributed.Store on musterd's KV store.

init_process_group(store=MusterStore(...)) then needs no TCPStore on rank
0 and no free MASTER_PORT: keys live in the coordinator, scoped to the job
and epoch (a new epoch empties them), and a get waits in the coordinator
(libmuster's blocking kv_get, the GIL released) instead of polling.

musterd's KV offers put and (waiting) get; the Store methods map onto them:

  set, get, wait, check   put / get, get with timeout, get with timeout 0
                          (wait asks for one key after the other, so a
                          rank holds one waiting request at a time; check
                          sends every key at once with kv_get_nb, not
                          waiting);
  add(key, n)             a counter kept as one key per rank, each written
                          only by its rank ("<prefix>/add/<key>/<rank>",
                          that rank's running total); add returns the sum
                          over the ranks of the epoch, read in one
                          round of kv_get_nb.  Counters only grow by what
                          each rank adds, so torch's store-based barrier
                          (add 1, then add 0 until it reads world) is
                          exact.  The value returned is the total seen at
                          that moment, not a unique ticket: two ranks
                          adding at once may read the same total.  The
                          first add of a rank also puts the plain key
                          with a marker, so wait/check see a counter and
                          get returns its total (as TCPStore does).
  compare_set, delete_key, num_keys
                          need an atomic compare-and-set, a delete and a
                          key listing, which the KV protocol does not have;
                          they raise NotImplementedError saying so.
                          init_process_group, gloo and the collectives do
                          not call them.

Values set through torch arrive as bytes; get returns bytes.  A store
belongs to the epoch it was made in: used after a membership change it
raises muster.StaleEpoch (make a new one, as elastic.reinit does).
"""
from __future__ import annotations

import datetime
import time
from typing import Any, Dict, List, Optional, Union

import torch.distributed as dist

from ..errors import NotFound, StaleEpoch, TimedOut, invalid
from ..worker import Worker


# The value of a counter's plain key (see add); no torch value looks so.
COUNTER = b"\0muster.torch:counter\0"


def _unsupported(op: str) -> NotImplementedError:
    return NotImplementedError(
        "muster.torch store: %s needs an atomic compare-and-set, a delete or a "
        "key listing, which musterd's KV store (put and waiting get, per epoch) "
        "does not offer; init_process_group and gloo do not use it" % op)


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
        self._added: Dict[str, int] = {}
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

    def _ck(self, key: str, rank: int) -> str:
        return "%s/add/%s/%d" % (self.prefix, key, rank)

    def _secs(self, timeout: Optional[datetime.timedelta] = None) -> Optional[float]:
        t = timeout if timeout is not None else self.timeout
        s = t.total_seconds()
        return None if s <= 0 else s  # c10d's kNoTimeout (0) waits forever

    # the Store API -----------------------------------------------------
    def set(self, key: str, value: Union[bytes, str]) -> None:
        """Store value under key (bytes or str)."""
        self.worker.kv_put(self._k(key), value, self._secs())

    def get(self, key: str) -> bytes:
        """The value of key, waiting up to the store's timeout for it; for
        a counter (a key add() made), its total now, as TCPStore does."""
        v = self.worker.kv_get(self._k(key), self._secs())
        if v != COUNTER:
            return v
        mine = self._added.get(key)
        if mine is None:
            got = self._collect([self._ck(key, self.rank)], 0)[0]
            mine = int(got) if got else 0
        return str(self._total(key, mine)).encode()

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

    def _total(self, key: str, mine: int) -> int:
        others = [self._ck(key, r) for r in range(self.world) if r != self.rank]
        return mine + sum(int(v) for v in self._collect(others, 0) if v)

    def add(self, key: str, amount: int) -> int:
        """Add amount to the counter key; the total over all ranks now."""
        if isinstance(amount, bool) or not isinstance(amount, int):
            raise invalid("MusterStore.add", "amount must be an int, not %r" % (amount,))
        name = self._k(key)
        mine = self._added.get(key)
        if mine is None:
            got = self._collect([self._ck(key, self.rank)], 0)[0]
            mine = int(got) if got else 0
            # The plain key says "a counter": get/wait/check see it (and
            # a get waiting for it wakes up), get answers the total.
            self.worker.kv_put(name, COUNTER, self._secs())
        if amount != 0:
            mine += amount
            self.worker.kv_put(self._ck(key, self.rank), str(mine), self._secs())
        self._added[key] = mine
        return self._total(key, mine)

    def compare_set(self, key: str, expected: Any, desired: Any) -> bytes:
        raise _unsupported("compare_set")

    def delete_key(self, key: str) -> bool:
        raise _unsupported("delete_key")

    def num_keys(self) -> int:
        raise _unsupported("num_keys")

    def __repr__(self) -> str:
        return "<MusterStore prefix=%r epoch=%d rank=%d world=%d>" % (
            self.prefix, self.epoch, self.rank, self.world)
