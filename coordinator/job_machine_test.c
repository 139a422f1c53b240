/*
 * job_machine_test.c — the job lifecycle machine, one row per rule: a
 * machine set up in a state, one event, the state it must end in and the
 * decisions it must return, in order.  A second test reads the rule lines
 * of job_machine.h and fails when they and the code's table differ.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <muster/error.h>

#include "coordinator/job_machine.h"

#define ANY_EXIT (-2)

typedef struct row {
  const char *name;
  /* the machine before */
  mu_job_state_t state;
  mu_job_state_t final_state;
  uint64_t epoch, world, live, ok_exits, restarts, user, infra;
  uint64_t max_restarts;
  int in_place;
  /* the event */
  mu_jm_event_t ev;
  /* after */
  mu_job_state_t want_state;
  const char *want; /* decision names, space-separated, in order */
  int want_exit;    /* final_exit_code, or ANY_EXIT */
  uint64_t want_user, want_infra, want_restarts, want_live;
} row_t;

/* Rows start from RUN4 and override a field or two: that is the point. */
#pragma GCC diagnostic ignored "-Woverride-init"

/* A running 2-node epoch of world 4 with a budget of 1 restart. */
#define RUN4 .state = MU_JOB_RUNNING, .epoch = 1, .world = 4, .live = 4,      \
             .max_restarts = 1
#define EXIT(...) { .type = MU_JM_E_WORKER_EXIT, .counted = 1, __VA_ARGS__ }

