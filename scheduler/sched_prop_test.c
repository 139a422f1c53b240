/*
 * sched_prop_test.c — random sequences of events against the scheduler,
 * checked by a model of the cluster built only from the decisions and
 * acks (what a coordinator would see).  The seed is printed; set
 * MUSTER_SCHED_SEED to replay one, MUSTER_SCHED_RUNS to run more.
 *
 * Invariants, after every tick:
 *  I1 no node holds more slots than it has (releases count until acked);
 *  I2 a job's admission places every role at its min in one tick;
 *  I3 no running job has a role below its min, and what the scheduler
 *     says a job holds is what its decisions placed;
 *  I4 no tenant holds more than its quota;
 * and, once every decision is acked and ticks decide nothing more:
 *  I5 the scheduler settles (a bounded number of ticks);
 *  I6 no waiting single-role job would fit if every job of lower priority
 *     were evicted (unless its tenant's quota stops it).
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

#define NODES 12
#define JOBS 24
#define ROLES 2

typedef struct mnode
{
  char id[16];
  int live, ready;
  uint32_t slots;
  char zone[16];
  uint32_t use[JOBS][ROLES]; /* replicas, including releasing */
} mnode_t;

typedef struct mjob
{
  char id[16];
  int live, suspending;
  int64_t prio;
  int tenant;
  uint32_t nroles, min[ROLES], max[ROLES], slots[ROLES];
  char sel[ROLES][16]; /* "" or "zone=a" */
  int service;
} mjob_t;

typedef struct pend
{
  int kind; /* 1 shrink, 2 suspend */
  int job, role, node;
  uint32_t n;
} pend_t;

typedef struct world
{
  mu_sched_t *s;
  mnode_t node[NODES];
  mjob_t job[JOBS];
  uint32_t quota[2];
  pend_t pend[4096];
  size_t npend;
  unsigned seed, seed0;
  uint64_t now;
  int nid;
} world_t;

static unsigned
rnd (world_t *w, unsigned n)
{
  w->seed = w->seed * 1103515245u + 12345u;
  return ((w->seed >> 16) & 0x7fff) % n;
}

static int
job_ix (world_t *w, const char *id)
{
  for (int i = 0; i < JOBS; i++)
    if (w->job[i].live && strcmp (w->job[i].id, id) == 0)
      return i;
  fail_msg ("decision for unknown job %s", id);
  return -1;
}

static int
node_ix (world_t *w, const char *id)
{
  for (int i = 0; i < NODES; i++)
    if (w->node[i].live && strcmp (w->node[i].id, id) == 0)
      return i;
  fail_msg ("decision for unknown node %s", id);
  return -1;
}

static int
role_ix (const mjob_t *j, const char *role)
{
  return strcmp (role, "r0") == 0 ? 0 : 1;
  (void)j;
}

static const char *tenants[2] = { "ta", "tb" };
static int trace;
#define TRACE(...)                                                             \
  do                                                                           \
    {                                                                          \
      if (trace)                                                               \
        fprintf (stderr, __VA_ARGS__);                                         \
    }                                                                          \
  while (0)

static void
ev_node_add (world_t *w)
{
  for (int i = 0; i < NODES; i++)
    if (!w->node[i].live)
      {
        mnode_t *x = &w->node[i];
        memset (x, 0, sizeof *x);
        snprintf (x->id, sizeof x->id, "n%d", w->nid++);
        x->slots = 1 + rnd (w, 8);
        snprintf (x->zone, sizeof x->zone, "zone=%c", 'a' + rnd (w, 2));
        const char *l[1] = { x->zone };
        char err[200];
        assert_int_equal (
            mu_sched_node_add (w->s, x->id, x->slots, l, 1, err, sizeof err),
            0);
        TRACE ("add %s %u %s\n", x->id, x->slots, x->zone);
        x->live = x->ready = 1;
        return;
      }
}

static void
forget_node (world_t *w, int k)
{
  /* the model drops its usage and pending acks on the node */
  size_t o = 0;
  for (size_t p = 0; p < w->npend; p++)
    if (!(w->pend[p].kind == 1 && w->pend[p].node == k))
      w->pend[o++] = w->pend[p];
  w->npend = o;
  memset (w->node[k].use, 0, sizeof w->node[k].use);
  w->node[k].live = 0;
}

