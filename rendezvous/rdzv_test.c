/*
 * rdzv_test.c — cmocka tests of the rendezvous state machine.
 *
 * One test per rule of rdzv.h, and per rule rdzv.c decides (R1..R7), each
 * driving a machine through a short scripted sequence and checking every
 * decision (action, epoch, deadline) and the ranks of every close.  The
 * random-sequence property test and the 100,000-node scale test live in
 * rdzv_prop_test.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <muster/error.h>

#include "rendezvous/rdzv.h"

/* --- helpers */

static mu_rdzv_t *
mk (const mu_rdzv_role_t *roles, size_t nroles, uint64_t lc, uint64_t jt)
{
  mu_rdzv_opts_t o = { roles, nroles, lc, jt };
  mu_rdzv_t *r = NULL;
  assert_int_equal (mu_rdzv_new (&o, &r), 0);
  assert_non_null (r);
  return r;
}

static mu_rdzv_decision_t
J (mu_rdzv_t *r, uint64_t now, uint32_t key, uint32_t role, uint32_t nproc)
{
  mu_rdzv_decision_t d;
  assert_int_equal (mu_rdzv_join (r, now, key, role, nproc, &d), 0);
  return d;
}

static mu_rdzv_decision_t
L (mu_rdzv_t *r, uint64_t now, uint32_t key)
{
  mu_rdzv_decision_t d;
  assert_int_equal (mu_rdzv_leave (r, now, key, &d), 0);
  return d;
}

static mu_rdzv_decision_t
T (mu_rdzv_t *r, uint64_t now)
{
  mu_rdzv_decision_t d;
  assert_int_equal (mu_rdzv_tick (r, now, &d), 0);
  return d;
}

static mu_rdzv_decision_t
O (mu_rdzv_t *r, uint64_t now)
{
  mu_rdzv_decision_t d;
  assert_int_equal (mu_rdzv_open (r, now, &d), 0);
  return d;
}

static void
expect (mu_rdzv_decision_t d, mu_rdzv_action_t a, uint64_t epoch,
        uint64_t deadline)
{
  assert_int_equal (d.action, a);
  assert_int_equal (d.epoch, epoch);
  assert_int_equal (d.deadline_ms, deadline);
}

/* The closed round's keys, in node-rank order, are exactly `keys`. */
static void
expect_keys (const mu_rdzv_t *r, const uint32_t *keys, size_t n)
{
  size_t got;
  const mu_rdzv_member_t *m = mu_rdzv_members (r, &got);
  assert_int_equal (got, n);
  for (size_t i = 0; i < n; i++) {
    assert_int_equal (m[i].key, keys[i]);
    assert_int_equal (m[i].node_rank, i);
  }
}

static const mu_rdzv_role_t W_1_4[] = { { "worker", 1, 4, 1 } };

/* A journal replay puts a fresh machine back as a coordinator left it:
 * the same members in the same order get the same ranks, in the same
 * epoch; a member leaving then behaves as in any closed round; the next
 * round is epoch + 1.  Restoring a used machine is refused. */
static void
test_restore (void **state)
{
  (void)state;
  static const mu_rdzv_role_t roles[] = { { "ps", 1, 2, 1 }, { "worker", 1, 3, 2 } };
  mu_rdzv_t *live = mk (roles, 2, 1000, 0);
  O (live, 0);
  J (live, 1, 7, 1, 2);
  J (live, 2, 3, 0, 1);
  J (live, 3, 9, 1, 4);
  J (live, 4, 5, 1, 2);
  J (live, 5, 4, 0, 1);
  assert_int_equal (mu_rdzv_state (live), MU_RDZV_CLOSED);
  size_t n;
  const mu_rdzv_member_t *m = mu_rdzv_members (live, &n);
  assert_int_equal (n, 5);
  mu_rdzv_t *back = mk (roles, 2, 0, 0);
  assert_int_equal (mu_rdzv_restore (back, mu_rdzv_epoch (live), m, n), 0);
  assert_int_equal (mu_rdzv_state (back), MU_RDZV_CLOSED);
  assert_int_equal (mu_rdzv_epoch (back), 1);
  assert_int_equal (mu_rdzv_world (back), mu_rdzv_world (live));
  size_t n2;
  const mu_rdzv_member_t *m2 = mu_rdzv_members (back, &n2);
  assert_int_equal (n2, n);
  for (size_t i = 0; i < n; i++)
    {
      assert_int_equal (m2[i].key, m[i].key);
      assert_int_equal (m2[i].first_rank, m[i].first_rank);
      assert_int_equal (m2[i].role_first_rank, m[i].role_first_rank);
      assert_int_equal (m2[i].node_rank, m[i].node_rank);
    }
  expect (L (back, 10, 9), MU_RDZV_D_MEMBER_LEFT, 1, 0);
  expect (O (back, 11), MU_RDZV_D_CLOSED, 2, 0);
  assert_int_equal (mu_rdzv_restore (back, 5, NULL, 0), MUSTER_EINVAL);
  mu_rdzv_t *idle = mk (roles, 2, 0, 0);
  assert_int_equal (mu_rdzv_restore (idle, 41, NULL, 0), 0);
  assert_int_equal (mu_rdzv_state (idle), MU_RDZV_IDLE);
  J (idle, 1, 1, 0, 1);
  J (idle, 1, 2, 1, 1);
  expect (O (idle, 2), MU_RDZV_D_CLOSED, 42, 0);
  mu_rdzv_member_t twice[2] = { { .key = 1, .role = 0, .nproc = 1 },
                                { .key = 1, .role = 1, .nproc = 1 } };
  mu_rdzv_t *dup = mk (roles, 2, 0, 0);
  assert_int_equal (mu_rdzv_restore (dup, 3, twice, 2), MUSTER_EEXIST);
  mu_rdzv_destroy (&dup);
  mu_rdzv_destroy (&idle);
  mu_rdzv_destroy (&back);
  mu_rdzv_destroy (&live);
}

