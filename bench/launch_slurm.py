#!/usr/bin/python3
"""launch_slurm.py -- launching a 4-node gang inside a Slurm allocation:
`muster run` against `srun -N4` of the same program, and against torchrun
started by srun on each node.

Everything is timed inside ONE allocation (an sbatch -N4 --exclusive job on
a local 4-node Slurm cluster, tests/slurm/cluster.py, unless --slurm-conf
names a running one), so the allocation's own cost is left out and the
systems are interleaved within each repetition:

  srun        srun -N4 --ntasks-per-node=1 WORKER            (the baseline)
  muster      muster run -- WORKER   (from the batch script: hosts the
              coordinator here and starts the other 3 nodes with one srun)
  torchrun    srun -N4 --ntasks-per-node=1 python -m torch.distributed.run
              --nnodes 4 --rdzv-backend c10d ... launch_worker.py

Figures, medians of --reps after --warmup discarded runs:
  running   from just before the launcher is spawned until the last of the
            4 workers has entered main() (each writes its CLOCK_REALTIME
            instant to $BENCH_DIR/start.RANK: bench/launch_worker(.py))
  total     until the launcher has exited (the whole trivial job)
and the ratios muster/srun and torchrun/muster.  The targets of issue 14
(within 1.5x of srun, 10x faster than torchrun) are printed beside them.

A benchmark, not a test: exits 0 whatever the figures are, non-zero only if
a launch broke.  Exit 0 with a line saying so when Slurm is not installed.
"""
import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
CLUSTER = os.path.join(REPO, "tests", "slurm", "cluster.py")
NODES = 4


def have_torchrun(python):
    try:
        return subprocess.run([python, "-c", "import torch.distributed.run"],
                              stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, timeout=120).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


# ------------------------------------------------------------ inside the job


def run_once(name, argv, bdir, env, log):
    """(running, total) seconds of one launch, or raise naming the failure."""
    for f in os.listdir(bdir):
        os.unlink(os.path.join(bdir, f))
    with open(log, "ab") as lf:
        lf.write(("\n== %s: %s\n" % (name, " ".join(argv))).encode())
        lf.flush()
        t0 = time.time()
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=lf,
                             stderr=subprocess.STDOUT, env=env)
        try:
            rc = p.wait(timeout=120)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            raise RuntimeError("%s did not finish within 120 s (log %s)" % (name, log))
        t_end = time.time()
    starts = []
    for f in os.listdir(bdir):
        if f.startswith("start."):
            with open(os.path.join(bdir, f)) as fh:
                starts.append(int(fh.read().strip()) / 1e6)
    if rc != 0 or len(starts) != NODES:
        raise RuntimeError("%s: exit %d, %d of %d workers ran (log %s)"
                           % (name, rc, len(starts), NODES, log))
    return max(starts) - t0, t_end - t0


def inner(a):
    out = {"systems": {}, "errors": []}
    bdir = os.path.join(a.dir, "starts")
    os.makedirs(bdir, exist_ok=True)
    env = dict(os.environ)
    env["BENCH_DIR"] = bdir
    env["MUSTER_STATE_DIR"] = os.path.join(a.dir, "state")
    env.pop("RANK", None)
    worker = a.worker
    systems = [
        ("srun", ["srun", "-N%d" % NODES, "--ntasks-per-node=1", worker]),
        ("muster", [os.path.join(a.bin, "muster"), "run", "--quiet",
                    "--advertise-host", "127.0.0.1", "--nproc-per-node", "1",
                    "--", worker]),
    ]
    if a.torchrun:
        port = 29000 + os.getpid() % 2000
        systems.append(("torchrun", [
            "srun", "-N%d" % NODES, "--ntasks-per-node=1", a.python, "-m",
            "torch.distributed.run", "--nnodes", str(NODES), "--nproc_per_node",
            "1", "--rdzv_backend", "c10d", "--rdzv_endpoint",
            "127.0.0.1:%d" % port, "--rdzv_id", "bench", "--redirects=1",
            "--tee=1", "--log_dir=%s" % os.path.join(a.dir, "torchrun-logs"),
            os.path.join(HERE, "launch_worker.py")]))
    log = os.path.join(a.dir, "launches.log")
    for s, _ in systems:
        out["systems"][s] = {"running": [], "total": []}
    for rep in range(a.warmup + a.reps):
        for s, argv in systems:
            try:
                run, tot = run_once(s, argv, bdir, env, log)
            except RuntimeError as e:
                out["errors"].append(str(e))
                continue
            if rep >= a.warmup:
                out["systems"][s]["running"].append(run)
                out["systems"][s]["total"].append(tot)
    with open(os.path.join(a.dir, "result.json"), "w") as f:
        json.dump(out, f)
    return 0


# ----------------------------------------------------------- outside the job


