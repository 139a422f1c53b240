/*
 * conn_limit_test.c — the connection counter behind the coordinator's
 * CONN-LIMIT line and the ZAP hook: accepted and closed connections move
 * the count, mu_conn_admit says no (MUSTER_EQUOTA, counted) only above
 * the maximum, a close never underflows, the default maximum follows the
 * descriptor limit; and a real ROUTER's monitor counts a TCP connection.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <sys/resource.h>
#include <cmocka.h>
#include <zmq.h>

#include <muster/error.h>

#include "common/util.h"
#include "coordinator/conn_limit.h"

static void
test_admit (void **state)
{
  (void)state;
  mu_log_t log;
  mu_log_init (&log, "conn_limit_test");
  log.level = MU_LOG_ERR; /* the CONN-LIMIT warning is not the point */
  mu_conn_limit_t l;
  mu_conn_limit_init (&l, 2);
  mu_conn_accepted (&l, &log, "agent");
  assert_int_equal (mu_conn_admit (&l), 0);
  mu_conn_accepted (&l, &log, "agent");
  assert_int_equal (mu_conn_admit (&l), 0); /* 2 of 2 */
  mu_conn_accepted (&l, &log, "control");
  assert_int_equal (mu_conn_admit (&l), MUSTER_EQUOTA);
  assert_int_equal (l.refused, 1);
  assert_int_equal (l.peak, 3);
  mu_conn_closed (&l);
  assert_int_equal (mu_conn_admit (&l), 0);
  mu_conn_closed (&l);
  mu_conn_closed (&l);
  mu_conn_closed (&l); /* one more than opened: no underflow */
  assert_int_equal (l.open, 0);
  mu_conn_handshake_dropped (&l, &log, "agent");
  mu_conn_handshake_dropped (&l, &log, "agent");
  assert_int_equal (l.handshake_dropped, 2);
}

static void
test_default_max (void **state)
{
  (void)state;
  struct rlimit rl;
  assert_int_equal (getrlimit (RLIMIT_NOFILE, &rl), 0);
  mu_conn_limit_t l;
  mu_conn_limit_init (&l, 0);
  if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur > 2 * MU_CONN_FD_RESERVE)
    assert_int_equal (l.max, rl.rlim_cur - MU_CONN_FD_RESERVE);
  assert_true (l.max > 0);
}

static void
test_monitor_counts (void **state)
{
  (void)state;
  mu_log_t log;
  mu_log_init (&log, "conn_limit_test");
  log.level = MU_LOG_ERR;
  uv_loop_t loop;
  uv_loop_init (&loop);
  void *ctx = zmq_ctx_new ();
  void *router = zmq_socket (ctx, ZMQ_ROUTER);
  void *dealer = zmq_socket (ctx, ZMQ_DEALER);
  int linger = 0;
  zmq_setsockopt (router, ZMQ_LINGER, &linger, sizeof linger);
  zmq_setsockopt (dealer, ZMQ_LINGER, &linger, sizeof linger);
  assert_int_equal (zmq_bind (router, "tcp://127.0.0.1:*"), 0);
  char ep[256];
  size_t len = sizeof ep;
  zmq_getsockopt (router, ZMQ_LAST_ENDPOINT, ep, &len);
  mu_conn_limit_t l;
  mu_conn_limit_init (&l, 10);
  mu_conn_watch_t *w = NULL;
  assert_int_equal (mu_conn_watch_start (&loop, ctx, router, "agent", &l,
                                         &log, &w), 0);
  assert_int_equal (zmq_connect (dealer, ep), 0);
  /* bounded: up to 10 s of loop turns for the ACCEPTED event */
  for (int i = 0; i < 1000 && l.open == 0; i++)
    {
      uv_run (&loop, UV_RUN_NOWAIT);
      struct timespec ts = { 0, 10 * 1000 * 1000 };
      nanosleep (&ts, NULL);
    }
  assert_int_equal (l.open, 1);
  zmq_close (dealer);
  for (int i = 0; i < 1000 && l.open == 1; i++)
    {
      uv_run (&loop, UV_RUN_NOWAIT);
      struct timespec ts = { 0, 10 * 1000 * 1000 };
      nanosleep (&ts, NULL);
    }
  assert_int_equal (l.open, 0);
  mu_conn_watch_stop (&w);
  zmq_close (router);
  uv_run (&loop, UV_RUN_DEFAULT);
  zmq_ctx_term (ctx);
  assert_int_equal (uv_loop_close (&loop), 0);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_admit),
    cmocka_unit_test (test_default_max),
    cmocka_unit_test (test_monitor_counts),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
