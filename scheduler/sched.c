/*
 * sched.c — the scheduler object and its tables: creation, the pool of
 * allocations threaded on job and node lists, reservations, decisions, and
 * the two state changes every part shares (a release, a suspension).  The
 * events, acks and queries are in sched_events.c; the scheduling pass in
 * sched_pass.c; placement in sched_fit.c; eviction planning in
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

int
mu_sched__fail (char *err, size_t errlen, int rc, const char *fmt, ...)
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

int
mu_sched__grow (void **v, size_t *cap, size_t need, size_t elem)
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
  if (mu_sched__grow ((void **)&s->label_text, &s->caplabel, s->nlabel + 1,
                      sizeof *s->label_text)
      != 0)
    return -ENOMEM;
  char *t = strdup (kv);
  if (t == NULL)
    return -ENOMEM;
  if (mu_smap_put (s->labels, kv, (void *)(uintptr_t)(s->nlabel + 1), NULL)
      != 0)
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

snode_t *
mu_sched__node_get (const mu_sched_t *s, const char *id, uint32_t *k)
{
  void *v = mu_smap_get (s->node_ix, id);
  if (v == NULL)
    return NULL;
  *k = (uint32_t)((uintptr_t)v - 1);
  return s->nodes[*k];
}

sjob_t *
mu_sched__job_get (const mu_sched_t *s, const char *id)
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
      if (mu_sched__grow ((void **)&s->allocs, &s->capallocs, s->nallocs + 1,
                          sizeof *s->allocs)
          != 0)
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
  if (mu_sched__grow ((void **)&j->resv, &j->capresv, j->nresv + 1,
                      sizeof *j->resv)
      != 0)
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
  if (mu_sched__grow ((void **)&s->dec, &s->capdec, s->ndec + 1, sizeof *s->dec)
      != 0)
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
    case MU_SCHED_PLACE:
      return "place";
    case MU_SCHED_GROW:
      return "grow";
    case MU_SCHED_SHRINK:
      return "shrink";
    case MU_SCHED_SUSPEND:
      return "suspend";
    case MU_SCHED_RESUME:
      return "resume";
    case MU_SCHED_REJECT:
      return "reject";
    }
  return "?";
}

const char *
mu_sched_job_state_name (mu_sched_job_state_t st)
{
  switch (st)
    {
    case MU_SCHED_JOB_PENDING:
      return "pending";
    case MU_SCHED_JOB_SUSPENDED:
      return "suspended";
    case MU_SCHED_JOB_RUNNING:
      return "running";
    case MU_SCHED_JOB_SUSPENDING:
      return "suspending";
    }
  return "?";
}