def start_cluster(tmp):
    sdir = os.path.join(tmp, "slurm")
    p = subprocess.Popen([sys.executable, CLUSTER, "up", sdir],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
    line = p.stdout.readline()
    if not line.startswith("ready"):
        rest = p.stdout.read() if p.poll() is not None else ""
        p.terminate()
        p.wait()
        sys.exit("launch_slurm: the local Slurm cluster did not start: %s%s"
                 % (line, rest))
    return p, os.path.join(sdir, "slurm.conf")


def stop_cluster(p):
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(timeout=90)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def fmt(v):
    return "%7.3f s" % v


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--bin", help="directory with muster (default build/bin)")
    ap.add_argument("--worker", help="the C worker (default BIN/../bench/launch_worker)")
    ap.add_argument("--python", default="/usr/bin/python3",
                    help="interpreter of torchrun (default /usr/bin/python3)")
    ap.add_argument("--no-torchrun", action="store_true")
    ap.add_argument("--slurm-conf", help="a running cluster's slurm.conf "
                    "(default: start a local 4-node one)")
    ap.add_argument("--inner", help=argparse.SUPPRESS)
    ap.add_argument("--torchrun", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    a.bin = os.path.abspath(a.bin or os.path.join(REPO, "build", "bin"))
    if a.worker is None:
        a.worker = os.path.join(os.path.dirname(a.bin), "bench", "launch_worker")
    a.worker = os.path.abspath(a.worker)
    if a.inner:
        a.dir = a.inner
        return inner(a)
    for prog in ("sbatch", "srun"):
        if shutil.which(prog) is None:
            print("launch_slurm: Slurm is not installed (no %s): nothing to "
                  "measure (scripts/install-deps.sh installs slurm-wlm)" % prog)
            return 0
    for f in (os.path.join(a.bin, "muster"), a.worker):
        if not os.access(f, os.X_OK):
            sys.exit("launch_slurm: %s is not built" % f)
    torch = not a.no_torchrun and have_torchrun(a.python)
    tmp = tempfile.mkdtemp(prefix="muster-bench-slurm-")
    cluster = None
    try:
        conf = a.slurm_conf
        if conf is None:
            cluster, conf = start_cluster(tmp)
        env = dict(os.environ)
        env["SLURM_CONF"] = os.path.abspath(conf)
        cmd = [sys.executable, os.path.abspath(__file__), "--inner", tmp,
               "--bin", a.bin, "--worker", a.worker, "--python", a.python,
               "--reps", str(a.reps), "--warmup", str(a.warmup)]
        if torch:
            cmd.append("--torchrun")
        wrap = " ".join("'%s'" % c for c in cmd)
        r = subprocess.run(["sbatch", "--wait", "-N%d" % NODES, "--exclusive",
                            "-o", os.path.join(tmp, "job.out"), "--wrap", wrap],
                           env=env, capture_output=True, text=True, timeout=1800)
        res_path = os.path.join(tmp, "result.json")
        if r.returncode != 0 or not os.path.exists(res_path):
            job_out = open(os.path.join(tmp, "job.out")).read() \
                if os.path.exists(os.path.join(tmp, "job.out")) else ""
            print("launch_slurm: the benchmark job failed (%d): %s%s\n%s"
                  % (r.returncode, r.stdout, r.stderr, job_out[-3000:]))
            return 1
        res = json.load(open(res_path))
        print("launch_slurm: %d nodes (local Slurm cluster: %d slurmd's on this "
              "machine), 1 worker per node, median of %d (after %d warm-up)"
              % (NODES, NODES, a.reps, a.warmup))
        print("  %-10s %11s %11s" % ("system", "running", "total"))
        med = {}
        for s, v in res["systems"].items():
            if not v["running"]:
                print("  %-10s %11s %11s" % (s, "failed", "failed"))
                continue
            med[s] = (statistics.median(v["running"]), statistics.median(v["total"]))
            print("  %-10s %11s %11s" % (s, fmt(med[s][0]), fmt(med[s][1])))
        if "srun" in med and "muster" in med:
            print("  muster / srun:     running %.2fx, total %.2fx   (target: "
                  "within 1.5x)" % (med["muster"][0] / med["srun"][0],
                                    med["muster"][1] / med["srun"][1]))
        if "torchrun" in med and "muster" in med:
            print("  torchrun / muster: running %.1fx, total %.1fx   (target: "
                  "at least 10x)" % (med["torchrun"][0] / med["muster"][0],
                                     med["torchrun"][1] / med["muster"][1]))
        elif not torch:
            print("  torchrun: not measured (%s)" % ("--no-torchrun" if a.no_torchrun
                                                     else "no torch in " + a.python))
        for e in res["errors"]:
            print("launch_slurm: a launch broke: %s" % e)
            try:
                print(open(os.path.join(tmp, "launches.log")).read()[-3000:])
            except OSError:
                pass
        return 1 if res["errors"] else 0
    finally:
        if cluster is not None:
            stop_cluster(cluster)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