static const row_t rows[] = {
  { "open the first round", .state = MU_JOB_PENDING,
    .ev = { .type = MU_JM_E_OPEN }, .want_state = MU_JOB_RENDEZVOUS,
    .want = "OPEN_ROUND", .want_exit = ANY_EXIT },
  { "round closed: start the epoch", .state = MU_JOB_RENDEZVOUS,
    .ev = { .type = MU_JM_E_ROUND_CLOSED, .epoch = 1, .world = 4, .live = 4 },
    .want_state = MU_JOB_RUNNING, .want = "START_EPOCH", .want_exit = ANY_EXIT,
    .want_live = 4 },
  { "an ok exit, others still running", RUN4, .ev = EXIT (.ok = 1),
    .want_state = MU_JOB_RUNNING, .want = "JOURNAL_EXIT",
    .want_exit = ANY_EXIT, .want_live = 3 },
  { "the last ok exit: succeeded", RUN4, .live = 1, .ok_exits = 3,
    .ev = EXIT (.ok = 1), .want_state = MU_JOB_SUCCEEDED,
    .want = "JOURNAL_EXIT FINISH", .want_exit = 0 },
  { "J1 user failure within budget: recover", RUN4,
    .ev = EXIT (.charge = MU_JM_CHARGE_USER, .exit_code = 3),
    .want_state = MU_JOB_RECOVERING, .want = "JOURNAL_EXIT RECOVER RECOVERING",
    .want_exit = ANY_EXIT, .want_user = 1, .want_restarts = 1,
    .want_live = 3 },
  { "J1 user failure past budget: stop for good", RUN4, .user = 1,
    .ev = EXIT (.charge = MU_JM_CHARGE_USER, .exit_code = 3),
    .want_state = MU_JOB_STOPPING, .want = "JOURNAL_EXIT STOPPING",
    .want_exit = ANY_EXIT, .want_user = 1, .want_live = 3 },
  { "J5 the last worker's failure past budget: failed with its code", RUN4,
    .user = 1, .live = 1,
    .ev = EXIT (.charge = MU_JM_CHARGE_USER, .exit_code = 3),
    .want_state = MU_JOB_FAILED, .want = "JOURNAL_EXIT STOPPING FINISH",
    .want_exit = 3, .want_user = 1 },
  { "J5 killed by signal 9: 137", RUN4, .user = 1, .live = 1,
    .ev = EXIT (.charge = MU_JM_CHARGE_USER, .signal = 9),
    .want_state = MU_JOB_FAILED, .want = "JOURNAL_EXIT STOPPING FINISH",
    .want_exit = 137, .want_user = 1 },
  { "a failure held for attribution changes nothing yet", RUN4,
    .ev = EXIT (.charge = MU_JM_CHARGE_NONE, .exit_code = 1),
    .want_state = MU_JOB_RUNNING, .want = "JOURNAL_EXIT",
    .want_exit = ANY_EXIT, .want_live = 3 },
  { "the held failure charged: recover", RUN4, .live = 3,
    .ev = { .type = MU_JM_E_RECOVER, .charge = MU_JM_CHARGE_USER },
    .want_state = MU_JOB_RECOVERING, .want = "RECOVER RECOVERING",
    .want_exit = ANY_EXIT, .want_user = 1, .want_restarts = 1,
    .want_live = 3 },
  { "J1 fenced worker: infrastructure budget", RUN4,
    .ev = EXIT (.charge = MU_JM_CHARGE_INFRA),
    .want_state = MU_JOB_RECOVERING, .want = "JOURNAL_EXIT RECOVER RECOVERING",
    .want_exit = ANY_EXIT, .want_infra = 1, .want_restarts = 1,
    .want_live = 3 },
  { "J1 a member lost: infrastructure budget", RUN4,
    .ev = { .type = MU_JM_E_NODE_LOST, .charge = MU_JM_CHARGE_INFRA,
            .was_member = 1, .live_lost = 2 },
    .want_state = MU_JOB_RECOVERING, .want = "RECOVER RECOVERING",
    .want_exit = ANY_EXIT, .want_infra = 1, .want_restarts = 1,
    .want_live = 2 },
  { "J1 a member lost past the infrastructure budget", RUN4, .infra = 16,
    .ev = { .type = MU_JM_E_NODE_LOST, .charge = MU_JM_CHARGE_INFRA,
            .was_member = 1, .live_lost = 4 },
    .want_state = MU_JOB_FAILED, .want = "STOPPING FINISH", .want_exit = 1,
    .want_infra = 16 },
  { "J1 a member left on purpose: uncharged", RUN4, .user = 1, .infra = 16,
    .ev = { .type = MU_JM_E_NODE_LOST, .charge = MU_JM_CHARGE_SCALE,
            .was_member = 1, .live_lost = 2 },
    .want_state = MU_JOB_RECOVERING, .want = "RECOVER RECOVERING",
    .want_exit = ANY_EXIT, .want_user = 1, .want_infra = 16,
    .want_restarts = 1, .want_live = 2 },
  { "a waiting node lost: nothing", RUN4,
    .ev = { .type = MU_JM_E_NODE_LOST, .charge = MU_JM_CHARGE_INFRA },
    .want_state = MU_JOB_RUNNING, .want = "", .want_exit = ANY_EXIT,
    .want_live = 4 },
  { "a node lost during the rendezvous: the rendezvous decides",
    .state = MU_JOB_RENDEZVOUS, .epoch = 1,
    .ev = { .type = MU_JM_E_NODE_LOST, .charge = MU_JM_CHARGE_INFRA,
            .was_member = 1 },
    .want_state = MU_JOB_RENDEZVOUS, .want = "", .want_exit = ANY_EXIT },
  { "a scale-up: uncharged recovery", RUN4,
    .ev = { .type = MU_JM_E_RECOVER, .charge = MU_JM_CHARGE_SCALE },
    .want_state = MU_JOB_RECOVERING, .want = "RECOVER RECOVERING",
    .want_exit = ANY_EXIT, .want_restarts = 1, .want_live = 4 },
  { "J2 in place: the next round opens at once", RUN4, .in_place = 1,
    .ev = EXIT (.charge = MU_JM_CHARGE_USER, .exit_code = 1),
    .want_state = MU_JOB_RENDEZVOUS, .want = "JOURNAL_EXIT RECOVER OPEN_ROUND",
    .want_exit = ANY_EXIT, .want_user = 1, .want_restarts = 1,
    .want_live = 3 },
  { "J2 an in-place epoch's worker exits during the round",
    .state = MU_JOB_RENDEZVOUS, .epoch = 1, .world = 4, .live = 3,
    .in_place = 1, .ev = EXIT (.ok = 1),
    .want_state = MU_JOB_RENDEZVOUS, .want = "JOURNAL_EXIT",
    .want_exit = ANY_EXIT, .want_live = 2 },
  { "J3 drained after the first restart: no backoff",
    .state = MU_JOB_RECOVERING, .epoch = 1, .world = 4, .live = 1,
    .restarts = 1, .ev = EXIT (.charge = MU_JM_CHARGE_USER),
    .want_state = MU_JOB_RENDEZVOUS, .want = "JOURNAL_EXIT OPEN_ROUND",
    .want_exit = ANY_EXIT, .want_restarts = 1 },
  { "J3 drained after the third restart: backoff",
    .state = MU_JOB_RECOVERING, .epoch = 3, .world = 4, .live = 1,
    .restarts = 3, .ev = EXIT (.ok = 1),
    .want_state = MU_JOB_RECOVERING, .want = "JOURNAL_EXIT ARM_BACKOFF",
    .want_exit = ANY_EXIT, .want_restarts = 3 },
  { "J3 backoff done: open the round", .state = MU_JOB_RECOVERING,
    .epoch = 3, .restarts = 3, .ev = { .type = MU_JM_E_BACKOFF_DONE },
    .want_state = MU_JOB_RENDEZVOUS, .want = "OPEN_ROUND",
    .want_exit = ANY_EXIT, .want_restarts = 3 },
  { "drain timeout: unreported workers are gone",
    .state = MU_JOB_RECOVERING, .epoch = 1, .live = 3, .restarts = 1,
    .ev = { .type = MU_JM_E_DRAIN_TIMEOUT }, .want_state = MU_JOB_RENDEZVOUS,
    .want = "OPEN_ROUND", .want_exit = ANY_EXIT, .want_restarts = 1 },
  { "J7 a failure while recovering is not charged",
    .state = MU_JOB_RECOVERING, .epoch = 1, .live = 3, .restarts = 1,
    .ev = EXIT (.charge = MU_JM_CHARGE_USER, .exit_code = 1),
    .want_state = MU_JOB_RECOVERING, .want = "JOURNAL_EXIT",
    .want_exit = ANY_EXIT, .want_restarts = 1, .want_live = 2 },
  { "J9 a service replica fails: restart it alone, same epoch", RUN4,
    .ev = EXIT (.charge = MU_JM_CHARGE_USER, .exit_code = 3, .replica = 1),
    .want_state = MU_JOB_RUNNING, .want = "JOURNAL_EXIT RESTART_REPLICA",
    .want_exit = ANY_EXIT, .want_user = 1, .want_restarts = 1,
    .want_live = 3 },
  { "J9 a service replica fenced: infrastructure budget", RUN4,
    .ev = EXIT (.charge = MU_JM_CHARGE_INFRA, .replica = 1),
    .want_state = MU_JOB_RUNNING, .want = "JOURNAL_EXIT RESTART_REPLICA",
    .want_exit = ANY_EXIT, .want_infra = 1, .want_restarts = 1,
    .want_live = 3 },
  { "J9 a crash-looping replica past the budget fails the job", RUN4,
    .user = 1, .restarts = 1,
    .ev = EXIT (.charge = MU_JM_CHARGE_USER, .exit_code = 3, .replica = 1),
    .want_state = MU_JOB_STOPPING, .want = "JOURNAL_EXIT STOPPING",
    .want_exit = ANY_EXIT, .want_user = 1, .want_restarts = 1,
    .want_live = 3 },
  { "J9 a replica stopped on purpose is not charged", RUN4,
    .ev = EXIT (.charge = MU_JM_CHARGE_NONE, .signal = 15, .replica = 1),
    .want_state = MU_JOB_RUNNING, .want = "JOURNAL_EXIT",
    .want_exit = ANY_EXIT, .want_live = 3 },
  { "J9 the replica's workers started again", RUN4, .live = 3,
    .ev = { .type = MU_JM_E_REPLICA_START, .live = 1 },
    .want_state = MU_JOB_RUNNING, .want = "", .want_exit = ANY_EXIT,
    .want_live = 4 },
  { "J4 cancel a running job: stop its workers", RUN4,
    .ev = { .type = MU_JM_E_CANCEL, .why = "cancelled by request" },
    .want_state = MU_JOB_STOPPING, .want = "STOPPING", .want_exit = ANY_EXIT,
    .want_live = 4 },
  { "J5 the cancelled job's last worker: 130", .state = MU_JOB_STOPPING,
    .final_state = MU_JOB_CANCELLED, .epoch = 1, .live = 1,
    .ev = EXIT (.signal = 15), .want_state = MU_JOB_CANCELLED,
    .want = "JOURNAL_EXIT FINISH", .want_exit = 130 },
  { "J4 a rendezvous that fails: no workers, finish at once",
    .state = MU_JOB_RENDEZVOUS,
    .ev = { .type = MU_JM_E_FAIL, .why = "rendezvous timed out" },
    .want_state = MU_JOB_FAILED, .want = "STOPPING FINISH", .want_exit = 1 },
  { "J4 cancel a pending job", .state = MU_JOB_PENDING,
    .ev = { .type = MU_JM_E_CANCEL },
    .want_state = MU_JOB_CANCELLED, .want = "STOPPING FINISH",
    .want_exit = 130 },
  { "J5 suspended with a checkpoint: 0", .state = MU_JOB_STOPPING,
    .final_state = MU_JOB_SUSPENDED, .epoch = 2, .live = 2,
    .ev = { .type = MU_JM_E_DRAIN_TIMEOUT, .resumable = 1 },
    .want_state = MU_JOB_SUSPENDED, .want = "FINISH", .want_exit = 0 },
  { "J5 suspended without one: 1", .state = MU_JOB_STOPPING,
    .final_state = MU_JOB_SUSPENDED, .epoch = 2, .live = 2,
    .ev = { .type = MU_JM_E_DRAIN_TIMEOUT },
    .want_state = MU_JOB_SUSPENDED, .want = "FINISH", .want_exit = 1 },
  { "J4 a stop while stopping keeps the first", .state = MU_JOB_STOPPING,
    .final_state = MU_JOB_SUSPENDED, .epoch = 2, .live = 2,
    .ev = { .type = MU_JM_E_CANCEL }, .want_state = MU_JOB_STOPPING,
    .want = "", .want_exit = ANY_EXIT, .want_live = 2 },
  { "J6 resume a suspended job", .state = MU_JOB_SUSPENDED, .epoch = 2,
    .ev = { .type = MU_JM_E_RESUME }, .want_state = MU_JOB_RENDEZVOUS,
    .want = "OPEN_ROUND", .want_exit = ANY_EXIT },
  { "J6 succeeded is absorbing", .state = MU_JOB_SUCCEEDED, .epoch = 1,
    .ev = { .type = MU_JM_E_CANCEL }, .want_state = MU_JOB_SUCCEEDED,
    .want = "", .want_exit = ANY_EXIT },
  { "J6 failed is absorbing", .state = MU_JOB_FAILED, .epoch = 1,
    .ev = EXIT (.charge = MU_JM_CHARGE_USER), .want_state = MU_JOB_FAILED,
    .want = "", .want_exit = ANY_EXIT },
  { "a job that could not be set up", .state = MU_JOB_PENDING,
    .ev = { .type = MU_JM_E_DISCARD }, .want_state = MU_JOB_CANCELLED,
    .want = "", .want_exit = ANY_EXIT },
  { "restore a job that was stopping: it ends", .state = MU_JOB_PENDING,
    .ev = { .type = MU_JM_E_RESTORE, .state = MU_JOB_STOPPING,
            .final_state = MU_JOB_CANCELLED, .epoch = 4, .restarts = 3,
            .user_failures = 1, .infra_failures = 2 },
    .want_state = MU_JOB_CANCELLED, .want = "", .want_exit = 130,
    .want_user = 1, .want_infra = 2, .want_restarts = 3 },
  { "restore a running job", .state = MU_JOB_PENDING,
    .ev = { .type = MU_JM_E_RESTORE, .state = MU_JOB_RUNNING, .epoch = 4,
            .world = 4, .live = 4 },
    .want_state = MU_JOB_RUNNING, .want = "", .want_exit = ANY_EXIT,
    .want_live = 4 },
  { "restore a job between epochs: pending", .state = MU_JOB_PENDING,
    .ev = { .type = MU_JM_E_RESTORE, .state = MU_JOB_PENDING, .epoch = 4 },
    .want_state = MU_JOB_PENDING, .want = "", .want_exit = ANY_EXIT },
};

