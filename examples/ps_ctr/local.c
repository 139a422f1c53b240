/*
 * local.c — `ps_ctr --local`: the bench's baseline for pull and push
 * throughput.  The same batches, the same model and the same Adagrad
 * updates as a distributed run, on one in-process table: what a step costs
 * without the data plane (no muster, no ZeroMQ, no servers).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ps_ctr.h"

int
ps_local_main (const ps_opts_t *o)
{
  ps_table_t *t = ps_table_new ();
  ps_batch_t b;
  memset (&b, 0, sizeof b);
  size_t B = o->batch;
  uint64_t *ids = malloc (B * PS_FIELDS * sizeof *ids);
  float *y = malloc (B * sizeof *y);
  if (t == NULL || ids == NULL || y == NULL)
    return 1;
  uint64_t rows = 0, t0 = ps_now_ms ();
  double loss = 0;
  for (uint64_t s = 0; s < o->steps; s++)
    for (uint64_t r = 0; r < o->local_workers; r++)
      {
        for (size_t j = 0; j < B; j++)
          {
            double truth;
            ps_sample (o->seed, o->vocab, (s * o->local_workers + r) * B + j,
                       &ids[j * PS_FIELDS], &y[j], &truth);
          }
        if (ps_batch_ids (&b, ids, B) != 0)
          return 1;
        for (size_t k = 0; k < b.nuniq; k++) /* pull */
          {
            float *row = ps_table_row (t, b.uniq[k], 1);
            if (row == NULL)
              return 1;
            memcpy (&b.w_rows[k * PS_DIM], row, PS_DIM * sizeof (float));
          }
        loss = ps_fm_grads (&b, y, B);
        for (size_t k = 0; k < b.nuniq; k++) /* push */
          ps_row_adagrad (ps_table_row (t, b.uniq[k], 1),
                          &b.grads[k * PS_DIM], o->lr);
        rows += 2 * b.nuniq;
      }
  uint64_t ms = ps_now_ms () - t0;
  printf ("local: %" PRIu64 " steps x %" PRIu64 " workers, %" PRIu64
          " rows pulled+pushed in %" PRIu64 " ms, loss %.4f, %zu rows, "
          "checksum %016" PRIx64 "\n",
          o->steps, o->local_workers, rows, ms, loss, ps_table_rows (t),
          ps_table_checksum (t));
  free (ids);
  free (y);
  ps_batch_free (&b);
  ps_table_destroy (&t);
  return 0;
}
