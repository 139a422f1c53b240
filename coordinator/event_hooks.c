/*
 * event_hooks.c — one function per state change of a job, each building
 * the event from the job as it stands and handing it to mu_events_emit
 * (event_serve.c).  See event_stream.h for why hooks are one-line calls
 * and why journal replay does not reach them.
 *
 * What a hook reports is what a person reading a timeline needs: the
 * epoch, the node and rank, an exit's status and cause, a checkpoint's
 * step, and a sentence (detail).  A worker's cause is decided here:
 * `ok` (exit 0), `user` (non-zero or a signal while its epoch ran),
 * `infra` (fenced by its agent, hung), `stopped` (killed because its epoch
 * was being stopped: a consequence, not a failure).
 */
#include "coordinator/event_stream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static mu_event_t
job_event (const mu_job_t *j, mu_ev_kind_t kind)
{
  mu_event_t e;
  memset (&e, 0, sizeof e);
  e.kind = kind;
  e.job = j->id;
  e.owner_uid = j->owner_uid;
  e.epoch = j->epoch;
  e.world = j->world;
  e.rank = -1;
  return e;
}

void
mu_ev_coord_started (mu_coord_t *c)
{
  char detail[96];
  snprintf (detail, sizeof detail, "coordinator session %s started",
            c->session);
  mu_event_t e = { .kind = MU_EV_COORD_STARTED, .rank = -1,
                   .detail = detail };
  mu_events_emit (c, &e);
}

void
mu_ev_job_created (mu_job_t *j)
{
  char detail[512];
  snprintf (detail, sizeof detail, "%s of %s: %s, %zu role(s)",
            j->submitted ? "submitted" : "brought by a node",
            j->owner ? j->owner : "?",
            j->spec->argv.n ? j->spec->argv.v[0] : "?", j->spec->roles.n);
  mu_event_t e = job_event (j, MU_EV_JOB_CREATED);
  e.detail = detail;
  mu_events_emit (j->coord, &e);
}

void
mu_ev_job_restored (mu_job_t *j, const char *state)
{
  char detail[128];
  snprintf (detail, sizeof detail, "restored from the journal: %s at "
            "epoch %llu", state, (unsigned long long)j->epoch);
  mu_event_t e = job_event (j, MU_EV_JOB_RESTORED);
  e.state = (char *)state;
  e.detail = detail;
  mu_events_emit (j->coord, &e);
}

void
mu_ev_round_opened (mu_job_t *j)
{
  mu_event_t e = job_event (j, MU_EV_ROUND_OPENED);
  e.epoch = j->epoch + 1;
  e.world = 0;
  e.detail = j->epoch == 0 ? (char *)"first round" : j->epoch_reason;
  mu_events_emit (j->coord, &e);
}

void
mu_ev_node_joined (mu_job_t *j, const mu_node_t *n)
{
  mu_event_t e = job_event (j, MU_EV_NODE_JOINED);
  e.node = n->node_id;
  e.detail = j->spec->roles.v[n->role].name;
  mu_events_emit (j->coord, &e);
}

void
mu_ev_round_closed (mu_job_t *j)
{
  mu_event_t e = job_event (j, MU_EV_ROUND_CLOSED);
  size_t n = 0;
  mu_rdzv_members (j->rdzv, &n);
  char detail[64];
  snprintf (detail, sizeof detail, "%zu node(s)", n);
  e.epoch = mu_rdzv_epoch (j->rdzv);
  e.world = mu_rdzv_world (j->rdzv);
  e.detail = detail;
  mu_events_emit (j->coord, &e);
}

void
mu_ev_round_failed (mu_job_t *j, const char *why)
{
  mu_event_t e = job_event (j, MU_EV_ROUND_FAILED);
  e.epoch = mu_rdzv_epoch (j->rdzv);
  e.detail = (char *)why;
  mu_events_emit (j->coord, &e);
}

void
mu_ev_epoch_started (mu_job_t *j)
{
  size_t n = 0;
  const mu_rdzv_member_t *mem = mu_rdzv_members (j->rdzv, &n);
  if (n > MU_EV_MAX_MEMBERS)
    n = MU_EV_MAX_MEMBERS;
  mu_ev_member_t *m = calloc (n ? n : 1, sizeof *m);
  mu_event_t e = job_event (j, MU_EV_EPOCH_STARTED);
  for (size_t i = 0; m != NULL && i < n; i++)
    {
      mu_node_t *node = mu_coord_node (j->coord, mem[i].key);
      m[i].node = node ? node->node_id : (char *)"?";
      m[i].first_rank = mem[i].first_rank;
      m[i].nproc = mem[i].nproc;
    }
  e.members = m;
  e.nmembers = m ? n : 0;
  e.step = j->restore_dir ? j->restore_step : 0;
  char detail[600];
  snprintf (detail, sizeof detail, "%zu node(s), world %llu, restart %llu%s%s",
            n, (unsigned long long)j->world, (unsigned long long)j->restarts,
            j->epoch > 1 && j->epoch_reason ? ": " : "",
            j->epoch > 1 && j->epoch_reason ? j->epoch_reason : "");
  e.detail = detail;
  mu_events_emit (j->coord, &e);
  free (m);
}