static void
ev_submit (world_t *w)
{
  for (int i = 0; i < JOBS; i++)
    if (!w->job[i].live)
      {
        mjob_t *j = &w->job[i];
        memset (j, 0, sizeof *j);
        snprintf (j->id, sizeof j->id, "j%u", (unsigned)w->now);
        j->prio = rnd (w, 4);
        j->tenant = (int)rnd (w, 2);
        j->service = rnd (w, 5) == 0;
        j->nroles = j->service ? 1 : 1 + (rnd (w, 3) == 0);
        bool elastic = rnd (w, 2);
        mu_sched_role_t r[ROLES];
        const char *sel[ROLES][1];
        memset (r, 0, sizeof r);
        for (uint32_t k = 0; k < j->nroles; k++)
          {
            j->min[k] = rnd (w, 3) + (k == 0);
            j->max[k] = j->min[k] + rnd (w, 4);
            if (j->max[k] == 0)
              j->max[k] = 1;
            j->slots[k] = 1 + rnd (w, 4);
            if (rnd (w, 3) == 0)
              snprintf (j->sel[k], sizeof j->sel[k], "zone=%c",
                        'a' + rnd (w, 2));
            r[k].name = k == 0 ? "r0" : "r1";
            r[k].min = j->min[k];
            r[k].max = j->max[k];
            r[k].slots = j->slots[k];
            sel[k][0] = j->sel[k];
            r[k].selector = sel[k];
            r[k].nselector = j->sel[k][0] ? 1 : 0;
          }
        mu_sched_job_t spec
            = { .id = j->id,
                .tenant = tenants[j->tenant],
                .priority = j->prio,
                .kind = j->service ? MU_SCHED_SERVICE : MU_SCHED_GANG,
                .elastic = elastic,
                .roles = r,
                .nroles = j->nroles };
        char err[300];
        uint32_t need = 0;
        for (uint32_t k = 0; k < j->nroles; k++)
          need += j->min[k] * j->slots[k];
        int rc = mu_sched_submit (w->s, &spec, w->now, err, sizeof err);
        TRACE ("submit %s prio %lld tenant %d roles %u: %u..%u x %u %s; %u..%u "
               "x %u %s elastic %d service %d -> %d\n",
               j->id, (long long)j->prio, j->tenant, j->nroles, j->min[0],
               j->max[0], j->slots[0], j->sel[0], j->min[1], j->max[1],
               j->slots[1], j->sel[1], elastic, j->service, rc);
        if (need > w->quota[j->tenant] && w->quota[j->tenant])
          assert_int_equal (rc, MUSTER_EQUOTA);
        else
          {
            assert_int_equal (rc, 0);
            j->live = 1;
          }
        return;
      }
}

static void
job_gone (world_t *w, int i)
{
  for (int k = 0; k < NODES; k++)
    memset (w->node[k].use[i], 0, sizeof w->node[k].use[i]);
  size_t o = 0;
  for (size_t p = 0; p < w->npend; p++)
    if (w->pend[p].job != i)
      w->pend[o++] = w->pend[p];
  w->npend = o;
  w->job[i].live = 0;
}

