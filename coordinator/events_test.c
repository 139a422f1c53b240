/*
 * events_test.c — the event log: sequence numbers grow by one; a reader
 * gets what came after its `since`, filtered, bounded, and learns where
 * to go on; a full ring drops its oldest and says so (a gap); a job's
 * events outlive the global ring and its finish, up to finished_keep
 * finished jobs; a new run of an id starts its list afresh; strings are
 * copies.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "coordinator/events.h"

static uint64_t
add (mu_evlog_t *l, mu_ev_kind_t k, const char *job, uint32_t uid)
{
  char detail[32];
  snprintf (detail, sizeof detail, "%s of %s", mu_ev_kind_name (k),
            job ? job : "-");
  mu_event_t e = { .kind = k, .job = (char *)job, .owner_uid = uid,
                   .rank = -1, .detail = detail, .time_us = 1000 };
  uint64_t seq = 0;
  assert_int_equal (mu_evlog_append (l, &e, &seq), 0);
  return seq;
}

static void
test_kinds (void **state)
{
  (void)state;
  assert_string_equal (mu_ev_kind_name (MU_EV_EPOCH_STARTED), "epoch.started");
  assert_int_equal (mu_ev_kind_of ("worker.exited"), MU_EV_WORKER_EXITED);
  assert_int_equal (mu_ev_kind_of ("no.such"), MU_EV_NONE);
  assert_string_equal (mu_ev_kind_name (MU_EV_NKINDS), "?");
  for (int k = 1; k < MU_EV_NKINDS; k++)
    assert_int_equal (mu_ev_kind_of (mu_ev_kind_name ((mu_ev_kind_t)k)), k);
}

static int
only_uid (const mu_event_t *e, void *arg)
{
  return e->owner_uid == *(uint32_t *)arg;
}

static void
test_since_filter_bound (void **state)
{
  (void)state;
  mu_evlog_t *l;
  assert_int_equal (mu_evlog_new (NULL, &l), 0);
  assert_int_equal (mu_evlog_last_seq (l), 0);
  for (int i = 0; i < 10; i++)
    assert_int_equal (add (l, MU_EV_NODE_JOINED, i % 2 ? "b" : "a",
                           (uint32_t)(i % 2)),
                      (uint64_t)i + 1);
  const mu_event_t *out[16];
  uint64_t next;
  size_t n = mu_evlog_collect (l, NULL, 0, 16, NULL, NULL, out, &next);
  assert_int_equal (n, 10);
  assert_int_equal (next, 10);
  assert_int_equal (out[0]->seq, 1);
  assert_string_equal (out[9]->detail, "node.joined of b");
  n = mu_evlog_collect (l, NULL, 7, 16, NULL, NULL, out, &next);
  assert_int_equal (n, 3);
  assert_int_equal (out[0]->seq, 8);
  /* uid 1 sees b's events only; it is told to go on from 10 anyway */
  uint32_t uid = 1;
  n = mu_evlog_collect (l, NULL, 0, 16, only_uid, &uid, out, &next);
  assert_int_equal (n, 5);
  for (size_t i = 0; i < n; i++)
    assert_string_equal (out[i]->job, "b");
  assert_int_equal (next, 10);
  /* bounded: 3 now, the rest from where it stopped */
  n = mu_evlog_collect (l, NULL, 0, 3, NULL, NULL, out, &next);
  assert_int_equal (n, 3);
  assert_int_equal (next, 3);
  n = mu_evlog_collect (l, NULL, next, 0, NULL, NULL, out, &next);
  assert_int_equal (n, 0);
  assert_int_equal (next, 3);
  /* one job's list */
  n = mu_evlog_collect (l, "a", 0, 16, NULL, NULL, out, &next);
  assert_int_equal (n, 5);
  assert_int_equal (out[4]->seq, 9);
  assert_int_equal (next, 10);
  n = mu_evlog_collect (l, "nope", 0, 16, NULL, NULL, out, &next);
  assert_int_equal (n, 0);
  assert_false (mu_evlog_has_job (l, "nope"));
  assert_true (mu_evlog_has_job (l, "a"));
  /* nothing new: the same since comes back */
  n = mu_evlog_collect (l, NULL, 10, 16, NULL, NULL, out, &next);
  assert_int_equal (n, 0);
  assert_int_equal (next, 10);
  mu_evlog_destroy (&l);
  assert_null (l);
  mu_evlog_destroy (&l);
}

static void
test_ring_drops_and_gap (void **state)
{
  (void)state;
  mu_evlog_opts_t o = { .ring_cap = 4, .job_cap = 3 };
  mu_evlog_t *l;
  assert_int_equal (mu_evlog_new (&o, &l), 0);
  for (int i = 0; i < 4; i++)
    add (l, MU_EV_CKPT_COMMITTED, "j", 0);
  assert_int_equal (mu_evlog_dropped_through (l, NULL), 0);
  assert_int_equal (mu_evlog_dropped_through (l, "j"), 1);
  add (l, MU_EV_COORD_STARTED, NULL, 0);
  add (l, MU_EV_COORD_STARTED, NULL, 0);
  assert_int_equal (mu_evlog_count (l, NULL), 4);
  assert_int_equal (mu_evlog_dropped_through (l, NULL), 2);
  const mu_event_t *out[8];
  uint64_t next;
  size_t n = mu_evlog_collect (l, NULL, 0, 8, NULL, NULL, out, &next);
  assert_int_equal (n, 4);
  assert_int_equal (out[0]->seq, 3);
  assert_null (out[3]->job);
  /* the job's list kept its newest 3, though the ring moved on */
  n = mu_evlog_collect (l, "j", 0, 8, NULL, NULL, out, &next);
  assert_int_equal (n, 3);
  assert_int_equal (out[0]->seq, 2);
  assert_int_equal (out[2]->seq, 4);
  mu_evlog_destroy (&l);
}

