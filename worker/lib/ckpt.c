/*
 * ckpt.c — checkpoints and restores in libmuster (see <muster/worker.h>).
 *
 * The actor thread receives ckpt.request and ckpt.done and keeps the one
 * pending request here, under ck->mu; the program's thread asks whether a
 * save is due (its last reported step is the requested one), and saves.
 * A synchronous save writes the shard on the caller's thread
 * (checkpoint/shard.c: tmp file, fsync, rename, fsync dir); an
 * asynchronous one copies the bytes into a buffer owned by an async writer
 * thread (checkpoint/async_writer.c) and returns.  Either way the result
 * goes to the agent as ckpt.saved through the actor: any thread hands the
 * encoded message over with MU_CMD_SEND.
 *
 * Step agreement: a worker that has already reported a step beyond the
 * requested one can no longer save that state; it answers MUSTER_EPASSED
 * at once and the coordinator retries with a later step.
 *
 * Restore reads MUSTER_RESTORE_DIR (set by the agent when the job has a
 * complete checkpoint), the MANIFEST there, and picks this worker's shard;
 * the shard's CRC-32C is checked before its path is handed out.
 */
#include "worker/lib/worker_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checkpoint/async_writer.h"
#include "checkpoint/buckets.h"
#include "checkpoint/manifest.h"
#include "checkpoint/shard.h"
#include "common/util.h"

struct mu_wckpt {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  muster_ckpt_fn fn;
  void *arg;
  int pending;           /* a request waits for this worker's shard */
  uint64_t step, epoch, deadline_ms;
  int now;
  char dir[4096];
  char reason[32];
  mu_async_writer_t *writer; /* created on the first async save */
  int inflight;              /* async saves not yet reported */
  uint64_t copy_ticket;      /* MUSTER_CKPT_OVERLAP copy to wait for */
  int copy_pending;
  int last_status;
  /* The outcome of the newest attempt this worker was asked to save
   * (muster_worker_ckpt_outcome): its own failed write, or ckpt.done. */
  int out_new;               /* not yet handed to the program */
  uint64_t out_step;
  int out_status;
  char out_reason[1024];
  int out_local;             /* out_* is this worker's own failure */
  char out_given[1024];      /* the reason handed out (program's thread) */
  /* The request in ck->step was aborted before this worker saved. */
  int aborted;
  int aborted_status;
  /* restore */
  mu_msg_t manifest;         /* of MUSTER_RESTORE_DIR, once read */
  char restore_dir[4096];
  char restore_path[4400];
};

typedef struct save_ctx {
  muster_worker_t *w;
  uint64_t step, epoch;
  mu_shard_info_t who; /* role, role_rank, rank, buckets (file from writer) */
  char role[64];
  char path[4200];     /* the shard's final path, for error reports */
} save_ctx_t;

int
mu_wckpt_new (mu_wckpt_t **out)
{
  mu_wckpt_t *ck = calloc (1, sizeof *ck);
  if (ck == NULL)
    return -ENOMEM;
  if (pthread_mutex_init (&ck->mu, NULL) != 0)
    {
      free (ck);
      return -ENOMEM;
    }
  if (pthread_cond_init (&ck->cv, NULL) != 0)
    {
      pthread_mutex_destroy (&ck->mu);
      free (ck);
      return -ENOMEM;
    }
  *out = ck;
  return 0;
}

void
mu_wckpt_stop_writer (mu_wckpt_t *ck)
{
  if (ck == NULL)
    return;
  /* Finishes queued shards; their reports still reach the agent because
   * the actor is still running.  (The writer pointer is only set and used
   * by the program's thread, which is the one finalizing.) */
  mu_async_writer_destroy (&ck->writer);
}

void
mu_wckpt_destroy (mu_wckpt_t **ck_p)
{
  if (ck_p == NULL || *ck_p == NULL)
    return;
  mu_wckpt_t *ck = *ck_p;
  mu_async_writer_destroy (&ck->writer);
  mu_msg_clear (&ck->manifest);
  pthread_cond_destroy (&ck->cv);
  pthread_mutex_destroy (&ck->mu);
  free (ck);
  *ck_p = NULL;
}

