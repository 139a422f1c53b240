/*
 * env_test.c — tests of env.c: the environment of a worker built from a
 * hand-made job.start (2 nodes x 2 workers, roles "worker" and "ps"),
 * checking every variable, the precedence base < spec < muster, that no key
 * appears twice, the exact text of TF_CONFIG (role-rank order, JSON
 * escaping, IPv6 hosts), the DMLC_* variables, and the refusals of
 * inconsistent messages.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "muster/error.h"
#include "worker/env.h"

/* ---------------------------------------------------------------- fixture */

typedef struct job {
  mu_role_spec_t spec_roles[2];
  char *env_keys[3], *env_vals[3];
  mu_job_spec_t spec;
  mu_peer_node_t nodes[2];
  mu_role_world_t roles[2];
  mu_assign_t assign[2];
  mu_start_t start;
} job_t;

/* Node A (node rank 0) runs workers 0,1 of role "worker"; node B (node
 * rank 1) runs ranks 2,3 = ps 0,1.  The start is node B's. */
static void
job_init (job_t *j)
{
  memset (j, 0, sizeof *j);
  j->spec_roles[0] = (mu_role_spec_t){ "worker", 1, 1, 2 };
  j->spec_roles[1] = (mu_role_spec_t){ "ps", 1, 1, 2 };
  j->env_keys[0] = "FOO";
  j->env_vals[0] = "from-spec";
  j->env_keys[1] = "RANK"; /* muster's wins */
  j->env_vals[1] = "99";
  j->env_keys[2] = "HOME"; /* wins over the base */
  j->env_vals[2] = "/spec-home";
  j->spec.id = "job-1";
  j->spec.roles.v = j->spec_roles;
  j->spec.roles.n = 2;
  j->spec.env.keys = j->env_keys;
  j->spec.env.vals = j->env_vals;
  j->spec.env.n = 3;
  j->spec.ckpt_dir = "/ckpt/job-1";
  /* listed out of node order on purpose */
  j->nodes[0] = (mu_peer_node_t){ .node_id = "node-b",
                                  .host = "10.0.0.2",
                                  .role = "ps",
                                  .node_rank = 1,
                                  .first_rank = 2,
                                  .role_first_rank = 0,
                                  .nproc = 2,
                                  .port_base = 30000 };
  j->nodes[1] = (mu_peer_node_t){ .node_id = "node-a",
                                  .host = "10.0.0.1",
                                  .role = "worker",
                                  .node_rank = 0,
                                  .first_rank = 0,
                                  .role_first_rank = 0,
                                  .nproc = 2,
                                  .port_base = 29500 };
  j->roles[0] = (mu_role_world_t){ "worker", 2, 1 };
  j->roles[1] = (mu_role_world_t){ "ps", 2, 1 };
  j->assign[0] = (mu_assign_t){ 2, 0, "ps", 0 };
  j->assign[1] = (mu_assign_t){ 3, 1, "ps", 1 };
  mu_start_t *s = &j->start;
  s->job = "job-1";
  s->epoch = 3;
  s->restart_count = 1;
  s->max_restarts = 5;
  s->world = 4;
  s->node_rank = 1;
  s->nnodes = 2;
  s->master_addr = "10.0.0.1";
  s->master_port = 29400;
  s->assign.v = j->assign;
  s->assign.n = 2;
  s->nodes.v = j->nodes;
  s->nodes.n = 2;
  s->roles.v = j->roles;
  s->roles.n = 2;
  s->spec = &j->spec;
}

static char *base_env[] = { "PATH=/bin",  "FOO=from-base", "HOME=/root",
                            "RANK=7",     "NOEQUALS",      "PATH=/dup",
                            "KEEP=a=b=c", "MUSTER_EPOCH=0", NULL };

static size_t
env_count (char **envp)
{
  size_t n = 0;
  while (envp[n])
    n++;
  return n;
}

