/*
 * sched_preempt.c — which lower-priority work gives way to a demand that
 * does not fit (S5, S6 of sched.h).
 *
 * Candidates ("units") are listed in the order the rules prefer them:
 * first every replica above min of elastic victims (a shrink), then whole
 * victims (a suspend); victims are the running jobs of strictly lower
 * priority, lowest priority first and newest first among equals, whose
 * placements are all acked (a job is not evicted while it is being
 * placed: the next tick may).  A unit
 * frees slots into s->extra.  The shortest prefix of units that makes the
 * demand fit is found by bisection (each probe is one placement plan),
 * then units are dropped again, latest first, while the demand still fits
 * without them: what remains is decided, and nothing is evicted that the
 * demand does not need.  A suspend frees what the victim's shrink units
 * did not already free; a shrink of a victim that is suspended is part of
 * the suspension and is not decided separately.
 *
 * The demand's plan also counts on free slots; those are reserved for it at
 * once, and the evicted slots are reserved for it when the caller acks the
 * eviction, so that no later job takes what the preemption was for.
 */
#include "scheduler/sched_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct unit
{
  sjob_t *v;
  uint32_t alloc; /* shrink: the allocation; NIL: suspend the whole job */
  uint32_t n;     /* shrink: replicas */
  int32_t sus;    /* shrink: index of v's suspend unit, -1 none */
  bool active;
} unit_t;

typedef struct units
{
  unit_t *v;
  size_t n, cap;
} units_t;

static int
push (units_t *u, unit_t x)
{
  if (u->n == u->cap)
    {
      size_t nc = u->cap ? u->cap * 2 : 32;
      unit_t *p = realloc (u->v, nc * sizeof *p);
      if (p == NULL)
        return -ENOMEM;
      u->v = p;
      u->cap = nc;
    }
  u->v[u->n++] = x;
  return 0;
}

static int
victim_cmp (const void *a, const void *b)
{
  const sjob_t *x = *(sjob_t *const *)a, *y = *(sjob_t *const *)b;
  if (x->priority != y->priority)
    return x->priority < y->priority ? -1 : 1;
  if (x->submit_ms != y->submit_ms)
    return x->submit_ms > y->submit_ms ? -1 : 1; /* newest first */
  return x->seq > y->seq ? -1 : (x->seq < y->seq);
}

/* Is node k one the demand could use at all? */
static int
useful (const mu_sched_t *s, const sjob_t *b, const uint32_t *need, uint32_t k)
{
  const snode_t *x = s->nodes[k];
  if (!x->in_use || x->state != MU_SCHED_NODE_READY)
    return 0;
  for (size_t r = 0; r < b->nroles; r++)
    if (need[r] && mu_sched__matches (x, &b->roles[r]))
      return 1;
  return 0;
}

/* Slots of allocation a that shrink units of the list took. */
static uint32_t
shrunk_of (const units_t *u, uint32_t a)
{
  uint32_t n = 0;
  for (size_t i = 0; i < u->n; i++)
    if (u->v[i].alloc == a)
      n += u->v[i].n;
  return n;
}

static void
apply (mu_sched_t *s, const units_t *u, size_t i, int sign)
{
  const unit_t *x = &u->v[i];
  if (x->alloc != NIL)
    {
      const alloc_t *a = &s->allocs[x->alloc];
      s->extra[a->node] += sign * (int64_t)x->n * x->v->roles[a->role].slots;
      return;
    }
  for (uint32_t a = x->v->head; a != NIL; a = s->allocs[a].jnext)
    {
      const alloc_t *y = &s->allocs[a];
      if (y->state == A_RELEASING)
        continue;
      uint32_t n = y->n - shrunk_of (u, a);
      s->extra[y->node] += sign * (int64_t)n * x->v->roles[y->role].slots;
    }
}

/* Does b fit with the active units?  Leaves no plan behind. */
static int
fits (mu_sched_t *s, sjob_t *b, const uint32_t *need)
{
  int rc = mu_sched__fit (s, b, need, -1, 0);
  if (rc == 1)
    {
      mu_sched__plan_untake (s);
      s->plan.n = 0;
    }
  return rc;
}

