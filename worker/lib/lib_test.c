/*
 * lib_test.c — unit test of libmuster against a fake agent.
 *
 * Each test gets a fresh temporary directory, a fake agent (fake_agent.c)
 * bound to ipc://<dir>/a.sock and the MUSTER_* environment a real agent
 * would set.  This file covers init (missing environment, no agent, a
 * refused HELLO), the getters and peer lookup, the KV store and barriers
 * (also across two handles in one process, which proves there are no
 * globals), local timeouts and the _nb requests and their lifetime
 * (freeing an unfinished request, a request outliving its handle);
 * lib_test_agent.c covers the conversation over time: progress that never
 * blocks, a membership change, garbage from the agent, a lost, restarted
 * or stopped agent.  Timing assertions are only generous upper bounds.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include <muster/worker.h>

#include "common/util.h"
#include "worker/lib/lib_test.h"

void
set_env (const fx_t *f, int rank)
{
  char r[16];
  snprintf (r, sizeof r, "%d", rank);
  setenv ("MUSTER_AGENT_ENDPOINT", f->ep, 1);
  setenv ("MUSTER_JOB_ID", JOB, 1);
  setenv ("RANK", r, 1);
  setenv ("MUSTER_EPOCH", "7", 1);
  setenv ("MUSTER_WORKER_LINK_GRACE_MS", "500", 1);
}

/* Fixture with an agent of nnodes x nproc workers (ps on the last node). */
static int
fx_setup_shape (void **state, int nnodes, int nproc)
{
  fx_t *f = calloc (1, sizeof *f);
  strcpy (f->dir, "/tmp/mwtXXXXXX");
  if (mkdtemp (f->dir) == NULL)
    return -1;
  snprintf (f->ep, sizeof f->ep, "ipc://%s/a.sock", f->dir);
  f->o = (fa_opts_t){ .endpoint = f->ep, .job = JOB, .epoch = EPOCH,
                      .restart_count = 2, .nnodes = nnodes, .nproc = nproc,
                      .ps_last = true };
  f->fa = fa_start (&f->o);
  if (f->fa == NULL)
    return -1;
  set_env (f, 0);
  *state = f;
  return 0;
}

int
fx_setup (void **state)
{
  return fx_setup_shape (state, 2, 2);
}

int
fx_setup_world2 (void **state)
{
  return fx_setup_shape (state, 2, 1);
}

int
fx_teardown (void **state)
{
  fx_t *f = *state;
  fa_stop (&f->fa);
  char path[192];
  snprintf (path, sizeof path, "%s/a.sock", f->dir);
  unlink (path);
  rmdir (f->dir);
  free (f);
  return 0;
}

muster_worker_t *
open_rank (fx_t *f, int rank)
{
  set_env (f, rank);
  muster_worker_t *w = NULL;
  int rc = muster_worker_init (&w, NULL);
  assert_int_equal (rc, 0);
  assert_non_null (w);
  return w;
}


/* ------------------------------------------------------------------ init */

static void
test_enoenv (void **state)
{
  (void)state;
  const char *vars[] = { "MUSTER_AGENT_ENDPOINT", "MUSTER_JOB_ID", "RANK",
                         "MUSTER_RANK", "MUSTER_EPOCH" };
  for (size_t i = 0; i < 5; i++)
    unsetenv (vars[i]);
  muster_worker_t *w = (muster_worker_t *)&w; /* must be reset to NULL */
  assert_int_equal (muster_worker_init (&w, NULL), MUSTER_ENOENV);
  assert_null (w);
  setenv ("MUSTER_AGENT_ENDPOINT", "ipc:///nonexistent/x.sock", 1);
  setenv ("MUSTER_JOB_ID", JOB, 1);
  setenv ("MUSTER_EPOCH", "1", 1);
  assert_int_equal (muster_worker_init (&w, NULL), MUSTER_ENOENV); /* rank */
  setenv ("RANK", "abc", 1);
  assert_int_equal (muster_worker_init (&w, NULL), MUSTER_EINVAL);
  setenv ("RANK", "0", 1);
  unsetenv ("MUSTER_JOB_ID");
  assert_int_equal (muster_worker_init (&w, NULL), MUSTER_ENOENV);
  assert_int_equal (muster_worker_init (NULL, NULL), MUSTER_EINVAL);
  muster_worker_opts_t bad = { .connect_timeout_ms = -5 };
  assert_int_equal (muster_worker_init (&w, &bad), MUSTER_EINVAL);
  muster_worker_finalize (NULL);
  muster_worker_finalize (&w);
}

