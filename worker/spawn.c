/*
 * spawn.c — one worker process on the agent's libuv loop: spawn, line-wise
 * prefixed output, stderr tail, signals, graceful stop, exit report.
 *
 * Process: started by proc_launch.c (posix_spawn, no fork of the agent),
 * a session and process-group leader, so kill(-pid, sig) reaches
 * everything it starts; its exit is seen on a pidfd watched by a uv_poll
 * (where pidfd_open is missing — Linux before 5.3, valgrind 3.19 — on
 * SIGCHLD, each process checking its own pid, as libuv did),
 * and exactly that process is reaped, so neither a start nor an exit costs
 * more when thousands of workers run (docs/architecture.md, decisions 97
 * and 98).
 * With an exec helper the child is `muster-exec [OPTIONS] -- PROGRAM ARGS...`
 * (OPTIONS: the caller's helper_args, e.g. the user to run as), which
 * learns the agent's pid from MUSTER_EXEC_PPID and cleans up the whole
 * process tree if the agent dies or PROGRAM exits (muster_exec.c).
 *
 * Signal design, shared with muster_exec.c: every signal is sent by this
 * file to the worker's whole group; muster-exec forwards nothing and absorbs
 * its own copy, so helper and no-helper behave alike.  The one exception is
 * the hard kill (mu_proc_stop's SIGKILL, mu_proc_signal(SIGKILL), closing a
 * running worker): with the helper it is first a sweep request,
 * MU_EXEC_SWEEP_SIG sent to muster-exec alone, on which muster-exec SIGKILLs
 * every descendant — also those that left the group with setsid(), which a
 * group SIGKILL would miss — and then dies of SIGKILL itself, so the exit
 * callback reports SIGKILL as it would for a bare worker.  If the process is
 * still there MU_PROC_SWEEP_MS later (muster-exec stopped or wedged), the
 * group gets SIGKILL.
 *
 * Output: stdout and stderr each come through a pipe into a buffer of
 * MU_PROC_LINE_MAX bytes that has room for the prefix in front of it, so a
 * line is emitted without copying: the prefix is written into the bytes just
 * before the line (the headroom, or the previous, already emitted, line) and
 * prefix+line+'\n' goes out in ONE write().  Only whole lines are written; a
 * line longer than the buffer goes out in MU_PROC_LINE_MAX pieces, each
 * prefixed, and a partial line left at EOF gets a newline added.  Writes are
 * blocking writes from the loop thread (EINTR, short writes and EAGAIN are
 * looped over, the latter with poll()); when a write fails for good (EPIPE,
 * ...) that stream's output is dropped but still read, so the worker never
 * blocks on a full pipe.  SIGPIPE is held off around writes unless the
 * process already ignores it.  With out_q/err_q (the agent's case) lines go
 * to non-blocking queues instead (out_queue.h): nothing waits, and while a
 * queue holds back its streams are simply not read — back-pressure to the
 * worker, never a dropped line.
 *
 * Log files (torchrun's --log_dir, -r, -t; mu_proc_files_t): each line also
 * goes, raw, to the stream's file, written the same synchronous way (a
 * local file: no reader to wait for, one bounded write per line, nothing
 * queued); with redirect it goes to the file only.  A failed file write is
 * reported once through on_error and the stream falls back to the console.
 *
 * Lifetime: the exit callback waits for the process's exit and for EOF on
 * both pipes (bounded by MU_PROC_DRAIN_MS after the exit).  mu_proc_close()
 * closes the handles asynchronously and the last close callback frees; if
 * the process is still running it is killed hard and its exit watch (and
 * the backstop timer) are kept until it has been reaped (leaving it
 * unreaped would leave a zombie).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <muster/error.h>

#include "worker/spawn.h"
#include "worker/proc_launch.h"
#include "worker/spawner.h"
#include "worker/out_queue.h"

extern char **environ;

typedef struct mu_proc_stream {
  uv_pipe_t pipe;
  struct mu_proc *proc;
  int fd;       /* destination, < 0 = discard */
  bool is_err;  /* feeds the stderr tail */
  bool eof;     /* no more data will be read */
  bool dropped; /* destination failed for good */
  int file;     /* raw copy of the lines (log file), -1 = none */
  bool redirect; /* to the file only (until it fails) */
  char *buf;    /* head bytes of headroom + MU_PROC_LINE_MAX + 1 */
  size_t len;   /* partial line at buf + head */
  mu_outq_t *q; /* non-blocking console instead of fd (borrowed) */
  bool paused;  /* not read while q holds back */
  bool forced;  /* read to the end although q holds back (exited) */
} mu_proc_stream_t;