/* --- options */

static void
test_new_invalid (void **state)
{
  (void)state;
  mu_rdzv_t *r = (mu_rdzv_t *)&r; /* must be reset to NULL on failure */
  mu_rdzv_role_t ok = { "w", 0, 2, 1 };
  mu_rdzv_opts_t o = { &ok, 1, 0, 0 };
  assert_int_equal (mu_rdzv_new (NULL, &r), MUSTER_EINVAL);
  assert_null (r);
  assert_int_equal (mu_rdzv_new (&o, NULL), MUSTER_EINVAL);

  mu_rdzv_role_t bad[] = {
    { "w", 3, 2, 1 }, /* min > max */
    { "w", 0, 0, 1 }, /* max == 0 */
    { "w", 1, 2, 0 }, /* nproc == 0 */
    { "", 1, 2, 1 },  /* empty name */
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    o.roles = &bad[i];
    assert_int_equal (mu_rdzv_new (&o, &r), MUSTER_EINVAL);
  }
  mu_rdzv_role_t unterminated = { "", 1, 2, 1 };
  memset (unterminated.name, 'x', sizeof unterminated.name);
  o.roles = &unterminated;
  assert_int_equal (mu_rdzv_new (&o, &r), MUSTER_EINVAL);

  mu_rdzv_role_t dup[]
      = { { "a", 1, 1, 1 }, { "b", 1, 1, 1 }, { "a", 1, 1, 1 } };
  o.roles = dup;
  o.nroles = 3;
  assert_int_equal (mu_rdzv_new (&o, &r), MUSTER_EINVAL);
  o.nroles = 0;
  assert_int_equal (mu_rdzv_new (&o, &r), MUSTER_EINVAL);
  o.roles = NULL;
  o.nroles = 1;
  assert_int_equal (mu_rdzv_new (&o, &r), MUSTER_EINVAL);

  mu_rdzv_role_t many[MU_RDZV_MAX_ROLES + 1];
  for (int i = 0; i <= MU_RDZV_MAX_ROLES; i++) {
    snprintf (many[i].name, sizeof many[i].name, "role%d", i);
    many[i].min_nodes = 0;
    many[i].max_nodes = 1;
    many[i].nproc = 1;
  }
  o.roles = many;
  o.nroles = MU_RDZV_MAX_ROLES + 1;
  assert_int_equal (mu_rdzv_new (&o, &r), MUSTER_EINVAL);
  assert_null (r);
  o.nroles = MU_RDZV_MAX_ROLES; /* the limit itself is fine */
  assert_int_equal (mu_rdzv_new (&o, &r), 0);
  assert_int_equal (mu_rdzv_nroles (r), MU_RDZV_MAX_ROLES);
  assert_string_equal (mu_rdzv_role (r, 3)->name, "role3");
  assert_null (mu_rdzv_role (r, MU_RDZV_MAX_ROLES));
  mu_rdzv_destroy (&r);
  assert_null (r);
  mu_rdzv_destroy (&r); /* pointer to NULL */
  mu_rdzv_destroy (NULL);
}

static void
test_null_args (void **state)
{
  (void)state;
  mu_rdzv_t *r = mk (W_1_4, 1, 0, 0);
  mu_rdzv_decision_t d;
  assert_int_equal (mu_rdzv_open (NULL, 0, &d), MUSTER_EINVAL);
  assert_int_equal (mu_rdzv_open (r, 0, NULL), MUSTER_EINVAL);
  assert_int_equal (mu_rdzv_join (NULL, 0, 1, 0, 0, &d), MUSTER_EINVAL);
  assert_int_equal (mu_rdzv_join (r, 0, 1, 0, 0, NULL), MUSTER_EINVAL);
  assert_int_equal (mu_rdzv_leave (r, 0, 1, NULL), MUSTER_EINVAL);
  assert_int_equal (mu_rdzv_tick (NULL, 0, &d), MUSTER_EINVAL);
  assert_int_equal (mu_rdzv_epoch (r), 0); /* nothing happened */
  size_t n = 99;
  assert_null (mu_rdzv_members (NULL, &n));
  assert_int_equal (n, 0);
  assert_int_equal (mu_rdzv_state (NULL), MU_RDZV_IDLE);
  assert_int_equal (mu_rdzv_world (NULL), 0);
  assert_int_equal (mu_rdzv_is_member (NULL, 1), 0);
  mu_rdzv_destroy (&r);
}

/* --- epochs, closing, timers */

