/*
 * journal_hooks.c — the coordinator's end of the journal (journal.h):
 * opening and replaying at start, one record per job transition, and
 * compaction (a snapshot of the live job table, then a new segment).
 *
 * Every record is built from the job as it is after the transition, as a
 * journal_image.h view with borrowed pointers: the hooks copy nothing and
 * decide nothing.  Compaction writes the same views as "image" records, so
 * a replay of snapshot + later records gives the image the live table
 * gives; the replay equality scenario checks exactly that.
 */
#include "coordinator/journal.h"
#include "coordinator/standby.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <muster/error.h>

#include "common/journal.h"
#include "common/util.h"

/* -------------------------------------------------------------- views */

void
mu_jhooks_view (const mu_job_t *j, mu_jjob_t *v)
{
  memset (v, 0, sizeof *v);
  v->spec = j->spec;
  v->uid = j->owner_uid;
  v->gid = j->owner_gid;
  v->owner = j->owner;
  v->submitted = j->submitted;
  mu_strlcpy (v->state, mu_job_state_name (j->state), sizeof v->state);
  if (j->state == MU_JOB_STOPPING)
    mu_strlcpy (v->final, mu_job_state_name (j->final_state), sizeof v->final);
  v->reason = j->reason;
  v->epoch = j->epoch;
  v->world = j->world;
  v->restarts = j->restarts;
  v->user_failures = j->user_failures;
  v->infra_failures = j->infra_failures;
  v->epoch_reason = j->epoch_reason;
  v->ok_exits = j->ok_exits;
  v->ckpt_dir = j->restore_dir;
  v->ckpt_step = j->restore_dir ? j->restore_step : 0;
  v->ckpt_created_us = j->restore_dir ? j->restore_created_us : 0;
  int finished = j->state >= MU_JOB_SUCCEEDED;
  v->exit_code = finished ? j->final_exit_code : -1;
  v->finish_order = finished;
  if (finished && j->failure.set)
    {
      v->failure.set = 1;
      v->failure.rank = j->failure.rank;
      v->failure.node = j->failure.node_id;
      v->failure.exit_code = j->failure.exit_code;
      v->failure.signal = j->failure.signal;
      v->failure.reason = j->failure.reason;
    }
  if (j->state != MU_JOB_RUNNING || j->coord == NULL)
    return;
  size_t n = 0;
  const mu_rdzv_member_t *mem = mu_rdzv_members (j->rdzv, &n);
  v->members = calloc (n ? n : 1, sizeof *v->members);
  if (v->members == NULL)
    return;
  for (size_t i = 0; i < n; i++)
    {
      mu_node_t *node = mu_coord_node (j->coord, mem[i].key);
      if (node == NULL || node->job != j)
        continue;
      mu_jmember_t *m = &v->members[v->nmembers++];
      m->node = node->node_id;
      m->pub = node->pub;
      m->host = node->host;
      m->port_base = node->port_base;
      m->role = mem[i].role;
      m->node_rank = mem[i].node_rank;
      m->first_rank = mem[i].first_rank;
      m->role_first_rank = mem[i].role_first_rank;
      m->nproc = mem[i].nproc;
      uint32_t live = node->live_epoch == j->epoch ? node->live : 0;
      m->exited = live <= m->nproc ? m->nproc - live : 0;
    }
}

/* --------------------------------------------------------- compaction */

static int
snap_live (void *arg, mu_journal_snap_t *s)
{
  mu_coord_t *c = arg;
  size_t pos = 0;
  void *val;
  int rc = 0;
  while (rc == 0 && mu_smap_next (c->jobs, &pos, NULL, &val))
    {
      mu_job_t *j = val;
      mu_jjob_t v;
      mu_jhooks_view (j, &v);
      char *buf;
      size_t len;
      rc = mu_jrec_image (j->id, &v, &buf, &len);
      free (v.members);
      if (rc == 0)
        {
          rc = mu_journal_snap_add (s, buf, len);
          free (buf);
        }
    }
  return rc;
}

static void
compact (mu_coord_t *c)
{
  mu_jctx_t *x = c->journal;
  x->compacting = 1;
  uint64_t t0 = mu_now_us ();
  uint64_t records = mu_journal_segment_records (x->j);
  int rc = mu_journal_snapshot (x->j, snap_live, c);
  x->compacting = 0;
  if (rc != 0)
    mu_log_err (c->log, "JOURNAL-COMPACT", "snapshot failed: %s",
                muster_strerror (rc));
  else
    mu_repl_resync (c); /* a standby follows the new segment (standby.h) */
  if (rc == 0)
    mu_log_info (c->log, "JOURNAL-COMPACT",
                 "%zu job(s) snapshotted, %llu record(s) compacted in %.1f ms",
                 mu_smap_size (c->jobs), (unsigned long long)records,
                 (double)(mu_now_us () - t0) / 1000.0);
}

