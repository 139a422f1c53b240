/*
 * actor_msg.c — the actor's conversation with the agent: what it says
 * (HELLO, the requests, PROGRESS, BYE), what it hears (WORKER_INFO, REPLY,
 * ERROR) and the list of requests waiting for an answer.
 *
 * Runs only on the actor thread (see actor.c).  The pending requests are a
 * doubly linked list in issue order; each is sent once, in order, and a
 * high-water mark that pushes back just leaves the rest for the next turn.
 * Replies and errors are matched by req_id; one that matches nothing (the
 * request timed out, was cancelled or belonged to an older epoch) is
 * counted and dropped.  A WORKER_INFO is validated and published as a new
 * snapshot only if its epoch is newer; the first one also answers init,
 * later ones finish every request of an older epoch with
 * MUSTER_EMEMBERSHIP.  Everything from the agent is untrusted: anything
 * malformed, of another job or of an unexpected type is counted and
 * dropped, never fatal.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include <muster/error.h>

#include "common/util.h"
#include "common/wire.h"
#include "worker/lib/worker_int.h"

/* -------------------------------------------------------- pending list */

void
mu_actor_append (mu_actor_t *a, muster_req_t *r)
{
  r->next = NULL;
  r->prev = a->tail;
  if (a->tail)
    a->tail->next = r;
  else
    a->head = r;
  a->tail = r;
}

static void
mu_pend_remove (mu_actor_t *a, muster_req_t *r)
{
  if (r->prev)
    r->prev->next = r->next;
  else
    a->head = r->next;
  if (r->next)
    r->next->prev = r->prev;
  else
    a->tail = r->prev;
  r->prev = r->next = NULL;
}

/* Finish a request the actor holds (pending or just received) and drop the
 * actor's reference. */
void
mu_actor_finish (mu_actor_t *a, muster_req_t *r, bool listed, int status,
                 uint8_t *val, size_t len)
{
  if (listed)
    mu_pend_remove (a, r);
  free (r->buf);
  r->buf = NULL;
  mu_req_complete (r, status, val, len);
  mu_req_unref (r);
}

void
mu_actor_finish_all (mu_actor_t *a, int status)
{
  while (a->head)
    mu_actor_finish (a, a->head, true, status, NULL, 0);
}

muster_req_t *
mu_actor_find (mu_actor_t *a, uint64_t id)
{
  for (muster_req_t *r = a->head; r; r = r->next)
    if (r->id == id)
      return r;
  return NULL;
}

/* A status or code from the wire as a muster code: 0 stays 0 (unless
 * `nonzero`), anything positive or out of int range is a protocol error. */
static int
mu_wire_status (int64_t s, bool nonzero)
{
  if (s == 0)
    return nonzero ? MUSTER_EPROTO : 0;
  if (s > 0 || s < INT_MIN)
    return MUSTER_EPROTO;
  return (int)s;
}

/* ------------------------------------------------------------- sending */

void
mu_actor_say_hello (mu_actor_t *a)
{
  muster_worker_t *w = a->w;
  mu_info_t *info = a->attached ? mu_worker_info (w) : NULL;
  mu_msg_t m;
  memset (&m, 0, sizeof m);
  m.type = MU_MSG_HELLO;
  m.u.hello.job = w->job;
  m.u.hello.rank = info ? (uint64_t)info->rank : w->hello_rank;
  m.u.hello.epoch = info ? info->epoch : w->hello_epoch;
  m.u.hello.pid = (uint64_t)getpid ();
  m.u.hello.spare = info ? 0 : w->spare_id;
  int rc = mu_wire_send (a->dealer, NULL, &m);
  if (rc != 0)
    mu_log_warn (&w->log, "WORKER-HELLO", "cannot send hello: %s",
                 muster_strerror (rc));
}

/* service: the latest load figure, if one is waiting. */
static void
say_load (mu_actor_t *a)
{
  muster_worker_t *w = a->w;
  if (!atomic_exchange_explicit (&w->load_flag, false, memory_order_acq_rel))
    return;
  mu_info_t *info = mu_worker_info (w);
  mu_msg_t m;
  memset (&m, 0, sizeof m);
  m.type = MU_MSG_LOAD;
  m.u.load.job = info->job;
  m.u.load.epoch = info->epoch;
  m.u.load.rank = (uint64_t)info->rank;
  m.u.load.load_milli = atomic_load_explicit (&w->load_milli,
                                              memory_order_relaxed);
  (void)mu_wire_send (a->dealer, NULL, &m); /* the next report replaces it */
}

