/*
 * muster/worker.h — the worker API: what a training process launched by
 * muster can ask of it.  Link with -lmuster.
 *
 * A worker opens a handle with muster_worker_init(), which reads the
 * MUSTER_* environment its agent set, connects to the agent over ipc and
 * fetches its place in the gang: rank, world, role, epoch and the peer list.
 * A background thread owns the connection, so heartbeats and membership keep
 * flowing while the training thread computes; every public call is a
 * request to that thread.  Blocking calls take a timeout in milliseconds
 * (-1 waits forever, 0 does not wait); each has an _nb variant that returns
 * a request to test or wait on later.
 *
 * The handle holds no global state: two handles in one process work (each
 * has its own thread and socket).  Handles are not thread-safe: use one from
 * one thread at a time.  Every call that can fail returns 0 or a negative
 * code from <muster/error.h>.
 *
 * A program that never links this library still runs under muster: it gets
 * torchrun's environment (RANK, WORLD_SIZE, ...) and restarts.
 */
#ifndef MUSTER_WORKER_H
#define MUSTER_WORKER_H

#include <stddef.h>
#include <stdint.h>

#include <muster/error.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct muster_worker muster_worker_t;
typedef struct muster_req muster_req_t;

typedef struct muster_worker_opts {
  /* Agent endpoint; NULL = $MUSTER_AGENT_ENDPOINT. */
  const char *endpoint;
  /* How long init waits for the agent's answer; 0 = 10 s default. */
  int connect_timeout_ms;
} muster_worker_opts_t;

/* One rank's address for the data plane. */
typedef struct muster_peer {
  const char *host; /* valid while the handle lives and the epoch is current */
  int port;         /* MUSTER_PEER_PORT of that rank */
  const char *role;
  int role_rank;
  int node_rank;
  int local_rank;
} muster_peer_t;

/* Open a handle from the environment (opts may be NULL).  On success *out is
 * owned by the caller (muster_worker_finalize).  Fails with MUSTER_ENOENV when
 * not started by muster, MUSTER_EPEERLOST at once when the agent's ipc
 * socket does not exist (the agent is gone), MUSTER_ETIMEDOUT when the agent
 * does not answer. */
MUSTER_EXPORT int muster_worker_init (muster_worker_t **out,
                                      const muster_worker_opts_t *opts);

/* Tell the agent this worker is done with muster, stop the thread and free
 * the handle.  Accepts NULL and a pointer to NULL; sets *w_p to NULL. */
MUSTER_EXPORT void muster_worker_finalize (muster_worker_t **w_p);

/* Place in the gang for the current epoch. */
MUSTER_EXPORT int muster_worker_rank (const muster_worker_t *w);
MUSTER_EXPORT int muster_worker_world (const muster_worker_t *w);
MUSTER_EXPORT int muster_worker_local_rank (const muster_worker_t *w);
MUSTER_EXPORT int muster_worker_local_world (const muster_worker_t *w);
MUSTER_EXPORT int muster_worker_node_rank (const muster_worker_t *w);
MUSTER_EXPORT int muster_worker_nnodes (const muster_worker_t *w);
MUSTER_EXPORT int muster_worker_role_rank (const muster_worker_t *w);
MUSTER_EXPORT int muster_worker_role_world (const muster_worker_t *w);
MUSTER_EXPORT int muster_worker_restart_count (const muster_worker_t *w);
MUSTER_EXPORT uint64_t muster_worker_epoch (const muster_worker_t *w);
/* In-place mode: the rank whose state this worker must copy before it
 * trains, because it joined the gang in the current epoch; -1 when there is
 * nothing to copy. */
MUSTER_EXPORT int muster_worker_sync_from (const muster_worker_t *w);
/* Strings owned by the handle; do not free. */
MUSTER_EXPORT const char *muster_worker_role (const muster_worker_t *w);
MUSTER_EXPORT const char *muster_worker_job (const muster_worker_t *w);

/* A membership change: the gang entered a new epoch.  In in-place mode the
 * worker keeps running with a new rank and world; in restart mode workers
 * are restarted instead and see their epoch at init. */
typedef struct muster_membership {
  uint64_t epoch;
  int rank, world;
  int local_rank, local_world;
  int role_rank, role_world;
  int node_rank, nnodes;
  int sync_from;      /* -1, or the rank to copy state from (new member) */
  const char *reason; /* why the epoch began ("" if not said); valid for
                         the handle's life */
} muster_membership_t;

