#!/usr/bin/python3
"""The binding's surface, without a running job: every function of
<muster/worker.h> and <muster/error.h> is declared for ctypes and found in
libmuster; every muster error code has its exception class carrying the
code, name and muster_strerror's message; and the ways a Worker fails to
open are clear MusterErrors: not started by muster (NoEnvironment), no
agent (PeerLost at once for a missing ipc socket, TimedOut for an endpoint
nobody answers), bad arguments (InvalidArgument); a wrong $MUSTER_LIBRARY
is an ImportError naming it.  The library is found from build/python
without $MUSTER_LIBRARY."""
import os
import re
import subprocess
import sys
import tempfile
import unittest

from pyharness import PY_DIR, PYTHON, SRC_DIR, main

sys.path.insert(0, PY_DIR)
import muster  # noqa: E402
from muster import _lib, errors  # noqa: E402

HEADERS = [os.path.join(SRC_DIR, "include", "muster", h) for h in ("worker.h", "error.h")]


def clean_env():
    return {k: v for k, v in os.environ.items()
            if not k.startswith("MUSTER_") and k not in ("RANK", "WORLD_SIZE")}


def py(code, env):
    env = dict(env, PYTHONPATH=PY_DIR, PYTHONDONTWRITEBYTECODE="1")
    return subprocess.run([PYTHON, "-c", code], env=env, capture_output=True, text=True,
                          timeout=60)


class BindingApi(unittest.TestCase):
    def setUp(self):
        self.saved = dict(os.environ)
        clean = clean_env()
        os.environ.clear()
        os.environ.update(clean)

    def tearDown(self):
        os.environ.clear()
        os.environ.update(self.saved)

    def test_every_exported_function_is_declared(self):
        names = set()
        for h in HEADERS:
            with open(h) as f:
                text = f.read()
            names |= set(re.findall(r"MUSTER_EXPORT\s[^;(]*?\b(muster_\w+)\s*\(", text))
        self.assertGreaterEqual(len(names), 40, names)
        self.assertEqual(sorted(names), sorted(_lib.PROTOTYPES),
                         "functions of the headers vs the binding's prototypes")
        L = _lib.lib()
        for n in names:
            self.assertTrue(hasattr(L, n), n)

    def test_every_error_code_has_its_exception(self):
        with open(HEADERS[1]) as f:
            text = f.read()
        codes = re.findall(r'XX\((\w+), (\d+), "([^"]*)"\)', text)
        self.assertGreater(len(codes), 20)
        for name, off, msg in codes:
            code = -10000 - int(off)
            cls = errors.BY_CODE.get(code)
            self.assertIsNotNone(cls, "no exception class for MUSTER_%s" % name)
            self.assertTrue(issubclass(cls, muster.MusterError))
            self.assertIs(getattr(muster, cls.__name__), cls, "muster.%s" % cls.__name__)
            e = errors.error_for(code, "some_call", "detail")
            self.assertIsInstance(e, cls)
            self.assertEqual((e.code, e.name, e.strerror), (code, "MUSTER_" + name, msg))
            self.assertEqual(str(e), "some_call: %s (MUSTER_%s): detail" % (msg, name))
        e = errors.error_for(-12, "malloc")
        self.assertEqual((type(e), e.errno, e.name), (muster.MusterError, 12, "ENOMEM"))
        self.assertIsInstance(errors.error_for(-10008), TimeoutError)
        self.assertIsInstance(errors.error_for(-10010), KeyError)
        self.assertIsInstance(errors.error_for(-10012), ValueError)

    def test_not_started_by_muster(self):
        with self.assertRaises(muster.NoEnvironment) as cm:
            muster.Worker()
        self.assertIn("not started by muster", str(cm.exception))
        self.assertEqual(cm.exception.code, -10016)

    def job_env(self, endpoint):
        os.environ.update({"MUSTER_AGENT_ENDPOINT": endpoint, "MUSTER_JOB_ID": "j",
                           "RANK": "0", "MUSTER_EPOCH": "1"})

    def test_no_agent_is_a_clear_error(self):
        with tempfile.TemporaryDirectory() as d:
            self.job_env("ipc://%s/agent.sock" % d)
            with self.assertRaises(muster.PeerLost) as cm:
                muster.Worker()
            self.assertIn("MUSTER_EPEERLOST", str(cm.exception))
            self.assertIsInstance(cm.exception, ConnectionError)
            with self.assertRaises(muster.TimedOut) as cm:
                muster.Worker(endpoint="tcp://127.0.0.1:9", connect_timeout=0.3)
            self.assertIn("muster_worker_init: operation timed out", str(cm.exception))

    def test_bad_arguments(self):
        self.job_env("ipc:///nonexistent/agent.sock")
        for kw, text in [({"endpoint": 5}, "endpoint must be a non-empty str"),
                         ({"endpoint": ""}, "endpoint must be a non-empty str"),
                         ({"connect_timeout": -1}, "timeout must be >= 0"),
                         ({"connect_timeout": "1"}, "timeout must be a number")]:
            with self.assertRaises(muster.InvalidArgument) as cm:
                muster.Worker(**kw)
            self.assertIn(text, str(cm.exception))
        os.environ["RANK"] = "minus one"
        with self.assertRaises(muster.InvalidArgument):
            muster.Worker()

    def test_library_location(self):
        r = py("import muster._lib as l; print(l.lib()._name)", clean_env())
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.strip().startswith(os.path.dirname(PY_DIR)),
                        "found from the build tree: %r" % r.stdout)
        r = py("import muster; muster.strerror(0); import muster._lib as l; l.lib()",
               dict(clean_env(), MUSTER_LIBRARY="/nonexistent/libmuster.so"))
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("ImportError: muster: cannot load libmuster; tried: "
                      "/nonexistent/libmuster.so (no such file)", r.stderr)


if __name__ == "__main__":
    main()
