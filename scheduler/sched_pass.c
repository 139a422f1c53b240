/*
 * sched_pass.c — one scheduling pass (mu_sched_tick): the rules of sched.h
 * applied in this order, each step seeing what the previous decided:
 *
 *  1. quota rejections (S7): queued jobs whose minimum no longer fits
 *     their tenant's quota leave with MU_SCHED_REJECT;
 *  2. drains: the work of draining nodes moves (replacements placed
 *     elsewhere, then the drained replicas shrunk), shrinks (elastic,
 *     above min) or, when neither is possible, its job is suspended;
 *  3. repairs (S2): a running job below a role's min after a lost node or
 *     a failed placement gets replacements, or is suspended;
 *  4. services above their target shrink to it;
 *  5. demands in queue order (S1): queued jobs at their min (S2), services
 *     below target; each is placed, or preempts (S5), or gets its reason;
 *  6. growth (S3) of elastic jobs toward max, when no demand waits for
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
      snprintf (why, sizeof why, "job %s needs %u slots at its minimum; tenant "
                "%s's quota is now %u slots", j->id, need, j->tenant, t->quota);
      int rc = mu_sched__emit (s, MU_SCHED_REJECT, j, -1, 0, 0, NULL, why);
      if (rc == 0)
        rc = mu_sched_job_end (s, j->id);
      if (rc != 0)
        return rc;
      i--;
    }
  return 0;
}

static int
drain_node (mu_sched_t *s, uint32_t k)
{
  char why[MU_SCHED_REASON_MAX];
  snprintf (why, sizeof why, "node %s is draining", s->nodes[k]->id);
  int rc = 0;
  uint32_t a = s->nodes[k]->head;
  while (a != NIL && rc == 0)
    {
      alloc_t *x = &s->allocs[a];
      uint32_t next = x->nnext;
      sjob_t *j = x->job;
      if (x->state == A_RELEASING || j->state != MU_SCHED_JOB_RUNNING)
        {
          a = next;
          continue;
        }
      uint8_t r = x->role;
      uint32_t n = x->n;
      srole_t *role = &j->roles[r];
      if (j->elastic && role->held - n >= role->min)
        {
          rc = mu_sched__release_part (s, a, n, NULL);
          if (rc == 0)
            rc = mu_sched__emit (s, MU_SCHED_SHRINK, j, r, k, n, NULL, why);
          a = s->nodes[k]->head; /* the list changed */
          continue;
        }
      uint32_t need[MU_SCHED_MAX_ROLES] = { 0 };
      need[r] = n;
      mu_sched__extra_resv (s, j, 1);
      int f = mu_sched__fit (s, j, need, (int32_t)k, 0);
      mu_sched__extra_resv (s, j, -1);
      if (f == 1)
        {
          mu_sched__resv_clear (s, j);
          rc = mu_sched__plan_apply (s, j, MU_SCHED_GROW);
          if (rc == 0)
            rc = mu_sched__release_part (s, a, n, NULL);
          if (rc == 0)
            rc = mu_sched__emit (s, MU_SCHED_SHRINK, j, r, k, n, NULL, why);
        }
      else if (f == 0)
        {
          char w[MU_SCHED_REASON_MAX];
          snprintf (w, sizeof w, "node %s is draining and its replicas fit "
                    "nowhere else", s->nodes[k]->id);
          rc = mu_sched__suspend (s, j, NULL, w);
        }
      else
        rc = f;
      a = s->nodes[k]->head;
    }
  return rc;
}

static int
repair (mu_sched_t *s, sjob_t *j)
{
  j->lost_member = false;
  uint32_t need[MU_SCHED_MAX_ROLES] = { 0 };
  int below = 0;
  for (size_t r = 0; r < j->nroles; r++)
    if (j->roles[r].held < j->roles[r].min)
      {
        need[r] = j->roles[r].min - j->roles[r].held;
        below = 1;
      }
  if (!below)
    return 0;
  mu_sched__extra_resv (s, j, 1);
  int f = mu_sched__fit (s, j, need, -1, 0);
  mu_sched__extra_resv (s, j, -1);
  if (f == 1)
    {
      mu_sched__resv_clear (s, j);
      return mu_sched__plan_apply (s, j, MU_SCHED_GROW);
    }
  if (f < 0)
    return f;
  return mu_sched__suspend (s, j, NULL, "below its minimum after losing "
                            "replicas, with no room to replace them");
}

static int
service_scale_down (mu_sched_t *s, sjob_t *j)
{
  int rc = 0;
  for (size_t r = 0; r < j->nroles && rc == 0; r++)
    {
      srole_t *role = &j->roles[r];
      if (role->held <= role->target)
        continue;
      char why[MU_SCHED_REASON_MAX];
      snprintf (why, sizeof why, "role %s scaled to %u", role->name, role->target);
      uint32_t a = j->head;
      while (a != NIL && role->held > role->target && rc == 0)
        {
          alloc_t *x = &s->allocs[a];
          uint32_t next = x->jnext;
          if (x->role == r && x->state != A_RELEASING)
            {
              uint32_t n = role->held - role->target;
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

static int
serve (mu_sched_t *s, sjob_t *b)
{
  bool pending = queued (b);
  uint32_t need[MU_SCHED_MAX_ROLES] = { 0 };
  uint32_t slots = 0;
  for (size_t r = 0; r < b->nroles; r++)
    {
      const srole_t *x = &b->roles[r];
      need[r] = pending ? x->min : (x->target > x->held ? x->target - x->held : 0);
      slots += need[r] * x->slots;
    }
  tenant_t *t = mu_sched__tenant (s, b->tenant, 0);
  if (t && t->quota && t->used + slots > t->quota)
    {
      if (pending)
        {
          snprintf (b->reason, sizeof b->reason, "tenant %s is at its quota: %u "
                    "of %u slots in use, the job needs %u", b->tenant, t->used,
                    t->quota, slots);
          return 0;
        }
      slots = quota_trim (s, b, need);
      if (slots == 0)
        return 0;
    }
  mu_sched__extra_resv (s, b, 1);
  int f = mu_sched__fit (s, b, need, -1, 0);
  if (f == 1)
    {
      mu_sched__extra_resv (s, b, -1);
      mu_sched__resv_clear (s, b);
      int rc = 0;
      if (b->state == MU_SCHED_JOB_SUSPENDED)
        rc = mu_sched__emit (s, MU_SCHED_RESUME, b, -1, 0, 0, NULL, NULL);
      b->state = MU_SCHED_JOB_RUNNING;
      b->reason[0] = '\0';
      return rc ? rc : mu_sched__plan_apply (s, b, pending ? MU_SCHED_PLACE
                                                             : MU_SCHED_GROW);
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
  for (size_t k = 0; k < s->nnodes && rc == 0; k++)
    if (s->nodes[k]->in_use && s->nodes[k]->state == MU_SCHED_NODE_DRAINING
        && s->nodes[k]->head != NIL)
      rc = drain_node (s, (uint32_t)k);
  sjob_t **q = rc == 0 ? malloc ((s->njobs + 1) * sizeof *q) : NULL;
  if (rc == 0 && q == NULL)
    rc = -ENOMEM;
  size_t nq = 0;
  for (size_t i = 0; i < s->njobs && rc == 0; i++)
    {
      sjob_t *j = s->jobs[i];
      j->blocked = false;
      if (j->state == MU_SCHED_JOB_RUNNING && j->lost_member)
        rc = repair (s, j);
      if (rc == 0 && j->state == MU_SCHED_JOB_RUNNING
          && j->kind == MU_SCHED_SERVICE)
        rc = service_scale_down (s, j);
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
