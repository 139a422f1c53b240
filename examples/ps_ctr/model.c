/*
 * model.c — the factorization machine of ps_ctr, on a batch's rows: the
 * unique ids of a batch (each row is pulled and pushed once), the logit
 * of a sample, and the gradients of the batch's logistic loss.
 *
 * logit = sum_f w_f[0] + 1/2 (|sum_f v_f|^2 - sum_f |v_f|^2), v_f = w_f[1..]
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ps_ctr.h"

void
ps_batch_free (ps_batch_t *b)
{
  free (b->uniq);
  free (b->slot_of);
  free (b->w_rows);
  free (b->grads);
  memset (b, 0, sizeof *b);
}

int
ps_batch_ids (ps_batch_t *b, const uint64_t *ids, size_t nsamples)
{
  size_t need = nsamples * PS_FIELDS;
  if (need > b->cap || b->uniq == NULL)
    {
      ps_batch_free (b);
      b->cap = need ? need : 1;
      b->uniq = malloc (b->cap * sizeof *b->uniq);
      b->slot_of = malloc (b->cap * sizeof *b->slot_of);
      b->w_rows = malloc (b->cap * PS_DIM * sizeof *b->w_rows);
      b->grads = malloc (b->cap * PS_DIM * sizeof *b->grads);
      if (!b->uniq || !b->slot_of || !b->w_rows || !b->grads)
        return -ENOMEM;
    }
  size_t hcap = 1;
  while (hcap < 2 * need)
    hcap *= 2;
  size_t *h = malloc (hcap * sizeof *h);
  if (h == NULL)
    return -ENOMEM;
  memset (h, 0xff, hcap * sizeof *h);
  b->nuniq = 0;
  for (size_t k = 0; k < need; k++)
    {
      size_t s = (size_t)ps_mix (ids[k]) & (hcap - 1);
      while (h[s] != SIZE_MAX && b->uniq[h[s]] != ids[k])
        s = (s + 1) & (hcap - 1);
      if (h[s] == SIZE_MAX)
        {
          h[s] = b->nuniq;
          b->uniq[b->nuniq++] = ids[k];
        }
      b->slot_of[k] = h[s];
    }
  free (h);
  return 0;
}

double
ps_fm_logit (const ps_batch_t *b, size_t sample)
{
  const size_t *slots = &b->slot_of[sample * PS_FIELDS];
  double z = 0, sq = 0, sv[PS_DIM] = { 0 };
  for (int f = 0; f < PS_FIELDS; f++)
    {
      const float *r = &b->w_rows[slots[f] * PS_DIM];
      z += r[0];
      for (int k = 1; k < PS_DIM; k++)
        {
          sv[k] += r[k];
          sq += (double)r[k] * r[k];
        }
    }
  double s2 = 0;
  for (int k = 1; k < PS_DIM; k++)
    s2 += sv[k] * sv[k];
  return z + 0.5 * (s2 - sq);
}

double
ps_fm_grads (ps_batch_t *b, const float *y, size_t nsamples)
{
  double loss = 0;
  memset (b->grads, 0, b->nuniq * PS_DIM * sizeof *b->grads);
  for (size_t j = 0; j < nsamples; j++)
    {
      const size_t *slots = &b->slot_of[j * PS_FIELDS];
      float sv[PS_DIM] = { 0 };
      for (int f = 0; f < PS_FIELDS; f++)
        for (int k = 1; k < PS_DIM; k++)
          sv[k] += b->w_rows[slots[f] * PS_DIM + k];
      double p = 1.0 / (1.0 + exp (-ps_fm_logit (b, j)));
      loss += -(y[j] > 0.5f ? log (p + 1e-12) : log (1 - p + 1e-12));
      float g = (float)(p - y[j]);
      for (int f = 0; f < PS_FIELDS; f++)
        {
          float *gr = &b->grads[slots[f] * PS_DIM];
          const float *r = &b->w_rows[slots[f] * PS_DIM];
          gr[0] += g;
          for (int k = 1; k < PS_DIM; k++)
            gr[k] += g * (sv[k] - r[k]);
        }
    }
  return nsamples ? loss / (double)nsamples : 0;
}