static void
test_epochs_increase (void **state)
{
  (void)state;
  mu_rdzv_t *r = mk (W_1_4, 1, 0, 0);
  assert_int_equal (mu_rdzv_state (r), MU_RDZV_IDLE);
  assert_int_equal (mu_rdzv_epoch (r), 0);
  for (uint64_t e = 1; e <= 5; e++) {
    expect (O (r, e * 10), MU_RDZV_D_NONE, e, 0);
    assert_int_equal (mu_rdzv_epoch (r), e);
    assert_int_equal (mu_rdzv_state (r), MU_RDZV_OPEN);
  }
  expect (J (r, 60, 7, 0, 0), MU_RDZV_D_CLOSED, 5, 0); /* lc 0: at min */
  expect (O (r, 70), MU_RDZV_D_CLOSED, 6, 0); /* carried 7 reaches min */
  mu_rdzv_destroy (&r);
}

static void
test_close_at_max (void **state)
{
  (void)state;
  mu_rdzv_role_t ro[] = { { "worker", 1, 3, 1 } };
  mu_rdzv_t *r = mk (ro, 1, 1000, 0);
  O (r, 0);
  expect (J (r, 5, 1, 0, 0), MU_RDZV_D_NONE, 1, 1005); /* last call armed */
  expect (J (r, 6, 2, 0, 0), MU_RDZV_D_NONE, 1, 1005);
  expect (J (r, 7, 3, 0, 0), MU_RDZV_D_CLOSED, 1, 0); /* max beats it */
  assert_int_equal (mu_rdzv_state (r), MU_RDZV_CLOSED);
  uint32_t keys[] = { 1, 2, 3 };
  expect_keys (r, keys, 3);
  expect (T (r, 2000), MU_RDZV_D_NONE, 1, 0); /* timer gone */
  mu_rdzv_destroy (&r);
}

static void
test_last_call_after_min (void **state)
{
  (void)state;
  mu_rdzv_role_t ro[] = { { "worker", 2, 4, 1 } };
  mu_rdzv_t *r = mk (ro, 1, 100, 0);
  expect (O (r, 0), MU_RDZV_D_NONE, 1, 0);
  expect (J (r, 10, 1, 0, 0), MU_RDZV_D_NONE, 1, 0);
  expect (J (r, 20, 2, 0, 0), MU_RDZV_D_NONE, 1, 120);
  expect (J (r, 50, 3, 0, 0), MU_RDZV_D_NONE, 1, 120); /* not re-armed */
  expect (T (r, 119), MU_RDZV_D_NONE, 1, 120);
  expect (T (r, 120), MU_RDZV_D_CLOSED, 1, 0);
  uint32_t keys[] = { 1, 2, 3 };
  expect_keys (r, keys, 3);
  mu_rdzv_destroy (&r);
}

static void
test_last_call_zero_closes_at_min (void **state)
{
  (void)state;
  mu_rdzv_role_t ro[] = { { "worker", 2, 4, 1 } };
  mu_rdzv_t *r = mk (ro, 1, 0, 0);
  O (r, 0);
  expect (J (r, 1, 1, 0, 0), MU_RDZV_D_NONE, 1, 0);
  expect (J (r, 2, 2, 0, 0), MU_RDZV_D_CLOSED, 1, 0);
  mu_rdzv_destroy (&r);
}

/* A re-formation round (open_ex with last call 0) closes as soon as the
 * carried members reach min; the next plain open uses the configured
 * last call again. */
static void
test_open_ex_overrides_last_call (void **state)
{
  (void)state;
  mu_rdzv_role_t ro[] = { { "worker", 2, 4, 1 } };
  mu_rdzv_t *r = mk (ro, 1, 100, 0);
  O (r, 0);
  J (r, 1, 1, 0, 0);
  J (r, 2, 2, 0, 0);
  J (r, 3, 3, 0, 0);
  expect (T (r, 102), MU_RDZV_D_CLOSED, 1, 0);
  mu_rdzv_decision_t d;
  assert_int_equal (mu_rdzv_open_ex (r, 200, 0, &d), 0);
  expect (d, MU_RDZV_D_CLOSED, 2, 0);
  uint32_t keys[] = { 1, 2, 3 };
  expect_keys (r, keys, 3);
  expect (O (r, 300), MU_RDZV_D_NONE, 3, 400);
  expect (T (r, 400), MU_RDZV_D_CLOSED, 3, 0);
  assert_int_equal (mu_rdzv_open_ex (NULL, 0, 0, &d), MUSTER_EINVAL);
  mu_rdzv_destroy (&r);
}

static void
test_last_call_disarm_on_leave (void **state)
{
  (void)state;
  mu_rdzv_role_t ro[] = { { "worker", 2, 4, 1 } };
  mu_rdzv_t *r = mk (ro, 1, 100, 0);
  O (r, 0);
  J (r, 0, 1, 0, 0);
  expect (J (r, 10, 2, 0, 0), MU_RDZV_D_NONE, 1, 110);
  expect (L (r, 50, 2), MU_RDZV_D_NONE, 1, 0); /* below min: disarmed */
  expect (T (r, 200), MU_RDZV_D_NONE, 1, 0);
  assert_int_equal (mu_rdzv_state (r), MU_RDZV_OPEN);
  expect (J (r, 300, 3, 0, 0), MU_RDZV_D_NONE, 1, 400); /* fresh */
  expect (T (r, 399), MU_RDZV_D_NONE, 1, 400);
  expect (T (r, 400), MU_RDZV_D_CLOSED, 1, 0);
  uint32_t keys[] = { 1, 3 };
  expect_keys (r, keys, 2);
  mu_rdzv_destroy (&r);
}

