/*
 * table.c — a parameter server's rows: an open-addressing hash map from
 * feature id to a row of weights and Adagrad accumulators, the update
 * rule, and the order-independent checksum the tests compare.
 *
 * Rows start at a value that depends only on their id, so two runs that
 * see the same ids in the same order of steps end with the same bits,
 * whichever server held a row when.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ps_ctr.h"

struct ps_table {
  uint64_t *ids;  /* slot -> id + 1 (0 = empty) */
  float *rows;    /* slot -> PS_ROW floats */
  size_t cap;     /* power of two */
  size_t n;
};

static size_t
cap_for (size_t rows)
{
  size_t cap = 1024;
  while (rows * 10 > cap * 7)
    cap *= 2;
  return cap;
}

static ps_table_t *
table_with (size_t rows)
{
  ps_table_t *t = calloc (1, sizeof *t);
  if (t == NULL)
    return NULL;
  t->cap = cap_for (rows);
  t->ids = calloc (t->cap, sizeof *t->ids);
  t->rows = malloc (t->cap * PS_ROW * sizeof *t->rows);
  if (t->ids == NULL || t->rows == NULL)
    ps_table_destroy (&t);
  return t;
}

ps_table_t *
ps_table_new (void)
{
  return table_with (0);
}

void
ps_table_destroy (ps_table_t **t_p)
{
  if (t_p == NULL || *t_p == NULL)
    return;
  free ((*t_p)->ids);
  free ((*t_p)->rows);
  free (*t_p);
  *t_p = NULL;
}

size_t
ps_table_rows (const ps_table_t *t)
{
  return t->n;
}

static size_t
slot_of (const ps_table_t *t, uint64_t id)
{
  size_t s = (size_t)ps_mix (id) & (t->cap - 1);
  while (t->ids[s] != 0 && t->ids[s] != id + 1)
    s = (s + 1) & (t->cap - 1);
  return s;
}

static int
resize (ps_table_t *t, size_t cap)
{
  ps_table_t g = { NULL, NULL, cap, 0 };
  g.ids = calloc (g.cap, sizeof *g.ids);
  g.rows = malloc (g.cap * PS_ROW * sizeof *g.rows);
  if (g.ids == NULL || g.rows == NULL)
    {
      free (g.ids);
      free (g.rows);
      return -1;
    }
  for (size_t i = 0; i < t->cap; i++)
    if (t->ids[i] != 0)
      {
        size_t s = slot_of (&g, t->ids[i] - 1);
        g.ids[s] = t->ids[i];
        memcpy (&g.rows[s * PS_ROW], &t->rows[i * PS_ROW],
                PS_ROW * sizeof *g.rows);
        g.n++;
      }
  free (t->ids);
  free (t->rows);
  *t = g;
  return 0;
}

void
ps_row_init (uint64_t id, float *row)
{
  memset (row, 0, PS_ROW * sizeof *row);
  for (int k = 1; k < PS_DIM; k++)
    {
      uint64_t h = ps_mix (id * 31 + (uint64_t)k);
      row[k] = ((float)(h >> 40) / (float)(1 << 24) - 0.5f) * 0.02f;
    }
}

int
ps_table_reserve (ps_table_t *t, size_t more)
{
  size_t cap = cap_for (t->n + more);
  return cap > t->cap ? resize (t, cap) : 0;
}

static float *
insert (ps_table_t *t, uint64_t id)
{
  if ((t->n + 1) * 10 > t->cap * 7 && resize (t, t->cap * 2) != 0)
    return NULL;
  size_t s = slot_of (t, id);
  t->ids[s] = id + 1;
  t->n++;
  return &t->rows[s * PS_ROW];
}

float *
ps_table_row (ps_table_t *t, uint64_t id, int create)
{
  size_t s = slot_of (t, id);
  if (t->ids[s] != 0)
    return &t->rows[s * PS_ROW];
  if (!create)
    return NULL;
  float *row = insert (t, id);
  if (row != NULL)
    ps_row_init (id, row);
  return row;
}

int
ps_table_put (ps_table_t *t, uint64_t id, const float *row)
{
  float *r = ps_table_row (t, id, 0);
  if (r == NULL && (r = insert (t, id)) == NULL)
    return -1;
  memcpy (r, row, PS_ROW * sizeof *r);
  return 0;
}

void
ps_row_adagrad (float *row, const float *g, float lr)
{
  for (int k = 0; k < PS_DIM; k++)
    {
      row[PS_DIM + k] += g[k] * g[k];
      row[k] -= lr * g[k] / (sqrtf (row[PS_DIM + k]) + 1e-6f);
    }
}

uint64_t
ps_table_checksum (const ps_table_t *t)
{
  uint64_t sum = 0;
  for (size_t i = 0; i < t->cap; i++)
    if (t->ids[i] != 0)
      {
        uint64_t h = ps_mix (t->ids[i]);
        const float *r = &t->rows[i * PS_ROW];
        for (int k = 0; k < PS_ROW; k++)
          {
            uint32_t bits;
            memcpy (&bits, &r[k], sizeof bits);
            h = ps_mix (h ^ bits);
          }
        sum += h;
      }
  return sum;
}

int
ps_table_take (ps_table_t *t, uint64_t nbuckets, uint64_t first,
               uint64_t count, uint64_t **ids_out, float **rows_out,
               size_t *n_out)
{
  size_t n = 0;
  for (size_t i = 0; i < t->cap; i++)
    if (t->ids[i] != 0)
      {
        uint64_t b = ps_bucket (t->ids[i] - 1, nbuckets);
        n += b >= first && b < first + count;
      }
  uint64_t *ids = malloc ((n ? n : 1) * sizeof *ids);
  float *rows = malloc ((n ? n : 1) * PS_ROW * sizeof *rows);
  ps_table_t *keep = table_with (t->n - n);
  if (ids == NULL || rows == NULL || keep == NULL)
    {
      free (ids);
      free (rows);
      ps_table_destroy (&keep);
      return -1;
    }
  size_t k = 0;
  for (size_t i = 0; i < t->cap; i++)
    if (t->ids[i] != 0)
      {
        uint64_t id = t->ids[i] - 1;
        uint64_t b = ps_bucket (id, nbuckets);
        const float *r = &t->rows[i * PS_ROW];
        if (b >= first && b < first + count)
          {
            ids[k] = id;
            memcpy (&rows[k * PS_ROW], r, PS_ROW * sizeof *rows);
            k++;
          }
        else if (ps_table_put (keep, id, r) != 0)
          {
            free (ids);
            free (rows);
            ps_table_destroy (&keep);
            return -1;
          }
      }
  free (t->ids);
  free (t->rows);
  *t = *keep;
  free (keep);
  *ids_out = ids;
  *rows_out = rows;
  *n_out = n;
  return 0;
}
