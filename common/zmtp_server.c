/*
 * zmtp_server.c — the libuv side of the native ZMTP server (see
 * zmtp_server.h): listener, connections, the handshake machine, message
 * assembly, ROUTER routing and writes.
 *
 * Reads: libuv's alloc_cb hands every connection the same loop-wide
 * buffer (reads are handled before the next alloc), whole frames are
 * consumed from it in place, and only the remainder of a partial frame is
 * copied into a per-connection buffer sized to that frame.  Writes:
 * uv_try_write first (one writev of header and body); what the kernel did
 * not take is copied into one uv_write request.  libuv refuses try_write
 * while a request is queued, so the order of a connection's bytes holds.
 *
 * Connections live in a slot table; a routing id is the slot and a
 * generation (8 bytes), so a route outliving its connection never reaches
 * the next connection in that slot, and a lookup is O(1).  Connections
 * still in their handshake sit on a list in accept order, so the timeout
 * sweep looks at its head only.
 */
#include "common/zmtp_server.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <muster/error.h>

#include "common/netaddr.h"
#include "common/util.h"
#include "common/zmtp_curve.h"
#include "common/zmtp_wire.h"

#define READ_BUF (64 * 1024)
#define ROUTE_ID_LEN 8

enum conn_state {
  ST_GREETING = 0, /* ours sent, waiting for the peer's 64 bytes */
  ST_HANDSHAKE,    /* NULL: its READY; CURVE: HELLO, then INITIATE */
  ST_READY,
  ST_CLOSING
};

typedef struct conn {
  uv_tcp_t tcp;
  mu_zsrv_t *srv;
  uint32_t slot, gen;
  uint8_t state;
  uint8_t hs_failed; /* closed for a protocol error during the handshake */
  uint8_t was_ready;
  uint8_t delim;     /* current message: an empty delimiter came first */
  uint8_t bad;       /* current message: more than one body frame */
  uint32_t frames;   /* frames of the current message so far */
  unsigned char *pend; /* a partial frame (or greeting) */
  size_t pend_len, pend_cap;
  uint64_t accepted_ms;
  struct conn *hs_prev, *hs_next; /* handshaking connections, oldest first */
  char *user;        /* admit()'s answer, "" = none */
  mu_zcurve_t *curve;
} conn_t;

struct mu_zsrv {
  uv_loop_t *loop;
  mu_zsrv_opts_t o;
  uv_tcp_t listener;
  int listening;
  uv_timer_t hs_timer;
  int hs_timer_on;
  int handles; /* open uv handles: freed when it reaches 0 after destroy */
  int destroyed;
  conn_t **slots;
  uint32_t *gens; /* the generation a slot's next connection gets */
  size_t nslots, cap;
  uint32_t *free_slots;
  size_t nfree;
  size_t nopen, nready;
  size_t heap; /* bytes held for connections */
  conn_t *hs_head, *hs_tail;
  unsigned char *rbuf; /* the loop-wide read buffer */
  unsigned char *sbuf; /* scratch for CURVE boxes */
  size_t sbuf_cap;
};

static void conn_close (conn_t *k, int hs_failed);

/* ------------------------------------------------------------ helpers */

static void
event (mu_zsrv_t *s, mu_zsrv_event_t ev)
{
  if (!s->destroyed && s->o.on_event)
    s->o.on_event (s->o.arg, ev);
}

static void
route_of (const conn_t *k, mu_route_t *r)
{
  r->len = ROUTE_ID_LEN;
  r->id[0] = (unsigned char)(k->slot >> 24);
  r->id[1] = (unsigned char)(k->slot >> 16);
  r->id[2] = (unsigned char)(k->slot >> 8);
  r->id[3] = (unsigned char)k->slot;
  r->id[4] = (unsigned char)(k->gen >> 24);
  r->id[5] = (unsigned char)(k->gen >> 16);
  r->id[6] = (unsigned char)(k->gen >> 8);
  r->id[7] = (unsigned char)k->gen;
  r->fd = -1;
  uv_os_fd_t fd;
  if (uv_fileno ((const uv_handle_t *)&k->tcp, &fd) == 0)
    r->fd = fd;
  mu_strlcpy (r->user, k->user ? k->user : "", sizeof r->user);
}

static conn_t *
conn_of (const mu_zsrv_t *s, const mu_route_t *r)
{
  if (r == NULL || r->len != ROUTE_ID_LEN)
    return NULL;
  uint32_t slot = ((uint32_t)r->id[0] << 24) | ((uint32_t)r->id[1] << 16)
                  | ((uint32_t)r->id[2] << 8) | r->id[3];
  uint32_t gen = ((uint32_t)r->id[4] << 24) | ((uint32_t)r->id[5] << 16)
                 | ((uint32_t)r->id[6] << 8) | r->id[7];
  if (slot >= s->nslots || s->slots[slot] == NULL)
    return NULL;
  conn_t *k = s->slots[slot];
  return k->gen == gen && k->state == ST_READY ? k : NULL;
}

