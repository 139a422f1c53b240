/*
 * service_load.c — a service's load figures and its autoscaler.
 *
 * Two sources: the replicas' own reports (libmuster
 * muster_worker_report_load -> worker.load, forwarded by their agent,
 * kept per rank of the epoch; a replica's load is the sum of its
 * workers'), and ctl.load, one figure for the whole job from an external
 * load balancer, which stands for the replicas' reports while it is
 * fresh (3 cooldowns, at least 10 s).  The autoscaler (autoscale.h, a
 * pure machine) is fed from the coordinator's sweep with the replicas'
 * loads (or the external figure) and its target goes to the scheduler
 * through mu_sched_glue_set_target, the one way in for a new target.
 */
#include "coordinator/service.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "coordinator/sched_glue.h"

static uint64_t
cooldown_of (const mu_job_t *j)
{
  return j->spec->autoscale_cooldown_ms ? j->spec->autoscale_cooldown_ms
                                        : MU_AS_COOLDOWN_DEFAULT_MS;
}

static int
ext_fresh (const mu_job_t *j, const mu_service_t *s, uint64_t now)
{
  uint64_t keep = 3 * cooldown_of (j);
  if (keep < 10000)
    keep = 10000;
  return s->ext_ms != 0 && now - s->ext_ms < keep;
}

/* Recompute the load of node key's replica from its ranks. */
static void
sum_replica (mu_job_t *j, mu_service_t *s, uint32_t key)
{
  mu_svc_rep_t *r = mu_service_rep (s, key);
  if (r == NULL)
    return;
  size_t nm = 0;
  const mu_rdzv_member_t *mem = mu_rdzv_members (j->rdzv, &nm);
  double sum = 0;
  int any = 0;
  for (size_t i = 0; i < nm; i++)
    if (mem[i].key == key)
      for (uint64_t k = mem[i].first_rank;
           k < mem[i].first_rank + mem[i].nproc && k < s->nrank_load; k++)
        if (!isnan (s->rank_load[k]))
          {
            sum += s->rank_load[k];
            any = 1;
          }
  r->load = sum;
  r->load_set = any;
}

void
mu_service_load (mu_coord_t *c, mu_node_t *n, const mu_load_t *l)
{
  mu_job_t *j = n->job;
  mu_service_t *s = mu_service_of (j);
  if (s == NULL || strcmp (l->job, j->id) != 0 || l->epoch != j->epoch
      || l->rank >= j->world)
    {
      mu_log_debug (c->log, "LOAD-IGNORED", "node %s: load of job %s epoch "
                    "%llu rank %llu", n->node_id, l->job,
                    (unsigned long long)l->epoch, (unsigned long long)l->rank);
      return;
    }
  if (s->nrank_load != j->world)
    {
      double *v = malloc ((j->world ? j->world : 1) * sizeof *v);
      if (v == NULL)
        return;
      for (size_t i = 0; i < j->world; i++)
        v[i] = NAN;
      free (s->rank_load);
      s->rank_load = v;
      s->nrank_load = j->world;
    }
  s->rank_load[l->rank] = (double)l->load_milli / 1000.0;
  mu_svc_rep_t *r = mu_service_rep (s, n->key);
  if (r != NULL)
    r->loaded = r->ever_loaded = 1;
  sum_replica (j, s, n->key);
}

void
mu_service_set_load (mu_job_t *j, double load)
{
  mu_service_t *s = mu_service_of (j);
  if (s == NULL)
    return;
  s->ext_load = load;
  s->ext_ms = mu_now_ms ();
}

double
mu_service_load_of (mu_job_t *j, int *any)
{
  mu_service_t *s = j->svc;
  *any = 0;
  if (s == NULL)
    return 0;
  if (ext_fresh (j, s, mu_now_ms ()))
    {
      *any = 1;
      return s->ext_load;
    }
  double sum = 0;
  for (size_t i = 0; i < s->nreps; i++)
    if (s->reps[i].load_set)
      {
        sum += s->reps[i].load;
        *any = 1;
      }
  return sum;
}

void
mu_service_autoscale (mu_job_t *j, uint64_t now)
{
  mu_service_t *s = j->svc;
  const mu_job_spec_t *sp = j->spec;
  if (sp->autoscale_target == 0 || s->rolling || j->scale_pending)
    return;
  if (!s->as_on)
    {
      const mu_role_spec_t *rs = &sp->roles.v[0];
      mu_as_cfg_t cfg = {
        .min = (uint32_t)(sp->autoscale_min ? sp->autoscale_min
                                            : rs->min_nodes),
        .max = (uint32_t)(sp->autoscale_max ? sp->autoscale_max
                                            : rs->max_nodes),
        .target = (double)sp->autoscale_target,
        .cooldown_ms = sp->autoscale_cooldown_ms,
      };
      mu_as_init (&s->as, &cfg, now);
      s->as_on = 1;
    }
  /* The replicas' figures, or the external one while fresh. */
  double loads[64];
  size_t n = 0;
  if (ext_fresh (j, s, now))
    loads[n++] = s->ext_load;
  else
    {
      double rest = 0;
      for (size_t i = 0; i < s->nreps; i++)
        if (s->reps[i].load_set)
          {
            if (n < 63)
              loads[n++] = s->reps[i].load;
            else
              rest += s->reps[i].load;
          }
      if (rest > 0)
        loads[n++] = rest;
    }
  uint32_t target = 0;
  uint32_t current = (uint32_t)j->nmembers;
  if (mu_as_decide (&s->as, now, current, loads, n, &target) != 1)
    return;
  char err[256];
  int rc = mu_sched_glue_set_target (j->coord, j, NULL, target, err,
                                     sizeof err);
  snprintf (s->autoscale, sizeof s->autoscale,
            "%s %u replica(s) (was %u): load %.3f, %.0f per replica aimed "
            "at%s%.100s", rc == 0 ? "target" : "could not set", target, current,
            s->as.last_load, s->as.cfg.target, rc == 0 ? "" : ": ",
            rc == 0 ? "" : err);
  mu_log_notice (j->coord->log, "AUTOSCALE", "job %s: %s", j->id,
                 s->autoscale);
}
