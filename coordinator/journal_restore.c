/*
 * journal_restore.c — the job table rebuilt from a replayed image when
 * musterd starts (journal.h says what comes back in which condition).
 *
 * Order is kept without clocks from before the restart: the image numbers
 * creations and finishes, and restored jobs get monotonic times in that
 * order (oldest first for free nodes, oldest finished pruned first).
 *
 * A running job's members come back as placeholder nodes (nodes.c): not
 * alive, holding the member's node id, key, host and peer port, its role
 * and how many of its workers are still running.  The rendezvous machine
 * is restored closed in the journaled epoch with those keys, so the ranks
 * it assigns are the journaled ones (checked; a mismatch reopens the
 * job instead).  Nothing is sent: the agents are away until they register
 * again.  Placeholders still away MU_JRESTORE_WINDOW_MS later are lost.
 */
#include "coordinator/journal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <muster/error.h>

#include "checkpoint/commit.h"
#include "checkpoint/manifest.h"
#include "common/util.h"
#include "coordinator/ckpt.h"
#include "coordinator/epoch.h"
#include "coordinator/event_stream.h"

static int
state_of (const char *name, mu_job_state_t *out)
{
  for (int s = MU_JOB_PENDING; s <= MU_JOB_SUSPENDED; s++)
    if (strcmp (mu_job_state_name ((mu_job_state_t)s), name) == 0)
      {
        *out = (mu_job_state_t)s;
        return 0;
      }
  return MUSTER_EINVAL;
}

static char *
dup_or_null (const char *s)
{
  return s ? strdup (s) : NULL;
}

static void
ckpt_setup (mu_job_t *j, const mu_jjob_t *jj)
{
  if (jj->ckpt_dir != NULL)
    {
      j->restore_dir = strdup (jj->ckpt_dir);
      j->restore_step = jj->ckpt_step;
      j->restore_created_us = jj->ckpt_created_us;
    }
  if (j->spec->ckpt_dir == NULL || j->spec->ckpt_dir[0] == '\0')
    return;
  char dir[4096];
  if (mu_ckpt_job_dir (j->spec->ckpt_dir, j->id, dir, sizeof dir) != 0
      || (j->ckpt_job_dir = strdup (dir)) == NULL
      || mu_ckpt_commit_new (j->id, &j->ckpt) != 0)
    mu_log_warn (j->coord->log, "CKPT-INIT-FAILED",
                 "job %s: checkpoints off after the restart", j->id);
}

/* How long a member of j may stay away: the job's outage window (the
 * time its agents keep their workers without a coordinator), else
 * --restore-window, else 30 s. */
static uint64_t
window_ms (const mu_coord_t *c, const mu_job_t *j)
{
  if (j != NULL && j->spec->outage_ms > 0)
    return j->spec->outage_ms;
  return c->opts.restore_window_ms ? c->opts.restore_window_ms
                                   : MU_JRESTORE_WINDOW_MS;
}

/* Placeholders record when they were restored in last_seen_ms. */
static void
on_restore_window (uv_timer_t *t)
{
  mu_coord_t *c = t->data;
  uint64_t now = mu_now_ms (), next = 0;
  for (size_t k = 0; k < c->nodes_used; k++)
    {
      mu_node_t *n = c->nodes[k];
      if (n == NULL || !n->in_use || !n->restored || n->alive)
        continue;
      uint64_t w = window_ms (c, n->job), due = n->last_seen_ms + w;
      if (due > now)
        {
          next = next == 0 || due < next ? due : next;
          continue;
        }
      char why[160];
      snprintf (why, sizeof why,
                "did not come back within %.0f s of the "
                "coordinator's restart",
                (double)w / 1000.0);
      if (c->journal->awaiting > 0)
        c->journal->awaiting--;
      mu_nodes_drop_placeholder (c, n, why);
    }
  if (next != 0)
    uv_timer_start (t, on_restore_window, next - now, 0);
}

/* The machine takes the journaled counters and state (RESTORE; a job
 * between epochs stays PENDING and opens its next round). */
static void
restore_machine (mu_job_t *j, const mu_jjob_t *jj, mu_job_state_t st,
                 uint64_t live)
{
  mu_job_state_t final = MU_JOB_FAILED;
  if (jj->final[0])
    state_of (jj->final, &final);
  mu_jm_event_t ev = { .type = MU_JM_E_RESTORE, .now_ms = mu_now_ms (),
                       .state = st, .final_state = final,
                       .epoch = jj->epoch, .world = jj->world,
                       .restarts = jj->restarts,
                       .user_failures = jj->user_failures,
                       .infra_failures = jj->infra_failures,
                       .ok_exits = jj->ok_exits, .live = live,
                       .exit_code_final = (int)jj->exit_code,
                       .resumable = j->restore_dir != NULL };
  mu_jm_out_t out;
  mu_jm_feed (&j->jm, &ev, &out); /* no decision: nothing to carry out */
}

