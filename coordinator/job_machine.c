/*
 * job_machine.c — the job lifecycle machine (rules in job_machine.h).
 *
 * DESIGN.  One table, `rules`, maps (state, event) to a handler; a pair
 * with no entry is ignored.  Handlers change the machine's fields and
 * append decisions to the output; the shared steps (recover, stop for
 * good, drain, finish, open a round) are small functions the handlers
 * call, so a rule such as "a failure with its budget spent stops the job"
 * is written once.  The names in the table are the names the header's
 * rule lines give, and job_machine_test.c compares the two.
 */
#include "coordinator/job_machine.h"

#include <stdio.h>
#include <string.h>

#include <muster/error.h>

typedef void (*handler_fn) (mu_jm_t *m, const mu_jm_event_t *ev,
                            mu_jm_out_t *out);

typedef struct rule {
  handler_fn fn;
  const char *name;
} rule_t;

/* ------------------------------------------------------------ plumbing */

static mu_jm_decision_t *
emit (mu_jm_out_t *out, mu_jm_action_t a)
{
  /* The longest path emits 4 decisions (exit, recover, recovering,
   * backoff); running out of room is a bug in this file. */
  if (out->n >= MU_JM_MAX_DECISIONS)
    return &out->d[MU_JM_MAX_DECISIONS - 1];
  mu_jm_decision_t *d = &out->d[out->n++];
  memset (d, 0, sizeof *d);
  d->action = a;
  return d;
}

static void
enter (mu_jm_t *m, mu_job_state_t s, const mu_jm_event_t *ev)
{
  m->state = s;
  m->state_since_ms = ev->now_ms;
}

uint64_t
mu_jm_backoff_ms (uint64_t restarts)
{
  if (restarts <= 1)
    return 0;
  uint64_t b = MU_JM_BACKOFF_BASE_MS;
  for (uint64_t i = 2; i < restarts && b < MU_JM_BACKOFF_MAX_MS; i++)
    b *= 2;
  return b < MU_JM_BACKOFF_MAX_MS ? b : MU_JM_BACKOFF_MAX_MS;
}

/* J5: the exit code a failure gives the job. */
static int
exit_code_of (int64_t code, int64_t sig)
{
  if (sig > 0)
    return 128 + (int)sig;
  if (code > 0 && code < 256)
    return (int)code;
  return 1;
}

static void
note_failure (mu_jm_t *m, int64_t code, int64_t sig)
{
  if (m->fail_exit == 0)
    m->fail_exit = exit_code_of (code, sig);
}

/* ----------------------------------------------------- shared steps */

static void
finish (mu_jm_t *m, mu_job_state_t st, const mu_jm_event_t *ev,
        mu_jm_out_t *out)
{
  enter (m, st, ev);
  m->resumable = ev->resumable != 0;
  m->final_exit_code = st == MU_JOB_SUCCEEDED   ? 0
                       : st == MU_JOB_CANCELLED ? 130
                       : st == MU_JOB_SUSPENDED ? (m->resumable ? 0 : 1)
                       : m->fail_exit         ? m->fail_exit
                                              : 1;
  mu_jm_decision_t *d = emit (out, MU_JM_D_FINISH);
  d->state = st;
  d->exit_code = m->final_exit_code;
}

static void
open_round (mu_jm_t *m, const mu_jm_event_t *ev, mu_jm_out_t *out)
{
  enter (m, MU_JOB_RENDEZVOUS, ev);
  emit (out, MU_JM_D_OPEN_ROUND)->reform = m->epoch > 0;
}

/* Every worker of the epoch is down: move on. */
static void
drain (mu_jm_t *m, const mu_jm_event_t *ev, mu_jm_out_t *out)
{
  if (m->live > 0)
    return;
  switch (m->state)
    {
    case MU_JOB_RUNNING:
      if (m->world > 0 && m->ok_exits >= m->world)
        {
          snprintf (out->text, sizeof out->text, "all %llu workers exited 0",
                    (unsigned long long)m->world);
          out->reason = out->text;
          finish (m, MU_JOB_SUCCEEDED, ev, out);
        }
      break;
    case MU_JOB_RECOVERING:
      {
        uint64_t b = mu_jm_backoff_ms (m->restarts);
        if (b == 0)
          open_round (m, ev, out);
        else
          emit (out, MU_JM_D_ARM_BACKOFF)->ms = b;
        break;
      }
    case MU_JOB_STOPPING:
      finish (m, m->final_state, ev, out);
      break;
    default:
      break;
    }
}

