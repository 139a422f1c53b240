#!/usr/bin/python3
"""many_workers.py -- many workers on one node: muster against torchrun.

For each size N (default 100, 500, 1000 workers on this one machine) it
starts one launcher with N workers of bench/launch_worker (the C worker
that writes the instant main() began to $BENCH_DIR/start.$RANK, then
exits 0) and reports

  gang start   max over ranks of that instant - the instant just before
               the launcher was spawned (every worker running)
  finish       the launcher's exit - the same instant (whole job)

for muster (`muster run --nproc-per-node N`, embedded coordinator) and
torchrun (`python -m torch.distributed.run --nproc_per_node N --no_python`,
c10d store on a free port, with --redirects=1 --tee=1 --log_dir, which
torchrun 1.13 needs, see docs/benchmarks.md), the same C worker for both,
and the ratio torchrun / muster (above 1: muster is faster).  The median
of --reps runs, the systems interleaved within each repetition.

A benchmark, not a test: prints figures and ratios, exits 0 whatever they
are, and non-zero only if a launch broke (non-zero exit, a missing worker,
a timeout).  Standard library only.
"""
import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from launchers import LauncherGroup, find_bin, free_port, have_torchrun, log_tails  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Broken(Exception):
    pass


def run_once(name, argv, n, tmp, timeout, env):
    """(gang start, finish) in seconds of one launch of n workers."""
    rdir = tempfile.mkdtemp(prefix=name.replace(" ", "_") + "-", dir=tmp)
    env = dict(env, BENCH_DIR=rdir)
    t0 = time.time()
    group = LauncherGroup([argv(rdir)], rdir, env, timeout)
    t_exit = group.wait()
    if group.expired.is_set():
        raise Broken("%s x%d: timed out after %.0f s (logs in %s)"
                     % (name, n, timeout, rdir))
    starts = []
    for r in range(n):
        try:
            with open(os.path.join(rdir, "start.%d" % r)) as f:
                starts.append(int(f.read()) / 1e6)
        except (OSError, ValueError):
            pass
    bad = group.failed()
    if bad or len(starts) != n:
        raise Broken("%s x%d: exit %s, %d of %d workers started (logs in "
                     "%s)\n%s" % (name, n, bad, len(starts), n, rdir,
                                  log_tails(rdir, [0], 800)))
    shutil.rmtree(rdir, ignore_errors=True)
    return max(starts) - t0, t_exit - t0


def fmt(v):
    if v is None:
        return "-"
    return "%.0f ms" % (v * 1e3) if v < 10 else "%.1f s" % v


def ratio(base, ours):
    if base is None or ours is None or ours <= 0:
        return "-"
    return "%.2fx" % (base / ours)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", help="directory with muster (default: "
                    "build-bench/bin or build/bin of the repo)")
    ap.add_argument("--worker", help="the C worker (default: "
                    "<bin>/../bench/launch_worker)")
    ap.add_argument("--python", default="/usr/bin/python3",
                    help="interpreter with torch for the torchrun baseline")
    ap.add_argument("--sizes", default="100,500,1000",
                    help="workers per launch, comma separated")
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=600.0,
                    help="seconds one launch may take before it is killed")
    ap.add_argument("--no-torchrun", action="store_true",
                    help="skip the torchrun baseline")
    a = ap.parse_args()
    a.bin = find_bin(a.bin, REPO, "many_workers.py")
    worker = a.worker or os.path.join(os.path.dirname(a.bin), "bench",
                                      "launch_worker")
    if not os.access(worker, os.X_OK):
        sys.exit("many_workers.py: no C worker at %s; build it or pass "
                 "--worker" % worker)
    sizes = [int(s) for s in a.sizes.split(",") if s]
    torch_ok = not a.no_torchrun and have_torchrun(a.python)
    tmp = tempfile.mkdtemp(prefix="muster-many-")
    env = dict(os.environ)
    env.setdefault("MUSTER_STATE_DIR", os.path.join(tmp, "state"))
    muster = os.path.join(a.bin, "muster")

    def muster_argv(n):
        return lambda rdir: [muster, "run", "--quiet", "--nproc-per-node",
                             str(n), "--", worker]

    def torchrun_argv(n):
        def argv(rdir):
            return [a.python, "-m", "torch.distributed.run", "--nnodes", "1",
                    "--rdzv_backend", "c10d", "--rdzv_endpoint",
                    "127.0.0.1:%d" % free_port(), "--nproc_per_node", str(n),
                    "--no_python", "--redirects=1", "--tee=1", "--log_dir",
                    os.path.join(rdir, "tlog"), worker]
        return argv

    print("many workers on one node: gang start and finish (median of %d)"
          % a.reps)
    print("  muster:   %s" % muster)
    print("  worker:   %s" % worker)
    if not torch_ok:
        print("  torchrun: skipped (%s)" % ("--no-torchrun" if a.no_torchrun
                                           else "no torch in %s" % a.python))
    results = {}
    try:
        for n in sizes:
            for rep in range(a.reps):
                systems = [("muster", muster_argv(n))]
                if torch_ok:
                    systems.append(("torchrun", torchrun_argv(n)))
                for name, argv in systems:
                    results.setdefault((name, n), []).append(
                        run_once(name, argv, n, tmp, a.timeout, env))
    except Broken as e:
        print("BROKEN: %s" % e)
        return 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    def med(name, n, k):
        runs = results.get((name, n))
        return statistics.median(r[k] for r in runs) if runs else None

    print()
    print("%8s | %12s %8s | %14s %8s | %11s %12s"
          % ("workers", "muster start", "finish", "torchrun start", "finish",
             "start ratio", "finish ratio"))
    for n in sizes:
        ms, mf = med("muster", n, 0), med("muster", n, 1)
        ts, tf = med("torchrun", n, 0), med("torchrun", n, 1)
        print("%8d | %12s %8s | %14s %8s | %11s %12s"
              % (n, fmt(ms), fmt(mf), fmt(ts), fmt(tf), ratio(ts, ms),
                 ratio(tf, mf)))
    print("ratio = torchrun / muster (above 1: muster is faster)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
