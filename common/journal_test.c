/*
 * journal_test.c — the record log: a round trip, a torn tail cut at every
 * byte of the last record (all earlier records kept, the tail reported and
 * truncated, appends go on), a corrupt CRC in the middle (replay stops
 * there and says so), bad magic and format versions refused with the file
 * named, snapshots with compaction (old pair removed, state = snapshot +
 * newer records), an interrupted compaction, and group commit (one sync per
 * batch, on_durable told the LSN), and read-only replay (nothing changed).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <muster/error.h>

#include "common/journal.h"

static int snap_two (void *arg, mu_journal_snap_t *s); /* below */

typedef struct seen
{
  char recs[64][64];
  int src[64];
  int n;
} seen_t;

static int
collect (void *arg, mu_journal_src_t src, const void *p, size_t len)
{
  seen_t *s = arg;
  assert_true (s->n < 64);
  assert_true (len < 64);
  memcpy (s->recs[s->n], p, len);
  s->recs[s->n][len] = '\0';
  s->src[s->n] = (int)src;
  s->n++;
  return 0;
}

static void
quiet_sink (void *arg, mu_log_level_t level, const char *id, const char *msg)
{
  char *last = arg;
  (void)level;
  snprintf (last, 512, "%s %s", id, msg);
}

typedef struct fx
{
  char dir[128];
  char logged[512];
  mu_log_t log;
  mu_journal_opts_t o;
} fx_t;

static int
setup (void **state)
{
  fx_t *f = calloc (1, sizeof *f);
  snprintf (f->dir, sizeof f->dir, "/tmp/journal_test.XXXXXX");
  assert_non_null (mkdtemp (f->dir));
  mu_log_init (&f->log, "journal_test");
  f->log.sink = quiet_sink;
  f->log.sink_arg = f->logged;
  f->o.dir = f->dir;
  f->o.log = &f->log;
  *state = f;
  return 0;
}

static int
teardown (void **state)
{
  fx_t *f = *state;
  char cmd[300];
  snprintf (cmd, sizeof cmd, "rm -rf '%s'", f->dir);
  assert_int_equal (system (cmd), 0);
  free (f);
  return 0;
}

static void
path_of (fx_t *f, const char *name, char *buf, size_t cap)
{
  snprintf (buf, cap, "%s/%s", f->dir, name);
}

static long
file_size (const char *path)
{
  struct stat st;
  return stat (path, &st) == 0 ? (long)st.st_size : -1;
}

static void
append_str (mu_journal_t *j, const char *s)
{
  assert_int_equal (mu_journal_append (j, s, strlen (s), NULL), 0);
}

static void
write_three (fx_t *f)
{
  mu_journal_t *j;
  char err[256];
  assert_int_equal (
      mu_journal_open (&f->o, NULL, NULL, &j, NULL, err, sizeof err), 0);
  append_str (j, "one");
  append_str (j, "two");
  append_str (j, "three");
  mu_journal_close (&j);
  assert_null (j);
}

static void
test_round_trip (void **state)
{
  fx_t *f = *state;
  mu_journal_t *j;
  char err[256];
  mu_journal_info_t info;
  assert_int_equal (
      mu_journal_open (&f->o, NULL, NULL, &j, &info, err, sizeof err), 0);
  assert_int_equal (info.seq, 0);
  uint64_t lsn = 0;
  assert_int_equal (mu_journal_append (j, "alpha", 5, &lsn), 0);
  assert_int_equal (lsn, 1);
  assert_int_equal (mu_journal_durable_lsn (j), 1); /* synced per record */
  assert_int_equal (mu_journal_append (j, "beta", 4, &lsn), 0);
  assert_int_equal (lsn, 2);
  assert_int_equal (mu_journal_append (j, "", 0, NULL), MUSTER_EINVAL);
  mu_journal_close (&j);
  seen_t s = { .n = 0 };
  assert_int_equal (
      mu_journal_open (&f->o, collect, &s, &j, &info, err, sizeof err), 0);
  assert_int_equal (s.n, 2);
  assert_string_equal (s.recs[0], "alpha");
  assert_string_equal (s.recs[1], "beta");
  assert_int_equal (s.src[0], MU_JOURNAL_FROM_SEGMENT);
  assert_int_equal (info.segment_records, 2);
  assert_int_equal (info.dropped_bytes, 0);
  /* Appending after a reopen continues the same file. */
  append_str (j, "gamma");
  mu_journal_close (&j);
  memset (&s, 0, sizeof s);
  assert_int_equal (
      mu_journal_open (&f->o, collect, &s, &j, NULL, err, sizeof err), 0);
  assert_int_equal (s.n, 3);
  assert_string_equal (s.recs[2], "gamma");
  mu_journal_close (&j);
}

