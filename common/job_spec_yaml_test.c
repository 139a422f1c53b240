/*
 * job_spec_yaml_test.c — job spec files: the shipped examples parse into
 * the wire spec field by field, the result encodes and decodes on the wire,
 * and every kind of mistake is named by file, line, column and field.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <muster/error.h>

#include "common/job_spec_yaml.h"

static char err[4096];

static mu_job_spec_t *
ok (const char *yaml)
{
  mu_job_spec_t *s = NULL;
  int rc = mu_job_spec_yaml_parse (yaml, strlen (yaml), "t.yaml", &s, err,
                                   sizeof err);
  if (rc != 0)
    fail_msg ("parse failed (%d): %s", rc, err);
  return s;
}

/* The whole error text of a bad spec. */
static const char *
bad (const char *yaml)
{
  mu_job_spec_t *s = NULL;
  int rc = mu_job_spec_yaml_parse (yaml, strlen (yaml), "t.yaml", &s, err,
                                   sizeof err);
  assert_int_equal (rc, MUSTER_EINVAL);
  assert_null (s);
  return err;
}

static mu_job_spec_t *
example (const char *name)
{
  char path[1024];
  snprintf (path, sizeof path, "%s/%s", MU_EXAMPLES_DIR, name);
  mu_job_spec_t *s = NULL;
  int rc = mu_job_spec_yaml_load (path, &s, err, sizeof err);
  if (rc != 0)
    fail_msg ("%s: %s", name, err);
  return s;
}

/* Encode and decode through the wire codec: nothing is lost. */
static void
wire_roundtrip (const mu_job_spec_t *s)
{
  mu_msg_t m, back;
  memset (&m, 0, sizeof m);
  m.type = MU_MSG_CTL_SUBMIT;
  m.u.ctl_submit.job = (mu_job_spec_t *)s;
  char *buf;
  size_t len;
  char why[256];
  assert_int_equal (mu_msg_encode (&m, &buf, &len), 0);
  assert_int_equal (mu_msg_decode (buf, len, &back, why, sizeof why), 0);
  const mu_job_spec_t *b = back.u.ctl_submit.job;
  assert_string_equal (b->id, s->id);
  assert_int_equal (b->priority, s->priority);
  assert_int_equal (b->roles.n, s->roles.n);
  for (size_t i = 0; i < s->roles.n; i++)
    {
      assert_int_equal (b->roles.v[i].slots, s->roles.v[i].slots);
      assert_int_equal (b->roles.v[i].labels.n, s->roles.v[i].labels.n);
      assert_int_equal (b->roles.v[i].argv.n, s->roles.v[i].argv.n);
    }
  free (buf);
  mu_msg_clear (&back);
}

static void
test_example_gang (void **st)
{
  (void)st;
  mu_job_spec_t *s = example ("train_gang.yaml");
  assert_string_equal (s->id, "ctr-train");
  assert_string_equal (s->name, "ctr-train");
  assert_string_equal (s->tenant, "recsys");
  assert_int_equal (s->priority, 10);
  assert_string_equal (s->kind, "gang");
  assert_int_equal (s->argv.n, 4);
  assert_string_equal (s->argv.v[3], "10");
  assert_string_equal (mu_strmap_get (&s->env, "OMP_NUM_THREADS"), "4");
  assert_int_equal (s->roles.n, 1);
  const mu_role_spec_t *r = &s->roles.v[0];
  assert_string_equal (r->name, "worker");
  assert_int_equal (r->min_nodes, 2);
  assert_int_equal (r->max_nodes, 8);
  assert_int_equal (r->nproc, 4);
  assert_int_equal (r->slots, 4);
  assert_int_equal (r->labels.n, 2);
  assert_string_equal (r->labels.v[0], "zone=a");
  assert_string_equal (r->labels.v[1], "gpu=h100");
  assert_string_equal (s->restart_policy, "on-failure");
  assert_int_equal (s->max_restarts, 3);
  assert_int_equal (s->infra_restarts, 10);
  assert_string_equal (s->elastic_mode, "in-place");
  assert_int_equal (s->last_call_ms, 5000);
  assert_int_equal (s->join_timeout_ms, 600000);
  assert_string_equal (s->ckpt_dir, "/var/lib/ckpt/ctr-train");
  assert_int_equal (s->ckpt_every_ms, 600000);
  assert_int_equal (s->ckpt_keep, 3);
  assert_int_equal (s->ckpt_timeout_ms, 60000);
  assert_int_equal (s->grace_ms, 30000);
  wire_roundtrip (s);
  mu_job_spec_free (&s);
  assert_null (s);
}

