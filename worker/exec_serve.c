/*
 * exec_serve.c — `muster-exec --serve FD AGENT_PID`, the agent's resident
 * spawner: it turns each spawn request into a supervisor without an exec.
 *
 * Why: every worker used to cost two execs, muster-exec's and the
 * program's (decision 97), and on this VM each exec of a glibc program
 * pays for CPU-feature probes that trap to the hypervisor; muster-exec's
 * exec was about 40 % of the CPU of a 1,000-worker start.  The agent
 * starts this server once (worker/spawner.c); for each worker it sends
 * the supervisor's command line, the environment, the working directory
 * and the two pipe ends (spawner_wire.h), and the server forks itself —
 * a small static single-threaded process, so the fork copies a few page
 * tables — and the fork runs exactly what a freshly exec'd muster-exec
 * runs (mu_exec_supervise: subreaper, parent-death signal, vfork+exec of
 * the program, the sweep, the exact exit status).  What it saves is the
 * exec and glibc's start-up in it; the agent's side shrinks too (a
 * sendmsg of two descriptors instead of a posix_spawn whose clone copies
 * and whose exec closes the agent's thousands of descriptors).
 *
 * The fork is clone(CLONE_PARENT): the supervisor is the AGENT's child,
 * not ours.  So the agent watches and reaps it exactly as one it spawned
 * itself (a pidfd of its own child, waitpid for the exact status; decision
 * 98), its parent-death signal fires when the agent dies (getppid() is the
 * agent, as MUSTER_EXEC_PPID says), and this server's death takes no
 * worker with it.  The fork is a raw clone, not glibc's fork(): the child
 * only makes system calls, formats into static buffers and execs, so
 * glibc's at-fork bookkeeping (stdio and malloc locks, the cached thread
 * id) is not needed; getpid() and raise() ask the kernel.
 *
 * The server itself holds only the socket, stdin on /dev/null and the
 * agent's stdout/stderr (for its own one-line errors); the socket is
 * close-on-exec and closed in each fork, so a worker inherits nothing of
 * it.  It ends when the agent closes the socket or dies (a pidfd of the
 * agent; the socket's end alone would miss an agent that forked a child
 * holding it), and it is never signalled by the agent except SIGKILL when
 * it stops answering.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "worker/exec_serve.h"
#include "worker/spawner_wire.h"

extern char **environ;

#define SERVE_USAGE 125

/* The request being served; its strings stay here for the fork, which
 * runs on its own copy of these pages. */
static union
{
  mu_spawn_req_t hdr;
  char bytes[MU_SPAWN_REQ_MAX];
} req;
/* argv[0], the arguments, NULL, the environment, NULL. */
static char *ptrs[MU_SPAWN_REQ_MAX + 4];
static char line[1024];
/* The server's argument strings, contiguous: a supervisor's title goes
 * there (NULL: not contiguous, titles are left alone). */
static char *title;
static size_t title_len;

static void
say (const char *text)
{
  size_t n = strlen (text);
  while (n > 0)
    {
      ssize_t w = write (STDERR_FILENO, text, n);
      if (w < 0 && errno == EINTR)
        continue;
      if (w <= 0)
        return;
      text += w;
      n -= (size_t)w;
    }
}

static int
parse_int (const char *s, long *out)
{
  char *end;
  errno = 0;
  long v = strtol (s, &end, 10);
  if (errno != 0 || end == s || *end != '\0' || v < 0)
    return -1;
  *out = v;
  return 0;
}

/* Split the request's strings into ptrs; 0, or -EINVAL when the counts
 * do not match the bytes.  *cwd is the working directory or NULL, *envp
 * the environment (inside ptrs). */
