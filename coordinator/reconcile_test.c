/*
 * reconcile_test.c — rules C1-C4 of reconcile.h: a member that comes back
 * in its epoch with its ranks continues; a finished job answers with its
 * outcome; everything else is fenced; missed exits are the ones past the
 * coordinator's count, in the order they happened.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "coordinator/reconcile.h"

static mu_reconcile_in_t
member (void)
{
  mu_reconcile_in_t in = { .reg_epoch = 3,
                           .reg_first_rank = 4,
                           .reg_nranks = 2,
                           .job_known = 1,
                           .job_epoch = 3,
                           .node_known = 1,
                           .node_member = 1,
                           .member_first_rank = 4,
                           .member_nranks = 2 };
  return in;
}

static void
test_member_in_its_epoch_resumes (void **state)
{
  (void)state;
  mu_reconcile_in_t in = member ();
  assert_int_equal (mu_reconcile_decide (&in), MU_RECONCILE_RESUME);
}

static void
test_nothing_running_is_new (void **state)
{
  (void)state;
  mu_reconcile_in_t in = member ();
  in.reg_epoch = 0;
  assert_int_equal (mu_reconcile_decide (&in), MU_RECONCILE_NEW);
  in.job_finished = 1; /* a fresh run of a finished id starts it again */
  assert_int_equal (mu_reconcile_decide (&in), MU_RECONCILE_NEW);
}

static void
test_finished_job_answers_done (void **state)
{
  (void)state;
  mu_reconcile_in_t in = member ();
  in.job_finished = 1;
  assert_int_equal (mu_reconcile_decide (&in), MU_RECONCILE_DONE);
  in.node_known = 0; /* released when the job finished: still its outcome */
  in.reg_epoch = 2;
  assert_int_equal (mu_reconcile_decide (&in), MU_RECONCILE_DONE);
}

static void
test_everything_else_is_fenced (void **state)
{
  (void)state;
  mu_reconcile_in_t in = member ();
  in.reg_epoch = 2; /* an older epoch */
  assert_int_equal (mu_reconcile_decide (&in), MU_RECONCILE_FENCE);
  in = member ();
  in.node_known = 0; /* declared lost meanwhile */
  assert_int_equal (mu_reconcile_decide (&in), MU_RECONCILE_FENCE);
  in = member ();
  in.node_member = 0;
  assert_int_equal (mu_reconcile_decide (&in), MU_RECONCILE_FENCE);
  in = member ();
  in.reg_first_rank = 5; /* other ranks */
  assert_int_equal (mu_reconcile_decide (&in), MU_RECONCILE_FENCE);
  in = member ();
  in.reg_nranks = 3;
  assert_int_equal (mu_reconcile_decide (&in), MU_RECONCILE_FENCE);
  in = member ();
  in.job_known = 0; /* a coordinator that never heard of the job */
  assert_int_equal (mu_reconcile_decide (&in), MU_RECONCILE_FENCE);
}

static void
test_ranks (void **state)
{
  (void)state;
  mu_run_worker_t w[3] = { { .rank = 7 }, { .rank = 5 }, { .rank = 6 } };
  uint64_t first, count;
  mu_reconcile_ranks (w, 3, &first, &count);
  assert_int_equal (first, 5);
  assert_int_equal (count, 3);
  w[0].rank = 9; /* not contiguous */
  mu_reconcile_ranks (w, 3, &first, &count);
  assert_int_equal (count, 0);
  mu_reconcile_ranks (w, 0, &first, &count);
  assert_int_equal (count, 0);
}

static void
test_missed_exits_in_order (void **state)
{
  (void)state;
  mu_run_worker_t w[4] = { { .rank = 0, .exit_seq = 3 },
                           { .rank = 1, .exit_seq = 0 },
                           { .rank = 2, .exit_seq = 1 },
                           { .rank = 3, .exit_seq = 2 } };
  size_t idx[4];
  /* the coordinator saw exit 1 (rank 2): ranks 3 then 0 were missed */
  size_t k = mu_reconcile_missed (w, 4, 1, idx);
  assert_int_equal (k, 2);
  assert_int_equal (w[idx[0]].rank, 3);
  assert_int_equal (w[idx[1]].rank, 0);
  assert_int_equal (mu_reconcile_missed (w, 4, 3, idx), 0);
  k = mu_reconcile_missed (w, 4, 0, idx);
  assert_int_equal (k, 3);
  assert_int_equal (w[idx[0]].rank, 2);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_member_in_its_epoch_resumes),
    cmocka_unit_test (test_nothing_running_is_new),
    cmocka_unit_test (test_finished_job_answers_done),
    cmocka_unit_test (test_everything_else_is_fenced),
    cmocka_unit_test (test_ranks),
    cmocka_unit_test (test_missed_exits_in_order),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