static void
hs_unlink (mu_zsrv_t *s, conn_t *k)
{
  if (k->hs_prev == NULL && s->hs_head != k)
    return; /* not on the list */
  if (k->hs_prev)
    k->hs_prev->hs_next = k->hs_next;
  else
    s->hs_head = k->hs_next;
  if (k->hs_next)
    k->hs_next->hs_prev = k->hs_prev;
  else
    s->hs_tail = k->hs_prev;
  k->hs_prev = k->hs_next = NULL;
}

static void
logw (mu_zsrv_t *s, const char *id, const char *fmt, const char *a,
      const char *b)
{
  if (s->o.log && !s->destroyed)
    mu_log_info (s->o.log, id, fmt, a, b);
}

/* ------------------------------------------------------------- writes */

typedef struct wreq {
  uv_write_t req;
  size_t len;
  unsigned char data[];
} wreq_t;

static void
on_written (uv_write_t *req, int status)
{
  conn_t *k = req->handle->data;
  free (req);
  if (status < 0 && k->state != ST_CLOSING)
    conn_close (k, 0);
}

/* Write bufs in order: try_write, then queue the rest as one request. */
static int
conn_write (conn_t *k, const uv_buf_t *bufs, unsigned nbufs)
{
  if (k->state == ST_CLOSING)
    return -EHOSTUNREACH;
  size_t total = 0;
  for (unsigned i = 0; i < nbufs; i++)
    total += bufs[i].len;
  int n = uv_try_write ((uv_stream_t *)&k->tcp, bufs, nbufs);
  size_t done = 0;
  if (n >= 0)
    done = (size_t)n;
  else if (n != UV_EAGAIN && n != UV_ENOSYS)
    {
      conn_close (k, 0);
      return -EHOSTUNREACH;
    }
  if (done == total)
    return 0;
  wreq_t *w = malloc (sizeof *w + (total - done));
  if (w == NULL)
    {
      /* Part of a frame went out: the stream is broken either way. */
      if (done > 0)
        conn_close (k, 0);
      return -ENOMEM;
    }
  w->len = total - done;
  size_t off = 0, skip = done;
  for (unsigned i = 0; i < nbufs; i++)
    {
      size_t l = bufs[i].len;
      if (skip >= l)
        {
          skip -= l;
          continue;
        }
      memcpy (w->data + off, bufs[i].base + skip, l - skip);
      off += l - skip;
      skip = 0;
    }
  uv_buf_t b = uv_buf_init ((char *)w->data, (unsigned)w->len);
  int rc = uv_write (&w->req, (uv_stream_t *)&k->tcp, &b, 1, on_written);
  if (rc != 0)
    {
      free (w);
      conn_close (k, 0);
      return -EHOSTUNREACH;
    }
  return 0;
}

/* A scratch buffer of at least `need` bytes. */
static unsigned char *
scratch (mu_zsrv_t *s, size_t need)
{
  if (s->sbuf_cap >= need)
    return s->sbuf;
  unsigned char *p = realloc (s->sbuf, need);
  if (p == NULL)
    return NULL;
  s->sbuf = p;
  s->sbuf_cap = need;
  return p;
}

/* One frame (flags: MORE/COMMAND) of `len` bytes, boxed under CURVE. */
static int
send_frame (conn_t *k, int flags, const void *body, size_t len)
{
  unsigned char hdr[MU_ZMTP_HDR_MAX];
  if (k->curve == NULL)
    {
      size_t h = mu_zmtp_frame_header (hdr, flags, len);
      uv_buf_t b[2] = { uv_buf_init ((char *)hdr, (unsigned)h),
                        uv_buf_init ((char *)body, (unsigned)len) };
      return conn_write (k, b, len > 0 ? 2 : 1);
    }
  size_t blen = MU_ZCURVE_MSG_OVERHEAD + len;
  unsigned char *box = scratch (k->srv, blen);
  if (box == NULL)
    return -ENOMEM;
  int inner = ((flags & MU_ZMTP_FLAG_MORE) ? 1 : 0)
              | ((flags & MU_ZMTP_FLAG_COMMAND) ? 2 : 0);
  if (mu_zcurve_encode (k->curve, inner, body, len, box, blen) < 0)
    return -ENOMEM;
  /* libzmq sends a MESSAGE as a plain frame (no MORE: that is boxed). */
  size_t h = mu_zmtp_frame_header (hdr, 0, blen);
  uv_buf_t b[2] = { uv_buf_init ((char *)hdr, (unsigned)h),
                    uv_buf_init ((char *)box, (unsigned)blen) };
  return conn_write (k, b, 2);
}

