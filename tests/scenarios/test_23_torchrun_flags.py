#!/usr/bin/python3
"""Scenario 23 — a torchrun command line works with `muster run`: every
flag torchrun's --help lists (torch in /usr/bin/python3) is known to muster
run; --log_dir with -r/-t writes torch 1.13's per-rank log files
(DIR/<run id>_XXXXXX/attempt_<N>/<local rank>/{stdout,stderr}.log, raw
lines) and keeps redirected streams off the console; --nproc-per-node
cpu|auto|gpu counts this machine's CPUs and GPUs."""
import glob
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import MusterCase, WORKER_LINE, free_port, main, worker_lines  # noqa: E402

TORCH_PYTHON = "/usr/bin/python3"


# A value muster run takes for each of torchrun's flags with a value.
VALUES = {
    "--nnodes": ["1"], "--nproc_per_node": ["1"], "--rdzv_backend": ["c10d"],
    "--rdzv_id": ["job23"], "--rdzv_conf": ["read_timeout=60"],
    "--max_restarts": ["0"], "--monitor_interval": ["5"], "--role": ["worker"],
    "--log_dir": None,  # a fresh directory, below
    "--redirects": ["3"], "--tee": ["1"], "--node_rank": ["0"],
    "--master_addr": ["127.0.0.1"], "--master_port": ["29500"],
}


