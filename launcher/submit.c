/*
 * submit.c — `muster submit FILE`: read a job spec file (YAML,
 * common/job_spec_yaml.h), check it completely on this side, and send it
 * as one ctl.submit to a running coordinator.
 *
 * A spec with mistakes never leaves the client: every error is printed
 * with its file:line:column and field, and the exit status is 2 (a usage
 * error, like a bad flag); the coordinator is not asked.  --dry-run stops
 * after the check and prints what would be sent.  --json prints one JSON
 * object (the outcome, or the list of errors) for scripts.  Exit status:
 * 0 submitted (or checked, with --dry-run), 1 the coordinator refused it
 * or did not answer, 2 a usage error or an invalid spec.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <muster/error.h>

#include "common/job_spec_yaml.h"
#include "common/util.h"
#include "launcher/ctl_client.h"

static void
usage (FILE *f)
{
  fprintf (
      f,
      "usage: muster submit [--coordinator EP] [--key FILE --server-key KEY]\n"
      "                     [--timeout DUR] [--json] [--dry-run] FILE\n"
      "Submit the job described by FILE (YAML; - reads standard input) to a\n"
      "running coordinator.  The file is checked first: every mistake is\n"
      "named by line, column and field, and nothing is sent.\n"
      "  --coordinator EP   the control port (also --endpoint): ipc://PATH,\n"
      "                     HOST:PORT or tcp://HOST:PORT (default\n"
      "                     $MUSTER_COORDINATOR, $MUSTER_CTL_ENDPOINT, else "
      "the\n"
      "                     local coordinator's socket, as muster status)\n"
      "  --key FILE, --server-key KEY   over TCP (docs/security.md)\n"
      "  --timeout DUR      how long to wait for the answer (default 5s)\n"
      "  --json             print one JSON object instead of text\n"
      "  --dry-run          check the file and print the job; send nothing\n"
      "The format is in docs/scheduler.md; examples in examples/specs/.\n"
      "exit status: 0 submitted (or checked), 1 refused or no answer,\n"
      "2 usage error or invalid spec\n");
}

/* s as a JSON string literal. */
static void
json_str (FILE *f, const char *s)
{
  fputc ('"', f);
  for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++)
    {
      if (*p == '"' || *p == '\\')
        fprintf (f, "\\%c", *p);
      else if (*p == '\n')
        fputs ("\\n", f);
      else if (*p < 0x20)
        fprintf (f, "\\u%04x", *p);
      else
        fputc (*p, f);
    }
  fputc ('"', f);
}

static void
json_list (FILE *f, const mu_strlist_t *l)
{
  fputc ('[', f);
  for (size_t i = 0; i < l->n; i++)
    {
      if (i)
        fputs (", ", f);
      json_str (f, l->v[i]);
    }
  fputc (']', f);
}

/* The spec as JSON (what --dry-run --json prints). */
static void
json_spec (FILE *f, const mu_job_spec_t *s)
{
  fprintf (f, "{\"id\": ");
  json_str (f, s->id);
  fprintf (f, ", \"tenant\": ");
  json_str (f, s->tenant ? s->tenant : "");
  fprintf (f, ", \"priority\": %lld, \"kind\": ", (long long)s->priority);
  json_str (f, s->kind ? s->kind : "gang");
  fprintf (f, ", \"argv\": ");
  json_list (f, &s->argv);
  fprintf (f, ", \"roles\": [");
  for (size_t i = 0; i < s->roles.n; i++)
    {
      const mu_role_spec_t *r = &s->roles.v[i];
      fprintf (f, "%s{\"name\": ", i ? ", " : "");
      json_str (f, r->name);
      fprintf (
          f,
          ", \"min\": %llu, \"max\": %llu, \"nproc\": %llu, \"slots\": %llu, "
          "\"labels\": ",
          (unsigned long long)r->min_nodes, (unsigned long long)r->max_nodes,
          (unsigned long long)r->nproc,
          (unsigned long long)(r->slots ? r->slots : r->nproc));
      json_list (f, &r->labels);
      fprintf (f, ", \"argv\": ");
      json_list (f, r->argv.n ? &r->argv : &s->argv);
      fputc ('}', f);
    }
  fprintf (f, "]}");
}

static void
text_spec (FILE *f, const char *file, const mu_job_spec_t *s)
{
  fprintf (f, "%s: job %s (%s, tenant %s, priority %lld)\n", file, s->id,
           s->kind ? s->kind : "gang", s->tenant ? s->tenant : "(the owner's)",
           (long long)s->priority);
  for (size_t i = 0; i < s->roles.n; i++)
    {
      const mu_role_spec_t *r = &s->roles.v[i];
      const mu_strlist_t *a = r->argv.n ? &r->argv : &s->argv;
      fprintf (f,
               "  role %s: %llu:%llu replicas of %llu process(es), %llu "
               "slot(s) each",
               r->name, (unsigned long long)r->min_nodes,
               (unsigned long long)r->max_nodes, (unsigned long long)r->nproc,
               (unsigned long long)(r->slots ? r->slots : r->nproc));
      for (size_t k = 0; k < r->labels.n; k++)
        fprintf (f, "%s%s", k ? "," : ", on nodes with ", r->labels.v[k]);
      fputs (";", f);
      for (size_t k = 0; k < a->n; k++)
        fprintf (f, " %s", a->v[k]);
      fputc ('\n', f);
    }
}

