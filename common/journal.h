/*
 * journal.h — an append-only, checksummed record log with snapshots, as
 * pure file I/O (no knowledge of what the records mean).
 *
 * musterd writes the inputs of its machines here so that a restarted
 * coordinator replays them to the same state (coordinator/journal_*.c say
 * what a record holds).  This file only stores opaque payloads durably and
 * hands them back in order.
 *
 * On disk, a journal is one directory:
 *
 *     snapshot-<S>   the state at the start of segment S (absent for S = 0)
 *     journal-<S>    records appended after that snapshot
 *
 * Both files start with a 16-byte header: an 8-byte magic ("MUSTERJL" for a
 * segment, "MUSTERSN" for a snapshot), the journal format version
 * (MU_JOURNAL_FORMAT_VERSION, u32 little endian; it is the on-disk format's
 * own and has nothing to do with the wire protocol's) and 4 zero bytes.
 * Then records, each
 *
 *     [payload length u32 LE][CRC-32C of the payload u32 LE][payload]
 *
 * A snapshot ends with an empty record (length 0), so a snapshot cut short
 * is told from a complete one.  Only the live pair (the highest S with a
 * complete snapshot, and its segment) is read; older files are leftovers of
 * an interrupted compaction and are removed.
 *
 * Durability: by default every append is written and fdatasync'ed before
 * mu_journal_append returns (its record is durable then).  With group
 * commit, appends are buffered and written with one fdatasync by
 * mu_journal_commit (the caller calls it once per loop iteration, or it runs
 * by itself when group_max records are waiting); on_durable tells the
 * caller up to which record sequence number (LSN) everything is on disk.
 *
 * Recovery: opening replays the snapshot, then the segment.  A segment whose
 * tail is torn (a record cut short by a crash) or corrupt (a CRC that does
 * not match, a length over the bound) is read up to the last good record;
 * the rest is reported (a JOURNAL-TAIL warning naming the file, the offset
 * and why) and truncated away, so appends continue from a clean end.  A
 * file with another magic or format version is refused with an error naming
 * the file and what was found.
 *
 * Snapshots and compaction: mu_journal_snapshot writes the caller's records
 * to snapshot-<S+1>.tmp, fsyncs it, renames it into place and fsyncs the
 * directory; then starts journal-<S+1> and removes the pair of S.  A crash
 * at any point leaves either the old pair or the new one readable.
 *
 * Not thread-safe: one journal, one thread.  No global state.
 */
#ifndef MU_JOURNAL_H
#define MU_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "common/log.h"

#define MU_JOURNAL_FORMAT_VERSION 1
#define MU_JOURNAL_HEADER_SIZE 16
#define MU_JOURNAL_RECORD_HEADER 8
#define MU_JOURNAL_MAX_RECORD (16u << 20) /* payload bound, bytes */

typedef struct mu_journal mu_journal_t;

/* Where a replayed record comes from. */
typedef enum mu_journal_src
{
  MU_JOURNAL_FROM_SNAPSHOT = 1,
  MU_JOURNAL_FROM_SEGMENT = 2
} mu_journal_src_t;

/* Called for each record while opening, in order.  A non-zero return stops
 * the replay, and mu_journal_open returns that value. */
typedef int (*mu_journal_replay_fn) (void *arg, mu_journal_src_t src,
                                     const void *payload, size_t len);

/* Told, after a sync, that every record up to `lsn` is durable. */
typedef void (*mu_journal_durable_fn) (void *arg, uint64_t lsn);

typedef struct mu_journal_opts
{
  const char *dir;  /* created (0700) if missing */
  int group_commit; /* 0 = fdatasync per record; 1 = batch */
  size_t group_max; /* batch records before a commit by itself; 0 = 256 */
  mu_journal_durable_fn on_durable; /* may be NULL */
  void *arg;                        /* for on_durable */
  const mu_log_t *log;              /* borrowed; NULL = a stderr logger */
  int read_only; /* replay only: change no file (a tail that would
                    be dropped is still reported); no appends */
} mu_journal_opts_t;

/* What opening found (for logs and tests). */
typedef struct mu_journal_info
{
  uint64_t seq;              /* S of the live pair */
  uint64_t snapshot_records; /* records read from snapshot-<S> */
  uint64_t segment_records;  /* records read from journal-<S> */
  uint64_t dropped_at;       /* offset of a dropped tail, 0 = none */
  uint64_t dropped_bytes;    /* bytes truncated away */
  char why[160];             /* why the tail was dropped ("" = none) */
} mu_journal_info_t;

/* Open (or create) the journal in opts->dir, replaying every record of the
 * live snapshot and segment into `fn` (may be NULL).  On success *out is
 * owned by the caller (mu_journal_close) and `info`, if not NULL, says what
 * was read.  Errors: MUSTER_ECORRUPT (bad magic, or a snapshot cut short or
 * damaged), MUSTER_EVERSION (another format version), -errno, or fn's
 * return value; `err` then names the file and the problem. */
int mu_journal_open (const mu_journal_opts_t *opts, mu_journal_replay_fn fn,
                     void *arg, mu_journal_t **out, mu_journal_info_t *info,
                     char *err, size_t errlen);

/* Append one record (1..MU_JOURNAL_MAX_RECORD bytes).  *lsn (may be NULL)
 * receives its sequence number (1, 2, ... over the journal's life in this
 * process).  Without group commit it is durable on return.  0, or
 * MUSTER_ETOOBIG, MUSTER_EINVAL, -errno (nothing of the record is left in
 * the file then). */
int mu_journal_append (mu_journal_t *j, const void *payload, size_t len,
                       uint64_t *lsn);

/* Write and fdatasync the buffered records (group commit); a no-op when
 * nothing waits.  0 or -errno (the batch is dropped from the file). */
int mu_journal_commit (mu_journal_t *j);

/* Highest LSN known durable. */
uint64_t mu_journal_durable_lsn (const mu_journal_t *j);
/* Records waiting for mu_journal_commit. */
size_t mu_journal_pending (const mu_journal_t *j);
/* Bytes in the live segment (header included), and records appended to it
 * since it was opened or started. */
uint64_t mu_journal_segment_bytes (const mu_journal_t *j);
uint64_t mu_journal_segment_records (const mu_journal_t *j);

/* A snapshot being written: the writer callback adds records to it. */
typedef struct mu_journal_snap mu_journal_snap_t;
int mu_journal_snap_add (mu_journal_snap_t *s, const void *payload, size_t len);
typedef int (*mu_journal_snap_fn) (void *arg, mu_journal_snap_t *s);

/* Commit what waits, write a snapshot of the caller's state with `fn`
 * (which calls mu_journal_snap_add per record and returns 0), start a new
 * segment and remove the old pair.  0, or fn's error or -errno (then the
 * journal goes on in the old segment and nothing is lost). */
int mu_journal_snapshot (mu_journal_t *j, mu_journal_snap_fn fn, void *arg);

/* Commit what waits and close.  Accepts NULL and a pointer to NULL. */
void mu_journal_close (mu_journal_t **j_p);

#endif
