/*
 * agent_spare.c — spare processes for in-place jobs (muster run --spares
 * N, job_spec.spares; decision 76 in docs/architecture.md).
 *
 * In in-place mode the survivors of a lost worker keep their processes,
 * but the epoch that re-forms the gang also needs the lost place filled,
 * and a new process of a PyTorch program spends seconds importing torch
 * and building its model before it can join: every survivor waits for
 * it.  A spare is that start-up done ahead of time: the agent starts the
 * job's program once more, with MUSTER_SPARE=1 in its environment, and
 * holds the hello its muster_worker_init sends (libmuster waits without a
 * deadline when it is a spare).  When an in-place epoch has a place with
 * no live worker, the spare takes it: it gets that place's worker.info
 * (rank, world, sync_from) at once, and a new spare is started for the
 * next loss.  A spare is not part of any epoch: it is not counted live,
 * its exit is not reported, and it is killed when the epoch's workers
 * are stopped or all gone.  Output lines carry the prefix "[spare] " until
 * it is taken.
 */
#include <stdlib.h>
#include <string.h>

#include <muster/error.h>

#include "common/util.h"
#include "worker/agent_int.h"

void
mu_agent_spare_ensure (mu_agent_t *a)
{
  if (a->spare != NULL || a->start.type != MU_MSG_START || a->nworkers == 0
      || a->shutting_down)
    return;
  const mu_start_t *s = &a->start.u.start;
  if (s->spec->spares == 0 || s->spec->elastic_mode == NULL
      || strcmp (s->spec->elastic_mode, "in-place") != 0 || a->live == 0)
    return;
  mu_agent_worker_t *w = calloc (1, sizeof *w);
  if (w == NULL)
    return;
  int rc = mu_agent_spawn_into (a, 0, w, 1);
  if (rc != 0)
    {
      mu_log_warn (a->log, "SPARE-FAILED", "job %s: cannot start a spare: %s",
                   s->job, muster_strerror (rc));
      free (w);
      return;
    }
  a->spare = w;
  mu_log_info (a->log, "SPARE-START", "job %s: spare started (pid %d)", s->job,
               w->pid);
}

int
mu_agent_spare_take (mu_agent_t *a, size_t i)
{
  mu_agent_worker_t *sp = a->spare;
  if (sp == NULL || !sp->running || sp->proc == NULL)
    return 0;
  const mu_start_t *s = &a->start.u.start;
  const mu_assign_t *as = &s->assign.v[i];
  mu_agent_worker_t *w = &a->workers[i];
  *w = *sp;
  free (sp);
  a->spare = NULL;
  w->spare = 0; /* spare_id stays: a hello still to come names it */
  w->rank = as->rank;
  w->epoch = s->epoch;
  w->local_rank = (uint32_t)as->local_rank;
  w->new_member = 1;
  w->exit_seq = 0;
  w->last_progress_ms = mu_now_ms ();
  snprintf (w->prefix, sizeof w->prefix, "[%s %llu] ", as->role,
            (unsigned long long)w->rank);
  (void)mu_proc_set_prefix (w->proc, w->prefix);
  mu_proc_set_arg (w->proc, w);
  a->live++;
  mu_log_info (a->log, "SPARE-TAKEN",
               "job %s epoch %llu: the spare (pid %d) "
               "takes rank %llu",
               s->job, (unsigned long long)s->epoch, w->pid,
               (unsigned long long)w->rank);
  /* Its hello, if it came, is answered now; otherwise on arrival. */
  if (w->has_route)
    mu_agent_workers_info (a, w);
  return 1;
}

int
mu_agent_spare_hello (mu_agent_t *a, const mu_route_t *from,
                      const mu_hello_t *h)
{
  mu_agent_worker_t *sp = a->spare;
  if (sp != NULL && sp->spare_id == h->spare)
    {
      sp->route = *from;
      sp->has_route = 1;
      return 1;
    }
  for (size_t i = 0; i < a->nworkers; i++)
    {
      mu_agent_worker_t *w = &a->workers[i];
      if (w->spare_id == h->spare && w->running)
        {
          /* taken before its hello came: answer it now */
          w->route = *from;
          w->has_route = 1;
          w->last_progress_ms = mu_now_ms ();
          mu_agent_workers_info (a, w);
          return 1;
        }
    }
  return 0;
}

void
mu_agent_spare_exited (mu_agent_t *a, mu_agent_worker_t *w)
{
  mu_log_info (a->log, "SPARE-EXIT", "spare (pid %d) exited", w->pid);
  w->running = 0;
  mu_proc_close (&w->proc);
  if (a->spare == w)
    a->spare = NULL;
  free (w);
}

void
mu_agent_spare_kill (mu_agent_t *a)
{
  mu_agent_worker_t *sp = a->spare;
  if (sp == NULL)
    return;
  a->spare = NULL;
  /* Closing the handle kills the process group; its exit callback is not
   * called any more, so the record goes here. */
  mu_proc_close (&sp->proc);
  free (sp);
}
