/*
 * sched_events.c — what changes the scheduler between passes: the
 * inventory (node add, update, remove, cordon, drain), quotas, jobs
 * (submit, end, scale) and the caller's acks of decisions, plus the
 * queries.  Events only record; decisions come from the next
 * mu_sched_tick() (sched_pass.c).  A removed node's allocations vanish at
 * once (its jobs are repaired at the next tick); an acked release goes to
 * the reservation of the job it was made for (S6 of sched.h).
 */
#include "scheduler/sched_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <muster/error.h>

#include "common/util.h"

/* ------------------------------------------------------------- inventory */

static int
set_labels (mu_sched_t *s, snode_t *x, const char *const *labels, size_t n,
            char *err, size_t errlen)
{
  if (n > MU_SCHED_MAX_LABELS)
    return mu_sched__fail (err, errlen, MUSTER_EINVAL,
                           "node %s: %zu labels, at most %d", x->id, n,
                           MU_SCHED_MAX_LABELS);
  for (size_t i = 0; i < n; i++)
    if (labels[i] == NULL || strchr (labels[i], '=') == NULL
        || labels[i][0] == '=')
      return mu_sched__fail (err, errlen, MUSTER_EINVAL,
                             "node %s: label '%s' is not key=value", x->id,
                             labels[i] ? labels[i] : "(null)");
  x->nlabels = 0;
  for (size_t k = 0; k < MU_SCHED_MAX_TOPOLOGY; k++)
    x->topo[k] = -1;
  for (size_t i = 0; i < n; i++)
    {
      int id = mu_sched__label_id (s, labels[i], 1);
      if (id < 0)
        return id;
      x->labels[x->nlabels++] = id;
      size_t kl = (size_t)(strchr (labels[i], '=') - labels[i]);
      for (size_t k = 0; k < s->ntopo; k++)
        if (strlen (s->topo_key[k]) == kl
            && strncmp (s->topo_key[k], labels[i], kl) == 0)
          x->topo[k] = id;
    }
  return 0;
}

int
mu_sched_node_add (mu_sched_t *s, const char *node, uint32_t slots,
                   const char *const *labels, size_t nlabels, char *err,
                   size_t errlen)
{
  uint32_t k;
  if (node == NULL || !*node || strlen (node) >= MU_SCHED_NAME_MAX)
    return mu_sched__fail (err, errlen, MUSTER_EINVAL,
                           "node id missing or longer than %d",
                           MU_SCHED_NAME_MAX - 1);
  if (mu_sched__node_get (s, node, &k))
    return mu_sched__fail (err, errlen, MUSTER_EEXIST, "node %s already added",
                           node);
  if (mu_sched__grow ((void **)&s->nodes, &s->capnodes, s->nnodes + 1,
                      sizeof *s->nodes)
      != 0)
    return -ENOMEM;
  snode_t *x = calloc (1, sizeof *x);
  if (x == NULL)
    return -ENOMEM;
  mu_strlcpy (x->id, node, sizeof x->id);
  x->in_use = true;
  x->slots = slots;
  x->head = NIL;
  int rc = set_labels (s, x, labels, nlabels, err, errlen);
  if (rc == 0)
    {
      s->nodes[s->nnodes] = x;
      rc = mu_smap_put (s->node_ix, node, (void *)(uintptr_t)(s->nnodes + 1),
                        NULL);
    }
  if (rc != 0)
    {
      free (x);
      return rc;
    }
  s->nnodes++;
  return mu_sched__scratch (s);
}

int
mu_sched_node_update (mu_sched_t *s, const char *node, uint32_t slots,
                      const char *const *labels, size_t nlabels, char *err,
                      size_t errlen)
{
  uint32_t k;
  snode_t *x = node ? mu_sched__node_get (s, node, &k) : NULL;
  if (x == NULL)
    return mu_sched__fail (err, errlen, MUSTER_ENOTFOUND, "no node %s",
                           node ? node : "");
  if (slots < x->used + x->reserved)
    return mu_sched__fail (
        err, errlen, MUSTER_EINVAL,
        "node %s holds %u slots; it cannot shrink to %u (drain it first)", node,
        x->used + x->reserved, slots);
  int rc = set_labels (s, x, labels, nlabels, err, errlen);
  if (rc == 0)
    x->slots = slots;
  return rc;
}

