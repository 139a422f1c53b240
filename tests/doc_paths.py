#!/usr/bin/python3
"""doc_paths.py — the docs reference nothing outside the repository, and
state a few facts the way the code does.

Over README.md, docs/*.md, examples/*/README.md (prose and inline code,
not code blocks, whose commands tests/doc_commands.py runs):

  * every markdown link to a relative target, every backticked path
    (`coordinator/auth.c`, `docs/security.md`, `worker/agent*.c`,
    `coordinator/kv_quota.[ch]`) and every *.md named anywhere must exist
    in the repository: a path with a / relative to the file or to the
    repository root, a bare file name (`rdzv.h`) somewhere in the tree.
    Paths under build/ are products of the build and are looked up in the
    build directory when it is given;
  * facts that drifted before, taken from the code:
      - shard file names (worker/lib/ckpt.c's "rank-%06d.shard"): every
        rank-N.ext the docs show must have that form;
      - the job states (coordinator/job_machine.c's mu_job_state_name) are the
        ones docs/protocol.md lists;
  * every option of an inline `muster ...`, `musterd ...` or
    `muster-agent ...` (e.g. `muster preempt [--grace 30s] JOB`) is in that
    program's --help (with --bin; see doc_commands.py).

Usage: doc_paths.py [--build DIR]
"""

import argparse
import glob
import os
import re
import subprocess
import sys

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(TESTS_DIR)
sys.path.insert(0, TESTS_DIR)
import doc_commands as dc  # noqa: E402

PATH_EXTS = ("md", "c", "h", "py", "sh", "def", "txt", "cmake", "map", "json")
BARE_EXTS = ("md", "c", "h", "sh", "def", "cmake", "map")


def repo_files():
    try:
        out = subprocess.run(["git", "-C", SRC, "ls-files"], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, check=True).stdout.decode()
        files = set(out.split())
    except (OSError, subprocess.CalledProcessError):
        files = set()
    # Files not committed yet count too (a new doc and its link).
    for root, dirs, fs in os.walk(SRC):
        dirs[:] = [d for d in dirs if not d.startswith((".", "build"))]
        for f in fs:
            files.add(os.path.relpath(os.path.join(root, f), SRC))
    return files


def prose_lines(path):
    """(lineno, text) of the lines outside code blocks."""
    code = set()
    for b in dc.code_blocks(path):
        for no, _ in b.lines:
            code.add(no)
    with open(os.path.join(SRC, path)) as f:
        lines = f.read().split("\n")
    out = []
    fence = False
    for i, text in enumerate(lines, 1):
        if re.match(r"^\s{0,3}(```|~~~)", text):
            fence = not fence
            continue
        if fence or i in code:
            continue
        out.append((i, text))
    return out


def glob_exists(pattern, base_dirs, files):
    # kv_quota.[ch] is a glob already; worker/agent*.c too.
    for base in base_dirs:
        p = os.path.normpath(os.path.join(base, pattern))
        if p == ".." or p.startswith("../"):
            continue  # outside the repository, even if it exists here
        if glob.glob(os.path.join(SRC, p)) or p in files:
            return True
        if os.path.isdir(os.path.join(SRC, p)):
            return True
    return False


def path_candidates(span):
    """Path-like words of one inline code span or link target."""
    out = []
    for w in span.split():
        w = re.sub(r":\d+$", "", w.strip(",;:()"))  # file.c:42 -> file.c
        if not w or "://" in w or w.startswith(("/", "~", "$", "<", "-", "@", "%", ".")) \
                and not w.startswith(("./", "../")):
            continue
        if re.search(r"[<>{}=|\"']", w) or "..." in w:
            continue
        if "/" in w:
            first = w.split("/")[0]
            last = w.rstrip("/").split("/")[-1]
            out.append((w, first, last))
        elif re.search(r"\.(%s)$" % "|".join(BARE_EXTS), w) and "*" not in w:
            # A bare source or doc name; a bare script.py is the user's.
            out.append((w, None, w))
    return out


