/*
 * sched_glue_standin.c — a stand-in for mu_sched_glue_set_target until
 * the scheduler is wired into musterd (the `schedwire` branch implements
 * the real one in coordinator/sched_glue*.c; drop this file then).
 *
 * It runs the role at the target through the control port's scale path
 * (ctl_scale.c: surplus members released, free nodes attached, the
 * rendezvous given the new range), the same thing `muster scale JOB N`
 * does.
 */
#include "coordinator/sched_glue.h"

#include <stdio.h>
#include <string.h>

#include <muster/error.h>

#include "coordinator/ctl_ops.h"

int
mu_sched_glue_set_target (mu_coord_t *c, mu_job_t *j, const char *role,
                          uint32_t target, char *err, size_t errlen)
{
  uint32_t r = 0;
  if (role != NULL && *role != '\0')
    {
      for (r = 0; r < j->spec->roles.n; r++)
        if (strcmp (j->spec->roles.v[r].name, role) == 0)
          break;
      if (r == j->spec->roles.n)
        {
          snprintf (err, errlen, "job %s has no role '%s'", j->id, role);
          return MUSTER_ENOTFOUND;
        }
    }
  if (target == 0)
    {
      snprintf (err, errlen, "a target must be at least 1");
      return MUSTER_EINVAL;
    }
  char msg[256];
  return mu_ctl_scale_target (c, j, r, target, msg, sizeof msg, err, errlen);
}
