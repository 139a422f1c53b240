/*
 * journal.c — the append-only record log (see journal.h for the format and
 * the durability and recovery rules).
 *
 * Reading loads a whole file into memory and walks its records: journals
 * are compacted into snapshots long before that is a cost (a snapshot of
 * 10,000 jobs is a few megabytes).  Writing keeps one descriptor open on
 * the live segment, and the offset of its last good record so that a
 * failed write is cut off again (ftruncate) instead of leaving half a
 * record for the next start to report.
 */
#include "common/journal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <muster/error.h>

#include "common/crc32c.h"

#define MAGIC_SEGMENT "MUSTERJL"
#define MAGIC_SNAPSHOT "MUSTERSN"
#define DEFAULT_GROUP_MAX 256

struct mu_journal
{
  char *dir;
  int group_commit;
  int read_only;
  size_t group_max;
  mu_journal_durable_fn on_durable;
  void *arg;
  mu_log_t own_log;
  const mu_log_t *log;
  uint64_t seq;     /* S of the live pair */
  int fd;           /* journal-<S>, open for appending */
  uint64_t size;    /* bytes in it that are good */
  uint64_t records; /* records in it */
  uint64_t lsn;     /* last LSN handed out */
  uint64_t durable; /* last LSN synced */
  char *buf;        /* group commit: framed records not yet written */
  size_t buflen, bufcap;
  size_t pending;
};

struct mu_journal_snap
{
  int fd;
  const char *path;
  int rc;
};

static void
put_u32 (uint8_t *p, uint32_t v)
{
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
  p[2] = (uint8_t)(v >> 16);
  p[3] = (uint8_t)(v >> 24);
}

static uint32_t
get_u32 (const uint8_t *p)
{
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16
         | (uint32_t)p[3] << 24;
}

static void __attribute__ ((format (printf, 3, 4)))
set_err (char *err, size_t errlen, const char *fmt, ...)
{
  if (err == NULL || errlen == 0)
    return;
  va_list ap;
  va_start (ap, fmt);
  vsnprintf (err, errlen, fmt, ap);
  va_end (ap);
}

static void
file_path (const char *dir, const char *kind, uint64_t seq, char *buf,
           size_t cap)
{
  snprintf (buf, cap, "%s/%s-%" PRIu64, dir, kind, seq);
}

static int
write_all (int fd, const void *p, size_t len)
{
  const char *c = p;
  while (len > 0)
    {
      ssize_t w = write (fd, c, len);
      if (w < 0 && errno == EINTR)
        continue;
      if (w < 0)
        return -errno;
      c += w;
      len -= (size_t)w;
    }
  return 0;
}

static int
sync_dir (const char *dir)
{
  int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return -errno;
  int rc = fsync (fd) == 0 ? 0 : -errno;
  close (fd);
  return rc;
}

static void
header (uint8_t h[MU_JOURNAL_HEADER_SIZE], const char *magic)
{
  memset (h, 0, MU_JOURNAL_HEADER_SIZE);
  memcpy (h, magic, 8);
  put_u32 (h + 8, MU_JOURNAL_FORMAT_VERSION);
}

static int
read_file (const char *path, uint8_t **out, size_t *len)
{
  int fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -errno;
  struct stat st;
  if (fstat (fd, &st) != 0)
    {
      int e = -errno;
      close (fd);
      return e;
    }
  size_t size = (size_t)st.st_size;
  uint8_t *b = malloc (size ? size : 1);
  if (b == NULL)
    {
      close (fd);
      return -ENOMEM;
    }
  size_t got = 0;
  while (got < size)
    {
      ssize_t r = read (fd, b + got, size - got);
      if (r < 0 && errno == EINTR)
        continue;
      if (r <= 0)
        break;
      got += (size_t)r;
    }
  close (fd);
  *out = b;
  *len = got;
  return 0;
}

