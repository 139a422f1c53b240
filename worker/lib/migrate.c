/*
 * migrate.c — live bucket migration in libmuster (see <muster/worker.h>,
 * "live bucket migration", and docs/ps.md).
 *
 * The coordinator puts each epoch's plan ("ps.plan", common/
 * proto_schema.def) into the epoch's KV store under "muster.ps.plan"
 * (coordinator/ps_plan.c); this file reads and decodes it into the public
 * structs, and builds the report and the barrier on the same store: a
 * move reported done is the key "muster.ps.moved.<epoch>.<index>", and the
 * completing barrier is "muster.ps.migrated.<epoch>".  Because every
 * server checks its own incoming moves are reported before it enters the
 * barrier, the barrier's release means every move is done.  Everything is
 * scoped to the epoch by the store itself: a newer epoch fails the waits
 * with MUSTER_EMEMBERSHIP.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <muster/error.h>
#include <muster/worker.h>

#include "common/proto.h"

#define PLAN_KEY "muster.ps.plan"

/* The public plan plus what its pointers point into. */
typedef struct plan_block {
  muster_bucket_plan_t pub; /* first: the caller's pointer is this */
  mu_msg_t msg;             /* decoded ps.plan: owns the strings */
  muster_bucket_server_t *sv;
  muster_bucket_move_t *mv;
} plan_block_t;

void
muster_bucket_plan_free (muster_bucket_plan_t **p)
{
  if (p == NULL || *p == NULL)
    return;
  plan_block_t *b = (plan_block_t *)*p;
  mu_msg_clear (&b->msg);
  free (b->sv);
  free (b->mv);
  free (b);
  *p = NULL;
}

static int
convert (plan_block_t *b)
{
  const mu_ps_plan_t *pl = &b->msg.u.ps_plan;
  b->sv = calloc (pl->servers.n ? pl->servers.n : 1, sizeof *b->sv);
  b->mv = calloc (pl->moves.n ? pl->moves.n : 1, sizeof *b->mv);
  if (b->sv == NULL || b->mv == NULL)
    return -ENOMEM;
  uint64_t next = 0;
  for (size_t i = 0; i < pl->servers.n; i++)
    {
      const mu_ps_server_t *s = &pl->servers.v[i];
      if (s->first != next || s->role_rank != i)
        return MUSTER_EPROTO; /* ranges must tile [0, nbuckets) in order */
      next += s->count;
      b->sv[i].role_rank = (int)s->role_rank;
      b->sv[i].first = s->first;
      b->sv[i].count = s->count;
      b->sv[i].host = s->host;
      b->sv[i].port = (int)s->port;
    }
  if (next != pl->nbuckets || pl->servers.n == 0)
    return MUSTER_EPROTO;
  for (size_t i = 0; i < pl->moves.n; i++)
    {
      const mu_ps_move_t *m = &pl->moves.v[i];
      if (m->to_rank >= pl->servers.n || m->count == 0
          || m->first + m->count > pl->nbuckets
          || m->from_rank >= (int64_t)pl->servers.n)
        return MUSTER_EPROTO;
      b->mv[i].first = m->first;
      b->mv[i].count = m->count;
      b->mv[i].from_rank = (int)m->from_rank;
      b->mv[i].from_old_rank = (int)m->from_old_rank;
      b->mv[i].from_host = m->from_host;
      b->mv[i].from_port = (int)m->from_port;
      b->mv[i].to_rank = (int)m->to_rank;
      b->mv[i].lost = m->lost ? 1 : 0;
    }
  b->pub.epoch = pl->epoch;
  b->pub.prev_epoch = pl->prev_epoch;
  b->pub.nbuckets = pl->nbuckets;
  b->pub.nservers = pl->servers.n;
  b->pub.servers = b->sv;
  b->pub.nmoves = pl->moves.n;
  b->pub.moves = b->mv;
  return 0;
}

