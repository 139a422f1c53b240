/*
 * metrics_test.c — the registry and its Prometheus text: the exact text of
 * a small registry (HELP/TYPE, labels, cumulative histogram buckets ending
 * with +Inf, _sum and _count), label-value escaping against random bytes
 * (every output is a valid quoted label value that reads back), the
 * "other" series once a family is full, and the table checks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <muster/error.h>

#include "common/metrics.h"

enum
{
  T_JOBS,
  T_EPOCHS,
  T_RESTARTS,
  T_LAT,
  T_N
};

static const char *const states[] = { "pending", "running", NULL };
static const double lat_buckets[] = { 0.1, 1, 2.5 };
static const mu_metric_def_t defs[T_N] = {
  [T_JOBS] = { "muster_jobs", "Jobs by state.", MU_METRIC_GAUGE, "state",
               states, NULL, 0 },
  [T_EPOCHS] = { "muster_epochs_total", "Epochs started (a \\ b).",
                 MU_METRIC_COUNTER, NULL, NULL, NULL, 0 },
  [T_RESTARTS] = { "muster_restarts_total", "Restarts by cause.",
                   MU_METRIC_COUNTER, "cause", NULL, NULL, 0 },
  [T_LAT] = { "muster_lat_seconds", "Latency.", MU_METRIC_HISTOGRAM, "op", NULL,
              lat_buckets, 3 },
};

static void
test_exact_text (void **state)
{
  (void)state;
  mu_metrics_t *m = NULL;
  char err[256];
  assert_int_equal (mu_metrics_new (defs, T_N, &m, err, sizeof err), 0);
  mu_metrics_set (m, T_JOBS, "running", 3);
  mu_metrics_inc (m, T_EPOCHS, NULL);
  mu_metrics_inc (m, T_EPOCHS, "ignored");
  mu_metrics_inc (m, T_RESTARTS, "user");
  mu_metrics_add (m, T_RESTARTS, "infra", 2);
  mu_metrics_add (m, T_RESTARTS, "user", -5); /* ignored: counters grow */
  mu_metrics_observe (m, T_LAT, "get", 0.05);
  mu_metrics_observe (m, T_LAT, "get", 1);   /* le="1" holds 1 */
  mu_metrics_observe (m, T_LAT, "get", 7.5); /* past every bound */
  mu_metrics_observe (m, T_LAT, "put\"x\n", 0.25);
  char *text = NULL;
  size_t len = 0;
  assert_int_equal (mu_metrics_render (m, &text, &len), 0);
  const char *want
      = "# HELP muster_jobs Jobs by state.\n"
        "# TYPE muster_jobs gauge\n"
        "muster_jobs{state=\"pending\"} 0\n"
        "muster_jobs{state=\"running\"} 3\n"
        "# HELP muster_epochs_total Epochs started (a \\\\ b).\n"
        "# TYPE muster_epochs_total counter\n"
        "muster_epochs_total 2\n"
        "# HELP muster_restarts_total Restarts by cause.\n"
        "# TYPE muster_restarts_total counter\n"
        "muster_restarts_total{cause=\"user\"} 1\n"
        "muster_restarts_total{cause=\"infra\"} 2\n"
        "# HELP muster_lat_seconds Latency.\n"
        "# TYPE muster_lat_seconds histogram\n"
        "muster_lat_seconds_bucket{op=\"get\",le=\"0.1\"} 1\n"
        "muster_lat_seconds_bucket{op=\"get\",le=\"1\"} 2\n"
        "muster_lat_seconds_bucket{op=\"get\",le=\"2.5\"} 2\n"
        "muster_lat_seconds_bucket{op=\"get\",le=\"+Inf\"} 3\n"
        "muster_lat_seconds_sum{op=\"get\"} 8.55\n"
        "muster_lat_seconds_count{op=\"get\"} 3\n"
        "muster_lat_seconds_bucket{op=\"put\\\"x\\n\",le=\"0.1\"} 0\n"
        "muster_lat_seconds_bucket{op=\"put\\\"x\\n\",le=\"1\"} 1\n"
        "muster_lat_seconds_bucket{op=\"put\\\"x\\n\",le=\"2.5\"} 1\n"
        "muster_lat_seconds_bucket{op=\"put\\\"x\\n\",le=\"+Inf\"} 1\n"
        "muster_lat_seconds_sum{op=\"put\\\"x\\n\"} 0.25\n"
        "muster_lat_seconds_count{op=\"put\\\"x\\n\"} 1\n";
  assert_string_equal (text, want);
  assert_int_equal (len, strlen (want));
  assert_true (mu_metrics_value (m, T_RESTARTS, "infra") == 2);
  assert_true (mu_metrics_value (m, T_LAT, "get") == 3);
  assert_true (mu_metrics_value (m, T_RESTARTS, "never") == 0);
  free (text);
  /* Gauges zeroed keep their series. */
  mu_metrics_zero (m, T_JOBS);
  assert_true (mu_metrics_value (m, T_JOBS, "running") == 0);
  mu_metrics_destroy (&m);
  assert_null (m);
  mu_metrics_destroy (&m);
  mu_metrics_destroy (NULL);
  /* No registry: every update is a no-op. */
  mu_metrics_inc (NULL, T_EPOCHS, NULL);
  mu_metrics_observe (NULL, T_LAT, "x", 1);
}