/* J4 */
static void
stop_for_good (mu_jm_t *m, mu_job_state_t final, const char *why,
               const mu_jm_event_t *ev, mu_jm_out_t *out)
{
  if (m->state >= MU_JOB_STOPPING)
    return;
  mu_job_state_t was = m->state;
  m->final_state = final;
  enter (m, MU_JOB_STOPPING, ev);
  out->reason = why ? why : "";
  mu_jm_decision_t *d = emit (out, MU_JM_D_STOPPING);
  d->stop_workers = was == MU_JOB_RUNNING || was == MU_JOB_RECOVERING;
  if (!d->stop_workers)
    m->live = 0;
  drain (m, ev, out);
}

/* J1: draw a failure of `kind` on its budget; 0 when the budget is spent
 * (the job is then stopping for good as FAILED). */
static int
charge (mu_jm_t *m, mu_jm_charge_t kind, const char *why,
        const mu_jm_event_t *ev, mu_jm_out_t *out)
{
  if (kind == MU_JM_CHARGE_USER)
    {
      if (m->user_failures >= m->max_restarts)
        {
          snprintf (out->text, sizeof out->text,
                    "%s; restart budget exhausted (%llu of %llu used)", why,
                    (unsigned long long)m->user_failures,
                    (unsigned long long)m->max_restarts);
          stop_for_good (m, MU_JOB_FAILED, out->text, ev, out);
          return 0;
        }
      m->user_failures++;
    }
  else if (kind == MU_JM_CHARGE_INFRA)
    {
      if (m->infra_failures >= m->infra_budget)
        {
          snprintf (out->text, sizeof out->text,
                    "%s; infrastructure restart budget exhausted (%llu)", why,
                    (unsigned long long)m->infra_budget);
          stop_for_good (m, MU_JOB_FAILED, out->text, ev, out);
          return 0;
        }
      m->infra_failures++;
    }
  return 1;
}

/* J1, J2: recover from the running epoch, or fail when the budget of
 * `kind` is spent. */
static void
recover (mu_jm_t *m, mu_jm_charge_t kind, const char *why,
         const mu_jm_event_t *ev, mu_jm_out_t *out)
{
  if (m->state != MU_JOB_RUNNING)
    return;
  why = why ? why : "";
  if (!charge (m, kind, why, ev, out))
    return;
  m->restarts++;
  out->reason = why;
  emit (out, MU_JM_D_RECOVER)->kind = kind;
  if (m->in_place)
    {
      open_round (m, ev, out);
      return;
    }
  enter (m, MU_JOB_RECOVERING, ev);
  emit (out, MU_JM_D_RECOVERING);
  drain (m, ev, out);
}

/* ------------------------------------------------------------ handlers */

static void
h_open_round (mu_jm_t *m, const mu_jm_event_t *ev, mu_jm_out_t *out)
{
  open_round (m, ev, out);
}

static void
h_start_epoch (mu_jm_t *m, const mu_jm_event_t *ev, mu_jm_out_t *out)
{
  m->epoch = ev->epoch;
  m->world = ev->world;
  m->live = ev->live;
  m->ok_exits = 0;
  m->fail_exit = 0; /* J5: the root cause is the last epoch's */
  enter (m, MU_JOB_RUNNING, ev);
  emit (out, MU_JM_D_START_EPOCH);
}

/* J9: a service replica failed: restart it alone, charged as J1 says. */
static void
restart_replica (mu_jm_t *m, const mu_jm_event_t *ev, mu_jm_out_t *out)
{
  const char *why = ev->why ? ev->why : "";
  note_failure (m, ev->exit_code, ev->signal);
  if (!charge (m, ev->charge, why, ev, out))
    return;
  m->restarts++;
  out->reason = why;
  mu_jm_decision_t *d = emit (out, MU_JM_D_RESTART_REPLICA);
  d->kind = ev->charge;
  d->ms = mu_jm_backoff_ms (m->restarts);
}

static void
h_worker_exit (mu_jm_t *m, const mu_jm_event_t *ev, mu_jm_out_t *out)
{
  if (ev->counted && m->live > 0)
    m->live--;
  if (ev->ok)
    m->ok_exits++;
  emit (out, MU_JM_D_JOURNAL_EXIT);
  if (ev->replica && m->state == MU_JOB_RUNNING)
    {
      /* J9: failures restart the replica; a stop on purpose (charge
       * NONE) waits for its restart; ok exits drain as J1 says. */
      if (!ev->ok && (ev->charge == MU_JM_CHARGE_USER
                      || ev->charge == MU_JM_CHARGE_INFRA))
        restart_replica (m, ev, out);
      else if (ev->ok)
        drain (m, ev, out);
      return;
    }
  if (!ev->ok && m->state == MU_JOB_RUNNING
      && (ev->charge == MU_JM_CHARGE_USER || ev->charge == MU_JM_CHARGE_INFRA))
    {
      note_failure (m, ev->exit_code, ev->signal);
      recover (m, ev->charge, ev->why, ev, out);
    }
  drain (m, ev, out);
}