/* Hand an encoded message to the actor, which owns the socket. */
static int
send_msg (muster_worker_t *w, const mu_msg_t *m)
{
  mu_blob_t *b = calloc (1, sizeof *b);
  if (b == NULL)
    return -ENOMEM;
  int rc = mu_msg_encode (m, &b->buf, &b->len);
  if (rc != 0)
    {
      free (b);
      return rc;
    }
  mu_cmd_t cmd = { .op = MU_CMD_SEND, .blob = b };
  rc = mu_worker_send_cmd (w, &cmd, 0);
  if (rc != 0)
    {
      free (b->buf);
      free (b);
    }
  return rc;
}

static void
send_saved (muster_worker_t *w, uint64_t step, uint64_t epoch, int status,
            mu_shard_info_t *shard, const char *error)
{
  mu_info_t *info = mu_worker_info (w);
  mu_msg_t m;
  memset (&m, 0, sizeof m);
  m.type = MU_MSG_CKPT_SAVED;
  m.u.ckpt_saved.job = info->job;
  m.u.ckpt_saved.epoch = epoch;
  m.u.ckpt_saved.step = step;
  m.u.ckpt_saved.rank = (uint64_t)info->rank;
  m.u.ckpt_saved.status = status;
  m.u.ckpt_saved.at_step = atomic_load (&w->progress_step);
  m.u.ckpt_saved.shard = status == 0 ? shard : NULL;
  m.u.ckpt_saved.error = status < 0 ? (char *)error : NULL;
  send_msg (w, &m);
}

/* ------------------------------------------------------- actor side */

void
mu_wckpt_on_request (muster_worker_t *w, const mu_ckpt_request_t *rq)
{
  mu_wckpt_t *ck = w->ck;
  mu_info_t *info = mu_worker_info (w);
  if (info == NULL || strcmp (rq->job, info->job) != 0
      || rq->epoch != info->epoch)
    return;
  uint64_t done = atomic_load (&w->progress_step);
  int reported = atomic_load (&w->progress_any);
  /* "Save now" is only for programs that report no steps: one that does
   * must save at an agreed step, so it answers with where it is and the
   * coordinator asks again for a step ahead of it. */
  if ((!rq->now && reported && done > rq->step) || (rq->now && reported))
    {
      send_saved (w, rq->step, rq->epoch, MUSTER_EPASSED, NULL, NULL);
      return;
    }
  pthread_mutex_lock (&ck->mu);
  ck->pending = 1;
  ck->aborted = 0;
  ck->step = rq->step;
  ck->epoch = rq->epoch;
  ck->now = rq->now;
  ck->deadline_ms = rq->deadline_ms;
  snprintf (ck->dir, sizeof ck->dir, "%s", rq->dir);
  snprintf (ck->reason, sizeof ck->reason, "%s", rq->reason ? rq->reason : "");
  muster_ckpt_fn fn = ck->fn;
  void *arg = ck->arg;
  muster_ckpt_request_t pub = { .step = ck->step, .now = ck->now,
                                .deadline_ms = ck->deadline_ms,
                                .reason = ck->reason };
  if (fn != NULL)
    fn (w, &pub, arg);
  pthread_mutex_unlock (&ck->mu);
}

/* Record an outcome for muster_worker_ckpt_outcome (ck->mu held).  A
 * ckpt.done abort of a step whose failure this worker already recorded
 * itself adds nothing: the program hears of one failure once. */
static void
set_outcome (mu_wckpt_t *ck, uint64_t step, int status, const char *reason,
             int local)
{
  if (!local && status < 0 && ck->out_local && ck->out_step == step)
    return;
  ck->out_new = 1;
  ck->out_step = step;
  ck->out_status = status;
  ck->out_local = local;
  mu_strlcpy (ck->out_reason, reason ? reason : "", sizeof ck->out_reason);
}

