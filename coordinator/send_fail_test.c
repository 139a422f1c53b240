/*
 * send_fail_test.c — a command the coordinator cannot send does not leave
 * its node waiting.  Two agents (real DEALER sockets) bring a 2-node job;
 * the coordinator's test seam (c->fault_send_type/node: the send fails as
 * an allocation would) makes n2's job.start fail.  n2 must be marked
 * unreachable, declared lost on the next loop turn, the job must recover
 * from the loss (charged to the infrastructure budget), and n2's agent,
 * on its next message, must hear that it is unknown (so it registers
 * again) — not wait for a start that never comes.  A reply that cannot be
 * sent (a heartbeat's) is counted and logged, and costs no node.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>
#include <zmq.h>

#include <muster/error.h>

#include "common/util.h"
#include "coordinator/coord.h"

typedef struct agent {
  void *sock;
  const char *id;
} agent_t;

static void
turn (uv_loop_t *loop)
{
  uv_run (loop, UV_RUN_NOWAIT);
  struct timespec ts = { 0, 5 * 1000 * 1000 };
  nanosleep (&ts, NULL);
}

static void
agent_open (agent_t *a, void *ctx, const char *ep, const char *id)
{
  a->id = id;
  a->sock = zmq_socket (ctx, ZMQ_DEALER);
  int linger = 0;
  zmq_setsockopt (a->sock, ZMQ_LINGER, &linger, sizeof linger);
  assert_int_equal (zmq_connect (a->sock, ep), 0);
}

static void
agent_register (agent_t *a, mu_job_spec_t *spec)
{
  mu_msg_t m;
  memset (&m, 0, sizeof m);
  m.type = MU_MSG_REGISTER;
  m.u.reg.node_id = (char *)a->id;
  m.u.reg.host = (char *)"127.0.0.1";
  m.u.reg.slots = 1;
  m.u.reg.pid = 1;
  m.u.reg.job = spec;
  assert_int_equal (mu_wire_send (a->sock, NULL, &m), 0);
}

static void
agent_heartbeat (agent_t *a)
{
  mu_msg_t m;
  memset (&m, 0, sizeof m);
  m.type = MU_MSG_HEARTBEAT;
  m.u.heartbeat.node_id = (char *)a->id;
  m.u.heartbeat.seq = 1;
  assert_int_equal (mu_wire_send (a->sock, NULL, &m), 0);
}

/* Turn the loop until the agent receives a message of `type` (up to 10 s
 * of turns); 1 if it did.  Messages of other types are skipped. */
static int
agent_wait (uv_loop_t *loop, agent_t *a, mu_msg_type_t type, mu_msg_t *out)
{
  for (int i = 0; i < 2000; i++)
    {
      turn (loop);
      mu_msg_t m;
      char err[128];
      while (mu_wire_recv (a->sock, NULL, &m, err, sizeof err) == 0)
        {
          if (m.type == type)
            {
              *out = m;
              return 1;
            }
          mu_msg_clear (&m);
        }
    }
  return 0;
}

static mu_node_t *
node (mu_coord_t *c, const char *id)
{
  mu_node_t *n = mu_smap_get (c->node_ids, id);
  return n != NULL && n->alive ? n : NULL;
}

static void
test_unsendable_start_loses_the_node (void **state)
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
  c->fault_send_type = MU_MSG_START;
  strcpy (c->fault_send_node, "n2");

  mu_role_spec_t role = { .name = (char *)"worker", .min_nodes = 2,
                          .max_nodes = 2, .nproc = 1 };
  char *argv[] = { (char *)"/bin/true" };
  mu_job_spec_t spec;
  memset (&spec, 0, sizeof spec);
  spec.id = (char *)"sendfail";
  spec.roles.v = &role;
  spec.roles.n = 1;
  spec.argv.v = argv;
  spec.argv.n = 1;
  spec.max_restarts = 3;

  void *ctx = zmq_ctx_new ();
  agent_t a1, a2;
  agent_open (&a1, ctx, mu_coord_agent_endpoint (c), "n1");
  agent_open (&a2, ctx, mu_coord_agent_endpoint (c), "n2");
  agent_register (&a1, &spec);
  agent_register (&a2, &spec);

  /* n1 gets its job.start; n2's could not be sent. */
  mu_msg_t m;
  assert_true (agent_wait (&loop, &a1, MU_MSG_START, &m));
  assert_int_equal (m.u.start.epoch, 1);
  mu_msg_clear (&m);
  mu_job_t *j = mu_smap_get (c->jobs, "sendfail");
  assert_non_null (j);
  assert_true (c->sends_failed >= 1);
  /* n2 is lost (next loop turn) and the job recovers from the loss:
   * n1 is told to stop its epoch. */
  assert_true (agent_wait (&loop, &a1, MU_MSG_STOP, &m));
  assert_true (m.u.stop.recover);
  mu_msg_clear (&m);
  assert_null (node (c, "n2"));
  assert_non_null (node (c, "n1"));
  assert_int_equal (j->infra_failures, 1);
  assert_int_equal (j->user_failures, 0);
  assert_int_equal (j->restarts, 1);
  assert_int_equal (j->state, MU_JOB_RECOVERING);
  /* n2's agent is not left waiting: its next message is answered
   * "unknown", which makes an agent register again. */
  agent_heartbeat (&a2);
  assert_true (agent_wait (&loop, &a2, MU_MSG_ERROR, &m));
  assert_int_equal (m.u.error.code, MUSTER_ENOTFOUND);
  mu_msg_clear (&m);

  /* A reply that cannot be sent is counted, and costs no node. */
  uint64_t before = c->sends_failed;
  c->fault_send_type = MU_MSG_HEARTBEAT;
  strcpy (c->fault_send_node, "n1");
  agent_heartbeat (&a1);
  for (int i = 0; i < 2000 && c->sends_failed == before; i++)
    turn (&loop);
  assert_int_equal (c->sends_failed, before + 1);
  for (int i = 0; i < 10; i++)
    turn (&loop);
  assert_non_null (node (c, "n1"));
  assert_false (node (c, "n1")->unreachable);

  zmq_close (a1.sock);
  zmq_close (a2.sock);
  zmq_ctx_term (ctx);
  mu_coord_stop (c);
  uv_run (&loop, UV_RUN_DEFAULT);
  mu_coord_destroy (&c);
  assert_int_equal (uv_loop_close (&loop), 0);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_unsendable_start_loses_the_node),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
