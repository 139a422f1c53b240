/*
 * ps_plan_probe.c — a libmuster worker that prints the bucket plan of each
 * epoch it sees (scenario 48: which moves the coordinator plans when a
 * parameter server fails).
 *
 * Every process prints "plan epoch E prev P servers [first,count]... moves
 * [first,count from_rank from_old_rank to_rank lost]...".  With --crash-ps
 * R, the server of role rank R exits 3 in epoch 1 (after the others read
 * the plan: a barrier first); everyone else waits (up to 30 s) for the next
 * epoch, prints its plan, meets the others in a barrier and exits 0.  The
 * replacement server prints the plan it starts with and does the same.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <muster/worker.h>

static int
show (muster_worker_t *w)
{
  muster_bucket_plan_t *p = NULL;
  int rc = muster_worker_bucket_plan (w, 10000, &p);
  if (rc != 0)
    {
      fprintf (stderr, "no plan: %s\n", muster_strerror (rc));
      return rc;
    }
  printf ("%s %d: plan epoch %llu prev %llu servers", muster_worker_role (w),
          muster_worker_role_rank (w), (unsigned long long)p->epoch,
          (unsigned long long)p->prev_epoch);
  for (size_t i = 0; i < p->nservers; i++)
    printf (" [%llu,%llu]", (unsigned long long)p->servers[i].first,
            (unsigned long long)p->servers[i].count);
  printf (" moves");
  for (size_t i = 0; i < p->nmoves; i++)
    printf (" [%llu,%llu %d %d %d %d]", (unsigned long long)p->moves[i].first,
            (unsigned long long)p->moves[i].count, p->moves[i].from_rank,
            p->moves[i].from_old_rank, p->moves[i].to_rank, p->moves[i].lost);
  printf ("\n");
  fflush (stdout);
  muster_bucket_plan_free (&p);
  return 0;
}

int
main (int argc, char **argv)
{
  int crash = argc == 3 && strcmp (argv[1], "--crash-ps") == 0 ? atoi (argv[2])
                                                                : -1;
  muster_worker_t *w = NULL;
  int rc = muster_worker_init (&w, NULL);
  if (rc != 0)
    {
      fprintf (stderr, "init: %s\n", muster_strerror (rc));
      return 1;
    }
  int ps = strcmp (muster_worker_role (w), "ps") == 0;
  uint64_t epoch = muster_worker_epoch (w);
  if (show (w) != 0)
    return 1;
  if (epoch == 1)
    {
      muster_worker_barrier (w, "probe.read", 30000);
      if (ps && muster_worker_role_rank (w) == crash)
        {
          printf ("ps %d: crashing\n", crash);
          fflush (stdout);
          exit (3);
        }
      /* wait for the next epoch */
      muster_membership_t m;
      for (int i = 0; i < 3000 && !muster_worker_membership_changed (w, &m);
           i++)
        nanosleep (&(struct timespec){ 0, 10 * 1000 * 1000 }, NULL);
      if (show (w) != 0)
        return 1;
    }
  rc = muster_worker_barrier (w, "probe.done", 30000);
  muster_worker_finalize (&w);
  return rc == 0 ? 0 : 1;
}