/* Activate exactly the first p units. */
static void
set_prefix (mu_sched_t *s, units_t *u, size_t p)
{
  for (size_t i = 0; i < u->n; i++)
    {
      bool want = i < p;
      if (u->v[i].active != want)
        {
          apply (s, u, i, want ? 1 : -1);
          u->v[i].active = want;
        }
    }
}

static int
decide (mu_sched_t *s, sjob_t *b, units_t *u)
{
  char why[MU_SCHED_REASON_MAX];
  snprintf (why, sizeof why, "preempted for job %s (priority %lld)", b->id,
            (long long)b->priority);
  int rc = 0;
  size_t used = 0;
  used += (size_t)snprintf (b->reason, sizeof b->reason,
                            "waiting for slots being freed by preempting");
  for (size_t i = 0; i < u->n && rc == 0; i++)
    {
      unit_t *x = &u->v[i];
      if (!x->active || x->alloc == NIL)
        continue;
      if (x->sus >= 0 && u->v[x->sus].active)
        continue; /* part of the victim's suspension */
      /* the active units of one allocation are one shrink */
      uint32_t n = 0;
      for (size_t k = i; k < u->n; k++)
        if (u->v[k].alloc == x->alloc && u->v[k].active)
          {
            n += u->v[k].n;
            if (k != i)
              u->v[k].active = false;
          }
      alloc_t *a = &s->allocs[x->alloc];
      uint8_t role = a->role;
      uint32_t node = a->node;
      rc = mu_sched__release_part (s, x->alloc, n, b);
      if (rc == 0)
        rc = mu_sched__emit (s, MU_SCHED_SHRINK, x->v, role, node, n, b, why);
      if (used < sizeof b->reason)
        used += (size_t)snprintf (b->reason + used, sizeof b->reason - used,
                                  " job %s (shrink %u of role %s)", x->v->id, n,
                                  x->v->roles[role].name);
    }
  for (size_t i = 0; i < u->n && rc == 0; i++)
    {
      unit_t *x = &u->v[i];
      if (!x->active || x->alloc != NIL)
        continue;
      rc = mu_sched__suspend (s, x->v, b, why);
      if (used < sizeof b->reason)
        used += (size_t)snprintf (b->reason + used, sizeof b->reason - used,
                                  " job %s (suspend)", x->v->id);
    }
  return rc;
}