struct mu_proc {
  uv_loop_t *loop;
  uv_poll_t exit_poll;    /* on pidfd: readable once the process exited */
  uv_signal_t exit_sig;   /* without pidfd: SIGCHLD */
  bool by_sigchld;        /* exit_sig is the exit watch, not exit_poll */
  int pidfd;
  uv_timer_t kill_timer;  /* the hard kill after the grace of mu_proc_stop,
                             and the group SIGKILL after a sweep request */
  uv_timer_t drain_timer; /* give up on pipes held open after the exit */
  mu_proc_stream_t out, err;
  char *prefix;       /* head + 1 bytes */
  size_t prefix_len;  /* <= head */
  size_t head;        /* room for a prefix in front of every line */
  char *tail;         /* tail_cap slots of MU_PROC_TAIL_LINE_MAX bytes */
  size_t *tail_len;   /* bytes used in each slot */
  size_t tail_cap;    /* slots */
  size_t tail_next;   /* slot the next line goes to */
  size_t tail_count;  /* slots in use */
  int pid;
  int handles;        /* initialized handles whose close is pending */
  bool spawned;       /* mu_launch succeeded */
  bool exited;
  bool reported;      /* on_exit has been called */
  bool closing;       /* mu_proc_close called (or spawn failed) */
  bool proc_closed;   /* exit_poll closed (or never initialized) */
  bool stopping;      /* SIGTERM sent by mu_proc_stop */
  bool helper;        /* started through muster-exec */
  bool sweep_sent;    /* MU_EXEC_SWEEP_SIG sent to muster-exec */
  bool guard_sigpipe; /* SIGPIPE not ignored: hold it off around writes */
  uint64_t kill_at;   /* loop time of the scheduled SIGKILL */
  int64_t exit_code;
  int term_signal;
  mu_proc_exit_cb on_exit;
  void *arg;
  void (*on_file_error) (mu_proc_t *p, int stream, int err, void *arg);
  void (*on_line) (void *arg, int is_err, const char *line, size_t len);
};

/* ---------------------------------------------------------------- freeing */

static void
mu_proc_free (mu_proc_t *p)
{
  if (p->pidfd >= 0)
    close (p->pidfd);
  if (p->out.file >= 0)
    close (p->out.file);
  if (p->err.file >= 0)
    close (p->err.file);
  free (p->out.buf);
  free (p->err.buf);
  free (p->prefix);
  free (p->tail);
  free (p->tail_len);
  free (p);
}

static void
mu_proc_on_close (uv_handle_t *h)
{
  mu_proc_t *p = h->data;
  if (--p->handles == 0)
    mu_proc_free (p);
}

static void
mu_proc_close_handle (mu_proc_t *p, uv_handle_t *h)
{
  if (!uv_is_closing (h))
    uv_close (h, mu_proc_on_close);
  (void) p;
}

/* ----------------------------------------------------------------- output */

/* Write all of buf to fd, blocking; 0 or a negative errno. */
static int
mu_proc_write_all (int fd, const char *buf, size_t n)
{
  while (n > 0)
    {
      ssize_t w = write (fd, buf, n);
      if (w >= 0)
        {
          buf += w;
          n -= (size_t) w;
          continue;
        }
      if (errno == EINTR)
        continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK)
        {
          struct pollfd pfd = { .fd = fd, .events = POLLOUT };
          poll (&pfd, 1, -1);
          continue;
        }
      return -errno;
    }
  return 0;
}

