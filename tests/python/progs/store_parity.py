#!/usr/bin/python3
"""store_parity.py — one sequence of c10d Store calls on muster.torch's
store and on torch's own TCPStore, for
tests/scenarios/test_49_torch_store_kv.py.

Rank 0 runs the sequence on both stores and prints one line per store:
"parity <muster|tcp> <json list of results>"; the test compares them.
A result is the call's value (bytes as latin-1 text), or "raises" for a
call that must fail (both must).  Then every rank adds 1 to one counter
TICKETS times, at the same time as the others, and prints the values its
adds returned ("tickets <json>"): unique across ranks if add is atomic.
Rank 0 last checks muster-only refusals and prints "refusal NAME CLASS".
"""
import datetime
import json
import sys

import torch.distributed as dist

import muster
import muster.torch as mt

TICKETS = 25
SHORT = datetime.timedelta(seconds=0.3)


def say(*a):
    print(*a, flush=True)


def raises(call):
    try:
        call()
    except Exception:  # noqa: BLE001 - TCPStore raises RuntimeError, muster its own
        return "raises"
    return "returned"


def sequence(s):
    out = []

    def rec(v):
        out.append(v.decode("latin-1") if isinstance(v, bytes) else v)

    base = s.num_keys()
    s.set("a", "1")
    rec(s.get("a"))
    rec(s.add("c", 3))
    rec(s.add("c", -5))
    rec(s.add("c", 0))
    rec(s.get("c"))
    rec(s.add("a", 41))
    rec(s.get("a"))
    rec(s.compare_set("k", "x", "y"))   # absent, non-empty expected
    rec(s.num_keys() - base)            # ... stored nothing
    rec(s.compare_set("k", "", "y"))    # absent, empty expected: set
    rec(s.compare_set("k", "z", "w"))   # mismatch
    rec(s.compare_set("k", "y", "w"))   # match
    rec(s.get("k"))
    s.set("e", b"")
    rec(s.compare_set("e", "", "z"))    # present and empty
    rec(s.compare_set("e", b"z", b"\x00\xff"))
    rec(s.get("e"))
    rec(s.delete_key("k"))
    rec(s.delete_key("k"))
    rec(s.num_keys() - base)
    s.wait(["a", "c", "e"])
    rec("waited")
    rec(raises(lambda: s.wait(["never"], SHORT)))
    s.set_timeout(SHORT)
    rec(raises(lambda: s.get("k")))     # deleted
    rec(s.add("fresh", 0))
    rec(s.get("fresh"))
    return out


w = mt.default_worker()
ms = mt.store(prefix="parity", timeout=30)
if w.rank == 0:
    tcp = dist.TCPStore("127.0.0.1", 0, 1, True, timeout=datetime.timedelta(seconds=30))
    say("parity muster", json.dumps(sequence(ms)))
    say("parity tcp", json.dumps(sequence(tcp)))

t = mt.store(prefix="tickets", timeout=30)
w.barrier("tickets-start", 60)
mine = [t.add("n", 1) for _ in range(TICKETS)]
say("tickets", json.dumps(mine))
w.barrier("tickets-end", 60)

if w.rank == 0:
    s = mt.store(prefix="refusals", timeout=30)
    s.set("text", "abc")
    for name, call in [("add_non_integer", lambda: s.add("text", 1)),
                       ("add_not_int", lambda: s.add("n", "1")),
                       ("compare_set_not_bytes", lambda: s.compare_set("k", 1, b"x")),
                       ("key_not_str", lambda: s.set(5, b"x")),
                       ("kv_add_long_key", lambda: w.kv_add("k" * 5000, 1)),
                       ("kv_count_bad_prefix", lambda: w.kv_count(7))]:
        try:
            call()
            say("refusal", name, "none")
        except muster.MusterError as e:
            say("refusal", name, type(e).__name__, "|", str(e).replace("\n", " "))
w.barrier("done", 60)
say("done")
