/*
 * out_queue_test.c — the non-blocking console of out_queue.c on real
 * pipes and files: a reader that does not read never blocks the writer,
 * holds back past the limit and gets every byte in order once it reads;
 * the caller's file stays blocking; a vanished reader is a failure, not
 * a SIGPIPE; closing waits for the rest.  And with spawn.c: a worker
 * whose console holds back is paused, not cut, and all of its lines
 * arrive; one that exited meanwhile is still reported.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <muster/error.h>

#include "worker/out_queue.h"
#include "worker/spawn.h"

typedef struct events {
  int hold, resume, failed;
} events_t;

static void
on_event (void *arg, mu_outq_t *q, mu_outq_event_t ev)
{
  events_t *e = arg;
  (void)q;
  if (ev == MU_OUTQ_HOLD)
    e->hold++;
  else if (ev == MU_OUTQ_RESUME)
    e->resume++;
  else if (ev == MU_OUTQ_FAILED)
    e->failed++;
}

/* Read what is in the (non-blocking) read end into out (cap bytes). */
static size_t
read_some (int fd, char *out, size_t have, size_t cap)
{
  for (;;)
    {
      ssize_t r = read (fd, out + have, cap - have);
      if (r <= 0)
        return have;
      have += (size_t)r;
    }
}

/* ...at most max bytes more. */
static size_t
read_some_max (int fd, char *out, size_t have, size_t max)
{
  size_t want = max;
  while (want > 0)
    {
      ssize_t r = read (fd, out + have, want);
      if (r <= 0)
        break;
      have += (size_t)r;
      want -= (size_t)r;
    }
  return have;
}

static void
test_pipe_backpressure (void **state)
{
  (void)state;
  uv_loop_t loop;
  uv_loop_init (&loop);
  int p[2];
  assert_int_equal (pipe (p), 0);
  int rflags = fcntl (p[0], F_GETFL);
  fcntl (p[0], F_SETFL, rflags | O_NONBLOCK);
  mu_outq_t *q = NULL;
  mu_outq_opts_t o = { .fd = p[1], .name = "stdout", .limit = 64 * 1024 };
  assert_int_equal (mu_outq_new (&loop, &o, &q), 0);
  assert_string_equal (mu_outq_name (q), "stdout");
  events_t ev = { 0 };
  assert_int_equal (mu_outq_watch (q, on_event, &ev), 0);
  /* 1 MiB into a 64 KiB pipe nobody reads: every write returns at once. */
  enum { REC = 16, NREC = 65536 };
  char rec[REC + 1];
  for (unsigned i = 0; i < NREC; i++)
    {
      snprintf (rec, sizeof rec, "%014u\n", i);
      assert_int_equal (mu_outq_write (q, rec, REC), 0);
    }
  assert_int_equal (ev.hold, 1);
  assert_int_equal (mu_outq_held (q), 1);
  assert_true (mu_outq_pending (q) > 0);
  /* The caller's description was not made non-blocking. */
  assert_int_equal (fcntl (p[1], F_GETFL) & O_NONBLOCK, 0);
  /* The reader wakes up: everything arrives, in order. */
  size_t total = (size_t)REC * NREC, have = 0;
  char *got = malloc (total + 1);
  assert_non_null (got);
  while (have < total)
    {
      have = read_some (p[0], got, have, total);
      uv_run (&loop, UV_RUN_NOWAIT);
    }
  for (unsigned i = 0; i < NREC; i++)
    {
      snprintf (rec, sizeof rec, "%014u\n", i);
      assert_memory_equal (got + (size_t)i * REC, rec, REC);
    }
  assert_int_equal (ev.resume, 1);
  assert_int_equal (mu_outq_held (q), 0);
  assert_int_equal (mu_outq_pending (q), 0);
  assert_int_equal (ev.failed, 0);
  mu_outq_unwatch (q, on_event, &ev);
  mu_outq_close (&q);
  assert_null (q);
  uv_run (&loop, UV_RUN_DEFAULT);
  assert_int_equal (uv_loop_close (&loop), 0);
  free (got);
  close (p[0]);
  close (p[1]);
}

