/*
 * util.c — clocks, random ids, parsing and path helpers shared by every
 * component (see util.h).  No state: each call stands alone.
 */
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <muster/error.h>

uint64_t
mu_now_ms (void)
{
  return mu_now_us () / 1000;
}

uint64_t
mu_now_us (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t
mu_wall_us (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void
mu_random_hex (char *buf, size_t nbytes)
{
  static const char hex[] = "0123456789abcdef";
  unsigned char raw[64];
  size_t n = nbytes < sizeof raw ? nbytes : sizeof raw;
  size_t got = 0;
  int fd = open ("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if (fd >= 0)
    {
      while (got < n)
        {
          ssize_t r = read (fd, raw + got, n - got);
          if (r <= 0)
            break;
          got += (size_t)r;
        }
      close (fd);
    }
  if (got < n)
    {
      uint64_t x = mu_wall_us () ^ ((uint64_t)getpid () << 32) ^ mu_now_us ();
      for (size_t i = got; i < n; i++)
        {
          x ^= x << 13;
          x ^= x >> 7;
          x ^= x << 17;
          raw[i] = (unsigned char)x;
        }
    }
  for (size_t i = 0; i < n; i++)
    {
      buf[2 * i] = hex[raw[i] >> 4];
      buf[2 * i + 1] = hex[raw[i] & 15];
    }
  buf[2 * n] = '\0';
}

int
mu_parse_u64 (const char *s, uint64_t *out)
{
  if (s == NULL || *s < '0' || *s > '9')
    return MUSTER_EINVAL;
  errno = 0;
  char *end = NULL;
  unsigned long long v = strtoull (s, &end, 10);
  if (errno != 0 || end == s || *end != '\0')
    return MUSTER_EINVAL;
  *out = (uint64_t)v;
  return 0;
}

/* One rule for every duration muster reads (flags, --rdzv-conf, config
 * files, the control-port CLI): a bare number is seconds, as in torchrun
 * and Slurm; ms, s, m and h name their unit; fractions are allowed
 * (1.5m).  Parsed by hand rather than with strtod, which would also take
 * "1e3", "inf", "0x10" and leading blanks. */
int
mu_parse_duration_ms (const char *s, uint64_t *out)
{
  if (s == NULL)
    return MUSTER_EINVAL;
  const char *p = s;
  double v = 0, scale = 1;
  int digits = 0;
  for (; *p >= '0' && *p <= '9'; p++, digits++)
    {
      v = v * 10 + (*p - '0');
      if (v > 1e15)
        return MUSTER_EINVAL;
    }
  if (*p == '.')
    for (p++; *p >= '0' && *p <= '9'; p++, digits++)
      {
        scale /= 10;
        v += (*p - '0') * scale;
      }
  if (digits == 0)
    return MUSTER_EINVAL;
  double mult;
  if (*p == '\0' || strcmp (p, "s") == 0)
    mult = 1000;
  else if (strcmp (p, "ms") == 0)
    mult = 1;
  else if (strcmp (p, "m") == 0)
    mult = 60000;
  else if (strcmp (p, "h") == 0)
    mult = 3600000;
  else
    return MUSTER_EINVAL;
  double ms = v * mult;
  if (ms > 1e15)
    return MUSTER_EINVAL;
  *out = (uint64_t)(ms + 0.5);
  return 0;
}

int
mu_duration_error (char *err, size_t errlen, const char *what, const char *s)
{
  snprintf (err, errlen, "%s: '%s' is not a duration: %s", what,
            s ? s : "", MU_DURATION_FORMS);
  return MUSTER_EINVAL;
}

int
mu_strlcpy (char *dst, const char *src, size_t size)
{
  size_t n = strlen (src);
  if (size == 0)
    return MUSTER_ETOOBIG;
  if (n >= size)
    {
      memcpy (dst, src, size - 1);
      dst[size - 1] = '\0';
      return MUSTER_ETOOBIG;
    }
  memcpy (dst, src, n + 1);
  return 0;
}

int
mu_self_dir (char *buf, size_t size)
{
  ssize_t n = readlink ("/proc/self/exe", buf, size - 1);
  if (n < 0)
    return -errno;
  if ((size_t)n >= size - 1)
    return -ENAMETOOLONG;
  buf[n] = '\0';
  char *slash = strrchr (buf, '/');
  if (slash == NULL)
    return -ENOENT;
  if (slash == buf)
    slash[1] = '\0';
  else
    *slash = '\0';
  return 0;
}
