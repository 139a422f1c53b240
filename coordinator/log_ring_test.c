/*
 * log_ring_test.c — the bounded ring of a job's output (log_ring.h):
 * lines come back in order with contiguous sequence numbers; a cursor
 * read resumes exactly where the last one stopped; a rank filter skips
 * other ranks without rescanning them; a chatty job never holds more than
 * the cap (the oldest lines go, `first` says so); an over-long line is cut;
 * a cursor before the oldest or past the newest line is handled.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator/log_ring.h"

static void
append_str (mu_log_ring_t *r, int64_t rank, const char *s)
{
  assert_true (mu_log_ring_append (r, rank, MU_LOGR_OUT, s, strlen (s), 7) > 0);
}

static void
test_order_and_cursor (void **state)
{
  (void)state;
  mu_log_ring_t *r = NULL;
  assert_int_equal (mu_log_ring_new (0, &r), 0);
  assert_int_equal (mu_log_ring_first (r), 1);
  assert_int_equal (mu_log_ring_next (r), 1);
  append_str (r, 0, "a");
  append_str (r, 1, "b");
  append_str (r, 0, "c");
  mu_log_view_t v[8];
  uint64_t next = 0;
  size_t n = mu_log_ring_read (r, 0, 0, 0, 2, v, &next);
  assert_int_equal (n, 2);
  assert_int_equal (v[0].seq, 1);
  assert_string_equal (v[0].text, "a");
  assert_int_equal (v[1].seq, 2);
  assert_int_equal (v[1].rank, 1);
  assert_int_equal (next, 3);
  n = mu_log_ring_read (r, next, 0, 0, 8, v, &next);
  assert_int_equal (n, 1);
  assert_string_equal (v[0].text, "c");
  assert_int_equal (v[0].time_us, 7);
  assert_int_equal (next, 4);
  /* nothing new: the cursor stays */
  n = mu_log_ring_read (r, next, 0, 0, 8, v, &next);
  assert_int_equal (n, 0);
  assert_int_equal (next, 4);
  append_str (r, 2, "d");
  n = mu_log_ring_read (r, next, 0, 0, 8, v, &next);
  assert_int_equal (n, 1);
  assert_string_equal (v[0].text, "d");
  mu_log_ring_destroy (&r);
  assert_null (r);
  mu_log_ring_destroy (&r); /* NULL is fine */
}

static void
test_rank_filter (void **state)
{
  (void)state;
  mu_log_ring_t *r = NULL;
  assert_int_equal (mu_log_ring_new (0, &r), 0);
  for (int i = 0; i < 10; i++)
    {
      char s[16];
      snprintf (s, sizeof s, "line %d", i);
      append_str (r, i % 2, s);
    }
  mu_log_view_t v[16];
  uint64_t next = 0;
  size_t n = mu_log_ring_read (r, 0, 1, 1, 3, v, &next);
  assert_int_equal (n, 3);
  assert_string_equal (v[0].text, "line 1");
  assert_string_equal (v[2].text, "line 5");
  assert_int_equal (next, 7); /* past line 5 (seq 6) */
  n = mu_log_ring_read (r, next, 1, 1, 16, v, &next);
  assert_int_equal (n, 2);
  assert_string_equal (v[0].text, "line 7");
  assert_string_equal (v[1].text, "line 9");
  assert_int_equal (next, 11);
  n = mu_log_ring_read (r, 0, 1, 5, 16, v, &next); /* a rank with no line */
  assert_int_equal (n, 0);
  assert_int_equal (next, 11);
  mu_log_ring_destroy (&r);
}

static void
test_bounded_by_cap (void **state)
{
  (void)state;
  mu_log_ring_t *r = NULL;
  assert_int_equal (mu_log_ring_new (8192, &r), 0);
  char line[100];
  memset (line, 'x', sizeof line);
  for (int i = 0; i < 100000; i++) /* ~10 MB through an 8 KiB ring */
    assert_true (mu_log_ring_append (r, 0, MU_LOGR_ERR, line, sizeof line, 0)
                 > 0);
  assert_true (mu_log_ring_bytes (r) <= 8192);
  size_t lines = mu_log_ring_lines (r);
  assert_int_equal (lines, 8192 / (100 + MU_LOG_RING_LINE_COST));
  assert_int_equal (mu_log_ring_next (r), 100001);
  assert_int_equal (mu_log_ring_first (r), 100001 - lines);
  /* a cursor on evicted lines starts at the oldest kept */
  mu_log_view_t v[4];
  uint64_t next = 0;
  size_t n = mu_log_ring_read (r, 5, 0, 0, 4, v, &next);
  assert_int_equal (n, 4);
  assert_int_equal (v[0].seq, mu_log_ring_first (r));
  assert_int_equal (v[0].stream, MU_LOGR_ERR);
  /* a cursor past the end comes back as the end */
  n = mu_log_ring_read (r, 999999999, 0, 0, 4, v, &next);
  assert_int_equal (n, 0);
  assert_int_equal (next, 100001);
  mu_log_ring_destroy (&r);
}

static void
test_long_line_cut (void **state)
{
  (void)state;
  mu_log_ring_t *r = NULL;
  assert_int_equal (mu_log_ring_new (100, &r), 0); /* raised to the minimum */
  size_t big = 3 * MU_LOG_RING_MIN;
  char *s = malloc (big);
  assert_non_null (s);
  memset (s, 'y', big);
  append_str (r, 0, "before");
  assert_true (mu_log_ring_append (r, 3, MU_LOGR_OUT, s, big, 0) > 0);
  free (s);
  mu_log_view_t v[4];
  uint64_t next;
  size_t n = mu_log_ring_read (r, 0, 0, 0, 4, v, &next);
  assert_int_equal (n, 2);
  assert_int_equal (v[1].len, MU_LOG_RING_MIN / 4);
  assert_int_equal (strlen (v[1].text), MU_LOG_RING_MIN / 4);
  assert_true (mu_log_ring_bytes (r) <= MU_LOG_RING_MIN);
  mu_log_ring_destroy (&r);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_order_and_cursor),
    cmocka_unit_test (test_rank_filter),
    cmocka_unit_test (test_bounded_by_cap),
    cmocka_unit_test (test_long_line_cut),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
