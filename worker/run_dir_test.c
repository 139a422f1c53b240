/*
 * run_dir_test.c — the agent's run directory and the sweep of dead
 * agents' directories: a held lock is never swept, an unheld one is; a
 * directory without a lock is judged by its socket only once it is old
 * (the bind-before-listen instant of a starting agent must survive, which
 * is the race the lock was introduced for).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <utime.h>

#include <cmocka.h>

#include "worker/run_dir.h"

typedef struct
{
  char tmp[64];
} fx_t;

static int
fx_setup (void **state)
{
  fx_t *fx = calloc (1, sizeof *fx);
  strcpy (fx->tmp, "/tmp/rdt-XXXXXX");
  assert_non_null (mkdtemp (fx->tmp));
  *state = fx;
  return 0;
}

static int
fx_teardown (void **state)
{
  fx_t *fx = *state;
  char cmd[128];
  snprintf (cmd, sizeof cmd, "rm -rf '%s'", fx->tmp);
  assert_int_equal (system (cmd), 0);
  free (fx);
  return 0;
}

static int
exists (const char *dir, const char *name)
{
  char p[PATH_MAX + 64];
  snprintf (p, sizeof p, "%s/%s", dir, name);
  return access (p, F_OK) == 0;
}

/* A directory as an agent of this name would leave it. */
static void
make_dir (const fx_t *fx, const char *name, char *out, size_t n)
{
  assert_true ((size_t)snprintf (out, n, "%s/%s", fx->tmp, name) < n);
  assert_int_equal (mkdir (out, 0700), 0);
}

/* A unix socket file at dir/a.sock; listening or merely bound.  Returns
 * the fd (the caller closes it). */
static int
make_sock (const char *dir, int listening)
{
  struct sockaddr_un sun = { .sun_family = AF_UNIX };
  snprintf (sun.sun_path, sizeof sun.sun_path, "%s/a.sock", dir);
  int fd = socket (AF_UNIX, SOCK_STREAM, 0);
  assert_true (fd >= 0);
  assert_int_equal (bind (fd, (struct sockaddr *)&sun, sizeof sun), 0);
  if (listening)
    assert_int_equal (listen (fd, 1), 0);
  return fd;
}

static int
make_lock (const char *dir, int hold)
{
  char p[PATH_MAX + 8];
  snprintf (p, sizeof p, "%s/lock", dir);
  int fd = open (p, O_CREAT | O_RDWR, 0600);
  assert_true (fd >= 0);
  if (hold)
    assert_int_equal (flock (fd, LOCK_EX | LOCK_NB), 0);
  return fd;
}

static void
age (const char *dir, int seconds)
{
  struct utimbuf t = { .actime = time (NULL) - seconds,
                       .modtime = time (NULL) - seconds };
  assert_int_equal (utime (dir, &t), 0);
}

static void
test_open_close (void **state)
{
  fx_t *fx = *state;
  mu_run_dir_t d;
  assert_int_equal (mu_run_dir_open (&d, fx->tmp), 0);
  assert_true (strncmp (d.path, fx->tmp, strlen (fx->tmp)) == 0);
  assert_true (exists (d.path, "lock"));
  assert_true (d.lock_fd >= 0);
  /* another agent's sweep leaves it alone while we hold the lock */
  assert_int_equal (mu_run_dir_sweep (fx->tmp), 0);
  assert_true (exists (d.path, "lock"));
  /* the lock is not inherited by what we exec */
  assert_true (fcntl (d.lock_fd, F_GETFD) & FD_CLOEXEC);
  char path[sizeof d.path];
  strcpy (path, d.path);
  mu_run_dir_close (&d);
  assert_int_equal (access (path, F_OK), -1);
  assert_int_equal (d.lock_fd, -1);
  mu_run_dir_close (&d); /* twice is harmless */
}

static void
test_open_bad_tmp (void **state)
{
  (void)state;
  mu_run_dir_t d;
  assert_int_equal (mu_run_dir_open (&d, "/nonexistent-muster-dir"), -ENOENT);
  assert_string_equal (d.path, "");
  assert_int_equal (d.lock_fd, -1);
  mu_run_dir_close (&d);
}

static void
test_sweep_unheld_lock (void **state)
{
  fx_t *fx = *state;
  char dir[PATH_MAX];
  make_dir (fx, "muster-dead01", dir, sizeof dir);
  close (make_lock (dir, 0));
  close (make_sock (dir, 0));
  assert_int_equal (mu_run_dir_sweep (fx->tmp), 1);
  assert_int_equal (access (dir, F_OK), -1);
}

static void
test_sweep_keeps_held_lock (void **state)
{
  fx_t *fx = *state;
  char dir[PATH_MAX];
  make_dir (fx, "muster-live01", dir, sizeof dir);
  int lfd = make_lock (dir, 1);
  /* even with a socket that refuses (bound, not yet listening) */
  int sfd = make_sock (dir, 0);
  age (dir, 3600);
  assert_int_equal (mu_run_dir_sweep (fx->tmp), 0);
  assert_true (exists (dir, "a.sock"));
  close (sfd);
  close (lfd);
  /* the holder died: now it goes */
  assert_int_equal (mu_run_dir_sweep (fx->tmp), 1);
  assert_int_equal (access (dir, F_OK), -1);
}

