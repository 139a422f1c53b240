/*
 * ctl_scale_cmd.c — `muster scale JOB [--role R] (--min N --max M | N)`:
 * change an elastic job's node range, or run it at N nodes (ctl.scale).
 * Usage errors (a target and a range together, half a range, a bad
 * number) are named here with exit status 2; what the coordinator
 * refuses (a fixed-size job, min above max, an unknown role) comes back
 * naming the field, exit status 1.
 */
#include "launcher/ctl_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
mu_ctl_scale_main (int argc, char **argv)
{
  mu_ctl_args_t a;
  int rc = mu_ctl_parse (argc, argv, &a, 1, "scale");
  if (rc != 0)
    return rc < 0 ? 0 : rc;
  uint64_t target = 0;
  if (a.arg2 != NULL)
    {
      char *end = NULL;
      target = strtoull (a.arg2, &end, 10);
      if (a.arg2[0] < '0' || a.arg2[0] > '9' || *end != '\0' || target == 0)
        {
          fprintf (stderr, "muster scale: the target '%s' must be a node "
                   "count of at least 1\n", a.arg2);
          return 2;
        }
    }
  if (target != 0 && (a.min_given || a.max_given))
    {
      fprintf (stderr, "muster scale: give either a target N or --min and "
               "--max, not both\n");
      return 2;
    }
  if (target == 0 && !(a.min_given && a.max_given))
    {
      fprintf (stderr, "muster scale: %s\n",
               a.min_given || a.max_given
                 ? "give both --min and --max (or a target N)"
                 : "how many nodes? give a target N, or --min N --max M");
      mu_ctl_usage (stderr, "scale");
      return 2;
    }
  mu_msg_t req, rep;
  memset (&req, 0, sizeof req);
  req.type = MU_MSG_CTL_SCALE;
  req.u.ctl_scale.job = (char *)a.job;
  req.u.ctl_scale.role = (char *)a.role;
  req.u.ctl_scale.min = a.min;
  req.u.ctl_scale.max = a.max;
  req.u.ctl_scale.target = target;
  char err[768];
  rc = mu_ctl_call_ex (a.endpoint, &a.keys, a.timeout_ms, &req, &rep, err,
                       sizeof err, a.json ? stderr : NULL);
  if (rc != 0)
    {
      fprintf (stderr, "muster scale: %s\n", mu_ctl_errmsg ("scale", err));
      return 1;
    }
  if (a.json)
    mu_ctl_print_json (stdout, &rep);
  else
    printf ("%s\n", rep.type == MU_MSG_CTL_REPLY && rep.u.ctl_reply.message
                      ? rep.u.ctl_reply.message
                      : "ok");
  mu_msg_clear (&rep);
  return 0;
}
