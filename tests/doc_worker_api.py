#!/usr/bin/python3
"""doc_worker_api.py — docs/worker-api.md is complete and its example works.

1. Every public name of include/muster/worker.h and include/muster/error.h
   is mentioned in docs/worker-api.md: functions, types, callback types,
   macros, every error code of MUSTER_ERRNO_MAP, and every field of the
   public structs.
2. The page's C example (its ```c block with a main) is extracted,
   compiled with -Wall -Wextra -Werror against include/, linked against the
   build's libmuster, and run twice under `muster run --nproc-per-node 2
   --ckpt-dir DIR --ckpt-every-steps 10`: both runs exit 0, every rank
   reaches its end, and the second run restores the first one's checkpoint.

Usage: doc_worker_api.py --build DIR [--cc CC] [--sanitize]
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(TESTS_DIR)
DOC = os.path.join(SRC, "docs", "worker-api.md")
HEADERS = [os.path.join(SRC, "include", "muster", h) for h in ("worker.h", "error.h")]


def public_names():
    """{name: what} of everything a caller of the headers can touch."""
    names = {}
    for h in HEADERS:
        with open(h) as f:
            text = f.read()
        code = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
        for m in re.finditer(r"\b(muster_\w+)\s*\(", code):
            names.setdefault(m.group(1), "function")
        for m in re.finditer(r"typedef\s+struct\s+\w+\s+(muster_\w+_t)\s*;", code):
            names[m.group(1)] = "type"
        for m in re.finditer(r"typedef\s+struct\s+\w+\s*\{(.*?)\}\s*(muster_\w+_t)\s*;", code, re.S):
            names[m.group(2)] = "type"
            for decl in m.group(1).split(";"):
                decl = decl.strip()
                if not decl:
                    continue
                # "const char *host", "int rank, world": the last word of
                # each declarator is a field.
                for part in decl.split(","):
                    words = re.findall(r"\w+", part)
                    if words:
                        names["%s.%s" % (m.group(2), words[-1])] = "field"
        for m in re.finditer(r"typedef\s+\w+\s*\(\s*\*\s*(muster_\w+)\s*\)", code):
            names[m.group(1)] = "callback type"
        for m in re.finditer(r"#define\s+(MUSTER_[A-Z_]+)\b", code):
            if not m.group(1).endswith(("_H", "XX_")):
                names[m.group(1)] = "macro"
        for m in re.finditer(r"XX\((\w+),\s*\d+,", code):
            names["MUSTER_" + m.group(1)] = "error code"
    return names


def check_mentions():
    with open(DOC) as f:
        doc = f.read()
    missing = []
    for name, what in sorted(public_names().items()):
        word = name.split(".")[-1]
        if not re.search(r"(?<![\w])%s(?![\w])" % re.escape(word), doc):
            missing.append("%s %s" % (what, name))
    return missing


def example_source():
    with open(DOC) as f:
        doc = f.read()
    blocks = re.findall(r"^```c\n(.*?)^```", doc, re.S | re.M)
    mains = [b for b in blocks if re.search(r"^main\s*\(|\bint\s+main\s*\(", b, re.M)]
    if len(mains) != 1:
        sys.exit("FAIL docs/worker-api.md: want exactly one ```c block with a main, "
                 "found %d" % len(mains))
    return mains[0]


def run(argv, cwd, timeout=120):
    # Job secrets and control sockets in the temporary directory, never in
    # root's /var/lib/muster.
    env = dict(os.environ, MUSTER_STATE_DIR=os.path.join(cwd, "state"))
    p = subprocess.run(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       stdin=subprocess.DEVNULL, timeout=timeout, env=env)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", required=True)
    ap.add_argument("--cc", default=os.environ.get("CC", "cc"))
    ap.add_argument("--sanitize", action="store_true")
    a = ap.parse_args()
    build = os.path.abspath(a.build)
    fails = []

    missing = check_mentions()
    n = len(public_names())
    print("%d public names of worker.h and error.h; %d not in docs/worker-api.md"
          % (n, len(missing)))
    for m in missing:
        fails.append("docs/worker-api.md does not mention the %s" % m)

    tmp = tempfile.mkdtemp(prefix="muster-doc-api-")
    try:
        src = os.path.join(tmp, "worker_api_example.c")
        with open(src, "w") as f:
            f.write(example_source())
        exe = os.path.join(tmp, "worker_api_example")
        lib = os.path.join(build, "lib")
        cc = [a.cc, "-std=c11", "-D_POSIX_C_SOURCE=200809L", "-Wall", "-Wextra",
              "-Werror", "-I", os.path.join(SRC, "include"), src, "-L", lib,
              "-lmuster", "-Wl,-rpath," + lib, "-o", exe]
        if a.sanitize:
            cc[1:1] = ["-fsanitize=address,undefined"]
        rc, out, err = run(cc, tmp)
        print("compile: %s -> exit %d" % (" ".join(cc), rc))
        if rc != 0:
            fails.append("the example of docs/worker-api.md does not compile:\n" + err)
        else:
            ck = os.path.join(tmp, "ck")
            muster = os.path.join(build, "bin", "muster")
            argv = [muster, "run", "--nproc-per-node", "2", "--ckpt-dir", ck,
                    "--ckpt-every-steps", "10", "--", exe]
            for i in (1, 2):
                # The first run finishes, so the second resumes on purpose.
                rc, out, err = run(argv if i == 1 else argv[:2] + ["--resume"]
                                   + argv[2:], tmp)
                print("run %d: exit %d\n%s" % (i, rc, out))
                if rc != 0:
                    fails.append("run %d of the example exited %d:\n%s%s" % (i, rc, out, err[-3000:]))
                    break
                done = re.findall(r"^\[worker (\d)\] rank \d done at step 60", out, re.M)
                if sorted(done) != ["0", "1"]:
                    fails.append("run %d: not every rank reached step 60:\n%s%s" % (i, out, err[-3000:]))
                restored = re.findall(r"^\[worker \d\] restored step (\d+)", out, re.M)
                if i == 2 and len(restored) != 2:
                    fails.append("run 2 did not restore the first run's checkpoint "
                                 "on both ranks:\n%s%s" % (out, err[-3000:]))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for f in fails:
        print("FAIL " + f)
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
