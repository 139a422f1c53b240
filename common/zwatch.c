/*
 * zwatch.c — ZeroMQ sockets inside a libuv loop (see zwatch.h for why it is
 * built from poll + prepare + idle + check handles).
 *
 * Lifetime: the four handles live in one malloc'd struct; mu_zwatch_stop
 * closes all four and the struct is freed by the last close callback, so
 * stopping from inside the socket callback itself is safe.
 */
#include "common/zwatch.h"

#include <errno.h>
#include <stdlib.h>
#include <zmq.h>

#define ZWATCH_BUDGET 512

struct mu_zwatch {
  uv_poll_t poll;
  uv_prepare_t prepare;
  uv_idle_t idle;
  uv_check_t check;
  void *sock;
  mu_zwatch_cb cb;
  void *arg;
  int open_handles;
  int stopped;
};

static int
has_pollin (mu_zwatch_t *w)
{
  int events = 0;
  size_t len = sizeof events;
  if (zmq_getsockopt (w->sock, ZMQ_EVENTS, &events, &len) != 0)
    return 0;
  return (events & ZMQ_POLLIN) != 0;
}

static void
drain (mu_zwatch_t *w)
{
  for (int i = 0; i < ZWATCH_BUDGET && !w->stopped; i++)
    {
      if (!has_pollin (w))
        return;
      if (w->cb (w->sock, w->arg) != 0)
        return;
    }
}

static void
on_poll (uv_poll_t *h, int status, int events)
{
  (void)status;
  (void)events;
  drain (h->data);
}

static void
on_idle (uv_idle_t *h)
{
  (void)h; /* exists only to keep the loop from blocking in poll */
}

static void
on_prepare (uv_prepare_t *h)
{
  mu_zwatch_t *w = h->data;
  if (!w->stopped && has_pollin (w))
    uv_idle_start (&w->idle, on_idle);
  else
    uv_idle_stop (&w->idle);
}

static void
on_check (uv_check_t *h)
{
  mu_zwatch_t *w = h->data;
  uv_idle_stop (&w->idle);
  drain (w);
}

static void
on_closed (uv_handle_t *h)
{
  mu_zwatch_t *w = h->data;
  if (--w->open_handles == 0)
    free (w);
}

int
mu_zwatch_start (uv_loop_t *loop, void *sock, mu_zwatch_cb cb, void *arg,
                 mu_zwatch_t **out)
{
  int fd = -1;
  size_t len = sizeof fd;
  if (zmq_getsockopt (sock, ZMQ_FD, &fd, &len) != 0)
    return -errno;
  mu_zwatch_t *w = calloc (1, sizeof *w);
  if (w == NULL)
    return -ENOMEM;
  w->sock = sock;
  w->cb = cb;
  w->arg = arg;
  int rc = uv_poll_init (loop, &w->poll, fd);
  if (rc != 0)
    {
      free (w);
      return rc;
    }
  uv_prepare_init (loop, &w->prepare);
  uv_idle_init (loop, &w->idle);
  uv_check_init (loop, &w->check);
  w->poll.data = w->prepare.data = w->idle.data = w->check.data = w;
  w->open_handles = 4;
  uv_poll_start (&w->poll, UV_READABLE, on_poll);
  uv_prepare_start (&w->prepare, on_prepare);
  uv_check_start (&w->check, on_check);
  /* The prepare/check pair do not keep the loop alive by themselves. */
  uv_unref ((uv_handle_t *)&w->prepare);
  uv_unref ((uv_handle_t *)&w->check);
  *out = w;
  return 0;
}

void
mu_zwatch_stop (mu_zwatch_t **w_p)
{
  if (w_p == NULL || *w_p == NULL)
    return;
  mu_zwatch_t *w = *w_p;
  *w_p = NULL;
  w->stopped = 1;
  uv_close ((uv_handle_t *)&w->poll, on_closed);
  uv_close ((uv_handle_t *)&w->prepare, on_closed);
  uv_close ((uv_handle_t *)&w->idle, on_closed);
  uv_close ((uv_handle_t *)&w->check, on_closed);
}
