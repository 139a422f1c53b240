/*
 * muster_exec.c — `muster-exec [--uid UID [--cwd DIR]] [--] PROGRAM [ARGS...]`,
 * the exec wrapper every worker is started through.
 *
 * Why it exists: the agent spawns workers with uv_spawn(UV_PROCESS_DETACHED),
 * so each worker lives in its own session and process group, which lets the
 * agent signal everything a worker started with one kill(-pgid).  But a
 * SIGKILLed agent runs no cleanup, and libuv has no hook between fork and
 * exec where PR_SET_PDEATHSIG could be set.  muster-exec is that hook, and a
 * little more: it is the session and group leader (pgid == its pid == the
 * pid the agent sees), it forks PROGRAM as its only direct child, and it
 * guarantees that no process of the worker outlives either the worker or the
 * agent:
 *
 *   - PR_SET_PDEATHSIG(SIGHUP) plus a getppid() check against the agent's pid
 *     (env MUSTER_EXEC_PPID, removed before PROGRAM runs) tells it when the
 *     agent is gone — also if the agent died before the prctl (the race every
 *     PDEATHSIG user must close), and, through a pidfd of the agent (where
 *     pidfd_open exists; else a getppid() poll once a second), if the
 *     pdeath signal was spent on the exit of a non-main agent thread.
 *     While PROGRAM runs it waits in poll() on that pidfd and a signalfd of
 *     its blocked signals, so a thousand idle workers' helpers never wake
 *     (docs/architecture.md, decision 99).  On parent death it kills every
 *     descendant and then its whole process group, itself included.
 *   - PR_SET_CHILD_SUBREAPER makes orphaned descendants its children, so it
 *     can always find them: when PROGRAM exits, muster-exec SIGKILLs every
 *     child it has, reaps, and repeats until it has no children left (each
 *     kill of a child re-parents that child's children to it).  This reaches
 *     descendants that moved to another process group or session with
 *     setsid(), which a kill(-pgid) would miss, and it cannot kill a stranger
 *     by pid reuse: a pid that is our unreaped child cannot be reused.  The
 *     sweep gives up after SWEEP_BOUND_MS on processes stuck in
 *     uninterruptible sleep (they already have SIGKILL pending).
 *   - It then exits with PROGRAM's exact status: the same exit code, or, if
 *     PROGRAM was killed by a signal, it raises that signal on itself (with
 *     core dumps off) so the agent's exit callback sees the same signal.
 *   - PROGRAM runs (from a vfork) with an empty signal mask, default
 *     dispositions and PR_SET_PDEATHSIG(SIGKILL), so it dies if muster-exec
 *     itself is killed.
 *     If exec fails it prints one line, "muster-exec: cannot run 'PROGRAM':
 *     <strerror>", and exits 127 (not found) or 126 (found but not runnable),
 *     as a shell does.
 *
 * Signal design: THE AGENT SIGNALS THE WHOLE GROUP (kill(-pid, sig)), and
 * muster-exec forwards nothing.  Every process of the worker receives the
 * agent's signal directly from the kernel, exactly as without muster-exec;
 * muster-exec keeps all catchable signals blocked and takes them with
 * sigtimedwait(), so its own copy is consumed and ignored (SIGHUP only counts
 * as parent death when getppid() has changed).  Nothing is ever delivered
 * twice, SIGKILL and SIGSTOP/SIGCONT to the group behave as they would on a
 * bare worker, and the agent treats "helper" and "no helper" the same.  A
 * terminating signal that reaches muster-exec after it blocked signals but
 * before PROGRAM exists would have killed PROGRAM at once had it already
 * run, so muster-exec dies of that signal instead of starting PROGRAM.
 * The one signal the agent sends to muster-exec alone is MU_EXEC_SWEEP_SIG
 * (spawn.h), its hard kill: muster-exec then SIGKILLs every descendant,
 * including those that left the group with setsid(), and dies of SIGKILL
 * (the agent follows up with a group SIGKILL if it does not).  It is obeyed
 * only when si_pid is the agent's, so a worker may use that signal freely.
 *
 * Running as the job's owner (--uid UID --gid GID [--groups G,G...]
 * [--cwd DIR], passed by a root agent as arguments, never through the
 * environment PROGRAM would inherit): the child calls setgroups, setgid,
 * setuid (each checked, then proves setuid(0) fails, worker/owner_become.c),
 * enters --cwd DIR as the user (so a directory the user may not enter fails
 * with a clear line, exit 126; without --cwd it enters $HOME, or /), and
 * only then sets its parent-death signal (a credential change clears it)
 * and execs.  PROGRAM and everything it starts run as the user.
 * muster-exec does not read the user database: it is static, and a static
 * glibc's NSS modules crash unless the runtime glibc is the linked one (a
 * lookup of an unknown uid did, here); the agent resolves the user
 * (worker/owner.c) and sets HOME, USER, LOGNAME and SHELL from the passwd
 * entry in the worker's environment.  muster-exec itself STAYS ROOT: it
 * runs no user code, and as root it cannot be signalled, ptraced or killed
 * by the job it watches, so the job cannot defeat the sweep that kills its
 * leftovers when it exits or the agent dies (as the user, the job could
 * SIGKILL its own subreaper and leave setsid()ed descendants behind).  A
 * non-root muster-exec asked for another uid prints one line naming the
 * uid and exits 126 before PROGRAM is started.
 *
 * Two ways in: exec'd per worker by the agent (posix_spawn, the command
 * line above), or forked by the agent's resident spawner, `muster-exec
 * --serve FD AGENT_PID` (exec_serve.c, decision 110), which runs
 * mu_exec_supervise in a clone(CLONE_PARENT) of itself with the same
 * command line, descriptors and environment — the supervisor is then the
 * agent's child all the same, and everything below holds unchanged.
 *
 * Cost: no stdio, a handful of syscalls plus one vfork before PROGRAM's
 * exec; static buffers only.  (The vfork child only makes system calls — setgroups,
 * setgid, setuid, chdir, prctl, sigprocmask — and execs; the error line is
 * formatted into a static buffer the suspended parent never reads.)
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "worker/exec_serve.h" /* --serve: the resident spawner */
#include "worker/owner.h" /* the switch of --uid */
#include "worker/spawn.h" /* MU_EXEC_SWEEP_SIG, the contract with spawn.c */

