/*
 * ckpt.c — checkpoints seen from the coordinator: when to take one, the
 * two-phase commit (checkpoint/commit.c) fed from the loop, where the next
 * epoch restores from, and preemption.
 *
 * Step agreement: a checkpoint is of "the state after step S" and every
 * member must save the same S.  Agents put the highest step their workers
 * reported in each heartbeat; the coordinator asks for S = max + 2, so a
 * request reaches every worker before it gets there (a step takes longer
 * than a message).  A worker already past S answers MUSTER_EPASSED and the
 * attempt is retried at once with a fresh S (up to 3 times).  A job that
 * reports no steps is asked to save at once (`now`), numbered 1, 2, ...
 *
 * --ckpt-every-steps N asks for the multiples of N.  The first one is
 * asked for when the epoch starts ("early"), before any heartbeat: the
 * first report of a fast job may already be past N (heartbeats come every
 * 200 ms), and with no step rate yet nothing tells how close N is — which
 * is how the first checkpoint of `--ckpt-every-steps 50` used to be 100.
 * An early attempt that cannot be reached before its deadline (the step
 * rate says so), or that is in the way of an explicit checkpoint or a
 * preemption, is dropped quietly and the next multiple is asked for once
 * it is about 2 s away; a worker that passed a multiple never makes the
 * attempt retry at a step that is not one.
 *
 * Triggers: periodic (spec.ckpt_every_ms), on demand (control port
 * ctl.checkpoint), preemption (ctl.preempt for the whole job; agent.preempt
 * when a node gets SIGTERM or Slurm's warning signal).  A preemption
 * checkpoints within the grace period, then stops; if the commit misses
 * the deadline the job stops anyway and keeps the previous checkpoint.
 *
 * Blocking file work (scanning for the newest checkpoint, writing the
 * MANIFEST, retention) runs on libuv's thread pool (ckpt_io.c); only a
 * mkdir and a stat run on the loop, when an attempt begins.
 */
#include "coordinator/ckpt.h"
#include "coordinator/coord_metrics.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <muster/error.h>

#include <unistd.h>

#include "checkpoint/commit.h"
#include "checkpoint/dir_probe.h"
#include "common/job_defaults.h"
#include "common/util.h"
#include "coordinator/ckpt_finished.h"
#include "coordinator/epoch.h"
#include "coordinator/event_stream.h"
#include "coordinator/journal.h"

#define MAX_PASSED_RETRIES 3
#define PREEMPT_STOP_SHARE 4 /* a quarter of the grace is kept for stopping */

static void on_tick (uv_timer_t *t);
static void drop_early (mu_job_t *j, int only_late);

static uint64_t
timeout_of (const mu_job_t *j)
{
  return mu_job_default_or (j->spec->ckpt_timeout_ms, MU_JD_CKPT_TIMEOUT_MS);
}

static void
broadcast (mu_job_t *j, const mu_msg_t *m)
{
  for (size_t i = 0; i < j->nmembers; i++)
    {
      mu_node_t *n = mu_coord_node (j->coord, j->members[i]);
      if (n != NULL && n->job == j)
        mu_coord_send_node (j->coord, n, m);
    }
}

/* ckpt.done to every member; an abort carries why, the step a restart
 * would use and whether it is a failure to report (`failed`). */
static void
send_done (mu_job_t *j, uint64_t step, int status, const char *manifest,
           const char *why, int failed)
{
  mu_msg_t m;
  memset (&m, 0, sizeof m);
  m.type = MU_MSG_CKPT_DONE;
  m.u.ckpt_done.job = j->id;
  m.u.ckpt_done.step = step;
  m.u.ckpt_done.status = status;
  m.u.ckpt_done.manifest = (char *)manifest;
  m.u.ckpt_done.reason = (char *)why;
  m.u.ckpt_done.last_step = j->restore_dir != NULL ? j->restore_step : 0;
  m.u.ckpt_done.failed = failed != 0;
  broadcast (j, &m);
}

/* Is an abort a checkpoint failure the user must hear of?  Not an early
 * attempt dropped quietly, one dropped for another checkpoint or by a
 * shutdown (MUSTER_ECANCELED, MUSTER_ECLOSED), nor a worker already past
 * the step (MUSTER_EPASSED: the step is agreed again, not a fault), nor a
 * step found already saved (MUSTER_EEXIST from the step's preparation).  Full
 * or read-only disks, refused writes, timeouts, lost members: yes. */
static int
abort_is_failure (const mu_job_t *j, int status)
{
  return !j->ckpt_early && status != MUSTER_ECANCELED
         && status != MUSTER_ECLOSED && status != MUSTER_EPASSED
         && status != MUSTER_EEXIST; /* that step is saved already */
}

