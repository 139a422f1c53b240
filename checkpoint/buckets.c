/*
 * buckets.c — hash-bucket ranges of parameter servers and restore plans.
 *
 * DESIGN.  Ranges use floor(i*nb/P) computed in 128 bits, so any nb and P
 * up to 2^64-1 are exact.  The owner of bucket b is the largest i with
 * floor(i*nb/P) <= b, which is floor(((b+1)*P - 1) / nb).  A restore plan
 * sorts the old PS shards by first bucket (the tiling check has shown they
 * are disjoint and gap-free), finds the one holding the new range's first
 * bucket by binary search and walks forward: O(s log s) for s old shards,
 * output in bucket order.
 */
#include "checkpoint/buckets.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <muster/error.h>

typedef unsigned __int128 u128;

static uint64_t
range_start (uint64_t nb, uint64_t nps, uint64_t i)
{
  return (uint64_t)(((u128)i * nb) / nps);
}

int
mu_buckets_owned (uint64_t nbuckets, uint64_t nps, uint64_t i, uint64_t *first,
                  uint64_t *count)
{
  if (nps == 0 || i >= nps || !first || !count)
    return MUSTER_EINVAL;
  uint64_t a = range_start (nbuckets, nps, i);
  uint64_t b = range_start (nbuckets, nps, i + 1);
  *first = a;
  *count = b - a;
  return 0;
}

int
mu_buckets_owner (uint64_t nbuckets, uint64_t nps, uint64_t bucket,
                  uint64_t *ps)
{
  if (nps == 0 || bucket >= nbuckets || !ps)
    return MUSTER_EINVAL;
  *ps = (uint64_t)((((u128)bucket + 1) * nps - 1) / nbuckets);
  return 0;
}

typedef struct ps_ref
{
  uint64_t first;
  size_t idx;
} ps_ref_t;

static int
cmp_ref (const void *a, const void *b)
{
  const ps_ref_t *x = a, *y = b;
  if (x->first != y->first)
    return x->first < y->first ? -1 : 1;
  return (x->idx > y->idx) - (x->idx < y->idx);
}

/* The PS shards of m (bucket_count > 0) sorted by first bucket, as indices
 * into m->shards.  *out is malloc'd (NULL when *n is 0). */
static int
ps_shards (const mu_ckpt_manifest_t *m, size_t **out, size_t *n)
{
  size_t k = 0;
  for (size_t i = 0; i < m->shards.n; i++)
    k += m->shards.v[i].bucket_count > 0;
  *out = NULL;
  *n = k;
  if (k == 0)
    return 0;
  ps_ref_t *refs = malloc (k * sizeof *refs);
  size_t *idx = malloc (k * sizeof *idx);
  if (!refs || !idx)
    {
      free (refs);
      free (idx);
      return -ENOMEM;
    }
  k = 0;
  for (size_t i = 0; i < m->shards.n; i++)
    if (m->shards.v[i].bucket_count > 0)
      refs[k++] = (ps_ref_t){ m->shards.v[i].bucket_first, i };
  qsort (refs, k, sizeof *refs, cmp_ref);
  for (size_t j = 0; j < k; j++)
    idx[j] = refs[j].idx;
  free (refs);
  *out = idx;
  return 0;
}

int
mu_buckets_check (const mu_ckpt_manifest_t *m, char *err, size_t errlen)
{
  if (err && errlen)
    err[0] = '\0';
  if (!m)
    return MUSTER_EINVAL;
  size_t *idx = NULL, k = 0;
  int rc = ps_shards (m, &idx, &k);
  if (rc)
    return rc;
  if (m->nbuckets == 0)
    {
      free (idx);
      if (k == 0)
        return 0;
      if (err && errlen)
        snprintf (err, errlen, "shards hold buckets but nbuckets is 0");
      return MUSTER_EINVAL;
    }
  uint64_t next = 0;
  for (size_t j = 0; j < k && rc == 0; j++)
    {
      const mu_shard_info_t *s = &m->shards.v[idx[j]];
      if (s->bucket_first != next)
        {
          rc = MUSTER_EINVAL;
          if (err && errlen)
            snprintf (err, errlen, "%s bucket %llu (rank %llu starts at %llu)",
                      s->bucket_first > next ? "no shard holds"
                                             : "more than one shard holds",
                      (unsigned long long)(s->bucket_first > next
                                               ? next
                                               : s->bucket_first),
                      (unsigned long long)s->rank,
                      (unsigned long long)s->bucket_first);
        }
      else if (s->bucket_count > m->nbuckets - next)
        {
          rc = MUSTER_EINVAL;
          if (err && errlen)
            snprintf (
                err, errlen, "rank %llu holds buckets beyond nbuckets %llu",
                (unsigned long long)s->rank, (unsigned long long)m->nbuckets);
        }
      else
        next += s->bucket_count;
    }
  if (rc == 0 && next != m->nbuckets)
    {
      rc = MUSTER_EINVAL;
      if (err && errlen)
        snprintf (err, errlen, "no shard holds bucket %llu of %llu",
                  (unsigned long long)next, (unsigned long long)m->nbuckets);
    }
  free (idx);
  return rc;
}

int
mu_buckets_restore_plan (const mu_ckpt_manifest_t *m, uint64_t nps, uint64_t i,
                         mu_bucket_slice_t **out, size_t *n)
{
  if (!m || !out || !n || nps == 0 || i >= nps || m->nbuckets == 0)
    return MUSTER_EINVAL;
  *out = NULL;
  *n = 0;
  int rc = mu_buckets_check (m, NULL, 0);
  if (rc)
    return rc;
  uint64_t a, cnt;
  mu_buckets_owned (m->nbuckets, nps, i, &a, &cnt);
  if (cnt == 0)
    return 0;
  size_t *idx = NULL, k = 0;
  if ((rc = ps_shards (m, &idx, &k)))
    return rc;
  /* Last shard whose first bucket is <= a. */
  size_t lo = 0, hi = k;
  while (hi - lo > 1)
    {
      size_t mid = lo + (hi - lo) / 2;
      if (m->shards.v[idx[mid]].bucket_first <= a)
        lo = mid;
      else
        hi = mid;
    }
  uint64_t end = a + cnt;
  size_t cap = 0;
  for (size_t j = lo; j < k && m->shards.v[idx[j]].bucket_first < end; j++)
    cap++;
  mu_bucket_slice_t *sl = calloc (cap, sizeof *sl);
  if (!sl)
    {
      free (idx);
      return -ENOMEM;
    }
  size_t ns = 0;
  for (size_t j = lo; j < lo + cap; j++)
    {
      const mu_shard_info_t *s = &m->shards.v[idx[j]];
      uint64_t s_end = s->bucket_first + s->bucket_count;
      uint64_t from = s->bucket_first > a ? s->bucket_first : a;
      uint64_t to = s_end < end ? s_end : end;
      sl[ns].shard = s;
      sl[ns].bucket_first = from;
      sl[ns].bucket_count = to - from;
      sl[ns].offset = from - s->bucket_first;
      ns++;
    }
  free (idx);
  *out = sl;
  *n = ns;
  return 0;
}