static void
test_torn_tail_every_offset (void **state)
{
  fx_t *f = *state;
  write_three (f);
  char path[256];
  path_of (f, "journal-0", path, sizeof path);
  long full = file_size (path);
  long last = 8 + 5; /* record "three" */
  long start = full - last;
  for (long cut = start; cut < full; cut++)
    {
      unlink (path);
      write_three (f);
      assert_int_equal (file_size (path), full);
      assert_int_equal (truncate (path, cut), 0);
      seen_t s = { .n = 0 };
      mu_journal_t *j;
      mu_journal_info_t info;
      char err[256];
      f->logged[0] = '\0';
      assert_int_equal (
          mu_journal_open (&f->o, collect, &s, &j, &info, err, sizeof err), 0);
      assert_int_equal (s.n, 2);
      assert_string_equal (s.recs[1], "two");
      if (cut > start)
        {
          /* The partial record is reported (file, offset, why) and cut. */
          assert_int_equal (info.dropped_at, start);
          assert_int_equal (info.dropped_bytes, cut - start);
          assert_non_null (strstr (f->logged, "JOURNAL-TAIL"));
          assert_non_null (strstr (f->logged, path));
          assert_non_null (strstr (f->logged, "torn record"));
          char off[32];
          snprintf (off, sizeof off, "offset %ld", start);
          assert_non_null (strstr (f->logged, off));
        }
      else
        assert_int_equal (info.dropped_bytes, 0);
      assert_int_equal (file_size (path), start);
      /* Appends continue from the clean end. */
      append_str (j, "four");
      mu_journal_close (&j);
      memset (&s, 0, sizeof s);
      assert_int_equal (
          mu_journal_open (&f->o, collect, &s, &j, &info, err, sizeof err), 0);
      assert_int_equal (s.n, 3);
      assert_string_equal (s.recs[2], "four");
      assert_int_equal (info.dropped_bytes, 0);
      mu_journal_close (&j);
    }
}

static void
test_corrupt_middle (void **state)
{
  fx_t *f = *state;
  write_three (f);
  char path[256];
  path_of (f, "journal-0", path, sizeof path);
  /* Flip a payload byte of record 2 ("two" at 16 + 11 + 8). */
  long at = 16 + 8 + 3 + 8;
  FILE *fp = fopen (path, "r+b");
  assert_non_null (fp);
  fseek (fp, at, SEEK_SET);
  fputc ('T', fp);
  fclose (fp);
  seen_t s = { .n = 0 };
  mu_journal_t *j;
  mu_journal_info_t info;
  char err[256];
  assert_int_equal (
      mu_journal_open (&f->o, collect, &s, &j, &info, err, sizeof err), 0);
  assert_int_equal (s.n, 1); /* stops at the bad record */
  assert_string_equal (s.recs[0], "one");
  assert_int_equal (info.dropped_at, 16 + 11);
  assert_non_null (strstr (info.why, "CRC mismatch"));
  assert_non_null (strstr (f->logged, "CRC mismatch"));
  assert_int_equal (file_size (path), 16 + 11);
  mu_journal_close (&j);
}

/* Read-only replay (musterd --dump-state beside a running musterd): the
 * same records, a damaged tail skipped but left in place, no appends. */
