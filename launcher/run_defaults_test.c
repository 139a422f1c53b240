/*
 * run_defaults_test.c — `muster run` agrees with the table of job option
 * defaults (common/job_defaults.h): its --help text prints each
 * option's default as the table has it, and options left out parse to
 * the table's values.  Change a default in the table and forget the help
 * text, and this fails.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "common/job_defaults.h"
#include "launcher/run_opts.h"

/* How the help text writes a default: durations as "600s" or "250ms". */
static void
format_default (const mu_job_default_t *d, char *buf, size_t cap)
{
  if (strcmp (d->unit, "ms") == 0 && d->value % 1000 == 0)
    snprintf (buf, cap, "%llus", (unsigned long long)(d->value / 1000));
  else if (strcmp (d->unit, "ms") == 0)
    snprintf (buf, cap, "%llums", (unsigned long long)d->value);
  else
    snprintf (buf, cap, "%llu", (unsigned long long)d->value);
}

/* The help text of `option`: its line and the continuation lines up to
 * the next option. */
static int
option_text (const char *usage, const char *option, char *buf, size_t cap)
{
  char key[64];
  snprintf (key, sizeof key, "\n  %s ", option);
  const char *p = strstr (usage, key);
  if (p == NULL)
    return -1;
  p++;
  const char *end = strstr (p + 1, "\n  -");
  size_t len = end ? (size_t)(end - p) : strlen (p);
  if (len >= cap)
    len = cap - 1;
  memcpy (buf, p, len);
  buf[len] = '\0';
  return 0;
}

static void
test_help_prints_the_table (void **state)
{
  (void)state;
  const char *usage = mu_run_opts_usage ();
  int checked = 0;
  for (int id = 0; id < MU_JD__COUNT; id++)
    {
      const mu_job_default_t *d = mu_job_default ((mu_job_default_id_t)id);
      if (d->option == NULL)
        continue;
      char text[1024], want[64], a[80], b[80];
      if (option_text (usage, d->option, text, sizeof text) != 0)
        {
          print_error ("muster run --help does not describe %s\n", d->option);
          fail ();
        }
      format_default (d, want, sizeof want);
      snprintf (a, sizeof a, "(default %s", want);
      snprintf (b, sizeof b, "(%s)", want);
      if (strstr (text, a) == NULL && strstr (text, b) == NULL)
        {
          print_error ("%s: the table says %s, the help text says:\n%s\n",
                       d->option, want, text);
          fail ();
        }
      checked++;
    }
  assert_true (checked >= 8);
}

static void
test_unset_options_take_the_table (void **state)
{
  (void)state;
  char *argv[] = { (char *)"/bin/true", NULL };
  mu_run_opts_t o;
  char err[256];
  assert_int_equal (mu_run_opts_parse (1, argv, &o, err, sizeof err), 0);
  assert_int_equal (o.last_call_ms, mu_job_default (MU_JD_LAST_CALL_MS)->value);
  assert_int_equal (o.join_timeout_ms,
                    mu_job_default (MU_JD_JOIN_TIMEOUT_MS)->value);
  assert_int_equal (o.grace_ms, mu_job_default (MU_JD_GRACE_MS)->value);
  assert_int_equal (o.connect_timeout_ms,
                    mu_job_default (MU_JD_CONNECT_TIMEOUT_MS)->value);
  assert_int_equal (o.preempt_grace_ms,
                    mu_job_default (MU_JD_PREEMPT_GRACE_MS)->value);
  assert_int_equal (o.preempt_exit_code,
                    mu_job_default (MU_JD_PREEMPT_EXIT_CODE)->value);
  assert_int_equal (o.max_restarts, mu_job_default (MU_JD_MAX_RESTARTS)->value);
}

static void
test_lookup (void **state)
{
  (void)state;
  assert_int_equal (mu_job_default_or (0, MU_JD_CKPT_KEEP), 3);
  assert_int_equal (mu_job_default_or (7, MU_JD_CKPT_KEEP), 7);
  assert_string_equal (mu_job_default (MU_JD_INFRA_RESTARTS)->field,
                       "infra_restarts");
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_help_prints_the_table),
    cmocka_unit_test (test_unset_options_take_the_table),
    cmocka_unit_test (test_lookup),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
