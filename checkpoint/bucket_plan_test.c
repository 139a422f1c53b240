/*
 * bucket_plan_test.c — the moves of a live bucket migration.
 *
 * Worked cases (2 -> 3, 3 -> 2 with the middle or the last server leaving,
 * survivors re-ranked, a replaced server, no change) check exact moves;
 * the property test draws random bucket counts and random old and new
 * server sets (survivors in any order, newcomers, leavers) and checks that
 * applying the moves to the old map gives the new map, that every bucket
 * ends owned by exactly one server, that the number of buckets moved is
 * exactly the number whose owner changed (no plan for the canonical new
 * layout moves fewer) and that moves are disjoint and in bucket order.
 * Bad input is refused.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <muster/error.h>

#include "checkpoint/bucket_plan.h"
#include "checkpoint/buckets.h"

static void
expect_move (const mu_bucket_move_t *m, uint64_t first, uint64_t count,
             size_t from, size_t to)
{
  assert_int_equal (m->first, first);
  assert_int_equal (m->count, count);
  assert_int_equal (m->from, from);
  assert_int_equal (m->to, to);
}

static void
test_two_to_three (void **state)
{
  (void)state;
  /* [0,6) [6,12) -> [0,4) [4,8) [8,12): 4..6 to the 2nd, 8..12 to the 3rd */
  uint64_t o[] = { 10, 20 }, n[] = { 10, 20, 30 };
  mu_bucket_move_t *m = NULL;
  size_t k = 0;
  assert_int_equal (mu_bucket_plan (12, o, 2, n, 3, &m, &k), 0);
  assert_int_equal (k, 2);
  expect_move (&m[0], 4, 2, 0, 1);
  expect_move (&m[1], 8, 4, 1, 2);
  free (m);
}

static void
test_three_to_two (void **state)
{
  (void)state;
  mu_bucket_move_t *m = NULL;
  size_t k = 0;
  /* the middle one leaves: only its buckets move */
  uint64_t o[] = { 10, 20, 30 }, n1[] = { 10, 30 };
  assert_int_equal (mu_bucket_plan (12, o, 3, n1, 2, &m, &k), 0);
  assert_int_equal (k, 2);
  expect_move (&m[0], 4, 2, 1, 0);
  expect_move (&m[1], 6, 2, 1, 1);
  free (m);
  /* the last one leaves: the survivors shift too */
  uint64_t n2[] = { 10, 20 };
  assert_int_equal (mu_bucket_plan (12, o, 3, n2, 2, &m, &k), 0);
  assert_int_equal (k, 2);
  expect_move (&m[0], 4, 2, 1, 0);
  expect_move (&m[1], 8, 4, 2, 1);
  free (m);
}

static void
test_same_and_replaced (void **state)
{
  (void)state;
  mu_bucket_move_t *m = NULL;
  size_t k = 7;
  uint64_t o[] = { 1, 2, 3 };
  assert_int_equal (mu_bucket_plan (100, o, 3, o, 3, &m, &k), 0);
  assert_int_equal (k, 0);
  assert_null (m);
  /* first epoch: nothing to move from */
  assert_int_equal (mu_bucket_plan (100, NULL, 0, o, 3, &m, &k), 0);
  assert_int_equal (k, 0);
  /* server 2 replaced by a new process 9: its whole range moves */
  uint64_t n[] = { 1, 9, 3 };
  assert_int_equal (mu_bucket_plan (100, o, 3, n, 3, &m, &k), 0);
  assert_int_equal (k, 1);
  expect_move (&m[0], 33, 33, 1, 1);
  free (m);
  /* re-ranked survivors: new rank 0 is the old rank 1 and takes [0,50)
   * from old rank 0, which as new rank 1 takes [50,100) */
  uint64_t sw[] = { 2, 1 }, two[] = { 1, 2 };
  assert_int_equal (mu_bucket_plan (100, two, 2, sw, 2, &m, &k), 0);
  assert_int_equal (k, 2);
  expect_move (&m[0], 0, 50, 0, 0);
  expect_move (&m[1], 50, 50, 1, 1);
  free (m);
}

