/*
 * job_machine.h — the lifecycle of one job as a pure state machine.
 *
 * The coordinator's files (jobs.c, epoch.c, failure.c, ckpt.c,
 * journal_restore.c) decode messages and timers into events, feed them
 * here, and carry out the decisions that come back, in order: send
 * job.start or job.stop, open a rendezvous round, arm the backoff timer,
 * journal a transition, report the outcome (job.done).  The machine does
 * no I/O, reads no clock (time comes in the event) and never allocates,
 * so every rule below is unit-tested (job_machine_test.c, one row per
 * rule) and checked against random event sequences
 * (job_machine_prop_test.c).  It is built like rendezvous/rdzv.h and
 * checkpoint/commit.h.
 *
 * What it holds: the job's state, the epoch counters (epoch, world,
 * workers live, workers that exited 0), the restart budgets and what was
 * drawn on them, the final state a stop ends in, and the exit code.  The
 * job's state is assigned here and nowhere else.
 *
 * Rules.  Each line is one entry of the code's table (job_machine.c,
 * `rules`); job_machine_test.c reads this comment and fails if the two
 * differ.  A (state, event) pair not listed is ignored: no change, no
 * decision.  "drain" means: when no worker of the epoch is live,
 * RUNNING with every worker exited 0 finishes SUCCEEDED, RECOVERING
 * opens the next round (after the backoff, if any), STOPPING finishes in
 * its final state.
 *
 * R  PENDING     OPEN          open_round     RENDEZVOUS
 * R  PENDING     FAIL          stop_for_good  STOPPING, then final
 * R  PENDING     CANCEL        stop_for_good  STOPPING, then final
 * R  PENDING     SUSPEND       stop_for_good  STOPPING, then final
 * R  PENDING     DISCARD       discard        CANCELLED (never ran; silent)
 * R  PENDING     RESTORE       restore        the journaled state
 * R  RENDEZVOUS  ROUND_CLOSED  start_epoch    RUNNING
 * R  RENDEZVOUS  WORKER_EXIT   worker_exit    (an in-place epoch's worker)
 * R  RENDEZVOUS  NODE_LOST     node_lost      (the rendezvous decides)
 * R  RENDEZVOUS  FAIL          stop_for_good  STOPPING, then final
 * R  RENDEZVOUS  CANCEL        stop_for_good  STOPPING, then final
 * R  RENDEZVOUS  SUSPEND       stop_for_good  STOPPING, then final
 * R  RUNNING     WORKER_EXIT   worker_exit    RECOVERING/RENDEZVOUS/drain
 * R  RUNNING     RECOVER       recover        RECOVERING/RENDEZVOUS/FAILED
 * R  RUNNING     NODE_LOST     node_lost      RECOVERING/RENDEZVOUS/FAILED
 * R  RUNNING     FAIL          stop_for_good  STOPPING
 * R  RUNNING     CANCEL        stop_for_good  STOPPING
 * R  RUNNING     SUSPEND       stop_for_good  STOPPING
 * R  RUNNING     REPLICA_START replica_start  RUNNING (service, J9)
 * R  RECOVERING  WORKER_EXIT   worker_exit    drain
 * R  RECOVERING  NODE_LOST     node_lost      drain
 * R  RECOVERING  DRAIN_TIMEOUT drain_timeout  drain
 * R  RECOVERING  BACKOFF_DONE  backoff_done   RENDEZVOUS
 * R  RECOVERING  FAIL          stop_for_good  STOPPING
 * R  RECOVERING  CANCEL        stop_for_good  STOPPING
 * R  RECOVERING  SUSPEND       stop_for_good  STOPPING
 * R  STOPPING    WORKER_EXIT   worker_exit    drain
 * R  STOPPING    NODE_LOST     node_lost      drain
 * R  STOPPING    DRAIN_TIMEOUT drain_timeout  drain
 * R  SUSPENDED   RESUME        open_round     RENDEZVOUS
 *
 * And the rules inside the handlers:
 *  J1 Budgets.  A user failure (a worker exited non-zero, was killed, hung
 *     or failed to start) draws on max_restarts; an infrastructure failure
 *     (a node lost, a worker fenced by its agent) on infra_budget; a
 *     scale-up, a node that left on purpose, on none.  A failure that
 *     finds its budget spent stops the job for good as FAILED, with a
 *     reason naming the budget (out.text).  So user_failures never
 *     exceeds max_restarts, nor infra_failures infra_budget.
 *  J2 Recovery in restart mode stops the epoch (STOP, recover = 1) and
 *     waits for every worker to be reported down before the next round
 *     opens: no job.start is ever sent while a worker of the job's
 *     previous epoch may run.  In-place mode opens the next round at once
 *     (survivors keep running; the agents start only what is missing).
 *  J3 Backoff before the next round: 0 for the first restart, then
 *     100 ms doubling per restart up to 5 s (ARM_BACKOFF; BACKOFF_DONE).
 *  J4 A stop for good (FAIL, CANCEL, SUSPEND) keeps the first reason; the
 *     job then waits in STOPPING for its workers and FINISHes exactly once
 *     in its final state.  A job that had no epoch running finishes at
 *     once.
 *  J5 Exit codes: SUCCEEDED 0, CANCELLED 130, SUSPENDED 0 when it can be
 *     resumed from a checkpoint (else 1), FAILED the first failure of the
 *     last epoch (128 + signal, or its exit code 1..255), else 1.
 *  J6 Terminal states (SUCCEEDED, FAILED, CANCELLED) are absorbing;
 *     SUSPENDED is left only by RESUME.  Live counts never go below 0; a
 *     report of a worker not counted (n->live was 0) changes nothing but
 *     its exit.
 *  J7 A worker failure that arrives while the job is not RUNNING (the
 *     epoch is already being stopped) is counted, never charged.
 *  J8 mu_jm_feed with a NULL machine, event or output is MUSTER_EINVAL;
 *     an event the table ignores returns 0 with no decision.
 *  J9 service (the event's `replica` flag: the job's kind is service).
 *     A worker failure of a RUNNING service is its replica's alone: it
 *     draws on the budget of its charge exactly as J1 says (spent: the
 *     job stops for good as FAILED), counts a restart, and returns
 *     RESTART_REPLICA (after `ms`, the J3 backoff of the job's restarts)
 *     instead of a recovery: the state stays RUNNING, the epoch is not
 *     bumped, the other replicas are not stopped.  REPLICA_START (the
 *     replica's workers were started again: `live` of them) adds them to
 *     the live count.  A replica's exit with charge NONE (stopped on
 *     purpose for a restart or a rolling update) is counted, never
 *     charged, and never drains a service to SUCCEEDED while a replica
 *     is being restarted (the caller feeds it with `replica` set).
 */