static void
discard_step (mu_job_t *j, uint64_t step)
{
  if (step == j->ckpt_kept_step)
    j->ckpt_kept_step = 0;
  if (mu_ckpt_io_discard (j, step) != 0)
    mu_log_info (j->coord->log, "CKPT-DISCARD-FAILED",
                 "job %s: step %llu: cannot queue the removal", j->id,
                 (unsigned long long)step);
}

/* Keep the directory of a cancelled attempt at `step` for asking it again;
 * one kept before for another step goes. */
static void
keep_step (mu_job_t *j, uint64_t step)
{
  if (j->ckpt_kept_step != 0 && j->ckpt_kept_step != step)
    discard_step (j, j->ckpt_kept_step);
  j->ckpt_kept_step = step;
}

/* Is an attempt at `step` in flight (its directory in use)? */
static int
in_flight_at (const mu_job_t *j, uint64_t step)
{
  mu_ckpt_state_t st = mu_ckpt_commit_state (j->ckpt);
  return (st == MU_CKPT_COLLECTING || st == MU_CKPT_WRITING)
         && mu_ckpt_commit_step (j->ckpt) == step;
}

static void arm_tick (mu_job_t *j, uint64_t deadline);
static void after_attempt (mu_job_t *j, int committed, uint64_t step,
                           int status, const char *why);

/* Act on a decision of the commit machine. */
static void
apply (mu_job_t *j, const mu_ckpt_decision_t *d)
{
  arm_tick (j, d->deadline_ms);
  switch (d->action)
    {
    case MU_CKPT_D_NONE:
    case MU_CKPT_D_REQUEST: /* sent by begin() itself */
      break;
    case MU_CKPT_D_WRITE_MANIFEST:
      d->manifest->created_us = mu_wall_us ();
      j->writing_created_us = d->manifest->created_us;
      mu_cm_ckpt_manifest (j, d->manifest);
      if (mu_ckpt_io_commit (j, d->manifest, d->step) != 0)
        {
          mu_ckpt_decision_t d2;
          if (mu_ckpt_commit_written (j->ckpt, mu_now_ms (), -ENOMEM, &d2) == 0)
            apply (j, &d2);
        }
      break;
    case MU_CKPT_D_COMMITTED:
      {
        char dir[4096];
        mu_ckpt_step_dir (j->spec->ckpt_dir, j->id, d->step, dir, sizeof dir);
        char *rd = strdup (dir);
        if (rd != NULL)
          {
            free (j->restore_dir);
            j->restore_dir = rd;
            j->restore_step = d->step;
            j->restore_created_us = j->writing_created_us;
            mu_jhook_ckpt (j);
          }
        mu_log_notice (j->coord->log, "CKPT-COMMITTED",
                       "job %s: step %llu committed (%s)", j->id,
                       (unsigned long long)d->step, dir);
        mu_cm_ckpt_done (j, "committed");
        mu_ev_ckpt_committed (j, d->step);
        char manifest[4200];
        snprintf (manifest, sizeof manifest, "%s/MANIFEST", dir);
        j->ckpt_early = 0;
        send_done (j, d->step, 0, manifest, NULL, 0);
        after_attempt (j, 1, d->step, 0, NULL);
        break;
      }
    case MU_CKPT_D_ABORTED:
      {
        const char *why = d->reason ? d->reason : muster_strerror (d->status);
        int failed = abort_is_failure (j, d->status);
        if (j->ckpt_early)
          mu_log_info (j->coord->log, "CKPT-DROPPED", "job %s: step %llu: %s",
                       j->id, (unsigned long long)d->step, why);
        else
          mu_log_warn (j->coord->log, "CKPT-ABORTED", "job %s: step %llu: %s",
                       j->id, (unsigned long long)d->step, why);
        mu_cm_ckpt_done (j, j->ckpt_early ? "dropped" : "aborted");
        mu_ev_ckpt_aborted (j, d->step, why, j->ckpt_early);
        int early = j->ckpt_early;
        j->ckpt_early = 0;
        send_done (j, d->step, d->status, NULL, why, failed);
        if (failed && d->step > j->ckpt_failed_step)
          j->ckpt_failed_step = d->step;
        /* An attempt that did not commit leaves no step directory behind
         * (one holding a MANIFEST is never touched).  A cancelled one may
         * be asked again at the same step: its directory stays for that
         * until another step is asked for or the job ends. */
        if (d->status == MUSTER_ECANCELED)
          keep_step (j, d->step);
        else
          discard_step (j, d->step);
        if (!early)
          after_attempt (j, 0, d->step, d->status, why);
        break;
      }
    }
}