static int
check_header (const char *path, const uint8_t *b, size_t len, const char *magic,
              char *err, size_t errlen)
{
  if (len < MU_JOURNAL_HEADER_SIZE || memcmp (b, magic, 8) != 0)
    {
      set_err (err, errlen,
               "%s: not a muster journal file (bad magic: "
               "expected %s)",
               path, magic);
      return MUSTER_ECORRUPT;
    }
  uint32_t v = get_u32 (b + 8);
  if (v != MU_JOURNAL_FORMAT_VERSION)
    {
      set_err (err, errlen,
               "%s: journal format version %u; this musterd "
               "reads version %d",
               path, (unsigned)v, MU_JOURNAL_FORMAT_VERSION);
      return MUSTER_EVERSION;
    }
  return 0;
}

/* Walk the records of b[MU_JOURNAL_HEADER_SIZE..len).  Returns the offset
 * after the last good record; `why` says why the walk stopped early ("" at
 * a clean end).  An empty record ends the walk (*ended = 1). */
typedef struct walk
{
  size_t good;
  uint64_t records;
  int ended;
  char why[160];
  int cb_rc;
} walk_t;

static void
walk (const uint8_t *b, size_t len, mu_journal_src_t src,
      mu_journal_replay_fn fn, void *arg, walk_t *w)
{
  size_t off = MU_JOURNAL_HEADER_SIZE;
  memset (w, 0, sizeof *w);
  w->good = off;
  while (off < len)
    {
      if (len - off < MU_JOURNAL_RECORD_HEADER)
        {
          snprintf (w->why, sizeof w->why,
                    "torn record header (%zu of %d bytes)", len - off,
                    MU_JOURNAL_RECORD_HEADER);
          return;
        }
      uint32_t n = get_u32 (b + off), crc = get_u32 (b + off + 4);
      if (n == 0 && crc == 0)
        {
          w->ended = 1;
          w->good = off + MU_JOURNAL_RECORD_HEADER;
          if (w->good != len)
            snprintf (w->why, sizeof w->why, "%zu bytes after the end record",
                      len - w->good);
          return;
        }
      if (n > MU_JOURNAL_MAX_RECORD)
        {
          snprintf (w->why, sizeof w->why, "record length %u over the bound %u",
                    (unsigned)n, MU_JOURNAL_MAX_RECORD);
          return;
        }
      if (len - off - MU_JOURNAL_RECORD_HEADER < n)
        {
          snprintf (w->why, sizeof w->why,
                    "torn record (%zu of %u payload bytes)",
                    len - off - MU_JOURNAL_RECORD_HEADER, (unsigned)n);
          return;
        }
      const uint8_t *p = b + off + MU_JOURNAL_RECORD_HEADER;
      uint32_t got = mu_crc32c (0, p, n);
      if (got != crc)
        {
          snprintf (w->why, sizeof w->why,
                    "CRC mismatch (stored %08x, computed %08x)", (unsigned)crc,
                    (unsigned)got);
          return;
        }
      if (fn != NULL && (w->cb_rc = fn (arg, src, p, n)) != 0)
        return;
      w->records++;
      off += MU_JOURNAL_RECORD_HEADER + n;
      w->good = off;
    }
}

/* Highest complete snapshot (its seq, 0 if none) among the directory's
 * files; every seq seen goes to *max_seen. */
static int
scan_dir (const char *dir, uint64_t *snap_max, uint64_t *max_seen)
{
  DIR *d = opendir (dir);
  if (d == NULL)
    return -errno;
  struct dirent *e;
  *snap_max = 0;
  *max_seen = 0;
  while ((e = readdir (d)) != NULL)
    {
      unsigned long long s;
      char tail;
      if (sscanf (e->d_name, "snapshot-%llu%c", &s, &tail) == 1)
        {
          if (s > *snap_max)
            *snap_max = s;
        }
      else if (sscanf (e->d_name, "journal-%llu%c", &s, &tail) != 1)
        continue;
      if (s > *max_seen)
        *max_seen = s;
    }
  closedir (d);
  return 0;
}

