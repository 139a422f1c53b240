/*
 * sched_int.h — what the files of scheduler/ share: the scheduler's
 * tables (nodes, jobs, allocations, interned labels) and the functions one
 * file offers the others.  Not installed; nothing outside scheduler/
 * includes it.
 *
 * Allocations.  One allocation is `n` replicas of one role of one job on one
 * node, in one state (placing: decided, not acked; running; releasing: a
 * shrink or suspend was decided, not acked).  Allocations live in one pool
 * indexed by uint32_t and are threaded on two doubly linked lists, the
 * job's and the node's, so a node's holders and a job's nodes are both
 * walked without search.
 */
#ifndef MU_SCHED_INT_H
#define MU_SCHED_INT_H

#include "scheduler/sched.h"

#include "common/smap.h"

#define NIL UINT32_MAX

typedef enum alloc_state
{
  A_PLACING = 1,
  A_RUNNING,
  A_RELEASING
} alloc_state_t;

typedef struct sjob sjob_t;

typedef struct alloc
{
  sjob_t *job;     /* NULL: free pool entry */
  sjob_t *for_job; /* releasing: the job the slots are freed for, or NULL */
  uint32_t node;
  uint32_t n; /* replicas */
  uint8_t role;
  uint8_t state;      /* alloc_state_t */
  uint8_t by_suspend; /* releasing as part of a suspension */
  uint64_t rel_seq;   /* releasing: order of the decisions (acks are FIFO) */
  uint32_t jprev, jnext, nprev, nnext;
} alloc_t;

typedef struct snode
{
  char id[MU_SCHED_NAME_MAX];
  bool in_use;
  mu_sched_node_state_t state;
  uint32_t slots, used, reserved;
  int32_t labels[MU_SCHED_MAX_LABELS]; /* interned "key=value" ids */
  size_t nlabels;
  int32_t topo[MU_SCHED_MAX_TOPOLOGY]; /* value id per topology key, -1 */
  uint32_t head;                       /* first allocation */
} snode_t;

typedef struct srole
{
  char name[MU_SCHED_NAME_MAX];
  uint32_t min, max, slots, target;
  int32_t sel[MU_SCHED_MAX_LABELS];
  size_t nsel;
  char sel_text[200]; /* "zone=a,gpu=h100" for reasons */
  uint32_t held;      /* replicas placing or running */
} srole_t;

typedef struct resv
{
  uint32_t node, slots;
} resv_t;

struct sjob
{
  char id[MU_SCHED_NAME_MAX];
  char tenant[MU_SCHED_NAME_MAX];
  int64_t priority;
  uint64_t submit_ms, seq;
  mu_sched_kind_t kind;
  bool elastic;
  srole_t roles[MU_SCHED_MAX_ROLES];
  size_t nroles;
  mu_sched_job_state_t state;
  uint32_t head;     /* first allocation */
  uint32_t inflight; /* slots being released for this job */
  resv_t *resv;      /* slots reserved for it (S6) */
  size_t nresv, capresv;
  char reason[MU_SCHED_REASON_MAX];
  bool blocked;     /* waits for capacity this pass (S3) */
  bool lost_member; /* a node holding it went away */
};

typedef struct tenant
{
  uint32_t quota, used;
} tenant_t;

/* One tentative placement of a plan. */
typedef struct pick
{
  uint8_t role;
  uint32_t node, n;
} pick_t;

typedef struct plan
{
  pick_t *v;
  size_t n, cap;
} plan_t;

