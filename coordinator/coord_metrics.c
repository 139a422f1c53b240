/*
 * coord_metrics.c — musterd's metric families, hooks and collector
 * (coord_metrics.h).
 *
 * What each family measures, exactly:
 *  - rendezvous duration: from the round opening (mu_jobs_open_round) to
 *    its epoch starting; the first round includes waiting for nodes.
 *  - node-loss detection: from the last message heard from the node to
 *    the moment it is declared lost (heartbeat silence past the limit, or
 *    its connection closing).
 *  - heartbeat lag: how much later than the interval asked of agents a
 *    node's heartbeat arrived after its previous one (0 when on time), so
 *    a loaded coordinator or network shows up before nodes are lost.
 *  - placement: from a job's creation (submit, or its first node
 *    arriving) to its first epoch starting, queueing in the scheduler
 *    included; the queue length is the jobs the scheduler holds queued
 *    (pending, or suspended by it), plus pending jobs brought by nodes.
 *  - checkpoint duration: from the attempt's begin to its end (committed,
 *    aborted, or dropped); bytes: the shard sizes of committed manifests.
 */
#include "coordinator/coord_metrics.h"
#include "coordinator/sched_glue.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/metrics.h"
#include "common/util.h"
#include "coordinator/coord.h"
#include "coordinator/epoch.h"

static const char *const job_states[]
    = { "pending",   "rendezvous", "running",   "recovering", "stopping",
        "succeeded", "failed",     "cancelled", "suspended",  NULL };
static const char *const causes[]
    = { "user", "infra", "scale_up", "preempt", NULL };
static const char *const lost_how[] = { "heartbeat", "connection", NULL };
static const char *const outcomes[]
    = { "committed", "aborted", "dropped", NULL };
static const char *const kv_ops[] = { "put", "get", NULL };
static const char *const node_states[] = { "free", "busy", "cordoned", NULL };
static const char *const hb_drops[]
    = { "malformed", "unknown", "forged", "replayed", NULL };
static const char *const welcome_sent[] = { "with_next", "alone", NULL };
static const double lag_buckets[]
    = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5 };
static const double fast_buckets[]
    = { 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120 };

