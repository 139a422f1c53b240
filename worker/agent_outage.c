/*
 * agent_outage.c — an agent cut off from its coordinator.
 *
 * While the coordinator is unreachable (stalled, restarting, or gone) the
 * workers keep running, and three things happen here:
 *   - their requests (kv, barrier, ckpt.saved) are held in order and sent
 *     after the next agent.welcome, so a libmuster call sees a delay rather
 *     than an error (bounded: HELD_MAX requests);
 *   - fencing: when the agent stalled past its lease, or has reached no
 *     coordinator for the job's outage window, it kills its workers, so a
 *     node the coordinator declared lost never keeps old ranks running;
 *   - when the coordinator is gone for good, the node reports the true
 *     outcome of its own workers (what its launcher prints and exits
 *     with), instead of "cannot reach the coordinator".
 * The timing decisions are made in agent.c (heartbeat and registration
 * timers); this file carries them out.
 */
#include "worker/agent_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <muster/error.h>

#include "common/job_defaults.h"
#include "common/util.h"


/* A worker's request kept while the coordinator is unreachable. */
struct mu_agent_held
{
  struct mu_agent_held *next;
  size_t len;
  char *buf;
};

#define HELD_MAX 65536 /* requests kept at most; beyond, they fail */

static int
is_worker_request (const mu_msg_t *m)
{
  return m->type == MU_MSG_KV_PUT || m->type == MU_MSG_KV_GET
         || m->type == MU_MSG_BARRIER || m->type == MU_MSG_CKPT_SAVED
         || m->type == MU_MSG_KV_ADD || m->type == MU_MSG_KV_CAS
         || m->type == MU_MSG_KV_DEL || m->type == MU_MSG_KV_COUNT;
}

int
mu_agent_hold_request (mu_agent_t *a, const mu_msg_t *m)
{
  if (!is_worker_request (m))
    return MUSTER_EINVAL;
  if (a->nheld >= HELD_MAX)
    return MUSTER_EQUOTA;
  struct mu_agent_held *h = calloc (1, sizeof *h);
  if (h == NULL || mu_msg_encode (m, &h->buf, &h->len) != 0)
    {
      free (h);
      return -ENOMEM;
    }
  if (a->held_tail)
    a->held_tail->next = h;
  else
    a->held_head = h;
  a->held_tail = h;
  a->nheld++;
  return 0;
}

/* After a welcome: the requests held meanwhile, in order. */
void
mu_agent_flush_held (mu_agent_t *a)
{
  size_t sent = 0;
  while (a->held_head != NULL)
    {
      struct mu_agent_held *h = a->held_head;
      if (mu_wire_send_raw (a->coord_sock, NULL, h->buf, h->len) != 0)
        break; /* still unreachable: the next welcome tries again */
      a->held_head = h->next;
      if (a->held_head == NULL)
        a->held_tail = NULL;
      a->nheld--;
      free (h->buf);
      free (h);
      sent++;
    }
  if (sent > 0)
    mu_log_info (a->log, "HELD-SENT",
                 "%zu worker request(s) held while the "
                 "coordinator was unreachable sent",
                 sent);
}

void
mu_agent_free_held (mu_agent_t *a)
{
  while (a->held_head != NULL)
    {
      struct mu_agent_held *h = a->held_head;
      a->held_head = h->next;
      free (h->buf);
      free (h);
    }
  a->held_tail = NULL;
  a->nheld = 0;
}

/* How long this agent keeps its workers without a coordinator: the job's
 * outage window, or the agent's connect timeout if shorter (it gives up
 * on the coordinator then, and leaves no worker behind). */
uint64_t
mu_agent_outage_ms (const mu_agent_t *a)
{
  const mu_job_spec_t *spec
      = a->start.type == MU_MSG_START ? a->start.u.start.spec : a->job;
  uint64_t w = mu_job_default_or (spec != NULL ? spec->outage_ms : 0,
                                  MU_JD_OUTAGE_MS);
  if (a->opts.connect_timeout_ms > 0 && a->opts.connect_timeout_ms < w)
    w = a->opts.connect_timeout_ms;
  return w;
}

