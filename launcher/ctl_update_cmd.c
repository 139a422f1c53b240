/*
 * ctl_update_cmd.c — the service commands of the CLI:
 *   `muster update JOB [--env K=V]... [-f SPEC.yaml] [--command PROG ARG...]`
 *     a rolling update of a service job (ctl.update): its replicas are
 *     restarted one at a time with the new command and/or environment;
 *     -f takes the command and environment from a spec file;
 *   `muster load JOB X`  the job's load figure, for an external load
 *     balancer (ctl.load).
 * Usage errors (an --env without '=', a bad variable name, nothing to
 * update, a spec file that does not parse) are named here with exit
 * status 2; what the coordinator refuses (not a service, an update in
 * progress) comes back naming the field, exit status 1.
 */
#include "launcher/ctl_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/job_spec_yaml.h"

#define MAX_ENV 256

static int
valid_name (const char *k, size_t n)
{
  if (n == 0 || (k[0] >= '0' && k[0] <= '9'))
    return 0;
  for (size_t i = 0; i < n; i++)
    if (!(k[i] == '_' || (k[i] >= 'A' && k[i] <= 'Z')
          || (k[i] >= 'a' && k[i] <= 'z') || (k[i] >= '0' && k[i] <= '9')))
      return 0;
  return 1;
}

/* Send req and print the reply (or the error); exit status. */
static int
call (const char *cmd, mu_ctl_args_t *a, mu_msg_t *req)
{
  mu_msg_t rep;
  char err[768];
  int rc = mu_ctl_call_ex (a->endpoint, &a->keys, a->timeout_ms, req, &rep,
                           err, sizeof err, a->json ? stderr : NULL);
  if (rc != 0)
    {
      fprintf (stderr, "muster %s: %s\n", cmd, mu_ctl_errmsg (cmd, err));
      return 1;
    }
  if (a->json)
    mu_ctl_print_json (stdout, &rep);
  else
    printf ("%s\n", rep.type == MU_MSG_CTL_REPLY && rep.u.ctl_reply.message
                      ? rep.u.ctl_reply.message
                      : "ok");
  mu_msg_clear (&rep);
  return 0;
}

int
mu_ctl_update_main (int argc, char **argv)
{
  /* Our options out, the common ones (and JOB) left for mu_ctl_parse. */
  char **rest = calloc ((size_t)argc + 1, sizeof *rest);
  char *keys[MAX_ENV], *vals[MAX_ENV];
  size_t nenv = 0, nrest = 0;
  const char *file = NULL;
  char **cmdv = NULL;
  size_t ncmd = 0;
  int rc = 2;
  mu_job_spec_t *spec = NULL;
  if (rest == NULL)
    return 1;
  for (int i = 0; i < argc; i++)
    {
      const char *o = argv[i];
      if (strcmp (o, "--env") == 0 || strcmp (o, "-e") == 0)
        {
          const char *kv = i + 1 < argc ? argv[++i] : NULL;
          const char *eq = kv ? strchr (kv, '=') : NULL;
          if (kv == NULL || eq == NULL || !valid_name (kv, (size_t)(eq - kv)))
            {
              fprintf (stderr, "muster update: --env '%s': expected NAME=VALUE "
                       "(NAME: letters, digits and _, not starting with a "
                       "digit)\n", kv ? kv : "");
              goto out;
            }
          if (nenv == MAX_ENV)
            {
              fprintf (stderr, "muster update: at most %d --env\n", MAX_ENV);
              goto out;
            }
          keys[nenv] = strndup (kv, (size_t)(eq - kv));
          vals[nenv] = (char *)eq + 1;
          if (keys[nenv] == NULL)
            goto out;
          nenv++;
        }
      else if (strcmp (o, "-f") == 0 || strcmp (o, "--file") == 0)
        {
          if (i + 1 >= argc)
            {
              fprintf (stderr, "muster update: -f needs a spec file\n");
              goto out;
            }
          file = argv[++i];
        }
      else if (strcmp (o, "--command") == 0)
        {
          cmdv = argv + i + 1;
          ncmd = (size_t)(argc - i - 1);
          break;
        }
      else
        rest[nrest++] = argv[i];
    }
  mu_ctl_args_t a;
  int prc = mu_ctl_parse ((int)nrest, rest, &a, 1, "update");
  if (prc != 0)
    {
      rc = prc < 0 ? 0 : prc;
      goto out;
    }
  if (cmdv != NULL && ncmd == 0)
    {
      fprintf (stderr, "muster update: --command needs the program (and "
               "its arguments) after it\n");
      goto out;
    }
  mu_msg_t req;
  memset (&req, 0, sizeof req);
  req.type = MU_MSG_CTL_UPDATE;
  req.u.ctl_update.job = (char *)a.job;
  if (file != NULL)
    {
      char err[2048];
      if (mu_job_spec_yaml_load (file, &spec, err, sizeof err) != 0)
        {
          fprintf (stderr, "muster update: %s\n", err);
          goto out;
        }
      req.u.ctl_update.argv = spec->argv;
      req.u.ctl_update.env = spec->env;
    }
  if (cmdv != NULL)
    {
      req.u.ctl_update.argv.v = cmdv;
      req.u.ctl_update.argv.n = ncmd;
    }
  if (nenv > 0)
    {
      if (file != NULL && spec->env.n > 0)
        {
          fprintf (stderr, "muster update: give the environment by --env or "
                   "in the spec file, not both\n");
          goto out;
        }
      req.u.ctl_update.env.keys = keys;
      req.u.ctl_update.env.vals = vals;
      req.u.ctl_update.env.n = nenv;
    }
  if (req.u.ctl_update.argv.n == 0 && req.u.ctl_update.env.n == 0)
    {
      fprintf (stderr, "muster update: nothing to update: give --env K=V, "
               "--command PROG ..., or -f SPEC.yaml\n");
      mu_ctl_usage (stderr, "update");
      goto out;
    }
  rc = call ("update", &a, &req);
out:
  for (size_t i = 0; i < nenv; i++)
    free (keys[i]);
  mu_job_spec_free (&spec);
  free (rest);
  return rc;
}

int
mu_ctl_load_main (int argc, char **argv)
{
  mu_ctl_args_t a;
  int rc = mu_ctl_parse (argc, argv, &a, 1, "load");
  if (rc != 0)
    return rc < 0 ? 0 : rc;
  if (a.arg2 == NULL)
    {
      fprintf (stderr, "muster load: give the load figure: muster load JOB "
               "X\n");
      return 2;
    }
  mu_msg_t req;
  memset (&req, 0, sizeof req);
  req.type = MU_MSG_CTL_LOAD;
  req.u.ctl_load.job = (char *)a.job;
  req.u.ctl_load.load = (char *)a.arg2; /* checked by the coordinator */
  return call ("load", &a, &req);
}
