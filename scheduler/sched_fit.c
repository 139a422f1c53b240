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
 * afresh for the next pick, because the job's footprint (nodes held, the
 * topology anchor) has just changed.
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

/* Packing score of node k for a role wanting `want` more replicas of
 * `slots` each (S4); larger is better. */
typedef struct score {
  uint32_t holds, affinity, fill;
  int64_t left;
} score_t;

static int
better (const score_t *a, const score_t *b)
{
  if (a->holds != b->holds)
    return a->holds > b->holds;
  if (a->affinity != b->affinity)
    return a->affinity > b->affinity;
  if (a->fill != b->fill)
    return a->fill > b->fill;
  return a->left < b->left;
}

int
mu_sched__fit (mu_sched_t *s, sjob_t *j, const uint32_t *need, int32_t skip_node,
               int partial)
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
      while (want > 0)
        {
          int64_t best = -1;
          score_t bs = { 0 };
          for (size_t c = 0; c < nc; c++)
            {
              uint32_t k = s->cand[c];
              int64_t av = mu_sched__avail (s, k);
              uint32_t cap = av > 0 ? (uint32_t)(av / role->slots) : 0;
              if (cap == 0)
                continue;
              score_t sc;
              sc.holds = s->stamp[k] == s->cur_stamp;
              sc.affinity = 0;
              for (size_t t = 0; anchored && t < s->ntopo; t++)
                if (anchor[t] >= 0 && s->nodes[k]->topo[t] == anchor[t])
                  {
                    sc.affinity = (uint32_t)(s->ntopo - t);
                    break;
                  }
              sc.fill = cap < want ? cap : want;
              sc.left = av - (int64_t)sc.fill * role->slots;
              if (best < 0 || better (&sc, &bs))
                {
                  best = k;
                  bs = sc;
                }
            }
          if (best < 0 && partial)
            break;
          if (best < 0)
            {
              mu_sched__plan_untake (s);
              s->plan.n = 0;
              return 0;
            }
          uint32_t k = (uint32_t)best;
          if (plan_push (&s->plan, r, k, bs.fill) != 0)
            {
              mu_sched__plan_untake (s);
              s->plan.n = 0;
              return -ENOMEM;
            }
          s->take[k] += bs.fill * role->slots;
          s->stamp[k] = s->cur_stamp;
          if (!anchored)
            {
              memcpy (anchor, s->nodes[k]->topo, sizeof anchor);
              anchored = 1;
            }
          want -= bs.fill;
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
