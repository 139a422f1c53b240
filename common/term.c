/*
 * term.c — fencing terms (checked by agents, stored by coordinators) and
 * the follower's sequencing of the journal stream (term.h).
 */
#include "common/term.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <muster/error.h>

int
mu_term_check (uint64_t *highest, uint64_t got)
{
  if (got == 0)
    return 0;
  if (got < *highest)
    return MUSTER_ESTALE_EPOCH;
  *highest = got;
  return 0;
}

int
mu_term_load (const char *state_dir, uint64_t *term, char *err, size_t errlen)
{
  char path[4200], buf[64];
  snprintf (path, sizeof path, "%s/term", state_dir);
  *term = 0;
  FILE *f = fopen (path, "r");
  if (f == NULL)
    {
      if (errno == ENOENT)
        return 0;
      int rc = -errno;
      snprintf (err, errlen, "%s: %s", path, strerror (errno));
      return rc;
    }
  size_t n = fread (buf, 1, sizeof buf - 1, f);
  fclose (f);
  buf[n] = '\0';
  char *end;
  errno = 0;
  unsigned long long v = strtoull (buf, &end, 10);
  if (n == 0 || end == buf || errno != 0 || (*end != '\n' && *end != '\0'))
    {
      snprintf (err, errlen, "%s: not a term number", path);
      return MUSTER_ECORRUPT;
    }
  *term = v;
  return 0;
}

int
mu_term_store (const char *state_dir, uint64_t term)
{
  char path[4200], tmp[4300], buf[32];
  snprintf (path, sizeof path, "%s/term", state_dir);
  snprintf (tmp, sizeof tmp, "%s.tmp", path);
  int n = snprintf (buf, sizeof buf, "%llu\n", (unsigned long long)term);
  int fd = open (tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    return -errno;
  int rc = 0;
  if (write (fd, buf, (size_t)n) != n || fsync (fd) != 0)
    rc = errno ? -errno : -EIO;
  close (fd);
  if (rc == 0 && rename (tmp, path) != 0)
    rc = -errno;
  if (rc != 0)
    {
      unlink (tmp);
      return rc;
    }
  int dfd = open (state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0)
    {
      if (fsync (dfd) != 0)
        rc = -errno;
      close (dfd);
    }
  return rc;
}

mu_follow_decision_t
mu_follow_on (mu_follow_t *f, mu_stream_kind_t kind, uint64_t term,
              uint64_t seg, uint64_t seq)
{
  if (term < f->term)
    return MU_FOLLOW_STALE;
  if (term > f->term && kind != MU_STREAM_SYNC)
    {
      /* Another primary (or a restarted one): what it streams follows
       * its own sync, which this follower has not got. */
      f->term = term;
      f->synced = 0;
      return MU_FOLLOW_RESYNC;
    }
  f->term = term;
  switch (kind)
    {
    case MU_STREAM_SYNC:
      f->synced = 1;
      f->seg = seg;
      f->next = 1;
      return MU_FOLLOW_APPLY;
    case MU_STREAM_REC:
      if (!f->synced || seg != f->seg || seq != f->next)
        {
          f->synced = 0;
          return MU_FOLLOW_RESYNC;
        }
      f->next++;
      return MU_FOLLOW_APPLY;
    case MU_STREAM_HB:
      if (!f->synced || seg != f->seg || seq + 1 != f->next)
        {
          /* Behind (records lost on the way), or never synced. */
          f->synced = 0;
          return MU_FOLLOW_RESYNC;
        }
      return MU_FOLLOW_IGNORE;
    }
  return MU_FOLLOW_IGNORE;
}
