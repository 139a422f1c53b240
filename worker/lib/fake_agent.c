/*
 * fake_agent.c — the test's muster-agent (see fake_agent.h).
 *
 * One thread polls the ROUTER every 10 ms; everything it touches is under
 * one mutex, which the test's setters take too, so the state is simple to
 * reason about.  Requests from a routing id that never said HELLO are
 * refused with an ERROR naming their req_id, as the real agent would, so a
 * request that succeeds after the agent restarted proves the worker said
 * HELLO again.  Pending waits are answered as the coordinator answers them:
 * at their timeout with MUSTER_ETIMEDOUT, at an epoch change with
 * MUSTER_ESTALE_EPOCH (the worker has already dropped them by then).
 */
#include "worker/lib/fake_agent.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include <muster/error.h>

#include "common/util.h"
#include "common/wire.h"

#define FA_MAX 64

typedef struct fa_worker {
  mu_route_t route;
  uint64_t rank;
} fa_worker_t;

typedef struct fa_kv {
  char *key;
  uint8_t *val;
  size_t len;
} fa_kv_t;

typedef struct fa_wait {
  bool barrier;
  mu_route_t route;
  uint64_t rank, req_id, deadline;
  char *key; /* key or barrier name */
} fa_wait_t;

struct fa {
  fa_opts_t o;
  char *job;
  void *ctx, *router;
  pthread_t th;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  bool stop;
  int hello_error;
  bool silent, mute;
  int barrier_n;
  uint64_t epoch;
  int world;
  /* actions asked by the test, done by the thread */
  uint64_t act_seq, act_done;
  bool act_epoch, act_garbage;
  char *act_blob; /* encoded message for every worker */
  size_t act_len;
  /* ckpt.saved */
  int saved;
  uint64_t saved_step;
  int64_t saved_status;
  char saved_error[512];
  uint64_t act_new_epoch;
  int act_shift;
  /* counters */
  int hellos, byes, progress, requests;
  uint64_t last_step, last_req_epoch;
  uint64_t last_load_milli; /* service: worker.load */
  fa_worker_t workers[FA_MAX];
  int nworkers;
  fa_kv_t kv[FA_MAX];
  int nkv;
  fa_wait_t waits[FA_MAX];
  int nwaits;
};

/* ------------------------------------------------------------- sending */

static void
fa_reply (fa_t *fa, const mu_route_t *to, uint64_t rank, uint64_t req_id,
          int status, const uint8_t *val, size_t len)
{
  mu_msg_t m;
  memset (&m, 0, sizeof m);
  m.type = MU_MSG_REPLY;
  m.u.reply.job = fa->job;
  m.u.reply.rank = rank;
  m.u.reply.req_id = req_id;
  m.u.reply.status = status;
  m.u.reply.value.ptr = (uint8_t *)val;
  m.u.reply.value.len = len;
  mu_wire_send (fa->router, to, &m);
}

/* WORKER_INFO for `rank`; sync_from >= 0 makes it a new member. */
static void
fa_send_info (fa_t *fa, const mu_route_t *to, uint64_t rank, uint64_t epoch,
              bool broken, int64_t sync_from)
{
  const fa_opts_t *o = &fa->o;
  int n = o->nnodes, np = o->nproc;
  bool ps = o->ps_last && n > 1;
  mu_peer_node_t nodes[16];
  char ids[16][24], hosts[16][24];
  for (int i = 0; i < n && i < 16; i++)
    {
      bool is_ps = ps && i == n - 1;
      snprintf (ids[i], sizeof ids[i], "node-%d", i);
      snprintf (hosts[i], sizeof hosts[i], "host-%d", i);
      /* listed in reverse: libmuster must sort them */
      nodes[n - 1 - i] = (mu_peer_node_t){
        .node_id = ids[i],
        .host = hosts[i],
        .role = is_ps ? "ps" : "worker",
        .node_rank = (uint64_t)i,
        .first_rank = (uint64_t)(i * np),
        .role_first_rank = is_ps ? 0 : (uint64_t)(i * np),
        .nproc = (uint64_t)np,
        .port_base = 29500 + 1000 * (uint64_t)i,
      };
    }
  int node = (int)rank / np;
  bool my_ps = ps && node == n - 1;
  mu_msg_t m;
  memset (&m, 0, sizeof m);
  m.type = MU_MSG_WORKER_INFO;
  m.u.worker_info = (mu_worker_info_t){
    .job = fa->job,
    .epoch = epoch,
    .rank = broken ? (uint64_t)fa->world + 5 : rank,
    .world = (uint64_t)fa->world,
    .local_rank = rank % (uint64_t)np,
    .local_world = (uint64_t)np,
    .role = my_ps ? "ps" : "worker",
    .role_rank = my_ps ? rank % (uint64_t)np : rank,
    .role_world = my_ps ? (uint64_t)np
                        : (uint64_t)(ps ? (n - 1) * np : fa->world),
    .node_rank = (uint64_t)node,
    .nnodes = (uint64_t)n,
    .restart_count = o->restart_count,
    .nodes = { .v = nodes, .n = (size_t)n },
    .new_member = sync_from >= 0,
    .sync_from = sync_from,
  };
  mu_wire_send (fa->router, to, &m);
}

