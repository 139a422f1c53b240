#!/usr/bin/python3
"""ckpt.py — a worker saving and restoring checkpoints through
muster.Worker (tests/python/test_checkpoint.py).

Its state is one integer, the sum of the steps done so far, so a
resumed run must end with exactly the uninterrupted run's state.  Each
rank saves with a different method, so every save path is covered:
  rank % 4 == 0: ckpt_save(bytes) synchronous
  rank % 4 == 1: ckpt_save(bytearray, asynchronous=True)
  rank % 4 == 2: ckpt_save_with(writer) (the file at ckpt_path())
  rank % 4 == 3: ckpt_save_file(path of a file written elsewhere)
Usage: ckpt.py STEPS [CRASH_STEP CRASH_RANK]: the worker of CRASH_RANK
exits 3 after CRASH_STEP on its first attempt (restart_count 0).
"""
import os
import sys
import time

import muster

steps = int(sys.argv[1])
crash_step = int(sys.argv[2]) if len(sys.argv) > 2 else -1
crash_rank = int(sys.argv[3]) if len(sys.argv) > 3 else -1


def say(*a):
    print(*a, flush=True)


with muster.Worker() as w:
    r = w.restore()
    if r is None:
        start, total = 0, 0
        say("fresh start")
    else:
        data = r.read()
        step_s, total_s = data.decode().split()
        start, total = int(step_s) + 1, int(total_s)
        say("resumed after step %d total %d (shard of rank %d, step %d)"
            % (int(step_s), total, r.from_rank, r.step))
        assert int(step_s) == r.step, (step_s, r.step)
    saves = 0
    for step in range(start, steps):
        time.sleep(0.01)
        total += step
        w.progress(step)
        rq = w.ckpt_due()
        if rq is not None:
            assert rq.step == step or rq.now, (rq, step)
            state = b"%d %d" % (step, total)
            mode = w.rank % 4
            if mode == 0:
                w.ckpt_save(state)
            elif mode == 1:
                w.ckpt_save(bytearray(state), asynchronous=True)
            elif mode == 2:
                w.ckpt_save_with(lambda f: f.write(state))
            else:
                tmp = os.path.join(os.environ.get("TMPDIR", "/tmp"),
                                   "ckpt-%d-%d" % (os.getpid(), step))
                with open(tmp, "wb") as f:
                    f.write(state)
                w.ckpt_save_file(tmp)
                os.unlink(tmp)
            saves += 1
        if step == crash_step and w.rank == crash_rank and w.restart_count == 0:
            w.ckpt_flush()
            say("crashing after step %d" % step)
            os._exit(3)
    w.ckpt_flush()
    say("done total %d saves %d" % (total, saves))
