/*
 * out_queue.c — the non-blocking bounded output stream of out_queue.h.
 *
 * Modes, chosen once from fstat() of the caller's fd:
 *  - REOPEN (pipe, terminal, other character device): a description of
 *    our own from /proc/self/fd/N, O_NONBLOCK; waited on with uv_poll, or
 *    the retry timer when epoll refuses the file (/dev/null);
 *  - SOCKET: send() with MSG_DONTWAIT | MSG_NOSIGNAL on the caller's fd
 *    (uv_poll would make the shared description non-blocking, so the
 *    retry timer waits);
 *  - DIRECT (regular file, block device, or an fd fstat refuses): plain
 *    write(), which waits on no reader;
 *  - TOGGLE (a pipe or terminal that cannot be reopened): O_NONBLOCK set
 *    on the shared description only for the duration of each write().
 * The bytes are kept in an out_buf (out_buf.h), which decides when
 * watchers hold back and resume.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "worker/out_queue.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <muster/error.h>

#include "worker/out_buf.h"

typedef enum { MODE_DIRECT, MODE_REOPEN, MODE_SOCKET, MODE_TOGGLE } mode_t_;

typedef struct watcher {
  mu_outq_cb cb;
  void *arg;
} watcher_t;

struct mu_outq {
  uv_loop_t *loop;
  int fd;      /* the caller's */
  int wfd;     /* written to: ours (REOPEN) or the caller's */
  mode_t_ mode;
  mu_out_buf_t buf;
  uv_poll_t poll;
  uv_timer_t retry;
  int use_poll;   /* poll handle initialized on wfd */
  int waiting;    /* poll or retry armed */
  int failed;     /* negative errno once the destination failed */
  int handles;    /* open handles; freed when the last has closed */
  uint64_t total; /* bytes given to mu_outq_write (metrics) */
  char name[32];
  watcher_t w[MU_OUTQ_WATCHERS];
};

static void
notify (mu_outq_t *q, mu_outq_event_t ev)
{
  for (int i = 0; i < MU_OUTQ_WATCHERS; i++)
    if (q->w[i].cb != NULL)
      q->w[i].cb (q->w[i].arg, q, ev);
}

/* One write attempt: bytes written (0: the destination is full), or a
 * negative errno for good.  SIGPIPE is held off and swallowed. */
