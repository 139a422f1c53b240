/*
 * schedule.c — bench/schedule: placements per second of the pure scheduler
 * (scheduler/sched.h) on a simulated inventory, against two baselines run
 * on the same inventory and jobs in the same invocation:
 *
 *   first-fit   each replica goes to the first node (in index order) that
 *               carries the role's labels and has room; gangs are rolled
 *               back when a role does not fit (the simplest correct gang
 *               placement, no scoring);
 *   score-all   each replica filters and scores every node (free slots,
 *               the job's nodes, its zone) and takes the best, the way a
 *               per-pod scheduler (kube-scheduler's filter+score) works.
 *
 * The muster figure is one mu_sched_tick() over the whole queue: gang
 * admission, packing and elastic growth, every decision counted.  A second
 * round submits high-priority jobs into the full cluster and times the
 * tick that preempts for them.  Timings are figures, never checks: the
 * ctest smoke run uses toy sizes.
 *
 *   schedule [--nodes N] [--jobs J] [--slots S] [--reps R] [--seed X]
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "scheduler/sched.h"

typedef struct bjob
{
  char id[32];
  int64_t prio;
  bool elastic;
  size_t nroles;
  uint32_t min[2], max[2], slots[2];
  char sel[2][32];
} bjob_t;

static uint64_t rng_state;

static uint32_t
rnd (uint32_t n)
{
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (uint32_t)(rng_state % n);
}

/* CPU time of this process: the figure that does not depend on what else
 * the (shared) machine runs; wall-clock time is printed beside it. */
