/*
 * ps_plan.h — the coordinator's side of live bucket migration (issue 11).
 *
 * For a job with a role named "ps" and nbuckets > 0, every epoch start
 * puts the epoch's bucket map and, in an in-place epoch whose servers
 * changed, the moves from the previous epoch's map (checkpoint/
 * bucket_plan.h) into the epoch's KV store under MU_PS_PLAN_KEY, encoded
 * as a "ps.plan" message; libmuster reads it (muster_worker_bucket_plan).
 * The KV store is emptied at every epoch, so the plan is always the
 * current epoch's.
 *
 * Servers are told apart across epochs by an id the coordinator hands out:
 * a server keeps its id while its process survives on the same node
 * registration; a replaced process (its rank failed) or a server on a new
 * node gets a new one.  A server whose process is gone is a source of
 * moves marked `lost` (failed, or its node was lost), or, when its node
 * left cleanly (agent.leave, e.g. scale down), a source that serves the
 * move until drained (from_rank -1).
 */
#ifndef MU_PS_PLAN_H
#define MU_PS_PLAN_H

#include "coordinator/coord.h"

#define MU_PS_PLAN_KEY "muster.ps.plan"

/* The epoch j->epoch started with members mem[0..n): publish its plan.
 * Nothing for a job without a ps role or nbuckets.  Errors (no memory)
 * are logged; the workers then time out reading the plan. */
void mu_ps_plan_epoch (mu_job_t *j, const mu_rdzv_member_t *mem, size_t n,
                       int in_place);

/* Rank `rank` of node n's current epoch exited or failed: if it was a
 * server, its buckets are lost. */
void mu_ps_plan_worker_gone (mu_job_t *j, const mu_node_t *n, uint64_t rank);

/* Node n leaves the job: cleanly (its servers drain their buckets to the
 * next epoch's owners) or not (lost != 0: their buckets are lost). */
void mu_ps_plan_node_gone (mu_job_t *j, const mu_node_t *n, int lost);

/* Free the job's migration state (accepts a job without one). */
void mu_ps_plan_free (mu_job_t *j);

#endif