static int
split_request (size_t got, char ***envp, const char **cwd)
{
  const mu_spawn_req_t *h = &req.hdr;
  if (got < sizeof *h || h->magic != MU_SPAWN_MAGIC || h->len != got - sizeof *h
      || h->argc < 1 || h->has_cwd > 1)
    return -EINVAL;
  size_t want = (size_t)h->argc + h->envc + h->has_cwd;
  if (want > h->len)
    return -EINVAL;
  char *p = req.bytes + sizeof *h, *end = p + h->len;
  size_t k = 0;
  ptrs[k++] = (char *)"muster-exec";
  *cwd = NULL;
  for (size_t i = 0; i < want; i++)
    {
      char *nul = memchr (p, '\0', (size_t)(end - p));
      if (nul == NULL)
        return -EINVAL;
      if (i == h->argc)
        ptrs[k++] = NULL; /* end of argv; the environment follows */
      if (h->has_cwd && i == want - 1)
        *cwd = p;
      else
        ptrs[k++] = p;
      p = nul + 1;
    }
  if (p != end)
    return -EINVAL;
  if (h->argc == want - h->has_cwd)
    ptrs[k++] = NULL; /* no environment strings: argv ends here */
  ptrs[k] = NULL;
  *envp = ptrs + h->argc + 2;
  return 0;
}

/* The argument area [argv[0], end of the last argument) if the strings
 * lie back to back there, as the kernel puts them. */
static void
find_title_area (int argc, char **argv)
{
  char *end = argv[0];
  for (int i = 0; i < argc; i++)
    {
      if (argv[i] != end)
        return;
      end += strlen (argv[i]) + 1;
    }
  title = argv[0];
  title_len = (size_t)(end - argv[0]);
}

/* In the fork: /proc/PID/cmdline (what ps shows) becomes the
 * supervisor's own command line, NUL-separated, cut to the room, the
 * rest NULs.  The environment's area is not touched. */
static void
set_title (int argc, char **argv)
{
  if (title == NULL || title_len < 2)
    return;
  size_t k = 0;
  for (int i = 0; i < argc && k < title_len - 1; i++)
    {
      size_t n = strlen (argv[i]);
      if (n > title_len - 1 - k)
        n = title_len - 1 - k;
      memcpy (title + k, argv[i], n);
      k += n;
      if (k < title_len - 1)
        title[k++] = '\0';
    }
  memset (title + k, 0, title_len - k);
}

/* In the fork: the session, descriptors, directory and environment the
 * posix_spawn of muster-exec gave it, then the supervisor.  Never
 * returns. */
static void
become_supervisor (int sock, int agent_fd, int out, int err, const char *cwd,
                   char **envp)
{
  close (sock);
  if (agent_fd >= 0)
    close (agent_fd);
  setsid ();
  if (out < 3)
    out = fcntl (out, F_DUPFD, 3);
  if (err < 3)
    err = fcntl (err, F_DUPFD, 3);
  int nul = open ("/dev/null", O_RDONLY);
  if (nul < 0 || out < 0 || err < 0)
    _exit (SERVE_USAGE);
  if (nul != 0)
    {
      dup2 (nul, 0);
      close (nul);
    }
  dup2 (out, 1);
  dup2 (err, 2);
  close (out);
  close (err);
  if (cwd != NULL && chdir (cwd) != 0)
    {
      snprintf (line, sizeof line, "muster-exec: cannot enter '%.900s': %s\n",
                cwd, strerror (errno));
      say (line);
      _exit (126);
    }
  environ = envp;
  int argc = (int)req.hdr.argc + 1;
  set_title (argc, ptrs);
  _exit (mu_exec_supervise (argc, ptrs));
}

static void
reply (int sock, int err, int pid)
{
  mu_spawn_rep_t r = { .err = err, .pid = pid };
  while (send (sock, &r, sizeof r, MSG_NOSIGNAL) < 0 && errno == EINTR)
    ;
}

