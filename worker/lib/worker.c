/*
 * worker.c — libmuster's front end: the public calls that run in the
 * training process's own thread.
 *
 * muster_worker_init() reads the environment the agent set, builds the
 * handle (its own ZeroMQ context, the inproc pipe, the actor's sockets),
 * starts the actor thread and waits for the agent's WORKER_INFO — the
 * actor reports it over the pipe — for at most connect_timeout_ms.
 * Every request (kv put/get, barrier) is encoded here, in the caller's
 * thread, with the epoch and rank of the snapshot the caller sees, and
 * handed to the actor with one command; the blocking calls are the _nb
 * machinery plus a wait.  Errors are returned, never asserted: this code
 * runs inside somebody else's program (STYLE item 5).  Progress reports
 * are a flag and a number the actor picks up, so muster_worker_progress()
 * costs at most one non-blocking inproc send however often it is called.
 *
 * Environment: MUSTER_AGENT_ENDPOINT (unless opts->endpoint), MUSTER_JOB_ID,
 * RANK (or MUSTER_RANK), MUSTER_EPOCH; optional MUSTER_LOG_LEVEL (default
 * warn) and MUSTER_WORKER_LINK_GRACE_MS (how long a lost agent link may stay
 * down before requests fail with MUSTER_EPEERLOST; default 5 s).
 *
 * An ipc endpoint whose socket file does not exist fails at once with
 * MUSTER_EPEERLOST (the agent is gone) instead of waiting out the timeout.
 *
 * Fork: a ZeroMQ context must not be used in a forked child; finalize in a
 * child other than the one that opened the handle frees nothing and
 * returns (the parent's handle is untouched).
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include <muster/error.h>
#include <muster/worker.h>

#include "common/util.h"
#include "worker/lib/worker_int.h"

/* ------------------------------------------------------------- commands */

int
mu_worker_send_cmd (muster_worker_t *w, const mu_cmd_t *cmd, int flags)
{
  int rc;
  pthread_mutex_lock (&w->fe_mu);
  do
    rc = zmq_send (w->pipe_fe, cmd, sizeof *cmd, flags) < 0 ? -errno : 0;
  while (rc == -EINTR && !(flags & ZMQ_DONTWAIT));
  pthread_mutex_unlock (&w->fe_mu);
  return rc;
}

/* ------------------------------------------------------------ lifecycle */

/* Stop the actor (if running) and free everything the handle owns. */
static void
mu_worker_free (muster_worker_t *w)
{
  mu_wckpt_stop_writer (w->ck); /* flush async saves while the actor runs */
  if (w->thread_running)
    {
      mu_cmd_t stop = { .op = MU_CMD_STOP };
      if (mu_worker_send_cmd (w, &stop, 0) != 0)
        {
          /* The pipe refused a blocking inproc send: nothing sane is left
           * to do but leave the thread and context alone (leak). */
          mu_log_err (&w->log, "WORKER-STOP", "cannot stop the worker thread");
          return;
        }
      pthread_join (w->thread, NULL);
      w->thread_running = false;
    }
  mu_actor_destroy (&w->actor);
  if (w->pipe_fe)
    zmq_close (w->pipe_fe);
  if (w->ctx)
    while (zmq_ctx_term (w->ctx) != 0 && errno == EINTR)
      ;
  mu_wckpt_destroy (&w->ck); /* the actor, its other user, has stopped */
  mu_info_free_chain (atomic_load (&w->info));
  free (w->job);
  pthread_mutex_destroy (&w->fe_mu);
  pthread_mutex_destroy (&w->cb_mu);
  free (w);
}

int
muster_worker_on_membership (muster_worker_t *w, muster_membership_fn fn,
                             void *arg)
{
  if (w == NULL)
    return MUSTER_EINVAL;
  pthread_mutex_lock (&w->cb_mu);
  w->on_membership = fn;
  w->on_membership_arg = arg;
  pthread_mutex_unlock (&w->cb_mu);
  return 0;
}

