"""shardstore.py — torch_ps checkpoints: one shard per server, committed
by a marker.

    DIR/step-00000040/ps-000.pt     server 0's rows (its bucket range)
    DIR/step-00000040/ps-001.pt
    DIR/step-00000040/COMPLETE      written last, by worker 0 (JSON)

Each server writes its shard atomically (temporary file, fsync, rename)
after applying the step; worker 0 waits until every server reports its
shard durable, then writes COMPLETE (atomically too): only then does the
step exist, a small two-phase commit.  COMPLETE lists every shard with the
bucket range it holds, so a job resumed with another number of servers
reads, for each new server, only the old shards whose ranges overlap its
own, and keeps the rows of its own buckets.  The newest `keep` complete
steps are kept.
"""

import json
import os
import re
import shutil

import torch

from buckets import bucket_of, owned

STEP = re.compile(r"^step-(\d{8})$")


def _atomic(path, write):
    tmp = "%s.%d.tmp" % (path, os.getpid())
    with open(tmp, "wb") as f:
        write(f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fd = os.open(os.path.dirname(path), os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class ShardStore:
    def __init__(self, directory, every, last, keep=2):
        self.dir, self.keep = directory, max(1, keep)
        self.every, self.last = every, last
        os.makedirs(directory, exist_ok=True)

    def due(self, step):
        return step % self.every == 0 or step == self.last

    def resume_step(self):
        return self.latest()

    def server_step(self, ps, step):
        """A server applied `step`: save its shard if the step is due."""
        if not self.due(step):
            return False
        self.save_shard(step, ps.index, ps.shard(step))
        return True

    def worker_step(self, client, k, step):
        """A worker pushed `step`: worker 0 commits a due step once every
        server's shard is durable."""
        if k != 0 or not self.due(step):
            return
        import server
        rows = sum(client.everyone(server.saved, step))
        self.commit(step, client.o.servers, client.o.nbuckets,
                    [owned(client.o.nbuckets, client.o.servers, i)
                     for i in range(client.o.servers)])
        print("checkpoint step %d committed (%d servers, %d rows)"
              % (step, client.o.servers, rows), flush=True)

    def close(self):
        pass

    def step_dir(self, step):
        return os.path.join(self.dir, "step-%08d" % step)

    def complete_steps(self):
        out = []
        for n in os.listdir(self.dir):
            m = STEP.match(n)
            if m and os.path.exists(os.path.join(self.dir, n, "COMPLETE")):
                out.append(int(m.group(1)))
        return sorted(out)

    def latest(self):
        s = self.complete_steps()
        return s[-1] if s else 0

    def save_shard(self, step, index, state):
        d = self.step_dir(step)
        os.makedirs(d, exist_ok=True)
        _atomic(os.path.join(d, "ps-%03d.pt" % index),
                lambda f: torch.save(state, f))

    def commit(self, step, nps, nbuckets, ranges):
        """Make step `step` exist (every shard is durable); prune old steps."""
        meta = {"step": step, "nps": nps, "nbuckets": nbuckets,
                "shards": [{"file": "ps-%03d.pt" % i, "first": a, "end": b}
                           for i, (a, b) in enumerate(ranges)]}
        _atomic(os.path.join(self.step_dir(step), "COMPLETE"),
                lambda f: f.write(json.dumps(meta).encode()))
        for old in self.complete_steps()[:-self.keep]:
            shutil.rmtree(self.step_dir(old), ignore_errors=True)

    def load_range(self, step, nbuckets, first, end):
        """Rows of buckets [first, end) at `step`: (keys, param, accum,
        shards read)."""
        d = self.step_dir(step)
        with open(os.path.join(d, "COMPLETE")) as f:
            meta = json.load(f)
        if meta["nbuckets"] != nbuckets:
            raise ValueError("checkpoint of step %d has %d buckets, this job %d"
                             % (step, meta["nbuckets"], nbuckets))
        parts, read = [], 0
        for sh in meta["shards"]:
            if sh["end"] <= first or sh["first"] >= end:
                continue
            s = torch.load(os.path.join(d, sh["file"]))
            b = bucket_of(s["keys"], nbuckets)
            mine = (b >= first) & (b < end)
            parts.append((s["keys"][mine], s["param"][mine], s["accum"][mine]))
            read += 1
        if not parts:
            return (torch.empty(0, dtype=torch.int64), None, None, 0)
        keys = torch.cat([p[0] for p in parts])
        order = torch.argsort(keys)
        return (keys[order], torch.cat([p[1] for p in parts])[order],
                torch.cat([p[2] for p in parts])[order], read)
