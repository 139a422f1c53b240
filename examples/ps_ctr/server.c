/*
 * server.c — a parameter server of ps_ctr: serves the rows of the hash
 * buckets it owns, applies the workers' gradients with Adagrad, and moves
 * buckets live when muster says the set of servers changed.
 *
 * Steps.  Every worker pushes to every server once per step (possibly no
 * row).  A server applies step s when it holds the pushes of all W
 * workers for s, in worker order, so the table after step s does not
 * depend on arrival order; a pull for step s waits until s - staleness
 * steps are applied (staleness 0: synchronous, deterministic).
 *
 * Migration (docs/ps.md).  When a new epoch's plan has moves, the workers
 * agree on a cut step C through the KV store (each puts the next step it
 * would start; C is the largest): every step before C runs on the old map,
 * every step from C on the new one.  A source hands over a move's rows
 * only once it applied every step before C (the MIGRATE request carries
 * C and waits), and they leave its table; the destination copies them
 * over ZeroMQ from the source's MUSTER_PEER_PORT, reports the move
 * (muster_worker_bucket_moved), and enters the completing barrier
 * (muster_worker_migration_done_nb) while it goes on serving.  A server
 * whose node leaves the job (SIGTERM after agent.leave) is not in the new
 * epoch: it keeps serving until every bucket it owned was taken, then
 * exits 0.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zmq.h>

#include "wire.h"

#define PLAN_WAIT_MS 20000
#define MIGRATE_WAIT_MS 120000
#define DRAIN_LIMIT_MS 60000

typedef struct push {
  uint64_t step;
  uint32_t worker;
  ps_in_t *m; /* ids in part[1], grads in part[2] */
} push_t;

enum mig_phase { MIG_NONE = 0, MIG_CUT, MIG_COPY, MIG_BARRIER };

typedef struct srv {
  muster_worker_t *w;
  const ps_opts_t *o;
  void *ctx, *router;
  ps_table_t *t;
  uint64_t done;      /* steps applied */
  int done_known;     /* a server that joined later learns it */
  uint32_t nworkers;
  int me;             /* role rank */
  muster_bucket_plan_t *plan; /* current map */
  push_t *push;
  size_t npush, cap_push;
  ps_in_t **wait;     /* pulls and migrates that wait for steps */
  size_t nwait, cap_wait;
  /* migration in progress */
  enum mig_phase phase;
  muster_bucket_plan_t *next;
  muster_req_t **cut_req;
  uint64_t cut;
  void **src;         /* a DEALER per move (NULL: not mine or done) */
  size_t copies_left;
  muster_req_t *barrier;
  uint64_t mig_t0, t_cut, t_copied; /* when the plan, cut, copies came */
  uint64_t rows_in, rows_out;
  /* leaving */
  int draining;
  uint64_t drain_left;
  uint64_t drain_t0;
  int quit;
} srv_t;

static volatile sig_atomic_t got_term;

static void
on_term (int sig)
{
  (void)sig;
  got_term = 1;
}

static void
reply_hdr (srv_t *s, ps_in_t *m, uint32_t op, uint64_t step, uint64_t a,
           uint64_t b)
{
  ps_hdr_t h = { op, 0, step, a, b };
  ps_send (s->router, &m->rid, &h, NULL, 0, NULL, 0);
}

static int
pull_ready (const srv_t *s, uint64_t step)
{
  return s->done_known && s->done + s->o->staleness >= step;
}

static void
serve_pull (srv_t *s, ps_in_t *m)
{
  uint32_t n = m->h.n;
  const uint64_t *ids = ps_in_data (m, 1, n * sizeof *ids);
  float *out = malloc ((n ? n : 1) * PS_DIM * sizeof *out);
  if ((ids == NULL && n > 0) || out == NULL)
    {
      free (out);
      reply_hdr (s, m, PS_ERROR, 0, EPROTO, 0);
      return;
    }
  for (uint32_t i = 0; i < n; i++)
    {
      float init[PS_ROW];
      float *row = ps_table_row (s->t, ids[i], m->h.a == 0);
      if (row == NULL)
        {
          ps_row_init (ids[i], init);
          row = init;
        }
      memcpy (&out[i * PS_DIM], row, PS_DIM * sizeof *out);
    }
  ps_hdr_t h = { PS_ROWS, n, m->h.step, 0, 0 };
  ps_send (s->router, &m->rid, &h, out, n * PS_DIM * sizeof *out, NULL, 0);
  free (out);
}

