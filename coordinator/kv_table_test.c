/*
 * kv_table_test.c — kv.add, kv.cas, kv.del and kv.count on a bare map:
 * torch's Store semantics (add returns the new value and keeps it in
 * decimal, so a get reads "5"; compare_set sets on a match or on an
 * absent key with an empty expected value and returns the value after;
 * delete says whether the key existed; count, with and without a
 * prefix), refusals with a sentence (a non-integer, an overflow, the
 * quota) that leave the map unchanged, and byte accounting that returns
 * to zero when every key is gone.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <muster/error.h>

#include "coordinator/kv_table.h"

typedef struct fx
{
  mu_smap_t *map;
  uint64_t bytes;
  mu_kv_table_t t;
} fx_t;

static int
setup (void **state)
{
  fx_t *f = calloc (1, sizeof *f);
  f->map = mu_smap_new ();
  f->t = (mu_kv_table_t){ .map = f->map,
                          .bytes = &f->bytes,
                          .max_bytes = 1000,
                          .max_keys = 10,
                          .job = "j1" };
  *state = f;
  return 0;
}

static int
teardown (void **state)
{
  fx_t *f = *state;
  size_t pos = 0;
  void *val;
  while (mu_smap_next (f->map, &pos, NULL, &val))
    {
      free (((mu_bin_t *)val)->ptr);
      free (val);
    }
  mu_smap_destroy (&f->map);
  free (f);
  return 0;
}

static void
has_value (fx_t *f, const char *key, const char *want)
{
  mu_bin_t *v = mu_smap_get (f->map, key);
  assert_non_null (v);
  assert_int_equal (v->len, strlen (want));
  assert_memory_equal (v->ptr, want, v->len);
}

static mu_bin_t
bin (const char *s)
{
  return (mu_bin_t){ .ptr = (uint8_t *)s, .len = strlen (s) };
}

static void
test_add_counts_in_decimal (void **state)
{
  fx_t *f = *state;
  char msg[256];
  int64_t v = 0;
  const mu_bin_t *st = NULL;
  assert_int_equal (mu_kv_table_add (&f->t, "c", 3, &v, &st, msg, sizeof msg),
                    0);
  assert_int_equal (v, 3);
  assert_non_null (st);
  has_value (f, "c", "3");
  assert_int_equal (mu_kv_table_add (&f->t, "c", -5, &v, &st, msg, sizeof msg),
                    0);
  assert_int_equal (v, -2);
  has_value (f, "c", "-2");
  assert_int_equal (mu_kv_table_add (&f->t, "c", 0, &v, &st, msg, sizeof msg),
                    0);
  assert_int_equal (v, -2);
  /* a value put as text by someone else counts on from there */
  assert_int_equal (
      mu_kv_table_set (&f->t, "s", "40", 2, NULL, msg, sizeof msg), 0);
  assert_int_equal (mu_kv_table_add (&f->t, "s", 2, &v, &st, msg, sizeof msg),
                    0);
  assert_int_equal (v, 42);
  assert_int_equal (f->bytes, strlen ("c") + 2 + strlen ("s") + 2);
}

static void
test_add_refuses_non_integers_and_overflow (void **state)
{
  fx_t *f = *state;
  char msg[256];
  int64_t v = 7;
  const mu_bin_t *st = NULL;
  assert_int_equal (
      mu_kv_table_set (&f->t, "t", "abc", 3, NULL, msg, sizeof msg), 0);
  assert_int_equal (mu_kv_table_add (&f->t, "t", 1, &v, &st, msg, sizeof msg),
                    MUSTER_EINVAL);
  assert_string_equal (msg, "kv.add: key 't' holds a value of 3 bytes that is "
                            "not a decimal integer");
  assert_int_equal (v, 7);
  has_value (f, "t", "abc");
  assert_int_equal (mu_kv_table_set (&f->t, "e", "", 0, NULL, msg, sizeof msg),
                    0);
  assert_int_equal (mu_kv_table_add (&f->t, "e", 1, &v, &st, msg, sizeof msg),
                    MUSTER_EINVAL);
  assert_int_equal (mu_kv_table_set (&f->t, "m", "9223372036854775807", 19,
                                     NULL, msg, sizeof msg),
                    0);
  assert_int_equal (mu_kv_table_add (&f->t, "m", 1, &v, &st, msg, sizeof msg),
                    MUSTER_EINVAL);
  assert_string_equal (msg, "kv.add: key 'm' holds 9223372036854775807; adding "
                            "1 overflows a 64-bit integer");
  assert_int_equal (mu_kv_table_add (&f->t, "m", -1, &v, &st, msg, sizeof msg),
                    0);
  assert_int_equal (v, INT64_MAX - 1);
}

static void
test_parse_int (void **state)
{
  (void)state;
  int64_t v;
  assert_int_equal (
      mu_kv_parse_int ((const uint8_t *)"-9223372036854775808", 20, &v), 0);
  assert_true (v == INT64_MIN);
  assert_int_equal (
      mu_kv_parse_int ((const uint8_t *)"9223372036854775808", 19, &v),
      MUSTER_EINVAL);
  assert_int_equal (mu_kv_parse_int ((const uint8_t *)"+12", 3, &v), 0);
  assert_int_equal (v, 12);
  assert_int_equal (mu_kv_parse_int ((const uint8_t *)"-", 1, &v),
                    MUSTER_EINVAL);
  assert_int_equal (mu_kv_parse_int ((const uint8_t *)"1 2", 3, &v),
                    MUSTER_EINVAL);
  assert_int_equal (mu_kv_parse_int ((const uint8_t *)"12\0", 3, &v),
                    MUSTER_EINVAL);
}

