/*
 * spawn.h — starting and watching one worker process from the agent's libuv
 * loop.
 *
 * A mu_proc_t is one worker: spawned in its own session and process group
 * (posix_spawn, proc_launch.h; its exit seen on a pidfd), normally through
 * the muster-exec helper, which ties
 * the worker's life to the agent's and leaves no process behind (see
 * muster_exec.c).  Its stdout and stderr come back through pipes and are
 * written, whole line by whole line and each with the caller's prefix, to two
 * file descriptors, so the output of many workers never interleaves
 * mid-line; the last stderr lines are kept for failure reports.  Signals go
 * to the worker's whole process group: the agent signals the group and
 * muster-exec forwards nothing (it absorbs its own copy).  The hard kill is
 * the exception: with the helper it is a sweep request to muster-exec
 * (MU_EXEC_SWEEP_SIG), backed by a group SIGKILL, so that descendants which
 * left the group die too.
 *
 * Everything here runs on the loop's thread; nothing is thread-safe.
 */
#ifndef MU_SPAWN_H
#define MU_SPAWN_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

typedef struct mu_proc mu_proc_t;

/* Called once, when the process has exited AND both of its pipes have
 * reached EOF, so the stderr tail is complete.  `exit_code` is the exit
 * status (0 if signalled) and `term_signal` the terminating signal (0 if
 * none).  If a process that has exited leaves its pipes open through a
 * descendant (only possible without the helper), the pipes are given up
 * after MU_PROC_DRAIN_MS and the callback comes then.  `p` stays valid until
 * mu_proc_close(); calling mu_proc_close() from the callback is allowed. */
typedef void (*mu_proc_exit_cb) (mu_proc_t *p, int64_t exit_code,
                                 int term_signal, void *arg);

/* Log files of a worker (torchrun's --log_dir with -r/-t, log_files.h):
 * the raw lines (no prefix) of stream i (0 stdout, 1 stderr) also go to
 * fd[i] (-1: none); with redirect[i] they go to the file only, not to
 * out_fd/err_fd.  Writes are synchronous like the console's (a local
 * file, one whole line per write(), no queue).  When a write to a file
 * fails, on_error (may be NULL) is called once with the stream and the
 * negative errno, the file is closed, and that stream's lines go to
 * out_fd/err_fd from then on: nothing is dropped silently.  The proc owns
 * the fds from mu_proc_spawn on (also when it fails) and closes them. */
typedef struct mu_proc_files {
  int fd[2];
  int redirect[2];
  void (*on_error) (mu_proc_t *p, int stream, int err, void *arg);
} mu_proc_files_t;

typedef struct mu_proc_opts {
  const char *exec_helper; /* path of muster-exec; NULL = exec the program
                              directly (no reaper) */
  char *const *argv;       /* program and args, NULL-terminated unless
                              argc is given */
  size_t argc;             /* entries of argv to use; 0 = up to its NULL
                              (a decoded mu_strlist_t is NOT NULL-terminated:
                              pass .argv = l.v, .argc = l.n) */
  char *const *env;        /* full environment, NULL-terminated; NULL =
                              inherit */
  const char *cwd;         /* NULL = inherit */
  const char *prefix;      /* prepended to every output line, e.g.
                              "[worker 3] "; NULL = none */
  int out_fd, err_fd;      /* where prefixed stdout/stderr lines are
                              written (e.g. 1 and 2); < 0 = discard */
  size_t tail_lines;       /* stderr lines kept for failure reports;
                              0 = MU_PROC_TAIL_DEFAULT */
  mu_proc_exit_cb on_exit; /* may be NULL */
  void *arg;
  char *const *helper_args; /* with exec_helper: its options (e.g.
                              "--uid", "1000", ...), NULL-terminated; go
                              before "--"; NULL = none */
  const mu_proc_files_t *files; /* log files; NULL = none (copied) */
  /* Non-blocking console (out_queue.h; borrowed, must outlive the proc):
   * with them, lines go through these queues instead of out_fd/err_fd,
   * and a stream whose queue holds back is not read (the worker blocks
   * in its own write) until mu_proc_resume_output().  NULL = out_fd /
   * err_fd, written blocking. */
  struct mu_outq *out_q, *err_q;
  /* Every output line, prefixed, without its newline, as it is emitted
   * (also when it goes to a log file only): the agent forwards them to
   * the coordinator (ctl.logs).  Must not block; NULL = none.  Called
   * with `arg`. */
  void (*on_line) (void *arg, int is_err, const char *line, size_t len);
  /* With exec_helper: the agent's resident spawner (spawner.h), which
   * starts muster-exec by forking itself instead of an exec per worker;
   * NULL = posix_spawn muster-exec.  Borrowed.  A request too large for
   * it (MU_SPAWN_REQ_MAX) is started with posix_spawn all the same. */
  struct mu_spawner *spawner;
} mu_proc_opts_t;