static void
test_sweep_unlocked_young_kept (void **state)
{
  fx_t *fx = *state;
  char dir[PATH_MAX];
  /* an agent between mkdtemp and its lock, or between bind and listen */
  make_dir (fx, "muster-young", dir, sizeof dir);
  int sfd = make_sock (dir, 0);
  assert_int_equal (mu_run_dir_sweep (fx->tmp), 0);
  assert_true (exists (dir, "a.sock"));
  close (sfd);
}

static void
test_sweep_unlocked_old (void **state)
{
  fx_t *fx = *state;
  char dead[PATH_MAX], live[PATH_MAX];
  make_dir (fx, "muster-old001", dead, sizeof dead);
  close (make_sock (dead, 0));
  age (dead, MU_RUN_DIR_UNLOCKED_AGE_S + 5);
  make_dir (fx, "muster-old002", live, sizeof live);
  int lfd = make_sock (live, 1);
  age (live, MU_RUN_DIR_UNLOCKED_AGE_S + 5);
  assert_int_equal (mu_run_dir_sweep (fx->tmp), 1);
  assert_int_equal (access (dead, F_OK), -1);
  assert_true (exists (live, "a.sock"));
  close (lfd);
}

static void
test_sweep_ignores_others (void **state)
{
  fx_t *fx = *state;
  char d1[PATH_MAX], d2[PATH_MAX], f[PATH_MAX];
  make_dir (fx, "muster-toolongname", d1, sizeof d1);
  close (make_lock (d1, 0));
  make_dir (fx, "other-dead01", d2, sizeof d2);
  close (make_lock (d2, 0));
  snprintf (f, sizeof f, "%s/muster-file01", fx->tmp);
  close (open (f, O_CREAT | O_WRONLY, 0600));
  assert_int_equal (mu_run_dir_sweep (fx->tmp), 0);
  assert_true (exists (d1, "lock"));
  assert_true (exists (d2, "lock"));
  assert_int_equal (access (f, F_OK), 0);
  assert_int_equal (mu_run_dir_sweep ("/nonexistent-muster-dir"), 0);
}

/* Agents starting at once sweep each other's directories: none may ever
 * lose its own, even with its socket bound and not yet listening (which
 * refuses connections) — the CI flake the lock exists for. */
static void
test_concurrent_open (void **state)
{
  fx_t *fx = *state;
  enum { PROCS = 4, ROUNDS = 300 };
  pid_t kids[PROCS];
  for (int k = 0; k < PROCS; k++)
    {
      kids[k] = fork ();
      assert_true (kids[k] >= 0);
      if (kids[k] > 0)
        continue;
      int bad = 0;
      for (int i = 0; i < ROUNDS && bad < 100; i++)
        {
          mu_run_dir_t d;
          if (mu_run_dir_open (&d, fx->tmp) != 0)
            {
              bad++;
              continue;
            }
          struct sockaddr_un sun = { .sun_family = AF_UNIX };
          int n = snprintf (sun.sun_path, sizeof sun.sun_path, "%.80s/a.sock",
                            d.path);
          int fd = socket (AF_UNIX, SOCK_STREAM, 0);
          if (n >= (int)sizeof sun.sun_path || fd < 0 || bind (fd, (struct sockaddr *)&sun, sizeof sun) != 0)
            bad++;
          (void)mu_run_dir_sweep (fx->tmp);
          if (!exists (d.path, "lock") || !exists (d.path, "a.sock"))
            bad++;
          if (fd >= 0)
            close (fd);
          mu_run_dir_close (&d);
        }
      _exit (bad > 100 ? 100 : bad);
    }
  int bad = 0;
  for (int k = 0; k < PROCS; k++)
    {
      int st;
      assert_int_equal (waitpid (kids[k], &st, 0), kids[k]);
      assert_true (WIFEXITED (st));
      bad += WEXITSTATUS (st);
    }
  assert_int_equal (bad, 0);
  /* all gone, nothing left behind */
  assert_int_equal (mu_run_dir_sweep (fx->tmp), 0);
  char cmd[160];
  snprintf (cmd, sizeof cmd, "test -z \"$(ls -A '%s')\"", fx->tmp);
  assert_int_equal (system (cmd), 0);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown (test_open_close, fx_setup, fx_teardown),
    cmocka_unit_test_setup_teardown (test_open_bad_tmp, fx_setup, fx_teardown),
    cmocka_unit_test_setup_teardown (test_sweep_unheld_lock, fx_setup,
                                     fx_teardown),
    cmocka_unit_test_setup_teardown (test_sweep_keeps_held_lock, fx_setup,
                                     fx_teardown),
    cmocka_unit_test_setup_teardown (test_sweep_unlocked_young_kept, fx_setup,
                                     fx_teardown),
    cmocka_unit_test_setup_teardown (test_sweep_unlocked_old, fx_setup,
                                     fx_teardown),
    cmocka_unit_test_setup_teardown (test_sweep_ignores_others, fx_setup,
                                     fx_teardown),
    cmocka_unit_test_setup_teardown (test_concurrent_open, fx_setup,
                                     fx_teardown),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