/* Remove every journal-, snapshot- and *.tmp file but the live pair. */
static void
remove_stale (mu_journal_t *j)
{
  DIR *d = opendir (j->dir);
  if (d == NULL)
    return;
  struct dirent *e;
  char path[4096];
  int removed = 0;
  while ((e = readdir (d)) != NULL)
    {
      unsigned long long s;
      char tail;
      int ours = sscanf (e->d_name, "snapshot-%llu%c", &s, &tail) == 1
                 || sscanf (e->d_name, "journal-%llu%c", &s, &tail) == 1;
      int tmp = strncmp (e->d_name, "snapshot-", 9) == 0
                && strstr (e->d_name, ".tmp") != NULL;
      if ((ours && s != j->seq) || tmp)
        {
          snprintf (path, sizeof path, "%s/%s", j->dir, e->d_name);
          if (unlink (path) == 0)
            removed++;
        }
    }
  closedir (d);
  if (removed)
    sync_dir (j->dir);
}

static int
replay_snapshot (mu_journal_t *j, mu_journal_replay_fn fn, void *arg,
                 mu_journal_info_t *info, char *err, size_t errlen)
{
  char path[4096];
  file_path (j->dir, "snapshot", j->seq, path, sizeof path);
  uint8_t *b;
  size_t len;
  int rc = read_file (path, &b, &len);
  if (rc != 0)
    {
      set_err (err, errlen, "%s: %s", path, strerror (-rc));
      return rc;
    }
  rc = check_header (path, b, len, MAGIC_SNAPSHOT, err, errlen);
  walk_t w;
  if (rc == 0)
    {
      walk (b, len, MU_JOURNAL_FROM_SNAPSHOT, fn, arg, &w);
      if (w.cb_rc != 0)
        rc = w.cb_rc;
      else if (!w.ended || w.why[0] != '\0')
        {
          set_err (err, errlen, "%s: snapshot damaged at offset %zu: %s", path,
                   w.good, w.why[0] ? w.why : "no end record");
          rc = MUSTER_ECORRUPT;
        }
      info->snapshot_records = w.records;
    }
  free (b);
  return rc;
}

static int
create_segment (const char *dir, uint64_t seq, int *fd_out)
{
  char path[4096];
  file_path (dir, "journal", seq, path, sizeof path);
  int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    return -errno;
  uint8_t h[MU_JOURNAL_HEADER_SIZE];
  header (h, MAGIC_SEGMENT);
  int rc = write_all (fd, h, sizeof h);
  if (rc == 0 && fdatasync (fd) != 0)
    rc = -errno;
  if (rc == 0)
    rc = sync_dir (dir);
  if (rc != 0)
    {
      close (fd);
      unlink (path);
      return rc;
    }
  *fd_out = fd;
  return 0;
}

