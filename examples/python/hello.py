#!/usr/bin/python3
"""hello.py — the muster Python binding in a few lines: every rank
learns its place and the next rank's address, rank 0 puts a greeting in
the job's KV store, everyone reads it and meets at a barrier.

    muster run --nproc-per-node 4 -- /usr/bin/python3 hello.py
"""
import muster

with muster.Worker() as w:
    nxt = w.peer((w.rank + 1) % w.world)
    print("rank %d of %d (epoch %d): next rank %d is at %s:%d"
          % (w.rank, w.world, w.epoch, nxt.rank, nxt.host, nxt.port))
    if w.rank == 0:
        w.kv_put("greeting", "hello from rank 0 to a gang of %d" % w.world)
    print("rank %d: %s" % (w.rank, w.kv_get("greeting", timeout=30).decode()))
    w.barrier("done", timeout=30)
