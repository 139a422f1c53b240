"""pyharness.py — what the Python binding's tests share, over tests/harness.py.

The tests under tests/python/ run real workers written in Python
(tests/python/progs/) under `muster run`, with the build's package on
PYTHONPATH: $MUSTER_PY_DIR, which ctest sets to ${CMAKE_BINARY_DIR}/python,
else build/python of this source tree.  PyCase adds to MusterCase:

  * py_run(args, prog, prog_args): `muster run ARGS -- /usr/bin/python3
    tests/python/progs/PROG ARGS...` to completion;
  * lines(proc, prefix): {rank: [line, ...]} of the workers' lines that
    start with prefix (the rank taken from muster's "[worker R]" tag).
"""
import os
import sys

TESTS_PY = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(TESTS_PY))
from harness import SRC_DIR, MusterCase, main, worker_lines  # noqa: E402,F401

PY_DIR = os.path.abspath(os.environ.get("MUSTER_PY_DIR")
                         or os.path.join(os.environ.get("MUSTER_BUILD_DIR")
                                         or os.path.join(SRC_DIR, "build"), "python"))
PROGS = os.path.join(TESTS_PY, "progs")
PYTHON = "/usr/bin/python3"
PY_TIMEOUT = 240.0  # bounds a broken build; no test asserts on timings


def have_torch():
    try:
        import torch  # noqa: F401
        import torch.distributed  # noqa: F401
        return True
    except ImportError:
        return False


class PyCase(MusterCase):
    def setUp(self):
        super().setUp()
        if not os.path.exists(os.path.join(PY_DIR, "muster", "__init__.py")):
            self.fail("the muster package is not built in %s (set MUSTER_PY_DIR)"
                      % PY_DIR)
        self.env["PYTHONPATH"] = PY_DIR
        self.env["PYTHONDONTWRITEBYTECODE"] = "1"
        self.env["TMPDIR"] = self.tmp

    def py_run(self, args, prog, prog_args=(), timeout=PY_TIMEOUT, name=None):
        p = self.muster_run(list(args) + ["--", PYTHON, os.path.join(PROGS, prog)]
                            + [str(a) for a in prog_args], name=name)
        p.wait(timeout)
        return p

    def lines(self, p, prefix):
        out = {}
        for r, ls in worker_lines(p.out, "worker").items():
            got = [ln[len(prefix):].strip() for ln in ls if ln.startswith(prefix)]
            if got:
                out[r] = got
        return out
