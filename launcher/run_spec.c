/*
 * run_spec.c — mu_run_spec_from_opts(): `muster run` flags as the wire job
 * spec.  run_spec_test.c checks that a run's flags and the equivalent job
 * spec file give the same spec, so the two front ends cannot drift apart.
 */
#include "launcher/run_spec.h"

#include <string.h>

void
mu_run_spec_from_opts (const mu_run_opts_t *o, const char *id,
                       mu_job_spec_t *spec, mu_role_spec_t *roles)
{
  memset (spec, 0, sizeof *spec);
  memset (roles, 0, MU_RUN_MAX_ROLES * sizeof *roles);
  spec->id = (char *)id;
  if (o->nroles > 0)
    {
      for (size_t i = 0; i < o->nroles; i++)
        {
          roles[i].name = (char *)o->roles[i].name;
          roles[i].min_nodes = o->roles[i].min_nodes;
          roles[i].max_nodes = o->roles[i].max_nodes;
          roles[i].nproc = o->roles[i].nproc;
        }
      spec->roles.n = o->nroles;
    }
  else
    {
      roles[0].name = (char *)(o->role ? o->role : "worker");
      roles[0].min_nodes = o->min_nodes;
      roles[0].max_nodes = o->max_nodes;
      roles[0].nproc = o->nproc;
      spec->roles.n = 1;
    }
  spec->roles.v = roles;
  spec->argv.v = o->argv;
  spec->argv.n = (size_t)o->argc;
  spec->max_restarts = o->max_restarts;
  spec->last_call_ms = o->last_call_ms;
  spec->join_timeout_ms = o->join_timeout_ms;
  spec->grace_ms = o->grace_ms;
  spec->outage_ms = o->outage_ms;
  spec->elastic_mode = (char *)o->elastic_mode;
  spec->progress_timeout_ms = o->progress_timeout_ms;
  spec->ckpt_dir = (char *)o->ckpt_dir;
  spec->ckpt_every_ms = o->ckpt_every_ms;
  spec->ckpt_every_steps = o->ckpt_every_steps;
  spec->ckpt_keep = o->ckpt_keep;
  spec->ckpt_timeout_ms = o->ckpt_timeout_ms;
  spec->nbuckets = o->nbuckets;
  spec->spares = o->spares;
  spec->resume = o->resume != 0;
  spec->mpi = o->mpi != 0;
}