void
mu_jhooks_compact (mu_coord_t *c)
{
  if (c->journal != NULL && c->journal->j != NULL && !c->journal->compacting)
    compact (c);
}

/* ----------------------------------------------------------- appending */

static void
append (mu_coord_t *c, int rc, char *buf, size_t len, const char *kind,
        const char *id)
{
  mu_jctx_t *x = c->journal;
  /* The journal is opened in group mode; a record is synced at once unless
   * musterd runs group commit, or a burst fills this loop turn (the
   * check handle syncs the rest at its end). */
  if (rc == 0)
    rc = mu_journal_append (x->j, buf, len, NULL);
  if (rc == 0)
    mu_repl_record (c, buf, len); /* to a standby (standby.h) */
  if (rc == 0 && !c->opts.journal_group_commit
      && ++x->turn_records <= MU_JOURNAL_SYNC_BURST)
    rc = mu_journal_commit (x->j);
  free (buf);
  if (rc != 0)
    {
      if (!x->failed_logged)
        mu_log_err (c->log, "JOURNAL-WRITE",
                    "job %s: cannot journal %s: %s; a restart of musterd "
                    "would lose this",
                    id, kind, muster_strerror (rc));
      x->failed_logged = 1;
      return;
    }
  if (x->failed_logged)
    {
      mu_log_notice (c->log, "JOURNAL-WRITE", "journal writes work again");
      x->failed_logged = 0;
      compact (c); /* what was lost meanwhile is in the snapshot */
      return;
    }
  if (!x->compacting
      && (mu_journal_segment_records (x->j) >= MU_JOURNAL_COMPACT_RECORDS
          || mu_journal_segment_bytes (x->j) >= MU_JOURNAL_COMPACT_BYTES))
    compact (c);
}

static mu_coord_t *
journaled (const mu_job_t *j)
{
  return j != NULL && j->coord != NULL && j->coord->journal != NULL
                 && j->coord->journal->j != NULL /* closed at stop */
             ? j->coord
             : NULL;
}

void
mu_jhook_created (mu_job_t *j)
{
  mu_coord_t *c = journaled (j);
  if (c == NULL)
    return;
  mu_jjob_t v;
  mu_jhooks_view (j, &v);
  char *buf = NULL;
  size_t len = 0;
  int rc = mu_jrec_created (j->id, &v, &buf, &len);
  free (v.members);
  append (c, rc, buf, len, "created", j->id);
}

void
mu_jhook_state (mu_job_t *j)
{
  mu_coord_t *c = journaled (j);
  if (c == NULL)
    return;
  char *buf = NULL;
  size_t len = 0;
  int rc = mu_jrec_state (
      j->id, mu_job_state_name (j->state),
      j->state == MU_JOB_STOPPING ? mu_job_state_name (j->final_state) : NULL,
      j->reason, &buf, &len);
  append (c, rc, buf, len, "state", j->id);
}

/* The records that carry the job's whole view (recover, epoch, finished). */
typedef int (*view_record_fn) (const char *id, const mu_jjob_t *v, char **buf,
                               size_t *len);

static void
append_view (mu_job_t *j, view_record_fn encode, const char *what)
{
  mu_coord_t *c = journaled (j);
  if (c == NULL)
    return;
  mu_jjob_t v;
  mu_jhooks_view (j, &v);
  char *buf = NULL;
  size_t len = 0;
  int rc = encode (j->id, &v, &buf, &len);
  free (v.members);
  append (c, rc, buf, len, what, j->id);
}

/* schedwire: the job's whole view again (a scale changed its spec, the
 * scheduler's tenant or reason): replayed like a snapshot's image. */
void
mu_jhook_image (mu_job_t *j)
{
  append_view (j, mu_jrec_image, "image");
}

void
mu_jhook_recover (mu_job_t *j)
{
  append_view (j, mu_jrec_recover, "recover");
}

void
mu_jhook_epoch (mu_job_t *j)
{
  append_view (j, mu_jrec_epoch, "epoch");
}

