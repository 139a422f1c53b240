/*
 * nodes_test.c — the heartbeat interval the coordinator asks of agents:
 * the configured one for small clusters, growing with the node count (so
 * 10,000 nodes do not swamp one coordinator), and a loss limit that grows
 * at once but shrinks only after a full old limit has passed, so an agent
 * still on the longer interval is never judged by the shorter one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

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

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_interval_scales_with_nodes),
    cmocka_unit_test (test_configured_interval_is_the_floor),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
