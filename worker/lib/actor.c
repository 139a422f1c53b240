/*
 * actor.c — libmuster's background thread: the one owner of the
 * connection to the agent.
 *
 * DESIGN.  The thread owns three sockets of the handle's private context:
 * its end of the inproc pipe from the front end, a DEALER connected to the
 * agent (a ROUTER that knows this worker by the routing id its HELLO came
 * from) and a PAIR reading the DEALER's monitor events.  One zmq_poll loop
 * serves them all; there is no other blocking call.  The loop
 *   - says HELLO at start (and again after a reconnect), answers the
 *     front end's init with READY once the first WORKER_INFO (or an ERROR)
 *     arrives;
 *   - keeps the pending requests in a list in issue order, sends each once
 *     (keeping order if the DEALER's high-water mark pushes back), matches
 *     REPLY and ERROR by req_id, and finishes each at the latest at its
 *     local deadline;
 *   - applies a newer-epoch WORKER_INFO: publishes a new snapshot and
 *     finishes every request of an older epoch with MUSTER_EMEMBERSHIP;
 *   - watches the link: the monitor's DISCONNECTED event (an agent that
 *     exits closes the ipc socket; a stopped one misses ZMTP heartbeats)
 *     marks outstanding requests as lost, so their deadline reports
 *     MUSTER_EPEERLOST, and a link down for longer than the grace period
 *     fails everything, even requests without a deadline.  The link counts
 *     as up again only after a ZMTP handshake (HANDSHAKE_SUCCEEDED), not at
 *     CONNECTED: the kernel accepts an ipc connection on behalf of a
 *     stopped agent, which would otherwise reset the grace period forever;
 *   - sends the latest progress step whenever the front end flags one
 *     (many calls between two wake-ups become one message).
 * Anything malformed from the agent is consumed, counted and dropped.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* pthread_setname_np */
#endif
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include <muster/error.h>

#include "common/util.h"
#include "common/wire.h"
#include "worker/lib/worker_int.h"

#define MU_MONITOR_EP "inproc://muster-monitor"
#define MU_DEALER_HWM 1000
/* Messages handled per socket per loop turn, so no source starves another. */
#define MU_BATCH 256

struct mu_actor {
  muster_worker_t *w;
  void *pipe;
  void *dealer;
  void *monitor;
  bool monitoring;

  muster_req_t *head, *tail; /* pending, in issue order */
  bool attached;  /* the first WORKER_INFO was applied */
  bool ready_sent; /* init has its answer */
  bool stopping;
  bool link_up;
  bool had_disconnect;
  uint64_t down_since;
  uint64_t dropped; /* malformed or unexpected messages */
  uint64_t stale;   /* replies to requests no longer pending */
};

/* ------------------------------------------------------------ lifecycle */

static int
mu_setopt_int (void *sock, int opt, int val)
{
  return zmq_setsockopt (sock, opt, &val, sizeof val) == 0 ? 0 : -errno;
}

int
mu_actor_new (muster_worker_t *w, const char *endpoint, mu_actor_t **out)
{
  *out = NULL;
  mu_actor_t *a = calloc (1, sizeof *a);
  if (a == NULL)
    return -ENOMEM;
  a->w = w;
  int rc = 0;
  char rid[64];
  char hex[17];
  mu_random_hex (hex, 8);
  /* A routing id of our own (not libzmq's default) survives reconnects,
   * so a reply routed after the link came back still finds us. */
  snprintf (rid, sizeof rid, "w-%ld-%s", (long)getpid (), hex);

  if ((a->pipe = zmq_socket (w->ctx, ZMQ_PAIR)) == NULL
      || (rc = mu_setopt_int (a->pipe, ZMQ_LINGER, 0)) != 0
      || zmq_connect (a->pipe, MU_PIPE_EP) != 0)
    goto fail;
  if ((a->dealer = zmq_socket (w->ctx, ZMQ_DEALER)) == NULL
      || (rc = mu_wire_sockopts (a->dealer, MU_DEALER_HWM)) != 0
      || (rc = mu_setopt_int (a->dealer, ZMQ_HEARTBEAT_IVL,
                              MU_WORKER_HB_IVL_MS)) != 0
      || (rc = mu_setopt_int (a->dealer, ZMQ_HEARTBEAT_TIMEOUT,
                              MU_WORKER_HB_TIMEOUT_MS)) != 0
      || zmq_setsockopt (a->dealer, ZMQ_ROUTING_ID, rid, strlen (rid)) != 0)
    goto fail;
  if (zmq_socket_monitor (a->dealer, MU_MONITOR_EP,
                          ZMQ_EVENT_HANDSHAKE_SUCCEEDED
                              | ZMQ_EVENT_DISCONNECTED)
      != 0)
    goto fail;
  a->monitoring = true;
  if ((a->monitor = zmq_socket (w->ctx, ZMQ_PAIR)) == NULL
      || (rc = mu_setopt_int (a->monitor, ZMQ_LINGER, 0)) != 0
      || zmq_connect (a->monitor, MU_MONITOR_EP) != 0)
    goto fail;
  if (zmq_connect (a->dealer, endpoint) != 0)
    goto fail;
  *out = a;
  return 0;
fail:
  if (rc == 0)
    rc = errno ? -errno : MUSTER_EINTERNAL;
  mu_actor_destroy (&a);
  return rc;
}