static void
test_init_timeout_no_agent (void **state)
{
  fx_t *f = *state;
  char ep[160];
  snprintf (ep, sizeof ep, "ipc://%s/nobody.sock", f->dir);
  muster_worker_opts_t o = { .endpoint = ep, .connect_timeout_ms = 60000 };
  muster_worker_t *w = NULL;
  /* No socket file at all: the agent is gone; said at once, not after
   * the (here one-minute) timeout. */
  uint64_t t0 = mu_now_ms ();
  assert_int_equal (muster_worker_init (&w, &o), MUSTER_EPEERLOST);
  assert_null (w);
  assert_true (mu_now_ms () - t0 < 30000);
  /* A socket file nobody listens on (an agent between bind and listen,
   * or a stopped one): wait, then time out. */
  struct sockaddr_un sun = { .sun_family = AF_UNIX };
  assert_true (strlen (ep + 6) < sizeof sun.sun_path);
  memcpy (sun.sun_path, ep + 6, strlen (ep + 6) + 1);
  int sfd = socket (AF_UNIX, SOCK_STREAM, 0);
  assert_true (sfd >= 0);
  assert_int_equal (bind (sfd, (struct sockaddr *)&sun, sizeof sun), 0);
  o.connect_timeout_ms = 300;
  t0 = mu_now_ms ();
  assert_int_equal (muster_worker_init (&w, &o), MUSTER_ETIMEDOUT);
  assert_null (w);
  assert_true (mu_now_ms () - t0 < 5000);
  close (sfd);
  unlink (ep + 6);
  /* An agent that hears but never answers is the same. */
  fa_set_silent (f->fa, true);
  assert_int_equal (muster_worker_init (&w, &(muster_worker_opts_t){
                                                .connect_timeout_ms = 300 }),
                    MUSTER_ETIMEDOUT);
}

static void
test_hello_refused (void **state)
{
  fx_t *f = *state;
  fa_set_hello_error (f->fa, MUSTER_EFULL);
  muster_worker_t *w = NULL;
  assert_int_equal (muster_worker_init (&w, NULL), MUSTER_EFULL);
  assert_null (w);
}

/* --------------------------------------------------------------- getters */

static void
test_getters_and_peers (void **state)
{
  fx_t *f = *state;
  set_env (f, 0);
  unsetenv ("RANK");
  setenv ("MUSTER_RANK", "3", 1); /* the fallback name */
  muster_worker_t *w = NULL;
  assert_int_equal (muster_worker_init (&w, NULL), 0);
  unsetenv ("MUSTER_RANK");
  assert_int_equal (muster_worker_rank (w), 3);
  assert_int_equal (muster_worker_world (w), 4);
  assert_int_equal (muster_worker_local_rank (w), 1);
  assert_int_equal (muster_worker_local_world (w), 2);
  assert_int_equal (muster_worker_node_rank (w), 1);
  assert_int_equal (muster_worker_nnodes (w), 2);
  assert_int_equal (muster_worker_role_rank (w), 1);
  assert_int_equal (muster_worker_role_world (w), 2);
  assert_int_equal (muster_worker_restart_count (w), 2);
  assert_int_equal (muster_worker_sync_from (w), -1);
  assert_int_equal (muster_worker_epoch (w), EPOCH);
  assert_string_equal (muster_worker_role (w), "ps");
  assert_string_equal (muster_worker_job (w), JOB);

  static const struct {
    const char *host, *role;
    int port, role_rank, node_rank, local_rank;
  } want[4] = { { "host-0", "worker", 29500, 0, 0, 0 },
                { "host-0", "worker", 29501, 1, 0, 1 },
                { "host-1", "ps", 30500, 0, 1, 0 },
                { "host-1", "ps", 30501, 1, 1, 1 } };
  for (int r = 0; r < 4; r++)
    {
      muster_peer_t p;
      assert_int_equal (muster_worker_peer (w, r, &p), 0);
      assert_string_equal (p.host, want[r].host);
      assert_string_equal (p.role, want[r].role);
      assert_int_equal (p.port, want[r].port);
      assert_int_equal (p.role_rank, want[r].role_rank);
      assert_int_equal (p.node_rank, want[r].node_rank);
      assert_int_equal (p.local_rank, want[r].local_rank);
    }
  muster_peer_t p;
  assert_int_equal (muster_worker_peer (w, -1, &p), MUSTER_EINVAL);
  assert_int_equal (muster_worker_peer (w, 4, &p), MUSTER_EINVAL);
  assert_int_equal (muster_worker_peer (w, 0, NULL), MUSTER_EINVAL);
  assert_int_equal (muster_worker_peer (NULL, 0, &p), MUSTER_EINVAL);
  assert_int_equal (muster_worker_rank (NULL), MUSTER_EINVAL);
  assert_int_equal (muster_worker_sync_from (NULL), MUSTER_EINVAL);
  assert_null (muster_worker_job (NULL));
  muster_worker_finalize (&w);
  assert_null (w);
}

