/*
 * job_status.h — the REASON column of `muster status` (job_info.reason):
 * why a job is in its state, derived from the state each time it is asked
 * for, so it can never be stale (a job resumed after a preemption no
 * longer says "preempted").  Pure: the caller gathers the inputs.
 */
#ifndef MU_JOB_STATUS_H
#define MU_JOB_STATUS_H

#include <stddef.h>
#include <stdint.h>

#include "coordinator/coord.h"

typedef struct mu_job_status_in {
  const char *id;
  mu_job_state_t state;
  uint32_t joined;        /* rendezvous: nodes in the round */
  uint32_t min_nodes;     /* ... needed (all roles) */
  uint32_t max_nodes;     /* ... wanted */
  int submitted;          /* ctl.submit: draws free registered nodes */
  uint32_t free_nodes;    /* registered, alive, without a job */
  int has_ckpt;           /* a committed checkpoint exists */
  uint64_t ckpt_step;
  uint64_t restarts;
  const char *epoch_reason; /* why the current epoch began */
  const char *reason;       /* why it ended (final states, stopping) */
} mu_job_status_in_t;

/* One line into buf (truncated to cap); returns its length ("" when there
 * is nothing to say: a running job never restarted). */
size_t mu_job_status_reason (const mu_job_status_in_t *in, char *buf,
                             size_t cap);

#endif
