/*
 * buckets_test.c — PS bucket ranges and restore plans.
 *
 * Ranges tile [0, nb) for any nb and P (divisible or not, nb < P too) and
 * mu_buckets_owner inverts them.  A checkpoint saved with P servers and
 * restored with P' gives plans in which every bucket is read exactly once,
 * from the old shard that held it: 2->3, 3->2, 1->4, 5->3, P->P, and every
 * P, P' up to 64 with nb 4096 and with nb values P does not divide.  Plans
 * ignore non-PS shards and refuse checkpoints whose shards do not tile.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <muster/error.h>

#include "checkpoint/buckets.h"

static void
test_owned (void **state)
{
  (void)state;
  uint64_t nbs[] = { 1, 2, 3, 7, 100, 4096, 4099, 1000003 };
  for (size_t k = 0; k < sizeof nbs / sizeof *nbs; k++)
    for (uint64_t p = 1; p <= 70; p++)
      {
        uint64_t nb = nbs[k], next = 0, minc = UINT64_MAX, maxc = 0;
        for (uint64_t i = 0; i < p; i++)
          {
            uint64_t first, count;
            assert_int_equal (mu_buckets_owned (nb, p, i, &first, &count), 0);
            assert_int_equal (first, next); /* contiguous, in order */
            next += count;
            minc = count < minc ? count : minc;
            maxc = count > maxc ? count : maxc;
            for (uint64_t b = first; b < first + count; b += 1 + count / 7)
              {
                uint64_t owner;
                assert_int_equal (mu_buckets_owner (nb, p, b, &owner), 0);
                assert_int_equal (owner, i);
              }
            if (count)
              {
                uint64_t owner;
                assert_int_equal (
                    mu_buckets_owner (nb, p, first + count - 1, &owner), 0);
                assert_int_equal (owner, i);
              }
          }
        assert_int_equal (next, nb);    /* covers everything */
        assert_true (maxc - minc <= 1); /* balanced */
      }
  uint64_t f, c;
  assert_int_equal (mu_buckets_owned (4096, 2, 0, &f, &c), 0);
  assert_int_equal (f, 0);
  assert_int_equal (c, 2048);
  assert_int_equal (mu_buckets_owned (4096, 3, 1, &f, &c), 0);
  assert_int_equal (f, 1365);
  assert_int_equal (c, 1365);
  assert_int_equal (mu_buckets_owned (4096, 3, 2, &f, &c), 0);
  assert_int_equal (f, 2730);
  assert_int_equal (c, 1366);
  assert_int_equal (mu_buckets_owned (4096, 0, 0, &f, &c), MUSTER_EINVAL);
  assert_int_equal (mu_buckets_owned (4096, 3, 3, &f, &c), MUSTER_EINVAL);
  assert_int_equal (mu_buckets_owner (4096, 3, 4096, &f), MUSTER_EINVAL);
  assert_int_equal (mu_buckets_owner (4096, 0, 1, &f), MUSTER_EINVAL);
  /* Huge values do not overflow. */
  assert_int_equal (
      mu_buckets_owned (UINT64_MAX, UINT64_MAX - 1, UINT64_MAX - 2, &f, &c), 0);
  assert_true (f + c == UINT64_MAX);
  assert_int_equal (mu_buckets_owner (UINT64_MAX, 3, UINT64_MAX - 1, &f), 0);
  assert_int_equal (f, 2);
}

/* A checkpoint of a job with `nworkers` plain workers (ranks first) and
 * `p` parameter servers holding nb buckets. */
typedef struct ckpt
{
  mu_ckpt_manifest_t m;
  mu_shard_info_t *shards;
  char (*files)[32];
} ckpt_t;