int
mu_sched_node_remove (mu_sched_t *s, const char *node)
{
  uint32_t k;
  snode_t *x = node ? mu_sched__node_get (s, node, &k) : NULL;
  if (x == NULL)
    return MUSTER_ENOTFOUND;
  while (x->head != NIL)
    {
      alloc_t *a = &s->allocs[x->head];
      a->job->lost_member = true;
      mu_sched__alloc_free (s, x->head);
    }
  for (size_t i = 0; i < s->njobs; i++)
    {
      sjob_t *j = s->jobs[i];
      for (size_t r = 0; r < j->nresv; r++)
        if (j->resv[r].node == k)
          j->resv[r--] = j->resv[--j->nresv];
    }
  mu_smap_del (s->node_ix, node);
  x->in_use = false;
  x->slots = x->used = x->reserved = 0;
  x->state = MU_SCHED_NODE_CORDONED;
  x->id[0] = '\0';
  return 0;
}

int
mu_sched_node_set_state (mu_sched_t *s, const char *node,
                         mu_sched_node_state_t state)
{
  uint32_t k;
  snode_t *x = node ? mu_sched__node_get (s, node, &k) : NULL;
  if (x == NULL)
    return MUSTER_ENOTFOUND;
  if (state > MU_SCHED_NODE_DRAINING)
    return MUSTER_EINVAL;
  x->state = state;
  return 0;
}

int
mu_sched_quota_set (mu_sched_t *s, const char *tenant, uint32_t slots)
{
  tenant_t *t = mu_sched__tenant (s, tenant ? tenant : "default", 1);
  if (t == NULL)
    return -ENOMEM;
  t->quota = slots;
  return 0;
}

uint32_t
mu_sched_tenant_used (const mu_sched_t *s, const char *tenant)
{
  tenant_t *t = mu_smap_get (s->tenants, tenant ? tenant : "default");
  return t ? t->used : 0;
}

/* ------------------------------------------------------------------ jobs */

static int
copy_role (mu_sched_t *s, const mu_sched_job_t *job, size_t i, srole_t *r,
           char *err, size_t errlen)
{
  const mu_sched_role_t *in = &job->roles[i];
  const char *nm = in->name && *in->name ? in->name : "worker";
  if (strlen (nm) >= MU_SCHED_NAME_MAX)
    return mu_sched__fail (err, errlen, MUSTER_EINVAL,
                           "job %s: roles[%zu].name is too long", job->id, i);
  mu_strlcpy (r->name, nm, sizeof r->name);
  if (in->max < 1 || in->min > in->max)
    return mu_sched__fail (
        err, errlen, MUSTER_EINVAL,
        "job %s: role %s: replicas %u:%u (need 0 <= min <= max, max >= 1)",
        job->id, nm, in->min, in->max);
  if (in->slots < 1)
    return mu_sched__fail (err, errlen, MUSTER_EINVAL,
                           "job %s: role %s: slots must be >= 1", job->id, nm);
  if (in->nselector > MU_SCHED_MAX_LABELS)
    return mu_sched__fail (err, errlen, MUSTER_EINVAL,
                           "job %s: role %s: more than %d labels", job->id, nm,
                           MU_SCHED_MAX_LABELS);
  if (in->target && (in->target < in->min || in->target > in->max))
    return mu_sched__fail (err, errlen, MUSTER_EINVAL,
                           "job %s: role %s: target %u outside %u:%u", job->id,
                           nm, in->target, in->min, in->max);
  r->min = in->min;
  r->max = in->max;
  r->slots = in->slots;
  r->target = in->target ? in->target : in->min;
  size_t used = 0;
  for (size_t k = 0; k < in->nselector; k++)
    {
      const char *kv = in->selector[k];
      if (kv == NULL || strchr (kv, '=') == NULL || kv[0] == '=')
        return mu_sched__fail (err, errlen, MUSTER_EINVAL,
                               "job %s: role %s: label '%s' is not key=value",
                               job->id, nm, kv ? kv : "(null)");
      int id = mu_sched__label_id (s, kv, 1);
      if (id < 0)
        return id;
      r->sel[r->nsel++] = id;
      used += (size_t)snprintf (
          r->sel_text + used,
          used < sizeof r->sel_text ? sizeof r->sel_text - used : 0, "%s%s",
          k ? "," : "", kv);
    }
  return 0;
}

