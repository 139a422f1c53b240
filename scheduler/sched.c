/*
 * sched.c — the scheduler object: its tables, the events that change the
 * inventory and the jobs (node add/update/remove/state, quota, submit, end,
 * scale), the caller's acks, and the queries.  The scheduling pass itself is
 * in sched_pass.c; placement in sched_fit.c; eviction planning in
 * sched_preempt.c; pending reasons in sched_reason.c.  The rules are in
 * sched.h.
 */
#include "scheduler/sched_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <muster/error.h>

#include "common/util.h"

static int
fail (char *err, size_t errlen, int rc, const char *fmt, ...)
{
  if (err && errlen)
    {
      va_list ap;
      va_start (ap, fmt);
      vsnprintf (err, errlen, fmt, ap);
      va_end (ap);
    }
  return rc;
}

static int
grow (void **v, size_t *cap, size_t need, size_t elem)
{
  if (need <= *cap)
    return 0;
  size_t nc = *cap ? *cap * 2 : 16;
  while (nc < need)
    nc *= 2;
  void *p = realloc (*v, nc * elem);
  if (p == NULL)
    return -ENOMEM;
  *v = p;
  *cap = nc;
  return 0;
}

mu_sched_t *
mu_sched_new (const mu_sched_opts_t *opts)
{
  mu_sched_t *s = calloc (1, sizeof *s);
  if (s == NULL)
    return NULL;
  s->node_ix = mu_smap_new ();
  s->job_ix = mu_smap_new ();
  s->tenants = mu_smap_new ();
  s->labels = mu_smap_new ();
  s->free_alloc = NIL;
  if (!s->node_ix || !s->job_ix || !s->tenants || !s->labels)
    {
      mu_sched_destroy (&s);
      return NULL;
    }
  static const char *const dflt[] = { "rack", "zone" };
  const char *const *topo = opts && opts->topology ? opts->topology : dflt;
  size_t nt = opts && opts->topology ? opts->ntopology : 2;
  for (size_t i = 0; i < nt && i < MU_SCHED_MAX_TOPOLOGY; i++)
    mu_strlcpy (s->topo_key[s->ntopo++], topo[i], MU_SCHED_NAME_MAX);
  return s;
}

void
mu_sched_destroy (mu_sched_t **s_p)
{
  if (s_p == NULL || *s_p == NULL)
    return;
  mu_sched_t *s = *s_p;
  for (size_t i = 0; i < s->nnodes; i++)
    free (s->nodes[i]);
  for (size_t i = 0; i < s->njobs; i++)
    {
      free (s->jobs[i]->resv);
      free (s->jobs[i]);
    }
  size_t pos = 0;
  const char *k;
  void *v;
  while (s->tenants && mu_smap_next (s->tenants, &pos, &k, &v))
    free (v);
  for (size_t i = 0; i < s->nlabel; i++)
    free (s->label_text[i]);
  free (s->label_text);
  free (s->nodes);
  free (s->jobs);
  free (s->allocs);
  free (s->extra);
  free (s->take);
  free (s->cand);
  free (s->order);
  free (s->extra_key);
  free (s->stamp);
  free (s->plan.v);
  free (s->dec);
  free (s->dec_reason);
  free (s->dec_job);
  mu_smap_destroy (&s->node_ix);
  mu_smap_destroy (&s->job_ix);
  mu_smap_destroy (&s->tenants);
  mu_smap_destroy (&s->labels);
  free (s);
  *s_p = NULL;
}

/* ------------------------------------------------------------- helpers */

int
mu_sched__label_id (mu_sched_t *s, const char *kv, int create)
{
  void *v = mu_smap_get (s->labels, kv);
  if (v)
    return (int)((uintptr_t)v - 1);
  if (!create)
    return -1;
  if (grow ((void **)&s->label_text, &s->caplabel, s->nlabel + 1,
            sizeof *s->label_text) != 0)
    return -ENOMEM;
  char *t = strdup (kv);
  if (t == NULL)
    return -ENOMEM;
  if (mu_smap_put (s->labels, kv, (void *)(uintptr_t)(s->nlabel + 1), NULL) != 0)
    {
      free (t);
      return -ENOMEM;
    }
  s->label_text[s->nlabel] = t;
  return (int)s->nlabel++;
}

tenant_t *
mu_sched__tenant (mu_sched_t *s, const char *name, int create)
{
  tenant_t *t = mu_smap_get (s->tenants, name);
  if (t || !create)
    return t;
  t = calloc (1, sizeof *t);
  if (t && mu_smap_put (s->tenants, name, t, NULL) != 0)
    {
      free (t);
      t = NULL;
    }
  return t;
}