static void
test_full_family_counts_other (void **state)
{
  (void)state;
  mu_metrics_t *m = NULL;
  char err[256];
  assert_int_equal (mu_metrics_new (defs, T_N, &m, err, sizeof err), 0);
  char v[32];
  for (int i = 0; i < 40; i++)
    {
      snprintf (v, sizeof v, "cause%d", i);
      mu_metrics_inc (m, T_RESTARTS, v);
    }
  /* 15 named series, then everything else in "other". */
  assert_true (mu_metrics_value (m, T_RESTARTS, "cause14") == 1);
  assert_true (mu_metrics_value (m, T_RESTARTS, "cause15") == 0);
  assert_true (mu_metrics_value (m, T_RESTARTS, "other")
               == 40 - (MU_METRIC_SERIES_MAX - 1));
  /* A value longer than a label holds is cut, and found again. */
  char longv[200];
  memset (longv, 'z', sizeof longv - 1);
  longv[sizeof longv - 1] = '\0';
  mu_metrics_set (m, T_JOBS, longv, 4);
  mu_metrics_set (m, T_JOBS, longv, 5);
  char *text = NULL;
  size_t len = 0;
  assert_int_equal (mu_metrics_render (m, &text, &len), 0);
  char want[128];
  snprintf (want, sizeof want, "{state=\"%.*s\"} 5\n", MU_METRIC_LABEL_MAX - 1,
            longv);
  assert_non_null (strstr (text, want));
  free (text);
  mu_metrics_destroy (&m);
}

/* Read a quoted label value back as a Prometheus parser does; returns
 * the number of bytes consumed (after the closing quote) or -1. */
static int
unquote (const char *p, char *out, size_t cap)
{
  size_t n = 0;
  const char *s = p;
  if (*s++ != '"')
    return -1;
  while (*s != '"')
    {
      char ch = *s;
      if (ch == '\0' || ch == '\n')
        return -1;
      if (ch == '\\')
        {
          s++;
          if (*s == 'n')
            ch = '\n';
          else if (*s == '\\' || *s == '"')
            ch = *s;
          else
            return -1;
        }
      if (n + 1 < cap)
        out[n++] = ch;
      s++;
    }
  out[n] = '\0';
  return (int)(s + 1 - p);
}

