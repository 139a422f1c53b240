#!/usr/bin/python3
"""basics.py — a worker exercising muster.Worker's place, KV store,
barriers and error reporting under `muster run` (tests/python/test_worker.py).

Prints one line per check, "CHECK <name> <result>", which the test
compares with what it expects; any unexpected exception ends the worker
with a traceback and a non-zero status.
"""
import asyncio
import os

import muster


def out(name, *vals):
    print("CHECK", name, *vals, flush=True)


def raises(name, exc_type, fn):
    try:
        fn()
    except exc_type as e:
        assert isinstance(e, muster.MusterError), type(e)
        out(name, type(e).__name__, e.name, "code=%d" % e.code, "|", str(e))
        return
    out(name, "no exception")


with muster.Worker() as w:
    r, n = w.rank, w.world
    out("place", r, n, w.local_rank, w.local_world, w.node_rank, w.nnodes, w.role,
        w.role_rank, w.role_world, w.epoch, w.restart_count, w.sync_from)
    out("env", os.environ["RANK"] == str(r), os.environ["WORLD_SIZE"] == str(n),
        os.environ["LOCAL_RANK"] == str(w.local_rank), w.job == os.environ["MUSTER_JOB_ID"])
    ps = w.peers
    out("peers", len(ps), [p.rank for p in ps] == list(range(n)),
        len({p.port for p in ps}) == n, ps[r].host)

    # KV across ranks: each puts, then reads its successor's value.
    w.kv_put("greet/%d" % r, "hello from %d" % r)
    out("kv", w.kv_get("greet/%d" % ((r + 1) % n), timeout=30).decode())
    w.kv_put(b"bin/%d" % r, bytearray(b"\x00\x01\xff") * (r + 1))
    out("kv_bytes", w.kv_get(b"bin/%d" % ((r + 1) % n), 30).hex())
    req = w.kv_get_nb("greet/0", 30)
    out("kv_nb", req.wait(30).decode())
    req.close()

    w.barrier("one", timeout=30)
    out("barrier", "passed")
    breq = w.barrier_nb("two", 30)
    out("barrier_nb", breq.wait(30))

    async def aio():
        v = await w.kv_get_async("greet/%d" % ((r + n - 1) % n), 30)
        await w.barrier_async("three", 30)
        return v.decode()
    out("asyncio", asyncio.run(aio()))
    w.progress(1)

    # Errors: every one an exception carrying muster's code and message.
    raises("err_absent", muster.NotFound, lambda: w.kv_get("absent", 0))
    raises("err_timeout", muster.TimedOut, lambda: w.kv_get("absent", 0.2))
    raises("err_key_type", muster.InvalidArgument, lambda: w.kv_put(5, b"x"))
    raises("err_key_nul", muster.InvalidArgument, lambda: w.kv_put("a\0b", b"x"))
    raises("err_value_type", muster.InvalidArgument, lambda: w.kv_put("k", 3.5))
    raises("err_timeout_arg", muster.InvalidArgument, lambda: w.kv_get("k", -1))
    raises("err_peer", muster.InvalidArgument, lambda: w.peer(n))
    raises("err_progress", muster.InvalidArgument, lambda: w.progress(-1))
    raises("err_not_due", muster.NotFound, lambda: w.ckpt_save(b"state"))
    raises("err_path_not_due", muster.NotFound, lambda: w.ckpt_path())
    raises("err_key_big", muster.MusterError, lambda: w.kv_put("k" * 5000, b"x"))
    raises("err_callback", muster.InvalidArgument, lambda: w.on_membership(42))
    out("restore", w.restore())
    w.barrier("end", 30)

raises("err_closed", muster.Closed, lambda: w.rank)
raises("err_closed_kv", muster.Closed, lambda: w.kv_get("greet/0", 0))
w.close()
out("close_twice", "ok")