/* Called on libmuster's own thread, right after the new epoch is in effect
 * (getters already answer for it): keep it short and thread-safe, e.g. set
 * a flag the training loop checks.  fn NULL removes the callback. */
typedef void (*muster_membership_fn) (muster_worker_t *w,
                                      const muster_membership_t *m,
                                      void *arg);
MUSTER_EXPORT int muster_worker_on_membership (muster_worker_t *w,
                                               muster_membership_fn fn,
                                               void *arg);

/* Pollable form: 1 and *out filled if the epoch changed since the last call
 * (or since init), 0 if not.  Never blocks. */
MUSTER_EXPORT int muster_worker_membership_changed (muster_worker_t *w,
                                                    muster_membership_t *out);

/* ------------------------------------------------------------ checkpoints
 *
 * A checkpoint is of "the state after step S", saved by every worker as
 * one shard and committed by the coordinator only when all shards are
 * durable.  A program reports each finished step with
 * muster_worker_progress(); when muster_worker_ckpt_due() then says 1, it
 * saves its state with muster_worker_ckpt_save() (or writes the file
 * itself at muster_worker_ckpt_path() and calls
 * muster_worker_ckpt_save_file()).  With MUSTER_CKPT_ASYNC the state is
 * copied and training goes on while a background thread writes and
 * fsyncs it. */
typedef struct muster_ckpt_request {
  uint64_t step;        /* save the state after this step */
  int now;              /* 1: save at once (the job reports no steps) */
  uint64_t deadline_ms; /* how long the coordinator waits for the shards */
  const char *reason;   /* "periodic", "request", "preempt" */
} muster_ckpt_request_t;

#define MUSTER_CKPT_ASYNC 1
/* Asynchronous, and the copy itself is made on the background thread while
 * the program goes on reading (not writing!) its state, e.g. during the
 * next forward and backward pass; call muster_worker_ckpt_copied() before
 * the state changes again (CheckFreq's scheme).  The training stall is
 * then next to nothing. */
#define MUSTER_CKPT_OVERLAP 2

/* Called on libmuster's thread when a checkpoint is requested (keep it
 * short; set a flag).  fn NULL removes it. */
typedef void (*muster_ckpt_fn) (muster_worker_t *w,
                                const muster_ckpt_request_t *rq, void *arg);
MUSTER_EXPORT int muster_worker_on_ckpt (muster_worker_t *w, muster_ckpt_fn fn,
                                         void *arg);
/* 1 (and *out filled) if this worker should save now: a checkpoint is
 * requested and the last step reported is its step (or it is `now`).
 * A worker that already went past the step answers for itself
 * (MUSTER_EPASSED) and the coordinator asks again for a later step. */
MUSTER_EXPORT int muster_worker_ckpt_due (muster_worker_t *w,
                                          muster_ckpt_request_t *out);
/* Save `len` bytes as this worker's shard of the due checkpoint.  Without
 * flags it returns once the shard is durable and reported, or the error
 * that kept it from being written (-ENOSPC, -EROFS, -EACCES, ...: the
 * coordinator is told at once and aborts the checkpoint); with
 * MUSTER_CKPT_ASYNC once the bytes are copied (a later write failure is
 * told by muster_worker_ckpt_outcome and _flush).  The abort status when
 * the checkpoint was aborted after _due said 1; MUSTER_ENOTFOUND if no
 * checkpoint is due. */
MUSTER_EXPORT int muster_worker_ckpt_save (muster_worker_t *w, const void *buf,
                                           size_t len, int flags);
/* After a MUSTER_CKPT_OVERLAP save: block until the state has been copied
 * and may change.  0 at once when no copy is in progress. */
MUSTER_EXPORT int muster_worker_ckpt_copied (muster_worker_t *w);
/* Have the background thread prepare a snapshot buffer of `len` bytes now,
 * so the first asynchronous save does not pay for fresh memory. */
MUSTER_EXPORT int muster_worker_ckpt_reserve (muster_worker_t *w, size_t len);
/* Where to write the shard yourself (then muster_worker_ckpt_save_file). */
MUSTER_EXPORT int muster_worker_ckpt_path (muster_worker_t *w, char *buf,
                                           size_t size);
