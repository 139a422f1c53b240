/*
 * sched_glue_apply.c — musterd carries out the scheduler's decisions
 * (sched_glue.h), through the paths a job already has:
 *
 *  - PLACE / GROW: the agent joins the job's rendezvous as that role (the
 *    path a node that registers for a job takes); an elastic running job
 *    re-forms with it (in place or by restart, its elastic mode); acked at
 *    once (not ok when the join is refused).
 *  - SHRINK: the agent is released from the job (job.done, then it leaves
 *    the rendezvous, not charged as a failure), after a checkpoint when
 *    the job restarts from checkpoints (so no step is redone), then acked.
 *  - SUSPEND: checkpoint and suspend (the preempt path, ckpt.c); acked by
 *    the next pass once the job is SUSPENDED and its agents free.
 *  - RESUME: the suspended job opens a round from its checkpoint; the
 *    PLACEs that follow bring its agents.
 *  - REJECT: the job fails with the scheduler's reason.
 * Each is an event (sched.placed, sched.preempted, sched.resumed,
 * sched.rejected) with the job it made room for.
 */
#include "coordinator/sched_glue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <muster/error.h>

#include "checkpoint/commit.h"
#include "common/util.h"
#include "coordinator/ckpt.h"
#include "coordinator/coord.h"
#include "coordinator/epoch.h"
#include "coordinator/event_stream.h"
#include "coordinator/journal.h"

#define SUSPEND_GRACE_MS 30000 /* checkpoint budget of a preemption */

typedef struct copy {
  mu_sched_action_t action;
  char *job, *role, *node, *for_job, *reason;
  uint32_t replicas;
} copy_t;

static char *
dup_or_null (const char *s)
{
  return s ? strdup (s) : NULL;
}

static void
set_note (mu_job_t *j, const char *note)
{
  free (j->sched_note);
  j->sched_note = note ? strdup (note) : NULL;
}

static uint32_t
role_index (const mu_job_t *j, const char *name)
{
  for (size_t i = 0; name && i < j->spec->roles.n; i++)
    if (strcmp (j->spec->roles.v[i].name, name) == 0)
      return (uint32_t)i;
  return 0;
}

static void
place (mu_coord_t *c, mu_job_t *j, const copy_t *d)
{
  mu_node_t *n = mu_smap_get (c->node_ids, d->node);
  char err[256] = "";
  int ok = 0;
  if (j == NULL || n == NULL || !n->in_use || !n->alive || n->job != NULL)
    snprintf (err, sizeof err, "%s", n == NULL ? "no such node"
                                     : j == NULL ? "no such job"
                                                 : "node not free");
  else
    {
      if (j->state == MU_JOB_SUSPENDED)
        mu_ckpt_resume (j, err, sizeof err);
      if (j->state >= MU_JOB_STOPPING)
        snprintf (err, sizeof err, "job %s is %s", j->id,
                  mu_job_state_name (j->state));
      else if (mu_jobs_place_node (c, j, n, role_index (j, d->role), err,
                                   sizeof err) == 0)
        ok = 1;
    }
  if (ok)
    {
      free (n->sched_job);
      n->sched_job = strdup (j->id);
      c->sched_placed++;
      char detail[256];
      snprintf (detail, sizeof detail, "%s: role %s on node %s",
                d->action == MU_SCHED_PLACE ? "placed" : "grown", d->role,
                d->node);
      mu_log_notice (c->log, "SCHED-PLACE", "job %s %s", j->id, detail);
      mu_ev_sched (j, MU_EV_SCHED_PLACED, n->node_id,
                   d->action == MU_SCHED_PLACE ? "placed" : "grown", detail);
    }
  else /* info: an agent of another uid is refused at every pass */
    mu_log_info (c->log, "SCHED-PLACE-FAILED", "job %s role %s node %s: %s",
                 d->job, d->role, d->node, err);
  mu_sched_ack_placed (c->sched, d->job, d->role, d->node, ok);
}

/* Release n from its job j: job.done to its agent, then it leaves (not
 * charged).  quiet: another release of the job follows (ctl_scale.c). */
static void
release (mu_coord_t *c, mu_job_t *j, mu_node_t *n, int quiet)
{
  mu_msg_t m;
  memset (&m, 0, sizeof m);
  m.type = MU_MSG_JOB_DONE;
  m.u.job_done.job = j->id;
  m.u.job_done.state = (char *)"suspended";
  m.u.job_done.reason = (char *)"released by the scheduler";
  m.u.job_done.failed_rank = -1;
  if (j->state == MU_JOB_RUNNING || j->state == MU_JOB_RECOVERING)
    mu_coord_send_node (c, n, &m);
  if (quiet)
    n->cordoned = 1;
  mu_jobs_node_lost (c, n, "released by the scheduler", 0);
}

