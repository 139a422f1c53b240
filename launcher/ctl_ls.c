/*
 * ctl_ls.c — `muster ls` (ctl.list) and the detail `muster status JOB`
 * prints under the job's row (ctl.get): members with node, host, ranks
 * and pids; restarts by cause; the newest committed checkpoint; the first
 * failure.  Tables for people by default, --json for scripts.
 */
#include "launcher/ctl_client.h"

#include <stdio.h>
#include <string.h>

#include "common/util.h"
#include "common/when.h"
#include "launcher/ctl_format.h"

int
mu_ctl_ls_main (int argc, char **argv)
{
  mu_ctl_args_t a;
  int rc = mu_ctl_parse (argc, argv, &a, 0, "ls");
  if (rc != 0)
    return rc < 0 ? 0 : rc;
  if (a.job != NULL)
    {
      fprintf (stderr, "muster ls: unexpected argument '%s' (one job: muster "
               "status %s)\n", a.job, a.job);
      return 2;
    }
  mu_msg_t req, rep;
  memset (&req, 0, sizeof req);
  req.type = MU_MSG_CTL_LIST;
  req.u.ctl_list.state = (char *)a.state;
  req.u.ctl_list.owner = (char *)a.owner;
  char err[768];
  rc = mu_ctl_call_ex (a.endpoint, &a.keys, a.timeout_ms, &req, &rep, err,
                       sizeof err, a.json ? stderr : NULL);
  if (rc != 0)
    {
      fprintf (stderr, "muster ls: %s\n", mu_ctl_errmsg ("list", err));
      return 1;
    }
  if (rep.type != MU_MSG_CTL_LIST_REPLY)
    {
      fprintf (stderr, "muster ls: unexpected answer %s\n", mu_msg_name (rep.type));
      mu_msg_clear (&rep);
      return 1;
    }
  if (a.json)
    {
      mu_ctl_print_json (stdout, &rep);
      mu_msg_clear (&rep);
      return 0;
    }
  const mu_ctl_list_reply_t *l = &rep.u.ctl_list_reply;
  printf ("%-24s %-10s %-11s %5s %5s %5s %8s %7s  %s\n", "JOB", "OWNER",
          "STATE", "EPOCH", "WORLD", "NODES", "RESTARTS", "AGE", "REASON");
  for (size_t i = 0; i < l->jobs.n; i++)
    {
      const mu_job_info_t *j = &l->jobs.v[i];
      char age[32];
      printf ("%-24s %-10s %-11s %5llu %5llu %5llu %8llu %7s  %s\n", j->id,
              j->owner ? j->owner : "-", j->state,
              (unsigned long long)j->epoch, (unsigned long long)j->world,
              (unsigned long long)j->nodes, (unsigned long long)j->restarts,
              mu_ctl_fmt_age (j->age_ms, age, sizeof age),
              j->reason ? j->reason : "");
    }
  mu_msg_clear (&rep);
  return 0;
}

int
mu_ctl_print_detail (const mu_ctl_args_t *a)
{
  mu_msg_t req, rep;
  memset (&req, 0, sizeof req);
  req.type = MU_MSG_CTL_GET;
  req.u.ctl_get.job = (char *)a->job;
  char err[768];
  int rc = mu_ctl_call (a->endpoint, &a->keys, a->timeout_ms, &req, &rep, err,
                        sizeof err);
  if (rc != 0)
    {
      fprintf (stderr, "muster status: %s\n", err);
      return 1;
    }
  if (rep.type != MU_MSG_CTL_GET_REPLY)
    {
      mu_msg_clear (&rep);
      return 0; /* an older coordinator: the row is all there is */
    }
  const mu_ctl_get_reply_t *g = &rep.u.ctl_get_reply;
  const mu_job_spec_t *sp = g->spec;
  printf ("\njob %s of %s: %s", g->job->id, g->job->owner ? g->job->owner : "?",
          sp->argv.n ? sp->argv.v[0] : "?");
  for (size_t i = 0; i < sp->roles.n; i++)
    printf ("%s%s %llu:%llu x %llu", i ? ", " : "; roles ", sp->roles.v[i].name,
            (unsigned long long)sp->roles.v[i].min_nodes,
            (unsigned long long)sp->roles.v[i].max_nodes,
            (unsigned long long)sp->roles.v[i].nproc);
  printf ("; %s\n", sp->elastic_mode ? sp->elastic_mode : "restart");
  printf ("restarts: %llu user, %llu infrastructure, %llu scale/drain/"
          "preemption\n",
          (unsigned long long)g->restarts_user,
          (unsigned long long)g->restarts_infra,
          (unsigned long long)g->restarts_other);
  if (g->ckpt_dir != NULL)
    printf ("checkpoint: step %llu in %s\n",
            (unsigned long long)g->job->ckpt_step, g->ckpt_dir);
  if (g->failure != NULL)
    printf ("first failure: %s\n", g->failure);
  /* service: replicas restarted alone, load, rolling update, autoscaler */
  if (g->replica_restarts > 0)
    printf ("replica restarts: %llu\n",
            (unsigned long long)g->replica_restarts);
  if (g->load != NULL)
    printf ("load: %s\n", g->load);
  if (g->rollout != NULL)
    printf ("rollout: %s\n", g->rollout);
  if (g->autoscale != NULL)
    printf ("autoscale: %s\n", g->autoscale);
  if (g->members.n > 0)
    {
      printf ("%-5s %-20s %-16s %-10s %-9s %s\n", "NODE#", "NODE", "HOST",
              "ROLE", "RANKS", "PIDS");
      for (size_t i = 0; i < g->members.n; i++)
        {
          const mu_member_info_t *m = &g->members.v[i];
          char ranks[64], pids[256];
          printf ("%-5llu %-20s %-16s %-10s %-9s %s\n",
                  (unsigned long long)m->node_rank, m->node_id, m->host,
                  m->role, mu_ctl_fmt_ranks (m->ranks.v, m->ranks.n, ranks,
                                             sizeof ranks),
                  mu_ctl_fmt_pids (m->ranks.v, m->ranks.n, pids, sizeof pids));
        }
    }
  mu_msg_clear (&rep);
  return 0;
}
