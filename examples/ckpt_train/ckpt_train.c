/*
 * ckpt_train.c — a training loop that checkpoints and resumes with
 * libmuster.
 *
 * The "model" is a vector of floats that every step updates
 * deterministically, so a run that is preempted or crashes and resumes
 * from a checkpoint ends with exactly the state of a run that never
 * stopped (the final line prints a checksum to compare).  Each step it
 * reports progress; when muster says a checkpoint is due it hands the
 * state over (asynchronously by default) and keeps training.  It prints
 * "saved step N" only when the checkpoint is committed, and "checkpoint of
 * step N failed: REASON" when its shard could not be written or the
 * commit was aborted (muster_worker_ckpt_outcome).
 *
 *   muster run --nproc-per-node 2 --ckpt-dir /tmp/ck --ckpt-every 2s -- \
 *       ckpt_train --steps 2000 --step-ms 5
 *
 * Workers of a role named "ps" act as parameter servers: each holds the
 * hash buckets it owns (muster_worker_buckets), saves just those, and at
 * restore reads them back from whichever old servers held them
 * (muster_worker_restore_buckets), checking every value, so a job saved
 * with 2 servers and resumed with 3 proves the re-partitioning.  Needs
 * --nbuckets on muster run.
 *
 * Options: --steps N (total), --step-ms MS (time per step), --size N
 * (floats), --sync (save synchronously), --overlap (copy the state on the
 * background thread while the next step runs), --crash-at S (exit 3 at step S in
 * the first attempt only: TORCHELASTIC_RESTART_COUNT 0; with --crash-rank
 * R only rank R crashes).  In-place mode: membership changes are printed
 * as they come ("membership: epoch E rank R world W ...").  For fault
 * injection in tests, in the first attempt only: --die-in-save PHASE
 * (before: die when the save is due; mid: die half-way through writing the
 * shard file; written: die once the whole shard is in place under its final
 * name but before reporting it; after: die once the shard is written and
 * reported) and
 * --slow-save-rank R --slow-save-ms MS (rank R waits before saving, so
 * others' shards are in while its is not); --die-at-save K picks the
 * K-th checkpoint of the run for --die-in-save (default 1).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

/* Print how the newest checkpoint this worker saved for ended. */
static void
report_outcome (muster_worker_t *w)
{
  muster_ckpt_outcome_t o = { 0, 0, "" };
  if (muster_worker_ckpt_outcome (w, &o) != 1)
    return;
  if (o.status == 0)
    printf ("saved step %llu (committed)\n", (unsigned long long)o.step);
  else
    fprintf (stderr, "checkpoint of step %llu failed: %s\n",
             (unsigned long long)o.step, o.reason);
  fflush (stdout);
}

/* ------------------------------------------------ parameter servers */

static uint64_t
bucket_value (uint64_t bucket, uint64_t step)
{
  return bucket * 1000003u + step;
}

typedef struct ps {
  uint64_t first, count, step;
  uint64_t *v;
} ps_t;

static void
ps_step (ps_t *p)
{
  p->step++;
  for (uint64_t i = 0; i < p->count; i++)
    p->v[i] = bucket_value (p->first + i, p->step);
}

/* Rebuild this server's buckets from the checkpoint, whatever the number
 * of servers was when it was saved; every value must be the saved step's. */