static void
test_join_timeout_fail (void **state)
{
  (void)state;
  mu_rdzv_role_t ro[] = { { "worker", 2, 4, 1 } };
  mu_rdzv_t *r = mk (ro, 1, 100, 500);
  expect (O (r, 1000), MU_RDZV_D_NONE, 1, 1500);
  expect (J (r, 1100, 1, 0, 0), MU_RDZV_D_NONE, 1, 1500);
  expect (T (r, 1499), MU_RDZV_D_NONE, 1, 1500);
  expect (T (r, 1500), MU_RDZV_D_FAILED, 1, 0);
  assert_int_equal (mu_rdzv_state (r), MU_RDZV_FAILED);
  assert_true (mu_rdzv_is_member (r, 1)); /* R4: stays enrolled */
  expect (J (r, 1600, 2, 0, 0), MU_RDZV_D_NONE, 1, 0);
  assert_true (mu_rdzv_is_waiting (r, 2));
  expect (T (r, 5000), MU_RDZV_D_NONE, 1, 0);
  /* Next round: 1 carried, 2 admitted; min reached -> last call. */
  expect (O (r, 2000), MU_RDZV_D_NONE, 2, 2100);
  expect (T (r, 2100), MU_RDZV_D_CLOSED, 2, 0);
  uint32_t keys[] = { 1, 2 };
  expect_keys (r, keys, 2);
  mu_rdzv_destroy (&r);
}

static void
test_join_timeout_with_min_closes (void **state)
{
  (void)state;
  mu_rdzv_t *r = mk (W_1_4, 1, 1000, 200);
  expect (O (r, 0), MU_RDZV_D_NONE, 1, 200);
  /* last call at 1010, join timeout at 200: the earliest is reported. */
  expect (J (r, 10, 1, 0, 0), MU_RDZV_D_NONE, 1, 200);
  mu_rdzv_status_t p;
  mu_rdzv_get_progress (r, 50, &p);
  assert_int_equal (p.last_call_left, 960);
  assert_int_equal (p.join_left, 150);
  expect (T (r, 200), MU_RDZV_D_CLOSED, 1, 0); /* R2 */
  mu_rdzv_destroy (&r);
}

static void
test_tick_before_deadline_noop (void **state)
{
  (void)state;
  mu_rdzv_role_t ro[] = { { "worker", 2, 4, 1 } };
  mu_rdzv_t *r = mk (ro, 1, 100, 300);
  expect (T (r, 0), MU_RDZV_D_NONE, 0, 0); /* idle */
  O (r, 0);
  J (r, 10, 1, 0, 0);
  J (r, 20, 2, 0, 0);
  for (uint64_t t = 20; t < 120; t += 7) {
    expect (T (r, t), MU_RDZV_D_NONE, 1, 120);
    assert_int_equal (mu_rdzv_state (r), MU_RDZV_OPEN);
  }
  expect (T (r, 500), MU_RDZV_D_CLOSED, 1, 0); /* late tick still fires */
  mu_rdzv_destroy (&r);
}

static void
test_empty_round_never_closes (void **state)
{
  (void)state;
  mu_rdzv_role_t ro[] = { { "a", 0, 2, 1 }, { "b", 0, 2, 1 } };
  mu_rdzv_t *r = mk (ro, 2, 0, 100);
  expect (O (r, 0), MU_RDZV_D_NONE, 1, 100); /* R1 */
  expect (T (r, 100), MU_RDZV_D_FAILED, 1, 0);
  expect (O (r, 200), MU_RDZV_D_NONE, 2, 300);
  expect (J (r, 210, 9, 1, 0), MU_RDZV_D_CLOSED, 2, 0);
  uint32_t b_nodes;
  assert_int_equal (mu_rdzv_role_world (r, 1, &b_nodes), 1);
  assert_int_equal (b_nodes, 1);
  assert_int_equal (mu_rdzv_role_world (r, 0, &b_nodes), 0);
  assert_int_equal (b_nodes, 0);
  mu_rdzv_destroy (&r);
}

/* --- waiting list, resize, leaving */

static void
test_waiting_when_full (void **state)
{
  (void)state;
  mu_rdzv_role_t ro[] = { { "w", 2, 2, 1 }, { "ps", 1, 1, 1 } };
  mu_rdzv_t *r = mk (ro, 2, 100, 0);
  O (r, 0);
  J (r, 1, 10, 0, 0);
  J (r, 2, 11, 0, 0);
  expect (J (r, 3, 12, 0, 0), MU_RDZV_D_NONE, 1, 0); /* w at max */
  assert_true (mu_rdzv_is_waiting (r, 12));
  assert_false (mu_rdzv_is_member (r, 12));
  mu_rdzv_status_t p;
  mu_rdzv_get_progress (r, 3, &p);
  assert_int_equal (p.joined, 2);
  assert_int_equal (p.waiting, 1);
  /* R3: a place frees up, the waiting node takes it. */
  L (r, 4, 10);
  assert_true (mu_rdzv_is_member (r, 12));
  expect (J (r, 5, 20, 1, 0), MU_RDZV_D_CLOSED, 1, 0);
  uint32_t keys[] = { 11, 12, 20 };
  expect_keys (r, keys, 3);
  mu_rdzv_destroy (&r);
}

