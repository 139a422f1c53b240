/*
 * rl_util.c — the small helpers every simulated-agent benchmark shares
 * (rdzv_load, many_jobs; declared in rdzv_load.h): the monotonic clock in
 * microseconds, progress and fatal messages named after the program, and
 * this process's CPU time.  One copy, so the programs print alike.
 */
#include "bench/rdzv_load.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

int rl_verbose;
const char *rl_prog = "bench";

uint64_t
rl_now_us (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

double
rl_ms (uint64_t us)
{
  return (double)us / 1000.0;
}

void
rl_note (const char *fmt, ...)
{
  if (!rl_verbose)
    return;
  va_list ap;
  va_start (ap, fmt);
  fprintf (stderr, "%s: ", rl_prog);
  vfprintf (stderr, fmt, ap);
  fputc ('\n', stderr);
  va_end (ap);
}

void
rl_die (const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  fprintf (stderr, "%s: ", rl_prog);
  vfprintf (stderr, fmt, ap);
  fputc ('\n', stderr);
  va_end (ap);
  exit (1);
}

double
rl_self_cpu_s (void)
{
  struct rusage ru;
  getrusage (RUSAGE_SELF, &ru);
  return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec)
         + (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}
