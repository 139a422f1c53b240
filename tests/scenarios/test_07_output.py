#!/usr/bin/python3
"""Scenario 7 — worker output: every line a worker writes to stdout or
stderr comes out on the launcher's stdout or stderr as one whole line
prefixed "[worker R] ", in the order the worker wrote it; partial lines
written slowly are joined, a last line without newline is completed, and 4
workers writing many lines fast never interleave within a line."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import MusterCase, WORKER_LINE, main  # noqa: E402

NLINES = 3000

# The worker: rank 0 writes lines in pieces with pauses in between; the
# others write NLINES lines per stream fast, some one write per line, some
# in 8 KiB writes that cut lines anywhere.  Every line names its rank, stream
# and number, and carries a rank-specific filler, so a line cut, merged or
# mixed with another rank's is detected.
WORKER = r'''
import os, sys, time
rank = int(os.environ["RANK"])
fill = chr(ord("a") + rank) * (40 + 13 * rank)
def line(stream, i):
    return "%s %d %d %s|\n" % (stream, rank, i, fill)
def out(fd, data):
    data = data.encode()
    while data:
        n = os.write(fd, data)
        data = data[n:]
if rank == 0:
    for i in range(5):
        for fd, name in ((1, "out"), (2, "err")):
            text = line(name, i)
            for piece in (text[:3], text[3:20], text[20:]):
                out(fd, piece)
                time.sleep(0.02)
    out(1, "out 0 last no-newline")
    out(2, "err 0 last no-newline")
    sys.exit(0)
for fd, name in ((1, "out"), (2, "err")):
    if rank % 2:
        for i in range(%(n)d):
            out(fd, line(name, i))
    else:
        blob = "".join(line(name, i) for i in range(%(n)d))
        for k in range(0, len(blob), 8192):
            out(fd, blob[k:k + 8192])
'''.replace("%(n)d", str(NLINES))


def expected(rank, stream):
    fill = chr(ord("a") + rank) * (40 + 13 * rank)
    if rank == 0:
        return (["%s 0 %d %s|" % (stream, i, fill) for i in range(5)]
                + ["%s 0 last no-newline" % stream])
    return ["%s %d %d %s|" % (stream, rank, i, fill) for i in range(NLINES)]


class Output(MusterCase):
    def test_prefixed_whole_lines(self):
        script = self.write_script("writer.py", WORKER)
        p = self.muster_run(["--nproc-per-node", "4", "--no-python", "--",
                             sys.executable, script])
        rc = p.wait()
        self.check("the job exits 0")
        self.expect_eq(rc, 0, "exit status", p)
        for stream, text in (("out", p.out), ("err", p.err)):
            got = {}
            for line in text.splitlines():
                if stream == "err" and line.startswith("muster: "):
                    continue  # the launcher's own messages
                m = WORKER_LINE.match(line)
                self.expect(m is not None and m.group(1) == "worker",
                            "std%s line without a worker prefix: %r" % (stream, line[:200]), p)
                got.setdefault(int(m.group(2)), []).append(m.group(3))
            self.check("std%s: lines of ranks 0..3 only" % stream)
            self.expect_eq(sorted(got), [0, 1, 2, 3], "ranks on std" + stream, p)
            for rank in range(4):
                want = expected(rank, stream)
                lines = got[rank]
                self.check("std%s of rank %d: all %d lines whole, in order, under "
                           "'[worker %d] '" % (stream, rank, len(want), rank))
                if lines != want:
                    bad = next((i for i, (a, b) in enumerate(zip(lines, want)) if a != b),
                               min(len(lines), len(want)))
                    self.fail("std%s of rank %d differs at line %d of %d/%d:\n got  %r\n"
                              " want %r" % (stream, rank, bad, len(lines), len(want),
                                            lines[bad] if bad < len(lines) else None,
                                            want[bad] if bad < len(want) else None))


    def test_long_line_in_pieces(self):
        n = 150000
        prog = ("import sys; sys.stdout.write('L' * %d + '\\n'); "
                "sys.stdout.write('after\\n')" % n)
        p = self.muster_run(["--", sys.executable, "-c", prog])
        self.expect_eq(p.wait(), 0, "exit status", p)
        pieces = []
        for line in p.out.splitlines():
            m = WORKER_LINE.match(line)
            self.expect(m is not None, "line without prefix: %r" % line[:100], p)
            pieces.append(m.group(3))
        self.check("a %d-byte line comes out in prefixed pieces of at most 64 KiB, "
                   "nothing lost, then the next line" % n)
        self.expect(len(pieces) >= 3, "%d pieces" % len(pieces), p)
        self.expect_eq(pieces[-1], "after", "line after the long one", p)
        self.expect(all(len(x) <= 65536 for x in pieces), "piece sizes %r"
                    % [len(x) for x in pieces], p)
        self.expect_eq("".join(pieces[:-1]), "L" * n, "the long line reassembled", p)


if __name__ == "__main__":
    main()
