/*
 * service_rollout.c — rolling update of a service job (ctl.update).
 *
 * The update's spec is the job's with a new argv and/or environment
 * variables set over the job's.  Replicas are taken one at a time, in
 * node-rank order: the replica is stopped (job.stop of the epoch to its
 * node alone) and started again with the new spec in the same epoch
 * (service.c), and the next one is taken only when it is ready
 * (service.h) and no other replica is down, so at most one replica is
 * ever down because of the update.  When the last is ready the new spec
 * becomes the job's.  If the new version fails before it is ready, the
 * update stops there (ctl.get: "stopped: ..."), that replica goes back to
 * the old spec, and the replicas not yet updated are never touched.
 * The update is not journaled (service.h).
 */
#include "coordinator/service.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <muster/error.h>

#include "common/util.h"

static int
dup_into (char **slot, const char *v)
{
  char *c = strdup (v);
  if (c == NULL)
    return -ENOMEM;
  free (*slot);
  *slot = c;
  return 0;
}

/* Set k=v in map (replacing k's value). */
static int
map_set (mu_strmap_t *m, const char *k, const char *v)
{
  for (size_t i = 0; i < m->n; i++)
    if (strcmp (m->keys[i], k) == 0)
      return dup_into (&m->vals[i], v);
  char **keys = realloc (m->keys, (m->n + 1) * sizeof *keys);
  if (keys == NULL)
    return -ENOMEM;
  m->keys = keys;
  char **vals = realloc (m->vals, (m->n + 1) * sizeof *vals);
  if (vals == NULL)
    return -ENOMEM;
  m->vals = vals;
  m->keys[m->n] = strdup (k);
  m->vals[m->n] = strdup (v);
  if (m->keys[m->n] == NULL || m->vals[m->n] == NULL)
    {
      free (m->keys[m->n]);
      free (m->vals[m->n]);
      return -ENOMEM;
    }
  m->n++;
  return 0;
}

