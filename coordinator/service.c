/*
 * service.c — the replicas of a service job (service.h): restarting one
 * alone, readiness, and the sweep that drives restarts, rolling updates
 * and the autoscaler.
 *
 * A replica restart has two halves.  First whatever is left of it is
 * stopped: job.stop of the running epoch to its node alone (a replica of
 * several workers where one failed; a rolling update).  Those exits are
 * not charged (mu_service_restarting).  Then, once its node reports no
 * live worker and its backoff has passed, the sweep sends the node the
 * job.start of the running epoch again (mu_epoch_start_node): same
 * epoch, same ranks, the replica's spec, and feeds the job machine
 * REPLICA_START with the workers started.  The sweep runs twice per
 * heartbeat interval, which bounds how late a restart can be.
 */
#include "coordinator/service.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/job_defaults.h"
#include "common/util.h"
#include "coordinator/epoch.h"

int
mu_service_is (const mu_job_t *j)
{
  return j != NULL && j->spec != NULL && j->spec->kind != NULL
         && strcmp (j->spec->kind, "service") == 0;
}

mu_service_t *
mu_service_of (mu_job_t *j)
{
  if (!mu_service_is (j))
    return NULL;
  if (j->svc == NULL)
    j->svc = calloc (1, sizeof *j->svc);
  return j->svc;
}

void
mu_service_free (mu_job_t *j)
{
  mu_service_t *s = j->svc;
  if (s == NULL)
    return;
  free (s->reps);
  free (s->rank_load);
  mu_job_spec_free (&s->new_spec);
  free (s);
  j->svc = NULL;
}

mu_svc_rep_t *
mu_service_rep (mu_service_t *s, uint32_t key)
{
  if (s == NULL)
    return NULL;
  for (size_t i = 0; i < s->nreps; i++)
    if (s->reps[i].key == key)
      return &s->reps[i];
  return NULL;
}

/* The replica of node n, added when missing; NULL out of memory. */
static mu_svc_rep_t *
rep_for (mu_service_t *s, const mu_node_t *n)
{
  mu_svc_rep_t *r = mu_service_rep (s, n->key);
  if (r != NULL)
    return r;
  if (s->nreps == s->cap)
    {
      size_t cap = s->cap ? 2 * s->cap : 8;
      mu_svc_rep_t *v = realloc (s->reps, cap * sizeof *v);
      if (v == NULL)
        return NULL;
      s->reps = v;
      s->cap = cap;
    }
  r = &s->reps[s->nreps++];
  memset (r, 0, sizeof *r);
  r->key = n->key;
  r->started_ms = mu_now_ms ();
  return r;
}

const mu_job_spec_t *
mu_service_spec_for (const mu_job_t *j, const mu_node_t *n)
{
  const mu_service_t *s = j->svc;
  if (s == NULL || s->new_spec == NULL)
    return j->spec;
  for (size_t i = 0; i < s->nreps; i++)
    if (s->reps[i].key == n->key && s->reps[i].updated)
      return s->new_spec;
  return j->spec;
}

void
mu_service_epoch_started (mu_job_t *j)
{
  mu_service_t *s = mu_service_of (j);
  if (s == NULL)
    return;
  /* Replicas of nodes that left are forgotten; the others were all just
   * started (whatever restart was pending is done by this start). */
  size_t k = 0;
  uint64_t now = mu_now_ms ();
  for (size_t i = 0; i < s->nreps; i++)
    {
      int member = 0;
      for (size_t m = 0; m < j->nmembers; m++)
        member |= j->members[m] == s->reps[i].key;
      if (!member)
        continue;
      s->reps[k] = s->reps[i];
      s->reps[k].restarting = 0;
      s->reps[k].started_ms = now;
      s->reps[k].loaded = 0;
      s->reps[k].load_set = 0;
      k++;
    }
  s->nreps = k;
  for (size_t m = 0; m < j->nmembers; m++)
    {
      mu_node_t *n = mu_coord_node (j->coord, j->members[m]);
      if (n != NULL)
        (void)rep_for (s, n);
    }
  /* Ranks may have moved: the replicas report again. */
  free (s->rank_load);
  s->rank_load = NULL;
  s->nrank_load = 0;
}

int
mu_service_restarting (mu_job_t *j, const mu_node_t *n)
{
  mu_svc_rep_t *r = mu_service_rep (j->svc, n->key);
  return r != NULL && r->restarting;
}

/* Stop what is left of n's replica: job.stop of the epoch to n alone. */
static void
stop_replica (mu_job_t *j, mu_node_t *n, const char *why)
{
  if (n->live == 0 || n->live_epoch != j->epoch)
    return;
  mu_msg_t m;
  memset (&m, 0, sizeof m);
  m.type = MU_MSG_STOP;
  m.u.stop.job = j->id;
  m.u.stop.epoch = j->epoch;
  m.u.stop.grace_ms = mu_job_default_or (j->spec->grace_ms, MU_JD_GRACE_MS);
  m.u.stop.reason = (char *)why;
  m.u.stop.recover = 1;
  (void)mu_coord_send_node (j->coord, n, &m); /* unreachable: lost next turn */
}

void
mu_service_cycle (mu_job_t *j, mu_node_t *n, uint64_t ms)
{
  mu_service_t *s = mu_service_of (j);
  mu_svc_rep_t *r = s ? rep_for (s, n) : NULL;
  if (r == NULL)
    return;
  r->restarting = 1;
  r->due_ms = mu_now_ms () + ms;
  stop_replica (j, n, "service replica restarting");
}

