/*
 * proc_launch.c — posix_spawn a process into its own session with its
 * stdout and stderr on pipes, and hand back a pidfd for its exit (see
 * proc_launch.h for why not uv_spawn).
 *
 * glibc's posix_spawn runs the child on a separate stack with
 * clone(CLONE_VM | CLONE_VFORK): the caller is suspended until the child
 * has exec'd (or failed to, and then posix_spawn returns the exec's
 * errno), and no page of the caller is copied or write-protected, so the
 * cost of a start does not grow with the caller's memory.  The child's
 * set-up is declared, not coded: POSIX_SPAWN_SETSID (a session and
 * process group of its own, as UV_PROCESS_DETACHED), an empty signal mask
 * and every signal back to its default (a SIG_IGN of the agent, SIGPIPE
 * say, would otherwise survive the exec; so would glibc's, see below),
 * /dev/null on stdin, the pipes' write ends on 1 and 2, and the working
 * directory.  No other descriptor of the caller reaches the program: its
 * own are O_CLOEXEC, and any it inherited without that flag is closed in
 * the child (closefrom 3).
 *
 * PATH: like execvp in the child (what uv_spawn did once it had set the
 * child's environment), a bare name is looked up in the PATH of the
 * child's environment, falling back to the caller's and then to
 * "/bin:/usr/bin".
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "worker/proc_launch.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* A pipe whose write end is at 3 or above, so that placing it on 1 or 2
 * in the child never collides with the other one (and dup2 always clears
 * its close-on-exec flag there). */
int
mu_launch_pipe (int fds[2])
{
  if (pipe2 (fds, O_CLOEXEC) != 0)
    return -errno;
  if (fds[1] < 3)
    {
      int w = fcntl (fds[1], F_DUPFD_CLOEXEC, 3);
      if (w < 0)
        {
          int e = -errno;
          close (fds[0]);
          close (fds[1]);
          return e;
        }
      close (fds[1]);
      fds[1] = w;
    }
  return 0;
}

static const char *
launch_env_path (char *const *env)
{
  if (env != NULL)
    {
      for (size_t i = 0; env[i] != NULL; i++)
        if (strncmp (env[i], "PATH=", 5) == 0)
          return env[i] + 5;
    }
  const char *p = getenv ("PATH");
  return p != NULL ? p : "/bin:/usr/bin";
}

/* argv[0] as a path: itself if it holds a '/' (0 if it is executable,
 * else the negative errno of access()), else the first executable file
 * of that name in PATH (an empty entry is the working directory): 0,
 * -ENOENT, or -EACCES when only non-executable ones were found. */
static int
launch_resolve (const char *name, char *const *env, char *out, size_t n)
{
  if (strchr (name, '/') != NULL)
    {
      if (strlen (name) >= n)
        return -ENAMETOOLONG;
      memcpy (out, name, strlen (name) + 1);
      return access (out, X_OK) == 0 ? 0 : -errno;
    }
  if (name[0] == '\0')
    return -ENOENT;
  int rc = -ENOENT;
  const char *p = launch_env_path (env);
  for (;;)
    {
      size_t len = strcspn (p, ":");
      int w = len == 0 ? snprintf (out, n, "%s", name)
                       : snprintf (out, n, "%.*s/%s", (int)len, p, name);
      if (w > 0 && (size_t)w < n)
        {
          if (access (out, X_OK) == 0)
            return 0;
          if (errno == EACCES)
            rc = -EACCES;
        }
      if (p[len] == '\0')
        return rc;
      p += len + 1;
    }
}