/* A handshake command, never boxed. */
static int
send_command (conn_t *k, const char *name, const void *data, size_t dlen)
{
  unsigned char buf[600];
  int n = mu_zmtp_command_frame (buf, sizeof buf, name, data, dlen);
  if (n < 0)
    return n;
  uv_buf_t b = uv_buf_init ((char *)buf, (unsigned)n);
  return conn_write (k, &b, 1);
}

static void
send_error_close (conn_t *k, const char *reason)
{
  unsigned char r[256];
  size_t l = strlen (reason);
  if (l > 255)
    l = 255;
  r[0] = (unsigned char)l;
  memcpy (r + 1, reason, l);
  send_command (k, "ERROR", r, 1 + l);
  conn_close (k, 1);
}

/* Append one data frame (header, then the body or its CURVE box carved
 * from box[*boff..]) to iov; the box space was sized by the caller. */
static int
add_frame (conn_t *k, int flags, const void *body, size_t len,
           unsigned char *hdr, unsigned char *box, size_t *boff,
           uv_buf_t *iov, unsigned *ni)
{
  if (k->curve == NULL)
    {
      size_t h = mu_zmtp_frame_header (hdr, flags, len);
      iov[(*ni)++] = uv_buf_init ((char *)hdr, (unsigned)h);
      if (len > 0)
        iov[(*ni)++] = uv_buf_init ((char *)body, (unsigned)len);
      return 0;
    }
  size_t blen = MU_ZCURVE_MSG_OVERHEAD + len;
  unsigned char *b = box + *boff;
  int inner = (flags & MU_ZMTP_FLAG_MORE) ? 1 : 0;
  if (mu_zcurve_encode (k->curve, inner, body, len, b, blen) < 0)
    return -ENOMEM;
  *boff += blen;
  size_t h = mu_zmtp_frame_header (hdr, 0, blen);
  iov[(*ni)++] = uv_buf_init ((char *)hdr, (unsigned)h);
  iov[(*ni)++] = uv_buf_init ((char *)b, (unsigned)blen);
  return 0;
}

int
mu_zsrv_send (mu_zsrv_t *s, const mu_route_t *to, const void *body,
              size_t len)
{
  uv_buf_t b = uv_buf_init ((char *)body, (unsigned)len);
  return mu_zsrv_sendv (s, to, &b, 1);
}

int
mu_zsrv_sendv (mu_zsrv_t *s, const mu_route_t *to, const uv_buf_t *bodies,
               unsigned n)
{
  if (n == 0 || n > MU_ZSRV_SENDV_MAX)
    return -EINVAL;
  conn_t *k = conn_of (s, to);
  if (k == NULL)
    return -EHOSTUNREACH;
  size_t total = 0, boxes = 0;
  for (unsigned i = 0; i < n; i++)
    {
      total += bodies[i].len;
      boxes += MU_ZCURVE_MSG_OVERHEAD * (to->delim ? 2 : 1) + bodies[i].len;
    }
  if (k->tcp.write_queue_size + total > s->o.queue_max)
    return -EAGAIN;
  unsigned char *box = NULL;
  if (k->curve != NULL && (box = scratch (s, boxes)) == NULL)
    return -ENOMEM;
  /* Each message is [delimiter]? body: up to two frames of two buffers. */
  unsigned char hdr[2 * MU_ZSRV_SENDV_MAX][MU_ZMTP_HDR_MAX];
  uv_buf_t iov[4 * MU_ZSRV_SENDV_MAX];
  unsigned ni = 0, hi = 0;
  size_t boff = 0;
  int rc = 0;
  for (unsigned i = 0; i < n && rc == 0; i++)
    {
      if (to->delim)
        rc = add_frame (k, MU_ZMTP_FLAG_MORE, "", 0, hdr[hi++], box, &boff,
                        iov, &ni);
      if (rc == 0)
        rc = add_frame (k, 0, bodies[i].base, bodies[i].len, hdr[hi++], box,
                        &boff, iov, &ni);
    }
  return rc != 0 ? rc : conn_write (k, iov, ni);
}

int
mu_zsrv_disconnect (mu_zsrv_t *s, const mu_route_t *to)
{
  conn_t *k = conn_of (s, to);
  if (k == NULL)
    return -EHOSTUNREACH;
  conn_close (k, 0);
  return 0;
}

/* ---------------------------------------------------------- handshake */

static size_t
our_metadata (unsigned char *out, size_t cap)
{
  size_t pos = 0;
  mu_zmtp_meta_put (out, cap, &pos, "Socket-Type", "ROUTER", 6);
  mu_zmtp_meta_put (out, cap, &pos, "Identity", "", 0);
  return pos;
}

