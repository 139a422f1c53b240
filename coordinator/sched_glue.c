/*
 * sched_glue.c — musterd feeds the gang scheduler (sched_glue.h).
 *
 * Rather than a hook at every place a node or a job changes, a pass
 * reconciles the scheduler with the coordinator's tables when something
 * changed (mu_sched_glue_dirty: a message handled, a job's state fed, a
 * sweep): nodes that should be in the inventory are added (an agent that
 * is alive and free, or serving a submitted job), those that should not
 * are removed, cordons and drains are passed on; jobs that ended leave,
 * jobs the scheduler suspended are acked once SUSPENDED, jobs resumed by
 * hand are queued again.  Then ticks run until they decide nothing, and
 * their decisions are carried out (sched_glue_apply.c).  The pass costs
 * O(nodes + jobs) and runs at most once per loop turn (a uv_prepare).
 */
#include "coordinator/sched_glue.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <muster/error.h>

#include "common/node_label.h"
#include "common/util.h"
#include "coordinator/coord.h"
#include "checkpoint/commit.h"
#include "coordinator/ckpt.h"
#include "coordinator/epoch.h"
#include "coordinator/event_stream.h"
#include "coordinator/journal.h"
#include "coordinator/service.h"

#define MAX_TICKS 8 /* ticks per pass: acks carried out at once re-tick */
/* How the reason of a job the scheduler suspended begins. */
#define SCHED_PREEMPTED "preempted by the scheduler"

int
mu_sched_glue_new (mu_coord_t *c, char *err, size_t errlen)
{
  c->sched = mu_sched_new (NULL);
  if (c->sched == NULL)
    {
      snprintf (err, errlen, "scheduler: out of memory");
      return -ENOMEM;
    }
  for (size_t i = 0; i < c->opts.nquotas; i++)
    {
      char tenant[MU_SCHED_NAME_MAX];
      uint32_t slots = 0;
      int rc = mu_sg_parse_quota (c->opts.quotas[i], tenant, sizeof tenant,
                                  &slots, err, errlen);
      if (rc == 0)
        rc = mu_sched_quota_set (c->sched, tenant, slots);
      if (rc != 0)
        {
          if (rc != MUSTER_EINVAL)
            snprintf (err, errlen, "--quota %s: %s", c->opts.quotas[i],
                      muster_strerror (rc));
          mu_sched_destroy (&c->sched);
          return rc;
        }
    }
  return 0;
}

static void pass (mu_coord_t *c);

static void
on_prepare (uv_prepare_t *h)
{
  pass (h->data);
}

void
mu_sched_glue_start (mu_coord_t *c)
{
  uv_prepare_init (c->loop, &c->sched_prepare);
  c->sched_prepare.data = c;
  uv_prepare_start (&c->sched_prepare, on_prepare);
  c->sched_open = 1;
  c->sched_dirty = 1;
}

void
mu_sched_glue_stop (mu_coord_t *c)
{
  if (c->sched_open)
    {
      uv_prepare_stop (&c->sched_prepare);
      uv_close ((uv_handle_t *)&c->sched_prepare, NULL);
      c->sched_open = 0;
    }
}

void
mu_sched_glue_free (mu_coord_t *c)
{
  mu_sched_destroy (&c->sched);
}

void
mu_sched_glue_dirty (mu_coord_t *c)
{
  if (c != NULL)
    c->sched_dirty = 1;
}

/* ------------------------------------------------------------- nodes */

static void
free_labels (char **v, size_t n)
{
  for (size_t i = 0; i < n; i++)
    free (v[i]);
  free (v);
}

