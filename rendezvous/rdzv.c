/*
 * rdzv.c — the rendezvous state machine of one job (rules in rdzv.h).
 *
 * DESIGN.  Every node the machine knows is a record in a pool (an array
 * indexed by uint32_t, with a free list), found from its key through an
 * open-addressing hash map (linear probing, backward-shift deletion, so there
 * are no tombstones and lookups stay short however much churn there is).  A
 * record sits on exactly one intrusive doubly-linked list:
 *
 *   - its role's round list: the nodes of the open round, or the surviving
 *     members of the closed round (in node-rank order), or the nodes enrolled
 *     in a round that failed; or
 *   - its role's waiting list, in arrival order.
 *
 * So join and leave are a hash lookup plus a list splice, and the machine
 * knows in O(1) whether the round may close: it counts the roles below min
 * and the roles at max as nodes come and go.  Closing walks the round lists
 * once, role by role, and writes the member table with every rank; that is
 * the only O(members) step, and opening is O(members + admitted).  Every
 * allocation happens in mu_rdzv_join before any state changes (the member
 * table grows with the pool), so no event can fail half-way and close never
 * allocates.
 *
 * Timers fire only in mu_rdzv_tick: other events never fire a due timer, so
 * replaying a journal of events (ticks included) reproduces every decision.
 *
 * Rules the header leaves open (or, for R3 and R5, refines), decided here
 * the way an elastic launcher should behave:
 *
 *  R1 A round with no node in it never closes, even when every role has
 *     min 0; if its join timeout fires it fails.
 *  R2 A join timeout that fires when every role is at or above min (and the
 *     round is not empty) closes the round instead of failing it, even if
 *     last call has not yet expired: a round that can run is not thrown away.
 *  R3 When a node leaves an open round, the oldest waiting node of its role
 *     (there is one only when the role was at max) is admitted at once, in
 *     join order after the nodes already in.  Otherwise a waiting node could
 *     watch its role drop below min and the round fail for want of it.
 *  R4 The nodes enrolled in a round that failed stay enrolled
 *     (mu_rdzv_is_member is true for them) and carry over into the next
 *     round in their order, like a reopened round; leaving then yields NONE.
 *  R5 A join while closed yields MU_RDZV_D_RESIZE only if the next round
 *     would admit the node: its role's surviving members plus the nodes of
 *     that role already waiting are below max.  A second node for the last
 *     free place gets NONE, so the coordinator never bumps the epoch (and,
 *     in restart mode, restarts everyone) for a round that admits no one.
 *  R6 mu_rdzv_members, mu_rdzv_world and mu_rdzv_role_world describe the
 *     last closed epoch as it formed, until the next round closes: members
 *     leaving afterwards, or a new round opening, change mu_rdzv_is_member
 *     and mu_rdzv_epoch, not that history.
 *  R7 A NULL machine or decision pointer is MUSTER_EINVAL.  When an event
 *     fails, the decision (if any) is still filled: NONE, the current epoch
 *     and the pending deadline.
 */
#include "rendezvous/rdzv.h"

#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <muster/error.h>

#define NIL UINT32_MAX /* no node: end of a list, empty hash slot */
#define MIN_POOL 16u   /* initial pool capacity; hash capacity is twice it */

enum { NODE_FREE = 0, NODE_WAITING, NODE_ROUND };

typedef struct node {
  uint32_t key;
  uint32_t role;
  uint32_t nproc; /* resolved: never 0 */
  uint32_t where; /* NODE_* */
  uint32_t hint;  /* R8: requested node rank within the role, NIL = none */
  uint32_t prev;  /* list links; `next` also threads the free list */
  uint32_t next;
} node_t;

typedef struct list {
  uint32_t head;
  uint32_t tail;
  uint32_t n;
} list_t;

typedef struct role_state {
  mu_rdzv_role_t cfg;
  list_t round;         /* open round, closed survivors or failed round */
  list_t wait;          /* waiting for a place, arrival order */
  uint64_t closed_world; /* workers of this role at the last close */
  uint32_t closed_nodes; /* nodes of this role at the last close */
} role_state_t;

