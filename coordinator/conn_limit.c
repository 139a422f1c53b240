/*
 * conn_limit.c — counting the coordinator's TCP connections from ZeroMQ
 * socket-monitor events, saying (rate-limited) when a flood passes the
 * bound, exhausts descriptors or is dropped for stalling its handshake,
 * and the admission check a ZAP handler calls (see conn_limit.h for the
 * measurements behind it).
 *
 * The monitor is libzmq's: zmq_socket_monitor publishes events of the
 * ROUTER on an inproc endpoint; a PAIR connected to it joins the loop
 * through zwatch.  Not ZMQ_EVENT_ACCEPT_FAILED: at EMFILE libzmq's
 * listener retries accept() in a busy loop and reported 14 million
 * failures in 10 s, which only moved the spin onto the coordinator's
 * loop; CONN-LIMIT, set below the descriptor limit, warns before that.  Every event is two frames: 2 bytes event id + 4 bytes
 * value (the descriptor, or errno), then the endpoint.  Every log line is
 * at most one per MU_CONN_LOG_MS per kind, carrying how many events it
 * stands for, since a peer controls how often these events happen.
 */
#include "coordinator/conn_limit.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <zmq.h>

#include <muster/error.h>

#include "common/util.h"
#include "common/zwatch.h"

struct mu_conn_watch {
  void *pair;
  mu_zwatch_t *watch;
  mu_conn_limit_t *l;
  mu_log_t *log;
  char port[16];
  void (*on_close) (int fd, void *arg);
  void *close_arg;
};

