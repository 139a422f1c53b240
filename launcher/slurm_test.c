/*
 * slurm_test.c — reading a Slurm allocation (slurm.c): host list
 * expansion, SLURM_TASKS_PER_NODE, when `muster run` drives an allocation
 * and how it changes the options, the joiners' arguments, and an error
 * naming the variable for every malformed value.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <muster/error.h>

#include "launcher/run_opts.h"
#include "launcher/slurm.h"

static char out[4096], err[512];

static void
expands (const char *list, const char *want, size_t want_n)
{
  size_t n = 99;
  int rc
      = mu_slurm_hostlist_expand (list, out, sizeof out, &n, err, sizeof err);
  if (rc != 0)
    fail_msg ("'%s': %s", list, err);
  assert_string_equal (out, want);
  assert_int_equal (n, want_n);
}

static void
refuses (const char *list, const char *why)
{
  size_t n;
  err[0] = '\0';
  assert_int_equal (
      mu_slurm_hostlist_expand (list, out, sizeof out, &n, err, sizeof err),
      MUSTER_EINVAL);
  if (strstr (err, why) == NULL)
    fail_msg ("'%s': error '%s' does not say '%s'", list, err, why);
}

static void
test_hostlist (void **state)
{
  (void)state;
  expands ("login", "login", 1);
  expands ("sn[1-4]", "sn1,sn2,sn3,sn4", 4);
  expands ("sn[1-3,5]", "sn1,sn2,sn3,sn5", 4);
  expands ("gpu[08-11]", "gpu08,gpu09,gpu10,gpu11", 4);
  expands ("a[1,3],b,c[7-8]-ib", "a1,a3,b,c7-ib,c8-ib", 5);
  expands ("n[0098-0100]", "n0098,n0099,n0100", 3);
  expands ("x[5]", "x5", 1);
  refuses ("", "empty");
  refuses ("sn[1-4", "unclosed '['");
  refuses ("sn1-4]", "']' without '['");
  refuses ("sn[4-1]", "a range goes down");
  refuses ("sn[]", "empty brackets");
  refuses ("sn[1-]", "a range needs an end");
  refuses ("sn[a]", "expected a number or a range");
  refuses ("sn[1;2]", "expected ',' or ']'");
  refuses ("a,,b", "an empty name");
  refuses ("a,", "ends with ','");
  refuses ("r[1-2]c[1-2]", "more than one bracket group");
  refuses ("n[0-99999999]", "too many nodes");
  /* Too small a buffer is its own error, with the count. */
  size_t n;
  char small[8];
  assert_int_equal (mu_slurm_hostlist_expand ("sn[1-4]", small, sizeof small,
                                              &n, err, sizeof err),
                    -ENOSPC);
  assert_int_equal (n, 4);
}

static void
test_tasks_per_node (void **state)
{
  (void)state;
  uint32_t t = 0, nodes = 0;
  assert_int_equal (
      mu_slurm_tasks_per_node ("4(x4)", 3, &t, &nodes, err, sizeof err), 0);
  assert_int_equal (t, 4);
  assert_int_equal (nodes, 4);
  assert_int_equal (
      mu_slurm_tasks_per_node ("2(x3),1", 0, &t, &nodes, err, sizeof err), 0);
  assert_int_equal (t, 2);
  assert_int_equal (nodes, 4);
  assert_int_equal (
      mu_slurm_tasks_per_node ("2(x3),1", 3, &t, &nodes, err, sizeof err), 0);
  assert_int_equal (t, 1);
  assert_int_equal (
      mu_slurm_tasks_per_node ("1,8,3", 1, &t, &nodes, err, sizeof err), 0);
  assert_int_equal (t, 8);
  assert_int_equal (nodes, 3);
  const char *badv[][2] = {
    { "", "empty" },
    { "2(x0)", "REPEAT >= 1" },
    { "2(x3", "COUNT(xREPEAT)" },
    { "x", "expected COUNT" },
    { "2;3", "expected ',' between counts" },
    { "2,", "ends with ','" },
  };
  for (size_t i = 0; i < sizeof badv / sizeof badv[0]; i++)
    {
      assert_int_equal (
          mu_slurm_tasks_per_node (badv[i][0], 0, &t, &nodes, err, sizeof err),
          MUSTER_EINVAL);
      if (strstr (err, badv[i][1]) == NULL
          || strstr (err, "SLURM_TASKS_PER_NODE") == NULL)
        fail_msg ("'%s': '%s'", badv[i][0], err);
    }
  assert_int_equal (
      mu_slurm_tasks_per_node ("2(x3)", 3, &t, &nodes, err, sizeof err),
      MUSTER_EINVAL);
  assert_non_null (strstr (err, "describes 3 nodes, not node 3"));
}

