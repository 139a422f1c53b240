/*
 * join_queue_test.c — joins whose progress is held back (join_queue.h):
 * nothing is due before its delay; what is due comes out in join order
 * and only once; the next due time follows the head; a clear forgets
 * everything (the round closed or was broadcast); the array is reused
 * and compacted across many notes; a clock that steps back keeps FIFO
 * order.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "coordinator/join_queue.h"

static void
test_nothing_due_before_delay (void **state)
{
  (void)state;
  mu_join_queue_t q = { 0 };
  uint32_t k;
  assert_int_equal (mu_jq_next_due (&q), 0);
  assert_int_equal (mu_jq_pop_due (&q, 1000, &k), 0); /* empty */
  assert_int_equal (mu_jq_note (&q, 7, 1000, 500), 0);
  assert_int_equal (mu_jq_note (&q, 3, 1100, 500), 0);
  assert_int_equal (mu_jq_pending (&q), 2);
  assert_int_equal (mu_jq_next_due (&q), 1500);
  /* A round that closes within the delay: nothing was due. */
  assert_int_equal (mu_jq_pop_due (&q, 1499, &k), 0);
  mu_jq_clear (&q);
  assert_int_equal (mu_jq_pending (&q), 0);
  assert_int_equal (mu_jq_next_due (&q), 0);
  assert_int_equal (mu_jq_pop_due (&q, 99999, &k), 0);
  mu_jq_free (&q);
}

static void
test_due_in_join_order_once (void **state)
{
  (void)state;
  mu_join_queue_t q = { 0 };
  uint32_t k;
  assert_int_equal (mu_jq_note (&q, 7, 1000, 500), 0);
  assert_int_equal (mu_jq_note (&q, 3, 1100, 500), 0);
  assert_int_equal (mu_jq_note (&q, 9, 1200, 500), 0);
  assert_int_equal (mu_jq_pop_due (&q, 1600, &k), 1);
  assert_int_equal (k, 7);
  assert_int_equal (mu_jq_pop_due (&q, 1600, &k), 1);
  assert_int_equal (k, 3);
  assert_int_equal (mu_jq_pop_due (&q, 1600, &k), 0); /* 9: at 1700 */
  assert_int_equal (mu_jq_next_due (&q), 1700);
  assert_int_equal (mu_jq_pop_due (&q, 1700, &k), 1);
  assert_int_equal (k, 9);
  assert_int_equal (mu_jq_pop_due (&q, 5000, &k), 0); /* each once */
  assert_int_equal (mu_jq_pending (&q), 0);
  mu_jq_free (&q);
}

static void
test_clock_back_stays_fifo (void **state)
{
  (void)state;
  mu_join_queue_t q = { 0 };
  uint32_t k;
  assert_int_equal (mu_jq_note (&q, 1, 1000, 500), 0);
  assert_int_equal (mu_jq_note (&q, 2, 900, 500), 0); /* raised to 1500 */
  assert_int_equal (mu_jq_pop_due (&q, 1499, &k), 0);
  assert_int_equal (mu_jq_pop_due (&q, 1500, &k), 1);
  assert_int_equal (k, 1);
  assert_int_equal (mu_jq_pop_due (&q, 1500, &k), 1);
  assert_int_equal (k, 2);
  mu_jq_free (&q);
}

/* Many joins, half of them popped as they fall due while more come: the
 * order holds, nothing is lost or repeated, and the array stays bounded
 * by what is pending (compaction), not by all notes ever made. */
static void
test_many_with_compaction (void **state)
{
  (void)state;
  mu_join_queue_t q = { 0 };
  uint32_t next_out = 0, k;
  for (uint32_t i = 0; i < 100000; i++)
    {
      assert_int_equal (mu_jq_note (&q, i, 10 + i, 100), 0);
      while (mu_jq_pop_due (&q, 10 + i, &k))
        assert_int_equal (k, next_out++);
    }
  assert_int_equal (next_out, 100000 - 100); /* the last 100 not yet due */
  assert_int_equal (mu_jq_pending (&q), 100);
  assert_true (q.cap <= 1024);
  while (mu_jq_pop_due (&q, UINT64_MAX / 2, &k))
    assert_int_equal (k, next_out++);
  assert_int_equal (next_out, 100000);
  mu_jq_free (&q);
  assert_null (q.v);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_nothing_due_before_delay),
    cmocka_unit_test (test_due_in_join_order_once),
    cmocka_unit_test (test_clock_back_stays_fifo),
    cmocka_unit_test (test_many_with_compaction),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
