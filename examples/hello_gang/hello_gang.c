/*
 * hello_gang.c — the smallest useful libmuster program.
 *
 * Every worker of the gang opens its handle, prints where it stands (rank,
 * world, local rank, role, epoch) and the data-plane address of the next
 * rank, then the gang bootstraps the way a collective library would: rank 0
 * publishes a value in the job's KV store, every rank reads it (waiting for
 * it with a timeout) and prints it, and all meet at a barrier before
 * finalizing.  Any failure is printed with muster_strerror() and the
 * program exits 1; success exits 0.
 *
 * Build against the installed library:  cc hello_gang.c -lmuster
 * Run:  muster run --nproc-per-node 4 -- ./hello_gang
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <muster/worker.h>

#define KV_TIMEOUT_MS 30000
#define BARRIER_TIMEOUT_MS 60000

/* Print what failed and why; returns 1 (the exit status) for brevity. */
static int
fail (int rank, const char *what, int rc)
{
  fprintf (stderr, "hello_gang: rank %d: %s failed: %s (%s)\n", rank, what,
           muster_strerror (rc), muster_err_name (rc));
  return 1;
}

int
main (void)
{
  muster_worker_t *w = NULL;
  int rc = muster_worker_init (&w, NULL);
  if (rc != 0)
    return fail (-1, "muster_worker_init", rc);

  int rank = muster_worker_rank (w);
  int world = muster_worker_world (w);
  printf ("rank %d of %d: local rank %d of %d, node %d of %d, role %s[%d of "
          "%d], epoch %llu, job %s\n",
          rank, world, muster_worker_local_rank (w),
          muster_worker_local_world (w), muster_worker_node_rank (w),
          muster_worker_nnodes (w), muster_worker_role (w),
          muster_worker_role_rank (w), muster_worker_role_world (w),
          (unsigned long long)muster_worker_epoch (w), muster_worker_job (w));

  /* The next rank's address, the way a ring allreduce would find it. */
  int next = (rank + 1) % world;
  muster_peer_t peer;
  rc = muster_worker_peer (w, next, &peer);
  if (rc != 0)
    {
      muster_worker_finalize (&w);
      return fail (rank, "muster_worker_peer", rc);
    }
  printf ("rank %d: next rank %d is at %s:%d\n", rank, next, peer.host,
          peer.port);
  fflush (stdout);

  /* Rank 0 publishes; everyone (rank 0 too) reads. */
  if (rank == 0)
    {
      char greeting[128];
      snprintf (greeting, sizeof greeting, "hello from rank 0 to a gang of %d",
                world);
      rc = muster_worker_kv_put (w, "greeting", greeting, strlen (greeting),
                                 KV_TIMEOUT_MS);
      if (rc != 0)
        {
          muster_worker_finalize (&w);
          return fail (rank, "muster_worker_kv_put(greeting)", rc);
        }
    }
  void *val = NULL;
  size_t len = 0;
  rc = muster_worker_kv_get (w, "greeting", &val, &len, KV_TIMEOUT_MS);
  if (rc != 0)
    {
      muster_worker_finalize (&w);
      return fail (rank, "muster_worker_kv_get(greeting)", rc);
    }
  printf ("rank %d: greeting: %.*s\n", rank, (int)len, (const char *)val);
  free (val);
  fflush (stdout);

  rc = muster_worker_barrier (w, "hello_gang.done", BARRIER_TIMEOUT_MS);
  if (rc != 0)
    {
      muster_worker_finalize (&w);
      return fail (rank, "muster_worker_barrier(hello_gang.done)", rc);
    }
  printf ("rank %d: passed the barrier\n", rank);
  fflush (stdout);

  muster_worker_finalize (&w);
  return 0;
}