MUSTER_EXPORT int muster_worker_ckpt_save_file (muster_worker_t *w);
/* A shard written by another process or thread, e.g. a fork()ed child
 * serializing its copy-on-write view of the state while the program
 * trains on (the training stall is the fork; muster.torch.save does so).
 * _claim takes the due checkpoint on the program's thread, as
 * muster_worker_ckpt_save would (same errors), and puts in `path` where
 * the shard must be written; the save is then in flight (ckpt_flush waits
 * for it).  _claim_done, from any thread, once the writer has closed the
 * file: status 0 fsyncs, checksums and reports it; a negative status
 * reports that failure (the partial file is removed).  It frees *claim_p
 * and returns the save's result. */
typedef struct muster_ckpt_claim muster_ckpt_claim_t;
MUSTER_EXPORT int muster_worker_ckpt_claim (muster_worker_t *w, char *path,
                                            size_t size,
                                            muster_ckpt_claim_t **claim);
MUSTER_EXPORT int muster_worker_ckpt_claim_done (muster_worker_t *w,
                                                 muster_ckpt_claim_t **claim_p,
                                                 int status);
/* How a checkpoint this worker was asked to save ended.  A save that
 * returned 0 only says the bytes were handed over (MUSTER_CKPT_ASYNC) or
 * that this worker's shard is durable: the checkpoint exists only once
 * every shard is and the coordinator committed it. */
typedef struct muster_ckpt_outcome {
  uint64_t step;
  int status;         /* 0: committed; else why not, a negative code */
  const char *reason; /* "" when committed, else a sentence ("this worker
                         could not write its shard: No space left on device
                         (ENOSPC on /ck/...)", "timed out waiting for rank
                         3 (1 of 4 missing)"); valid until the next call */
} muster_ckpt_outcome_t;
/* 1 and *out if a checkpoint this worker was asked to save ended since the
 * last call: committed, or failed (this worker's own write failed, seen at
 * once; or the coordinator aborted the commit).  Only the newest outcome
 * is kept.  0 if none; never blocks.  Call it from one thread. */
MUSTER_EXPORT int muster_worker_ckpt_outcome (muster_worker_t *w,
                                              muster_ckpt_outcome_t *out);
/* Block until every asynchronous save is durable; returns the status of
 * the last one (0 or a negative code). */
MUSTER_EXPORT int muster_worker_ckpt_flush (muster_worker_t *w);

/* Where to restore from at start: the newest complete checkpoint of the
 * job.  The shard is the one of the same role and role rank, or, when the
 * role has other replicas now, role rank modulo the saved role size. */
typedef struct muster_restore {
  uint64_t step;
  const char *path; /* the shard file; valid for the handle's life */
  uint64_t size;
  int from_rank;    /* the rank that wrote it */
} muster_restore_t;
/* 0 and *out; MUSTER_ENOCKPT if the job starts fresh; MUSTER_ECORRUPT if
 * the shard fails its checksum. */
MUSTER_EXPORT int muster_worker_restore (muster_worker_t *w,
                                         muster_restore_t *out);

/* Parameter servers: the pieces of the saved shards that hold the hash
 * buckets this server owns now (the number of servers may have changed). */
typedef struct muster_bucket_slice {
  const char *path;      /* shard file */
  uint64_t bucket_first; /* first bucket of the piece */
  uint64_t bucket_count;
  uint64_t offset;       /* index of bucket_first within that shard */
} muster_bucket_slice_t;
/* *out is malloc'd (free() it); *n slices in bucket order. */
MUSTER_EXPORT int muster_worker_restore_buckets (muster_worker_t *w,
                                                 muster_bucket_slice_t **out,
                                                 size_t *n);
/* The buckets this server owns: [*first, *first + *count). */
MUSTER_EXPORT int muster_worker_buckets (muster_worker_t *w, uint64_t *first,
                                         uint64_t *count);

/* ------------------------------------------------- live bucket migration
 *
 * A job with a role named "ps" and nbuckets > 0 (muster run --nbuckets)
 * gets, every epoch, a bucket map: server i of P (role rank order) owns
 * the contiguous range of muster_worker_buckets().  When the servers change
 * in an in-place epoch (a PS node joins or leaves; survivors keep running)
 * the plan also lists the moves from the previous epoch's map: which
 * buckets go from whom to whom, each bucket owned by exactly one server
 * before and after, and only buckets whose server changed moving.
 *
 * The protocol (docs/ps.md): every member reads the plan.  A destination
 * server copies each move's buckets from its source (over the program's
 * own data plane; the source's host and MUSTER_PEER_PORT are in the move)
 * and reports it with muster_worker_bucket_moved().  Every member of the
 * epoch (servers and workers) then calls muster_worker_migration_done(),
 * a barrier that returns once every move of the plan is reported: from
 * then on everyone uses the new map.  Until it returns, sources keep
 * serving the buckets they are giving away (or workers pause; the
 * program chooses).  A source that left the job (scale down: its node
 * shut down with agent.leave) is not a member of the new epoch: it keeps
 * serving its buckets during its grace period until they are copied. */
