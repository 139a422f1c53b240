/*
 * sched_spec.c — mu_sched_spec_from_wire(): a wire job spec as the
 * scheduler sees it (sched_spec.h).  Pure field mapping plus the checks
 * that the wire's 64-bit fields fit the scheduler's.
 */
#include "scheduler/sched_spec.h"

#include <stdio.h>
#include <string.h>

#include <muster/error.h>

int
mu_sched_spec_from_wire (const mu_job_spec_t *spec, const char *owner,
                         mu_sched_spec_t *out, char *err, size_t errlen)
{
  memset (out, 0, sizeof *out);
  if (spec == NULL || spec->id == NULL)
    {
      snprintf (err, errlen, "job spec without an id");
      return MUSTER_EINVAL;
    }
  if (spec->roles.n < 1 || spec->roles.n > MU_SCHED_MAX_ROLES)
    {
      snprintf (err, errlen,
                "job %s: roles: %zu roles (the scheduler takes 1..%d)",
                spec->id, spec->roles.n, MU_SCHED_MAX_ROLES);
      return MUSTER_EINVAL;
    }
  mu_sched_job_t *j = &out->job;
  j->id = spec->id;
  j->tenant = spec->tenant && *spec->tenant ? spec->tenant : owner;
  j->priority = spec->priority;
  if (spec->kind == NULL || strcmp (spec->kind, "gang") == 0)
    j->kind = MU_SCHED_GANG;
  else if (strcmp (spec->kind, "ps") == 0)
    j->kind = MU_SCHED_PS;
  else if (strcmp (spec->kind, "service") == 0)
    j->kind = MU_SCHED_SERVICE;
  else
    {
      snprintf (err, errlen,
                "job %s: kind: expected gang, ps or service, got \"%s\"",
                spec->id, spec->kind);
      return MUSTER_EINVAL;
    }
  for (size_t i = 0; i < spec->roles.n; i++)
    {
      const mu_role_spec_t *r = &spec->roles.v[i];
      mu_sched_role_t *o = &out->roles[i];
      uint64_t slots = r->slots ? r->slots : r->nproc;
      if (r->max_nodes > UINT32_MAX || r->min_nodes > r->max_nodes || slots == 0
          || slots > UINT32_MAX || r->labels.n > MU_SCHED_MAX_LABELS)
        {
          snprintf (err, errlen,
                    "job %s: roles[%zu]: replicas %llu:%llu, slots %llu "
                    "and %zu labels do not fit the scheduler",
                    spec->id, i, (unsigned long long)r->min_nodes,
                    (unsigned long long)r->max_nodes, (unsigned long long)slots,
                    r->labels.n);
          return MUSTER_EINVAL;
        }
      o->name = r->name;
      o->min = (uint32_t)r->min_nodes;
      o->max = (uint32_t)r->max_nodes;
      o->slots = (uint32_t)slots;
      o->selector = (const char *const *)r->labels.v;
      o->nselector = r->labels.n;
      if (j->kind == MU_SCHED_SERVICE && spec->autoscale_min >= o->min
          && spec->autoscale_min <= o->max)
        o->target = (uint32_t)spec->autoscale_min;
      if (o->min < o->max)
        j->elastic = true;
    }
  j->roles = out->roles;
  j->nroles = spec->roles.n;
  return 0;
}