static void
test_waiting_admitted_fifo_at_open (void **state)
{
  (void)state;
  mu_rdzv_role_t ro[] = { { "w", 1, 3, 1 } };
  mu_rdzv_t *r = mk (ro, 1, 100, 0);
  O (r, 0);
  J (r, 0, 1, 0, 0);
  J (r, 0, 2, 0, 0);
  expect (J (r, 0, 3, 0, 0), MU_RDZV_D_CLOSED, 1, 0);
  expect (J (r, 1, 7, 0, 0), MU_RDZV_D_NONE, 1, 0); /* at max */
  J (r, 2, 5, 0, 0);
  J (r, 3, 6, 0, 0);
  expect (L (r, 4, 2), MU_RDZV_D_MEMBER_LEFT, 1, 0);
  expect (O (r, 5), MU_RDZV_D_CLOSED, 2, 0); /* full again at once */
  uint32_t e2[] = { 1, 3, 7 };
  expect_keys (r, e2, 3);
  assert_true (mu_rdzv_is_waiting (r, 5));
  assert_true (mu_rdzv_is_waiting (r, 6));
  L (r, 6, 1);
  expect (O (r, 7), MU_RDZV_D_CLOSED, 3, 0);
  uint32_t e3[] = { 3, 7, 5 };
  expect_keys (r, e3, 3);
  assert_true (mu_rdzv_is_waiting (r, 6));
  mu_rdzv_destroy (&r);
}

static void
test_resize_vs_none (void **state)
{
  (void)state;
  mu_rdzv_role_t ro[] = { { "w", 1, 3, 1 }, { "ps", 1, 1, 1 } };
  mu_rdzv_t *r = mk (ro, 2, 0, 0);
  O (r, 0);
  J (r, 0, 1, 0, 0);
  expect (J (r, 0, 2, 1, 0), MU_RDZV_D_CLOSED, 1, 0);
  expect (J (r, 1, 3, 0, 0), MU_RDZV_D_RESIZE, 1, 0); /* w 1 of 3 */
  expect (J (r, 2, 4, 0, 0), MU_RDZV_D_RESIZE, 1, 0); /* 1 + 1 waiting < 3 */
  expect (J (r, 3, 5, 0, 0), MU_RDZV_D_NONE, 1, 0);   /* R5: no place */
  expect (J (r, 4, 6, 1, 0), MU_RDZV_D_NONE, 1, 0);   /* ps at max */
  assert_true (mu_rdzv_is_waiting (r, 3));
  expect (L (r, 5, 3), MU_RDZV_D_NONE, 1, 0); /* leaving the waiting list */
  expect (J (r, 6, 3, 0, 0), MU_RDZV_D_NONE, 1, 0);   /* back, behind 4, 5 */
  expect (O (r, 7), MU_RDZV_D_CLOSED, 2, 0);
  uint32_t keys[] = { 1, 4, 5, 2 };
  expect_keys (r, keys, 4);
  mu_rdzv_destroy (&r);
}

static void
test_member_leave (void **state)
{
  (void)state;
  mu_rdzv_role_t ro[] = { { "w", 2, 3, 2 } };
  mu_rdzv_t *r = mk (ro, 1, 0, 0);
  O (r, 0);
  J (r, 0, 1, 0, 0);
  J (r, 0, 2, 0, 0);
  J (r, 0, 3, 0, 0); /* closed at 2 (lc 0); 3 waits */
  assert_true (mu_rdzv_is_waiting (r, 3));
  expect (O (r, 1), MU_RDZV_D_CLOSED, 2, 0);
  expect (L (r, 2, 2), MU_RDZV_D_MEMBER_LEFT, 2, 0);
  assert_false (mu_rdzv_is_member (r, 2));
  expect (L (r, 3, 1), MU_RDZV_D_BELOW_MIN, 2, 0);
  /* R6: the epoch's membership is history. */
  uint32_t keys[] = { 1, 2, 3 };
  expect_keys (r, keys, 3);
  assert_int_equal (mu_rdzv_world (r), 6);
  assert_int_equal (mu_rdzv_state (r), MU_RDZV_CLOSED);
  mu_rdzv_status_t p;
  mu_rdzv_get_progress (r, 3, &p);
  assert_int_equal (p.joined, 1);
  expect (O (r, 4), MU_RDZV_D_NONE, 3, 0);
  J (r, 5, 1, 0, 0);
  uint32_t e3[] = { 3, 1 };
  expect_keys (r, e3, 2);
  mu_rdzv_destroy (&r);
}