int
muster_worker_membership_changed (muster_worker_t *w, muster_membership_t *out)
{
  if (w == NULL || out == NULL)
    return MUSTER_EINVAL;
  const mu_info_t *info = mu_worker_info (w);
  if (info == NULL || info->epoch <= w->seen_epoch)
    return 0;
  w->seen_epoch = info->epoch;
  mu_info_membership (info, out);
  return 1;
}

/* Wait for the actor's READY: the agent's verdict on our HELLO. */
static int
mu_worker_wait_ready (muster_worker_t *w, int timeout_ms)
{
  uint64_t until = mu_now_ms () + (uint64_t)timeout_ms;
  for (;;)
    {
      uint64_t now = mu_now_ms ();
      long left = now >= until ? 0 : (long)(until - now);
      zmq_pollitem_t item = { w->pipe_fe, 0, ZMQ_POLLIN, 0 };
      int n = zmq_poll (&item, 1, left);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return -errno;
      if (n == 0)
        return MUSTER_ETIMEDOUT;
      int status = 0;
      int got = zmq_recv (w->pipe_fe, &status, sizeof status, ZMQ_DONTWAIT);
      if (got < 0 && (errno == EINTR || errno == EAGAIN))
        continue;
      if (got != (int)sizeof status)
        return MUSTER_EINTERNAL;
      return status;
    }
}

/* A non-empty environment variable, or NULL. */
static const char *
mu_env (const char *name)
{
  const char *v = getenv (name);
  return v && *v ? v : NULL;
}

