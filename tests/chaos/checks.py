"""checks.py — the invariants a chaos run must keep, read from what the
programs wrote and left on disk.

Per job (its slice of every agent log: jobs run one after another, so the
byte offsets at submit time split the logs):
  * it succeeded, and every "done at step N checksum C" line of a worker
    has the checksum of the fault-free run;
  * no rank ran twice in one epoch: ckpt_train's start line
    "rank R pid P epoch E world W" names at most one pid per (epoch, rank);
  * every "restored step N" came from a committed checkpoint: step-N of the
    job has a MANIFEST on disk (checkpoints are kept, --ckpt-keep is large)
    whose shard files are all there; no worker said "restore failed".
Whole run: no two musterd incarnations overlapped, the journal replays to
the live table, no tagged process is left (checked by chaos.py).
"""

import glob
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import mp_unpack  # noqa: E402

START = re.compile(r"^\[\S+ (\d+)\] rank (\d+) pid (\d+) epoch (\d+) world (\d+)", re.M)
RESTORED = re.compile(r"^\[\S+ (\d+)\] restored step (\d+) from rank (\d+)", re.M)
DONE = re.compile(r"^\[\S+ (\d+)\] done at step (\d+) checksum ([0-9a-f]+)", re.M)


def job_text(paths, offsets, until=None):
    """The part of each log written since `offsets` ({path: bytes}) and
    before `until` (the same, or None: to the end)."""
    out = []
    for p in paths:
        try:
            with open(p, "rb") as f:
                f.seek(offsets.get(p, 0))
                if until is None:
                    data = f.read()
                else:
                    data = f.read(max(0, until.get(p, 0) - offsets.get(p, 0)))
                out.append(data.decode(errors="replace"))
        except OSError:
            pass
    return "\n".join(out)


def offsets_now(paths):
    return {p: os.path.getsize(p) for p in paths if os.path.exists(p)}


def manifest_ok(ck_dir, job, step):
    """'' if job's checkpoint `step` is committed and whole on disk (its
    MANIFEST names this job and step, and every shard it lists is there
    with its size), else why not."""
    name = "step-%020d" % step
    cands = glob.glob(os.path.join(ck_dir, job, name, "MANIFEST")) + \
        glob.glob(os.path.join(ck_dir, job + ".finished-*", name, "MANIFEST"))
    if not cands:
        return "no MANIFEST for step %d of %s under %s" % (step, job, ck_dir)
    d = os.path.dirname(cands[0])
    try:
        with open(cands[0], "rb") as f:
            m = mp_unpack(f.read())
    except (OSError, ValueError) as e:
        return "%s does not decode: %s" % (cands[0], e)
    if m.get("job") != job or m.get("step") != step:
        return "%s names job %r step %r" % (cands[0], m.get("job"), m.get("step"))
    for sh in m.get("shards") or []:
        p = os.path.join(d, sh.get("file", "?"))
        if not os.path.exists(p) or os.path.getsize(p) != sh.get("size"):
            return "%s: shard %s missing or not %s bytes" % (cands[0], p, sh.get("size"))
    if not m.get("shards"):
        return "%s lists no shard" % cands[0]
    return ""


def check_job(job, text, ck_dir, want_checksum, steps, problems):
    """Append every broken invariant of one job to problems; returns counts."""
    seen = {}
    for m in START.finditer(text):
        key = (int(m.group(4)), int(m.group(2)))
        seen.setdefault(key, set()).add(int(m.group(3)))
    for (epoch, rank), pids in sorted(seen.items()):
        if len(pids) > 1:
            problems.append("job %s: rank %d ran twice in epoch %d (pids %s)"
                            % (job, rank, epoch, sorted(pids)))
    restores = [int(m.group(2)) for m in RESTORED.finditer(text)]
    for step in sorted(set(restores)):
        why = manifest_ok(ck_dir, job, step)
        if why:
            problems.append("job %s: restored step %d not a committed "
                            "checkpoint: %s" % (job, step, why))
    if "restore failed" in text:
        problems.append("job %s: a worker said restore failed" % job)
    dones = [(int(m.group(2)), m.group(3)) for m in DONE.finditer(text)]
    if not dones:
        problems.append("job %s: no worker printed its final checksum" % job)
    for step, cs in dones:
        if step != steps or cs != want_checksum:
            problems.append("job %s: final step %d checksum %s, fault-free "
                            "%d %s" % (job, step, cs, steps, want_checksum))
    return {"starts": len(seen), "epochs": len({e for e, _ in seen}),
            "restores": len(restores), "done": len(dones)}