/* Like mu_proc_write_all, but a broken pipe must not kill the agent: keep
 * SIGPIPE blocked for the write and swallow one it raised. */
static int
mu_proc_write_guarded (mu_proc_t *p, int fd, const char *buf, size_t n)
{
  if (!p->guard_sigpipe)
    return mu_proc_write_all (fd, buf, n);
  sigset_t pipe_set, old, pending;
  sigemptyset (&pipe_set);
  sigaddset (&pipe_set, SIGPIPE);
  pthread_sigmask (SIG_BLOCK, &pipe_set, &old);
  sigpending (&pending);
  bool was_pending = sigismember (&pending, SIGPIPE);
  int r = mu_proc_write_all (fd, buf, n);
  if (r == -EPIPE && !was_pending)
    {
      struct timespec zero = { 0, 0 };
      while (sigtimedwait (&pipe_set, NULL, &zero) < 0 && errno == EINTR)
        ;
    }
  pthread_sigmask (SIG_SETMASK, &old, NULL);
  return r;
}

static void
mu_proc_tail_push (mu_proc_t *p, const char *line, size_t n)
{
  if (n > MU_PROC_TAIL_LINE_MAX)
    n = MU_PROC_TAIL_LINE_MAX;
  memcpy (p->tail + p->tail_next * MU_PROC_TAIL_LINE_MAX, line, n);
  p->tail_len[p->tail_next] = n;
  p->tail_next = (p->tail_next + 1) % p->tail_cap;
  if (p->tail_count < p->tail_cap)
    p->tail_count++;
}

/* Emit one line of n bytes (without its newline) that starts inside s->buf's
 * data area: the prefix_len bytes before it and the byte after it may be
 * overwritten. */
static void
mu_proc_emit (mu_proc_t *p, mu_proc_stream_t *s, char *line, size_t n)
{
  if (s->is_err)
    mu_proc_tail_push (p, line, n);
  line[n] = '\n';
  if (s->file >= 0)
    {
      /* A regular local file: write() does not wait on a reader, and a
       * line is at most MU_PROC_LINE_MAX bytes. */
      int r = mu_proc_write_all (s->file, line, n + 1);
      if (r < 0)
        {
          close (s->file);
          s->file = -1;
          s->redirect = false; /* this line and the rest: the console */
          if (p->on_file_error)
            p->on_file_error (p, s->is_err ? 1 : 0, r, p->arg);
        }
    }
  char *start = line - p->prefix_len;
  memcpy (start, p->prefix, p->prefix_len);
  if (p->on_line)
    p->on_line (p->arg, s->is_err, start, p->prefix_len + n);
  if ((s->fd < 0 && s->q == NULL) || s->dropped || s->redirect)
    return;
  if (s->q != NULL)
    (void) mu_outq_write (s->q, start, p->prefix_len + n + 1); /* a failed
                                          destination is reported there */
  else if (mu_proc_write_guarded (p, s->fd, start, p->prefix_len + n + 1) < 0)
    s->dropped = true;
}

/* Emit every whole line in the buffer; `old` bytes at its start are known to
 * hold no newline.  Keeps the partial rest, and flushes it as a piece when it
 * fills the buffer. */
static void
mu_proc_scan (mu_proc_t *p, mu_proc_stream_t *s, size_t old)
{
  char *data = s->buf + p->head;
  size_t start = 0, from = old;
  for (;;)
    {
      char *nl = memchr (data + from, '\n', s->len - from);
      if (!nl)
        break;
      size_t n = (size_t) (nl - (data + start));
      mu_proc_emit (p, s, data + start, n);
      start += n + 1;
      from = start;
    }
  size_t rest = s->len - start;
  if (start > 0 && rest > 0)
    memmove (data, data + start, rest);
  s->len = rest;
  if (s->len == MU_PROC_LINE_MAX)
    {
      mu_proc_emit (p, s, data, s->len);
      s->len = 0;
    }
}

