/*
 * event_stream.h — the coordinator's side of the event log (events.h):
 * the hooks that record a job's state changes (event_hooks.c) and the
 * ctl.events long poll that serves them (event_serve.c).
 *
 * Each hook is one line at the place the state changes (epoch.c, jobs.c,
 * ckpt.c, ...), so a refactor of those files carries them over by moving a
 * line; the hook reads what it reports from the job and stamps the wall
 * clock.  Hooks never fail the caller: an event that cannot be recorded
 * (out of memory) is counted and logged once.  Journal replay does not go
 * through these paths, so a restarted coordinator records no duplicate of
 * what happened before it started (docs/architecture.md, decision 57).
 */
#ifndef MU_EVENT_STREAM_H
#define MU_EVENT_STREAM_H

#include "coordinator/coord.h"
#include "coordinator/events.h"

struct mu_principal;

/* --- event_hooks.c: one call per state change */
void mu_ev_coord_started (mu_coord_t *c);
void mu_ev_job_created (mu_job_t *j);
/* state: the state the journal left it in. */
void mu_ev_job_restored (mu_job_t *j, const char *state);
void mu_ev_round_opened (mu_job_t *j);
void mu_ev_node_joined (mu_job_t *j, const mu_node_t *n);
void mu_ev_round_closed (mu_job_t *j);
void mu_ev_round_failed (mu_job_t *j, const char *why);
void mu_ev_epoch_started (mu_job_t *j);
void mu_ev_worker_exited (mu_job_t *j, const mu_node_t *n,
                          const mu_worker_state_t *ws);
/* charged != 0: lost (an infrastructure failure); else left on purpose. */
void mu_ev_node_left (mu_job_t *j, const mu_node_t *n, const char *why,
                      int charged);
/* charge: the mu_jm_charge_t of the machine's RECOVER decision. */
void mu_ev_recovering (mu_job_t *j, int charge, const char *why);
void mu_ev_ckpt_requested (mu_job_t *j, uint64_t step, const char *reason);
void mu_ev_ckpt_committed (mu_job_t *j, uint64_t step);
void mu_ev_ckpt_aborted (mu_job_t *j, uint64_t step, const char *why,
                         int dropped);
void mu_ev_preempt (mu_job_t *j, const char *why, uint64_t grace_ms);
void mu_ev_resumed (mu_job_t *j);
void mu_ev_stopping (mu_job_t *j, mu_job_state_t final, const char *why);
void mu_ev_job_finished (mu_job_t *j);
/* schedwire: a scheduling decision carried out (sched_glue_apply.c):
 * node (or NULL), cause (placed/grown, shrunk/suspended, ...), detail. */
void mu_ev_sched (mu_job_t *j, mu_ev_kind_t kind, const char *node,
                  const char *cause, const char *detail);

/* --- event_serve.c */
/* Record *ev (time_us 0: now) and answer the waiting readers it
 * concerns.  Never fails the caller. */
void mu_events_emit (mu_coord_t *c, mu_event_t *ev);
/* ctl.events from `who` on c->ctl_reply_sock: answered now, or parked
 * until an event it may see arrives or its wait ends. */
void mu_events_ctl (mu_coord_t *c, const mu_route_t *from,
                    const struct mu_principal *who,
                    const mu_ctl_events_t *req);
/* The coordinator stops: parked readers are answered with what they
 * have (their clients ask again), the timer closed.  Idempotent. */
void mu_events_stop (mu_coord_t *c);
/* Free the log (after the loop closed the timer).  Idempotent. */
void mu_events_destroy (mu_coord_t *c);

#endif