void
mu_actor_destroy (mu_actor_t **a_p)
{
  mu_actor_t *a = *a_p;
  if (a == NULL)
    return;
  *a_p = NULL;
  if (a->monitoring)
    zmq_socket_monitor (a->dealer, NULL, 0);
  if (a->monitor)
    zmq_close (a->monitor);
  if (a->dealer)
    zmq_close (a->dealer);
  if (a->pipe)
    zmq_close (a->pipe);
  free (a);
}

/* -------------------------------------------------------- pending list */

static void
mu_pend_append (mu_actor_t *a, muster_req_t *r)
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
static void
mu_finish (mu_actor_t *a, muster_req_t *r, bool listed, int status,
           uint8_t *val, size_t len)
{
  if (listed)
    mu_pend_remove (a, r);
  free (r->buf);
  r->buf = NULL;
  mu_req_complete (r, status, val, len);
  mu_req_unref (r);
}

static void
mu_finish_all (mu_actor_t *a, int status)
{
  while (a->head)
    mu_finish (a, a->head, true, status, NULL, 0);
}

static muster_req_t *
mu_pend_find (mu_actor_t *a, uint64_t id)
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

/* The result of a request as the caller sees it.  The coordinator answers
 * a request of an epoch it has left with MUSTER_ESTALE_EPOCH, possibly
 * before the agent's new WORKER_INFO reaches us: to the caller that is a
 * membership change, so it gets the one code it handles for that. */
static int
mu_req_status (int64_t s, bool nonzero)
{
  int status = mu_wire_status (s, nonzero);
  return status == MUSTER_ESTALE_EPOCH ? MUSTER_EMEMBERSHIP : status;
}

/* ------------------------------------------------------------- sending */

static void
mu_send_hello (mu_actor_t *a)
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
  int rc = mu_wire_send (a->dealer, NULL, &m);
  if (rc != 0)
    mu_log_warn (&w->log, "WORKER-HELLO", "cannot send hello: %s",
                 muster_strerror (rc));
}

static void
mu_send_progress (mu_actor_t *a)
{
  muster_worker_t *w = a->w;
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

static void
mu_send_bye (mu_actor_t *a)
{
  mu_msg_t m;
  memset (&m, 0, sizeof m);
  m.type = MU_MSG_BYE;
  m.u.bye.rank = (uint64_t)mu_worker_info (a->w)->rank;
  if (mu_wire_send (a->dealer, NULL, &m) == 0 && a->link_up)
    (void)mu_setopt_int (a->dealer, ZMQ_LINGER, MU_WORKER_BYE_LINGER_MS);
}

/* Send every request not yet sent, in order; stop at the first one the
 * high-water mark refuses.  Returns how many remain unsent. */
static int
mu_flush (mu_actor_t *a)
{
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
              mu_finish (a, r, true, -errno, NULL, 0);
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
  muster_req_t *r = a->head;
  while (r)
    {
      muster_req_t *next = r->next;
      if (r->epoch < info->epoch)
        mu_finish (a, r, true, MUSTER_EMEMBERSHIP, NULL, 0);
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
  muster_req_t *r = mu_pend_find (a, rep->req_id);
  if (r == NULL)
    {
      a->stale++; /* timed out, cancelled or of an older epoch */
      return;
    }
  int status = mu_req_status (rep->status, false);
  uint8_t *val = NULL;
  size_t len = 0;
  if (status == 0 && r->kind == MU_REQ_KV_GET)
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
  mu_finish (a, r, true, status, val, len);
}

static void
mu_on_error (mu_actor_t *a, const mu_error_t *e)
{
  int code = mu_wire_status (e->code, true);
  muster_req_t *r = e->req_id ? mu_pend_find (a, e->req_id) : NULL;
  if (r != NULL)
    {
      mu_finish (a, r, true, mu_req_status (e->code, true), NULL, 0);
      return;
    }
  if (!a->attached)
    {
      mu_ready (a, code); /* the agent refused our HELLO */
      return;
    }
  a->dropped++;
  mu_log_warn (&a->w->log, "WORKER-AGENT-ERROR", "agent: %s (%s)",
               e->message ? e->message : "?", muster_err_name (code));
}

static void
mu_on_dealer (mu_actor_t *a)
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
        default:
          a->dropped++;
          break;
        }
      mu_msg_clear (&m);
    }
}

