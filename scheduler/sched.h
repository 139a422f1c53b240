/*
 * sched.h — the gang scheduler of musterd, as a pure library: which job runs
 * where, which waits and why, and which lower-priority work gives way.
 *
 * Inputs are events (nodes come, change, are cordoned, drained or lost;
 * jobs are submitted, cancelled, finish, are scaled; the caller acks what it
 * carried out); outputs are decisions (place, grow, shrink, suspend, resume,
 * reject).  There are no sockets, no clocks and no threads: the caller passes
 * the submit time into mu_sched_submit() and calls mu_sched_tick() when it
 * wants a scheduling pass (after a batch of events), so every rule is
 * unit-testable and a journal of the inputs replays to the same decisions.
 *
 * Model.  A node has slots, labels (key=value) and a state: ready, cordoned
 * (no new work), draining (no new work and its work moves away); a lost node
 * is removed.  A job has a tenant, a priority (higher first), a submit time,
 * a kind (gang, ps, service), an elastic flag and up to MU_SCHED_MAX_ROLES
 * roles, each with min..max replicas, slots per replica and a node label
 * selector.  A replica is `slots` slots on one node; several replicas of a
 * job may share a node.
 *
 * Rules (docs/scheduler.md explains them with examples; decisions 45-49 in
 * docs/architecture.md):
 *  S1 Queue.  Jobs that want capacity are served in order of priority
 *     (higher first), then submit time (earlier first), then submission
 *     order.  A job that cannot be served does not block the ones behind it
 *     (backfill): they may use free slots, and remain preemptible by it.
 *  S2 Gang.  A job is admitted all-or-nothing: every role at its min in one
 *     pass, or nothing.  A running job never has a role below its min: if a
 *     lost node or a drain takes replicas away, the tick places replacements
 *     or suspends the job (it re-enters the queue).
 *  S3 Elastic growth.  Once no job waits for capacity (waiting for a quota
 *     does not count), running elastic jobs grow toward max, by priority,
 *     with free slots only.  A service grows (or shrinks) toward its target
 *     (mu_sched_scale), and that growth is a demand served in S1 order with
 *     the service's priority, so it may preempt.
 *  S4 Packing.  Replicas of a role go first to nodes already holding the
 *     job, then to nodes sharing the job's topology labels (opts.topology,
 *     most specific first: rack before zone), then to the node taking the
 *     most of the replicas still needed, then the one left fullest (best
 *     fit), then the lowest node index.  Roles are placed largest replica
 *     first.
 *  S5 Preemption.  A demand that does not fit may evict strictly
 *     lower-priority work: first shrink elastic jobs toward their min, then
 *     suspend whole jobs (checkpoint-and-suspend), lowest priority first,
 *     newest first among equals.  Victims are added one at a time until the
 *     demand fits, then every victim whose eviction is not needed is dropped
 *     again, latest first: no decision is made unless the evictions make the
 *     demand fit, and none is pointless.  A job is never shrunk below its
 *     min; below it, it is suspended whole.
 *  S6 Asynchrony.  A shrink or suspend takes effect when the caller acks it
 *     (mu_sched_ack_shrunk / _suspended); until then its slots stay used.
 *     Freed slots, and the free slots the demand's plan counted on, are
 *     reserved for the job that caused the preemption: no other job may
 *     use them, and the reservation ends when that job is placed or leaves,
 *     or when a demand of higher priority does not fit without it.
 *     A suspended job re-enters the queue with its original submit time and
 *     is resumed (MU_SCHED_RESUME, then its placements) when it fits.
 *  S7 Quotas.  A tenant's jobs never hold more slots than its quota
 *     (mu_sched_quota_set; 0 = unlimited).  A job whose minimum alone
 *     exceeds its tenant's quota is rejected at submit (MUSTER_EQUOTA, with
 *     the figures); one that fits the quota but not the tenant's current use
 *     waits with that reason.  A quota lowered below a queued job's minimum
 *     rejects it at the next tick (MU_SCHED_REJECT).
 *  S8 Reasons.  A job that waits always has a reason, e.g. "role worker
 *     needs 8 slots (2 x 4) on nodes with zone=a: 3 free on 2 nodes; 4 held
 *     by job x (priority 10) of equal or higher priority".
 *
 * Cost: a tick is O(demands x matching nodes) plus sorting the queue;
 * events are O(1) except node removal and job end (O(their allocations)).
 */