#define SEC MU_METRIC_HISTOGRAM, NULL, NULL, NULL, 0
static const mu_metric_def_t defs[MU_CM_COUNT] = {
  [MU_CM_JOBS] = { "muster_jobs", "Jobs known to the coordinator, by state.",
                   MU_METRIC_GAUGE, "state", job_states, NULL, 0 },
  [MU_CM_EPOCHS] = { "muster_epochs_total",
                     "Epochs started (rendezvous rounds that closed), all "
                     "jobs.",
                     MU_METRIC_COUNTER, NULL, NULL, NULL, 0 },
  [MU_CM_RESTARTS]
  = { "muster_restarts_total",
      "Restarts and in-place re-formations, by cause: user (a worker "
      "failed), infra (a node was lost or a worker hung), scale_up, "
      "preempt.",
      MU_METRIC_COUNTER, "cause", causes, NULL, 0 },
  [MU_CM_RDZV_SECONDS]
  = { "muster_rendezvous_duration_seconds",
      "From a rendezvous round opening to its epoch starting.", SEC },
  [MU_CM_NODE_LOSS_SECONDS]
  = { "muster_node_loss_detection_seconds",
      "From the last message heard from a node to it being declared lost.",
      SEC },
  [MU_CM_NODES_LOST]
  = { "muster_nodes_lost_total",
      "Nodes declared lost, by how: heartbeat (silent past the limit) or "
      "connection (its connection closed).",
      MU_METRIC_COUNTER, "how", lost_how, NULL, 0 },
  [MU_CM_CKPT_SECONDS]
  = { "muster_checkpoint_duration_seconds",
      "From a checkpoint attempt's request to its end (any outcome).", SEC },
  [MU_CM_CKPT_BYTES] = { "muster_checkpoint_bytes_total",
                         "Bytes of the shards of committed checkpoints.",
                         MU_METRIC_COUNTER, NULL, NULL, NULL, 0 },
  [MU_CM_CKPTS]
  = { "muster_checkpoints_total",
      "Checkpoint attempts ended, by outcome: committed, aborted, dropped "
      "(an early attempt given up without failing).",
      MU_METRIC_COUNTER, "outcome", outcomes, NULL, 0 },
  [MU_CM_KV_SECONDS]
  = { "muster_kv_request_seconds",
      "From a KV request reaching the coordinator to its answer (a get "
      "waits for its key), by op.",
      MU_METRIC_HISTOGRAM, "op", kv_ops, fast_buckets,
      sizeof fast_buckets / sizeof fast_buckets[0] },
  [MU_CM_BARRIER_SECONDS]
  = { "muster_barrier_wait_seconds",
      "From a rank arriving at a barrier to the barrier releasing it.",
      MU_METRIC_HISTOGRAM, NULL, NULL, fast_buckets,
      sizeof fast_buckets / sizeof fast_buckets[0] },
  [MU_CM_HB_LAG_SECONDS]
  = { "muster_heartbeat_lag_seconds",
      "How much later than the asked interval a node's heartbeat arrived "
      "after its previous one (0 = on time).",
      MU_METRIC_HISTOGRAM, NULL, NULL, lag_buckets,
      sizeof lag_buckets / sizeof lag_buckets[0] },
  [MU_CM_NODES]
  = { "muster_nodes",
      "Registered live nodes, by state: free, busy (serving a job), "
      "cordoned.",
      MU_METRIC_GAUGE, "state", node_states, NULL, 0 },
  [MU_CM_WORKERS]
  = { "muster_workers", "Workers of running epochs not yet exited.",
      MU_METRIC_GAUGE, NULL, NULL, NULL, 0 },
  [MU_CM_QUEUE] = { "muster_scheduler_queue_length",
                    "Jobs waiting to be placed (queued in the scheduler).",
                    MU_METRIC_GAUGE, NULL, NULL, NULL, 0 },
  [MU_CM_PLACEMENT_SECONDS]
  = { "muster_scheduler_placement_seconds",
      "From a job's creation (submit, or its first node) to its first "
      "epoch starting.",
      SEC },
  /* hb: heartbeats over UDP (hb_udp.c) */
  [MU_CM_HB_DROPPED]
  = { "muster_heartbeat_datagrams_dropped_total",
      "Heartbeat datagrams dropped unread, by why: malformed, unknown (no "
      "live node in that slot), forged (the tag is not the node's), "
      "replayed (a sequence number already seen).",
      MU_METRIC_COUNTER, "why", hb_drops, NULL, 0 },
  [MU_CM_WELCOMES]
  = { "muster_agent_welcomes_held_total",
      "Welcomes of nodes registering to join a job, held back to share a "
      "write with the next message to the node, by how they went: "
      "with_next, or alone when the hold ran out.",
      MU_METRIC_COUNTER, "sent", welcome_sent, NULL, 0 },
};

int
mu_cm_open (mu_coord_t *c)
{
  char err[256];
  int rc = mu_metrics_new (defs, MU_CM_COUNT, &c->metrics, err, sizeof err);
  /* The table is fixed and checked by its test: only memory can fail. */
  return rc == 0 ? 0 : -ENOMEM;
}

void
mu_cm_close (mu_coord_t *c)
{
  mu_metrics_destroy (&c->metrics);
}

void
mu_cm_round_opened (mu_job_t *j)
{
  j->cm_round_ms = mu_now_ms ();
}

void
mu_cm_epoch_started (mu_job_t *j)
{
  mu_coord_t *c = j->coord;
  if (c == NULL)
    return;
  uint64_t now = mu_now_ms ();
  mu_metrics_inc (c->metrics, MU_CM_EPOCHS, NULL);
  if (j->cm_round_ms != 0 && now >= j->cm_round_ms)
    mu_metrics_observe (c->metrics, MU_CM_RDZV_SECONDS, NULL,
                        (double)(now - j->cm_round_ms) / 1e3);
  j->cm_round_ms = 0;
  if (!j->cm_placed && j->created_ms != 0 && now >= j->created_ms)
    mu_metrics_observe (c->metrics, MU_CM_PLACEMENT_SECONDS, NULL,
                        (double)(now - j->created_ms) / 1e3);
  j->cm_placed = 1;
}

void
mu_cm_restart (mu_job_t *j, int kind)
{
  if (j->coord == NULL)
    return;
  const char *cause
      = kind >= 0 && kind < (int)(sizeof causes / sizeof *causes) - 1
            ? causes[kind]
            : "other";
  mu_metrics_inc (j->coord->metrics, MU_CM_RESTARTS, cause);
}

void
mu_cm_node_lost (mu_coord_t *c, const mu_node_t *n, const char *how)
{
  uint64_t now = mu_now_ms ();
  mu_metrics_inc (c->metrics, MU_CM_NODES_LOST, how);
  mu_metrics_observe (
      c->metrics, MU_CM_NODE_LOSS_SECONDS, NULL,
      now > n->last_seen_ms ? (double)(now - n->last_seen_ms) / 1e3 : 0);
}

