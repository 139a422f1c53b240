/*
 * failure.c — failure records, and attributing a worker's failure to the
 * node loss that caused it.
 *
 * When a node dies, its peers' workers usually fail first (their
 * connections reset) and the loss is declared a moment later.  Charged to
 * the user's restart budget (default 0), such a failure ended jobs that
 * should have re-formed.  So in an epoch of several nodes a worker failure
 * is held (j->held, the job's kick timer) until every other member has
 * been heard from since — a heartbeat interval when all are alive — and at
 * most until a silent member would be declared lost.  A node loss in that
 * window becomes the root cause ("node n1 lost", infrastructure budget);
 * otherwise the held failure is charged as it would have been at once.
 * A one-node epoch never holds.
 */
#include "coordinator/epoch.h"

#include <stdlib.h>
#include <string.h>

#include "common/util.h"

void
mu_failure_set (mu_failure_t *f, const char *node_id, int64_t rank,
                int64_t code, int64_t sig, const char *tail, const char *reason)
{
  f->set = 1;
  f->rank = rank;
  f->node_id = strdup (node_id);
  f->exit_code = code;
  f->signal = sig;
  f->stderr_tail = tail ? strdup (tail) : NULL;
  f->reason = reason ? strdup (reason) : NULL;
}

void
mu_failure_free (mu_failure_t *f)
{
  free (f->node_id);
  free (f->stderr_tail);
  free (f->reason);
  memset (f, 0, sizeof *f);
}

/* The longest a worker failure may be held before charging it to the
 * user: 0 in a one-node epoch; else until the last other member would be
 * declared lost if it stays silent (mu_epoch_member_heard ends it sooner). */
static uint64_t
attribution_hold (const mu_job_t *j, const mu_node_t *failed)
{
  mu_coord_t *c = j->coord;
  if (j->nmembers <= 1)
    return 0;
  uint64_t now = mu_now_ms ();
  uint64_t hold = 0;
  for (size_t i = 0; i < j->nmembers; i++)
    {
      mu_node_t *m = mu_coord_node (c, j->members[i]);
      if (m == NULL || m == failed || !m->alive)
        continue;
      uint64_t end = m->last_seen_ms + c->hb_limit_ms + 150; /* + a sweep */
      if (end > now && end - now > hold)
        hold = end - now;
    }
  return hold > 150 ? hold : 150; /* an overdue member: the next sweep */
}

/* Has every other member been heard from since the failure was held? */
static int
all_heard_since (const mu_job_t *j, uint64_t since, const char *failed_node)
{
  for (size_t i = 0; i < j->nmembers; i++)
    {
      mu_node_t *m = mu_coord_node (j->coord, j->members[i]);
      if (m != NULL && m->alive && strcmp (m->node_id, failed_node) != 0
          && m->last_seen_ms <= since)
        return 0;
    }
  return 1;
}

/* The failure held back: no node loss came to explain it. */
static void
charge_held (mu_job_t *j)
{
  if (!j->held.set || j->state != MU_JOB_RUNNING)
    {
      mu_failure_free (&j->held);
      return;
    }
  mu_failure_t h = j->held;
  memset (&j->held, 0, sizeof j->held);
  mu_node_t *n = mu_smap_get (j->coord->node_ids, h.node_id);
  if (!j->failure.set)
    j->failure = h;
  else
    mu_failure_free (&h);
  if (n != NULL)
    mu_cordon_note_failure (j, n);
  mu_epoch_recover (j, MU_RECOVER_USER, j->failure.reason);
}

static void
on_hold_timeout (uv_timer_t *t)
{
  charge_held (t->data);
}

void
mu_epoch_member_heard (mu_job_t *j)
{
  if (j->held.set && j->state == MU_JOB_RUNNING
      && all_heard_since (j, j->held_ms, j->held.node_id))
    {
      uv_timer_stop (&j->kick_timer);
      charge_held (j);
    }
}

int
mu_failure_hold (mu_job_t *j, mu_node_t *n, const mu_worker_state_t *ws,
                 const char *why)
{
  if (j->held.set)
    return 1; /* the first failure is held; this one follows it */
  uint64_t hold = attribution_hold (j, n);
  if (hold == 0)
    return 0;
  mu_failure_set (&j->held, n->node_id, (int64_t)ws->rank, ws->exit_code,
                  ws->signal, ws->stderr_tail, why);
  j->held_ms = mu_now_ms ();
  mu_log_info (j->coord->log, "FAILURE-HELD",
               "job %s: %s; held up to %llu "
               "ms in case a node loss explains it",
               j->id, why, (unsigned long long)hold);
  uv_timer_start (&j->kick_timer, on_hold_timeout, hold, 0);
  return 1;
}

void
mu_failure_attribute (mu_job_t *j, const mu_node_t *lost)
{
  if (!j->held.set)
    return;
  mu_log_notice (j->coord->log, "FAILURE-ATTRIBUTED",
                 "job %s: %s, %llu ms before node %s was declared lost: "
                 "charged to the loss, not to the restart budget",
                 j->id, j->held.reason ? j->held.reason : "?",
                 (unsigned long long)(mu_now_ms () - j->held_ms),
                 lost->node_id);
  uv_timer_stop (&j->kick_timer);
  mu_failure_free (&j->held);
}
