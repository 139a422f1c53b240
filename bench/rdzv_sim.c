/*
 * rdzv_sim.c — one shard of rdzv_load's simulated agents (see rdzv_load.c
 * for the protocol and the phases).
 *
 * Each agent is a DEALER whose routing id is its node id: by default a
 * plain TCP socket speaking ZMTP 3 itself (rl_zmtp.c: one syscall per
 * message sent, one read per readable socket, no I/O thread), or with
 * --agent-io zmq a libzmq DEALER, the baseline.  One epoll set watches
 * every socket (a libzmq socket's ZMQ_FD) and only signalled sockets are
 * drained.  ZMQ_FD is edge-like, so a libzmq socket is also drained after
 * every send to it, and all are swept when the loop has been idle for a
 * second.  Heartbeats
 * fall due in welcome order, so a FIFO ring is the timer queue.  Between
 * commands from the parent the shard keeps its agents alive (heartbeats).
 *
 * Heartbeats go over UDP (--hb-over udp, the default), as muster-agent
 * sends them when the welcome offers a port (common/hb_wire.h): one UDP
 * socket per shard sends every agent's pings, each tagged with its own
 * node's secret, and reads the pongs in batches (recvmmsg), matching each
 * to its agent by slot and checking its tag as an agent does.  With
 * --hb-over zmq they go over each agent's DEALER, as before UDP existed:
 * the baseline.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netdb.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include <muster/error.h>

#include "bench/rdzv_load.h"
#include "bench/rl_zmtp.h"
#include "common/hb_wire.h"
#include "common/netaddr.h"
#include "common/proto.h"
#include "common/wire.h"

#define SOCK_HWM 100000
#define SEND_BATCH 256     /* sends between two looks at incoming traffic */
#define SWEEP_IDLE_MS 1000 /* full sweep of all sockets when idle this long */
#define JOB_ID "bench-rdzv"

/* Nodes per job: every agent brings the one job, or with o->jobs > 1
 * (bench/many_jobs.c) agent g brings job g / (agents / jobs). */
static uint32_t
job_nodes (const opts_t *o)
{
  return o->jobs > 1 ? o->agents / o->jobs : o->agents;
}

/* The job id agent g (global index) brings, in buf. */
static const char *
job_of (const opts_t *o, uint32_t g, char *buf, size_t cap)
{
  if (o->jobs <= 1)
    return JOB_ID;
  snprintf (buf, cap, "bench-job-%05u", g / job_nodes (o));
  return buf;
}

enum
{
  PH_CONNECT,
  PH_ROUND,
  PH_DONE,
  PH_LOSS
};

typedef struct agent
{
  void *sock;      /* --agent-io zmq */
  rl_conn_t conn;  /* --agent-io zmtp (the default) */
  uint8_t out_watched; /* zmtp: EPOLLOUT is watched (bytes queued) */
  char node_id[24];
  uint8_t probed; /* connect probe answered */
  uint8_t welcomed;
  uint8_t started;
  uint8_t done;
  uint64_t hb_due_us;
  uint64_t hb_seq;
  uint64_t hb_sent_us[4]; /* when heartbeat seq went out, by seq % 4: an
                             answer later than the next heartbeat counts */
  uint64_t epoch;
  uint64_t first_rank;
  uint64_t hb_last_us; /* when its last heartbeat went out */
  uint8_t silent;  /* 'K': no more heartbeats (the injected loss) */
  uint8_t stopped; /* job.stop received after the loss */
  uint32_t slot;   /* UDP heartbeats: its slot and secret (welcome) */
  uint8_t key[MU_HB_KEY_LEN];
} agent_t;

typedef struct enc
{
  char *buf;
  size_t len;
} enc_t;

typedef struct sim
{
  const opts_t *o;
  const char *endpoint;
  void *ctx;
  int ep;     /* epoll set: ZMQ_FDs and the command pipe */
  int cmd_fd; /* commands from the parent */
  int cmd_ready;
  agent_t *ag;
  uint32_t n;     /* agents of this shard */
  uint32_t base;  /* global index of the first */
  uint32_t nopen; /* sockets created so far */
  int phase;
  /* heartbeat FIFO ring (welcome order) */
  uint32_t *ring;
  uint32_t ring_head, ring_len;
  uint64_t hb_us;
  uint64_t last_sweep;
  uint32_t probed, welcomed, started, done, stopped;
  report_t r;
  /* UDP heartbeats */
  int udp_fd;                /* -1 until the first welcome with a port */
  uint32_t *slot_agent;      /* slot -> agent index + 1 (0 = none) */
  uint32_t slot_cap;
  /* zmtp: the port's address, and one read buffer for every socket */
  struct sockaddr_storage sa;
  socklen_t salen;
  uint8_t *scratch;
  uint32_t cur; /* agent whose messages are being parsed */
} sim_t;

