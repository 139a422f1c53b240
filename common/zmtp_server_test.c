/*
 * zmtp_server_test.c — the native ZMTP server against real libzmq 4.3
 * clients (the agents' own library): NULL with DEALER and REQ peers, CURVE
 * with a DEALER in both directions (multi-frame, frames near the size
 * bound, thousands of messages so nonces advance), a wrong server key, a
 * refused client key, a frame over the bound, garbage after the greeting,
 * a truncated HELLO, the handshake timeout, and a send to a gone peer.
 * Every wait is bounded (loop turns with a short sleep), never a timing
 * assertion.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <zmq.h>

#include <muster/error.h>

#include "common/zmtp_server.h"
#include "common/zmtp_wire.h"

#define MAXMSG (256 * 1024)

typedef struct fx {
  uv_loop_t loop;
  mu_zsrv_t *srv;
  char ep[128];
  void *ctx;
  /* what the server saw */
  int msgs, bad, closes, accepted, closed, dropped, failed, refused;
  mu_route_t last;
  unsigned char body[MAXMSG + 16];
  size_t body_len;
  int echo;             /* send every message back */
  char allowed[41];     /* CURVE: the client key admitted (Z85) */
  int refuse_all;
} fx_t;

static int
on_admit (void *arg, const unsigned char *key, const char *peer, char *user,
          size_t ulen, char *reason, size_t rlen)
{
  fx_t *f = arg;
  (void)peer;
  char z85[41] = "";
  if (key != NULL)
    zmq_z85_encode (z85, key, 32);
  if (f->refuse_all || (key != NULL && strcmp (z85, f->allowed) != 0))
    {
      f->refused++;
      snprintf (reason, rlen, "unknown key");
      return MUSTER_EAUTH;
    }
  if (key != NULL)
    snprintf (user, ulen, "k:%s", z85);
  return 0;
}

static void
on_msg (void *arg, const mu_route_t *from, const unsigned char *body,
        size_t len, const char *err)
{
  fx_t *f = arg;
  f->last = *from;
  if (err != NULL)
    {
      f->bad++;
      return;
    }
  f->msgs++;
  memcpy (f->body, body, len);
  f->body_len = len;
  if (f->echo)
    assert_int_equal (mu_zsrv_send (f->srv, from, body, len), 0);
}

static void
on_close (void *arg, const mu_route_t *r)
{
  fx_t *f = arg;
  (void)r;
  f->closes++;
}

static void
on_event (void *arg, mu_zsrv_event_t ev)
{
  fx_t *f = arg;
  if (ev == MU_ZSRV_ACCEPTED)
    f->accepted++;
  else if (ev == MU_ZSRV_CLOSED)
    f->closed++;
  else if (ev == MU_ZSRV_HANDSHAKE_DROPPED)
    f->dropped++;
  else
    f->failed++;
}

static char spub[41], ssec[41];
static size_t queue_max; /* 0: the server's default */

static fx_t *
fx_new (int curve, uint64_t handshake_ms)
{
  fx_t *f = calloc (1, sizeof *f);
  assert_non_null (f);
  assert_int_equal (uv_loop_init (&f->loop), 0);
  mu_zsrv_opts_t o;
  memset (&o, 0, sizeof o);
  o.curve = curve;
  if (curve)
    {
      zmq_z85_decode (o.server_public, spub);
      zmq_z85_decode (o.server_secret, ssec);
    }
  o.max_msg = MAXMSG;
  o.queue_max = queue_max;
  o.handshake_ms = handshake_ms;
  o.admit = on_admit;
  o.on_msg = on_msg;
  o.on_close = on_close;
  o.on_event = on_event;
  o.arg = f;
  assert_int_equal (mu_zsrv_new (&f->loop, &o, &f->srv), 0);
  char err[200];
  assert_int_equal (mu_zsrv_bind (f->srv, "tcp://127.0.0.1:*", f->ep,
                                  sizeof f->ep, err, sizeof err), 0);
  assert_non_null (strstr (f->ep, "tcp://127.0.0.1:"));
  f->ctx = zmq_ctx_new ();
  return f;
}

