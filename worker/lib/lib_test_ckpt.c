/*
 * lib_test_ckpt.c — a checkpoint save that fails is never "saved".
 *
 * The fake agent asks rank 0 to save into a directory that cannot hold a
 * file (its parent is a regular file): the synchronous save returns
 * -ENOTDIR, the ckpt.saved the agent gets carries the code and "ENOTDIR
 * on <shard path>", and muster_worker_ckpt_outcome reports the failure
 * once (the coordinator's abort of the same step adds nothing).  A good
 * save is not an outcome until ckpt.done says committed.  An attempt
 * aborted between _due and _save makes the save return the abort's code
 * (once), and the outcome carries the coordinator's reason.
 *
 * test_ckpt_attempt_moved: the attempt a save was due for is replaced,
 * while the program prepares its state, by one at another step (the race
 * scenario 16 found under ASan: a committed checkpoint with shards of
 * steps 74 and 77).  Ahead of the program, the save is refused with
 * MUSTER_ECANCELED and nothing is sent (the attempt stays pending until
 * the program gets there); behind it, MUSTER_EPASSED, said once to the
 * coordinator for that step.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <muster/error.h>

#include "worker/lib/lib_test.h"

#define WAIT_MS 10000

static void
nap (void)
{
  struct timespec t = { 0, 5 * 1000000L };
  nanosleep (&t, NULL);
}

static void
request (fx_t *f, uint64_t step, const char *dir)
{
  mu_msg_t m;
  memset (&m, 0, sizeof m);
  m.type = MU_MSG_CKPT_REQUEST;
  m.u.ckpt_request.job = JOB;
  m.u.ckpt_request.epoch = EPOCH;
  m.u.ckpt_request.step = step;
  m.u.ckpt_request.deadline_ms = 60000;
  m.u.ckpt_request.dir = (char *)dir;
  m.u.ckpt_request.reason = "periodic";
  fa_send_all (f->fa, &m);
}

static void
done (fx_t *f, uint64_t step, int status, const char *reason, bool failed)
{
  mu_msg_t m;
  memset (&m, 0, sizeof m);
  m.type = MU_MSG_CKPT_DONE;
  m.u.ckpt_done.job = JOB;
  m.u.ckpt_done.step = step;
  m.u.ckpt_done.status = status;
  m.u.ckpt_done.reason = (char *)reason;
  m.u.ckpt_done.failed = failed;
  fa_send_all (f->fa, &m);
}

/* Report `step` and wait until a save of it is due. */
static void
wait_due (muster_worker_t *w, uint64_t step)
{
  muster_worker_progress (w, step);
  muster_ckpt_request_t rq;
  for (int i = 0; i < WAIT_MS / 5; i++)
    {
      if (muster_worker_ckpt_due (w, &rq) == 1)
        {
          assert_int_equal (rq.step, step);
          return;
        }
      nap ();
    }
  fail_msg ("no checkpoint of step %llu became due", (unsigned long long)step);
}

static int
wait_outcome (muster_worker_t *w, muster_ckpt_outcome_t *o)
{
  for (int i = 0; i < WAIT_MS / 5; i++)
    {
      if (muster_worker_ckpt_outcome (w, o) == 1)
        return 1;
      nap ();
    }
  return 0;
}

static int
wait_saved (fx_t *f, int n, uint64_t *step, int64_t *status, char *err,
            size_t errlen)
{
  for (int i = 0; i < WAIT_MS / 5; i++)
    {
      if (fa_ckpt_saved (f->fa, step, status, err, errlen) >= n)
        return 1;
      nap ();
    }
  return 0;
}

