#!/usr/bin/python3
"""torch_bench.py -- muster's PyTorch integration against torch's own
mechanisms, all in one invocation (issue 10 item 6):

 (a) recovery: one worker of 4 of examples/torch_ctr/train.py is SIGKILLed
     (--crash-at-step); time from the crash to the first step completed
     after the gang is training again.  muster: `muster run --elastic-mode
     in-place` with train.py --inplace (the 3 survivors keep their
     processes and re-form the group).  Baseline: torchrun --max_restarts 1
     (the whole gang restarts, re-imports torch, resumes from the script's
     own file checkpoint).  Target: >= 10x faster.
 (b) checkpoint stall: a worker under `muster run` holding a state dict of
     --ckpt-mib MiB calls muster.torch.save (asynchronous); the wall time
     its loop is blocked in the call (target < 100 ms; DLRover's flash
     checkpoint reports 0.2 s), the time until the commit is reported, and
     a plain synchronous torch.save + fsync of the same state for scale.
 (c) init_process_group of --init-ranks local ranks: through
     muster.torch.init_process_group (musterd's KV store) vs
     torch.distributed.init_process_group env:// (TCPStore on rank 0), both
     under the same `muster run`.  Figure: from the instant the last rank
     called init to the instant the last rank returned, median of --reps.

Times come from the processes' own time.time() stamps (train.py
--step-times, torch_bench_worker.py).  No timing ever fails the run; it
exits non-zero only when a run broke, and says which.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from launchers import find_bin, free_port, have_torchrun  # noqa: E402

TRAIN = os.path.join(REPO, "examples", "torch_ctr", "train.py")
WORKER = os.path.join(HERE, "torch_bench_worker.py")
PY = sys.executable


def run(argv, env, log, timeout, what):
    with open(log, "wb") as f:
        try:
            p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=f,
                               stderr=subprocess.STDOUT, env=env,
                               timeout=timeout, start_new_session=True)
        except subprocess.TimeoutExpired:
            fail(what, "timed out after %d s" % timeout, log)
    if p.returncode != 0:
        fail(what, "exit status %d" % p.returncode, log)


def fail(what, why, log):
    tail = ""
    try:
        with open(log, "rb") as f:
            tail = f.read()[-3000:].decode(errors="replace")
    except OSError:
        pass
    sys.exit("torch_bench: %s broke: %s (log %s)\n%s" % (what, why, log, tail))


def recovery_from(path, what, log):
    """(seconds from the crash to the first step done by the re-formed
    gang, that step): the first step after the first group formed after
    the crash (a survivor may still finish a step of the old group)."""
    crash, steps, groups = None, [], []
    with open(path) as f:
        for line in f:
            w = line.split()
            if w[0] == "crash":
                crash = float(w[1])
            elif w[0] == "group":
                groups.append(float(w[1]))
            elif w[0] == "step":
                steps.append((float(w[2]), int(w[1])))
    if crash is None:
        fail(what, "no crash in " + path, log)
    formed = [g for g in groups if g > crash]
    if not formed:
        fail(what, "no process group formed after the crash", log)
    after = [s for s in steps if s[0] > min(formed)]
    if not after:
        fail(what, "no step after the crash", log)
    t, s = min(after)
    return t - crash, s


def part_a(o, bindir, env, rdir):
    rows = []
    train = ["--steps", str(o.steps), "--crash-at-step", str(o.crash_at),
             "--crash-rank", "1", "--eval-every", str(o.steps)]
    for rep in range(o.reps):
        f = os.path.join(rdir, "a-muster-%d.times" % rep)
        log = os.path.join(rdir, "a-muster-%d.log" % rep)
        run([os.path.join(bindir, "muster"), "run", "--python", PY,
             "--nproc-per-node", "4", "--max-restarts", "1", "--elastic-mode",
             "in-place"] + (["--spares", "1"] if o.spares else []) +
            ["--", TRAIN, "--inplace", "--step-times", f] + train,
            env, log, o.timeout, "(a) muster in-place")
        m = recovery_from(f, "(a) muster in-place", log)
        t = None
        if o.torchrun:
            f = os.path.join(rdir, "a-torchrun-%d.times" % rep)
            log = os.path.join(rdir, "a-torchrun-%d.log" % rep)
            ck = os.path.join(rdir, "a-ck-%d" % rep)
            run([PY, "-m", "torch.distributed.run", "--nproc_per_node", "4",
                 "--max_restarts", "1", "--master_port", str(free_port()),
                 "--redirects=1", "--tee=1",  # torch 1.13 needs them (recovery.py)
                 TRAIN, "--ckpt-dir", ck, "--ckpt-every", str(o.ckpt_every),
                 "--step-times", f] + train, env, log, o.timeout, "(a) torchrun")
            t = recovery_from(f, "(a) torchrun", log)
        rows.append((m, t))
        print("  (a) rep %d: muster %.3f s (step %d)%s" % (
            rep, m[0], m[1], "" if t is None else
            ", torchrun %.3f s (step %d)" % t), flush=True)
    return rows


def part_b(o, bindir, env, rdir):
    ck = os.path.join(rdir, "b-ck")
    log = os.path.join(rdir, "b.log")
    run([os.path.join(bindir, "muster"), "run", "--python", PY,
         "--nproc-per-node", "1", "--ckpt-dir", ck, "--ckpt-every-steps", "5",
         # the stall is the figure; a slow shared disk must not abort the commit
         "--ckpt-keep", "1", "--ckpt-timeout", "600s", "--", WORKER, "ckpt", rdir, str(o.ckpt_mib),
         str(o.saves)], env, log, o.timeout, "(b) checkpoint worker")
    stall, commit, plain, ser = [], [], None, None
    with open(os.path.join(rdir, "ckpt.0")) as f:
        for line in f:
            w = line.split()
            if w[0] == "save":
                stall.append(float(w[1]))
                commit.append(float(w[2]))
            elif w[0] == "plain":
                plain = float(w[1])
            else:
                ser = float(w[1])
    shutil.rmtree(ck, ignore_errors=True)
    return stall, commit, plain, ser


def part_c(o, bindir, env, rdir):
    res = {"muster": [], "env": []}
    for rep in range(o.reps):
        for mode in ("muster", "env"):
            d = os.path.join(rdir, "c-%s-%d" % (mode, rep))
            os.makedirs(d)
            log = d + ".log"
            run([os.path.join(bindir, "muster"), "run", "--python", PY,
                 "--nproc-per-node", str(o.init_ranks), "--", WORKER, "init",
                 d, mode], env, log, o.timeout, "(c) init %s" % mode)
            stamps = []
            for r in range(o.init_ranks):
                with open(os.path.join(d, "init.%d" % r)) as f:
                    stamps.append(tuple(float(x) for x in f.read().split()))
            res[mode].append(max(s[1] for s in stamps) - max(s[0] for s in stamps))
            print("  (c) rep %d %s: %.3f s" % (rep, mode, res[mode][-1]), flush=True)
    return res


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    a = p.add_argument
    a("--bin", help="directory with muster (default build-bench/bin or build/bin)")
    a("--reps", type=int, default=3, help="repetitions of (a) and (c)")
    a("--steps", type=int, default=60, help="(a) train.py steps")
    a("--crash-at", type=int, default=40, help="(a) the step rank 1 is killed at")
    a("--ckpt-every", type=int, default=10, help="(a) torchrun's file checkpoint period")
    a("--ckpt-mib", type=int, default=1024, help="(b) state dict size, MiB")
    a("--saves", type=int, default=3, help="(b) checkpoints taken")
    a("--init-ranks", type=int, default=32, help="(c) local ranks")
    a("--timeout", type=int, default=600, help="per run, seconds")
    a("--no-torchrun", dest="torchrun", action="store_false",
      help="(a) without the torchrun baseline")
    a("--no-spares", dest="spares", action="store_false",
      help="(a) in-place without a spare process (muster run --spares 1 by default)")
    a("--parts", default="abc", help="which parts to run")
    a("--quick", action="store_true",
      help="smoke run: 1 rep, 24 steps, 64 MiB, 1 save, 4 ranks")
    a("--keep", action="store_true", help="keep the run directory")
    o = p.parse_args()
    if o.quick:
        o.reps, o.steps, o.crash_at, o.ckpt_every = 1, 24, 12, 5
        o.ckpt_mib, o.saves, o.init_ranks = 64, 1, 4
    if o.reps < 1 or o.init_ranks < 2 or not 1 < o.crash_at < o.steps:
        p.error("need --reps >= 1, --init-ranks >= 2, 1 < --crash-at < --steps")
    bindir = find_bin(o.bin, REPO, "torch_bench")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.path.join(os.path.dirname(bindir), "python") + \
        (":" + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    probe = subprocess.run([PY, "-c", "import torch, muster.torch"], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if probe.returncode != 0:
        print("torch_bench: nothing to measure: %s cannot import torch and "
              "muster.torch (PYTHONPATH=%s): %s" % (
                  PY, env["PYTHONPATH"],
                  (probe.stderr.decode(errors="replace").strip().splitlines()
                   or ["?"])[-1]))
        return
    if o.torchrun and not have_torchrun(PY):
        print("torch_bench: %s has no torchrun; no baseline for (a)" % PY)
        o.torchrun = False
    rdir = tempfile.mkdtemp(prefix="torch_bench.")
    env["MUSTER_STATE_DIR"] = os.path.join(rdir, "state")
    print("torch_bench: run directory %s" % rdir, flush=True)
    out = []
    if "a" in o.parts:
        rows = part_a(o, bindir, env, rdir)
        m = statistics.median(r[0][0] for r in rows)
        line = "(a) kill 1 of 4, crash -> first step after | muster in-place %.3f s" % m
        if o.torchrun:
            t = statistics.median(r[1][0] for r in rows)
            line += " | torchrun restart %.3f s | %.1fx (target >= 10x)" % (t, t / m)
        out.append(line)
    if "b" in o.parts:
        stall, commit, plain, ser = part_b(o, bindir, env, rdir)
        st = statistics.median(stall)
        out.append("(b) async save of %d MiB: loop blocked %.0f ms median (max %.0f; "
                   "target < 100 ms, DLRover flash 200 ms: %.1fx the target) | "
                   "torch.save into memory (the stall before the fork) %.0f ms | "
                   "committed after %.2f s | "
                   "plain torch.save+fsync %.2f s (%.1fx the stall)"
                   % (o.ckpt_mib, 1e3 * st, 1e3 * max(stall), st / 0.1, 1e3 * ser,
                      statistics.median(commit), plain, plain / max(st, 1e-6)))
    if "c" in o.parts:
        res = part_c(o, bindir, env, rdir)
        mm, me = statistics.median(res["muster"]), statistics.median(res["env"])
        out.append("(c) init_process_group, %d ranks (last call -> last return) | "
                   "muster.torch %.3f s | TCPStore env:// %.3f s | %.2fx"
                   % (o.init_ranks, mm, me, me / max(mm, 1e-6)))
    print("\ntorch_bench results (median of %d)" % o.reps)
    for line in out:
        print("  " + line)
    if not o.keep:
        shutil.rmtree(rdir, ignore_errors=True)


if __name__ == "__main__":
    main()