/* The coordinator is gone for good: this node's workers are down (or were
 * just killed); what they did is the only outcome this node can know. */
void
mu_agent_report_own_outcome (mu_agent_t *a, uint64_t away_ms)
{
  size_t ok = 0;
  const mu_agent_worker_t *first = NULL;
  for (size_t i = 0; i < a->nworkers; i++)
    {
      const mu_agent_worker_t *w = &a->workers[i];
      if (w->exit_seq != 0 && w->exit_code == 0 && w->exit_signal == 0
          && strcmp (w->exit_state, "exited") == 0)
        ok++;
      else if (w->exit_seq != 0 && !w->fenced
               && (first == NULL || w->exit_seq < first->exit_seq))
        first = w; /* its own failure, not our kill at the window */
    }
  char why[1024];
  int n = snprintf (why, sizeof why,
                    "the coordinator at %s was lost (no answer for %.1f s) "
                    "and did not come back; ",
                    a->coordinator, (double)away_ms / 1000.0);
  size_t len = n > 0 && (size_t)n < sizeof why ? (size_t)n : 0;
  mu_job_done_t d;
  memset (&d, 0, sizeof d);
  d.job = a->job ? a->job->id : (char *)"";
  d.failed_rank = -1;
  d.failed_node = a->node_id;
  d.reason = why;
  if (a->nworkers > 0 && ok == a->nworkers)
    {
      d.state = (char *)"succeeded";
      snprintf (why + len, sizeof why - len,
                "all %zu worker(s) of this node exited 0 (the other nodes' "
                "outcome is unknown here)",
                a->nworkers);
    }
  else
    {
      d.state = (char *)"failed";
      d.exit_code = 1;
      if (first != NULL)
        {
          d.failed_rank = (int64_t)first->rank;
          d.failed_signal = first->exit_signal;
          d.exit_code = first->exit_signal > 0 ? 128 + first->exit_signal
                        : first->exit_code > 0 && first->exit_code < 256
                            ? first->exit_code
                            : 1;
          snprintf (
              why + len, sizeof why - len, "rank %llu of this node %s %lld%s",
              (unsigned long long)first->rank,
              first->exit_signal ? "was killed by signal" : "exited with code",
              (long long)(first->exit_signal ? first->exit_signal
                                             : first->exit_code),
              a->fenced ? " (the workers still running when the outage "
                          "window ended were killed)"
                        : "");
        }
      else if (a->fenced)
        snprintf (why + len, sizeof why - len,
                  "this node's workers still "
                  "running when its outage window (%.1f s) ended were "
                  "killed",
                  (double)mu_agent_outage_ms (a) / 1000.0);
      else
        snprintf (why + len, sizeof why - len, "no worker ran here");
    }
  if (a->job == NULL && !a->opts.exit_on_done)
    {
      /* A pool agent serves the cluster, not one job: its workers are down
       * (fenced), so it forgets that job and goes on looking for a
       * coordinator to serve.  (It used to stop registering here and stay
       * alive unregistered: tests/chaos found it.) */
      mu_log_warn (a->log, "JOB-ABANDONED", "%s; registering again", why);
      mu_agent_report_done (a, &d);
      a->fenced = 0;
      mu_agent_register_now (a);
      return;
    }
  if (a->opts.ev.on_done == NULL)
    mu_log_err (a->log, "AGENT-GIVE-UP", "%s", why);
  mu_agent_report_done (a, &d);
  mu_agent_shutdown (a, 0);
}

/* Fencing: kill this node's workers now (see the top of this file). */
void
mu_agent_fence (mu_agent_t *a, const char *why)
{
  if (a->live == 0)
    return;
  mu_log_warn (a->log, "FENCED",
               "%s: killing this node's %zu running "
               "worker(s) so no rank runs twice",
               why, a->live);
  mu_agent_workers_kill (a);
}
