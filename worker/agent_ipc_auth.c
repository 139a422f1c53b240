/*
 * agent_ipc_auth.c — which user is on the other end of a worker
 * connection: ZAP on the agent's ipc ROUTER, served on the agent's loop.
 *
 * Directory modes (agent_ipc_owner.c) already keep other users off the
 * agent's sockets; this is the second wall, in case a mode is ever wrong.
 * libzmq (4.3) runs a ZAP handshake for every connection to a socket that
 * has a ZMQ_ZAP_DOMAIN, also with the NULL mechanism, and on ipc it puts
 * the peer's SO_PEERCRED into the request's address frame
 * ("localhost:UID:GID:PID"; some builds omit "localhost:").  The handler is
 * a REP socket bound to inproc://zeromq.zap.01 in the agent's context,
 * joined to the loop by mu_zwatch like every other socket, so the loop never
 * blocks on it.  It refuses (400) a uid that is neither root, the agent's,
 * nor the owner of a job with an endpoint here, and answers 200 with the
 * uid as User-Id otherwise; the worker side (agent_workers.c) then reads
 * the User-Id of every message and accepts a worker.hello only from the
 * uid its worker runs as, or root.  An address without credentials (a
 * platform without SO_PEERCRED) is let through with an empty User-Id: the
 * directory modes still hold.
 */
#include "worker/agent_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include <muster/error.h>

#include "common/zwatch.h"

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define ZAP_DOMAIN "muster-agent-workers"
#define ZAP_FRAMES 8 /* version, id, domain, address, identity, mechanism */

int
mu_agent_ipc_auth_uid (const char *user_id, uint32_t *uid)
{
  if (user_id == NULL || user_id[0] < '0' || user_id[0] > '9')
    return -1;
  char *end;
  errno = 0;
  unsigned long v = strtoul (user_id, &end, 10);
  if (errno != 0 || *end != '\0' || v > UINT32_MAX)
    return -1;
  *uid = (uint32_t)v;
  return 0;
}

/* The uid in a ZAP address "localhost:UID:GID:PID" or "UID:GID:PID". */
static int
address_uid (const char *addr, uint32_t *uid, const char **pid)
{
  const char *f[4];
  int n = 0;
  f[n++] = addr;
  for (const char *p = addr; *p != '\0' && n < 4; p++)
    if (*p == ':')
      f[n++] = p + 1;
  const char *u = n == 4 ? f[1] : n == 3 ? f[0] : NULL;
  if (u == NULL)
    return -1;
  char buf[16];
  size_t len = strcspn (u, ":");
  if (len == 0 || len >= sizeof buf)
    return -1;
  memcpy (buf, u, len);
  buf[len] = '\0';
  *pid = f[n - 1];
  return mu_agent_ipc_auth_uid (buf, uid);
}

static int
on_zap (void *sock, void *arg)
{
  mu_agent_t *a = arg;
  zmq_msg_t f[ZAP_FRAMES];
  int n = 0, more = 1;
  while (more)
    {
      zmq_msg_t m;
      zmq_msg_init (&m);
      if (zmq_msg_recv (&m, sock, ZMQ_DONTWAIT) < 0)
        {
          int e = errno;
          zmq_msg_close (&m);
          if (n == 0)
            return e == EINTR ? 0 : -EAGAIN;
          break; /* frames of one message arrive together: not reached */
        }
      more = zmq_msg_more (&m);
      if (n < ZAP_FRAMES)
        f[n++] = m;
      else
        zmq_msg_close (&m);
    }
  char addr[128] = "";
  if (n >= 4)
    snprintf (addr, sizeof addr, "%.*s", (int)zmq_msg_size (&f[3]),
              (const char *)zmq_msg_data (&f[3]));
  uint32_t uid = 0;
  const char *pid = "?";
  char user_id[16] = "";
  const char *status = "200", *text = "OK";
  if (n < 6)
    {
      status = "500";
      text = "malformed ZAP request";
    }
  else if (address_uid (addr, &uid, &pid) == 0)
    {
      snprintf (user_id, sizeof user_id, "%u", (unsigned)uid);
      if (!mu_agent_ipc_uid_known (a, uid))
        {
          status = "400";
          text = "no job of this user on this agent";
          mu_log_warn (a->log, "IPC-REFUSED",
                       "connection from uid %u (pid %s) refused: no job of "
                       "that user runs here", (unsigned)uid, pid);
        }
    }
  const char *version = "1.0";
  zmq_send (sock, version, strlen (version), ZMQ_SNDMORE | ZMQ_DONTWAIT);
  if (n >= 2)
    zmq_send (sock, zmq_msg_data (&f[1]), zmq_msg_size (&f[1]),
              ZMQ_SNDMORE | ZMQ_DONTWAIT);
  else
    zmq_send (sock, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT);
  zmq_send (sock, status, strlen (status), ZMQ_SNDMORE | ZMQ_DONTWAIT);
  zmq_send (sock, text, strlen (text), ZMQ_SNDMORE | ZMQ_DONTWAIT);
  zmq_send (sock, user_id, strlen (user_id), ZMQ_SNDMORE | ZMQ_DONTWAIT);
  zmq_send (sock, "", 0, ZMQ_DONTWAIT);
  for (int i = 0; i < n; i++)
    zmq_msg_close (&f[i]);
  return 0;
}

int
mu_agent_ipc_auth_open (mu_agent_t *a)
{
  a->zap_sock = zmq_socket (a->zctx, ZMQ_REP);
  if (a->zap_sock == NULL)
    return -errno;
  int linger = 0;
  zmq_setsockopt (a->zap_sock, ZMQ_LINGER, &linger, sizeof linger);
  if (zmq_bind (a->zap_sock, ZAP_ENDPOINT) != 0
      || zmq_setsockopt (a->work_sock, ZMQ_ZAP_DOMAIN, ZAP_DOMAIN,
                         strlen (ZAP_DOMAIN)) != 0)
    {
      int rc = -errno;
      mu_log_err (a->log, "IPC-AUTH", "cannot serve ZAP: %s",
                  zmq_strerror (-rc));
      return rc;
    }
  return mu_zwatch_start (a->loop, a->zap_sock, on_zap, a, &a->zap_watch);
}

void
mu_agent_ipc_auth_close (mu_agent_t *a)
{
  mu_zwatch_stop (&a->zap_watch);
  if (a->zap_sock != NULL)
    zmq_close (a->zap_sock);
  a->zap_sock = NULL;
}