static void
ack_one (world_t *w, size_t p)
{
  /* shrinks of one place are acked oldest first */
  for (size_t q = 0; q < p; q++)
    if (w->pend[q].kind == 1 && w->pend[p].kind == 1
        && w->pend[q].job == w->pend[p].job
        && w->pend[q].role == w->pend[p].role
        && w->pend[q].node == w->pend[p].node)
      {
        p = q;
        break;
      }
  pend_t x = w->pend[p];
  memmove (&w->pend[p], &w->pend[p + 1], (w->npend - p - 1) * sizeof *w->pend);
  w->npend--;
  mjob_t *j = &w->job[x.job];
  TRACE ("ack %s %s r%d %s %u\n", x.kind == 1 ? "shrunk" : "suspended", j->id,
         x.role, w->node[x.node].id, x.n);
  if (x.kind == 1)
    {
      int rc = mu_sched_ack_shrunk (w->s, j->id, x.role ? "r1" : "r0",
                                    w->node[x.node].id);
      assert_int_equal (rc, 0);
      w->node[x.node].use[x.job][x.role] -= x.n;
    }
  else
    {
      assert_int_equal (mu_sched_ack_suspended (w->s, j->id), 0);
      for (int k = 0; k < NODES; k++)
        memset (w->node[k].use[x.job], 0, sizeof w->node[k].use[x.job]);
      /* the suspension also ends the job's shrinks still being acked */
      size_t o = 0;
      for (size_t q = 0; q < w->npend; q++)
        if (w->pend[q].job != x.job)
          w->pend[o++] = w->pend[q];
      w->npend = o;
      j->suspending = 0;
    }
}

/* Releasing replicas per (node, job, role) in the model. */
static uint32_t
releasing (world_t *w, int k, int i, int r)
{
  uint32_t n = 0;
  for (size_t p = 0; p < w->npend; p++)
    if (w->pend[p].kind == 1 && w->pend[p].node == k && w->pend[p].job == i
        && w->pend[p].role == r)
      n += w->pend[p].n;
  return n;
}

static void
check (world_t *w)
{
  uint32_t tused[2] = { 0, 0 };
  for (int k = 0; k < NODES; k++)
    {
      mnode_t *x = &w->node[k];
      if (!x->live)
        continue;
      uint32_t u = 0;
      for (int i = 0; i < JOBS; i++)
        for (int r = 0; r < ROLES; r++)
          {
            u += x->use[i][r] * w->job[i].slots[r];
            tused[w->job[i].tenant] += x->use[i][r] * w->job[i].slots[r];
          }
      if (u > x->slots)
        fail_msg ("I1 seed %u: node %s holds %u of %u slots", w->seed0, x->id,
                  u, x->slots);
      mu_sched_node_view_t nv;
      assert_int_equal (mu_sched_node_query (w->s, x->id, &nv), 0);
      if (nv.used != u)
        fail_msg ("seed %u: node %s: the scheduler counts %u slots used, its "
                  "decisions %u",
                  w->seed0, x->id, nv.used, u);
    }
  for (int t = 0; t < 2; t++)
    if (w->quota[t] && tused[t] > w->quota[t])
      fail_msg ("I4: tenant %s holds %u > quota %u", tenants[t], tused[t],
                w->quota[t]);
  for (int i = 0; i < JOBS; i++)
    {
      mjob_t *j = &w->job[i];
      if (!j->live)
        continue;
      mu_sched_job_view_t v;
      assert_int_equal (mu_sched_job_query (w->s, j->id, &v), 0);
      for (uint32_t r = 0; r < j->nroles; r++)
        {
          uint32_t have = 0;
          for (int k = 0; k < NODES; k++)
            if (w->node[k].live)
              have += w->node[k].use[i][r] - releasing (w, k, i, (int)r);
          if (v.state == MU_SCHED_JOB_SUSPENDING)
            continue;
          assert_int_equal (v.replicas[r], have);
          if (v.state == MU_SCHED_JOB_RUNNING && have < j->min[r])
            fail_msg ("I3: job %s role %u runs %u < min %u", j->id, r, have,
                      j->min[r]);
        }
      if (v.state != MU_SCHED_JOB_RUNNING && v.state != MU_SCHED_JOB_SUSPENDING)
        assert_true (v.reason[0] != '\0');
    }
}

