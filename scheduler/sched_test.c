/*
 * sched_test.c — the rules of sched.h, one case each: decisions are turned
 * into lines ("place a worker n1 2") and compared with what the rule says.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <muster/error.h>

#include "scheduler/sched.h"
#include "scheduler/sched_spec.h"

typedef struct role_in
{
  const char *name;
  uint32_t min, max, slots;
  const char *sel; /* one label or NULL */
} role_in_t;

static void
node (mu_sched_t *s, const char *id, uint32_t slots, const char *l1,
      const char *l2)
{
  const char *labels[2] = { l1, l2 };
  size_t n = l2 ? 2 : l1 ? 1 : 0;
  char err[256] = "";
  assert_int_equal (
      mu_sched_node_add (s, id, slots, labels, n, err, sizeof err), 0);
}

static int
submit_roles (mu_sched_t *s, const char *id, const char *tenant, int64_t prio,
              bool elastic, mu_sched_kind_t kind, const role_in_t *ri, size_t n,
              uint64_t now, char *err, size_t errlen)
{
  mu_sched_role_t roles[MU_SCHED_MAX_ROLES];
  const char *sels[MU_SCHED_MAX_ROLES][1];
  memset (roles, 0, sizeof roles);
  for (size_t i = 0; i < n; i++)
    {
      roles[i].name = ri[i].name;
      roles[i].min = ri[i].min;
      roles[i].max = ri[i].max;
      roles[i].slots = ri[i].slots;
      sels[i][0] = ri[i].sel;
      roles[i].selector = sels[i];
      roles[i].nselector = ri[i].sel ? 1 : 0;
    }
  mu_sched_job_t j = { .id = id,
                       .tenant = tenant,
                       .priority = prio,
                       .kind = kind,
                       .elastic = elastic,
                       .roles = roles,
                       .nroles = n };
  return mu_sched_submit (s, &j, now, err, errlen);
}

/* One role "worker" of min..max replicas of `slots`. */
static void
job (mu_sched_t *s, const char *id, int64_t prio, bool elastic, uint32_t min,
     uint32_t max, uint32_t slots, const char *sel, uint64_t now)
{
  role_in_t r = { "worker", min, max, slots, sel };
  char err[256] = "";
  int rc = submit_roles (s, id, NULL, prio, elastic, MU_SCHED_GANG, &r, 1, now,
                         err, sizeof err);
  if (rc != 0)
    fail_msg ("submit %s: %s", id, err);
}

/* Tick; decisions as lines "action job [role node replicas]" joined by
 * "; "; the placements are acked when ack is set. */
static char out[8192];
static const char *
tick (mu_sched_t *s, int ack)
{
  const mu_sched_decision_t *d;
  size_t n = mu_sched_tick (s, &d);
  size_t used = 0;
  out[0] = '\0';
  /* copy first: acks change the scheduler (and the decision strings) */
  typedef struct
  {
    int a;
    char j[64], r[64], nd[64];
  } dd_t;
  dd_t *v = calloc (n + 1, sizeof *v);
  for (size_t i = 0; i < n; i++)
    {
      if (d[i].role)
        used += (size_t)snprintf (out + used, sizeof out - used,
                                  "%s%s %s %s %s %u", i ? "; " : "",
                                  mu_sched_action_name (d[i].action), d[i].job,
                                  d[i].role, d[i].node, d[i].replicas);
      else
        used += (size_t)snprintf (out + used, sizeof out - used, "%s%s %s",
                                  i ? "; " : "",
                                  mu_sched_action_name (d[i].action), d[i].job);
      v[i].a = d[i].action;
      snprintf (v[i].j, 64, "%s", d[i].job);
      snprintf (v[i].r, 64, "%s", d[i].role ? d[i].role : "");
      snprintf (v[i].nd, 64, "%s", d[i].node ? d[i].node : "");
    }
  for (size_t i = 0; ack && i < n; i++)
    {
      if (v[i].a == MU_SCHED_PLACE || v[i].a == MU_SCHED_GROW)
        assert_int_equal (
            mu_sched_ack_placed (s, v[i].j, v[i].r, v[i].nd, true), 0);
      else if (v[i].a == MU_SCHED_SHRINK)
        mu_sched_ack_shrunk (s, v[i].j, v[i].r, v[i].nd); /* may be merged */
      else if (v[i].a == MU_SCHED_SUSPEND)
        assert_int_equal (mu_sched_ack_suspended (s, v[i].j), 0);
    }
  free (v);
  return out;
}

