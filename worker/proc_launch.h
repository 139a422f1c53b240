/*
 * proc_launch.h — start one process cheaply, whatever the size of the
 * process that starts it, and learn of its exit through a descriptor.
 *
 * libuv 1.44's uv_spawn forks: the kernel copies the caller's page tables
 * and every page the caller then writes is copied once more.  An agent
 * that already watches hundreds of workers is a large process, so each
 * start cost more than the one before (the 600-worker livelock of issue
 * 12).  mu_launch starts the child with posix_spawn, which glibc runs as
 * clone(CLONE_VM | CLONE_VFORK): nothing of the caller is copied and the
 * cost is flat.  uv_spawn also finds an exit by calling waitpid() on every
 * live process each time SIGCHLD arrives (O(workers) per exit); mu_launch
 * hands back a pidfd instead, which turns readable when that one process
 * has exited, so the caller watches each process with its own uv_poll and
 * reaps exactly the one that ended (mu_launch_reap).
 *
 * What the child gets, as uv_spawn(UV_PROCESS_DETACHED) gave it: its own
 * session and process group, stdin from /dev/null, stdout and stderr into
 * two fresh pipes, every signal at its default disposition and none
 * blocked, no other descriptor of the caller (the caller's are O_CLOEXEC,
 * as libuv and ZeroMQ make theirs; any it inherited without the flag is
 * closed in the child).
 */
#ifndef MU_PROC_LAUNCH_H
#define MU_PROC_LAUNCH_H

#include <stdint.h>

typedef struct mu_launch_opts {
  char *const *argv; /* program and args, NULL-terminated; argv[0] is
                        looked up in the PATH of env (of the caller's
                        environment if env has none) when it holds no
                        '/' */
  char *const *env;  /* full environment, NULL-terminated; NULL = the
                        caller's */
  const char *cwd;   /* NULL = inherit */
} mu_launch_opts_t;

typedef struct mu_launch {
  int pid;    /* the child, leader of its own session and group */
  int pidfd;  /* readable once the child has exited (O_CLOEXEC); -1
                 where the system has no pidfd_open (ENOSYS: Linux before
                 5.3, or under valgrind 3.19): watch SIGCHLD instead */
  int out_fd; /* read ends of the child's stdout and stderr pipes */
  int err_fd; /* (O_CLOEXEC, blocking: libuv sets what it needs) */
} mu_launch_t;

/* Start the child.  On success fills *l; the caller owns its three
 * descriptors and must reap the child (mu_launch_reap) once pidfd is
 * readable.  Returns 0, -EINVAL for missing argv, -ENOENT when the
 * program is not found, or another negative errno (from pipe2,
 * posix_spawn — whose exec errors glibc reports here, not in the child —
 * or pidfd_open; then no child is left behind). */
int mu_launch (const mu_launch_opts_t *o, mu_launch_t *l);

/* A pipe for a child's stdout or stderr: both ends O_CLOEXEC, the write
 * end at 3 or above (so placing it on 1 or 2 never collides with the
 * other and always clears close-on-exec there).  0 or a negative errno. */
int mu_launch_pipe (int fds[2]);

/* 1 if pidfd_open works here (mu_launch then gives a pidfd), else 0. */
int mu_launch_pidfd_usable (void);

/* Reap the child if it has exited, without waiting: 0 and its exit code
 * (0 if it was killed) and terminating signal (0 if none), or -EAGAIN if
 * it still runs, or another negative errno.  Closes nothing. */
int mu_launch_reap (int pid, int64_t *exit_code, int *term_signal);

#endif
