#!/usr/bin/python3
"""ckpt_outcome.py — how a checkpoint ended, through
Worker.ckpt_outcome() and muster.torch's outcome()
(tests/python/test_ckpt_outcome.py).

Usage: ckpt_outcome.py MODE, run with --ckpt-every-steps.  Every worker
reports steps until a checkpoint is due, saves its shard, stops stepping
and prints the outcome it gets: "outcome step S status NAME committed B reason R", then
"error CLASS" (CkptOutcome.error()) and "outcome once" when a second call
has no news.  MODE:
  commit      every rank saves;
  timeout     rank 1 does not save the first checkpoint it is asked for
              and sleeps 3 s (past --ckpt-timeout) before going on;
  unwritable  the step directory is replaced by a regular file before the
              synchronous save, which raises (printed as "save raised
              CLASS errno NAME").
With a second argument "torch", the outcome is polled with
muster.torch.outcome() instead (that needs no torch).
"""
import errno
import os
import sys
import time

import muster

mode = sys.argv[1]
use_torch = sys.argv[2:3] == ["torch"]


def say(*a):
    print(*a, flush=True)


with muster.Worker() as w:
    if use_torch:
        import muster.torch as mt

        def poll():
            return mt.outcome(worker=w)
    else:
        poll = w.ckpt_outcome
    step = 0
    while w.ckpt_due() is None and step < 3000:
        step += 1
        time.sleep(0.01)
        w.progress(step)
    # The first checkpoint asked for: save (or not), then wait for its
    # outcome without stepping on (no later checkpoint is asked for).
    if mode == "timeout" and w.rank == 1:
        say("not saving step %d" % step)
        time.sleep(3)
    elif mode == "unwritable":
        d = os.path.dirname(w.ckpt_path())
        for f in os.listdir(d):
            os.unlink(os.path.join(d, f))
        os.rmdir(d)
        open(d, "w").close()
        try:
            w.ckpt_save(b"state %d" % step)
        except muster.MusterError as e:
            say("save raised %s errno %s" % (type(e).__name__,
                                              errno.errorcode.get(e.errno)))
        else:
            say("save returned")
    else:
        w.ckpt_save(b"state %d" % step)
    for _ in range(6000):
        o = poll()
        if o is not None:
            say("outcome step %d status %s committed %s reason %s"
                % (o.step, muster.err_name(o.status) if o.status else "0",
                   o.committed, o.reason))
            e = o.error()
            say("error %s" % (type(e).__name__ if e is not None else None))
            if poll() is None:
                say("outcome once")
            break
        time.sleep(0.01)
    else:
        say("no outcome")