/* The peer's metadata: a socket type a ROUTER talks to. */
static int
check_peer_meta (conn_t *k, const unsigned char *meta, size_t mlen)
{
  const unsigned char *v;
  size_t vl;
  int rc = mu_zmtp_meta_get (meta, mlen, "Socket-Type", &v, &vl);
  if (rc != 0)
    {
      send_error_close (k, "missing Socket-Type");
      return rc;
    }
  if (!((vl == 6 && memcmp (v, "DEALER", 6) == 0)
        || (vl == 3 && memcmp (v, "REQ", 3) == 0)
        || (vl == 6 && memcmp (v, "ROUTER", 6) == 0)))
    {
      send_error_close (k, "invalid Socket-Type (a ROUTER talks to DEALER, "
                           "REQ and ROUTER)");
      return MUSTER_EPROTO;
    }
  return 0;
}

static int
admit (conn_t *k, const unsigned char *client_key)
{
  mu_zsrv_t *s = k->srv;
  char peer[64] = "?";
  struct sockaddr_storage ss;
  int sl = sizeof ss;
  if (uv_tcp_getpeername (&k->tcp, (struct sockaddr *)&ss, &sl) == 0)
    {
      if (ss.ss_family == AF_INET6)
        uv_ip6_name ((struct sockaddr_in6 *)&ss, peer, sizeof peer);
      else
        uv_ip4_name ((struct sockaddr_in *)&ss, peer, sizeof peer);
    }
  char user[80] = "", reason[128] = "refused";
  if (s->o.admit != NULL
      && s->o.admit (s->o.arg, client_key, peer, user, sizeof user, reason,
                     sizeof reason)
           != 0)
    {
      send_error_close (k, reason);
      return MUSTER_EAUTH;
    }
  if (user[0])
    {
      k->user = strdup (user);
      if (k->user == NULL)
        {
          send_error_close (k, "out of memory");
          return -ENOMEM;
        }
      s->heap += strlen (user) + 1;
    }
  return 0;
}

static void
become_ready (conn_t *k)
{
  hs_unlink (k->srv, k);
  k->state = ST_READY;
  k->was_ready = 1;
  k->srv->nready++;
}

/* A command frame during the handshake.  0 or an error (closed). */
static int
handshake_command (conn_t *k, unsigned char *body, size_t len)
{
  mu_zsrv_t *s = k->srv;
  const unsigned char *name, *data;
  size_t nl, dl;
  if (mu_zmtp_command_parse (body, len, &name, &nl, &data, &dl) != 0)
    {
      conn_close (k, 1);
      return MUSTER_EPROTO;
    }
  if (k->curve == NULL)
    {
      if (!mu_zmtp_command_is (name, nl, "READY"))
        {
          send_error_close (k, "expected READY");
          return MUSTER_EPROTO;
        }
      int rc = check_peer_meta (k, data, dl);
      if (rc != 0)
        return rc;
      if ((rc = admit (k, NULL)) != 0)
        return rc;
      unsigned char meta[64];
      size_t ml = our_metadata (meta, sizeof meta);
      if ((rc = send_command (k, "READY", meta, ml)) != 0)
        return rc;
      become_ready (k);
      return 0;
    }
  if (k->curve->state == MU_ZCURVE_EXPECT_HELLO)
    {
      unsigned char welcome[MU_ZCURVE_WELCOME_LEN];
      int rc = mu_zcurve_hello (k->curve, s->o.server_secret, body, len,
                                welcome);
      if (rc != 0)
        {
          /* libzmq closes without a word here: a wrong server key. */
          conn_close (k, 1);
          return rc;
        }
      /* The WELCOME is a command frame of its own; send it as one. */
      unsigned char frame[MU_ZMTP_HDR_MAX + MU_ZCURVE_WELCOME_LEN];
      size_t h = mu_zmtp_frame_header (frame, MU_ZMTP_FLAG_COMMAND,
                                       MU_ZCURVE_WELCOME_LEN);
      memcpy (frame + h, welcome, MU_ZCURVE_WELCOME_LEN);
      uv_buf_t b = uv_buf_init ((char *)frame,
                                (unsigned)(h + MU_ZCURVE_WELCOME_LEN));
      return conn_write (k, &b, 1);
    }
  const unsigned char *meta;
  size_t ml;
  int rc = mu_zcurve_initiate (k->curve, s->o.server_public, body, len,
                               &meta, &ml);
  if (rc != 0)
    {
      conn_close (k, 1);
      return rc;
    }
  if ((rc = check_peer_meta (k, meta, ml)) != 0)
    return rc;
  if ((rc = admit (k, k->curve->client_key)) != 0)
    return rc;
  unsigned char our[64], ready[160];
  size_t ol = our_metadata (our, sizeof our);
  int n = mu_zcurve_ready (k->curve, our, ol, ready, sizeof ready);
  if (n < 0)
    {
      conn_close (k, 1);
      return n;
    }
  unsigned char frame[MU_ZMTP_HDR_MAX + 160];
  size_t h = mu_zmtp_frame_header (frame, MU_ZMTP_FLAG_COMMAND, (size_t)n);
  memcpy (frame + h, ready, (size_t)n);
  uv_buf_t b = uv_buf_init ((char *)frame, (unsigned)(h + (size_t)n));
  if ((rc = conn_write (k, &b, 1)) != 0)
    return rc;
  become_ready (k);
  return 0;
}

