/*
 * ps_ctr.c — a click-through-rate model trained on parameter servers
 * whose hash buckets move live when the number of servers changes.
 *
 * Processes of the role "ps" are servers (server.c): each owns the hash
 * buckets muster assigns it and serves the embedding rows of the feature
 * ids in them, applying sparse Adagrad.  Every other process is a worker
 * (trainer.c): it pulls the rows its batch needs, computes gradients of a
 * factorization machine's logistic loss on a synthetic click stream
 * (stream.c) and pushes them.  Run it in in-place mode with a ps role and
 * --nbuckets; add or remove PS nodes while it trains:
 *
 *   muster run --rdzv-endpoint HOST:PORT --rdzv-id ctr \
 *       --roles worker=1x2,ps=2:3x1 --role ps --nbuckets 256 \
 *       --elastic-mode in-place -- ps_ctr --steps 400
 *
 * (one such command per node, --role worker on the worker node).
 *
 * Options: --steps N (global steps, 300), --batch B (samples per worker
 * per step, 256), --vocab V (ids per field, 20000), --seed S, --lr X
 * (0.05), --staleness K (0: synchronous, the table's bits do not depend
 * on timing or on bucket moves), --eval N (held-out samples, 20000),
 * --step-ms MS (pause per step), --crash-rank R --crash-at S (worker R
 * exits 3 at step S once, for tests), --prefill N (bench: the servers
 * create rows 0..N-1 at start), --ckpt-baseline DIR (bench: after the
 * prefill each server times writing its rows to DIR with fsync and reading
 * them back, the I/O of a checkpoint round trip), --local W (bench: no
 * muster, no servers: W workers' steps on one in-process table).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ps_ctr.h"

static int
parse_u64 (const char *s, uint64_t *out)
{
  char *end = NULL;
  if (s == NULL || *s == '\0' || *s == '-')
    return -1;
  unsigned long long v = strtoull (s, &end, 10);
  if (*end != '\0')
    return -1;
  *out = v;
  return 0;
}

static int
parse_args (int argc, char **argv, ps_opts_t *o)
{
  *o = (ps_opts_t){ .steps = 300, .batch = 256, .vocab = 20000, .seed = 7,
                    .staleness = 0, .eval = 20000, .lr = 0.05f,
                    .crash_rank = -1 };
  for (int i = 1; i < argc; i++)
    {
      const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
      uint64_t x = 0;
      uint64_t *dst = strcmp (a, "--steps") == 0       ? &o->steps
                      : strcmp (a, "--batch") == 0     ? &o->batch
                      : strcmp (a, "--vocab") == 0     ? &o->vocab
                      : strcmp (a, "--seed") == 0      ? &o->seed
                      : strcmp (a, "--staleness") == 0 ? &o->staleness
                      : strcmp (a, "--eval") == 0      ? &o->eval
                      : strcmp (a, "--step-ms") == 0   ? &o->step_ms
                      : strcmp (a, "--prefill") == 0   ? &o->prefill
                      : strcmp (a, "--crash-at") == 0  ? &o->crash_at
                      : strcmp (a, "--local") == 0     ? &o->local_workers
                      : strcmp (a, "--crash-rank") == 0 || strcmp (a, "--lr") == 0
                          ? &x
                          : NULL;
      if (dst == NULL && strcmp (a, "--ckpt-baseline") != 0)
        {
          fprintf (stderr, "ps_ctr: unknown option '%s'\n", a);
          return -1;
        }
      if (strcmp (a, "--ckpt-baseline") == 0)
        {
          if (v == NULL)
            {
              fprintf (stderr, "ps_ctr: --ckpt-baseline needs a directory\n");
              return -1;
            }
          o->ckpt_baseline = (char *)v;
          i++;
          continue;
        }
      if (strcmp (a, "--lr") == 0)
        {
          char *end = NULL;
          o->lr = v ? strtof (v, &end) : 0;
          if (v == NULL || *end != '\0' || !(o->lr > 0))
            {
              fprintf (stderr, "ps_ctr: --lr needs a positive number\n");
              return -1;
            }
        }
      else if (parse_u64 (v, dst) != 0)
        {
          fprintf (stderr, "ps_ctr: %s needs a non-negative integer\n", a);
          return -1;
        }
      if (strcmp (a, "--crash-rank") == 0)
        o->crash_rank = (int)x;
      i++;
    }
  if (o->batch == 0 || o->vocab == 0)
    {
      fprintf (stderr, "ps_ctr: --batch and --vocab must be at least 1\n");
      return -1;
    }
  return 0;
}

int
main (int argc, char **argv)
{
  ps_opts_t o;
  if (parse_args (argc, argv, &o) != 0)
    return 2;
  if (o.local_workers > 0)
    return ps_local_main (&o);
  muster_worker_t *w = NULL;
  int rc = muster_worker_init (&w, NULL);
  if (rc != 0)
    {
      fprintf (stderr, "ps_ctr: muster_worker_init: %s\n",
               muster_strerror (rc));
      return 1;
    }
  const char *role = muster_worker_role (w);
  int status = role != NULL && strcmp (role, "ps") == 0
                   ? ps_server_main (w, &o)
                   : ps_trainer_main (w, &o);
  muster_worker_finalize (&w);
  return status;
}
