/*
 * actor.c — libmuster's background thread: the one owner of the
 * connection to the agent.
 *
 * DESIGN.  The thread owns three sockets of the handle's private context:
 * its end of the inproc pipe from the front end, a DEALER connected to the
 * agent (a ROUTER that knows this worker by the routing id its HELLO came
 * from) and a PAIR reading the DEALER's monitor events.  One zmq_poll loop
 * serves them all; there is no other blocking call.  This file holds the
 * thread's frame: the sockets' setup and teardown, the loop, the front
 * end's commands, the deadlines and the link watch; actor_msg.c holds the
 * conversation with the agent (what is said, what is heard, the pending
 * requests).  Each turn of the loop
 *   - finishes the requests past their local deadline, sends what is
 *     waiting to be sent, and polls until the next deadline;
 *   - takes the front end's commands: a new request joins the pending
 *     list (or fails at once: MUSTER_ESTALE_EPOCH if its epoch already
 *     ended, MUSTER_EPEERLOST if the agent is gone), a cancel drops one,
 *     STOP ends the loop;
 *   - watches the link: the monitor's DISCONNECTED event (an agent that
 *     exits closes the ipc socket; a stopped one misses ZMTP heartbeats)
 *     marks outstanding requests as lost, so their deadline reports
 *     MUSTER_EPEERLOST, and a link down for longer than the grace period
 *     fails everything, even requests without a deadline.  The link counts
 *     as up again only after a ZMTP handshake (HANDSHAKE_SUCCEEDED), not at
 *     CONNECTED: the kernel accepts an ipc connection on behalf of a
 *     stopped agent, which would otherwise reset the grace period forever.
 *     After a reconnect the actor says HELLO again, so a restarted agent
 *     learns who we are;
 *   - sends the latest progress step if the front end flagged one (many
 *     calls between two wake-ups become one message).
 * At STOP it sends the last progress and BYE, and finishes every pending
 * request with MUSTER_ECLOSED before the thread ends.
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

      if (ev == ZMQ_EVENT_DISCONNECTED)
        a->had_disconnect = true; /* also before the first WORKER_INFO */
      if (ev == ZMQ_EVENT_DISCONNECTED && a->link_up)
        {
          a->link_up = false;
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
              mu_actor_say_hello (a); /* make the agent know us again */
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
    mu_actor_finish (a, r, false, MUSTER_EPEERLOST, NULL, 0);
  else if (r->epoch < mu_worker_info (a->w)->epoch)
    /* made in an epoch that ended before it reached us: "sent late" */
    mu_actor_finish (a, r, false, MUSTER_ESTALE_EPOCH, NULL, 0);
  else
    mu_actor_append (a, r);
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
            muster_req_t *r = mu_actor_find (a, cmd.arg);
            if (r != NULL)
              mu_actor_finish (a, r, true, MUSTER_ECANCELED, NULL, 0);
          }
          break;
        case MU_CMD_PROGRESS:
          break; /* the flag is checked every turn */
        case MU_CMD_STOP:
          a->stopping = true;
          break;
        case MU_CMD_SEND:
          if (cmd.blob != NULL)
            {
              (void)mu_wire_send_raw (a->dealer, NULL, cmd.blob->buf,
                                      cmd.blob->len);
              free (cmd.blob->buf);
              free (cmd.blob);
            }
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
        mu_actor_finish (a, r, true,
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
      mu_actor_finish_all (a, MUSTER_EPEERLOST);
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
  mu_actor_say_hello (a);
  while (!a->stopping)
    {
      uint64_t now = mu_now_ms ();
      mu_expire (a, now);
      int unsent = mu_actor_flush (a);
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
          mu_actor_finish_all (a, MUSTER_EINTERNAL);
          usleep (100 * 1000);
          continue;
        }
      if (items[2].revents & ZMQ_POLLIN)
        mu_on_monitor (a);
      if (items[1].revents & ZMQ_POLLIN)
        mu_actor_on_dealer (a);
      if (items[0].revents & ZMQ_POLLIN)
        mu_on_pipe (a);
      mu_actor_say_progress (a);
    }
  if (a->attached)
    {
      (void)mu_actor_flush (a);
      mu_actor_say_progress (a);
      mu_actor_say_bye (a);
    }
  mu_actor_finish_all (a, MUSTER_ECLOSED);
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
