/*
 * ctl.c — the control port: what platforms (and `muster status`, `muster
 * submit`, `muster cancel`) ask of a running coordinator.
 *
 * Requests arrive on a ROUTER from DEALER or REQ clients; every request gets
 * exactly one answer: the reply message of its kind, or an "error" naming
 * what was wrong (code, code_name, the field at fault: ctl_error.c).
 * docs/control-port.md documents each message; list, get, scale, nodes,
 * cordon, uncordon, drain and logs live in ctl_*.c (ctl_ops.h).
 *
 * Every request is authorized here, from the principal auth.c attached to
 * its connection: a user sees and acts on their own jobs only, an admin
 * (root, the coordinator's own user, or a key marked admin) on all, and a
 * submitted job belongs to whoever submitted it.
 */
#include "coordinator/ctl_ops.h"
#include "coordinator/sched_glue.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <muster/error.h>

#include "checkpoint/commit.h"
#include "common/util.h"
#include "coordinator/auth.h"
#include "coordinator/ckpt.h"
#include "coordinator/epoch.h"
#include "coordinator/event_stream.h"
#include "coordinator/job_status.h"

/* Nodes registered, alive, without a job and not cordoned. */
uint32_t
mu_ctl_free_nodes (const mu_coord_t *c)
{
  uint32_t n = 0;
  uint64_t now = mu_now_ms ();
  for (size_t k = 0; k < c->nodes_used; k++)
    {
      const mu_node_t *x = c->nodes[k];
      if (x && x->in_use && x->alive && x->job == NULL
          && x->cordon_until <= now)
        n++;
    }
  return n;
}

#define REASON_CAP MU_CTL_REASON_CAP
void
mu_ctl_fill_info (const mu_coord_t *c, const mu_job_t *j, mu_job_info_t *info,
                  char *reason, uint32_t *free_cache)
{
  info->id = j->id;
  info->state = (char *)mu_job_state_name (j->state);
  info->epoch = j->epoch;
  info->world = j->world;
  info->nodes = j->nmembers;
  info->restarts = j->restarts;
  info->owner = j->owner;
  mu_job_status_in_t in = { .id = j->id,
                            .state = j->state,
                            .submitted = j->submitted,
                            .has_ckpt = j->restore_dir != NULL,
                            .ckpt_step = j->restore_step,
                            .restarts = j->restarts,
                            .epoch_reason = j->epoch_reason,
                            .reason = j->reason };
  if (j->state == MU_JOB_RENDEZVOUS)
    {
      mu_rdzv_status_t p;
      mu_rdzv_get_progress (j->rdzv, mu_now_ms (), &p);
      in.joined = p.joined;
      in.min_nodes = p.min_nodes;
      in.max_nodes = p.max_nodes;
      /* O(nodes): once per request, not once per job listed. */
      if (*free_cache == UINT32_MAX)
        *free_cache = mu_ctl_free_nodes (c);
      in.free_nodes = *free_cache;
    }
  mu_job_status_reason (&in, reason, REASON_CAP);
  info->reason = reason;
  /* schedwire: a job the scheduler holds back says why (sched_glue.h) */
  if (j->submitted)
    {
      char why[REASON_CAP];
      const char *r = mu_sched_glue_reason (c, j, why, sizeof why);
      if (r != NULL)
        mu_strlcpy (reason, r, REASON_CAP);
    }
  if (j->restore_dir != NULL)
    {
      info->ckpt_step = j->restore_step;
      info->ckpt_created_us = j->restore_created_us;
    }
  info->ckpt_aborted_step = j->ckpt_aborted_step;
  info->ckpt_aborted_reason = j->ckpt_aborted_reason;
  uint64_t now = mu_now_ms ();
  info->age_ms = now > j->created_ms ? now - j->created_ms : 0;
}

static int
may_act (const mu_principal_t *who, const mu_job_t *j)
{
  return who->admin || who->uid == j->owner_uid;
}

/* MUSTER_EPERM with a message naming the job and its owner. */
static int
refuse (const mu_job_t *j, const char *what, char *err, size_t errlen)
{
  snprintf (err, errlen, "%s of job %s refused: it belongs to %s", what,
            j->id, j->owner);
  return MUSTER_EPERM;
}

