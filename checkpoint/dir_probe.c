/*
 * dir_probe.c — the start-time check that checkpoints can be written (see
 * dir_probe.h).
 *
 * DESIGN.  Permission bits do not answer the question: root ignores them,
 * a read-only mount or a full disk do not show in them, and ACLs or
 * SELinux can say no where the mode says yes.  So the probe does what a
 * shard write does, on a tiny scale: create a file (O_EXCL, a name no
 * shard or MANIFEST can have), write a byte, fsync, unlink.  The byte
 * matters: an empty file can often still be created on a full filesystem.
 * The probe file is removed on every path, including failure after it was
 * created.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "checkpoint/dir_probe.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <muster/error.h>

#include "checkpoint/manifest.h"

static int
fail (const char *dir, const char *what, int rc, char *err, size_t errlen)
{
  if (err && errlen)
    snprintf (err, errlen,
              "checkpoint directory %s is not writable: %s: %s (%s)", dir,
              what, muster_strerror (rc), muster_err_name (rc));
  return rc;
}

int
mu_ckpt_dir_probe (const char *dir, uid_t uid, gid_t gid, char *err,
                   size_t errlen)
{
  if (err && errlen)
    err[0] = '\0';
  if (dir == NULL || dir[0] == '\0')
    {
      if (err && errlen)
        snprintf (err, errlen, "checkpoint directory is empty");
      return MUSTER_EINVAL;
    }
  int rc = mu_ckpt_mkdir_p_as (dir, uid, gid);
  if (rc != 0)
    return fail (dir, "cannot create it", rc, err, errlen);
  char path[4200];
  int n = snprintf (path, sizeof path, "%s/.muster-probe-%ld", dir,
                    (long)getpid ());
  if (n < 0 || (size_t)n >= sizeof path)
    return fail (dir, "path too long", MUSTER_ETOOBIG, err, errlen);
  int fd = open (path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0 && errno == EEXIST)
    {
      /* Left by a probe of a process that died: ours now. */
      unlink (path);
      fd = open (path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    }
  if (fd < 0)
    return fail (dir, "cannot create a file in it", -errno, err, errlen);
  const char *what = NULL;
  rc = 0;
  ssize_t k;
  do
    k = write (fd, "m", 1);
  while (k < 0 && errno == EINTR);
  if (k != 1)
    {
      rc = k < 0 ? -errno : -EIO;
      what = "cannot write a file in it";
    }
  else if (fsync (fd) != 0)
    {
      rc = -errno;
      what = "cannot fsync a file in it";
    }
  if (close (fd) != 0 && rc == 0)
    {
      rc = -errno;
      what = "cannot write a file in it";
    }
  if (unlink (path) != 0 && rc == 0)
    {
      rc = -errno;
      what = "cannot remove a file from it";
    }
  return rc ? fail (dir, what, rc, err, errlen) : 0;
}
