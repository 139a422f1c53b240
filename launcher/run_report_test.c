/*
 * run_report_test.c — the resume notice names the job, the step and when
 * the checkpoint was written (stamp and age), and is silent for a fresh
 * start and for a gang re-formed in place; the "finished, starting fresh"
 * notice names the step, the date, --resume and where the old
 * checkpoints went.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "launcher/run_report.h"

#define S 1000000ull
#define T0 (1796292725ull * S) /* 2026-12-03 10:12:05 UTC */

static void
test_resume_notice (void **state)
{
  (void)state;
  setenv ("TZ", "UTC", 1);
  tzset ();
  mu_start_t s;
  memset (&s, 0, sizeof s);
  s.job = "train-0011";
  char buf[256];
  assert_int_equal (mu_run_resume_notice (&s, T0, buf, sizeof buf), 0);
  assert_string_equal (buf, "");
  s.restore_dir = "/ck/train-0011/step-00000000000000000300";
  s.restore_step = 300;
  s.restore_created_us = T0;
  size_t n = mu_run_resume_notice (&s, T0 + 180 * S, buf, sizeof buf);
  assert_string_equal (buf, "muster: resuming job train-0011 from step 300 "
                            "(checkpoint written 2026-12-03 10:12:05, 3 min ago)");
  assert_int_equal (n, strlen (buf));
  s.in_place = true;
  assert_int_equal (mu_run_resume_notice (&s, T0, buf, sizeof buf), 0);
}

static void
test_finished_notice (void **state)
{
  (void)state;
  setenv ("TZ", "UTC", 1);
  tzset ();
  mu_start_t s;
  memset (&s, 0, sizeof s);
  s.job = "j";
  char buf[512];
  assert_int_equal (mu_run_finished_notice (&s, buf, sizeof buf), 0);
  s.finished_step = 650;
  s.finished_us = T0;
  s.finished_moved = "/ck/j.finished-20261203-101205";
  mu_run_finished_notice (&s, buf, sizeof buf);
  assert_string_equal (buf, "muster: job j finished at step 650 on "
                            "2026-12-03 10:12:05; starting fresh (use --resume "
                            "to continue from its last checkpoint; its "
                            "checkpoints were moved to "
                            "/ck/j.finished-20261203-101205)");
  char small[10];
  memset (small, 'x', sizeof small);
  assert_int_equal (mu_run_finished_notice (&s, small, 6), 5);
  assert_int_equal (small[6], 'x');
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_resume_notice),
    cmocka_unit_test (test_finished_notice),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