static int
replay_segment (mu_journal_t *j, mu_journal_replay_fn fn, void *arg,
                mu_journal_info_t *info, char *err, size_t errlen)
{
  char path[4096];
  file_path (j->dir, "journal", j->seq, path, sizeof path);
  uint8_t *b;
  size_t len;
  int rc = read_file (path, &b, &len);
  if (rc == -ENOENT && j->read_only)
    return 0;
  if (rc == -ENOENT)
    {
      /* A snapshot whose segment was never started (a crash in between):
       * start it now. */
      rc = create_segment (j->dir, j->seq, &j->fd);
      if (rc != 0)
        set_err (err, errlen, "%s: %s", path, strerror (-rc));
      j->size = MU_JOURNAL_HEADER_SIZE;
      return rc;
    }
  if (rc != 0)
    {
      set_err (err, errlen, "%s: %s", path, strerror (-rc));
      return rc;
    }
  if (len < MU_JOURNAL_HEADER_SIZE && memcmp (b, MAGIC_SEGMENT, len) == 0
      && j->read_only)
    {
      free (b);
      return 0;
    }
  if (len < MU_JOURNAL_HEADER_SIZE && memcmp (b, MAGIC_SEGMENT, len) == 0)
    {
      /* Cut short while it was being created: nothing in it yet. */
      free (b);
      unlink (path);
      rc = create_segment (j->dir, j->seq, &j->fd);
      if (rc != 0)
        set_err (err, errlen, "%s: %s", path, strerror (-rc));
      j->size = MU_JOURNAL_HEADER_SIZE;
      return rc;
    }
  rc = check_header (path, b, len, MAGIC_SEGMENT, err, errlen);
  walk_t w;
  if (rc == 0)
    {
      walk (b, len, MU_JOURNAL_FROM_SEGMENT, fn, arg, &w);
      if (w.cb_rc != 0)
        rc = w.cb_rc;
      else if (w.good < len)
        {
          if (w.why[0] == '\0')
            snprintf (w.why, sizeof w.why, "unexpected end record");
          if (j->read_only) /* a writer may be appending right now */
            mu_log_info (j->log, "JOURNAL-TAIL",
                         "%s: ignoring %zu bytes from offset %zu: %s (%llu "
                         "good records read)",
                         path, len - w.good, w.good, w.why,
                         (unsigned long long)w.records);
          else
            mu_log_warn (j->log, "JOURNAL-TAIL",
                         "%s: dropping %zu bytes from offset %zu: %s (%llu "
                         "good records kept)",
                         path, len - w.good, w.good, w.why,
                         (unsigned long long)w.records);
          info->dropped_at = w.good;
          info->dropped_bytes = len - w.good;
          snprintf (info->why, sizeof info->why, "%s", w.why);
        }
      info->segment_records = w.records;
      j->records = w.records;
      j->size = w.good;
    }
  free (b);
  if (rc != 0 || j->read_only)
    return rc;
  j->fd = open (path, O_WRONLY | O_CLOEXEC);
  if (j->fd < 0 || (j->size < len && ftruncate (j->fd, (off_t)j->size) != 0)
      || (j->size < len && fdatasync (j->fd) != 0)
      || lseek (j->fd, (off_t)j->size, SEEK_SET) < 0)
    {
      rc = -errno;
      set_err (err, errlen, "%s: %s", path, strerror (errno));
    }
  return rc;
}

int
mu_journal_open (const mu_journal_opts_t *o, mu_journal_replay_fn fn, void *arg,
                 mu_journal_t **out, mu_journal_info_t *info, char *err,
                 size_t errlen)
{
  *out = NULL;
  if (o == NULL || o->dir == NULL || o->dir[0] == '\0')
    {
      set_err (err, errlen, "no journal directory");
      return MUSTER_EINVAL;
    }
  if (!o->read_only && mkdir (o->dir, 0700) != 0 && errno != EEXIST)
    {
      int e = -errno;
      set_err (err, errlen, "cannot create %s: %s", o->dir, strerror (errno));
      return e;
    }
  mu_journal_t *j = calloc (1, sizeof *j);
  if (j == NULL || (j->dir = strdup (o->dir)) == NULL)
    {
      free (j);
      return -ENOMEM;
    }
  j->fd = -1;
  j->group_commit = o->group_commit;
  j->read_only = o->read_only;
  j->group_max = o->group_max ? o->group_max : DEFAULT_GROUP_MAX;
  j->on_durable = o->on_durable;
  j->arg = o->arg;
  mu_log_init (&j->own_log, "journal");
  j->log = o->log ? o->log : &j->own_log;
  mu_journal_info_t dummy;
  if (info == NULL)
    info = &dummy;
  memset (info, 0, sizeof *info);
  uint64_t max_seen = 0;
  int rc = scan_dir (j->dir, &j->seq, &max_seen);
  if (rc != 0)
    set_err (err, errlen, "cannot read %s: %s", j->dir, strerror (-rc));
  if (rc == 0 && max_seen > j->seq)
    {
      /* journal-<N> without snapshot-<N> cannot be (a segment is started
       * only after its snapshot is in place), unless a snapshot was lost:
       * then the records in it are not enough to rebuild the state. */
      char path[4096];
      file_path (j->dir, "journal", max_seen, path, sizeof path);
      if (access (path, F_OK) == 0)
        {
          set_err (err, errlen,
                   "%s exists but snapshot-%llu does not: the "
                   "journal cannot be replayed",
                   path, (unsigned long long)max_seen);
          rc = MUSTER_ECORRUPT;
        }
    }
  info->seq = j->seq;
  if (rc == 0 && j->seq > 0)
    rc = replay_snapshot (j, fn, arg, info, err, errlen);
  if (rc == 0)
    rc = replay_segment (j, fn, arg, info, err, errlen);
  if (rc != 0)
    {
      mu_journal_close (&j);
      return rc;
    }
  if (!j->read_only)
    remove_stale (j);
  *out = j;
  return 0;
}

