/*
 * smap_test.c — the string map against a simple model: inserts, replaces,
 * deletes (backward shift must keep every other key reachable), growth and
 * iteration.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/smap.h"

static void
test_basic (void **state)
{
  (void)state;
  mu_smap_t *m = mu_smap_new ();
  assert_non_null (m);
  int a = 1, b = 2;
  void *old = &a;
  assert_int_equal (mu_smap_put (m, "x", &a, &old), 0);
  assert_null (old);
  assert_ptr_equal (mu_smap_get (m, "x"), &a);
  assert_int_equal (mu_smap_put (m, "x", &b, &old), 0);
  assert_ptr_equal (old, &a);
  assert_ptr_equal (mu_smap_get (m, "x"), &b);
  assert_int_equal (mu_smap_size (m), 1);
  assert_null (mu_smap_get (m, "y"));
  assert_ptr_equal (mu_smap_del (m, "x"), &b);
  assert_null (mu_smap_del (m, "x"));
  assert_int_equal (mu_smap_size (m), 0);
  mu_smap_destroy (&m);
  assert_null (m);
  mu_smap_destroy (&m);
  mu_smap_destroy (NULL);
}

/* Random inserts and deletes against an array model. */
static void
test_model (void **state)
{
  (void)state;
  enum { N = 5000 };
  static int present[N];
  static int vals[N];
  memset (present, 0, sizeof present);
  mu_smap_t *m = mu_smap_new ();
  uint64_t x = 88172645463325252ull;
  char key[32];
  for (int step = 0; step < 200000; step++)
    {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      int k = (int)(x % N);
      snprintf (key, sizeof key, "key-%d", k);
      if ((x >> 32) % 3 == 0)
        {
          void *v = mu_smap_del (m, key);
          assert_ptr_equal (v, present[k] ? &vals[k] : NULL);
          present[k] = 0;
        }
      else
        {
          assert_int_equal (mu_smap_put (m, key, &vals[k], NULL), 0);
          present[k] = 1;
        }
    }
  size_t count = 0;
  for (int k = 0; k < N; k++)
    {
      snprintf (key, sizeof key, "key-%d", k);
      assert_ptr_equal (mu_smap_get (m, key), present[k] ? &vals[k] : NULL);
      count += (size_t)present[k];
    }
  assert_int_equal (mu_smap_size (m), count);
  size_t pos = 0, seen = 0;
  const char *k;
  void *v;
  while (mu_smap_next (m, &pos, &k, &v))
    {
      assert_non_null (mu_smap_get (m, k));
      seen++;
    }
  assert_int_equal (seen, count);
  mu_smap_destroy (&m);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_basic),
    cmocka_unit_test (test_model),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