static void
arm_tick (mu_job_t *j, uint64_t deadline)
{
  if (j->coord == NULL || uv_is_closing ((uv_handle_t *)&j->ckpt_tick))
    return;
  if (deadline == 0)
    {
      uv_timer_stop (&j->ckpt_tick);
      return;
    }
  uint64_t now = mu_now_ms ();
  uv_timer_start (&j->ckpt_tick, on_tick, deadline > now ? deadline - now : 0,
                  0);
}

static void
on_tick (uv_timer_t *t)
{
  mu_job_t *j = t->data;
  mu_ckpt_decision_t d;
  if (j->ckpt != NULL && mu_ckpt_commit_tick (j->ckpt, mu_now_ms (), &d) == 0)
    apply (j, &d);
}

/* The shortest span a step rate is measured over: under the heartbeat
 * interval (200 ms), so two consecutive reports always qualify — UDP
 * heartbeats come 200 ms apart to the millisecond, and at 200 the first
 * rate waited for a third report one time in two (hb area). */
#define RATE_SPAN_MS 150

/* The step to ask for: far enough ahead that the request reaches every
 * worker before it finishes that step, from the highest step seen, its age
 * and the job's step rate (plus 50 ms for the request to travel). */
static uint64_t
target_step (const mu_job_t *j)
{
  uint64_t age = mu_now_ms () - j->max_step_ms;
  double ahead = j->step_rate * (double)(age + 50);
  if (ahead > 1e9)
    ahead = 1e9;
  return j->max_step + 2 + (uint64_t)ahead;
}

static int
begin (mu_job_t *j, uint64_t timeout_ms, uint64_t want_step, char *err,
       size_t errlen)
{
  int now_mode = j->max_step == 0 && want_step == 0;
  uint64_t step = want_step ? want_step
                  : now_mode ? ++j->ckpt_seq
                             : target_step (j);
  uint64_t last = 0;
  if (mu_ckpt_commit_last (j->ckpt, &last) && step <= last)
    step = last + 1;
  mu_role_world_t roles[MU_RDZV_MAX_ROLES];
  size_t nroles = mu_rdzv_nroles (j->rdzv);
  for (size_t r = 0; r < nroles; r++)
    {
      roles[r].name = j->spec->roles.v[r].name;
      uint32_t nodes = 0;
      roles[r].world = mu_rdzv_role_world (j->rdzv, (uint32_t)r, &nodes);
      roles[r].nodes = nodes;
    }
  mu_ckpt_begin_t b = { .step = step,
                        .epoch = j->epoch,
                        .world = j->world,
                        .timeout_ms = timeout_ms,
                        .roles = roles,
                        .nroles = nroles,
                        .nbuckets = j->spec->nbuckets };
  mu_ckpt_decision_t d;
  j->ckpt_deadline_ms = mu_now_ms () + timeout_ms;
  int rc = mu_ckpt_commit_begin (j->ckpt, mu_now_ms (), &b, &d);
  if (rc != 0)
    {
      snprintf (err, errlen, "job %s: cannot begin a checkpoint of step %llu: %s",
                j->id, (unsigned long long)step, muster_strerror (rc));
      return rc;
    }
  mu_cm_ckpt_begin (j);
  apply (j, &d);
  /* A directory kept from a cancelled attempt serves this one if it is
   * of the same step, else it goes. */
  if (j->ckpt_kept_step == step)
    j->ckpt_kept_step = 0;
  else if (j->ckpt_kept_step != 0)
    discard_step (j, j->ckpt_kept_step);
  /* The step directory is made off the loop (mkdir and fsyncs); the
   * requests go out when it is ready (mu_ckpt_prepared). */
  rc = mu_ckpt_io_prepare (j, step, j->epoch, now_mode, timeout_ms);
  if (rc != 0)
    {
      mu_ckpt_decision_t d2;
      if (mu_ckpt_commit_cancel (j->ckpt, mu_now_ms (), rc,
                                 "cannot prepare the step directory", &d2) == 0)
        apply (j, &d2);
    }
  return 0;
}

