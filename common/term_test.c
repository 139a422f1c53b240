/*
 * term_test.c — fencing terms (a lower term is refused, 0 is accepted,
 * the highest is kept), the term file (missing, stored, damaged), and the
 * follower's sequencing of the journal stream (records before a sync, a
 * gap, a heartbeat ahead, a new primary's term, a stale one).
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <muster/error.h>

#include "common/term.h"

static void
test_check (void **state)
{
  (void)state;
  uint64_t hi = 0;
  assert_int_equal (mu_term_check (&hi, 3), 0);
  assert_int_equal (hi, 3);
  assert_int_equal (mu_term_check (&hi, 2), MUSTER_ESTALE_EPOCH);
  assert_int_equal (hi, 3);
  assert_int_equal (mu_term_check (&hi, 0), 0);
  assert_int_equal (hi, 3);
  assert_int_equal (mu_term_check (&hi, 3), 0);
  assert_int_equal (mu_term_check (&hi, 4), 0);
  assert_int_equal (hi, 4);
  assert_int_equal (mu_term_check (&hi, 3), MUSTER_ESTALE_EPOCH);
}

static void
test_file (void **state)
{
  (void)state;
  char dir[] = "/tmp/term_test.XXXXXX";
  assert_non_null (mkdtemp (dir));
  uint64_t t = 99;
  char err[256] = "";
  assert_int_equal (mu_term_load (dir, &t, err, sizeof err), 0);
  assert_int_equal (t, 0);
  assert_int_equal (mu_term_store (dir, 7), 0);
  assert_int_equal (mu_term_load (dir, &t, err, sizeof err), 0);
  assert_int_equal (t, 7);
  char path[300];
  snprintf (path, sizeof path, "%s/term", dir);
  FILE *f = fopen (path, "w");
  fputs ("seven\n", f);
  fclose (f);
  assert_int_equal (mu_term_load (dir, &t, err, sizeof err), MUSTER_ECORRUPT);
  assert_non_null (strstr (err, "not a term number"));
  assert_non_null (strstr (err, path));
  unlink (path);
  rmdir (dir);
}

static void
test_follow (void **state)
{
  (void)state;
  mu_follow_t f;
  memset (&f, 0, sizeof f);
  /* Records before any sync: ask for one. */
  assert_int_equal (mu_follow_on (&f, MU_STREAM_REC, 1, 0, 1), MU_FOLLOW_RESYNC);
  assert_int_equal (mu_follow_on (&f, MU_STREAM_HB, 1, 0, 0), MU_FOLLOW_RESYNC);
  assert_int_equal (mu_follow_on (&f, MU_STREAM_SYNC, 1, 4, 0), MU_FOLLOW_APPLY);
  assert_int_equal (mu_follow_on (&f, MU_STREAM_HB, 1, 4, 0), MU_FOLLOW_IGNORE);
  assert_int_equal (mu_follow_on (&f, MU_STREAM_REC, 1, 4, 1), MU_FOLLOW_APPLY);
  assert_int_equal (mu_follow_on (&f, MU_STREAM_REC, 1, 4, 2), MU_FOLLOW_APPLY);
  assert_int_equal (mu_follow_on (&f, MU_STREAM_HB, 1, 4, 2), MU_FOLLOW_IGNORE);
  /* A gap: record 4 after 2. */
  assert_int_equal (mu_follow_on (&f, MU_STREAM_REC, 1, 4, 4), MU_FOLLOW_RESYNC);
  assert_int_equal (f.synced, 0);
  assert_int_equal (mu_follow_on (&f, MU_STREAM_REC, 1, 4, 5), MU_FOLLOW_RESYNC);
  /* A compaction: a new sync, segment 5. */
  assert_int_equal (mu_follow_on (&f, MU_STREAM_SYNC, 1, 5, 0), MU_FOLLOW_APPLY);
  assert_int_equal (mu_follow_on (&f, MU_STREAM_REC, 1, 4, 1), MU_FOLLOW_RESYNC);
  assert_int_equal (mu_follow_on (&f, MU_STREAM_SYNC, 1, 5, 0), MU_FOLLOW_APPLY);
  assert_int_equal (mu_follow_on (&f, MU_STREAM_REC, 1, 5, 1), MU_FOLLOW_APPLY);
  /* A heartbeat ahead of what arrived: records were lost. */
  assert_int_equal (mu_follow_on (&f, MU_STREAM_HB, 1, 5, 3), MU_FOLLOW_RESYNC);
  assert_int_equal (mu_follow_on (&f, MU_STREAM_SYNC, 1, 5, 0), MU_FOLLOW_APPLY);
  /* A primary of a higher term: its records need its own sync first. */
  assert_int_equal (mu_follow_on (&f, MU_STREAM_REC, 2, 5, 1), MU_FOLLOW_RESYNC);
  assert_int_equal (f.term, 2);
  /* The old term's frames are stale from now on. */
  assert_int_equal (mu_follow_on (&f, MU_STREAM_SYNC, 1, 9, 0), MU_FOLLOW_STALE);
  assert_int_equal (mu_follow_on (&f, MU_STREAM_SYNC, 2, 9, 0), MU_FOLLOW_APPLY);
  assert_int_equal (mu_follow_on (&f, MU_STREAM_REC, 2, 9, 1), MU_FOLLOW_APPLY);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_check),
    cmocka_unit_test (test_file),
    cmocka_unit_test (test_follow),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
