/*
 * zwatch_test.c — ZeroMQ sockets in a libuv loop must never lose a
 * message: a burst larger than the per-iteration budget is fully
 * delivered, messages that arrive while a timer callback sends on the same
 * socket (consuming the ZMQ_FD edge) are still seen, and stopping the
 * watcher from inside its own callback is safe.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <string.h>
#include <cmocka.h>
#include <uv.h>
#include <zmq.h>

#include "common/zwatch.h"

typedef struct fx {
  void *ctx, *a, *b;
  uv_loop_t loop;
  mu_zwatch_t *w;
  int received;
  int expect;
  int stop_after;
  uv_timer_t timer, guard;
  int ping_sent;
} fx_t;

static int
on_readable (void *sock, void *arg)
{
  fx_t *f = arg;
  char buf[64];
  int n = zmq_recv (sock, buf, sizeof buf, ZMQ_DONTWAIT);
  if (n < 0)
    return -EAGAIN;
  f->received++;
  if (f->stop_after && f->received == f->stop_after)
    {
      mu_zwatch_stop (&f->w);
      uv_close ((uv_handle_t *)&f->guard, NULL);
      return 0;
    }
  if (f->received == f->expect)
    {
      mu_zwatch_stop (&f->w);
      uv_close ((uv_handle_t *)&f->guard, NULL);
      if (!uv_is_closing ((uv_handle_t *)&f->timer))
        uv_close ((uv_handle_t *)&f->timer, NULL);
    }
  return 0;
}

static void
on_guard (uv_timer_t *t)
{
  fx_t *f = t->data;
  mu_zwatch_stop (&f->w);
  uv_close ((uv_handle_t *)&f->guard, NULL);
  if (!uv_is_closing ((uv_handle_t *)&f->timer))
    uv_close ((uv_handle_t *)&f->timer, NULL);
}

static void
setup_pair (fx_t *f, const char *ep)
{
  memset (f, 0, sizeof *f);
  f->ctx = zmq_ctx_new ();
  f->a = zmq_socket (f->ctx, ZMQ_PAIR);
  f->b = zmq_socket (f->ctx, ZMQ_PAIR);
  int linger = 0, hwm = 0;
  zmq_setsockopt (f->a, ZMQ_LINGER, &linger, sizeof linger);
  zmq_setsockopt (f->b, ZMQ_LINGER, &linger, sizeof linger);
  zmq_setsockopt (f->a, ZMQ_SNDHWM, &hwm, sizeof hwm);
  zmq_setsockopt (f->b, ZMQ_RCVHWM, &hwm, sizeof hwm);
  assert_int_equal (zmq_bind (f->b, ep), 0);
  assert_int_equal (zmq_connect (f->a, ep), 0);
  uv_loop_init (&f->loop);
  uv_timer_init (&f->loop, &f->guard);
  uv_timer_init (&f->loop, &f->timer);
  f->guard.data = f->timer.data = f;
  uv_timer_start (&f->guard, on_guard, 10000, 0);
}

static void
teardown_pair (fx_t *f)
{
  uv_run (&f->loop, UV_RUN_DEFAULT);
  assert_int_equal (uv_loop_close (&f->loop), 0);
  zmq_close (f->a);
  zmq_close (f->b);
  zmq_ctx_term (f->ctx);
}

static void
test_burst (void **state)
{
  (void)state;
  fx_t f;
  setup_pair (&f, "inproc://burst");
  uv_close ((uv_handle_t *)&f.timer, NULL);
  f.expect = 5000; /* ten times the per-iteration budget */
  for (int i = 0; i < f.expect; i++)
    assert_int_equal (zmq_send (f.a, "x", 1, 0), 1);
  assert_int_equal (mu_zwatch_start (&f.loop, f.b, on_readable, &f, &f.w), 0);
  teardown_pair (&f);
  assert_int_equal (f.received, f.expect);
}

/* The peer answers each ping; the watched socket sends its pings from a
 * timer, so the edge on ZMQ_FD may be consumed outside the watcher. */
static void
on_ping_timer (uv_timer_t *t)
{
  fx_t *f = t->data;
  zmq_send (f->b, "ping", 4, ZMQ_DONTWAIT);
  f->ping_sent++;
  char buf[8];
  /* The peer replies straight away (same thread, inproc). */
  if (zmq_recv (f->a, buf, sizeof buf, ZMQ_DONTWAIT) > 0)
    zmq_send (f->a, "pong", 4, ZMQ_DONTWAIT);
  if (f->ping_sent == f->expect)
    uv_timer_stop (t);
}

static void
test_send_from_timer (void **state)
{
  (void)state;
  fx_t f;
  setup_pair (&f, "inproc://timer");
  f.expect = 200;
  assert_int_equal (mu_zwatch_start (&f.loop, f.b, on_readable, &f, &f.w), 0);
  uv_timer_start (&f.timer, on_ping_timer, 0, 1);
  teardown_pair (&f);
  assert_int_equal (f.received, f.expect);
}

static void
test_stop_inside_callback (void **state)
{
  (void)state;
  fx_t f;
  setup_pair (&f, "inproc://stop");
  uv_close ((uv_handle_t *)&f.timer, NULL);
  f.expect = 100;
  f.stop_after = 3;
  for (int i = 0; i < f.expect; i++)
    zmq_send (f.a, "x", 1, 0);
  assert_int_equal (mu_zwatch_start (&f.loop, f.b, on_readable, &f, &f.w), 0);
  teardown_pair (&f);
  assert_int_equal (f.received, 3);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_burst),
    cmocka_unit_test (test_send_from_timer),
    cmocka_unit_test (test_stop_inside_callback),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
