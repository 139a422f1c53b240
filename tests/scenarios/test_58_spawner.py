#!/usr/bin/python3
"""Scenario 58 — the agent's resident spawner (`muster-exec --serve`,
docs/architecture.md decision 110): the agent starts every worker's
supervisor by asking one long-lived helper to fork itself, instead of
exec'ing muster-exec per worker.  What a user sees:

- the spawner SIGKILLed while a job runs: no worker dies of it; the next
  epoch (a worker failed, --max-restarts 1) starts all again, the agent
  says it started the spawner again (SPAWNER-RESTART), and the job
  succeeds;
- a worker holds its stdin, stdout and stderr and no other descriptor
  (the spawner's socket, the agent's, or one the launcher inherited
  without close-on-exec);
- exit codes, signals and an exec failure reach the user exactly as
  without the spawner (MUSTER_SPAWNER=exec, the old path, in the same
  test: the same lines);
- a spawner that dies holding a request: that worker fails to start,
  and the launcher says the spawner died while starting it;
- muster run SIGKILLed: every worker and the spawner go (the harness's
  leftover check sees the spawner too: it carries the test's tag).

No timing is asserted."""
import os
import re
import signal
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import MusterCase, bin_path, main, worker_lines  # noqa: E402


def children(pid):
    out = []
    try:
        for t in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/children" % (pid, t)) as f:
                out += [int(c) for c in f.read().split()]
    except OSError:
        pass
    return out


def cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().split(b"\0")
    except OSError:
        return []


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class Spawner(MusterCase):
    def spawner_of(self, p):
        """The pid of the launcher's `muster-exec --serve` child, or None."""
        for c in children(p.pid):
            argv = cmdline(c)
            if len(argv) > 1 and argv[1] == b"--serve":
                return c
        return None

    def test_spawner_killed_mid_job(self):
        gate = os.path.join(self.tmp, "gate")
        os.mkfifo(gate)
        holder = os.open(gate, os.O_RDWR | os.O_NONBLOCK)
        # attempt 0: say "up PID", wait for the gate, rank 0 fails;
        # attempt 1: say "again" and succeed
        script = ('if [ "$MUSTER_RESTART_COUNT" = 0 ]; then '
                  'exec 3<"%s"; echo "up $RANK $$"; read -r x <&3; '
                  '[ "$RANK" = 0 ] && exit 1; exit 0; fi; '
                  'echo "again $RANK"' % gate)
        try:
            p = self.muster_run(["--log-level", "info", "--nproc-per-node",
                                 "3", "--max-restarts", "1", "--", "sh",
                                 "-c", script])

            def all_up():
                got = worker_lines(p.out, "worker")
                return not p.running() or sum(
                    1 for v in got.values() if v[:1] and
                    v[0].startswith("up ")) == 3
            self.wait_for(all_up, 60, "three workers up")
            self.expect(p.running(), "the launcher runs", p)
            pids = [int(v[0].split()[2]) for v in
                    worker_lines(p.out, "worker").values()]
            sp = self.spawner_of(p)
            self.check("the launcher has a spawner child (muster-exec "
                       "--serve): %s" % sp)
            self.expect(sp is not None, "a muster-exec --serve child", p)
            os.kill(sp, signal.SIGKILL)
            self.wait_for(lambda: not alive(sp), 10, "the spawner to die")
            self.check("the spawner SIGKILLed: the three workers still run")
            self.expect_eq([alive(x) for x in pids], [True] * 3,
                           "workers alive after the spawner's death", p)
        finally:
            os.close(holder)  # the gate opens: rank 0 fails, a new epoch
        rc = p.wait(timeout=120)
        self.check("epoch 2 started through a new spawner; the job succeeded")
        self.expect_eq(rc, 0, "exit status", p)
        self.expect("SPAWNER-RESTART" in p.err, "SPAWNER-RESTART logged", p)
        self.expect("SPAWN-FAILED" not in p.err, "no failed start", p)
        self.expect("succeeded: all 3 workers exited 0" in p.err,
                    "success line", p)
        got = worker_lines(p.out, "worker")
        self.expect_eq(sorted(r for r, v in got.items()
                              if "again %d" % r in v), [0, 1, 2],
                       "ranks of epoch 2", p)

    def test_worker_descriptors(self):
        # fd 7, open without close-on-exec in the launcher (a shell opens
        # it and execs muster run), must not reach the workers either
        p = self.start("muster-run-fd7", [
            "/bin/sh", "-c", 'exec 7</dev/null; exec "$@"', "sh",
            bin_path("muster"), "run", "--nproc-per-node", "2", "--", "ls",
            "/proc/self/fd"])
        rc = p.wait(timeout=60)
        self.expect_eq(rc, 0, "exit status", p)
        self.check("each worker's descriptors are 0, 1, 2 (and ls's own 3)")
        got = worker_lines(p.out, "worker")
        for rank in range(2):
            self.expect_eq(got.get(rank), ["0", "1", "2", "3"],
                           "rank %d's descriptors" % rank, p)

    def outcome(self, prog, env_extra=None):
        p = self.muster_run(["--nproc-per-node", "1", "--"] + prog,
                            env_extra=env_extra)
        rc = p.wait(timeout=60)
        lines = [re.sub(r"\d+\.\d+ s|pid \d+", "", ln)
                 for ln in p.err.splitlines()
                 if "rank 0" in ln or "cannot run" in ln]
        return rc, lines, p

    def test_same_outcome_as_exec(self):
        # an executable whose interpreter is missing: the launcher finds
        # the program, its exec fails in the supervisor ("cannot run")
        bad = self.write_script("bad-interp", "#!/nonexistent/interp\n")
        for prog, what in ((["sh", "-c", "exit 3"], "exit 3"),
                           (["sh", "-c", "kill -USR1 $$"], "SIGUSR1"),
                           ([bad], "a program that cannot be exec'd")):
            rc, lines, p = self.outcome(prog)
            rc2, lines2, p2 = self.outcome(prog, {"MUSTER_SPAWNER": "exec"})
            self.check("%s: exit status %d and the same lines with and "
                       "without the spawner" % (what, rc))
            self.expect(rc != 0, "a failed job's exit status", p)
            self.expect_eq(rc, rc2, "exit status (spawner, exec)", p, p2)
            self.expect(lines != [], "the launcher names rank 0", p)
            self.expect_eq(lines, lines2, "rank 0's lines (spawner, exec)",
                           p, p2)

    def test_spawner_lost_with_a_request(self):
        # muster run copied beside a muster-exec whose server reads one
        # request and exits without answering (the agent finds
        # muster-exec beside its own program)
        bindir = os.path.join(self.tmp, "bin")
        os.mkdir(bindir)
        with open(bin_path("muster"), "rb") as f, \
                open(os.path.join(bindir, "muster"), "wb") as g:
            g.write(f.read())
        os.chmod(os.path.join(bindir, "muster"), 0o755)
        self.write_script("bin/muster-exec",
                          '#!/bin/sh\nif [ "$1" = --serve ]; then '
                          'exec head -c 1 <&3 >/dev/null; fi\n'
                          'exec "%s" "$@"\n' % bin_path("muster-exec"))
        p = self.start("muster-run-lost", [
            os.path.join(bindir, "muster"), "run", "--nproc-per-node", "1",
            "--", "true"])
        rc = p.wait(timeout=60)
        self.check("the worker's start fails, naming the spawner (exit %d)"
                   % rc)
        self.expect(rc != 0, "a failed job's exit status", p)
        self.expect("cannot start true: the spawner (muster-exec --serve) "
                    "died while starting it" in p.err,
                    "the reason of the failed start", p)

    def test_sigkill_to_muster_run(self):
        p = self.muster_run(["--nproc-per-node", "3", "--", "sh", "-c",
                             'echo "ready $$"; exec sleep 100'])
        self.wait_for(lambda: not p.running() or len(
            worker_lines(p.out, "worker")) == 3, 60, "three workers")
        sp = self.spawner_of(p)
        self.expect(sp is not None, "a muster-exec --serve child", p)
        p.signal(signal.SIGKILL)
        rc = p.wait(30)
        self.expect_eq(rc, -signal.SIGKILL, "exit status", p)
        self.check("muster run SIGKILLed: the spawner goes with it")
        self.wait_for(lambda: not alive(sp), 10, "the spawner to end")
        self.assert_no_process_left(
            what="SIGKILL to muster run (workers and the spawner)")


if __name__ == "__main__":
    main()