#define MU_PROC_LINE_MAX (64u * 1024) /* longer lines go out in pieces */
#define MU_PROC_PREFIX_MAX 96         /* room for a changed prefix */
#define MU_PROC_TAIL_DEFAULT 20       /* stderr lines kept by default */
#define MU_PROC_TAIL_MAX 10000        /* tail_lines is capped here */
#define MU_PROC_TAIL_LINE_MAX 512     /* bytes kept of each tail line */
#define MU_PROC_DRAIN_MS 2000         /* wait for EOF after the exit */
#define MU_PROC_SWEEP_MS 1000         /* sweep request to group SIGKILL */

/* Sent by the agent to muster-exec alone (never to the group) to ask it to
 * SIGKILL every descendant now and then die of SIGKILL itself; muster-exec
 * obeys it only from its parent (si_pid), so a program using this signal
 * for itself is unaffected.  Shared by spawn.c and muster_exec.c. */
#define MU_EXEC_SWEEP_SIG (SIGRTMIN + 4)

/* Start a worker.  The worker's stdin is /dev/null.  argv[0] is looked up
 * in PATH if it holds no '/'.  With exec_helper, the
 * child runs `exec_helper [helper_args...] -- argv...` with
 * MUSTER_EXEC_PPID=<our pid> added
 * to its environment (the caller's array is not modified).  On success *out
 * is the new handle, which the caller owns and releases with mu_proc_close().
 * With a spawner as well, the same muster-exec command line is started by
 * a fork of the resident spawner instead of an exec (spawner.h); the
 * process is our child either way.
 * Returns 0, -EINVAL for bad options (helper_args without exec_helper),
 * MUSTER_EPEERLOST if the spawner died holding the request (spawner.h),
 * -ENOENT if exec_helper is missing or
 * not executable, or libuv's (negative errno) code from uv_spawn (e.g.
 * -ENOENT for a missing program without helper).  On error no callback is
 * ever made and nothing needs releasing (memory is freed once the loop has
 * run the handles' close callbacks). */
int mu_proc_spawn (uv_loop_t *loop, const mu_proc_opts_t *o, mu_proc_t **out);

/* Process id of the worker (of muster-exec with the helper); it is also the
 * id of the worker's process group. */
int mu_proc_pid (const mu_proc_t *p);

/* Change the prefix of the lines still to come (an in-place re-rank gives
 * a worker a new rank).  MUSTER_EINVAL if it is longer than the room kept
 * in front of each line: MU_PROC_PREFIX_MAX, or the first prefix's length
 * if that was longer. */
int mu_proc_set_prefix (mu_proc_t *p, const char *prefix);

/* Hand the process's callbacks another `arg` (a spare process taken
 * into an epoch's worker table, worker/agent_spare.c). */
void mu_proc_set_arg (mu_proc_t *p, void *arg);

/* Send `sig` to the worker's whole process group.  SIGKILL is the hard
 * kill: with the helper, a sweep request to muster-exec (which also reaches
 * descendants that left the group) and a group SIGKILL MU_PROC_SWEEP_MS
 * later if the process is still there; without it, a group SIGKILL.  0,
 * -ESRCH once the process has exited, or another negative errno. */
int mu_proc_signal (mu_proc_t *p, int sig);

/* SIGTERM the group now and kill it hard (as mu_proc_signal(SIGKILL)) after
 * grace_ms if the process has not exited by then.  Idempotent: a repeated
 * call sends no second SIGTERM and can only bring the hard kill forward,
 * never push it back.  0 (also when the process has already exited) or a
 * negative errno. */
int mu_proc_stop (mu_proc_t *p, uint64_t grace_ms);

/* Read again the streams that stopped because their queue held back, if
 * it no longer does (called on MU_OUTQ_RESUME).  A process that has exited
 * is read to the end MU_PROC_DRAIN_MS after its exit even while its queue
 * holds back (it cannot write more; its pipes hold at most a pipe's
 * worth), so its exit is reported: output is never given up on, and a
 * stalled console never keeps a job from ending. */
void mu_proc_resume_output (mu_proc_t *p);

/* 1 while the process has not exited, else 0. */
int mu_proc_running (const mu_proc_t *p);

/* The last tail_lines stderr lines (each cut at MU_PROC_TAIL_LINE_MAX bytes)
 * joined with '\n', without a final newline; "" if there were none.  Caller
 * owns the return value and must free() it; NULL only if out of memory. */
char *mu_proc_stderr_tail (const mu_proc_t *p);

/* Release the handle and set *p_p to NULL; accepts NULL and *p_p == NULL.
 * If the process is still running it is killed hard first (as
 * mu_proc_signal(SIGKILL)) and no callback is made any more.  The libuv
 * handles are closed asynchronously and the memory is freed once they are
 * (the loop must keep running until then; a process that was still running
 * keeps its handle until it has been reaped). */
void mu_proc_close (mu_proc_t **p_p);

#endif
