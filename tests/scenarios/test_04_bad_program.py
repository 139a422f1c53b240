#!/usr/bin/python3
"""Scenario 4 — a program that cannot run: missing (exit 127, named), not
executable (refused before anything starts), or passing the launcher's check
but failing at exec (every worker fails with a clear message, the job fails
with the shell's code)."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import MusterCase, main, worker_lines  # noqa: E402


class BadProgram(MusterCase):
    def test_missing_program_in_path(self):
        prog = "no-such-program-" + self.tag
        p = self.muster_run(["--nproc-per-node", "2", "--", prog, "arg"])
        rc = p.wait(30)
        self.check("a program not in PATH: exit 127")
        self.expect_eq(rc, 127, "exit status", p)
        self.check("the message names the program")
        self.expect(prog in p.err and "not found" in p.err, "message", p)
        self.check("no worker was started")
        self.expect_eq(worker_lines(p.out + p.err), {}, "worker output", p)

    def test_missing_program_by_path(self):
        prog = os.path.join(self.tmp, "nowhere", "prog")
        p = self.muster_run(["--", prog])
        rc = p.wait(30)
        self.check("a path that does not exist: exit 127, named")
        self.expect_eq(rc, 127, "exit status", p)
        self.expect(prog in p.err and "not found" in p.err, "message", p)

    def test_missing_program_multinode(self):
        d = self.musterd()
        prog = "no-such-program-" + self.tag
        n = self.node(d, "bp0", [prog], "1", 1, "badprog")
        rc = n.wait(30)
        self.check("a missing program on a joining node: exit 127, named")
        self.expect_eq(rc, 127, "exit status", n)
        self.expect(prog in n.err, "message", n)

    def test_not_executable_file(self):
        path = self.write_script("plain.sh", "#!/bin/sh\necho hi\n", mode=0o644)
        p = self.muster_run(["--nproc-per-node", "2", "--", path])
        rc = p.wait(30)
        self.check("a file without execute permission is refused with a clear "
                   "error (126 or 127), nothing started")
        self.expect(rc in (126, 127), "exit status %r" % rc, p)
        self.expect(path in p.err and "not executable" in p.err, "message", p)
        self.expect_eq(worker_lines(p.out + p.err), {}, "worker output", p)

    def test_directory(self):
        p = self.muster_run(["--", self.tmp])
        rc = p.wait(30)
        self.check("a directory is refused with a clear error")
        self.expect(rc in (126, 127), "exit status %r" % rc, p)
        self.expect(self.tmp in p.err, "message", p)

    def test_exec_fails_bad_interpreter(self):
        # Executable, so the launcher's check passes; exec fails (ENOENT
        # for the interpreter), as a shell would say: 127.
        path = self.write_script("badinterp.sh", "#!/nonexistent/interpreter\necho hi\n")
        p = self.muster_run(["--nproc-per-node", "2", "--", path])
        rc = p.wait(30)
        self.check("exec of a script with a missing interpreter fails: exit 127")
        self.expect_eq(rc, 127, "exit status", p)
        lines = worker_lines(p.err, "worker")
        self.check("each started worker reports 'cannot run' naming the program")
        self.expect(lines, "no worker stderr line", p)
        for r, ls in lines.items():
            self.expect(any("cannot run" in l and path in l for l in ls),
                        "rank %d's message" % r, p)
        self.check("the root cause names a rank and code 127, with its stderr")
        self.expect("root cause: rank" in p.err and "exited with code 127" in p.err,
                    "root cause line", p)
        self.expect("muster:   | muster-exec: cannot run" in p.err,
                    "stderr tail in the root cause", p)

    def test_exec_fails_permission(self):
        # The interpreter exists but may not be executed: EACCES, 126.
        interp = self.write_script("interp", "not a program\n", mode=0o644)
        path = self.write_script("badperm.sh", "#!%s\necho hi\n" % interp)
        p = self.muster_run(["--", path])
        rc = p.wait(30)
        self.check("exec failing with EACCES: exit 126 and 'cannot run' named")
        self.expect_eq(rc, 126, "exit status", p)
        self.expect("cannot run '%s'" % path in p.err, "message", p)


if __name__ == "__main__":
    main()