/* Members back as placeholders, the machine closed in the epoch. */
static int
restore_running (mu_coord_t *c, mu_job_t *j, const mu_jjob_t *jj)
{
  size_t n = jj->nmembers;
  mu_rdzv_member_t *mem = calloc (n, sizeof *mem);
  uint32_t *keys = calloc (n, sizeof *keys);
  mu_node_t **nodes = calloc (n, sizeof *nodes);
  int rc = mem && keys && nodes ? 0 : -ENOMEM;
  size_t made = 0;
  uint64_t live = 0;
  for (size_t i = 0; rc == 0 && i < n; i++)
    {
      const mu_jmember_t *m = &jj->members[i];
      mu_node_t *node
          = mu_nodes_placeholder (c, m->node, m->pub, m->host, m->port_base);
      if (node == NULL)
        {
          rc = MUSTER_EEXIST;
          break;
        }
      nodes[made++] = node;
      node->job = j;
      node->role = m->role;
      node->live = m->nproc - m->exited;
      node->live_epoch = jj->epoch;
      node->last_seen_ms = mu_now_ms (); /* restored at */
      live += node->live;
      mem[i].key = node->key;
      mem[i].role = m->role;
      mem[i].nproc = m->nproc;
      keys[i] = node->key;
    }
  if (rc == 0)
    rc = mu_rdzv_restore (j->rdzv, jj->epoch, mem, n);
  if (rc == 0)
    {
      size_t got = 0;
      const mu_rdzv_member_t *back = mu_rdzv_members (j->rdzv, &got);
      if (got != n || mu_rdzv_world (j->rdzv) != jj->world)
        rc = MUSTER_EINTERNAL;
      for (size_t i = 0; rc == 0 && i < n; i++)
        if (back[i].key != keys[i]
            || back[i].first_rank != jj->members[i].first_rank
            || back[i].role_first_rank != jj->members[i].role_first_rank)
          rc = MUSTER_EINTERNAL;
    }
  free (mem);
  if (rc != 0)
    {
      mu_log_err (c->log, "JOURNAL-RESTORE",
                  "job %s epoch %llu: its membership cannot be restored "
                  "(%s); it starts a new epoch when its nodes are back",
                  j->id, (unsigned long long)jj->epoch, muster_strerror (rc));
      for (size_t i = 0; i < made; i++)
        {
          nodes[i]->job = NULL;
          mu_nodes_drop_placeholder (c, nodes[i], "restore failed");
        }
      free (keys);
      free (nodes);
      return rc;
    }
  free (nodes);
  j->members = keys;
  j->nmembers = n;
  restore_machine (j, jj, MU_JOB_RUNNING, live);
  j->epoch_started_ms = mu_now_ms ();
  mu_epoch_restore_members (j);
  /* Checkpoints are triggered again when every member is back
   * (mu_jrestore_node_back): a request now would reach no one. */
  if (j->restore_dir != NULL && j->ckpt != NULL)
    j->max_step = j->restore_step;
  mu_jctx_t *x = c->journal;
  x->awaiting += n;
  uint64_t w = window_ms (c, j);
  if (!uv_is_active ((uv_handle_t *)&x->restore_timer)
      || uv_timer_get_due_in (&x->restore_timer) > w)
    uv_timer_start (&x->restore_timer, on_restore_window, w, 0);
  mu_log_notice (c->log, "JOB-RESTORED",
                 "job %s epoch %llu (world %llu, restart %llu): running; "
                 "waiting up to %.0f s for its %zu node(s) to come back",
                 j->id, (unsigned long long)j->epoch,
                 (unsigned long long)j->world, (unsigned long long)j->restarts,
                 (double)w / 1000.0, n);
  return 0;
}

static void
copy_failure (mu_job_t *j, const mu_jjob_t *jj)
{
  if (!jj->failure.set)
    return;
  j->failure.set = 1;
  j->failure.rank = jj->failure.rank;
  j->failure.node_id = dup_or_null (jj->failure.node);
  j->failure.exit_code = jj->failure.exit_code;
  j->failure.signal = jj->failure.signal;
  j->failure.reason = dup_or_null (jj->failure.reason);
}