static mu_sched_job_state_t
state (mu_sched_t *s, const char *id)
{
  mu_sched_job_view_t v;
  assert_int_equal (mu_sched_job_query (s, id, &v), 0);
  return v.state;
}

static const char *
reason (mu_sched_t *s, const char *id)
{
  mu_sched_job_view_t v;
  assert_int_equal (mu_sched_job_query (s, id, &v), 0);
  return v.reason;
}

static uint32_t
held (mu_sched_t *s, const char *id)
{
  mu_sched_job_view_t v;
  assert_int_equal (mu_sched_job_query (s, id, &v), 0);
  return v.slots;
}

/* ------------------------------------------------------------------ cases */

static void
test_gang_never_partial (void **st)
{
  (void)st;
  mu_sched_t *s = mu_sched_new (NULL);
  node (s, "n1", 4, NULL, NULL);
  node (s, "n2", 4, NULL, NULL);
  job (s, "big", 0, false, 3, 3, 4, NULL, 1);
  assert_string_equal (tick (s, 1), "");
  assert_int_equal (state (s, "big"), MU_SCHED_JOB_PENDING);
  assert_int_equal (held (s, "big"), 0);
  assert_string_equal (
      reason (s, "big"),
      "role worker needs 12 slots (3 x 4); 8 free on 2 node(s)");
  node (s, "n3", 4, NULL, NULL);
  assert_string_equal (tick (s, 1),
                       "place big worker n1 1; place big worker n2 1; "
                       "place big worker n3 1");
  assert_int_equal (state (s, "big"), MU_SCHED_JOB_RUNNING);
  mu_sched_destroy (&s);
  assert_null (s);
}

static void
test_multi_role_all_or_nothing (void **st)
{
  (void)st;
  mu_sched_t *s = mu_sched_new (NULL);
  node (s, "a", 4, "pool=ps", NULL);
  node (s, "b", 4, "pool=train", NULL);
  role_in_t r[2]
      = { { "ps", 2, 2, 2, "pool=ps" }, { "worker", 2, 2, 4, "pool=train" } };
  char err[256];
  assert_int_equal (submit_roles (s, "ctr", NULL, 0, false, MU_SCHED_PS, r, 2,
                                  1, err, sizeof err),
                    0);
  /* the ps role fits (2 x 2 on a) but the workers do not: nothing placed */
  assert_string_equal (tick (s, 1), "");
  assert_non_null (strstr (reason (s, "ctr"),
                           "role worker needs 8 slots (2 x 4) "
                           "on nodes with pool=train; 4 free"));
  node (s, "c", 4, "pool=train", NULL);
  assert_string_equal (tick (s, 1),
                       "place ctr worker b 1; place ctr worker c 1; "
                       "place ctr ps a 2");
  mu_sched_destroy (&s);
}

static void
test_priority_then_submit_order (void **st)
{
  (void)st;
  mu_sched_t *s = mu_sched_new (NULL);
  node (s, "n1", 2, NULL, NULL);
  job (s, "old-low", 1, false, 1, 1, 2, NULL, 1);
  job (s, "new-high", 5, false, 1, 1, 2, NULL, 2);
  job (s, "old-high", 5, false, 1, 1, 2, NULL, 1);
  assert_string_equal (tick (s, 1), "place old-high worker n1 1");
  assert_non_null (strstr (
      reason (s, "new-high"),
      "2 held by job old-high (priority 5) of equal or higher priority"));
  mu_sched_destroy (&s);
}

static void
test_backfill_small_behind_big (void **st)
{
  (void)st;
  mu_sched_t *s = mu_sched_new (NULL);
  node (s, "n1", 4, NULL, NULL);
  job (s, "big", 1, false, 2, 2, 4, NULL, 1);
  job (s, "small", 1, false, 1, 1, 2, NULL, 2);
  assert_string_equal (tick (s, 1), "place small worker n1 1");
  assert_int_equal (state (s, "big"), MU_SCHED_JOB_PENDING);
  mu_sched_destroy (&s);
}

