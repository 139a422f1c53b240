/*
 * mpi_world.c — the smallest MPI program that shows whether its ranks form
 * one world: prints its rank, the world size, and the MPI_Allreduce sum of
 * rank + 1 over the world (size * (size + 1) / 2 in one world; 1 in each
 * of `size` singletons).  Scenario 47 and bench/mpi.py run it under
 * `muster run --mpi` and `mpirun`.
 *
 * It prints "init_done_us=<wall clock µs>" taken right after MPI_Init and
 * "main_us=" taken at main's entry, so a benchmark can measure
 * launch-to-MPI_Init-done and MPI_Init itself.
 * --expect N: exit 3 unless the world has N ranks.
 * --abort-rank R: rank R calls MPI_Abort (error code 7) after the sum.
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

int
main (int argc, char **argv)
{
  long expect = 0, abort_rank = -1;
  for (int i = 1; i + 1 < argc; i++)
    if (strcmp (argv[i], "--expect") == 0)
      expect = strtol (argv[++i], NULL, 10);
    else if (strcmp (argv[i], "--abort-rank") == 0)
      abort_rank = strtol (argv[++i], NULL, 10);
  struct timeval t0;
  gettimeofday (&t0, NULL);
  if (MPI_Init (&argc, &argv) != MPI_SUCCESS)
    {
      fprintf (stderr, "mpi_world: MPI_Init failed\n");
      return 2;
    }
  struct timeval tv;
  gettimeofday (&tv, NULL);
  int rank, size;
  MPI_Comm_rank (MPI_COMM_WORLD, &rank);
  MPI_Comm_size (MPI_COMM_WORLD, &size);
  long mine = rank + 1, sum = 0;
  MPI_Allreduce (&mine, &sum, 1, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
  char host[MPI_MAX_PROCESSOR_NAME];
  int hl;
  MPI_Get_processor_name (host, &hl);
  printf ("mpi_world rank=%d size=%d sum=%ld init_done_us=%lld "
          "main_us=%lld\n",
          rank, size, sum, (long long)tv.tv_sec * 1000000 + tv.tv_usec,
          (long long)t0.tv_sec * 1000000 + t0.tv_usec);
  fflush (stdout);
  if (rank == abort_rank)
    MPI_Abort (MPI_COMM_WORLD, 7);
  MPI_Finalize ();
  if (expect > 0 && size != expect)
    {
      fprintf (stderr, "mpi_world: world of %d ranks, expected %ld\n", size,
               expect);
      return 3;
    }
  return 0;
}
