/*
 * ckpt_finished.c — the FINISHED marker (see ckpt_finished.h): written
 * when a job succeeds, acted on when a job of the same id is created.
 *
 * Why: every rerun of a command would otherwise quietly continue from the
 * last checkpoint of a run that already finished — a second training run
 * that silently trains zero steps.  Starting fresh must not destroy the
 * user's data either, so the finished run's directory is renamed aside in
 * the same parent (one atomic rename, fsync'd), never deleted: the new
 * run numbers its steps from 0 in an empty directory, and the old
 * checkpoints stay where the notice says.
 */
#include "coordinator/ckpt_finished.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <muster/error.h>

#include "checkpoint/manifest.h"
#include "checkpoint/shard.h"
#include "common/when.h"

size_t
mu_ckpt_finished_format (uint64_t step, uint64_t finished_us, char *buf,
                         size_t cap)
{
  char stamp[64];
  mu_when_stamp (finished_us, stamp, sizeof stamp);
  int n = snprintf (buf, cap, "step %" PRIu64 "\nfinished_us %" PRIu64
                    "\nfinished %s\n", step, finished_us, stamp);
  return n < 0 ? 0 : (size_t)n;
}

static int
field (const char *text, const char *name, uint64_t *out)
{
  size_t k = strlen (name);
  for (const char *p = text; p && *p;)
    {
      if (strncmp (p, name, k) == 0 && p[k] == ' ')
        {
          const char *v = p + k + 1;
          char *end;
          if (*v < '0' || *v > '9')
            return MUSTER_EINVAL;
          errno = 0;
          unsigned long long x = strtoull (v, &end, 10);
          if (errno != 0 || (*end != '\n' && *end != '\0'))
            return MUSTER_EINVAL;
          *out = x;
          return 0;
        }
      p = strchr (p, '\n');
      p = p ? p + 1 : NULL;
    }
  return MUSTER_EINVAL;
}

int
mu_ckpt_finished_parse (const char *text, uint64_t *step,
                        uint64_t *finished_us)
{
  uint64_t s = 0, us = 0;
  if (text == NULL || field (text, "step", &s) != 0
      || field (text, "finished_us", &us) != 0)
    return MUSTER_EINVAL;
  *step = s;
  *finished_us = us;
  return 0;
}

int
mu_ckpt_finished_write (const char *job_dir, uint64_t step,
                        uint64_t finished_us, uid_t uid, gid_t gid)
{
  char buf[256];
  size_t n = mu_ckpt_finished_format (step, finished_us, buf, sizeof buf);
  return mu_ckpt_write_file_as (job_dir, MU_CKPT_FINISHED_NAME, buf, n, uid,
                                gid);
}

int
mu_ckpt_finished_take (const char *job_dir, int resume, uint64_t *step,
                       uint64_t *finished_us, char *moved, size_t cap,
                       char *err, size_t errlen)
{
  char path[4200];
  snprintf (path, sizeof path, "%s/%s", job_dir, MU_CKPT_FINISHED_NAME);
  int fd = open (path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0 && errno == ENOENT)
    return 0;
  if (fd < 0)
    {
      int rc = -errno;
      snprintf (err, errlen, "%s: %s", path, strerror (errno));
      return rc;
    }
  char text[512];
  ssize_t got = read (fd, text, sizeof text - 1);
  close (fd);
  text[got > 0 ? got : 0] = '\0';
  if (mu_ckpt_finished_parse (text, step, finished_us) != 0)
    {
      /* Unreadable, but still a finished run's: start fresh at step 0. */
      *step = 0;
      *finished_us = 0;
    }
  if (resume)
    {
      if (unlink (path) != 0)
        {
          int rc = -errno;
          snprintf (err, errlen, "cannot remove %s: %s", path, strerror (errno));
          return rc;
        }
      mu_ckpt_fsync_dir (job_dir);
      return 1;
    }
  time_t t = (time_t)(*finished_us ? *finished_us / 1000000u
                                   : (uint64_t)time (NULL));
  struct tm tm;
  char stamp[32] = "unknown";
  if (localtime_r (&t, &tm) != NULL)
    strftime (stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
  for (int i = 1; i < 1000; i++)
    {
      if (i == 1)
        snprintf (moved, cap, "%s.finished-%s", job_dir, stamp);
      else
        snprintf (moved, cap, "%s.finished-%s-%d", job_dir, stamp, i);
      struct stat st;
      if (lstat (moved, &st) == 0)
        continue; /* never rename over anything */
      if (rename (job_dir, moved) != 0)
        {
          int rc = -errno;
          snprintf (err, errlen, "cannot move %s aside: %s", job_dir,
                    strerror (errno));
          return rc;
        }
      mu_ckpt_fsync_parent (moved);
      return 1;
    }
  snprintf (err, errlen, "cannot move %s aside: too many finished runs", job_dir);
  return -EEXIST;
}