static void
serve_migrate (srv_t *s, ps_in_t *m)
{
  uint64_t *ids = NULL;
  float *rows = NULL;
  size_t n = 0;
  uint64_t t0 = ps_now_ms ();
  if (s->plan == NULL
      || ps_table_take (s->t, s->plan->nbuckets, m->h.a, m->h.b, &ids, &rows,
                        &n) != 0)
    {
      reply_hdr (s, m, PS_ERROR, 0, ENOMEM, 0);
      return;
    }
  ps_hdr_t h = { PS_MOVED, (uint32_t)n, m->h.step, m->h.a, m->h.b };
  ps_send (s->router, &m->rid, &h, ids, n * sizeof *ids, rows,
           n * PS_ROW * sizeof *rows);
  s->rows_out += n;
  printf ("server %d: handed over %zu rows of buckets [%" PRIu64 ",%" PRIu64
          ") at step %" PRIu64 " in %" PRIu64 " ms\n",
          s->me, n, m->h.a, m->h.a + m->h.b, m->h.step, ps_now_ms () - t0);
  fflush (stdout);
  free (ids);
  free (rows);
  if (s->draining)
    s->drain_left = s->drain_left > m->h.b ? s->drain_left - m->h.b : 0;
}

static int
defer (srv_t *s, ps_in_t *m)
{
  if (s->nwait == s->cap_wait)
    {
      size_t cap = s->cap_wait ? 2 * s->cap_wait : 16;
      ps_in_t **v = realloc (s->wait, cap * sizeof *v);
      if (v == NULL)
        return -1;
      s->wait = v;
      s->cap_wait = cap;
    }
  s->wait[s->nwait++] = m;
  return 0;
}

static void
take_push (srv_t *s, ps_in_t *m)
{
  if (!s->done_known)
    {
      s->done = m->h.step; /* joined later, without a migration */
      s->done_known = 1;
    }
  uint32_t n = m->h.n;
  if (m->h.step < s->done
      || (n > 0 && (ps_in_data (m, 1, n * sizeof (uint64_t)) == NULL
                    || ps_in_data (m, 2, n * PS_DIM * sizeof (float)) == NULL)))
    goto drop; /* a replaced worker's repeat, or malformed */
  for (size_t i = 0; i < s->npush; i++)
    if (s->push[i].step == m->h.step && s->push[i].worker == m->h.a)
      goto drop;
  if (s->npush == s->cap_push)
    {
      size_t cap = s->cap_push ? 2 * s->cap_push : 16;
      push_t *v = realloc (s->push, cap * sizeof *v);
      if (v == NULL)
        goto drop;
      s->push = v;
      s->cap_push = cap;
    }
  s->push[s->npush++] = (push_t){ m->h.step, (uint32_t)m->h.a, m };
  return;
drop:
  ps_in_close (m);
  free (m);
}

/* Apply every step whose pushes are all in, in worker order. */
static void
apply_ready (srv_t *s)
{
  while (s->done_known && s->nworkers > 0)
    {
      size_t have = 0;
      for (size_t i = 0; i < s->npush; i++)
        have += s->push[i].step == s->done;
      if (have < s->nworkers)
        return;
      for (uint32_t wk = 0; wk < s->nworkers; wk++)
        for (size_t i = 0; i < s->npush; i++)
          if (s->push[i].step == s->done && s->push[i].worker == wk)
            {
              ps_in_t *m = s->push[i].m;
              uint32_t n = m->h.n;
              const uint64_t *ids = n ? ps_in_data (m, 1, n * 8) : NULL;
              const float *g
                  = n ? ps_in_data (m, 2, n * PS_DIM * sizeof *g) : NULL;
              for (uint32_t k = 0; k < n; k++)
                {
                  float *row = ps_table_row (s->t, ids[k], 1);
                  if (row != NULL)
                    ps_row_adagrad (row, &g[k * PS_DIM], s->o->lr);
                }
            }
      size_t k = 0;
      for (size_t i = 0; i < s->npush; i++)
        if (s->push[i].step == s->done)
          {
            ps_in_close (s->push[i].m);
            free (s->push[i].m);
          }
        else
          s->push[k++] = s->push[i];
      s->npush = k;
      s->done++;
    }
}

