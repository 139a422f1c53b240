/*
 * lib_test_agent.c — the half of libmuster's unit test about the
 * conversation with the agent over time: progress that never blocks, a
 * newer epoch, garbage, a stale-epoch answer, BYE, and an agent that is
 * lost, restarted or stopped (SIGSTOP: only heartbeats can tell).  The
 * fixture and main() are in lib_test.c.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <muster/worker.h>

#include "common/util.h"
#include "worker/lib/lib_test.h"

/* -------------------------------------------------------------- progress */

void
test_progress_never_blocks (void **state)
{
  fx_t *f = *state;
  muster_worker_t *w = open_rank (f, 0);
  uint64_t t0 = mu_now_ms ();
  for (uint64_t s = 1; s <= 100000; s++)
    assert_int_equal (muster_worker_progress (w, s), 0);
  assert_true (mu_now_ms () - t0 < 20000);
  /* coalesced, but the last step arrives */
  for (int i = 0; i < 500 && fa_last_step (f->fa) != 100000; i++)
    usleep (10 * 1000);
  assert_int_equal (fa_last_step (f->fa), 100000);
  assert_true (fa_progress_count (f->fa) >= 1);
  /* with the agent gone, progress still returns at once */
  fa_stop (&f->fa);
  t0 = mu_now_ms ();
  for (uint64_t s = 1; s <= 100000; s++)
    assert_int_equal (muster_worker_progress (w, s), 0);
  assert_true (mu_now_ms () - t0 < 20000);
  assert_int_equal (muster_worker_progress (NULL, 1), MUSTER_EINVAL);
  muster_worker_finalize (&w);
}

/* service: muster_worker_report_load reaches the agent (the latest
 * figure of a burst), and bad figures are refused. */
void
test_report_load (void **state)
{
  fx_t *f = *state;
  muster_worker_t *w = open_rank (f, 0);
  for (int i = 1; i <= 1000; i++)
    assert_int_equal (muster_worker_report_load (w, i / 4.0), 0);
  for (int i = 0; i < 500 && fa_last_load_milli (f->fa) != 250001; i++)
    usleep (10 * 1000);
  assert_int_equal (fa_last_load_milli (f->fa), 250001); /* 250.0 */
  assert_int_equal (muster_worker_report_load (w, -1), MUSTER_EINVAL);
  assert_int_equal (muster_worker_report_load (w, 0.0 / 0.0), MUSTER_EINVAL);
  assert_int_equal (muster_worker_report_load (w, 1.0 / 0.0), MUSTER_EINVAL);
  assert_int_equal (muster_worker_report_load (NULL, 1), MUSTER_EINVAL);
  assert_int_equal (muster_worker_report_load (w, 0), 0);
  for (int i = 0; i < 500 && fa_last_load_milli (f->fa) != 1; i++)
    usleep (10 * 1000);
  assert_int_equal (fa_last_load_milli (f->fa), 1); /* 0.0 */
  muster_worker_finalize (&w);
}

/* ------------------------------------------------------------ membership */

typedef struct seen {
  int calls;
  muster_membership_t last;
} seen_t;

static void
on_membership (muster_worker_t *w, const muster_membership_t *m, void *arg)
{
  (void)w;
  seen_t *s = arg;
  s->last = *m;
  s->calls++;
}

void
test_membership_change (void **state)
{
  fx_t *f = *state;
  muster_worker_t *w = open_rank (f, 1);
  seen_t seen = { 0 };
  muster_membership_t ev;
  assert_int_equal (muster_worker_membership_changed (w, &ev), 0);
  assert_int_equal (muster_worker_on_membership (w, on_membership, &seen), 0);
  assert_int_equal (muster_worker_on_membership (NULL, NULL, NULL),
                    MUSTER_EINVAL);
  assert_int_equal (muster_worker_kv_put (w, "old", "1", 1, 1000), 0);
  muster_req_t *r = NULL;
  assert_int_equal (muster_worker_barrier_nb (w, "m", -1, &r), 0);
  assert_int_equal (muster_req_wait (r, 100, NULL, NULL), MUSTER_ETIMEDOUT);
  fa_new_epoch (f->fa, EPOCH + 1, 1);
  assert_int_equal (muster_req_wait (r, 10000, NULL, NULL),
                    MUSTER_EMEMBERSHIP);
  muster_req_free (&r);
  assert_int_equal (muster_worker_epoch (w), EPOCH + 1);
  assert_int_equal (muster_worker_rank (w), 2);
  assert_int_equal (muster_worker_node_rank (w), 1);
  assert_string_equal (muster_worker_role (w), "ps");
  assert_int_equal (muster_worker_sync_from (w), 0); /* a new member */
  /* the callback ran (on libmuster's thread) before the pending barrier
   * was failed, and the pollable form reports the change once */
  assert_int_equal (seen.calls, 1);
  assert_int_equal (seen.last.epoch, EPOCH + 1);
  assert_int_equal (seen.last.rank, 2);
  assert_int_equal (seen.last.sync_from, 0);
  assert_non_null (seen.last.reason);
  assert_int_equal (muster_worker_membership_changed (w, &ev), 1);
  assert_int_equal (ev.epoch, EPOCH + 1);
  assert_int_equal (ev.rank, 2);
  assert_int_equal (ev.world, muster_worker_world (w));
  assert_int_equal (muster_worker_membership_changed (w, &ev), 0);
  /* new requests carry the new epoch; the old epoch's KV is gone */
  void *val = NULL;
  size_t len;
  assert_int_equal (muster_worker_kv_get (w, "old", &val, &len, 0),
                    MUSTER_ENOTFOUND);
  assert_int_equal (fa_last_req_epoch (f->fa), EPOCH + 1);
  muster_worker_finalize (&w);
}

