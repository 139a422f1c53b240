/*
 * ctl_scale.c — ctl.scale: change an elastic job's node range while it
 * runs, reusing the rendezvous paths that already resize a job.
 *
 * {job, role, min, max} sets the range; {job, role, target} runs the role
 * at `target` nodes (max = target, min lowered to it when above).  Only an
 * elastic role (submitted with min < max) can be scaled: a fixed-size job
 * was asked for exactly its size.
 *
 * Shrinking: the surplus members (highest node ranks of the role) are
 * released like a drained node — job.done to their agent, then "left"
 * (mu_jobs_node_lost, never charged to a budget).  All but the last are
 * taken out quietly (marked cordoned, so their departure re-forms
 * nothing), the last triggers the one re-formation: in-place jobs keep
 * their survivors running and re-rank them; restart jobs stop and re-form
 * from a checkpoint: a restart job with a checkpoint directory first
 * takes a fresh one (the reply says which step) and loses its surplus
 * members once it has committed (mu_ctl_sweep, from the coordinator's
 * sweep timer, applies the range then; an attempt that fails falls back
 * to the newest committed one).  Then the machine gets the new range
 * (rdzv.h R9).
 *
 * Growing: free nodes (registered, no job, not cordoned, allowed to run
 * the owner's work) are attached first — while the round is at its old
 * max they only wait — then the new range turns them into one resize
 * (MU_RDZV_D_RESIZE: the same path as a node joining an elastic job).
 * With no free node the new max just lets the job take nodes later.
 */
#include "coordinator/ctl_ops.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <muster/error.h>

#include "common/util.h"
#include "checkpoint/commit.h"
#include "coordinator/ckpt.h"
#include "coordinator/sched_glue.h"
#include "coordinator/epoch.h"
#include "coordinator/sched_glue.h"
#include "coordinator/service.h"

#define WHAT "ctl.scale"

static int
role_of (const mu_job_t *j, const char *name, uint32_t *out)
{
  if (name == NULL || *name == '\0')
    {
      *out = 0;
      return 0;
    }
  for (size_t i = 0; i < j->spec->roles.n; i++)
    if (strcmp (j->spec->roles.v[i].name, name) == 0)
      {
        *out = (uint32_t)i;
        return 0;
      }
  return MUSTER_ENOTFOUND;
}

/* Release node n from j (job.done to its agent, then it leaves the job).
 * quiet: its leaving re-forms nothing (another release follows). */
static void
release (mu_coord_t *c, mu_job_t *j, mu_node_t *n, int quiet, const char *why)
{
  mu_msg_t m;
  memset (&m, 0, sizeof m);
  m.type = MU_MSG_JOB_DONE;
  m.u.job_done.job = j->id;
  m.u.job_done.state = (char *)"suspended";
  m.u.job_done.exit_code = 0;
  m.u.job_done.reason = (char *)why;
  m.u.job_done.failed_rank = -1;
  if (j->state == MU_JOB_RUNNING || j->state == MU_JOB_RECOVERING)
    mu_coord_send_node (c, n, &m);
  if (quiet)
    n->cordoned = 1; /* mu_jobs_node_lost: already out, nothing re-forms */
  mu_jobs_node_lost (c, n, why, 0);
}

/* The role's nodes in the round, highest node rank first (running), or in
 * table order (a round being formed).  Returns how many went into out. */
static size_t
round_nodes (mu_coord_t *c, mu_job_t *j, uint32_t role, mu_node_t **out,
             size_t cap)
{
  size_t k = 0;
  if (mu_rdzv_state (j->rdzv) == MU_RDZV_CLOSED)
    {
      size_t n = 0;
      const mu_rdzv_member_t *mem = mu_rdzv_members (j->rdzv, &n);
      for (size_t i = n; i-- > 0 && k < cap;)
        {
          mu_node_t *x = mu_coord_node (c, mem[i].key);
          if (mem[i].role == role && x != NULL && x->job == j
              && mu_rdzv_is_member (j->rdzv, x->key))
            out[k++] = x;
        }
      return k;
    }
  for (size_t i = c->nodes_used; i-- > 0 && k < cap;)
    {
      mu_node_t *x = c->nodes[i];
      if (x != NULL && x->in_use && x->job == j && x->role == role
          && mu_rdzv_is_member (j->rdzv, x->key))
        out[k++] = x;
    }
  return k;
}