void
mu_ev_worker_exited (mu_job_t *j, const mu_node_t *n,
                     const mu_worker_state_t *ws)
{
  mu_event_t e = job_event (j, MU_EV_WORKER_EXITED);
  e.node = n->node_id;
  e.rank = (int64_t)ws->rank;
  e.code = ws->exit_code;
  e.signal = ws->signal;
  e.state = ws->state;
  int ok = ws->exit_code == 0 && ws->signal == 0
           && strcmp (ws->state, "exited") == 0;
  if (ok)
    e.cause = (char *)"ok";
  else if (j->state != MU_JOB_RUNNING)
    e.cause = (char *)"stopped";
  else if (strcmp (ws->state, "fenced") == 0 || strcmp (ws->state, "hung") == 0)
    e.cause = (char *)"infra";
  else
    e.cause = (char *)"user";
  char detail[256];
  if (ws->signal != 0)
    snprintf (detail, sizeof detail, "rank %llu on %s: %s by signal %lld",
              (unsigned long long)ws->rank, n->node_id, ws->state,
              (long long)ws->signal);
  else
    snprintf (detail, sizeof detail, "rank %llu on %s: %s with code %lld",
              (unsigned long long)ws->rank, n->node_id, ws->state,
              (long long)ws->exit_code);
  e.detail = detail;
  mu_events_emit (j->coord, &e);
}

void
mu_ev_node_left (mu_job_t *j, const mu_node_t *n, const char *why,
                 int charged)
{
  mu_event_t e = job_event (j, charged ? MU_EV_NODE_LOST : MU_EV_NODE_LEFT);
  e.node = n->node_id;
  e.cause = charged ? (char *)"infra" : NULL;
  e.detail = (char *)why;
  mu_events_emit (j->coord, &e);
}

void
mu_ev_recovering (mu_job_t *j, int charge, const char *why)
{
  mu_event_t e = job_event (j, MU_EV_RECOVERING);
  e.cause = charge == MU_JM_CHARGE_USER    ? (char *)"user"
            : charge == MU_JM_CHARGE_INFRA ? (char *)"infra"
            : charge == MU_JM_CHARGE_SCALE ? (char *)"scale"
                                           : NULL;
  e.detail = (char *)why;
  mu_events_emit (j->coord, &e);
}

void
mu_ev_ckpt_requested (mu_job_t *j, uint64_t step, const char *reason)
{
  mu_event_t e = job_event (j, MU_EV_CKPT_REQUESTED);
  e.step = step;
  e.cause = (char *)reason;
  mu_events_emit (j->coord, &e);
}

void
mu_ev_ckpt_committed (mu_job_t *j, uint64_t step)
{
  mu_event_t e = job_event (j, MU_EV_CKPT_COMMITTED);
  e.step = step;
  e.detail = j->restore_dir;
  mu_events_emit (j->coord, &e);
}

void
mu_ev_ckpt_aborted (mu_job_t *j, uint64_t step, const char *why, int dropped)
{
  mu_event_t e = job_event (j, MU_EV_CKPT_ABORTED);
  e.step = step;
  e.cause = dropped ? (char *)"dropped" : (char *)"aborted";
  e.detail = (char *)why;
  mu_events_emit (j->coord, &e);
}

void
mu_ev_preempt (mu_job_t *j, const char *why, uint64_t grace_ms)
{
  char detail[512];
  snprintf (detail, sizeof detail, "%s; grace %llu ms", why ? why : "",
            (unsigned long long)grace_ms);
  mu_event_t e = job_event (j, MU_EV_PREEMPT_REQUESTED);
  e.detail = detail;
  mu_events_emit (j->coord, &e);
}

void
mu_ev_resumed (mu_job_t *j)
{
  mu_event_t e = job_event (j, MU_EV_RESUMED);
  e.step = j->restore_dir ? j->restore_step : 0;
  e.detail = j->restore_dir ? j->restore_dir
                            : (char *)"from the start (no checkpoint)";
  mu_events_emit (j->coord, &e);
}

void
mu_ev_stopping (mu_job_t *j, mu_job_state_t final, const char *why)
{
  mu_event_t e = job_event (j, MU_EV_STOPPING);
  e.state = (char *)mu_job_state_name (final);
  e.detail = (char *)why;
  mu_events_emit (j->coord, &e);
}

void
mu_ev_job_finished (mu_job_t *j)
{
  mu_event_t e = job_event (j, MU_EV_JOB_FINISHED);
  e.state = (char *)mu_job_state_name (j->state);
  e.code = j->final_exit_code;
  e.step = j->restore_dir ? j->restore_step : 0;
  e.detail = j->reason;
  mu_events_emit (j->coord, &e);
}

/* schedwire */
void
mu_ev_sched (mu_job_t *j, mu_ev_kind_t kind, const char *node,
             const char *cause, const char *detail)
{
  mu_event_t e = job_event (j, kind);
  e.node = (char *)node;
  e.cause = (char *)cause;
  e.detail = (char *)detail;
  mu_events_emit (j->coord, &e);
}
