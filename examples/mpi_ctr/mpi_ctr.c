/*
 * mpi_ctr.c — a click-through-rate model trained data-parallel with MPI,
 * checkpointed through libmuster, run by `muster run --mpi`.
 *
 * The data are synthetic and deterministic: example i has FIELDS hashed
 * categorical features (one per field, from a hash of i and the field) in
 * a DIM-wide space; a hidden ground-truth weight vector and a per-example
 * hash-driven coin give its click label, so the model has something real
 * to learn and held-out examples (ids past the training ones) measure it.
 * The model is logistic regression on the hashed features.  Each step
 * every rank computes the gradient of its share of a global minibatch,
 * MPI_Allreduce sums gradients and losses, and every rank applies the same
 * Adagrad update: all ranks hold the same weights.
 *
 * Checkpoints: when libmuster says one is due (muster run --ckpt-every-steps
 * N or --ckpt-every), every rank saves (step, weights, accumulators) as its
 * shard; on a restart each rank restores the newest complete checkpoint and
 * continues.  The batch of step s depends on s alone and Open MPI's
 * allreduce of the same world adds in the same order, so a run that crashed
 * and resumed ends bit-identical to one that never stopped: the last line
 * prints the weights' checksum.
 *
 *   muster run --mpi --nproc-per-node 4 --max-restarts 1 \
 *       --ckpt-dir /tmp/ck --ckpt-every-steps 20 -- \
 *       mpi_ctr --steps 200 --crash-at 130 --crash-rank 2
 *
 * Options: --steps N (200), --batch B (global, 1024), --dim D (4096),
 * --lr X (0.2), --step-ms MS (0: a pause per step), --eval-every N (50),
 * --crash-at S with --crash-rank R (exit 3 at step S on rank R, first
 * attempt only: MUSTER_RESTART_COUNT 0).  Without muster (plain mpirun)
 * it trains without checkpoints.
 */
#include <math.h>
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <muster/worker.h>

#define FIELDS 8
#define EVAL_N 20000
#define TRAIN_N 1000000000ull /* held-out ids start here */

typedef struct opts
{
  uint64_t steps, batch, dim, eval_every, crash_at;
  double lr;
  long step_ms;
  int crash_rank;
} opts_t;

/* The saved state: the same on every rank. */
typedef struct state
{
  uint64_t step;
  uint64_t dim;
  double b, gb; /* bias and its Adagrad accumulator */
  double v[];   /* dim weights, then dim accumulators */
} state_t;