void
mu_ckpt_prepared (mu_job_t *j, uint64_t step, uint64_t epoch, int now_mode,
                  uint64_t timeout_ms, int rc, const char *dir,
                  const char *err)
{
  if (j->coord == NULL || j->ckpt == NULL)
    return;
  /* Still the attempt in flight?  (A new epoch may have aborted it, or
   * the job ended.)  If not, the directory just made goes, unless it is
   * kept for asking its step again or another attempt uses it: removing
   * it when the attempt ended may have run before it was made. */
  if (mu_ckpt_commit_state (j->ckpt) != MU_CKPT_COLLECTING
      || mu_ckpt_commit_step (j->ckpt) != step || j->epoch != epoch)
    {
      if (rc == 0 && step != j->ckpt_kept_step && !in_flight_at (j, step))
        discard_step (j, step);
      return;
    }
  mu_ckpt_decision_t d;
  if (rc != 0)
    {
      char why[600];
      (void)err; /* it names the path again; the code says the rest */
      snprintf (why, sizeof why,
                "cannot prepare the step directory: %s (%s on %s)",
                muster_strerror (rc), muster_err_name (rc), dir);
      if (mu_ckpt_commit_cancel (j->ckpt, mu_now_ms (), rc, why, &d) == 0)
        apply (j, &d);
      return;
    }
  mu_msg_t m;
  memset (&m, 0, sizeof m);
  m.type = MU_MSG_CKPT_REQUEST;
  m.u.ckpt_request.job = j->id;
  m.u.ckpt_request.epoch = epoch;
  m.u.ckpt_request.step = step;
  m.u.ckpt_request.deadline_ms = timeout_ms;
  m.u.ckpt_request.dir = (char *)dir;
  m.u.ckpt_request.reason = (char *)j->ckpt_reason;
  m.u.ckpt_request.now = now_mode;
  broadcast (j, &m);
  mu_log_info (j->coord->log, "CKPT-BEGIN", "job %s epoch %llu: step %llu (%s)",
               j->id, (unsigned long long)epoch, (unsigned long long)step,
               j->ckpt_reason ? j->ckpt_reason : "");
  mu_ev_ckpt_requested (j, step, j->ckpt_reason);
}

int
mu_ckpt_trigger (mu_job_t *j, const char *reason, uint64_t timeout_ms,
                 char *err, size_t errlen)
{
  if (j->ckpt == NULL)
    {
      snprintf (err, errlen, "job %s has no checkpoint directory (ckpt_dir)",
                j->id);
      return MUSTER_EINVAL;
    }
  if (j->state != MU_JOB_RUNNING)
    {
      snprintf (err, errlen, "job %s is %s, not running", j->id,
                mu_job_state_name (j->state));
      return MUSTER_EJOBDONE;
    }
  drop_early (j, 0);
  mu_ckpt_state_t st = mu_ckpt_commit_state (j->ckpt);
  if (st == MU_CKPT_COLLECTING || st == MU_CKPT_WRITING)
    {
      snprintf (err, errlen, "job %s: a checkpoint of step %llu is in flight",
                j->id, (unsigned long long)mu_ckpt_commit_step (j->ckpt));
      return MUSTER_EEXIST;
    }
  j->ckpt_reason = reason;
  j->ckpt_retries = 0;
  j->ckpt_by_steps = 0;
  return begin (j, timeout_ms ? timeout_ms : timeout_of (j), 0, err, errlen);
}

/* ------------------------------------------------------------ preemption */

static void
finish_preemption (mu_job_t *j, int committed)
{
  int mode = j->preempting;
  j->preempting = 0;
  char why[256];
  if (committed)
    snprintf (why, sizeof why, "preempted; resumable from step %llu",
              (unsigned long long)j->restore_step);
  else if (j->restore_dir != NULL)
    snprintf (why, sizeof why,
              "preempted before its checkpoint committed; resumable from "
              "step %llu",
              (unsigned long long)j->restore_step);
  else
    snprintf (why, sizeof why, "preempted; no checkpoint to resume from");
  if (mode == 2)
    {
      mu_node_t *n = mu_coord_node (j->coord, j->preempt_node);
      if (n != NULL && n->job == j)
        {
          /* Can the job go on without it? */
          uint32_t nodes = 0;
          mu_rdzv_role_world (j->rdzv, n->role, &nodes);
          const mu_rdzv_role_t *role = mu_rdzv_role (j->rdzv, n->role);
          if (role != NULL && nodes > role->min_nodes)
            {
              mu_msg_t m;
              memset (&m, 0, sizeof m);
              m.type = MU_MSG_JOB_DONE;
              m.u.job_done.job = j->id;
              m.u.job_done.state = (char *)"suspended";
              m.u.job_done.exit_code = 0;
              m.u.job_done.reason = why;
              m.u.job_done.failed_rank = -1;
              m.u.job_done.resume_step = j->restore_step;
              m.u.job_done.resumable = j->restore_dir != NULL;
              mu_coord_send_node (j->coord, n, &m);
              mu_jobs_node_lost (j->coord, n, "preempted", 0);
              return;
            }
        }
    }
  mu_epoch_suspend (j, why);
}