static int
ps_restore (muster_worker_t *w, ps_t *p)
{
  muster_restore_t r;
  int rc = muster_worker_restore (w, &r);
  if (rc == MUSTER_ENOCKPT)
    return 0;
  if (rc != 0)
    return rc;
  muster_bucket_slice_t *sl = NULL;
  size_t n = 0;
  rc = muster_worker_restore_buckets (w, &sl, &n);
  if (rc != 0)
    {
      fprintf (stderr, "restore_buckets: %s\n", muster_strerror (rc));
      return rc;
    }
  uint64_t got = 0;
  for (size_t i = 0; i < n && rc == 0; i++)
    {
      FILE *f = fopen (sl[i].path, "rb");
      if (f == NULL
          || fseek (f, (long)(sl[i].offset * sizeof (uint64_t)), SEEK_SET) != 0
          || fread (p->v + (sl[i].bucket_first - p->first), sizeof (uint64_t),
                    sl[i].bucket_count, f)
                 != sl[i].bucket_count)
        rc = MUSTER_ECORRUPT;
      if (f)
        fclose (f);
      got += sl[i].bucket_count;
    }
  for (uint64_t i = 0; rc == 0 && i < p->count; i++)
    if (p->v[i] != bucket_value (p->first + i, r.step))
      rc = MUSTER_ECORRUPT;
  if (rc == 0 && got != p->count)
    rc = MUSTER_ECORRUPT;
  if (rc == 0)
    {
      p->step = r.step;
      printf ("ps %d restored buckets [%llu,%llu) of step %llu from %zu "
              "slice(s): all values check\n",
              muster_worker_role_rank (w), (unsigned long long)p->first,
              (unsigned long long)(p->first + p->count),
              (unsigned long long)r.step, n);
    }
  else
    fprintf (stderr, "ps restore failed: %s\n", muster_strerror (rc));
  free (sl);
  return rc;
}