typedef struct slot {
  uint32_t key;
  uint32_t idx; /* NIL = empty */
} slot_t;

struct mu_rdzv {
  role_state_t roles[MU_RDZV_MAX_ROLES];
  uint32_t nroles;
  uint64_t last_call_ms;
  uint64_t join_timeout_ms;
  uint64_t round_lc_ms; /* last call of the open round (open_ex may override) */

  mu_rdzv_state_t state;
  uint64_t epoch;
  uint32_t nround;     /* nodes on all round lists */
  uint32_t nwait;      /* nodes on all waiting lists */
  uint32_t nbelow_min; /* roles whose round list is below min */
  uint32_t nat_max;    /* roles whose round list is at max */

  bool lc_armed;
  uint64_t lc_deadline;
  bool jt_armed;
  uint64_t jt_deadline;

  node_t *nodes; /* pool */
  uint32_t pool_cap;
  uint32_t pool_used; /* records ever handed out (high-water mark) */
  uint32_t free_head;

  slot_t *slots; /* hash map key -> pool index */
  uint32_t slot_mask;
  uint32_t nkeys;

  mu_rdzv_member_t *members; /* last closed round; capacity pool_cap */
  uint32_t nmembers;
  uint64_t world;
};

/* --- hash map: key -> pool index */

static uint32_t
hash_key (uint32_t k)
{
  /* murmur3's finaliser: dense and strided keys alike spread evenly. */
  k ^= k >> 16;
  k *= 0x85ebca6bu;
  k ^= k >> 13;
  k *= 0xc2b2ae35u;
  k ^= k >> 16;
  return k;
}

/* Slot holding `key`, or the empty slot where it would go. */
static uint32_t
hash_probe (const mu_rdzv_t *r, uint32_t key)
{
  uint32_t i = hash_key (key) & r->slot_mask;
  while (r->slots[i].idx != NIL && r->slots[i].key != key)
    i = (i + 1) & r->slot_mask;
  return i;
}

static uint32_t
hash_find (const mu_rdzv_t *r, uint32_t key)
{
  return r->slots[hash_probe (r, key)].idx;
}

static void
hash_insert (mu_rdzv_t *r, uint32_t key, uint32_t idx)
{
  uint32_t i = hash_probe (r, key);
  assert (r->slots[i].idx == NIL);
  r->slots[i].key = key;
  r->slots[i].idx = idx;
  r->nkeys++;
  assert ((uint64_t)r->nkeys * 2 <= (uint64_t)r->slot_mask + 1);
}

/* Backward-shift deletion: pull later entries of the probe run into the
 * hole unless that would move one before its home slot. */
static void
hash_remove (mu_rdzv_t *r, uint32_t key)
{
  uint32_t i = hash_probe (r, key);
  assert (r->slots[i].idx != NIL);
  uint32_t j = i;
  for (;;) {
    j = (j + 1) & r->slot_mask;
    if (r->slots[j].idx == NIL)
      break;
    uint32_t home = hash_key (r->slots[j].key) & r->slot_mask;
    bool stays = (i <= j) ? (i < home && home <= j) : (i < home || home <= j);
    if (stays)
      continue;
    r->slots[i] = r->slots[j];
    i = j;
  }
  r->slots[i].idx = NIL;
  r->nkeys--;
}

/* Make room for one more key (load factor <= 1/2).  0 or -ENOMEM. */
static int
hash_reserve (mu_rdzv_t *r)
{
  uint64_t cap = (uint64_t)r->slot_mask + 1;
  if (((uint64_t)r->nkeys + 1) * 2 <= cap)
    return 0;
  uint64_t ncap = cap * 2;
  if (ncap > ((uint64_t)1 << 32) || ncap > SIZE_MAX / sizeof (slot_t))
    return -ENOMEM;
  slot_t *ns = malloc ((size_t)ncap * sizeof (slot_t));
  if (!ns)
    return -ENOMEM;
  for (uint64_t i = 0; i < ncap; i++)
    ns[i].idx = NIL;
  slot_t *old = r->slots;
  r->slots = ns;
  r->slot_mask = (uint32_t)(ncap - 1);
  r->nkeys = 0;
  for (uint64_t i = 0; i < cap; i++)
    if (old[i].idx != NIL)
      hash_insert (r, old[i].key, old[i].idx);
  free (old);
  return 0;
}

