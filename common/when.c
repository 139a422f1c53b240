/*
 * when.c — wall-clock times and ages for people (see when.h).  The resume
 * notice of `muster run` and the CKPT column of `muster status` say when
 * a checkpoint was written both ways: the stamp to match against logs, the
 * age to see at a glance whether it is the run you think.
 */
#include "common/when.h"

#include <stdio.h>
#include <time.h>

const char *
mu_when_stamp (uint64_t us, char *buf, size_t cap)
{
  time_t t = (time_t)(us / 1000000u);
  struct tm tm;
  if (cap == 0)
    return buf;
  if (localtime_r (&t, &tm) == NULL
      || strftime (buf, cap, "%Y-%m-%d %H:%M:%S", &tm) == 0)
    snprintf (buf, cap, "?");
  return buf;
}

const char *
mu_when_age (uint64_t us, uint64_t now_us, char *buf, size_t cap)
{
  if (cap == 0)
    return buf;
  if (us > now_us + 1000000u)
    {
      snprintf (buf, cap, "in the future");
      return buf;
    }
  uint64_t s = us >= now_us ? 0 : (now_us - us) / 1000000u;
  if (s < 1)
    snprintf (buf, cap, "just now");
  else if (s < 60)
    snprintf (buf, cap, "%llu s ago", (unsigned long long)s);
  else if (s < 3600)
    snprintf (buf, cap, "%llu min ago", (unsigned long long)(s / 60));
  else if (s < 2 * 86400)
    {
      uint64_t m = (s % 3600) / 60;
      if (m)
        snprintf (buf, cap, "%llu h %llu min ago",
                  (unsigned long long)(s / 3600), (unsigned long long)m);
      else
        snprintf (buf, cap, "%llu h ago", (unsigned long long)(s / 3600));
    }
  else
    snprintf (buf, cap, "%llu days ago", (unsigned long long)(s / 86400));
  return buf;
}

const char *
mu_when_text (uint64_t us, uint64_t now_us, char *buf, size_t cap)
{
  char stamp[64], age[64];
  mu_when_stamp (us, stamp, sizeof stamp);
  mu_when_age (us, now_us, age, sizeof age);
  if (cap > 0)
    snprintf (buf, cap, "%s, %s", stamp, age);
  return buf;
}