typedef struct muster_bucket_server {
  int role_rank;      /* its role rank in this epoch */
  uint64_t first;     /* owns buckets [first, first + count) */
  uint64_t count;
  const char *host;   /* its data-plane address: host and */
  int port;           /* MUSTER_PEER_PORT */
} muster_bucket_server_t;

typedef struct muster_bucket_move {
  uint64_t first;      /* buckets [first, first + count) */
  uint64_t count;
  int from_rank;       /* source's role rank now; -1: it left the job and
                          serves the buckets until they are copied */
  int from_old_rank;   /* source's role rank in the previous epoch */
  const char *from_host; /* source's data-plane address */
  int from_port;
  int to_rank;         /* destination's role rank now */
  int lost;            /* 1: the source is gone (crashed, node lost):
                          nothing to copy, start these buckets empty (or
                          from a checkpoint) */
} muster_bucket_move_t;

typedef struct muster_bucket_plan {
  uint64_t epoch;      /* the epoch this map is for */
  uint64_t prev_epoch; /* epoch the moves start from; 0 = no moves */
  uint64_t nbuckets;
  size_t nservers;
  const muster_bucket_server_t *servers; /* role rank order */
  size_t nmoves;
  const muster_bucket_move_t *moves;     /* bucket order */
} muster_bucket_plan_t;

/* The bucket map and moves of the current epoch, waiting up to timeout_ms
 * for it.  *out is owned by the caller (muster_bucket_plan_free); its
 * strings live as long as it does.  MUSTER_ENOTFOUND: the job has no ps
 * role or no nbuckets (timeout 0, or MUSTER_ETIMEDOUT after a wait);
 * MUSTER_EMEMBERSHIP: a newer epoch began, ask again. */
MUSTER_EXPORT int muster_worker_bucket_plan (muster_worker_t *w,
                                             int timeout_ms,
                                             muster_bucket_plan_t **out);
/* Free a plan; accepts NULL and a pointer to NULL; sets *p to NULL. */
MUSTER_EXPORT void muster_bucket_plan_free (muster_bucket_plan_t **p);
/* Index into p->servers of the server owning `bucket`, or MUSTER_EINVAL
 * when bucket >= nbuckets. */
MUSTER_EXPORT int muster_bucket_plan_owner (const muster_bucket_plan_t *p,
                                            uint64_t bucket);
/* Report move p->moves[move] done (its buckets are now served by the
 * destination).  Called by the destination.  MUSTER_EINVAL for a move
 * index out of range or a plan of another epoch. */
MUSTER_EXPORT int muster_worker_bucket_moved (muster_worker_t *w,
                                              const muster_bucket_plan_t *p,
                                              size_t move, int timeout_ms);
/* The barrier that completes the migration: returns 0 once every member
 * of the epoch called it, by which time every move is reported (a server
 * must report its incoming moves first: MUSTER_ENOTFOUND names the first
 * one it did not).  A plan without moves needs no barrier (0 at once). */
MUSTER_EXPORT int muster_worker_migration_done (muster_worker_t *w,
                                                const muster_bucket_plan_t *p,
                                                int timeout_ms);
/* Non-blocking form, for a server that must go on serving its peers'
 * copies while it waits: the checks are made at once (their error is
 * returned and no request made); *req finishes with the barrier
 * (muster_req_wait).  With no moves *req is NULL and 0 is returned. */
MUSTER_EXPORT int muster_worker_migration_done_nb (
    muster_worker_t *w, const muster_bucket_plan_t *p, int timeout_ms,
    muster_req_t **req);

/* Address of `rank` (0..world-1).  MUSTER_EINVAL for a rank out of range. */
MUSTER_EXPORT int muster_worker_peer (const muster_worker_t *w, int rank,
                                      muster_peer_t *out);

