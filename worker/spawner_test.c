/*
 * spawner_test.c — the resident spawner (spawner.c with the built
 * `muster-exec --serve`): a launch gives our own child with the exact
 * exit code or signal and the output on the pipes; the server's death
 * takes no worker with it and the next launch starts it again; a server
 * that dies holding a request fails that launch with MUSTER_EPEERLOST; a
 * request too large for it is refused with -EMSGSIZE and spawn.c then
 * starts the worker the old way; a missing directory is refused before
 * any request; the server refuses malformed requests and bad usage; an
 * agent's death ends the server and its workers.  No test asserts on
 * timing (bounds of 10 s for processes to go).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <muster/error.h>

#include "worker/spawn.h"
#include "worker/spawner.h"
#include "worker/spawner_wire.h"

extern char **environ;

static char exec_path[PATH_MAX + 32];

static void
find_exec (void)
{
  const char *env = getenv ("MUSTER_EXEC_PATH");
  if (env != NULL)
    {
      snprintf (exec_path, sizeof exec_path, "%s", env);
      return;
    }
  char self[PATH_MAX];
  ssize_t n = readlink ("/proc/self/exe", self, sizeof self - 1);
  assert_true (n > 0);
  self[n] = '\0';
  *strrchr (self, '/') = '\0';
  snprintf (exec_path, sizeof exec_path, "%s/muster-exec", self);
}

static uint64_t
now_ms (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The parent of pid (also of a zombie: *zombie says), or -1. */
static int
ppid_state (int pid, int *zombie)
{
  char p[64], buf[512];
  snprintf (p, sizeof p, "/proc/%d/stat", pid);
  int fd = open (p, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  ssize_t n = read (fd, buf, sizeof buf - 1);
  close (fd);
  if (n <= 0)
    return -1;
  buf[n] = '\0';
  char state;
  int ppid;
  char *rp = strrchr (buf, ')');
  if (rp == NULL || sscanf (rp + 1, " %c %d", &state, &ppid) != 2)
    return -1;
  *zombie = state == 'Z';
  return ppid;
}

/* The parent of a live pid; 0 for a zombie, -1 if gone. */
static int
ppid_of (int pid)
{
  int zombie = 0;
  int ppid = ppid_state (pid, &zombie);
  return zombie ? 0 : ppid;
}

/* The parent, whether pid still runs or is a zombie awaiting it. */
static int
parent_of (int pid)
{
  int zombie = 0;
  return ppid_state (pid, &zombie);
}

/* Gone or a zombie within ms (reaping our orphans meanwhile). */
static int
wait_gone (int pid, uint64_t ms)
{
  uint64_t end = now_ms () + ms;
  for (;;)
    {
      if ((kill (pid, 0) != 0 && errno == ESRCH) || ppid_of (pid) == 0)
        return 1;
      if (now_ms () > end)
        return 0;
      usleep (10000);
    }
}

/* The first n bytes of /proc/PID/cmdline; how many were read, or -1. */
static ssize_t
read_cmdline (int pid, char *buf, size_t n)
{
  char p[64];
  snprintf (p, sizeof p, "/proc/%d/cmdline", pid);
  int fd = open (p, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  size_t got = 0;
  while (got < n)
    {
      ssize_t r = read (fd, buf + got, n - got);
      if (r <= 0)
        break;
      got += (size_t)r;
    }
  close (fd);
  return (ssize_t)got;
}

/* Wait for the launched process to exit, reap it, read its stdout. */
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
  if (l->pidfd >= 0)
    {
      struct pollfd p = { .fd = l->pidfd, .events = POLLIN };
      assert_int_equal (poll (&p, 1, 10000), 1);
      close (l->pidfd);
    }
  else
    {
      siginfo_t si;
      while (waitid (P_PID, (id_t)l->pid, &si, WEXITED | WNOWAIT) != 0)
        assert_int_equal (errno, EINTR);
    }
  assert_int_equal (mu_launch_reap (l->pid, code, sig), 0);
  close (l->out_fd);
  close (l->err_fd);
}

static int
launch_sh (mu_spawner_t *s, const char *script, const char *cwd, mu_launch_t *l)
{
  char ppid[32];
  snprintf (ppid, sizeof ppid, "MUSTER_EXEC_PPID=%ld", (long)getpid ());
  char *env[] = { ppid, (char *)"PATH=/bin:/usr/bin", NULL };
  char *argv[]
      = { (char *)"--", (char *)"/bin/sh", (char *)"-c", (char *)script, NULL };
  mu_launch_opts_t o = { .argv = argv, .env = env, .cwd = cwd };
  return mu_spawner_launch (s, &o, l);
}

/* ------------------------------------------------------------------ tests */

/* Our own child; the exact code and signal; stdout, environment and
 * directory as asked. */
static void
test_launch_status (void **state)
{
  (void)state;
  mu_spawner_t *s = mu_spawner_new (exec_path);
  assert_non_null (s);
  assert_int_equal (mu_spawner_pid (s), 0); /* started on first use */
  mu_launch_t l;
  char out[256];
  int64_t code;
  int sig;
  assert_int_equal (launch_sh (s,
                               "echo \"$PATH $(pwd) ${MUSTER_EXEC_PPID-}\";"
                               " exit 7",
                               "/tmp", &l),
                    0);
  assert_true (mu_spawner_pid (s) > 0);
  assert_int_equal (parent_of (l.pid), (int)getpid ()); /* ours to reap */
  finish (&l, out, sizeof out, &code, &sig);
  assert_string_equal (out, "/bin:/usr/bin /tmp \n");
  assert_int_equal (code, 7);
  assert_int_equal (sig, 0);

  assert_int_equal (launch_sh (s, "kill -USR1 $$", NULL, &l), 0);
  finish (&l, out, sizeof out, &code, &sig);
  assert_int_equal (code, 0);
  assert_int_equal (sig, SIGUSR1);

  /* a missing program: muster-exec's line and 127, as without spawner */
  char ppid[32];
  snprintf (ppid, sizeof ppid, "MUSTER_EXEC_PPID=%ld", (long)getpid ());
  char *env[] = { ppid, NULL };
  char *argv[] = { (char *)"--", (char *)"/nonexistent/prog", NULL };
  mu_launch_opts_t o = { .argv = argv, .env = env };
  assert_int_equal (mu_spawner_launch (s, &o, &l), 0);
  char err[256];
  ssize_t n = read (l.err_fd, err, sizeof err - 1);
  err[n > 0 ? n : 0] = '\0';
  finish (&l, out, sizeof out, &code, &sig);
  assert_string_equal (err, "muster-exec: cannot run '/nonexistent/prog': "
                            "No such file or directory\n");
  assert_int_equal (code, 127);
  assert_int_equal (mu_spawner_restarts (s), 0);
  mu_spawner_destroy (&s);
  assert_null (s);
}

/* A missing or non-directory cwd is refused before any request. */
static void
test_bad_cwd (void **state)
{
  (void)state;
  mu_spawner_t *s = mu_spawner_new (exec_path);
  mu_launch_t l;
  assert_int_equal (launch_sh (s, "true", "/nonexistent/dir", &l), -ENOENT);
  assert_int_equal (launch_sh (s, "true", "/etc/passwd", &l), -ENOTDIR);
  assert_int_equal (mu_spawner_pid (s), 0);
  char *none[] = { NULL };
  mu_launch_opts_t o = { .argv = none };
  assert_int_equal (mu_spawner_launch (s, &o, &l), -EINVAL);
  mu_spawner_destroy (&s);
}

/* The server killed: its workers run on, and the next launch starts a new
 * server. */
static void
test_restart_after_death (void **state)
{
  (void)state;
  mu_spawner_t *s = mu_spawner_new (exec_path);
  mu_launch_t sleeper, l;
  assert_int_equal (launch_sh (s, "exec sleep 30", NULL, &sleeper), 0);
  int first = mu_spawner_pid (s);
  assert_true (first > 0);
  /* ps shows what each runs: the supervisor its own command line (in
   * the room the server's blank argument left), the server its own */
  char want[] = "muster-exec\0--\0/bin/sh\0-c\0exec sleep 30\0";
  char got[sizeof want + 8];
  uint64_t until = now_ms () + 10000; /* the fork sets it as it starts */
  while ((read_cmdline (sleeper.pid, got, sizeof got) != (ssize_t)sizeof got
          || memcmp (got, want, sizeof want) != 0)
         && now_ms () < until)
    usleep (10000);
  assert_memory_equal (got, want, sizeof want);
  assert_int_equal (got[sizeof want], '\0'); /* then only the room's NULs */
  char server[PATH_MAX + 64];
  int n = snprintf (server, sizeof server, "%s%c--serve%c3%c", exec_path, 0, 0,
                    0);
  assert_true (read_cmdline (first, got, sizeof got) >= 0);
  assert_true (n > 0 && (size_t)n <= sizeof server);
  assert_memory_equal (got, server,
                       (size_t)n < sizeof got ? (size_t)n : sizeof got);
  assert_int_equal (kill (first, SIGKILL), 0);
  /* dead, not reaped: the spawner reaps it itself */
  uint64_t end = now_ms () + 10000;
  while (ppid_of (first) != 0 && now_ms () < end)
    usleep (10000);
  assert_int_equal (ppid_of (first), 0);
  assert_int_equal (ppid_of (sleeper.pid), (int)getpid ()); /* still runs */

  char out[256];
  int64_t code;
  int sig;
  assert_int_equal (launch_sh (s, "echo again", NULL, &l), 0);
  assert_int_equal (mu_spawner_restarts (s), 1);
  assert_true (mu_spawner_pid (s) > 0);
  assert_int_not_equal (mu_spawner_pid (s), first);
  finish (&l, out, sizeof out, &code, &sig);
  assert_string_equal (out, "again\n");
  assert_int_equal (code, 0);

  kill (-sleeper.pid, SIGKILL);
  finish (&sleeper, out, sizeof out, &code, &sig);
  assert_int_equal (sig, SIGKILL);
  mu_spawner_destroy (&s);
}

/* A "server" that reads one request and exits without answering: that
 * launch fails with MUSTER_EPEERLOST and leaves nothing open. */
static void
test_lost_with_request (void **state)
{
  (void)state;
  char dir[] = "/tmp/mu_spawner_XXXXXX";
  assert_non_null (mkdtemp (dir));
  char path[PATH_MAX];
  snprintf (path, sizeof path, "%s/fake-exec", dir);
  FILE *fp = fopen (path, "w");
  assert_non_null (fp);
  fputs ("#!/bin/sh\nexec head -c 1 <&3 >/dev/null\n", fp);
  fclose (fp);
  assert_int_equal (chmod (path, 0755), 0);
  int before = open ("/dev/null", O_RDONLY);
  close (before);
  mu_spawner_t *s = mu_spawner_new (path);
  mu_launch_t l;
  assert_int_equal (launch_sh (s, "true", NULL, &l), MUSTER_EPEERLOST);
  assert_int_equal (mu_spawner_pid (s), 0);
  assert_int_equal (l.pid, 0);
  assert_int_equal (l.out_fd, -1);
  int after = open ("/dev/null", O_RDONLY);
  close (after);
  assert_int_equal (after, before); /* no descriptor left open */
  mu_spawner_destroy (&s);

  /* one that exits at once, reading nothing: started again once, and
   * the launch fails the same way whether the send or the reply saw it */
  fp = fopen (path, "w");
  assert_non_null (fp);
  fputs ("#!/bin/sh\nexit 0\n", fp);
  fclose (fp);
  s = mu_spawner_new (path);
  assert_int_equal (launch_sh (s, "true", NULL, &l), MUSTER_EPEERLOST);
  assert_int_equal (mu_spawner_pid (s), 0);
  after = open ("/dev/null", O_RDONLY);
  close (after);
  assert_int_equal (after, before);
  mu_spawner_destroy (&s);
  unlink (path);
  rmdir (dir);
}

/* A request larger than the server takes: -EMSGSIZE from the spawner,
 * and spawn.c starts that worker with posix_spawn instead. */
static void
on_exit_code (mu_proc_t *p, int64_t code, int sig, void *arg)
{
  (void)p;
  *(int64_t *)arg = sig ? -sig : code;
}

static void
test_too_big (void **state)
{
  (void)state;
  /* four variables of 48 KiB (one string may not pass 128 KiB in an
   * exec): more than the server takes */
  size_t n = 48 * 1024;
  char *big[4];
  for (int i = 0; i < 4; i++)
    {
      assert_non_null (big[i] = malloc (n + 5));
      snprintf (big[i], 5, "B%d=", i);
      memset (big[i] + 3, 'x', n);
      big[i][n + 3] = '\0';
    }
  char ppid[32];
  snprintf (ppid, sizeof ppid, "MUSTER_EXEC_PPID=%ld", (long)getpid ());
  char *env[] = { ppid, big[0], big[1], big[2], big[3], NULL };
  char *argv[] = { (char *)"--", (char *)"/bin/true", NULL };
  mu_launch_opts_t o = { .argv = argv, .env = env };
  mu_spawner_t *s = mu_spawner_new (exec_path);
  mu_launch_t l;
  assert_int_equal (mu_spawner_launch (s, &o, &l), -EMSGSIZE);

  uv_loop_t loop;
  assert_int_equal (uv_loop_init (&loop), 0);
  char out_path[] = "/tmp/mu_spawner_out_XXXXXX";
  int out = mkstemp (out_path);
  assert_true (out >= 0);
  unlink (out_path);
  char *sh[] = { (char *)"/bin/sh", (char *)"-c",
                 (char *)"echo $((${#B0} + ${#B1} + ${#B2} + ${#B3}))", NULL };
  int64_t code = -100;
  mu_proc_opts_t po = { .exec_helper = exec_path,
                        .spawner = s,
                        .argv = sh,
                        .env = env + 1,
                        .out_fd = out,
                        .err_fd = -1,
                        .on_exit = on_exit_code,
                        .arg = &code };
  mu_proc_t *p = NULL;
  assert_int_equal (mu_proc_spawn (&loop, &po, &p), 0);
  uv_run (&loop, UV_RUN_DEFAULT);
  assert_int_equal (code, 0);
  char text[64];
  ssize_t r = pread (out, text, sizeof text - 1, 0);
  text[r > 0 ? r : 0] = '\0';
  char want[64];
  snprintf (want, sizeof want, "%zu\n", 4 * n);
  assert_string_equal (text, want);
  mu_proc_close (&p);
  uv_run (&loop, UV_RUN_DEFAULT);
  assert_int_equal (uv_loop_close (&loop), 0);
  close (out);
  for (int i = 0; i < 4; i++)
    free (big[i]);
  mu_spawner_destroy (&s);
}

/* The server by hand: malformed requests are answered -EINVAL (a bad
 * header, two descriptors missing), the server ends when the agent
 * closes its end, and bad usage gets one line and 125. */
static void
test_serve_protocol (void **state)
{
  (void)state;
  int sv[2];
  assert_int_equal (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv),
                    0);
  pid_t pid = fork ();
  assert_true (pid >= 0);
  if (pid == 0)
    {
      dup2 (sv[1], 3);
      char agent[24];
      snprintf (agent, sizeof agent, "%ld", (long)getppid ());
      execl (exec_path, exec_path, "--serve", "3", agent, (char *)NULL);
      _exit (99);
    }
  close (sv[1]);
  mu_spawn_rep_t rep;
  mu_spawn_req_t bad = { .magic = 1, .argc = 1, .len = 0 };
  assert_int_equal (send (sv[0], &bad, sizeof bad, 0), sizeof bad);
  assert_int_equal (recv (sv[0], &rep, sizeof rep, 0), sizeof rep);
  assert_int_equal (rep.err, -EINVAL);
  assert_int_equal (rep.pid, 0);
  /* a good header and strings, but no descriptors */
  char good[sizeof (mu_spawn_req_t) + 10];
  mu_spawn_req_t h = { MU_SPAWN_MAGIC, 2, 0, 0, 10 };
  memcpy (good, &h, sizeof h);
  memcpy (good + sizeof h, "--\0/bin/x", 10); /* 10th byte: the NUL */
  assert_int_equal (send (sv[0], good, sizeof good, 0), sizeof good);
  assert_int_equal (recv (sv[0], &rep, sizeof rep, 0), sizeof rep);
  assert_int_equal (rep.err, -EINVAL);
  /* the agent's end closes: the server exits 0 */
  close (sv[0]);
  int st;
  assert_int_equal (waitpid (pid, &st, 0), pid);
  assert_true (WIFEXITED (st));
  assert_int_equal (WEXITSTATUS (st), 0);

  /* usage */
  char cmd[PATH_MAX + 64];
  snprintf (cmd, sizeof cmd, "'%s' --serve x y 2>&1", exec_path);
  FILE *fp = popen (cmd, "r");
  assert_non_null (fp);
  char line[256] = "";
  assert_non_null (fgets (line, sizeof line, fp));
  int rc = pclose (fp);
  assert_string_equal (line, "muster-exec: --serve needs a descriptor and "
                             "the agent's pid\n");
  assert_true (WIFEXITED (rc));
  assert_int_equal (WEXITSTATUS (rc), 125);
}