static void
test_reader_gone (void **state)
{
  (void)state;
  uv_loop_t loop;
  uv_loop_init (&loop);
  int p[2];
  assert_int_equal (pipe (p), 0);
  mu_outq_t *q = NULL;
  mu_outq_opts_t o = { .fd = p[1], .name = "stderr" };
  assert_int_equal (mu_outq_new (&loop, &o, &q), 0);
  events_t ev = { 0 };
  assert_int_equal (mu_outq_watch (q, on_event, &ev), 0);
  assert_int_equal (mu_outq_write (q, "a\n", 2), 0);
  close (p[0]);
  /* No SIGPIPE (this test would die of it): a failure, said once, and
   * what follows is dropped. */
  assert_int_equal (mu_outq_write (q, "b\n", 2), -EPIPE);
  assert_int_equal (ev.failed, 1);
  assert_int_equal (mu_outq_write (q, "c\n", 2), -EPIPE);
  assert_int_equal (ev.failed, 1);
  assert_int_equal (mu_outq_pending (q), 0);
  mu_outq_close (&q);
  uv_run (&loop, UV_RUN_DEFAULT);
  assert_int_equal (uv_loop_close (&loop), 0);
  close (p[1]);
}

static void
test_file_and_bad_fd (void **state)
{
  (void)state;
  uv_loop_t loop;
  uv_loop_init (&loop);
  mu_outq_t *q = NULL;
  mu_outq_opts_t bad = { .fd = -1 };
  assert_int_equal (mu_outq_new (&loop, &bad, &q), MUSTER_EINVAL);
  assert_null (q);
  FILE *f = tmpfile ();
  assert_non_null (f);
  mu_outq_opts_t o = { .fd = fileno (f), .name = "stdout", .limit = 16 };
  assert_int_equal (mu_outq_new (&loop, &o, &q), 0);
  for (int i = 0; i < 100; i++)
    assert_int_equal (mu_outq_write (q, "0123456789\n", 11), 0);
  assert_int_equal (mu_outq_pending (q), 0); /* a file takes it all */
  assert_int_equal (mu_outq_held (q), 0);
  mu_outq_close (&q);
  uv_run (&loop, UV_RUN_DEFAULT);
  assert_int_equal (uv_loop_close (&loop), 0);
  assert_int_equal (lseek (fileno (f), 0, SEEK_END), 1100);
  fclose (f);
  mu_outq_close (&q); /* NULL is fine */
  mu_outq_close (NULL);
}

/* stdout and stderr on one pipe (2>&1), a slow reader, lines of many
 * lengths: no line is ever cut by the other queue's, and each queue's
 * lines keep their order. */
