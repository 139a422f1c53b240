#!/usr/bin/python3
"""Scenario 1 — `muster run` with no endpoint: the embedded coordinator and
agent in one process run 4 workers; also the env_only example."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import MusterCase, SRC_DIR, main, parse_kv_line, worker_lines  # noqa: E402


class Embedded(MusterCase):
    def test_four_workers(self):
        p = self.muster_run(["--nproc-per-node", "4", "--", "sh", "-c",
                             'echo "RANK=$RANK WORLD_SIZE=$WORLD_SIZE '
                             'LOCAL_RANK=$LOCAL_RANK GROUP_RANK=$GROUP_RANK"'])
        rc = p.wait()
        self.check("muster run exits 0")
        self.expect_eq(rc, 0, "exit status", p)
        lines = worker_lines(p.out, "worker")
        self.check("ranks 0..3 each print exactly one line, under their own prefix")
        self.expect_eq(sorted(lines), [0, 1, 2, 3], "ranks seen", p)
        for rank, ls in lines.items():
            self.expect_eq(len(ls), 1, "lines of rank %d" % rank, p)
            v = parse_kv_line(ls[0])
            self.check("rank %d: RANK=%d WORLD_SIZE=4 LOCAL_RANK=%d GROUP_RANK=0"
                       % (rank, rank, rank))
            self.expect_eq(v, {"RANK": str(rank), "WORLD_SIZE": "4",
                               "LOCAL_RANK": str(rank), "GROUP_RANK": "0"},
                           "environment of rank %d" % rank, p)
        self.check("the launcher reports the success on stderr")
        self.expect("succeeded" in p.err, "no 'succeeded' in stderr", p)

    def test_env_only_example(self):
        hello = os.path.join(SRC_DIR, "examples", "env_only", "hello.sh")
        p = self.muster_run(["--nproc-per-node", "4", "--max-restarts", "2",
                             "--", hello])
        rc = p.wait()
        self.check("examples/env_only/hello.sh runs with 4 workers, exit 0")
        self.expect_eq(rc, 0, "exit status", p)
        lines = worker_lines(p.out, "worker")
        self.expect_eq(sorted(lines), [0, 1, 2, 3], "ranks seen", p)
        masters, run_ids = set(), set()
        for rank, ls in lines.items():
            self.expect_eq(len(ls), 1, "lines of rank %d" % rank, p)
            words = ls[0].split()
            self.check("rank %d prints its place from the environment alone" % rank)
            self.expect_eq(words[:8], ["rank", "%d/4" % rank, "local", "%d/4" % rank,
                                       "node", "0/1", "role", "worker[%d/4]" % rank],
                           "line of rank %d" % rank, p)
            self.expect_eq(words[8], "master", "line of rank %d" % rank, p)
            masters.add(words[9])
            self.expect_eq(words[10:12], ["restart", "0/2"], "restarts", p)
            self.expect_eq(words[12], "run", "line of rank %d" % rank, p)
            run_ids.add(words[13] if len(words) > 13 else "")
        self.check("every rank sees the same MASTER_ADDR:MASTER_PORT")
        self.expect_eq(len(masters), 1, "distinct masters %r" % masters, p)
        self.check("every rank sees the same non-empty TORCHELASTIC_RUN_ID")
        self.expect(len(run_ids) == 1 and "" not in run_ids, "run ids %r" % run_ids, p)


    def test_python_script_and_module(self):
        self.write_script("hello_py.py", "import os\nprint('py RANK=' + os.environ['RANK'])\n",
                          mode=0o644)
        p = self.muster_run(["--nproc-per-node", "2", "--", "hello_py.py"], cwd=self.tmp)
        self.check("a .py program runs with the Python interpreter (torchrun-style), "
                   "even without execute permission")
        self.expect_eq(p.wait(), 0, "exit status", p)
        self.expect_eq(worker_lines(p.out, "worker"), {0: ["py RANK=0"], 1: ["py RANK=1"]},
                       "worker output", p)
        q = self.muster_run(["--nproc-per-node", "2", "-m", "hello_py"], cwd=self.tmp)
        self.check("-m MODULE runs 'python3 -m MODULE'")
        self.expect_eq(q.wait(), 0, "exit status", q)
        self.expect_eq(worker_lines(q.out, "worker"), {0: ["py RANK=0"], 1: ["py RANK=1"]},
                       "worker output", q)


if __name__ == "__main__":
    main()
