/*
 * sched_pass.c — one scheduling pass (mu_sched_tick): the rules of sched.h
 * applied in this order, each step seeing what the previous decided:
 *
 *  1. quota rejections (S7): queued jobs whose minimum no longer fits
 *     their tenant's quota leave with MU_SCHED_REJECT;
 *  2. repairs and drains, one plan per job: a running job below a role's
 *     min after a lost node or a failed placement (S2), and the work of
 *     draining nodes, get replacements on ready nodes, else the job is
 *     suspended; replicas on draining nodes are then shrunk (one plan, so
 *     a job is never grown and suspended in one tick);
 *  3. services above their target, and jobs above a role's max (scaled
 *     down: mu_sched_set_range), shrink to it;
 *  4. demands in queue order (S1): queued jobs at their min (S2), services
 *     below target; each is placed, or preempts (S5), or gets its reason;
 *  5. growth (S3) of elastic jobs toward max, when no demand waits for
 *     capacity.
 */
#include "scheduler/sched_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
queue_cmp (const void *a, const void *b)
{
  const sjob_t *x = *(sjob_t *const *)a, *y = *(sjob_t *const *)b;
  if (x->priority != y->priority)
    return x->priority > y->priority ? -1 : 1;
  if (x->submit_ms != y->submit_ms)
    return x->submit_ms < y->submit_ms ? -1 : 1;
  return x->seq < y->seq ? -1 : (x->seq > y->seq);
}

static bool
queued (const sjob_t *j)
{
  return j->state == MU_SCHED_JOB_PENDING || j->state == MU_SCHED_JOB_SUSPENDED;
}

static int
reject_over_quota (mu_sched_t *s)
{
  for (size_t i = 0; i < s->njobs; i++)
    {
      sjob_t *j = s->jobs[i];
      tenant_t *t = mu_sched__tenant (s, j->tenant, 0);
      uint32_t need = mu_sched__min_slots (j);
      if (!queued (j) || t == NULL || t->quota == 0 || need <= t->quota)
        continue;
      char why[MU_SCHED_REASON_MAX];
      snprintf (why, sizeof why,
                "job %s needs %u slots at its minimum; tenant "
                "%s's quota is now %u slots",
                j->id, need, j->tenant, t->quota);
      int rc = mu_sched__emit (s, MU_SCHED_REJECT, j, -1, 0, 0, NULL, why);
      if (rc == 0)
        rc = mu_sched_job_end (s, j->id);
      if (rc != 0)
        return rc;
      i--;
    }
  return 0;
}

/* Does the tenant of j have room for need[] more replicas (S7)? */
static bool
quota_room (mu_sched_t *s, const sjob_t *j, const uint32_t *need)
{
  tenant_t *t = mu_sched__tenant (s, j->tenant, 0);
  uint32_t slots = 0;
  for (size_t r = 0; r < j->nroles; r++)
    slots += need[r] * j->roles[r].slots;
  return t == NULL || t->quota == 0 || t->used + slots <= t->quota;
}

static bool
draining (const mu_sched_t *s, uint32_t k)
{
  return s->nodes[k]->state == MU_SCHED_NODE_DRAINING;
}

/* Repair job j (S2) and move it off draining nodes, with one plan for
 * both so that a job is never grown and suspended in one tick.  A role
 * must keep its min (an elastic job) or its current size (a fixed one)
 * without the replicas on draining nodes and those lost: what is missing
 * is placed on ready nodes, or, when it does not fit (or the tenant's
 * quota has no room), the job is suspended.  Then the replicas on draining
 * nodes are shrunk. */
