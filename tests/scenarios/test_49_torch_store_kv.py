#!/usr/bin/python3
"""Scenario 49 — torch/kv: musterd's atomic KV operations and the c10d
store on them.

  * tests/kv_rmw.c (libmuster's C API, 3 workers): 150 concurrent kv_adds
    of 1 end at 150, each add's answer grows; of 3 racing kv_cas from
    absent exactly one wins and all read the same winner; kv_del says
    whether the key existed, kv_count counts all keys or a prefix; a
    non-integer, a key over 4 KiB and NULL arguments are refused with
    MUSTER_EINVAL / MUSTER_ETOOBIG, and a cas of an absent key with a
    non-empty expected value stores nothing (MUSTER_ENOTFOUND).
  * tests/python/progs/store_parity.py: one sequence of set/get/add/
    compare_set/delete_key/num_keys/wait on muster.torch.store() and on
    torch's TCPStore gives the same answers (and both raise where they
    must); 3 ranks adding at once get unique tickets 1..75; bad input
    raises muster exceptions naming the problem.
  * tests/python/progs/save_snapshot.py: muster.torch.save's asynchronous
    (forked) save under training: the state is overwritten the moment
    save returns, yet the job resumed (--resume) restores exactly the
    saved step's tensors; a state torch.save cannot pickle fails in the
    forked writer, which says why, and flush() raises.
  * tests/python/progs/spare.py under muster run --elastic-mode in-place
    --spares 1: a spare process starts with the job and waits; when rank 1
    dies, the in-place epoch gives rank 1 to the spare (the pid it printed
    at its start), the survivors keep theirs, the job succeeds and leaves
    no process behind; --spares without in-place mode, or above 1, is a
    clear error.
Skipped, saying why, without torch or the binding (the C part runs)."""
import json
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import MusterCase, bin_path, main, worker_lines  # noqa: E402
from torch_examples import (PYTHON, SRC_DIR, binding_env,  # noqa: E402
                            binding_missing, torch_missing)

KV_RMW = bin_path("kv_rmw")
PARITY = os.path.join(SRC_DIR, "tests", "python", "progs", "store_parity.py")
SNAPSHOT = os.path.join(SRC_DIR, "tests", "python", "progs", "save_snapshot.py")
SPARE = os.path.join(SRC_DIR, "tests", "python", "progs", "spare.py")


