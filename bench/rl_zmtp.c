/*
 * rl_zmtp.c — ZMTP 3.0 DEALER side over a plain TCP socket, NULL
 * mechanism only, for the load generator's simulated agents (see
 * rl_zmtp.h for why).  The greeting is 64 bytes: signature (0xFF, 8
 * padding bytes, 0x7F), version 3.0, mechanism "NULL" padded to 20 bytes,
 * as-server 0, 31 bytes of filler.  Then a READY command whose metadata
 * says Socket-Type DEALER and gives the Identity (the node id: musterd's
 * ROUTER routes replies by it).  A frame is a flags byte (bit 0 MORE, bit
 * 1 LONG, bit 2 COMMAND), a size (1 byte, or 8 bytes big-endian when
 * LONG) and the body (RFC 23/ZMTP).
 */
#define _GNU_SOURCE
#include "bench/rl_zmtp.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#define GREETING 64
#define F_MORE 0x01
#define F_LONG 0x02
#define F_CMD 0x04
#define MAX_FRAME (64u << 20) /* more than any message of the protocol */

static int
buf_append (uint8_t **b, size_t *len, size_t *cap, const void *p, size_t n)
{
  if (*len + n > *cap)
    {
      size_t ncap = *cap ? *cap : 256;
      while (ncap < *len + n)
        ncap *= 2;
      uint8_t *nb = realloc (*b, ncap);
      if (nb == NULL)
        return -ENOMEM;
      *b = nb;
      *cap = ncap;
    }
  memcpy (*b + *len, p, n);
  *len += n;
  return 0;
}

static int
tx_append (rl_conn_t *c, const void *p, size_t n)
{
  if (!c->greeted)
    return buf_append (&c->hold, &c->hold_len, &c->hold_cap, p, n);
  if (c->tx_off > 0 && c->tx_off == c->tx_len)
    c->tx_off = c->tx_len = 0;
  if (c->tx_len + n > c->tx_cap)
    {
      if (c->tx_off > 0)
        {
          memmove (c->tx, c->tx + c->tx_off, c->tx_len - c->tx_off);
          c->tx_len -= c->tx_off;
          c->tx_off = 0;
        }
      size_t ncap = c->tx_cap ? c->tx_cap : 256;
      while (ncap < c->tx_len + n)
        ncap *= 2;
      if (ncap != c->tx_cap)
        {
          uint8_t *nt = realloc (c->tx, ncap);
          if (nt == NULL)
            return -ENOMEM;
          c->tx = nt;
          c->tx_cap = ncap;
        }
    }
  memcpy (c->tx + c->tx_len, p, n);
  c->tx_len += n;
  return 0;
}