void
test_ckpt_failure_reported (void **state)
{
  fx_t *f = *state;
  char root[64] = "/tmp/mwtckXXXXXX";
  assert_non_null (mkdtemp (root));
  char file[128], bad[160], good[160], shard[200];
  snprintf (file, sizeof file, "%s/file", root);
  snprintf (bad, sizeof bad, "%s/step-5", file); /* under a regular file */
  snprintf (good, sizeof good, "%s/step-6", root);
  FILE *fp = fopen (file, "w");
  assert_non_null (fp);
  fclose (fp);
  assert_int_equal (mkdir (good, 0700), 0);
  muster_worker_t *w = open_rank (f, 0);
  char state_buf[64] = "model state";
  muster_ckpt_outcome_t o;
  assert_int_equal (muster_worker_ckpt_outcome (w, &o), 0);

  /* 1. The write fails: error returned, reported, an outcome once. */
  request (f, 5, bad);
  wait_due (w, 5);
  assert_int_equal (muster_worker_ckpt_save (w, state_buf, sizeof state_buf, 0),
                    -ENOTDIR);
  snprintf (shard, sizeof shard, "ENOTDIR on %s/rank-000000.shard", bad);
  uint64_t step = 0;
  int64_t status = 0;
  char err[512];
  assert_true (wait_saved (f, 1, &step, &status, err, sizeof err));
  assert_int_equal (step, 5);
  assert_int_equal (status, -ENOTDIR);
  assert_string_equal (err, shard);
  assert_int_equal (muster_worker_ckpt_outcome (w, &o), 1);
  assert_int_equal (o.step, 5);
  assert_int_equal (o.status, -ENOTDIR);
  assert_non_null (strstr (o.reason, "could not write its shard"));
  assert_non_null (strstr (o.reason, shard));
  assert_int_equal (muster_worker_ckpt_outcome (w, &o), 0); /* once */
  /* The coordinator's abort of the same step is no second outcome (the
   * next request being due shows the abort was handled before it). */
  done (f, 5, -ENOTDIR, "rank 0 could not save its shard: ...", true);

  /* 2. A good save is an outcome only when committed. */
  request (f, 6, good);
  wait_due (w, 6);
  assert_int_equal (muster_worker_ckpt_outcome (w, &o), 0);
  assert_int_equal (muster_worker_ckpt_save (w, state_buf, sizeof state_buf, 0),
                    0);
  assert_true (wait_saved (f, 2, &step, &status, err, sizeof err));
  assert_int_equal (status, 0);
  assert_string_equal (err, "");
  assert_int_equal (muster_worker_ckpt_outcome (w, &o), 0);
  done (f, 6, 0, NULL, false);
  assert_int_equal (wait_outcome (w, &o), 1);
  assert_int_equal (o.step, 6);
  assert_int_equal (o.status, 0);
  assert_string_equal (o.reason, "");

  /* 3. Aborted between _due and _save: the save says so, once. */
  request (f, 7, good);
  wait_due (w, 7);
  done (f, 7, MUSTER_ETIMEDOUT, "timed out waiting for rank 1 (1 of 4 missing)",
        true);
  assert_int_equal (wait_outcome (w, &o), 1);
  assert_int_equal (o.step, 7);
  assert_int_equal (o.status, MUSTER_ETIMEDOUT);
  assert_string_equal (o.reason, "timed out waiting for rank 1 (1 of 4 missing)");
  assert_int_equal (muster_worker_ckpt_save (w, state_buf, sizeof state_buf, 0),
                    MUSTER_ETIMEDOUT);
  assert_int_equal (muster_worker_ckpt_save (w, state_buf, sizeof state_buf, 0),
                    MUSTER_ENOTFOUND);

  /* 4. An abort that is not a failure (a worker passed the step; it is
   * asked again later) is no outcome. */
  request (f, 8, good);
  wait_due (w, 8);
  done (f, 8, MUSTER_EPASSED, "rank 2 passed step 8", false);
  request (f, 9, good);
  wait_due (w, 9); /* the done of step 8 was handled before this */
  assert_int_equal (muster_worker_ckpt_outcome (w, &o), 0);

  muster_worker_finalize (&w);
  char path[256];
  snprintf (path, sizeof path, "%s/rank-000000.shard", good);
  unlink (path);
  rmdir (good);
  unlink (file);
  rmdir (root);
}

/* Wait until the lib has taken the new request at `step` (the one due at
 * the program's step is no longer: _due answers 0). */
static void
wait_replaced (muster_worker_t *w, uint64_t was)
{
  muster_ckpt_request_t rq;
  for (int i = 0; i < WAIT_MS / 5; i++)
    {
      if (muster_worker_ckpt_due (w, &rq) == 0)
        return;
      nap ();
    }
  fail_msg ("the request of step %llu was never replaced",
            (unsigned long long)was);
}

void
test_ckpt_attempt_moved (void **state)
{
  fx_t *f = *state;
  char root[64] = "/tmp/mwtcmXXXXXX";
  assert_non_null (mkdtemp (root));
  muster_worker_t *w = open_rank (f, 0);
  char buf[32] = "state of step 74";
  uint64_t step = 0;
  int64_t status = 0;
  char err[512];

  /* Ahead: due at 74, replaced by 77 before the save. */
  request (f, 74, root);
  wait_due (w, 74);
  request (f, 77, root);
  wait_replaced (w, 74);
  assert_int_equal (muster_worker_ckpt_save (w, buf, sizeof buf, 0),
                    MUSTER_ECANCELED);
  nap ();
  assert_int_equal (fa_ckpt_saved (f->fa, &step, &status, err, sizeof err), 0);
  /* Still pending: at 77 it is due, and saved as 77. */
  snprintf (buf, sizeof buf, "state of step 77");
  wait_due (w, 77);
  assert_int_equal (muster_worker_ckpt_save (w, buf, sizeof buf, 0), 0);
  assert_true (wait_saved (f, 1, &step, &status, err, sizeof err));
  assert_int_equal (step, 77);
  assert_int_equal (status, 0);
  done (f, 77, 0, NULL, false);

  /* Behind: due at 80, the program already at 82 when it saves. */
  request (f, 80, root);
  wait_due (w, 80);
  muster_worker_progress (w, 82);
  assert_int_equal (muster_worker_ckpt_save (w, buf, sizeof buf, 0),
                    MUSTER_EPASSED);
  assert_true (wait_saved (f, 2, &step, &status, err, sizeof err));
  assert_int_equal (step, 80);
  assert_int_equal (status, MUSTER_EPASSED);
  /* Said once: the attempt is gone. */
  assert_int_equal (muster_worker_ckpt_save (w, buf, sizeof buf, 0),
                    MUSTER_ENOTFOUND);

  muster_worker_finalize (&w);
  char path[256];
  snprintf (path, sizeof path, "%s/rank-000000.shard", root);
  unlink (path);
  rmdir (root);
}
