/*
 * log_fwd_test.c — the agent's output batches for ctl.logs (log_fwd.h):
 * lines are kept in order with their rank and stream; past the budget of
 * an interval they are dropped and counted (bytes plus newline), and the
 * next interval has a fresh budget; a take hands the batch over and
 * resets the counts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "worker/log_fwd.h"

static void
test_batch_and_budget (void **state)
{
  (void)state;
  mu_logfwd_opts_t o = { .budget = 20, .interval_ms = 1000 };
  mu_logfwd_t *f = NULL;
  assert_int_equal (mu_logfwd_new (&o, &f), 0);
  assert_int_equal (mu_logfwd_add (f, 5000, 0, 0, "[w 0] hi", 8), 1);
  assert_int_equal (mu_logfwd_add (f, 5001, 3, 1, "[w 3] oops", 10), 1);
  assert_int_equal (mu_logfwd_pending (f), 20);
  /* the budget of this interval is spent */
  assert_int_equal (mu_logfwd_add (f, 5002, 0, 0, "more", 4), 0);
  assert_int_equal (mu_logfwd_add (f, 5999, 0, 0, "x", 1), 0);
  assert_int_equal (mu_logfwd_dropped (f), 5 + 2);
  mu_out_line_t *v;
  size_t n;
  uint64_t dropped;
  mu_logfwd_take (f, &v, &n, &dropped);
  assert_int_equal (n, 2);
  assert_int_equal (dropped, 7);
  assert_string_equal (v[0].text, "[w 0] hi");
  assert_false (v[0].err);
  assert_int_equal (v[1].rank, 3);
  assert_true (v[1].err);
  mu_logfwd_free_lines (v, n);
  assert_int_equal (mu_logfwd_pending (f), 0);
  assert_int_equal (mu_logfwd_dropped (f), 0);
  /* still the same interval: still over */
  assert_int_equal (mu_logfwd_add (f, 5500, 0, 0, "y", 1), 0);
  /* a new interval */
  assert_int_equal (mu_logfwd_add (f, 6000, 1, 0, "again", 5), 1);
  mu_logfwd_destroy (&f); /* frees what is pending */
  assert_null (f);
  mu_logfwd_destroy (&f);
}

static void
test_chatty_stays_bounded (void **state)
{
  (void)state;
  mu_logfwd_t *f = NULL;
  assert_int_equal (mu_logfwd_new (NULL, &f), 0);
  char line[1000];
  memset (line, 'z', sizeof line);
  uint64_t kept = 0;
  for (int i = 0; i < 100000; i++) /* 100 MB within one interval */
    kept += mu_logfwd_add (f, 10, 0, 0, line, sizeof line) == 1;
  assert_true (mu_logfwd_pending (f) <= MU_LOGFWD_BUDGET_DEFAULT);
  assert_int_equal (kept, MU_LOGFWD_BUDGET_DEFAULT / 1001);
  assert_int_equal (mu_logfwd_dropped (f), (100000 - kept) * 1001);
  mu_logfwd_destroy (&f);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_batch_and_budget),
    cmocka_unit_test (test_chatty_stays_bounded),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
