/*
 * kv.c — the per-job, per-epoch key-value store and named barriers that
 * workers use to bootstrap their collectives (exchange a gloo/NCCL id,
 * meet before the first step).
 *
 * Everything is scoped to the job's current epoch: a request naming an
 * older epoch is answered MUSTER_ESTALE_EPOCH, and a new epoch empties the
 * store and answers every waiter MUSTER_EMEMBERSHIP, so no worker of a
 * dead epoch hangs on a value or a barrier that will never come.  Waiting
 * gets and barrier arrivals are held as waiters; the coordinator's sweep
 * expires them with MUSTER_ETIMEDOUT, checking only when the earliest
 * deadline has passed.
 *
 * Bounded (kv_quota.h): a put that would take the job's store over its
 * byte or key limit, a new barrier name likewise, and a waiting request
 * over its node's limit are refused with MUSTER_EQUOTA at once, and said
 * once per job and epoch in the log (KV-QUOTA, KV-WAIT-QUOTA): the
 * refusal repeats for every put after the first, and a worker's put loop
 * must not be able to flood the log.  Released barriers are removed, so a
 * barrier name per step does not accumulate.
 *
 * kv.add, kv.cas, kv.del and kv.count (a c10d Store's add, compare_set,
 * delete_key, num_keys) run kv_table.c's pure operations on the same map
 * and are charged like kv.put; a value they store wakes its getters.
 * None of it is journaled (docs/journal.md: an epoch's bootstrap data).
 */
#include "coordinator/coord.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <muster/error.h>

#include "common/util.h"
#include "coordinator/coord_metrics.h"
#include "coordinator/kv_quota.h"
#include "coordinator/kv_table.h"

static void
reply_num (mu_coord_t *c, mu_job_t *j, uint32_t node_key, uint64_t rank,
           uint64_t req_id, int status, const mu_bin_t *val, int64_t num)
{
  mu_node_t *n = mu_coord_node (c, node_key);
  if (n == NULL || !n->alive)
    return;
  mu_msg_t m;
  memset (&m, 0, sizeof m);
  m.type = MU_MSG_REPLY;
  m.u.reply.job = j->id;
  m.u.reply.rank = rank;
  m.u.reply.req_id = req_id;
  m.u.reply.status = status;
  if (val != NULL)
    m.u.reply.value = *val;
  m.u.reply.num = num;
  mu_coord_send_node (c, n, &m);
}

static void
reply (mu_coord_t *c, mu_job_t *j, uint32_t node_key, uint64_t rank,
       uint64_t req_id, int status, const mu_bin_t *val)
{
  reply_num (c, j, node_key, rank, req_id, status, val, 0);
}

/* Find the job a request names, checking it belongs to the sender's job
 * and is of the current epoch; answers the sender itself on error. */
static mu_job_t *
job_for (mu_coord_t *c, mu_node_t *n, const char *job, uint64_t epoch,
         uint64_t rank, uint64_t req_id)
{
  mu_job_t *j = n->job;
  if (j == NULL || strcmp (j->id, job) != 0)
    {
      j = mu_smap_get (c->jobs, job);
      if (j != NULL)
        reply (c, j, n->key, rank, req_id,
               j->state >= MU_JOB_STOPPING ? MUSTER_EJOBDONE
                                           : MUSTER_ESTALE_EPOCH,
               NULL);
      return NULL;
    }
  if (j->kv == NULL || j->barriers == NULL)
    {
      reply (c, j, n->key, rank, req_id, -ENOMEM, NULL);
      return NULL;
    }
  if (epoch != j->epoch || j->state != MU_JOB_RUNNING)
    {
      reply (c, j, n->key, rank, req_id,
             epoch < j->epoch ? MUSTER_ESTALE_EPOCH
             : j->state >= MU_JOB_STOPPING ? MUSTER_EJOBDONE
                                           : MUSTER_EMEMBERSHIP,
             NULL);
      return NULL;
    }
  return j;
}

static uint64_t
deadline_of (uint64_t timeout_ms)
{
  return timeout_ms == UINT64_MAX || timeout_ms > (1ull << 40)
             ? UINT64_MAX
             : mu_now_ms () + timeout_ms;
}

