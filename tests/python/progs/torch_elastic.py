#!/usr/bin/python3
"""torch_elastic.py — in-place elastic DDP with muster.torch.elastic
(tests/python/test_torch.py): a worker that loses a peer mid-training
keeps its process, re-creates its process group at the new rank and
world, and the newcomer receives the model, the optimizer state and the
step from the rank muster names (sync_from).

Usage: torch_elastic.py STEPS CRASH_STEP CRASH_RANK: the worker of
CRASH_RANK exits 3 after CRASH_STEP in epoch 1.  Prints "start rank R
pid P epoch E", "old store: StaleEpoch True" and "re-formed: epoch E rank R world W" (survivors), "synced
at step S" (newcomers) and "final <sha256 of the weights> pid P".
"""
import hashlib
import os
import sys
import time

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel as DDP

import muster
import muster.torch as mt
from muster.torch import elastic

steps, crash_step, crash_rank = (int(x) for x in sys.argv[1:4])


def say(*a):
    print(*a, flush=True)


w = mt.default_worker()
say("start rank %d pid %d epoch %d" % (w.rank, os.getpid(), w.epoch))
torch.manual_seed(0)
model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))
opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)

store = elastic.reinit("gloo")
step = elastic.sync_state(model, opt, 0)
if w.sync_from >= 0:
    say("synced at step %d" % step)
ddp = DDP(model)
while step < steps:
    try:
        if elastic.changed():
            raise RuntimeError("membership changed between steps")
        g = torch.Generator().manual_seed(1000 * step + dist.get_rank())
        x = torch.randn(32, 8, generator=g)
        y = x.sum(dim=1, keepdim=True).sin()
        opt.zero_grad()
        torch.nn.functional.mse_loss(ddp(x), y).backward()
        opt.step()
        step += 1
        time.sleep(0.01)
        w.progress(step)
        if step == crash_step and w.rank == crash_rank and w.epoch == 1:
            say("crashing after step %d" % step)
            os._exit(3)
    except RuntimeError as e:
        m = elastic.wait_change(timeout=60)
        try:
            store.get("anything")
            say("old store: no error")
        except muster.StaleEpoch as se:
            say("old store: StaleEpoch", "make a new one" in str(se))
        store = elastic.reinit("gloo")
        step = elastic.sync_state(model, opt, step)
        ddp = DDP(model)
        say("re-formed: epoch %d rank %d world %d (after: %s)"
            % (m.epoch, dist.get_rank(), dist.get_world_size(), str(e).splitlines()[0][:60]))
h = hashlib.sha256()
for k, v in sorted(model.state_dict().items()):
    h.update(k.encode())
    h.update(v.detach().contiguous().numpy().tobytes())
say("final %s pid %d" % (h.hexdigest(), os.getpid()))
dist.barrier()
dist.destroy_process_group()