#ifndef MU_SCHED_H
#define MU_SCHED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MU_SCHED_MAX_ROLES 8
#define MU_SCHED_MAX_LABELS 16 /* per node, and per role selector */
#define MU_SCHED_MAX_TOPOLOGY 4
#define MU_SCHED_NAME_MAX 64
#define MU_SCHED_REASON_MAX 320

typedef struct mu_sched mu_sched_t;

typedef enum mu_sched_kind
{
  MU_SCHED_GANG = 0,
  MU_SCHED_PS,
  MU_SCHED_SERVICE
} mu_sched_kind_t;

typedef enum mu_sched_node_state
{
  MU_SCHED_NODE_READY = 0,
  MU_SCHED_NODE_CORDONED,
  MU_SCHED_NODE_DRAINING
} mu_sched_node_state_t;

/* One role of a job.  Labels are "key=value" strings (borrowed). */
typedef struct mu_sched_role
{
  const char *name;
  uint32_t min, max;           /* replicas, 0 <= min <= max, max >= 1 */
  uint32_t slots;              /* per replica, >= 1 */
  uint32_t target;             /* services: wanted replicas (0 = min) */
  const char *const *selector; /* labels a node must all carry */
  size_t nselector;
} mu_sched_role_t;

typedef struct mu_sched_job
{
  const char *id;
  const char *tenant; /* NULL = "default" */
  int64_t priority;
  mu_sched_kind_t kind;
  bool elastic;
  const mu_sched_role_t *roles;
  size_t nroles;
} mu_sched_job_t;

typedef struct mu_sched_opts
{
  /* Topology label keys for packing, most specific first (S4); NULL =
   * {"rack", "zone"}. */
  const char *const *topology;
  size_t ntopology;
} mu_sched_opts_t;

typedef enum mu_sched_action
{
  MU_SCHED_PLACE = 1, /* start `replicas` of job/role on node (admission) */
  MU_SCHED_GROW,      /* the same for a running job growing */
  MU_SCHED_SHRINK,    /* stop `replicas` of job/role on node, then ack */
  MU_SCHED_SUSPEND,   /* checkpoint and stop the whole job, then ack */
  MU_SCHED_RESUME,    /* a suspended job starts again: its PLACEs follow */
  MU_SCHED_REJECT     /* the job left the queue for good (reason) */
} mu_sched_action_t;

/* Strings point into the scheduler and stay valid until the next call that
 * changes it. */
typedef struct mu_sched_decision
{
  mu_sched_action_t action;
  const char *job;
  const char *role;    /* PLACE, GROW, SHRINK */
  const char *node;    /* PLACE, GROW, SHRINK */
  uint32_t replicas;   /* PLACE, GROW, SHRINK */
  uint32_t slots;      /* replicas x slots per replica */
  const char *for_job; /* SHRINK, SUSPEND: the job it makes room for, or NULL */
  const char *reason;  /* SUSPEND, SHRINK, REJECT: why */
} mu_sched_decision_t;

typedef enum mu_sched_job_state
{
  MU_SCHED_JOB_PENDING = 1, /* queued, never run */
  MU_SCHED_JOB_SUSPENDED,   /* queued again after a suspension */
  MU_SCHED_JOB_RUNNING,     /* placed (some placements may await their ack) */
  MU_SCHED_JOB_SUSPENDING   /* suspend decided, ack awaited */
} mu_sched_job_state_t;

typedef struct mu_sched_job_view
{
  mu_sched_job_state_t state;
  const char *reason;                    /* "" when running normally */
  uint32_t replicas[MU_SCHED_MAX_ROLES]; /* held per role */
  uint32_t slots;                        /* slots held, all roles */
  uint32_t freeing;  /* slots being released for it (S6), not yet acked */
  uint32_t reserved; /* slots released or free, reserved for it */
} mu_sched_job_view_t;

typedef struct mu_sched_node_view
{
  mu_sched_node_state_t state;
  uint32_t slots;
  uint32_t used;     /* held by allocations, including ones being released */
  uint32_t reserved; /* freed and kept for a preempting job (S6) */
} mu_sched_node_view_t;