static void
serve_waiting (srv_t *s)
{
  size_t k = 0;
  for (size_t i = 0; i < s->nwait; i++)
    {
      ps_in_t *m = s->wait[i];
      int ready = m->h.op == PS_PULL ? pull_ready (s, m->h.step)
                                     : s->done_known && s->done >= m->h.step;
      if (!ready)
        {
          s->wait[k++] = m;
          continue;
        }
      if (m->h.op == PS_PULL)
        serve_pull (s, m);
      else
        serve_migrate (s, m);
      ps_in_close (m);
      free (m);
    }
  s->nwait = k;
}

static void
handle (srv_t *s, ps_in_t *m)
{
  switch (m->h.op)
    {
    case PS_PULL:
      if (!s->done_known && s->phase == MIG_NONE)
        {
          s->done = m->h.step;
          s->done_known = 1;
        }
      /* fall through */
    case PS_MIGRATE:
      if (defer (s, m) == 0)
        return; /* served by serve_waiting */
      reply_hdr (s, m, PS_ERROR, 0, ENOMEM, 0);
      break;
    case PS_PUSH:
      take_push (s, m);
      return;
    case PS_STATUS:
      reply_hdr (s, m, PS_STATUS, s->done_known ? s->done : UINT64_MAX, 0, 0);
      break;
    case PS_DUMP:
      reply_hdr (s, m, PS_DUMP, s->done, ps_table_rows (s->t),
                 ps_table_checksum (s->t));
      break;
    case PS_QUIT:
      reply_hdr (s, m, PS_QUIT, 0, 0, 0);
      s->quit = 1;
      break;
    default:
      reply_hdr (s, m, PS_ERROR, 0, EPROTO, 0);
    }
  ps_in_close (m);
  free (m);
}

/* ------------------------------------------------------------ migration */

static uint32_t
workers_of (const srv_t *s, const muster_bucket_plan_t *p)
{
  int world = muster_worker_world (s->w);
  return world > (int)p->nservers ? (uint32_t)(world - (int)p->nservers) : 0;
}

static void
use_plan (srv_t *s, muster_bucket_plan_t *p)
{
  muster_bucket_plan_free (&s->plan);
  s->plan = p;
  s->nworkers = workers_of (s, p);
  s->me = muster_worker_role_rank (s->w);
}

static int
start_epoch (srv_t *s)
{
  muster_bucket_plan_t *p = NULL;
  int rc = muster_worker_bucket_plan (s->w, PLAN_WAIT_MS, &p);
  if (rc != 0)
    {
      fprintf (stderr, "server: no bucket plan: %s\n", muster_strerror (rc));
      return rc;
    }
  if (p->nmoves == 0)
    {
      use_plan (s, p);
      return 0;
    }
  s->next = p;
  s->mig_t0 = ps_now_ms ();
  s->rows_in = 0;
  uint32_t nw = workers_of (s, p);
  s->cut_req = calloc (nw ? nw : 1, sizeof *s->cut_req);
  if (s->cut_req == NULL)
    return -ENOMEM;
  for (uint32_t r = 0; r < nw; r++)
    {
      char key[64];
      snprintf (key, sizeof key, "ps_ctr.next.%" PRIu32, r);
      if ((rc = muster_worker_kv_get_nb (s->w, key, MIGRATE_WAIT_MS,
                                         &s->cut_req[r])) != 0)
        return rc;
    }
  s->phase = MIG_CUT;
  return 0;
}

static int
cut_known (srv_t *s)
{
  uint32_t nw = workers_of (s, s->next);
  for (uint32_t r = 0; r < nw; r++)
    if (!muster_req_done (s->cut_req[r]))
      return 0;
  s->cut = 0;
  int rc = 0;
  for (uint32_t r = 0; r < nw; r++)
    {
      void *val = NULL;
      size_t len = 0;
      int e = muster_req_wait (s->cut_req[r], 0, &val, &len);
      uint64_t v = 0;
      if (e == 0 && len == sizeof v)
        memcpy (&v, val, sizeof v);
      else
        rc = e ? e : MUSTER_EPROTO;
      free (val);
      muster_req_free (&s->cut_req[r]);
      s->cut = v > s->cut ? v : s->cut;
    }
  free (s->cut_req);
  s->cut_req = NULL;
  return rc ? rc : 1;
}

