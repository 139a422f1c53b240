/*
 * journal.h — musterd's durable job state: the hooks that journal a job's
 * transitions where they happen, the replay that restores the job table
 * when musterd starts on a state directory, and compaction.
 *
 * A coordinator with a state directory keeps its journal in
 * STATE_DIR/journal (common/journal.h for the file format,
 * coordinator/journal_image.h for the records).  Each hook is one call at
 * the place the transition happens (jobs.c, epoch.c, ckpt.c), does nothing
 * for a coordinator without a journal, and logs (never returns) a failed
 * write: a job must not fail because its journal could not be written,
 * but the operator must hear that a restart would lose it.
 *
 * Restore (journal_restore.c): finished and suspended jobs come back as
 * they ended (status and history); jobs between epochs open their next
 * round in the epoch after the journaled one; a running job comes back in
 * its epoch with its membership (node id -> rank range, world) held by
 * placeholder nodes.  An agent that registers again under a member's node
 * id and key takes its placeholder back and its workers carry on: no new
 * epoch, no restart.  Members not back within MU_JRESTORE_WINDOW_MS are
 * lost as an ordinary infrastructure failure.
 */
#ifndef MU_COORD_JOURNAL_H
#define MU_COORD_JOURNAL_H

#include <stdio.h>

#include "coordinator/coord.h"
#include "common/journal.h"
#include "common/job_defaults.h"
#include "coordinator/journal_image.h"

/* The window's default is the outage window's (common/job_defaults.h). */
#define MU_JRESTORE_WINDOW_MS (mu_job_default (MU_JD_OUTAGE_MS)->value)
/* Compact (snapshot + new segment) past this many records or bytes. */
#define MU_JOURNAL_COMPACT_RECORDS 20000u
#define MU_JOURNAL_COMPACT_BYTES (8u << 20)
/* --journal-sync record: records past this many in one loop turn (a
 * burst: a large epoch's exits, a flood of submissions) are synced
 * together at the end of the turn instead of one by one. */
#define MU_JOURNAL_SYNC_BURST 8

/* The coordinator's journal state (c->journal; NULL = no journal). */
typedef struct mu_jctx
{
  struct mu_journal *j;
  int failed_logged; /* one JOURNAL-WRITE error per outage, not per record */
  int compacting;
  uv_timer_t restore_timer; /* MU_JRESTORE_WINDOW_MS after restore */
  int timer_open;
  uv_check_t commit_check; /* commits what waits, once per loop turn */
  int check_open;
  size_t turn_records;    /* appended in this loop turn */
  size_t awaiting;        /* placeholders not back yet */
  struct replay *replay;  /* the replayed image, from open to start */
  mu_journal_info_t info; /* what opening found */
  uint64_t replay_us, open_us;
} mu_jctx_t;

/* Open STATE_DIR/journal, replay it into an image and compact (called
 * first by mu_coord_start: a journal that cannot be read stops musterd
 * before anything else is set up).  0 when there is no state directory;
 * otherwise 0 or a code, after a JOURNAL-OPEN line naming the problem. */
int mu_jhooks_open (mu_coord_t *c);
/* Restore the job table from that image (mu_coord_start, once its
 * sockets are bound, before any message is read).  0. */
int mu_jhooks_start (mu_coord_t *c);
/* Compact now (a standby asked for a sync, standby.h). */
void mu_jhooks_compact (mu_coord_t *c);
/* Clean stop: snapshot the live table and close. */
void mu_jhooks_stop (mu_coord_t *c);
void mu_jhooks_destroy (mu_coord_t *c);

/* Transitions (no-ops without a journal or for a detached job). */
void mu_jhook_created (mu_job_t *j);
void mu_jhook_state (mu_job_t *j);
void mu_jhook_recover (mu_job_t *j);
void mu_jhook_epoch (mu_job_t *j);
void mu_jhook_exit (mu_job_t *j, mu_node_t *n, uint64_t rank, int ok);
void mu_jhook_ckpt (mu_job_t *j);
void mu_jhook_finished (mu_job_t *j);
void mu_jhook_retired (mu_job_t *j);
/* schedwire: an image record of the job (its spec after a scale, the
 * scheduler's word on it): replay replaces the job's entry with it. */
void mu_jhook_image (mu_job_t *j);

/* The image of a live job (borrowed pointers; free members_out's array
 * with free()).  Used for snapshots and for the live side of the replay
 * equality check. */
void mu_jhooks_view (const mu_job_t *j, mu_jjob_t *v);

/* journal_restore.c */
int mu_jrestore_jobs (mu_coord_t *c, const mu_jimage_t *img);
/* A placeholder's agent is back (nodes.c). */
void mu_jrestore_node_back (mu_coord_t *c, mu_node_t *n);
void mu_jrestore_close (mu_coord_t *c);

/* musterd --dump-state: replay STATE_DIR/journal read-only and print the
 * image (journal_image.h) to `out`.  0 or a code with `err`. */
int mu_journal_dump_state (const char *state_dir, FILE *out, char *err,
                           size_t errlen);

#endif
