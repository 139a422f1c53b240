/*
 * join_progress.c — the rdzv.progress a joining node hears, held back
 * (decision 107).
 *
 * The progress is display only: `muster run` prints "waiting for nodes
 * 3/8" or "job is full; waiting for a place" from it.  Sent at every join
 * it was a third of a 10,000-node round's messages, all of them needless
 * when the round closes a moment later (job.start says everything).  So a
 * join is noted in the job's queue (join_queue.h) and its progress falls
 * due MU_JOIN_PROGRESS_DELAY_MS later; when the job's timer fires, each
 * node due that still waits — the job is still in rendezvous, or the node
 * waits for a place — is sent its progress.  A node that got its
 * job.start, left, or was lost is skipped.  The once-a-second broadcast
 * (jobs.c on_progress_timer) and the "you wait" notices at a round's
 * close are unchanged; both clear the queue, since everyone just heard.
 */
#include "coordinator/coord.h"

#include "common/util.h"
#include "coordinator/epoch.h"

static void on_due (uv_timer_t *t);

static void
arm (mu_job_t *j, uint64_t now)
{
  uint64_t due = mu_jq_next_due (&j->jp);
  if (due == 0)
    uv_timer_stop (&j->jp_timer);
  else
    uv_timer_start (&j->jp_timer, on_due, due > now ? due - now : 0, 0);
}

/* Does node n still wait in job j's round (or in its line)? */
static int
still_waits (mu_job_t *j, const mu_node_t *n)
{
  if (n == NULL || !n->in_use || !n->alive || n->job != j)
    return 0;
  return j->state == MU_JOB_RENDEZVOUS
         || mu_rdzv_is_waiting (j->rdzv, n->key) != 0;
}

static void
on_due (uv_timer_t *t)
{
  mu_job_t *j = t->data;
  if (j->coord == NULL)
    {
      mu_jq_clear (&j->jp);
      return;
    }
  uint64_t now = mu_now_ms ();
  uint32_t key;
  while (mu_jq_pop_due (&j->jp, now, &key))
    {
      mu_node_t *n = mu_coord_node (j->coord, key);
      if (still_waits (j, n))
        mu_epoch_send_progress (j, n);
    }
  arm (j, now);
}

void
mu_join_progress_note (mu_job_t *j, mu_node_t *n)
{
  uint64_t now = mu_now_ms ();
  int first = mu_jq_pending (&j->jp) == 0;
  if (mu_jq_note (&j->jp, n->key, now, MU_JOIN_PROGRESS_DELAY_MS) != 0)
    {
      /* No room to hold it back: tell it now, as before. */
      mu_epoch_send_progress (j, n);
      return;
    }
  if (first)
    arm (j, now);
}

void
mu_join_progress_clear (mu_job_t *j)
{
  mu_jq_clear (&j->jp);
  uv_timer_stop (&j->jp_timer);
}