int
muster_worker_init (muster_worker_t **out, const muster_worker_opts_t *opts)
{
  if (out == NULL)
    return MUSTER_EINVAL;
  *out = NULL;
  if (opts != NULL && opts->connect_timeout_ms < 0)
    return MUSTER_EINVAL;
  const char *endpoint = opts && opts->endpoint && *opts->endpoint
                             ? opts->endpoint
                             : mu_env ("MUSTER_AGENT_ENDPOINT");
  const char *job = mu_env ("MUSTER_JOB_ID");
  const char *rank_s = mu_env ("RANK");
  if (rank_s == NULL)
    rank_s = mu_env ("MUSTER_RANK");
  const char *epoch_s = mu_env ("MUSTER_EPOCH");
  if (endpoint == NULL || job == NULL || rank_s == NULL || epoch_s == NULL)
    return MUSTER_ENOENV;
  uint64_t rank, epoch;
  if (mu_parse_u64 (rank_s, &rank) != 0 || rank > INT_MAX
      || mu_parse_u64 (epoch_s, &epoch) != 0)
    return MUSTER_EINVAL;
  if (strlen (job) > MU_PROTO_MAX_STR)
    return MUSTER_ETOOBIG;
  /* The agent binds its ipc socket before it starts any worker and
   * removes it only when it exits: a socket file that is not there means
   * the agent is gone, which waiting out the timeout would only hide. */
  if (strncmp (endpoint, "ipc://", 6) == 0 && endpoint[6] != '@'
      && access (endpoint + 6, F_OK) != 0 && errno == ENOENT)
    return MUSTER_EPEERLOST;
  int timeout_ms = opts && opts->connect_timeout_ms > 0
                       ? opts->connect_timeout_ms
                       : MU_WORKER_CONNECT_TIMEOUT_MS;
  /* A spare (MUSTER_SPARE, worker/agent_spare.c) waits for a place in an
   * epoch as long as it takes: its agent answers when a worker is lost,
   * and kills it when the job ends. */
  uint64_t spare_id = 0;
  const char *spare_s = mu_env ("MUSTER_SPARE");
  if (spare_s != NULL && mu_parse_u64 (spare_s, &spare_id) == 0)
    timeout_ms = INT_MAX;

  muster_worker_t *w = calloc (1, sizeof *w);
  if (w == NULL)
    return -ENOMEM;
  if (pthread_mutex_init (&w->fe_mu, NULL) != 0)
    {
      free (w);
      return -ENOMEM;
    }
  if (pthread_mutex_init (&w->cb_mu, NULL) != 0)
    {
      pthread_mutex_destroy (&w->fe_mu);
      free (w);
      return -ENOMEM;
    }
  if (mu_wckpt_new (&w->ck) != 0)
    {
      pthread_mutex_destroy (&w->cb_mu);
      pthread_mutex_destroy (&w->fe_mu);
      free (w);
      return -ENOMEM;
    }
  w->pid = getpid ();
  w->hello_rank = rank;
  w->hello_epoch = epoch;
  w->spare_id = spare_id;
  w->link_grace_ms = MU_WORKER_LINK_GRACE_MS;
  const char *grace = mu_env ("MUSTER_WORKER_LINK_GRACE_MS");
  uint64_t g;
  /* The variable's name says milliseconds: a bare number is ms here (a
   * number with a unit is read by the one duration rule). */
  if (grace != NULL
      && (mu_parse_u64 (grace, &g) == 0 || mu_parse_duration_ms (grace, &g) == 0))
    w->link_grace_ms = g;
  mu_log_init (&w->log, "libmuster");
  w->log.level = MU_LOG_WARN;
  const char *level = mu_env ("MUSTER_LOG_LEVEL");
  if (level != NULL)
    (void)mu_log_parse_level (level, &w->log.level);

  int rc = 0;
  if ((w->job = strdup (job)) == NULL)
    {
      rc = -ENOMEM;
      goto fail;
    }
  if ((w->ctx = zmq_ctx_new ()) == NULL)
    {
      rc = errno ? -errno : -ENOMEM;
      goto fail;
    }
  /* Unsent messages never hold up zmq_ctx_term (linger is also set to 0
   * on every socket; only BYE gets a short linger). */
  (void)zmq_ctx_set (w->ctx, ZMQ_BLOCKY, 0);
  int zero = 0;
  if ((w->pipe_fe = zmq_socket (w->ctx, ZMQ_PAIR)) == NULL
      || zmq_setsockopt (w->pipe_fe, ZMQ_LINGER, &zero, sizeof zero) != 0
      || zmq_bind (w->pipe_fe, MU_PIPE_EP) != 0)
    {
      rc = -errno;
      goto fail;
    }
  if ((rc = mu_actor_new (w, endpoint, &w->actor)) != 0)
    goto fail;
  if ((rc = mu_actor_start (w->actor, &w->thread)) != 0)
    goto fail;
  w->thread_running = true;
  if ((rc = mu_worker_wait_ready (w, timeout_ms)) != 0)
    goto fail;
  w->seen_epoch = mu_worker_info (w)->epoch;
  *out = w;
  return 0;
fail:
  mu_worker_free (w);
  return rc;
}

void
muster_worker_finalize (muster_worker_t **w_p)
{
  if (w_p == NULL || *w_p == NULL)
    return;
  muster_worker_t *w = *w_p;
  *w_p = NULL;
  if (getpid () != w->pid)
    return; /* a forked child: the context is the parent's */
  mu_worker_free (w);
}

/* ------------------------------------------------------------- requests */