static mu_waiter_t *
waiter_new (mu_node_t *n, uint64_t rank, uint64_t req_id, uint64_t deadline)
{
  mu_waiter_t *w = calloc (1, sizeof *w);
  if (w == NULL)
    return NULL;
  w->node_key = n->key;
  w->rank = rank;
  w->req_id = req_id;
  w->deadline_ms = deadline;
  w->since_us = mu_now_us ();
  return w;
}

static void
waiter_free (mu_waiter_t *w)
{
  if (w->waiting != NULL && *w->waiting > 0)
    (*w->waiting)--;
  free (w->key);
  free (w);
}

/* The job's usage as the quota sees it: barrier names count as keys. */
static mu_kv_usage_t
usage_of (const mu_job_t *j)
{
  mu_kv_usage_t u = { .bytes = j->kv_bytes,
                      .keys = mu_smap_size (j->kv)
                              + mu_smap_size (j->barriers) };
  return u;
}

static void
log_quota (mu_coord_t *c, mu_job_t *j, const char *msg)
{
  if (j->kv_quota_logged == j->epoch + 1)
    return;
  j->kv_quota_logged = j->epoch + 1;
  /* At err: `muster run`'s embedded coordinator shows only errors, and
   * this line is where its user learns which limit the program hit. */
  mu_log_err (c->log, "KV-QUOTA",
              "%s; refused with MUSTER_EQUOTA (said once per epoch)", msg);
}

/* May node n park one more waiting request?  0 with *cell_out = its
 * counter, MUSTER_EQUOTA over mu_kv_waiting_limit, or -ENOMEM. */
static int
waiting_admit (mu_coord_t *c, mu_job_t *j, mu_node_t *n, uint64_t **cell_out)
{
  if (j->kv_waiting == NULL && (j->kv_waiting = mu_smap_new ()) == NULL)
    return -ENOMEM;
  uint64_t *cell = mu_smap_get (j->kv_waiting, n->node_id);
  if (cell == NULL)
    {
      cell = calloc (1, sizeof *cell);
      if (cell == NULL || mu_smap_put (j->kv_waiting, n->node_id, cell, NULL) != 0)
        {
          free (cell);
          return -ENOMEM;
        }
    }
  uint64_t limit = mu_kv_waiting_limit (n->slots);
  if (*cell >= limit)
    {
      if (j->kv_wait_logged != j->epoch + 1)
        {
          j->kv_wait_logged = j->epoch + 1;
          mu_log_err (c->log, "KV-WAIT-QUOTA",
                      "job %s: node %s holds %" PRIu64 " waiting kv.get and "
                      "barrier requests, the limit for %" PRIu32 " slots "
                      "(%u per slot + %u); more are refused with "
                      "MUSTER_EQUOTA (said once per epoch)",
                      j->id, n->node_id, *cell, n->slots,
                      MU_KV_WAITING_PER_SLOT, MU_KV_WAITING_BASE);
        }
      return MUSTER_EQUOTA;
    }
  *cell_out = cell;
  return 0;
}

static void
note_deadline (mu_job_t *j, uint64_t deadline)
{
  if (j->next_wait_deadline == 0 || deadline < j->next_wait_deadline)
    j->next_wait_deadline = deadline;
}

/* Answer the gets waiting for key with its new value. */
static void
wake_getters (mu_coord_t *c, mu_job_t *j, const char *key, const mu_bin_t *val)
{
  mu_waiter_t **pp = &j->kv_waiters;
  while (*pp != NULL)
    {
      mu_waiter_t *w = *pp;
      if (strcmp (w->key, key) == 0)
        {
          *pp = w->next;
          reply (c, j, w->node_key, w->rank, w->req_id, 0, val);
          mu_cm_kv (c, "get", w->since_us);
          waiter_free (w);
        }
      else
        pp = &w->next;
    }
}

