#!/usr/bin/python3
"""Scenario 29 — a console that is not read never stalls the launcher.
`muster run ... | (sleep 8; cat)`: for 8 s nobody reads the launcher's
stdout while 4 workers write megabytes to it.  The launcher keeps its loop
running (no lost coordinator, no restart), holds the workers back instead
of dropping lines (they block in write), says once on stderr that stdout
is not being read, and when the reader wakes up every line arrives,
whole and in each worker's order.  The same for a terminal nobody reads
(a pseudo-terminal whose master is not read for 8 s)."""
import os
import pty
import select
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import MusterCase, bin_path, main, worker_lines  # noqa: E402

NRANKS = 4
NLINES = 20000  # about 1.6 MB per rank: past the 4 MiB the launcher queues
STALL = 8

SPEW = r'''
i=0
while [ $i -lt %d ]; do
  echo "rank $RANK line $i ......................................................"
  i=$((i+1))
done
''' % NLINES

HELD = "stdout is not being read; worker output is held back"


class SlowConsole(MusterCase):
    def expect_no_restart(self, err, *p):
        self.check("one epoch, no restart, no lost coordinator")
        self.expect("epoch 1: %d worker(s)" % NRANKS in err, "epoch 1:\n"
                    + err[-3000:], *p)
        for bad in ("epoch 2", "restarted", "COORD-LOST", "NODE-LOST"):
            self.expect(bad not in err, "%r in the launcher's stderr:\n%s"
                        % (bad, err[-3000:]), *p)

    def expect_all_lines(self, text, *p):
        self.check("every line of every rank arrived, in order")
        got = worker_lines(text, "worker")
        self.expect_eq(sorted(got), list(range(NRANKS)), "ranks", *p)
        for r in range(NRANKS):
            want = ["rank %d line %d ......................................"
                    "................" % (r, i) for i in range(NLINES)]
            self.expect(got[r] == want, "rank %d: %d lines, first difference "
                        "at %s" % (r, len(got[r]), next(
                            (i for i, (a, b) in enumerate(zip(got[r], want))
                             if a != b), min(len(got[r]), NLINES))), *p)

    def test_stalled_pipe(self):
        script = self.write_script("spew.sh", SPEW)
        out = os.path.join(self.tmp, "console.out")
        err = os.path.join(self.tmp, "console.err")
        rcf = os.path.join(self.tmp, "console.rc")
        cmd = ('{ "$0" run --nproc-per-node %d -- sh "$1" 2>"$2"; echo $? >"$3"; }'
               ' | (sleep %d; cat) >"$4"' % (NRANKS, STALL))
        p = self.start("pipeline", ["sh", "-c", cmd, bin_path("muster"), script,
                                    err, rcf, out])
        self.expect_eq(p.wait(timeout=120), 0, "pipeline status", p)
        with open(rcf) as f:
            rc = int(f.read().strip())
        with open(err) as f:
            errtext = f.read()
        with open(out) as f:
            outtext = f.read()
        self.check("muster run exits 0")
        self.expect(rc == 0, "exit status %d; stderr:\n%s" % (rc, errtext[-3000:]), p)
        self.expect_no_restart(errtext, p)
        self.check("the stall is reported, once")
        self.expect(errtext.count(HELD) == 1, "report of the stall:\n%s"
                    % errtext[-3000:], p)
        self.expect_all_lines(outtext, p)

    def test_unread_terminal(self):
        script = self.write_script("spew.sh", SPEW)
        master, slave = pty.openpty()
        env = dict(self.env)
        err = os.path.join(self.tmp, "tty.err")
        with open(err, "wb") as ef:
            import subprocess
            proc = subprocess.Popen([bin_path("muster"), "run", "--nproc-per-node",
                                     str(NRANKS), "--", "sh", script],
                                    stdin=subprocess.DEVNULL, stdout=slave,
                                    stderr=ef, env=env, cwd=self.tmp)
        os.close(slave)
        try:
            time.sleep(STALL)  # nobody reads the terminal meanwhile
            chunks = []
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                r, _, _ = select.select([master], [], [], 0.2)
                if r:
                    try:
                        data = os.read(master, 65536)
                    except OSError:
                        data = b""
                    if not data:
                        break
                    chunks.append(data)
                elif proc.poll() is not None:
                    # exited and nothing more to read
                    r, _, _ = select.select([master], [], [], 0.5)
                    if not r:
                        break
            rc = proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            os.close(master)
        text = b"".join(chunks).decode(errors="replace").replace("\r\n", "\n")
        with open(err) as f:
            errtext = f.read()
        self.check("muster run on an unread terminal exits 0")
        self.expect(rc == 0, "exit status %d; stderr:\n%s" % (rc, errtext[-3000:]))
        self.expect_no_restart(errtext)
        self.check("the stall is reported")
        self.expect(HELD in errtext, "report of the stall:\n%s" % errtext[-3000:])
        self.expect_all_lines(text)


if __name__ == "__main__":
    main()