static void
acked_shrink (mu_coord_t *c, mu_node_t *n, const char *job, const char *role)
{
  mu_sched_ack_shrunk (c->sched, job, role, n->node_id);
  n->sched_release = 0;
  free (n->sched_job);
  n->sched_job = NULL;
}

static int
ckpt_busy (const mu_job_t *j)
{
  if (j->ckpt == NULL || j->state != MU_JOB_RUNNING)
    return 0;
  mu_ckpt_state_t st = mu_ckpt_commit_state (j->ckpt);
  return st == MU_CKPT_COLLECTING || st == MU_CKPT_WRITING;
}

static void
shrink (mu_coord_t *c, mu_job_t *j, const copy_t *d)
{
  mu_node_t *n = mu_smap_get (c->node_ids, d->node);
  if (n == NULL)
    return;
  if (j != NULL)
    {
      char detail[512];
      snprintf (detail, sizeof detail, "role %s shrunk off node %s%s%s: %s",
                d->role, d->node, d->for_job ? " for job " : "",
                d->for_job ? d->for_job : "", d->reason ? d->reason : "");
      mu_log_notice (c->log, "SCHED-SHRINK", "job %s: %s", j->id, detail);
      mu_ev_sched (j, MU_EV_SCHED_PREEMPTED, n->node_id, "shrunk", detail);
    }
  if (j == NULL || n->job != j)
    {
      acked_shrink (c, n, d->job, d->role);
      return;
    }
  n->sched_release = 1;
  /* A job restarting from checkpoints saves first (no step redone). */
  if (j->state == MU_JOB_RUNNING && j->ckpt != NULL && !j->in_place)
    {
      char err[256];
      int rc = mu_ckpt_trigger (j, "scheduler shrink", 0, err, sizeof err);
      if (rc != 0 && rc != MUSTER_EEXIST)
        mu_log_info (c->log, "SCHED-SHRINK", "job %s: no checkpoint first: "
                     "%s", j->id, err);
    }
}

void
mu_sched_glue_releases (mu_coord_t *c)
{
  /* Nodes to release now, by job: all but the job's last quietly. */
  for (size_t k = 0; k < c->nodes_used; k++)
    {
      mu_node_t *n = c->nodes[k];
      if (n == NULL || !n->sched_release)
        continue;
      mu_job_t *j = n->job;
      const char *role = NULL;
      if (j != NULL && n->sched_job && strcmp (j->id, n->sched_job) == 0)
        {
          if (ckpt_busy (j))
            continue;
          role = j->spec->roles.v[n->role].name;
          int more = 0;
          for (size_t i = k + 1; i < c->nodes_used && !more; i++)
            more = c->nodes[i] && c->nodes[i]->sched_release
                   && c->nodes[i]->job == j;
          char *job = strdup (j->id);
          char *rname = strdup (role);
          release (c, j, n, more);
          if (job && rname)
            acked_shrink (c, n, job, rname);
          free (job);
          free (rname);
          continue;
        }
      /* It left the job already: the allocation is freed by sync. */
      n->sched_release = 0;
    }
  /* A scale's range narrows once the role's nodes are within it. */
  size_t pos = 0;
  void *val;
  while (mu_smap_next (c->jobs, &pos, NULL, &val))
    {
      mu_job_t *j = val;
      if (!j->scale_target_set)
        continue;
      if (j->state >= MU_JOB_STOPPING)
        {
          j->scale_target_set = 0;
          continue;
        }
      uint64_t have = 0;
      for (size_t k = 0; k < c->nodes_used; k++)
        if (c->nodes[k] && c->nodes[k]->in_use && c->nodes[k]->job == j
            && c->nodes[k]->role == j->scale_target_role)
          have++;
      if (have < j->scale_target_min || have > j->scale_target_max)
        continue;
      mu_rdzv_decision_t d;
      mu_role_spec_t *rs = &j->spec->roles.v[j->scale_target_role];
      if (mu_rdzv_set_range (j->rdzv, mu_now_ms (), j->scale_target_role,
                             (uint32_t)j->scale_target_min,
                             (uint32_t)j->scale_target_max, &d) == 0)
        {
          rs->min_nodes = j->scale_target_min;
          rs->max_nodes = j->scale_target_max;
          j->scale_target_set = 0;
          mu_jhook_image (j);
          mu_jobs_handle_decision (j, &d);
        }
    }
}

