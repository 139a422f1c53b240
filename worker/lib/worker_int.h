/*
 * worker_int.h — libmuster's internal header: the handle, the request
 * object, the epoch snapshot, the actor's state and the calls the source
 * files make on each other.
 *
 * libmuster runs inside the user's training process, so it is built as a
 * front end and an actor thread (STYLE item 8) without czmq: czmq's zsys
 * layer installs SIGINT/SIGTERM handlers and keeps process-wide state (a
 * shared context, a socket registry checked at exit), none of which belongs
 * in somebody else's program.  Plain libzmq and pthreads give the same
 * actor shape with no globals:
 *
 *   worker.c     front end: init/finalize, environment, the public
 *                requests, progress
 *   actor.c      the thread: its sockets, the poll loop, the front end's
 *                commands, deadlines, the link to the agent
 *   actor_msg.c  the thread's conversation with the agent: HELLO, the
 *                requests and their pending list, replies, WORKER_INFO
 *                (membership changes), PROGRESS, BYE
 *   req.c        the request object shared by both sides (refcounted)
 *   info.c       the immutable per-epoch snapshot, getters, peer lookup
 *
 * Threads and ownership.  Each handle has its own ZeroMQ context, so two
 * handles in one process share nothing.  The caller's thread talks to the
 * actor over an inproc PAIR pipe (commands are small structs sent by value;
 * a REQ command hands one reference of a request to the actor).  The actor
 * publishes each epoch's snapshot through an atomic pointer; snapshots are
 * immutable once published and are kept until finalize, so a string a
 * getter returned never dangles while the handle lives.
 */
#ifndef MU_WORKER_INT_H
#define MU_WORKER_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <muster/worker.h>

#include "common/log.h"
#include "common/proto.h"

/* Default for opts->connect_timeout_ms. */
#define MU_WORKER_CONNECT_TIMEOUT_MS 10000
/* Added to a request's timeout for the local deadline: the coordinator's
 * own timeout normally fires first and is reported with its status; the
 * local one only catches an agent or coordinator that never answers. */
#define MU_WORKER_SLACK_MS 1000
/* How long the link to the agent may stay down before every pending and
 * new request fails with MUSTER_EPEERLOST, even with timeout -1.
 * Overridable with $MUSTER_WORKER_LINK_GRACE_MS (tests use a short one). */
#define MU_WORKER_LINK_GRACE_MS 5000
/* ZMTP heartbeats on the ipc link: they find an agent that is stopped or
 * wedged (a dead one closes the socket and is seen at once). */
#define MU_WORKER_HB_IVL_MS 1000
#define MU_WORKER_HB_TIMEOUT_MS 3000
/* Linger given to the DEALER after BYE, so the goodbye leaves the process;
 * only used when the link is up, so finalize never waits on a dead agent. */
#define MU_WORKER_BYE_LINGER_MS 200
/* The pipe between front end and actor (inproc names are per context). */
#define MU_PIPE_EP "inproc://muster-pipe"
/* No deadline. */
#define MU_NO_DEADLINE UINT64_MAX

/* ------------------------------------------------------------- snapshot */

/* Everything WORKER_INFO said about one epoch, validated and copied.
 * Immutable once published; freed only at finalize. */
typedef struct mu_info {
  char *job;
  char *role;
  uint64_t epoch;
  int rank, world;
  int local_rank, local_world;
  int role_rank, role_world;
  int node_rank, nnodes;
  int restart_count;
  int sync_from; /* -1 unless a new member with a rank to copy from */
  char *reason;  /* why the epoch began; "" if not said */
  mu_peer_node_t *nodes; /* sorted by first_rank, non-overlapping */
  size_t n_nodes;
  struct mu_info *older; /* the snapshot this one replaced (kept) */
} mu_info_t;

/* Validate a decoded WORKER_INFO and copy it into a new snapshot.
 * Returns 0 with *out owned by the caller (mu_info_free), MUSTER_EPROTO
 * for inconsistent content, -ENOMEM. */
int mu_info_new (const mu_worker_info_t *wi, mu_info_t **out);

/* Fill a public membership record from a snapshot. */
void mu_info_membership (const mu_info_t *info, muster_membership_t *out);

/* Free a snapshot and every older one chained behind it; accepts NULL. */
void mu_info_free_chain (mu_info_t *info);

/* Address of `rank` in a snapshot: 0, MUSTER_EINVAL (out of range) or
 * MUSTER_ENOTFOUND (no node holds it). */
int mu_info_peer (const mu_info_t *info, int rank, muster_peer_t *out);

/* ------------------------------------------------------------- requests */

