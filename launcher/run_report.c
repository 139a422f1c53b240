/*
 * run_report.c — what `muster run` says about checkpoints as an epoch
 * starts (see run_report.h).  Resuming must never be silent: a rerun of a
 * command that quietly continued from an old checkpoint looks exactly
 * like a fresh run until the loss curve says otherwise.  These lines are
 * printed at the default log level; they are built here, pure, so their
 * wording is tested.
 */
#include "launcher/run_report.h"

#include <stdio.h>
#include <string.h>

#include "common/when.h"

static size_t
done (int n, size_t cap)
{
  if (n < 0 || cap == 0)
    return 0;
  return (size_t)n < cap ? (size_t)n : cap - 1;
}

size_t
mu_run_resume_notice (const mu_start_t *s, uint64_t now_us, char *buf,
                      size_t cap)
{
  if (cap > 0)
    buf[0] = '\0';
  if (s->restore_dir == NULL || s->restore_dir[0] == '\0' || s->in_place)
    return 0;
  char when[128];
  if (s->restore_created_us > 0)
    mu_when_text (s->restore_created_us, now_us, when, sizeof when);
  else
    snprintf (when, sizeof when, "time unknown");
  return done (snprintf (buf, cap,
                         "muster: resuming job %s from step %llu "
                         "(checkpoint written %s)",
                         s->job, (unsigned long long)s->restore_step, when),
               cap);
}

size_t
mu_run_finished_notice (const mu_start_t *s, char *buf, size_t cap)
{
  if (cap > 0)
    buf[0] = '\0';
  if (s->finished_us == 0)
    return 0;
  char stamp[64];
  if (s->finished_us > 1)
    mu_when_stamp (s->finished_us, stamp, sizeof stamp);
  else
    snprintf (stamp, sizeof stamp, "an unknown date");
  return done (snprintf (buf, cap,
                         "muster: job %s finished at step %llu on %s; "
                         "starting fresh (use --resume to continue from its "
                         "last checkpoint; its checkpoints were moved to %s)",
                         s->job, (unsigned long long)s->finished_step, stamp,
                         s->finished_moved ? s->finished_moved : "?"),
               cap);
}