static void
fx_free (fx_t *f)
{
  zmq_ctx_term (f->ctx);
  mu_zsrv_destroy (&f->srv);
  assert_null (f->srv);
  uv_run (&f->loop, UV_RUN_DEFAULT);
  assert_int_equal (uv_loop_close (&f->loop), 0);
  free (f);
}

static void
turn (fx_t *f)
{
  uv_run (&f->loop, UV_RUN_NOWAIT);
  struct timespec ts = { 0, 1000 * 1000 };
  nanosleep (&ts, NULL);
}

/* Turn the loop until *v reaches want: at most ~20 s. */
#define SPIN_UNTIL(f, cond)                                                   \
  do                                                                          \
    for (int i_ = 0; i_ < 20000 && !(cond); i_++)                             \
      turn (f);                                                               \
  while (0)

static void *
client (fx_t *f, int type, const char *server_key, const char *cpub,
        const char *csec)
{
  void *s = zmq_socket (f->ctx, type);
  int zero = 0;
  zmq_setsockopt (s, ZMQ_LINGER, &zero, sizeof zero);
  if (server_key != NULL)
    {
      zmq_setsockopt (s, ZMQ_CURVE_SERVERKEY, server_key, 40);
      zmq_setsockopt (s, ZMQ_CURVE_PUBLICKEY, cpub, 40);
      zmq_setsockopt (s, ZMQ_CURVE_SECRETKEY, csec, 40);
    }
  assert_int_equal (zmq_connect (s, f->ep), 0);
  return s;
}

/* Receive one frame on a client while turning the server's loop. */
static int
crecv (fx_t *f, void *s, void *buf, size_t cap)
{
  for (int i = 0; i < 20000; i++)
    {
      int n = zmq_recv (s, buf, cap, ZMQ_DONTWAIT);
      if (n >= 0)
        return n;
      turn (f);
    }
  return -1;
}

/* Send one frame from a client while turning the server's loop (a
 * client's queue fills at its high-water mark until the server reads). */
static int
csend (fx_t *f, void *s, const void *buf, size_t len, int flags)
{
  for (int i = 0; i < 20000; i++)
    {
      int n = zmq_send (s, buf, len, flags | ZMQ_DONTWAIT);
      if (n >= 0 || errno != EAGAIN)
        return n;
      turn (f);
    }
  return -1;
}

static void
test_null_dealer_and_req (void **state)
{
  (void)state;
  fx_t *f = fx_new (0, 0);
  f->echo = 1;
  void *d = client (f, ZMQ_DEALER, NULL, NULL, NULL);
  assert_int_equal (zmq_send (d, "hello", 5, 0), 5);
  SPIN_UNTIL (f, f->msgs == 1);
  assert_int_equal (f->msgs, 1);
  assert_int_equal (f->body_len, 5);
  assert_int_equal (f->last.delim, 0);
  assert_int_equal (f->last.len, 8);
  assert_string_equal (f->last.user, "");
  assert_true (f->last.fd >= 0);
  char buf[64];
  assert_int_equal (crecv (f, d, buf, sizeof buf), 5);
  assert_memory_equal (buf, "hello", 5);
  assert_int_equal (mu_zsrv_ready (f->srv), 1);

  /* two body frames: delivered as malformed, the connection stays */
  zmq_send (d, "a", 1, ZMQ_SNDMORE);
  zmq_send (d, "b", 1, 0);
  SPIN_UNTIL (f, f->bad == 1);
  assert_int_equal (f->bad, 1);
  zmq_send (d, "again", 5, 0);
  SPIN_UNTIL (f, f->msgs == 2);
  assert_int_equal (f->msgs, 2);
  assert_int_equal (crecv (f, d, buf, sizeof buf), 5);

  /* a REQ peer: its delimiter is noted and echoed */
  void *r = client (f, ZMQ_REQ, NULL, NULL, NULL);
  zmq_send (r, "ask", 3, 0);
  SPIN_UNTIL (f, f->msgs == 3);
  assert_int_equal (f->last.delim, 1);
  assert_int_equal (crecv (f, r, buf, sizeof buf), 3);
  assert_memory_equal (buf, "ask", 3);

  /* the peer goes: on_close with its route, then sends fail */
  mu_route_t gone = f->last;
  zmq_close (r);
  SPIN_UNTIL (f, f->closes == 1);
  assert_int_equal (f->closes, 1);
  assert_int_equal (mu_zsrv_send (f->srv, &gone, "x", 1), -EHOSTUNREACH);
  mu_route_t junk = gone;
  junk.len = 3;
  assert_int_equal (mu_zsrv_send (f->srv, &junk, "x", 1), -EHOSTUNREACH);
  zmq_close (d);
  SPIN_UNTIL (f, f->closed == 2);
  assert_int_equal (f->accepted, 2);
  assert_int_equal (f->closed, 2);
  assert_int_equal (mu_zsrv_open (f->srv), 0);
  fx_free (f);
}