/* --- node pool */

/* Make sure one more record (and its member-table row) can be handed out. */
static int
pool_reserve (mu_rdzv_t *r)
{
  if (r->free_head != NIL || r->pool_used < r->pool_cap)
    return 0;
  uint64_t ncap = (uint64_t)r->pool_cap * 2;
  if (ncap >= NIL)
    ncap = NIL - 1; /* indices must stay below NIL */
  if (ncap <= r->pool_cap || ncap > SIZE_MAX / sizeof (mu_rdzv_member_t))
    return -ENOMEM;
  node_t *nn = realloc (r->nodes, (size_t)ncap * sizeof (node_t));
  if (!nn)
    return -ENOMEM;
  r->nodes = nn;
  mu_rdzv_member_t *nm
      = realloc (r->members, (size_t)ncap * sizeof (mu_rdzv_member_t));
  if (!nm)
    return -ENOMEM; /* the larger node array is harmless; retry later */
  r->members = nm;
  r->pool_cap = (uint32_t)ncap;
  return 0;
}

static uint32_t
pool_get (mu_rdzv_t *r)
{
  uint32_t idx;
  if (r->free_head != NIL) {
    idx = r->free_head;
    r->free_head = r->nodes[idx].next;
  } else {
    assert (r->pool_used < r->pool_cap);
    idx = r->pool_used++;
  }
  return idx;
}

static void
pool_put (mu_rdzv_t *r, uint32_t idx)
{
  r->nodes[idx].where = NODE_FREE;
  r->nodes[idx].next = r->free_head;
  r->free_head = idx;
}

/* --- intrusive lists */

static void
list_init (list_t *l)
{
  l->head = l->tail = NIL;
  l->n = 0;
}

static void
list_push_back (mu_rdzv_t *r, list_t *l, uint32_t idx)
{
  node_t *x = &r->nodes[idx];
  x->prev = l->tail;
  x->next = NIL;
  if (l->tail != NIL)
    r->nodes[l->tail].next = idx;
  else
    l->head = idx;
  l->tail = idx;
  l->n++;
}

static void
list_unlink (mu_rdzv_t *r, list_t *l, uint32_t idx)
{
  node_t *x = &r->nodes[idx];
  assert (l->n > 0);
  if (x->prev != NIL)
    r->nodes[x->prev].next = x->next;
  else
    l->head = x->next;
  if (x->next != NIL)
    r->nodes[x->next].prev = x->prev;
  else
    l->tail = x->prev;
  x->prev = x->next = NIL;
  l->n--;
}

/* --- round membership, with the min/max counters kept current */

/* R8: a node with a rank hint goes before the first node of the list whose
 * hint is larger or absent; one without goes last.  O(round) per join, paid
 * only by jobs that give hints (static rendezvous: a handful of nodes). */
static void
list_insert_hinted (mu_rdzv_t *r, list_t *l, uint32_t idx)
{
  node_t *x = &r->nodes[idx];
  uint32_t at = NIL;
  if (x->hint != NIL)
    for (uint32_t i = l->head; i != NIL; i = r->nodes[i].next)
      if (r->nodes[i].hint == NIL || r->nodes[i].hint > x->hint)
        {
          at = i;
          break;
        }
  if (at == NIL)
    {
      list_push_back (r, l, idx);
      return;
    }
  node_t *y = &r->nodes[at];
  x->next = at;
  x->prev = y->prev;
  if (y->prev != NIL)
    r->nodes[y->prev].next = idx;
  else
    l->head = idx;
  y->prev = idx;
  l->n++;
}