static void
test_bad_input (void **state)
{
  (void)state;
  mu_bucket_move_t *m = NULL;
  size_t k = 0;
  uint64_t o[] = { 1, 2 }, dup[] = { 3, 3 };
  assert_int_equal (mu_bucket_plan (0, o, 2, o, 2, &m, &k), MUSTER_EINVAL);
  assert_int_equal (mu_bucket_plan (8, o, 2, o, 0, &m, &k), MUSTER_EINVAL);
  assert_int_equal (mu_bucket_plan (8, o, 2, dup, 2, &m, &k), MUSTER_EINVAL);
  assert_int_equal (mu_bucket_plan (8, dup, 2, o, 2, &m, &k), MUSTER_EINVAL);
  assert_int_equal (mu_bucket_plan (8, NULL, 2, o, 2, &m, &k), MUSTER_EINVAL);
  assert_int_equal (mu_bucket_plan (8, o, 2, o, 2, NULL, &k), MUSTER_EINVAL);
}

static uint64_t
rnd (uint64_t *s)
{
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

/* owner[b] = identity owning bucket b in the canonical map over ids. */
static void
fill_map (uint64_t nb, const uint64_t *ids, size_t p, uint64_t *owner)
{
  for (size_t i = 0; i < p; i++)
    {
      uint64_t f, c;
      assert_int_equal (mu_buckets_owned (nb, p, i, &f, &c), 0);
      for (uint64_t b = f; b < f + c; b++)
        owner[b] = ids[i];
    }
}

static void
test_property (void **state)
{
  (void)state;
  uint64_t seed = 88172645463325252ull;
  for (int iter = 0; iter < 3000; iter++)
    {
      uint64_t nb = 1 + rnd (&seed) % (iter % 2 ? 40 : 3000);
      size_t nold = 1 + rnd (&seed) % 9, nnew = 1 + rnd (&seed) % 9;
      uint64_t old_ids[9], new_ids[9];
      for (size_t i = 0; i < nold; i++)
        old_ids[i] = 100 + i;
      /* new set: survivors drawn from the old (any order), then newcomers */
      size_t used[9] = { 0 };
      for (size_t k = 0; k < nnew; k++)
        {
          size_t i = rnd (&seed) % nold;
          if (rnd (&seed) % 3 != 0 && !used[i])
            {
              used[i] = 1;
              new_ids[k] = old_ids[i];
            }
          else
            new_ids[k] = 1000 + k;
        }
      uint64_t *map = malloc (nb * sizeof *map);
      uint64_t *want = malloc (nb * sizeof *want);
      unsigned char *seen = calloc (nb, 1);
      assert_non_null (map);
      assert_non_null (want);
      assert_non_null (seen);
      fill_map (nb, old_ids, nold, map);
      fill_map (nb, new_ids, nnew, want);
      uint64_t changed = 0;
      for (uint64_t b = 0; b < nb; b++)
        changed += map[b] != want[b];
      mu_bucket_move_t *m = NULL;
      size_t k = 0;
      assert_int_equal (mu_bucket_plan (nb, old_ids, nold, new_ids, nnew, &m, &k), 0);
      uint64_t moved = 0, prev_end = 0;
      for (size_t i = 0; i < k; i++)
        {
          assert_true (m[i].count > 0);
          assert_true (m[i].first >= prev_end); /* disjoint, in order */
          prev_end = m[i].first + m[i].count;
          assert_true (prev_end <= nb);
          assert_true (m[i].from < nold && m[i].to < nnew);
          for (uint64_t b = m[i].first; b < prev_end; b++)
            {
              assert_int_equal (map[b], old_ids[m[i].from]); /* from owns it */
              map[b] = new_ids[m[i].to];
              seen[b]++;
            }
          moved += m[i].count;
        }
      for (uint64_t b = 0; b < nb; b++)
        {
          assert_int_equal (map[b], want[b]); /* plan(old) == new */
          assert_true (seen[b] <= 1);
        }
      assert_int_equal (moved, changed); /* minimal */
      free (m);
      free (map);
      free (want);
      free (seen);
    }
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_two_to_three),
    cmocka_unit_test (test_three_to_two),
    cmocka_unit_test (test_same_and_replaced),
    cmocka_unit_test (test_bad_input),
    cmocka_unit_test (test_property),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
