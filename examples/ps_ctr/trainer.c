/*
 * trainer.c — a worker of ps_ctr: generates its share of the click
 * stream, pulls the rows a batch needs from their servers, computes the
 * gradients of a factorization machine's logistic loss and pushes them.
 *
 * Worker r of W trains, at step s, on samples (s*W + r)*B ... + B - 1, so
 * the data of a step never depends on which process runs it.  The bucket
 * map comes from muster (muster_worker_bucket_plan); when a new epoch's
 * plan has moves, the worker agrees on the cut step with the others
 * through the KV store, finishes the steps before the cut on the old map,
 * waits in the completing barrier (muster_worker_migration_done) and goes
 * on with the new map: the servers moved the rows meanwhile, with no
 * checkpoint.  A worker started in a later epoch (a replacement for one
 * that failed) resumes at the step the servers wait for.
 *
 * Worker 0 ends the run: it waits until every server applied the last
 * step, sums the servers' row counts and checksums, scores held-out
 * samples (AUC, and the hidden model's own AUC as the ceiling), prints
 * "table rows=N checksum=X auc=A oracle_auc=O servers=P step=S" and tells
 * the servers to exit.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zmq.h>

#include "wire.h"

#define PLAN_WAIT_MS 20000
#define RECV_TIMEOUT_MS 120000
#define EVAL_BASE (1ull << 40)

typedef struct trainer {
  muster_worker_t *w;
  const ps_opts_t *o;
  void *ctx;
  muster_bucket_plan_t *plan;
  void **sock;       /* a DEALER per server of the plan */
  uint32_t nworkers;
  int me;
  ps_batch_t b;      /* the batch's rows */
  uint64_t rows_moved; /* pulled + pushed, for the throughput line */
} trainer_t;

static void
disconnect (trainer_t *t)
{
  for (size_t i = 0; t->plan && t->sock && i < t->plan->nservers; i++)
    if (t->sock[i])
      zmq_close (t->sock[i]);
  free (t->sock);
  t->sock = NULL;
}

static int
connect_all (trainer_t *t, muster_bucket_plan_t *p)
{
  disconnect (t);
  muster_bucket_plan_free (&t->plan);
  t->plan = p;
  t->sock = calloc (p->nservers, sizeof *t->sock);
  if (t->sock == NULL)
    return -ENOMEM;
  for (size_t i = 0; i < p->nservers; i++)
    {
      char ep[300];
      snprintf (ep, sizeof ep, "tcp://%s:%d", p->servers[i].host,
                p->servers[i].port);
      t->sock[i] = zmq_socket (t->ctx, ZMQ_DEALER);
      int linger = 1000, tmo = RECV_TIMEOUT_MS;
      if (t->sock[i] == NULL)
        return -errno;
      zmq_setsockopt (t->sock[i], ZMQ_LINGER, &linger, sizeof linger);
      zmq_setsockopt (t->sock[i], ZMQ_RCVTIMEO, &tmo, sizeof tmo);
      if (zmq_connect (t->sock[i], ep) != 0)
        return -errno;
    }
  int world = muster_worker_world (t->w);
  t->nworkers = (uint32_t)(world - (int)p->nservers);
  t->me = muster_worker_role_rank (t->w);
  return 0;
}

/* One request to server i and its reply (into *m). */
static int
ask (trainer_t *t, size_t i, const ps_hdr_t *h, const void *p1, size_t l1,
     ps_in_t *m)
{
  if (ps_send (t->sock[i], NULL, h, p1, l1, NULL, 0) != 0
      || ps_recv (t->sock[i], 0, 0, m) != 0)
    {
      fprintf (stderr, "worker %d: server %zu does not answer: %s\n", t->me,
               i, zmq_strerror (errno));
      return -1;
    }
  if (m->h.op == PS_ERROR)
    {
      fprintf (stderr, "worker %d: server %zu: error %" PRIu64 "\n", t->me, i,
               m->h.a);
      ps_in_close (m);
      return -1;
    }
  return 0;
}