int
mu_submit_main (int argc, char **argv)
{
  const char *ep = NULL, *key = NULL, *skey = NULL, *file = NULL;
  uint64_t timeout_ms = 5000;
  int json = 0, dry = 0;
  for (int i = 0; i < argc; i++)
    if (strcmp (argv[i], "--help") == 0 || strcmp (argv[i], "-h") == 0)
      {
        usage (stdout);
        return 0;
      }
  for (int i = 0; i < argc; i++)
    {
      const char *a = argv[i];
      if ((strcmp (a, "--coordinator") == 0 || strcmp (a, "--endpoint") == 0)
          && i + 1 < argc)
        ep = argv[++i];
      else if (strcmp (a, "--key") == 0 && i + 1 < argc)
        key = argv[++i];
      else if (strcmp (a, "--server-key") == 0 && i + 1 < argc)
        skey = argv[++i];
      else if (strcmp (a, "--timeout") == 0 && i + 1 < argc)
        {
          if (mu_parse_duration_ms (argv[++i], &timeout_ms) != 0)
            {
              char err[300];
              mu_duration_error (err, sizeof err, "--timeout", argv[i]);
              fprintf (stderr, "muster submit: %s\n", err);
              return 2;
            }
        }
      else if (strcmp (a, "--json") == 0)
        json = 1;
      else if (strcmp (a, "--dry-run") == 0)
        dry = 1;
      else if ((a[0] != '-' || strcmp (a, "-") == 0) && file == NULL)
        file = a;
      else
        {
          fprintf (stderr, "muster submit: unexpected argument '%s'\n", a);
          usage (stderr);
          return 2;
        }
    }
  if (file == NULL)
    {
      fprintf (stderr, "muster submit: which file? (a job spec, e.g. "
                       "examples/specs/train_gang.yaml)\n");
      usage (stderr);
      return 2;
    }
  if (ep == NULL && getenv ("MUSTER_COORDINATOR")
      && *getenv ("MUSTER_COORDINATOR"))
    ep = getenv ("MUSTER_COORDINATOR");
  static char err[8192];
  mu_job_spec_t *spec = NULL;
  int rc = mu_job_spec_yaml_load (file, &spec, err, sizeof err);
  if (rc != 0)
    {
      if (json)
        {
          printf ("{\"ok\": false, \"code\": ");
          json_str (stdout, muster_err_name (rc));
          printf (", \"errors\": [");
          char *save = NULL;
          int n = 0;
          for (char *l = strtok_r (err, "\n", &save); l;
               l = strtok_r (NULL, "\n", &save))
            {
              printf ("%s", n++ ? ", " : "");
              json_str (stdout, l);
            }
          printf ("]}\n");
        }
      else
        fprintf (stderr, "muster submit: %s\n", err);
      return rc == MUSTER_EINVAL || rc == MUSTER_ENOTFOUND
                     || rc == MUSTER_ETOOBIG
                 ? 2
                 : 1;
    }
  if (dry)
    {
      if (json)
        {
          printf ("{\"ok\": true, \"dry_run\": true, \"job\": ");
          json_spec (stdout, spec);
          printf ("}\n");
        }
      else
        text_spec (stdout, file, spec);
      mu_job_spec_free (&spec);
      return 0;
    }
  mu_msg_t req, rep;
  memset (&req, 0, sizeof req);
  memset (&rep, 0, sizeof rep);
  req.type = MU_MSG_CTL_SUBMIT;
  req.u.ctl_submit.job = spec;
  rc = mu_ctl_request (ep, key, skey, timeout_ms, &req, &rep, err, sizeof err);
  int out = 0;
  if (rc == 0 && rep.type == MU_MSG_CTL_REPLY && rep.u.ctl_reply.status != 0)
    {
      rc = (int)rep.u.ctl_reply.status;
      snprintf (err, sizeof err, "%s",
                rep.u.ctl_reply.message ? rep.u.ctl_reply.message
                                        : muster_strerror (rc));
    }
  else if (rc == 0 && rep.type != MU_MSG_CTL_REPLY)
    {
      rc = MUSTER_EPROTO;
      snprintf (err, sizeof err, "unexpected answer %s",
                mu_msg_name (rep.type));
    }
  if (rc != 0)
    {
      if (json)
        {
          printf ("{\"ok\": false, \"job\": ");
          json_str (stdout, spec->id);
          printf (", \"code\": ");
          json_str (stdout, muster_err_name (rc));
          printf (", \"message\": ");
          json_str (stdout, err);
          printf ("}\n");
        }
      else
        fprintf (stderr, "muster submit: job %s: %s\n", spec->id, err);
      out = rc == MUSTER_EINVAL && strncmp (err, "control port", 12) == 0 ? 2
                                                                          : 1;
    }
  else if (json)
    {
      printf ("{\"ok\": true, \"job\": ");
      json_str (stdout, spec->id);
      printf (", \"message\": ");
      json_str (stdout, rep.u.ctl_reply.message ? rep.u.ctl_reply.message
                                                : "submitted");
      printf ("}\n");
    }
  else
    printf ("job %s: %s\n", spec->id,
            rep.u.ctl_reply.message ? rep.u.ctl_reply.message : "submitted");
  mu_msg_clear (&rep);
  mu_job_spec_free (&spec);
  return out;
}