static int
repair_job (mu_sched_t *s, sjob_t *j)
{
  uint32_t on[MU_SCHED_MAX_ROLES] = { 0 }, need[MU_SCHED_MAX_ROLES] = { 0 };
  int any = j->lost_member, move = 0;
  j->lost_member = false;
  for (uint32_t a = j->head; a != NIL; a = s->allocs[a].jnext)
    if (s->allocs[a].state != A_RELEASING && draining (s, s->allocs[a].node))
      {
        on[s->allocs[a].role] += s->allocs[a].n;
        any = 1;
      }
  if (!any)
    return 0;
  for (size_t r = 0; r < j->nroles; r++)
    {
      const srole_t *x = &j->roles[r];
      uint32_t keep = x->held - on[r];
      uint32_t want = x->min;
      if (on[r] && !j->elastic && x->held > x->min)
        want = x->held;
      need[r] = want > keep ? want - keep : 0;
      move |= need[r] > 0;
    }
  if (move && !quota_room (s, j, need))
    return mu_sched__suspend (s, j, NULL,
                              "it lost replicas or its nodes are "
                              "draining, and its tenant's quota leaves no room "
                              "to replace them");
  if (move)
    {
      mu_sched__extra_resv (s, j, 1);
      int f = mu_sched__fit (s, j, need, -1, 0);
      mu_sched__extra_resv (s, j, -1);
      if (f < 0)
        return f;
      if (f == 0)
        return mu_sched__suspend (s, j, NULL,
                                  "it lost replicas or its nodes "
                                  "are draining, and the replicas fit nowhere "
                                  "else");
      mu_sched__resv_clear (s, j);
      int rc = mu_sched__plan_apply (s, j, MU_SCHED_GROW);
      if (rc != 0)
        return rc;
    }
  int rc = 0;
  uint32_t a = j->head;
  while (a != NIL && rc == 0)
    {
      alloc_t *x = &s->allocs[a];
      uint32_t next = x->jnext;
      if (x->state != A_RELEASING && draining (s, x->node))
        {
          char why[MU_SCHED_REASON_MAX];
          uint8_t r = x->role;
          uint32_t node = x->node, n = x->n;
          snprintf (why, sizeof why, "node %s is draining", s->nodes[node]->id);
          rc = mu_sched__release_part (s, a, n, NULL);
          if (rc == 0)
            rc = mu_sched__emit (s, MU_SCHED_SHRINK, j, r, node, n, NULL, why);
        }
      a = next;
    }
  return rc;
}

static int
scale_down (mu_sched_t *s, sjob_t *j)
{
  int rc = 0;
  for (size_t r = 0; r < j->nroles && rc == 0; r++)
    {
      srole_t *role = &j->roles[r];
      uint32_t cap = j->kind == MU_SCHED_SERVICE ? role->target : role->max;
      if (role->held <= cap)
        continue;
      char why[MU_SCHED_REASON_MAX];
      snprintf (why, sizeof why, "role %s scaled to %u", role->name, cap);
      uint32_t a = j->head;
      while (a != NIL && role->held > cap && rc == 0)
        {
          alloc_t *x = &s->allocs[a];
          uint32_t next = x->jnext;
          if (x->role == r && x->state != A_RELEASING)
            {
              uint32_t n = role->held - cap;
              if (n > x->n)
                n = x->n;
              uint32_t node = x->node;
              rc = mu_sched__release_part (s, a, n, NULL);
              if (rc == 0)
                rc = mu_sched__emit (s, MU_SCHED_SHRINK, j, (int)r, node, n,
                                     NULL, why);
              a = j->head;
              continue;
            }
          a = next;
        }
    }
  return rc;
}

/* Trim need[] so that the job's tenant stays within its quota; returns the
 * slots need[] asks for. */
static uint32_t
quota_trim (mu_sched_t *s, const sjob_t *j, uint32_t *need)
{
  tenant_t *t = mu_sched__tenant (s, j->tenant, 0);
  uint32_t left = t && t->quota ? (t->quota > t->used ? t->quota - t->used : 0)
                                : UINT32_MAX;
  uint32_t total = 0;
  for (size_t r = 0; r < j->nroles; r++)
    {
      uint32_t can = left / j->roles[r].slots;
      if (need[r] > can)
        need[r] = can;
      left -= need[r] * j->roles[r].slots;
      total += need[r] * j->roles[r].slots;
    }
  return total;
}

/* S6: a reservation yields to a demand of higher priority that does not
 * fit without it; the lower job plans again on its turn.  1 if any was
 * dropped. */
static int
yield_reservations (mu_sched_t *s, const sjob_t *b)
{
  int any = 0;
  for (size_t i = 0; i < s->njobs; i++)
    {
      sjob_t *j = s->jobs[i];
      if (j->nresv > 0 && j->priority < b->priority)
        {
          mu_sched__resv_clear (s, j);
          any = 1;
        }
    }
  return any;
}