static size_t
tick (world_t *w)
{
  const mu_sched_decision_t *d;
  size_t n = mu_sched_tick (w->s, &d);
  uint32_t placed[JOBS][ROLES];
  int admitted[JOBS];
  memset (placed, 0, sizeof placed);
  memset (admitted, 0, sizeof admitted);
  char acks[256][3][64];
  size_t nacks = 0;
  for (size_t q = 0; q < n; q++)
    TRACE ("  tick: %s %s %s %s %u\n", mu_sched_action_name (d[q].action),
           d[q].job, d[q].role ? d[q].role : "", d[q].node ? d[q].node : "",
           d[q].replicas);
  for (size_t q = 0; q < n; q++)
    {
      int i = job_ix (w, d[q].job);
      mjob_t *j = &w->job[i];
      switch (d[q].action)
        {
        case MU_SCHED_PLACE:
        case MU_SCHED_GROW:
          {
            int k = node_ix (w, d[q].node), r = role_ix (j, d[q].role);
            w->node[k].use[i][r] += d[q].replicas;
            if (d[q].action == MU_SCHED_PLACE)
              {
                placed[i][r] += d[q].replicas;
                admitted[i] = 1;
              }
            if (nacks < 256)
              {
                snprintf (acks[nacks][0], 64, "%s", d[q].job);
                snprintf (acks[nacks][1], 64, "%s", d[q].role);
                snprintf (acks[nacks][2], 64, "%s", d[q].node);
                nacks++;
              }
            break;
          }
        case MU_SCHED_SHRINK:
          w->pend[w->npend++]
              = (pend_t){ 1, i, role_ix (j, d[q].role), node_ix (w, d[q].node),
                          d[q].replicas };
          break;
        case MU_SCHED_SUSPEND:
          j->suspending = 1;
          w->pend[w->npend++] = (pend_t){ 2, i, 0, 0, 0 };
          break;
        case MU_SCHED_RESUME:
          break;
        case MU_SCHED_REJECT:
          job_gone (w, i);
          break;
        }
    }
  for (int i = 0; i < JOBS; i++)
    for (uint32_t r = 0; admitted[i] && r < w->job[i].nroles; r++)
      if (placed[i][r] < w->job[i].min[r])
        fail_msg ("I2: job %s admitted with role %u at %u < min %u",
                  w->job[i].id, r, placed[i][r], w->job[i].min[r]);
  for (size_t a = 0; a < nacks; a++)
    {
      int rc = mu_sched_ack_placed (w->s, acks[a][0], acks[a][1], acks[a][2],
                                    true);
      if (rc != 0)
        {
          for (size_t q = 0; q < n; q++)
            fprintf (stderr, "  %s %s %s %s %u\n",
                     mu_sched_action_name (d[q].action), d[q].job,
                     d[q].role ? d[q].role : "", d[q].node ? d[q].node : "",
                     d[q].replicas);
          fail_msg ("seed %u: ack of placement %s %s %s: %d", w->seed0,
                    acks[a][0], acks[a][1], acks[a][2], rc);
        }
    }
  check (w);
  return n;
}

static void
settle_and_check_priority (world_t *w)
{
  int rounds = 0;
  for (;;)
    {
      while (w->npend)
        ack_one (w, 0);
      if (tick (w) == 0 && w->npend == 0)
        break;
      if (++rounds > 60)
        fail_msg ("I5: no settling after 60 ticks (seed %u)", w->seed0);
    }
  for (int k = 0; k < NODES; k++)
    {
      mu_sched_node_view_t nv;
      if (w->node[k].live && mu_sched_node_query (w->s, w->node[k].id, &nv) == 0
          && nv.reserved)
        return; /* reservations are the scheduler's own business (S6) */
    }
  uint32_t tused[2] = { 0, 0 };
  for (int k = 0; k < NODES; k++)
    for (int i = 0; i < JOBS; i++)
      for (int r = 0; r < ROLES && w->node[k].live; r++)
        tused[w->job[i].tenant] += w->node[k].use[i][r] * w->job[i].slots[r];
  for (int i = 0; i < JOBS; i++)
    {
      mjob_t *j = &w->job[i];
      mu_sched_job_view_t v;
      if (!j->live || j->nroles != 1
          || mu_sched_job_query (w->s, j->id, &v) != 0
          || v.state == MU_SCHED_JOB_RUNNING)
        continue;
      uint32_t need = j->min[0] * j->slots[0];
      if (w->quota[j->tenant] && tused[j->tenant] + need > w->quota[j->tenant])
        continue;
      uint32_t fit = 0;
      for (int k = 0; k < NODES; k++)
        {
          mnode_t *x = &w->node[k];
          if (!x->live || !x->ready
              || (j->sel[0][0] && strcmp (j->sel[0], x->zone) != 0))
            continue;
          uint32_t held = 0;
          for (int o = 0; o < JOBS; o++)
            if (o != i && w->job[o].live && w->job[o].prio >= j->prio)
              for (int r = 0; r < ROLES; r++)
                held += x->use[o][r] * w->job[o].slots[r];
          fit += (x->slots - held) / j->slots[0];
        }
      if (fit >= j->min[0])
        fail_msg ("I6 (seed %u): job %s (priority %lld, %u x %u, freeing %u, "
                  "reserved %u) waits although "
                  "evicting lower priority would fit it: %s",
                  w->seed0, j->id, (long long)j->prio, j->min[0], j->slots[0],
                  v.freeing, v.reserved, v.reason);
    }
}

