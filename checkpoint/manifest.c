/*
 * manifest.c — step directory names and paths, and the MANIFEST: its
 * structural check, atomic write, bounded read and validation against the
 * shards.  (Scanning a job's steps is in manifest_scan.c.)
 *
 * DESIGN.  The MANIFEST is the ckpt.manifest message encoded by the
 * schema codec and written with the shard protocol (mu_ckpt_write_file), so
 * there is one atomic-write implementation and one encoding.  Its "v" is
 * the on-disk format version MU_MANIFEST_FORMAT, not the wire protocol's
 * (mu_msg_encode_v / mu_msg_decode_v): a protocol bump must not make every
 * stored checkpoint unreadable, and a MANIFEST of a newer format is an
 * error naming the file and its version, never a quiet skip.  Format 1 is
 * what every MANIFEST written so far holds (wire version 1 bytes).  Trust is
 * layered: decoding bounds every size (the codec never trusts input);
 * mu_manifest_check then proves the structure (ranks, roles, names,
 * buckets) without touching the disk; mu_manifest_validate finally checks
 * the files.  Names in a manifest come from disk and so are checked before
 * being joined to a path; the job and step a MANIFEST names must be those
 * of the directory it lies in, so a MANIFEST copied into the wrong step
 * (or a step directory renamed) is refused rather than restored.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "checkpoint/manifest.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint/buckets.h"

#define ERR(...)                                                               \
  do                                                                           \
    {                                                                          \
      if (err && errlen)                                                       \
        snprintf (err, errlen, __VA_ARGS__);                                   \
    }                                                                          \
  while (0)

typedef unsigned long long ull;

/* ------------------------------------------------------------ names, paths */