struct mu_sched
{
  snode_t **nodes;
  size_t nnodes, capnodes;
  mu_smap_t *node_ix; /* id -> index + 1 */
  sjob_t **jobs;
  size_t njobs, capjobs;
  mu_smap_t *job_ix;  /* id -> sjob_t* */
  mu_smap_t *tenants; /* name -> tenant_t* */
  mu_smap_t *labels;  /* "key=value" -> id + 1 */
  char **label_text;  /* id -> "key=value" */
  size_t nlabel, caplabel;
  char topo_key[MU_SCHED_MAX_TOPOLOGY][MU_SCHED_NAME_MAX];
  size_t ntopo;
  alloc_t *allocs;
  size_t nallocs, capallocs;
  uint32_t free_alloc;
  uint64_t seq;
  /* per-pass scratch, one entry per node: slots added to what is free
   * (reservations of the job being planned, evictions being tried), and
   * slots taken by the plan being built */
  int64_t *extra;
  uint32_t *take;
  uint32_t *cand;
  uint32_t *order; /* candidates sorted into packing buckets */
  void *extra_key; /* uint16_t per candidate: its bucket */
  uint32_t *stamp; /* node holds the job being planned: == cur_stamp */
  uint32_t cur_stamp;
  size_t capscratch;
  plan_t plan;
  mu_sched_decision_t *dec;
  size_t ndec, capdec;
  char (*dec_reason)[MU_SCHED_REASON_MAX];
  char (*dec_job)[MU_SCHED_NAME_MAX]; /* a REJECTed job is gone */
};

/* sched.c */
int mu_sched__fail (char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__ ((format (printf, 4, 5)));
int mu_sched__grow (void **v, size_t *cap, size_t need, size_t elem);
snode_t *mu_sched__node_get (const mu_sched_t *s, const char *id, uint32_t *k);
sjob_t *mu_sched__job_get (const mu_sched_t *s, const char *id);
int mu_sched__label_id (mu_sched_t *s, const char *kv, int create);
tenant_t *mu_sched__tenant (mu_sched_t *s, const char *name, int create);
uint32_t mu_sched__alloc_new (mu_sched_t *s, sjob_t *j, uint8_t role,
                              uint32_t node, uint32_t n, alloc_state_t st);
void mu_sched__alloc_free (mu_sched_t *s, uint32_t a);
int mu_sched__emit (mu_sched_t *s, mu_sched_action_t act, sjob_t *j, int role,
                    uint32_t node, uint32_t n, sjob_t *for_job,
                    const char *reason);
void mu_sched__resv_clear (mu_sched_t *s, sjob_t *j);
int mu_sched__resv_add (sjob_t *j, uint32_t node, uint32_t slots);
uint32_t mu_sched__job_slots (const sjob_t *j);
uint32_t mu_sched__min_slots (const sjob_t *j);
int mu_sched__scratch (mu_sched_t *s);
/* Turn n replicas of allocation a into a release for b (or NULL). */
int mu_sched__release_part (mu_sched_t *s, uint32_t a, uint32_t n, sjob_t *b);
/* Suspend v for b (or NULL): all its allocations are released; SUSPEND. */
int mu_sched__suspend (mu_sched_t *s, sjob_t *v, sjob_t *b, const char *why);

/* sched_fit.c: a node's free slots for the job being planned. */
static inline int64_t
mu_sched__avail (const mu_sched_t *s, uint32_t k)
{
  const snode_t *x = s->nodes[k];
  return (int64_t)x->slots - x->used - x->reserved + s->extra[k] - s->take[k];
}
int mu_sched__matches (const snode_t *x, const srole_t *r);
/* Build s->plan placing need[r] replicas of each role of j (all of them or
 * nothing; with `partial`, as many as fit), counting s->extra as free and
 * never using node skip_node (-1 none).  1 fits (partial: something was
 * placed), 0 does not, <0 error. */
int mu_sched__fit (mu_sched_t *s, sjob_t *j, const uint32_t *need,
                   int32_t skip_node, int partial);
/* Undo s->take of the current plan. */
void mu_sched__plan_untake (mu_sched_t *s);
/* Carry out the plan: allocations (placing) and PLACE/GROW decisions. */
int mu_sched__plan_apply (mu_sched_t *s, sjob_t *j, mu_sched_action_t act);
/* Load / unload j's reservations into s->extra. */
void mu_sched__extra_resv (mu_sched_t *s, const sjob_t *j, int sign);

/* sched_preempt.c: find and decide the evictions that make need fit. */
int mu_sched__preempt (mu_sched_t *s, sjob_t *b, const uint32_t *need);

/* sched_reason.c: why j (needing need) does not fit now. */
void mu_sched__reason (mu_sched_t *s, sjob_t *j, const uint32_t *need);

/* sched_pass.c */
int mu_sched__pass (mu_sched_t *s);

#endif
