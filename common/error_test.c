/*
 * error_test.c — unit tests for muster_strerror() and muster_err_name().
 *
 * Every code of MUSTER_ERRNO_MAP must have its own non-empty text and a
 * MUSTER_-prefixed name, 0 is success, negated errnos map to their libc
 * names, and anything else (positive values, INT_MIN, gaps in the muster
 * range) is "unknown error" / "UNKNOWN" rather than NULL or a crash.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "muster/error.h"

static const int all_codes[] = {
#define XX_(name, off, msg) MUSTER_##name,
  MUSTER_ERRNO_MAP (XX_)
#undef XX_
};
#define NCODES (sizeof (all_codes) / sizeof (all_codes[0]))

static void
test_success (void **state)
{
  (void)state;
  assert_string_equal (muster_strerror (0), "success");
  assert_string_equal (muster_err_name (0), "OK");
}

static void
test_muster_codes_distinct (void **state)
{
  (void)state;
  for (size_t i = 0; i < NCODES; i++)
    {
      const char *t = muster_strerror (all_codes[i]);
      const char *n = muster_err_name (all_codes[i]);
      assert_non_null (t);
      assert_non_null (n);
      assert_true (strlen (t) > 0);
      assert_int_equal (strncmp (n, "MUSTER_E", 8), 0);
      assert_string_not_equal (t, "unknown error");
      assert_true (all_codes[i] < MUSTER_ERR_BASE);
      for (size_t j = 0; j < i; j++)
        {
          assert_int_not_equal (all_codes[i], all_codes[j]);
          assert_string_not_equal (t, muster_strerror (all_codes[j]));
          assert_string_not_equal (n, muster_err_name (all_codes[j]));
        }
    }
}

static void
test_muster_names (void **state)
{
  (void)state;
  assert_string_equal (muster_err_name (MUSTER_EPROTO), "MUSTER_EPROTO");
  assert_string_equal (muster_err_name (MUSTER_ESTALE_EPOCH),
                       "MUSTER_ESTALE_EPOCH");
  assert_string_equal (muster_err_name (MUSTER_EINTERNAL), "MUSTER_EINTERNAL");
  assert_string_equal (muster_strerror (MUSTER_EVERSION),
                       "unsupported protocol version");
}

static void
test_errno_mapping (void **state)
{
  (void)state;
  static const struct
  {
    int num;
    const char *name;
  } cases[] = {
    { EPERM, "EPERM" },
    { ENOENT, "ENOENT" },
    { EINTR, "EINTR" },
    { EIO, "EIO" },
    { EAGAIN, "EAGAIN" },
    { ENOMEM, "ENOMEM" },
    { EACCES, "EACCES" },
    { EEXIST, "EEXIST" },
    { EINVAL, "EINVAL" },
    { ENOSPC, "ENOSPC" },
    { EPIPE, "EPIPE" },
    { ETIMEDOUT, "ETIMEDOUT" },
    { ECONNREFUSED, "ECONNREFUSED" },
    { EHOSTUNREACH, "EHOSTUNREACH" },
    { EADDRINUSE, "EADDRINUSE" },
    { ENOTSUP, "ENOTSUP" },
    { ECANCELED, "ECANCELED" },
  };
  for (size_t i = 0; i < sizeof (cases) / sizeof (cases[0]); i++)
    {
      assert_string_equal (muster_err_name (-cases[i].num), cases[i].name);
      const char *t = muster_strerror (-cases[i].num);
      assert_true (strlen (t) > 0);
      assert_string_not_equal (t, "unknown error");
      for (size_t j = 0; j < i; j++)
        assert_string_not_equal (t, muster_strerror (-cases[j].num));
    }
  assert_string_equal (muster_strerror (-ENOMEM), "Cannot allocate memory");
  /* Muster's own codes never shadow the errno of the same spelling. */
  assert_string_not_equal (muster_strerror (-ETIMEDOUT),
                           muster_strerror (MUSTER_ETIMEDOUT));
  assert_string_not_equal (muster_err_name (-ECANCELED),
                           muster_err_name (MUSTER_ECANCELED));
}

static void
test_unknown (void **state)
{
  (void)state;
  static const int bad[] = { 1,
                             ENOMEM, /* positive: not a muster code */
                             INT_MAX,
                             INT_MIN,
                             INT_MIN + 1,
                             -4095,
                             -5000,
                             MUSTER_ERR_BASE,
                             MUSTER_ERR_BASE - 1000,
                             MUSTER_ERR_BASE + 1 };
  for (size_t i = 0; i < sizeof (bad) / sizeof (bad[0]); i++)
    {
      assert_string_equal (muster_strerror (bad[i]), "unknown error");
      assert_string_equal (muster_err_name (bad[i]), "UNKNOWN");
    }
}

static void
test_every_errno_has_text (void **state)
{
  (void)state;
  for (int e = 1; e < 200; e++)
    {
      assert_non_null (muster_strerror (-e));
      assert_non_null (muster_err_name (-e));
    }
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_success),
    cmocka_unit_test (test_muster_codes_distinct),
    cmocka_unit_test (test_muster_names),
    cmocka_unit_test (test_errno_mapping),
    cmocka_unit_test (test_unknown),
    cmocka_unit_test (test_every_errno_has_text),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