/* The agent SIGKILLed: the server ends and so do the workers. */
static void
test_agent_death (void **state)
{
  (void)state;
  assert_int_equal (prctl (PR_SET_CHILD_SUBREAPER, 1), 0);
  int pp[2];
  assert_int_equal (pipe (pp), 0);
  pid_t agent = fork ();
  assert_true (agent >= 0);
  if (agent == 0)
    {
      close (pp[0]);
      mu_spawner_t *s = mu_spawner_new (exec_path);
      mu_launch_t l;
      if (s == NULL || launch_sh (s, "exec sleep 60", NULL, &l) != 0)
        _exit (3);
      int pids[2] = { mu_spawner_pid (s), l.pid };
      (void)!write (pp[1], pids, sizeof pids);
      for (;;)
        pause ();
    }
  close (pp[1]);
  int pids[2] = { 0, 0 };
  assert_int_equal (read (pp[0], pids, sizeof pids), sizeof pids);
  close (pp[0]);
  assert_int_equal (ppid_of (pids[0]), agent);
  assert_int_equal (ppid_of (pids[1]), agent);
  kill (agent, SIGKILL);
  int st;
  assert_int_equal (waitpid (agent, &st, 0), agent);
  int gone = wait_gone (pids[0], 10000) && wait_gone (pids[1], 10000);
  prctl (PR_SET_CHILD_SUBREAPER, 0);
  while (waitpid (-1, NULL, WNOHANG) > 0)
    ;
  assert_true (gone);
}

int
main (void)
{
  find_exec ();
  if (access (exec_path, X_OK) != 0)
    {
      fprintf (stderr, "muster-exec not found at %s (set MUSTER_EXEC_PATH)\n",
               exec_path);
      return 1;
    }
  signal (SIGPIPE, SIG_IGN);
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_launch_status),
    cmocka_unit_test (test_bad_cwd),
    cmocka_unit_test (test_restart_after_death),
    cmocka_unit_test (test_lost_with_request),
    cmocka_unit_test (test_too_big),
    cmocka_unit_test (test_serve_protocol),
    cmocka_unit_test (test_agent_death),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