static void
test_null_large_frames_and_bound (void **state)
{
  (void)state;
  fx_t *f = fx_new (0, 0);
  f->echo = 1;
  void *d = client (f, ZMQ_DEALER, NULL, NULL, NULL);
  char *big = malloc (MAXMSG + 1);
  char *back = malloc (MAXMSG + 1);
  for (size_t i = 0; i <= MAXMSG; i++)
    big[i] = (char)(i * 7);
  /* sizes across the read buffer and the 1/8-byte header boundary */
  size_t sizes[] = { 0, 255, 256, 65535, 65536 + 3, 200000, MAXMSG };
  size_t idle_heap = 0;
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
    {
      assert_int_equal (zmq_send (d, big, sizes[i], 0), (int)sizes[i]);
      SPIN_UNTIL (f, f->msgs == (int)i + 1);
      assert_int_equal (f->msgs, (int)i + 1);
      assert_int_equal (f->body_len, sizes[i]);
      assert_memory_equal (f->body, big, sizes[i]);
      assert_int_equal (crecv (f, d, back, MAXMSG + 1), (int)sizes[i]);
      assert_memory_equal (back, big, sizes[i]);
      /* a frame's buffer goes when it completes: an idle connection holds
       * the same few bytes after a 256 KiB frame as after an empty one */
      if (i == 0)
        idle_heap = mu_zsrv_heap (f->srv);
      assert_int_equal (mu_zsrv_heap (f->srv), idle_heap);
      assert_true (idle_heap > 0 && idle_heap < 1024);
    }
  /* over the bound: the connection is closed, nothing delivered */
  zmq_send (d, big, MAXMSG + 1, 0);
  SPIN_UNTIL (f, f->closes == 1);
  assert_int_equal (f->closes, 1);
  assert_int_equal (f->msgs, 7);
  assert_int_equal (mu_zsrv_heap (f->srv), 0);
  free (big);
  free (back);
  zmq_close (d);
  fx_free (f);
}