/* Pull the rows of t->uniq for `step` (nocreate: held-out ids). */
static int
pull (trainer_t *t, uint64_t step, int nocreate)
{
  size_t ns = t->plan->nservers;
  uint64_t *sel = malloc ((t->b.nuniq ? t->b.nuniq : 1) * sizeof *sel);
  size_t *idx = malloc ((t->b.nuniq ? t->b.nuniq : 1) * sizeof *idx);
  int rc = sel && idx ? 0 : -ENOMEM;
  for (size_t srv = 0; rc == 0 && srv < ns; srv++)
    {
      size_t n = 0;
      for (size_t k = 0; k < t->b.nuniq; k++)
        if ((size_t)muster_bucket_plan_owner (
                t->plan, ps_bucket (t->b.uniq[k], t->plan->nbuckets))
            == srv)
          {
            idx[n] = k;
            sel[n++] = t->b.uniq[k];
          }
      if (n == 0)
        continue;
      ps_hdr_t h = { PS_PULL, (uint32_t)n, step, (uint64_t)nocreate, 0 };
      ps_in_t m;
      if (ask (t, srv, &h, sel, n * sizeof *sel, &m) != 0)
        {
          rc = -EIO;
          break;
        }
      const float *rows = ps_in_data (&m, 1, n * PS_DIM * sizeof *rows);
      if (m.h.op != PS_ROWS || rows == NULL)
        rc = -EPROTO;
      for (size_t k = 0; rc == 0 && k < n; k++)
        memcpy (&t->b.w_rows[idx[k] * PS_DIM], &rows[k * PS_DIM],
                PS_DIM * sizeof *rows);
      ps_in_close (&m);
      t->rows_moved += n;
    }
  free (sel);
  free (idx);
  return rc;
}

static int
push (trainer_t *t, uint64_t step)
{
  size_t ns = t->plan->nservers;
  uint64_t *sel = malloc ((t->b.nuniq ? t->b.nuniq : 1) * sizeof *sel);
  float *g = malloc ((t->b.nuniq ? t->b.nuniq : 1) * PS_DIM * sizeof *g);
  int rc = sel && g ? 0 : -ENOMEM;
  for (size_t srv = 0; rc == 0 && srv < ns; srv++)
    {
      size_t n = 0;
      for (size_t k = 0; k < t->b.nuniq; k++)
        if ((size_t)muster_bucket_plan_owner (
                t->plan, ps_bucket (t->b.uniq[k], t->plan->nbuckets))
            == srv)
          {
            sel[n] = t->b.uniq[k];
            memcpy (&g[n * PS_DIM], &t->b.grads[k * PS_DIM],
                    PS_DIM * sizeof *g);
            n++;
          }
      ps_hdr_t h = { PS_PUSH, (uint32_t)n, step, (uint64_t)t->me, 0 };
      /* every server hears from every worker each step, even with no row */
      if (ps_send (t->sock[srv], NULL, &h, n ? (void *)sel : NULL,
                   n * sizeof *sel, n ? (void *)g : NULL,
                   n * PS_DIM * sizeof *g) != 0)
        rc = -errno;
      t->rows_moved += n;
    }
  free (sel);
  free (g);
  return rc;
}

static int
train_step (trainer_t *t, uint64_t step, double *loss)
{
  size_t B = t->o->batch;
  uint64_t *ids = malloc (B * PS_FIELDS * sizeof *ids);
  float *y = malloc (B * sizeof *y);
  int rc = ids && y ? 0 : -ENOMEM;
  for (size_t j = 0; rc == 0 && j < B; j++)
    {
      double truth;
      uint64_t i = (step * t->nworkers + (uint64_t)t->me) * B + j;
      ps_sample (t->o->seed, t->o->vocab, i, &ids[j * PS_FIELDS], &y[j],
                 &truth);
    }
  if (rc == 0)
    rc = ps_batch_ids (&t->b, ids, B);
  if (rc == 0)
    rc = pull (t, step, 0);
  *loss = 0;
  if (rc == 0)
    {
      *loss = ps_fm_grads (&t->b, y, B);
      rc = push (t, step);
    }
  free (ids);
  free (y);
  return rc;
}

