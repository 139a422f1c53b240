/*
 * rdzv.h — the rendezvous state machine of one job, as a pure library.
 *
 * Inputs are events (a node joins, a node leaves, time passes, the
 * coordinator opens a round); outputs are decisions (the round closed as
 * epoch E, the round failed, a resize is wanted).  There are no sockets, no
 * clocks and no allocation after a join is accepted beyond the member
 * tables: the caller passes `now_ms` into every event and calls
 * mu_rdzv_tick() by the deadline each decision returns.  That makes every
 * rule unit-testable and lets the coordinator replay a journal into it.
 *
 * Rules (DESIGN.md, "State, epochs and ranks"):
 *  - A job has roles, each with min:max nodes and processes per node.
 *  - mu_rdzv_open() opens a round for epoch E+1.  Members of the previous
 *    closed round that have not left are carried into it automatically, then
 *    waiting nodes are admitted in arrival order while their role is below
 *    max.
 *  - The round closes at once when every role is at max; when every role is
 *    at or above min it closes `last_call_ms` after that first became true
 *    (0 = at once); if not every role reached min `join_timeout_ms` after
 *    the round opened, the round fails (0 = never).
 *  - A node joining an open round whose role is at max goes to the waiting
 *    list.  A node joining while the round is closed goes to the waiting
 *    list too; if its role is below max the decision is MU_RDZV_D_RESIZE
 *    (the coordinator decides whether to open a new round to scale up).
 *  - A member leaving a closed round yields MU_RDZV_D_MEMBER_LEFT, or
 *    MU_RDZV_D_BELOW_MIN when its role is now below min; the coordinator
 *    reacts by opening a new round.  Leaving the waiting list just removes
 *    the node; leaving an open round removes it, lets the oldest waiting
 *    node of its role take the place, and disarms last call if the role is
 *    still below min.
 *  - Ranks are deterministic and stable.  Within a role, nodes carried over
 *    keep their relative order and newcomers follow in join order.  Global
 *    order is role by role in declaration order; node ranks follow the same
 *    order; a node's workers have contiguous global and role ranks.
 *  - R8 (static rendezvous, torchrun's --node_rank): a node may join with a
 *    rank hint.  Within its role's round, hinted nodes are ordered by hint,
 *    before the nodes without one (which keep join order), so nodes that
 *    all give hints 0..N-1 get exactly those node ranks.  Carried-over
 *    members keep their order, as above.
 *
 * Node keys are the caller's small integer ids for nodes (the coordinator's
 * node table index); a key may be reused once the node has left.
 *
 * Cost: join, leave and tick are O(1) amortised (hash lookups); only closing
 * a round is O(members).
 */
#ifndef MU_RDZV_H
#define MU_RDZV_H

#include <stddef.h>
#include <stdint.h>

#define MU_RDZV_MAX_ROLES 16
#define MU_RDZV_ROLE_NAME_MAX 64

typedef struct mu_rdzv mu_rdzv_t;

typedef struct mu_rdzv_role {
  char name[MU_RDZV_ROLE_NAME_MAX];
  uint32_t min_nodes; /* >= 0; a role with min 0 is optional */
  uint32_t max_nodes; /* >= min_nodes, >= 1 */
  uint32_t nproc;     /* default processes per node, >= 1 */
} mu_rdzv_role_t;

typedef struct mu_rdzv_opts {
  const mu_rdzv_role_t *roles; /* copied by mu_rdzv_new */
  size_t nroles;               /* 1..MU_RDZV_MAX_ROLES */
  uint64_t last_call_ms;
  uint64_t join_timeout_ms;
} mu_rdzv_opts_t;

typedef enum mu_rdzv_state {
  MU_RDZV_IDLE = 0, /* no round opened yet */
  MU_RDZV_OPEN,     /* collecting joins for epoch `epoch` */
  MU_RDZV_CLOSED,   /* epoch `epoch` formed; members fixed */
  MU_RDZV_FAILED    /* the last round timed out below min */
} mu_rdzv_state_t;

typedef enum mu_rdzv_action {
  MU_RDZV_D_NONE = 0,
  MU_RDZV_D_CLOSED,      /* the round closed: epoch formed, read members */
  MU_RDZV_D_FAILED,      /* join timeout passed with a role below min */
  MU_RDZV_D_RESIZE,      /* closed round, a waiting node could be added */
  MU_RDZV_D_MEMBER_LEFT, /* a member of the closed round left, still >= min */
  MU_RDZV_D_BELOW_MIN    /* a member left and its role is now below min */
} mu_rdzv_action_t;

typedef struct mu_rdzv_decision {
  mu_rdzv_action_t action;
  uint64_t epoch;       /* the round's epoch (current after the event) */
  uint64_t deadline_ms; /* call mu_rdzv_tick at this time; 0 = no timer */
} mu_rdzv_decision_t;

/* One node of a closed round, in node-rank order. */
typedef struct mu_rdzv_member {
  uint32_t key;
  uint32_t role;            /* index into the roles */
  uint32_t nproc;           /* workers on the node */
  uint32_t node_rank;       /* position in the global order */
  uint64_t first_rank;      /* global rank of its local rank 0 */
  uint64_t role_first_rank; /* role rank of its local rank 0 */
} mu_rdzv_member_t;

/* Progress of an open round, for display. */
typedef struct mu_rdzv_status {
  mu_rdzv_state_t state;
  uint64_t epoch;
  uint32_t joined;         /* nodes in the round */
  uint32_t min_nodes;      /* sum over roles */
  uint32_t max_nodes;      /* sum over roles */
  uint32_t waiting;        /* nodes on the waiting list */
  int64_t last_call_left;  /* ms until last call closes the round, -1 if not armed */
  int64_t join_left;       /* ms until the join timeout, -1 if none */
} mu_rdzv_status_t;

