/*
 * sched_fit.c — placement: where the replicas a job needs would go (S2,
 * S4 of sched.h), as a plan that is either whole or empty.
 *
 * A plan is built against what is free for the job being planned: a node's
 * slots minus what allocations use and what is reserved for other jobs,
 * plus s->extra (the job's own reservations, and slots that evictions being
 * tried would free), minus s->take (what the plan already took).  Only
 * ready nodes matching the role's label selector are candidates.  Roles go
 * largest replica first; within a role the best candidate by the packing
 * score of S4 takes as many replicas as it can, and the score is computed
 * per pick from buckets (below).
 */
#include "scheduler/sched_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int
mu_sched__matches (const snode_t *x, const srole_t *r)
{
  for (size_t i = 0; i < r->nsel; i++)
    {
      size_t k = 0;
      while (k < x->nlabels && x->labels[k] != r->sel[i])
        k++;
      if (k == x->nlabels)
        return 0;
    }
  return 1;
}

static int
plan_push (plan_t *p, uint8_t role, uint32_t node, uint32_t n)
{
  if (p->n == p->cap)
    {
      size_t nc = p->cap ? p->cap * 2 : 64;
      pick_t *v = realloc (p->v, nc * sizeof *v);
      if (v == NULL)
        return -ENOMEM;
      p->v = v;
      p->cap = nc;
    }
  p->v[p->n++] = (pick_t){ role, node, n };
  return 0;
}

void
mu_sched__plan_untake (mu_sched_t *s)
{
  for (size_t i = 0; i < s->plan.n; i++)
    {
      const pick_t *p = &s->plan.v[i];
      s->take[p->node] = 0;
    }
}

void
mu_sched__extra_resv (mu_sched_t *s, const sjob_t *j, int sign)
{
  for (size_t i = 0; i < j->nresv; i++)
    s->extra[j->resv[i].node] += sign * (int64_t)j->resv[i].slots;
}

/* Packing classes and buckets (S4).  A candidate's class ranks it by
 * whether it already holds the job and by how specific a topology label it
 * shares with the job's anchor (the first node the job holds); within the
 * best class that has room, the node taking all the replicas still wanted
 * with the fewest to spare wins (best fit), else the node taking the most;
 * ties go to the lowest node index.  Candidates are counting-sorted into
 * (class, replicas it can take) buckets once per role (and once more when
 * the first pick sets the anchor), so a pick costs O(buckets), not
 * O(nodes): a picked node is never picked again for the same role, since
 * it either took every replica wanted or has no room left. */
#define NB 64 /* bucket of "can take b replicas", the last one b >= NB - 1 */
#define NCLASS (2 * (MU_SCHED_MAX_TOPOLOGY + 1))

typedef struct buckets
{
  uint32_t head[NCLASS][NB], end[NCLASS][NB];
  size_t nclass;
} buckets_t;

static size_t
class_of (const mu_sched_t *s, uint32_t k, const int32_t *anchor, int anchored)
{
  size_t aff = 0;
  for (size_t t = 0; anchored && t < s->ntopo; t++)
    if (anchor[t] >= 0 && s->nodes[k]->topo[t] == anchor[t])
      {
        aff = s->ntopo - t;
        break;
      }
  size_t holds = s->stamp[k] == s->cur_stamp;
  /* class 0 is best */
  return (1 - holds) * (s->ntopo + 1) + (s->ntopo - aff);
}

static uint32_t
cap_of (const mu_sched_t *s, uint32_t k, uint32_t slots)
{
  int64_t av = mu_sched__avail (s, k);
  return av > 0 ? (uint32_t)(av / slots) : 0;
}

/* Sort the nc candidates of s->cand into buckets (s->order). */
static void
bucket (mu_sched_t *s, buckets_t *b, size_t nc, uint32_t slots,
        const int32_t *anchor, int anchored)
{
  static const uint32_t zero[NCLASS][NB];
  uint32_t (*cnt)[NB] = b->end; /* counts first, then ends */
  memcpy (cnt, zero, sizeof zero);
  b->nclass = 2 * (s->ntopo + 1);
  uint16_t *key = (uint16_t *)s->extra_key;
  for (size_t c = 0; c < nc; c++)
    {
      uint32_t k = s->cand[c], cap = cap_of (s, k, slots);
      if (cap == 0)
        {
          key[c] = UINT16_MAX;
          continue;
        }
      size_t cl = class_of (s, k, anchor, anchored),
             x = cap < NB ? cap : NB - 1;
      key[c] = (uint16_t)(cl * NB + x);
      cnt[cl][x]++;
    }
  uint32_t off = 0;
  for (size_t cl = 0; cl < b->nclass; cl++)
    for (size_t x = 0; x < NB; x++)
      {
        uint32_t n = cnt[cl][x];
        b->head[cl][x] = off;
        off += n;
        cnt[cl][x] = b->head[cl][x]; /* fill pointer */
      }
  for (size_t c = 0; c < nc; c++)
    if (key[c] != UINT16_MAX)
      s->order[cnt[key[c] / NB][key[c] % NB]++] = s->cand[c];
  /* cnt (= b->end) now holds each bucket's end */
}

