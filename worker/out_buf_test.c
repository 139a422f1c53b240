/*
 * out_buf_test.c — the bounded byte queue of out_buf.c: order through
 * growth and compaction, hold at the high mark, resume only at the low
 * one, and freeing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "worker/out_buf.h"

static void
test_order_through_growth (void **state)
{
  (void)state;
  mu_out_buf_t b;
  mu_out_buf_init (&b, 1 << 20);
  /* Append numbered records, consume in odd-sized bites, interleaved:
   * every byte comes out once, in order, across compactions and growth. */
  unsigned next_in = 0, next_out = 0;
  char rec[16];
  for (int round = 0; round < 200; round++)
    {
      for (int k = 0; k < 37; k++)
        {
          snprintf (rec, sizeof rec, "%08u\n", next_in++);
          assert_true (mu_out_buf_append (&b, rec, 9) >= 0);
        }
      size_t n;
      const char *p = mu_out_buf_peek (&b, &n);
      assert_non_null (p);
      size_t take = (n / 9) * 2 / 3 * 9;
      for (size_t off = 0; off < take; off += 9)
        {
          snprintf (rec, sizeof rec, "%08u\n", next_out++);
          assert_memory_equal (p + off, rec, 9);
        }
      mu_out_buf_consume (&b, take);
    }
  size_t n;
  const char *p = mu_out_buf_peek (&b, &n);
  for (size_t off = 0; off < n; off += 9)
    {
      snprintf (rec, sizeof rec, "%08u\n", next_out++);
      assert_memory_equal (p + off, rec, 9);
    }
  assert_int_equal (next_out, next_in);
  mu_out_buf_consume (&b, n);
  assert_null (mu_out_buf_peek (&b, &n));
  assert_int_equal (n, 0);
  mu_out_buf_free (&b);
}

static void
test_hold_and_resume (void **state)
{
  (void)state;
  mu_out_buf_t b;
  mu_out_buf_init (&b, 1000); /* low = 250 */
  char x[100];
  memset (x, 'x', sizeof x);
  for (int i = 0; i < 9; i++)
    assert_int_equal (mu_out_buf_append (&b, x, 100), MU_OUT_BUF_SAME);
  assert_int_equal (b.held, 0);
  /* The 1000th byte: producers must hold back, said once. */
  assert_int_equal (mu_out_buf_append (&b, x, 100), MU_OUT_BUF_HOLD);
  assert_int_equal (b.held, 1);
  /* Never refused: a producer finishing its line may go past the mark. */
  assert_int_equal (mu_out_buf_append (&b, x, 100), MU_OUT_BUF_SAME);
  assert_int_equal (b.len, 1100);
  /* Draining to just above the low mark keeps it held... */
  assert_int_equal (mu_out_buf_consume (&b, 849), MU_OUT_BUF_SAME);
  assert_int_equal (b.held, 1);
  /* ...and reaching it resumes, once. */
  assert_int_equal (mu_out_buf_consume (&b, 1), MU_OUT_BUF_RESUME);
  assert_int_equal (b.held, 0);
  assert_int_equal (mu_out_buf_consume (&b, 100), MU_OUT_BUF_SAME);
  /* Consuming more than there is empties it. */
  mu_out_buf_consume (&b, 100000);
  assert_int_equal (b.len, 0);
  /* Held again from empty. */
  assert_int_equal (mu_out_buf_append (&b, x, 100), MU_OUT_BUF_SAME);
  char big[1000];
  memset (big, 'y', sizeof big);
  assert_int_equal (mu_out_buf_append (&b, big, sizeof big), MU_OUT_BUF_HOLD);
  mu_out_buf_free (&b);
  assert_int_equal (b.len, 0);
  assert_int_equal (b.held, 0);
  assert_null (b.data);
}

static void
test_defaults (void **state)
{
  (void)state;
  mu_out_buf_t b;
  mu_out_buf_init (&b, 0);
  assert_int_equal (b.high, 1u << 20);
  assert_int_equal (b.low, (1u << 20) / 4);
  assert_null (b.data); /* nothing allocated before the first append */
  assert_int_equal (mu_out_buf_append (&b, "", 0), MU_OUT_BUF_SAME);
  assert_null (b.data);
  mu_out_buf_free (&b);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_order_through_growth),
    cmocka_unit_test (test_hold_and_resume),
    cmocka_unit_test (test_defaults),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
