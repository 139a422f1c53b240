/*
 * ctl_nodes_cmd.c — `muster nodes [NODE]`, `muster cordon NODE`,
 * `muster uncordon NODE`, `muster drain [--grace DUR] NODE` (ctl.nodes,
 * ctl.cordon, ctl.uncordon, ctl.drain; admin only on the coordinator's
 * side).
 */
#include "launcher/ctl_client.h"

#include <stdio.h>
#include <string.h>

#include "launcher/ctl_format.h"

static int
print_nodes (const mu_ctl_nodes_reply_t *r)
{
  printf ("%-20s %-16s %5s %4s %-9s %-20s %-9s %s\n", "NODE", "HOST",
          "SLOTS", "USED", "HEALTH", "JOB", "SEEN", "LABELS");
  for (size_t i = 0; i < r->nodes.n; i++)
    {
      const mu_node_info_t *n = &r->nodes.v[i];
      char seen[32], job[96], ago[48], labels[512] = "-";
      snprintf (job, sizeof job, "%s%s%s", n->job ? n->job : "-",
                n->role ? "/" : "", n->role ? n->role : "");
      snprintf (ago, sizeof ago, "%s ago",
                mu_ctl_fmt_age (n->last_seen_ms, seen, sizeof seen));
      size_t used = 0;
      for (size_t l = 0; l < n->labels.n && used < sizeof labels; l++)
        {
          int k = snprintf (labels + used, sizeof labels - used, "%s%s=%s",
                            l ? "," : "", n->labels.keys[l],
                            n->labels.vals[l]);
          if (k < 0)
            break;
          used += (size_t)k;
        }
      printf ("%-20s %-16s %5llu %4llu %-9s %-20s %-9s %s\n", n->node_id,
              n->host, (unsigned long long)n->slots,
              (unsigned long long)n->used, n->health, job, ago, labels);
    }
  return 0;
}

int
mu_ctl_nodes_main (const char *cmd, int argc, char **argv)
{
  int listing = strcmp (cmd, "nodes") == 0;
  mu_ctl_args_t a;
  int rc = mu_ctl_parse (argc, argv, &a, !listing, cmd);
  if (rc != 0)
    return rc < 0 ? 0 : rc;
  mu_msg_t req, rep;
  memset (&req, 0, sizeof req);
  if (listing)
    {
      req.type = MU_MSG_CTL_NODES;
      req.u.ctl_nodes.node = (char *)a.job;
    }
  else if (strcmp (cmd, "cordon") == 0)
    {
      req.type = MU_MSG_CTL_CORDON;
      req.u.ctl_cordon.node = (char *)a.job;
    }
  else if (strcmp (cmd, "uncordon") == 0)
    {
      req.type = MU_MSG_CTL_UNCORDON;
      req.u.ctl_uncordon.node = (char *)a.job;
    }
  else
    {
      req.type = MU_MSG_CTL_DRAIN;
      req.u.ctl_drain.node = (char *)a.job;
      req.u.ctl_drain.grace_ms = a.grace_ms;
    }
  char err[768];
  rc = mu_ctl_call_ex (a.endpoint, &a.keys, a.timeout_ms, &req, &rep, err,
                       sizeof err, a.json ? stderr : NULL);
  if (rc != 0)
    {
      fprintf (stderr, "muster %s: %s\n", cmd, mu_ctl_errmsg (cmd, err));
      return 1;
    }
  if (a.json)
    mu_ctl_print_json (stdout, &rep);
  else if (rep.type == MU_MSG_CTL_NODES_REPLY)
    print_nodes (&rep.u.ctl_nodes_reply);
  else
    printf ("%s\n", rep.type == MU_MSG_CTL_REPLY && rep.u.ctl_reply.message
                      ? rep.u.ctl_reply.message
                      : "ok");
  mu_msg_clear (&rep);
  return 0;
}
