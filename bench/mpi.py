#!/usr/bin/python3
"""mpi.py -- `muster run --mpi` against `mpirun` for the same MPI program.

For each repetition both launchers start the same program (tests/mpi_world:
MPI_Init, one MPI_Allreduce, MPI_Finalize) with --np ranks on this machine:

  muster    muster run --mpi --quiet --nproc-per-node N -- mpi_world
            (embedded coordinator and agent; the agent serves PMIx)
  mpirun    mpirun -np N --oversubscribe mpi_world
            (Open MPI's own launcher: orted, its PMIx server)

and measures, from the instant before the launcher is spawned:

  start  until the last rank's main() began (the launcher's own cost)
  init   until the last rank returned from MPI_Init (each rank prints the
         CLOCK_REALTIME instant right after MPI_Init; the figure is the
         latest of them minus the spawn instant)
  whole  until the launcher exited (the whole job, end to end)

Both run under the same Open MPI settings, twice: its defaults, and with
OMPI_MCA_pml=ob1 (see CONFIGS).  The systems alternate within each
repetition, so drift hits both alike; the
median of --reps repetitions (after --warmup discarded ones) is reported
with the ratio mpirun / muster.  A benchmark, not a test: it prints figures
and exits 0 whatever they are, non-zero only if a launch broke (non-zero
exit, a rank missing, a world of the wrong size, a timeout).
"""

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
LINE = re.compile(r"mpi_world rank=(\d+) size=(\d+) sum=(\d+) init_done_us=(\d+) "
                  r"main_us=(\d+)")
# The same Open MPI settings for both launchers: its defaults, and the
# point-to-point layer fixed to ob1 (no probing of UCX and libfabric
# devices, which costs each rank's MPI_Init about 0.25 s on a machine
# without such hardware, whoever launched it).
CONFIGS = [("Open MPI defaults", {}),
           ("OMPI_MCA_pml=ob1", {"OMPI_MCA_pml": "ob1"})]


class Broken(Exception):
    pass


def run_once(name, argv, n, env, timeout):
    t0 = time.time()
    try:
        p = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=timeout)
    except subprocess.TimeoutExpired:
        raise Broken("%s: timed out after %.0f s" % (name, timeout))
    t_exit = time.time()
    out = p.stdout.decode(errors="replace")
    got = {}
    for m in LINE.finditer(out):
        got[int(m.group(1))] = (int(m.group(2)), int(m.group(4)) / 1e6,
                                int(m.group(5)) / 1e6)
    if (p.returncode != 0 or sorted(got) != list(range(n))
            or any(v[0] != n for v in got.values())):
        raise Broken("%s: exit %d, ranks %s\n%s\n%s"
                     % (name, p.returncode, sorted(got), out[-2000:],
                        p.stderr.decode(errors="replace")[-2000:]))
    return (max(v[2] for v in got.values()) - t0,
            max(v[1] for v in got.values()) - t0, t_exit - t0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=os.environ.get("MUSTER_BIN",
                                                    os.path.join(REPO, "build", "bin")),
                    help="directory of muster and mpi_world")
    ap.add_argument("--np", type=int, default=4, help="ranks (4)")
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=60)
    a = ap.parse_args()
    prog = os.path.join(a.bin, "mpi_world")
    mpirun = shutil.which("mpirun")
    if not os.path.exists(prog) or mpirun is None:
        print("mpi.py: needs %s and mpirun; skipped" % prog)
        return 0
    tmp = tempfile.mkdtemp(prefix="muster-mpi-bench.")
    env = dict(os.environ)
    env["MUSTER_STATE_DIR"] = os.path.join(tmp, "state")
    # Open MPI refuses root without these (mpirun and MPI_Init alike).
    env["OMPI_ALLOW_RUN_AS_ROOT"] = "1"
    env["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
    n = a.np
    systems = [
        ("muster run --mpi", [os.path.join(a.bin, "muster"), "run", "--mpi",
                              "--quiet", "--nproc-per-node", str(n), "--", prog]),
        ("mpirun", [mpirun, "-np", str(n), "--oversubscribe", prog]),
    ]
    print("%d ranks of mpi_world on this machine, median of %d (after %d "
          "warm-up)" % (n, a.reps, a.warmup))
    try:
        for cname, cenv in CONFIGS:
            e = dict(env)
            e.update(cenv)
            res = {name: ([], [], []) for name, _ in systems}
            for rep in range(a.warmup + a.reps):
                for name, argv in (systems if rep % 2 == 0 else systems[::-1]):
                    fig = run_once(name, argv, n, e, a.timeout)
                    if rep >= a.warmup:
                        for k in range(3):
                            res[name][k].append(fig[k])
            print("\n%s:" % cname)
            print("  %-18s %12s %14s %12s" % ("launcher", "ranks start",
                                               "MPI_Init done", "whole run"))
            med = {}
            for name, _ in systems:
                med[name] = [statistics.median(res[name][k]) for k in range(3)]
                print("  %-18s %10.3f s %12.3f s %10.3f s" % ((name,) + tuple(med[name])))
            m, r = med["muster run --mpi"], med["mpirun"]
            print("  mpirun / muster: %.2fx to MPI_Init done, %.2fx whole run"
                  % (r[1] / m[1], r[2] / m[2]))
    except Broken as e:
        print("mpi.py: a launch broke: %s" % e, file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