static int
may_serve (const mu_node_t *n, const mu_job_t *j)
{
  return n->uid == 0 || n->uid == j->owner_uid;
}

/* Attach up to `want` free nodes to j's role; returns how many. */
static uint32_t
attach_free (mu_coord_t *c, mu_job_t *j, uint32_t role, uint32_t want)
{
  uint32_t got = 0;
  uint64_t now = mu_now_ms ();
  for (size_t i = 0; i < c->nodes_used && got < want; i++)
    {
      mu_node_t *n = c->nodes[i];
      if (n == NULL || !n->in_use || !n->alive || n->job != NULL
          || n->cordon_until > now || !may_serve (n, j))
        continue;
      const char *rn = n->role_name;
      if ((rn == NULL && role != 0)
          || (rn != NULL && strcmp (rn, j->spec->roles.v[role].name) != 0))
        continue;
      char err[256];
      if (mu_jobs_attach_node (c, n, j->spec, err, sizeof err) == 0)
        got++;
      else
        mu_log_warn (c->log, "SCALE-ATTACH", "job %s: node %s: %s", j->id,
                     n->node_id, err);
    }
  return got;
}

static size_t
count_round (mu_coord_t *c, const mu_job_t *j, uint32_t role)
{
  size_t n = 0;
  for (size_t i = 0; i < c->nodes_used; i++)
    {
      const mu_node_t *x = c->nodes[i];
      if (x != NULL && x->in_use && x->job == j && x->role == role
          && mu_rdzv_is_member (j->rdzv, x->key))
        n++;
    }
  return n;
}

/* Give j's role the range nmin:nmax now: release the surplus members, or
 * attach free nodes, then the machine's new range (R9).  0 with a summary
 * in msg, or a code with a sentence in err. */
static int
apply_range (mu_coord_t *c, mu_job_t *j, uint32_t role, uint64_t nmin,
             uint64_t nmax, char *msg, size_t msglen, char *err, size_t errlen)
{
  mu_role_spec_t *rs = &j->spec->roles.v[role];
  uint64_t was_min = rs->min_nodes, was_max = rs->max_nodes;
  mu_node_t **in_round = calloc (c->nodes_used ? c->nodes_used : 1,
                                 sizeof *in_round);
  if (in_round == NULL)
    {
      snprintf (err, errlen, "scale: out of memory");
      return -ENOMEM;
    }
  size_t have = round_nodes (c, j, role, in_round, c->nodes_used);
  uint32_t released = 0, attached = 0;
  if (have > nmax)
    {
      size_t surplus = have - nmax;
      for (size_t i = 0; i < surplus; i++)
        release (c, j, in_round[i], i + 1 < surplus, "scaled down");
      released = (uint32_t)surplus;
    }
  else if (j->state == MU_JOB_RUNNING)
    {
      uint32_t waiting = 0;
      for (size_t i = 0; i < c->nodes_used; i++)
        {
          mu_node_t *x = c->nodes[i];
          if (x != NULL && x->in_use && x->job == j && x->role == role
              && mu_rdzv_is_waiting (j->rdzv, x->key))
            waiting++;
        }
      if (have + waiting < nmax)
        attached = attach_free (c, j, role, (uint32_t)(nmax - have - waiting));
    }
  free (in_round);
  mu_rdzv_decision_t d;
  int rc = j->state >= MU_JOB_STOPPING
             ? 0
             : mu_rdzv_set_range (j->rdzv, mu_now_ms (), role, (uint32_t)nmin,
                                  (uint32_t)nmax, &d);
  if (rc != 0)
    {
      snprintf (err, errlen,
                "scale: job %s role %s: the machine refused %llu:%llu: %s",
                j->id, rs->name, (unsigned long long)nmin,
                (unsigned long long)nmax, muster_strerror (rc));
      return rc;
    }
  rs->min_nodes = nmin;
  rs->max_nodes = nmax;
  if (role < 32)
    j->scaled_roles |= 1u << role;
  snprintf (msg, msglen,
            "job %s role %s: nodes %llu:%llu (was %llu:%llu); %u node(s) "
            "released, %u attached",
            j->id, rs->name, (unsigned long long)nmin,
            (unsigned long long)nmax, (unsigned long long)was_min,
            (unsigned long long)was_max, released, attached);
  mu_log_notice (c->log, "JOB-SCALE", "%s", msg);
  if (j->state < MU_JOB_STOPPING)
    mu_jobs_handle_decision (j, &d);
  if (j->state == MU_JOB_PENDING || j->state == MU_JOB_RENDEZVOUS)
    mu_jobs_offer_free_nodes (c);
  return 0;
}

