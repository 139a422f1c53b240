/*
 * coord_metrics.h — musterd's Prometheus metrics: the table of families,
 * the one-line hooks the coordinator's files call where things happen, and
 * the collector that counts jobs, nodes and workers when a scrape asks.
 *
 * Counters and histograms are updated by the hooks as events happen (an
 * epoch started, a node declared lost, a checkpoint committed); gauges
 * (jobs by state, nodes by state, workers, the pending queue) are counted
 * from the job and node tables at render time, so they cannot drift.
 * Every hook is one call at its site (`mu_cm_restart (j, kind);`), so the
 * sites can be moved when the code around them is refactored; a hook with
 * no registry (c->metrics NULL) does nothing.  docs/metrics.md lists every
 * family with its meaning; keep the two in step.
 */
#ifndef MU_COORD_METRICS_H
#define MU_COORD_METRICS_H

#include <stddef.h>
#include <stdint.h>

struct mu_coord;
struct mu_job;
struct mu_node;
struct mu_ckpt_manifest;

typedef enum mu_cm_id
{
  MU_CM_JOBS = 0,          /* gauge {state} */
  MU_CM_EPOCHS,            /* counter */
  MU_CM_RESTARTS,          /* counter {cause} */
  MU_CM_RDZV_SECONDS,      /* histogram */
  MU_CM_NODE_LOSS_SECONDS, /* histogram */
  MU_CM_NODES_LOST,        /* counter {how} */
  MU_CM_CKPT_SECONDS,      /* histogram */
  MU_CM_CKPT_BYTES,        /* counter */
  MU_CM_CKPTS,             /* counter {outcome} */
  MU_CM_KV_SECONDS,        /* histogram {op} */
  MU_CM_BARRIER_SECONDS,   /* histogram */
  MU_CM_HB_LAG_SECONDS,    /* histogram */
  MU_CM_NODES,             /* gauge {state} */
  MU_CM_WORKERS,           /* gauge */
  MU_CM_QUEUE,             /* gauge */
  MU_CM_PLACEMENT_SECONDS, /* histogram */
  MU_CM_HB_DROPPED,        /* counter {why} (hb area) */
  MU_CM_WELCOMES,          /* counter {sent} (welcome_hold.c) */
  MU_CM_COUNT
} mu_cm_id_t;

/* Make c->metrics (mu_coord_new).  0 or -ENOMEM. */
int mu_cm_open (struct mu_coord *c);
void mu_cm_close (struct mu_coord *c);

/* Hooks: one call where the event happens. */
/* jobs.c, mu_jobs_open_round: a rendezvous round opened. */
void mu_cm_round_opened (struct mu_job *j);
/* epoch.c, mu_epoch_start: an epoch started (its round closed). */
void mu_cm_epoch_started (struct mu_job *j);
/* epoch.c, mu_epoch_recover: a restart or re-formation of kind
 * mu_recover_kind_t (epoch.h). */
void mu_cm_restart (struct mu_job *j, int kind);
/* nodes.c: a node declared lost; `how` "heartbeat" or "connection". */
void mu_cm_node_lost (struct mu_coord *c, const struct mu_node *n,
                      const char *how);
/* nodes.c, mu_nodes_heartbeat: a heartbeat arrived from n. */
void mu_cm_heartbeat (struct mu_coord *c, struct mu_node *n);
/* A heartbeat datagram was dropped (hb_udp.c): why is "malformed",
 * "unknown", "forged" or "replayed". */
void mu_cm_hb_dropped (struct mu_coord *c, const char *why);
/* An agent.welcome that was held went out: sent "with_next" (in one
 * write with the next message to its node) or "alone" (its hold ran
 * out). */
void mu_cm_welcome_sent (struct mu_coord *c, const char *sent);
/* ckpt.c: an attempt began; its manifest is being written (the bytes);
 * it ended ("committed", "aborted", or "dropped" for an early attempt
 * given up quietly). */
void mu_cm_ckpt_begin (struct mu_job *j);
void mu_cm_ckpt_manifest (struct mu_job *j, const struct mu_ckpt_manifest *m);
void mu_cm_ckpt_done (struct mu_job *j, const char *outcome);
/* kv.c: a KV request of `op` answered, or a barrier waiter released,
 * `since_us` (mu_now_us) after it arrived. */
void mu_cm_kv (struct mu_coord *c, const char *op, uint64_t since_us);
void mu_cm_barrier (struct mu_coord *c, uint64_t since_us);

/* The exposition text (gauges counted now); on the loop thread.  The
 * signature of mu_metrics_render_fn (metrics_http.h), `coord` a
 * mu_coord_t.  0 or -ENOMEM; *text is the caller's. */
int mu_coord_metrics_render (void *coord, char **text, size_t *len);

#endif
