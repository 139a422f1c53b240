/*
 * job_id_test.c — the default job id: stable for the same command,
 * directory and user; different when any of them changes (including
 * arguments that only differ in where they are split); always a valid
 * job id, whatever the program is called.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "launcher/job_id.h"

static int
valid (const char *s)
{
  if (*s == '\0' || strlen (s) > 128 || s[0] == '.')
    return 0;
  for (; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')
          || (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' || *s == '.'))
      return 0;
  return 1;
}

static void
test_stable_and_distinct (void **state)
{
  (void)state;
  char *a1[] = { "./train", "--lr", "0.1" };
  char *a2[] = { "./train", "--lr", "0.2" };
  char *s1[] = { "./train", "--lr 0.1" };
  char x[160], y[160];
  mu_job_id_derive ("/w/train", a1, 3, "/w", 1000, x, sizeof x);
  mu_job_id_derive ("/w/train", a1, 3, "/w", 1000, y, sizeof y);
  assert_string_equal (x, y);
  assert_true (valid (x));
  assert_int_equal (strncmp (x, "train-", 6), 0);
  assert_int_equal (strlen (x), 6 + 16);
  mu_job_id_derive ("/w/train", a2, 3, "/w", 1000, y, sizeof y);
  assert_string_not_equal (x, y);
  mu_job_id_derive ("/w/train", s1, 2, "/w", 1000, y, sizeof y);
  assert_string_not_equal (x, y);
  mu_job_id_derive ("/w/train", a1, 3, "/v", 1000, y, sizeof y);
  assert_string_not_equal (x, y);
  mu_job_id_derive ("/w/train", a1, 3, "/w", 1001, y, sizeof y);
  assert_string_not_equal (x, y);
  mu_job_id_derive ("/v/train", a1, 3, "/w", 1000, y, sizeof y);
  assert_string_not_equal (x, y);
}

static void
test_odd_names (void **state)
{
  (void)state;
  char *a[] = { "x" };
  char b[160];
  assert_true (valid (mu_job_id_derive ("/bin/my prog!", a, 1, "/", 0, b, sizeof b)));
  assert_int_equal (strncmp (b, "my_prog_-", 9), 0);
  assert_true (valid (mu_job_id_derive ("/x/.hidden", a, 1, "/", 0, b, sizeof b)));
  assert_true (valid (mu_job_id_derive ("", a, 1, "/", 0, b, sizeof b)));
  assert_true (valid (mu_job_id_derive ("/x/..", a, 1, "/", 0, b, sizeof b)));
  char longname[300];
  memset (longname, 'a', sizeof longname - 1);
  longname[sizeof longname - 1] = '\0';
  mu_job_id_derive (longname, a, 1, "/", 0, b, sizeof b);
  assert_true (valid (b));
  assert_int_equal (strlen (b), 40 + 1 + 16);
  char small[8];
  memset (small, 'z', sizeof small);
  mu_job_id_derive ("/w/train", a, 1, "/", 0, small, 5);
  assert_string_equal (small, "trai");
  assert_int_equal (small[5], 'z');
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_stable_and_distinct),
    cmocka_unit_test (test_odd_names),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