void
mu_wckpt_on_done (muster_worker_t *w, const mu_ckpt_done_t *d)
{
  mu_wckpt_t *ck = w->ck;
  pthread_mutex_lock (&ck->mu);
  if (ck->pending && ck->step == d->step)
    {
      ck->pending = 0; /* aborted before this worker saved */
      ck->aborted = d->status < 0;
      ck->aborted_status = (int)d->status;
    }
  /* Outcomes of attempts this worker was asked for; an abort that is
   * retried at another step (a worker passed it) or dropped is no news. */
  if (ck->step == d->step && (d->status == 0 || d->failed))
    set_outcome (ck, d->step, (int)d->status,
                 d->status == 0 ? ""
                 : d->reason    ? d->reason
                                : muster_strerror ((int)d->status),
                 0);
  pthread_mutex_unlock (&ck->mu);
}

/* ----------------------------------------------------- program side */

int
muster_worker_on_ckpt (muster_worker_t *w, muster_ckpt_fn fn, void *arg)
{
  if (w == NULL)
    return MUSTER_EINVAL;
  pthread_mutex_lock (&w->ck->mu);
  w->ck->fn = fn;
  w->ck->arg = arg;
  pthread_mutex_unlock (&w->ck->mu);
  return 0;
}

int
muster_worker_ckpt_due (muster_worker_t *w, muster_ckpt_request_t *out)
{
  if (w == NULL || out == NULL)
    return MUSTER_EINVAL;
  mu_wckpt_t *ck = w->ck;
  uint64_t done = atomic_load (&w->progress_step);
  pthread_mutex_lock (&ck->mu);
  int due = 0;
  if (ck->pending && !ck->now && done > ck->step)
    {
      /* Went past it without saving: say so, the coordinator retries. */
      ck->pending = 0;
      uint64_t step = ck->step, epoch = ck->epoch;
      pthread_mutex_unlock (&ck->mu);
      send_saved (w, step, epoch, MUSTER_EPASSED, NULL, NULL);
      return 0;
    }
  if (ck->pending && (ck->now || done == ck->step))
    {
      out->step = ck->step;
      out->now = ck->now;
      out->deadline_ms = ck->deadline_ms;
      out->reason = ck->reason;
      due = 1;
    }
  pthread_mutex_unlock (&ck->mu);
  return due;
}

/* This worker's shard record (without file, size, crc). */
static void
describe (muster_worker_t *w, save_ctx_t *c)
{
  mu_info_t *info = mu_worker_info (w);
  snprintf (c->role, sizeof c->role, "%s", info->role);
  c->who.role = c->role;
  c->who.rank = (uint64_t)info->rank;
  c->who.role_rank = (uint64_t)info->role_rank;
  const char *nb = getenv ("MUSTER_NBUCKETS");
  uint64_t nbuckets = 0, first = 0, count = 0;
  if (nb != NULL && strcmp (info->role, "ps") == 0
      && mu_parse_u64 (nb, &nbuckets) == 0 && nbuckets > 0
      && mu_buckets_owned (nbuckets, (uint64_t)info->role_world,
                           (uint64_t)info->role_rank, &first, &count)
             == 0)
    {
      c->who.bucket_first = first;
      c->who.bucket_count = count;
    }
}

static void
shard_name (muster_worker_t *w, char *buf, size_t size)
{
  snprintf (buf, size, "rank-%06d.shard", mu_worker_info (w)->rank);
}

/* Take the due request for saving; 0, the status of an abort that came
 * before the save (once), MUSTER_ECANCELED when the pending attempt is for
 * a step the program has not reached (its state is of another step),
 * MUSTER_EPASSED when it is past it, or MUSTER_ENOTFOUND. */
