/*
 * job_status_test.c — the REASON of `muster status` follows the state: a
 * waiting job says for what and how far it got (nodes it brings, free
 * nodes a submitted job draws), a suspended one from which step and how
 * to resume, a running one nothing unless it restarted (so no reason of
 * an earlier state survives a resume); and the FINISHED marker's text
 * reads back what was written, refusing a malformed one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <muster/error.h>

#include "coordinator/ckpt_finished.h"
#include "coordinator/job_status.h"

static const char *
reason (const mu_job_status_in_t *in)
{
  static char buf[512];
  mu_job_status_reason (in, buf, sizeof buf);
  return buf;
}

static void
test_waiting (void **state)
{
  (void)state;
  mu_job_status_in_t in = { .id = "j", .state = MU_JOB_RENDEZVOUS,
                            .joined = 1, .min_nodes = 2, .max_nodes = 4 };
  assert_string_equal (reason (&in), "waiting for nodes: 1 of min 2 joined");
  in.submitted = 1;
  in.joined = 0;
  in.free_nodes = 1;
  assert_string_equal (reason (&in), "waiting for free nodes: needs 2, 1 free");
  in.joined = 2;
  assert_string_equal (reason (&in),
                       "forming the gang: 2 node(s) joined (min 2, max 4)");
  in.state = MU_JOB_PENDING;
  assert_string_equal (reason (&in), "looking for its newest checkpoint");
}

static void
test_follows_state (void **state)
{
  (void)state;
  mu_job_status_in_t in = { .id = "j7", .state = MU_JOB_SUSPENDED,
                            .has_ckpt = 1, .ckpt_step = 300,
                            .reason = "preempted; resumable from step 300" };
  assert_string_equal (reason (&in), "suspended: preempted at step 300; "
                                     "resume with muster resume j7");
  in.has_ckpt = 0;
  assert_non_null (strstr (reason (&in), "before any checkpoint"));
  /* Resumed: running, and the stored reason of the suspension is gone. */
  in.state = MU_JOB_RUNNING;
  assert_string_equal (reason (&in), "");
  in.restarts = 1;
  in.epoch_reason = "rank 1 on node a exited with code 3";
  assert_string_equal (reason (&in),
                       "restarted after: rank 1 on node a exited with code 3");
  in.state = MU_JOB_RECOVERING;
  assert_string_equal (reason (&in), "re-forming the gang: rank 1 on node a "
                                     "exited with code 3");
  in.state = MU_JOB_FAILED;
  in.reason = "restart budget exhausted";
  assert_string_equal (reason (&in), "restart budget exhausted");
}

static void
test_truncated (void **state)
{
  (void)state;
  mu_job_status_in_t in = { .id = "j", .state = MU_JOB_RENDEZVOUS,
                            .joined = 1, .min_nodes = 2 };
  char buf[12];
  memset (buf, 'x', sizeof buf);
  assert_int_equal (mu_job_status_reason (&in, buf, 8), 7);
  assert_string_equal (buf, "waiting");
  assert_int_equal (buf[8], 'x');
  assert_int_equal (mu_job_status_reason (&in, buf, 0), 0);
}

static void
test_finished_marker (void **state)
{
  (void)state;
  char buf[256];
  size_t n = mu_ckpt_finished_format (650, 1796292725000000ull, buf, sizeof buf);
  assert_int_equal (n, strlen (buf));
  uint64_t step = 0, us = 0;
  assert_int_equal (mu_ckpt_finished_parse (buf, &step, &us), 0);
  assert_int_equal (step, 650);
  assert_int_equal (us, 1796292725000000ull);
  assert_int_equal (mu_ckpt_finished_parse ("step 5\n", &step, &us),
                    MUSTER_EINVAL);
  assert_int_equal (mu_ckpt_finished_parse ("step x\nfinished_us 1\n", &step, &us),
                    MUSTER_EINVAL);
  assert_int_equal (mu_ckpt_finished_parse ("step 5z\nfinished_us 1\n", &step, &us),
                    MUSTER_EINVAL);
  assert_int_equal (mu_ckpt_finished_parse (NULL, &step, &us), MUSTER_EINVAL);
  assert_int_equal (mu_ckpt_finished_parse ("finished_us 9\nstep 7", &step, &us), 0);
  assert_int_equal (step, 7);
  assert_int_equal (us, 9);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_waiting),
    cmocka_unit_test (test_follows_state),
    cmocka_unit_test (test_truncated),
    cmocka_unit_test (test_finished_marker),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