static void
round_add (mu_rdzv_t *r, uint32_t idx)
{
  node_t *x = &r->nodes[idx];
  role_state_t *rs = &r->roles[x->role];
  assert (rs->round.n < rs->cfg.max_nodes);
  list_insert_hinted (r, &rs->round, idx);
  x->where = NODE_ROUND;
  r->nround++;
  if (rs->round.n == rs->cfg.min_nodes)
    r->nbelow_min--;
  if (rs->round.n == rs->cfg.max_nodes)
    r->nat_max++;
}

static void
round_remove (mu_rdzv_t *r, uint32_t idx)
{
  node_t *x = &r->nodes[idx];
  role_state_t *rs = &r->roles[x->role];
  if (rs->round.n == rs->cfg.max_nodes)
    r->nat_max--;
  if (rs->round.n == rs->cfg.min_nodes)
    r->nbelow_min++;
  list_unlink (r, &rs->round, idx);
  r->nround--;
}

static void
wait_add (mu_rdzv_t *r, uint32_t idx)
{
  node_t *x = &r->nodes[idx];
  list_push_back (r, &r->roles[x->role].wait, idx);
  x->where = NODE_WAITING;
  r->nwait++;
}

static void
wait_remove (mu_rdzv_t *r, uint32_t idx)
{
  list_unlink (r, &r->roles[r->nodes[idx].role].wait, idx);
  r->nwait--;
}

/* Move waiting nodes of `role` into the round, oldest first, until max. */
static void
admit_waiting (mu_rdzv_t *r, uint32_t role)
{
  role_state_t *rs = &r->roles[role];
  while (rs->wait.n > 0 && rs->round.n < rs->cfg.max_nodes) {
    uint32_t idx = rs->wait.head;
    wait_remove (r, idx);
    round_add (r, idx);
  }
}

/* --- timers, close and fail */

static uint64_t
add_sat (uint64_t a, uint64_t b)
{
  return (a > UINT64_MAX - b) ? UINT64_MAX : a + b;
}

static uint64_t
next_deadline (const mu_rdzv_t *r)
{
  if (r->state != MU_RDZV_OPEN)
    return 0;
  uint64_t d = 0;
  if (r->lc_armed)
    d = r->lc_deadline;
  if (r->jt_armed && (d == 0 || r->jt_deadline < d))
    d = r->jt_deadline;
  return d;
}

static void
decide (const mu_rdzv_t *r, mu_rdzv_action_t action, mu_rdzv_decision_t *d)
{
  d->action = action;
  d->epoch = r->epoch;
  d->deadline_ms = next_deadline (r);
}

/* Every role at or above min and at least one node in (R1). */
static bool
min_reached (const mu_rdzv_t *r)
{
  return r->nbelow_min == 0 && r->nround > 0;
}

/* Fix the open round as epoch `epoch`: assign every rank.  O(members). */
static void
close_round (mu_rdzv_t *r)
{
  uint32_t at = 0;
  uint64_t first = 0;
  for (uint32_t role = 0; role < r->nroles; role++) {
    role_state_t *rs = &r->roles[role];
    uint64_t role_first = 0;
    for (uint32_t idx = rs->round.head; idx != NIL; idx = r->nodes[idx].next) {
      const node_t *x = &r->nodes[idx];
      mu_rdzv_member_t *m = &r->members[at];
      m->key = x->key;
      m->role = role;
      m->nproc = x->nproc;
      m->node_rank = at;
      m->first_rank = first;
      m->role_first_rank = role_first;
      first += x->nproc;
      role_first += x->nproc;
      at++;
    }
    rs->closed_world = role_first;
    rs->closed_nodes = rs->round.n;
  }
  assert (at == r->nround);
  r->nmembers = at;
  r->world = first;
  r->state = MU_RDZV_CLOSED;
  r->lc_armed = r->jt_armed = false;
}