/* Serve one request already received (got bytes, fds[0..nfds)). */
static void
serve_one (int sock, int agent_fd, size_t got, int flags, int *fds, int nfds)
{
  char **envp = NULL;
  const char *cwd = NULL;
  int rc = (flags & (MSG_TRUNC | MSG_CTRUNC)) ? -EMSGSIZE
           : nfds != 2                        ? -EINVAL
                       : split_request (got, &envp, &cwd);
  if (rc == 0)
    {
      /* The supervisor becomes the agent's child (see the top). */
      long pid = syscall (SYS_clone, (unsigned long)CLONE_PARENT, NULL, NULL,
                          NULL, 0UL);
      if (pid == 0)
        become_supervisor (sock, agent_fd, fds[0], fds[1], cwd, envp);
      rc = pid < 0 ? -errno : 0;
      for (int i = 0; i < nfds; i++)
        close (fds[i]);
      reply (sock, rc, rc == 0 ? (int)pid : 0);
      return;
    }
  for (int i = 0; i < nfds; i++)
    close (fds[i]);
  reply (sock, rc, 0);
}

int
mu_exec_serve (int argc, char **argv)
{
  long sock_l, agent_l;
  if (argc < 4 || argc > 5 || parse_int (argv[2], &sock_l) != 0
      || parse_int (argv[3], &agent_l) != 0 || agent_l == 0)
    {
      say ("muster-exec: --serve needs a descriptor and the agent's pid\n");
      return SERVE_USAGE;
    }
  find_title_area (argc, argv);
  if (argc == 5)
    memset (argv[4], 0, strlen (argv[4])); /* the room: blank in ps */
  int sock = (int)sock_l;
  pid_t agent = (pid_t)agent_l;
  if (getppid () != agent)
    return 0; /* the agent is already gone */
  if (fcntl (sock, F_SETFD, FD_CLOEXEC) != 0)
    {
      say ("muster-exec: --serve: the descriptor is not open\n");
      return SERVE_USAGE;
    }
  /* Nothing else of the agent's (descriptors it inherited without
   * close-on-exec) may reach a worker. */
  if (sock > 3)
    (void)syscall (SYS_close_range, 3U, (unsigned)sock - 1, 0U);
  (void)syscall (SYS_close_range, (unsigned)sock + 1, ~0U, 0U);
  int agent_fd = (int)syscall (SYS_pidfd_open, agent, 0);
  if (agent_fd >= 0)
    (void)fcntl (agent_fd, F_SETFD, FD_CLOEXEC);
  for (;;)
    {
      struct pollfd p[2] = { { .fd = sock, .events = POLLIN },
                             { .fd = agent_fd, .events = POLLIN } };
      if (poll (p, agent_fd >= 0 ? 2 : 1, -1) < 0)
        {
          if (errno == EINTR)
            continue;
          return 1;
        }
      if (agent_fd >= 0 && p[1].revents != 0)
        return 0; /* the agent died */
      if (p[0].revents == 0)
        continue;
      union
      {
        struct cmsghdr align;
        char buf[CMSG_SPACE (4 * sizeof (int))];
      } cm;
      struct iovec iov = { .iov_base = req.bytes, .iov_len = sizeof req };
      struct msghdr m = { .msg_iov = &iov,
                          .msg_iovlen = 1,
                          .msg_control = cm.buf,
                          .msg_controllen = sizeof cm.buf };
      ssize_t n = recvmsg (sock, &m, MSG_CMSG_CLOEXEC);
      if (n == 0)
        return 0; /* the agent closed its end */
      if (n < 0)
        {
          if (errno == EINTR || errno == EAGAIN)
            continue;
          return 1;
        }
      int fds[4], nfds = 0;
      for (struct cmsghdr *c = CMSG_FIRSTHDR (&m); c != NULL;
           c = CMSG_NXTHDR (&m, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
          {
            size_t k = (c->cmsg_len - CMSG_LEN (0)) / sizeof (int);
            for (size_t i = 0; i < k && nfds < 4; i++)
              memcpy (&fds[nfds++], CMSG_DATA (c) + i * sizeof (int),
                      sizeof (int));
          }
      serve_one (sock, agent_fd, (size_t)n, m.msg_flags, fds, nfds);
    }
}
