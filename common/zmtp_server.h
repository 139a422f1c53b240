/*
 * zmtp_server.h — a ZMTP 3 server with ROUTER semantics on a libuv loop.
 *
 * musterd's agent port holds one connection per node: ten thousand of
 * them at the scale of issue 12.  A libzmq ROUTER costs ~28 KB of heap per
 * connection and hands every message between two threads; this server
 * runs on the caller's loop and holds per connection a uv_tcp_t, a small
 * struct (state, routing id, CURVE keys and nonces), a buffer only while
 * a frame is partial (reads land in one loop-wide buffer) and a write
 * queue only when the kernel pushed back (uv_try_write first).  Decision
 * 103 in docs/architecture.md says why and what it measured.
 *
 * Clients are unchanged libzmq DEALER (or REQ) sockets, with the NULL or
 * CURVE mechanism (zmtp_curve.h).  As a ROUTER: every connection gets a
 * routing id of the server's own (8 bytes, never reused: peers' chosen
 * identities are ignored), a send to an unknown id fails with
 * -EHOSTUNREACH (ROUTER_MANDATORY), a send to a connection whose queue is
 * over opts.queue_max bytes fails with -EAGAIN (the high-water mark), and a
 * REQ peer's empty delimiter frame is noted in the route (route.delim) and
 * echoed on replies.  A message is delivered when its last frame arrives;
 * one with more than one body frame is delivered as malformed.
 *
 * Anything a peer sends that is not ZMTP as this server speaks it (a bad
 * greeting, reserved flag bits, a frame above opts.max_msg, an unknown or
 * malformed command, a failed CURVE box, a replayed nonce) closes the
 * connection; refused handshakes get an ERROR command first.  A connection
 * that has not finished its handshake within opts.handshake_ms is closed.
 */
#ifndef MU_ZMTP_SERVER_H
#define MU_ZMTP_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "common/log.h"
#include "common/wire.h"

typedef struct mu_zsrv mu_zsrv_t;

/* What happened to a connection, for accounting (conn_limit.h). */
typedef enum mu_zsrv_event {
  MU_ZSRV_ACCEPTED,
  MU_ZSRV_CLOSED,            /* any accepted connection, when it closes */
  MU_ZSRV_HANDSHAKE_DROPPED, /* closed for not finishing its handshake */
  MU_ZSRV_HANDSHAKE_FAILED   /* closed for a protocol or crypto error */
} mu_zsrv_event_t;

typedef struct mu_zsrv_opts {
  int curve;                         /* 0: NULL mechanism; 1: CURVE */
  unsigned char server_public[32];   /* CURVE: the server's long-term pair */
  unsigned char server_secret[32];
  uint64_t max_msg;      /* largest frame body accepted (MU_PROTO_MAX_MSG) */
  size_t queue_max;      /* bytes queued on one connection before -EAGAIN */
  uint64_t handshake_ms; /* 0 = no limit */
  int backlog;
  /* May this handshake proceed?  client_key: the CURVE client's long-term
   * public key (NULL under NULL); peer: its address ("1.2.3.4").  0 with
   * user[] filled (the route's `user` of every message it sends), or
   * non-zero with reason[] (sent in an ERROR command; close follows). */
  int (*admit) (void *arg, const unsigned char *client_key, const char *peer,
                char *user, size_t ulen, char *reason, size_t rlen);
  /* A whole message: its body, or bad != 0 with err naming the framing
   * fault (the body is then empty).  `from` is valid during the call. */
  void (*on_msg) (void *arg, const mu_route_t *from, const unsigned char *body,
                  size_t len, const char *err);
  /* A connection that finished its handshake closed (peer gone, error,
   * or mu_zsrv_disconnect); called from the loop, never inside a send. */
  void (*on_close) (void *arg, const mu_route_t *route);
  void (*on_event) (void *arg, mu_zsrv_event_t ev);
  void *arg;
  mu_log_t *log; /* may be NULL */
} mu_zsrv_opts_t;

/* Allocate a server on `loop` (nothing bound yet).  0 or -ENOMEM. */
int mu_zsrv_new (uv_loop_t *loop, const mu_zsrv_opts_t *opts,
                 mu_zsrv_t **out);
/* Listen on a "tcp://HOST:PORT" endpoint (PORT '*' or 0: ephemeral);
 * the bound endpoint ("tcp://ADDR:PORT") goes to ep_out.  0 or a negative
 * code with err filled. */
int mu_zsrv_bind (mu_zsrv_t *s, const char *endpoint, char *ep_out,
                  size_t eplen, char *err, size_t errlen);
/* Send one message body to a connection (with an empty delimiter frame
 * first when to->delim).  0, -EHOSTUNREACH, -EAGAIN, or -ENOMEM. */
int mu_zsrv_send (mu_zsrv_t *s, const mu_route_t *to, const void *body,
                  size_t len);
/* Send n (1..MU_ZSRV_SENDV_MAX) message bodies to one connection in one
 * write: what would be n writes (and, on a real network, n packets and n
 * wake-ups of the peer) is one.  Same results as mu_zsrv_send. */
#define MU_ZSRV_SENDV_MAX 4
int mu_zsrv_sendv (mu_zsrv_t *s, const mu_route_t *to, const uv_buf_t *bodies,
                   unsigned n);
/* Close the connection of `to` (its on_close follows); 0 or
 * -EHOSTUNREACH. */
int mu_zsrv_disconnect (mu_zsrv_t *s, const mu_route_t *to);
/* Connections open (accepted, not yet closed) and connections ready
 * (handshake done). */
size_t mu_zsrv_open (const mu_zsrv_t *s);
size_t mu_zsrv_ready (const mu_zsrv_t *s);
/* Bytes of heap the server holds for its connections (structs, partial
 * frames, CURVE state; not libuv's write requests): for the bench. */
size_t mu_zsrv_heap (const mu_zsrv_t *s);
/* Close the listener and every connection (queued writes are dropped, as
 * ZMQ_LINGER 0 drops them) and free the server once libuv has closed its
 * handles (the loop must run).  No callback is called after this.  Accepts
 * NULL and a pointer to NULL. */
void mu_zsrv_destroy (mu_zsrv_t **s_p);

#endif
