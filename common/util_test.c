/*
 * util_test.c — the one duration rule (a bare number is seconds; ms, s, m,
 * h; fractions), what it refuses, and the error sentence that names the
 * accepted forms; plus the integer parser it sits next to.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <muster/error.h>

#include "common/util.h"

static uint64_t
dur (const char *s)
{
  uint64_t v = 12345;
  assert_int_equal (mu_parse_duration_ms (s, &v), 0);
  return v;
}

static void
test_duration_units (void **state)
{
  (void)state;
  assert_int_equal (dur ("600"), 600000);  /* bare: seconds */
  assert_int_equal (dur ("1"), 1000);
  assert_int_equal (dur ("0"), 0);
  assert_int_equal (dur ("0.5"), 500);
  assert_int_equal (dur (".25"), 250);
  assert_int_equal (dur ("500ms"), 500);
  assert_int_equal (dur ("2s"), 2000);
  assert_int_equal (dur ("1.5s"), 1500);
  assert_int_equal (dur ("10m"), 600000);
  assert_int_equal (dur ("1.5m"), 90000);
  assert_int_equal (dur ("2h"), 7200000);
  assert_int_equal (dur ("0.5ms"), 1); /* rounded to the nearest ms */
  assert_int_equal (dur ("3."), 3000);
}

static void
test_duration_refused (void **state)
{
  (void)state;
  static const char *const bad[]
      = { "", "abc", "-1", "+1", " 1", "1 ", "1x", "1sec", "1S", "ms", ".",
          "1e3", "inf", "nan", "0x10", "1.2.3", "1.5d", "99999999999999999h",
          NULL };
  for (int i = 0; bad[i]; i++)
    {
      uint64_t v = 7;
      if (mu_parse_duration_ms (bad[i], &v) != MUSTER_EINVAL)
        fail_msg ("'%s' was accepted as a duration", bad[i]);
      assert_int_equal (v, 7); /* untouched */
    }
  uint64_t v;
  assert_int_equal (mu_parse_duration_ms (NULL, &v), MUSTER_EINVAL);
}

static void
test_duration_error_names_forms (void **state)
{
  (void)state;
  char err[256];
  assert_int_equal (mu_duration_error (err, sizeof err, "--join-timeout", "abc"),
                    MUSTER_EINVAL);
  assert_string_equal (err, "--join-timeout: 'abc' is not a duration: give "
                            "seconds (600), or a number with ms, s, m or h "
                            "(500ms, 10m)");
}

static void
test_u64 (void **state)
{
  (void)state;
  uint64_t v = 0;
  assert_int_equal (mu_parse_u64 ("42", &v), 0);
  assert_int_equal (v, 42);
  assert_int_equal (mu_parse_u64 ("-1", &v), MUSTER_EINVAL);
  assert_int_equal (mu_parse_u64 ("4x", &v), MUSTER_EINVAL);
  assert_int_equal (mu_parse_u64 ("", &v), MUSTER_EINVAL);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_duration_units),
    cmocka_unit_test (test_duration_refused),
    cmocka_unit_test (test_duration_error_names_forms),
    cmocka_unit_test (test_u64),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