static int
restore_one (mu_coord_t *c, const mu_jjob_t *jj, uint64_t base)
{
  mu_job_state_t st, final = MU_JOB_FAILED;
  if (state_of (jj->state, &st) != 0
      || (jj->final[0] && state_of (jj->final, &final) != 0))
    {
      mu_log_err (c->log, "JOURNAL-RESTORE", "job %s: unknown state %s",
                  jj->spec->id, jj->state);
      return MUSTER_EINVAL;
    }
  mu_job_t *j = mu_jobs_restore_new (c, jj->spec, jj->uid, jj->gid);
  if (j == NULL)
    return -ENOMEM;
  j->submitted = jj->submitted;
  j->epoch_reason = dup_or_null (jj->epoch_reason);
  j->reason = dup_or_null (jj->reason);
  j->created_ms = base + jj->order;
  ckpt_setup (j, jj);
  /* Counters kept for every state: a finished job's next snapshot
   * (compaction, or the one at stop) must carry what a replay gives. */
  restore_machine (j, jj, st >= MU_JOB_STOPPING ? st : MU_JOB_PENDING, 0);
  mu_ev_job_restored (j, jj->state);
  if (st == MU_JOB_STOPPING)
    {
      /* It was stopping for good: its workers were told to stop.  It ends
       * as it would have; the agents that come back hear it is done. */
      j->finished_ms = mu_now_ms ();
      c->njobs_finished++;
      mu_rdzv_restore (j->rdzv, jj->epoch, NULL, 0);
      mu_log_notice (c->log, "JOB-DONE",
                     "job %s %s (it was stopping when "
                     "the coordinator went down): %s",
                     j->id, mu_job_state_name (final),
                     j->reason ? j->reason : "");
      mu_ev_job_finished (j);
      mu_jhook_finished (j);
      return 0;
    }
  if (st >= MU_JOB_SUCCEEDED)
    {
      copy_failure (j, jj);
      j->finished_ms = base + jj->finish_order;
      c->njobs_finished++;
      return mu_rdzv_restore (j->rdzv, jj->epoch, NULL, 0);
    }
  if (st == MU_JOB_RUNNING && jj->nmembers > 0
      && restore_running (c, j, jj) == 0)
    return 0;
  /* Between epochs (or a membership that could not come back): the next
   * round is the journaled epoch + 1. */
  mu_rdzv_restore (j->rdzv, jj->epoch, NULL, 0);
  mu_log_notice (c->log, "JOB-RESTORED",
                 "job %s: %s at epoch %llu; opening "
                 "its next round",
                 j->id, jj->state, (unsigned long long)jj->epoch);
  mu_jobs_open_round (j);
  return 0;
}

int
mu_jrestore_jobs (mu_coord_t *c, const mu_jimage_t *img)
{
  size_t n = mu_smap_size (img->jobs);
  if (n == 0)
    return 0;
  /* Restore in creation order: free nodes go to the oldest job first. */
  const mu_jjob_t **all = calloc (n, sizeof *all);
  if (all == NULL)
    return -ENOMEM;
  size_t k = 0, pos = 0;
  void *val;
  while (mu_smap_next (img->jobs, &pos, NULL, &val))
    all[k++] = val;
  for (size_t a = 1; a < k; a++)
    for (size_t b = a; b > 0 && all[b - 1]->order > all[b]->order; b--)
      {
        const mu_jjob_t *t = all[b];
        all[b] = all[b - 1];
        all[b - 1] = t;
      }
  uint64_t now = mu_now_ms ();
  uint64_t base = now > img->seq + 1 ? now - img->seq - 1 : 0;
  int rc = 0;
  for (size_t i = 0; rc == 0 && i < k; i++)
    rc = restore_one (c, all[i], base);
  free (all);
  if (rc == 0)
    mu_jobs_offer_free_nodes (c);
  return rc;
}

void
mu_jrestore_node_back (mu_coord_t *c, mu_node_t *n)
{
  mu_jctx_t *x = c->journal;
  mu_job_t *j = n->job;
  if (x != NULL && x->awaiting > 0)
    x->awaiting--;
  if (j == NULL)
    return;
  /* O(members of the job) per node back: a job's nodes come back once. */
  size_t away = 0;
  for (size_t i = 0; i < j->nmembers; i++)
    {
      mu_node_t *o = mu_coord_node (c, j->members[i]);
      if (o != NULL && o->restored && o->job == j)
        away++;
    }
  mu_log_notice (c->log, "NODE-BACK",
                 "job %s epoch %llu: node %s is back; its %u running "
                 "worker(s) carry on (%zu node(s) still away)",
                 j->id, (unsigned long long)j->epoch, n->node_id, n->live,
                 away);
  if (away == 0 && j->state == MU_JOB_RUNNING)
    {
      mu_log_notice (c->log, "JOB-CONTINUES",
                     "job %s: every node is back; epoch %llu goes on without "
                     "a restart",
                     j->id, (unsigned long long)j->epoch);
      /* Checkpoint triggers start now that every member can hear them. */
      mu_ckpt_epoch_started (j);
    }
  if (x != NULL && x->awaiting == 0)
    uv_timer_stop (&x->restore_timer);
}
