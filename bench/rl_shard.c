/*
 * rl_shard.c — the shard processes of the simulated-agent benchmarks
 * (rdzv_load, many_jobs; declared in rdzv_load.h), one copy: how many
 * agents one process may hold under the descriptor limit, forking the
 * shards (before any ZeroMQ context exists: contexts do not survive
 * fork), one phase command to all of them with their reports merged, and
 * quitting them.  Each shard runs rl_shard_main (rdzv_sim.c).
 */
#define _GNU_SOURCE
#include "bench/rdzv_load.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

uint32_t
rl_raise_nofile (uint32_t agents)
{
  rlim_t need = (rlim_t)agents * 2 + 1024;
  struct rlimit rl;
  getrlimit (RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur < need)
    {
      /* As root with CAP_SYS_RESOURCE past the hard limit, else to it. */
      struct rlimit want = { need, rl.rlim_max > need ? rl.rlim_max : need };
      if (setrlimit (RLIMIT_NOFILE, &want) != 0)
        {
          rl.rlim_cur = rl.rlim_max;
          setrlimit (RLIMIT_NOFILE, &rl);
        }
      getrlimit (RLIMIT_NOFILE, &rl);
    }
  if (rl.rlim_cur < (rlim_t)agents + 256)
    fprintf (stderr,
             "%s: warning: descriptor limit %llu is too low for a musterd "
             "serving %u agents\n",
             rl_prog, (unsigned long long)rl.rlim_cur, agents);
  rlim_t per = rl.rlim_cur > 1024 ? (rl.rlim_cur - 512) / 2 : 256;
  if (per > 60000) /* ZeroMQ's socket limit per context is 65535 */
    per = 60000;
  return (uint32_t)per;
}

rl_shard_t *
rl_shards_start (const opts_t *o, const char *endpoint, int k, uint32_t unit)
{
  rl_shard_t *sh = calloc ((size_t)k, sizeof *sh);
  if (sh == NULL)
    rl_die ("out of memory");
  if (unit == 0)
    unit = 1;
  uint32_t units = o->agents / unit, base = 0;
  for (int i = 0; i < k; i++)
    {
      uint32_t nu = units / (uint32_t)k + ((uint32_t)i < units % (uint32_t)k);
      int cmd[2], res[2];
      if (pipe2 (cmd, O_CLOEXEC) != 0 || pipe2 (res, O_CLOEXEC) != 0)
        rl_die ("pipe: %s", strerror (errno));
      sh[i].base = base;
      sh[i].n = nu * unit;
      base += sh[i].n;
      fflush (NULL);
      pid_t p = fork ();
      if (p < 0)
        rl_die ("fork: %s", strerror (errno));
      if (p == 0)
        {
          close (cmd[1]);
          close (res[0]);
          for (int j = 0; j < i; j++)
            {
              close (sh[j].cmd_fd);
              close (sh[j].res_fd);
            }
          if (o->nice != 0 && nice (o->nice) == -1 && errno != 0)
            rl_note ("nice %d: %s", o->nice, strerror (errno));
          _exit (rl_shard_main (o, endpoint, sh[i].base, sh[i].n,
                                (uint32_t)k, cmd[0], res[1]));
        }
      close (cmd[0]);
      close (res[1]);
      sh[i].pid = p;
      sh[i].cmd_fd = cmd[1];
      sh[i].res_fd = res[0];
    }
  return sh;
}

int
rl_shards_phase (rl_shard_t *sh, int k, char cmd, report_t *out)
{
  memset (out, 0, sizeof *out);
  for (int i = 0; i < k; i++)
    if (write (sh[i].cmd_fd, &cmd, 1) != 1)
      return -1;
  for (int i = 0; i < k; i++)
    {
      report_t *r = &sh[i].r;
      size_t got = 0;
      while (got < sizeof *r)
        {
          ssize_t g = read (sh[i].res_fd, (char *)r + got, sizeof *r - got);
          if (g <= 0)
            return -1; /* the shard died; it said why on stderr */
          got += (size_t)g;
        }
      out->failed |= r->failed;
      out->count += r->count;
#define MIN_T(f)                                                               \
  if (r->f && (!out->f || r->f < out->f))                                      \
  out->f = r->f
#define MAX_T(f)                                                               \
  if (r->f > out->f)                                                           \
  out->f = r->f
      MIN_T (t_first);
      MIN_T (t_first_welcome);
      MAX_T (t_last);
      MAX_T (t_last_welcome);
      MAX_T (t_sent);
      MAX_T (hb_late_max_us);
      MAX_T (hb_rtt_max_us);
      MAX_T (hb_ms);
      MAX_T (t_stop);
      MAX_T (t_victim_hb);
#undef MIN_T
#undef MAX_T
      out->hb_bad += r->hb_bad;
      for (unsigned b = 0; b < RL_HIST_N; b++)
        out->hb_rtt_hist[b] += r->hb_rtt_hist[b];
      out->hb_rtt_sum_us += r->hb_rtt_sum_us;
      out->hb_rtt_n += r->hb_rtt_n;
      out->msgs_in += r->msgs_in;
      out->heartbeats_in += r->heartbeats_in;
      out->progress_in += r->progress_in;
      out->heartbeats_out += r->heartbeats_out;
      out->cpu_s += r->cpu_s - r->cpu_start_s;
    }
  if (out->failed)
    fprintf (stderr,
             "%s: phase '%c' failed: %u agents completed it; heartbeats were "
             "sent at most %.1f ms late and answered within %.1f ms at "
             "worst\n",
             rl_prog, cmd, out->count, rl_ms (out->hb_late_max_us),
             rl_ms (out->hb_rtt_max_us));
  return out->failed ? -1 : 0;
}

int
rl_shards_stop (rl_shard_t **shp, int k)
{
  rl_shard_t *sh = *shp;
  int bad = 0;
  if (sh == NULL)
    return 0;
  for (int i = 0; i < k; i++)
    {
      char q = 'Q';
      if (write (sh[i].cmd_fd, &q, 1) != 1)
        { /* already gone */
        }
      close (sh[i].cmd_fd);
      close (sh[i].res_fd);
    }
  for (int i = 0; i < k; i++)
    {
      int st;
      waitpid (sh[i].pid, &st, 0);
      if (!WIFEXITED (st) || WEXITSTATUS (st) != 0)
        bad = 1;
    }
  free (sh);
  *shp = NULL;
  return bad ? -1 : 0;
}