static void
mu_proc_flush (mu_proc_t *p, mu_proc_stream_t *s)
{
  if (s->len > 0)
    mu_proc_emit (p, s, s->buf + p->head, s->len);
  s->len = 0;
}

/* ------------------------------------------------------------ exit report */

static void
mu_proc_maybe_report (mu_proc_t *p)
{
  if (p->reported || p->closing || !p->exited || !p->out.eof || !p->err.eof)
    return;
  p->reported = true;
  uv_timer_stop (&p->kill_timer);
  uv_timer_stop (&p->drain_timer);
  if (p->on_exit)
    p->on_exit (p, p->exit_code, p->term_signal, p->arg);
}

static void
mu_proc_end_stream (mu_proc_t *p, mu_proc_stream_t *s)
{
  if (s->eof)
    return;
  mu_proc_flush (p, s);
  s->eof = true;
  uv_read_stop ((uv_stream_t *) &s->pipe);
}

static void
mu_proc_on_alloc (uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
  mu_proc_t *p = h->data;
  mu_proc_stream_t *s = (uv_handle_t *) &p->out.pipe == h ? &p->out : &p->err;
  (void) suggested;
  buf->base = s->buf + p->head + s->len;
  buf->len = MU_PROC_LINE_MAX - s->len;
}

static void
mu_proc_on_read (uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
  mu_proc_t *p = st->data;
  mu_proc_stream_t *s = (uv_stream_t *) &p->out.pipe == st ? &p->out : &p->err;
  (void) buf;
  if (nread > 0)
    {
      size_t old = s->len;
      s->len += (size_t) nread;
      mu_proc_scan (p, s, old);
      if (s->q != NULL && mu_outq_held (s->q) && !s->redirect && !s->forced)
        {
          /* Back-pressure: leave the rest in the pipe; the worker waits. */
          uv_read_stop ((uv_stream_t *) &s->pipe);
          s->paused = true;
        }
      return;
    }
  if (nread == 0 || nread == UV_ENOBUFS)
    return;
  /* UV_EOF, or a read error: either way this stream is over. */
  mu_proc_end_stream (p, s);
  mu_proc_maybe_report (p);
}

static void
mu_proc_on_drain (uv_timer_t *t)
{
  mu_proc_t *p = t->data;
  if (p->out.paused || p->err.paused)
    {
      /* Exited, but held back by a slow console: what it left in its
       * pipes (at most a pipe's worth each) is read now, past the
       * console's bound, so the exit is reported and the job can end;
       * the console takes it when it can.  The pipes get the usual
       * drain time again. */
      mu_proc_stream_t *v[2] = { &p->out, &p->err };
      for (int i = 0; i < 2; i++)
        if (v[i]->paused && !v[i]->eof
            && uv_read_start ((uv_stream_t *) &v[i]->pipe, mu_proc_on_alloc,
                              mu_proc_on_read) == 0)
          {
            v[i]->paused = false;
            v[i]->forced = true;
          }
      uv_timer_start (&p->drain_timer, mu_proc_on_drain, MU_PROC_DRAIN_MS, 0);
      return;
    }
  mu_proc_end_stream (p, &p->out);
  mu_proc_end_stream (p, &p->err);
  mu_proc_maybe_report (p);
}

static uv_handle_t *
mu_proc_exit_watch (mu_proc_t *p)
{
  return p->by_sigchld ? (uv_handle_t *) &p->exit_sig
                       : (uv_handle_t *) &p->exit_poll;
}

/* The pidfd turned readable (or some child sent SIGCHLD): if it is this
 * process that exited, reap it (it alone, whatever else runs). */