static void
test_read_only (void **state)
{
  fx_t *f = *state;
  write_three (f);
  char path[256], err[256];
  path_of (f, "journal-0", path, sizeof path);
  long full = file_size (path);
  assert_int_equal (truncate (path, full - 2), 0);
  f->o.read_only = 1;
  seen_t s = { .n = 0 };
  mu_journal_t *j;
  mu_journal_info_t info;
  assert_int_equal (
      mu_journal_open (&f->o, collect, &s, &j, &info, err, sizeof err), 0);
  assert_int_equal (s.n, 2);
  assert_int_equal (info.dropped_bytes, 8 + 5 - 2);
  assert_int_equal (file_size (path), full - 2); /* untouched */
  assert_int_equal (mu_journal_append (j, "x", 1, NULL), MUSTER_EINVAL);
  assert_int_equal (mu_journal_snapshot (j, snap_two, NULL), MUSTER_EINVAL);
  mu_journal_close (&j);
  /* A directory that is not there is an error, not created. */
  char missing[200];
  snprintf (missing, sizeof missing, "%s/nope", f->dir);
  f->o.dir = missing;
  assert_int_not_equal (
      mu_journal_open (&f->o, NULL, NULL, &j, NULL, err, sizeof err), 0);
  assert_non_null (strstr (err, missing));
  assert_int_equal (file_size (missing), -1);
}

static void
test_bad_header (void **state)
{
  fx_t *f = *state;
  write_three (f);
  char path[256], err[256];
  path_of (f, "journal-0", path, sizeof path);
  mu_journal_t *j;
  FILE *fp = fopen (path, "r+b");
  fseek (fp, 8, SEEK_SET);
  fputc (9, fp); /* format version 9 */
  fclose (fp);
  assert_int_equal (
      mu_journal_open (&f->o, NULL, NULL, &j, NULL, err, sizeof err),
      MUSTER_EVERSION);
  assert_null (j);
  assert_non_null (strstr (err, path));
  assert_non_null (strstr (err, "format version 9"));
  fp = fopen (path, "r+b");
  fputs ("GARBAGE!", fp);
  fclose (fp);
  assert_int_equal (
      mu_journal_open (&f->o, NULL, NULL, &j, NULL, err, sizeof err),
      MUSTER_ECORRUPT);
  assert_non_null (strstr (err, "bad magic"));
  assert_non_null (strstr (err, path));
}

static int
snap_two (void *arg, mu_journal_snap_t *s)
{
  (void)arg;
  int rc = mu_journal_snap_add (s, "S1", 2);
  if (rc == 0)
    rc = mu_journal_snap_add (s, "S2", 2);
  return rc;
}

static int
snap_fails (void *arg, mu_journal_snap_t *s)
{
  (void)arg;
  mu_journal_snap_add (s, "half", 4);
  return -EIO;
}

