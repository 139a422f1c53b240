/*
 * ckpt_io.c — the coordinator's blocking checkpoint file work, run on
 * libuv's thread pool so the loop never waits on a disk: the scan for the
 * newest complete checkpoint at job creation (every shard's CRC is
 * checked, so a corrupt newest checkpoint is reported and the previous one
 * used), and the commit (MANIFEST written atomically, then retention).
 *
 * A work item holds what it needs by value or by a pointer that stays
 * valid until its after-callback (the commit machine keeps the manifest
 * of a WRITING attempt unchanged until told it was written).  A job with
 * work in flight is not freed until the work is back (io_inflight).
 *
 * A step directory is prepared only once no removal of one is in flight:
 * an attempt that did not commit has its directory removed, and the next
 * attempt may be of the same step (a new epoch asks for the same
 * multiple of --ckpt-every-steps at once); run side by side on the pool,
 * the removal could come after the mkdir and take the new attempt's
 * directory away.
 *
 * Ownership: directories are made 0700 and the MANIFEST 0600 (checkpoint/).
 * A coordinator running as root makes them for a job whose owner is another
 * user, whose workers must write their shards into them: they are chown'ed
 * to the job's owner (owner_uid 0, a root job or an owner not yet known,
 * changes nothing).  A coordinator that is not root never chowns.
 */
#include "coordinator/ckpt.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include <muster/error.h>

#include "checkpoint/commit.h"
#include "checkpoint/manifest.h"
#include "common/job_defaults.h"
#include "coordinator/ckpt_finished.h"
#include "coordinator/epoch.h"


typedef struct io_item {
  uv_work_t req;
  mu_job_t *job;
  int rc;
  /* scan */
  char job_dir[4096];
  uint64_t step;
  char skips[2048];   /* unusable checkpoints: corrupt, missing shards */
  char partial[1024]; /* never committed: normal after a crash */
  uint64_t created_us; /* the restore point's MANIFEST created_us */
  int resume;          /* spec.resume: a FINISHED marker is removed */
  int finished;        /* 1: the last run of this id had finished */
  uint64_t finished_step, finished_us;
  char moved[4200];    /* where its checkpoints were moved */
  /* commit */
  char step_dir[4096];
  mu_ckpt_manifest_t *manifest;
  size_t keep;
  char err[512];
  char retention[512];
  /* prepare */
  uint64_t epoch;
  uint64_t timeout_ms;
  int now_mode;
  /* who the files and directories made belong to ((uid_t)-1: leave) */
  uid_t uid;
  gid_t gid;
} io_item_t;

/* A new work item for job j, owner ids filled; NULL when out of memory. */
static io_item_t *
new_item (mu_job_t *j)
{
  io_item_t *it = calloc (1, sizeof *it);
  if (it == NULL)
    return NULL;
  it->job = j;
  it->req.data = it;
  it->uid = (uid_t)-1;
  it->gid = (gid_t)-1;
  if (geteuid () == 0 && j->owner_uid != 0)
    {
      it->uid = (uid_t)j->owner_uid;
      it->gid = (gid_t)j->owner_gid;
    }
  return it;
}

static void
on_skip (void *arg, const mu_ckpt_skip_t *s)
{
  io_item_t *it = arg;
  if (s->reason == MU_CKPT_SKIP_PARTIAL)
    {
      size_t used = strlen (it->partial);
      snprintf (it->partial + used, sizeof it->partial - used, "%s%llu",
                used ? ", " : "", (unsigned long long)s->step);
      return;
    }
  size_t used = strlen (it->skips);
  snprintf (it->skips + used, sizeof it->skips - used,
            "%sstep %llu skipped (%s: %s)", used ? "; " : "",
            (unsigned long long)s->step, mu_ckpt_skip_name (s->reason),
            s->detail ? s->detail : "");
}

static void
scan_work (uv_work_t *req)
{
  io_item_t *it = req->data;
  /* A finished run's checkpoints are not quietly continued: moved aside
   * (or, with --resume, its marker removed) before the scan. */
  int f = mu_ckpt_finished_take (it->job_dir, it->resume, &it->finished_step,
                                 &it->finished_us, it->moved,
                                 sizeof it->moved, it->err, sizeof it->err);
  it->finished = f == 1;
  if (f < 0)
    {
      it->rc = f;
      return;
    }
  mu_msg_t m;
  memset (&m, 0, sizeof m);
  it->rc = mu_ckpt_latest (it->job_dir, true, &it->step, &m, on_skip, it);
  if (it->rc == 0 && m.type == MU_MSG_CKPT_MANIFEST)
    it->created_us = m.u.ckpt_manifest.created_us;
  mu_msg_clear (&m);
}

