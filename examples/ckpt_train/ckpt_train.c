/*
 * ckpt_train.c — a training loop that checkpoints and resumes with
 * libmuster.
 *
 * The "model" is a vector of floats that every step updates
 * deterministically, so a run that is preempted or crashes and resumes
 * from a checkpoint ends with exactly the state of a run that never
 * stopped (the final line prints a checksum to compare).  Each step it
 * reports progress; when muster says a checkpoint is due it hands the
 * state over (asynchronously by default) and keeps training.
 *
 *   muster run --nproc-per-node 2 --ckpt-dir /tmp/ck --ckpt-every 2s -- \
 *       ckpt_train --steps 2000 --step-ms 5
 *
 * Options: --steps N (total), --step-ms MS (time per step), --size N
 * (floats), --sync (save synchronously), --crash-at S (exit 3 at step S in
 * the first attempt only: TORCHELASTIC_RESTART_COUNT 0).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <muster/worker.h>

typedef struct state {
  uint64_t step; /* last finished step */
  float w[];
} state_t;

static void
train_step (state_t *s, size_t n)
{
  s->step++;
  for (size_t i = 0; i < n; i++)
    s->w[i] = s->w[i] * 0.999f + (float)((s->step + i) % 97) * 0.001f;
}

static uint64_t
checksum (const state_t *s, size_t n)
{
  uint64_t h = 1469598103934665603ull ^ s->step;
  const unsigned char *p = (const unsigned char *)s->w;
  for (size_t i = 0; i < n * sizeof (float); i++)
    h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

static int
restore (muster_worker_t *w, state_t *s, size_t n)
{
  muster_restore_t r;
  int rc = muster_worker_restore (w, &r);
  if (rc == MUSTER_ENOCKPT)
    return 0;
  if (rc != 0)
    {
      fprintf (stderr, "restore failed: %s\n", muster_strerror (rc));
      return rc;
    }
  size_t bytes = sizeof *s + n * sizeof (float);
  FILE *f = fopen (r.path, "rb");
  if (f == NULL || r.size != bytes || fread (s, 1, bytes, f) != bytes)
    {
      fprintf (stderr, "restore failed: %s is not a %zu-byte state\n", r.path,
               bytes);
      if (f)
        fclose (f);
      return MUSTER_ECORRUPT;
    }
  fclose (f);
  printf ("restored step %llu from rank %d's shard\n",
          (unsigned long long)s->step, r.from_rank);
  return 0;
}

int
main (int argc, char **argv)
{
  uint64_t steps = 1000, crash_at = 0;
  long step_ms = 2;
  size_t n = 1024;
  int flags = MUSTER_CKPT_ASYNC;
  for (int i = 1; i < argc; i++)
    {
      if (strcmp (argv[i], "--steps") == 0 && i + 1 < argc)
        steps = strtoull (argv[++i], NULL, 10);
      else if (strcmp (argv[i], "--step-ms") == 0 && i + 1 < argc)
        step_ms = strtol (argv[++i], NULL, 10);
      else if (strcmp (argv[i], "--size") == 0 && i + 1 < argc)
        n = strtoull (argv[++i], NULL, 10);
      else if (strcmp (argv[i], "--crash-at") == 0 && i + 1 < argc)
        crash_at = strtoull (argv[++i], NULL, 10);
      else if (strcmp (argv[i], "--sync") == 0)
        flags = 0;
      else
        {
          fprintf (stderr, "usage: ckpt_train [--steps N] [--step-ms MS] "
                           "[--size N] [--sync] [--crash-at S]\n");
          return 2;
        }
    }
  muster_worker_t *w = NULL;
  int rc = muster_worker_init (&w, NULL);
  if (rc != 0)
    {
      fprintf (stderr, "muster_worker_init: %s\n", muster_strerror (rc));
      return 1;
    }
  state_t *s = calloc (1, sizeof *s + n * sizeof (float));
  if (s == NULL || restore (w, s, n) != 0)
    {
      muster_worker_finalize (&w);
      free (s);
      return 1;
    }
  const char *rc_env = getenv ("TORCHELASTIC_RESTART_COUNT");
  int first_attempt = rc_env == NULL || strcmp (rc_env, "0") == 0;
  struct timespec nap = { step_ms / 1000, (step_ms % 1000) * 1000000L };
  while (s->step < steps)
    {
      train_step (s, n);
      if (crash_at && s->step == crash_at && first_attempt)
        {
          fprintf (stderr, "crashing at step %llu as asked\n",
                   (unsigned long long)s->step);
          exit (3);
        }
      muster_worker_progress (w, s->step);
      muster_ckpt_request_t rq;
      if (muster_worker_ckpt_due (w, &rq) == 1)
        {
          rc = muster_worker_ckpt_save (w, s, sizeof *s + n * sizeof (float),
                                        flags);
          if (rc != 0)
            fprintf (stderr, "checkpoint of step %llu failed: %s\n",
                     (unsigned long long)s->step, muster_strerror (rc));
          else
            printf ("saved step %llu (%s)\n", (unsigned long long)s->step,
                    rq.reason);
          fflush (stdout);
        }
      if (step_ms > 0)
        nanosleep (&nap, NULL);
    }
  muster_worker_ckpt_flush (w);
  printf ("done at step %llu checksum %016llx\n", (unsigned long long)s->step,
          (unsigned long long)checksum (s, n));
  free (s);
  muster_worker_finalize (&w);
  return 0;
}
