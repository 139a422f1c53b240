/*
 * ctl_list.c — ctl.list and ctl.get: what a platform reads about jobs.
 *
 * ctl.list is one row per job the caller may see (their own; every job for
 * an admin), oldest first, filtered by state and owner.  ctl.get is one job
 * in full: its summary and spec, the members of its current epoch with
 * their node, host, ranks and worker pids, restarts by cause, the newest
 * committed checkpoint and the first failure.
 *
 * Worker pids: agents report each worker "running" with its pid once an
 * epoch's workers are started (and again after an in-place re-rank);
 * mu_ctl_note_worker keeps them per rank of the current epoch.
 */
#include "coordinator/ctl_ops.h"
#include "coordinator/service.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <muster/error.h>

#include "common/util.h"
#include "coordinator/log_ring.h"

static const char *const STATES[] = { "pending",   "rendezvous", "running",
                                      "recovering", "stopping",  "succeeded",
                                      "failed",    "cancelled",  "suspended" };

static int
known_state (const char *s)
{
  for (size_t i = 0; i < sizeof STATES / sizeof STATES[0]; i++)
    if (strcmp (STATES[i], s) == 0)
      return 1;
  return 0;
}

static int
older_first (const void *a, const void *b)
{
  const mu_job_t *x = *(mu_job_t *const *)a, *y = *(mu_job_t *const *)b;
  if (x->created_ms != y->created_ms)
    return x->created_ms < y->created_ms ? -1 : 1;
  return strcmp (x->id, y->id);
}

void
mu_ctl_list (mu_coord_t *c, const mu_route_t *from, const mu_principal_t *who,
             const mu_ctl_list_t *q)
{
  if (q->state != NULL && !known_state (q->state))
    {
      mu_ctl_error (c, from, MUSTER_EINVAL, "ctl.list", "state",
                    "list: field 'state' must be one of pending, rendezvous, "
                    "running, recovering, stopping, succeeded, failed, "
                    "cancelled, suspended (got '%s')",
                    q->state);
      return;
    }
  size_t n = mu_smap_size (c->jobs);
  mu_job_t **sel = calloc (n ? n : 1, sizeof *sel);
  mu_job_info_t *infos = calloc (n ? n : 1, sizeof *infos);
  char *reasons = calloc (n ? n : 1, MU_CTL_REASON_CAP);
  if (sel == NULL || infos == NULL || reasons == NULL)
    {
      free (sel);
      free (infos);
      free (reasons);
      mu_ctl_error (c, from, -ENOMEM, "ctl.list", NULL, "list: out of memory");
      return;
    }
  size_t k = 0, pos = 0;
  void *val;
  while (mu_smap_next (c->jobs, &pos, NULL, &val))
    {
      mu_job_t *j = val;
      if (!mu_ctl_may_act (who, j))
        continue;
      if (q->state != NULL && strcmp (q->state, mu_job_state_name (j->state)) != 0)
        continue;
      if (q->owner != NULL && (j->owner == NULL || strcmp (q->owner, j->owner) != 0))
        continue;
      sel[k++] = j;
    }
  qsort (sel, k, sizeof *sel, older_first);
  uint32_t free_cache = UINT32_MAX;
  for (size_t i = 0; i < k; i++)
    mu_ctl_fill_info (c, sel[i], &infos[i], reasons + i * MU_CTL_REASON_CAP,
                      &free_cache);
  mu_msg_t m;
  memset (&m, 0, sizeof m);
  m.type = MU_MSG_CTL_LIST_REPLY;
  m.u.ctl_list_reply.jobs.v = infos;
  m.u.ctl_list_reply.jobs.n = k;
  mu_coord_send_route (c, c->ctl_reply_sock, from, &m);
  free (sel);
  free (infos);
  free (reasons);
}

/* The members of j's current epoch with their workers; NULL (and *n 0)
 * when it has none.  Caller frees the array and each ranks.v. */