static int
run_ps (muster_worker_t *w, uint64_t steps, long step_ms)
{
  ps_t p = { 0 };
  int rc = muster_worker_buckets (w, &p.first, &p.count);
  if (rc != 0)
    {
      fprintf (stderr, "a ps needs --nbuckets: %s\n", muster_strerror (rc));
      return 1;
    }
  p.v = calloc (p.count ? p.count : 1, sizeof *p.v);
  if (p.v == NULL || ps_restore (w, &p) != 0)
    {
      free (p.v);
      return 1;
    }
  struct timespec nap = { step_ms / 1000, (step_ms % 1000) * 1000000L };
  while (p.step < steps)
    {
      ps_step (&p);
      muster_worker_progress (w, p.step);
      muster_ckpt_request_t rq;
      if (muster_worker_ckpt_due (w, &rq) == 1
          && (rc = muster_worker_ckpt_save (w, p.v, p.count * sizeof *p.v, 0))
                 != 0)
        fprintf (stderr, "ps checkpoint failed: %s\n", muster_strerror (rc));
      report_outcome (w);
      if (step_ms > 0)
        nanosleep (&nap, NULL);
    }
  printf ("ps %d done at step %llu with buckets [%llu,%llu)\n",
          muster_worker_role_rank (w), (unsigned long long)p.step,
          (unsigned long long)p.first, (unsigned long long)(p.first + p.count));
  free (p.v);
  return 0;
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
  int crash_rank = -1;
  long step_ms = 2;
  size_t n = 1024;
  int flags = MUSTER_CKPT_ASYNC;
  const char *die_in_save = NULL;
  int slow_rank = -1;
  int die_at_save = 1, saves = 0;
  long slow_ms = 0;
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
      else if (strcmp (argv[i], "--crash-rank") == 0 && i + 1 < argc)
        crash_rank = atoi (argv[++i]);
      else if (strcmp (argv[i], "--sync") == 0)
        flags = 0;
      else if (strcmp (argv[i], "--overlap") == 0)
        flags = MUSTER_CKPT_OVERLAP;
      else if (strcmp (argv[i], "--die-in-save") == 0 && i + 1 < argc)
        die_in_save = argv[++i];
      else if (strcmp (argv[i], "--die-at-save") == 0 && i + 1 < argc)
        die_at_save = atoi (argv[++i]);
      else if (strcmp (argv[i], "--slow-save-rank") == 0 && i + 1 < argc)
        slow_rank = atoi (argv[++i]);
      else if (strcmp (argv[i], "--slow-save-ms") == 0 && i + 1 < argc)
        slow_ms = strtol (argv[++i], NULL, 10);
      else
        {
          fprintf (stderr, "usage: ckpt_train [--steps N] [--step-ms MS] "
                           "[--size N] [--sync] [--crash-at S] "
                           "[--die-in-save before|mid|after] "
                           "[--slow-save-rank R --slow-save-ms MS]\n");
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
  if (strcmp (muster_worker_role (w), "ps") == 0)
    {
      rc = run_ps (w, steps, step_ms);
      muster_worker_finalize (&w);
      return rc;
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
  printf ("rank %d pid %d epoch %llu world %d sync_from %d\n",
          muster_worker_rank (w), (int)getpid (),
          (unsigned long long)muster_worker_epoch (w), muster_worker_world (w),
          muster_worker_sync_from (w));
  fflush (stdout);
  struct timespec nap = { step_ms / 1000, (step_ms % 1000) * 1000000L };
  if (flags != 0)
    muster_worker_ckpt_reserve (w, sizeof *s + n * sizeof (float));
  while (s->step < steps)
    {
      if (flags == MUSTER_CKPT_OVERLAP)
        muster_worker_ckpt_copied (w); /* before the state changes */
      train_step (s, n);
      muster_membership_t mm;
      if (muster_worker_membership_changed (w, &mm) == 1)
        {
          printf ("membership: epoch %llu rank %d world %d pid %d reason %s\n",
                  (unsigned long long)mm.epoch, mm.rank, mm.world,
                  (int)getpid (), mm.reason);
          fflush (stdout);
        }
      if (crash_at && s->step == crash_at && first_attempt
          && (crash_rank < 0 || crash_rank == muster_worker_rank (w)))
        {
          fprintf (stderr, "crashing at step %llu as asked\n",
                   (unsigned long long)s->step);
          exit (3);
        }
      muster_worker_progress (w, s->step);
      muster_ckpt_request_t rq;
      if (muster_worker_ckpt_due (w, &rq) == 1)
        {
          size_t bytes = sizeof *s + n * sizeof (float);
          int me = muster_worker_rank (w);
          int dying = first_attempt && die_in_save && me == 0
                      && ++saves == die_at_save;
          if (first_attempt && me == slow_rank && slow_ms > 0)
            {
              struct timespec t = { slow_ms / 1000, (slow_ms % 1000) * 1000000L };
              nanosleep (&t, NULL);
            }
          if (dying)
            {
              if (strcmp (die_in_save, "before") == 0)
                _exit (9);
              if (strcmp (die_in_save, "written") == 0)
                {
                  char path[4096];
                  if (muster_worker_ckpt_path (w, path, sizeof path) == 0)
                    {
                      path[strlen (path) - 4] = '\0'; /* drop ".tmp" */
                      FILE *f = fopen (path, "wb");
                      if (f)
                        {
                          fwrite (s, 1, bytes, f);
                          fflush (f);
                          fsync (fileno (f));
                        }
                    }
                  _exit (9);
                }
              if (strcmp (die_in_save, "mid") == 0)
                {
                  char path[4096];
                  if (muster_worker_ckpt_path (w, path, sizeof path) == 0)
                    {
                      FILE *f = fopen (path, "wb");
                      if (f)
                        {
                          fwrite (s, 1, bytes / 2, f);
                          fflush (f);
                        }
                    }
                  _exit (9);
                }
            }
          rc = muster_worker_ckpt_save (w, s, bytes, dying ? 0 : flags);
          if (dying && strcmp (die_in_save, "after") == 0)
            _exit (9);
          if (rc != 0)
            fprintf (stderr, "checkpoint of step %llu failed: %s\n",
                     (unsigned long long)s->step, muster_strerror (rc));
        }
      /* "saved" only once the checkpoint is committed: a save that
       * returned 0 handed the bytes over (async) or wrote this shard, but
       * the disk may still be full for the write or for another rank. */
      report_outcome (w);
      if (step_ms > 0)
        nanosleep (&nap, NULL);
    }
  muster_worker_ckpt_flush (w);
  report_outcome (w);
  printf ("done at step %llu checksum %016llx\n", (unsigned long long)s->step,
          (unsigned long long)checksum (s, n));
  free (s);
  muster_worker_finalize (&w);
  return 0;
}