static void
ckpt_make (ckpt_t *c, uint64_t nb, uint64_t p, uint64_t nworkers)
{
  memset (c, 0, sizeof *c);
  uint64_t world = p + nworkers;
  c->shards = calloc (world, sizeof *c->shards);
  c->files = calloc (world, sizeof *c->files);
  assert_non_null (c->shards);
  assert_non_null (c->files);
  for (uint64_t r = 0; r < world; r++)
    {
      mu_shard_info_t *s = &c->shards[r];
      s->rank = r;
      s->file = c->files[r];
      if (r < nworkers)
        {
          s->role = "worker";
          s->role_rank = r;
          snprintf (c->files[r], 32, "worker-%llu", (unsigned long long)r);
        }
      else
        {
          uint64_t i = r - nworkers;
          s->role = "ps";
          s->role_rank = i;
          snprintf (c->files[r], 32, "ps-%llu", (unsigned long long)i);
          assert_int_equal (
              mu_buckets_owned (nb, p, i, &s->bucket_first, &s->bucket_count),
              0);
        }
    }
  c->m.job = "j";
  c->m.world = world;
  c->m.nbuckets = nb;
  c->m.shards.v = c->shards;
  c->m.shards.n = world;
}

static void
ckpt_free (ckpt_t *c)
{
  free (c->shards);
  free (c->files);
}

/* Restore a P-server checkpoint on P' servers and check every bucket is
 * read once, from the shard that held it, at the right offset. */
static void
check_restore (uint64_t nb, uint64_t p, uint64_t p2, uint64_t nworkers)
{
  ckpt_t c;
  ckpt_make (&c, nb, p, nworkers);
  uint8_t *seen = calloc (nb, 1);
  assert_non_null (seen);
  for (uint64_t i = 0; i < p2; i++)
    {
      mu_bucket_slice_t *sl = NULL;
      size_t n = 0;
      assert_int_equal (mu_buckets_restore_plan (&c.m, p2, i, &sl, &n), 0);
      uint64_t first, count;
      assert_int_equal (mu_buckets_owned (nb, p2, i, &first, &count), 0);
      if (count == 0)
        {
          assert_int_equal (n, 0);
          assert_null (sl);
          continue;
        }
      uint64_t next = first;
      for (size_t k = 0; k < n; k++)
        {
          const mu_shard_info_t *s = sl[k].shard;
          assert_true (s >= c.shards && s < c.shards + c.m.world);
          assert_true (s->bucket_count > 0);           /* a PS shard */
          assert_int_equal (sl[k].bucket_first, next); /* in order, no gap */
          assert_true (sl[k].bucket_count > 0);
          assert_true (sl[k].bucket_first >= s->bucket_first);
          assert_true (sl[k].bucket_first + sl[k].bucket_count
                       <= s->bucket_first + s->bucket_count);
          assert_int_equal (sl[k].offset, sl[k].bucket_first - s->bucket_first);
          for (uint64_t b = sl[k].bucket_first;
               b < sl[k].bucket_first + sl[k].bucket_count; b++)
            {
              uint64_t old;
              assert_int_equal (mu_buckets_owner (nb, p, b, &old), 0);
              assert_int_equal (s->rank, nworkers + old);
              assert_int_equal (seen[b], 0);
              seen[b] = 1;
            }
          next += sl[k].bucket_count;
        }
      assert_int_equal (next, first + count);
      free (sl);
    }
  for (uint64_t b = 0; b < nb; b++)
    assert_int_equal (seen[b], 1);
  free (seen);
  ckpt_free (&c);
}

static void
test_restore_named_cases (void **state)
{
  (void)state;
  check_restore (4096, 2, 3, 0);
  check_restore (4096, 3, 2, 0);
  check_restore (4096, 1, 4, 0);
  check_restore (4096, 5, 3, 0);
  check_restore (4096, 4, 4, 2);
  check_restore (4099, 2, 3, 1);
  check_restore (7, 3, 5, 0);
  check_restore (3, 2, 8, 0); /* more servers than buckets */
  check_restore (3, 8, 2, 0); /* old servers that held nothing */

  /* 2 -> 3 by hand: server 1 of 3 owns [1365, 2730): the end of ps-0 and
   * the start of ps-1. */
  ckpt_t c;
  ckpt_make (&c, 4096, 2, 0);
  mu_bucket_slice_t *sl = NULL;
  size_t n = 0;
  assert_int_equal (mu_buckets_restore_plan (&c.m, 3, 1, &sl, &n), 0);
  assert_int_equal (n, 2);
  assert_string_equal (sl[0].shard->file, "ps-0");
  assert_int_equal (sl[0].bucket_first, 1365);
  assert_int_equal (sl[0].bucket_count, 2048 - 1365);
  assert_int_equal (sl[0].offset, 1365);
  assert_string_equal (sl[1].shard->file, "ps-1");
  assert_int_equal (sl[1].bucket_first, 2048);
  assert_int_equal (sl[1].bucket_count, 2730 - 2048);
  assert_int_equal (sl[1].offset, 0);
  free (sl);
  ckpt_free (&c);
}