#ifndef MU_JOB_MACHINE_H
#define MU_JOB_MACHINE_H

#include <stddef.h>
#include <stdint.h>

typedef enum mu_job_state {
  MU_JOB_PENDING = 0, /* created, no round yet */
  MU_JOB_RENDEZVOUS,  /* a round is open */
  MU_JOB_RUNNING,     /* an epoch is running */
  MU_JOB_RECOVERING,  /* stopping an epoch before the next round */
  MU_JOB_STOPPING,    /* stopping for good (failed / cancelled) */
  MU_JOB_SUCCEEDED,
  MU_JOB_FAILED,
  MU_JOB_CANCELLED,
  MU_JOB_SUSPENDED /* preempted; resumable from its checkpoint */
} mu_job_state_t;
#define MU_JOB_NSTATES 9

/* Default infrastructure restart budget (spec.infra_restarts = 0). */
#define MU_JM_INFRA_BUDGET_DEFAULT 16
#define MU_JM_BACKOFF_BASE_MS 100
#define MU_JM_BACKOFF_MAX_MS 5000

typedef enum mu_jm_event_type {
  MU_JM_E_OPEN = 0,      /* open the job's first round (created/restored) */
  MU_JM_E_ROUND_CLOSED,  /* the rendezvous formed epoch `epoch` */
  MU_JM_E_WORKER_EXIT,   /* a worker of the epoch exited (ok or not) */
  MU_JM_E_RECOVER,       /* recover, charged to `charge`: a held worker
                            failure charged now, a scale-up (the
                            rendezvous can admit a waiting node) */
  MU_JM_E_NODE_LOST,     /* a node left its job (lost or on purpose) */
  MU_JM_E_DRAIN_TIMEOUT, /* the stopped epoch's workers never all reported */
  MU_JM_E_BACKOFF_DONE,  /* the restart backoff timer fired */
  MU_JM_E_FAIL,          /* stop for good: failed (why) */
  MU_JM_E_CANCEL,        /* stop for good: cancelled (why) */
  MU_JM_E_SUSPEND,       /* stop for good: suspended (why) */
  MU_JM_E_RESUME,        /* a suspended job is started again */
  MU_JM_E_DISCARD,       /* a job that could not be set up, never ran */
  MU_JM_E_RESTORE,       /* the journal's state (restore) */
  /* service (J9) */
  MU_JM_E_REPLICA_START  /* a service replica's workers started again */
} mu_jm_event_type_t;
#define MU_JM_NEVENTS 14

/* What a failure is charged to (J1). */
typedef enum mu_jm_charge {
  MU_JM_CHARGE_NONE = 0, /* not charged (ok exit, held, left on purpose) */
  MU_JM_CHARGE_USER,
  MU_JM_CHARGE_INFRA,
  MU_JM_CHARGE_SCALE /* recover without charge (capacity changed) */
} mu_jm_charge_t;

