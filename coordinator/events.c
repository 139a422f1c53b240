/*
 * events.c — the event log (see events.h): a global ring and one ring per
 * job, both of deep copies, so that dropping from one never touches the
 * other.
 *
 * Rings are arrays used circularly: `head` is the oldest event, `count`
 * how many are held.  Appending to a full ring frees its oldest event and
 * records its sequence number as dropped (the gap a reader detects).  Per
 * job, a list stays after its job.finished until finished_keep newer jobs
 * finished; then the oldest finished job's list goes (found by a scan:
 * finishes are rare next to the events of a run).  Nothing here reads a
 * clock or does I/O: the shell stamps time and serves readers.
 */
#include "coordinator/events.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/smap.h"

static const char *const kind_names[] = {
  "none",
#define MU_EV_NAME(e, name, doc) name,
  MU_EV_KINDS (MU_EV_NAME)
#undef MU_EV_NAME
};

const char *
mu_ev_kind_name (mu_ev_kind_t k)
{
  if ((int)k <= 0 || k >= MU_EV_NKINDS)
    return "?";
  return kind_names[k];
}

mu_ev_kind_t
mu_ev_kind_of (const char *name)
{
  for (int k = 1; name != NULL && k < MU_EV_NKINDS; k++)
    if (strcmp (kind_names[k], name) == 0)
      return (mu_ev_kind_t)k;
  return MU_EV_NONE;
}

typedef struct ring {
  mu_event_t *v;
  size_t cap;   /* the bound */
  size_t alloc; /* slots allocated: grows by doubling up to cap, so a
                   job of a few events costs a few slots, not cap */
  size_t head, count;
  uint64_t dropped_through;
} ring_t;

typedef struct jlist {
  ring_t ring;
  int finished;
  uint64_t finished_seq; /* seq of its job.finished: oldest goes first */
} jlist_t;

struct mu_evlog {
  mu_evlog_opts_t opts;
  ring_t all;
  mu_smap_t *jobs; /* job id -> jlist_t* */
  size_t nfinished;
  uint64_t last_seq;
};

/* A copy held by the log keeps its strings and members in one allocation
 * (e->mem), so recording and dropping an event cost one malloc and one
 * free each, whatever it holds. */
static void
event_free (mu_event_t *e)
{
  free (e->mem);
  memset (e, 0, sizeof *e);
}

static size_t
str_size (const char *s)
{
  return s ? strlen (s) + 1 : 0;
}

/* Copy s to *at (advancing it); NULL stays NULL. */
static char *
put_str (char **at, const char *s)
{
  if (s == NULL)
    return NULL;
  size_t n = strlen (s) + 1;
  char *d = memcpy (*at, s, n);
  *at += n;
  return d;
}

static int
event_copy (mu_event_t *dst, const mu_event_t *src)
{
  size_t n = src->nmembers < MU_EV_MAX_MEMBERS ? src->nmembers
                                                : MU_EV_MAX_MEMBERS;
  size_t size = n * sizeof *dst->members + str_size (src->job)
                + str_size (src->node) + str_size (src->cause)
                + str_size (src->state) + str_size (src->detail);
  for (size_t i = 0; i < n; i++)
    size += str_size (src->members[i].node);
  char *mem = malloc (size ? size : 1);
  if (mem == NULL)
    return -ENOMEM;
  *dst = *src;
  dst->mem = mem;
  /* members first: their alignment is the block's */
  dst->members = n ? (mu_ev_member_t *)(void *)mem : NULL;
  dst->nmembers = n;
  char *at = mem + n * sizeof *dst->members;
  for (size_t i = 0; i < n; i++)
    {
      dst->members[i] = src->members[i];
      dst->members[i].node = put_str (&at, src->members[i].node);
    }
  dst->job = put_str (&at, src->job);
  dst->node = put_str (&at, src->node);
  dst->cause = put_str (&at, src->cause);
  dst->state = put_str (&at, src->state);
  dst->detail = put_str (&at, src->detail);
  return 0;
}

#define RING_FIRST 16

static int
ring_init (ring_t *r, size_t cap)
{
  r->alloc = cap < RING_FIRST ? cap : RING_FIRST;
  r->v = calloc (r->alloc, sizeof *r->v);
  r->cap = cap;
  r->head = r->count = 0;
  r->dropped_through = 0;
  return r->v ? 0 : -ENOMEM;
}