/* Every P, P' in 1..64 over 4096 buckets; then random P, P' up to 64 over
 * bucket counts most P do not divide (4099 is prime, 1000, random). */
static void
test_restore_all_pairs (void **state)
{
  (void)state;
  for (uint64_t p = 1; p <= 64; p++)
    for (uint64_t p2 = 1; p2 <= 64; p2++)
      check_restore (4096, p, p2, (p + p2) % 3);
  uint64_t seed = 0xC0FFEE;
  for (int k = 0; k < 400; k++)
    {
      seed = seed * 6364136223846793005ull + 1442695040888963407ull;
      uint64_t r = seed >> 20;
      uint64_t nb = k % 3 == 0 ? 4099 : k % 3 == 1 ? 1000 : 1 + r % 5000;
      check_restore (nb, 1 + r % 64, 1 + (r >> 8) % 64, (r >> 16) % 3);
    }
}

static void
test_restore_refuses (void **state)
{
  (void)state;
  ckpt_t c;
  ckpt_make (&c, 100, 3, 1);
  mu_bucket_slice_t *sl = NULL;
  size_t n = 0;
  char err[200];
  assert_int_equal (mu_buckets_check (&c.m, err, sizeof err), 0);
  assert_int_equal (mu_buckets_restore_plan (&c.m, 0, 0, &sl, &n),
                    MUSTER_EINVAL);
  assert_int_equal (mu_buckets_restore_plan (&c.m, 2, 2, &sl, &n),
                    MUSTER_EINVAL);
  assert_int_equal (mu_buckets_restore_plan (NULL, 2, 0, &sl, &n),
                    MUSTER_EINVAL);
  /* Shards listed out of bucket order are fine. */
  mu_shard_info_t t = c.shards[1];
  c.shards[1] = c.shards[3];
  c.shards[3] = t;
  assert_int_equal (mu_buckets_check (&c.m, err, sizeof err), 0);
  assert_int_equal (mu_buckets_restore_plan (&c.m, 1, 0, &sl, &n), 0);
  assert_int_equal (n, 3);
  assert_int_equal (sl[0].bucket_first, 0);
  assert_int_equal (sl[2].bucket_first + sl[2].bucket_count, 100);
  free (sl);
  c.shards[3] = c.shards[1];
  c.shards[1] = t;
  /* A gap, an overlap, a short tail, no buckets at all. */
  c.shards[2].bucket_first++;
  assert_int_equal (mu_buckets_restore_plan (&c.m, 2, 0, &sl, &n),
                    MUSTER_EINVAL);
  assert_int_equal (mu_buckets_check (&c.m, err, sizeof err), MUSTER_EINVAL);
  assert_non_null (strstr (err, "no shard holds bucket 33"));
  c.shards[2].bucket_first -= 2;
  assert_int_equal (mu_buckets_check (&c.m, err, sizeof err), MUSTER_EINVAL);
  assert_non_null (strstr (err, "more than one"));
  c.shards[2].bucket_first++;
  c.m.nbuckets = 101;
  assert_int_equal (mu_buckets_check (&c.m, err, sizeof err), MUSTER_EINVAL);
  c.m.nbuckets = 0;
  assert_int_equal (mu_buckets_restore_plan (&c.m, 2, 0, &sl, &n),
                    MUSTER_EINVAL);
  assert_null (sl);
  ckpt_free (&c);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_owned),
    cmocka_unit_test (test_restore_named_cases),
    cmocka_unit_test (test_restore_all_pairs),
    cmocka_unit_test (test_restore_refuses),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
