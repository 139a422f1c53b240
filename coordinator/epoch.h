/*
 * epoch.h — running one epoch of a job and ending it: start messages,
 * worker exits, failure handling with restart budgets, recovery into the
 * next round, and the final outcome.  Internal to the coordinator.
 */
#ifndef MU_EPOCH_H
#define MU_EPOCH_H

#include "coordinator/coord.h"

typedef enum mu_recover_kind {
  MU_RECOVER_USER = 0, /* a worker exited non-zero or by signal */
  MU_RECOVER_INFRA,    /* a node or agent was lost, or a worker hung */
  MU_RECOVER_SCALE_UP, /* capacity arrived; never charged */
  MU_RECOVER_PREEMPT   /* never charged */
} mu_recover_kind_t;

/* Feed the job's lifecycle machine (job_machine.h) one event (now and
 * resumable are filled in here) and carry out its decisions in order.
 * Every event of every job passes here: the one place to observe the
 * lifecycle (state before and after, the decisions).  ctx: what the
 * feeder prepared for a decision (epoch.c's start and exit contexts);
 * NULL for other events. */
void mu_epoch_feed (mu_job_t *j, mu_jm_event_t *ev, void *ctx);
/* service: send node the job.start of the running epoch again (its
 * replica restarts alone; why: the reason its workers see); *nproc = its
 * workers.  0, MUSTER_ENOTFOUND (not a member of a running epoch), or the
 * send's code. */
int mu_epoch_start_node (mu_job_t *j, mu_node_t *node, const char *why,
                         uint64_t *nproc);
/* Start the epoch the rendezvous just closed: job.start to every member. */
void mu_epoch_start (mu_job_t *j);
/* Stop the running epoch and open the next round once every worker is
 * down, if the budget of `kind` allows; otherwise fail the job (the
 * machine's RECOVER event; a user or infra kind charges j->failure). */
void mu_epoch_recover (mu_job_t *j, mu_recover_kind_t kind, const char *why);
/* Stop everything and finish as failed (infra != 0: exit code 1 unless a
 * worker's failure is already recorded). */
void mu_epoch_fail (mu_job_t *j, const char *why, int infra);
/* Stop everything and finish as cancelled. */
void mu_epoch_cancel (mu_job_t *j, const char *why);
/* Stop everything and finish as suspended (preempted; resumable from the
 * job's newest complete checkpoint). */
void mu_epoch_suspend (mu_job_t *j, const char *why);
/* job.done of a finished job, to a route (a member of it that
 * registered again after the job ended: reconcile.h C2). */
void mu_epoch_send_done (mu_job_t *j, const mu_route_t *to);
/* job.stop of the epoch to one member (it reconnected after the stop
 * went out on its old connection). */
void mu_epoch_resend_stop (mu_job_t *j, mu_node_t *n);
/* rdzv.progress to one node / every node attached to the job. */
void mu_epoch_send_progress (mu_job_t *j, mu_node_t *n);
void mu_epoch_broadcast_progress (mu_job_t *j);
/* zsim (join_progress.c, decision 107): node n joined j's round; it is
 * sent an rdzv.progress MU_JOIN_PROGRESS_DELAY_MS later if it still waits
 * then (the round has not closed, or the job is full), not at once. */
#define MU_JOIN_PROGRESS_DELAY_MS 500
void mu_join_progress_note (mu_job_t *j, mu_node_t *n);
/* Every node of j just heard its progress (the round's broadcast), or the
 * round closed: nothing held back is due any more. */
void mu_join_progress_clear (mu_job_t *j);
/* Free a job that is detached from its coordinator and has no open
 * handles. */
void mu_epoch_free_job (mu_job_t *j);

/* failure.c: a failure record (strings copied) / freed and zeroed. */
void mu_failure_set (mu_failure_t *f, const char *node_id, int64_t rank,
                     int64_t code, int64_t sig, const char *tail,
                     const char *reason);
void mu_failure_free (mu_failure_t *f);
/* A worker of j on n failed (why): held for attribution (1), or to be
 * charged now (0: a one-node epoch). */
int mu_failure_hold (mu_job_t *j, mu_node_t *n, const mu_worker_state_t *ws,
                     const char *why);
/* Node `lost` of j was declared lost: a held failure was its doing (it is
 * dropped; the caller records the loss as the root cause). */
void mu_failure_attribute (mu_job_t *j, const mu_node_t *lost);

/* cordon.c: count a failure of one of the node's workers; cordon the node
 * when it fails too often. */
void mu_cordon_note_failure (mu_job_t *j, mu_node_t *n);

/* jobs.c entry points used by epoch.c */
void mu_jobs_handle_decision (mu_job_t *j, const mu_rdzv_decision_t *d);
/* Open the job's first round (a PENDING job: the machine's OPEN event)
 * or resume a suspended one (RESUME). */
void mu_jobs_open_round (mu_job_t *j);
/* OPEN_ROUND: the machine entered RENDEZVOUS; open the rendezvous round
 * (reform: without its last call). */
void mu_jobs_begin_round (mu_job_t *j, int reform);
void mu_jobs_finished (mu_coord_t *c, mu_job_t *j);

/* A job restored in its epoch from the journal (journal_restore.c): the
 * encoded membership its agents fetch (job.members.get) when job.start
 * could not list every node. */
void mu_epoch_restore_members (mu_job_t *j);

#endif
