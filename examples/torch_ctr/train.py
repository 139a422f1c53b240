#!/usr/bin/python3
"""train.py — torch_ctr: a DLRM click-through model trained with DDP on gloo.

Runs under `muster run` (or torchrun) from the environment alone: RANK,
WORLD_SIZE, MASTER_ADDR and MASTER_PORT; alone, it is a world of one.
With muster's Python binding it can instead rendezvous through musterd's
KV store (--store muster: no TCPStore, no MASTER_PORT).
Every rank reads its slice of the same deterministic click stream
(clickstream.py), so the data order is a pure function of (step, rank,
world); the model starts from a fixed seed; the loss is scaled so that the
averaged gradient is the exact mean over the global batch whatever the
world.  With checkpoints of the model, the optimizer and the step (the
script's own atomic files, filecheckpoint.py, or muster's two-phase commit
through the Python binding, ckptstore.py), a run that crashes and restarts
from its checkpoint ends with weights bit-identical to a run that never
stopped, at the same world.  In place (--inplace, muster run
--elastic-mode in-place), survivors of a lost worker keep their processes
and re-form the process group at the new rank and world (elastic.py).

Output: one start line per rank, then (rank 0) `step S loss L auc A world W`
on the held-out data every --eval-every steps and a last line
`final step=S loss=L auc=A oracle=O target=T reached|missed weights=SHA`
(SHA: fingerprint of the model's state dict; `oracle` is the AUC of the
hidden model that made the labels).
"""

import argparse
import datetime
import gc
import os
import signal
import socket
import sys
import time

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel as DDP

sys.dont_write_bytecode = True  # no __pycache__ beside the example
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ckptstore import muster_binding, open_store  # noqa: E402
from clickstream import ClickStream  # noqa: E402
from dlrm import DLRM  # noqa: E402
from elastic import ElasticGroup  # noqa: E402
from metrics import auc, fingerprint  # noqa: E402

TARGET_AUC = 0.80  # reached on the default data within the default steps


def options(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    a = p.add_argument
    a("--steps", type=int, default=300, help="training steps (global batches)")
    a("--global-batch", type=int, default=512, help="samples per step, all ranks together")
    a("--tables", type=int, default=4, help="categorical features (embedding tables)")
    a("--rows", type=int, default=20000, help="hash buckets (rows) per table")
    a("--vocab", type=int, default=50000, help="distinct raw ids per table")
    a("--dim", type=int, default=16, help="embedding dimension")
    a("--dense", type=int, default=4, help="dense features")
    a("--lr", type=float, default=0.05, help="Adagrad learning rate")
    a("--seed", type=int, default=1, help="seed of the data and of the model")
    a("--eval-every", type=int, default=100, help="held-out evaluation period (steps)")
    a("--eval-samples", type=int, default=8192, help="held-out samples")
    a("--target-auc", type=float, default=TARGET_AUC, help="AUC the final line judges")
    a("--ckpt", choices=("auto", "file", "muster", "none"), default="auto",
      help="checkpoints: the script's own atomic files in --ckpt-dir (file), "
           "muster's two-phase commit via the Python binding (muster), none; "
           "auto: file with --ckpt-dir, else muster under a muster job with "
           "--ckpt-dir, else none")
    a("--ckpt-dir", default=None, help="directory of the file checkpoints")
    a("--ckpt-every", type=int, default=50,
      help="period of the file checkpoints (steps; muster's are set on "
           "muster run: --ckpt-every-steps N)")
    a("--store", choices=("env", "muster"), default="env",
      help="process-group rendezvous: torch's TCPStore at MASTER_ADDR:"
           "MASTER_PORT (env), or musterd's KV store via muster.torch (muster)")
    a("--inplace", action="store_true",
      help="in-place elasticity (muster run --elastic-mode in-place, muster's "
           "Python binding): survivors of a lost worker or node keep their "
           "processes and re-form the process group at the new rank and world, "
           "newcomers take the state of rank 0 (elastic.py)")
    a("--threads", type=int, default=1, help="torch intra-op threads per rank")
    a("--timeout", type=float, default=120, help="collective timeout (s)")
    a("--reform-timeout", type=float, default=None,
      help="--inplace: timeout (s) of the process groups made when re-forming, "
           "their rendezvous included (default: --timeout)")
    a("--crash-at-step", type=int, default=0,
      help="fault injection: SIGKILL a rank at this step, first attempt only")
    a("--crash-rank", type=int, default=1, help="the rank --crash-at-step kills")
    a("--step-times", default=None,
      help="append 'crash T' (the crashing rank, before its SIGKILL), "
           "'group T' (rank 0, each time the process group is formed) and "
           "'step S T' (rank 0, each completed step) to this file, T being "
           "time.time(): bench/torch_bench.py times recovery from it")
    o = p.parse_args(argv)
    if o.timeout <= 0 or (o.reform_timeout is not None and o.reform_timeout <= 0):
        p.error("--timeout and --reform-timeout must be more than 0 seconds")
    for name in ("steps", "global_batch", "tables", "rows", "vocab", "dim",
                 "dense", "eval_every", "eval_samples", "ckpt_every", "threads"):
        if getattr(o, name) < 1:
            p.error("--%s must be at least 1" % name.replace("_", "-"))
    return o


def init_distributed(o):
    """Join the process group: through musterd's KV store (--store muster,
    muster.torch), else from torchrun's environment (a world of one on a
    free port when there is none)."""
    timeout = datetime.timedelta(seconds=o.timeout)
    if o.store == "muster":
        mt, why = muster_binding()
        if mt is None:
            sys.exit("torch_ctr: --store muster needs muster's Python binding "
                     "(python/muster, e.g. PYTHONPATH=build/python): %s" % why)
        mt.init_process_group("gloo", timeout=timeout)
        return dist.get_rank(), dist.get_world_size()
    if "MASTER_ADDR" not in os.environ:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port),
                          RANK="0", WORLD_SIZE="1")
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    dist.init_process_group("gloo", rank=rank, world_size=world, timeout=timeout)
    return rank, world


