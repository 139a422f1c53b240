/*
 * kv_quota.c — the arithmetic of the KV bounds (see kv_quota.h): whether a
 * put fits a job's byte and key limits, the sentence that says why not,
 * the per-node limit on waiting requests, and the size syntax of
 * --kv-max-bytes.  Pure functions, so the unit test covers every branch
 * without a coordinator.
 */
#include "coordinator/kv_quota.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <muster/error.h>

static const char *const units[] = { "bytes", "KiB", "MiB", "GiB", "TiB" };

const char *
mu_kv_fmt_bytes (uint64_t n, char *buf, size_t cap)
{
  if (n < 1024)
    {
      snprintf (buf, cap, "%" PRIu64 " bytes", n);
      return buf;
    }
  double v = (double)n;
  int u = 0;
  while (v >= 1024.0 && u < 4)
    {
      v /= 1024.0;
      u++;
    }
  snprintf (buf, cap, "%.1f %s", v, units[u]);
  return buf;
}

const char *
mu_kv_fmt_limit (uint64_t n, char *buf, size_t cap)
{
  int u = 0;
  uint64_t v = n;
  while (u < 4 && v >= 1024 && v % 1024 == 0)
    {
      v /= 1024;
      u++;
    }
  if (u == 0 && n >= 1024)
    return mu_kv_fmt_bytes (n, buf, cap);
  snprintf (buf, cap, "%" PRIu64 " %s", v, units[u]);
  return buf;
}

int
mu_kv_quota_check (const mu_kv_usage_t *u, uint64_t max_bytes,
                   uint64_t max_keys, const char *job, size_t key_len,
                   int replaces, uint64_t old_len, uint64_t new_len,
                   char *msg, size_t msglen)
{
  char held[32], put[32], lim[32];
  uint64_t add = (uint64_t)key_len + new_len;
  uint64_t drop = replaces ? (uint64_t)key_len + old_len : 0;
  uint64_t after = u->bytes - (drop < u->bytes ? drop : u->bytes);
  if (!replaces && u->keys >= max_keys)
    {
      snprintf (msg, msglen,
                "job %s: KV store holds %" PRIu64 " keys (%s); a new key "
                "would exceed the limit of %" PRIu64 " keys (--kv-max-keys)",
                job, u->keys, mu_kv_fmt_bytes (u->bytes, held, sizeof held),
                max_keys);
      return MUSTER_EQUOTA;
    }
  if (add > max_bytes || after > max_bytes - add)
    {
      snprintf (msg, msglen,
                "job %s: KV store holds %s in %" PRIu64 " keys; this put of "
                "%s%s would exceed the limit of %s (--kv-max-bytes)",
                job, mu_kv_fmt_bytes (u->bytes, held, sizeof held), u->keys,
                mu_kv_fmt_bytes (add, put, sizeof put),
                replaces ? " (replacing a smaller value)" : "",
                mu_kv_fmt_limit (max_bytes, lim, sizeof lim));
      return MUSTER_EQUOTA;
    }
  if (msglen > 0)
    msg[0] = '\0';
  return 0;
}

uint64_t
mu_kv_waiting_limit (uint32_t slots)
{
  return (uint64_t)MU_KV_WAITING_PER_SLOT * slots + MU_KV_WAITING_BASE;
}

int
mu_parse_size (const char *s, uint64_t *out)
{
  if (s == NULL || !isdigit ((unsigned char)*s))
    return MUSTER_EINVAL;
  uint64_t v = 0;
  while (isdigit ((unsigned char)*s))
    {
      uint64_t d = (uint64_t)(*s++ - '0');
      if (v > (UINT64_MAX - d) / 10)
        return MUSTER_EINVAL;
      v = v * 10 + d;
    }
  int shift = 0;
  switch (tolower ((unsigned char)*s))
    {
    case '\0':
      break;
    case 'k':
      shift = 10;
      break;
    case 'm':
      shift = 20;
      break;
    case 'g':
      shift = 30;
      break;
    case 't':
      shift = 40;
      break;
    default:
      return MUSTER_EINVAL;
    }
  if (*s != '\0')
    {
      s++;
      /* "M", "MB", "MiB" (and lower case) all mean 2^20. */
      if (strcasecmp (s, "") != 0 && strcasecmp (s, "b") != 0
          && strcasecmp (s, "ib") != 0)
        return MUSTER_EINVAL;
    }
  if (shift && v > (UINT64_MAX >> shift))
    return MUSTER_EINVAL;
  *out = v << shift;
  return 0;
}
