/*
 * spawner.c — the agent's end of the resident spawner (spawner.h): start
 * `muster-exec --serve` once, send it one request per worker, take the
 * supervisor's pid from its reply, and notice when it died.
 *
 * A launch is one round trip on a SOCK_SEQPACKET pair: the request (the
 * command line, environment and directory as strings, spawner_wire.h)
 * and the write ends of two fresh pipes as SCM_RIGHTS, then a reply of
 * eight bytes.  The server answers once its clone() has returned, before
 * the program's exec, so the agent waits for a fork of a small process,
 * not for an exec; the supervisor, vfork and exec of the program run
 * beside the agent on the other core.  The round trip is synchronous on
 * purpose: the caller gets the pid at once, as from posix_spawn, and
 * spawn.c and the agent did not change shape.
 *
 * The server's death is found lazily, where it matters: before each
 * request (waitpid WNOHANG on its pid, our child), by a send that fails
 * (EPIPE: the request was never read, so the server is started again and
 * the request sent once more), or by a reply that never comes (EOF, or
 * MU_SPAWNER_REPLY_MS of silence: the server is killed and reaped, and
 * that one launch fails with MUSTER_EPEERLOST — it may or may not have
 * forked, and a second try could start the worker twice).  Nothing runs
 * between launches, so an idle agent pays nothing for it.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "worker/spawner.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <muster/error.h>

#include "worker/spawner_wire.h"

extern char **environ;

#define MU_SPAWNER_REPLY_MS 10000 /* a fork takes far less, even loaded */

struct mu_spawner
{
  char *helper;
  int pid;  /* the server, 0 while none runs */
  int sock; /* our end, -1 while none runs */
  unsigned starts;
  char *buf; /* the request being built (kept between launches) */
  size_t cap;
};

mu_spawner_t *
mu_spawner_new (const char *helper)
{
  if (helper == NULL)
    return NULL;
  mu_spawner_t *s = calloc (1, sizeof *s);
  if (s == NULL)
    return NULL;
  s->helper = strdup (helper);
  if (s->helper == NULL)
    {
      free (s);
      return NULL;
    }
  s->sock = -1;
  return s;
}

/* Close our end and reap the server (killed first when `kill_it`). */
static void
sp_stop (mu_spawner_t *s, int kill_it)
{
  if (s->sock >= 0)
    close (s->sock);
  s->sock = -1;
  if (s->pid > 0)
    {
      if (kill_it)
        kill (s->pid, SIGKILL);
      while (waitpid (s->pid, NULL, 0) < 0 && errno == EINTR)
        ;
    }
  s->pid = 0;
}

/* Has the server died since the last launch?  Then forget it. */
static void
sp_check (mu_spawner_t *s)
{
  if (s->pid <= 0)
    return;
  pid_t r;
  do
    r = waitpid (s->pid, NULL, WNOHANG);
  while (r < 0 && errno == EINTR);
  if (r == 0)
    return;
  s->pid = 0; /* reaped now, or by someone else (ECHILD) */
  sp_stop (s, 0);
}

