/*
 * ckpt_report.c — the launcher's lines about failed checkpoints (see
 * ckpt_report.h).  Pure: the tally is fed the ckpt.done messages the
 * agent sees, and the wording is tested (ckpt_report_test.c).  The reason
 * comes from the coordinator's commit machine ("rank 1 could not save its
 * shard: No space left on device (ENOSPC on /ck/...)", "timed out waiting
 * for rank 3 (1 of 4 missing)"), so the line names the cause and the
 * place without the launcher knowing either.
 */
#include "launcher/ckpt_report.h"

#include <stdio.h>
#include <string.h>

#include <muster/error.h>

static size_t
done (int n, size_t cap)
{
  if (n < 0 || cap == 0)
    return 0;
  return (size_t)n < cap ? (size_t)n : cap - 1;
}

size_t
mu_ckpt_report_done (mu_ckpt_tally_t *t, const mu_ckpt_done_t *d, char *buf,
                     size_t cap)
{
  if (cap > 0)
    buf[0] = '\0';
  if (d->status == 0)
    {
      if (!t->have_good || d->step > t->good)
        t->good = d->step;
      t->have_good = 1;
      return 0;
    }
  if (d->last_step > 0 && (!t->have_good || d->last_step > t->good))
    {
      t->good = d->last_step;
      t->have_good = 1;
    }
  if (!d->failed)
    return 0;
  t->failed++;
  t->last_failed = d->step;
  snprintf (t->last_reason, sizeof t->last_reason, "%s",
            d->reason && d->reason[0] ? d->reason
                                      : muster_strerror ((int)d->status));
  char good[64];
  if (t->have_good)
    snprintf (good, sizeof good, "last good step %llu",
              (unsigned long long)t->good);
  else
    snprintf (good, sizeof good, "no checkpoint committed yet");
  return done (snprintf (buf, cap, "muster: checkpoint step %llu failed: %s; %s",
                         (unsigned long long)d->step, t->last_reason, good),
               cap);
}

size_t
mu_ckpt_report_summary (const mu_ckpt_tally_t *t, char *buf, size_t cap)
{
  if (cap > 0)
    buf[0] = '\0';
  if (t->failed == 0)
    return 0;
  char good[96];
  if (t->have_good)
    snprintf (good, sizeof good, "the newest good checkpoint is step %llu",
              (unsigned long long)t->good);
  else
    snprintf (good, sizeof good,
              "no checkpoint was committed: a restart begins from the start");
  return done (snprintf (buf, cap,
                         "muster: %llu checkpoint%s failed (the last, step "
                         "%llu: %s); %s",
                         (unsigned long long)t->failed,
                         t->failed == 1 ? "" : "s",
                         (unsigned long long)t->last_failed, t->last_reason,
                         good),
               cap);
}