static void
test_cas (void **state)
{
  fx_t *f = *state;
  char msg[256];
  const mu_bin_t *cur = NULL, *st = NULL;
  mu_bin_t empty = bin (""), one = bin ("one"), two = bin ("two");
  /* absent and a non-empty expected value: nothing stored, ENOTFOUND */
  assert_int_equal (
      mu_kv_table_cas (&f->t, "k", &one, &two, &cur, &st, msg, sizeof msg),
      MUSTER_ENOTFOUND);
  assert_null (cur);
  assert_null (st);
  assert_null (mu_smap_get (f->map, "k"));
  /* absent and an empty expected value: set */
  assert_int_equal (
      mu_kv_table_cas (&f->t, "k", &empty, &one, &cur, &st, msg, sizeof msg),
      0);
  assert_non_null (st);
  assert_int_equal (cur->len, 3);
  assert_memory_equal (cur->ptr, "one", 3);
  /* present, expected differs: unchanged, the current value returned */
  assert_int_equal (
      mu_kv_table_cas (&f->t, "k", &two, &empty, &cur, &st, msg, sizeof msg),
      0);
  assert_null (st);
  assert_memory_equal (cur->ptr, "one", 3);
  /* an empty expected value does not match a present non-empty one */
  assert_int_equal (
      mu_kv_table_cas (&f->t, "k", &empty, &two, &cur, &st, msg, sizeof msg),
      0);
  assert_null (st);
  has_value (f, "k", "one");
  /* present and equal: set to the desired value (here: empty) */
  assert_int_equal (
      mu_kv_table_cas (&f->t, "k", &one, &empty, &cur, &st, msg, sizeof msg),
      0);
  assert_non_null (st);
  assert_int_equal (cur->len, 0);
  /* present and empty, expected empty: matches */
  assert_int_equal (
      mu_kv_table_cas (&f->t, "k", &empty, &two, &cur, &st, msg, sizeof msg),
      0);
  has_value (f, "k", "two");
  assert_int_equal (f->bytes, 1 + 3);
}

static void
test_del_and_count (void **state)
{
  fx_t *f = *state;
  char msg[256];
  bool existed = true;
  assert_int_equal (mu_kv_table_count (&f->t, NULL), 0);
  assert_int_equal (mu_kv_table_del (&f->t, "nope", &existed), 0);
  assert_false (existed);
  const char *keys[] = { "torch/v/a", "torch/v/b", "torch/add/x", "other" };
  for (size_t i = 0; i < 4; i++)
    assert_int_equal (
        mu_kv_table_set (&f->t, keys[i], "v", 1, NULL, msg, sizeof msg), 0);
  assert_int_equal (mu_kv_table_count (&f->t, NULL), 4);
  assert_int_equal (mu_kv_table_count (&f->t, ""), 4);
  assert_int_equal (mu_kv_table_count (&f->t, "torch/v/"), 2);
  assert_int_equal (mu_kv_table_count (&f->t, "torch/"), 3);
  assert_int_equal (mu_kv_table_count (&f->t, "zzz"), 0);
  assert_int_equal (mu_kv_table_del (&f->t, "torch/v/a", &existed), 0);
  assert_true (existed);
  assert_int_equal (mu_kv_table_del (&f->t, "torch/v/a", &existed), 0);
  assert_false (existed);
  assert_int_equal (mu_kv_table_count (&f->t, "torch/v/"), 1);
  for (size_t i = 1; i < 4; i++)
    assert_int_equal (mu_kv_table_del (&f->t, keys[i], &existed), 0);
  assert_int_equal (f->bytes, 0);
}

static void
test_quota_binds_add_and_cas (void **state)
{
  fx_t *f = *state;
  char msg[256];
  f->t.max_keys = 2;
  f->t.other_keys = 1; /* a barrier name */
  int64_t v = 0;
  const mu_bin_t *cur = NULL, *st = NULL;
  assert_int_equal (mu_kv_table_add (&f->t, "a", 1, &v, &st, msg, sizeof msg),
                    0);
  assert_int_equal (mu_kv_table_add (&f->t, "b", 1, &v, &st, msg, sizeof msg),
                    MUSTER_EQUOTA);
  assert_non_null (strstr (msg, "job j1: KV store holds 2 keys"));
  assert_null (mu_smap_get (f->map, "b"));
  /* replacing an existing key is not a new key */
  assert_int_equal (mu_kv_table_add (&f->t, "a", 1, &v, &st, msg, sizeof msg),
                    0);
  assert_int_equal (v, 2);
  mu_bin_t empty = bin (""), x = bin ("x");
  assert_int_equal (
      mu_kv_table_cas (&f->t, "c", &empty, &x, &cur, &st, msg, sizeof msg),
      MUSTER_EQUOTA);
  assert_null (st);
  /* bytes */
  f->t.max_keys = 10;
  f->t.max_bytes = 8;
  mu_bin_t big = bin ("0123456789");
  assert_int_equal (
      mu_kv_table_cas (&f->t, "c", &empty, &big, &cur, &st, msg, sizeof msg),
      MUSTER_EQUOTA);
  assert_non_null (strstr (msg, "--kv-max-bytes"));
  assert_int_equal (f->bytes, 2);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown (test_add_counts_in_decimal, setup,
                                     teardown),
    cmocka_unit_test_setup_teardown (test_add_refuses_non_integers_and_overflow,
                                     setup, teardown),
    cmocka_unit_test (test_parse_int),
    cmocka_unit_test_setup_teardown (test_cas, setup, teardown),
    cmocka_unit_test_setup_teardown (test_del_and_count, setup, teardown),
    cmocka_unit_test_setup_teardown (test_quota_binds_add_and_cas, setup,
                                     teardown),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