static snode_t *
node_get (const mu_sched_t *s, const char *id, uint32_t *k)
{
  void *v = mu_smap_get (s->node_ix, id);
  if (v == NULL)
    return NULL;
  *k = (uint32_t)((uintptr_t)v - 1);
  return s->nodes[*k];
}

static sjob_t *
job_get (const mu_sched_t *s, const char *id)
{
  return id ? mu_smap_get (s->job_ix, id) : NULL;
}

int
mu_sched__scratch (mu_sched_t *s)
{
  if (s->capscratch >= s->nnodes)
    return 0;
  size_t n = s->nnodes * 2;
  int64_t *e = realloc (s->extra, n * sizeof *e);
  if (e)
    s->extra = e;
  uint32_t *t = realloc (s->take, n * sizeof *t);
  if (t)
    s->take = t;
  uint32_t *c = realloc (s->cand, n * sizeof *c);
  if (c)
    s->cand = c;
  uint32_t *o = realloc (s->order, n * sizeof *o);
  if (o)
    s->order = o;
  void *ky = realloc (s->extra_key, n * sizeof (uint16_t));
  if (ky)
    s->extra_key = ky;
  uint32_t *st = realloc (s->stamp, n * sizeof *st);
  if (st)
    s->stamp = st;
  if (!e || !t || !c || !o || !ky || !st)
    return -ENOMEM;
  memset (s->stamp + s->capscratch, 0, (n - s->capscratch) * sizeof *st);
  memset (s->extra + s->capscratch, 0, (n - s->capscratch) * sizeof *e);
  memset (s->take + s->capscratch, 0, (n - s->capscratch) * sizeof *t);
  s->capscratch = n;
  return 0;
}

uint32_t
mu_sched__alloc_new (mu_sched_t *s, sjob_t *j, uint8_t role, uint32_t node,
                     uint32_t n, alloc_state_t st)
{
  uint32_t a = s->free_alloc;
  if (a != NIL)
    s->free_alloc = s->allocs[a].jnext;
  else
    {
      if (grow ((void **)&s->allocs, &s->capallocs, s->nallocs + 1,
                sizeof *s->allocs) != 0)
        return NIL;
      a = (uint32_t)s->nallocs++;
    }
  alloc_t *x = &s->allocs[a];
  memset (x, 0, sizeof *x);
  x->job = j;
  x->node = node;
  x->n = n;
  x->role = role;
  x->state = (uint8_t)st;
  x->jprev = x->nprev = NIL;
  x->jnext = j->head;
  if (j->head != NIL)
    s->allocs[j->head].jprev = a;
  j->head = a;
  snode_t *nd = s->nodes[node];
  x->nnext = nd->head;
  if (nd->head != NIL)
    s->allocs[nd->head].nprev = a;
  nd->head = a;
  uint32_t sl = n * j->roles[role].slots;
  nd->used += sl;
  if (st != A_RELEASING)
    j->roles[role].held += n;
  tenant_t *t = mu_sched__tenant (s, j->tenant, 0);
  if (t)
    t->used += sl;
  return a;
}

/* Unlink and free allocation a, releasing its slots on its node. */
void
mu_sched__alloc_free (mu_sched_t *s, uint32_t a)
{
  alloc_t *x = &s->allocs[a];
  sjob_t *j = x->job;
  snode_t *nd = s->nodes[x->node];
  uint32_t sl = x->n * j->roles[x->role].slots;
  nd->used -= sl;
  if (x->state != A_RELEASING)
    j->roles[x->role].held -= x->n;
  else if (x->for_job)
    x->for_job->inflight -= sl;
  tenant_t *t = mu_sched__tenant (s, j->tenant, 0);
  if (t)
    t->used -= sl;
  if (x->jprev != NIL)
    s->allocs[x->jprev].jnext = x->jnext;
  else
    j->head = x->jnext;
  if (x->jnext != NIL)
    s->allocs[x->jnext].jprev = x->jprev;
  if (x->nprev != NIL)
    s->allocs[x->nprev].nnext = x->nnext;
  else
    nd->head = x->nnext;
  if (x->nnext != NIL)
    s->allocs[x->nnext].nprev = x->nprev;
  x->job = NULL;
  x->jnext = s->free_alloc;
  s->free_alloc = a;
}

