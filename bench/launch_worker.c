/*
 * launch_worker.c — the C worker of bench/launch.py.
 *
 * The first thing main() does is read CLOCK_REALTIME; it then writes that
 * instant, in microseconds since the epoch, to $BENCH_DIR/start.$RANK and
 * exits 0.  The launch benchmark takes the latest of these instants over all
 * ranks, minus the instant just before it spawned the launcher, as the time
 * the launcher needed to get every worker running.  CLOCK_REALTIME is the
 * clock Python's time.time() reads, so the C and the Python worker (and the
 * benchmark script itself) are measured against the same clock.
 *
 * With `--idle SECONDS` it then sleeps that long before it exits 0: an
 * idle worker, for measuring what watching many of them costs the
 * launcher (bench/agent_scale.py).
 *
 * Exits 2 if the environment lacks BENCH_DIR or RANK, or the file cannot be
 * written, or the arguments are not `[--idle SECONDS]`: the benchmark then
 * reports the run as broken.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int
main (int argc, char **argv)
{
  struct timespec ts;
  clock_gettime (CLOCK_REALTIME, &ts);
  long long us = (long long)ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;

  double idle = 0;
  if (argc == 3 && strcmp (argv[1], "--idle") == 0)
    {
      char *end;
      idle = strtod (argv[2], &end);
      if (*end != '\0' || end == argv[2] || idle < 0 || idle > 86400)
        argc = -1;
    }
  if (argc != 1 && argc != 3)
    {
      fprintf (stderr, "usage: launch_worker [--idle SECONDS]\n");
      return 2;
    }

  const char *dir = getenv ("BENCH_DIR");
  const char *rank = getenv ("RANK");
  if (rank == NULL) /* started by srun alone (launch_slurm.py's baseline) */
    rank = getenv ("SLURM_PROCID");
  if (dir == NULL || rank == NULL)
    {
      fprintf (stderr, "launch_worker: BENCH_DIR and RANK (or SLURM_PROCID) must be set\n");
      return 2;
    }
  char path[4096];
  snprintf (path, sizeof path, "%s/start.%s", dir, rank);
  FILE *f = fopen (path, "w");
  if (f == NULL)
    {
      perror (path);
      return 2;
    }
  fprintf (f, "%lld\n", us);
  if (fclose (f) != 0)
    return 2;
  if (idle > 0)
    {
      struct timespec d = { (time_t)idle,
                            (long)((idle - (double)(time_t)idle) * 1e9) };
      while (nanosleep (&d, &d) != 0)
        ;
    }
  return 0;
}