def config(o):
    """What a checkpoint must agree with to be resumed."""
    return {k: getattr(o, k) for k in ("tables", "rows", "vocab", "dim",
                                       "dense", "seed", "global_batch")}


def resume(store, model, optim, o, rank):
    """Load the checkpoint the store picks; returns its step (0: none)."""
    found = store.restore()
    if found is None:
        return 0
    step, state, where = found
    if state.get("config") != config(o):
        sys.exit("torch_ctr: the checkpoint of step %d was made with %r, not %r"
                 % (step, state.get("config"), config(o)))
    model.load_state_dict(state["model"])
    optim.load_state_dict(state["optim"])
    if rank == 0:
        print("resumed from step %d (%s, saved at world %d, now %d)"
              % (step, where, state["world"], dist.get_world_size()), flush=True)
    return step


def evaluate(model, heldout):
    x, ids, y, _ = heldout
    with torch.no_grad():
        logits = model(x, ids)
        loss = F.binary_cross_entropy_with_logits(logits, y).item()
    return loss, auc(logits, y)


def make_ddp(model):
    # DDP re-orders its gradient buckets after the first iteration it runs,
    # and a resumed run's first iteration is a later step: with 3 or more
    # ranks the bucket layout decides the order of the float sums.  Buckets
    # that never change (find_unused_parameters keeps the initial layout)
    # keep a resumed run bit-identical to one that never stopped.  The
    # model has no buffers to broadcast.
    return DDP(model, find_unused_parameters=True, broadcast_buffers=False)


def note_time(o, line):
    """Append a timestamped line to --step-times, if given."""
    if o.step_times:
        with open(o.step_times, "a") as f:
            f.write(line + "\n")


class Reform(Exception):
    """A rank saw a new epoch: re-form the process group (in-place mode)."""


