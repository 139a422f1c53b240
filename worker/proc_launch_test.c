/*
 * proc_launch_test.c — what a child started by mu_launch gets (its own
 * session and group, /dev/null on stdin, the two pipes, no blocked or
 * ignored signal, no descriptor of ours, its environment's PATH, the
 * working directory), the errors for a missing or non-executable program,
 * and the pidfd / reap contract (readable only once it exited, the exact
 * code or signal, -EAGAIN before).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "worker/proc_launch.h"

static char last_err[256]; /* the last child's stderr (its start) */

/* Wait for the pidfd, reap, close everything; the child's stdout (up to
 * n - 1 bytes) in out. */
static void
finish (mu_launch_t *l, char *out, size_t n, int64_t *code, int *sig)
{
  size_t got = 0;
  for (;;)
    {
      ssize_t r = read (l->out_fd, out + got, n - 1 - got);
      if (r <= 0)
        break;
      got += (size_t)r;
      if (got == n - 1)
        break;
    }
  out[got] = '\0';
  ssize_t e = read (l->err_fd, last_err, sizeof last_err - 1);
  last_err[e > 0 ? e : 0] = '\0';
  if (l->pidfd >= 0)
    {
      struct pollfd p = { .fd = l->pidfd, .events = POLLIN };
      assert_int_equal (poll (&p, 1, 10000), 1);
      close (l->pidfd);
    }
  else /* no pidfd_open here (valgrind): wait for it */
    {
      siginfo_t si;
      while (waitid (P_PID, (id_t)l->pid, &si, WEXITED | WNOWAIT) != 0)
        assert_int_equal (errno, EINTR);
    }
  assert_int_equal (mu_launch_reap (l->pid, code, sig), 0);
  close (l->out_fd);
  close (l->err_fd);
}

static void
run_sh (const char *script, char *const *env, const char *cwd, char *out,
        size_t n, int64_t *code, int *sig)
{
  char *argv[] = { (char *)"sh", (char *)"-c", (char *)script, NULL };
  mu_launch_opts_t o = { .argv = argv, .env = env, .cwd = cwd };
  mu_launch_t l;
  assert_int_equal (mu_launch (&o, &l), 0);
  assert_true (l.pid > 0);
  finish (&l, out, n, code, sig);
}

static void
test_session_stdio_and_fds (void **state)
{
  (void)state;
  /* Ours are all O_CLOEXEC, as libuv and ZeroMQ make theirs: none
   * reaches the child. */
  int null = open ("/dev/null", O_RDONLY | O_CLOEXEC);
  assert_true (null >= 0);
  /* High, so that it is not a descriptor the shell opens for itself. */
  int mine = fcntl (null, F_DUPFD_CLOEXEC, 200);
  close (null);
  assert_true (mine >= 200);
  char out[512];
  int64_t code;
  int sig;
  char script[256];
  snprintf (script, sizeof script,
            "echo sid=$(cut -d' ' -f6 /proc/$$/stat) pid=$$ "
            "pgid=$(cut -d' ' -f5 /proc/$$/stat); "
            "echo in=$(readlink /proc/$$/fd/0); "
            "echo mine=$(test -e /proc/$$/fd/%d && echo open || echo closed); "
            "echo err >&2; exit 7",
            mine);
  run_sh (script, NULL, NULL, out, sizeof out, &code, &sig);
  close (mine);
  assert_int_equal (code, 7);
  assert_int_equal (sig, 0);
  int sid = 0, pid = 0, pgid = 0;
  assert_int_equal (sscanf (out, "sid=%d pid=%d pgid=%d", &sid, &pid, &pgid),
                    3);
  assert_int_equal (sid, pid);  /* a session of its own */
  assert_int_equal (pgid, pid); /* and a process group */
  assert_non_null (strstr (out, "in=/dev/null"));
  assert_non_null (strstr (out, "mine=closed"));
  assert_string_equal (last_err, "err\n"); /* stderr: the other pipe */
}

static void
test_signals_reset (void **state)
{
  (void)state;
  /* An agent ignores SIGPIPE and blocks signals on its threads: the child
   * starts with neither, nor with glibc's internal 32 and 33 ignored
   * (which glibc's posix_spawn does unless told otherwise). */
  struct sigaction ign = { .sa_handler = SIG_IGN }, old;
  sigaction (SIGPIPE, &ign, &old);
  sigset_t block, was;
  sigemptyset (&block);
  sigaddset (&block, SIGUSR1);
  sigprocmask (SIG_BLOCK, &block, &was);
  char out[512];
  int64_t code;
  int sig;
  /* grep reads its own status: a shell's, read by a child it vforked,
   * shows every signal blocked while dash waits for that child's exec. */
  run_sh ("exec grep -E '^Sig(Blk|Ign):' /proc/self/status", NULL, NULL, out,
          sizeof out, &code, &sig);
  sigprocmask (SIG_SETMASK, &was, NULL);
  sigaction (SIGPIPE, &old, NULL);
  assert_int_equal (code, 0);
  assert_non_null (strstr (out, "SigBlk:\t0000000000000000"));
  assert_non_null (strstr (out, "SigIgn:\t0000000000000000"));
}