static void
test_snapshot_compaction (void **state)
{
  fx_t *f = *state;
  mu_journal_t *j;
  char err[256], path[256];
  assert_int_equal (
      mu_journal_open (&f->o, NULL, NULL, &j, NULL, err, sizeof err), 0);
  append_str (j, "a");
  append_str (j, "b");
  assert_int_equal (mu_journal_snapshot (j, snap_two, NULL), 0);
  assert_int_equal (mu_journal_segment_records (j), 0);
  append_str (j, "c");
  /* A failed snapshot leaves the journal as it was. */
  assert_int_equal (mu_journal_snapshot (j, snap_fails, NULL), -EIO);
  append_str (j, "d");
  mu_journal_close (&j);
  path_of (f, "journal-0", path, sizeof path);
  assert_int_equal (file_size (path), -1); /* compacted away */
  path_of (f, "snapshot-2.tmp", path, sizeof path);
  assert_int_equal (file_size (path), -1);
  seen_t s = { .n = 0 };
  mu_journal_info_t info;
  assert_int_equal (
      mu_journal_open (&f->o, collect, &s, &j, &info, err, sizeof err), 0);
  assert_int_equal (info.seq, 1);
  assert_int_equal (s.n, 4);
  assert_string_equal (s.recs[0], "S1");
  assert_int_equal (s.src[0], MU_JOURNAL_FROM_SNAPSHOT);
  assert_string_equal (s.recs[1], "S2");
  assert_string_equal (s.recs[2], "c");
  assert_int_equal (s.src[2], MU_JOURNAL_FROM_SEGMENT);
  assert_string_equal (s.recs[3], "d");
  /* Compaction again: only the new pair remains. */
  assert_int_equal (mu_journal_snapshot (j, snap_two, NULL), 0);
  mu_journal_close (&j);
  path_of (f, "snapshot-1", path, sizeof path);
  assert_int_equal (file_size (path), -1);
  path_of (f, "journal-1", path, sizeof path);
  assert_int_equal (file_size (path), -1);
  /* A crash between the snapshot's rename and its segment: the next open
   * starts the segment and ignores the older one's records. */
  path_of (f, "journal-2", path, sizeof path);
  unlink (path);
  memset (&s, 0, sizeof s);
  assert_int_equal (
      mu_journal_open (&f->o, collect, &s, &j, &info, err, sizeof err), 0);
  assert_int_equal (s.n, 2);
  append_str (j, "e");
  mu_journal_close (&j);
  /* A damaged snapshot is an error naming it, never a silent reset. */
  path_of (f, "snapshot-2", path, sizeof path);
  assert_int_equal (truncate (path, file_size (path) - 3), 0);
  assert_int_equal (
      mu_journal_open (&f->o, NULL, NULL, &j, NULL, err, sizeof err),
      MUSTER_ECORRUPT);
  assert_non_null (strstr (err, path));
  assert_non_null (strstr (err, "snapshot damaged"));
}

typedef struct durable
{
  uint64_t last;
  int calls;
} durable_t;

static void
on_durable (void *arg, uint64_t lsn)
{
  durable_t *d = arg;
  d->last = lsn;
  d->calls++;
}

static void
test_group_commit (void **state)
{
  fx_t *f = *state;
  durable_t d = { 0, 0 };
  f->o.group_commit = 1;
  f->o.group_max = 4;
  f->o.on_durable = on_durable;
  f->o.arg = &d;
  mu_journal_t *j;
  char err[256], path[256];
  assert_int_equal (
      mu_journal_open (&f->o, NULL, NULL, &j, NULL, err, sizeof err), 0);
  append_str (j, "1");
  append_str (j, "2");
  append_str (j, "3");
  assert_int_equal (mu_journal_pending (j), 3);
  assert_int_equal (mu_journal_durable_lsn (j), 0);
  assert_int_equal (d.calls, 0);
  path_of (f, "journal-0", path, sizeof path);
  assert_int_equal (file_size (path), 16); /* nothing written yet */
  assert_int_equal (mu_journal_commit (j), 0);
  assert_int_equal (d.calls, 1); /* one sync for the batch */
  assert_int_equal (d.last, 3);
  assert_int_equal (file_size (path), 16 + 3 * 9);
  for (int i = 0; i < 4; i++)
    append_str (j, "x");
  /* The fourth waiting record commits the batch by itself. */
  assert_int_equal (d.calls, 2);
  assert_int_equal (d.last, 7);
  assert_int_equal (mu_journal_pending (j), 0);
  append_str (j, "y");
  mu_journal_close (&j); /* close commits what waits */
  assert_int_equal (d.last, 8);
  seen_t s = { .n = 0 };
  f->o.group_commit = 0;
  assert_int_equal (
      mu_journal_open (&f->o, collect, &s, &j, NULL, err, sizeof err), 0);
  assert_int_equal (s.n, 8);
  assert_string_equal (s.recs[7], "y");
  mu_journal_close (&j);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown (test_round_trip, setup, teardown),
    cmocka_unit_test_setup_teardown (test_torn_tail_every_offset, setup,
                                     teardown),
    cmocka_unit_test_setup_teardown (test_corrupt_middle, setup, teardown),
    cmocka_unit_test_setup_teardown (test_bad_header, setup, teardown),
    cmocka_unit_test_setup_teardown (test_read_only, setup, teardown),
    cmocka_unit_test_setup_teardown (test_snapshot_compaction, setup, teardown),
    cmocka_unit_test_setup_teardown (test_group_commit, setup, teardown),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
