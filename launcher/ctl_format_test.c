/*
 * ctl_format_test.c — the table cells of `muster ls`, `status JOB` and
 * `nodes` (ctl_format.h): ages in every unit, rank runs, pid lists with
 * unreported pids, and cutting to a small buffer without overflow.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "launcher/ctl_format.h"

static void
test_age (void **state)
{
  (void)state;
  char b[32];
  assert_string_equal (mu_ctl_fmt_age (850, b, sizeof b), "850ms");
  assert_string_equal (mu_ctl_fmt_age (42000, b, sizeof b), "42s");
  assert_string_equal (mu_ctl_fmt_age (192000, b, sizeof b), "3m12s");
  assert_string_equal (mu_ctl_fmt_age (7500000, b, sizeof b), "2h05m");
  assert_string_equal (mu_ctl_fmt_age (273600000, b, sizeof b), "3d04h");
  assert_string_equal (mu_ctl_fmt_age (192000, b, 3), "3m");
}

static void
test_ranks_and_pids (void **state)
{
  (void)state;
  mu_rank_info_t r[5];
  memset (r, 0, sizeof r);
  uint64_t ranks[5] = { 0, 1, 2, 3, 7 };
  for (int i = 0; i < 5; i++)
    {
      r[i].rank = ranks[i];
      r[i].pid = i == 2 ? 0 : 1000 + (uint64_t)i;
    }
  char b[64];
  assert_string_equal (mu_ctl_fmt_ranks (r, 4, b, sizeof b), "0-3");
  assert_string_equal (mu_ctl_fmt_ranks (r, 5, b, sizeof b), "0-3,7");
  assert_string_equal (mu_ctl_fmt_ranks (r + 4, 1, b, sizeof b), "7");
  assert_string_equal (mu_ctl_fmt_ranks (r, 0, b, sizeof b), "");
  assert_string_equal (mu_ctl_fmt_pids (r, 5, b, sizeof b),
                       "1000,1001,-,1003,1004");
  char small[12];
  mu_ctl_fmt_pids (r, 5, small, sizeof small);
  assert_true (strlen (small) < sizeof small);
  assert_non_null (strstr (small, "..."));
  assert_string_equal (mu_ctl_fmt_ranks (r, 5, small, 4), "0-3");
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_age),
    cmocka_unit_test (test_ranks_and_pids),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