static void
after_attempt (mu_job_t *j, int committed, uint64_t step, int status,
               const char *why)
{
  /* A preemption keeps trying until its deadline; others a few times,
   * except --ckpt-every-steps: its next multiple is asked for when close
   * (a retry "now" would save at a step that is not a multiple). */
  uint64_t now0 = mu_now_ms ();
  int may_retry = j->preempting ? now0 < j->preempt_deadline_ms
                  : j->ckpt_by_steps ? 0
                                     : j->ckpt_retries < MAX_PASSED_RETRIES;
  if (!committed && status == MUSTER_EPASSED && j->state == MU_JOB_RUNNING
      && may_retry && ++j->ckpt_retries)
    {
      char err[256];
      uint64_t now = mu_now_ms ();
      uint64_t t = timeout_of (j);
      if (j->preempting)
        t = j->preempt_deadline_ms > now ? j->preempt_deadline_ms - now : 1;
      if (begin (j, t, 0, err, sizeof err) == 0)
        return;
      mu_log_warn (j->coord->log, "CKPT-RETRY", "%s", err);
    }
  if (!committed)
    {
      /* The outcome `muster checkpoint --wait` and status report. */
      char *r = strdup (why ? why : muster_strerror (status));
      if (r != NULL)
        {
          free (j->ckpt_aborted_reason);
          j->ckpt_aborted_reason = r;
          j->ckpt_aborted_step = step;
        }
    }
  if (j->preempting)
    finish_preemption (j, committed);
}

static void
preempt (mu_job_t *j, uint64_t grace_ms, const char *why)
{
  uint64_t now = mu_now_ms ();
  uint64_t budget = grace_ms - grace_ms / PREEMPT_STOP_SHARE;
  j->preempt_deadline_ms = now + budget;
  mu_log_notice (j->coord->log, "PREEMPT", "job %s: %s; checkpoint within %llu ms",
                 j->id, why, (unsigned long long)budget);
  mu_ev_preempt (j, why, grace_ms);
  char err[256];
  drop_early (j, 0);
  mu_ckpt_state_t st = j->ckpt ? mu_ckpt_commit_state (j->ckpt) : MU_CKPT_IDLE;
  if (st == MU_CKPT_COLLECTING || st == MU_CKPT_WRITING)
    return; /* the attempt in flight decides; after_attempt finishes */
  if (j->ckpt == NULL || j->state != MU_JOB_RUNNING
      || mu_ckpt_trigger (j, "preempt", budget ? budget : 1, err, sizeof err) != 0)
    finish_preemption (j, 0);
}

void
mu_ckpt_preempt_job (mu_job_t *j, uint64_t grace_ms, const char *why)
{
  if (j->state >= MU_JOB_STOPPING)
    return;
  j->preempting = 1;
  preempt (j, grace_ms, why);
}

void
mu_ckpt_preempt_node (mu_coord_t *c, mu_node_t *n, uint64_t grace_ms,
                      const char *why)
{
  mu_job_t *j = n->job;
  if (j == NULL || j->state >= MU_JOB_STOPPING)
    return;
  if (j->state != MU_JOB_RUNNING || !mu_rdzv_is_member (j->rdzv, n->key))
    {
      /* Not part of a running epoch: nothing to save, just leave. */
      mu_nodes_leave (c, n, why);
      return;
    }
  if (j->preempting == 0)
    {
      j->preempting = 2;
      j->preempt_node = n->key;
    }
  else
    j->preempting = 1; /* several nodes go: suspend the job */
  preempt (j, grace_ms, why);
}

int
mu_ckpt_resume (mu_job_t *j, char *err, size_t errlen)
{
  if (j->state != MU_JOB_SUSPENDED)
    {
      snprintf (err, errlen, "job %s is %s, not suspended", j->id,
                mu_job_state_name (j->state));
      return MUSTER_EINVAL;
    }
  mu_log_notice (j->coord->log, "JOB-RESUME", "job %s resumes from %s", j->id,
                 j->restore_dir ? j->restore_dir : "the start (no checkpoint)");
  mu_ev_resumed (j);
  j->coord->njobs_finished--;
  j->nmembers = 0; /* its nodes were released when it was suspended */
  mu_jobs_open_round (j);
  mu_jobs_offer_free_nodes (j->coord);
  return 0;
}

/* ------------------------------------------------------------- the rest */

