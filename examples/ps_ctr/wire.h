/*
 * wire.h — one data-plane message received (header and raw frames) and
 * the send and receive helpers of wire.c.
 */
#ifndef PS_WIRE_H
#define PS_WIRE_H

#include <zmq.h>

#include "ps_ctr.h"

#define PS_MAX_PARTS 4

typedef struct ps_in {
  zmq_msg_t rid; /* ROUTER side: who sent it */
  int has_rid;
  ps_hdr_t h;
  zmq_msg_t part[PS_MAX_PARTS]; /* [0] is the header */
  int nparts;
  void *aligned[PS_MAX_PARTS]; /* copies of frames ZeroMQ left unaligned */
} ps_in_t;

/* Send header h and up to two arrays (NULL = absent), after the routing
 * id `rid` when not NULL.  0 or -1 (errno). */
int ps_send (void *sock, const zmq_msg_t *rid, const ps_hdr_t *h,
             const void *p1, size_t l1, const void *p2, size_t l2);
/* Receive one message; with_rid on a ROUTER.  0, or -1 (errno: EAGAIN
 * with ZMQ_DONTWAIT and nothing there, EPROTO for a bad header). */
int ps_recv (void *sock, int with_rid, int flags, ps_in_t *m);
void ps_in_close (ps_in_t *m);
/* Frame i's bytes if it is exactly `want` long, else NULL (or on no
 * memory).  Aligned for any array type: a frame ZeroMQ stored at an odd
 * address is copied (freed by ps_in_close). */
const void *ps_in_data (ps_in_t *m, int i, size_t want);

#endif
