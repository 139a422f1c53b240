/*
 * kv_quota_test.c — the KV bounds' arithmetic: a put fits or is refused
 * with MUSTER_EQUOTA and a sentence naming the job, the usage, the limit
 * and its option; an overwrite counts only the difference; the key count
 * binds new keys only; sizes parse ("64M", "1G") and print ("64.0 MiB",
 * "64 MiB"); the coordinator applies the documented defaults.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <muster/error.h>

#include "coordinator/coord.h"
#include "coordinator/kv_quota.h"

#define MiB (1ull << 20)

static void
test_put_fits_or_not (void **state)
{
  (void)state;
  char msg[256];
  mu_kv_usage_t u = { .bytes = 60 * MiB, .keys = 12 };
  assert_int_equal (mu_kv_quota_check (&u, 64 * MiB, 100, "j1", 2, 0, 0,
                                       4 * MiB - 2, msg, sizeof msg),
                    0); /* exactly at the limit */
  assert_string_equal (msg, "");
  assert_int_equal (mu_kv_quota_check (&u, 64 * MiB, 100, "j1", 2, 0, 0,
                                       15 * MiB - 2, msg, sizeof msg),
                    MUSTER_EQUOTA);
  assert_string_equal (msg, "job j1: KV store holds 60.0 MiB in 12 keys; this "
                            "put of 15.0 MiB would exceed the limit of 64 MiB "
                            "(--kv-max-bytes)");
  /* one value larger than the whole limit, into an empty store */
  mu_kv_usage_t empty = { 0, 0 };
  assert_int_equal (mu_kv_quota_check (&empty, MiB, 100, "j", 1, 0, 0,
                                       UINT64_MAX - 1, msg, sizeof msg),
                    MUSTER_EQUOTA);
}

static void
test_overwrite_counts_the_difference (void **state)
{
  (void)state;
  char msg[256];
  mu_kv_usage_t u = { .bytes = 64 * MiB, .keys = 1 }; /* full */
  /* replacing the 64 MiB - 1 value under key "k" by a smaller one fits */
  assert_int_equal (mu_kv_quota_check (&u, 64 * MiB, 1, "j", 1, 1,
                                       64 * MiB - 1, 10, msg, sizeof msg),
                    0);
  /* and by one of the same size too */
  assert_int_equal (mu_kv_quota_check (&u, 64 * MiB, 1, "j", 1, 1,
                                       64 * MiB - 1, 64 * MiB - 1, msg,
                                       sizeof msg),
                    0);
  /* but not by a larger one */
  assert_int_equal (mu_kv_quota_check (&u, 64 * MiB, 1, "j", 1, 1,
                                       64 * MiB - 1, 64 * MiB, msg,
                                       sizeof msg),
                    MUSTER_EQUOTA);
  assert_non_null (strstr (msg, "(replacing a smaller value)"));
}

static void
test_key_count (void **state)
{
  (void)state;
  char msg[256];
  mu_kv_usage_t u = { .bytes = 3 * 1024, .keys = 3 };
  assert_int_equal (mu_kv_quota_check (&u, MiB, 3, "j2", 1, 0, 0, 1, msg,
                                       sizeof msg),
                    MUSTER_EQUOTA);
  assert_string_equal (msg, "job j2: KV store holds 3 keys (3.0 KiB); a new "
                            "key would exceed the limit of 3 keys "
                            "(--kv-max-keys)");
  /* an overwrite adds no key */
  assert_int_equal (mu_kv_quota_check (&u, MiB, 3, "j2", 1, 1, 1, 1, msg,
                                       sizeof msg),
                    0);
}

static void
test_sizes (void **state)
{
  (void)state;
  uint64_t v;
  assert_int_equal (mu_parse_size ("64M", &v), 0);
  assert_int_equal (v, 64 * MiB);
  assert_int_equal (mu_parse_size ("1G", &v), 0);
  assert_int_equal (v, 1024 * MiB);
  assert_int_equal (mu_parse_size ("1gib", &v), 0);
  assert_int_equal (v, 1024 * MiB);
  assert_int_equal (mu_parse_size ("512KB", &v), 0);
  assert_int_equal (v, 512 * 1024);
  assert_int_equal (mu_parse_size ("65536", &v), 0);
  assert_int_equal (v, 65536);
  assert_int_equal (mu_parse_size ("", &v), MUSTER_EINVAL);
  assert_int_equal (mu_parse_size ("M", &v), MUSTER_EINVAL);
  assert_int_equal (mu_parse_size ("-1", &v), MUSTER_EINVAL);
  assert_int_equal (mu_parse_size ("12X", &v), MUSTER_EINVAL);
  assert_int_equal (mu_parse_size ("12Mx", &v), MUSTER_EINVAL);
  assert_int_equal (mu_parse_size ("99999999999999999999", &v), MUSTER_EINVAL);
  assert_int_equal (mu_parse_size ("17000000T", &v), MUSTER_EINVAL);
  char b[32];
  assert_string_equal (mu_kv_fmt_bytes (512, b, sizeof b), "512 bytes");
  assert_string_equal (mu_kv_fmt_bytes (64 * MiB, b, sizeof b), "64.0 MiB");
  assert_string_equal (mu_kv_fmt_bytes (1536, b, sizeof b), "1.5 KiB");
  assert_string_equal (mu_kv_fmt_limit (64 * MiB, b, sizeof b), "64 MiB");
  assert_string_equal (mu_kv_fmt_limit (1000, b, sizeof b), "1000 bytes");
  assert_string_equal (mu_kv_fmt_limit (1536, b, sizeof b), "1.5 KiB");
}

static void
test_defaults_and_waiting_limit (void **state)
{
  (void)state;
  assert_int_equal (mu_kv_waiting_limit (8), 4 * 8 + 64);
  assert_int_equal (mu_kv_waiting_limit (0), 64);
  mu_coord_opts_t o = { .agent_bind = "tcp://127.0.0.1:*" };
  mu_coord_t *c = NULL;
  assert_int_equal (mu_coord_new (&o, &c), 0);
  assert_int_equal (c->opts.kv_max_bytes, 64 * MiB);
  assert_int_equal (c->opts.kv_max_keys, 65536);
  mu_coord_destroy (&c);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_put_fits_or_not),
    cmocka_unit_test (test_overwrite_counts_the_difference),
    cmocka_unit_test (test_key_count),
    cmocka_unit_test (test_sizes),
    cmocka_unit_test (test_defaults_and_waiting_limit),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