static void
handle_status (mu_coord_t *c, const mu_route_t *from,
               const mu_principal_t *who, const mu_ctl_status_t *s)
{
  size_t n = mu_smap_size (c->jobs);
  mu_job_info_t *infos = calloc (n ? n : 1, sizeof *infos);
  char *reasons = calloc (n ? n : 1, REASON_CAP);
  if (infos == NULL || reasons == NULL)
    {
      free (infos);
      free (reasons);
      mu_coord_send_error (c, c->ctl_reply_sock, from, -ENOMEM,
                           "ctl.status", NULL);
      return;
    }
  size_t k = 0;
  uint32_t free_cache = UINT32_MAX;
  if (s->job != NULL)
    {
      mu_job_t *j = mu_smap_get (c->jobs, s->job);
      if (j == NULL)
        {
          char err[256];
          snprintf (err, sizeof err, "no job %s", s->job);
          mu_coord_send_error (c, c->ctl_reply_sock, from, MUSTER_ENOTFOUND,
                               "ctl.status", err);
          free (infos);
          free (reasons);
          return;
        }
      if (!may_act (who, j))
        {
          char err[256];
          refuse (j, "status", err, sizeof err);
          mu_coord_send_error (c, c->ctl_reply_sock, from, MUSTER_EPERM,
                               "ctl.status", err);
          free (infos);
          free (reasons);
          return;
        }
      mu_ctl_fill_info (c, j, &infos[k], reasons + k * REASON_CAP, &free_cache);
      k++;
    }
  else
    {
      size_t pos = 0;
      void *val;
      while (mu_smap_next (c->jobs, &pos, NULL, &val))
        if (may_act (who, val))
          {
            mu_ctl_fill_info (c, val, &infos[k], reasons + k * REASON_CAP,
                              &free_cache);
            k++;
          }
    }
  size_t nodes = 0;
  for (size_t i = 0; i < c->nodes_used; i++)
    if (c->nodes[i] && c->nodes[i]->in_use && c->nodes[i]->alive)
      nodes++;
  mu_msg_t m;
  memset (&m, 0, sizeof m);
  m.type = MU_MSG_CTL_STATUS_REPLY;
  m.u.ctl_status_reply.jobs.v = infos;
  m.u.ctl_status_reply.jobs.n = k;
  m.u.ctl_status_reply.nodes = nodes;
  mu_coord_send_route (c, c->ctl_reply_sock, from, &m);
  free (infos);
  free (reasons);
}

static void
send_ctl_reply (mu_coord_t *c, const mu_route_t *from, int status,
                const char *message, uint64_t step)
{
  mu_msg_t m;
  memset (&m, 0, sizeof m);
  m.type = MU_MSG_CTL_REPLY;
  m.u.ctl_reply.status = status;
  m.u.ctl_reply.message = (char *)message;
  m.u.ctl_reply.step = step;
  mu_coord_send_route (c, c->ctl_reply_sock, from, &m);
}

/* ctl.checkpoint, ctl.preempt, ctl.resume: one job, one action. */
static void
handle_job_op (mu_coord_t *c, const mu_route_t *from,
               const mu_principal_t *who, mu_msg_t *m)
{
  const char *id = m->type == MU_MSG_CTL_CHECKPOINT ? m->u.ctl_checkpoint.job
                   : m->type == MU_MSG_CTL_PREEMPT  ? m->u.ctl_preempt.job
                                                    : m->u.ctl_resume.job;
  char err[512] = "";
  mu_job_t *j = mu_smap_get (c->jobs, id);
  if (j == NULL)
    {
      snprintf (err, sizeof err, "no job %s", id);
      mu_coord_send_error (c, c->ctl_reply_sock, from, MUSTER_ENOTFOUND,
                           mu_msg_name (m->type), err);
      return;
    }
  if (!may_act (who, j))
    {
      refuse (j, mu_msg_name (m->type), err, sizeof err);
      mu_log_notice (c->log, "CTL-REFUSED", "uid %u: %s", (unsigned)who->uid,
                     err);
      mu_coord_send_error (c, c->ctl_reply_sock, from, MUSTER_EPERM,
                           mu_msg_name (m->type), err);
      return;
    }
  int rc = 0;
  uint64_t step = 0;
  char msg[256];
  switch (m->type)
    {
    case MU_MSG_CTL_CHECKPOINT:
      rc = mu_ckpt_trigger (j, "request", 0, err, sizeof err);
      step = rc == 0 ? mu_ckpt_commit_step (j->ckpt) : 0;
      snprintf (msg, sizeof msg, "checkpoint of step %llu requested",
                (unsigned long long)(rc == 0 ? mu_ckpt_commit_step (j->ckpt)
                                             : 0));
      break;
    case MU_MSG_CTL_PREEMPT:
      if (j->state >= MU_JOB_STOPPING)
        {
          snprintf (err, sizeof err, "job %s is %s", id,
                    mu_job_state_name (j->state));
          rc = MUSTER_EJOBDONE;
          break;
        }
      mu_ckpt_preempt_job (j,
                           m->u.ctl_preempt.grace_ms ? m->u.ctl_preempt.grace_ms
                                                     : 30000,
                           "preempted by request");
      snprintf (msg, sizeof msg, "preempting");
      break;
    default:
      rc = mu_ckpt_resume (j, err, sizeof err);
      snprintf (msg, sizeof msg, "resuming");
      break;
    }
  if (rc != 0)
    mu_coord_send_error (c, c->ctl_reply_sock, from, rc,
                         mu_msg_name (m->type), err);
  else
    send_ctl_reply (c, from, 0, msg, step);
}

