/*
 * nodes_test.c — the heartbeat interval the coordinator asks of agents:
 * the configured one for small clusters, growing with the node count (so
 * 10,000 nodes do not swamp one coordinator), and a loss limit that grows
 * at once but shrinks only after a full old limit has passed, so an agent
 * still on the longer interval is never judged by the shorter one.  And
 * a coordinator whose own sweep ran late (its loop stalled, or it was
 * stopped) blames no node for the silence: it gives every node a fresh
 * interval; a node silent past the limit on time is lost.
 *
 * hb area: nodes heard over UDP do not grow the interval, and are judged
 * by the fixed interval x miss limit while the others keep the grown
 * limit; the sweep declares lost only the nodes past their list's limit
 * (liveness.h), and a node heard meanwhile is not.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator/coord.h"

static void
test_interval_scales_with_nodes (void **state)
{
  (void)state;
  mu_coord_opts_t o = { .agent_bind = "tcp://127.0.0.1:*" };
  mu_coord_t *c = NULL;
  assert_int_equal (mu_coord_new (&o, &c), 0);
  c->nodes_alive = 10;
  assert_int_equal (mu_nodes_heartbeat_ms (c), 200); /* the default */
  assert_int_equal (c->hb_limit_ms, 600);            /* 3 misses */
  c->nodes_alive = 1000;
  assert_int_equal (mu_nodes_heartbeat_ms (c), 200); /* 200 us x 1000 */
  c->nodes_alive = 10000;
  assert_int_equal (mu_nodes_heartbeat_ms (c), 2000);
  assert_int_equal (c->hb_limit_ms, 6000); /* grows at once */
  c->nodes_alive = 10;
  assert_int_equal (mu_nodes_heartbeat_ms (c), 200);
  /* agents still send every 2 s until their next reply: the limit waits */
  assert_int_equal (c->hb_limit_ms, 6000);
  c->hb_raised_ms -= 7000; /* a full old limit has passed */
  mu_nodes_heartbeat_ms (c);
  assert_int_equal (c->hb_limit_ms, 600);
  mu_coord_destroy (&c);
}

static void
test_configured_interval_is_the_floor (void **state)
{
  (void)state;
  mu_coord_opts_t o = { .agent_bind = "tcp://127.0.0.1:*",
                        .heartbeat_ms = 5000, .miss_limit = 2 };
  mu_coord_t *c = NULL;
  assert_int_equal (mu_coord_new (&o, &c), 0);
  c->nodes_alive = 10000;
  assert_int_equal (mu_nodes_heartbeat_ms (c), 5000);
  assert_int_equal (c->hb_limit_ms, 10000);
  mu_coord_destroy (&c);
}

/* One live node, silent since `seen`, in a coordinator that was never
 * started (no sockets: the sweep needs none). */
static mu_node_t *
one_node (mu_coord_t *c, uint64_t seen)
{
  c->nodes = calloc (1, sizeof *c->nodes);
  c->free_keys = calloc (1, sizeof *c->free_keys);
  mu_node_t *n = calloc (1, sizeof *n);
  assert_non_null (c->nodes);
  assert_non_null (c->free_keys);
  assert_non_null (n);
  c->nodes[0] = n;
  c->nodes_cap = c->nodes_used = 1;
  n->in_use = n->alive = 1;
  n->node_id = strdup ("n1");
  n->host = strdup ("127.0.0.1");
  mu_nodes_seen (c, n, seen); /* last_seen_ms, and its liveness order */
  c->nodes_alive = 1;
  return n;
}