typedef enum mu_req_kind {
  MU_REQ_KV_PUT = 1,
  MU_REQ_KV_GET,
  MU_REQ_BARRIER,
  /* torch/kv (kv_rmw.c): the reply's value (cas) or its num, handed to
   * the caller as a malloc'd int64_t (add, del, count) */
  MU_REQ_KV_ADD,
  MU_REQ_KV_CAS,
  MU_REQ_KV_DEL,
  MU_REQ_KV_COUNT
} mu_req_kind_t;

/* What a KV request carries besides its key: the value (kv.put; cas:
 * the expected value), cas's desired value, add's delta. */
typedef struct mu_kv_args {
  const void *val;
  size_t len;
  const void *val2;
  size_t len2;
  int64_t delta;
} mu_kv_args_t;

/* A request in flight.  Lifetime: created by the front end with one
 * reference (the caller's); a second reference goes to the actor with the
 * REQ command.  Whoever drops the last reference frees it, so freeing an
 * unfinished request is safe and the actor's later completion never touches
 * freed memory.  Completion happens once (later completions are ignored). */
struct muster_req {
  /* Shared between the threads, guarded by mu. */
  pthread_mutex_t mu;
  pthread_cond_t cv; /* signalled on completion (CLOCK_MONOTONIC) */
  int refs;
  bool done;
  int status;
  uint8_t *val; /* kv.get value on success, handed over by wait */
  size_t len;

  /* Written by the front end before the hand-off, read-only after. */
  mu_req_kind_t kind;
  uint64_t id;          /* req_id on the wire, unique per handle */
  uint64_t epoch;       /* epoch the request was made in */
  uint64_t deadline_ms; /* local deadline (mu_now_ms), MU_NO_DEADLINE */
  muster_worker_t *w;   /* for cancel; valid while the request is not done */

  /* The actor's, after the hand-off. */
  char *buf; /* encoded message, until it is sent */
  size_t buflen;
  bool lost; /* the link dropped while this request was outstanding */
  struct muster_req *prev, *next; /* pending list */
};

/* A new request with one reference, or NULL on allocation failure. */
muster_req_t *mu_req_new (mu_req_kind_t kind);
void mu_req_ref (muster_req_t *req);
/* Drop one reference; the last one frees the request. */
void mu_req_unref (muster_req_t *req);
/* Finish the request with `status` and (kv.get, status 0) a value whose
 * ownership passes to the request.  Returns false, freeing val, if it was
 * already finished. */
bool mu_req_complete (muster_req_t *req, int status, uint8_t *val,
                      size_t len);

/* --------------------------------------------------------------- handle */

typedef struct mu_actor mu_actor_t;

/* Commands on the pipe, front end -> actor (sent by value). */
typedef enum mu_cmd_op {
  MU_CMD_REQ = 1, /* req: a request; one reference passes to the actor */
  MU_CMD_CANCEL,  /* arg: req_id of a request its caller freed */
  MU_CMD_PROGRESS, /* wake up: w->progress_flag is set */
  MU_CMD_STOP,     /* say BYE, finish everything with MUSTER_ECLOSED, exit */
  MU_CMD_SEND      /* blob: an encoded message to send as is (ckpt.saved) */
} mu_cmd_op_t;

/* An encoded message handed to the actor, which frees it. */
typedef struct mu_blob {
  char *buf;
  size_t len;
} mu_blob_t;

typedef struct mu_cmd {
  mu_cmd_op_t op;
  uint64_t arg;
  muster_req_t *req;
  mu_blob_t *blob;
} mu_cmd_t;

/* Checkpoint state of a handle (ckpt.c). */
typedef struct mu_wckpt mu_wckpt_t;

struct muster_worker {
  void *ctx;     /* this handle's own ZeroMQ context */
  void *pipe_fe; /* front end's end of the pipe (PAIR) */
  pthread_mutex_t fe_mu; /* serialises sends on pipe_fe */
  pthread_mutex_t cb_mu; /* guards the membership callback */
  mu_wckpt_t *ck;        /* checkpoint requests and saves (ckpt.c) */
  atomic_bool progress_any; /* a step was ever reported */
  muster_membership_fn on_membership;
  void *on_membership_arg;
  uint64_t seen_epoch;   /* last epoch membership_changed reported */
  mu_actor_t *actor;
  pthread_t thread;
  bool thread_running;

  /* Current snapshot; written by the actor (release), read by getters
   * (acquire).  Older snapshots hang off ->older. */
  _Atomic (mu_info_t *) info;

  uint64_t spare_id; /* MUSTER_SPARE: a spare waiting for a place, 0 = not */
  atomic_uint_fast64_t next_id; /* last req_id handed out */
  atomic_uint_fast64_t progress_step;
  atomic_bool progress_flag; /* a PROGRESS is waiting to be sent */
  atomic_bool link_dead;     /* agent gone past the grace period */
  /* service: muster_worker_report_load (the latest, x 1000) */
  atomic_uint_fast64_t load_milli;
  atomic_bool load_flag;     /* a worker.load is waiting to be sent */

