/*
 * run_dir.c — the agent's run directory and the sweep of dead agents'.
 *
 * Every agent makes $TMPDIR/muster-XXXXXX for the ipc socket of its
 * workers and removes it when it exits; an agent killed with SIGKILL
 * leaves it behind, so each new agent sweeps the leftovers first.
 *
 * Liveness is an exclusive flock on <dir>/lock, taken right after mkdtemp
 * and held (O_CLOEXEC, so no worker inherits it) until the agent exits;
 * the kernel drops it when the agent dies however it dies.  A sweeper that
 * can take the lock knows the owner is gone.  The lock file is made
 * under another name and renamed once locked, so "lock" never exists
 * unlocked while its agent lives.  An earlier version asked
 * the socket instead (connect() refused = dead); that raced with a live
 * agent between its bind() and listen() — the socket file exists and
 * refuses connections for that instant — and under load (two agents
 * starting at once, ASan) one agent deleted the other's socket, whose
 * workers then never reached it.  The socket test survives only for
 * directories without a lock file, and only once they are older than
 * MU_RUN_DIR_UNLOCKED_AGE_S.
 *
 * A root agent running jobs of other users also has one u<uid>.<n>
 * subdirectory per such user, with that user's endpoint in it (see
 * agent_ipc_owner.c); removing a run directory removes those first.
 */
#include "worker/run_dir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

const char *
mu_run_dir_tmp (void)
{
  const char *tmp = getenv ("TMPDIR");
  if (tmp == NULL || tmp[0] != '/' || strlen (tmp) > 64)
    tmp = "/tmp";
  return tmp;
}

/* Does nobody listen on the ipc socket at path (connection refused, or no
 * socket at all)? */
static int
socket_refuses (const char *path)
{
  struct sockaddr_un sun = { .sun_family = AF_UNIX };
  if (strlen (path) >= sizeof sun.sun_path)
    return 0;
  strcpy (sun.sun_path, path);
  int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return 0;
  int refused = connect (fd, (struct sockaddr *)&sun, sizeof sun) != 0
                && (errno == ECONNREFUSED || errno == ENOENT);
  close (fd);
  return refused;
}

/* The per-owner endpoint directories "u<uid>.<n>" (agent_ipc_owner.c). */
static void
remove_owner_dirs (const char *dir)
{
  DIR *d = opendir (dir);
  if (d == NULL)
    return;
  struct dirent *e;
  while ((e = readdir (d)) != NULL)
    {
      if (e->d_name[0] != 'u' || strchr (e->d_name, '.') == NULL)
        continue;
      char p[PATH_MAX + 300];
      snprintf (p, sizeof p, "%s/%s/a.sock", dir, e->d_name);
      unlink (p);
      snprintf (p, sizeof p, "%s/%s", dir, e->d_name);
      rmdir (p);
    }
  closedir (d);
}

static void
remove_dir (const char *dir)
{
  char p[PATH_MAX + 16];
  remove_owner_dirs (dir);
  snprintf (p, sizeof p, "%s/a.sock", dir);
  unlink (p);
  snprintf (p, sizeof p, "%s/lock", dir);
  unlink (p);
  snprintf (p, sizeof p, "%s/lock.new", dir);
  unlink (p);
  rmdir (dir);
}

/* Is the agent that owns dir gone?  On 1 the caller removes dir; a lock
 * taken here is released by the caller closing *fd after the removal. */
static int
owner_dead (const char *dir, int *fd)
{
  char p[PATH_MAX + 16];
  *fd = -1;
  snprintf (p, sizeof p, "%s/lock", dir);
  int lfd = open (p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (lfd >= 0)
    {
      if (flock (lfd, LOCK_EX | LOCK_NB) != 0)
        {
          close (lfd); /* EWOULDBLOCK: its agent holds it */
          return 0;
        }
      *fd = lfd;
      return 1;
    }
  if (errno != ENOENT)
    return 0;
  struct stat st;
  if (stat (dir, &st) != 0
      || time (NULL) - st.st_mtime < MU_RUN_DIR_UNLOCKED_AGE_S)
    return 0;
  snprintf (p, sizeof p, "%s/a.sock", dir);
  return socket_refuses (p);
}

int
mu_run_dir_sweep (const char *tmp)
{
  DIR *d = opendir (tmp);
  if (d == NULL)
    return 0;
  int removed = 0;
  struct dirent *e;
  while ((e = readdir (d)) != NULL)
    {
      if (strncmp (e->d_name, "muster-", 7) != 0 || strlen (e->d_name) != 13)
        continue;
      char dir[PATH_MAX];
      snprintf (dir, sizeof dir, "%s/%s", tmp, e->d_name);
      struct stat st;
      if (lstat (dir, &st) != 0 || !S_ISDIR (st.st_mode)
          || st.st_uid != geteuid ())
        continue;
      int fd;
      if (!owner_dead (dir, &fd))
        continue;
      remove_dir (dir);
      if (fd >= 0)
        close (fd);
      removed++;
    }
  closedir (d);
  return removed;
}

int
mu_run_dir_open (mu_run_dir_t *d, const char *tmp)
{
  d->path[0] = '\0';
  d->lock_fd = -1;
  (void)mu_run_dir_sweep (tmp);
  char path[sizeof d->path];
  if ((size_t)snprintf (path, sizeof path, "%s/muster-XXXXXX", tmp)
      >= sizeof path)
    return -ENAMETOOLONG;
  if (mkdtemp (path) == NULL)
    return -errno;
  /* The lock appears under its name already locked: made under another
   * name, locked, then renamed.  Created as "lock" directly, a sweeper
   * could take it in the instant before our flock, judge us dead and
   * remove the directory under us. */
  char tmp_lock[sizeof path + 16], lock[sizeof path + 8];
  snprintf (tmp_lock, sizeof tmp_lock, "%s/lock.new", path);
  snprintf (lock, sizeof lock, "%s/lock", path);
  int fd = open (tmp_lock, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC | O_NOFOLLOW,
                 0600);
  if (fd < 0 || flock (fd, LOCK_EX | LOCK_NB) != 0
      || rename (tmp_lock, lock) != 0)
    {
      int err = -errno;
      if (fd >= 0)
        close (fd);
      unlink (tmp_lock);
      rmdir (path);
      return err;
    }
  memcpy (d->path, path, sizeof path);
  d->lock_fd = fd;
  return 0;
}

void
mu_run_dir_close (mu_run_dir_t *d)
{
  if (d->path[0] != '\0')
    remove_dir (d->path);
  if (d->lock_fd >= 0)
    close (d->lock_fd);
  d->path[0] = '\0';
  d->lock_fd = -1;
}
