/*
 * stream.c — the synthetic click stream: deterministic samples with
 * power-law feature ids and labels drawn from a hidden logistic model, and
 * the AUC used to score a model on held-out samples.
 *
 * Sample i depends only on (seed, i), so a run's data does not depend on
 * which process generates it or when: a replaced worker regenerates
 * exactly the batches of its role rank.
 */
#include <math.h>
#include <stdlib.h>

#include "ps_ctr.h"

static double
unit (uint64_t *s)
{
  *s = ps_mix (*s);
  return (double)(*s >> 11) * (1.0 / 9007199254740992.0);
}

/* The hidden model: a weight per id in [-1.5, 1.5]. */
static double
truth_weight (uint64_t id)
{
  return ((double)(ps_mix (id ^ 0xc0ffee) >> 11) / 9007199254740992.0 - 0.5)
         * 3.0;
}

void
ps_sample (uint64_t seed, uint64_t vocab, uint64_t i, uint64_t *ids,
           float *label, double *truth)
{
  uint64_t s = ps_mix (seed ^ (i * 0x9e3779b97f4a7c15ull));
  double z = -0.5;
  for (int f = 0; f < PS_FIELDS; f++)
    {
      double u = unit (&s);
      uint64_t r = (uint64_t)((double)vocab * u * u * u); /* power law */
      if (r >= vocab)
        r = vocab - 1;
      ids[f] = (uint64_t)f * vocab + r;
      z += truth_weight (ids[f]);
    }
  *truth = z;
  *label = unit (&s) < 1.0 / (1.0 + exp (-z)) ? 1.0f : 0.0f;
}

typedef struct scored {
  double s;
  float y;
} scored_t;

static int
cmp_scored (const void *a, const void *b)
{
  double x = ((const scored_t *)a)->s, y = ((const scored_t *)b)->s;
  return x < y ? -1 : x > y;
}

double
ps_auc (const double *score, const float *label, size_t n)
{
  scored_t *v = malloc ((n ? n : 1) * sizeof *v);
  if (v == NULL)
    return 0.0;
  for (size_t i = 0; i < n; i++)
    v[i] = (scored_t){ score[i], label[i] };
  qsort (v, n, sizeof *v, cmp_scored);
  double pos = 0, neg = 0, rank_sum = 0;
  for (size_t i = 0; i < n;)
    {
      size_t j = i;
      while (j < n && v[j].s == v[i].s)
        j++;
      double mid = (double)(i + j + 1) / 2.0; /* average rank of ties */
      for (size_t k = i; k < j; k++)
        if (v[k].y > 0.5f)
          {
            rank_sum += mid;
            pos++;
          }
        else
          neg++;
      i = j;
    }
  free (v);
  if (pos == 0 || neg == 0)
    return 0.5;
  return (rank_sum - pos * (pos + 1) / 2.0) / (pos * neg);
}