void
mu_sched_glue_node_labels (mu_coord_t *c, mu_node_t *n,
                           const mu_strmap_t *labels)
{
  size_t cap = labels ? labels->n : 0;
  char **v = cap ? calloc (cap, sizeof *v) : NULL;
  size_t nv = 0;
  for (size_t i = 0; v != NULL && i < cap && nv < MU_SCHED_MAX_LABELS; i++)
    {
      char kv[160], err[256];
      snprintf (kv, sizeof kv, "%s=%s", labels->keys[i], labels->vals[i]);
      if (mu_node_label_check (kv, err, sizeof err) != 0)
        {
          mu_log_warn (c->log, "NODE-LABEL", "node %s: %s: left out",
                       n->node_id, err);
          continue;
        }
      if ((v[nv] = strdup (kv)) != NULL)
        nv++;
    }
  int same = nv == n->nlabels;
  for (size_t i = 0; same && i < nv; i++)
    same = strcmp (v[i], n->labels[i]) == 0;
  if (same)
    {
      free_labels (v, nv);
      return;
    }
  free_labels (n->labels, n->nlabels);
  n->labels = v;
  n->nlabels = nv;
  if (n->sched_in) /* new labels: it enters again with them */
    {
      mu_sched_node_remove (c->sched, n->node_id);
      n->sched_in = 0;
      free (n->sched_job);
      n->sched_job = NULL;
      mu_sched_glue_dirty (c);
    }
}

void
mu_sched_glue_node_free (mu_coord_t *c, mu_node_t *n)
{
  if (c != NULL && c->sched != NULL && n->sched_in && n->node_id != NULL)
    mu_sched_node_remove (c->sched, n->node_id);
  free_labels (n->labels, n->nlabels);
  n->labels = NULL;
  n->nlabels = 0;
  free (n->sched_job);
  n->sched_job = NULL;
  n->sched_in = 0;
  n->sched_release = 0;
}

/* Should n be in the inventory?  An agent alive and free, or serving a
 * job the scheduler placed it in; never the launcher's own agent. */
static int
wanted (const mu_node_t *n)
{
  if (!n->in_use || !n->alive || n->in_process)
    return 0;
  if (n->job == NULL)
    return 1;
  return n->job->submitted && n->sched_job != NULL;
}

static mu_sched_node_state_t
state_of (const mu_node_t *n, uint64_t now)
{
  if (n->draining)
    return MU_SCHED_NODE_DRAINING;
  if (n->admin_cordon || n->cordon_until > now)
    return MU_SCHED_NODE_CORDONED;
  return MU_SCHED_NODE_READY;
}

static void
node_out (mu_coord_t *c, mu_node_t *n)
{
  mu_sched_node_remove (c->sched, n->node_id);
  n->sched_in = 0;
  n->sched_release = 0;
  free (n->sched_job);
  n->sched_job = NULL;
}

static void
node_in (mu_coord_t *c, mu_node_t *n)
{
  char err[256];
  int rc = mu_sched_node_add (c->sched, n->node_id, 1,
                              (const char *const *)n->labels, n->nlabels, err,
                              sizeof err);
  if (rc == MUSTER_EEXIST)
    {
      mu_sched_node_remove (c->sched, n->node_id);
      rc = mu_sched_node_add (c->sched, n->node_id, 1,
                              (const char *const *)n->labels, n->nlabels, err,
                              sizeof err);
    }
  if (rc != 0)
    {
      mu_log_warn (c->log, "SCHED-NODE", "node %s: %s", n->node_id, err);
      return;
    }
  n->sched_in = 1;
  n->sched_state = MU_SCHED_NODE_READY;
}

/* The scheduler freed job id's allocations itself (it ended, or its
 * suspension was acked): its nodes hold nothing of it any more. */
void
mu_sched_glue_forget (mu_coord_t *c, const char *id)
{
  for (size_t k = 0; k < c->nodes_used; k++)
    {
      mu_node_t *n = c->nodes[k];
      if (n != NULL && n->sched_job != NULL && strcmp (n->sched_job, id) == 0)
        {
          free (n->sched_job);
          n->sched_job = NULL;
          n->sched_release = 0;
        }
    }
}

/* Placed by the scheduler for a job it is suspending: the agents are
 * freed before the ack, and the ack (not a removal) frees the slots, so
 * that they stay reserved for the job that caused the preemption. */