void
mu_service_restart_replica (mu_job_t *j, mu_node_t *n, uint64_t ms)
{
  mu_service_t *s = mu_service_of (j);
  if (s == NULL)
    return;
  s->replica_restarts++;
  mu_log_notice (j->coord->log, "REPLICA-RESTART",
                 "job %s epoch %llu: replica on node %s restarts alone in "
                 "%llu ms (restart %llu)", j->id, (unsigned long long)j->epoch,
                 n->node_id, (unsigned long long)ms,
                 (unsigned long long)j->restarts);
  mu_service_cycle (j, n, ms);
}

int
mu_service_on_failure (mu_job_t *j, mu_node_t *n, const char *why)
{
  mu_service_t *s = mu_service_of (j);
  mu_svc_rep_t *r = mu_service_rep (s, n->key);
  if (r == NULL)
    return 0;
  if (r->restarting)
    return 1;
  if (s->rolling && s->cur_active && s->cur_key == n->key && r->updated)
    {
      /* The new version failed: the update stops here and this replica
       * goes back to what the others still run. */
      snprintf (s->rollout, sizeof s->rollout,
                "stopped: the new version failed on node %s (%s); %u of %u "
                "updated, the others keep the old version", n->node_id,
                why, s->nupdated, s->ntotal);
      mu_log_warn (j->coord->log, "ROLLOUT-STOPPED", "job %s: %s", j->id,
                   s->rollout);
      s->rolling = 0;
      s->cur_active = 0;
      r->updated = 0;
      mu_service_cycle (j, n, 0);
      return 1;
    }
  return 0;
}

int
mu_service_ready (mu_job_t *j, const mu_svc_rep_t *r, uint64_t now)
{
  mu_node_t *n = mu_coord_node (j->coord, r->key);
  if (n == NULL || n->job != j || r->restarting || n->live_epoch != j->epoch)
    return 0;
  size_t nm = 0;
  const mu_rdzv_member_t *mem = mu_rdzv_members (j->rdzv, &nm);
  for (size_t i = 0; i < nm; i++)
    if (mem[i].key == n->key && n->live < mem[i].nproc)
      return 0; /* one of its workers is down */
  if (r->loaded)
    return 1;
  return now - r->started_ms
         >= (r->ever_loaded ? MU_SERVICE_READY_MAX_MS : MU_SERVICE_READY_MS);
}

/* Start the replicas whose restart is due. */
static void
start_due (mu_job_t *j, mu_service_t *s, uint64_t now)
{
  for (size_t i = 0; i < s->nreps && j->state == MU_JOB_RUNNING; i++)
    {
      mu_svc_rep_t *r = &s->reps[i];
      mu_node_t *n = mu_coord_node (j->coord, r->key);
      if (!r->restarting || now < r->due_ms || n == NULL || n->job != j
          || !n->alive || n->live > 0)
        continue;
      uint64_t nproc = 0;
      int rc = mu_epoch_start_node (j, n, "service replica restarted",
                                    &nproc);
      if (rc != 0)
        continue; /* not a member any more: the epoch moves on without */
      r->restarting = 0;
      r->started_ms = now;
      r->loaded = 0;
      mu_log_notice (j->coord->log, "REPLICA-STARTED",
                     "job %s epoch %llu: replica on node %s started again%s",
                     j->id, (unsigned long long)j->epoch, n->node_id,
                     r->updated ? " (new version)" : "");
      mu_jm_event_t ev = { .type = MU_JM_E_REPLICA_START, .live = nproc };
      mu_epoch_feed (j, &ev, NULL);
    }
}

void
mu_service_sweep (mu_coord_t *c)
{
  uint64_t now = mu_now_ms ();
  size_t pos = 0;
  void *val;
  while (mu_smap_next (c->jobs, &pos, NULL, &val))
    {
      mu_job_t *j = val;
      if (j->svc == NULL || j->state != MU_JOB_RUNNING)
        continue;
      start_due (j, j->svc, now);
      if (j->svc->rolling)
        mu_service_rollout_step (j, now);
      mu_service_autoscale (j, now);
    }
}

void
mu_service_fill_get (mu_job_t *j, mu_ctl_get_reply_t *g, char *load,
                     size_t cap, mu_member_info_t *mem, size_t nmem,
                     char (*mload)[32])
{
  mu_service_t *s = j->svc;
  if (s == NULL)
    return;
  int any = 0;
  double l = mu_service_load_of (j, &any);
  if (any)
    {
      snprintf (load, cap, "%.3f", l);
      g->load = load;
    }
  g->rollout = s->rollout[0] ? s->rollout : NULL;
  g->autoscale = s->autoscale[0] ? s->autoscale : NULL;
  g->replica_restarts = s->replica_restarts;
  for (size_t i = 0; i < nmem; i++)
    {
      mu_node_t *n = mu_smap_get (j->coord->node_ids, mem[i].node_id);
      mu_svc_rep_t *r = n ? mu_service_rep (s, n->key) : NULL;
      if (r == NULL)
        continue;
      if (r->load_set)
        {
          snprintf (mload[i], sizeof mload[i], "%.3f", r->load);
          mem[i].load = mload[i];
        }
      if (s->new_spec != NULL)
        mem[i].version = (char *)(r->updated ? "new" : "old");
    }
}