/* Rings grow as events come (16, 32, then their bound) and wrap there,
 * in order. */
static void
test_growth_then_wrap (void **state)
{
  (void)state;
  mu_evlog_opts_t o = { .ring_cap = 40, .job_cap = 24 };
  mu_evlog_t *l;
  assert_int_equal (mu_evlog_new (&o, &l), 0);
  for (int i = 0; i < 100; i++)
    add (l, MU_EV_WORKER_EXITED, "j", 0);
  assert_int_equal (mu_evlog_count (l, NULL), 40);
  assert_int_equal (mu_evlog_dropped_through (l, NULL), 60);
  assert_int_equal (mu_evlog_count (l, "j"), 24);
  assert_int_equal (mu_evlog_dropped_through (l, "j"), 76);
  const mu_event_t *out[64];
  uint64_t next;
  size_t n = mu_evlog_collect (l, NULL, 0, 64, NULL, NULL, out, &next);
  assert_int_equal (n, 40);
  for (size_t i = 0; i < n; i++)
    assert_int_equal (out[i]->seq, 61 + i);
  n = mu_evlog_collect (l, "j", 90, 64, NULL, NULL, out, &next);
  assert_int_equal (n, 10);
  assert_int_equal (out[0]->seq, 91);
  mu_evlog_destroy (&l);
}

static void
test_finished_keep_and_new_run (void **state)
{
  (void)state;
  mu_evlog_opts_t o = { .finished_keep = 2 };
  mu_evlog_t *l;
  assert_int_equal (mu_evlog_new (&o, &l), 0);
  add (l, MU_EV_JOB_CREATED, "a", 0);
  add (l, MU_EV_JOB_CREATED, "b", 0);
  add (l, MU_EV_JOB_CREATED, "c", 0);
  add (l, MU_EV_JOB_FINISHED, "b", 0);
  add (l, MU_EV_JOB_FINISHED, "a", 0);
  assert_true (mu_evlog_has_job (l, "a") && mu_evlog_has_job (l, "b"));
  /* a third finish: b finished first and goes */
  add (l, MU_EV_JOB_FINISHED, "c", 0);
  assert_false (mu_evlog_has_job (l, "b"));
  assert_true (mu_evlog_has_job (l, "a") && mu_evlog_has_job (l, "c"));
  /* a lives again (resumed): no longer counted as finished */
  add (l, MU_EV_RESUMED, "a", 0);
  add (l, MU_EV_JOB_CREATED, "d", 0);
  add (l, MU_EV_JOB_FINISHED, "d", 0);
  assert_true (mu_evlog_has_job (l, "a") && mu_evlog_has_job (l, "c"));
  /* a new run of c starts its list afresh */
  uint64_t s = add (l, MU_EV_JOB_CREATED, "c", 0);
  const mu_event_t *out[8];
  uint64_t next;
  size_t n = mu_evlog_collect (l, "c", 0, 8, NULL, NULL, out, &next);
  assert_int_equal (n, 1);
  assert_int_equal (out[0]->seq, s);
  /* c runs again: d is the one finished job; a finishes too */
  add (l, MU_EV_JOB_FINISHED, "a", 0);
  /* a job the journal restored as finished counts as finished: e pushes
   * d, the oldest finished, out; one restored running does not */
  mu_event_t r = { .kind = MU_EV_JOB_RESTORED, .job = (char *)"e",
                   .state = (char *)"succeeded", .rank = -1 };
  assert_int_equal (mu_evlog_append (l, &r, NULL), 0);
  assert_false (mu_evlog_has_job (l, "d"));
  r.state = (char *)"running";
  r.job = (char *)"f";
  assert_int_equal (mu_evlog_append (l, &r, NULL), 0);
  assert_true (mu_evlog_has_job (l, "e") && mu_evlog_has_job (l, "a"));
  assert_true (mu_evlog_has_job (l, "f") && mu_evlog_has_job (l, "c"));
  mu_evlog_destroy (&l);
}

static void
test_copies (void **state)
{
  (void)state;
  mu_evlog_t *l;
  assert_int_equal (mu_evlog_new (NULL, &l), 0);
  char node[16] = "n1", job[8] = "j";
  mu_ev_member_t m[2] = { { .node = node, .first_rank = 0, .nproc = 2 },
                          { .node = (char *)"n2", .first_rank = 2, .nproc = 2 } };
  mu_event_t e = { .kind = MU_EV_EPOCH_STARTED, .job = job, .epoch = 1,
                   .world = 4, .rank = -1, .members = m, .nmembers = 2,
                   .cause = (char *)"user", .node = node };
  assert_int_equal (mu_evlog_append (l, &e, NULL), 0);
  strcpy (node, "XX");
  strcpy (job, "k");
  const mu_event_t *out[2];
  uint64_t next;
  assert_int_equal (mu_evlog_collect (l, "j", 0, 2, NULL, NULL, out, &next), 1);
  assert_string_equal (out[0]->members[0].node, "n1");
  assert_string_equal (out[0]->node, "n1");
  assert_int_equal (out[0]->members[1].first_rank, 2);
  assert_int_equal (out[0]->nmembers, 2);
  assert_string_equal (out[0]->cause, "user");
  mu_evlog_destroy (&l);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_kinds),
    cmocka_unit_test (test_since_filter_bound),
    cmocka_unit_test (test_ring_drops_and_gap),
    cmocka_unit_test (test_growth_then_wrap),
    cmocka_unit_test (test_finished_keep_and_new_run),
    cmocka_unit_test (test_copies),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
