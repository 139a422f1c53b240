#!/usr/bin/python3
"""train.py — torch_ps: a parameter-server job on torch.distributed.rpc.

    muster run --rdzv-endpoint HOST:PORT --roles worker=1x2,ps=2x1 --role ps ...
    muster run --rdzv-endpoint HOST:PORT --roles worker=1x2,ps=2x1 --role worker ...

Ranks of role `ps` hold the embedding rows of a factorization machine
(a first-order weight and a factor vector per hashed categorical id, one
table per feature) by hash bucket (buckets.py, server.py); ranks of role
`worker` read their slice of torch_ctr's synthetic click stream, pull the
rows their batch needs from the servers that own them, compute the loss
and push sparse gradients back.  Steps are synchronous, so the final table
is a pure function of the data: whatever the number of servers, and
whether or not the job was stopped and resumed from a checkpoint.

Checkpoints, either this program's own files (shardstore.py, --ckpt-dir:
every --ckpt-every steps each server saves the rows of its buckets and
worker 0 commits the step once every shard is durable) or muster's
(musterckpt.py, --ckpt muster: muster's two-phase commit through the
Python binding).  A job resumed with a different number of servers
re-partitions the buckets: each server loads the rows of its new range
from the old shards.  Worker 0 ends with
`table rows=N checksum=C auc=A` (C: sum of per-row SHA-256 prefixes, the
same for any partition).

The roles, their sizes and the RPC rendezvous come from the environment
muster (or torchrun) gives: ROLE_NAME, ROLE_RANK, RANK, WORLD_SIZE,
MASTER_ADDR, MASTER_PORT, and DMLC_NUM_SERVER / DMLC_NUM_WORKER (or
--servers / --workers).  The bucket count is $MUSTER_NBUCKETS (muster run
--nbuckets) or --nbuckets.
"""

import argparse
import os
import signal
import sys

import torch
import torch.distributed.rpc as rpc
import torch.nn.functional as F

sys.dont_write_bytecode = True  # no __pycache__ beside the example
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(1, os.path.join(os.path.dirname(HERE), "torch_ctr"))
import server  # noqa: E402
from buckets import bucket_of, make_keys, owned, owner_of  # noqa: E402
from clickstream import ClickStream  # noqa: E402  (torch_ctr's data)
from metrics import auc  # noqa: E402  (torch_ctr's AUC)
from musterckpt import MusterShards  # noqa: E402
from shardstore import ShardStore  # noqa: E402