static void
test_curve (void **state)
{
  (void)state;
  fx_t *f = fx_new (1, 0);
  f->echo = 1;
  char cpub[41], csec[41];
  zmq_curve_keypair (cpub, csec);
  strcpy (f->allowed, cpub);
  void *d = client (f, ZMQ_DEALER, spub, cpub, csec);
  char buf[300];
  /* many messages: nonces advance both ways */
  for (int i = 0; i < 2000; i++)
    {
      int n = snprintf (buf, sizeof buf, "message %d", i);
      assert_int_equal (csend (f, d, buf, (size_t)n, 0), n);
    }
  char got[300];
  for (int i = 0; i < 2000; i++)
    {
      int n = crecv (f, d, got, sizeof got);
      int e = snprintf (buf, sizeof buf, "message %d", i);
      assert_int_equal (n, e);
      assert_memory_equal (got, buf, (size_t)e);
    }
  assert_int_equal (f->msgs, 2000);
  char want[48];
  snprintf (want, sizeof want, "k:%s", cpub);
  assert_string_equal (f->last.user, want);
  /* what a CURVE connection holds besides its uv_tcp_t's kernel socket:
   * its struct, the key and nonce block, the User-Id; no frame buffer */
  printf ("heap held for one ready CURVE connection: %zu B\n",
          mu_zsrv_heap (f->srv));
  assert_true (mu_zsrv_heap (f->srv) < 1024);
  /* a large frame near the bound, both ways */
  char *big = malloc (MAXMSG);
  char *back = malloc (MAXMSG);
  for (size_t i = 0; i < MAXMSG; i++)
    big[i] = (char)(i * 13);
  assert_int_equal (csend (f, d, big, MAXMSG, 0), MAXMSG);
  assert_int_equal (crecv (f, d, back, MAXMSG), MAXMSG);
  assert_memory_equal (back, big, MAXMSG);
  /* a multi-frame message from the server: MORE travels inside the box */
  mu_route_t to = f->last;
  to.delim = 1; /* an empty frame first, as to a REQ */
  assert_int_equal (mu_zsrv_send (f->srv, &to, "tail", 4), 0);
  int more = 0;
  size_t ml = sizeof more;
  assert_int_equal (crecv (f, d, got, sizeof got), 0);
  zmq_getsockopt (d, ZMQ_RCVMORE, &more, &ml);
  assert_int_equal (more, 1);
  assert_int_equal (crecv (f, d, got, sizeof got), 4);
  zmq_getsockopt (d, ZMQ_RCVMORE, &more, &ml);
  assert_int_equal (more, 0);
  /* ... and from the client: two body frames arrive as one bad message */
  zmq_send (d, "a", 1, ZMQ_SNDMORE);
  zmq_send (d, "b", 1, 0);
  SPIN_UNTIL (f, f->bad == 1);
  assert_int_equal (f->bad, 1);
  free (big);
  free (back);
  zmq_close (d);
  SPIN_UNTIL (f, f->closes == 1);
  fx_free (f);
}

/* mu_zsrv_sendv: several messages in one write arrive whole and in order
 * (NULL and CURVE; with a REQ's delimiter frames too); a bad count is
 * refused. */