/* ----------------------------------------------------------- messages */

/* A command once ready: PING gets a PONG, anything else is ignored as
 * libzmq ignores commands it does not know... except ERROR, which ends
 * the connection. */
static int
ready_command (conn_t *k, const unsigned char *body, size_t len)
{
  const unsigned char *name, *data;
  size_t nl, dl;
  if (mu_zmtp_command_parse (body, len, &name, &nl, &data, &dl) != 0)
    {
      conn_close (k, 1);
      return MUSTER_EPROTO;
    }
  if (mu_zmtp_command_is (name, nl, "PING"))
    {
      /* PING: 2-byte TTL, then up to 16 bytes of context echoed back. */
      if (dl < 2 || dl > 18)
        {
          conn_close (k, 1);
          return MUSTER_EPROTO;
        }
      unsigned char pong[1 + 4 + 16];
      pong[0] = 4;
      memcpy (pong + 1, "PONG", 4);
      memcpy (pong + 5, data + 2, dl - 2);
      return send_frame (k, MU_ZMTP_FLAG_COMMAND, pong, 5 + dl - 2);
    }
  if (mu_zmtp_command_is (name, nl, "ERROR"))
    {
      conn_close (k, 0);
      return MUSTER_ECLOSED;
    }
  return 0; /* PONG, SUBSCRIBE, ...: nothing for a ROUTER to do */
}

/* One data frame of a message. */
static int
data_frame (conn_t *k, int more, const unsigned char *body, size_t len)
{
  mu_zsrv_t *s = k->srv;
  uint32_t idx = k->frames++;
  if (idx == 0 && len == 0 && more)
    {
      k->delim = 1;
      return 0;
    }
  if (more)
    {
      k->bad = 1; /* a second body frame follows */
      return 0;
    }
  mu_route_t from;
  route_of (k, &from);
  from.delim = k->delim;
  int bad = k->bad;
  k->frames = 0;
  k->delim = k->bad = 0;
  if (s->o.on_msg != NULL && !s->destroyed)
    {
      if (bad)
        s->o.on_msg (s->o.arg, &from, (const unsigned char *)"", 0,
                     "message has more than one body frame");
      else
        s->o.on_msg (s->o.arg, &from, body, len, NULL);
    }
  return 0;
}

/* A whole frame (header + body in buf).  0 to go on, else stop. */
static int
frame (conn_t *k, unsigned char *buf, size_t hl, size_t bl, int flags)
{
  unsigned char *body = buf + hl;
  if (k->state == ST_HANDSHAKE)
    {
      if (!(flags & MU_ZMTP_FLAG_COMMAND))
        {
          conn_close (k, 1);
          return MUSTER_EPROTO;
        }
      return handshake_command (k, body, bl);
    }
  if (k->curve == NULL)
    {
      if (flags & MU_ZMTP_FLAG_COMMAND)
        return ready_command (k, body, bl);
      return data_frame (k, flags & MU_ZMTP_FLAG_MORE, body, bl);
    }
  int inner;
  unsigned char *p;
  size_t pl;
  if (mu_zcurve_decode (k->curve, body, bl, &inner, &p, &pl) != 0)
    {
      conn_close (k, 1);
      return MUSTER_EPROTO;
    }
  if (inner & 2)
    return ready_command (k, p, pl);
  return data_frame (k, inner & 1, p, pl);
}

/* How much the unit at buf needs: the greeting, or a frame. */
static int64_t
unit_need (conn_t *k, const unsigned char *buf, size_t len, size_t *hl,
           uint64_t *bl, int *flags)
{
  if (k->state == ST_GREETING)
    return MU_ZMTP_GREETING_LEN;
  uint64_t max = k->srv->o.max_msg;
  if (k->curve != NULL)
    max += MU_ZCURVE_MSG_OVERHEAD;
  if (k->state == ST_HANDSHAKE && max > 4096)
    max = 4096; /* no handshake command is longer */
  return mu_zmtp_frame_need (buf, len, max, hl, bl, flags);
}