static void
decisions_text (const mu_jm_out_t *out, char *buf, size_t cap)
{
  buf[0] = '\0';
  for (size_t i = 0; i < out->n; i++)
    {
      size_t len = strlen (buf);
      snprintf (buf + len, cap - len, "%s%s", i ? " " : "",
                mu_jm_action_name (out->d[i].action));
    }
}

static void
test_rules_table (void **state)
{
  (void)state;
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
    {
      const row_t *r = &rows[i];
      mu_jm_t m;
      mu_jm_init (&m, r->max_restarts, 0, r->in_place);
      m.state = r->state;
      m.final_state = r->final_state ? r->final_state : MU_JOB_FAILED;
      m.epoch = r->epoch;
      m.world = r->world;
      m.live = r->live;
      m.ok_exits = r->ok_exits;
      m.restarts = r->restarts;
      m.user_failures = r->user;
      m.infra_failures = r->infra;
      mu_jm_out_t out;
      assert_int_equal (mu_jm_feed (&m, &r->ev, &out), 0);
      char got[256];
      decisions_text (&out, got, sizeof got);
      if (m.state != r->want_state || strcmp (got, r->want) != 0
          || (r->want_exit != ANY_EXIT && m.final_exit_code != r->want_exit)
          || m.user_failures != r->want_user
          || m.infra_failures != r->want_infra
          || m.restarts != r->want_restarts || m.live != r->want_live)
        {
          print_error ("row '%s': state %s (want %s), decisions [%s] (want "
                       "[%s]), exit %d (want %d), user %llu infra %llu "
                       "restarts %llu live %llu\n",
                       r->name, mu_job_state_name (m.state),
                       mu_job_state_name (r->want_state), got, r->want,
                       m.final_exit_code, r->want_exit,
                       (unsigned long long)m.user_failures,
                       (unsigned long long)m.infra_failures,
                       (unsigned long long)m.restarts,
                       (unsigned long long)m.live);
          fail ();
        }
    }
}

