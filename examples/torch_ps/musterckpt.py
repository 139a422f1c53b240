"""musterckpt.py — torch_ps checkpoints through muster's (Python binding).

Every member of the job, server or worker, holds a muster.Worker and
reports each step it finishes (a server: each step it applied; a worker:
each step it pushed).  When muster asks for a checkpoint of step S
(muster run --ckpt-every-steps N, --ckpt-every DUR, `muster checkpoint
JOB`, a preemption), every member saves its shard of S: a server its rows
(the buckets muster says it owns), a worker just the step; the coordinator
commits S when every shard is durable.  Saves are asynchronous: the bytes
are handed over and libmuster's thread writes and fsyncs them.

On resume, a server asks muster which pieces of the saved shards hold the
buckets it owns now (`restore_buckets`), whatever the number of servers
was, and keeps the rows of those buckets: the re-partitioning is muster's
restore plan, the row layout inside a shard is this program's.
"""

import io

import torch

from buckets import bucket_of


class MusterShards:
    def __init__(self, muster, role, first, end):
        self.w = muster.Worker()
        if role == "ps":
            got = self.w.buckets()
            if got != (first, end - first):
                raise SystemExit("torch_ps: muster says this server owns buckets "
                                 "[%d,%d), this program [%d,%d)"
                                 % (got[0], got[0] + got[1], first, end))

    def resume_step(self):
        r = self.w.restore()
        return r.step if r else 0

    def load_range(self, step, nbuckets, first, end):
        """Rows of buckets [first, end): (keys, param, accum, shards read)."""
        parts, files = [], {}
        for sl in self.w.restore_buckets():
            if sl.path not in files:
                files[sl.path] = torch.load(sl.path)
            s = files[sl.path]
            if s["step"] != step or s["nbuckets"] != nbuckets:
                raise ValueError("%s holds step %d of %d buckets, not step %d of %d"
                                 % (sl.path, s["step"], s["nbuckets"], step, nbuckets))
            b = bucket_of(s["keys"], nbuckets)
            mine = (b >= sl.bucket_first) & (b < sl.bucket_first + sl.bucket_count)
            parts.append((s["keys"][mine], s["param"][mine], s["accum"][mine]))
        if not parts:
            return torch.empty(0, dtype=torch.int64), None, None, 0
        keys = torch.cat([p[0] for p in parts])
        order = torch.argsort(keys)
        return (keys[order], torch.cat([p[1] for p in parts])[order],
                torch.cat([p[2] for p in parts])[order], len(files))

    def _save(self, step, state):
        self.w.progress(step)
        rq = self.w.ckpt_due()
        if rq is None:
            return False
        buf = io.BytesIO()
        torch.save(state, buf)
        self.w.ckpt_save(buf.getbuffer(), asynchronous=True)
        return True

    def server_step(self, ps, step):
        return self._save(step, ps.shard(step))

    def worker_step(self, client, k, step):
        if self._save(step, {"step": step}) and k == 0:
            print("checkpoint step %d saved (muster)" % step, flush=True)

    def close(self):
        self.w.close()  # waits for the asynchronous saves
