/*
 * proc_stats.c — /proc readers for the benchmarks (see proc_stats.h).
 */
#define _GNU_SOURCE
#include "bench/proc_stats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

long
ps_status_kb (long pid, const char *field)
{
  char path[64], line[256];
  snprintf (path, sizeof path, "/proc/%ld/status", pid);
  FILE *f = fopen (path, "r");
  if (f == NULL)
    return -1;
  long v = -1;
  size_t fl = strlen (field);
  while (fgets (line, sizeof line, f) != NULL)
    if (strncmp (line, field, fl) == 0 && line[fl] == ':')
      {
        v = atol (line + fl + 1);
        break;
      }
  fclose (f);
  return v;
}

static double stat_cpu_s (const char *path);

double
ps_cpu_s (long pid)
{
  char path[64];
  snprintf (path, sizeof path, "/proc/%ld/stat", pid);
  return stat_cpu_s (path);
}

double
ps_main_thread_cpu_s (long pid)
{
  char path[80];
  snprintf (path, sizeof path, "/proc/%ld/task/%ld/stat", pid, pid);
  return stat_cpu_s (path);
}

/* utime + stime of a /proc stat file, in seconds; -1 if unreadable. */
static double
stat_cpu_s (const char *path)
{
  char buf[2048];
  FILE *f = fopen (path, "r");
  if (f == NULL)
    return -1;
  size_t n = fread (buf, 1, sizeof buf - 1, f);
  fclose (f);
  buf[n] = '\0';
  char *p = strrchr (buf, ')'); /* comm may contain spaces */
  if (p == NULL)
    return -1;
  unsigned long ut = 0, st = 0;
  if (sscanf (p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut,
              &st)
      != 2)
    return -1;
  return (double)(ut + st) / (double)sysconf (_SC_CLK_TCK);
}

int
ps_mem (long pid, ps_mem_t *out)
{
  char path[64], line[512];
  snprintf (path, sizeof path, "/proc/%ld/smaps", pid);
  FILE *f = fopen (path, "r");
  if (f == NULL)
    return -1;
  memset (out, 0, sizeof *out);
  long *cur = &out->other_kb;
  while (fgets (line, sizeof line, f) != NULL)
    {
      unsigned long lo, hi;
      char perms[8];
      int name_at = 0;
      if (sscanf (line, "%lx-%lx %7s %*s %*s %*s %n", &lo, &hi, perms,
                  &name_at)
              == 3
          && name_at > 0)
        {
          const char *name = line + name_at;
          if (*name == '\n' || *name == '\0')
            cur = &out->anon_kb;
          else if (strncmp (name, "[heap]", 6) == 0)
            cur = &out->heap_kb;
          else if (*name == '/')
            cur = &out->file_kb;
          else
            cur = &out->other_kb;
          continue;
        }
      long kb;
      if (sscanf (line, "Rss: %ld kB", &kb) == 1)
        *cur += kb;
    }
  fclose (f);
  return 0;
}

long
ps_kernel_tcp_socket_b (void)
{
  static const char *const caches[]
      = { "TCP", "sock_inode_cache", "filp", "dentry", "eventpoll_epi" };
  FILE *f = fopen ("/proc/slabinfo", "r");
  if (f == NULL)
    return -1;
  char line[512];
  long sum = 0;
  int found = 0;
  while (fgets (line, sizeof line, f) != NULL)
    for (size_t i = 0; i < sizeof caches / sizeof caches[0]; i++)
      {
        size_t n = strlen (caches[i]);
        long active, num, size;
        if (strncmp (line, caches[i], n) == 0 && line[n] == ' '
            && sscanf (line + n, "%ld %ld %ld", &active, &num, &size) == 3)
          {
            sum += size;
            found++;
          }
      }
  fclose (f);
  return found == (int)(sizeof caches / sizeof caches[0]) ? sum : -1;
}