static void
test_example_ps (void **st)
{
  (void)st;
  mu_job_spec_t *s = example ("ps_ctr.yaml");
  assert_string_equal (s->kind, "ps");
  assert_int_equal (s->nbuckets, 1024);
  assert_int_equal (s->roles.n, 2);
  assert_string_equal (s->roles.v[0].name, "ps");
  assert_int_equal (s->roles.v[0].min_nodes, 2);
  assert_int_equal (s->roles.v[0].max_nodes, 2);
  assert_string_equal (s->roles.v[0].labels.v[0], "pool=memory");
  assert_string_equal (s->roles.v[0].argv.v[1], "ps_server.py");
  assert_int_equal (s->roles.v[1].min_nodes, 4);
  assert_int_equal (s->roles.v[1].max_nodes, 16);
  assert_int_equal (s->roles.v[1].slots, 0); /* = nproc */
  assert_string_equal (mu_strmap_get (&s->roles.v[1].env, "BATCH_TIMEOUT"),
                       "2s");
  /* no job command: the first role's */
  assert_string_equal (s->argv.v[1], "ps_server.py");
  assert_int_equal (s->ckpt_every_steps, 1000);
  wire_roundtrip (s);
  mu_job_spec_free (&s);
}

static void
test_example_service (void **st)
{
  (void)st;
  mu_job_spec_t *s = example ("serve_ctr.yaml");
  assert_string_equal (s->kind, "service");
  assert_int_equal (s->priority, 100);
  assert_int_equal (s->autoscale_min, 2);
  assert_int_equal (s->autoscale_max, 10);
  assert_int_equal (s->autoscale_target, 200);
  assert_int_equal (s->autoscale_cooldown_ms, 30000);
  /* a string command runs under /bin/sh -c */
  assert_int_equal (s->roles.v[0].argv.n, 3);
  assert_string_equal (s->roles.v[0].argv.v[0], "/bin/sh");
  assert_string_equal (s->roles.v[0].argv.v[2],
                       "exec python3 serve.py --port $MUSTER_PEER_PORT");
  wire_roundtrip (s);
  mu_job_spec_free (&s);
}

static void
test_minimal_defaults (void **st)
{
  (void)st;
  mu_job_spec_t *s
      = ok ("name: j\ncommand: [/bin/true]\nroles:\n  - replicas: 3\n");
  assert_string_equal (s->roles.v[0].name, "worker");
  assert_int_equal (s->roles.v[0].min_nodes, 3);
  assert_int_equal (s->roles.v[0].max_nodes, 3);
  assert_int_equal (s->roles.v[0].nproc, 1);
  assert_null (s->kind);
  assert_int_equal (s->priority, 0);
  mu_job_spec_free (&s);
  /* bare numbers are seconds */
  s = ok ("name: j\ncommand: x\nroles: [{}]\ngrace: 1.5\ncheckpoint: {every: "
          "90}\n");
  assert_int_equal (s->grace_ms, 1500);
  assert_int_equal (s->ckpt_every_ms, 90000);
  mu_job_spec_free (&s);
}