static int
reserve (mu_journal_t *j, size_t more)
{
  if (j->buflen + more <= j->bufcap)
    return 0;
  size_t cap = j->bufcap ? j->bufcap : 4096;
  while (cap < j->buflen + more)
    cap *= 2;
  char *b = realloc (j->buf, cap);
  if (b == NULL)
    return -ENOMEM;
  j->buf = b;
  j->bufcap = cap;
  return 0;
}

/* Write the buffer and sync; on failure cut the file back. */
static int
flush (mu_journal_t *j)
{
  if (j->buflen == 0)
    return 0;
  int rc = write_all (j->fd, j->buf, j->buflen);
  if (rc == 0 && fdatasync (j->fd) != 0)
    rc = -errno;
  if (rc != 0)
    {
      if (ftruncate (j->fd, (off_t)j->size) != 0
          || lseek (j->fd, (off_t)j->size, SEEK_SET) < 0)
        mu_log_err (j->log, "JOURNAL-WRITE",
                    "%s/journal-%llu: cannot cut a failed write back: %s",
                    j->dir, (unsigned long long)j->seq, strerror (errno));
      j->lsn -= j->pending;
      j->records -= j->pending;
      j->buflen = 0;
      j->pending = 0;
      return rc;
    }
  j->size += j->buflen;
  j->buflen = 0;
  j->pending = 0;
  j->durable = j->lsn;
  if (j->on_durable != NULL)
    j->on_durable (j->arg, j->durable);
  return 0;
}

int
mu_journal_append (mu_journal_t *j, const void *payload, size_t len,
                   uint64_t *lsn)
{
  if (j == NULL || payload == NULL || len == 0 || j->read_only)
    return MUSTER_EINVAL;
  if (len > MU_JOURNAL_MAX_RECORD)
    return MUSTER_ETOOBIG;
  int rc = reserve (j, MU_JOURNAL_RECORD_HEADER + len);
  if (rc != 0)
    return rc;
  uint8_t *h = (uint8_t *)j->buf + j->buflen;
  put_u32 (h, (uint32_t)len);
  put_u32 (h + 4, mu_crc32c (0, payload, len));
  memcpy (h + MU_JOURNAL_RECORD_HEADER, payload, len);
  j->buflen += MU_JOURNAL_RECORD_HEADER + len;
  j->pending++;
  j->records++;
  uint64_t mine = ++j->lsn;
  if (!j->group_commit || j->pending >= j->group_max)
    rc = flush (j);
  if (rc == 0 && lsn != NULL)
    *lsn = mine;
  return rc;
}

int
mu_journal_commit (mu_journal_t *j)
{
  return j == NULL ? MUSTER_EINVAL : flush (j);
}

