/*
 * fd_limit.c — the node's open-file budget for its workers (fd_limit.h):
 * raise the soft limit once, then check each epoch against it.  The
 * arithmetic is kept apart from getrlimit so it can be tested.
 */
#include "worker/fd_limit.h"

#include <errno.h>
#include <stdio.h>
#include <sys/resource.h>

#include <muster/error.h>

int
mu_fd_limit_raise (uint64_t *soft)
{
  struct rlimit rl;
  if (getrlimit (RLIMIT_NOFILE, &rl) != 0)
    return -errno;
  int rc = 0;
  if (rl.rlim_cur < rl.rlim_max)
    {
      rlim_t want = rl.rlim_max;
      rl.rlim_cur = want;
      if (setrlimit (RLIMIT_NOFILE, &rl) != 0)
        rc = -errno;
      if (getrlimit (RLIMIT_NOFILE, &rl) != 0 && rc == 0)
        rc = -errno;
    }
  if (soft != NULL)
    *soft = rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : (uint64_t)rl.rlim_cur;
  return rc;
}

uint64_t
mu_fd_limit_need (uint64_t nworkers, int log_files)
{
  uint64_t per = log_files ? MU_FD_PER_WORKER_LOGS : MU_FD_PER_WORKER;
  if (nworkers > (UINT64_MAX - MU_FD_RESERVE) / per)
    return UINT64_MAX;
  return MU_FD_RESERVE + nworkers * per;
}

int
mu_fd_limit_fits (uint64_t nworkers, int log_files, uint64_t limit,
                  char *err, size_t errlen)
{
  uint64_t need = mu_fd_limit_need (nworkers, log_files);
  if (need <= limit)
    return 0;
  int per = log_files ? MU_FD_PER_WORKER_LOGS : MU_FD_PER_WORKER;
  /* The most that fit, for the message. */
  uint64_t most = limit > MU_FD_RESERVE
                    ? (limit - MU_FD_RESERVE) / (uint64_t)per
                    : 0;
  snprintf (err, errlen,
            "%llu workers on this node need up to %llu open files (%d each "
            "plus %d), but the limit is %llu (ulimit -n, raised to the hard "
            "limit already): at most %llu fit; raise the hard limit "
            "(limits.conf, LimitNOFILE=, ulimit -Hn) or run fewer workers "
            "per node",
            (unsigned long long)nworkers, (unsigned long long)need,
            per, MU_FD_RESERVE, (unsigned long long)limit,
            (unsigned long long)most);
  return MUSTER_EQUOTA;
}
