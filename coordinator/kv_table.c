/*
 * kv_table.c — add, compare-and-set, delete and count on a job's KV map
 * (see kv_table.h), plus the one place a value is stored with its quota
 * charge, so kv.add and kv.cas account exactly as kv.put does.
 */
#include "coordinator/kv_table.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <muster/error.h>

#include "coordinator/kv_quota.h"

int
mu_kv_parse_int (const uint8_t *p, size_t len, int64_t *out)
{
  size_t i = 0;
  bool neg = false;
  if (len > 0 && (p[0] == '-' || p[0] == '+'))
    {
      neg = p[0] == '-';
      i = 1;
    }
  if (i == len)
    return MUSTER_EINVAL;
  /* Accumulate negatively: INT64_MIN has no positive counterpart. */
  int64_t v = 0;
  for (; i < len; i++)
    {
      if (p[i] < '0' || p[i] > '9')
        return MUSTER_EINVAL;
      int d = p[i] - '0';
      if (v < (INT64_MIN + d) / 10)
        return MUSTER_EINVAL;
      v = v * 10 - d;
    }
  if (!neg)
    {
      if (v == INT64_MIN)
        return MUSTER_EINVAL;
      v = -v;
    }
  *out = v;
  return 0;
}

int
mu_kv_table_set (mu_kv_table_t *t, const char *key, const void *val, size_t len,
                 const mu_bin_t **stored, char *msg, size_t msglen)
{
  size_t klen = strlen (key);
  mu_bin_t *old = mu_smap_get (t->map, key);
  mu_kv_usage_t u
      = { .bytes = *t->bytes, .keys = mu_smap_size (t->map) + t->other_keys };
  int rc
      = mu_kv_quota_check (&u, t->max_bytes, t->max_keys, t->job, klen,
                           old != NULL, old ? old->len : 0, len, msg, msglen);
  if (rc != 0)
    return rc;
  mu_bin_t *nv = malloc (sizeof *nv);
  uint8_t *copy = malloc (len ? len : 1);
  if (nv == NULL || copy == NULL)
    {
      free (nv);
      free (copy);
      return -ENOMEM;
    }
  if (len)
    memcpy (copy, val, len);
  nv->ptr = copy;
  nv->len = len;
  void *prev = NULL;
  if (mu_smap_put (t->map, key, nv, &prev) != 0)
    {
      free (copy);
      free (nv);
      return -ENOMEM;
    }
  *t->bytes += klen + len;
  if (prev != NULL)
    {
      *t->bytes -= klen + ((mu_bin_t *)prev)->len;
      free (((mu_bin_t *)prev)->ptr);
      free (prev);
    }
  if (stored != NULL)
    *stored = nv;
  return 0;
}

int
mu_kv_table_add (mu_kv_table_t *t, const char *key, int64_t delta, int64_t *out,
                 const mu_bin_t **stored, char *msg, size_t msglen)
{
  int64_t v = 0;
  const mu_bin_t *old = mu_smap_get (t->map, key);
  if (old != NULL && mu_kv_parse_int (old->ptr, old->len, &v) != 0)
    {
      snprintf (msg, msglen,
                "kv.add: key '%.200s' holds a value of %zu bytes that is not "
                "a decimal integer",
                key, old->len);
      return MUSTER_EINVAL;
    }
  if ((delta > 0 && v > INT64_MAX - delta)
      || (delta < 0 && v < INT64_MIN - delta))
    {
      snprintf (msg, msglen,
                "kv.add: key '%.200s' holds %" PRId64 "; adding %" PRId64
                " overflows a 64-bit integer",
                key, v, delta);
      return MUSTER_EINVAL;
    }
  v += delta;
  char buf[24];
  int n = snprintf (buf, sizeof buf, "%" PRId64, v);
  int rc = mu_kv_table_set (t, key, buf, (size_t)n, stored, msg, msglen);
  if (rc == 0)
    *out = v;
  return rc;
}

static bool
same (const mu_bin_t *a, const mu_bin_t *b)
{
  return a->len == b->len
         && (a->len == 0 || memcmp (a->ptr, b->ptr, a->len) == 0);
}

int
mu_kv_table_cas (mu_kv_table_t *t, const char *key, const mu_bin_t *expected,
                 const mu_bin_t *desired, const mu_bin_t **cur,
                 const mu_bin_t **stored, char *msg, size_t msglen)
{
  *stored = NULL;
  *cur = NULL;
  const mu_bin_t *old = mu_smap_get (t->map, key);
  bool match = old != NULL ? same (old, expected) : expected->len == 0;
  if (!match)
    {
      *cur = old;
      return old != NULL ? 0 : MUSTER_ENOTFOUND;
    }
  int rc = mu_kv_table_set (t, key, desired->ptr, desired->len, stored, msg,
                            msglen);
  if (rc == 0)
    *cur = *stored;
  return rc;
}

int
mu_kv_table_del (mu_kv_table_t *t, const char *key, bool *existed)
{
  mu_bin_t *old = mu_smap_del (t->map, key);
  *existed = old != NULL;
  if (old != NULL)
    {
      uint64_t drop = strlen (key) + old->len;
      *t->bytes -= drop < *t->bytes ? drop : *t->bytes;
      free (old->ptr);
      free (old);
    }
  return 0;
}

uint64_t
mu_kv_table_count (const mu_kv_table_t *t, const char *prefix)
{
  if (prefix == NULL || prefix[0] == '\0')
    return mu_smap_size (t->map);
  size_t plen = strlen (prefix);
  uint64_t n = 0;
  size_t pos = 0;
  const char *key;
  while (mu_smap_next (t->map, &pos, &key, NULL))
    if (strncmp (key, prefix, plen) == 0)
      n++;
  return n;
}