static void
mu_proc_check_exit (mu_proc_t *p)
{
  int64_t exit_status = 0;
  int term_signal = 0;
  int r = mu_launch_reap (p->pid, &exit_status, &term_signal);
  if (r == -EAGAIN)
    return; /* not yet: another child's SIGCHLD */
  if (r != 0)
    {
      /* ECHILD: reaped by someone else (a waitpid(-1) elsewhere in the
       * process); its status is lost, report it killed. */
      exit_status = 0;
      term_signal = SIGKILL;
    }
  if (p->by_sigchld)
    uv_signal_stop (&p->exit_sig);
  else
    uv_poll_stop (&p->exit_poll);
  p->exited = true;
  p->exit_code = exit_status;
  p->term_signal = term_signal;
  uv_timer_stop (&p->kill_timer);
  if (p->closing)
    {
      p->proc_closed = true;
      mu_proc_close_handle (p, mu_proc_exit_watch (p));
      mu_proc_close_handle (p, (uv_handle_t *) &p->kill_timer);
      return;
    }
  if (!p->out.eof || !p->err.eof)
    uv_timer_start (&p->drain_timer, mu_proc_on_drain, MU_PROC_DRAIN_MS, 0);
  mu_proc_maybe_report (p);
}

static void
mu_proc_on_pidfd (uv_poll_t *h, int status, int events)
{
  (void) status;
  (void) events;
  mu_proc_check_exit (h->data);
}

static void
mu_proc_on_sigchld (uv_signal_t *h, int signum)
{
  (void) signum;
  mu_proc_check_exit (h->data);
}

static void mu_proc_kill_hard (mu_proc_t *p);

static void
mu_proc_on_kill_timer (uv_timer_t *t)
{
  mu_proc_kill_hard (t->data);
}

/* Kill the worker for good.  Without the helper: SIGKILL to the group.
 * With it, first ask muster-exec to sweep (it SIGKILLs every descendant,
 * including any that left the process group with setsid(), which a group
 * SIGKILL would miss and which would then outlive muster-exec), and SIGKILL
 * the group only MU_PROC_SWEEP_MS later if the process is still there (a
 * stopped or wedged muster-exec). */
static void
mu_proc_kill_hard (mu_proc_t *p)
{
  if (!p->spawned || p->exited)
    return;
  if (p->helper && !p->sweep_sent)
    {
      p->sweep_sent = true;
      if (kill (p->pid, MU_EXEC_SWEEP_SIG) == 0)
        {
          p->kill_at = uv_now (p->loop) + MU_PROC_SWEEP_MS;
          uv_timer_start (&p->kill_timer, mu_proc_on_kill_timer,
                          MU_PROC_SWEEP_MS, 0);
          return;
        }
    }
  kill (-p->pid, SIGKILL);
}

/* ------------------------------------------------------------------ spawn */

static size_t
mu_proc_count (char *const *v)
{
  size_t n = 0;
  while (v[n])
    n++;
  return n;
}

/* Begin closing everything; frees once the close callbacks have run. */
static void
mu_proc_teardown (mu_proc_t *p)
{
  p->closing = true;
  bool running = p->spawned && !p->exited;
  if (running)
    mu_proc_kill_hard (p);
  mu_proc_close_handle (p, (uv_handle_t *) &p->out.pipe);
  mu_proc_close_handle (p, (uv_handle_t *) &p->err.pipe);
  mu_proc_close_handle (p, (uv_handle_t *) &p->drain_timer);
  if (!running)
    {
      /* else the exit callback closes these: the exit watch must stay
       * until the child is reaped, the timer for the backstop */
      mu_proc_close_handle (p, (uv_handle_t *) &p->kill_timer);
      if (!p->proc_closed)
        {
          p->proc_closed = true;
          mu_proc_close_handle (p, mu_proc_exit_watch (p));
        }
    }
}

static int mu_proc_spawn_checked (uv_loop_t *loop, const mu_proc_opts_t *o,
                                  mu_proc_t **out);