/* n1: elastic (prio 2, 1..4 x 1 slot) holds 4; n2: fixed (prio 1) holds 4. */
static mu_sched_t *
two_victims (void)
{
  mu_sched_t *s = mu_sched_new (NULL);
  node (s, "n1", 4, NULL, NULL);
  node (s, "n2", 4, NULL, NULL);
  job (s, "fixed", 1, false, 1, 1, 4, NULL, 1);
  job (s, "elastic", 2, true, 1, 4, 1, NULL, 2);
  assert_string_equal (tick (s, 1),
                       "place elastic worker n1 1; place fixed worker n2 1; "
                       "grow elastic worker n1 3");
  return s;
}

static void
test_shrink_before_suspend (void **st)
{
  (void)st;
  mu_sched_t *s = two_victims ();
  job (s, "high", 9, false, 1, 1, 3, NULL, 3);
  /* fixed has the lowest priority, but shrinking elastic is enough */
  assert_string_equal (tick (s, 0), "shrink elastic worker n1 3");
  assert_non_null (strstr (reason (s, "high"),
                           "waiting for slots being freed by "
                           "preempting job elastic (shrink 3 of role worker)"));
  /* until the ack the slots are used; nothing new is decided */
  assert_string_equal (tick (s, 0), "");
  assert_int_equal (mu_sched_ack_shrunk (s, "elastic", "worker", "n1"), 0);
  mu_sched_node_view_t nv;
  assert_int_equal (mu_sched_node_query (s, "n1", &nv), 0);
  assert_int_equal (nv.used, 1);
  assert_int_equal (nv.reserved, 3); /* kept for high (S6) */
  assert_string_equal (tick (s, 1), "place high worker n1 1");
  assert_int_equal (mu_sched_node_query (s, "n1", &nv), 0);
  assert_int_equal (nv.reserved, 0);
  assert_int_equal (held (s, "elastic"), 1);
  assert_int_equal (state (s, "fixed"), MU_SCHED_JOB_RUNNING);
  mu_sched_destroy (&s);
}

static void
test_suspend_lowest_then_resume (void **st)
{
  (void)st;
  mu_sched_t *s = two_victims ();
  /* 4 slots on one node: shrinking elastic to 1 leaves 3 on n1; only
   * suspending fixed (lowest priority) frees a whole node; the shrink that
   * was tried is dropped again */
  job (s, "high", 9, false, 1, 1, 4, NULL, 3);
  assert_string_equal (tick (s, 0), "suspend fixed");
  assert_int_equal (state (s, "fixed"), MU_SCHED_JOB_SUSPENDING);
  assert_int_equal (held (s, "elastic"), 4);
  assert_int_equal (mu_sched_ack_suspended (s, "fixed"), 0);
  assert_int_equal (state (s, "fixed"), MU_SCHED_JOB_SUSPENDED);
  assert_string_equal (tick (s, 1), "place high worker n2 1");
  assert_non_null (
      strstr (reason (s, "fixed"), "4 held by job high (priority 9)"));
  /* capacity returns: the suspended job resumes */
  assert_int_equal (mu_sched_job_end (s, "high"), 0);
  assert_string_equal (tick (s, 1), "resume fixed; place fixed worker n2 1");
  mu_sched_destroy (&s);
}

static void
test_newest_first_among_equals (void **st)
{
  (void)st;
  mu_sched_t *s = mu_sched_new (NULL);
  node (s, "n1", 2, NULL, NULL);
  node (s, "n2", 2, NULL, NULL);
  job (s, "older", 1, false, 1, 1, 2, NULL, 10);
  job (s, "newer", 1, false, 1, 1, 2, NULL, 20);
  assert_string_equal (tick (s, 1),
                       "place older worker n1 1; place newer worker n2 1");
  job (s, "high", 5, false, 1, 1, 2, NULL, 30);
  assert_string_equal (tick (s, 1), "suspend newer");
  assert_string_equal (tick (s, 1), "place high worker n2 1");
  /* the suspended job keeps its submit time: it is ahead of a later one */
  job (s, "later", 1, false, 1, 1, 2, NULL, 40);
  assert_int_equal (mu_sched_job_end (s, "older"), 0);
  assert_string_equal (tick (s, 1), "resume newer; place newer worker n1 1");
  mu_sched_destroy (&s);
}