#define PDEATH_SIG SIGHUP
#define PARENT_POLL_MS 1000 /* getppid() poll while PROGRAM runs, where
                               there is no pidfd of the agent */
#define AGENT_GONE (-2)     /* next_signal: the agent's pidfd is readable */
#define SWEEP_BOUND_MS 5000 /* longest wait for killed descendants */
#define SWEEP_STEP_MS 100   /* rescan for children at least this often */
#define EXIT_USAGE 125      /* muster-exec's own failures (like env(1)) */

static pid_t self_pid;
static pid_t agent_pid;         /* parent we must not outlive */
static int agent_fd = -1;       /* its pidfd; -1: poll getppid() */
static int sig_fd = -1;         /* signalfd of `waited`; -1: sigtimedwait */
static pid_t child_pid;         /* PROGRAM */
static int child_status;        /* its wait status once child_done */
static int child_done;
static sigset_t waited;         /* all catchable asynchronous signals */
static char children_path[64];  /* /proc/self/task/<pid>/children */
static char iobuf[4096];        /* reading /proc files */
static char msg[1024];          /* the one error line */
static char **prog_argv;        /* PROGRAM and its arguments */
static mu_owner_t owner;        /* --uid: who PROGRAM runs as */
static int switch_user;         /* PROGRAM must become `owner` */
static const char *run_home;    /* $HOME, entered without --cwd */
static const char *run_cwd;     /* --cwd: entered as `owner` */

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
      n -= (size_t) w;
    }
}

static long
ms_until (const struct timespec *deadline)
{
  struct timespec now;
  clock_gettime (CLOCK_MONOTONIC, &now);
  return (long) (deadline->tv_sec - now.tv_sec) * 1000
         + (deadline->tv_nsec - now.tv_nsec) / 1000000;
}

/* Does `sig` terminate a process whose disposition is the default? */
static int
default_terminates (int sig)
{
  switch (sig)
    {
    case SIGCHLD:
    case SIGCONT:
    case SIGURG:
    case SIGWINCH:
    case SIGSTOP:
    case SIGTSTP:
    case SIGTTIN:
    case SIGTTOU:
      return 0;
    default:
      return 1;
    }
}