int
mu_proc_spawn (uv_loop_t *loop, const mu_proc_opts_t *o, mu_proc_t **out)
{
  int rc = mu_proc_spawn_checked (loop, o, out);
  if (rc != 0 && o && o->files)
    for (int i = 0; i < 2; i++)
      if (o->files->fd[i] >= 0)
        close (o->files->fd[i]); /* owned from here on, also on failure */
  return rc;
}

static int
mu_proc_spawn_checked (uv_loop_t *loop, const mu_proc_opts_t *o,
                       mu_proc_t **out)
{
  if (!out)
    return -EINVAL;
  *out = NULL;
  if (!loop || !o || !o->argv || !o->argv[0]
      || (o->helper_args && !o->exec_helper))
    return -EINVAL;
  size_t argc = o->argc ? o->argc : mu_proc_count (o->argv);
  for (size_t i = 0; i < argc; i++)
    if (!o->argv[i])
      return -EINVAL;
  if (o->exec_helper && strchr (o->exec_helper, '/')
      && access (o->exec_helper, X_OK) != 0)
    return -ENOENT;

  mu_proc_t *p = calloc (1, sizeof *p);
  if (!p)
    return -ENOMEM;
  p->out.file = p->err.file = -1;
  p->pidfd = -1;
  p->loop = loop;
  p->on_exit = o->on_exit;
  p->on_line = o->on_line;
  p->arg = o->arg;
  p->prefix_len = o->prefix ? strlen (o->prefix) : 0;
  p->head = p->prefix_len > MU_PROC_PREFIX_MAX ? p->prefix_len
                                               : MU_PROC_PREFIX_MAX;
  p->tail_cap = o->tail_lines ? o->tail_lines : MU_PROC_TAIL_DEFAULT;
  if (p->tail_cap > MU_PROC_TAIL_MAX)
    p->tail_cap = MU_PROC_TAIL_MAX;
  p->prefix = malloc (p->head + 1);
  p->out.buf = malloc (p->head + MU_PROC_LINE_MAX + 1);
  p->err.buf = malloc (p->head + MU_PROC_LINE_MAX + 1);
  p->tail = malloc (p->tail_cap * MU_PROC_TAIL_LINE_MAX);
  p->tail_len = calloc (p->tail_cap, sizeof *p->tail_len);
  if (!p->prefix || !p->out.buf || !p->err.buf || !p->tail || !p->tail_len)
    {
      mu_proc_free (p);
      return -ENOMEM;
    }
  if (p->prefix_len)
    memcpy (p->prefix, o->prefix, p->prefix_len);
  p->prefix[p->prefix_len] = '\0';
  p->out.proc = p->err.proc = p;
  p->out.fd = o->out_fd;
  p->err.fd = o->err_fd;
  p->out.q = o->out_q;
  p->err.q = o->err_q;
  p->err.is_err = true;
  p->helper = o->exec_helper != NULL;
  struct sigaction sa;
  p->guard_sigpipe = !(sigaction (SIGPIPE, NULL, &sa) == 0
                       && !(sa.sa_flags & SA_SIGINFO)
                       && sa.sa_handler == SIG_IGN);

  /* argv and env for mu_launch; only pointers are copied. */
  char *const *base = o->env ? o->env : environ;
  size_t envc = o->exec_helper ? mu_proc_count (base) : 0;
  size_t nhelper = o->helper_args ? mu_proc_count (o->helper_args) : 0;
  char **args = calloc (argc + nhelper + 3, sizeof *args);
  char **envv = o->exec_helper ? calloc (envc + 2, sizeof *envv) : NULL;
  if (!args || (o->exec_helper && !envv))
    {
      free (args);
      free (envv);
      mu_proc_free (p);
      return -ENOMEM;
    }
  size_t k = 0;
  char ppid_var[48];
  if (o->exec_helper)
    {
      args[k++] = (char *) o->exec_helper;
      for (size_t i = 0; i < nhelper; i++)
        args[k++] = o->helper_args[i];
      args[k++] = (char *) "--";
      size_t m = 0;
      static const char key[] = "MUSTER_EXEC_PPID=";
      for (size_t i = 0; i < envc; i++)
        if (strncmp (base[i], key, sizeof key - 1) != 0)
          envv[m++] = base[i];
      snprintf (ppid_var, sizeof ppid_var, "%s%ld", key, (long) getpid ());
      envv[m++] = ppid_var;
      envv[m] = NULL;
    }
  for (size_t i = 0; i < argc; i++)
    args[k++] = o->argv[i];
  args[k] = NULL;

  uv_pipe_init (loop, &p->out.pipe, 0);
  uv_pipe_init (loop, &p->err.pipe, 0);
  uv_timer_init (loop, &p->kill_timer);
  uv_timer_init (loop, &p->drain_timer);
  p->handles = 4; /* the four above; the exit watch once it is set up */
  p->proc_closed = true;
  p->out.pipe.data = p->err.pipe.data = p;
  p->kill_timer.data = p->drain_timer.data = p;
  /* Without pidfds the SIGCHLD watch must be there before the child is,
   * or an early exit would go unseen. */
  p->by_sigchld = !mu_launch_pidfd_usable ();
  if (p->by_sigchld)
    {
      uv_signal_init (loop, &p->exit_sig);
      p->exit_sig.data = p;
      p->handles++;
      p->proc_closed = false;
      int sr = uv_signal_start (&p->exit_sig, mu_proc_on_sigchld, SIGCHLD);
      if (sr != 0)
        {
          free (args);
          free (envv);
          mu_proc_teardown (p);
          return sr;
        }
    }

  mu_launch_opts_t lo = { .argv = args,
                          .env = o->exec_helper ? envv : o->env,
                          .cwd = o->cwd };
  mu_launch_t l;
  int r = -EMSGSIZE;
  if (o->exec_helper != NULL && o->spawner != NULL)
    {
      /* muster-exec's command line after its name */
      mu_launch_opts_t so = lo;
      so.argv = args + 1;
      r = mu_spawner_launch (o->spawner, &so, &l);
    }
  if (r == -EMSGSIZE)
    r = mu_launch (&lo, &l);
  free (args);
  free (envv);
  if (r != 0)
    {
      mu_proc_teardown (p);
      return r;
    }
  p->pid = l.pid;
  p->pidfd = l.pidfd;
  p->spawned = true;
  r = uv_pipe_open (&p->out.pipe, l.out_fd);
  if (r != 0)
    close (l.out_fd);
  int r2 = uv_pipe_open (&p->err.pipe, l.err_fd);
  if (r2 != 0)
    close (l.err_fd);
  if (r == 0)
    r = r2;
  if (r == 0 && !p->by_sigchld)
    {
      r = uv_poll_init (loop, &p->exit_poll, p->pidfd);
      if (r == 0)
        {
          p->handles++;
          p->proc_closed = false;
          p->exit_poll.data = p;
          r = uv_poll_start (&p->exit_poll, UV_READABLE, mu_proc_on_pidfd);
        }
    }
  if (r != 0)
    {
      /* Started, but it cannot be watched: it must not run unseen. */
      kill (-p->pid, SIGKILL);
      while (waitpid (p->pid, NULL, 0) < 0 && errno == EINTR)
        ;
      p->spawned = false;
      mu_proc_teardown (p);
      return r;
    }
  if (o->files)
    {
      /* owned by p from now on (mu_proc_free closes them) */
      p->out.file = o->files->fd[0];
      p->err.file = o->files->fd[1];
      p->out.redirect = o->files->fd[0] >= 0 && o->files->redirect[0];
      p->err.redirect = o->files->fd[1] >= 0 && o->files->redirect[1];
      p->on_file_error = o->files->on_error;
    }
  /* A console already holding back: not read until it resumes. */
  p->out.paused = mu_outq_held (p->out.q) && !p->out.redirect;
  p->err.paused = mu_outq_held (p->err.q) && !p->err.redirect;
  r = p->out.paused ? 0 : uv_read_start ((uv_stream_t *) &p->out.pipe,
                                         mu_proc_on_alloc, mu_proc_on_read);
  if (r == 0 && !p->err.paused)
    r = uv_read_start ((uv_stream_t *) &p->err.pipe, mu_proc_on_alloc,
                       mu_proc_on_read);
  if (r != 0)
    {
      p->out.file = p->err.file = -1; /* the caller's wrapper closes them */
      mu_proc_teardown (p);
      return r;
    }
  *out = p;
  return 0;
}

