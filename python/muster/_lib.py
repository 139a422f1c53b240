"""_lib.py — finds libmuster and declares its C API for ctypes.

The binding is pure Python over the shared library, so installing it needs
no compiler.  The library is looked for, in this order:

  1. ``$MUSTER_LIBRARY`` — a path to libmuster.so (or the directory holding it);
  2. the location recorded when the package was laid out: ``_paths.py``,
     written by CMake into the build tree (build/python/muster) and by
     ``cmake --install`` (the installed libdir of the same prefix);
  3. relative to the package: lib/, lib64/ or build/lib/ of the
     directories above it (an installed prefix's libdir, or this source
     tree's build when importing from python/);
  4. the system's loader paths (``ldconfig``): ``libmuster.so.0``.

Every function of <muster/worker.h> and <muster/error.h> gets its
argument and result types here, once; the rest of the package calls
``lib().muster_...`` and never guesses a C type.  The structures mirror the
header's field for field (tests/python/test_binding_api.py checks that
every exported function of the header is declared).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import threading
from typing import List, Optional

c_int = ctypes.c_int
c_u64 = ctypes.c_uint64
c_size = ctypes.c_size_t
c_char_p = ctypes.c_char_p
c_void_p = ctypes.c_void_p
POINTER = ctypes.POINTER


class WorkerOpts(ctypes.Structure):
    _fields_ = [("endpoint", c_char_p), ("connect_timeout_ms", c_int)]


class Peer(ctypes.Structure):
    _fields_ = [("host", c_char_p), ("port", c_int), ("role", c_char_p),
                ("role_rank", c_int), ("node_rank", c_int), ("local_rank", c_int)]


class Membership(ctypes.Structure):
    _fields_ = [("epoch", c_u64), ("rank", c_int), ("world", c_int),
                ("local_rank", c_int), ("local_world", c_int),
                ("role_rank", c_int), ("role_world", c_int),
                ("node_rank", c_int), ("nnodes", c_int),
                ("sync_from", c_int), ("reason", c_char_p)]


class CkptRequest(ctypes.Structure):
    _fields_ = [("step", c_u64), ("now", c_int), ("deadline_ms", c_u64),
                ("reason", c_char_p)]


class CkptOutcome(ctypes.Structure):
    _fields_ = [("step", c_u64), ("status", c_int), ("reason", c_char_p)]


class Restore(ctypes.Structure):
    _fields_ = [("step", c_u64), ("path", c_char_p), ("size", c_u64),
                ("from_rank", c_int)]


class BucketSlice(ctypes.Structure):
    _fields_ = [("path", c_char_p), ("bucket_first", c_u64),
                ("bucket_count", c_u64), ("offset", c_u64)]


# Live bucket migration (worker.h, docs/ps.md): declared for completeness;
# the Python API does not wrap it yet.
class BucketServer(ctypes.Structure):
    _fields_ = [("role_rank", c_int), ("first", c_u64), ("count", c_u64),
                ("host", c_char_p), ("port", c_int)]


class BucketMove(ctypes.Structure):
    _fields_ = [("first", c_u64), ("count", c_u64), ("from_rank", c_int),
                ("from_old_rank", c_int), ("from_host", c_char_p),
                ("from_port", c_int), ("to_rank", c_int), ("lost", c_int)]


class BucketPlan(ctypes.Structure):
    _fields_ = [("epoch", c_u64), ("prev_epoch", c_u64), ("nbuckets", c_u64),
                ("nservers", c_size), ("servers", POINTER(BucketServer)),
                ("nmoves", c_size), ("moves", POINTER(BucketMove))]


MEMBERSHIP_FN = ctypes.CFUNCTYPE(None, c_void_p, POINTER(Membership), c_void_p)
CKPT_FN = ctypes.CFUNCTYPE(None, c_void_p, POINTER(CkptRequest), c_void_p)

CKPT_ASYNC = 1
CKPT_OVERLAP = 2

_W = c_void_p  # muster_worker_t *
_R = c_void_p  # muster_req_t *

# name: (restype, [argtypes])
PROTOTYPES = {
    "muster_strerror": (c_char_p, [c_int]),
    "muster_err_name": (c_char_p, [c_int]),
    "muster_worker_init": (c_int, [POINTER(_W), POINTER(WorkerOpts)]),
    "muster_worker_finalize": (None, [POINTER(_W)]),
    "muster_worker_rank": (c_int, [_W]),
    "muster_worker_world": (c_int, [_W]),
    "muster_worker_local_rank": (c_int, [_W]),
    "muster_worker_local_world": (c_int, [_W]),
    "muster_worker_node_rank": (c_int, [_W]),
    "muster_worker_nnodes": (c_int, [_W]),
    "muster_worker_role_rank": (c_int, [_W]),
    "muster_worker_role_world": (c_int, [_W]),
    "muster_worker_restart_count": (c_int, [_W]),
    "muster_worker_epoch": (c_u64, [_W]),
    "muster_worker_sync_from": (c_int, [_W]),
    "muster_worker_role": (c_char_p, [_W]),
    "muster_worker_job": (c_char_p, [_W]),
    "muster_worker_on_membership": (c_int, [_W, MEMBERSHIP_FN, c_void_p]),
    "muster_worker_membership_changed": (c_int, [_W, POINTER(Membership)]),
    "muster_worker_on_ckpt": (c_int, [_W, CKPT_FN, c_void_p]),
    "muster_worker_ckpt_due": (c_int, [_W, POINTER(CkptRequest)]),
    "muster_worker_ckpt_save": (c_int, [_W, c_void_p, c_size, c_int]),
    "muster_worker_ckpt_copied": (c_int, [_W]),
    "muster_worker_ckpt_reserve": (c_int, [_W, c_size]),
    "muster_worker_ckpt_path": (c_int, [_W, c_char_p, c_size]),
    "muster_worker_ckpt_save_file": (c_int, [_W]),
    "muster_worker_ckpt_outcome": (c_int, [_W, POINTER(CkptOutcome)]),
    "muster_worker_ckpt_flush": (c_int, [_W]),
    "muster_worker_ckpt_claim": (c_int, [_W, c_char_p, c_size, POINTER(c_void_p)]),
    "muster_worker_ckpt_claim_done": (c_int, [_W, POINTER(c_void_p), c_int]),
    "muster_worker_restore": (c_int, [_W, POINTER(Restore)]),
    "muster_worker_restore_buckets": (c_int, [_W, POINTER(POINTER(BucketSlice)),
                                              POINTER(c_size)]),
    "muster_worker_buckets": (c_int, [_W, POINTER(c_u64), POINTER(c_u64)]),
    "muster_worker_bucket_plan": (c_int, [_W, c_int,
                                          POINTER(POINTER(BucketPlan))]),
    "muster_bucket_plan_free": (None, [POINTER(POINTER(BucketPlan))]),
    "muster_bucket_plan_owner": (c_int, [POINTER(BucketPlan), c_u64]),
    "muster_worker_bucket_moved": (c_int, [_W, POINTER(BucketPlan), c_size,
                                           c_int]),
    "muster_worker_migration_done": (c_int, [_W, POINTER(BucketPlan), c_int]),
    "muster_worker_migration_done_nb": (c_int, [_W, POINTER(BucketPlan), c_int,
                                                POINTER(_R)]),
    "muster_worker_peer": (c_int, [_W, c_int, POINTER(Peer)]),
    "muster_worker_kv_put": (c_int, [_W, c_char_p, c_void_p, c_size, c_int]),
    "muster_worker_kv_get": (c_int, [_W, c_char_p, POINTER(c_void_p),
                                     POINTER(c_size), c_int]),
    "muster_worker_barrier": (c_int, [_W, c_char_p, c_int]),
    "muster_worker_kv_add": (c_int, [_W, c_char_p, ctypes.c_int64,
                                     POINTER(ctypes.c_int64), c_int]),
    "muster_worker_kv_cas": (c_int, [_W, c_char_p, c_void_p, c_size, c_void_p, c_size,
                                     POINTER(c_void_p), POINTER(c_size), c_int]),
    "muster_worker_kv_del": (c_int, [_W, c_char_p, POINTER(c_int), c_int]),
    "muster_worker_kv_count": (c_int, [_W, c_char_p, POINTER(c_u64), c_int]),
    "muster_worker_progress": (c_int, [_W, c_u64]),
    "muster_worker_report_load": (c_int, [_W, ctypes.c_double]),  # service
    "muster_worker_kv_get_nb": (c_int, [_W, c_char_p, c_int, POINTER(_R)]),
    "muster_worker_barrier_nb": (c_int, [_W, c_char_p, c_int, POINTER(_R)]),
    "muster_req_done": (c_int, [_R]),
    "muster_req_wait": (c_int, [_R, c_int, POINTER(c_void_p), POINTER(c_size)]),
    "muster_req_free": (None, [POINTER(_R)]),
}

_lock = threading.Lock()
_lib: Optional[ctypes.CDLL] = None
_libc: Optional[ctypes.CDLL] = None


def candidates() -> List[str]:
    """Where the library is looked for, in order (see the module doc)."""
    out: List[str] = []
    env = os.environ.get("MUSTER_LIBRARY")
    if env:
        out.append(os.path.join(env, "libmuster.so") if os.path.isdir(env) else env)
    try:
        from . import _paths  # written by CMake; absent in a bare source tree
        for d in getattr(_paths, "LIBDIRS", ()):
            out.append(os.path.join(d, "libmuster.so.0"))
    except ImportError:
        pass
    here = os.path.dirname(os.path.abspath(__file__))
    up = here
    for _ in range(5):
        up = os.path.dirname(up)
        for sub in ("lib", "lib64", os.path.join("build", "lib")):
            p = os.path.join(up, sub, "libmuster.so.0")
            if os.path.exists(p) and p not in out:
                out.append(p)
    found = ctypes.util.find_library("muster")
    out.append(found or "libmuster.so.0")
    return out


def _declare(dll: ctypes.CDLL) -> None:
    for name, (res, args) in PROTOTYPES.items():
        fn = getattr(dll, name)
        fn.restype = res
        fn.argtypes = args


def lib() -> ctypes.CDLL:
    """The loaded libmuster with every prototype declared (loaded once).

    Raises ImportError naming every place it looked when it is not found."""
    global _lib
    with _lock:
        if _lib is not None:
            return _lib
        tried = []
        env_set = bool(os.environ.get("MUSTER_LIBRARY"))
        for i, path in enumerate(candidates()):
            if os.sep in path and not os.path.exists(path):
                tried.append("%s (no such file)" % path)
                if i == 0 and env_set:
                    break  # an explicit $MUSTER_LIBRARY that is wrong is an error
                continue
            try:
                dll = ctypes.CDLL(path)
            except OSError as e:
                tried.append("%s (%s)" % (path, e))
                if i == 0 and env_set:
                    break
                continue
            _declare(dll)
            _lib = dll
            return dll
        raise ImportError("muster: cannot load libmuster; tried: " + "; ".join(tried)
                          + ". Set MUSTER_LIBRARY to the path of libmuster.so.")


def free(ptr: int) -> None:
    """free() a buffer libmuster malloc'd for the caller (kv values, slices)."""
    global _libc
    if _libc is None:
        # The process's free (dlsym(RTLD_DEFAULT)), not libc.so.6's own:
        # under a preloaded allocator (ASan, jemalloc) libmuster's malloc
        # is that one too.
        _libc = ctypes.CDLL(None)
        _libc.free.argtypes = [c_void_p]
        _libc.free.restype = None
    if ptr:
        _libc.free(ptr)