static void
test_equal_priority_never_preempts (void **st)
{
  (void)st;
  mu_sched_t *s = mu_sched_new (NULL);
  node (s, "n1", 2, NULL, NULL);
  job (s, "a", 3, false, 1, 1, 2, NULL, 1);
  assert_string_equal (tick (s, 1), "place a worker n1 1");
  job (s, "b", 3, false, 1, 1, 2, NULL, 2);
  assert_string_equal (tick (s, 1), "");
  assert_string_equal (
      reason (s, "b"),
      "role worker needs 2 slots (1 x 2); 0 free on "
      "0 node(s); 2 held by job a (priority 3) of equal or higher priority");
  mu_sched_destroy (&s);
}

static void
test_never_below_min (void **st)
{
  (void)st;
  mu_sched_t *s = mu_sched_new (NULL);
  node (s, "n1", 4, NULL, NULL);
  job (s, "el", 1, true, 2, 4, 1, NULL, 1);
  assert_string_equal (tick (s, 1),
                       "place el worker n1 2; grow el worker n1 2");
  /* 3 slots wanted: shrinking to min frees only 2, so el is suspended */
  job (s, "high", 9, false, 1, 1, 3, NULL, 2);
  assert_string_equal (tick (s, 1), "suspend el");
  mu_sched_destroy (&s);
}

static void
test_quota (void **st)
{
  (void)st;
  mu_sched_t *s = mu_sched_new (NULL);
  node (s, "n1", 8, NULL, NULL);
  assert_int_equal (mu_sched_quota_set (s, "team", 4), 0);
  role_in_t r = { "worker", 2, 2, 4, NULL };
  char err[256] = "";
  assert_int_equal (submit_roles (s, "toolarge", "team", 0, false,
                                  MU_SCHED_GANG, &r, 1, 1, err, sizeof err),
                    MUSTER_EQUOTA);
  assert_string_equal (err, "job toolarge needs 8 slots at its minimum; tenant "
                            "team's quota is 4 slots");
  r.min = r.max = 1;
  assert_int_equal (submit_roles (s, "one", "team", 0, false, MU_SCHED_GANG, &r,
                                  1, 1, err, sizeof err),
                    0);
  assert_int_equal (submit_roles (s, "two", "team", 0, false, MU_SCHED_GANG, &r,
                                  1, 2, err, sizeof err),
                    0);
  assert_string_equal (tick (s, 1), "place one worker n1 1");
  assert_string_equal (reason (s, "two"),
                       "tenant team is at its quota: 4 of 4 slots "
                       "in use, the job needs 4");
  assert_int_equal (mu_sched_tenant_used (s, "team"), 4);
  /* elastic growth stops at the quota too */
  role_in_t e = { "worker", 1, 8, 1, NULL };
  assert_int_equal (mu_sched_job_end (s, "two"), 0);
  assert_int_equal (mu_sched_job_end (s, "one"), 0);
  assert_int_equal (submit_roles (s, "el", "team", 0, true, MU_SCHED_GANG, &e,
                                  1, 3, err, sizeof err),
                    0);
  assert_string_equal (tick (s, 1),
                       "place el worker n1 1; grow el worker n1 3");
  assert_int_equal (mu_sched_tenant_used (s, "team"),
                    4 + 0); /* el: 4 of the 4 */
  /* a quota lowered below a queued job's minimum rejects it */
  assert_int_equal (submit_roles (s, "queued", "team", 0, false, MU_SCHED_GANG,
                                  &r, 1, 4, err, sizeof err),
                    0);
  assert_int_equal (mu_sched_quota_set (s, "team", 2), 0);
  assert_string_equal (tick (s, 1), "reject queued");
  assert_int_equal (
      mu_sched_job_query (s, "queued", &(mu_sched_job_view_t){ 0 }),
      MUSTER_ENOTFOUND);
  mu_sched_destroy (&s);
}

