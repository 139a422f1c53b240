/*
 * hb_udp.c — the coordinator's heartbeat socket (hb_udp.h).
 *
 * A plain non-blocking UDP socket watched by a uv_poll: libuv's uv_udp
 * would allocate and call back once per datagram, where recvmmsg reads a
 * batch into buffers owned here and sendmmsg answers the whole batch in
 * one call.  Work per datagram: a bounds check, one SipHash of 32 bytes,
 * a compare of sequence numbers and a move to the tail of the liveness
 * list — O(1), no allocation, no string.
 */
#define _GNU_SOURCE
#include "coordinator/hb_udp.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <muster/error.h>

#include "common/hb_wire.h"
#include "common/netaddr.h"
#include "common/util.h"
#include "coordinator/ckpt.h"
#include "coordinator/coord.h"
#include "coordinator/coord_metrics.h"
#include "coordinator/epoch.h"

#define BATCH 64
#define MAX_BATCHES 32 /* per wake-up: the loop's other work waits no more */
/* Under load, after a wake-up the socket is read again only this much
 * later: at 50,000 heartbeats a second a wake-up then finds a few hundred
 * datagrams rather than a few, and the system calls and context switches
 * per heartbeat fall by as much (decision 92).  It adds at most this to a
 * round trip, and only when a wake-up found GATHER_MIN datagrams or more:
 * a small cluster's heartbeats (and the steps they report, which the
 * checkpoint step is extrapolated from) are read the moment they come. */
#define GATHER_MS 5
#define GATHER_MIN 4

struct mu_hb_udp {
  uv_poll_t poll;
  uv_timer_t gather;     /* GATHER_MS: the socket is read when it fires */
  int closing;           /* handles still to close before the free */
  int fd;
  uint16_t port;
  mu_coord_t *c;
  uint64_t logged_ms;    /* last HB-DROPPED line */
  uint64_t logged_total; /* drops counted in it */
  uint8_t in[BATCH][MU_HB_SIZE + 1];
  uint8_t out[BATCH][MU_HB_SIZE];
  struct sockaddr_storage from[BATCH];
  struct mmsghdr rmsg[BATCH], smsg[BATCH];
  struct iovec riov[BATCH], siov[BATCH];
};

static const char *const drop_names[] = { "malformed", "unknown", "forged",
                                          "replayed" };

const char *
mu_hb_drop_name (mu_hb_drop_t why)
{
  return (unsigned)why < 4 ? drop_names[why] : "?";
}

int
mu_hb_udp_new_key (mu_node_t *n)
{
  size_t got = 0;
  while (got < sizeof n->hb_key)
    {
      ssize_t r = getrandom (n->hb_key + got, sizeof n->hb_key - got, 0);
      if (r < 0 && errno == EINTR)
        continue;
      if (r < 0)
        return -errno;
      got += (size_t)r;
    }
  n->hb_seq = 0;
  n->hb_keyed = 1;
  return 0;
}

static void
dropped (struct mu_hb_udp *u, mu_hb_drop_t why)
{
  mu_coord_t *c = u->c;
  c->hb_dropped[why]++;
  mu_cm_hb_dropped (c, mu_hb_drop_name (why));
  uint64_t now = mu_now_ms ();
  if (now - u->logged_ms < 1000)
    return;
  uint64_t total = 0;
  for (int i = 0; i < 4; i++)
    total += c->hb_dropped[i];
  mu_log_warn (c->log, "HB-DROPPED",
               "heartbeat datagrams dropped: %llu (%llu since the last "
               "report): malformed %llu, unknown slot %llu, forged %llu, "
               "replayed %llu",
               (unsigned long long)total,
               (unsigned long long)(total - u->logged_total),
               (unsigned long long)c->hb_dropped[0],
               (unsigned long long)c->hb_dropped[1],
               (unsigned long long)c->hb_dropped[2],
               (unsigned long long)c->hb_dropped[3]);
  u->logged_ms = now;
  u->logged_total = total;
}