/* A fake environment: NAME=VALUE strings. */
static const char *
fake_get (const char *name, void *arg)
{
  const char **env = arg;
  size_t l = strlen (name);
  for (; *env; env++)
    if (strncmp (*env, name, l) == 0 && (*env)[l] == '=')
      return *env + l + 1;
  return NULL;
}

static const char *batch_env[] = { "SLURM_JOB_ID=42",
                                   "SLURM_JOB_NUM_NODES=4",
                                   "SLURM_JOB_NODELIST=sn[1-4]",
                                   "SLURM_TASKS_PER_NODE=4(x4)",
                                   "SLURMD_NODENAME=sn1",
                                   NULL };

static int
parse (mu_run_opts_t *o, const char *line)
{
  static char buf[1024];
  static char *argv[64];
  int argc = 0;
  snprintf (buf, sizeof buf, "%s", line);
  for (char *t = strtok (buf, " "); t && argc < 63; t = strtok (NULL, " "))
    argv[argc++] = t;
  argv[argc] = NULL;
  return mu_run_opts_parse_in_allocation (argc, argv, o, err, sizeof err);
}

static void
test_plan (void **state)
{
  (void)state;
  mu_run_opts_t o;
  mu_slurm_plan_t p;
  assert_int_equal (parse (&o, "--ckpt-dir /ck -- ./train --lr 1"), 0);
  assert_int_equal (
      mu_slurm_plan (&o, fake_get, batch_env, "sn1", &p, err, sizeof err), 0);
  assert_true (p.active);
  assert_int_equal (p.nnodes, 4);
  assert_int_equal (p.joiners, 3);
  assert_string_equal (p.self, "sn1");
  assert_string_equal (p.first, "sn1");
  assert_string_equal (p.job, "42");
  assert_int_equal (p.restart_count, 0);
  assert_true (o.host);
  assert_string_equal (o.endpoint, "sn1:*");
  assert_int_equal (o.min_nodes, 4);
  assert_int_equal (o.max_nodes, 4);
  assert_int_equal (o.nproc, 1); /* SLURM_TASKS_PER_NODE counts CPUs here */

  /* --advertise-host names the address; --nnodes 2:3 starts 2 joiners;
   * --ntasks-per-node (SLURM_NTASKS_PER_NODE) is the default nproc; a
   * requeued job's restart count is read. */
  const char *env2[] = { "SLURM_JOB_ID=7",
                         "SLURM_NNODES=4",
                         "SLURM_NODELIST=sn[1-4]",
                         "SLURMD_NODENAME=sn2",
                         "SLURM_NTASKS_PER_NODE=2",
                         "SLURM_RESTART_COUNT=3",
                         NULL };
  assert_int_equal (parse (&o, "--nnodes 2:3 --advertise-host 10.0.0.5 prog"),
                    0);
  assert_int_equal (
      mu_slurm_plan (&o, fake_get, env2, "sn2", &p, err, sizeof err), 0);
  assert_true (p.active);
  assert_int_equal (p.joiners, 2);
  assert_int_equal (o.min_nodes, 2);
  assert_int_equal (o.max_nodes, 3);
  assert_int_equal (o.nproc, 2);
  assert_int_equal (p.restart_count, 3);
  assert_string_equal (o.endpoint, "10.0.0.5:*");
  assert_int_equal (parse (&o, "--nproc-per-node 3 --advertise-host ::1 prog"),
                    0);
  assert_int_equal (
      mu_slurm_plan (&o, fake_get, env2, "sn2", &p, err, sizeof err), 0);
  assert_int_equal (o.nproc, 3);
  assert_string_equal (o.endpoint, "[::1]:*");
}

