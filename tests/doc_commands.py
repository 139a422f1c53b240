#!/usr/bin/python3
"""doc_commands.py — every command the documentation shows works.

The documentation is README.md, docs/*.md and examples/*/README.md.  This
checker extracts the shell commands from their code blocks (fenced blocks
tagged sh/bash/shell/console, and untagged or indented blocks whose first
line is a command) and, for each one, either

  * runs it: in a temporary directory, with the build's programs first on
    PATH (and its Python package, build/python, on PYTHONPATH), HOME and
    XDG_STATE_HOME inside that directory (so a musterd keeps its keys,
    join token and control socket there, security on, and a joiner finds
    its token the way a user's would), bounded by a timeout, and expects
    exit status 0; or
  * finds it in tests/doc_commands.map, which names the test that mirrors it
    one to one (commands that need several machines, root, a cluster or
    minutes).  The named test must exist.

A command that is neither run nor mapped cannot exist: unmapped commands
are run.  A command that fails, a map entry whose command no longer appears
in the documentation (stale) and a map entry naming a test that does not
exist fail the check, naming file and line.  Besides:

  * every --flag of a muster program, a benchmark or a bench script shown
    in the docs (run or mapped) must appear in that program's --help; a
    repository script or program a command names must exist and be
    executable;
  * an example output line shown in a file ("[worker 2] rank 2/4 ...")
    must match a line the commands run from that file printed (numbers of
    4 digits or more, ports, are wildcards).

Running sandboxes the commands with these changes, and only these
(rewrite() and script_for()): port 29400 becomes a free port, absolute
paths under /shared/ and /tmp/ move into the temporary directory, and a
musterd gets --ctl-bind tcp://127.0.0.1:0 (its default control port is
fixed) and --state-dir in the temporary directory unless the command gives
them (as root its default is /var/lib/muster, which a test must never
touch); the commands after a background musterd get its join token in
$MUSTER_JOIN_TOKEN, as an operator would hand it on.

Usage: doc_commands.py [--list] [--bin DIR] [--build DIR]
(ctest passes the build directory; --list prints every command and what
happens to it, without running anything.)
"""

import argparse
import glob
import os
import re
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(TESTS_DIR)
MAP_FILE = os.path.join(TESTS_DIR, "doc_commands.map")
RUN_TIMEOUT = 60.0

SHELL_LANGS = {"sh", "bash", "shell", "console"}
# A prompt in front of a command: "node0$ ", "head# ", "alice@head$ ".
PROMPT = re.compile(r"^([\w.@-]+)([$#])\s+")
# What a command starts with, to tell an untagged block of commands from
# code or output.
COMMAND_WORDS = {
    "muster", "musterd", "muster-agent", "muster-exec", "cmake", "ctest",
    "cc", "gcc", "make", "cat", "install", "cp", "python3", "ckpt_bench",
    "rdzv_load", "ctl_bench", "hello_gang", "ckpt_train", "sudo", "export",
    "systemctl", "scp", "kill",
}


def doc_files():
    files = ["README.md"] + sorted(glob.glob(os.path.join(SRC, "docs", "*.md"))) \
        + sorted(glob.glob(os.path.join(SRC, "examples", "*", "README.md")))
    return [os.path.relpath(os.path.join(SRC, f), SRC) for f in files]


# ------------------------------------------------------------ code blocks


class Block:
    def __init__(self, path, lang, fenced):
        self.path = path
        self.lang = lang
        self.fenced = fenced
        self.lines = []  # (lineno, text)

    def first_line(self):
        for no, text in self.lines:
            t = text.strip()
            if t and not t.startswith("#"):
                return t
        return ""


LIST_ITEM = re.compile(r"^\s*([-*+]|\d+\.)\s")


def code_blocks(path):
    """Fenced and indented code blocks of a markdown file, as CommonMark
    sees them (an indented line continuing a list item is not code)."""
    blocks = []
    with open(os.path.join(SRC, path)) as f:
        lines = f.read().split("\n")
    i = 0
    in_list = False
    prev_blank = True
    while i < len(lines):
        line = lines[i]
        m = re.match(r"^(\s{0,3})(```+|~~~+)\s*([\w+-]*)", line)
        if m:
            fence = m.group(2)
            b = Block(path, m.group(3).lower(), True)
            i += 1
            while i < len(lines) and not lines[i].strip().startswith(fence):
                b.lines.append((i + 1, lines[i]))
                i += 1
            blocks.append(b)
            i += 1
            prev_blank = False
            continue
        if line.startswith("    ") and prev_blank and not in_list and line.strip():
            b = Block(path, "", False)
            while i < len(lines) and (lines[i].startswith("    ") or not lines[i].strip()):
                b.lines.append((i + 1, lines[i][4:]))
                i += 1
            while b.lines and not b.lines[-1][1].strip():
                b.lines.pop()
            blocks.append(b)
            prev_blank = True
            continue
        if line.strip():
            if LIST_ITEM.match(line):
                in_list = True
            elif not line.startswith(" "):
                in_list = False
        prev_blank = not line.strip()
        i += 1
    return blocks