static int
suspending (mu_coord_t *c, const char *id)
{
  const mu_job_t *j = mu_smap_get (c->jobs, id);
  return j != NULL && j->sched_suspending;
}

static void
sync_nodes (mu_coord_t *c)
{
  uint64_t now = mu_now_ms ();
  for (size_t k = 0; k < c->nodes_used; k++)
    {
      mu_node_t *n = c->nodes[k];
      if (n == NULL)
        continue;
      /* Placed by the scheduler but no longer in that job (it left on
       * its own: a failure, a re-registration): the allocation goes. */
      if (n->sched_in && n->sched_job != NULL && !n->sched_release
          && (n->job == NULL || strcmp (n->job->id, n->sched_job) != 0)
          && !suspending (c, n->sched_job))
        node_out (c, n);
      int want = wanted (n);
      if (want && !n->sched_in)
        node_in (c, n);
      else if (!want && n->sched_in)
        node_out (c, n);
      if (!n->sched_in)
        continue;
      mu_sched_node_state_t st = state_of (n, now);
      if ((int)st != n->sched_state
          && mu_sched_node_set_state (c->sched, n->node_id, st) == 0)
        n->sched_state = (int)st;
    }
}

/* ---------------------------------------------------------------- jobs */

static int
has_nodes (mu_coord_t *c, const mu_job_t *j)
{
  for (size_t k = 0; k < c->nodes_used; k++)
    if (c->nodes[k] != NULL && c->nodes[k]->in_use && c->nodes[k]->job == j)
      return 1;
  return 0;
}

static void
set_note (mu_job_t *j, const char *note)
{
  free (j->sched_note);
  j->sched_note = note ? strdup (note) : NULL;
}

static int
queue (mu_coord_t *c, mu_job_t *j, const char *tenant, char *err,
       size_t errlen)
{
  mu_sched_spec_t sp;
  int rc = mu_sg_job_of (j->spec, tenant, &sp, err, errlen);
  if (rc == 0)
    rc = mu_sched_submit (c->sched, &sp.job, j->created_ms, err, errlen);
  return rc;
}

/* The scheduler suspended j: its reason says so (and by whom), so that a
 * restarted musterd queues it again (journaled). */
static void
note_suspended (mu_job_t *j)
{
  char buf[1024];
  snprintf (buf, sizeof buf, "%s; %s",
            j->sched_note ? j->sched_note : SCHED_PREEMPTED,
            j->reason ? j->reason : "");
  char *r = strdup (buf);
  if (r == NULL)
    return;
  free (j->reason);
  j->reason = r;
  mu_jhook_image (j);
}

/* A job the scheduler had suspended before a restart (its reason says). */
static int
queued_by_sched (const mu_job_t *j)
{
  return j->state == MU_JOB_SUSPENDED && j->reason != NULL
         && strncmp (j->reason, SCHED_PREEMPTED, strlen (SCHED_PREEMPTED)) == 0;
}