int
mu_worker_start_kv (muster_worker_t *w, mu_req_kind_t kind, const char *key,
                    const mu_kv_args_t *args, int timeout_ms,
                    muster_req_t **out)
{
  static const mu_kv_args_t none = { 0 };
  const mu_kv_args_t *x = args != NULL ? args : &none;
  const void *val = x->val;
  size_t len = x->len;
  if (w == NULL || key == NULL || out == NULL || timeout_ms < -1
      || (len > 0 && val == NULL) || (x->len2 > 0 && x->val2 == NULL))
    return MUSTER_EINVAL;
  if (strlen (key) > MU_PROTO_MAX_STR || len > MU_PROTO_MAX_STR
      || x->len2 > MU_PROTO_MAX_STR)
    return MUSTER_ETOOBIG;
  const mu_info_t *info = mu_worker_info (w);
  muster_req_t *req = mu_req_new (kind);
  if (req == NULL)
    return -ENOMEM;
  req->id = atomic_fetch_add (&w->next_id, 1) + 1;
  req->epoch = info->epoch;
  req->w = w;
  if (timeout_ms >= 0)
    req->deadline_ms = mu_now_ms () + (uint64_t)timeout_ms
                       + MU_WORKER_SLACK_MS;
  /* On the wire "forever" is UINT64_MAX (the schema has no other way to
   * say it; 0 means "do not wait"). */
  uint64_t wire_timeout = timeout_ms < 0 ? UINT64_MAX : (uint64_t)timeout_ms;

  mu_msg_t m;
  memset (&m, 0, sizeof m);
  switch (kind)
    {
    case MU_REQ_KV_PUT:
      m.type = MU_MSG_KV_PUT;
      m.u.kv_put = (mu_kv_put_t){
        .job = info->job,
        .epoch = info->epoch,
        .rank = (uint64_t)info->rank,
        .req_id = req->id,
        .key = (char *)key,
        .value = { .ptr = (uint8_t *)(val ? val : ""), .len = len },
      };
      break;
    case MU_REQ_KV_GET:
      m.type = MU_MSG_KV_GET;
      m.u.kv_get = (mu_kv_get_t){
        .job = info->job,
        .epoch = info->epoch,
        .rank = (uint64_t)info->rank,
        .req_id = req->id,
        .key = (char *)key,
        .timeout_ms = wire_timeout,
      };
      break;
    case MU_REQ_BARRIER:
      m.type = MU_MSG_BARRIER;
      m.u.barrier = (mu_barrier_t){
        .job = info->job,
        .epoch = info->epoch,
        .rank = (uint64_t)info->rank,
        .req_id = req->id,
        .name = (char *)key,
        /* The coordinator reads a barrier's timeout_ms 0 as "no timeout";
         * 1 ms is the shortest wait it can express, i.e. "do not wait". */
        .timeout_ms = timeout_ms == 0 ? 1 : wire_timeout,
      };
      break;
    case MU_REQ_KV_ADD: /* torch/kv */
      m.type = MU_MSG_KV_ADD;
      m.u.kv_add = (mu_kv_add_t){
        .job = info->job, .epoch = info->epoch,
        .rank = (uint64_t)info->rank, .req_id = req->id,
        .key = (char *)key, .delta = x->delta,
      };
      break;
    case MU_REQ_KV_CAS:
      m.type = MU_MSG_KV_CAS;
      m.u.kv_cas = (mu_kv_cas_t){
        .job = info->job, .epoch = info->epoch,
        .rank = (uint64_t)info->rank, .req_id = req->id,
        .key = (char *)key,
        .expected = { .ptr = (uint8_t *)(val ? val : ""), .len = len },
        .desired = { .ptr = (uint8_t *)(x->val2 ? x->val2 : ""),
                     .len = x->len2 },
      };
      break;
    case MU_REQ_KV_DEL:
      m.type = MU_MSG_KV_DEL;
      m.u.kv_del = (mu_kv_del_t){
        .job = info->job, .epoch = info->epoch,
        .rank = (uint64_t)info->rank, .req_id = req->id,
        .key = (char *)key,
      };
      break;
    case MU_REQ_KV_COUNT:
      m.type = MU_MSG_KV_COUNT;
      m.u.kv_count = (mu_kv_count_t){
        .job = info->job, .epoch = info->epoch,
        .rank = (uint64_t)info->rank, .req_id = req->id,
        .prefix = key[0] ? (char *)key : NULL,
      };
      break;
    }
  int rc = mu_msg_encode (&m, &req->buf, &req->buflen);
  if (rc != 0)
    {
      mu_req_unref (req);
      return rc;
    }
  mu_req_ref (req); /* the actor's reference */
  mu_cmd_t cmd = { .op = MU_CMD_REQ, .req = req };
  if ((rc = mu_worker_send_cmd (w, &cmd, 0)) != 0)
    {
      mu_req_unref (req);
      mu_req_unref (req);
      return rc;
    }
  *out = req;
  return 0;
}

