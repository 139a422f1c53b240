/*
 * spawn_test.c — tests of spawn.c and muster-exec together: real processes
 * (/bin/sh scripts) started through the built muster-exec on a private libuv
 * loop, checking exit codes and signals as the agent sees them, whole-line
 * prefixed output, the stderr tail, exec failures, graceful stop, and that
 * no process is left behind, neither when a worker exits nor when the agent
 * itself is SIGKILLed.
 *
 * muster-exec is found through env MUSTER_EXEC_PATH, else next to this test
 * binary (both are built into <build>/bin).  Scripts report pids and
 * readiness through files in a per-test temporary directory.  Nothing here
 * asserts on timing except generous upper bounds (5 s for processes to
 * disappear) and the lower bound of a SIGKILL grace, which timers guarantee.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <muster/error.h>

#include "worker/spawn.h"
#include "worker/spawner.h"

/* ---------------------------------------------------------------- helpers */

typedef struct fixture {
  char exec_path[PATH_MAX + 32];
  char dir[64];
  int nfds; /* open fds before the test: none may leak */
  uv_loop_t loop;
  mu_spawner_t *sp; /* MUSTER_SPAWN_TEST_SPAWNER=1: every spawn through
                       the resident spawner (spawner.h); else NULL */
} fixture_t;

typedef struct result {
  int called;
  int64_t code;
  int sig;
  char *tail;
} result_t;

static void
on_exit_cb (mu_proc_t *p, int64_t code, int sig, void *arg)
{
  result_t *r = arg;
  r->called++;
  r->code = code;
  r->sig = sig;
  free (r->tail);
  r->tail = mu_proc_stderr_tail (p);
  assert_non_null (r->tail);
}

