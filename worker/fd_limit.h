/*
 * fd_limit.h — open-file budget for the workers of one node.
 *
 * Every worker costs the agent file descriptors for as long as it runs:
 * the read ends of its stdout and stderr pipes, the pidfd its exit is
 * seen on (proc_launch.h), its log files with --log-dir, and its
 * libmuster connection to the agent's ipc socket.  A
 * thousand workers need several thousand descriptors, more than the
 * common soft limit of 1024, and running out half-way would fail ranks
 * one by one ("Too many open files") and restart the gang.  So the
 * agent raises its soft RLIMIT_NOFILE to the hard limit at start, and
 * checks before an epoch whether its workers fit, refusing the epoch
 * with a sentence naming the numbers instead.
 */
#ifndef MU_FD_LIMIT_H
#define MU_FD_LIMIT_H

#include <stddef.h>
#include <stdint.h>

/* Descriptors per worker: its 2 pipes, its pidfd and 1 ipc connection,
 * and 2 log files with --log-dir. */
#define MU_FD_PER_WORKER 4
#define MU_FD_PER_WORKER_LOGS 6
/* Kept for the process itself: sockets, ZeroMQ's own, spawning's pipes. */
#define MU_FD_RESERVE 64

/* Raise the soft RLIMIT_NOFILE to the hard limit.  0 (also when it was
 * already there) or a negative errno; *soft (may be NULL) is the soft
 * limit now in force. */
int mu_fd_limit_raise (uint64_t *soft);

/* Descriptors `nworkers` workers (with log files: log_files) need at
 * most. */
uint64_t mu_fd_limit_need (uint64_t nworkers, int log_files);

/* Do `nworkers` fit under a soft limit of `limit`?  0, or MUSTER_EQUOTA
 * with a sentence in err naming both numbers and the way out. */
int mu_fd_limit_fits (uint64_t nworkers, int log_files, uint64_t limit,
                      char *err, size_t errlen);

#endif
