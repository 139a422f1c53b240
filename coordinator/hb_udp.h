/*
 * hb_udp.h — the coordinator's heartbeat socket (UDP, decision 90).
 *
 * Beside the ZeroMQ agent port, musterd binds a UDP socket on the same
 * address (and the same port number when it is free).  An agent whose
 * welcome names it sends its heartbeats there as 40-byte datagrams
 * (common/hb_wire.h); the coordinator finds the node by the slot in the
 * datagram (an index, no lookup by name), checks its SipHash tag with the
 * node's secret and its sequence number against the last one accepted,
 * notes the node heard, and answers with a pong.  Datagrams are read and
 * answered in batches (recvmmsg, sendmmsg): a burst of thousands costs a
 * handful of system calls.  Anything that does not check out is dropped
 * and counted by why (muster_heartbeat_datagrams_dropped_total) and
 * logged at most once a second (HB-DROPPED).
 */
#ifndef MU_HB_UDP_H
#define MU_HB_UDP_H

#include <stdint.h>

struct mu_coord;
struct mu_node;

/* Why a datagram was dropped (index of mu_coord_t.hb_dropped). */
typedef enum mu_hb_drop {
  MU_HB_DROP_MALFORMED = 0, /* length, magic, version or kind */
  MU_HB_DROP_UNKNOWN,       /* no live node with a secret in that slot */
  MU_HB_DROP_TAG,           /* the tag is not the node's: forged */
  MU_HB_DROP_REPLAY,        /* sequence not newer than the last accepted */
} mu_hb_drop_t;

/* Bind the socket beside the agent port and start reading it.  0, or a
 * negative code (the coordinator then runs with ZeroMQ heartbeats only,
 * and says so). */
int mu_hb_udp_start (struct mu_coord *c);

/* Stop reading and close the socket (its memory is freed by the loop). */
void mu_hb_udp_stop (struct mu_coord *c);

/* Read every datagram waiting now (before the sweep judges silence: a
 * heartbeat that arrived but was not read yet is not silence). */
void mu_hb_udp_drain (struct mu_coord *c);

/* The port agents send to; 0 if there is no socket. */
uint16_t mu_hb_udp_port (const struct mu_coord *c);

/* Give `n` a fresh secret (at each welcome): its old datagrams, and any
 * of a previous node in the same slot, no longer check out. */
int mu_hb_udp_new_key (struct mu_node *n);

/* "malformed", "unknown", "forged", "replayed". */
const char *mu_hb_drop_name (mu_hb_drop_t why);

#endif