static int
unit (conn_t *k, unsigned char *buf, size_t len, size_t hl, uint64_t bl,
      int flags)
{
  if (k->state == ST_GREETING)
    {
      char err[160];
      if (mu_zmtp_greeting_check (buf, len, k->curve ? "CURVE" : "NULL", err,
                                  sizeof err)
          != 0)
        {
          logw (k->srv, "ZMTP-REFUSED", "agent port: %s%s", err, "");
          conn_close (k, 1);
          return MUSTER_EPROTO;
        }
      k->state = ST_HANDSHAKE;
      return 0;
    }
  return frame (k, buf, hl, (size_t)bl, flags);
}

static int
pend_reserve (conn_t *k, size_t need)
{
  if (k->pend_cap >= need)
    return 0;
  if (need < 16)
    need = 16;
  unsigned char *p = realloc (k->pend, need);
  if (p == NULL)
    return -ENOMEM;
  k->srv->heap += need - k->pend_cap;
  k->pend = p;
  k->pend_cap = need;
  return 0;
}

static void
pend_free (conn_t *k)
{
  k->srv->heap -= k->pend_cap;
  free (k->pend);
  k->pend = NULL;
  k->pend_len = k->pend_cap = 0;
}

static void
consume (conn_t *k, unsigned char *data, size_t n)
{
  /* Until the input is used up and no whole unit waits in pend (the
   * last bytes of a read may complete it). */
  while ((n > 0 || k->pend_len > 0) && k->state != ST_CLOSING)
    {
      size_t hl = 0;
      uint64_t bl = 0;
      int flags = 0;
      if (k->pend_len > 0)
        {
          int64_t need = unit_need (k, k->pend, k->pend_len, &hl, &bl, &flags);
          if (need < 0)
            {
              conn_close (k, k->state != ST_READY);
              return;
            }
          if ((size_t)need > k->pend_len)
            {
              if (n == 0)
                return; /* wait for more */
              size_t take = (size_t)need - k->pend_len;
              if (take > n)
                take = n;
              if (pend_reserve (k, k->pend_len + take) != 0)
                {
                  conn_close (k, 0);
                  return;
                }
              memcpy (k->pend + k->pend_len, data, take);
              k->pend_len += take;
              data += take;
              n -= take;
              continue; /* the need may have grown (a long header) */
            }
          unit (k, k->pend, (size_t)need, hl, bl, flags);
          /* A completed frame's buffer goes: idle connections hold none. */
          if (k->state != ST_CLOSING)
            pend_free (k);
          continue;
        }
      int64_t need = unit_need (k, data, n, &hl, &bl, &flags);
      if (need < 0)
        {
          conn_close (k, k->state != ST_READY);
          return;
        }
      if ((size_t)need <= n)
        {
          if (unit (k, data, (size_t)need, hl, bl, flags) != 0)
            return;
          data += need;
          n -= (size_t)need;
          continue;
        }
      /* Partial: keep the rest, in a buffer sized to the whole unit when
       * its size is known. */
      size_t want = (size_t)need > n ? (size_t)need : n;
      if (pend_reserve (k, want) != 0)
        {
          conn_close (k, 0);
          return;
        }
      memcpy (k->pend, data, n);
      k->pend_len = n;
      return;
    }
}

static void
on_alloc (uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
  (void)suggested;
  conn_t *k = h->data;
  buf->base = (char *)k->srv->rbuf;
  buf->len = READ_BUF;
}

static void
on_read (uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
  conn_t *k = st->data;
  (void)buf;
  if (n < 0)
    {
      conn_close (k, k->state != ST_READY);
      return;
    }
  if (n > 0)
    consume (k, k->srv->rbuf, (size_t)n);
}

/* ------------------------------------------------------- connections */

static void
maybe_free (mu_zsrv_t *s)
{
  if (!s->destroyed || s->handles > 0)
    return;
  free (s->slots);
  free (s->gens);
  free (s->free_slots);
  free (s->rbuf);
  free (s->sbuf);
  free (s);
}

static void
on_conn_closed (uv_handle_t *h)
{
  conn_t *k = h->data;
  mu_zsrv_t *s = k->srv;
  s->slots[k->slot] = NULL;
  s->free_slots[s->nfree++] = k->slot;
  s->nopen--;
  if (k->was_ready)
    s->nready--;
  if (k->was_ready && s->o.on_close != NULL && !s->destroyed)
    {
      mu_route_t r;
      memset (&r, 0, sizeof r);
      route_of (k, &r);
      s->o.on_close (s->o.arg, &r);
    }
  event (s, MU_ZSRV_CLOSED);
  pend_free (k);
  if (k->user)
    s->heap -= strlen (k->user) + 1;
  free (k->user);
  if (k->curve)
    {
      mu_zcurve_clear (k->curve);
      free (k->curve);
      s->heap -= sizeof *k->curve;
    }
  s->heap -= sizeof *k;
  free (k);
  s->handles--;
  maybe_free (s);
}

