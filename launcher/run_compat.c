/*
 * run_compat.c — torchrun's flags without a muster flag of their own (see
 * run_compat.h).  Each is either honoured (--local_addr is
 * --advertise-host; --log_dir, -r, -t go to the agent) or accepted with a
 * one-line note saying why it changes nothing, so a torchrun command line
 * runs unchanged and its user knows what was not done.
 */
#include "launcher/run_compat.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <muster/error.h>

#include "worker/log_files.h"

static const char *const COMPAT_FLAGS[]
    = { "monitor-interval", "start-method", "local-addr", "log-dir",
        "redirects", "r", "tee", "t", NULL };

int
mu_run_compat_knows (const char *name)
{
  for (int i = 0; COMPAT_FLAGS[i]; i++)
    if (strcmp (COMPAT_FLAGS[i], name) == 0)
      return 1;
  return 0;
}

void
mu_run_note (mu_run_opts_t *o, const char *fmt, ...)
{
  if (o->nnotes == MU_RUN_MAX_NOTES)
    return;
  char *line = o->notes[o->nnotes++];
  if (o->nnotes == MU_RUN_MAX_NOTES)
    {
      snprintf (line, sizeof o->notes[0], "(more ignored settings not shown)");
      return;
    }
  va_list ap;
  va_start (ap, fmt);
  vsnprintf (line, sizeof o->notes[0], fmt, ap);
  va_end (ap);
}

int
mu_run_compat_apply (mu_run_opts_t *o, const char *name, const char *v,
                     char *err, size_t errlen)
{
  if (strcmp (name, "monitor-interval") == 0)
    {
      char *end;
      double s = strtod (v, &end);
      if (end == v || *end != '\0' || !(s > 0))
        {
          snprintf (err, errlen, "--monitor-interval '%s': expected seconds "
                    "(e.g. 5 or 0.1)", v);
          return MUSTER_EINVAL;
        }
      mu_run_note (o, "--monitor-interval %s: ignored (the agent hears of a "
                   "worker's exit the moment it happens; it does not poll)", v);
    }
  else if (strcmp (name, "start-method") == 0)
    {
      if (strcmp (v, "spawn") != 0 && strcmp (v, "fork") != 0
          && strcmp (v, "forkserver") != 0)
        {
          snprintf (err, errlen, "--start-method '%s': expected spawn, fork "
                    "or forkserver", v);
          return MUSTER_EINVAL;
        }
      mu_run_note (o, "--start-method %s: ignored (muster starts every worker "
                   "with fork+exec through muster-exec)", v);
    }
  else if (strcmp (name, "local-addr") == 0)
    o->advertise = v; /* the address other nodes reach this one at */
  else if (strcmp (name, "log-dir") == 0)
    {
      if (v[0] == '\0')
        {
          snprintf (err, errlen, "--log-dir needs a directory");
          return MUSTER_EINVAL;
        }
      o->log_dir = v;
    }
  else
    {
      /* -r/--redirects, -t/--tee */
      int tee = name[0] == 't';
      mu_std_spec_t spec;
      char why[400];
      if (mu_std_spec_parse (v, &spec, why, sizeof why) != 0)
        {
          snprintf (err, errlen, "--%s %s", tee ? "tee" : "redirects", why);
          return MUSTER_EINVAL;
        }
      if (tee)
        o->tee = v;
      else
        o->redirects = v;
    }
  return 0;
}