def strip_prompt(text):
    m = PROMPT.match(text)
    if m:
        return text[m.end():], m.group(1) + m.group(2)
    return text, None


def looks_like_command(text):
    text, prompt = strip_prompt(text.strip().rstrip("\\"))
    if prompt:
        return True
    try:
        toks = shlex.split(text, comments=True)
    except ValueError:
        return False
    while toks and re.match(r"^[A-Za-z_]\w*=", toks[0]):
        toks = toks[1:]
        if not toks:
            return True  # R=build/... (an assignment line of a shell block)
    if not toks:
        return False
    w = toks[0]
    return (w in COMMAND_WORDS or w.startswith(("./", "$", "/usr/bin/", "bench/",
                                                "build", "scripts/")))


def block_kind(b):
    if b.fenced and b.lang:
        return "shell" if b.lang in SHELL_LANGS else b.lang
    return "shell" if looks_like_command(b.first_line()) else "other"


class Command:
    def __init__(self, path, lineno, text, prompt, block):
        self.path = path
        self.lineno = lineno
        self.text = text          # as shown, continuation lines joined
        self.prompt = prompt
        self.block = block
        self.tokens = shlex.split(text, comments=True)
        self.key = " ".join(self.tokens)

    def where(self):
        return "%s:%d" % (self.path, self.lineno)


def block_commands(b):
    cmds = []
    pending = None
    for no, text in b.lines:
        if pending is not None:
            start, acc = pending
            acc += " " + text.strip()
        else:
            if not text.strip() or text.strip().startswith("#"):
                continue
            if text.strip().startswith(("muster: ", "musterd: ", "[worker ")):
                continue  # a program's output shown under its command
            start, acc = no, text.strip()
        if acc.endswith("\\"):
            pending = (start, acc[:-1].rstrip())
            continue
        pending = None
        body, prompt = strip_prompt(acc)
        try:
            c = Command(b.path, start, body, prompt, b)
        except ValueError as e:
            sys.exit("%s:%d: not a shell command (%s): %s"
                     % (b.path, start, e, body))
        if c.tokens:
            cmds.append(c)
    return cmds


def all_commands():
    cmds, outputs = [], []
    for path in doc_files():
        for b in code_blocks(path):
            kind = block_kind(b)
            if kind == "shell":
                cmds += block_commands(b)
            elif kind == "other" and not b.fenced:
                for no, text in b.lines:
                    if text.startswith("[worker "):
                        outputs.append((path, no, text.strip()))
    return cmds, outputs


# ------------------------------------------------------------------- map


def read_map():
    """[(lineno, target, key)] from tests/doc_commands.map."""
    out = []
    with open(MAP_FILE) as f:
        for no, line in enumerate(f, 1):
            s = line.strip()
            if not s or s.startswith("#"):
                continue
            if " | " not in s:
                out.append((no, None, s))
                continue
            target, cmd = s.split(" | ", 1)
            out.append((no, target.strip(), " ".join(shlex.split(cmd, comments=True))))
    return out


# Targets that are not one test: the commands that build this tree and run
# this suite (CI does both before and while it runs this check).
SPECIAL_TARGETS = {
    "BUILD": "CI's own build of the tree (this check runs after it)",
    "SUITE": "the whole test suite (this check is part of it)",
}


def ctest_names():
    names = set()
    for cm in glob.glob(os.path.join(SRC, "**", "CMakeLists.txt"), recursive=True):
        if "/build" in os.path.relpath(cm, SRC).split(os.sep)[0]:
            continue
        with open(cm) as f:
            text = f.read()
        names.update(re.findall(r"add_test\s*\(\s*NAME\s+([\w-]+)", text))
        names.update(re.findall(r"muster_add_test\s*\(\s*([\w-]+)", text))
    for f in glob.glob(os.path.join(TESTS_DIR, "scenarios", "test_*.py")):
        names.add("scenario_" + os.path.basename(f)[5:-3])
    return names