static void
test_escape_random_bytes (void **state)
{
  (void)state;
  unsigned seed = 12345;
  for (int iter = 0; iter < 20000; iter++)
    {
      char in[40], expect[40], esc[200], quoted[210], back[80];
      size_t l = (size_t)(rand_r (&seed) % (sizeof in - 1));
      for (size_t i = 0; i < l; i++)
        {
          unsigned r = (unsigned)rand_r (&seed);
          /* bias towards the characters that need escaping */
          static const char special[] = "\\\"\n\t\r{}=,";
          in[i] = r % 3 == 0 ? special[r % (sizeof special - 1)]
                             : (char)(1 + r % 255);
          unsigned char u = (unsigned char)in[i];
          expect[i] = (u >= 0x20 && u < 0x7f) || u == '\n' ? in[i] : '?';
        }
      in[l] = expect[l] = '\0';
      size_t need = mu_metrics_escape_label (in, esc, sizeof esc);
      assert_int_equal (need, strlen (esc));
      for (const char *p = esc; *p; p++)
        assert_true ((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f);
      snprintf (quoted, sizeof quoted, "\"%s\"", esc);
      int used = unquote (quoted, back, sizeof back);
      assert_int_equal (used, (int)strlen (quoted));
      assert_string_equal (back, expect);
    }
  /* Truncation: the length needed is returned, the output stays
   * NUL-terminated. */
  char small[4];
  assert_int_equal (mu_metrics_escape_label ("a\"bc", small, sizeof small), 5);
  assert_string_equal (small, "a\\\"");
}

static void
test_bad_tables (void **state)
{
  (void)state;
  mu_metrics_t *m = NULL;
  char err[256];
  static const double down[] = { 1, 0.5 };
  mu_metric_def_t bad[] = {
    { "9bad", "h", MU_METRIC_COUNTER, NULL, NULL, NULL, 0 },
    { "ok", "two\nlines", MU_METRIC_COUNTER, NULL, NULL, NULL, 0 },
    { "ok", "h", MU_METRIC_COUNTER, "le", NULL, NULL, 0 },
    { "ok", "h", MU_METRIC_HISTOGRAM, NULL, NULL, down, 2 },
    { "ok", "h", MU_METRIC_GAUGE, NULL, states, NULL, 0 },
  };
  const char *why[] = { "not [a-zA-Z_:]", "one line", "bad label name",
                        "ascending", "without a label" };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    {
      err[0] = '\0';
      assert_int_equal (mu_metrics_new (&bad[i], 1, &m, err, sizeof err),
                        MUSTER_EINVAL);
      assert_null (m);
      assert_non_null (strstr (err, why[i]));
    }
  mu_metric_def_t twice[] = {
    { "a_total", "h", MU_METRIC_COUNTER, NULL, NULL, NULL, 0 },
    { "a_total", "h", MU_METRIC_COUNTER, NULL, NULL, NULL, 0 },
  };
  assert_int_equal (mu_metrics_new (twice, 2, &m, err, sizeof err),
                    MUSTER_EINVAL);
  assert_non_null (strstr (err, "declared twice"));
}

static void
test_default_buckets (void **state)
{
  (void)state;
  mu_metric_def_t d[]
      = { { "x_seconds", "h", MU_METRIC_HISTOGRAM, NULL, NULL, NULL, 0 } };
  mu_metrics_t *m = NULL;
  char err[256];
  assert_int_equal (mu_metrics_new (d, 1, &m, err, sizeof err), 0);
  mu_metrics_observe (m, 0, NULL, 0.003);
  mu_metrics_observe (m, 0, NULL, 1e-05);
  char *text = NULL;
  size_t len = 0;
  assert_int_equal (mu_metrics_render (m, &text, &len), 0);
  assert_non_null (strstr (text, "x_seconds_bucket{le=\"0.001\"} 1\n"
                                 "x_seconds_bucket{le=\"0.005\"} 2\n"));
  assert_non_null (strstr (text, "x_seconds_bucket{le=\"60\"} 2\n"
                                 "x_seconds_bucket{le=\"+Inf\"} 2\n"
                                 "x_seconds_sum 0.00301\n"
                                 "x_seconds_count 2\n"));
  free (text);
  mu_metrics_destroy (&m);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_exact_text),
    cmocka_unit_test (test_full_family_counts_other),
    cmocka_unit_test (test_escape_random_bytes),
    cmocka_unit_test (test_bad_tables),
    cmocka_unit_test (test_default_buckets),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
