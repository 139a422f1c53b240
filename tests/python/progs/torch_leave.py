#!/usr/bin/python3
"""torch_leave.py — leaving a process group while one of its collectives
cannot end (tests/python/test_torch_leave.py; decision 100 in
docs/architecture.md).

Two workers form a group over muster.torch.init_process_group with a long
collective timeout (600 s), then one of them is caught in a collective
the other never joins:

  self   rank 1 starts an asynchronous allreduce, so one of its gloo
         worker threads waits in a receive; rank 0 keeps its side of the
         group open (it holds the group and destroys it the torch way),
         so nothing wakes that receive before the timeout — the state a
         survivor was found in after a lost peer (gloo does not wake the
         receive it was reading into when the connection failed);
  peer   rank 1 waits in a blocking allreduce on its main thread and rank
         0 leaves the group: rank 1's allreduce must fail (it prints
         "allreduce failed") as it would if rank 0 had exited.

Rank 1 (self) or rank 0 (peer) then leaves with FN: leave for
muster.torch.elastic.leave(), destroy for torch's destroy_process_group().
Both make a new group (another store prefix) whose rendezvous waits at
most NEW seconds; an allreduce in it says whether it formed.

Usage: torch_leave.py self|peer leave|destroy NEW.  Prints "in flight",
"left", "new group formed: sum S world W", "parked N" (groups muster.torch
still holds), "shut down N" (connections leave() shut down) and
"leave error: CODE True" for a bad timeout and "reaped True" when a
group left with leave(0) has been dropped by muster's reaper thread.
"""
import datetime
import sys
import threading
import time

import torch
import torch.distributed as dist
from torch.distributed.distributed_c10d import _get_default_group

import muster
import muster.torch as mt
from muster.torch import elastic, parking

case, fn, new = sys.argv[1], sys.argv[2], float(sys.argv[3])


def say(*a):
    print(*a, flush=True)


def leave():
    if fn == "leave":
        say("shut down %d" % elastic.leave())
    else:
        dist.destroy_process_group()


w = mt.default_worker()
mt.init_process_group("gloo", timeout=datetime.timedelta(seconds=600))
t = torch.ones(4)
dist.all_reduce(t)  # every pair connected
try:
    elastic.leave(-1)
except muster.InvalidArgument as e:
    say("leave error: %s %s" % (e.name, "timeout must be seconds" in str(e)))
if case == "self":
    if w.rank == 0:
        old = _get_default_group()  # never let go of: its side stays open
        dist.destroy_process_group()
    else:
        stuck = dist.all_reduce(torch.ones(1 << 16), async_op=True)
        say("in flight")
        leave()
else:
    if w.rank == 0:
        w.barrier("rank 1 waits", 60)
        # rank 1 has entered its allreduce (or is about to: it fails
        # either way once the connection is shut down)
        leave()
    else:
        def enter():
            w.barrier("rank 1 waits", 60)
        threading.Timer(0.2, enter).start()
        say("in flight")
        try:
            dist.all_reduce(torch.ones(1 << 16))
            say("allreduce completed")
        except RuntimeError as e:
            say("allreduce failed: %s" % str(e).splitlines()[0][:80])
        dist.destroy_process_group()
say("left")
mt.init_process_group("gloo", prefix="torch/pg/new",
                      timeout=datetime.timedelta(seconds=new))
s = torch.tensor([w.rank + 1.0])
dist.all_reduce(s)
say("new group formed: sum %d world %d" % (int(s), dist.get_world_size()))
say("parked %d" % parking.parked())
dist.barrier()
before = parking.parked()
elastic.leave(0)  # the new group: dropped as soon as the reaper wakes
deadline = time.monotonic() + 60
while parking.parked() > before and time.monotonic() < deadline:
    time.sleep(0.05)
say("reaped %s" % (parking.parked() == before))