def target_problem(target, names):
    """None if `target` names an existing test, else why not.  Targets are
    tests/scenarios/FILE.py:Class.test_method (one scenario) or the name of
    a ctest test."""
    if target in SPECIAL_TARGETS:
        return None
    if ":" in target:
        f, meth = target.split(":", 1)
        p = os.path.join(SRC, f)
        if not os.path.isfile(p):
            return "no file %s" % f
        with open(p) as fh:
            text = fh.read()
        cls, _, fn = meth.partition(".")
        if not re.search(r"^class %s\b" % re.escape(cls), text, re.M):
            return "no class %s in %s" % (cls, f)
        if fn and not re.search(r"^\s+def %s\(" % re.escape(fn), text, re.M):
            return "no test %s in %s" % (meth, f)
        return None
    if target not in names:
        return "no ctest test named %s" % target
    return None


# ------------------------------------------------------ option validation


class Helps:
    """--help texts of the programs the docs use, by name."""

    def __init__(self, bin_dir, build):
        self.bin = bin_dir
        self.build = build
        self.cache = {}

    def argv_for(self, prog, sub):
        b = lambda n: os.path.join(self.bin, n)
        if prog == "muster":
            return [b("muster")] + ([sub] if sub else []) + ["--help"]
        if prog in ("musterd", "muster-agent"):
            return [b(prog), "--help"]
        if prog in ("ckpt_bench", "rdzv_load", "ctl_bench"):
            return [os.path.join(self.build, "bench", prog), "--help"]
        if prog.endswith(".py") and prog.startswith("bench/"):
            return ["/usr/bin/python3", os.path.join(SRC, prog), "--help"]
        if prog == "ckpt_train":
            return None  # its options are in its source (ckpt_train.c)
        return None

    def text(self, prog, sub):
        k = (prog, sub)
        if k not in self.cache:
            argv = self.argv_for(prog, sub)
            if argv is None:
                self.cache[k] = None
            else:
                p = subprocess.run(argv, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, timeout=30,
                                   stdin=subprocess.DEVNULL)
                self.cache[k] = p.stdout.decode(errors="replace")
        return self.cache[k]


def expand_vars(tokens, env):
    out = []
    for t in tokens:
        out.append(re.sub(r"\$(\w+)", lambda m: env.get(m.group(1), m.group(0)), t))
    return out


def program_of(tokens):
    """(program, subcommand, argument tokens) of a command, None for a
    plain assignment."""
    i = 0
    while i < len(tokens) and re.match(r"^[A-Za-z_]\w*=", tokens[i]):
        i += 1
    if i == len(tokens):
        return None
    prog = tokens[i]
    args = tokens[i + 1:]
    direct = True
    if os.path.basename(prog) == "python3" and args:
        prog, args, direct = args[0], args[1:], False
    sub = None
    name = prog
    for d in ("build-bench/bench/", "build/bench/", "build-bench/bin/", "build/bin/"):
        if name.startswith(d):
            name = name[len(d):]
    if name == "muster" and args and not args[0].startswith("-"):
        sub, args = args[0], args[1:]
    return prog, name, sub, args, direct


def check_options(cmd, helps, env):
    """Problems with the options and program of one command."""
    problems = []
    toks = expand_vars(cmd.tokens, env)
    # A line of a shell block may chain commands with && or |.
    parts, cur = [], []
    for t in toks:
        if t in ("&&", "||", "|", ";", "&"):
            parts.append(cur)
            cur = []
        else:
            cur.append(t)
    parts.append(cur)
    for part in parts:
        if not part:
            continue
        pg = program_of(part)
        if pg is None:
            continue
        prog, name, sub, args, direct = pg
        if prog.startswith(("./scripts/", "scripts/", "bench/", "./bench/")):
            p = os.path.join(SRC, prog)
            if not os.path.isfile(p):
                problems.append("%s does not exist" % prog)
            elif direct and not os.stat(p).st_mode & stat.S_IXUSR:
                problems.append("%s is not executable (chmod +x, or show "
                                "it run by its interpreter)" % prog)
        help_text = helps.text(name if not name.startswith("bench/") else prog, sub)
        if help_text is None:
            continue
        if name == "muster" and sub and ("unknown command" in help_text):
            problems.append("muster has no subcommand '%s'" % sub)
            continue
        for a in args:
            if a == "--":
                break  # what follows is the worker's command line
            if a.startswith("--"):
                flag = a.split("=", 1)[0]
                if not re.search(re.escape(flag) + r"(?![\w-])", help_text):
                    problems.append("%s %s: option %s is not in its --help"
                                    % (name, sub or "", flag))
    return problems