/* After the open round changed: close at max, arm or disarm last call. */
static mu_rdzv_action_t
evaluate (mu_rdzv_t *r, uint64_t now_ms)
{
  assert (r->state == MU_RDZV_OPEN);
  if (r->nat_max == r->nroles) {
    close_round (r);
    return MU_RDZV_D_CLOSED;
  }
  if (!min_reached (r)) {
    r->lc_armed = false;
    return MU_RDZV_D_NONE;
  }
  if (!r->lc_armed) {
    if (r->round_lc_ms == 0) {
      close_round (r);
      return MU_RDZV_D_CLOSED;
    }
    r->lc_armed = true;
    r->lc_deadline = add_sat (now_ms, r->round_lc_ms);
  }
  return MU_RDZV_D_NONE;
}

/* --- lifecycle */

int
mu_rdzv_new (const mu_rdzv_opts_t *opts, mu_rdzv_t **out)
{
  if (!out)
    return MUSTER_EINVAL;
  *out = NULL;
  if (!opts || !opts->roles || opts->nroles == 0
      || opts->nroles > MU_RDZV_MAX_ROLES)
    return MUSTER_EINVAL;
  for (size_t i = 0; i < opts->nroles; i++) {
    const mu_rdzv_role_t *ro = &opts->roles[i];
    size_t len = strnlen (ro->name, MU_RDZV_ROLE_NAME_MAX);
    if (len == 0 || len == MU_RDZV_ROLE_NAME_MAX || ro->max_nodes == 0
        || ro->min_nodes > ro->max_nodes || ro->nproc == 0)
      return MUSTER_EINVAL;
    for (size_t j = 0; j < i; j++)
      if (strcmp (opts->roles[j].name, ro->name) == 0)
        return MUSTER_EINVAL;
  }

  mu_rdzv_t *r = calloc (1, sizeof (*r));
  if (!r)
    return -ENOMEM;
  r->nodes = malloc (MIN_POOL * sizeof (node_t));
  r->members = malloc (MIN_POOL * sizeof (mu_rdzv_member_t));
  r->slots = malloc (MIN_POOL * 2 * sizeof (slot_t));
  if (!r->nodes || !r->members || !r->slots) {
    mu_rdzv_destroy (&r);
    return -ENOMEM;
  }
  r->pool_cap = MIN_POOL;
  r->free_head = NIL;
  r->slot_mask = MIN_POOL * 2 - 1;
  for (uint32_t i = 0; i <= r->slot_mask; i++)
    r->slots[i].idx = NIL;

  r->nroles = (uint32_t)opts->nroles;
  r->last_call_ms = opts->last_call_ms;
  r->join_timeout_ms = opts->join_timeout_ms;
  r->state = MU_RDZV_IDLE;
  for (uint32_t i = 0; i < r->nroles; i++) {
    role_state_t *rs = &r->roles[i];
    rs->cfg = opts->roles[i];
    list_init (&rs->round);
    list_init (&rs->wait);
    if (rs->cfg.min_nodes > 0)
      r->nbelow_min++;
  }
  *out = r;
  return 0;
}

void
mu_rdzv_destroy (mu_rdzv_t **r_p)
{
  if (!r_p || !*r_p)
    return;
  mu_rdzv_t *r = *r_p;
  free (r->nodes);
  free (r->members);
  free (r->slots);
  free (r);
  *r_p = NULL;
}

/* --- events */

int
mu_rdzv_open (mu_rdzv_t *r, uint64_t now_ms, mu_rdzv_decision_t *d)
{
  if (!r || !d)
    return MUSTER_EINVAL;
  return mu_rdzv_open_ex (r, now_ms, r->last_call_ms, d);
}

