#!/usr/bin/python3
"""Scenario 47 — MPI programs under `muster run --mpi` (muster-agent serves
PMIx; no mpirun, no ssh): a C program (tests/mpi_world.c) and an mpi4py
program see one world of the right size, ranks and allreduce sum, on one
node and on two; MPI_Abort is a worker failure carrying its message; an
MPI that does not use the PMIx server gets a clear error; a killed rank
re-forms the world in a new epoch (new namespace) and examples/mpi_ctr
finishes from its checkpoint, bit-identical to an uninterrupted run."""
import os
import re
import shutil
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import (MusterCase, bin_path, main, parse_kv_line,  # noqa: E402
                     tagged_pids, worker_lines)

PY = "/usr/bin/python3"
SANITIZED = os.environ.get("MUSTER_SANITIZED", "") in ("1", "ON", "TRUE", "true")


def mpi_prog(name, *args):
    """argv of an MPI program of the build.  Under ASan its leak check is
    off: Open MPI's own allocations are not freed at exit and are not
    muster's to fix (muster's processes keep theirs)."""
    argv = [bin_path(name)] + list(args)
    if SANITIZED:
        argv = ["env", "ASAN_OPTIONS=detect_leaks=0"] + argv
    return argv
MPI4PY_PROG = """
from mpi4py import MPI
c = MPI.COMM_WORLD
s = c.allreduce(c.rank + 1)
print("mpi4py rank=%d size=%d sum=%d" % (c.rank, c.size, s), flush=True)
"""


def have_mpi4py():
    if not os.path.exists(PY):
        return False
    return os.system(PY + " -c 'import mpi4py' 2>/dev/null") == 0


@unittest.skipUnless(os.path.exists(bin_path("mpi_world")),
                     "mpi_world not built (no MPI compiler)")