static void
conn_close (conn_t *k, int hs_failed)
{
  if (k->state == ST_CLOSING)
    return;
  mu_zsrv_t *s = k->srv;
  if (hs_failed && !k->was_ready)
    event (s, MU_ZSRV_HANDSHAKE_FAILED);
  hs_unlink (s, k);
  k->state = ST_CLOSING;
  uv_read_stop ((uv_stream_t *)&k->tcp);
  uv_close ((uv_handle_t *)&k->tcp, on_conn_closed);
}

static int
slot_take (mu_zsrv_t *s, uint32_t *slot)
{
  if (s->nfree > 0)
    {
      *slot = s->free_slots[--s->nfree];
      return 0;
    }
  if (s->nslots == s->cap)
    {
      size_t ncap = s->cap ? s->cap * 2 : 64;
      conn_t **v = realloc (s->slots, ncap * sizeof *v);
      if (v == NULL)
        return -ENOMEM;
      s->slots = v;
      uint32_t *g = realloc (s->gens, ncap * sizeof *g);
      if (g == NULL)
        return -ENOMEM;
      s->gens = g;
      uint32_t *f = realloc (s->free_slots, ncap * sizeof *f);
      if (f == NULL)
        return -ENOMEM;
      s->free_slots = f;
      s->cap = ncap;
    }
  s->gens[s->nslots] = 0;
  s->slots[s->nslots] = NULL;
  *slot = (uint32_t)s->nslots++;
  return 0;
}

static void
on_reject_closed (uv_handle_t *h)
{
  mu_zsrv_t *s = h->data;
  free (h);
  s->handles--;
  maybe_free (s);
}

static void
on_connection (uv_stream_t *server, int status)
{
  mu_zsrv_t *s = server->data;
  if (status < 0 || s->destroyed)
    return;
  conn_t *k = calloc (1, sizeof *k);
  uint32_t slot;
  if (k == NULL || slot_take (s, &slot) != 0)
    {
      /* Accept and close, or the listener would be woken forever. */
      free (k);
      uv_tcp_t *t = malloc (sizeof *t);
      if (t == NULL || uv_tcp_init (s->loop, t) != 0)
        {
          free (t);
          return;
        }
      t->data = s;
      s->handles++;
      uv_accept (server, (uv_stream_t *)t);
      uv_close ((uv_handle_t *)t, on_reject_closed);
      return;
    }
  uv_tcp_init (s->loop, &k->tcp);
  k->tcp.data = k;
  k->srv = s;
  k->slot = slot;
  k->gen = ++s->gens[slot];
  s->slots[slot] = k;
  s->handles++;
  s->nopen++;
  s->heap += sizeof *k;
  k->accepted_ms = uv_now (s->loop);
  k->state = ST_GREETING;
  /* On the handshake list (so a close unlinks it) before anything fails. */
  k->hs_prev = s->hs_tail;
  if (s->hs_tail)
    s->hs_tail->hs_next = k;
  else
    s->hs_head = k;
  s->hs_tail = k;
  if (uv_accept (server, (uv_stream_t *)&k->tcp) != 0)
    {
      conn_close (k, 0);
      return;
    }
  event (s, MU_ZSRV_ACCEPTED);
  uv_tcp_nodelay (&k->tcp, 1);
  if (s->o.curve)
    {
      k->curve = malloc (sizeof *k->curve);
      if (k->curve == NULL || mu_zcurve_init (k->curve) != 0)
        {
          free (k->curve);
          k->curve = NULL;
          conn_close (k, 0);
          return;
        }
      s->heap += sizeof *k->curve;
    }
  /* Our whole greeting at once: libzmq sends its signature and waits. */
  unsigned char g[MU_ZMTP_GREETING_LEN];
  mu_zmtp_greeting (g, s->o.curve ? "CURVE" : "NULL", 1);
  uv_buf_t b = uv_buf_init ((char *)g, sizeof g);
  if (conn_write (k, &b, 1) != 0)
    return;
  if (uv_read_start ((uv_stream_t *)&k->tcp, on_alloc, on_read) != 0)
    conn_close (k, 0);
}

static void
on_hs_timer (uv_timer_t *t)
{
  mu_zsrv_t *s = t->data;
  uint64_t now = uv_now (s->loop);
  while (s->hs_head != NULL
         && now - s->hs_head->accepted_ms >= s->o.handshake_ms)
    {
      conn_t *k = s->hs_head;
      hs_unlink (s, k);
      event (s, MU_ZSRV_HANDSHAKE_DROPPED);
      conn_close (k, 0);
    }
}