void
mu_kv_put (mu_coord_t *c, mu_node_t *n, mu_kv_put_t *p)
{
  uint64_t t0 = mu_now_us ();
  mu_job_t *j = job_for (c, n, p->job, p->epoch, p->rank, p->req_id);
  if (j == NULL)
    return;
  size_t klen = strlen (p->key);
  if (klen > MU_KV_MAX_KEY)
    {
      reply (c, j, n->key, p->rank, p->req_id, MUSTER_ETOOBIG, NULL);
      return;
    }
  mu_bin_t *val = mu_smap_get (j->kv, p->key);
  mu_kv_usage_t u = usage_of (j);
  char msg[512];
  int rc = mu_kv_quota_check (&u, c->opts.kv_max_bytes, c->opts.kv_max_keys,
                              j->id, klen, val != NULL, val ? val->len : 0,
                              p->value.len, msg, sizeof msg);
  if (rc != 0)
    {
      log_quota (c, j, msg);
      reply (c, j, n->key, p->rank, p->req_id, rc, NULL);
      return;
    }
  mu_bin_t *nv = malloc (sizeof *nv);
  if (nv == NULL)
    {
      reply (c, j, n->key, p->rank, p->req_id, -ENOMEM, NULL);
      return;
    }
  /* Take the decoded buffer instead of copying it. */
  *nv = p->value;
  p->value.ptr = NULL;
  p->value.len = 0;
  void *old = NULL;
  if (mu_smap_put (j->kv, p->key, nv, &old) != 0)
    {
      free (nv->ptr);
      free (nv);
      reply (c, j, n->key, p->rank, p->req_id, -ENOMEM, NULL);
      return;
    }
  j->kv_bytes += klen + nv->len;
  if (old != NULL)
    {
      j->kv_bytes -= klen + ((mu_bin_t *)old)->len;
      free (((mu_bin_t *)old)->ptr);
      free (old);
    }
  reply (c, j, n->key, p->rank, p->req_id, 0, NULL);
  mu_cm_kv (c, "put", t0);
  wake_getters (c, j, p->key, nv);
}

void
mu_kv_get (mu_coord_t *c, mu_node_t *n, const mu_kv_get_t *g)
{
  uint64_t t0 = mu_now_us ();
  mu_job_t *j = job_for (c, n, g->job, g->epoch, g->rank, g->req_id);
  if (j == NULL)
    return;
  if (strlen (g->key) > MU_KV_MAX_KEY)
    {
      reply (c, j, n->key, g->rank, g->req_id, MUSTER_ETOOBIG, NULL);
      return;
    }
  mu_bin_t *val = mu_smap_get (j->kv, g->key);
  if (val != NULL)
    {
      reply (c, j, n->key, g->rank, g->req_id, 0, val);
      mu_cm_kv (c, "get", t0);
      return;
    }
  if (g->timeout_ms == 0)
    {
      reply (c, j, n->key, g->rank, g->req_id, MUSTER_ENOTFOUND, NULL);
      return;
    }
  uint64_t *cell = NULL;
  int rc = waiting_admit (c, j, n, &cell);
  if (rc != 0)
    {
      reply (c, j, n->key, g->rank, g->req_id, rc, NULL);
      return;
    }
  mu_waiter_t *w = waiter_new (n, g->rank, g->req_id, deadline_of (g->timeout_ms));
  if (w == NULL || (w->key = strdup (g->key)) == NULL)
    {
      free (w);
      reply (c, j, n->key, g->rank, g->req_id, -ENOMEM, NULL);
      return;
    }
  w->waiting = cell;
  (*cell)++;
  w->next = j->kv_waiters;
  j->kv_waiters = w;
  note_deadline (j, w->deadline_ms);
}