static void
test_duplicate_join (void **state)
{
  (void)state;
  mu_rdzv_role_t ro[] = { { "w", 1, 1, 1 } };
  mu_rdzv_t *r = mk (ro, 1, 50, 0);
  mu_rdzv_decision_t d;
  assert_int_equal (mu_rdzv_join (r, 0, 1, 0, 0, &d), 0); /* idle: waits */
  assert_int_equal (mu_rdzv_join (r, 0, 1, 0, 0, &d), MUSTER_EEXIST);
  O (r, 0);
  J (r, 0, 2, 0, 0); /* closed at max with 1; 2 waits */
  assert_int_equal (mu_rdzv_join (r, 1, 1, 0, 0, &d), MUSTER_EEXIST);
  assert_int_equal (mu_rdzv_join (r, 1, 2, 0, 0, &d), MUSTER_EEXIST);
  expect (d, MU_RDZV_D_NONE, 1, 0); /* R7 */
  assert_int_equal (mu_rdzv_join (r, 1, 3, 1, 0, &d), MUSTER_EINVAL);
  assert_false (mu_rdzv_is_waiting (r, 3));
  mu_rdzv_destroy (&r);
}

/* mu_rdzv_next_key lists each held node once (round and waiting), never
 * one that left, and says which wait. */
static void
test_next_key (void **state)
{
  (void)state;
  mu_rdzv_role_t ro[] = { { "w", 1, 2, 1 } };
  mu_rdzv_t *r = mk (ro, 1, 50, 0);
  uint32_t pos = 0, key = 0;
  int waiting = -1;
  assert_int_equal (mu_rdzv_next_key (r, &pos, &key, &waiting), 0);
  O (r, 0);
  J (r, 0, 10, 0, 0);
  J (r, 0, 11, 0, 0); /* closes at max */
  J (r, 1, 12, 0, 0); /* waits */
  J (r, 1, 13, 0, 0); /* waits */
  L (r, 2, 13);
  int seen[4] = { 0 }, waits[4] = { 0 };
  pos = 0;
  while (mu_rdzv_next_key (r, &pos, &key, &waiting))
    {
      assert_true (key >= 10 && key <= 12);
      seen[key - 10]++;
      waits[key - 10] = waiting;
    }
  assert_int_equal (seen[0], 1);
  assert_int_equal (seen[1], 1);
  assert_int_equal (seen[2], 1);
  assert_int_equal (seen[3], 0);
  assert_false (waits[0]);
  assert_false (waits[1]);
  assert_true (waits[2]);
  pos = 0;
  assert_int_equal (mu_rdzv_next_key (NULL, &pos, &key, NULL), 0);
  mu_rdzv_destroy (&r);
}

static void
test_leave_unknown (void **state)
{
  (void)state;
  mu_rdzv_t *r = mk (W_1_4, 1, 50, 0);
  mu_rdzv_decision_t d;
  assert_int_equal (mu_rdzv_leave (r, 0, 42, &d), MUSTER_ENOTFOUND);
  O (r, 0);
  J (r, 0, 42, 0, 0);
  L (r, 1, 42);
  assert_int_equal (mu_rdzv_leave (r, 2, 42, &d), MUSTER_ENOTFOUND);
  expect (d, MU_RDZV_D_NONE, 1, 0);
  mu_rdzv_destroy (&r);
}

static void
test_key_reuse_after_leave (void **state)
{
  (void)state;
  mu_rdzv_role_t ro[] = { { "a", 1, 3, 1 }, { "b", 0, 3, 1 } };
  mu_rdzv_t *r = mk (ro, 2, 10, 0);
  O (r, 0);
  J (r, 0, UINT32_MAX, 0, 0);
  J (r, 0, 0, 0, 0);
  J (r, 0, 5, 0, 0);
  expect (T (r, 10), MU_RDZV_D_CLOSED, 1, 0);
  L (r, 11, UINT32_MAX);
  expect (J (r, 12, UINT32_MAX, 1, 3), MU_RDZV_D_RESIZE, 1, 0); /* new role */
  O (r, 13);
  expect (T (r, 23), MU_RDZV_D_CLOSED, 2, 0);
  uint32_t keys[] = { 0, 5, UINT32_MAX };
  expect_keys (r, keys, 3);
  size_t n;
  const mu_rdzv_member_t *m = mu_rdzv_members (r, &n);
  assert_int_equal (m[2].role, 1);
  assert_int_equal (m[2].nproc, 3);
  mu_rdzv_destroy (&r);
}

/* --- carry-over and ranks */

static void
test_carry_over_order (void **state)
{
  (void)state;
  mu_rdzv_role_t ro[] = { { "w", 1, 10, 1 } };
  mu_rdzv_t *r = mk (ro, 1, 50, 0);
  O (r, 0);
  uint32_t first[] = { 5, 3, 9, 1 };
  for (int i = 0; i < 4; i++)
    J (r, (uint64_t)i, first[i], 0, 0);
  expect (T (r, 50), MU_RDZV_D_CLOSED, 1, 0);
  expect_keys (r, first, 4);
  L (r, 60, 3);
  expect (J (r, 61, 7, 0, 0), MU_RDZV_D_RESIZE, 1, 0);
  expect (J (r, 62, 2, 0, 0), MU_RDZV_D_RESIZE, 1, 0);
  expect (O (r, 70), MU_RDZV_D_NONE, 2, 120);
  J (r, 71, 8, 0, 0);
  expect (T (r, 120), MU_RDZV_D_CLOSED, 2, 0);
  uint32_t second[] = { 5, 9, 1, 7, 2, 8 };
  expect_keys (r, second, 6);
  mu_rdzv_destroy (&r);
}