static void
test_labels_and_packing (void **st)
{
  (void)st;
  mu_sched_t *s = mu_sched_new (NULL);
  node (s, "n1", 2, "zone=a", "gpu=h100");
  node (s, "n2", 2, "zone=b", "gpu=h100");
  node (s, "n3", 2, "zone=a", "gpu=h100");
  node (s, "cpu", 8, "zone=a", NULL);
  job (s, "j", 0, false, 3, 3, 1, "gpu=h100", 1);
  /* n1 takes 2, then the third replica goes to n3, n1's zone */
  assert_string_equal (tick (s, 1), "place j worker n1 2; place j worker n3 1");
  /* a job on the node it already holds before any other */
  job (s, "k", 0, false, 1, 1, 1, "zone=b", 2);
  assert_string_equal (tick (s, 1), "place k worker n2 1");
  job (s, "nolabel", 0, false, 1, 1, 1, "gpu=a100", 3);
  assert_string_equal (tick (s, 1), "");
  assert_string_equal (reason (s, "nolabel"),
                       "role worker needs 1 slots (1 x 1) on "
                       "nodes with gpu=a100; no node carries those labels");
  mu_sched_destroy (&s);
}

static void
test_drain_moves_work (void **st)
{
  (void)st;
  mu_sched_t *s = mu_sched_new (NULL);
  node (s, "n1", 4, NULL, NULL);
  job (s, "g", 0, false, 1, 1, 4, NULL, 1);
  assert_string_equal (tick (s, 1), "place g worker n1 1");
  assert_int_equal (mu_sched_node_set_state (s, "n1", MU_SCHED_NODE_DRAINING),
                    0);
  /* nowhere to go: suspended */
  assert_string_equal (tick (s, 1), "suspend g");
  node (s, "n2", 4, NULL, NULL);
  assert_string_equal (tick (s, 1), "resume g; place g worker n2 1");
  /* now with room: moved (replacement, then the drained replica shrunk) */
  node (s, "n3", 4, NULL, NULL);
  assert_int_equal (mu_sched_node_set_state (s, "n2", MU_SCHED_NODE_DRAINING),
                    0);
  assert_string_equal (tick (s, 1), "grow g worker n3 1; shrink g worker n2 1");
  assert_int_equal (held (s, "g"), 4);
  /* cordoned: nothing new goes there, nothing moves */
  assert_int_equal (mu_sched_node_set_state (s, "n3", MU_SCHED_NODE_CORDONED),
                    0);
  job (s, "h", 0, false, 1, 1, 1, NULL, 2);
  assert_string_equal (tick (s, 1), "");
  assert_non_null (strstr (reason (s, "h"), "on cordoned or draining nodes"));
  assert_int_equal (mu_sched_node_set_state (s, "n3", MU_SCHED_NODE_READY), 0);
  assert_int_equal (mu_sched_node_set_state (s, "n2", MU_SCHED_NODE_READY), 0);
  assert_string_equal (tick (s, 1), "place h worker n2 1");
  mu_sched_destroy (&s);
}

static void
test_lost_node (void **st)
{
  (void)st;
  mu_sched_t *s = mu_sched_new (NULL);
  node (s, "n1", 2, NULL, NULL);
  node (s, "n2", 2, NULL, NULL);
  job (s, "g", 0, false, 1, 1, 2, NULL, 1);
  assert_string_equal (tick (s, 1), "place g worker n1 1");
  assert_int_equal (mu_sched_node_remove (s, "n1"), 0);
  assert_string_equal (tick (s, 1), "grow g worker n2 1");
  assert_int_equal (mu_sched_node_remove (s, "n2"), 0);
  assert_string_equal (tick (s, 1), "suspend g");
  mu_sched_destroy (&s);
}