/* Record the exit of PROGRAM if `pid` is it. */
static void
note_reaped (pid_t pid, int status)
{
  if (pid == child_pid && !child_done)
    {
      child_done = 1;
      child_status = status;
    }
}

/* Reap every child that has exited; returns 1 while children remain, 0 when
 * there are none (ECHILD). */
static int
reap_ready (void)
{
  for (;;)
    {
      int status;
      pid_t pid = waitpid (-1, &status, WNOHANG);
      if (pid > 0)
        {
          note_reaped (pid, status);
          continue;
        }
      if (pid == 0)
        return 1;
      if (errno == EINTR)
        continue;
      return errno == ECHILD ? 0 : 1;
    }
}

/* Fallback when the kernel lacks /proc/<pid>/task/<tid>/children: scan /proc
 * for processes whose parent is us.  Uses opendir (which allocates), but
 * only runs at teardown on such kernels. */
static void
kill_children_scan (int sig)
{
  DIR *d = opendir ("/proc");
  if (!d)
    return;
  struct dirent *e;
  while ((e = readdir (d)) != NULL)
    {
      char *end;
      long pid = strtol (e->d_name, &end, 10);
      if (*end != '\0' || pid <= 0 || pid == self_pid)
        continue;
      char path[64];
      snprintf (path, sizeof path, "/proc/%ld/stat", pid);
      int fd = open (path, O_RDONLY | O_CLOEXEC);
      if (fd < 0)
        continue;
      ssize_t n = read (fd, iobuf, sizeof iobuf - 1);
      close (fd);
      if (n <= 0)
        continue;
      iobuf[n] = '\0';
      /* "pid (comm) state ppid ..."; comm may hold ')' so take the last. */
      char *rp = strrchr (iobuf, ')');
      char state;
      long ppid;
      if (rp && sscanf (rp + 1, " %c %ld", &state, &ppid) == 2
          && ppid == (long) self_pid)
        kill ((pid_t) pid, sig);
    }
  closedir (d);
}

/* Send `sig` to every direct child.  Race-free against pid reuse: a child
 * we have not reaped keeps its pid. */
