/*
 * agent_hb.c — the agent's heartbeats over UDP (decision 90).
 *
 * When agent.welcome names a heartbeat port, a slot and a secret, the
 * agent sends each heartbeat as a 40-byte datagram (common/hb_wire.h) to
 * that port on its coordinator's host, and the coordinator answers each
 * with a pong; a pong whose tag, sequence and term check out counts as
 * word from the coordinator (the agent's lease, agent.c).  A datagram
 * costs the coordinator a few microseconds where a ZeroMQ heartbeat over
 * CURVE costs tens, which is what lets the interval stay fixed at any
 * node count.
 *
 * Fallback: UDP may be blocked between the node and the coordinator.  As
 * long as the previous tick's ping went unanswered (at first, and whenever
 * pongs stop), the agent also sends the ZeroMQ heartbeat on each tick, so
 * the coordinator keeps hearing it either way; once pongs flow, UDP
 * alone.  MUSTER_HEARTBEAT=zmq in the agent's environment keeps
 * heartbeats on the agent port (the coordinator then grows the interval
 * with the node count, as before).  Every new welcome brings a new
 * secret: the socket is opened again then.
 */
#define _GNU_SOURCE
#include "worker/agent_int.h"

#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <muster/error.h>

#include "common/hb_wire.h"
#include "common/netaddr.h"
#include "common/term.h"
#include "common/util.h"

struct mu_agent_hb {
  uv_poll_t poll;
  int fd;
  mu_agent_t *a;
  uint8_t key[MU_HB_KEY_LEN];
  uint32_t slot;
  uint64_t seq;           /* last ping sent */
  uint64_t pong_seq;      /* last pong accepted (replay) */
  uint64_t last_pong_ms;  /* 0 = none yet */
  uint64_t interval_ms;
  int said_fallback;      /* HB-UDP-SILENT logged for this silence */
};

static void
on_closed (uv_handle_t *h)
{
  struct mu_agent_hb *u = h->data;
  close (u->fd);
  free (u);
}

void
mu_agent_hb_close (mu_agent_t *a)
{
  struct mu_agent_hb *u = a->hb_udp;
  if (u == NULL)
    return;
  a->hb_udp = NULL;
  uv_poll_stop (&u->poll);
  uv_close ((uv_handle_t *)&u->poll, on_closed);
}

static void
on_readable (uv_poll_t *p, int status, int events)
{
  struct mu_agent_hb *u = p->data;
  mu_agent_t *a = u->a;
  (void)events;
  if (status < 0)
    return;
  uint8_t buf[MU_HB_SIZE + 1];
  for (int i = 0; i < 64; i++)
    {
      ssize_t r = recv (u->fd, buf, sizeof buf, MSG_DONTWAIT);
      if (r < 0 && errno == EINTR)
        continue;
      if (r < 0)
        return; /* EAGAIN, or ECONNREFUSED (nothing on that port) */
      mu_hb_dgram_t d;
      if (mu_hb_peek (buf, (size_t)r, &d) != 0 || d.kind != MU_HB_PONG
          || d.slot != u->slot || mu_hb_verify (buf, u->key) != 0
          || d.seq > u->seq || !mu_hb_seq_fresh (&u->pong_seq, d.seq))
        continue; /* not ours, forged, or replayed: ignored */
      if (mu_term_check (&a->term, d.term) != 0)
        continue; /* a replaced coordinator (agent.c term_refused) */
      uint64_t now = mu_now_ms ();
      a->last_coord_ms = now;
      if (u->last_pong_ms == 0 || u->said_fallback)
        mu_log_info (a->log, "HB-UDP", "heartbeats over UDP to %s "
                     "(every %llu ms)", a->coordinator,
                     (unsigned long long)u->interval_ms);
      u->last_pong_ms = now;
      u->said_fallback = 0;
    }
}

/* A UDP socket connected to the heartbeat port on the coordinator's host. */
static int
open_socket (mu_agent_t *a, uint64_t port)
{
  mu_endpoint_t ep;
  char err[256];
  if (mu_endpoint_parse (a->coordinator, 0, &ep, err, sizeof err) != 0)
    return MUSTER_EINVAL;
  char ps[8];
  snprintf (ps, sizeof ps, "%u", (unsigned)port);
  struct addrinfo hints = { .ai_socktype = SOCK_DGRAM };
  struct addrinfo *res = NULL;
  if (getaddrinfo (ep.host, ps, &hints, &res) != 0 || res == NULL)
    return MUSTER_ENOTFOUND;
  int fd = socket (res->ai_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                   0);
  int rc = fd < 0 ? -errno : 0;
  if (rc == 0 && connect (fd, res->ai_addr, res->ai_addrlen) != 0)
    rc = -errno;
  freeaddrinfo (res);
  if (rc != 0)
    {
      if (fd >= 0)
        close (fd);
      return rc;
    }
  return fd;
}

uint64_t
mu_agent_hb_welcome (mu_agent_t *a, const mu_welcome_t *w)
{
  mu_agent_hb_close (a);
  const char *mode = getenv ("MUSTER_HEARTBEAT");
  if (w->hb_port == 0 || w->hb_port > 65535 || w->hb_key == NULL
      || a->opts.coord_in_process || (mode != NULL && strcmp (mode, "zmq") == 0))
    return 0;
  struct mu_agent_hb *u = calloc (1, sizeof *u);
  if (u == NULL)
    return 0;
  u->a = a;
  u->slot = (uint32_t)w->hb_slot;
  u->interval_ms = w->hb_udp_ms ? w->hb_udp_ms : 200;
  int fd = -1;
  if (mu_hb_key_parse (w->hb_key, u->key) != 0
      || (fd = open_socket (a, w->hb_port)) < 0
      || uv_poll_init (a->loop, &u->poll, fd) != 0)
    {
      mu_log_warn (a->log, "HB-UDP-OFF", "cannot heartbeat over UDP to %s "
                   "port %llu: heartbeats over the agent port",
                   a->coordinator, (unsigned long long)w->hb_port);
      if (fd >= 0)
        close (fd);
      free (u);
      return 0;
    }
  u->fd = fd;
  u->poll.data = u;
  uv_poll_start (&u->poll, UV_READABLE, on_readable);
  a->hb_udp = u;
  return u->interval_ms;
}

int
mu_agent_hb_tick (mu_agent_t *a, uint64_t now)
{
  struct mu_agent_hb *u = a->hb_udp;
  if (u == NULL)
    return 1;
  mu_hb_dgram_t d = { .kind = MU_HB_PING, .slot = u->slot, .seq = ++u->seq,
                      .term = a->term, .value = a->max_step };
  uint8_t buf[MU_HB_SIZE];
  mu_hb_encode (&d, u->key, buf);
  (void)send (u->fd, buf, sizeof buf, MSG_DONTWAIT); /* a loss is a loss */
  /* The previous tick's pong did not come: the ZeroMQ heartbeat goes too,
   * a whole interval before the coordinator's limit (miss_limit >= 2). */
  int silent = u->last_pong_ms == 0
               || now - u->last_pong_ms > u->interval_ms * 3 / 2;
  if (silent && u->last_pong_ms != 0 && !u->said_fallback)
    {
      mu_log_warn (a->log, "HB-UDP-SILENT", "no UDP heartbeat answer from %s "
                   "for %llu ms: heartbeats over the agent port too",
                   a->coordinator, (unsigned long long)(now - u->last_pong_ms));
      u->said_fallback = 1;
    }
  return silent;
}