void
mu_ckpt_on_saved (mu_coord_t *c, mu_node_t *n, const mu_ckpt_saved_t *saved)
{
  mu_job_t *j = n->job;
  if (j == NULL || j->ckpt == NULL || strcmp (j->id, saved->job) != 0)
    return;
  if (saved->at_step > 0)
    mu_ckpt_note_step (j, saved->at_step);
  /* An early attempt a rank saved for (or failed to) is no longer one to
   * drop quietly: its failure, a timeout included, is reported. */
  if (j->ckpt_early && saved->status != MUSTER_EPASSED
      && mu_ckpt_commit_state (j->ckpt) == MU_CKPT_COLLECTING
      && saved->step == mu_ckpt_commit_step (j->ckpt)
      && saved->epoch == j->epoch)
    j->ckpt_early = 0;
  mu_ckpt_decision_t d;
  int rc = mu_ckpt_commit_ack (j->ckpt, mu_now_ms (), saved, &d);
  if (rc != 0)
    {
      mu_log_info (c->log, "CKPT-ACK-REFUSED",
                   "job %s: ckpt.saved of rank %llu step %llu: %s", j->id,
                   (unsigned long long)saved->rank,
                   (unsigned long long)saved->step, muster_strerror (rc));
      return;
    }
  apply (j, &d);
}

/* Checkpoints every N steps: ask for the next multiple of N once the
 * job's highest step is close enough that the request arrives in time (a
 * worker already past it answers so and the attempt is retried at a step
 * ahead). */
static void
maybe_step_checkpoint (mu_job_t *j)
{
  uint64_t every = j->spec->ckpt_every_steps;
  if (every == 0 || j->ckpt == NULL || j->state != MU_JOB_RUNNING
      || j->preempting)
    return;
  drop_early (j, 1);
  mu_ckpt_state_t st = mu_ckpt_commit_state (j->ckpt);
  if (st == MU_CKPT_COLLECTING || st == MU_CKPT_WRITING)
    return;
  uint64_t last = 0;
  mu_ckpt_commit_last (j->ckpt, &last);
  uint64_t ahead = target_step (j);
  uint64_t next = (ahead + every - 1) / every * every;
  /* Ask when the step is about 2 s away (or half the deadline, if that
   * is shorter): soon enough for every worker, late enough that the
   * request does not wait out its deadline. */
  double lead_ms = 2000.0;
  if ((double)timeout_of (j) / 2 < lead_ms)
    lead_ms = (double)timeout_of (j) / 2;
  double window = j->step_rate * lead_ms;
  if (window < 2)
    window = 2;
  if (next <= last || (double)(next - ahead) > window)
    return; /* already saved, or not close yet */
  if (next <= j->ckpt_failed_step)
    return; /* failed once (reported): the next multiple, not a storm */
  j->ckpt_reason = "periodic";
  j->ckpt_retries = 0;
  j->ckpt_by_steps = 1;
  char err[256];
  if (begin (j, timeout_of (j), next, err, sizeof err) != 0)
    mu_log_info (j->coord->log, "CKPT-SKIPPED", "%s", err);
}

/* The first multiple of --ckpt-every-steps after the restore point, asked
 * for as the epoch starts (see the top of this file). */
static void
early_step_checkpoint (mu_job_t *j)
{
  uint64_t every = j->spec->ckpt_every_steps;
  if (every == 0 || j->state != MU_JOB_RUNNING || j->preempting
      || (j->in_place && j->epoch > 1))
    return;
  mu_ckpt_state_t st = mu_ckpt_commit_state (j->ckpt);
  if (st == MU_CKPT_COLLECTING || st == MU_CKPT_WRITING)
    return;
  uint64_t last = 0;
  mu_ckpt_commit_last (j->ckpt, &last);
  uint64_t from = j->max_step > last ? j->max_step : last;
  uint64_t next = (from / every + 1) * every;
  j->ckpt_reason = "periodic";
  j->ckpt_retries = 0;
  j->ckpt_by_steps = 1;
  char err[256];
  if (begin (j, timeout_of (j), next, err, sizeof err) != 0)
    mu_log_info (j->coord->log, "CKPT-SKIPPED", "%s", err);
  else if (mu_ckpt_commit_state (j->ckpt) == MU_CKPT_COLLECTING)
    j->ckpt_early = 1;
}

/* Drop an early attempt no rank has saved for yet: always (only_late 0:
 * an explicit checkpoint or a preemption wants the machine), or when the
 * step rate says its step will not be reached before its deadline. */
static void
drop_early (mu_job_t *j, int only_late)
{
  if (!j->ckpt_early || j->ckpt == NULL
      || mu_ckpt_commit_state (j->ckpt) != MU_CKPT_COLLECTING)
    return;
  for (uint64_t r = 0; r < j->world; r++)
    if (mu_ckpt_commit_acked (j->ckpt, r))
      return;
  uint64_t step = mu_ckpt_commit_step (j->ckpt);
  if (only_late)
    {
      if (j->step_rate <= 0 || step <= j->max_step)
        return;
      uint64_t now = mu_now_ms ();
      double need = (double)(step - j->max_step) / j->step_rate + 1000.0;
      if (now + (uint64_t)need < j->ckpt_deadline_ms)
        return; /* it will be reached in time */
    }
  mu_ckpt_decision_t d;
  if (mu_ckpt_commit_cancel (j->ckpt, mu_now_ms (), MUSTER_ECANCELED,
                             only_late ? "not reached before its deadline; "
                                         "asked again when close"
                                       : "dropped for another checkpoint",
                             &d)
      == 0)
    apply (j, &d);
}