def main(argv):
    o = options(argv)
    torch.set_num_threads(o.threads)
    stream = ClickStream(seed=o.seed, tables=o.tables, rows=o.rows,
                         vocab=o.vocab, dense=o.dense)
    torch.manual_seed(o.seed)
    model = DLRM(o.tables, o.rows, o.dim, o.dense)
    optim = torch.optim.Adagrad(model.parameters(), lr=o.lr)
    restart = int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0"))
    store = elastic = None
    if o.inplace:
        mt, why = muster_binding()
        if mt is None:
            sys.exit("torch_ctr: --inplace needs muster's Python binding "
                     "(python/muster, e.g. PYTHONPATH=build/python): %s" % why)
        elastic = ElasticGroup(mt, o.timeout, o.reform_timeout)
        first = elastic.form(model, optim, 0) + 1
        rank, world = dist.get_rank(), dist.get_world_size()
        # muster's count: a spare (muster run --spares) was started with
        # the environment of an earlier epoch
        restart = elastic.w.restart_count
    else:
        rank, world = init_distributed(o)
    print("rank %d/%d pid %d epoch %s restart %d%s" % (rank, world, os.getpid(),
          elastic.epoch if elastic else os.environ.get("MUSTER_EPOCH", "-"), restart,
          " sync_from %d" % elastic.w.sync_from if elastic else ""), flush=True)
    if rank == 0:
        note_time(o, "group %.6f" % time.time())
    if not elastic:
        store = open_store(o, rank)
        first = resume(store, model, optim, o, rank) + 1 if store else 1
    if elastic:
        # torch's modules, the model and the optimizer live as long as the
        # process: out of the collector's way, so that the collection of a
        # re-form (below) scans only what came after (decision 101)
        gc.freeze()
    ddp = make_ddp(model)
    heldout = stream.heldout(o.eval_samples)
    t0, step, logits, loss = time.monotonic(), first, None, None
    while step <= o.steps:
        try:
            if elastic and elastic.changed():
                raise Reform()
            if step == o.crash_at_step and rank == o.crash_rank and restart == 0:
                print("crashing at step %d (SIGKILL)" % step, flush=True)
                note_time(o, "crash %.6f" % time.time())
                os.kill(os.getpid(), signal.SIGKILL)
            x, ids, y = stream.batch(step, o.global_batch, rank, world)
            optim.zero_grad(set_to_none=True)
            logits = ddp(x, ids)
            # sum over this rank's slice, scaled so that DDP's average over
            # the world is the mean over the global batch (slices may differ)
            loss = F.binary_cross_entropy_with_logits(logits, y, reduction="sum") \
                * (world / o.global_batch)
            loss.backward()
            optim.step()
        except (RuntimeError, Reform) as e:
            if elastic is None:
                raise
            why = "new epoch" if isinstance(e, Reform) else str(e).splitlines()[0][:100]
        else:
            why = None
        if why is not None:
            # A peer was lost (the collective failed) or the epoch changed:
            # this step did not happen here, and rank 0 of the new epoch
            # says where everyone goes on.  Out of the except block, so the
            # traceback no longer holds the old DDP: it is dropped (and its
            # hooks on the parameters with it) before the new one is made;
            # its process group is left by elastic.form (leave(): its
            # connections shut down, nothing waited for).  The collection
            # is of what came after gc.freeze() only: milliseconds, not the
            # 0.1-1 s of a full one over torch's objects.
            print("epoch %d ended at step %d (%s)" % (elastic.epoch, step, why),
                  flush=True)
            ddp = logits = loss = None  # the graph holds DDP's state too
            gc.collect()
            step = elastic.form(model, optim, step - 1) + 1
            rank, world = dist.get_rank(), dist.get_world_size()
            if rank == 0:
                note_time(o, "group %.6f" % time.time())
            ddp = make_ddp(model)
            continue
        if store:
            store.after_step(step, lambda: {
                "model": model.state_dict(), "optim": optim.state_dict(),
                "step": step, "world": world, "config": config(o)})
        if rank == 0:
            note_time(o, "step %d %.6f" % (step, time.time()))
        if rank == 0 and (step % o.eval_every == 0 or step == o.steps):
            el, ea = evaluate(model, heldout)
            print("step %d loss %.4f auc %.4f world %d (%.1f s)"
                  % (step, el, ea, world, time.monotonic() - t0), flush=True)
        step += 1
    if store:
        store.close()
    if rank == 0:
        el, ea = evaluate(model, heldout)
        oracle = auc(heldout[3], heldout[2])
        print("final step=%d loss=%.4f auc=%.4f oracle=%.4f target=%.2f %s "
              "weights=%s" % (o.steps, el, ea, oracle, o.target_auc,
                              "reached" if ea >= o.target_auc else "missed",
                              fingerprint(model.state_dict())), flush=True)
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1:])