/* Room for one more below the bound: 0, or -ENOMEM (nothing changed).
 * The ring only drops (moves head) once it is at its bound, so below it
 * head is 0 and the slots are in order: a plain realloc keeps them. */
static int
ring_reserve (ring_t *r)
{
  if (r->count < r->alloc || r->alloc == r->cap)
    return 0;
  size_t n = r->alloc * 2 < r->cap ? r->alloc * 2 : r->cap;
  mu_event_t *v = realloc (r->v, n * sizeof *v);
  if (v == NULL)
    return -ENOMEM;
  memset (v + r->alloc, 0, (n - r->alloc) * sizeof *v);
  r->v = v;
  r->alloc = n;
  return 0;
}

static void
ring_clear (ring_t *r)
{
  for (size_t i = 0; i < r->count; i++)
    event_free (&r->v[(r->head + i) % r->alloc]);
  r->head = r->count = 0;
}

static void
ring_free (ring_t *r)
{
  if (r->v != NULL)
    ring_clear (r);
  free (r->v);
  r->v = NULL;
}

/* Move a copied event into the ring (dropping the oldest when at its
 * bound); ring_reserve was called first. */
static void
ring_push (ring_t *r, mu_event_t *e)
{
  if (r->count == r->alloc)
    {
      mu_event_t *old = &r->v[r->head];
      r->dropped_through = old->seq;
      event_free (old);
      r->head = (r->head + 1) % r->alloc;
      r->count--;
    }
  r->v[(r->head + r->count) % r->alloc] = *e;
  r->count++;
}

static const mu_event_t *
ring_at (const ring_t *r, size_t i)
{
  return &r->v[(r->head + i) % r->alloc];
}

int
mu_evlog_new (const mu_evlog_opts_t *opts, mu_evlog_t **out)
{
  mu_evlog_t *l = calloc (1, sizeof *l);
  if (l == NULL)
    return -ENOMEM;
  if (opts != NULL)
    l->opts = *opts;
  if (l->opts.ring_cap == 0)
    l->opts.ring_cap = MU_EVLOG_RING_DEFAULT;
  if (l->opts.job_cap == 0)
    l->opts.job_cap = MU_EVLOG_JOB_DEFAULT;
  if (l->opts.finished_keep == 0)
    l->opts.finished_keep = 64;
  l->jobs = mu_smap_new ();
  if (l->jobs == NULL || ring_init (&l->all, l->opts.ring_cap) != 0)
    {
      mu_smap_destroy (&l->jobs);
      free (l->all.v);
      free (l);
      return -ENOMEM;
    }
  *out = l;
  return 0;
}

static void
jlist_free (jlist_t *jl)
{
  if (jl == NULL)
    return;
  ring_free (&jl->ring);
  free (jl);
}

void
mu_evlog_destroy (mu_evlog_t **log_p)
{
  if (log_p == NULL || *log_p == NULL)
    return;
  mu_evlog_t *l = *log_p;
  size_t pos = 0;
  void *val;
  while (mu_smap_next (l->jobs, &pos, NULL, &val))
    jlist_free (val);
  mu_smap_destroy (&l->jobs);
  ring_free (&l->all);
  free (l);
  *log_p = NULL;
}

/* Forget the finished job that finished first. */
static void
forget_oldest_finished (mu_evlog_t *l)
{
  size_t pos = 0;
  const char *key, *oldest = NULL;
  void *val;
  uint64_t best = UINT64_MAX;
  while (mu_smap_next (l->jobs, &pos, &key, &val))
    {
      jlist_t *jl = val;
      if (jl->finished && jl->finished_seq < best)
        {
          best = jl->finished_seq;
          oldest = key;
        }
    }
  if (oldest == NULL)
    return;
  jlist_free (mu_smap_del (l->jobs, oldest));
  l->nfinished--;
}

/* The job's list, created if need be; NULL when out of memory. */
static jlist_t *
job_list (mu_evlog_t *l, const char *job)
{
  jlist_t *jl = mu_smap_get (l->jobs, job);
  if (jl != NULL)
    return jl;
  jl = calloc (1, sizeof *jl);
  if (jl == NULL || ring_init (&jl->ring, l->opts.job_cap) != 0)
    {
      free (jl);
      return NULL;
    }
  if (mu_smap_put (l->jobs, job, jl, NULL) != 0)
    {
      jlist_free (jl);
      return NULL;
    }
  return jl;
}