static void
test_shared_pipe_keeps_lines_whole (void **state)
{
  (void)state;
  uv_loop_t loop;
  uv_loop_init (&loop);
  int p[2];
  assert_int_equal (pipe (p), 0);
  fcntl (p[0], F_SETFL, fcntl (p[0], F_GETFL) | O_NONBLOCK);
  mu_outq_t *qo = NULL, *qe = NULL;
  mu_outq_opts_t oo = { .fd = p[1], .name = "stdout" };
  mu_outq_opts_t eo = { .fd = p[1], .name = "stderr" };
  assert_int_equal (mu_outq_new (&loop, &oo, &qo), 0);
  assert_int_equal (mu_outq_new (&loop, &eo, &qe), 0);
  enum { LINES = 400 };
  static char line[3000], fillers[2][3000];
  memset (fillers[0], 'O', sizeof fillers[0]);
  memset (fillers[1], 'E', sizeof fillers[1]);
  size_t cap = (size_t)LINES * 2 * 2920, have = 0;
  char *got = malloc (cap + 1);
  assert_non_null (got);
  /* stdout fills the pipe (and queues the rest); the reader takes a
   * little, stdout writes what fits of its queue, the reader takes a bit
   * more; then stderr, with nothing queued, writes at once: its first
   * line must land after a whole line of stdout's, not inside one. */
  for (int k = 0; k < 2; k++)
    for (int i = 0; i < LINES; i++)
      {
        if (k == 1 && i == 0)
          {
            have = read_some_max (p[0], got, have, 5000);
            uv_run (&loop, UV_RUN_NOWAIT); /* stdout writes what fits */
            have = read_some_max (p[0], got, have, 8192);
          }
        /* "<o|e> <i> <filler of 1..2900 bytes>\n" */
        int len = snprintf (line, sizeof line, "%c %d ", k ? 'e' : 'o', i);
        int fill = 1 + (i * 37 + k * 11) % 2900;
        memset (line + len, k ? 'E' : 'O', (size_t)fill);
        line[len + fill] = '\n';
        assert_int_equal (mu_outq_write (k ? qe : qo, line,
                                         (size_t)(len + fill + 1)), 0);
      }
  while (mu_outq_pending (qo) > 0 || mu_outq_pending (qe) > 0)
    {
      have = read_some (p[0], got, have, cap);
      uv_run (&loop, UV_RUN_NOWAIT);
    }
  have = read_some (p[0], got, have, cap);
  got[have] = '\0';
  int next[2] = { 0, 0 };
  for (char *l = got; *l;)
    {
      char *nl = strchr (l, '\n');
      assert_non_null (nl);
      int k = l[0] == 'e';
      assert_true (l[0] == 'o' || l[0] == 'e');
      int i = atoi (l + 2);
      assert_int_equal (i, next[k]);
      next[k]++;
      char *f = strchr (l + 2, ' ') + 1;
      size_t fill = (size_t)(nl - f);
      assert_int_equal (fill, (size_t)(1 + (i * 37 + k * 11) % 2900));
      assert_memory_equal (f, fillers[k], fill);
      l = nl + 1;
    }
  assert_int_equal (next[0], LINES);
  assert_int_equal (next[1], LINES);
  mu_outq_close (&qo);
  mu_outq_close (&qe);
  uv_run (&loop, UV_RUN_DEFAULT);
  assert_int_equal (uv_loop_close (&loop), 0);
  free (got);
  close (p[0]);
  close (p[1]);
}

typedef struct reader {
  int fd;
  size_t want, got;
} reader_t;

static void *
reader_main (void *arg)
{
  reader_t *r = arg;
  char buf[8192];
  struct timespec nap = { 0, 50 * 1000 * 1000 };
  nanosleep (&nap, NULL); /* let the writer find the pipe full */
  while (r->got < r->want)
    {
      ssize_t n = read (r->fd, buf, sizeof buf);
      if (n <= 0)
        break;
      r->got += (size_t)n;
    }
  return NULL;
}

static void
test_close_waits_for_the_rest (void **state)
{
  (void)state;
  uv_loop_t loop;
  uv_loop_init (&loop);
  int p[2];
  assert_int_equal (pipe (p), 0);
  mu_outq_t *q = NULL;
  mu_outq_opts_t o = { .fd = p[1], .name = "stdout" };
  assert_int_equal (mu_outq_new (&loop, &o, &q), 0);
  static char block[256 * 1024];
  memset (block, 'z', sizeof block);
  assert_int_equal (mu_outq_write (q, block, sizeof block), 0);
  assert_true (mu_outq_pending (q) > 0);
  reader_t r = { .fd = p[0], .want = sizeof block };
  pthread_t th;
  assert_int_equal (pthread_create (&th, NULL, reader_main, &r), 0);
  mu_outq_close (&q); /* nothing is dropped at the end */
  close (p[1]);
  pthread_join (th, NULL);
  assert_int_equal (r.got, sizeof block);
  uv_run (&loop, UV_RUN_DEFAULT);
  assert_int_equal (uv_loop_close (&loop), 0);
  close (p[0]);
}