  pid_t pid; /* of the process that opened the handle */

  /* From the environment, for HELLO. */
  char *job;
  uint64_t hello_rank;
  uint64_t hello_epoch;
  uint64_t link_grace_ms;

  mu_log_t log;
};

/* Current snapshot (never NULL once init succeeded). */
static inline mu_info_t *
mu_worker_info (const muster_worker_t *w)
{
  return atomic_load_explicit (&((muster_worker_t *)w)->info,
                               memory_order_acquire);
}

/* Send a command to the actor; 0 or -errno.  flags: 0 or ZMQ_DONTWAIT. */
int mu_worker_send_cmd (muster_worker_t *w, const mu_cmd_t *cmd, int flags);

/* Encode one KV request or barrier (key: the barrier name, count's
 * prefix) and hand it to the actor.  On success *out holds the caller's
 * reference; on failure nothing was started.  args may be NULL. */
int mu_worker_start_kv (muster_worker_t *w, mu_req_kind_t kind,
                        const char *key, const mu_kv_args_t *args,
                        int timeout_ms, muster_req_t **out);

/* ---------------------------------------------------------------- actor */

/* Messages handled per socket per loop turn, so no source starves another. */
#define MU_BATCH 256

/* The actor thread's state.  Touched only by the actor thread while it
 * runs (and by the front end before it starts and after it is joined). */
struct mu_actor {
  muster_worker_t *w;
  void *pipe;    /* actor's end of the pipe (PAIR) */
  void *dealer;  /* to the agent */
  void *monitor; /* the DEALER's monitor events (PAIR) */
  bool monitoring;

  muster_req_t *head, *tail; /* pending, in issue order */
  bool attached;   /* the first WORKER_INFO was applied */
  bool ready_sent; /* init has its answer */
  bool stopping;
  bool link_up;        /* a ZMTP session with the agent is up */
  bool had_disconnect; /* say HELLO again at the next handshake */
  uint64_t down_since; /* mu_now_ms() when the link went down */
  uint64_t dropped;    /* malformed or unexpected messages */
  uint64_t stale;      /* replies to requests no longer pending */
};

/* The conversation with the agent (actor_msg.c; actor thread only). */
void mu_actor_append (mu_actor_t *a, muster_req_t *r);
muster_req_t *mu_actor_find (mu_actor_t *a, uint64_t id);
/* Finish a request the actor holds (`listed`: it is on the pending list)
 * with status and value, and drop the actor's reference. */
void mu_actor_finish (mu_actor_t *a, muster_req_t *r, bool listed,
                      int status, uint8_t *val, size_t len);
void mu_actor_finish_all (mu_actor_t *a, int status);
/* HELLO with the current rank and epoch (those of the environment before
 * the first WORKER_INFO). */
void mu_actor_say_hello (mu_actor_t *a);
/* PROGRESS with the latest step, if the front end flagged one. */
void mu_actor_say_progress (mu_actor_t *a);
/* BYE, with a short linger if the link is up. */
void mu_actor_say_bye (mu_actor_t *a);
/* Send pending requests in order; returns how many are still unsent and
 * sendable (0 while the link is down: they wait for the next handshake). */
int mu_actor_flush (mu_actor_t *a);
/* Receive and handle up to MU_BATCH messages from the agent. */
void mu_actor_on_dealer (mu_actor_t *a);

/* Actor lifecycle (actor.c).  mu_actor_new creates and connects the
 * actor's sockets in w->ctx (from the caller's thread; the sockets migrate
 * to the actor thread at pthread_create, which is a full memory barrier).
 * mu_actor_start starts the thread with every signal blocked, so the user's
 * signal handlers keep running in the user's threads.  After the thread is
 * joined, mu_actor_destroy closes the sockets and frees the actor. */
int mu_actor_new (muster_worker_t *w, const char *endpoint,
                  mu_actor_t **out);
int mu_actor_start (mu_actor_t *a, pthread_t *thread);
void mu_actor_destroy (mu_actor_t **a_p);

/* ckpt.c */
int mu_wckpt_new (mu_wckpt_t **out);
/* Finish asynchronous saves (their reports still go out): call while the
 * actor runs. */
void mu_wckpt_stop_writer (mu_wckpt_t *ck);
/* Free; only once the actor thread (which uses it) has stopped. */
void mu_wckpt_destroy (mu_wckpt_t **ck_p);
/* Actor thread: a ckpt.request / ckpt.done from the agent. */
void mu_wckpt_on_request (muster_worker_t *w, const mu_ckpt_request_t *rq);
void mu_wckpt_on_done (muster_worker_t *w, const mu_ckpt_done_t *d);

#endif