static int
claim (muster_worker_t *w, save_ctx_t *c, char *dir, size_t dirlen,
       const char *file)
{
  mu_wckpt_t *ck = w->ck;
  uint64_t done = atomic_load (&w->progress_step);
  int reported = atomic_load (&w->progress_any);
  pthread_mutex_lock (&ck->mu);
  int ok = ck->pending;
  int rc = MUSTER_ENOTFOUND;
  if (ok && !ck->now && reported && done != ck->step)
    {
      /* The attempt this save was due for was replaced, while the program
       * prepared its state, by one at another step: saving now would file
       * the state of step `done` as step ck->step (a checkpoint whose
       * shards are of different steps).  Ahead of the program, the attempt
       * stays pending for when it gets there; behind it, it is passed. */
      uint64_t step = ck->step, epoch = ck->epoch;
      if (done > step)
        {
          ck->pending = 0;
          pthread_mutex_unlock (&ck->mu);
          send_saved (w, step, epoch, MUSTER_EPASSED, NULL, NULL);
          return MUSTER_EPASSED;
        }
      pthread_mutex_unlock (&ck->mu);
      return MUSTER_ECANCELED;
    }
  if (ok)
    {
      c->step = ck->step;
      c->epoch = ck->epoch;
      snprintf (dir, dirlen, "%s", ck->dir);
      ck->pending = 0;
    }
  else if (ck->aborted)
    {
      /* ckpt_due said 1, then the attempt was aborted (another rank
       * failed, the deadline passed): that, not "nothing due". */
      rc = ck->aborted_status;
      ck->aborted = 0;
    }
  pthread_mutex_unlock (&ck->mu);
  if (!ok)
    return rc;
  c->w = w;
  snprintf (c->path, sizeof c->path, "%s/%s", dir, file);
  describe (w, c);
  return 0;
}

/* This worker could not write its shard: tell the program (outcome) and
 * the coordinator (ckpt.saved with what failed and where, so the commit
 * aborts at once instead of waiting out its deadline). */
static void
report_failure (save_ctx_t *c, int status)
{
  char what[4400];
  snprintf (what, sizeof what, "%s on %s", muster_err_name (status), c->path);
  mu_wckpt_t *ck = c->w->ck;
  char reason[4500];
  snprintf (reason, sizeof reason, "this worker could not write its shard: "
            "%s (%s)", muster_strerror (status), what);
  pthread_mutex_lock (&ck->mu);
  set_outcome (ck, c->step, status, reason, 1);
  pthread_mutex_unlock (&ck->mu);
  mu_log_info (&c->w->log, "CKPT-SAVE-FAILED", "step %llu: %s",
               (unsigned long long)c->step, reason);
  send_saved (c->w, c->step, c->epoch, status, NULL, what);
}

static void
report (save_ctx_t *c, int status, const mu_shard_info_t *written)
{
  if (status < 0)
    {
      report_failure (c, status);
      return;
    }
  mu_shard_info_t shard = c->who;
  if (written != NULL)
    {
      shard.file = written->file;
      shard.size = written->size;
      shard.crc32c = written->crc32c;
    }
  send_saved (c->w, c->step, c->epoch, status, &shard, NULL);
}

static void
on_async_done (void *arg, int status, const mu_shard_info_t *info, void *buf)
{
  (void)buf;
  save_ctx_t *c = arg;
  mu_wckpt_t *ck = c->w->ck;
  report (c, status, info);
  pthread_mutex_lock (&ck->mu);
  ck->inflight--;
  ck->last_status = status;
  pthread_cond_broadcast (&ck->cv);
  pthread_mutex_unlock (&ck->mu);
  free (c);
}

/* The background writer, created and started on first use (ck->mu held). */
static int
ensure_writer (mu_wckpt_t *ck)
{
  int rc = 0;
  if (ck->writer == NULL && (rc = mu_async_writer_new (&ck->writer)) == 0
      && (rc = mu_async_writer_start (ck->writer)) != 0)
    mu_async_writer_destroy (&ck->writer);
  return rc;
}

int
muster_worker_ckpt_copied (muster_worker_t *w)
{
  if (w == NULL)
    return MUSTER_EINVAL;
  mu_wckpt_t *ck = w->ck;
  pthread_mutex_lock (&ck->mu);
  int pending = ck->copy_pending;
  uint64_t ticket = ck->copy_ticket;
  ck->copy_pending = 0;
  pthread_mutex_unlock (&ck->mu);
  return pending ? mu_async_writer_wait_copied (ck->writer, ticket) : 0;
}

