/*
 * liveness_test.c — the silent-longest order: the head is the node heard
 * from least recently; a touch moves a node to the tail; only nodes past
 * the limit come out; removal from the head, middle and tail; times that
 * go backwards; a stall's refresh; growth past the first capacity; and a
 * randomised check against a brute-force scan of the same times.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "coordinator/liveness.h"

static void
test_order_and_limit (void **state)
{
  (void)state;
  mu_live_t l = { 0 };
  assert_int_equal (mu_live_reserve (&l, 4), 0);
  uint32_t k;
  assert_int_equal (mu_live_expired (&l, 1000, 10, &k), 0); /* empty */
  mu_live_touch (&l, 0, 100);
  mu_live_touch (&l, 1, 110);
  mu_live_touch (&l, 2, 120);
  assert_int_equal (l.count, 3);
  assert_int_equal (mu_live_expired (&l, 150, 50, &k), 0); /* 50: not past */
  assert_int_equal (mu_live_expired (&l, 151, 50, &k), 1);
  assert_int_equal (k, 0);
  /* Node 0 is heard from: node 1 is now the silent-longest. */
  mu_live_touch (&l, 0, 151);
  assert_int_equal (mu_live_expired (&l, 161, 50, &k), 1);
  assert_int_equal (k, 1);
  mu_live_remove (&l, 1);
  assert_int_equal (mu_live_expired (&l, 161, 50, &k), 0); /* 2: 41 ms */
  assert_int_equal (mu_live_expired (&l, 171, 50, &k), 1);
  assert_int_equal (k, 2);
  mu_live_remove (&l, 2);
  mu_live_remove (&l, 2); /* absent: no-op */
  assert_int_equal (l.count, 1);
  assert_int_equal (l.head, 0);
  assert_int_equal (l.tail, 0);
  mu_live_remove (&l, 0);
  assert_int_equal (l.count, 0);
  assert_int_equal (mu_live_expired (&l, 10000, 1, &k), 0);
  mu_live_free (&l);
}

static void
test_remove_middle_and_tail (void **state)
{
  (void)state;
  mu_live_t l = { 0 };
  assert_int_equal (mu_live_reserve (&l, 3), 0);
  for (uint32_t i = 0; i < 3; i++)
    mu_live_touch (&l, i, 10 * i);
  mu_live_remove (&l, 1);
  assert_int_equal (l.next[0], 2);
  assert_int_equal (l.prev[2], 0);
  mu_live_remove (&l, 2);
  assert_int_equal (l.tail, 0);
  mu_live_touch (&l, 2, 30);
  mu_live_touch (&l, 2, 40); /* already the tail */
  assert_int_equal (l.count, 2);
  assert_int_equal (l.seen[2], 40);
  uint32_t k;
  assert_int_equal (mu_live_expired (&l, 100, 50, &k), 1);
  assert_int_equal (k, 0);
  mu_live_free (&l);
}

static void
test_time_going_back_keeps_order (void **state)
{
  (void)state;
  mu_live_t l = { 0 };
  assert_int_equal (mu_live_reserve (&l, 2), 0);
  mu_live_touch (&l, 0, 500);
  mu_live_touch (&l, 1, 400); /* earlier than the tail: raised to 500 */
  assert_int_equal (l.seen[1], 500);
  uint32_t k;
  assert_int_equal (mu_live_expired (&l, 601, 100, &k), 1);
  assert_int_equal (k, 0);
  mu_live_free (&l);
}

static void
test_refresh_all (void **state)
{
  (void)state;
  mu_live_t l = { 0 };
  assert_int_equal (mu_live_reserve (&l, 3), 0);
  for (uint32_t i = 0; i < 3; i++)
    mu_live_touch (&l, i, i);
  mu_live_refresh_all (&l, 5000);
  uint32_t k;
  assert_int_equal (mu_live_expired (&l, 5100, 100, &k), 0);
  assert_int_equal (mu_live_expired (&l, 5101, 100, &k), 1);
  mu_live_free (&l);
}

static void
test_grow_keeps_entries (void **state)
{
  (void)state;
  mu_live_t l = { 0 };
  assert_int_equal (mu_live_reserve (&l, 1), 0);
  mu_live_touch (&l, 0, 1);
  mu_live_touch (&l, 5000, 2); /* not reserved: ignored */
  assert_int_equal (l.count, 1);
  assert_int_equal (mu_live_reserve (&l, 10000), 0);
  assert_true (l.cap >= 10000);
  mu_live_touch (&l, 9999, 2);
  assert_int_equal (l.count, 2);
  assert_int_equal (l.head, 0);
  assert_int_equal (l.tail, 9999);
  mu_live_free (&l);
}

/* The head is always a key with the smallest time among those present. */
static void
test_random_against_scan (void **state)
{
  (void)state;
  enum { N = 200 };
  mu_live_t l = { 0 };
  assert_int_equal (mu_live_reserve (&l, N), 0);
  uint64_t t[N];
  int in[N] = { 0 };
  uint64_t now = 0;
  srand (7);
  for (int step = 0; step < 20000; step++)
    {
      uint32_t key = (uint32_t)(rand () % N);
      now += (uint64_t)(rand () % 3);
      if (rand () % 5 == 0)
        {
          mu_live_remove (&l, key);
          in[key] = 0;
        }
      else
        {
          mu_live_touch (&l, key, now);
          t[key] = now;
          in[key] = 1;
        }
      uint64_t min = UINT64_MAX;
      size_t count = 0;
      for (int i = 0; i < N; i++)
        if (in[i])
          {
            count++;
            if (t[i] < min)
              min = t[i];
          }
      assert_int_equal (l.count, count);
      if (count > 0)
        assert_true (t[l.head] == min);
    }
  mu_live_free (&l);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_order_and_limit),
    cmocka_unit_test (test_remove_middle_and_tail),
    cmocka_unit_test (test_time_going_back_keeps_order),
    cmocka_unit_test (test_refresh_all),
    cmocka_unit_test (test_grow_keeps_entries),
    cmocka_unit_test (test_random_against_scan),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