/* ------------------------------------------------------------ server */

int
mu_zsrv_new (uv_loop_t *loop, const mu_zsrv_opts_t *opts, mu_zsrv_t **out)
{
  mu_zsrv_t *s = calloc (1, sizeof *s);
  if (s == NULL)
    return -ENOMEM;
  s->loop = loop;
  s->o = *opts;
  if (s->o.queue_max == 0)
    s->o.queue_max = 64u << 20;
  if (s->o.backlog <= 0)
    s->o.backlog = 4096;
  s->rbuf = malloc (READ_BUF);
  if (s->rbuf == NULL)
    {
      free (s);
      return -ENOMEM;
    }
  *out = s;
  return 0;
}

static void
on_handle_closed (uv_handle_t *h)
{
  mu_zsrv_t *s = h->data;
  s->handles--;
  maybe_free (s);
}

int
mu_zsrv_bind (mu_zsrv_t *s, const char *endpoint, char *ep_out, size_t eplen,
              char *err, size_t errlen)
{
  mu_endpoint_t ep;
  int rc = mu_endpoint_parse (endpoint, MU_EP_ANY_PORT, &ep, err, errlen);
  if (rc != 0)
    return rc;
  int port = strcmp (ep.port, "*") == 0 ? 0 : atoi (ep.port);
  const char *host = ep.host;
  if (strcmp (host, "*") == 0)
    host = ep.ipv6 ? "::" : "0.0.0.0";
  struct sockaddr_storage ss;
  if (ep.ipv6)
    rc = uv_ip6_addr (host, port, (struct sockaddr_in6 *)&ss);
  else
    rc = uv_ip4_addr (host, port, (struct sockaddr_in *)&ss);
  if (rc != 0)
    {
      snprintf (err, errlen, "%s: not a numeric address", endpoint);
      return MUSTER_EINVAL;
    }
  if ((rc = uv_tcp_init (s->loop, &s->listener)) != 0)
    return rc;
  s->listener.data = s;
  s->handles++;
  s->listening = 1;
  rc = uv_tcp_bind (&s->listener, (struct sockaddr *)&ss, 0);
  if (rc == 0)
    rc = uv_listen ((uv_stream_t *)&s->listener, s->o.backlog, on_connection);
  if (rc != 0)
    {
      snprintf (err, errlen, "%s: %s", endpoint, uv_strerror (rc));
      return rc;
    }
  int sl = sizeof ss;
  uv_tcp_getsockname (&s->listener, (struct sockaddr *)&ss, &sl);
  char addr[64] = "";
  if (ss.ss_family == AF_INET6)
    {
      uv_ip6_name ((struct sockaddr_in6 *)&ss, addr, sizeof addr);
      snprintf (ep_out, eplen, "tcp://[%s]:%u", addr,
                ntohs (((struct sockaddr_in6 *)&ss)->sin6_port));
    }
  else
    {
      uv_ip4_name ((struct sockaddr_in *)&ss, addr, sizeof addr);
      snprintf (ep_out, eplen, "tcp://%s:%u", addr,
                ntohs (((struct sockaddr_in *)&ss)->sin_port));
    }
  if (s->o.handshake_ms > 0)
    {
      uv_timer_init (s->loop, &s->hs_timer);
      s->hs_timer.data = s;
      s->handles++;
      s->hs_timer_on = 1;
      uint64_t every = s->o.handshake_ms / 4 ? s->o.handshake_ms / 4 : 1;
      uv_timer_start (&s->hs_timer, on_hs_timer, every, every);
    }
  return 0;
}

size_t
mu_zsrv_open (const mu_zsrv_t *s)
{
  return s->nopen;
}

size_t
mu_zsrv_ready (const mu_zsrv_t *s)
{
  return s->nready;
}

size_t
mu_zsrv_heap (const mu_zsrv_t *s)
{
  return s->heap;
}

void
mu_zsrv_destroy (mu_zsrv_t **s_p)
{
  if (s_p == NULL || *s_p == NULL)
    return;
  mu_zsrv_t *s = *s_p;
  *s_p = NULL;
  s->destroyed = 1;
  for (size_t i = 0; i < s->nslots; i++)
    if (s->slots[i] != NULL)
      conn_close (s->slots[i], 0);
  if (s->listening)
    uv_close ((uv_handle_t *)&s->listener, on_handle_closed);
  if (s->hs_timer_on)
    uv_close ((uv_handle_t *)&s->hs_timer, on_handle_closed);
  maybe_free (s);
}
