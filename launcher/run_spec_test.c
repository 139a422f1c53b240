/*
 * run_spec_test.c — `muster run` flags and the equivalent job spec file
 * give the same wire job spec, field by field (the two front ends of one
 * format, docs/scheduler.md).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/job_spec_yaml.h"
#include "launcher/run_spec.h"

static mu_job_spec_t *
from_yaml (const char *yaml)
{
  char err[2048];
  mu_job_spec_t *s = NULL;
  if (mu_job_spec_yaml_parse (yaml, strlen (yaml), "t.yaml", &s, err,
                              sizeof err)
      != 0)
    fail_msg ("%s", err);
  return s;
}

static void
from_flags (const char *const *args, mu_run_opts_t *o, mu_job_spec_t *spec,
            mu_role_spec_t *roles)
{
  static char *argv[64];
  int argc = 0;
  while (args[argc] != NULL)
    {
      argv[argc] = (char *)args[argc];
      argc++;
    }
  argv[argc] = NULL;
  char err[256];
  if (mu_run_opts_parse (argc, argv, o, err, sizeof err) != 0)
    fail_msg ("%s", err);
  mu_run_spec_from_opts (o, "job7", spec, roles);
}

static void
same (const mu_job_spec_t *a, const mu_job_spec_t *b)
{
  assert_string_equal (a->id, b->id);
  assert_int_equal (a->roles.n, b->roles.n);
  for (size_t i = 0; i < a->roles.n; i++)
    {
      assert_string_equal (a->roles.v[i].name, b->roles.v[i].name);
      assert_int_equal (a->roles.v[i].min_nodes, b->roles.v[i].min_nodes);
      assert_int_equal (a->roles.v[i].max_nodes, b->roles.v[i].max_nodes);
      assert_int_equal (a->roles.v[i].nproc, b->roles.v[i].nproc);
    }
  assert_int_equal (a->argv.n, b->argv.n);
  for (size_t i = 0; i < a->argv.n; i++)
    assert_string_equal (a->argv.v[i], b->argv.v[i]);
  assert_int_equal (a->max_restarts, b->max_restarts);
  assert_int_equal (a->last_call_ms, b->last_call_ms);
  assert_int_equal (a->join_timeout_ms, b->join_timeout_ms);
  assert_int_equal (a->grace_ms, b->grace_ms);
  assert_string_equal (a->elastic_mode, b->elastic_mode);
  assert_string_equal (a->ckpt_dir, b->ckpt_dir);
  assert_int_equal (a->ckpt_every_ms, b->ckpt_every_ms);
  assert_int_equal (a->ckpt_every_steps, b->ckpt_every_steps);
  assert_int_equal (a->ckpt_keep, b->ckpt_keep);
  assert_int_equal (a->ckpt_timeout_ms, b->ckpt_timeout_ms);
  assert_int_equal (a->nbuckets, b->nbuckets);
  assert_int_equal (a->spares, b->spares);
  assert_int_equal (a->mpi, b->mpi);
}

static void
test_gang_flags_match_file (void **st)
{
  (void)st;
  const char *args[] = { "--rdzv-endpoint",
                         "node0:29400",
                         "--nnodes",
                         "2:8",
                         "--nproc-per-node",
                         "4",
                         "--max-restarts",
                         "3",
                         "--elastic-mode",
                         "in-place",
                         "--last-call",
                         "5s",
                         "--join-timeout",
                         "10m",
                         "--grace",
                         "30",
                         "--ckpt-dir",
                         "/ck",
                         "--ckpt-every",
                         "10m",
                         "--ckpt-keep",
                         "3",
                         "--ckpt-timeout",
                         "1m",
                         "--spares",
                         "1",
                         "--",
                         "python3",
                         "train.py",
                         NULL };
  mu_run_opts_t o;
  mu_job_spec_t flags;
  mu_role_spec_t roles[MU_RUN_MAX_ROLES];
  from_flags (args, &o, &flags, roles);
  mu_job_spec_t *file = from_yaml (
      "name: job7\ncommand: [python3, train.py]\n"
      "roles:\n  - name: worker\n    replicas: 2:8\n    nproc: 4\n"
      "restart: {max_restarts: 3}\n"
      "elastic: {mode: in-place, last_call: 5s, join_timeout: 10m}\n"
      "grace: 30\n"
      "checkpoint: {dir: /ck, every: 10m, keep: 3, timeout: 1m}\n"
      "spares: 1\n");
  same (&flags, file);
  mu_job_spec_free (&file);
}

static void
test_ps_roles_match_file (void **st)
{
  (void)st;
  const char *args[] = { "--rdzv-endpoint",
                         "node0:29400",
                         "--role",
                         "ps",
                         "--roles",
                         "ps=2x1,worker=4:16x2",
                         "--nbuckets",
                         "1024",
                         "--ckpt-dir",
                         "/ck",
                         "--ckpt-every-steps",
                         "1000",
                         "--elastic-mode",
                         "restart",
                         "--",
                         "./ps",
                         NULL };
  mu_run_opts_t o;
  mu_job_spec_t flags;
  mu_role_spec_t roles[MU_RUN_MAX_ROLES];
  from_flags (args, &o, &flags, roles);
  char yaml[1024];
  snprintf (
      yaml, sizeof yaml,
      "name: job7\ncommand: [./ps]\nnbuckets: 1024\n"
      "roles:\n  - {name: ps, replicas: 2, nproc: 1}\n"
      "  - {name: worker, replicas: \"4:16\", nproc: 2}\n"
      "elastic: {mode: restart, last_call: %llums, join_timeout: %llums}\n"
      "grace: %llums\nrestart: {max_restarts: %llu}\n"
      "checkpoint: {dir: /ck, every_steps: 1000}\n",
      (unsigned long long)o.last_call_ms, (unsigned long long)o.join_timeout_ms,
      (unsigned long long)o.grace_ms, (unsigned long long)o.max_restarts);
  /* the flags' defaults (last call, join timeout, grace, restarts) written
   * out in the file */
  mu_job_spec_t *file = from_yaml (yaml);
  same (&flags, file);
  mu_job_spec_free (&file);
}

static void
test_mpi_matches_file (void **st)
{
  (void)st;
  const char *args[] = { "--nproc-per-node", "4", "--mpi", "--elastic-mode",
                         "restart", "--ckpt-dir", "/ck", "--", "./ring",
                         NULL };
  mu_run_opts_t o;
  mu_job_spec_t flags;
  mu_role_spec_t roles[MU_RUN_MAX_ROLES];
  from_flags (args, &o, &flags, roles);
  assert_true (flags.mpi);
  char yaml[1024];
  snprintf (yaml, sizeof yaml,
            "name: job7\ncommand: [./ring]\nmpi: true\n"
            "roles:\n  - {name: worker, replicas: 1, nproc: 4}\n"
            "elastic: {mode: restart, last_call: %llums, "
            "join_timeout: %llums}\ncheckpoint: {dir: /ck}\n"
            "grace: %llums\nrestart: {max_restarts: %llu}\n",
            (unsigned long long)o.last_call_ms,
            (unsigned long long)o.join_timeout_ms,
            (unsigned long long)o.grace_ms,
            (unsigned long long)o.max_restarts);
  mu_job_spec_t *file = from_yaml (yaml);
  same (&flags, file);
  mu_job_spec_free (&file);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_gang_flags_match_file),
    cmocka_unit_test (test_ps_roles_match_file),
    cmocka_unit_test (test_mpi_matches_file),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