/* Every key at most once. */
static void
assert_no_dups (char **envp)
{
  for (size_t i = 0; envp[i]; i++)
    {
      const char *eq = strchr (envp[i], '=');
      assert_non_null (eq);
      size_t kl = (size_t) (eq - envp[i]);
      for (size_t k = i + 1; envp[k]; k++)
        if (strncmp (envp[i], envp[k], kl) == 0 && envp[k][kl] == '=')
          fail_msg ("duplicate key in %s and %s", envp[i], envp[k]);
    }
}

#define ENV_IS(envp, key, val)                                                 \
  do                                                                           \
    {                                                                          \
      const char *v_ = mu_env_get (envp, key);                                 \
      if (!v_)                                                                 \
        fail_msg ("%s is not set", key);                                       \
      assert_string_equal (v_, val);                                           \
    }                                                                          \
  while (0)

/* ------------------------------------------------------------------ tests */

static void
test_ps_worker_env (void **state)
{
  (void) state;
  job_t j;
  job_init (&j);
  mu_env_extra_t x = { .node_id = "node-b",
                       .agent_endpoint = "ipc:///tmp/muster/a.sock",
                       .base_env = base_env };
  char **envp = NULL;
  assert_int_equal (mu_env_build (&j.start, 1, &x, &envp), 0);
  assert_non_null (envp);
  assert_no_dups (envp);

  /* torchrun's */
  ENV_IS (envp, "RANK", "3");
  ENV_IS (envp, "LOCAL_RANK", "1");
  ENV_IS (envp, "WORLD_SIZE", "4");
  ENV_IS (envp, "LOCAL_WORLD_SIZE", "2");
  ENV_IS (envp, "GROUP_RANK", "1");
  ENV_IS (envp, "GROUP_WORLD_SIZE", "2");
  ENV_IS (envp, "ROLE_NAME", "ps");
  ENV_IS (envp, "ROLE_RANK", "1");
  ENV_IS (envp, "ROLE_WORLD_SIZE", "2");
  ENV_IS (envp, "MASTER_ADDR", "10.0.0.1");
  ENV_IS (envp, "MASTER_PORT", "29400");
  ENV_IS (envp, "TORCHELASTIC_RESTART_COUNT", "1");
  ENV_IS (envp, "TORCHELASTIC_MAX_RESTARTS", "5");
  ENV_IS (envp, "TORCHELASTIC_RUN_ID", "job-1");
  ENV_IS (envp, "TORCHELASTIC_USE_AGENT_STORE", "False");
  /* muster's */
  ENV_IS (envp, "MUSTER_JOB_ID", "job-1");
  ENV_IS (envp, "MUSTER_ROLE", "ps");
  ENV_IS (envp, "MUSTER_RANK", "3");
  ENV_IS (envp, "MUSTER_LOCAL_RANK", "1");
  ENV_IS (envp, "MUSTER_WORLD_SIZE", "4");
  ENV_IS (envp, "MUSTER_ROLE_RANK", "1");
  ENV_IS (envp, "MUSTER_ROLE_WORLD_SIZE", "2");
  ENV_IS (envp, "MUSTER_NODE_RANK", "1");
  ENV_IS (envp, "MUSTER_NNODES", "2");
  ENV_IS (envp, "MUSTER_EPOCH", "3");
  ENV_IS (envp, "MUSTER_RESTART_COUNT", "1");
  ENV_IS (envp, "MUSTER_NODE_ID", "node-b");
  ENV_IS (envp, "MUSTER_AGENT_ENDPOINT", "ipc:///tmp/muster/a.sock");
  ENV_IS (envp, "MUSTER_PEER_PORT", "30001");
  ENV_IS (envp, "MUSTER_CKPT_DIR", "/ckpt/job-1");
  /* parameter server */
  ENV_IS (envp, "TF_CONFIG",
          "{\"cluster\":{\"worker\":[\"10.0.0.1:29500\",\"10.0.0.1:29501\"],"
          "\"ps\":[\"10.0.0.2:30000\",\"10.0.0.2:30001\"]},"
          "\"task\":{\"type\":\"ps\",\"index\":1}}");
  ENV_IS (envp, "DMLC_ROLE", "server");
  ENV_IS (envp, "DMLC_PS_ROOT_URI", "10.0.0.1");
  ENV_IS (envp, "DMLC_PS_ROOT_PORT", "29400");
  ENV_IS (envp, "DMLC_NUM_SERVER", "2");
  ENV_IS (envp, "DMLC_NUM_WORKER", "2");
  ENV_IS (envp, "DMLC_NODE_HOST", "10.0.0.2");

  /* precedence: base < spec < muster; first of duplicate base keys */
  ENV_IS (envp, "PATH", "/bin");
  ENV_IS (envp, "FOO", "from-spec");
  ENV_IS (envp, "HOME", "/spec-home");
  ENV_IS (envp, "KEEP", "a=b=c");
  assert_null (mu_env_get (envp, "NOEQUALS"));
  /* base: PATH KEEP; spec: FOO HOME; muster: 30 + TF_CONFIG + 6 DMLC */
  assert_int_equal (env_count (envp), 2 + 2 + 30 + 1 + 6);
  /* order: base, then spec, then muster */
  assert_string_equal (envp[0], "PATH=/bin");
  assert_string_equal (envp[1], "KEEP=a=b=c");
  assert_string_equal (envp[2], "FOO=from-spec");
  assert_string_equal (envp[3], "HOME=/spec-home");
  assert_string_equal (envp[4], "RANK=3");
  mu_env_free (&envp);
  assert_null (envp);
  mu_env_free (&envp); /* accepts NULL */
  mu_env_free (NULL);
}

