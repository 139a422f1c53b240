/*
 * agent_logs.c — the agent forwards its workers' output to the
 * coordinator (agent.logs), so `muster logs` and ctl.logs can read a job's
 * output from one place.
 *
 * Every line a worker writes reaches mu_agent_logs_line (spawn.c's
 * on_line) with its "[role rank] " prefix; log_fwd.h keeps it if the
 * node's budget for this interval allows, else counts it dropped.  A batch
 * goes out when it reaches MU_LOGFWD_BATCH_BYTES, MU_LOGFWD_FLUSH_MS after
 * its first line, before any exit report (so a job's last words precede
 * its end), and when the agent closes.  A batch that cannot be sent (no
 * coordinator right now) is dropped and counted like lines over budget:
 * nothing waits, nothing grows.
 */
#include "worker/agent_int.h"

#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "worker/log_fwd.h"

static void
on_flush_timer (uv_timer_t *t)
{
  mu_agent_logs_flush (t->data);
}

void
mu_agent_logs_init (mu_agent_t *a)
{
  uv_timer_init (a->loop, &a->logs_timer);
  a->logs_timer.data = a;
  a->logs_timer_open = 1;
}

void
mu_agent_logs_line (void *arg, int is_err, const char *line, size_t len)
{
  mu_agent_worker_t *w = arg;
  mu_agent_t *a = w->agent;
  if (a->start.type != MU_MSG_START || a->closed)
    return;
  if (a->logfwd == NULL && mu_logfwd_new (NULL, &a->logfwd) != 0)
    return;
  mu_logfwd_add (a->logfwd, mu_now_ms (), w->rank, is_err, line, len);
  if (mu_logfwd_pending (a->logfwd) >= MU_LOGFWD_BATCH_BYTES)
    mu_agent_logs_flush (a);
  else if (a->logs_timer_open
           && !uv_is_active ((uv_handle_t *)&a->logs_timer))
    uv_timer_start (&a->logs_timer, on_flush_timer, MU_LOGFWD_FLUSH_MS, 0);
}

void
mu_agent_logs_flush (mu_agent_t *a)
{
  if (a->logfwd == NULL
      || (mu_logfwd_pending (a->logfwd) == 0 && mu_logfwd_dropped (a->logfwd) == 0))
    return;
  mu_out_line_t *v;
  size_t n;
  uint64_t dropped;
  mu_logfwd_take (a->logfwd, &v, &n, &dropped);
  if (a->start.type == MU_MSG_START && a->registered && !a->coord_lost
      && a->coord_sock != NULL)
    {
      mu_msg_t m;
      memset (&m, 0, sizeof m);
      m.type = MU_MSG_AGENT_LOGS;
      m.u.agent_logs.job = a->start.u.start.job;
      m.u.agent_logs.epoch = a->start.u.start.epoch;
      m.u.agent_logs.lines.v = v;
      m.u.agent_logs.lines.n = n;
      m.u.agent_logs.dropped = dropped;
      (void)mu_agent_send_coord (a, &m); /* lost with the connection: the
                                            output stays on the console */
    }
  mu_logfwd_free_lines (v, n);
}

void
mu_agent_logs_close (mu_agent_t *a)
{
  mu_agent_logs_flush (a);
  mu_logfwd_destroy (&a->logfwd);
  if (a->logs_timer_open)
    {
      a->logs_timer_open = 0;
      uv_close ((uv_handle_t *)&a->logs_timer, NULL);
    }
}
