"""launchers.py -- what launch.py and recovery.py share: starting a set of
launchers back to back, each in its own session with its output in
<rdir>/launcher<N>.log, under a watchdog that kills their process groups
if they overrun, and the tail of a launcher's log for an error message.

Blocking Popen.wait() calls are used on purpose (Popen.wait with a timeout
polls with sleeps of up to 50 ms, which would blur the exit time); the
watchdog thread is what bounds them.  Also: a free port, and whether an
interpreter has torchrun.  Standard library only.
"""
import os
import signal
import socket
import subprocess
import sys
import threading
import time


def find_bin(given, repo, script):
    """The directory with muster and musterd: `given`, else build-bench/bin
    or build/bin of `repo`; exits naming `script` when there is none."""
    if given is None:
        for cand in ("build-bench/bin", "build/bin"):
            d = os.path.join(repo, cand)
            if os.path.exists(os.path.join(d, "muster")):
                given = d
                break
    if given is None or not os.path.exists(os.path.join(given, "muster")):
        sys.exit("%s: no muster binary; build first or pass --bin" % script)
    return os.path.abspath(given)


def have_torchrun(python):
    """Can `python` run torchrun (torch.distributed.run importable)?"""
    try:
        r = subprocess.run([python, "-c", "import torch.distributed.run"],
                           stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=120)
        return r.returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def free_port():
    """A TCP port of 127.0.0.1 that was free a moment ago."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class LauncherGroup:
    """Start every argv of `argvs` now; wait() for all of them."""

    def __init__(self, argvs, rdir, env, timeout):
        self.procs, self.logs = [], []
        self.expired = threading.Event()
        self.t0 = time.time()
        for i, argv in enumerate(argvs):
            log = open(os.path.join(rdir, "launcher%d.log" % i), "wb")
            self.logs.append(log)
            self.procs.append(subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, env=env, start_new_session=True))
        self.timer = threading.Timer(timeout, self._kill)
        self.timer.start()

    def _kill(self):
        self.expired.set()
        for p in self.procs:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGKILL)  # their own session
                except OSError:
                    pass

    def wait(self):
        """Wait for every launcher; returns the time the last one exited."""
        for p in self.procs:
            p.wait()
        t_exit = time.time()
        self.timer.cancel()
        for log in self.logs:
            log.close()
        return t_exit

    def failed(self, allowed=()):
        """[(index, exit code)] of the launchers that failed, except those
        whose index is in `allowed`."""
        return [(i, p.returncode) for i, p in enumerate(self.procs)
                if p.returncode and i not in allowed]


def log_tails(rdir, indexes, nbytes):
    """The last `nbytes` of the logs of launchers `indexes`, indented."""
    tail = ""
    for i in indexes:
        try:
            with open(os.path.join(rdir, "launcher%d.log" % i), "rb") as f:
                tail += "  launcher %d: %s\n" % (
                    i, f.read()[-nbytes:].decode(errors="replace")
                    .strip().replace("\n", "\n    "))
        except OSError:
            pass
    return tail