void
mu_ctl_handle (mu_coord_t *c, const mu_route_t *from,
               const mu_principal_t *who, mu_msg_t *m)
{
  char err[512] = "";
  int rc;
  mu_job_t *j;
  switch (m->type)
    {
    case MU_MSG_CTL_STATUS:
      handle_status (c, from, who, &m->u.ctl_status);
      break;
    case MU_MSG_CTL_SUBMIT:
      rc = mu_jobs_submit (c, m->u.ctl_submit.job, who->uid, who->gid,
                           who->admin, err, sizeof err);
      if (rc != 0)
        mu_coord_send_error (c, c->ctl_reply_sock, from, rc,
                             "ctl.submit", err);
      else
        send_ctl_reply (c, from, 0, "submitted", 0);
      break;
    case MU_MSG_CTL_CANCEL:
      j = mu_smap_get (c->jobs, m->u.ctl_cancel.job);
      if (j != NULL && !may_act (who, j))
        {
          rc = refuse (j, "cancel", err, sizeof err);
          mu_log_notice (c->log, "CTL-REFUSED", "uid %u: %s",
                         (unsigned)who->uid, err);
        }
      else
        rc = mu_jobs_cancel (c, m->u.ctl_cancel.job, err, sizeof err);
      if (rc != 0)
        mu_coord_send_error (c, c->ctl_reply_sock, from, rc,
                             "ctl.cancel", err);
      else
        send_ctl_reply (c, from, 0, "cancelling", 0);
      break;
    case MU_MSG_CTL_CHECKPOINT:
    case MU_MSG_CTL_PREEMPT:
    case MU_MSG_CTL_RESUME:
      handle_job_op (c, from, who, m);
      break;
    /* ctl_ops.h: the rest of the control port */
    case MU_MSG_CTL_LIST:
      mu_ctl_list (c, from, who, &m->u.ctl_list);
      break;
    case MU_MSG_CTL_GET:
      mu_ctl_get (c, from, who, &m->u.ctl_get);
      break;
    case MU_MSG_CTL_SCALE:
      mu_ctl_scale (c, from, who, &m->u.ctl_scale);
      break;
    case MU_MSG_CTL_UPDATE: /* service */
      mu_ctl_update (c, from, who, &m->u.ctl_update);
      break;
    case MU_MSG_CTL_LOAD: /* service */
      mu_ctl_load (c, from, who, &m->u.ctl_load);
      break;
    case MU_MSG_CTL_NODES:
      mu_ctl_nodes (c, from, who, &m->u.ctl_nodes);
      break;
    case MU_MSG_CTL_CORDON:
    case MU_MSG_CTL_UNCORDON:
    case MU_MSG_CTL_DRAIN:
      mu_ctl_node_op (c, from, who, m);
      break;
    case MU_MSG_CTL_LOGS:
      mu_ctl_logs (c, from, who, &m->u.ctl_logs);
      break;
    case MU_MSG_CTL_EVENTS:
      mu_events_ctl (c, from, who, &m->u.ctl_events);
      break;
    default:
      snprintf (err, sizeof err, "%s is not a control-port request",
                mu_msg_name (m->type));
      mu_coord_send_error (c, c->ctl_reply_sock, from, MUSTER_ETYPE,
                           mu_msg_name (m->type), err);
      break;
    }
}