/* -------------------------------------------------------------------- kv */

static void
test_kv_roundtrip (void **state)
{
  fx_t *f = *state;
  muster_worker_t *w = open_rank (f, 0);
  const unsigned char bin[] = { 0, 1, 0, 255, 0, 'x', 0 };
  assert_int_equal (muster_worker_kv_put (w, "bin", bin, sizeof bin, 1000), 0);
  void *val = NULL;
  size_t len = 0;
  assert_int_equal (muster_worker_kv_get (w, "bin", &val, &len, 0), 0);
  assert_int_equal (len, sizeof bin);
  assert_memory_equal (val, bin, sizeof bin);
  free (val);
  /* empty value: a non-NULL buffer of length 0 */
  assert_int_equal (muster_worker_kv_put (w, "empty", NULL, 0, -1), 0);
  assert_int_equal (muster_worker_kv_get (w, "empty", &val, &len, -1), 0);
  assert_non_null (val);
  assert_int_equal (len, 0);
  free (val);
  /* missing key, no wait */
  assert_int_equal (muster_worker_kv_get (w, "absent", &val, &len, 0),
                    MUSTER_ENOTFOUND);
  assert_null (val);
  /* an ERROR naming the req_id finishes that request with its code */
  assert_int_equal (muster_worker_kv_get (w, "error-key", &val, &len, 100),
                    MUSTER_EFULL);
  /* bad arguments */
  assert_int_equal (muster_worker_kv_put (w, NULL, bin, 1, 0), MUSTER_EINVAL);
  assert_int_equal (muster_worker_kv_put (w, "k", NULL, 3, 0), MUSTER_EINVAL);
  assert_int_equal (muster_worker_kv_put (w, "k", bin, 1, -7), MUSTER_EINVAL);
  assert_int_equal (muster_worker_kv_get (w, "k", NULL, &len, 0),
                    MUSTER_EINVAL);
  assert_int_equal (muster_worker_kv_put (NULL, "k", bin, 1, 0),
                    MUSTER_EINVAL);
  assert_int_equal (muster_worker_barrier (NULL, "b", 0), MUSTER_EINVAL);
  muster_worker_finalize (&w);
}

typedef struct putter {
  muster_worker_t *w;
  int rc;
} putter_t;

static void *
putter_main (void *arg)
{
  putter_t *p = arg;
  usleep (200 * 1000);
  p->rc = muster_worker_kv_put (p->w, "late", "hello", 5, 5000);
  return NULL;
}