static void
sendv_case (int curve)
{
  fx_t *f = fx_new (curve, 0);
  char cpub[41], csec[41];
  zmq_curve_keypair (cpub, csec);
  strcpy (f->allowed, cpub);
  void *d = curve ? client (f, ZMQ_DEALER, spub, cpub, csec)
                  : client (f, ZMQ_DEALER, NULL, NULL, NULL);
  assert_int_equal (csend (f, d, "hi", 2, 0), 2);
  SPIN_UNTIL (f, f->msgs == 1);
  mu_route_t to = f->last;
  uv_buf_t b[3] = { uv_buf_init ((char *)"welcome", 7),
                    uv_buf_init ((char *)"start", 5),
                    uv_buf_init ((char *)"third!", 6) };
  assert_int_equal (mu_zsrv_sendv (f->srv, &to, b, 3), 0);
  char got[32];
  assert_int_equal (crecv (f, d, got, sizeof got), 7);
  assert_memory_equal (got, "welcome", 7);
  assert_int_equal (crecv (f, d, got, sizeof got), 5);
  assert_memory_equal (got, "start", 5);
  assert_int_equal (crecv (f, d, got, sizeof got), 6);
  assert_memory_equal (got, "third!", 6);
  /* a delimiter before each body, as to a REQ peer */
  to.delim = 1;
  assert_int_equal (mu_zsrv_sendv (f->srv, &to, b, 2), 0);
  int more = 0;
  size_t ml = sizeof more;
  for (int i = 0; i < 2; i++)
    {
      assert_int_equal (crecv (f, d, got, sizeof got), 0);
      zmq_getsockopt (d, ZMQ_RCVMORE, &more, &ml);
      assert_int_equal (more, 1);
      assert_int_equal (crecv (f, d, got, sizeof got), (int)b[i].len);
      assert_memory_equal (got, b[i].base, b[i].len);
    }
  to.delim = 0;
  assert_int_equal (mu_zsrv_sendv (f->srv, &to, b, 0), -EINVAL);
  assert_int_equal (mu_zsrv_sendv (f->srv, &to, b, MU_ZSRV_SENDV_MAX + 1),
                    -EINVAL);
  /* and the stream is still in step after them (CURVE nonces too) */
  assert_int_equal (mu_zsrv_send (f->srv, &to, "after", 5), 0);
  assert_int_equal (crecv (f, d, got, sizeof got), 5);
  assert_memory_equal (got, "after", 5);
  zmq_close (d);
  SPIN_UNTIL (f, f->closes == 1);
  to.id[0] ^= 0xff;
  assert_int_equal (mu_zsrv_sendv (f->srv, &to, b, 2), -EHOSTUNREACH);
  fx_free (f);
}

static void
test_sendv (void **state)
{
  (void)state;
  sendv_case (0);
  sendv_case (1);
}

static void
test_curve_refused (void **state)
{
  (void)state;
  fx_t *f = fx_new (1, 0);
  char cpub[41], csec[41], opub[41], osec[41];
  zmq_curve_keypair (cpub, csec);
  zmq_curve_keypair (opub, osec);
  strcpy (f->allowed, cpub);
  /* a client that believes in another server key: HELLO does not open */
  void *w = client (f, ZMQ_DEALER, opub, cpub, csec);
  zmq_send (w, "x", 1, 0);
  SPIN_UNTIL (f, f->failed >= 1);
  assert_true (f->failed >= 1);
  assert_int_equal (f->msgs, 0);
  zmq_close (w);
  /* a key the server does not know: refused with ERROR, never delivered */
  void *u = client (f, ZMQ_DEALER, spub, opub, osec);
  zmq_send (u, "x", 1, 0);
  SPIN_UNTIL (f, f->refused >= 1);
  assert_true (f->refused >= 1);
  /* a NULL client on a CURVE port: the greeting's mechanism is wrong */
  int failed = f->failed;
  void *n = client (f, ZMQ_DEALER, NULL, NULL, NULL);
  zmq_send (n, "x", 1, 0);
  SPIN_UNTIL (f, f->failed > failed);
  assert_true (f->failed > failed);
  for (int i = 0; i < 200; i++)
    turn (f);
  assert_int_equal (f->msgs, 0);
  assert_int_equal (mu_zsrv_ready (f->srv), 0);
  zmq_close (u);
  zmq_close (n);
  fx_free (f);
}

/* A raw TCP client: connect, send bytes. */
static int
raw_connect (fx_t *f)
{
  const char *p = strrchr (f->ep, ':');
  struct sockaddr_in a = { .sin_family = AF_INET,
                           .sin_port = htons ((uint16_t)atoi (p + 1)) };
  inet_pton (AF_INET, "127.0.0.1", &a.sin_addr);
  int s = socket (AF_INET, SOCK_STREAM, 0);
  assert_true (s >= 0);
  assert_int_equal (connect (s, (struct sockaddr *)&a, sizeof a), 0);
  return s;
}