void
test_garbage_ignored (void **state)
{
  fx_t *f = *state;
  muster_worker_t *w = open_rank (f, 2);
  muster_req_t *r = NULL;
  assert_int_equal (muster_worker_kv_get_nb (w, "g", 5000, &r), 0);
  fa_send_garbage (f->fa);
  assert_int_equal (muster_worker_kv_put (w, "g", "ok", 2, 5000), 0);
  void *val = NULL;
  size_t len = 0;
  assert_int_equal (muster_req_wait (r, -1, &val, &len), 0);
  assert_int_equal (len, 2);
  free (val);
  muster_req_free (&r);
  assert_int_equal (muster_worker_epoch (w), EPOCH);
  assert_int_equal (muster_worker_rank (w), 2);
  assert_int_equal (muster_worker_world (w), 4);
  muster_worker_finalize (&w);
}

/* ------------------------------------------------------------------ link */

void
test_agent_lost (void **state)
{
  fx_t *f = *state;
  muster_worker_t *w = open_rank (f, 0);
  muster_req_t *r = NULL;
  assert_int_equal (muster_worker_barrier_nb (w, "lost", -1, &r), 0);
  assert_int_equal (muster_req_wait (r, 50, NULL, NULL), MUSTER_ETIMEDOUT);
  uint64_t t0 = mu_now_ms ();
  fa_stop (&f->fa);
  assert_int_equal (muster_req_wait (r, 20000, NULL, NULL), MUSTER_EPEERLOST);
  assert_true (mu_now_ms () - t0 < 20000);
  muster_req_free (&r);
  /* the agent stays gone: new requests fail, even without a deadline */
  assert_int_equal (muster_worker_barrier (w, "after", -1), MUSTER_EPEERLOST);
  muster_worker_finalize (&w);
}

void
test_agent_restart (void **state)
{
  fx_t *f = *state;
  setenv ("MUSTER_WORKER_LINK_GRACE_MS", "20000", 1);
  muster_worker_t *w = NULL;
  setenv ("RANK", "1", 1);
  assert_int_equal (muster_worker_init (&w, NULL), 0);
  assert_int_equal (muster_worker_kv_put (w, "a", "1", 1, 5000), 0);
  fa_stop (&f->fa);
  f->fa = fa_start (&f->o);
  assert_non_null (f->fa);
  /* the new agent answers only workers that said HELLO to it */
  int rc = -1;
  for (int i = 0; i < 100 && rc != 0; i++)
    {
      rc = muster_worker_kv_put (w, "b", "2", 1, 5000);
      if (rc != 0)
        usleep (50 * 1000);
    }
  assert_int_equal (rc, 0);
  assert_true (fa_hellos (f->fa) >= 1);
  assert_int_equal (muster_worker_rank (w), 1);
  muster_worker_finalize (&w);
}

void
test_bye_and_bad_endpoints (void **state)
{
  fx_t *f = *state;
  muster_worker_t *w = open_rank (f, 0);
  muster_worker_finalize (&w);
  for (int i = 0; i < 200 && fa_byes (f->fa) < 1; i++)
    usleep (10 * 1000);
  assert_int_equal (fa_byes (f->fa), 1);
  /* endpoints libzmq refuses: an error, not a crash or a wait */
  muster_worker_opts_t o = { .endpoint = "bogus://x" };
  int rc = muster_worker_init (&w, &o);
  assert_true (rc < 0);
  assert_null (w);
  char longep[300];
  memset (longep, 'a', sizeof longep);
  memcpy (longep, "ipc:///tmp/", 11);
  longep[sizeof longep - 1] = '\0';
  o.endpoint = longep;
  rc = muster_worker_init (&w, &o);
  assert_true (rc < 0);
  assert_null (w);
}

void
test_stale_epoch_reply (void **state)
{
  fx_t *f = *state;
  muster_worker_t *w = open_rank (f, 0);
  /* the coordinator moved on before the new WORKER_INFO reached us: the
   * request was "sent late" and says so */
  fa_set_epoch_quiet (f->fa, EPOCH + 5);
  assert_int_equal (muster_worker_kv_put (w, "k", "v", 1, 1000),
                    MUSTER_ESTALE_EPOCH);
  assert_int_equal (muster_worker_epoch (w), EPOCH);
  muster_worker_finalize (&w);
}

/* A stopped agent keeps its socket open: only heartbeats find it. */
void
test_agent_wedged (void **state)
{
  fx_t *f = *state;
  fa_stop (&f->fa); /* a child process plays the agent instead */
  char path[192];
  snprintf (path, sizeof path, "%s/a.sock", f->dir);
  unlink (path);
  pid_t pid = fork ();
  assert_true (pid >= 0);
  if (pid == 0)
    {
      if (fa_start (&f->o) == NULL)
        _exit (1);
      for (;;)
        pause ();
    }
  struct stat st;
  for (int i = 0; i < 500 && stat (path, &st) != 0; i++)
    usleep (10 * 1000);
  muster_worker_t *w = open_rank (f, 0);
  muster_req_t *r = NULL;
  assert_int_equal (muster_worker_barrier_nb (w, "wedged", -1, &r), 0);
  uint64_t t0 = mu_now_ms ();
  kill (pid, SIGSTOP);
  assert_int_equal (muster_req_wait (r, 60000, NULL, NULL), MUSTER_EPEERLOST);
  assert_true (mu_now_ms () - t0 < 60000);
  muster_req_free (&r);
  kill (pid, SIGKILL);
  waitpid (pid, NULL, 0);
  muster_worker_finalize (&w);
}