static void
h_recover (mu_jm_t *m, const mu_jm_event_t *ev, mu_jm_out_t *out)
{
  if (ev->charge == MU_JM_CHARGE_USER || ev->charge == MU_JM_CHARGE_INFRA)
    note_failure (m, ev->exit_code, ev->signal);
  recover (m, ev->charge == MU_JM_CHARGE_NONE ? MU_JM_CHARGE_SCALE
                                             : ev->charge,
           ev->why, ev, out);
}

static void
h_node_lost (mu_jm_t *m, const mu_jm_event_t *ev, mu_jm_out_t *out)
{
  m->live = m->live >= ev->live_lost ? m->live - ev->live_lost : 0;
  if (ev->cordoned)
    drain (m, ev, out); /* it had already left the rendezvous */
  else if (m->state == MU_JOB_RUNNING && ev->was_member
           && ev->charge != MU_JM_CHARGE_INFRA)
    recover (m, MU_JM_CHARGE_SCALE, ev->why, ev, out); /* left on purpose */
  else if (m->state == MU_JOB_RUNNING && ev->was_member)
    {
      note_failure (m, 0, 0);
      recover (m, MU_JM_CHARGE_INFRA, ev->why, ev, out);
    }
  else if (m->state != MU_JOB_RENDEZVOUS)
    drain (m, ev, out);
  /* RENDEZVOUS: the rendezvous machine's decision is the caller's */
}

static void
h_replica_start (mu_jm_t *m, const mu_jm_event_t *ev, mu_jm_out_t *out)
{
  (void)out;
  m->live += ev->live;
}

static void
h_drain_timeout (mu_jm_t *m, const mu_jm_event_t *ev, mu_jm_out_t *out)
{
  m->live = 0;
  drain (m, ev, out);
}

static void
h_backoff_done (mu_jm_t *m, const mu_jm_event_t *ev, mu_jm_out_t *out)
{
  if (m->live == 0)
    open_round (m, ev, out);
}

static void
h_stop_for_good (mu_jm_t *m, const mu_jm_event_t *ev, mu_jm_out_t *out)
{
  mu_job_state_t final = ev->type == MU_JM_E_CANCEL    ? MU_JOB_CANCELLED
                         : ev->type == MU_JM_E_SUSPEND ? MU_JOB_SUSPENDED
                                                       : MU_JOB_FAILED;
  stop_for_good (m, final, ev->why, ev, out);
}

static void
h_discard (mu_jm_t *m, const mu_jm_event_t *ev, mu_jm_out_t *out)
{
  (void)out;
  enter (m, MU_JOB_CANCELLED, ev);
}

static void
h_restore (mu_jm_t *m, const mu_jm_event_t *ev, mu_jm_out_t *out)
{
  (void)out;
  m->epoch = ev->epoch;
  m->world = ev->world;
  m->restarts = ev->restarts;
  m->user_failures = ev->user_failures;
  m->infra_failures = ev->infra_failures;
  m->ok_exits = ev->ok_exits;
  m->live = ev->live;
  m->resumable = ev->resumable != 0;
  if (ev->state == MU_JOB_STOPPING)
    {
      /* It was stopping for good: it ends as it would have (J5 without
       * the failure's code, which the journal does not keep). */
      mu_job_state_t f = ev->final_state;
      enter (m, f, ev);
      m->final_exit_code = f == MU_JOB_CANCELLED   ? 130
                           : f == MU_JOB_SUSPENDED ? (m->resumable ? 0 : 1)
                                                   : 1;
    }
  else if (ev->state >= MU_JOB_SUCCEEDED)
    {
      enter (m, ev->state, ev);
      m->final_exit_code = ev->exit_code_final;
    }
  else if (ev->state == MU_JOB_RUNNING)
    enter (m, MU_JOB_RUNNING, ev);
  /* Between epochs: PENDING, and the caller opens the next round. */
}

/* ------------------------------------------------------------ the table */

