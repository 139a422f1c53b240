#!/usr/bin/python3
"""ckpt_outcome.py — how a checkpoint ended, through
Worker.ckpt_outcome() and muster.torch's outcome()
(tests/python/test_ckpt_outcome.py).

Usage: ckpt_outcome.py MODE, run with --ckpt-every.  The workers report
no steps, so each checkpoint is due at once on every rank; every worker
takes the first one, saves its shard and prints the outcome it gets: "outcome step S status NAME committed B reason R", then
"error CLASS" (CkptOutcome.error()) and "outcome once" when a second call
has no news.  MODE:
  commit      every rank saves;
  timeout     rank 1 does not save (the commit waits out --ckpt-timeout);
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
    # No steps are reported: muster asks for checkpoints "now" (numbered
    # 1, 2, ...), due at once on every rank.  Take the first, save it (or
    # not), then wait for its outcome.
    rq = None
    for _ in range(6000):
        rq = w.ckpt_due()
        if rq is not None:
            break
        time.sleep(0.01)
    step = rq.step if rq is not None else 0
    if rq is None:
        say("no checkpoint asked for")
    elif mode == "timeout" and w.rank == 1:
        say("not saving step %d" % step)
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