void
mu_ckpt_note_step (mu_job_t *j, uint64_t step)
{
  if (step <= j->max_step)
    return;
  uint64_t now = mu_now_ms ();
  /* The rate is measured over at least RATE_SPAN_MS: reports from several
   * nodes, or a burst of them after a stall, arrive within a millisecond
   * of each other, and a rate taken between two of those would be
   * thousands of steps per second, sending checkpoints far ahead. */
  if (j->rate_ms == 0 || step < j->rate_step)
    {
      j->rate_step = step;
      j->rate_ms = now;
    }
  else if (now >= j->rate_ms + RATE_SPAN_MS)
    {
      double rate = (double)(step - j->rate_step) / (double)(now - j->rate_ms);
      j->step_rate = j->step_rate > 0 ? 0.7 * j->step_rate + 0.3 * rate : rate;
      j->rate_step = step;
      j->rate_ms = now;
    }
  j->max_step = step;
  j->max_step_ms = now;
  maybe_step_checkpoint (j);
}

void
mu_ckpt_lost (mu_job_t *j, uint64_t first_rank, uint64_t count)
{
  mu_ckpt_decision_t d;
  if (j->ckpt != NULL
      && mu_ckpt_commit_lost (j->ckpt, mu_now_ms (), first_rank, count, &d) == 0)
    apply (j, &d);
}

static void
on_periodic (uv_timer_t *t)
{
  mu_job_t *j = t->data;
  char err[256];
  if (j->state == MU_JOB_RUNNING && !j->preempting
      && mu_ckpt_trigger (j, "periodic", 0, err, sizeof err) != 0)
    mu_log_info (j->coord->log, "CKPT-SKIPPED", "%s", err);
}

void
mu_ckpt_epoch_started (mu_job_t *j)
{
  if (j->ckpt == NULL)
    return;
  /* Steps restart from the restore point (or 0) unless the gang changed in
   * place; heartbeats bring the new highest step. */
  if (!j->in_place)
    {
      j->max_step = j->restore_dir ? j->restore_step : 0;
      j->ckpt_failed_step = 0; /* steps are trained again */
      j->rate_ms = 0; /* measured again from the new epoch's steps */
    }
  mu_ckpt_decision_t d;
  if (mu_ckpt_commit_new_epoch (j->ckpt, mu_now_ms (), j->epoch, &d) == 0)
    apply (j, &d);
  early_step_checkpoint (j);
  if (j->spec->ckpt_every_ms > 0)
    uv_timer_start (&j->ckpt_timer, on_periodic, j->spec->ckpt_every_ms,
                    j->spec->ckpt_every_ms);
}

int
mu_ckpt_check_dir (const mu_job_spec_t *spec, uint32_t uid, uint32_t gid,
                   char *err, size_t errlen)
{
  if (spec->ckpt_dir == NULL || spec->ckpt_dir[0] == '\0')
    return 0;
  uid_t u = (uid_t)-1;
  gid_t g = (gid_t)-1;
  if (geteuid () == 0 && uid != 0)
    {
      u = (uid_t)uid;
      g = (gid_t)gid;
    }
  char why[1024];
  int rc = mu_ckpt_dir_probe (spec->ckpt_dir, u, g, why, sizeof why);
  if (rc != 0)
    snprintf (err, errlen, "ckpt_dir: %s", why);
  return rc;
}

int
mu_ckpt_job_init (mu_job_t *j)
{
  if (j->spec->ckpt_dir == NULL || j->spec->ckpt_dir[0] == '\0')
    return 0;
  char dir[4096];
  int rc = mu_ckpt_job_dir (j->spec->ckpt_dir, j->id, dir, sizeof dir);
  if (rc != 0 || (j->ckpt_job_dir = strdup (dir)) == NULL)
    return rc ? rc : -ENOMEM;
  rc = mu_ckpt_commit_new (j->id, &j->ckpt);
  if (rc != 0)
    return rc;
  rc = mu_ckpt_io_scan (j);
  return rc == 0 ? 1 : rc;
}