static void
fa_send_raw (fa_t *fa, const mu_route_t *to, const void *data, size_t len,
             bool more)
{
  zmq_send (fa->router, to->id, to->len, ZMQ_SNDMORE);
  zmq_send (fa->router, data, len, more ? ZMQ_SNDMORE : 0);
}

static void
fa_garbage (fa_t *fa, const fa_worker_t *wk)
{
  const mu_route_t *to = &wk->route;
  static const unsigned char junk[] = { 0xc1, 0x00, 0xff, 'g', 'a' };
  static const unsigned char num[] = { 0x2a };
  static const unsigned char nope[] = { 0x82, 0xa1, 'v', 0x01, 0xa1, 't',
                                        0xa4, 'n',  'o', 'p',  'e' };
  static const unsigned char v99[] = { 0x82, 0xa1, 'v', 0x63, 0xa1, 't',
                                       0xa5, 'r',  'e', 'p',  'l', 'y' };
  static const unsigned char huge[] = { 0xdb, 0xff, 0xff, 0xff, 0xff, 'x' };
  fa_send_raw (fa, to, junk, sizeof junk, false);
  fa_send_raw (fa, to, num, sizeof num, false);
  fa_send_raw (fa, to, nope, sizeof nope, false);
  fa_send_raw (fa, to, v99, sizeof v99, false);
  fa_send_raw (fa, to, huge, sizeof huge, false);
  fa_send_raw (fa, to, "", 0, false);
  fa_send_raw (fa, to, "a", 1, true); /* two body frames */
  zmq_send (fa->router, "b", 1, 0);
  fa_reply (fa, to, wk->rank, 999999, 0, (const uint8_t *)"x", 1);
  char *job = fa->job;
  fa->job = "another-job";
  fa_reply (fa, to, wk->rank, 1, 0, NULL, 0);
  fa_send_info (fa, to, wk->rank, fa->epoch + 100, false, -1); /* job */
  fa->job = job;
  fa_send_info (fa, to, wk->rank, fa->epoch + 100, true, -1); /* rank */
  if (fa->epoch > 0)
    fa_send_info (fa, to, wk->rank, fa->epoch - 1, false, -1); /* older */
  fa_send_info (fa, to, wk->rank, fa->epoch, false, -1); /* repeat */
  mu_msg_t m;
  memset (&m, 0, sizeof m);
  m.type = MU_MSG_KV_GET; /* wrong direction */
  m.u.kv_get = (mu_kv_get_t){ .job = fa->job, .key = "k", .req_id = 1 };
  mu_wire_send (fa->router, to, &m);
}

/* ------------------------------------------------------------ requests */

static fa_worker_t *
fa_find_worker (fa_t *fa, const mu_route_t *r)
{
  for (int i = 0; i < fa->nworkers; i++)
    if (fa->workers[i].route.len == r->len
        && memcmp (fa->workers[i].route.id, r->id, r->len) == 0)
      return &fa->workers[i];
  return NULL;
}

static fa_kv_t *
fa_find_kv (fa_t *fa, const char *key)
{
  for (int i = 0; i < fa->nkv; i++)
    if (strcmp (fa->kv[i].key, key) == 0)
      return &fa->kv[i];
  return NULL;
}

static void
fa_drop_wait (fa_t *fa, int i)
{
  free (fa->waits[i].key);
  fa->waits[i] = fa->waits[--fa->nwaits];
}

static void
fa_add_wait (fa_t *fa, bool barrier, const mu_route_t *from, uint64_t rank,
             uint64_t req_id, const char *key, uint64_t timeout_ms)
{
  if (fa->nwaits == FA_MAX)
    return;
  fa_wait_t *w = &fa->waits[fa->nwaits++];
  w->barrier = barrier;
  w->route = *from;
  w->rank = rank;
  w->req_id = req_id;
  w->key = strdup (key);
  w->deadline = timeout_ms == UINT64_MAX ? UINT64_MAX
                                         : mu_now_ms () + timeout_ms;
}