static void
finish_item (io_item_t *it)
{
  mu_job_t *j = it->job;
  j->io_inflight--;
  free (it);
  if (j->coord == NULL && j->timers_open == 0 && j->io_inflight == 0)
    mu_epoch_free_job (j);
}

static void
scan_after (uv_work_t *req, int status)
{
  io_item_t *it = req->data;
  if (it->partial[0] != '\0' && it->job->coord != NULL)
    mu_log_info (it->job->coord->log, "CKPT-PARTIAL",
                 "job %s: uncommitted step(s) %s ignored", it->job->id,
                 it->partial);
  if (it->err[0] != '\0' && it->job->coord != NULL)
    mu_log_err (it->job->coord->log, "CKPT-FINISHED-FAILED", "job %s: %s",
                it->job->id, it->err);
  if (status == 0 && it->finished)
    mu_ckpt_finished_seen (it->job, it->resume, it->finished_step,
                           it->finished_us, it->resume ? NULL : it->moved);
  mu_ckpt_scan_done (it->job, status == 0 ? it->rc : MUSTER_ECANCELED,
                     it->step, it->skips, it->created_us);
  finish_item (it);
}

int
mu_ckpt_io_scan (mu_job_t *j)
{
  io_item_t *it = new_item (j);
  if (it == NULL)
    return -ENOMEM;
  snprintf (it->job_dir, sizeof it->job_dir, "%s", j->ckpt_job_dir);
  it->resume = j->spec->resume;
  int rc = uv_queue_work (j->coord->loop, &it->req, scan_work, scan_after);
  if (rc != 0)
    {
      free (it);
      return rc;
    }
  j->io_inflight++;
  return 0;
}

static void
commit_work (uv_work_t *req)
{
  io_item_t *it = req->data;
  it->rc = mu_manifest_write_as (it->step_dir, it->manifest, it->uid, it->gid,
                                 it->err, sizeof it->err);
  if (it->rc != 0)
    return;
  /* Retention: keep the newest `keep` complete checkpoints; never the one
   * just written, nothing newer than it. */
  mu_ckpt_step_t *steps = NULL;
  size_t n = 0;
  if (mu_ckpt_list (it->job_dir, &steps, &n) != 0)
    return;
  uint64_t *del = calloc (n ? n : 1, sizeof *del);
  size_t ndel = 0;
  uint64_t protect = it->step;
  if (del != NULL
      && mu_ckpt_retention (steps, n, it->keep, &protect, 1, del, &ndel) == 0)
    for (size_t i = 0; i < ndel; i++)
      {
        char dir[4200];
        char name[64];
        mu_ckpt_step_name (del[i], name, sizeof name);
        snprintf (dir, sizeof dir, "%s/%s", it->job_dir, name);
        int rc = mu_ckpt_remove_step (dir);
        size_t used = strlen (it->retention);
        snprintf (it->retention + used, sizeof it->retention - used, "%s%llu%s",
                  used ? ", " : "", (unsigned long long)del[i],
                  rc ? " (failed)" : "");
      }
  free (del);
  free (steps);
}

static void
commit_after (uv_work_t *req, int status)
{
  io_item_t *it = req->data;
  mu_job_t *j = it->job;
  int rc = status == 0 ? it->rc : MUSTER_ECANCELED;
  if (rc != 0 && j->coord != NULL)
    mu_log_err (j->coord->log, "CKPT-MANIFEST-FAILED", "job %s step %llu: %s",
                j->id, (unsigned long long)it->step,
                it->err[0] ? it->err : muster_strerror (rc));
  if (it->retention[0] != '\0' && j->coord != NULL)
    mu_log_info (j->coord->log, "CKPT-RETENTION", "job %s: removed step(s) %s",
                 j->id, it->retention);
  mu_ckpt_commit_io_done (j, rc);
  finish_item (it);
}

int
mu_ckpt_io_commit (mu_job_t *j, mu_ckpt_manifest_t *m, uint64_t step)
{
  io_item_t *it = new_item (j);
  if (it == NULL)
    return -ENOMEM;
  it->manifest = m;
  it->step = step;
  it->keep = mu_job_default_or (j->spec->ckpt_keep, MU_JD_CKPT_KEEP);
  snprintf (it->job_dir, sizeof it->job_dir, "%s", j->ckpt_job_dir);
  mu_ckpt_step_dir (j->spec->ckpt_dir, j->id, step, it->step_dir,
                    sizeof it->step_dir);
  int rc = uv_queue_work (j->coord->loop, &it->req, commit_work, commit_after);
  if (rc != 0)
    {
      free (it);
      return rc;
    }
  j->io_inflight++;
  return 0;
}

