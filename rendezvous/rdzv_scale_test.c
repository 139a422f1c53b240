/*
 * rdzv_scale_test.c — R9, a role's node range changed while the job runs
 * (ctl.scale): growing a closed round asks for a resize only when a
 * waiting node can now be taken, and the next round admits waiting nodes
 * up to the new max; shrinking requires the surplus to have left first;
 * an open round admits and closes at once when the new max is reached;
 * bad ranges are refused and change nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include <muster/error.h>

#include "rendezvous/rdzv.h"

static mu_rdzv_t *
mk (uint32_t min, uint32_t max)
{
  mu_rdzv_role_t roles[1] = { { "worker", min, max, 1 } };
  mu_rdzv_opts_t o = { roles, 1, 1000000, 0 }; /* closes at max */
  mu_rdzv_t *r = NULL;
  assert_int_equal (mu_rdzv_new (&o, &r), 0);
  return r;
}

static mu_rdzv_action_t
join (mu_rdzv_t *r, uint32_t key)
{
  mu_rdzv_decision_t d;
  assert_int_equal (mu_rdzv_join (r, 0, key, 0, 1, &d), 0);
  return d.action;
}

static void
test_grow_closed (void **state)
{
  (void)state;
  mu_rdzv_t *r = mk (1, 2);
  mu_rdzv_decision_t d;
  assert_int_equal (mu_rdzv_open (r, 0, &d), 0);
  join (r, 1);
  assert_int_equal (join (r, 2), MU_RDZV_D_CLOSED);
  /* at max: a third node waits, and asks for nothing */
  assert_int_equal (join (r, 3), MU_RDZV_D_NONE);
  assert_int_equal (mu_rdzv_set_range (r, 0, 0, 1, 3, &d), 0);
  assert_int_equal (d.action, MU_RDZV_D_RESIZE);
  assert_int_equal (mu_rdzv_role (r, 0)->max_nodes, 3);
  assert_int_equal (mu_rdzv_open (r, 0, &d), 0);
  assert_int_equal (d.action, MU_RDZV_D_CLOSED);
  assert_int_equal (mu_rdzv_world (r), 3);
  /* no waiting node: no resize */
  assert_int_equal (mu_rdzv_set_range (r, 0, 0, 1, 5, &d), 0);
  assert_int_equal (d.action, MU_RDZV_D_NONE);
  mu_rdzv_destroy (&r);
}

static void
test_shrink_needs_room (void **state)
{
  (void)state;
  mu_rdzv_t *r = mk (1, 3);
  mu_rdzv_decision_t d;
  assert_int_equal (mu_rdzv_open (r, 0, &d), 0);
  join (r, 1);
  join (r, 2);
  assert_int_equal (join (r, 3), MU_RDZV_D_CLOSED);
  assert_int_equal (mu_rdzv_set_range (r, 0, 0, 1, 2, &d), MUSTER_EINVAL);
  assert_int_equal (mu_rdzv_role (r, 0)->max_nodes, 3); /* unchanged */
  assert_int_equal (mu_rdzv_leave (r, 0, 3, &d), 0);
  assert_int_equal (d.action, MU_RDZV_D_MEMBER_LEFT);
  assert_int_equal (mu_rdzv_set_range (r, 0, 0, 1, 2, &d), 0);
  assert_int_equal (mu_rdzv_open (r, 0, &d), 0);
  assert_int_equal (d.action, MU_RDZV_D_CLOSED); /* at the new max */
  assert_int_equal (mu_rdzv_world (r), 2);
  /* a node joining now waits: the role is at its max */
  assert_int_equal (join (r, 4), MU_RDZV_D_NONE);
  /* min above the round: below min is counted again */
  assert_int_equal (mu_rdzv_leave (r, 0, 2, &d), 0);
  assert_int_equal (mu_rdzv_set_range (r, 0, 0, 2, 2, &d), 0);
  assert_int_equal (d.action, MU_RDZV_D_RESIZE); /* node 4 can come in */
  mu_rdzv_destroy (&r);
}

static void
test_open_round (void **state)
{
  (void)state;
  mu_rdzv_t *r = mk (2, 2);
  mu_rdzv_decision_t d;
  assert_int_equal (mu_rdzv_open (r, 0, &d), 0);
  assert_int_equal (join (r, 1), MU_RDZV_D_NONE); /* below min 2 */
  assert_int_equal (mu_rdzv_set_range (r, 0, 0, 1, 1, &d), 0);
  assert_int_equal (d.action, MU_RDZV_D_CLOSED); /* at the new max */
  assert_int_equal (mu_rdzv_world (r), 1);
  mu_rdzv_destroy (&r);
}

static void
test_bad_ranges (void **state)
{
  (void)state;
  mu_rdzv_t *r = mk (1, 2);
  mu_rdzv_decision_t d;
  assert_int_equal (mu_rdzv_set_range (r, 0, 0, 3, 2, &d), MUSTER_EINVAL);
  assert_int_equal (mu_rdzv_set_range (r, 0, 0, 0, 0, &d), MUSTER_EINVAL);
  assert_int_equal (mu_rdzv_set_range (r, 0, 7, 1, 2, &d), MUSTER_EINVAL);
  assert_int_equal (mu_rdzv_set_range (NULL, 0, 0, 1, 2, &d), MUSTER_EINVAL);
  assert_int_equal (mu_rdzv_role (r, 0)->min_nodes, 1);
  assert_int_equal (mu_rdzv_role (r, 0)->max_nodes, 2);
  mu_rdzv_destroy (&r);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_grow_closed),
    cmocka_unit_test (test_shrink_needs_room),
    cmocka_unit_test (test_open_round),
    cmocka_unit_test (test_bad_ranges),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
