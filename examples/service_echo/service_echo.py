#!/usr/bin/python3
"""service_echo.py — one replica of a service job (kind: service): a TCP
echo server that reports its load to muster, which restarts it alone when
it fails, updates it one replica at a time (`muster update`) and scales
the service from the load (autoscale_target in the job spec).

    muster submit examples/service_echo/service.yaml

Each replica listens on 127.0.0.1 at $PORT_BASE + its rank (PORT_BASE
defaults to 0: an ephemeral port, printed) and answers every line with
"GREETING line" ($GREETING, default "echo").  Once a second it reports its
load: the lines it served in the last second, or, when the file
$SERVICE_LOAD_FILE exists, the number written in it (a way to try the
autoscaler by hand).  $SERVICE_EVENTS, when set, is a file each replica
appends "start RANK PID GREETING" and "stop RANK PID" lines to (the
scenario test reads them to check that replicas are restarted one at a
time).
"""
import os
import select
import signal
import socket
import sys
import time

import muster

GREETING = os.environ.get("GREETING", "echo")
EVENTS = os.environ.get("SERVICE_EVENTS")
LOAD_FILE = os.environ.get("SERVICE_LOAD_FILE")


def note(line):
    if EVENTS:
        with open(EVENTS, "a") as f:
            f.write(line + "\n")


def load_override():
    if not LOAD_FILE:
        return None
    try:
        with open(LOAD_FILE) as f:
            return float(f.read().strip() or "0")
    except (OSError, ValueError):
        return None


def main():
    w = muster.Worker()
    rank = w.rank
    note("start %d %d %s" % (rank, os.getpid(), GREETING))

    def on_term(signum, frame):
        note("stop %d %d" % (rank, os.getpid()))
        w.close()
        sys.exit(0)

    signal.signal(signal.SIGTERM, on_term)
    base = int(os.environ.get("PORT_BASE", "0"))
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", base + rank if base else 0))
    srv.listen(16)
    print("replica %d (pid %d) serving on port %d, greeting %r"
          % (rank, os.getpid(), srv.getsockname()[1], GREETING), flush=True)
    conns = []
    served = 0
    last = time.monotonic()
    while True:
        r, _, _ = select.select([srv] + conns, [], [], 0.2)
        for s in r:
            if s is srv:
                c, _ = s.accept()
                conns.append(c)
                continue
            data = s.recv(4096)
            if not data:
                conns.remove(s)
                s.close()
                continue
            for line in data.decode(errors="replace").splitlines():
                s.sendall(("%s %s\n" % (GREETING, line)).encode())
                served += 1
        now = time.monotonic()
        if now - last >= 1.0:
            forced = load_override()
            w.report_load(forced if forced is not None else served / (now - last))
            served = 0
            last = now


if __name__ == "__main__":
    main()
