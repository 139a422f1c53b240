/*
 * manifest_scan.c — a job's step directories: listing, finding the newest
 * usable checkpoint, preparing a step for a new attempt, removing one.
 *
 * DESIGN.  mu_ckpt_latest lists the step directories, sorts them newest
 * first and stops at the first one that reads and validates, so a restore
 * touches only the newest usable step and the newer broken ones it
 * reports (a deep check reads every byte of the steps it tries, never of
 * older ones).  Removal and preparation both take the MANIFEST away first
 * and fsync, so a crash part-way leaves a partial step, never a MANIFEST
 * that points at half-deleted or half-rewritten shards.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "checkpoint/manifest.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ERR(...)                                                               \
  do                                                                           \
    {                                                                          \
      if (err && errlen)                                                       \
        snprintf (err, errlen, __VA_ARGS__);                                   \
    }                                                                          \
  while (0)

static int
cmp_step (const void *a, const void *b)
{
  uint64_t x = ((const mu_ckpt_step_t *)a)->step;
  uint64_t y = ((const mu_ckpt_step_t *)b)->step;
  return (x > y) - (x < y);
}

/* Step directories of job_dir, ascending.  complete = has a MANIFEST if
 * `probe`, else false.  -ENOENT if job_dir does not exist. */
static int
list_steps (const char *job_dir, bool probe, mu_ckpt_step_t **out, size_t *n)
{
  *out = NULL;
  *n = 0;
  DIR *d = opendir (job_dir);
  if (!d)
    return -errno;
  int dfd = dirfd (d);
  mu_ckpt_step_t *v = NULL;
  size_t cnt = 0, cap = 0;
  int rc = 0;
  for (;;)
    {
      errno = 0;
      struct dirent *e = readdir (d);
      if (!e)
        {
          rc = errno ? -errno : 0;
          break;
        }
      uint64_t step;
      if (mu_ckpt_parse_step_name (e->d_name, &step) != 0)
        continue;
      struct stat st;
      if (fstatat (dfd, e->d_name, &st, 0) != 0 || !S_ISDIR (st.st_mode))
        continue;
      if (cnt == cap)
        {
          size_t nc = cap ? cap * 2 : 16;
          mu_ckpt_step_t *nv = realloc (v, nc * sizeof *nv);
          if (!nv)
            {
              rc = -ENOMEM;
              break;
            }
          v = nv;
          cap = nc;
        }
      bool complete = false;
      if (probe)
        {
          char rel[NAME_MAX + 1 + sizeof MU_CKPT_MANIFEST_FILE];
          snprintf (rel, sizeof rel, "%s/" MU_CKPT_MANIFEST_FILE, e->d_name);
          complete = fstatat (dfd, rel, &st, 0) == 0 && S_ISREG (st.st_mode);
        }
      v[cnt++] = (mu_ckpt_step_t){ step, complete };
    }
  closedir (d);
  if (rc)
    {
      free (v);
      return rc;
    }
  if (cnt)
    qsort (v, cnt, sizeof *v, cmp_step);
  *out = v;
  *n = cnt;
  return 0;
}

int
mu_ckpt_list (const char *job_dir, mu_ckpt_step_t **out, size_t *n)
{
  if (!job_dir || !out || !n)
    return MUSTER_EINVAL;
  int rc = list_steps (job_dir, true, out, n);
  return rc == -ENOENT ? 0 : rc;
}

const char *
mu_ckpt_skip_name (mu_ckpt_skip_reason_t reason)
{
  switch (reason)
    {
    case MU_CKPT_SKIP_PARTIAL:
      return "partial";
    case MU_CKPT_SKIP_BAD_MANIFEST:
      return "bad-manifest";
    case MU_CKPT_SKIP_MISSING:
      return "missing-shard";
    case MU_CKPT_SKIP_CORRUPT:
      return "corrupt";
    case MU_CKPT_SKIP_IO:
      return "io-error";
    case MU_CKPT_SKIP_VERSION:
      return "newer-format";
    }
  return "?";
}

static bool
resource_error (int rc)
{
  return rc == -ENOMEM || rc == -EMFILE || rc == -ENFILE;
}