static void
test_kv_get_waits_for_put (void **state)
{
  fx_t *f = *state;
  muster_worker_t *a = open_rank (f, 0);
  muster_worker_t *b = open_rank (f, 1);
  putter_t p = { .w = b, .rc = -1 };
  pthread_t th;
  pthread_create (&th, NULL, putter_main, &p);
  void *val = NULL;
  size_t len = 0;
  assert_int_equal (muster_worker_kv_get (a, "late", &val, &len, 10000), 0);
  pthread_join (th, NULL);
  assert_int_equal (p.rc, 0);
  assert_int_equal (len, 5);
  assert_memory_equal (val, "hello", 5);
  free (val);
  muster_worker_finalize (&a);
  muster_worker_finalize (&b);
}

/* -------------------------------------------------------------- barriers */

typedef struct bar {
  muster_worker_t *w;
  int rc;
} bar_t;

static void *
barrier_main (void *arg)
{
  bar_t *b = arg;
  b->rc = muster_worker_barrier (b->w, "threads", 10000);
  return NULL;
}

static void
test_barrier_two_handles (void **state)
{
  fx_t *f = *state;
  muster_worker_t *w0 = open_rank (f, 0);
  muster_worker_t *w1 = open_rank (f, 1);
  assert_int_equal (muster_worker_world (w0), 2);
  assert_int_equal (muster_worker_rank (w1), 1);
  /* one handle non-blocking, the other blocking, in one thread */
  muster_req_t *r = NULL;
  assert_int_equal (muster_worker_barrier_nb (w0, "b1", 10000, &r), 0);
  assert_int_equal (muster_req_wait (r, 100, NULL, NULL), MUSTER_ETIMEDOUT);
  assert_int_equal (muster_req_done (r), 0);
  assert_int_equal (muster_worker_barrier (w1, "b1", 10000), 0);
  assert_int_equal (muster_req_wait (r, -1, NULL, NULL), 0);
  assert_int_equal (muster_req_done (r), 1);
  muster_req_free (&r);
  assert_null (r);
  /* each handle in its own thread */
  bar_t b0 = { w0, -1 }, b1 = { w1, -1 };
  pthread_t t0, t1;
  pthread_create (&t0, NULL, barrier_main, &b0);
  pthread_create (&t1, NULL, barrier_main, &b1);
  pthread_join (t0, NULL);
  pthread_join (t1, NULL);
  assert_int_equal (b0.rc, 0);
  assert_int_equal (b1.rc, 0);
  muster_worker_finalize (&w0);
  muster_worker_finalize (&w1);
}

/* -------------------------------------------------------------- timeouts */

static void
test_local_timeout (void **state)
{
  fx_t *f = *state;
  muster_worker_t *w = open_rank (f, 0);
  fa_set_mute (f->fa, true);
  uint64_t t0 = mu_now_ms ();
  assert_int_equal (muster_worker_barrier (w, "never", 200), MUSTER_ETIMEDOUT);
  fa_set_mute (f->fa, false);
  /* 0 = do not wait: an incomplete barrier times out at once */
  assert_int_equal (muster_worker_barrier (w, "quick", 0), MUSTER_ETIMEDOUT);
  fa_set_mute (f->fa, true);
  assert_int_equal (muster_worker_kv_put (w, "k", "v", 1, 0),
                    MUSTER_ETIMEDOUT);
  assert_true (mu_now_ms () - t0 < 20000);
  /* the agent answers again: the handle still works */
  fa_set_mute (f->fa, false);
  assert_int_equal (muster_worker_kv_put (w, "k", "v", 1, 5000), 0);
  /* the coordinator-side timeout of a waiting get */
  void *val = NULL;
  size_t len;
  assert_int_equal (muster_worker_kv_get (w, "nobody", &val, &len, 100),
                    MUSTER_ETIMEDOUT);
  muster_worker_finalize (&w);
}

/* -------------------------------------------------------------------- nb */