static void
test_tidal_service (void **st)
{
  (void)st;
  mu_sched_t *s = mu_sched_new (NULL);
  node (s, "n1", 4, NULL, NULL);
  node (s, "n2", 4, NULL, NULL);
  role_in_t sv = { "serve", 1, 6, 1, NULL };
  char err[256];
  assert_int_equal (submit_roles (s, "svc", NULL, 10, false, MU_SCHED_SERVICE,
                                  &sv, 1, 1, err, sizeof err),
                    0);
  job (s, "train", 1, true, 2, 8, 1, NULL, 2);
  assert_string_equal (tick (s, 1),
                       "place svc serve n1 1; place train worker n1 2; "
                       "grow train worker n1 1; grow train worker n2 4");
  /* traffic rises: the service wants 3; training gives 2 slots back */
  assert_int_equal (mu_sched_scale (s, "svc", "serve", 3, err, sizeof err), 0);
  assert_string_equal (tick (s, 1), "shrink train worker n1 2");
  assert_string_equal (tick (s, 1), "grow svc serve n1 2");
  assert_int_equal (held (s, "train"), 5);
  /* traffic falls: the service shrinks and training grows back */
  assert_int_equal (mu_sched_scale (s, "svc", "serve", 1, err, sizeof err), 0);
  assert_string_equal (tick (s, 1), "shrink svc serve n1 2");
  assert_string_equal (tick (s, 1), "grow train worker n1 2");
  assert_int_equal (held (s, "train"), 7);
  assert_int_equal (mu_sched_scale (s, "svc", "serve", 9, err, sizeof err),
                    MUSTER_EINVAL);
  assert_string_equal (
      err, "job svc: role serve: target 9 outside its replicas 1:6");
  mu_sched_destroy (&s);
}

/* mu_sched_set_range: a scale of any job (musterd's `muster scale`):
 * growth to a new max, a shrink to a lower max, bad ranges refused. */
static void
test_set_range (void **st)
{
  (void)st;
  mu_sched_t *s = mu_sched_new (NULL);
  for (int i = 1; i <= 5; i++)
    {
      char id[8];
      snprintf (id, sizeof id, "n%d", i);
      node (s, id, 1, NULL, NULL);
    }
  job (s, "el", 0, true, 1, 3, 1, NULL, 1);
  assert_string_equal (tick (s, 1), "place el worker n1 1; grow el worker n2 1; "
                                    "grow el worker n3 1");
  char err[256];
  assert_int_equal (mu_sched_set_range (s, "el", "worker", 1, 5, err, sizeof err), 0);
  assert_string_equal (tick (s, 1), "grow el worker n4 1; grow el worker n5 1");
  assert_int_equal (held (s, "el"), 5);
  assert_int_equal (mu_sched_set_range (s, "el", "worker", 1, 2, err, sizeof err), 0);
  const char *t = tick (s, 1);
  assert_true (strncmp (t, "shrink el worker", 16) == 0);
  assert_true (strstr (t, "; shrink el worker") != NULL); /* 2 of 5 go */
  assert_int_equal (held (s, "el"), 2); /* tick() acked them */
  assert_int_equal (mu_sched_set_range (s, "el", "worker", 3, 2, err, sizeof err),
                    MUSTER_EINVAL);
  assert_string_equal (err, "job el: role worker: replicas 3:2 (need 0 <= min "
                            "<= max, max >= 1)");
  assert_int_equal (mu_sched_set_range (s, "nope", "worker", 1, 2, err, sizeof err),
                    MUSTER_ENOTFOUND);
  assert_int_equal (mu_sched_set_range (s, "el", "ps", 1, 2, err, sizeof err),
                    MUSTER_ENOTFOUND);
  mu_sched_destroy (&s);
}

static void
test_bad_input (void **st)
{
  (void)st;
  mu_sched_t *s = mu_sched_new (NULL);
  char err[256] = "";
  const char *bad[] = { "zone" };
  assert_int_equal (mu_sched_node_add (s, "n1", 4, bad, 1, err, sizeof err),
                    MUSTER_EINVAL);
  assert_string_equal (err, "node n1: label 'zone' is not key=value");
  node (s, "n1", 4, NULL, NULL);
  assert_int_equal (mu_sched_node_add (s, "n1", 4, NULL, 0, err, sizeof err),
                    MUSTER_EEXIST);
  role_in_t r = { "worker", 3, 2, 1, NULL };
  assert_int_equal (submit_roles (s, "x", NULL, 0, false, MU_SCHED_GANG, &r, 1,
                                  1, err, sizeof err),
                    MUSTER_EINVAL);
  assert_string_equal (
      err, "job x: role worker: replicas 3:2 (need 0 <= min <= max, max >= 1)");
  job (s, "y", 0, false, 1, 1, 4, NULL, 1);
  assert_int_equal (submit_roles (s, "y", NULL, 0, false, MU_SCHED_GANG, &r, 1,
                                  1, err, sizeof err),
                    MUSTER_EEXIST);
  assert_string_equal (tick (s, 1), "place y worker n1 1");
  assert_int_equal (mu_sched_node_update (s, "n1", 2, NULL, 0, err, sizeof err),
                    MUSTER_EINVAL);
  assert_string_equal (
      err, "node n1 holds 4 slots; it cannot shrink to 2 (drain it first)");
  assert_int_equal (mu_sched_ack_suspended (s, "y"), MUSTER_EINVAL);
  assert_int_equal (mu_sched_job_end (s, "nope"), MUSTER_ENOTFOUND);
  mu_sched_destroy (&s);
}