/* Does the event leave its job in a final state?  job.finished, or a
 * job.restored of a job the journal had seen end. */
static int
finishes (const mu_event_t *ev)
{
  static const char *const final[] = { "succeeded", "failed", "cancelled",
                                       "suspended" };
  if (ev->kind == MU_EV_JOB_FINISHED)
    return 1;
  if (ev->kind != MU_EV_JOB_RESTORED || ev->state == NULL)
    return 0;
  for (size_t i = 0; i < sizeof final / sizeof final[0]; i++)
    if (strcmp (ev->state, final[i]) == 0)
      return 1;
  return 0;
}

int
mu_evlog_append (mu_evlog_t *l, const mu_event_t *ev, uint64_t *seq)
{
  mu_event_t a, b;
  memset (&b, 0, sizeof b);
  if (event_copy (&a, ev) != 0)
    return -ENOMEM;
  a.seq = l->last_seq + 1;
  jlist_t *jl = NULL;
  if (ev->job != NULL)
    {
      if ((jl = job_list (l, ev->job)) == NULL || event_copy (&b, &a) != 0)
        {
          event_free (&a);
          return -ENOMEM;
        }
    }
  if (ring_reserve (&l->all) != 0
      || (jl != NULL && ring_reserve (&jl->ring) != 0))
    {
      event_free (&a);
      event_free (&b);
      return -ENOMEM;
    }
  l->last_seq = a.seq;
  ring_push (&l->all, &a);
  if (jl != NULL)
    {
      int fin = finishes (ev);
      if (jl->finished && !fin)
        {
          /* A finished job lives again: resumed, or a new run of its id. */
          jl->finished = 0;
          l->nfinished--;
        }
      if (ev->kind == MU_EV_JOB_CREATED)
        {
          ring_clear (&jl->ring);
          jl->ring.dropped_through = 0;
        }
      ring_push (&jl->ring, &b);
      if (fin && !jl->finished)
        {
          jl->finished = 1;
          jl->finished_seq = b.seq;
          l->nfinished++;
          while (l->nfinished > l->opts.finished_keep)
            forget_oldest_finished (l);
        }
    }
  if (seq != NULL)
    *seq = l->last_seq;
  return 0;
}

uint64_t
mu_evlog_last_seq (const mu_evlog_t *l)
{
  return l->last_seq;
}

static const ring_t *
scope (const mu_evlog_t *l, const char *job)
{
  if (job == NULL)
    return &l->all;
  const jlist_t *jl = mu_smap_get (l->jobs, job);
  return jl ? &jl->ring : NULL;
}

uint64_t
mu_evlog_dropped_through (const mu_evlog_t *l, const char *job)
{
  const ring_t *r = scope (l, job);
  return r ? r->dropped_through : 0;
}

int
mu_evlog_has_job (const mu_evlog_t *l, const char *job)
{
  return job != NULL && mu_smap_get (l->jobs, job) != NULL;
}

size_t
mu_evlog_count (const mu_evlog_t *l, const char *job)
{
  const ring_t *r = scope (l, job);
  return r ? r->count : 0;
}

size_t
mu_evlog_collect (const mu_evlog_t *l, const char *job, uint64_t since,
                  size_t max, mu_evlog_filter_fn filter, void *arg,
                  const mu_event_t **out, uint64_t *next)
{
  const ring_t *r = scope (l, job);
  size_t n = 0;
  uint64_t upto = since > l->last_seq ? since : l->last_seq;
  if (max == 0)
    {
      *next = since;
      return 0;
    }
  if (r == NULL || r->count == 0)
    {
      *next = upto;
      return 0;
    }
  /* Sequence numbers grow along the ring: skip to the first after since
   * by bisection. */
  size_t lo = 0, hi = r->count;
  while (lo < hi)
    {
      size_t mid = lo + (hi - lo) / 2;
      if (ring_at (r, mid)->seq <= since)
        lo = mid + 1;
      else
        hi = mid;
    }
  for (size_t i = lo; i < r->count; i++)
    {
      const mu_event_t *e = ring_at (r, i);
      if (filter != NULL && !filter (e, arg))
        continue;
      if (n == max)
        {
          upto = out[n - 1]->seq; /* the rest next time */
          break;
        }
      out[n++] = e;
    }
  *next = upto;
  return n;
}