/* One datagram: 1 and the pong in `out` if it checks out, else 0. */
static int
handle (struct mu_hb_udp *u, const uint8_t *buf, size_t len, uint64_t now,
        uint8_t out[MU_HB_SIZE])
{
  mu_coord_t *c = u->c;
  mu_hb_dgram_t d;
  if (mu_hb_peek (buf, len, &d) != 0 || d.kind != MU_HB_PING)
    {
      dropped (u, MU_HB_DROP_MALFORMED);
      return 0;
    }
  mu_node_t *n = d.slot < c->nodes_used ? c->nodes[d.slot] : NULL;
  if (n == NULL || !n->in_use || !n->alive || !n->hb_keyed)
    {
      dropped (u, MU_HB_DROP_UNKNOWN);
      return 0;
    }
  if (mu_hb_verify (buf, n->hb_key) != 0)
    {
      dropped (u, MU_HB_DROP_TAG);
      return 0;
    }
  if (!mu_hb_seq_fresh (&n->hb_seq, d.seq))
    {
      dropped (u, MU_HB_DROP_REPLAY);
      return 0;
    }
  c->hb_pings++;
  if (!n->hb_udp)
    {
      n->hb_udp = 1;
      c->nodes_hb_udp++;
    }
  mu_nodes_seen (c, n, now);
  mu_cm_heartbeat (c, n);
  if (n->job != NULL && n->job->held.set)
    mu_epoch_member_heard (n->job);
  if (n->job != NULL && d.value > 0)
    mu_ckpt_note_step (n->job, d.value);
  mu_hb_dgram_t pong = { .kind = MU_HB_PONG, .slot = d.slot, .seq = d.seq,
                         .term = c->opts.term,
                         .value = c->opts.heartbeat_ms };
  mu_hb_encode (&pong, n->hb_key, out);
  return 1;
}

static int read_batches (struct mu_hb_udp *u, int max_batches);
static void on_gathered (uv_timer_t *t);

/* Readable: read at once, then leave the socket for GATHER_MS so the
 * next read finds a batch. */
static void
on_readable (uv_poll_t *p, int status, int events)
{
  struct mu_hb_udp *u = p->data;
  (void)events;
  if (status < 0)
    return;
  if (read_batches (u, MAX_BATCHES) < GATHER_MIN)
    return;
  uv_poll_stop (&u->poll);
  uv_timer_start (&u->gather, on_gathered, GATHER_MS, 0);
}

static void
on_gathered (uv_timer_t *t)
{
  struct mu_hb_udp *u = t->data;
  read_batches (u, MAX_BATCHES);
  uv_poll_start (&u->poll, UV_READABLE, on_readable);
}

void
mu_hb_udp_drain (mu_coord_t *c)
{
  if (c->hb_udp != NULL)
    read_batches (c->hb_udp, INT32_MAX);
}

/* Read and answer up to max_batches batches; how many datagrams were
 * read. */
static int
read_batches (struct mu_hb_udp *u, int max_batches)
{
  int total = 0;
  for (int round = 0; round < max_batches; round++)
    {
      for (int i = 0; i < BATCH; i++)
        {
          u->riov[i].iov_base = u->in[i];
          u->riov[i].iov_len = sizeof u->in[i];
          memset (&u->rmsg[i].msg_hdr, 0, sizeof u->rmsg[i].msg_hdr);
          u->rmsg[i].msg_hdr.msg_iov = &u->riov[i];
          u->rmsg[i].msg_hdr.msg_iovlen = 1;
          u->rmsg[i].msg_hdr.msg_name = &u->from[i];
          u->rmsg[i].msg_hdr.msg_namelen = sizeof u->from[i];
        }
      int got = recvmmsg (u->fd, u->rmsg, BATCH, MSG_DONTWAIT, NULL);
      if (got <= 0)
        return total; /* EAGAIN: drained (a send's errors come here too) */
      total += got;
      uint64_t now = mu_now_ms ();
      int nout = 0;
      for (int i = 0; i < got; i++)
        {
          if (!handle (u, u->in[i], u->rmsg[i].msg_len, now, u->out[nout]))
            continue;
          u->siov[nout].iov_base = u->out[nout];
          u->siov[nout].iov_len = MU_HB_SIZE;
          memset (&u->smsg[nout].msg_hdr, 0, sizeof u->smsg[nout].msg_hdr);
          u->smsg[nout].msg_hdr.msg_iov = &u->siov[nout];
          u->smsg[nout].msg_hdr.msg_iovlen = 1;
          u->smsg[nout].msg_hdr.msg_name = &u->from[i];
          u->smsg[nout].msg_hdr.msg_namelen = u->rmsg[i].msg_hdr.msg_namelen;
          nout++;
        }
      /* A pong that cannot be sent (a full buffer) is a lost datagram: the
       * agent's next heartbeat gets the next one. */
      for (int sent = 0; sent < nout;)
        {
          int r = sendmmsg (u->fd, u->smsg + sent, (unsigned)(nout - sent),
                            MSG_DONTWAIT);
          if (r <= 0)
            {
              if (r < 0 && errno == EINTR)
                continue;
              if (r == 0 || errno == EAGAIN || errno == EWOULDBLOCK
                  || errno == ENOBUFS)
                break;
              sent++; /* that destination refused it: skip it */
              continue;
            }
          sent += r;
        }
      if (got < BATCH)
        return total;
    }
  return total;
}

