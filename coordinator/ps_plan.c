/*
 * ps_plan.c — publish each epoch's bucket map and migration moves (see
 * ps_plan.h).
 *
 * The job keeps the servers of its current epoch (role rank order) with
 * their ids and addresses; a new epoch matches its servers to them by
 * (node key, local rank) among those whose process is still alive, asks
 * the pure planner for the moves, fills the "ps.plan" message and stores
 * it straight into the epoch's KV map (the coordinator's own key: no
 * quota, no waiter can exist yet because the store was just emptied).
 */
#include "coordinator/ps_plan.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint/bucket_plan.h"
#include "checkpoint/buckets.h"

enum
{
  PS_LIVE = 0,
  PS_LEFT = 1, /* its node left cleanly: it drains its buckets */
  PS_LOST = 2  /* its process or node is gone: its buckets are lost */
};

typedef struct ps_server
{
  uint32_t node_key;
  uint32_t local;
  uint64_t role_rank;
  uint64_t id;
  char *host;
  uint64_t port;
  int gone;
} ps_server_t;

struct mu_ps_state
{
  uint64_t next_id;
  uint64_t epoch;   /* epoch of `v` */
  ps_server_t *v;   /* servers of that epoch, role rank order */
  size_t n;
};

static void
servers_free (ps_server_t *v, size_t n)
{
  for (size_t i = 0; i < n; i++)
    free (v[i].host);
  free (v);
}

void
mu_ps_plan_free (mu_job_t *j)
{
  if (j->ps == NULL)
    return;
  servers_free (j->ps->v, j->ps->n);
  free (j->ps);
  j->ps = NULL;
}

static int
ps_role (const mu_job_t *j, uint32_t *role)
{
  if (j->spec == NULL || j->spec->nbuckets == 0)
    return 0;
  for (size_t i = 0; i < j->spec->roles.n; i++)
    if (strcmp (j->spec->roles.v[i].name, "ps") == 0)
      {
        *role = (uint32_t)i;
        return 1;
      }
  return 0;
}

static int
cmp_rank (const void *a, const void *b)
{
  const ps_server_t *x = a, *y = b;
  return x->role_rank < y->role_rank ? -1 : x->role_rank > y->role_rank;
}

static ps_server_t *
find_live (mu_ps_state_t *ps, uint32_t key, uint32_t local)
{
  for (size_t i = 0; i < ps->n; i++)
    if (ps->v[i].node_key == key && ps->v[i].local == local
        && ps->v[i].gone == PS_LIVE)
      return &ps->v[i];
  return NULL;
}

/* The epoch's servers, ids matched to the previous epoch's. */
static int
collect (mu_job_t *j, uint32_t role, const mu_rdzv_member_t *mem, size_t n,
         ps_server_t **out, size_t *nout)
{
  size_t cnt = 0;
  for (size_t i = 0; i < n; i++)
    if (mem[i].role == role)
      cnt += mem[i].nproc;
  ps_server_t *v = calloc (cnt ? cnt : 1, sizeof *v);
  if (v == NULL)
    return -ENOMEM;
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    for (uint32_t l = 0; mem[i].role == role && l < mem[i].nproc; l++)
      {
        mu_node_t *node = mu_coord_node (j->coord, mem[i].key);
        ps_server_t *s = &v[k++];
        s->node_key = mem[i].key;
        s->local = l;
        s->role_rank = mem[i].role_first_rank + l;
        s->port = node && node->port_base ? node->port_base + l : 0;
        s->host = strdup (node && node->host ? node->host : "?");
        ps_server_t *was = find_live (j->ps, mem[i].key, l);
        s->id = was ? was->id : ++j->ps->next_id;
        if (s->host == NULL)
          {
            servers_free (v, k);
            return -ENOMEM;
          }
      }
  qsort (v, cnt, sizeof *v, cmp_rank);
  *out = v;
  *nout = cnt;
  return 0;
}

static int
fill_moves (mu_job_t *j, const ps_server_t *nv, size_t nn,
            mu_ps_plan_t *p, mu_bucket_move_t **mv_out)
{
  mu_ps_state_t *ps = j->ps;
  uint64_t *oid = calloc (ps->n ? ps->n : 1, sizeof *oid);
  uint64_t *nid = calloc (nn ? nn : 1, sizeof *nid);
  int rc = -ENOMEM;
  if (oid == NULL || nid == NULL)
    goto out;
  for (size_t i = 0; i < ps->n; i++)
    oid[i] = ps->v[i].id;
  for (size_t i = 0; i < nn; i++)
    nid[i] = nv[i].id;
  mu_bucket_move_t *mv = NULL;
  size_t nm = 0;
  rc = mu_bucket_plan (j->spec->nbuckets, oid, ps->n, nid, nn, &mv, &nm);
  if (rc != 0)
    goto out;
  mu_ps_move_t *rec = calloc (nm ? nm : 1, sizeof *rec);
  if (rec == NULL)
    {
      free (mv);
      rc = -ENOMEM;
      goto out;
    }
  for (size_t i = 0; i < nm; i++)
    {
      const ps_server_t *from = &ps->v[mv[i].from];
      rec[i].first = mv[i].first;
      rec[i].count = mv[i].count;
      rec[i].from_old_rank = from->role_rank;
      rec[i].from_rank = -1;
      for (size_t k = 0; k < nn; k++)
        if (nv[k].id == from->id)
          rec[i].from_rank = (int64_t)nv[k].role_rank;
      rec[i].from_host = from->host;
      rec[i].from_port = from->port;
      rec[i].to_rank = nv[mv[i].to].role_rank;
      rec[i].lost = from->gone == PS_LOST;
    }
  p->moves.v = rec;
  p->moves.n = nm;
  *mv_out = mv;
out:
  free (oid);
  free (nid);
  return rc;
}

