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
 * Exits 2 if the environment lacks BENCH_DIR or RANK, or the file cannot be
 * written: the benchmark then reports the run as broken.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int
main (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_REALTIME, &ts);
  long long us = (long long)ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;

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
  return fclose (f) == 0 ? 0 : 2;
}
