/*
 * agent_port.c — musterd's agent port on the native ZMTP server.
 *
 * The glue between zmtp_server.h and the coordinator: the server's
 * handshake asks mu_auth_decide (the question the ZAP handler asks for
 * libzmq's ports: connection cap, then the key table) with the client's
 * CURVE key; its messages are decoded and dispatched as the libzmq
 * ROUTER's were (coord.c mu_coord_dispatch_agent); its closed connections
 * reach nodes.c with their route (mu_nodes_route_closed, O(1) a close);
 * its accepts, closes and handshake drops are counted in c->conns and
 * logged as conn_limit.h says.  `musterd --agent-transport zmq` keeps the
 * libzmq ROUTER (coord.c open_router) as the baseline of the bench's
 * comparison (decision 104).
 */
#include "coordinator/coord.h"

#include <errno.h>
#include <stdlib.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <muster/error.h>

#include "common/keys.h"
#include "common/wire.h"
#include "common/zmtp_server.h"
#include "coordinator/auth.h"
#include "coordinator/conn_limit.h"

static int
on_admit (void *arg, const unsigned char *key, const char *peer, char *user,
          size_t ulen, char *reason, size_t rlen)
{
  mu_coord_t *c = arg;
  return mu_auth_decide (c->auth, "muster-agent", key ? "CURVE" : "NULL", key,
                         peer, user, ulen, reason, rlen);
}

static void
on_msg (void *arg, const mu_route_t *from, const unsigned char *body,
        size_t len, const char *bad)
{
  mu_coord_t *c = arg;
  mu_msg_t m;
  char err[256] = "";
  int rc = MUSTER_EPROTO;
  if (bad != NULL)
    snprintf (err, sizeof err, "%s", bad);
  else
    rc = mu_msg_decode ((const char *)body, len, &m, err, sizeof err);
  if (rc != 0)
    {
      mu_log_warn (c->log, "PROTO-ERROR", "agent port: %s", err);
      mu_coord_send_error (c, c->agent_sock, from, rc, NULL, err);
      return;
    }
  mu_coord_dispatch_agent (c, from, &m);
  mu_msg_clear (&m);
}

static void
on_close (void *arg, const mu_route_t *route)
{
  mu_nodes_route_closed (arg, route);
}

static void
on_event (void *arg, mu_zsrv_event_t ev)
{
  mu_coord_t *c = arg;
  switch (ev)
    {
    case MU_ZSRV_ACCEPTED:
      mu_conn_accepted (&c->conns, c->log, "agent");
      break;
    case MU_ZSRV_CLOSED:
      mu_conn_closed (&c->conns);
      break;
    case MU_ZSRV_HANDSHAKE_DROPPED:
    case MU_ZSRV_HANDSHAKE_FAILED:
      mu_conn_handshake_dropped (&c->conns, c->log, "agent");
      break;
    }
}

int
mu_agent_port_open (mu_coord_t *c)
{
  /* libuv writes with write(2): a peer that closed while bytes were
   * queued would raise SIGPIPE and kill the coordinator (libzmq sends with
   * MSG_NOSIGNAL).  musterd and `muster run` are our programs, and their
   * children get default dispositions back (worker/proc_launch.c); a
   * handler someone installed is left alone. */
  struct sigaction sa;
  if (sigaction (SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL)
    signal (SIGPIPE, SIG_IGN);
  mu_zsrv_opts_t o;
  memset (&o, 0, sizeof o);
  if (!mu_auth_insecure (c->auth))
    {
      o.curve = 1;
      if (mu_key_decode (mu_auth_server_public (c->auth), o.server_public) != 0
          || mu_key_decode (mu_auth_server_secret (c->auth), o.server_secret)
               != 0)
        return MUSTER_EINVAL;
    }
  o.max_msg = MU_PROTO_MAX_MSG;
  o.queue_max = 256u << 20; /* the HWM: a stalled agent costs at most this */
  o.handshake_ms = MU_CONN_HANDSHAKE_MS;
  o.backlog = 4096; /* thousands of agents connect at once */
  o.admit = on_admit;
  o.on_msg = on_msg;
  o.on_close = on_close;
  o.on_event = on_event;
  o.arg = c;
  o.log = c->log;
  int rc = mu_zsrv_new (c->loop, &o, &c->agent_port);
  memset (o.server_secret, 0, sizeof o.server_secret);
  if (rc != 0)
    return rc;
  char err[300] = "";
  rc = mu_zsrv_bind (c->agent_port, c->opts.agent_bind, c->agent_ep,
                     sizeof c->agent_ep, err, sizeof err);
  if (rc != 0)
    {
      mu_log_err (c->log, "BIND-FAILED", "agent port: %s", err);
      mu_zsrv_destroy (&c->agent_port);
      return rc;
    }
  c->agent_sock = c->agent_port;
  mu_log_notice (c->log, "AGENT-PORT", "%s: musterd's own ZMTP 3.1 server, %s",
               c->agent_ep, o.curve ? "CURVE" : "NULL (insecure)");
  return 0;
}

void
mu_agent_port_close (mu_coord_t *c)
{
  if (c->agent_port == NULL)
    return;
  mu_zsrv_destroy (&c->agent_port);
  c->agent_sock = NULL;
}

int
mu_coord_agent_send_raw (mu_coord_t *c, const mu_route_t *to, const void *buf,
                         size_t len)
{
  if (c->agent_sock == NULL)
    return MUSTER_EPEERLOST;
  if (c->agent_port == NULL)
    return mu_wire_send_raw (c->agent_sock, to, buf, len);
  /* A welcome held for this route goes first, in the same write
   * (welcome_hold.c). */
  size_t wlen = 0;
  char *w = mu_welcome_take (c, to, &wlen);
  if (w == NULL)
    return mu_zsrv_send (c->agent_port, to, buf, len);
  uv_buf_t b[2] = { uv_buf_init (w, (unsigned)wlen),
                    uv_buf_init ((char *)buf, (unsigned)len) };
  int rc = mu_zsrv_sendv (c->agent_port, to, b, 2);
  free (w);
  return rc;
}