/* The decisions carry what the shell needs. */
static void
test_decision_details (void **state)
{
  (void)state;
  mu_jm_t m;
  mu_jm_out_t out;
  mu_jm_init (&m, 5, 0, 0);
  mu_jm_event_t open = { .type = MU_JM_E_OPEN };
  assert_int_equal (mu_jm_feed (&m, &open, &out), 0);
  assert_int_equal (out.d[0].reform, 0); /* the first round: last call */
  m.state = MU_JOB_RECOVERING;
  m.epoch = 3;
  m.restarts = 4;
  m.live = 1;
  mu_jm_event_t ex = { .type = MU_JM_E_WORKER_EXIT, .counted = 1 };
  assert_int_equal (mu_jm_feed (&m, &ex, &out), 0);
  assert_int_equal (out.d[1].action, MU_JM_D_ARM_BACKOFF);
  assert_int_equal (out.d[1].ms, 400); /* J3: 100, 200, 400 */
  mu_jm_event_t done = { .type = MU_JM_E_BACKOFF_DONE };
  assert_int_equal (mu_jm_feed (&m, &done, &out), 0);
  assert_int_equal (out.d[0].reform, 1); /* re-forms: no last call */
  /* budget text names the budget */
  mu_jm_init (&m, 0, 0, 0);
  m.state = MU_JOB_RUNNING;
  m.live = 2;
  m.world = 2;
  mu_jm_event_t f = { .type = MU_JM_E_WORKER_EXIT, .counted = 1,
                      .charge = MU_JM_CHARGE_USER, .exit_code = 2,
                      .why = "rank 1 on node n1 exited with code 2" };
  assert_int_equal (mu_jm_feed (&m, &f, &out), 0);
  assert_string_equal (out.reason, "rank 1 on node n1 exited with code 2; "
                                   "restart budget exhausted (0 of 0 used)");
  assert_int_equal (out.d[1].action, MU_JM_D_STOPPING);
  assert_int_equal (out.d[1].stop_workers, 1);
  /* J8 */
  assert_int_equal (mu_jm_feed (NULL, &f, &out), MUSTER_EINVAL);
  assert_int_equal (mu_jm_feed (&m, NULL, &out), MUSTER_EINVAL);
  assert_int_equal (mu_jm_feed (&m, &f, NULL), MUSTER_EINVAL);
  mu_jm_event_t bad = { .type = (mu_jm_event_type_t)99 };
  assert_int_equal (mu_jm_feed (&m, &bad, &out), MUSTER_EINVAL);
  assert_int_equal (mu_jm_backoff_ms (1), 0);
  assert_int_equal (mu_jm_backoff_ms (2), 100);
  assert_int_equal (mu_jm_backoff_ms (100), MU_JM_BACKOFF_MAX_MS);
}