uint64_t
mu_journal_durable_lsn (const mu_journal_t *j)
{
  return j->durable;
}

size_t
mu_journal_pending (const mu_journal_t *j)
{
  return j->pending;
}

uint64_t
mu_journal_segment_bytes (const mu_journal_t *j)
{
  return j->size + j->buflen;
}

uint64_t
mu_journal_segment_records (const mu_journal_t *j)
{
  return j->records;
}

int
mu_journal_snap_add (mu_journal_snap_t *s, const void *payload, size_t len)
{
  if (s->rc != 0)
    return s->rc;
  if (payload == NULL || len == 0)
    return s->rc = MUSTER_EINVAL;
  if (len > MU_JOURNAL_MAX_RECORD)
    return s->rc = MUSTER_ETOOBIG;
  uint8_t h[MU_JOURNAL_RECORD_HEADER];
  put_u32 (h, (uint32_t)len);
  put_u32 (h + 4, mu_crc32c (0, payload, len));
  s->rc = write_all (s->fd, h, sizeof h);
  if (s->rc == 0)
    s->rc = write_all (s->fd, payload, len);
  return s->rc;
}

int
mu_journal_snapshot (mu_journal_t *j, mu_journal_snap_fn fn, void *arg)
{
  if (j->read_only)
    return MUSTER_EINVAL;
  int rc = flush (j);
  if (rc != 0)
    return rc;
  uint64_t next = j->seq + 1;
  char tmp[4200], path[4096];
  file_path (j->dir, "snapshot", next, path, sizeof path);
  snprintf (tmp, sizeof tmp, "%s.tmp", path);
  mu_journal_snap_t s = { .fd = -1, .path = tmp, .rc = 0 };
  s.fd = open (tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (s.fd < 0)
    return -errno;
  uint8_t h[MU_JOURNAL_HEADER_SIZE];
  header (h, MAGIC_SNAPSHOT);
  s.rc = write_all (s.fd, h, sizeof h);
  if (s.rc == 0)
    {
      rc = fn (arg, &s);
      if (rc == 0)
        rc = s.rc;
    }
  else
    rc = s.rc;
  if (rc == 0)
    {
      uint8_t end[MU_JOURNAL_RECORD_HEADER] = { 0 };
      rc = write_all (s.fd, end, sizeof end);
    }
  if (rc == 0 && fsync (s.fd) != 0)
    rc = -errno;
  close (s.fd);
  if (rc == 0 && rename (tmp, path) != 0)
    rc = -errno;
  if (rc == 0)
    rc = sync_dir (j->dir);
  if (rc != 0)
    {
      unlink (tmp);
      unlink (path);
      mu_log_err (j->log, "JOURNAL-SNAPSHOT",
                  "%s: %s; the journal goes on "
                  "in journal-%llu",
                  path, muster_strerror (rc), (unsigned long long)j->seq);
      return rc;
    }
  /* The snapshot is durable: from here on, a crash recovers from it. */
  int fd;
  rc = create_segment (j->dir, next, &fd);
  if (rc != 0)
    {
      /* The open at the next start creates the segment; until then keep
       * appending to the old one would lose those records (they would
       * follow an older snapshot): refuse appends by failing here, the
       * caller logs it.  Drop the new snapshot so the old pair stays live. */
      unlink (path);
      sync_dir (j->dir);
      return rc;
    }
  close (j->fd);
  j->fd = fd;
  j->seq = next;
  j->size = MU_JOURNAL_HEADER_SIZE;
  j->records = 0;
  remove_stale (j);
  return 0;
}

void
mu_journal_close (mu_journal_t **j_p)
{
  if (j_p == NULL || *j_p == NULL)
    return;
  mu_journal_t *j = *j_p;
  if (j->fd >= 0)
    {
      flush (j);
      close (j->fd);
    }
  free (j->buf);
  free (j->dir);
  free (j);
  *j_p = NULL;
}
