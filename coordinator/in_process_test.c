/*
 * in_process_test.c — the agent on the coordinator's own loop (muster
 * run, mu_coord_in_process_node) is never declared lost for silence,
 * while any other node silent past the limit is; a node that only claims
 * the in-process node's id (from another pid) is judged like any other.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <muster/error.h>

#include "common/util.h"
#include "coordinator/auth.h"
#include "coordinator/coord.h"

static void
reg (mu_coord_t *c, const char *id, uint64_t pid, unsigned char route)
{
  mu_route_t from;
  memset (&from, 0, sizeof from);
  from.id[0] = route;
  from.len = 1;
  mu_principal_t who;
  memset (&who, 0, sizeof who);
  who.kind = MU_PRIN_NODE;
  who.pub = "";
  mu_reg_t r;
  memset (&r, 0, sizeof r);
  r.node_id = (char *)id;
  r.host = (char *)"127.0.0.1";
  r.slots = 1;
  r.pid = pid;
  assert_int_equal (mu_nodes_register (c, &from, &who, &r), 0);
}

static mu_node_t *
node (mu_coord_t *c, const char *id)
{
  mu_node_t *n = mu_smap_get (c->node_ids, id);
  return n != NULL && n->alive ? n : NULL;
}

static void
test_in_process_node_is_never_lost (void **state)
{
  (void)state;
  uv_loop_t loop;
  uv_loop_init (&loop);
  mu_log_t log;
  mu_log_init (&log, "musterd");
  log.level = (mu_log_level_t)(MU_LOG_ERR - 1); /* quiet */
  mu_coord_opts_t o = { .agent_bind = "tcp://127.0.0.1:*", .insecure = 1,
                        .log = &log };
  mu_coord_t *c = NULL;
  assert_int_equal (mu_coord_new (&o, &c), 0);
  assert_int_equal (mu_coord_start (c, &loop), 0);
  char long_id[300];
  memset (long_id, 'x', sizeof long_id - 1);
  long_id[sizeof long_id - 1] = '\0';
  assert_int_equal (mu_coord_in_process_node (c, long_id, NULL), MUSTER_EINVAL);
  assert_int_equal (mu_coord_in_process_node (c, "local", NULL), 0);
  reg (c, "local", (uint64_t)getpid (), 1);
  reg (c, "remote", (uint64_t)getpid () + 1, 2);
  assert_non_null (node (c, "local"));
  assert_true (node (c, "local")->in_process);
  assert_false (node (c, "remote")->in_process);
  /* Both silent for ten seconds: only the other node is lost. */
  uint64_t now = mu_now_ms () + 10000;
  c->last_sweep_ms = now - 1;
  mu_nodes_sweep (c, now);
  assert_non_null (node (c, "local"));
  assert_null (node (c, "remote"));
  mu_coord_stop (c);
  uv_run (&loop, UV_RUN_DEFAULT);
  mu_coord_destroy (&c);
  assert_int_equal (uv_loop_close (&loop), 0);
}

static void
test_the_id_alone_is_not_enough (void **state)
{
  (void)state;
  uv_loop_t loop;
  uv_loop_init (&loop);
  mu_log_t log;
  mu_log_init (&log, "musterd");
  log.level = (mu_log_level_t)(MU_LOG_ERR - 1);
  mu_coord_opts_t o = { .agent_bind = "tcp://127.0.0.1:*", .insecure = 1,
                        .log = &log };
  mu_coord_t *c = NULL;
  assert_int_equal (mu_coord_new (&o, &c), 0);
  assert_int_equal (mu_coord_start (c, &loop), 0);
  assert_int_equal (mu_coord_in_process_node (c, "local", NULL), 0);
  /* Another process registering under that id is an ordinary node. */
  reg (c, "local", (uint64_t)getpid () + 7, 3);
  assert_false (node (c, "local")->in_process);
  uint64_t now = mu_now_ms () + 10000; /* silent for ten seconds */
  c->last_sweep_ms = now - 1;
  mu_nodes_sweep (c, now);
  assert_null (node (c, "local"));
  mu_coord_stop (c);
  uv_run (&loop, UV_RUN_DEFAULT);
  mu_coord_destroy (&c);
  assert_int_equal (uv_loop_close (&loop), 0);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_in_process_node_is_never_lost),
    cmocka_unit_test (test_the_id_alone_is_not_enough),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