static int
fa_barrier_count (fa_t *fa, const char *name)
{
  int n = 0;
  for (int i = 0; i < fa->nwaits; i++)
    n += fa->waits[i].barrier && strcmp (fa->waits[i].key, name) == 0;
  return n;
}

/* Answer every waiter of `key` (kv or barrier) with `status`. */
static void
fa_release (fa_t *fa, bool barrier, const char *key, int status,
            const fa_kv_t *kv)
{
  for (int i = fa->nwaits - 1; i >= 0; i--)
    {
      fa_wait_t *w = &fa->waits[i];
      if (w->barrier != barrier || strcmp (w->key, key) != 0)
        continue;
      fa_reply (fa, &w->route, w->rank, w->req_id, status,
                kv ? kv->val : NULL, kv ? kv->len : 0);
      fa_drop_wait (fa, i);
    }
}

static void
fa_on_request (fa_t *fa, const mu_route_t *from, mu_msg_t *m)
{
  uint64_t epoch, rank, req_id;
  const char *what;
  switch (m->type)
    {
    case MU_MSG_KV_PUT:
      epoch = m->u.kv_put.epoch, rank = m->u.kv_put.rank;
      req_id = m->u.kv_put.req_id, what = "kv.put";
      break;
    case MU_MSG_KV_GET:
      epoch = m->u.kv_get.epoch, rank = m->u.kv_get.rank;
      req_id = m->u.kv_get.req_id, what = "kv.get";
      break;
    default:
      epoch = m->u.barrier.epoch, rank = m->u.barrier.rank;
      req_id = m->u.barrier.req_id, what = "barrier";
      break;
    }
  fa->requests++;
  fa->last_req_epoch = epoch;
  if (fa->mute)
    return;
  if (fa_find_worker (fa, from) == NULL)
    {
      mu_wire_send_error (fa->router, from, MUSTER_ENOTFOUND, what, req_id,
                          "unknown worker: say hello first");
      return;
    }
  if (epoch < fa->epoch)
    {
      fa_reply (fa, from, rank, req_id, MUSTER_ESTALE_EPOCH, NULL, 0);
      return;
    }
  if (m->type == MU_MSG_KV_PUT)
    {
      const mu_kv_put_t *p = &m->u.kv_put;
      fa_kv_t *kv = fa_find_kv (fa, p->key);
      if (kv == NULL && fa->nkv < FA_MAX)
        {
          kv = &fa->kv[fa->nkv++];
          kv->key = strdup (p->key);
          kv->val = NULL;
        }
      free (kv->val);
      kv->len = p->value.len;
      kv->val = malloc (kv->len ? kv->len : 1);
      memcpy (kv->val, p->value.ptr ? p->value.ptr : (uint8_t *)"", kv->len);
      fa_reply (fa, from, rank, req_id, 0, NULL, 0);
      fa_release (fa, false, p->key, 0, kv);
    }
  else if (m->type == MU_MSG_KV_GET)
    {
      const mu_kv_get_t *g = &m->u.kv_get;
      fa_kv_t *kv = fa_find_kv (fa, g->key);
      if (strcmp (g->key, "error-key") == 0)
        mu_wire_send_error (fa->router, from, MUSTER_EFULL, "kv.get", req_id,
                            "this key always fails");
      else if (kv != NULL)
        fa_reply (fa, from, rank, req_id, 0, kv->val, kv->len);
      else if (g->timeout_ms == 0)
        fa_reply (fa, from, rank, req_id, MUSTER_ENOTFOUND, NULL, 0);
      else
        fa_add_wait (fa, false, from, rank, req_id, g->key, g->timeout_ms);
    }
  else
    {
      const mu_barrier_t *b = &m->u.barrier;
      /* as the coordinator reads it: 0 = no timeout */
      fa_add_wait (fa, true, from, rank, req_id, b->name,
                   b->timeout_ms ? b->timeout_ms : UINT64_MAX);
      int need = fa->barrier_n > 0 ? fa->barrier_n : fa->world;
      if (fa_barrier_count (fa, b->name) >= need)
        fa_release (fa, true, b->name, 0, NULL);
    }
}