static mu_member_info_t *
members_of (mu_coord_t *c, const mu_job_t *j, size_t *n_out)
{
  *n_out = 0;
  if (j->state != MU_JOB_RUNNING && j->state != MU_JOB_RECOVERING
      && j->state != MU_JOB_STOPPING)
    return NULL;
  size_t n = 0;
  const mu_rdzv_member_t *mem = mu_rdzv_members (j->rdzv, &n);
  if (n == 0)
    return NULL;
  mu_member_info_t *out = calloc (n, sizeof *out);
  if (out == NULL)
    return NULL;
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    {
      mu_node_t *node = mu_coord_node (c, mem[i].key);
      if (node == NULL || node->job != j)
        continue;
      mu_member_info_t *x = &out[k];
      x->node_id = node->node_id;
      x->host = node->host ? node->host : (char *)"";
      x->role = j->spec->roles.v[mem[i].role].name;
      x->node_rank = mem[i].node_rank;
      x->ranks.v = calloc (mem[i].nproc ? mem[i].nproc : 1, sizeof *x->ranks.v);
      if (x->ranks.v == NULL)
        continue;
      x->ranks.n = mem[i].nproc;
      for (uint32_t r = 0; r < mem[i].nproc; r++)
        {
          mu_rank_info_t *ri = &x->ranks.v[r];
          ri->rank = mem[i].first_rank + r;
          ri->local_rank = r;
          ri->role_rank = mem[i].role_first_rank + r;
          if (j->pids_epoch == j->epoch && ri->rank < j->npids)
            ri->pid = j->pids[ri->rank];
        }
      k++;
    }
  *n_out = k;
  return out;
}

void
mu_ctl_get (mu_coord_t *c, const mu_route_t *from, const mu_principal_t *who,
            const mu_ctl_get_t *q)
{
  mu_job_t *j = mu_ctl_job (c, from, who, q->job, "ctl.get");
  if (j == NULL)
    return;
  mu_job_info_t info;
  memset (&info, 0, sizeof info);
  char reason[MU_CTL_REASON_CAP];
  uint32_t free_cache = UINT32_MAX;
  mu_ctl_fill_info (c, j, &info, reason, &free_cache);
  size_t nmem = 0;
  mu_member_info_t *mem = members_of (c, j, &nmem);
  mu_msg_t m;
  memset (&m, 0, sizeof m);
  m.type = MU_MSG_CTL_GET_REPLY;
  mu_ctl_get_reply_t *g = &m.u.ctl_get_reply;
  g->job = &info;
  g->spec = j->spec;
  g->members.v = mem;
  g->members.n = nmem;
  g->restarts_user = j->user_failures;
  g->restarts_infra = j->infra_failures;
  uint64_t charged = j->user_failures + j->infra_failures;
  g->restarts_other = j->restarts > charged ? j->restarts - charged : 0;
  g->ckpt_dir = j->restore_dir;
  g->failure = j->failure.set ? j->failure.reason : NULL;
  g->log_bytes = j->logs ? mu_log_ring_bytes (j->logs) : 0;
  g->log_dropped = j->log_dropped;
  /* service: load, rollout, autoscaler, each replica's load */
  char load[32];
  char (*mload)[32] = nmem ? calloc (nmem, sizeof *mload) : NULL;
  if (mload != NULL || nmem == 0)
    mu_service_fill_get (j, g, load, sizeof load, mem, nmem, mload);
  mu_coord_send_route (c, c->ctl_reply_sock, from, &m);
  free (mload);
  for (size_t i = 0; i < nmem; i++)
    free (mem[i].ranks.v);
  free (mem);
}

void
mu_ctl_note_worker (mu_coord_t *c, mu_node_t *n, const mu_worker_state_t *ws)
{
  (void)c;
  mu_job_t *j = n->job;
  if (j == NULL || strcmp (ws->job, j->id) != 0 || ws->epoch != j->epoch
      || strcmp (ws->state, "running") != 0 || ws->rank >= j->world)
    return;
  if (j->pids_epoch != j->epoch || j->npids != j->world)
    {
      uint64_t *p = calloc (j->world ? j->world : 1, sizeof *p);
      if (p == NULL)
        return;
      free (j->pids);
      j->pids = p;
      j->npids = j->world;
      j->pids_epoch = j->epoch;
    }
  j->pids[ws->rank] = ws->pid;
}
