/*
 * fd_limit_test.c — the open-file budget of fd_limit.c: what workers
 * need, the refusal naming the numbers, and raising the soft limit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <cmocka.h>

#include <muster/error.h>

#include "worker/fd_limit.h"

static void
test_need_and_fit (void **state)
{
  (void)state;
  char err[512] = "";
  assert_int_equal (mu_fd_limit_need (0, 0), MU_FD_RESERVE);
  assert_int_equal (mu_fd_limit_need (1000, 0),
                    MU_FD_RESERVE + 1000 * MU_FD_PER_WORKER);
  assert_int_equal (mu_fd_limit_need (1000, 1),
                    MU_FD_RESERVE + 1000 * MU_FD_PER_WORKER_LOGS);
  assert_int_equal (mu_fd_limit_need (UINT64_MAX, 1), UINT64_MAX);
  assert_int_equal (mu_fd_limit_fits (1000, 0, 20000, err, sizeof err), 0);
  assert_int_equal (mu_fd_limit_fits (1000, 0, mu_fd_limit_need (1000, 0),
                                      err, sizeof err), 0);
  /* 1000 workers under the usual soft limit of 1024: refused, with the
   * numbers and the way out. */
  assert_int_equal (mu_fd_limit_fits (1000, 0, 1024, err, sizeof err),
                    MUSTER_EQUOTA);
  assert_non_null (strstr (err, "1000 workers"));
  assert_non_null (strstr (err, "the limit is 1024"));
  char most[64];
  snprintf (most, sizeof most, "at most %d fit",
            (1024 - MU_FD_RESERVE) / MU_FD_PER_WORKER);
  assert_non_null (strstr (err, most));
  assert_non_null (strstr (err, "ulimit"));
  /* A limit below the reserve: none fit. */
  assert_int_equal (mu_fd_limit_fits (1, 0, 10, err, sizeof err),
                    MUSTER_EQUOTA);
  assert_non_null (strstr (err, "at most 0 fit"));
}

static void
test_raise (void **state)
{
  (void)state;
  struct rlimit rl;
  assert_int_equal (getrlimit (RLIMIT_NOFILE, &rl), 0);
  if (rl.rlim_max > 64)
    {
      struct rlimit low = { 64, rl.rlim_max };
      assert_int_equal (setrlimit (RLIMIT_NOFILE, &low), 0);
    }
  uint64_t soft = 0;
  assert_int_equal (mu_fd_limit_raise (&soft), 0);
  assert_int_equal (getrlimit (RLIMIT_NOFILE, &rl), 0);
  assert_true (rl.rlim_cur == rl.rlim_max);
  assert_true (soft == (rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX
                                                     : (uint64_t)rl.rlim_cur));
  assert_int_equal (mu_fd_limit_raise (NULL), 0); /* already there */
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_need_and_fit),
    cmocka_unit_test (test_raise),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