typedef struct mu_jm_event {
  mu_jm_event_type_t type;
  uint64_t now_ms;
  const char *why;    /* borrowed: the reason (failures, stops) */
  int resumable;      /* the job has a complete checkpoint now (J5) */
  /* ROUND_CLOSED */
  uint64_t epoch, world, live;
  /* WORKER_EXIT, RECOVER, NODE_LOST */
  int ok;             /* WORKER_EXIT: exited 0 */
  int counted;        /* WORKER_EXIT: its node still counted it live */
  mu_jm_charge_t charge;
  int64_t exit_code, signal; /* the failure's, for J5 */
  uint64_t live_lost; /* NODE_LOST: its workers still counted live */
  int was_member;     /* NODE_LOST: a member of the running epoch */
  int cordoned;       /* NODE_LOST: it had left the rendezvous already */
  /* RESTORE */
  mu_job_state_t state, final_state;
  uint64_t restarts, user_failures, infra_failures, ok_exits;
  int exit_code_final;
  /* service (J9): WORKER_EXIT of a service replica; REPLICA_START uses
   * `live` (its workers started again) */
  int replica;
} mu_jm_event_t;

typedef enum mu_jm_action {
  MU_JM_D_JOURNAL_EXIT = 0, /* journal the worker exit (mu_jhook_exit) */
  MU_JM_D_RECOVER,       /* a recovery begins: epoch reason = why, journal
                            it, log it, reset the KV store */
  MU_JM_D_OPEN_ROUND,    /* state is RENDEZVOUS: journal, open a round
                            (reform: 0 = first, with last call) */
  MU_JM_D_START_EPOCH,   /* state is RUNNING: send job.start to members */
  MU_JM_D_RECOVERING,    /* state is RECOVERING: journal, job.stop
                            (recover) to every member */
  MU_JM_D_STOPPING,      /* state is STOPPING: reason = out.reason,
                            journal, stop timers and KV; job.stop to the
                            live members when stop_workers */
  MU_JM_D_ARM_BACKOFF,   /* call back with BACKOFF_DONE in `ms` */
  MU_JM_D_FINISH,        /* the job ended in `state` with exit_code:
                            job.done to its nodes, journal, release */
  /* service (J9) */
  MU_JM_D_RESTART_REPLICA /* restart the failed replica alone after `ms`
                             (kind: what it was charged to) */
} mu_jm_action_t;

typedef struct mu_jm_decision {
  mu_jm_action_t action;
  mu_job_state_t state; /* FINISH */
  int exit_code;        /* FINISH */
  int reform;           /* OPEN_ROUND */
  int stop_workers;     /* STOPPING */
  mu_jm_charge_t kind;  /* RECOVER */
  uint64_t ms;          /* ARM_BACKOFF */
} mu_jm_decision_t;

#define MU_JM_MAX_DECISIONS 6
typedef struct mu_jm_out {
  mu_jm_decision_t d[MU_JM_MAX_DECISIONS];
  size_t n;
  const char *reason; /* the reason of RECOVER / STOPPING: the event's why
                         or `text`; valid until the next feed */
  char text[512];
} mu_jm_out_t;

/* The machine's state.  It is a list of fields so that mu_job_t can hold
 * them both as `jm` (what the machine is given) and, through an anonymous
 * struct of the same fields in a union, under their old names (j->state,
 * j->epoch, ...), which the coordinator's files read.  Only the machine
 * assigns them. */
#define MU_JM_FIELDS                                                       \
  mu_job_state_t state;                                                    \
  mu_job_state_t final_state; /* where STOPPING ends */                    \
  uint64_t epoch;             /* running (or last) epoch */                \
  uint64_t world;                                                          \
  uint64_t ok_exits;          /* workers of `epoch` that exited 0 */       \
  uint64_t live;              /* workers of `epoch` not yet exited */      \
  uint64_t restarts;          /* restarts so far (all kinds) */            \
  uint64_t user_failures;                                                  \
  uint64_t infra_failures;                                                 \
  uint64_t max_restarts;      /* user budget (spec.max_restarts) */        \
  uint64_t infra_budget;      /* infrastructure budget */                  \
  int in_place;               /* elastic_mode == in-place */               \
  int final_exit_code;        /* -1 until finished */                      \
  int fail_exit;              /* J5: exit code of the epoch's first        \
                                 failure; 0 = none yet */                  \
  int resumable;              /* a suspended job has a checkpoint */       \
  uint64_t state_since_ms;    /* when `state` was entered */

typedef struct mu_jm {
  MU_JM_FIELDS
} mu_jm_t;

/* A machine in PENDING with the given budgets (infra_budget 0 = the
 * default).  Never fails. */
void mu_jm_init (mu_jm_t *m, uint64_t max_restarts, uint64_t infra_budget,
                 int in_place);

/* Feed one event; `out` receives the decisions to carry out, in order.
 * 0, or MUSTER_EINVAL (J8). */
int mu_jm_feed (mu_jm_t *m, const mu_jm_event_t *ev, mu_jm_out_t *out);

/* The rule the table holds for (state, event): its handler's name as the
 * header writes it, or NULL when the event is ignored in that state. */
const char *mu_jm_rule (mu_job_state_t s, mu_jm_event_type_t e);

const char *mu_job_state_name (mu_job_state_t s);
const char *mu_jm_event_name (mu_jm_event_type_t e);
const char *mu_jm_action_name (mu_jm_action_t a);

/* Backoff before the round after `restarts` restarts (J3). */
uint64_t mu_jm_backoff_ms (uint64_t restarts);

#endif