static void
test_not_driving (void **state)
{
  (void)state;
  mu_run_opts_t o;
  mu_slurm_plan_t p;
  /* Outside Slurm, in a job step (srun ... muster run), with an endpoint,
   * --standalone, a static rendezvous, or one node: unchanged. */
  const char *none[] = { NULL };
  const char *step[] = { "SLURM_JOB_ID=42",       "SLURM_STEP_ID=0",
                         "SLURM_JOB_NUM_NODES=4", "SLURM_JOB_NODELIST=sn[1-4]",
                         "SLURMD_NODENAME=sn1",   NULL };
  const char *one[] = { "SLURM_JOB_ID=42", "SLURM_JOB_NUM_NODES=1",
                        "SLURM_JOB_NODELIST=sn1", "SLURMD_NODENAME=sn1", NULL };
  assert_false (mu_slurm_in_allocation (fake_get, none));
  assert_false (mu_slurm_in_allocation (fake_get, step));
  assert_true (mu_slurm_in_allocation (fake_get, batch_env));
  const char *lines[]
      = { "prog", "--rdzv-endpoint h:1 prog", "--standalone prog",
          "--master-addr h --nnodes 2 --node-rank 1 prog" };
  for (size_t i = 0; i < 4; i++)
    {
      assert_int_equal (parse (&o, lines[i]), 0);
      const char *host = o.endpoint;
      assert_int_equal (
          mu_slurm_plan (&o, fake_get,
                         i == 0 ? (void *)none : (void *)batch_env, "sn1", &p,
                         err, sizeof err),
          0);
      assert_false (p.active);
      assert_ptr_equal (o.endpoint, host);
    }
  assert_int_equal (parse (&o, "prog"), 0);
  assert_int_equal (
      mu_slurm_plan (&o, fake_get, step, "sn1", &p, err, sizeof err), 0);
  assert_false (p.active);
  assert_int_equal (
      mu_slurm_plan (&o, fake_get, one, "sn1", &p, err, sizeof err), 0);
  assert_false (p.active);
  assert_null (o.endpoint);
}

static void
plan_fails (const char **env, const char *line, const char *why)
{
  mu_run_opts_t o;
  mu_slurm_plan_t p;
  assert_int_equal (parse (&o, line), 0);
  err[0] = '\0';
  assert_int_equal (
      mu_slurm_plan (&o, fake_get, env, "sn1", &p, err, sizeof err),
      MUSTER_EINVAL);
  if (strstr (err, why) == NULL)
    fail_msg ("error '%s' does not say '%s'", err, why);
  assert_false (p.active);
}

static void
test_plan_errors (void **state)
{
  (void)state;
  const char *badn[] = { "SLURM_JOB_ID=1", "SLURM_JOB_NUM_NODES=four", NULL };
  plan_fails (badn, "prog", "SLURM_JOB_NUM_NODES 'four': expected a number");
  const char *non[] = { "SLURM_JOB_ID=1", NULL };
  plan_fails (non, "prog", "SLURM_JOB_NUM_NODES '': not set");
  const char *mism[] = { "SLURM_JOB_ID=1", "SLURM_JOB_NUM_NODES=3",
                         "SLURM_JOB_NODELIST=sn[1-4]", NULL };
  plan_fails (mism, "prog", "names 4 nodes, SLURM_JOB_NUM_NODES 3");
  const char *badl[] = { "SLURM_JOB_ID=1", "SLURM_JOB_NUM_NODES=4",
                         "SLURM_JOB_NODELIST=sn[1-4", NULL };
  plan_fails (badl, "prog", "host list 'sn[1-4': unclosed '['");
  const char *tpn[] = { "SLURM_JOB_ID=1",
                        "SLURM_JOB_NUM_NODES=4",
                        "SLURM_JOB_NODELIST=sn[1-4]",
                        "SLURM_TASKS_PER_NODE=1(x3)",
                        "SLURMD_NODENAME=sn1",
                        NULL };
  plan_fails (tpn, "prog", "describes 3 nodes, SLURM_JOB_NUM_NODES 4");
  /* Relaunched on a node (MUSTER_SLURM_DRIVE=1) and still no node name. */
  const char *noself[] = { "SLURM_JOB_ID=1",
                           "SLURM_STEP_ID=0",
                           "MUSTER_SLURM_DRIVE=1",
                           "SLURM_JOB_NUM_NODES=4",
                           "SLURM_JOB_NODELIST=sn[1-4]",
                           NULL };
  plan_fails (noself, "prog", "SLURMD_NODENAME");
  const char *rc[] = { "SLURM_JOB_ID=1",
                       "SLURM_JOB_NUM_NODES=4",
                       "SLURM_JOB_NODELIST=sn[1-4]",
                       "SLURMD_NODENAME=sn1",
                       "SLURM_RESTART_COUNT=-1",
                       NULL };
  plan_fails (rc, "prog", "SLURM_RESTART_COUNT '-1'");
  plan_fails (batch_env, "--standalone --nnodes 2 prog",
              "--standalone runs on this node only: --nnodes 2:2 needs the "
              "allocation");
  plan_fails (batch_env, "--nnodes 5:8 prog",
              "--nnodes 5:8 needs at least 5 nodes and the allocation has 4");
  /* A one-node allocation runs embedded, but not a gang of 2. */
  const char *one[] = { "SLURM_JOB_ID=42", "SLURM_JOB_NUM_NODES=1",
                        "SLURM_JOB_NODELIST=sn1", "SLURMD_NODENAME=sn1", NULL };
  plan_fails (one, "--nnodes 2 prog",
              "--nnodes 2:2 needs at least 2 nodes and the allocation has 1");
}