void
mu_conn_limit_init (mu_conn_limit_t *l, uint64_t max)
{
  memset (l, 0, sizeof *l);
  if (max == 0)
    {
      struct rlimit rl;
      uint64_t nofile = 1024;
      if (getrlimit (RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        nofile = rl.rlim_cur;
      else if (getrlimit (RLIMIT_NOFILE, &rl) == 0)
        nofile = 1u << 20;
      max = nofile > 2 * MU_CONN_FD_RESERVE ? nofile - MU_CONN_FD_RESERVE
                                            : nofile / 2;
      if (max == 0)
        max = 1;
    }
  l->max = max;
}

int
mu_conn_admit (mu_conn_limit_t *l)
{
  if (l->open <= l->max)
    return 0;
  l->refused++;
  return MUSTER_EQUOTA;
}

/* Rate limiting: 1 when a line may be written now (and *since holds the
 * events it stands for, reset by the caller's reading). */
static int
may_log (uint64_t *last_ms, uint64_t *since)
{
  uint64_t now = mu_now_ms ();
  (*since)++;
  if (*last_ms != 0 && now - *last_ms < MU_CONN_LOG_MS)
    return 0;
  *last_ms = now;
  return 1;
}

void
mu_conn_accepted (mu_conn_limit_t *l, mu_log_t *log, const char *port)
{
  l->open++;
  if (l->open > l->peak)
    l->peak = l->open;
  if (l->open > l->max && may_log (&l->last_limit_log_ms, &l->limit_since))
    {
      mu_log_warn (log, "CONN-LIMIT",
                   "%s port: %" PRIu64 " connections open, over the limit "
                   "of %" PRIu64 " (%" PRIu64 " accepts over it since the "
                   "last such line); descriptors run out near the limit",
                   port, l->open, l->max, l->limit_since);
      l->limit_since = 0;
    }
}

void
mu_conn_closed (mu_conn_limit_t *l)
{
  if (l->open > 0)
    l->open--;
}

void
mu_conn_handshake_dropped (mu_conn_limit_t *l, mu_log_t *log,
                           const char *port)
{
  l->handshake_dropped++;
  if (may_log (&l->last_drop_log_ms, &l->drop_since))
    {
      mu_log_warn (log, "CONN-HANDSHAKE-DROPPED",
                   "%s port: dropped %" PRIu64 " connection(s) that did not "
                   "complete the handshake within %d ms or sent garbage "
                   "(%" PRIu64 " in all, %" PRIu64 " connections open)",
                   port, l->drop_since, MU_CONN_HANDSHAKE_MS,
                   l->handshake_dropped, l->open);
      l->drop_since = 0;
    }
}

static int
on_event (void *sock, void *arg)
{
  mu_conn_watch_t *w = arg;
  zmq_msg_t m;
  zmq_msg_init (&m);
  if (zmq_msg_recv (&m, sock, ZMQ_DONTWAIT) < 0)
    {
      zmq_msg_close (&m);
      return -EAGAIN;
    }
  uint16_t ev = 0;
  int32_t value = -1;
  if (zmq_msg_size (&m) >= 6)
    {
      memcpy (&ev, zmq_msg_data (&m), 2);
      memcpy (&value, (const char *)zmq_msg_data (&m) + 2, 4);
    }
  int more = zmq_msg_more (&m);
  zmq_msg_close (&m);
  while (more) /* the endpoint frame: not needed */
    {
      zmq_msg_init (&m);
      if (zmq_msg_recv (&m, sock, ZMQ_DONTWAIT) < 0)
        more = 0;
      else
        more = zmq_msg_more (&m);
      zmq_msg_close (&m);
    }
  switch (ev)
    {
    case ZMQ_EVENT_ACCEPTED:
      mu_conn_accepted (w->l, w->log, w->port);
      break;
    case ZMQ_EVENT_DISCONNECTED:
      mu_conn_closed (w->l);
      if (w->on_close != NULL)
        w->on_close (value, w->close_arg);
      break;
    case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL:
    case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
      mu_conn_handshake_dropped (w->l, w->log, w->port);
      break;
    default:
      break;
    }
  return 0;
}

int
mu_conn_watch_start (uv_loop_t *loop, void *zctx, void *sock,
                     const char *port, mu_conn_limit_t *l, mu_log_t *log,
                     mu_conn_watch_t **out)
{
  char ep[64];
  snprintf (ep, sizeof ep, "inproc://mu-conn-%p", sock);
  mu_conn_watch_t *w = calloc (1, sizeof *w);
  if (w == NULL)
    return -ENOMEM;
  w->l = l;
  w->log = log;
  mu_strlcpy (w->port, port, sizeof w->port);
  int rc = 0;
  int linger = 0, unbounded = 0;
  if (zmq_socket_monitor (sock, ep,
                          ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED
                              | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL
                              | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL)
      != 0)
    rc = -errno;
  if (rc == 0 && (w->pair = zmq_socket (zctx, ZMQ_PAIR)) == NULL)
    rc = -errno;
  if (rc == 0
      && (zmq_setsockopt (w->pair, ZMQ_LINGER, &linger, sizeof linger) != 0
          /* no event may be dropped, or the count drifts; they are a few
           * bytes each and drained every loop iteration */
          || zmq_setsockopt (w->pair, ZMQ_RCVHWM, &unbounded, sizeof unbounded) != 0
          || zmq_connect (w->pair, ep) != 0))
    rc = -errno;
  if (rc == 0)
    rc = mu_zwatch_start (loop, w->pair, on_event, w, &w->watch);
  if (rc != 0)
    {
      if (w->pair != NULL)
        zmq_close (w->pair);
      zmq_socket_monitor (sock, NULL, 0);
      free (w);
      return rc;
    }
  *out = w;
  return 0;
}

void
mu_conn_watch_on_close (mu_conn_watch_t *w, void (*cb) (int, void *),
                        void *arg)
{
  if (w == NULL)
    return;
  w->on_close = cb;
  w->close_arg = arg;
}

void
mu_conn_watch_drain (mu_conn_watch_t *w)
{
  if (w == NULL)
    return;
  for (int i = 0; i < 4096 && on_event (w->pair, w) == 0; i++)
    ;
}

void
mu_conn_watch_stop (mu_conn_watch_t **w_p)
{
  if (w_p == NULL || *w_p == NULL)
    return;
  mu_conn_watch_t *w = *w_p;
  *w_p = NULL;
  mu_zwatch_stop (&w->watch);
  zmq_close (w->pair);
  free (w);
}