/* The lowest step the servers wait for (a replacement starts there). */
static int
servers_step (trainer_t *t, uint64_t *out)
{
  uint64_t lo = UINT64_MAX;
  for (size_t i = 0; i < t->plan->nservers; i++)
    {
      ps_hdr_t h = { PS_STATUS, 0, 0, 0, 0 };
      ps_in_t m;
      if (ask (t, i, &h, NULL, 0, &m) != 0)
        return -EIO;
      lo = m.h.step < lo ? m.h.step : lo;
      ps_in_close (&m);
    }
  *out = lo == UINT64_MAX ? 0 : lo;
  return 0;
}

/* A new epoch: switch maps, moving buckets first when the plan says so. */
static int
new_epoch (trainer_t *t, uint64_t *step)
{
  muster_bucket_plan_t *p = NULL;
  int rc = muster_worker_bucket_plan (t->w, PLAN_WAIT_MS, &p);
  if (rc != 0)
    {
      fprintf (stderr, "worker %d: no bucket plan: %s\n", t->me,
               muster_strerror (rc));
      return rc;
    }
  if (p->nmoves == 0)
    return connect_all (t, p);
  int me = muster_worker_role_rank (t->w);
  uint32_t nw = (uint32_t)(muster_worker_world (t->w) - (int)p->nservers);
  char key[64];
  snprintf (key, sizeof key, "ps_ctr.next.%d", me);
  rc = muster_worker_kv_put (t->w, key, step, sizeof *step, 10000);
  uint64_t cut = *step;
  for (uint32_t r = 0; rc == 0 && r < nw; r++)
    {
      void *val = NULL;
      size_t len = 0;
      snprintf (key, sizeof key, "ps_ctr.next.%" PRIu32, r);
      rc = muster_worker_kv_get (t->w, key, &val, &len, 60000);
      uint64_t v = 0;
      if (rc == 0 && len == sizeof v)
        memcpy (&v, val, sizeof v);
      free (val);
      cut = v > cut ? v : cut;
    }
  /* the steps before the cut run on the old map */
  for (; rc == 0 && *step < cut; ++*step)
    {
      double loss;
      rc = train_step (t, *step, &loss);
    }
  uint64_t t0 = ps_now_ms ();
  if (rc == 0)
    rc = muster_worker_migration_done (t->w, p, 120000);
  if (rc != 0)
    {
      muster_bucket_plan_free (&p);
      fprintf (stderr, "worker %d: migration failed: %s\n", me,
               muster_strerror (rc));
      return rc;
    }
  printf ("worker %d: buckets moved at step %" PRIu64
          ": %zu -> %zu servers, %zu moves, waited %" PRIu64 " ms\n",
          me, cut, t->plan->nservers, p->nservers, p->nmoves,
          ps_now_ms () - t0);
  fflush (stdout);
  return connect_all (t, p);
}

