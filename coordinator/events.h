/*
 * events.h — the coordinator's event log: what happened to every job, in
 * order, with a timestamp.
 *
 * Every state change of a job (a rendezvous round opened or closed, an
 * epoch started, a worker exited and why, a node joined, left or was lost,
 * a checkpoint requested, committed or aborted, a preemption, a resume,
 * the job stopping and finishing) becomes one event.  The log gives each a
 * global sequence number (1, 2, ...; never reused within one coordinator
 * incarnation) and keeps:
 *
 *   - a global ring of the newest `ring_cap` events (what `muster events`
 *     and ctl.events serve), and
 *   - per job, the newest `job_cap` events of that job, kept after the job
 *     finished for the `finished_keep` newest finished jobs (what `muster
 *     timeline JOB` draws, also long after the global ring moved on).
 *
 * A subscriber asks for the events after the last sequence number it saw;
 * mu_evlog_dropped_through() says up to which sequence number events of a
 * scope were dropped, so a subscriber whose `since` is below it knows it
 * missed some (a gap) and re-syncs from ctl.status.
 *
 * The log is a plain data structure: no clock, no I/O (the caller stamps
 * time_us).  events_hooks.c builds events from jobs; events_serve.c
 * answers ctl.events.  The log is not journaled (docs/architecture.md,
 * decision 57): a restarted coordinator starts a new log under a new
 * session id.
 */
#ifndef MU_EVENTS_H
#define MU_EVENTS_H

#include <stddef.h>
#include <stdint.h>

/* X(ENUM, "wire name", "meaning") — the kinds of event, in docs order. */
#define MU_EV_KINDS(X)                                                        \
  X (COORD_STARTED, "coord.started", "a coordinator incarnation began")      \
  X (JOB_CREATED, "job.created", "a job was created (submitted or brought)") \
  X (JOB_RESTORED, "job.restored", "a job came back from the journal")       \
  X (ROUND_OPENED, "rdzv.opened", "a rendezvous round opened")               \
  X (NODE_JOINED, "node.joined", "a node joined the job's rendezvous")       \
  X (ROUND_CLOSED, "rdzv.closed", "the round closed: an epoch begins")       \
  X (ROUND_FAILED, "rdzv.failed", "the round timed out below min")           \
  X (EPOCH_STARTED, "epoch.started", "workers of a new epoch started")       \
  X (WORKER_EXITED, "worker.exited", "a worker exited (cause ok/user/infra)") \
  X (NODE_LOST, "node.lost", "a member node was lost (infrastructure)")      \
  X (NODE_LEFT, "node.left", "a member node left on purpose")                \
  X (RECOVERING, "job.recovering", "the epoch ends; the job goes on")        \
  X (CKPT_REQUESTED, "ckpt.requested", "a checkpoint of a step was asked")   \
  X (CKPT_COMMITTED, "ckpt.committed", "a checkpoint's manifest was written") \
  X (CKPT_ABORTED, "ckpt.aborted", "a checkpoint attempt ended uncommitted") \
  X (PREEMPT_REQUESTED, "preempt.requested", "checkpoint, then suspend")     \
  X (RESUMED, "job.resumed", "a suspended job runs again")                   \
  X (STOPPING, "job.stopping", "the job is stopping for good")               \
  X (JOB_FINISHED, "job.finished", "the job reached a final state")         \
  X (SCHED_PLACED, "sched.placed", "the scheduler placed a replica on a node") \
  X (SCHED_PREEMPTED, "sched.preempted", "shrunk or suspended for a job")    \
  X (SCHED_RESUMED, "sched.resumed", "the scheduler resumed a suspended job") \
  X (SCHED_REJECTED, "sched.rejected", "the scheduler rejected the job")

typedef enum mu_ev_kind {
  MU_EV_NONE = 0,
#define MU_EV_ENUM(e, name, doc) MU_EV_##e,
  MU_EV_KINDS (MU_EV_ENUM)
#undef MU_EV_ENUM
  MU_EV_NKINDS
} mu_ev_kind_t;

/* Wire name of a kind ("?" if out of range). */
const char *mu_ev_kind_name (mu_ev_kind_t k);
/* Kind of a wire name; MU_EV_NONE if unknown. */
mu_ev_kind_t mu_ev_kind_of (const char *name);