static void
test_env_path_and_cwd (void **state)
{
  (void)state;
  char dir[] = "/tmp/proc_launch_test.XXXXXX";
  assert_non_null (mkdtemp (dir));
  char tool[128];
  snprintf (tool, sizeof tool, "%s/only-here", dir);
  FILE *f = fopen (tool, "w");
  assert_non_null (f);
  fputs ("#!/bin/sh\necho found; pwd\n", f);
  fclose (f);
  chmod (tool, 0755);
  /* Found through the PATH of the child's environment, not ours. */
  char path_var[160];
  snprintf (path_var, sizeof path_var, "PATH=/usr/bin:/bin:%s", dir);
  char *env[] = { path_var, NULL };
  char *argv[] = { (char *)"only-here", NULL };
  mu_launch_opts_t o = { .argv = argv, .env = env, .cwd = "/" };
  mu_launch_t l;
  assert_int_equal (mu_launch (&o, &l), 0);
  char out[256];
  int64_t code;
  int sig;
  finish (&l, out, sizeof out, &code, &sig);
  assert_int_equal (code, 0);
  assert_string_equal (out, "found\n/\n");
  /* Not executable: -EACCES; nowhere: -ENOENT; nothing to run: -EINVAL. */
  chmod (tool, 0644);
  assert_int_equal (mu_launch (&o, &l), -EACCES);
  char *by_path[] = { tool, NULL };
  mu_launch_opts_t direct = { .argv = by_path };
  assert_int_equal (mu_launch (&direct, &l), -EACCES);
  /* A working directory that is a file fails the start. */
  char *sh_true[] = { (char *)"/bin/true", NULL };
  mu_launch_opts_t in_file = { .argv = sh_true, .cwd = tool };
  assert_int_equal (mu_launch (&in_file, &l), -ENOTDIR);
  unlink (tool);
  rmdir (dir);
  assert_int_equal (mu_launch (&o, &l), -ENOENT);
  char *missing[] = { (char *)"/nonexistent/prog", NULL };
  o.argv = missing;
  assert_int_equal (mu_launch (&o, &l), -ENOENT);

  char *empty[] = { NULL };
  o.argv = empty;
  assert_int_equal (mu_launch (&o, &l), -EINVAL);
  assert_int_equal (mu_launch (NULL, &l), -EINVAL);
  /* A working directory that does not exist fails the start. */
  char *sh[] = { (char *)"/bin/true", NULL };
  mu_launch_opts_t bad = { .argv = sh, .cwd = "/nonexistent-dir" };
  assert_int_equal (mu_launch (&bad, &l), -ENOENT);

}

static void
test_pidfd_and_reap (void **state)
{
  (void)state;
  char *argv[] = { (char *)"sleep", (char *)"30", NULL };
  mu_launch_opts_t o = { .argv = argv };
  mu_launch_t l;
  assert_int_equal (mu_launch (&o, &l), 0);
  /* The pidfd exactly when pidfd_open works here (not under valgrind
   * 3.19, which does not know the call). */
  int usable = mu_launch_pidfd_usable ();
  assert_int_equal (l.pidfd >= 0, usable);
  /* Running: the pidfd is not readable and there is nothing to reap. */
  struct pollfd p = { .fd = l.pidfd, .events = POLLIN };
  if (usable)
    assert_int_equal (poll (&p, 1, 0), 0);
  int64_t code = -1;
  int sig = -1;
  assert_int_equal (mu_launch_reap (l.pid, &code, &sig), -EAGAIN);
  /* Killed: readable, reaped once with the signal, then gone. */
  assert_int_equal (kill (-l.pid, SIGTERM), 0);
  if (usable)
    assert_int_equal (poll (&p, 1, 10000), 1);
  else
    {
      siginfo_t si;
      while (waitid (P_PID, (id_t)l.pid, &si, WEXITED | WNOWAIT) != 0)
        assert_int_equal (errno, EINTR);
    }
  assert_int_equal (mu_launch_reap (l.pid, &code, &sig), 0);
  assert_int_equal (code, 0);
  assert_int_equal (sig, SIGTERM);
  assert_int_equal (mu_launch_reap (l.pid, &code, &sig), -ECHILD);
  if (l.pidfd >= 0)
    close (l.pidfd);
  close (l.out_fd);
  close (l.err_fd);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_session_stdio_and_fds),
    cmocka_unit_test (test_signals_reset),
    cmocka_unit_test (test_env_path_and_cwd),
    cmocka_unit_test (test_pidfd_and_reap),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