int
mu_sched_submit (mu_sched_t *s, const mu_sched_job_t *job, uint64_t now_ms,
                 char *err, size_t errlen)
{
  if (job == NULL || job->id == NULL || !*job->id
      || strlen (job->id) >= MU_SCHED_NAME_MAX)
    return mu_sched__fail (err, errlen, MUSTER_EINVAL,
                           "job id missing or longer than %d",
                           MU_SCHED_NAME_MAX - 1);
  if (mu_sched__job_get (s, job->id))
    return mu_sched__fail (err, errlen, MUSTER_EEXIST,
                           "job %s is already queued or running", job->id);
  if (job->nroles < 1 || job->nroles > MU_SCHED_MAX_ROLES)
    return mu_sched__fail (err, errlen, MUSTER_EINVAL,
                           "job %s: %zu roles (1..%d)", job->id, job->nroles,
                           MU_SCHED_MAX_ROLES);
  const char *tn = job->tenant && *job->tenant ? job->tenant : "default";
  if (strlen (tn) >= MU_SCHED_NAME_MAX)
    return mu_sched__fail (err, errlen, MUSTER_EINVAL,
                           "job %s: tenant name too long", job->id);
  sjob_t *j = calloc (1, sizeof *j);
  if (j == NULL)
    return -ENOMEM;
  mu_strlcpy (j->id, job->id, sizeof j->id);
  mu_strlcpy (j->tenant, tn, sizeof j->tenant);
  j->priority = job->priority;
  j->submit_ms = now_ms;
  j->seq = ++s->seq;
  j->kind = job->kind;
  j->elastic = job->elastic;
  j->head = NIL;
  j->state = MU_SCHED_JOB_PENDING;
  int rc = 0;
  for (size_t i = 0; i < job->nroles && rc == 0; i++)
    {
      for (size_t k = 0; k < i && rc == 0; k++)
        if (job->roles[k].name && job->roles[i].name
            && strcmp (job->roles[k].name, job->roles[i].name) == 0)
          rc = mu_sched__fail (err, errlen, MUSTER_EINVAL,
                               "job %s: role %s appears twice", job->id,
                               job->roles[i].name);
      if (rc == 0)
        rc = copy_role (s, job, i, &j->roles[i], err, errlen);
    }
  j->nroles = job->nroles;
  tenant_t *t = rc == 0 ? mu_sched__tenant (s, tn, 1) : NULL;
  if (rc == 0 && t == NULL)
    rc = -ENOMEM;
  uint32_t need = rc == 0 ? mu_sched__min_slots (j) : 0;
  if (rc == 0 && t->quota && need > t->quota)
    rc = mu_sched__fail (
        err, errlen, MUSTER_EQUOTA,
        "job %s needs %u slots at its minimum; tenant %s's quota is %u slots",
        job->id, need, tn, t->quota);
  if (rc == 0)
    rc = mu_sched__grow ((void **)&s->jobs, &s->capjobs, s->njobs + 1,
                         sizeof *s->jobs);
  if (rc == 0)
    rc = mu_smap_put (s->job_ix, j->id, j, NULL);
  if (rc != 0)
    {
      free (j);
      return rc;
    }
  snprintf (j->reason, sizeof j->reason, "queued; not scheduled yet");
  s->jobs[s->njobs++] = j;
  return 0;
}