static ssize_t
try_write (mu_outq_t *q, const char *p, size_t n)
{
  if (q->mode == MODE_SOCKET)
    {
      ssize_t w;
      do
        w = send (q->wfd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
      while (w < 0 && errno == EINTR);
      if (w >= 0)
        return w;
      return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
    }
  sigset_t pipe_set, old, pending;
  sigemptyset (&pipe_set);
  sigaddset (&pipe_set, SIGPIPE);
  pthread_sigmask (SIG_BLOCK, &pipe_set, &old);
  sigpending (&pending);
  int was_pending = sigismember (&pending, SIGPIPE);
  int flags = -1;
  if (q->mode == MODE_TOGGLE && (flags = fcntl (q->wfd, F_GETFL)) >= 0
      && !(flags & O_NONBLOCK))
    fcntl (q->wfd, F_SETFL, flags | O_NONBLOCK);
  ssize_t w;
  do
    w = write (q->wfd, p, n);
  while (w < 0 && errno == EINTR);
  int err = w < 0 ? errno : 0;
  if (q->mode == MODE_TOGGLE && flags >= 0 && !(flags & O_NONBLOCK))
    fcntl (q->wfd, F_SETFL, flags);
  if (err == EPIPE && !was_pending)
    {
      struct timespec zero = { 0, 0 };
      while (sigtimedwait (&pipe_set, NULL, &zero) < 0 && errno == EINTR)
        ;
    }
  pthread_sigmask (SIG_SETMASK, &old, NULL);
  if (w >= 0)
    return w;
  return err == EAGAIN || err == EWOULDBLOCK ? 0 : -err;
}

/* How much of p to hand to one write().  A pipe takes a write of at most
 * PIPE_BUF bytes whole or not at all, so whole lines are written in
 * pieces of at most PIPE_BUF ending at a newline: a destination shared
 * with another writer (2>&1, the stdout and stderr queues on one pipe)
 * never gets a line cut by the other's.  Only a line longer than PIPE_BUF
 * may be cut, as with any writer.  Files take everything at once. */
static size_t
chunk (const mu_outq_t *q, const char *p, size_t n)
{
  if (q->mode == MODE_DIRECT || n <= PIPE_BUF)
    return n;
  const char *nl = memrchr (p, '\n', PIPE_BUF);
  if (nl != NULL)
    return (size_t)(nl - p) + 1;
  nl = memchr (p, '\n', n);
  return nl != NULL ? (size_t)(nl - p) + 1 : n;
}

static void
stop_waiting (mu_outq_t *q)
{
  if (!q->waiting)
    return;
  q->waiting = 0;
  if (q->use_poll)
    uv_poll_stop (&q->poll);
  else
    uv_timer_stop (&q->retry);
}

static void
fail (mu_outq_t *q, int err)
{
  int held = q->buf.held;
  q->failed = err;
  stop_waiting (q);
  mu_out_buf_free (&q->buf);
  notify (q, MU_OUTQ_FAILED);
  if (held)
    notify (q, MU_OUTQ_RESUME); /* read on, into the void: never block */
}

static void arm (mu_outq_t *q);

/* Write what the destination takes now; arm a wait for the rest. */
static void
flush (mu_outq_t *q)
{
  while (!q->failed)
    {
      size_t n;
      const char *p = mu_out_buf_peek (&q->buf, &n);
      if (p == NULL)
        {
          stop_waiting (q);
          return;
        }
      ssize_t w = try_write (q, p, chunk (q, p, n));
      if (w < 0)
        {
          fail (q, (int)w);
          return;
        }
      if (w == 0)
        {
          arm (q);
          return;
        }
      if (mu_out_buf_consume (&q->buf, (size_t)w) == MU_OUT_BUF_RESUME)
        notify (q, MU_OUTQ_RESUME);
    }
}

static void
on_poll (uv_poll_t *h, int status, int events)
{
  (void)status;
  (void)events;
  flush (h->data);
}

static void
on_retry (uv_timer_t *t)
{
  mu_outq_t *q = t->data;
  q->waiting = 0;
  flush (q);
}

static void
arm (mu_outq_t *q)
{
  if (q->use_poll)
    {
      if (!q->waiting)
        uv_poll_start (&q->poll, UV_WRITABLE, on_poll);
    }
  else if (!q->waiting)
    uv_timer_start (&q->retry, on_retry, MU_OUTQ_RETRY_MS, 0);
  q->waiting = 1;
}

/* Choose how to write q->fd without blocking (see the top). */
static void
choose_mode (mu_outq_t *q)
{
  struct stat st;
  q->wfd = q->fd;
  q->mode = MODE_DIRECT;
  if (fstat (q->fd, &st) != 0 || S_ISREG (st.st_mode) || S_ISBLK (st.st_mode))
    return;
  if (S_ISSOCK (st.st_mode))
    {
      q->mode = MODE_SOCKET;
      return;
    }
  char path[64];
  snprintf (path, sizeof path, "/proc/self/fd/%d", q->fd);
  int nfd = open (path, O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (nfd < 0)
    {
      q->mode = MODE_TOGGLE;
      return;
    }
  q->mode = MODE_REOPEN;
  q->wfd = nfd;
  if (uv_poll_init (q->loop, &q->poll, nfd) == 0)
    {
      q->use_poll = 1;
      q->poll.data = q;
      q->handles++;
    }
}

int
mu_outq_new (uv_loop_t *loop, const mu_outq_opts_t *o, mu_outq_t **out)
{
  *out = NULL;
  if (loop == NULL || o == NULL || o->fd < 0)
    return MUSTER_EINVAL;
  mu_outq_t *q = calloc (1, sizeof *q);
  if (q == NULL)
    return -ENOMEM;
  q->loop = loop;
  q->fd = o->fd;
  snprintf (q->name, sizeof q->name, "%s", o->name ? o->name : "output");
  mu_out_buf_init (&q->buf, o->limit ? o->limit : MU_OUTQ_LIMIT_DEFAULT);
  uv_timer_init (loop, &q->retry);
  q->retry.data = q;
  q->handles = 1;
  choose_mode (q);
  *out = q;
  return 0;
}

int
mu_outq_write (mu_outq_t *q, const char *p, size_t n)
{
  if (q->failed)
    return q->failed;
  if (n == 0)
    return 0;
  q->total += n;
  /* Nothing queued: straight out, as much as the destination takes. */
  while (q->buf.len == 0 && n > 0)
    {
      ssize_t w = try_write (q, p, chunk (q, p, n));
      if (w < 0)
        {
          fail (q, (int)w);
          return (int)w;
        }
      if (w == 0)
        break;
      p += w;
      n -= (size_t)w;
    }
  if (n == 0)
    return 0;
  int rc = mu_out_buf_append (&q->buf, p, n);
  if (rc < 0)
    return rc;
  if (rc == MU_OUT_BUF_HOLD)
    notify (q, MU_OUTQ_HOLD);
  arm (q);
  return 0;
}

int
mu_outq_held (const mu_outq_t *q)
{
  return q != NULL && q->buf.held;
}

size_t
mu_outq_pending (const mu_outq_t *q)
{
  return q ? q->buf.len : 0;
}

const char *
mu_outq_name (const mu_outq_t *q)
{
  return q->name;
}

int
mu_outq_watch (mu_outq_t *q, mu_outq_cb cb, void *arg)
{
  for (int i = 0; i < MU_OUTQ_WATCHERS; i++)
    if (q->w[i].cb == NULL)
      {
        q->w[i].cb = cb;
        q->w[i].arg = arg;
        return 0;
      }
  return -ENOSPC;
}

void
mu_outq_unwatch (mu_outq_t *q, mu_outq_cb cb, void *arg)
{
  for (int i = 0; i < MU_OUTQ_WATCHERS; i++)
    if (q->w[i].cb == cb && q->w[i].arg == arg)
      q->w[i].cb = NULL, q->w[i].arg = NULL;
}

static void
on_close (uv_handle_t *h)
{
  mu_outq_t *q = h->data;
  if (--q->handles == 0)
    free (q);
}

/* The end: wait for the destination with poll(2), as long as it takes. */
static void
drain_blocking (mu_outq_t *q)
{
  while (!q->failed)
    {
      size_t n;
      const char *p = mu_out_buf_peek (&q->buf, &n);
      if (p == NULL)
        return;
      ssize_t w = try_write (q, p, chunk (q, p, n));
      if (w < 0)
        {
          q->failed = (int)w;
          return;
        }
      if (w == 0)
        {
          struct pollfd pfd = { .fd = q->wfd, .events = POLLOUT };
          if (poll (&pfd, 1, q->mode == MODE_TOGGLE ? MU_OUTQ_RETRY_MS : -1) < 0
              && errno != EINTR)
            return;
          continue;
        }
      mu_out_buf_consume (&q->buf, (size_t)w);
    }
}

void
mu_outq_close (mu_outq_t **q_p)
{
  if (q_p == NULL || *q_p == NULL)
    return;
  mu_outq_t *q = *q_p;
  *q_p = NULL;
  stop_waiting (q);
  drain_blocking (q);
  mu_out_buf_free (&q->buf);
  memset (q->w, 0, sizeof q->w);
  if (q->use_poll)
    uv_close ((uv_handle_t *)&q->poll, on_close);
  uv_close ((uv_handle_t *)&q->retry, on_close);
  if (q->wfd != q->fd)
    close (q->wfd); /* after uv_close: epoll forgets it then */
}

uint64_t
mu_outq_total (const mu_outq_t *q)
{
  return q->total;
}