static void
test_salloc_relaunch (void **state)
{
  (void)state;
  mu_run_opts_t o;
  mu_slurm_plan_t p;
  /* An salloc shell on a login node: no SLURMD_NODENAME.  Not driven from
   * here: relaunched on the first node, options unchanged. */
  const char *salloc[] = { "SLURM_JOB_ID=9", "SLURM_JOB_NUM_NODES=2",
                           "SLURM_NODELIST=sn[3-4]", NULL };
  assert_int_equal (parse (&o, "--nproc-per-node 2 prog"), 0);
  assert_int_equal (
      mu_slurm_plan (&o, fake_get, salloc, "login", &p, err, sizeof err), 0);
  assert_false (p.active);
  assert_true (p.relaunch);
  assert_string_equal (p.first, "sn3");
  assert_string_equal (p.job, "9");
  assert_null (o.endpoint);
  assert_false (o.host);
  assert_int_equal (o.min_nodes, 1);
  /* There, in the step of one task the relaunch made, it drives. */
  const char *step[] = {
    "SLURM_JOB_ID=9",        "SLURM_STEP_ID=0",        "MUSTER_SLURM_DRIVE=1",
    "SLURM_JOB_NUM_NODES=2", "SLURM_NNODES=1",         "SLURM_NODELIST=sn[3-4]",
    "SLURMD_NODENAME=sn3",   "SLURM_TASKS_PER_NODE=1", NULL
  };
  assert_true (mu_slurm_in_allocation (fake_get, step));
  assert_int_equal (parse (&o, "--nproc-per-node 2 prog"), 0);
  assert_int_equal (
      mu_slurm_plan (&o, fake_get, step, "sn3", &p, err, sizeof err), 0);
  assert_true (p.active);
  assert_false (p.relaunch);
  assert_int_equal (p.joiners, 1);
  assert_int_equal (o.max_nodes, 2);
  /* Any other value of the variable does not count. */
  const char *other[]
      = { "SLURM_JOB_ID=9", "SLURM_STEP_ID=0", "MUSTER_SLURM_DRIVE=yes", NULL };
  assert_false (mu_slurm_in_allocation (fake_get, other));
}

static void
test_child_args (void **state)
{
  (void)state;
  mu_run_opts_t o;
  mu_slurm_plan_t p;
  static char *argv[] = { "--nproc_per_node=2",
                          "--host",
                          "--advertise-host",
                          "a",
                          "--node_id=x",
                          "--join-token-file",
                          "/f",
                          "--ckpt-dir",
                          "/ck",
                          "--standalone",
                          "--",
                          "./train",
                          "--host",
                          NULL };
  /* (--standalone would disable the plan; parse without it) */
  static char *pargv[] = {
    "--nproc_per_node=2", "--ckpt-dir", "/ck", "--", "./train", "--host", NULL
  };
  assert_int_equal (
      mu_run_opts_parse_in_allocation (6, pargv, &o, err, sizeof err), 0);
  assert_int_equal (
      mu_slurm_plan (&o, fake_get, batch_env, "sn1", &p, err, sizeof err), 0);
  /* The options are argv's, the program o.argv's. */
  o.argv = argv + 11;
  o.argc = 2;
  char **v = mu_slurm_child_args (&p, &o, argv, 11, "tcp://sn1:4242", "job-1");
  assert_non_null (v);
  const char *want[] = { "run",
                         "--rdzv-endpoint",
                         "tcp://sn1:4242",
                         "--rdzv-id",
                         "job-1",
                         "--nnodes",
                         "4:4",
                         "--nproc_per_node=2",
                         "--ckpt-dir",
                         "/ck",
                         "--",
                         "./train",
                         "--host",
                         NULL };
  for (size_t i = 0; want[i] || v[i]; i++)
    {
      if (want[i] == NULL || v[i] == NULL)
        fail_msg ("argument %zu: want %s, got %s", i, want[i] ? want[i] : "end",
                  v[i] ? v[i] : "end");
      assert_string_equal (v[i], want[i]);
    }
  free (v);
}

int
main (void)
{
  /* clang-format off */
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_hostlist),
    cmocka_unit_test (test_tasks_per_node),
    cmocka_unit_test (test_plan),
    cmocka_unit_test (test_not_driving),
    cmocka_unit_test (test_plan_errors),
    cmocka_unit_test (test_salloc_relaunch),
    cmocka_unit_test (test_child_args),
  };
  /* clang-format on */
  return cmocka_run_group_tests (tests, NULL, NULL);
}
