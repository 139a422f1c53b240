#!/usr/bin/python3
"""deploy_systemd.py — the systemd units of deploy/systemd, checked offline.

There is no running systemd here (nor in CI), so the units are checked the
way `systemd-analyze` can without one:

  * `systemd-analyze verify` of each unit, with its ExecStart pointed at the
    build's programs (verify insists that the binary exists): exit 0 and
    not one warning (an unknown or misspelt key is only a warning);
  * `systemd-analyze security --offline=yes`: musterd's exposure must stay
    at or below 3.0 ("OK"), so a hardening option dropped by mistake fails;
    the agent's (root, it runs jobs as their owners) is printed;
  * muster's own rules: musterd keeps its state in its StateDirectory
    (muster) and restarts on failure; the agent enrols with the token file
    its ConditionPathExists names and keeps its key in its own
    StateDirectory (muster-agent: systemd chowns a StateDirectory to the
    unit's user, so the two must not share one);
    every flag of an ExecStart is in that program's --help (--bin DIR);
  * a broken copy (a misspelt key) must fail verify's check here: the check
    cannot pass vacuously.

Without systemd-analyze (not Debian's systemd package), the units are
parsed instead and the same rules checked.

Usage: deploy_systemd.py [--bin DIR]
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
UNITS = os.path.join(SRC, "deploy", "systemd")


def parse(text):
    """{section: {key: [values]}} of a unit file."""
    out, sec = {}, None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        m = re.fullmatch(r"\[(\w[\w-]*)\]", line)
        if m:
            sec = out.setdefault(m.group(1), {})
            continue
        if sec is None or "=" not in line:
            raise ValueError("not a unit line: %s" % line)
        k, v = line.split("=", 1)
        sec.setdefault(k.strip(), []).append(v.strip())
    return out


def one(u, sec, key):
    v = u.get(sec, {}).get(key)
    return v[-1] if v else None


def verify(path, analyze):
    """Problems systemd-analyze verify reports for the unit at path."""
    r = subprocess.run([analyze, "verify", path], capture_output=True, text=True,
                       cwd=os.path.dirname(path))
    text = (r.stdout + r.stderr).strip()
    probs = [l for l in text.splitlines() if l.strip()]
    if r.returncode != 0 and not probs:
        probs = ["systemd-analyze verify exited %d" % r.returncode]
    return probs


def localized(text, bindir):
    return text.replace("/usr/local/bin/", bindir.rstrip("/") + "/")


def rules(name, u, helps):
    errs = []
    exec_start = one(u, "Service", "ExecStart") or ""
    argv = exec_start.split()
    if not argv:
        return ["%s: no ExecStart" % name]
    prog = os.path.basename(argv[0])
    for sec in ("Unit", "Service", "Install"):
        if sec not in u:
            errs.append("%s: no [%s]" % (name, sec))
    if one(u, "Service", "Restart") != "on-failure":
        errs.append("%s: Restart is not on-failure" % name)
    state = one(u, "Service", "StateDirectory")
    want = "muster" if prog == "musterd" else "muster-agent"
    if state != want:
        errs.append("%s: StateDirectory is not %s (musterd's and an agent's on "
                    "one machine must not share one: systemd chowns it to the "
                    "unit's user)" % (name, want))
    if "--state-dir" not in argv or argv[argv.index("--state-dir") + 1] != "/var/lib/" + (state or ""):
        errs.append("%s: --state-dir is not the StateDirectory (/var/lib/%s)"
                    % (name, state))
    if prog == "muster-agent":
        tok = argv[argv.index("--join-token-file") + 1] if "--join-token-file" in argv else None
        if tok is None or one(u, "Unit", "ConditionPathExists") != tok:
            errs.append("%s: --join-token-file %s is not ConditionPathExists"
                        % (name, tok))
    if helps.get(prog):
        for a in argv[1:]:
            if a.startswith("--") and not re.search(r"(^|\s)%s\b" % re.escape(a),
                                                     helps[prog]):
                errs.append("%s: %s is not in `%s --help`" % (name, a, prog))
    return errs


def exposure(analyze, path):
    r = subprocess.run([analyze, "security", "--offline=yes", path],
                       capture_output=True, text=True, cwd=os.path.dirname(path))
    m = re.search(r"Overall exposure level for \S+: (\d+(?:\.\d+)?)", r.stdout + r.stderr)
    return float(m.group(1)) if m else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(SRC, "build", "bin"))
    a = ap.parse_args()
    a.bin = os.path.abspath(a.bin)
    helps = {}
    for prog in ("musterd", "muster-agent"):
        p = os.path.join(a.bin, prog)
        if os.access(p, os.X_OK):
            helps[prog] = subprocess.run([p, "--help"], capture_output=True,
                                         text=True).stdout
    analyze = shutil.which("systemd-analyze")
    errs = []
    tmp = tempfile.mkdtemp(prefix="muster-units-")
    try:
        units = sorted(f for f in os.listdir(UNITS) if f.endswith(".service"))
        if not units:
            errs.append("no units in deploy/systemd")
        for f in units:
            with open(os.path.join(UNITS, f)) as fh:
                text = fh.read()
            try:
                u = parse(text)
            except ValueError as e:
                errs.append("%s: %s" % (f, e))
                continue
            errs += rules(f, u, helps)
            if analyze is None:
                print("%s: parsed (no systemd-analyze here)" % f)
                continue
            path = os.path.join(tmp, f)
            with open(path, "w") as fh:
                fh.write(localized(text, a.bin))
            probs = verify(path, analyze)
            errs += ["%s: systemd-analyze verify: %s" % (f, p) for p in probs]
            level = exposure(analyze, path)
            print("%s: systemd-analyze verify clean; exposure %s" % (f, level))
            if f == "musterd.service" and (level is None or level > 3.0):
                errs.append("%s: exposure %s above 3.0: a hardening option "
                            "went missing" % (f, level))
        if analyze is not None and units:
            # The check must be able to fail: a misspelt key.
            path = os.path.join(tmp, "broken.service")
            with open(os.path.join(UNITS, units[0])) as fh:
                text = localized(fh.read(), a.bin)
            with open(path, "w") as fh:
                fh.write(text.replace("Restart=", "Restrat=", 1))
            probs = verify(path, analyze)
            if not probs:
                errs.append("a unit with a misspelt key passed verify's check")
            else:
                print("broken copy caught: %s" % probs[0])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for e in errs:
        print("FAIL " + e)
    return 1 if errs else 0


if __name__ == "__main__":
    sys.exit(main())