void
mu_kv_barrier (mu_coord_t *c, mu_node_t *n, const mu_barrier_t *b)
{
  mu_job_t *j = job_for (c, n, b->job, b->epoch, b->rank, b->req_id);
  if (j == NULL)
    return;
  size_t nlen = strlen (b->name);
  if (nlen > MU_KV_MAX_KEY)
    {
      reply (c, j, n->key, b->rank, b->req_id, MUSTER_ETOOBIG, NULL);
      return;
    }
  mu_bstate_t *bs = mu_smap_get (j->barriers, b->name);
  int rc;
  /* The arrival that completes the barrier never waits: it is not
   * counted against its node's waiting requests. */
  uint64_t *cell = NULL;
  if ((bs == NULL ? 0 : bs->arrived) + 1 < j->world
      && (rc = waiting_admit (c, j, n, &cell)) != 0)
    {
      reply (c, j, n->key, b->rank, b->req_id, rc, NULL);
      return;
    }
  if (bs == NULL)
    {
      /* A new name is charged to the job's KV quota while it exists. */
      mu_kv_usage_t u = usage_of (j);
      char msg[512];
      rc = mu_kv_quota_check (&u, c->opts.kv_max_bytes, c->opts.kv_max_keys,
                              j->id, nlen, 0, 0, 0, msg, sizeof msg);
      if (rc != 0)
        {
          log_quota (c, j, msg);
          reply (c, j, n->key, b->rank, b->req_id, rc, NULL);
          return;
        }
      bs = calloc (1, sizeof *bs);
      if (bs == NULL || mu_smap_put (j->barriers, b->name, bs, NULL) != 0)
        {
          free (bs);
          reply (c, j, n->key, b->rank, b->req_id, -ENOMEM, NULL);
          return;
        }
      j->kv_bytes += nlen;
    }
  mu_waiter_t *w = waiter_new (n, b->rank, b->req_id,
                               b->timeout_ms ? deadline_of (b->timeout_ms)
                                             : UINT64_MAX);
  if (w == NULL)
    {
      reply (c, j, n->key, b->rank, b->req_id, -ENOMEM, NULL);
      return;
    }
  w->waiting = cell;
  if (cell != NULL)
    (*cell)++;
  w->next = bs->waiters;
  bs->waiters = w;
  bs->arrived++;
  note_deadline (j, w->deadline_ms);
  if (bs->arrived < j->world)
    return;
  /* Everyone is here: release them all; the name can be used again (it
   * is made anew), and a name per step does not pile up. */
  for (mu_waiter_t *x = bs->waiters, *next; x != NULL; x = next)
    {
      next = x->next;
      reply (c, j, x->node_key, x->rank, x->req_id, 0, NULL);
      mu_cm_barrier (c, x->since_us);
      waiter_free (x);
    }
  mu_smap_del (j->barriers, b->name);
  free (bs);
  j->kv_bytes -= nlen;
}

static void
fail_list (mu_coord_t *c, mu_job_t *j, mu_waiter_t **list, int status,
           uint64_t now, uint64_t *next_deadline)
{
  mu_waiter_t **pp = list;
  while (*pp != NULL)
    {
      mu_waiter_t *w = *pp;
      if (now == 0 || w->deadline_ms <= now)
        {
          *pp = w->next;
          if (c != NULL)
            reply (c, j, w->node_key, w->rank, w->req_id, status, NULL);
          waiter_free (w);
        }
      else
        {
          if (next_deadline && (*next_deadline == 0 || w->deadline_ms < *next_deadline))
            *next_deadline = w->deadline_ms;
          pp = &w->next;
        }
    }
}

void
mu_kv_expire (mu_coord_t *c, mu_job_t *j, uint64_t now)
{
  if (j->next_wait_deadline == 0 || now < j->next_wait_deadline)
    return;
  uint64_t next = 0;
  fail_list (c, j, &j->kv_waiters, MUSTER_ETIMEDOUT, now, &next);
  size_t pos = 0;
  void *val;
  while (mu_smap_next (j->barriers, &pos, NULL, &val))
    {
      mu_bstate_t *bs = val;
      uint64_t before = 0;
      for (mu_waiter_t *w = bs->waiters; w; w = w->next)
        before++;
      fail_list (c, j, &bs->waiters, MUSTER_ETIMEDOUT, now, &next);
      uint64_t after = 0;
      for (mu_waiter_t *w = bs->waiters; w; w = w->next)
        after++;
      bs->arrived -= before - after;
    }
  j->next_wait_deadline = next;
}

void
mu_kv_reset (mu_job_t *j, int status)
{
  mu_coord_t *c = j->coord;
  if (j->kv == NULL)
    return;
  fail_list (c, j, &j->kv_waiters, status, 0, NULL);
  size_t pos = 0;
  void *val;
  const char *key;
  while (mu_smap_next (j->barriers, &pos, &key, &val))
    {
      mu_bstate_t *bs = val;
      fail_list (c, j, &bs->waiters, status, 0, NULL);
      free (bs);
    }
  pos = 0;
  while (mu_smap_next (j->kv, &pos, &key, &val))
    {
      mu_bin_t *b = val;
      free (b->ptr);
      free (b);
    }
  mu_smap_destroy (&j->kv);
  mu_smap_destroy (&j->barriers);
  /* After the waiters above: they held pointers to these counters. */
  pos = 0;
  while (j->kv_waiting != NULL && mu_smap_next (j->kv_waiting, &pos, &key, &val))
    free (val);
  mu_smap_destroy (&j->kv_waiting);
  j->kv = mu_smap_new ();
  j->barriers = mu_smap_new ();
  j->next_wait_deadline = 0;
  j->kv_bytes = 0;
}