/* ------------------------------------------------------------- operations */

void
mu_proc_set_arg (mu_proc_t *p, void *arg)
{
  if (p != NULL)
    p->arg = arg;
}

int
mu_proc_set_prefix (mu_proc_t *p, const char *prefix)
{
  size_t n = prefix ? strlen (prefix) : 0;
  if (p == NULL || n > p->head)
    return MUSTER_EINVAL;
  /* Lines already read keep going out whole; the next one carries it. */
  memcpy (p->prefix, prefix ? prefix : "", n);
  p->prefix[n] = '\0';
  p->prefix_len = n;
  return 0;
}

int
mu_proc_pid (const mu_proc_t *p)
{
  return p ? p->pid : 0;
}

int
mu_proc_signal (mu_proc_t *p, int sig)
{
  if (!p || p->pid <= 0)
    return -EINVAL;
  if (p->exited)
    return -ESRCH;
  if (sig == SIGKILL)
    {
      mu_proc_kill_hard (p);
      return 0;
    }
  if (kill (-p->pid, sig) != 0)
    return -errno;
  return 0;
}

int
mu_proc_stop (mu_proc_t *p, uint64_t grace_ms)
{
  if (!p || p->pid <= 0)
    return -EINVAL;
  if (p->exited)
    return 0;
  uint64_t now = uv_now (p->loop);
  uint64_t at = now + grace_ms;
  if (at < now)
    at = UINT64_MAX; /* overflow: "never" */
  if (!p->stopping)
    {
      p->stopping = true;
      if (kill (-p->pid, SIGTERM) != 0 && errno != ESRCH)
        return -errno;
    }
  else if (at >= p->kill_at)
    return 0;
  p->kill_at = at;
  return uv_timer_start (&p->kill_timer, mu_proc_on_kill_timer, at - now, 0);
}