static void
sync_jobs (mu_coord_t *c)
{
  size_t pos = 0;
  void *val;
  while (mu_smap_next (c->jobs, &pos, NULL, &val))
    {
      mu_job_t *j = val;
      if (j->sched_in)
        {
          mu_sched_job_view_t v;
          if (mu_sched_job_query (c->sched, j->id, &v) != 0)
            {
              j->sched_in = 0;
              continue;
            }
          if (j->state == MU_JOB_SUSPENDED
              && v.state == MU_SCHED_JOB_SUSPENDING)
            {
              j->sched_suspending = 0;
              mu_sched_ack_suspended (c->sched, j->id);
              mu_sched_glue_forget (c, j->id);
              note_suspended (j);
            }
          else if (j->state == MU_JOB_SUSPENDED
                   && v.state == MU_SCHED_JOB_RUNNING)
            {
              /* Suspended by hand (ctl.preempt) or below its min: out of
               * the scheduler until resumed. */
              mu_sched_job_end (c->sched, j->id);
              mu_sched_glue_forget (c, j->id);
              j->sched_in = 0;
            }
          else if (j->state >= MU_JOB_SUCCEEDED
                   && j->state != MU_JOB_SUSPENDED)
            {
              mu_sched_job_end (c->sched, j->id);
              mu_sched_glue_forget (c, j->id);
              j->sched_in = 0;
            }
          continue;
        }
      /* A submitted job waiting for nodes that the scheduler does not
       * hold: resumed by hand, or restored from the journal. */
      if (!j->submitted || j->coord == NULL
          || ((j->state != MU_JOB_PENDING && j->state != MU_JOB_RENDEZVOUS)
              && !queued_by_sched (j))
          || has_nodes (c, j))
        continue;
      char err[512];
      const char *tenant = j->sched_tenant ? j->sched_tenant
                           : j->spec->tenant ? j->spec->tenant
                                             : j->owner;
      int rc = queue (c, j, tenant, err, sizeof err);
      if (rc == 0)
        {
          j->sched_in = 1;
          continue;
        }
      mu_log_warn (c->log, "SCHED-REJECT", "job %s: %s", j->id, err);
      mu_ev_sched (j, MU_EV_SCHED_REJECTED, NULL, "rejected", err);
      set_note (j, err);
      mu_epoch_fail (j, err, 0);
    }
}

static void
pass (mu_coord_t *c)
{
  if (!c->sched_dirty || c->sched == NULL || c->stopping)
    return;
  c->sched_dirty = 0;
  sync_jobs (c);
  sync_nodes (c);
  mu_sched_glue_releases (c);
  for (int t = 0; t < MAX_TICKS; t++)
    {
      const mu_sched_decision_t *d = NULL;
      size_t n = mu_sched_tick (c->sched, &d);
      if (n == 0)
        break;
      mu_sched_glue_apply (c, d, n);
    }
}

/* -------------------------------------------------------------- submit */

static void
user_name (uint32_t uid, char *buf, size_t cap)
{
  struct passwd *pw = getpwuid (uid);
  if (pw != NULL)
    mu_strlcpy (buf, pw->pw_name, cap);
  else
    snprintf (buf, cap, "uid %u", (unsigned)uid);
}

int
mu_sched_glue_submit (mu_coord_t *c, const mu_job_spec_t *spec, uint32_t uid,
                      int admin, char *tenant, size_t cap, char *err,
                      size_t errlen)
{
  char owner[64];
  user_name (uid, owner, sizeof owner);
  const char *t = NULL;
  int rc = mu_sg_tenant (spec->tenant, owner, admin, &t, err, errlen);
  if (rc != 0)
    return rc;
  mu_strlcpy (tenant, t, cap);
  mu_sched_spec_t sp;
  rc = mu_sg_job_of (spec, tenant, &sp, err, errlen);
  if (rc != 0)
    return rc;
  mu_sched_job_end (c->sched, spec->id); /* a finished job of that id */
  rc = mu_sched_submit (c->sched, &sp.job, mu_now_ms (), err, errlen);
  if (rc == MUSTER_EQUOTA)
    mu_log_notice (c->log, "SCHED-QUOTA", "job %s: %s", spec->id, err);
  return rc;
}

void
mu_sched_glue_created (mu_coord_t *c, mu_job_t *j, const char *tenant)
{
  j->sched_in = 1;
  free (j->sched_tenant);
  j->sched_tenant = strdup (tenant);
  /* The resolved tenant goes into the job's spec, journaled with it. */
  if (j->spec->tenant == NULL || strcmp (j->spec->tenant, tenant) != 0)
    {
      char *t = strdup (tenant);
      if (t != NULL)
        {
          free (j->spec->tenant);
          j->spec->tenant = t;
          mu_jhook_image (j);
        }
    }
  mu_sched_glue_dirty (c);
}

