/*
 * ctl_format.c — table cells of the control commands (ctl_format.h).
 */
#include "launcher/ctl_format.h"

#include <stdio.h>
#include <string.h>

const char *
mu_ctl_fmt_age (uint64_t ms, char *buf, size_t cap)
{
  uint64_t s = ms / 1000;
  if (ms < 1000)
    snprintf (buf, cap, "%llums", (unsigned long long)ms);
  else if (s < 60)
    snprintf (buf, cap, "%llus", (unsigned long long)s);
  else if (s < 3600)
    snprintf (buf, cap, "%llum%02llus", (unsigned long long)(s / 60),
              (unsigned long long)(s % 60));
  else if (s < 86400)
    snprintf (buf, cap, "%lluh%02llum", (unsigned long long)(s / 3600),
              (unsigned long long)(s % 3600 / 60));
  else
    snprintf (buf, cap, "%llud%02lluh", (unsigned long long)(s / 86400),
              (unsigned long long)(s % 86400 / 3600));
  return buf;
}

/* Append to buf (used bytes in *at); 0, or -1 when it did not fit. */
static int
put (char *buf, size_t cap, size_t *at, const char *s)
{
  size_t n = strlen (s);
  if (*at + n + 1 > cap)
    return -1;
  memcpy (buf + *at, s, n + 1);
  *at += n;
  return 0;
}

const char *
mu_ctl_fmt_ranks (const mu_rank_info_t *r, size_t n, char *buf, size_t cap)
{
  size_t at = 0;
  if (cap == 0)
    return buf;
  buf[0] = '\0';
  for (size_t i = 0; i < n;)
    {
      size_t j = i;
      while (j + 1 < n && r[j + 1].rank == r[j].rank + 1)
        j++;
      char one[48];
      if (j == i)
        snprintf (one, sizeof one, "%s%llu", i ? "," : "",
                  (unsigned long long)r[i].rank);
      else
        snprintf (one, sizeof one, "%s%llu-%llu", i ? "," : "",
                  (unsigned long long)r[i].rank, (unsigned long long)r[j].rank);
      if (put (buf, cap, &at, one) != 0)
        break;
      i = j + 1;
    }
  return buf;
}

const char *
mu_ctl_fmt_pids (const mu_rank_info_t *r, size_t n, char *buf, size_t cap)
{
  size_t at = 0;
  if (cap == 0)
    return buf;
  buf[0] = '\0';
  for (size_t i = 0; i < n; i++)
    {
      char one[32];
      if (r[i].pid)
        snprintf (one, sizeof one, "%s%llu", i ? "," : "",
                  (unsigned long long)r[i].pid);
      else
        snprintf (one, sizeof one, "%s-", i ? "," : "");
      if (put (buf, cap, &at, one) != 0)
        {
          if (cap >= 4)
            {
              size_t k = at + 4 <= cap ? at : cap - 4;
              memcpy (buf + k, "...", 4);
            }
          break;
        }
    }
  return buf;
}