int
mu_rdzv_open_ex (mu_rdzv_t *r, uint64_t now_ms, uint64_t last_call_ms,
                 mu_rdzv_decision_t *d)
{
  if (!r || !d)
    return MUSTER_EINVAL;
  r->round_lc_ms = last_call_ms;
  /* Carry-over needs no work: the round lists already hold the closed
   * round's survivors in rank order, or the open (or failed) round's nodes
   * in join order.  Waiting nodes follow, oldest first, up to max. */
  r->epoch++;
  r->state = MU_RDZV_OPEN;
  r->lc_armed = false;
  r->jt_armed = r->join_timeout_ms > 0;
  r->jt_deadline = r->jt_armed ? add_sat (now_ms, r->join_timeout_ms) : 0;
  for (uint32_t role = 0; role < r->nroles; role++)
    admit_waiting (r, role);
  decide (r, evaluate (r, now_ms), d);
  return 0;
}

int
mu_rdzv_join (mu_rdzv_t *r, uint64_t now_ms, uint32_t key, uint32_t role,
              uint32_t nproc, mu_rdzv_decision_t *d)
{
  return mu_rdzv_join_ranked (r, now_ms, key, role, nproc, MU_RDZV_NO_HINT, d);
}

int
mu_rdzv_join_ranked (mu_rdzv_t *r, uint64_t now_ms, uint32_t key,
                     uint32_t role, uint32_t nproc, uint32_t rank_hint,
                     mu_rdzv_decision_t *d)
{
  if (!r || !d)
    return MUSTER_EINVAL;
  decide (r, MU_RDZV_D_NONE, d);
  if (role >= r->nroles)
    return MUSTER_EINVAL;
  if (hash_find (r, key) != NIL)
    return MUSTER_EEXIST;
  int rc = pool_reserve (r);
  if (rc == 0)
    rc = hash_reserve (r);
  if (rc != 0)
    return rc;

  role_state_t *rs = &r->roles[role];
  uint32_t idx = pool_get (r);
  node_t *x = &r->nodes[idx];
  x->key = key;
  x->role = role;
  x->nproc = nproc ? nproc : rs->cfg.nproc;
  x->hint = rank_hint;
  x->prev = x->next = NIL;
  hash_insert (r, key, idx);

  mu_rdzv_action_t action = MU_RDZV_D_NONE;
  switch (r->state) {
  case MU_RDZV_OPEN:
    if (rs->round.n < rs->cfg.max_nodes) {
      assert (rs->wait.n == 0);
      round_add (r, idx);
      action = evaluate (r, now_ms);
    } else {
      wait_add (r, idx);
    }
    break;
  case MU_RDZV_CLOSED:
    /* R5: ask for a resize only if the next round would take this node. */
    if ((uint64_t)rs->round.n + rs->wait.n < rs->cfg.max_nodes)
      action = MU_RDZV_D_RESIZE;
    wait_add (r, idx);
    break;
  case MU_RDZV_IDLE:
  case MU_RDZV_FAILED:
    wait_add (r, idx);
    break;
  }
  decide (r, action, d);
  return 0;
}

int
mu_rdzv_restore (mu_rdzv_t *r, uint64_t epoch, const mu_rdzv_member_t *m,
                 size_t n)
{
  if (!r || (n > 0 && !m) || r->state != MU_RDZV_IDLE || r->nkeys != 0)
    return MUSTER_EINVAL;
  for (size_t i = 0; i < n; i++)
    if (m[i].role >= r->nroles || m[i].nproc == 0
        || r->roles[m[i].role].round.n >= r->roles[m[i].role].cfg.max_nodes)
      return MUSTER_EINVAL;
    else
      {
        if (hash_find (r, m[i].key) != NIL)
          return MUSTER_EEXIST;
        int rc = pool_reserve (r);
        if (rc == 0)
          rc = hash_reserve (r);
        if (rc != 0)
          return rc;
        uint32_t idx = pool_get (r);
        node_t *x = &r->nodes[idx];
        x->key = m[i].key;
        x->role = m[i].role;
        x->nproc = m[i].nproc;
        x->hint = MU_RDZV_NO_HINT;
        x->prev = x->next = NIL;
        hash_insert (r, m[i].key, idx);
        round_add (r, idx);
      }
  r->epoch = epoch;
  if (n > 0)
    close_round (r);
  return 0;
}

