"""elastic.py — in-place elastic DDP for torch_ctr (muster run
--elastic-mode in-place, with muster's Python binding).

When a worker or a node is lost, or a node joins, muster starts a new
epoch: the survivors keep their processes and learn their new rank and
world through libmuster; only newcomers are started.  Here every process
then does the same thing, survivors and newcomers alike (`form`):

  1. leave the old process group (a survivor) without waiting for it:
     muster.torch.elastic.leave(), because destroying a gloo group waits
     for its collectives and one of them may hang until its timeout after
     a lost peer (decision 100 in docs/architecture.md),
  2. wait until libmuster reports the new epoch,
  3. join the new epoch's process group through musterd's KV store
     (muster.torch.init_process_group: the store is scoped to the epoch,
     so nothing of the old group can be mistaken for the new one),
  4. copy the training state from one rank to all: the step, the model
     and the optimizer state, broadcast tensor by tensor.  The source is
     the `sync_from` rank muster gave the newcomers (the ranks agree on it
     with an allreduce: survivors have none), else rank 0, which is always
     a survivor (survivors keep their order, newcomers are appended).

Copying from one rank also settles a step that failed half-way (some
ranks finished its allreduce, others did not): everyone continues from
the source's step.  The data re-shards by itself, being a pure function of
(step, rank, world).

How the ranks notice: a lost peer makes the next collective fail; a new
epoch without a failure (a node joined) is seen by `changed`, an allreduce
of every rank's latest epoch made before each step, so all ranks leave the
old group at the same step boundary and none waits for a peer that left.
"""

import datetime
import os
import time

import torch
import torch.distributed as dist


class ElasticGroup:
    def __init__(self, mt, timeout, reform_timeout=None):
        self.mt = mt
        self.w = mt.default_worker()
        self.timeout = timeout  # of the first group's collectives
        # of the groups made at a re-form (their rendezvous included)
        self.reform_timeout = timeout if reform_timeout is None else reform_timeout
        self.epoch = 0  # epoch of the current process group (0: none)

    def changed(self):
        """True on every rank (collectively) when some rank has seen an
        epoch newer than the group's."""
        seen = torch.tensor([self.w.epoch], dtype=torch.int64)
        dist.all_reduce(seen, op=dist.ReduceOp.MAX)
        return int(seen) > self.epoch

    def _join(self, deadline):
        """Join the process group of the newest epoch (retrying when the
        epoch moves on while joining)."""
        while True:
            if self.epoch and self.w.epoch <= self.epoch:
                m = self.w.wait_membership(timeout=max(0.1, deadline - time.monotonic()))
                if m is None and time.monotonic() > deadline:
                    raise TimeoutError("no new epoch after epoch %d" % self.epoch)
                continue
            epoch = self.w.epoch
            secs = self.reform_timeout if self.epoch else self.timeout
            try:
                self.mt.init_process_group(
                    "gloo", timeout=datetime.timedelta(seconds=secs))
            except Exception as e:  # noqa: BLE001 - the epoch moved on: again
                self.mt.elastic.leave()
                if self.w.epoch == epoch and time.monotonic() > deadline:
                    raise
                print("re-forming again (epoch %d -> %d): %s"
                      % (epoch, self.w.epoch, str(e).splitlines()[0][:120]), flush=True)
                self.epoch = epoch
                continue
            self.epoch = epoch
            return

    def form(self, model, optim, step):
        """(Re-)join at the newest epoch and take the source rank's state;
        returns the step to continue after."""
        self.mt.elastic.leave()
        self._join(time.monotonic() + 10 * self.timeout)
        src = torch.tensor([self.w.sync_from], dtype=torch.int64)
        dist.all_reduce(src, op=dist.ReduceOp.MAX)
        src = int(src) if 0 <= int(src) < dist.get_world_size() else 0
        s = torch.tensor([step], dtype=torch.int64)
        dist.broadcast(s, src)
        with torch.no_grad():
            for p in model.parameters():
                dist.broadcast(p.data, src)
            for p in model.parameters():
                for v in optim.state[p].values():
                    if torch.is_tensor(v):
                        dist.broadcast(v, src)
        step = int(s)
        print("joined epoch %d as rank %d/%d pid %d at step %d%s"
              % (self.epoch, dist.get_rank(), dist.get_world_size(), os.getpid(),
                 step, "" if dist.get_rank() == src else
                 " (state from rank %d)" % src), flush=True)
        return step