/* ------------------------------------------------------------- torch/kv */
/* kv.add, kv.cas, kv.del, kv.count: the operations themselves are
 * kv_table.c's; here they are checked like kv.put, carried out on the
 * job's map and answered, and a value they store wakes its getters. */

static mu_kv_table_t
table_of (mu_coord_t *c, mu_job_t *j)
{
  mu_kv_table_t t = { .map = j->kv,
                      .bytes = &j->kv_bytes,
                      .other_keys = mu_smap_size (j->barriers),
                      .max_bytes = c->opts.kv_max_bytes,
                      .max_keys = c->opts.kv_max_keys,
                      .job = j->id };
  return t;
}

/* Refuse a key over MU_KV_MAX_KEY; true if refused (and answered). */
static bool
key_too_long (mu_coord_t *c, mu_job_t *j, mu_node_t *n, const char *key,
              uint64_t rank, uint64_t req_id)
{
  if (strlen (key) <= MU_KV_MAX_KEY)
    return false;
  reply (c, j, n->key, rank, req_id, MUSTER_ETOOBIG, NULL);
  return true;
}

/* A refusal of add/cas: quota lines once per epoch, the rest at info
 * (a program's own mistake, e.g. kv.add on a non-integer). */
static void
log_refusal (mu_coord_t *c, mu_job_t *j, int rc, const char *msg)
{
  if (rc == MUSTER_EQUOTA)
    log_quota (c, j, msg);
  else if (rc == MUSTER_EINVAL)
    mu_log_info (c->log, "KV-REFUSED", "job %s: %s", j->id, msg);
}

void
mu_kv_add (mu_coord_t *c, mu_node_t *n, const mu_kv_add_t *a)
{
  mu_job_t *j = job_for (c, n, a->job, a->epoch, a->rank, a->req_id);
  if (j == NULL || key_too_long (c, j, n, a->key, a->rank, a->req_id))
    return;
  mu_kv_table_t t = table_of (c, j);
  char msg[512];
  int64_t v = 0;
  const mu_bin_t *stored = NULL;
  int rc = mu_kv_table_add (&t, a->key, a->delta, &v, &stored, msg, sizeof msg);
  if (rc != 0)
    {
      log_refusal (c, j, rc, msg);
      reply (c, j, n->key, a->rank, a->req_id, rc, NULL);
      return;
    }
  reply_num (c, j, n->key, a->rank, a->req_id, 0, NULL, v);
  wake_getters (c, j, a->key, stored);
}

void
mu_kv_cas (mu_coord_t *c, mu_node_t *n, const mu_kv_cas_t *a)
{
  mu_job_t *j = job_for (c, n, a->job, a->epoch, a->rank, a->req_id);
  if (j == NULL || key_too_long (c, j, n, a->key, a->rank, a->req_id))
    return;
  mu_kv_table_t t = table_of (c, j);
  char msg[512];
  const mu_bin_t *cur = NULL, *stored = NULL;
  int rc = mu_kv_table_cas (&t, a->key, &a->expected, &a->desired, &cur,
                            &stored, msg, sizeof msg);
  if (rc != 0)
    log_refusal (c, j, rc, msg);
  reply (c, j, n->key, a->rank, a->req_id, rc, rc == 0 ? cur : NULL);
  if (stored != NULL)
    wake_getters (c, j, a->key, stored);
}

void
mu_kv_del (mu_coord_t *c, mu_node_t *n, const mu_kv_del_t *d)
{
  mu_job_t *j = job_for (c, n, d->job, d->epoch, d->rank, d->req_id);
  if (j == NULL || key_too_long (c, j, n, d->key, d->rank, d->req_id))
    return;
  mu_kv_table_t t = table_of (c, j);
  bool existed = false;
  mu_kv_table_del (&t, d->key, &existed);
  reply_num (c, j, n->key, d->rank, d->req_id, 0, NULL, existed ? 1 : 0);
}

void
mu_kv_count (mu_coord_t *c, mu_node_t *n, const mu_kv_count_t *k)
{
  mu_job_t *j = job_for (c, n, k->job, k->epoch, k->rank, k->req_id);
  if (j == NULL)
    return;
  if (k->prefix != NULL
      && key_too_long (c, j, n, k->prefix, k->rank, k->req_id))
    return;
  mu_kv_table_t t = table_of (c, j);
  reply_num (c, j, n->key, k->rank, k->req_id, 0, NULL,
             (int64_t)mu_kv_table_count (&t, k->prefix));
}
