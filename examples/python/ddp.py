#!/usr/bin/python3
"""ddp.py — PyTorch DDP on gloo under muster, with muster's checkpoints.

  * the process group comes up through muster.torch.init_process_group:
    its store is musterd's KV store, so there is no TCPStore on rank 0 and
    no MASTER_ADDR/MASTER_PORT;
  * every step ends with muster.torch.save(model.state_dict(), step),
    which saves only when muster asks for a checkpoint of that step
    (--ckpt-every-steps N), serializes in memory and writes in the
    background; the checkpoint is committed when every rank's shard of
    that step is on disk;
  * at start muster.torch.load() gives the newest complete checkpoint, so
    a restarted run resumes after the step it holds.

    muster run --rdzv-id ddp --nproc-per-node 2 --ckpt-dir ckpt \\
        --ckpt-every-steps 20 --max-restarts 1 -- /usr/bin/python3 ddp.py
"""
import argparse

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel as DDP

import muster.torch as mt

ap = argparse.ArgumentParser()
ap.add_argument("--steps", type=int, default=100)
args = ap.parse_args()

mt.init_process_group("gloo")
rank, world = dist.get_rank(), dist.get_world_size()

torch.manual_seed(0)
model = torch.nn.Sequential(torch.nn.Linear(8, 32), torch.nn.ReLU(), torch.nn.Linear(32, 1))
ck = mt.load()
start = 0
if ck is not None:
    model.load_state_dict(ck.state_dict)
    start = ck.step + 1
    print("rank %d: resumed after step %d" % (rank, ck.step))
ddp = DDP(model)
opt = torch.optim.SGD(ddp.parameters(), lr=0.05)
for step in range(start, args.steps):
    g = torch.Generator().manual_seed(step * world + rank)  # this rank's batch
    x = torch.randn(64, 8, generator=g)
    y = x.sum(dim=1, keepdim=True).sin()
    opt.zero_grad()
    loss = torch.nn.functional.mse_loss(ddp(x), y)
    loss.backward()
    opt.step()
    mt.save(model.state_dict(), step)  # a no-op unless a checkpoint is due
mt.flush()
if rank == 0:
    print("trained %d steps at world %d: loss %.4f" % (args.steps, world, loss.item()))
dist.destroy_process_group()