#define SCRATCH_SIZE (256u << 10)

#define CMD_MARK UINT32_MAX
#define UDP_MARK (UINT32_MAX - 1)

static void drain (sim_t *s, uint32_t i);

/* Send a pre-encoded message; on a full pipe, service incoming traffic and
 * retry (a DEALER at its high-water mark refuses with EAGAIN). */
/* zmtp: watch EPOLLOUT exactly while bytes wait for the kernel. */
static void
watch_out (sim_t *s, uint32_t i)
{
  agent_t *a = &s->ag[i];
  uint8_t want = (uint8_t)rl_zmtp_want_out (&a->conn);
  if (want == a->out_watched)
    return;
  struct epoll_event ev = { .events = EPOLLIN | (want ? EPOLLOUT : 0),
                            .data.u32 = i };
  if (epoll_ctl (s->ep, EPOLL_CTL_MOD, a->conn.fd, &ev) != 0)
    rl_die ("epoll_ctl: %s", strerror (errno));
  a->out_watched = want;
}

static void
send_raw (sim_t *s, uint32_t i, const void *buf, size_t len)
{
  if (!s->o->agent_zmq)
    {
      int rc = rl_zmtp_send (&s->ag[i].conn, buf, len);
      if (rc != 0)
        rl_die ("send to coordinator (agent %u): %s", s->base + i,
                strerror (-rc));
      watch_out (s, i);
      return;
    }
  for (;;)
    {
      if (zmq_send (s->ag[i].sock, buf, len, ZMQ_DONTWAIT) >= 0)
        break;
      if (errno != EAGAIN)
        rl_die ("send to coordinator (agent %u): %s", s->base + i,
                zmq_strerror (errno));
      drain (s, i);
      usleep (100);
    }
  /* A send may consume the ZMQ_FD edge of pending input: look now. */
  drain (s, i);
}

static void
send_msg (sim_t *s, uint32_t i, const mu_msg_t *m)
{
  char *buf;
  size_t len;
  int rc = mu_msg_encode (m, &buf, &len);
  if (rc != 0)
    rl_die ("encode %s: %s", mu_msg_name (m->type), muster_strerror (rc));
  send_raw (s, i, buf, len);
  free (buf);
}

static void drain_udp (sim_t *s);

static void
send_heartbeat (sim_t *s, uint32_t i)
{
  agent_t *a = &s->ag[i];
  if (a->silent)
    return;
  if (s->o->hb_udp)
    {
      mu_hb_dgram_t d = { .kind = MU_HB_PING, .slot = a->slot,
                          .seq = ++a->hb_seq };
      uint8_t buf[MU_HB_SIZE];
      mu_hb_encode (&d, a->key, buf);
      a->hb_sent_us[a->hb_seq % 4] = a->hb_last_us = rl_now_us ();
      for (int tries = 0; tries < 100; tries++)
        {
          if (send (s->udp_fd, buf, sizeof buf, MSG_DONTWAIT) >= 0)
            break;
          if (errno != EAGAIN && errno != ENOBUFS && errno != EINTR)
            break; /* ECONNREFUSED: a lost datagram, like on a network */
          drain_udp (s);
          usleep (50);
        }
      s->r.heartbeats_out++;
      return;
    }
  mu_msg_t m;
  memset (&m, 0, sizeof m);
  m.type = MU_MSG_HEARTBEAT;
  m.u.heartbeat.node_id = s->ag[i].node_id;
  m.u.heartbeat.seq = ++s->ag[i].hb_seq;
  s->ag[i].hb_sent_us[s->ag[i].hb_seq % 4] = s->ag[i].hb_last_us
      = rl_now_us ();
  send_msg (s, i, &m);
  s->r.heartbeats_out++;
}

static void
fail (sim_t *s, const agent_t *a, const char *fmt, ...)
{
  if (s->r.failed++ >= 5)
    return; /* the first few say enough */
  va_list ap;
  va_start (ap, fmt);
  fprintf (stderr, "rdzv_load: %s: ", a->node_id);
  vfprintf (stderr, fmt, ap);
  fputc ('\n', stderr);
  va_end (ap);
}

/* The shard's UDP socket, connected to the heartbeat port on musterd's
 * host, watched by the epoll set. */
