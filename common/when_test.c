/*
 * when_test.c — ages read as a person would say them at each boundary
 * (seconds, minutes, hours, days, a clock ahead), stamps in the
 * YYYY-MM-DD HH:MM:SS form, and nothing written past the buffer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "common/when.h"

#define S 1000000ull

static void
test_ages (void **state)
{
  (void)state;
  char b[64];
  uint64_t now = 1800000000ull * S;
  assert_string_equal (mu_when_age (now, now, b, sizeof b), "just now");
  assert_string_equal (mu_when_age (now - S / 2, now, b, sizeof b), "just now");
  assert_string_equal (mu_when_age (now - 12 * S, now, b, sizeof b), "12 s ago");
  assert_string_equal (mu_when_age (now - 59 * S, now, b, sizeof b), "59 s ago");
  assert_string_equal (mu_when_age (now - 60 * S, now, b, sizeof b), "1 min ago");
  assert_string_equal (mu_when_age (now - 185 * S, now, b, sizeof b), "3 min ago");
  assert_string_equal (mu_when_age (now - 3600 * S, now, b, sizeof b), "1 h ago");
  assert_string_equal (mu_when_age (now - 7500 * S, now, b, sizeof b), "2 h 5 min ago");
  assert_string_equal (mu_when_age (now - 3 * 86400 * S, now, b, sizeof b), "3 days ago");
  assert_string_equal (mu_when_age (now + S / 2, now, b, sizeof b), "just now");
  assert_string_equal (mu_when_age (now + 5 * S, now, b, sizeof b), "in the future");
}

static void
test_stamp_and_text (void **state)
{
  (void)state;
  setenv ("TZ", "UTC", 1);
  tzset ();
  char b[64];
  /* 2026-12-03 10:12:05 UTC */
  uint64_t t = 1796292725ull * S;
  assert_string_equal (mu_when_stamp (t, b, sizeof b), "2026-12-03 10:12:05");
  assert_string_equal (mu_when_text (t, t + 180 * S, b, sizeof b),
                       "2026-12-03 10:12:05, 3 min ago");
}

static void
test_truncated (void **state)
{
  (void)state;
  char b[8];
  memset (b, 'x', sizeof b);
  mu_when_text (1796292725ull * S, 1796292725ull * S, b, 5);
  assert_int_equal (strlen (b), 4);
  assert_int_equal (b[5], 'x');
  mu_when_age (0, 100 * S, b, 0); /* cap 0 writes nothing */
  assert_int_equal (b[0], '2');
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_ages),
    cmocka_unit_test (test_stamp_and_text),
    cmocka_unit_test (test_truncated),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