int
mu_sched__resv_add (sjob_t *j, uint32_t node, uint32_t slots)
{
  for (size_t i = 0; i < j->nresv; i++)
    if (j->resv[i].node == node)
      {
        j->resv[i].slots += slots;
        return 0;
      }
  if (grow ((void **)&j->resv, &j->capresv, j->nresv + 1, sizeof *j->resv) != 0)
    return -ENOMEM;
  j->resv[j->nresv++] = (resv_t){ node, slots };
  return 0;
}

void
mu_sched__resv_clear (mu_sched_t *s, sjob_t *j)
{
  for (size_t i = 0; i < j->nresv; i++)
    if (s->nodes[j->resv[i].node]->in_use)
      s->nodes[j->resv[i].node]->reserved -= j->resv[i].slots;
  j->nresv = 0;
}

uint32_t
mu_sched__job_slots (const sjob_t *j)
{
  uint32_t n = 0;
  for (size_t r = 0; r < j->nroles; r++)
    n += j->roles[r].held * j->roles[r].slots;
  return n;
}

uint32_t
mu_sched__min_slots (const sjob_t *j)
{
  uint32_t n = 0;
  for (size_t r = 0; r < j->nroles; r++)
    n += j->roles[r].min * j->roles[r].slots;
  return n;
}

int
mu_sched__emit (mu_sched_t *s, mu_sched_action_t act, sjob_t *j, int role,
                uint32_t node, uint32_t n, sjob_t *for_job, const char *reason)
{
  if (grow ((void **)&s->dec, &s->capdec, s->ndec + 1, sizeof *s->dec) != 0)
    return -ENOMEM;
  /* dec_reason grows with dec */
  void *p = realloc (s->dec_reason, s->capdec * sizeof *s->dec_reason);
  if (p == NULL)
    return -ENOMEM;
  s->dec_reason = p;
  p = realloc (s->dec_job, s->capdec * sizeof *s->dec_job);
  if (p == NULL)
    return -ENOMEM;
  s->dec_job = p;
  mu_strlcpy (s->dec_job[s->ndec], j->id, MU_SCHED_NAME_MAX);
  mu_sched_decision_t *d = &s->dec[s->ndec];
  memset (d, 0, sizeof *d);
  d->action = act;
  d->job = j->id;
  if (role >= 0)
    {
      d->role = j->roles[role].name;
      d->node = s->nodes[node]->id;
      d->replicas = n;
      d->slots = n * j->roles[role].slots;
    }
  d->for_job = for_job ? for_job->id : NULL;
  if (reason)
    mu_strlcpy (s->dec_reason[s->ndec], reason, MU_SCHED_REASON_MAX);
  else
    s->dec_reason[s->ndec][0] = '\0';
  s->ndec++;
  return 0;
}

/* Turn n replicas of allocation a into a release for b. */
int
mu_sched__release_part (mu_sched_t *s, uint32_t a, uint32_t n, sjob_t *b)
{
  alloc_t *x = &s->allocs[a];
  sjob_t *v = x->job;
  uint32_t sl = n * v->roles[x->role].slots;
  if (n == x->n)
    {
      x->state = A_RELEASING;
      x->for_job = b;
      x->rel_seq = ++s->seq;
      v->roles[x->role].held -= n;
    }
  else
    {
      uint8_t role = x->role;
      uint32_t node = x->node;
      uint32_t na = mu_sched__alloc_new (s, v, role, node, n, A_RELEASING);
      if (na == NIL)
        return -ENOMEM;
      x = &s->allocs[a]; /* the pool may have moved */
      s->allocs[na].for_job = b;
      s->allocs[na].rel_seq = ++s->seq;
      x->n -= n;
      v->roles[role].held -= n;
      s->nodes[node]->used -= sl;
      tenant_t *t = mu_sched__tenant (s, v->tenant, 0);
      if (t)
        t->used -= sl;
    }
  if (b)
    b->inflight += sl;
  return 0;
}

/* Suspend v (for b, or NULL): every allocation becomes a release, the
 * job waits for mu_sched_ack_suspended; emits SUSPEND. */
int
mu_sched__suspend (mu_sched_t *s, sjob_t *v, sjob_t *b, const char *why)
{
  int rc = 0;
  uint32_t a = v->head;
  while (a != NIL && rc == 0)
    {
      uint32_t next = s->allocs[a].jnext;
      if (s->allocs[a].state != A_RELEASING)
        {
          rc = mu_sched__release_part (s, a, s->allocs[a].n, b);
          s->allocs[a].by_suspend = 1; /* whole: the same entry */
        }
      a = next;
    }
  v->state = MU_SCHED_JOB_SUSPENDING;
  snprintf (v->reason, sizeof v->reason, "%s", why);
  if (rc == 0)
    rc = mu_sched__emit (s, MU_SCHED_SUSPEND, v, -1, 0, 0, b, why);
  return rc;
}