class StoreKv(MusterCase):
    def need_torch(self):
        why = torch_missing() or binding_missing()
        if why:
            print("SKIPPED: " + why, flush=True)
            self.skipTest(why)

    def test_c_api_atomic_ops(self):
        if not os.access(KV_RMW, os.X_OK):
            self.skipTest("kv_rmw not built")
        p = self.muster_run(["--nproc-per-node", "3", "--", KV_RMW])
        self.expect_eq(p.wait(), 0, "exit status", p)
        lines = worker_lines(p.out, "worker")
        self.check("3 ranks x 50 kv_add of 1: every rank reads 150, answers grow")
        for r in range(3):
            self.expect("adds final=150 grew=1" in lines.get(r, []),
                        "rank %d adds line" % r, p)
        self.check("racing kv_cas from absent: one winner, seen by all")
        leaders = set()
        won = 0
        for r in range(3):
            m = [re.match(r"leader=(\d+) won=([01])$", ln) for ln in lines.get(r, [])]
            m = [x for x in m if x]
            self.expect_eq(len(m), 1, "rank %d leader line" % r, p)
            leaders.add(m[0].group(1))
            won += int(m[0].group(2))
        self.expect_eq(len(leaders), 1, "one leader %r" % leaders, p)
        self.expect_eq(won, 1, "winners", p)
        self.check("rank 0: del, count, refusals (EINVAL, ETOOBIG, ENOTFOUND)")
        checks = [ln for ln in lines.get(0, []) if ln.startswith("check ")]
        self.expect_eq(len(checks), 22, "rank 0 ran its checks: %r" % checks, p)
        bad = [ln for ln in checks if not ln.endswith(" ok")]
        self.expect_eq(bad, [], "failed checks", p)

    def test_store_parity_with_tcpstore(self):
        self.need_torch()
        p = self.muster_run(["--python", PYTHON, "--nproc-per-node", "3", "--", PARITY],
                            env_extra=binding_env())
        self.expect_eq(p.wait(), 0, "exit status", p)
        lines = worker_lines(p.out, "worker")
        par = {}
        for ln in lines.get(0, []):
            m = re.match(r"parity (muster|tcp) (.*)$", ln)
            if m:
                par[m.group(1)] = json.loads(m.group(2))
        self.check("the same Store sequence on muster.torch.store() and TCPStore")
        self.expect_eq(sorted(par), ["muster", "tcp"], "both stores ran", p)
        self.expect_eq(par["muster"], par["tcp"], "muster's answers vs TCPStore's", p)
        # and the sequence itself is what torch documents (not merely equal)
        self.expect_eq(par["muster"][:8], ["1", 3, -2, -2, "-2", 42, "42", "x"],
                       "add and the absent compare_set", p)
        self.expect_eq(par["muster"][16:19], [True, False, 3], "delete_key, num_keys", p)
        self.check("3 ranks x 25 concurrent adds: unique tickets 1..75")
        tickets = []
        for r in range(3):
            t = [json.loads(ln[len("tickets "):]) for ln in lines.get(r, [])
                 if ln.startswith("tickets ")]
            self.expect_eq(len(t), 1, "rank %d tickets line" % r, p)
            self.expect_eq(t[0], sorted(t[0]), "rank %d's tickets grow" % r, p)
            tickets += t[0]
        self.expect_eq(sorted(tickets), list(range(1, 76)), "tickets", p)
        self.check("bad input raises a muster exception naming the problem")
        ref = {}
        for ln in lines.get(0, []):
            m = re.match(r"refusal (\S+) (\S+) \| (.*)$", ln)
            if m:
                ref[m.group(1)] = (m.group(2), m.group(3))
        want = {"add_non_integer": ("InvalidArgument", "not a decimal integer"),
                "add_not_int": ("InvalidArgument", "amount must be an int"),
                "compare_set_not_bytes": ("InvalidArgument", "expected must be bytes or str"),
                "key_not_str": ("InvalidArgument", "key must be str"),
                "kv_add_long_key": ("TooBig", "MUSTER_ETOOBIG"),
                "kv_count_bad_prefix": ("InvalidArgument", "prefix must be str or bytes")}
        for name, (cls, text) in want.items():
            got = ref.get(name)
            self.expect(got is not None and got[0] == cls and text in got[1],
                        "%s: want %s mentioning %r, got %r" % (name, cls, text, got), p)

    def test_async_save_is_the_saved_step(self):
        self.need_torch()
        ck = os.path.join(self.tmp, "ck")
        common = ["--python", PYTHON, "--nproc-per-node", "2", "--rdzv-id", "snap49",
                  "--ckpt-dir", ck]
        p = self.muster_run(common + ["--ckpt-every-steps", "4", "--", SNAPSHOT, "train",
                                      "14"], name="train", env_extra=binding_env())
        self.expect_eq(p.wait(), 0, "exit status of the training run", p)
        lines = worker_lines(p.out, "worker")
        saved = {}
        for r in range(2):
            ls = lines.get(r, [])
            saved[r] = [int(ln.split()[1]) for ln in ls if ln.startswith("saved ")]
            self.expect("flushed" in ls, "rank %d flushed" % r, p)
            self.expect([ln for ln in ls if "failed" in ln] == [], "rank %d: no failed "
                        "outcome" % r, p)
        self.check("asynchronous saves handed at steps %r" % saved[0])
        self.expect(saved[0] and saved[0] == saved[1], "both ranks saved the same steps", p)
        q = self.muster_run(common + ["--resume", "--", SNAPSHOT, "check"], name="check",
                            env_extra=binding_env())
        self.expect_eq(q.wait(), 0, "exit status of the resumed run", q)
        got = worker_lines(q.out, "worker")
        self.check("the resumed job restores exactly the saved step's tensors")
        for r in range(2):
            ls = [ln for ln in got.get(r, []) if ln.startswith("loaded ")]
            self.expect(len(ls) == 1 and ls[0].endswith(" exact")
                        and int(ls[0].split()[1]) in saved[r],
                        "rank %d: %r (saved %r)" % (r, ls, saved[r]), q)

    def test_async_save_writer_failure(self):
        self.need_torch()
        p = self.muster_run(["--python", PYTHON, "--nproc-per-node", "1", "--ckpt-dir",
                             os.path.join(self.tmp, "ck"), "--ckpt-every-steps", "4",
                             "--", SNAPSHOT, "bad"], env_extra=binding_env())
        self.expect_eq(p.wait(), 0, "exit status", p)
        ls = worker_lines(p.out, "worker").get(0, []) + \
            worker_lines(p.err, "worker").get(0, [])
        self.check("an unpicklable state: the forked writer says why, flush raises")
        self.expect(any("the forked writer of" in ln and "PicklingError" in ln for ln in ls),
                    "the writer's message", p)
        self.expect("flush raised InternalError" in ls, "flush raised", p)
        self.expect(any(ln.startswith("outcome ") and " failed " in ln for ln in ls),
                    "a failed outcome", p)

    def test_spare_takes_the_lost_place(self):
        if binding_missing():
            self.skipTest(binding_missing())
        p = self.muster_run(["--python", PYTHON, "--nproc-per-node", "3", "--elastic-mode",
                             "in-place", "--max-restarts", "1", "--spares", "1", "--", SPARE],
                            env_extra=binding_env())
        self.expect_eq(p.wait(), 0, "exit status", p)
        spare = re.findall(r"^\[spare\] started pid (\d+)$", p.out, re.M)
        self.check("a spare started with the job: pid %r" % spare)
        self.expect(len(spare) >= 1, "a [spare] start line", p)
        placed = {}
        for m in re.finditer(r"^\[worker \d+\] placed rank (\d) of 3 epoch (\d) pid (\d+)$",
                             p.out, re.M):
            placed[(int(m.group(2)), int(m.group(1)))] = m.group(3)
        self.check("epoch 2: rank 1 is the spare, ranks 0 and 2 kept their pids")
        self.expect_eq(sorted(placed), [(1, 0), (1, 1), (1, 2), (2, 0), (2, 1), (2, 2)],
                       "places", p)
        self.expect_eq(placed.get((2, 1)), spare[0] if spare else None, "rank 1's pid", p)
        self.expect(placed.get((2, 1)) != placed.get((1, 1)), "rank 1 replaced", p)
        for r in (0, 2):
            self.expect_eq(placed.get((2, r)), placed.get((1, r)), "pid of rank %d" % r, p)
        self.expect_eq(p.out.count("] done\n"), 3, "3 workers done", p)

    def test_spares_flag_errors(self):
        for args, text in [(["--spares", "1"], "--spares needs --elastic-mode in-place"),
                           (["--elastic-mode", "in-place", "--spares", "2"],
                            "--spares '2': expected 0 or 1"),
                           (["--elastic-mode", "in-place", "--spares", "x"],
                            "--spares 'x': expected 0 or 1")]:
            p = self.muster_run(args + ["--", "/bin/true"])
            rc = p.wait()
            self.check("muster run %s: a clear error" % " ".join(args))
            self.expect(rc != 0, "non-zero exit", p)
            self.expect(text in p.err, "message %r" % text, p)


if __name__ == "__main__":
    main()