def check_paths(path, files, build):
    problems = []
    here = os.path.dirname(path)
    basenames = {os.path.basename(f) for f in files}
    top = {f.split("/")[0] for f in files}
    for no, text in prose_lines(path):
        spans = re.findall(r"`([^`]+)`", text)
        links = [t for t in re.findall(r"\]\(([^)\s]+)\)", text)
                 if "://" not in t and not t.startswith(("#", "mailto:"))]
        # *.md named in plain prose (DESIGN.md, NOTES.md) too.
        bare_md = re.findall(r"(?<![\w/.`-])([\w-]+\.md)\b", re.sub(r"`[^`]*`", "", text))
        for t in links:
            t = t.split("#")[0]
            if t and not glob_exists(t, [here, ""], files):
                problems.append("%s:%d: link to %s, which is not in the repository"
                                % (path, no, t))
        for b in bare_md:
            if b not in basenames:
                problems.append("%s:%d: names %s, which is not in the repository"
                                % (path, no, b))
        for span in spans:
            for w, first, last in path_candidates(span):
                if first is None:
                    if w not in basenames:
                        problems.append("%s:%d: `%s` is no file of the repository"
                                        % (path, no, w))
                    continue
                if first in ("build", "build-bench"):
                    if build and not glob.glob(os.path.join(build, w.split("/", 1)[1])):
                        problems.append("%s:%d: `%s` is not built (looked in %s)"
                                        % (path, no, w, build))
                    continue
                is_repo_path = (first in top or first == ".."
                                or os.path.exists(os.path.join(SRC, here, first))
                                or re.search(r"\.(%s)$" % "|".join(PATH_EXTS), last))
                if not is_repo_path:
                    continue  # mu_job_t.owner_uid/gid, kv.get/barrier: not paths
                if not glob_exists(w, [here, ""], files):
                    problems.append("%s:%d: `%s` is not in the repository"
                                    % (path, no, w))
    return problems


def check_facts(docs):
    problems = []
    with open(os.path.join(SRC, "worker", "lib", "ckpt.c")) as f:
        m = re.search(r'"(rank-%0(\d)d(\.\w+))"', f.read())
    if not m:
        problems.append("worker/lib/ckpt.c: no \"rank-%0Nd.EXT\" shard name found "
                        "(update tests/doc_paths.py)")
    else:
        width, ext = int(m.group(2)), m.group(3)
        for path in docs:
            with open(os.path.join(SRC, path)) as f:
                for no, text in enumerate(f, 1):
                    for name in re.findall(r"\brank-\d+\.\w+", text):
                        digits, e = name[5:].split(".", 1)
                        if len(digits) != width or "." + e != ext:
                            problems.append(
                                "%s:%d: shard name %s; libmuster writes %s "
                                "(worker/lib/ckpt.c)" % (path, no, name,
                                                         "rank-%s%s" % ("0" * width, ext)))
    with open(os.path.join(SRC, "coordinator", "job_machine.c")) as f:
        code = f.read()
    fn = re.search(r"mu_job_state_name\s*\([^)]*\)\s*\{(.*?)\n\}", code, re.S)
    states = re.findall(r'"(\w+)"', fn.group(1)) if fn else []
    with open(os.path.join(SRC, "docs", "protocol.md")) as f:
        proto = f.read()
    m = re.search(r"Job states:(.*?)\.\n", proto, re.S)
    listed = re.findall(r"`(\w+)`", m.group(1)) if m else []
    if not states or sorted(states) != sorted(listed):
        problems.append("docs/protocol.md lists job states %s; coordinator/job_machine.c "
                        "(mu_job_state_name) has %s" % (listed, states))
    return problems


def check_inline_commands(docs, helps):
    problems = []
    for path in docs:
        for no, text in prose_lines(path):
            for span in re.findall(r"`([^`]+)`", text):
                if not re.match(r"^(muster|musterd|muster-agent) ", span):
                    continue
                if "..." in span:
                    span = span.replace("...", "")
                # `muster preempt [--grace 30s] JOB`: usage brackets are fine.
                flat = re.sub(r"[\[\]|]", " ", span)
                try:
                    c = dc.Command(path, no, flat, None, None)
                except ValueError:
                    continue
                for p in dc.check_options(c, helps, {}):
                    problems.append("%s:%d: `%s`: %s" % (path, no, span, p))
    return problems


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.environ.get("MUSTER_BUILD_DIR"))
    a = ap.parse_args()
    build = os.path.abspath(a.build) if a.build else None
    files = repo_files()
    docs = dc.doc_files()
    problems = []
    for path in docs:
        problems += check_paths(path, files, build)
    problems += check_facts(docs)
    if build:
        helps = dc.Helps(os.path.join(build, "bin"), build)
        problems += check_inline_commands(docs, helps)
    for p in problems:
        print("FAIL " + p)
    print("%d files checked: %d problem(s)" % (len(docs), len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