void
mu_actor_say_progress (mu_actor_t *a)
{
  muster_worker_t *w = a->w;
  if (a->attached)
    say_load (a);
  if (!a->attached
      || !atomic_exchange_explicit (&w->progress_flag, false,
                                    memory_order_acq_rel))
    return;
  mu_info_t *info = mu_worker_info (w);
  mu_msg_t m;
  memset (&m, 0, sizeof m);
  m.type = MU_MSG_PROGRESS;
  m.u.progress.job = info->job;
  m.u.progress.epoch = info->epoch;
  m.u.progress.rank = (uint64_t)info->rank;
  m.u.progress.step = atomic_load_explicit (&w->progress_step,
                                            memory_order_relaxed);
  (void)mu_wire_send (a->dealer, NULL, &m); /* fire and forget */
}

void
mu_actor_say_bye (mu_actor_t *a)
{
  mu_msg_t m;
  memset (&m, 0, sizeof m);
  m.type = MU_MSG_BYE;
  m.u.bye.rank = (uint64_t)mu_worker_info (a->w)->rank;
  int linger = MU_WORKER_BYE_LINGER_MS;
  if (mu_wire_send (a->dealer, NULL, &m) == 0 && a->link_up)
    (void)zmq_setsockopt (a->dealer, ZMQ_LINGER, &linger, sizeof linger);
}

/* Send every request not yet sent, in order; stop at the first one the
 * high-water mark refuses.  Returns how many remain unsent. */
int
mu_actor_flush (mu_actor_t *a)
{
  /* While the link is down, requests wait here rather than in libzmq's
   * queue: after the reconnect HELLO goes first, so the agent (perhaps a
   * restarted one) knows who is asking. */
  if (a->attached && !a->link_up)
    return 0;
  int unsent = 0;
  muster_req_t *r = a->head;
  while (r)
    {
      muster_req_t *next = r->next;
      if (r->buf != NULL && unsent == 0)
        {
          if (zmq_send (a->dealer, r->buf, r->buflen, ZMQ_DONTWAIT) >= 0)
            {
              free (r->buf);
              r->buf = NULL;
            }
          else if (errno != EAGAIN && errno != EINTR)
            {
              mu_actor_finish (a, r, true, -errno, NULL, 0);
              r = next;
              continue;
            }
        }
      if (r->buf != NULL)
        unsent++;
      r = next;
    }
  return unsent;
}

static void
mu_ready (mu_actor_t *a, int status)
{
  if (a->ready_sent)
    return;
  a->ready_sent = true;
  (void)zmq_send (a->pipe, &status, sizeof status, 0);
}

/* ----------------------------------------------------- agent messages */

static void
mu_on_worker_info (mu_actor_t *a, const mu_worker_info_t *wi)
{
  muster_worker_t *w = a->w;
  mu_info_t *cur = a->attached ? mu_worker_info (w) : NULL;
  if (strcmp (wi->job, w->job) != 0)
    {
      a->dropped++;
      if (!a->attached)
        mu_ready (a, MUSTER_EPROTO); /* the agent confused us with another */
      return;
    }
  if (cur != NULL && wi->epoch <= cur->epoch)
    {
      a->stale++; /* a repeat (after re-HELLO) or an older epoch */
      return;
    }
  mu_info_t *info = NULL;
  int rc = mu_info_new (wi, &info);
  if (rc != 0)
    {
      a->dropped++;
      mu_log_warn (&w->log, "WORKER-BAD-INFO", "worker.info dropped: %s",
                   muster_strerror (rc));
      if (!a->attached)
        mu_ready (a, rc);
      return;
    }
  info->older = cur;
  atomic_store_explicit (&w->info, info, memory_order_release);
  a->link_up = true;
  if (!a->attached)
    {
      a->attached = true;
      mu_ready (a, 0);
      return;
    }
  mu_log_info (&w->log, "WORKER-EPOCH", "epoch %llu: rank %d of %d",
               (unsigned long long)info->epoch, info->rank, info->world);
  pthread_mutex_lock (&w->cb_mu);
  if (w->on_membership != NULL)
    {
      muster_membership_t ev;
      mu_info_membership (info, &ev);
      w->on_membership (w, &ev, w->on_membership_arg);
    }
  pthread_mutex_unlock (&w->cb_mu);
  muster_req_t *r = a->head;
  while (r)
    {
      muster_req_t *next = r->next;
      if (r->epoch < info->epoch)
        mu_actor_finish (a, r, true, MUSTER_EMEMBERSHIP, NULL, 0);
      r = next;
    }
}

