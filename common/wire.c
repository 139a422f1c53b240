/*
 * wire.c — framing of protocol messages on ZeroMQ sockets (see wire.h).
 *
 * Receive reads every frame of a multipart message even when it is
 * malformed, so one bad message never desynchronises the socket.
 */
#include "common/wire.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include <muster/error.h>

#include "common/util.h"

int
mu_wire_sockopts (void *sock, int hwm)
{
  int linger = 0;
  int64_t maxmsg = (int64_t)MU_PROTO_MAX_MSG;
  if (zmq_setsockopt (sock, ZMQ_LINGER, &linger, sizeof linger) != 0
      || zmq_setsockopt (sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg) != 0
      || zmq_setsockopt (sock, ZMQ_SNDHWM, &hwm, sizeof hwm) != 0
      || zmq_setsockopt (sock, ZMQ_RCVHWM, &hwm, sizeof hwm) != 0)
    return -errno;
  return 0;
}

/* One frame; a signal (SIGCHLD of a worker, say) interrupting the call is
 * not a failure: send the same frame again. */
static int
send_frame (void *sock, const void *buf, size_t len, int flags)
{
  for (int tries = 0; tries < 100; tries++)
    {
      if (zmq_send (sock, buf, len, flags | ZMQ_DONTWAIT) >= 0)
        return 0;
      if (errno != EINTR)
        return -errno;
    }
  return -EINTR;
}

int
mu_wire_send_raw (void *sock, const mu_route_t *to, const void *buf,
                  size_t len)
{
  int rc;
  if (to != NULL)
    {
      if ((rc = send_frame (sock, to->id, to->len, ZMQ_SNDMORE)) != 0)
        return rc;
      if (to->delim && (rc = send_frame (sock, "", 0, ZMQ_SNDMORE)) != 0)
        return rc;
    }
  return send_frame (sock, buf, len, 0);
}

int
mu_wire_send (void *sock, const mu_route_t *to, const mu_msg_t *msg)
{
  char *buf = NULL;
  size_t len = 0;
  int rc = mu_msg_encode (msg, &buf, &len);
  if (rc != 0)
    return rc;
  rc = mu_wire_send_raw (sock, to, buf, len);
  free (buf);
  return rc;
}

static int
more_frames (void *sock)
{
  int more = 0;
  size_t len = sizeof more;
  zmq_getsockopt (sock, ZMQ_RCVMORE, &more, &len);
  return more;
}

static void
drop_rest (void *sock)
{
  while (more_frames (sock))
    {
      zmq_msg_t m;
      zmq_msg_init (&m);
      zmq_msg_recv (&m, sock, ZMQ_DONTWAIT);
      zmq_msg_close (&m);
    }
}

int
mu_wire_recv (void *sock, mu_route_t *from, mu_msg_t *out, char *err,
              size_t errlen)
{
  return mu_wire_recv_user (sock, from, out, err, errlen, NULL, 0);
}

int
mu_wire_recv_user (void *sock, mu_route_t *from, mu_msg_t *out, char *err,
                   size_t errlen, char *user_id, size_t user_id_len)
{
  memset (out, 0, sizeof *out);
  if (user_id != NULL && user_id_len > 0)
    user_id[0] = '\0';
  if (from != NULL)
    {
      from->len = 0; /* nothing to answer to unless a routing id arrives */
      from->user[0] = '\0';
      from->fd = -1;
    }
  if (err != NULL && errlen > 0)
    err[0] = '\0';
  zmq_msg_t m;
  zmq_msg_init (&m);
  int got;
  while ((got = zmq_msg_recv (&m, sock, ZMQ_DONTWAIT)) < 0 && errno == EINTR)
    ;
  if (got < 0)
    {
      int e = errno;
      zmq_msg_close (&m);
      return e == EAGAIN ? -EAGAIN : -e;
    }
  if (from != NULL)
    {
      from->delim = 0;
      from->len = zmq_msg_size (&m) < sizeof from->id ? zmq_msg_size (&m)
                                                      : sizeof from->id;
      memcpy (from->id, zmq_msg_data (&m), from->len);
      zmq_msg_close (&m);
      zmq_msg_init (&m);
      if (!more_frames (sock) || zmq_msg_recv (&m, sock, ZMQ_DONTWAIT) < 0)
        {
          zmq_msg_close (&m);
          if (err != NULL)
            snprintf (err, errlen, "message has a routing id but no body");
          return MUSTER_EPROTO;
        }
      if (zmq_msg_size (&m) == 0 && more_frames (sock))
        {
          from->delim = 1;
          zmq_msg_close (&m);
          zmq_msg_init (&m);
          if (zmq_msg_recv (&m, sock, ZMQ_DONTWAIT) < 0)
            {
              zmq_msg_close (&m);
              return MUSTER_EPROTO;
            }
        }
    }
  if (from != NULL)
    {
      /* Who the connection authenticated as (a ZAP handler's User-Id),
       * on the frames the peer sent (not on the routing id frame a ROUTER
       * makes up). */
      const char *user = zmq_msg_gets (&m, "User-Id");
      from->user[0] = '\0';
      if (user != NULL)
        mu_strlcpy (from->user, user, sizeof from->user);
      /* Deprecated in libzmq but kept: the only way to tie a ROUTER's
       * message to the connection a socket monitor reports on. */
      from->fd = zmq_msg_get (&m, ZMQ_SRCFD);
    }
  if (user_id != NULL && user_id_len > 0)
    {
      const char *u = zmq_msg_gets (&m, "User-Id");
      if (u != NULL)
        snprintf (user_id, user_id_len, "%s", u);
    }
  int rc;
  if (more_frames (sock))
    {
      drop_rest (sock);
      if (err != NULL)
        snprintf (err, errlen, "message has more than one body frame");
      rc = MUSTER_EPROTO;
    }
  else
    rc = mu_msg_decode (zmq_msg_data (&m), zmq_msg_size (&m), out, err,
                        errlen);
  zmq_msg_close (&m);
  return rc;
}

int
mu_wire_send_error (void *sock, const mu_route_t *to, int code,
                    const char *in_reply_to, uint64_t req_id,
                    const char *message)
{
  return mu_wire_send_error_field (sock, to, code, in_reply_to, req_id, NULL,
                                   message);
}

int
mu_wire_send_error_field (void *sock, const mu_route_t *to, int code,
                          const char *in_reply_to, uint64_t req_id,
                          const char *field, const char *message)
{
  if (to != NULL && to->len == 0)
    return MUSTER_EINVAL; /* no peer to answer (the routing id never came) */
  mu_msg_t m;
  mu_wire_error_msg (&m, code, in_reply_to, req_id, field, message);
  return mu_wire_send (sock, to, &m);
}

void
mu_wire_error_msg (mu_msg_t *m, int code, const char *in_reply_to,
                   uint64_t req_id, const char *field, const char *message)
{
  memset (m, 0, sizeof *m);
  m->type = MU_MSG_ERROR;
  m->u.error.code = code;
  m->u.error.message = (char *)(message ? message : muster_strerror (code));
  m->u.error.in_reply_to = (char *)in_reply_to;
  m->u.error.req_id = req_id;
  m->u.error.code_name = (char *)muster_err_name (code);
  m->u.error.field = (char *)(field && *field ? field : NULL);
}