void
mu_jhook_exit (mu_job_t *j, mu_node_t *n, uint64_t rank, int ok)
{
  mu_coord_t *c = journaled (j);
  if (c == NULL)
    return;
  char *buf = NULL;
  size_t len = 0;
  int rc = mu_jrec_exit (j->id, n->node_id, rank, ok, &buf, &len);
  append (c, rc, buf, len, "exit", j->id);
}

void
mu_jhook_ckpt (mu_job_t *j)
{
  mu_coord_t *c = journaled (j);
  if (c == NULL || j->restore_dir == NULL)
    return;
  char *buf = NULL;
  size_t len = 0;
  int rc = mu_jrec_ckpt (j->id, j->restore_step, j->restore_dir,
                         j->restore_created_us, &buf, &len);
  append (c, rc, buf, len, "ckpt", j->id);
}

void
mu_jhook_finished (mu_job_t *j)
{
  append_view (j, mu_jrec_finished, "finished");
}

void
mu_jhook_retired (mu_job_t *j)
{
  /* Called while the job is still attached (before j->coord is cleared). */
  mu_coord_t *c = journaled (j);
  if (c == NULL)
    return;
  char *buf = NULL;
  size_t len = 0;
  int rc = mu_jrec_retired (j->id, &buf, &len);
  append (c, rc, buf, len, "retired", j->id);
}

/* -------------------------------------------------------- start, stop */

typedef struct replay
{
  mu_jimage_t img;
  char err[512];
} replay_t;

static int
on_record (void *arg, mu_journal_src_t src, const void *p, size_t len)
{
  (void)src;
  replay_t *r = arg;
  return mu_jimage_apply (&r->img, p, len, r->err, sizeof r->err);
}

static int
snap_image (void *arg, mu_journal_snap_t *s)
{
  mu_jimage_t *img = arg;
  size_t pos = 0;
  const char *id;
  void *val;
  int rc = 0;
  while (rc == 0 && mu_smap_next (img->jobs, &pos, &id, &val))
    {
      char *buf;
      size_t len;
      rc = mu_jrec_image (id, val, &buf, &len);
      if (rc == 0)
        {
          rc = mu_journal_snap_add (s, buf, len);
          free (buf);
        }
    }
  return rc;
}

/* Group commit: every record written during one loop iteration is synced
 * by one fdatasync at its end, before the loop waits again. */
static void
on_commit_check (uv_check_t *h)
{
  mu_coord_t *c = h->data;
  mu_jctx_t *x = c->journal;
  if (x != NULL)
    x->turn_records = 0;
  if (x == NULL || x->j == NULL || mu_journal_pending (x->j) == 0)
    return;
  int rc = mu_journal_commit (x->j);
  if (rc != 0 && !x->failed_logged)
    {
      mu_log_err (c->log, "JOURNAL-WRITE",
                  "group commit: %s; a restart of "
                  "musterd would lose the last records",
                  muster_strerror (rc));
      x->failed_logged = 1;
    }
}

static void
journal_dir (const char *state_dir, char *buf, size_t cap)
{
  snprintf (buf, cap, "%s/journal", state_dir);
}

int
mu_jhooks_open (mu_coord_t *c)
{
  if (c->opts.state_dir == NULL || c->opts.state_dir[0] == '\0')
    return 0;
  mu_jctx_t *x = calloc (1, sizeof *x);
  replay_t *r = calloc (1, sizeof *r);
  if (x == NULL || r == NULL || mu_jimage_init (&r->img) != 0)
    {
      free (x);
      free (r);
      return -ENOMEM;
    }
  char dir[4096];
  journal_dir (c->opts.state_dir, dir, sizeof dir);
  mu_journal_opts_t o = { .dir = dir,
                          .group_commit = 1, /* synced by append() */
                          .group_max = 4096,
                          .log = c->log };
  uint64_t t0 = mu_now_us ();
  mu_journal_info_t *info = &x->info;
  char err[1024] = "";
  int rc = mu_journal_open (&o, on_record, r, &x->j, info, err, sizeof err);
  if (rc != 0)
    {
      mu_log_err (c->log, "JOURNAL-OPEN", "%s: %s", dir,
                  r->err[0] ? r->err
                  : err[0]  ? err
                            : muster_strerror (rc));
      mu_jimage_free (&r->img);
      free (r);
      free (x);
      return rc;
    }
  x->replay_us = mu_now_us () - t0;
  /* Compact at once: the snapshot is exactly the replayed image, and a
   * long journal is replayed once, not at every start. */
  if (info->snapshot_records + info->segment_records > 0)
    {
      rc = mu_journal_snapshot (x->j, snap_image, &r->img);
      if (rc != 0)
        mu_log_err (c->log, "JOURNAL-COMPACT", "snapshot failed: %s",
                    muster_strerror (rc));
    }
  x->replay = r;
  x->open_us = mu_now_us () - t0;
  c->journal = x;
  return 0;
}

