#!/usr/bin/python3
"""inplace.py — a worker following membership changes in in-place mode
(tests/python/test_membership.py), through all three forms the binding
offers: the on_membership callback, wait_membership() on a thread and
``await next_membership()`` on an asyncio loop.

Usage: inplace.py STEPS CRASH_STEP CRASH_RANK: the worker of CRASH_RANK
exits 3 after CRASH_STEP in epoch 1.  With a fourth argument
"after-next" the wait_membership thread calls it only once
next_membership has returned the change (which it must still return:
each form hears of every change); else it is blocked in it beforehand.  Every worker prints
"start rank R pid P epoch E world W sync_from S"; a survivor prints, per
form, "<form>: epoch E rank R world W pid P" for the change it saw.
"""
import asyncio
import concurrent.futures
import os
import sys
import threading
import time

import muster

steps, crash_step, crash_rank = (int(x) for x in sys.argv[1:4])
wait_after_next = sys.argv[4:5] == ["after-next"]


_out = threading.Lock()


def say(*a):
    # One write per line, under a lock: print() writes the text and the
    # newline separately, so two threads printing at once mix their lines.
    with _out:
        sys.stdout.write(" ".join(str(x) for x in a) + "\n")
        sys.stdout.flush()


def line(form, m):
    return "%s: epoch %d rank %d world %d pid %d" % (form, m.epoch, m.rank, m.world,
                                                     os.getpid())


with muster.Worker() as w:
    say("start rank %d pid %d epoch %d world %d sync_from %d"
        % (w.rank, os.getpid(), w.epoch, w.world, w.sync_from))
    seen = []
    w.on_membership(lambda m: seen.append(m))  # on libmuster's thread

    loop = asyncio.new_event_loop()
    fut = asyncio.run_coroutine_threadsafe(w.next_membership(), loop)

    def waiter():
        try:
            if wait_after_next:
                fut.result(timeout=60)
            m = w.wait_membership(timeout=60)
        except (muster.Closed, concurrent.futures.CancelledError):
            return  # the worker finished without a change
        if m is not None:
            say(line("wait_membership", m))
    t = threading.Thread(target=waiter)
    t.start()
    lt = threading.Thread(target=loop.run_forever, daemon=True)
    lt.start()

    epoch1 = w.epoch
    for step in range(steps):
        time.sleep(0.01)
        w.progress(step)
        if step == crash_step and w.rank == crash_rank and w.epoch == 1:
            say("crashing after step %d" % step)
            os._exit(3)
        polled = w.membership_changed()
        if polled is not None:
            say(line("membership_changed", polled))
    if w.epoch != epoch1:
        for m in seen:
            say(line("callback", m))
        say(line("next_membership", fut.result(timeout=30)))
    else:
        fut.cancel()
        time.sleep(0.1)  # let the loop see the cancellation
    loop.call_soon_threadsafe(loop.stop)
    lt.join(5)
    say("end rank %d epoch %d world %d" % (w.rank, w.epoch, w.world))
t.join(60)
