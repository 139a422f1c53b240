/*
 * ckpt_report.h — what `muster run` says when checkpoints fail: a line at
 * the default log level for each failed attempt, and one in the final
 * report.  A job whose checkpoints all failed used to end "succeeded",
 * exit 0, with nothing said: a rerun then started from zero, or from a
 * checkpoint hours old, and nobody knew why.
 */
#ifndef MU_CKPT_REPORT_H
#define MU_CKPT_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "common/proto.h"

/* The run's tally of checkpoint outcomes; zero it to start. */
typedef struct mu_ckpt_tally {
  uint64_t failed;      /* attempts that failed (ckpt.done `failed`) */
  uint64_t last_failed; /* the step of the last one */
  uint64_t good;        /* newest committed step known, when have_good */
  int have_good;
  char last_reason[512];
} mu_ckpt_tally_t;

/* Count a ckpt.done.  For a failure (status < 0 and `failed`) writes the
 * line to print now and returns its length:
 *   "muster: checkpoint step N failed: REASON; last good step M"
 * (or "...; no checkpoint committed yet"); otherwise writes "" and
 * returns 0 (a commit, or an abort that is not a failure: retried,
 * dropped). */
size_t mu_ckpt_report_done (mu_ckpt_tally_t *t, const mu_ckpt_done_t *d,
                            char *buf, size_t cap);

/* The final report's line when checkpoints failed, "" (0) when none did:
 *   "muster: N checkpoint(s) failed (the last, step S: REASON); the newest
 *    good checkpoint is step M"
 * or "...; no checkpoint was committed: a restart begins from the start". */
size_t mu_ckpt_report_summary (const mu_ckpt_tally_t *t, char *buf,
                               size_t cap);

#endif