/* Node A's first worker; defaults for everything in `x`. */
static void
test_worker_defaults (void **state)
{
  (void) state;
  job_t j;
  job_init (&j);
  j.assign[0] = (mu_assign_t){ 0, 0, "worker", 0 };
  j.assign[1] = (mu_assign_t){ 1, 1, "worker", 1 };
  j.start.node_rank = 0;
  j.spec.ckpt_dir = NULL;
  j.spec.env.n = 0;
  mu_env_extra_t x = { .base_env = base_env };
  char **envp = NULL;
  assert_int_equal (mu_env_build (&j.start, 0, &x, &envp), 0);
  assert_no_dups (envp);
  ENV_IS (envp, "RANK", "0");
  ENV_IS (envp, "ROLE_NAME", "worker");
  ENV_IS (envp, "MUSTER_NODE_ID", "node-a"); /* from the node entry */
  ENV_IS (envp, "MUSTER_PEER_PORT", "29500");
  assert_null (mu_env_get (envp, "MUSTER_AGENT_ENDPOINT"));
  assert_null (mu_env_get (envp, "MUSTER_CKPT_DIR"));
  ENV_IS (envp, "FOO", "from-base");
  ENV_IS (envp, "HOME", "/root");
  ENV_IS (envp, "TF_CONFIG",
          "{\"cluster\":{\"worker\":[\"10.0.0.1:29500\",\"10.0.0.1:29501\"],"
          "\"ps\":[\"10.0.0.2:30000\",\"10.0.0.2:30001\"]},"
          "\"task\":{\"type\":\"worker\",\"index\":0}}");
  ENV_IS (envp, "DMLC_ROLE", "worker");
  ENV_IS (envp, "DMLC_NODE_HOST", "10.0.0.1");
  mu_env_free (&envp);

  /* peer_port override */
  x.peer_port = 4242;
  assert_int_equal (mu_env_build (&j.start, 1, &x, &envp), 0);
  ENV_IS (envp, "MUSTER_PEER_PORT", "4242");
  ENV_IS (envp, "LOCAL_RANK", "1");
  mu_env_free (&envp);

  /* x == NULL: base is environ */
  setenv ("MU_ENV_TEST_MARK", "yes", 1);
  assert_int_equal (mu_env_build (&j.start, 0, NULL, &envp), 0);
  ENV_IS (envp, "MU_ENV_TEST_MARK", "yes");
  assert_no_dups (envp);
  mu_env_free (&envp);
}