void
mu_cm_hb_dropped (mu_coord_t *c, const char *why)
{
  mu_metrics_inc (c->metrics, MU_CM_HB_DROPPED, why);
}

void
mu_cm_welcome_sent (mu_coord_t *c, const char *sent)
{
  mu_metrics_inc (c->metrics, MU_CM_WELCOMES, sent);
}

void
mu_cm_heartbeat (mu_coord_t *c, mu_node_t *n)
{
  uint64_t now = mu_now_ms ();
  if (n->cm_hb_ms != 0 && now >= n->cm_hb_ms)
    {
      uint64_t gap = now - n->cm_hb_ms;
      mu_metrics_observe (c->metrics, MU_CM_HB_LAG_SECONDS, NULL,
                          gap > c->hb_ms ? (double)(gap - c->hb_ms) / 1e3 : 0);
    }
  n->cm_hb_ms = now;
}

void
mu_cm_ckpt_begin (mu_job_t *j)
{
  j->cm_ckpt_us = mu_now_us ();
  j->cm_ckpt_bytes = 0;
}

void
mu_cm_ckpt_manifest (mu_job_t *j, const mu_ckpt_manifest_t *m)
{
  uint64_t bytes = 0;
  for (size_t i = 0; m != NULL && i < m->shards.n; i++)
    bytes += m->shards.v[i].size;
  j->cm_ckpt_bytes = bytes;
}

void
mu_cm_ckpt_done (mu_job_t *j, const char *outcome)
{
  mu_coord_t *c = j->coord;
  if (c == NULL)
    return;
  uint64_t now = mu_now_us ();
  mu_metrics_inc (c->metrics, MU_CM_CKPTS, outcome);
  if (j->cm_ckpt_us != 0 && now >= j->cm_ckpt_us)
    mu_metrics_observe (c->metrics, MU_CM_CKPT_SECONDS, NULL,
                        (double)(now - j->cm_ckpt_us) / 1e6);
  if (strcmp (outcome, "committed") == 0)
    mu_metrics_add (c->metrics, MU_CM_CKPT_BYTES, NULL,
                    (double)j->cm_ckpt_bytes);
  j->cm_ckpt_us = 0;
  j->cm_ckpt_bytes = 0;
}

void
mu_cm_kv (mu_coord_t *c, const char *op, uint64_t since_us)
{
  uint64_t now = mu_now_us ();
  mu_metrics_observe (c->metrics, MU_CM_KV_SECONDS, op,
                      now > since_us ? (double)(now - since_us) / 1e6 : 0);
}

void
mu_cm_barrier (mu_coord_t *c, uint64_t since_us)
{
  uint64_t now = mu_now_us ();
  mu_metrics_observe (c->metrics, MU_CM_BARRIER_SECONDS, NULL,
                      now > since_us ? (double)(now - since_us) / 1e6 : 0);
}

/* The gauges, counted from the tables now. */
static void
collect (mu_coord_t *c)
{
  mu_metrics_t *m = c->metrics;
  mu_metrics_zero (m, MU_CM_JOBS);
  mu_metrics_zero (m, MU_CM_NODES);
  double workers = 0, pending = 0;
  size_t pos = 0;
  void *val;
  while (mu_smap_next (c->jobs, &pos, NULL, &val))
    {
      const mu_job_t *j = val;
      mu_metrics_add (m, MU_CM_JOBS, mu_job_state_name (j->state), 1);
      if (j->state == MU_JOB_RUNNING)
        workers += (double)j->live;
      /* schedwire: the scheduler's queue (queued or suspended by it) */
      if (j->sched_in ? mu_sched_glue_queued (c, j)
                      : j->state == MU_JOB_PENDING)
        pending++;
    }
  for (size_t k = 0; k < c->nodes_used; k++)
    {
      const mu_node_t *n = c->nodes[k];
      if (n == NULL || !n->in_use || !n->alive)
        continue;
      mu_metrics_add (m, MU_CM_NODES,
                      n->cordoned ? "cordoned"
                      : n->job    ? "busy"
                                  : "free",
                      1);
    }
  mu_metrics_set (m, MU_CM_WORKERS, NULL, workers);
  mu_metrics_set (m, MU_CM_QUEUE, NULL, pending);
}

int
mu_coord_metrics_render (void *coord, char **text, size_t *len)
{
  mu_coord_t *c = coord;
  if (c->metrics == NULL)
    return -ENOMEM;
  collect (c);
  return mu_metrics_render (c->metrics, text, len);
}