static int
valid_env_name (const char *k)
{
  if (k == NULL || *k == '\0' || (*k >= '0' && *k <= '9'))
    return 0;
  for (const char *p = k; *p; p++)
    if (!(*p == '_' || (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z')
          || (*p >= '0' && *p <= '9')))
      return 0;
  return 1;
}

int
mu_service_update (mu_job_t *j, const mu_strlist_t *argv,
                   const mu_strmap_t *env, char *field, size_t fcap,
                   char *err, size_t errlen)
{
  mu_service_t *s = mu_service_of (j);
  snprintf (field, fcap, "job");
  if (s == NULL)
    {
      snprintf (err, errlen, "update: job %s is not a service (kind %s)",
                j->id, j->spec->kind ? j->spec->kind : "gang");
      return MUSTER_EINVAL;
    }
  if (j->state != MU_JOB_RUNNING)
    {
      snprintf (err, errlen, "update: job %s is %s, not running", j->id,
                mu_job_state_name (j->state));
      return MUSTER_EINVAL;
    }
  if (s->rolling)
    {
      snprintf (err, errlen, "update: job %s is being updated already (%s)",
                j->id, s->rollout);
      return MUSTER_EEXIST;
    }
  size_t nargv = argv ? argv->n : 0, nenv = env ? env->n : 0;
  if (nargv == 0 && nenv == 0)
    {
      snprintf (field, fcap, "argv");
      snprintf (err, errlen, "update: nothing to update: give argv (the "
                "command) and/or env");
      return MUSTER_EINVAL;
    }
  for (size_t i = 0; i < nargv; i++)
    if (argv->v[i] == NULL || (i == 0 && argv->v[0][0] == '\0'))
      {
        snprintf (field, fcap, "argv");
        snprintf (err, errlen, "update: field 'argv': the program name is "
                  "empty");
        return MUSTER_EINVAL;
      }
  for (size_t i = 0; i < nenv; i++)
    if (!valid_env_name (env->keys[i]))
      {
        snprintf (field, fcap, "env");
        snprintf (err, errlen, "update: field 'env': '%s' is not a variable "
                  "name (letters, digits and _, not starting with a digit)",
                  env->keys[i]);
        return MUSTER_EINVAL;
      }
  /* Updated replicas of an earlier, stopped update run its spec: the
   * new update starts from the job's and takes every replica again. */
  mu_job_spec_t *ns = mu_job_spec_dup (j->spec);
  int rc = ns ? 0 : -ENOMEM;
  if (rc == 0 && nargv > 0)
    {
      mu_strlist_t nl = { calloc (nargv, sizeof (char *)), nargv };
      rc = nl.v ? 0 : -ENOMEM;
      for (size_t i = 0; rc == 0 && i < nargv; i++)
        if ((nl.v[i] = strdup (argv->v[i])) == NULL)
          rc = -ENOMEM;
      for (size_t i = 0; i < ns->argv.n; i++)
        free (ns->argv.v[i]);
      free (ns->argv.v);
      ns->argv = nl;
      /* a role with its own argv runs the new one too */
      for (size_t r = 0; r < ns->roles.n; r++)
        {
          for (size_t i = 0; i < ns->roles.v[r].argv.n; i++)
            free (ns->roles.v[r].argv.v[i]);
          free (ns->roles.v[r].argv.v);
          memset (&ns->roles.v[r].argv, 0, sizeof ns->roles.v[r].argv);
        }
    }
  for (size_t i = 0; rc == 0 && i < nenv; i++)
    rc = map_set (&ns->env, env->keys[i], env->vals[i]);
  if (rc != 0)
    {
      mu_job_spec_free (&ns);
      snprintf (err, errlen, "update: out of memory");
      return rc;
    }
  mu_job_spec_free (&s->new_spec);
  s->new_spec = ns;
  for (size_t i = 0; i < s->nreps; i++)
    s->reps[i].updated = 0;
  s->rolling = 1;
  s->cur_active = 0;
  s->nupdated = 0;
  s->ntotal = (uint32_t)j->nmembers;
  snprintf (s->rollout, sizeof s->rollout, "updating: 0 of %u updated",
            s->ntotal);
  mu_log_notice (j->coord->log, "ROLLOUT-START",
                 "job %s: rolling update of %u replica(s)%s%s", j->id,
                 s->ntotal, nargv ? ", new command" : "",
                 nenv ? ", new environment" : "");
  return 0;
}

/* The member of the lowest node rank not updated yet, or NULL. */
static mu_node_t *
next_replica (mu_job_t *j, mu_service_t *s)
{
  size_t nm = 0;
  const mu_rdzv_member_t *mem = mu_rdzv_members (j->rdzv, &nm);
  mu_node_t *best = NULL;
  uint64_t best_rank = UINT64_MAX;
  for (size_t i = 0; i < nm; i++)
    {
      mu_node_t *n = mu_coord_node (j->coord, mem[i].key);
      mu_svc_rep_t *r = mu_service_rep (s, mem[i].key);
      if (n == NULL || n->job != j || r == NULL || r->updated)
        continue;
      if (mem[i].node_rank < best_rank)
        {
          best_rank = mem[i].node_rank;
          best = n;
        }
    }
  return best;
}

static void
finish_rollout (mu_job_t *j, mu_service_t *s)
{
  /* Every replica runs the new spec: its command and environment become
   * the job's (moved into j->spec, which other fields point into). */
  mu_job_spec_t *ns = s->new_spec, *js = j->spec;
  mu_strlist_t argv = js->argv;
  mu_strmap_t env = js->env;
  js->argv = ns->argv;
  js->env = ns->env;
  ns->argv = argv;
  ns->env = env;
  for (size_t r = 0; r < js->roles.n && r < ns->roles.n; r++)
    {
      mu_strlist_t ra = js->roles.v[r].argv;
      js->roles.v[r].argv = ns->roles.v[r].argv;
      ns->roles.v[r].argv = ra;
    }
  mu_job_spec_free (&s->new_spec);
  for (size_t i = 0; i < s->nreps; i++)
    s->reps[i].updated = 0;
  s->rolling = 0;
  snprintf (s->rollout, sizeof s->rollout, "done: %u of %u updated",
            s->nupdated, s->ntotal);
  mu_log_notice (j->coord->log, "ROLLOUT-DONE", "job %s: %s", j->id,
                 s->rollout);
}

void
mu_service_rollout_step (mu_job_t *j, uint64_t now)
{
  mu_service_t *s = j->svc;
  if (s->cur_active)
    {
      mu_svc_rep_t *r = mu_service_rep (s, s->cur_key);
      if (r == NULL)
        s->cur_active = 0; /* its node left: the next one */
      else if (!mu_service_ready (j, r, now))
        return;
      else
        {
          s->cur_active = 0;
          s->nupdated++;
          snprintf (s->rollout, sizeof s->rollout,
                    "updating: %u of %u updated", s->nupdated, s->ntotal);
          mu_log_notice (j->coord->log, "ROLLOUT-STEP", "job %s: %s", j->id,
                         s->rollout);
        }
    }
  /* Never two down at once: every replica must be ready first. */
  for (size_t i = 0; i < s->nreps; i++)
    if (!mu_service_ready (j, &s->reps[i], now))
      return;
  mu_node_t *n = next_replica (j, s);
  if (n == NULL)
    {
      finish_rollout (j, s);
      return;
    }
  mu_svc_rep_t *r = mu_service_rep (s, n->key);
  r->updated = 1;
  s->cur_active = 1;
  s->cur_key = n->key;
  mu_log_notice (j->coord->log, "ROLLOUT-REPLICA",
                 "job %s: updating the replica on node %s", j->id,
                 n->node_id);
  mu_service_cycle (j, n, 0);
}