int
mu_sched_job_end (mu_sched_t *s, const char *job)
{
  sjob_t *j = mu_sched__job_get (s, job);
  if (j == NULL)
    return MUSTER_ENOTFOUND;
  while (j->head != NIL)
    mu_sched__alloc_free (s, j->head);
  mu_sched__resv_clear (s, j);
  /* releases decided for it now free their slots for everyone */
  for (size_t a = 0; a < s->nallocs; a++)
    if (s->allocs[a].job && s->allocs[a].for_job == j)
      s->allocs[a].for_job = NULL;
  for (size_t i = 0; i < s->njobs; i++)
    if (s->jobs[i] == j)
      {
        memmove (&s->jobs[i], &s->jobs[i + 1],
                 (s->njobs - i - 1) * sizeof *s->jobs);
        s->njobs--;
        break;
      }
  mu_smap_del (s->job_ix, j->id);
  free (j->resv);
  free (j);
  return 0;
}

static int
role_ix (const sjob_t *j, const char *role)
{
  for (size_t r = 0; r < j->nroles; r++)
    if (role && strcmp (j->roles[r].name, role) == 0)
      return (int)r;
  return -1;
}

int
mu_sched_scale (mu_sched_t *s, const char *job, const char *role,
                uint32_t target, char *err, size_t errlen)
{
  sjob_t *j = mu_sched__job_get (s, job);
  if (j == NULL)
    return mu_sched__fail (err, errlen, MUSTER_ENOTFOUND, "no job %s",
                           job ? job : "");
  int r = role_ix (j, role);
  if (r < 0)
    return mu_sched__fail (err, errlen, MUSTER_ENOTFOUND,
                           "job %s has no role %s", job, role ? role : "");
  srole_t *x = &j->roles[r];
  if (target < x->min || target > x->max)
    return mu_sched__fail (
        err, errlen, MUSTER_EINVAL,
        "job %s: role %s: target %u outside its replicas %u:%u", job, role,
        target, x->min, x->max);
  x->target = target;
  return 0;
}

int
mu_sched_set_range (mu_sched_t *s, const char *job, const char *role,
                    uint32_t min, uint32_t max, char *err, size_t errlen)
{
  sjob_t *j = mu_sched__job_get (s, job);
  if (j == NULL)
    return mu_sched__fail (err, errlen, MUSTER_ENOTFOUND, "no job %s",
                           job ? job : "");
  int r = role_ix (j, role);
  if (r < 0)
    return mu_sched__fail (err, errlen, MUSTER_ENOTFOUND,
                           "job %s has no role %s", job, role ? role : "");
  if (max < 1 || min > max)
    return mu_sched__fail (err, errlen, MUSTER_EINVAL,
                           "job %s: role %s: replicas %u:%u (need 0 <= min "
                           "<= max, max >= 1)", job, role, min, max);
  srole_t *x = &j->roles[r];
  x->min = min;
  x->max = max;
  if (x->target < min)
    x->target = min;
  if (x->target > max)
    x->target = max;
  if (min < max)
    j->elastic = true;
  return 0;
}

/* ------------------------------------------------------------------ acks */

/* j's allocation of role on node in state (releasing: of a shrink, not of
 * a suspension), or -1. */
static int
find_alloc (mu_sched_t *s, sjob_t *j, int role, uint32_t node, int state)
{
  for (uint32_t a = j->head; a != NIL; a = s->allocs[a].jnext)
    if (s->allocs[a].role == role && s->allocs[a].node == node
        && s->allocs[a].state == state && !s->allocs[a].by_suspend)
      return (int)a;
  return -1;
}

int
mu_sched_ack_placed (mu_sched_t *s, const char *job, const char *role,
                     const char *node, bool ok)
{
  sjob_t *j = mu_sched__job_get (s, job);
  uint32_t k;
  if (j == NULL || node == NULL || mu_sched__node_get (s, node, &k) == NULL)
    return MUSTER_ENOTFOUND;
  int r = role_ix (j, role);
  int a = r < 0 ? -1 : find_alloc (s, j, r, k, A_PLACING);
  if (a < 0 && r >= 0 && find_alloc (s, j, r, k, A_RUNNING) >= 0)
    return 0; /* placements there were merged and are acked already */
  if (a < 0)
    return MUSTER_ENOTFOUND;
  if (!ok)
    {
      mu_sched__alloc_free (s, (uint32_t)a);
      j->lost_member = true;
      return 0;
    }
  int run = find_alloc (s, j, r, k, A_RUNNING);
  if (run >= 0)
    {
      uint32_t n = s->allocs[a].n;
      mu_sched__alloc_free (s, (uint32_t)a);
      /* re-add to the running allocation without counting twice */
      alloc_t *x = &s->allocs[run];
      x->n += n;
      j->roles[r].held += n;
      s->nodes[k]->used += n * j->roles[r].slots;
      tenant_t *t = mu_sched__tenant (s, j->tenant, 0);
      if (t)
        t->used += n * j->roles[r].slots;
    }
  else
    s->allocs[a].state = A_RUNNING;
  return 0;
}