static void
fa_on_message (fa_t *fa, const mu_route_t *from, mu_msg_t *m)
{
  switch (m->type)
    {
    case MU_MSG_HELLO:
      if (fa->silent)
        return;
      fa->hellos++;
      if (fa->hello_error)
        {
          mu_wire_send_error (fa->router, from, fa->hello_error,
                              "worker.hello", 0, "refused by the test");
          return;
        }
      {
        fa_worker_t *wk = fa_find_worker (fa, from);
        if (wk == NULL && fa->nworkers < FA_MAX)
          wk = &fa->workers[fa->nworkers++];
        wk->route = *from;
        wk->rank = m->u.hello.rank;
        fa_send_info (fa, from, wk->rank, fa->epoch, false, -1);
      }
      return;
    case MU_MSG_BYE:
      fa->byes++;
      return;
    case MU_MSG_LOAD:
      fa->last_load_milli = m->u.load.load_milli + 1;
      return;
    case MU_MSG_PROGRESS:
      fa->progress++;
      fa->last_step = m->u.progress.step;
      return;
    case MU_MSG_CKPT_SAVED:
      fa->saved++;
      fa->saved_step = m->u.ckpt_saved.step;
      fa->saved_status = m->u.ckpt_saved.status;
      mu_strlcpy (fa->saved_error,
                  m->u.ckpt_saved.error ? m->u.ckpt_saved.error : "",
                  sizeof fa->saved_error);
      return;
    case MU_MSG_KV_PUT:
    case MU_MSG_KV_GET:
    case MU_MSG_BARRIER:
      if (!fa->silent)
        fa_on_request (fa, from, m);
      return;
    default:
      return;
    }
}

/* ---------------------------------------------------------------- loop */

static void
fa_actions (fa_t *fa)
{
  if (fa->act_epoch)
    {
      fa->act_epoch = false;
      fa->epoch = fa->act_new_epoch;
      for (int i = 0; i < fa->nkv; i++)
        {
          free (fa->kv[i].key);
          free (fa->kv[i].val);
        }
      fa->nkv = 0;
      for (int i = 0; i < fa->nworkers; i++)
        {
          fa_worker_t *wk = &fa->workers[i];
          wk->rank = (wk->rank + (uint64_t)fa->act_shift)
                     % (uint64_t)fa->world;
          /* ranks other than 0 play new members that copy from rank 0 */
          fa_send_info (fa, &wk->route, wk->rank, fa->epoch, false,
                        wk->rank != 0 ? 0 : -1);
        }
      while (fa->nwaits > 0) /* the old epoch's waits end as stale */
        {
          fa_wait_t *w = &fa->waits[0];
          fa_reply (fa, &w->route, w->rank, w->req_id, MUSTER_ESTALE_EPOCH,
                    NULL, 0);
          fa_drop_wait (fa, 0);
        }
    }
  if (fa->act_blob != NULL)
    {
      for (int i = 0; i < fa->nworkers; i++)
        fa_send_raw (fa, &fa->workers[i].route, fa->act_blob, fa->act_len,
                     false);
      free (fa->act_blob);
      fa->act_blob = NULL;
    }
  if (fa->act_garbage)
    {
      fa->act_garbage = false;
      for (int i = 0; i < fa->nworkers; i++)
        fa_garbage (fa, &fa->workers[i]);
    }
  fa->act_done = fa->act_seq;
  pthread_cond_broadcast (&fa->cv);
}

static void *
fa_main (void *arg)
{
  fa_t *fa = arg;
  for (;;)
    {
      zmq_pollitem_t it = { fa->router, 0, ZMQ_POLLIN, 0 };
      zmq_poll (&it, 1, 10);
      pthread_mutex_lock (&fa->mu);
      if (fa->stop)
        {
          pthread_mutex_unlock (&fa->mu);
          return NULL;
        }
      for (;;)
        {
          mu_route_t from;
          mu_msg_t m;
          int rc = mu_wire_recv (fa->router, &from, &m, NULL, 0);
          if (rc == -EAGAIN)
            break;
          if (rc == 0)
            fa_on_message (fa, &from, &m);
          mu_msg_clear (&m);
        }
      uint64_t now = mu_now_ms ();
      for (int i = fa->nwaits - 1; i >= 0; i--)
        if (fa->waits[i].deadline <= now)
          {
            fa_wait_t *w = &fa->waits[i];
            fa_reply (fa, &w->route, w->rank, w->req_id, MUSTER_ETIMEDOUT,
                      NULL, 0);
            fa_drop_wait (fa, i);
          }
      fa_actions (fa);
      pthread_mutex_unlock (&fa->mu);
    }
}

