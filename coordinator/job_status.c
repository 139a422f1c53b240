/*
 * job_status.c — why a job is in its state, for `muster status` (see
 * job_status.h).  A job that waits says what for and how far it got; a
 * suspended one says from which step and how to go on; a finished one
 * keeps the reason it ended with.  The text is rebuilt from the state at
 * every ctl.status, so a reason cannot outlive its state.
 */
#include "coordinator/job_status.h"

#include <stdio.h>
#include <string.h>

size_t
mu_job_status_reason (const mu_job_status_in_t *in, char *buf, size_t cap)
{
  char tmp[512];
  const char *er = in->epoch_reason && in->epoch_reason[0] ? in->epoch_reason
                                                          : NULL;
  tmp[0] = '\0';
  switch (in->state)
    {
    case MU_JOB_PENDING:
      snprintf (tmp, sizeof tmp, "looking for its newest checkpoint");
      break;
    case MU_JOB_RENDEZVOUS:
      if (in->joined < in->min_nodes && in->submitted)
        snprintf (tmp, sizeof tmp, "waiting for free nodes: needs %u, %u free",
                  in->min_nodes - in->joined, in->free_nodes);
      else if (in->joined < in->min_nodes)
        snprintf (tmp, sizeof tmp, "waiting for nodes: %u of min %u joined",
                  in->joined, in->min_nodes);
      else
        snprintf (tmp, sizeof tmp,
                  "forming the gang: %u node(s) joined (min %u, max %u)",
                  in->joined, in->min_nodes, in->max_nodes);
      break;
    case MU_JOB_RUNNING:
      if (in->restarts > 0 && er)
        snprintf (tmp, sizeof tmp, "restarted after: %s", er);
      break;
    case MU_JOB_RECOVERING:
      snprintf (tmp, sizeof tmp, "re-forming the gang: %s", er ? er : "recovery");
      break;
    case MU_JOB_SUSPENDED:
      if (in->has_ckpt)
        snprintf (tmp, sizeof tmp,
                  "suspended: preempted at step %llu; resume with muster "
                  "resume %s",
                  (unsigned long long)in->ckpt_step, in->id);
      else
        snprintf (tmp, sizeof tmp,
                  "suspended: preempted before any checkpoint; muster resume "
                  "%s starts it from the beginning",
                  in->id);
      break;
    case MU_JOB_STOPPING:
    case MU_JOB_SUCCEEDED:
    case MU_JOB_FAILED:
    case MU_JOB_CANCELLED:
      snprintf (tmp, sizeof tmp, "%s", in->reason ? in->reason : "");
      break;
    }
  if (cap > 0)
    snprintf (buf, cap, "%s", tmp);
  size_t n = strlen (tmp);
  return cap == 0 ? 0 : (n < cap ? n : cap - 1);
}