static uint64_t
now_ms (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

static int
count_fds (void)
{
  DIR *d = opendir ("/proc/self/fd");
  assert_non_null (d);
  int n = 0;
  while (readdir (d))
    n++;
  closedir (d);
  return n;
}

static int
setup (void **state)
{
  fixture_t *f = calloc (1, sizeof *f);
  assert_non_null (f);
  const char *env = getenv ("MUSTER_EXEC_PATH");
  if (env)
    snprintf (f->exec_path, sizeof f->exec_path, "%s", env);
  else
    {
      char self[PATH_MAX];
      ssize_t n = readlink ("/proc/self/exe", self, sizeof self - 1);
      assert_true (n > 0);
      self[n] = '\0';
      char *slash = strrchr (self, '/');
      assert_non_null (slash);
      *slash = '\0';
      snprintf (f->exec_path, sizeof f->exec_path, "%s/muster-exec", self);
    }
  if (access (f->exec_path, X_OK) != 0)
    fail_msg ("muster-exec not found at %s (set MUSTER_EXEC_PATH)",
              f->exec_path);
  snprintf (f->dir, sizeof f->dir, "/tmp/mu_spawn_XXXXXX");
  assert_non_null (mkdtemp (f->dir));
  f->nfds = count_fds ();
  assert_int_equal (uv_loop_init (&f->loop), 0);
  const char *how = getenv ("MUSTER_SPAWN_TEST_SPAWNER");
  if (how != NULL && strcmp (how, "1") == 0)
    assert_non_null (f->sp = mu_spawner_new (f->exec_path));
  *state = f;
  return 0;
}

static int
teardown (void **state)
{
  fixture_t *f = *state;
  /* Run any pending close callbacks, then the loop must close cleanly. */
  uv_run (&f->loop, UV_RUN_DEFAULT);
  assert_int_equal (uv_loop_close (&f->loop), 0);
  mu_spawner_destroy (&f->sp);
  assert_null (f->sp);
  assert_int_equal (count_fds (), f->nfds);
  char cmd[128];
  snprintf (cmd, sizeof cmd, "rm -rf '%s'", f->dir);
  assert_int_equal (system (cmd), 0);
  free (f);
  return 0;
}

static void
path_in (const fixture_t *f, const char *name, char *buf, size_t size)
{
  snprintf (buf, size, "%s/%s", f->dir, name);
}

/* A temporary file to capture prefixed output in. */
static int
capture_fd (const fixture_t *f, const char *name)
{
  char p[PATH_MAX];
  path_in (f, name, p, sizeof p);
  int fd = open (p, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  assert_true (fd >= 0);
  return fd;
}

/* Whole contents of fd's file (from its start), NUL-terminated; caller
 * frees. */
static char *
slurp_fd (int fd, size_t *len_out)
{
  struct stat st;
  assert_int_equal (fstat (fd, &st), 0);
  char *b = malloc ((size_t) st.st_size + 1);
  assert_non_null (b);
  ssize_t n = pread (fd, b, (size_t) st.st_size, 0);
  assert_int_equal (n, st.st_size);
  b[n] = '\0';
  if (len_out)
    *len_out = (size_t) n;
  return b;
}

static int
read_pid_file (const char *path)
{
  FILE *fp = fopen (path, "r");
  if (!fp)
    return -1;
  int pid = -1;
  if (fscanf (fp, "%d", &pid) != 1)
    pid = -1;
  fclose (fp);
  return pid;
}

/* Wait up to ms for a file to exist. */
static bool
wait_file (const char *path, uint64_t ms)
{
  uint64_t end = now_ms () + ms;
  while (access (path, F_OK) != 0)
    {
      if (now_ms () > end)
        return false;
      usleep (5000);
    }
  return true;
}

static bool
is_zombie (int pid)
{
  char p[64], buf[512];
  snprintf (p, sizeof p, "/proc/%d/stat", pid);
  int fd = open (p, O_RDONLY);
  if (fd < 0)
    return false;
  ssize_t n = read (fd, buf, sizeof buf - 1);
  close (fd);
  if (n <= 0)
    return false;
  buf[n] = '\0';
  char *rp = strrchr (buf, ')');
  return rp && rp[1] == ' ' && rp[2] == 'Z';
}

/* Is pid gone (or a zombie, i.e. dead and only awaiting its reaper) within
 * ms?  With reap set, also reaps our own orphaned children meanwhile. */
static bool
wait_gone (int pid, uint64_t ms, bool reap)
{
  uint64_t end = now_ms () + ms;
  for (;;)
    {
      if (reap)
        while (waitpid (-1, NULL, WNOHANG) > 0)
          ;
      if ((kill (pid, 0) != 0 && errno == ESRCH) || is_zombie (pid))
        return true;
      if (now_ms () > end)
        return false;
      usleep (10000);
    }
}

/* Watchdog: fails the test instead of hanging the loop forever. */
static void
on_watchdog (uv_timer_t *t)
{
  (void) t;
  fail_msg ("test loop ran for more than 30 s");
}

static void
run_loop (fixture_t *f)
{
  uv_timer_t wd;
  uv_timer_init (&f->loop, &wd);
  uv_timer_start (&wd, on_watchdog, 30000, 0);
  uv_unref ((uv_handle_t *) &wd);
  uv_run (&f->loop, UV_RUN_DEFAULT);
  uv_close ((uv_handle_t *) &wd, NULL);
  uv_run (&f->loop, UV_RUN_NOWAIT);
}

/* Spawn `sh -c script` through muster-exec, run the loop to completion. */
static mu_proc_t *
spawn_sh (fixture_t *f, const char *script, const char *prefix, int out_fd,
          int err_fd, size_t tail_lines, result_t *r)
{
  char *argv[] = { "/bin/sh", "-c", (char *) script, NULL };
  mu_proc_opts_t o = { .exec_helper = f->exec_path, .spawner = f->sp,
                       .argv = argv,
                       .prefix = prefix,
                       .out_fd = out_fd,
                       .err_fd = err_fd,
                       .tail_lines = tail_lines,
                       .on_exit = on_exit_cb,
                       .arg = r };
  mu_proc_t *p = NULL;
  assert_int_equal (mu_proc_spawn (&f->loop, &o, &p), 0);
  assert_non_null (p);
  assert_true (mu_proc_pid (p) > 0);
  assert_true (mu_proc_running (p));
  return p;
}

static void
run_sh (fixture_t *f, const char *script, const char *prefix, int out_fd,
        int err_fd, size_t tail_lines, result_t *r)
{
  mu_proc_t *p = spawn_sh (f, script, prefix, out_fd, err_fd, tail_lines, r);
  run_loop (f);
  assert_int_equal (r->called, 1);
  assert_false (mu_proc_running (p));
  mu_proc_close (&p);
  assert_null (p);
}

/* A forked "agent" needs its own spawner: the supervisors it forks
 * become the children of the spawner's parent (CLONE_PARENT). */
static mu_spawner_t *
agent_spawner (const fixture_t *f)
{
  return f->sp != NULL ? mu_spawner_new (f->exec_path) : NULL;
}

/* ------------------------------------------------------------------ tests */

static void
test_exit_code (void **state)
{
  fixture_t *f = *state;
  result_t r = { 0 };
  run_sh (f, "exit 3", NULL, -1, -1, 0, &r);
  assert_int_equal (r.code, 3);
  assert_int_equal (r.sig, 0);
  assert_string_equal (r.tail, "");
  free (r.tail);
}

static void
test_signal_kill9 (void **state)
{
  fixture_t *f = *state;
  result_t r = { 0 };
  run_sh (f, "kill -9 $$", NULL, -1, -1, 0, &r);
  assert_int_equal (r.sig, SIGKILL);
  assert_int_equal (r.code, 0);
  free (r.tail);
}

/* A blockable signal takes muster-exec's reset-unblock-raise path. */
static void
test_signal_usr1 (void **state)
{
  fixture_t *f = *state;
  result_t r = { 0 };
  run_sh (f, "kill -USR1 $$", NULL, -1, -1, 0, &r);
  assert_int_equal (r.sig, SIGUSR1);
  free (r.tail);
}

/* Count lines of `text` equal to `line`. */
static int
count_lines (const char *text, const char *line)
{
  int n = 0;
  size_t len = strlen (line);
  for (const char *p = text; *p;)
    {
      const char *nl = strchr (p, '\n');
      size_t l = nl ? (size_t) (nl - p) : strlen (p);
      if (l == len && memcmp (p, line, len) == 0)
        n++;
      p += l + (nl ? 1 : 0);
    }
  return n;
}


/* Log files (--log_dir): stdout redirected (the file only, raw lines),
 * stderr teed (the raw lines in the file, prefixed ones on the console). */
static void
test_log_files (void **state)
{
  fixture_t *f = *state;
  result_t r = { 0 };
  int out = capture_fd (f, "out"), err = capture_fd (f, "err");
  mu_proc_files_t files = { .fd = { capture_fd (f, "stdout.log"),
                                    capture_fd (f, "stderr.log") },
                            .redirect = { 1, 0 } };
  char *argv[] = { "/bin/sh", "-c",
                   "echo o1; echo e1 >&2; printf 'o2'; printf 'e2' >&2", NULL };
  mu_proc_opts_t o = { .exec_helper = f->exec_path, .spawner = f->sp, .argv = argv,
                       .prefix = "[w 5] ", .out_fd = out, .err_fd = err,
                       .on_exit = on_exit_cb, .arg = &r, .files = &files };
  mu_proc_t *p = NULL;
  assert_int_equal (mu_proc_spawn (&f->loop, &o, &p), 0);
  run_loop (f);
  assert_int_equal (r.called, 1);
  mu_proc_close (&p);
  run_loop (f); /* the proc, and with it the log files, are closed */
  char *o_con = slurp_fd (out, NULL), *e_con = slurp_fd (err, NULL);
  char path[PATH_MAX];
  path_in (f, "stdout.log", path, sizeof path);
  int lo = open (path, O_RDONLY);
  path_in (f, "stderr.log", path, sizeof path);
  int le = open (path, O_RDONLY);
  char *o_log = slurp_fd (lo, NULL), *e_log = slurp_fd (le, NULL);
  assert_string_equal (o_con, "");            /* redirected */
  assert_string_equal (o_log, "o1\no2\n");    /* raw, last line completed */
  assert_string_equal (e_con, "[w 5] e1\n[w 5] e2\n"); /* teed */
  assert_string_equal (e_log, "e1\ne2\n");
  free (o_con);
  free (e_con);
  free (o_log);
  free (e_log);
  free (r.tail);
  close (lo);
  close (le);
  close (out);
  close (err);
}

static int file_errors, file_error_stream, file_error_code;

static void
on_file_error (mu_proc_t *p, int stream, int err, void *arg)
{
  (void) p;
  (void) arg;
  file_errors++;
  file_error_stream = stream;
  file_error_code = err;
}

/* A log file that cannot be written (/dev/full: ENOSPC) is reported once
 * and its stream goes to the console from then on: nothing is lost. */
static void
test_log_file_error (void **state)
{
  fixture_t *f = *state;
  result_t r = { 0 };
  file_errors = 0;
  int out = capture_fd (f, "out");
  int full = open ("/dev/full", O_WRONLY | O_CLOEXEC);
  assert_true (full >= 0);
  mu_proc_files_t files = { .fd = { full, -1 }, .redirect = { 1, 0 },
                            .on_error = on_file_error };
  char *argv[] = { "/bin/sh", "-c", "echo a; echo b", NULL };
  mu_proc_opts_t o = { .exec_helper = f->exec_path, .spawner = f->sp, .argv = argv,
                       .prefix = "[w 0] ", .out_fd = out, .err_fd = -1,
                       .on_exit = on_exit_cb, .arg = &r, .files = &files };
  mu_proc_t *p = NULL;
  assert_int_equal (mu_proc_spawn (&f->loop, &o, &p), 0);
  run_loop (f);
  mu_proc_close (&p);
  run_loop (f);
  char *con = slurp_fd (out, NULL);
  assert_int_equal (file_errors, 1);
  assert_int_equal (file_error_stream, 0);
  assert_int_equal (file_error_code, -ENOSPC);
  assert_string_equal (con, "[w 0] a\n[w 0] b\n");
  free (con);
  free (r.tail);
  close (out);
}

/* A spawn that fails still closes the log files it was given. */
static void
test_log_files_spawn_fails (void **state)
{
  fixture_t *f = *state;
  mu_proc_files_t files = { .fd = { capture_fd (f, "a.log"),
                                    capture_fd (f, "b.log") } };
  char *argv[] = { "/bin/true", NULL };
  mu_proc_opts_t o = { .exec_helper = "/nonexistent/muster-exec",
                       .argv = argv, .out_fd = -1, .err_fd = -1,
                       .files = &files };
  mu_proc_t *p = NULL;
  assert_int_equal (mu_proc_spawn (&f->loop, &o, &p), -ENOENT);
  assert_null (p); /* teardown checks no fd leaked */
}

/* Two workers print lines in several pieces with pauses between them, into
 * the same file; every line must come out whole and prefixed. */
static void
test_prefix_whole_lines (void **state)
{
  fixture_t *f = *state;
  int out = capture_fd (f, "out");
  int err = capture_fd (f, "err");
  const char *script = "for i in 1 2 3 4 5; do printf \"$0-$i-\"; "
                       "sleep 0.02; printf 'mid-'; sleep 0.01; "
                       "printf 'end\\n'; done; "
                       "printf 'err1\\nerr2-' >&2; sleep 0.02; "
                       "printf 'last-no-newline'";
  result_t ra = { 0 }, rb = { 0 };
  char *argv_a[] = { "/bin/sh", "-c", (char *) script, "A", NULL };
  char *argv_b[] = { "/bin/sh", "-c", (char *) script, "B", NULL };
  mu_proc_opts_t o = { .exec_helper = f->exec_path, .spawner = f->sp,
                       .argv = argv_a,
                       .prefix = "[a] ",
                       .out_fd = out,
                       .err_fd = err,
                       .on_exit = on_exit_cb,
                       .arg = &ra };
  mu_proc_t *pa = NULL, *pb = NULL;
  assert_int_equal (mu_proc_spawn (&f->loop, &o, &pa), 0);
  o.argv = argv_b;
  o.prefix = "[worker b] ";
  o.arg = &rb;
  assert_int_equal (mu_proc_spawn (&f->loop, &o, &pb), 0);
  run_loop (f);
  assert_int_equal (ra.called, 1);
  assert_int_equal (rb.called, 1);
  assert_int_equal (ra.code, 0);
  assert_int_equal (rb.code, 0);

  char *text = slurp_fd (out, NULL);
  char line[64];
  for (int i = 1; i <= 5; i++)
    {
      snprintf (line, sizeof line, "[a] A-%d-mid-end", i);
      assert_int_equal (count_lines (text, line), 1);
      snprintf (line, sizeof line, "[worker b] B-%d-mid-end", i);
      assert_int_equal (count_lines (text, line), 1);
    }
  assert_int_equal (count_lines (text, "[a] last-no-newline"), 1);
  assert_int_equal (count_lines (text, "[worker b] last-no-newline"), 1);
  /* 12 lines in all, nothing else, and the file ends with a newline */
  int lines = 0;
  for (char *c = text; *c; c++)
    lines += *c == '\n';
  assert_int_equal (lines, 12);
  assert_int_equal (text[strlen (text) - 1], '\n');
  /* per worker, its lines keep their order */
  char *a1 = strstr (text, "[a] A-1-"), *a5 = strstr (text, "[a] A-5-");
  assert_true (a1 && a5 && a1 < a5);
  free (text);

  text = slurp_fd (err, NULL);
  assert_int_equal (count_lines (text, "[a] err1"), 1);
  assert_int_equal (count_lines (text, "[a] err2-"), 1);
  assert_int_equal (count_lines (text, "[worker b] err1"), 1);
  assert_int_equal (count_lines (text, "[worker b] err2-"), 1);
  free (text);
  assert_string_equal (ra.tail, "err1\nerr2-");
  mu_proc_close (&pa);
  mu_proc_close (&pb);
  free (ra.tail);
  free (rb.tail);
  close (out);
  close (err);
}

/* A line longer than MU_PROC_LINE_MAX goes out in prefixed pieces. */
static void
test_long_line (void **state)
{
  fixture_t *f = *state;
  int out = capture_fd (f, "out");
  result_t r = { 0 };
  run_sh (f, "head -c 70000 /dev/zero | tr '\\0' x; echo; echo short",
          "[L] ", out, -1, 0, &r);
  assert_int_equal (r.code, 0);
  size_t len;
  char *text = slurp_fd (out, &len);
  size_t rest = 70000 - MU_PROC_LINE_MAX;
  assert_int_equal (len, (4 + MU_PROC_LINE_MAX + 1) + (4 + rest + 1)
                             + strlen ("[L] short\n"));
  assert_memory_equal (text, "[L] xxxx", 8);
  assert_int_equal (text[4 + MU_PROC_LINE_MAX], '\n');
  char *second = text + 4 + MU_PROC_LINE_MAX + 1;
  assert_memory_equal (second, "[L] x", 5);
  assert_int_equal (second[4 + rest], '\n');
  assert_string_equal (second + 4 + rest + 1, "[L] short\n");
  free (text);
  free (r.tail);
  close (out);
}

static void
test_stderr_tail (void **state)
{
  fixture_t *f = *state;
  result_t r = { 0 };
  run_sh (f, "i=1; while [ $i -le 30 ]; do echo l$i >&2; i=$((i+1)); done; "
             "echo out-not-in-tail",
          NULL, -1, -1, 5, &r);
  assert_string_equal (r.tail, "l26\nl27\nl28\nl29\nl30");
  free (r.tail);

  /* default: 20 lines; long lines are cut at MU_PROC_TAIL_LINE_MAX */
  result_t d = { 0 };
  run_sh (f, "i=1; while [ $i -le 25 ]; do echo m$i >&2; i=$((i+1)); done; "
             "head -c 1000 /dev/zero | tr '\\0' y >&2",
          NULL, -1, -1, 0, &d);
  char want[2048];
  size_t n = 0;
  for (int i = 7; i <= 25; i++)
    n += (size_t) snprintf (want + n, sizeof want - n, "m%d\n", i);
  memset (want + n, 'y', MU_PROC_TAIL_LINE_MAX);
  want[n + MU_PROC_TAIL_LINE_MAX] = '\0';
  assert_string_equal (d.tail, want);
  free (d.tail);
}

static void
test_missing_program (void **state)
{
  fixture_t *f = *state;
  int err = capture_fd (f, "err");
  char *argv[] = { "/nonexistent/prog", "arg", NULL };
  result_t r = { 0 };
  mu_proc_opts_t o = { .exec_helper = f->exec_path, .spawner = f->sp,
                       .argv = argv,
                       .prefix = "[m] ",
                       .out_fd = -1,
                       .err_fd = err,
                       .on_exit = on_exit_cb,
                       .arg = &r };
  mu_proc_t *p = NULL;
  assert_int_equal (mu_proc_spawn (&f->loop, &o, &p), 0);
  run_loop (f);
  assert_int_equal (r.called, 1);
  assert_int_equal (r.code, 127);
  assert_int_equal (r.sig, 0);
  const char *line = "muster-exec: cannot run '/nonexistent/prog': "
                     "No such file or directory";
  assert_string_equal (r.tail, line);
  char *text = slurp_fd (err, NULL);
  char want[256];
  snprintf (want, sizeof want, "[m] %s\n", line);
  assert_string_equal (text, want);
  free (text);
  mu_proc_close (&p);
  free (r.tail);

  /* found but not executable: 126 */
  char path[PATH_MAX];
  path_in (f, "not-exec", path, sizeof path);
  int fd = open (path, O_WRONLY | O_CREAT, 0644);
  assert_true (fd >= 0);
  close (fd);
  char *argv2[] = { path, NULL };
  result_t r2 = { 0 };
  o.argv = argv2;
  o.arg = &r2;
  o.err_fd = -1;
  assert_int_equal (mu_proc_spawn (&f->loop, &o, &p), 0);
  run_loop (f);
  assert_int_equal (r2.code, 126);
  assert_non_null (strstr (r2.tail, "Permission denied"));
  mu_proc_close (&p);
  free (r2.tail);
  close (err);
}

static void
test_missing_helper (void **state)
{
  fixture_t *f = *state;
  char *argv[] = { "/bin/true", NULL };
  result_t r = { 0 };
  mu_proc_opts_t o = { .exec_helper = "/nonexistent/muster-exec",
                       .argv = argv,
                       .out_fd = -1,
                       .err_fd = -1,
                       .on_exit = on_exit_cb,
                       .arg = &r };
  mu_proc_t *p = (mu_proc_t *) &r; /* must be reset */
  assert_int_equal (mu_proc_spawn (&f->loop, &o, &p), -ENOENT);
  assert_null (p);
  /* a helper that exists but is not executable */
  char path[PATH_MAX];
  path_in (f, "helper", path, sizeof path);
  int fd = open (path, O_WRONLY | O_CREAT, 0644);
  assert_true (fd >= 0);
  close (fd);
  o.exec_helper = path;
  assert_int_equal (mu_proc_spawn (&f->loop, &o, &p), -ENOENT);
  assert_null (p);
  /* bad options */
  char *empty[] = { NULL };
  o.exec_helper = f->exec_path;
  o.argv = empty;
  assert_int_equal (mu_proc_spawn (&f->loop, &o, &p), -EINVAL);
  run_loop (f);
  assert_int_equal (r.called, 0);
}

/* ---- a worker holds its stdin, stdout and stderr and nothing else of
 * ours, and its supervisor holds no socket (not the spawner's) */
static void
test_worker_fds (void **state)
{
  fixture_t *f = *state;
  int out = capture_fd (f, "out");
  char *argv[] = { "/bin/ls", "/proc/self/fd", NULL };
  result_t r = { 0 };
  mu_proc_opts_t o = { .exec_helper = f->exec_path, .spawner = f->sp,
                       .argv = argv,
                       .out_fd = out,
                       .err_fd = -1,
                       .on_exit = on_exit_cb,
                       .arg = &r };
  mu_proc_t *p = NULL;
  assert_int_equal (mu_proc_spawn (&f->loop, &o, &p), 0);
  run_loop (f);
  assert_int_equal (r.called, 1);
  assert_int_equal (r.code, 0);
  char *text = slurp_fd (out, NULL);
  assert_string_equal (text, "0\n1\n2\n3\n"); /* 3: ls's own listing */
  free (text);
  mu_proc_close (&p);
  free (r.tail);
  close (out);

  char *sleeper[] = { "/bin/sleep", "30", NULL };
  result_t r2 = { 0 };
  o.argv = sleeper;
  o.out_fd = -1;
  o.arg = &r2;
  assert_int_equal (mu_proc_spawn (&f->loop, &o, &p), 0);
  /* the supervisor has set itself up once it watches its signals */
  char dir[64], link[PATH_MAX], target[256];
  snprintf (dir, sizeof dir, "/proc/%d/fd", mu_proc_pid (p));
  int found_signalfd = 0, sockets = 0;
  for (int tries = 0; tries < 500 && !found_signalfd; tries++)
    {
      sockets = 0;
      DIR *d = opendir (dir);
      assert_non_null (d);
      struct dirent *e;
      while ((e = readdir (d)) != NULL)
        {
          if (e->d_name[0] == '.')
            continue;
          snprintf (link, sizeof link, "%s/%s", dir, e->d_name);
          ssize_t n = readlink (link, target, sizeof target - 1);
          if (n <= 0)
            continue;
          target[n] = '\0';
          found_signalfd |= strstr (target, "signalfd") != NULL;
          sockets += strncmp (target, "socket:", 7) == 0;
        }
      closedir (d);
      if (!found_signalfd)
        usleep (10000);
    }
  assert_true (found_signalfd);
  assert_int_equal (sockets, 0);
  assert_int_equal (mu_proc_signal (p, SIGKILL), 0);
  run_loop (f);
  assert_int_equal (r2.sig, SIGKILL);
  mu_proc_close (&p);
  free (r2.tail);
}

/* Direct mode: no helper; a missing program fails in uv_spawn. */
static void
test_direct (void **state)
{
  fixture_t *f = *state;
  int out = capture_fd (f, "out");
  char *argv[] = { "/bin/sh", "-c", "echo hi; exit 4", NULL };
  result_t r = { 0 };
  mu_proc_opts_t o = { .argv = argv,
                       .prefix = "[d] ",
                       .out_fd = out,
                       .err_fd = -1,
                       .on_exit = on_exit_cb,
                       .arg = &r };
  mu_proc_t *p = NULL;
  assert_int_equal (mu_proc_spawn (&f->loop, &o, &p), 0);
  run_loop (f);
  assert_int_equal (r.called, 1);
  assert_int_equal (r.code, 4);
  char *text = slurp_fd (out, NULL);
  assert_string_equal (text, "[d] hi\n");
  free (text);
  mu_proc_close (&p);
  free (r.tail);

  char *missing[] = { "/nonexistent/prog", NULL };
  o.argv = missing;
  assert_int_equal (mu_proc_spawn (&f->loop, &o, &p), -ENOENT);
  assert_null (p);
  run_loop (f); /* frees the failed handle */
  assert_int_equal (r.called, 1);

  /* argc given: argv need not be NULL-terminated */
  char *counted[] = { "/bin/sh", "-c", "exit 5", "junk-not-null" };
  result_t r3 = { 0 };
  o.argv = counted;
  o.argc = 3;
  o.arg = &r3;
  assert_int_equal (mu_proc_spawn (&f->loop, &o, &p), 0);
  run_loop (f);
  assert_int_equal (r3.code, 5);
  mu_proc_close (&p);
  free (r3.tail);
  close (out);
}

/* Environment: given as a whole; MUSTER_EXEC_PPID is muster-exec's
 * business and does not reach the program. */
static void
test_env (void **state)
{
  fixture_t *f = *state;
  int out = capture_fd (f, "out");
  char *env[] = { "PATH=/usr/bin:/bin", "FOO=bar baz",
                  "MUSTER_EXEC_PPID=1", NULL };
  char *argv[] = { "/bin/sh", "-c",
                   "echo \"FOO=$FOO\"; "
                   "echo \"PPID_VAR=${MUSTER_EXEC_PPID-unset}\"; pwd",
                   NULL };
  result_t r = { 0 };
  mu_proc_opts_t o = { .exec_helper = f->exec_path, .spawner = f->sp,
                       .argv = argv,
                       .env = env,
                       .cwd = f->dir,
                       .out_fd = out,
                       .err_fd = -1,
                       .on_exit = on_exit_cb,
                       .arg = &r };
  mu_proc_t *p = NULL;
  assert_int_equal (mu_proc_spawn (&f->loop, &o, &p), 0);
  run_loop (f);
  assert_int_equal (r.code, 0);
  char *text = slurp_fd (out, NULL);
  char want[256];
  snprintf (want, sizeof want, "FOO=bar baz\nPPID_VAR=unset\n%s\n", f->dir);
  assert_string_equal (text, want);
  /* the caller's array is untouched */
  assert_string_equal (env[2], "MUSTER_EXEC_PPID=1");
  assert_null (env[3]);
  free (text);
  mu_proc_close (&p);
  free (r.tail);
  close (out);
}

/* ---- helper_args reach muster-exec before "--": as root, --uid/--gid run
 * the program as that user, in --cwd entered as the user, while the
 * environment stays the caller's; helper_args without a helper is refused */
static void
test_helper_args_user (void **state)
{
  fixture_t *f = *state;
  char *argv[] = { "/bin/sh", "-c", "echo \"$(id -u):$(id -g):$(id -G)\"; pwd",
                   NULL };
  char *args[] = { "--uid", "65534", "--gid", "65534", "--groups", "65534",
                   "--cwd", "/", NULL };
  result_t r = { 0 };
  mu_proc_opts_t o = { .exec_helper = NULL,
                       .argv = argv,
                       .out_fd = -1,
                       .err_fd = -1,
                       .helper_args = args };
  mu_proc_t *p = NULL;
  assert_int_equal (mu_proc_spawn (&f->loop, &o, &p), -EINVAL);
  if (geteuid () != 0)
    {
      print_message ("not root: the switch to another user is not tested\n");
      return;
    }
  int out = capture_fd (f, "out");
  o.exec_helper = f->exec_path;
  o.spawner = f->sp;
  o.out_fd = out;
  o.on_exit = on_exit_cb;
  o.arg = &r;
  assert_int_equal (mu_proc_spawn (&f->loop, &o, &p), 0);
  run_loop (f);
  assert_int_equal (r.code, 0);
  char *text = slurp_fd (out, NULL);
  assert_string_equal (text, "65534:65534:65534\n/\n");
  free (text);
  mu_proc_close (&p);
  free (r.tail);
  close (out);
}

/* ---- a new prefix (in-place re-rank): lines already out keep the old one,
 * the rest carry the new one; a too-long prefix is refused */

typedef struct prefix_ctx {
  mu_proc_t *p;
  int out;
  const char *flag;
  uv_timer_t t;
} prefix_ctx_t;

static void
on_prefix_poll (uv_timer_t *t)
{
  prefix_ctx_t *c = t->data;
  char *text = slurp_fd (c->out, NULL);
  int seen = strstr (text, "[worker 3] one\n") != NULL;
  free (text);
  if (!seen)
    return;
  uv_timer_stop (t);
  uv_close ((uv_handle_t *) t, NULL);
  char big[MU_PROC_PREFIX_MAX + 2];
  memset (big, 'x', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  assert_int_equal (mu_proc_set_prefix (c->p, big), MUSTER_EINVAL);
  assert_int_equal (mu_proc_set_prefix (c->p, "[worker 12] "), 0);
  int fd = open (c->flag, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
  assert_true (fd >= 0);
  close (fd);
}

static void
test_set_prefix (void **state)
{
  fixture_t *f = *state;
  char flag[PATH_MAX], script[2 * PATH_MAX];
  path_in (f, "flag", flag, sizeof flag);
  snprintf (script, sizeof script,
            "echo one; while [ ! -e '%s' ]; do sleep 0.01; done; "
            "printf 'two\\nthree'", flag);
  int out = capture_fd (f, "out");
  result_t r = { 0 };
  mu_proc_t *p = spawn_sh (f, script, "[worker 3] ", out, -1, 0, &r);
  prefix_ctx_t c = { .p = p, .out = out, .flag = flag };
  uv_timer_init (&f->loop, &c.t);
  c.t.data = &c;
  uv_timer_start (&c.t, on_prefix_poll, 5, 5);
  run_loop (f);
  assert_int_equal (r.called, 1);
  assert_int_equal (r.code, 0);
  char *text = slurp_fd (out, NULL);
  assert_string_equal (text, "[worker 3] one\n[worker 12] two\n"
                             "[worker 12] three\n");
  free (text);
  assert_int_equal (mu_proc_set_prefix (p, NULL), 0);
  assert_int_equal (mu_proc_set_prefix (NULL, "x"), MUSTER_EINVAL);
  mu_proc_close (&p);
  close (out);
  free (r.tail);
}

/* ---- stop and signal: act once the script says it is ready */

typedef struct poll_ctx {
  mu_proc_t *p;
  const char *ready;
  uint64_t grace;
  int sig;          /* 0: mu_proc_stop, else mu_proc_signal(sig) */
  uint64_t acted_ms; /* uv_now when it acted */
  uv_timer_t t;
} poll_ctx_t;

static void
on_poll (uv_timer_t *t)
{
  poll_ctx_t *c = t->data;
  if (access (c->ready, F_OK) != 0)
    return;
  uv_timer_stop (t);
  uv_close ((uv_handle_t *) t, NULL);
  c->acted_ms = uv_now (t->loop);
  if (c->sig)
    assert_int_equal (mu_proc_signal (c->p, c->sig), 0);
  else
    {
      assert_int_equal (mu_proc_stop (c->p, c->grace), 0);
      /* idempotent; a longer grace does not postpone the SIGKILL */
      assert_int_equal (mu_proc_stop (c->p, c->grace + 60000), 0);
    }
}

static void
act_when_ready (fixture_t *f, poll_ctx_t *c)
{
  uv_timer_init (&f->loop, &c->t);
  c->t.data = c;
  uv_timer_start (&c->t, on_poll, 5, 5);
}

/* A program that ignores SIGTERM: SIGKILL after the grace.  Its escaped
 * descendant (own session, so outside the group) dies too: the hard kill is
 * a sweep by muster-exec. */
static void
test_stop_grace_then_kill (void **state)
{
  fixture_t *f = *state;
  char ready[PATH_MAX], esc[PATH_MAX], script[3 * PATH_MAX];
  path_in (f, "ready", ready, sizeof ready);
  path_in (f, "esc", esc, sizeof esc);
  snprintf (script, sizeof script,
            "trap '' TERM; setsid sleep 61 & echo $! > '%s'; "
            "touch '%s'; exec sleep 60",
            esc, ready);
  result_t r = { 0 };
  mu_proc_t *p = spawn_sh (f, script, NULL, -1, -1, 0, &r);
  poll_ctx_t c = { .p = p, .ready = ready, .grace = 300 };
  act_when_ready (f, &c);
  uint64_t t0 = now_ms ();
  run_loop (f);
  uint64_t elapsed = now_ms () - t0;
  assert_int_equal (r.called, 1);
  assert_int_equal (r.sig, SIGKILL);
  assert_true (elapsed >= 290); /* the grace (less coarse-clock slack) */
  assert_true (elapsed < 20000);
  assert_int_equal (mu_proc_stop (p, 0), 0); /* after exit: no-op */
  assert_int_equal (mu_proc_signal (p, SIGTERM), -ESRCH);
  mu_proc_close (&p);
  int e = read_pid_file (esc);
  assert_true (e > 0);
  assert_true (wait_gone (e, 5000, false));
  free (r.tail);
}

/* Without the helper the hard kill is a group SIGKILL. */
static void
test_stop_direct (void **state)
{
  fixture_t *f = *state;
  char ready[PATH_MAX], script[PATH_MAX + 128];
  path_in (f, "ready", ready, sizeof ready);
  snprintf (script, sizeof script, "trap '' TERM; touch '%s'; exec sleep 60",
            ready);
  char *argv[] = { "/bin/sh", "-c", script, NULL };
  result_t r = { 0 };
  mu_proc_opts_t o = { .argv = argv,
                       .out_fd = -1,
                       .err_fd = -1,
                       .on_exit = on_exit_cb,
                       .arg = &r };
  mu_proc_t *p = NULL;
  assert_int_equal (mu_proc_spawn (&f->loop, &o, &p), 0);
  poll_ctx_t c = { .p = p, .ready = ready, .grace = 50 };
  act_when_ready (f, &c);
  run_loop (f);
  assert_int_equal (r.called, 1);
  assert_int_equal (r.sig, SIGKILL);
  mu_proc_close (&p);
  free (r.tail);
}

/* muster-exec is stopped, so it cannot act on the sweep request: the group
 * SIGKILL MU_PROC_SWEEP_MS later still ends everything. */
static void
test_sweep_backstop (void **state)
{
  fixture_t *f = *state;
  char ready[PATH_MAX], script[PATH_MAX + 128];
  path_in (f, "ready", ready, sizeof ready);
  snprintf (script, sizeof script,
            "trap '' TERM; kill -STOP $PPID; touch '%s'; exec sleep 60",
            ready);
  result_t r = { 0 };
  mu_proc_t *p = spawn_sh (f, script, NULL, -1, -1, 0, &r);
  poll_ctx_t c = { .p = p, .ready = ready, .grace = 10 };
  act_when_ready (f, &c);
  uint64_t t0 = now_ms ();
  run_loop (f);
  uint64_t elapsed = now_ms () - t0;
  assert_int_equal (r.called, 1);
  assert_int_equal (r.sig, SIGKILL);
  assert_true (elapsed >= MU_PROC_SWEEP_MS - 10);
  mu_proc_close (&p);
  free (r.tail);
}

/* The sweep signal from anyone but the agent is ignored by muster-exec. */
static void
test_sweep_not_from_agent (void **state)
{
  fixture_t *f = *state;
  char script[128];
  snprintf (script, sizeof script, "kill -%d $PPID; sleep 0.2; exit 6",
            (int) MU_EXEC_SWEEP_SIG);
  result_t r = { 0 };
  run_sh (f, script, NULL, -1, -1, 0, &r);
  assert_int_equal (r.sig, 0);
  assert_int_equal (r.code, 6);
  free (r.tail);
}

static void
test_stop_term (void **state)
{
  fixture_t *f = *state;
  char ready[PATH_MAX], script[PATH_MAX + 128];
  path_in (f, "ready", ready, sizeof ready);
  snprintf (script, sizeof script, "touch '%s'; exec sleep 60", ready);
  result_t r = { 0 };
  mu_proc_t *p = spawn_sh (f, script, NULL, -1, -1, 0, &r);
  poll_ctx_t c = { .p = p, .ready = ready, .grace = 60000 };
  act_when_ready (f, &c);
  run_loop (f);
  assert_int_equal (r.called, 1);
  assert_int_equal (r.sig, SIGTERM); /* not the SIGKILL a minute later */
  mu_proc_close (&p);
  free (r.tail);
}

/* mu_proc_signal reaches the worker's group; muster-exec survives it. */
static void
test_signal_group (void **state)
{
  fixture_t *f = *state;
  char ready[PATH_MAX], script[PATH_MAX + 128];
  path_in (f, "ready", ready, sizeof ready);
  snprintf (script, sizeof script,
            "trap 'exit 7' USR1; touch '%s'; "
            "while :; do sleep 0.05; done",
            ready);
  result_t r = { 0 };
  mu_proc_t *p = spawn_sh (f, script, NULL, -1, -1, 0, &r);
  poll_ctx_t c = { .p = p, .ready = ready, .sig = SIGUSR1 };
  act_when_ready (f, &c);
  run_loop (f);
  assert_int_equal (r.called, 1);
  assert_int_equal (r.sig, 0);
  assert_int_equal (r.code, 7);
  mu_proc_close (&p);
  free (r.tail);
}

/* A worker that leaves background processes behind, one of them in its own
 * session: after the worker exits, they are all gone. */
static void
test_no_orphans (void **state)
{
  fixture_t *f = *state;
  char gc[PATH_MAX], gc2[PATH_MAX], script[3 * PATH_MAX];
  path_in (f, "gc", gc, sizeof gc);
  path_in (f, "gc2", gc2, sizeof gc2);
  snprintf (script, sizeof script,
            "sleep 60 & echo $! > '%s'; "
            "setsid sleep 61 & echo $! > '%s'; "
            "sleep 0.1; exit 0",
            gc, gc2);
  result_t r = { 0 };
  run_sh (f, script, NULL, -1, -1, 0, &r);
  assert_int_equal (r.code, 0);
  int g1 = read_pid_file (gc), g2 = read_pid_file (gc2);
  assert_true (g1 > 0);
  assert_true (g2 > 0);
  assert_true (wait_gone (g1, 5000, false));
  assert_true (wait_gone (g2, 5000, false));
  free (r.tail);
}

/* mu_proc_close while running: group SIGKILLed, no callback, no leak. */
static void
test_close_running (void **state)
{
  fixture_t *f = *state;
  char gc[PATH_MAX], esc[PATH_MAX], ready[PATH_MAX], script[4 * PATH_MAX];
  path_in (f, "gc", gc, sizeof gc);
  path_in (f, "esc", esc, sizeof esc);
  path_in (f, "ready", ready, sizeof ready);
  snprintf (script, sizeof script,
            "sleep 60 & echo $! > '%s'; setsid sleep 61 & echo $! > '%s'; "
            "touch '%s'; exec sleep 60",
            gc, esc, ready);
  result_t r = { 0 };
  mu_proc_t *p = spawn_sh (f, script, NULL, -1, -1, 0, &r);
  int pid = mu_proc_pid (p);
  assert_true (wait_file (ready, 5000));
  int g = read_pid_file (gc), e = read_pid_file (esc);
  mu_proc_close (&p);
  assert_null (p);
  run_loop (f);
  assert_int_equal (r.called, 0);
  assert_true (wait_gone (pid, 5000, false));
  assert_true (g > 0);
  assert_true (e > 0);
  assert_true (wait_gone (g, 5000, false));
  assert_true (wait_gone (e, 5000, false));
}

/* Output to a broken pipe is dropped; the worker is not blocked and the
 * agent is not killed by SIGPIPE. */
static void
test_epipe (void **state)
{
  fixture_t *f = *state;
  int pfd[2];
  assert_int_equal (pipe (pfd), 0);
  close (pfd[0]);
  result_t r = { 0 };
  run_sh (f, "i=0; while [ $i -lt 2000 ]; do echo line $i; "
             "echo e$i >&2; i=$((i+1)); done",
          "[p] ", pfd[1], pfd[1], 3, &r);
  assert_int_equal (r.code, 0);
  assert_string_equal (r.tail, "e1997\ne1998\ne1999");
  free (r.tail);
  close (pfd[1]);
}

/* The agent dies by SIGKILL: the worker, its grandchild and muster-exec
 * must follow.  A forked helper plays the agent. */
static void
test_parent_death (void **state)
{
  fixture_t *f = *state;
  char wfile[PATH_MAX], wtmp[PATH_MAX], script[4 * PATH_MAX];
  path_in (f, "w", wfile, sizeof wfile);
  path_in (f, "w.tmp", wtmp, sizeof wtmp);
  /* the pid file holds: muster-exec, grandchild, worker */
  snprintf (script, sizeof script,
            "sleep 60 & echo \"$PPID $! $$\" > '%s'; mv '%s' '%s'; "
            "exec sleep 60",
            wtmp, wtmp, wfile);
  /* orphans come to us, so we can tell dead from alive (zombies) */
  assert_int_equal (prctl (PR_SET_CHILD_SUBREAPER, 1), 0);
  pid_t agent = fork ();
  assert_true (agent >= 0);
  if (agent == 0)
    {
      uv_loop_t loop;
      if (uv_loop_init (&loop) != 0)
        _exit (2);
      char *argv[] = { "/bin/sh", "-c", script, NULL };
      mu_proc_opts_t o = { .exec_helper = f->exec_path, .spawner = agent_spawner (f),
                           .argv = argv,
                           .out_fd = -1,
                           .err_fd = -1 };
      mu_proc_t *p;
      if (mu_proc_spawn (&loop, &o, &p) != 0)
        _exit (3);
      uv_run (&loop, UV_RUN_DEFAULT);
      _exit (4);
    }
  bool ready = wait_file (wfile, 10000);
  int exec_pid = -1, gc = -1, worker = -1;
  FILE *fp = ready ? fopen (wfile, "r") : NULL;
  if (fp)
    {
      if (fscanf (fp, "%d %d %d", &exec_pid, &gc, &worker) != 3)
        exec_pid = -1;
      fclose (fp);
    }
  kill (agent, SIGKILL);
  int st;
  assert_int_equal (waitpid (agent, &st, 0), agent);
  assert_true (WIFSIGNALED (st));
  bool gone = ready && exec_pid > 0 && wait_gone (worker, 5000, true)
              && wait_gone (gc, 5000, true)
              && wait_gone (exec_pid, 5000, true);
  prctl (PR_SET_CHILD_SUBREAPER, 0);
  while (waitpid (-1, NULL, WNOHANG) > 0)
    ;
  assert_true (ready);
  assert_true (exec_pid > 0);
  assert_true (gone);
}

/* The agent's thread that spawned the worker exits first (spending the
 * pdeath signal, which muster-exec must then ignore), and only later the
 * agent: the worker must follow the agent all the same (muster-exec
 * watches the agent's pidfd, or polls getppid() without one). */
static void *
spawn_and_exit_thread (void *arg)
{
  const mu_proc_opts_t *o = arg;
  uv_loop_t *loop = malloc (sizeof *loop); /* the agent is killed: kept */
  mu_proc_t *p;
  if (loop == NULL || uv_loop_init (loop) != 0
      || mu_proc_spawn (loop, o, &p) != 0)
    _exit (3);
  return NULL;
}

static void
test_parent_death_after_thread (void **state)
{
  fixture_t *f = *state;
  char wfile[PATH_MAX], wtmp[PATH_MAX], script[4 * PATH_MAX];
  path_in (f, "w", wfile, sizeof wfile);
  path_in (f, "w.tmp", wtmp, sizeof wtmp);
  snprintf (script, sizeof script,
            "echo \"$PPID $$\" > '%s'; mv '%s' '%s'; exec sleep 60", wtmp,
            wtmp, wfile);
  assert_int_equal (prctl (PR_SET_CHILD_SUBREAPER, 1), 0);
  int ready_pipe[2];
  assert_int_equal (pipe (ready_pipe), 0);
  pid_t agent = fork ();
  assert_true (agent >= 0);
  if (agent == 0)
    {
      close (ready_pipe[0]);
      char *argv[] = { "/bin/sh", "-c", script, NULL };
      mu_proc_opts_t o = { .exec_helper = f->exec_path, .spawner = agent_spawner (f),
                           .argv = argv,
                           .out_fd = -1,
                           .err_fd = -1 };
      pthread_t t;
      if (pthread_create (&t, NULL, spawn_and_exit_thread, &o) != 0
          || pthread_join (t, NULL) != 0)
        _exit (2);
      (void)!write (ready_pipe[1], "x", 1); /* the spawning thread is gone */
      for (;;)
        pause ();
    }
  close (ready_pipe[1]);
  char c;
  bool joined = read (ready_pipe[0], &c, 1) == 1;
  close (ready_pipe[0]);
  bool ready = joined && wait_file (wfile, 10000);
  int exec_pid = -1, worker = -1;
  FILE *fp = ready ? fopen (wfile, "r") : NULL;
  if (fp)
    {
      if (fscanf (fp, "%d %d", &exec_pid, &worker) != 2)
        exec_pid = -1;
      fclose (fp);
    }
  /* muster-exec outlived the spawning thread (the pdeath signal did not
   * end the worker while its agent lives) */
  bool alive = exec_pid > 0 && kill (exec_pid, 0) == 0
               && kill (worker, 0) == 0;
  kill (agent, SIGKILL);
  int st;
  assert_int_equal (waitpid (agent, &st, 0), agent);
  bool gone = ready && exec_pid > 0 && wait_gone (worker, 5000, true)
              && wait_gone (exec_pid, 5000, true);
  prctl (PR_SET_CHILD_SUBREAPER, 0);
  while (waitpid (-1, NULL, WNOHANG) > 0)
    ;
  assert_true (joined);
  assert_true (ready);
  assert_true (alive);
  assert_true (gone);
}

int
main (void)
{
  /* libuv keeps two process-wide fds (its signal lock pipe) from the first
   * loop on; open them now so the per-test fd count sees only leaks. */
  uv_loop_t warm;
  uv_loop_init (&warm);
  uv_loop_close (&warm);
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown (test_exit_code, setup, teardown),
    cmocka_unit_test_setup_teardown (test_helper_args_user, setup, teardown),
    cmocka_unit_test_setup_teardown (test_signal_kill9, setup, teardown),
    cmocka_unit_test_setup_teardown (test_signal_usr1, setup, teardown),
    cmocka_unit_test_setup_teardown (test_prefix_whole_lines, setup, teardown),
    cmocka_unit_test_setup_teardown (test_log_files, setup, teardown),
    cmocka_unit_test_setup_teardown (test_log_file_error, setup, teardown),
    cmocka_unit_test_setup_teardown (test_log_files_spawn_fails, setup,
                                     teardown),
    cmocka_unit_test_setup_teardown (test_set_prefix, setup, teardown),
    cmocka_unit_test_setup_teardown (test_long_line, setup, teardown),
    cmocka_unit_test_setup_teardown (test_stderr_tail, setup, teardown),
    cmocka_unit_test_setup_teardown (test_missing_program, setup, teardown),
    cmocka_unit_test_setup_teardown (test_missing_helper, setup, teardown),
    cmocka_unit_test_setup_teardown (test_direct, setup, teardown),
    cmocka_unit_test_setup_teardown (test_worker_fds, setup, teardown),
    cmocka_unit_test_setup_teardown (test_env, setup, teardown),
    cmocka_unit_test_setup_teardown (test_stop_grace_then_kill, setup,
                                     teardown),
    cmocka_unit_test_setup_teardown (test_stop_direct, setup, teardown),
    cmocka_unit_test_setup_teardown (test_sweep_backstop, setup, teardown),
    cmocka_unit_test_setup_teardown (test_sweep_not_from_agent, setup,
                                     teardown),
    cmocka_unit_test_setup_teardown (test_stop_term, setup, teardown),
    cmocka_unit_test_setup_teardown (test_signal_group, setup, teardown),
    cmocka_unit_test_setup_teardown (test_no_orphans, setup, teardown),
    cmocka_unit_test_setup_teardown (test_close_running, setup, teardown),
    cmocka_unit_test_setup_teardown (test_epipe, setup, teardown),
    cmocka_unit_test_setup_teardown (test_parent_death, setup, teardown),
    cmocka_unit_test_setup_teardown (test_parent_death_after_thread, setup,
                                     teardown),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
