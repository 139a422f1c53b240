/*
 * jobs.c — the coordinator's job registry: creating jobs from a spec,
 * attaching nodes to them, feeding their rendezvous state machine and
 * acting on its decisions, and finishing them.
 *
 * A job is created by the first node that brings its spec (`muster run`
 * on each machine, torchrun-style) or by a control-port submit, which then
 * draws free registered nodes.  Later nodes must bring an identical spec.
 * The rendezvous machine (rendezvous/) decides when a round closes; this
 * file turns its decisions into the job machine's events (job_machine.h,
 * fed through epoch.c): a closed round starts an epoch, a failed one
 * fails the job, a resize recovers it.  The job's state is the machine's;
 * this file only reads it.
 * A finished job stays in the registry (for status and for a late node to
 * be told the outcome) until finished_keep newer jobs have finished.
 */
#include "coordinator/coord.h"

#include <errno.h>
#include <stdio.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>

#include <muster/error.h>

#include "common/job_defaults.h"
#include "common/util.h"
#include "coordinator/auth.h"
#include "coordinator/ckpt.h"
#include "coordinator/coord_metrics.h"
#include "coordinator/epoch.h"
#include "coordinator/event_stream.h"
#include "coordinator/journal.h"
#include "coordinator/mem_trim.h"
#include "coordinator/sched_glue.h"

#define MAX_NPROC 4096
#define PROGRESS_EVERY_MS 1000 /* O(nodes) per tick: keep it rare */