int
mu_sched__preempt (mu_sched_t *s, sjob_t *b, const uint32_t *need)
{
  size_t nv = 0;
  sjob_t **vict = malloc ((s->njobs + 1) * sizeof *vict);
  if (vict == NULL)
    return -ENOMEM;
  for (size_t i = 0; i < s->njobs; i++)
    {
      sjob_t *v = s->jobs[i];
      if (v == b || v->state != MU_SCHED_JOB_RUNNING
          || v->priority >= b->priority)
        continue;
      /* a job whose placements await their ack is not evicted yet */
      bool placing = false;
      for (uint32_t a = v->head; a != NIL && !placing; a = s->allocs[a].jnext)
        placing = s->allocs[a].state == A_PLACING;
      if (!placing)
        vict[nv++] = v;
    }
  if (nv == 0)
    {
      free (vict);
      return 0;
    }
  qsort (vict, nv, sizeof *vict, victim_cmp);
  units_t u = { 0 };
  int rc = 0;
  if (++s->cur_stamp == 0)
    {
      memset (s->stamp, 0, s->capscratch * sizeof *s->stamp);
      s->cur_stamp = 1;
    }
  for (uint32_t a = b->head; a != NIL; a = s->allocs[a].jnext)
    s->stamp[s->allocs[a].node] = s->cur_stamp;
  /* shrink units: replicas above min, on nodes the demand can use */
  for (size_t i = 0; i < nv && rc == 0; i++)
    {
      sjob_t *v = vict[i];
      if (!v->elastic)
        continue;
      for (size_t r = 0; r < v->nroles && rc == 0; r++)
        {
          uint32_t excess = v->roles[r].held - v->roles[r].min;
          if (v->roles[r].held <= v->roles[r].min)
            continue;
          /* nodes the demand already holds first (S4 packing) */
          for (int pass = 0; pass < 2; pass++)
            for (uint32_t a = v->head; a != NIL && excess > 0 && rc == 0;
                 a = s->allocs[a].jnext)
              {
                const alloc_t *x = &s->allocs[a];
                if (x->role != r || x->state == A_RELEASING
                    || (s->stamp[x->node] == s->cur_stamp) != (pass == 0)
                    || !useful (s, b, need, x->node))
                  continue;
                uint32_t n = x->n < excess ? x->n : excess;
                excess -= n;
                /* one replica per unit, so that no more is shrunk than needed
                 */
                for (uint32_t q = 0; q < n && rc == 0; q++)
                  rc = push (&u, (unit_t){ v, a, 1, -1, false });
              }
        }
    }
  /* suspend units */
  for (size_t i = 0; i < nv && rc == 0; i++)
    {
      int has = 0;
      for (uint32_t a = vict[i]->head; a != NIL && !has; a = s->allocs[a].jnext)
        has = s->allocs[a].state != A_RELEASING
              && useful (s, b, need, s->allocs[a].node);
      if (!has)
        continue;
      for (size_t k = 0; k < u.n; k++)
        if (u.v[k].v == vict[i] && u.v[k].alloc != NIL)
          u.v[k].sus = (int32_t)u.n;
      rc = push (&u, (unit_t){ vict[i], NIL, 0, -1, false });
    }
  free (vict);
  int fit = 0;
  if (rc == 0 && u.n > 0)
    {
      set_prefix (s, &u, u.n);
      fit = fits (s, b, need);
    }
  if (fit == 1)
    {
      /* shortest prefix that fits (bisection; lo fails, hi fits) */
      size_t lo = 0, hi = u.n;
      while (hi - lo > 1)
        {
          size_t mid = lo + (hi - lo) / 2;
          set_prefix (s, &u, mid);
          int f = fits (s, b, need);
          if (f < 0)
            {
              rc = f;
              break;
            }
          if (f)
            hi = mid;
          else
            lo = mid;
        }
      set_prefix (s, &u, hi);
      /* drop what is not needed, latest first */
      for (size_t i = hi; i-- > 0 && rc == 0;)
        {
          unit_t *x = &u.v[i];
          if (x->alloc != NIL && x->sus >= 0 && u.v[x->sus].active)
            continue;
          apply (s, &u, i, -1);
          x->active = false;
          int f = fits (s, b, need);
          if (f != 1)
            {
              apply (s, &u, i, 1);
              x->active = true;
            }
        }
      /* reserve the free slots the final plan counts on */
      if (rc == 0 && mu_sched__fit (s, b, need, -1, 0) == 1)
        {
          for (size_t i = 0; i < s->plan.n; i++)
            {
              uint32_t k = s->plan.v[i].node;
              if (s->take[k] == 0)
                continue; /* node already handled */
              snode_t *x = s->nodes[k];
              int64_t mine = 0;
              for (size_t q = 0; q < b->nresv; q++)
                if (b->resv[q].node == k)
                  mine = b->resv[q].slots;
              int64_t want = (int64_t)s->take[k] - mine;
              int64_t fr = (int64_t)x->slots - x->used - x->reserved;
              int64_t r = want < fr ? want : fr;
              s->take[k] = 0;
              if (r > 0 && (rc = mu_sched__resv_add (b, k, (uint32_t)r)) == 0)
                {
                  x->reserved += (uint32_t)r;
                  s->extra[k] += r; /* the caller unloads b's reservations */
                }
            }
          mu_sched__plan_untake (s);
          s->plan.n = 0;
        }
    }
  if (rc == 0 && fit == 1)
    {
      /* the chosen units stay marked active; their slots leave s->extra
       * before the decisions change the allocations */
      for (size_t i = 0; i < u.n; i++)
        if (u.v[i].active)
          apply (s, &u, i, -1);
      rc = decide (s, b, &u);
    }
  else
    set_prefix (s, &u, 0);
  free (u.v);
  return rc < 0 ? rc : fit;
}