void
mu_proc_resume_output (mu_proc_t *p)
{
  if (p == NULL || p->closing)
    return;
  mu_proc_stream_t *v[2] = { &p->out, &p->err };
  for (int i = 0; i < 2; i++)
    if (v[i]->paused && !v[i]->eof && !mu_outq_held (v[i]->q)
        && uv_read_start ((uv_stream_t *) &v[i]->pipe, mu_proc_on_alloc,
                          mu_proc_on_read) == 0)
      v[i]->paused = false;
}

int
mu_proc_running (const mu_proc_t *p)
{
  return p && p->spawned && !p->exited;
}

char *
mu_proc_stderr_tail (const mu_proc_t *p)
{
  size_t total = 1;
  size_t first = (p->tail_next + p->tail_cap - p->tail_count) % p->tail_cap;
  for (size_t i = 0; i < p->tail_count; i++)
    total += p->tail_len[(first + i) % p->tail_cap] + 1;
  char *s = malloc (total);
  if (!s)
    return NULL;
  size_t n = 0;
  for (size_t i = 0; i < p->tail_count; i++)
    {
      size_t slot = (first + i) % p->tail_cap;
      if (i > 0)
        s[n++] = '\n';
      memcpy (s + n, p->tail + slot * MU_PROC_TAIL_LINE_MAX, p->tail_len[slot]);
      n += p->tail_len[slot];
    }
  s[n] = '\0';
  return s;
}

void
mu_proc_close (mu_proc_t **p_p)
{
  if (!p_p || !*p_p)
    return;
  mu_proc_t *p = *p_p;
  *p_p = NULL;
  if (p->closing)
    return;
  mu_proc_teardown (p);
}