/* Create a state machine in MU_RDZV_IDLE.  Returns 0 or MUSTER_EINVAL (bad
 * roles: none, too many, min > max, max == 0, nproc == 0, empty or duplicate
 * name) or -ENOMEM.  *out is owned by the caller: mu_rdzv_destroy(). */
int mu_rdzv_new (const mu_rdzv_opts_t *opts, mu_rdzv_t **out);

/* Destroy; accepts NULL and a pointer to NULL; sets *r_p to NULL. */
void mu_rdzv_destroy (mu_rdzv_t **r_p);

/* Open a new round (epoch + 1), carrying over members and admitting waiting
 * nodes as described above.  May close at once (MU_RDZV_D_CLOSED).  Valid in
 * any state; reopening an open round restarts its timers. */
int mu_rdzv_open (mu_rdzv_t *r, uint64_t now_ms, mu_rdzv_decision_t *d);

/* Open a round whose last call is `last_call_ms` instead of the configured
 * one (rounds opened later with mu_rdzv_open use the configured one).  The
 * coordinator re-forms a gang after a failure with 0: everyone it expects
 * is already there, so waiting would only delay the restart. */
int mu_rdzv_open_ex (mu_rdzv_t *r, uint64_t now_ms, uint64_t last_call_ms,
                     mu_rdzv_decision_t *d);

/* A node asks to take part, under role index `role`, with `nproc` workers
 * (0 = the role's default).  Returns MUSTER_EEXIST if the key is already a
 * member or waiting, MUSTER_EINVAL for a bad role.  In MU_RDZV_IDLE or
 * MU_RDZV_FAILED the node is put on the waiting list. */
int mu_rdzv_join (mu_rdzv_t *r, uint64_t now_ms, uint32_t key, uint32_t role,
                  uint32_t nproc, mu_rdzv_decision_t *d);

#define MU_RDZV_NO_HINT UINT32_MAX
/* mu_rdzv_join with a requested node rank within the role (R8);
 * MU_RDZV_NO_HINT = none, as mu_rdzv_join. */
int mu_rdzv_join_ranked (mu_rdzv_t *r, uint64_t now_ms, uint32_t key,
                         uint32_t role, uint32_t nproc, uint32_t rank_hint,
                         mu_rdzv_decision_t *d);

/* A node is gone (lost, drained, cordoned).  MUSTER_ENOTFOUND if unknown. */
int mu_rdzv_leave (mu_rdzv_t *r, uint64_t now_ms, uint32_t key,
                   mu_rdzv_decision_t *d);

/* Time passed: fire last call or join timeout if due. */
int mu_rdzv_tick (mu_rdzv_t *r, uint64_t now_ms, mu_rdzv_decision_t *d);

/* Restore (journal replay): put a fresh machine (MU_RDZV_IDLE, no node
 * joined) back where a coordinator left it.  With n == 0 only the epoch
 * counter is set: the next round opened is epoch + 1.  With members (node
 * keys, roles and nproc, in node-rank order) the machine is CLOSED as
 * `epoch` with them, ranks assigned by the usual rules (the same order
 * gives the same ranks).  0, or MUSTER_EINVAL (not fresh, a bad role, a
 * role over its max), MUSTER_EEXIST (a key twice), -ENOMEM. */
int mu_rdzv_restore (mu_rdzv_t *r, uint64_t epoch,
                     const mu_rdzv_member_t *members, size_t n);

/* R9 (scaling, ctl.scale): give role `role` a new node range.  The nodes
 * in its round must already fit (remove surplus members with
 * mu_rdzv_leave first): MUSTER_EINVAL if min > max, max == 0, or the round
 * holds more than max nodes.  An open round admits waiting nodes up to the
 * new max and may close (MU_RDZV_D_CLOSED); a closed round with waiting
 * nodes of the role and room for them yields MU_RDZV_D_RESIZE. */
int mu_rdzv_set_range (mu_rdzv_t *r, uint64_t now_ms, uint32_t role,
                       uint32_t min_nodes, uint32_t max_nodes,
                       mu_rdzv_decision_t *d);

/* --- queries (no side effects) */
mu_rdzv_state_t mu_rdzv_state (const mu_rdzv_t *r);
uint64_t mu_rdzv_epoch (const mu_rdzv_t *r);
/* Members of the last closed round in node-rank order; valid until the next
 * event.  *n receives the count.  Empty before the first close. */
const mu_rdzv_member_t *mu_rdzv_members (const mu_rdzv_t *r, size_t *n);
uint64_t mu_rdzv_world (const mu_rdzv_t *r);               /* workers */
uint64_t mu_rdzv_role_world (const mu_rdzv_t *r, uint32_t role,
                             uint32_t *nodes);             /* workers, nodes */
const mu_rdzv_role_t *mu_rdzv_role (const mu_rdzv_t *r, uint32_t role);
size_t mu_rdzv_nroles (const mu_rdzv_t *r);
/* Is `key` a member of the closed round, in the open round, waiting? */
int mu_rdzv_is_member (const mu_rdzv_t *r, uint32_t key);
int mu_rdzv_is_waiting (const mu_rdzv_t *r, uint32_t key);
/* Every node the machine holds (in a round or waiting), one per call:
 * start with *pos = 0; returns 1 and sets *key (and *waiting, if not NULL,
 * to whether it waits), or 0 when done.  O(nodes it ever held), so a
 * caller that acts on one job's nodes need not scan every node (mem). */
int mu_rdzv_next_key (const mu_rdzv_t *r, uint32_t *pos, uint32_t *key,
                      int *waiting);
void mu_rdzv_get_progress (const mu_rdzv_t *r, uint64_t now_ms,
                           mu_rdzv_status_t *p);

#endif
