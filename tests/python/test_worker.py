#!/usr/bin/python3
"""The Python binding under `muster run`: three workers (progs/basics.py)
learn their place, use the KV store (blocking, non-blocking, asyncio) and
barriers, and every misuse surfaces as a muster.MusterError subclass
carrying muster's code and message."""
from pyharness import PyCase, main

WORLD = 3


class WorkerBasics(PyCase):
    def test_place_kv_barrier_errors(self):
        p = self.py_run(["--nproc-per-node", str(WORLD)], "basics.py")
        self.check("3 workers: exit 0")
        self.expect_eq(p.rc, 0, "exit status", p)
        got = self.lines(p, "CHECK ")
        self.expect_eq(sorted(got), list(range(WORLD)), "ranks reporting", p)
        for r, ls in sorted(got.items()):
            c = dict(ln.split(" ", 1) for ln in ls)
            nxt, prv = (r + 1) % WORLD, (r + WORLD - 1) % WORLD
            self.check("rank %d: place, environment, peers" % r)
            self.expect_eq(c["place"], "%d %d %d %d 0 1 worker %d %d 1 0 -1"
                           % (r, WORLD, r, WORLD, r, WORLD), "rank %d place" % r, p)
            self.expect_eq(c["env"], "True True True True", "rank %d env" % r, p)
            self.expect_eq(c["peers"], "%d True True 127.0.0.1" % WORLD, "rank %d peers" % r, p)
            self.check("rank %d: KV across ranks, bytes, non-blocking, asyncio, barriers" % r)
            self.expect_eq(c["kv"], "hello from %d" % nxt, "rank %d kv" % r, p)
            self.expect_eq(c["kv_bytes"], "0001ff" * (nxt + 1), "rank %d kv bytes" % r, p)
            self.expect_eq(c["kv_nb"], "hello from 0", "rank %d kv_nb" % r, p)
            self.expect_eq(c["barrier"], "passed", "rank %d barrier" % r, p)
            self.expect_eq(c["barrier_nb"], "None", "rank %d barrier_nb" % r, p)
            self.expect_eq(c["asyncio"], "hello from %d" % prv, "rank %d asyncio" % r, p)
            self.expect_eq(c["restore"], "None", "rank %d restore without --ckpt-dir" % r, p)
            self.check("rank %d: every error is its MusterError subclass with code and message" % r)
            want = {
                "err_absent": ("NotFound MUSTER_ENOTFOUND code=-10010", "key 'absent'"),
                "err_timeout": ("TimedOut MUSTER_ETIMEDOUT code=-10008", "operation timed out"),
                "err_key_type": ("InvalidArgument MUSTER_EINVAL code=-10012",
                                 "key must be str or bytes, not int"),
                "err_key_nul": ("InvalidArgument MUSTER_EINVAL code=-10012", "NUL"),
                "err_value_type": ("InvalidArgument MUSTER_EINVAL code=-10012",
                                   "value must be bytes-like or str, not float"),
                "err_timeout_arg": ("InvalidArgument MUSTER_EINVAL code=-10012",
                                    "timeout must be >= 0"),
                "err_peer": ("InvalidArgument MUSTER_EINVAL code=-10012",
                             "rank %d (world %d)" % (WORLD, WORLD)),
                "err_progress": ("InvalidArgument MUSTER_EINVAL code=-10012", "step must be"),
                "err_not_due": ("NotFound MUSTER_ENOTFOUND code=-10010", "no checkpoint is due"),
                "err_path_not_due": ("NotFound MUSTER_ENOTFOUND code=-10010",
                                     "no checkpoint is due"),
                "err_key_big": ("TooBig MUSTER_ETOOBIG code=-10004", "size bound"),
                "err_callback": ("InvalidArgument MUSTER_EINVAL code=-10012",
                                 "fn must be callable"),
                "err_closed": ("Closed MUSTER_ECLOSED code=-10009", "the Worker was closed"),
                "err_closed_kv": ("Closed MUSTER_ECLOSED code=-10009", "the Worker was closed"),
            }
            for name, (head, text) in want.items():
                line = c.get(name, "")
                self.expect(line.startswith(head + " |") and text in line,
                            "rank %d %s: %r, want %r ... %r" % (r, name, line, head, text), p)
            self.expect_eq(c["close_twice"], "ok", "rank %d close twice" % r, p)


if __name__ == "__main__":
    main()
