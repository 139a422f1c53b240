#!/usr/bin/python3
"""Scenario 11 — bad command lines: exit 2 with a message naming the
problem, and nothing started (muster-exec: exit 125, its --help exits 0)."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import MusterCase, bin_path, main  # noqa: E402

# (argv after the program name, text the message must contain)
MUSTER_CASES = [
    (["run", "--bogus-flag", "--", "true"], "--bogus-flag"),
    (["run", "--rdzv-endpoint", "127.0.0.1:1", "--nnodes", "3:2", "--", "true"], "3:2"),
    (["run", "--nnodes", "x", "--", "true"], "--nnodes 'x'"),
    (["run", "--nnodes", "0", "--", "true"], "--nnodes '0'"),
    (["run", "--nnodes", ":3", "--", "true"], "--nnodes ':3'"),
    (["run", "--nnodes", "2:", "--", "true"], "--nnodes '2:'"),
    (["run", "--nnodes"], "--nnodes"),
    (["run", "--nproc-per-node", "2", "--"], "no program"),
    (["run", "--nproc-per-node", "2"], "no program"),
    (["run"], "no program"),
    (["run", "--nproc-per-node", "0", "--", "true"], "--nproc-per-node '0'"),
    (["run", "--nproc-per-node", "two", "--", "true"], "--nproc-per-node 'two'"),
    (["run", "--rdzv-endpoint", "127.0.0.1", "--", "true"], "'127.0.0.1'"),
    (["run", "--rdzv-endpoint", "127.0.0.1:", "--", "true"], "'127.0.0.1:'"),
    (["run", "--rdzv-endpoint", "127.0.0.1:99999", "--", "true"], "'127.0.0.1:99999'"),
    (["run", "--rdzv-endpoint", ":29400", "--", "true"], "':29400'"),
    (["run", "--last-call", "soon", "--", "true"], "soon"),
    (["run", "--connect-timeout", "-1", "--", "true"], "--connect-timeout"),
    (["run", "--elastic-mode", "sideways", "--", "true"], "sideways"),
    (["run", "--nnodes", "2", "--", "true"], "--rdzv-endpoint"),
    (["run", "--host", "--", "true"], "--host"),
    (["run", "--log-level", "loud", "--", "true"], "loud"),
    (["run", "--quiet=yes", "--", "true"], "--quiet=yes"),
    (["frobnicate"], "frobnicate"),
    ([], "usage"),
]

MUSTERD_CASES = [
    (["--bogus-option", "x"], "bogus-option"),
    # An unknown flag without a value is still an unknown flag, not one
    # that "needs a value".
    (["--bogus-option"], "unknown option"),
    (["stray"], "stray"),
    (["--heartbeat", "0"], "heartbeat"),
    (["--miss-limit", "many"], "many"),
    (["--log-level", "loud"], "loud"),
]

AGENT_CASES = [
    ([], "--coordinator"),
    (["--coordinator", "tcp://127.0.0.1:1", "--bogus", "x"], "--bogus"),
    (["--coordinator", "tcp://127.0.0.1:1", "--slots", "0"], "--slots"),
    (["--coordinator"], "--coordinator"),
    (["--coordinator", "tcp://127.0.0.1:1", "--bogus"], "unknown option"),
]

# muster-exec's own usage errors exit 125 (like env(1)): 1-124 and 126/127
# are the program's or the exec's.
EXEC_CASES = [
    ([], "usage"),
    (["--bogus", "true"], "unknown option"),
    (["--uid", "65534", "--", "true"], "--gid"),
    (["--uid", "nobody", "--gid", "1", "--", "true"], "numeric uid"),
    (["--cwd", "/", "--", "true"], "only for --uid"),
    (["--uid"], "needs a value"),
]


class CliErrors(MusterCase):
    def run_cases(self, prog, cases):
        for args, needle in cases:
            p = self.start("%s-%d" % (prog, len(self.procs)), [bin_path(prog)] + args)
            rc = p.wait(20)
            shown = " ".join(args) or "(no arguments)"
            self.check("%s %s -> exit 2, message mentions %r" % (prog, shown, needle))
            self.expect_eq(rc, 2, "exit status of %s %s" % (prog, shown), p)
            self.expect(needle in p.err, "%r not in the message of %s %s"
                        % (needle, prog, shown), p)

    def test_muster(self):
        self.run_cases("muster", MUSTER_CASES)

    def test_musterd(self):
        self.run_cases("musterd", MUSTERD_CASES)

    def test_muster_agent(self):
        self.run_cases("muster-agent", AGENT_CASES)

    def test_muster_exec(self):
        p = self.start("exec-help", [bin_path("muster-exec"), "--help"])
        self.check("muster-exec --help prints its usage and exits 0 (it does "
                   "not try to run '--help')")
        self.expect_eq(p.wait(20), 0, "exit status of muster-exec --help", p)
        self.expect("usage: muster-exec" in p.out and "--uid" in p.out,
                    "usage on stdout", p)
        for args, needle in EXEC_CASES:
            p = self.start("exec-%d" % len(self.procs),
                           [bin_path("muster-exec")] + args)
            shown = " ".join(args) or "(no arguments)"
            self.check("muster-exec %s -> exit 125, message mentions %r"
                       % (shown, needle))
            self.expect_eq(p.wait(20), 125, "exit status of muster-exec %s"
                           % shown, p)
            self.expect(needle in p.err, "%r not in the message" % needle, p)


if __name__ == "__main__":
    main()