int
mu_launch (const mu_launch_opts_t *o, mu_launch_t *l)
{
  if (o == NULL || l == NULL || o->argv == NULL || o->argv[0] == NULL)
    return -EINVAL;
  l->pid = 0;
  l->pidfd = l->out_fd = l->err_fd = -1;
  char path[4096];
  int rc = launch_resolve (o->argv[0], o->env, path, sizeof path);
  if (rc != 0)
    return rc;
  /* posix_spawn reports a failed chdir or exec too, but only where the
   * child shares our memory (not under valgrind, which turns the vfork
   * into a fork): the common mistakes are caught here, in any case. */
  struct stat st;
  if (o->cwd != NULL && stat (o->cwd, &st) != 0)
    return -errno;
  if (o->cwd != NULL && !S_ISDIR (st.st_mode))
    return -ENOTDIR;
  int out[2], err[2];
  if ((rc = mu_launch_pipe (out)) != 0)
    return rc;
  if ((rc = mu_launch_pipe (err)) != 0)
    {
      close (out[0]);
      close (out[1]);
      return rc;
    }

  posix_spawn_file_actions_t fa;
  posix_spawnattr_t at;
  posix_spawn_file_actions_init (&fa);
  posix_spawnattr_init (&at);
  sigset_t none, all;
  sigemptyset (&none);
  /* Every signal, glibc's own two (32 and 33) included: sigfillset()
   * leaves those out, and the spawned child would then set them to
   * SIG_IGN and exec with them ignored.  The set is a bit mask and the
   * child tests its bits, so it is filled directly. */
  memset (&all, 0xff, sizeof all);
  rc = posix_spawn_file_actions_addopen (&fa, 0, "/dev/null", O_RDONLY, 0);
  if (rc == 0)
    rc = posix_spawn_file_actions_adddup2 (&fa, out[1], 1);
  if (rc == 0)
    rc = posix_spawn_file_actions_adddup2 (&fa, err[1], 2);
  /* Descriptors the caller holds without close-on-exec (inherited from
   * whoever started it) are not the child's either. */
  if (rc == 0)
    rc = posix_spawn_file_actions_addclosefrom_np (&fa, 3);
  if (rc == 0 && o->cwd != NULL)
    rc = posix_spawn_file_actions_addchdir_np (&fa, o->cwd);
  if (rc == 0)
    rc = posix_spawnattr_setflags (&at, POSIX_SPAWN_SETSID
                                            | POSIX_SPAWN_SETSIGMASK
                                            | POSIX_SPAWN_SETSIGDEF);
  if (rc == 0)
    rc = posix_spawnattr_setsigmask (&at, &none);
  if (rc == 0)
    rc = posix_spawnattr_setsigdefault (&at, &all);
  pid_t pid = 0;
  if (rc == 0)
    rc = posix_spawn (&pid, path, &fa, &at, o->argv,
                      o->env != NULL ? o->env : environ);
  posix_spawn_file_actions_destroy (&fa);
  posix_spawnattr_destroy (&at);
  close (out[1]);
  close (err[1]);
  if (rc != 0)
    {
      close (out[0]);
      close (err[0]);
      return -rc;
    }
  int pidfd = (int)syscall (SYS_pidfd_open, pid, 0);
  if (pidfd < 0 && errno != ENOSYS)
    {
      rc = -errno;
      kill (-pid, SIGKILL);
      while (waitpid (pid, NULL, 0) < 0 && errno == EINTR)
        ;
      close (out[0]);
      close (err[0]);
      return rc;
    }
  l->pid = pid;
  l->pidfd = pidfd;
  l->out_fd = out[0];
  l->err_fd = err[0];
  return 0;
}

int
mu_launch_pidfd_usable (void)
{
  int fd = (int)syscall (SYS_pidfd_open, getpid (), 0);
  if (fd < 0)
    return errno != ENOSYS;
  close (fd);
  return 1;
}

int
mu_launch_reap (int pid, int64_t *exit_code, int *term_signal)
{
  int st;
  pid_t r;
  do
    r = waitpid (pid, &st, WNOHANG);
  while (r < 0 && errno == EINTR);
  if (r < 0)
    return -errno;
  if (r == 0)
    return -EAGAIN;
  *exit_code = WIFEXITED (st) ? WEXITSTATUS (st) : 0;
  *term_signal = WIFSIGNALED (st) ? WTERMSIG (st) : 0;
  return 0;
}