static void
mu_on_reply (mu_actor_t *a, mu_reply_t *rep)
{
  if (strcmp (rep->job, a->w->job) != 0)
    {
      a->dropped++;
      return;
    }
  muster_req_t *r = mu_actor_find (a, rep->req_id);
  if (r == NULL)
    {
      a->stale++; /* timed out, cancelled or of an older epoch */
      return;
    }
  int status = mu_wire_status (rep->status, false);
  uint8_t *val = NULL;
  size_t len = 0;
  if (status == 0
      && (r->kind == MU_REQ_KV_ADD || r->kind == MU_REQ_KV_DEL
          || r->kind == MU_REQ_KV_COUNT))
    {
      /* torch/kv: the number travels as the request's value */
      len = sizeof (int64_t);
      val = malloc (len);
      if (val == NULL)
        status = -ENOMEM, len = 0;
      else
        memcpy (val, &rep->num, len);
    }
  else if (status == 0
           && (r->kind == MU_REQ_KV_GET || r->kind == MU_REQ_KV_CAS))
    {
      /* A copy, so the caller always gets a malloc'd, non-NULL buffer
       * (also for an empty value) it can free(). */
      len = rep->value.len;
      val = malloc (len ? len : 1);
      if (val == NULL)
        status = -ENOMEM, len = 0;
      else if (len)
        memcpy (val, rep->value.ptr, len);
    }
  mu_actor_finish (a, r, true, status, val, len);
}

static void
mu_on_error (mu_actor_t *a, const mu_error_t *e)
{
  int code = mu_wire_status (e->code, true);
  muster_req_t *r = e->req_id ? mu_actor_find (a, e->req_id) : NULL;
  if (r != NULL)
    {
      mu_actor_finish (a, r, true, code, NULL, 0);
      return;
    }
  if (!a->attached)
    {
      mu_ready (a, code); /* the agent refused our HELLO */
      return;
    }
  if (e->req_id != 0)
    {
      a->stale++; /* about a request that already ended */
      return;
    }
  a->dropped++;
  mu_log_warn (&a->w->log, "WORKER-AGENT-ERROR", "agent: %s (%s)",
               e->message ? e->message : "?", muster_err_name (code));
}

void
mu_actor_on_dealer (mu_actor_t *a)
{
  for (int i = 0; i < MU_BATCH; i++)
    {
      mu_msg_t m;
      char err[128];
      int rc = mu_wire_recv (a->dealer, NULL, &m, err, sizeof err);
      if (rc == -EAGAIN || rc == -EINTR)
        return;
      if (rc != 0)
        {
          a->dropped++;
          mu_log_debug (&a->w->log, "WORKER-BAD-MSG", "dropped: %s", err);
          continue;
        }
      switch (m.type)
        {
        case MU_MSG_WORKER_INFO:
          mu_on_worker_info (a, &m.u.worker_info);
          break;
        case MU_MSG_REPLY:
          if (a->attached)
            mu_on_reply (a, &m.u.reply);
          else
            a->dropped++;
          break;
        case MU_MSG_ERROR:
          mu_on_error (a, &m.u.error);
          break;
        case MU_MSG_CKPT_REQUEST:
          mu_wckpt_on_request (a->w, &m.u.ckpt_request);
          break;
        case MU_MSG_CKPT_DONE:
          mu_wckpt_on_done (a->w, &m.u.ckpt_done);
          break;
        default:
          a->dropped++;
          break;
        }
      mu_msg_clear (&m);
    }
}