int
muster_worker_bucket_plan (muster_worker_t *w, int timeout_ms,
                           muster_bucket_plan_t **out)
{
  if (w == NULL || out == NULL)
    return MUSTER_EINVAL;
  *out = NULL;
  void *val = NULL;
  size_t len = 0;
  int rc = muster_worker_kv_get (w, PLAN_KEY, &val, &len, timeout_ms);
  if (rc != 0)
    return rc;
  plan_block_t *b = calloc (1, sizeof *b);
  if (b == NULL)
    {
      free (val);
      return -ENOMEM;
    }
  rc = mu_msg_decode (val, len, &b->msg, NULL, 0);
  free (val);
  if (rc == 0 && b->msg.type != MU_MSG_PS_PLAN)
    rc = MUSTER_EPROTO;
  if (rc == 0)
    rc = convert (b);
  if (rc != 0)
    {
      muster_bucket_plan_t *p = &b->pub;
      muster_bucket_plan_free (&p);
      return rc;
    }
  *out = &b->pub;
  return 0;
}

int
muster_bucket_plan_owner (const muster_bucket_plan_t *p, uint64_t bucket)
{
  if (p == NULL || bucket >= p->nbuckets || p->nservers == 0)
    return MUSTER_EINVAL;
  size_t lo = 0, hi = p->nservers; /* last server with first <= bucket */
  while (hi - lo > 1)
    {
      size_t mid = lo + (hi - lo) / 2;
      if (p->servers[mid].first <= bucket)
        lo = mid;
      else
        hi = mid;
    }
  /* an empty range (nbuckets < servers) starts where the next one does,
   * so the last server whose range starts at or before `bucket` owns it */
  return (int)lo;
}

static void
moved_key (char *buf, size_t size, const muster_bucket_plan_t *p, size_t i)
{
  snprintf (buf, size, "muster.ps.moved.%" PRIu64 ".%zu", p->epoch, i);
}

int
muster_worker_bucket_moved (muster_worker_t *w, const muster_bucket_plan_t *p,
                            size_t move, int timeout_ms)
{
  if (w == NULL || p == NULL || move >= p->nmoves
      || p->epoch != muster_worker_epoch (w))
    return MUSTER_EINVAL;
  char key[96];
  moved_key (key, sizeof key, p, move);
  return muster_worker_kv_put (w, key, "1", 1, timeout_ms);
}

/* The checks before the barrier: 0, or why this member may not enter. */
static int
check_reported (muster_worker_t *w, const muster_bucket_plan_t *p)
{
  if (w == NULL || p == NULL || p->epoch != muster_worker_epoch (w))
    return MUSTER_EINVAL;
  const char *role = muster_worker_role (w);
  int me = muster_worker_role_rank (w);
  if (role == NULL || strcmp (role, "ps") != 0)
    return 0;
  for (size_t i = 0; i < p->nmoves; i++)
    if (p->moves[i].to_rank == me)
      {
        char key[96];
        void *val = NULL;
        size_t len = 0;
        moved_key (key, sizeof key, p, i);
        int rc = muster_worker_kv_get (w, key, &val, &len, 0);
        free (val);
        if (rc != 0)
          return rc;
      }
  return 0;
}

static void
barrier_name (char *buf, size_t size, const muster_bucket_plan_t *p)
{
  snprintf (buf, size, "muster.ps.migrated.%" PRIu64, p->epoch);
}

int
muster_worker_migration_done (muster_worker_t *w,
                              const muster_bucket_plan_t *p, int timeout_ms)
{
  int rc = check_reported (w, p);
  if (rc != 0 || p->nmoves == 0)
    return rc;
  char name[64];
  barrier_name (name, sizeof name, p);
  return muster_worker_barrier (w, name, timeout_ms);
}

int
muster_worker_migration_done_nb (muster_worker_t *w,
                                 const muster_bucket_plan_t *p,
                                 int timeout_ms, muster_req_t **req)
{
  if (req == NULL)
    return MUSTER_EINVAL;
  *req = NULL;
  int rc = check_reported (w, p);
  if (rc != 0 || p->nmoves == 0)
    return rc;
  char name[64];
  barrier_name (name, sizeof name, p);
  return muster_worker_barrier_nb (w, name, timeout_ms, req);
}