static int
valid_id (const char *s)
{
  /* Ids name checkpoint directories: "." and ".." would escape them. */
  if (s == NULL || *s == '\0' || strlen (s) > 128 || strcmp (s, ".") == 0
      || strcmp (s, "..") == 0)
    return 0;
  for (; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')
          || (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' || *s == '.'))
      return 0;
  return 1;
}

int
mu_jobs_validate_spec (const mu_job_spec_t *spec, char *err, size_t errlen)
{
  if (!valid_id (spec->id))
    {
      snprintf (err, errlen,
                "job id '%s' must be 1-128 characters of [A-Za-z0-9._-]",
                spec->id ? spec->id : "");
      return MUSTER_EINVAL;
    }
  if (spec->roles.n == 0 || spec->roles.n > MU_RDZV_MAX_ROLES)
    {
      snprintf (err, errlen, "job %s: needs 1 to %d roles", spec->id,
                MU_RDZV_MAX_ROLES);
      return MUSTER_EINVAL;
    }
  for (size_t i = 0; i < spec->roles.n; i++)
    {
      const mu_role_spec_t *r = &spec->roles.v[i];
      if (!valid_id (r->name) || strlen (r->name) >= MU_RDZV_ROLE_NAME_MAX)
        {
          snprintf (err, errlen, "job %s: bad role name '%s'", spec->id,
                    r->name);
          return MUSTER_EINVAL;
        }
      if (r->max_nodes == 0 || r->min_nodes > r->max_nodes
          || r->max_nodes > UINT32_MAX)
        {
          snprintf (err, errlen,
                    "job %s: role %s: nodes %llu:%llu (need 0 <= min <= max, "
                    "max >= 1)",
                    spec->id, r->name, (unsigned long long)r->min_nodes,
                    (unsigned long long)r->max_nodes);
          return MUSTER_EINVAL;
        }
      if (r->nproc == 0 || r->nproc > MAX_NPROC)
        {
          snprintf (err, errlen, "job %s: role %s: nproc must be 1..%d",
                    spec->id, r->name, MAX_NPROC);
          return MUSTER_EINVAL;
        }
      for (size_t k = 0; k < i; k++)
        if (strcmp (spec->roles.v[k].name, r->name) == 0)
          {
            snprintf (err, errlen, "job %s: role %s declared twice",
                      spec->id, r->name);
            return MUSTER_EINVAL;
          }
    }
  if (spec->argv.n == 0 || spec->argv.v[0][0] == '\0')
    {
      snprintf (err, errlen, "job %s: no program to run", spec->id);
      return MUSTER_EINVAL;
    }
  if (spec->elastic_mode != NULL && strcmp (spec->elastic_mode, "restart") != 0
      && strcmp (spec->elastic_mode, "in-place") != 0)
    {
      snprintf (err, errlen,
                "job %s: elastic_mode '%s' (expected restart or in-place)",
                spec->id, spec->elastic_mode);
      return MUSTER_EINVAL;
    }
  return 0;
}

/* Two specs describe the same job when roles and program agree. */
static int
same_job (const mu_job_spec_t *a, const mu_job_spec_t *b, char *err,
          size_t errlen)
{
  if (a->roles.n != b->roles.n)
    goto differ;
  for (size_t i = 0; i < a->roles.n; i++)
    {
      const mu_role_spec_t *x = &a->roles.v[i], *y = &b->roles.v[i];
      if (strcmp (x->name, y->name) != 0 || x->min_nodes != y->min_nodes
          || x->max_nodes != y->max_nodes || x->nproc != y->nproc)
        goto differ;
    }
  if (a->argv.n != b->argv.n)
    goto differ_argv;
  for (size_t i = 0; i < a->argv.n; i++)
    if (strcmp (a->argv.v[i], b->argv.v[i]) != 0)
      goto differ_argv;
  return 1;
differ:
  snprintf (err, errlen,
            "job %s already exists with other roles or node counts "
            "(role %s %llu:%llu x %llu)",
            a->id, a->roles.v[0].name,
            (unsigned long long)a->roles.v[0].min_nodes,
            (unsigned long long)a->roles.v[0].max_nodes,
            (unsigned long long)a->roles.v[0].nproc);
  return 0;
differ_argv:
  snprintf (err, errlen,
            "job %s already exists on the coordinator with another program "
            "(%s); give --rdzv-id",
            a->id, a->argv.v[0]);
  return 0;
}

static void
on_timer_closed (uv_handle_t *h)
{
  mu_job_t *j = h->data;
  if (--j->timers_open == 0 && j->state >= MU_JOB_SUCCEEDED && j->coord == NULL
      && j->io_inflight == 0)
    mu_epoch_free_job (j);
}

static void on_rdzv_timer (uv_timer_t *t);
static void job_close_timers (mu_job_t *j);

/* A job that could not be set up: detached, it is freed once its timers
 * are closed (it never ran: the machine's DISCARD). */
static void
discard (mu_job_t *j)
{
  mu_jm_event_t ev = { .type = MU_JM_E_DISCARD, .now_ms = mu_now_ms () };
  mu_jm_out_t out;
  mu_jm_feed (&j->jm, &ev, &out);
  j->coord = NULL;
  job_close_timers (j);
}

static mu_job_t *
job_new (mu_coord_t *c, const mu_job_spec_t *spec, int queued)
{
  mu_job_t *j = calloc (1, sizeof *j);
  if (j == NULL)
    return NULL;
  j->coord = c;
  j->spec = mu_job_spec_dup (spec);
  j->id = j->spec ? j->spec->id : NULL;
  j->kv = mu_smap_new ();
  j->barriers = mu_smap_new ();
  mu_rdzv_role_t roles[MU_RDZV_MAX_ROLES];
  memset (roles, 0, sizeof roles);
  for (size_t i = 0; j->spec && i < spec->roles.n; i++)
    {
      mu_strlcpy (roles[i].name, spec->roles.v[i].name, sizeof roles[i].name);
      roles[i].min_nodes = (uint32_t)spec->roles.v[i].min_nodes;
      roles[i].max_nodes = (uint32_t)spec->roles.v[i].max_nodes;
      roles[i].nproc = (uint32_t)spec->roles.v[i].nproc;
    }
  mu_rdzv_opts_t ro = { .roles = roles,
                        .nroles = spec->roles.n,
                        .last_call_ms = spec->last_call_ms,
                        /* schedwire: a job in the scheduler's queue
                         * waits there for its gang, not against the
                         * default join timeout (a spec's own applies). */
                        .join_timeout_ms
                        = queued && spec->join_timeout_ms == 0
                              ? 0
                              : mu_job_default_or (spec->join_timeout_ms,
                                                   MU_JD_JOIN_TIMEOUT_MS) };
  if (j->spec == NULL || j->kv == NULL || j->barriers == NULL
      || mu_rdzv_new (&ro, &j->rdzv) != 0)
    {
      mu_smap_destroy (&j->kv);
      mu_smap_destroy (&j->barriers);
      mu_job_spec_free (&j->spec);
      free (j);
      return NULL;
    }
  mu_jm_init (&j->jm, spec->max_restarts,
              mu_job_default_or (spec->infra_restarts, MU_JD_INFRA_RESTARTS),
              spec->elastic_mode
                  && strcmp (spec->elastic_mode, "in-place") == 0);
  j->created_ms = mu_now_ms ();
  uv_timer_init (c->loop, &j->rdzv_timer);
  uv_timer_init (c->loop, &j->kick_timer);
  uv_timer_init (c->loop, &j->ckpt_timer);
  uv_timer_init (c->loop, &j->ckpt_tick);
  uv_timer_init (c->loop, &j->jp_timer); /* zsim: join_progress.c */
  j->rdzv_timer.data = j->kick_timer.data = j;
  j->ckpt_timer.data = j->ckpt_tick.data = j->jp_timer.data = j;
  j->timers_open = 5;
  return j;
}

/* Close the job's timers; the job is freed by the last close callback once
 * it has been detached from the coordinator. */
static void
job_close_timers (mu_job_t *j)
{
  if (j->timers_open == 5 && !uv_is_closing ((uv_handle_t *)&j->rdzv_timer))
    {
      uv_close ((uv_handle_t *)&j->jp_timer, on_timer_closed);
      uv_close ((uv_handle_t *)&j->rdzv_timer, on_timer_closed);
      uv_close ((uv_handle_t *)&j->kick_timer, on_timer_closed);
      uv_close ((uv_handle_t *)&j->ckpt_timer, on_timer_closed);
      uv_close ((uv_handle_t *)&j->ckpt_tick, on_timer_closed);
    }
}

/* Drop finished jobs beyond the retention count, oldest first. */
static void
prune_finished (mu_coord_t *c)
{
  while (c->njobs_finished > c->opts.finished_keep)
    {
      mu_job_t *oldest = NULL;
      size_t pos = 0;
      void *val;
      while (mu_smap_next (c->jobs, &pos, NULL, &val))
        {
          mu_job_t *j = val;
          if (j->state >= MU_JOB_SUCCEEDED && j->state != MU_JOB_SUSPENDED
              && (oldest == NULL || j->finished_ms < oldest->finished_ms))
            oldest = j;
        }
      if (oldest == NULL)
        return;
      mu_jhook_retired (oldest);
      mu_smap_del (c->jobs, oldest->id);
      mu_auth_forget_job (c->auth, oldest->id);
      c->njobs_finished--;
      oldest->coord = NULL;
      job_close_timers (oldest);
    }
}

void
mu_jobs_finished (mu_coord_t *c, mu_job_t *j)
{
  c->njobs_finished++;
  uv_timer_stop (&j->rdzv_timer);
  uv_timer_stop (&j->kick_timer);
  uv_timer_stop (&j->ckpt_timer);
  prune_finished (c);
  mu_jobs_offer_free_nodes (c);
  mu_mem_trim_soon (c); /* many jobs may end together (mem_trim.c) */
}

static void
arm_rdzv_timer (mu_job_t *j, uint64_t deadline)
{
  if (deadline == 0)
    {
      uv_timer_stop (&j->rdzv_timer);
      return;
    }
  uint64_t now = mu_now_ms ();
  uv_timer_start (&j->rdzv_timer, on_rdzv_timer,
                  deadline > now ? deadline - now : 0, 0);
}

static void
on_progress_timer (uv_timer_t *t)
{
  mu_job_t *j = t->data;
  if (j->state != MU_JOB_RENDEZVOUS)
    return;
  mu_epoch_broadcast_progress (j);
  /* Nodes that registered free while the job was recovering (an agent
   * restarted during the restart backoff) were offered to no job, and
   * nothing offers them again: offer them from here, a loop turn away from
   * any registration (a node attaching with its own job spec must not be
   * offered to that job half-way through). */
  /* (mem) Once per PROGRESS_EVERY_MS for the coordinator, not once per
   * job in rendezvous: 1,000 such jobs must not make a tick O(jobs^2). */
  mu_coord_t *c = j->coord;
  uint64_t now = mu_now_ms ();
  if (c != NULL && now - c->mem_offer_tick_ms >= PROGRESS_EVERY_MS)
    {
      c->mem_offer_tick_ms = now;
      mu_jobs_offer_free_nodes (c);
    }
}

void
mu_jobs_handle_decision (mu_job_t *j, const mu_rdzv_decision_t *d)
{
  mu_coord_t *c = j->coord;
  arm_rdzv_timer (j, d->deadline_ms);
  switch (d->action)
    {
    case MU_RDZV_D_NONE:
      break;
    case MU_RDZV_D_CLOSED:
      uv_timer_stop (&j->kick_timer);
      mu_ev_round_closed (j);
      mu_epoch_start (j);
      break;
    case MU_RDZV_D_FAILED:
      {
        mu_rdzv_status_t p;
        mu_rdzv_get_progress (j->rdzv, mu_now_ms (), &p);
        char why[256];
        snprintf (why, sizeof why,
                  "rendezvous timed out: %u of at least %u nodes joined",
                  p.joined, p.min_nodes);
        mu_log_warn (c->log, "RDZV-TIMEOUT", "job %s epoch %llu: %s", j->id,
                     (unsigned long long)d->epoch, why);
        mu_ev_round_failed (j, why);
        mu_epoch_fail (j, why, 1);
        break;
      }
    case MU_RDZV_D_RESIZE:
      mu_epoch_recover (j, MU_RECOVER_SCALE_UP, "a node joined; scaling up");
      break;
    case MU_RDZV_D_MEMBER_LEFT:
    case MU_RDZV_D_BELOW_MIN:
      break; /* the caller (node loss) decides */
    }
}

static void
on_rdzv_timer (uv_timer_t *t)
{
  mu_job_t *j = t->data;
  mu_rdzv_decision_t d;
  if (mu_rdzv_tick (j->rdzv, mu_now_ms (), &d) == 0)
    mu_jobs_handle_decision (j, &d);
}

void
mu_jobs_open_round (mu_job_t *j)
{
  mu_jm_event_t ev = { .type = j->state == MU_JOB_SUSPENDED ? MU_JM_E_RESUME
                                                           : MU_JM_E_OPEN };
  mu_epoch_feed (j, &ev, NULL);
}

void
mu_jobs_begin_round (mu_job_t *j, int reform)
{
  mu_rdzv_decision_t d;
  mu_cm_round_opened (j);
  j->round_open_us = mu_now_us (); /* zsim: EPOCH-START says the round */
  mu_jhook_state (j);
  mu_ev_round_opened (j);
  uv_timer_start (&j->kick_timer, on_progress_timer, PROGRESS_EVERY_MS,
                  PROGRESS_EVERY_MS);
  /* The first round waits out its last call for late nodes; a round that
   * re-forms the gang closes as soon as it can: everyone it expects is
   * already there. */
  int rc = !reform ? mu_rdzv_open (j->rdzv, mu_now_ms (), &d)
                   : mu_rdzv_open_ex (j->rdzv, mu_now_ms (), 0, &d);
  if (rc == 0)
    mu_jobs_handle_decision (j, &d);
}

static uint32_t
role_index (mu_job_t *j, const char *name)
{
  if (name == NULL)
    return 0;
  for (size_t i = 0; i < j->spec->roles.n; i++)
    if (strcmp (j->spec->roles.v[i].name, name) == 0)
      return (uint32_t)i;
  return UINT32_MAX;
}

static int join_as (mu_coord_t *c, mu_job_t *j, mu_node_t *n, uint32_t role,
                    char *err, size_t errlen);

static int
join_node (mu_coord_t *c, mu_job_t *j, mu_node_t *n, char *err, size_t errlen)
{
  uint32_t role = role_index (j, n->role_name);
  if (role == UINT32_MAX)
    {
      snprintf (err, errlen, "job %s has no role '%s'", j->id, n->role_name);
      return MUSTER_EINVAL;
    }
  return join_as (c, j, n, role, err, errlen);
}

/* May a node whose agent runs as uid serve the job?  (below) */
static int node_may_serve (const mu_node_t *n, const mu_job_t *j);

int
mu_jobs_place_node (mu_coord_t *c, mu_job_t *j, mu_node_t *n, uint32_t role,
                    char *err, size_t errlen)
{
  if (!node_may_serve (n, j))
    {
      snprintf (err, errlen, "job %s belongs to %s (uid %u); node %s's agent "
                "runs as uid %u", j->id, j->owner, (unsigned)j->owner_uid,
                n->node_id, (unsigned)n->uid);
      return MUSTER_EPERM;
    }
  if (role >= j->spec->roles.n)
    {
      snprintf (err, errlen, "job %s has no role %u", j->id, (unsigned)role);
      return MUSTER_EINVAL;
    }
  return join_as (c, j, n, role, err, errlen);
}

static int
join_as (mu_coord_t *c, mu_job_t *j, mu_node_t *n, uint32_t role, char *err,
         size_t errlen)
{
  n->job = j;
  n->role = role;
  n->live = 0;
  mu_rdzv_decision_t d;
  int rc = mu_rdzv_join_ranked (j->rdzv, mu_now_ms (), n->key, role,
                                (uint32_t)j->spec->roles.v[role].nproc,
                                n->rank_hint, &d);
  if (rc != 0)
    {
      n->job = NULL;
      snprintf (err, errlen, "job %s: join refused: %s", j->id,
                muster_strerror (rc));
      return rc;
    }
  mu_log_info (c->log, "RDZV-JOIN", "job %s: node %s joined as %s", j->id,
               n->node_id, j->spec->roles.v[role].name);
  mu_ev_node_joined (j, n);
  mu_join_progress_note (j, n); /* zsim: held back (decision 107) */
  mu_jobs_handle_decision (j, &d);
  return 0;
}

/* The job belongs to uid: its workers run as that user, and only that user
 * (or an admin) sees and acts on it through the control port. */
static int
set_owner (mu_job_t *j, uint32_t uid, uint32_t gid)
{
  char name[64];
  struct passwd *pw = getpwuid (uid);
  if (pw != NULL)
    mu_strlcpy (name, pw->pw_name, sizeof name);
  else
    snprintf (name, sizeof name, "uid %u", (unsigned)uid);
  j->owner_uid = uid;
  j->owner_gid = pw != NULL ? (uint32_t)pw->pw_gid : gid;
  free (j->owner);
  j->owner = strdup (name);
  return j->owner ? 0 : -ENOMEM;
}

static mu_job_t *
create_job (mu_coord_t *c, const mu_job_spec_t *spec, uint32_t uid,
            uint32_t gid, int submitted)
{
  mu_job_t *j = job_new (c, spec, submitted);
  if (j == NULL)
    return NULL;
  if (set_owner (j, uid, gid) != 0)
    {
      discard (j);
      return NULL;
    }
  if (mu_smap_put (c->jobs, j->id, j, NULL) != 0)
    {
      discard (j);
      return NULL;
    }
  mu_log_notice (c->log, "JOB-CREATED", "job %s of %s: %s, %zu role(s), first %s %llu:%llu x %llu",
                 j->id, j->owner, spec->argv.v[0], spec->roles.n, spec->roles.v[0].name,
                 (unsigned long long)spec->roles.v[0].min_nodes,
                 (unsigned long long)spec->roles.v[0].max_nodes,
                 (unsigned long long)spec->roles.v[0].nproc);
  j->submitted = submitted;
  mu_jhook_created (j);
  mu_ev_job_created (j);
  int rc = mu_ckpt_job_init (j);
  if (rc < 0)
    mu_log_warn (c->log, "CKPT-INIT-FAILED", "job %s: checkpoints off: %s",
                 j->id, muster_strerror (rc));
  if (rc != 1) /* 1: the scan for a restore point opens the round */
    mu_jobs_open_round (j);
  return j;
}

mu_job_t *
mu_jobs_restore_new (mu_coord_t *c, const mu_job_spec_t *spec, uint32_t uid,
                     uint32_t gid)
{
  mu_job_t *j = job_new (c, spec, 0);
  if (j == NULL)
    return NULL;
  if (set_owner (j, uid, gid) != 0 || mu_smap_put (c->jobs, j->id, j, NULL) != 0)
    {
      discard (j);
      return NULL;
    }
  return j;
}

/* A finished job under the same id is replaced by a new one. */
static void
retire_finished (mu_coord_t *c, mu_job_t *j)
{
  mu_jhook_retired (j);
  mu_smap_del (c->jobs, j->id);
  mu_auth_forget_job (c->auth, j->id);
  c->njobs_finished--;
  j->coord = NULL;
  job_close_timers (j);
}

/* May a node whose agent runs as uid serve the job?  A root agent runs
 * any owner's workers (as that owner); any other agent only its own. */
static int
node_may_serve (const mu_node_t *n, const mu_job_t *j)
{
  return n->uid == 0 || n->uid == j->owner_uid;
}

int
mu_jobs_attach_node (mu_coord_t *c, mu_node_t *n, const mu_job_spec_t *spec,
                     char *err, size_t errlen)
{
  mu_job_t *j = mu_smap_get (c->jobs, spec->id);
  if (j != NULL && j->state < MU_JOB_SUCCEEDED && !node_may_serve (n, j))
    {
      snprintf (err, errlen, "job %s belongs to %s (uid %u); this node's "
                "agent runs as uid %u", j->id, j->owner,
                (unsigned)j->owner_uid, (unsigned)n->uid);
      return MUSTER_EPERM;
    }
  if (j != NULL && j->state == MU_JOB_SUSPENDED && j->owner_uid != n->uid
      && n->uid != 0)
    {
      snprintf (err, errlen, "suspended job %s belongs to %s", j->id, j->owner);
      return MUSTER_EPERM;
    }
  if (j != NULL && j->state == MU_JOB_SUSPENDED && same_job (j->spec, spec, err, errlen))
    mu_ckpt_resume (j, err, errlen); /* starting it again resumes it */
  else if (j != NULL && j->state >= MU_JOB_SUCCEEDED)
    {
      retire_finished (c, j);
      j = NULL;
    }
  if (j == NULL)
    {
      /* A job a node brings belongs to the user its agent runs as (for a
       * node enrolled with a job's token: that job's owner). */
      j = create_job (c, spec, n->uid, n->uid == c->self_uid ? c->self_gid : n->uid, 0);
      if (j == NULL)
        {
          snprintf (err, errlen, "out of memory creating job %s", spec->id);
          return -ENOMEM;
        }
    }
  else if (!same_job (j->spec, spec, err, errlen))
    return MUSTER_EJOBSPEC;
  if (j->state == MU_JOB_STOPPING)
    {
      snprintf (err, errlen, "job %s is stopping", j->id);
      return MUSTER_EJOBDONE;
    }
  return join_node (c, j, n, err, errlen);
}

size_t
mu_jobs_option_notes (mu_coord_t *c, const mu_job_spec_t *spec, char *buf,
                      size_t cap)
{
  if (cap > 0)
    buf[0] = '\0';
  mu_job_t *j = mu_smap_get (c->jobs, spec->id);
  char ignored[64];
  if (j == NULL || j->state >= MU_JOB_SUCCEEDED
      || !same_job (j->spec, spec, ignored, sizeof ignored))
    return 0;
  return mu_job_option_notes (j->spec, spec, buf, cap);
}

int
mu_jobs_submit (mu_coord_t *c, const mu_job_spec_t *spec, uint32_t uid,
                uint32_t gid, int admin, char *err, size_t errlen)
{
  int rc = mu_jobs_validate_spec (spec, err, errlen);
  if (rc == 0)
    rc = mu_ckpt_check_dir (spec, uid, gid, err, errlen);
  if (rc != 0)
    return rc;
  mu_job_t *j = mu_smap_get (c->jobs, spec->id);
  if (j != NULL && !admin && j->owner_uid != uid)
    {
      snprintf (err, errlen, "job id %s is taken by %s's job", spec->id,
                j->owner);
      return MUSTER_EPERM;
    }
  if (j != NULL && j->state == MU_JOB_SUSPENDED)
    return mu_ckpt_resume (j, err, errlen);
  if (j != NULL && j->state < MU_JOB_SUCCEEDED)
    {
      snprintf (err, errlen, "job %s already exists (%s)", spec->id,
                mu_job_state_name (j->state));
      return MUSTER_EEXIST;
    }
  /* schedwire: queued in the scheduler first (a quota it can never fit
   * is refused here, before anything is created). */
  char tenant[MU_SCHED_NAME_MAX];
  rc = mu_sched_glue_submit (c, spec, uid, admin, tenant, sizeof tenant, err,
                             errlen);
  if (rc != 0)
    return rc;
  if (j != NULL)
    retire_finished (c, j);
  mu_job_t *nj = create_job (c, spec, uid, gid, 1);
  if (nj == NULL)
    {
      mu_sched_glue_abandon (c, spec->id);
      snprintf (err, errlen, "out of memory creating job %s", spec->id);
      return -ENOMEM;
    }
  mu_sched_glue_created (c, nj, tenant);
  return 0;
}

int
mu_jobs_cancel (mu_coord_t *c, const char *id, char *err, size_t errlen)
{
  mu_job_t *j = mu_smap_get (c->jobs, id);
  if (j == NULL)
    {
      snprintf (err, errlen, "no job %s", id);
      return MUSTER_ENOTFOUND;
    }
  if (j->state >= MU_JOB_SUCCEEDED)
    {
      snprintf (err, errlen, "job %s already %s", id,
                mu_job_state_name (j->state));
      return MUSTER_EJOBDONE;
    }
  mu_epoch_cancel (j, "cancelled by request");
  return 0;
}

static int
created_first (const void *a, const void *b)
{
  const mu_job_t *x = *(mu_job_t *const *)a, *y = *(mu_job_t *const *)b;
  if (x->created_ms != y->created_ms)
    return x->created_ms < y->created_ms ? -1 : 1;
  return strcmp (x->id, y->id);
}

static int
wants_nodes (const mu_job_t *j)
{
  if (j->state != MU_JOB_RENDEZVOUS && j->state != MU_JOB_PENDING)
    return 0;
  mu_rdzv_status_t p;
  mu_rdzv_get_progress (j->rdzv, mu_now_ms (), &p);
  return p.joined < p.max_nodes;
}

/* Free nodes (registered without a job) go to jobs that still want nodes
 * and that the scheduler does not hold (brought by nodes, or restored with
 * their nodes from the journal): pending or in rendezvous, below max,
 * oldest first.  The scheduler's jobs get theirs from it (sched_glue.h).
 * (mem) The jobs that want nodes are gathered once per call, so an event
 * costs O(jobs + nodes + free nodes x jobs that want them): with 1,000
 * jobs running and their nodes freed as they finish, each finish no longer
 * walks every job for every free node (bench/many_jobs). */
void
mu_jobs_offer_free_nodes (mu_coord_t *c)
{
  size_t nwant = 0, pos = 0;
  void *val;
  mu_job_t **want = NULL;
  while (mu_smap_next (c->jobs, &pos, NULL, &val))
    {
      mu_job_t *j = val;
      if ((j->submitted && j->sched_in) || !wants_nodes (j))
        continue; /* placed by the scheduler (sched_glue.h); a job restored
                     with its nodes is not in it (decision 85) */
      if (want == NULL)
        {
          want = malloc (mu_smap_size (c->jobs) * sizeof *want);
          if (want == NULL)
            {
              mu_log_warn (c->log, "JOIN-FAILED",
                           "free nodes not offered: out of memory");
              return;
            }
        }
      want[nwant++] = j;
    }
  if (nwant == 0)
    return; /* the usual case: nothing to place, no node visited */
  qsort (want, nwant, sizeof *want, created_first);
  uint64_t now = mu_now_ms ();
  for (size_t k = 0; k < c->nodes_used; k++)
    {
      mu_node_t *n = c->nodes[k];
      if (n == NULL || !n->in_use || !n->alive || n->job != NULL
          || n->cordon_until > now)
        continue;
      mu_job_t *best = NULL;
      for (size_t i = 0; i < nwant && best == NULL; i++)
        if (node_may_serve (n, want[i]) && wants_nodes (want[i]))
          best = want[i];
      if (best == NULL)
        continue; /* another node (another uid) may still serve a job */
      char err[256];
      if (join_node (c, best, n, err, sizeof err) != 0)
        mu_log_warn (c->log, "JOIN-FAILED", "node %s: %s", n->node_id, err);
    }
  free (want);
}

void
mu_jobs_close_all (mu_coord_t *c)
{
  size_t pos = 0;
  void *val;
  while (mu_smap_next (c->jobs, &pos, NULL, &val))
    {
      mu_job_t *j = val;
      mu_kv_reset (j, MUSTER_ECLOSED);
      mu_ckpt_job_close (j);
      job_close_timers (j);
    }
}

void
mu_jobs_free_all (mu_coord_t *c)
{
  size_t pos = 0;
  void *val;
  while (mu_smap_next (c->jobs, &pos, NULL, &val))
    {
      mu_job_t *j = val;
      j->coord = NULL;
      if (j->timers_open == 0 && j->io_inflight == 0)
        mu_epoch_free_job (j);
    }
}