static void
test_stalled_sweep_blames_nobody (void **state)
{
  (void)state;
  mu_coord_opts_t o = { .agent_bind = "tcp://127.0.0.1:*" };
  mu_coord_t *c = NULL;
  assert_int_equal (mu_coord_new (&o, &c), 0);
  c->log->level = MU_LOG_ERR; /* NODE-LOST is expected here */
  mu_node_t *n = one_node (c, 1000);
  c->last_sweep_ms = 1000;
  /* The sweep comes 5 s late: the coordinator was stopped, not the node. */
  mu_nodes_sweep (c, 6000);
  assert_int_equal (n->alive, 1);
  assert_int_equal (n->last_seen_ms, 6000);
  /* On time again, and the node stays silent past the limit (600 ms). */
  for (uint64_t t = 6100; t <= 6600; t += 100)
    mu_nodes_sweep (c, t);
  assert_int_equal (n->alive, 1);
  mu_nodes_sweep (c, 6700);
  assert_int_equal (c->nodes_alive, 0);
  mu_coord_destroy (&c);
}

static mu_node_t *
add_node (mu_coord_t *c, uint32_t key, const char *id, int udp, uint64_t seen)
{
  mu_node_t *n = calloc (1, sizeof *n);
  assert_non_null (n);
  c->nodes[key] = n;
  n->key = key;
  n->in_use = n->alive = 1;
  n->node_id = strdup (id);
  n->host = strdup ("127.0.0.1");
  n->hb_udp = udp;
  c->nodes_hb_udp += (size_t)udp;
  mu_nodes_seen (c, n, seen);
  return n;
}

static void
test_udp_nodes_judged_by_the_fixed_limit (void **state)
{
  (void)state;
  mu_coord_opts_t o = { .agent_bind = "tcp://127.0.0.1:*" };
  mu_coord_t *c = NULL;
  assert_int_equal (mu_coord_new (&o, &c), 0);
  c->log->level = MU_LOG_ERR; /* NODE-LOST is expected here */
  c->nodes = calloc (4, sizeof *c->nodes);
  c->free_keys = calloc (4, sizeof *c->free_keys);
  assert_non_null (c->nodes);
  assert_non_null (c->free_keys);
  c->nodes_cap = c->nodes_used = 4;
  mu_node_t *u1 = add_node (c, 0, "udp1", 1, 1000);
  mu_node_t *z = add_node (c, 1, "zmq", 0, 1000);
  mu_node_t *u2 = add_node (c, 2, "udp2", 1, 1000);
  /* 10,000 nodes of which 5,002 heartbeat over ZeroMQ: those grow the
   * interval (1 s, limit 3 s); the UDP ones do not count. */
  c->nodes_alive = 10000;
  c->nodes_hb_udp = 4998;
  assert_int_equal (mu_nodes_heartbeat_ms (c), 1000);
  assert_int_equal (c->hb_limit_ms, 3000);
  c->last_sweep_ms = 1000;
  for (uint64_t t = 1100; t <= 1600; t += 100)
    mu_nodes_sweep (c, t);
  assert_int_equal (u1->alive + u2->alive + z->alive, 3);
  /* u2 was heard at 1,550 over UDP: only u1 is past 600 ms at 1,700. */
  mu_nodes_seen (c, u2, 1550);
  mu_nodes_sweep (c, 1700);
  assert_null (c->nodes[0]->node_id); /* u1 released */
  assert_int_equal (u2->alive, 1);
  assert_int_equal (z->alive, 1);
  assert_int_equal (c->nodes_hb_udp, 4997);
  /* The ZeroMQ node lasts until its own limit (3 s). */
  for (uint64_t t = 1800; t <= 4000; t += 100)
    {
      mu_nodes_seen (c, u2, t);
      mu_nodes_sweep (c, t);
    }
  assert_int_equal (z->alive, 1);
  mu_nodes_sweep (c, 4100);
  assert_null (c->nodes[1]->node_id); /* z released */
  assert_int_equal (u2->alive, 1);
  mu_coord_destroy (&c);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_interval_scales_with_nodes),
    cmocka_unit_test (test_configured_interval_is_the_floor),
    cmocka_unit_test (test_stalled_sweep_blames_nobody),
    cmocka_unit_test (test_udp_nodes_judged_by_the_fixed_limit),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
