/*
 * liveness.h — which node has been silent longest, in O(1).
 *
 * Every node is judged by the same limit (heartbeat interval x miss
 * limit), so the node silent longest is simply the one heard from least
 * recently.  The table keeps the live nodes in a doubly linked list in
 * the order they were last heard from: hearing from a node moves it to
 * the tail (O(1), no allocation: the links are arrays indexed by the
 * node's key), and the sweep looks only at the head, taking nodes off
 * while they are past the limit and stopping at the first that is not.
 * A sweep therefore costs O(nodes declared lost), not O(nodes), and a
 * heartbeat O(1) — a timer wheel whose one bucket is always in order
 * because every deadline is "last heard + the same limit" (decision 91).
 *
 * Pure: no clock is read here; the caller passes the times.  Tested in
 * liveness_test.c.
 */
#ifndef MU_LIVENESS_H
#define MU_LIVENESS_H

#include <stddef.h>
#include <stdint.h>

#define MU_LIVE_NIL UINT32_MAX

typedef struct mu_live {
  uint32_t *prev, *next; /* links, indexed by key; MU_LIVE_NIL = none */
  uint64_t *seen;        /* when each key was last heard from */
  uint8_t *in;           /* 1 if the key is in the list */
  uint32_t cap;
  uint32_t head, tail;   /* least and most recently heard */
  size_t count;
} mu_live_t;

/* Room for keys 0 .. cap-1 (grows, never shrinks): 0 or -ENOMEM. */
int mu_live_reserve (mu_live_t *l, uint32_t cap);

/* Heard from `key` at `now`: it goes to the tail.  A time earlier than
 * the tail's is raised to it, so the list stays in order.  The key must
 * be below the reserved capacity. */
void mu_live_touch (mu_live_t *l, uint32_t key, uint64_t now);

/* `key` is no longer judged (lost, left, in-process); no-op if absent. */
void mu_live_remove (mu_live_t *l, uint32_t key);

/* The key silent longest, if it has been silent for more than `limit` at
 * `now`: 1 and *key set (it stays in the list until removed or touched);
 * else 0. */
int mu_live_expired (const mu_live_t *l, uint64_t now, uint64_t limit,
                     uint32_t *key);

/* Every key in the list heard from at `now` (the coordinator stalled:
 * the silence was its own).  O(nodes), for that rare case only. */
void mu_live_refresh_all (mu_live_t *l, uint64_t now);

/* Free the arrays; the table is empty and reusable. */
void mu_live_free (mu_live_t *l);

#endif
