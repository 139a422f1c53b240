/*
 * log_files.c — torchrun's worker log files (see log_files.h): parsing
 * -r/-t values, making the job's and each worker's log directory, opening
 * the files.
 *
 * The agent calls mu_log_open_worker on its loop when it spawns a worker
 * (a few mkdir and open calls on a local directory, once per worker and
 * epoch, next to the fork+exec that costs far more); the writes themselves
 * are spawn.c's.
 */
#include "worker/log_files.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <muster/error.h>

static int
parse_digit_mask (const char *s, unsigned *out)
{
  if (s[0] < '0' || s[0] > '3' || s[1] != '\0')
    return -1;
  *out = (unsigned)(s[0] - '0');
  return 0;
}

int
mu_std_spec_parse (const char *s, mu_std_spec_t *out, char *err,
                   size_t errlen)
{
  memset (out, 0, sizeof *out);
  if (s == NULL || s[0] == '\0')
    return 0;
  if (strchr (s, ':') == NULL)
    {
      if (parse_digit_mask (s, &out->all) != 0)
        goto bad;
      return 0;
    }
  char buf[4096];
  if (strlen (s) >= sizeof buf)
    goto bad;
  strcpy (buf, s);
  if (buf[0] == ',' || buf[strlen (buf) - 1] == ',' || strstr (buf, ",,"))
    goto bad; /* strtok_r would skip the empty entry */
  for (char *save = NULL, *e = strtok_r (buf, ",", &save); e;
       e = strtok_r (NULL, ",", &save))
    {
      char *colon = strchr (e, ':');
      if (colon == NULL || colon == e)
        goto bad;
      *colon = '\0';
      char *end;
      errno = 0;
      unsigned long r = strtoul (e, &end, 10);
      unsigned mask;
      if (*end != '\0' || e[0] < '0' || e[0] > '9' || errno != 0
          || r > UINT32_MAX || parse_digit_mask (colon + 1, &mask) != 0)
        goto bad;
      size_t k = 0;
      while (k < out->n && out->v[k].local_rank != (uint32_t)r)
        k++;
      if (k == out->n)
        {
          if (out->n == MU_STD_MAP_MAX)
            {
              snprintf (err, errlen, "'%.40s...': at most %d local ranks in a map",
                        s, MU_STD_MAP_MAX);
              return MUSTER_EINVAL;
            }
          out->n++;
        }
      out->v[k].local_rank = (uint32_t)r;
      out->v[k].mask = mask; /* named twice: the last one counts */
    }
  return 0;
bad:
  snprintf (err, errlen,
            "'%.200s': expected 0 (none), 1 (stdout), 2 (stderr), 3 (both) "
            "or LOCAL_RANK:N,... (e.g. 0:1,1:2)", s);
  memset (out, 0, sizeof *out);
  return MUSTER_EINVAL;
}

unsigned
mu_std_spec_mask (const mu_std_spec_t *s, uint32_t local_rank)
{
  if (s == NULL)
    return MU_STD_NONE;
  if (s->n == 0)
    return s->all;
  for (size_t k = 0; k < s->n; k++)
    if (s->v[k].local_rank == local_rank)
      return s->v[k].mask;
  return MU_STD_NONE;
}

/* mkdir -p; 0 or a negative errno. */
static int
make_dirs (const char *path)
{
  char buf[4096];
  if (snprintf (buf, sizeof buf, "%s", path) >= (int)sizeof buf)
    return -ENAMETOOLONG;
  for (char *p = buf + 1; *p; p++)
    if (*p == '/')
      {
        *p = '\0';
        if (mkdir (buf, 0777) != 0 && errno != EEXIST)
          return -errno;
        *p = '/';
      }
  if (mkdir (buf, 0777) != 0 && errno != EEXIST)
    return -errno;
  struct stat st;
  if (stat (buf, &st) != 0)
    return -errno;
  return S_ISDIR (st.st_mode) ? 0 : -ENOTDIR;
}

int
mu_log_job_dir (const char *base, const char *run_id, char *out,
                size_t outlen, char *err, size_t errlen)
{
  char tmpl[4096];
  int rc;
  if (base == NULL)
    {
      const char *t = getenv ("TMPDIR");
      snprintf (tmpl, sizeof tmpl, "%s/muster_XXXXXX", t && *t ? t : "/tmp");
      if (mkdtemp (tmpl) == NULL)
        {
          rc = -errno;
          snprintf (err, errlen, "cannot make a log directory %s: %s", tmpl,
                    strerror (-rc));
          return rc;
        }
      base = tmpl;
    }
  else if ((rc = make_dirs (base)) != 0)
    {
      snprintf (err, errlen, "cannot make the log directory %s: %s", base,
                strerror (-rc));
      return rc;
    }
  char id[256];
  snprintf (id, sizeof id, "%s", run_id && *run_id ? run_id : "none");
  for (char *c = id; *c; c++)
    if (*c == '/')
      *c = '_';
  char dir[4096];
  if (snprintf (dir, sizeof dir, "%s/%s_XXXXXX", base, id)
      >= (int)sizeof dir)
    {
      snprintf (err, errlen, "the log directory %s is too long", base);
      return -ENAMETOOLONG;
    }
  if (mkdtemp (dir) == NULL)
    {
      rc = -errno;
      snprintf (err, errlen, "cannot make a directory in %s: %s", base,
                strerror (-rc));
      return rc;
    }
  if (snprintf (out, outlen, "%s", dir) >= (int)outlen)
    {
      snprintf (err, errlen, "the log directory %s is too long", dir);
      return -ENAMETOOLONG;
    }
  return 0;
}

int
mu_log_open_worker (const char *job_dir, uint64_t attempt,
                    uint32_t local_rank, unsigned mask, int fds[2],
                    char *rank_dir, size_t dirlen, char *err, size_t errlen)
{
  static const char *const names[2] = { "stdout.log", "stderr.log" };
  fds[0] = fds[1] = -1;
  if (snprintf (rank_dir, dirlen, "%s/attempt_%llu/%u", job_dir,
                (unsigned long long)attempt, (unsigned)local_rank)
      >= (int)dirlen)
    {
      snprintf (err, errlen, "the log directory %s is too long", job_dir);
      return -ENAMETOOLONG;
    }
  int rc = make_dirs (rank_dir);
  if (rc != 0)
    {
      snprintf (err, errlen, "cannot make %s: %s", rank_dir, strerror (-rc));
      return rc;
    }
  for (int i = 0; i < 2; i++)
    {
      if (!(mask & (i == 0 ? MU_STD_OUT : MU_STD_ERR)))
        continue;
      char path[4200];
      snprintf (path, sizeof path, "%s/%s", rank_dir, names[i]);
      fds[i] = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC,
                     0666);
      if (fds[i] < 0)
        {
          rc = -errno;
          snprintf (err, errlen, "cannot open %s: %s", path, strerror (-rc));
          if (i == 1 && fds[0] >= 0)
            close (fds[0]);
          fds[0] = fds[1] = -1;
          return rc;
        }
    }
  return 0;
}