int
mu_rdzv_leave (mu_rdzv_t *r, uint64_t now_ms, uint32_t key,
               mu_rdzv_decision_t *d)
{
  if (!r || !d)
    return MUSTER_EINVAL;
  decide (r, MU_RDZV_D_NONE, d);
  uint32_t idx = hash_find (r, key);
  if (idx == NIL)
    return MUSTER_ENOTFOUND;
  node_t *x = &r->nodes[idx];
  uint32_t role = x->role;
  role_state_t *rs = &r->roles[role];
  mu_rdzv_action_t action = MU_RDZV_D_NONE;

  if (x->where == NODE_WAITING) {
    wait_remove (r, idx);
  } else {
    assert (x->where == NODE_ROUND);
    round_remove (r, idx);
    switch (r->state) {
    case MU_RDZV_OPEN:
      admit_waiting (r, role); /* R3 */
      action = evaluate (r, now_ms);
      break;
    case MU_RDZV_CLOSED:
      action = rs->round.n < rs->cfg.min_nodes ? MU_RDZV_D_BELOW_MIN
                                               : MU_RDZV_D_MEMBER_LEFT;
      break;
    case MU_RDZV_FAILED: /* R4: enrolled in a failed round */
      break;
    case MU_RDZV_IDLE:
      assert (!"round node while idle");
      break;
    }
  }
  hash_remove (r, key);
  pool_put (r, idx);
  decide (r, action, d);
  return 0;
}

int
mu_rdzv_set_range (mu_rdzv_t *r, uint64_t now_ms, uint32_t role,
                   uint32_t min_nodes, uint32_t max_nodes,
                   mu_rdzv_decision_t *d)
{
  if (!r || !d)
    return MUSTER_EINVAL;
  decide (r, MU_RDZV_D_NONE, d);
  if (role >= r->nroles || max_nodes == 0 || min_nodes > max_nodes)
    return MUSTER_EINVAL;
  role_state_t *rs = &r->roles[role];
  if (rs->round.n > max_nodes)
    return MUSTER_EINVAL;
  /* Take the role out of the counters, change it, put it back. */
  if (rs->round.n < rs->cfg.min_nodes)
    r->nbelow_min--;
  if (rs->round.n == rs->cfg.max_nodes)
    r->nat_max--;
  rs->cfg.min_nodes = min_nodes;
  rs->cfg.max_nodes = max_nodes;
  if (rs->round.n < min_nodes)
    r->nbelow_min++;
  if (rs->round.n == max_nodes)
    r->nat_max++;
  mu_rdzv_action_t action = MU_RDZV_D_NONE;
  if (r->state == MU_RDZV_OPEN)
    {
      admit_waiting (r, role);
      action = evaluate (r, now_ms);
    }
  else if (r->state == MU_RDZV_CLOSED && rs->wait.n > 0
           && rs->round.n < max_nodes)
    action = MU_RDZV_D_RESIZE;
  decide (r, action, d);
  return 0;
}

int
mu_rdzv_tick (mu_rdzv_t *r, uint64_t now_ms, mu_rdzv_decision_t *d)
{
  if (!r || !d)
    return MUSTER_EINVAL;
  mu_rdzv_action_t action = MU_RDZV_D_NONE;
  if (r->state == MU_RDZV_OPEN) {
    bool lc_due = r->lc_armed && now_ms >= r->lc_deadline;
    bool jt_due = r->jt_armed && now_ms >= r->jt_deadline;
    if (lc_due || (jt_due && min_reached (r))) { /* R2 */
      assert (min_reached (r));
      close_round (r);
      action = MU_RDZV_D_CLOSED;
    } else if (jt_due) {
      r->state = MU_RDZV_FAILED;
      r->lc_armed = r->jt_armed = false;
      action = MU_RDZV_D_FAILED;
    }
  }
  decide (r, action, d);
  return 0;
}