static int
serve (mu_sched_t *s, sjob_t *b)
{
  bool pending = queued (b);
  uint32_t need[MU_SCHED_MAX_ROLES] = { 0 };
  uint32_t slots = 0;
  for (size_t r = 0; r < b->nroles; r++)
    {
      const srole_t *x = &b->roles[r];
      need[r]
          = pending ? x->min : (x->target > x->held ? x->target - x->held : 0);
      slots += need[r] * x->slots;
    }
  tenant_t *t = mu_sched__tenant (s, b->tenant, 0);
  if (t && t->quota && t->used + slots > t->quota)
    {
      if (pending)
        {
          snprintf (b->reason, sizeof b->reason,
                    "tenant %s is at its quota: %u "
                    "of %u slots in use, the job needs %u",
                    b->tenant, t->used, t->quota, slots);
          return 0;
        }
      slots = quota_trim (s, b, need);
      if (slots == 0)
        return 0;
    }
  mu_sched__extra_resv (s, b, 1);
  int f = mu_sched__fit (s, b, need, -1, 0);
  if (f == 0 && yield_reservations (s, b))
    f = mu_sched__fit (s, b, need, -1, 0);
  if (f == 1)
    {
      mu_sched__extra_resv (s, b, -1);
      mu_sched__resv_clear (s, b);
      int rc = 0;
      if (b->state == MU_SCHED_JOB_SUSPENDED)
        rc = mu_sched__emit (s, MU_SCHED_RESUME, b, -1, 0, 0, NULL, NULL);
      b->state = MU_SCHED_JOB_RUNNING;
      b->reason[0] = '\0';
      return rc ? rc
                : mu_sched__plan_apply (
                    s, b, pending ? MU_SCHED_PLACE : MU_SCHED_GROW);
    }
  b->blocked = true;
  if (f == 0 && b->inflight > 0)
    {
      mu_sched__extra_resv (s, b, -1);
      return 0; /* its reason says what it waits for */
    }
  int p = f < 0 ? f : mu_sched__preempt (s, b, need);
  if (p == 0)
    mu_sched__reason (s, b, need);
  mu_sched__extra_resv (s, b, -1);
  if (p == 0 && !pending)
    {
      /* a service takes what fits now, replica by replica */
      int g = mu_sched__fit (s, b, need, -1, 1);
      if (g == 1)
        return mu_sched__plan_apply (s, b, MU_SCHED_GROW);
    }
  return p < 0 ? p : 0;
}

static int
grow_elastic (mu_sched_t *s, sjob_t *j)
{
  uint32_t need[MU_SCHED_MAX_ROLES] = { 0 };
  uint32_t any = 0;
  for (size_t r = 0; r < j->nroles; r++)
    {
      need[r] = j->roles[r].max - j->roles[r].held;
      any += need[r];
    }
  if (any == 0 || quota_trim (s, j, need) == 0)
    return 0;
  int f = mu_sched__fit (s, j, need, -1, 1);
  if (f == 1)
    return mu_sched__plan_apply (s, j, MU_SCHED_GROW);
  return f < 0 ? f : 0;
}

int
mu_sched__pass (mu_sched_t *s)
{
  int rc = mu_sched__scratch (s);
  if (rc == 0)
    rc = reject_over_quota (s);
  for (size_t i = 0; i < s->njobs && rc == 0; i++)
    if (s->jobs[i]->state == MU_SCHED_JOB_RUNNING)
      rc = repair_job (s, s->jobs[i]);
  sjob_t **q = rc == 0 ? malloc ((s->njobs + 1) * sizeof *q) : NULL;
  if (rc == 0 && q == NULL)
    rc = -ENOMEM;
  size_t nq = 0;
  for (size_t i = 0; i < s->njobs && rc == 0; i++)
    {
      sjob_t *j = s->jobs[i];
      j->blocked = false;
      if (j->state == MU_SCHED_JOB_RUNNING)
        rc = scale_down (s, j);
      q[nq++] = j;
    }
  if (rc == 0)
    qsort (q, nq, sizeof *q, queue_cmp);
  bool blocked = false;
  for (size_t i = 0; i < nq && rc == 0; i++)
    {
      sjob_t *j = q[i];
      bool want = queued (j);
      if (j->state == MU_SCHED_JOB_RUNNING && j->kind == MU_SCHED_SERVICE)
        for (size_t r = 0; r < j->nroles; r++)
          want = want || j->roles[r].held < j->roles[r].target;
      if (!want)
        continue;
      bool was_queued = queued (j);
      rc = serve (s, j);
      /* a service just admitted at its min goes on toward its target */
      if (rc == 0 && was_queued && j->state == MU_SCHED_JOB_RUNNING
          && j->kind == MU_SCHED_SERVICE)
        rc = serve (s, j);
      blocked = blocked || j->blocked;
    }
  for (size_t i = 0; i < nq && rc == 0 && !blocked; i++)
    if (q[i]->state == MU_SCHED_JOB_RUNNING && q[i]->elastic
        && q[i]->kind != MU_SCHED_SERVICE)
      rc = grow_elastic (s, q[i]);
  free (q);
  return rc;
}