void
mu_sched_glue_abandon (mu_coord_t *c, const char *id)
{
  mu_sched_job_end (c->sched, id);
}

const char *
mu_sched_glue_reason (const mu_coord_t *c, const mu_job_t *j, char *buf,
                      size_t cap)
{
  mu_sched_job_view_t v;
  if (c == NULL || c->sched == NULL || !j->sched_in
      || mu_sched_job_query (c->sched, j->id, &v) != 0)
    return j->state == MU_JOB_SUSPENDED && j->sched_note ? j->sched_note
                                                         : NULL;
  switch (v.state)
    {
    case MU_SCHED_JOB_PENDING:
      if (j->state == MU_JOB_SUSPENDED) /* queued again after a restart */
        snprintf (buf, cap, "%s; queued to resume: %s",
                  j->reason ? j->reason : "suspended",
                  v.reason && *v.reason ? v.reason : "waiting for a pass");
      else
        snprintf (buf, cap, "queued: %s", v.reason && *v.reason
                                              ? v.reason
                                              : "waiting for a pass");
      return buf;
    case MU_SCHED_JOB_SUSPENDED:
      snprintf (buf, cap, "%s%s%s", j->sched_note ? j->sched_note : "suspended",
                v.reason && *v.reason ? "; queued to resume: " : "",
                v.reason ? v.reason : "");
      return buf;
    case MU_SCHED_JOB_SUSPENDING:
      snprintf (buf, cap, "%s", j->sched_note ? j->sched_note
                                              : "being suspended");
      return buf;
    default:
      return NULL;
    }
}

int
mu_sched_glue_queued (const mu_coord_t *c, const mu_job_t *j)
{
  mu_sched_job_view_t v;
  return c->sched != NULL && j->sched_in
         && mu_sched_job_query (c->sched, j->id, &v) == 0
         && (v.state == MU_SCHED_JOB_PENDING
             || v.state == MU_SCHED_JOB_SUSPENDED);
}

/* -------------------------------------------------------------- scale */

int
mu_sched_glue_set_target (mu_coord_t *c, mu_job_t *j, const char *role,
                          uint32_t target, char *err, size_t errlen)
{
  if (!j->sched_in)
    {
      snprintf (err, errlen, "job %s is not held by the scheduler (%s)",
                j->id, mu_job_state_name (j->state));
      return MUSTER_EINVAL;
    }
  /* NULL or "" = the job's first role (a service has one). */
  uint32_t ri = 0;
  if (role != NULL && *role != '\0')
    {
      while (ri < j->spec->roles.n
             && strcmp (j->spec->roles.v[ri].name, role) != 0)
        ri++;
      if (ri == j->spec->roles.n)
        {
          snprintf (err, errlen, "job %s has no role '%s'", j->id, role);
          return MUSTER_ENOTFOUND;
        }
    }
  mu_role_spec_t *rs = &j->spec->roles.v[ri];
  /* A service's replica count is a target, not a bound: `muster scale
   * svc 5` of a service submitted with 3 widens its range to hold 5 (the
   * autoscaler keeps itself within autoscale min..max). */
  if (mu_service_is (j) && (target < rs->min_nodes || target > rs->max_nodes))
    {
      uint64_t lo = rs->min_nodes < target ? rs->min_nodes : target;
      uint64_t hi = rs->max_nodes > target ? rs->max_nodes : target;
      char msg[256];
      uint64_t step;
      int rc = mu_sched_glue_scale (c, j, ri, lo, hi, msg, sizeof msg, &step,
                                    err, errlen);
      if (rc != 0)
        return rc;
    }
  int rc = mu_sched_scale (c->sched, j->id, rs->name, target, err, errlen);
  if (rc == 0)
    mu_sched_glue_dirty (c);
  return rc;
}

static size_t
role_nodes (mu_coord_t *c, const mu_job_t *j, uint32_t role)
{
  size_t k = 0;
  for (size_t i = 0; i < c->nodes_used; i++)
    {
      const mu_node_t *x = c->nodes[i];
      if (x != NULL && x->in_use && x->job == j && x->role == role)
        k++;
    }
  return k;
}