static int
bind_beside (struct mu_hb_udp *u, const char *agent_ep)
{
  mu_endpoint_t ep;
  char err[256];
  if (mu_endpoint_parse (agent_ep, 0, &ep, err, sizeof err) != 0)
    return MUSTER_EINVAL;
  struct addrinfo hints = { .ai_socktype = SOCK_DGRAM,
                            .ai_flags = AI_NUMERICHOST | AI_PASSIVE };
  const char *host = ep.host;
  if (strcmp (host, "*") == 0)
    host = NULL;
  /* The agent port's number first (UDP and TCP ports are apart), else any. */
  const char *ports[2] = { ep.port, "0" };
  for (int i = 0; i < 2; i++)
    {
      struct addrinfo *res = NULL;
      if (getaddrinfo (host, ports[i], &hints, &res) != 0 || res == NULL)
        return MUSTER_EINVAL;
      int fd = socket (res->ai_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                       0);
      if (fd < 0)
        {
          freeaddrinfo (res);
          return -errno;
        }
      /* Room for a burst of 10,000 nodes' heartbeats. */
      int buf = 4 << 20;
      setsockopt (fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
      setsockopt (fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
      int rc = bind (fd, res->ai_addr, res->ai_addrlen);
      freeaddrinfo (res);
      if (rc == 0)
        {
          struct sockaddr_storage ss;
          socklen_t sl = sizeof ss;
          getsockname (fd, (struct sockaddr *)&ss, &sl);
          u->port = ntohs (ss.ss_family == AF_INET6
                               ? ((struct sockaddr_in6 *)&ss)->sin6_port
                               : ((struct sockaddr_in *)&ss)->sin_port);
          u->fd = fd;
          return 0;
        }
      close (fd);
    }
  return -EADDRINUSE;
}

int
mu_hb_udp_start (mu_coord_t *c)
{
  struct mu_hb_udp *u = calloc (1, sizeof *u);
  if (u == NULL)
    return -ENOMEM;
  u->c = c;
  u->fd = -1;
  int rc = bind_beside (u, c->agent_ep);
  if (rc == 0)
    rc = uv_poll_init (c->loop, &u->poll, u->fd);
  if (rc == 0)
    {
      uv_timer_init (c->loop, &u->gather);
      u->poll.data = u->gather.data = u;
      c->hb_udp = u;
      rc = uv_poll_start (&u->poll, UV_READABLE, on_readable);
      if (rc != 0)
        {
          mu_hb_udp_stop (c);
          mu_log_warn (c->log, "HB-UDP-OFF", "no heartbeat socket (%s): "
                       "agents heartbeat over the agent port",
                       muster_strerror (rc));
          return rc;
        }
    }
  if (rc != 0)
    {
      if (u->fd >= 0)
        close (u->fd);
      free (u);
      mu_log_warn (c->log, "HB-UDP-OFF", "no heartbeat socket beside %s "
                   "(%s): agents heartbeat over the agent port",
                   c->agent_ep, muster_strerror (rc));
      return rc;
    }
  mu_log_info (c->log, "HB-UDP", "heartbeats on UDP port %u every %llu ms",
               (unsigned)u->port, (unsigned long long)c->opts.heartbeat_ms);
  return 0;
}

static void
on_closed (uv_handle_t *h)
{
  struct mu_hb_udp *u = h->data;
  if (--u->closing > 0)
    return;
  close (u->fd);
  free (u);
}

void
mu_hb_udp_stop (mu_coord_t *c)
{
  struct mu_hb_udp *u = c->hb_udp;
  if (u == NULL)
    return;
  c->hb_udp = NULL;
  uv_poll_stop (&u->poll);
  u->closing = 2;
  uv_close ((uv_handle_t *)&u->poll, on_closed);
  uv_close ((uv_handle_t *)&u->gather, on_closed);
}

uint16_t
mu_hb_udp_port (const mu_coord_t *c)
{
  return c->hb_udp ? c->hb_udp->port : 0;
}