# ------------------------------------------------------------------ runs


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rewrite(text, run_dir, port):
    """The sandboxing rewrites, and only these."""
    text = re.sub(r"\b29400\b", str(port), text)
    text = re.sub(r"(?<![\w/.~])/shared/", run_dir + "/shared/", text)
    text = re.sub(r"(?<![\w/.~])/tmp/", run_dir + "/tmp/", text)
    return text


def sandbox(path, bin_dir, build):
    """A fresh directory for the commands of one file: stub programs, and
    for an example's README the example's files and program."""
    d = tempfile.mkdtemp(prefix="muster-doc-")
    for sub in ("home", "state", "shared", "tmp"):
        os.makedirs(os.path.join(d, sub))
    train = os.path.join(d, "train")
    with open(train, "w") as f:
        # ./train in the README: any program; this one says where it runs.
        f.write("#!/bin/sh\necho \"train rank $RANK/$WORLD_SIZE args $*\"\n")
    os.chmod(train, 0o755)
    parts = path.split("/")
    if parts[0] == "examples" and len(parts) == 3:
        ex = os.path.join(SRC, "examples", parts[1])
        for f in os.listdir(ex):
            shutil.copy2(os.path.join(ex, f), d)
        prog = os.path.join(bin_dir, parts[1])
        if os.path.exists(prog):
            shutil.copy2(prog, d)
    env = dict(os.environ)
    env.update({
        "PATH": bin_dir + ":" + os.path.join(build, "bench") + ":" + env.get("PATH", ""),
        "HOME": os.path.join(d, "home"),
        "XDG_STATE_HOME": os.path.join(d, "state"),
        # root's default would be /var/lib/muster: never touch it
        "MUSTER_STATE_DIR": os.path.join(d, "state", "muster"),
        "TMPDIR": os.path.join(d, "tmp"),
        # the build's Python package, as if installed (like PATH above)
        "PYTHONPATH": os.path.join(build, "python"),
    })
    for v in ("MUSTER_JOIN_TOKEN", "MUSTER_CTL_ENDPOINT"):
        env.pop(v, None)
    return d, env


def run_script(script, cwd, env, timeout):
    """(rc, output) of a bash script in its own process group; the group is
    killed when it ends or times out, so nothing is left behind."""
    p = subprocess.Popen(["bash", "-c", script], cwd=cwd, env=env,
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, start_new_session=True)
    try:
        out, _ = p.communicate(timeout=timeout)
        rc = p.returncode
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, _ = p.communicate()
        rc = "timeout (%.0f s)" % timeout
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    return rc, out.decode(errors="replace")


def strip_comment(text):
    """The command without its trailing # comment (quotes respected)."""
    q = None
    for i, ch in enumerate(text):
        if q:
            if ch == q:
                q = None
        elif ch in "'\"":
            q = ch
        elif ch == "#" and (i == 0 or text[i - 1].isspace()):
            return text[:i].rstrip()
    return text.rstrip()


def script_for(cmds, run_dir, port):
    """One bash script for commands shown together, as shown (the shell
    expands ~ and $VAR as a user's would): a command ending in & runs in
    the background; a background musterd is stopped at the end, other
    background commands are waited for."""
    lines = ["set -u", "__rc=0", "__daemons=", "__jobs="]
    state = os.path.join(run_dir, "state", "muster")
    for c in cmds:
        text = strip_comment(c.text)
        bg = text.endswith("&") and not text.endswith("&&")
        if bg:
            text = text[:-1].rstrip()
        text = rewrite(text, run_dir, port)
        if c.tokens[0] == "musterd":
            if "--ctl-bind" not in text:
                text += " --ctl-bind tcp://127.0.0.1:0"
            if "--state-dir" not in text:
                text += " --state-dir %s" % shlex.quote(state)
        if bg and c.tokens[0] == "musterd":
            lines.append("%s & __daemons=\"$__daemons $!\"" % text)
            # The joiners' token, as an operator would hand it on (a
            # non-root joiner would find it in its own state directory).
            lines.append("for i in $(seq 100); do [ -s %s/join-token ] && break; sleep 0.1; done"
                         % shlex.quote(state))
            lines.append("export MUSTER_JOIN_TOKEN=\"$(cat %s/join-token)\""
                         % shlex.quote(state))
        elif bg:
            lines.append("%s & __jobs=\"$__jobs $!\"" % text)
        else:
            lines.append("{ %s ; } || __rc=$?" % text)
    lines.append("for j in $__jobs; do wait $j || __rc=$?; done")
    lines.append("for d in $__daemons; do kill $d; wait $d; done")
    lines.append("exit $__rc")
    return "\n".join(lines)