int
muster_worker_ckpt_reserve (muster_worker_t *w, size_t len)
{
  if (w == NULL)
    return MUSTER_EINVAL;
  mu_wckpt_t *ck = w->ck;
  pthread_mutex_lock (&ck->mu);
  int rc = ensure_writer (ck);
  pthread_mutex_unlock (&ck->mu);
  return rc == 0 ? mu_async_writer_reserve (ck->writer, len) : rc;
}

int
muster_worker_ckpt_save (muster_worker_t *w, const void *buf, size_t len,
                         int flags)
{
  if (w == NULL || (buf == NULL && len > 0))
    return MUSTER_EINVAL;
  save_ctx_t *c = calloc (1, sizeof *c);
  if (c == NULL)
    return -ENOMEM;
  char dir[4096], file[64];
  shard_name (w, file, sizeof file);
  int rc = claim (w, c, dir, sizeof dir, file);
  if (rc != 0)
    {
      free (c);
      return rc;
    }
  mu_wckpt_t *ck = w->ck;
  if (flags & (MUSTER_CKPT_ASYNC | MUSTER_CKPT_OVERLAP))
    {
      pthread_mutex_lock (&ck->mu);
      rc = ensure_writer (ck);
      if (rc == 0)
        ck->inflight++;
      pthread_mutex_unlock (&ck->mu);
      uint64_t ticket = 0;
      if (rc == 0 && (flags & MUSTER_CKPT_OVERLAP))
        {
          muster_worker_ckpt_copied (w); /* one copy in progress at a time */
          rc = mu_async_writer_snapshot_start (ck->writer, dir, file, buf, len,
                                               on_async_done, c, &ticket);
          if (rc == 0)
            {
              pthread_mutex_lock (&ck->mu);
              ck->copy_ticket = ticket;
              ck->copy_pending = 1;
              pthread_mutex_unlock (&ck->mu);
            }
        }
      else if (rc == 0)
        rc = mu_async_writer_snapshot (ck->writer, dir, file, buf, len,
                                       on_async_done, c);
      if (rc == 0)
        return 0;
      pthread_mutex_lock (&ck->mu);
      ck->inflight--;
      pthread_mutex_unlock (&ck->mu);
      report (c, rc, NULL);
      free (c);
      return rc;
    }
  mu_shard_info_t info;
  memset (&info, 0, sizeof info);
  rc = mu_shard_write_buf (dir, file, buf, len, &info);
  report (c, rc, rc == 0 ? &info : NULL);
  mu_shard_info_clear (&info);
  free (c);
  return rc;
}

int
muster_worker_ckpt_path (muster_worker_t *w, char *buf, size_t size)
{
  if (w == NULL || buf == NULL)
    return MUSTER_EINVAL;
  mu_wckpt_t *ck = w->ck;
  char file[64];
  shard_name (w, file, sizeof file);
  pthread_mutex_lock (&ck->mu);
  int rc = ck->pending ? mu_shard_tmp_path (ck->dir, file, buf, size)
                       : MUSTER_ENOTFOUND;
  pthread_mutex_unlock (&ck->mu);
  return rc;
}

int
muster_worker_ckpt_save_file (muster_worker_t *w)
{
  if (w == NULL)
    return MUSTER_EINVAL;
  save_ctx_t c;
  memset (&c, 0, sizeof c);
  char dir[4096], file[64];
  shard_name (w, file, sizeof file);
  int rc = claim (w, &c, dir, sizeof dir, file);
  if (rc != 0)
    return rc;
  mu_shard_info_t info;
  memset (&info, 0, sizeof info);
  rc = mu_shard_adopt (dir, file, &info);
  report (&c, rc, rc == 0 ? &info : NULL);
  mu_shard_info_clear (&info);
  return rc;
}

/* A shard written by someone else (muster_worker_ckpt_claim): the claim
 * taken on the program's thread, the adoption done later on any thread. */
struct muster_ckpt_claim {
  save_ctx_t c;
  char dir[4096];
  char file[64];
};

