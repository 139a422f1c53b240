/*
 * agent_output.c — the console of the agent's workers: the stdout and
 * stderr queues (out_queue.h) their prefixed lines go through, given by
 * the embedding program (muster run shares them with its own messages)
 * or made here on out_fd / err_fd.  When a queue holds back because
 * nobody reads it, the workers' streams pause (spawn.c) and the agent
 * says so once at warn; when it drains, every worker is read again.  A
 * destination gone for good is said once too; its output is dropped.
 */
#include "worker/agent_int.h"

#include <stddef.h>

#include "worker/out_queue.h"

/* The console (a terminal nobody reads, `| (sleep 8; cat)`) holds back,
 * resumes or failed.  Holding back is said once per stream, at the
 * default level: the workers writing to it wait, nothing is dropped. */
static void
on_output (void *arg, mu_outq_t *q, mu_outq_event_t ev)
{
  mu_agent_t *a = arg;
  int k = q == a->err_q;
  if (ev == MU_OUTQ_HOLD)
    {
      if (!a->out_held_said[k])
        mu_log_warn (a->log, "OUTPUT-HELD",
                     "%s is not being read; worker output is held back (the "
                     "workers writing to it wait; nothing is dropped)",
                     mu_outq_name (q));
      else
        mu_log_info (a->log, "OUTPUT-HELD", "%s is not being read again",
                     mu_outq_name (q));
      a->out_held_said[k] = 1;
    }
  else if (ev == MU_OUTQ_FAILED)
    mu_log_warn (a->log, "OUTPUT-FAILED",
                 "%s is closed; worker output to it is dropped from now on",
                 mu_outq_name (q));
  else if (ev == MU_OUTQ_RESUME)
    {
      mu_log_info (a->log, "OUTPUT-RESUMED", "%s is read again",
                   mu_outq_name (q));
      for (size_t i = 0; i < a->nworkers; i++)
        if (a->workers[i].proc != NULL)
          mu_proc_resume_output (a->workers[i].proc);
    }
}

/* The workers' console: the caller's queues, or our own on out_fd and
 * err_fd. */
int
mu_agent_output_open (mu_agent_t *a)
{
  a->out_q = a->opts.out_q;
  a->err_q = a->opts.err_q;
  int rc = 0;
  if (a->out_q == NULL && a->opts.out_fd >= 0)
    {
      mu_outq_opts_t o = { .fd = a->opts.out_fd, .name = "stdout" };
      rc = mu_outq_new (a->loop, &o, &a->out_q);
      a->own_out_q = rc == 0;
    }
  if (rc == 0 && a->err_q == NULL && a->opts.err_fd >= 0)
    {
      mu_outq_opts_t o = { .fd = a->opts.err_fd, .name = "stderr" };
      rc = mu_outq_new (a->loop, &o, &a->err_q);
      a->own_err_q = rc == 0;
    }
  if (rc == 0 && a->out_q != NULL)
    rc = mu_outq_watch (a->out_q, on_output, a);
  if (rc == 0 && a->err_q != NULL && a->err_q != a->out_q)
    rc = mu_outq_watch (a->err_q, on_output, a);
  return rc;
}

void
mu_agent_output_close (mu_agent_t *a)
{
  if (a->out_q != NULL)
    mu_outq_unwatch (a->out_q, on_output, a);
  if (a->err_q != NULL)
    mu_outq_unwatch (a->err_q, on_output, a);
  if (a->own_out_q)
    mu_outq_close (&a->out_q);
  if (a->own_err_q)
    mu_outq_close (&a->err_q);
  a->out_q = a->err_q = NULL;
  a->own_out_q = a->own_err_q = 0;
}