static int
state_by_name (const char *s)
{
  for (int i = 0; i < MU_JOB_NSTATES; i++)
    {
      char up[32];
      const char *n = mu_job_state_name ((mu_job_state_t)i);
      size_t k = 0;
      for (; n[k] && k < sizeof up - 1; k++)
        up[k] = (char)(n[k] - 'a' + 'A');
      up[k] = '\0';
      if (strcmp (up, s) == 0)
        return i;
    }
  return -1;
}

static int
event_by_name (const char *s)
{
  for (int i = 0; i < MU_JM_NEVENTS; i++)
    if (strcmp (mu_jm_event_name ((mu_jm_event_type_t)i), s) == 0)
      return i;
  return -1;
}

/* The header's rule lines are the code's table, entry for entry. */
static void
test_header_matches_table (void **state)
{
  (void)state;
  FILE *f = fopen (MU_SRC_DIR "/coordinator/job_machine.h", "r");
  assert_non_null (f);
  const char *seen[MU_JOB_NSTATES][MU_JM_NEVENTS];
  memset (seen, 0, sizeof seen);
  static char names[64][32];
  size_t nnames = 0;
  char line[256];
  int rules = 0;
  while (fgets (line, sizeof line, f) != NULL)
    {
      char st[32], ev[32], fn[32];
      if (strncmp (line, " * R  ", 6) != 0
          || sscanf (line + 6, "%31s %31s %31s", st, ev, fn) != 3)
        continue;
      int s = state_by_name (st), e = event_by_name (ev);
      if (s < 0 || e < 0)
        {
          print_error ("job_machine.h: unknown state or event in '%s'", line);
          fail ();
        }
      assert_true (nnames < 64);
      snprintf (names[nnames], sizeof names[nnames], "%s", fn);
      seen[s][e] = names[nnames++];
      rules++;
    }
  fclose (f);
  assert_true (rules > 10);
  for (int s = 0; s < MU_JOB_NSTATES; s++)
    for (int e = 0; e < MU_JM_NEVENTS; e++)
      {
        const char *code = mu_jm_rule ((mu_job_state_t)s,
                                       (mu_jm_event_type_t)e);
        const char *doc = seen[s][e];
        if ((code == NULL) != (doc == NULL)
            || (code != NULL && strcmp (code, doc) != 0))
          {
            print_error ("%s x %s: header says %s, table says %s\n",
                         mu_job_state_name ((mu_job_state_t)s),
                         mu_jm_event_name ((mu_jm_event_type_t)e),
                         doc ? doc : "(ignored)", code ? code : "(ignored)");
            fail ();
          }
      }
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_rules_table),
    cmocka_unit_test (test_decision_details),
    cmocka_unit_test (test_header_matches_table),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