/* --- queries */

mu_rdzv_state_t
mu_rdzv_state (const mu_rdzv_t *r)
{
  return r ? r->state : MU_RDZV_IDLE;
}

uint64_t
mu_rdzv_epoch (const mu_rdzv_t *r)
{
  return r ? r->epoch : 0;
}

const mu_rdzv_member_t *
mu_rdzv_members (const mu_rdzv_t *r, size_t *n)
{
  if (n)
    *n = r ? r->nmembers : 0;
  return r ? r->members : NULL;
}

int
mu_rdzv_next_key (const mu_rdzv_t *r, uint32_t *pos, uint32_t *key,
                  int *waiting)
{
  for (; r != NULL && *pos < r->pool_used; (*pos)++)
    {
      const node_t *x = &r->nodes[*pos];
      if (x->where == NODE_FREE)
        continue;
      *key = x->key;
      if (waiting != NULL)
        *waiting = x->where == NODE_WAITING;
      (*pos)++;
      return 1;
    }
  return 0;
}

uint64_t
mu_rdzv_world (const mu_rdzv_t *r)
{
  return r ? r->world : 0;
}

uint64_t
mu_rdzv_role_world (const mu_rdzv_t *r, uint32_t role, uint32_t *nodes)
{
  if (!r || role >= r->nroles) {
    if (nodes)
      *nodes = 0;
    return 0;
  }
  if (nodes)
    *nodes = r->roles[role].closed_nodes;
  return r->roles[role].closed_world;
}

const mu_rdzv_role_t *
mu_rdzv_role (const mu_rdzv_t *r, uint32_t role)
{
  return (r && role < r->nroles) ? &r->roles[role].cfg : NULL;
}

size_t
mu_rdzv_nroles (const mu_rdzv_t *r)
{
  return r ? r->nroles : 0;
}

int
mu_rdzv_is_member (const mu_rdzv_t *r, uint32_t key)
{
  if (!r)
    return 0;
  uint32_t idx = hash_find (r, key);
  return idx != NIL && r->nodes[idx].where == NODE_ROUND;
}

int
mu_rdzv_is_waiting (const mu_rdzv_t *r, uint32_t key)
{
  if (!r)
    return 0;
  uint32_t idx = hash_find (r, key);
  return idx != NIL && r->nodes[idx].where == NODE_WAITING;
}

static int64_t
time_left (bool armed, uint64_t deadline, uint64_t now_ms)
{
  if (!armed)
    return -1;
  if (deadline <= now_ms)
    return 0;
  uint64_t left = deadline - now_ms;
  return left > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)left;
}

/* Progress: min/max sums and the waiting count are filled in every state
 * (nodes may wait before the first round); `joined` counts the nodes
 * enrolled now (once closed, the members that have not left); timers are -1
 * unless the round is open. */
void
mu_rdzv_get_progress (const mu_rdzv_t *r, uint64_t now_ms,
                      mu_rdzv_status_t *p)
{
  if (!p)
    return;
  memset (p, 0, sizeof (*p));
  p->state = MU_RDZV_IDLE;
  p->last_call_left = -1;
  p->join_left = -1;
  if (!r)
    return;
  p->state = r->state;
  p->epoch = r->epoch;
  p->joined = r->nround;
  p->waiting = r->nwait;
  uint64_t mn = 0, mx = 0;
  for (uint32_t i = 0; i < r->nroles; i++) {
    mn += r->roles[i].cfg.min_nodes;
    mx += r->roles[i].cfg.max_nodes;
  }
  p->min_nodes = mn > UINT32_MAX ? UINT32_MAX : (uint32_t)mn;
  p->max_nodes = mx > UINT32_MAX ? UINT32_MAX : (uint32_t)mx;
  if (r->state == MU_RDZV_OPEN) {
    p->last_call_left = time_left (r->lc_armed, r->lc_deadline, now_ms);
    p->join_left = time_left (r->jt_armed, r->jt_deadline, now_ms);
  }
}