void
mu_ctl_scale (mu_coord_t *c, const mu_route_t *from, const mu_principal_t *who,
              const mu_ctl_scale_t *q)
{
  mu_job_t *j = mu_ctl_job (c, from, who, q->job, WHAT);
  if (j == NULL)
    return;
  uint32_t role;
  if (role_of (j, q->role, &role) != 0)
    {
      mu_ctl_error (c, from, MUSTER_ENOTFOUND, WHAT, "role",
                    "scale: field 'role': job %s has no role '%s' (its first "
                    "is '%s')", j->id, q->role, j->spec->roles.v[0].name);
      return;
    }
  if (j->state >= MU_JOB_STOPPING)
    {
      mu_ctl_error (c, from, MUSTER_EJOBDONE, WHAT, "job",
                    "scale: job %s is %s", j->id, mu_job_state_name (j->state));
      return;
    }
  mu_role_spec_t *rs = &j->spec->roles.v[role];
  /* service: a target goes to the scheduler, like the autoscaler's. */
  if (mu_service_is (j) && q->target != 0 && q->min == 0 && q->max == 0
      && q->target <= 100000)
    {
      char err[256];
      int rc = mu_sched_glue_set_target (c, j, q->role, (uint32_t)q->target,
                                         err, sizeof err);
      if (rc != 0)
        mu_ctl_error (c, from, rc, WHAT, "target", "scale: %s", err);
      else
        {
          char msg[256];
          snprintf (msg, sizeof msg, "job %s role %s: %llu replica(s)", j->id,
                    rs->name, (unsigned long long)q->target);
          mu_ctl_ok (c, from, msg);
        }
      return;
    }
  /* Elastic: submitted with a range (min < max), or scaled before. */
  uint32_t bit = role < 32 ? 1u << role : 0;
  if (!(j->scaled_roles & bit) && rs->min_nodes == rs->max_nodes
      && !mu_service_is (j))
    {
      mu_ctl_error (c, from, MUSTER_EINVAL, WHAT, "job",
                    "scale: job %s is not elastic (role %s runs exactly %llu "
                    "node(s); submit it with a node range MIN:MAX)",
                    j->id, rs->name, (unsigned long long)rs->max_nodes);
      return;
    }
  uint64_t nmin, nmax;
  if (q->target != 0)
    {
      if (q->min != 0 || q->max != 0)
        {
          mu_ctl_error (c, from, MUSTER_EINVAL, WHAT, "target",
                        "scale: field 'target': give either target or min "
                        "and max, not both");
          return;
        }
      nmax = q->target;
      nmin = rs->min_nodes < q->target ? rs->min_nodes : q->target;
    }
  else
    {
      if (q->max == 0)
        {
          mu_ctl_error (c, from, MUSTER_EINVAL, WHAT, "max",
                        "scale: field 'max' is required and must be >= 1 "
                        "(or give target)");
          return;
        }
      if (q->min > q->max)
        {
          mu_ctl_error (c, from, MUSTER_EINVAL, WHAT, "max",
                        "scale: field 'max' must be >= min (got %llu < %llu)",
                        (unsigned long long)q->max,
                        (unsigned long long)q->min);
          return;
        }
      nmin = q->min;
      nmax = q->max;
    }
  if (nmax > 100000)
    {
      mu_ctl_error (c, from, MUSTER_EINVAL, WHAT, q->target ? "target" : "max",
                    "scale: field '%s' must be at most 100000 (got %llu)",
                    q->target ? "target" : "max", (unsigned long long)nmax);
      return;
    }
  /* schedwire: a submitted job scales through the scheduler (its growth
   * respects priorities; its shrinks checkpoint first). */
  if (j->sched_in)
    {
      char smsg[300], serr[300];
      uint64_t step = 0;
      int src = mu_sched_glue_scale (c, j, role, nmin, nmax, smsg,
                                     sizeof smsg, &step, serr, sizeof serr);
      if (src != 0)
        {
          mu_ctl_error (c, from, src, WHAT, "max", "scale: %s", serr);
          return;
        }
      mu_msg_t m;
      memset (&m, 0, sizeof m);
      m.type = MU_MSG_CTL_REPLY;
      m.u.ctl_reply.message = smsg;
      m.u.ctl_reply.step = step;
      mu_coord_send_route (c, c->ctl_reply_sock, from, &m);
      return;
    }
  /* A restart-mode job that checkpoints loses its surplus members only
   * once a fresh checkpoint has committed (or the attempt ended): the
   * gang then re-forms from it (mu_ctl_sweep applies the range). */
  size_t have = count_round (c, j, role);
  if (have > nmax && !j->in_place && j->ckpt != NULL
      && j->state == MU_JOB_RUNNING && !j->scale_pending)
    {
      char err[256];
      int rc = mu_ckpt_trigger (j, "scale", 0, err, sizeof err);
      if (rc == 0 || rc == MUSTER_EEXIST)
        {
          j->scale_pending = 1;
          j->scale_role = role;
          j->scale_min = nmin;
          j->scale_max = nmax;
          c->ctl_scales_pending++;
          uint64_t step = mu_ckpt_commit_step (j->ckpt);
          char msg[256];
          snprintf (msg, sizeof msg,
                    "job %s role %s: checkpointing step %llu, then nodes "
                    "%llu:%llu (was %llu:%llu): %zu node(s) to release",
                    j->id, rs->name, (unsigned long long)step,
                    (unsigned long long)nmin, (unsigned long long)nmax,
                    (unsigned long long)rs->min_nodes,
                    (unsigned long long)rs->max_nodes, have - (size_t)nmax);
          mu_log_notice (c->log, "JOB-SCALE", "%s", msg);
          mu_msg_t m;
          memset (&m, 0, sizeof m);
          m.type = MU_MSG_CTL_REPLY;
          m.u.ctl_reply.message = msg;
          m.u.ctl_reply.step = step;
          mu_coord_send_route (c, c->ctl_reply_sock, from, &m);
          return;
        }
      mu_log_warn (c->log, "SCALE-NO-CKPT", "job %s: %s; shrinking from the "
                   "newest committed checkpoint", j->id, err);
    }
  char msg[256], err[256];
  int rc = apply_range (c, j, role, nmin, nmax, msg, sizeof msg, err,
                        sizeof err);
  if (rc != 0)
    mu_ctl_error (c, from, rc, WHAT, "max", "%s", err);
  else
    mu_ctl_ok (c, from, msg);
}