def torchrun_flags():
    """[(flag, metavar or None, choices)] of `torch.distributed.run --help`,
    or a reason to skip."""
    if not os.access(TORCH_PYTHON, os.X_OK):
        return None, "%s is not there" % TORCH_PYTHON
    r = subprocess.run([TORCH_PYTHON, "-m", "torch.distributed.run", "--help"],
                       capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        return None, ("torch is not installed in %s (python3-torch): %s"
                      % (TORCH_PYTHON, r.stderr.strip().splitlines()[-1:]))
    flags = []
    opts = r.stdout.split("\noptions:", 1)[-1].split("\noptional arguments:", 1)[-1]
    # "  -r REDIRECTS, --redirects REDIRECTS", "  --start_method {spawn,fork}",
    # "  -m, --module", "  --standalone"
    for line in opts.splitlines():
        m = re.match(r"^  (-[^ ].*?)(?:  +\S.*)?$", line)
        if not m:
            continue
        for part in m.group(1).split(", "):
            words = part.split(" ", 1)
            if not words[0].startswith("--"):
                continue
            meta = words[1] if len(words) > 1 else None
            choices = meta[1:-1].split(",") if meta and meta.startswith("{") else None
            flags.append((words[0], meta, choices))
    return flags, None


class TorchrunFlags(MusterCase):
    def test_every_torchrun_flag_is_known(self):
        flags, why = torchrun_flags()
        if flags is None:
            self.skipTest(why)
        names = [f for f, _, _ in flags]
        self.check("torchrun --help lists its flags (%d found: %s)"
                   % (len(names), " ".join(names)))
        for must in ("--nnodes", "--nproc_per_node", "--rdzv_endpoint",
                     "--log_dir", "--redirects", "--tee", "--start_method"):
            self.expect(must in names, "%s not found in torchrun --help" % must)
        ok_py = self.write_script("ok.py", "print('ok')\n")
        for flag, meta, choices in flags:
            prog = ["true"]
            if flag == "--help":
                continue  # muster run --help is tested by scenario 11
            if flag == "--rdzv_endpoint":
                args = [flag, "127.0.0.1:%d" % free_port(), "--host"]
            elif flag == "--log_dir":
                args = [flag, os.path.join(self.tmp, "logs")]
            elif choices:
                args = [flag, choices[0]]
            elif meta:
                self.expect(flag in VALUES, "no sample value for torchrun's %s %s: "
                            "add one to VALUES" % (flag, meta))
                args = [flag] + VALUES[flag]
            else:
                args = [flag]
            if flag == "--module":
                prog = ["json.tool", "--help"]  # python3 -m json.tool --help
            elif flag == "--run_path":
                prog = [ok_py]
            p = self.run_muster(["run"] + args + ["--nproc-per-node", "1",
                                                  "--", *prog],
                                name="flag%s" % flag.replace("-", "_"),
                                # -r/-t without --log_dir: a log directory
                                # in $TMPDIR, as torchrun's; keep it ours
                                env_extra={"TMPDIR": self.tmp})
            unknown = "unknown option" in p.err
            self.check("muster run %s ... -- %s: accepted and runs (exit 0)"
                       % (" ".join(args), " ".join(prog)))
            self.expect(not unknown, "muster run does not know torchrun's %s" % flag, p)
            self.expect_eq(p.rc, 0, "exit status of muster run %s" % flag, p)

    def test_ignored_flags_say_so(self):
        p = self.run_muster(["run", "--start_method", "spawn",
                             "--monitor_interval", "5", "--rdzv_conf",
                             "close_timeout=60", "--", "true"])
        self.check("accepted torchrun settings that change nothing: one line each")
        self.expect_eq(p.rc, 0, "exit status", p)
        for line in ("muster: --start-method spawn: ignored (muster starts every "
                     "worker with fork+exec through muster-exec)",
                     "muster: --monitor-interval 5: ignored",
                     "muster: --rdzv-conf close_timeout=60: ignored"):
            self.expect(line in p.err, "missing: %r" % line, p)

    # -- log files

    def job_dir(self, base, p, run_id="default"):
        dirs = glob.glob(os.path.join(base, run_id + "_*"))
        self.expect_eq(len(dirs), 1, "job log directories %s/%s_*" % (base, run_id), p)
        self.expect(re.fullmatch(re.escape(run_id) + r"_\w{6}",
                                 os.path.basename(dirs[0])) is not None,
                    "job log directory name %s" % dirs[0], p)
        self.expect("muster: worker logs in %s\n" % dirs[0] in p.err,
                    "the launcher names the log directory", p)
        return dirs[0]

    def read(self, path):
        with open(path) as f:
            return f.read()

    WRITER = ("import os; r = os.environ['RANK']; "
              "[print('out %s %d' % (r, i), flush=True) for i in range(3)]; "
              "[print('err %s %d' % (r, i), file=os.sys.stderr, flush=True) "
              "for i in range(2)]; "
              "print('ef', os.environ.get('TORCHELASTIC_ERROR_FILE'))")

    def test_redirect_all(self):
        base = os.path.join(self.tmp, "logs")
        p = self.muster_run(["--log_dir", base, "-r", "3", "--nproc_per_node", "2",
                             "--no-python", "--", sys.executable, "-c", self.WRITER])
        self.expect_eq(p.wait(), 0, "exit status", p)
        job = self.job_dir(base, p)
        for lr in (0, 1):
            d = os.path.join(job, "attempt_0", str(lr))
            self.check("-r 3: local rank %d's stdout and stderr, raw, in %s" % (lr, d))
            self.expect_eq(self.read(os.path.join(d, "stdout.log")),
                           "out %d 0\nout %d 1\nout %d 2\nef %s\n"
                           % (lr, lr, lr, os.path.join(d, "error.json")),
                           "stdout.log of local rank %d" % lr, p)
            self.expect_eq(self.read(os.path.join(d, "stderr.log")),
                           "err %d 0\nerr %d 1\n" % (lr, lr),
                           "stderr.log of local rank %d" % lr, p)
        self.check("-r 3: no worker output on the console")
        self.expect_eq(worker_lines(p.out), {}, "worker lines on stdout", p)
        self.expect_eq(worker_lines(p.err), {}, "worker lines on stderr", p)

    def test_tee_stdout(self):
        base = os.path.join(self.tmp, "logs")
        p = self.muster_run(["--log-dir=" + base, "-t1", "--rdzv-id", "job23",
                             "--nproc-per-node", "2", "--no-python", "--",
                             sys.executable, "-c", self.WRITER])
        self.expect_eq(p.wait(), 0, "exit status", p)
        job = self.job_dir(base, p, "job23")
        for lr in (0, 1):
            d = os.path.join(job, "attempt_0", str(lr))
            self.check("-t 1: local rank %d's stdout in %s, no stderr.log" % (lr, d))
            self.expect(self.read(os.path.join(d, "stdout.log")).startswith(
                "out %d 0\nout %d 1\nout %d 2\n" % (lr, lr, lr)),
                "stdout.log of local rank %d" % lr, p)
            self.expect(not os.path.exists(os.path.join(d, "stderr.log")),
                        "stderr.log of local rank %d exists" % lr, p)
        self.check("-t 1: stdout and stderr still on the console, prefixed")
        out = worker_lines(p.out)
        self.expect_eq(sorted(out), [0, 1], "ranks on stdout", p)
        self.expect_eq(out[1][:3], ["out 1 0", "out 1 1", "out 1 2"], "rank 1's stdout", p)
        self.expect_eq(worker_lines(p.err).get(0), ["err 0 0", "err 0 1"],
                       "rank 0's stderr", p)

    def test_redirect_map(self):
        base = os.path.join(self.tmp, "logs")
        p = self.muster_run(["--log_dir", base, "--redirects", "0:1",
                             "--nproc-per-node", "2", "--no-python", "--",
                             sys.executable, "-c", self.WRITER])
        self.expect_eq(p.wait(), 0, "exit status", p)
        job = self.job_dir(base, p)
        self.check("-r 0:1: local rank 0's stdout in its file, rank 1's on the console")
        self.expect(os.path.exists(os.path.join(job, "attempt_0", "0", "stdout.log")),
                    "local rank 0's stdout.log", p)
        self.expect(not os.path.exists(os.path.join(job, "attempt_0", "1", "stdout.log")),
                    "local rank 1 has a stdout.log", p)
        out = worker_lines(p.out)
        self.expect_eq(sorted(out), [1], "ranks on stdout", p)
        self.expect_eq(sorted(worker_lines(p.err)), [0, 1], "ranks on stderr", p)

    def test_bad_log_dir(self):
        blocker = self.write_script("file", "")
        p = self.run_muster(["run", "--log_dir", blocker, "-r", "3", "--", "true"])
        self.check("a log directory that cannot be made: exit 2, one line naming it")
        self.expect_eq(p.rc, 2, "exit status", p)
        self.expect(("cannot make the log directory %s" % blocker) in p.err, "message", p)
        p = self.run_muster(["run", "-r", "5", "--", "true"])
        self.expect_eq(p.rc, 2, "exit status of -r 5", p)
        self.expect("--redirects '5': expected 0 (none)" in p.err, "message", p)

    # -- --nproc-per-node auto|gpu|cpu

    def world_of(self, kind):
        p = self.run_muster(["run", "--nproc-per-node", kind, "--", "sh", "-c",
                             "echo $LOCAL_WORLD_SIZE"])
        self.expect_eq(p.rc, 0, "exit status of --nproc-per-node %s" % kind, p)
        lines = worker_lines(p.out)
        return len(lines), {v[0] for v in lines.values()}

    def test_nproc_cpu_auto_gpu(self):
        cpus = len(os.sched_getaffinity(0))
        self.check("--nproc-per-node cpu: one worker per usable CPU (%d)" % cpus)
        self.expect_eq(self.world_of("cpu"), (cpus, {str(cpus)}), "workers, LOCAL_WORLD_SIZE")
        if glob.glob("/dev/nvidia[0-9]*"):
            self.skipTest("this machine has a GPU: gpu and auto are not checked here")
        self.check("--nproc-per-node auto without a GPU: as cpu")
        self.expect_eq(self.world_of("auto"), (cpus, {str(cpus)}), "workers, LOCAL_WORLD_SIZE")
        p = self.run_muster(["run", "--nproc_per_node", "gpu", "--", "true"])
        self.check("--nproc-per-node gpu without a GPU: exit 2, one line")
        self.expect_eq(p.rc, 2, "exit status", p)
        self.expect_eq(p.err, "muster run: --nproc-per-node gpu: this machine has no "
                       "GPU (no /dev/nvidia0, ...); use a number or cpu\n", "stderr", p)


if __name__ == "__main__":
    main()