def options(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    a = p.add_argument
    env = os.environ.get
    a("--steps", type=int, default=60, help="training steps")
    a("--global-batch", type=int, default=512, help="samples per step, all workers")
    a("--tables", type=int, default=4, help="categorical features (tables)")
    a("--rows", type=int, default=1 << 20, help="hash space per table (rows are "
      "created on first use, so this can be large)")
    a("--vocab", type=int, default=50000, help="distinct raw ids per table")
    a("--dim", type=int, default=8, help="factor dimension")
    a("--lr", type=float, default=0.05, help="Adagrad learning rate")
    a("--seed", type=int, default=1, help="seed of the data")
    a("--nbuckets", type=int, default=int(env("MUSTER_NBUCKETS") or 64),
      help="hash buckets of the tables ($MUSTER_NBUCKETS)")
    a("--servers", type=int, default=int(env("DMLC_NUM_SERVER") or 0),
      help="number of ps ranks ($DMLC_NUM_SERVER)")
    a("--workers", type=int, default=int(env("DMLC_NUM_WORKER") or 0),
      help="number of worker ranks ($DMLC_NUM_WORKER)")
    a("--ckpt", choices=("auto", "file", "muster", "none"), default="auto",
      help="checkpoints: this program's files in --ckpt-dir (file), muster's "
           "via the Python binding (muster), none; auto: file with "
           "--ckpt-dir, else muster when the job has a muster checkpoint "
           "directory and the binding is importable, else none")
    a("--ckpt-dir", default=None, help="directory of the file checkpoints")
    a("--ckpt-every", type=int, default=10,
      help="period of the file checkpoints (steps; muster's are set on muster "
           "run: --ckpt-every-steps N)")
    a("--eval-samples", type=int, default=4096, help="held-out samples (worker 0)")
    a("--crash-at-step", type=int, default=0,
      help="fault injection: worker --crash-rank SIGKILLs itself at this step "
           "(first attempt only)")
    a("--crash-rank", type=int, default=0, help="worker (role rank) that crashes")
    o = p.parse_args(argv)
    for name in ("steps", "global_batch", "tables", "rows", "vocab", "dim",
                 "nbuckets", "ckpt_every", "eval_samples"):
        if getattr(o, name) < 1:
            p.error("--%s must be at least 1" % name.replace("_", "-"))
    if o.servers < 1 or o.workers < 1:
        p.error("needs at least one ps and one worker (a job with --roles "
                "worker=...,ps=..., or --servers and --workers)")
    return o


def fm_logits(rows, inv, tables, bags, n):
    """Factorization machine over pulled rows: bias + first-order weights +
    pairwise factor interactions.  rows: [U, 1+dim] (leaf); inv: indices of
    each table's ids into rows ([n, bag] per table), the bias row last."""
    bias = rows[inv[-1], 0]
    e = [rows[inv[t]].mean(1) for t in range(tables)]  # [n, 1+dim] each
    first = sum(x[:, 0] for x in e)
    v = torch.stack([x[:, 1:] for x in e], 1)  # [n, T, dim]
    pair = 0.5 * (v.sum(1).pow(2) - v.pow(2).sum(1)).sum(1)
    return bias + first + pair


class Client:
    """A worker's view of the servers: pull and push by owner."""

    def __init__(self, o):
        self.o = o
        self.names = ["ps%d" % i for i in range(o.servers)]

    def split(self, keys):
        own = owner_of(bucket_of(keys, self.o.nbuckets), self.o.nbuckets,
                       self.o.servers)
        return [(i, (own == i).nonzero().flatten()) for i in range(self.o.servers)]

    def pull(self, step, keys, fn=server.pull):
        out = torch.empty(keys.numel(), self.o.dim + 1)
        futs = []
        for i, where in self.split(keys):
            if where.numel():
                args = (step, keys[where]) if fn is server.pull else (keys[where],)
                futs.append((where, rpc.rpc_async(self.names[i], fn, args=args)))
        for where, f in futs:
            out[where] = f.wait()
        return out

    def push(self, step, worker, keys, grads):
        futs = [rpc.rpc_async(self.names[i], server.push,
                              args=(step, worker, keys[w], grads[w]))
                for i, w in self.split(keys)]
        for f in futs:
            f.wait()

    def everyone(self, fn, *args):
        futs = [rpc.rpc_async(n, fn, args=args) for n in self.names]
        return [f.wait() for f in futs]


def batch_keys(o, ids):
    """All keys of a batch (tables, then the bias row) -> (unique keys,
    per-table indices into them)."""
    parts = [make_keys(t, i) for t, i in enumerate(ids)]
    bias = torch.full((ids[0].shape[0],), make_keys(o.tables, 0), dtype=torch.int64)
    flat = torch.cat([p.flatten() for p in parts] + [bias])
    uniq, inv = torch.unique(flat, return_inverse=True)
    out, at = [], 0
    for p in parts + [bias]:
        out.append(inv[at:at + p.numel()].view(p.shape))
        at += p.numel()
    return uniq, out


def run_worker(o, k, ckpt, first_step, restart):
    cs = ClickStream(seed=o.seed, tables=o.tables, rows=o.rows, vocab=o.vocab)
    c = Client(o)
    for step in range(first_step, o.steps + 1):
        if step == o.crash_at_step and k == o.crash_rank and restart == 0:
            print("crashing at step %d (SIGKILL)" % step, flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
        _, ids, y = cs.batch(step, o.global_batch, k, o.workers)
        keys, inv = batch_keys(o, ids)
        rows = c.pull(step, keys).requires_grad_()
        logits = fm_logits(rows, inv, o.tables, cs.bags, y.numel())
        loss = F.binary_cross_entropy_with_logits(logits, y, reduction="sum") \
            / o.global_batch
        loss.backward()
        c.push(step, k, keys, rows.grad)
        if ckpt:
            ckpt.worker_step(c, k, step)
    if k == 0:
        total = c.everyone(server.stats, o.steps)
        nrows = sum(n for n, _ in total)
        csum = sum(s for _, s in total) % (1 << 64)
        x, ids, y, _ = cs.heldout(o.eval_samples)
        keys, inv = batch_keys(o, ids)
        with torch.no_grad():
            a = auc(fm_logits(c.pull(0, keys, server.peek), inv, o.tables,
                              cs.bags, y.numel()), y)
        print("table rows=%d checksum=%016x auc=%.4f servers=%d step=%d"
              % (nrows, csum, a, o.servers, o.steps), flush=True)


def open_ckpt(o, role, k):
    """The checkpoints --ckpt picks (None: none)."""
    kind = o.ckpt
    muster = None
    if kind in ("auto", "muster"):
        try:
            import muster
        except ImportError as e:
            if kind == "muster":
                sys.exit("torch_ps: --ckpt muster needs muster's Python binding "
                         "(python/muster, e.g. PYTHONPATH=build/python): %s" % e)
    if kind == "auto":
        kind = ("file" if o.ckpt_dir else
                "muster" if muster and os.environ.get("MUSTER_CKPT_DIR") else "none")
    if kind == "file":
        if not o.ckpt_dir:
            sys.exit("torch_ps: --ckpt file needs --ckpt-dir DIR")
        return ShardStore(o.ckpt_dir, o.ckpt_every, o.steps)
    if kind == "muster":
        if not os.environ.get("MUSTER_CKPT_DIR"):
            sys.exit("torch_ps: --ckpt muster needs a job with checkpoints "
                     "(muster run --ckpt-dir DIR --ckpt-every-steps N)")
        a, b = owned(o.nbuckets, o.servers, k)
        return MusterShards(muster, role, a, b)
    return None


def start_server(o, i, ckpt, step):
    ps = server.ParamServer(i, o.servers, o.workers, o.nbuckets, o.dim + 1,
                            o.lr, ckpt)
    if step:
        a, b = owned(o.nbuckets, o.servers, i)
        keys, param, accum, read = ckpt.load_range(step, o.nbuckets, a, b)
        if param is not None:
            ps.load(step, keys, param, accum)
        else:
            ps.applied = ps.saved_step = step
        print("ps %d restored buckets [%d,%d) of step %d from %d old shard(s): "
              "%d rows" % (i, a, b, step, read, keys.numel()), flush=True)
    server.serve(ps)


def main(argv):
    o = options(argv)
    torch.set_num_threads(1)
    role = os.environ.get("ROLE_NAME", "worker")
    k = int(os.environ.get("ROLE_RANK", "0"))
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    restart = int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0"))
    if role not in ("ps", "worker"):
        sys.exit("torch_ps: role %r is neither ps nor worker" % role)
    if world != o.servers + o.workers:
        sys.exit("torch_ps: world %d is not %d servers + %d workers"
                 % (world, o.servers, o.workers))
    ckpt = open_ckpt(o, role, k)
    # read before init_rpc: nobody writes a checkpoint until all have joined
    step = ckpt.resume_step() if ckpt else 0
    print("%s %d rank %d/%d pid %d resume step %d" % (role, k, rank, world,
          os.getpid(), step), flush=True)
    if role == "ps":
        start_server(o, k, ckpt, step)
    opts = rpc.TensorPipeRpcBackendOptions(num_worker_threads=max(16, 4 * o.workers),
                                           rpc_timeout=120)
    rpc.init_rpc("%s%d" % (role, k), rank=rank, world_size=world,
                 rpc_backend_options=opts)
    if role == "worker":
        run_worker(o, k, ckpt, step + 1, restart)
    rpc.shutdown()  # waits for every rank: servers serve until workers are done
    if ckpt:
        ckpt.close()


if __name__ == "__main__":
    main(sys.argv[1:])