static int
start_copies (srv_t *s)
{
  const muster_bucket_plan_t *p = s->next;
  int me = muster_worker_role_rank (s->w); /* already the new epoch's */
  s->src = calloc (p->nmoves, sizeof *s->src);
  if (s->src == NULL)
    return -ENOMEM;
  s->copies_left = 0;
  for (size_t i = 0; i < p->nmoves; i++)
    {
      const muster_bucket_move_t *mv = &p->moves[i];
      if (mv->to_rank != me)
        continue;
      if (mv->lost)
        {
          printf ("server %d: buckets [%" PRIu64 ",%" PRIu64
                  ") were lost with their server: starting them empty\n",
                  me, mv->first, mv->first + mv->count);
          int rc = muster_worker_bucket_moved (s->w, p, i, 10000);
          if (rc != 0)
            return rc;
          continue;
        }
      char ep[300];
      snprintf (ep, sizeof ep, "tcp://%s:%d", mv->from_host, mv->from_port);
      void *d = zmq_socket (s->ctx, ZMQ_DEALER);
      int linger = 0;
      zmq_setsockopt (d, ZMQ_LINGER, &linger, sizeof linger);
      if (d == NULL || zmq_connect (d, ep) != 0)
        {
          if (d != NULL)
            zmq_close (d);
          return -errno;
        }
      ps_hdr_t h = { PS_MIGRATE, 0, s->cut, mv->first, mv->count };
      if (ps_send (d, NULL, &h, NULL, 0, NULL, 0) != 0)
        {
          zmq_close (d);
          return -errno;
        }
      s->src[i] = d;
      s->copies_left++;
    }
  return 0;
}

static int
take_copy (srv_t *s, size_t i)
{
  ps_in_t m;
  if (ps_recv (s->src[i], 0, ZMQ_DONTWAIT, &m) != 0)
    return errno == EAGAIN ? 0 : -errno;
  int rc = 0;
  uint32_t n = m.h.n;
  const uint64_t *ids = n ? ps_in_data (&m, 1, n * sizeof *ids) : NULL;
  const float *rows = n ? ps_in_data (&m, 2, n * PS_ROW * sizeof *rows) : NULL;
  if (m.h.op != PS_MOVED || (n > 0 && (ids == NULL || rows == NULL)))
    rc = MUSTER_EPROTO;
  else if (ps_table_reserve (s->t, n) != 0)
    rc = -ENOMEM;
  for (uint32_t k = 0; rc == 0 && k < n; k++)
    if (ps_table_put (s->t, ids[k], &rows[k * PS_ROW]) != 0)
      rc = -ENOMEM;
  ps_in_close (&m);
  zmq_close (s->src[i]);
  s->src[i] = NULL;
  if (rc != 0)
    return rc;
  s->rows_in += n;
  s->copies_left--;
  return muster_worker_bucket_moved (s->w, s->next, i, 10000);
}