/* Store `len` bytes under `key` for this job and epoch (visible to every
 * worker of the epoch; gone at the next epoch). */
MUSTER_EXPORT int muster_worker_kv_put (muster_worker_t *w, const char *key,
                                        const void *val, size_t len,
                                        int timeout_ms);

/* Read `key`, waiting up to timeout_ms for some worker to put it.  On
 * success *val is a malloc'd copy the caller frees with free(), *len its
 * size.  MUSTER_ENOTFOUND if absent (timeout 0), MUSTER_ETIMEDOUT after
 * the wait. */
MUSTER_EXPORT int muster_worker_kv_get (muster_worker_t *w, const char *key,
                                        void **val, size_t *len,
                                        int timeout_ms);

/* Read-modify-write on the same store, atomic in the coordinator (what a
 * torch.distributed Store needs beyond put and get; docs/worker-api.md).
 * timeout_ms bounds the wait for the answer, as for kv_put. */

/* Add `delta` to the decimal integer `key` holds (an absent key counts as
 * 0) and store the sum in decimal; *value receives it.  MUSTER_EINVAL if
 * the key holds something else or the sum overflows int64. */
MUSTER_EXPORT int muster_worker_kv_add (muster_worker_t *w, const char *key,
                                        int64_t delta, int64_t *value,
                                        int timeout_ms);

/* Compare-and-set: if `key` holds the `expected_len` bytes at `expected`
 * (an empty expected value also matches an absent key), store `desired`.
 * On 0, *val (malloc'd, free() it) and *len hold the key's value after the
 * operation: `desired` on a match, the unchanged value otherwise.
 * MUSTER_ENOTFOUND if the key is absent (and expected was not empty):
 * nothing was stored. */
MUSTER_EXPORT int muster_worker_kv_cas (muster_worker_t *w, const char *key,
                                        const void *expected,
                                        size_t expected_len,
                                        const void *desired,
                                        size_t desired_len, void **val,
                                        size_t *len, int timeout_ms);

/* Delete `key`; *existed is 1 if it was there, 0 if not. */
MUSTER_EXPORT int muster_worker_kv_del (muster_worker_t *w, const char *key,
                                        int *existed, int timeout_ms);

/* The number of keys of this job and epoch that start with `prefix` (NULL
 * or "" = every key; barrier names are not keys). */
MUSTER_EXPORT int muster_worker_kv_count (muster_worker_t *w,
                                          const char *prefix,
                                          uint64_t *count, int timeout_ms);

/* Wait until every worker of the epoch has entered barrier `name`. */
MUSTER_EXPORT int muster_worker_barrier (muster_worker_t *w, const char *name,
                                         int timeout_ms);

/* Report progress (liveness for hang detection); never blocks. */
MUSTER_EXPORT int muster_worker_progress (muster_worker_t *w, uint64_t step);

/* Service jobs: report this worker's load figure (requests per second,
 * queue length: the unit the job's autoscale_target is written in); a
 * replica's load is the sum of its workers'.  Never blocks; calls in quick
 * succession are coalesced (the latest figure is sent) and the agent
 * forwards at most one per worker every 100 ms.  0, or MUSTER_EINVAL for
 * a NULL handle or a load that is negative, not finite or above 1e12. */
MUSTER_EXPORT int muster_worker_report_load (muster_worker_t *w, double load);

/* Non-blocking variants: start the request and return at once; *req is
 * owned by the caller (muster_req_free). */
MUSTER_EXPORT int muster_worker_kv_get_nb (muster_worker_t *w,
                                           const char *key, int timeout_ms,
                                           muster_req_t **req);
MUSTER_EXPORT int muster_worker_barrier_nb (muster_worker_t *w,
                                            const char *name, int timeout_ms,
                                            muster_req_t **req);
/* 1 if finished, 0 if not yet. */
MUSTER_EXPORT int muster_req_done (muster_req_t *req);
/* Wait up to timeout_ms; returns the request's result, MUSTER_ETIMEDOUT if
 * it is still running.  For kv_get, *val and *len receive the value (may be
 * NULL to ignore; the caller frees *val). */
MUSTER_EXPORT int muster_req_wait (muster_req_t *req, int timeout_ms,
                                   void **val, size_t *len);
/* Free a request (finished or not); accepts NULL; sets *req_p to NULL. */
MUSTER_EXPORT void muster_req_free (muster_req_t **req_p);

#ifdef __cplusplus
}
#endif
#endif