static uint64_t
mix (uint64_t x)
{
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

/* Example i: its FIELDS feature indices and its label. */
static int
example (uint64_t i, uint64_t dim, uint32_t feat[FIELDS])
{
  double z = -1.0;
  for (int f = 0; f < FIELDS; f++)
    {
      /* a skewed draw per field: small ids are frequent, as in real logs */
      uint64_t h = mix (i * FIELDS + (uint64_t)f);
      uint64_t per = dim / FIELDS;
      uint64_t u = h % per, v = (h >> 32) % per;
      feat[f] = (uint32_t)(f * per + (u < v ? u : v));
      /* the hidden truth: a fixed weight per feature in [-1.5, 1.5] */
      z += ((double)(mix (feat[f] ^ 0xfeedull) % 3001) / 1000.0 - 1.5);
    }
  double p = 1.0 / (1.0 + exp (-z));
  double coin = (double)(mix (i ^ 0xc0ffeeull) >> 11) / 9007199254740992.0;
  return coin < p;
}

static double
predict (const state_t *s, const uint32_t feat[FIELDS])
{
  double z = s->b;
  for (int f = 0; f < FIELDS; f++)
    z += s->v[feat[f]];
  return 1.0 / (1.0 + exp (-z));
}

static uint64_t
checksum (const state_t *s)
{
  uint64_t h = 1469598103934665603ull ^ s->step;
  const unsigned char *p = (const unsigned char *)&s->b;
  size_t n = (2 + 2 * s->dim) * sizeof (double);
  for (size_t i = 0; i < n; i++)
    h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

typedef struct scored
{
  double p;
  int y;
} scored_t;

static int
by_score (const void *x, const void *y)
{
  double a = ((const scored_t *)x)->p, b = ((const scored_t *)y)->p;
  return a < b ? -1 : a > b;
}

/* Held-out log loss and AUC (rank 0 evaluates the whole set). */
static void
evaluate (const state_t *s, double *loss, double *auc)
{
  scored_t *v = malloc (EVAL_N * sizeof *v);
  if (v == NULL)
    {
      *loss = *auc = NAN;
      return;
    }
  uint32_t feat[FIELDS];
  double l = 0;
  for (uint64_t i = 0; i < EVAL_N; i++)
    {
      v[i].y = example (TRAIN_N + i, s->dim, feat);
      v[i].p = predict (s, feat);
      double p = v[i].p < 1e-12       ? 1e-12
                 : v[i].p > 1 - 1e-12 ? 1 - 1e-12
                                      : v[i].p;
      l -= v[i].y ? log (p) : log (1 - p);
    }
  qsort (v, EVAL_N, sizeof *v, by_score);
  /* Mann-Whitney: the sum of the positives' ranks (ties share ranks) */
  double rsum = 0, npos = 0;
  for (uint64_t i = 0; i < EVAL_N;)
    {
      uint64_t j = i;
      while (j < EVAL_N && v[j].p == v[i].p)
        j++;
      double mid = (double)(i + j + 1) / 2.0;
      for (uint64_t k = i; k < j; k++)
        if (v[k].y)
          {
            rsum += mid;
            npos++;
          }
      i = j;
    }
  double nneg = EVAL_N - npos;
  *auc = (rsum - npos * (npos + 1) / 2) / (npos * nneg);
  *loss = l / EVAL_N;
  free (v);
}

/* One step: the gradient of this rank's share of the step's batch, summed
 * over the world, then the Adagrad update.  Returns the batch's mean loss. */
static double
train_step (state_t *s, const opts_t *o, int rank, int world, double *g)
{
  uint64_t dim = s->dim;
  memset (g, 0, (dim + 2) * sizeof *g); /* weights, bias, loss */
  uint64_t per = o->batch / (uint64_t)world;
  uint64_t first = s->step * o->batch + (uint64_t)rank * per;
  uint32_t feat[FIELDS];
  for (uint64_t i = first; i < first + per; i++)
    {
      int y = example (i % TRAIN_N, dim, feat);
      double p = predict (s, feat);
      double e = p - y;
      for (int f = 0; f < FIELDS; f++)
        g[feat[f]] += e;
      g[dim] += e;
      double pc = p < 1e-12 ? 1e-12 : p > 1 - 1e-12 ? 1 - 1e-12 : p;
      g[dim + 1] -= y ? log (pc) : log (1 - pc);
    }
  MPI_Allreduce (MPI_IN_PLACE, g, (int)(dim + 2), MPI_DOUBLE, MPI_SUM,
                 MPI_COMM_WORLD);
  double n = (double)(per * (uint64_t)world);
  double *w = s->v, *acc = s->v + dim;
  for (uint64_t k = 0; k < dim; k++)
    if (g[k] != 0)
      {
        double gk = g[k] / n;
        acc[k] += gk * gk;
        w[k] -= o->lr * gk / (sqrt (acc[k]) + 1e-8);
      }
  double gb = g[dim] / n;
  s->gb += gb * gb;
  s->b -= o->lr * gb / (sqrt (s->gb) + 1e-8);
  s->step++;
  return g[dim + 1] / n;
}

static int
restore (muster_worker_t *mw, state_t *s, size_t bytes)
{
  muster_restore_t r;
  int rc = muster_worker_restore (mw, &r);
  if (rc == MUSTER_ENOCKPT)
    return 0;
  if (rc != 0)
    {
      fprintf (stderr, "mpi_ctr: restore: %s\n", muster_strerror (rc));
      return rc;
    }
  FILE *f = fopen (r.path, "rb");
  uint64_t dim = s->dim;
  if (f == NULL || r.size != bytes || fread (s, 1, bytes, f) != bytes
      || s->dim != dim)
    {
      fprintf (stderr, "mpi_ctr: %s is not this model's checkpoint\n", r.path);
      if (f)
        fclose (f);
      return MUSTER_ECORRUPT;
    }
  fclose (f);
  return 1;
}

static int
parse (int argc, char **argv, opts_t *o)
{
  *o = (opts_t){ .steps = 200,
                 .batch = 1024,
                 .dim = 4096,
                 .eval_every = 50,
                 .lr = 0.2,
                 .crash_rank = -1 };
  for (int i = 1; i < argc; i++)
    {
      const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
      if (v == NULL)
        return -1;
      i++;
      if (strcmp (a, "--steps") == 0)
        o->steps = strtoull (v, NULL, 10);
      else if (strcmp (a, "--batch") == 0)
        o->batch = strtoull (v, NULL, 10);
      else if (strcmp (a, "--dim") == 0)
        o->dim = strtoull (v, NULL, 10);
      else if (strcmp (a, "--lr") == 0)
        o->lr = strtod (v, NULL);
      else if (strcmp (a, "--step-ms") == 0)
        o->step_ms = strtol (v, NULL, 10);
      else if (strcmp (a, "--eval-every") == 0)
        o->eval_every = strtoull (v, NULL, 10);
      else if (strcmp (a, "--crash-at") == 0)
        o->crash_at = strtoull (v, NULL, 10);
      else if (strcmp (a, "--crash-rank") == 0)
        o->crash_rank = atoi (v);
      else
        return -1;
    }
  return o->dim >= FIELDS && o->batch > 0 ? 0 : -1;
}

int
main (int argc, char **argv)
{
  opts_t o;
  if (parse (argc, argv, &o) != 0)
    {
      fprintf (stderr, "usage: mpi_ctr [--steps N] [--batch B] [--dim D] "
                       "[--lr X] [--step-ms MS] [--eval-every N] "
                       "[--crash-at S --crash-rank R]\n");
      return 2;
    }
  /* libmuster first: checkpoints and restore (optional under mpirun). */
  muster_worker_t *mw = NULL;
  int have_muster = getenv ("MUSTER_AGENT_ENDPOINT") != NULL
                    && muster_worker_init (&mw, NULL) == 0;
  MPI_Init (&argc, &argv);
  int rank, world;
  MPI_Comm_rank (MPI_COMM_WORLD, &rank);
  MPI_Comm_size (MPI_COMM_WORLD, &world);
  if (o.batch % (uint64_t)world != 0)
    {
      if (rank == 0)
        fprintf (stderr,
                 "mpi_ctr: --batch %llu is not a multiple of the "
                 "world (%d)\n",
                 (unsigned long long)o.batch, world);
      MPI_Finalize ();
      return 2;
    }
  size_t bytes = sizeof (state_t) + 2 * o.dim * sizeof (double);
  state_t *s = calloc (1, bytes);
  double *g = malloc ((o.dim + 2) * sizeof *g);
  if (s == NULL || g == NULL)
    MPI_Abort (MPI_COMM_WORLD, 12);
  s->dim = o.dim;
  int restored = have_muster ? restore (mw, s, bytes) : 0;
  if (restored < 0)
    MPI_Abort (MPI_COMM_WORLD, 4);
  if (rank == 0)
    {
      const char *ns = getenv ("PMIX_NAMESPACE");
      printf ("mpi_ctr: world %d, %s at step %llu (namespace %s)\n", world,
              restored ? "restored" : "starting", (unsigned long long)s->step,
              ns ? ns : "none");
      fflush (stdout);
    }
  const char *rc_env = getenv ("MUSTER_RESTART_COUNT");
  int first_attempt = rc_env == NULL || strcmp (rc_env, "0") == 0;
  struct timespec nap = { o.step_ms / 1000, (o.step_ms % 1000) * 1000000L };
  while (s->step < o.steps)
    {
      double loss = train_step (s, &o, rank, world, g);
      if (o.crash_at && s->step == o.crash_at && first_attempt
          && rank == o.crash_rank)
        {
          fprintf (stderr, "mpi_ctr: crashing at step %llu as asked\n",
                   (unsigned long long)s->step);
          exit (3);
        }
      if (rank == 0 && o.eval_every && s->step % o.eval_every == 0)
        {
          double el, auc;
          evaluate (s, &el, &auc);
          printf ("step %llu train_loss %.4f heldout_loss %.4f auc %.4f\n",
                  (unsigned long long)s->step, loss, el, auc);
          fflush (stdout);
        }
      if (have_muster)
        {
          muster_worker_progress (mw, s->step);
          muster_ckpt_request_t rq;
          if (muster_worker_ckpt_due (mw, &rq) == 1)
            {
              int rc
                  = muster_worker_ckpt_save (mw, s, bytes, MUSTER_CKPT_ASYNC);
              if (rc != 0)
                fprintf (stderr, "mpi_ctr: checkpoint of step %llu: %s\n",
                         (unsigned long long)s->step, muster_strerror (rc));
            }
        }
      if (o.step_ms > 0)
        nanosleep (&nap, NULL);
    }
  if (have_muster)
    muster_worker_ckpt_flush (mw);
  double el, auc;
  evaluate (s, &el, &auc);
  printf ("done rank %d step %llu heldout_loss %.6f auc %.6f checksum "
          "%016llx\n",
          rank, (unsigned long long)s->step, el, auc,
          (unsigned long long)checksum (s));
  fflush (stdout);
  free (g);
  free (s);
  MPI_Finalize ();
  muster_worker_finalize (&mw);
  return 0;
}
