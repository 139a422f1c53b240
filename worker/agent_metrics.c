/*
 * agent_metrics.c — muster-agent's Prometheus metrics: its families, the
 * one-line hooks of agent_workers.c, and the collector run when a scrape
 * asks (on the agent's loop; metrics_http.h serves the text).
 *
 * Exit causes (muster_agent_worker_exits_total{cause}): ok (exit 0),
 * error (non-zero exit), signal (killed by a signal the agent did not
 * send), stopped (exited after the agent stopped it: job.stop, shutdown,
 * an older epoch), hung (killed for missing its progress deadline),
 * fenced (killed because the coordinator was gone past the outage
 * window), failed_to_start.  Spawn time (muster_agent_spawn_seconds) runs
 * from the job.start reaching the agent to the worker's process started,
 * so the batching of large starts shows in it.
 */
#include "worker/agent_int.h"

#include <errno.h>
#include <string.h>

#include "common/metrics.h"
#include "common/util.h"
#include "worker/out_queue.h"

static const char *const worker_states[] = { "running", "exited", NULL };
static const char *const causes[]
    = { "ok",   "error",  "signal",          "stopped",
        "hung", "fenced", "failed_to_start", NULL };
static const char *const streams[] = { "stdout", "stderr", NULL };

static const mu_metric_def_t defs[MU_AM_COUNT] = {
  [MU_AM_WORKERS]
  = { "muster_agent_workers",
      "Workers of this node's current epoch, by state: running, exited.",
      MU_METRIC_GAUGE, "state", worker_states, NULL, 0 },
  [MU_AM_EXITS]
  = { "muster_agent_worker_exits_total",
      "Worker processes ended on this node, by cause: ok, error, signal, "
      "stopped, hung, fenced, failed_to_start.",
      MU_METRIC_COUNTER, "cause", causes, NULL, 0 },
  [MU_AM_SPAWN_SECONDS]
  = { "muster_agent_spawn_seconds",
      "From a job.start reaching the agent to a worker's process started.",
      MU_METRIC_HISTOGRAM, NULL, NULL, NULL, 0 },
  [MU_AM_OUTPUT_BYTES]
  = { "muster_agent_output_bytes_total",
      "Bytes of worker output (prefixed lines) written to the agent's "
      "console, by stream.",
      MU_METRIC_COUNTER, "stream", streams, NULL, 0 },
  [MU_AM_CONNECTED]
  = { "muster_agent_coordinator_connected",
      "1 while the agent is registered with a coordinator, else 0.",
      MU_METRIC_GAUGE, NULL, NULL, NULL, 0 },
  [MU_AM_STARTS]
  = { "muster_agent_epochs_total", "Epochs (job.start) this node was given.",
      MU_METRIC_COUNTER, NULL, NULL, NULL, 0 },
};

int
mu_agent_metrics_open (mu_agent_t *a)
{
  char err[256];
  return mu_metrics_new (defs, MU_AM_COUNT, &a->metrics, err, sizeof err) == 0
             ? 0
             : -ENOMEM;
}

void
mu_agent_metrics_close (mu_agent_t *a)
{
  mu_metrics_destroy (&a->metrics);
}

void
mu_am_start_received (mu_agent_t *a)
{
  a->cm_start_us = mu_now_us ();
  a->cm_start_wall_us = mu_wall_us ();
  mu_metrics_inc (a->metrics, MU_AM_STARTS, NULL);
}

void
mu_am_spawned (mu_agent_t *a)
{
  uint64_t now = mu_now_us ();
  mu_metrics_observe (
      a->metrics, MU_AM_SPAWN_SECONDS, NULL,
      now > a->cm_start_us ? (double)(now - a->cm_start_us) / 1e6 : 0);
}

void
mu_am_worker_exit (mu_agent_t *a, const mu_agent_worker_t *w, int64_t exit_code,
                   int term_signal)
{
  const char *cause = w == NULL        ? "failed_to_start"
                      : w->hung        ? "hung"
                      : w->fenced      ? "fenced"
                      : w->cm_stopped  ? "stopped"
                      : term_signal    ? "signal"
                      : exit_code == 0 ? "ok"
                                       : "error";
  mu_metrics_inc (a->metrics, MU_AM_EXITS, cause);
}

/* A counter follows a running total kept elsewhere (the console queues). */
static void
follow (mu_agent_t *a, const char *stream, uint64_t total, uint64_t *seen)
{
  if (total > *seen)
    mu_metrics_add (a->metrics, MU_AM_OUTPUT_BYTES, stream,
                    (double)(total - *seen));
  *seen = total;
}

int
mu_agent_metrics_render (void *agent, char **text, size_t *len)
{
  mu_agent_t *a = agent;
  if (a->metrics == NULL)
    return -ENOMEM;
  double running = 0, exited = 0;
  for (size_t i = 0; i < a->nworkers; i++)
    {
      if (a->workers[i].running)
        running++;
      else if (a->workers[i].exit_seq != 0)
        exited++;
    }
  mu_metrics_set (a->metrics, MU_AM_WORKERS, "running", running);
  mu_metrics_set (a->metrics, MU_AM_WORKERS, "exited", exited);
  mu_metrics_set (a->metrics, MU_AM_CONNECTED, NULL,
                  a->registered && !a->coord_lost ? 1 : 0);
  if (a->out_q != NULL)
    follow (a, "stdout", mu_outq_total (a->out_q), &a->cm_out_seen[0]);
  if (a->err_q != NULL)
    follow (a, "stderr", mu_outq_total (a->err_q), &a->cm_out_seen[1]);
  return mu_metrics_render (a->metrics, text, len);
}