static double
cpu_s (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double
wall_s (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct span
{
  double cpu, wall;
} span_t;

static span_t
start (void)
{
  return (span_t){ cpu_s (), wall_s () };
}

/* Keep the smaller of best and the time since t0. */
static void
stop (span_t t0, span_t *best)
{
  span_t d = { cpu_s () - t0.cpu, wall_s () - t0.wall };
  if (d.cpu < best->cpu)
    *best = d;
}

/* Node k's labels. */
static void
node_labels (uint32_t k, char zone[16], char rack[16], char kind[16])
{
  snprintf (zone, 16, "zone=z%u", k % 8);
  snprintf (rack, 16, "rack=r%u", k / 50);
  snprintf (kind, 16, "gpu=%s", k % 4 == 0 ? "h100" : "none");
}

/* 60% small, 30% medium, 10% large two-role jobs; 30% with a label
 * selector; 30% elastic; priorities 0..9. */
static void
make_jobs (bjob_t *j, size_t n, int64_t prio_base, const char *prefix)
{
  for (size_t i = 0; i < n; i++)
    {
      bjob_t *x = &j[i];
      memset (x, 0, sizeof *x);
      snprintf (x->id, sizeof x->id, "%s%zu", prefix, i);
      x->prio = prio_base + rnd (10);
      x->elastic = rnd (10) < 3;
      uint32_t c = rnd (10);
      x->nroles = 1;
      if (c < 6)
        {
          x->min[0] = 1 + rnd (4);
          x->slots[0] = 1 + rnd (4);
        }
      else if (c < 9)
        {
          x->min[0] = 2 + rnd (15);
          x->slots[0] = 4 + rnd (5);
        }
      else
        {
          x->nroles = 2;
          x->min[0] = 2;
          x->slots[0] = 2;
          x->min[1] = 16 + rnd (49);
          x->slots[1] = 8;
        }
      for (size_t r = 0; r < x->nroles; r++)
        {
          x->max[r] = x->elastic ? x->min[r] * 2 : x->min[r];
          uint32_t s = rnd (10);
          if (s < 2)
            snprintf (x->sel[r], sizeof x->sel[r], "zone=z%u", rnd (8));
          else if (s < 3)
            snprintf (x->sel[r], sizeof x->sel[r], "gpu=h100");
        }
    }
}

static int
submit (mu_sched_t *s, const bjob_t *x, uint64_t t)
{
  mu_sched_role_t roles[2];
  const char *sel[2][1];
  memset (roles, 0, sizeof roles);
  for (size_t r = 0; r < x->nroles; r++)
    {
      roles[r].name = r == 0 ? (x->nroles == 2 ? "ps" : "worker") : "worker";
      roles[r].min = x->min[r];
      roles[r].max = x->max[r];
      roles[r].slots = x->slots[r];
      sel[r][0] = x->sel[r];
      roles[r].selector = sel[r];
      roles[r].nselector = x->sel[r][0] ? 1 : 0;
    }
  mu_sched_job_t j = { .id = x->id,
                       .priority = x->prio,
                       .elastic = x->elastic,
                       .roles = roles,
                       .nroles = x->nroles };
  char err[256];
  int rc = mu_sched_submit (s, &j, t, err, sizeof err);
  if (rc != 0)
    fprintf (stderr, "schedule: submit %s: %s\n", x->id, err);
  return rc;
}

typedef struct counts
{
  uint64_t placed, grown, shrunk, suspended, decisions;
} counts_t;

static void
count (const mu_sched_decision_t *d, size_t n, counts_t *c)
{
  memset (c, 0, sizeof *c);
  c->decisions = n;
  for (size_t i = 0; i < n; i++)
    switch (d[i].action)
      {
      case MU_SCHED_PLACE:
        c->placed += d[i].replicas;
        break;
      case MU_SCHED_GROW:
        c->grown += d[i].replicas;
        break;
      case MU_SCHED_SHRINK:
        c->shrunk += d[i].replicas;
        break;
      case MU_SCHED_SUSPEND:
        c->suspended++;
        break;
      default:
        break;
      }
}

/* ---------------------------------------------------------- baselines */

typedef struct bnode
{
  uint32_t free;
  char zone[16], rack[16], kind[16];
} bnode_t;

static bool
bmatch (const bnode_t *n, const char *sel)
{
  return !*sel || strcmp (n->zone, sel) == 0 || strcmp (n->kind, sel) == 0;
}

static int
cmp_prio (const void *a, const void *b)
{
  const bjob_t *x = *(bjob_t *const *)a, *y = *(bjob_t *const *)b;
  return x->prio != y->prio ? (x->prio > y->prio ? -1 : 1) : (x < y ? -1 : 1);
}

/* Place the jobs at their min, one replica at a time; returns replicas
 * placed.  score: filter and score every node per replica. */
static uint64_t
baseline (bnode_t *nodes, uint32_t nn, bjob_t *jobs, size_t nj, bool score)
{
  bjob_t **order = malloc (nj * sizeof *order);
  uint32_t *took = malloc (4096 * sizeof *took);
  for (size_t i = 0; i < nj; i++)
    order[i] = &jobs[i];
  qsort (order, nj, sizeof *order, cmp_prio);
  uint64_t placed = 0;
  for (size_t i = 0; i < nj; i++)
    {
      bjob_t *x = order[i];
      size_t nt = 0;
      bool ok = true;
      int64_t anchor = -1;
      for (size_t r = 0; r < x->nroles && ok; r++)
        for (uint32_t q = 0; q < x->min[r] && ok; q++)
          {
            int64_t best = -1, bs = -1;
            for (uint32_t k = 0; k < nn; k++)
              {
                if (nodes[k].free < x->slots[r]
                    || !bmatch (&nodes[k], x->sel[r]))
                  continue;
                if (!score)
                  {
                    best = k;
                    break;
                  }
                int64_t sc = 1000 - (nodes[k].free - x->slots[r]);
                for (size_t t = 0; t < nt; t++)
                  if (took[t] == k)
                    sc += 100000;
                if (anchor >= 0
                    && strcmp (nodes[k].zone, nodes[anchor].zone) == 0)
                  sc += 10000;
                if (sc > bs)
                  {
                    bs = sc;
                    best = k;
                  }
              }
            if (best < 0 || nt == 4096)
              {
                ok = false;
                break;
              }
            nodes[best].free -= x->slots[r];
            took[nt++] = (uint32_t)best;
            if (anchor < 0)
              anchor = best;
          }
      if (!ok)
        {
          /* roll the gang back: replica slots per role, in order */
          size_t t = 0;
          for (size_t r = 0; r < x->nroles; r++)
            for (uint32_t q = 0; q < x->min[r] && t < nt; q++)
              nodes[took[t++]].free += x->slots[r];
          continue;
        }
      placed += nt;
    }
  free (order);
  free (took);
  return placed;
}

static void
reset_nodes (bnode_t *b, uint32_t nn, uint32_t slots)
{
  for (uint32_t k = 0; k < nn; k++)
    {
      b[k].free = slots;
      node_labels (k, b[k].zone, b[k].rack, b[k].kind);
    }
}

int
main (int argc, char **argv)
{
  uint32_t nn = 10000, slots = 8;
  size_t nj = 1000;
  int reps = 3;
  uint64_t seed = 1;
  for (int i = 1; i < argc; i++)
    {
      if (strcmp (argv[i], "--help") == 0 || strcmp (argv[i], "-h") == 0)
        {
          printf (
              "usage: schedule [--nodes N] [--jobs J] [--slots S] [--reps R] "
              "[--seed X]\n"
              "Scheduler placements per second on N simulated nodes of S "
              "slots\n"
              "(default 10000 x 8) with J queued jobs (default 1000), best of "
              "R\n"
              "(default 3), against first-fit and score-every-node "
              "baselines.\n");
          return 0;
        }
      if (strcmp (argv[i], "--nodes") == 0 && i + 1 < argc)
        nn = (uint32_t)strtoul (argv[++i], NULL, 10);
      else if (strcmp (argv[i], "--jobs") == 0 && i + 1 < argc)
        nj = strtoul (argv[++i], NULL, 10);
      else if (strcmp (argv[i], "--slots") == 0 && i + 1 < argc)
        slots = (uint32_t)strtoul (argv[++i], NULL, 10);
      else if (strcmp (argv[i], "--reps") == 0 && i + 1 < argc)
        reps = atoi (argv[++i]);
      else if (strcmp (argv[i], "--seed") == 0 && i + 1 < argc)
        seed = strtoull (argv[++i], NULL, 10);
      else
        {
          fprintf (stderr, "usage: schedule [--nodes N] [--jobs J] [--slots S] "
                           "[--reps R] [--seed X]\n");
          return 2;
        }
    }
  if (nn == 0 || nj == 0 || slots == 0 || reps < 1)
    {
      fprintf (stderr, "schedule: sizes must be positive\n");
      return 2;
    }
  rng_state = seed * 0x9E3779B97F4A7C15ull + 1;
  bjob_t *jobs = calloc (nj, sizeof *jobs);
  size_t nhigh = nj / 10 ? nj / 10 : 1;
  bjob_t *high = calloc (nhigh, sizeof *high);
  make_jobs (jobs, nj, 0, "j");
  make_jobs (high, nhigh, 100, "hi");
  /* the preemption round: they all want the scarce gpu=h100 nodes */
  for (size_t i = 0; i < nhigh; i++)
    for (size_t r = 0; r < high[i].nroles; r++)
      snprintf (high[i].sel[r], sizeof high[i].sel[r], "gpu=h100");
  uint64_t demand = 0;
  for (size_t i = 0; i < nj; i++)
    for (size_t r = 0; r < jobs[i].nroles; r++)
      demand += (uint64_t)jobs[i].min[r] * jobs[i].slots[r];
  printf ("bench/schedule: %u nodes x %u slots (%llu), %zu queued jobs needing "
          "%llu slots at their min (seed %llu), best of %d\n",
          nn, slots, (unsigned long long)nn * slots, nj,
          (unsigned long long)demand, (unsigned long long)seed, reps);

  span_t best_m = { 1e9, 1e9 }, best_p = best_m, best_ff = best_m,
         best_sa = best_m;
  counts_t cm = { 0 }, cp = { 0 };
  uint64_t ff = 0, sa = 0;
  bnode_t *bn = calloc (nn, sizeof *bn);
  for (int rep = 0; rep < reps; rep++)
    {
      mu_sched_t *s = mu_sched_new (NULL);
      for (uint32_t k = 0; k < nn; k++)
        {
          char id[32], z[16], r[16], g[16];
          snprintf (id, sizeof id, "n%u", k);
          node_labels (k, z, r, g);
          const char *l[3] = { z, r, g };
          if (mu_sched_node_add (s, id, slots, l, 3, NULL, 0) != 0)
            return 1;
        }
      for (size_t i = 0; i < nj; i++)
        if (submit (s, &jobs[i], i) != 0)
          return 1;
      const mu_sched_decision_t *d;
      span_t t0 = start ();
      size_t n = mu_sched_tick (s, &d);
      stop (t0, &best_m);
      count (d, n, &cm);
      /* ack everything, then the preemption round */
      char (*acks)[3][64] = malloc (n * sizeof *acks);
      for (size_t i = 0; i < n; i++)
        {
          snprintf (acks[i][0], 64, "%s", d[i].job);
          snprintf (acks[i][1], 64, "%s", d[i].role);
          snprintf (acks[i][2], 64, "%s", d[i].node);
        }
      for (size_t i = 0; i < n; i++)
        mu_sched_ack_placed (s, acks[i][0], acks[i][1], acks[i][2], true);
      free (acks);
      for (size_t i = 0; i < nhigh; i++)
        submit (s, &high[i], nj + i);
      t0 = start ();
      n = mu_sched_tick (s, &d);
      stop (t0, &best_p);
      count (d, n, &cp);
      mu_sched_destroy (&s);

      reset_nodes (bn, nn, slots);
      t0 = start ();
      ff = baseline (bn, nn, jobs, nj, false);
      stop (t0, &best_ff);
      reset_nodes (bn, nn, slots);
      t0 = start ();
      sa = baseline (bn, nn, jobs, nj, true);
      stop (t0, &best_sa);
    }
  double pm = (double)(cm.placed + cm.grown) / best_m.cpu;
  double pff = (double)ff / best_ff.cpu, psa = (double)sa / best_sa.cpu;
  printf ("(times are CPU time of this process; wall-clock in brackets)\n");
  printf (
      "muster scheduler  : %llu replicas placed at min + %llu grown (elastic), "
      "%llu decisions, in %.1f ms [%.1f]: %.0f placements/s\n",
      (unsigned long long)cm.placed, (unsigned long long)cm.grown,
      (unsigned long long)cm.decisions, best_m.cpu * 1e3, best_m.wall * 1e3,
      pm);
  printf ("  wall-clock      : %.0f placements/s\n",
          (double)(cm.placed + cm.grown) / best_m.wall);
  printf ("baseline first-fit: %llu replicas placed in %.1f ms [%.1f]: %.0f "
          "placements/s\n",
          (unsigned long long)ff, best_ff.cpu * 1e3, best_ff.wall * 1e3, pff);
  printf ("baseline score-all: %llu replicas placed in %.1f ms [%.1f]: %.0f "
          "placements/s\n",
          (unsigned long long)sa, best_sa.cpu * 1e3, best_sa.wall * 1e3, psa);
  printf ("ratio: muster / first-fit = %.2fx, muster / score-all = %.2fx "
          "(target: >= 10000 placements/s)\n",
          pm / pff, pm / psa);
  printf (
      "preemption round  : %zu jobs of priority >= 100 wanting gpu=h100 nodes: "
      "%llu decisions (%llu replicas placed, %llu shrunk, %llu jobs suspended) "
      "in %.1f ms [%.1f]\n",
      nhigh, (unsigned long long)cp.decisions,
      (unsigned long long)(cp.placed + cp.grown), (unsigned long long)cp.shrunk,
      (unsigned long long)cp.suspended, best_p.cpu * 1e3, best_p.wall * 1e3);
  free (bn);
  free (jobs);
  free (high);
  return 0;
}