int
mu_sched_glue_scale (mu_coord_t *c, mu_job_t *j, uint32_t role,
                     uint64_t nmin, uint64_t nmax, char *msg, size_t msglen,
                     uint64_t *step, char *err, size_t errlen)
{
  mu_role_spec_t *rs = &j->spec->roles.v[role];
  *step = 0;
  if (!j->sched_in)
    {
      snprintf (err, errlen, "scale: job %s is %s and not queued", j->id,
                mu_job_state_name (j->state));
      return MUSTER_EJOBDONE;
    }
  int rc = mu_sched_set_range (c->sched, j->id, rs->name, (uint32_t)nmin,
                               (uint32_t)nmax, err, errlen);
  if (rc == 0 && j->spec->kind && strcmp (j->spec->kind, "service") == 0)
    rc = mu_sched_scale (c->sched, j->id, rs->name, (uint32_t)nmax, err,
                         errlen);
  if (rc != 0)
    return rc;
  /* The machine's range widens at once and narrows to the new one when
   * the role's agents are within it (mu_sched_glue_releases). */
  size_t before = role_nodes (c, j, role);
  mu_rdzv_decision_t d;
  uint64_t lo = rs->min_nodes < nmin ? rs->min_nodes : nmin;
  uint64_t hi = rs->max_nodes > nmax ? rs->max_nodes : nmax;
  if (hi < before)
    hi = before;
  if (j->state < MU_JOB_STOPPING
      && mu_rdzv_set_range (j->rdzv, mu_now_ms (), role, (uint32_t)lo,
                            (uint32_t)hi, &d) == 0)
    mu_jobs_handle_decision (j, &d);
  char was[64];
  snprintf (was, sizeof was, "%llu:%llu", (unsigned long long)rs->min_nodes,
            (unsigned long long)rs->max_nodes);
  rs->min_nodes = lo;
  rs->max_nodes = hi;
  j->scale_target_min = nmin;
  j->scale_target_max = nmax;
  j->scale_target_role = role;
  j->scale_target_set = 1;
  if (role < 32)
    j->scaled_roles |= 1u << role;
  /* A restart-mode job that checkpoints saves before it loses members:
   * asked now, so the reply names the step (the SHRINKs wait for it). */
  if (before > nmax && !j->in_place && j->ckpt != NULL
      && j->state == MU_JOB_RUNNING)
    {
      char cerr[256];
      int crc = mu_ckpt_trigger (j, "scale", 0, cerr, sizeof cerr);
      if (crc == 0 || crc == MUSTER_EEXIST)
        {
          *step = mu_ckpt_commit_step (j->ckpt);
          snprintf (msg, msglen,
                    "job %s role %s: checkpointing step %llu, then nodes "
                    "%llu:%llu (was %s): %zu node(s) to release", j->id,
                    rs->name, (unsigned long long)*step,
                    (unsigned long long)nmin, (unsigned long long)nmax, was,
                    before - (size_t)nmax);
        }
    }
  /* Otherwise the scheduler's pass runs now, so the reply tells what it
   * did (its shrinks release at once, its placements join). */
  c->sched_dirty = 1;
  pass (c);
  mu_sched_glue_releases (c);
  size_t after = role_nodes (c, j, role);
  if (*step == 0)
    snprintf (msg, msglen,
              "job %s role %s: nodes %llu:%llu (was %s); %zu node(s) "
              "released, %zu attached", j->id, rs->name,
              (unsigned long long)nmin, (unsigned long long)nmax, was,
              before > after ? before - after : 0,
              after > before ? after - before : 0);
  mu_jhook_image (j); /* the new range, journaled */
  mu_log_notice (c->log, "JOB-SCALE", "%s (through the scheduler)", msg);
  mu_sched_glue_dirty (c);
  return 0;
}