/* Create an empty scheduler; NULL on allocation failure.  opts may be NULL.
 * Caller owns the return value and must destroy it. */
mu_sched_t *mu_sched_new (const mu_sched_opts_t *opts);
/* Destroy; accepts NULL and sets *s_p to NULL. */
void mu_sched_destroy (mu_sched_t **s_p);

/* ---------------------------------------------------------------- events
 * Every event returns 0 or a negative code (MUSTER_EINVAL, MUSTER_EEXIST,
 * MUSTER_ENOTFOUND, MUSTER_EQUOTA, -ENOMEM) with a message in err when err
 * is not NULL. */

/* A node offers `slots` slots with these labels ("key=value"). */
int mu_sched_node_add (mu_sched_t *s, const char *node, uint32_t slots,
                       const char *const *labels, size_t nlabels, char *err,
                       size_t errlen);
/* New slots or labels for a node.  Slots below what it holds are refused
 * (drain it first). */
int mu_sched_node_update (mu_sched_t *s, const char *node, uint32_t slots,
                          const char *const *labels, size_t nlabels, char *err,
                          size_t errlen);
/* The node is gone (lost or left): its allocations vanish at once. */
int mu_sched_node_remove (mu_sched_t *s, const char *node);
/* Cordon (no new work), uncordon (ready again) or drain (no new work; the
 * next tick moves its work away). */
int mu_sched_node_set_state (mu_sched_t *s, const char *node,
                             mu_sched_node_state_t state);

/* Set a tenant's quota in slots (0 = unlimited). */
int mu_sched_quota_set (mu_sched_t *s, const char *tenant, uint32_t slots);

/* Queue a job (copied).  now_ms is its submit time (queue order). */
int mu_sched_submit (mu_sched_t *s, const mu_sched_job_t *job, uint64_t now_ms,
                     char *err, size_t errlen);
/* The job ends (cancelled, succeeded or failed): everything it holds or
 * has reserved is freed at once. */
int mu_sched_job_end (mu_sched_t *s, const char *job);
/* Services: set a role's target replicas (min..max). */
int mu_sched_scale (mu_sched_t *s, const char *job, const char *role,
                    uint32_t target, char *err, size_t errlen);

/* New replicas min..max of a role (a scale of any job).  A running job
 * above the new max is shrunk to it by the next tick, one below the new
 * min is repaired (S2: grown, or suspended); a service's target is
 * clamped into the range.  0, MUSTER_ENOTFOUND or MUSTER_EINVAL. */
int mu_sched_set_range (mu_sched_t *s, const char *job, const char *role,
                        uint32_t min, uint32_t max, char *err, size_t errlen);

/* The caller carried out the PLACE/GROW decisions of job/role on node (ok),
 * or could not (!ok: the replicas are released; the next tick repairs the
 * job).  One ack covers every replica decided there; acking again is 0. */
int mu_sched_ack_placed (mu_sched_t *s, const char *job, const char *role,
                         const char *node, bool ok);
/* The replicas a SHRINK of job/role stopped on node are down.  Several
 * SHRINKs of one place are acked one by one, oldest first. */
int mu_sched_ack_shrunk (mu_sched_t *s, const char *job, const char *role,
                         const char *node);
/* A SUSPENDed job is checkpointed and stopped: it re-enters the queue. */
int mu_sched_ack_suspended (mu_sched_t *s, const char *job);

/* One scheduling pass.  *out receives the decisions (valid until the next
 * call that changes s); returns their number. */
size_t mu_sched_tick (mu_sched_t *s, const mu_sched_decision_t **out);

/* --------------------------------------------------------------- queries */

int mu_sched_job_query (const mu_sched_t *s, const char *job,
                        mu_sched_job_view_t *out);
int mu_sched_node_query (const mu_sched_t *s, const char *node,
                         mu_sched_node_view_t *out);
/* Slots a tenant's jobs hold now. */
uint32_t mu_sched_tenant_used (const mu_sched_t *s, const char *tenant);

const char *mu_sched_action_name (mu_sched_action_t a);
const char *mu_sched_job_state_name (mu_sched_job_state_t st);

#endif
