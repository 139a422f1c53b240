/*
 * ctl_logs.c — a job's output, collected: agent.logs in, ctl.logs out.
 *
 * Agents forward their workers' prefixed output lines in batches, each
 * node within a byte budget per interval (worker/log_fwd.h: over it, lines
 * are dropped and counted, never waited for).  Here every line goes into
 * the job's ring (log_ring.h), numbered; a batch that reports dropped
 * bytes is preceded by a "[... N bytes dropped]" marker, so a reader sees
 * where output is missing.  The ring is bounded (opts.job_log_bytes,
 * 1 MiB by default) and kept as long as the job is, finished or not, so a
 * chatty job costs the coordinator a fixed amount of memory.
 *
 * ctl.logs reads from a cursor (`since`), optionally one rank's lines,
 * and answers the lines with the next cursor; `muster logs -f` polls it.
 * Lines are accepted from any node allowed to run the job's workers (its
 * members, and nodes it just released, whose last lines arrive after).
 */
#include "coordinator/ctl_ops.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <muster/error.h>

#include "common/util.h"
#include "coordinator/log_ring.h"

#define LOGS_MAX_DEFAULT 1000
#define LOGS_MAX 10000

static int
ensure_ring (mu_coord_t *c, mu_job_t *j)
{
  if (j->logs != NULL)
    return 0;
  return mu_log_ring_new (c->opts.job_log_bytes, &j->logs);
}

void
mu_ctl_agent_logs (mu_coord_t *c, mu_node_t *n, const mu_agent_logs_t *l)
{
  mu_job_t *j = mu_smap_get (c->jobs, l->job);
  if (j == NULL || !(n->job == j || n->uid == 0 || n->uid == j->owner_uid))
    {
      mu_log_debug (c->log, "LOGS-DROPPED", "node %s: %zu line(s) of job %s",
                    n->node_id, l->lines.n, l->job);
      return;
    }
  if (ensure_ring (c, j) != 0)
    return;
  uint64_t now = mu_wall_us ();
  if (l->dropped > 0)
    {
      char mark[160];
      int len = snprintf (mark, sizeof mark,
                          "[... %llu bytes dropped: node %s over its output "
                          "budget]",
                          (unsigned long long)l->dropped, n->node_id);
      mu_log_ring_append (j->logs, -1, MU_LOGR_MARK, mark, (size_t)len, now);
      j->log_dropped += l->dropped;
    }
  for (size_t i = 0; i < l->lines.n; i++)
    {
      const mu_out_line_t *x = &l->lines.v[i];
      mu_log_ring_append (j->logs, (int64_t)x->rank,
                          x->err ? MU_LOGR_ERR : MU_LOGR_OUT, x->text,
                          strlen (x->text), now);
    }
}

static const char *
stream_name (int s)
{
  return s == MU_LOGR_ERR ? "err" : s == MU_LOGR_MARK ? "muster" : "out";
}

void
mu_ctl_logs (mu_coord_t *c, const mu_route_t *from, const mu_principal_t *who,
             const mu_ctl_logs_t *q)
{
  mu_job_t *j = mu_ctl_job (c, from, who, q->job, "ctl.logs");
  if (j == NULL)
    return;
  if (q->max > LOGS_MAX)
    {
      mu_ctl_error (c, from, MUSTER_EINVAL, "ctl.logs", "max",
                    "logs: field 'max' must be at most %d (got %llu)", LOGS_MAX,
                    (unsigned long long)q->max);
      return;
    }
  size_t max = q->max ? (size_t)q->max : LOGS_MAX_DEFAULT;
  mu_log_view_t *views = NULL;
  mu_log_line_t *lines = NULL;
  size_t n = 0;
  uint64_t next = q->since, first = 1;
  if (j->logs != NULL)
    {
      views = calloc (max, sizeof *views);
      lines = calloc (max, sizeof *lines);
      if (views == NULL || lines == NULL)
        {
          free (views);
          free (lines);
          mu_ctl_error (c, from, -ENOMEM, "ctl.logs", NULL, "logs: out of memory");
          return;
        }
      n = mu_log_ring_read (j->logs, q->since, q->by_rank, (int64_t)q->rank,
                            max, views, &next);
      first = mu_log_ring_first (j->logs);
      for (size_t i = 0; i < n; i++)
        {
          lines[i].seq = views[i].seq;
          lines[i].rank = views[i].rank;
          lines[i].stream = (char *)stream_name (views[i].stream);
          lines[i].text = (char *)views[i].text;
          lines[i].time_us = views[i].time_us;
        }
    }
  else if (next == 0)
    next = 1;
  mu_msg_t m;
  memset (&m, 0, sizeof m);
  m.type = MU_MSG_CTL_LOGS_REPLY;
  m.u.ctl_logs_reply.lines.v = lines;
  m.u.ctl_logs_reply.lines.n = n;
  m.u.ctl_logs_reply.next = next;
  m.u.ctl_logs_reply.first = first;
  m.u.ctl_logs_reply.done = j->state >= MU_JOB_SUCCEEDED;
  m.u.ctl_logs_reply.state = (char *)mu_job_state_name (j->state);
  mu_coord_send_route (c, c->ctl_reply_sock, from, &m);
  free (views);
  free (lines);
}

void
mu_ctl_job_free (mu_job_t *j)
{
  mu_log_ring_destroy (&j->logs);
  free (j->pids);
  j->pids = NULL;
  j->npids = 0;
}