static void
test_garbage_and_timeout (void **state)
{
  (void)state;
  fx_t *f = fx_new (1, 300);
  unsigned char g[64];
  mu_zmtp_greeting (g, "CURVE", 0);
  /* garbage after a good greeting: closed as a protocol failure */
  int s1 = raw_connect (f);
  assert_int_equal (write (s1, g, 64), 64);
  assert_int_equal (write (s1, "\xff\xff\xff\xff garbage", 12), 12);
  SPIN_UNTIL (f, f->failed == 1);
  assert_int_equal (f->failed, 1);
  /* a truncated HELLO: waits for the rest, the timeout drops it */
  int s2 = raw_connect (f);
  unsigned char hello[] = { 0x04, 200, 5, 'H', 'E', 'L', 'L', 'O', 1, 0 };
  assert_int_equal (write (s2, g, 64), 64);
  assert_int_equal (write (s2, hello, sizeof hello), (ssize_t)sizeof hello);
  /* a connection that sends nothing at all */
  int s3 = raw_connect (f);
  SPIN_UNTIL (f, f->dropped == 2);
  assert_int_equal (f->dropped, 2);
  /* a HELLO of the wrong size (a whole frame): closed at once */
  int s4 = raw_connect (f);
  unsigned char h2[3 + 20] = { 0x04, 21, 5, 'H', 'E', 'L', 'L', 'O' };
  assert_int_equal (write (s4, g, 64), 64);
  assert_int_equal (write (s4, h2, 23), 23);
  SPIN_UNTIL (f, f->failed == 2);
  assert_int_equal (f->failed, 2);
  SPIN_UNTIL (f, mu_zsrv_open (f->srv) == 0);
  assert_int_equal (mu_zsrv_open (f->srv), 0);
  assert_int_equal (f->msgs, 0);
  close (s1);
  close (s2);
  close (s3);
  close (s4);
  fx_free (f);
}

/* Read exactly n bytes from a raw socket while turning the loop. */
static int
raw_read (fx_t *f, int s, unsigned char *buf, size_t n)
{
  size_t got = 0;
  for (int i = 0; i < 20000 && got < n; i++)
    {
      ssize_t r = recv (s, buf + got, n - got, MSG_DONTWAIT);
      if (r == 0)
        return -1; /* closed */
      if (r > 0)
        got += (size_t)r;
      else
        turn (f);
    }
  return got == n ? 0 : -1;
}

/* A NULL peer written by hand: READY both ways, PING answered with PONG
 * and its context, then a command frame with MORE closes the connection. */
static void
test_null_raw_ping (void **state)
{
  (void)state;
  fx_t *f = fx_new (0, 0);
  int s = raw_connect (f);
  unsigned char g[64], buf[256];
  mu_zmtp_greeting (g, "NULL", 0);
  assert_int_equal (write (s, g, 64), 64);
  assert_int_equal (raw_read (f, s, buf, 64), 0);
  char err[128];
  assert_int_equal (mu_zmtp_greeting_check (buf, 64, "NULL", err, sizeof err),
                    0);
  unsigned char meta[64], frame[128];
  size_t ml = 0;
  mu_zmtp_meta_put (meta, sizeof meta, &ml, "Socket-Type", "DEALER", 6);
  int n = mu_zmtp_command_frame (frame, sizeof frame, "READY", meta, ml);
  assert_int_equal (write (s, frame, (size_t)n), n);
  /* the server's READY: a short command frame naming ROUTER */
  assert_int_equal (raw_read (f, s, buf, 2), 0);
  assert_int_equal (buf[0], MU_ZMTP_FLAG_COMMAND);
  size_t bl = buf[1];
  assert_int_equal (raw_read (f, s, buf + 2, bl), 0);
  const unsigned char *name, *data, *v;
  size_t nl, dl, vl;
  assert_int_equal (mu_zmtp_command_parse (buf + 2, bl, &name, &nl, &data,
                                           &dl), 0);
  assert_true (mu_zmtp_command_is (name, nl, "READY"));
  assert_int_equal (mu_zmtp_meta_get (data, dl, "Socket-Type", &v, &vl), 0);
  assert_memory_equal (v, "ROUTER", 6);
  assert_int_equal (mu_zsrv_ready (f->srv), 1);
  /* PING: TTL 10 (deciseconds), context "ctx" */
  n = mu_zmtp_command_frame (frame, sizeof frame, "PING", "\x00\x0a" "ctx", 5);
  assert_int_equal (write (s, frame, (size_t)n), n);
  assert_int_equal (raw_read (f, s, buf, 2), 0);
  assert_int_equal (buf[0], MU_ZMTP_FLAG_COMMAND);
  assert_int_equal (buf[1], 1 + 4 + 3);
  assert_int_equal (raw_read (f, s, buf + 2, 8), 0);
  assert_memory_equal (buf + 2, "\x04PONGctx", 8);
  /* a command frame with MORE set is malformed: closed */
  unsigned char bad[] = { MU_ZMTP_FLAG_COMMAND | MU_ZMTP_FLAG_MORE, 1, 'x' };
  assert_int_equal (write (s, bad, sizeof bad), (ssize_t)sizeof bad);
  SPIN_UNTIL (f, f->closes == 1);
  assert_int_equal (f->closes, 1);
  assert_int_equal (raw_read (f, s, buf, 1), -1);
  close (s);
  fx_free (f);
}

