#!/usr/bin/python3
"""Scenario 13 — the installed tree: `cmake --install` of the build gives a
prefix whose programs work on their own (muster run needs muster-exec beside
it, --nnodes needs muster-agent for pool nodes), with <muster/worker.h>,
<muster/error.h> and libmuster; examples/hello_gang builds against that
prefix alone with its own CMakeLists.txt and runs under the installed
muster.  Needs cmake and $MUSTER_BUILD_DIR (set by ctest); skipped, saying
SKIPPED and why, without them."""
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import MusterCase, SRC_DIR, main, worker_lines  # noqa: E402

BUILD = os.environ.get("MUSTER_BUILD_DIR") or os.path.join(SRC_DIR, "build")
CMAKE = shutil.which("cmake")


def skip_reason():
    if not CMAKE:
        return "cmake is not in PATH"
    if not os.path.exists(os.path.join(BUILD, "CMakeCache.txt")):
        return "no CMake build in %s (set MUSTER_BUILD_DIR)" % BUILD
    return ""


class Install(MusterCase):
    def setUp(self):
        why = skip_reason()
        if why:
            print("SKIPPED: install scenario: " + why, flush=True)
            self.skipTest(why)
        super().setUp()
        self.prefix = os.path.join(self.tmp, "prefix")
        self.cmd([CMAKE, "--install", BUILD, "--prefix", self.prefix], "cmake --install")

    def cmd(self, argv, what, env=None):
        r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=120, env=env)
        self.expect(r.returncode == 0, "%s failed (%d):\n%s\n%s"
                    % (what, r.returncode, r.stdout[-3000:], r.stderr[-3000:]))
        return r

    def test_installed_programs_run(self):
        want = ["bin/muster", "bin/musterd", "bin/muster-agent", "bin/muster-exec",
                "include/muster/worker.h", "include/muster/error.h"]
        missing = [f for f in want if not os.path.exists(os.path.join(self.prefix, f))]
        self.check("the prefix holds muster, musterd, muster-agent, muster-exec and the "
                   "public headers")
        self.expect_eq(missing, [], "missing from the installed tree")
        p = self.start("installed-run", [os.path.join(self.prefix, "bin", "muster"), "run",
                                         "--nproc-per-node", "2", "--", "sh", "-c",
                                         "echo RANK=$RANK"])
        self.check("the installed muster runs a job on its own: exit 0, ranks 0,1")
        self.expect_eq(p.wait(), 0, "exit status", p)
        self.expect_eq(sorted(worker_lines(p.out, "worker")), [0, 1], "ranks", p)

    def test_hello_gang_builds_against_the_prefix(self):
        libdir = next((d for d in ("lib", "lib64") if os.path.exists(
            os.path.join(self.prefix, d, "libmuster.so"))), None)
        self.check("the prefix holds libmuster.so")
        self.expect(libdir is not None, "no libmuster.so under %s" % self.prefix)
        src = os.path.join(SRC_DIR, "examples", "hello_gang")
        out = os.path.join(self.tmp, "hello_gang-build")
        self.check("examples/hello_gang configures and builds with only the prefix")
        cfg = [CMAKE, "-S", src, "-B", out, "-DCMAKE_PREFIX_PATH=" + self.prefix]
        if os.environ.get("MUSTER_SANITIZED") == "1":
            # libmuster carries the sanitizer runtime: so must the program
            # (ASan insists on coming first in the library list).
            cfg.append("-DCMAKE_C_FLAGS=-fsanitize=address,undefined")
        self.cmd(cfg, "configuring examples/hello_gang")
        self.cmd([CMAKE, "--build", out], "building examples/hello_gang")
        hello = os.path.join(out, "hello_gang")
        muster = os.path.join(self.prefix, "bin", "muster")
        if not os.access(os.path.join(self.prefix, "bin", "muster-exec"), os.X_OK):
            muster = os.path.join(os.environ.get("MUSTER_BIN", ""), "muster")
            self.check("(installed muster is incomplete: running with %s)" % muster)
        p = self.start("hello", [muster, "run", "--nproc-per-node", "2", "--", hello],
                       env_extra={"LD_LIBRARY_PATH": os.path.join(self.prefix, libdir)})
        self.check("the standalone hello_gang runs: greeting and barrier on ranks 0,1")
        self.expect_eq(p.wait(), 0, "exit status", p)
        lines = worker_lines(p.out, "worker")
        self.expect_eq(sorted(lines), [0, 1], "ranks", p)
        for r, ls in lines.items():
            self.expect("rank %d: passed the barrier" % r in ls, "rank %d's lines" % r, p)


if __name__ == "__main__":
    main()
