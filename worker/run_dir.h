/*
 * run_dir.h — an agent's private run directory ($TMPDIR/muster-XXXXXX),
 * which holds the ipc socket its workers connect to, and the sweep that
 * removes the directories of agents that died without cleaning up.
 */
#ifndef MUSTER_WORKER_RUN_DIR_H
#define MUSTER_WORKER_RUN_DIR_H

#include <stddef.h>

/* Directories without a lock file (agents older than the lock, or one that
 * died between mkdtemp and flock) are judged by their socket, and only when
 * older than this: a younger one may belong to an agent still starting. */
#define MU_RUN_DIR_UNLOCKED_AGE_S 60

typedef struct
{
  char path[128];
  int lock_fd; /* holds an exclusive flock on path/lock while we live */
} mu_run_dir_t;

/* $TMPDIR (absolute, at most 64 bytes) or /tmp. */
const char *mu_run_dir_tmp (void);

/* Sweep tmp, then create and lock a fresh run directory in it.  0 or
 * -errno; on failure *d is left empty (path "", lock_fd -1). */
int mu_run_dir_open (mu_run_dir_t *d, const char *tmp);

/* Remove the socket, the lock and the directory, then release the lock. */
void mu_run_dir_close (mu_run_dir_t *d);

/* Remove the run directories in tmp whose owner is dead; returns how many
 * were removed.  A directory is dead when its lock file can be locked, or,
 * lacking a lock file, when it is older than MU_RUN_DIR_UNLOCKED_AGE_S and
 * nobody listens on its socket.  A live agent's directory is never
 * touched, even in the instant between its bind() and listen(). */
int mu_run_dir_sweep (const char *tmp);

#endif