/* A frame's header into h: its length. */
static size_t
frame_header (uint8_t *h, uint8_t flags, size_t len)
{
  if (len <= 255)
    {
      h[0] = flags;
      h[1] = (uint8_t)len;
      return 2;
    }
  h[0] = flags | F_LONG;
  for (int i = 0; i < 8; i++)
    h[1 + i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
  return 9;
}

int
rl_zmtp_connect (rl_conn_t *c, const struct sockaddr *sa, socklen_t salen,
                 const char *identity)
{
  memset (c, 0, sizeof *c);
  c->fd = socket (sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                  0);
  if (c->fd < 0)
    return -errno;
  int one = 1;
  setsockopt (c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect (c->fd, sa, salen) != 0 && errno != EINPROGRESS)
    {
      int e = errno;
      close (c->fd);
      c->fd = -1;
      return -e;
    }
  c->connecting = 1;
  uint8_t g[GREETING];
  memset (g, 0, sizeof g);
  g[0] = 0xFF;
  g[9] = 0x7F;
  g[10] = 3; /* version 3.0 */
  g[11] = 0;
  memcpy (g + 12, "NULL", 4);
  /* READY: name, then properties (1-byte name size, name, 4-byte value
   * size, value). */
  size_t idl = strlen (identity);
  if (idl > 255)
    return -EINVAL;
  uint8_t body[300 + 255];
  size_t n = 0;
  body[n++] = 5;
  memcpy (body + n, "READY", 5);
  n += 5;
  static const char *const names[2] = { "Socket-Type", "Identity" };
  const char *vals[2] = { "DEALER", identity };
  size_t vlen[2] = { 6, idl };
  for (int k = 0; k < 2; k++)
    {
      size_t nl = strlen (names[k]);
      body[n++] = (uint8_t)nl;
      memcpy (body + n, names[k], nl);
      n += nl;
      body[n++] = 0;
      body[n++] = 0;
      body[n++] = 0;
      body[n++] = (uint8_t)vlen[k];
      memcpy (body + n, vals[k], vlen[k]);
      n += vlen[k];
    }
  uint8_t h[9];
  size_t hl = frame_header (h, F_CMD, n);
  /* The greeting alone first: libzmq 4.3 drops a peer whose handshake
   * arrives together with its greeting; READY and what follows wait for
   * the peer's greeting (held, then queued in parse()). */
  if (buf_append (&c->tx, &c->tx_len, &c->tx_cap, g, sizeof g) != 0
      || tx_append (c, h, hl) != 0 || tx_append (c, body, n) != 0)
    return -ENOMEM;
  return 0;
}

int
rl_zmtp_want_out (const rl_conn_t *c)
{
  return c->connecting || c->tx_off < c->tx_len;
}

/* The peer's greeting is in: what was held goes out after what is
 * queued. */
static int
release_hold (rl_conn_t *c)
{
  c->greeted = 1;
  int rc = tx_append (c, c->hold, c->hold_len);
  free (c->hold);
  c->hold = NULL;
  c->hold_len = c->hold_cap = 0;
  return rc != 0 ? rc : c->connecting ? 0 : rl_zmtp_flush (c);
}

int
rl_zmtp_flush (rl_conn_t *c)
{
  c->connecting = 0;
  while (c->tx_off < c->tx_len)
    {
      ssize_t w = send (c->fd, c->tx + c->tx_off, c->tx_len - c->tx_off,
                        MSG_NOSIGNAL | MSG_DONTWAIT);
      if (w < 0)
        {
          if (errno == EINTR)
            continue;
          if (errno == EAGAIN || errno == ENOTCONN)
            {
              if (errno == ENOTCONN)
                c->connecting = 1;
              return 0;
            }
          return -errno;
        }
      c->tx_off += (size_t)w;
    }
  c->tx_off = c->tx_len = 0;
  return 0;
}

int
rl_zmtp_send (rl_conn_t *c, const void *buf, size_t len)
{
  uint8_t h[9];
  size_t hl = frame_header (h, 0, len);
  if (rl_zmtp_want_out (c) || !c->greeted)
    {
      /* Behind what is queued: keep the order. */
      if (tx_append (c, h, hl) != 0 || tx_append (c, buf, len) != 0)
        return -ENOMEM;
      return c->connecting || !c->greeted ? 0 : rl_zmtp_flush (c);
    }
  struct iovec iov[2] = { { h, hl }, { (void *)buf, len } };
  struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };
  ssize_t w;
  do
    w = sendmsg (c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
  while (w < 0 && errno == EINTR);
  if (w < 0)
    {
      if (errno != EAGAIN)
        return -errno;
      w = 0;
    }
  size_t done = (size_t)w;
  if (done < hl)
    {
      if (tx_append (c, h + done, hl - done) != 0
          || tx_append (c, buf, len) != 0)
        return -ENOMEM;
    }
  else if (done < hl + len)
    {
      if (tx_append (c, (const uint8_t *)buf + (done - hl), hl + len - done)
          != 0)
        return -ENOMEM;
    }
  return 0;
}

/* Parse the whole frames at the front of buf; *used = bytes consumed.
 * 0 or -EPROTO. */
static int
parse (rl_conn_t *c, const uint8_t *buf, size_t len, rl_zmtp_msg_fn fn,
       void *arg, const char **why, size_t *used)
{
  size_t p = 0;
  *used = 0;
  if (!c->greeted)
    {
      if (len < GREETING)
        return 0;
      if (buf[0] != 0xFF || buf[9] != 0x7F || buf[10] < 3)
        {
          *why = "the peer does not speak ZMTP 3";
          return -EPROTO;
        }
      int rc = release_hold (c);
      if (rc != 0)
        return rc;
      p = GREETING;
    }
  for (;;)
    {
      *used = p;
      if (len - p < 2)
        return 0;
      uint8_t fl = buf[p];
      size_t hl = fl & F_LONG ? 9 : 2;
      if (len - p < hl)
        return 0;
      uint64_t flen = 0;
      if (fl & F_LONG)
        for (int i = 0; i < 8; i++)
          flen = (flen << 8) | buf[p + 1 + i];
      else
        flen = buf[p + 1];
      if (flen > MAX_FRAME)
        {
          *why = "a frame larger than any message";
          return -EPROTO;
        }
      if (len - p - hl < flen)
        return 0;
      const uint8_t *body = buf + p + hl;
      p += hl + (size_t)flen;
      if (fl & F_CMD)
        {
          if (flen >= 6 && body[0] == 5 && memcmp (body + 1, "ERROR", 5) == 0)
            {
              *why = "the peer sent a ZMTP ERROR command";
              return -EPROTO;
            }
          continue; /* READY, PING: nothing to do */
        }
      if (fl & F_MORE)
        {
          /* musterd sends a DEALER one frame per message. */
          *why = "a multi-frame message (not part of the agent protocol)";
          return -EPROTO;
        }
      fn (arg, body, (size_t)flen);
    }
}

static int
rx_append (rl_conn_t *c, const uint8_t *p, size_t n)
{
  if (c->rx_len + n > c->rx_cap)
    {
      size_t ncap = c->rx_cap ? c->rx_cap : 1024;
      while (ncap < c->rx_len + n)
        ncap *= 2;
      uint8_t *nr = realloc (c->rx, ncap);
      if (nr == NULL)
        return -ENOMEM;
      c->rx = nr;
      c->rx_cap = ncap;
    }
  memcpy (c->rx + c->rx_len, p, n);
  c->rx_len += n;
  return 0;
}

int
rl_zmtp_read (rl_conn_t *c, uint8_t *scratch, size_t cap, rl_zmtp_msg_fn fn,
              void *arg, const char **why)
{
  *why = NULL;
  for (;;)
    {
      ssize_t r = recv (c->fd, scratch, cap, MSG_DONTWAIT);
      if (r < 0 && errno == EINTR)
        continue;
      if (r < 0)
        return errno == EAGAIN ? 0 : -errno;
      if (r == 0)
        return -ECONNRESET;
      size_t used;
      int rc;
      if (c->rx_len == 0)
        {
          /* The common case: whole messages parsed where they were read;
           * only a partial one at the end is kept. */
          rc = parse (c, scratch, (size_t)r, fn, arg, why, &used);
          if (rc == 0 && used < (size_t)r)
            rc = rx_append (c, scratch + used, (size_t)r - used);
        }
      else
        {
          rc = rx_append (c, scratch, (size_t)r);
          if (rc == 0)
            rc = parse (c, c->rx, c->rx_len, fn, arg, why, &used);
          if (rc == 0)
            {
              memmove (c->rx, c->rx + used, c->rx_len - used);
              c->rx_len -= used;
            }
        }
      if (rc != 0)
        return rc;
      if ((size_t)r < cap)
        return 0;
    }
}

void
rl_zmtp_close (rl_conn_t *c)
{
  if (c->fd >= 0)
    close (c->fd);
  c->fd = -1;
  free (c->rx);
  free (c->tx);
  free (c->hold);
  c->rx = c->tx = c->hold = NULL;
  c->hold_len = c->hold_cap = 0;
  c->rx_len = c->rx_cap = c->tx_off = c->tx_len = c->tx_cap = 0;
}
