/*
 * ckpt_report_test.c — the failed-checkpoint lines: a failure names the
 * step, the reason and the last good step (or that there is none yet); a
 * commit or an abort that is not a failure (retried, dropped) prints
 * nothing but a commit moves the last good step; the summary counts the
 * failures, names the last and the newest good step, and is empty when
 * nothing failed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <muster/error.h>

#include "launcher/ckpt_report.h"

static mu_ckpt_done_t
done_of (uint64_t step, int status, const char *reason, uint64_t last,
         bool failed)
{
  mu_ckpt_done_t d;
  memset (&d, 0, sizeof d);
  d.job = "j";
  d.step = step;
  d.status = status;
  d.reason = (char *)reason;
  d.last_step = last;
  d.failed = failed;
  return d;
}

static void
test_lines (void **state)
{
  (void)state;
  mu_ckpt_tally_t t;
  memset (&t, 0, sizeof t);
  char buf[1024];
  /* No failure yet: no summary. */
  assert_int_equal (mu_ckpt_report_summary (&t, buf, sizeof buf), 0);
  assert_string_equal (buf, "");
  /* A failure before any commit. */
  mu_ckpt_done_t d = done_of (50, -EROFS, "step directory /ck/j/step-50: "
                                          "Read-only file system", 0, true);
  size_t n = mu_ckpt_report_done (&t, &d, buf, sizeof buf);
  assert_string_equal (buf, "muster: checkpoint step 50 failed: step "
                            "directory /ck/j/step-50: Read-only file system; "
                            "no checkpoint committed yet");
  assert_int_equal (n, strlen (buf));
  /* A commit: silent, but it is the last good step from now on. */
  d = done_of (100, 0, NULL, 0, false);
  assert_int_equal (mu_ckpt_report_done (&t, &d, buf, sizeof buf), 0);
  assert_string_equal (buf, "");
  /* Aborts that are not failures: silent, not counted. */
  d = done_of (120, MUSTER_EPASSED, "rank 0 passed", 100, false);
  assert_int_equal (mu_ckpt_report_done (&t, &d, buf, sizeof buf), 0);
  d = done_of (130, MUSTER_ECANCELED, "dropped", 100, false);
  assert_int_equal (mu_ckpt_report_done (&t, &d, buf, sizeof buf), 0);
  assert_int_equal (t.failed, 1);
  /* A failure with the worker's words in it. */
  d = done_of (150, -ENOSPC, "rank 1 could not save its shard: No space left "
                             "on device (ENOSPC on /ck/j/s/rank-000001.shard)",
               100, true);
  mu_ckpt_report_done (&t, &d, buf, sizeof buf);
  assert_string_equal (buf, "muster: checkpoint step 150 failed: rank 1 could "
                            "not save its shard: No space left on device "
                            "(ENOSPC on /ck/j/s/rank-000001.shard); last good "
                            "step 100");
  /* No reason given: the code's text. */
  d = done_of (200, MUSTER_ETIMEDOUT, NULL, 100, true);
  mu_ckpt_report_done (&t, &d, buf, sizeof buf);
  assert_non_null (strstr (buf, "step 200 failed: "));
  assert_non_null (strstr (buf, muster_strerror (MUSTER_ETIMEDOUT)));
  mu_ckpt_report_summary (&t, buf, sizeof buf);
  char want[512];
  snprintf (want, sizeof want,
            "muster: 3 checkpoints failed (the last, step 200: %s); the "
            "newest good checkpoint is step 100",
            muster_strerror (MUSTER_ETIMEDOUT));
  assert_string_equal (buf, want);
}

static void
test_summary_without_commit (void **state)
{
  (void)state;
  mu_ckpt_tally_t t;
  memset (&t, 0, sizeof t);
  char buf[512];
  mu_ckpt_done_t d = done_of (7, -EACCES, "rank 0 could not save its shard: "
                                          "Permission denied", 0, true);
  mu_ckpt_report_done (&t, &d, buf, sizeof buf);
  mu_ckpt_report_summary (&t, buf, sizeof buf);
  assert_string_equal (buf, "muster: 1 checkpoint failed (the last, step 7: "
                            "rank 0 could not save its shard: Permission "
                            "denied); no checkpoint was committed: a restart "
                            "begins from the start");
  /* The coordinator's last good step counts even if this launcher never
   * saw that commit (it joined later). */
  d = done_of (9, -EACCES, "x", 4, true);
  mu_ckpt_report_done (&t, &d, buf, sizeof buf);
  assert_non_null (strstr (buf, "; last good step 4"));
  char small[8];
  memset (small, 'x', sizeof small);
  assert_int_equal (mu_ckpt_report_summary (&t, small, 5), 4);
  assert_int_equal (small[5], 'x');
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_lines),
    cmocka_unit_test (test_summary_without_commit),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