/* A peer that stops reading: once the kernel's buffers and the bounded
 * queue are full, a send fails with -EAGAIN (the high-water mark) and
 * nothing grows further; the peer going away ends it. */
static void
test_queue_bound (void **state)
{
  (void)state;
  queue_max = 1 << 20;
  fx_t *f = fx_new (0, 0);
  queue_max = 0;
  int s = raw_connect (f);
  unsigned char g[64], buf[128];
  mu_zmtp_greeting (g, "NULL", 0);
  assert_int_equal (write (s, g, 64), 64);
  unsigned char meta[64], frame[128];
  size_t ml = 0;
  mu_zmtp_meta_put (meta, sizeof meta, &ml, "Socket-Type", "DEALER", 6);
  int n = mu_zmtp_command_frame (frame, sizeof frame, "READY", meta, ml);
  assert_int_equal (write (s, frame, (size_t)n), n);
  n = mu_zmtp_command_frame (frame, sizeof frame, "PING", "\x00\x00", 2);
  assert_int_equal (write (s, frame, (size_t)n), n);
  /* READY, then the PONG: the connection is ready, and we know its route
   * from a message */
  assert_int_equal (raw_read (f, s, buf, 64), 0);
  unsigned char one[] = { 0, 3, 'h', 'e', 'y' };
  assert_int_equal (write (s, one, sizeof one), (ssize_t)sizeof one);
  SPIN_UNTIL (f, f->msgs == 1);
  assert_int_equal (f->msgs, 1);
  mu_route_t to = f->last;
  char *body = calloc (1, 256 * 1024);
  int rc = 0, sent = 0;
  for (int i = 0; i < 4096 && rc == 0; i++)
    {
      rc = mu_zsrv_send (f->srv, &to, body, 256 * 1024);
      sent += rc == 0;
      turn (f);
    }
  assert_int_equal (rc, -EAGAIN);
  assert_true (sent > 0);
  close (s);
  SPIN_UNTIL (f, f->closes == 1);
  assert_int_equal (mu_zsrv_send (f->srv, &to, body, 1), -EHOSTUNREACH);
  free (body);
  fx_free (f);
}

int
main (void)
{
  zmq_curve_keypair (spub, ssec);
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_null_dealer_and_req),
    cmocka_unit_test (test_null_large_frames_and_bound),
    cmocka_unit_test (test_curve),
    cmocka_unit_test (test_sendv),
    cmocka_unit_test (test_curve_refused),
    cmocka_unit_test (test_garbage_and_timeout),
    cmocka_unit_test (test_null_raw_ping),
    cmocka_unit_test (test_queue_bound),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