static void
test_errors_name_line_column_field (void **st)
{
  (void)st;
  assert_string_equal (
      bad ("name: j\ncommand: x\nroles:\n  - name: a\n  - name: b\n"
           "    replicas: x\n"),
      "t.yaml:6:15: roles[1].replicas: expected N or MIN:MAX, got \"x\"");
  assert_string_equal (
      bad ("name: j\ncommand: x\nroles:\n  - replicas: 4:2\n"),
      "t.yaml:4:15: roles[0].replicas: min 4 is greater than max 2");
  assert_string_equal (
      bad ("name: j\ncommand: x\nrolez: []\n"),
      "t.yaml:3:1: rolez: unknown field (did you mean roles?)\n"
      "t.yaml:1:1: roles: missing (a list of roles, e.g. - name: worker)");
  assert_string_equal (
      bad ("name: j\ncommand: x\nroles: [{}]\ngrace: soon\n"),
      "t.yaml:4:8: grace: expected a duration (give seconds (600), "
      "or a number with ms, s, m or h (500ms, 10m)), got \"soon\"");
  assert_string_equal (
      bad ("name: j\ncommand: x\nroles:\n  - nproc: [1]\n"),
      "t.yaml:4:12: roles[0].nproc: expected a non-negative integer, "
      "got a list");
  assert_string_equal (
      bad ("name: j\ncommand: x\nroles: [{}]\nkind: batch\n"),
      "t.yaml:4:7: kind: expected one of gang, ps, service, got \"batch\"");
  assert_string_equal (
      bad ("name: j\ncommand: x\nroles: [{}]\ncheckpoint:\n  evry: 5m\n"),
      "t.yaml:5:3: checkpoint.evry: unknown field (did you mean every?)");
  assert_string_equal (
      bad ("name: j\nroles:\n  - name: a\n  - name: a\n    command: x\n"),
      "t.yaml:3:5: roles[0]: no command (give command here or at the top)\n"
      "t.yaml:4:5: roles[1].name: \"a\" is already the name of roles[0]");
  assert_string_equal (
      bad ("name: j\ncommand: x\nroles: [{}]\nautoscale: {target: 5}\n"),
      "t.yaml:4:1: autoscale: only a service job autoscales (kind: service)");
  assert_string_equal (
      bad ("name: j/k\ncommand: x\nroles: [{}]\npriority: high\n"),
      "t.yaml:1:7: name: \"j/k\": use at most 63 of A-Z a-z 0-9 . _ -\n"
      "t.yaml:4:11: priority: expected an integer, got \"high\"");
  assert_string_equal (
      bad ("name: j\ncommand: x\nroles:\n  - labels: [zone]\n"),
      "t.yaml:4:14: roles[0].labels[0]: expected key=value, got \"zone\"");
  assert_string_equal (bad ("name: j\nname: k\ncommand: x\nroles: [{}]\n"),
                       "t.yaml:2:1: name: given twice");
}

/* spares and mpi: the two options `muster run --spares / --mpi` set. */
static void
test_spares_and_mpi (void **st)
{
  (void)st;
  mu_job_spec_t *s
      = ok ("name: j\ncommand: x\nroles: [{}]\nspares: 1\n"
            "elastic: {mode: in-place}\n");
  assert_int_equal (s->spares, 1);
  assert_false (s->mpi);
  mu_job_spec_free (&s);
  s = ok ("name: j\ncommand: x\nroles: [{}]\nmpi: true\n");
  assert_true (s->mpi);
  assert_int_equal (s->spares, 0);
  mu_job_spec_free (&s);
  assert_string_equal (
      bad ("name: j\ncommand: x\nroles: [{}]\nspares: 2\n"
           "elastic: {mode: in-place}\n"),
      "t.yaml:4:9: spares: expected 0 or 1 (spare processes per node), "
      "got 2");
  assert_string_equal (
      bad ("name: j\ncommand: x\nroles: [{}]\nspares: 1\n"),
      "t.yaml:4:9: spares: spare processes need elastic.mode in-place (a "
      "restart starts every process anew)");
  assert_string_equal (
      bad ("name: j\ncommand: x\nroles: [{}]\nmpi: yes\n"),
      "t.yaml:4:6: mpi: expected true or false, got \"yes\"");
  assert_string_equal (
      bad ("name: j\ncommand: x\nroles: [{}]\nmpi: true\n"
           "elastic: {mode: in-place}\n"),
      "t.yaml:1:1: mpi: an MPI world cannot change in place (use "
      "elastic.mode restart)");
}

static void
test_not_yaml (void **st)
{
  (void)st;
  const char *e = bad ("name: j\nroles: [\n  - x\n");
  assert_non_null (strstr (e, "t.yaml:"));
  assert_non_null (strstr (e, "not valid YAML"));
  assert_string_equal (bad ("- a\n- b\n"),
                       "t.yaml:1:1: expected a mapping of fields, got a list");
  assert_string_equal (
      bad (""), "t.yaml:1:1: empty: a job spec needs at least name and roles");
}

static void
test_missing_file (void **st)
{
  (void)st;
  mu_job_spec_t *s = NULL;
  assert_int_equal (
      mu_job_spec_yaml_load ("/nonexistent/spec.yaml", &s, err, sizeof err),
      MUSTER_ENOTFOUND);
  assert_string_equal (err,
                       "/nonexistent/spec.yaml: No such file or directory");
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_example_gang),
    cmocka_unit_test (test_example_ps),
    cmocka_unit_test (test_example_service),
    cmocka_unit_test (test_minimal_defaults),
    cmocka_unit_test (test_errors_name_line_column_field),
    cmocka_unit_test (test_spares_and_mpi),
    cmocka_unit_test (test_not_yaml),
    cmocka_unit_test (test_missing_file),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