/* ---------------------------------------------------------------- link */

static void
mu_on_monitor (mu_actor_t *a)
{
  for (int i = 0; i < MU_BATCH; i++)
    {
      zmq_msg_t m;
      zmq_msg_init (&m);
      if (zmq_msg_recv (&m, a->monitor, ZMQ_DONTWAIT) < 0)
        {
          zmq_msg_close (&m);
          return;
        }
      uint16_t ev = 0;
      if (zmq_msg_size (&m) >= 6)
        memcpy (&ev, zmq_msg_data (&m), sizeof ev);
      while (zmq_msg_more (&m)) /* the endpoint frame */
        {
          zmq_msg_close (&m);
          zmq_msg_init (&m);
          if (zmq_msg_recv (&m, a->monitor, ZMQ_DONTWAIT) < 0)
            break;
        }
      zmq_msg_close (&m);

      if (ev == ZMQ_EVENT_DISCONNECTED && a->link_up)
        {
          a->link_up = false;
          a->had_disconnect = true;
          a->down_since = mu_now_ms ();
          for (muster_req_t *r = a->head; r; r = r->next)
            r->lost = true;
          if (a->attached)
            mu_log_warn (&a->w->log, "WORKER-AGENT-LOST",
                         "link to the agent is down");
        }
      else if (ev == ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
        {
          if (a->had_disconnect)
            {
              a->had_disconnect = false;
              mu_send_hello (a); /* make the agent know us again */
              if (a->attached)
                mu_log_notice (&a->w->log, "WORKER-AGENT-BACK",
                               "link to the agent is up again");
            }
          a->link_up = true;
          atomic_store (&a->w->link_dead, false);
        }
    }
}

/* ------------------------------------------------------------ commands */

static void
mu_on_req (mu_actor_t *a, muster_req_t *r)
{
  /* The front end filled the request in before the lock/unlock of its
   * mu_req_ref(); taking the lock once here orders those writes before
   * ours in a way ThreadSanitizer can see (libzmq's lock-free pipe orders
   * them too, but inside an uninstrumented library). */
  pthread_mutex_lock (&r->mu);
  pthread_mutex_unlock (&r->mu);
  if (atomic_load (&a->w->link_dead))
    mu_finish (a, r, false, MUSTER_EPEERLOST, NULL, 0);
  else if (r->epoch < mu_worker_info (a->w)->epoch)
    mu_finish (a, r, false, MUSTER_EMEMBERSHIP, NULL, 0);
  else
    mu_pend_append (a, r);
}

static void
mu_on_pipe (mu_actor_t *a)
{
  for (int i = 0; i < MU_BATCH && !a->stopping; i++)
    {
      mu_cmd_t cmd;
      int n = zmq_recv (a->pipe, &cmd, sizeof cmd, ZMQ_DONTWAIT);
      if (n < 0)
        return;
      if (n != (int)sizeof cmd)
        continue; /* cannot happen: only the front end writes here */
      switch (cmd.op)
        {
        case MU_CMD_REQ:
          mu_on_req (a, cmd.req);
          break;
        case MU_CMD_CANCEL:
          {
            muster_req_t *r = mu_pend_find (a, cmd.arg);
            if (r != NULL)
              mu_finish (a, r, true, MUSTER_ECANCELED, NULL, 0);
          }
          break;
        case MU_CMD_PROGRESS:
          break; /* the flag is checked every turn */
        case MU_CMD_STOP:
          a->stopping = true;
          break;
        }
    }
}

/* ---------------------------------------------------------------- loop */

static bool
mu_link_grace_armed (const mu_actor_t *a)
{
  return a->attached && !a->link_up && !atomic_load (&a->w->link_dead);
}

/* Finish what is past its deadline; declare the agent gone when the link
 * stayed down past the grace period. */
static void
mu_expire (mu_actor_t *a, uint64_t now)
{
  muster_req_t *r = a->head;
  while (r)
    {
      muster_req_t *next = r->next;
      if (r->deadline_ms <= now)
        mu_finish (a, r, true,
                   (r->lost || !a->link_up) ? MUSTER_EPEERLOST
                                            : MUSTER_ETIMEDOUT,
                   NULL, 0);
      r = next;
    }
  if (mu_link_grace_armed (a) && now - a->down_since >= a->w->link_grace_ms)
    {
      atomic_store (&a->w->link_dead, true);
      mu_log_warn (&a->w->log, "WORKER-AGENT-GONE",
                   "agent unreachable for %llu ms; requests fail",
                   (unsigned long long)(now - a->down_since));
      mu_finish_all (a, MUSTER_EPEERLOST);
    }
}

/* Milliseconds until the next deadline, -1 for none. */
static long
mu_next_timeout (const mu_actor_t *a, uint64_t now)
{
  uint64_t t = MU_NO_DEADLINE;
  for (const muster_req_t *r = a->head; r; r = r->next)
    if (r->deadline_ms < t)
      t = r->deadline_ms;
  if (mu_link_grace_armed (a))
    {
      uint64_t g = a->down_since + a->w->link_grace_ms;
      if (g < t)
        t = g;
    }
  if (t == MU_NO_DEADLINE)
    return -1;
  if (t <= now)
    return 0;
  return t - now > (uint64_t)INT_MAX ? INT_MAX : (long)(t - now);
}

static void *
mu_actor_main (void *arg)
{
  mu_actor_t *a = arg;
  mu_send_hello (a);
  while (!a->stopping)
    {
      uint64_t now = mu_now_ms ();
      mu_expire (a, now);
      int unsent = mu_flush (a);
      zmq_pollitem_t items[3] = {
        { a->pipe, 0, ZMQ_POLLIN, 0 },
        { a->dealer, 0, (short)(ZMQ_POLLIN | (unsent ? ZMQ_POLLOUT : 0)), 0 },
        { a->monitor, 0, ZMQ_POLLIN, 0 },
      };
      if (zmq_poll (items, 3, mu_next_timeout (a, now)) < 0)
        {
          if (errno == EINTR)
            continue;
          /* Cannot happen with live sockets of our own context; do not
           * spin if it does. */
          mu_log_err (&a->w->log, "WORKER-POLL", "zmq_poll: %s",
                      zmq_strerror (errno));
          mu_finish_all (a, MUSTER_EINTERNAL);
          usleep (100 * 1000);
          continue;
        }
      if (items[2].revents & ZMQ_POLLIN)
        mu_on_monitor (a);
      if (items[1].revents & ZMQ_POLLIN)
        mu_on_dealer (a);
      if (items[0].revents & ZMQ_POLLIN)
        mu_on_pipe (a);
      mu_send_progress (a);
    }
  if (a->attached)
    {
      (void)mu_flush (a);
      mu_send_progress (a);
      mu_send_bye (a);
    }
  mu_finish_all (a, MUSTER_ECLOSED);
  if (a->dropped || a->stale)
    mu_log_info (&a->w->log, "WORKER-STATS",
                 "%llu malformed or unexpected, %llu stale messages dropped",
                 (unsigned long long)a->dropped,
                 (unsigned long long)a->stale);
  return NULL;
}

int
mu_actor_start (mu_actor_t *a, pthread_t *thread)
{
  sigset_t all, old;
  sigfillset (&all);
  pthread_sigmask (SIG_SETMASK, &all, &old);
  int rc = pthread_create (thread, NULL, mu_actor_main, a);
  pthread_sigmask (SIG_SETMASK, &old, NULL);
  if (rc != 0)
    return -rc;
  pthread_setname_np (*thread, "muster-worker");
  return 0;
}