#define R(fn) { h_##fn, #fn }
static const rule_t rules[MU_JOB_NSTATES][MU_JM_NEVENTS] = {
  [MU_JOB_PENDING] = {
    [MU_JM_E_OPEN] = R (open_round),
    [MU_JM_E_FAIL] = R (stop_for_good),
    [MU_JM_E_CANCEL] = R (stop_for_good),
    [MU_JM_E_SUSPEND] = R (stop_for_good),
    [MU_JM_E_DISCARD] = R (discard),
    [MU_JM_E_RESTORE] = R (restore),
  },
  [MU_JOB_RENDEZVOUS] = {
    [MU_JM_E_ROUND_CLOSED] = R (start_epoch),
    [MU_JM_E_WORKER_EXIT] = R (worker_exit),
    [MU_JM_E_NODE_LOST] = R (node_lost),
    [MU_JM_E_FAIL] = R (stop_for_good),
    [MU_JM_E_CANCEL] = R (stop_for_good),
    [MU_JM_E_SUSPEND] = R (stop_for_good),
  },
  [MU_JOB_RUNNING] = {
    [MU_JM_E_WORKER_EXIT] = R (worker_exit),
    [MU_JM_E_RECOVER] = R (recover),
    [MU_JM_E_NODE_LOST] = R (node_lost),
    [MU_JM_E_FAIL] = R (stop_for_good),
    [MU_JM_E_CANCEL] = R (stop_for_good),
    [MU_JM_E_SUSPEND] = R (stop_for_good),
    [MU_JM_E_REPLICA_START] = R (replica_start),
  },
  [MU_JOB_RECOVERING] = {
    [MU_JM_E_WORKER_EXIT] = R (worker_exit),
    [MU_JM_E_NODE_LOST] = R (node_lost),
    [MU_JM_E_DRAIN_TIMEOUT] = R (drain_timeout),
    [MU_JM_E_BACKOFF_DONE] = R (backoff_done),
    [MU_JM_E_FAIL] = R (stop_for_good),
    [MU_JM_E_CANCEL] = R (stop_for_good),
    [MU_JM_E_SUSPEND] = R (stop_for_good),
  },
  [MU_JOB_STOPPING] = {
    [MU_JM_E_WORKER_EXIT] = R (worker_exit),
    [MU_JM_E_NODE_LOST] = R (node_lost),
    [MU_JM_E_DRAIN_TIMEOUT] = R (drain_timeout),
  },
  [MU_JOB_SUSPENDED] = {
    [MU_JM_E_RESUME] = R (open_round),
  },
};
#undef R

const char *
mu_jm_rule (mu_job_state_t s, mu_jm_event_type_t e)
{
  if ((unsigned)s >= MU_JOB_NSTATES || (unsigned)e >= MU_JM_NEVENTS)
    return NULL;
  return rules[s][e].name;
}

void
mu_jm_init (mu_jm_t *m, uint64_t max_restarts, uint64_t infra_budget,
            int in_place)
{
  memset (m, 0, sizeof *m);
  m->state = MU_JOB_PENDING;
  m->final_state = MU_JOB_FAILED;
  m->max_restarts = max_restarts;
  m->infra_budget = infra_budget ? infra_budget : MU_JM_INFRA_BUDGET_DEFAULT;
  m->in_place = in_place != 0;
  m->final_exit_code = -1;
}

int
mu_jm_feed (mu_jm_t *m, const mu_jm_event_t *ev, mu_jm_out_t *out)
{
  if (out != NULL)
    {
      out->n = 0;
      out->reason = NULL;
      out->text[0] = '\0';
    }
  if (m == NULL || ev == NULL || out == NULL
      || (unsigned)ev->type >= MU_JM_NEVENTS)
    return MUSTER_EINVAL;
  const rule_t *r = &rules[m->state][ev->type];
  if (r->fn != NULL)
    r->fn (m, ev, out);
  return 0;
}

const char *
mu_job_state_name (mu_job_state_t s)
{
  static const char *const names[MU_JOB_NSTATES] = {
    "pending",  "rendezvous", "running",   "recovering", "stopping",
    "succeeded", "failed",    "cancelled", "suspended"
  };
  return (unsigned)s < MU_JOB_NSTATES ? names[s] : "?";
}

const char *
mu_jm_event_name (mu_jm_event_type_t e)
{
  static const char *const names[MU_JM_NEVENTS] = {
    "OPEN",    "ROUND_CLOSED", "WORKER_EXIT", "RECOVER", "NODE_LOST",
    "DRAIN_TIMEOUT", "BACKOFF_DONE", "FAIL",     "CANCEL",  "SUSPEND",
    "RESUME",  "DISCARD",      "RESTORE",      "REPLICA_START"
  };
  return (unsigned)e < MU_JM_NEVENTS ? names[e] : "?";
}

const char *
mu_jm_action_name (mu_jm_action_t a)
{
  static const char *const names[] = {
    "JOURNAL_EXIT", "RECOVER",  "OPEN_ROUND",  "START_EPOCH",
    "RECOVERING",   "STOPPING", "ARM_BACKOFF", "FINISH",
    "RESTART_REPLICA"
  };
  return (unsigned)a < sizeof names / sizeof names[0] ? names[a] : "?";
}
