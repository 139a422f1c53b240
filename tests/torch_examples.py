"""torch_examples.py — what the PyTorch scenarios (30 and up) share: where
the examples are, the interpreter that has torch, and parsers for the
examples' output lines.

The examples run under the interpreter that runs the scenario (ctest uses
Debian's /usr/bin/python3, where python3-torch lives); a scenario whose
interpreter has no torch is skipped, saying why.
"""

import os
import re
import subprocess
import sys

SRC_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TORCH_CTR = os.path.join(SRC_DIR, "examples", "torch_ctr", "train.py")
TORCH_PS = os.path.join(SRC_DIR, "examples", "torch_ps", "train.py")
PYTHON = sys.executable

FINAL = re.compile(r"final step=(\d+) loss=([0-9.]+) auc=([0-9.]+) "
                   r"oracle=([0-9.]+) target=([0-9.]+) (reached|missed) "
                   r"weights=([0-9a-f]{64})")


def torch_missing():
    """None when this interpreter imports torch.distributed, else why not."""
    r = subprocess.run([PYTHON, "-c", "import torch.distributed"],
                       capture_output=True, text=True)
    if r.returncode == 0:
        return None
    return "%s cannot import torch: %s" % (PYTHON, r.stderr.strip()[-200:])


def ctr_finals(text):
    """Every torch_ctr final line as a dict (step, auc, target, reached,
    weights)."""
    out = []
    for m in FINAL.finditer(text):
        out.append({"step": int(m.group(1)), "loss": float(m.group(2)),
                    "auc": float(m.group(3)), "oracle": float(m.group(4)),
                    "target": float(m.group(5)),
                    "reached": m.group(6) == "reached",
                    "weights": m.group(7)})
    return out


def ctr_starts(text):
    """{(epoch, rank): (pid, world)} of torch_ctr's start lines."""
    got = {}
    for m in re.finditer(r"\] rank (\d+)/(\d+) pid (\d+) epoch (\d+)", text):
        got[(int(m.group(4)), int(m.group(1)))] = (int(m.group(3)), int(m.group(2)))
    return got


BUILD_DIR = os.path.abspath(os.environ.get("MUSTER_BUILD_DIR")
                            or os.path.join(SRC_DIR, "build"))
BINDING = os.path.join(BUILD_DIR, "python")


def binding_missing():
    """None when the build tree holds muster's Python package (its
    build/python, put on PYTHONPATH by binding_env), else why not.  In a
    sanitized build libmuster needs the sanitizer runtime preloaded into
    the interpreter: the binding's own tests (python_*) do that; these
    scenarios, which train real models, run in the plain build."""
    if os.environ.get("MUSTER_SANITIZED", "").upper() in ("1", "ON", "TRUE", "YES"):
        return "libmuster is built with sanitizers (scenarios using the binding " \
               "run in the plain build)"
    if os.path.isfile(os.path.join(BINDING, "muster", "torch", "__init__.py")):
        return None
    return "muster's Python binding is not built (%s)" % BINDING


def binding_env():
    return {"PYTHONPATH": BINDING}