/* A released allocation's slots: reserved for the job they were freed for
 * while it still wants capacity (S6), else free. */
static int
release (mu_sched_t *s, uint32_t a)
{
  alloc_t *x = &s->allocs[a];
  sjob_t *b = x->for_job;
  uint32_t node = x->node;
  uint32_t sl = x->n * x->job->roles[x->role].slots;
  mu_sched__alloc_free (s, a);
  if (b
      && (b->state == MU_SCHED_JOB_PENDING || b->state == MU_SCHED_JOB_SUSPENDED
          || b->state == MU_SCHED_JOB_RUNNING))
    {
      int rc = mu_sched__resv_add (b, node, sl);
      if (rc != 0)
        return rc;
      s->nodes[node]->reserved += sl;
    }
  return 0;
}

int
mu_sched_ack_shrunk (mu_sched_t *s, const char *job, const char *role,
                     const char *node)
{
  sjob_t *j = mu_sched__job_get (s, job);
  uint32_t k;
  if (j == NULL || node == NULL || mu_sched__node_get (s, node, &k) == NULL)
    return MUSTER_ENOTFOUND;
  int r = role_ix (j, role);
  int a = r < 0 ? -1 : find_alloc (s, j, r, k, A_RELEASING);
  if (a < 0)
    return MUSTER_ENOTFOUND;
  /* the oldest SHRINK there: acks answer decisions in order */
  for (uint32_t b = j->head; b != NIL; b = s->allocs[b].jnext)
    {
      const alloc_t *x = &s->allocs[b];
      if (x->role == r && x->node == k && x->state == A_RELEASING
          && !x->by_suspend && x->rel_seq < s->allocs[a].rel_seq)
        a = (int)b;
    }
  return release (s, (uint32_t)a);
}

int
mu_sched_ack_suspended (mu_sched_t *s, const char *job)
{
  sjob_t *j = mu_sched__job_get (s, job);
  if (j == NULL)
    return MUSTER_ENOTFOUND;
  if (j->state != MU_SCHED_JOB_SUSPENDING)
    return MUSTER_EINVAL;
  int rc = 0;
  while (j->head != NIL && rc == 0)
    rc = release (s, j->head);
  j->state = MU_SCHED_JOB_SUSPENDED;
  j->lost_member = false;
  snprintf (j->reason, sizeof j->reason, "suspended; queued to resume");
  return rc;
}

/* --------------------------------------------------------------- queries */

int
mu_sched_job_query (const mu_sched_t *s, const char *job,
                    mu_sched_job_view_t *out)
{
  const sjob_t *j = mu_sched__job_get (s, job);
  if (j == NULL)
    return MUSTER_ENOTFOUND;
  memset (out, 0, sizeof *out);
  out->state = j->state;
  out->reason = j->reason;
  for (size_t r = 0; r < j->nroles; r++)
    out->replicas[r] = j->roles[r].held;
  out->slots = mu_sched__job_slots (j);
  out->freeing = j->inflight;
  for (size_t i = 0; i < j->nresv; i++)
    out->reserved += j->resv[i].slots;
  return 0;
}

int
mu_sched_node_query (const mu_sched_t *s, const char *node,
                     mu_sched_node_view_t *out)
{
  uint32_t k;
  const snode_t *x = node ? mu_sched__node_get (s, node, &k) : NULL;
  if (x == NULL)
    return MUSTER_ENOTFOUND;
  out->state = x->state;
  out->slots = x->slots;
  out->used = x->used;
  out->reserved = x->reserved;
  return 0;
}