int
muster_worker_ckpt_claim (muster_worker_t *w, char *path, size_t size,
                          muster_ckpt_claim_t **out)
{
  if (out != NULL)
    *out = NULL;
  if (w == NULL || path == NULL || out == NULL)
    return MUSTER_EINVAL;
  muster_ckpt_claim_t *cl = calloc (1, sizeof *cl);
  if (cl == NULL)
    return -ENOMEM;
  shard_name (w, cl->file, sizeof cl->file);
  int rc = claim (w, &cl->c, cl->dir, sizeof cl->dir, cl->file);
  if (rc == 0)
    rc = mu_shard_tmp_path (cl->dir, cl->file, path, size);
  if (rc != 0)
    {
      if (cl->c.w != NULL) /* claimed, but no path fits: a failed save */
        report (&cl->c, rc, NULL);
      free (cl);
      return rc;
    }
  mu_wckpt_t *ck = w->ck;
  pthread_mutex_lock (&ck->mu);
  ck->inflight++;
  pthread_mutex_unlock (&ck->mu);
  *out = cl;
  return 0;
}

int
muster_worker_ckpt_claim_done (muster_worker_t *w, muster_ckpt_claim_t **cl_p,
                               int status)
{
  if (w == NULL || cl_p == NULL || *cl_p == NULL || status > 0)
    return MUSTER_EINVAL;
  muster_ckpt_claim_t *cl = *cl_p;
  *cl_p = NULL;
  mu_shard_info_t info;
  memset (&info, 0, sizeof info);
  int rc = status;
  if (rc == 0)
    rc = mu_shard_adopt (cl->dir, cl->file, &info);
  else
    {
      /* Nothing half-written is left behind for a restore to trip on. */
      char tmp[4200];
      if (mu_shard_tmp_path (cl->dir, cl->file, tmp, sizeof tmp) == 0)
        unlink (tmp);
    }
  report (&cl->c, rc, rc == 0 ? &info : NULL);
  mu_shard_info_clear (&info);
  mu_wckpt_t *ck = w->ck;
  pthread_mutex_lock (&ck->mu);
  ck->inflight--;
  ck->last_status = rc;
  pthread_cond_broadcast (&ck->cv);
  pthread_mutex_unlock (&ck->mu);
  free (cl);
  return rc;
}

int
muster_worker_ckpt_outcome (muster_worker_t *w, muster_ckpt_outcome_t *out)
{
  if (w == NULL || out == NULL)
    return MUSTER_EINVAL;
  mu_wckpt_t *ck = w->ck;
  pthread_mutex_lock (&ck->mu);
  int got = ck->out_new;
  if (got)
    {
      ck->out_new = 0;
      out->step = ck->out_step;
      out->status = ck->out_status;
      mu_strlcpy (ck->out_given, ck->out_reason, sizeof ck->out_given);
      out->reason = ck->out_given; /* stable until the next call */
    }
  pthread_mutex_unlock (&ck->mu);
  return got;
}

int
muster_worker_ckpt_flush (muster_worker_t *w)
{
  if (w == NULL)
    return MUSTER_EINVAL;
  muster_worker_ckpt_copied (w);
  mu_wckpt_t *ck = w->ck;
  pthread_mutex_lock (&ck->mu);
  while (ck->inflight > 0)
    pthread_cond_wait (&ck->cv, &ck->mu);
  int rc = ck->last_status;
  pthread_mutex_unlock (&ck->mu);
  return rc;
}

/* ------------------------------------------------------------- restore */

static int
load_manifest (muster_worker_t *w)
{
  mu_wckpt_t *ck = w->ck;
  if (ck->manifest.type == MU_MSG_CKPT_MANIFEST)
    return 0;
  const char *dir = getenv ("MUSTER_RESTORE_DIR");
  if (dir == NULL || dir[0] == '\0')
    return MUSTER_ENOCKPT;
  snprintf (ck->restore_dir, sizeof ck->restore_dir, "%s", dir);
  char err[256];
  int rc = mu_manifest_read (ck->restore_dir, &ck->manifest, err, sizeof err);
  if (rc != 0)
    mu_log_warn (&w->log, "RESTORE-FAILED", "%s: %s", ck->restore_dir, err);
  return rc;
}