/* One node of an epoch: its ranks are first_rank .. first_rank+nproc-1. */
typedef struct mu_ev_member {
  char *node;
  uint64_t first_rank;
  uint64_t nproc;
} mu_ev_member_t;

/* At most this many members are kept in an epoch.started event. */
#define MU_EV_MAX_MEMBERS 4096

typedef struct mu_event {
  uint64_t seq;        /* assigned by mu_evlog_append */
  uint64_t time_us;    /* wall clock, stamped by the caller */
  mu_ev_kind_t kind;
  char *job;           /* NULL: not about one job */
  uint32_t owner_uid;  /* the job's owner (who may read the event) */
  uint64_t epoch;
  char *node;          /* NULL: none */
  int64_t rank;        /* -1: none */
  uint64_t world;
  uint64_t step;
  int64_t code;        /* worker exit status; job exit code */
  int64_t signal;
  char *cause;         /* ok | user | infra | scale | preempt | request ... */
  char *state;         /* job state (job.finished) or worker state */
  char *detail;        /* a sentence for a person */
  mu_ev_member_t *members; /* epoch.started: the nodes, in node-rank order */
  size_t nmembers;
  void *mem;           /* the log's: the allocation holding a copy's strings
                          and members (NULL in events handed to the log) */
} mu_event_t;

typedef struct mu_evlog mu_evlog_t;

typedef struct mu_evlog_opts {
  size_t ring_cap;      /* global ring; 0 = MU_EVLOG_RING_DEFAULT */
  size_t job_cap;       /* per job; 0 = MU_EVLOG_JOB_DEFAULT */
  size_t finished_keep; /* finished jobs whose events are kept; 0 = 64 */
} mu_evlog_opts_t;

#define MU_EVLOG_RING_DEFAULT 16384
#define MU_EVLOG_JOB_DEFAULT 4096

/* A new, empty log (opts may be NULL).  0 or -ENOMEM; the caller owns
 * *out (mu_evlog_destroy). */
int mu_evlog_new (const mu_evlog_opts_t *opts, mu_evlog_t **out);
/* Free the log and every event in it.  Accepts NULL and a pointer to
 * NULL; sets *log_p to NULL. */
void mu_evlog_destroy (mu_evlog_t **log_p);

/* Append a copy of *ev (strings and members copied; ev->seq ignored),
 * giving it the next sequence number (in *seq when seq != NULL).  The
 * oldest event of a full ring is dropped.  A job.finished event (or a
 * job.restored in a final state) marks its job finished; past
 * finished_keep finished jobs, the oldest finished job's events are
 * forgotten; any other event of a finished job marks it live again.  A job.created event of a job id already
 * held starts that job's list afresh (a new run of the id).  0 or
 * -ENOMEM (nothing appended). */
int mu_evlog_append (mu_evlog_t *log, const mu_event_t *ev, uint64_t *seq);

/* The highest sequence number given so far (0: none). */
uint64_t mu_evlog_last_seq (const mu_evlog_t *log);
/* The highest sequence number dropped from the scope (the global ring
 * when job is NULL, else that job's list); 0 = nothing dropped.  A reader
 * that saw everything up to `since` missed events when since < this. */
uint64_t mu_evlog_dropped_through (const mu_evlog_t *log, const char *job);
/* Is a list held for this job? */
int mu_evlog_has_job (const mu_evlog_t *log, const char *job);

/* Accept an event for a reader (authorization, kind filters): non-zero =
 * take it. */
typedef int (*mu_evlog_filter_fn) (const mu_event_t *ev, void *arg);

/* Up to `max` events of the scope (job NULL: the global ring) with seq >
 * since that `filter` accepts (NULL: all), oldest first, into out[]
 * (pointers into the log, valid until the next append or destroy).
 * *next is the sequence number to ask from next time: everything up to it
 * was considered.  Returns how many were stored. */
size_t mu_evlog_collect (const mu_evlog_t *log, const char *job,
                         uint64_t since, size_t max, mu_evlog_filter_fn filter,
                         void *arg, const mu_event_t **out, uint64_t *next);

/* Events held in the scope (job NULL: the global ring). */
size_t mu_evlog_count (const mu_evlog_t *log, const char *job);

#endif