def output_pattern(line):
    parts = re.split(r"(\d{4,})", line)
    return re.compile("^" + "".join(r"\d+" if re.fullmatch(r"\d{4,}", p) else re.escape(p)
                                    for p in parts) + "$")


# ------------------------------------------------------------------ main


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.environ.get("MUSTER_BUILD_DIR")
                    or os.path.join(SRC, "build"))
    ap.add_argument("--bin", default=None)
    ap.add_argument("--list", action="store_true")
    a = ap.parse_args()
    build = os.path.abspath(a.build)
    bin_dir = os.path.abspath(a.bin or os.environ.get("MUSTER_BIN")
                              or os.path.join(build, "bin"))
    cmds, outputs = all_commands()
    mapping = read_map()
    names = ctest_names()
    failures = []
    mapped = {}
    for no, target, key in mapping:
        if target is None:
            failures.append("%s:%d: not 'TEST | COMMAND'" % (os.path.relpath(MAP_FILE, SRC), no))
            continue
        why = target_problem(target, names)
        if why:
            failures.append("%s:%d: %s" % (os.path.relpath(MAP_FILE, SRC), no, why))
        mapped[key] = (no, target)
    shown = {c.key for c in cmds}
    for key, (no, target) in mapped.items():
        if key not in shown:
            failures.append("%s:%d: stale: the docs no longer show `%s`"
                            % (os.path.relpath(MAP_FILE, SRC), no, key))

    helps = Helps(bin_dir, build)
    # Options, for every command, run or mapped; assignments of a block
    # (R=...; M=...) are known to the block's later lines.
    block_env = {}
    for c in cmds:
        env = block_env.setdefault(id(c.block), {})
        for t in c.tokens:
            m = re.match(r"^([A-Za-z_]\w*)=(.*)$", t)
            if m:
                env[m.group(1)] = m.group(2)
        for p in check_options(c, helps, env):
            failures.append("%s: `%s`: %s" % (c.where(), c.key, p))

    # Group what runs: by file, and within a file the commands of a block
    # that starts something in the background run as one script.
    to_run = [c for c in cmds if c.key not in mapped]
    if a.list:
        for c in cmds:
            how = ("mapped to %s" % mapped[c.key][1]) if c.key in mapped else "run"
            print("%s: %s\n    %s" % (c.where(), how, c.key))
        for f in failures:
            print("FAIL " + f)
        return 1 if failures else 0

    outputs_seen = {}
    t0 = time.monotonic()
    by_file = {}
    for c in to_run:
        by_file.setdefault(c.path, []).append(c)
    for path, fcmds in by_file.items():
        run_dir, env = sandbox(path, bin_dir, build)
        try:
            groups = []
            for c in fcmds:
                bg_block = any(x.tokens[-1] == "&" for x in fcmds if x.block is c.block)
                if bg_block and groups and groups[-1][0].block is c.block:
                    groups[-1].append(c)
                else:
                    groups.append([c])
            for g in groups:
                port = free_port()
                script = script_for(g, run_dir, port)
                t1 = time.monotonic()
                rc, out = run_script(script, run_dir, env, RUN_TIMEOUT)
                outputs_seen.setdefault(path, []).extend(out.splitlines())
                shown_cmd = "\n    ".join(x.text for x in g)
                print("%s: ran (%.1f s, exit %s)\n    %s"
                      % (g[0].where(), time.monotonic() - t1, rc, shown_cmd), flush=True)
                if rc != 0:
                    failures.append("%s: `%s` failed (exit %s):\n%s"
                                    % (g[0].where(), shown_cmd, rc, out[-3000:]))
        finally:
            shutil.rmtree(run_dir, ignore_errors=True)

    for path, no, line in outputs:
        pat = output_pattern(line)
        if not any(pat.match(l) for l in outputs_seen.get(path, [])):
            failures.append("%s:%d: example output `%s` is not what the commands "
                            "of %s print:\n%s" % (path, no, line, path,
                                                  "\n".join(outputs_seen.get(path, [])[:20])))
    print("%d commands: %d run, %d mapped to tests (%s); %.1f s"
          % (len(cmds), len(to_run), len(cmds) - len(to_run),
             os.path.relpath(MAP_FILE, SRC), time.monotonic() - t0))
    for f in failures:
        print("FAIL " + f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