static void
test_reopen_keeps_join_order (void **state)
{
  (void)state;
  mu_rdzv_role_t ro[] = { { "w", 4, 4, 1 } };
  mu_rdzv_t *r = mk (ro, 1, 0, 100);
  O (r, 0);
  J (r, 1, 30, 0, 0);
  J (r, 2, 10, 0, 0);
  J (r, 3, 20, 0, 0);
  expect (O (r, 50), MU_RDZV_D_NONE, 2, 150); /* timers restart */
  expect (T (r, 100), MU_RDZV_D_NONE, 2, 150);
  expect (J (r, 110, 40, 0, 0), MU_RDZV_D_CLOSED, 2, 0);
  uint32_t keys[] = { 30, 10, 20, 40 };
  expect_keys (r, keys, 4);
  mu_rdzv_destroy (&r);
}

static void
test_node_ranks_contiguous (void **state)
{
  (void)state;
  mu_rdzv_role_t ro[] = { { "w", 3, 3, 4 } };
  mu_rdzv_t *r = mk (ro, 1, 0, 0);
  O (r, 0);
  J (r, 0, 1, 0, 0); /* default 4 */
  J (r, 0, 2, 0, 2);
  J (r, 0, 3, 0, 8);
  size_t n;
  const mu_rdzv_member_t *m = mu_rdzv_members (r, &n);
  assert_int_equal (n, 3);
  uint32_t np[] = { 4, 2, 8 };
  uint64_t fr[] = { 0, 4, 6 };
  for (size_t i = 0; i < 3; i++) {
    assert_int_equal (m[i].nproc, np[i]);
    assert_int_equal (m[i].first_rank, fr[i]);
    assert_int_equal (m[i].role_first_rank, fr[i]);
  }
  assert_int_equal (mu_rdzv_world (r), 14);
  mu_rdzv_destroy (&r);
}

/* R8: nodes that join with rank hints get those node ranks whatever the
 * order they arrive in; nodes without a hint follow in join order; hints
 * of waiting nodes count when they are admitted. */
static void
test_rank_hints (void **state)
{
  (void)state;
  mu_rdzv_role_t ro[] = { { "w", 4, 4, 1 } };
  mu_rdzv_t *r = mk (ro, 1, 0, 0);
  O (r, 0);
  mu_rdzv_decision_t d;
  assert_int_equal (mu_rdzv_join_ranked (r, 0, 10, 0, 0, 2, &d), 0);
  assert_int_equal (mu_rdzv_join_ranked (r, 0, 11, 0, 0, MU_RDZV_NO_HINT, &d), 0);
  assert_int_equal (mu_rdzv_join_ranked (r, 0, 12, 0, 0, 0, &d), 0);
  assert_int_equal (mu_rdzv_join_ranked (r, 0, 13, 0, 0, 1, &d), 0);
  assert_int_equal (d.action, MU_RDZV_D_CLOSED);
  uint32_t want[] = { 12, 13, 10, 11 };
  expect_keys (r, want, 4);
  /* A re-formation after 13 leaves: 13 comes back hinted 1, survivors keep
   * their order and 13 takes its place again. */
  L (r, 1, 13);
  O (r, 2);
  assert_int_equal (mu_rdzv_join_ranked (r, 3, 13, 0, 0, 1, &d), 0);
  assert_int_equal (d.action, MU_RDZV_D_CLOSED);
  expect_keys (r, want, 4);
  /* Without hints: join order, as before. */
  mu_rdzv_t *p = mk (ro, 1, 0, 0);
  O (p, 0);
  for (uint32_t k = 0; k < 4; k++)
    J (p, 0, 20 + (3 - k), 0, 0);
  uint32_t plain[] = { 23, 22, 21, 20 };
  expect_keys (p, plain, 4);
  mu_rdzv_destroy (&p);
  mu_rdzv_destroy (&r);
}