static void
store (mu_job_t *j, char *buf, size_t len)
{
  mu_bin_t *val = j->kv ? malloc (sizeof *val) : NULL;
  void *old = NULL;
  if (val == NULL)
    {
      free (buf);
      return;
    }
  val->ptr = (uint8_t *)buf;
  val->len = len;
  if (mu_smap_put (j->kv, MU_PS_PLAN_KEY, val, &old) != 0)
    {
      free (buf);
      free (val);
      mu_log_err (j->coord->log, "PS-PLAN", "job %s: no memory for the plan",
                  j->id);
      return;
    }
  j->kv_bytes += strlen (MU_PS_PLAN_KEY) + len;
  if (old != NULL)
    {
      j->kv_bytes -= strlen (MU_PS_PLAN_KEY) + ((mu_bin_t *)old)->len;
      free (((mu_bin_t *)old)->ptr);
      free (old);
    }
}

void
mu_ps_plan_epoch (mu_job_t *j, const mu_rdzv_member_t *mem, size_t n,
                  int in_place)
{
  uint32_t role = 0;
  if (!ps_role (j, &role))
    return;
  if (j->ps == NULL && (j->ps = calloc (1, sizeof *j->ps)) == NULL)
    return;
  ps_server_t *nv = NULL;
  size_t nn = 0;
  mu_bucket_move_t *mv = NULL;
  mu_ps_server_t *srv = NULL;
  mu_msg_t m;
  memset (&m, 0, sizeof m);
  m.type = MU_MSG_PS_PLAN;
  mu_ps_plan_t *p = &m.u.ps_plan;
  int rc = collect (j, role, mem, n, &nv, &nn);
  if (rc != 0 || nn == 0)
    goto out;
  p->job = j->id;
  p->epoch = j->epoch;
  p->nbuckets = j->spec->nbuckets;
  srv = calloc (nn, sizeof *srv);
  if (srv == NULL)
    {
      rc = -ENOMEM;
      goto out;
    }
  for (size_t i = 0; i < nn; i++)
    {
      srv[i].role_rank = nv[i].role_rank;
      mu_buckets_owned (p->nbuckets, nn, i, &srv[i].first, &srv[i].count);
      srv[i].host = nv[i].host;
      srv[i].port = nv[i].port;
      srv[i].id = nv[i].id;
    }
  p->servers.v = srv;
  p->servers.n = nn;
  if (in_place && j->ps->n > 0)
    {
      p->prev_epoch = j->ps->epoch;
      if ((rc = fill_moves (j, nv, nn, p, &mv)) != 0)
        goto out;
    }
  char *buf = NULL;
  size_t len = 0;
  if ((rc = mu_msg_encode (&m, &buf, &len)) != 0)
    goto out;
  store (j, buf, len);
  mu_log_info (j->coord->log, "PS-PLAN",
               "job %s epoch %llu: %zu server(s), %zu move(s)", j->id,
               (unsigned long long)j->epoch, nn, p->moves.n);
out:
  if (rc != 0)
    mu_log_err (j->coord->log, "PS-PLAN", "job %s epoch %llu: no plan (%d)",
                j->id, (unsigned long long)j->epoch, rc);
  free (mv);
  free (p->moves.v);
  free (srv);
  if (rc == 0 && nv != NULL)
    {
      servers_free (j->ps->v, j->ps->n);
      j->ps->v = nv;
      j->ps->n = nn;
      j->ps->epoch = j->epoch;
    }
  else
    servers_free (nv, nn);
}

static void
mark (mu_job_t *j, uint32_t key, int has_local, uint32_t local, int gone)
{
  if (j->ps == NULL)
    return;
  for (size_t i = 0; i < j->ps->n; i++)
    {
      ps_server_t *s = &j->ps->v[i];
      if (s->node_key == key && (!has_local || s->local == local)
          && s->gone == PS_LIVE)
        s->gone = gone;
    }
}

void
mu_ps_plan_worker_gone (mu_job_t *j, const mu_node_t *n, uint64_t rank)
{
  uint32_t role = 0;
  if (j->ps == NULL || !ps_role (j, &role))
    return;
  size_t nm = 0;
  const mu_rdzv_member_t *mem = mu_rdzv_members (j->rdzv, &nm);
  for (size_t i = 0; i < nm; i++)
    if (mem[i].key == n->key && mem[i].role == role
        && rank >= mem[i].first_rank && rank < mem[i].first_rank + mem[i].nproc)
      mark (j, n->key, 1, (uint32_t)(rank - mem[i].first_rank), PS_LOST);
}

void
mu_ps_plan_node_gone (mu_job_t *j, const mu_node_t *n, int lost)
{
  mark (j, n->key, 0, 0, lost ? PS_LOST : PS_LEFT);
}