static void
run (unsigned seed, int steps)
{
  world_t *w = calloc (1, sizeof *w);
  w->seed = w->seed0 = seed;
  w->s = mu_sched_new (NULL);
  w->quota[0] = rnd (w, 2) ? 0 : 12 + rnd (w, 12);
  w->quota[1] = 0;
  if (w->quota[0])
    assert_int_equal (mu_sched_quota_set (w->s, "ta", w->quota[0]), 0);
  for (int i = 0; i < 6; i++)
    ev_node_add (w);
  for (int step = 0; step < steps; step++)
    {
      w->now++;
      unsigned e = rnd (w, 100);
      if (e < 30)
        ev_submit (w);
      else if (e < 40)
        {
          int i = (int)rnd (w, JOBS);
          if (w->job[i].live)
            {
              TRACE ("end %s\n", w->job[i].id);
              assert_int_equal (mu_sched_job_end (w->s, w->job[i].id), 0);
              job_gone (w, i);
            }
        }
      else if (e < 44)
        ev_node_add (w);
      else if (e < 47)
        {
          int k = (int)rnd (w, NODES);
          if (w->node[k].live)
            {
              TRACE ("remove %s\n", w->node[k].id);
              assert_int_equal (mu_sched_node_remove (w->s, w->node[k].id), 0);
              forget_node (w, k);
            }
        }
      else if (e < 53)
        {
          int k = (int)rnd (w, NODES);
          if (w->node[k].live)
            {
              mu_sched_node_state_t st = (mu_sched_node_state_t)rnd (w, 3);
              TRACE ("state %s %d\n", w->node[k].id, st);
              assert_int_equal (
                  mu_sched_node_set_state (w->s, w->node[k].id, st), 0);
              w->node[k].ready = st == MU_SCHED_NODE_READY;
            }
        }
      else if (e < 58)
        {
          int i = (int)rnd (w, JOBS);
          mjob_t *j = &w->job[i];
          if (j->live && j->service)
            {
              char err[200];
              uint32_t t = j->min[0] + rnd (w, j->max[0] - j->min[0] + 1);
              TRACE ("scale %s %u\n", j->id, t);
              assert_int_equal (
                  mu_sched_scale (w->s, j->id, "r0", t, err, sizeof err), 0);
            }
        }
      else if (e < 75)
        {
          if (w->npend)
            ack_one (w, rnd (w, (unsigned)w->npend));
        }
      else if (e < 95)
        tick (w);
      else
        settle_and_check_priority (w);
    }
  settle_and_check_priority (w);
  mu_sched_destroy (&w->s);
  free (w);
}

static void
test_random_sequences (void **st)
{
  (void)st;
  const char *e = getenv ("MUSTER_SCHED_SEED");
  trace = getenv ("MUSTER_SCHED_TRACE") != NULL;
  const char *n = getenv ("MUSTER_SCHED_RUNS");
  int runs = n ? atoi (n) : 200;
  unsigned base = e ? (unsigned)strtoul (e, NULL, 10) : 20261203u;
  for (int r = 0; r < (e ? 1 : runs); r++)
    {
      unsigned seed = base + (unsigned)r;
      if (r == 0 || e)
        printf ("sched_prop_test: seed %u (+%d runs)\n", seed, runs - 1);
      run (seed, 400);
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
