/*
 * bucket_plan.c — the moves of a live bucket migration (see bucket_plan.h).
 *
 * Both maps are canonical contiguous layouts, so the plan is a merge of
 * two sorted lists of ranges: walk the bucket line once, cutting it at
 * every old and every new range boundary; each piece has one old owner and
 * one new owner, and a piece whose owners differ is a move (adjacent
 * pieces with the same pair are joined).  O(nold + nnew) pieces after an
 * O(n log n) duplicate check.
 */
#include "checkpoint/bucket_plan.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <muster/error.h>

#include "checkpoint/buckets.h"

static int
cmp_u64 (const void *a, const void *b)
{
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* 1 if some identity appears twice; -ENOMEM if it cannot tell. */
static int
has_dup (const uint64_t *ids, size_t n)
{
  if (n < 2)
    return 0;
  uint64_t *s = malloc (n * sizeof *s);
  if (s == NULL)
    return -ENOMEM;
  memcpy (s, ids, n * sizeof *s);
  qsort (s, n, sizeof *s, cmp_u64);
  int dup = 0;
  for (size_t i = 1; i < n && !dup; i++)
    dup = s[i] == s[i - 1];
  free (s);
  return dup;
}

static uint64_t
end_of (uint64_t nb, size_t p, size_t i)
{
  uint64_t first = 0, count = 0;
  mu_buckets_owned (nb, p, i, &first, &count);
  return first + count;
}

int
mu_bucket_plan (uint64_t nbuckets, const uint64_t *old_ids, size_t nold,
                const uint64_t *new_ids, size_t nnew,
                mu_bucket_move_t **moves, size_t *nmoves)
{
  if (moves == NULL || nmoves == NULL || nbuckets == 0 || nnew == 0
      || new_ids == NULL || (nold > 0 && old_ids == NULL))
    return MUSTER_EINVAL;
  *moves = NULL;
  *nmoves = 0;
  int d1 = has_dup (old_ids, nold), d2 = has_dup (new_ids, nnew);
  if (d1 < 0 || d2 < 0)
    return -ENOMEM;
  if (d1 || d2)
    return MUSTER_EINVAL;
  if (nold == 0)
    return 0;
  size_t cap = nold + nnew, n = 0;
  mu_bucket_move_t *v = malloc (cap * sizeof *v);
  if (v == NULL)
    return -ENOMEM;
  size_t i = 0, k = 0; /* old and new server of the current piece */
  uint64_t at = 0;
  while (at < nbuckets)
    {
      uint64_t oe = end_of (nbuckets, nold, i), ne = end_of (nbuckets, nnew, k);
      if (oe <= at)
        {
          i++; /* an old server with no bucket (nb < P) */
          continue;
        }
      if (ne <= at)
        {
          k++;
          continue;
        }
      uint64_t end = oe < ne ? oe : ne;
      if (old_ids[i] != new_ids[k])
        {
          if (n > 0 && v[n - 1].from == i && v[n - 1].to == k
              && v[n - 1].first + v[n - 1].count == at)
            v[n - 1].count += end - at;
          else
            v[n++] = (mu_bucket_move_t){ at, end - at, i, k };
        }
      at = end;
    }
  if (n == 0)
    {
      free (v);
      return 0;
    }
  *moves = v;
  *nmoves = n;
  return 0;
}