void
mu_ckpt_finished_seen (mu_job_t *j, int resume, uint64_t step,
                       uint64_t finished_us, const char *moved)
{
  if (j->coord == NULL)
    return;
  if (resume)
    {
      mu_log_notice (j->coord->log, "CKPT-RESUME-FINISHED",
                     "job %s had finished at step %llu; --resume: continuing "
                     "from its newest checkpoint",
                     j->id, (unsigned long long)step);
      return;
    }
  j->finished_step = step;
  j->finished_us = finished_us ? finished_us : 1;
  free (j->finished_moved);
  j->finished_moved = moved ? strdup (moved) : NULL;
  mu_log_notice (j->coord->log, "CKPT-FINISHED-FRESH",
                 "job %s had finished at step %llu; starting fresh (its "
                 "checkpoints moved to %s)",
                 j->id, (unsigned long long)step, moved ? moved : "?");
}

void
mu_ckpt_job_succeeded (mu_job_t *j)
{
  if (j->ckpt == NULL || j->restore_dir == NULL || j->coord == NULL)
    return; /* nothing to continue from: a rerun starts fresh anyway */
  uid_t uid = (uid_t)-1;
  gid_t gid = (gid_t)-1;
  if (geteuid () == 0 && j->owner_uid != 0)
    {
      uid = (uid_t)j->owner_uid;
      gid = (gid_t)j->owner_gid;
    }
  int rc = mu_ckpt_finished_write (j->ckpt_job_dir, j->restore_step,
                                   mu_wall_us (), uid, gid);
  if (rc != 0)
    mu_log_warn (j->coord->log, "CKPT-FINISHED-FAILED",
                 "job %s: cannot write %s/FINISHED: %s (a rerun will resume "
                 "from step %llu)",
                 j->id, j->ckpt_job_dir, muster_strerror (rc),
                 (unsigned long long)j->restore_step);
}

void
mu_ckpt_scan_done (mu_job_t *j, int rc, uint64_t step, const char *skips,
                   uint64_t created_us)
{
  if (j->coord == NULL)
    return;
  /* A checkpoint that cannot be used is lost work: say so loudly. */
  if (skips != NULL && skips[0] != '\0')
    mu_log_err (j->coord->log, "CKPT-SKIPPED", "job %s: %s", j->id, skips);
  if (rc == 0)
    {
      char dir[4096];
      mu_ckpt_step_dir (j->spec->ckpt_dir, j->id, step, dir, sizeof dir);
      free (j->restore_dir);
      j->restore_dir = strdup (dir);
      j->restore_step = step;
      j->restore_created_us = created_us;
      mu_jhook_ckpt (j);
      mu_log_notice (j->coord->log, "CKPT-RESTORE", "job %s restores from step %llu",
                     j->id, (unsigned long long)step);
    }
  else if (rc != MUSTER_ENOTFOUND)
    mu_log_warn (j->coord->log, "CKPT-SCAN-FAILED", "job %s: %s", j->id,
                 muster_strerror (rc));
  if (j->state == MU_JOB_PENDING)
    mu_jobs_open_round (j);
}

void
mu_ckpt_commit_io_done (mu_job_t *j, int status)
{
  if (j->ckpt == NULL)
    return;
  mu_ckpt_decision_t d;
  if (mu_ckpt_commit_written (j->ckpt, mu_now_ms (), status, &d) == 0
      && j->coord != NULL)
    apply (j, &d);
}

void
mu_ckpt_job_ended (mu_job_t *j)
{
  if (j->ckpt == NULL || j->coord == NULL)
    return;
  uv_timer_stop (&j->ckpt_tick);
  /* An attempt still collecting will never commit: its workers are gone
   * (a MANIFEST being written still lands).  Quietly: the job's outcome
   * is decided already. */
  if (mu_ckpt_commit_state (j->ckpt) == MU_CKPT_COLLECTING)
    {
      uint64_t step = mu_ckpt_commit_step (j->ckpt);
      mu_ckpt_decision_t d;
      if (mu_ckpt_commit_cancel (j->ckpt, mu_now_ms (), MUSTER_EJOBDONE,
                                 "the job ended first", &d)
          == 0)
        {
          mu_log_info (j->coord->log, "CKPT-DROPPED",
                       "job %s: step %llu: the job ended first", j->id,
                       (unsigned long long)step);
          discard_step (j, step);
        }
    }
  j->ckpt_early = 0;
  if (j->ckpt_kept_step != 0)
    discard_step (j, j->ckpt_kept_step);
}

void
mu_ckpt_job_close (mu_job_t *j)
{
  if (j->ckpt != NULL)
    {
      mu_ckpt_decision_t d;
      mu_ckpt_commit_cancel (j->ckpt, mu_now_ms (), MUSTER_ECLOSED,
                             "coordinator shutting down", &d);
    }
}

void
mu_ckpt_job_free (mu_job_t *j)
{
  mu_ckpt_commit_destroy (&j->ckpt);
  free (j->ckpt_job_dir);
  free (j->restore_dir);
  free (j->finished_moved);
  free (j->ckpt_aborted_reason);
}