int
mu_ckpt_latest (const char *job_dir, bool deep, uint64_t *step,
                mu_msg_t *manifest, mu_ckpt_skip_fn fn, void *arg)
{
  if (!job_dir)
    return MUSTER_EINVAL;
  if (manifest)
    memset (manifest, 0, sizeof *manifest);
  mu_ckpt_step_t *steps = NULL;
  size_t n = 0;
  int rc = list_steps (job_dir, false, &steps, &n);
  if (rc)
    return rc == -ENOENT ? MUSTER_ENOTFOUND : rc;
  char *jd = strdup (job_dir);
  if (jd)
    for (size_t l = strlen (jd); l > 1 && jd[l - 1] == '/';)
      jd[--l] = '\0';
  size_t plen = strlen (job_dir) + 1 + MU_CKPT_STEP_NAME_LEN + 1;
  char *path = malloc (plen);
  if (!path || !jd)
    {
      free (jd);
      free (path);
      free (steps);
      return -ENOMEM;
    }
  char detail[512];
  rc = MUSTER_ENOTFOUND;
  for (size_t k = n; k-- > 0;)
    {
      snprintf (path, plen, "%s%s" MU_CKPT_STEP_PREFIX "%020" PRIu64, jd,
                strcmp (jd, "/") == 0 ? "" : "/", steps[k].step);
      mu_msg_t m;
      mu_ckpt_skip_reason_t why;
      int r = mu_manifest_read (path, &m, detail, sizeof detail);
      if (r == 0)
        {
          r = mu_manifest_validate (path, &m.u.ckpt_manifest, deep, detail,
                                    sizeof detail);
          if (r == 0)
            {
              if (step)
                *step = steps[k].step;
              if (manifest)
                *manifest = m;
              else
                mu_msg_clear (&m);
              rc = 0;
              break;
            }
          mu_msg_clear (&m);
          why = r == -ENOENT           ? MU_CKPT_SKIP_MISSING
                : r == MUSTER_ECORRUPT ? MU_CKPT_SKIP_CORRUPT
                : r == MUSTER_EINVAL   ? MU_CKPT_SKIP_BAD_MANIFEST
                                       : MU_CKPT_SKIP_IO;
        }
      else if (r == -ENOENT)
        {
          why = MU_CKPT_SKIP_PARTIAL;
          snprintf (detail, sizeof detail,
                    "no MANIFEST: never committed (aborted, crashed or still "
                    "being written)");
        }
      else
        why = r == MUSTER_EVERSION ? MU_CKPT_SKIP_VERSION
                                   : MU_CKPT_SKIP_BAD_MANIFEST;
      if (resource_error (r))
        {
          rc = r;
          break;
        }
      if (fn)
        {
          mu_ckpt_skip_t s = { steps[k].step, path, why, r, detail };
          fn (arg, &s);
        }
    }
  free (jd);
  free (path);
  free (steps);
  return rc;
}

/* ------------------------------------------------------------- removal */

int
mu_ckpt_remove_step (const char *step_dir)
{
  if (!step_dir)
    return MUSTER_EINVAL;
  int dfd = open (step_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0)
    return -errno;
  int rc = 0;
  if (unlinkat (dfd, MU_CKPT_MANIFEST_FILE, 0) == 0)
    {
      if (fsync (dfd) != 0)
        rc = -errno;
    }
  else if (errno != ENOENT)
    rc = -errno;
  if (rc)
    {
      close (dfd);
      return rc;
    }
  DIR *d = fdopendir (dfd);
  if (!d)
    {
      rc = -errno;
      close (dfd);
      return rc;
    }
  for (;;)
    {
      errno = 0;
      struct dirent *e = readdir (d);
      if (!e)
        {
          if (errno)
            rc = -errno;
          break;
        }
      if (strcmp (e->d_name, ".") == 0 || strcmp (e->d_name, "..") == 0)
        continue;
      if (unlinkat (dfd, e->d_name, 0) != 0 && errno != ENOENT)
        {
          /* A subdirectory (EISDIR) is not ours: rmdir will say so. */
          if (errno != EISDIR && errno != EPERM)
            rc = -errno;
        }
    }
  closedir (d);
  if (rc)
    return rc;
  if (rmdir (step_dir) != 0)
    return -errno;
  return mu_ckpt_fsync_parent (step_dir);
}

int
mu_ckpt_step_prepare (const char *step_dir, bool deep, char *err, size_t errlen)
{
  return mu_ckpt_step_prepare_as (step_dir, deep, (uid_t)-1, (gid_t)-1, err,
                                  errlen);
}

int
mu_ckpt_step_prepare_as (const char *step_dir, bool deep, uid_t uid, gid_t gid,
                         char *err, size_t errlen)
{
  if (err && errlen)
    err[0] = '\0';
  if (!step_dir)
    return MUSTER_EINVAL;
  int rc = mu_ckpt_mkdir_p_as (step_dir, uid, gid);
  if (rc)
    {
      ERR ("creating %s: %s", step_dir, muster_strerror (rc));
      return rc;
    }
  mu_msg_t m;
  rc = mu_manifest_read (step_dir, &m, err, errlen);
  if (rc == -ENOENT)
    {
      if (err && errlen)
        err[0] = '\0';
      return 0;
    }
  if (resource_error (rc))
    return rc;
  if (rc == 0)
    {
      rc = mu_manifest_validate (step_dir, &m.u.ckpt_manifest, deep, err,
                                 errlen);
      mu_msg_clear (&m);
      if (rc == 0)
        {
          ERR ("%s already holds a complete checkpoint", step_dir);
          return MUSTER_EEXIST;
        }
      if (resource_error (rc))
        return rc;
    }
  /* An invalid MANIFEST: make the step partial before shards change. */
  int dfd = open (step_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0)
    return -errno;
  rc = 0;
  if (unlinkat (dfd, MU_CKPT_MANIFEST_FILE, 0) != 0 && errno != ENOENT)
    rc = -errno;
  if (rc == 0 && fsync (dfd) != 0)
    rc = -errno;
  close (dfd);
  if (rc == 0 && err && errlen)
    err[0] = '\0';
  return rc;
}
