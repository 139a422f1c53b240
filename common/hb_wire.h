/*
 * hb_wire.h — the heartbeat datagram: a fixed 40-byte record, MAC'd.
 *
 * Heartbeats travel over UDP beside the ZeroMQ agent port (decision 90 in
 * docs/architecture.md): one datagram each way, no connection, no
 * allocation, no string in it.  A ping (agent -> coordinator) names the
 * node by its slot in the coordinator's node table, so the coordinator
 * finds it by an index; a pong (coordinator -> agent) echoes the ping's
 * sequence number.  Every datagram ends in a SipHash-2-4 tag keyed with
 * the node's 128-bit secret, handed out in agent.welcome over the CURVE
 * channel; the tag covers every byte before it, the kind included, so a
 * ping cannot be reflected as a pong.  Sequence numbers only grow, so a
 * recorded datagram replayed later is refused (mu_hb_seq_fresh).
 *
 *   off  size  field
 *     0     2  magic "MH"
 *     2     1  version (1)
 *     3     1  kind: 1 ping (A->C), 2 pong (C->A)
 *     4     4  slot: the node's index in the coordinator's table (LE)
 *     8     8  seq: ping: the agent's counter; pong: the ping's (LE)
 *    16     8  term: ping: highest fencing term the agent saw; pong: the
 *              coordinator's (LE)
 *    24     8  value: ping: highest step of its workers; pong: the
 *              heartbeat interval in ms (LE)
 *    32     8  tag: SipHash-2-4(key, bytes 0..31) (LE)
 *
 * Pure functions of their arguments; tested in hb_wire_test.c.
 */
#ifndef MU_HB_WIRE_H
#define MU_HB_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define MU_HB_SIZE 40
#define MU_HB_VERSION 1
#define MU_HB_KEY_LEN 16

enum { MU_HB_PING = 1, MU_HB_PONG = 2 };

typedef struct mu_hb_dgram {
  uint8_t kind;   /* MU_HB_PING or MU_HB_PONG */
  uint32_t slot;
  uint64_t seq;
  uint64_t term;
  uint64_t value; /* ping: step; pong: heartbeat interval (ms) */
} mu_hb_dgram_t;

/* SipHash-2-4 of `len` bytes with a 16-byte key. */
uint64_t mu_siphash24 (const uint8_t key[MU_HB_KEY_LEN], const void *data,
                       size_t len);

/* Write `d` and its tag into out[MU_HB_SIZE]. */
void mu_hb_encode (const mu_hb_dgram_t *d, const uint8_t key[MU_HB_KEY_LEN],
                   uint8_t out[MU_HB_SIZE]);

/* Read the header of a received datagram without checking its tag (the
 * slot says which key checks it): 0, or MUSTER_EPROTO when the length,
 * magic, version or kind is wrong. */
int mu_hb_peek (const uint8_t *buf, size_t len, mu_hb_dgram_t *d);

/* 0 if the tag of buf[MU_HB_SIZE] is the one `key` gives, else
 * MUSTER_EAUTH.  Compared in constant time. */
int mu_hb_verify (const uint8_t buf[MU_HB_SIZE],
                  const uint8_t key[MU_HB_KEY_LEN]);

/* Replay check: 1 if `seq` is newer than the last accepted `*last` (and
 * then *last = seq), else 0. */
int mu_hb_seq_fresh (uint64_t *last, uint64_t seq);

/* The key as 32 lowercase hex digits (out[33]), and back: 0 or
 * MUSTER_EINVAL. */
void mu_hb_key_hex (const uint8_t key[MU_HB_KEY_LEN], char out[33]);
int mu_hb_key_parse (const char *hex, uint8_t key[MU_HB_KEY_LEN]);

#endif