/* kv.put, kv.get and barrier: one value at most. */
static int
mu_worker_start (muster_worker_t *w, mu_req_kind_t kind, const char *key,
                 const void *val, size_t len, int timeout_ms,
                 muster_req_t **out)
{
  mu_kv_args_t args = { .val = val, .len = len };
  return mu_worker_start_kv (w, kind, key, &args, timeout_ms, out);
}

int
muster_worker_kv_put (muster_worker_t *w, const char *key, const void *val,
                      size_t len, int timeout_ms)
{
  muster_req_t *req = NULL;
  int rc = mu_worker_start (w, MU_REQ_KV_PUT, key, val, len, timeout_ms,
                            &req);
  if (rc != 0)
    return rc;
  rc = muster_req_wait (req, -1, NULL, NULL);
  muster_req_free (&req);
  return rc;
}

int
muster_worker_kv_get (muster_worker_t *w, const char *key, void **val,
                      size_t *len, int timeout_ms)
{
  if (val != NULL)
    *val = NULL;
  if (len != NULL)
    *len = 0;
  if (val == NULL || len == NULL)
    return MUSTER_EINVAL;
  muster_req_t *req = NULL;
  int rc = muster_worker_kv_get_nb (w, key, timeout_ms, &req);
  if (rc != 0)
    return rc;
  rc = muster_req_wait (req, -1, val, len);
  muster_req_free (&req);
  return rc;
}

int
muster_worker_barrier (muster_worker_t *w, const char *name, int timeout_ms)
{
  muster_req_t *req = NULL;
  int rc = muster_worker_barrier_nb (w, name, timeout_ms, &req);
  if (rc != 0)
    return rc;
  rc = muster_req_wait (req, -1, NULL, NULL);
  muster_req_free (&req);
  return rc;
}

int
muster_worker_kv_get_nb (muster_worker_t *w, const char *key, int timeout_ms,
                         muster_req_t **req)
{
  if (req != NULL)
    *req = NULL;
  return mu_worker_start (w, MU_REQ_KV_GET, key, NULL, 0, timeout_ms, req);
}

int
muster_worker_barrier_nb (muster_worker_t *w, const char *name,
                          int timeout_ms, muster_req_t **req)
{
  if (req != NULL)
    *req = NULL;
  return mu_worker_start (w, MU_REQ_BARRIER, name, NULL, 0, timeout_ms, req);
}

int
muster_worker_report_load (muster_worker_t *w, double load)
{
  if (w == NULL || !isfinite (load) || load < 0 || load > 1e12)
    return MUSTER_EINVAL;
  atomic_store_explicit (&w->load_milli, (uint64_t)llround (load * 1000.0),
                         memory_order_relaxed);
  if (atomic_exchange_explicit (&w->load_flag, true, memory_order_acq_rel))
    return 0; /* already flagged: the actor sends the latest figure */
  mu_cmd_t cmd = { .op = MU_CMD_PROGRESS };
  if (mu_worker_send_cmd (w, &cmd, ZMQ_DONTWAIT) != 0)
    atomic_store (&w->load_flag, false); /* the next call retries */
  return 0;
}

int
muster_worker_progress (muster_worker_t *w, uint64_t step)
{
  if (w == NULL)
    return MUSTER_EINVAL;
  atomic_store_explicit (&w->progress_step, step, memory_order_relaxed);
  atomic_store_explicit (&w->progress_any, true, memory_order_relaxed);
  if (atomic_exchange_explicit (&w->progress_flag, true,
                                memory_order_acq_rel))
    return 0; /* already flagged: the actor will send the latest step */
  mu_cmd_t cmd = { .op = MU_CMD_PROGRESS };
  if (mu_worker_send_cmd (w, &cmd, ZMQ_DONTWAIT) != 0)
    atomic_store (&w->progress_flag, false); /* the next call retries */
  return 0;
}