class Mpi(MusterCase):
    def world_lines(self, p, word, n):
        """The '<word> rank=R size=S sum=X' lines of p by rank."""
        lines = worker_lines(p.out, "worker")
        got = {}
        for r, ls in lines.items():
            for l in ls:
                if l.startswith(word + " "):
                    got[r] = parse_kv_line(l)
        self.check("%d ranks printed their world" % n)
        self.expect_eq(sorted(got), list(range(n)), "ranks that printed", p)
        return got

    def expect_one_world(self, got, n, p):
        self.check("one world of %d: rank as muster's, size %d, sum %d"
                   % (n, n, n * (n + 1) // 2))
        for r, v in got.items():
            self.expect_eq(v["rank"], str(r), "MPI rank of muster rank %d" % r, p)
            self.expect_eq(v["size"], str(n), "MPI world size of rank %d" % r, p)
            self.expect_eq(v["sum"], str(n * (n + 1) // 2), "allreduce sum", p)

    def test_c_world_of_four(self):
        p = self.muster_run(["--mpi", "--nproc-per-node", "4", "--"]
                            + mpi_prog("mpi_world", "--expect", "4"))
        rc = p.wait()
        self.check("muster run --mpi of a C MPI program exits 0")
        self.expect_eq(rc, 0, "exit status", p)
        self.expect_one_world(self.world_lines(p, "mpi_world", 4), 4, p)

    def test_environment(self):
        # What the agent adds to an MPI rank's environment besides PMIx's
        # own variables: Open MPI's direct-launch marker, yielding when the
        # node runs more ranks than cores, and pml ob1 on a node without a
        # fabric device -- each unless the job set it.
        show = ('echo "NS=$PMIX_NAMESPACE RANK=$PMIX_RANK FLUX=$FLUX_JOB_ID '
                'YIELD=$OMPI_MCA_mpi_yield_when_idle PML=$OMPI_MCA_pml"')
        n = (os.cpu_count() or 1) + 1
        p = self.muster_run(["--mpi", "--nproc-per-node", str(n), "--rdzv-id",
                             "envjob", "--", "sh", "-c", show])
        self.expect_eq(p.wait(), 0, "exit status", p)
        lines = worker_lines(p.out, "worker")
        self.check("every rank: its PMIx namespace and rank, FLUX_JOB_ID = "
                   "namespace, yield_when_idle=1 (%d ranks)" % n)
        self.expect_eq(sorted(lines), list(range(n)), "ranks", p)
        fabric = os.path.isdir("/sys/class/infiniband") and os.listdir(
            "/sys/class/infiniband")
        for r, ls in lines.items():
            v = parse_kv_line(ls[0])
            self.expect_eq(v["NS"], "muster.envjob.1", "namespace", p)
            self.expect_eq(v["RANK"], str(r), "PMIX_RANK", p)
            self.expect_eq(v["FLUX"], "muster.envjob.1", "FLUX_JOB_ID", p)
            self.expect_eq(v["YIELD"], "1", "yield_when_idle", p)
            if not fabric:
                self.expect_eq(v["PML"], "ob1", "pml without a fabric", p)
        self.check("the job's own settings win")
        p = self.muster_run(["--mpi", "--nproc-per-node", "1", "--", "sh", "-c",
                             show],
                            env_extra={"OMPI_MCA_pml": "cm",
                                       "OMPI_MCA_mpi_yield_when_idle": "0"})
        self.expect_eq(p.wait(), 0, "exit status", p)
        v = parse_kv_line(worker_lines(p.out, "worker")[0][0])
        self.expect_eq((v["PML"], v["YIELD"]), ("cm", "0"), "job's settings", p)

    def test_without_mpi_flag_singletons(self):
        # The bug the flag fixes: without it each rank is an MPI world of
        # its own (Open MPI's singleton init), so this one must differ.
        p = self.muster_run(["--nproc-per-node", "2", "--"]
                            + mpi_prog("mpi_world"))
        p.wait()
        got = self.world_lines(p, "mpi_world", 2)
        self.check("without --mpi: two singleton worlds of size 1")
        self.expect_eq(sorted(v["size"] for v in got.values()), ["1", "1"],
                       "sizes", p)

    @unittest.skipUnless(have_mpi4py(), "python3-mpi4py is not installed")
    def test_mpi4py_world_of_four(self):
        prog = self.write_script("allreduce.py", MPI4PY_PROG)
        p = self.muster_run(["--mpi", "--nproc-per-node", "4", "--python", PY,
                             "--", prog])
        rc = p.wait()
        self.check("muster run --mpi of an mpi4py program exits 0")
        self.expect_eq(rc, 0, "exit status", p)
        self.expect_one_world(self.world_lines(p, "mpi4py", 4), 4, p)

    def test_two_nodes_one_world(self):
        d = self.musterd()
        # Two agents on one machine are two MPI nodes (named by node id):
        # their ranks meet over TCP, here on the loopback interface.  Open
        # MPI's shared-memory transport names its segments by host name
        # and local rank, which two "nodes" on one host would share: TCP
        # only (one agent per machine, the real layout, needs no such
        # setting).
        env = {"OMPI_MCA_btl": "tcp,self",
               "OMPI_MCA_btl_tcp_if_include": "lo"}
        nodes = []
        for i in range(2):
            args = ["--rdzv-endpoint", d.rdzv, "--nnodes", "2",
                    "--nproc-per-node", "2", "--rdzv-id", "mpi2",
                    "--node-id", "n%d" % i, "--connect-timeout", "20s",
                    "--mpi", "--"] + mpi_prog("mpi_world", "--expect", "4")
            nodes.append(self.muster_run(args, name="n%d" % i, env_extra=env))
        got = {}
        for n in nodes:
            rc = n.wait()
            self.check("node %s exits 0" % n.name)
            self.expect_eq(rc, 0, "exit status of %s" % n.name, n)
            for r, ls in worker_lines(n.out, "worker").items():
                for l in ls:
                    if l.startswith("mpi_world "):
                        got[r] = parse_kv_line(l)
        self.check("2 nodes x 2 ranks: ranks 0..3 each printed once")
        self.expect_eq(sorted(got), [0, 1, 2, 3], "ranks", *nodes)
        self.expect_one_world(got, 4, nodes[0])

    def test_abort_is_a_failure(self):
        p = self.muster_run(["--mpi", "--nproc-per-node", "2", "--"]
                            + mpi_prog("mpi_world", "--abort-rank", "1"))
        rc = p.wait()
        self.check("MPI_Abort on rank 1 fails the job, naming MPI_Abort")
        self.expect(rc != 0, "exit status 0 after MPI_Abort", p)
        self.expect("MPI_Abort (error code 7)" in p.err, "no MPI_Abort report", p)

    def test_mpi_without_pmix_clear_error(self):
        # An MPI that cannot use muster's PMIx server: here Open MPI told
        # to ignore it (pmix "isolated"); its MPI_Init fails alone.
        p = self.muster_run(["--mpi", "--nproc-per-node", "2", "--", "env",
                             "OMPI_MCA_pmix=isolated"] + mpi_prog("mpi_world"))
        rc = p.wait()
        self.check("a program whose MPI never connects: failure, clear error")
        self.expect(rc != 0, "exit status 0", p)
        self.expect("did not connect to muster's PMIx server" in p.err,
                    "no explanation of the missing PMIx connection", p)

    # -- examples/mpi_ctr: restarts from checkpoints

    CTR = ["--steps", "200", "--eval-every", "50"]

    def ctr_run(self, name, extra_args, ctr_extra=()):
        ck = os.path.join(self.tmp, "ck-" + name)
        return self.muster_run(["--mpi", "--nproc-per-node", "4",
                                "--rdzv-id", name, "--ckpt-dir", ck,
                                "--ckpt-every-steps", "10"] + list(extra_args)
                               + ["--"] + mpi_prog("mpi_ctr") + self.CTR
                               + list(ctr_extra), name=name)

    def ctr_done(self, p):
        """{rank: (checksum, auc)} of mpi_ctr's 'done' lines."""
        done = {}
        for r, ls in worker_lines(p.out, "worker").items():
            for l in ls:
                if l.startswith("done "):
                    v = l.split()
                    done[r] = (v[v.index("checksum") + 1], v[v.index("auc") + 1])
        return done

    _clean = None  # the uninterrupted run's (checksum, auc), run once

    def uninterrupted(self):
        if Mpi._clean is not None:
            return Mpi._clean
        p = self.ctr_run("ctr-clean", [])
        rc = p.wait()
        self.check("an uninterrupted mpi_ctr run of 4 ranks exits 0")
        self.expect_eq(rc, 0, "exit status", p)
        done = self.ctr_done(p)
        self.expect_eq(sorted(done), [0, 1, 2, 3], "ranks that finished", p)
        self.check("its ranks hold the same weights; it learned (AUC > 0.8)")
        self.expect_eq(len(set(done.values())), 1, "ranks disagree", p)
        self.expect(float(done[0][1]) > 0.8, "AUC %s" % done[0][1], p)
        Mpi._clean = done[0]
        return done[0]

    def expect_resumed_identical(self, p, clean):
        rc = p.wait(120)
        self.check("the job exits 0 after the restart")
        self.expect_eq(rc, 0, "exit status", p)
        self.check("a second epoch re-formed the MPI world under a new "
                   "namespace and restored a checkpoint")
        starts = re.findall(r"mpi_ctr: world 4, (starting|restored) at step "
                            r"(\d+) \(namespace (\S+)\)", p.out)
        self.expect_eq(len(starts), 2, "world starts", p)
        self.expect_eq(starts[1][0], "restored", "second start", p)
        self.expect(int(starts[1][1]) > 0, "restored at step 0", p)
        self.expect(starts[0][2] != starts[1][2] and starts[1][2].endswith(".2"),
                    "namespaces %s, %s" % (starts[0][2], starts[1][2]), p)
        done = self.ctr_done(p)
        self.check("every rank ends bit-identical to the uninterrupted run "
                   "(checksum %s)" % clean[0])
        self.expect_eq(sorted(done), [0, 1, 2, 3], "ranks that finished", p)
        for r, v in done.items():
            self.expect_eq(v, clean, "checksum and AUC of rank %d" % r, p)

    def test_ctr_crash_resumes_bit_identical(self):
        clean = self.uninterrupted()
        p = self.ctr_run("ctr-crash", ["--max-restarts", "1"],
                         ["--crash-at", "130", "--crash-rank", "2"])
        self.expect_resumed_identical(p, clean)

    def test_killed_rank_reforms_world(self):
        clean = self.uninterrupted()
        p = self.ctr_run("ctr-kill", ["--max-restarts", "1"],
                         ["--step-ms", "20"])
        self.wait_for(lambda: "step 100 train_loss" in p.out, 90,
                      "mpi_ctr to reach step 100")

        def rank1():
            for pid in tagged_pids(self.tag):
                try:
                    with open("/proc/%d/environ" % pid, "rb") as f:
                        env = f.read().split(b"\0")
                    with open("/proc/%d/comm" % pid, "rb") as f:
                        comm = f.read().strip()
                except OSError:
                    continue
                if comm == b"mpi_ctr" and b"MUSTER_RANK=1" in env:
                    return pid
            return None

        pid = self.wait_for(rank1, 10, "rank 1's pid")
        self.check("SIGKILL rank 1 (pid %d) mid-training" % pid)
        os.kill(pid, 9)
        self.expect_resumed_identical(p, clean)

    def test_mpi_in_place_refused(self):
        p = self.run_muster(["run", "--mpi", "--elastic-mode", "in-place",
                             "--", bin_path("mpi_world")])
        self.check("--mpi with --elastic-mode in-place is refused, saying why")
        self.expect(p.rc != 0, "accepted", p)
        self.expect("--mpi needs --elastic-mode restart" in p.err, "no reason", p)


if __name__ == "__main__":
    main()
