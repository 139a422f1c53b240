"""torch_bench_worker.py -- the workers of torch_bench.py, one per part.

  ckpt DIR MIB SAVES   (b) build a state dict of MIB MiB (a few large
                       tensors), train a toy step loop and hand the state
                       to muster.torch.save (asynchronous) when muster says
                       a checkpoint is due; write, per save, the wall time
                       the loop was blocked in save() and the time until
                       the commit was reported, to DIR/ckpt.<rank>; then a
                       plain synchronous torch.save + fsync of the same
                       state to a file, for comparison.
  init DIR MODE        (c) time init_process_group: MODE muster
                       (muster.torch.init_process_group, musterd's KV
                       store) or env (torch's, TCPStore at MASTER_ADDR:
                       MASTER_PORT); writes "T_before T_after" (time.time())
                       to DIR/init.<rank>.
"""
import os
import sys
import time

import torch
import torch.distributed as dist


def ckpt(d, mib, saves):
    import muster.torch as mt
    rank = int(os.environ.get("RANK", "0"))
    n = 4
    per = mib * (1 << 20) // 4 // n  # float32 elements per tensor
    sd = {"w%d" % i: torch.ones(per) * i for i in range(n)}
    x = torch.randn(256, 256)
    out, step = [], 0
    while len(out) < saves:
        step += 1
        x = torch.tanh(x @ x.t() * 1e-3)  # a toy training step
        t0 = time.time()
        handed = mt.save(sd, step)
        t1 = time.time()
        if not handed:
            time.sleep(0.01)
            continue
        while True:  # for information: until the commit is reported
            oc = mt.outcome()
            if oc is not None:
                break
            x = torch.tanh(x @ x.t() * 1e-3)
            time.sleep(0.002)
        t2 = time.time()
        if not oc.committed:
            sys.exit("torch_bench_worker: checkpoint of step %d failed: %s"
                     % (step, oc.reason))
        out.append("save %.6f %.6f" % (t1 - t0, t2 - t0))
    mt.flush()
    path = os.path.join(d, "plain.%d.pt" % rank)
    t0 = time.time()
    with open(path, "wb") as f:
        torch.save(sd, f)
        f.flush()
        os.fsync(f.fileno())
    out.append("plain %.6f" % (time.time() - t0))
    t0 = time.time()
    import io
    torch.save({"step": step, "state_dict": sd}, io.BytesIO())
    out.append("serialize %.6f" % (time.time() - t0))
    os.unlink(path)
    with open(os.path.join(d, "ckpt.%d" % rank), "w") as f:
        f.write("\n".join(out) + "\n")


def init(d, mode):
    rank = int(os.environ["RANK"])
    if mode == "muster":
        import muster.torch as mt
        t0 = time.time()
        mt.init_process_group("gloo")
    else:
        t0 = time.time()
        dist.init_process_group("gloo", init_method="env://")
    t1 = time.time()
    with open(os.path.join(d, "init.%d" % rank), "w") as f:
        f.write("%.6f %.6f\n" % (t0, t1))
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    if sys.argv[1] == "ckpt":
        ckpt(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        init(sys.argv[2], sys.argv[3])
