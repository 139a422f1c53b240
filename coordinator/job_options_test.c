/*
 * job_options_test.c — the note a joining node gets when its job keeps
 * other options than the node asked for: silent when they agree (defaults
 * spelled out or left empty count as equal), one entry per difference,
 * the environment compared as a set, and never past the buffer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "coordinator/coord.h"

static void
spec_init (mu_job_spec_t *s)
{
  memset (s, 0, sizeof *s);
  s->id = "job";
  s->max_restarts = 3;
  s->join_timeout_ms = 600000;
  s->last_call_ms = 30000;
}

static void
test_same_options_no_note (void **state)
{
  (void)state;
  mu_job_spec_t a, b;
  spec_init (&a);
  spec_init (&b);
  b.elastic_mode = "restart"; /* the default, spelled out */
  b.cwd = "";
  char buf[256] = "junk";
  assert_int_equal (mu_job_option_notes (&a, &b, buf, sizeof buf), 0);
  assert_string_equal (buf, "");
}

static void
test_each_difference_listed (void **state)
{
  (void)state;
  mu_job_spec_t a, b;
  spec_init (&a);
  spec_init (&b);
  b.max_restarts = 0;
  b.join_timeout_ms = 3000;
  b.elastic_mode = "in-place";
  b.ckpt_dir = "/ckpt/b";
  b.mpi = true; /* a node that says --mpi when the job does not */
  char buf[512];
  size_t n = mu_job_option_notes (&a, &b, buf, sizeof buf);
  assert_int_equal (n, strlen (buf));
  assert_string_equal (buf, "max_restarts 3 (this node: 0); "
                            "join_timeout_ms 600000 (this node: 3000); "
                            "elastic_mode restart (this node: in-place); "
                            "ckpt_dir (none) (this node: /ckpt/b); "
                            "mpi 0 (this node: 1)");
}

static void
test_env_as_a_set (void **state)
{
  (void)state;
  char *ka[] = { "A", "B" }, *va[] = { "1", "2" };
  char *kb[] = { "B", "A" }, *vb[] = { "2", "1" };
  char *vc[] = { "2", "9" };
  mu_job_spec_t a, b;
  spec_init (&a);
  spec_init (&b);
  a.env = (mu_strmap_t){ ka, va, 2 };
  b.env = (mu_strmap_t){ kb, vb, 2 };
  char buf[256];
  assert_int_equal (mu_job_option_notes (&a, &b, buf, sizeof buf), 0);
  b.env.vals = vc; /* A=9 on this node */
  assert_true (mu_job_option_notes (&a, &b, buf, sizeof buf) > 0);
  assert_non_null (strstr (buf, "environment differs"));
  b.env.n = 1;
  assert_true (mu_job_option_notes (&a, &b, buf, sizeof buf) > 0);
}

static void
test_truncated_safely (void **state)
{
  (void)state;
  mu_job_spec_t a, b;
  spec_init (&a);
  spec_init (&b);
  b.max_restarts = 12345678;
  b.grace_ms = 1;
  b.ckpt_keep = 9;
  char buf[24];
  memset (buf, 'x', sizeof buf);
  size_t n = mu_job_option_notes (&a, &b, buf, 16);
  assert_true (n < 16);
  assert_int_equal (strlen (buf), n);
  assert_int_equal (buf[16], 'x'); /* nothing written past cap */
  assert_int_equal (mu_job_option_notes (&a, &b, buf, 0), 0);
  assert_int_equal (mu_job_option_notes (&a, &b, buf, 1), 0);
  assert_string_equal (buf, "");
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_same_options_no_note),
    cmocka_unit_test (test_each_difference_listed),
    cmocka_unit_test (test_env_as_a_set),
    cmocka_unit_test (test_truncated_safely),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