static int
sp_start (mu_spawner_t *s)
{
  int sv[2];
  if (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
    return -errno;
  /* The server's end above 3, so that its dup2 onto 3 clears
   * close-on-exec there. */
  int theirs = fcntl (sv[1], F_DUPFD_CLOEXEC, 4);
  close (sv[1]);
  if (theirs < 0)
    {
      int e = -errno;
      close (sv[0]);
      return e;
    }
  int sndbuf = (int)(2 * MU_SPAWN_REQ_MAX);
  (void)setsockopt (sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
  char agent[24];
  snprintf (agent, sizeof agent, "%ld", (long)getpid ());
  char room[MU_SPAWN_TITLE_ROOM + 1]; /* see spawner_wire.h */
  memset (room, ' ', MU_SPAWN_TITLE_ROOM);
  room[MU_SPAWN_TITLE_ROOM] = '\0';
  char *argv[]
      = { s->helper, (char *)"--serve", (char *)"3", agent, room, NULL };
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t at;
  posix_spawn_file_actions_init (&fa);
  posix_spawnattr_init (&at);
  sigset_t none, all;
  sigemptyset (&none);
  memset (&all, 0xff, sizeof all); /* glibc's own two too: proc_launch.c */
  int rc = posix_spawn_file_actions_addopen (&fa, 0, "/dev/null", O_RDONLY, 0);
  if (rc == 0)
    rc = posix_spawn_file_actions_adddup2 (&fa, theirs, 3);
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
    rc = posix_spawn (&pid, s->helper, &fa, &at, argv, environ);
  posix_spawn_file_actions_destroy (&fa);
  posix_spawnattr_destroy (&at);
  close (theirs);
  if (rc != 0)
    {
      close (sv[0]);
      return -rc;
    }
  s->pid = pid;
  s->sock = sv[0];
  s->starts++;
  return 0;
}

/* Append a string (with its NUL) to the request; -EMSGSIZE past the
 * server's bound. */
static int
sp_put (mu_spawner_t *s, size_t *len, const char *str)
{
  size_t n = strlen (str) + 1;
  if (*len + n > MU_SPAWN_REQ_MAX)
    return -EMSGSIZE;
  if (*len + n > s->cap)
    {
      size_t cap = s->cap ? s->cap : 8192;
      while (cap < *len + n)
        cap *= 2;
      char *b = realloc (s->buf, cap);
      if (b == NULL)
        return -ENOMEM;
      s->buf = b;
      s->cap = cap;
    }
  memcpy (s->buf + *len, str, n);
  *len += n;
  return 0;
}

static int
sp_build (mu_spawner_t *s, const mu_launch_opts_t *o, size_t *len_out)
{
  mu_spawn_req_t h = { .magic = MU_SPAWN_MAGIC, .has_cwd = o->cwd != NULL };
  char *const *env = o->env != NULL ? o->env : environ;
  size_t len = sizeof h;
  int rc = 0;
  if (s->cap < len)
    {
      char *b = realloc (s->buf, 8192);
      if (b == NULL)
        return -ENOMEM;
      s->buf = b;
      s->cap = 8192;
    }
  for (size_t i = 0; rc == 0 && o->argv[i] != NULL; i++, h.argc++)
    rc = sp_put (s, &len, o->argv[i]);
  for (size_t i = 0; rc == 0 && env[i] != NULL; i++, h.envc++)
    rc = sp_put (s, &len, env[i]);
  if (rc == 0 && o->cwd != NULL)
    rc = sp_put (s, &len, o->cwd);
  if (rc != 0)
    return rc;
  h.len = (uint32_t)(len - sizeof h);
  memcpy (s->buf, &h, sizeof h);
  *len_out = len;
  return 0;
}

/* Send the request with the two write ends: 0, -EPIPE when the server is
 * gone (the request was not read), or another negative errno. */
static int
sp_send (mu_spawner_t *s, size_t len, int out_w, int err_w)
{
  union
  {
    struct cmsghdr align;
    char buf[CMSG_SPACE (2 * sizeof (int))];
  } cm;
  memset (&cm, 0, sizeof cm);
  struct iovec iov = { .iov_base = s->buf, .iov_len = len };
  struct msghdr m = { .msg_iov = &iov,
                      .msg_iovlen = 1,
                      .msg_control = cm.buf,
                      .msg_controllen = sizeof cm.buf };
  struct cmsghdr *c = CMSG_FIRSTHDR (&m);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN (2 * sizeof (int));
  int fds[2] = { out_w, err_w };
  memcpy (CMSG_DATA (c), fds, sizeof fds);
  for (;;)
    {
      if (sendmsg (s->sock, &m, MSG_NOSIGNAL) == (ssize_t)len)
        return 0;
      if (errno == EINTR)
        continue;
      return errno == ECONNRESET || errno == ENOTCONN ? -EPIPE : -errno;
    }
}

/* The reply: 0 and *rep, or MUSTER_EPEERLOST (EOF or silence). */
static int
sp_recv (mu_spawner_t *s, mu_spawn_rep_t *rep)
{
  for (;;)
    {
      struct pollfd p = { .fd = s->sock, .events = POLLIN };
      int n = poll (&p, 1, MU_SPAWNER_REPLY_MS);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return MUSTER_EPEERLOST;
      ssize_t r = recv (s->sock, rep, sizeof *rep, 0);
      if (r < 0 && errno == EINTR)
        continue;
      return r == (ssize_t)sizeof *rep ? 0 : MUSTER_EPEERLOST;
    }
}

int
mu_spawner_launch (mu_spawner_t *s, const mu_launch_opts_t *o, mu_launch_t *l)
{
  if (s == NULL || o == NULL || l == NULL || o->argv == NULL
      || o->argv[0] == NULL)
    return -EINVAL;
  l->pid = 0;
  l->pidfd = l->out_fd = l->err_fd = -1;
  struct stat st;
  if (o->cwd != NULL && stat (o->cwd, &st) != 0)
    return -errno;
  if (o->cwd != NULL && !S_ISDIR (st.st_mode))
    return -ENOTDIR;
  size_t len;
  int rc = sp_build (s, o, &len);
  if (rc != 0)
    return rc;
  int out[2], err[2];
  if ((rc = mu_launch_pipe (out)) != 0)
    return rc;
  if ((rc = mu_launch_pipe (err)) != 0)
    {
      close (out[0]);
      close (out[1]);
      return rc;
    }
  for (int attempt = 0;; attempt++)
    {
      rc = 0;
      sp_check (s);
      if (s->pid == 0)
        rc = sp_start (s);
      if (rc == 0)
        rc = sp_send (s, len, out[1], err[1]);
      if (rc == -EPIPE)
        sp_stop (s, 1); /* gone before it read the request */
      if (rc != -EPIPE || attempt > 0)
        break;
    }
  if (rc == -EPIPE)
    rc = MUSTER_EPEERLOST; /* a new server went the same way */
  close (out[1]);
  close (err[1]);
  mu_spawn_rep_t rep = { 0, 0 };
  if (rc == 0)
    rc = sp_recv (s, &rep);
  if (rc == MUSTER_EPEERLOST)
    sp_stop (s, 1);
  if (rc == 0)
    rc = rep.err;
  if (rc == 0 && rep.pid <= 0)
    rc = MUSTER_EPEERLOST;
  if (rc != 0)
    {
      close (out[0]);
      close (err[0]);
      return rc;
    }
  int pidfd = (int)syscall (SYS_pidfd_open, rep.pid, 0);
  if (pidfd < 0 && errno != ENOSYS)
    {
      rc = -errno;
      kill (-rep.pid, SIGKILL);
      kill (rep.pid, SIGKILL);
      while (waitpid (rep.pid, NULL, 0) < 0 && errno == EINTR)
        ;
      close (out[0]);
      close (err[0]);
      return rc;
    }
  l->pid = rep.pid;
  l->pidfd = pidfd;
  l->out_fd = out[0];
  l->err_fd = err[0];
  return 0;
}

int
mu_spawner_pid (const mu_spawner_t *s)
{
  return s != NULL ? s->pid : 0;
}

unsigned
mu_spawner_restarts (const mu_spawner_t *s)
{
  return s != NULL && s->starts > 1 ? s->starts - 1 : 0;
}

void
mu_spawner_destroy (mu_spawner_t **s_p)
{
  if (s_p == NULL || *s_p == NULL)
    return;
  mu_spawner_t *s = *s_p;
  *s_p = NULL;
  sp_check (s);
  sp_stop (s, 1);
  free (s->buf);
  free (s->helper);
  free (s);
}