static void
prepare_work (uv_work_t *req)
{
  io_item_t *it = req->data;
  it->rc = mu_ckpt_step_prepare_as (it->step_dir, false, it->uid, it->gid,
                                    it->err, sizeof it->err);
}

static void
prepare_after (uv_work_t *req, int status)
{
  io_item_t *it = req->data;
  mu_ckpt_prepared (it->job, it->step, it->epoch, it->now_mode,
                    it->timeout_ms, status == 0 ? it->rc : MUSTER_ECANCELED,
                    it->step_dir, it->err);
  finish_item (it);
}

int
mu_ckpt_io_prepare (mu_job_t *j, uint64_t step, uint64_t epoch, int now_mode,
                    uint64_t timeout_ms)
{
  if (j->ckpt_discards > 0)
    {
      /* Queued when the removals are done (discard_after). */
      j->ckpt_prep_wait = 1;
      j->ckpt_prep_step = step;
      j->ckpt_prep_epoch = epoch;
      j->ckpt_prep_now = now_mode;
      j->ckpt_prep_timeout_ms = timeout_ms;
      return 0;
    }
  io_item_t *it = new_item (j);
  if (it == NULL)
    return -ENOMEM;
  it->step = step;
  it->epoch = epoch;
  it->now_mode = now_mode;
  it->timeout_ms = timeout_ms;
  int rc = mu_ckpt_step_dir (j->spec->ckpt_dir, j->id, step, it->step_dir,
                             sizeof it->step_dir);
  if (rc == 0)
    rc = uv_queue_work (j->coord->loop, &it->req, prepare_work, prepare_after);
  if (rc != 0)
    {
      free (it);
      return rc;
    }
  j->io_inflight++;
  return 0;
}

static void
discard_work (uv_work_t *req)
{
  io_item_t *it = req->data;
  /* Never a committed step: an abort can also come from a step found
   * already saved (MUSTER_EEXIST from prepare). */
  char manifest[4200];
  snprintf (manifest, sizeof manifest, "%s/" MU_CKPT_MANIFEST_FILE,
            it->step_dir);
  if (access (manifest, F_OK) == 0)
    return;
  it->rc = mu_ckpt_remove_step (it->step_dir);
  if (it->rc == -ENOENT)
    it->rc = 0; /* never made (prepare failed), or already gone */
}

static void
discard_after (uv_work_t *req, int status)
{
  io_item_t *it = req->data;
  mu_job_t *j = it->job;
  if (status == 0 && it->rc != 0 && j->coord != NULL)
    mu_log_info (j->coord->log, "CKPT-DISCARD-FAILED",
                 "job %s: cannot remove %s: %s (retention removes it after "
                 "the next commit)",
                 j->id, it->step_dir, muster_strerror (it->rc));
  j->ckpt_discards--;
  if (j->ckpt_discards == 0 && j->ckpt_prep_wait && j->coord != NULL)
    {
      j->ckpt_prep_wait = 0;
      int rc = mu_ckpt_io_prepare (j, j->ckpt_prep_step, j->ckpt_prep_epoch,
                                   j->ckpt_prep_now, j->ckpt_prep_timeout_ms);
      if (rc != 0)
        {
          char dir[4096];
          mu_ckpt_step_dir (j->spec->ckpt_dir, j->id, j->ckpt_prep_step, dir,
                            sizeof dir);
          mu_ckpt_prepared (j, j->ckpt_prep_step, j->ckpt_prep_epoch,
                            j->ckpt_prep_now, j->ckpt_prep_timeout_ms, rc, dir,
                            "");
        }
    }
  finish_item (it);
}

int
mu_ckpt_io_discard (mu_job_t *j, uint64_t step)
{
  io_item_t *it = new_item (j);
  if (it == NULL)
    return -ENOMEM;
  it->step = step;
  int rc = mu_ckpt_step_dir (j->spec->ckpt_dir, j->id, step, it->step_dir,
                             sizeof it->step_dir);
  if (rc == 0)
    rc = uv_queue_work (j->coord->loop, &it->req, discard_work, discard_after);
  if (rc != 0)
    {
      free (it);
      return rc;
    }
  j->io_inflight++;
  j->ckpt_discards++;
  return 0;
}