typedef struct exit_seen {
  int done;
  int64_t code;
} exit_seen_t;

static void
on_exit_cb (mu_proc_t *p, int64_t code, int sig, void *arg)
{
  exit_seen_t *e = arg;
  (void)p;
  (void)sig;
  e->done = 1;
  e->code = code;
}

static void
resume_proc (void *arg, mu_outq_t *q, mu_outq_event_t ev)
{
  (void)q;
  if (ev == MU_OUTQ_RESUME)
    mu_proc_resume_output (*(mu_proc_t **)arg);
}

/* A worker writes far more than the console takes while nobody reads:
 * its stream is paused (it blocks in write), its exit waits for its
 * output, and once the console is read every line arrives, in order. */
static void
test_worker_held_back (void **state)
{
  (void)state;
  uv_loop_t loop;
  uv_loop_init (&loop);
  int p[2];
  assert_int_equal (pipe (p), 0);
  fcntl (p[0], F_SETFL, fcntl (p[0], F_GETFL) | O_NONBLOCK);
  mu_outq_t *q = NULL;
  mu_outq_opts_t o = { .fd = p[1], .name = "stdout", .limit = 4096 };
  assert_int_equal (mu_outq_new (&loop, &o, &q), 0);
  events_t ev = { 0 };
  mu_proc_t *proc = NULL;
  assert_int_equal (mu_outq_watch (q, on_event, &ev), 0);
  assert_int_equal (mu_outq_watch (q, resume_proc, &proc), 0);
  enum { LINES = 20000 };
  char script[200];
  snprintf (script, sizeof script,
            "i=0; while [ $i -lt %d ]; do echo \"line $i\"; i=$((i+1)); done",
            LINES);
  char *argv[] = { (char *)"/bin/sh", (char *)"-c", script, NULL };
  exit_seen_t seen = { 0 };
  mu_proc_opts_t po = { .argv = argv, .prefix = "[w 0] ", .out_fd = -1,
                        .err_fd = -1, .out_q = q, .on_exit = on_exit_cb,
                        .arg = &seen };
  assert_int_equal (mu_proc_spawn (&loop, &po, &proc), 0);
  /* Nobody reads until the console has held back. */
  while (ev.hold == 0 && !seen.done)
    uv_run (&loop, UV_RUN_ONCE);
  assert_int_equal (ev.hold, 1);
  /* Held: the worker's pipe is not read any more, so it blocks instead
   * of finishing, and the queue stays bounded (its limit plus what was in
   * hand: a pipe's worth and a line buffer). */
  struct timespec ms = { 0, 1000 * 1000 };
  for (int i = 0; i < 500 && !seen.done; i++)
    {
      uv_run (&loop, UV_RUN_NOWAIT);
      nanosleep (&ms, NULL);
    }
  assert_int_equal (seen.done, 0); /* its output is not given up on */
  assert_true (mu_outq_pending (q) <= 4096 + 65536 + MU_PROC_LINE_MAX);
  size_t cap = (size_t)LINES * 20 + 1, have = 0;
  char *got = malloc (cap);
  assert_non_null (got);
  while (!seen.done || mu_outq_pending (q) > 0)
    {
      have = read_some (p[0], got, have, cap - 1);
      uv_run (&loop, UV_RUN_NOWAIT);
    }
  have = read_some (p[0], got, have, cap - 1);
  got[have] = '\0';
  assert_int_equal (seen.code, 0);
  assert_true (ev.resume >= 1);
  char *line = got;
  for (int i = 0; i < LINES; i++)
    {
      char want[40];
      int n = snprintf (want, sizeof want, "[w 0] line %d\n", i);
      assert_memory_equal (line, want, (size_t)n);
      line += n;
    }
  assert_int_equal (*line, '\0');
  mu_proc_close (&proc);
  mu_outq_close (&q);
  uv_run (&loop, UV_RUN_DEFAULT);
  assert_int_equal (uv_loop_close (&loop), 0);
  free (got);
  close (p[0]);
  close (p[1]);
}