/* Without a role named "ps" there is no TF_CONFIG and no DMLC_*. */
static void
test_no_ps (void **state)
{
  (void) state;
  job_t j;
  job_init (&j);
  j.roles[1].name = "trainer";
  j.nodes[0].role = "trainer";
  j.spec_roles[1].name = "trainer";
  j.assign[0].role = "trainer";
  j.assign[1].role = "trainer";
  char *empty[] = { NULL };
  mu_env_extra_t x = { .base_env = empty };
  char **envp = NULL;
  assert_int_equal (mu_env_build (&j.start, 0, &x, &envp), 0);
  ENV_IS (envp, "ROLE_NAME", "trainer");
  assert_null (mu_env_get (envp, "TF_CONFIG"));
  assert_null (mu_env_get (envp, "DMLC_ROLE"));
  /* spec FOO HOME (RANK is muster's) + 29 of muster's (no endpoint) */
  assert_int_equal (env_count (envp), 2 + 29);
  mu_env_free (&envp);

  /* a "ps" role only in the spec still makes it a PS job */
  j.spec_roles[1].name = "ps";
  assert_int_equal (mu_env_build (&j.start, 0, &x, &envp), 0);
  assert_non_null (mu_env_get (envp, "TF_CONFIG"));
  ENV_IS (envp, "DMLC_NUM_SERVER", "0");
  ENV_IS (envp, "DMLC_NUM_WORKER", "4");
  mu_env_free (&envp);
}

/* Role-rank order across several nodes listed out of order, a scheduler,
 * an IPv6 host and a role name that needs JSON escaping. */
static void
test_tf_config_order_and_escaping (void **state)
{
  (void) state;
  mu_peer_node_t nodes[] = {
    { .node_id = "n3", .host = "h3", .role = "worker", .node_rank = 3,
      .first_rank = 5, .role_first_rank = 3, .nproc = 1, .port_base = 300 },
    { .node_id = "n1", .host = "fe80::1", .role = "worker", .node_rank = 1,
      .first_rank = 1, .role_first_rank = 0, .nproc = 2, .port_base = 100 },
    { .node_id = "n0", .host = "sch", .role = "scheduler", .node_rank = 0,
      .first_rank = 0, .role_first_rank = 0, .nproc = 1, .port_base = 50 },
    { .node_id = "n2", .host = "h2", .role = "worker", .node_rank = 2,
      .first_rank = 3, .role_first_rank = 2, .nproc = 1, .port_base = 200 },
    { .node_id = "n4", .host = "h4", .role = "p\"s\\\n", .node_rank = 4,
      .first_rank = 4, .role_first_rank = 0, .nproc = 1, .port_base = 400 },
    { .node_id = "n5", .host = "h5", .role = "ps", .node_rank = 5,
      .first_rank = 6, .role_first_rank = 0, .nproc = 1, .port_base = 500 },
  };
  mu_role_world_t roles[] = { { "scheduler", 1, 1 },
                              { "worker", 4, 3 },
                              { "p\"s\\\n", 1, 1 },
                              { "ps", 1, 1 },
                              { "idle", 0, 0 } };
  mu_assign_t assign[] = { { 4, 0, "p\"s\\\n", 0 } };
  mu_start_t s = { 0 };
  s.job = "j\"x";
  s.world = 7;
  s.nnodes = 6;
  s.node_rank = 4;
  s.master_addr = "sch";
  s.master_port = 9;
  s.assign.v = assign;
  s.assign.n = 1;
  s.nodes.v = nodes;
  s.nodes.n = 6;
  s.roles.v = roles;
  s.roles.n = 5;
  char *empty[] = { NULL };
  mu_env_extra_t x = { .base_env = empty };
  char **envp = NULL;
  assert_int_equal (mu_env_build (&s, 0, &x, &envp), 0);
  ENV_IS (envp, "TF_CONFIG",
          "{\"cluster\":{\"scheduler\":[\"sch:50\"],"
          "\"worker\":[\"[fe80::1]:100\",\"[fe80::1]:101\",\"h2:200\","
          "\"h3:300\"],"
          "\"p\\\"s\\\\\\n\":[\"h4:400\"],"
          "\"ps\":[\"h5:500\"]},"
          "\"task\":{\"type\":\"p\\\"s\\\\\\n\",\"index\":0}}");
  ENV_IS (envp, "DMLC_ROLE", "worker");
  ENV_IS (envp, "DMLC_NUM_SERVER", "1");
  ENV_IS (envp, "DMLC_NUM_WORKER", "5"); /* worker 4 + the odd role 1 */
  ENV_IS (envp, "DMLC_NODE_HOST", "h4");
  ENV_IS (envp, "MUSTER_JOB_ID", "j\"x"); /* env values are raw */
  assert_null (mu_env_get (envp, "MUSTER_CKPT_DIR")); /* no spec at all */
  mu_env_free (&envp);

  /* the scheduler keeps its name */
  assign[0] = (mu_assign_t){ 0, 0, "scheduler", 0 };
  assert_int_equal (mu_env_build (&s, 0, &x, &envp), 0);
  ENV_IS (envp, "DMLC_ROLE", "scheduler");
  ENV_IS (envp, "DMLC_NODE_HOST", "sch");
  ENV_IS (envp, "MUSTER_PEER_PORT", "50");
  mu_env_free (&envp);
}

