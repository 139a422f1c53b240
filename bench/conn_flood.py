#!/usr/bin/python3
"""conn_flood.py — what a flood of stalled TCP connections does to musterd.

Starts one musterd on 127.0.0.1 (ephemeral ports; optionally under a lower
RLIMIT_NOFILE with --nofile, the way most machines start it: soft limit
1024), then opens stalled connections (connect, send nothing) to its agent
port and/or control port in steps, and after each step records musterd's
RSS (/proc/PID/status VmRSS), its open descriptors (/proc/PID/fd) and
whether a ctl.status request on the control port is answered within
--answer-timeout seconds.  Everything is bounded: at most --max (20,000)
connections, only to 127.0.0.1, every connection closed and musterd
stopped (SIGTERM, then SIGKILL, by pid) at the end.  Figures go to stdout
as one line per step; docs/benchmarks.md quotes them.

Usage: bench/conn_flood.py [--bin build/bin] [--steps 1000,5000,19000]
                           [--port agent|ctl|both] [--nofile SOFT[:HARD]]
                           [--hold SECONDS] [--extra "musterd flags"]
"""
import argparse
import os
import resource
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))
import harness  # noqa: E402  (msgpack codec, zmq_request)

MAX_CONNS = 20000


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def nfds(pid):
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        return -1


def cpu_s(pid):
    """musterd's CPU time so far (user + system), seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def status_answers(ctl_ep, timeout):
    t0 = time.monotonic()
    try:
        rep = harness.ctl_call(ctl_ep, {"t": "ctl.status"}, timeout=timeout)
    except Exception as e:  # noqa: BLE001 - report, do not crash the bench
        return "error %s" % e, time.monotonic() - t0
    return ("yes" if rep is not None else "NO"), time.monotonic() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(HERE, "..", "build", "bin"))
    ap.add_argument("--steps", default="1000,5000,10000,19000")
    ap.add_argument("--port", choices=("agent", "ctl", "both"), default="both")
    ap.add_argument("--nofile", default="",
                    help="musterd's RLIMIT_NOFILE, SOFT[:HARD] (default: inherit)")
    ap.add_argument("--hold", type=float, default=2.0,
                    help="seconds to wait after each step before measuring")
    ap.add_argument("--answer-timeout", type=float, default=5.0)
    ap.add_argument("--extra", default="", help="more musterd flags")
    a = ap.parse_args()
    steps = sorted(min(int(s), MAX_CONNS) for s in a.steps.split(","))
    if not harness.have_pyzmq() and not os.environ.get("MUSTER_TEST_ZMQ_PROBE"):
        probe = os.path.join(a.bin, "..", "tests", "zmq_probe")
        os.environ["MUSTER_TEST_ZMQ_PROBE"] = os.path.abspath(probe)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = steps[-1] + 64
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(need, hard), hard))
    tmp = tempfile.mkdtemp(prefix="muster-flood-")
    epf = os.path.join(tmp, "endpoints")
    argv = [os.path.join(a.bin, "musterd"), "--agent-bind", "tcp://127.0.0.1:0",
            "--ctl-bind", "tcp://127.0.0.1:0", "--endpoints-file", epf,
            # its keys and token here, never in the default state
            # directory (/var/lib/muster for root)
            "--state-dir", os.path.join(tmp, "state"),
            "--log-level", "info"] + shlex.split(a.extra)
    if a.nofile:
        soft_s, _, hard_s = a.nofile.partition(":")
        argv = ["prlimit", "--nofile=%s:%s" % (soft_s, hard_s or soft_s),
                "--"] + argv
    err = open(os.path.join(tmp, "musterd.err"), "wb")
    d = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=err, stderr=err)
    conns = []
    try:
        deadline = time.monotonic() + 15
        eps = {}
        while time.monotonic() < deadline and "ctl" not in eps:
            if os.path.exists(epf):
                with open(epf) as f:
                    eps = dict(line.split() for line in f if len(line.split()) == 2)
            time.sleep(0.05)
        if "ctl" not in eps:
            sys.exit("musterd did not come up")
        ports = {k: int(eps[k].rsplit(":", 1)[1]) for k in ("agent", "ctl")}
        targets = ([ports["agent"], ports["ctl"]] if a.port == "both"
                   else [ports[a.port]])
        ans, dt = status_answers(eps["ctl"], a.answer_timeout)
        print("conns=0 rss_kib=%d fds=%d status_answered=%s in %.2fs"
              % (rss_kib(d.pid), nfds(d.pid), ans, dt), flush=True)
        failed = 0
        for step in steps:
            while len(conns) < step:
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.setblocking(False)
                try:
                    s.connect_ex(("127.0.0.1", targets[len(conns) % len(targets)]))
                except OSError:
                    failed += 1
                conns.append(s)
            c0 = cpu_s(d.pid)
            time.sleep(a.hold)
            cpu = cpu_s(d.pid) - c0
            ans, dt = status_answers(eps["ctl"], a.answer_timeout)
            print("conns=%d rss_kib=%d fds=%d status_answered=%s in %.2fs "
                  "cpu_during_hold=%.1fs/%.0fs connect_errors=%d musterd_alive=%s"
                  % (len(conns), rss_kib(d.pid), nfds(d.pid), ans, dt, cpu,
                     a.hold, failed, d.poll() is None), flush=True)
        for s in conns:
            s.close()
        conns = []
        time.sleep(a.hold)
        ans, dt = status_answers(eps["ctl"], a.answer_timeout)
        print("closed: rss_kib=%d fds=%d status_answered=%s in %.2fs"
              % (rss_kib(d.pid), nfds(d.pid), ans, dt), flush=True)
    finally:
        for s in conns:
            s.close()
        if d.poll() is None:
            d.send_signal(signal.SIGTERM)
            try:
                d.wait(10)
            except subprocess.TimeoutExpired:
                d.kill()
                d.wait(10)
        err.close()
        with open(os.path.join(tmp, "musterd.err"), errors="replace") as f:
            lines = f.read().splitlines()
        print("musterd log (%d lines), last 8:" % len(lines))
        for line in lines[-8:]:
            print("  " + line)
        subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    main()
