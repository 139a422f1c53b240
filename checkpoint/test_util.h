/*
 * test_util.h — helpers shared by the checkpoint tests (and only them):
 * scratch directories removed afterwards, whole-file reads and writes,
 * byte flips, a deterministic random generator.  Header-only and static,
 * so each test stays one source file.
 */
#ifndef MU_CKPT_TEST_UTIL_H
#define MU_CKPT_TEST_UTIL_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A fresh directory under $TMPDIR (or /tmp); malloc'd path. */
static inline char *
tu_mkdtemp (const char *tag)
{
  const char *base = getenv ("TMPDIR");
  char *p = NULL;
  if (asprintf (&p, "%s/mu_%s_XXXXXX", base && *base ? base : "/tmp", tag) < 0)
    return NULL;
  if (!mkdtemp (p))
    {
      free (p);
      return NULL;
    }
  return p;
}

static inline int
tu_rm_one (const char *path, const struct stat *st, int flag, struct FTW *f)
{
  (void)st;
  (void)flag;
  (void)f;
  return remove (path);
}

/* rm -rf path, then free it. */
static inline void
tu_rmtree (char **path_p)
{
  if (!path_p || !*path_p)
    return;
  nftw (*path_p, tu_rm_one, 16, FTW_DEPTH | FTW_PHYS);
  free (*path_p);
  *path_p = NULL;
}

/* malloc'd "a/b" */
static inline char *
tu_join (const char *a, const char *b)
{
  char *p = NULL;
  if (asprintf (&p, "%s/%s", a, b) < 0)
    return NULL;
  return p;
}

static inline bool
tu_exists (const char *dir, const char *name)
{
  char *p = tu_join (dir, name);
  struct stat st;
  bool ok = p && lstat (p, &st) == 0;
  free (p);
  return ok;
}

/* Size of dir/name, or -1. */
static inline long long
tu_size (const char *dir, const char *name)
{
  char *p = tu_join (dir, name);
  struct stat st;
  long long n = (p && stat (p, &st) == 0) ? (long long)st.st_size : -1;
  free (p);
  return n;
}

/* Write raw bytes to dir/name (no atomicity: for faking torn files). */
static inline int
tu_write (const char *dir, const char *name, const void *buf, size_t len)
{
  char *p = tu_join (dir, name);
  if (!p)
    return -ENOMEM;
  int fd = open (p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  free (p);
  if (fd < 0)
    return -errno;
  ssize_t k = len ? write (fd, buf, len) : 0;
  int rc = (k < 0 || (size_t)k != len) ? -EIO : 0;
  close (fd);
  return rc;
}

/* Read dir/name whole; malloc'd, *len set; NULL on error. */
static inline unsigned char *
tu_read (const char *dir, const char *name, size_t *len)
{
  char *p = tu_join (dir, name);
  FILE *f = p ? fopen (p, "rb") : NULL;
  free (p);
  if (!f)
    return NULL;
  fseek (f, 0, SEEK_END);
  long n = ftell (f);
  fseek (f, 0, SEEK_SET);
  unsigned char *b = malloc (n > 0 ? (size_t)n : 1);
  if (b && n > 0 && fread (b, 1, (size_t)n, f) != (size_t)n)
    {
      free (b);
      b = NULL;
    }
  fclose (f);
  if (b)
    *len = (size_t)n;
  return b;
}

/* XOR one byte of dir/name at `off` with 0x01 (in place). */
static inline int
tu_flip (const char *dir, const char *name, long long off)
{
  char *p = tu_join (dir, name);
  int fd = p ? open (p, O_RDWR | O_CLOEXEC) : -1;
  free (p);
  if (fd < 0)
    return -errno;
  unsigned char c;
  int rc = 0;
  if (pread (fd, &c, 1, off) != 1)
    rc = -EIO;
  c ^= 0x01;
  if (rc == 0 && pwrite (fd, &c, 1, off) != 1)
    rc = -EIO;
  close (fd);
  return rc;
}

/* Truncate dir/name to `len`. */
static inline int
tu_truncate (const char *dir, const char *name, long long len)
{
  char *p = tu_join (dir, name);
  int rc = (p && truncate (p, len) == 0) ? 0 : -errno;
  free (p);
  return rc;
}

/* Deterministic xorshift64* so failures reproduce. */
static inline uint64_t
tu_rng (uint64_t *s)
{
  *s ^= *s >> 12;
  *s ^= *s << 25;
  *s ^= *s >> 27;
  return *s * 0x2545F4914F6CDD1Dull;
}

static inline void
tu_fill (void *buf, size_t n, uint64_t seed)
{
  unsigned char *p = buf;
  uint64_t s = seed | 1;
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    {
      uint64_t v = tu_rng (&s);
      memcpy (p + i, &v, 8);
    }
  for (; i < n; i++)
    p[i] = (unsigned char)tu_rng (&s);
}

#endif
