#!/usr/bin/python3
"""save_snapshot.py — an asynchronous muster.torch.save is the state of the
step saved, not of later ones (tests/scenarios/test_49_torch_store_kv.py).

  save_snapshot.py train STEPS   every step sets the state to the step's
        number (a 32 MiB tensor and a nested optimizer-like dict), calls
        mt.save(sd, step) (asynchronous: forked) and, the moment it
        returns, overwrites the whole state with -1 (as a next step's
        in-place update would) before restoring it; prints "saved S" for
        each handed save, "outcome S committed|failed" as they come, and
        "flushed" after mt.flush().
  save_snapshot.py bad           the state holds what torch.save cannot
        pickle (a lambda): the forked writer fails, says why on stderr, the
        outcome is a failure and mt.flush() raises: prints "flush raised
        <class>" (or "flush returned").
  save_snapshot.py check         mt.load(): prints "loaded S exact" if
        every tensor holds S, "loaded S LEAKED <values>" otherwise, or
        "nothing".
"""
import sys
import time

import torch

import muster.torch as mt


def say(*a):
    print(*a, flush=True)


def state():
    return {"w": torch.zeros(8 << 20),
            "opt": {"state": {0: {"momentum": torch.zeros(1000)}}, "lr": [torch.zeros(3)]}}


def fill(sd, v):
    sd["w"].fill_(v)
    sd["opt"]["state"][0]["momentum"].fill_(v)
    sd["opt"]["lr"][0].fill_(v)


def tensors(sd):
    return [sd["w"], sd["opt"]["state"][0]["momentum"], sd["opt"]["lr"][0]]


def outcomes():
    while True:
        oc = mt.outcome()
        if oc is None:
            return
        say("outcome", oc.step, "committed" if oc.committed else "failed " + oc.reason)


if sys.argv[1] == "train":
    sd = state()
    for step in range(1, int(sys.argv[2]) + 1):
        fill(sd, float(step))
        if mt.save(sd, step):
            fill(sd, -1.0)  # mutation after the save returned must not leak
            say("saved", step)
            fill(sd, float(step))
        outcomes()
        time.sleep(0.05)
    mt.flush()
    outcomes()
    say("flushed")
elif sys.argv[1] == "bad":
    sd = {"w": torch.zeros(10), "f": lambda: 0}
    step = 0
    while True:
        step += 1
        if mt.save(sd, step):
            break
        time.sleep(0.05)
    say("saved", step)
    try:
        mt.flush()
        say("flush returned")
    except Exception as e:  # noqa: BLE001
        say("flush raised", type(e).__name__)
    outcomes()
else:
    ck = mt.load()
    if ck is None:
        say("nothing")
    else:
        bad = [float(t.min()) for t in tensors(ck.state_dict) if not bool((t == ck.step).all())]
        say("loaded", ck.step, "exact" if not bad else "LEAKED %r" % bad)
