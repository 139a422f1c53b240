/*
 * cordon.c — bad hosts: a node whose workers keep failing is taken out of
 * its job for a cooldown that doubles each time.
 *
 * A node that fails `cordon_failures` times within `cordon_window_ms`
 * (defaults 3 in 60 s) leaves its job's rendezvous, so the restart that
 * follows re-forms the gang without it while the job stays at or above
 * min.  It stays attached to the job; when its cooldown (`cordon_ms`,
 * default 10 s, doubling up to 10 min) has passed it joins again and the
 * job scales back up.  The counts live on the node, so a restart storm
 * caused by one bad machine stops costing the whole gang.
 */
#include "coordinator/epoch.h"

#include <stdio.h>
#include <string.h>

#include "common/job_defaults.h"
#include "common/util.h"

#define MAX_CORDON_MS 600000

void
mu_cordon_note_failure (mu_job_t *j, mu_node_t *n)
{
  uint64_t now = mu_now_ms ();
  uint64_t limit = mu_job_default_or (j->spec->cordon_failures,
                                      MU_JD_CORDON_FAILURES);
  uint64_t window = mu_job_default_or (j->spec->cordon_window_ms,
                                       MU_JD_CORDON_WINDOW_MS);
  if (n->fail_count == 0 || now - n->fail_window_start > window)
    {
      n->fail_window_start = now;
      n->fail_count = 0;
    }
  if (++n->fail_count < limit || n->cordoned)
    return;
  uint64_t cooldown = mu_job_default_or (j->spec->cordon_ms, MU_JD_CORDON_MS);
  for (uint32_t i = 0; i < n->cordon_level && cooldown < MAX_CORDON_MS; i++)
    cooldown *= 2;
  if (cooldown > MAX_CORDON_MS)
    cooldown = MAX_CORDON_MS;
  n->cordon_level++;
  n->fail_count = 0;
  n->cordoned = 1;
  n->cordon_until = now + cooldown;
  mu_rdzv_decision_t d;
  mu_rdzv_leave (j->rdzv, now, n->key, &d); /* the restart that follows re-forms */
  mu_log_warn (j->coord->log, "NODE-CORDONED",
               "job %s: node %s failed %llu times within %llu ms; cordoned "
               "for %llu ms",
               j->id, n->node_id, (unsigned long long)limit,
               (unsigned long long)window, (unsigned long long)cooldown);
}

void
mu_jobs_uncordon (mu_coord_t *c, uint64_t now)
{
  for (size_t k = 0; k < c->nodes_used; k++)
    {
      mu_node_t *n = c->nodes[k];
      if (n == NULL || !n->in_use || !n->alive || !n->cordoned
          || now < n->cordon_until)
        continue;
      mu_job_t *j = n->job;
      n->cordoned = 0;
      if (j == NULL || j->state >= MU_JOB_STOPPING)
        continue;
      mu_log_notice (c->log, "NODE-UNCORDONED", "job %s: node %s rejoins",
                     j->id, n->node_id);
      mu_rdzv_decision_t d;
      if (mu_rdzv_join (j->rdzv, now, n->key, n->role,
                        (uint32_t)j->spec->roles.v[n->role].nproc, &d)
          == 0)
        mu_jobs_handle_decision (j, &d);
    }
}