int
muster_worker_restore (muster_worker_t *w, muster_restore_t *out)
{
  if (w == NULL || out == NULL)
    return MUSTER_EINVAL;
  int rc = load_manifest (w);
  if (rc != 0)
    return rc;
  mu_wckpt_t *ck = w->ck;
  const mu_ckpt_manifest_t *m = &ck->manifest.u.ckpt_manifest;
  mu_info_t *info = mu_worker_info (w);
  uint64_t saved_world = 0;
  for (size_t i = 0; i < m->roles.n; i++)
    if (strcmp (m->roles.v[i].name, info->role) == 0)
      saved_world = m->roles.v[i].world;
  if (saved_world == 0)
    return MUSTER_ENOTFOUND; /* the checkpoint has no shard of this role */
  uint64_t want = (uint64_t)info->role_rank % saved_world;
  const mu_shard_info_t *s = NULL;
  for (size_t i = 0; i < m->shards.n && s == NULL; i++)
    if (strcmp (m->shards.v[i].role, info->role) == 0
        && m->shards.v[i].role_rank == want)
      s = &m->shards.v[i];
  if (s == NULL)
    return MUSTER_ECORRUPT;
  char err[256];
  rc = mu_shard_verify (ck->restore_dir, s, true, err, sizeof err);
  if (rc != 0)
    {
      mu_log_warn (&w->log, "RESTORE-FAILED", "%s", err);
      return rc;
    }
  snprintf (ck->restore_path, sizeof ck->restore_path, "%s/%s",
            ck->restore_dir, s->file);
  out->step = m->step;
  out->path = ck->restore_path;
  out->size = s->size;
  out->from_rank = (int)s->rank;
  return 0;
}

int
muster_worker_buckets (muster_worker_t *w, uint64_t *first, uint64_t *count)
{
  if (w == NULL || first == NULL || count == NULL)
    return MUSTER_EINVAL;
  save_ctx_t c;
  memset (&c, 0, sizeof c);
  describe (w, &c);
  if (c.who.bucket_count == 0)
    return MUSTER_ENOTFOUND;
  *first = c.who.bucket_first;
  *count = c.who.bucket_count;
  return 0;
}

int
muster_worker_restore_buckets (muster_worker_t *w,
                               muster_bucket_slice_t **out, size_t *n)
{
  if (w == NULL || out == NULL || n == NULL)
    return MUSTER_EINVAL;
  int rc = load_manifest (w);
  if (rc != 0)
    return rc;
  mu_wckpt_t *ck = w->ck;
  mu_info_t *info = mu_worker_info (w);
  mu_bucket_slice_t *plan = NULL;
  size_t np = 0;
  rc = mu_buckets_restore_plan (&ck->manifest.u.ckpt_manifest,
                                (uint64_t)info->role_world,
                                (uint64_t)info->role_rank, &plan, &np);
  if (rc != 0)
    return rc;
  /* One allocation: the slices, then their paths. */
  size_t dirlen = strlen (ck->restore_dir);
  size_t bytes = np * sizeof **out;
  for (size_t i = 0; i < np; i++)
    bytes += dirlen + 1 + strlen (plan[i].shard->file) + 1;
  muster_bucket_slice_t *v = malloc (bytes ? bytes : 1);
  if (v == NULL)
    {
      free (plan);
      return -ENOMEM;
    }
  char *p = (char *)(v + np);
  for (size_t i = 0; i < np; i++)
    {
      int k = sprintf (p, "%s/%s", ck->restore_dir, plan[i].shard->file);
      v[i].path = p;
      p += k + 1;
      v[i].bucket_first = plan[i].bucket_first;
      v[i].bucket_count = plan[i].bucket_count;
      v[i].offset = plan[i].offset;
    }
  free (plan);
  *out = v;
  *n = np;
  return 0;
}