/* One turn of the migration in progress: 0, or an error that ends it. */
static int
migrate_turn (srv_t *s)
{
  int rc;
  switch (s->phase)
    {
    case MIG_NONE:
      return 0;
    case MIG_CUT:
      if ((rc = cut_known (s)) <= 0)
        return rc;
      s->t_cut = ps_now_ms ();
      if (!s->done_known)
        {
          s->done = s->cut; /* a new server: the table is as of the cut */
          s->done_known = 1;
        }
      if ((rc = start_copies (s)) != 0)
        return rc;
      s->phase = MIG_COPY;
      /* fall through */
    case MIG_COPY:
      for (size_t i = 0; i < s->next->nmoves; i++)
        if (s->src != NULL && s->src[i] != NULL && (rc = take_copy (s, i)) != 0)
          return rc;
      if (s->copies_left > 0)
        return 0;
      free (s->src);
      s->src = NULL;
      s->t_copied = ps_now_ms ();
      if ((rc = muster_worker_migration_done_nb (s->w, s->next,
                                                 MIGRATE_WAIT_MS, &s->barrier)))
        return rc;
      s->phase = MIG_BARRIER;
      /* fall through */
    case MIG_BARRIER:
      if (s->barrier != NULL && !muster_req_done (s->barrier))
        return 0;
      rc = s->barrier ? muster_req_wait (s->barrier, 0, NULL, NULL) : 0;
      muster_req_free (&s->barrier);
      if (rc != 0)
        return rc;
      uint64_t now = ps_now_ms ();
      printf ("server %d: migration to %zu servers done at step %" PRIu64
              ": %" PRIu64 " rows in, %" PRIu64 " rows out, %" PRIu64
              " ms (cut agreed %" PRIu64 ", copied %" PRIu64 ", barrier %"
              PRIu64 "), %zu rows held\n",
              muster_worker_role_rank (s->w), s->next->nservers, s->cut,
              s->rows_in, s->rows_out, now - s->mig_t0, s->t_cut - s->mig_t0,
              s->t_copied - s->t_cut, now - s->t_copied, ps_table_rows (s->t));
      fflush (stdout);
      use_plan (s, s->next);
      s->next = NULL;
      s->rows_out = 0;
      s->phase = MIG_NONE;
      return 0;
    }
  return 0;
}

/* ------------------------------------------------------------ main loop */

static int
bind_router (srv_t *s)
{
  muster_peer_t me;
  int rc = muster_worker_peer (s->w, muster_worker_rank (s->w), &me);
  if (rc != 0)
    return rc;
  char ep[64];
  snprintf (ep, sizeof ep, "tcp://*:%d", me.port);
  s->router = zmq_socket (s->ctx, ZMQ_ROUTER);
  if (s->router == NULL || zmq_bind (s->router, ep) != 0)
    {
      fprintf (stderr, "server: cannot bind %s: %s\n", ep,
               zmq_strerror (errno));
      return -errno;
    }
  return 0;
}

static void
prefill (srv_t *s)
{
  const muster_bucket_server_t *mine = &s->plan->servers[s->me];
  for (uint64_t id = 0; id < s->o->prefill; id++)
    {
      uint64_t b = ps_bucket (id, s->plan->nbuckets);
      if (b >= mine->first && b < mine->first + mine->count)
        ps_table_row (s->t, id, 1);
    }
  printf ("server %d: prefilled %zu rows\n", s->me, ps_table_rows (s->t));
  fflush (stdout);
}

/* Bench baseline: the I/O of moving these rows through a checkpoint,
 * i.e. save them all (write + fsync) and load them back into a new table. */
static void
ckpt_round_trip (srv_t *s)
{
  char path[4096];
  snprintf (path, sizeof path, "%s/ps_ctr-shard-%d", s->o->ckpt_baseline,
            s->me);
  uint64_t *ids = NULL;
  float *rows = NULL;
  size_t n = 0;
  uint64_t t0 = ps_now_ms ();
  if (ps_table_take (s->t, s->plan->nbuckets, 0, s->plan->nbuckets, &ids,
                     &rows, &n) != 0)
    return;
  FILE *f = fopen (path, "wb");
  int ok = f != NULL && fwrite (ids, sizeof *ids, n, f) == n
           && fwrite (rows, PS_ROW * sizeof *rows, n, f) == n
           && fflush (f) == 0 && fsync (fileno (f)) == 0;
  if (f != NULL)
    fclose (f);
  uint64_t t1 = ps_now_ms ();
  free (ids);
  free (rows);
  ids = malloc ((n ? n : 1) * sizeof *ids);
  rows = malloc ((n ? n : 1) * PS_ROW * sizeof *rows);
  f = ok ? fopen (path, "rb") : NULL;
  ok = f != NULL && ids != NULL && rows != NULL
       && fread (ids, sizeof *ids, n, f) == n
       && fread (rows, PS_ROW * sizeof *rows, n, f) == n;
  if (f != NULL)
    fclose (f);
  for (size_t i = 0; ok && i < n; i++)
    ok = ps_table_put (s->t, ids[i], &rows[i * PS_ROW]) == 0;
  uint64_t t2 = ps_now_ms ();
  unlink (path);
  free (ids);
  free (rows);
  printf ("server %d: checkpoint round trip of %zu rows: save %" PRIu64
          " ms, restore %" PRIu64 " ms%s\n",
          s->me, n, t1 - t0, t2 - t1, ok ? "" : " (FAILED)");
  fflush (stdout);
}