static void
test_preempt_needless_eviction_avoided (void **st)
{
  (void)st;
  mu_sched_t *s = mu_sched_new (NULL);
  node (s, "n1", 4, NULL, NULL);
  job (s, "low", 1, false, 1, 1, 2, NULL, 1);
  job (s, "huge", 9, false, 1, 1, 8, NULL, 2);
  assert_string_equal (tick (s, 1), "place low worker n1 1");
  /* evicting low would not make huge fit: no decision */
  assert_string_equal (tick (s, 1), "");
  assert_int_equal (state (s, "low"), MU_SCHED_JOB_RUNNING);
  assert_non_null (strstr (reason (s, "huge"),
                           "2 held by lower-priority jobs "
                           "(evicting them would not be enough)"));
  mu_sched_destroy (&s);
}

static void
test_from_wire_spec (void **st)
{
  (void)st;
  char *labels[] = { (char *)"pool=inference" };
  mu_role_spec_t roles[1] = { { .name = (char *)"server",
                                .min_nodes = 2,
                                .max_nodes = 6,
                                .nproc = 2,
                                .labels = { labels, 1 } } };
  mu_job_spec_t w = { .id = (char *)"svc",
                      .roles = { roles, 1 },
                      .priority = 50,
                      .kind = (char *)"service",
                      .autoscale_min = 3 };
  mu_sched_spec_t sp;
  char err[256];
  assert_int_equal (mu_sched_spec_from_wire (&w, "alice", &sp, err, sizeof err),
                    0);
  assert_string_equal (sp.job.tenant, "alice"); /* no tenant: the owner */
  assert_int_equal (sp.job.kind, MU_SCHED_SERVICE);
  assert_true (sp.job.elastic);
  assert_int_equal (sp.roles[0].slots, 2); /* slots absent: nproc */
  assert_int_equal (sp.roles[0].target, 3);
  mu_sched_t *s = mu_sched_new (NULL);
  node (s, "n1", 8, "pool=inference", NULL);
  node (s, "n2", 8, NULL, NULL);
  assert_int_equal (mu_sched_submit (s, &sp.job, 1, err, sizeof err), 0);
  assert_string_equal (tick (s, 1),
                       "place svc server n1 2; grow svc server n1 1");
  mu_sched_destroy (&s);
  w.kind = (char *)"batch";
  assert_int_equal (mu_sched_spec_from_wire (&w, "alice", &sp, err, sizeof err),
                    MUSTER_EINVAL);
  assert_string_equal (
      err, "job svc: kind: expected gang, ps or service, got \"batch\"");
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_gang_never_partial),
    cmocka_unit_test (test_multi_role_all_or_nothing),
    cmocka_unit_test (test_priority_then_submit_order),
    cmocka_unit_test (test_backfill_small_behind_big),
    cmocka_unit_test (test_shrink_before_suspend),
    cmocka_unit_test (test_suspend_lowest_then_resume),
    cmocka_unit_test (test_newest_first_among_equals),
    cmocka_unit_test (test_equal_priority_never_preempts),
    cmocka_unit_test (test_never_below_min),
    cmocka_unit_test (test_quota),
    cmocka_unit_test (test_labels_and_packing),
    cmocka_unit_test (test_drain_moves_work),
    cmocka_unit_test (test_lost_node),
    cmocka_unit_test (test_tidal_service),
    cmocka_unit_test (test_set_range),
    cmocka_unit_test (test_bad_input),
    cmocka_unit_test (test_from_wire_spec),
    cmocka_unit_test (test_preempt_needless_eviction_avoided),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
