#!/usr/bin/python3
"""torch_leave.py — leaving a process group that has a collective which
only its timeout can end (tests/python/test_torch_leave.py; decision 100
in docs/architecture.md).

Two workers form a group over muster.torch.init_process_group with a long
collective timeout (600 s).  Rank 1 starts an asynchronous allreduce that
rank 0 never joins, so one of rank 1's gloo worker threads waits in its
receive until the timeout; rank 0 keeps its old group alive, so nothing
closes the connection under that receive either.  This is the state a
survivor was found in after a lost peer (gloo did not wake the receive).
Both then leave the group — `muster.torch.elastic.leave()` (mode leave)
or torch's `destroy_process_group()` (mode destroy) — and make a new
group (another store prefix) whose rendezvous waits at most NEW seconds;
an allreduce in it says whether it formed.

Usage: torch_leave.py leave|destroy NEW.  Prints "in flight" (rank 1),
"left", "new group formed: sum S world W", "parked N" (groups muster.torch
still holds) and "leave error: CODE" for a bad timeout.
"""
import datetime
import sys

import torch
import torch.distributed as dist
from torch.distributed.distributed_c10d import _get_default_group

import muster
import muster.torch as mt
from muster.torch import elastic, parking

mode, new = sys.argv[1], float(sys.argv[2])


def say(*a):
    print(*a, flush=True)


w = mt.default_worker()
mt.init_process_group("gloo", timeout=datetime.timedelta(seconds=600))
t = torch.ones(4)
dist.all_reduce(t)  # every pair connected
if w.rank == 0:
    old = _get_default_group()  # never let go of: no EOF under rank 1's receive
else:
    stuck = dist.all_reduce(torch.ones(1 << 16), async_op=True)
    say("in flight")
try:
    elastic.leave(-1)
except muster.InvalidArgument as e:
    say("leave error: %s %s" % (e.name, "timeout must be seconds" in str(e)))
if mode == "leave":
    elastic.leave()
else:
    dist.destroy_process_group()
say("left")
mt.init_process_group("gloo", prefix="torch/pg/new",
                      timeout=datetime.timedelta(seconds=new))
s = torch.tensor([w.rank + 1.0])
dist.all_reduce(s)
say("new group formed: sum %d world %d" % (int(s), dist.get_world_size()))
say("parked %d" % parking.parked())
dist.barrier()
elastic.leave()