static void
kill_children (int sig)
{
  int fd = open (children_path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    {
      kill_children_scan (sig);
      return;
    }
  long pid = 0;
  int in_num = 0;
  for (;;)
    {
      ssize_t n = read (fd, iobuf, sizeof iobuf);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break;
      for (ssize_t i = 0; i < n; i++)
        {
          char c = iobuf[i];
          if (c >= '0' && c <= '9')
            {
              pid = pid * 10 + (c - '0');
              in_num = 1;
            }
          else if (in_num)
            {
              kill ((pid_t) pid, sig);
              pid = 0;
              in_num = 0;
            }
        }
    }
  if (in_num)
    kill ((pid_t) pid, sig);
  close (fd);
}

/* SIGKILL every descendant and reap until none is left (or the bound runs
 * out on processes that cannot die yet). */
static void
sweep (void)
{
  struct timespec deadline;
  clock_gettime (CLOCK_MONOTONIC, &deadline);
  deadline.tv_sec += SWEEP_BOUND_MS / 1000;
  sigset_t chld;
  sigemptyset (&chld);
  sigaddset (&chld, SIGCHLD);
  for (;;)
    {
      kill_children (SIGKILL);
      if (!reap_ready ())
        return;
      long left = ms_until (&deadline);
      if (left <= 0)
        return;
      if (left > SWEEP_STEP_MS)
        left = SWEEP_STEP_MS;
      struct timespec ts = { 0, left * 1000000L };
      sigtimedwait (&chld, NULL, &ts);
    }
}

/* Terminate with the same signal, so our parent sees what PROGRAM got. */
static void
die_by (int sig)
{
  struct rlimit no_core = { 0, 0 };
  setrlimit (RLIMIT_CORE, &no_core);
  struct sigaction sa;
  memset (&sa, 0, sizeof sa);
  sa.sa_handler = SIG_DFL;
  sigaction (sig, &sa, NULL);
  kill (self_pid, sig);
  sigset_t one;
  sigemptyset (&one);
  sigaddset (&one, sig);
  sigprocmask (SIG_UNBLOCK, &one, NULL);
  _exit (128 + sig); /* not reached for a terminating signal */
}

static void
exit_like (int status)
{
  if (WIFSIGNALED (status))
    die_by (WTERMSIG (status));
  _exit (WIFEXITED (status) ? WEXITSTATUS (status) : EXIT_USAGE);
}

static int
parent_gone (void)
{
  return getppid () != agent_pid;
}

/* The next signal of `waited` (*from: its sender's pid), -1 when
 * PARENT_POLL_MS passed without one (only without the two descriptors),
 * or AGENT_GONE once the agent's pidfd is readable. */
static int
next_signal (pid_t *from)
{
  *from = 0;
  if (sig_fd < 0 || agent_fd < 0)
    {
      struct timespec ts
          = { PARENT_POLL_MS / 1000, (PARENT_POLL_MS % 1000) * 1000000L };
      siginfo_t si;
      int sig = sigtimedwait (&waited, &si, &ts);
      if (sig > 0)
        *from = si.si_pid;
      return sig;
    }
  for (;;)
    {
      struct signalfd_siginfo ssi;
      if (read (sig_fd, &ssi, sizeof ssi) == (ssize_t) sizeof ssi)
        {
          *from = (pid_t) ssi.ssi_pid;
          return (int) ssi.ssi_signo;
        }
      struct pollfd p[2] = { { .fd = sig_fd, .events = POLLIN },
                             { .fd = agent_fd, .events = POLLIN } };
      if (poll (p, 2, -1) < 0 && errno != EINTR)
        return -1;
      if (p[1].revents != 0)
        return AGENT_GONE;
    }
}

/* The agent is gone: nothing of the worker may survive it. */
static void
on_parent_death (void)
{
  sweep ();
  /* Then our whole group, us included — only if the group is ours (as when
   * spawned detached); started from a shell we would hit the shell too. */
  if (getpgrp () == self_pid)
    kill (0, SIGKILL);
  _exit (EXIT_USAGE);
}

/* In the child: become the owner and enter the working directory as the
 * owner.  Returns only on success. */
static void
child_become_owner (void)
{
  if (mu_owner_become (&owner, msg + 13, sizeof msg - 14) != 0)
    {
      memcpy (msg, "muster-exec: ", 13);
      strcat (msg, "\n");
      say (msg);
      _exit (126);
    }
  const char *dir = run_cwd ? run_cwd : run_home ? run_home : "/";
  if (chdir (dir) == 0)
    return;
  int e = errno;
  if (run_cwd == NULL && chdir ("/") == 0)
    return; /* no directory asked for and no usable home: like login(1) */
  snprintf (msg, sizeof msg,
            "muster-exec: cannot enter '%.600s' as uid %u: %s\n", dir,
            (unsigned) owner.uid, strerror (e));
  say (msg);
  _exit (126);
}

static void
run_child (char **argv)
{
  if (switch_user)
    child_become_owner ();
  /* After the switch: a change of credentials clears the pdeath signal. */
  prctl (PR_SET_PDEATHSIG, SIGKILL);
  if (getppid () != self_pid)
    _exit (EXIT_USAGE); /* muster-exec died before the prctl */
  sigset_t none;
  sigemptyset (&none);
  sigprocmask (SIG_SETMASK, &none, NULL);
  execvp (argv[0], argv);
  int e = errno;
  snprintf (msg, sizeof msg, "muster-exec: cannot run '%s': %s\n", argv[0],
            strerror (e));
  say (msg);
  _exit (e == ENOENT || e == ENOTDIR ? 127 : 126);
}

static void
usage (int fd)
{
  static const char text[]
      = "usage: muster-exec [--uid UID --gid GID [--groups G,G...] "
        "[--cwd DIR]] [--] PROGRAM [ARGS...]\n"
        "Run PROGRAM as a muster worker: tied to its parent (the agent), in\n"
        "its own process group, every descendant killed when it exits.\n"
        "  --uid UID, --gid GID  run PROGRAM as that user and group (needs\n"
        "             root); --groups: its supplementary groups (default:\n"
        "             GID only).  HOME, USER, ... are the caller's to set.\n"
        "  --cwd DIR  with --uid, the directory PROGRAM starts in, entered\n"
        "             as the user (default: $HOME, else /)\n";
  if (write (fd, text, sizeof text - 1) < 0)
    return;
}

static void
die_usage (const char *what)
{
  snprintf (msg, sizeof msg, "muster-exec: %s\n", what);
  say (msg);
  usage (STDERR_FILENO);
  _exit (EXIT_USAGE);
}

/* A uid or gid: decimal, below (uint32_t)-1 (which means "unchanged"). */
static int
parse_id (const char *s, uint32_t *out)
{
  char *end;
  errno = 0;
  unsigned long v = strtoul (s, &end, 10);
  if (errno != 0 || end == s || *end != '\0' || s[0] == '-'
      || v >= 0xffffffffUL)
    return -1;
  *out = (uint32_t) v;
  return 0;
}

/* --uid/--gid/--groups: fill `owner` (in the parent, before the vfork). */
static void
prepare_owner (const char *uid_s, const char *gid_s, const char *groups_s)
{
  if (parse_id (uid_s, &owner.uid) != 0)
    die_usage ("--uid needs a numeric uid");
  if (gid_s == NULL || parse_id (gid_s, &owner.gid) != 0)
    die_usage ("--uid needs --gid with a numeric gid");
  snprintf (owner.name, sizeof owner.name, "uid %u", (unsigned) owner.uid);
  owner.ngroups = 0;
  if (groups_s != NULL && groups_s[0] != '\0')
    {
      const char *p = groups_s;
      for (;;)
        {
          char one[16];
          size_t n = strcspn (p, ",");
          uint32_t g;
          if (n == 0 || n >= sizeof one || owner.ngroups >= MU_OWNER_MAX_GROUPS)
            die_usage ("--groups needs a comma-separated list of gids");
          memcpy (one, p, n);
          one[n] = '\0';
          if (parse_id (one, &g) != 0)
            die_usage ("--groups needs a comma-separated list of gids");
          owner.groups[owner.ngroups++] = (gid_t) g;
          if (p[n] == '\0')
            break;
          p += n + 1;
        }
    }
  else
    owner.groups[owner.ngroups++] = (gid_t) owner.gid;
  if (owner.uid == geteuid () && owner.gid == getegid () && owner.uid != 0
      && run_cwd == NULL)
    return; /* already that user: nothing to switch */
  if (geteuid () != 0)
    {
      snprintf (msg, sizeof msg,
                "muster-exec: cannot run as uid %u: muster-exec runs as "
                "uid %lu, not root\n", (unsigned) owner.uid,
                (unsigned long) geteuid ());
      say (msg);
      _exit (126);
    }
  run_home = getenv ("HOME");
  switch_user = 1;
}

int
mu_exec_supervise (int argc, char **argv)
{
  int first = 1;
  const char *uid_s = NULL, *gid_s = NULL, *groups_s = NULL;
  while (first < argc)
    {
      const char *a = argv[first];
      if (strcmp (a, "--") == 0)
        {
          first++;
          break;
        }
      if (strcmp (a, "--help") == 0 || strcmp (a, "-h") == 0)
        {
          usage (STDOUT_FILENO);
          return 0;
        }
      const char **opt = strcmp (a, "--uid") == 0      ? &uid_s
                         : strcmp (a, "--gid") == 0    ? &gid_s
                         : strcmp (a, "--groups") == 0 ? &groups_s
                         : strcmp (a, "--cwd") == 0    ? &run_cwd
                                                       : NULL;
      if (opt != NULL)
        {
          if (first + 1 >= argc)
            die_usage ("an option needs a value");
          *opt = argv[first + 1];
          first += 2;
          continue;
        }
      if (strncmp (a, "--", 2) == 0)
        die_usage ("unknown option");
      break;
    }
  if (first >= argc)
    die_usage ("no PROGRAM given");
  if ((run_cwd != NULL || gid_s != NULL || groups_s != NULL) && uid_s == NULL)
    die_usage ("--gid, --groups and --cwd are only for --uid");
  if (uid_s != NULL)
    prepare_owner (uid_s, gid_s, groups_s);
  prog_argv = argv + first;
  self_pid = getpid ();
  snprintf (children_path, sizeof children_path, "/proc/%d/task/%d/children",
            (int) self_pid, (int) self_pid);

  /* Block every asynchronous signal; they are taken with sigtimedwait. */
  sigfillset (&waited);
  static const int sync_sigs[]
      = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGABRT, SIGSYS };
  for (size_t i = 0; i < sizeof sync_sigs / sizeof sync_sigs[0]; i++)
    sigdelset (&waited, sync_sigs[i]);
  sigprocmask (SIG_SETMASK, &waited, NULL);

  /* Default dispositions for all: an inherited SIG_IGN would discard a
   * signal before sigtimedwait sees it (SIGCHLD!) and would be inherited by
   * PROGRAM.  Errors (SIGKILL, glibc-reserved signals) are harmless. */
  struct sigaction dfl;
  memset (&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  for (int s = 1; s < NSIG; s++)
    if (s != SIGKILL && s != SIGSTOP)
      sigaction (s, &dfl, NULL);

  prctl (PR_SET_PDEATHSIG, PDEATH_SIG);
  prctl (PR_SET_CHILD_SUBREAPER, 1);

  const char *ppid_s = getenv ("MUSTER_EXEC_PPID");
  agent_pid = getppid ();
  if (ppid_s)
    {
      char *end;
      long v = strtol (ppid_s, &end, 10);
      if (*end == '\0' && v > 0)
        agent_pid = (pid_t) v;
      unsetenv ("MUSTER_EXEC_PPID"); /* not PROGRAM's business */
    }
  if (parent_gone ())
    _exit (EXIT_USAGE); /* the agent died before the prctl took effect */

  /* A terminating signal already here would have killed PROGRAM. */
  sigset_t pend;
  sigpending (&pend);
  for (int s = 1; s < NSIG; s++)
    {
      if (!sigismember (&pend, s) || !sigismember (&waited, s))
        continue;
      sigset_t one;
      sigemptyset (&one);
      sigaddset (&one, s);
      struct timespec zero = { 0, 0 };
      siginfo_t si;
      if (sigtimedwait (&one, &si, &zero) != s)
        continue;
      if (s == PDEATH_SIG && parent_gone ())
        _exit (EXIT_USAGE);
      /* The agent alive and the sender: the exit of the agent THREAD that
       * spawned us (a pdeath signal fires on that; decision 110's
       * supervisor gets here within microseconds of the spawn, before
       * the thread has gone).  As in the loop below, not a death. */
      if (s == PDEATH_SIG && si.si_pid == agent_pid)
        continue;
      if (s == MU_EXEC_SWEEP_SIG)
        {
          if (si.si_pid == agent_pid)
            die_by (SIGKILL); /* a hard kill before PROGRAM started */
          continue;
        }
      if (default_terminates (s))
        die_by (s);
    }

  /* vfork: no page-table copy, and when it returns PROGRAM has been exec'd
   * (or has failed); the child only makes syscalls before execvp. */
  child_pid = vfork ();
  if (child_pid < 0)
    {
      snprintf (msg, sizeof msg, "muster-exec: cannot run '%s': vfork: %s\n",
                prog_argv[0], strerror (errno));
      say (msg);
      _exit (126);
    }
  if (child_pid == 0)
    run_child (prog_argv);

  /* Wait without waking: the blocked signals through a signalfd (what
   * is pending already included), the agent's death through its pidfd.
   * Either missing (ENOSYS): the timed sigtimedwait and getppid() poll. */
  agent_fd = (int) syscall (SYS_pidfd_open, agent_pid, 0);
  if (agent_fd < 0 && errno == ESRCH)
    on_parent_death ();
  sig_fd = signalfd (-1, &waited, SFD_CLOEXEC | SFD_NONBLOCK);

  for (;;)
    {
      pid_t from;
      int sig = next_signal (&from);
      if (sig == AGENT_GONE || parent_gone ())
        on_parent_death ();
      if (sig == MU_EXEC_SWEEP_SIG && from == agent_pid)
        {
          /* The agent's hard kill: everything, now, and report SIGKILL
           * (PROGRAM's own status if it had already exited). */
          sweep ();
          if (child_done)
            exit_like (child_status);
          die_by (SIGKILL);
        }
      if (sig == SIGCHLD || sig < 0)
        {
          reap_ready ();
          if (child_done)
            {
              sweep ();
              exit_like (child_status);
            }
        }
      /* Any other signal was sent to the whole group and has reached
       * PROGRAM directly: nothing to do. */
    }
}

int
main (int argc, char **argv)
{
  if (argc >= 2 && strcmp (argv[1], "--serve") == 0)
    return mu_exec_serve (argc, argv);
  return mu_exec_supervise (argc, argv);
}