static void
udp_open (sim_t *s, uint64_t port)
{
  mu_endpoint_t ep;
  char err[256], ps[8];
  if (mu_endpoint_parse (s->endpoint, 0, &ep, err, sizeof err) != 0)
    rl_die ("%s", err);
  snprintf (ps, sizeof ps, "%u", (unsigned)port);
  struct addrinfo hints = { .ai_socktype = SOCK_DGRAM };
  struct addrinfo *res = NULL;
  if (getaddrinfo (ep.host, ps, &hints, &res) != 0 || res == NULL)
    rl_die ("cannot resolve %s", ep.host);
  s->udp_fd = socket (res->ai_family, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  if (s->udp_fd < 0 || connect (s->udp_fd, res->ai_addr, res->ai_addrlen) != 0)
    rl_die ("UDP socket: %s", strerror (errno));
  freeaddrinfo (res);
  int buf = 8 << 20;
  setsockopt (s->udp_fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
  setsockopt (s->udp_fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
  struct epoll_event ev = { .events = EPOLLIN, .data.u32 = UDP_MARK };
  if (epoll_ctl (s->ep, EPOLL_CTL_ADD, s->udp_fd, &ev) != 0)
    rl_die ("epoll_ctl: %s", strerror (errno));
}

static void
slot_map (sim_t *s, uint32_t slot, uint32_t i)
{
  if (slot >= s->slot_cap)
    {
      uint32_t ncap = s->slot_cap ? s->slot_cap : 1024;
      while (ncap <= slot)
        ncap *= 2;
      uint32_t *v = realloc (s->slot_agent, ncap * sizeof *v);
      if (v == NULL)
        rl_die ("out of memory");
      memset (v + s->slot_cap, 0, (ncap - s->slot_cap) * sizeof *v);
      s->slot_agent = v;
      s->slot_cap = ncap;
    }
  s->slot_agent[slot] = i + 1;
}

/* Read every pong waiting, in batches; check each as an agent does. */
static void
drain_udp (sim_t *s)
{
  enum { B = 64 };
  uint8_t buf[B][MU_HB_SIZE + 1];
  struct mmsghdr mm[B];
  struct iovec iov[B];
  if (s->udp_fd < 0)
    return;
  for (;;)
    {
      for (int k = 0; k < B; k++)
        {
          iov[k].iov_base = buf[k];
          iov[k].iov_len = sizeof buf[k];
          memset (&mm[k].msg_hdr, 0, sizeof mm[k].msg_hdr);
          mm[k].msg_hdr.msg_iov = &iov[k];
          mm[k].msg_hdr.msg_iovlen = 1;
        }
      int got = recvmmsg (s->udp_fd, mm, B, MSG_DONTWAIT, NULL);
      if (got <= 0)
        return;
      uint64_t t = rl_now_us ();
      for (int k = 0; k < got; k++)
        {
          mu_hb_dgram_t d;
          uint32_t i;
          if (mu_hb_peek (buf[k], mm[k].msg_len, &d) != 0
              || d.kind != MU_HB_PONG || d.slot >= s->slot_cap
              || (i = s->slot_agent[d.slot]) == 0
              || mu_hb_verify (buf[k], s->ag[i - 1].key) != 0)
            {
              s->r.hb_bad++;
              continue;
            }
          agent_t *a = &s->ag[i - 1];
          s->r.heartbeats_in++;
          if (d.seq + 4 > a->hb_seq && d.seq <= a->hb_seq
              && a->hb_sent_us[d.seq % 4])
            {
              uint64_t rtt = t - a->hb_sent_us[d.seq % 4];
              if (rtt > s->r.hb_rtt_max_us)
                s->r.hb_rtt_max_us = rtt;
              s->r.hb_rtt_sum_us += rtt;
              s->r.hb_rtt_n++;
              s->r.hb_rtt_hist[rl_hist_idx (rtt)]++;
              a->hb_sent_us[d.seq % 4] = 0;
            }
        }
      if (got < B)
        return;
    }
}

static void
on_message (sim_t *s, uint32_t i, mu_msg_t *m)
{
  agent_t *a = &s->ag[i];
  uint32_t total = job_nodes (s->o);
  uint64_t t = rl_now_us ();
  s->r.msgs_in++;
  switch (m->type)
    {
    case MU_MSG_ERROR:
      if (s->phase == PH_CONNECT && !a->probed
          && m->u.error.code == MUSTER_ENOTFOUND)
        {
          a->probed = 1;
          s->probed++;
          s->r.t_last = t;
          break;
        }
      fail (s, a, "error from musterd: %s (%s)", m->u.error.message,
            muster_err_name ((int)m->u.error.code));
      break;
    case MU_MSG_WELCOME:
      if (!a->welcomed)
        {
          a->welcomed = 1;
          if (s->welcomed++ == 0)
            {
              s->r.t_first_welcome = t;
              s->hb_us = (m->u.welcome.heartbeat_ms ? m->u.welcome.heartbeat_ms
                                                    : 200)
                         * 1000u;
            }
          s->r.t_last_welcome = t;
          if (s->o->hb_udp)
            {
              const mu_welcome_t *w = &m->u.welcome;
              if (w->hb_port == 0 || w->hb_key == NULL
                  || mu_hb_key_parse (w->hb_key, a->key) != 0)
                rl_die ("%s: musterd offers no UDP heartbeats (use "
                        "--hb-over zmq)", a->node_id);
              if (s->udp_fd < 0)
                udp_open (s, w->hb_port);
              if (w->hb_udp_ms > 0)
                s->hb_us = w->hb_udp_ms * 1000u;
              a->slot = (uint32_t)w->hb_slot;
              slot_map (s, a->slot, i);
            }
          a->hb_due_us = t + s->hb_us;
          s->ring[(s->ring_head + s->ring_len++) % s->n] = i;
        }
      break;
    case MU_MSG_HEARTBEAT:
      s->r.heartbeats_in++;
      /* Like a real agent: follow the interval the coordinator asks for
       * (over ZeroMQ; the UDP interval is fixed). */
      if (m->u.heartbeat.heartbeat_ms > 0 && !s->o->hb_udp)
        {
          s->hb_us = m->u.heartbeat.heartbeat_ms * 1000u;
          s->r.hb_ms = m->u.heartbeat.heartbeat_ms;
        }
      uint64_t seq = m->u.heartbeat.seq;
      if (seq + 4 > a->hb_seq && seq <= a->hb_seq && a->hb_sent_us[seq % 4])
        {
          uint64_t rtt = t - a->hb_sent_us[seq % 4];
          if (rtt > s->r.hb_rtt_max_us)
            s->r.hb_rtt_max_us = rtt;
          s->r.hb_rtt_sum_us += rtt;
          s->r.hb_rtt_n++;
          s->r.hb_rtt_hist[rl_hist_idx (rtt)]++;
          a->hb_sent_us[seq % 4] = 0;
        }
      break;
    case MU_MSG_RDZV_PROGRESS:
      s->r.progress_in++;
      break;
    case MU_MSG_START:
      {
        const mu_start_t *st = &m->u.start;
        if (a->started)
          {
            fail (s, a, "second job.start (epoch %llu)",
                  (unsigned long long)st->epoch);
            break;
          }
        if (st->assign.n != s->o->workers
            || st->world != (uint64_t)total * s->o->workers
            || st->nnodes != total)
          fail (s, a,
                "job.start with %zu workers, world %llu, %llu nodes "
                "(expected %u, %llu, %u)",
                st->assign.n, (unsigned long long)st->world,
                (unsigned long long)st->nnodes, s->o->workers,
                (unsigned long long)total * s->o->workers, total);
        a->started = 1;
        a->epoch = st->epoch;
        a->first_rank = st->assign.n ? st->assign.v[0].rank : 0;
        if (s->started++ == 0)
          s->r.t_first = t;
        s->r.t_last = t;
        break;
      }
    case MU_MSG_JOB_DONE:
      if (!a->done)
        {
          a->done = 1;
          if (s->done++ == 0)
            s->r.t_first = t;
          s->r.t_last = t;
          if (strcmp (m->u.job_done.state, "succeeded") != 0)
            fail (s, a, "job.done %s: %s", m->u.job_done.state,
                  m->u.job_done.reason ? m->u.job_done.reason : "");
        }
      break;
    case MU_MSG_STOP:
      if (s->phase == PH_LOSS && !a->silent)
        {
          if (!a->stopped)
            {
              a->stopped = 1;
              if (s->stopped++ == 0)
                s->r.t_first = t;
              s->r.t_last = t;
            }
          break;
        }
      fail (s, a, "unexpected job.stop: %s",
            m->u.stop.reason ? m->u.stop.reason : "");
      break;
    default:
      fail (s, a, "unexpected %s", mu_msg_name (m->type));
      break;
    }
}

/* zmtp: one whole message of agent s->cur, decoded as an agent would. */
static void
on_zmtp_message (void *arg, const uint8_t *buf, size_t len)
{
  sim_t *s = arg;
  mu_msg_t m;
  char err[256];
  int rc = mu_msg_decode (buf, len, &m, err, sizeof err);
  if (rc != 0)
    {
      fail (s, &s->ag[s->cur], "bad message: %s (%s)", err,
            muster_err_name (rc));
      return;
    }
  on_message (s, s->cur, &m);
  mu_msg_clear (&m);
}

/* Receive everything waiting on agent i's socket. */
static void
drain (sim_t *s, uint32_t i)
{
  if (!s->o->agent_zmq)
    {
      const char *why;
      s->cur = i;
      int rc = rl_zmtp_read (&s->ag[i].conn, s->scratch, SCRATCH_SIZE,
                             on_zmtp_message, s, &why);
      if (rc != 0 && s->ag[i].conn.fd >= 0)
        {
          fail (s, &s->ag[i], "connection: %s", why ? why : strerror (-rc));
          /* Closed or broken: stop watching it. */
          epoll_ctl (s->ep, EPOLL_CTL_DEL, s->ag[i].conn.fd, NULL);
          rl_zmtp_close (&s->ag[i].conn);
        }
      else if (rc == 0)
        watch_out (s, i); /* the greeting released what was held */
      return;
    }
  for (;;)
    {
      mu_msg_t m;
      char err[256];
      int rc = mu_wire_recv (s->ag[i].sock, NULL, &m, err, sizeof err);
      if (rc == -EAGAIN)
        return;
      if (rc == -EINTR)
        continue;
      if (rc != 0)
        {
          fail (s, &s->ag[i], "bad message: %s (%s)", err,
                muster_err_name (rc));
          if (rc > MUSTER_ERR_BASE) /* a socket error, not a decode error */
            return;
          continue;
        }
      on_message (s, i, &m);
      mu_msg_clear (&m);
    }
}

static void
sweep_all (sim_t *s)
{
  if (!s->o->agent_zmq)
    return; /* level-triggered plain sockets: nothing is missed */
  for (uint32_t i = 0; i < s->nopen; i++)
    drain (s, i);
}

static void
send_due_heartbeats (sim_t *s, uint64_t t)
{
  while (s->ring_len > 0)
    {
      uint32_t i = s->ring[s->ring_head];
      if (s->ag[i].hb_due_us > t)
        break;
      s->ring_head = (s->ring_head + 1) % s->n;
      s->ring_len--;
      if (t - s->ag[i].hb_due_us > s->r.hb_late_max_us)
        s->r.hb_late_max_us = t - s->ag[i].hb_due_us;
      send_heartbeat (s, i);
      s->ag[i].hb_due_us += s->hb_us;
      if (s->ag[i].hb_due_us < t) /* fell behind: do not burst */
        s->ag[i].hb_due_us = t + s->hb_us;
      s->ring[(s->ring_head + s->ring_len++) % s->n] = i;
    }
}

/* One turn of the loop: wait up to max_wait_ms for traffic, handle it, send
 * due heartbeats. */
static void
service (sim_t *s, int max_wait_ms)
{
  uint64_t t = rl_now_us ();
  int wait = max_wait_ms;
  if (s->ring_len > 0)
    {
      uint64_t due = s->ag[s->ring[s->ring_head]].hb_due_us;
      int until = due > t ? (int)((due - t) / 1000) : 0;
      if (until < wait)
        wait = until;
    }
  struct epoll_event ev[512];
  int k = epoll_wait (s->ep, ev, 512, wait);
  for (int e = 0; e < k; e++)
    if (ev[e].data.u32 == CMD_MARK)
      s->cmd_ready = 1;
    else if (ev[e].data.u32 == UDP_MARK)
      drain_udp (s);
    else if (!s->o->agent_zmq)
      {
        uint32_t i = ev[e].data.u32;
        if (ev[e].events & EPOLLOUT)
          {
            int rc = rl_zmtp_flush (&s->ag[i].conn);
            if (rc != 0)
              rl_die ("send to coordinator (agent %u): %s", s->base + i,
                      strerror (-rc));
            watch_out (s, i);
          }
        if (ev[e].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
          drain (s, i);
      }
    else
      drain (s, ev[e].data.u32);
  t = rl_now_us ();
  if (k <= 0 && t - s->last_sweep > SWEEP_IDLE_MS * 1000u)
    {
      sweep_all (s);
      s->last_sweep = t;
    }
  send_due_heartbeats (s, t);
}

static void
wait_for (sim_t *s, const uint32_t *count, const char *what, uint64_t t0)
{
  uint64_t limit = (uint64_t)(s->o->timeout_s * 1e6);
  uint64_t last_note = rl_now_us ();
  while (*count < s->n && !s->r.failed)
    {
      service (s, 20);
      uint64_t t = rl_now_us ();
      if (t - t0 > limit)
        rl_die ("timed out after %.0f s waiting for %s: %u of %u in shard %u",
                s->o->timeout_s, what, *count, s->n, s->base);
      if (t - last_note > 1000000)
        {
          rl_note ("shard %u: %s: %u of %u", s->base, what, *count, s->n);
          last_note = t;
        }
    }
}

/* Keep the agents alive (heartbeats) until the parent sends a command. */
static char
next_command (sim_t *s)
{
  for (;;)
    {
      char c;
      ssize_t r = read (s->cmd_fd, &c, 1);
      if (r == 1)
        return c;
      if (r == 0)
        return 'Q'; /* the parent is gone */
      if (errno != EAGAIN && errno != EINTR)
        return 'Q';
      s->cmd_ready = 0;
      service (s, 50);
    }
}

static void
build_spec (const opts_t *o, mu_job_spec_t *spec, mu_role_spec_t *role,
            char **argv)
{
  memset (spec, 0, sizeof *spec);
  memset (role, 0, sizeof *role);
  role->name = (char *)o->role;
  role->min_nodes = job_nodes (o);
  role->max_nodes = job_nodes (o);
  role->nproc = o->workers;
  argv[0] = (char *)"/bin/true";
  spec->id = (char *)JOB_ID;
  spec->roles.v = role;
  spec->roles.n = 1;
  spec->argv.v = argv;
  spec->argv.n = 1;
}

static void
send_report (sim_t *s, int res_fd)
{
  s->r.cpu_s = rl_self_cpu_s ();
  s->r.hb_ms = s->hb_us / 1000u;
  if (write (res_fd, &s->r, sizeof s->r) != (ssize_t)sizeof s->r)
    exit (1);
  int failed = s->r.failed;
  memset (&s->r, 0, sizeof s->r);
  s->r.failed = failed;
  s->r.cpu_start_s = rl_self_cpu_s ();
}

/* One shard of the simulated agents, in its own process (ZeroMQ contexts
 * do not survive fork, and each process has its own descriptor limit).
 * Commands: 'C' connect and probe, 'R' register and wait for every
 * job.start, 'X' report every worker exited and wait for every job.done,
 * 'Q' quit.  Each command is answered with a report_t. */
int
rl_shard_main (const opts_t *o, const char *endpoint, uint32_t base, uint32_t n,
               uint32_t nshards, int cmd_fd, int res_fd)
{
  sim_t s;
  memset (&s, 0, sizeof s);
  s.o = o;
  s.endpoint = endpoint;
  s.base = base;
  s.n = n;
  s.cmd_fd = cmd_fd;
  s.udp_fd = -1;
  s.ag = calloc (n, sizeof *s.ag);
  s.ring = calloc (n, sizeof *s.ring);
  s.ep = epoll_create1 (EPOLL_CLOEXEC);
  if (s.ag == NULL || s.ring == NULL || s.ep < 0)
    rl_die ("out of memory");
  for (uint32_t i = 0; i < n; i++)
    s.ag[i].conn.fd = -1;
  if (o->agent_zmq)
    {
      s.ctx = zmq_ctx_new ();
      if (s.ctx == NULL)
        rl_die ("zmq_ctx_new: %s", zmq_strerror (errno));
      zmq_ctx_set (s.ctx, ZMQ_MAX_SOCKETS, (int)n + 16);
      zmq_ctx_set (s.ctx, ZMQ_IO_THREADS, o->io_threads);
    }
  else
    {
      /* The agent port's address, resolved once. */
      mu_endpoint_t ep;
      char err[256];
      struct addrinfo hints = { .ai_socktype = SOCK_STREAM };
      struct addrinfo *res = NULL;
      if (mu_endpoint_parse (endpoint, 0, &ep, err, sizeof err) != 0)
        rl_die ("%s", err);
      if (getaddrinfo (ep.host, ep.port, &hints, &res) != 0 || res == NULL)
        rl_die ("cannot resolve %s", endpoint);
      memcpy (&s.sa, res->ai_addr, res->ai_addrlen);
      s.salen = res->ai_addrlen;
      freeaddrinfo (res);
      s.scratch = malloc (SCRATCH_SIZE);
      if (s.scratch == NULL)
        rl_die ("out of memory");
    }
  fcntl (cmd_fd, F_SETFL, O_NONBLOCK);
  struct epoll_event cev = { .events = EPOLLIN, .data.u32 = CMD_MARK };
  epoll_ctl (s.ep, EPOLL_CTL_ADD, cmd_fd, &cev);

  mu_job_spec_t spec;
  mu_role_spec_t role;
  char *pargv[1];
  build_spec (o, &spec, &role, pargv);
  enc_t *reg = NULL, *ex = NULL;
  size_t nw = (size_t)n * o->workers;
  uint32_t window = o->connect_window / nshards;
  if (o->connect_window > 0 && window == 0)
    window = 1;

  for (;;)
    {
      char c = next_command (&s);
      if (c == 'Q')
        break;
      /* A report covers its phase only, not the wait for the command. */
      int failed = s.r.failed;
      memset (&s.r, 0, sizeof s.r);
      s.r.failed = failed;
      s.r.cpu_start_s = rl_self_cpu_s ();
      if (c == 'C')
        {
          s.phase = PH_CONNECT;
          uint64_t t0 = rl_now_us ();
          for (uint32_t i = 0; i < n; i++)
            {
              agent_t *a = &s.ag[i];
              /* Pace: a listener's accept backlog is finite, and a SYN it
               * drops is retried only after 1 s, 3 s, 7 s ... */
              while (window > 0 && i - s.probed >= window && !s.r.failed)
                service (&s, 5);
              snprintf (a->node_id, sizeof a->node_id, "sim-%06u", base + i);
              if (!o->agent_zmq)
                {
                  int rc = rl_zmtp_connect (&a->conn,
                                            (struct sockaddr *)&s.sa, s.salen,
                                            a->node_id);
                  if (rc != 0)
                    rl_die ("socket %u: %s", base + i, strerror (-rc));
                  struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT,
                                            .data.u32 = i };
                  a->out_watched = 1;
                  if (epoll_ctl (s.ep, EPOLL_CTL_ADD, a->conn.fd, &ev) != 0)
                    rl_die ("epoll_ctl: %s", strerror (errno));
                }
              else
                {
              a->sock = zmq_socket (s.ctx, ZMQ_DEALER);
              if (a->sock == NULL)
                rl_die ("socket %u: %s", base + i, zmq_strerror (errno));
              if (mu_wire_sockopts (a->sock, SOCK_HWM) != 0
                  || zmq_setsockopt (a->sock, ZMQ_ROUTING_ID, a->node_id,
                                     strlen (a->node_id))
                         != 0
                  || zmq_connect (a->sock, endpoint) != 0)
                rl_die ("socket %u: %s", base + i, zmq_strerror (errno));
              int fd;
              size_t fl = sizeof fd;
              zmq_getsockopt (a->sock, ZMQ_FD, &fd, &fl);
              struct epoll_event ev = { .events = EPOLLIN, .data.u32 = i };
              if (epoll_ctl (s.ep, EPOLL_CTL_ADD, fd, &ev) != 0)
                rl_die ("epoll_ctl: %s", strerror (errno));
                }
              s.nopen = i + 1;
              /* The probe: an unregistered node's heartbeat is answered
               * with "unknown node", which proves the connection is up
               * both ways. */
              mu_msg_t m;
              memset (&m, 0, sizeof m);
              m.type = MU_MSG_HEARTBEAT;
              m.u.heartbeat.node_id = a->node_id;
              send_msg (&s, i, &m);
              if (i % SEND_BATCH == 0)
                service (&s, 0);
            }
          wait_for (&s, &s.probed, "connections", t0);
          s.r.count = s.probed;
          /* Encode every registration now, outside the timed round. */
          reg = calloc (n, sizeof *reg);
          if (reg == NULL)
            rl_die ("out of memory");
          for (uint32_t i = 0; i < n; i++)
            {
              mu_msg_t m;
              memset (&m, 0, sizeof m);
              m.type = MU_MSG_REGISTER;
              m.u.reg.node_id = s.ag[i].node_id;
              m.u.reg.host = (char *)"127.0.0.1";
              m.u.reg.slots = o->workers;
              m.u.reg.port_base = 20000 + (uint64_t)((base + i) % 3000) * 10;
              m.u.reg.pid = (uint64_t)getpid ();
              char jid[32];
              spec.id = (char *)job_of (o, base + i, jid, sizeof jid);
              m.u.reg.job = &spec;
              int rc = mu_msg_encode (&m, &reg[i].buf, &reg[i].len);
              if (rc != 0)
                rl_die ("encode agent.register: %s", muster_strerror (rc));
            }
        }
      else if (c == 'R')
        {
          s.phase = PH_ROUND;
          uint64_t t0 = rl_now_us ();
          for (uint32_t i = 0; i < n; i++)
            {
              send_raw (&s, i, reg[i].buf, reg[i].len);
              if (i % SEND_BATCH == SEND_BATCH - 1)
                service (&s, 0);
            }
          s.r.t_sent = rl_now_us ();
          wait_for (&s, &s.started, "job.start", t0);
          s.r.count = s.started;
          for (uint32_t i = 0; i < n; i++)
            free (reg[i].buf);
          free (reg);
          reg = NULL;
        }
      else if (c == 'I')
        {
          /* Steady state: only heartbeats, for the parent's stopwatch. */
          uint64_t end = rl_now_us () + (uint64_t)(o->steady_s * 1e6);
          while (rl_now_us () < end && !s.r.failed)
            service (&s, 20);
          s.r.count = n;
        }
      else if (c == 'K')
        {
          /* The injected loss: the last agent of all stops heartbeating
           * and says nothing else; its connection stays open. */
          s.phase = PH_LOSS;
          if (base + n == o->agents)
            {
              agent_t *a = &s.ag[n - 1];
              a->silent = 1;
              s.r.t_victim_hb = a->hb_last_us;
              s.r.t_stop = rl_now_us ();
            }
        }
      else if (c == 'L')
        {
          uint32_t want = base + n == o->agents ? n - 1 : n;
          uint64_t t0 = rl_now_us ();
          uint64_t limit = (uint64_t)(o->timeout_s * 1e6);
          while (s.stopped < want && !s.r.failed)
            {
              service (&s, 20);
              if (rl_now_us () - t0 > limit)
                rl_die ("timed out after %.0f s waiting for job.stop after "
                        "the loss: %u of %u in shard %u", o->timeout_s,
                        s.stopped, want, base);
            }
          s.r.count = s.stopped;
        }
      else if (c == 'E')
        {
          /* Encode every exit report, outside the timed phase. */
          ex = calloc (nw, sizeof *ex);
          if (ex == NULL)
            rl_die ("out of memory");
          for (uint32_t i = 0; i < n; i++)
            for (uint32_t w = 0; w < o->workers; w++)
              {
                char jid[32];
                mu_msg_t m;
                memset (&m, 0, sizeof m);
                m.type = MU_MSG_WORKER_STATE;
                m.u.worker_state.job
                    = (char *)job_of (o, base + i, jid, sizeof jid);
                m.u.worker_state.epoch = s.ag[i].epoch;
                m.u.worker_state.rank = s.ag[i].first_rank + w;
                m.u.worker_state.state = (char *)"exited";
                m.u.worker_state.pid = 100000 + (uint64_t)i * o->workers + w;
                enc_t *e = &ex[(size_t)i * o->workers + w];
                int rc = mu_msg_encode (&m, &e->buf, &e->len);
                if (rc != 0)
                  rl_die ("encode worker.state: %s", muster_strerror (rc));
              }
        }
      else if (c == 'X')
        {
          s.phase = PH_DONE;
          uint64_t t0 = rl_now_us ();
          /* Round-robin over agents, as exits from many machines
           * interleave. */
          size_t sent = 0;
          for (uint32_t w = 0; w < o->workers; w++)
            for (uint32_t i = 0; i < n; i++)
              {
                enc_t *e = &ex[(size_t)i * o->workers + w];
                send_raw (&s, i, e->buf, e->len);
                if (++sent % SEND_BATCH == 0)
                  service (&s, 0);
              }
          s.r.t_sent = rl_now_us ();
          wait_for (&s, &s.done, "job.done", t0);
          s.r.count = s.done;
          for (size_t k = 0; k < nw; k++)
            free (ex[k].buf);
          free (ex);
          ex = NULL;
        }
      if (s.r.failed > 5)
        fprintf (stderr, "rdzv_load: shard %u: %d failures in all\n", base,
                 s.r.failed);
      send_report (&s, res_fd);
      if (s.r.failed)
        break;
    }
  for (uint32_t i = 0; i < s.nopen; i++)
    if (o->agent_zmq)
      zmq_close (s.ag[i].sock);
    else
      rl_zmtp_close (&s.ag[i].conn);
  if (s.ctx != NULL)
    zmq_ctx_term (s.ctx);
  free (s.scratch);
  close (s.ep);
  if (s.udp_fd >= 0)
    close (s.udp_fd);
  free (s.slot_agent);
  int failed = s.r.failed;
  free (s.ag);
  free (s.ring);
  return failed ? 1 : 0;
}

/* The heartbeat round-trip histogram's buckets (rdzv_load.h). */
unsigned
rl_hist_idx (uint64_t us)
{
  if (us < 8)
    return (unsigned)us;
  unsigned e = 63u - (unsigned)__builtin_clzll (us);
  unsigned idx = 8 + (e - 3) * 8 + (unsigned)((us >> (e - 3)) & 7);
  return idx < RL_HIST_N ? idx : RL_HIST_N - 1;
}

uint64_t
rl_hist_upper_us (unsigned idx)
{
  if (idx < 8)
    return idx + 1;
  unsigned e = (idx - 8) / 8 + 3, sub = (idx - 8) % 8;
  return (uint64_t)(9 + sub) << (e - 3);
}