void
mu_ctl_sweep (mu_coord_t *c)
{
  if (c->ctl_scales_pending == 0)
    return;
  size_t pos = 0;
  void *val;
  while (mu_smap_next (c->jobs, &pos, NULL, &val))
    {
      mu_job_t *j = val;
      if (!j->scale_pending)
        continue;
      mu_ckpt_state_t st = j->ckpt ? mu_ckpt_commit_state (j->ckpt)
                                   : MU_CKPT_IDLE;
      if (j->state == MU_JOB_RUNNING
          && (st == MU_CKPT_COLLECTING || st == MU_CKPT_WRITING))
        continue; /* the checkpoint is still being taken */
      j->scale_pending = 0;
      c->ctl_scales_pending--;
      if (j->state >= MU_JOB_STOPPING)
        continue;
      char msg[256], err[256];
      if (apply_range (c, j, j->scale_role, j->scale_min, j->scale_max, msg,
                       sizeof msg, err, sizeof err) != 0)
        mu_log_warn (c->log, "SCALE-FAILED", "%s", err);
      else
        mu_log_notice (c->log, "JOB-SCALE", "%s (after checkpoint of step "
                       "%llu: %s)", msg,
                       (unsigned long long)(j->ckpt ? mu_ckpt_commit_step (j->ckpt) : 0),
                       st == MU_CKPT_COMMITTED ? "committed" : "not committed");
      if (c->ctl_scales_pending == 0)
        break;
    }
}
