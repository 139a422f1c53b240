/*
 * job_machine_prop_test.c — random event sequences against the job
 * lifecycle machine, checking the invariants its rules promise:
 *
 *  - terminal states (succeeded, failed, cancelled) are absorbing: no
 *    event changes them or yields a decision; suspended is left only by
 *    RESUME, into RENDEZVOUS;
 *  - each life of a job (its start, or a resume, to its end) reports
 *    exactly one FINISH, in the state the machine is left in, with the
 *    exit code J5 gives (0 succeeded, 130 cancelled);
 *  - a stop for good is decided at most once per life;
 *  - the budgets hold: user_failures <= max_restarts, infra_failures <=
 *    infra_budget, so restarts charged never exceed the budgets;
 *  - START_EPOCH comes only out of RENDEZVOUS, and in restart mode only
 *    when no worker of the previous epoch is live (no job.start while an
 *    epoch runs); RECOVERING (job.stop to recover) never in place;
 *  - live never wraps, and every output fits MU_JM_MAX_DECISIONS.
 *
 * The seed is printed; MU_SEED=N replays one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "coordinator/job_machine.h"

#define SEQUENCES 3000
#define EVENTS 80

static uint64_t rng;

static uint32_t
rnd (uint32_t n)
{
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (uint32_t)(rng % n);
}

static int
terminal (mu_job_state_t s)
{
  return s == MU_JOB_SUCCEEDED || s == MU_JOB_FAILED || s == MU_JOB_CANCELLED;
}

static mu_jm_event_t
random_event (const mu_jm_t *m, uint64_t now)
{
  mu_jm_event_t ev;
  memset (&ev, 0, sizeof ev);
  /* RESTORE and DISCARD are set-up events, not part of a life. */
  do
    ev.type = (mu_jm_event_type_t)rnd (MU_JM_NEVENTS);
  while (ev.type == MU_JM_E_RESTORE || ev.type == MU_JM_E_DISCARD);
  /* Worker exits are most of real life: weigh them up. */
  if (rnd (3) == 0)
    ev.type = MU_JM_E_WORKER_EXIT;
  ev.now_ms = now;
  ev.why = "because";
  ev.resumable = (int)rnd (2);
  ev.epoch = m->epoch + 1;
  ev.world = 1 + rnd (8);
  ev.live = ev.world;
  ev.ok = (int)rnd (2);
  ev.counted = rnd (5) != 0;
  ev.charge = (mu_jm_charge_t)rnd (4);
  ev.exit_code = rnd (4);
  ev.signal = rnd (4) == 0 ? 9 : 0;
  ev.live_lost = rnd (4);
  ev.was_member = (int)rnd (2);
  ev.cordoned = rnd (6) == 0;
  ev.replica = rnd (3) == 0; /* service (J9) */
  return ev;
}

static void
one_sequence (uint64_t seq)
{
  mu_jm_t m;
  uint64_t max_restarts = rnd (4), infra = rnd (3);
  mu_jm_init (&m, max_restarts, infra, rnd (3) == 0);
  int finishes = 0, stops = 0;
  uint64_t now = 1000;
  for (int i = 0; i < EVENTS; i++)
    {
      now += rnd (500);
      mu_jm_event_t ev = random_event (&m, now);
      mu_jm_t before = m;
      mu_jm_out_t out;
      assert_int_equal (mu_jm_feed (&m, &ev, &out), 0);
      assert_true (out.n <= MU_JM_MAX_DECISIONS);
      if (terminal (before.state))
        {
          if (out.n != 0 || m.state != before.state)
            {
              print_error ("seq %llu event %d: %s left terminal %s\n",
                           (unsigned long long)seq, i,
                           mu_jm_event_name (ev.type),
                           mu_job_state_name (before.state));
              fail ();
            }
          continue;
        }
      if (before.state == MU_JOB_SUSPENDED)
        {
          assert_true (m.state == MU_JOB_SUSPENDED
                       || (ev.type == MU_JM_E_RESUME
                           && m.state == MU_JOB_RENDEZVOUS));
          if (m.state != MU_JOB_SUSPENDED)
            finishes = stops = 0; /* a new life */
        }
      assert_true (m.live <= before.live || ev.type == MU_JM_E_ROUND_CLOSED
                   || ev.type == MU_JM_E_REPLICA_START);
      assert_true (m.user_failures <= m.max_restarts);
      assert_true (m.infra_failures <= m.infra_budget);
      assert_true (m.restarts >= before.restarts);
      for (size_t k = 0; k < out.n; k++)
        {
          const mu_jm_decision_t *d = &out.d[k];
          switch (d->action)
            {
            case MU_JM_D_START_EPOCH:
              assert_int_equal (before.state, MU_JOB_RENDEZVOUS);
              if (!m.in_place)
                assert_int_equal (before.live, 0);
              break;
            case MU_JM_D_RECOVERING:
              assert_false (m.in_place);
              break;
            case MU_JM_D_RESTART_REPLICA: /* J9: same epoch, one restart */
              assert_true (ev.replica);
              assert_int_equal (before.state, MU_JOB_RUNNING);
              assert_int_equal (m.state, MU_JOB_RUNNING);
              assert_int_equal (m.epoch, before.epoch);
              assert_int_equal (m.restarts, before.restarts + 1);
              break;
            case MU_JM_D_STOPPING:
              stops++;
              assert_int_equal (stops, 1);
              break;
            case MU_JM_D_FINISH:
              finishes++;
              assert_int_equal (finishes, 1);
              assert_int_equal (k, out.n - 1); /* nothing after the end */
              assert_int_equal (d->state, m.state);
              assert_int_equal (d->exit_code, m.final_exit_code);
              if (m.state == MU_JOB_SUCCEEDED)
                assert_int_equal (m.final_exit_code, 0);
              if (m.state == MU_JOB_CANCELLED)
                assert_int_equal (m.final_exit_code, 130);
              if (m.state == MU_JOB_FAILED)
                assert_true (m.final_exit_code >= 1);
              break;
            default:
              break;
            }
        }
      /* Reaching an end state is reported, exactly then. */
      int ended = (terminal (m.state) || m.state == MU_JOB_SUSPENDED)
                  && m.state != before.state;
      int reported = out.n > 0 && out.d[out.n - 1].action == MU_JM_D_FINISH;
      if (ended != reported)
        {
          print_error ("seq %llu event %d: %s -> %s by %s, FINISH %s\n",
                       (unsigned long long)seq, i,
                       mu_job_state_name (before.state),
                       mu_job_state_name (m.state),
                       mu_jm_event_name (ev.type),
                       reported ? "reported" : "missing");
          fail ();
        }
    }
}

static void
test_random_sequences (void **state)
{
  (void)state;
  const char *env = getenv ("MU_SEED");
  uint64_t seed = env ? strtoull (env, NULL, 10) : (uint64_t)time (NULL);
  print_message ("job_machine_prop_test: seed %llu (MU_SEED=%llu replays)\n",
                 (unsigned long long)seed, (unsigned long long)seed);
  for (uint64_t s = 0; s < SEQUENCES; s++)
    {
      rng = (seed * 2654435761u + s) | 1;
      one_sequence (s);
    }
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_random_sequences),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
