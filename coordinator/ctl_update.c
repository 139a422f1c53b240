/*
 * ctl_update.c — the control port's service requests: ctl.update (a
 * rolling update of the command or environment) and ctl.load (an
 * external load balancer's figure for the whole job).
 *
 * Both answer exactly once: a ctl.reply, or an error naming the field
 * ("load: field 'load': 'nan' is not a finite number >= 0").  The work is
 * the service's (service_rollout.c, service_load.c).
 */
#include "coordinator/ctl_ops.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <muster/error.h>

#include "coordinator/service.h"

void
mu_ctl_update (mu_coord_t *c, const mu_route_t *from,
               const mu_principal_t *who, const mu_ctl_update_t *q)
{
  mu_job_t *j = mu_ctl_job (c, from, who, q->job, "ctl.update");
  if (j == NULL)
    return;
  char field[32], err[512];
  int rc = mu_service_update (j, &q->argv, &q->env, field, sizeof field, err,
                              sizeof err);
  if (rc != 0)
    {
      mu_ctl_error (c, from, rc, "ctl.update", field, "%s", err);
      return;
    }
  char msg[700];
  snprintf (msg, sizeof msg, "job %s: %s", j->id, j->svc->rollout);
  mu_ctl_ok (c, from, msg);
}

void
mu_ctl_load (mu_coord_t *c, const mu_route_t *from,
             const mu_principal_t *who, const mu_ctl_load_t *q)
{
  mu_job_t *j = mu_ctl_job (c, from, who, q->job, "ctl.load");
  if (j == NULL)
    return;
  if (!mu_service_is (j))
    {
      mu_ctl_error (c, from, MUSTER_EINVAL, "ctl.load", "job",
                    "load: job %s is not a service (kind %s)", j->id,
                    j->spec->kind ? j->spec->kind : "gang");
      return;
    }
  char *end = NULL;
  double v = q->load ? strtod (q->load, &end) : NAN;
  if (q->load == NULL || end == q->load || *end != '\0' || !isfinite (v)
      || v < 0)
    {
      mu_ctl_error (c, from, MUSTER_EINVAL, "ctl.load", "load",
                    "load: field 'load': '%s' is not a finite number >= 0",
                    q->load ? q->load : "");
      return;
    }
  if (j->state >= MU_JOB_STOPPING)
    {
      mu_ctl_error (c, from, MUSTER_EJOBDONE, "ctl.load", "job",
                    "load: job %s is %s", j->id, mu_job_state_name (j->state));
      return;
    }
  mu_service_set_load (j, v);
  char msg[160];
  snprintf (msg, sizeof msg, "job %s: load %.3f", j->id, v);
  mu_ctl_ok (c, from, msg);
}