bool
mu_ckpt_job_ok (const char *job)
{
  if (!job || !*job || strlen (job) > MU_CKPT_JOB_MAX)
    return false;
  if (strcmp (job, ".") == 0 || strcmp (job, "..") == 0)
    return false;
  for (const char *s = job; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')
          || (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' || *s == '.'))
      return false;
  return true;
}

int
mu_ckpt_step_name (uint64_t step, char *buf, size_t size)
{
  int n = snprintf (buf, size, MU_CKPT_STEP_PREFIX "%020" PRIu64, step);
  return (n < 0 || (size_t)n >= size) ? MUSTER_ETOOBIG : 0;
}

int
mu_ckpt_parse_step_name (const char *name, uint64_t *step)
{
  if (!name || strlen (name) != MU_CKPT_STEP_NAME_LEN
      || strncmp (name, MU_CKPT_STEP_PREFIX, 5) != 0)
    return MUSTER_EINVAL;
  uint64_t v = 0;
  for (const char *p = name + 5; *p; p++)
    {
      if (*p < '0' || *p > '9')
        return MUSTER_EINVAL;
      unsigned d = (unsigned)(*p - '0');
      if (v > (UINT64_MAX - d) / 10)
        return MUSTER_EINVAL;
      v = v * 10 + d;
    }
  if (step)
    *step = v;
  return 0;
}

int
mu_ckpt_job_dir (const char *ckpt_dir, const char *job, char *buf, size_t size)
{
  if (!ckpt_dir || !*ckpt_dir || !buf || !mu_ckpt_job_ok (job))
    return MUSTER_EINVAL;
  int n = snprintf (buf, size, "%s/%s", ckpt_dir, job);
  return (n < 0 || (size_t)n >= size) ? MUSTER_ETOOBIG : 0;
}

int
mu_ckpt_step_dir (const char *ckpt_dir, const char *job, uint64_t step,
                  char *buf, size_t size)
{
  if (!ckpt_dir || !*ckpt_dir || !buf || !mu_ckpt_job_ok (job))
    return MUSTER_EINVAL;
  int n = snprintf (buf, size, "%s/%s/" MU_CKPT_STEP_PREFIX "%020" PRIu64,
                    ckpt_dir, job, step);
  return (n < 0 || (size_t)n >= size) ? MUSTER_ETOOBIG : 0;
}

/* Copy of path with trailing slashes removed (but "/" kept). */
static char *
trimmed (const char *path)
{
  char *p = strdup (path);
  if (p)
    {
      size_t n = strlen (p);
      while (n > 1 && p[n - 1] == '/')
        p[--n] = '\0';
    }
  return p;
}

/* The job and step a step directory stands for, from its last two path
 * components (lexically: a symlinked job directory keeps the name it is
 * reached by); a path that does not show its parent ("step-..",
 * "./step-..", "../step-..") is resolved with realpath first.  0,
 * MUSTER_EINVAL (not a step directory name), -ENOMEM or -errno. */
static int
step_dir_identity (const char *step_dir, char *job, size_t jobsz,
                   uint64_t *step)
{
  char *p = trimmed (step_dir);
  if (!p)
    return -ENOMEM;
  for (int pass = 0; pass < 2; pass++)
    {
      char *slash = strrchr (p, '/');
      const char *base = slash ? slash + 1 : p;
      if (mu_ckpt_parse_step_name (base, step) != 0)
        {
          free (p);
          return MUSTER_EINVAL;
        }
      const char *parent = NULL;
      if (slash && slash > p)
        {
          *slash = '\0';
          char *s2 = strrchr (p, '/');
          parent = s2 ? s2 + 1 : p;
        }
      if (parent && *parent && strcmp (parent, ".") != 0
          && strcmp (parent, "..") != 0)
        {
          int n = snprintf (job, jobsz, "%s", parent);
          free (p);
          return (n < 0 || (size_t)n >= jobsz) ? MUSTER_EINVAL : 0;
        }
      if (pass == 1)
        break;
      free (p);
      p = realpath (step_dir, NULL);
      if (!p)
        return -errno;
    }
  free (p);
  return MUSTER_EINVAL;
}

int
mu_ckpt_fsync_parent (const char *path)
{
  if (!path || !*path)
    return MUSTER_EINVAL;
  char *p = trimmed (path);
  if (!p)
    return -ENOMEM;
  char *slash = strrchr (p, '/');
  int rc;
  if (!slash)
    rc = mu_ckpt_fsync_dir (".");
  else if (slash == p)
    rc = mu_ckpt_fsync_dir ("/");
  else
    {
      *slash = '\0';
      rc = mu_ckpt_fsync_dir (p);
    }
  free (p);
  return rc;
}

int
mu_ckpt_mkdir_p (const char *path)
{
  return mu_ckpt_mkdir_p_as (path, (uid_t)-1, (gid_t)-1);
}

/* Directories are private to the job (mode 0700 whatever the umask: a
 * checkpoint is the job's whole state) and, when asked, handed to its
 * owner before their entry is made durable.  Existing ones are left as
 * they are: the user chose them. */
int
mu_ckpt_mkdir_p_as (const char *path, uid_t uid, gid_t gid)
{
  if (!path || !*path)
    return MUSTER_EINVAL;
  char *p = trimmed (path);
  if (!p)
    return -ENOMEM;
  int rc = 0;
  size_t n = strlen (p);
  for (size_t i = 1; i <= n && rc == 0; i++)
    {
      if (p[i] != '/' && p[i] != '\0')
        continue;
      char saved = p[i];
      p[i] = '\0';
      if (mkdir (p, 0700) == 0)
        {
          if (chmod (p, 0700) != 0
              || ((uid != (uid_t)-1 || gid != (gid_t)-1)
                  && chown (p, uid, gid) != 0))
            rc = -errno;
          else
            rc = mu_ckpt_fsync_parent (p); /* the new entry must last */
        }
      else if (errno == EEXIST)
        {
          struct stat st;
          if (stat (p, &st) != 0)
            rc = -errno;
          else if (!S_ISDIR (st.st_mode))
            rc = -ENOTDIR;
        }
      else
        rc = -errno;
      p[i] = saved;
    }
  free (p);
  return rc;
}

/* ------------------------------------------------------------ structure */

typedef struct role_ref
{
  const char *name;
  uint64_t world;
  uint64_t base; /* first slot of this role in the role-rank bitmap */
} role_ref_t;

static int
cmp_role (const void *a, const void *b)
{
  return strcmp (((const role_ref_t *)a)->name, ((const role_ref_t *)b)->name);
}

static int
cmp_strp (const void *a, const void *b)
{
  return strcmp (*(char *const *)a, *(char *const *)b);
}

static bool
bit_test_set (unsigned char *bits, uint64_t i)
{
  bool was = bits[i / 8] & (1u << (i % 8));
  bits[i / 8] |= (unsigned char)(1u << (i % 8));
  return was;
}

int
mu_manifest_check (const mu_ckpt_manifest_t *m, char *err, size_t errlen)
{
  if (err && errlen)
    err[0] = '\0';
  if (!m)
    return MUSTER_EINVAL;
  if (!mu_ckpt_job_ok (m->job))
    {
      ERR ("job id '%s' is not a valid directory name",
           m->job ? m->job : "(null)");
      return MUSTER_EINVAL;
    }
  if (m->world == 0 || m->world != m->shards.n || !m->shards.v)
    {
      ERR ("world is %llu but %zu shards are listed", (ull)m->world,
           m->shards.n);
      return MUSTER_EINVAL;
    }
  if (m->roles.n == 0 || !m->roles.v)
    {
      ERR ("no roles listed");
      return MUSTER_EINVAL;
    }
  for (size_t i = 0; i < m->shards.n; i++)
    {
      const mu_shard_info_t *s = &m->shards.v[i];
      if (s->rank != i)
        {
          ERR ("shard %zu has rank %llu: shards must list ranks 0..%llu "
               "once each, in order",
               i, (ull)s->rank, (ull)m->world - 1);
          return MUSTER_EINVAL;
        }
      if (!mu_shard_name_ok (s->file))
        {
          ERR ("rank %zu: shard name '%s' is not a plain file name", i,
               s->file ? s->file : "(null)");
          return MUSTER_EINVAL;
        }
      if (!s->role)
        {
          ERR ("rank %zu: no role", i);
          return MUSTER_EINVAL;
        }
    }

  int rc = 0;
  role_ref_t *roles = calloc (m->roles.n, sizeof *roles);
  char **files = malloc (m->shards.n * sizeof *files);
  unsigned char *bits = calloc (m->world / 8 + 1, 1);
  if (!roles || !files || !bits)
    {
      rc = -ENOMEM;
      goto out;
    }

  /* Roles: distinct names, worlds adding up to world. */
  uint64_t sum = 0;
  for (size_t r = 0; r < m->roles.n; r++)
    {
      const mu_role_world_t *rw = &m->roles.v[r];
      if (!rw->name || !*rw->name)
        {
          ERR ("role %zu has no name", r);
          rc = MUSTER_EINVAL;
          goto out;
        }
      if (rw->world > m->world - sum)
        {
          ERR ("role worlds add up to more than world %llu", (ull)m->world);
          rc = MUSTER_EINVAL;
          goto out;
        }
      roles[r] = (role_ref_t){ rw->name, rw->world, sum };
      sum += rw->world;
    }
  if (sum != m->world)
    {
      ERR ("role worlds add up to %llu, world is %llu", (ull)sum,
           (ull)m->world);
      rc = MUSTER_EINVAL;
      goto out;
    }
  qsort (roles, m->roles.n, sizeof *roles, cmp_role);
  for (size_t r = 1; r < m->roles.n; r++)
    if (strcmp (roles[r - 1].name, roles[r].name) == 0)
      {
        ERR ("role '%s' is listed twice", roles[r].name);
        rc = MUSTER_EINVAL;
        goto out;
      }

  /* Each shard: a known role, a role rank in range, each once. */
  for (size_t i = 0; i < m->shards.n; i++)
    {
      const mu_shard_info_t *s = &m->shards.v[i];
      role_ref_t key = { s->role, 0, 0 };
      role_ref_t *r
          = bsearch (&key, roles, m->roles.n, sizeof *roles, cmp_role);
      if (!r)
        {
          ERR ("rank %zu: role '%s' is not listed", i, s->role);
          rc = MUSTER_EINVAL;
          goto out;
        }
      if (s->role_rank >= r->world)
        {
          ERR ("rank %zu: role rank %llu but role '%s' has %llu workers", i,
               (ull)s->role_rank, r->name, (ull)r->world);
          rc = MUSTER_EINVAL;
          goto out;
        }
      if (bit_test_set (bits, r->base + s->role_rank))
        {
          ERR ("role '%s' rank %llu is listed twice", r->name,
               (ull)s->role_rank);
          rc = MUSTER_EINVAL;
          goto out;
        }
      files[i] = s->file;
    }

  /* Distinct file names. */
  qsort (files, m->shards.n, sizeof *files, cmp_strp);
  for (size_t i = 1; i < m->shards.n; i++)
    if (strcmp (files[i - 1], files[i]) == 0)
      {
        ERR ("shard file '%s' is listed twice", files[i]);
        rc = MUSTER_EINVAL;
        goto out;
      }

  rc = mu_buckets_check (m, err, errlen);
out:
  free (roles);
  free (files);
  free (bits);
  return rc;
}

/* ------------------------------------------------------------ read/write */

/* Does m name the job and step of step_dir? */
static int
check_identity (const char *step_dir, const char *job, uint64_t step, char *err,
                size_t errlen)
{
  char djob[MU_CKPT_JOB_MAX + 2];
  uint64_t dstep = 0;
  int rc = step_dir_identity (step_dir, djob, sizeof djob, &dstep);
  if (rc == -ENOMEM)
    return rc;
  if (rc)
    {
      ERR ("%s is not a <job>/step-<20 digits> directory", step_dir);
      return MUSTER_EINVAL;
    }
  if (!job || strcmp (djob, job) != 0 || dstep != step)
    {
      ERR ("MANIFEST is for job %s step %llu but lies in job %s step %llu",
           job ? job : "(null)", (ull)step, djob, (ull)dstep);
      return MUSTER_ECORRUPT;
    }
  return 0;
}

int
mu_manifest_write (const char *step_dir, const mu_ckpt_manifest_t *m, char *err,
                   size_t errlen)
{
  return mu_manifest_write_as (step_dir, m, (uid_t)-1, (gid_t)-1, err, errlen);
}

int
mu_manifest_write_as (const char *step_dir, const mu_ckpt_manifest_t *m,
                      uid_t uid, gid_t gid, char *err, size_t errlen)
{
  if (err && errlen)
    err[0] = '\0';
  if (!step_dir || !m)
    return MUSTER_EINVAL;
  int rc = mu_manifest_check (m, err, errlen);
  if (rc)
    return rc;
  rc = check_identity (step_dir, m->job, m->step, err, errlen);
  if (rc)
    return rc == -ENOMEM ? rc : MUSTER_EINVAL;
  mu_msg_t msg;
  memset (&msg, 0, sizeof msg);
  msg.type = MU_MSG_CKPT_MANIFEST;
  msg.u.ckpt_manifest = *m; /* borrowed: encoded, never cleared */
  char *buf = NULL;
  size_t len = 0;
  rc = mu_msg_encode_v (&msg, MU_MANIFEST_FORMAT, &buf, &len);
  if (rc)
    {
      ERR ("encoding the MANIFEST failed: %s", muster_strerror (rc));
      return rc;
    }
  rc = mu_ckpt_write_file_as (step_dir, MU_CKPT_MANIFEST_FILE, buf, len, uid,
                              gid);
  free (buf);
  if (rc)
    ERR ("writing %s/" MU_CKPT_MANIFEST_FILE ": %s", step_dir,
         muster_strerror (rc));
  return rc;
}

/* Read a whole file of at most `max` bytes relative to dirfd. */
static int
read_small (const char *dir, const char *name, size_t max, char **out,
            size_t *len)
{
  int dfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0)
    return -errno;
  int fd = openat (dfd, name, O_RDONLY | O_CLOEXEC);
  int rc = fd < 0 ? -errno : 0;
  close (dfd);
  if (rc)
    return rc;
  struct stat st;
  if (fstat (fd, &st) != 0)
    rc = -errno;
  else if (!S_ISREG (st.st_mode))
    rc = MUSTER_ECORRUPT;
  else if ((uint64_t)st.st_size > max)
    rc = MUSTER_ETOOBIG;
  char *buf = NULL;
  size_t n = 0;
  if (rc == 0 && !(buf = malloc ((size_t)st.st_size + 1)))
    rc = -ENOMEM;
  while (rc == 0 && n < (size_t)st.st_size)
    {
      ssize_t k = read (fd, buf + n, (size_t)st.st_size - n);
      if (k < 0 && errno == EINTR)
        continue;
      if (k < 0)
        rc = -errno;
      else if (k == 0)
        break; /* shrank under us: decode will see what is there */
      else
        n += (size_t)k;
    }
  close (fd);
  if (rc)
    {
      free (buf);
      return rc;
    }
  *out = buf;
  *len = n;
  return 0;
}

int
mu_manifest_read (const char *step_dir, mu_msg_t *out, char *err, size_t errlen)
{
  if (err && errlen)
    err[0] = '\0';
  if (!step_dir || !out)
    return MUSTER_EINVAL;
  memset (out, 0, sizeof *out);
  char *buf = NULL;
  size_t len = 0;
  int rc = read_small (step_dir, MU_CKPT_MANIFEST_FILE, MU_PROTO_MAX_MSG, &buf,
                       &len);
  if (rc)
    {
      if (rc == MUSTER_ETOOBIG)
        {
          ERR ("MANIFEST is larger than %u bytes", MU_PROTO_MAX_MSG);
          rc = MUSTER_ECORRUPT;
        }
      else if (rc == MUSTER_ECORRUPT)
        ERR ("MANIFEST is not a regular file");
      else
        ERR ("MANIFEST: %s", rc == -ENOENT ? "missing" : muster_strerror (rc));
      return rc;
    }
  char derr[200];
  uint64_t format = 0;
  rc = mu_msg_decode_v (buf, len, MU_MANIFEST_FORMAT, &format, out, derr,
                        sizeof derr);
  free (buf);
  if (rc == MUSTER_EVERSION)
    {
      ERR ("%s/" MU_CKPT_MANIFEST_FILE " has format version %llu; this build "
           "reads versions 1 to %d (written by a newer muster?)",
           step_dir, (unsigned long long)format, MU_MANIFEST_FORMAT);
      return rc;
    }
  if (rc)
    {
      ERR ("MANIFEST does not decode: %s", derr);
      return rc;
    }
  if (out->type != MU_MSG_CKPT_MANIFEST)
    {
      ERR ("MANIFEST holds a %s message", mu_msg_name (out->type));
      mu_msg_clear (out);
      return MUSTER_ECORRUPT;
    }
  rc = check_identity (step_dir, out->u.ckpt_manifest.job,
                       out->u.ckpt_manifest.step, err, errlen);
  if (rc)
    mu_msg_clear (out);
  return rc;
}

int
mu_manifest_validate (const char *step_dir, const mu_ckpt_manifest_t *m,
                      bool deep, char *err, size_t errlen)
{
  if (err && errlen)
    err[0] = '\0';
  if (!step_dir || !m)
    return MUSTER_EINVAL;
  int rc = mu_manifest_check (m, err, errlen);
  if (rc)
    return rc;
  /* Sizes of every shard first: a missing or truncated shard is found
   * without reading gigabytes of the others. */
  for (int pass = 0; pass < (deep ? 2 : 1); pass++)
    for (size_t i = 0; i < m->shards.n; i++)
      {
        rc = mu_shard_verify (step_dir, &m->shards.v[i], pass == 1, err,
                              errlen);
        if (rc)
          return rc;
      }
  return 0;
}