fa_t *
fa_start (const fa_opts_t *opts)
{
  fa_t *fa = calloc (1, sizeof *fa);
  fa->o = *opts;
  fa->job = strdup (opts->job);
  fa->epoch = opts->epoch;
  fa->world = opts->nnodes * opts->nproc;
  fa->barrier_n = opts->barrier_n;
  pthread_mutex_init (&fa->mu, NULL);
  pthread_cond_init (&fa->cv, NULL);
  fa->ctx = zmq_ctx_new ();
  fa->router = zmq_socket (fa->ctx, ZMQ_ROUTER);
  int zero = 0;
  zmq_setsockopt (fa->router, ZMQ_LINGER, &zero, sizeof zero);
  if (zmq_bind (fa->router, opts->endpoint) != 0)
    {
      fprintf (stderr, "fake agent: bind %s: %s\n", opts->endpoint,
               zmq_strerror (errno));
      fa->th = pthread_self ();
      fa_stop (&fa);
      return NULL;
    }
  pthread_create (&fa->th, NULL, fa_main, fa);
  return fa;
}

void
fa_stop (fa_t **fa_p)
{
  fa_t *fa = *fa_p;
  if (fa == NULL)
    return;
  *fa_p = NULL;
  if (!pthread_equal (fa->th, pthread_self ()))
    {
      pthread_mutex_lock (&fa->mu);
      fa->stop = true;
      pthread_mutex_unlock (&fa->mu);
      pthread_join (fa->th, NULL);
    }
  zmq_close (fa->router);
  zmq_ctx_term (fa->ctx);
  for (int i = 0; i < fa->nkv; i++)
    {
      free (fa->kv[i].key);
      free (fa->kv[i].val);
    }
  while (fa->nwaits > 0)
    fa_drop_wait (fa, 0);
  pthread_mutex_destroy (&fa->mu);
  pthread_cond_destroy (&fa->cv);
  free (fa->job);
  free (fa);
}

/* ------------------------------------------------------------- steering */

#define FA_SET(fn, field, type)                                                \
  void fn (fa_t *fa, type v)                                                   \
  {                                                                            \
    pthread_mutex_lock (&fa->mu);                                              \
    fa->field = v;                                                             \
    pthread_mutex_unlock (&fa->mu);                                            \
  }
FA_SET (fa_set_hello_error, hello_error, int)
FA_SET (fa_set_silent, silent, bool)
FA_SET (fa_set_mute, mute, bool)
FA_SET (fa_set_barrier_n, barrier_n, int)
FA_SET (fa_set_epoch_quiet, epoch, uint64_t)

#define FA_GET(fn, field, type)                                                \
  type fn (fa_t *fa)                                                           \
  {                                                                            \
    pthread_mutex_lock (&fa->mu);                                              \
    type v = fa->field;                                                        \
    pthread_mutex_unlock (&fa->mu);                                            \
    return v;                                                                  \
  }
FA_GET (fa_hellos, hellos, int)
FA_GET (fa_byes, byes, int)
FA_GET (fa_progress_count, progress, int)
FA_GET (fa_last_step, last_step, uint64_t)
FA_GET (fa_last_load_milli, last_load_milli, uint64_t)
FA_GET (fa_last_req_epoch, last_req_epoch, uint64_t)
FA_GET (fa_requests, requests, int)

/* Have the thread do the flagged action and wait until it did. */
static void
fa_act (fa_t *fa)
{
  uint64_t seq = ++fa->act_seq;
  while (fa->act_done < seq)
    pthread_cond_wait (&fa->cv, &fa->mu);
}

void
fa_new_epoch (fa_t *fa, uint64_t epoch, int shift)
{
  pthread_mutex_lock (&fa->mu);
  fa->act_epoch = true;
  fa->act_new_epoch = epoch;
  fa->act_shift = shift;
  fa_act (fa);
  pthread_mutex_unlock (&fa->mu);
}

void
fa_send_garbage (fa_t *fa)
{
  pthread_mutex_lock (&fa->mu);
  fa->act_garbage = true;
  fa_act (fa);
  pthread_mutex_unlock (&fa->mu);
}

void
fa_send_all (fa_t *fa, const mu_msg_t *m)
{
  char *buf = NULL;
  size_t len = 0;
  if (mu_msg_encode (m, &buf, &len) != 0)
    return;
  pthread_mutex_lock (&fa->mu);
  fa->act_blob = buf;
  fa->act_len = len;
  fa_act (fa);
  pthread_mutex_unlock (&fa->mu);
}

int
fa_ckpt_saved (fa_t *fa, uint64_t *step, int64_t *status, char *error,
               size_t errlen)
{
  pthread_mutex_lock (&fa->mu);
  int n = fa->saved;
  *step = fa->saved_step;
  *status = fa->saved_status;
  mu_strlcpy (error, fa->saved_error, errlen);
  pthread_mutex_unlock (&fa->mu);
  return n;
}