static void
test_multiple_roles (void **state)
{
  (void)state;
  mu_rdzv_role_t ro[] = {
    { "chief", 1, 1, 1 }, { "worker", 2, 4, 2 }, { "ps", 0, 2, 1 }
  };
  mu_rdzv_t *r = mk (ro, 3, 10, 0);
  O (r, 0);
  J (r, 0, 100, 1, 0);  /* worker, 2 */
  J (r, 0, 200, 2, 3);  /* ps, 3 */
  J (r, 0, 101, 1, 5);  /* worker, 5 */
  expect (J (r, 0, 1, 0, 0), MU_RDZV_D_NONE, 1, 10); /* chief: min reached */
  J (r, 1, 102, 1, 0);  /* worker, 2 */
  expect (T (r, 10), MU_RDZV_D_CLOSED, 1, 0);
  size_t n;
  const mu_rdzv_member_t *m = mu_rdzv_members (r, &n);
  assert_int_equal (n, 5);
  struct { uint32_t key, role, nproc; uint64_t first, rfirst; } want[] = {
    { 1, 0, 1, 0, 0 },     { 100, 1, 2, 1, 0 }, { 101, 1, 5, 3, 2 },
    { 102, 1, 2, 8, 7 },   { 200, 2, 3, 10, 0 },
  };
  for (size_t i = 0; i < n; i++) {
    assert_int_equal (m[i].key, want[i].key);
    assert_int_equal (m[i].role, want[i].role);
    assert_int_equal (m[i].nproc, want[i].nproc);
    assert_int_equal (m[i].node_rank, i);
    assert_int_equal (m[i].first_rank, want[i].first);
    assert_int_equal (m[i].role_first_rank, want[i].rfirst);
  }
  uint32_t nodes;
  assert_int_equal (mu_rdzv_world (r), 13);
  assert_int_equal (mu_rdzv_role_world (r, 0, &nodes), 1);
  assert_int_equal (nodes, 1);
  assert_int_equal (mu_rdzv_role_world (r, 1, &nodes), 9);
  assert_int_equal (nodes, 3);
  assert_int_equal (mu_rdzv_role_world (r, 2, &nodes), 3);
  assert_int_equal (nodes, 1);
  assert_int_equal (mu_rdzv_role_world (r, 3, &nodes), 0);
  mu_rdzv_destroy (&r);
}

static void
test_progress (void **state)
{
  (void)state;
  mu_rdzv_role_t ro[] = { { "a", 1, 2, 1 }, { "b", 2, 3, 1 } };
  mu_rdzv_t *r = mk (ro, 2, 100, 1000);
  mu_rdzv_status_t p;
  memset (&p, 0x5a, sizeof p);
  mu_rdzv_get_progress (NULL, 0, &p);
  assert_int_equal (p.state, MU_RDZV_IDLE);
  assert_int_equal (p.epoch, 0);
  assert_int_equal (p.joined, 0);
  assert_int_equal (p.min_nodes, 0);
  assert_int_equal (p.last_call_left, -1);
  assert_int_equal (p.join_left, -1);
  J (r, 0, 1, 0, 0);
  mu_rdzv_get_progress (r, 0, &p);
  assert_int_equal (p.state, MU_RDZV_IDLE);
  assert_int_equal (p.epoch, 0);
  assert_int_equal (p.joined, 0);
  assert_int_equal (p.waiting, 1);
  assert_int_equal (p.min_nodes, 3);
  assert_int_equal (p.max_nodes, 5);
  assert_int_equal (p.last_call_left, -1);
  assert_int_equal (p.join_left, -1);
  O (r, 100);
  J (r, 110, 2, 1, 0);
  mu_rdzv_get_progress (r, 120, &p);
  assert_int_equal (p.state, MU_RDZV_OPEN);
  assert_int_equal (p.epoch, 1);
  assert_int_equal (p.joined, 2);
  assert_int_equal (p.waiting, 0);
  assert_int_equal (p.last_call_left, -1);
  assert_int_equal (p.join_left, 980);
  J (r, 130, 3, 1, 0);
  mu_rdzv_get_progress (r, 150, &p);
  assert_int_equal (p.last_call_left, 80);
  mu_rdzv_get_progress (r, 5000, &p); /* overdue: 0, not negative */
  assert_int_equal (p.last_call_left, 0);
  assert_int_equal (p.join_left, 0);
  T (r, 230);
  mu_rdzv_get_progress (r, 240, &p);
  assert_int_equal (p.state, MU_RDZV_CLOSED);
  assert_int_equal (p.joined, 3);
  assert_int_equal (p.last_call_left, -1);
  assert_int_equal (p.join_left, -1);
  mu_rdzv_destroy (&r);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_new_invalid),
    cmocka_unit_test (test_null_args),
    cmocka_unit_test (test_epochs_increase),
    cmocka_unit_test (test_close_at_max),
    cmocka_unit_test (test_last_call_after_min),
    cmocka_unit_test (test_last_call_zero_closes_at_min),
    cmocka_unit_test (test_last_call_disarm_on_leave),
    cmocka_unit_test (test_open_ex_overrides_last_call),
    cmocka_unit_test (test_join_timeout_fail),
    cmocka_unit_test (test_join_timeout_with_min_closes),
    cmocka_unit_test (test_tick_before_deadline_noop),
    cmocka_unit_test (test_empty_round_never_closes),
    cmocka_unit_test (test_waiting_when_full),
    cmocka_unit_test (test_waiting_admitted_fifo_at_open),
    cmocka_unit_test (test_resize_vs_none),
    cmocka_unit_test (test_member_leave),
    cmocka_unit_test (test_duplicate_join),
    cmocka_unit_test (test_next_key),
    cmocka_unit_test (test_leave_unknown),
    cmocka_unit_test (test_key_reuse_after_leave),
    cmocka_unit_test (test_carry_over_order),
    cmocka_unit_test (test_reopen_keeps_join_order),
    cmocka_unit_test (test_node_ranks_contiguous),
    cmocka_unit_test (test_multiple_roles),
    cmocka_unit_test (test_rank_hints),
    cmocka_unit_test (test_progress),
    cmocka_unit_test (test_restore),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
