#!/usr/bin/python3
"""spare.py — muster run --spares 1 (tests/scenarios/test_49_torch_store_kv.py).

Prints "started pid P" before muster_worker_init (a spare prints it under
the "[spare]" prefix and then waits in init), then "placed rank R of W
epoch E pid P" once it has a place.  In epoch 1 rank 1 kills itself; every
worker then waits for the in-place epoch that follows, says "placed ..."
again, passes a barrier of the new epoch and exits 0.
"""
import os
import signal
import sys
import time

import muster

print("started pid %d" % os.getpid(), flush=True)
w = muster.Worker()


def placed():
    print("placed rank %d of %d epoch %d pid %d" % (w.rank, w.world, w.epoch, os.getpid()),
          flush=True)


placed()
if w.epoch == 1:
    w.barrier("all-up", 60)
    if w.rank == 1:
        os.kill(os.getpid(), signal.SIGKILL)
    if w.wait_membership(60) is None:
        sys.exit("no new epoch")
    placed()
w.barrier("again-%d" % w.epoch, 60)
time.sleep(0.2)
print("done", flush=True)