static void
start_drain (srv_t *s)
{
  s->draining = 1;
  s->drain_t0 = ps_now_ms ();
  s->drain_left = s->plan ? s->plan->servers[s->me].count : 0;
  printf ("server %d: leaving; serving my %" PRIu64
          " buckets until the new owners took them\n",
          s->me, s->drain_left);
  fflush (stdout);
  if (s->drain_left == 0)
    s->quit = 1;
}

static int
loop (srv_t *s)
{
  while (!s->quit)
    {
      zmq_pollitem_t it = { s->router, 0, ZMQ_POLLIN, 0 };
      if (zmq_poll (&it, 1, 2) < 0 && errno != EINTR)
        return -errno;
      for (;;)
        {
          ps_in_t *m = malloc (sizeof *m);
          if (m == NULL)
            return -ENOMEM;
          if (ps_recv (s->router, 1, ZMQ_DONTWAIT, m) != 0)
            {
              free (m);
              break;
            }
          handle (s, m);
        }
      apply_ready (s);
      serve_waiting (s);
      if (got_term && !s->draining)
        start_drain (s);
      if (s->draining)
        {
          if (s->drain_left == 0 || ps_now_ms () - s->drain_t0 > DRAIN_LIMIT_MS)
            {
              printf ("server %d: %s; exiting\n", s->me,
                      s->drain_left ? "drain timed out" : "drained");
              s->quit = 1;
            }
          continue;
        }
      muster_membership_t mb;
      if (s->phase == MIG_NONE && muster_worker_membership_changed (s->w, &mb))
        {
          int rc = start_epoch (s);
          if (rc != 0)
            return rc;
        }
      int rc = migrate_turn (s);
      if (rc != 0)
        {
          fprintf (stderr, "server %d: migration failed: %s\n", s->me,
                   muster_strerror (rc));
          return rc;
        }
    }
  return 0;
}

int
ps_server_main (muster_worker_t *w, const ps_opts_t *o)
{
  srv_t s;
  memset (&s, 0, sizeof s);
  s.w = w;
  s.o = o;
  s.me = muster_worker_role_rank (w);
  printf ("ps_ctr: server start pid %d epoch %" PRIu64 "\n", (int)getpid (),
          muster_worker_epoch (w));
  fflush (stdout);
  struct sigaction sa;
  memset (&sa, 0, sizeof sa);
  sa.sa_handler = on_term;
  sigaction (SIGTERM, &sa, NULL);
  s.ctx = zmq_ctx_new ();
  s.t = ps_table_new ();
  int rc = s.ctx && s.t ? bind_router (&s) : -ENOMEM;
  if (rc == 0)
    {
      /* A server of the first epoch starts at step 0; one that joins later
       * learns its step from the migration (or the first push). */
      s.done_known = muster_worker_epoch (w) == 1;
      rc = start_epoch (&s);
      muster_membership_t mb;
      muster_worker_membership_changed (w, &mb); /* this epoch is handled */
    }
  if (rc == 0 && o->prefill && s.plan != NULL)
    prefill (&s);
  if (rc == 0 && o->ckpt_baseline != NULL && s.plan != NULL)
    ckpt_round_trip (&s);
  if (rc == 0)
    rc = loop (&s);
  printf ("server %d: %zu rows at exit\n", s.me, s.t ? ps_table_rows (s.t) : 0);
  fflush (stdout);
  for (size_t i = 0; i < s.npush; i++)
    {
      ps_in_close (s.push[i].m);
      free (s.push[i].m);
    }
  for (size_t i = 0; i < s.nwait; i++)
    {
      ps_in_close (s.wait[i]);
      free (s.wait[i]);
    }
  free (s.push);
  free (s.wait);
  if (s.router)
    {
      int linger = 2000;
      zmq_setsockopt (s.router, ZMQ_LINGER, &linger, sizeof linger);
      zmq_close (s.router);
    }
  if (s.ctx)
    zmq_ctx_term (s.ctx);
  muster_bucket_plan_free (&s.plan);
  muster_bucket_plan_free (&s.next);
  ps_table_destroy (&s.t);
  return rc == 0 ? 0 : 1;
}