/* ------------------------------------------------------------- inventory */

static int
set_labels (mu_sched_t *s, snode_t *x, const char *const *labels, size_t n,
            char *err, size_t errlen)
{
  if (n > MU_SCHED_MAX_LABELS)
    return fail (err, errlen, MUSTER_EINVAL, "node %s: %zu labels, at most %d",
                 x->id, n, MU_SCHED_MAX_LABELS);
  for (size_t i = 0; i < n; i++)
    if (labels[i] == NULL || strchr (labels[i], '=') == NULL
        || labels[i][0] == '=')
      return fail (err, errlen, MUSTER_EINVAL,
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
    return fail (err, errlen, MUSTER_EINVAL, "node id missing or longer than %d",
                 MU_SCHED_NAME_MAX - 1);
  if (node_get (s, node, &k))
    return fail (err, errlen, MUSTER_EEXIST, "node %s already added", node);
  if (grow ((void **)&s->nodes, &s->capnodes, s->nnodes + 1, sizeof *s->nodes) != 0)
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
      rc = mu_smap_put (s->node_ix, node, (void *)(uintptr_t)(s->nnodes + 1), NULL);
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
  snode_t *x = node ? node_get (s, node, &k) : NULL;
  if (x == NULL)
    return fail (err, errlen, MUSTER_ENOTFOUND, "no node %s", node ? node : "");
  if (slots < x->used + x->reserved)
    return fail (err, errlen, MUSTER_EINVAL,
                 "node %s holds %u slots; it cannot shrink to %u (drain it first)",
                 node, x->used + x->reserved, slots);
  int rc = set_labels (s, x, labels, nlabels, err, errlen);
  if (rc == 0)
    x->slots = slots;
  return rc;
}

int
mu_sched_node_remove (mu_sched_t *s, const char *node)
{
  uint32_t k;
  snode_t *x = node ? node_get (s, node, &k) : NULL;
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
  snode_t *x = node ? node_get (s, node, &k) : NULL;
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
    return fail (err, errlen, MUSTER_EINVAL, "job %s: roles[%zu].name is too long",
                 job->id, i);
  mu_strlcpy (r->name, nm, sizeof r->name);
  if (in->max < 1 || in->min > in->max)
    return fail (err, errlen, MUSTER_EINVAL,
                 "job %s: role %s: replicas %u:%u (need 0 <= min <= max, max >= 1)",
                 job->id, nm, in->min, in->max);
  if (in->slots < 1)
    return fail (err, errlen, MUSTER_EINVAL, "job %s: role %s: slots must be >= 1",
                 job->id, nm);
  if (in->nselector > MU_SCHED_MAX_LABELS)
    return fail (err, errlen, MUSTER_EINVAL, "job %s: role %s: more than %d labels",
                 job->id, nm, MU_SCHED_MAX_LABELS);
  if (in->target && (in->target < in->min || in->target > in->max))
    return fail (err, errlen, MUSTER_EINVAL,
                 "job %s: role %s: target %u outside %u:%u", job->id, nm,
                 in->target, in->min, in->max);
  r->min = in->min;
  r->max = in->max;
  r->slots = in->slots;
  r->target = in->target ? in->target : in->min;
  size_t used = 0;
  for (size_t k = 0; k < in->nselector; k++)
    {
      const char *kv = in->selector[k];
      if (kv == NULL || strchr (kv, '=') == NULL || kv[0] == '=')
        return fail (err, errlen, MUSTER_EINVAL,
                     "job %s: role %s: label '%s' is not key=value", job->id, nm,
                     kv ? kv : "(null)");
      int id = mu_sched__label_id (s, kv, 1);
      if (id < 0)
        return id;
      r->sel[r->nsel++] = id;
      used += (size_t)snprintf (r->sel_text + used,
                                used < sizeof r->sel_text ? sizeof r->sel_text - used : 0,
                                "%s%s", k ? "," : "", kv);
    }
  return 0;
}

int
mu_sched_submit (mu_sched_t *s, const mu_sched_job_t *job, uint64_t now_ms,
                 char *err, size_t errlen)
{
  if (job == NULL || job->id == NULL || !*job->id
      || strlen (job->id) >= MU_SCHED_NAME_MAX)
    return fail (err, errlen, MUSTER_EINVAL, "job id missing or longer than %d",
                 MU_SCHED_NAME_MAX - 1);
  if (job_get (s, job->id))
    return fail (err, errlen, MUSTER_EEXIST, "job %s is already queued or running",
                 job->id);
  if (job->nroles < 1 || job->nroles > MU_SCHED_MAX_ROLES)
    return fail (err, errlen, MUSTER_EINVAL, "job %s: %zu roles (1..%d)", job->id,
                 job->nroles, MU_SCHED_MAX_ROLES);
  const char *tn = job->tenant && *job->tenant ? job->tenant : "default";
  if (strlen (tn) >= MU_SCHED_NAME_MAX)
    return fail (err, errlen, MUSTER_EINVAL, "job %s: tenant name too long", job->id);
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
          rc = fail (err, errlen, MUSTER_EINVAL, "job %s: role %s appears twice",
                     job->id, job->roles[i].name);
      if (rc == 0)
        rc = copy_role (s, job, i, &j->roles[i], err, errlen);
    }
  j->nroles = job->nroles;
  tenant_t *t = rc == 0 ? mu_sched__tenant (s, tn, 1) : NULL;
  if (rc == 0 && t == NULL)
    rc = -ENOMEM;
  uint32_t need = rc == 0 ? mu_sched__min_slots (j) : 0;
  if (rc == 0 && t->quota && need > t->quota)
    rc = fail (err, errlen, MUSTER_EQUOTA,
               "job %s needs %u slots at its minimum; tenant %s's quota is %u slots",
               job->id, need, tn, t->quota);
  if (rc == 0)
    rc = grow ((void **)&s->jobs, &s->capjobs, s->njobs + 1, sizeof *s->jobs);
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
  sjob_t *j = job_get (s, job);
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
        memmove (&s->jobs[i], &s->jobs[i + 1], (s->njobs - i - 1) * sizeof *s->jobs);
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
  sjob_t *j = job_get (s, job);
  if (j == NULL)
    return fail (err, errlen, MUSTER_ENOTFOUND, "no job %s", job ? job : "");
  int r = role_ix (j, role);
  if (r < 0)
    return fail (err, errlen, MUSTER_ENOTFOUND, "job %s has no role %s", job,
                 role ? role : "");
  srole_t *x = &j->roles[r];
  if (target < x->min || target > x->max)
    return fail (err, errlen, MUSTER_EINVAL,
                 "job %s: role %s: target %u outside its replicas %u:%u", job,
                 role, target, x->min, x->max);
  x->target = target;
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
  sjob_t *j = job_get (s, job);
  uint32_t k;
  if (j == NULL || node == NULL || node_get (s, node, &k) == NULL)
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
  if (b && (b->state == MU_SCHED_JOB_PENDING || b->state == MU_SCHED_JOB_SUSPENDED
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
  sjob_t *j = job_get (s, job);
  uint32_t k;
  if (j == NULL || node == NULL || node_get (s, node, &k) == NULL)
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
  sjob_t *j = job_get (s, job);
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
mu_sched_job_query (const mu_sched_t *s, const char *job, mu_sched_job_view_t *out)
{
  const sjob_t *j = job_get (s, job);
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
mu_sched_node_query (const mu_sched_t *s, const char *node, mu_sched_node_view_t *out)
{
  uint32_t k;
  const snode_t *x = node ? node_get (s, node, &k) : NULL;
  if (x == NULL)
    return MUSTER_ENOTFOUND;
  out->state = x->state;
  out->slots = x->slots;
  out->used = x->used;
  out->reserved = x->reserved;
  return 0;
}

size_t
mu_sched_tick (mu_sched_t *s, const mu_sched_decision_t **out)
{
  s->ndec = 0;
  (void)mu_sched__pass (s);
  for (size_t i = 0; i < s->ndec; i++)
    {
      s->dec[i].reason = s->dec_reason[i];
      s->dec[i].job = s->dec_job[i];
    }
  *out = s->dec;
  return s->ndec;
}

const char *
mu_sched_action_name (mu_sched_action_t a)
{
  switch (a)
    {
    case MU_SCHED_PLACE: return "place";
    case MU_SCHED_GROW: return "grow";
    case MU_SCHED_SHRINK: return "shrink";
    case MU_SCHED_SUSPEND: return "suspend";
    case MU_SCHED_RESUME: return "resume";
    case MU_SCHED_REJECT: return "reject";
    }
  return "?";
}

const char *
mu_sched_job_state_name (mu_sched_job_state_t st)
{
  switch (st)
    {
    case MU_SCHED_JOB_PENDING: return "pending";
    case MU_SCHED_JOB_SUSPENDED: return "suspended";
    case MU_SCHED_JOB_RUNNING: return "running";
    case MU_SCHED_JOB_SUSPENDING: return "suspending";
    }
  return "?";
}
