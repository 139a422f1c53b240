#!/usr/bin/python3
"""torch_ddp.py — DDP on gloo through muster.torch (tests/python/test_torch.py):
init_process_group over muster.torch.store() (no TCPStore, no
MASTER_PORT), an allreduce, the Store methods torch uses, and a small
model trained with SGD whose state dict is saved with muster.torch.save
and restored with muster.torch.load after a crash.

Usage: torch_ddp.py STEPS [CRASH_STEP CRASH_RANK].  Prints
"allreduce <sum> world <n>", "store ..." lines, "resumed after step S" or
"fresh start", and at the end "final <checksum>", the exact bytes of the
weights as hex, which must not depend on whether the run was interrupted.
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

steps = int(sys.argv[1])
crash_step = int(sys.argv[2]) if len(sys.argv) > 2 else -1
crash_rank = int(sys.argv[3]) if len(sys.argv) > 3 else -1


def say(*a):
    print(*a, flush=True)


w = mt.default_worker()
pg_store = mt.init_process_group("gloo")
rank, world = dist.get_rank(), dist.get_world_size()
assert (rank, world) == (w.rank, w.world)
t = torch.tensor([float(rank + 1)])
dist.all_reduce(t)
say("allreduce %d world %d" % (t.item(), world))

s = mt.store(prefix="test")
s.set("k%d" % rank, b"v%d" % rank)
s.wait(["k%d" % r for r in range(world)])
say("store get", s.get("k%d" % ((rank + 1) % world)).decode(),
    "check", s.check(["k0"]), s.check(["never-set"]))
s.add("count", rank + 1)
dist.barrier()
say("store add", s.add("count", 0), "get", s.get("count").decode(), "check", s.check(["count"]))
dist.barrier()
if rank == 0:
    s.set("cas", b"a")
dist.barrier()
# every rank tries a -> b; exactly one wins, all then read b
won = s.compare_set("cas", b"a", ("b%d" % rank).encode())
dist.barrier()
final = s.get("cas")
say("store compare_set", final.startswith(b"b"), won == final)
n = s.num_keys()  # k0..k<world-1>, count, cas
dist.barrier()
say("store num_keys", n == world + 2)
if rank == 0:
    say("store delete_key", s.delete_key("cas"), s.delete_key("cas"))
else:
    say("store delete_key", True, False)
dist.barrier()
try:
    s.wait(["never-set"], __import__("datetime").timedelta(seconds=0.2))
    say("store wait did not raise")
except muster.TimedOut as e:
    say("store wait TimedOut", e.name)

torch.manual_seed(0)
model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))
ck = mt.load()
if ck is None:
    start = 0
    say("fresh start")
else:
    model.load_state_dict(ck.state_dict)
    start = ck.step + 1
    say("resumed after step %d" % ck.step)
ddp = DDP(model)
opt = torch.optim.SGD(ddp.parameters(), lr=0.05)
for step in range(start, steps):
    g = torch.Generator().manual_seed(1000 * step + rank)
    x = torch.randn(32, 8, generator=g)
    y = x.sum(dim=1, keepdim=True).sin()
    opt.zero_grad()
    loss = torch.nn.functional.mse_loss(ddp(x), y)
    loss.backward()
    opt.step()
    time.sleep(0.005)
    mt.save(model.state_dict(), step)
    if step == crash_step and rank == crash_rank and w.restart_count == 0:
        mt.flush()
        say("crashing after step %d" % step)
        os._exit(3)
mt.flush()
h = hashlib.sha256()
for k, v in sorted(model.state_dict().items()):
    h.update(k.encode())
    h.update(v.detach().contiguous().numpy().tobytes())
say("final", h.hexdigest())
dist.destroy_process_group()
