/*
 * wire.h — one protocol message on a ZeroMQ socket.
 *
 * A message travels as [routing id][empty delimiter]?[body] on a ROUTER
 * and as [body] on a DEALER; the body is the msgpack map of proto.h.  These
 * helpers are the only code that moves protocol messages on sockets, so
 * framing rules (at most one body frame, bounded routing ids, REQ clients'
 * empty delimiter) live in one place.  All calls are non-blocking.
 */
#ifndef MU_WIRE_H
#define MU_WIRE_H

#include <stddef.h>

#include "common/proto.h"

/* Where a message came from on a ROUTER, so the reply can go back. */
typedef struct mu_route {
  unsigned char id[256];
  size_t len;
  int delim; /* the peer is a REQ socket: echo an empty delimiter frame */
  char user[72]; /* received: the connection's ZAP User-Id ("" = none) */
  int fd;        /* received: the connection's descriptor (ZMQ_SRCFD), to
                    match socket-monitor events; -1 = unknown */
} mu_route_t;

/* Encode and send `msg`; with `to` != NULL a routing frame (and delimiter
 * if to->delim) goes first.  Returns 0, -EAGAIN (high-water mark),
 * -EHOSTUNREACH (unknown peer on a ROUTER_MANDATORY socket) or a codec
 * error. */
int mu_wire_send (void *sock, const mu_route_t *to, const mu_msg_t *msg);

/* Send an already encoded body (e.g. one encoded once and sent to many). */
int mu_wire_send_raw (void *sock, const mu_route_t *to, const void *buf,
                      size_t len);

/* Receive one whole message.  With `from` != NULL the first frame is taken
 * as a routing id.  Returns 0 with *out decoded (owned: mu_msg_clear), or
 * -EAGAIN when nothing is waiting, or a negative decode error: the bad
 * message is consumed, *out is empty, `from` is filled so the caller can
 * answer with mu_wire_send_error, and `err` names the problem. */
int mu_wire_recv (void *sock, mu_route_t *from, mu_msg_t *out, char *err,
                  size_t errlen);

/* mu_wire_recv, and the "User-Id" the ZAP handler gave the sender's
 * connection into user_id ("" when the socket has no ZAP domain). */
int mu_wire_recv_user (void *sock, mu_route_t *from, mu_msg_t *out, char *err,
                       size_t errlen, char *user_id, size_t user_id_len);

/* Send an "error" message with code, text and what it answers. */
int mu_wire_send_error (void *sock, const mu_route_t *to, int code,
                        const char *in_reply_to, uint64_t req_id,
                        const char *message);
/* mu_wire_send_error naming the request field at fault (error.field;
 * NULL or "" = none).  Every error carries code_name too. */
int mu_wire_send_error_field (void *sock, const mu_route_t *to, int code,
                              const char *in_reply_to, uint64_t req_id,
                              const char *field, const char *message);

/* The "error" message mu_wire_send_error_field sends, filled into *m (its
 * strings borrowed from the arguments): for a transport that is not a
 * ZeroMQ socket (the native agent port). */
void mu_wire_error_msg (mu_msg_t *m, int code, const char *in_reply_to,
                        uint64_t req_id, const char *field,
                        const char *message);

/* Apply muster's standard options to a socket: linger 0, ZMQ_MAXMSGSIZE
 * bounded by MU_PROTO_MAX_MSG, and the given high-water marks.  0 or
 * -errno. */
int mu_wire_sockopts (void *sock, int hwm);

#endif