/* Take the best candidate for `want` more replicas; -1 when none. */
static int64_t
pick (mu_sched_t *s, buckets_t *b, uint32_t want)
{
  for (size_t cl = 0; cl < b->nclass; cl++)
    {
      size_t w = want < NB ? want : NB - 1;
      for (size_t x = w; x < NB; x++)
        if (b->head[cl][x] < b->end[cl][x])
          return s->order[b->head[cl][x]++];
      for (size_t x = w; x-- > 1;)
        if (b->head[cl][x] < b->end[cl][x])
          return s->order[b->head[cl][x]++];
    }
  return -1;
}

int
mu_sched__fit (mu_sched_t *s, sjob_t *j, const uint32_t *need,
               int32_t skip_node, int partial)
{
  s->plan.n = 0;
  if (++s->cur_stamp == 0)
    {
      memset (s->stamp, 0, s->capscratch * sizeof *s->stamp);
      s->cur_stamp = 1;
    }
  int32_t anchor[MU_SCHED_MAX_TOPOLOGY];
  for (size_t t = 0; t < MU_SCHED_MAX_TOPOLOGY; t++)
    anchor[t] = -1;
  int anchored = 0;
  for (uint32_t a = j->head; a != NIL; a = s->allocs[a].jnext)
    {
      const alloc_t *x = &s->allocs[a];
      if (x->state == A_RELEASING)
        continue;
      s->stamp[x->node] = s->cur_stamp;
      if (!anchored)
        {
          memcpy (anchor, s->nodes[x->node]->topo, sizeof anchor);
          anchored = 1;
        }
    }
  /* roles, largest replica first (stable) */
  uint8_t order[MU_SCHED_MAX_ROLES];
  size_t nr = 0;
  for (size_t r = 0; r < j->nroles; r++)
    {
      size_t p = nr++;
      while (p > 0 && j->roles[order[p - 1]].slots < j->roles[r].slots)
        {
          order[p] = order[p - 1];
          p--;
        }
      order[p] = (uint8_t)r;
    }
  for (size_t oi = 0; oi < nr; oi++)
    {
      uint8_t r = order[oi];
      const srole_t *role = &j->roles[r];
      uint32_t want = need[r];
      if (want == 0)
        continue;
      size_t nc = 0;
      for (size_t k = 0; k < s->nnodes; k++)
        {
          const snode_t *x = s->nodes[k];
          if (!x->in_use || x->state != MU_SCHED_NODE_READY
              || (int32_t)k == skip_node
              || mu_sched__avail (s, (uint32_t)k) < role->slots
              || !mu_sched__matches (x, role))
            continue;
          s->cand[nc++] = (uint32_t)k;
        }
      buckets_t b;
      bucket (s, &b, nc, role->slots, anchor, anchored);
      while (want > 0)
        {
          int64_t best = pick (s, &b, want);
          if (best < 0 && partial)
            break;
          if (best < 0)
            {
              mu_sched__plan_untake (s);
              s->plan.n = 0;
              return 0;
            }
          uint32_t k = (uint32_t)best;
          uint32_t cap = cap_of (s, k, role->slots);
          uint32_t fill = cap < want ? cap : want;
          if (plan_push (&s->plan, r, k, fill) != 0)
            {
              mu_sched__plan_untake (s);
              s->plan.n = 0;
              return -ENOMEM;
            }
          s->take[k] += fill * role->slots;
          s->stamp[k] = s->cur_stamp;
          want -= fill;
          if (!anchored)
            {
              memcpy (anchor, s->nodes[k]->topo, sizeof anchor);
              anchored = 1;
              if (want > 0) /* the anchor changes the classes */
                bucket (s, &b, nc, role->slots, anchor, anchored);
            }
        }
    }
  return partial ? s->plan.n > 0 : 1;
}

/* Add n replicas to j's placing allocation of role/node (or a new one). */
static int
add_placing (mu_sched_t *s, sjob_t *j, uint8_t r, uint32_t node, uint32_t n)
{
  for (uint32_t a = j->head; a != NIL; a = s->allocs[a].jnext)
    {
      alloc_t *x = &s->allocs[a];
      if (x->role == r && x->node == node && x->state == A_PLACING)
        {
          uint32_t sl = n * j->roles[r].slots;
          x->n += n;
          j->roles[r].held += n;
          s->nodes[node]->used += sl;
          tenant_t *t = mu_sched__tenant (s, j->tenant, 0);
          if (t)
            t->used += sl;
          return 0;
        }
    }
  return mu_sched__alloc_new (s, j, r, node, n, A_PLACING) == NIL ? -ENOMEM : 0;
}

int
mu_sched__plan_apply (mu_sched_t *s, sjob_t *j, mu_sched_action_t act)
{
  mu_sched__plan_untake (s);
  int rc = 0;
  for (size_t i = 0; i < s->plan.n && rc == 0; i++)
    {
      const pick_t *p = &s->plan.v[i];
      rc = add_placing (s, j, p->role, p->node, p->n);
      if (rc == 0)
        rc = mu_sched__emit (s, act, j, p->role, p->node, p->n, NULL, NULL);
    }
  s->plan.n = 0;
  return rc;
}