static int
finish (trainer_t *t)
{
  uint64_t steps = t->o->steps, at = 0;
  /* every server has applied the last step */
  for (;;)
    {
      int rc = servers_step (t, &at);
      if (rc != 0)
        return rc;
      if (at >= steps)
        break;
      usleep (2000);
    }
  uint64_t rows = 0, csum = 0;
  for (size_t i = 0; i < t->plan->nservers; i++)
    {
      ps_hdr_t h = { PS_DUMP, 0, 0, 0, 0 };
      ps_in_t m;
      if (ask (t, i, &h, NULL, 0, &m) != 0)
        return -EIO;
      rows += m.h.a;
      csum += m.h.b;
      ps_in_close (&m);
    }
  /* held-out AUC, rows read without creating any */
  size_t n = t->o->eval;
  uint64_t *ids = malloc ((n ? n : 1) * PS_FIELDS * sizeof *ids);
  float *y = malloc ((n ? n : 1) * sizeof *y);
  double *score = malloc ((n ? n : 1) * sizeof *score);
  double *oracle = malloc ((n ? n : 1) * sizeof *oracle);
  int rc = ids && y && score && oracle ? 0 : -ENOMEM;
  for (size_t j = 0; rc == 0 && j < n; j++)
    ps_sample (t->o->seed, t->o->vocab, EVAL_BASE + j, &ids[j * PS_FIELDS],
               &y[j], &oracle[j]);
  if (rc == 0 && (rc = ps_batch_ids (&t->b, ids, n)) == 0
      && (rc = pull (t, steps, 1)) == 0)
    for (size_t j = 0; j < n; j++)
      score[j] = ps_fm_logit (&t->b, j);
  if (rc == 0)
    printf ("table rows=%" PRIu64 " checksum=%016" PRIx64
            " auc=%.4f oracle_auc=%.4f servers=%zu step=%" PRIu64 "\n",
            rows, csum, ps_auc (score, y, n), ps_auc (oracle, y, n),
            t->plan->nservers, steps);
  fflush (stdout);
  free (ids);
  free (y);
  free (score);
  free (oracle);
  for (size_t i = 0; i < t->plan->nservers; i++)
    {
      ps_hdr_t h = { PS_QUIT, 0, 0, 0, 0 };
      ps_in_t m;
      if (ask (t, i, &h, NULL, 0, &m) == 0)
        ps_in_close (&m);
    }
  return rc;
}

int
ps_trainer_main (muster_worker_t *w, const ps_opts_t *o)
{
  trainer_t t;
  memset (&t, 0, sizeof t);
  t.w = w;
  t.o = o;
  t.ctx = zmq_ctx_new ();
  muster_bucket_plan_t *p = NULL;
  int rc = t.ctx ? muster_worker_bucket_plan (w, PLAN_WAIT_MS, &p) : -ENOMEM;
  if (rc != 0)
    fprintf (stderr, "worker: no bucket plan (is there a ps role and "
             "--nbuckets?): %s\n", muster_strerror (rc));
  if (rc == 0)
    rc = connect_all (&t, p);
  muster_membership_t mb;
  muster_worker_membership_changed (w, &mb); /* this epoch is handled */
  uint64_t step = 0;
  if (rc == 0 && muster_worker_epoch (w) > 1)
    {
      rc = servers_step (&t, &step);
      printf ("worker %d: joined in epoch %" PRIu64 ", resuming at step %"
              PRIu64 "\n", t.me, muster_worker_epoch (w), step);
      fflush (stdout);
    }
  int fresh = step == 0;
  uint64_t t0 = ps_now_ms (), first = step;
  while (rc == 0 && step < o->steps)
    {
      if (muster_worker_membership_changed (w, &mb))
        {
          if ((rc = new_epoch (&t, &step)) != 0 || step >= o->steps)
            break;
        }
      if (fresh && o->crash_rank == t.me && step == o->crash_at)
        {
          printf ("worker %d: crashing at step %" PRIu64 "\n", t.me, step);
          fflush (stdout);
          _exit (3);
        }
      double loss = 0;
      if ((rc = train_step (&t, step, &loss)) != 0)
        break;
      step++;
      muster_worker_progress (w, step);
      if (t.me == 0 && step % 20 == 0)
        {
          printf ("step %" PRIu64 " loss %.4f servers %zu\n", step, loss,
                  t.plan->nservers);
          fflush (stdout);
        }
      if (o->step_ms)
        usleep ((useconds_t)o->step_ms * 1000);
    }
  uint64_t ms = ps_now_ms () - t0;
  if (rc == 0 && step > first)
    printf ("worker %d: %" PRIu64 " steps, %" PRIu64
            " rows pulled+pushed in %" PRIu64 " ms\n",
            t.me, step - first, t.rows_moved, ms);
  if (rc == 0 && t.me == 0)
    rc = finish (&t);
  disconnect (&t);
  muster_bucket_plan_free (&t.plan);
  ps_batch_free (&t.b);
  if (t.ctx)
    zmq_ctx_term (t.ctx);
  return rc == 0 ? 0 : 1;
}