static void
on_guard (uv_timer_t *t)
{
  *(int *)t->data = 1;
}

/* A worker that exits while its console holds back (the console filled
 * by others, never read meanwhile) is still read to the end and its exit
 * reported: a stalled console never keeps a job from ending, and its
 * lines are all there when the console is read. */
static void
test_exited_worker_not_held (void **state)
{
  (void)state;
  uv_loop_t loop;
  uv_loop_init (&loop);
  int p[2];
  assert_int_equal (pipe (p), 0);
  fcntl (p[0], F_SETFL, fcntl (p[0], F_GETFL) | O_NONBLOCK);
  mu_outq_t *q = NULL;
  mu_outq_opts_t o = { .fd = p[1], .name = "stdout", .limit = 4096 };
  assert_int_equal (mu_outq_new (&loop, &o, &q), 0);
  static char block[128 * 1024];
  memset (block, 'z', sizeof block);
  block[sizeof block - 1] = '\n';
  assert_int_equal (mu_outq_write (q, block, sizeof block), 0);
  assert_int_equal (mu_outq_held (q), 1);
  char *argv[] = { (char *)"/bin/sh", (char *)"-c",
                   (char *)"i=0; while [ $i -lt 100 ]; do echo \"n $i\"; "
                           "i=$((i+1)); done", NULL };
  exit_seen_t seen = { 0 };
  mu_proc_t *proc = NULL;
  mu_proc_opts_t po = { .argv = argv, .prefix = "[w 1] ", .out_fd = -1,
                        .err_fd = -1, .out_q = q, .on_exit = on_exit_cb,
                        .arg = &seen };
  assert_int_equal (mu_proc_spawn (&loop, &po, &proc), 0);
  /* It writes less than its pipe holds and exits; nobody reads the
   * console meanwhile.  (A guard ends the wait if the exit never comes.) */
  uv_timer_t guard;
  int expired = 0;
  uv_timer_init (&loop, &guard);
  guard.data = &expired;
  uv_timer_start (&guard, on_guard, 30000, 0);
  while (!seen.done && !expired)
    uv_run (&loop, UV_RUN_ONCE);
  uv_close ((uv_handle_t *)&guard, NULL);
  assert_int_equal (expired, 0);
  assert_int_equal (seen.code, 0);
  assert_int_equal (mu_outq_held (q), 1);
  size_t cap = sizeof block + 100 * 16, have = 0;
  char *got = malloc (cap + 1);
  assert_non_null (got);
  while (mu_outq_pending (q) > 0)
    {
      have = read_some (p[0], got, have, cap);
      uv_run (&loop, UV_RUN_NOWAIT);
    }
  have = read_some (p[0], got, have, cap);
  got[have] = '\0';
  char *line = got + sizeof block;
  for (int i = 0; i < 100; i++)
    {
      char want[32];
      int n = snprintf (want, sizeof want, "[w 1] n %d\n", i);
      assert_memory_equal (line, want, (size_t)n);
      line += n;
    }
  assert_int_equal (*line, '\0');
  mu_proc_close (&proc);
  mu_outq_close (&q);
  uv_run (&loop, UV_RUN_DEFAULT);
  assert_int_equal (uv_loop_close (&loop), 0);
  free (got);
  close (p[0]);
  close (p[1]);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_pipe_backpressure),
    cmocka_unit_test (test_reader_gone),
    cmocka_unit_test (test_file_and_bad_fd),
    cmocka_unit_test (test_close_waits_for_the_rest),
    cmocka_unit_test (test_shared_pipe_keeps_lines_whole),
    cmocka_unit_test (test_worker_held_back),
    cmocka_unit_test (test_exited_worker_not_held),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