int
mu_jhooks_start (mu_coord_t *c)
{
  mu_jctx_t *x = c->journal;
  if (x == NULL || x->replay == NULL)
    return 0;
  uint64_t t0 = mu_now_us ();
  replay_t *r = x->replay;
  x->replay = NULL;
  size_t njobs = mu_smap_size (r->img.jobs);
  x->timer_open = 1;
  uv_timer_init (c->loop, &x->restore_timer);
  x->restore_timer.data = c;
  uv_check_init (c->loop, &x->commit_check);
  x->commit_check.data = c;
  uv_check_start (&x->commit_check, on_commit_check);
  x->check_open = 1;
  int rc = mu_jrestore_jobs (c, &r->img);
  mu_jimage_free (&r->img);
  free (r);
  if (rc != 0)
    mu_log_err (c->log, "JOURNAL-RESTORE",
                "restoring the job table: %s; "
                "serving with what was restored",
                muster_strerror (rc));
  const mu_journal_info_t *info = &x->info;
  char dir[4096];
  journal_dir (c->opts.state_dir, dir, sizeof dir);
  if (info->snapshot_records + info->segment_records > 0)
    mu_log_notice (c->log, "JOURNAL-REPLAY",
                   "%s: %llu snapshot + %llu journal record(s), %zu job(s) "
                   "restored in %.1f ms (replay %.1f ms)%s%s",
                   dir, (unsigned long long)info->snapshot_records,
                   (unsigned long long)info->segment_records, njobs,
                   (double)(x->open_us + mu_now_us () - t0) / 1000.0,
                   (double)x->replay_us / 1000.0,
                   info->dropped_bytes ? "; a damaged tail was dropped: " : "",
                   info->why);
  return 0;
}

void
mu_jhooks_stop (mu_coord_t *c)
{
  mu_jctx_t *x = c->journal;
  if (x == NULL || x->j == NULL)
    return;
  compact (c);
  mu_journal_close (&x->j);
  mu_jrestore_close (c);
}

static void
on_ctx_timer_closed (uv_handle_t *h)
{
  (void)h;
}

void
mu_jhooks_destroy (mu_coord_t *c)
{
  mu_jctx_t *x = c->journal;
  if (x == NULL)
    return;
  if (x->replay != NULL)
    {
      /* Opened, never started (mu_coord_start failed in between). */
      mu_jimage_free (&x->replay->img);
      free (x->replay);
    }
  mu_journal_close (&x->j);
  free (x);
  c->journal = NULL;
}

/* The restore timer is closed with the coordinator's handles. */
void
mu_jrestore_close (mu_coord_t *c)
{
  mu_jctx_t *x = c->journal;
  if (x != NULL && x->timer_open
      && !uv_is_closing ((uv_handle_t *)&x->restore_timer))
    {
      x->timer_open = 0;
      uv_close ((uv_handle_t *)&x->restore_timer, on_ctx_timer_closed);
    }
  if (x != NULL && x->check_open)
    {
      x->check_open = 0;
      uv_close ((uv_handle_t *)&x->commit_check, on_ctx_timer_closed);
    }
}

/* ------------------------------------------------------------ dumping */

int
mu_journal_dump_state (const char *state_dir, FILE *out, char *err,
                       size_t errlen)
{
  char dir[4096];
  journal_dir (state_dir, dir, sizeof dir);
  mu_log_t log;
  mu_log_init (&log, "musterd");
  mu_journal_opts_t o = { .dir = dir, .read_only = 1, .log = &log };
  replay_t r;
  memset (&r, 0, sizeof r);
  int rc = mu_jimage_init (&r.img);
  mu_journal_t *j = NULL;
  if (rc == 0)
    rc = mu_journal_open (&o, on_record, &r, &j, NULL, err, errlen);
  if (rc != 0 && r.err[0] != '\0')
    snprintf (err, errlen, "%s: %s", dir, r.err);
  if (rc == 0)
    mu_jimage_dump (&r.img, out);
  mu_journal_close (&j);
  mu_jimage_free (&r.img);
  return rc;
}