/* Does one of j's agents drain? */
static int
draining (mu_coord_t *c, const mu_job_t *j)
{
  for (size_t k = 0; k < c->nodes_used; k++)
    if (c->nodes[k] != NULL && c->nodes[k]->job == j && c->nodes[k]->draining)
      return 1;
  return 0;
}

static void
suspend (mu_coord_t *c, mu_job_t *j, const copy_t *d)
{
  if (j == NULL)
    return;
  if (d->for_job == NULL && !draining (c, j))
    {
      /* A repair with nowhere to go: the job lost agents (S2).  Its own
       * recovery decides (the rendezvous waits for agents within its
       * infrastructure budget, as for any job): it leaves the scheduler,
       * takes free agents the way a restored job does, and is queued
       * again if it ever waits with none (decision 83). */
      mu_log_notice (c->log, "SCHED-RELEASE", "job %s lost agents and no "
                     "other fits; it recovers on its own, outside the "
                     "scheduler", j->id);
      mu_sched_job_end (c->sched, j->id);
      mu_sched_glue_forget (c, j->id);
      j->sched_in = 0;
      mu_jobs_offer_free_nodes (c);
      return;
    }
  char note[512];
  snprintf (note, sizeof note, "preempted by the scheduler%s%s: %s",
            d->for_job ? " for job " : "", d->for_job ? d->for_job : "",
            d->reason ? d->reason : "");
  set_note (j, note);
  mu_log_notice (c->log, "SCHED-SUSPEND", "job %s %s", j->id, note);
  mu_ev_sched (j, MU_EV_SCHED_PREEMPTED, NULL, "suspended", note);
  j->sched_suspending = 1;
  if (j->state < MU_JOB_STOPPING)
    mu_ckpt_preempt_job (j, SUSPEND_GRACE_MS, note);
}

static void
resume (mu_coord_t *c, mu_job_t *j)
{
  if (j == NULL)
    return;
  char err[256] = "";
  if (j->state == MU_JOB_SUSPENDED && mu_ckpt_resume (j, err, sizeof err) != 0)
    mu_log_warn (c->log, "SCHED-RESUME", "job %s: %s", j->id, err);
  char detail[300];
  snprintf (detail, sizeof detail, "resumed by the scheduler from %s",
            j->restore_dir ? "its checkpoint" : "the start");
  mu_ev_sched (j, MU_EV_SCHED_RESUMED, NULL, "resumed", detail);
  set_note (j, NULL);
}

static void
reject (mu_coord_t *c, mu_job_t *j, const copy_t *d)
{
  if (j == NULL)
    return;
  const char *why = d->reason ? d->reason : "rejected by the scheduler";
  mu_log_warn (c->log, "SCHED-REJECT", "job %s: %s", j->id, why);
  mu_ev_sched (j, MU_EV_SCHED_REJECTED, NULL, "rejected", why);
  set_note (j, why);
  j->sched_in = 0;
  if (j->state < MU_JOB_STOPPING)
    mu_epoch_fail (j, why, 0);
}

void
mu_sched_glue_apply (mu_coord_t *c, const mu_sched_decision_t *dv, size_t n)
{
  /* The decisions' strings live until the scheduler changes: copy. */
  copy_t *cp = calloc (n, sizeof *cp);
  if (cp == NULL)
    return;
  for (size_t i = 0; i < n; i++)
    {
      cp[i].action = dv[i].action;
      cp[i].job = dup_or_null (dv[i].job);
      cp[i].role = dup_or_null (dv[i].role);
      cp[i].node = dup_or_null (dv[i].node);
      cp[i].for_job = dup_or_null (dv[i].for_job);
      cp[i].reason = dup_or_null (dv[i].reason);
      cp[i].replicas = dv[i].replicas;
    }
  for (size_t i = 0; i < n; i++)
    {
      copy_t *d = &cp[i];
      mu_job_t *j = d->job ? mu_smap_get (c->jobs, d->job) : NULL;
      switch (d->action)
        {
        case MU_SCHED_PLACE:
        case MU_SCHED_GROW:
          place (c, j, d);
          break;
        case MU_SCHED_SHRINK:
          shrink (c, j, d);
          break;
        case MU_SCHED_SUSPEND:
          suspend (c, j, d);
          break;
        case MU_SCHED_RESUME:
          resume (c, j);
          break;
        case MU_SCHED_REJECT:
          reject (c, j, d);
          break;
        }
    }
  for (size_t i = 0; i < n; i++)
    {
      free (cp[i].job);
      free (cp[i].role);
      free (cp[i].node);
      free (cp[i].for_job);
      free (cp[i].reason);
    }
  free (cp);
  mu_sched_glue_releases (c);
  mu_sched_glue_dirty (c);
}