static void
test_refusals (void **state)
{
  (void) state;
  job_t j;
  job_init (&j);
  char *empty[] = { NULL };
  mu_env_extra_t x = { .base_env = empty };
  char **envp = (char **) empty; /* must be reset */
  assert_int_equal (mu_env_build (&j.start, 2, &x, &envp), MUSTER_EINVAL);
  assert_null (envp);
  assert_int_equal (mu_env_build (NULL, 0, &x, &envp), MUSTER_EINVAL);
  assert_int_equal (mu_env_build (&j.start, 0, &x, NULL), MUSTER_EINVAL);

  j.assign[0].rank = 17; /* on no node */
  assert_int_equal (mu_env_build (&j.start, 0, &x, &envp), MUSTER_EINVAL);
  job_init (&j);
  j.assign[0].role = "nobody"; /* not in start->roles */
  assert_int_equal (mu_env_build (&j.start, 0, &x, &envp), MUSTER_EINVAL);
  job_init (&j);
  j.env_keys[0] = "BAD=KEY";
  assert_int_equal (mu_env_build (&j.start, 0, &x, &envp), MUSTER_EINVAL);
  j.env_keys[0] = "";
  assert_int_equal (mu_env_build (&j.start, 0, &x, &envp), MUSTER_EINVAL);
  job_init (&j);
  j.start.master_addr = NULL;
  assert_int_equal (mu_env_build (&j.start, 0, &x, &envp), MUSTER_EINVAL);
  assert_null (envp);
}

/* Duplicate keys inside the spec map: the first one wins. */
static void
test_spec_duplicates (void **state)
{
  (void) state;
  job_t j;
  job_init (&j);
  j.env_keys[1] = "FOO";
  j.env_vals[1] = "second";
  char *empty[] = { NULL };
  mu_env_extra_t x = { .base_env = empty };
  char **envp = NULL;
  assert_int_equal (mu_env_build (&j.start, 0, &x, &envp), 0);
  assert_no_dups (envp);
  ENV_IS (envp, "FOO", "from-spec");
  mu_env_free (&envp);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_ps_worker_env),
    cmocka_unit_test (test_worker_defaults),
    cmocka_unit_test (test_no_ps),
    cmocka_unit_test (test_tf_config_order_and_escaping),
    cmocka_unit_test (test_refusals),
    cmocka_unit_test (test_spec_duplicates),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