static void
test_nb_requests (void **state)
{
  fx_t *f = *state;
  muster_worker_t *w = open_rank (f, 0);
  muster_req_t *r = NULL;
  assert_int_equal (muster_worker_kv_get_nb (w, "nbkey", -1, &r), 0);
  assert_int_equal (muster_req_done (r), 0);
  void *val = (void *)&val;
  size_t len = 99;
  assert_int_equal (muster_req_wait (r, 50, &val, &len), MUSTER_ETIMEDOUT);
  assert_null (val);
  assert_int_equal (len, 0);
  assert_int_equal (muster_worker_kv_put (w, "nbkey", "abc", 3, 1000), 0);
  assert_int_equal (muster_req_wait (r, -1, &val, &len), 0);
  assert_int_equal (len, 3);
  assert_memory_equal (val, "abc", 3);
  free (val);
  /* the value went to the first wait that took it */
  assert_int_equal (muster_req_wait (r, 0, &val, &len), 0);
  assert_null (val);
  muster_req_free (&r);

  /* freeing unfinished requests: the actor drops them */
  assert_int_equal (muster_worker_barrier_nb (w, "never", -1, &r), 0);
  muster_req_free (&r);
  assert_null (r);
  assert_int_equal (muster_worker_kv_get_nb (w, "never", 100, &r), 0);
  muster_req_free (&r);
  /* ... and the handle goes on working */
  assert_int_equal (muster_worker_kv_put (w, "after", "1", 1, 1000), 0);

  /* a request that outlives its handle ends with MUSTER_ECLOSED */
  assert_int_equal (muster_worker_barrier_nb (w, "orphan", -1, &r), 0);
  muster_worker_finalize (&w);
  assert_int_equal (muster_req_done (r), 1);
  assert_int_equal (muster_req_wait (r, -1, NULL, NULL), MUSTER_ECLOSED);
  muster_req_free (&r);

  assert_int_equal (muster_req_done (NULL), MUSTER_EINVAL);
  assert_int_equal (muster_req_wait (NULL, 0, NULL, NULL), MUSTER_EINVAL);
  muster_req_free (NULL);
  muster_req_free (&r);
  assert_int_equal (muster_worker_kv_get_nb (NULL, "k", 0, &r), MUSTER_EINVAL);
  assert_null (r);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_enoenv),
    cmocka_unit_test_setup_teardown (test_init_timeout_no_agent, fx_setup,
                                     fx_teardown),
    cmocka_unit_test_setup_teardown (test_hello_refused, fx_setup,
                                     fx_teardown),
    cmocka_unit_test_setup_teardown (test_getters_and_peers, fx_setup,
                                     fx_teardown),
    cmocka_unit_test_setup_teardown (test_kv_roundtrip, fx_setup,
                                     fx_teardown),
    cmocka_unit_test_setup_teardown (test_kv_get_waits_for_put, fx_setup,
                                     fx_teardown),
    cmocka_unit_test_setup_teardown (test_barrier_two_handles,
                                     fx_setup_world2, fx_teardown),
    cmocka_unit_test_setup_teardown (test_local_timeout, fx_setup,
                                     fx_teardown),
    cmocka_unit_test_setup_teardown (test_nb_requests, fx_setup, fx_teardown),
    cmocka_unit_test_setup_teardown (test_report_load, fx_setup, fx_teardown),
    cmocka_unit_test_setup_teardown (test_progress_never_blocks, fx_setup,
                                     fx_teardown),
    cmocka_unit_test_setup_teardown (test_membership_change, fx_setup,
                                     fx_teardown),
    cmocka_unit_test_setup_teardown (test_garbage_ignored, fx_setup,
                                     fx_teardown),
    cmocka_unit_test_setup_teardown (test_agent_lost, fx_setup, fx_teardown),
    cmocka_unit_test_setup_teardown (test_agent_restart, fx_setup,
                                     fx_teardown),
    cmocka_unit_test_setup_teardown (test_bye_and_bad_endpoints, fx_setup,
                                     fx_teardown),
    cmocka_unit_test_setup_teardown (test_stale_epoch_reply,
                                     fx_setup, fx_teardown),
    cmocka_unit_test_setup_teardown (test_agent_wedged, fx_setup,
                                     fx_teardown),
    cmocka_unit_test_setup_teardown (test_bucket_plan, fx_setup_world2,
                                     fx_teardown),
    cmocka_unit_test_setup_teardown (test_ckpt_failure_reported, fx_setup,
                                     fx_teardown),
    cmocka_unit_test_setup_teardown (test_ckpt_attempt_moved, fx_setup,
                                     fx_teardown),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
