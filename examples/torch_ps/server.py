"""server.py — a parameter server: embedding rows by hash bucket, sparse
Adagrad, synchronous steps, and its shard of every checkpoint.

A server holds the rows of the buckets it owns (buckets.py), created on
first pull from a fixed function of the key, so a row's initial value does
not depend on which server creates it.  Training is synchronous and
deterministic: workers pull the rows of step s once step s-1 is applied;
each pushes its sparse gradient of step s (possibly empty: every worker
pushes to every server every step); when all of them have, the server sums
the gradients in worker order and applies Adagrad with one correctly
rounded operation at a time (no fused kernels whose result could depend on
a row's position in memory).  A row's value after step s is therefore the
same whatever the number of servers, which is what lets a job resumed with
3 servers end exactly where a fault-free job with 2 ends.

After applying a step the server hands its shard to the checkpoints
(shardstore.py: its own files; musterckpt.py: muster's), which save it if
that step is to be saved, before the server serves the next step.

The RPC entry points (pull, push, saved, stats, peek) are module functions:
torch.distributed.rpc sends a function by its qualified name, and it runs
on the server's own instance, set once by `serve` (one per process).
"""

import hashlib
import threading

import torch

from buckets import bucket_of, owned

_server = None  # this process's ParamServer (RPC handlers reach it here)


def init_rows(keys, width, scale=0.05):
    """Initial rows of `keys`: column 0 (first-order weight) 0, the others
    uniform in [-scale/2, scale/2) from a Lehmer generator keyed by the key."""
    p = 2147483647
    j = torch.arange(1, width, dtype=torch.int64)
    h = ((keys % p) * 48271 + (keys >> 31) * 16807)[:, None] % p
    h = (h + j * 69621) % p * 48271 % p
    h = h * 48271 % p
    rows = torch.zeros(keys.numel(), width)
    rows[:, 1:] = (h.to(torch.float64) / p - 0.5).to(torch.float32) * scale
    return rows


class ParamServer:
    def __init__(self, index, nps, nworkers, nbuckets, width, lr, ckpt):
        self.index, self.nps, self.nworkers = index, nps, nworkers
        self.nbuckets, self.width, self.lr = nbuckets, width, lr
        self.first, self.end = owned(nbuckets, nps, index)
        self.ckpt = ckpt  # checkpoints (shardstore.py, musterckpt.py) or None
        self.slot = {}  # key -> row index in param/accum
        self.keys = torch.empty(0, dtype=torch.int64)
        self.param = torch.empty(0, width)
        self.accum = torch.empty(0, width)
        self.applied = 0  # last step whose gradients are applied
        self.saved_step = self.saved_rows = 0
        self.pending = {}  # step -> {worker: (keys, grads)}
        self.cv = threading.Condition()
        self.error = None

    # -- state

    def load(self, step, keys, param, accum):
        """Start from a checkpoint: these rows, step `step` applied."""
        self.keys, self.param, self.accum = keys.clone(), param.clone(), accum.clone()
        self.slot = {int(k): i for i, k in enumerate(self.keys.tolist())}
        self.applied = self.saved_step = step
        self.saved_rows = self.keys.numel()

    def _slots(self, keys, create):
        """Row indices of keys (creating missing rows when `create`; -1
        for a missing row otherwise)."""
        idx = [self.slot.get(k, -1) for k in keys.tolist()]
        missing = [i for i, s in enumerate(idx) if s < 0]
        if missing and create:
            new = keys[missing]
            bad = bucket_of(new, self.nbuckets)
            if bool(((bad < self.first) | (bad >= self.end)).any()):
                raise ValueError("ps %d got a key outside its buckets [%d,%d)"
                                 % (self.index, self.first, self.end))
            base = self.keys.numel()
            self.keys = torch.cat([self.keys, new])
            self.param = torch.cat([self.param, init_rows(new, self.width)])
            self.accum = torch.cat([self.accum, torch.zeros(new.numel(), self.width)])
            for n, i in enumerate(missing):
                idx[i] = base + n
                self.slot[int(new[n])] = base + n
        return torch.tensor(idx, dtype=torch.int64)

    def _wait(self, pred):
        while not pred():
            if self.error:
                raise RuntimeError(self.error)
            self.cv.wait()

    # -- RPC bodies

    def pull(self, step, keys):
        with self.cv:
            self._wait(lambda: self.applied >= step - 1)
            idx = self._slots(keys, create=True)  # may grow self.param
            return self.param[idx].clone()

    def push(self, step, worker, keys, grads):
        with self.cv:
            self.pending.setdefault(step, {})[worker] = (keys, grads)
            if len(self.pending[step]) < self.nworkers:
                return
            self._wait(lambda: self.applied == step - 1)
            try:
                self._apply(step, self.pending.pop(step))
                if self.ckpt and self.ckpt.server_step(self, step):
                    self.saved_step, self.saved_rows = step, self.keys.numel()
            except Exception as e:  # noqa: BLE001 - reported to every waiter
                self.error = "ps %d, step %d: %s" % (self.index, step, e)
                self.cv.notify_all()
                raise
            self.applied = step
            self.cv.notify_all()

    def _apply(self, step, pushes):
        grad = torch.zeros_like(self.param)
        touched = []
        for w in range(self.nworkers):  # a fixed order: deterministic sums
            keys, g = pushes[w]
            if keys.numel():
                idx = self._slots(keys, create=True)
                grad.index_add_(0, idx, g)
                touched.append(idx)
        if not touched:
            return
        idx = torch.unique(torch.cat(touched))
        g = grad[idx]
        acc = self.accum[idx] + g * g
        self.accum[idx] = acc
        std = torch.sqrt(acc) + 1e-10
        self.param[idx] = self.param[idx] - (g / std) * self.lr

    def shard(self, step):
        """What a checkpoint of `step` holds of this server."""
        return {"step": step, "nbuckets": self.nbuckets, "first": self.first,
                "end": self.end, "keys": self.keys, "param": self.param,
                "accum": self.accum}

    def saved(self, step):
        """Wait until this server's shard of `step` is durable; returns
        the number of rows it holds."""
        with self.cv:
            self._wait(lambda: self.saved_step >= step)
            return self.saved_rows

    def stats(self, step):
        """(rows, checksum) once `step` is applied: the checksum is the sum
        mod 2**64 of a SHA-256 of every row's key and values, so the sum
        over all servers does not depend on how rows are partitioned."""
        with self.cv:
            self._wait(lambda: self.applied >= step)
            total = 0
            for k, row in zip(self.keys.tolist(), self.param):
                h = hashlib.sha256(k.to_bytes(8, "little") + row.numpy().tobytes())
                total = (total + int.from_bytes(h.digest()[:8], "little")) % (1 << 64)
            return self.keys.numel(), total

    def peek(self, keys):
        """Rows of keys without creating any (held-out evaluation)."""
        with self.cv:
            idx = self._slots(keys, create=False)
            out = init_rows(keys, self.width)
            have = idx >= 0
            out[have] = self.param[idx[have]]
            return out


def serve(ps):
    global _server
    _server = ps


def pull(step, keys):
    return _server.pull(step, keys)


def push(step, worker, keys, grads):
    return _server.push(step, worker, keys, grads)


def saved(step):
    return _server.saved(step)


def stats(step):
    return _server.stats(step)


def peek(keys):
    return _server.peek(keys)
